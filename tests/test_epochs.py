"""fnnet.training.epochs: the epoch plan's batches, and both epoch runners stopping at the same step."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.training import init_train_state, make_step_fn
from fnnet.training.epochs import EpochPlan, fused_epoch, make_epoch_fn, per_step_epoch, split_batches

N, BATCH = 40, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 3)).astype(np.float32)
Y = X @ np.array([1.0, -2.0, 0.5], np.float32)


def test_split_batches_cuts_consecutive_slices_and_a_remainder():
    perm = np.array([5, 3, 9, 0, 1, 8, 2, 7, 6, 4])
    full, rest = split_batches(perm, 3)
    assert full.tolist() == [[5, 3, 9], [0, 1, 8], [2, 7, 6]] and rest.tolist() == [4]


def test_plan_rows_are_the_epochs_permutation_cut_into_full_batches():
    key = jax.random.key(5)
    plan = EpochPlan(23, 5, key)
    assert plan.steps_per_epoch == 4 and plan.position(9) == (2, 1)
    for epoch in (0, 3):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), 23))
        np.testing.assert_array_equal(plan.host_rows(epoch), perm[:20].reshape(4, 5))
        np.testing.assert_array_equal(plan.host_rows(epoch, 1, 3), perm[5:15].reshape(2, 5))
        np.testing.assert_array_equal(jax.jit(plan.rows)(plan.epoch_key(epoch)), perm[:20].reshape(4, 5))
    assert not np.array_equal(plan.host_rows(0), plan.host_rows(1))


@pytest.mark.parametrize(
    "n, batch, error, message",
    [
        (10, 0, ValueError, r"batch_size must be in 1..10 \(the number of examples\), got 0"),
        (10, 11, ValueError, r"batch_size must be in 1..10"),
        (10, 2.5, TypeError, r"batch_size must be a positive int, got 2.5"),
        (10, True, TypeError, r"batch_size must be a positive int, got True"),
        (0, 1, ValueError, r"the data set is empty \(0 examples\)"),
    ],
)
def test_plan_rejects_bad_batch_sizes_by_name(n, batch, error, message):
    with pytest.raises(error, match=message):
        EpochPlan(n, batch, jax.random.key(0))


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

    def after(state, logs):
        seen.append(int(state.step) if logs["finite"] else int(state.step) + 1)

    rows, _ = split_batches(np.arange(N), BATCH)
    batches = ((X[r], y[r]) for r in rows[:limit])
    loop_state, loop_logs = per_step_epoch(jax.jit(step), state, batches, tol, after)
    assert len(loop_logs["loss"]) == expected and seen == list(range(1, expected + 1))
    assert loop_logs["finite"].tolist() == [True] * (expected - 1) + [case != "nonfinite"]

    # The fused epoch shuffles on the device: feed it data pre-permuted by the inverse of its
    # permutation, so that it visits the examples in the same order as the loop above.
    key = jax.random.key(3)
    perm = np.asarray(jax.random.permutation(key, N))
    inverse = np.argsort(perm)
    run = fused_epoch(step, EpochPlan(N, BATCH, jax.random.key(0)), tol)
    _, state = _setup(tol)
    fused_state, logs = run(state, jnp.asarray(X[inverse]), jnp.asarray(y[inverse]), key, limit)
    assert len(logs["loss"]) == expected
    assert logs["finite"].tolist() == loop_logs["finite"].tolist()
    np.testing.assert_allclose(np.asarray(logs["loss"]), loop_logs["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(fused_state.params["kernel"]), np.asarray(loop_state.params["kernel"]), rtol=1e-6
    )


# make_epoch_fn: the scanned epoch of unlabelled data equals a Python loop over the same batches
def order_sensitive_step(state, batch):
    # order-sensitive, so a wrong batch order shows: state <- 0.5 * state + sum(batch)
    new = 0.5 * state + jnp.sum(batch)
    return new, {"seen": jnp.sum(batch)}


def test_epoch_is_a_scan_over_shuffled_batches_dropping_the_partial_one():
    x = np.arange(23, dtype=np.float32)[:, None] ** 2
    key = jax.random.key(3)
    state, logs = make_epoch_fn(order_sensitive_step, 5)(jnp.zeros(()), jnp.asarray(x), key)
    perm = np.asarray(jax.random.permutation(key, 23))
    want, seen = 0.0, []
    for i in range(4):  # 23 // 5 full batches
        total = float(x[perm[i * 5 : (i + 1) * 5]].sum())
        want, seen = 0.5 * want + total, [*seen, total]
    assert float(state) == pytest.approx(want)
    np.testing.assert_allclose(logs["seen"], seen)


def test_epoch_rejects_bad_batch_sizes():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        make_epoch_fn(order_sensitive_step, 0)
    with pytest.raises(ValueError, match=r"batch_size must be in 1..3 \(the number of examples\), got 4"):
        make_epoch_fn(order_sensitive_step, 4)(jnp.zeros(()), jnp.ones((3, 1)), jax.random.key(0))
