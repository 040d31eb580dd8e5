"""Recurrent cells: ``SimpleRNNCell``, ``LSTMCell`` and ``GRUCell``, each written as its equations.

A cell is a frozen dataclass of hyper-parameters with pure functions:

* ``init(key, input_size) -> params``;
* ``project(params, xs) -> ps``: the input projection ``x @ W_x + b`` of any number of steps at once,
  ``[..., F] -> [..., G*H]`` (whether to hoist it out of a scan is a measured choice per backend);
* ``recur(params, carry, p_t) -> (carry, y_t)``: one step on a projected input ``p_t: [B, G*H]``, its
  gates fused into one ``h @ W_h`` matmul (the equations are in each cell's docstring);
* ``cell(params, carry, x_t) -> (carry, y_t)``: one step on a raw input ``x_t: [B, F]`` (the protocol
  of dm-haiku's recurrent cores), ``recur(params, carry, project(params, x_t))``.

The carry is a dict of ``[B, H]`` arrays: ``{"h"}`` for the simple RNN and the GRU, ``{"h", "c"}`` for
the LSTM. ``fnnet.layers.RNN`` runs a cell over sequences; ``fnnet.layers._rnn_scan`` chooses how.

Parameter layout (the names are the checkpoint format; ``G`` is the number of gates, stacked along
the last axis in PyTorch's order, so ``fnnet.interop.torch`` maps PyTorch weights losslessly):

* ``input_kernel``: ``[F, G*H]`` (PyTorch ``weight_ih.T``),
* ``recurrent_kernel``: ``[H, G*H]`` (PyTorch ``weight_hh.T``), orthogonal per gate by default,
* ``bias``: ``[G*H]`` (PyTorch ``bias_ih + bias_hh``; the GRU keeps ``bias_ih`` here),
* GRU only, ``recurrent_bias``: ``[3H]`` (PyTorch ``bias_hh``; its ``n`` part sits inside the reset
  gate).

Example:
    >>> cell = LSTMCell(64)
    >>> params = cell.init(jax.random.key(0), 32)
    >>> x_t, xs = jnp.ones((8, 32)), jnp.ones((5, 8, 32))          # one step [B, F]; T = 5 steps [T, B, F]
    >>> carry, y = cell(params, cell.zero_carry((8,)), x_t)        # x_t: [8, 32] -> y: [8, 64]
    >>> ps = cell.project(params, xs)                              # xs: [T, 8, 32] -> [T, 8, 256]
    >>> carry, ys = jax.lax.scan(lambda c, p: cell.recur(params, c, p), cell.zero_carry((8,)), ps)
    >>> y.shape, ps.shape, ys.shape, sorted(carry)
    ((8, 64), (5, 8, 256), (5, 8, 64), ['c', 'h'])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar

import jax
import jax.numpy as jnp

from fnnet import activations, initializers
from fnnet.core import add_trailing


def _matmul_bias(x: jax.Array, w: jax.Array, b: jax.Array) -> jax.Array:
    return add_trailing(jnp.matmul(x, w), b)


@dataclasses.dataclass(frozen=True)
class _Cell:
    """Shared initialisation, input projection and raw-input step; subclasses define ``recur``."""

    hidden_size: int
    kernel_init: initializers.Initializer = initializers.glorot_uniform()
    recurrent_init: initializers.Initializer = initializers.orthogonal()
    bias_init: initializers.Initializer = initializers.zeros

    num_gates: ClassVar[int] = 1
    carry_names: ClassVar[tuple[str, ...]] = ("h",)

    def __post_init__(self) -> None:
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

    def param_shapes(self, input_size: int) -> dict:
        """The shapes ``init`` gives for inputs with ``input_size`` features, ``{name: shape}``."""
        H, G = self.hidden_size, self.num_gates
        return {"input_kernel": (input_size, G * H), "recurrent_kernel": (H, G * H), "bias": (G * H,)}

    def zero_carry(self, batch_shape: tuple[int, ...], dtype: jnp.dtype | type = jnp.float32) -> dict:
        """The all-zero carry, ``{name: [*batch_shape, H]}``."""
        return {n: jnp.zeros((*batch_shape, self.hidden_size), dtype) for n in self.carry_names}

    def project(self, params: dict, xs: jax.Array) -> jax.Array:
        """The input projection of every step, ``xs: [..., F] -> [..., G*H]`` (bias included)."""
        return _matmul_bias(xs, params["input_kernel"], params["bias"])

    def recur(self, params: dict, carry: dict, p_t: jax.Array) -> tuple[dict, jax.Array]:
        """One step on the projected input ``p_t: [B, G*H]``: carry ``{name: [B, H]}`` -> ``(carry, y_t)``."""
        raise NotImplementedError

    def __call__(self, params: dict, carry: dict, x_t: jax.Array) -> tuple[dict, jax.Array]:
        """One step on a raw input ``x_t: [B, F]``: ``(new carry, y_t: [B, H])``."""
        return self.recur(params, carry, self.project(params, x_t))


@dataclasses.dataclass(frozen=True)
class SimpleRNNCell(_Cell):
    """Elman's simple recurrent cell.

    With ``p_t = x_t @ W_x + b``::

        h' = activation(p_t + h @ W_h)          y = h'

    Args:
        hidden_size: ``H``, the size of the state.
        activation: the nonlinearity (default tanh; ``fnnet.activations.relu`` gives PyTorch's
            ``nonlinearity="relu"``).
        kernel_init, recurrent_init, bias_init: initialisers (Glorot uniform, orthogonal, zeros).

    Params: ``input_kernel [F, H]``, ``recurrent_kernel [H, H]``, ``bias [H]``.
    Carry: ``{"h": [B, H]}``.
    """

    activation: Callable[[jax.Array], jax.Array] = activations.tanh

    def recur(self, params: dict, carry: dict, p_t: jax.Array) -> tuple[dict, jax.Array]:
        h = self.activation(p_t + jnp.matmul(carry["h"], params["recurrent_kernel"]))  # [B, H]
        return {"h": h}, h


@dataclasses.dataclass(frozen=True)
class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates in PyTorch's order i, f, g, o.

    With ``p_t = x_t @ W_x + b`` and ``z = p_t + h @ W_h`` split into four ``[B, H]`` blocks::

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

    num_gates: ClassVar[int] = 4
    carry_names: ClassVar[tuple[str, ...]] = ("h", "c")

    def init(self, key: jax.Array, input_size: int) -> dict:
        params = super().init(key, input_size)
        if self.forget_bias:
            H = self.hidden_size
            params["bias"] = params["bias"].at[H : 2 * H].add(self.forget_bias)
        return params

    def recur(self, params: dict, carry: dict, p_t: jax.Array) -> tuple[dict, jax.Array]:
        z = p_t + jnp.matmul(carry["h"], params["recurrent_kernel"])  # [B, 4H]
        i, f, g, o = jnp.split(z, 4, axis=-1)  # each [B, H]
        c = jax.nn.sigmoid(f) * carry["c"] + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return {"h": h, "c": c}, h


@dataclasses.dataclass(frozen=True)
class GRUCell(_Cell):
    """Gated recurrent unit (Cho et al. 2014) in PyTorch's variant, gates r, z, n.

    With ``a = p_t = x_t @ W_x + b`` and ``u = h @ W_h + b_h`` split into three ``[B, H]`` blocks::

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

    num_gates: ClassVar[int] = 3

    def init(self, key: jax.Array, input_size: int) -> dict:
        params = super().init(key, input_size)
        params["recurrent_bias"] = self.bias_init(
            jax.random.fold_in(key, 7), (3 * self.hidden_size,), jnp.float32
        )
        return params

    def param_shapes(self, input_size: int) -> dict:
        return {**super().param_shapes(input_size), "recurrent_bias": (3 * self.hidden_size,)}

    def recur(self, params: dict, carry: dict, p_t: jax.Array) -> tuple[dict, jax.Array]:
        h, H = carry["h"], self.hidden_size
        u = _matmul_bias(h, params["recurrent_kernel"], params["recurrent_bias"])  # [B, 3H]
        a_rz, a_n = jnp.split(p_t, [2 * H], axis=-1)  # [B, 2H], [B, H]
        u_rz, u_n = jnp.split(u, [2 * H], axis=-1)
        r, z = jnp.split(jax.nn.sigmoid(a_rz + u_rz), 2, axis=-1)
        n = jnp.tanh(a_n + r * u_n)
        h = (1 - z) * n + z * h
        return {"h": h}, h
