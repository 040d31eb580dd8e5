"""Pins the public surface: adding or removing a name must be a deliberate change to this list."""

import fnnet

EXPECTED = {
    "Autoencoder",
    "AvgPool",
    "BatchNorm",
    "CheckpointManager",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Embedding",
    "FitResult",
    "Flatten",
    "GRUCell",
    "GaussianNoise",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "GradientDescentResult",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNorm",
    "MaskingNoise",
    "MaxPool",
    "NonFiniteLossError",
    "Parallel",
    "Perceptron",
    "PerceptronFit",
    "RBM",
    "RNN",
    "Reshape",
    "Residual",
    "Sequential",
    "ShapeError",
    "SimpleRNNCell",
    "TrainState",
    "__version__",
    "activations",
    "argmax",
    "as_layer",
    "bench",
    "checkpoint",
    "convert",
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
    "parallel",
    "perceptron_rule",
    "predict",
    "privacy",
    "progress",
    "relu",
    "retain_freed_memory",
    "sampling",
    "sigmoid",
    "softmax",
    "softplus",
    "step",
    "summary",
    "tanh",
    "unsupervised",
    "zoo",
}


def test_all_is_exactly_the_expected_surface():
    assert set(fnnet.__all__) == EXPECTED
    assert list(fnnet.__all__) == sorted(fnnet.__all__)


def test_every_public_name_exists_and_has_a_docstring():
    for name in fnnet.__all__:
        obj = getattr(fnnet, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"fnnet.{name} has no docstring"
