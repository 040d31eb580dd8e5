"""``fit``: epochs of shuffled minibatches around the pure train step, with callbacks around the loop.

The step is the product (``fnnet.training.step``); ``fit`` only consumes it. It checks the data,
builds the step and the epoch plan (``fnnet.training.epochs``), then for every epoch runs the step
over the plan — one dispatch per step, or fused into one dispatch per epoch, with the same results;
or, for data streamed in batches (``fnnet.training.streams``), over the stream's batches —
records the history, evaluates the validation data and asks the stop rule and the callbacks whether
to go on. Saving and resuming, early stopping, progress bars and logs are callbacks
(``fnnet.training.callbacks``); ``tol``, ``max_steps`` and non-finite losses are the ``StopRule``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import ArrayLike

from fnnet.core import Layer
from fnnet.training import parallel
from fnnet.training.callbacks import Callback, CallbackList, Run
from fnnet.training.epochs import EpochPlan, fused_epoch, per_step_epoch
from fnnet.training.evaluation import evaluate, evaluate_batches
from fnnet.training.metric_logs import default_loggers
from fnnet.training.progress import ProgressBar, default_progress
from fnnet.training.state import TrainState, init_train_state, key_fingerprint
from fnnet.training.step import make_step_fn
from fnnet.training.stopping import LastFinite, NonFiniteLossError, StopRule
from fnnet.training.streams import Stream, first_epoch, stream_runner
from fnnet.training.validation import validate, validate_stream

__all__ = ["FitResult", "NonFiniteLossError", "StopRule", "fit"]


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        state: the final TrainState (the best one if EarlyStopping restored it). If the loss became
            non-finite, the last state whose own loss was finite: the one before the update that led
            to the non-finite loss (``fnnet.training.stopping.LastFinite``); ``stop_reason`` says so.
        history: ``{metric: [value per epoch]}``: ``loss`` and training metrics (means over the
            epoch's steps), ``val_*`` on the validation data, ``seconds`` and ``epoch``.
        stop_reason: why training ended, in words.
        steps: the number of optimizer steps taken (``state.step`` is smaller when an earlier state
            is returned).
    """

    state: TrainState
    history: dict[str, list[float]]
    stop_reason: str
    steps: int


def fit(
    model: Layer,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    x: ArrayLike | Iterable[tuple[ArrayLike, ArrayLike]],
    y: ArrayLike | None = None,
    *,
    key: jax.Array,
    epochs: int = 1,
    batch_size: int | None = None,
    metrics: dict[str, Callable] | None = None,
    validation_data: tuple | None = None,
    stop: StopRule | None = None,
    callbacks: Sequence[Callback] = (),
    fused: bool = False,
    data_parallel: bool = False,
    state: TrainState | None = None,
) -> FitResult:
    """Train ``model`` on ``(x, y)`` with ``optimizer`` and return the final state and history.

    Args:
        model: the model; its per-example input shape is ``x.shape[1:]``.
        loss: ``loss(outputs, targets) -> scalar``, e.g. ``fnnet.losses.softmax_cross_entropy``.
        optimizer: any optax GradientTransformation (schedules go inside it, e.g.
            ``optax.sgd(optax.exponential_decay(0.1, 100, 0.9))``).
        x: inputs ``[N, ...]`` (any float dtype, bfloat16 and float16 included); or, with ``y``
            left out, a stream: an iterable of ``(x [B, ...], y [B, ...])`` batches (a list, a
            generator, a grain DataLoader), trained on in its own order; ``fnnet.training.streams``
            says how its epochs, checks and resumes work.
        y: targets ``[N, ...]``; None when ``x`` is a stream.
        key: a ``jax.random`` key: parameters, shuffling and dropout all derive from it.
        epochs: passes over the data.
        batch_size: examples per step (default 32); the last partial batch of each epoch is
            dropped. A stream's batches set it: leave it out, or give theirs.
        metrics: ``name -> fn(outputs, targets)`` reported for training and validation.
        validation_data: ``(x_val, y_val)`` or a stream of ``(x, y)`` batches, checked before
            training, evaluated after every epoch as ``val_*``.
        stop: a ``StopRule`` (``tol``, ``max_steps``, what a non-finite loss does); default
            ``StopRule()``, which stops and warns on a non-finite loss.
        callbacks: ``Callback`` objects: ``EarlyStopping``, ``Checkpoint``, ``ProgressBar``,
            ``CSVLogger``, ``TensorBoardLogger`` (``fnnet.training.metric_logs``) or your own. A
            ProgressBar is added when ``fnnet.training.progress.progress_enabled()`` is on and none
            is given, and metric logs inside ``fnnet.training.metric_logs.logging_to(folder)``.
        fused: run each epoch as one jitted ``lax.while_loop`` dispatch over device-resident data
            (faster for small dense and recurrent models; same results as the per-step loop); needs
            arrays, not a stream.
        data_parallel: shard each batch over all devices (a 1-D ``jax.sharding`` mesh, the state
            replicated); ``batch_size`` must be divisible by ``jax.device_count()``; needs arrays.
        state: start from this TrainState instead of initialising a fresh one.

    Returns:
        A FitResult.
    """
    stop = StopRule() if stop is None else stop
    params = None if state is None else state.params
    if y is None:  # x streams (x, y) batches: fnnet.training.streams
        stream, val = validate_stream(model, loss, optimizer, key, x, batch_size, params, validation_data,
                                      epochs, fused=fused, data_parallel=data_parallel)  # fmt: skip
        in_shape, batch_size, arrays = stream.example_shape, stream.batch_size, None
    else:
        batch_size = 32 if batch_size is None else batch_size
        xs, ys, val = validate(model, loss, optimizer, key, x, y, batch_size, params, validation_data, epochs)
        in_shape, arrays = xs.shape[1:], (xs, ys)
    init_key, shuffle_key = jax.random.split(key)
    plan = None if arrays is None else EpochPlan(len(arrays[0]), batch_size, shuffle_key)
    steps_per_epoch = stream.length if plan is None else plan.steps_per_epoch
    if state is None:
        state = init_train_state(model, optimizer, init_key, in_shape)
    hooks = CallbackList(_with_defaults(callbacks, sized=steps_per_epoch is not None))
    num_examples = None if plan is None else plan.num_examples
    run = Run(model, epochs, steps_per_epoch, batch_size, state, fused=fused, num_examples=num_examples,
              key_id=key_fingerprint(key))  # fmt: skip
    hooks.begin(run)  # a Checkpoint resumes here
    step = make_step_fn(model, loss, optimizer, metrics, track_update_norm=stop.tol is not None)
    if plan is None or arrays is None:
        run_epoch, replay = stream_runner(step, stream, stop.tol, run)
    else:
        run_epoch, replay = _epoch_runner(step, plan, stop.tol, arrays, run, fused, data_parallel)
    last_finite, reason = LastFinite(replay), f"completed {epochs} epochs"
    for epoch in range(first_epoch(run), epochs):
        started = time.perf_counter()
        first = run.step - epoch * (run.steps_per_epoch or 0)  # unknown only in a stream's first epoch
        last_finite.mark(epoch, first, run.step, run.state)
        logs = run_epoch(epoch, first, stop.limit(first, run.step, run.steps_per_epoch or sys.maxsize), hooks)
        why = stop.nonfinite(logs, run, epoch, first, last_finite)  # sets run.final_state
        _record(run.history, logs, epoch, started)
        if why:
            reason = why
            break
        if val is not None:
            for name, value in _evaluate(model, run.state, val, loss, metrics).items():
                run.history.setdefault(f"val_{name}", []).append(value)
        latest = {name: values[-1] for name, values in run.history.items()}
        why = hooks.epoch_end(run, epoch, latest)
        if why := stop.reached(logs, run.step) or why:
            reason = why
            break
    hooks.end(run)  # EarlyStopping may replace run.final_state with its best state
    final = run.state if run.final_state is None else run.final_state
    return FitResult(state=final, history=run.history, stop_reason=reason, steps=run.step)


