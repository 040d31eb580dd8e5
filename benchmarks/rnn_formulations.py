"""The recurrent train step by formulation (scan, fused, oneDNN) against PyTorch's, and the oneDNN build.

    python -m benchmarks.rnn_formulations [--seq-lens 25,100,256] [--rounds 3] [--dtype mixed_bfloat16]
                                          [--retain-memory]

The suite's classifiers (``benchmarks.peers``: batch 32, 32 features, hidden 128, Dense(10), Adam,
float32): fnnet's with each ``RNN`` formulation forced, and PyTorch's (oneDNN's RNN primitive inside).
``--dtype mixed_bfloat16`` keeps float32 parameters and inputs and computes in bfloat16: fnnet's model
wrapped in ``fnnet.precision.Mixed``, PyTorch's forward under ``torch.autocast`` (``benchmarks.peers``).
Each framework/formulation runs in its own process (2 threads, the same CPU affinity), the processes
alternating round by round; a process times 5 blocks of 10 steps after 5 untimed ones and keeps the
median, and the table holds the median over rounds (ms per step). Before the rounds, one process
compiles the oneDNN extension into an empty cache and reports its first-use time.
``--retain-memory`` makes every process keep freed memory (``fnnet.bench.retain_freed_memory``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.harness import ROOT

WORKERS = ("torch", "fused", "onednn", "scan")
OPTIONS = {"warmup": 5, "number": 10, "repeats": 5}


def _fnnet_step(model: str, formulation: str, seq_len: int, dtype: str):
    """A blocking thunk running one fnnet train step with ``formulation`` forced."""
    import jax
    import jax.numpy as jnp
    import optax

    import fnnet
    from benchmarks.peers.common import CLASSES, HIDDEN, LEARNING_RATE, Spec, make_data

    cell = fnnet.LSTMCell(HIDDEN) if model == "lstm" else fnnet.GRUCell(HIDDEN)
    rnn = fnnet.RNN(cell, return_sequences=False, formulation=formulation)
    net = fnnet.Sequential(rnn, fnnet.Dense(CLASSES))
    if dtype != "float32":
        net = fnnet.precision.Mixed(net, dtype)
    spec = Spec(model, dtype, 32, seq_len)
    optimizer = optax.adam(LEARNING_RATE)
    state = fnnet.init_train_state(net, optimizer, jax.random.key(0), spec.in_shape)
    x, y = make_data(spec)
    step = fnnet.make_train_step(net, fnnet.losses.softmax_cross_entropy, optimizer)
    batch = (jnp.asarray(x), jnp.asarray(y))
    holder = [state]

    def call():
        holder[0], logs = step(holder[0], batch)
        jax.block_until_ready(logs)

    return call


def _torch_step(model: str, seq_len: int, dtype: str):
    import torch

    from benchmarks.peers import build
    from benchmarks.peers.common import Spec

    torch.set_num_threads(2)
    built = build("torch", Spec(model, dtype, 32, seq_len))
    return lambda: built.sync(built.call())


def worker(name: str, models: list[str], seq_lens: list[int], retain: bool, dtype: str = "float32") -> dict:
    """``{"lstm/t100": ms per step, ...}`` for one worker (a formulation, or ``torch``)."""
    from fnnet import bench

    if retain:
        bench.retain_freed_memory()
    out = {}
    for model in models:
        for t in seq_lens:
            call = _torch_step(model, t, dtype) if name == "torch" else _fnnet_step(model, name, t, dtype)
            for _ in range(OPTIONS["warmup"]):
                call()
            blocks = []
            for _ in range(OPTIONS["repeats"]):
                started = time.perf_counter()
                for _ in range(OPTIONS["number"]):
                    call()
                blocks.append((time.perf_counter() - started) / OPTIONS["number"] * 1e3)
            out[f"{model}/t{t}"] = statistics.median(blocks)
    return out


def first_build_seconds() -> float:
    """The oneDNN extension's compile time on first use, into an empty cache (a fresh process)."""
    with tempfile.TemporaryDirectory() as cache:
        code = "import time; t = time.perf_counter(); from fnnet.layers._onednn import build; "
        code += "build.library_path(); print(time.perf_counter() - t)"
        env = {**os.environ, "FNNET_CACHE_DIR": cache}
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the oneDNN extension failed: {done.stderr[-2000:]}")
        return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    """Run the rounds of the module docstring; print the table; return ``{"build_s", "ms"}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lstm,gru")
    parser.add_argument("--seq-lens", default="25,100,256")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default=",".join(WORKERS))
    parser.add_argument("--dtype", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--retain-memory", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    models, seq_lens = args.models.split(","), [int(t) for t in args.seq_lens.split(",")]
    if args.worker:
        print(json.dumps(worker(args.worker, models, seq_lens, args.retain_memory, args.dtype)))
        return {}
    build_s = first_build_seconds()
    print(f"oneDNN extension, first use (compile into an empty cache): {build_s:.1f} s", flush=True)
    names = args.workers.split(",")
    runs: dict[str, list[dict]] = {n: [] for n in names}
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            cmd = [sys.executable, "-m", "benchmarks.rnn_formulations", "--worker", name]
            cmd += ["--models", args.models, "--seq-lens", args.seq_lens, "--dtype", args.dtype]
            cmd += ["--retain-memory"] if args.retain_memory else []
            done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"worker {name} failed: {done.stderr[-2000:]}")
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1}/{args.rounds}: {name} done", flush=True)
    ms = {n: {k: statistics.median(run[k] for run in runs[n]) for k in runs[n][0]} for n in names}
    keys = list(ms[names[0]])
    retained = ", freed memory retained" if args.retain_memory else ""
    print(f"\nms per train step, {args.dtype} (median over rounds){retained}")
    print(f"{'step':<10}" + "".join(f"{n:>10}" for n in names) + "   onednn/torch")
    for k in keys:
        ratio = ms["onednn"][k] / ms["torch"][k] if {"onednn", "torch"} <= set(names) else float("nan")
        print(f"{k:<10}" + "".join(f"{ms[n][k]:>10.2f}" for n in names) + f"   {ratio:>8.2f}x")
    return {"build_s": build_s, "ms": ms}


if __name__ == "__main__":
    main()
