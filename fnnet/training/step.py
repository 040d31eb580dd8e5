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

A ``grad_fn`` may also skip a step whose loss is finite: a boolean ``logs["skipped"]`` leaves the
parameters and the optimizer's state as they were (the step still counts, its batch consumed).
``supervised_grad`` does so under dynamic loss scaling (``fnnet.precision.Mixed`` with a
``DynamicLossScale``, float16): it scales the loss by the scale in the model state, unscales the
gradients, and on non-finite gradients skips the step and lowers the scale. Outputs in bfloat16 or
float16 are cast to float32 before the loss, so the loss and the metrics are never computed in half
precision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from fnnet import precision
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

    Half-precision outputs are cast to float32 before ``loss`` and ``metrics``. If ``model`` is a
    ``fnnet.precision.Mixed`` with a loss scale, the loss is scaled and the gradients unscaled; a step
    with non-finite gradients is skipped (``logs["skipped"]``) and the scale adjusted in the model
    state; ``logs["loss_scale"]`` is the scale the step used.

    Args:
        model: the model, applied in training mode with the step's key.
        loss: ``loss(outputs, targets) -> scalar``.
        metrics: extra ``name -> fn(outputs, targets)`` computed on the training batch.

    Returns:
        ``grad_fn(params, model_state, batch, key) -> (loss, grads, model_state, logs)``.
    """
    metrics = dict(metrics or {})
    scaled = precision.loss_scaling(model)  # the Mixed model whose loss is scaled, or None
    if scaled is not None and (taken := sorted({"skipped", "loss_scale"} & set(metrics))):
        raise ValueError(f"supervised_grad: metric name {taken[0]!r} is loss scaling's own log; rename it")

    def grad_fn(
        params: Params, model_state: State, batch: tuple[Array, Array], key: Array
    ) -> tuple[Array, Params, State, dict[str, Array]]:
        x, y = batch
        scale = None if scaled is None else scaled.split_state(model_state)[1]
        factor = jnp.float32(1) if scale is None else scale["scale"]

        def objective(p: Params) -> tuple[Array, tuple[Array, Array, State]]:
            out, new_state = model.apply_with_state(p, model_state, x, key=key, training=True)
            out = precision.full_precision(out)
            value = loss(out, y)
            return (value if scale is None else value * factor), (value, out, new_state)

        (_, (value, out, new_state)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        logs = {name: fn(out, y) for name, fn in metrics.items()}
        if scaled is None or scale is None:
            return value, grads, new_state, logs
        grads = jax.tree.map(lambda g: g / factor.astype(g.dtype), grads)
        grads_finite = precision.all_finite(grads)
        new_state = scaled.end_step(model_state, new_state, grads_finite)
        return value, grads, new_state, {**logs, "skipped": ~grads_finite, "loss_scale": factor}

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
    given a zero gradient and ``state.step`` does not advance; ``logs["finite"]`` reports it. If the
    ``grad_fn``'s logs hold ``skipped`` (loss scaling's overflow), a skipped step leaves the parameters
    and the optimizer's state exactly as they were, keeps the ``grad_fn``'s model state and advances
    ``state.step``; its ``update_norm`` is reported as inf (no update was made, so ``tol`` cannot fire).

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
        skipped = extra.get("skipped")
        applied = finite if skipped is None else finite & ~skipped
        params, opt_state, updates = guarded_update(optimizer, grads, state, applied)
        if skipped is not None:  # a skipped step leaves the optimizer's state as it was, bit for bit
            opt_state = jax.tree.map(lambda n, o: jnp.where(skipped, o, n), opt_state, state.opt_state)
        new_state = TrainState(
            params=params,
            opt_state=opt_state,
            model_state=jax.tree.map(lambda n, o: jnp.where(finite, n, o), model_state, state.model_state),
            step=state.step + finite.astype(jnp.int32),
            key=state.key,
        )
        logs = {"loss": value, "finite": finite}
        if track_update_norm:
            norm = optax.tree.norm(updates)
            logs["update_norm"] = norm if skipped is None else jnp.where(skipped, jnp.inf, norm)
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
