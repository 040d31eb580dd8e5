"""Callbacks: what ``fit`` does around its loop besides training — saving, stopping, showing, logging.

A callback overrides any of four hooks; each gets the ``Run``, the live record of the fit::

    begin(run)                        once, before the first step (a Checkpoint resumes here)
    step_end(run, logs)               after every optimizer step, with that step's logs
    epoch_end(run, epoch, logs)       after every epoch, with the history's latest values; return a
                                      string (the reason) to stop training
    end(run)                          once, after the last step

In a fused epoch (``fit(fused=True)``) the steps run in one dispatch, so ``step_end`` is called for
each of them at the epoch's end, with ``run.fused`` True and ``run.state`` the epoch's final state.

Example, a loss printer in a few lines (the CSV and TensorBoard loggers are in
``fnnet.training.metric_logs``)::

    class PrintLoss(fnnet.training.callbacks.Callback):
        def epoch_end(self, run, epoch, logs):
            print(epoch, logs["loss"])
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import jax

from fnnet import configs
from fnnet.training.checkpoint import CheckpointError, CheckpointManager
from fnnet.training.state import TrainState

__all__ = ["Callback", "CallbackList", "Checkpoint", "EarlyStopping", "Run"]


@dataclasses.dataclass
class Run:
    """What callbacks see of a ``fit`` in progress (they may replace ``state``, ``history``, ``step``).

    Attributes:
        model: the model being trained.
        epochs: the number of epochs asked for.
        steps_per_epoch: optimizer steps in a full epoch; None for a stream without a length until
            its first epoch has ended.
        batch_size: examples per step.
        state: the current TrainState.
        history: ``{name: [value per epoch]}`` so far.
        step: optimizer steps taken so far (across resumes).
        fused: whether epochs run fused (then ``step_end`` comes at the epoch's end).
        final_state: the state ``fit`` returns, if a callback chose one (EarlyStopping's best);
            None returns ``state``.
        num_examples: examples in the training data; None when it is streamed in batches.
        key_id: a fingerprint of the ``key`` given to ``fit`` (a resume checks it is the same key).
    """

    model: Any
    epochs: int
    steps_per_epoch: int | None
    batch_size: int
    state: TrainState
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    step: int = 0
    fused: bool = False
    final_state: TrainState | None = None
    num_examples: int | None = None
    key_id: str = ""


class Callback:
    """A callback that does nothing; subclass it and override the hooks you need."""

    def begin(self, run: Run) -> None:
        """Called once before training."""

    def step_end(self, run: Run, logs: dict) -> None:
        """Called after each optimizer step with that step's ``{name: value}``."""

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        """Called after each epoch with the latest history values; a returned string stops training."""
        return None

    def end(self, run: Run) -> None:
        """Called once after training."""


class CallbackList(Callback):
    """Several callbacks called in order; the first stop reason of an epoch wins."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"fit: callbacks must be fnnet.training.callbacks.Callback instances, got {callback!r}"
                )
        self.callbacks = list(callbacks)

    def begin(self, run: Run) -> None:
        for callback in self.callbacks:
            callback.begin(run)

    def step_end(self, run: Run, logs: dict) -> None:
        for callback in self.callbacks:
            callback.step_end(run, logs)

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        reasons = [callback.epoch_end(run, epoch, logs) for callback in self.callbacks]
        return next((r for r in reasons if r), None)

    def end(self, run: Run) -> None:
        for callback in self.callbacks:
            callback.end(run)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a history key, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement before stopping (1 stops at the first such epoch).
        min_delta: the smallest change that counts as an improvement (non-negative).
        mode: ``"min"`` or ``"max"``.
        restore_best: ``fit`` returns the state of the best epoch rather than the last.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be a positive int, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode, self.restore_best = mode, restore_best

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, restore_best={self.restore_best})"
        )

    def improved(self, value: float, best: float) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``."""
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def begin(self, run: Run) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_state: TrainState | None = None
        self.waited = 0

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: no metric {self.monitor!r}; have {sorted(logs)}")
        value = logs[self.monitor]
        if self.improved(value, self.best):
            self.best, self.waited = value, 0
            if self.restore_best:
                self.best_state = jax.tree.map(lambda a: a.copy(), run.state)
            return None
        self.waited += 1
        if self.waited >= self.patience:
            return (
                f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                f"(best {self.best:.6g})"
            )
        return None

    def end(self, run: Run) -> None:
        if self.best_state is not None:
            run.final_state = self.best_state


class Checkpoint(Callback):
    """Save the TrainState (and the history) to a folder, and resume from the newest save there.

    Saves after every epoch, or every ``every`` steps, and at the end (the last state, before any
    EarlyStopping restore). A fused epoch cannot stop at a multiple of ``every``: it saves at the
    end of the epoch in which one is reached. With ``resume``, ``begin`` restores the newest
    checkpoint, mid-epoch if need be: a killed run resumed with the same ``key`` ends with exactly
    the parameters of an uninterrupted run. (EarlyStopping counters restart.) A checkpoint of another
    run is refused (``CheckpointError`` naming the difference): another model config, batch size,
    training data size or key. To continue with a new batch size, load the state with
    ``load_checkpoint`` and pass it to ``fit(state=...)`` as a new run.

    Args:
        directory: a folder, or a ``fnnet.training.checkpoint.CheckpointManager``.
        every: save every this many steps; None saves at the end of every epoch.
        resume: start from the newest checkpoint in the folder, if there is one.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | CheckpointManager,
        every: int | None = None,
        resume: bool = True,
    ) -> None:
        if every is not None and (not isinstance(every, int) or isinstance(every, bool) or every < 1):
            raise ValueError(f"Checkpoint: every must be a positive int, got {every!r}")
        if isinstance(directory, str | os.PathLike):
            directory = CheckpointManager(directory)
        if not isinstance(directory, CheckpointManager):
            raise TypeError(f"Checkpoint: directory must be a folder or CheckpointManager, got {directory!r}")
        self.manager, self.every, self.resume = directory, every, resume
        self.saved: int | None = None

    def begin(self, run: Run) -> None:
        self.saved = None
        if not self.resume:
            return
        restored = self.manager.restore(run.state)
        if restored is None:
            return
        state, manifest = restored
        check_resume(self.manager.path(int(state.step)), manifest.get("run"), _run_info(run))
        run.state = state
        run.step = self.saved = int(run.state.step)
        done = run.step // run.steps_per_epoch if run.steps_per_epoch else 0  # else fit says why it can't
        history = manifest["metadata"].get("history", {})
        # epochs completed before the save; an interrupted epoch is recorded again when it completes
        run.history = {name: values[:done] for name, values in history.items()}

    def _save(self, run: Run) -> None:
        if run.step != self.saved:
            self.manager.save(
                run.state,
                step=run.step,
                model=run.model,
                metadata={"history": run.history},
                run=_run_info(run),
            )
            self.saved = run.step

    def step_end(self, run: Run, logs: dict) -> None:
        if self.every is not None and not run.fused and run.step % self.every == 0:
            self._save(run)

    def epoch_end(self, run: Run, epoch: int, logs: dict) -> str | None:
        if self.every is None:
            self._save(run)
        elif run.step // self.every * self.every > (self.saved or 0):  # a multiple passed unsaved
            self._save(run)
        return None

    def end(self, run: Run) -> None:
        self._save(run)


def _run_info(run: Run) -> dict:
    """What a resumed run must share with the saved one."""
    try:
        model = configs.to_config(run.model)
    except configs.ConfigError:  # user code in the model: its repr is the best description there is
        model = repr(run.model)
    return {"model": model, "batch_size": run.batch_size, "num_examples": run.num_examples, "key": run.key_id}


_RESUME_HINT = "resume with the same {what} as the saved run, or save this run in another folder"


def check_resume(path: Any, saved: dict | None, now: dict) -> None:
    """Refuse to resume a checkpoint of another run: a different model, batch size, data size or key.

    ``saved`` is None for checkpoints written before fnnet stored the run (nothing to check).

    Raises:
        CheckpointError: naming the file, what differs, and both values.
    """
    if saved is None:
        return
    if isinstance(saved.get("model"), dict) and isinstance(now["model"], dict):
        where = configs.diff(saved["model"], now["model"])
    else:
        where = None if saved.get("model") == now["model"] else f"{saved.get('model')!r} vs {now['model']!r}"
    if where:
        raise CheckpointError(
            f"{path} was saved by another model ({where}, saved vs now); " + _RESUME_HINT.format(what="model")
        )
    if saved.get("key") != now["key"]:
        raise CheckpointError(
            f"{path} was saved by a run with another key (fingerprint {saved.get('key')}, "
            f"this fit's {now['key']}); " + _RESUME_HINT.format(what="key")
        )
    for field, what in (("batch_size", "batch_size"), ("num_examples", "training data size")):
        if saved.get(field) != now[field]:
            raise CheckpointError(
                f"{path} was saved with {what} {saved.get(field)}, this fit has {now[field]}; "
                + _RESUME_HINT.format(what=what)
            )
