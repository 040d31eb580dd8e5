"""LSTM/GRU classifier train steps: fnnet's scan formulations against the peers, interleaved.

Builds every variant in one process, warms each up (compilation), then runs ``--rounds`` rounds; in
each round every variant (in a fresh random order) times a block of ``--steps`` train steps. Prints
the median (and min) ms per step over rounds and the load average, and writes them as JSON. With
``--sweep`` it repeats fnnet's default, the hand-written scan and PyTorch over several lengths.

    PYTHONPATH=. python benchmarks/rnn_formulations.py --kind lstm
    PYTHONPATH=. python benchmarks/rnn_formulations.py --kind gru
    PYTHONPATH=. python benchmarks/rnn_formulations.py --kind lstm --sweep 16 64 256 1024
    PYTHONPATH=. python benchmarks/rnn_formulations.py --kind lstm --breakdown
    PYTHONPATH=. python benchmarks/rnn_formulations.py --kind lstm --only "fnnet default" pytorch \\
        --sweep 16 64 100 256 1024 --rounds 5 --processes 3     # each variant alone in its process

Compare frameworks with ``--processes``: interleaved in one process, PyTorch's and XLA's thread pools
slow each other down.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interleave  # noqa: E402
import rnn_peers  # noqa: E402

# Defaults: the classifier (batch 32, T = 100, 32 features, hidden 128, 10 classes).
BATCH, LENGTH, FEATURES, HIDDEN = 32, 100, 32, 128
ROUNDS = 7  # timed rounds; the median over rounds is reported
STEPS = 10  # train steps per timed block
WARMUP = 3  # untimed steps per variant (the first compiles)

# fnnet variants: name -> RNN options.
FNNET = {
    "fnnet concat (per-step [x,h] @ W)": dict(formulation="concat"),
    "fnnet split (x @ Wx + h @ Wh)": dict(formulation="split"),
    "fnnet hoisted (x @ Wx before scan)": dict(formulation="hoisted"),
    "fnnet concat, unroll 4": dict(formulation="concat", unroll=4),
    "fnnet fused (custom VJP)": dict(formulation="fused"),
    "fnnet fused, unroll 2": dict(formulation="fused", unroll=2),
    "fnnet fused, unroll 4": dict(formulation="fused", unroll=4),
    "fnnet default": dict(),
    "fnnet cudnn (NVIDIA GPU only)": dict(formulation="cudnn"),
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["lstm", "gru"], default="lstm")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--sweep", type=int, nargs="*", default=None, help="sequence lengths to sweep")
    parser.add_argument("--only", nargs="*", default=None, help="substrings of variant names to keep")
    parser.add_argument("--exact", default=None, help="run only the variant of this exact name")
    parser.add_argument(
        "--processes", type=int, default=0,
        help="run each variant in its own process, this many times, alternating (no shared threads)",
    )  # fmt: skip
    parser.add_argument("--breakdown", action="store_true", help="time forward and gradient apart")
    parser.add_argument("--out", default="outputs/rnn_formulations.json")
    parser.add_argument(
        "--retain-memory", action="store_true",
        help="fnnet.bench.retain_freed_memory() first: glibc keeps freed memory (for PyTorch too)",
    )  # fmt: skip
    return parser


def variants(kind, T, sweep=False):
    """``name -> builder()`` for every variant that supports ``kind``."""
    out = {}
    for name, options in FNNET.items():
        if sweep and name not in ("fnnet default",):
            continue
        if not available(kind, options.get("formulation")):
            continue
        out[name] = lambda o=options: rnn_peers.fnnet_step(kind, BATCH, T, FEATURES, HIDDEN, **o)
    for name, builder in rnn_peers.PEERS.items():
        if sweep and name not in ("hand lax.scan", "pytorch"):
            continue
        out[name] = lambda b=builder: b(kind, BATCH, T, FEATURES, HIDDEN)
    if kind == "lstm" and not sweep:
        out["flax OptimizedLSTMCell"] = lambda: rnn_peers.flax_step(kind, BATCH, T, FEATURES, HIDDEN, True)
    return out


def available(kind, formulation):
    """Whether fnnet's RNN layer offers ``formulation`` for ``kind`` on this machine."""
    from fnnet.layers import cudnn

    cell = rnn_peers.fn.LSTMCell(8) if kind == "lstm" else rnn_peers.fn.GRUCell(8)
    try:
        rnn_peers.fn.RNN(cell, formulation=formulation)
    except ValueError:
        return False
    return formulation != "cudnn" or cudnn.unavailable_reason(np.float32) is None


