"""Turn suite runs (JSON) into a markdown table, PNG charts and the suite's part of ``RESULTS.md``.

    python -m benchmarks.report benchmarks/results/run-<time>.json

Several JSON files (from different machines) may be given: each gets its own section. Only the part
of the markdown file between the ``BEGIN`` and ``END`` markers is rewritten; the rest (the figures of
closed studies) is kept. A file without the markers is written whole.
"""

from __future__ import annotations

import argparse
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]

# ---- defaults --------------------------------------------------------------------------------
OUT = ROOT / "benchmarks" / "RESULTS.md"  # the markdown file written
FIGURES = ROOT / "benchmarks" / "figures"  # where the PNG charts go
ORDER = ("fnnet", "jax", "flax", "haiku", "equinox", "torch")  # column order of the table
BEGIN = "<!-- suite: written by python -m benchmarks.report, up to the end marker -->"
END = "<!-- suite: end -->"


def build_parser() -> argparse.ArgumentParser:
    """The report's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="JSON files written by python -m benchmarks.run")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--figures", default=str(FIGURES))
    parser.add_argument("--quiet", action="store_true")
    return parser


def _config(row) -> tuple:
    seq = row["seq_len"] if row["model"] in ("lstm", "gru") else None
    return (row["model"], row["dtype"], row["batch"], seq)


def table(run: dict) -> str:
    """The markdown table of median step times (ms): a column per framework, a row per config."""
    frameworks = [f for f in ORDER if any(r["framework"] == f for r in run["table"])]
    cells, fraction, same_process = {}, {}, {}
    for row in run["table"]:
        cells[(_config(row), row["framework"])] = row["median_s"] * 1e3
        if row["framework"] == "jax" and row.get("fraction_of_ceiling"):
            fraction[_config(row)] = row["fraction_of_ceiling"]
        if row.get("fnnet_over_jax_same_process"):
            same_process[_config(row)] = row["fnnet_over_jax_same_process"]
    head = ["model", "dtype", "batch", "T", *frameworks, "fnnet / jax", "jax: % of ceiling"]
    if same_process:
        head.insert(-1, "fnnet / jax, one process")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    models = {"mlp": 0, "cnn": 1, "lstm": 2, "gru": 3}
    for config in sorted({c for c, _ in cells}, key=lambda c: (models[c[0]], c[1], c[2], c[3] or 0)):
        times = {f: cells.get((config, f)) for f in frameworks}
        best = min(t for t in times.values() if t is not None)
        shown = ["—" if t is None else (f"**{t:.3g}**" if t == best else f"{t:.3g}") for t in times.values()]
        ratio = "—"
        if times.get("fnnet") and times.get("jax"):
            ratio = f"{times['fnnet'] / times['jax']:.2f}×"
        frac = f"{100 * fraction[config]:.0f}%" if config in fraction else "—"
        ratios = [ratio, f"{same_process[config]:.2f}×" if config in same_process else "—"]
        model, dtype, batch, seq = config
        cols = [model, dtype, str(batch), str(seq or ""), *shown, *ratios[: 2 if same_process else 1], frac]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def charts(run: dict, folder: pathlib.Path, tag: str) -> list[pathlib.Path]:
    """Step time by framework, against batch size, and (LSTM) against sequence length.

    A chart whose models the run did not time is left out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    rows = [r for r in run["table"] if r["dtype"] == "float32"]
    paths = []
    # 1. by framework: each model at its largest float32 batch (and longest sequence)
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.5))
    for ax, model in zip(axes, ("mlp", "cnn", "lstm", "gru"), strict=True):
        mine = [r for r in rows if r["model"] == model]
        if mine:
            top = max(_config(r)[2:] for r in mine)  # (batch, seq)
            mine = [r for r in mine if _config(r)[2:] == top]
            mine.sort(key=lambda r: ORDER.index(r["framework"]))
            ax.bar([r["framework"] for r in mine], [r["median_s"] * 1e3 for r in mine])
            ax.set_title(f"{model}, batch {top[0]}" + (f", T={top[1]}" if top[1] else ""))
            ax.tick_params(axis="x", rotation=45)
        ax.set_ylabel("train step, ms (median)")
    paths.append(_save(fig, folder / f"{tag}-by-framework.png"))
    # 2. against batch size (MLP and CNN), 3. LSTM against T
    for name, model_names, axis in (
        ("by-batch", ("mlp", "cnn"), "batch"),
        ("lstm-by-length", ("lstm", "gru"), "seq_len"),
    ):
        if not any(r["model"] in model_names for r in rows):
            continue  # nothing to plot (e.g. an MLP-only run)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
        for ax, model in zip(axes, model_names, strict=True):
            for fw in ORDER:
                pts = sorted(
                    (r[axis], r["median_s"] * 1e3)
                    for r in rows
                    if r["model"] == model and r["framework"] == fw
                )
                if pts:
                    ax.plot(*zip(*pts, strict=True), marker="o", label=fw)
            ax.set(xscale="log", yscale="log", xlabel=axis, ylabel="train step, ms", title=model)
            if ax.lines:
                ax.legend(fontsize=7)
        paths.append(_save(fig, folder / f"{tag}-{name}.png"))
    return paths


