"""Recurrent cells: ``SimpleRNNCell``, ``LSTMCell`` and ``GRUCell``.

A cell is a frozen dataclass of hyper-parameters whose call is a pure function of one time step,
``cell(params, carry, x_t) -> (carry, y_t)`` (the protocol of dm-haiku's recurrent cores). The
carry is a dict of ``[B, H]`` arrays: ``{"h"}`` for the simple RNN and the GRU, ``{"h", "c"}`` for
the LSTM.
``fnnet.layers.RNN`` runs a cell over a sequence with ``jax.lax.scan``.

Parameter layout (the names are the checkpoint format; ``G`` is the number of gates, stacked along
the last axis in PyTorch's order, so ``fnnet.interop.torch`` maps PyTorch weights losslessly):

* ``input_kernel``: ``[F, G*H]`` (PyTorch ``weight_ih.T``),
* ``recurrent_kernel``: ``[H, G*H]`` (PyTorch ``weight_hh.T``), orthogonal per gate by default,
* ``bias``: ``[G*H]`` (PyTorch ``bias_ih + bias_hh``; the GRU keeps ``bias_ih`` here),
* GRU only, ``recurrent_bias``: ``[3H]`` (PyTorch ``bias_hh``; its ``n`` part sits inside the reset
  gate).

Besides the reference step, each cell offers the pieces the scan's faster formulations use:
``prepare(params, formulation)`` makes per-sequence weights once (e.g. ``[x, h]``'s stacked kernel),
``project(params, xs)`` is the input projection of all steps at once, and
``step(weights, carry, inp, formulation)`` is one step in that formulation (``inp`` is ``x_t``, or
its projection for ``"hoisted"``).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from fnnet import activations, initializers
from fnnet.core import add_trailing
from fnnet.layers import cudnn, fused

FORMULATIONS = ("concat", "split", "hoisted", "fused", "cudnn")


def _matmul_bias(x, w, b):
    return add_trailing(jnp.matmul(x, w), b)


@dataclasses.dataclass(frozen=True)
class _Cell:
    """Shared parameter initialisation and formulations; subclasses define ``_finish``."""

    hidden_size: int
    kernel_init: object = initializers.glorot_uniform()
    recurrent_init: object = initializers.orthogonal()
    bias_init: object = initializers.zeros

    num_gates = 1
    carry_names = ("h",)
    default_formulation = "concat"

    def __post_init__(self):
        if not isinstance(self.hidden_size, int) or self.hidden_size < 1:
            raise ValueError(
                f"{type(self).__name__}: hidden_size must be a positive int, got {self.hidden_size!r}"
            )

    def init(self, key: jax.Array, input_size: int) -> dict:
        """Parameters for inputs with ``input_size`` features (layout in the module docstring)."""
        H, G = self.hidden_size, self.num_gates
        k_in, k_rec, k_bias = jax.random.split(key, 3)
        blocks = [self.recurrent_init(k, (H, H), jnp.float32) for k in jax.random.split(k_rec, G)]
        return {
            "input_kernel": self.kernel_init(k_in, (input_size, G * H), jnp.float32),
            "recurrent_kernel": jnp.concatenate(blocks, axis=1),  # [H, G*H], each gate orthogonal
            "bias": self.bias_init(k_bias, (G * H,), jnp.float32),
        }

    def zero_carry(self, batch_shape: tuple[int, ...], dtype=jnp.float32) -> dict:
        """The all-zero carry, ``{name: [*batch_shape, H]}``."""
        return {n: jnp.zeros((*batch_shape, self.hidden_size), dtype) for n in self.carry_names}

    def __call__(self, params: dict, carry: dict, x: jax.Array) -> tuple[dict, jax.Array]:
        """One time step: ``x: [B, F]``, carry ``{name: [B, H]}`` -> ``(new carry, y: [B, H])``."""
        return self.step(self.prepare(params, "split"), carry, x, "split")

    def prepare(self, params: dict, formulation: str) -> dict:
        """The weights ``step`` uses in ``formulation``, computed once per sequence."""
        if formulation == "concat":
            kernel = jnp.concatenate([params["input_kernel"], params["recurrent_kernel"]], axis=0)
            return {"kernel": kernel, "bias": params["bias"]}  # kernel: [F+H, G*H]
        return params

    def project(self, params: dict, xs: jax.Array) -> jax.Array:
        """The input projection of every step, ``xs: [..., F] -> [..., G*H]`` (bias included)."""
        return _matmul_bias(xs, params["input_kernel"], params["bias"])

    def step(self, weights: dict, carry: dict, inp: jax.Array, formulation: str):
        """One step in ``formulation`` (see the module docstring)."""
        h = carry["h"]
        if formulation == "concat":
            pre = _matmul_bias(jnp.concatenate([inp, h], axis=-1), weights["kernel"], weights["bias"])
        elif formulation == "split":
            pre = self.project(weights, inp) + jnp.matmul(h, weights["recurrent_kernel"])
        elif formulation == "hoisted":
            pre = inp + jnp.matmul(h, weights["recurrent_kernel"])
        else:
            raise ValueError(
                f"{type(self).__name__}: unknown formulation {formulation!r}, expected one of {FORMULATIONS}"
            )
        return self._finish(carry, pre)


@dataclasses.dataclass(frozen=True)
class SimpleRNNCell(_Cell):
    """Elman's simple recurrent cell: ``h' = activation(x @ W_x + h @ W_h + b)``; ``y = h'``.

    Args:
        hidden_size: ``H``, the size of the state.
        activation: the nonlinearity (default tanh; ``fnnet.activations.relu`` gives PyTorch's
            ``nonlinearity="relu"``).
        kernel_init, recurrent_init, bias_init: initialisers (Glorot uniform, orthogonal, zeros).

    Params: ``input_kernel [F, H]``, ``recurrent_kernel [H, H]``, ``bias [H]``.
    Carry: ``{"h": [B, H]}``.
    """

    activation: object = activations.tanh

    def _finish(self, carry, pre):
        h = self.activation(pre)
        return {"h": h}, h


@dataclasses.dataclass(frozen=True)
class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates in PyTorch's order i, f, g, o.

    With ``z = x @ W_x + h @ W_h + b`` split into four ``[B, H]`` blocks::

        i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
        c' = f * c + i * g
        h' = o * tanh(c')           y = h'

    Args:
        hidden_size: ``H``.
        forget_bias: initial value of the forget gate's bias (e.g. 1.0, Jozefowicz et al. 2015);
            0 by default.
        kernel_init, recurrent_init, bias_init: initialisers (Glorot uniform, orthogonal per
            gate, zeros).

    Params: ``input_kernel [F, 4H]``, ``recurrent_kernel [H, 4H]``, ``bias [4H]``.
    Carry: ``{"h": [B, H], "c": [B, H]}``.
    """

    forget_bias: float = 0.0

    num_gates = 4
    carry_names = ("h", "c")
    default_formulation = "fused"  # fastest measured on CPU (benchmarks/rnn_formulations.py)

    def fused_scan(self, params, carry, xs, mask, unroll=1):
        """The whole sequence ``xs: [T, B, F]`` with a hand-written backward (``layers.fused``).

        Returns:
            ``(ys [T, B, H], carry)``.
        """
        w = (params["input_kernel"], params["recurrent_kernel"], params["bias"])
        ys, h, c = fused.lstm_scan(*w, xs, carry["h"], carry["c"], mask, unroll)
        return ys, {"h": h, "c": c}

    def cudnn_scan(self, params, carry, xs, lengths):
        """The whole sequence ``xs: [T, B, F]`` by cuDNN (NVIDIA GPUs; ``layers.cudnn``).

        Returns:
            ``(ys [T, B, H], carry)``.
        """
        return cudnn.lstm_cudnn(params, carry, xs, lengths)

    def init(self, key, input_size):
        params = super().init(key, input_size)
        if self.forget_bias:
            H = self.hidden_size
            params["bias"] = params["bias"].at[H : 2 * H].add(self.forget_bias)
        return params

    def _finish(self, carry, pre):
        i, f, g, o = jnp.split(pre, 4, axis=-1)  # each [B, H]
        c = jax.nn.sigmoid(f) * carry["c"] + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return {"h": h, "c": c}, h


