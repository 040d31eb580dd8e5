"""Issue 2's open figure: seconds per epoch of ``fit(fused=True)`` against fit's per-step loop.

    python -m benchmarks.dispatch --out benchmarks/results/dispatch.json
    python -m benchmarks.dispatch --quick     # tiny sizes, one round: checks the script

Issue 2 asks that a fused epoch run the MLP (784-512-512-10, Adam) at batch 8 at least 3x faster than
a Python loop of jitted steps. With the loop costing ``C + D`` per step (``C`` the step's own work,
``D`` the dispatch), the ratio is ``(C + D) / C``, so 3x needs ``C <= D / 2``. Besides the two
``fit`` epochs, the floor under ``C`` is measured with hand-written ``fori_loop`` epochs of the same
MLP: ``adam update only`` (a fixed gradient: no forward or backward) bounds the ratio reachable with
Adam by ``(A + D) / A``; ``forward+backward, sgd`` is the step without Adam's update.

Every variant is one entry of ``fnnet.bench.interleaved``, so load on the machine hits them alike. A
``fit`` entry runs two epochs and reports fit's own clock of the second (the first compiles).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics

from benchmarks import peers
from benchmarks.peers.fnnet_models import loss, model

# ---- defaults ---------------------------------------------------------------------------------
CASES = (("mlp", 8, 200), ("mlp", 32, 200), ("cnn", 32, 50))  # (model, batch, steps per epoch)
FLOOR = ("mlp", 8, 200)  # the case whose floor (hand-written loops) is measured
ROUNDS = 7  # interleaved rounds; medians over them
LEARNING_RATE = 1e-3  # Adam, as every peer
QUICK = {"cases": (("mlp", 8, 5),), "floor": ("mlp", 8, 5), "rounds": 1}


def build_parser() -> argparse.ArgumentParser:
    """The script's options (defaults above)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help=f"default {ROUNDS}")
    parser.add_argument("--no-floor", action="store_true", help="time only the fit epochs")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one round")
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    parser.add_argument("--quiet", action="store_true")
    return parser


def fit_entries(name: str, batch: int, steps: int, epoch_seconds: dict) -> dict:
    """Two thunks running ``fnnet.fit`` for two epochs, fused and per step, each appending its second
    epoch's seconds (fit's own clock) to ``epoch_seconds[label]``."""
    import jax
    import optax

    import fnnet

    x, y = peers.make_data(peers.Spec(name, batch=batch * steps))
    seeds = iter(range(1 << 30))  # a fresh key per call: the same work, nothing cached
    thunks = {}
    for fused in (True, False):
        label = f"{name} b{batch} fit {'fused' if fused else 'per-step'}"
        epoch_seconds[label] = []

        def run(fused=fused, label=label):
            fit = fnnet.fit(
                model(name), loss, optax.adam(LEARNING_RATE), x, y,
                key=jax.random.key(next(seeds)), epochs=2, batch_size=batch, fused=fused,
            )  # fmt: skip
            epoch_seconds[label].append(fit.history["seconds"][1] / steps)

        thunks[label] = run
    return thunks


def floor_entries(batch: int, steps: int) -> dict:
    """Thunks each running one epoch of a hand-written ``fori_loop`` over the MLP, state donated."""
    import jax
    import jax.numpy as jnp
    import optax

    net, adam = model("mlp"), optax.adam(LEARNING_RATE)
    _, params = net.init(jax.random.key(0), (784,))
    x, y = (jnp.asarray(a) for a in peers.make_data(peers.Spec("mlp", batch=batch * steps)))
    fixed = jax.tree.map(lambda p: jnp.full_like(p, 1e-3), params)

    def grad(p, i):
        xb, yb = (jax.lax.dynamic_slice_in_dim(a, i * batch, batch) for a in (x, y))
        return jax.grad(lambda p: loss(net.apply(p, xb), yb))(p)

    def with_adam(g, p, o):
        u, o = adam.update(g, o, p)
        return optax.apply_updates(p, u), o

    bodies = {
        "hand loop, adam": lambda i, s: with_adam(grad(s[0], i), *s),
        "adam update only": lambda i, s: with_adam(fixed, *s),
        "forward+backward, sgd": lambda i, s: (
            jax.tree.map(lambda a, b: a - 1e-3 * b, s[0], grad(s[0], i)),
            s[1],
        ),
    }
    thunks = {}
    for label, body in bodies.items():
        run = jax.jit(lambda s, body=body: jax.lax.fori_loop(0, steps, body, s), donate_argnums=0)
        state = [(jax.tree.map(jnp.copy, params), adam.init(params))]

        def call(run=run, state=state):
            state[0] = run(state[0])
            return state[0]

        thunks[label] = call
    return thunks


def measure(cases, floor, rounds: int) -> dict:
    """Per-step milliseconds of every entry, the fused/per-step ratio per case, and the floor's bound."""
    from fnnet import bench

    epoch_seconds: dict[str, list[float]] = {}
    thunks = {}
    for name, batch, steps in cases:
        thunks |= fit_entries(name, batch, steps, epoch_seconds)
    if floor is not None:
        thunks |= floor_entries(floor[1], floor[2])
    times = bench.interleaved(thunks, rounds=rounds, block=1, warmup=1)
    ms = {label: statistics.median(s[1:]) * 1e3 for label, s in epoch_seconds.items()}  # [0]: warm-up
    out: dict = {"ms_per_step": ms, "speedup": {}}
    for name, batch, _ in cases:
        fused, loop = ms[f"{name} b{batch} fit fused"], ms[f"{name} b{batch} fit per-step"]
        out["speedup"][f"{name} b{batch}"] = loop / fused  # issue 2: >= 3 asked for the MLP at batch 8
    if floor is not None:
        name, batch, steps = floor
        for label in ("hand loop, adam", "adam update only", "forward+backward, sgd"):
            ms[label] = times[label]["median_s"] / steps * 1e3
        dispatch = ms[f"{name} b{batch} fit per-step"] - ms[f"{name} b{batch} fit fused"]
        out["dispatch_ms"] = dispatch
        out["best_possible_with_adam"] = (ms["adam update only"] + dispatch) / ms["adam update only"]
    return out


def main(argv=None) -> dict:
    """Measure; print and optionally write the figures."""
    args = build_parser().parse_args(argv)
    cases, floor = (QUICK["cases"], QUICK["floor"]) if args.quick else (CASES, FLOOR)
    rounds = args.rounds or (QUICK["rounds"] if args.quick else ROUNDS)
    result = {"load_average_before": os.getloadavg(), "rounds": rounds}
    result |= measure(cases, None if args.no_floor else floor, rounds)
    result["load_average_after"] = os.getloadavg()
    from fnnet.bench import environment

    result["environment"] = environment("float32")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
    if not args.quiet:
        print(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
