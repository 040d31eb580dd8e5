"""Network sizing: regression, binary and multi-class MLPs on scikit-learn's bundled data (course example 5).

The output layer follows the task: one linear unit for regression (diabetes, mean squared error), one
sigmoid unit for binary classification (breast cancer, cross-entropy), a softmax over ten for multi-class
(digits, softmax cross-entropy). Each is compared with a trivial baseline on the same test split.
"""

from __future__ import annotations

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet import losses, metrics

# Defaults (each is a command-line option), shared by the three networks.
DEFAULTS = dict(
    epochs=60,  # passes over each training split
    batch_size=32,
    learning_rate=3e-3,  # Adam
    hidden=64,  # ReLU units of the one hidden layer
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    return parser


def train(model, loss, data, args, targets, metric=None):
    """Fit ``model`` on the training split with Adam; return the FitResult."""
    return fn.fit(
        model,
        loss,
        optax.adam(args.learning_rate),
        data.x_train,
        targets(data.y_train),
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(data.x_test, targets(data.y_test)),
        metrics=metric,
        fused=True,
    )


def main(argv=None) -> dict:
    """Train the three networks, print test metrics beside their baselines, plot learning curves."""
    args = build_parser().parse_args(argv)
    h = args.hidden
    results, curves = {}, {}

    data = fn.data.load_tabular("diabetes")  # regression: one linear output
    scaler = fn.data.Standardizer.fit(data.y_train)
    model = fn.Sequential(fn.Dense(h), fn.activations.relu, fn.Dense(1))
    run = train(model, losses.mean_squared_error, data, args, scaler.transform)
    pred = scaler.inverse(fn.predict(model, run.state.params, data.x_test))
    rmse = float(np.sqrt(np.mean((pred - data.y_test) ** 2)))
    baseline = float(np.sqrt(np.mean((data.y_train.mean() - data.y_test) ** 2)))
    results["diabetes"] = {"test_rmse": rmse, "baseline_rmse_predict_mean": baseline}
    curves["diabetes (MSE, standardised)"] = run.history

    data = fn.data.load_tabular("breast_cancer")  # binary: one sigmoid output
    model = fn.Sequential(fn.Dense(h), fn.activations.relu, fn.Dense(1), fn.activations.sigmoid)
    run = train(
        model,
        losses.binary_cross_entropy,
        data,
        args,
        lambda y: y[:, None].astype(np.float32),
        {"accuracy": metrics.binary_accuracy},
    )
    accuracy = float(
        np.mean((np.asarray(fn.predict(model, run.state.params, data.x_test))[:, 0] > 0.5) == data.y_test)
    )
    majority = float(np.mean(data.y_test == np.bincount(data.y_train).argmax()))
    results["breast_cancer"] = {"test_accuracy": accuracy, "baseline_majority_class": majority}
    curves["breast cancer (cross-entropy)"] = run.history

    data = fn.data.load_tabular("digits")  # multi-class: softmax over ten
    model = fn.Sequential(
        fn.Dense(h), fn.activations.relu, fn.Dense(10)
    )  # logits; the loss applies the softmax
    run = train(model, losses.softmax_cross_entropy, data, args, lambda y: y, {"accuracy": metrics.accuracy})
    scores = fn.predict(model, run.state.params, data.x_test)
    accuracy = float(metrics.accuracy(scores, data.y_test))
    majority = float(np.mean(data.y_test == np.bincount(data.y_train).argmax()))
    results["digits"] = {"test_accuracy": accuracy, "baseline_majority_class": majority}
    curves["digits (softmax cross-entropy)"] = run.history

    common.report(
        args, *(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in r.items()) for name, r in results.items())
    )
    folder = common.output_dir(args, "network_sizing")
    fig, axes = common.subplots(1, 3, figsize=(13, 3.5))
    for ax, (title, history) in zip(axes, curves.items()):
        common.plot_curves(
            ax, {"train": history["loss"], "test": history["val_loss"]}, ylabel="loss", title=title
        )
    common.save_figure(fig, folder, "network_sizing_curves")
    common.save_metrics(folder, results)
    return results


if __name__ == "__main__":
    main()
