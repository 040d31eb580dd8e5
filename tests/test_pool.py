"""Pooling against a NumPy loop and against PyTorch (outputs and input gradients), both impls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from torch.nn import functional as tnf
from torch_ref import assert_close, channels_first, channels_last, fnnet_vjp, torch_pad

import fnnet as fn


def numpy_pool(x, window, strides, pads, reducer):
    """Loop reference: ``x: [N, *sp, C]``; the mean counts only real pixels."""
    rank = len(window)
    sizes = x.shape[1:-1]
    out = [(n + lo + hi - k) // s + 1 for n, (lo, hi), k, s in zip(sizes, pads, window, strides, strict=True)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for index in np.ndindex(*out):
        region = []
        for i, s, k, (lo, _), n in zip(index, strides, window, pads, sizes, strict=True):
            start = i * s - lo
            region.append(slice(max(start, 0), min(start + k, n)))
        patch = x[(slice(None), *region, slice(None))].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *index, slice(None))] = patch.max(axis=1) if reducer == "max" else patch.mean(axis=1)
    assert rank == len(out)
    return y


CASES = [  # (in_shape, window, strides, padding, resolved pads)
    ((6, 6, 3), 2, None, "VALID", ((0, 0), (0, 0))),
    ((7, 5, 2), 2, None, "VALID", ((0, 0), (0, 0))),  # odd sizes: the last row/column dropped
    ((7, 5, 2), 2, None, "SAME", ((0, 1), (0, 1))),
    ((7, 6, 2), (3, 2), (2, 1), "SAME", ((1, 1), (0, 1))),
    ((6, 6, 1), 3, 1, ((1, 1), (1, 1)), ((1, 1), (1, 1))),
    ((5, 7, 2), (2, 3), (2, 3), ((1, 0), (0, 1)), ((1, 0), (0, 1))),
    ((9, 3), (3,), None, "SAME", ((0, 0),)),
    ((10, 2), (3,), (2,), "SAME", ((0, 1),)),
]


@pytest.mark.parametrize("impl", ["xla", "reshape"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("in_shape,window,strides,padding,pads", CASES)
def test_pool_matches_numpy_loop(in_shape, window, strides, padding, pads, kind, impl):
    cls = fn.MaxPool if kind == "max" else fn.AvgPool
    layer = cls(window, strides=strides, padding=padding, impl=impl)
    out_shape, _ = layer.init(jax.random.key(0), in_shape)
    x = np.random.default_rng(0).normal(size=(3, *in_shape)).astype(np.float32)
    expected = numpy_pool(x, layer.window, layer.strides, pads, kind)
    if impl == "reshape" and layer.window != layer.strides:
        pytest.skip("the reshape path applies to non-overlapping windows only")
    y = layer.apply({}, x)
    assert y.shape == (3, *out_shape)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("impl", ["xla", "reshape"])
@pytest.mark.parametrize("in_shape,window,strides,padding,pads", CASES[:6])
def test_max_pool_matches_torch_with_gradients(in_shape, window, strides, padding, pads, impl):
    layer = fn.MaxPool(window, strides=strides, padding=padding, impl=impl)
    if impl == "reshape" and layer.window != layer.strides:
        pytest.skip("the reshape path applies to non-overlapping windows only")
    out_shape, _ = layer.init(jax.random.key(0), in_shape)
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(2, *in_shape)), rng.normal(size=(2, *out_shape))
    xt = channels_first(x)
    padded = tnf.pad(xt, torch_pad(pads), value=-np.inf)
    yt = tnf.max_pool2d(padded, layer.window, layer.strides)
    y, _, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), {}, x, g)
    assert_close(y, channels_last(yt), "output")
    yt.backward(channels_first(g).detach())
    assert_close(dx, channels_last(xt.grad), "input gradient")


@pytest.mark.parametrize("impl", ["xla", "reshape"])
def test_max_pool_gives_a_tied_maximum_gradient_to_one_input_as_torch_does(impl):
    # After a ReLU whole windows are 0: the gradient must go to one input, not be split between them.
    layer = fn.MaxPool(2, impl=impl)
    x = np.maximum(np.random.default_rng(2).normal(size=(2, 6, 6, 3)), 0.0)
    x[0, :2, :2, 1] = 0.0
    x[1, 2:4, 2:4, 0] = 1.5
    g = np.random.default_rng(3).normal(size=(2, 3, 3, 3))
    xt = channels_first(x)
    yt = tnf.max_pool2d(xt, 2)
    y, _, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), {}, x, g)
    assert_close(y, channels_last(yt), "output")
    yt.backward(channels_first(g).detach())
    assert_close(dx, channels_last(xt.grad), "input gradient")
    assert np.count_nonzero(np.asarray(dx)[1, 2:4, 2:4, 0]) == 1


@pytest.mark.parametrize("impl", ["xla", "reshape"])
@pytest.mark.parametrize("window,strides,padding", [(2, None, "VALID"), (3, 1, 1), (3, 2, 1)])
def test_avg_pool_matches_torch_count_include_pad_false(window, strides, padding, impl):
    layer = fn.AvgPool(window, strides=strides, padding=padding, impl=impl)
    if impl == "reshape" and layer.window != layer.strides:
        pytest.skip("the reshape path applies to non-overlapping windows only")
    in_shape = (7, 6, 2)
    out_shape, _ = layer.init(jax.random.key(0), in_shape)
    rng = np.random.default_rng(2)
    x, g = rng.normal(size=(2, *in_shape)), rng.normal(size=(2, *out_shape))
    xt = channels_first(x)
    yt = tnf.avg_pool2d(
        xt,
        window,
        strides or window,
        padding=0 if padding == "VALID" else padding,
        count_include_pad=False,
    )
    y, _, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), {}, x, g)
    assert_close(y, channels_last(yt), "output")
    yt.backward(channels_first(g).detach())
    assert_close(dx, channels_last(xt.grad), "input gradient")


def test_max_pool_1d_matches_torch():
    layer = fn.MaxPool((3,), strides=(2,))
    x = np.random.default_rng(3).normal(size=(2, 9, 4))
    expected = channels_last(tnf.max_pool1d(channels_first(x), 3, 2))
    assert_close(np.asarray(layer.apply({}, jnp.asarray(x))), expected, "output", tol=1e-6)


def test_global_pools_match_numpy():
    x = np.random.default_rng(4).normal(size=(2, 3, 5, 4, 6)).astype(np.float32)
    for layer, ref in [(fn.GlobalAvgPool(), np.mean), (fn.GlobalMaxPool(), np.max)]:
        out_shape, _ = layer.init(jax.random.key(0), (5, 4, 6))
        assert out_shape == (6,)
        np.testing.assert_allclose(np.asarray(layer.apply({}, x)), ref(x, axis=(2, 3)), rtol=1e-6)
    y = fn.GlobalAvgPool(rank=1).apply({}, x)
    np.testing.assert_allclose(np.asarray(y), x.mean(axis=3), rtol=1e-5, atol=1e-6)


def test_pool_errors_name_the_layer_and_shape():
    with pytest.raises(ValueError, match="MaxPool: window must be an int"):
        fn.MaxPool((2, 2, 2, 2))
    with pytest.raises(ValueError, match="AvgPool: padding must be"):
        fn.AvgPool(2, padding="FULL")
    with pytest.raises(fn.ShapeError, match=r"MaxPool.*input \[1, 5, 3\] is smaller than the window"):
        fn.MaxPool(2).init(jax.random.key(0), (1, 5, 3))
    with pytest.raises(fn.ShapeError, match=r"MaxPool.*2 spatial axes, got \[5, 3\]"):
        fn.MaxPool(2).apply({}, jnp.zeros((5, 3)))
    with pytest.raises(fn.ShapeError, match=r"GlobalAvgPool.*got \[4, 3\]"):
        fn.GlobalAvgPool().init(jax.random.key(0), (4, 3))


# (window, padding) with some side padded by more than window // 2: whole windows of padding.
WIDE_PADDINGS = [
    (2, 2),  # the case: 12 of 16 outputs -inf (MaxPool) or nan (AvgPool) on 4x4
    (2, ((0, 0), (0, 2))),
    (3, 2),
    ((2, 3), ((1, 0), (0, 2))),
    ((3,), 2),
    ((4,), ((0, 3),)),
    ((2, 2, 2), ((0, 0), (2, 0), (0, 0))),
]


@pytest.mark.parametrize("impl", ["auto", "xla", "reshape"])
@pytest.mark.parametrize("cls", [fn.MaxPool, fn.AvgPool])
@pytest.mark.parametrize("window,padding", WIDE_PADDINGS)
def test_pool_refuses_padding_over_half_the_window(window, padding, cls, impl):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: padding .* window \(.*at most window // 2"):
        cls(window, padding=padding, impl=impl)


# Padding of exactly window // 2 is allowed and is PyTorch's own padding (max: -inf, avg: not counted).
HALF_PADDINGS = [(2, 2, 1), (3, 1, 1), (3, 2, 1), (4, 2, 2), (5, 3, 2), (4, 4, 2)]


@pytest.mark.parametrize("impl", ["auto", "xla", "reshape"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("window,strides,padding", HALF_PADDINGS)
def test_pool_padding_of_half_the_window_matches_torch(window, strides, padding, kind, impl):
    cls = fn.MaxPool if kind == "max" else fn.AvgPool
    layer = cls(window, strides=strides, padding=padding, impl=impl)
    in_shape = (6, 5, 2)
    out_shape, _ = layer.init(jax.random.key(0), in_shape)
    rng = np.random.default_rng(5)
    x, g = rng.normal(size=(2, *in_shape)), rng.normal(size=(2, *out_shape))
    xt = channels_first(x)
    if kind == "max":
        yt = tnf.max_pool2d(xt, window, strides, padding=padding)
    else:
        yt = tnf.avg_pool2d(xt, window, strides, padding=padding, count_include_pad=False)
    y, _, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), {}, x, g)
    assert np.all(np.isfinite(y))
    assert_close(y, channels_last(yt), "output")
    yt.backward(channels_first(g).detach())
    assert_close(dx, channels_last(xt.grad), "input gradient")


@pytest.mark.parametrize("cls", [fn.MaxPool, fn.AvgPool])
def test_reduce_window_path_is_differentiable_under_jit(cls):
    layer = cls(3, strides=2, padding="SAME", impl="xla")
    x = jnp.asarray(np.random.default_rng(5).normal(size=(2, 6, 6, 2)), jnp.float32)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(layer.apply({}, x) ** 2)))(x)
    eager = jax.grad(lambda x: jnp.sum(layer.apply({}, x) ** 2))(x)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(eager), rtol=1e-6)


@pytest.mark.parametrize("cls", [fn.MaxPool, fn.AvgPool])
def test_pool_refuses_an_unknown_impl_naming_the_layer_and_the_allowed_ones(cls):
    with pytest.raises(
        ValueError, match=rf"{cls.__name__}: impl must be one of \('auto', 'xla', 'reshape'\), got 'fast'"
    ):
        cls(2, impl="fast")


def _jaxpr(layer, x) -> str:
    return str(jax.make_jaxpr(lambda x: layer.apply({}, x))(x))


@pytest.mark.parametrize("backend", ["cpu", "gpu", "tpu"])
@pytest.mark.parametrize("cls", [fn.MaxPool, fn.AvgPool])
def test_pool_auto_takes_the_reshape_path_only_on_cpu(monkeypatch, backend, cls):
    # Off CPU, XLA's own reduce_window (and its gradient) is the path to take; the reshape one is for XLA:CPU.
    x = jnp.ones((2, 6, 6, 3))
    traced = {impl: _jaxpr(cls(2, impl=impl), x) for impl in ("xla", "reshape")}
    assert traced["xla"] != traced["reshape"]  # the check can tell the paths apart
    overlapping = _jaxpr(cls(3, strides=1, impl="xla"), x)
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    assert _jaxpr(cls(2), x) == traced["reshape" if backend == "cpu" else "xla"]
    assert _jaxpr(cls(2, impl="reshape"), x) == traced["reshape"]  # still selectable on any backend
    assert _jaxpr(cls(3, strides=1), x) == overlapping  # overlapping windows: reduce_window everywhere
