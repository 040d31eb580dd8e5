"""Forecast airline passengers and monthly sunspots with an LSTM and a GRU against two baselines.

One-step-ahead forecasts on the last 20% of each series (time-ordered split, never shuffled); every
model sees the same windows of past values, scaled with statistics of the training part only. The
networks predict the change from the last observed value; their training stops early on the last
15% of the training windows (a validation part, also in time order), restoring the best epoch.
Baselines: seasonal-naive (the value one season ago) and a linear autoregression fitted by least
squares. Reports test RMSE in the series' units and plots forecast against actual.
"""

from __future__ import annotations

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.data import SERIES, Standardizer, load_series, sliding_windows, time_ordered_split

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=300,  # passes over the (small) training windows
    batch_size=16,
    learning_rate=3e-3,
    hidden_size=32,  # LSTM / GRU state size
    test_fraction=0.2,
)
# Per series: window length (steps of context), whether to model log values (multiplicative trend).
SETTINGS = {"airline-passengers": (24, True), "monthly-sunspots": (48, False)}


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    parser.add_argument("--hidden-size", type=int, default=DEFAULTS["hidden_size"])
    parser.add_argument("--test-fraction", type=float, default=DEFAULTS["test_fraction"])
    parser.add_argument("--series", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    return parser


def last_value(x):
    """The last observed value of each window: ``[..., T, 1] -> [..., 1]``."""
    return x[..., -1, :]


def rmse(a, b) -> float:
    """Root mean squared difference, as a float."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def run_series(args, name, out):
    """Fit the baselines and both networks on one series; plot the forecasts; return their RMSE."""
    window, use_log = SETTINGS[name]
    period = SERIES[name][1]
    raw = load_series(name, args.data_dir).astype(np.float64)
    values = np.log(raw) if use_log else raw
    context = max(window, period)
    train, test = time_ordered_split(values, args.test_fraction, context=context)
    scaler = Standardizer.fit(train)
    x_tr, y_tr = sliding_windows(scaler.transform(train), window)
    x_te, _ = sliding_windows(scaler.transform(test)[context - window :], window)
    actual = raw[len(raw) - len(x_te) :]

    def unscale(z):
        v = scaler.inverse(np.asarray(z).reshape(-1)).astype(np.float64)
        return np.exp(v) if use_log else v

    forecasts = {"seasonal-naive": raw[len(raw) - len(x_te) - period : len(raw) - period]}
    design = np.concatenate([x_tr[..., 0], np.ones((len(x_tr), 1))], axis=1)  # [N, window + 1]
    coef, *_ = np.linalg.lstsq(design, y_tr, rcond=None)
    forecasts["linear AR"] = unscale(np.concatenate([x_te[..., 0], np.ones((len(x_te), 1))], 1) @ coef)
    for label, cell in [
        ("LSTM", fn.LSTMCell(args.hidden_size)),
        ("GRU", fn.GRUCell(args.hidden_size)),
    ]:
        net = fn.Sequential(fn.RNN(cell, return_sequences=False), fn.Dense(1))
        model = fn.Parallel(net, last_value, merge="sum")  # predicts the change from the last value
        optimizer, key = optax.adam(args.learning_rate), jax.random.key(args.seed)
        n_fit, stopping = int(0.85 * len(x_tr)), fn.training.EarlyStopping(patience=30)
        result = fn.fit(
            model, fn.losses.mean_squared_error, optimizer, x_tr[:n_fit], y_tr[:n_fit], key=key,
            epochs=args.epochs, batch_size=min(args.batch_size, n_fit), fused=True,
            validation_data=(x_tr[n_fit:], y_tr[n_fit:]), callbacks=[stopping],
        )  # fmt: skip
        forecasts[label] = unscale(fn.predict(model, result.state.params, x_te))
    scores = {label: rmse(f, actual) for label, f in forecasts.items()}

    fig, ax = common.subplots(figsize=(9, 3.5))
    start = len(raw) - len(actual)
    ax.plot(np.arange(len(raw)), raw, color="0.6", lw=1, label="actual")
    for label, f in forecasts.items():
        ax.plot(np.arange(start, len(raw)), f, lw=1.2, label=f"{label} (RMSE {scores[label]:.1f})")
    ax.axvline(start, color="k", ls=":", lw=1)
    ax.set(
        title=f"{name}: one-step-ahead test forecasts",
        xlabel="month",
        xlim=(max(0, start - 3 * period), len(raw)),
    )
    ax.legend(fontsize=7)
    common.save_figure(fig, out, f"forecast_{name}")
    return {"test_steps": len(actual), "window": window, "rmse": scores}


def main(argv=None) -> dict:
    """Forecast each ``--series``; report and save the test RMSE of every model."""
    args = build_parser().parse_args(argv)
    out = common.output_dir(args, "forecast")
    metrics = {}
    for name in args.series:
        metrics[name] = run_series(args, name, out)
        lines = [f"{name}: test RMSE over the last {metrics[name]['test_steps']} steps"]
        lines += [f"  {label:15s} {value:8.2f}" for label, value in metrics[name]["rmse"].items()]
        common.report(args, *lines)
    common.save_metrics(out, metrics)
    return metrics


if __name__ == "__main__":
    main()
