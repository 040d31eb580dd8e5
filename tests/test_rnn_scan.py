"""The choice of formulation (``fnnet.layers._rnn_scan``) and the cells' projected step."""

import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import rnn as jax_rnn
from test_cudnn_lstm import _reference_kernel

import fnnet as fn
from fnnet.layers import _rnn_scan

F, H, B, T = 3, 5, 4, 6


@pytest.mark.parametrize(
    "backend,cell,dtype,want",
    [
        ("cpu", fn.LSTMCell(H), jnp.float32, "onednn"),  # the test extra installs oneDNN
        ("cpu", fn.GRUCell(H), jnp.float32, "onednn"),
        ("cpu", fn.GRUCell(H), jnp.bfloat16, "onednn"),  # on a CPU with AVX512-BF16 (as set below)
        ("cpu", fn.LSTMCell(H), jnp.float16, "fused"),
        ("cpu", fn.SimpleRNNCell(H), jnp.float32, "scan"),
        ("gpu", fn.LSTMCell(H), jnp.float32, "cudnn"),
        ("gpu", fn.LSTMCell(H), jnp.bfloat16, "scan"),  # JAX's cuDNN LSTM is float32 only
        ("gpu", fn.GRUCell(H), jnp.float32, "scan"),  # the fused path is tuned for XLA:CPU
        ("tpu", fn.LSTMCell(H), jnp.float32, "scan"),
    ],
)
def test_auto_picks_per_backend(monkeypatch, backend, cell, dtype, want):
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    monkeypatch.setattr(_rnn_scan._onednn.loader, "has_bf16", lambda: True)
    assert _rnn_scan.auto(cell, dtype) == want
    assert _rnn_scan.choose(fn.RNN(cell), dtype) is _rnn_scan.SCANS[want]


def test_auto_keeps_the_fused_scan_where_onednn_does_not_apply(monkeypatch):
    cell = fn.LSTMCell(H)
    assert _rnn_scan.auto(cell, jnp.float32, ragged=True) == "fused"  # oneDNN runs full lengths only
    assert _rnn_scan.choose(fn.RNN(cell), jnp.float32, ragged=True) is _rnn_scan.fused_scan
    monkeypatch.setattr(jax, "local_device_count", lambda: 2)  # the data-parallel step
    assert _rnn_scan.auto(cell, jnp.float32) == "fused"


def test_auto_runs_bfloat16_on_the_fused_scan_without_a_warning_where_the_cpu_lacks_avx512_bf16(monkeypatch):
    monkeypatch.setattr(_rnn_scan._onednn.loader, "has_bf16", lambda: False)
    monkeypatch.setattr(_rnn_scan, "_WARNED", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _rnn_scan.auto(fn.LSTMCell(H), jnp.bfloat16) == "fused"
    assert _rnn_scan.auto(fn.LSTMCell(H), jnp.float32) == "onednn"


def test_auto_without_the_extension_warns_once_what_to_install_and_runs_the_fused_scan(monkeypatch):
    reason = "oneDNN is not installed (pip install 'fnnet[onednn]')"
    monkeypatch.setattr(_rnn_scan._onednn, "unavailable_reason", lambda dtype: reason)
    monkeypatch.setattr(_rnn_scan, "_WARNED", set())
    rnn = fn.RNN(fn.GRUCell(H))
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    want = fn.RNN(fn.GRUCell(H), formulation="fused").apply(params, x)
    message = re.escape(f"RNN formulation 'auto' runs the fused scan instead of oneDNN: {reason}")
    with pytest.warns(RuntimeWarning, match=message) as record:
        got = rnn.apply(params, x)
        rnn.apply(params, x[:2])
    assert len(record) == 1
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_auto_on_a_gpu_runs_the_lstm_through_cudnn(monkeypatch):
    calls = []

    def kernel(*args, **kwargs):
        calls.append(kwargs)
        return _reference_kernel(*args, **kwargs)

    rnn = fn.RNN(fn.LSTMCell(H), bidirectional=True)
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    lengths = jnp.array([T, 2, 1, 4])
    want = fn.RNN(fn.LSTMCell(H), bidirectional=True, formulation="scan").run(params, x, lengths=lengths)
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(jax_rnn, "lstm", kernel)
    got = rnn.run(params, x, lengths=lengths)
    assert len(calls) == 2  # one per direction
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("formulation", ["concat", "split", "hoisted", "xla", None])
def test_unknown_and_removed_formulations_name_the_layer_value_and_choices(formulation):
    allowed = r"\('auto', 'scan', 'fused', 'cudnn', 'onednn'\)"
    with pytest.raises(ValueError, match=rf"RNN: formulation must be one of {allowed}, got {formulation!r}"):
        fn.RNN(fn.LSTMCell(H), formulation=formulation)
    with pytest.raises(ValueError, match=r"got RNN\(cell=LSTMCell\(hidden_size=5"):
        fn.RNN(fn.LSTMCell(H), formulation=formulation)


@pytest.mark.parametrize("cell_cls", [fn.SimpleRNNCell, fn.LSTMCell, fn.GRUCell])
def test_recur_on_projected_inputs_equals_the_raw_input_step(cell_cls):
    cell = cell_cls(H)
    params = cell.init(jax.random.key(0), F)
    xs = jax.random.normal(jax.random.key(1), (T, B, F))
    ps = cell.project(params, xs)  # [T, B, G*H]
    assert ps.shape == (T, B, cell.num_gates * H)
    carry = cell.zero_carry((B,))
    _, ys = jax.lax.scan(lambda c, p: cell.recur(params, c, p), carry, ps)
    for t in range(T):
        carry, y = cell(params, carry, xs[t])
        np.testing.assert_allclose(np.asarray(ys[t]), np.asarray(y), atol=1e-6)
