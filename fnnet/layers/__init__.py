"""Layers by family."""

from fnnet.layers.dense import Dense, Perceptron
from fnnet.layers.noise import GaussianNoise, MaskingNoise

__all__ = ["Dense", "GaussianNoise", "MaskingNoise", "Perceptron"]