def _save(fig, path: pathlib.Path) -> pathlib.Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def section(run: dict, source: str, figures: list[pathlib.Path], out: pathlib.Path) -> str:
    """One run's part of RESULTS.md: machine, command, ceilings, notes, table and charts."""
    m = run["machine"]
    ceilings = ", ".join(
        f"{c['dtype']} {c['size']}³: {c['flops_per_second'] / 1e9:.0f} GFLOP/s" for c in run["ceilings"]
    )
    parts = [
        f"## {m['device_kind']} ({m['platform']}), {m['cpu']}, {m['cpu_count']} CPUs",
        f"Source `{source}`; command `{run['command']}`; jax {m['jax']}, jaxlib {m['jaxlib']}, "
        f"{m['threads_per_process']} threads per process, "
        f"freed memory {'retained' if m.get('retain_freed_memory') else 'given back (glibc default)'}, "
        f"{run['rounds']} round(s) of "
        f"{run['options']}; took {run['seconds']:.0f} s.",
        f"Matmul ceiling, each round: {ceilings}.",
        "Median train-step time in ms (median over rounds of each round's median of timed "
        "blocks); **bold** is the fastest; 'fnnet / jax' divides those two columns (separate "
        "processes); 'one process' is the median ratio with both timed interleaved in one process; "
        "'% of ceiling' uses XLA's FLOP count of the hand-written JAX step (MLP, CNN) or the matmul "
        "FLOPs counted by hand (LSTM, GRU: XLA counts a scan's body once).",
        table(run),
    ]
    if run["notes"]:
        parts.append("Notes:\n" + "\n".join(f"- {n}" for n in run["notes"]))
    parts += [f"![{p.stem}]({p.relative_to(out.parent)})" for p in figures]
    return "\n\n".join(parts)


def write_between_markers(out: pathlib.Path, text: str) -> str:
    """Put ``text`` between ``BEGIN`` and ``END`` in ``out``, keeping what is outside; return the file."""
    old = out.read_text() if out.exists() else ""
    head, tail = "# Benchmark results\n\n", "\n"
    if BEGIN in old and END in old:
        head, tail = old[: old.index(BEGIN)], old[old.index(END) + len(END) :]
    whole = f"{head}{BEGIN}\n{text}\n{END}{tail}"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(whole)
    return whole


def main(argv=None) -> dict:
    """Write the charts and RESULTS.md; return ``{"out": path, "figures": [...]}``."""
    args = build_parser().parse_args(argv)
    out, folder = pathlib.Path(args.out), pathlib.Path(args.figures)
    sections, figures = [], []
    for source in args.runs:
        run = json.loads(pathlib.Path(source).read_text())
        paths = charts(run, folder, pathlib.Path(source).stem)
        figures += paths
        sections.append(section(run, source, paths, out))
    text = (
        f"Generated by `python -m benchmarks.report {' '.join(args.runs)}`; do not edit this part by hand."
        + "\n\n"
        + "\n\n".join(sections)
    )
    text = write_between_markers(out, text)
    if not args.quiet:
        print(text)
    return {"out": str(out), "figures": [str(p) for p in figures]}


if __name__ == "__main__":
    main()
