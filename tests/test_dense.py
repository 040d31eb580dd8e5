"""Dense and Perceptron against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn


def test_dense_matches_numpy_affine_map_on_any_leading_axes():
    layer = fn.Dense(3)
    out_shape, params = layer.init(jax.random.key(0), (5,))
    assert out_shape == (3,) and params["kernel"].shape == (5, 3) and params["bias"].shape == (3,)
    params = {"kernel": params["kernel"], "bias": jnp.array([0.1, -0.2, 0.3])}
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype(np.float32)
    want = x @ np.asarray(params["kernel"]) + np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(layer.apply(params, x), want, rtol=1e-5, atol=1e-6)


def test_dense_gradient_matches_numpy():
    layer = fn.Dense(2)
    _, params = layer.init(jax.random.key(1), (3,))
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    grads = jax.grad(lambda p: jnp.sum(layer.apply(p, x)))(params)
    np.testing.assert_allclose(grads["kernel"], x.T @ np.ones((4, 2)), rtol=1e-5)
    np.testing.assert_allclose(grads["bias"], np.full(2, 4.0), rtol=1e-6)


def test_dense_without_bias_has_only_a_kernel():
    _, params = fn.Dense(4, use_bias=False).init(jax.random.key(0), (2,))
    assert set(params) == {"kernel"}


def test_dense_default_init_is_lecun_normal_and_zero_bias():
    _, params = fn.Dense(256).init(jax.random.key(0), (400,))
    assert np.asarray(params["kernel"]).var() == pytest.approx(1 / 400, rel=0.05)
    assert not np.any(np.asarray(params["bias"]))


def test_dense_wrong_input_names_layer_and_shapes():
    layer = fn.Dense(3)
    _, params = layer.init(jax.random.key(0), (5,))
    with pytest.raises(
        fn.ShapeError,
        match=r"Dense\(features=3\): expected input of shape \[\.\.\., 5\].*got \[2, 4\]",
    ):
        layer.apply(params, jnp.ones((2, 4)))
    with pytest.raises(fn.ShapeError, match="at least one axis"):
        layer.init(jax.random.key(0), ())
    with pytest.raises(ValueError, match="features must be a positive int"):
        fn.Dense(0)


def test_perceptron_is_step_of_weighted_sum_minus_threshold():
    layer = fn.Perceptron()
    params = {"kernel": jnp.array([[5.0], [2.0], [4.0]]), "bias": jnp.array([-3.0])}
    x = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], np.float32)
    want = ((x @ np.array([5.0, 2.0, 4.0]) - 3.0) > 0).astype(np.float32)[:, None]
    np.testing.assert_array_equal(layer.apply(params, x), want)
    np.testing.assert_allclose(layer.weighted_sum(params, x)[:, 0], x @ np.array([5.0, 2.0, 4.0]) - 3.0)


def test_perceptron_at_threshold_fires_by_default_and_not_with_at_zero_0():
    # the concert quiz (003, "Quiz: Guessing the Weights"): weights 40/10/20, threshold 60; the row
    # (1, 0, 1) totals exactly 60: the course's z >= 0 says go, the quiz's strict "> 60" says no
    params = {"kernel": jnp.array([[40.0], [10.0], [20.0]]), "bias": jnp.array([-60.0])}
    x = np.array([[1, 0, 1], [1, 1, 1], [1, 1, 0]], np.float32)
    total = x @ np.array([40.0, 10.0, 20.0])
    np.testing.assert_array_equal(fn.Perceptron().apply(params, x)[:, 0], np.heaviside(total - 60, 1.0))
    np.testing.assert_array_equal(fn.Perceptron(at_zero=0.0).apply(params, x)[:, 0], (total > 60) * 1.0)
    assert (
        fn.Perceptron().apply(params, x)[0, 0] == 1 and fn.Perceptron(at_zero=0.0).apply(params, x)[0, 0] == 0
    )


def test_perceptron_rejects_an_at_zero_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"Perceptron: at_zero must be in \[0, 1\], got -1"):
        fn.Perceptron(at_zero=-1)


def test_perceptron_default_init_is_standard_normal_weights_zero_bias():
    _, params = fn.Perceptron(64).init(jax.random.key(0), (200,))
    assert np.asarray(params["kernel"]).std() == pytest.approx(1.0, rel=0.03)
    assert not np.any(np.asarray(params["bias"]))


def test_straight_through_perceptron_has_nonzero_gradient():
    params = {"kernel": jnp.ones((2, 1)), "bias": jnp.zeros(1)}
    x = jnp.ones((1, 2))

    def loss(layer):
        return jax.grad(lambda p: jnp.sum(layer.apply(p, x)))(params)["kernel"]

    assert not np.any(loss(fn.Perceptron()))
    np.testing.assert_allclose(loss(fn.Perceptron(straight_through=True)), np.ones((2, 1)))
