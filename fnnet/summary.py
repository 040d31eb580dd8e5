"""``summary``: a table of a model's layers with output shapes, parameter and state counts, and bytes.

Combinators (``Sequential``, ``Parallel``, ``Residual``) are expanded: a row for the combinator, then
its children indented under it, each row's path the keys into the parameter dict (``"2.0.1"`` is
``params["2"]["0"]["1"]``; ``.`` is a model that is not a ``Sequential``). Parameters are trainable;
state (BatchNorm's running mean and variance) is counted as non-trainable. Long layer configs
wrap after an argument, never inside one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax

from fnnet.combinators import Parallel, Residual, Sequential
from fnnet.core import Layer, Params, Shape, describe, format_shape

__all__ = ["summary"]

_LAYER_WIDTH = 48  # the widest the layer column gets, indentation included
_STEP = 2  # indentation per level of nesting


class _Row(NamedTuple):
    path: str
    depth: int
    label: str
    out_shape: Shape
    params: int | None  # None for a combinator's own row (its children carry the counts)
    state: int | None  # None for a layer without state
    nbytes: int


def _count(tree: Any) -> tuple[int, int]:
    """(number of entries, bytes) of a pytree of shaped arrays (parameters or state)."""
    leaves = jax.tree.leaves(tree)
    return sum(math.prod(x.shape) for x in leaves), sum(math.prod(x.shape) * x.dtype.itemsize for x in leaves)


def _abstract_init(layer: Layer, in_shape: Shape) -> tuple[Shape, Params]:
    holder: list[Shape] = []

    def init(key: jax.Array) -> Params:
        out_shape, params = layer.init(key, in_shape)
        holder.append(out_shape)
        return params

    params = jax.eval_shape(init, jax.random.key(0))
    return holder[0], params


def _leaf_row(layer: Layer, in_shape: Shape, path: str, depth: int) -> _Row:
    out_shape, params = _abstract_init(layer, in_shape)
    count, nbytes = _count(params)
    state = None
    if layer.has_state:
        state, state_bytes = _count(jax.eval_shape(lambda: layer.init_state(in_shape)))
        nbytes += state_bytes
    return _Row(path, depth, describe(layer), tuple(out_shape), count, state, nbytes)


def _container_label(layer: Layer) -> str:
    """``Residual``, ``Parallel(merge='sum')``: the class and every field but the children."""
    fields = [f"{f.name}={getattr(layer, f.name)!r}" for f in dataclasses.fields(layer) if f.name != "layers"]
    return f"{type(layer).__name__}({', '.join(fields)})" if fields else type(layer).__name__


def _rows(layer: Layer, in_shape: Shape, path: str, depth: int, own_row: bool = True) -> list[_Row]:
    """The rows of ``layer`` and, for a combinator, of its children one level deeper."""
    if not isinstance(layer, Sequential | Parallel | Residual):
        return [_leaf_row(layer, in_shape, path or ".", depth)]
    rows = []
    if own_row:
        out_shape, _ = _abstract_init(layer, in_shape)
        rows.append(_Row(path or ".", depth, _container_label(layer), tuple(out_shape), None, None, 0))
    shape, child_depth = tuple(in_shape), depth + int(own_row)
    for i, child in enumerate(layer.layers):
        child_path = f"{path}.{i}" if path else str(i)
        child_rows = _rows(child, shape if isinstance(layer, Sequential) else tuple(in_shape), child_path,
                           child_depth)  # fmt: skip
        rows += child_rows
        if isinstance(layer, Sequential):
            shape = child_rows[0].out_shape
    return rows


def _arguments(text: str) -> list[str]:
    """``"Conv(a=1, b=(2, 3))"`` -> ``["Conv(a=1,", "b=(2, 3))"]``: split after top-level commas."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 1 and text[i + 1 : i + 2] == " ":
            parts.append(text[start : i + 1])
            start = i + 2
    return [*parts, text[start:]]


def _wrap(label: str, indent: int) -> list[str]:
    """The label as lines of at most ``_LAYER_WIDTH`` (a single over-long argument stays whole)."""
    lines: list[str] = []
    for word in _arguments(label):
        lead = " " * (indent + (2 * _STEP if lines else 0))
        if lines and len(lines[-1]) + 1 + len(word) <= _LAYER_WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(lead + word)
    return lines


def _table(rows: list[_Row], out_shape: Shape) -> list[str]:
    def number(n: int | None) -> str:
        return "" if n is None else f"{n:,}"

    body = []
    for r in rows:
        first, *rest = _wrap(r.label, r.depth * _STEP)
        counts = (number(r.params), number(r.state), number(r.nbytes if r.params is not None else None))
        body.append((r.path, first, format_shape(r.out_shape), *counts))
        body += [("", more, "", "", "", "") for more in rest]
    leaves = [r for r in rows if r.params is not None]
    totals = [
        sum(r.params or 0 for r in leaves),
        sum(r.state or 0 for r in leaves),
        sum(r.nbytes for r in leaves),
    ]
    header = ("path", "layer", "output", "params", "state", "bytes")
    footer = ("total", "", format_shape(out_shape), *(f"{n:,}" for n in totals))
    widths = [max(len(r[i]) for r in (header, *body, footer)) for i in range(6)]
    rule = "  ".join("-" * w for w in widths)

    def line(r: tuple[str, ...]) -> str:
        cells = (c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        return "  ".join(cells).rstrip()

    return [line(header), rule, *map(line, body), rule, line(footer)]


def summary(model: Layer, in_shape: Shape) -> str:
    """A text table of each layer: its path, config, per-example output shape, parameters, state, bytes.

    Nothing is computed: parameters and state are initialised abstractly with ``jax.eval_shape``.
    Under the table: total, trainable and non-trainable parameter counts (the non-trainable ones are
    state such as BatchNorm's running statistics, updated by the forward pass, not by the optimizer).

    Args:
        model: the model.
        in_shape: the per-example input shape (no batch axis).

    Returns:
        The table, its totals row and the three count lines.
    """
    in_shape = tuple(in_shape)
    rows = _rows(model, in_shape, "", 0, own_row=not isinstance(model, Sequential))
    out_shape, _ = _abstract_init(model, in_shape)
    leaves = [r for r in rows if r.params is not None]
    trainable, state = sum(r.params or 0 for r in leaves), sum(r.state or 0 for r in leaves)
    why = " (state: running statistics, not trained by the optimizer)" if state else ""
    counts = [
        f"total params: {trainable + state:,}",
        f"trainable params: {trainable:,}",
        f"non-trainable params: {state:,}{why}",
    ]
    return "\n".join([*_table(rows, tuple(out_shape)), "", *counts])
