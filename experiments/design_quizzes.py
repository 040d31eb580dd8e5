"""The design quizzes: a stock index from 30 features, a ticket's priority from 10 (003, Design Networks).

Reproduces 003_57e07c46f1bd5fd4.txt, "Quiz: Design Neural Networks" (scenarios 1 and 2) with the sizing
rules of "Feedforward Network Sizing Summary": input layer = the input dimensions; hidden layer flexible;
output layer = 1 neuron for a regression, a softmax with 1 node per class for a multi-class problem.
The two models are ``fnnet.course.zoo``'s ``stock_index`` and ``ticket_priority`` (``fnnet summary NAME``).

Each is trained on synthetic data of the quiz's shapes (the course gives none): an index that is a noisy
function of 30 features; a priority that is the largest of three noisy scores of 10 features. The printed
output layers show what they mean: one number; three probabilities that sum to 1 and their argmax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.course import zoo

SOURCE = f'{common.COURSE["slides"]}, "Quiz: Design Neural Networks" (scenarios 1 and 2)'
PRIORITIES = ("High", "Medium", "Low")
# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=40,  # passes over the 800 training rows
    batch_size=32,
    learning_rate=3e-3,  # Adam
    examples=1000,  # synthetic rows per scenario (80% train, 20% test)
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--examples", type=int, default=DEFAULTS["examples"])
    return parser


def synthetic(seed: int, n: int):
    """``(x30 [n, 30], index [n, 1])`` and ``(x10 [n, 10], priority [n])``: the quizzes' shapes."""
    rng = np.random.default_rng(seed)
    x30 = rng.normal(size=(n, 30)).astype(np.float32)
    index = x30 @ rng.normal(size=30) / 3 + 0.5 * np.sin(x30[:, 0]) + 0.1 * rng.normal(size=n)
    x10 = rng.normal(size=(n, 10)).astype(np.float32)
    scores = x10 @ rng.normal(size=(10, 3)) + 0.3 * rng.normal(size=(n, 3))
    return (x30, index[:, None].astype(np.float32)), (x10, np.argmax(scores, -1).astype(np.int32))


def cross_entropy_of_probabilities(p, labels):
    """``-mean(log p[label])`` for a model whose last layer is the softmax itself."""
    picked = jnp.take_along_axis(p, labels[:, None], axis=-1)[:, 0]
    return -jnp.mean(jnp.log(jnp.clip(picked, 1e-7, 1.0)))


def train(model, loss, x, y, args):
    """Adam on the first 80% of the rows; returns the trained parameters."""
    cut = int(0.8 * len(x))
    return fn.fit(
        model, loss, optax.adam(args.learning_rate), x[:cut], y[:cut], key=jax.random.key(args.seed),
        epochs=args.epochs, batch_size=args.batch_size, fused=True,
    ).state.params  # fmt: skip


def stock(args, x, y):
    """Scenario 1: regression, one linear output; returns (lines, metrics, (actual, predicted))."""
    model, cut = zoo.stock_index(), int(0.8 * len(x))
    pred = np.asarray(fn.predict(model, train(model, fn.losses.mean_squared_error, x, y, args), x[cut:]))
    rmse = float(np.sqrt(np.mean((pred - y[cut:]) ** 2)))
    baseline = float(np.sqrt(np.mean((y[:cut].mean() - y[cut:]) ** 2)))
    lines = [
        f"scenario 1, stock index: regression; input [{x.shape[1]}] -> output {list(pred.shape[1:])}, "
        "one number",
        f"  first test day: predicted index {pred[0, 0]:.3f}, actual {y[cut, 0]:.3f}; test RMSE {rmse:.3f} "
        f"(predicting the training mean: {baseline:.3f})",
    ]
    metrics = {
        "input_shape": list(x.shape[1:]),
        "output_shape": list(pred.shape[1:]),
        "test_rmse": rmse,
        "baseline_rmse_predict_mean": baseline,
    }
    return lines, metrics, (y[cut:, 0], pred[:, 0])


