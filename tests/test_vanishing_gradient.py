"""The vanishing-gradient experiment (001, 004): sigmoid's early layers get orders of magnitude less gradient.

The per-layer kernel gradient norms the experiment reports are checked against a NumPy backprop of the
same network from the same weights.
"""

import jax
import numpy as np
import pytest

import fnnet as fn
from experiments import vanishing_gradient as vg

DERIVATIVES = {  # activation -> (forward, derivative), in NumPy
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype)),
}


def numpy_kernel_gradient_norms(params, x, y, activation):
    """Backprop of mean softmax cross-entropy through Dense/activation layers, in float64 NumPy."""
    forward, slope = DERIVATIVES[activation]
    layers = [params[k] for k in sorted((k for k in params if params[k]), key=int)]
    kernels = [np.asarray(layer["kernel"], np.float64) for layer in layers]
    biases = [np.asarray(layer["bias"], np.float64) for layer in layers]
    inputs, pre = [np.asarray(x, np.float64)], []
    for w, b in zip(kernels[:-1], biases[:-1]):
        pre.append(inputs[-1] @ w + b)
        inputs.append(forward(pre[-1]))
    logits = inputs[-1] @ kernels[-1] + biases[-1]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(10)[y]) / len(x)  # d loss / d logits
    norms = []
    for i in range(len(kernels) - 1, -1, -1):
        norms.append(np.linalg.norm(inputs[i].T @ delta))
        if i:
            delta = (delta @ kernels[i].T) * slope(pre[i - 1])
    return norms[::-1]


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("vg")
    result = vg.main(["--out-dir", str(out), "--quiet", "--epochs", "1"])
    assert (out / "vanishing_gradient" / "vanishing_gradient.png").stat().st_size > 1000
    assert (out / "vanishing_gradient" / "metrics.json").exists()
    return result


def test_sigmoid_gradients_vanish_and_relus_do_not(metrics):
    assert metrics["sigmoid"]["ratio_init"] < 1e-2  # first layer > 100x smaller than the output layer
    assert metrics["sigmoid"]["ratio_trained"] < 1e-2
    for name in ("relu", "leaky_relu"):
        assert 0.1 < metrics[name]["ratio_init"] < 10
        assert 0.1 < metrics[name]["ratio_trained"] < 10
    assert len(metrics["sigmoid"]["init"]) == vg.DEFAULTS["depth"] + 1


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_reported_norms_match_a_numpy_backprop(metrics, activation):
    data = fn.data.load_tabular("digits", seed=0)
    x, y = vg.gradient_batch(data, vg.DEFAULTS["grad_examples"])
    params = vg.initial_params(vg.DEFAULTS["depth"], vg.DEFAULTS["width"], x.shape[1], 0)
    expected = numpy_kernel_gradient_norms(params, x, y, activation)
    np.testing.assert_allclose(metrics[activation]["init"], expected, rtol=2e-3)


def test_every_activation_starts_from_the_same_lecun_normal_weights():
    params = vg.initial_params(10, 32, 64, 0)
    kernel = np.asarray(params["0"]["kernel"])
    assert kernel.shape == (64, 32)
    assert np.std(kernel) == pytest.approx(1 / np.sqrt(64), rel=0.1)  # LeCun: variance 1 / fan_in
    again = vg.initial_params(10, 32, 64, 0)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), params, again))


def test_bad_depth_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--depth"):
        vg.main(["--out-dir", str(tmp_path), "--quiet", "--depth", "0"])
