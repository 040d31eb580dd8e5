"""The JAX core behind ``fnnet.interop.sklearn``: scikit-learn's MLP objective, initialisation and epochs.

Matches ``sklearn.neural_network`` where it matters for results: Glorot-uniform initialisation of
weights *and* biases drawn from the estimator's ``random_state`` in scikit-learn's order (bound
``sqrt(6 / (fan_in + fan_out))``, 2 instead of 6 for ``logistic``), the per-batch objective
``sum_i w_i loss_i / sum_i w_i + alpha / 2 * sum(||W||^2) / sum_i w_i`` (``w`` the sample weights, all
ones without them), minibatches that include the last partial batch, and scikit-learn's SGD and Adam
update rules (``_mlp_optim``). Training runs in float32; one jitted dispatch per epoch (a ``lax.scan``
over the full batches, then the remainder); the step size is an argument, so schedules never recompile.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import ArrayLike

from fnnet.interop import _mlp_optim
from fnnet.training.epochs import split_batches

LayerParams = list[tuple[jax.Array, jax.Array]]  # [(W [fan_in, fan_out], b [fan_out]), ...]
OptimizerConfig = tuple[str, float, bool, tuple[float, float, float]]  # solver, momentum, nesterov, betas
EpochFn = Callable[..., tuple[LayerParams, optax.OptState, jax.Array]]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda z: z,
    "logistic": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
}

NUMPY_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "exp": np.exp,  # the Poisson regressor's output
}


def init_params(
    rng: np.random.RandomState, sizes: tuple[int, ...], activation: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W [fan_in, fan_out], b [fan_out]), ...]`` in float64, drawn as scikit-learn's ``_init_coef``.

    Args:
        rng: the estimator's random state; consumed exactly as scikit-learn consumes it (each layer's
            weights, then its biases), so the same ``random_state`` gives the same initial weights.
        sizes: ``(n_features, *hidden_layer_sizes, n_outputs)``.
        activation: the hidden activation (``logistic`` uses the smaller bound).
    """
    factor = 2.0 if activation == "logistic" else 6.0
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = math.sqrt(factor / (fan_in + fan_out))
        w = rng.uniform(-bound, bound, (fan_in, fan_out))
        params.append((w, rng.uniform(-bound, bound, fan_out)))
    return params


def forward_logits(params: LayerParams, x: jax.Array, activation: str) -> jax.Array:
    """The network's output before the output activation: ``[N, n_outputs]``."""
    act = ACTIVATIONS[activation]
    for i, (w, b) in enumerate(params):
        x = x @ w + b[None, :]
        if i < len(params) - 1:
            x = act(x)
    return x


def forward_numpy(
    coefs: Sequence[np.ndarray],
    intercepts: Sequence[np.ndarray],
    x: ArrayLike,
    activation: str,
    out_activation: str,
) -> np.ndarray:
    """The fitted network in float64 NumPy (row by row independent, like scikit-learn's)."""
    act = NUMPY_ACTIVATIONS[activation]
    h = np.asarray(x, np.float64)
    for i, (w, b) in enumerate(zip(coefs, intercepts, strict=True)):
        h = h @ w + b
        if i < len(coefs) - 1:
            h = act(h)
    if out_activation == "softmax":
        h = np.exp(h - h.max(axis=1, keepdims=True))
        return h / h.sum(axis=1, keepdims=True)
    return NUMPY_ACTIVATIONS[out_activation](h)


def _per_sample_loss(z: jax.Array, y: jax.Array, loss: str) -> jax.Array:
    """Each row's loss ``[N]`` summed over outputs, from the logits ``z [N, K]`` (canonical links)."""
    if loss == "squared_error":
        return 0.5 * jnp.sum((z - y) ** 2, axis=1)
    if loss == "poisson":  # exp output; y log(y / p) - y + p with 0 log 0 = 0
        y_log_y = jnp.where(y > 0, y * jnp.log(jnp.where(y > 0, y, 1.0)), 0.0)
        return jnp.sum(y_log_y - y * z - y + jnp.exp(z), axis=1)
    if loss == "log_loss":  # softmax over classes, y one-hot
        return -jnp.sum(y * jax.nn.log_softmax(z, axis=1), axis=1)
    # binary_log_loss: logistic outputs, y in {0, 1}
    return jnp.sum(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))), axis=1)


def objective(
    params: LayerParams,
    x: jax.Array,
    y: jax.Array,
    w: jax.Array,
    *,
    activation: str,
    loss: str,
    alpha: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """scikit-learn's batch objective and its reported loss: ``(trained, reported)``.

    Trained: ``sum_i w_i l_i / sum(w) + alpha / 2 * sum(W^2) / sum(w)`` with ``l_i`` summed over
    outputs, whose gradient is scikit-learn's backprop. Reported (``loss_``): the same, but scikit-learn's
    squared error averages over the ``K`` outputs instead of summing.
    """
    sw = jnp.sum(w)
    data = jnp.sum(w * _per_sample_loss(forward_logits(params, x, activation), y, loss)) / sw
    penalty = 0.5 * alpha * sum(jnp.sum(k * k) for k, _ in params) / sw
    reported = data / y.shape[1] if loss == "squared_error" else data
    return data + penalty, reported + penalty


def make_optimizer(
    solver: str, momentum: float, nesterov: bool, betas: tuple[float, float, float]
) -> optax.GradientTransformationExtraArgs:
    """scikit-learn's ``SGDOptimizer`` or ``AdamOptimizer`` update rule (the step size comes per call)."""
    if solver == "adam":
        return _mlp_optim.adam(*betas)
    return _mlp_optim.sgd(momentum, nesterov)


@functools.lru_cache(maxsize=32)
def epoch_fn(
    activation: str, loss: str, alpha: float, batch_size: int, optimizer_config: OptimizerConfig
) -> tuple[EpochFn, optax.GradientTransformationExtraArgs]:
    """A jitted ``epoch(params, opt_state, x, y, w, perm, lr) -> (params, opt_state, mean_loss)``.

    ``mean_loss`` is scikit-learn's: each batch's reported loss times its number of rows, over ``N``.
    """
    optimizer = make_optimizer(*optimizer_config)
    value_and_grad = jax.value_and_grad(
        functools.partial(objective, activation=activation, loss=loss, alpha=alpha), has_aux=True
    )

    def step(carry, rows, x, y, w, lr):
        params, opt_state = carry
        (_, reported), grads = value_and_grad(params, x[rows], y[rows], w[rows])
        updates, opt_state = optimizer.update(grads, opt_state, params, learning_rate=lr)
        params = jax.tree.map(jnp.add, params, updates)
        return (params, opt_state), reported * rows.shape[0]

    def epoch(params, opt_state, x, y, w, perm, lr):
        # fnnet's batching rule, but scikit-learn's epochs also train on the last partial batch
        batches, rest = split_batches(perm, batch_size)  # [S, B], [N % B]
        carry, total = (params, opt_state), jnp.zeros((), jnp.float32)
        if batches.shape[0]:
            carry, sums = jax.lax.scan(lambda c, r: step(c, r, x, y, w, lr), carry, batches)
            total = total + jnp.sum(sums)
        if rest.shape[0]:
            carry, last = step(carry, rest, x, y, w, lr)
            total = total + last
        return carry[0], carry[1], total / perm.shape[0]

    return jax.jit(epoch), optimizer
