"""Network sizing: regression, binary and multi-class MLPs on scikit-learn's bundled data (course example 5).

Reproduces 003_57e07c46f1bd5fd4.txt, "Sizing Neural Networks" and "Feedforward Network Sizing Summary":
the output layer follows the task: one linear unit for regression (diabetes, mean squared error), one
sigmoid unit for binary classification (breast cancer, cross-entropy), a softmax over ten for multi-class
(digits, softmax cross-entropy).

The protocol is the one that gives honest test scores. Each data set is split once into train and test
(``load_tabular``); a validation part is carved from the training part (shuffled, ``--val-fraction``), and
every statistic (input scaling, the regression target's scaling) is fitted on what remains. Training stops
early when the validation loss has not improved for ``--patience`` epochs, and the weights of the epoch
with the lowest validation loss are restored (``fnnet.training.EarlyStopping``). The test split is used
once, at the end, for the reported score, beside a trivial baseline on the same split (predict the training
mean; predict the majority class).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet import losses, metrics

# Defaults (each is a command-line option), shared by the three networks.
DEFAULTS = dict(
    epochs=100,  # at most this many passes over each training part; early stopping usually ends sooner
    batch_size=32,
    learning_rate=3e-3,  # Adam
    hidden=64,  # ReLU units of the one hidden layer
    val_fraction=0.2,  # of the training split, held out for early stopping
    patience=10,  # epochs without a lower validation loss before stopping
)
SOURCE = f'{common.COURSE["slides"]}, "Sizing Neural Networks"'


@dataclasses.dataclass(frozen=True)
class Splits:
    """Train / validation / test parts of one data set, inputs scaled with the train part's statistics."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def build_parser() -> argparse.ArgumentParser:
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    parser.add_argument("--val-fraction", type=float, default=DEFAULTS["val_fraction"])
    parser.add_argument("--patience", type=int, default=DEFAULTS["patience"])
    return parser


