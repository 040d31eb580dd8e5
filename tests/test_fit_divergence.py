"""fit on a diverging run: it stops at the first non-finite loss and returns the last state whose own loss
was finite (the state before the update that led to the non-finite loss), per step and fused, with and
without BatchNorm; the warning says exactly which state that is."""

import re
import warnings

import jax
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet import losses

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 2)).astype(np.float32)
Y = (X @ np.array([[2.0], [-1.0]]) + 0.5).astype(np.float32)


def _model(batch_norm):
    return fn.Sequential(
        fn.Dense(8), *([fn.BatchNorm()] if batch_norm else []), fn.activations.relu, fn.Dense(1)
    )


def _fit(model, rate, batch_size, fused, **kw):
    return fn.fit(
        model,
        losses.mean_squared_error,
        optax.sgd(rate),
        X,
        Y,
        key=jax.random.key(0),
        epochs=4,
        batch_size=batch_size,
        fused=fused,
        **kw,
    )


def _training_loss(model, state, x, y):
    """The loss the step computes for ``state`` on the batch ``(x, y)`` (training mode), in NumPy."""
    out, _ = model.apply_with_state(state.params, state.model_state, x, training=True)
    out = np.asarray(out, np.float64)
    return out, float(np.mean((out - y) ** 2))


@pytest.mark.parametrize("batch_norm", [False, True], ids=["dense", "batchnorm"])
@pytest.mark.parametrize("fused", [False, True], ids=["per-step", "fused"])
@pytest.mark.parametrize("rate", [1e3, 1e10, 1e20, 1e38])
@pytest.mark.parametrize("batch_size", [64, 8], ids=["full-batch", "minibatch"])
def test_divergence_returns_the_last_state_whose_own_loss_was_finite(batch_norm, fused, rate, batch_size):
    model = _model(batch_norm)
    with pytest.warns(RuntimeWarning) as caught:
        result = _fit(model, rate, batch_size, fused)
    message = str(caught[0].message)
    failed = int(re.search(r"loss became \S+ at step (\d+)", message).group(1))
    last = failed - 1  # the last step with a finite loss; its update led to the non-finite one
    assert last >= 1 and result.steps == last
    assert f"returning the state step {last} started from, the last state whose loss was finite" in message
    assert result.stop_reason == message
    state = result.state
    assert int(state.step) == last - 1
    # It is the state an uninterrupted run has after last - 1 steps (nothing of the diverged update).
    if last > 1:
        reference = _fit(model, rate, batch_size, fused, stop=fn.training.StopRule(max_steps=last - 1)).state
    else:
        reference = fn.init_train_state(model, optax.sgd(rate), jax.random.split(jax.random.key(0))[0], (2,))
    for got, want in zip(jax.tree.leaves(state.params), jax.tree.leaves(reference.params), strict=True):
        np.testing.assert_array_equal(got, want)
    # Its own loss, on the batch of the step that started from it, was finite; so are its predictions.
    plan = fn.training.EpochPlan(64, batch_size, jax.random.split(jax.random.key(0))[1])
    epoch, position = plan.position(last - 1)
    rows = plan.host_rows(epoch)[position]
    out, loss = _training_loss(model, state, X[rows], Y[rows])
    assert np.isfinite(out).all() and np.isfinite(loss), (out, loss)
    if batch_size == 64:  # the training batch is the whole data set
        assert np.isfinite(
            np.asarray(fn.predict(model, state.params, X, model_state=state.model_state))
        ).all()


@pytest.mark.parametrize("fused", [False, True], ids=["per-step", "fused"])
def test_on_nonfinite_raise_carries_the_same_last_finite_state(fused):
    model = _model(False)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        returned = _fit(model, 1e20, 8, fused).state
    with pytest.raises(fn.training.NonFiniteLossError, match="the last state whose loss was finite") as info:
        _fit(model, 1e20, 8, fused, stop=fn.training.StopRule(on_nonfinite="raise"))
    for got, want in zip(
        jax.tree.leaves(info.value.state.params), jax.tree.leaves(returned.params), strict=True
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fused", [False, True], ids=["per-step", "fused"])
def test_a_loss_non_finite_from_the_first_step_says_the_returned_state_is_the_starting_one(fused):
    bad = np.full_like(Y, np.inf)
    with pytest.warns(
        RuntimeWarning, match="at step 1 .*returning the state fit started from, whose own loss is inf"
    ):
        result = fn.fit(
            fn.Dense(1), losses.mean_squared_error, optax.sgd(0.1), X, bad, key=jax.random.key(0), fused=fused
        )
    assert result.steps == 0 and int(result.state.step) == 0
