"""What limits fit's fused epoch: the copies XLA inserts into the epoch's loop body, per variant.

    PYTHONPATH=. python benchmarks/profile_fused.py

For fnnet's epoch (``fnnet.training.epochs.fused_epoch``) and variants of its step's update gating,
counts the parameter-sized ``copy`` ops in the compiled while-loop body (each one is a full pass
over a weight matrix or an Adam moment, every step) and times the epoch, wall and CPU time,
interleaved.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import re
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# ---- defaults ---------------------------------------------------------------------------------
BATCH, STEPS, ROUNDS = 8, 200, 5  # MLP batch, steps per epoch, interleaved rounds
# How the step guards against a non-finite loss: fnnet's (zero the gradient, gate the update), a
# jnp.where or lax.cond selecting between the whole old and new states, or no guard at all.
VARIANTS = ("fnnet", "where", "cond", "none")


def build_parser() -> argparse.ArgumentParser:
    """The script's options (defaults above)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    return parser


def gated_step(net, loss, opt, mode):
    """The train step with its update gated by a whole-state ``where``, ``cond``, or not at all."""
    import jax
    import jax.numpy as jnp
    import optax

    from fnnet.training.step import TrainState

    def step(state, batch):
        xb, yb = batch
        key, _ = jax.random.split(state.key)
        value, grads = jax.value_and_grad(lambda p: loss(net.apply(p, xb), yb))(state.params)
        updates, opt_state = opt.update(grads, state.opt_state, state.params)
        finite = jnp.isfinite(value)
        ok = finite
        if mode == "where":
            keep = functools.partial(jax.tree.map, lambda n, o: jnp.where(ok, n, o))
            params = keep(optax.apply_updates(state.params, updates), state.params)
            opt_state = keep(opt_state, state.opt_state)
        elif mode == "cond":
            params, opt_state = jax.lax.cond(
                ok,
                lambda: (optax.apply_updates(state.params, updates), opt_state),
                lambda: (state.params, state.opt_state),
            )
        else:
            params = optax.apply_updates(state.params, updates)
        count = state.step + ok.astype(jnp.int32)
        return TrainState(params, opt_state, state.model_state, count, key), {
            "loss": value,
            "finite": finite,
        }

    return step


def main(argv=None) -> dict:
    """Print copies and times per variant; return them."""
    args = build_parser().parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from peers.fnnet_models import loss, model

    from fnnet.training.epochs import fused_epoch
    from fnnet.training.step import init_train_state, make_step_fn

    net, opt, b = model("mlp"), optax.adam(1e-3), args.batch
    x = jnp.asarray(np.random.default_rng(0).random((b * STEPS, 784), dtype=np.float32))
    y = jnp.asarray(np.arange(b * STEPS, dtype=np.int32) % 10)
    runners, result = {}, {}
    for mode in VARIANTS:
        step = make_step_fn(net, loss, opt) if mode == "fnnet" else gated_step(net, loss, opt, mode)
        state = init_train_state(net, opt, jax.random.key(0), (784,))
        compiled = fused_epoch(step, b, STEPS, None).lower(state, x, y, jax.random.key(1), STEPS)
        compiled = compiled.compile()
        big = re.findall(r"f32\[(?:784|512),\d+\]\{1,0\} copy\(", compiled.as_text())
        result[mode] = {"weight_sized_copies": len(big)}
        holder = [state]

        def run(compiled=compiled, holder=holder):
            holder[0], logs, _ = compiled(holder[0], x, y, jax.random.key(1), STEPS)
            return jax.block_until_ready(logs)

        runners[mode] = run
    wall = {m: [] for m in runners}
    cpu = {m: [] for m in runners}
    for r in range(args.rounds + 1):
        for mode in runners if r % 2 else reversed(runners):
            w, c = time.perf_counter(), time.process_time()
            runners[mode]()
            if r:  # round 0 warms up
                wall[mode].append(time.perf_counter() - w)
                cpu[mode].append(time.process_time() - c)
    for mode in runners:
        result[mode]["wall_us_per_step"] = statistics.median(wall[mode]) / STEPS * 1e6
        result[mode]["cpu_us_per_step"] = statistics.median(cpu[mode]) / STEPS * 1e6
        print(mode, result[mode])
    print("load average", os.getloadavg())
    return result


if __name__ == "__main__":
    main()
