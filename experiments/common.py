"""What every experiment script shares: the standard options, the output folder, saving results.

An experiment is a script ``experiments/<name>.py`` whose module docstring's first line describes it,
with ``build_parser()`` returning its argparse parser (made with ``base_parser``) and
``main(argv=None) -> dict`` that runs it, prints its results unless ``--quiet``, writes its figures as PNG
and its metrics as JSON into ``--out-dir``, and returns the metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as `python experiments/x.py` from a checkout
    sys.path.insert(0, str(ROOT))


def base_parser(description: str, **defaults) -> argparse.ArgumentParser:
    """A parser with the options every experiment takes; ``defaults`` override the generic ones.

    Options: ``--epochs``, ``--batch-size``, ``--learning-rate``, ``--seed``, ``--data-dir``,
    ``--out-dir``, ``--quiet``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=defaults.get("epochs", 10))
    parser.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 32))
    parser.add_argument("--learning-rate", type=float, default=defaults.get("learning_rate", 1e-3))
    parser.add_argument("--seed", type=int, default=defaults.get("seed", 0))
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("FNNET_DATA_DIR"),
        help="folder holding mnist/, fashion-mnist/, timeseries/, text/ (default $FNNET_DATA_DIR "
        "or ../shared/data)",
    )
    parser.add_argument("--out-dir", default=defaults.get("out_dir", "outputs"))
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser


def output_dir(args: argparse.Namespace, name: str) -> pathlib.Path:
    """``<out-dir>/<name>/``, created if needed."""
    path = pathlib.Path(args.out_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def report(args: argparse.Namespace, *lines: str) -> None:
    """Print ``lines`` unless ``--quiet``."""
    if not args.quiet:
        print(*lines, sep="\n", flush=True)


def save_metrics(folder: pathlib.Path, metrics: dict) -> pathlib.Path:
    """Write ``metrics`` to ``folder/metrics.json`` (NumPy scalars become floats)."""
    path = folder / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    return path


def save_figure(fig, folder: pathlib.Path, name: str) -> pathlib.Path:
    """Save a matplotlib figure as ``folder/name.png`` and close it."""
    import matplotlib.pyplot as plt

    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
