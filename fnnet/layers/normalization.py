"""Normalisation over channels: ``BatchNorm`` (explicit running statistics) and ``LayerNorm``.

Both compute their statistics and the normalisation in float32 when given bfloat16 or float16 inputs (or
parameters), and return the input's dtype: a mean and variance over many values lose too much in 8 or 11
bits of mantissa (Keras and Flax do the same). ``BatchNorm``'s running statistics stay float32.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

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


def _dtypes(x: Array) -> tuple[jnp.dtype, jnp.dtype]:
    """``(output dtype, statistics dtype)``: the statistics in float32 for bfloat16 and float16 inputs, in
    the input's own dtype for wider ones; the output in the input's floating dtype."""
    dtype = jnp.promote_types(x.dtype, jnp.float32)
    return (x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else dtype), dtype


def _check_feature_params(layer: Layer, params: Params, x: Array) -> None:
    """``scale`` and ``offset``, both ``[C]`` for an input ``[..., C]``."""
    expected = {"scale": tuple(x.shape[-1:]), "offset": tuple(x.shape[-1:])}
    check_params(layer, params, expected, x, implied_input=lambda p: p["scale"].shape)


def _feature_params(
    layer: Layer,
    key: Array,
    in_shape: Shape,
    scale_init: initializers.Initializer,
    offset_init: initializers.Initializer,
) -> Params:
    if len(in_shape) < 1:
        raise ShapeError(layer, f"needs an input with a feature axis, got {format_shape(in_shape)}")
    features = in_shape[-1]
    del key  # the default initialisers are constants
    return {
        "scale": scale_init(None, (features,), jnp.float32),
        "offset": offset_init(None, (features,), jnp.float32),
    }


@dataclasses.dataclass(frozen=True)
class BatchNorm(Layer):
    """Batch normalisation over every axis but the last (the channels), with explicit state.

    Training: ``y = (x - mean_B) / sqrt(var_B + epsilon) * scale + offset`` with the batch's mean
    and biased variance over all leading axes, and the state becomes
    ``mean <- momentum * mean + (1 - momentum) * mean_B`` and
    ``var <- momentum * var + (1 - momentum) * var_B * n / (n - 1)`` (the unbiased batch variance,
    as PyTorch keeps). Evaluation: the running ``mean`` and ``var`` replace the batch's.

    ``momentum`` is the weight of the *old* average (Keras and Flax's convention, default 0.9);
    PyTorch's ``momentum=0.1`` is fnnet's 0.9.

    Args:
        momentum: the running averages' decay, in ``[0, 1)``.
        epsilon: added to the variance.

    Shapes: ``x: [..., C] -> y: [..., C]`` (for images ``[N, H, W, C]``: statistics over N, H, W).
    Params: ``{"scale": [C], "offset": [C]}``.
    State: ``{"mean": [C], "var": [C]}`` (zeros and ones at the start).
    """

    momentum: float = 0.9
    epsilon: float = 1e-5
    scale_init: initializers.Initializer = initializers.ones
    offset_init: initializers.Initializer = initializers.zeros

    def __post_init__(self) -> None:
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1), got {self.momentum!r}")
        if not self.epsilon > 0:
            raise ValueError(f"BatchNorm: epsilon must be positive, got {self.epsilon!r}")

    @property
    def has_state(self) -> bool:
        return True

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        return tuple(in_shape), _feature_params(self, key, in_shape, self.scale_init, self.offset_init)

    def init_state(self, in_shape: Shape) -> State:
        features = in_shape[-1]
        return {
            "mean": jnp.zeros((features,), jnp.float32),
            "var": jnp.ones((features,), jnp.float32),
        }

    def apply_with_state(
        self, params: Params, state: State, x: Array, *, key: Array | None = None, training: bool = False
    ) -> tuple[Array, State]:
        del key
        _check_feature_params(self, params, x)
        check_input(self, x, tuple(params["scale"].shape))
        out_dtype, dtype = _dtypes(x)
        x = x.astype(dtype)
        if training:
            axes = tuple(range(x.ndim - 1))
            n = x.size // x.shape[-1]
            mean = jnp.mean(x, axis=axes)
            var = jnp.mean(jnp.square(add_trailing(x, -mean)), axis=axes)
            m = self.momentum
            unbiased = var * (n / max(n - 1, 1))
            state = {
                "mean": m * state["mean"] + (1 - m) * mean,
                "var": m * state["var"] + (1 - m) * unbiased,
            }
        else:
            mean, var = state["mean"], state["var"]
        inv = params["scale"].astype(dtype) / jnp.sqrt(var.astype(dtype) + self.epsilon)
        shift = params["offset"].astype(dtype) - mean.astype(dtype) * inv
        y = add_trailing(x * inv.reshape((1,) * (x.ndim - 1) + inv.shape), shift)
        return y.astype(out_dtype), state


@dataclasses.dataclass(frozen=True)
class LayerNorm(Layer):
    """Layer normalisation over the last axis of each example.

    ``y = (x - mean) / sqrt(var + epsilon) * scale + offset`` with the mean and (biased) variance of
    each example's last axis.

    Args:
        epsilon: added to the variance.

    Shapes: ``x: [..., C] -> y: [..., C]``. Params: ``{"scale": [C], "offset": [C]}``.
    """

    epsilon: float = 1e-5
    scale_init: initializers.Initializer = initializers.ones
    offset_init: initializers.Initializer = initializers.zeros

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        return tuple(in_shape), _feature_params(self, key, in_shape, self.scale_init, self.offset_init)

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        _check_feature_params(self, params, x)
        check_input(self, x, tuple(params["scale"].shape))
        out_dtype, dtype = _dtypes(x)
        x = x.astype(dtype)
        mean = jnp.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        var = jnp.mean(jnp.square(centred), axis=-1, keepdims=True)
        y = centred / jnp.sqrt(var + self.epsilon)
        scale, offset = params["scale"].astype(dtype), params["offset"].astype(dtype)
        return add_trailing(y * scale.reshape((1,) * (x.ndim - 1) + (-1,)), offset).astype(out_dtype)
