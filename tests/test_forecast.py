"""experiments/forecast.py on the real series, its baselines checked against NumPy computed here."""

import csv
import math
import os
import pathlib

import numpy as np
import pytest

from experiments import forecast

DATA_DIR = pathlib.Path(
    os.environ.get("FNNET_DATA_DIR", pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
needs_data = pytest.mark.skipif(
    not (DATA_DIR / "timeseries").is_dir(),
    reason=f"no time series at {DATA_DIR / 'timeseries'} (set FNNET_DATA_DIR to the shared data folder)",
)
# name -> (period, log, difference, lags): the definitions the experiment's docstring states
SERIES = {"airline-passengers": (12, True, 12, 13), "monthly-sunspots": (132, False, 0, 24)}


def read_values(name):
    with open(DATA_DIR / "timeseries" / f"{name}.csv", newline="") as f:
        return np.array([float(row[1]) for row in list(csv.reader(f))[1:]])


def numpy_baselines(name):
    """Seasonal-naive and least-squares AR test RMSE over the last 20% of the series, from scratch."""
    period, log, d, p = SERIES[name]
    raw = read_values(name)
    n = len(raw)
    cut = n - round(0.2 * n)
    v = np.log(raw) if log else raw
    z = v[d:] - v[:-d] if d else v  # z[i] is the target series at month i + d
    rows = [(t, z[t - d - p : t - d], z[t - d]) for t in range(d + p, n)]
    design = np.array([np.r_[lags, 1.0] for _, lags, _ in rows])
    target = np.array([y for _, _, y in rows])
    months = np.array([t for t, _, _ in rows])
    train, test = months < cut, months >= cut
    coef = np.linalg.lstsq(design[train], target[train], rcond=None)[0]
    forecast = design[test] @ coef + (v[months[test] - d] if d else 0)
    forecast = np.exp(forecast) if log else forecast
    actual = raw[cut:]
    return {
        "seasonal-naive": math.sqrt(np.mean((raw[cut - period : n - period] - actual) ** 2)),
        "linear AR": math.sqrt(np.mean((forecast - actual) ** 2)),
        "test_steps": n - cut,
    }


@needs_data
def test_fast_run_reports_every_model_and_numpy_baselines(tmp_path):
    metrics = forecast.main(["--data-dir", str(DATA_DIR), "--out-dir", str(tmp_path), "--quiet", "--fast"])
    for name in SERIES:
        m, ref = metrics[name], numpy_baselines(name)
        assert m["test_steps"] == ref["test_steps"]
        assert set(m["rmse"]) == {"seasonal-naive", "linear AR", "LSTM", "GRU", "causal Conv"}
        assert m["rmse"]["seasonal-naive"] == pytest.approx(ref["seasonal-naive"], rel=1e-6)  # float32 values
        assert m["rmse"]["linear AR"] == pytest.approx(ref["linear AR"], rel=1e-4)  # float32 windows
        assert ref["linear AR"] < ref["seasonal-naive"]
        for label in ("LSTM", "GRU", "causal Conv"):
            assert np.isfinite(m["rmse"][label]) and m["rmse"][label] < ref["seasonal-naive"], (name, label)
        close = all(
            m["rmse"][label] <= 1.05 * m["rmse"]["linear AR"] for label in ("LSTM", "GRU", "causal Conv")
        )
        assert m["networks_match_ar"] == close and m["verdict"].startswith(name)
        assert (tmp_path / "forecast" / f"forecast_{name}.png").stat().st_size > 0


def test_bad_options_name_the_option():
    with pytest.raises(ValueError, match="--val-fraction"):
        forecast.parse_args(["--val-fraction", "1.5"])
    with pytest.raises(ValueError, match="--patience"):
        forecast.parse_args(["--patience", "0"])


@needs_data
@pytest.mark.slow
def test_default_run_on_sunspots_networks_match_the_numpy_ar(tmp_path):
    """The claim of the default run, over seeds 0, 1, 2: on 2232 training windows every network's
    median test RMSE is within 5% of the least-squares AR's (computed here)."""
    argv = [
        "--data-dir",
        str(DATA_DIR),
        "--out-dir",
        str(tmp_path),
        "--quiet",
        "--series",
        "monthly-sunspots",
    ]
    m = forecast.main(argv)["monthly-sunspots"]
    ar = numpy_baselines("monthly-sunspots")["linear AR"]
    for label in ("LSTM", "GRU", "causal Conv"):
        assert np.median(m["networks"][label]["rmse"]) <= 1.05 * ar, label
    assert m["networks_match_ar"]
