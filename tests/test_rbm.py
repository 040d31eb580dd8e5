"""RBM: probabilities and free energy against NumPy; CD-k against exact gradients of an enumerable RBM."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.unsupervised import rbm

V, H = 4, 3
STATES_V = np.array(list(itertools.product([0, 1], repeat=V)), np.float64)  # [16, V]
STATES_H = np.array(list(itertools.product([0, 1], repeat=H)), np.float64)  # [8, H]
DATA = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 0]], np.float64)


def small_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "kernel": rng.normal(0, 2.0, (V, H)),
        "visible_bias": rng.normal(0, 0.5, V),
        "hidden_bias": rng.normal(0, 0.5, H),
    }


def to_jax(p):
    return {k: jnp.asarray(v, jnp.float32) for k, v in p.items()}


def sig(x):
    return 1 / (1 + np.exp(-x))


def joint_unnormalised(p):
    """exp(-E(v, h)) for every (v, h): [16, 8], from the energy directly (no free-energy formula)."""
    energy = -(
        STATES_V @ p["visible_bias"][:, None]
        + (STATES_H @ p["hidden_bias"])[None, :]
        + STATES_V @ p["kernel"] @ STATES_H.T
    )
    return np.exp(-energy)


def p_visible(p):
    joint = joint_unnormalised(p)
    return joint.sum(1) / joint.sum()


def free_energy_grad(p, v):
    """dF/dθ for each row of v: a dict of [N, ...] arrays."""
    ph = sig(v @ p["kernel"] + p["hidden_bias"])
    return {"kernel": -v[:, :, None] * ph[:, None, :], "visible_bias": -v, "hidden_bias": -ph}


def exact_nll_gradient(p):
    """mean over DATA of -d log p(v)/dθ = E_data[dF] - E_model[dF], by enumeration."""
    pv = p_visible(p)
    d_data, d_all = free_energy_grad(p, DATA), free_energy_grad(p, STATES_V)
    return {k: d_data[k].mean(0) - np.tensordot(pv, d_all[k], axes=1) for k in d_data}


def exact_cd1_expectation(p):
    """E[CD-1 estimate]: dF(v0) - dF(v1) summed over h ~ p(h|v0), v1 ~ p(v1|h), by enumeration."""
    ph = sig(DATA @ p["kernel"] + p["hidden_bias"])  # [N, H]
    p_h = np.prod(np.where(STATES_H[None] == 1, ph[:, None], 1 - ph[:, None]), axis=-1)  # [N, 8]
    pv = sig(STATES_H @ p["kernel"].T + p["visible_bias"])  # [8, V]
    p_v_given_h = np.prod(np.where(STATES_V[None] == 1, pv[:, None], 1 - pv[:, None]), axis=-1)  # [8, 16]
    transition = p_h @ p_v_given_h  # [N, 16]
    d_data, d_all = free_energy_grad(p, DATA), free_energy_grad(p, STATES_V)
    return {k: d_data[k].mean(0) - np.tensordot(transition.mean(0), d_all[k], axes=1) for k in d_data}


def cd_estimate(p, k, chains_per_example, seed=0):
    v = jnp.asarray(np.repeat(DATA, chains_per_example, axis=0), jnp.float32)
    grads = jax.jit(rbm.cd_gradient, static_argnums=3)(to_jax(p), v, jax.random.key(seed), k)
    return {name: np.asarray(g, np.float64) for name, g in grads.items()}


def max_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def test_conditionals_and_free_energy_match_numpy_and_enumeration():
    p = small_params()
    jp = to_jax(p)
    np.testing.assert_allclose(
        rbm.hidden_probabilities(jp, STATES_V), sig(STATES_V @ p["kernel"] + p["hidden_bias"]), rtol=1e-5
    )
    np.testing.assert_allclose(
        rbm.visible_probabilities(jp, STATES_H), sig(STATES_H @ p["kernel"].T + p["visible_bias"]), rtol=1e-5
    )
    exact_f = -np.log(joint_unnormalised(p).sum(1))  # F(v) = -log sum_h exp(-E(v, h))
    np.testing.assert_allclose(rbm.free_energy(jp, STATES_V), exact_f, rtol=1e-5, atol=1e-5)
    # the layer view: an RBM maps visibles to hidden probabilities, with any leading axes
    layer_out = fn.unsupervised.RBM(H).apply(jp, STATES_V.reshape(2, 8, V))
    want = sig(STATES_V @ p["kernel"] + p["hidden_bias"])
    np.testing.assert_allclose(layer_out.reshape(16, H), want, rtol=1e-5)


def test_cd_with_long_chains_approaches_the_exact_log_likelihood_gradient():
    p = small_params()
    exact = exact_nll_gradient(p)
    cd1_mean = exact_cd1_expectation(p)
    # params where CD-1 is visibly biased, else this test could not tell CD-1 from the likelihood
    assert max_diff(exact, cd1_mean) > 0.05
    estimate = cd_estimate(p, k=50, chains_per_example=6000)
    assert max_diff(estimate, exact) < 0.02
    assert max_diff(estimate, cd1_mean) > 0.1  # it converges to the likelihood, not to CD-1's fixed point


def test_cd1_estimator_is_unbiased_for_its_exact_expectation():
    p = small_params()
    expected = exact_cd1_expectation(p)
    estimate = cd_estimate(p, k=1, chains_per_example=6000, seed=3)
    assert max_diff(estimate, expected) < 0.015


def test_gibbs_samples_follow_the_enumerated_distribution():
    p = small_params(seed=1)
    samples = np.asarray(rbm.sample_rbm(to_jax(p), jax.random.key(4), 20000, steps=30))
    index = samples.astype(int) @ (2 ** np.arange(V - 1, -1, -1))
    frequency = np.bincount(index, minlength=16) / len(index)
    np.testing.assert_allclose(frequency, p_visible(p), atol=0.015)


def test_cd_gradient_is_the_gradient_of_the_free_energy_gap():
    p = to_jax(small_params())
    v = jnp.asarray(DATA, jnp.float32)
    key = jax.random.key(5)
    negative = jax.jit(rbm.gibbs_chain, static_argnums=3)(p, v, key, 2)
    grads = jax.jit(rbm.cd_gradient, static_argnums=3)(p, v, key, 2)
    positive_part = free_energy_grad(small_params(), DATA)
    negative_part = free_energy_grad(small_params(), np.asarray(negative, np.float64))
    want = {k: positive_part[k].mean(0) - negative_part[k].mean(0) for k in grads}
    assert max_diff({k: np.asarray(g) for k, g in grads.items()}, want) < 1e-5


def test_rbm_learns_mnist_reconstruction_error_falls(data_dir):
    x = fn.data.load_mnist("mnist", data_dir).x_train[:2000].reshape(2000, 784)
    state, history = rbm.fit_rbm(
        fn.unsupervised.RBM(64),
        x,
        optax.sgd(0.1, momentum=0.5),
        key=jax.random.key(0),
        epochs=3,
        batch_size=32,
    )
    _, start = fn.unsupervised.RBM(64).init(jax.random.split(jax.random.key(0), 3)[0], (784,))
    before = float(rbm.reconstruction_error(start, x))
    after = float(rbm.reconstruction_error(state.params, x))
    assert after < 0.4 * before
    assert history["reconstruction_error"][-1] < history["reconstruction_error"][0]
    assert np.all(np.isfinite(history["free_energy_gap"]))


def test_bad_inputs_name_the_problem():
    with pytest.raises(fn.ShapeError, match=r"RBM.*flat visible vector \[V\], got \[28, 28\]"):
        fn.unsupervised.RBM(8).init(jax.random.key(0), (28, 28))
    _, params = fn.unsupervised.RBM(8).init(jax.random.key(0), (5,))
    with pytest.raises(fn.ShapeError, match=r"visible units of shape \[\.\.\., 5\].*got \[2, 6\]"):
        fn.unsupervised.RBM(8).apply(params, jnp.ones((2, 6)))
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        rbm.fit_rbm(fn.unsupervised.RBM(2), np.full((4, 3), 2.0), optax.sgd(0.1), key=jax.random.key(0))
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        fn.unsupervised.RBM(0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        rbm.gibbs_chain(params, jnp.ones((1, 5)), jax.random.key(0), 0)
