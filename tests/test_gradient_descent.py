"""The course's gradient descent against the closed-form least-squares answer and a Python loop."""

import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn

X = np.array([0.5, 2.3, 2.9])
Y = np.array([1.4, 1.9, 3.2])


def ssr(intercept):
    return jnp.sum((Y - (intercept + 0.64 * X)) ** 2)


def test_reaches_the_least_squares_intercept_with_the_same_steps_as_a_python_loop():
    result = fn.course.gradient_descent(ssr, jnp.float32(0.0), learning_rate=0.1, tol=0.001)
    assert result.converged
    assert float(result.params) == pytest.approx(np.mean(Y - 0.64 * X), abs=2e-3)
    b, steps = 0.0, 0
    while True:
        slope = -2 * np.sum(Y - (b + 0.64 * X))
        step = 0.1 * slope
        b, steps = b - step, steps + 1
        if abs(step) < 0.001:
            break
    assert len(result.history) == steps
    assert float(result.params) == pytest.approx(b, abs=1e-5)


def test_stops_after_max_steps_when_it_cannot_converge():
    result = fn.course.gradient_descent(ssr, jnp.float32(0.0), learning_rate=0.5, max_steps=20)  # diverges
    assert not result.converged and len(result.history) == 20
