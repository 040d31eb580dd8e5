"""Losses against NumPy, their stability at extreme logits, and their shape errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

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


# Every logit of the grid against every target: exactly 0, just either side of it, moderate, saturated, huge.
BCE_LOGITS = [0.0, 1e-8, -1e-8, 1.0, -1.0, 3.5, 20.0, -20.0, 1e4, -1e4]
BCE_TARGETS = [0.0, 1.0, 0.5, 0.25]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_cross_entropy_with_logits_values_and_gradients_match_torch(dtype):
    x = np.repeat(BCE_LOGITS, len(BCE_TARGETS)).astype(dtype)
    t = np.tile(BCE_TARGETS, len(BCE_LOGITS)).astype(dtype)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    want = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(t, dtype=torch.float64))
    want.backward()
    # Each entry on its own (a mean over one entry is that entry's loss) as well as the batch mean.
    each = torch.nn.functional.binary_cross_entropy_with_logits(
        tx.detach(), torch.tensor(t, dtype=torch.float64), reduction="none"
    ).numpy()
    tol = {"float32": dict(rtol=2e-6, atol=1e-7), "float64": dict(rtol=1e-12, atol=1e-15)}[dtype]
    with jax.enable_x64(dtype == "float64"):
        xs, ts = jnp.asarray(x), jnp.asarray(t)
        assert xs.dtype == dtype
        value, grad = jax.value_and_grad(losses.binary_cross_entropy_with_logits)(xs, ts)
        single = jax.vmap(lambda a, b: losses.binary_cross_entropy_with_logits(a[None], b[None]))(xs, ts)
        np.testing.assert_allclose(np.asarray(single), each, **tol)
        np.testing.assert_allclose(float(value), want.item(), **tol)
        # The gradient is (sigmoid(x) - t) / n; at logit 0 it is (0.5 - t) / n.
        np.testing.assert_allclose(np.asarray(grad), tx.grad.numpy(), **tol)
        assert grad.dtype == dtype


def test_softmax_cross_entropy_integer_and_one_hot_labels_match_numpy():
    logits = rng.normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2])
    z = logits.astype(np.float64)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -np.mean(log_p[np.arange(5), labels])
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels), want, rtol=1e-5)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, one_hot), want, rtol=1e-5)


# Out of 0..K-1 for K = 4: just below, wrapping candidates (-1 would pick class K-1), K, far out.
BAD_LABELS = [-1, -4, -5, 4, 5, 2**30, -(2**31)]


def _reference_softmax_ce(logits, labels):
    z = np.asarray(logits, np.float64)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


@pytest.mark.parametrize("bad", BAD_LABELS)
def test_softmax_cross_entropy_refuses_concrete_out_of_range_labels(bad):
    logits = rng.normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 3, bad, 1, 2], np.int32)
    match = rf"softmax_cross_entropy: integer labels must be in 0..3 \(4 classes\), found {bad}"
    with pytest.raises(ValueError, match=match):
        losses.softmax_cross_entropy(logits, labels)
    # Differentiating with respect to the logits keeps the labels concrete: still checked.
    with pytest.raises(ValueError, match=match):
        jax.grad(losses.softmax_cross_entropy)(jnp.asarray(logits), jnp.asarray(labels))


def test_softmax_cross_entropy_under_jit_gives_nan_for_each_out_of_range_label():
    logits = rng.normal(size=(len(BAD_LABELS) + 4, 4)).astype(np.float32)
    good = np.array([0, 1, 2, 3], np.int32)
    labels = np.concatenate([np.array(BAD_LABELS, np.int32), good])
    per_example = jax.jit(jax.vmap(lambda z, c: losses.softmax_cross_entropy(z[None], c[None])))
    got = np.asarray(per_example(logits, labels))
    assert np.all(np.isnan(got[: len(BAD_LABELS)])), got  # never another class's loss
    np.testing.assert_allclose(got[len(BAD_LABELS) :], _reference_softmax_ce(logits[-4:], good), rtol=1e-5)
    batch = jax.jit(losses.softmax_cross_entropy)
    assert np.isnan(float(batch(logits, labels)))
    np.testing.assert_allclose(
        batch(logits[-4:], good), _reference_softmax_ce(logits[-4:], good).mean(), rtol=1e-5
    )
    value, grad = jax.jit(jax.value_and_grad(losses.softmax_cross_entropy))(logits, labels)
    assert np.isnan(float(value)) and grad.shape == logits.shape


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


def test_float_labels_with_softmax_cross_entropy_outside_fit_say_integers_are_expected():
    with pytest.raises(ShapeError, match=r"labels \[3\] of dtype float32 .*integer class labels"):
        losses.softmax_cross_entropy(np.zeros((3, 4), np.float32), np.array([0.0, 1.0, 2.0], np.float32))
