"""MNIST and Fashion-MNIST with the course's CNN or an MLP: accuracy, speed, filters, feature maps.

Models (``--model``): ``cnn`` is 28x28x1 -> Conv(32, 3x3, SAME) relu MaxPool(2) ->
Conv(64, 3x3, SAME) relu MaxPool(2) -> Flatten -> Dense(128) relu [Dropout] -> Dense(10);
``mlp`` is 784 -> 512 -> 512 -> 10 with ReLU and dropout. Targets: CNN on MNIST >= 99.0%,
MLP on MNIST >= 98.0%, CNN on Fashion-MNIST >= 90.0% test accuracy. Figures: loss and accuracy
curves, confusion matrix, first-layer filters and (CNN) the feature maps of one test image after
each conv block.

    python -m experiments.mnist --model cnn                            # ~99.1%, 5 epochs
    python -m experiments.mnist --model mlp                            # ~98.2%, 12 epochs
    python -m experiments.mnist --model cnn --dataset fashion-mnist    # ~91%, 10 epochs

Reproduces: 000_39566603f99e472a.txt (kernels, max/average pooling, handwritten digits) and
003_57e07c46f1bd5fd4.txt, "Convolutional Neural Networks (CNN)" (line 613).
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common

SOURCE = (
    "000_39566603f99e472a.txt (kernels, max/average pooling, handwritten digits) and "
    '003_57e07c46f1bd5fd4.txt, "Convolutional Neural Networks (CNN)" (line 613)'
)

# Defaults (each is a command-line option). Per (model, dataset): epochs, the dropout rate before the
# output layer(s), and the test accuracy the run should reach.
DEFAULTS = {
    ("cnn", "mnist"): dict(epochs=5, dropout=0.0, target=0.990),
    ("mlp", "mnist"): dict(epochs=12, dropout=0.2, target=0.980),
    ("cnn", "fashion-mnist"): dict(epochs=10, dropout=0.3, target=0.900),
    ("mlp", "fashion-mnist"): dict(epochs=12, dropout=0.2, target=0.880),
}
BATCH_SIZE = 128
LEARNING_RATE = 1e-3  # Adam
# Class names for the confusion matrix.
CLASSES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": "T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Boot".split(),
}


def build_parser():
    """The options: ``--model``, ``--dataset``, ``--train-subset``, ... plus the common ones."""
    parser = common.base_parser(__doc__.splitlines()[0], batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE)
    parser.set_defaults(epochs=None)
    parser.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist"], default="mnist")
    parser.add_argument("--dropout", type=float, default=None, help="default: per model, see DEFAULTS")
    parser.add_argument("--train-subset", type=int, default=None, help="use the first N training images")
    parser.add_argument("--test-subset", type=int, default=None, help="use the first N test images")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    return parser


def build_model(kind: str, dropout: float) -> fn.Sequential:
    """The course's CNN or the MLP, with optional dropout before the output layer(s)."""
    drop = [fn.Dropout(dropout)] if dropout > 0 else []
    if kind == "cnn":
        return fn.Sequential(
            fn.Conv(32, (3, 3)), fn.activations.relu, fn.MaxPool(2),
            fn.Conv(64, (3, 3)), fn.activations.relu, fn.MaxPool(2),
            fn.Flatten(), fn.Dense(128), fn.activations.relu, *drop, fn.Dense(10),
        )  # fmt: skip
    return fn.Sequential(
        fn.Flatten(),
        fn.Dense(512),
        fn.activations.relu,
        *drop,
        fn.Dense(512),
        fn.activations.relu,
        *drop,
        fn.Dense(10),
    )


