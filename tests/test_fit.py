"""fit(): NumPy gradient-descent reference, fused == per-step, stopping rules, bad input."""

import jax
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet import losses, metrics

rng = np.random.default_rng(0)
X = rng.normal(size=(64, 2)).astype(np.float32)
Y = (X @ np.array([[2.0], [-1.0]]) + 0.5).astype(np.float32)
LABELS = (X[:, 0] + X[:, 1] > 0).astype(np.int32)


def test_full_batch_gradient_descent_with_decaying_rate_matches_numpy():
    schedule = optax.exponential_decay(0.2, transition_steps=1, decay_rate=0.95)
    model = fn.Dense(1)
    result = fn.fit(
        model,
        losses.mean_squared_error,
        optax.sgd(schedule),
        X,
        Y,
        key=jax.random.key(0),
        epochs=30,
        batch_size=64,
    )
    state0 = fn.init_train_state(model, optax.sgd(0.1), jax.random.split(jax.random.key(0))[0], (2,))
    w, b = (
        np.asarray(state0.params["kernel"], np.float64),
        np.asarray(state0.params["bias"], np.float64),
    )
    for t in range(30):
        r = X @ w + b - Y
        lr = 0.2 * 0.95**t
        w, b = w - lr * 2 * X.T @ r / 64, b - lr * 2 * r.mean(0)
    np.testing.assert_allclose(result.state.params["kernel"], w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.state.params["bias"], b, rtol=1e-4, atol=1e-5)
    assert result.steps == 30 and len(result.history["loss"]) == 30


def test_fused_epochs_equal_per_step_epochs_with_dropout_like_randomness():
    model = fn.Sequential(fn.Dense(16), fn.activations.relu, fn.Dense(2))
    kwargs = dict(key=jax.random.key(1), epochs=3, batch_size=8, metrics={"accuracy": metrics.accuracy})
    a = fn.fit(model, losses.softmax_cross_entropy, optax.adam(1e-2), X, LABELS, **kwargs)
    b = fn.fit(model, losses.softmax_cross_entropy, optax.adam(1e-2), X, LABELS, fused=True, **kwargs)
    for u, v in zip(jax.tree.leaves(a.state.params), jax.tree.leaves(b.state.params)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
    assert a.steps == b.steps == 3 * 8


def test_same_key_same_run_different_key_different_run():
    def run(seed):
        return fn.fit(
            fn.Dense(2),
            losses.softmax_cross_entropy,
            optax.sgd(0.1),
            X,
            LABELS,
            key=jax.random.key(seed),
            epochs=2,
            batch_size=16,
        ).state.params["kernel"]

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.allclose(run(0), run(1))


def test_course_stopping_rule_tol_and_max_steps():
    result = fn.fit(
        fn.Dense(1),
        losses.mean_squared_error,
        optax.sgd(0.1),
        X,
        Y,
        key=jax.random.key(0),
        epochs=1000,
        batch_size=64,
        stop=fn.training.StopRule(tol=1e-3),
    )
    assert result.stop_reason.startswith("converged") and result.steps < 1000
    assert result.history["update_norm"][-1] < 1e-3
    capped = fn.fit(
        fn.Dense(1),
        losses.mean_squared_error,
        optax.sgd(0.1),
        X,
        Y,
        key=jax.random.key(0),
        epochs=10,
        batch_size=16,
        stop=fn.training.StopRule(max_steps=13),
    )
    assert capped.steps == 13 and "max_steps=13" in capped.stop_reason
    fused = fn.fit(
        fn.Dense(1),
        losses.mean_squared_error,
        optax.sgd(0.1),
        X,
        Y,
        key=jax.random.key(0),
        epochs=10,
        batch_size=16,
        stop=fn.training.StopRule(max_steps=13),
        fused=True,
    )
    np.testing.assert_allclose(fused.state.params["kernel"], capped.state.params["kernel"], rtol=1e-6)


def test_early_stopping_restores_the_best_epoch():
    seen = []

    class Record(fn.training.Callback):
        def epoch_end(self, run, epoch, logs):
            seen.append((logs["val_loss"], np.asarray(run.state.params["kernel"]).copy()))

    # A learning rate that makes training diverge after a few epochs (val loss rises).
    result = fn.fit(
        fn.Dense(1),
        losses.mean_squared_error,
        optax.sgd(1.02),
        X,
        Y,
        key=jax.random.key(0),
        epochs=50,
        batch_size=64,
        validation_data=(X, Y),
        callbacks=[fn.training.EarlyStopping(patience=2), Record()],
    )
    assert result.stop_reason.startswith("early stopping")
    best_loss, best_kernel = min(seen, key=lambda t: t[0])
    np.testing.assert_array_equal(result.state.params["kernel"], best_kernel)


class StopAfter(fn.training.Callback):
    def __init__(self, last):
        self.last = last

    def epoch_end(self, run, epoch, logs):
        return f"stopped after epoch {epoch + 1}" if epoch == self.last else None


def test_a_callback_can_stop_training():
    result = fn.fit(
        fn.Dense(1),
        losses.mean_squared_error,
        optax.sgd(0.01),
        X,
        Y,
        key=jax.random.key(0),
        epochs=10,
        batch_size=32,
        callbacks=[StopAfter(2)],
    )
    assert len(result.history["loss"]) == 3 and result.stop_reason == "stopped after epoch 3"


@pytest.mark.parametrize("fused", [False, True])
def test_nan_loss_stops_training_and_names_step_and_epoch(fused):
    bad = Y.copy()
    bad[5] = np.inf  # the batch holding row 5 gives an infinite loss
    with pytest.warns(RuntimeWarning, match=r"loss became (inf|nan) at step \d+ \(epoch 1, batch \d+\)"):
        result = fn.fit(
            fn.Dense(1),
            losses.mean_squared_error,
            optax.sgd(0.01),
            X,
            bad,
            key=jax.random.key(0),
            epochs=3,
            batch_size=8,
            fused=fused,
        )
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(result.state.params))
    with pytest.raises(fn.training.NonFiniteLossError, match="loss became") as info:
        fn.fit(
            fn.Dense(1),
            losses.mean_squared_error,
            optax.sgd(0.01),
            X,
            bad,
            key=jax.random.key(0),
            epochs=3,
            batch_size=8,
            fused=fused,
            stop=fn.training.StopRule(on_nonfinite="raise"),
        )
    assert np.all(np.isfinite(info.value.state.params["kernel"]))


