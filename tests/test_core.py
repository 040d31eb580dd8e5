"""The protocol itself: Lambda, as_layer, ShapeError paths, and the stateless/stateful split."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn
from fnnet.core import Layer, add_trailing, check_input, describe


def test_plain_functions_become_lambda_layers_with_traced_output_shapes():
    layer = fn.as_layer(lambda x: x.reshape(*x.shape[:-2], -1))
    assert isinstance(layer, fn.Lambda)
    out_shape, params = layer.init(jax.random.key(0), (3, 4))
    assert out_shape == (12,) and params == {}
    np.testing.assert_array_equal(layer.apply({}, np.ones((2, 3, 4))), np.ones((2, 12)))


def test_lambda_kwargs_reach_the_function():
    layer = fn.Lambda(fn.activations.leaky_relu, (("negative_slope", 0.5),))
    np.testing.assert_allclose(layer.apply({}, jnp.array([-2.0, 3.0])), [-1.0, 3.0])
    assert "negative_slope=0.5" in repr(layer)


def test_as_layer_rejects_non_layers():
    with pytest.raises(TypeError, match="expected a fnnet Layer or a function, got int"):
        fn.as_layer(3)


def test_describe_lists_only_non_default_fields():
    assert describe(fn.Dense(3)) == "Dense(features=3)"
    assert describe(fn.Dense(3, use_bias=False)) == "Dense(features=3, use_bias=False)"


def test_check_input_message_and_add_trailing():
    with pytest.raises(fn.ShapeError, match=r"expected input of shape \[\.\.\., 2, 3\].*got \[4, 3\]"):
        check_input(fn.Dense(1), jnp.zeros((4, 3)), (2, 3))
    np.testing.assert_array_equal(
        add_trailing(jnp.zeros((2, 3)), jnp.arange(3.0)), np.tile(np.arange(3.0), (2, 1))
    )


@dataclasses.dataclass(frozen=True)
class Counter(Layer):
    """A toy stateful layer: counts calls in training mode and adds the count."""

    @property
    def has_state(self):
        return True

    def init(self, key, in_shape):
        return in_shape, {}

    def init_state(self, in_shape):
        return {"count": jnp.zeros(())}

    def apply_with_state(self, params, state, x, *, key=None, training=False):
        if "count" not in state:
            raise fn.ShapeError(self, "needs its state")
        count = state["count"] + (1.0 if training else 0.0)
        return x + count, {"count": count}


def test_state_threads_through_sequential_and_stateless_apply_is_refused():
    model = fn.Sequential(fn.Dense(2), Counter(), fn.activations.relu)
    _, params = model.init(jax.random.key(0), (3,))
    state = model.init_state((3,))
    assert set(state) == {"1"}, "only stateful children have state entries"
    x = jnp.ones((1, 3))
    _, state = model.apply_with_state(params, state, x, training=True)
    _, state = model.apply_with_state(params, state, x, training=True)
    assert float(state["1"]["count"]) == 2.0
    with pytest.raises(TypeError, match="carries state.*apply_with_state"):
        model.apply(params, x)
    assert fn.Sequential(fn.Dense(2)).init_state((3,)) == {}


def test_a_layer_defining_neither_apply_is_reported():
    @dataclasses.dataclass(frozen=True)
    class Empty(Layer):
        pass

    with pytest.raises(NotImplementedError, match="Empty defines neither apply nor apply_with_state"):
        Empty().apply({}, jnp.zeros(1))


def test_init_kernel_and_bias_follows_the_layer_fields():
    from fnnet.core import init_kernel_and_bias
    from fnnet.initializers import constant

    params = init_kernel_and_bias(
        fn.Dense(3, kernel_init=constant(2.0), bias_init=constant(-1.0)), jax.random.key(0), (4, 3)
    )
    np.testing.assert_array_equal(params["kernel"], np.full((4, 3), 2.0))
    np.testing.assert_array_equal(params["bias"], np.full(3, -1.0))
    assert set(init_kernel_and_bias(fn.Dense(3, use_bias=False), jax.random.key(0), (4, 3))) == {"kernel"}
