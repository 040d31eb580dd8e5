"""fnnet.training.metric_logs: CSV and TensorBoard logs read back (TensorBoard's own reader) against
fit's history and step logs; logging_to and ``fnnet run --log-dir``."""

import csv
import json
import sys

import jax
import numpy as np
import optax
import pytest
from tensorboard.backend.event_processing import event_accumulator

import fnnet as fn
from fnnet import cli
from fnnet.training.metric_logs import CSVLogger, TensorBoardLogger, logging_to


def scalars(folder):
    """``{tag: [(step, value)]}`` of the event files in ``folder``, read by TensorBoard's reader."""
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


class StepLogs(fn.training.Callback):
    """The reference: every step's logs and global step as fit hands them to callbacks."""

    def __init__(self):
        self.rows = []

    def step_end(self, run, logs):
        self.rows.append((run.step, {k: float(v) for k, v in logs.items()}))


def small_fit(callbacks, **kwargs):
    rng = np.random.RandomState(0)
    x = rng.randn(40, 3).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(4), fn.activations.tanh, fn.Dense(2))
    return fn.fit(
        model, fn.losses.softmax_cross_entropy, optax.sgd(0.3), x, y, key=jax.random.key(0), epochs=3,
        batch_size=10, validation_data=(x, y), metrics={"accuracy": fn.metrics.accuracy},
        callbacks=callbacks, **kwargs,
    )  # fmt: skip


def f32(values):
    return np.asarray(values, np.float32)  # event files hold float32 scalars


@pytest.mark.parametrize("fused", [False, True], ids=["per-step", "fused"])
def test_tensorboard_and_csv_logs_hold_the_history_and_every_step_against_the_global_step(tmp_path, fused):
    steps = StepLogs()
    loggers = [
        TensorBoardLogger(tmp_path / "tb"),
        CSVLogger(tmp_path / "e.csv"),
        CSVLogger(tmp_path / "s.csv", True),
    ]
    result = small_fit([steps, *loggers], fused=fused)
    history = result.history
    logged = scalars(tmp_path / "tb")
    # per epoch: every history value at the global step the epoch ended on
    for name in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
        assert [s for s, _ in logged[f"epoch/{name}"]] == [4, 8, 12]
        np.testing.assert_array_equal(f32([v for _, v in logged[f"epoch/{name}"]]), f32(history[name]))
    assert "epoch/epoch" not in logged
    # per step: every step's logs at its global step
    for name in ("loss", "accuracy"):
        assert [s for s, _ in logged[f"step/{name}"]] == [s for s, _ in steps.rows] == list(range(1, 13))
        np.testing.assert_array_equal(
            f32([v for _, v in logged[f"step/{name}"]]), f32([r[name] for _, r in steps.rows])
        )
    assert "step/finite" not in logged
    # the CSVs: exact decimal round trips of the same values
    epoch_rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    assert [int(r["step"]) for r in epoch_rows] == [4, 8, 12]
    assert [int(r["epoch"]) for r in epoch_rows] == [1, 2, 3]
    for name in ("loss", "val_loss", "val_accuracy"):
        assert [float(r[name]) for r in epoch_rows] == history[name]
    step_rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    assert [int(r["step"]) for r in step_rows] == list(range(1, 13))
    assert [float(r["loss"]) for r in step_rows] == [r["loss"] for _, r in steps.rows]
    assert {r["finite"] for r in step_rows} == {"1"}


def test_after_a_resume_the_logs_read_as_one_run(tmp_path):
    """Killed after 6 steps (a checkpoint at 4) and resumed: the CSV keeps rows 1-4 then 5-12, and
    TensorBoard shows each step once with the resumed run's values."""
    ckpt, log = tmp_path / "ckpt", tmp_path / "log"

    class Kill(fn.training.Callback):
        def step_end(self, run, logs):
            if run.step == 6:
                raise KeyboardInterrupt

    def loggers():
        return [fn.training.Checkpoint(ckpt), TensorBoardLogger(log), CSVLogger(log / "steps.csv", True)]

    with pytest.raises(KeyboardInterrupt):
        small_fit([*loggers(), Kill()])
    reference = StepLogs()
    small_fit([reference])  # uninterrupted
    small_fit(loggers())
    rows = list(csv.DictReader((log / "steps.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    np.testing.assert_allclose(
        [float(r["loss"]) for r in rows], [r["loss"] for _, r in reference.rows], rtol=1e-6
    )
    logged = scalars(log)["step/loss"]
    assert [s for s, _ in logged] == list(range(1, 13))
    np.testing.assert_allclose([v for _, v in logged], f32([r["loss"] for _, r in reference.rows]), rtol=1e-6)


def test_logging_to_gives_every_fit_its_own_run_folder_and_nothing_outside_it(tmp_path):
    with logging_to(tmp_path):
        first = small_fit([])
        second = small_fit([])
    small_fit([])  # outside the context: no logs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit_001", "fit_002"]
    for folder, result in zip(["fit_001", "fit_002"], [first, second], strict=True):
        rows = list(csv.DictReader((tmp_path / folder / "epochs.csv").open()))
        assert [float(r["loss"]) for r in rows] == result.history["loss"]
        assert len(list(csv.DictReader((tmp_path / folder / "steps.csv").open()))) == 12
        logged = scalars(tmp_path / folder)
        np.testing.assert_array_equal(
            f32([v for _, v in logged["epoch/val_loss"]]), f32(result.history["val_loss"])
        )


def test_without_tensorboardx_the_logger_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'fnnet\[logs\]'"):
        TensorBoardLogger(tmp_path)
    assert cli.main(["run", "stream_mnist", "--log-dir", str(tmp_path)]) == 2


def test_fnnet_run_log_dir_logs_every_fit_of_the_experiment(tmp_path, capsys):
    out, logs = tmp_path / "out", tmp_path / "logs"
    argv = ["run", "stream_mnist", "--log-dir", str(logs), "--out-dir", str(out), "--quiet"]
    assert cli.main(argv + ["--train-subset", "1024", "--epochs", "2", "--batch-size", "64"]) == 0
    metrics = json.loads((out / "stream_mnist" / "metrics.json").read_text())
    assert sorted(p.name for p in logs.iterdir()) == ["fit_001", "fit_002"]  # streamed, in memory
    for folder, prefix in (("fit_001", "stream"), ("fit_002", "memory")):
        logged = scalars(logs / folder)
        assert [s for s, _ in logged["epoch/val_accuracy"]] == [16, 32]  # 1024 / 64 steps an epoch
        assert logged["epoch/val_accuracy"][-1][1] == np.float32(metrics[f"{prefix}_test_accuracy"])
        assert len(logged["step/loss"]) == 32
        rows = list(csv.DictReader((logs / folder / "epochs.csv").open()))
        assert float(rows[-1]["val_accuracy"]) == metrics[f"{prefix}_test_accuracy"]


def test_two_runs_opened_in_the_same_second_keep_both_event_files(tmp_path, monkeypatch):
    import types

    import tensorboardX.event_file_writer as writer_module

    # tensorboardX names an event file by the second it opens; freeze that clock to force the collision
    monkeypatch.setattr(writer_module, "time", types.SimpleNamespace(time=lambda: 1_700_000_000.0))
    small_fit([TensorBoardLogger(tmp_path)])
    small_fit([TensorBoardLogger(tmp_path)])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(name.startswith("events.out.tfevents.1700000000.") for name in files)
    assert all((tmp_path / name).stat().st_size > 0 for name in files)
