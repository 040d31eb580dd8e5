"""Rosenblatt's rule against a plain-Python implementation of the same rule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn

AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)


def python_rule(w, b, x, y, lr, epochs, at_zero=1.0):
    """The rule in plain Python; the step is numpy.heaviside(z, at_zero) (z >= 0 -> 1 by default)."""
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            y_hat = float(np.heaviside(xi @ w + b, at_zero))
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


@pytest.mark.parametrize("at_zero", [1.0, 0.0])
def test_rule_follows_the_step_value_at_exactly_zero(at_zero):
    # zero bias and the (0, 0) row: the first weighted sum is exactly 0, so the two choices part at once
    layer = fn.Perceptron(at_zero=at_zero)
    params = {"kernel": jnp.array([[0.5], [-0.25]]), "bias": jnp.zeros(1)}
    y = np.array([0, 0, 0, 1], np.float32)
    result = fn.course.perceptron_rule(layer, params, AND_X, y, learning_rate=0.5)
    w, b, errors = python_rule(np.array([0.5, -0.25]), 0.0, AND_X, y, 0.5, 100, at_zero)
    assert result.converged and result.errors == errors
    np.testing.assert_allclose(result.params["kernel"][:, 0], w, rtol=1e-6)
    np.testing.assert_allclose(result.params["bias"][0], b, rtol=1e-6)


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


def python_rule_units(w, b, x, y, lr, epochs):
    """The course rule for several units: an example is a mistake if any unit is wrong; stop on an
    epoch without mistakes. Each unit's update uses its own error, so a converged unit stays put."""
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            error = yi - np.heaviside(xi @ w + b, 1.0).astype(np.float32)  # [U]
            wrong += int(np.any(error != 0))
            w, b = w + lr * np.outer(xi, error), b + lr * error
        errors.append(wrong)
        if wrong == 0:
            break
    return w, b, errors


def test_rule_keeps_training_until_every_unit_is_right():
    # unit 0 computes AND from the start; unit 1 must learn OR from weights that get it wrong
    layer = fn.Perceptron(2)
    w0 = np.array([[1.0, -1.0], [1.0, -1.0]], np.float32)
    b0 = np.array([-1.5, 0.0], np.float32)
    y = np.array([[0, 0], [0, 1], [0, 1], [1, 1]], np.float32)
    params = {"kernel": jnp.asarray(w0), "bias": jnp.asarray(b0)}
    result = fn.course.perceptron_rule(layer, params, AND_X, y, learning_rate=0.5)
    w, b, errors = python_rule_units(w0, b0, AND_X, y, 0.5, 100)
    assert python_rule(w0[:, 0], b0[0], AND_X, y[:, 0], 0.5, 100)[2] == [0]  # unit 0 is right at once
    # unit 1 needs epochs; any wrong unit makes a mistake: all 4 rows in epoch 1, (0, 0) too, since its
    # weighted sum is exactly 0 and the course's step gives 1 there (z >= 0)
    assert len(errors) > 2 and errors[0] == 4
    assert result.converged and result.errors == errors
    np.testing.assert_allclose(result.params["kernel"], w, rtol=1e-6)
    np.testing.assert_allclose(result.params["bias"], b, rtol=1e-6)
    np.testing.assert_array_equal(result.params["kernel"][:, 0], w0[:, 0])  # the converged unit stayed put
    np.testing.assert_array_equal(layer.apply(result.params, AND_X), y)


def test_rule_stops_at_the_first_epoch_where_every_unit_is_right():
    layer = fn.Perceptron(2)
    params = {"kernel": jnp.array([[1.0, 1.0], [1.0, 1.0]]), "bias": jnp.array([-1.5, -0.5])}  # AND, OR
    y = np.array([[0, 0], [0, 1], [0, 1], [1, 1]], np.float32)
    result = fn.course.perceptron_rule(layer, params, AND_X, y)
    assert result.converged and result.errors == [0]
    # one unit right and one wrong on a single example is one mistake, and training goes on
    y_one_wrong = y.copy()
    y_one_wrong[3, 1] = 0
    result = fn.course.perceptron_rule(layer, params, AND_X, y_one_wrong)
    assert result.errors[0] == 1 and len(result.errors) > 1
