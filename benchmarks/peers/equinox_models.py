"""The four models in Equinox (``eqx.nn.Linear``, ``Conv2d``, ``MaxPool2d``, ``LSTMCell``).

Equinox layers act on one example (channels first), so the batch is a ``jax.vmap``. The step is the
partitioned form (parameters through ``jax.jit``, the static structure closed over), which avoids
``eqx.filter_jit``'s per-call overhead.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from benchmarks.peers.common import CLASSES, FEATURES, HIDDEN, Built, Spec, jax_built


class GRUCell(eqx.Module):
    """PyTorch's GRU formulation (input and hidden biases), fused gates."""

    i: eqx.nn.Linear
    h: eqx.nn.Linear

    def __init__(self, key):
        ki, kh = jax.random.split(key)
        self.i, self.h = (
            eqx.nn.Linear(FEATURES, 3 * HIDDEN, key=ki),
            eqx.nn.Linear(HIDDEN, 3 * HIDDEN, key=kh),
        )

    def __call__(self, x_t, h):
        ir, iz, i_n = jnp.split(self.i(x_t), 3)
        hr, hz, hn = jnp.split(self.h(h), 3)
        r, z = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
        return (1 - z) * jnp.tanh(i_n + r * hn) + z * h


def _network(model: str, key):
    k = jax.random.split(key, 4)
    if model == "mlp":
        return eqx.nn.MLP(784, CLASSES, 512, 2, activation=jax.nn.relu, key=k[0])
    if model == "cnn":
        return eqx.nn.Sequential(
            [
                eqx.nn.Conv2d(1, 32, 3, padding=1, key=k[0]),
                eqx.nn.Lambda(jax.nn.relu),
                eqx.nn.MaxPool2d(2, 2),
                eqx.nn.Conv2d(32, 64, 3, padding=1, key=k[1]),
                eqx.nn.Lambda(jax.nn.relu),
                eqx.nn.MaxPool2d(2, 2),
                eqx.nn.Lambda(jnp.ravel),
                eqx.nn.Linear(7 * 7 * 64, 128, key=k[2]),
                eqx.nn.Lambda(jax.nn.relu),
                eqx.nn.Linear(128, CLASSES, key=k[3]),
            ]
        )
    cell = eqx.nn.LSTMCell(FEATURES, HIDDEN, key=k[0]) if model == "lstm" else GRUCell(k[0])
    return (cell, eqx.nn.Linear(HIDDEN, CLASSES, key=k[1]))


def _example(model: str, net, x):
    if model == "cnn":
        return net(jnp.transpose(x, (2, 0, 1)))  # [H, W, C] -> [C, H, W]
    if model == "mlp":
        return net(x)
    cell, head = net
    h = jnp.zeros(HIDDEN, x.dtype)
    carry = (h, h) if model == "lstm" else h
    carry, _ = jax.lax.scan(lambda c, xt: (cell(xt, c), None), carry, x)  # x: [T, F] per example
    return head(carry[0] if model == "lstm" else carry)


def build(spec: Spec, abstract: bool = False) -> Built:
    """The Equinox model and JAX train step for ``spec`` (``abstract``: shapes only)."""
    shapes = eqx.filter_eval_shape(_network, spec.model, jax.random.key(0))
    static = eqx.partition(shapes, eqx.is_inexact_array)[1]

    def init(key):
        return eqx.partition(_network(spec.model, key), eqx.is_inexact_array)[0]

    def apply(p, x):
        return jax.vmap(lambda xe: _example(spec.model, eqx.combine(p, static), xe))(x)

    note = "equinox, vmapped, partitioned jax.jit"
    return jax_built(apply, init, spec, note=note, abstract=abstract)
