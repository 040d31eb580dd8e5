"""The four models in Flax linen (``nn.Dense``, ``nn.Conv``, ``nn.max_pool``, ``nn.scan``)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks.peers.common import CLASSES, HIDDEN, Built, Spec, jax_built


class MLP(nn.Module):
    """784-512-512-10."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(512)(x))
        return nn.Dense(CLASSES)(nn.relu(nn.Dense(512)(x)))


class CNN(nn.Module):
    """conv32-pool-conv64-pool-dense128-dense10, NHWC."""

    @nn.compact
    def __call__(self, x):
        for features in (32, 64):
            x = nn.relu(nn.Conv(features, (3, 3), padding="SAME")(x))
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)  # [B, 7*7*64]
        return nn.Dense(CLASSES)(nn.relu(nn.Dense(128)(x)))


class GRUCell(nn.Module):
    """PyTorch's GRU formulation (input and hidden biases), fused gates."""

    @nn.compact
    def __call__(self, h, x_t):
        ir, iz, i_n = jnp.split(nn.Dense(3 * HIDDEN, name="i")(x_t), 3, axis=-1)
        hr, hz, hn = jnp.split(nn.Dense(3 * HIDDEN, name="h")(h), 3, axis=-1)
        r, z = nn.sigmoid(ir + hr), nn.sigmoid(iz + hz)
        n = jnp.tanh(i_n + r * hn)
        return (1 - z) * n + z * h, None


class RNNClassifier(nn.Module):
    """``[B, T, F]`` -> last hidden state -> dense 10; LSTM: ``nn.OptimizedLSTMCell``."""

    kind: str

    @nn.compact
    def __call__(self, x):
        xs = jnp.swapaxes(x, 0, 1)  # [T, B, F]
        if self.kind == "lstm":
            cell = nn.OptimizedLSTMCell(HIDDEN)
            carry = jax.tree.map(
                lambda a: a.astype(x.dtype), cell.initialize_carry(jax.random.key(0), xs[0].shape)
            )
            step = lambda c, xt: (cell(c, xt)[0], None)  # noqa: E731
        else:
            cell = GRUCell()
            carry = jnp.zeros((x.shape[0], HIDDEN), x.dtype)
            step = cell
        scan = nn.scan(
            lambda mdl, c, xt: step(c, xt),
            variable_broadcast="params",
            split_rngs={"params": False},
        )
        carry, _ = scan(cell, carry, xs)
        h = carry[1] if self.kind == "lstm" else carry
        return nn.Dense(CLASSES)(h)


def build(spec: Spec, abstract: bool = False) -> Built:
    """The Flax linen model and JAX train step for ``spec`` (``abstract``: shapes only)."""
    net = {"mlp": MLP(), "cnn": CNN()}.get(spec.model) or RNNClassifier(spec.model)
    x = jnp.zeros((1, *spec.in_shape))  # initialise in float32; jax_built casts
    return jax_built(
        lambda p, xb: net.apply({"params": p}, xb),
        lambda key: net.init(key, x)["params"],
        spec,
        note="flax linen",
        abstract=abstract,
    )
