"""Combinators that build models from layers: Sequential, Parallel and Residual.

Parameters and state of a combinator are dicts keyed by each child's position as a string
(``"0"``, ``"1"``, ...), the layout PyTorch's ``nn.Sequential`` uses for its state dict. A child without
state has no entry in the state dict, so a model without state has state ``{}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import jax
import jax.numpy as jnp

from fnnet.core import (
    Array,
    Layer,
    Params,
    Shape,
    ShapeError,
    State,
    as_layer,
    check_params,
    describe,
    format_shape,
)


def _child_key(key: Array | None, index: int) -> Array | None:
    return None if key is None else jax.random.fold_in(key, index)


class _Container(Layer):
    """Shared machinery for combinators holding a tuple of child layers in ``self.layers``."""

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer | Callable[..., Array] | list | tuple) -> None:
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])
        if not layers:
            raise ValueError(f"{type(self).__name__} needs at least one layer")
        object.__setattr__(self, "layers", tuple(as_layer(layer) for layer in layers))

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @overload
    def __getitem__(self, index: int) -> Layer: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Layer, ...]: ...
    def __getitem__(self, index: int | slice) -> Layer | tuple[Layer, ...]:
        return self.layers[index]

    @property
    def has_state(self) -> bool:
        return any(layer.has_state for layer in self.layers)

    def _init_child(self, index: int, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        try:
            return self.layers[index].init(key, tuple(in_shape))
        except ShapeError as err:
            raise err.within(f"{type(self).__name__}[{index}]") from None

    def _check_children(self, params: Params) -> None:
        """Each child's params under its position ``"0"``, ``"1"``, ...; the children check their own."""
        check_params(self, params, {str(i): None for i in range(len(self.layers))})

    def _apply_child(
        self, index: int, params: Params, state: State, x: Array, key: Array | None, training: bool
    ) -> tuple[Array, State]:
        name = str(index)
        layer = self.layers[index]
        try:
            return layer.apply_with_state(
                params[name], state.get(name, {}), x, key=_child_key(key, index), training=training
            )
        except ShapeError as err:
            raise err.within(f"{type(self).__name__}[{index}]") from None

    def _child_states(self, in_shapes: Sequence[Shape]) -> dict[str, State]:
        return {
            str(i): layer.init_state(s)
            for i, (layer, s) in enumerate(zip(self.layers, in_shapes, strict=True))
            if layer.has_state
        }

    def __repr__(self) -> str:
        inner = ", ".join(describe(layer) for layer in self.layers)
        return f"{type(self).__name__}({inner})"


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class Sequential(_Container):
    """Layers applied one after the other: ``Sequential(Dense(64), relu, Dense(10))``.

    Args:
        *layers: layers or plain functions (wrapped in ``Lambda``), in order.

    Params layout: ``{"0": params of layer 0, "1": ..., ...}``.
    """

    layers: tuple[Layer, ...]

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        params = {}
        shape = tuple(in_shape)
        for i in range(len(self.layers)):
            shape, params[str(i)] = self._init_child(i, jax.random.fold_in(key, i), shape)
        return shape, params

    def shapes(self, in_shape: Shape) -> list[Shape]:
        """The per-example input shape of each layer followed by the model's output shape."""
        out = [tuple(in_shape)]
        for i in range(len(self.layers)):
            holder: list[Shape] = []

            def init_one(
                k: Array, i: int = i, shape: Shape = out[-1], holder: list[Shape] = holder
            ) -> Params:
                s, p = self._init_child(i, k, shape)
                holder.append(s)
                return p

            jax.eval_shape(init_one, jax.random.key(0))
            out.append(holder[0])
        return out

    def init_state(self, in_shape: Shape) -> State:
        return self._child_states(self.shapes(in_shape)[:-1])

    def apply_with_state(
        self, params: Params, state: State, x: Array, *, key: Array | None = None, training: bool = False
    ) -> tuple[Array, State]:
        self._check_children(params)
        new_state = {}
        for i, layer in enumerate(self.layers):
            x, s = self._apply_child(i, params, state, x, key, training)
            if layer.has_state:
                new_state[str(i)] = s
        return x, new_state


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class Parallel(_Container):
    """Branches that all see the same input; their outputs are concatenated (or summed).

    Args:
        *layers: one layer (or function) per branch.
        merge: ``"concat"`` joins the outputs along the last axis (their other axes must agree);
            ``"sum"`` adds them (all shapes must agree).

    Params layout: ``{"0": params of branch 0, "1": ..., ...}``.
    """

    layers: tuple[Layer, ...]
    merge: str = "concat"

    def __init__(self, *layers: Layer | Callable[..., Array], merge: str = "concat") -> None:
        super().__init__(*layers)
        if merge not in ("concat", "sum"):
            raise ValueError(f"Parallel: merge must be 'concat' or 'sum', got {merge!r}")
        object.__setattr__(self, "merge", merge)

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        shapes, params = [], {}
        for i in range(len(self.layers)):
            shape, params[str(i)] = self._init_child(i, jax.random.fold_in(key, i), in_shape)
            shapes.append(shape)
        return self._merged_shape(shapes), params

    def _merged_shape(self, shapes: list[Shape]) -> Shape:
        first = shapes[0]
        if self.merge == "sum":
            if any(s != first for s in shapes):
                raise ShapeError(self, f"'sum' needs equal branch shapes, got {shapes}")
            return first
        if any(len(s) == 0 or s[:-1] != first[:-1] for s in shapes):
            listed = ", ".join(format_shape(s) for s in shapes)
            raise ShapeError(self, f"'concat' needs branch shapes equal but for the last axis: {listed}")
        return (*first[:-1], sum(s[-1] for s in shapes))

    def init_state(self, in_shape: Shape) -> State:
        return self._child_states([in_shape] * len(self.layers))

    def apply_with_state(
        self, params: Params, state: State, x: Array, *, key: Array | None = None, training: bool = False
    ) -> tuple[Array, State]:
        self._check_children(params)
        outputs, new_state = [], {}
        for i, layer in enumerate(self.layers):
            y, s = self._apply_child(i, params, state, x, key, training)
            outputs.append(y)
            if layer.has_state:
                new_state[str(i)] = s
        if self.merge == "sum":
            return sum(outputs[1:], outputs[0]), new_state
        return jnp.concatenate(outputs, axis=-1), new_state

    def __repr__(self) -> str:
        inner = ", ".join(describe(layer) for layer in self.layers)
        return f"Parallel({inner}, merge={self.merge!r})"


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class Residual(_Container):
    """A skip connection: ``y = x + layer(x)``; the layer must keep the shape of its input.

    Args:
        layer: the layer (or a sequence of layers, run in order) on the residual branch.

    Params layout: ``{"0": params of the branch}``.
    """

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer | Callable[..., Array]) -> None:
        branch = Sequential(*layers) if len(layers) > 1 else layers[0]
        super().__init__(branch)

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        out_shape, params = self._init_child(0, jax.random.fold_in(key, 0), in_shape)
        if tuple(out_shape) != tuple(in_shape):
            raise ShapeError(
                self,
                f"the branch maps {format_shape(in_shape)} to {format_shape(out_shape)}; "
                "a residual branch must keep the shape",
            )
        return tuple(in_shape), {"0": params}

    def init_state(self, in_shape: Shape) -> State:
        return self._child_states([in_shape])

    def apply_with_state(
        self, params: Params, state: State, x: Array, *, key: Array | None = None, training: bool = False
    ) -> tuple[Array, State]:
        self._check_children(params)
        y, s = self._apply_child(0, params, state, x, key, training)
        return x + y, ({"0": s} if self.layers[0].has_state else {})
