"""XOR: a single-layer perceptron cannot fit it, one hidden layer can (course example 3).

No line separates {(0,1), (1,0)} from {(0,0), (1,1)}, so every single-layer unit gets at most 3 of the 4
right: shown by Rosenblatt's rule never converging and by an exhaustive search over a grid of weights.
A 2-4-1 network with a tanh hidden layer and a sigmoid output fits all 4.

Reproduces: 003_57e07c46f1bd5fd4.txt, "The XOR problem" and "Hidden Layers" (lines 320-360).
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common

SOURCE = '003_57e07c46f1bd5fd4.txt, "The XOR problem" and "Hidden Layers" (lines 320-360)'

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y = np.array([0, 1, 1, 0], np.float32)
# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=3000,  # full-batch SGD steps on the four rows
    learning_rate=0.5,
    hidden=4,  # tanh units of the hidden layer
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    return parser


def best_single_layer_score(points: int = 25) -> int:
    """The most XOR rows any step(w1 x1 + w2 x2 + b) gets right, over a grid of weights and biases."""
    grid, best = np.linspace(-3, 3, points), 0
    for w1, w2, b in itertools.product(grid, grid, grid):
        best = max(best, int(np.sum(((X @ np.array([w1, w2]) + b) > 0) == Y)))
    return best


def main(argv=None) -> dict:
    """Fit XOR with one layer and with one hidden layer; draw both decision boundaries."""
    args = build_parser().parse_args(argv)
    common.header(args, "xor", SOURCE)
    node = fn.Perceptron(1)
    _, params = node.init(jax.random.key(args.seed), (2,))
    rule = fn.course.perceptron_rule(node, params, X, Y, max_epochs=100)
    single_right = int(np.sum(np.asarray(node.apply(rule.params, X))[:, 0] == Y))
    grid_best = best_single_layer_score()

    mlp = fn.Sequential(fn.Dense(args.hidden), fn.activations.tanh, fn.Dense(1), fn.activations.sigmoid)
    fitted = fn.fit(
        mlp,
        fn.losses.binary_cross_entropy,
        optax.sgd(args.learning_rate),
        X,
        Y[:, None],
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=4,
        fused=True,
    )
    mlp_right = int(np.sum((np.asarray(mlp.apply(fitted.state.params, X))[:, 0] > 0.5) == Y))
    common.report(
        args,
        f"single layer, perceptron rule: converged={rule.converged}, {single_right}/4 right after "
        f"{len(rule.errors)} epochs; best over a weight grid: {grid_best}/4",
        f"one hidden layer ({args.hidden} tanh units): {mlp_right}/4 right, final loss "
        f"{fitted.history['loss'][-1]:.4f}",
    )
    folder = common.output_dir(args, "xor")
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200)), -1)
    surfaces = [
        ("single layer (perceptron rule)", np.asarray(node.apply(rule.params, grid))[..., 0]),
        (f"one hidden layer ({args.hidden} tanh)", np.asarray(mlp.apply(fitted.state.params, grid))[..., 0]),
    ]
    fig, axes = common.subplots(1, 2, figsize=(10, 4.5))
    colors = ["#3b4cc0", "#b40426"]  # the ends of coolwarm: class 0 blue, class 1 red
    for ax, (title, z), right in zip(axes, surfaces, (single_right, mlp_right), strict=True):
        ax.contourf(grid[..., 0], grid[..., 1], z > 0.5, levels=1, cmap="coolwarm", alpha=0.4)
        ax.scatter(X[:, 0], X[:, 1], c=[colors[int(y)] for y in Y], edgecolors="k", s=120)
        ax.set(title=f"{title}: {right}/4 right", xlabel="input x1", ylabel="input x2")
        ax.set(xticks=[0, 1], yticks=[0, 1])
    common.class_legend(
        axes[1], colors, ["XOR = 0", "XOR = 1"], title="target", loc="center left", bbox_to_anchor=(1.02, 0.5)
    )
    fig.suptitle("XOR: shaded = the network's prediction, points = the four inputs")
    common.save_figure(fig, folder, "xor_decision_boundaries")
    metrics = {"single_layer_right": single_right, "grid_best": grid_best, "hidden_layer_right": mlp_right}
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
