"""Gradient descent on a one-parameter loss with the course's rule (course example 4).

Fit the intercept of the line ``height = intercept + 0.64 * weight`` to three points by minimising the sum
of squared residuals: step = learning rate x slope; stop when the step is below 0.001 or after 1000 steps.

Reproduces: 002_80acec0b162294bd.txt, "5.3" (lines 98-103: step = learning rate x derivative, stop at a step
<= 0.001 or after 1000 steps).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import fnnet as fn
from experiments import common

SOURCE = (
    '002_80acec0b162294bd.txt, "5.3" (lines 98-103: step = learning rate x derivative, stop at a step <= '
    "0.001 or after 1000 steps)"
)

WEIGHT = np.array([0.5, 2.3, 2.9])
HEIGHT = np.array([1.4, 1.9, 3.2])
SLOPE = 0.64  # held fixed: the intercept is the one parameter
# Defaults (each is a command-line option): the course's rule and stopping criteria.
DEFAULTS = dict(
    learning_rate=0.1,  # step = learning rate x slope
    tol=0.001,  # stop when the step is smaller than this
    max_steps=1000,  # ... or after this many steps
    start=0.0,  # the initial intercept
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--tol", type=float, default=DEFAULTS["tol"])
    parser.add_argument("--max-steps", type=int, default=DEFAULTS["max_steps"])
    parser.add_argument("--start", type=float, default=DEFAULTS["start"], help="initial intercept")
    return parser


def ssr(intercept):
    """Sum of squared residuals of the three points for a given intercept."""
    return jnp.sum((HEIGHT - (intercept + SLOPE * WEIGHT)) ** 2)


def main(argv=None) -> dict:
    """Run the descent, print every step, and plot the steps on the loss curve."""
    args = build_parser().parse_args(argv)
    common.header(args, "gradient_descent", SOURCE)
    result = fn.course.gradient_descent(
        ssr, jnp.float32(args.start), learning_rate=args.learning_rate, tol=args.tol, max_steps=args.max_steps
    )
    lines = [f"{'step':>4} {'intercept':>10} {'SSR':>9} {'slope':>9} {'step size':>10}"]
    for i, h in enumerate(result.history):
        lines.append(
            f"{i + 1:>4} {float(h.params):>10.4f} {h.loss:>9.4f} {float(h.slope):>9.4f} "
            f"{float(h.step):>10.5f}"
        )
    exact = float(np.mean(HEIGHT - SLOPE * WEIGHT))
    lines.append(
        f"{'converged' if result.converged else 'stopped at max steps'} after {len(result.history)} steps: "
        f"intercept {float(result.params):.4f} (least squares: {exact:.4f})"
    )
    common.report(args, *lines)
    folder = common.output_dir(args, "gradient_descent")
    b = np.linspace(-0.5, 2.0, 200)
    fig, ax = common.subplots(figsize=(6, 4))
    ax.plot(b, [float(ssr(v)) for v in b], label="SSR(intercept)")
    ax.plot(
        [float(h.params) for h in result.history],
        [h.loss for h in result.history],
        "o-",
        ms=4,
        color="tab:red",
        label="gradient descent steps",
    )
    ax.set(xlabel="intercept", ylabel="sum of squared residuals (SSR)")
    stop = f"step <= {args.tol:g}" if result.converged else f"{args.max_steps} steps"
    ax.set_title(f"Gradient descent: {len(result.history)} steps, stopped at {stop}")
    ax.legend()
    common.save_figure(fig, folder, "gradient_descent")
    metrics = {
        "steps": len(result.history),
        "intercept": float(result.params),
        "least_squares": exact,
        "converged": bool(result.converged),
    }
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
