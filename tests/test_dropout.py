"""Dropout: the keep fraction, the 1 / (1 - rate) scaling, identity at evaluation, the key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_one_minus_rate_and_scales_survivors(rate):
    x = jnp.asarray(np.random.default_rng(0).uniform(1.0, 2.0, size=(200, 500)), jnp.float32)
    y = np.asarray(fn.Dropout(rate).apply({}, x, key=jax.random.key(1), training=True))
    kept = y != 0
    n = kept.size
    # Binomial(n, 1 - rate): 5 standard deviations either side.
    assert abs(kept.mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / (1 - rate), rtol=1e-6)
    assert abs(y.mean() - float(x.mean())) < 0.02


def test_dropout_is_identity_when_not_training_and_depends_on_the_key():
    x = jnp.ones((4, 8))
    layer = fn.Dropout(0.5)
    assert layer.apply({}, x) is x
    a = layer.apply({}, x, key=jax.random.key(0), training=True)
    b = layer.apply({}, x, key=jax.random.key(0), training=True)
    c = layer.apply({}, x, key=jax.random.key(1), training=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"Dropout: rate \(the probability of dropping\)"):
        fn.Dropout(1.0)
    with pytest.raises(ValueError, match=r"Dropout\(rate=0.5\) needs a key when training=True"):
        fn.Dropout(0.5).apply({}, jnp.ones(3), training=True)
