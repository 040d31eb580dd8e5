"""Autoencoders on MNIST: dense vs PCA with the same code size, a denoising one, a 2-D code, a conv one.

Reports test reconstruction MSE of the dense autoencoder against PCA with as many components as the
code, of the denoising autoencoder on corrupted test digits, and (when fnnet has ConvTranspose) of the
convolutional autoencoder. Figures: reconstruction grids and the 2-D code coloured by digit.

Reproduces: 001_aa06252bb9b8f838.txt, the use-case table (line 47: autoencoders, dimensionality reduction).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.unsupervised import conv_autoencoder, dense_autoencoder, fit_pca

SOURCE = "001_aa06252bb9b8f838.txt, the use-case table (line 47: autoencoders, dimensionality reduction)"

DEFAULTS = dict(
    epochs=10,  # for each autoencoder
    batch_size=128,
    learning_rate=1e-3,  # Adam
    code_size=32,  # the dense/conv code, and the number of principal components
    hidden=(256,),  # encoder hidden sizes (the decoder mirrors them)
    noise_stddev=0.3,  # Gaussian corruption of the denoising autoencoder (inputs clipped to [0, 1])
    plot_hidden=(256, 64),  # the 2-D code's encoder
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--code-size", type=int, default=DEFAULTS["code_size"])
    parser.add_argument("--noise-stddev", type=float, default=DEFAULTS["noise_stddev"])
    parser.add_argument("--train-size", type=int, default=60000)
    return parser


def train(args, model, x, key):
    """Fit ``model`` to reproduce ``x``; return its params."""
    result = fn.fit(
        model, fn.losses.mean_squared_error, optax.adam(args.learning_rate), x, x, key=key,
        epochs=args.epochs, batch_size=args.batch_size, fused=True,
    )  # fmt: skip
    return result.state.params


def mse(a, b):
    """Mean squared difference of two arrays, as a float."""
    return float(jnp.mean(jnp.square(jnp.asarray(a) - jnp.asarray(b))))


def main(argv=None) -> dict:
    """Train the autoencoders and PCA, compare test MSE, draw the figures."""
    args = build_parser().parse_args(argv)
    common.header(args, "autoencoder_mnist", SOURCE)
    folder = common.output_dir(args, "autoencoder_mnist")
    data = fn.data.load_mnist("mnist", args.data_dir)
    x = data.x_train[: args.train_size].reshape(-1, 784)
    x_test = data.x_test.reshape(-1, 784)
    key = jax.random.key(args.seed)
    rows = {"original": x_test[:10]}
    metrics = {"code_size": args.code_size}

    pca = fit_pca(x, args.code_size)
    metrics["pca"] = {"test_mse": mse(pca.reconstruct(x_test), x_test)}
    rows[f"PCA ({args.code_size})"] = pca.reconstruct(x_test[:10])

    dense = dense_autoencoder(784, args.code_size, DEFAULTS["hidden"])
    params = train(args, dense, x, jax.random.fold_in(key, 1))
    metrics["dense"] = {"test_mse": mse(fn.predict(dense, params, x_test), x_test)}
    rows[f"dense AE ({args.code_size})"] = dense.apply(params, x_test[:10])

    if hasattr(fn, "ConvTranspose"):
        conv = conv_autoencoder((28, 28, 1), args.code_size)
        images = x.reshape(-1, 28, 28, 1)
        conv_params = train(args, conv, images, jax.random.fold_in(key, 2))
        recon = fn.predict(conv, conv_params, x_test.reshape(-1, 28, 28, 1)).reshape(-1, 784)
        metrics["conv"] = {"test_mse": mse(recon, x_test)}
        rows[f"conv AE ({args.code_size})"] = recon[:10]
    else:
        metrics["conv"] = "skipped: this fnnet has no ConvTranspose"

    noise = fn.GaussianNoise(args.noise_stddev)
    denoising = dense_autoencoder(784, args.code_size, DEFAULTS["hidden"], noise=noise)
    den_params = train(args, denoising, x, jax.random.fold_in(key, 3))
    corrupted = np.clip(
        x_test + args.noise_stddev * np.random.default_rng(args.seed).normal(size=x_test.shape), 0, 1
    )
    corrupted = corrupted.astype(np.float32)
    metrics["denoising"] = {
        "noisy_input_mse": mse(corrupted, x_test),
        "denoised_mse": mse(fn.predict(denoising, den_params, corrupted), x_test),
        "plain_ae_on_noisy_mse": mse(fn.predict(dense, params, corrupted), x_test),
    }
    rows["noisy input"] = corrupted[:10]
    rows["denoised"] = denoising.apply(den_params, corrupted[:10])

    flat = dense_autoencoder(784, 2, DEFAULTS["plot_hidden"])
    flat_params = train(args, flat, x, jax.random.fold_in(key, 4))
    codes = np.asarray(flat.encode(flat_params, x_test))
    metrics["code_2d"] = {"test_mse": mse(fn.predict(flat, flat_params, x_test), x_test),
                          "pca_2_test_mse": mse(fit_pca(x, 2).reconstruct(x_test), x_test)}  # fmt: skip
    common.report(args, *(f"{name}: {value}" for name, value in metrics.items()))

    fig, axes = common.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows)))
    for r, (name, images) in enumerate(rows.items()):
        for c in range(10):
            axes[r, c].imshow(np.asarray(images[c]).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    common.save_figure(fig, folder, "reconstructions")
    pca_codes = np.asarray(fit_pca(x, 2).encode(x_test))
    fig, axes = common.subplots(1, 2, figsize=(12, 5))
    for ax, points, title in (
        (axes[0], codes, "autoencoder 2-D code"),
        (axes[1], pca_codes, "PCA, 2 components"),
    ):
        scatter = ax.scatter(points[:, 0], points[:, 1], c=data.y_test, cmap="tab10", s=2, alpha=0.6)
        ax.set(title=f"{title} (test digits)")
    fig.colorbar(scatter, ax=axes, label="digit")
    common.save_figure(fig, folder, "codes_2d")
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
