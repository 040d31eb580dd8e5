"""``evaluate``'s label check: concrete integer labels outside the model's classes are refused."""

import jax
import numpy as np
import pytest

import fnnet as fn
from fnnet import losses, metrics

X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0).astype(np.int32)  # 0..2


@pytest.mark.parametrize("bad", [-1, -3, 3, 4, 2**30])
@pytest.mark.parametrize("loss", [losses.softmax_cross_entropy, None])
def test_evaluate_refuses_labels_outside_the_models_classes(bad, loss):
    model = fn.Dense(3)
    _, params = model.init(jax.random.key(0), (3,))
    y = LABELS.copy()
    y[27] = bad  # in the third batch of 10: the check covers every batch, not the first
    with pytest.raises(
        ValueError, match=rf"evaluate: y labels must be in 0..2 \(the model has 3 outputs\), found {bad}"
    ):
        fn.evaluate(model, params, X, y, loss=loss, metrics={"accuracy": metrics.accuracy}, batch_size=10)


def test_evaluate_with_labels_in_range_matches_numpy():
    model = fn.Dense(3)
    _, params = model.init(jax.random.key(0), (3,))
    z = X.astype(np.float64) @ np.asarray(params["kernel"], np.float64) + np.asarray(
        params["bias"], np.float64
    )
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    got = fn.evaluate(model, params, X, LABELS, loss=losses.softmax_cross_entropy, batch_size=10)
    assert got["loss"] == pytest.approx(-log_p[np.arange(40), LABELS].mean(), rel=1e-5)
