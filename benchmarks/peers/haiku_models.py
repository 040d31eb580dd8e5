"""The four models in dm-haiku (``hk.Linear``, ``hk.Conv2D``, ``hk.MaxPool``, ``hk.LSTM``)."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from benchmarks.peers.common import CLASSES, HIDDEN, Built, Spec, jax_built


class GRU(hk.RNNCore):
    """PyTorch's GRU formulation (input and hidden biases), fused gates."""

    def __call__(self, x_t, h):
        ir, iz, i_n = jnp.split(hk.Linear(3 * HIDDEN, name="i")(x_t), 3, axis=-1)
        hr, hz, hn = jnp.split(hk.Linear(3 * HIDDEN, name="h")(h), 3, axis=-1)
        r, z = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
        h = (1 - z) * jnp.tanh(i_n + r * hn) + z * h
        return h, h

    def initial_state(self, batch_size):
        return jnp.zeros((batch_size, HIDDEN))


def _forward(model: str, x):
    if model == "mlp":
        return hk.nets.MLP([512, 512, CLASSES])(x)
    if model == "cnn":
        for features in (32, 64):
            x = jax.nn.relu(hk.Conv2D(features, 3, padding="SAME")(x))
            x = hk.MaxPool(2, 2, "VALID")(x)
        x = hk.Flatten()(x)
        return hk.Linear(CLASSES)(jax.nn.relu(hk.Linear(128)(x)))
    core = hk.LSTM(HIDDEN) if model == "lstm" else GRU()
    state = jax.tree.map(lambda a: a.astype(x.dtype), core.initial_state(x.shape[0]))
    _, last = hk.dynamic_unroll(core, jnp.swapaxes(x, 0, 1), state)  # time-major [T, B, F]
    h = last.hidden if model == "lstm" else last
    return hk.Linear(CLASSES)(h)


def build(spec: Spec, abstract: bool = False) -> Built:
    """The Haiku model and the standard JAX train step for ``spec`` (``abstract``: shapes only)."""
    net = hk.without_apply_rng(hk.transform(lambda x: _forward(spec.model, x)))
    x = jnp.zeros((1, *spec.in_shape))
    return jax_built(net.apply, lambda key: net.init(key, x), spec, note="dm-haiku", abstract=abstract)
