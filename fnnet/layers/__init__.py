"""Layers by family."""

from fnnet.layers.conv import Conv, ConvTranspose
from fnnet.layers.dense import Dense, Perceptron
from fnnet.layers.dropout import Dropout
from fnnet.layers.normalization import BatchNorm, LayerNorm
from fnnet.layers.pool import AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool
from fnnet.layers.reshape import Flatten, Reshape

__all__ = [
    "AvgPool",
    "BatchNorm",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "LayerNorm",
    "MaxPool",
    "Perceptron",
    "Reshape",
]
