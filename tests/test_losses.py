"""Losses against NumPy, their stability at extreme logits, and their shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import ShapeError, losses

rng = np.random.default_rng(0)
P = rng.normal(size=(6, 3)).astype(np.float32)
T = rng.normal(size=(6, 3)).astype(np.float32)


def test_regression_losses_match_numpy():
    np.testing.assert_allclose(losses.sum_squared_residuals(P, T), np.sum((T - P) ** 2), rtol=1e-5)
    np.testing.assert_allclose(losses.mean_squared_error(P, T), np.mean((T - P) ** 2), rtol=1e-5)
    np.testing.assert_allclose(losses.mean_absolute_error(P, T), np.mean(np.abs(T - P)), rtol=1e-5)


def test_course_ssr_example():
    # Residuals 1, -2, 0.5 -> SSR = 1 + 4 + 0.25.
    assert float(losses.sum_squared_residuals(jnp.array([1.0, 2.0, 3.0]), jnp.array([2.0, 0.0, 3.5]))) == 5.25


def test_binary_cross_entropy_matches_numpy_both_forms():
    logits = rng.normal(size=(8, 1)).astype(np.float32) * 3
    t = (rng.random((8, 1)) > 0.5).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    want = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(losses.binary_cross_entropy_with_logits(logits, t), want, rtol=1e-5)
    np.testing.assert_allclose(losses.binary_cross_entropy(p.astype(np.float32), t), want, rtol=1e-4)


def test_softmax_cross_entropy_integer_and_one_hot_labels_match_numpy():
    logits = rng.normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2])
    z = logits.astype(np.float64)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -np.mean(log_p[np.arange(5), labels])
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels), want, rtol=1e-5)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, one_hot), want, rtol=1e-5)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropies_stay_finite_at_huge_logits(scale):
    logits = jnp.array([[scale, -scale, 0.0]])
    for labels in (jnp.array([1]), jnp.array([[0.0, 1.0, 0.0]])):
        value, grad = jax.value_and_grad(losses.softmax_cross_entropy)(logits, labels)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        # The true class (index 1) has logit -scale against a maximum of |scale|.
        np.testing.assert_allclose(value, 2e4 if scale > 0 else 0.0, rtol=1e-6, atol=1e-6)
    x = jnp.array([scale, -scale])
    t = jnp.array([0.0, 1.0])
    value, grad = jax.value_and_grad(losses.binary_cross_entropy_with_logits)(x, t)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    # For scale > 0 both examples are confidently wrong (each costs |logit|); for scale < 0 both right.
    np.testing.assert_allclose(value, max(scale, 0.0), rtol=1e-6, atol=1e-6)
    assert np.isfinite(losses.binary_cross_entropy(jnp.array([1.0, 0.0]), t))


def test_mismatched_shapes_raise_instead_of_broadcasting():
    with pytest.raises(ShapeError, match=r"mean_squared_error.*\[4, 1\].*\[4\].*targets\[..., None\]"):
        losses.mean_squared_error(jnp.zeros((4, 1)), jnp.zeros(4))
    with pytest.raises(ShapeError, match=r"softmax_cross_entropy.*integer labels.*\[3\], got \[3, 1\]"):
        losses.softmax_cross_entropy(jnp.zeros((3, 5)), jnp.zeros((3, 1), jnp.int32))
