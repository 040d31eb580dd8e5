"""One streamed batch's checks: numeric dtypes, a pair of arrays, shapes held to the first batch's.

``fnnet.training.validation`` checks the first batch of a stream against the model;
``BatchChecker`` then holds every later batch to it as the batch arrives.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from fnnet.core import format_shape

__all__ = ["BatchChecker", "as_pair", "check_labels", "is_numeric"]


def is_numeric(dtype: Any) -> bool:
    """Whether ``dtype`` is one ``fit`` trains on: numbers of any width, bfloat16 and float16 included,
    and booleans; not object, string or structured dtypes.

    ``np.issubdtype(bfloat16, np.number)`` is False (bfloat16 is an ``ml_dtypes`` extension type), so
    JAX's ``issubdtype``, which knows the extension types, decides.
    """
    return bool(jax.dtypes.issubdtype(dtype, np.number) or np.dtype(dtype) == np.bool_)


def check_labels(y: Any, classes: int, where: str) -> None:
    """Refuse integer class labels outside ``0..classes - 1``; ``where`` starts the message."""
    if not len(y):
        return
    y = np.asarray(y)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"{where} labels must be in 0..{classes - 1} (the model has {classes} outputs), found {bad}"
        )


def as_pair(batch: Any, where: str) -> tuple[Any, Any]:
    """A streamed batch as ``(x, y)`` arrays (NumPy and JAX arrays are kept as they are), or an error
    that starts with ``where``, the batch's place in the stream."""
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        got = f"a {type(batch).__name__}" + (f" of {len(batch)}" if isinstance(batch, tuple | list) else "")
        raise TypeError(
            f"{where} must be a pair (x, y) of arrays [B, ...], got {got}; map each element of the "
            "stream to a tuple (inputs, targets)"
        )
    pair = []
    for name, value in zip("xy", batch, strict=True):
        if not (hasattr(value, "shape") and hasattr(value, "dtype")):
            try:
                value = np.asarray(value)
            except ValueError:
                raise ValueError(f"{where}: {name} is ragged, not one array [B, ...]") from None
        if len(value.shape) == 0:
            raise ValueError(f"{where}: {name} must be an array [B, ...], got a scalar")
        if not is_numeric(value.dtype):
            raise TypeError(f"{where}: {name} must be numeric, got dtype {value.dtype}")
        pair.append(value)
    return pair[0], pair[1]


class BatchChecker:
    """Holds every batch of a stream to the first one's shapes and dtypes, and its labels in range.

    Args:
        x, y: the first batch.
        classes: the model's number of classes when ``y`` holds integer class labels, else None.
        name: the stream's name in messages.
        whole_batches: every batch must have the first one's size too (training: one compiled
            step); else only the per-example shapes must match (evaluation takes a last partial batch).
    """

    def __init__(self, x: Any, y: Any, classes: int | None, name: str, whole_batches: bool) -> None:
        self.classes, self.name, self.whole_batches = classes, name, whole_batches
        self.expected = [(tuple(a.shape), np.dtype(a.dtype)) for a in (x, y)]

    def __call__(self, batch: Any, index: int, epoch: int) -> tuple[Any, Any]:
        """``batch`` as ``(x, y)``, or an error naming it: batch ``index`` (from 0) of epoch ``epoch``."""
        where = f"fit: batch {index} (epoch {epoch + 1}) of {self.name}"
        pair = as_pair(batch, where)
        for name, array, (shape, dtype) in zip("xy", pair, self.expected, strict=True):
            got = tuple(array.shape)
            same = got == shape if self.whole_batches else got[1:] == shape[1:]
            if not same or np.dtype(array.dtype) != dtype:
                hint = (
                    "; every batch must have the first one's shape (drop the last partial batch, e.g. "
                    "drop_remainder=True)"
                    if self.whole_batches and got[1:] == shape[1:]
                    else ""
                )
                raise ValueError(
                    f"{where}: {name} is {format_shape(got)} {np.dtype(array.dtype)} but batch 0 was "
                    f"{format_shape(shape)} {dtype}{hint}"
                )
        if len(pair[0]) != len(pair[1]):
            raise ValueError(f"{where}: x has {len(pair[0])} examples but y has {len(pair[1])}")
        if self.classes is not None:
            check_labels(pair[1], self.classes, f"{where}: y")
        return pair
