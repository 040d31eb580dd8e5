"""Shared arithmetic of windowed layers (convolution, pooling): per-axis tuples, padding, sizes.

Padding is always resolved to explicit ``(low, high)`` pairs per spatial axis before any op runs,
so the reference path and the fast paths of a layer see exactly the same geometry. The layers' ``impl``
knob is checked and resolved here too: ``"auto"`` takes the CPU-tuned paths only on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax

Pads = tuple[tuple[int, int], ...]
Padding = str | Pads  # a padding after normalize_padding: "SAME", "VALID", "CAUSAL" or the pairs


def as_tuple(name: str, value: object, rank: int, owner: str) -> tuple[int, ...]:
    """``value`` (an int or ``rank`` positive ints) as a tuple of ``rank`` ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * rank
    value = tuple(value) if isinstance(value, Sequence) else value
    if (
        not isinstance(value, tuple)
        or len(value) != rank
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    ):
        raise ValueError(f"{owner}: {name} must be a positive int or {rank} positive ints, got {value!r}")
    return value


def check_impl(owner: str, impl: object, allowed: tuple[str, ...], removed: tuple[str, ...] = ()) -> None:
    """Raise a ValueError naming ``owner``, ``impl`` and the ``allowed`` values unless it is one of them.

    ``removed`` names former values, which get a pointer to their measured figures.
    """
    if impl not in allowed:
        note = ""
        if impl in removed:
            note = " (it was never the default and was removed; see benchmarks/RESULTS.md)"
        raise ValueError(f"{owner}: impl must be one of {allowed}, got {impl!r}{note}")


def cpu_tuned() -> bool:
    """Whether ``impl="auto"`` takes the paths tuned on XLA:CPU (else XLA's own ops: cuDNN convolutions).

    Asked of ``jax.default_backend()`` when the layer is traced, so it is a Python bool, never traced.
    """
    return jax.default_backend() == "cpu"


def normalize_padding(
    padding: str | int | Sequence[Sequence[int]], rank: int, owner: str, allow_causal: bool = False
) -> Padding:
    """Validate ``padding``: ``"SAME"``, ``"VALID"``, ``"CAUSAL"`` (1-D), an int, or ``rank`` pairs.

    Returns a hashable value: the upper-cased string, or a tuple of ``(low, high)`` pairs.
    """
    if isinstance(padding, str):
        upper = padding.upper()
        allowed = ("SAME", "VALID", "CAUSAL") if allow_causal else ("SAME", "VALID")
        if upper not in allowed:
            raise ValueError(
                f"{owner}: padding must be one of {allowed} or (low, high) pairs, got {padding!r}"
            )
        if upper == "CAUSAL" and rank != 1:
            raise ValueError(f"{owner}: 'CAUSAL' padding is for 1-D convolution only, this one is {rank}-D")
        return upper
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        return ((padding, padding),) * rank
    pairs = None if isinstance(padding, int) else _as_pairs(padding)
    if pairs is None or len(pairs) != rank or any(v < 0 for pair in pairs for v in pair):
        raise ValueError(
            f"{owner}: padding must be 'SAME', 'VALID', an int or {rank} (low, high) pairs of "
            f"non-negative ints, got {padding!r}"
        )
    return pairs


def _as_pairs(padding: Sequence[Sequence[int]]) -> Pads | None:
    """``padding`` as a tuple of ``(low, high)`` int pairs, or None when it is not one."""
    try:
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        return None


def spatial_tuple(value: int | Sequence[int] | None, name: str) -> tuple[int, ...]:
    """A field that ``__post_init__`` normalised with ``as_tuple``, as the tuple of ints it now is."""
    if not isinstance(value, tuple):
        raise TypeError(f"{name} should be a tuple of ints after __post_init__, got {value!r}")
    return value


def normalized_padding(padding: str | int | Sequence[Sequence[int]]) -> Padding:
    """A ``padding`` field that ``__post_init__`` normalised with ``normalize_padding``: a str or pairs."""
    if not isinstance(padding, str | tuple):
        raise TypeError(f"padding should be a str or (low, high) pairs after __post_init__, got {padding!r}")
    return padding


def effective_window(window: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """The span of a dilated window: ``(k - 1) * d + 1`` per axis."""
    return tuple((k - 1) * d + 1 for k, d in zip(window, dilation, strict=True))


def resolve_pads(
    padding: Padding,
    sizes: Sequence[int],
    window: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
) -> Pads:
    """Explicit ``(low, high)`` pads per spatial axis for an input of spatial ``sizes``.

    ``SAME`` gives ``ceil(n / s)`` outputs with the extra pixel (if any) at the high end, as XLA and
    TensorFlow do; ``CAUSAL`` pads ``k_eff - 1`` at the low end only.
    """
    spans = effective_window(window, dilation)
    if padding == "VALID":
        return tuple((0, 0) for _ in sizes)
    if padding == "CAUSAL":
        return tuple((k - 1, 0) for k in spans)
    if padding == "SAME":
        pads = []
        for n, k, s in zip(sizes, spans, strides, strict=True):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, str):
        raise ValueError(f"padding must be 'SAME', 'VALID', 'CAUSAL' or (low, high) pairs, got {padding!r}")
    return tuple(padding)


def output_sizes(
    sizes: Sequence[int], pads: Pads, window: Sequence[int], strides: Sequence[int], dilation: Sequence[int]
) -> tuple[int, ...]:
    """Spatial output sizes ``floor((n + lo + hi - k_eff) / s) + 1`` (<= 0: input too small)."""
    spans = effective_window(window, dilation)
    return tuple(
        (n + lo + hi - k) // s + 1 for n, (lo, hi), k, s in zip(sizes, pads, spans, strides, strict=True)
    )


def fold_batch(x: jax.Array, example_rank: int) -> tuple[jax.Array, tuple[int, ...]]:
    """Merge the leading batch axes of ``x`` into one (adding one when there is none).

    Returns the ``[N, *example]`` array and the original batch shape, for ``unfold_batch``.
    """
    batch = tuple(x.shape[: x.ndim - example_rank])
    return x.reshape((math.prod(batch), *x.shape[x.ndim - example_rank :])), batch


def unfold_batch(y: jax.Array, batch: tuple[int, ...]) -> jax.Array:
    """Undo ``fold_batch`` on an output ``[N, *out_example]``."""
    return y.reshape((*batch, *y.shape[1:]))
