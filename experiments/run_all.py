"""Run every course experiment that needs no downloaded data, in course order: the README's main job.

Each experiment prints its results and writes its figures (PNG) and metrics (JSON) under --out-dir;
this prints each one's time and figures, and ends by listing the longer experiments (MNIST, the
recurrent and generative models), which run one at a time with ``fnnet run NAME``.

    python -m experiments.run_all --out-dir outputs
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import time

# The main job, in course order, with the options that keep it to about a minute on 2 cores.
MAIN_JOB: list[tuple[str, list[str]]] = [
    ("surfing_node", []),
    ("concert_perceptron", []),
    ("xor", []),
    ("playground", []),
    ("gradient_descent", []),
    ("vanishing_gradient", []),
    ("network_sizing", []),
    ("design_quizzes", []),
]


def _parser() -> argparse.ArgumentParser:
    """The options: ``--out-dir``, ``--quiet``, ``--only NAME ...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="outputs")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only these experiments")
    return parser


def run_one(name: str, extra: list[str], args: argparse.Namespace) -> dict:
    """Run experiment ``name``; return its seconds, metrics and the figures it wrote."""
    module = importlib.import_module(f"experiments.{name}")
    folder = pathlib.Path(args.out_dir) / name
    before = {p: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    started = time.perf_counter()
    metrics = module.main(["--out-dir", args.out_dir, *extra] + (["--quiet"] if args.quiet else []))
    seconds = time.perf_counter() - started
    figures = [str(p) for p in sorted(folder.glob("*.png")) if before.get(p) != p.stat().st_mtime_ns]
    if not args.quiet:
        print(f"--- {name}: {seconds:.1f} s; figures: {', '.join(figures) or 'none'}", flush=True)
    return {"seconds": round(seconds, 1), "figures": figures, "metrics": metrics}


def longer_experiments() -> dict[str, str]:
    """``{name: description}`` of the experiments not in the main job (what ``fnnet list`` shows)."""
    from fnnet import cli

    folder = pathlib.Path(__file__).resolve().parent
    in_main = {name for name, _ in MAIN_JOB}
    return {name: doc for name, (_, doc) in cli.discover(folder).items() if name not in in_main}


def main(argv: list[str] | None = None) -> dict:
    """Run each experiment of MAIN_JOB and write their times, figures and metrics to ``summary.json``."""
    args = _parser().parse_args(argv)
    unknown = set(args.only or ()) - {name for name, _ in MAIN_JOB}
    if unknown:
        raise SystemExit(f"run_all: --only {sorted(unknown)}: not in the main job {[n for n, _ in MAIN_JOB]}")
    summary = {}
    started = time.perf_counter()
    for name, extra in MAIN_JOB:
        if not args.only or name in args.only:
            summary[name] = run_one(name, extra, args)
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    if not args.quiet:
        seconds = time.perf_counter() - started
        print(f"\n{len(summary)} experiments in {seconds:.0f} s; wrote {out / 'summary.json'}")
        longer = longer_experiments()
        width = max(map(len, longer), default=0)
        print("\nLonger experiments (MNIST and the rest of ../shared/data), one at a time: fnnet run NAME")
        print(*(f"  {name.ljust(width)}  {doc}" for name, doc in longer.items()), sep="\n")
    return summary


if __name__ == "__main__":
    main()
