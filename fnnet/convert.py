"""Parameter layouts between fnnet and PyTorch, on NumPy arrays (torch is never imported here).

PyTorch stores a linear layer's weight ``[out, in]``, a convolution's ``[out, in // groups, *k]``
(OIHW), a transposed convolution's ``[in, out, *k]``, and batch norm as ``weight, bias,
running_mean, running_var``. fnnet stores ``[in, out]``, ``[*k, in // groups, out]`` (HWIO),
``[*k, in, out]`` and ``{"scale", "offset"}`` with state ``{"mean", "var"}``. Pass a layer's
slice of a ``state_dict`` (tensors or arrays, converted with ``numpy.asarray``; for tensors call
``.detach()`` first if they require grad).

Example:
    >>> params = convert.conv_from_torch({"weight": w_oihw, "bias": b})
    >>> tensors = {k: torch.tensor(v) for k, v in convert.conv_to_torch(params).items()}
    >>> torch_layer.load_state_dict(tensors)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "batchnorm_from_torch",
    "batchnorm_to_torch",
    "conv_from_torch",
    "conv_to_torch",
    "conv_transpose_from_torch",
    "conv_transpose_to_torch",
    "dense_from_torch",
    "dense_to_torch",
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
