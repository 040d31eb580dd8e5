"""A registry of named models, for ``fnnet summary NAME`` and quick experiments.

Each entry is a factory ``() -> Layer`` with the per-example input shape it expects. Families
register their own models here with ``register`` (e.g. ``"cnn"``, ``"lstm"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fnnet.activations import relu
from fnnet.combinators import Sequential
from fnnet.core import Layer, Shape
from fnnet.layers import Dense, Perceptron

__all__ = ["ZooEntry", "get", "names", "register"]


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """A named model: ``factory()`` builds it; it takes per-example inputs of ``in_shape``."""

    name: str
    factory: Callable[[], Layer]
    in_shape: Shape
    description: str


_REGISTRY: dict[str, ZooEntry] = {}


def register(name: str, factory: Callable[[], Layer], in_shape: Shape, description: str) -> None:
    """Add a model to the zoo.

    Args:
        name: its name (lower case, unique).
        factory: a function of no arguments returning the model.
        in_shape: the per-example input shape it expects.
        description: one line for ``fnnet summary`` listings.
    """
    if name in _REGISTRY:
        raise ValueError(f"zoo: a model named {name!r} is already registered")
    _REGISTRY[name] = ZooEntry(name, factory, tuple(in_shape), description)


def names() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> ZooEntry:
    """The zoo entry called ``name``.

    Raises:
        KeyError: no such model (the message lists the available ones).
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(names())}")
    return _REGISTRY[name]


register(
    "mlp",
    lambda: Sequential(Dense(512), relu, Dense(512), relu, Dense(10)),
    (784,),
    "the MNIST MLP 784-512-512-10 with ReLU",
)
register("perceptron", lambda: Perceptron(1), (2,), "Rosenblatt's perceptron on 2 inputs")
