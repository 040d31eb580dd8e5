"""Timing shared by the formulation scripts: variants interleaved in one process, or one per process.

Interleaving puts every variant through the same drift in the machine's speed. Separate processes
keep frameworks from sharing thread pools, which matters when PyTorch and JAX meet in one process.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time


def interleaved(thunks: dict, rounds: int, block: int, warmup: int = 3) -> dict:
    """``{name: (median, min)}`` ms per call of each ``name -> thunk`` (one blocking call each).

    Every thunk is first called ``warmup`` times (the first compiles); then, in each of ``rounds``
    rounds, in a fresh random order, each one times ``block`` calls.
    """
    for thunk in thunks.values():
        for _ in range(warmup):
            thunk()
    times = {name: [] for name in thunks}
    order = list(thunks)
    for _ in range(rounds):
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            for _ in range(block):
                thunks[name]()
            times[name].append((time.perf_counter() - start) / block * 1e3)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def in_processes(script: str, argv: list, names: list, keys: list, processes: int) -> dict:
    """Run ``script`` once per variant in a fresh process, ``processes`` times, alternating the order.

    Each child gets ``argv`` plus ``--processes 0 --exact NAME --out FILE`` and must write JSON in
    which ``result[key][NAME][0]`` is that variant's median for every key in ``keys``.

    Returns:
        ``{key: {name: (median, min)}}`` over the processes' medians.
    """
    per = {key: {name: [] for name in names} for key in keys}
    for rep in range(processes):
        for name in names if rep % 2 == 0 else names[::-1]:
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                child = [*argv, "--processes", "0", "--exact", name, "--out", out.name]
                subprocess.run([sys.executable, script, *child], check=True, capture_output=True)
                result = json.load(open(out.name))
            for key in keys:
                per[key][name].append(result[key][name][0])
    return {key: {n: (statistics.median(v), min(v)) for n, v in runs.items()} for key, runs in per.items()}
