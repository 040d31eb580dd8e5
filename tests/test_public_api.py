"""Pins the public surface: adding or removing a name must be a deliberate change to this list."""

import fnnet

EXPECTED = {
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
}


def test_all_is_exactly_the_expected_surface():
    assert set(fnnet.__all__) == EXPECTED
    assert list(fnnet.__all__) == sorted(fnnet.__all__)


def test_every_public_name_exists_and_has_a_docstring():
    for name in fnnet.__all__:
        obj = getattr(fnnet, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"fnnet.{name} has no docstring"
