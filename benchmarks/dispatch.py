"""Issue 2's figures: fnnet's MLP step vs hand-written JAX, fused epochs vs per-step dispatch.

    PYTHONPATH=. python benchmarks/dispatch.py --out benchmarks/results/dispatch.json

All variants are compiled first, then timed in interleaved rounds inside this one process, so load
on the machine hits them alike; figures are medians over rounds. Report the load average with them.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# ---- defaults ---------------------------------------------------------------------------------
STEP_BATCHES = (128, 1024)  # fnnet vs hand-JAX train step, and the fraction of the matmul ceiling
FUSED_CASES = (("mlp", 8, 200), ("mlp", 32, 200), ("cnn", 32, 50))  # (model, batch, steps per epoch)
ROUNDS = 7  # interleaved rounds; medians over them
NUMBER = 20  # steps per timed block of the step comparison


def build_parser() -> argparse.ArgumentParser:
    """The script's options (defaults above)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--out", default=None, help="write the figures here as JSON")
    parser.add_argument("--quiet", action="store_true")
    return parser


def step_overhead(rounds: int) -> dict:
    """fnnet.make_train_step vs the hand-written JAX step, MLP fp32, interleaved timed blocks."""
    import jax
    import peers

    from fnnet import bench

    out = {"ceiling": bench.matmul_ceiling("float32")}
    for batch in STEP_BATCHES:
        entries = {fw: peers.build(fw, peers.Spec("mlp", "float32", batch)) for fw in ("fnnet", "jax")}
        runners, flops = {}, {}
        for fw, b in entries.items():
            runners[fw], compiled = peers.compiled_step(b)
            flops[fw] = bench.cost_analysis(compiled)["flops"]
        a = jax.numpy.ones((2048, 2048))
        matmul = jax.jit(jax.numpy.matmul).lower(a, a).compile()
        runners["ceiling"] = lambda matmul=matmul, a=a: matmul(a, a)
        times = {fw: [] for fw in runners}
        for r in range(rounds):
            for fw in list(runners)[:: 1 if r % 2 else -1]:
                times[fw] += bench.time_blocks(runners[fw], warmup=3, number=NUMBER, repeats=1)
        med = {fw: statistics.median(t) for fw, t in times.items()}
        ceiling = 2 * 2048**3 / med.pop("ceiling")  # measured interleaved with the steps
        out[f"batch{batch}"] = {
            "median_ms": {fw: m * 1e3 for fw, m in med.items()},
            "fnnet_over_jax": med["fnnet"] / med["jax"],
            "xla_flops": flops,
            "ceiling_flops_per_second": ceiling,
            "fraction_of_ceiling": {fw: flops[fw] / med[fw] / ceiling for fw in med},
        }
    return out


def fused_vs_per_step(rounds: int) -> dict:
    """Seconds per epoch of fnnet.fit(fused=True) against fit's per-step loop, fp32, Adam.

    The MLP at batch 8 and 32 (issue 2's figure) and the CNN at batch 32. Each fit runs two epochs
    and the second is timed (the first includes compiling).
    """
    import optax
    import peers
    from peers.fnnet_models import loss, model

    import fnnet

    out = {}
    for name, batch, steps in FUSED_CASES:
        x, y = peers.make_data(peers.Spec(name, batch=batch * steps))
        per_epoch = {True: [], False: []}
        for r in range(rounds):
            for fused in (True, False) if r % 2 else (False, True):
                fit = fnnet.fit(
                    model(name), loss, optax.adam(1e-3), x, y,
                    key=fnnet_key(r), epochs=2, batch_size=batch, fused=fused,
                )  # fmt: skip
                per_epoch[fused].append(fit.history["seconds"][1])  # epoch 1 compiled
        fused, loop = statistics.median(per_epoch[True]), statistics.median(per_epoch[False])
        out[f"{name}_batch{batch}"] = {
            "fused_ms_per_step": fused / steps * 1e3,
            "per_step_ms_per_step": loop / steps * 1e3,
            "speedup": loop / fused,
        }
    return out


def fnnet_key(seed: int):
    """A fresh key per round (same work, no cached results)."""
    import jax

    return jax.random.key(seed)


def main(argv=None) -> dict:
    """Measure; print and optionally write the figures."""
    args = build_parser().parse_args(argv)
    load_before = os.getloadavg()
    started = time.time()
    result = {"load_average_before": load_before}
    result["step"] = step_overhead(args.rounds)
    result["fused"] = fused_vs_per_step(args.rounds)
    result["load_average_after"] = os.getloadavg()
    result["seconds"] = time.time() - started
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(result, indent=1, default=str) + "\n")
    if not args.quiet:
        print(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
