"""Where the CNN train step's time goes on CPU, and which formulation of each op is fastest.

Part 1 (``--part ops``): forward and forward+backward time of each op of the issue's CNN at batch
128 (conv1, conv2, both max-pools, dense) for each formulation: ``lax.conv_general_dilated`` (the
reference) vs im2col + one matmul vs a sum of shifted matmuls; ``reduce_window`` vs reshape + max.
Part 2 (``--part step``): the whole Adam train step: fnnet (each Conv/MaxPool impl) vs the same
network written by hand in plain JAX vs PyTorch (2 threads, channels_last), interleaved in one
process.

Run from the repo root: ``PYTHONPATH=. python benchmarks/cnn_formulations.py``. Prints medians (ms)
of per-block means after warm-up, the load average, and GFLOP/s of each train step.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interleave  # noqa: E402
import peers  # noqa: E402

import fnnet as fn  # noqa: E402
from fnnet.layers.conv import conv_hybrid, conv_patches, conv_shifted, conv_xla  # noqa: E402

# Defaults: the benchmark (batch 128, float32, Adam 1e-3).
BATCH = 128
ROUNDS = 5  # interleaved rounds; each variant times one block per round
BLOCK = 10  # steps per timed block
WARMUP = 3  # untimed calls after compiling
STEP_GFLOP = 3.26  # forward + backward of the CNN at batch 128 (PERF-BASELINE.md)


def cnn(conv_impl: str = "auto", pool_impl: str = "auto") -> fn.Sequential:
    """The issue's CNN with the given Conv and MaxPool formulations."""
    return fn.Sequential(
        fn.Conv(32, (3, 3), impl=conv_impl), fn.activations.relu, fn.MaxPool(2, impl=pool_impl),
        fn.Conv(64, (3, 3), impl=conv_impl), fn.activations.relu, fn.MaxPool(2, impl=pool_impl),
        fn.Flatten(), fn.Dense(128), fn.activations.relu, fn.Dense(10),
    )  # fmt: skip


def op_variants(key) -> dict:
    """Forward and forward+backward thunks of each op and formulation."""
    k = jax.random.split(key, 8)
    same = ((1, 1), (1, 1))
    convs = {
        "conv1 28x28x1->32": (jax.random.normal(k[0], (BATCH, 28, 28, 1)), (3, 3, 1, 32)),
        "conv2 14x14x32->64": (jax.random.normal(k[1], (BATCH, 14, 14, 32)), (3, 3, 32, 64)),
    }
    impls = {
        "xla": lambda x, w: conv_xla(x, w, (1, 1), same, (1, 1), 1),
        "hybrid": lambda x, w: conv_hybrid(x, w, same, (1, 1)),
        "patches": lambda x, w: conv_patches(x, w, (1, 1), same, (1, 1)),
        "shifted": lambda x, w: conv_shifted(x, w, (1, 1), same, (1, 1)),
    }
    out = {}
    for name, (x, shape) in convs.items():
        w = jax.random.normal(k[2], shape) * 0.1
        for impl, f in impls.items():
            if name.startswith("conv1"):  # the network's input: only the kernel gradient is needed
                out[f"{name} {impl}"] = (lambda w, f=f, x=x: f(x, w), (w,))
            else:
                out[f"{name} {impl}"] = (f, (x, w))
    pools = {
        "pool1 28x28x32": jax.random.normal(k[3], (BATCH, 28, 28, 32)),
        "pool2 14x14x64": jax.random.normal(k[4], (BATCH, 14, 14, 64)),
    }
    for name, x in pools.items():
        for impl in ("xla", "reshape"):
            layer = fn.MaxPool(2, impl=impl)
            out[f"{name} {impl}"] = (lambda x, layer=layer: layer.apply({}, x), (x,))
    x, w = jax.random.normal(k[5], (BATCH, 3136)), jax.random.normal(k[6], (3136, 128)) * 0.02
    out["dense 3136->128"] = (jnp.matmul, (x, w))
    thunks = {}
    for name, (f, args) in out.items():
        fwd = jax.jit(f)
        grad = jax.jit(jax.grad(lambda *a, f=f: jnp.sum(jnp.square(f(*a))), argnums=range(len(args))))
        thunks[f"{name} fwd"] = lambda fwd=fwd, args=args: jax.block_until_ready(fwd(*args))
        thunks[f"{name} fwd+bwd"] = lambda grad=grad, args=args: jax.block_until_ready(grad(*args))
    return thunks


