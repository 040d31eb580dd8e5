"""The Playground: XOR, circles, two spirals and Gaussian clusters against 0, 1 and 2 hidden layers.

The TensorFlow Playground's four classification data sets, generated here with a few lines of NumPy in
the unit square (the Playground draws them on [-6, 6]), each split half for training and half for
testing (the Playground's default ratio). Every data set meets the same networks: no hidden layer (a
linear model: logistic regression on x1, x2), one hidden layer and two hidden layers at each of
``--widths``, with ``--activation`` units (tanh, the Playground's default) and one logit output, trained
by Adam on the binary cross-entropy with ``fnnet.fit``. The printed table gives the train and test
accuracy of every pair and says, per data set, whether it needed a hidden layer: a linear model's test
accuracy more than ``--margin`` below the best hidden-layer network's. Only the Gaussian clusters are
linearly separable; XOR, circles and spirals need a nonlinear decision boundary.

Reproduces: 003_57e07c46f1bd5fd4.txt, "DL Playground" (lines 298-313) and "Hidden Layers" (lines 317-381).
"""

from __future__ import annotations

import time

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common

SOURCE = '003_57e07c46f1bd5fd4.txt, "DL Playground" (lines 298-313) and "Hidden Layers" (lines 317-381)'

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=150,  # passes over each training half
    batch_size=25,
    learning_rate=0.03,  # Adam (the Playground's default rate, there for SGD)
    points=400,  # examples per data set, before the split
    noise=0.05,  # standard deviation of the Gaussian jitter added to every point
    test_fraction=0.5,
    widths=(4, 16),  # units per hidden layer; one network per width and depth 1, 2
    activation="tanh",
    margin=0.1,  # a hidden layer is needed when the linear test accuracy is lower by more than this
    grid=120,  # decision-boundary resolution per axis
)
ACTIVATIONS = {"tanh": fn.activations.tanh, "relu": fn.activations.relu, "sigmoid": fn.activations.sigmoid}
CLASS_COLORS = ("#e66101", "#5e3c99")  # class 0, class 1 (the boundary's shading uses the same map)


