"""``TrainState``: everything that changes during training, as one pytree."""

# No `from __future__ import annotations` here: the NamedTuple's field types must be objects, not strings,
# for the API reference (pdoc) to resolve them.

import hashlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnnet.core import Layer, Params, Shape

__all__ = ["TrainState", "init_train_state", "key_fingerprint"]


class TrainState(NamedTuple):
    """Everything that changes during training, as one pytree.

    Attributes:
        params: the model's parameters (nested dict of arrays).
        opt_state: the optax optimizer's state.
        model_state: the model's mutable state (batch statistics); ``{}`` for most models.
        step: the number of steps taken, an int32 scalar.
        key: the training run's ``jax.random`` key; step ``n`` draws its randomness (dropout, noise)
            from ``fold_in(key, n)``, so a model without randomness spends nothing on keys.
    """

    params: Any
    opt_state: Any
    model_state: Any
    step: jax.Array
    key: jax.Array


def init_train_state(
    model: Layer,
    optimizer: optax.GradientTransformation,
    key: jax.Array,
    in_shape: Shape,
    params: Params | None = None,
) -> TrainState:
    """Initialise parameters, optimizer state and model state for per-example inputs ``in_shape``.

    Args:
        model: the model.
        optimizer: any optax GradientTransformation.
        key: a ``jax.random`` key; split into the parameter key and the training key.
        in_shape: the per-example input shape (no batch axis).
        params: start from these parameters instead of fresh ones (e.g. pre-trained).

    Returns:
        A TrainState at step 0.
    """
    init_key, train_key = jax.random.split(key)
    if params is None:
        _, params = model.init(init_key, tuple(in_shape))
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        model_state=model.init_state(tuple(in_shape)),
        step=jnp.zeros((), jnp.int32),
        key=train_key,
    )


def key_fingerprint(key: jax.Array) -> str:
    """A short hex fingerprint of a ``jax.random`` key (its implementation and key data), stable across runs.

    Two keys have the same fingerprint exactly when they hold the same bits under the same implementation;
    a checkpoint stores it so that resuming with a different key is an error, not a silent reshuffle.
    """
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        impl, data = str(jax.random.key_impl(key)), np.asarray(jax.random.key_data(key))
    else:
        impl, data = "raw", np.asarray(key)
    digest = hashlib.sha256(impl.encode() + data.astype("<u4").tobytes())
    return digest.hexdigest()[:16]
