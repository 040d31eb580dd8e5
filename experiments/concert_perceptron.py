"""The concert perceptron: guess, check and learn the weights of the course's quiz (003, threshold 60).

Reproduces 003_57e07c46f1bd5fd4.txt, "Quiz: Guessing the Weights" (its three slides and their notes):
the seven rows (weather is good, public transit, a friend can join -> go), a perceptron that says yes
when the total is "> 60". Go is "weather and friend": the rows (1, 1, 0) and (0, 1, 1) are 0.

- Equal weights 33/33/33 get 2 rows wrong (totals 66 for (1, 1, 0) and (0, 1, 1)); 35/20/30 get all 7.
- The slide notes' "possible solutions" are checked row by row, with the quiz's strict "> 60"
  (``Perceptron(at_zero=0)``) and with the course's own step, z >= 0 (``Perceptron()``, i.e. ">= 60").
- Then the weights are learned: Rosenblatt's rule, and gradient descent through a sigmoid.
"""

from __future__ import annotations

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common

SOURCE = f'{common.COURSE["slides"]}, "Quiz: Guessing the Weights"'
TABLE = np.array(
    # weather, public transit, friend can join, outcome: the course's rows in its order
    [[1, 1, 1, 1], [1, 0, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
    np.float32,
)
THRESHOLD = 60.0  # "Threshold is now changed to 60"
COURSE_TABLES = ((33, 33, 33), (35, 20, 30))  # the two worked tables
POSSIBLE_SOLUTIONS = ((50, 1, 49), (50, 0, 5), (40, 0, 20), (40, 10, 20))  # the slide notes
# Defaults (each is a command-line option); the perceptron rule has none of its own.
DEFAULTS = dict(
    epochs=2000,  # gradient descent: full-batch steps on the seven rows
    learning_rate=0.5,  # gradient descent: the SGD step size
)


def build_parser():
    """The options of this experiment."""
    return common.base_parser(__doc__.splitlines()[0], **DEFAULTS)


def score(weights, at_zero: float = 0.0) -> dict:
    """Totals, predictions and wrong rows (1-based) of the quiz's perceptron with ``weights``.

    ``at_zero=0`` is the quiz's "> 60"; ``at_zero=1`` the course's z >= 0 (a total of exactly 60 says yes).
    """
    node = fn.Perceptron(1, at_zero=at_zero)
    params = {"kernel": np.array(weights, np.float32)[:, None], "bias": np.array([-THRESHOLD], np.float32)}
    x, actual = TABLE[:, :3], TABLE[:, 3]
    predicted = np.asarray(node.apply(params, x))[:, 0]
    totals = x @ np.array(weights, np.float32)
    wrong = [int(i) + 1 for i in np.flatnonzero(predicted != actual)]
    return {
        "totals": totals.astype(int).tolist(),
        "predicted": predicted.astype(int).tolist(),
        "wrong_rows": wrong,
    }


def table_lines(weights) -> list[str]:
    """The course's table for ``weights``: each row's products, total, prediction (> 60) and actual."""
    s = score(weights)
    lines = [
        f"weights {'/'.join(map(str, weights))}: weather  transit  friend | total | predicted (> 60) | actual"
    ]
    for row, total, pred in zip(TABLE, s["totals"], s["predicted"]):
        cells = "  ".join(f"{int(v)} * {w:<3}" for v, w in zip(row[:3], weights))
        verdict = "ok" if pred == row[3] else "wrong"
        lines.append(f"  {cells} | {total:>5} | {pred} - {verdict:<13} | {int(row[3])}")
    lines.append(
        f"  -> {len(s['wrong_rows'])} wrong" + (f" (rows {s['wrong_rows']})" if s["wrong_rows"] else "")
    )
    return lines


def solution_line(weights) -> tuple[str, dict]:
    """Whether a listed solution fits the table under "> 60" and under ">= 60", naming the failing rows."""
    strict, at_least = score(weights, 0.0), score(weights, 1.0)

    def verdict(s, rule):
        if not s["wrong_rows"]:
            return f"holds with {rule}"
        rows = ", ".join(
            f"row {r} {tuple(TABLE[r - 1, :3].astype(int).tolist())} total {s['totals'][r - 1]}"
            for r in s["wrong_rows"]
        )
        return f"FAILS with {rule}: {rows}"

    line = f"  {'/'.join(map(str, weights))}: {verdict(strict, '> 60')}; {verdict(at_least, '>= 60')}"
    return line, {"strict_wrong_rows": strict["wrong_rows"], "at_least_wrong_rows": at_least["wrong_rows"]}


def rounded(values) -> str:
    """``[2.0, 0.09, 3.25]``: weights to two decimals."""
    return "[" + ", ".join(f"{float(v):.2f}" for v in np.asarray(values)) + "]"


def learn(args):
    """Rosenblatt's rule (strict step, as the quiz) and gradient descent through a sigmoid on the table."""
    x, y = TABLE[:, :3], TABLE[:, 3]
    node = fn.Perceptron(1, at_zero=0.0)
    _, params = node.init(jax.random.key(args.seed), (3,))
    rule = fn.course.perceptron_rule(node, params, x, y, learning_rate=1.0)
    rule_acc = float(np.mean(np.asarray(node.apply(rule.params, x))[:, 0] == y))
    model = fn.Sequential(fn.Dense(1), fn.activations.sigmoid)  # gradient descent needs a differentiable unit
    fitted = fn.fit(
        model, fn.losses.binary_cross_entropy, optax.sgd(args.learning_rate), x, y[:, None],
        key=jax.random.key(args.seed), epochs=args.epochs, batch_size=len(x), fused=True,
    )  # fmt: skip
    gd_acc = float(np.mean((np.asarray(model.apply(fitted.state.params, x))[:, 0] > 0.5) == y))
    return rule, rule_acc, fitted, gd_acc


def figure(folder, rule, fitted):
    """Totals per row for the two course weightings against the threshold; the two learning curves."""
    fig, (a, b, c) = common.subplots(1, 3, figsize=(15, 4))
    rows = np.arange(len(TABLE))
    for k, (weights, color) in enumerate(zip(COURSE_TABLES, ("tab:orange", "tab:blue"))):
        s = score(weights)
        label = f"{'/'.join(map(str, weights))}: {len(s['wrong_rows'])} wrong"
        a.bar(rows + (k - 0.5) * 0.4, s["totals"], width=0.4, color=color, label=label)
    a.axhline(THRESHOLD, color="tab:red", linestyle="--", label="threshold 60 (go if > 60)")
    a.set_xticks(rows, [f"{''.join(map(str, r[:3].astype(int)))}\n->{int(r[3])}" for r in TABLE])
    a.set(xlabel="row: weather, transit, friend -> go", ylabel="total (weighted sum)",
          title="The course's two guesses")  # fmt: skip
    a.legend(fontsize=8, loc="upper right")
    common.plot_curves(
        b, {"rule": rule.errors}, ylabel="misclassified rows", title="Perceptron rule", marker="o"
    )
    common.plot_curves(c, {"sgd": fitted.history["loss"]}, xlabel="step", ylabel="cross-entropy",
                       title="Gradient descent (sigmoid unit)")  # fmt: skip
    common.integer_ticks(b, "y")
    c.set(yscale="log")
    fig.suptitle("Concert perceptron (003, Quiz: Guessing the Weights)")
    return common.save_figure(fig, folder, "concert_training")


def main(argv=None) -> dict:
    """Print the course's tables and the solutions' check, learn the weights both ways, draw them."""
    args = build_parser().parse_args(argv)
    common.header(args, "concert_perceptron", SOURCE)
    lines = [line for weights in COURSE_TABLES for line in table_lines(weights)]
    lines.append('The slide notes\' "possible solutions", checked against the 7 rows:')
    solutions = {}
    for weights in POSSIBLE_SOLUTIONS:
        line, solutions["/".join(map(str, weights))] = solution_line(weights)
        lines.append(line)
    rule, rule_acc, fitted, gd_acc = learn(args)
    gd = fitted.state.params["0"]
    lines += [
        f"perceptron rule (> threshold): converged={rule.converged} after {len(rule.errors)} epochs "
        f"(errors per epoch {rule.errors}); weights {rounded(rule.params['kernel'][:, 0])}, "
        f"threshold {-float(rule.params['bias'][0]):.2f}; accuracy {rule_acc:.0%} of {len(TABLE)} rows",
        f"gradient descent: {fitted.steps} steps, final loss {fitted.history['loss'][-1]:.4f}; weights "
        f"{rounded(gd['kernel'][:, 0])}, threshold {-float(gd['bias'][0]):.2f}; accuracy {gd_acc:.0%}",
    ]
    common.report(args, *lines)
    folder = common.output_dir(args, "concert_perceptron")
    figure(folder, rule, fitted)
    metrics = {
        "tables": {"/".join(map(str, w)): score(w) for w in COURSE_TABLES},
        "solutions": solutions,
        "rule_accuracy": rule_acc,
        "rule_epochs": len(rule.errors),
        "gd_accuracy": gd_acc,
    }
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
