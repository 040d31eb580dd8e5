"""fnnet.epochs: the per-step and fused epochs stop at the same step, and the batches they take."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.training.epochs import fused_epoch, minibatch_rows, per_step_epoch
from fnnet.training.step import init_train_state, make_step_fn

N, BATCH = 40, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 3)).astype(np.float32)
Y = X @ np.array([1.0, -2.0, 0.5], np.float32)


def test_minibatch_rows_are_consecutive_slices_of_the_permutation():
    perm = np.array([5, 3, 9, 0, 1, 8, 2, 7, 6, 4])
    rows = [r.tolist() for r in minibatch_rows(perm, 3, 1, 3)]
    assert rows == [[0, 1, 8], [2, 7, 6]]


def _setup(tol=None):
    model = fn.Dense(1)
    loss = lambda out, t: fn.losses.mean_squared_error(out[:, 0], t)  # noqa: E731
    step = make_step_fn(model, loss, optax.sgd(0.1), track_update_norm=tol is not None)
    return step, init_train_state(model, optax.sgd(0.1), jax.random.key(0), (3,))


@pytest.mark.parametrize("case", ["limit", "nonfinite", "tol"])
def test_both_epochs_stop_at_the_same_step_with_the_same_parameters(case):
    y = Y.copy()
    if case == "nonfinite":
        y[6 * BATCH + 1] = np.inf  # step 7 of the unshuffled epoch sees an infinite target
    tol = 1e9 if case == "tol" else None  # every update is smaller: stop after the first step
    limit = 5 if case == "limit" else N // BATCH
    expected = {"limit": 5, "nonfinite": 7, "tol": 1}[case]
    step, state = _setup(tol)
    seen = []

    def after(state, logs, done):
        seen.append(done)

    rows = minibatch_rows(np.arange(N), BATCH, 0, limit)
    batches = ((X[r], y[r]) for r in rows)
    loop_state, loop_logs = per_step_epoch(jax.jit(step), state, batches, tol, after)
    assert len(loop_logs["loss"]) == expected and seen == list(range(1, expected + 1))
    assert loop_logs["finite"].tolist() == [True] * (expected - 1) + [case != "nonfinite"]

    # The fused epoch shuffles on the device: feed it data pre-permuted by the inverse of its
    # permutation, so that it visits the examples in the same order as the loop above.
    key = jax.random.key(3)
    perm = np.asarray(jax.random.permutation(key, N))
    inverse = np.argsort(perm)
    run = fused_epoch(step, BATCH, N // BATCH, tol)
    _, state = _setup(tol)
    fused_state, logs, taken = run(state, jnp.asarray(X[inverse]), jnp.asarray(y[inverse]), key, limit)
    assert int(taken) == expected
    np.testing.assert_allclose(np.asarray(logs["loss"][:expected]), loop_logs["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(fused_state.params["kernel"]), np.asarray(loop_state.params["kernel"]), rtol=1e-6
    )