def step_variants(key, combos) -> dict:
    """Train-step thunks: fnnet per (conv impl, pool impl), and the suite's hand-written JAX and PyTorch
    peers (``benchmarks/peers``: the same CNN; PyTorch channels-last)."""
    x = jax.random.uniform(key, (BATCH, 28, 28, 1))
    y = jax.random.randint(key, (BATCH,), 0, 10)
    thunks = {}
    for conv_impl, pool_impl in combos:
        model = cnn(conv_impl, pool_impl)
        opt = optax.adam(1e-3)
        step = fn.make_train_step(model, fn.losses.softmax_cross_entropy, opt)
        holder = [fn.init_train_state(model, opt, key, (28, 28, 1))]
        start = time.perf_counter()
        holder[0], logs = step(holder[0], (x, y))
        jax.block_until_ready(logs)
        print(f"compile fnnet conv={conv_impl} pool={pool_impl}: {time.perf_counter() - start:.2f} s")

        def run(step=step, holder=holder):
            holder[0], logs = step(holder[0], (x, y))
            jax.block_until_ready(logs["loss"])

        thunks[f"fnnet conv={conv_impl} pool={pool_impl}"] = run
    for framework, name in (
        ("jax", "hand JAX (lax.conv, reduce_window)"),
        ("torch", "PyTorch channels_last"),
    ):
        try:
            thunks[name] = peers.blocking_step(peers.build(framework, peers.Spec("cnn", "float32", BATCH)))
        except ImportError as err:  # PyTorch is an optional peer
            print(f"skipping {name}: {err}")
    return thunks


def median_ms(thunks, args) -> dict:
    """Median ms per call of each variant, interleaved over ``args.rounds`` rounds."""
    times = interleave.interleaved(thunks, args.rounds, args.block, warmup=WARMUP)
    return {name: median for name, (median, _) in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["ops", "step", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--block", type=int, default=BLOCK)
    parser.add_argument(
        "--combos", default="xla:xla,xla:reshape,auto:auto,patches:reshape",
        help="fnnet train-step variants as conv_impl:pool_impl pairs",
    )  # fmt: skip
    parser.add_argument(
        "--retain-memory", action="store_true",
        help="fnnet.bench.retain_freed_memory() first: glibc keeps freed memory (for PyTorch too)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.retain_memory:
        fn.bench.retain_freed_memory()
    key = jax.random.key(0)
    print(f"jax {jax.__version__}, retain memory: {args.retain_memory}, load average: {os.getloadavg()}")
    results = {}
    if args.part in ("ops", "all"):
        ops = median_ms(op_variants(key), args)
        print("\nper op, median ms (batch 128):")
        for name, ms in ops.items():
            print(f"  {name:40s} {ms:8.2f}")
        results["ops"] = ops
    if args.part in ("step", "all"):
        combos = [tuple(c.split(":")) for c in args.combos.split(",")]
        steps = median_ms(step_variants(key, combos), args)
        print("\ntrain step, median ms (batch 128, Adam):")
        for name, ms in steps.items():
            print(f"  {name:42s} {ms:8.2f}  {STEP_GFLOP / ms * 1e3:6.1f} GFLOP/s")
        results["step"] = steps
    print(f"load average after: {os.getloadavg()}")
    return results


if __name__ == "__main__":
    main()
