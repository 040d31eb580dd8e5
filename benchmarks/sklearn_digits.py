"""fnnet.interop.sklearn.MLPClassifier against scikit-learn's MLPClassifier on digits: accuracy, fit time.

Same settings for both; fits are interleaved (fnnet, sklearn, fnnet, ...) so machine load hits them
alike. fnnet's first fit, which includes JIT compilation, is reported separately as a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fnnet.interop.sklearn import MLPClassifier

# Defaults (override on the command line):
SEEDS = 5  # random_state 0..SEEDS-1, one fit of each estimator per seed
HIDDEN = 100  # hidden_layer_sizes=(HIDDEN,)
MAX_ITER = 200  # scikit-learn's default
SOLVER = "adam"  # "adam" or "sgd"
TEST_SIZE = 0.3  # held-out fraction of the 1,797 digits


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--max-iter", type=int, default=MAX_ITER)
    parser.add_argument("--solver", default=SOLVER)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16, y, test_size=TEST_SIZE, random_state=0)
    settings = dict(hidden_layer_sizes=(args.hidden,), solver=args.solver, max_iter=args.max_iter)
    warnings.simplefilter("ignore", ConvergenceWarning)

    start = time.perf_counter()
    MLPClassifier(**settings, random_state=0).fit(X_tr, y_tr)
    warmup = time.perf_counter() - start
    results = {
        "fnnet": {"acc": [], "sec": [], "iters": []},
        "sklearn": {"acc": [], "sec": [], "iters": []},
    }
    for seed in range(args.seeds):
        for name, est in (("fnnet", MLPClassifier), ("sklearn", SkMLPClassifier)):
            model = est(**settings, random_state=seed)
            start = time.perf_counter()
            model.fit(X_tr, y_tr)
            results[name]["sec"].append(time.perf_counter() - start)
            results[name]["acc"].append(model.score(X_te, y_te))
            results[name]["iters"].append(model.n_iter_)
    summary = {
        "load_average": os.getloadavg()[0],
        "fnnet_first_fit_seconds": warmup,
        "settings": settings,
    }
    for name, r in results.items():
        summary[name] = {
            "mean_accuracy": float(np.mean(r["acc"])),
            "median_fit_seconds": statistics.median(r["sec"]),
            "mean_epochs": float(np.mean(r["iters"])),
        }
    print(f"digits, {settings}, {args.seeds} seeds, load average {summary['load_average']:.2f}")
    print(f"{'':8} {'accuracy':>9} {'fit s (median)':>15} {'epochs':>7}")
    for name in results:
        s = summary[name]
        acc, sec, epochs = s["mean_accuracy"], s["median_fit_seconds"], s["mean_epochs"]
        print(f"{name:8} {acc:9.4f} {sec:15.3f} {epochs:7.1f}")
    print(f"fnnet first fit (with compilation): {warmup:.2f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


if __name__ == "__main__":
    main()
