"""The ``fnnet`` command line: list and run the experiments, summarise a named model or a saved file.

    fnnet list                       the experiments, one line each
    fnnet run NAME [options] [-- experiment options]
    fnnet summary NAME [--input-shape 28,28,1]
    fnnet summary FILE [--input-shape 28,28,1]     a checkpoint or parameters file

Experiments are the modules of the ``experiments`` package (the repository's ``experiments/``
folder, installed with fnnet: importable from a wheel, the checkout or ``pip install -e .``) that follow
``experiments/common.py``: the module docstring's first line describes it, ``build_parser()`` returns
its parser and ``main(argv)`` runs it. ``fnnet run NAME`` imports ``experiments.NAME``; nothing is
added to ``sys.path``. ``--experiments-dir DIR`` (or ``$FNNET_EXPERIMENTS_DIR``) lists and runs the
scripts of another folder instead, each loaded from its file. ``fnnet run`` shows a progress bar for
every ``fit`` inside the experiment (unless ``--quiet``), then a table of the metrics it returned.
``--log-dir DIR`` makes every ``fit`` inside it write CSV and TensorBoard logs, per step and per
epoch, to ``DIR/fit_001``, ``DIR/fit_002``, ... (``fnnet.training.metric_logs``; needs tensorboardX).
Mistakes get a one-line message and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import pathlib
import sys
import traceback
import types
from typing import Any

__all__ = ["default_experiments_dir", "discover", "load", "main"]

PACKAGE = "experiments"
RUN_OPTIONS = ("epochs", "batch_size", "learning_rate", "seed", "data_dir", "out_dir")


def default_experiments_dir() -> pathlib.Path | None:
    """The folder of the importable ``experiments`` package, or None when there is none.

    Found as Python finds the package (the checkout as the working directory, or an install that
    includes it), without importing it.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:  # absent, or a namespace package: not ours
        return None
    return pathlib.Path(spec.origin).parent


def discover(folder: str | os.PathLike[str]) -> dict[str, tuple[pathlib.Path, str]]:
    """``{name: (path, description)}`` of the experiment scripts in ``folder`` (not imported).

    A script counts when it defines ``build_parser`` and ``main`` at the top level; ``common.py``
    and names starting with ``_`` (``__init__.py``) are skipped.
    """
    found = {}
    for path in sorted(pathlib.Path(folder).glob("*.py")):
        if path.stem == "common" or path.stem.startswith("_"):
            continue
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if {"build_parser", "main"} <= defined:
            doc = (ast.get_docstring(tree) or "").strip()
            found[path.stem] = (path, doc.splitlines()[0] if doc else "(no description)")
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fnnet", description="fnnet experiments and models")
    parser.add_argument("--experiments-dir", help="a folder of experiment scripts (default: the package)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{list,run,summary}")
    listing = sub.add_parser("list", help="list the experiments")
    run = sub.add_parser("run", help="run an experiment; unknown options go to the experiment")
    for p in (listing, run):
        p.add_argument("--experiments-dir", default=argparse.SUPPRESS, help="folder of experiments")
    run.add_argument("name")
    run.add_argument("--epochs", type=int)
    run.add_argument("--batch-size", type=int)
    run.add_argument("--learning-rate", type=float)
    run.add_argument("--seed", type=int)
    run.add_argument(
        "--data-dir",
        help="the data sets' folder (default: $FNNET_DATA_DIR, else ../shared/data beside a checkout, "
        "else ~/.cache/fnnet, $XDG_CACHE_HOME/fnnet)",
    )
    run.add_argument("--out-dir")
    run.add_argument("--device", choices=["cpu", "gpu", "cuda", "rocm", "tpu"])
    run.add_argument(
        "--log-dir",
        help="write every fit's metrics per step and per epoch as CSV and TensorBoard logs here "
        "(one subfolder per fit; view with tensorboard --logdir DIR)",
    )
    run.add_argument("--quiet", action="store_true", help="print nothing")
    run.add_argument("--debug", action="store_true", help="show the traceback of an error")
    summary = sub.add_parser("summary", help="the layer table of a named model, or what a saved file holds")
    summary.add_argument("name", help="a model of fnnet.course.zoo, or a .safetensors / .fnnet file")
    summary.add_argument(
        "--input-shape", help="per-example input shape, e.g. 28,28,1 (for a file: also print the layer table)"
    )
    return parser


