"""What every experiment shares: the standard options, the output folder, saving results, the plots.

An experiment is a module ``experiments/<name>.py`` whose docstring's first line describes it, with
``build_parser()`` returning its argparse parser (made with ``base_parser``) and ``main(argv=None) ->
dict`` that runs it, prints its results unless ``--quiet``, writes its figures as PNG and its metrics as
JSON into ``--out-dir``, and returns the metrics. It imports this module as ``from experiments import
common`` and runs as ``python -m experiments.<name>`` from the repository root.

The shared plumbing:

- ``epoch_logger(args, line)``: the ``fit`` callback that reports one line per epoch;
- ``plot_curves(ax, {label: values})``: curves against the epoch on one panel;
- ``learning_curves(history, names)``: a figure with train and validation curves per metric;
- ``image_grid(images, rows, title)``: 28 x 28 digits (or weights) tiled in one picture;
- ``subplots(...)`` / ``save_figure(fig, folder, name)``: matplotlib, imported only when plotting.
- ``header(args, name, source)``: the first printed line, naming the course file and section reproduced;
- ``integer_ticks(ax)``, ``class_legend(ax, ...)``, ``colorbar(fig, image, ax, label)``: what a slide needs.

Every experiment that reproduces the course says where in its docstring and its printed header: the file
under ``../shared/course/`` and the section (``COURSE`` names the files).
"""

from __future__ import annotations

import argparse
import json
import pathlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

import fnnet

# The course's texts (../shared/course/), by what each one is.
COURSE = {
    "transcript": "000_39566603f99e472a.txt",
    "notes": "001_aa06252bb9b8f838.txt",
    "article": "002_80acec0b162294bd.txt",
    "slides": "003_57e07c46f1bd5fd4.txt",
    "lecture": "004_9b7633bddcbc917a.txt",
}


def header(args: argparse.Namespace, name: str, source: str, *, beyond_course: bool = False) -> str:
    """Print (unless ``--quiet``) and return the experiment's first line, naming what it reproduces.

    ``== name: reproduces <source> ==``, or ``== name: beyond the course: <source> ==`` for an
    experiment that is not one of the course's lessons.

    Args:
        args: the parsed options (for ``--quiet``).
        name: the experiment's name.
        source: the course file and section, e.g. ``003_57e07c46f1bd5fd4.txt, "Quiz: Guessing the Weights"``.
        beyond_course: the experiment goes beyond the course; ``source`` names where it comes from.
    """
    line = f"== {name}: {'beyond the course:' if beyond_course else 'reproduces'} {source} =="
    report(args, line)
    return line


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
        help="folder holding mnist/, fashion-mnist/, timeseries/, text/ (default: $FNNET_DATA_DIR, else "
        "../shared/data beside a checkout, else ~/.cache/fnnet)",
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


def epoch_logger(args: argparse.Namespace, line: str | Callable[[Mapping], str]) -> fnnet.training.Callback:
    """A ``fit`` callback that reports ``epoch N: <line> (S s)`` after every epoch, unless ``--quiet``.

    Args:
        args: the parsed options (for ``--quiet``).
        line: a format string over the epoch's logs (``"loss {loss:.4f}"``) or a function of the logs.

    Returns:
        A ``fnnet.training.Callback`` whose ``epoch_end`` reports and never stops training.
    """
    describe = line.format_map if isinstance(line, str) else line

    class EpochLog(fnnet.training.Callback):
        def epoch_end(self, run, epoch, logs):
            report(args, f"epoch {epoch + 1}: {describe(logs)} ({logs['seconds']:.0f} s)")

    return EpochLog()


def subplots(*args, **kwargs):
    """``matplotlib.pyplot.subplots``, imported on first use (experiments that never plot skip it)."""
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def integer_ticks(ax, axis: str = "x") -> None:
    """Whole-number ticks on ``axis`` (epochs and steps are counts: no tick at 1.5)."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def class_legend(
    ax, colors: Sequence, labels: Sequence[str], *, title: str | None = "class", **kwargs
) -> None:
    """A legend with one marker per class colour (for scatter plots coloured by label)."""
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="", markerfacecolor=c, markeredgecolor="k", markersize=8)
        for c in colors
    ]
    ax.legend(handles, labels, title=title, **kwargs)


def colorbar(fig, image, ax, label: str):
    """A labelled colorbar for a heat map or confusion matrix drawn by ``ax.imshow`` / ``ax.contourf``."""
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(label)
    return bar


def plot_curves(
    ax,
    curves: Mapping[str, Sequence[float]],
    *,
    x: Sequence[float] | None = None,
    xlabel: str = "epoch",
    ylabel: str | None = None,
    title: str | None = None,
    **style,
) -> None:
    """Draw each ``{label: values}`` curve on ``ax`` against ``x`` (default 1, 2, ..., n).

    A legend is drawn when there is more than one curve; ``style`` goes to every ``ax.plot``. Epoch and
    step axes get whole-number ticks.
    """
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1) if x is None else x, values, label=label, **style)
    ax.set(xlabel=xlabel, **{k: v for k, v in (("ylabel", ylabel), ("title", title)) if v is not None})
    if xlabel in ("epoch", "step", "steps", "epochs"):
        integer_ticks(ax)
    if len(curves) > 1:
        ax.legend()


def learning_curves(
    history: Mapping[str, Sequence[float]],
    names: Sequence[str] = ("loss",),
    *,
    val_label: str = "validation",
    ylabels: Sequence[str] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
):
    """The learning curves of a ``fit`` history: one panel per metric, train and validation per epoch.

    Args:
        history: ``FitResult.history``; ``history[name]`` is the train curve, ``history["val_" + name]``
            (when present) the validation one, ``history["epoch"]`` (when present) the x axis.
        names: the metrics to draw, one panel each.
        val_label: the legend's name for the validation curves (``"test"`` when they are test scores).
        ylabels: the panels' y-axis labels (default: the names).
        title: the figure's title.
        figsize: default 5 x 3.5 inches per panel.

    Returns:
        The matplotlib figure (save it with ``save_figure``).
    """
    fig, axes = subplots(1, len(names), figsize=figsize or (5 * len(names), 3.5), squeeze=False)
    for ax, name, ylabel in zip(axes[0], names, ylabels or names, strict=True):
        curves = {"train": history[name]}
        if "val_" + name in history:
            curves[val_label] = history["val_" + name]
        plot_curves(ax, curves, x=history.get("epoch"), ylabel=ylabel)
    if title is not None:
        fig.suptitle(title)
    return fig


def image_grid(images, rows: int, title: str, *, inches: float | None = None, **imshow):
    """A figure of 28 x 28 images ``[N, 784]`` tiled ``rows`` high as one grey picture.

    ``inches`` is the picture's width (default half an inch per tile); ``imshow`` goes to ``ax.imshow``
    (``vmin=0, vmax=1`` for pixels, nothing to scale weights to their own range).
    """
    cols = len(images) // rows
    tiles = np.asarray(images[: rows * cols]).reshape(rows, cols, 28, 28).transpose(0, 2, 1, 3)
    width = inches or 0.5 * cols
    fig, ax = subplots(figsize=(width, width * rows / cols + 0.3))
    ax.imshow(tiles.reshape(rows * 28, cols * 28), cmap="gray", **imshow)  # [rows * 28, cols * 28]
    ax.set_title(title)
    ax.axis("off")
    return fig


def save_figure(fig, folder: pathlib.Path, name: str) -> pathlib.Path:
    """Save a matplotlib figure as ``folder/name.png`` and close it."""
    import matplotlib.pyplot as plt

    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
