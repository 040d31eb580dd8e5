"""The LSTM through cuDNN (``RNN(LSTMCell(H), formulation="cudnn")``), on NVIDIA GPUs only.

``jax.experimental.rnn.lstm`` calls cuDNN's fused RNN kernels, forward and backward. It takes one
flat weight vector in cuDNN's layout: ``W_ih [4H, F]``, ``W_hh [4H, H]``, ``b_ih [4H]``,
``b_hh [4H]``, each row-major, gates in the order i, f, g, o -- PyTorch's layout and fnnet's gate
order. ``cudnn_weights`` builds that vector from an ``LSTMCell``'s parameters (``b_hh`` is zero, as
fnnet keeps one bias), so the cuDNN path trains the same parameters as the scan formulations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike


def cudnn_weights(params: dict) -> jax.Array:
    """An ``LSTMCell``'s params as cuDNN's flat weight vector ``[4H*F + 4H*H + 8H]``.

    Args:
        params: ``{"input_kernel": [F, 4H], "recurrent_kernel": [H, 4H], "bias": [4H]}``.

    Returns:
        ``concat(W_ih.ravel(), W_hh.ravel(), b_ih, b_hh)`` with ``W_ih = input_kernel.T``,
        ``W_hh = recurrent_kernel.T``, ``b_ih = bias`` and ``b_hh = 0``.
    """
    bias = params["bias"]
    parts = [params["input_kernel"].T, params["recurrent_kernel"].T, bias, jnp.zeros_like(bias)]
    return jnp.concatenate([p.ravel() for p in parts])


def unavailable_reason(dtype: DTypeLike) -> str | None:
    """Why the cuDNN LSTM cannot run here, or None if it can.

    Args:
        dtype: the dtype of the sequences (JAX's cuDNN path supports float32 only).
    """
    backend = jax.default_backend()
    if backend != "gpu":
        return (
            f"formulation 'cudnn' needs an NVIDIA GPU (jax.experimental.rnn.lstm calls cuDNN); the "
            f"default backend here is {backend!r}, so use the default formulation"
        )
    if jnp.dtype(dtype) != jnp.float32:
        return f"formulation 'cudnn' supports float32 sequences only, got {jnp.dtype(dtype)}"
    return None


def lstm_cudnn(
    params: dict, carry: dict, xs: jax.Array, lengths: jax.Array | None
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """One forward LSTM layer over ``xs: [T, B, F]`` by cuDNN.

    Args:
        params: the ``LSTMCell``'s params.
        carry: the initial state ``{"h": [B, H], "c": [B, H]}``.
        xs: time-major inputs ``[T, B, F]``.
        lengths: ``[B]`` valid lengths in ``1..T``, or None for full-length sequences.

    Returns:
        ``(ys [T, B, H], {"h": [B, H], "c": [B, H]})``: outputs are zero past each sequence's length
        and the final state is the one at its last valid step.
    """
    from jax.experimental import rnn  # looked up per call (tests put a CPU reference in its place)

    T, B, F = xs.shape
    H = params["recurrent_kernel"].shape[0]
    seq_lengths = jnp.full((B,), T, jnp.int32) if lengths is None else lengths.astype(jnp.int32)
    y, h, c = rnn.lstm(
        jnp.swapaxes(xs, 0, 1),  # batch-first [B, T, F]
        carry["h"][None],
        carry["c"][None],
        cudnn_weights(params),
        seq_lengths,
        input_size=F,
        hidden_size=H,
        num_layers=1,
        dropout=0.0,
        bidirectional=False,
    )
    ys = jnp.swapaxes(y, 0, 1)  # [T, B, H]
    if lengths is not None:  # zero past each length whatever the kernel leaves there
        ys = jnp.where((jnp.arange(T)[:, None] < seq_lengths[None, :])[:, :, None], ys, 0)
    return ys, {"h": h[0], "c": c[0]}
