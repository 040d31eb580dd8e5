"""Evaluation metrics: accuracy and the confusion matrix."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fnnet.core import ShapeError, format_shape

Array = jax.Array

__all__ = ["accuracy", "binary_accuracy", "confusion_matrix"]


def accuracy(scores: Array, labels: Array) -> Array:
    """Fraction of examples whose highest score is at the true class.

    Args:
        scores: ``[..., K]`` logits or probabilities.
        labels: integer classes ``[...]``, or one-hot ``[..., K]``.

    Returns:
        A scalar in [0, 1].
    """
    if labels.shape == scores.shape and not jnp.issubdtype(labels.dtype, jnp.integer):
        labels = jnp.argmax(labels, axis=-1)
    if tuple(labels.shape) != tuple(scores.shape[:-1]):
        raise ShapeError(
            "accuracy",
            f"labels {format_shape(labels.shape)} do not match scores {format_shape(scores.shape)}",
        )
    return jnp.mean(jnp.argmax(scores, axis=-1) == labels)


def binary_accuracy(probabilities: Array, targets: Array, threshold: float = 0.5) -> Array:
    """Fraction of examples where ``probabilities > threshold`` equals the 0/1 target.

    Args:
        probabilities: any shape (a sigmoid output); pass ``threshold=0`` for logits.
        targets: 0/1 targets of the same shape.
        threshold: the decision threshold.

    Returns:
        A scalar in [0, 1].
    """
    if tuple(probabilities.shape) != tuple(targets.shape):
        raise ShapeError(
            "binary_accuracy",
            f"probabilities {format_shape(probabilities.shape)} and targets "
            f"{format_shape(targets.shape)} must have the same shape",
        )
    return jnp.mean((probabilities > threshold) == (targets > 0.5))


def confusion_matrix(labels: Array, predictions: Array, num_classes: int) -> Array:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as class ``j``.

    Args:
        labels: integer true classes ``[N]``.
        predictions: integer predicted classes ``[N]`` (e.g. ``argmax(scores)``).
        num_classes: K.

    Returns:
        An int32 array ``[K, K]``; rows are true classes.
    """
    labels = jnp.asarray(labels).reshape(-1)
    predictions = jnp.asarray(predictions).reshape(-1)
    if labels.shape != predictions.shape:
        raise ShapeError(
            "confusion_matrix",
            f"labels {format_shape(labels.shape)} and predictions "
            f"{format_shape(predictions.shape)} differ in length",
        )
    index = labels.astype(jnp.int32) * num_classes + predictions.astype(jnp.int32)
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[index].add(1)
    return counts.reshape(num_classes, num_classes)
