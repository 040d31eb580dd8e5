"""Loss functions ``loss(predictions, targets) -> scalar``.

Shapes must agree exactly: a ``[B, 1]`` prediction against a ``[B]`` target raises a ShapeError
instead of silently broadcasting to ``[B, B]`` (the classic regression bug). Every loss but
``sum_squared_residuals`` averages over all entries.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.core import ShapeError, format_shape

Array = jax.Array

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mean_absolute_error",
    "mean_squared_error",
    "softmax_cross_entropy",
    "sum_squared_residuals",
]


def _same_shape(name: str, predictions: Array, targets: Array) -> None:
    if tuple(predictions.shape) != tuple(targets.shape):
        hint = ""
        if predictions.shape[:-1] == targets.shape and predictions.shape[-1] == 1:
            hint = f"; reshape the targets to {format_shape(predictions.shape)} (targets[..., None])"
        raise ShapeError(
            name,
            f"predictions {format_shape(predictions.shape)} and targets "
            f"{format_shape(targets.shape)} must have the same shape{hint}",
        )


def sum_squared_residuals(predictions: Array, targets: Array) -> Array:
    """The course's SSR: ``sum((targets - predictions) ** 2)`` over every entry.

    Args:
        predictions: any shape.
        targets: the same shape.

    Returns:
        A scalar.
    """
    _same_shape("sum_squared_residuals", predictions, targets)
    return jnp.sum(jnp.square(targets - predictions))


def mean_squared_error(predictions: Array, targets: Array) -> Array:
    """``mean((targets - predictions) ** 2)`` over every entry (SSR divided by the count)."""
    _same_shape("mean_squared_error", predictions, targets)
    return jnp.mean(jnp.square(targets - predictions))


def mean_absolute_error(predictions: Array, targets: Array) -> Array:
    """``mean(|targets - predictions|)`` over every entry."""
    _same_shape("mean_absolute_error", predictions, targets)
    return jnp.mean(jnp.abs(targets - predictions))


def binary_cross_entropy(probabilities: Array, targets: Array, eps: float = 1e-7) -> Array:
    """Cross-entropy of probabilities (a sigmoid output) against 0/1 targets, averaged.

    ``-mean(t * log(p) + (1 - t) * log(1 - p))`` with ``p`` clipped to ``[eps, 1 - eps]`` so that a
    saturated sigmoid gives a large finite loss, not inf. Prefer ``binary_cross_entropy_with_logits``
    when you have the logits: it is exact where this one clips.

    Args:
        probabilities: values in [0, 1].
        targets: 0/1 (or soft) targets of the same shape.
        eps: the clipping margin.

    Returns:
        A scalar.
    """
    _same_shape("binary_cross_entropy", probabilities, targets)
    p = jnp.clip(probabilities, eps, 1.0 - eps)
    return -jnp.mean(targets * jnp.log(p) + (1.0 - targets) * jnp.log1p(-p))


def binary_cross_entropy_with_logits(logits: Array, targets: Array) -> Array:
    """Binary cross-entropy from logits, ``-mean(t log s(x) + (1 - t) log(1 - s(x)))``, computed stably.

    Uses ``t softplus(-x) + (1 - t) softplus(x)`` (``-log s(x) = softplus(-x)``), finite for any finite
    logit and exact for 0/1 targets at either sign. Its gradient is ``(s(x) - t) / n`` everywhere,
    ``(0.5 - t) / n`` at a logit of exactly 0, as in PyTorch: ``softplus`` is ``logaddexp(x, 0)``, smooth,
    where a ``max(x, 0)`` / ``|x|`` form picks sub-gradients at 0 that do not add up.

    Args:
        logits: any shape.
        targets: 0/1 (or soft) targets of the same shape.

    Returns:
        A scalar.
    """
    _same_shape("binary_cross_entropy_with_logits", logits, targets)
    x = logits
    return jnp.mean(targets * jax.nn.softplus(-x) + (1.0 - targets) * jax.nn.softplus(x))


def _check_concrete_labels(labels: Array, classes: int) -> None:
    """Raise on a label outside ``0..classes-1`` when the labels are known (not traced)."""
    if isinstance(labels, jax.core.Tracer) or labels.size == 0:
        return
    values = np.asarray(labels)
    bad = values[(values < 0) | (values >= classes)]
    if bad.size:
        raise ValueError(
            f"softmax_cross_entropy: integer labels must be in 0..{classes - 1} ({classes} classes), "
            f"found {int(bad[0])} ({bad.size} of {values.size} out of range)"
        )


def softmax_cross_entropy(logits: Array, labels: Array) -> Array:
    """Softmax cross-entropy from logits, averaged over the batch.

    Args:
        logits: ``[..., K]`` unnormalised class scores.
        labels: either integer class indices ``[...]`` in ``0..K-1``, or one-hot/probability targets
            ``[..., K]``.

    Returns:
        A scalar, ``mean(-sum(targets * log_softmax(logits)))``; finite for logits of any finite size.

    Raises:
        ValueError: concrete integer labels (outside ``jit``) with a value outside ``0..K-1``, naming
            the first such label and ``K``. Under ``jit`` (or ``vmap``) labels are not known: each
            example whose label is out of range gets a NaN loss, so the mean is NaN; never another
            class's loss (NumPy-style wrapping would make ``-1`` mean class ``K - 1``).
    """
    log_p = jax.nn.log_softmax(logits, axis=-1)
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if tuple(labels.shape) != tuple(logits.shape[:-1]):
            raise ShapeError(
                "softmax_cross_entropy",
                f"integer labels must have the logits' shape without the class axis, "
                f"{format_shape(logits.shape[:-1])}, got {format_shape(labels.shape)}",
            )
        classes = logits.shape[-1]
        _check_concrete_labels(labels, classes)
        inside = (labels >= 0) & (labels < classes)
        index = jnp.where(inside, labels, 0).astype(jnp.int32)
        picked = jnp.take_along_axis(log_p, index[..., None], axis=-1)[..., 0]
        return -jnp.mean(jnp.where(inside, picked, jnp.nan))
    if tuple(labels.shape) == tuple(logits.shape[:-1]):  # class indices, but not integers
        raise ShapeError(
            "softmax_cross_entropy",
            f"labels {format_shape(labels.shape)} of dtype {labels.dtype} have the shape of class indices, "
            f"which must be integers: pass integer class labels (labels.astype(np.int32)), or one-hot "
            f"targets of the logits' shape {format_shape(logits.shape)}",
        )
    _same_shape("softmax_cross_entropy", logits, labels)
    return -jnp.mean(jnp.sum(labels * log_p, axis=-1))
