"""Metrics against NumPy."""

import jax.numpy as jnp
import numpy as np
import pytest

from fnnet import ShapeError, metrics

rng = np.random.default_rng(1)


def test_accuracy_matches_numpy_for_integer_and_one_hot_labels():
    scores = rng.normal(size=(50, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 50)
    want = np.mean(scores.argmax(-1) == labels)
    assert float(metrics.accuracy(scores, labels)) == pytest.approx(want)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    assert float(metrics.accuracy(scores, one_hot)) == pytest.approx(want)


def test_binary_accuracy_matches_numpy():
    p = rng.random((30, 1)).astype(np.float32)
    t = (rng.random((30, 1)) > 0.5).astype(np.float32)
    assert float(metrics.binary_accuracy(p, t)) == pytest.approx(np.mean((p > 0.5) == (t > 0.5)))


def test_confusion_matrix_matches_a_python_count():
    labels = rng.integers(0, 3, 40)
    preds = rng.integers(0, 3, 40)
    want = np.zeros((3, 3), int)
    for t, p in zip(labels, preds):
        want[t, p] += 1
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, preds, 3), want)


def test_metric_shape_errors_name_the_metric():
    with pytest.raises(ShapeError, match=r"accuracy: labels \[5, 1\] do not match scores \[5, 3\]"):
        metrics.accuracy(jnp.zeros((5, 3)), jnp.zeros((5, 1), jnp.int32))
    with pytest.raises(ShapeError, match="confusion_matrix"):
        metrics.confusion_matrix(jnp.zeros(4), jnp.zeros(3), 2)
    with pytest.raises(ShapeError, match="binary_accuracy"):
        metrics.binary_accuracy(jnp.zeros((4, 1)), jnp.zeros(4))
