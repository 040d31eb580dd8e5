"""Every layer checks, when it is traced, that its parameters have the names and shapes its config implies.

Driven by the layer registry (``registry.py`` and ``cases_*.py``): for each case the parameters ``init``
gives (pinned by ``tests/golden/``) must pass, and every single corruption of them must raise
``fnnet.ShapeError`` naming the parameter and both shapes: each axis of each leaf one longer, one axis
more, one axis fewer, the leaf dropped, and an extra name added to each dict (a stateless layer's ``{}``
included). Everything runs under ``jax.eval_shape``, so no arrays are made.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from registry import CASES

import fnnet as fn
from fnnet.core import format_shape

IDS = [c.name for c in CASES]
EXTRA = "not_a_parameter"


def _abstract_params(case):
    return jax.eval_shape(lambda k: case.layer.init(k, case.in_shape)[1], jax.random.key(0))


def _run(case, params):
    """Trace the case's layer on a batch of 2 with ``params`` (abstract); returns the output's shape."""
    if case.int_inputs is not None:
        x = jax.ShapeDtypeStruct((2, *case.in_shape), jnp.int32)
    else:
        x = jax.ShapeDtypeStruct((2, *case.in_shape), jnp.float32)
    state = jax.eval_shape(lambda: case.layer.init_state(case.in_shape))
    key = jax.random.key(1) if case.training else None

    def apply(p, s, x):
        return case.layer.apply_with_state(p, s, x, key=key, training=case.training)[0]

    return jax.eval_shape(apply, params, state, x).shape


def _leaves(tree, prefix=()):
    """``(path of keys, leaf)`` for every array leaf of a nested dict."""
    for name, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, name))
        else:
            yield (*prefix, name), value


def _dicts(tree, prefix=()):
    """The path of every dict in a nested dict, the root included."""
    yield prefix
    for name, value in tree.items():
        if isinstance(value, dict):
            yield from _dicts(value, (*prefix, name))


def _replace(tree, path, value):
    """A copy of ``tree`` with the entry at ``path`` set to ``value`` (deleted when value is None)."""
    out = dict(tree)
    if len(path) == 1:
        if value is None:
            del out[path[0]]
        else:
            out[path[0]] = value
        return out
    out[path[0]] = _replace(tree[path[0]], path[1:], value)
    return out


def _reshaped(shape):
    """Every corruption of one leaf's shape: each axis one longer, an axis more, the last axis gone."""
    out = [tuple(d + 1 if i == j else d for j, d in enumerate(shape)) for i in range(len(shape))]
    out.append((*shape, 1))
    if shape:
        out.append(tuple(shape[:-1]))
    return out


def _corruptions(params):
    """``(description, corrupted params, [strings the error must contain])`` for every corruption."""
    for path, leaf in _leaves(params):
        for shape in _reshaped(tuple(leaf.shape)):
            bad = _replace(params, path, jax.ShapeDtypeStruct(shape, leaf.dtype))
            need = [path[-1], format_shape(shape), format_shape(leaf.shape)]
            yield f"{list(path)} reshaped to {list(shape)}", bad, need
        yield f"{list(path)} dropped", _replace(params, path, None), [path[-1], "missing"]
    for path in _dicts(params):
        extra = jax.ShapeDtypeStruct((1,), jnp.float32)
        yield f"an extra name in {list(path)}", _replace(params, (*path, EXTRA), extra), [EXTRA, "unexpected"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_parameters_init_gives_pass(case):
    _run(case, _abstract_params(case))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_corrupted_parameter_is_named_with_both_shapes(case):
    params = _abstract_params(case)
    failures = []
    for description, bad, need in _corruptions(params):
        try:
            shape = _run(case, bad)
        except fn.ShapeError as err:
            missing = [s for s in need if s not in str(err)]
            if missing:
                failures.append(f"{description}: the message lacks {missing}: {err}")
            continue
        except Exception as err:  # noqa: BLE001 -- any other error is a failure of this check
            failures.append(f"{description}: {type(err).__name__} instead of ShapeError: {err}")
            continue
        failures.append(f"{description}: ran and returned shape {list(shape)}")
    assert not failures, f"{case.name}:\n  " + "\n  ".join(failures)


def test_a_dense_64_config_on_dense_32_parameters_names_the_layer_parameter_and_shapes():
    x = jnp.ones((2, 4))
    small = fn.Sequential(fn.Dense(32), fn.activations.relu, fn.Dense(10))
    large = fn.Sequential(fn.Dense(64), fn.activations.relu, fn.Dense(10))
    _, params = small.init(jax.random.key(0), (4,))
    pattern = (
        r"Sequential\[0\]: Dense\(features=64\): parameter 'kernel' has shape \[4, 32\], "
        r"expected \[4, 64\]"
    )
    with pytest.raises(fn.ShapeError, match=pattern):
        large.apply(params, x)
    with pytest.raises(fn.ShapeError, match=pattern):
        jax.jit(large.apply)(params, x)


def test_a_wrong_input_still_blames_the_input_and_names_the_parameter():
    _, params = fn.Dense(3).init(jax.random.key(0), (5,))
    pattern = (
        r"Dense\(features=3\): expected input of shape \[\.\.\., 5\] \(any leading batch axes\), "
        r"got \[2, 4\]; parameter 'kernel' has shape \[5, 3\], for this input it would be \[4, 3\]"
    )
    with pytest.raises(fn.ShapeError, match=pattern):
        fn.Dense(3).apply(params, jnp.ones((2, 4)))


def test_combinators_name_missing_and_extra_children():
    model = fn.Sequential(fn.Dense(3), fn.Residual(fn.Dense(3)))
    _, params = model.init(jax.random.key(0), (3,))
    with pytest.raises(fn.ShapeError, match=r"model: Sequential\(.*\): parameter '1' is missing"):
        model.apply({"0": params["0"]}, jnp.ones((2, 3)))
    with pytest.raises(fn.ShapeError, match=r"Sequential\[1\]: Residual.*unexpected parameter '1'"):
        model.apply({**params, "1": {**params["1"], "1": {}}}, jnp.ones((2, 3)))


@pytest.mark.parametrize("params", [None, [], (), {"kernel": jnp.ones((1,))}])
def test_stateless_layers_accept_only_an_empty_dict(params):
    pattern = r"Flatten.*(unexpected parameter 'kernel'|must be a dict).*it has no parameters: pass \{\}"
    with pytest.raises(fn.ShapeError, match=pattern):
        fn.Flatten().apply(params, jnp.ones((2, 3, 4)))
