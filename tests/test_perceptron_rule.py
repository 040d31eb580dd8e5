"""Rosenblatt's rule against a plain-Python implementation of the same rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn

AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)


def python_rule(w, b, x, y, lr, epochs):
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            y_hat = float(xi @ w + b > 0)
            if y_hat != yi:
                wrong += 1
            w, b = w + lr * (yi - y_hat) * xi, b + lr * (yi - y_hat)
        errors.append(wrong)
        if wrong == 0:
            break
    return w, b, errors


def test_rule_matches_python_loop_and_learns_and():
    layer = fn.Perceptron()
    _, params = layer.init(jax.random.key(3), (2,))
    y = np.array([0, 0, 0, 1], np.float32)
    result = fn.course.perceptron_rule(layer, params, AND_X, y, learning_rate=0.5)
    w, b, errors = python_rule(
        np.asarray(params["kernel"])[:, 0], float(params["bias"][0]), AND_X, y, 0.5, 100
    )
    assert result.converged and result.errors == errors
    np.testing.assert_allclose(result.params["kernel"][:, 0], w, rtol=1e-6)
    np.testing.assert_allclose(result.params["bias"][0], b, rtol=1e-6)
    np.testing.assert_array_equal(layer.apply(result.params, AND_X)[:, 0], y)


def test_rule_does_not_converge_on_xor():
    layer = fn.Perceptron()
    _, params = layer.init(jax.random.key(0), (2,))
    result = fn.course.perceptron_rule(layer, params, AND_X, np.array([0, 1, 1, 0]), max_epochs=50)
    assert not result.converged and len(result.errors) == 50 and min(result.errors) >= 1


def test_rule_rejects_mismatched_shapes():
    layer = fn.Perceptron(2)
    _, params = layer.init(jax.random.key(0), (2,))
    with pytest.raises(ValueError, match=r"expected x \[N, F\] and y \[N\] or \[N, 2\]"):
        fn.course.perceptron_rule(layer, params, AND_X, jnp.zeros((4, 3)))
