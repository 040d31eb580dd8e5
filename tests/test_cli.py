"""The ``fnnet`` command line against a fixture experiment folder and the real ``experiments`` package."""

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import jax
import pytest

import fnnet as fn
from fnnet import cli
from fnnet.course import zoo

TINY = '''\
"""Tiny: a logistic regression on random points, for the CLI tests."""

import jax
import matplotlib
import numpy as np
import optax

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import fnnet as fn  # noqa: E402
from experiments.common import base_parser, output_dir, report, save_figure, save_metrics  # noqa

def build_parser():
    parser = base_parser(__doc__.splitlines()[0], epochs=2, batch_size=8)
    parser.add_argument("--hidden", type=int, default=4)
    return parser

def main(argv=None):
    args = build_parser().parse_args(argv)
    rng = np.random.RandomState(args.seed)
    x = rng.randn(64, 3).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(args.hidden), fn.activations.tanh, fn.Dense(2))
    result = fn.fit(model, fn.losses.softmax_cross_entropy, optax.sgd(args.learning_rate), x, y,
                    key=jax.random.key(args.seed), epochs=args.epochs, batch_size=args.batch_size,
                    metrics={"accuracy": fn.metrics.accuracy})
    folder = output_dir(args, "tiny")
    fig, ax = plt.subplots()
    ax.plot(result.history["loss"])
    save_figure(fig, folder, "loss")
    metrics = {"epochs": args.epochs, "batch_size": args.batch_size, "hidden": args.hidden,
               "learning_rate": args.learning_rate, "final_loss": result.history["loss"][-1]}
    save_metrics(folder, metrics)
    report(args, f"final loss {metrics['final_loss']:.4f}")
    return metrics
'''

BROKEN = '''\
"""Broken: raises inside main."""

from experiments.common import base_parser

def build_parser():
    return base_parser(__doc__.splitlines()[0])

def main(argv=None):
    build_parser().parse_args(argv)
    raise RuntimeError("the data went missing")
'''


@pytest.fixture
def folder(tmp_path):
    """A folder of scripts for ``--experiments-dir``; they import the real ``experiments.common``."""
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "tiny.py").write_text(TINY)
    (exp / "broken.py").write_text(BROKEN)
    (exp / "common.py").write_text('"""Not an experiment."""\n')
    (exp / "helper.py").write_text('"""No main here."""\n\ndef build_parser():\n    pass\n')
    return exp


