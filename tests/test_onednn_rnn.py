"""The LSTM and GRU through oneDNN (``formulation="onednn"``, ``fnnet.layers._onednn``).

Against PyTorch with copied weights (outputs, final states and every gradient, 1 and 2 layers, both
directions; bfloat16 to its rounding) and against fnnet's own fused scan (batches split into chunks
or not); under ``jit``, ``grad``, ``vmap``, donation, the fused epoch and the data-parallel step; and
the clear errors when the extension cannot be built. The test extra installs oneDNN, so the extension
is built (once per cache) in this suite.
"""

import itertools
import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from test_recurrent_torch import TORCH, _expected_param_grads, _torch_run

import fnnet as fn
from fnnet.interop.torch import rnn_from_torch
from fnnet.layers import _onednn
from fnnet.layers._onednn import ops

ROOT = pathlib.Path(__file__).resolve().parents[1]
CELLS = [fn.LSTMCell, fn.GRUCell]
F, H, T = 3, 5, 7


def test_the_extension_builds_here():
    assert _onednn.unavailable_reason(jnp.float32) is None
    assert _onednn.loader.version().startswith("3.2.")


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True), (1, True), (2, False)])
@pytest.mark.parametrize("cell_cls", CELLS)
def test_outputs_states_and_every_gradient_match_pytorch(cell_cls, num_layers, bidirectional):
    torch.manual_seed(0)
    B = 4
    module = TORCH[cell_cls](F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    rnn = fn.RNN(cell_cls(H), num_layers=num_layers, bidirectional=bidirectional, formulation="onednn")
    params = rnn_from_torch(module.state_dict(), rnn)
    rng = np.random.default_rng(1)
    LD = num_layers * len(rnn.directions)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    names = rnn.cell.carry_names
    state0 = {n: rng.normal(size=(B, LD, H)).astype(np.float32) for n in names}
    w_out = rng.normal(size=(B, T, rnn.output_size)).astype(np.float32)
    w_state = {n: rng.normal(size=(B, LD, H)).astype(np.float32) for n in names}
    t_out, t_state, t_grads = _torch_run(module, x, state0, np.full(B, T), w_out, w_state)

    def loss(p, x, s0):
        y, state = rnn.run(p, x, initial_state=s0)
        return jnp.sum(y * w_out) + sum(jnp.sum(state[n] * w_state[n]) for n in state), (y, state)

    grad_fn = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))
    (g_params, g_x, g_state), (y, state) = grad_fn(params, jnp.asarray(x), jax.tree.map(jnp.asarray, state0))
    close = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(np.asarray(y), t_out, **close, err_msg="outputs")
    for n in names:
        np.testing.assert_allclose(np.asarray(state[n]), t_state[n], **close, err_msg=f"final {n}")
        np.testing.assert_allclose(np.asarray(g_state[n]), t_grads["initial_state"][n], **close)
    np.testing.assert_allclose(np.asarray(g_x), t_grads["x"], **close, err_msg="d/dx")
    expected = _expected_param_grads(t_grads["params"], rnn)
    for layer, direction in itertools.product(expected, rnn.directions):
        got, want = g_params[layer][direction], expected[layer][direction]
        assert set(got) == set(want)
        for name in got:
            np.testing.assert_allclose(np.asarray(got[name]), want[name], **close, err_msg=f"{layer}/{name}")


@pytest.mark.parametrize("batch", [1, 17, 32])  # 32 runs as chunks of 16 on two or more cores
@pytest.mark.parametrize("cell_cls", CELLS)
def test_equals_the_fused_scan_whatever_the_chunks(cell_cls, batch):
    rnn = fn.RNN(cell_cls(16), bidirectional=True, formulation="onednn")
    fused = fn.RNN(cell_cls(16), bidirectional=True, formulation="fused")
    _, params = rnn.init(jax.random.key(0), (12, 6))
    x = np.random.default_rng(2).normal(size=(batch, 12, 6)).astype(np.float32)

    def loss(r):
        return lambda p, x: jnp.sum(jnp.sin(r.apply(p, x)))

    for got, want in zip(
        jax.tree.leaves(jax.jit(jax.value_and_grad(loss(rnn), (0, 1)))(params, x)),
        jax.tree.leaves(jax.jit(jax.value_and_grad(loss(fused), (0, 1)))(params, x)),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("cell_cls", CELLS)
def test_a_pullback_whose_workspace_is_gone_recomputes_it(cell_cls):
    """The training workspace stays in the extension under a ticket: a pullback called twice, or one
    called after more than 64 newer forwards pushed its workspace out, recomputes it (same grads)."""
    rnn = fn.RNN(cell_cls(16), formulation="onednn")
    fused = fn.RNN(cell_cls(16), formulation="fused")
    _, params = rnn.init(jax.random.key(0), (9, 4))
    x = np.random.default_rng(4).normal(size=(16, 9, 4)).astype(np.float32)
    want = jax.vjp(lambda p: fused.apply(p, x), params)[1](jnp.ones((16, 9, 16)))
    ys, pullback = jax.vjp(lambda p: rnn.apply(p, x), params)
    stale = jax.vjp(lambda p: rnn.apply(p, 2 * x), params)[1]
    for _ in range(70):  # more forwards than the extension keeps workspaces for
        jax.vjp(lambda p: rnn.apply(p, x), params)
    for pulled in (pullback, pullback, stale):
        got = pulled(jnp.ones_like(ys))
        if pulled is stale:
            want = jax.vjp(lambda p: fused.apply(p, 2 * x), params)[1](jnp.ones((16, 9, 16)))
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-5)


