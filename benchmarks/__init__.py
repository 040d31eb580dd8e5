"""fnnet's benchmarks: the suite against other frameworks, and the studies still open.

Run every script as a module from the repository root (the peers need ``pip install -e ".[bench]"``):

    python -m benchmarks.run --quick        # the suite on a tiny grid: checks the harness
    python -m benchmarks.run                # the full grid -> benchmarks/results/run-<time>.json
    python -m benchmarks.report benchmarks/results/run-<time>.json   # table, charts, RESULTS.md
    python -m benchmarks.dispatch           # issue 2: fit's fused epochs against per-step epochs
    python -m benchmarks.sklearn_digits     # fnnet's MLPClassifier against scikit-learn's on digits

``peers`` builds the same four models in every framework; all timing goes through ``fnnet.bench``.
Figures of studies that are closed, and the commit whose script produced them, are in ``RESULTS.md``.
"""
