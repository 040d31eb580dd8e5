"""GaussianNoise and MaskingNoise: statistics against NumPy expectations, identity in evaluation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn


def test_gaussian_noise_adds_zero_mean_noise_of_the_given_stddev_only_when_training():
    x = jnp.linspace(0, 1, 200_000).reshape(1000, 200)
    layer = fn.GaussianNoise(0.3)
    np.testing.assert_array_equal(layer.apply({}, x), x)
    noise = np.asarray(layer.apply({}, x, key=jax.random.key(0), training=True) - x)
    assert abs(noise.mean()) < 3 * 0.3 / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(0.3, rel=0.01)


def test_masking_noise_zeros_a_fraction_and_does_not_rescale_the_rest():
    x = jnp.linspace(0.5, 1, 100_000).reshape(100, 1000)
    y = np.asarray(fn.MaskingNoise(0.25).apply({}, x, key=jax.random.key(1), training=True))
    zeroed = y == 0
    assert zeroed.mean() == pytest.approx(0.25, abs=0.01)
    np.testing.assert_array_equal(y[~zeroed], np.asarray(x)[~zeroed])
    np.testing.assert_array_equal(fn.MaskingNoise(0.25).apply({}, x), x)


def test_noise_layers_reject_bad_configs_and_missing_keys():
    with pytest.raises(ValueError, match="stddev must be >= 0"):
        fn.GaussianNoise(-1.0)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        fn.MaskingNoise(1.0)
    with pytest.raises(fn.ShapeError, match="MaskingNoise.*needs a key when training=True"):
        fn.MaskingNoise(0.5).apply({}, jnp.ones(3), training=True)
