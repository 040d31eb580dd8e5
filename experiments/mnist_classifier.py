"""A small fnnet MLP classifier of MNIST digits, used to label generated images (GAN check).

Run alone it trains the classifier and reports its test accuracy; ``load_or_train`` reuses the params
saved in the output folder, so the GAN experiment trains it once.

Beyond the course: the GAN check's helper (not a lesson of the course).
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common

SOURCE = "the GAN check's helper (not a lesson of the course)"

# Defaults. Only --epochs and --seed reach the training: the GAN check relies on this classifier.
DEFAULTS = dict(
    epochs=4,  # passes over the 60,000 training digits
    batch_size=128,
    learning_rate=1e-3,  # Adam
    hidden=256,  # ReLU units of the 784-256-10 MLP
)
MODEL = fn.Sequential(fn.Dense(DEFAULTS["hidden"]), fn.activations.relu, fn.Dense(10))


def build_parser():
    """The options of this experiment."""
    return common.base_parser(__doc__.splitlines()[0], **DEFAULTS)


def load_or_train(folder: pathlib.Path, data: fn.data.MnistData, epochs: int, seed: int = 0):
    """The classifier's params from ``folder/classifier.npz``, training and saving them if absent.

    Returns:
        ``(params, test_accuracy)``; inputs are flattened images in [0, 1], ``[N, 784]``.
    """
    path = folder / "classifier.npz"
    x_test = data.x_test.reshape(len(data.x_test), 784)
    if path.exists():
        saved = np.load(path)
        params = {"0": {"kernel": saved["k0"], "bias": saved["b0"]}, "1": {}}
        params["2"] = {"kernel": saved["k2"], "bias": saved["b2"]}
        params = jax.tree.map(jax.numpy.asarray, params)
    else:
        x = data.x_train.reshape(len(data.x_train), 784)
        result = fn.fit(MODEL, fn.losses.softmax_cross_entropy, optax.adam(DEFAULTS["learning_rate"]), x,
                        data.y_train, key=jax.random.key(seed), epochs=epochs,
                        batch_size=DEFAULTS["batch_size"], fused=True)  # fmt: skip
        params = result.state.params
        np.savez(path, k0=params["0"]["kernel"], b0=params["0"]["bias"],
                 k2=params["2"]["kernel"], b2=params["2"]["bias"])  # fmt: skip
    logits = fn.predict(MODEL, params, x_test)
    return params, float(np.mean(np.asarray(logits).argmax(-1) == data.y_test))


def main(argv=None) -> dict:
    """Train (or load) the classifier and report its test accuracy."""
    args = build_parser().parse_args(argv)
    common.header(args, "mnist_classifier", SOURCE, beyond_course=True)
    folder = common.output_dir(args, "mnist_classifier")
    _, accuracy = load_or_train(folder, fn.data.load_mnist("mnist", args.data_dir), args.epochs, args.seed)
    common.report(args, f"MLP classifier test accuracy: {accuracy:.4f}")
    metrics = {"test_accuracy": accuracy}
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
