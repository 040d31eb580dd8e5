"""``RNN``: a recurrent cell run over ``[B, T, F]`` sequences.

Stacking, bidirectional runs, variable lengths, given / zero / learned initial states and an unroll
factor are options of one layer, so a padded batch of sequences needs no hand-written masking. This
module does what surrounds the time loop (batch axes, lengths, initial states, directions, stacking
with dropout, merging, final states); how one direction of one layer runs over time, and the choice
among formulations, is ``fnnet.layers._rnn_scan``'s alone.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.core import Array, Layer, Params, Shape, ShapeError, check_params, format_shape
from fnnet.layers import _rnn_scan
from fnnet.layers.cells import GRUCell, LSTMCell, SimpleRNNCell


def _is_concrete(x: object) -> bool:
    return not isinstance(x, jax.core.Tracer)


def reverse_in_time(xs: jax.Array, lengths: jax.Array | None) -> jax.Array:
    """Reverse each sequence of ``xs: [T, B, ...]`` within its valid length (padding stays put).

    Args:
        xs: a time-major batch ``[T, B, ...]``.
        lengths: ``[B]`` valid lengths, or None for full-length sequences.

    Returns:
        ``[T, B, ...]`` with ``out[t, b] = xs[lengths[b] - 1 - t, b]`` for ``t < lengths[b]``.
    """
    if lengths is None:
        return jnp.flip(xs, axis=0)
    t = jnp.arange(xs.shape[0])[:, None]  # [T, 1]
    index = jnp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)  # [T, B]
    index = index.reshape(index.shape + (1,) * (xs.ndim - 2))
    return jnp.take_along_axis(xs, index, axis=0)


@dataclasses.dataclass(frozen=True)
class RNN(Layer):
    """Runs a recurrent cell over batch-major sequences ``[B, T, F]`` (any number of batch axes).

    Args:
        cell: a ``SimpleRNNCell``, ``LSTMCell`` or ``GRUCell`` (its ``hidden_size`` is ``H``).
        return_sequences: return every step's output ``[..., T, D*H]``; if False, return the top
            layer's final hidden state ``[..., D*H]`` (for a forward run, the output at each
            sequence's last valid step; with ``bidirectional``, the backward direction's state after
            reading the whole sequence).
        num_layers: the number of stacked layers; layer ``k+1`` reads layer ``k``'s outputs.
        bidirectional: also run each layer backwards in time; ``D = 2`` when ``merge="concat"``.
        merge: how the two directions combine, ``"concat"`` (``[forward, backward]``) or ``"sum"``.
        reverse: run a one-directional layer from the last valid step to the first.
        dropout_rate: dropout on the outputs between stacked layers when training (needs a ``key``).
        initial_state: ``"zero"`` or ``"learned"`` (a parameter per layer and direction); a state
            passed to ``apply`` overrides either.
        unroll: the ``lax.scan`` unroll factor (does not change results).
        formulation: how one direction of a layer runs over time, a performance choice that does not
            change the function (``fnnet.layers._rnn_scan``): ``"auto"`` (default) picks per backend,
            ``"onednn"`` on CPU for a float32 (with AVX512-BF16 also bfloat16) LSTM or GRU on
            full-length sequences in a one-device process when the extension is built, else
            ``"fused"`` for the LSTM and GRU on CPU,
            ``"cudnn"`` on a GPU for a float32 LSTM and ``"scan"`` otherwise; ``"scan"`` is the
            reference, a ``lax.scan`` of the cell's step
            ``cell(params, carry, x_t)`` differentiated by autodiff; ``"fused"`` (LSTM, GRU) has
            a hand-written backward pass (``fnnet.layers.fused``); ``"cudnn"`` (LSTM on an NVIDIA
            GPU, float32, ``unroll`` ignored) calls cuDNN's kernels (``fnnet.layers.cudnn``);
            ``"onednn"`` (LSTM and GRU on the CPU, float32 or bfloat16, full-length sequences,
            ``unroll`` ignored) calls oneDNN's (the ``fnnet[onednn]`` extra; built on first use).

    ``apply(params, x, *, lengths=None, initial_state=None, key=None, training=False)``: ``x`` is
    promoted with the kernels' dtype, as a ``Dense`` layer's input is (bfloat16 or integer inputs to
    float32 parameters compute in float32).
    ``lengths [...]`` gives each sequence's valid length in ``1..T``: the state stops changing after
    it, outputs past it are zero and the final state is the one at the last valid step. Lengths
    whose values are known (not traced) outside ``1..T`` raise a ShapeError; under ``jit`` they cannot
    be checked and are clamped to ``0..T``: a length above ``T`` runs the whole sequence, one of 0 or
    below is an empty sequence (zero outputs, final state = initial state), finite with finite
    gradients on every formulation.
    ``initial_state`` has the layout of the final state ``run`` returns. ``run(...)`` returns
    ``(outputs, final_state)`` where ``final_state = {name: [..., num_layers * D, H]}`` (``name`` in
    ``h``, and ``c`` for the LSTM), ordered layer by layer, forward before backward, as PyTorch's
    ``h_n`` but batch-major.

    Params: ``{"0": {"forward": cell params, "backward": cell params}, "1": ...}`` per layer
    (``"forward"`` only, or ``"backward"`` only when ``reverse``, without ``bidirectional``); with
    ``initial_state="learned"`` each direction also holds ``"initial_state": {name: [H]}``.

    Example:
        >>> model = fnnet.Sequential(RNN(LSTMCell(128), return_sequences=False), fnnet.Dense(10))
        >>> out_shape, params = model.init(jax.random.key(0), (100, 32))
        >>> out_shape, model.apply(params, jnp.ones((4, 100, 32))).shape
        ((10,), (4, 10))
    """

    cell: SimpleRNNCell | LSTMCell | GRUCell
    return_sequences: bool = True
    num_layers: int = 1
    bidirectional: bool = False
    merge: str = "concat"
    reverse: bool = False
    dropout_rate: float = 0.0
    initial_state: str = "zero"
    unroll: int = 1
    formulation: str = "auto"

    def __post_init__(self) -> None:
        if not hasattr(self.cell, "carry_names"):
            raise TypeError(f"RNN: cell must be a recurrent cell such as LSTMCell(64), got {self.cell!r}")
        checks = [
            (
                isinstance(self.num_layers, int) and self.num_layers >= 1,
                "num_layers must be a positive int",
            ),
            (self.merge in ("concat", "sum"), "merge must be 'concat' or 'sum'"),
            (0.0 <= self.dropout_rate < 1.0, "dropout_rate must be in [0, 1)"),
            (
                self.initial_state in ("zero", "learned"),
                "initial_state must be 'zero' or 'learned'",
            ),
            (isinstance(self.unroll, int) and self.unroll >= 1, "unroll must be a positive int"),
            (
                not (self.reverse and self.bidirectional),
                "use bidirectional=True or reverse=True, not both",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"RNN: {message}; got {self!r}")
        _rnn_scan.check(self)

    @property
    def directions(self) -> tuple[str, ...]:
        """The names of the directions each layer runs, as in the params."""
        if self.bidirectional:
            return ("forward", "backward")
        return ("backward",) if self.reverse else ("forward",)

    @property
    def output_size(self) -> int:
        """The size of the output's last axis, ``D * H``."""
        H = self.cell.hidden_size
        return 2 * H if self.bidirectional and self.merge == "concat" else H

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        if len(in_shape) != 2:
            raise ShapeError(self, f"expected a per-example sequence [T, F], got {format_shape(in_shape)}")
        T, size = in_shape
        params: dict[str, dict] = {}
        for layer in range(self.num_layers):
            params[str(layer)] = {}
            for d, name in enumerate(self.directions):
                p = self.cell.init(jax.random.fold_in(key, 2 * layer + d), size)
                if self.initial_state == "learned":
                    p["initial_state"] = self.cell.zero_carry(())
                params[str(layer)][name] = p
            size = self.output_size
        return ((T, self.output_size) if self.return_sequences else (self.output_size,)), params

    def apply(
        self,
        params: Params,
        x: Array,
        *,
        key: Array | None = None,
        training: bool = False,
        lengths: Array | None = None,
        initial_state: dict | None = None,
    ) -> Array:
        return self.run(params, x, key=key, training=training, lengths=lengths, initial_state=initial_state)[
            0
        ]

    def run(
        self,
        params: Params,
        x: Array,
        *,
        key: Array | None = None,
        training: bool = False,
        lengths: Array | None = None,
        initial_state: dict | None = None,
    ) -> tuple[Array, dict]:
        """Like ``apply`` but returns ``(outputs, final_state)`` (layouts in the class doc)."""
        self._check_params(params, x)
        batch = tuple(x.shape[:-2])
        xs = self._time_major(params, x)  # [T, B, F], promoted with the kernels' dtype
        T, B = xs.shape[:2]
        if lengths is not None:
            # Known values were refused outside 1..T; traced ones are clamped, as the class doc says.
            lengths = jnp.clip(self._check_lengths(jnp.asarray(lengths), batch, T).reshape(B), 0, T)
        given = self._check_initial_state(initial_state, batch, B)
        if training and self.dropout_rate > 0 and self.num_layers > 1 and key is None:
            raise ValueError(f"{self!r}: dropout between layers needs a key when training")
        scan = _rnn_scan.choose(self, xs.dtype, ragged=lengths is not None)
        finals = []
        for layer in range(self.num_layers):
            p = params[str(layer)]
            carries = self._initial_carries(p, given, layer, B, xs.dtype)
            xs, carries = self._layer(scan, p, carries, xs, lengths)  # [T, B, D*H]
            finals += carries
            if training and self.dropout_rate > 0 and layer < self.num_layers - 1:
                assert key is not None  # refused above: dropout between layers needs a key
                xs = self._dropout(xs, jax.random.fold_in(key, layer))
        return self._outputs(xs, finals, batch)

    def _layer(
        self, scan: _rnn_scan.Scan, params: dict, carries: list[dict], xs: Array, lengths: Array | None
    ) -> tuple[Array, list[dict]]:
        """Every direction of one layer over ``xs: [T, B, F]``; ``(merged [T, B, D*H], final carries)``."""
        outs, finals = [], []
        for name, carry in zip(self.directions, carries, strict=True):
            backward = name == "backward"  # runs from each sequence's last valid step to its first
            inputs = reverse_in_time(xs, lengths) if backward else xs
            ys, carry = scan(self.cell, params[name], carry, inputs, lengths, self.unroll)  # [T, B, H]
            outs.append(reverse_in_time(ys, lengths) if backward else ys)
            finals.append(carry)
        return self._merge(outs), finals

    def _initial_carries(
        self, params: dict, given: dict[str, Array] | None, layer: int, B: int, dtype: jnp.dtype | type
    ) -> list[dict]:
        """Each direction's initial carry ``{name: [B, H]}``: given, else learned, else zero."""
        carries = []
        for d, name in enumerate(self.directions):
            if given is not None:
                carries.append({n: a[:, layer * len(self.directions) + d] for n, a in given.items()})
            elif self.initial_state == "learned":
                learned = params[name]["initial_state"]
                carries.append(
                    {n: jnp.broadcast_to(v.astype(dtype), (B, v.shape[0])) for n, v in learned.items()}
                )
            else:
                carries.append(self.cell.zero_carry((B,), dtype))
        return carries

    def _dropout(self, xs: Array, key: Array) -> Array:
        keep = jax.random.bernoulli(key, 1 - self.dropout_rate, xs.shape)
        return jnp.where(keep, xs / (1 - self.dropout_rate), 0)

    def _merge(self, outs: list[Array]) -> Array:
        if len(outs) == 1:
            return outs[0]
        return jnp.concatenate(outs, axis=-1) if self.merge == "concat" else outs[0] + outs[1]

    def _outputs(self, xs: Array, finals: list[dict], batch: Shape) -> tuple[Array, dict]:
        """``(y, final_state)`` from the top layer's ``xs: [T, B, D*H]`` and every direction's carry."""
        final = {n: jnp.stack([f[n] for f in finals], axis=1) for n in self.cell.carry_names}  # [B, L*D, H]
        final = {n: a.reshape(*batch, *a.shape[1:]) for n, a in final.items()}
        if self.return_sequences:
            return jnp.swapaxes(xs, 0, 1).reshape(*batch, xs.shape[0], self.output_size), final
        top = [f["h"] for f in finals[-len(self.directions) :]]  # the top layer's directions
        return self._merge(top).reshape(*batch, self.output_size), final

    def _check_params(self, params: Params, x: Array) -> None:
        """Each layer's and direction's cell params (and learned initial state) for ``x: [..., T, F]``."""
        learned = {"initial_state": {n: (self.cell.hidden_size,) for n in self.cell.carry_names}}
        expected, size = {}, x.shape[-1] if x.ndim else 0
        for layer in range(self.num_layers):
            cell = {**self.cell.param_shapes(size), **(learned if self.initial_state == "learned" else {})}
            expected[str(layer)] = {name: cell for name in self.directions}
            size = self.output_size
        check_params(self, params, expected, x, implied_input=self._sequence_of)

    def _sequence_of(self, params: Params) -> tuple[str, int]:
        """The per-example input ``[T, F]`` that ``params`` were made for (any ``T``)."""
        return ("T", params["0"][self.directions[0]]["input_kernel"].shape[0])

    def _time_major(self, params: Params, x: Array) -> Array:
        """``x: [..., T, F]`` as ``[T, B, F]`` with the batch axes folded into ``B``, in the dtype ``x``
        and the input kernel promote to."""
        kernel = params["0"][self.directions[0]]["input_kernel"]
        in_size = kernel.shape[0]
        if x.ndim < 2 or x.shape[-1] != in_size:
            raise ShapeError(
                self,
                f"expected input of shape [..., T, {in_size}] (batch axes, time, features), "
                f"got {format_shape(x.shape)}",
            )
        T = x.shape[-2]
        x = x.astype(jnp.result_type(x, kernel))
        return jnp.swapaxes(x.reshape(math.prod(x.shape[:-2]), T, in_size), 0, 1)

    def _check_lengths(self, lengths: Array, batch: Shape, T: int) -> Array:
        if not jnp.issubdtype(lengths.dtype, jnp.integer):
            raise ShapeError(self, f"lengths must be integers, got dtype {lengths.dtype}")
        if tuple(lengths.shape) != batch:
            raise ShapeError(
                self,
                f"lengths must have the batch shape {format_shape(batch)}, got {format_shape(lengths.shape)}",
            )
        # Checked on the host when the values are known (also when a jitted function closes over them).
        values = np.asarray(lengths) if _is_concrete(lengths) else None
        if values is not None and values.size and (values.min() < 1 or values.max() > T):
            raise ShapeError(
                self,
                f"lengths must be in 1..{T} (the sequence length), got values from "
                f"{int(values.min())} to {int(values.max())}",
            )
        return lengths

    def _check_initial_state(self, state: dict | None, batch: Shape, B: int) -> dict[str, Array] | None:
        if state is None:
            return None
        H, LD = self.cell.hidden_size, self.num_layers * len(self.directions)
        expected = (*batch, LD, H)
        if not isinstance(state, dict) or set(state) != set(self.cell.carry_names):
            raise ShapeError(
                self,
                f"initial_state must be a dict with keys {self.cell.carry_names}, got {type(state).__name__}",
            )
        out = {}
        for n, a in state.items():
            if tuple(a.shape) != expected:
                raise ShapeError(
                    self,
                    f"initial_state[{n!r}] must have shape {format_shape(expected)}, "
                    f"got {format_shape(a.shape)}",
                )
            out[n] = a.reshape(B, LD, H)
        return out
