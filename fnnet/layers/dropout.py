"""Dropout: random zeroing with an explicit key, identity at evaluation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from fnnet.core import Array, Layer, Params, Shape, check_params


@dataclasses.dataclass(frozen=True)
class Dropout(Layer):
    """Zero each element with probability ``rate`` when training; scale the rest by ``1/(1-rate)``.

    The expected output equals the input, so evaluation (``training=False``) is the identity.

    Args:
        rate: the probability of *dropping* an element, in ``[0, 1)`` (unlike stax's keep rate).

    Shapes: ``x: [...] -> y: [...]``. No params.

    Raises:
        ValueError: when training without a ``key``.
    """

    rate: float

    def __post_init__(self) -> None:
        if not isinstance(self.rate, int | float) or not 0.0 <= self.rate < 1.0:
            raise ValueError(
                f"Dropout: rate (the probability of dropping) must be in [0, 1), got {self.rate!r}"
            )

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        return tuple(in_shape), {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        check_params(self, params, {})
        if not training or self.rate == 0.0:
            return x
        if key is None:
            raise ValueError(
                f"Dropout(rate={self.rate}) needs a key when training=True: "
                "call apply(..., key=jax.random.key(...), training=True)"
            )
        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros((), x.dtype))
