"""Autoencoders: forward pass against NumPy, shape errors, and learning on MNIST (dense, denoising, conv)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.unsupervised import conv_autoencoder, dense_autoencoder


def test_dense_autoencoder_matches_numpy():
    model = dense_autoencoder(6, 2, (4,))
    _, params = model.init(jax.random.key(0), (6,))
    x = np.random.default_rng(0).normal(size=(3, 6)).astype(np.float32)
    enc, dec = params["encoder"], params["decoder"]
    hidden = np.maximum(x @ np.asarray(enc["0"]["kernel"]) + np.asarray(enc["0"]["bias"]), 0)
    code = hidden @ np.asarray(enc["2"]["kernel"]) + np.asarray(enc["2"]["bias"])  # linear code
    hidden = np.maximum(code @ np.asarray(dec["0"]["kernel"]) + np.asarray(dec["0"]["bias"]), 0)
    out = 1 / (1 + np.exp(-(hidden @ np.asarray(dec["2"]["kernel"]) + np.asarray(dec["2"]["bias"]))))
    np.testing.assert_allclose(model.encode(params, x), code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.apply(params, x), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.decode(params, code), out, rtol=1e-5, atol=1e-6)
    assert model.code_shape((6,)) == (2,)


def test_autoencoder_errors_name_the_part_and_shapes():
    expected = r"maps the code \[2\] to \[3\].*reconstruct the input shape \[5\]"
    with pytest.raises(fn.ShapeError, match=expected):
        fn.unsupervised.Autoencoder(fn.Dense(2), fn.Dense(3)).init(jax.random.key(0), (5,))
    model = dense_autoencoder(5, 2, ())
    _, params = model.init(jax.random.key(0), (5,))
    expected = r"Autoencoder\.encoder > Sequential\[0\].*\[\.\.\., 5\].*got \[2, 4\]"
    with pytest.raises(fn.ShapeError, match=expected):
        model.apply(params, jnp.ones((2, 4)))


def mnist_flat(data_dir, n):
    return fn.data.load_mnist("mnist", data_dir).x_train[:n].reshape(n, 784)


def reconstruction_mse(model, params, x):
    return float(jnp.mean(jnp.square(fn.predict(model, params, x) - x)))


def test_dense_and_denoising_autoencoders_learn_on_mnist(data_dir):
    x = mnist_flat(data_dir, 2000)
    for noise in (None, fn.GaussianNoise(0.3)):
        model = dense_autoencoder(784, 32, (128,), noise=noise)
        _, start = model.init(jax.random.split(jax.random.key(0))[0], (784,))
        result = fn.fit(model, fn.losses.mean_squared_error, optax.adam(2e-3), x, x, key=jax.random.key(0),
                        epochs=6, batch_size=64, fused=True)  # fmt: skip
        before, after = reconstruction_mse(model, start, x), reconstruction_mse(model, result.state.params, x)
        assert after < 0.35 * before, (noise, before, after)
    # the denoising one really denoises: its output is closer to the clean digits than its noisy input
    noisy = np.clip(x + 0.3 * np.random.default_rng(1).normal(size=x.shape), 0, 1).astype(np.float32)
    denoised = fn.predict(model, result.state.params, noisy)
    assert float(jnp.mean(jnp.square(denoised - x))) < 0.8 * float(np.mean(np.square(noisy - x)))


def test_conv_autoencoder_shapes_and_its_divisibility_error():
    model = conv_autoencoder((8, 12, 2), 5, (3, 4))
    out_shape, params = model.init(jax.random.key(0), (8, 12, 2))
    assert out_shape == (8, 12, 2) and model.code_shape((8, 12, 2)) == (5,)
    assert params["encoder"]["2"]["kernel"].shape == (3, 3, 3, 4)  # the second stride-2 Conv
    assert params["encoder"]["5"]["kernel"].shape == (2 * 3 * 4, 5)  # the code: [H/4 * W/4 * c2, code]
    assert model.apply(params, jnp.ones((3, 8, 12, 2))).shape == (3, 8, 12, 2)
    with pytest.raises(ValueError, match=r"H and W must be divisible by 4, got \(10, 12, 1\)"):
        conv_autoencoder((10, 12, 1))


def test_conv_autoencoder_learns_on_mnist(data_dir):
    x = fn.data.load_mnist("mnist", data_dir).x_train[:1000]
    model = conv_autoencoder((28, 28, 1), 32)
    out_shape, start = model.init(jax.random.split(jax.random.key(0))[0], (28, 28, 1))
    assert out_shape == (28, 28, 1) and model.code_shape((28, 28, 1)) == (32,)
    result = fn.fit(model, fn.losses.mean_squared_error, optax.adam(2e-3), x, x, key=jax.random.key(0),
                    epochs=3, batch_size=50, fused=True)  # fmt: skip
    before, after = reconstruction_mse(model, start, x), reconstruction_mse(model, result.state.params, x)
    assert after < 0.5 * before


@pytest.mark.slow
def test_autoencoder_experiment_beats_pca_with_the_same_code_size(tmp_path, data_dir):
    from experiments import autoencoder_mnist

    metrics = autoencoder_mnist.main(["--out-dir", str(tmp_path), "--quiet"])
    assert metrics["dense"]["test_mse"] < metrics["pca"]["test_mse"]
    assert metrics["denoising"]["denoised_mse"] < 0.5 * metrics["denoising"]["noisy_input_mse"]
    for name in ("reconstructions", "codes_2d"):
        assert (tmp_path / "autoencoder_mnist" / f"{name}.png").stat().st_size > 5000
