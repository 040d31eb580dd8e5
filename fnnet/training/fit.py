"""``fit``: epochs of shuffled minibatches around the functional train step.

Two ways to run an epoch, with identical results for the same key:

* per step (default): a Python loop that dispatches the jitted ``train_step`` once per minibatch;
* fused (``fused=True``): the data set lives on the device and the whole epoch is one
  ``jax.lax.while_loop`` dispatch, which removes the per-step dispatch cost that dominates small models.

Both shuffle with ``jax.random.permutation(fold_in(shuffle_key, epoch), N)`` and drop the last partial
batch (so every step has one shape and the step compiles once).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.core import Layer
from fnnet.training import fit_tools
from fnnet.training.epochs import fused_epoch, minibatch_rows, per_step_epoch
from fnnet.training.step import TrainState, evaluate, init_train_state, make_step_fn

__all__ = ["EarlyStopping", "FitResult", "NonFiniteLossError", "fit"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or inf. ``state`` holds the last state with a finite loss."""

    def __init__(self, message: str, state: TrainState):
        super().__init__(message)
        self.state = state


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a history key, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: ``"min"`` or ``"max"``.
        restore_best: return the state of the best epoch rather than the last.
    """

    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0
    mode: str = "min"
    restore_best: bool = True

    def improved(self, value: float, best: float) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``."""
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        state: the final TrainState (the best one if early stopping restored it).
        history: ``{metric: [value per epoch]}``: ``loss`` and training metrics (means over the
            epoch's steps), ``val_*`` on the validation data, ``seconds`` per epoch.
        stop_reason: why training ended, in words.
        steps: the number of optimizer steps taken.
    """

    state: TrainState
    history: dict[str, list[float]]
    stop_reason: str
    steps: int


def fit(
    model: Layer,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    x,
    y,
    *,
    key: jax.Array,
    epochs: int = 1,
    batch_size: int = 32,
    state: TrainState | None = None,
    validation_data: tuple | None = None,
    metrics: dict[str, Callable] | None = None,
    early_stopping: EarlyStopping | None = None,
    tol: float | None = None,
    max_steps: int | None = None,
    callbacks: Sequence[Callable] = (),
    fused: bool = False,
    on_nonfinite: str = "stop",
    checkpoint=None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    progress=None,
    data_parallel: bool = False,
) -> FitResult:
    """Train ``model`` on ``(x, y)`` with ``optimizer`` and return the final state and history.

    Args:
        model: the model; its per-example input shape is ``x.shape[1:]``.
        loss: ``loss(outputs, targets) -> scalar``, e.g. ``fnnet.losses.softmax_cross_entropy``.
        optimizer: any optax GradientTransformation (schedules go inside it, e.g.
            ``optax.sgd(optax.exponential_decay(0.1, 100, 0.9))``).
        x: inputs ``[N, ...]``.
        y: targets ``[N, ...]``.
        key: a ``jax.random`` key: parameters, shuffling and dropout all derive from it.
        epochs: passes over the data.
        batch_size: examples per step; the last partial batch of each epoch is dropped.
        state: resume from this TrainState instead of initialising a fresh one.
        validation_data: ``(x_val, y_val)`` evaluated after every epoch as ``val_*``.
        metrics: ``name -> fn(outputs, targets)`` reported for training and validation.
        early_stopping: an EarlyStopping rule.
        tol: the course's stopping rule: stop once an update's global norm (the step size) is below
            ``tol``.
        max_steps: stop after this many optimizer steps in total.
        callbacks: ``fn(epoch, state, logs)`` called after every epoch; returning True stops training.
        fused: run each epoch as one jitted ``lax.while_loop`` dispatch over device-resident data (faster for
            dense and recurrent models; convolutional models currently train slower fused on XLA:CPU).
        on_nonfinite: ``"stop"`` (warn and return the last finite state) or ``"raise"``
            (NonFiniteLossError) when the loss becomes NaN or inf.
        checkpoint: a folder or ``fnnet.training.checkpoint.CheckpointManager``: save the TrainState (and
            the history) there after every epoch, or every ``checkpoint_every`` steps, and at the end
            (the last state, before any early-stopping restore).
        checkpoint_every: save every this many steps (the fused loop saves at the end of the epoch
            in which a multiple is reached).
        resume: start from the newest checkpoint in ``checkpoint`` if there is one, mid-epoch if
            need be, with the same shuffling: a killed run resumed with the same ``key`` ends with
            exactly the parameters of an uninterrupted run. (Early-stopping counters restart.)
        progress: True for a tqdm bar with the live loss, a ``fnnet.training.progress.Progress``, or None
            to follow ``fnnet.training.progress.default_progress()`` (off unless the command line enabled it).
        data_parallel: shard each batch over all devices (a 1-D ``jax.sharding`` mesh, the state
            replicated); ``batch_size`` must be divisible by ``jax.device_count()``.

    Returns:
        A FitResult.
    """
    if on_nonfinite not in ("stop", "raise"):
        raise ValueError(f"fit: on_nonfinite must be 'stop' or 'raise', got {on_nonfinite!r}")
    x, y = np.asarray(x), np.asarray(y)
    in_shape = tuple(x.shape[1:])
    fit_tools.validate(model, loss, x, y, batch_size, in_shape, None if state is None else state.params)
    init_key, shuffle_key = jax.random.split(key)
    if state is None:
        state = init_train_state(model, optimizer, init_key, in_shape)
    steps_per_epoch = len(x) // batch_size
    step = make_step_fn(model, loss, optimizer, metrics, track_update_norm=tol is not None)
    saver = fit_tools.Saver(checkpoint, checkpoint_every, model)
    state, history, total = saver.resume(state, steps_per_epoch) if resume else (state, {}, 0)
    start_epoch, skip = divmod(total, steps_per_epoch)
    place = lambda batch: batch  # noqa: E731
    if data_parallel:
        step, state, put, place = fit_tools.data_parallel(step, state, batch_size)
    if fused:
        run_epoch = fused_epoch(step, batch_size, steps_per_epoch, tol)
        xd, yd = (put(x), put(y)) if data_parallel else (jnp.asarray(x), jnp.asarray(y))
    train_step = jax.jit(step, donate_argnums=0)
    progress = fit_tools.resolve_progress(progress)
    if progress is not None:
        progress.begin(epochs, steps_per_epoch, start_epoch)

    def after(total, state, step_logs, done):  # after each step of the per-step loop
        if progress is not None:
            progress.step(step_logs)
        saver.after_step(state, total + done, history)

    best, best_state, waited = math.inf, None, 0
    if early_stopping is not None and early_stopping.mode == "max":
        best = -math.inf
    stop_reason = f"completed {epochs} epochs"
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        epoch_key = jax.random.fold_in(shuffle_key, epoch)
        first = skip if epoch == start_epoch else 0  # steps of this epoch done before a resume
        limit = steps_per_epoch
        if max_steps is not None:
            limit = min(steps_per_epoch, first + max_steps - total)
        if fused and first == 0:
            state, logs, taken = run_epoch(state, xd, yd, epoch_key, limit)
            taken = int(taken)
            logs = {name: values[:taken] for name, values in jax.device_get(logs).items()}
        else:
            perm = np.asarray(jax.random.permutation(epoch_key, len(x)))
            rows = minibatch_rows(perm, batch_size, first, limit)
            batches = (place((x[r], y[r])) for r in rows)
            state, logs = per_step_epoch(train_step, state, batches, tol, functools.partial(after, total))
        finite = logs.pop("finite").astype(bool)
        taken = len(finite)
        if not finite.all():
            bad = int(np.argmin(finite))
            value = logs["loss"][bad]
            message = (
                f"fit: the loss became {value} at step {total + bad + 1} (epoch {epoch + 1}, "
                f"batch {bad + 1}); training stopped and the state is the last one with a finite loss"
            )
            if on_nonfinite == "raise":
                raise NonFiniteLossError(message, state)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            stop_reason = message
            logs = {name: values[:bad] for name, values in logs.items()}
            total += bad
            _record(history, logs, epoch, started)
            break
        total += taken
        _record(history, logs, epoch, started)
        if validation_data is not None:
            val = evaluate(
                model,
                state.params,
                *validation_data,
                loss=loss,
                metrics=metrics,
                model_state=state.model_state,
            )
            for name, value in val.items():
                history.setdefault(f"val_{name}", []).append(value)
        saver.after_epoch(state, total, history, taken)
        epoch_logs = {name: values[-1] for name, values in history.items()}
        if progress is not None:
            progress.epoch_end(epoch, epoch_logs)
        if tol is not None and "update_norm" in logs and logs["update_norm"][-1] < tol:
            stop_reason = f"converged: the update's size fell below tol={tol} at step {total}"
            break
        if max_steps is not None and total >= max_steps:
            stop_reason = f"reached max_steps={max_steps}"
            break
        if early_stopping is not None:
            monitored = epoch_logs.get(early_stopping.monitor)
            if monitored is None:
                raise KeyError(
                    f"EarlyStopping: no metric {early_stopping.monitor!r}; have {sorted(epoch_logs)}"
                )
            if early_stopping.improved(monitored, best):
                best, waited = monitored, 0
                if early_stopping.restore_best:
                    best_state = jax.tree.map(lambda a: a.copy(), state)
            else:
                waited += 1
                if waited >= early_stopping.patience:
                    stop_reason = (
                        f"early stopping: {early_stopping.monitor} did not improve for "
                        f"{early_stopping.patience} epochs (best {best:.6g})"
                    )
                    break
        if any([callback(epoch, state, epoch_logs) for callback in callbacks]):
            stop_reason = f"a callback stopped training after epoch {epoch + 1}"
            break
    saver.final(state, total, history)
    if best_state is not None:
        state = best_state
    if progress is not None:
        progress.end(history)
    return FitResult(state=state, history=history, stop_reason=stop_reason, steps=total)


def _record(history, logs, epoch, started):
    for name, values in logs.items():
        if len(values):
            history.setdefault(name, []).append(float(np.mean(values)))
    history.setdefault("seconds", []).append(time.perf_counter() - started)
    history.setdefault("epoch", []).append(epoch + 1)