def test_list_shows_each_experiment_with_its_description(folder, capsys):
    assert cli.main(["list", "--experiments-dir", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "broken  Broken: raises inside main.",
        "tiny    Tiny: a logistic regression on random points, for the CLI tests.",
    ]


def test_run_trains_with_progress_and_writes_outputs(folder, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "tiny", "--experiments-dir", str(folder), "--out-dir", str(out)]
    argv += ["--epochs", "3", "--batch-size", "16", "--learning-rate", "0.5", "--hidden", "5"]
    path = list(sys.path)
    assert cli.main(argv + ["--seed", "1", "--device", "cpu"]) == 0
    assert sys.path == path  # the script is loaded from its file, not found through sys.path
    captured = capsys.readouterr()
    assert "epoch 3/3" in captured.err and "loss=" in captured.err  # the progress bar
    assert "accuracy" in captured.err  # the per-epoch summary table
    assert "final loss" in captured.out and "tiny: results" in captured.out
    metrics = json.loads((out / "tiny" / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and metrics["batch_size"] == 16 and metrics["hidden"] == 5
    assert metrics["learning_rate"] == 0.5
    assert (out / "tiny" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quiet_prints_nothing(folder, tmp_path, capsys):
    argv = ["run", "tiny", "--experiments-dir", str(folder), "--out-dir", str(tmp_path), "--quiet"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "tiny" / "metrics.json").exists()


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (["run", "nope"], 2, "unknown experiment 'nope'; available: broken, tiny"),
        (["run", "tiny", "--epochs", "two"], 2, "argument --epochs: invalid int value: 'two'"),
        (["run", "tiny", "--no-such-option"], 2, "unrecognized arguments: --no-such-option"),
        (["run", "tiny", "--device", "abacus"], 2, "invalid choice: 'abacus'"),
        (["run", "broken"], 1, "experiment 'broken' failed: RuntimeError: the data went missing"),
        (["summary", "nope"], 2, "unknown model 'nope'; available: mlp, perceptron"),
        (["summary", "mlp", "--input-shape", "2x3"], 2, "--input-shape must be integers"),
        (["lst"], 2, "invalid choice: 'lst'"),
        (["list", "--experiments-dir", "/no/such/dir"], 2, "experiments folder /no/such/dir not"),
    ],
)
def test_mistakes_get_a_message_and_nonzero_status(folder, argv, status, message, capsys):
    if "--experiments-dir" not in argv and argv[0] != "summary":
        argv = [*argv, "--experiments-dir", str(folder)]
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_summary_of_a_named_model(capsys):
    assert cli.main(["summary", "mlp"]) == 0
    out = capsys.readouterr().out
    # 784*512+512 + 512*512+512 + 512*10+10 parameters
    assert f"{784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10:,}" in out
    assert zoo.names()[:2] == ["mlp", "perceptron"]
    with pytest.raises(ValueError, match="already registered"):
        zoo.register("mlp", lambda: None, (1,), "again")


def test_console_module_exits_nonzero_without_traceback(folder):
    cmd = [sys.executable, "-m", "fnnet.cli", "run", "nope", "--experiments-dir", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown experiment 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
    # a device this machine lacks (a fresh process: the backend is chosen once per process)
    cmd[4:5] = ["tiny", "--device", "tpu"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--device tpu is not available here" in proc.stderr


def test_every_real_experiment_is_discoverable_and_parses_help():
    folder = cli.default_experiments_dir()
    assert folder.name == "experiments" and (folder / "common.py").exists()
    for name, (path, description) in cli.discover(folder).items():
        assert description != "(no description)", path
        module = cli.load(name)
        assert module is importlib.import_module(f"experiments.{name}")
        help_text = module.build_parser().format_help()
        assert textwrap.dedent("--epochs") in help_text and "--out-dir" in help_text, name


def test_real_experiments_are_the_experiments_package_and_sys_path_is_untouched(monkeypatch, capsys):
    monkeypatch.delenv("FNNET_EXPERIMENTS_DIR", raising=False)
    path = list(sys.path)
    assert cli.main(["list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert {"xor", "mnist", "gan_mnist", "row_mnist"} <= set(names)
    assert not {"common", "__init__", "run_all"} & set(names)
    assert cli.main(["run", "nope"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"unknown experiment 'nope'; available: .*\bxor\b", err), err
    assert sys.path == path


def test_list_works_from_another_working_directory(tmp_path):
    """The installed ``experiments`` package is found from anywhere (``pip install -e .`` includes it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FNNET_EXPERIMENTS_DIR")}
    cmd = [sys.executable, "-c", "import sys; from fnnet import cli; sys.exit(cli.main(['list']))"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0 and re.search(r"^xor  +XOR", proc.stdout, re.M), proc.stderr


def test_console_script_is_registered():
    import pathlib

    root = pathlib.Path(cli.__file__).resolve().parents[1]
    text = (root / "pyproject.toml").read_text()
    section = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    target = re.search(r'^fnnet = "fnnet\.cli:(\w+)"$', section, re.M)
    assert target and callable(getattr(cli, target.group(1)))


def test_summary_of_a_saved_file_lists_its_tensors_and_rebuilds_its_model(tmp_path, capsys):
    model = fn.Sequential(fn.Dense(5), fn.activations.relu, fn.Dense(2))
    _, params = model.init(jax.random.key(0), (3,))
    path = fn.training.checkpoint.save_params(tmp_path / "m.safetensors", params, model=model, step=7)
    assert cli.main(["summary", str(path), "--input-shape", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: fnnet params, step 7" in out
    assert re.search(r"0\.kernel\s+\[3, 5\]\s+float32", out), out
    assert "4 arrays, 32 values" in out  # 3*5 + 5 + 5*2 + 2
    assert "total params: 32" in out  # the layer table of the rebuilt model


@pytest.mark.parametrize(
    "contents, argv_tail, message",
    [
        (None, [], "no such file"),
        (b"not a checkpoint at all", [], "m.safetensors"),
        ("params", ["--input-shape", "3x"], "--input-shape must be integers"),
        (
            "params",
            ["--input-shape", "4"],
            r"do not fit input shape \[4\]: params\['0'\]\['kernel'\] is \(3, 5\)",
        ),
    ],
)
def test_summary_of_a_bad_file_gets_a_message(tmp_path, capsys, contents, argv_tail, message):
    path = tmp_path / "m.safetensors"
    if contents == "params":
        model = fn.Sequential(fn.Dense(5), fn.activations.relu, fn.Dense(2))
        fn.training.checkpoint.save_params(path, model.init(jax.random.key(0), (3,))[1], model=model)
    elif contents is not None:
        path.write_bytes(contents)
    assert cli.main(["summary", str(path), *argv_tail]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and re.search(message, err), err
