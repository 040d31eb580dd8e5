"""Rosenblatt's perceptron learning rule: a gradient-free trainer for ``Perceptron``."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from fnnet.layers.dense import Perceptron

__all__ = ["PerceptronFit", "perceptron_rule"]


class PerceptronFit(NamedTuple):
    """Result of ``perceptron_rule``.

    Attributes:
        params: ``{"kernel": [F, U], "bias": [U]}``.
        errors: misclassified examples in each epoch (before that epoch's updates finished).
        converged: whether an epoch passed with no error.
    """

    params: dict
    errors: list[int]
    converged: bool


def perceptron_rule(
    layer: Perceptron,
    params: dict,
    x: ArrayLike,
    y: ArrayLike,
    *,
    learning_rate: float = 1.0,
    max_epochs: int = 100,
) -> PerceptronFit:
    """Train a perceptron with Rosenblatt's rule, one example at a time, in order.

    For each example: ``y_hat = step(x @ w + b)``; ``w += lr * (y - y_hat) * x``;
    ``b += lr * (y - y_hat)``. Stops after the first epoch without a mistake (guaranteed to happen if
    the data are linearly separable) or after ``max_epochs``.

    Args:
        layer: the Perceptron.
        params: its initial parameters.
        x: inputs ``[N, F]``.
        y: 0/1 targets ``[N]`` (one unit) or ``[N, U]``.
        learning_rate: the step size of the rule.
        max_epochs: the most passes over the data.

    Returns:
        A PerceptronFit.
    """
    inputs = jnp.asarray(x, jnp.float32)
    targets = jnp.asarray(y, jnp.float32)
    if targets.ndim == 1:
        targets = targets[:, None]
    if inputs.ndim != 2 or targets.shape != (inputs.shape[0], layer.features):
        raise ValueError(
            f"perceptron_rule: expected x [N, F] and y [N] or [N, {layer.features}], "
            f"got x {tuple(inputs.shape)} and y {tuple(targets.shape)}"
        )

    @jax.jit
    def epoch(params: dict) -> tuple[dict, jax.Array]:
        def one(params: dict, example: tuple[jax.Array, jax.Array]) -> tuple[dict, jax.Array]:
            xi, yi = example
            error = yi - layer.apply(params, xi)  # [U]
            new = {
                "kernel": params["kernel"] + learning_rate * jnp.outer(xi, error),
                "bias": params["bias"] + learning_rate * error,
            }
            return new, jnp.any(error != 0)

        return jax.lax.scan(one, params, (inputs, targets))

    errors: list[int] = []
    for _ in range(max_epochs):
        params, wrong = epoch(params)
        errors.append(int(np.sum(wrong)))
        if errors[-1] == 0:
            return PerceptronFit(params, errors, True)
    return PerceptronFit(params, errors, False)
