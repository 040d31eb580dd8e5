"""Run every course experiment in order: the README's main job (a few minutes on 2 cores).

Each experiment prints its results and writes its figures (PNG) and metrics (JSON) under --out-dir.

    python -m experiments.run_all --out-dir outputs
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import time

# The main job, in course order; experiments that need ../shared/data are added with their fast settings.
MAIN_JOB = [
    ("surfing_node", []),
    ("concert_perceptron", []),
    ("xor", []),
    ("gradient_descent", []),
    ("network_sizing", []),
]


def main(argv=None) -> dict:
    """Run each experiment of MAIN_JOB and write a summary of their metrics to ``<out-dir>/summary.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="outputs")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only these experiments")
    args = parser.parse_args(argv)
    summary = {}
    for name, extra in MAIN_JOB:
        if args.only and name not in args.only:
            continue
        module = importlib.import_module(f"experiments.{name}")
        if not args.quiet:
            print(f"\n=== {name}: {module.__doc__.splitlines()[0]}", flush=True)
        started = time.perf_counter()
        flags = ["--out-dir", args.out_dir, *extra] + (["--quiet"] if args.quiet else [])
        metrics = module.main(flags)
        summary[name] = {"seconds": round(time.perf_counter() - started, 1), "metrics": metrics}
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    if not args.quiet:
        print(f"\nwrote {out / 'summary.json'} and each experiment's figures under {out}/")
    return summary


if __name__ == "__main__":
    main()
