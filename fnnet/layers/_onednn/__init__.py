"""The LSTM and GRU through oneDNN's fused RNN primitives on the CPU (``formulation="onednn"``).

PyTorch's CPU LSTM and GRU run oneDNN's RNN primitive, which keeps the whole recurrence in one
multi-threaded kernel; an XLA scan runs its body one op at a time. This package calls the same
primitives from JAX: ``rnn.cc`` holds XLA FFI handlers for oneDNN's LSTM and linear-before-reset
GRU (PyTorch's GRU, fnnet's ``GRUCell``), forward (inference and training) and backward, compiled on
first use into a per-user cache (``build``), loaded and registered once per process (``loader``),
and wrapped as ``jax.custom_vjp`` functions whose residual is oneDNN's workspace (``ops``).

It needs the ``fnnet[onednn]`` extra and a C++ compiler; without them ``formulation="onednn"``
raises a ValueError saying what to install, and ``"auto"`` warns once and runs the fused scan. One
direction of one layer per call, float32 (and bfloat16 on a CPU with AVX512-BF16: oneDNN's bfloat16
kernels keep the bias, the LSTM's c state and every gradient in float32), full-length sequences; the
batch is split into equal chunks (``ops.chunks``) that run at once on the extension's own threads,
each single-threaded, and the backward sums their weight gradients. The training workspace stays in
the extension between the forward and the backward (a ticket is the residual), so XLA does not
allocate and page-fault it afresh in every step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from fnnet.layers._onednn import build, loader
from fnnet.layers._onednn.build import Unavailable
from fnnet.layers._onednn.ops import gru_layer, lstm_layer

__all__ = [
    "DTYPES",
    "NO_BF16",
    "Unavailable",
    "build",
    "gru_layer",
    "loader",
    "lstm_layer",
    "unavailable_reason",
]


DTYPES = (jnp.dtype(jnp.float32), jnp.dtype(jnp.bfloat16))  # bfloat16 where the CPU has AVX512-BF16
NO_BF16 = "formulation 'onednn' runs bfloat16 only on a CPU with AVX512-BF16 instructions, not this one"


def unavailable_reason(dtype: DTypeLike) -> str | None:
    """Why the oneDNN formulation cannot run sequences of ``dtype`` here, or None if it can.

    Builds the extension on the first call in a process (a few seconds once per user, then cached).

    Args:
        dtype: the dtype of the sequences (``DTYPES``: float32; bfloat16 on a CPU with AVX512-BF16).
    """
    backend = jax.default_backend()
    if backend != "cpu":
        return f"formulation 'onednn' runs on the CPU only; the default backend here is {backend!r}"
    dtype = jnp.dtype(dtype)
    if dtype not in DTYPES:
        names = " and ".join(str(d) for d in DTYPES)
        return f"formulation 'onednn' supports {names} sequences, got {dtype}"
    reason = loader.unavailable_reason()
    if reason is None and dtype == jnp.bfloat16 and not loader.has_bf16():
        return NO_BF16
    return reason
