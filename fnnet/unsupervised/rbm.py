"""A restricted Boltzmann machine with binary units, trained by contrastive divergence (CD-k).

Energy ``E(v, h) = -v.b - h.c - v W h`` for ``v in {0,1}^V``, ``h in {0,1}^H``; ``p(v, h) = exp(-E) / Z``.
Summing out ``h`` gives the free energy ``F(v) = -v.b - sum_j softplus(c_j + (v W)_j)``, with
``p(v) = exp(-F(v)) / Z``, ``p(h_j = 1 | v) = sigmoid(c + v W)_j`` and
``p(v_i = 1 | h) = sigmoid(b + W h)_i``.

The gradient of the negative log-likelihood is ``E_data[dF/dθ] - E_model[dF/dθ]``. CD-k estimates the
model term with ``v_k``, the end of a k-step Gibbs chain started at the data, so the CD-k gradient is
the gradient of the surrogate ``mean F(v_0) - mean F(stop_gradient(v_k))`` (``cd_loss``), which any
optax optimiser can minimise. Every random draw takes an explicit ``key``.

Params: ``{"kernel": W [V, H], "visible_bias": b [V], "hidden_bias": c [H]}``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import ArrayLike

from fnnet import initializers
from fnnet.core import (
    Array,
    Layer,
    Params,
    Shape,
    ShapeError,
    State,
    add_trailing,
    check_input,
    check_params,
    format_shape,
)
from fnnet.training.epochs import make_epoch_fn
from fnnet.training.state import TrainState
from fnnet.training.step import GradFn, step_from_grad

__all__ = [
    "cd_grad",
    "RBM",
    "cd_gradient",
    "cd_loss",
    "fit_rbm",
    "free_energy",
    "gibbs_chain",
    "hidden_probabilities",
    "make_cd_step",
    "reconstruction_error",
    "sample_rbm",
    "visible_probabilities",
]


@dataclasses.dataclass(frozen=True)
class RBM(Layer):
    """A binary RBM; as a layer it maps visible vectors to hidden probabilities ``sigmoid(c + v W)``.

    Args:
        hidden_size: H, the number of hidden units.
        kernel_init: initialiser of W (default ``normal(0.01)``, Hinton's practical guide).

    Shapes: ``v: [..., V] -> [..., H]``.
    Params: ``{"kernel": [V, H], "visible_bias": [V], "hidden_bias": [H]}`` (biases start at zero).
    """

    hidden_size: int
    kernel_init: initializers.Initializer = initializers.normal(0.01)

    def __post_init__(self) -> None:
        if not isinstance(self.hidden_size, int) or self.hidden_size < 1:
            raise ValueError(f"RBM: hidden_size must be a positive int, got {self.hidden_size!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        if len(in_shape) != 1:
            raise ShapeError(self, f"expected a flat visible vector [V], got {format_shape(in_shape)}")
        visible = in_shape[0]
        params = {
            "kernel": self.kernel_init(key, (visible, self.hidden_size), jnp.float32),
            "visible_bias": jnp.zeros((visible,), jnp.float32),
            "hidden_bias": jnp.zeros((self.hidden_size,), jnp.float32),
        }
        return (self.hidden_size,), params

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        visible, hidden = tuple(x.shape[-1:]), (self.hidden_size,)
        expected = {"kernel": (*visible, *hidden), "visible_bias": visible, "hidden_bias": hidden}
        check_params(
            self, params, expected, x, implied_input=lambda p: p["kernel"].shape[:1], what="visible units"
        )
        check_input(self, x, (params["kernel"].shape[0],), "visible units")
        return hidden_probabilities(params, x)


def hidden_probabilities(params: Params, v: Array) -> Array:
    """``p(h = 1 | v) = sigmoid(c + v W)``: ``[..., V] -> [..., H]``."""
    return jax.nn.sigmoid(add_trailing(jnp.matmul(v, params["kernel"]), params["hidden_bias"]))


def visible_probabilities(params: Params, h: Array) -> Array:
    """``p(v = 1 | h) = sigmoid(b + W h)``: ``[..., H] -> [..., V]``."""
    return jax.nn.sigmoid(add_trailing(jnp.matmul(h, params["kernel"].T), params["visible_bias"]))


def free_energy(params: Params, v: Array) -> Array:
    """``F(v) = -v.b - sum_j softplus(c_j + (v W)_j)``: ``[..., V] -> [...]``."""
    pre = add_trailing(jnp.matmul(v, params["kernel"]), params["hidden_bias"])
    return -jnp.matmul(v, params["visible_bias"]) - jnp.sum(jax.nn.softplus(pre), axis=-1)


def _bernoulli(key: Array, p: Array) -> Array:
    return jax.random.bernoulli(key, p).astype(p.dtype)


def gibbs_chain(params: Params, v: Array, key: Array, k: int) -> Array:
    """``k`` steps of block Gibbs sampling ``v -> h ~ p(h|v) -> v' ~ p(v|h)``, started at ``v``.

    Args:
        params: RBM params.
        v: the start ``[..., V]`` (data, or binary samples).
        key: a ``jax.random`` key; step ``t`` uses ``fold_in(key, t)``.
        k: the number of steps (>= 1).

    Returns:
        The binary visible sample after ``k`` steps, ``[..., V]``.
    """
    if k < 1:
        raise ValueError(f"gibbs_chain: k must be >= 1, got {k}")

    def body(t: Array, v: Array) -> Array:
        h_key, v_key = jax.random.split(jax.random.fold_in(key, t))
        h = _bernoulli(h_key, hidden_probabilities(params, v))
        return _bernoulli(v_key, visible_probabilities(params, h))

    return jax.lax.fori_loop(0, k, body, v)


def cd_loss(params: Params, v: Array, key: Array, k: int = 1) -> Array:
    """The CD-k surrogate ``mean F(v) - mean F(stop_gradient(v_k))``; its gradient is the CD-k gradient.

    Args:
        params: RBM params.
        v: a data batch ``[B, V]`` (binary, or probabilities in [0, 1]).
        key: the key of the Gibbs chain.
        k: Gibbs steps.

    Returns:
        A scalar: the free-energy gap between the data and the chain's samples.
    """
    negative = jax.lax.stop_gradient(gibbs_chain(params, v, key, k))
    return jnp.mean(free_energy(params, v)) - jnp.mean(free_energy(params, negative))


def cd_gradient(params: Params, v: Array, key: Array, k: int = 1) -> Params:
    """The CD-k estimate of the gradient of the mean negative log-likelihood of ``v`` (params' pytree)."""
    return jax.grad(cd_loss)(params, v, key, k)


def reconstruction_error(params: Params, v: Array) -> Array:
    """Mean squared error of the mean-field reconstruction ``p(v | p(h | v))`` of ``v``."""
    return jnp.mean(jnp.square(v - visible_probabilities(params, hidden_probabilities(params, v))))


def cd_grad(k: int = 1) -> GradFn:
    """The CD-k gradient as a ``grad_fn`` for ``fnnet.training.step_from_grad`` (batches are ``v``).

    Args:
        k: Gibbs steps per estimate.

    Returns:
        ``grad_fn(params, model_state, v, key) -> (free_energy_gap, grads, {}, logs)``; ``logs`` has
        the batch's ``reconstruction_error`` before the update.
    """

    def grad_fn(
        params: Params, model_state: State, v: Array, key: Array
    ) -> tuple[Array, Params, State, dict[str, Array]]:
        gap, grads = jax.value_and_grad(cd_loss)(params, v, key, k)
        return gap, grads, model_state, {"reconstruction_error": reconstruction_error(params, v)}

    return grad_fn


def make_cd_step(optimizer: optax.GradientTransformation, k: int = 1) -> Callable:
    """``step(state, v) -> (state, logs)``: one optimiser step on the CD-k gradient of the batch ``v``.

    The step is ``fnnet.training.step_from_grad(optimizer, cd_grad(k))``: the Gibbs chain's key is
    the step's ``fold_in(state.key, state.step)`` and a non-finite gap leaves the parameters alone.

    Args:
        optimizer: any optax optimiser (``optax.sgd(0.1, momentum=0.5)`` is the classic choice).
        k: Gibbs steps per estimate.

    Returns:
        The un-jitted step on a ``fnnet.TrainState`` (``model_state`` is ``{}``); its logs are
        ``loss`` (the free-energy gap, the surrogate), ``finite`` and ``reconstruction_error``.
    """
    return step_from_grad(optimizer, cd_grad(k))


@functools.lru_cache(maxsize=32)
def _cd_epoch_fn(optimizer: optax.GradientTransformation, k: int, batch_size: int) -> Callable:
    # one jitted epoch per (optimizer, k, batch size), shared by every RBM trained with them
    return make_epoch_fn(make_cd_step(optimizer, k), batch_size)


def fit_rbm(
    rbm: RBM,
    x: ArrayLike,
    optimizer: optax.GradientTransformation,
    *,
    key: jax.Array,
    epochs: int = 1,
    batch_size: int = 64,
    k: int = 1,
    state: TrainState | None = None,
) -> tuple[TrainState, dict[str, list[float]]]:
    """Train an RBM on ``x`` ``[N, V]`` by CD-k, one scanned dispatch per epoch.

    Args:
        rbm: the RBM.
        x: visible data ``[N, V]`` in [0, 1].
        optimizer: the optax optimiser.
        key: a ``jax.random`` key (init, shuffling and Gibbs chains derive from it).
        epochs: passes over the data.
        batch_size: examples per CD step.
        k: Gibbs steps.
        state: resume from this TrainState.

    Returns:
        ``(state, history)`` with per-epoch means of ``free_energy_gap`` and ``reconstruction_error``.
    """
    data = jnp.asarray(x, jnp.float32)
    if data.ndim != 2:
        raise ShapeError(rbm, f"fit_rbm needs data [N, V], got {format_shape(data.shape)}")
    if float(jnp.min(data)) < 0 or float(jnp.max(data)) > 1:
        raise ValueError("fit_rbm: binary RBM data must lie in [0, 1]")
    init_key, train_key, shuffle_key = jax.random.split(key, 3)
    if state is None:
        _, params = rbm.init(init_key, (data.shape[1],))
        state = TrainState(params, optimizer.init(params), {}, jnp.zeros((), jnp.int32), train_key)
    run_epoch = _cd_epoch_fn(optimizer, k, batch_size)
    history: dict[str, list[float]] = {}
    for epoch in range(epochs):
        state, logs = run_epoch(state, data, jax.random.fold_in(shuffle_key, epoch))
        logs = {"free_energy_gap": logs["loss"], "reconstruction_error": logs["reconstruction_error"]}
        for name, values in logs.items():
            history.setdefault(name, []).append(float(np.mean(np.asarray(values))))
    return state, history


def sample_rbm(params: Params, key: jax.Array, n: int, steps: int = 1000) -> jax.Array:
    """``n`` binary samples from the RBM: Gibbs chains of ``steps`` steps from uniform random visibles."""
    start_key, chain_key = jax.random.split(key)
    visible = params["kernel"].shape[0]
    v0 = jax.random.bernoulli(start_key, 0.5, (n, visible)).astype(jnp.float32)
    return gibbs_chain(params, v0, chain_key, steps)
