"""Parameter initialisers: hashable objects called as ``init(key, shape, dtype) -> array``.

Each initialiser is a frozen dataclass, so two layers configured alike compare equal and share one jit
cache entry. Fan-in and fan-out follow the kernel layouts of fnnet: the last axis is the output axis,
the one before it the input axis, and any leading axes (a convolution's window) multiply both fans.

| layer | kernel default | bias default |
|---|---|---|
| Dense, Conv, ConvTranspose | ``lecun_normal()`` | ``zeros`` |
| Perceptron | ``standard_normal()`` (the course's) | ``zeros`` |
| SimpleRNN, LSTM, GRU | input ``glorot_uniform()``, recurrent ``orthogonal()`` | ``zeros`` |
| Embedding | ``normal(1.0)`` | — |
| BatchNorm, LayerNorm | scale ``ones`` | offset ``zeros`` |
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

__all__ = [
    "Constant",
    "Normal",
    "Orthogonal",
    "TruncatedNormal",
    "Uniform",
    "VarianceScaling",
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "standard_normal",
    "truncated_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "zeros",
    "fans",
    "Initializer",
]

Initializer = Callable[..., jax.Array]
"""What a layer's ``kernel_init``/``bias_init`` takes: ``init(key, shape, dtype=float32) -> array``."""


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out of a kernel of ``shape`` (``[*window, in, out]``; a vector is ``[out]``).

    Args:
        shape: the kernel shape.

    Returns:
        ``(fan_in, fan_out)``.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


@dataclasses.dataclass(frozen=True)
class Constant:
    """Every entry equal to ``value``."""

    value: float = 0.0

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        del key
        return jnp.full(shape, self.value, dtype)


@dataclasses.dataclass(frozen=True)
class Normal:
    """Independent draws from ``N(mean, stddev**2)``."""

    stddev: float = 1.0
    mean: float = 0.0

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        return self.mean + self.stddev * jax.random.normal(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class TruncatedNormal:
    """Normal draws truncated to two standard deviations, rescaled to have ``stddev``."""

    stddev: float = 1.0

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        # The truncated standard normal on [-2, 2] has std 0.87962566; divide it out.
        unit = jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) / 0.87962566103423978
        return self.stddev * unit


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Independent draws from ``U(-scale, scale)``."""

    scale: float = 1.0

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -self.scale, self.scale)


@dataclasses.dataclass(frozen=True)
class VarianceScaling:
    """Variance ``scale / n`` with ``n`` the fan-in, fan-out or their mean (the Glorot/He/LeCun family).

    Args:
        scale: the numerator of the variance.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"normal"`` or ``"uniform"``.
    """

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"

    def __post_init__(self) -> None:
        if self.mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: unknown mode {self.mode!r}")
        if self.distribution not in ("truncated_normal", "normal", "uniform"):
            raise ValueError(f"VarianceScaling: unknown distribution {self.distribution!r}")

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        fan_in, fan_out = fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            return Uniform(math.sqrt(3.0 * variance))(key, shape, dtype)
        if self.distribution == "normal":
            return Normal(math.sqrt(variance))(key, shape, dtype)
        return TruncatedNormal(math.sqrt(variance))(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class Orthogonal:
    """A (semi-)orthogonal matrix over the last axis and the product of the others, times ``scale``."""

    scale: float = 1.0

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike = jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal: needs a shape of rank >= 2, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = jax.random.normal(key, (max(rows, cols), min(rows, cols)), jnp.float32)
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diag(r))[None, :]  # makes the distribution uniform (Mezzadri 2007)
        q = q if rows >= cols else q.T
        return (self.scale * q).reshape(shape).astype(dtype)


zeros = Constant(0.0)
ones = Constant(1.0)


def constant(value: float) -> Constant:
    """Every entry equal to ``value``."""
    return Constant(value)


def standard_normal() -> Normal:
    """``N(0, 1)``: the course's default for weights."""
    return Normal(1.0)


def normal(stddev: float = 1.0, mean: float = 0.0) -> Normal:
    """``N(mean, stddev**2)``."""
    return Normal(stddev, mean)


def uniform(scale: float = 1.0) -> Uniform:
    """``U(-scale, scale)``."""
    return Uniform(scale)


def truncated_normal(stddev: float = 1.0) -> TruncatedNormal:
    """Normal truncated at two standard deviations, with standard deviation ``stddev``."""
    return TruncatedNormal(stddev)


def glorot_uniform() -> VarianceScaling:
    """Glorot/Xavier uniform: ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``."""
    return VarianceScaling(1.0, "fan_avg", "uniform")


def glorot_normal() -> VarianceScaling:
    """Glorot/Xavier normal (truncated): variance ``2 / (fan_in + fan_out)``."""
    return VarianceScaling(1.0, "fan_avg", "truncated_normal")


def he_normal() -> VarianceScaling:
    """He/Kaiming normal (truncated): variance ``2 / fan_in``, for ReLU networks."""
    return VarianceScaling(2.0, "fan_in", "truncated_normal")


def he_uniform() -> VarianceScaling:
    """He/Kaiming uniform: ``U(-a, a)``, ``a = sqrt(6 / fan_in)``."""
    return VarianceScaling(2.0, "fan_in", "uniform")


def lecun_normal() -> VarianceScaling:
    """LeCun normal (truncated): variance ``1 / fan_in``; fnnet's default for kernels."""
    return VarianceScaling(1.0, "fan_in", "truncated_normal")


def lecun_uniform() -> VarianceScaling:
    """LeCun uniform: ``U(-a, a)``, ``a = sqrt(3 / fan_in)``."""
    return VarianceScaling(1.0, "fan_in", "uniform")


def orthogonal(scale: float = 1.0) -> Orthogonal:
    """A random orthogonal matrix times ``scale``; the default for recurrent kernels."""
    return Orthogonal(scale)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_normal = he_normal
kaiming_uniform = he_uniform
