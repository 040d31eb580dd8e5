"""A deep belief network on MNIST: greedy CD-1 pre-training, then fine-tuning vs random initialisation.

Two RBMs are stacked greedily on the training images; their weights initialise a sigmoid MLP that is
fine-tuned with labels, and the same MLP from random initialisation gets the same optimiser, steps and
data. Both are scored on the 10,000 test digits, with all 60,000 labels and with only a few.

Reproduces: 001_aa06252bb9b8f838.txt, the use-case table (line 47: deep belief networks, unsupervised
pre-training).
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.unsupervised import dbn_mlp, pretrain_dbn

SOURCE = (
    "001_aa06252bb9b8f838.txt, the use-case table (line 47: deep belief networks, unsupervised pre-training)"
)

DEFAULTS = dict(
    epochs=3,  # fine-tuning epochs with all 60,000 labels
    batch_size=64,
    learning_rate=0.1,  # SGD with momentum 0.9, both initialisations
    hidden=(500, 500),
    rbm_epochs=5,  # CD-1 epochs per RBM
    rbm_learning_rate=0.05,  # SGD with momentum 0.5 (Hinton's practical guide)
    few_labels=1000,  # the low-label regime: the first 1,000 labelled digits ...
    few_label_epochs=30,  # ... for this many epochs
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden", type=int, nargs="+", default=list(DEFAULTS["hidden"]))
    for name in ("rbm_epochs", "few_labels", "few_label_epochs"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=DEFAULTS[name])
    parser.add_argument("--rbm-learning-rate", type=float, default=DEFAULTS["rbm_learning_rate"])
    return parser


def fine_tune(args, model, params, x, y, x_test, y_test, epochs):
    """Fit ``model`` from ``params``; return the per-epoch test accuracy."""
    optimizer = optax.sgd(args.learning_rate, momentum=0.9)
    state = fn.init_train_state(model, optimizer, jax.random.key(args.seed), (784,), params=params)
    result = fn.fit(
        model,
        fn.losses.softmax_cross_entropy,
        optimizer,
        x,
        y,
        key=jax.random.key(args.seed + 1),
        state=state,
        epochs=epochs,
        batch_size=args.batch_size,
        fused=True,
        validation_data=(x_test, y_test),
        metrics={"accuracy": fn.metrics.accuracy},
    )
    return result.history["val_accuracy"]


def main(argv=None) -> dict:
    """Pre-train the DBN, fine-tune it and the random-init MLP, plot the features and curves."""
    args = build_parser().parse_args(argv)
    common.header(args, "dbn_mnist", SOURCE)
    folder = common.output_dir(args, "dbn_mnist")
    data = fn.data.load_mnist("mnist", args.data_dir)
    x, x_test = data.x_train.reshape(-1, 784), data.x_test.reshape(-1, 784)
    started = time.perf_counter()
    rbm_optimizer = optax.sgd(args.rbm_learning_rate, momentum=0.5)
    dbn = pretrain_dbn(
        x,
        args.hidden,
        rbm_optimizer,
        key=jax.random.key(args.seed),
        epochs=args.rbm_epochs,
        batch_size=args.batch_size,
    )
    pretrain_minutes = (time.perf_counter() - started) / 60
    recon = [h["reconstruction_error"] for h in dbn.histories]
    changes = "; ".join(f"{r[0]:.4f} -> {r[-1]:.4f}" for r in recon)
    common.report(args, f"pre-training {pretrain_minutes:.1f} min; reconstruction error {changes}")
    regimes = {
        "all_labels": (len(x), args.epochs),
        f"{args.few_labels}_labels": (args.few_labels, args.few_label_epochs),
    }
    results, curves = {}, {}
    for name, (n, epochs) in regimes.items():
        runs = {}
        for init, source in (("dbn", dbn), ("random", None)):
            model, params = dbn_mlp(source, args.hidden, 10, 784, jax.random.key(args.seed + 2))
            runs[init] = fine_tune(args, model, params, x[:n], data.y_train[:n], x_test, data.y_test, epochs)
        results[name] = {
            "labels": n,
            "epochs": epochs,
            "dbn_accuracy": runs["dbn"][-1],
            "random_accuracy": runs["random"][-1],
        }
        curves[name] = runs
        common.report(
            args,
            f"{name} ({epochs} epochs): test accuracy DBN-initialised {runs['dbn'][-1]:.4f}, "
            f"random init {runs['random'][-1]:.4f}",
        )

    side = int(np.sqrt(min(100, args.hidden[0])))
    kernel = np.asarray(dbn.rbms[0]["kernel"])[:, : side * side].T  # [side * side, 784]
    title = f"first RBM: weights of {side * side} hidden units"
    common.save_figure(common.image_grid(kernel, side, title, inches=6), folder, "first_layer_features")
    fig, axes = common.subplots(1, len(curves) + 1, figsize=(5 * (len(curves) + 1), 3.5))
    rbms = {f"RBM {i + 1}": r for i, r in enumerate(recon)}
    common.plot_curves(axes[0], rbms, title="CD-1 reconstruction error", marker="o")
    for ax, (name, runs) in zip(axes[1:], curves.items()):
        common.plot_curves(ax, runs, ylabel="test accuracy", title=f"fine-tuning, {name}", marker=".")
    common.save_figure(fig, folder, "pretraining_and_fine_tuning")
    metrics = {
        "hidden": args.hidden,
        "pretrain_minutes": pretrain_minutes,
        "reconstruction_error": recon,
        "fine_tuning": results,
    }
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
