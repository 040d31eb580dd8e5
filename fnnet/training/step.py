"""The functional training step: ``step(state, batch) -> (state, logs)`` on a ``TrainState``.

One builder, ``step_from_grad(optimizer, grad_fn)``, makes every step fnnet trains with. Its one point
of variation is ``grad_fn``, the gradient computation::

    grad_fn(params, model_state, batch, key) -> (loss, grads, model_state, logs)

``supervised_grad(model, loss, metrics)`` is the ordinary one (``jax.value_and_grad`` of the loss of
the model's outputs); DP-SGD (``fnnet.training.privacy.dp_grad``) clips and noises per-example
gradients, and the RBM (``fnnet.unsupervised.rbm.cd_grad``) supplies the CD-k estimate. Data flow of
one step: the step's key is ``fold_in(state.key, state.step)``; ``grad_fn`` gives the loss and the
gradient; the optax optimizer turns the gradient into an update; the update is applied only if the
loss is finite, so a NaN never reaches the parameters or the optimizer's moments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from fnnet.core import Layer, Params, State
from fnnet.training.state import TrainState

Array = jax.Array
Loss = Callable[[Array, Array], Array]
Metrics = Mapping[str, Callable[[Array, Array], Array]]
GradFn = Callable[[Any, Any, Any, Array], tuple[Array, Any, Any, dict]]

__all__ = [
    "GradFn",
    "guarded_update",
    "make_step_fn",
    "make_train_step",
    "step_from_grad",
    "supervised_grad",
]


def supervised_grad(model: Layer, loss: Loss, metrics: Metrics | None = None) -> GradFn:
    """The gradient of ``loss(model(x), y)`` for batches ``(x, y)``, as a ``grad_fn``.

    Args:
        model: the model, applied in training mode with the step's key.
        loss: ``loss(outputs, targets) -> scalar``.
        metrics: extra ``name -> fn(outputs, targets)`` computed on the training batch.

    Returns:
        ``grad_fn(params, model_state, batch, key) -> (loss, grads, model_state, logs)``.
    """
    metrics = dict(metrics or {})

    def grad_fn(
        params: Params, model_state: State, batch: tuple[Array, Array], key: Array
    ) -> tuple[Array, Params, State, dict[str, Array]]:
        x, y = batch

        def objective(p: Params) -> tuple[Array, tuple[Array, State]]:
            out, new_state = model.apply_with_state(p, model_state, x, key=key, training=True)
            return loss(out, y), (out, new_state)

        (value, (out, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        return value, grads, new_state, {name: fn(out, y) for name, fn in metrics.items()}

    return grad_fn


def guarded_update(
    optimizer: optax.GradientTransformation, grads: Params, state: TrainState, finite: Array
) -> tuple[Params, Any, Params]:  # (params, opt_state, updates)
    """Apply ``optimizer`` to ``state.params`` only where the loss was ``finite``.

    On a non-finite loss the optimizer sees a zero gradient (so its moments stay finite) and the
    parameter update is zeroed. Gating the update rather than selecting between whole old and new
    states lets XLA update parameters and optimizer state in place inside loops (selecting whole
    states made XLA copy the optimizer state on every step of a scanned epoch).

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


def step_from_grad(
    optimizer: optax.GradientTransformation, grad_fn: GradFn, track_update_norm: bool = False
) -> Callable:
    """The un-jitted step ``step(state, batch) -> (state, logs)`` around one gradient computation.

    If the loss is not finite, the parameters and model state are left unchanged, the optimizer is
    given a zero gradient and ``state.step`` does not advance; ``logs["finite"]`` reports it.

    Args:
        optimizer: any optax GradientTransformation.
        grad_fn: ``grad_fn(params, model_state, batch, key) -> (loss, grads, model_state, logs)``;
            ``key`` is the step's ``fold_in(state.key, state.step)``.
        track_update_norm: also report ``update_norm``, the global L2 norm of the parameter update
            (what the course's stopping rule compares with its tolerance).

    Returns:
        The step function, for ``jax.jit`` or for use inside loops and scans. Its logs are
        ``loss``, ``finite``, ``update_norm`` (if tracked) and the ``grad_fn``'s own logs.
    """

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, Array]]:
        step_key = jax.random.fold_in(state.key, state.step)  # dead code, so free, without randomness
        value, grads, model_state, extra = grad_fn(state.params, state.model_state, batch, step_key)
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
        return new_state, {**logs, **extra}

    return step


def make_step_fn(
    model: Layer,
    loss: Loss,
    optimizer: optax.GradientTransformation,
    metrics: Metrics | None = None,
    track_update_norm: bool = False,
) -> Callable:
    """The supervised step: ``step_from_grad(optimizer, supervised_grad(model, loss, metrics))``.

    Args:
        model: the model.
        loss: ``loss(outputs, targets) -> scalar``.
        optimizer: any optax GradientTransformation.
        metrics: extra ``name -> fn(outputs, targets)`` computed on the training batch.
        track_update_norm: also report ``update_norm`` (see ``step_from_grad``).

    Returns:
        The un-jitted ``step(state, (x, y)) -> (state, logs)``.
    """
    return step_from_grad(optimizer, supervised_grad(model, loss, metrics), track_update_norm)


def make_train_step(
    model: Layer,
    loss: Loss,
    optimizer: optax.GradientTransformation,
    metrics: Metrics | None = None,
    track_update_norm: bool = False,
    donate: bool = True,
) -> Callable:
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
