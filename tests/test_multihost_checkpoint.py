"""Checkpoints in a two-process run (jax.distributed on localhost): one writer, kill, resume, exact."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np

from fnnet.training.checkpoint import CheckpointManager

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "multihost_checkpoint_run.py"


def start(ckpt_dir, out, pause_at=0):
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    return [
        subprocess.Popen(
            [
                sys.executable,
                str(SCRIPT),
                f"localhost:{port}",
                "2",
                str(i),
                str(ckpt_dir),
                str(out),
                "--pause-at",
                str(pause_at),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]


def finish(procs):
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert out.strip().endswith("done 24"), out


def test_two_processes_killed_and_resumed_end_with_the_uninterrupted_parameters(tmp_path):
    ckpt = tmp_path / "ckpt"
    victims = start(ckpt, tmp_path / "never.npz", pause_at=11)  # sleeps after the save at step 8
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and all(p.poll() is None for p in victims):
        if ckpt.exists() and 8 in CheckpointManager(ckpt).steps():
            break
        time.sleep(0.05)
    time.sleep(0.5)  # let them reach the pause: no checkpoint after step 8 can be written before 12
    for proc in victims:
        proc.send_signal(signal.SIGKILL)
    for proc in victims:
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-3000:]
    assert CheckpointManager(ckpt).steps() == [4, 8]  # one writer: no clash, no stray temporary file
    assert not list(ckpt.glob(".*.tmp"))

    finish(start(ckpt, tmp_path / "resumed.npz"))
    finish(start(tmp_path / "fresh", tmp_path / "uninterrupted.npz"))
    resumed, uninterrupted = np.load(tmp_path / "resumed.npz"), np.load(tmp_path / "uninterrupted.npz")
    assert sorted(resumed.files) == sorted(uninterrupted.files) and len(resumed.files) == 5
    for name in resumed.files:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name])
