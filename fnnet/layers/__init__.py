"""Layers by family."""

from fnnet.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from fnnet.layers.conv import Conv, ConvTranspose
from fnnet.layers.dense import Dense, Perceptron
from fnnet.layers.dropout import Dropout
from fnnet.layers.embedding import Embedding
from fnnet.layers.noise import GaussianNoise, MaskingNoise
from fnnet.layers.normalization import BatchNorm, LayerNorm
from fnnet.layers.pool import AvgPool, GlobalAvgPool, GlobalMaxPool, MaxPool
from fnnet.layers.recurrent import RNN
from fnnet.layers.reshape import Flatten, Reshape

__all__ = [
    "AvgPool",
    "BatchNorm",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GaussianNoise",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "LSTMCell",
    "LayerNorm",
    "MaskingNoise",
    "MaxPool",
    "Perceptron",
    "RNN",
    "Reshape",
    "SimpleRNNCell",
]