@pytest.mark.skipif(
    _onednn.unavailable_reason(jnp.bfloat16) is not None, reason="needs a CPU with AVX512-BF16 (none here)"
)
@pytest.mark.parametrize("cell_cls", CELLS)
def test_bfloat16_under_mixed_precision_matches_float32_pytorch_to_bfloat16_rounding(cell_cls):
    """bfloat16 compute (float32 parameters, ``fnnet.precision.Mixed``): outputs, final states and every
    gradient within bfloat16's rounding of PyTorch's float32 ones, and no further off than fnnet's own
    bfloat16 fused scan is (oneDNN accumulates and keeps every gradient in float32)."""
    torch.manual_seed(0)
    B, T_, F_, H_ = 16, 20, 8, 32
    module = TORCH[cell_cls](F_, H_, bidirectional=True, batch_first=True)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(B, T_, F_)).astype(np.float32)
    names = cell_cls(H_).carry_names
    state0 = {n: rng.normal(size=(B, 2, H_)).astype(np.float32) for n in names}
    w_out = rng.normal(size=(B, T_, 2 * H_)).astype(np.float32)
    w_state = {n: rng.normal(size=(B, 2, H_)).astype(np.float32) for n in names}
    t_out, t_state, t_grads = _torch_run(module, x, state0, np.full(B, T_), w_out, w_state)

    def errors(formulation):
        rnn = fn.RNN(cell_cls(H_), bidirectional=True, formulation=formulation)
        params = rnn_from_torch(module.state_dict(), rnn)

        def loss(p, x, s0):
            p, x, s0 = jax.tree.map(lambda a: a.astype(jnp.bfloat16), (p, x, s0))  # what Mixed does
            y, state = rnn.run(p, x, initial_state=s0)
            y, state = jax.tree.map(lambda a: a.astype(jnp.float32), (y, state))
            return jnp.sum(y * w_out) + sum(jnp.sum(state[n] * w_state[n]) for n in state), (y, state)

        grad_fn = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))
        (g_p, g_x, g_s), (y, state) = grad_fn(params, jnp.asarray(x), jax.tree.map(jnp.asarray, state0))
        expected = _expected_param_grads(t_grads["params"], rnn)
        pairs = {"outputs": (y, t_out), "d/dx": (g_x, t_grads["x"])}
        for n in names:
            pairs[f"final {n}"] = (state[n], t_state[n])
            pairs[f"d/d{n}0"] = (g_s[n], t_grads["initial_state"][n])
        for layer, direction in itertools.product(expected, rnn.directions):
            for name, want in expected[layer][direction].items():
                pairs[f"{layer}/{direction}/{name}"] = (g_p[layer][direction][name], want)
        assert all(np.asarray(got).dtype == np.float32 for got, _ in pairs.values())
        return {k: np.abs(np.asarray(a) - b).max() / np.abs(b).max() for k, (a, b) in pairs.items()}

    onednn, fused = errors("onednn"), errors("fused")
    for name, err in onednn.items():
        assert err < 2e-2, f"{name}: {err:.3g} of its largest value off PyTorch's float32"
        assert err <= 1.5 * fused[name] + 2e-3, f"{name}: oneDNN {err:.3g}, the fused scan {fused[name]:.3g}"


def test_chunks_split_the_batch_evenly_over_the_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)))
    assert [ops.chunks(b) for b in (1, 8, 16, 24, 32, 33, 64, 100)] == [1, 1, 2, 3, 4, 3, 4, 4]


def test_vmap_over_an_extra_batch_axis_and_per_example_gradients():
    rnn = fn.Sequential(fn.RNN(fn.LSTMCell(8), return_sequences=False, formulation="onednn"), fn.Dense(1))
    _, params = rnn.init(jax.random.key(0), (5, 3))
    x = np.random.default_rng(3).normal(size=(6, 2, 5, 3)).astype(np.float32)

    def loss(p, xb):
        return jnp.sum(rnn.apply(p, xb) ** 2)

    got = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0)))(params, x)
    for i in range(x.shape[0]):
        want = jax.grad(loss)(params, x[i])
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell_cls", CELLS)
def test_fit_trains_with_donation_and_the_fused_epoch_as_the_fused_scan_does(cell_cls):
    rng = np.random.RandomState(0)
    x = rng.randn(96, 10, 3).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.int32)
    histories = {}
    for form, fused_epoch in (("onednn", True), ("onednn", False), ("fused", True)):
        model = fn.Sequential(fn.RNN(cell_cls(16), return_sequences=False, formulation=form), fn.Dense(2))
        r = fn.fit(
            model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y,
            key=jax.random.key(0), epochs=8, batch_size=32, fused=fused_epoch,
        )  # fmt: skip
        histories[form, fused_epoch] = r.history["loss"]
    assert histories["onednn", True][-1] < 0.6 * histories["onednn", True][0]  # it learns
    for h in (histories["onednn", False], histories["fused", True]):
        np.testing.assert_allclose(histories["onednn", True], h, rtol=1e-4)