def figures(folder, model, params, history, confusion, x_image, classes, kind):
    """Curves, confusion matrix, first-layer filters and (CNN) feature maps, saved as PNG."""
    curves = common.learning_curves(
        history,
        ("loss", "accuracy"),
        val_label="test",
        ylabels=("cross-entropy loss", "accuracy"),
        title=f"{kind.upper()} learning curves: train and test per epoch",
        figsize=(10, 3.8),
    )
    common.save_figure(curves, folder, "curves")

    fig, ax = common.subplots(figsize=(8, 7))
    image = ax.imshow(confusion, cmap="Blues")
    dark = confusion > confusion.max() / 2
    for (i, j), count in np.ndenumerate(confusion):
        ax.text(j, i, int(count), ha="center", va="center", fontsize=8, color="w" if dark[i, j] else "k")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted class", ylabel="true class")
    ax.set_title(f"{kind.upper()} confusion matrix on the test set")
    common.colorbar(fig, image, ax, "test images")
    ax.set_xticklabels(classes, rotation=90)
    ax.set_yticklabels(classes)
    common.save_figure(fig, folder, "confusion")

    kernel = np.asarray(params["0" if kind == "cnn" else "1"]["kernel"])
    filters = kernel[:, :, 0, :].transpose(2, 0, 1) if kind == "cnn" else kernel.T.reshape(-1, 28, 28)
    fig, axes = common.subplots(4, 8, figsize=(8, 4))
    for ax, f in zip(axes.flat, filters, strict=False):
        ax.imshow(f, cmap="RdBu")
        ax.axis("off")
    common.save_figure(fig, folder, "first_layer_filters")

    if kind == "cnn":
        blocks = [3, 6]  # outputs after conv-relu-pool blocks 1 and 2
        fig, axes = common.subplots(3, 8, figsize=(8, 3.2))
        axes[0, 0].imshow(x_image[0, ..., 0], cmap="gray")
        for row, depth in enumerate(blocks, start=1):
            sub = fn.Sequential(*model.layers[:depth])
            maps = np.asarray(sub.apply({str(i): params[str(i)] for i in range(depth)}, x_image))
            for col in range(8):
                axes[row, col].imshow(maps[0, ..., col], cmap="viridis")
        for ax in axes.flat:
            ax.axis("off")
        common.save_figure(fig, folder, "feature_maps")


def main(argv=None) -> dict:
    """Train, evaluate on the test set, save figures and metrics; returns the metrics."""
    args = build_parser().parse_args(argv)
    common.header(args, "mnist", SOURCE)
    defaults = DEFAULTS[(args.model, args.dataset)]
    epochs = args.epochs if args.epochs is not None else defaults["epochs"]
    dropout = args.dropout if args.dropout is not None else defaults["dropout"]
    data = fn.data.load_mnist(args.dataset, args.data_dir)
    x_train, y_train = data.x_train[: args.train_subset], data.y_train[: args.train_subset]
    x_test, y_test = data.x_test[: args.test_subset], data.y_test[: args.test_subset]
    model = build_model(args.model, dropout)
    loss = fn.losses.softmax_cross_entropy
    metrics = {"accuracy": fn.metrics.accuracy}
    started = time.perf_counter()
    # Per-step dispatch, not fused=True: on XLA:CPU the conv net inside the epoch's lax.scan ran
    # ~20x slower per step (400 vs 19 ms at batch 32, measured on 2 CPU cores).
    result = fn.fit(
        model, loss, optax.adam(args.learning_rate), x_train, y_train,
        key=jax.random.key(args.seed), epochs=epochs, batch_size=args.batch_size,
        validation_data=(x_test, y_test), metrics=metrics, fused=False,
        stop=fn.training.StopRule(max_steps=args.max_steps),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    state = result.state
    scores = fn.predict(model, state.params, x_test, model_state=state.model_state)
    predictions = np.asarray(scores).argmax(-1)
    confusion = np.asarray(fn.metrics.confusion_matrix(y_test, predictions, 10))
    history = result.history
    train_seconds = float(np.sum(history["seconds"]))
    out = {
        "model": args.model,
        "dataset": args.dataset,
        "epochs": len(history["epoch"]),
        "steps": result.steps,
        "test_accuracy": float(np.mean(predictions == y_test)),
        "target_accuracy": defaults["target"],
        "wall_seconds": seconds,
        "train_seconds": train_seconds,
        "samples_per_second": result.steps * args.batch_size / train_seconds,
        "history": history,
    }
    out["reached_target"] = out["test_accuracy"] >= out["target_accuracy"]
    folder = common.output_dir(args, f"mnist_{args.model}_{args.dataset}")
    if not args.no_figures:
        classes = CLASSES[args.dataset]
        figures(folder, model, state.params, history, confusion, x_test[:1], classes, args.model)
    common.save_metrics(folder, out)
    common.report(
        args,
        f"{args.model} on {args.dataset}: test accuracy {out['test_accuracy']:.4f} "
        f"(target {out['target_accuracy']:.3f}) after {out['epochs']} epochs, {result.steps} steps",
        f"wall {seconds:.1f} s (training {train_seconds:.1f} s, "
        f"{out['samples_per_second']:.0f} samples/s); outputs in {folder}",
    )
    return out


if __name__ == "__main__":
    main()
