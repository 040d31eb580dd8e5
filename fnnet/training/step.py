"""The functional training step: a TrainState pytree and ``train_step(state, batch) -> (state, metrics)``.

Data flow of one step: the batch ``(x, y)`` goes through ``model.apply_with_state`` with the step's
key, ``fold_in(state.key, state.step)``; the loss and its gradient w.r.t. ``state.params`` come from
``jax.value_and_grad``; the optax optimizer turns the gradient into an update; the update is applied only
if the loss is finite, so a NaN never reaches the parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.core import Layer, Shape

Array = jax.Array
Loss = Callable[[Array, Array], Array]
Metrics = Mapping[str, Callable[[Array, Array], Array]]

__all__ = [
    "TrainState",
    "evaluate",
    "guarded_update",
    "init_train_state",
    "make_step_fn",
    "make_train_step",
    "predict",
]


class TrainState(NamedTuple):
    """Everything that changes during training, as one pytree.

    Attributes:
        params: the model's parameters (nested dict of arrays).
        opt_state: the optax optimizer's state.
        model_state: the model's mutable state (batch statistics); ``{}`` for most models.
        step: the number of steps taken, an int32 scalar.
        key: the training run's ``jax.random`` key; step ``n`` draws its randomness (dropout, noise)
            from ``fold_in(key, n)``, so a model without randomness spends nothing on keys.
    """

    params: Any
    opt_state: Any
    model_state: Any
    step: Array
    key: Array


def init_train_state(
    model: Layer, optimizer: optax.GradientTransformation, key: Array, in_shape: Shape, params=None
) -> TrainState:
    """Initialise parameters, optimizer state and model state for per-example inputs ``in_shape``.

    Args:
        model: the model.
        optimizer: any optax GradientTransformation.
        key: a ``jax.random`` key; split into the parameter key and the training key.
        in_shape: the per-example input shape (no batch axis).
        params: start from these parameters instead of fresh ones (e.g. pre-trained).

    Returns:
        A TrainState at step 0.
    """
    init_key, train_key = jax.random.split(key)
    if params is None:
        _, params = model.init(init_key, tuple(in_shape))
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        model_state=model.init_state(tuple(in_shape)),
        step=jnp.zeros((), jnp.int32),
        key=train_key,
    )


def guarded_update(optimizer: optax.GradientTransformation, grads, state: TrainState, finite):
    """Apply ``optimizer`` to ``state.params`` only where the loss was ``finite``.

    On a non-finite loss the optimizer sees a zero gradient (so its moments stay finite) and the
    parameter update is zeroed. Gating the update rather than selecting between whole old and new
    states lets XLA update parameters and optimizer state in place inside loops.

    Args:
        optimizer: any optax GradientTransformation.
        grads: the gradient, a pytree like ``state.params``.
        state: the current TrainState.
        finite: a boolean scalar, whether the loss was finite.

    Returns:
        ``(params, opt_state, updates)``.
    """
    grads = jax.tree.map(lambda g: jnp.where(finite, g, jnp.zeros_like(g)), grads)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    updates = jax.tree.map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), updates)
    return optax.apply_updates(state.params, updates), opt_state, updates


def make_step_fn(
    model: Layer,
    loss: Loss,
    optimizer: optax.GradientTransformation,
    metrics: Metrics | None = None,
    track_update_norm: bool = False,
):
    """The un-jitted step ``step(state, batch) -> (state, metrics)`` (for use inside loops and scans).

    If the loss is not finite, the parameters and model state are left unchanged and the optimizer is
    given a zero gradient (so its moments stay finite); ``metrics["finite"]`` reports it. Gating the
    update rather than selecting between whole old and new states keeps XLA from copying the optimizer
    state on every step of a scanned epoch (see benchmarks/profile_fused.py).

    Args:
        model: the model.
        loss: ``loss(outputs, targets) -> scalar``.
        optimizer: any optax GradientTransformation.
        metrics: extra ``name -> fn(outputs, targets)`` computed on the training batch.
        track_update_norm: also report ``update_norm``, the global L2 norm of the parameter update
            (what the course's stopping rule compares with its tolerance).

    Returns:
        The step function.
    """
    metrics = dict(metrics or {})

    def step(state: TrainState, batch):
        x, y = batch
        step_key = jax.random.fold_in(state.key, state.step)  # dead code, so free, without randomness

        def objective(params):
            out, model_state = model.apply_with_state(
                params, state.model_state, x, key=step_key, training=True
            )
            return loss(out, y), (out, model_state)

        (value, (out, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        finite = jnp.isfinite(value)
        params, opt_state, updates = guarded_update(optimizer, grads, state, finite)
        new_state = TrainState(
            params=params,
            opt_state=opt_state,
            model_state=jax.tree.map(lambda n, o: jnp.where(finite, n, o), model_state, state.model_state),
            step=state.step + finite.astype(jnp.int32),
            key=state.key,
        )
        logs = {"loss": value, "finite": finite}
        if track_update_norm:
            logs["update_norm"] = optax.tree.norm(updates)
        logs.update({name: fn(out, y) for name, fn in metrics.items()})
        return new_state, logs

    return step


def make_train_step(
    model: Layer,
    loss: Loss,
    optimizer: optax.GradientTransformation,
    metrics: Metrics | None = None,
    track_update_norm: bool = False,
    donate: bool = True,
):
    """A jitted ``train_step(state, batch) -> (state, metrics)`` for ``batch = (x, y)``.

    The step compiles once per input shape; the incoming state's buffers are donated (so do not use a
    state after passing it in). A non-finite loss leaves the parameters unchanged and reports
    ``metrics["finite"] = False``.

    Args:
        model: the model.
        loss: ``loss(outputs, targets) -> scalar``.
        optimizer: any optax GradientTransformation.
        metrics: extra ``name -> fn(outputs, targets)`` computed on the training batch.
        track_update_norm: also report the update's global norm as ``metrics["update_norm"]``.
        donate: donate the state's buffers to the step (saves a copy of the parameters per step).

    Returns:
        The jitted step function.
    """
    step = make_step_fn(model, loss, optimizer, metrics, track_update_norm)
    return jax.jit(step, donate_argnums=0 if donate else ())


@functools.lru_cache(maxsize=64)
def _eval_batch_fn(model: Layer, loss: Loss | None, metric_items: tuple):
    def run(params, model_state, x, y):
        out, _ = model.apply_with_state(params, model_state, x, training=False)
        logs = {} if loss is None else {"loss": loss(out, y)}
        logs.update({name: fn(out, y) for name, fn in metric_items})
        return logs

    return jax.jit(run)


def evaluate(
    model: Layer,
    params,
    x,
    y,
    *,
    loss: Loss | None = None,
    metrics: Metrics | None = None,
    model_state=None,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``(x, y)`` in evaluation mode, averaged over examples.

    Args:
        model: the model.
        params: its parameters.
        x: inputs ``[N, ...]``.
        y: targets ``[N, ...]``.
        loss: ``loss(outputs, targets)``, reported as ``"loss"`` (optional).
        metrics: ``name -> fn(outputs, targets)``, each a per-batch mean.
        model_state: the model's state (running statistics), if it has any.
        batch_size: examples per evaluation batch (memory, not results).

    Returns:
        ``{name: float}``, each weighted by batch sizes so the result is the mean over all N examples.
    """
    run = _eval_batch_fn(model, loss, tuple(sorted((metrics or {}).items())))
    model_state = {} if model_state is None else model_state
    n = len(x)
    totals: dict[str, float] = {}
    for start in range(0, n, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logs = run(params, model_state, jnp.asarray(xb), jnp.asarray(yb))
        for name, value in logs.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(xb)
    return {name: total / n for name, total in totals.items()}


@functools.lru_cache(maxsize=64)
def _predict_fn(model: Layer):
    return jax.jit(lambda params, state, x: model.apply_with_state(params, state, x)[0])


def predict(model: Layer, params, x, *, model_state=None, batch_size: int = 1024) -> Array:
    """The model's outputs on ``x`` in evaluation mode, computed in batches.

    Args:
        model: the model.
        params: its parameters.
        x: inputs ``[N, ...]``.
        model_state: the model's state, if it has any.
        batch_size: examples per batch.

    Returns:
        The outputs ``[N, ...]``.
    """
    run = _predict_fn(model)
    model_state = {} if model_state is None else model_state
    parts = [
        run(params, model_state, jnp.asarray(x[i : i + batch_size])) for i in range(0, len(x), batch_size)
    ]
    return jnp.concatenate(parts, axis=0)
