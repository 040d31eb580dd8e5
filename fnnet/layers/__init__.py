"""Layers by family."""

from fnnet.layers.dense import Dense, Perceptron

__all__ = ["Dense", "Perceptron"]
