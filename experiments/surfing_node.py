"""The surfing node: one perceptron decides whether to go surfing (course example 1).

Inputs (good waves, empty line-up, no shark attack recently) = (1, 0, 1), weights (5, 2, 4), threshold 3:
the weighted sum is 1*5 + 0*2 + 1*4 = 9 and y_hat = 9 - 3 = 6 > 0, so the node fires: go surfing.

Reproduces: 002_80acec0b162294bd.txt, "2. How do Neural Networks work?" (lines 21-43: inputs 1/0/1, weights
5/2/4, threshold 3, y-hat = 6).
"""

from __future__ import annotations

import numpy as np

import fnnet as fn
from experiments import common

SOURCE = (
    '002_80acec0b162294bd.txt, "2. How do Neural Networks work?" (lines 21-43: inputs 1/0/1, weights '
    "5/2/4, threshold 3, y-hat = 6)"
)

# The course's numbers (no options besides the common ones).
INPUTS = (1.0, 0.0, 1.0)  # waves are good, line-up is crowded, no recent shark attack
WEIGHTS = (5.0, 2.0, 4.0)  # how much each factor matters
THRESHOLD = 3.0  # the bias is its negative


def build_parser():
    """The options of this experiment."""
    return common.base_parser(__doc__.splitlines()[0])


def main(argv=None) -> dict:
    """Evaluate the surfing perceptron, print the decision and draw the weighted contributions."""
    args = build_parser().parse_args(argv)
    common.header(args, "surfing_node", SOURCE)
    node = fn.Perceptron(1)
    params = {"kernel": np.array(WEIGHTS, np.float32)[:, None], "bias": np.array([-THRESHOLD], np.float32)}
    x = np.array([INPUTS], np.float32)
    y_hat = float(node.weighted_sum(params, x)[0, 0])
    decision = int(node.apply(params, x)[0, 0])
    common.report(
        args,
        f"inputs {INPUTS}, weights {WEIGHTS}, threshold {THRESHOLD}",
        f"y_hat = sum(w * x) - threshold = {y_hat:g} -> output {decision}: "
        + ("go surfing" if decision else "stay home"),
    )
    folder = common.output_dir(args, "surfing_node")
    fig, ax = common.subplots(figsize=(5, 3))
    contributions = np.array(WEIGHTS) * np.array(INPUTS)
    ax.bar(["waves", "line-up", "sharks"], contributions, color="tab:blue", label="w * x")
    ax.axhline(THRESHOLD, color="tab:red", linestyle="--", label=f"threshold {THRESHOLD:g}")
    verdict = "go surfing" if decision else "stay home"
    ax.set_title(
        f"weighted sum {contributions.sum():g} - threshold {THRESHOLD:g} = y_hat {y_hat:g}: {verdict}"
    )
    ax.set(xlabel="input (x = 1 yes, 0 no)", ylabel="contribution w * x")
    ax.legend()
    common.save_figure(fig, folder, "surfing_node")
    metrics = {"y_hat": y_hat, "decision": decision}
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
