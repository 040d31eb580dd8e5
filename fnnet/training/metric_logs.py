"""Metric logs: ``fit``'s step and epoch metrics as CSV files and TensorBoard event files.

``CSVLogger`` writes one row per epoch (or per step) to a CSV file; ``TensorBoardLogger`` writes every
step's logs as ``step/<name>`` and every epoch's as ``epoch/<name>`` scalars, both against the
global step (optimizer steps taken), so the two curves share one x-axis. In a fused epoch the steps
are logged at the epoch's end (their values are the same). A step whose loss was not finite is
logged at the step it attempted (``run.step + 1``).

The event files are written by tensorboardX (``pip install tensorboardX``; fnnet's ``logs`` extra),
the maintained standalone writer of TensorBoard's format: it needs neither TensorFlow nor PyTorch
(whose ``torch.utils.tensorboard`` wraps the same format), and the ``tensorboard`` package's own
``tensorboard.summary.Writer`` is marked experimental there. TensorBoard reads the files
(``tensorboard --logdir DIR``).

Inside ``logging_to(folder)`` every ``fit`` logs without being told: it adds a CSVLogger per epoch
(``epochs.csv``), one per step (``steps.csv``) and a TensorBoardLogger, all in a new subfolder
``fit_001``, ``fit_002``, ... of ``folder`` (one TensorBoard run per fit). ``fnnet run NAME
--log-dir DIR`` runs the experiment inside ``logging_to(DIR)``.

After a ``Checkpoint`` resume (list the Checkpoint before the loggers), a CSV keeps its rows up to
the resumed step and TensorBoard hides the events after it, so the logs read as one run.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import os
import pathlib
import re
import time
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from fnnet.training.callbacks import Callback, Run

__all__ = ["CSVLogger", "TensorBoardLogger", "default_loggers", "logging_to", "tensorboard_writer"]

_FOLDER: contextvars.ContextVar[pathlib.Path | None] = contextvars.ContextVar("fnnet_log_dir", default=None)


def _step_of(run: Run, logs: dict) -> int:
    """The global step a step's logs belong to: ``run.step``, or the one attempted if not finite."""
    return run.step + (0 if bool(logs.get("finite", True)) else 1)


def _value(value: Any) -> int | float:
    """A log value for the CSV: counts and flags as ints, the rest as floats (repr round-trips)."""
    return int(value) if np.asarray(value).dtype.kind in "biu" else float(value)


class CSVLogger(Callback):
    """Write one row per epoch, or per step, of ``fit``'s logs to a CSV file.

    Each row starts with ``step``, the global step (optimizer steps taken); epoch rows then hold the
    history's latest values (``epoch``, ``loss``, metrics, ``val_*``, ``seconds``), step rows the
    step's logs. For both, use two loggers (as ``logging_to`` does).

    Args:
        path: the file; its folder is created. ``begin`` overwrites it, except after a resume, when it
            keeps the rows up to the resumed step.
        per_step: write every step's logs instead of every epoch's.
    """

    def __init__(self, path: str | os.PathLike[str], per_step: bool = False) -> None:
        self.path, self.per_step = pathlib.Path(path), per_step
        self.columns: list[str] | None = None
        self.file: IO[str] | None = None

    def __repr__(self) -> str:
        return f"CSVLogger({str(self.path)!r}, per_step={self.per_step})"

    def begin(self, run: Run) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict] = []
        if run.step and self.path.is_file():  # resumed: keep what was logged up to the restored step
            with self.path.open(newline="") as f:
                kept = [
                    row for row in csv.DictReader(f) if row.get("step") and float(row["step"]) <= run.step
                ]
        self.columns = list(kept[0]) if kept else None
        self.file = self.path.open("w", newline="")
        if kept:
            writer = csv.DictWriter(self.file, fieldnames=list(kept[0]))
            writer.writeheader()
            writer.writerows(kept)

    def _write(self, row: dict) -> None:
        if self.file is None:
            raise RuntimeError(f"CSVLogger({str(self.path)!r}): begin was not called (pass it to fit)")
        row = {name: _value(value) for name, value in row.items()}
        writer = csv.DictWriter(self.file, fieldnames=self.columns or list(row), extrasaction="ignore")
        if self.columns is None:
            self.columns = list(row)
            writer.writeheader()
        writer.writerow(row)

    def step_end(self, run: Run, logs: dict) -> None:
        if self.per_step:
            self._write({"step": _step_of(run, logs), **logs})

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        if not self.per_step:
            self._write({"step": run.step, **logs})
        if self.file is not None:
            self.file.flush()
        return None

    def end(self, run: Run) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def tensorboard_writer() -> Any:
    """tensorboardX's ``SummaryWriter`` class, or an ImportError that says what to install."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "TensorBoard logs need tensorboardX: pip install 'fnnet[logs]' (or pip install tensorboardX)"
        ) from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Write ``fit``'s logs as TensorBoard scalars: ``step/<name>`` per step, ``epoch/<name>`` per epoch.

    Both are plotted against the global step. Step logs leave out ``finite`` (1 at every step but a
    diverging one, which the stop reason reports); epoch logs leave out ``epoch``.

    Args:
        log_dir: the folder for the event file (created); TensorBoard shows it as one run.
        per_step: also write every step's logs (else only the epochs').
    """

    def __init__(self, log_dir: str | os.PathLike[str], per_step: bool = True) -> None:
        self.log_dir, self.per_step = pathlib.Path(log_dir), per_step
        self.writer: Any = None
        tensorboard_writer()  # fail at construction, not after the first epoch

    def __repr__(self) -> str:
        return f"TensorBoardLogger({str(self.log_dir)!r}, per_step={self.per_step})"

    def begin(self, run: Run) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # after a resume, TensorBoard drops the events the interrupted run logged past the restored step
        purge = run.step + 1 if run.step else None
        # tensorboardX names the file by the second it was opened: a resume within that second would
        # overwrite the first run's file. The suffix keeps each run's file, sorted in the order opened.
        suffix = f".{time.time_ns():020d}.{os.getpid()}"
        self.writer = tensorboard_writer()(
            str(self.log_dir), purge_step=purge, flush_secs=30, filename_suffix=suffix
        )

    def step_end(self, run: Run, logs: dict) -> None:
        if self.per_step:
            step = _step_of(run, logs)
            for name, value in logs.items():
                if name != "finite":
                    self.writer.add_scalar(f"step/{name}", float(value), step)

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        for name, value in logs.items():
            if name != "epoch":
                self.writer.add_scalar(f"epoch/{name}", float(value), run.step)
        self.writer.flush()
        return None

    def end(self, run: Run) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def default_loggers() -> list[Callback]:
    """The loggers ``fit`` adds inside ``logging_to(folder)``, in a new ``folder/fit_NNN``; else none."""
    folder = _FOLDER.get()
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"fit_(\d+)", p.name))]
    run_dir = folder / f"fit_{max(taken, default=0) + 1:03d}"
    run_dir.mkdir()  # claims the number for this fit
    return [
        CSVLogger(run_dir / "epochs.csv"),
        CSVLogger(run_dir / "steps.csv", per_step=True),
        TensorBoardLogger(run_dir),
    ]


@contextlib.contextmanager
def logging_to(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Within this context every ``fit`` writes CSV and TensorBoard logs under ``folder`` (None: none).

    Raises:
        ImportError: tensorboardX is not installed (checked on entry, before anything runs).
    """
    if folder is not None:
        tensorboard_writer()
    token = _FOLDER.set(None if folder is None else pathlib.Path(folder))
    try:
        yield
    finally:
        _FOLDER.reset(token)
