"""The four models in fnnet, timed through ``fnnet.make_train_step`` (what ``fnnet.fit`` runs).

Every layer keeps its defaults (no formulation or implementation argument): the suite measures what a
user gets. A policy row (``mixed_bfloat16``) wraps the model in ``fnnet.precision.Mixed``: float32
parameters, optimizer state and inputs, bfloat16 compute.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import fnnet
from benchmarks.peers.common import CLASSES, HIDDEN, LEARNING_RATE, POLICIES, Built, Spec, make_data
from fnnet.bench import cast_floats, param_count


def model(name: str) -> fnnet.Layer:
    """The fnnet definition of ``name`` (one of ``MODELS``), every layer at its defaults."""
    if name == "mlp":
        return fnnet.Sequential(
            fnnet.Dense(512),
            fnnet.activations.relu,
            fnnet.Dense(512),
            fnnet.activations.relu,
            fnnet.Dense(CLASSES),
        )
    if name == "cnn":
        return fnnet.Sequential(
            fnnet.Conv(32, kernel_size=(3, 3), padding="SAME"),
            fnnet.activations.relu,
            fnnet.MaxPool(window=(2, 2)),
            fnnet.Conv(64, kernel_size=(3, 3), padding="SAME"),
            fnnet.activations.relu,
            fnnet.MaxPool(window=(2, 2)),
            fnnet.Flatten(),
            fnnet.Dense(128),
            fnnet.activations.relu,
            fnnet.Dense(CLASSES),
        )
    cell = fnnet.LSTMCell(HIDDEN) if name == "lstm" else fnnet.GRUCell(HIDDEN)
    return fnnet.Sequential(fnnet.RNN(cell, return_sequences=False), fnnet.Dense(CLASSES))


def loss(logits, labels):
    """Softmax cross-entropy computed in float32, as every peer does."""
    return fnnet.losses.softmax_cross_entropy(logits.astype(jnp.float32), labels)


def build(spec: Spec, abstract: bool = False) -> Built:
    """fnnet's model and jitted, donated train step for ``spec`` (``abstract``: shapes only)."""
    net = model(spec.model)
    if spec.dtype in POLICIES:
        net = fnnet.precision.Mixed(net, spec.dtype)
    stored = "float32" if spec.dtype in POLICIES else spec.dtype  # parameters, optimizer state, inputs
    optimizer = optax.adam(LEARNING_RATE)
    if abstract:
        shapes = []

        def init(key):
            out_shape, params = net.init(key, spec.in_shape)
            shapes.append(tuple(out_shape))  # plain ints, known while tracing
            return params

        params = jax.eval_shape(init, jax.random.key(0))
        return Built(param_count=param_count(params), out_shape=shapes[0])
    x, y = make_data(spec)

    @jax.jit  # one compile instead of one per eager op
    def init(key):
        state = fnnet.init_train_state(net, optimizer, key, spec.in_shape)
        return state._replace(
            params=cast_floats(state.params, stored),
            opt_state=cast_floats(state.opt_state, stored),
        )

    state = init(jax.random.key(0))
    x = jnp.asarray(x).astype(stored)
    out = jax.eval_shape(lambda p, xb: net.apply(p, xb), state.params, x[:1])
    return Built(
        param_count=param_count(state.params),
        out_shape=tuple(out.shape[1:]),
        step=fnnet.make_train_step(net, loss, optimizer),
        args=(state, (x, jnp.asarray(y))),
        note="fnnet.make_train_step"
        + (f", fnnet.precision.Mixed({spec.dtype!r})" if spec.dtype in POLICIES else ""),
    )
