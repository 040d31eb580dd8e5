"""The floor under a fused epoch's step: the Adam update alone and the forward/backward alone.

    PYTHONPATH=. python benchmarks/fused_floor.py --rounds 7

Issue 2 asks that ``fit(fused=True)`` run the MLP (784-512-512-10, Adam) at batch 8 at least 3x faster
per epoch than a Python loop of jitted steps. With a per-step loop costing ``C + D`` per step (``C``
the step's own work, ``D`` the dispatch), the ratio is ``(C + D) / C``, so 3x needs ``C <= D / 2``.
This script measures, in one process and interleaved, microseconds per step of

* ``fit fused`` and ``fit per-step``: ``fnnet.fit`` epochs (the second of two, compiled);
* ``hand loop, adam``: a hand-written ``fori_loop`` of the same forward, backward and Adam update;
* ``adam update only``: the same loop doing only Adam's update of the 669,706 parameters (a fixed
  gradient, no forward or backward);
* ``forward+backward, sgd``: the loop with plain SGD instead of Adam.

``adam update only`` (``A``) is a lower bound on the fused step with Adam: the ratio can be at most
``(A + D) / A``, so when ``A`` exceeds ``D / 2`` (``D`` from the two ``fit`` rows) no fusing of the
loop reaches 3x with Adam on that machine.
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

BATCH, STEPS, ROUNDS = 8, 200, 7  # batch, steps per epoch, interleaved rounds (medians over them)


def loops(batch, steps):
    """``name -> (jitted loop over steps, initial state)`` for the three hand-written loops."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from peers.fnnet_models import loss, model

    net, adam = model("mlp"), optax.adam(1e-3)
    _, params = net.init(jax.random.key(0), (784,))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((batch * steps, 784), dtype=np.float32))
    y = jnp.asarray(rng.integers(0, 10, batch * steps).astype(np.int32))
    fixed = jax.tree.map(lambda p: jnp.full_like(p, 1e-3), params)

    def grad(p, i):
        xb, yb = (jax.lax.dynamic_slice_in_dim(a, i * batch, batch) for a in (x, y))
        return jax.grad(lambda p: loss(net.apply(p, xb), yb))(p)

    def sgd(p, g):
        return p - 1e-3 * g

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
    out = {}
    for name, body in bodies.items():
        run = jax.jit(lambda s, body=body: jax.lax.fori_loop(0, steps, body, s), donate_argnums=0)
        out[name] = (run, (jax.tree.map(jnp.copy, params), adam.init(params)))
    return out, np.asarray(x), np.asarray(y)


def measure(batch, steps, rounds) -> dict:
    """Median microseconds per step of every row in the module docstring."""
    import jax
    import optax
    from peers.fnnet_models import loss, model

    import fnnet

    hand, x, y = loops(batch, steps)
    states = {name: state for name, (_, state) in hand.items()}
    times = {name: [] for name in [*hand, "fit fused", "fit per-step"]}
    for r in range(rounds + 1):  # round 0 compiles
        for name, (run, _) in hand.items():
            start = time.perf_counter()
            states[name] = jax.block_until_ready(run(states[name]))
            if r:
                times[name].append((time.perf_counter() - start) / steps * 1e6)
        for fused in (True, False) if r % 2 else (False, True):
            fit = fnnet.fit(
                model("mlp"), loss, optax.adam(1e-3), x, y,
                key=jax.random.key(r), epochs=2, batch_size=batch, fused=fused,
            )  # fmt: skip
            if r:
                times["fit fused" if fused else "fit per-step"].append(
                    fit.history["seconds"][1] / steps * 1e6
                )
    med = {name: statistics.median(t) for name, t in times.items()}
    dispatch = med["fit per-step"] - med["fit fused"]
    return {
        "us_per_step": med,
        "speedup": med["fit per-step"] / med["fit fused"],
        "dispatch_us": dispatch,
        "fused_step_needed_for_3x_us": dispatch / 2,
        # (A + D) / A: the ratio if the whole step cost no more than Adam's update A
        "best_possible_with_adam": (med["adam update only"] + dispatch) / med["adam update only"],
    }


def main(argv=None) -> dict:
    """Measure; print the figures as JSON (and write them with ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    result = {"load_average_before": os.getloadavg()}
    result.update(measure(args.batch, STEPS, args.rounds))
    result["load_average_after"] = os.getloadavg()
    text = json.dumps(result, indent=1)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
