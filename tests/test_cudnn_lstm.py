"""The cuDNN LSTM formulation: its weight packing and wiring against PyTorch, its errors, its kernel.

cuDNN itself runs only on an NVIDIA GPU. On the CPU, the layer's whole cuDNN path (packing, batch-first
transposes, lengths, stacking, both directions, gradients) runs with JAX's own reference of the cuDNN
kernel's semantics (``jax.experimental.rnn.lstm_ref``) in the kernel's place, checked against PyTorch.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import rnn as jax_rnn
from test_recurrent import B, F, H, T, _setup, assert_matches_pytorch

import fnnet as fn
from fnnet.layers import cudnn

ON_GPU = jax.default_backend() == "gpu"


def _reference_kernel(x, h_0, c_0, weights, seq_lengths, *, input_size, hidden_size, num_layers, dropout,
                      bidirectional):  # fmt: skip
    """``jax.experimental.rnn.lstm``'s signature, computed by JAX's reference implementation."""
    unpacked = jax_rnn.unpack_lstm_weights(weights, input_size, hidden_size, num_layers, bidirectional)
    return jax_rnn.lstm_ref(
        x, h_0, c_0, *unpacked, seq_lengths, input_size, hidden_size, num_layers, dropout, bidirectional
    )


def test_cudnn_weights_unpack_to_pytorchs_layout():
    module, rnn, params = _setup(fn.LSTMCell, 1, False)
    flat = cudnn.cudnn_weights(params["0"]["forward"])
    w_ih, w_hh, b_ih, b_hh = jax_rnn.unpack_lstm_weights(flat, F, H, 1, False)
    torch_params = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    np.testing.assert_array_equal(np.asarray(w_ih[0]), torch_params["weight_ih_l0"])
    np.testing.assert_array_equal(np.asarray(w_hh[0]), torch_params["weight_hh_l0"])
    np.testing.assert_allclose(
        np.asarray(b_ih[0]), torch_params["bias_ih_l0"] + torch_params["bias_hh_l0"], rtol=1e-6
    )
    np.testing.assert_array_equal(np.asarray(b_hh[0]), np.zeros(4 * H, np.float32))


@pytest.mark.parametrize("num_layers,bidirectional,ragged", [(1, False, False), (2, True, True)])
def test_cudnn_path_matches_pytorch_with_the_reference_kernel(monkeypatch, num_layers, bidirectional, ragged):
    monkeypatch.setattr(cudnn, "unavailable_reason", lambda dtype: None)
    monkeypatch.setattr(jax_rnn, "lstm", _reference_kernel)
    module, _, params = _setup(fn.LSTMCell, num_layers, bidirectional)
    rnn = fn.RNN(fn.LSTMCell(H), num_layers=num_layers, bidirectional=bidirectional, formulation="cudnn")
    assert_matches_pytorch(module, rnn, params, np.array([T, 2, 1, 4]) if ragged else None, seed=3)


@pytest.mark.skipif(ON_GPU, reason="checks the error raised where there is no GPU")
def test_cudnn_formulation_without_a_gpu_says_so():
    rnn = fn.RNN(fn.LSTMCell(H), formulation="cudnn")
    _, params = rnn.init(jax.random.key(0), (T, F))
    message = r"RNN: formulation 'cudnn' needs an NVIDIA GPU .* backend here is 'cpu'"
    with pytest.raises(ValueError, match=message):
        rnn.apply(params, jnp.ones((B, T, F)))


def test_cudnn_formulation_errors_name_cell_and_dtype(monkeypatch):
    with pytest.raises(ValueError, match="'cudnn' is only available for LSTMCell, not GRUCell"):
        fn.RNN(fn.GRUCell(H), formulation="cudnn")
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert cudnn.unavailable_reason(jnp.float32) is None
    assert "float32 sequences only, got bfloat16" in cudnn.unavailable_reason(jnp.bfloat16)


@pytest.mark.skipif(not ON_GPU, reason="cuDNN runs only on an NVIDIA GPU")
def test_cudnn_kernel_matches_the_scan_on_gpu():
    kwargs = dict(num_layers=2, bidirectional=True)
    scan, fast = (fn.RNN(fn.LSTMCell(H), formulation=f, **kwargs) for f in ("fused", "cudnn"))
    _, params = scan.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    lengths = jnp.array([T, 2, 1, 4])

    def loss(model, p):
        y, state = model.run(p, x, lengths=lengths)
        return jnp.sum(y**2) + jnp.sum(state["c"]), y

    with jax.default_matmul_precision("highest"):
        (g_scan, y_scan), (g_fast, y_fast) = (
            jax.jit(jax.grad(lambda p, m=m: loss(m, p), has_aux=True))(params) for m in (scan, fast)
        )
    np.testing.assert_allclose(np.asarray(y_fast), np.asarray(y_scan), atol=1e-5)
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_scan), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4)