@dataclasses.dataclass(frozen=True)
class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's variant, gates r, z, n.

    With ``a = x @ W_x + b`` and ``u = h @ W_h + b_h`` split into three ``[B, H]`` blocks::

        r = sigmoid(a_r + u_r)   z = sigmoid(a_z + u_z)
        n = tanh(a_n + r * u_n)    # the reset gate acts on the hidden projection plus its bias
        h' = (1 - z) * n + z * h          y = h'

    Args:
        hidden_size: ``H``.
        kernel_init, recurrent_init, bias_init: initialisers (Glorot uniform, orthogonal per
            gate, zeros).

    Params: ``input_kernel [F, 3H]``, ``recurrent_kernel [H, 3H]``, ``bias [3H]``,
    ``recurrent_bias [3H]``.
    Carry: ``{"h": [B, H]}``.
    """

    num_gates = 3
    default_formulation = "fused"  # fastest measured on CPU (benchmarks/rnn_formulations.py)

    def fused_scan(self, params, carry, xs, mask, unroll=1):
        """The whole sequence ``xs: [T, B, F]`` with a hand-written backward (``layers.fused``).

        Returns:
            ``(ys [T, B, H], carry)``.
        """
        w = (
            params["input_kernel"],
            params["recurrent_kernel"],
            params["bias"],
            params["recurrent_bias"],
        )
        ys, h = fused.gru_scan(*w, xs, carry["h"], mask, unroll)
        return ys, {"h": h}

    def init(self, key, input_size):
        params = super().init(key, input_size)
        params["recurrent_bias"] = self.bias_init(
            jax.random.fold_in(key, 7), (3 * self.hidden_size,), jnp.float32
        )
        return params

    def prepare(self, params, formulation):
        if formulation != "concat":
            return params
        # One matmul of [x, h] with [[Wx_rz, Wx_n, 0], [Wh_rz, 0, Wh_n]]: [F+H, 4H].
        H = self.hidden_size
        wx, wh = params["input_kernel"], params["recurrent_kernel"]
        top = jnp.concatenate([wx, jnp.zeros((wx.shape[0], H), wx.dtype)], axis=1)
        bottom = jnp.concatenate([wh[:, : 2 * H], jnp.zeros((H, H), wh.dtype), wh[:, 2 * H :]], axis=1)
        b, bh = params["bias"], params["recurrent_bias"]
        bias = jnp.concatenate([b[: 2 * H] + bh[: 2 * H], b[2 * H :], bh[2 * H :]])
        return {"kernel": jnp.concatenate([top, bottom], axis=0), "bias": bias}

    def step(self, weights, carry, inp, formulation):
        h = carry["h"]
        if formulation == "concat":
            pre = _matmul_bias(jnp.concatenate([inp, h], axis=-1), weights["kernel"], weights["bias"])
            rz, a_n, u_n = jnp.split(pre, [2 * self.hidden_size, 3 * self.hidden_size], axis=-1)
        else:
            a = self.project(weights, inp) if formulation == "split" else inp
            if formulation not in FORMULATIONS:
                raise ValueError(
                    f"GRUCell: unknown formulation {formulation!r}, expected one of {FORMULATIONS}"
                )
            u = _matmul_bias(h, weights["recurrent_kernel"], weights["recurrent_bias"])
            a_rz, a_n = jnp.split(a, [2 * self.hidden_size], axis=-1)
            u_rz, u_n = jnp.split(u, [2 * self.hidden_size], axis=-1)
            rz = a_rz + u_rz
        r, z = jnp.split(jax.nn.sigmoid(rz), 2, axis=-1)
        n = jnp.tanh(a_n + r * u_n)
        h = (1 - z) * n + z * h
        return {"h": h}, h
