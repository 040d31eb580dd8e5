"""Fully connected layers: ``Dense`` and the course's ``Perceptron`` unit."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from fnnet import initializers
from fnnet.activations import step
from fnnet.core import (
    Array,
    Layer,
    Params,
    Shape,
    ShapeError,
    add_trailing,
    check_input,
    check_params,
    format_shape,
    init_kernel_and_bias,
)


def _check_dense(layer: Dense | Perceptron, params: Params, x: Array, use_bias: bool) -> None:
    """``kernel [in_features, features]`` (and ``bias [features]``) for an input ``[..., in_features]``."""
    bias = {"bias": (layer.features,)} if use_bias else {}
    expected = {"kernel": (*x.shape[-1:], layer.features), **bias}
    check_params(layer, params, expected, x, implied_input=lambda p: p["kernel"].shape[:1])


@dataclasses.dataclass(frozen=True)
class Dense(Layer):
    """An affine map on the last axis: ``y = x @ kernel + bias``.

    Args:
        features: the size of the output's last axis.
        use_bias: whether to add a bias.
        kernel_init: initialiser of the kernel (default LeCun normal).
        bias_init: initialiser of the bias (default zeros).

    Shapes: ``x: [..., in_features] -> y: [..., features]``.
    Params: ``{"kernel": [in_features, features], "bias": [features]}``.

    Example:
        >>> out_shape, params = Dense(3).init(jax.random.key(0), (5,))
        >>> Dense(3).apply(params, jnp.ones((2, 5))).shape
        (2, 3)
    """

    features: int
    use_bias: bool = True
    kernel_init: initializers.Initializer = initializers.lecun_normal()
    bias_init: initializers.Initializer = initializers.zeros

    def __post_init__(self) -> None:
        if not isinstance(self.features, int) or self.features < 1:
            raise ValueError(f"Dense: features must be a positive int, got {self.features!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        if len(in_shape) < 1:
            raise ShapeError(self, f"needs an input with at least one axis, got {format_shape(in_shape)}")
        in_features = in_shape[-1]
        return (*in_shape[:-1], self.features), init_kernel_and_bias(self, key, (in_features, self.features))

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        _check_dense(self, params, x, self.use_bias)
        kernel = params["kernel"]
        check_input(self, x, (kernel.shape[0],))
        y = jnp.matmul(x, kernel)
        if self.use_bias:
            y = add_trailing(y, params["bias"])
        return y


@dataclasses.dataclass(frozen=True)
class Perceptron(Layer):
    """Rosenblatt's perceptron: a weighted sum plus a bias, then a step.

    ``y = step(x @ kernel + bias)``: 1 when the weighted sum exceeds the threshold ``-bias``, 0 when it
    falls short, ``at_zero`` when it equals it (default 1, the course's ``z >= 0``; 0 for a strict
    ``> threshold`` such as the concert quiz's "> 60").
    Train it with ``fnnet.course.perceptron_rule`` (gradient-free), or by backpropagation with
    ``straight_through=True``.

    Args:
        features: the number of perceptron units.
        straight_through: give the step the identity's gradient so that ``jax.grad`` can train it.
        at_zero: the output where the weighted sum equals the threshold exactly, in ``[0, 1]``
            (``fnnet.activations.step``'s ``at_zero``).
        kernel_init: initialiser of the weights (default standard normal, as in the course).
        bias_init: initialiser of the bias (default zeros, i.e. threshold 0).

    Shapes: ``x: [..., in_features] -> y: [..., features]`` of 0s and 1s.
    Params: ``{"kernel": [in_features, features], "bias": [features]}`` with bias = -threshold.
    """

    features: int = 1
    straight_through: bool = False
    kernel_init: initializers.Initializer = initializers.standard_normal()
    bias_init: initializers.Initializer = initializers.zeros
    at_zero: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.at_zero <= 1.0:
            raise ValueError(f"Perceptron: at_zero must be in [0, 1], got {self.at_zero!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        return Dense(self.features, True, self.kernel_init, self.bias_init).init(key, in_shape)

    def weighted_sum(self, params: Params, x: Array) -> Array:
        """The pre-activation ``x @ kernel + bias`` (the weighted sum minus the threshold)."""
        _check_dense(self, params, x, True)
        check_input(self, x, (params["kernel"].shape[0],))
        return add_trailing(jnp.matmul(x, params["kernel"]), params["bias"])

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        return step(self.weighted_sum(params, x), self.straight_through, self.at_zero)
