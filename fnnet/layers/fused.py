"""Whole-sequence LSTM and GRU scans with a hand-written backward pass (``formulation="fused"``).

Autodiff of a ``lax.scan`` accumulates the weight gradients step by step (``T`` small
``[F+H, B] @ [B, G*H]`` matmuls inside the reverse loop) and keeps the loop's residuals in its own
layout. Here the forward pass keeps the gate activations as residuals, and the backward pass is one
reverse scan that only propagates the state (``dz @ W_h^T`` per step); the weight and input
gradients are then big matmuls over all ``T * B`` rows, the way cuDNN and oneDNN organise it.

Both functions take time-major inputs and an optional ``mask [T, B]`` (the state is kept and the
output is zero where the mask is False), and match autodiff of the plain scan to rounding.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from fnnet.core import Array


def _add_bias(x: Array, b: Array) -> Array:
    return x + b[None, :]


def _keep(m: Array | None, new: Array, old: Array) -> Array:
    return new if m is None else jnp.where(m, new, old)


def _sum_over_steps(a: Array, b: Array) -> Array:
    """``sum_t a[t].T @ b[t]`` for ``a: [T, B, K]``, ``b: [T, B, N]``: one matmul contracting T and B.

    Written without merging T and B into one axis, so a batch sharded across devices stays sharded:
    each device contracts its own rows and XLA adds the partial sums (an all-reduce), where a reshape
    to ``[T*B, K]`` made it gather every device's residuals first.
    """
    return jnp.einsum("tbk,tbn->kn", a, b)


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def lstm_scan(
    wx: Array,
    wh: Array,
    b: Array,
    xs: Array,
    h0: Array,
    c0: Array,
    mask: Array | None,
    unroll: int = 1,
) -> tuple[Array, Array, Array]:
    """An LSTM over ``xs: [T, B, F]`` from ``(h0, c0): [B, H]``; gates i, f, g, o.

    Args:
        wx: ``[F, 4H]``; wh: ``[H, 4H]``; b: ``[4H]`` (the ``LSTMCell`` params).
        xs: time-major inputs ``[T, B, F]``.
        h0, c0: the initial state ``[B, H]``.
        mask: ``[T, B]`` bool, or None for full-length sequences.
        unroll: the scans' unroll factor.

    Returns:
        ``(ys [T, B, H], h [B, H], c [B, H])``.
    """
    (ys, h, c), _ = _lstm_fwd(wx, wh, b, xs, h0, c0, mask, unroll)
    return ys, h, c


def _lstm_fwd(wx, wh, b, xs, h0, c0, mask, unroll):
    H = wh.shape[0]
    w = jnp.concatenate([wx, wh], axis=0)  # [F+H, 4H]: one matmul per step, the fastest forward

    def body(carry, inp):
        h, c = carry
        x_t, m = inp
        z = _add_bias(jnp.concatenate([x_t, h], axis=1) @ w, b)  # [B, 4H]
        i, f, o = (jax.nn.sigmoid(z[:, k * H : (k + 1) * H]) for k in (0, 1, 3))
        g = jnp.tanh(z[:, 2 * H : 3 * H])
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        m = None if m is None else m[:, None]
        h2, c2 = _keep(m, h_new, h), _keep(m, c_new, c)
        # Residuals, one stacked array each: the gates, tanh(c'), and the incoming state.
        return (h2, c2), (h2, (i, f, g, o, tc, h, c))

    (h, c), (hs, res) = jax.lax.scan(body, (h0, c0), (xs, mask), unroll=unroll)
    ys = hs if mask is None else jnp.where(mask[:, :, None], hs, 0)
    return (ys, h, c), (wx, wh, xs, mask, res)


def _lstm_bwd(unroll, residuals, cotangents):
    wx, wh, xs, mask, res = residuals
    dys, dh, dc = cotangents
    whT = wh.T

    def body(carry, inp):
        dh, dc = carry
        dy, (i, f, g, o, tc, _, c_old), m = inp
        dh_pass: Array | int  # 0 where there is no mask: nothing passes the step by
        dc_pass: Array | int
        if m is not None:
            m = m[:, None]
            dh_new, dc_new = jnp.where(m, dh + dy, 0), jnp.where(m, dc, 0)
            dh_pass, dc_pass = jnp.where(m, 0, dh), jnp.where(m, 0, dc)
        else:
            dh_new, dc_new, dh_pass, dc_pass = dh + dy, dc, 0, 0
        dc_new = dc_new + dh_new * o * (1 - tc * tc)
        parts = [
            dc_new * g * i * (1 - i),
            dc_new * c_old * f * (1 - f),
            dc_new * i * (1 - g * g),
            dh_new * tc * o * (1 - o),
        ]
        dz = jnp.concatenate(parts, axis=1)  # [B, 4H]
        return (dh_pass + dz @ whT, dc_pass + dc_new * f), dz

    inputs = (dys, res, mask)
    (dh0, dc0), dzs = jax.lax.scan(body, (dh, dc), inputs, reverse=True, unroll=unroll)
    dwx = _sum_over_steps(xs, dzs)
    dwh = _sum_over_steps(res[5], dzs)  # the incoming h of every step
    dxs = jnp.matmul(dzs, wx.T)  # [T, B, F]
    return dwx, dwh, dzs.sum((0, 1)), dxs, dh0, dc0, None


lstm_scan.defvjp(_lstm_fwd, _lstm_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def gru_scan(
    wx: Array, wh: Array, b: Array, bh: Array, xs: Array, h0: Array, mask: Array | None, unroll: int = 1
) -> tuple[Array, Array]:
    """A GRU (PyTorch's variant, gates r, z, n) over ``xs: [T, B, F]`` from ``h0: [B, H]``.

    Args:
        wx: ``[F, 3H]``; wh: ``[H, 3H]``; b, bh: ``[3H]`` (the ``GRUCell`` params).
        xs: time-major inputs ``[T, B, F]``.
        h0: the initial state ``[B, H]``.
        mask: ``[T, B]`` bool, or None for full-length sequences.
        unroll: the scans' unroll factor.

    Returns:
        ``(ys [T, B, H], h [B, H])``.
    """
    (ys, h), _ = _gru_fwd(wx, wh, b, bh, xs, h0, mask, unroll)
    return ys, h


def _gru_fwd(wx, wh, b, bh, xs, h0, mask, unroll):
    H = wh.shape[0]

    def body(h, inp):
        x_t, m = inp
        a = _add_bias(x_t @ wx, b)  # [B, 3H]
        u = _add_bias(h @ wh, bh)
        r = jax.nn.sigmoid(a[:, :H] + u[:, :H])
        z = jax.nn.sigmoid(a[:, H : 2 * H] + u[:, H : 2 * H])
        u_n = u[:, 2 * H :]
        n = jnp.tanh(a[:, 2 * H :] + r * u_n)
        h_new = (1 - z) * n + z * h
        h2 = _keep(None if m is None else m[:, None], h_new, h)
        return h2, (h2, (r, z, n, u_n, h))

    h, (hs, res) = jax.lax.scan(body, h0, (xs, mask), unroll=unroll)
    ys = hs if mask is None else jnp.where(mask[:, :, None], hs, 0)
    return (ys, h), (wx, wh, xs, mask, res)


def _gru_bwd(unroll, residuals, cotangents):
    wx, wh, xs, mask, res = residuals
    dys, dh = cotangents
    whT = wh.T

    def body(dh, inp):
        dy, (r, z, n, u_n, h_old), m = inp
        dh_pass: Array | int  # 0 where there is no mask: nothing passes the step by
        if m is not None:
            m = m[:, None]
            dh_new, dh_pass = jnp.where(m, dh + dy, 0), jnp.where(m, 0, dh)
        else:
            dh_new, dh_pass = dh + dy, 0
        dn = dh_new * (1 - z) * (1 - n * n)
        dr = dn * u_n * r * (1 - r)
        dzg = dh_new * (h_old - n) * z * (1 - z)
        du = jnp.concatenate([dr, dzg, dn * r], axis=1)  # [B, 3H]
        da = jnp.concatenate([dr, dzg, dn], axis=1)
        return dh_pass + dh_new * z + du @ whT, (da, du)

    dh0, (das, dus) = jax.lax.scan(body, dh, (dys, res, mask), reverse=True, unroll=unroll)
    dwx = _sum_over_steps(xs, das)
    dwh = _sum_over_steps(res[4], dus)  # the incoming h of every step
    dxs = jnp.matmul(das, wx.T)  # [T, B, F]
    return dwx, dwh, das.sum((0, 1)), dus.sum((0, 1)), dxs, dh0, None


gru_scan.defvjp(_gru_fwd, _gru_bwd)
