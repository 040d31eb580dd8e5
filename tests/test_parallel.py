"""Data-parallel fit over 8 forced host devices equals single-device training.

``--xla_force_host_platform_device_count`` must be set before jax starts, so the comparisons run
in a subprocess; it prints JSON that this test checks.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHILD = r"""
import json
import jax, numpy as np, optax
import fnnet as fn
from fnnet.training import parallel

assert jax.device_count() == 8, jax.devices()
rng = np.random.RandomState(0)
x = rng.randn(256, 10).astype(np.float32)
y = (x[:, :3].sum(1) > 0).astype(np.int32)
model = fn.Sequential(fn.Dense(32), fn.activations.tanh, fn.Dense(2))
out = {}
for fused in (False, True):
    for dp in (False, True):
        r = fn.fit(model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y,
                   key=jax.random.key(0), epochs=3, batch_size=32, fused=fused, data_parallel=dp)
        out[f"fused={fused},dp={dp}"] = {
            "loss": r.history["loss"],
            "kernel": np.asarray(r.state.params["2"]["kernel"]).tolist(),
            "devices": len(r.state.params["0"]["kernel"].sharding.device_set),
        }
try:
    fn.fit(model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y,
           key=jax.random.key(0), batch_size=12, data_parallel=True)
except ValueError as err:
    out["error"] = str(err)
mesh = parallel.data_mesh()
b = parallel.shard_batch(np.zeros((16, 3), np.float32), mesh)
out["batch_shards"] = sorted({tuple(s.data.shape) for s in b.addressable_shards})
try:
    parallel.shard_batch(np.zeros((6, 3)), mesh)
except ValueError as err:
    out["batch_error"] = str(err)
import re
from fnnet.training import init_train_state, make_step_fn
for cell in (fn.LSTMCell(8), fn.GRUCell(8)):  # the recurrent layers' hand-written backward
    rnn = fn.Sequential(fn.RNN(cell, return_sequences=False), fn.Dense(2))
    opt = optax.adam(1e-3)
    state = parallel.replicate(init_train_state(rnn, opt, jax.random.key(0), (5, 3)), mesh)
    batch = parallel.shard_batch((np.ones((16, 5, 3), np.float32), np.zeros(16, np.int32)), mesh)
    step = jax.jit(parallel.sharded_step(make_step_fn(rnn, fn.losses.softmax_cross_entropy, opt), mesh))
    hlo = step.lower(state, batch).compile().as_text()
    collectives = re.findall(r" (all-gather|all-reduce|all-to-all)(?:-start)?\(", hlo)
    out[type(cell).__name__] = sorted(set(collectives))
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def result():
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


@pytest.mark.parametrize("fused", [False, True])
def test_loss_trajectory_matches_single_device(result, fused):
    single, multi = result[f"fused={fused},dp=False"], result[f"fused={fused},dp=True"]
    assert single["devices"] == 1 and multi["devices"] == 8  # parameters replicated on all 8
    np.testing.assert_allclose(multi["loss"], single["loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(multi["kernel"], single["kernel"], rtol=1e-4, atol=1e-5)
    assert single["loss"][-1] < single["loss"][0]  # it trained


def test_batches_are_split_across_devices(result):
    assert result["batch_shards"] == [[2, 3]]


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell"])
def test_recurrent_gradients_are_reduced_not_gathered(result, cell):
    """Each device contracts its own sequences' residuals; only the gradients cross devices."""
    assert result[cell] == ["all-reduce"]


def test_indivisible_batches_get_clear_errors(result):
    assert "data_parallel needs batch_size divisible by the 8 devices, got 12" in result["error"]
    assert "batch size 6 must be divisible by the 8 devices" in result["batch_error"]


@pytest.mark.slow
def test_two_process_run_matches_single_device():
    """Two processes joined by jax.distributed (gloo on CPU), 2 devices each, as on two hosts."""
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    script = str(ROOT / "tests" / "multihost_run.py")
    procs = [
        subprocess.Popen(
            [sys.executable, script, f"localhost:{port}", "2", str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(next(x for x in out.splitlines() if x.startswith("RESULT"))[6:]))
    single = json.loads(
        subprocess.run(
            [sys.executable, "-c", SINGLE],
            env={**env, "XLA_FLAGS": ""},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout  # fmt: skip
    )
    assert [r["devices"] for r in results] == [4, 4]
    for r in results:
        np.testing.assert_allclose(r["loss"], single, rtol=1e-5)


SINGLE = """
import json, jax, numpy as np, optax, fnnet as fn
rng = np.random.RandomState(0)
x = rng.randn(256, 10).astype(np.float32)
y = (x[:, :3].sum(1) > 0).astype(np.int32)
model = fn.Sequential(fn.Dense(32), fn.activations.tanh, fn.Dense(2))
r = fn.fit(model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y,
           key=jax.random.key(0), epochs=3, batch_size=32)
print(json.dumps(r.history["loss"]))
"""