DATA_PARALLEL = r"""
import json, jax, numpy as np, optax
import fnnet as fn
rng = np.random.RandomState(0)
x = rng.randn(64, 6, 3).astype(np.float32)
y = (x[:, :, 0].sum(1) > 0).astype(np.int32)
out = {"devices": jax.device_count()}
for dp in (False, True):
    model = fn.Sequential(fn.RNN(fn.LSTMCell(8), return_sequences=False, formulation="onednn"), fn.Dense(2))
    r = fn.fit(model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y, key=jax.random.key(0),
               epochs=2, batch_size=16, data_parallel=dp)
    out[f"dp={dp}"] = r.history["loss"]
print(json.dumps(out))
"""


def test_the_data_parallel_step_on_forced_host_devices_agrees_with_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", DATA_PARALLEL], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2
    np.testing.assert_allclose(out["dp=True"], out["dp=False"], rtol=1e-5)


FALLBACK = r"""
import jax, numpy as np
import fnnet as fn
x = np.ones((2, 3, 2), np.float32)
rnn = fn.RNN(fn.GRUCell(4), num_layers=2)
_, params = rnn.init(jax.random.key(0), (3, 2))
print("auto", rnn.apply(params, x).shape)  # the default keeps working without the extension
rnn.apply(params, x[:1])  # and warns only once
try:
    fn.RNN(fn.GRUCell(4), num_layers=2, formulation="onednn").apply(params, x)
except ValueError as err:
    print("error", err)
"""


def test_without_a_compiler_onednn_is_a_clear_error_and_nothing_else_changes(tmp_path):
    env = {**os.environ, "CXX": "no-such-c++", "FNNET_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "auto (2, 3, 4)" in done.stdout
    reason = "no C++ compiler 'no-such-c++' found (set CXX or install g++) to build it"
    assert f"error RNN: {reason}; got RNN(" in done.stdout
    warned = [line for line in done.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warned) == 1  # once per process, saying what to install
    assert warned[0].endswith(f"RNN formulation 'auto' runs the fused scan instead of oneDNN: {reason}")
    assert not list(tmp_path.rglob("*.so"))


def test_without_onednn_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(_onednn.build, "_package_file", lambda dist, suffix: None)
    monkeypatch.delenv("FNNET_ONEDNN_ROOT", raising=False)
    with pytest.raises(_onednn.Unavailable, match=r"oneDNN is not installed .*pip install 'fnnet\[onednn\]'"):
        _onednn.build.find_onednn()


def test_ragged_lengths_and_other_dtypes_name_the_layer_and_the_way_out(monkeypatch):
    rnn = fn.RNN(fn.LSTMCell(4), formulation="onednn")
    _, params = rnn.init(jax.random.key(0), (3, 2))
    x = np.ones((2, 3, 2), np.float32)
    with pytest.raises(ValueError, match="formulation 'onednn' runs full-length sequences only; use 'fused'"):
        rnn.apply(params, x, lengths=np.array([3, 2]))
    half = jax.tree.map(lambda a: a.astype(jnp.float16), params)
    with pytest.raises(ValueError, match="RNN: formulation 'onednn' supports float32 and bfloat16 sequences"):
        rnn.apply(half, x.astype(jnp.float16))
    monkeypatch.setattr(_onednn.loader, "has_bf16", lambda: False)
    bf16 = jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)
    with pytest.raises(ValueError, match="RNN: formulation 'onednn' runs bfloat16 only on a CPU with AVX512"):
        rnn.apply(bf16, x.astype(jnp.bfloat16))
    xs, h0 = jnp.ones((1, 3, 2, 2)), jnp.ones((1, 2, 4))  # ops.lstm directly, with a bfloat16 bias
    weights = (jnp.ones((2, 4, 4)), jnp.ones((4, 4, 4)), jnp.ones((4, 4), jnp.bfloat16))
    with pytest.raises(Exception, match="oneDNN RNN: the bias and the LSTM's c state must be float32"):
        jax.block_until_ready(ops.lstm(xs, h0, h0, *weights))
    with pytest.raises(ValueError, match="formulation 'onednn' is only available for LSTMCell and GRUCell"):
        fn.RNN(fn.SimpleRNNCell(4), formulation="onednn")


def test_the_build_is_cached_by_source_jaxlib_onednn_and_compiler(tmp_path, monkeypatch):
    monkeypatch.setenv("FNNET_CACHE_DIR", str(tmp_path))
    first = _onednn.build.library_path()
    assert first.parent == tmp_path / "onednn" and first.exists()
    assert _onednn.build.library_path() == first  # cached: no second compile
    monkeypatch.setattr(_onednn.build, "_key", lambda cxx, version: "other")
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(_onednn.build.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    assert _onednn.build.library_path().name == "fnnet_onednn_other.so" and len(calls) == 1
