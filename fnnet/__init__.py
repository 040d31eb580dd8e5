"""fnnet: pure-functional neural networks on JAX.

A model is an immutable config; ``init(key, in_shape) -> (out_shape, params)`` and
``apply(params, x) -> y`` are pure functions of a parameter pytree, so ``jax.jit``, ``jax.grad``,
``jax.vmap`` and any optax optimizer work on them directly.
"""

from fnnet import activations, data, initializers, losses, metrics
from fnnet.activations import (
    argmax,
    elu,
    gelu,
    heaviside,
    identity,
    leaky_relu,
    log_softmax,
    logistic,
    relu,
    sigmoid,
    softmax,
    softplus,
    step,
    tanh,
)
from fnnet.combinators import Parallel, Residual, Sequential
from fnnet.core import Lambda, Layer, ShapeError, as_layer
from fnnet.fit import EarlyStopping, FitResult, NonFiniteLossError, fit
from fnnet.gradient_descent import GradientDescentResult, gradient_descent
from fnnet.layers import Dense, GaussianNoise, MaskingNoise, Perceptron
from fnnet.perceptron_rule import PerceptronFit, perceptron_rule
from fnnet.summary import summary
from fnnet.train import (
    TrainState,
    evaluate,
    init_train_state,
    make_step_fn,
    make_train_step,
    predict,
)
from fnnet.unsupervised import RBM, Autoencoder

__version__ = "0.1.0"

__all__ = [
    "Autoencoder",
    "Dense",
    "EarlyStopping",
    "FitResult",
    "GaussianNoise",
    "GradientDescentResult",
    "Lambda",
    "Layer",
    "MaskingNoise",
    "NonFiniteLossError",
    "Parallel",
    "Perceptron",
    "PerceptronFit",
    "RBM",
    "Residual",
    "Sequential",
    "ShapeError",
    "TrainState",
    "__version__",
    "activations",
    "argmax",
    "as_layer",
    "data",
    "elu",
    "evaluate",
    "fit",
    "gelu",
    "gradient_descent",
    "heaviside",
    "identity",
    "init_train_state",
    "initializers",
    "leaky_relu",
    "log_softmax",
    "logistic",
    "losses",
    "make_step_fn",
    "make_train_step",
    "metrics",
    "perceptron_rule",
    "predict",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "step",
    "summary",
    "tanh",
    "unsupervised",
]