def tickets(args, x, y):
    """Scenario 2: three classes, a softmax output; returns (lines, metrics, (probabilities, labels))."""
    model, cut = zoo.ticket_priority(), int(0.8 * len(x))
    p = np.asarray(fn.predict(model, train(model, cross_entropy_of_probabilities, x, y, args), x[cut:]))
    accuracy = float(np.mean(p.argmax(-1) == y[cut:]))
    majority = float(np.mean(y[cut:] == np.bincount(y[:cut]).argmax()))
    sums = p.sum(-1)
    shown = ", ".join(f"{name} {v:.3f}" for name, v in zip(PRIORITIES, p[0]))
    lines = [
        f"scenario 2, ticket priority: 3-class classification; input [{x.shape[1]}] -> output "
        f"{list(p.shape[1:])}, softmax probabilities of {'/'.join(PRIORITIES)}",
        f"  first test ticket: {shown} (sum {sums[0]:.6f}) -> argmax {PRIORITIES[p[0].argmax()]} "
        f"(actual {PRIORITIES[y[cut]]}); every row sums to 1 within {np.abs(sums - 1).max():.1e}",
        f"  test accuracy {accuracy:.3f} (always the commonest priority: {majority:.3f})",
    ]
    metrics = {
        "input_shape": list(x.shape[1:]),
        "output_shape": list(p.shape[1:]),
        "test_accuracy": accuracy,
        "baseline_majority": majority,
        "max_abs_probability_sum_minus_1": float(np.abs(sums - 1).max()),
    }
    return lines, metrics, (p, y[cut:])


def figure(folder, regression, classes):
    """Predicted against actual index; the three probabilities of 12 test tickets with argmax and truth."""
    fig, (a, b) = common.subplots(1, 2, figsize=(12, 4.2))
    actual, predicted = regression
    a.scatter(actual, predicted, s=12, color="tab:blue", label="test days")
    line = [min(actual.min(), predicted.min()), max(actual.max(), predicted.max())]
    a.plot(line, line, "k--", lw=1, label="predicted = actual")
    a.set(xlabel="actual index (synthetic units)", ylabel="predicted index (the one output unit)",
          title="Scenario 1: a number")  # fmt: skip
    a.legend()
    p, labels = classes[0][:12], classes[1][:12]
    bottom = np.zeros(len(p))
    for k, (name, color) in enumerate(zip(PRIORITIES, ("tab:red", "tab:orange", "tab:green"))):
        b.bar(np.arange(len(p)), p[:, k], bottom=bottom, color=color, label=f"P({name})")
        bottom += p[:, k]
    b.scatter(np.arange(len(p)), [1.06] * len(p), marker="v", c="k", label="argmax = true priority")
    wrong = p.argmax(-1) != labels
    b.scatter(
        np.flatnonzero(wrong), [1.06] * int(wrong.sum()), marker="x", c="tab:red", s=60, label="argmax wrong"
    )
    b.set(xlabel="test ticket", ylabel="probability (stacked, sums to 1)", ylim=(0, 1.15),
          title="Scenario 2: three probabilities and their argmax")  # fmt: skip
    b.set_xticks(np.arange(len(p)), [PRIORITIES[v][0] for v in labels])
    b.set_xlabel("test ticket (its true priority)")
    b.legend(fontsize=8, loc="lower right", framealpha=0.9)
    fig.suptitle("The design quizzes (003): what the output layer means")
    return common.save_figure(fig, folder, "design_quizzes")


def main(argv=None) -> dict:
    """Train both quiz networks on synthetic data; print and draw what their outputs mean."""
    args = build_parser().parse_args(argv)
    common.header(args, "design_quizzes", SOURCE)
    (x30, index), (x10, priority) = synthetic(args.seed, args.examples)
    lines1, m1, regression = stock(args, x30, index)
    lines2, m2, classes = tickets(args, x10, priority)
    common.report(args, *lines1, *lines2)
    folder = common.output_dir(args, "design_quizzes")
    figure(folder, regression, classes)
    metrics = {"stock_index": m1, "ticket_priority": m2}
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
