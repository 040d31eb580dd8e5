"""The concert perceptron: learn to decide "go" from weather, public transit and a friend (course example 2).

The table's seven rows (weather is good, public transit runs, a friend can join -> go) follow one rule:
go when the weather is good and at least one of the other two holds. It is linearly separable, so both
Rosenblatt's rule and gradient descent (through a sigmoid, then thresholded) classify every row.
"""

from __future__ import annotations

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common

TABLE = np.array(
    # weather, transit, friend, go
    [[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
    np.float32,
)
# Defaults (each is a command-line option); the perceptron rule has none of its own.
DEFAULTS = dict(
    epochs=2000,  # gradient descent: full-batch steps on the seven rows
    learning_rate=0.5,  # gradient descent: the SGD step size
)


def build_parser():
    """The options of this experiment."""
    return common.base_parser(__doc__.splitlines()[0], **DEFAULTS)


def main(argv=None) -> dict:
    """Train the perceptron both ways and report each one's weights and accuracy on the table."""
    args = build_parser().parse_args(argv)
    x, y = TABLE[:, :3], TABLE[:, 3]
    node = fn.Perceptron(1)
    _, params = node.init(jax.random.key(args.seed), (3,))
    rule = fn.course.perceptron_rule(node, params, x, y, learning_rate=1.0)
    rule_acc = float(np.mean(np.asarray(node.apply(rule.params, x))[:, 0] == y))

    model = fn.Sequential(fn.Dense(1), fn.activations.sigmoid)  # gradient descent needs a differentiable unit
    fitted = fn.fit(
        model,
        fn.losses.binary_cross_entropy,
        optax.sgd(args.learning_rate),
        x,
        y[:, None],
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=len(x),
        fused=True,
    )
    gd_params = fitted.state.params["0"]
    gd_acc = float(np.mean((np.asarray(model.apply(fitted.state.params, x))[:, 0] > 0.5) == y))
    common.report(
        args,
        f"perceptron rule: converged={rule.converged} after {len(rule.errors)} epochs "
        f"(errors per epoch {rule.errors}); weights {np.round(rule.params['kernel'][:, 0], 2)}, "
        f"threshold {-float(rule.params['bias'][0]):.2f}; accuracy {rule_acc:.0%} of {len(x)} rows",
        f"gradient descent: {fitted.steps} steps, final loss {fitted.history['loss'][-1]:.4f}; weights "
        f"{np.round(gd_params['kernel'][:, 0], 2)}, threshold {-float(gd_params['bias'][0]):.2f}; "
        f"accuracy {gd_acc:.0%}",
    )
    folder = common.output_dir(args, "concert_perceptron")
    fig, (a, b) = common.subplots(1, 2, figsize=(9, 3))
    common.plot_curves(
        a, {"rule": rule.errors}, ylabel="misclassified rows", title="perceptron rule", marker="o"
    )
    common.plot_curves(
        b, {"sgd": fitted.history["loss"]}, xlabel="step", ylabel="cross-entropy", title="gradient descent"
    )
    b.set(yscale="log")
    common.save_figure(fig, folder, "concert_training")
    metrics = {"rule_accuracy": rule_acc, "rule_epochs": len(rule.errors), "gd_accuracy": gd_acc}
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
