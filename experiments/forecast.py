"""Forecast airline passengers and sunspots with an LSTM, a GRU and a causal CNN against two baselines.

Reproduces 003_57e07c46f1bd5fd4.txt, "Recurrent Neural Networks (RNN)" ("RNNs are used for any data where
sequence matters: time series data") and 001_aa06252bb9b8f838.txt, "Deep Learning Use Cases Summary"
(RNN, LSTM for time-series forecasting; CNNs "also applied in other contexts (forecasting)").

What a forecaster does, on series of 144 and 2820 months:

- one-step-ahead forecasts of the last 20% of each series (time-ordered split, never shuffled), walking
  forward: the forecast of month t sees the actual values up to month t - 1;
- a stationary target: airline passengers as the 12-month difference of the log (trend and multiplicative
  seasonality removed); sunspots as they are, the networks predicting the change from the last value;
- scaling with statistics of the training part only;
- validation on the most recent 20% of the training windows (one walk-forward fold, in time order), with
  early stopping restoring the best epoch;
- every model sees the same windows; the baselines are seasonal-naive (the value one season ago) and a
  linear autoregression on the same windows fitted by least squares;
- each network is trained from ``--seeds`` initialisations; the table shows the median test RMSE (and the
  spread), and a network "matches" the AR when its median is within ``MATCH_TOLERANCE`` of the AR's.

When the networks do not match, the printed diagnosis compares their training and validation errors with
the AR's on the same split: lower training error but higher validation error than the AR says the series
is too short to pin down more than a linear map (variance, not optimisation).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.data import SERIES, load_series

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=300,  # at most; early stopping ends sooner
    learning_rate=3e-3,
    hidden_size=32,  # LSTM / GRU state size
    test_fraction=0.2,
    val_fraction=0.2,  # of the training windows, the most recent ones
    patience=10,
)
FAST = dict(epochs=8, patience=3, seeds=[0])  # --fast: a smoke run of every model (seconds)
MATCH_TOLERANCE = 0.05  # a network matches the AR when its median RMSE is at most 5% above the AR's
SOURCE = f'{common.COURSE["slides"]}, "Recurrent Neural Networks (RNN)"; {common.COURSE["notes"]}, use cases'


@dataclasses.dataclass(frozen=True)
class Setting:
    """How one series is modelled.

    Attributes:
        window: past steps each forecast sees (the AR's number of lags).
        log: model the log of the values (multiplicative trend and seasonality).
        difference: model ``v[t] - v[t - difference]`` (0: the values themselves).
        residual: the networks predict the change from the window's last value.
        batch_size: training examples per step.
    """

    window: int
    log: bool
    difference: int
    residual: bool
    batch_size: int


SETTINGS = {
    "airline-passengers": Setting(window=13, log=True, difference=12, residual=False, batch_size=16),
    "monthly-sunspots": Setting(window=24, log=False, difference=0, residual=True, batch_size=128),
}
MODELS = ("LSTM", "GRU", "causal Conv")


@dataclasses.dataclass(frozen=True)
class Windows:
    """The series cut into windows of the scaled target series, and what maps forecasts back.

    Attributes:
        x_train, y_train: windows ``[M, window, 1]`` and next values ``[M, 1]`` whose targets lie in the
            training part; ``x_test``, ``y_test`` the same for the test part.
        actual: the test months' values in the series' units ``[T]``.
        base: what is added to an unscaled forecast of the target series before undoing the log
            (``v[t - difference]``, or 0) ``[T]``.
        mean, std: the training part's statistics of the target series.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    actual: np.ndarray
    base: np.ndarray
    mean: float
    std: float
    log: bool


def build_parser() -> argparse.ArgumentParser:
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden-size", type=int, default=DEFAULTS["hidden_size"])
    parser.add_argument("--test-fraction", type=float, default=DEFAULTS["test_fraction"])
    parser.add_argument("--val-fraction", type=float, default=DEFAULTS["val_fraction"])
    parser.add_argument("--patience", type=int, default=DEFAULTS["patience"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="initialisations per network")
    parser.add_argument("--series", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--fast", action="store_true", help=f"a smoke run: {FAST}")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the options; ``--fast`` overrides epochs, patience and seeds."""
    args = build_parser().parse_args(argv)
    if args.fast:
        vars(args).update(FAST)
    for name in ("test_fraction", "val_fraction"):
        if not 0 < getattr(args, name) < 1:
            raise ValueError(
                f"forecast: --{name.replace('_', '-')} must be in (0, 1), got {getattr(args, name)}"
            )
    for name in ("epochs", "patience", "hidden_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"forecast: --{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def rmse(a, b) -> float:
    """Root mean squared difference, as a float."""
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def target_series(raw: np.ndarray, setting: Setting) -> np.ndarray:
    """The series the models forecast: log and difference applied; the first ``difference`` steps NaN."""
    values = np.log(raw) if setting.log else raw.copy()
    if not setting.difference:
        return values
    out = np.full_like(values, np.nan)
    out[setting.difference :] = values[setting.difference :] - values[: -setting.difference]
    return out


def make_windows(raw: np.ndarray, setting: Setting, test_fraction: float) -> Windows:
    """Cut ``raw`` into train and test windows of its scaled target series (statistics of train only)."""
    n, d, w = len(raw), setting.difference, setting.window
    cut = n - max(1, round(n * test_fraction))  # the first test month
    if cut - d - w < 2 * w:
        raise ValueError(f"forecast: a series of {n} steps is too short for window {w} and difference {d}")
    z = target_series(raw, setting)
    mean, std = float(np.mean(z[d:cut])), float(np.std(z[d:cut]))
    scaled = ((z - mean) / std).astype(np.float32)

    def cut_windows(first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        targets = np.arange(first, stop)
        x = scaled[targets[:, None] - w + np.arange(w)[None, :]]  # [M, w]
        return x[..., None], scaled[targets][:, None]

    x_train, y_train = cut_windows(d + w, cut)
    x_test, y_test = cut_windows(cut, n)
    values = np.log(raw) if setting.log else raw
    base = values[cut - d : n - d] if d else np.zeros(n - cut)
    return Windows(x_train, y_train, x_test, y_test, raw[cut:], base, mean, std, setting.log)


def to_units(windows: Windows, scaled_forecast) -> np.ndarray:
    """Forecasts of the scaled target series back in the series' units ``[T]``."""
    value = np.asarray(scaled_forecast, np.float64).reshape(-1) * windows.std + windows.mean + windows.base
    return np.exp(value) if windows.log else value


def fit_ar(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares AR coefficients ``[window + 1]`` (the last is the intercept)."""
    design = np.concatenate([x[..., 0], np.ones((len(x), 1))], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, y[:, 0].astype(np.float64), rcond=None)
    return coef


def ar_predict(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The AR's forecasts ``[M]`` for windows ``x: [M, window, 1]``."""
    return x[..., 0].astype(np.float64) @ coef[:-1] + coef[-1]


def last_value(x):
    """The last observed value of each window: ``[..., T, 1] -> [..., 1]``."""
    return x[..., -1, :]


def network(label: str, hidden: int, residual: bool) -> fn.Layer:
    """``label``'s network on windows ``[window, 1] -> [1]``; with ``residual`` it adds the last value."""
    if label == "LSTM":
        net = fn.Sequential(fn.RNN(fn.LSTMCell(hidden), return_sequences=False), fn.Dense(1))
    elif label == "GRU":
        net = fn.Sequential(fn.RNN(fn.GRUCell(hidden), return_sequences=False), fn.Dense(1))
    elif label == "causal Conv":  # dilations 1, 2, 4 with kernel 3: the last output sees 15 steps
        layers = []
        for dilation in (1, 2, 4):
            layers += [fn.Conv(16, (3,), padding="CAUSAL", dilation=dilation), fn.activations.relu]
        net = fn.Sequential(*layers, last_value, fn.Dense(1))
    else:
        raise ValueError(f"forecast: unknown model {label!r}; known: {MODELS}")
    return fn.Parallel(net, last_value, merge="sum") if residual else net


def split_validation(windows: Windows, val_fraction: float) -> int:
    """How many of the (time-ordered) training windows are fitted; the rest, the latest, validate."""
    return len(windows.x_train) - max(1, round(val_fraction * len(windows.x_train)))


def train_network(model: fn.Layer, windows: Windows, n_fit: int, args, setting: Setting, seed: int):
    """Fit on the first ``n_fit`` training windows, stopping early on the rest; return the FitResult."""
    x, y = windows.x_train, windows.y_train
    return fn.fit(
        model, fn.losses.mean_squared_error, optax.adam(args.learning_rate), x[:n_fit], y[:n_fit],
        key=jax.random.key(seed), epochs=args.epochs, batch_size=min(setting.batch_size, n_fit), fused=True,
        validation_data=(x[n_fit:], y[n_fit:]),
        callbacks=[fn.training.EarlyStopping("val_loss", patience=args.patience, restore_best=True)],
    )  # fmt: skip


def baselines(raw: np.ndarray, windows: Windows, period: int, n_fit: int) -> tuple[dict, dict]:
    """Seasonal-naive and AR forecasts of the test months, and the AR's train/val MSE (scaled units)."""
    forecasts = {"seasonal-naive": raw[len(raw) - len(windows.actual) - period : len(raw) - period]}
    coef = fit_ar(windows.x_train, windows.y_train)
    forecasts["linear AR"] = to_units(windows, ar_predict(coef, windows.x_test))
    split = fit_ar(windows.x_train[:n_fit], windows.y_train[:n_fit])  # on the networks' split
    errors = {
        "train_mse": mse(ar_predict(split, windows.x_train[:n_fit]), windows.y_train[:n_fit]),
        "val_mse": mse(ar_predict(split, windows.x_train[n_fit:]), windows.y_train[n_fit:]),
    }
    return forecasts, errors


def mse(prediction, target) -> float:
    """Mean squared difference of two arrays of forecasts (flattened), as a float."""
    return rmse(np.ravel(prediction), np.ravel(target)) ** 2


def run_networks(windows: Windows, setting: Setting, n_fit: int, args) -> dict:
    """Every network from every seed: ``{label: {"rmse": [...], "train_mse": [...], "val_mse": [...],
    "epochs": [...], "forecast": the median seed's forecast}}``."""
    results = {}
    for label in MODELS:
        model = network(label, args.hidden_size, setting.residual)
        runs = []
        for seed in args.seeds:
            fitted = train_network(model, windows, n_fit, args, setting, seed)
            forecast = to_units(windows, fn.predict(model, fitted.state.params, windows.x_test))
            best = int(np.argmin(fitted.history["val_loss"]))
            train_pred = fn.predict(model, fitted.state.params, windows.x_train[:n_fit])
            runs.append((rmse(forecast, windows.actual), forecast, best + 1, fitted.history["val_loss"][best],
                         mse(train_pred, windows.y_train[:n_fit])))  # fmt: skip
        order = np.argsort([r[0] for r in runs])
        results[label] = {
            "rmse": [r[0] for r in runs],
            "chosen_epoch": [r[2] for r in runs],
            "val_mse": [float(r[3]) for r in runs],
            "train_mse": [r[4] for r in runs],
            "forecast": runs[order[len(order) // 2]][1],
        }
    return results


def verdict(name: str, scores: dict, networks: dict, ar_errors: dict, n_windows: int) -> str:
    """One line: do the networks match the AR on ``name``, and if not, the evidence why."""
    ar = scores["linear AR"]
    ratios = {label: scores[label] / ar for label in networks}
    listed = ", ".join(f"{label} {r:.2f}x" for label, r in ratios.items())
    if all(r <= 1 + MATCH_TOLERANCE for r in ratios.values()):
        return f"{name}: the networks match the linear AR (median RMSE / AR's: {listed})"
    behind = [label for label, r in ratios.items() if r > 1 + MATCH_TOLERANCE]
    reasons = [diagnose(label, networks[label], ar_errors, n_windows) for label in behind]
    verb = "does" if len(behind) == 1 else "do"
    return f"{name}: {', '.join(behind)} {verb} not match the linear AR ({listed}); " + "; ".join(reasons)


def diagnose(label: str, runs: dict, ar_errors: dict, n_windows: int) -> str:
    """Why ``label`` is behind the AR, from its median train / validation MSE beside the AR's (same split)."""
    train, val = float(np.median(runs["train_mse"])), float(np.median(runs["val_mse"]))
    numbers = (
        f"{label} validation MSE {val:.3f} vs AR {ar_errors['val_mse']:.3f}, "
        f"train {train:.3f} vs {ar_errors['train_mse']:.3f}"
    )
    if val <= ar_errors["val_mse"]:
        return f"{numbers}: as good as the AR on the held-out windows, so the test gap is within the noise"
    if train < ar_errors["train_mse"]:
        return f"{numbers}: it overfits; {n_windows} training windows pin down no more than a linear map"
    return f"{numbers}: it fits the training windows worse than least squares (underfits, stopped early)"


def plot_forecasts(name: str, raw: np.ndarray, forecasts: dict, scores: dict, period: int, out) -> None:
    """The series and every model's test forecasts (the median seed's for the networks)."""
    fig, ax = common.subplots(figsize=(9, 3.5))
    start = len(raw) - len(next(iter(forecasts.values())))
    ax.plot(np.arange(len(raw)), raw, color="0.6", lw=1, label="actual")
    for label, f in forecasts.items():
        ax.plot(np.arange(start, len(raw)), f, lw=1.2, label=f"{label} (RMSE {scores[label]:.1f})")
    ax.axvline(start, color="k", ls=":", lw=1)
    ax.set(title=f"{name}: one-step-ahead test forecasts", xlabel="month", ylabel="value",
           xlim=(max(0, start - 3 * min(period, 24)), len(raw)))  # fmt: skip
    ax.legend(fontsize=7)
    common.save_figure(fig, out, f"forecast_{name}")


def run_series(args: argparse.Namespace, name: str, out) -> dict:
    """The baselines and every network on one series; plot the forecasts; return the metrics."""
    setting, period = SETTINGS[name], SERIES[name][1]
    raw = load_series(name, args.data_dir).astype(np.float64)
    windows = make_windows(raw, setting, args.test_fraction)
    n_fit = split_validation(windows, args.val_fraction)
    forecasts, ar_errors = baselines(raw, windows, period, n_fit)
    networks = run_networks(windows, setting, n_fit, args)
    scores = {label: rmse(f, windows.actual) for label, f in forecasts.items()}
    scores.update({label: float(np.median(r["rmse"])) for label, r in networks.items()})
    forecasts.update({label: r.pop("forecast") for label, r in networks.items()})
    plot_forecasts(name, raw, forecasts, scores, period, out)
    line = verdict(name, scores, networks, ar_errors, len(windows.x_train))
    return {
        "test_steps": len(windows.actual), "window": setting.window, "train_windows": len(windows.x_train),
        "rmse": scores, "networks": networks, "ar_split_errors": ar_errors, "verdict": line,
        "networks_match_ar": line.split(": ", 1)[1].startswith("the networks match"),
    }  # fmt: skip


def table(metrics: dict, seeds: list[int]) -> list[str]:
    """Series x model -> test RMSE; networks as median [min-max] over the seeds."""
    columns = ["seasonal-naive", "linear AR", *MODELS]
    lines = [
        f"test RMSE, one-step-ahead over the test months (networks: median [min-max] over seeds {seeds})",
        f"{'series':20s}" + "".join(f"{c:>20s}" for c in columns),
    ]
    for name, m in metrics.items():
        cells = [f"{m['rmse'][c]:.2f}" for c in columns[:2]]
        for label in MODELS:
            spread = m["networks"][label]["rmse"]
            cells.append(f"{m['rmse'][label]:.2f} [{min(spread):.1f}-{max(spread):.1f}]")
        lines.append(f"{name:20s}" + "".join(f"{c:>20s}" for c in cells))
    return lines


def main(argv: list[str] | None = None) -> dict:
    """Forecast each ``--series``; print the RMSE table and a verdict per series; save metrics and plots."""
    args = parse_args(argv)
    common.header(args, "forecast", SOURCE)
    out = common.output_dir(args, "forecast")
    metrics = {}
    for name in args.series:
        started = time.perf_counter()
        metrics[name] = run_series(args, name, out)
        metrics[name]["seconds"] = round(time.perf_counter() - started, 1)
    common.report(args, *table(metrics, args.seeds), *(m["verdict"] for m in metrics.values()))
    common.report(args, "seconds per series: " + ", ".join(f"{n} {m['seconds']}" for n, m in metrics.items()))
    common.save_metrics(out, metrics)
    return metrics


if __name__ == "__main__":
    main()
