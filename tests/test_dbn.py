"""DBN: the exported MLP computes the RBM stack's hidden probabilities; greedy stacking; fine-tuning."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.unsupervised import DBN, dbn_mlp, fit_rbm, hidden_probabilities, pretrain_dbn


def random_rbm(rng, visible, hidden):
    return {
        "kernel": jnp.asarray(rng.normal(0, 0.5, (visible, hidden)), jnp.float32),
        "visible_bias": jnp.asarray(rng.normal(0, 0.5, visible), jnp.float32),
        "hidden_bias": jnp.asarray(rng.normal(0, 0.5, hidden), jnp.float32),
    }


def test_exported_mlp_computes_the_stack_of_hidden_probabilities():
    rng = np.random.default_rng(0)
    dbn = DBN([random_rbm(rng, 6, 5), random_rbm(rng, 5, 4)], [])
    model, params = dbn_mlp(dbn, (5, 4), 3, 6, jax.random.key(0))
    x = rng.uniform(size=(7, 6)).astype(np.float32)
    h = x
    for rbm in dbn.rbms:
        h = 1 / (1 + np.exp(-(h @ np.asarray(rbm["kernel"]) + np.asarray(rbm["hidden_bias"]))))
    np.testing.assert_allclose(dbn.propagate(x), h, rtol=1e-5, atol=1e-6)
    logits = h @ np.asarray(params["4"]["kernel"]) + np.asarray(params["4"]["bias"])
    np.testing.assert_allclose(model.apply(params, x), logits, rtol=1e-5, atol=1e-5)
    assert params["4"]["kernel"].shape == (4, 3)


def test_greedy_stacking_trains_each_rbm_on_the_hidden_probabilities_below():
    x = np.random.default_rng(1).uniform(size=(64, 8)).round().astype(np.float32)
    key = jax.random.key(2)
    optimizer = optax.sgd(0.1)
    dbn = pretrain_dbn(x, (6, 3), optimizer, key=key, epochs=1, batch_size=16)
    assert [r["kernel"].shape for r in dbn.rbms] == [(8, 6), (6, 3)]
    settings = dict(epochs=1, batch_size=16)
    first, _ = fit_rbm(fn.unsupervised.RBM(6), x, optimizer, key=jax.random.fold_in(key, 0), **settings)
    data = hidden_probabilities(first.params, x)
    second, _ = fit_rbm(fn.unsupervised.RBM(3), data, optimizer, key=jax.random.fold_in(key, 1), **settings)
    for name in ("kernel", "visible_bias", "hidden_bias"):
        np.testing.assert_allclose(dbn.rbms[1][name], second.params[name], rtol=1e-5, atol=1e-6)
    assert len(dbn.histories) == 2 and len(dbn.histories[0]["reconstruction_error"]) == 1


def test_mismatched_sizes_are_reported():
    rng = np.random.default_rng(0)
    dbn = DBN([random_rbm(rng, 6, 5)], [])
    with pytest.raises(ValueError, match=r"RBM 0 has kernel \(6, 5\) but layer 0 needs \(6, 7\)"):
        dbn_mlp(dbn, (7,), 3, 6, jax.random.key(0))
    with pytest.raises(ValueError, match="the DBN has 1 RBMs but hidden_sizes has 2"):
        dbn_mlp(dbn, (5, 4), 3, 6, jax.random.key(0))
    with pytest.raises(ValueError, match="at least one layer"):
        pretrain_dbn(np.zeros((4, 6)), (), optax.sgd(0.1), key=jax.random.key(0))


def test_pretrained_dbn_fine_tunes_into_a_digit_classifier(data_dir):
    data = fn.data.load_mnist("mnist", data_dir)
    x, y = data.x_train[:3000].reshape(3000, 784), data.y_train[:3000]
    rbm_optimizer = optax.sgd(0.1, momentum=0.5)
    dbn = pretrain_dbn(x, (128,), rbm_optimizer, key=jax.random.key(0), epochs=2, batch_size=32)
    errors = dbn.histories[0]["reconstruction_error"]
    assert errors[-1] < errors[0]
    model, params = dbn_mlp(dbn, (128,), 10, 784, jax.random.key(1))
    optimizer = optax.sgd(0.1, momentum=0.9)
    state = fn.init_train_state(model, optimizer, jax.random.key(2), (784,), params=params)
    result = fn.fit(model, fn.losses.softmax_cross_entropy, optimizer, x, y, key=jax.random.key(3),
                    state=state, epochs=3, batch_size=32, fused=True)  # fmt: skip
    x_test, y_test = data.x_test[:2000].reshape(2000, 784), data.y_test[:2000]
    logs = fn.evaluate(model, result.state.params, x_test, y_test, metrics={"accuracy": fn.metrics.accuracy})
    assert logs["accuracy"] > 0.8  # chance is 0.1; the experiment reports the full-budget figures


@pytest.mark.slow
def test_dbn_experiment_reports_both_initialisations(tmp_path, data_dir):
    from experiments import dbn_mnist

    metrics = dbn_mnist.main(["--out-dir", str(tmp_path), "--quiet"])
    for regime in metrics["fine_tuning"].values():
        assert regime["dbn_accuracy"] > 0.85 and regime["random_accuracy"] > 0.5
    assert (tmp_path / "dbn_mnist" / "first_layer_features.png").stat().st_size > 5000


def test_exported_params_do_not_alias_the_dbn():
    rng = np.random.default_rng(0)
    dbn = DBN([random_rbm(rng, 6, 5)], [])
    _, params = dbn_mlp(dbn, (5,), 3, 6, jax.random.key(0))
    params["0"]["kernel"].delete()  # what a donating train step does to its input buffers
    assert np.isfinite(np.asarray(dbn.rbms[0]["kernel"])).all()
