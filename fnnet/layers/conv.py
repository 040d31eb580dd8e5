"""Convolution on channels-last inputs: ``Conv`` (1-, 2- and 3-D) and ``ConvTranspose`` (2-D).

Layout: inputs ``[..., *spatial, C]`` with any number of leading batch axes; kernels
``[*kernel_size, in_features // groups, features]`` (HWIO for images); bias ``[features]``.

``Conv`` has two formulations, chosen by its ``impl`` field; both give the same numbers (up to float
rounding) and the tests check the fast one against the reference and PyTorch:

* ``"xla"``: ``lax.conv_general_dilated``, the reference (cuDNN on an NVIDIA GPU);
* ``"hybrid"``: a custom forward and backward pass tuned on XLA:CPU (see ``conv_hybrid``), for
  stride 1 without groups (other cases run ``"xla"``);
* ``"auto"`` (default): on CPU ``"hybrid"`` where it applies, else ``"xla"``; on any other backend
  ``"xla"``.

im2col (``"patches"``) and shifted matmuls (``"shifted"``) were never the default and were removed;
their figures and the commit they lived in are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp
from jax import lax

from fnnet import initializers
from fnnet.core import (
    Array,
    Layer,
    Params,
    Shape,
    ShapeError,
    add_trailing,
    check_input,
    check_params,
    format_shape,
    init_kernel_and_bias,
    kernel_and_bias_shapes,
)
from fnnet.layers._spatial import (
    Padding,
    Pads,
    as_tuple,
    check_impl,
    cpu_tuned,
    effective_window,
    fold_batch,
    normalize_padding,
    normalized_padding,
    output_sizes,
    resolve_pads,
    spatial_tuple,
    unfold_batch,
)
from fnnet.layers.conv_impls import (
    DIMENSION_NUMBERS,
    conv_hybrid,
    conv_shifted,
    conv_xla,
    hybrid_applies,
)

IMPLS = ("auto", "xla", "hybrid")
REMOVED_IMPLS = ("patches", "shifted")  # until commit d7fcad0


def _auto_impl(hybrid_ok: bool) -> str:
    # On a 2-core Zen 3 CPU the hybrid backward beats XLA:CPU's own in the CNN train step (figures in
    # benchmarks/RESULTS.md). Elsewhere XLA's convolution is the vendor's (cuDNN), which is what is fast.
    if not cpu_tuned():
        return "xla"
    return "hybrid" if hybrid_ok else "xla"


@dataclasses.dataclass(frozen=True)
class Conv(Layer):
    """An N-D convolution (cross-correlation, as in every DL library) on channels-last inputs.

    ``y[n, p, f] = bias[f] + sum_{k, c} x[n, p*s + k*d - pad_low, g(f)*C_g + c] * kernel[k, c, f]``
    where ``g(f)`` is the group of output channel ``f`` and ``C_g = in_features // groups``.

    Args:
        features: output channels.
        kernel_size: a tuple of ints; its length (1, 2 or 3) is the spatial rank, e.g. ``(3, 3)``
            for images. A bare int is refused: the rank must be stated.
        strides: an int or one int per spatial axis.
        padding: ``"SAME"`` (``ceil(n / s)`` outputs, extra pad at the high end), ``"VALID"``, an
            int (that many zeros each side), per-axis ``(low, high)`` pairs, or ``"CAUSAL"`` (1-D
            only: ``k_eff - 1`` zeros at the start, so output ``t`` sees inputs up to ``t``).
        dilation: kernel dilation, an int or one per spatial axis.
        groups: feature groups; ``in_features`` and ``features`` must divide by it
            (``groups = in_features`` is a depthwise convolution).
        use_bias: whether to add a bias.
        kernel_init: kernel initialiser (default LeCun normal; fans include the window).
        bias_init: bias initialiser (default zeros).
        impl: ``"auto"`` (on CPU ``"hybrid"`` where it applies, else ``"xla"``), ``"xla"`` or
            ``"hybrid"`` (see the module docstring); ``"hybrid"`` needs stride 1 and ``groups == 1``
            and runs ``"xla"`` otherwise.

    Shapes: ``x: [..., *spatial, in_features] -> y: [..., *out_spatial, features]``.
    Params: ``{"kernel": [*kernel_size, in_features // groups, features], "bias": [features]}``.

    Example:
        >>> conv = Conv(8, (3, 3))
        >>> out_shape, params = conv.init(jax.random.key(0), (28, 28, 1))
        >>> out_shape, conv.apply(params, jnp.ones((2, 28, 28, 1))).shape
        ((28, 28, 8), (2, 28, 28, 8))
    """

    features: int
    kernel_size: tuple[int, ...]
    strides: int | tuple[int, ...] = 1
    padding: str | int | tuple = "SAME"
    dilation: int | tuple[int, ...] = 1
    groups: int = 1
    use_bias: bool = True
    kernel_init: initializers.Initializer = initializers.lecun_normal()
    bias_init: initializers.Initializer = initializers.zeros
    impl: str = "auto"

    def __post_init__(self) -> None:
        name = "Conv"
        if not isinstance(self.features, int) or self.features < 1:
            raise ValueError(f"{name}: features must be a positive int, got {self.features!r}")
        if not isinstance(self.kernel_size, tuple | list) or not 1 <= len(self.kernel_size) <= 3:
            raise ValueError(
                f"{name}: kernel_size must be a tuple of 1, 2 or 3 ints whose length sets the "
                f"spatial rank, e.g. (3, 3) for images; got {self.kernel_size!r}"
            )
        rank = len(self.kernel_size)
        set_ = _setter(self)
        set_("kernel_size", as_tuple("kernel_size", self.kernel_size, rank, name))
        set_("strides", as_tuple("strides", self.strides, rank, name))
        set_("dilation", as_tuple("dilation", self.dilation, rank, name))
        set_("padding", normalize_padding(self.padding, rank, name, allow_causal=True))
        if not isinstance(self.groups, int) or self.groups < 1 or self.features % self.groups:
            raise ValueError(
                f"{name}: groups must be a positive int dividing features={self.features}, "
                f"got {self.groups!r}"
            )
        check_impl(name, self.impl, IMPLS, REMOVED_IMPLS)

    @property
    def rank(self) -> int:
        """The number of spatial axes."""
        return len(self.kernel_size)

    @property
    def _strides(self) -> tuple[int, ...]:
        return spatial_tuple(self.strides, "strides")

    @property
    def _dilation(self) -> tuple[int, ...]:
        return spatial_tuple(self.dilation, "dilation")

    @property
    def _padding(self) -> Padding:
        return normalized_padding(self.padding)

    def _geometry(self, in_shape: Shape) -> tuple[Pads, Shape]:
        rank = self.rank
        if len(in_shape) != rank + 1:
            raise ShapeError(
                self,
                f"expected a {rank}-D channels-last example "
                f"[{', '.join(['spatial'] * rank)}, channels], got {format_shape(in_shape)}",
            )
        if in_shape[-1] % self.groups:
            raise ShapeError(
                self,
                f"in_features={in_shape[-1]} of input {format_shape(in_shape)} is not "
                f"divisible by groups={self.groups}",
            )
        sizes = tuple(in_shape[:-1])
        pads = resolve_pads(self._padding, sizes, self.kernel_size, self._strides, self._dilation)
        out = output_sizes(sizes, pads, self.kernel_size, self._strides, self._dilation)
        if min(out) < 1:
            span = effective_window(self.kernel_size, self._dilation)
            raise ShapeError(
                self,
                f"input {format_shape(in_shape)} is too small for a window spanning "
                f"{format_shape(span)} with padding {self.padding}",
            )
        return pads, (*out, self.features)

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        _, out_shape = self._geometry(tuple(in_shape))
        params = init_kernel_and_bias(
            self, key, (*self.kernel_size, in_shape[-1] // self.groups, self.features)
        )
        return out_shape, params

    def _channels_of(self, params: Params) -> Shape:
        """The input channels that ``params`` were made for."""
        return (params["kernel"].shape[-2] * self.groups,)

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        if x.ndim < self.rank + 1:
            raise ShapeError(
                self,
                f"expected input [..., {', '.join(['spatial'] * self.rank)}, channels], "
                f"got {format_shape(x.shape)}",
            )
        shapes = kernel_and_bias_shapes(self, (*self.kernel_size, x.shape[-1] // self.groups, self.features))
        check_params(self, params, shapes, x, implied_input=self._channels_of, what="input channels")
        kernel = params["kernel"]
        check_input(self, x, (kernel.shape[-2] * self.groups,), "input channels")
        pads, _ = self._geometry(tuple(x.shape[x.ndim - self.rank - 1 :]))
        xf, batch = fold_batch(x, self.rank + 1)
        spans = effective_window(self.kernel_size, self._dilation)
        hybrid_ok = hybrid_applies(self._strides, pads, spans, self.groups)
        impl = _auto_impl(hybrid_ok) if self.impl == "auto" else self.impl
        if impl == "hybrid" and hybrid_ok:
            y = conv_hybrid(xf, kernel, pads, self._dilation)
        else:
            y = conv_xla(xf, kernel, self._strides, pads, self._dilation, self.groups)
        if self.use_bias:
            y = add_trailing(y, params["bias"])
        return unfold_batch(y, batch)


def _setter(obj: object) -> Callable[[str, object], None]:
    # Frozen dataclasses normalise their fields in __post_init__ through object.__setattr__.
    return lambda name, value: object.__setattr__(obj, name, value)


@dataclasses.dataclass(frozen=True)
class ConvTranspose(Layer):
    """A 2-D transposed convolution (the gradient of ``Conv`` w.r.t. its input), as PyTorch's.

    Each input pixel scatters ``x[i] * kernel[k]`` to output position ``i * s + k * d - crop_low``:
    the full output has ``(n - 1) * s + k_eff`` pixels per axis, from which ``padding`` crops.

    Args:
        features: output channels.
        kernel_size: a tuple of 2 ints (an int means a square window).
        strides: an int or 2 ints (the upsampling factor).
        padding: ``"SAME"`` (output ``n * s``: crops ``k_eff - s``, the larger half at the low
            end; a window narrower than the stride instead gets ``s - k_eff`` zeros, plus bias, at
            the high end, PyTorch's ``padding=0, output_padding=s - k_eff``), ``"VALID"`` (no
            crop: ``(n - 1) * s + k_eff``), or 2 ``(low, high)`` crop pairs (PyTorch's
            ``padding=p, output_padding=q`` is ``(p, p - q)``).
        dilation: kernel dilation.
        use_bias: whether to add a bias.
        kernel_init: kernel initialiser (default LeCun normal).
        bias_init: bias initialiser (default zeros).

    Shapes: ``x: [..., H, W, in_features] -> y: [..., H_out, W_out, features]``.
    Params: ``{"kernel": [kh, kw, in_features, features], "bias": [features]}`` (PyTorch's weight
    ``[in, out, kh, kw]`` permuted by ``(2, 3, 0, 1)``).
    """

    features: int
    kernel_size: int | tuple[int, int]
    strides: int | tuple[int, int] = 1
    padding: str | int | tuple = "SAME"
    dilation: int | tuple[int, int] = 1
    use_bias: bool = True
    kernel_init: initializers.Initializer = initializers.lecun_normal()
    bias_init: initializers.Initializer = initializers.zeros

    def __post_init__(self) -> None:
        name = "ConvTranspose"
        if not isinstance(self.features, int) or self.features < 1:
            raise ValueError(f"{name}: features must be a positive int, got {self.features!r}")
        set_ = _setter(self)
        set_("kernel_size", as_tuple("kernel_size", self.kernel_size, 2, name))
        set_("strides", as_tuple("strides", self.strides, 2, name))
        set_("dilation", as_tuple("dilation", self.dilation, 2, name))
        set_("padding", normalize_padding(self.padding, 2, name))

    @property
    def _kernel_size(self) -> tuple[int, ...]:
        return spatial_tuple(self.kernel_size, "kernel_size")

    @property
    def _strides(self) -> tuple[int, ...]:
        return spatial_tuple(self.strides, "strides")

    @property
    def _dilation(self) -> tuple[int, ...]:
        return spatial_tuple(self.dilation, "dilation")

    def _crops(self, in_shape: Shape) -> tuple[Pads, Shape]:
        if len(in_shape) != 3:
            raise ShapeError(
                self,
                f"expected a 2-D channels-last example [H, W, C], got {format_shape(in_shape)}",
            )
        spans = effective_window(self._kernel_size, self._dilation)
        padding = normalized_padding(self.padding)
        crops: Pads
        if isinstance(padding, tuple):
            crops = padding
        elif padding == "VALID":
            crops = ((0, 0), (0, 0))
        else:  # "SAME"
            # A negative total (k_eff < s) is a negative high crop: s - k_eff zeros appended at the
            # high end, PyTorch's output_padding; the output is n * s either way.
            totals = [k - s for k, s in zip(spans, self._strides, strict=True)]
            crops = tuple((t - t // 2, t // 2) if t >= 0 else (0, t) for t in totals)
        out = [
            (n - 1) * s + k - lo - hi
            for n, s, k, (lo, hi) in zip(in_shape[:2], self._strides, spans, crops, strict=True)
        ]
        if any(lo > k - 1 or hi > k - 1 for (lo, hi), k in zip(crops, spans, strict=True)) or min(out) < 1:
            raise ShapeError(
                self,
                f"crop {crops} is too large for a window spanning {format_shape(spans)} on "
                f"input {format_shape(in_shape)}",
            )
        return crops, (*out, self.features)

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        _, out_shape = self._crops(tuple(in_shape))
        params = init_kernel_and_bias(self, key, (*self._kernel_size, in_shape[-1], self.features))
        return out_shape, params

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        if x.ndim < 3:
            raise ShapeError(self, f"expected input [..., H, W, channels], got {format_shape(x.shape)}")
        expected = kernel_and_bias_shapes(self, (*self._kernel_size, x.shape[-1], self.features))
        check_params(
            self, params, expected, x, implied_input=lambda p: p["kernel"].shape[-2:-1], what="input channels"
        )
        kernel = params["kernel"]
        check_input(self, x, (kernel.shape[-2],), "input channels")
        crops, _ = self._crops(tuple(x.shape[-3:]))
        spans = effective_window(self._kernel_size, self._dilation)
        xf, batch = fold_batch(x, 3)
        # A stride-1 convolution over the input dilated by `strides`, the kernel flipped in space.
        y = lax.conv_general_dilated(
            xf,
            jnp.flip(kernel, axis=(0, 1)),
            window_strides=(1, 1),
            padding=[(k - 1 - lo, k - 1 - hi) for k, (lo, hi) in zip(spans, crops, strict=True)],
            lhs_dilation=self._strides,
            rhs_dilation=self._dilation,
            dimension_numbers=DIMENSION_NUMBERS[2],
        )
        if self.use_bias:
            y = add_trailing(y, params["bias"])
        return unfold_batch(y, batch)


__all__ = ["Conv", "ConvTranspose", "conv_hybrid", "conv_shifted", "conv_xla"]
