"""Sequential, Parallel and Residual: numbers against NumPy, keys, and error paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn


def _np_dense(p, x):
    return x @ np.asarray(p["kernel"]) + np.asarray(p["bias"])


def test_sequential_mlp_matches_numpy():
    model = fn.Sequential(fn.Dense(8), fn.activations.tanh, fn.Dense(2))
    out_shape, params = model.init(jax.random.key(0), (4,))
    assert out_shape == (2,) and set(params) == {"0", "1", "2"} and params["1"] == {}
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    want = _np_dense(params["2"], np.tanh(_np_dense(params["0"], x)))
    np.testing.assert_allclose(model.apply(params, x), want, rtol=1e-5, atol=1e-6)
    assert model.shapes((4,)) == [(4,), (8,), (8,), (2,)]
    assert len(model) == 3 and model[0] == fn.Dense(8)


def test_parallel_concat_and_sum_match_numpy():
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    cat = fn.Parallel(fn.Dense(2), fn.Dense(3))
    shape, params = cat.init(jax.random.key(0), (4,))
    assert shape == (5,)
    want = np.concatenate([_np_dense(params["0"], x), _np_dense(params["1"], x)], -1)
    np.testing.assert_allclose(cat.apply(params, x), want, rtol=1e-5, atol=1e-6)
    add = fn.Parallel(fn.Dense(3), fn.Dense(3), merge="sum")
    shape, params = add.init(jax.random.key(0), (4,))
    want = _np_dense(params["0"], x) + _np_dense(params["1"], x)
    np.testing.assert_allclose(add.apply(params, x), want, rtol=1e-5, atol=1e-6)


def test_residual_adds_the_input():
    block = fn.Residual(fn.Dense(4), fn.activations.relu)
    _, params = block.init(jax.random.key(0), (4,))
    x = np.random.default_rng(2).normal(size=(2, 4)).astype(np.float32)
    want = x + np.maximum(_np_dense(params["0"]["0"], x), 0)
    np.testing.assert_allclose(block.apply(params, x), want, rtol=1e-5, atol=1e-6)


def test_init_errors_name_the_path():
    with pytest.raises(
        fn.ShapeError,
        match=r"Sequential\[1\]: Residual\(Dense\(features=3\)\): the branch maps \[4\] to \[3\]",
    ):
        fn.Sequential(fn.Dense(4), fn.Residual(fn.Dense(3))).init(jax.random.key(0), (2,))
    with pytest.raises(fn.ShapeError, match=r"'sum' needs equal branch shapes"):
        fn.Parallel(fn.Dense(2), fn.Dense(3), merge="sum").init(jax.random.key(0), (4,))
    with pytest.raises(ValueError, match="merge must be 'concat' or 'sum'"):
        fn.Parallel(fn.Dense(2), merge="max")
    with pytest.raises(ValueError, match="needs at least one layer"):
        fn.Sequential()


def test_apply_error_names_the_nested_path_expected_and_given_shape():
    model = fn.Sequential(fn.Dense(4), fn.Parallel(fn.Dense(2), fn.Dense(1)))
    _, params = model.init(jax.random.key(0), (3,))
    bad = dict(params)
    bad["1"] = {"0": params["1"]["0"], "1": {"kernel": jnp.zeros((5, 1)), "bias": jnp.zeros(1)}}
    with pytest.raises(
        fn.ShapeError,
        match=r"Sequential\[1\] > Parallel\[1\]: Dense\(features=1\): "
        r"expected input of shape \[\.\.\., 5\].*got \[2, 4\]",
    ):
        model.apply(bad, jnp.ones((2, 3)))
    with pytest.raises(
        fn.ShapeError, match=r"Sequential\[0\].*expected input of shape \[\.\.\., 3\].*got \[2, 7\]"
    ):
        model.apply(params, jnp.ones((2, 7)))


def test_children_get_distinct_keys_and_init_is_deterministic():
    model = fn.Sequential(fn.Dense(3), fn.Dense(3))
    _, p1 = model.init(jax.random.key(0), (3,))
    _, p2 = model.init(jax.random.key(0), (3,))
    assert not np.allclose(p1["0"]["kernel"], p1["1"]["kernel"])
    np.testing.assert_array_equal(p1["1"]["kernel"], p2["1"]["kernel"])


def test_models_are_hashable_so_jit_can_take_them_static():
    model = fn.Sequential(fn.Dense(3), fn.activations.relu)

    @jax.jit
    def run(params, x):
        return model.apply(params, x)

    assert hash(model) == hash(fn.Sequential(fn.Dense(3), fn.activations.relu))
    _, params = model.init(jax.random.key(0), (2,))
    assert run(params, jnp.ones((1, 2))).shape == (1, 3)
