"""``fit``'s input checks: everything about the data that can be wrong, said before the first step.

Arrays are checked whole (``validate``); a stream of ``(x, y)`` batches (``fnnet.training.streams``)
has its first batch checked the same way (``validate_stream``), and every later batch is held to the
first one's shapes as it arrives (``streams.BatchChecker``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from fnnet.core import ShapeError, format_shape
from fnnet.training.batches import BatchChecker, as_pair, check_labels, is_numeric
from fnnet.training.epochs import check_batch_size
from fnnet.training.streams import Stream

__all__ = ["is_pair", "validate", "validate_stream"]


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
    epochs: int = 1,
) -> tuple[np.ndarray, np.ndarray, Any]:
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
        validation_data: ``(x_val, y_val)``, a stream of ``(x, y)`` batches, or None.
        epochs: the epochs asked for (a one-shot validation stream serves only one).

    Returns:
        ``(x, y, validation_data)``: NumPy arrays, and the validation data as a pair of NumPy arrays,
        a ``Stream`` or None.
    """
    _check_optimizer(optimizer)
    _check_key(key)
    x, y = _as_array(x, "x"), _as_array(y, "y")
    check_batch_size(batch_size, len(x), "fit")
    in_shape = tuple(x.shape[1:])
    if params is None:
        _, params = jax.eval_shape(lambda k: model.init(k, in_shape), jax.random.key(0))
    _check_pair(model, loss, params, x, y, in_shape, ("x", "y"))
    return x, y, _check_validation(model, loss, params, validation_data, in_shape, epochs)


def validate_stream(
    model: Any,
    loss: Callable,
    optimizer: Any,
    key: Any,
    source: Any,
    batch_size: int | None,
    params: Any = None,
    validation_data: Any = None,
    epochs: int = 1,
    *,
    fused: bool = False,
    data_parallel: bool = False,
) -> tuple[Stream, Any]:
    """``validate`` for a stream of ``(x, y)`` batches: its first batch is checked as arrays are.

    Args:
        model, loss, optimizer, key, params, validation_data, epochs: as for ``validate``.
        source: the training batches, an iterable of ``(x, y)``; its first batch is read.
        batch_size: None, or the batch size asked for, which must be the first batch's.
        fused, data_parallel: ``fit``'s flags; a stream refuses both.

    Returns:
        ``(stream, validation_data)``: a ``fnnet.training.streams.Stream`` whose ``checker`` every
        later training batch passes, and the validation data as for ``validate``.
    """
    _check_optimizer(optimizer)
    _check_key(key)
    if hasattr(source, "shape") or hasattr(source, "__array__"):
        raise TypeError(
            "fit: y is missing: pass the targets y [N, ...] with the inputs x, or pass x alone as an "
            f"iterable of (x, y) batches to stream them (got an array of shape {list(np.shape(source))})"
        )
    stream = Stream(source, "the training stream", fused=fused, data_parallel=data_parallel)
    stream.check_epochs(epochs)
    x, y = as_pair(stream.peek(), f"fit: batch 0 of {stream.name}")
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size != len(x)):
        raise ValueError(
            f"fit: batch_size={batch_size!r} but the first batch of {stream.name} has {len(x)} examples; "
            "with a stream the batches set the batch size: leave batch_size out or make them match"
        )
    in_shape = tuple(x.shape[1:])
    if params is None:
        _, params = jax.eval_shape(lambda k: model.init(k, in_shape), jax.random.key(0))
    names = (f"batch 0 of {stream.name}: x", f"batch 0 of {stream.name}: y")
    classes = _check_pair(model, loss, params, x, y, in_shape, names)
    stream.checker = BatchChecker(x, y, classes, stream.name, whole_batches=True)
    return stream, _check_validation(model, loss, params, validation_data, in_shape, epochs)


def _check_validation(
    model: Any, loss: Callable, params: Any, validation_data: Any, in_shape: tuple, epochs: int
) -> Any:
    """The validation data checked: None, a pair of NumPy arrays, or a Stream with its checker."""
    if validation_data is None:
        return None
    streamed = not is_pair(validation_data)
    if streamed and isinstance(validation_data, tuple | list) and not _is_batch(validation_data[:1]):
        raise TypeError(
            "fit: validation_data must be a pair (x_val, y_val) or an iterable of (x, y) batches, got a "
            f"{type(validation_data).__name__} of {len(validation_data)} that is neither"
        )
    if streamed:
        validation_data = Stream(validation_data, "the validation stream")
        validation_data.check_epochs(epochs)
        x_val, y_val = as_pair(validation_data.peek(), f"fit: batch 0 of {validation_data.name}")
    else:
        x_val, y_val = (_as_array(a, f"validation {n}") for a, n in zip(validation_data, "xy", strict=True))
    if tuple(x_val.shape[1:]) != in_shape:
        raise ValueError(
            f"fit: validation x has examples of shape {list(x_val.shape[1:])} but the training x "
            f"has {list(in_shape)}; they must match"
        )
    try:
        classes = _check_pair(model, loss, params, x_val, y_val, in_shape, ("validation x", "validation y"))
    except ShapeError as err:
        raise err.within("validation data") from None
    if not streamed:
        return x_val, y_val
    validation_data.checker = BatchChecker(x_val, y_val, classes, validation_data.name, whole_batches=False)
    return validation_data


def is_pair(value: Any) -> bool:
    """Whether ``validation_data`` is one pair ``(x_val, y_val)`` rather than a list of batches.

    A tuple or list of two counts as a pair unless both its items are themselves pairs of arrays
    (``[(x0, y0), (x1, y1)]``, two batches).
    """
    if not isinstance(value, tuple | list) or len(value) != 2:
        return False
    return not _is_batch(value)


def _is_batch(items: Any) -> bool:
    """Whether every item is a pair of arrays, as a list of batches holds (and a pair of rows does not)."""
    return bool(items) and all(
        isinstance(v, tuple | list) and len(v) == 2 and all(hasattr(a, "shape") for a in v) for v in items
    )


def _check_pair(
    model: Any, loss: Callable, params: Any, x: Any, y: Any, in_shape: tuple, names: tuple
) -> int | None:
    """Check one data set (or one batch) against the model; return the number of classes when ``y``
    holds integer class labels, else None."""
    if len(x) != len(y):
        raise ValueError(
            f"fit: {names[0]} has {len(x)} examples but {names[1]} has {len(y)}; they must match"
        )
    for name, arr in zip(names, (x, y), strict=True):
        if not is_numeric(arr.dtype):
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
    if not (np.issubdtype(y.dtype, np.integer) and y.ndim == len(out.shape) - 1):
        return None
    check_labels(y, out.shape[-1], f"fit: {names[1]}")
    return int(out.shape[-1])


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
            f"a {type(value).__name__}, which has no length; collect it first, e.g. np.stack(list(...)), or, "
            "if it yields (x, y) batches, pass it as x alone (y left out) to stream it"
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
