"""The formulations behind ``Conv``: XLA's convolution and the hybrid one tuned on XLA:CPU.

All take ``x: [N, *spatial, C]`` (one batch axis), a kernel ``[*k, C // groups, F]`` and explicit
``(low, high)`` pads, and return ``[N, *out, F]``. ``conv_xla`` is the reference ``conv_hybrid`` is
tested against (tests/test_conv.py, against PyTorch too); ``conv_shifted`` is the hybrid forward for
few-channel inputs. The im2col formulation lived here until commit d7fcad0 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from fnnet.core import Array
from fnnet.layers._spatial import Pads, effective_window, output_sizes

DIMENSION_NUMBERS = {
    1: ("NWC", "WIO", "NWC"),
    2: ("NHWC", "HWIO", "NHWC"),
    3: ("NDHWC", "DHWIO", "NDHWC"),
}

__all__ = [
    "DIMENSION_NUMBERS",
    "conv_hybrid",
    "conv_shifted",
    "conv_xla",
    "hybrid_applies",
]


def conv_xla(
    x: Array, kernel: Array, strides: Sequence[int], pads: Pads, dilation: Sequence[int], groups: int
) -> Array:
    """Reference convolution ``[N, *sp, C] * [*k, C // g, F] -> [N, *out, F]`` via lax."""
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=strides,
        padding=pads,
        rhs_dilation=dilation,
        dimension_numbers=DIMENSION_NUMBERS[len(strides)],
        feature_group_count=groups,
    )


def _windows(
    x: Array, window: Sequence[int], strides: Sequence[int], pads: Pads, dilation: Sequence[int]
) -> list[Array]:
    """The shifted, strided views of padded ``x: [N, *sp, C]``, one ``[N, *out, C]`` per offset."""
    x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    out = output_sizes(x.shape[1:-1], ((0, 0),) * len(window), window, strides, dilation)
    views = []
    for offset in itertools.product(*(range(k) for k in window)):
        start = (0, *(o * d for o, d in zip(offset, dilation, strict=True)), 0)
        limit = (
            x.shape[0],
            *(b + (n - 1) * s + 1 for b, n, s in zip(start[1:-1], out, strides, strict=True)),
            x.shape[-1],
        )
        views.append(lax.slice(x, start, limit, (1, *strides, 1)))
    return views


def conv_shifted(
    x: Array, kernel: Array, strides: Sequence[int], pads: Pads, dilation: Sequence[int]
) -> Array:
    """A sum of shifted matmuls: ``sum_offset window(x, offset) @ kernel[offset]``."""
    views = _windows(x, kernel.shape[:-2], strides, pads, dilation)
    taps = kernel.reshape(-1, *kernel.shape[-2:])  # [K, C, F]
    y = jnp.matmul(views[0], taps[0])
    for view, tap in zip(views[1:], taps[1:], strict=True):
        y = y + jnp.matmul(view, tap)
    return y


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_hybrid(x: Array, kernel: Array, pads: Pads, dilation: Sequence[int]) -> Array:
    """Stride-1 convolution: forward and backward passes written as a library can choose.

    ``x: [N, *sp, C]``, ``kernel: [*k, C, F]`` -> ``[N, *out, F]``. The forward is XLA's
    convolution, or a sum of shifted products when the input has few channels (conv1 on images:
    XLA:CPU's convolution with one input channel is several times slower than nine fused
    multiply-adds). The input gradient is XLA's *forward* convolution of the output gradient with the
    flipped, transposed kernel (XLA:CPU's forward convolutions are much faster than its backward
    ones); the kernel gradient is one contraction of the stacked shifted windows with the output
    gradient when the input has few channels (conv1: ``9 * C`` rows), otherwise one convolution of
    the transposed input by the output gradient (``_kernel_gradient``).
    """
    ones = (1,) * (kernel.ndim - 2)
    if x.shape[-1] <= SMALL_CHANNELS:
        return conv_shifted(x, kernel, ones, pads, dilation)
    return conv_xla(x, kernel, ones, pads, dilation, 1)


def _conv_hybrid_fwd(
    x: Array, kernel: Array, pads: Pads, dilation: Sequence[int]
) -> tuple[Array, tuple[Array, Array]]:
    return conv_hybrid(x, kernel, pads, dilation), (x, kernel)


def _conv_hybrid_bwd(
    pads: Pads, dilation: Sequence[int], residuals: tuple[Array, Array], g: Array
) -> tuple[Array, Array]:
    x, kernel = residuals
    rank = kernel.ndim - 2
    ones = (1,) * rank
    spans = effective_window(kernel.shape[:-2], dilation)
    flipped = jnp.swapaxes(jnp.flip(kernel, tuple(range(rank))), -1, -2)  # [*k, F, C]
    back_pads = tuple((k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip(spans, pads, strict=True))
    dx = conv_xla(g, flipped, ones, back_pads, dilation, 1)
    if x.shape[-1] <= SMALL_CHANNELS:
        windows = jnp.stack(_windows(x, kernel.shape[:-2], ones, pads, dilation))  # [K, N, *out, C]
        k_axes = "xyz"[:rank]
        dkernel = jnp.einsum(f"kn{k_axes}c,n{k_axes}f->kcf", windows, g).reshape(kernel.shape)
    else:
        dkernel = _kernel_gradient(x, g, pads, dilation)
    return dx, dkernel


def _kernel_gradient(x: Array, g: Array, pads: Pads, dilation: Sequence[int]) -> Array:
    """``dkernel [*k, C, F]`` of ``x: [N, *sp, C]`` and ``g: [N, *out, F]``, as one convolution.

    ``dkernel[k, c, f] = sum_{n, p} x[n, p + k * d - low, c] g[n, p, f]``: a convolution of ``x``
    with the channels as its batch and the examples as its features, by ``g`` as the kernel, with
    the dilation as its stride. The operands are transposed here, into the layout XLA:CPU's fast
    convolution takes: left to XLA, the transposes happen outside loops only, and inside a
    ``while_loop`` (a fused epoch) the same gradient ran ~25x slower on its generic emitter.
    """
    rank = x.ndim - 2
    lhs = jnp.moveaxis(x, (0, -1), (-1, 0))  # [C, *sp, N]
    rhs = jnp.moveaxis(g, 0, -2)  # [*out, N, F]
    out = lax.conv_general_dilated(
        lhs, rhs, window_strides=dilation, padding=pads, dimension_numbers=DIMENSION_NUMBERS[rank]
    )  # [C, *k, F]
    return jnp.moveaxis(out, 0, -2)


conv_hybrid.defvjp(_conv_hybrid_fwd, _conv_hybrid_bwd)
SMALL_CHANNELS = 4  # input channels up to which the forward is shifted products, dkernel one einsum


def hybrid_applies(strides: Sequence[int], pads: Pads, spans: Sequence[int], groups: int) -> bool:
    """The hybrid backward needs stride 1, no groups, and pads no wider than the window."""
    return (
        groups == 1
        and all(s == 1 for s in strides)
        and all(lo <= k - 1 and hi <= k - 1 for (lo, hi), k in zip(pads, spans, strict=True))
    )
