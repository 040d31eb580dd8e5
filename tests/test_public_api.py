"""Pins the public surface: adding or removing a name must be a deliberate change to this list."""

import fnnet

EXPECTED = {
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
}


def test_all_is_exactly_the_expected_surface():
    assert set(fnnet.__all__) == EXPECTED
    assert list(fnnet.__all__) == sorted(fnnet.__all__)


def test_every_public_name_exists_and_has_a_docstring():
    for name in fnnet.__all__:
        obj = getattr(fnnet, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"fnnet.{name} has no docstring"
