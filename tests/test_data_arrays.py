"""Splits, standardisation and minibatches against NumPy."""

import jax
import numpy as np
import pytest

from fnnet.data import Standardizer, load_tabular, minibatches, train_test_split

X = np.arange(40, dtype=np.float32).reshape(20, 2)
Y = np.arange(20)


def test_split_is_a_deterministic_partition():
    xa, ya, xb, yb = train_test_split(X, Y, test_fraction=0.25, key=1)
    assert len(xb) == 5 and len(xa) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate([ya, yb])), Y)
    np.testing.assert_array_equal(xa[:, 0], 2 * ya)  # rows stay paired
    np.testing.assert_array_equal(train_test_split(X, Y, test_fraction=0.25, key=1)[3], yb)


def test_standardizer_uses_training_statistics_only():
    train, test = X[:10], X[10:]
    scaler = Standardizer.fit(train)
    np.testing.assert_allclose(scaler.transform(test), (test - train.mean(0)) / train.std(0), rtol=1e-6)
    np.testing.assert_allclose(scaler.inverse(scaler.transform(test)), test, rtol=1e-5)
    constant = Standardizer.fit(np.ones((4, 2)))
    np.testing.assert_array_equal(constant.transform(np.ones((2, 2))), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"fitted on examples of shape \(2,\), got \(3,\)"):
        scaler.transform(np.ones((2, 3)))


def test_minibatches_cover_every_example_once_and_shuffle_with_a_key():
    batches = list(minibatches(X, Y, 6, key=jax.random.key(0)))
    assert [len(b[1]) for b in batches] == [6, 6, 6, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate([b[1] for b in batches])), Y)
    assert not np.array_equal(np.concatenate([b[1] for b in batches]), Y)
    assert [len(b[1]) for b in minibatches(X, Y, 6, drop_last=True)] == [6, 6, 6]
    with pytest.raises(ValueError, match="differ in length"):
        list(minibatches(X, Y[:3], 2))


def test_split_rejects_bad_fraction_and_lengths():
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
        train_test_split(X, Y, test_fraction=1.5)
    with pytest.raises(ValueError, match="differ in length"):
        train_test_split(X, Y[:5])


@pytest.mark.parametrize(
    "name,features,task,classes",
    [
        ("iris", 4, "classification", 3),
        ("wine", 13, "classification", 3),
        ("breast_cancer", 30, "binary", 2),
        ("diabetes", 10, "regression", 1),
        ("digits", 64, "classification", 10),
    ],
)
def test_tabular_loaders(name, features, task, classes):
    import sklearn.datasets

    data = load_tabular(name, test_fraction=0.2)
    n = len(getattr(sklearn.datasets, f"load_{name}")().target)
    assert len(data.x_train) + len(data.x_test) == n and data.x_train.shape[1] == features
    assert data.task == task and data.num_classes == classes
    np.testing.assert_allclose(data.x_train.mean(0), 0, atol=1e-4)
    if task == "regression":
        assert data.y_train.shape == (len(data.x_train), 1)
    else:
        assert data.y_train.dtype == np.int32


def test_unknown_tabular_set_is_named():
    with pytest.raises(ValueError, match="unknown data set 'mnist'"):
        load_tabular("mnist")
