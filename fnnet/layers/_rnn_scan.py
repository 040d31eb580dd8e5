"""How one direction of one recurrent layer runs over time: the only module that knows formulations.

Every scan in ``SCANS`` has the signature ``scan(cell, params, carry, xs, lengths, unroll) ->
(ys, carry)`` for time-major ``xs: [T, B, F]``, optional ``lengths: [B]`` (the state stops changing
after each sequence's length, outputs past it are zero) and returns ``ys: [T, B, H]``. All compute
the same function, to rounding (``tests/test_recurrent_torch.py`` checks each against PyTorch):

* ``"scan"``, the reference: ``lax.scan`` of the cell's step, differentiated by autodiff. Any cell.
* ``"fused"``: LSTM and GRU with a hand-written backward pass (``fnnet.layers.fused``), the CPU
  default: on XLA:CPU its train step takes 0.54-0.68x (LSTM) and 0.61-0.99x (GRU) the time of a
  per-step ``x @ W_x + h @ W_h`` scan differentiated by autodiff (float32, batch 32, T 25-100; the
  suite's hand-written JAX peer, benchmarks/RESULTS.md).
* ``"cudnn"``: the LSTM through cuDNN (``fnnet.layers.cudnn``), NVIDIA GPUs, float32 only.
* ``"onednn"``: the LSTM and GRU through oneDNN's RNN primitives on the CPU (``fnnet.layers._onednn``,
  the ``fnnet[onednn]`` extra and a C++ compiler), float32, and bfloat16 on a CPU with AVX512-BF16;
  full-length sequences.

``RNN(formulation="auto")`` (the default) picks per backend with ``auto``: on the CPU ``"onednn"`` for
the LSTM and GRU on float32 (or, with AVX512-BF16, bfloat16) full-length sequences in a one-device
process when the extension is built (else ``"fused"``, with one warning per process naming what to
install when the extension is what was missing); ``"fused"`` for the other LSTM and GRU runs on CPU
(ragged ``lengths``, other dtypes, several local devices: the data-parallel step is measured on the
fused scan); ``"cudnn"`` on a GPU for a float32 LSTM; ``"scan"`` everywhere else (the fused path is
tuned for XLA:CPU and has not been measured on a GPU).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
from jax.typing import DTypeLike

from fnnet.layers import _onednn, cudnn, fused
from fnnet.layers.cells import GRUCell, LSTMCell, _Cell

if TYPE_CHECKING:
    from fnnet.layers.recurrent import RNN

# scan(cell, params, carry, xs [T, B, F], lengths [B] or None, unroll) -> (ys [T, B, H], carry)
Scan = Callable[[_Cell, dict, dict, jax.Array, jax.Array | None, int], tuple[jax.Array, dict]]
# kernel(params, carry, xs [T, B, F], mask [T, B] or None, unroll) -> (ys [T, B, H], carry)
Kernel = Callable[[dict, dict, jax.Array, jax.Array | None, int], tuple[jax.Array, dict]]

REMOVED = ("concat", "split", "hoisted")  # timed studies, never a default; see benchmarks/RESULTS.md


def time_mask(lengths: jax.Array | None, T: int) -> jax.Array | None:
    """``[T, B]``: True at the valid steps of each sequence (None for full-length sequences)."""
    return None if lengths is None else jnp.arange(T)[:, None] < lengths[None, :]


def scan(
    cell: _Cell, params: dict, carry: dict, xs: jax.Array, lengths: jax.Array | None, unroll: int = 1
) -> tuple[jax.Array, dict]:
    """The reference: ``lax.scan`` of the cell's step ``cell(params, carry, x_t)``, autodiff for gradients.

    The input projection stays inside the step: on XLA:CPU a hand-written LSTM whose projection was
    hoisted out of the scan was slower (forward / gradient 14.1 / 44.1 ms against 8.85 / 30.6 per
    step, B32 T100 F32 H128; ``../shared/PERF-BASELINE.md``).

    Returns:
        ``(ys [T, B, H], carry)``.
    """
    mask = time_mask(lengths, xs.shape[0])

    def body(carry: dict, inp: tuple[jax.Array, jax.Array | None]) -> tuple[dict, jax.Array]:
        x_t, m = inp
        new, y = cell(params, carry, x_t)
        if m is None:
            return new, y
        m = m[:, None]  # [B, 1]
        return {n: jnp.where(m, new[n], carry[n]) for n in new}, jnp.where(m, y, 0)

    carry, ys = jax.lax.scan(body, carry, (xs, mask), unroll=unroll)
    return ys, carry


def _fused_lstm(
    params: dict, carry: dict, xs: jax.Array, mask: jax.Array | None, unroll: int
) -> tuple[jax.Array, dict]:
    w = (params["input_kernel"], params["recurrent_kernel"], params["bias"])
    ys, h, c = fused.lstm_scan(*w, xs, carry["h"], carry["c"], mask, unroll)
    return ys, {"h": h, "c": c}


def _fused_gru(
    params: dict, carry: dict, xs: jax.Array, mask: jax.Array | None, unroll: int
) -> tuple[jax.Array, dict]:
    w = (params["input_kernel"], params["recurrent_kernel"], params["bias"], params["recurrent_bias"])
    ys, h = fused.gru_scan(*w, xs, carry["h"], mask, unroll)
    return ys, {"h": h}


_FUSED: dict[type[_Cell], Kernel] = {LSTMCell: _fused_lstm, GRUCell: _fused_gru}


def fused_scan(
    cell: _Cell, params: dict, carry: dict, xs: jax.Array, lengths: jax.Array | None, unroll: int = 1
) -> tuple[jax.Array, dict]:
    """The LSTM or GRU with the hand-written backward of ``fnnet.layers.fused``; ``(ys, carry)``."""
    kernel = _kernel(_FUSED, cell)
    if kernel is None:
        raise ValueError(f"formulation 'fused' is only available for LSTMCell and GRUCell, not {cell!r}")
    return kernel(params, carry, xs, time_mask(lengths, xs.shape[0]), unroll)


def cudnn_scan(
    cell: _Cell, params: dict, carry: dict, xs: jax.Array, lengths: jax.Array | None, unroll: int = 1
) -> tuple[jax.Array, dict]:
    """The LSTM by cuDNN (``unroll`` does not apply); ``(ys, carry)``."""
    return cudnn.lstm_cudnn(params, carry, xs, lengths)


def onednn_scan(
    cell: _Cell, params: dict, carry: dict, xs: jax.Array, lengths: jax.Array | None, unroll: int = 1
) -> tuple[jax.Array, dict]:
    """The LSTM or GRU by oneDNN's RNN primitives on the CPU (``unroll`` does not apply); ``(ys, carry)``."""
    if lengths is not None:
        raise ValueError("formulation 'onednn' runs full-length sequences only; use 'fused' with lengths")
    layer = _onednn.lstm_layer if isinstance(cell, LSTMCell) else _onednn.gru_layer
    return layer(params, carry, xs)


