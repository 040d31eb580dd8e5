"""Helpers for checking layers against PyTorch (CPU) with copied weights: outputs and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import torch

torch.set_num_threads(1)


def channels_first(x: np.ndarray) -> torch.Tensor:
    """NumPy ``[N, *spatial, C]`` -> a float64 torch ``[N, C, *spatial]`` that requires grad."""
    order = (0, x.ndim - 1, *range(1, x.ndim - 1))
    return torch.tensor(np.ascontiguousarray(x.transpose(order)), dtype=torch.float64, requires_grad=True)


def channels_last(t: torch.Tensor) -> np.ndarray:
    """A torch ``[N, C, *spatial]`` tensor -> NumPy ``[N, *spatial, C]``."""
    return t.detach().numpy().transpose((0, *range(2, t.ndim), 1))


def torch_pad(pads) -> tuple[int, ...]:
    """Per-axis ``(low, high)`` pairs as ``torch.nn.functional.pad``'s last-axis-first list."""
    return tuple(v for lo_hi in reversed(pads) for v in lo_hi)


def fnnet_vjp(fn, params, x, cotangent):
    """``(y, dparams, dx)`` of ``y = fn(params, x)`` pulled back along ``cotangent`` (float64)."""
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        y, pull = jax.vjp(fn, params, jnp.asarray(x, jnp.float64))
        dparams, dx = pull(jnp.asarray(cotangent, jnp.float64))
        return np.asarray(y), jax.tree.map(np.asarray, dparams), np.asarray(dx)


def assert_close(actual, expected, what, tol=1e-9):
    """``np.testing.assert_allclose`` with a relative-and-absolute tolerance and a name."""
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=what)
