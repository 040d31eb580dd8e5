"""The suite's machinery: the parity check, the worker processes and the aggregation over rounds.

``benchmarks.run`` drives it; a worker is ``python -m benchmarks.run --worker NAME --job FILE``, run
from the repository root.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

from benchmarks import peers
from benchmarks.peers.common import GATES, Spec, compute_dtype, recurrent_step_flops

ROOT = pathlib.Path(__file__).resolve().parents[1]
OVERHEAD = "overhead"  # the worker that times fnnet and hand JAX interleaved in one process


def parity(frameworks, specs, say) -> tuple[dict, list[str]]:
    """Build every peer; keep the (framework, spec) pairs whose parameters and output agree."""
    keep, notes = {}, []
    for spec in specs:
        built = {}
        for fw in frameworks:
            try:
                b = peers.build(fw, spec, abstract=True)
                built[fw] = (b.param_count, b.out_shape)
            except peers.Skipped as err:
                notes.append(f"skipped: {err}")
        ref = "fnnet" if "fnnet" in built else "jax"
        if ref not in built:
            notes.append(f"{spec.label()}: no reference model (fnnet or jax) to check against")
            continue
        if ref != "fnnet":
            notes.append(f"{spec.label()}: parity checked against hand-written JAX (fnnet not run)")
        for fw, facts in built.items():
            if facts == built[ref]:
                keep.setdefault(fw, []).append(spec)
            else:
                notes.append(f"excluded {fw} {spec.label()}: params/output {facts} != {ref}'s {built[ref]}")
        say(
            f"parity {spec.label()}: {ref} {built[ref]}, "
            f"agreeing: {sorted(f for f in built if built[f] == built[ref])}"
        )
    return keep, notes


def worker(args) -> None:
    """Time one framework's specs (or the ceilings) and write the rows to the job's output file."""
    job = json.loads(pathlib.Path(args.job).read_text())
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(min(args.threads, os.cpu_count())))
    from fnnet import bench

    retained = bench.retain_freed_memory() if args.retain_memory else False

    rows, opts = [], job["options"]
    if args.worker == "ceiling":
        for dtype in job["dtypes"]:
            rows.append({"framework": "ceiling", **bench.matmul_ceiling(dtype, job["ceiling_size"])})
    elif args.worker == OVERHEAD:
        rows = [overhead_row(fields, opts, retained) for fields in job["specs"]]
    else:
        if args.worker == "torch":
            import torch

            torch.set_num_threads(args.threads)
        for fields in job["specs"]:
            spec = Spec(**fields)
            env = bench.environment(spec.dtype)
            row = {"framework": args.worker, **fields, "retained_freed_memory": retained}
            try:
                b = peers.build(args.worker, spec)
                if b.step is not None:
                    timed = bench.benchmark(b.step, *b.args, carry=True, samples_per_call=spec.batch, **opts)
                else:
                    seconds = bench.time_blocks(b.call, b.sync, **opts)
                    timed = {**bench.summarize(seconds, spec.batch), "environment": env}
                row.update({**timed, **fields, "name": spec.label(), "note": b.note})
            except Exception as err:  # one failing entry must not sink the run
                row["error"] = f"{type(err).__name__}: {err}"
            rows.append(row)
    pathlib.Path(job["output"]).write_text(json.dumps(rows, default=str))


def overhead_row(fields: dict, opts: dict, retained: bool) -> dict:
    """fnnet's step over the hand-written JAX step, both compiled in this process, timed interleaved.

    Per-process speed varies more on a small CPU than fnnet's overhead does, so the ratio is taken
    within one process: ``fnnet.bench.interleaved`` alternates the two steps block by block
    (``repeats`` blocks of ``number`` steps each), and the row holds the median of the per-round ratios.
    """
    from fnnet import bench

    spec = Spec(**fields)
    row = {"framework": OVERHEAD, **fields, "retained_freed_memory": retained}
    try:
        steps = {fw: peers.compiled_step(peers.build(fw, spec))[0] for fw in ("fnnet", "jax")}
        times = bench.interleaved(steps, rounds=opts["repeats"], block=opts["number"], warmup=opts["warmup"])
        fnnet_s, jax_s = times["fnnet"]["samples_s"], times["jax"]["samples_s"]
        ratios = [f / j for f, j in zip(fnnet_s, jax_s, strict=True)]
        row.update(ratio=statistics.median(ratios), fnnet_s=fnnet_s, jax_s=jax_s)
    except Exception as err:  # one failing entry must not sink the run
        row["error"] = f"{type(err).__name__}: {err}"
    return row


def spawn(name, job, args, folder) -> list[dict]:
    """Run one worker process with the suite's thread settings; return its rows."""
    job_path = pathlib.Path(folder) / f"{name}-{time.monotonic_ns()}.json"
    job["output"] = str(job_path.with_suffix(".out.json"))
    job_path.write_text(json.dumps(job))
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, "-m", "benchmarks.run", "--worker", name, "--job", str(job_path)]
    cmd += ["--threads", str(args.threads)] + (["--retain-memory"] if args.retain_memory else [])
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        return [{"framework": name, "error": f"worker exited {done.returncode}: {done.stderr[-2000:]}"}]
    return json.loads(pathlib.Path(job["output"]).read_text())


