"""Sequence data: time series, forecasting windows, a time-ordered split, a character vocabulary.

Scaling for forecasting is ``fnnet.data.Standardizer`` fitted on the training part of the series
only, so no statistic of the test period leaks into training.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import pathlib

import numpy as np
from numpy.typing import ArrayLike

from fnnet.data.idx import _looked_in, default_data_dir

__all__ = [
    "SERIES",
    "CharVocabulary",
    "language_model_windows",
    "load_series",
    "load_text",
    "sliding_windows",
    "time_ordered_split",
]

# name -> (file under timeseries/, period of its seasonality in steps)
SERIES = {
    "airline-passengers": ("airline-passengers.csv", 12),
    "monthly-sunspots": ("monthly-sunspots.csv", 132),  # the ~11-year solar cycle
    "daily-min-temperatures": ("daily-min-temperatures.csv", 365),
}


def load_series(name: str, data_dir: str | os.PathLike | None = None) -> np.ndarray:
    """A univariate series from ``<data_dir>/timeseries`` as float32 values ``[N]`` in time order.

    Args:
        name: a key of ``SERIES``.
        data_dir: the shared data folder (default ``default_data_dir()``).

    Raises:
        KeyError: an unknown name.
        FileNotFoundError, ValueError: a missing or malformed file (the message names it).
    """
    if name not in SERIES:
        raise KeyError(f"load_series: unknown series {name!r}; known: {sorted(SERIES)}")
    path = pathlib.Path(data_dir or default_data_dir()) / "timeseries" / SERIES[name][0]
    if not path.is_file():
        raise FileNotFoundError(f"load_series: {path} not found; {_looked_in(data_dir or None)}")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    values = []
    for line, row in enumerate(rows[1:], start=2):
        try:
            values.append(float(row[1]))
        except (IndexError, ValueError):
            raise ValueError(f"load_series: {path}, line {line}: expected 'date,value', got {row}") from None
    return np.asarray(values, np.float32)


def sliding_windows(series: ArrayLike, window: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every ``window`` consecutive steps as an input and the next ``horizon`` steps as its target.

    Args:
        series: ``[N]`` or ``[N, F]`` values in time order.
        window: the number of past steps each input holds.
        horizon: the number of future steps to predict.

    Returns:
        ``(x, y)`` with ``x: [M, window, F]`` (``F = 1`` for a 1-D series) and ``y: [M, horizon]``
        (1-D series) or ``[M, horizon, F]``, ``M = N - window - horizon + 1``; window ``i`` is
        ``series[i : i + window]`` and its target ``series[i + window : i + window + horizon]``.
    """
    series = np.asarray(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"sliding_windows: expected a series [N] or [N, F], got shape {series.shape}")
    if window < 1 or horizon < 1:
        raise ValueError(f"sliding_windows: window and horizon must be >= 1, got {window}, {horizon}")
    m = len(series) - window - horizon + 1
    if m < 1:
        raise ValueError(
            f"sliding_windows: a series of {len(series)} steps is too short for window {window} "
            f"plus horizon {horizon}"
        )
    starts = np.arange(m)[:, None]
    x = series[starts + np.arange(window)[None, :]]  # [M, window, (F)]
    y = series[starts + window + np.arange(horizon)[None, :]]  # [M, horizon, (F)]
    if series.ndim == 1:
        x = x[..., None]
    return x, y


def time_ordered_split(
    series: ArrayLike, test_fraction: float = 0.2, context: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split a series in time: the first part for training, the last ``test_fraction`` for testing.

    Args:
        series: ``[N, ...]`` in time order (never shuffled).
        test_fraction: the fraction of steps whose values are test targets, in (0, 1).
        context: prepend this many of the last training steps to the test part, so that windows of
            that length can predict every test step (they are inputs only, never targets).

    Returns:
        ``(train, test)``: ``series[:N - n_test]`` and ``series[N - n_test - context:]``.
    """
    series = np.asarray(series)
    if not 0 < test_fraction < 1:
        raise ValueError(f"time_ordered_split: test_fraction must be in (0, 1), got {test_fraction}")
    n_test = max(1, round(len(series) * test_fraction))
    cut = len(series) - n_test
    if context < 0 or context > cut:
        raise ValueError(f"time_ordered_split: context must be in 0..{cut}, got {context}")
    return series[:cut], series[cut - context :]


def load_text(path: str | os.PathLike | None = None) -> str:
    """The tiny-shakespeare corpus (or the text file at ``path``)."""
    given = bool(path)
    path = pathlib.Path(path or default_data_dir() / "text" / "tinyshakespeare" / "input.txt")
    if not path.is_file():
        where = "the path was given" if given else _looked_in(None)
        raise FileNotFoundError(f"load_text: {path} not found; {where}")
    return path.read_text()


@dataclasses.dataclass(frozen=True)
class CharVocabulary:
    """A character vocabulary: ``encode`` text to int32 ids ``0..V-1`` and ``decode`` them back.

    Attributes:
        chars: the characters, in id order (sorted when built with ``from_text``).
    """

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> CharVocabulary:
        """The sorted set of characters in ``text``."""
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        """The number of characters ``V``."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``text`` as ids ``[len(text)]`` int32; an unknown character raises KeyError naming it."""
        index = {c: i for i, c in enumerate(self.chars)}
        try:
            return np.fromiter((index[c] for c in text), np.int32, len(text))
        except KeyError as err:
            position = next(i for i, c in enumerate(text) if c not in index)
            raise KeyError(
                f"CharVocabulary: character {err.args[0]!r} at position {position} is not in the "
                f"vocabulary of {self.size} characters"
            ) from None

    def decode(self, ids: ArrayLike) -> str:
        """Ids ``[n]`` back to text; an id outside ``0..V-1`` raises ValueError."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"CharVocabulary: ids must be in 0..{self.size - 1}, got {ids.min()}..{ids.max()}"
            )
        return "".join(self.chars[i] for i in ids)


def language_model_windows(
    ids: ArrayLike, length: int, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Next-token training pairs: ``x = ids[s : s + length]``, ``y = ids[s + 1 : s + length + 1]``.

    Args:
        ids: ``[N]`` token ids.
        length: the sequence length ``T``.
        stride: the step between window starts (default ``length``: non-overlapping windows).

    Returns:
        ``(x, y)``, each ``[M, T]`` of the ids' dtype.
    """
    ids = np.asarray(ids)
    stride = stride or length
    if ids.ndim != 1 or len(ids) < length + 1:
        raise ValueError(f"language_model_windows: need ids [N] with N > {length}, got shape {ids.shape}")
    starts = np.arange(0, len(ids) - length, stride)[:, None]
    return ids[starts + np.arange(length)[None, :]], ids[starts + 1 + np.arange(length)[None, :]]
