"""Parameter layouts between fnnet and PyTorch, on NumPy arrays (torch is never imported here).

PyTorch stores a linear layer's weight ``[out, in]``, a convolution's ``[out, in // groups, *k]``
(OIHW), a transposed convolution's ``[in, out, *k]``, and batch norm as ``weight, bias,
running_mean, running_var``. fnnet stores ``[in, out]``, ``[*k, in // groups, out]`` (HWIO),
``[*k, in, out]`` and ``{"scale", "offset"}`` with state ``{"mean", "var"}``. Pass a layer's
slice of a ``state_dict`` (tensors or arrays, converted with ``numpy.asarray``; for tensors call
``.detach()`` first if they require grad).

Recurrent layers (``rnn_from_torch``, ``rnn_to_torch``, for ``nn.RNN``, ``nn.LSTM``, ``nn.GRU``):
PyTorch stores ``weight_ih_l{k}[_reverse]: [G*H, F]``, ``weight_hh: [G*H, H]``, ``bias_ih`` and
``bias_hh: [G*H]`` with the same gate order as fnnet; fnnet keeps the transposed kernels and, for
the simple RNN and LSTM, the sum of the two biases (the only combination the output depends on), so
``rnn_to_torch`` puts the whole bias in ``bias_ih`` and zeros in ``bias_hh``. The GRU keeps both.

Example:
    >>> import torch
    >>> torch_layer = torch.nn.Conv2d(1, 8, 3)
    >>> state = {k: v.detach().numpy() for k, v in torch_layer.state_dict().items()}
    >>> params = fnnet.interop.torch.conv_from_torch(state)  # OIHW -> HWIO
    >>> params["kernel"].shape
    (3, 3, 1, 8)
    >>> back = fnnet.interop.torch.conv_to_torch(params)  # HWIO -> OIHW
    >>> torch_layer.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in back.items()})
    <All keys matched successfully>
"""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from fnnet.layers.cells import GRUCell
from fnnet.layers.recurrent import RNN

__all__ = [
    "batchnorm_from_torch",
    "batchnorm_to_torch",
    "conv_from_torch",
    "conv_to_torch",
    "conv_transpose_from_torch",
    "conv_transpose_to_torch",
    "dense_from_torch",
    "dense_to_torch",
    "rnn_from_torch",
    "rnn_to_torch",
]


def _get(tensors: Mapping, name: str, what: str) -> np.ndarray:
    if name not in tensors:
        raise KeyError(f"{what}: expected a PyTorch entry {name!r}, got keys {sorted(tensors)}")
    return np.asarray(tensors[name], dtype=np.float32)


def _with_bias(out: dict, tensors: Mapping, what: str) -> dict:
    if tensors.get("bias") is not None:
        out["bias"] = _get(tensors, "bias", what)
    return out


def dense_from_torch(tensors: Mapping) -> dict:
    """``nn.Linear`` ``{"weight": [out, in], "bias": [out]}`` -> Dense ``{"kernel": [in, out]}``."""
    weight = _get(tensors, "weight", "dense_from_torch")
    if weight.ndim != 2:
        raise ValueError(f"dense_from_torch: weight must be [out, in], got shape {weight.shape}")
    return _with_bias({"kernel": weight.T.copy()}, tensors, "dense_from_torch")


def dense_to_torch(params: Mapping) -> dict:
    """Dense ``{"kernel": [in, out], "bias": [out]}`` -> ``nn.Linear`` ``{"weight": [out, in]}``."""
    out = {"weight": np.asarray(params["kernel"]).T.copy()}
    if "bias" in params:
        out["bias"] = np.asarray(params["bias"]).copy()
    return out


def conv_from_torch(tensors: Mapping) -> dict:
    """``nn.Conv{1,2,3}d`` ``weight: [out, in // g, *k]`` -> Conv ``kernel: [*k, in // g, out]``."""
    weight = _get(tensors, "weight", "conv_from_torch")
    if not 3 <= weight.ndim <= 5:
        raise ValueError(f"conv_from_torch: weight must be [out, in, *kernel], got shape {weight.shape}")
    order = (*range(2, weight.ndim), 1, 0)
    return _with_bias({"kernel": weight.transpose(order).copy()}, tensors, "conv_from_torch")


def conv_to_torch(params: Mapping) -> dict:
    """Conv ``kernel: [*k, in // g, out]`` -> ``nn.Conv{1,2,3}d`` ``weight: [out, in // g, *k]``."""
    kernel = np.asarray(params["kernel"])
    order = (kernel.ndim - 1, kernel.ndim - 2, *range(kernel.ndim - 2))
    out = {"weight": kernel.transpose(order).copy()}
    if "bias" in params:
        out["bias"] = np.asarray(params["bias"]).copy()
    return out


def conv_transpose_from_torch(tensors: Mapping) -> dict:
    """``nn.ConvTranspose2d`` weight ``[in, out, kh, kw]`` -> ConvTranspose ``[kh, kw, in, out]``"""
    weight = _get(tensors, "weight", "conv_transpose_from_torch")
    if weight.ndim != 4:
        raise ValueError(
            f"conv_transpose_from_torch: weight must be [in, out, kh, kw], got shape {weight.shape}"
        )
    out = {"kernel": weight.transpose(2, 3, 0, 1).copy()}
    return _with_bias(out, tensors, "conv_transpose_from_torch")


def conv_transpose_to_torch(params: Mapping) -> dict:
    """ConvTranspose kernel ``[kh, kw, in, out]`` -> ``nn.ConvTranspose2d`` ``[in, out, kh, kw]``"""
    out = {"weight": np.asarray(params["kernel"]).transpose(2, 3, 0, 1).copy()}
    if "bias" in params:
        out["bias"] = np.asarray(params["bias"]).copy()
    return out


def batchnorm_from_torch(tensors: Mapping) -> tuple[dict, dict]:
    """``nn.BatchNorm*d`` entries -> BatchNorm ``(params, state)``.

    Returns:
        ``({"scale": weight, "offset": bias}, {"mean": running_mean, "var": running_var})``.
    """
    what = "batchnorm_from_torch"
    params = {"scale": _get(tensors, "weight", what), "offset": _get(tensors, "bias", what)}
    state = {"mean": _get(tensors, "running_mean", what), "var": _get(tensors, "running_var", what)}
    return params, state


def batchnorm_to_torch(params: Mapping, state: Mapping) -> dict:
    """BatchNorm ``(params, state)`` -> ``nn.BatchNorm*d`` weight, bias, running_mean/var."""
    return {
        "weight": np.asarray(params["scale"]).copy(),
        "bias": np.asarray(params["offset"]).copy(),
        "running_mean": np.asarray(state["mean"]).copy(),
        "running_var": np.asarray(state["var"]).copy(),
    }


def _suffix(rnn: RNN, layer: int, direction: str) -> str:
    return f"_l{layer}" + ("_reverse" if direction == "backward" and rnn.bidirectional else "")


def _check(rnn: RNN) -> None:
    if not isinstance(rnn, RNN):
        raise TypeError(f"rnn_to_torch/rnn_from_torch: expected an fnnet RNN layer, got {type(rnn).__name__}")
    if rnn.reverse:
        raise ValueError(
            "rnn_to_torch/rnn_from_torch: PyTorch has no reverse-only RNN; use bidirectional or forward"
        )


def rnn_from_torch(state_dict: dict, rnn: RNN) -> dict:
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
    params: dict[str, dict[str, dict[str, jnp.ndarray]]] = {}
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


def rnn_to_torch(params: dict, rnn: RNN) -> dict:
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
