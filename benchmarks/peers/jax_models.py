"""The four models written by hand in plain JAX (``lax.conv``, ``reduce_window``, ``scan``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from benchmarks.peers.common import CLASSES, FEATURES, HIDDEN, Built, Spec, jax_built


def _dense(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in), "b": jnp.zeros(n_out)}


def _affine(p, x):
    return x @ p["w"] + p["b"]


def _conv(p, x):  # x: [B, H, W, C], w: [3, 3, C, O] (HWIO)
    y = lax.conv_general_dilated(x, p["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"]


def _pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def _lstm_cell(p, carry, x_t):
    h, c = carry
    gates = x_t @ p["wi"] + h @ p["wh"] + p["b"]  # [B, 4H], order i, f, g, o
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), None


def _gru_cell(p, h, x_t):  # PyTorch's formulation: the reset gate scales W_hn h + b_hn
    gi = x_t @ p["wi"] + p["bi"]  # [B, 3H], order r, z, n
    gh = h @ p["wh"] + p["bh"]
    ir, iz, i_n = jnp.split(gi, 3, axis=-1)
    hr, hz, hn = jnp.split(gh, 3, axis=-1)
    r, z = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
    n = jnp.tanh(i_n + r * hn)
    return (1 - z) * n + z * h, None


def build(spec: Spec, abstract: bool = False) -> Built:
    """The hand-written JAX model and train step for ``spec`` (``abstract``: shapes only)."""
    apply, init = _model(spec)
    return jax_built(apply, init, spec, note="plain jax + optax, donated", abstract=abstract)


def _model(spec: Spec):
    """``(apply(params, x) -> logits, init(key) -> params)``."""

    def init(key):
        return _init(spec, jax.random.split(key, 4))

    if spec.model == "mlp":

        def apply(p, x):
            x = jax.nn.relu(_affine(p[0], x))
            return _affine(p[2], jax.nn.relu(_affine(p[1], x)))

    elif spec.model == "cnn":

        def apply(p, x):
            x = _pool(jax.nn.relu(_conv(p["c1"], x)))
            x = _pool(jax.nn.relu(_conv(p["c2"], x)))
            x = x.reshape(x.shape[0], -1)  # [B, 7*7*64]
            return _affine(p["d2"], jax.nn.relu(_affine(p["d1"], x)))

    else:

        def apply(p, x):
            xs = jnp.swapaxes(x, 0, 1)  # [T, B, F]: scan runs over the leading axis
            h = jnp.zeros((x.shape[0], HIDDEN), x.dtype)
            if spec.model == "lstm":
                (h, _), _ = lax.scan(lambda c, xt: _lstm_cell(p["cell"], c, xt), (h, h), xs)
            else:
                h, _ = lax.scan(lambda c, xt: _gru_cell(p["cell"], c, xt), h, xs)
            return _affine(p["out"], h)

    return apply, init


def _init(spec: Spec, keys):
    if spec.model == "mlp":
        params = [
            _dense(keys[0], 784, 512),
            _dense(keys[1], 512, 512),
            _dense(keys[2], 512, CLASSES),
        ]
    elif spec.model == "cnn":
        params = {
            "c1": {"w": jax.random.normal(keys[0], (3, 3, 1, 32)) / 3.0, "b": jnp.zeros(32)},
            "c2": {"w": jax.random.normal(keys[1], (3, 3, 32, 64)) / 17.0, "b": jnp.zeros(64)},
            "d1": _dense(keys[2], 7 * 7 * 64, 128),
            "d2": _dense(keys[3], 128, CLASSES),
        }
    else:
        gates = 4 if spec.model == "lstm" else 3
        cell = {
            "wi": jax.random.normal(keys[0], (FEATURES, gates * HIDDEN)) / jnp.sqrt(FEATURES),
            "wh": jax.random.normal(keys[1], (HIDDEN, gates * HIDDEN)) / jnp.sqrt(HIDDEN),
        }
        if spec.model == "lstm":
            cell["b"] = jnp.zeros(4 * HIDDEN)
        else:
            cell["bi"], cell["bh"] = jnp.zeros(3 * HIDDEN), jnp.zeros(3 * HIDDEN)
        params = {"cell": cell, "out": _dense(keys[2], HIDDEN, CLASSES)}
    return params
