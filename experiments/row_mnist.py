"""Row-by-row MNIST: an LSTM reads each digit as 28 rows of 28 pixels and classifies it at the end.

A sequence task that needs memory: the label depends on rows seen up to 27 steps before the last.
Reports the test accuracy after each epoch (the test set is never used to choose anything) and
plots the learning curves.

Reproduces: 003_57e07c46f1bd5fd4.txt, "RNN Implementations" (lines 706-717: LSTM remembers longer sequences).
"""

from __future__ import annotations

import jax
import optax

import fnnet as fn
from experiments import common

SOURCE = '003_57e07c46f1bd5fd4.txt, "RNN Implementations" (lines 706-717: LSTM remembers longer sequences)'

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=8,
    batch_size=128,
    learning_rate=2e-3,
    hidden_size=128,  # LSTM state size
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden-size", type=int, default=DEFAULTS["hidden_size"])
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    return parser


def main(argv=None) -> dict:
    """Train the LSTM classifier, report test accuracy per epoch, plot the learning curves."""
    args = build_parser().parse_args(argv)
    common.header(args, "row_mnist", SOURCE)
    out = common.output_dir(args, "row_mnist")
    data = fn.data.load_mnist("mnist", args.data_dir)
    x_train = data.x_train[: args.limit, ..., 0]  # [N, 28 rows = time, 28 pixels = features]
    y_train = data.y_train[: args.limit]
    x_test, y_test = data.x_test[..., 0], data.y_test
    model = fn.Sequential(fn.RNN(fn.LSTMCell(args.hidden_size), return_sequences=False), fn.Dense(10))
    steps = args.epochs * (len(x_train) // args.batch_size)
    schedule = optax.cosine_decay_schedule(args.learning_rate, steps)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))

    log = common.epoch_logger(args, "loss {loss:.4f}, test accuracy {val_accuracy:.4f}")
    result = fn.fit(
        model, fn.losses.softmax_cross_entropy, optimizer, x_train, y_train,
        key=jax.random.key(args.seed), epochs=args.epochs, batch_size=args.batch_size,
        validation_data=(x_test, y_test), metrics={"accuracy": fn.metrics.accuracy},
        callbacks=[log],
    )  # fmt: skip
    history = result.history
    metrics = {
        "test_accuracy": history["val_accuracy"][-1],
        "epochs": len(history["loss"]),
        "train_examples": len(x_train),
        "seconds": sum(history["seconds"]),
        "history": history,
    }
    common.report(
        args, f"final test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs"
    )

    fig = common.learning_curves(
        history, ("loss", "accuracy"), val_label="test", ylabels=("cross-entropy", "accuracy"),
        title="MNIST read row by row by an LSTM", figsize=(9, 3.2),
    )  # fmt: skip
    fig.axes[1].axhline(0.97, color="k", ls=":", lw=1)
    common.save_figure(fig, out, "row_mnist_curves")
    common.save_metrics(out, metrics)
    return metrics


if __name__ == "__main__":
    main()
