"""Pooling on channels-last inputs: ``MaxPool``, ``AvgPool``, ``GlobalAvgPool``, ``GlobalMaxPool``.

Windows slide over the spatial axes of ``[..., *spatial, C]``; channels are pooled separately. When
the windows do not overlap (``strides == window``, the usual ``MaxPool(2)``), pooling is a reshape
to ``[N, out_1, k_1, out_2, k_2, C]`` and a reduction over the ``k`` axes. The maximum is a running
maximum over the window positions that remembers which position won, so its gradient is one select
over the input, where XLA:CPU's ``reduce_window`` gradient (select-and-scatter) is ~10-100x slower
than its forward pass and ``jnp.max``'s gradient takes three passes. ``impl="xla"`` keeps
``lax.reduce_window``, the reference the fast path is tested against; ``impl="auto"`` takes the reshape
path on CPU only, where it was measured; elsewhere it takes XLA's own pooling.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from fnnet.core import Array, Layer, Params, Shape, ShapeError, check_params, format_shape
from fnnet.layers._spatial import (
    Padding,
    Pads,
    as_tuple,
    check_impl,
    cpu_tuned,
    fold_batch,
    normalize_padding,
    normalized_padding,
    output_sizes,
    resolve_pads,
    spatial_tuple,
    unfold_batch,
)

POOL_IMPLS = ("auto", "xla", "reshape")


class _Pool(Layer):
    """Shared geometry of MaxPool and AvgPool (fields declared by the subclasses)."""

    window: int | tuple[int, ...]
    strides: int | tuple[int, ...] | None
    padding: str | int | tuple
    impl: str

    def __post_init__(self) -> None:
        name = type(self).__name__
        window = self.window
        if isinstance(window, int) and not isinstance(window, bool):
            window = (window, window)
        if not isinstance(window, tuple | list) or not 1 <= len(window) <= 3:
            raise ValueError(
                f"{name}: window must be an int (a square 2-D window) or a tuple of 1, 2 or 3 "
                f"ints, got {self.window!r}"
            )
        rank = len(window)
        setattr_ = object.__setattr__
        setattr_(self, "window", as_tuple("window", window, rank, name))
        strides = self.window if self.strides is None else self.strides
        setattr_(self, "strides", as_tuple("strides", strides, rank, name))
        setattr_(self, "padding", normalize_padding(self.padding, rank, name))
        _check_half_window(name, self._window, self._padding)
        check_impl(name, self.impl, POOL_IMPLS)

    @property
    def rank(self) -> int:
        """The number of spatial axes."""
        return len(self._window)

    @property
    def _window(self) -> tuple[int, ...]:
        return spatial_tuple(self.window, "window")

    @property
    def _strides(self) -> tuple[int, ...]:
        return spatial_tuple(self.strides, "strides")

    @property
    def _padding(self) -> Padding:
        return normalized_padding(self.padding)

    def _geometry(self, shape: Shape) -> tuple[Pads, Shape]:
        rank = self.rank
        if len(shape) < rank + 1:
            raise ShapeError(
                self,
                f"expected input [..., {', '.join(['spatial'] * rank)}, channels] with {rank} "
                f"spatial axes, got {format_shape(shape)}",
            )
        example = tuple(shape[len(shape) - rank - 1 :])
        ones = (1,) * rank
        pads = resolve_pads(self._padding, example[:-1], self._window, self._strides, ones)
        out = output_sizes(example[:-1], pads, self._window, self._strides, ones)
        if min(out) < 1:
            raise ShapeError(
                self,
                f"input {format_shape(example)} is smaller than the window {format_shape(self._window)}",
            )
        return pads, (*out, example[-1])

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        _, out_shape = self._geometry(tuple(in_shape))
        return out_shape, {}

    def _pool(self, x: Array, reducer: str, init_value: float) -> tuple[Array, Pads]:
        """Reduce each window of ``x: [..., *spatial, C]`` with ``"max"`` or ``"sum"``."""
        pads, _ = self._geometry(tuple(x.shape))
        xf, batch = fold_batch(x, self.rank + 1)
        fast = self.impl == "reshape" or (self.impl == "auto" and cpu_tuned())
        if fast and self._window == self._strides:
            y = _pool_reshape(xf, self._window, pads, reducer, init_value)
        else:
            op = lax.max if reducer == "max" else lax.add
            y = lax.reduce_window(
                xf,
                np.asarray(init_value, xf.dtype),  # concrete, so lax picks its differentiable max/add
                op,
                (1, *self._window, 1),
                (1, *self._strides, 1),
                ((0, 0), *pads, (0, 0)),
            )
        return unfold_batch(y, batch), pads


def _check_half_window(name: str, window: tuple[int, ...], padding: Padding) -> None:
    """Refuse explicit padding wider than ``window // 2`` on a side (PyTorch's rule; SAME never is).

    Wider padding makes whole windows of padding: ``-inf`` from MaxPool, ``0 / 0`` from AvgPool.
    """
    if isinstance(padding, str):
        return
    halves = tuple(k // 2 for k in window)
    if any(max(pair) > half for pair, half in zip(padding, halves, strict=True)):
        raise ValueError(
            f"{name}: padding {padding} is too wide for the window {window}: each side may pad at "
            f"most window // 2 = {halves} (as in PyTorch), else whole windows are padding"
        )


def _pool_reshape(x: Array, window: tuple[int, ...], pads: Pads, reducer: str, init_value: float) -> Array:
    """Non-overlapping pooling of ``x: [N, *sp, C]`` as pad, crop, reshape and one reduction."""
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)), constant_values=init_value)
    out = [n // k for n, k in zip(x.shape[1:-1], window, strict=True)]
    crop = (slice(None), *(slice(0, o * k) for o, k in zip(out, window, strict=True)))
    x = x[crop]
    split = [d for o, k in zip(out, window, strict=True) for d in (o, k)]
    x = x.reshape((x.shape[0], *split, x.shape[-1]))  # [N, o_1, k_1, ..., C]
    if reducer == "max":
        return _window_max(x, tuple(window))
    return jnp.sum(x, axis=tuple(range(2, 2 * len(window) + 1, 2)))


def _window_positions(window: tuple[int, ...]) -> tuple[list[tuple[slice | int, ...]], np.ndarray]:
    """``(slices, numbers)`` for windows ``[N, o_1, k_1, ..., C]`` of size ``window = (k_1, ...)``.

    ``slices[i]`` selects window position ``i`` (row-major over the ``k`` axes) from every window;
    ``numbers`` is ``[1, 1, k_1, 1, k_2, ..., 1]`` holding each position's ``i`` in its place.
    """
    slices = [
        (slice(None), *(item for p in position for item in (slice(None), p)), slice(None))
        for position in itertools.product(*(range(k) for k in window))
    ]
    numbers = np.arange(math.prod(window), dtype=np.int32)
    return slices, numbers.reshape([1, *(d for k in window for d in (1, k)), 1])


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _window_max(x: Array, window: tuple[int, ...]) -> Array:
    """The maximum of each window of ``x: [N, o_1, k_1, ..., C]`` -> ``[N, o_1, ..., C]``.

    A running maximum over the window's positions (one fused pass that also absorbs a preceding
    bias and activation). The gradient goes to the *first* maximal input of each window
    (row-major), as PyTorch's does, through one select over the input.
    """
    return _window_max_fwd(x, window)[0]


def _window_max_fwd(x: Array, window: tuple[int, ...]) -> tuple[Array, Array]:
    slices, _ = _window_positions(window)
    best = x[slices[0]]
    first = jnp.zeros(best.shape, jnp.int32)
    for i, index in enumerate(slices[1:], start=1):
        candidate = x[index]
        first = jnp.where(candidate > best, i, first)
        best = jnp.maximum(best, candidate)  # propagates NaN, as jnp.max does
    return best, first


def _window_max_bwd(window: tuple[int, ...], first: Array, g: Array) -> tuple[Array]:
    _, numbers = _window_positions(window)
    spread = (slice(None), *(item for _ in window for item in (slice(None), None)), slice(None))
    return (jnp.where(numbers == first[spread], g[spread], jnp.zeros((), g.dtype)),)


_window_max.defvjp(_window_max_fwd, _window_max_bwd)


def _real_counts(
    sizes: tuple[int, ...], pads: Pads, window: tuple[int, ...], strides: tuple[int, ...]
) -> np.ndarray:
    """How many real (unpadded) pixels each output window covers, ``[*out]`` (a NumPy constant)."""
    per_axis = []
    out = output_sizes(sizes, pads, window, strides, (1,) * len(sizes))
    for n, (lo, _), k, s, o in zip(sizes, pads, window, strides, out, strict=True):
        start = np.arange(o) * s - lo
        per_axis.append(np.minimum(start + k, n) - np.maximum(start, 0))
    counts = per_axis[0]
    for axis_counts in per_axis[1:]:
        counts = np.multiply.outer(counts, axis_counts)
    return counts.astype(np.float32)


@dataclasses.dataclass(frozen=True)
class MaxPool(_Pool):
    """The maximum over each window (padding never wins: it is ``-inf``).

    Args:
        window: an int (a square 2-D window) or a tuple of 1, 2 or 3 ints setting the spatial rank.
        strides: an int or one per spatial axis; default ``window`` (non-overlapping windows).
        padding: ``"VALID"`` (default), ``"SAME"``, an int or per-axis ``(low, high)`` pairs of at
            most ``window // 2`` each (wider is refused: it makes windows of padding only).
        impl: ``"auto"`` (on CPU reshape when ``strides == window``, else ``"xla"``; on other
            backends ``"xla"``), ``"xla"`` (``lax.reduce_window``) or ``"reshape"`` (when
            ``strides == window``, else ``"xla"``). Where several inputs tie for the maximum (as
            whole windows of zeros after a ReLU do), the gradient goes to the first of them in
            row-major window order, as in PyTorch, on both paths.

    Shapes: ``x: [..., *spatial, C] -> y: [..., *out_spatial, C]``. No params.

    Example:
        >>> MaxPool(2).apply({}, jnp.ones((8, 28, 28, 32))).shape
        (8, 14, 14, 32)
    """

    window: int | tuple[int, ...] = 2
    strides: int | tuple[int, ...] | None = None
    padding: str | int | tuple = "VALID"
    impl: str = "auto"

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {})
        return self._pool(x, "max", -jnp.inf)[0]


@dataclasses.dataclass(frozen=True)
class AvgPool(_Pool):
    """The mean over each window of the *real* pixels: padding is not counted.

    This is PyTorch's ``AvgPool(count_include_pad=False)``: with ``"SAME"`` padding a border window
    averages only the pixels inside the image.

    Args:
        window: an int (a square 2-D window) or a tuple of 1, 2 or 3 ints setting the spatial rank.
        strides: an int or one per spatial axis; default ``window``.
        padding: ``"VALID"`` (default), ``"SAME"``, an int or per-axis ``(low, high)`` pairs of at
            most ``window // 2`` each, as for MaxPool.
        impl: ``"auto"``, ``"xla"`` or ``"reshape"``, as for MaxPool.

    Shapes: ``x: [..., *spatial, C] -> y: [..., *out_spatial, C]``. No params.
    """

    window: int | tuple[int, ...] = 2
    strides: int | tuple[int, ...] | None = None
    padding: str | int | tuple = "VALID"
    impl: str = "auto"

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {})
        sums, pads = self._pool(x, "sum", 0.0)
        sizes = x.shape[x.ndim - self.rank - 1 : -1]
        counts = _real_counts(sizes, pads, self._window, self._strides)[..., None]  # [*out, 1]
        return sums / jnp.asarray(counts, sums.dtype).reshape((1,) * (sums.ndim - counts.ndim) + counts.shape)


@dataclasses.dataclass(frozen=True)
class _GlobalPool(Layer):
    """Reduces all spatial axes with ``_reduce``: ``[..., *spatial, C] -> [..., C]``."""

    rank: int = 2
    _reduce: ClassVar[Callable[..., Array]] = staticmethod(jnp.mean)

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        _check_rank(self, tuple(in_shape))
        return (in_shape[-1],), {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {})
        _check_rank(self, tuple(x.shape))
        return self._reduce(x, axis=tuple(range(x.ndim - self.rank - 1, x.ndim - 1)))


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool(_GlobalPool):
    """The mean over all spatial axes: ``[..., *spatial, C] -> [..., C]``.

    Args:
        rank: the number of spatial axes (2 for images).
    """

    _reduce = staticmethod(jnp.mean)


@dataclasses.dataclass(frozen=True)
class GlobalMaxPool(_GlobalPool):
    """The maximum over all spatial axes: ``[..., *spatial, C] -> [..., C]``.

    Args:
        rank: the number of spatial axes (2 for images).
    """

    _reduce = staticmethod(jnp.max)


def _check_rank(layer: _GlobalPool, shape: Shape) -> None:
    if len(shape) < layer.rank + 1 or math.prod(shape[len(shape) - layer.rank - 1 : -1]) == 0:
        raise ShapeError(
            layer,
            f"expected input [..., {', '.join(['spatial'] * layer.rank)}, channels] with "
            f"{layer.rank} non-empty spatial axes, got {format_shape(shape)}",
        )