def breakdown(kind, T):
    """Forward-only and gradient-only (no optimizer) builders of fnnet's formulations."""
    cell = rnn_peers.fn.LSTMCell(HIDDEN) if kind == "lstm" else rnn_peers.fn.GRUCell(HIDDEN)
    out = {}
    for formulation in ("concat", "split", "hoisted", "fused"):
        rnn = rnn_peers.fn.RNN(cell, return_sequences=False, formulation=formulation)
        _, params = rnn.init(jax.random.key(0), (T, FEATURES))
        loss = lambda p, x, rnn=rnn: rnn.apply(p, x).sum()  # noqa: E731
        for label, f in (("forward", jax.jit(loss)), ("gradient", jax.jit(jax.grad(loss)))):
            out[f"{formulation} {label}"] = lambda f=f, p=params: lambda x, y: jax.block_until_ready(f(p, x))
    return out


def measure(builders, T, rounds, steps):
    """``(median, min)`` ms per train step of each variant over interleaved rounds."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, T, FEATURES)).astype(np.float32)
    y = rng.integers(0, rnn_peers.CLASSES, BATCH).astype(np.int32)
    xj, yj = jax.device_put(x), jax.device_put(y)
    thunks = {}
    for name, build in builders.items():
        run, args = build(), ((x, y) if name == "pytorch" else (xj, yj))
        thunks[name] = lambda run=run, args=args: run(*args)
    return interleave.interleaved(thunks, rounds, steps, warmup=WARMUP)


def selected(args, T):
    """The builders ``args`` asks for at length ``T``."""
    if args.breakdown:
        builders = breakdown(args.kind, T)
    else:
        builders = variants(args.kind, T, sweep=args.sweep is not None)
    if args.only:
        builders = {k: v for k, v in builders.items() if any(s in k for s in args.only)}
    if args.exact:
        builders = {k: v for k, v in builders.items() if k == args.exact}
    return builders


def in_one_process(args, lengths) -> dict:
    """``{"T=...": {variant: (median, min) ms}}``, every variant interleaved in this process."""
    out = {}
    for T in lengths:
        steps = max(1, args.steps * LENGTH // max(T, LENGTH)) if args.sweep else args.steps
        out[f"T={T}"] = measure(selected(args, T), T, args.rounds, steps)
    return out


def in_processes(args, argv, lengths) -> dict:
    """Like ``in_one_process``, but each variant alone in a fresh process, ``args.processes`` times.

    In one process the frameworks' thread pools share the CPU, and that changes their times: PyTorch's
    LSTM step (T = 100) measured 7.4-9.9 ms alone in a process and 11.5-13.4 ms interleaved with JAX.
    """
    names = list(selected(args, lengths[0]))
    argv = list(argv if argv is not None else sys.argv[1:])
    return interleave.in_processes(__file__, argv, names, [f"T={T}" for T in lengths], args.processes)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.retain_memory:
        rnn_peers.fn.retain_freed_memory()
    results = {"kind": args.kind, "device": str(jax.devices()[0]), "load_before": os.getloadavg()}
    results["retain_memory"] = args.retain_memory
    results["processes"] = args.processes
    lengths = args.sweep or [LENGTH]
    if args.processes:
        results.update(in_processes(args, argv, lengths))
    else:
        results.update(in_one_process(args, lengths))
    for T in lengths:
        print(f"{args.kind.upper()} B={BATCH} T={T} F={FEATURES} H={HIDDEN}: ms per step")
        print(f"  {'variant':36s} {'median':>8s} {'min':>8s}")
        for name, (median, low) in sorted(results[f"T={T}"].items(), key=lambda kv: kv[1]):
            print(f"  {name:36s} {median:8.2f} {low:8.2f}")
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
