"""Activations against NumPy formulas (GELU against PyTorch), and the step's straight-through gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn

X = np.linspace(-6, 6, 25).astype(np.float32)

REFERENCES = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "identity": lambda x: x,
    "step": lambda x: np.heaviside(x, 1.0),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_elementwise_activation_matches_numpy(name):
    got = getattr(fn.activations, name)(jnp.asarray(X))
    np.testing.assert_allclose(got, REFERENCES[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_gelu_exact_matches_erf_formula():
    from math import erf, sqrt

    want = np.array([v * 0.5 * (1 + erf(v / sqrt(2))) for v in X.astype(np.float64)])
    np.testing.assert_allclose(fn.activations.gelu(jnp.asarray(X)), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("approximate, torch_mode", [(False, "none"), (True, "tanh")])
def test_gelu_both_modes_match_pytorch(approximate, torch_mode):
    import torch

    want = torch.nn.functional.gelu(torch.tensor(X, dtype=torch.float64), approximate=torch_mode).numpy()
    got = fn.activations.gelu(jnp.asarray(X), approximate=approximate)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gelu_tanh_approximation_differs_from_the_exact_form():
    x = jnp.asarray(X)
    gap = np.abs(np.asarray(fn.activations.gelu(x, approximate=True) - fn.activations.gelu(x)))
    assert gap.max() > 1e-4  # the two modes are distinguishable at the tolerance above


def test_softmax_and_log_softmax_match_numpy_and_sum_to_one():
    z = np.random.default_rng(0).normal(size=(4, 7)).astype(np.float32) * 5
    e = np.exp(z - z.max(-1, keepdims=True))
    want = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(fn.activations.softmax(jnp.asarray(z)), want, rtol=1e-5)
    np.testing.assert_allclose(fn.activations.log_softmax(jnp.asarray(z)), np.log(want), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fn.activations.softmax(jnp.asarray(z)).sum(-1), np.ones(4), rtol=1e-6)


def test_softmax_is_finite_for_huge_logits():
    z = jnp.array([[1e4, -1e4, 0.0]])
    assert np.all(np.isfinite(fn.activations.softmax(z))) and np.all(
        np.isfinite(fn.activations.log_softmax(z)[0, :1])
    )


def test_argmax_picks_the_largest_score():
    z = np.array([[0.1, 0.7, 0.2], [3.0, -1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(fn.activations.argmax(jnp.asarray(z)), np.argmax(z, -1))


def test_step_gradient_is_zero_but_straight_through_passes_it():
    assert float(jax.grad(lambda x: fn.activations.step(x))(0.3)) == 0.0
    assert float(jax.grad(lambda x: fn.activations.step(x, straight_through=True))(0.3)) == 1.0
    assert float(fn.activations.step(jnp.float32(0.3), straight_through=True)) == 1.0


@pytest.mark.parametrize("at_zero", [1.0, 0.0, 0.5])
def test_step_at_exactly_zero_is_numpy_heaviside_h0(at_zero):
    z = np.array([-2.0, -0.0, 0.0, 1e-7, 3.0], np.float32)
    got = fn.activations.step(jnp.asarray(z), at_zero=at_zero)
    np.testing.assert_array_equal(got, np.heaviside(z, at_zero).astype(np.float32))


def test_step_default_is_the_course_rule_z_at_least_zero_gives_one():
    # 003, "Perceptron Operations": if z >= 0 the output is 1
    assert float(fn.activations.step(jnp.float32(0.0))) == 1.0
    assert float(fn.activations.step(jnp.float32(-1e-7))) == 0.0


@pytest.mark.parametrize("at_zero", [1.0, 0.0])
def test_step_straight_through_at_zero_keeps_the_value_and_passes_the_gradient(at_zero):
    hard = fn.activations.step(jnp.float32(0.0), straight_through=True, at_zero=at_zero)
    assert float(hard) == at_zero
    assert float(jax.grad(lambda x: fn.activations.step(x, at_zero=at_zero))(0.0)) == 0.0
    grad = jax.grad(lambda x: fn.activations.step(x, straight_through=True, at_zero=at_zero))(0.0)
    assert float(grad) == 1.0


def test_step_rejects_an_at_zero_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"step: at_zero must be in \[0, 1\], got 2"):
        fn.activations.step(jnp.float32(0.0), at_zero=2.0)


def test_aliases_are_the_same_functions():
    assert (
        fn.activations.logistic is fn.activations.sigmoid and fn.activations.heaviside is fn.activations.step
    )
