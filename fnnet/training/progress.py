"""Progress for ``fit``: a ``ProgressBar`` callback, a tqdm bar per epoch with the live loss and metrics.

``fit(..., callbacks=[ProgressBar()])`` draws it. Without one, ``fit`` adds a ProgressBar when
``default_progress()`` says so: off unless a caller such as the ``fnnet`` command line switched it on
with ``progress_enabled(True)`` (so every ``fit`` inside an experiment shows its bar).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from fnnet.training.callbacks import Callback, Run

__all__ = ["ProgressBar", "default_progress", "format_history", "progress_enabled"]

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("fnnet_progress", default=False)


def _fmt(logs: dict) -> dict[str, str]:
    skip = {"epoch", "seconds", "finite", "update_norm"}
    return {k: f"{float(v):.4g}" for k, v in logs.items() if k not in skip}


class ProgressBar(Callback):
    """One tqdm bar per epoch over its steps, with the running loss and metrics as the postfix.

    Args:
        file: where to draw (default ``sys.stderr``).
        summary: print a table of the per-epoch history at the end.
    """

    def __init__(self, file: IO[str] | None = None, summary: bool = True) -> None:
        self.file = file
        self.summary = summary
        self.bar: Any = None  # the epoch's tqdm bar while it is open (tqdm has no type hints)

    def begin(self, run: Run) -> None:
        self.epochs, self.steps_per_epoch = run.epochs, run.steps_per_epoch
        self.epoch = run.step // run.steps_per_epoch if run.steps_per_epoch else 0
        self.started = time.time()

    def _open(self) -> Any:
        from tqdm.auto import tqdm

        if self.bar is None:  # opened lazily, so a run that stops leaves no empty bar
            self.sums: dict[str, float] = {}
            self.count = 0
            self.bar = tqdm(
                total=self.steps_per_epoch,
                desc=f"epoch {self.epoch + 1}/{self.epochs}",
                file=self.file or sys.stderr,
                leave=True,
                dynamic_ncols=True,
            )
            self.bar.start_t = self.started  # rates count from the epoch's start, not the bar's
        return self.bar

    def step_end(self, run: Run, logs: dict) -> None:
        if self.bar is None:  # the epoch from the run, so a Checkpoint listed after the bar resumes right
            self.epoch = max(run.step - 1, 0) // run.steps_per_epoch if run.steps_per_epoch else self.epoch
        bar = self._open()
        self.count += 1
        for name, value in _fmt(logs).items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
        bar.update(1)
        if self.count % 10 == 0 or self.count == self.steps_per_epoch:
            bar.set_postfix({k: f"{v / self.count:.4g}" for k, v in self.sums.items()})

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        self.epoch = epoch
        bar = self._open()
        self.steps_per_epoch = run.steps_per_epoch  # a stream without a length: known after epoch 1
        if self.steps_per_epoch is not None:
            bar.update(self.steps_per_epoch - bar.n)  # the fused loop reports whole epochs
        bar.set_postfix(_fmt(logs))
        bar.close()
        self.bar, self.epoch, self.started = None, epoch + 1, time.time()
        return None

    def end(self, run: Run) -> None:
        history = run.history
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


def default_progress() -> ProgressBar | None:
    """The ProgressBar ``fit`` adds when its callbacks have none: one if enabled, else None."""
    return ProgressBar() if _ENABLED.get() else None


@contextlib.contextmanager
def progress_enabled(enabled: bool = True) -> Iterator[None]:
    """Within this context, every ``fit`` without a ProgressBar callback draws one (or not)."""
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)
