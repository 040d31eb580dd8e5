"""fit with checkpoints: resuming (mid-epoch, fused or not, after a real SIGKILL) is exact."""

import importlib.util
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.training.checkpoint import CheckpointError, CheckpointManager, load_checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = pathlib.Path(__file__).with_name("resumable_run.py")
_spec = importlib.util.spec_from_file_location("resumable_run", SCRIPT)
RUN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(RUN)


def data():
    rng = np.random.RandomState(1)
    x = rng.randn(60, 4).astype(np.float32)
    return x, (x[:, 0] > x[:, 2]).astype(np.int32)


def train(fused, checkpoint=None, every=None, max_steps=None, model=None, batch_size=6, key=3, rows=60):
    x, y = data()
    callbacks = [] if checkpoint is None else [fn.training.Checkpoint(checkpoint, every=every)]
    model = model or fn.Sequential(fn.Dense(8), fn.activations.relu, fn.Dense(2))
    return fn.fit(
        model,
        fn.losses.softmax_cross_entropy,
        optax.sgd(0.1, momentum=0.9),
        x[:rows],
        y[:rows],
        key=jax.random.key(key),
        epochs=3,
        batch_size=batch_size,
        fused=fused,
        stop=fn.training.StopRule(max_steps=max_steps),
        callbacks=callbacks,
    )


def assert_same_params(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


@pytest.mark.parametrize("fused", [False, True])
def test_resume_mid_epoch_equals_an_uninterrupted_run(tmp_path, fused):
    full = train(fused)
    part = train(fused, checkpoint=tmp_path, max_steps=14)  # stops in epoch 2 (10 steps each)
    assert part.steps == 14 and CheckpointManager(tmp_path).latest() == 14
    resumed = train(fused, checkpoint=tmp_path)
    assert resumed.steps == full.steps == 30
    assert int(resumed.state.step) == 30
    assert_same_params(resumed.state.params, full.state.params)
    assert_same_params(resumed.state.opt_state, full.state.opt_state)
    assert resumed.history["epoch"] == [1, 2, 3]
    # the epochs before the checkpoint come from the checkpoint's history
    assert resumed.history["loss"][0] == pytest.approx(full.history["loss"][0], rel=1e-6)


def test_checkpoint_every_n_steps_and_at_each_epoch(tmp_path):
    train(False, checkpoint=CheckpointManager(tmp_path / "a", keep=10), every=4)
    assert CheckpointManager(tmp_path / "a").steps() == [4, 8, 12, 16, 20, 24, 28, 30]
    train(True, checkpoint=CheckpointManager(tmp_path / "b", keep=10), every=4)
    assert CheckpointManager(tmp_path / "b").steps() == [10, 20, 30]  # fused: at epoch ends
    train(False, checkpoint=CheckpointManager(tmp_path / "c", keep=10))
    assert CheckpointManager(tmp_path / "c").steps() == [10, 20, 30]


def test_bad_checkpoint_options_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="Checkpoint: every must be a positive int, got 0"):
        train(False, checkpoint=tmp_path, every=0)
    with pytest.raises(TypeError, match="Checkpoint: directory must be a folder or CheckpointManager"):
        fn.training.Checkpoint(5)
    with pytest.raises(TypeError, match="callbacks must be fnnet.training.callbacks.Callback instances"):
        fn.fit(
            fn.Dense(2),
            fn.losses.softmax_cross_entropy,
            optax.sgd(0.1),
            *data(),
            key=jax.random.key(0),
            callbacks=[lambda epoch, state, logs: None],
        )


def test_resume_after_sigkill_of_a_real_training_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ckpt = tmp_path / "ckpt"

    def run(ckpt_dir, out, pause_at=0):
        cmd = [sys.executable, str(SCRIPT), str(ckpt_dir), str(out), "--pause-at", str(pause_at)]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    victim = run(ckpt, tmp_path / "never.fnnet", pause_at=15)  # sleeps after the save at 14
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and victim.poll() is None:
        steps = sorted(p.name for p in ckpt.glob("ckpt_*.safetensors"))  # read only, never write
        steps = [int(name[5:14]) for name in steps]
        if steps and steps[-1] >= 14:
            break
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, victim.stderr.read().decode()[-2000:]
    killed_at = CheckpointManager(ckpt).latest()
    assert killed_at == 14  # killed part-way, in the middle of epoch 2
    assert not (tmp_path / "never.fnnet").exists()

    resumed = run(ckpt, tmp_path / "resumed.fnnet")
    # the same run in this process, never interrupted
    uninterrupted = RUN.train(tmp_path / "fresh").state
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    assert out.decode().strip() == "done 40"
    state, _ = load_checkpoint(tmp_path / "resumed.fnnet", uninterrupted)
    assert int(state.step) == 40
    assert_same_params(state.params, uninterrupted.params)
    assert_same_params(state.opt_state, uninterrupted.opt_state)
    assert_same_params(jax.random.key_data(state.key), jax.random.key_data(uninterrupted.key))


def test_resuming_a_checkpoint_of_another_run_names_the_difference(tmp_path):
    saved = fn.Sequential(fn.Dense(8), fn.activations.relu, fn.Dropout(0.2), fn.Dense(2))
    train(False, checkpoint=tmp_path, max_steps=4, model=saved)
    same_shapes = fn.Sequential(fn.Dense(8), fn.activations.tanh, fn.Dropout(0.5), fn.Dense(2))
    with pytest.raises(CheckpointError, match=r"another model \(model\.layers\[1\]\.fn: 'relu' vs 'tanh'"):
        train(False, checkpoint=tmp_path, model=same_shapes)
    rate_only = fn.Sequential(fn.Dense(8), fn.activations.relu, fn.Dropout(0.5), fn.Dense(2))
    with pytest.raises(CheckpointError, match=r"layers\[2\]\.rate: 0\.2 vs 0\.5"):
        train(False, checkpoint=tmp_path, model=rate_only)
    with pytest.raises(
        CheckpointError, match="saved with batch_size 6, this fit has 12; resume with the same batch"
    ):
        train(False, checkpoint=tmp_path, model=saved, batch_size=12)
    with pytest.raises(CheckpointError, match="saved with training data size 60, this fit has 48"):
        train(False, checkpoint=tmp_path, model=saved, rows=48)
    with pytest.raises(CheckpointError, match="saved by a run with another key"):
        train(False, checkpoint=tmp_path, model=saved, key=4)
    assert train(False, checkpoint=tmp_path, model=saved).steps == 30  # the same run resumes
