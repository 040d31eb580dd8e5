"""The JAX core behind ``fnnet.sklearn``: scikit-learn's MLP objective, initialisation and epochs.

Matches ``sklearn.neural_network`` where it matters for results: Glorot-uniform initialisation of
weights *and* biases (bound ``sqrt(6 / (fan_in + fan_out))``, 2 instead of 6 for ``logistic``), the
per-batch objective ``loss + alpha / 2 * sum(||W||^2) / batch_size``, minibatches that include the
last partial batch, and Adam or SGD with (Nesterov) momentum. Training runs in float32; one jitted
dispatch per epoch (a ``lax.scan`` over the full batches, then the remainder).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.training.epochs import split_batches

ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
}

NUMPY_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def init_params(seed: int, sizes: tuple[int, ...], activation: str):
    """``[(W [fan_in, fan_out], b [fan_out]), ...]`` drawn like scikit-learn's ``_init_coef``."""
    factor = 2.0 if activation == "logistic" else 6.0
    keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
    params = []
    for key, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        bound = math.sqrt(factor / (fan_in + fan_out))
        kw, kb = jax.random.split(key)
        w = jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound)
        b = jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound)
        params.append((w, b))
    return params


def forward_logits(params, x, activation: str):
    """The network's output before the output activation: ``[N, n_outputs]``."""
    act = ACTIVATIONS[activation]
    for i, (w, b) in enumerate(params):
        x = x @ w + b[None, :]
        if i < len(params) - 1:
            x = act(x)
    return x


def forward_numpy(coefs, intercepts, x, activation: str, out_activation: str) -> np.ndarray:
    """The fitted network in float64 NumPy (row by row independent, like scikit-learn's)."""
    act = NUMPY_ACTIVATIONS[activation]
    x = np.asarray(x, np.float64)
    for i, (w, b) in enumerate(zip(coefs, intercepts, strict=True)):
        x = x @ w + b
        if i < len(coefs) - 1:
            x = act(x)
    if out_activation == "softmax":
        x = np.exp(x - x.max(axis=1, keepdims=True))
        return x / x.sum(axis=1, keepdims=True)
    return NUMPY_ACTIVATIONS[out_activation](x)


def _data_loss(logits, y, loss: str):
    if loss == "squared_error":
        return 0.5 * jnp.mean((logits - y) ** 2)
    if loss == "log_loss":  # softmax over classes, y one-hot
        return -jnp.sum(y * jax.nn.log_softmax(logits, axis=1)) / y.shape[0]
    # binary_log_loss: logistic outputs, y in {0, 1}
    per = jnp.maximum(logits, 0) - logits * y + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    return jnp.sum(per) / y.shape[0]


def objective(params, x, y, *, activation: str, loss: str, alpha: float):
    """scikit-learn's minibatch objective: data loss plus ``alpha / 2 * sum(W^2) / batch``."""
    penalty = sum(jnp.sum(w * w) for w, _ in params)
    return _data_loss(forward_logits(params, x, activation), y, loss) + 0.5 * alpha * penalty / (x.shape[0])


def make_optimizer(solver: str, learning_rate: float, momentum: float, nesterov: bool, betas):
    """``optax.adam`` or ``optax.sgd`` with scikit-learn's meanings of the hyper-parameters."""
    if solver == "adam":
        beta_1, beta_2, epsilon = betas
        return optax.adam(learning_rate, b1=beta_1, b2=beta_2, eps=epsilon)
    return optax.sgd(learning_rate, momentum=momentum or None, nesterov=nesterov and momentum > 0)


@functools.lru_cache(maxsize=32)
def epoch_fn(activation, loss, alpha, batch_size, optimizer_config):
    """A jitted ``epoch(params, opt_state, x, y, perm) -> (params, opt_state, mean_loss)``."""
    optimizer = make_optimizer(*optimizer_config)
    grad = jax.value_and_grad(functools.partial(objective, activation=activation, loss=loss, alpha=alpha))

    def step(carry, rows, x, y):
        params, opt_state = carry
        value, grads = grad(params, x[rows], y[rows])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value * rows.shape[0]

    def epoch(params, opt_state, x, y, perm):
        # fnnet's batching rule, but scikit-learn's epochs also train on the last partial batch
        batches, rest = split_batches(perm, batch_size)  # [S, B], [N % B]
        carry, total = (params, opt_state), jnp.zeros((), jnp.float32)
        if batches.shape[0]:
            carry, sums = jax.lax.scan(lambda c, r: step(c, r, x, y), carry, batches)
            total = total + jnp.sum(sums)
        if rest.shape[0]:
            carry, last = step(carry, rest, x, y)
            total = total + last
        return carry[0], carry[1], total / perm.shape[0]

    return jax.jit(epoch), optimizer


def check_params(est) -> list[int]:
    """Validate an estimator's hyper-parameters; return ``hidden_layer_sizes`` as a list."""
    name = type(est).__name__
    sizes = est.hidden_layer_sizes
    sizes = [sizes] if np.isscalar(sizes) else list(sizes)
    if not all(int(s) == s and s > 0 for s in sizes):
        raise ValueError(f"{name}: hidden_layer_sizes must be positive ints, got {sizes}")
    if est.activation not in ACTIVATIONS:
        raise ValueError(f"{name}: activation must be one of {sorted(ACTIVATIONS)}, got {est.activation!r}")
    if est.solver not in ("sgd", "adam"):
        raise ValueError(f"{name}: solver must be 'sgd' or 'adam', got {est.solver!r}")
    checks = [
        ("alpha", est.alpha >= 0),
        ("learning_rate_init", est.learning_rate_init > 0),
        ("max_iter", est.max_iter >= 1),
        ("n_iter_no_change", est.n_iter_no_change >= 1),
        ("validation_fraction", 0 < est.validation_fraction < 1),
        ("momentum", 0 <= est.momentum <= 1),
        ("beta_1", 0 <= est.beta_1 < 1),
        ("beta_2", 0 <= est.beta_2 < 1),
        ("epsilon", est.epsilon > 0),
        ("batch_size", est.batch_size == "auto" or int(est.batch_size) >= 1),
    ]
    for param, ok in checks:
        if not ok:
            raise ValueError(f"{name}: invalid {param}={getattr(est, param)!r}")
    return [int(s) for s in sizes]
