"""``fit``'s input checks: everything about the data that can be wrong, said before the first step."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from fnnet.core import ShapeError, format_shape
from fnnet.training.epochs import check_batch_size

__all__ = ["validate"]


def validate(
    model: Any,
    loss: Callable,
    optimizer: Any,
    key: Any,
    x: Any,
    y: Any,
    batch_size: int,
    params: Any = None,
    validation_data: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Check ``fit``'s arguments before training: the optimizer, the key, lengths, dtypes, the batch
    size, shapes and labels.

    The model and loss are traced abstractly (``jax.eval_shape``, free of compute) on the whole data
    set's shapes, so a shape mismatch raises the layer's ShapeError quoting the user's shapes, and
    integer labels outside ``0 .. classes - 1`` raise a ValueError, all before anything is compiled
    or run. ``validation_data`` gets the same checks.

    Args:
        model: the model.
        loss: the loss function.
        optimizer: what was passed as the optax optimizer.
        key: what was passed as the ``jax.random`` key.
        x, y: the training inputs and targets, as given.
        batch_size: the requested batch size.
        params: the parameters to start from, or None for fresh ones (then only their shapes are used).
        validation_data: ``(x_val, y_val)`` or None.

    Returns:
        ``(x, y)`` as NumPy arrays.
    """
    _check_optimizer(optimizer)
    _check_key(key)
    x, y = _as_array(x, "x"), _as_array(y, "y")
    check_batch_size(batch_size, len(x), "fit")
    in_shape = tuple(x.shape[1:])
    if params is None:
        _, params = jax.eval_shape(lambda k: model.init(k, in_shape), jax.random.key(0))
    _check_pair(model, loss, params, x, y, in_shape, ("x", "y"))
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise TypeError(
                f"fit: validation_data must be a pair (x_val, y_val), got {type(validation_data)}"
            )
        x_val, y_val = (_as_array(a, f"validation {n}") for a, n in zip(validation_data, "xy", strict=True))
        if tuple(x_val.shape[1:]) != in_shape:
            raise ValueError(
                f"fit: validation x has examples of shape {list(x_val.shape[1:])} but the training x "
                f"has {list(in_shape)}; they must match"
            )
        try:
            _check_pair(model, loss, params, x_val, y_val, in_shape, ("validation x", "validation y"))
        except ShapeError as err:
            raise err.within("validation data") from None
    return x, y


def _check_pair(
    model: Any, loss: Callable, params: Any, x: np.ndarray, y: np.ndarray, in_shape: tuple, names: tuple
) -> None:
    if len(x) != len(y):
        raise ValueError(
            f"fit: {names[0]} has {len(x)} examples but {names[1]} has {len(y)}; they must match"
        )
    for name, arr in zip(names, (x, y), strict=True):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError(f"fit: {name} must be numeric, got dtype {arr.dtype}")

    def forward(params: Any, xb: jax.Array) -> jax.Array:
        return model.apply_with_state(params, model.init_state(in_shape), xb)[0]

    # The whole data set's shapes (abstract, so free): errors quote the user's [N, ...], not a probe's.
    xb = jax.ShapeDtypeStruct(x.shape, jax.dtypes.canonicalize_dtype(x.dtype))
    yb = jax.ShapeDtypeStruct(y.shape, jax.dtypes.canonicalize_dtype(y.dtype))
    out = jax.eval_shape(forward, params, xb)  # raises a ShapeError naming the layer
    try:
        jax.eval_shape(loss, out, yb)
    except ShapeError as err:
        _explain_extra_axes(loss, out.shape, x.shape, y, err)
        raise
    if np.issubdtype(y.dtype, np.integer) and y.ndim == len(out.shape) - 1 and len(y):
        classes = out.shape[-1]
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"fit: {names[1]} labels must be in 0..{classes - 1} (the model has {classes} outputs), "
                f"found {bad}"
            )


def _explain_extra_axes(
    loss: Callable, out_shape: tuple, x_shape: tuple, y: np.ndarray, err: ShapeError
) -> None:
    """Re-raise a loss's shape error as what it usually is: outputs with axes the targets lack."""
    integer = np.issubdtype(y.dtype, np.integer)
    extra = len(out_shape) - y.ndim - (1 if integer else 0)
    if len(out_shape) <= y.ndim + 1 or extra < 1 or tuple(out_shape[:1]) != tuple(y.shape[:1]):
        return
    axes = "axis" if extra == 1 else "axes"
    raise ShapeError(
        getattr(loss, "__name__", "loss"),
        f"the model's outputs {format_shape(out_shape)} have {extra} more {axes} than the targets "
        f"{format_shape(y.shape)} allow; layers such as Dense act on the last axis only, so the inputs "
        f"{format_shape(x_shape)} kept their other axes: flatten them (fn.Flatten() before the first "
        "Dense) or reduce the extra axes in the model (pooling, or a sequence's last step)",
    ) from err


def _as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a NumPy array ``[N, ...]``, or an error saying what it is and what to pass."""
    if isinstance(value, Iterator) or not (
        hasattr(value, "__len__") or hasattr(value, "__array__") or isinstance(value, numbers.Number)
    ):
        raise TypeError(
            f"fit: {name} must be an array [N, ...] (NumPy, JAX, or a list of equal-shaped rows), got "
            f"a {type(value).__name__}, which has no length; collect it first, e.g. np.stack(list(...))"
        )
    try:
        array = np.asarray(value)
    except ValueError:
        shapes = _row_shapes(value)
        raise ValueError(
            f"fit: {name} is ragged: its rows have different shapes ({' and '.join(shapes)}), so it is "
            "not one array [N, ...]; pad or trim the rows to one shape"
        ) from None
    if array.ndim == 0:
        raise ValueError(f"fit: {name} must be an array [N, ...] with one row per example, got {value!r}")
    return array


def _row_shapes(value: Any) -> list[str]:
    shapes: list[str] = []
    for row in value:
        try:
            shape = format_shape(np.shape(row))
        except ValueError:
            shape = "a ragged row"
        if shape not in shapes:
            shapes.append(shape)
        if len(shapes) == 2:
            break
    return shapes


def _check_optimizer(optimizer: Any) -> None:
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None)):
        return
    expected = "fit: optimizer must be an optax GradientTransformation (with init and update)"
    if callable(optimizer):
        name = getattr(optimizer, "__name__", repr(optimizer))
        if getattr(optimizer, "__module__", "").startswith("optax"):
            raise TypeError(
                f"{expected}, got the function {name} itself: call it with its hyper-parameters, "
                f"e.g. optax.{name}(1e-3)"
            )
        raise TypeError(f"{expected}, got the function {name}: call it to build the optimizer")
    raise TypeError(f"{expected} such as optax.adam(1e-3), got {optimizer!r}")


def _check_key(key: Any) -> None:
    typed = isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    if typed and key.shape == ():
        return
    shape, dtype = getattr(key, "shape", None), getattr(key, "dtype", None)
    if not typed and shape == (2,) and dtype == np.uint32:  # an old-style jax.random.PRNGKey
        return
    got = repr(key) if shape is None else f"an array of shape {format_shape(shape)} and dtype {dtype}"
    hint = "; that is a batch of keys, pass one of them" if typed else ""
    raise TypeError(f"fit: key must be a jax.random key such as jax.random.key(0), got {got}{hint}")
