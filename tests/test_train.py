"""The train step: compiles once, donates, never applies a non-finite update, matches NumPy SGD."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet import losses, metrics

rng = np.random.default_rng(0)
X = rng.normal(size=(32, 3)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)


def test_train_step_compiles_exactly_once():
    traces = []

    def counting_mse(pred, target):
        traces.append(1)  # runs only while tracing
        return losses.mean_squared_error(pred, target)

    model = fn.Sequential(fn.Dense(4), fn.activations.relu, fn.Dense(1))
    state = fn.init_train_state(model, optax.adam(1e-2), jax.random.key(0), (3,))
    step = fn.make_train_step(model, counting_mse, optax.adam(1e-2))
    for i in range(5):
        state, logs = step(state, (X[i : i + 8], Y[i : i + 8]))
    assert len(traces) == 1 and step._cache_size() == 1
    assert int(state.step) == 5


def test_train_step_donates_the_incoming_state():
    model = fn.Dense(1)
    state = fn.init_train_state(model, optax.sgd(0.1), jax.random.key(0), (3,))
    old_kernel = state.params["kernel"]
    step = fn.make_train_step(model, losses.mean_squared_error, optax.sgd(0.1))
    step(state, (X, Y))
    assert old_kernel.is_deleted()


def test_one_sgd_step_matches_numpy_gradient():
    model = fn.Dense(1)
    state = fn.init_train_state(model, optax.sgd(0.1), jax.random.key(0), (3,))
    w = np.asarray(state.params["kernel"]).copy()
    b = np.asarray(state.params["bias"]).copy()
    step = fn.make_train_step(model, losses.mean_squared_error, optax.sgd(0.1), donate=False)
    new, logs = step(state, (X, Y))
    residual = X @ w + b - Y  # [N, 1]
    grad_w = 2 * X.T @ residual / len(X)
    grad_b = 2 * residual.mean(0)
    np.testing.assert_allclose(new.params["kernel"], w - 0.1 * grad_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new.params["bias"], b - 0.1 * grad_b, rtol=1e-5, atol=1e-6)
    assert float(logs["loss"]) == pytest.approx(float(np.mean(residual**2)), rel=1e-5)


def test_a_non_finite_loss_leaves_the_state_unchanged():
    model = fn.Dense(1)
    state = fn.init_train_state(model, optax.sgd(0.1), jax.random.key(0), (3,))
    before = jax.tree.map(np.asarray, state.params)
    step = fn.make_train_step(model, losses.mean_squared_error, optax.sgd(0.1), donate=False)
    bad_y = Y.copy()
    bad_y[0] = np.nan
    new, logs = step(state, (X, bad_y))
    assert not bool(logs["finite"]) and int(new.step) == 0
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(before)):
        np.testing.assert_array_equal(a, b)


def test_training_metrics_and_update_norm_are_reported():
    model = fn.Dense(2)
    opt = optax.sgd(0.5)
    state = fn.init_train_state(model, opt, jax.random.key(0), (3,))
    labels = (X[:, 0] > 0).astype(np.int32)
    step = fn.make_train_step(
        model,
        losses.softmax_cross_entropy,
        opt,
        metrics={"accuracy": metrics.accuracy},
        track_update_norm=True,
        donate=False,
    )
    new, logs = step(state, (X, labels))
    delta = jax.tree.map(lambda a, b: a - b, new.params, state.params)
    assert float(logs["update_norm"]) == pytest.approx(float(optax.tree.norm(delta)), rel=1e-5)
    out = np.asarray(model.apply(state.params, X))
    assert float(logs["accuracy"]) == pytest.approx(np.mean(out.argmax(-1) == labels))


def test_evaluate_and_predict_match_numpy():
    model = fn.Dense(1)
    _, params = model.init(jax.random.key(3), (3,))
    out = X @ np.asarray(params["kernel"]) + np.asarray(params["bias"])
    result = fn.evaluate(model, params, X, Y, loss=losses.mean_squared_error, batch_size=10)
    assert result["loss"] == pytest.approx(float(np.mean((out - Y) ** 2)), rel=1e-5)
    np.testing.assert_allclose(fn.predict(model, params, X, batch_size=7), out, rtol=1e-5, atol=1e-6)


def test_vmap_over_parameter_sets_just_works():
    model = fn.Sequential(fn.Dense(4), fn.activations.tanh, fn.Dense(1))
    keys = jax.random.split(jax.random.key(0), 3)
    params = jax.vmap(lambda k: model.init(k, (3,))[1])(keys)
    out = jax.vmap(model.apply, in_axes=(0, None))(params, jnp.asarray(X))
    assert out.shape == (3, 32, 1)
    single = model.apply(jax.tree.map(lambda a: a[1], params), X)
    np.testing.assert_allclose(out[1], single, rtol=1e-5, atol=1e-6)


def test_guarded_update_applies_sgd_when_finite_and_nothing_otherwise():
    from fnnet.training.step import guarded_update

    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([0.5, 4.0])}
    opt = optax.sgd(0.1, momentum=0.9)
    state = fn.TrainState(params, opt.init(params), {}, jnp.zeros((), jnp.int32), jax.random.key(0))
    new, _, _ = guarded_update(opt, grads, state, jnp.array(True))
    np.testing.assert_allclose(new["w"], np.array([1.0, -2.0]) - 0.1 * np.array([0.5, 4.0]), rtol=1e-6)
    nan_grads = {"w": jnp.array([np.nan, 1.0])}
    kept, opt_state, updates = guarded_update(opt, nan_grads, state, jnp.array(False))
    np.testing.assert_array_equal(kept["w"], params["w"])
    np.testing.assert_array_equal(updates["w"], np.zeros(2))
    assert np.all(np.isfinite(jax.tree.leaves(opt_state)[0]))
