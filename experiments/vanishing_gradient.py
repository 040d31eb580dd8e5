"""The vanishing gradient: per-layer gradient norms of a deep MLP with sigmoid, tanh, ReLU and leaky ReLU.

A 10-hidden-layer MLP (``--depth``, ``--width`` units each, softmax output over the ten digits) on
scikit-learn's bundled 8 x 8 digits. All four networks start from the same weights: fnnet's default
``Dense`` initialisation, LeCun normal (variance ``1 / fan_in``), zero biases, drawn once from
``--seed``; only the activation differs. For each, ``jax.grad`` of the softmax cross-entropy on the
first ``--grad-examples`` training digits gives every layer's kernel gradient; its Frobenius norm is
printed and plotted per layer (log scale) at initialisation and after ``--epochs`` of SGD with momentum.
The ratio first-layer / output-layer norm measures the vanishing: each sigmoid layer multiplies the
backward signal by at most 0.25 (its largest slope), so the first layer's gradient is orders of
magnitude below the last's; ReLU's slope is 1 where active and its ratio stays near 1. (tanh, whose slope
is 1 at 0, does not vanish at this depth from a LeCun start: the course's "tanh suffers from vanishing
gradient" shows with saturating inputs or larger weights, not here.) The four are trained side by side in
one ``fnnet.fit`` call (a ``Parallel`` of the four MLPs, the loss a sum of their losses): one compilation.

Reproduces: 001_aa06252bb9b8f838.txt, "Training a Neural Network" (lines 58-66: "the gradient gets very
small at the early layers ... other activations (such as ReLU) have become more common") and
004_9b7633bddcbc917a.txt, "why is the rectified linear unit so popular" (lines 209-253).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fnnet as fn
from experiments import common

SOURCE = (
    '001_aa06252bb9b8f838.txt, "Training a Neural Network" (lines 58-66) and 004_9b7633bddcbc917a.txt, '
    '"why is the rectified linear unit so popular" (lines 209-253)'
)

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=5,  # passes over the digits' training split
    batch_size=64,
    learning_rate=0.05,  # SGD with momentum 0.9
    depth=10,  # hidden layers
    width=32,  # units per hidden layer
    grad_examples=256,  # training digits the gradients are measured on
)
CLASSES = 10
ACTIVATIONS = {
    "sigmoid": fn.activations.sigmoid,
    "tanh": fn.activations.tanh,
    "relu": fn.activations.relu,
    "leaky_relu": fn.Lambda(fn.activations.leaky_relu, (("negative_slope", 0.01),)),
}


def build_mlp(activation, depth: int, width: int) -> fn.Sequential:
    """``depth`` times ``Dense(width) -> activation``, then ``Dense(10)`` logits."""
    layers = [part for _ in range(depth) for part in (fn.Dense(width), activation)]
    return fn.Sequential(*layers, fn.Dense(CLASSES))


def initial_params(depth: int, width: int, features: int, seed: int) -> dict:
    """The one set of starting weights every activation shares (fnnet's Dense default: LeCun normal)."""
    _, params = build_mlp(fn.activations.relu, depth, width).init(jax.random.key(seed), (features,))
    return params


def kernel_names(params: dict) -> list[str]:
    """The keys of the Dense layers in ``params``, input to output (the activations hold no params)."""
    return sorted((name for name, layer in params.items() if "kernel" in layer), key=int)


def kernel_gradient_norms(model: fn.Sequential, params: dict, x: np.ndarray, y: np.ndarray) -> list[float]:
    """The Frobenius norm of d(mean softmax cross-entropy)/d(kernel) for each Dense layer, input first."""

    def loss(p):
        return fn.losses.softmax_cross_entropy(model.apply(p, x), y)

    grads = jax.grad(loss)(params)
    return [float(jnp.linalg.norm(grads[name]["kernel"])) for name in kernel_names(params)]


def side_by_side_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The sum over branches of each branch's mean softmax cross-entropy, for ``[N, A * 10]`` logits.

    A sum, not a mean, so that each branch's gradient is exactly that of its own loss.
    """
    per_branch = logits.reshape(*logits.shape[:-1], -1, CLASSES)  # [N, A, 10]
    branches = per_branch.shape[-2]
    labels = jnp.broadcast_to(labels[..., None], per_branch.shape[:-1])
    return branches * fn.losses.softmax_cross_entropy(per_branch, labels)


def train_all(models: dict, params: dict, data, args) -> dict:
    """Train every activation's MLP from ``params`` in one ``fnnet.fit`` (side by side, same batches).

    Returns:
        ``{activation: trained params}``.
    """
    ensemble = fn.Parallel(*models.values())
    optimizer = optax.sgd(args.learning_rate, momentum=0.9)
    # fit donates the state's buffers: each branch needs its own copy (and ``params`` must survive)
    start = {str(i): jax.tree.map(jnp.copy, params) for i in range(len(models))}
    key = jax.random.key(args.seed)
    state = fn.training.init_train_state(ensemble, optimizer, key, data.x_train.shape[1:], params=start)
    fitted = fn.fit(
        ensemble,
        side_by_side_loss,
        optimizer,
        data.x_train,
        data.y_train,
        key=key,
        epochs=args.epochs,
        batch_size=args.batch_size,
        state=state,
        fused=True,
    )
    return {name: fitted.state.params[str(i)] for i, name in enumerate(models)}


def test_accuracy(model, params, data) -> float:
    """The fraction of test digits whose largest logit is the true class."""
    return float(fn.metrics.accuracy(fn.predict(model, params, data.x_test), data.y_test))


def table(results: dict, when: str) -> list[str]:
    """Printed rows: per activation, the kernel gradient norm of every layer (``when``: init or trained)."""
    layers = len(next(iter(results.values()))[when])
    head = f"|grad kernel| {when:<8}" + "".join(f"{'L' + str(i + 1):>9}" for i in range(layers))
    rows = [f"{name:<22}" + "".join(f"{v:9.1e}" for v in r[when]) for name, r in results.items()]
    return [head, *rows]


def plot(results: dict, args):
    """Two panels, log scale: each layer's kernel gradient norm at initialisation and after training."""
    fig, axes = common.subplots(1, 2, figsize=(11, 4), sharey=True)
    layers = list(range(1, len(next(iter(results.values()))["init"]) + 1))
    for ax, when, title in zip(
        axes, ("init", "trained"), ("at initialisation", f"after {args.epochs} epochs")
    ):
        for name, r in results.items():
            ax.plot(layers, r[when], marker="o", label=f"{name} (first/last {r[f'ratio_{when}']:.0e})")
        ax.set(yscale="log", xlabel="layer (1 = first hidden, last = output)", title=title)
        common.integer_ticks(ax)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("gradient norm of the layer's kernel")
    fig.suptitle(
        f"Vanishing gradient: {args.depth} hidden layers x {args.width} units, "
        "same LeCun-normal start, 8 x 8 digits"
    )
    fig.tight_layout()
    return fig


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--depth", type=int, default=DEFAULTS["depth"], help="hidden layers")
    parser.add_argument("--width", type=int, default=DEFAULTS["width"], help="units per hidden layer")
    parser.add_argument("--grad-examples", type=int, default=DEFAULTS["grad_examples"])
    return parser


def gradient_batch(data, examples: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``examples`` training digits (inputs standardised on the training split) and labels."""
    return data.x_train[:examples], data.y_train[:examples]


def main(argv=None) -> dict:
    """Measure per-layer gradient norms before and after training for each activation; plot them."""
    args = build_parser().parse_args(argv)
    for option in ("depth", "width", "grad_examples", "epochs"):
        if getattr(args, option) < (0 if option == "epochs" else 1):
            raise ValueError(
                f"vanishing_gradient: --{option.replace('_', '-')} too small: {getattr(args, option)}"
            )
    common.header(args, "vanishing_gradient", SOURCE)
    started = time.perf_counter()
    data = fn.data.load_tabular("digits", seed=args.seed)
    x, y = gradient_batch(data, args.grad_examples)
    params = initial_params(args.depth, args.width, data.x_train.shape[1], args.seed)
    models = {name: build_mlp(act, args.depth, args.width) for name, act in ACTIVATIONS.items()}
    trained = train_all(models, params, data, args)
    results = {}
    for name, model in models.items():
        init, after = (
            kernel_gradient_norms(model, params, x, y),
            kernel_gradient_norms(model, trained[name], x, y),
        )
        results[name] = {
            "init": init,
            "trained": after,
            "ratio_init": init[0] / init[-1],
            "ratio_trained": after[0] / after[-1],
            "test_accuracy": test_accuracy(model, trained[name], data),
        }
    common.report(
        args,
        *table(results, "init"),
        *table(results, "trained"),
        *(
            f"{name}: first/last (L1/L{len(r['init'])}) gradient norm {r['ratio_init']:.1e} at init, "
            f"{r['ratio_trained']:.1e} after training; test accuracy {r['test_accuracy']:.3f}"
            for name, r in results.items()
        ),
        f"({time.perf_counter() - started:.1f} s)",
    )
    folder = common.output_dir(args, "vanishing_gradient")
    common.save_figure(plot(results, args), folder, "vanishing_gradient")
    common.save_metrics(folder, results)
    return results


if __name__ == "__main__":
    main()