SCANS: dict[str, Scan] = {"scan": scan, "fused": fused_scan, "cudnn": cudnn_scan, "onednn": onednn_scan}
# the cells a formulation exists for
CELLS: dict[str, tuple[type[_Cell], ...]] = {
    "fused": tuple(_FUSED),
    "cudnn": (LSTMCell,),
    "onednn": (LSTMCell, GRUCell),
}
FORMULATIONS = ("auto", *SCANS)


def _kernel(table: dict[type[_Cell], Kernel], cell: _Cell) -> Kernel | None:
    return next((fn for kind, fn in table.items() if isinstance(cell, kind)), None)


def _supports(formulation: str, cell: _Cell) -> bool:
    return isinstance(cell, CELLS.get(formulation, object))


def check(layer: RNN) -> None:
    """Raises ValueError if ``layer.formulation`` is unknown or does not exist for ``layer.cell``."""
    formulation, cell = layer.formulation, layer.cell
    if formulation not in FORMULATIONS:
        hint = " ('scan' replaces the removed per-step formulations)" if formulation in REMOVED else ""
        message = f"formulation must be one of {FORMULATIONS}, got {formulation!r}{hint}"
    elif formulation != "auto" and not _supports(formulation, cell):
        kinds = " and ".join(kind.__name__ for kind in CELLS[formulation])
        message = f"formulation {formulation!r} is only available for {kinds}, not {type(cell).__name__}"
    else:
        return
    raise ValueError(f"{type(layer).__name__}: {message}; got {layer!r}")


_WARNED: set[str] = set()  # the reasons oneDNN was passed over, each warned about once per process


def _onednn_applies(cell: _Cell, dtype: DTypeLike, ragged: bool) -> bool:
    """Whether ``"auto"`` runs ``cell`` through oneDNN here; warns once if only the extension is missing
    (not when the CPU lacks AVX512-BF16 for a bfloat16 run)."""
    if ragged or not _supports("onednn", cell) or jnp.dtype(dtype) not in _onednn.DTYPES:
        return False
    if jax.local_device_count() > 1:
        return False
    reason = _onednn.unavailable_reason(dtype)
    if reason and reason != _onednn.NO_BF16 and reason not in _WARNED:  # not for what the CPU lacks
        _WARNED.add(reason)
        message = f"fnnet: RNN formulation 'auto' runs the fused scan instead of oneDNN: {reason}"
        warnings.warn(message, RuntimeWarning, stacklevel=5)
    return reason is None


def auto(cell: _Cell, dtype: DTypeLike, ragged: bool = False) -> str:
    """The formulation ``"auto"`` stands for, for ``cell`` on sequences of ``dtype`` on this backend.

    Args:
        cell: the layer's cell.
        dtype: the dtype of the sequences.
        ragged: whether the call passes ``lengths`` (oneDNN runs full-length sequences only).
    """
    backend = jax.default_backend()
    if backend == "cpu" and _onednn_applies(cell, dtype, ragged):
        return "onednn"
    if backend == "cpu" and _supports("fused", cell):
        return "fused"
    if backend == "gpu" and _supports("cudnn", cell) and cudnn.unavailable_reason(dtype) is None:
        return "cudnn"
    return "scan"


def choose(layer: RNN, dtype: DTypeLike, ragged: bool = False) -> Scan:
    """The scan function ``layer`` runs on sequences of ``dtype`` (with ``lengths`` if ``ragged``);
    ValueError if the formulation named cannot run here."""
    formulation = auto(layer.cell, dtype, ragged) if layer.formulation == "auto" else layer.formulation
    reasons = {"cudnn": cudnn.unavailable_reason, "onednn": _onednn.unavailable_reason}
    if formulation in reasons:
        reason = reasons[formulation](dtype)
        if reason:
            raise ValueError(f"{type(layer).__name__}: {reason}; got {layer!r}")
    return SCANS[formulation]
