"""fnnet: pure-functional neural networks on JAX.

A model is an immutable config; ``init(key, in_shape) -> (out_shape, params)`` and
``apply(params, x) -> y`` are pure functions of a parameter pytree, so ``jax.jit``, ``jax.grad``,
``jax.vmap`` and any optax optimizer work on them directly.

The top level holds the layer protocol, the layers and combinators, and training (``fit``, the step,
``TrainState``); everything else is a namespace. The modules, in the README's order:

- **The layer protocol**: ``fnnet.core`` (``Layer``, ``Lambda``, ``ShapeError``) and ``fnnet.combinators``
  (``Sequential``, ``Parallel``, ``Residual``); ``fnnet.summary`` prints the model table.
- **Layers** (``fnnet.layers``): dense ``fnnet.layers.dense``; convolutional (NHWC, HWIO)
  ``fnnet.layers.conv`` with its kernels ``fnnet.layers.conv_impls``, ``fnnet.layers.pool``,
  ``fnnet.layers.reshape``; regularisation and normalisation ``fnnet.layers.dropout``,
  ``fnnet.layers.normalization``, ``fnnet.layers.noise``; recurrent (``[B, T, F]``) ``fnnet.layers.cells``,
  ``fnnet.layers.recurrent``, ``fnnet.layers.embedding``, the fused scans ``fnnet.layers.fused`` and the
  cuDNN LSTM ``fnnet.layers.cudnn``; ``fnnet.sampling`` draws text from a character model.
- **Unsupervised networks** (``fnnet.unsupervised``): ``fnnet.unsupervised.autoencoder``,
  ``fnnet.unsupervised.pca``, ``fnnet.unsupervised.gan``, ``fnnet.unsupervised.rbm``,
  ``fnnet.unsupervised.dbn``.
- **Functions**: ``fnnet.activations``, ``fnnet.losses``, ``fnnet.metrics``.
- **Training** (``fnnet.training``): ``fnnet.training.fit``, ``fnnet.training.state``,
  ``fnnet.training.step`` (the one step builder), ``fnnet.training.epochs`` (``EpochPlan``),
  ``fnnet.training.stopping`` (``StopRule``), the callbacks ``fnnet.training.callbacks`` and
  ``fnnet.training.progress``, metric logs ``fnnet.training.metric_logs``, streamed data
  ``fnnet.training.streams`` and ``fnnet.training.batches``, ``fnnet.training.evaluation``,
  ``fnnet.training.validation``.
- **Mixed precision**: ``fnnet.precision`` (``Mixed``, ``Policy``, ``DynamicLossScale``): float32
  parameters with bfloat16 or float16 compute, around any model.
- **The course's algorithms** (``fnnet.course``): ``fnnet.course.perceptron_rule``,
  ``fnnet.course.gradient_descent``, ``fnnet.course.zoo``.
- **Data** (``fnnet.data``): ``fnnet.data.arrays``, ``fnnet.data.tabular``, ``fnnet.data.idx`` (MNIST),
  ``fnnet.data.sequences``.
- **Tools**: the command line ``fnnet.cli``, checkpoints ``fnnet.training.checkpoint`` (safetensors files
  ``fnnet.training.tensorfile``, model configs ``fnnet.configs``), interop
  (``fnnet.interop``) with the scikit-learn estimators ``fnnet.interop.sklearn``, data parallelism
  ``fnnet.training.parallel``, DP-SGD ``fnnet.training.privacy``, benchmarking ``fnnet.bench``
  (``fnnet.bench.timing``, ``fnnet.bench.models``, ``fnnet.bench.device``, ``fnnet.bench.host_memory``)
  and the PyTorch layouts ``fnnet.interop.torch``.
- **Initialisers**: ``fnnet.initializers``.
"""

from fnnet import (
    activations,
    bench,
    configs,
    course,
    data,
    initializers,
    interop,
    layers,
    losses,
    metrics,
    precision,
    sampling,
    training,
    unsupervised,
)
from fnnet.combinators import Parallel, Residual, Sequential
from fnnet.core import Lambda, Layer, ShapeError, as_layer
from fnnet.layers import (
    RNN,
    AvgPool,
    BatchNorm,
    Conv,
    ConvTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GaussianNoise,
    GlobalAvgPool,
    GlobalMaxPool,
    GRUCell,
    LayerNorm,
    LSTMCell,
    MaskingNoise,
    MaxPool,
    Perceptron,
    Reshape,
    SimpleRNNCell,
)
from fnnet.summary import summary
from fnnet.training import (
    FitResult,
    TrainState,
    evaluate,
    fit,
    init_train_state,
    make_step_fn,
    make_train_step,
    predict,
)

__version__ = "0.1.0"

__all__ = [
    "AvgPool",
    "BatchNorm",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Dropout",
    "Embedding",
    "FitResult",
    "Flatten",
    "GRUCell",
    "GaussianNoise",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNorm",
    "MaskingNoise",
    "MaxPool",
    "Parallel",
    "Perceptron",
    "RNN",
    "Reshape",
    "Residual",
    "Sequential",
    "ShapeError",
    "SimpleRNNCell",
    "TrainState",
    "__version__",
    "activations",
    "as_layer",
    "bench",
    "configs",
    "course",
    "data",
    "evaluate",
    "fit",
    "init_train_state",
    "initializers",
    "interop",
    "layers",
    "losses",
    "make_step_fn",
    "make_train_step",
    "metrics",
    "precision",
    "predict",
    "sampling",
    "summary",
    "training",
    "unsupervised",
]
