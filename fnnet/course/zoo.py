"""A registry of named models, for ``fnnet summary NAME`` and quick experiments.

Each entry is a factory ``() -> Layer`` with the per-example input shape it expects. Families
register their own models here with ``register`` (e.g. ``"cnn"``, ``"lstm"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fnnet.activations import relu, softmax
from fnnet.combinators import Sequential
from fnnet.core import Layer, Shape
from fnnet.layers import Dense, Perceptron

__all__ = ["ZooEntry", "get", "names", "register", "stock_index", "ticket_priority"]


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


def stock_index(hidden: int = 16) -> Layer:
    """The course's design quiz, scenario 1: predict a stock market index (e.g. the DOW) from 30 features.

    From 003_57e07c46f1bd5fd4.txt, "Quiz: Design Neural Networks" and "Feedforward Network Sizing Summary".
    It is a regression (the output is a number, the index's price), so by the course's sizing rules:

    - input layer: one unit per input dimension, 30;
    - hidden layer: "flexible" (size depends on training sample, input features and outputs): ``hidden``
      ReLU units;
    - output layer: regression takes "1 single neuron (continuous output)": ``Dense(1)``, no activation.

    Shapes: ``x: [B, 30] -> y: [B, 1]``, the predicted index.
    """
    return Sequential(Dense(hidden), relu, Dense(1))


def ticket_priority(hidden: int = 16) -> Layer:
    """The course's design quiz, scenario 2: a ticket's priority High / Medium / Low from 10 features.

    From 003_57e07c46f1bd5fd4.txt, "Quiz: Design Neural Networks" and "Feedforward Network Sizing Summary".
    It is a multi-class classification (three classes), so by the course's sizing rules:

    - input layer: one unit per input dimension, 10 (the features selected from a ticket's 25);
    - hidden layer: "flexible": ``hidden`` ReLU units;
    - output layer: multi-class takes a "Softmax Layer" of "1 node per class label": ``Dense(3)`` then
      ``softmax``, three probabilities that sum to 1; the predicted priority is their argmax.

    Shapes: ``x: [B, 10] -> p: [B, 3]`` (High, Medium, Low).
    """
    return Sequential(Dense(hidden), relu, Dense(3), softmax)


register("stock_index", stock_index, (30,), "design quiz 1 (003): 30 features -> 1 linear unit (regression)")
register(
    "ticket_priority", ticket_priority, (10,), "design quiz 2 (003): 10 features -> softmax over 3 priorities"
)
