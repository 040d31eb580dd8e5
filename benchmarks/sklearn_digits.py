"""fnnet.interop.sklearn.MLPClassifier against scikit-learn's MLPClassifier on digits: accuracy, fit time.

    python -m benchmarks.sklearn_digits --seeds 5 --out benchmarks/results/sklearn_digits.json

Same settings for both; one fit per seed of each, interleaved by ``fnnet.bench.interleaved`` so machine
load hits them alike. The untimed warm-up fit (seed 0, fnnet's includes JIT compilation) is reported
apart.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fnnet import bench
from fnnet.interop.sklearn import MLPClassifier

# Defaults (override on the command line):
SEEDS = 5  # random_state 0..SEEDS-1, one fit of each estimator per seed
HIDDEN = 100  # hidden_layer_sizes=(HIDDEN,)
MAX_ITER = 200  # scikit-learn's default
SOLVER = "adam"  # "adam" or "sgd"
TEST_SIZE = 0.3  # held-out fraction of the 1,797 digits


def fitter(estimator, settings: dict, data: tuple, record: list):
    """A thunk fitting ``estimator`` with the next seed and appending ``(accuracy, epochs)`` to ``record``."""
    X_tr, X_te, y_tr, y_te = data

    def fit():
        model = estimator(**settings, random_state=len(record))
        model.fit(X_tr, y_tr)
        record.append((model.score(X_te, y_te), model.n_iter_))

    return fit


def main(argv=None) -> dict:
    """Fit both estimators once per seed; print and return accuracy, fit time and epochs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--max-iter", type=int, default=MAX_ITER)
    parser.add_argument("--solver", default=SOLVER)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    data = train_test_split(X / 16, y, test_size=TEST_SIZE, random_state=0)
    settings = dict(hidden_layer_sizes=(args.hidden,), solver=args.solver, max_iter=args.max_iter)
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    MLPClassifier(**settings, random_state=0).fit(data[0], data[2])  # compiles
    summary = {"fnnet_first_fit_seconds": time.perf_counter() - start, "settings": settings}
    records = {"fnnet": [], "sklearn": []}
    thunks = {
        name: fitter(est, settings, data, records[name])
        for name, est in (("fnnet", MLPClassifier), ("sklearn", SkMLPClassifier))
    }
    times = bench.interleaved(thunks, rounds=args.seeds, block=1, warmup=0)
    summary["load_average"] = os.getloadavg()[0]
    print(f"digits, {settings}, {args.seeds} seeds, load average {summary['load_average']:.2f}")
    print(f"{'':8} {'accuracy':>9} {'fit s (median)':>15} {'epochs':>7}")
    for name, record in records.items():
        acc, epochs = (float(np.mean(column)) for column in zip(*record, strict=True))
        sec = times[name]["median_s"]
        summary[name] = {"mean_accuracy": acc, "median_fit_seconds": sec, "mean_epochs": epochs}
        print(f"{name:8} {acc:9.4f} {sec:15.3f} {epochs:7.1f}")
    print(f"fnnet first fit (with compilation): {summary['fnnet_first_fit_seconds']:.2f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


if __name__ == "__main__":
    main()
