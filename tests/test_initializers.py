"""Initialisers: the statistics of their draws against the formulas, orthogonality, hashability."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import initializers as init

KEY = jax.random.key(0)
SHAPE = (3, 3, 64, 128)  # a conv kernel: fan_in = 9 * 64, fan_out = 9 * 128
FAN_IN, FAN_OUT = 9 * 64, 9 * 128

CASES = [
    (init.standard_normal(), 1.0),
    (init.normal(0.5), 0.25),
    (init.uniform(0.3), 0.3**2 / 3),
    (init.truncated_normal(0.2), 0.04),
    (init.glorot_uniform(), 2 / (FAN_IN + FAN_OUT)),
    (init.glorot_normal(), 2 / (FAN_IN + FAN_OUT)),
    (init.he_normal(), 2 / FAN_IN),
    (init.he_uniform(), 2 / FAN_IN),
    (init.lecun_normal(), 1 / FAN_IN),
    (init.lecun_uniform(), 1 / FAN_IN),
]


@pytest.mark.parametrize("initializer,variance", CASES, ids=lambda v: repr(v)[:40])
def test_draws_have_the_documented_variance(initializer, variance):
    w = np.asarray(initializer(KEY, SHAPE))
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(w.mean()) < 0.02 * math.sqrt(variance) * 10
    assert w.var() == pytest.approx(variance, rel=0.03)


def test_uniform_draws_stay_in_bounds_and_truncated_normal_within_two_sigma():
    bound = math.sqrt(6 / FAN_IN)
    assert np.abs(init.he_uniform()(KEY, SHAPE)).max() <= bound
    assert np.abs(init.truncated_normal(1.0)(KEY, SHAPE)).max() <= 2 / 0.87962566 + 1e-5


def test_constants():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones(KEY, (4,)), np.ones(4))
    np.testing.assert_array_equal(init.constant(2.5)(KEY, (2,)), [2.5, 2.5])


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (2, 4, 8)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    q = np.asarray(init.orthogonal(2.0)(KEY, shape)).reshape(-1, shape[-1]) / 2.0
    small = min(q.shape)
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


def test_fans_follow_the_kernel_layout():
    assert init.fans((5, 7)) == (5, 7)
    assert init.fans(SHAPE) == (FAN_IN, FAN_OUT)


def test_initializers_compare_by_value_so_jit_caches_are_shared():
    assert init.lecun_normal() == init.lecun_normal() and hash(init.he_uniform()) == hash(init.he_uniform())
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="unknown mode 'fan_sideways'"):
        init.VarianceScaling(1.0, "fan_sideways")
    with pytest.raises(ValueError, match="rank >= 2"):
        init.orthogonal()(KEY, (4,))


def test_dtype_is_respected():
    assert init.lecun_normal()(KEY, (4, 4), jnp.bfloat16).dtype == jnp.bfloat16