def xor(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in the four quadrants, pushed off the axes; class 1 where x1 and x2 have one sign."""
    x = rng.uniform(-1, 1, (n, 2))
    x += 0.05 * np.sign(x)  # the Playground's padding: no point on an axis
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int32)


def circles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 inside radius 0.5, class 0 on the ring between radii 0.7 and 1 (half the points each)."""
    inner = np.arange(n) < n // 2
    radius = np.where(inner, rng.uniform(0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([radius * np.sin(angle), radius * np.cos(angle)], -1), inner.astype(np.int32)


def spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1.75 turns each, the second turned half a circle from the first."""
    del rng  # the spirals are deterministic; only the jitter is random
    y = (np.arange(n) >= n // 2).astype(np.int32)
    s = np.where(y == 0, np.arange(n), np.arange(n) - n // 2) / (n // 2)  # 0 -> 1 along each spiral
    angle = 1.75 * 2 * np.pi * s + np.pi * y
    return np.stack([s * np.sin(angle), s * np.cos(angle)], -1), y


def gaussian(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two round Gaussian clusters (standard deviation 0.2) centred at (0.4, 0.4) and (-0.4, -0.4)."""
    y = (np.arange(n) >= n // 2).astype(np.int32)
    centres = np.where(y[:, None] == 1, 0.4, -0.4)
    return centres + rng.normal(0, 0.2, (n, 2)), y


DATASETS = {"xor": xor, "circles": circles, "spirals": spirals, "gaussian": gaussian}


def make_dataset(name: str, points: int, noise: float, test_fraction: float, seed: int) -> dict:
    """One Playground data set with jitter, shuffled and split into ``x_train, y_train, x_test, y_test``.

    Args:
        name: one of ``DATASETS``.
        points: examples before the split (at least 4).
        noise: standard deviation of the Gaussian jitter added to every point.
        test_fraction: the share held out for testing, in (0, 1).
        seed: the NumPy seed of the points, the jitter and the split.

    Returns:
        ``{"x_train": [N, 2] float32, "y_train": [N] int32, "x_test": ..., "y_test": ...}``.

    Raises:
        ValueError: an unknown name, fewer than 4 points, a negative noise or a test fraction outside (0, 1).
    """
    if name not in DATASETS:
        raise ValueError(f"playground: unknown data set {name!r}; choose from {sorted(DATASETS)}")
    if points < 4:
        raise ValueError(f"playground: points must be at least 4, got {points}")
    if noise < 0:
        raise ValueError(f"playground: noise must be >= 0, got {noise}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"playground: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    x, y = DATASETS[name](points, rng)
    x = (x + rng.normal(0, noise, x.shape)).astype(np.float32)
    order = rng.permutation(points)
    n_test = max(1, round(test_fraction * points))
    test, train = order[:n_test], order[n_test:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def network_names(widths) -> dict[str, tuple[int, ...]]:
    """``{"linear": (), "1x4": (4,), "2x4": (4, 4), ...}``: no hidden layer, then one and two per width."""
    names: dict[str, tuple[int, ...]] = {"linear": ()}
    for depth in (1, 2):
        for width in widths:
            names[f"{depth}x{width}"] = (width,) * depth
    return names


def build_network(hidden: tuple[int, ...], activation) -> fn.Sequential:
    """``Dense(h) -> activation`` for each width in ``hidden``, then ``Dense(1)``: one logit for class 1."""
    layers = [part for width in hidden for part in (fn.Dense(width), activation)]
    return fn.Sequential(*layers, fn.Dense(1))


def columns(x, start: int):
    """``x[..., start:start + 2]``: one data set's two coordinates out of the side-by-side inputs."""
    return x[..., start : start + 2]


def build_ensemble(num_datasets: int, networks: dict, activation) -> fn.Parallel:
    """Every network for every data set side by side: branch ``d * K + k`` is network ``k`` on data set ``d``.

    Branch ``d * K + k`` reads columns ``2d, 2d + 1`` of the input (data set ``d``'s point) and has its
    own parameters; the outputs are concatenated into ``[N, D * K]`` logits.
    """
    return fn.Parallel(
        *(
            fn.Sequential(fn.Lambda(columns, (("start", 2 * d),)), build_network(hidden, activation))
            for d in range(num_datasets)
            for hidden in networks.values()
        )
    )


def side_by_side(datasets: list[dict], split: str) -> tuple[np.ndarray, np.ndarray]:
    """The data sets' ``split`` points as ``[N, 2 * D]`` and their labels as ``[N, D]``."""
    x = np.concatenate([data[f"x_{split}"] for data in datasets], axis=1)
    return x, np.stack([data[f"y_{split}"] for data in datasets], axis=1)


def train(ensemble: fn.Parallel, datasets: list[dict], num_networks: int, args):
    """Fit the whole ensemble in one ``fnnet.fit`` call; return its params.

    The loss is the mean binary cross-entropy over all ``D * K`` outputs; each output's term depends on
    its own branch's parameters only, so each branch gets its own gradient (scaled by ``1 / (D * K)``,
    which Adam's per-parameter normalisation undoes): the same as ``D * K`` separate fits that see the
    same minibatch order, for one compilation instead of ``D * K``.
    """
    x, y = side_by_side(datasets, "train")
    targets = np.repeat(y, num_networks, axis=1).astype(np.float32)  # [N, D * K]
    fitted = fn.fit(
        ensemble,
        fn.losses.binary_cross_entropy_with_logits,
        optax.adam(args.learning_rate),
        x,
        targets,
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=min(args.batch_size, len(x)),
        fused=True,
    )
    return fitted.state.params


def class_one(ensemble: fn.Parallel, params, x: np.ndarray, num_datasets: int) -> np.ndarray:
    """Whether each branch's logit is positive (class 1), as ``[N, D, K]`` booleans."""
    logits = np.asarray(fn.predict(ensemble, params, x))
    return (logits > 0).reshape(len(x), num_datasets, -1)


def needs_hidden_layer(scores: dict[str, dict], margin: float) -> dict:
    """Whether the linear model's test accuracy falls more than ``margin`` below the best hidden network's."""
    best_name = max((name for name in scores if name != "linear"), key=lambda name: scores[name]["test"])
    gap = scores[best_name]["test"] - scores["linear"]["test"]
    return {"needed": bool(gap > margin), "best_hidden": best_name, "gap": gap}


def table(results: dict, networks) -> list[str]:
    """The printed table: one row per data set, ``train/test`` accuracy per network, then the verdicts."""
    width = max(9, *(len(name) for name in networks))
    lines = [
        "accuracy train/test".ljust(20) + "".join(name.rjust(width + 2) for name in networks),
    ]
    for dataset, result in results.items():
        cells = (f"{s['train']:.2f}/{s['test']:.2f}".rjust(width + 2) for s in result["scores"].values())
        lines.append(dataset.ljust(20) + "".join(cells))
    for dataset, result in results.items():
        verdict = result["hidden_layer"]
        lines.append(
            f"{dataset}: hidden layer {'NEEDED' if verdict['needed'] else 'not needed'} "
            f"(linear test {result['scores']['linear']['test']:.2f}, best hidden {verdict['best_hidden']} "
            f"{result['scores'][verdict['best_hidden']]['test']:.2f})"
        )
    return lines


def decision_grid(size: int, limit: float = 1.3) -> np.ndarray:
    """A ``[size, size, 2]`` grid of points covering ``[-limit, limit]`` on both axes."""
    axis = np.linspace(-limit, limit, size, dtype=np.float32)
    return np.stack(np.meshgrid(axis, axis), -1)


def plot(results: dict, boundaries: dict, args):
    """A row per data set, a column per network; each panel: its boundary, points and accuracies."""
    from matplotlib.colors import ListedColormap

    networks = list(next(iter(results.values()))["scores"])
    rows, cols = len(results), len(networks)
    fig, axes = common.subplots(rows, cols, figsize=(2.6 * cols, 2.5 * rows + 0.6), squeeze=False)
    grid = decision_grid(args.grid)
    shade = ListedColormap(CLASS_COLORS)
    for r, (dataset, result) in enumerate(results.items()):
        data = result["data"]
        for c, network in enumerate(networks):
            ax = axes[r, c]
            ax.contourf(
                grid[..., 0],
                grid[..., 1],
                boundaries[dataset][network],
                levels=[-0.5, 0.5, 1.5],
                cmap=shade,
                alpha=0.25,
            )
            ax.scatter(
                *data["x_train"].T, c=data["y_train"], cmap=shade, vmin=0, vmax=1, s=9, edgecolors="none"
            )
            ax.scatter(
                *data["x_test"].T,
                c=data["y_test"],
                cmap=shade,
                vmin=0,
                vmax=1,
                s=9,
                marker="x",
                linewidths=0.7,
            )
            s = result["scores"][network]
            ax.text(
                0.03,
                0.03,
                f"train {s['train']:.2f}\ntest {s['test']:.2f}",
                transform=ax.transAxes,
                fontsize=9,
                bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1.5),
            )
            ax.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), xticks=[-1, 0, 1], yticks=[-1, 0, 1], aspect="equal")
            if r == 0:
                ax.set_title(
                    "no hidden layer"
                    if network == "linear"
                    else f"{network[0]} hidden x {network[2:]} units",
                    fontsize=10,
                )
            if r == rows - 1:
                ax.set_xlabel("x1")
            if c == 0:
                ax.set_ylabel(f"{dataset}\nx2")
    common.class_legend(
        axes[0, -1],
        CLASS_COLORS,
        ["class 0", "class 1"],
        title="class (o train, x test)",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=9,
    )
    fig.suptitle(
        f"Playground: decision boundaries of networks with 0, 1, 2 hidden layers ({args.activation}), "
        f"train / test accuracy in each panel"
    )
    fig.tight_layout()
    return fig


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--points", type=int, default=DEFAULTS["points"])
    parser.add_argument("--noise", type=float, default=DEFAULTS["noise"])
    parser.add_argument("--test-fraction", type=float, default=DEFAULTS["test_fraction"])
    parser.add_argument("--widths", type=int, nargs="+", default=list(DEFAULTS["widths"]))
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default=DEFAULTS["activation"])
    parser.add_argument("--margin", type=float, default=DEFAULTS["margin"])
    parser.add_argument("--grid", type=int, default=DEFAULTS["grid"], help="boundary points per axis")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    return parser


def main(argv=None) -> dict:
    """Train every network on every data set, print the accuracy table, draw the decision boundaries."""
    args = build_parser().parse_args(argv)
    if any(w < 1 for w in args.widths):
        raise ValueError(f"playground: --widths must be positive, got {args.widths}")
    common.header(args, "playground", SOURCE)
    started = time.perf_counter()
    networks = network_names(args.widths)
    datasets = [
        make_dataset(name, args.points, args.noise, args.test_fraction, args.seed) for name in args.datasets
    ]
    ensemble = build_ensemble(len(datasets), networks, ACTIVATIONS[args.activation])
    params = train(ensemble, datasets, len(networks), args)
    correct = {}
    for split in ("train", "test"):
        x, y = side_by_side(datasets, split)
        correct[split] = class_one(ensemble, params, x, len(datasets)) == (y[..., None] == 1)
    grid = decision_grid(args.grid).reshape(-1, 2)
    regions = class_one(ensemble, params, np.tile(grid, (1, len(datasets))), len(datasets))
    results, boundaries = {}, {}
    for d, (name, data) in enumerate(zip(args.datasets, datasets)):
        scores = {
            network: {split: float(correct[split][:, d, k].mean()) for split in ("train", "test")}
            for k, network in enumerate(networks)
        }
        boundaries[name] = {
            network: regions[:, d, k].reshape(args.grid, args.grid).astype(np.float32)
            for k, network in enumerate(networks)
        }
        results[name] = {
            "data": data,
            "scores": scores,
            "hidden_layer": needs_hidden_layer(scores, args.margin),
        }
    seconds = time.perf_counter() - started
    common.report(
        args, *table(results, networks), f"trained {len(results) * len(networks)} networks in {seconds:.1f} s"
    )
    folder = common.output_dir(args, "playground")
    common.save_figure(plot(results, boundaries, args), folder, "playground_decision_boundaries")
    metrics = {
        dataset: {"scores": result["scores"], "hidden_layer": result["hidden_layer"]}
        for dataset, result in results.items()
    }
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
