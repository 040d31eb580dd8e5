"""Layers by family."""

from fnnet.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from fnnet.layers.dense import Dense, Perceptron
from fnnet.layers.embedding import Embedding
from fnnet.layers.recurrent import RNN

__all__ = ["Dense", "Embedding", "GRUCell", "LSTMCell", "Perceptron", "RNN", "SimpleRNNCell"]
