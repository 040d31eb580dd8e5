"""``summary``: a table of a model's layers with output shapes, parameter counts and bytes."""

from __future__ import annotations

import math

import jax

from fnnet.combinators import Sequential
from fnnet.core import Layer, Shape, describe, format_shape

__all__ = ["summary"]


def _abstract_init(layer: Layer, in_shape: Shape):
    holder = []

    def init(key):
        out_shape, params = layer.init(key, in_shape)
        holder.append(out_shape)
        return params

    params = jax.eval_shape(init, jax.random.key(0))
    return holder[0], params


def _rows(layer: Layer, in_shape: Shape, name: str):
    if isinstance(layer, Sequential):
        rows, shape = [], in_shape
        for i, child in enumerate(layer.layers):
            child_rows, shape = _rows(child, shape, f"{name}{i}" if not name else f"{name}.{i}")
            rows += child_rows
        return rows, shape
    out_shape, params = _abstract_init(layer, in_shape)
    leaves = jax.tree.leaves(params)
    count = sum(math.prod(leaf.shape) for leaf in leaves)
    nbytes = sum(math.prod(leaf.shape) * leaf.dtype.itemsize for leaf in leaves)
    return [(name or "0", describe(layer), format_shape(out_shape), count, nbytes)], out_shape


def summary(model: Layer, in_shape: Shape) -> str:
    """A text table of each layer: its path, config, per-example output shape, parameters and bytes.

    Nothing is computed: parameters are initialised abstractly with ``jax.eval_shape``.

    Args:
        model: the model.
        in_shape: the per-example input shape (no batch axis).

    Returns:
        The table, ending with the totals.
    """
    rows, out_shape = _rows(model, tuple(in_shape), "")
    total = sum(r[3] for r in rows)
    total_bytes = sum(r[4] for r in rows)
    header = ("path", "layer", "output", "params", "bytes")
    body = [(p, c if len(c) <= 48 else c[:45] + "...", o, f"{n:,}", f"{b:,}") for p, c, o, n, b in rows]
    footer = ("total", "", format_shape(out_shape), f"{total:,}", f"{total_bytes:,}")
    table = [header, *body, footer]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    rule = "  ".join("-" * w for w in widths)

    def line(r):
        return "  ".join(
            cell.rjust(w) if i >= 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))
        ).rstrip()

    return "\n".join([line(header), rule, *map(line, body), rule, line(footer)])
