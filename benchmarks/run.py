"""The benchmark suite: every model x framework x dtype x batch size, in alternating processes.

    python -m benchmarks.run                  # the full grid (long on 2 CPU cores)
    python -m benchmarks.run --quick          # small grid, one round: checks the harness
    python -m benchmarks.run --retain-memory  # glibc keeps freed memory, in every worker
    python -m benchmarks.run --models lstm --frameworks fnnet,torch --seq-lens 16,64,256,1024
    python -m benchmarks.report benchmarks/results/<run>.json  # table, PNGs, RESULTS.md

Before anything is timed every peer is built and its parameter count and output shape are checked
against fnnet's (against hand-written JAX when fnnet is not among the frameworks); a mismatch is
excluded with a note. Each framework is then timed in its own process (same thread settings and CPU
affinity for all), the processes alternating round by round so drift in the machine's speed hits all
alike. One more process per round times fnnet and hand JAX interleaved, block by block: their ratio, fnnet's
overhead, is taken within a process, because a small CPU's speed varies more between processes.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

from benchmarks import harness
from benchmarks.peers import Spec
from benchmarks.peers.common import compute_dtype

ROOT = pathlib.Path(__file__).resolve().parents[1]

# ---- defaults: the standard grid ------------------------------------------------------------
FRAMEWORKS = "fnnet,jax,flax,haiku,equinox,torch"
MODELS = "mlp,cnn,lstm,gru"
DTYPES = "float32,bfloat16,mixed_bfloat16"  # mixed_bfloat16: float32 params, bf16 compute (fnnet/jax/torch)
BATCHES = {"mlp": (8, 128, 1024), "cnn": (32, 128), "lstm": (32,), "gru": (32,)}
SEQ_LENS = "25,50,100"  # recurrent models at their batch sizes: step time against T
ROUNDS = 3  # each framework runs once per round, in a rotated order
WARMUP, NUMBER, REPEATS = 5, 10, 5  # untimed steps, steps per timed block, timed blocks
CEILING_SIZE = 2048  # the matmul ceiling is [n, n] @ [n, n] in each dtype
# --quick: every model and framework, float32 only, tiny shapes, one round (checks the harness)
QUICK = {
    "batches": {"mlp": (8,), "cnn": (8,), "lstm": (8,), "gru": (8,)},
    "seq_lens": "10",
    "dtypes": "float32",
    "rounds": 1,
    "warmup": 1,
    "number": 2,
    "repeats": 2,
    "ceiling": 256,
}


def build_parser() -> argparse.ArgumentParser:
    """The suite's options (defaults above)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=FRAMEWORKS)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--dtypes", default=None, help=f"default {DTYPES} ({QUICK['dtypes']} with --quick)")
    parser.add_argument("--seq-lens", default=None, help=f"LSTM/GRU lengths, default {SEQ_LENS}")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads per process")
    parser.add_argument("--quick", action="store_true", help="a tiny grid to check the harness")
    parser.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--retain-memory", action="store_true",
        help="every worker (every framework) first calls fnnet.bench.retain_freed_memory()",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: time one framework
    parser.add_argument("--job", help=argparse.SUPPRESS)
    return parser


def grid(args) -> list:
    """The Specs to run."""
    batches = QUICK["batches"] if args.quick else BATCHES
    seq_lens = [int(t) for t in (args.seq_lens or (QUICK["seq_lens"] if args.quick else SEQ_LENS)).split(",")]
    dtypes = args.dtypes or (QUICK["dtypes"] if args.quick else DTYPES)
    specs = []
    for model in args.models.split(","):
        for dtype in dtypes.split(","):
            for batch in batches[model]:
                for t in seq_lens if model in ("lstm", "gru") else (0,):
                    specs.append(Spec(model, dtype, batch, t or 100))
    return specs


def main(argv=None) -> dict:
    """Run the suite; write ``<out-dir>/run-<time>.json`` and return its contents."""
    args = build_parser().parse_args(argv)
    if args.worker:
        harness.worker(args)
        return {}
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    started = time.time()
    frameworks = args.frameworks.split(",")
    specs = grid(args)
    keep, notes = harness.parity(frameworks, specs, say)
    for note in notes:
        say(note)
    rounds = args.rounds or (QUICK["rounds"] if args.quick else ROUNDS)
    keys = ("warmup", "number", "repeats")
    options = (
        {k: QUICK[k] for k in keys} if args.quick else dict(zip(keys, (WARMUP, NUMBER, REPEATS), strict=True))
    )
    dtypes = sorted({compute_dtype(s.dtype) for s in specs})  # a policy's ceiling is its compute dtype's
    ceiling = {
        "dtypes": dtypes,
        "ceiling_size": QUICK["ceiling"] if args.quick else CEILING_SIZE,
        "options": options,
    }
    names = ["ceiling", *[fw for fw in frameworks if fw in keep]]
    if "fnnet" in keep and "jax" in keep:  # fnnet's overhead, timed within one process
        keep[harness.OVERHEAD] = [s for s in keep["fnnet"] if s in keep["jax"]]
        names.append(harness.OVERHEAD)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                job = (
                    ceiling
                    if name == "ceiling"
                    else {"specs": [s.__dict__ for s in keep[name]], "options": options}
                )
                got = harness.spawn(name, dict(job), args, folder)
                for row in got:
                    row["round"] = r
                    if "error" in row:
                        notes.append(f"error {name} {row.get('model', '')}: {row['error'][:300]}")
                        say(notes[-1])
                rows.extend(got)
                say(f"round {r + 1}/{rounds}: {name} done ({time.time() - started:.0f} s)")
    from fnnet.bench import environment

    result = {
        "machine": {
            **environment(),
            "hostname": platform.node(),
            "threads_per_process": args.threads,
            "retain_freed_memory": args.retain_memory,
        },
        "command": " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "rounds": rounds,
        "options": options,
        "notes": notes,
        "ceilings": [r for r in rows if r["framework"] == "ceiling"],
        "table": harness.aggregate(rows),
        "rows": rows,
        "seconds": time.time() - started,
    }
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"run-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    for row in result["table"]:
        say(
            f"{row['framework']:8s} {row['model']:5s} {row['dtype']:9s} b{row['batch']} "
            f"t{row['seq_len']} {row['median_s'] * 1e3:9.3f} ms"
        )
    say(f"wrote {path} in {result['seconds']:.0f} s")
    result["path"] = str(path)
    return result


if __name__ == "__main__":
    main()