def _fail(message: str, status: int = 2) -> int:
    print(f"fnnet: error: {message}", file=sys.stderr)
    return status


def _cmd_list(folder: pathlib.Path) -> int:
    experiments = discover(folder)
    if not experiments:
        print(f"no experiments in {folder}")
    width = max((len(name) for name in experiments), default=0)
    for name, (_, description) in experiments.items():
        print(f"{name.ljust(width)}  {description}")
    return 0


def load(name: str, folder: str | os.PathLike[str] | None = None) -> types.ModuleType:
    """The experiment module ``name``: ``experiments.<name>``, or the file ``<folder>/<name>.py``.

    Without ``folder`` it is imported as a module of the ``experiments`` package (so it imports its
    siblings as ``experiments.common``); with one, the file is executed as a module of its own.
    Neither adds anything to ``sys.path``.

    Raises:
        ImportError: ``<folder>/<name>.py`` cannot be loaded as a Python module.
    """
    if folder is None:
        return importlib.import_module(f"{PACKAGE}.{name}")
    path = pathlib.Path(folder) / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"fnnet_experiment_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"load: cannot load experiment {name!r} from {path} (not a Python module file)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _metrics_table(metrics: dict) -> str:
    rows = [(str(k), f"{v:.6g}" if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    rows = [(k, v if len(v) <= 60 else v[:57] + "...") for k, v in rows]
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _cmd_run(args: argparse.Namespace, extra: list[str], folder: pathlib.Path, packaged: bool) -> int:
    experiments = discover(folder)
    if args.name not in experiments:
        available = ", ".join(experiments) or "none"
        return _fail(f"unknown experiment {args.name!r}; available: {available}")
    if args.device is not None:
        import jax

        jax.config.update("jax_platforms", args.device)
        try:
            jax.devices()
        except RuntimeError as err:
            return _fail(f"--device {args.device} is not available here ({err})")
    argv = []
    for option in RUN_OPTIONS:
        value = getattr(args, option)
        if value is not None:
            argv += [f"--{option.replace('_', '-')}", str(value)]
    if args.log_dir is not None:
        from fnnet.training.metric_logs import tensorboard_writer

        try:
            tensorboard_writer()
        except ImportError as err:
            return _fail(f"--log-dir: {err}")
    argv += ["--quiet"] if args.quiet else []
    argv += [a for a in extra if a != "--"]
    from fnnet.training.metric_logs import logging_to
    from fnnet.training.progress import progress_enabled

    try:
        module = load(args.name, None if packaged else folder)
        with progress_enabled(not args.quiet), logging_to(args.log_dir):
            metrics = module.main(argv)
    except SystemExit as err:  # the experiment's own argparse error (already printed)
        return err.code if isinstance(err.code, int) else 2
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as err:  # a clear message, not a traceback (unless --debug)
        if args.debug:
            traceback.print_exc()
        return _fail(f"experiment {args.name!r} failed: {type(err).__name__}: {err}", 1)
    if not args.quiet and isinstance(metrics, dict):
        print(f"\n{args.name}: results")
        print(_metrics_table(metrics))
    if not args.quiet and args.log_dir:
        print(f"metric logs in {args.log_dir} (view them with: tensorboard --logdir {args.log_dir})")
    return 0


def _input_shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise ValueError(f"--input-shape must be integers joined by commas, got {text!r}") from None


def _cmd_summary(args: argparse.Namespace) -> int:
    from fnnet import summary
    from fnnet.course import zoo

    if pathlib.Path(args.name).suffix in (".safetensors", ".fnnet") or pathlib.Path(args.name).is_file():
        return _cmd_summary_file(pathlib.Path(args.name), args.input_shape)
    try:
        entry = zoo.get(args.name)
        in_shape = _input_shape(args.input_shape) if args.input_shape else entry.in_shape
        print(f"{entry.name}: {entry.description}; input {list(in_shape)}")
        print(summary(entry.factory(), in_shape))
    except KeyError as err:
        return _fail(err.args[0])
    except ValueError as err:  # a bad --input-shape, or a ShapeError for one the model cannot take
        return _fail(str(err))
    return 0


def _cmd_summary_file(path: pathlib.Path, input_shape: str | None) -> int:
    """What a saved file holds: its kind, step and model, each tensor, and the layer table if asked."""
    from fnnet import configs, summary
    from fnnet.training import checkpoint

    if not path.is_file():
        return _fail(f"{path}: no such file")
    try:
        arrays, info = checkpoint.load_checkpoint(path)
        in_shape = _input_shape(input_shape) if input_shape else None
    except (checkpoint.CheckpointError, ValueError) as err:
        return _fail(str(err))
    kind, step, version = info.get("kind"), info.get("step"), info.get("fnnet_version")
    print(f"{path}: fnnet {kind}, step {step}, saved by fnnet {version}")
    print(f"model: {info.get('model_repr') or 'not stored'}")
    if info.get("model") is None:
        print(f"  (no config: {info.get('model_error')})")
    count = 0
    for name, array in sorted(arrays.items()):
        print(f"  {name:<48} {str(list(array.shape)):<18} {array.dtype}")
        count += int(getattr(array, "size", 0))
    print(f"{len(arrays)} arrays, {count:,} values")
    if in_shape is not None:
        if info.get("model") is None:
            return _fail(f"{path} holds no model config, so it has no layer table")
        try:
            model = configs.from_config(info["model"])
            if info.get("kind") == "params":
                _check_fits(path, model, in_shape)
            print(summary(model, in_shape))
        except (configs.ConfigError, ValueError) as err:
            return _fail(f"{path}: {err}")
    return 0


def _check_fits(path: pathlib.Path, model: Any, in_shape: tuple[int, ...]) -> None:
    """Raise ValueError naming the first parameter whose stored shape is not the model's at ``in_shape``."""
    import jax

    from fnnet.training import checkpoint

    params, _, _ = checkpoint.load_params(path)
    flat = jax.tree_util.tree_flatten_with_path
    stored = {jax.tree_util.keystr(p): tuple(a.shape) for p, a in flat(params)[0]}
    abstract = jax.eval_shape(lambda key: model.init(key, in_shape)[1], jax.random.key(0))
    wanted = {jax.tree_util.keystr(p): tuple(a.shape) for p, a in flat(abstract)[0]}
    for name in sorted(set(stored) | set(wanted)):
        if stored.get(name) != wanted.get(name):
            raise ValueError(
                f"its parameters do not fit input shape {list(in_shape)}: params{name} is "
                f"{stored.get(name)} in the file, {wanted.get(name)} for that input"
            )


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and args.command != "run":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as err:
        return err.code if isinstance(err.code, int) else 2
    if args.command == "summary":
        return _cmd_summary(args)
    given: str | None = getattr(args, "experiments_dir", None) or os.environ.get("FNNET_EXPERIMENTS_DIR")
    packaged = not given
    folder = pathlib.Path(given) if given else default_experiments_dir()
    if folder is None:
        return _fail(
            f"no importable {PACKAGE!r} package: install fnnet from its checkout (pip install -e .), "
            "run `python -m fnnet.cli` in the checkout, or pass --experiments-dir"
        )
    if not folder.is_dir():
        return _fail(f"experiments folder {folder} not found (use --experiments-dir)")
    if args.command == "list":
        return _cmd_list(folder)
    return _cmd_run(args, extra, folder, packaged)


def console_main() -> None:
    """The ``fnnet`` console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
