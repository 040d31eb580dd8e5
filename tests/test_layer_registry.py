"""Cross-cutting checks run on every layer in the registry (see registry.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from registry import CASES

IDS = [c.name for c in CASES]


def _inputs(case, batch):
    """Inputs of shape ``batch + case.in_shape``, drawn by NumPy (jax.random compiles a sampler per shape:
    1-2 s each on a 2-core CPU, most of this file's time)."""
    rng = np.random.default_rng(1)
    shape = (*batch, *case.in_shape)
    if case.int_inputs is not None:
        return jnp.asarray(rng.integers(0, case.int_inputs, shape, dtype=np.int32))
    return jnp.asarray(rng.standard_normal(shape, dtype=np.float32))


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
        # the shape apply gives, by tracing it (values: test_jit_equals_eager and each layer's own tests)
        y = jax.eval_shape(lambda p, s, x: _run(case, p, s, x), params, state, _inputs(case, batch))
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
        # float inputs jitted: check_grads evaluates the layer many times at the same shapes (eager,
        # each call dispatches every op on its own: 160 s for the registry on 2 cores); integer inputs
        # stay concrete (Embedding checks its indices when it can see them)
        if case.int_inputs is None:
            x = x.astype(jnp.float64)
            check_grads(jax.jit(lambda p, x: _run(case, p, state, x)), (params, x), order=1, modes=["rev"])
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
