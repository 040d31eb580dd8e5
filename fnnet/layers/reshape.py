"""Shape-only layers: ``Flatten`` and ``Reshape`` of each example (batch axes untouched)."""

from __future__ import annotations

import dataclasses
import math

from fnnet.core import Array, Layer, Params, Shape, ShapeError, check_params, format_shape


@dataclasses.dataclass(frozen=True)
class Flatten(Layer):
    """Merge the last ``axes`` axes of each example into one.

    A layer cannot tell batch axes from example axes by looking at an array, so the number of
    example axes to merge is part of the config: 3 for an image ``[H, W, C]`` (the default), 2 for a
    sequence ``[T, C]``.

    Args:
        axes: how many trailing axes to merge (at least 1).

    Shapes: ``x: [..., d_1, ..., d_axes] -> y: [..., d_1 * ... * d_axes]``. No params.

    Example:
        >>> Flatten().apply({}, jnp.ones((8, 7, 7, 64))).shape
        (8, 3136)
    """

    axes: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.axes, int) or self.axes < 1:
            raise ValueError(f"Flatten: axes must be a positive int, got {self.axes!r}")

    def _check(self, shape: Shape) -> None:
        if len(shape) < self.axes:
            raise ShapeError(
                self,
                f"merges the last {self.axes} axes but got {format_shape(shape)}; "
                f"set Flatten(axes={len(shape)}) for examples of that rank",
            )

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        self._check(tuple(in_shape))
        keep = len(in_shape) - self.axes
        return (*in_shape[:keep], math.prod(in_shape[keep:])), {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {})
        self._check(tuple(x.shape))
        lead = x.shape[: x.ndim - self.axes]
        return x.reshape((*lead, math.prod(x.shape[x.ndim - self.axes :])))  # [..., prod]


@dataclasses.dataclass(frozen=True)
class Reshape(Layer):
    """Reshape each example to ``shape`` (row-major, like ``numpy.reshape``).

    Args:
        shape: the per-example output shape; one entry may be -1 (inferred).
        axes: how many trailing input axes form one example. None (the default) takes the fewest
            trailing axes whose sizes multiply to the size of ``shape``, which is right unless an
            example starts with size-1 axes; it must be given when ``shape`` contains -1.

    Shapes: ``x: [..., *in_example] -> y: [..., *shape]``. No params.

    Example:
        >>> Reshape((7, 7, 64)).apply({}, jnp.ones((8, 3136))).shape
        (8, 7, 7, 64)
    """

    shape: tuple[int, ...]
    axes: int | None = None

    def __post_init__(self) -> None:
        shape = tuple(self.shape) if isinstance(self.shape, tuple | list) else None
        if (
            shape is None
            or not all(isinstance(d, int) and (d >= 1 or d == -1) for d in shape)
            or shape.count(-1) > 1
        ):
            raise ValueError(
                f"Reshape: shape must be a tuple of positive ints with at most one -1, got {self.shape!r}"
            )
        if -1 in shape and self.axes is None:
            raise ValueError(f"Reshape: shape {shape} contains -1, so axes= must be given")
        object.__setattr__(self, "shape", shape)

    def _split(self, shape: Shape) -> tuple[Shape, Shape]:
        """(batch shape, output example shape) for an input of ``shape``."""
        if self.axes is not None:
            axes = self.axes
            if len(shape) < axes:
                raise ShapeError(self, f"expected at least {axes} axes, got {format_shape(shape)}")
        else:
            target, size, axes = math.prod(self.shape), 1, 0
            while size != target and axes < len(shape):
                axes += 1
                size *= shape[len(shape) - axes]
            if size != target:
                raise ShapeError(
                    self,
                    f"no trailing axes of {format_shape(shape)} hold {target} elements for "
                    f"shape {format_shape(self.shape)}",
                )
        example = tuple(shape[len(shape) - axes :])
        size = math.prod(example)
        known = math.prod(d for d in self.shape if d != -1)
        if -1 in self.shape:
            if size % known:
                raise ShapeError(self, f"cannot reshape an example {format_shape(example)} to {self.shape}")
            out = tuple(size // known if d == -1 else d for d in self.shape)
        else:
            out = self.shape
        if math.prod(out) != size:
            raise ShapeError(
                self,
                f"an example {format_shape(example)} has {size} elements, "
                f"shape {format_shape(self.shape)} needs {math.prod(out)}",
            )
        return tuple(shape[: len(shape) - axes]), out

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        return self._split(tuple(in_shape))[1], {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {})
        batch, out = self._split(tuple(x.shape))
        return x.reshape((*batch, *out))
