"""Convert recurrent weights between PyTorch (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``) and fnnet.

Works on NumPy arrays (``{k: v.numpy() for k, v in module.state_dict().items()}``; tensors are
accepted too), so fnnet needs no PyTorch. PyTorch stores ``weight_ih_l{k}[_reverse]: [G*H, F]``,
``weight_hh: [G*H, H]``, ``bias_ih`` and ``bias_hh: [G*H]`` with the same gate order as fnnet; fnnet
keeps the transposed kernels and, for the simple RNN and LSTM, the sum of the two biases (the only
combination the output depends on), so ``to_torch`` puts the whole bias in ``bias_ih`` and zeros in
``bias_hh``. The GRU keeps both biases.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from fnnet.layers.cells import GRUCell
from fnnet.layers.recurrent import RNN


def _suffix(rnn: RNN, layer: int, direction: str) -> str:
    return f"_l{layer}" + ("_reverse" if direction == "backward" and rnn.bidirectional else "")


def _check(rnn: RNN) -> None:
    if not isinstance(rnn, RNN):
        raise TypeError(f"convert_rnn: expected an fnnet RNN layer, got {type(rnn).__name__}")
    if rnn.reverse:
        raise ValueError("convert_rnn: PyTorch has no reverse-only RNN; use bidirectional or forward")


def from_torch(state_dict: dict, rnn: RNN) -> dict:
    """fnnet parameters for ``rnn`` from a PyTorch RNN/LSTM/GRU state dict.

    Args:
        state_dict: ``{name: array}`` as ``module.state_dict()`` names them (arrays or tensors).
        rnn: the fnnet layer the weights are for (same cell type, hidden size, layers, directions).

    Returns:
        The params of ``rnn`` (float32 jax arrays).

    Raises:
        KeyError: a weight the layer needs is missing (the message names it).
        ValueError: a weight has the wrong shape for ``rnn``.
    """
    _check(rnn)
    sd = {
        k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in state_dict.items()
    }
    G, H = rnn.cell.num_gates, rnn.cell.hidden_size
    params = {}
    for layer in range(rnn.num_layers):
        params[str(layer)] = {}
        for direction in rnn.directions:
            s = _suffix(rnn, layer, direction)
            names = [f"weight_ih{s}", f"weight_hh{s}", f"bias_ih{s}", f"bias_hh{s}"]
            missing = [n for n in names if n not in sd]
            if missing:
                raise KeyError(f"convert_rnn.from_torch: state dict lacks {missing}; has {sorted(sd)}")
            w_ih, w_hh, b_ih, b_hh = (sd[n] for n in names)
            if w_hh.shape != (G * H, H) or w_ih.shape[0] != G * H:
                raise ValueError(
                    f"convert_rnn.from_torch: {names[1]} has shape {w_hh.shape}, "
                    f"expected {(G * H, H)} "
                    f"for {type(rnn.cell).__name__}({H})"
                )
            p = {"input_kernel": w_ih.T, "recurrent_kernel": w_hh.T}
            if isinstance(rnn.cell, GRUCell):
                p.update(bias=b_ih, recurrent_bias=b_hh)
            else:
                p["bias"] = b_ih + b_hh
            params[str(layer)][direction] = {k: jnp.asarray(v, jnp.float32) for k, v in p.items()}
    return params


def to_torch(params: dict, rnn: RNN) -> dict:
    """A PyTorch state dict (``{name: np.ndarray}``) from the params of ``rnn``.

    Load it with ``module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``.
    """
    _check(rnn)
    sd = {}
    for layer in range(rnn.num_layers):
        for direction in rnn.directions:
            p = {
                k: np.asarray(v, np.float32)
                for k, v in params[str(layer)][direction].items()
                if k != "initial_state"
            }
            s = _suffix(rnn, layer, direction)
            sd[f"weight_ih{s}"] = np.ascontiguousarray(p["input_kernel"].T)
            sd[f"weight_hh{s}"] = np.ascontiguousarray(p["recurrent_kernel"].T)
            sd[f"bias_ih{s}"] = p["bias"]
            sd[f"bias_hh{s}"] = p.get("recurrent_bias", np.zeros_like(p["bias"]))
    return sd