def check_args(args: argparse.Namespace) -> None:
    """Refuse options that cannot run, naming the option."""
    if not 0 < args.val_fraction < 1:
        raise ValueError(f"network_sizing: --val-fraction must be in (0, 1), got {args.val_fraction}")
    for name in ("epochs", "patience", "hidden", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(
                f"network_sizing: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
            )


def load_splits(name: str, args: argparse.Namespace) -> Splits:
    """``name``'s train/test split, a validation part carved from train, inputs standardised on the rest."""
    data = fn.data.load_tabular(name, seed=args.seed, standardize=False)
    # A NumPy shuffle: jax.random.permutation would compile anew for every data set's size.
    order = np.random.default_rng(args.seed).permutation(len(data.x_train))
    val, fit_rows = np.split(order, [round(args.val_fraction * len(order))])
    x_train, y_train = data.x_train[fit_rows], data.y_train[fit_rows]
    x_val, y_val = data.x_train[val], data.y_train[val]
    scaler = fn.data.Standardizer.fit(x_train)
    return Splits(
        scaler.transform(x_train), y_train, scaler.transform(x_val), y_val, scaler.transform(data.x_test),
        data.y_test,
    )  # fmt: skip


def train(
    model: fn.Layer,
    loss: Callable,
    splits: Splits,
    args: argparse.Namespace,
    targets: Callable[[np.ndarray], np.ndarray],
    metric: dict | None = None,
) -> fn.FitResult:
    """Fit ``model`` with Adam on the train part, stopping early on the validation part (best restored)."""
    return fn.fit(
        model,
        loss,
        optax.adam(args.learning_rate),
        splits.x_train,
        targets(splits.y_train),
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=min(args.batch_size, len(splits.x_train)),
        validation_data=(splits.x_val, targets(splits.y_val)),
        metrics=metric,
        callbacks=[fn.training.EarlyStopping("val_loss", patience=args.patience, restore_best=True)],
        fused=True,
    )


def chosen_epoch(history: dict) -> int:
    """The epoch (from 1) with the lowest validation loss: the one whose weights EarlyStopping restored."""
    return int(history["epoch"][int(np.argmin(history["val_loss"]))])


def training_record(run: fn.FitResult, model: fn.Layer, loss: Callable, x_val, y_val) -> dict:
    """What the fit did: the chosen epoch, the epochs run, why it stopped, both loss curves, and the
    validation loss of the weights ``fit`` returned (the chosen epoch's, if the restore worked)."""
    returned = fn.training.evaluate(model, run.state.params, x_val, y_val, loss=loss)["loss"]
    return {
        "chosen_epoch": chosen_epoch(run.history),
        "epochs_run": len(run.history["epoch"]),
        "stop_reason": run.stop_reason,
        "train_loss": [float(v) for v in run.history["loss"]],
        "val_loss": [float(v) for v in run.history["val_loss"]],
        "val_loss_of_returned_weights": float(returned),
    }


def regression(args: argparse.Namespace) -> dict:
    """Diabetes: one linear output on the standardised target; test RMSE against predicting the mean."""
    splits = load_splits("diabetes", args)
    scaler = fn.data.Standardizer.fit(splits.y_train)
    model = fn.Sequential(fn.Dense(args.hidden), fn.activations.relu, fn.Dense(1))
    run = train(model, losses.mean_squared_error, splits, args, scaler.transform)
    pred = scaler.inverse(fn.predict(model, run.state.params, splits.x_test))  # the one look at test
    return {
        "test_rmse": float(np.sqrt(np.mean((pred - splits.y_test) ** 2))),
        "baseline_rmse_predict_mean": float(np.sqrt(np.mean((splits.y_train.mean() - splits.y_test) ** 2))),
        **training_record(
            run, model, losses.mean_squared_error, splits.x_val, scaler.transform(splits.y_val)
        ),
    }


def majority_baseline(splits: Splits) -> float:
    """The test accuracy of always predicting the training part's most frequent class."""
    return float(np.mean(splits.y_test == np.bincount(splits.y_train).argmax()))


def binary(args: argparse.Namespace) -> dict:
    """Breast cancer: one sigmoid output, cross-entropy; test accuracy against the majority class."""
    splits = load_splits("breast_cancer", args)
    model = fn.Sequential(fn.Dense(args.hidden), fn.activations.relu, fn.Dense(1), fn.activations.sigmoid)
    as_column = lambda y: y[:, None].astype(np.float32)  # noqa: E731 - [N] labels -> [N, 1] targets
    metric = {"accuracy": metrics.binary_accuracy}
    run = train(model, losses.binary_cross_entropy, splits, args, as_column, metric)
    probability = np.asarray(fn.predict(model, run.state.params, splits.x_test))[:, 0]  # the one look
    return {
        "test_accuracy": float(np.mean((probability > 0.5) == splits.y_test)),
        "baseline_majority_class": majority_baseline(splits),
        **training_record(run, model, losses.binary_cross_entropy, splits.x_val, as_column(splits.y_val)),
    }


def multiclass(args: argparse.Namespace) -> dict:
    """Digits: ten logits (the loss applies the softmax); test accuracy against the majority class."""
    splits = load_splits("digits", args)
    model = fn.Sequential(fn.Dense(args.hidden), fn.activations.relu, fn.Dense(10))
    metric = {"accuracy": metrics.accuracy}
    run = train(model, losses.softmax_cross_entropy, splits, args, lambda y: y, metric)
    scores = np.asarray(fn.predict(model, run.state.params, splits.x_test))  # the one look at test
    return {
        "test_accuracy": float(np.mean(scores.argmax(-1) == splits.y_test)),
        "baseline_majority_class": majority_baseline(splits),
        **training_record(run, model, losses.softmax_cross_entropy, splits.x_val, splits.y_val),
    }


TASKS = {
    "diabetes": ("regression: 1 linear unit, MSE (standardised)", regression),
    "breast_cancer": ("binary: 1 sigmoid unit, cross-entropy", binary),
    "digits": ("multi-class: softmax over 10, cross-entropy", multiclass),
}


def plot_learning_curves(results: dict, folder) -> None:
    """One panel per task: train and validation loss per epoch, the chosen epoch marked."""
    fig, axes = common.subplots(1, len(results), figsize=(4.6 * len(results), 3.6))
    for ax, (name, result) in zip(np.atleast_1d(axes), results.items(), strict=True):
        curves = {"train": result["train_loss"], "validation": result["val_loss"]}
        common.plot_curves(ax, curves, ylabel="loss", title=f"{name}\n{TASKS[name][0]}")
        best = result["chosen_epoch"]
        ax.axvline(best, color="k", ls=":", lw=1)
        ax.plot([best], [result["val_loss"][best - 1]], "k*", ms=9, label=f"chosen epoch {best}")
        ax.legend(fontsize=8)
    fig.suptitle("Network sizing: early stopping on a validation split carved from train")
    fig.tight_layout()
    common.save_figure(fig, folder, "network_sizing_curves")


def summary_line(name: str, result: dict) -> str:
    """``name: test score vs baseline, chosen epoch N of M run``."""
    scores = {k: v for k, v in result.items() if k.startswith(("test_", "baseline_"))}
    epochs = f"chosen epoch {result['chosen_epoch']} of {result['epochs_run']} run"
    return f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()) + f" ({epochs})"


def main(argv: list[str] | None = None) -> dict:
    """Train the three networks, print test scores beside their baselines, plot the learning curves."""
    args = build_parser().parse_args(argv)
    check_args(args)
    common.header(args, "network_sizing", SOURCE)
    results = {name: task(args) for name, (_, task) in TASKS.items()}
    common.report(args, *(summary_line(name, r) for name, r in results.items()))
    folder = common.output_dir(args, "network_sizing")
    plot_learning_curves(results, folder)
    common.save_metrics(folder, results)
    return results


if __name__ == "__main__":
    main()