def aggregate(rows: list[dict]) -> list[dict]:
    """Median over rounds of each entry's per-round medians, and the fraction of the ceiling.

    fnnet's rows also get ``fnnet_over_jax_same_process``: the median over rounds of the overhead
    worker's ratio (fnnet over hand JAX, timed interleaved in one process). FLOPs: XLA's count of
    the hand-written JAX step (MLP, CNN); the hand count of ``recurrent_step_flops`` for the LSTM
    and GRU, whose scan XLA counts once.
    """
    ceilings = {}
    for r in rows:
        if r["framework"] == "ceiling":
            ceilings.setdefault(r["dtype"], []).append(r["flops_per_second"])
    ceilings = {d: statistics.median(v) for d, v in ceilings.items()}
    same_process: dict[tuple, list[float]] = {}
    for r in rows:
        if r["framework"] == OVERHEAD and "ratio" in r:
            same_process.setdefault((r["model"], r["dtype"], r["batch"], r["seq_len"]), []).append(r["ratio"])
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["framework"] not in ("ceiling", OVERHEAD) and "median_s" in r:
            key = (r["framework"], r["model"], r["dtype"], r["batch"], r["seq_len"])
            groups.setdefault(key, []).append(r)
    flops = {k[1:]: g[0].get("flops") for k, g in groups.items() if k[0] == "jax"}
    table = []
    for key, group in sorted(groups.items()):
        median = statistics.median(r["median_s"] for r in group)
        if key[1] in GATES:  # XLA counts a scan's body once: count the recurrent step by hand
            model_flops = recurrent_step_flops(Spec(*key[1:]))
        else:
            model_flops = flops.get(key[1:]) or group[0].get("flops")
        fraction = None
        if model_flops and compute_dtype(key[2]) in ceilings:  # a policy against its compute dtype's ceiling
            fraction = model_flops / median / ceilings[compute_dtype(key[2])]
        table.append(
            {
                **dict(zip(("framework", "model", "dtype", "batch", "seq_len"), key, strict=True)),
                "median_s": median,
                "rounds": [r["median_s"] for r in group],
                "min_s": min(r["min_s"] for r in group),
                "max_s": max(r["max_s"] for r in group),
                "samples_per_second": key[3] / median,
                "compile_s": group[0].get("compile_s"),
                "model_flops": model_flops,
                "fraction_of_ceiling": fraction,
                "note": group[0].get("note"),
            }
        )
        if key[0] == "fnnet" and key[1:] in same_process:
            table[-1]["fnnet_over_jax_same_process"] = statistics.median(same_process[key[1:]])
    return table
