"""The oneDNN LSTM and GRU as JAX functions: FFI calls under a ``jax.custom_vjp``.

``lstm`` and ``gru`` take oneDNN's own layout (``w_layer [F, G, H]``, ``w_iter [H, G, H]``,
``bias [4, H]``, gates in oneDNN's order); ``lstm_layer`` and ``gru_layer`` map an ``LSTMCell``'s or
``GRUCell``'s params to it in JAX, so autodiff carries the gradients back to fnnet's layout. The
forward pass of a differentiated call runs oneDNN's training forward, whose workspace (the gates of
every step) is a residual handed to the backward primitive; an undifferentiated call runs the
inference forward. Under ``vmap`` the calls run once per batch element (``vmap_method="sequential"``).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.layers._onednn import loader

_DNNL_TYPES = {jnp.dtype(jnp.float32): 3, jnp.dtype(jnp.bfloat16): 2}  # dnnl_data_type_t
_LSTM, _GRU = 0, 1
MIN_CHUNK = 8  # sequences per chunk: below it a chunk's matmuls get too thin to pay for a thread
_GRU_GATES = np.array([1, 0, 2])  # fnnet's r, z, n -> oneDNN's u (= z), r, n


def _sds(shape: tuple[int, ...], dtype: jnp.dtype) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(shape, dtype)


@functools.cache
def _workspace_bytes(cell: int, T: int, N: int, F: int, H: int, dtypes: tuple[jnp.dtype, ...]) -> int:
    """One chunk's training workspace in bytes; ``dtypes``: the data's, the LSTM's c state's, the bias's."""
    lib = loader.load()
    size = lib.fnnet_onednn_workspace_bytes(cell, T, N, F, H, *(_DNNL_TYPES[jnp.dtype(d)] for d in dtypes))
    if size < 0:
        shape = f"T={T} B={N} F={F} H={H} {jnp.dtype(dtypes[0])}"
        raise ValueError(f"oneDNN refused the RNN {shape}: {lib.fnnet_onednn_error().decode()}")
    return int(size)


def _call(name: str, outs: tuple, *args: jax.Array) -> tuple[jax.Array, ...]:
    loader.load()  # registers the targets
    return tuple(jax.ffi.ffi_call(name, outs, vmap_method="sequential")(*args))


