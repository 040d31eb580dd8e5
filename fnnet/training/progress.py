"""Progress reporting for ``fit``: a tqdm bar per epoch with the live loss and metrics.

``fit(..., progress=True)`` draws a ``ProgressBar``; ``progress=None`` (the default) asks
``default_progress()``, which is off unless a caller such as the ``fnnet`` command line switched it
on with ``progress_enabled(True)`` (so every ``fit`` inside an experiment shows its bar).

A progress object has four methods, all optional to override: ``begin(epochs, steps_per_epoch,
initial_epoch)``, ``step(logs)`` after each optimizer step of the per-step loop, ``epoch_end(epoch,
logs)`` with the epoch's history values, and ``end(history)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time

__all__ = ["Progress", "ProgressBar", "default_progress", "format_history", "progress_enabled"]

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("fnnet_progress", default=False)


class Progress:
    """A progress reporter that shows nothing; subclass it and override what you need."""

    def begin(self, epochs: int, steps_per_epoch: int, initial_epoch: int = 0) -> None:
        """Called once before training."""

    def step(self, logs: dict) -> None:
        """Called after each step of the per-step loop with that step's ``{name: value}``."""

    def epoch_end(self, epoch: int, logs: dict) -> None:
        """Called after each epoch with the latest history values (``loss``, ``val_*``, ...)."""

    def end(self, history: dict) -> None:
        """Called once after training with the full history."""


def _fmt(logs: dict) -> dict[str, str]:
    skip = {"epoch", "seconds", "finite", "update_norm"}
    return {k: f"{float(v):.4g}" for k, v in logs.items() if k not in skip}


class ProgressBar(Progress):
    """One tqdm bar per epoch over its steps, with the running loss and metrics as the postfix.

    Args:
        file: where to draw (default ``sys.stderr``).
        summary: print a table of the per-epoch history at the end.
    """

    def __init__(self, file=None, summary: bool = True):
        self.file = file
        self.summary = summary
        self.bar = None

    def begin(self, epochs, steps_per_epoch, initial_epoch=0):
        self.epochs, self.steps_per_epoch, self.epoch = epochs, steps_per_epoch, initial_epoch
        self.started = time.time()

    def _open(self):
        from tqdm.auto import tqdm

        if self.bar is None:  # opened lazily, so a run that stops leaves no empty bar
            self.sums, self.count = {}, 0
            self.bar = tqdm(
                total=self.steps_per_epoch,
                desc=f"epoch {self.epoch + 1}/{self.epochs}",
                file=self.file or sys.stderr,
                leave=True,
                dynamic_ncols=True,
            )
            self.bar.start_t = self.started  # rates count from the epoch's start, not the bar's
        return self.bar

    def step(self, logs):
        bar = self._open()
        self.count += 1
        for name, value in _fmt(logs).items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        bar.update(1)
        if self.count % 10 == 0 or self.count == self.steps_per_epoch:
            bar.set_postfix({k: f"{v / self.count:.4g}" for k, v in self.sums.items()})

    def epoch_end(self, epoch, logs):
        self.epoch = epoch
        bar = self._open()
        bar.update(self.steps_per_epoch - bar.n)  # the fused loop reports whole epochs
        bar.set_postfix(_fmt(logs))
        bar.close()
        self.bar, self.epoch, self.started = None, epoch + 1, time.time()

    def end(self, history):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.summary and history.get("epoch"):
            print(format_history(history), file=self.file or sys.stderr)


def format_history(history: dict) -> str:
    """A text table of a ``fit`` history: one row per epoch, one column per metric."""
    names = ["epoch"] + [k for k in history if k not in ("epoch", "seconds")] + ["seconds"]
    names = [n for n in names if n in history]
    rows = [[str(int(v)) if n == "epoch" else f"{v:.4g}" for v in history[n]] for n in names]
    table = [names, *zip(*rows, strict=False)]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(names))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in table)


def default_progress() -> Progress | None:
    """The progress reporter ``fit`` uses when given ``progress=None``: a ProgressBar if enabled."""
    return ProgressBar() if _ENABLED.get() else None


@contextlib.contextmanager
def progress_enabled(enabled: bool = True):
    """Within this context, ``fit(progress=None)`` draws a ProgressBar (or not)."""
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def resolve(progress) -> Progress | None:
    """``fit``'s ``progress`` argument as a Progress object, or None for no reporting."""
    if progress is None:
        return default_progress()
    if progress is True:
        return ProgressBar()
    if progress is False:
        return None
    return progress
