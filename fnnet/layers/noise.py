"""Input corruption for denoising autoencoders: ``GaussianNoise`` and ``MaskingNoise``.

Both are active only when ``training=True`` (they then need a ``key``) and are the identity otherwise,
so a denoising autoencoder is an ordinary model whose encoder starts with a noise layer and is trained
with ``fnnet.fit(model, loss, opt, x, x)``: every step draws fresh corruption from the step's key.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from fnnet.core import Array, Layer, Params, Shape, ShapeError, check_params


def _need_key(layer: Layer, key: Array | None) -> Array:
    """``key``, or a ShapeError naming ``layer`` when there is none."""
    if key is None:
        raise ShapeError(layer, "needs a key when training=True (it draws random corruption)")
    return key


@dataclasses.dataclass(frozen=True)
class GaussianNoise(Layer):
    """Additive Gaussian corruption: ``y = x + stddev * N(0, 1)`` when training, ``y = x`` otherwise.

    Args:
        stddev: the noise's standard deviation (>= 0).

    Shapes: ``x: [..., *in_shape] -> y: [..., *in_shape]``. Params: ``{}``.
    """

    stddev: float

    def __post_init__(self) -> None:
        if not self.stddev >= 0:
            raise ValueError(f"GaussianNoise: stddev must be >= 0, got {self.stddev!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        return tuple(in_shape), {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        check_params(self, params, {})
        if not training or self.stddev == 0:
            return x
        key = _need_key(self, key)
        return x + self.stddev * jax.random.normal(key, x.shape, x.dtype)


@dataclasses.dataclass(frozen=True)
class MaskingNoise(Layer):
    """Masking corruption (Vincent et al. 2008): each entry is set to 0 with probability ``rate``.

    Unlike dropout the kept entries are *not* rescaled: the network must fill in the missing pixels.
    Identity when not training.

    Args:
        rate: the probability of zeroing an entry, in [0, 1).

    Shapes: ``x: [..., *in_shape] -> y: [..., *in_shape]``. Params: ``{}``.
    """

    rate: float

    def __post_init__(self) -> None:
        if not 0 <= self.rate < 1:
            raise ValueError(f"MaskingNoise: rate must be in [0, 1), got {self.rate!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        return tuple(in_shape), {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        check_params(self, params, {})
        if not training or self.rate == 0:
            return x
        key = _need_key(self, key)
        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        return jnp.where(keep, x, jnp.zeros_like(x))