def chunks(batch: int) -> int:
    """How many equal chunks of the batch run at once: the most, up to the CPUs this process may use,
    that leave at least ``MIN_CHUNK`` sequences each (1 for a small or indivisible batch)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    for s in range(min(cpus, batch // MIN_CHUNK), 1, -1):
        if batch % s == 0:
            return s
    return 1


def _forward(cell: int, train: bool, xs: jax.Array, *rest: jax.Array) -> tuple[jax.Array, ...]:
    S, T, n, F = xs.shape
    states, b = rest[:-3], rest[-1]
    H = states[0].shape[-1]
    outs = [_sds((S, T, n, H), xs.dtype), *(_sds(s.shape, s.dtype) for s in states)]
    name = f"fnnet_{'lstm' if cell == _LSTM else 'gru'}_{'train' if train else 'infer'}"
    if train:
        dtypes = (xs.dtype, states[-1].dtype, b.dtype)  # the last state is the LSTM's c (the GRU's h)
        _workspace_bytes(cell, T, n, F, H, dtypes)  # oneDNN takes this shape, or a clear error now
        outs.append(_sds((), jnp.uint32))  # the ticket of the workspace the backward takes back
    return _call(name, tuple(outs), xs, *rest)


def _backward(name: str, res: tuple[jax.Array, ...], cotangents: tuple[jax.Array, ...]) -> tuple:
    """The backward call (the weight gradients summed over the chunks inside it).

    oneDNN takes and gives every gradient in float32 (its rule for a bfloat16 RNN); they are cast back
    to the dtypes of the primal inputs.
    """
    primals = res[: len(cotangents) + 3]  # xs, the states, then wl, wi, b
    grads = _call(
        name,
        tuple(_sds(a.shape, jnp.float32) for a in primals),
        *res,
        *(c.astype(jnp.float32) for c in cotangents),
    )
    return tuple(g.astype(a.dtype) for g, a in zip(grads, primals, strict=True))


@jax.custom_vjp
def lstm(
    xs: jax.Array, h0: jax.Array, c0: jax.Array, wl: jax.Array, wi: jax.Array, b: jax.Array
) -> tuple[jax.Array, ...]:
    """One left-to-right LSTM layer by oneDNN: ``(ys [S, T, n, H], h [S, n, H], c [S, n, H])``.

    Args:
        xs: ``[S, T, n, F]``, the batch in ``S`` time-major chunks; h0, c0: ``[S, n, H]``;
            wl: ``[F, 4, H]``; wi: ``[H, 4, H]``; b: ``[4, H]`` (gates i, f, g, o). ``xs``, ``h0``,
            ``wl`` and ``wi`` float32 or bfloat16 alike; ``c0`` and ``b`` float32.
    """
    return _forward(_LSTM, False, xs, h0, c0, wl, wi, b)


def _lstm_fwd(xs, h0, c0, wl, wi, b):
    ys, h, c, ticket = _forward(_LSTM, True, xs, h0, c0, wl, wi, b)
    return (ys, h, c), (xs, h0, c0, wl, wi, b, ys, h, c, ticket)


def _lstm_bwd(res, cotangents):
    return _backward("fnnet_lstm_backward", res, cotangents)


lstm.defvjp(_lstm_fwd, _lstm_bwd)


@jax.custom_vjp
def gru(xs: jax.Array, h0: jax.Array, wl: jax.Array, wi: jax.Array, b: jax.Array) -> tuple[jax.Array, ...]:
    """One left-to-right linear-before-reset GRU layer by oneDNN: ``(ys [S, T, n, H], h [S, n, H])``.

    Args:
        xs: ``[S, T, n, F]``; h0: ``[S, n, H]``; wl: ``[F, 3, H]``; wi: ``[H, 3, H]`` (gates u, r, n);
            b: ``[4, H]`` (``b_u, b_r, b_n`` of the input side, then the recurrent ``b_n``). All float32
            or bfloat16 alike but ``b``, float32.
    """
    return _forward(_GRU, False, xs, h0, wl, wi, b)


def _gru_fwd(xs, h0, wl, wi, b):
    ys, h, ticket = _forward(_GRU, True, xs, h0, wl, wi, b)
    return (ys, h), (xs, h0, wl, wi, b, ys, h, ticket)


def _gru_bwd(res, cotangents):
    return _backward("fnnet_gru_backward", res, cotangents)


gru.defvjp(_gru_fwd, _gru_bwd)


def _split(xs: jax.Array, states: list[jax.Array]) -> tuple[jax.Array, list[jax.Array]]:
    """Time-major ``xs [T, B, F]`` and ``[B, H]`` states as ``S`` chunks: ``[S, T, n, F]``, ``[S, n, H]``."""
    T, B, F = xs.shape
    S = chunks(B)
    chunked = xs.reshape(T, S, B // S, F).transpose(1, 0, 2, 3)
    return chunked, [s.reshape(S, B // S, s.shape[-1]) for s in states]


def _join(ys: jax.Array, states: tuple[jax.Array, ...]) -> tuple[jax.Array, list[jax.Array]]:
    """The inverse of ``_split`` for the outputs: ``[T, B, H]`` and ``[B, H]`` states."""
    S, T, n, H = ys.shape
    return ys.transpose(1, 0, 2, 3).reshape(T, S * n, H), [s.reshape(S * n, -1) for s in states]


def lstm_layer(params: dict, carry: dict, xs: jax.Array) -> tuple[jax.Array, dict]:
    """An ``LSTMCell``'s layer over time-major ``xs: [T, B, F]`` by oneDNN; ``(ys, {"h", "c"})``.

    fnnet's layout is oneDNN's ``ldigo`` with the same gate order: the kernels only gain a gate axis.
    """
    F, GH = params["input_kernel"].shape
    H = GH // 4
    wl = params["input_kernel"].reshape(F, 4, H).astype(xs.dtype)  # [F, 4, H]
    wi = params["recurrent_kernel"].reshape(H, 4, H).astype(xs.dtype)
    b = params["bias"].reshape(4, H).astype(jnp.float32)  # oneDNN keeps bias and c in float32
    chunked, states = _split(xs, [carry["h"].astype(xs.dtype), carry["c"].astype(jnp.float32)])
    out = lstm(chunked, *states, wl, wi, b)
    ys, (h, c) = _join(out[0], out[1:])
    return ys, {"h": h, "c": c.astype(carry["c"].dtype)}


def gru_layer(params: dict, carry: dict, xs: jax.Array) -> tuple[jax.Array, dict]:
    """A ``GRUCell``'s layer over time-major ``xs: [T, B, F]`` by oneDNN; ``(ys, {"h"})``.

    oneDNN's gates are u, r, n (fnnet's z, r, n) and it keeps one bias per gate plus the recurrent
    ``b_n`` inside the reset product: ``[b_z + bh_z, b_r + bh_r, b_n, bh_n]``.
    """
    F, GH = params["input_kernel"].shape
    H = GH // 3
    wl = params["input_kernel"].reshape(F, 3, H)[:, _GRU_GATES].astype(xs.dtype)  # [F, 3, H]
    wi = params["recurrent_kernel"].reshape(H, 3, H)[:, _GRU_GATES].astype(xs.dtype)
    b = params["bias"].reshape(3, H).astype(jnp.float32)  # oneDNN keeps the bias in float32
    bh = params["recurrent_bias"].reshape(3, H).astype(jnp.float32)
    bias = jnp.stack([b[1] + bh[1], b[0] + bh[0], b[2], bh[2]])  # [4, H]
    chunked, states = _split(xs, [carry["h"].astype(xs.dtype)])
    out = gru(chunked, *states, wl, wi, bias)
    ys, (h,) = _join(out[0], out[1:])
    return ys, {"h": h}