def _with_defaults(callbacks: Sequence[Callback], sized: bool) -> list[Callback]:
    """The callbacks, plus the ProgressBar and metric logs switched on by a context (``fnnet run``).

    The default bar needs the number of steps in an epoch, which a stream without a length lacks.
    """
    callbacks = list(callbacks)
    if sized and not any(isinstance(c, ProgressBar) for c in callbacks) and (bar := default_progress()):
        callbacks.append(bar)
    return callbacks + default_loggers()


def _evaluate(
    model: Layer, state: TrainState, val: tuple | Stream, loss: Callable, metrics: dict | None
) -> dict:
    if isinstance(val, Stream):
        return evaluate_batches(model, state.params, val.batches(0), loss=loss, metrics=metrics,
                                model_state=state.model_state)  # fmt: skip
    return evaluate(model, state.params, *val, loss=loss, metrics=metrics, model_state=state.model_state)


def _epoch_runner(
    step: Callable,
    plan: EpochPlan,
    tol: float | None,
    arrays: tuple[np.ndarray, np.ndarray],
    run: Run,
    fused: bool,
    data_parallel: bool,
) -> tuple[Callable, Callable]:
    """``run_epoch(epoch, first, limit, hooks) -> logs``, one epoch of ``arrays = (x, y)`` advancing
    ``run`` step by step, and ``replay(state, epoch, first, limit) -> state``, the same steps from
    ``state`` without callbacks."""
    x, y = arrays
    place = put = lambda a: a  # noqa: E731
    if data_parallel:
        step, run.state, put, place = parallel.data_parallel(step, run.state, plan.batch_size)
    if fused:
        epoch_fn = fused_epoch(step, plan, tol)
        xd, yd = (put(x), put(y)) if data_parallel else (jnp.asarray(x), jnp.asarray(y))
    train_step = jax.jit(step, donate_argnums=0)

    def steps(state: TrainState, epoch: int, first: int, limit: int, after_step: Callable | None) -> tuple:
        if fused and first == 0:
            state, logs = epoch_fn(state, xd, yd, plan.epoch_key(epoch), limit)
            for i in range(len(logs["loss"])):  # handed over at the epoch's end
                if after_step is not None:
                    after_step(state, {name: values[i] for name, values in logs.items()})
            return state, logs
        batches = (place((x[r], y[r])) for r in plan.host_rows(epoch, first, limit))
        return per_step_epoch(train_step, state, batches, tol, after_step)

    def run_epoch(epoch: int, first: int, limit: int, hooks: Callback) -> dict:
        def after_step(state: TrainState, logs: dict) -> None:
            run.state, run.step = state, run.step + int(logs["finite"])
            hooks.step_end(run, logs)

        return steps(run.state, epoch, first, limit, after_step)[1]

    return run_epoch, lambda state, epoch, first, limit: steps(state, epoch, first, limit, None)[0]


def _record(history: dict, logs: dict, epoch: int, started: float) -> None:
    finite = np.asarray(logs.get("finite", ()), bool)
    for name, values in logs.items():
        kept = np.asarray(values)[finite] if name != "finite" else ()
        if len(kept):
            history.setdefault(name, []).append(float(np.mean(kept)))
    history.setdefault("seconds", []).append(time.perf_counter() - started)
    history.setdefault("epoch", []).append(epoch + 1)
