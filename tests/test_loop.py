"""make_epoch_fn: the scanned epoch equals a Python loop over the same shuffled minibatches."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet.unsupervised import make_epoch_fn


def step(state, batch):
    # order-sensitive, so a wrong batch order shows: state <- 0.5 * state + sum(batch)
    new = 0.5 * state + jnp.sum(batch)
    return new, {"seen": jnp.sum(batch)}


def test_epoch_is_a_scan_over_shuffled_batches_dropping_the_partial_one():
    x = np.arange(23, dtype=np.float32)[:, None] ** 2
    key = jax.random.key(3)
    state, logs = make_epoch_fn(step, 5)(jnp.zeros(()), jnp.asarray(x), key)
    perm = np.asarray(jax.random.permutation(key, 23))
    want, seen = 0.0, []
    for i in range(4):  # 23 // 5 full batches
        total = float(x[perm[i * 5 : (i + 1) * 5]].sum())
        want, seen = 0.5 * want + total, [*seen, total]
    assert float(state) == pytest.approx(want)
    np.testing.assert_allclose(logs["seen"], seen)


def test_epoch_rejects_bad_batch_sizes():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        make_epoch_fn(step, 0)
    with pytest.raises(ValueError, match="3 examples are fewer than batch_size=4"):
        make_epoch_fn(step, 4)(jnp.zeros(()), jnp.ones((3, 1)), jax.random.key(0))