def test_bad_data_is_reported_before_training():
    def go(x, y, loss=losses.mean_squared_error, model=None, **kw):
        model = model or fn.Dense(1)
        return fn.fit(model, loss, optax.sgd(0.1), x, y, key=jax.random.key(0), batch_size=8, **kw)

    with pytest.raises(ValueError, match="x has 64 examples but y has 63"):
        go(X, Y[:63])
    with pytest.raises(ValueError, match=r"labels must be in 0..1 \(the model has 2 outputs\), found 2"):
        go(X, LABELS + 1, loss=losses.softmax_cross_entropy, model=fn.Dense(2))
    with pytest.raises(TypeError, match="y must be numeric, got dtype <U1"):
        go(X, np.array(["a"] * 64))
    with pytest.raises(fn.ShapeError, match=r"predictions \[64, 1\] and targets \[64\]"):
        go(X, Y[:, 0])
    with pytest.raises(fn.ShapeError, match=r"Dense\(features=1\): expected input of shape \[\.\.\., 3\]"):
        fn.fit(
            fn.Dense(1),
            losses.mean_squared_error,
            optax.sgd(0.1),
            X,
            Y,
            key=jax.random.key(0),
            state=fn.init_train_state(fn.Dense(1), optax.sgd(0.1), jax.random.key(0), (3,)),
        )
    with pytest.raises(ValueError, match=r"batch_size must be in 1..64"):
        fn.fit(
            fn.Dense(1),
            losses.mean_squared_error,
            optax.sgd(0.1),
            X,
            Y,
            key=jax.random.key(0),
            batch_size=65,
        )
    with pytest.raises(ValueError, match="on_nonfinite must be"):
        fn.training.StopRule(on_nonfinite="ignore")
