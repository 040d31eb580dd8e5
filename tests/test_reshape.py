"""Flatten and Reshape against NumPy's row-major reshape, with any leading batch axes."""

import jax
import numpy as np
import pytest

import fnnet as fn


def test_flatten_matches_numpy_row_major():
    x = np.arange(2 * 3 * 4 * 5 * 6, dtype=np.float32).reshape(2, 3, 4, 5, 6)
    layer = fn.Flatten()
    assert layer.init(jax.random.key(0), (4, 5, 6))[0] == (120,)
    np.testing.assert_array_equal(np.asarray(layer.apply({}, x)), x.reshape(2, 3, 120))
    np.testing.assert_array_equal(np.asarray(fn.Flatten(axes=2).apply({}, x)), x.reshape(2, 3, 4, 30))


def test_reshape_infers_batch_axes_and_minus_one():
    x = np.arange(2 * 3 * 12, dtype=np.float32).reshape(2, 3, 12)
    layer = fn.Reshape((3, 4))
    assert layer.init(jax.random.key(0), (12,))[0] == (3, 4)
    np.testing.assert_array_equal(np.asarray(layer.apply({}, x)), x.reshape(2, 3, 3, 4))
    wild = fn.Reshape((2, -1), axes=2)
    assert wild.init(jax.random.key(0), (3, 12))[0] == (2, 18)
    np.testing.assert_array_equal(np.asarray(wild.apply({}, x)), x.reshape(2, 2, 18))


def test_reshape_and_flatten_errors():
    with pytest.raises(fn.ShapeError, match=r"Flatten.*merges the last 3 axes but got \[5, 4\]"):
        fn.Flatten().init(jax.random.key(0), (5, 4))
    with pytest.raises(fn.ShapeError, match=r"Reshape.*no trailing axes of \[5, 4\] hold 7"):
        fn.Reshape((7,)).init(jax.random.key(0), (5, 4))
    with pytest.raises(fn.ShapeError, match=r"an example \[5, 4\] has 20 elements"):
        fn.Reshape((3, 7), axes=2).init(jax.random.key(0), (5, 4))
    with pytest.raises(ValueError, match="contains -1, so axes= must be given"):
        fn.Reshape((-1, 2))
