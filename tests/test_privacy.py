"""Per-example gradients, clipping, noise and the RDP accountant against NumPy and optax."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.training import privacy


def linear_problem():
    rng = np.random.RandomState(0)
    x = rng.randn(6, 3).astype(np.float32)
    y = rng.randn(6, 1).astype(np.float32)
    model = fn.Dense(1)
    _, params = model.init(jax.random.key(0), (3,))
    return model, params, x, y


def test_per_example_gradients_match_numpy():
    model, params, x, y = linear_problem()
    losses, grads = privacy.per_example_gradients(model, fn.losses.mean_squared_error, params, x, y)
    w, b = np.asarray(params["kernel"]), np.asarray(params["bias"])
    residual = x @ w + b - y  # [6, 1]
    np.testing.assert_allclose(losses, residual[:, 0] ** 2, rtol=1e-5)
    # d/dw (x.w + b - y)^2 = 2 r x for each example separately
    np.testing.assert_allclose(grads["kernel"], 2 * residual[:, None, :] * x[:, :, None], rtol=1e-5)
    np.testing.assert_allclose(grads["bias"], 2 * residual, rtol=1e-5)


def test_clipping_matches_numpy():
    rng = np.random.RandomState(1)
    grads = {"a": rng.randn(5, 3, 2).astype(np.float32), "b": rng.randn(5, 4).astype(np.float32)}
    grads["a"][0] *= 1e-3  # one example below the bound
    clipped, norms = privacy.clip_per_example(jax.tree.map(jnp.asarray, grads), 1.5)
    flat = np.concatenate([grads["a"].reshape(5, -1), grads["b"]], axis=1)
    expected_norms = np.linalg.norm(flat, axis=1)
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-5)
    scale = np.minimum(1.0, 1.5 / expected_norms)
    np.testing.assert_allclose(clipped["a"], grads["a"] * scale[:, None, None], rtol=1e-5)
    np.testing.assert_allclose(clipped["b"], grads["b"] * scale[:, None], rtol=1e-5)
    assert scale[0] == 1.0 and np.all(scale[1:] < 1.0)


def test_noiseless_aggregate_equals_optax_dp_aggregate():
    rng = np.random.RandomState(2)
    grads = {"w": jnp.asarray(rng.randn(8, 4, 3)), "b": jnp.asarray(rng.randn(8, 3))}
    ours = privacy.privatize(grads, jax.random.key(0), 0.7, 0.0)
    ref_tx = optax.contrib.differentially_private_aggregate(0.7, 0.0, key=jax.random.key(0))
    ref, _ = ref_tx.update(grads, ref_tx.init(None))
    for name in grads:
        np.testing.assert_allclose(ours[name], ref[name], rtol=1e-5, atol=1e-7)


def test_noise_has_the_documented_standard_deviation():
    grads = {"w": jnp.zeros((16, 200, 50))}  # zero gradients: the output is pure noise / B
    out = privacy.privatize(grads, jax.random.key(3), 2.0, 1.5)["w"]
    expected = 1.5 * 2.0 / 16
    assert float(jnp.std(out)) == pytest.approx(expected, rel=0.02)  # 10,000 draws
    assert abs(float(jnp.mean(out))) < 4 * expected / 100


def test_dp_step_without_noise_or_clipping_is_plain_sgd():
    model, params, x, y = linear_problem()
    loss, opt = fn.losses.mean_squared_error, optax.sgd(0.1)
    state = fn.init_train_state(model, opt, jax.random.key(0), (3,), params=params)
    step = jax.jit(privacy.make_dp_step_fn(model, loss, opt, l2_norm_clip=1e6, noise_multiplier=0))
    new, logs = step(state, (x, y))
    w, b = np.asarray(params["kernel"]), np.asarray(params["bias"])
    r = x @ w + b - y
    np.testing.assert_allclose(new.params["kernel"], w - 0.1 * 2 * x.T @ r / 6, rtol=1e-5)
    np.testing.assert_allclose(new.params["bias"], b - 0.1 * 2 * r.mean(0), rtol=1e-5)
    assert float(logs["clip_fraction"]) == 0.0 and int(new.step) == 1
    _, clipped_logs = step(state._replace(), (x * 100, y))
    assert float(clipped_logs["loss"]) > float(logs["loss"])


def test_dp_step_equals_privatize_of_per_example_gradients():
    rng = np.random.RandomState(4)
    x = rng.randn(8, 5).astype(np.float32)
    y = rng.randint(0, 3, 8)
    model = fn.Sequential(fn.Dense(6), fn.activations.tanh, fn.Dense(3))
    loss, opt = fn.losses.softmax_cross_entropy, optax.sgd(0.5)
    state = fn.init_train_state(model, opt, jax.random.key(1), (5,))
    step = privacy.make_dp_step_fn(model, loss, opt, l2_norm_clip=0.05, noise_multiplier=0.8)
    new, logs = jax.jit(step)(state, (x, y))
    _, grads = privacy.per_example_gradients(model, loss, state.params, x, y)
    noise_key = jax.random.fold_in(state.key, state.step)  # the step's key
    noisy = privacy.privatize(grads, noise_key, 0.05, 0.8)
    expected = jax.tree.map(lambda p, g: p - 0.5 * g, state.params, noisy)
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(logs["clip_fraction"]) == 1.0  # every gradient is longer than 0.05


def test_rdp_epsilon():
    # without subsampling the Gaussian mechanism's RDP is alpha / (2 sigma^2) exactly
    sigma, steps, delta = 2.0, 3, 1e-5
    expected = min(steps * a / (2 * sigma**2) + math.log(1 / delta) / (a - 1) for a in range(2, 257))
    assert privacy.rdp_epsilon(sigma, 1.0, steps, delta) == pytest.approx(expected, rel=1e-9)
    # TF Privacy's MNIST tutorial: sigma 1.1, batch 256 of 60,000, 60 epochs, delta 1e-5: eps ~ 3
    eps = privacy.rdp_epsilon(1.1, 256 / 60000, 60 * 60000 // 256, 1e-5)
    assert 2.5 < eps < 3.5
    assert privacy.rdp_epsilon(2.0, 256 / 60000, 1000, 1e-5) < privacy.rdp_epsilon(
        1.0, 256 / 60000, 1000, 1e-5
    )
    with pytest.raises(ValueError, match="sample_rate"):
        privacy.rdp_epsilon(1.0, 0.0, 10, 1e-5)


@pytest.mark.slow
def test_dp_sgd_experiment_runs_end_to_end(tmp_path, data_dir):
    import json

    from fnnet import cli

    argv = ["run", "dp_sgd_mnist", "--epochs", "1", "--train-size", "2048", "--batch-size", "128"]
    argv += ["--learning-rate", "0.5", "--data-dir", str(data_dir), "--out-dir", str(tmp_path)]
    assert cli.main([*argv, "--quiet"]) == 0
    metrics = json.loads((tmp_path / "dp_sgd_mnist" / "metrics.json").read_text())
    assert metrics["steps"] == 16
    assert metrics["test_accuracy_non_private"] > 0.6  # 10 classes: chance is 0.1
    assert 0.1 < metrics["test_accuracy_dp_sgd"] <= 1.0
    assert (tmp_path / "dp_sgd_mnist" / "accuracy.png").exists()
