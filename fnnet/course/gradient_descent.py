"""The course's plain gradient descent: step = learning rate x slope, until the step is tiny."""

# No `from __future__ import annotations` here: the NamedTuple's field types must be objects, not strings,
# for the API reference (pdoc) to resolve them.

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

__all__ = ["DescentStep", "GradientDescentResult", "gradient_descent"]


class DescentStep(NamedTuple):
    """One step: the parameters before it, the loss there, the slope and the step taken."""

    params: Any
    loss: float
    slope: Any
    step: Any


class GradientDescentResult(NamedTuple):
    """Result of ``gradient_descent``.

    Attributes:
        params: the final parameters.
        history: one DescentStep per step taken.
        converged: True if it stopped because the step size fell below ``tol``.
    """

    params: Any
    history: list[DescentStep]
    converged: bool


def gradient_descent(
    loss: Callable[[Any], jax.Array],
    params: Any,
    *,
    learning_rate: float = 0.1,
    tol: float = 0.001,
    max_steps: int = 1000,
) -> GradientDescentResult:
    """Minimise ``loss(params)`` by the course's rule.

    Each step computes the slope ``g = d loss / d params`` with ``jax.grad``, the step
    ``s = learning_rate * g``, and moves ``params -= s``. It stops when the step's size (the largest
    absolute entry of ``s``) is below ``tol``, or after ``max_steps`` steps.

    Args:
        loss: a scalar function of a parameter pytree.
        params: the starting parameters.
        learning_rate: the step size multiplier.
        tol: the step size under which to stop.
        max_steps: the most steps to take.

    Returns:
        A GradientDescentResult.
    """
    value_and_slope = jax.jit(jax.value_and_grad(loss))
    history = []
    for _ in range(max_steps):
        value, slope = value_and_slope(params)
        step = jax.tree.map(lambda g: learning_rate * g, slope)
        history.append(DescentStep(params, float(value), slope, step))
        params = jax.tree.map(lambda p, s: p - s, params, step)
        size = max(float(np.max(np.abs(np.asarray(s)))) for s in jax.tree.leaves(step))
        if size < tol:
            return GradientDescentResult(params, history, True)
    return GradientDescentResult(params, history, False)
