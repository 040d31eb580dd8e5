"""Per-example gradients and differentially private SGD (Abadi et al. 2016).

``per_example_gradients`` is ``jax.vmap`` of ``jax.grad`` over the batch axis: one gradient per
example, each with the parameters' tree structure and a leading ``[B]`` axis. DP-SGD clips each
example's gradient to global L2 norm ``l2_norm_clip``, sums them, adds Gaussian noise of standard
deviation ``noise_multiplier * l2_norm_clip`` and divides by the batch size:

    g = (sum_i g_i * min(1, C / ||g_i||) + N(0, (sigma C)^2 I)) / B

``dp_grad`` is that gradient as a ``grad_fn`` of ``fnnet.training.step_from_grad`` (the one step
builder), so the noisy gradient feeds any optax optimizer; ``make_dp_step_fn`` is that step.
``rdp_epsilon`` bounds the privacy loss with the Renyi-DP accountant of the sampled Gaussian
mechanism (Mironov et al. 2019; integer orders, Poisson sampling assumed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.core import Layer, Params, State
from fnnet.training.step import GradFn, step_from_grad

__all__ = [
    "clip_per_example",
    "dp_grad",
    "make_dp_step_fn",
    "per_example_gradients",
    "privatize",
    "rdp_epsilon",
]


def per_example_gradients(
    model: Layer,
    loss: Callable,
    params: Params,
    x: jax.Array,
    y: jax.Array,
    *,
    model_state: State | None = None,
) -> tuple[jax.Array, Params]:
    """The gradient of ``loss`` on each example separately (``vmap`` of ``grad``).

    Args:
        model: the model (stateless, or its state is used read-only in evaluation mode).
        loss: ``loss(outputs, targets) -> scalar``; called on a batch of one example.
        params: the parameters.
        x: inputs ``[B, ...]``.
        y: targets ``[B, ...]``.
        model_state: the model's state, if it has any.

    Returns:
        ``(losses [B], grads)``: ``grads`` has the structure of ``params`` with a leading ``[B]``.
    """
    state = {} if model_state is None else model_state

    def one(p: Params, xi: jax.Array, yi: jax.Array) -> jax.Array:
        out, _ = model.apply_with_state(p, state, xi[None], training=False)  # [1, ...]
        return loss(out, yi[None])

    return jax.vmap(jax.value_and_grad(one), in_axes=(None, 0, 0))(params, x, y)


def clip_per_example(grads: Any, l2_norm_clip: float) -> tuple[Any, jax.Array]:
    """Scale each example's gradient to global L2 norm at most ``l2_norm_clip``.

    Args:
        grads: a pytree whose leaves have a leading batch axis ``[B, ...]``.
        l2_norm_clip: the bound ``C``.

    Returns:
        ``(clipped, norms [B])``: the clipped gradients and each example's norm before clipping.
    """
    leaves = jax.tree.leaves(grads)
    squares = sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in leaves)  # [B]
    norms = jnp.sqrt(squares)
    scale = l2_norm_clip / jnp.maximum(norms, l2_norm_clip)  # min(1, C / norm), [B]

    def apply(g: jax.Array) -> jax.Array:
        return g * scale.reshape((-1,) + (1,) * (g.ndim - 1))

    return jax.tree.map(apply, grads), norms


def privatize(grads: Any, key: jax.Array, l2_norm_clip: float, noise_multiplier: float) -> Any:
    """DP-SGD's gradient: clipped per-example gradients summed, noised and divided by ``B``.

    Args:
        grads: per-example gradients, leaves ``[B, ...]``.
        key: a ``jax.random`` key for the noise.
        l2_norm_clip: the clipping bound ``C``.
        noise_multiplier: ``sigma``; the noise's standard deviation is ``sigma * C``.

    Returns:
        A pytree shaped like one example's gradient.
    """
    clipped, _ = clip_per_example(grads, l2_norm_clip)
    leaves, treedef = jax.tree.flatten(clipped)
    keys = jax.random.split(key, len(leaves))
    batch = leaves[0].shape[0]
    noisy = [
        (jnp.sum(g, axis=0) + noise_multiplier * l2_norm_clip * jax.random.normal(k, g.shape[1:])) / batch
        for g, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree.unflatten(treedef, noisy)


def dp_grad(model: Layer, loss: Callable, *, l2_norm_clip: float, noise_multiplier: float) -> GradFn:
    """DP-SGD's gradient as a ``grad_fn`` for ``fnnet.training.step_from_grad``.

    The result equals ``privatize`` of the per-example gradients with the step's key as the noise
    key, but only the per-example *norms* come from the materialised gradients: the clipped sum is
    the gradient of ``sum_i scale_i * loss_i``, one batched backward pass.

    Args:
        model: a model without state (it is applied in evaluation mode).
        loss: ``loss(outputs, targets) -> scalar``.
        l2_norm_clip: the per-example clipping bound ``C``.
        noise_multiplier: ``sigma``.

    Returns:
        ``grad_fn(params, model_state, (x, y), key) -> (mean loss, noisy gradient, model_state,
        {"clip_fraction": share of examples whose gradient was clipped})``.
    """

    def per_example_losses(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        out = model.apply(params, x)  # [B, ...], one batched forward pass
        return jax.vmap(lambda o, t: loss(o[None], t[None]))(out, y)  # [B]

    def grad_fn(
        params: Params, model_state: State, batch: tuple[jax.Array, jax.Array], key: jax.Array
    ) -> tuple[jax.Array, Params, State, dict[str, jax.Array]]:
        x, y = batch
        _, grads = per_example_gradients(model, loss, params, x, y)
        _, norms = clip_per_example(grads, l2_norm_clip)  # only the norms are kept
        scale = jax.lax.stop_gradient(l2_norm_clip / jnp.maximum(norms, l2_norm_clip))  # [B]

        def weighted(p: Params) -> tuple[jax.Array, jax.Array]:
            losses = per_example_losses(p, x, y)
            return jnp.sum(scale * losses), losses

        (_, losses), clipped_sum = jax.value_and_grad(weighted, has_aux=True)(params)
        leaves, treedef = jax.tree.flatten(clipped_sum)
        keys = jax.random.split(key, len(leaves))
        std = noise_multiplier * l2_norm_clip
        noisy = [
            (g + std * jax.random.normal(k, g.shape)) / x.shape[0] for g, k in zip(leaves, keys, strict=True)
        ]
        clip_fraction = jnp.mean((norms > l2_norm_clip).astype(jnp.float32))
        return (
            jnp.mean(losses),
            jax.tree.unflatten(treedef, noisy),
            model_state,
            {"clip_fraction": clip_fraction},
        )

    return grad_fn


def make_dp_step_fn(
    model: Layer,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    *,
    l2_norm_clip: float,
    noise_multiplier: float,
) -> Callable:
    """A DP-SGD step ``step(state, batch) -> (state, logs)``: ``step_from_grad`` with ``dp_grad``.

    The noise key is the step's ``fold_in(state.key, state.step)``. ``logs`` has the batch's mean
    ``loss``, ``finite`` and ``clip_fraction``. Jit it yourself (``jax.jit(step)``).

    Args:
        model: a model without state.
        loss: ``loss(outputs, targets) -> scalar``.
        optimizer: any optax optimizer (DP-SGD proper is ``optax.sgd``).
        l2_norm_clip: the per-example clipping bound ``C``.
        noise_multiplier: ``sigma``.

    Returns:
        The step function.
    """
    grad_fn = dp_grad(model, loss, l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier)
    return step_from_grad(optimizer, grad_fn)


def _log_a_integer(q: float, sigma: float, alpha: int) -> float:
    """log A_alpha of the sampled Gaussian mechanism for an integer order (Mironov et al. 2019)."""
    terms = [
        math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)
        + (k * math.log(q) if k else 0.0)
        + ((alpha - k) * math.log1p(-q) if alpha - k and q < 1 else 0.0)
        + (k * k - k) / (2 * sigma**2)
        for k in range(alpha + 1)
        if not (q == 1 and alpha - k)
    ]  # fmt: skip
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def rdp_epsilon(
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float,
    orders: Iterable[int] = range(2, 257),
) -> float:
    """An upper bound on epsilon of ``steps`` DP-SGD steps, by Renyi-DP composition.

    Args:
        noise_multiplier: ``sigma``.
        sample_rate: ``q``, the chance of each example being in a batch (batch size / N).
        steps: the number of noisy steps.
        delta: the target delta.
        orders: the integer Renyi orders to minimise over.

    Returns:
        ``min over alpha of steps * rdp(alpha) + log(1 / delta) / (alpha - 1)``.
    """
    if not 0 < sample_rate <= 1 or noise_multiplier <= 0:
        raise ValueError(
            f"rdp_epsilon: need 0 < sample_rate <= 1 and noise_multiplier > 0, got "
            f"{sample_rate} and {noise_multiplier}"
        )
    best = np.inf
    for alpha in orders:
        rdp = steps * _log_a_integer(sample_rate, noise_multiplier, int(alpha)) / (alpha - 1)
        best = min(best, rdp + math.log(1 / delta) / (alpha - 1))
    return float(best)
