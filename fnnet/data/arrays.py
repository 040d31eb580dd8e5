"""In-memory array data: a shuffled split, standardisation fitted on training data, minibatches."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import jax
import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Standardizer", "minibatches", "train_test_split"]

Examples = np.ndarray | jax.Array  # [N, ...]: has a len() and rows to index


def _check_lengths(name: str, *arrays: Examples) -> int:
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"{name}: arrays differ in length: {[len(a) for a in arrays]}")
    return lengths.pop()


def train_test_split(
    x: Examples, y: Examples, *, test_fraction: float = 0.2, key: jax.Array | int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``(x, y)`` and split off a test (or validation) part.

    Args:
        x: inputs ``[N, ...]``.
        y: targets ``[N, ...]``.
        test_fraction: the fraction of examples in the second part, in (0, 1).
        key: a ``jax.random`` key or an int seed; the same key gives the same split.

    Returns:
        ``(x_train, y_train, x_test, y_test)`` as NumPy arrays.
    """
    n = _check_lengths("train_test_split", x, y)
    if not 0 < test_fraction < 1:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    n_test = max(1, round(n * test_fraction))
    if isinstance(key, int):
        key = jax.random.key(key)
    perm = np.asarray(jax.random.permutation(key, n))
    x, y = np.asarray(x), np.asarray(y)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Per-feature ``(x - mean) / std``, with mean and std fitted on the training data only.

    Attributes:
        mean: per-feature means ``[...features]``.
        std: per-feature standard deviations (a constant feature gets std 1, so it maps to 0).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: ArrayLike) -> Standardizer:
        """Fit on training inputs ``x: [N, ...]`` (statistics over the first axis)."""
        x = np.asarray(x, np.float64)
        std = x.std(axis=0)
        return cls(mean=x.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, x: ArrayLike) -> np.ndarray:
        """Standardise ``x: [N, ...]`` with the fitted statistics (float32)."""
        x = np.asarray(x)
        if x.shape[1:] != self.mean.shape:
            raise ValueError(
                f"Standardizer: fitted on examples of shape {self.mean.shape}, got {x.shape[1:]}"
            )
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: ArrayLike) -> np.ndarray:
        """Map standardised values back to the original scale."""
        return (np.asarray(z) * self.std + self.mean).astype(np.float32)


def minibatches(
    x: Examples, y: Examples, batch_size: int, *, key: jax.Array | None = None, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x_batch, y_batch)`` pairs, shuffled when ``key`` is given.

    Args:
        x: inputs ``[N, ...]``.
        y: targets ``[N, ...]``.
        batch_size: examples per batch.
        key: a ``jax.random`` key to shuffle with (same key, same order); None keeps the order.
        drop_last: drop the final batch if it is smaller than ``batch_size``.

    Yields:
        Batches as NumPy arrays.
    """
    n = _check_lengths("minibatches", x, y)
    if batch_size < 1:
        raise ValueError(f"minibatches: batch_size must be positive, got {batch_size}")
    order = np.arange(n) if key is None else np.asarray(jax.random.permutation(key, n))
    x, y = np.asarray(x), np.asarray(y)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        rows = order[start : start + batch_size]
        yield x[rows], y[rows]
