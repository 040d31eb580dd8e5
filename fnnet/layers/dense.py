"""Fully connected layers: ``Dense`` and the course's ``Perceptron`` unit."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from fnnet import initializers
from fnnet.activations import step
from fnnet.core import Layer, ShapeError, add_trailing, check_input, format_shape, init_kernel_and_bias


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
    kernel_init: object = initializers.lecun_normal()
    bias_init: object = initializers.zeros

    def __post_init__(self):
        if not isinstance(self.features, int) or self.features < 1:
            raise ValueError(f"Dense: features must be a positive int, got {self.features!r}")

    def init(self, key, in_shape):
        if len(in_shape) < 1:
            raise ShapeError(self, f"needs an input with at least one axis, got {format_shape(in_shape)}")
        in_features = in_shape[-1]
        return (*in_shape[:-1], self.features), init_kernel_and_bias(self, key, (in_features, self.features))

    def apply(self, params, x, *, key=None, training=False):
        del key, training
        kernel = params["kernel"]
        check_input(self, x, (kernel.shape[0],))
        y = jnp.matmul(x, kernel)
        if self.use_bias:
            y = add_trailing(y, params["bias"])
        return y


@dataclasses.dataclass(frozen=True)
class Perceptron(Layer):
    """Rosenblatt's perceptron: a weighted sum plus a bias, then a step.

    ``y = step(x @ kernel + bias)``: 1 when the weighted sum exceeds the threshold ``-bias``, else 0.
    Train it with ``fnnet.course.perceptron_rule`` (gradient-free), or by backpropagation with
    ``straight_through=True``.

    Args:
        features: the number of perceptron units.
        straight_through: give the step the identity's gradient so that ``jax.grad`` can train it.
        kernel_init: initialiser of the weights (default standard normal, as in the course).
        bias_init: initialiser of the bias (default zeros, i.e. threshold 0).

    Shapes: ``x: [..., in_features] -> y: [..., features]`` of 0s and 1s.
    Params: ``{"kernel": [in_features, features], "bias": [features]}`` with bias = -threshold.
    """

    features: int = 1
    straight_through: bool = False
    kernel_init: object = initializers.standard_normal()
    bias_init: object = initializers.zeros

    def init(self, key, in_shape):
        return Dense(self.features, True, self.kernel_init, self.bias_init).init(key, in_shape)

    def weighted_sum(self, params, x):
        """The pre-activation ``x @ kernel + bias`` (the weighted sum minus the threshold)."""
        check_input(self, x, (params["kernel"].shape[0],))
        return add_trailing(jnp.matmul(x, params["kernel"]), params["bias"])

    def apply(self, params, x, *, key=None, training=False):
        del key, training
        return step(self.weighted_sum(params, x), straight_through=self.straight_through)
