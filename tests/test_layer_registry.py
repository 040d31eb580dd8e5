"""Cross-cutting checks run on every layer in the registry (see registry.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from registry import CASES

IDS = [c.name for c in CASES]


def _inputs(case, batch, key=None):
    key = jax.random.key(1) if key is None else key
    shape = (*batch, *case.in_shape)
    if case.int_inputs is not None:
        return jax.random.randint(key, shape, 0, case.int_inputs)
    return jax.random.normal(key, shape)


def _run(case, params, state, x):
    key = jax.random.key(2)
    y, _ = case.layer.apply_with_state(
        params, state, x, key=key if case.training else None, training=case.training
    )
    return y


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_init_shape_matches_apply_for_any_batch_axes(case):
    out_shape, params = case.layer.init(jax.random.key(0), case.in_shape)
    state = case.layer.init_state(case.in_shape)
    for batch in [(), (3,), (2, 3)]:
        y = _run(case, params, state, _inputs(case, batch))
        assert y.shape == (*batch, *out_shape), f"batch axes {batch}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_config_is_hashable_and_compares_by_value(case):
    import copy

    twin = copy.deepcopy(case.layer)  # an equal config built separately
    assert twin == case.layer and hash(twin) == hash(case.layer)
    assert jax.tree.leaves(case.layer) == [case.layer], "a config must not be a pytree of arrays"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_equals_eager(case):
    _, params = case.layer.init(jax.random.key(0), case.in_shape)
    state = case.layer.init_state(case.in_shape)
    x = _inputs(case, (3,))
    eager = _run(case, params, state, x)
    jitted = jax.jit(lambda p, s, x: _run(case, p, s, x))(params, state, x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.check_grads], ids=lambda c: c.name)
def test_gradients_match_finite_differences(case):
    with jax.enable_x64(True):
        _, params = case.layer.init(jax.random.key(0), case.in_shape)
        state = case.layer.init_state(case.in_shape)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        state = jax.tree.map(lambda a: a.astype(jnp.float64), state)
        x = _inputs(case, (2,))
        if case.int_inputs is None:
            x = x.astype(jnp.float64)
            check_grads(lambda p, x: _run(case, p, state, x), (params, x), order=1, modes=["rev"])
        else:
            check_grads(lambda p: _run(case, p, state, x), (params,), order=1, modes=["rev"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_params_are_plain_nested_dicts_of_arrays(case):
    _, params = case.layer.init(jax.random.key(0), case.in_shape)

    def check(tree, path):
        if isinstance(tree, dict):
            for k, v in tree.items():
                assert isinstance(k, str), f"{path}: key {k!r} is not a string"
                check(v, f"{path}/{k}")
        else:
            assert isinstance(tree, jax.Array), f"{path}: {type(tree).__name__} is not an array"

    check(params, "params")
