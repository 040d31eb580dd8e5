"""Conv and ConvTranspose against PyTorch with copied weights: outputs, input and weight grads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.nn import functional as tnf
from torch_ref import assert_close, channels_first, channels_last, fnnet_vjp, torch_pad

import fnnet as fn
from fnnet.interop import torch as convert

TORCH_CONV = {1: tnf.conv1d, 2: tnf.conv2d, 3: tnf.conv3d}

# (in_shape, Conv kwargs): strides, paddings, dilations, groups, odd sizes, 1-D/2-D/3-D.
CONFIGS = [
    ((7, 6, 3), dict(features=4, kernel_size=(3, 3))),
    ((9, 8, 3), dict(features=5, kernel_size=(3, 2), strides=2)),
    ((9, 7, 2), dict(features=4, kernel_size=(3, 3), strides=(2, 3), padding="VALID")),
    ((9, 9, 2), dict(features=3, kernel_size=(3, 3), dilation=2)),
    ((8, 7, 2), dict(features=3, kernel_size=(2, 3), dilation=(2, 1), strides=2, padding="VALID")),
    ((6, 5, 4), dict(features=6, kernel_size=(3, 3), groups=2, use_bias=False)),
    ((6, 6, 4), dict(features=4, kernel_size=(3, 3), groups=4)),  # depthwise
    ((6, 5, 2), dict(features=3, kernel_size=(3, 3), padding=((2, 0), (1, 3)))),
    ((5, 5, 1), dict(features=2, kernel_size=(4, 4), padding="SAME")),  # even kernel: uneven pad
    ((11, 3), dict(features=4, kernel_size=(3,), padding="CAUSAL", dilation=2)),
    ((10, 2), dict(features=3, kernel_size=(4,), strides=3, padding="SAME")),
    ((5, 4, 6, 2), dict(features=3, kernel_size=(2, 3, 3), strides=(1, 2, 1))),
    ((6, 5, 6), dict(features=4, kernel_size=(3, 3))),  # > SMALL_CHANNELS inputs, stride 1
    ((4, 5, 4, 2), dict(features=3, kernel_size=(3, 2, 2), padding="VALID")),
]


def _torch_conv(layer, params, x, in_shape):
    pads, _ = layer._geometry(in_shape)
    xt = channels_first(x)
    w = torch.tensor(convert.conv_to_torch(params)["weight"], dtype=torch.float64, requires_grad=True)
    b = None
    if layer.use_bias:
        b = torch.tensor(np.asarray(params["bias"]), dtype=torch.float64, requires_grad=True)
    y = TORCH_CONV[layer.rank](
        tnf.pad(xt, torch_pad(pads)),
        w,
        b,
        stride=layer.strides,
        dilation=layer.dilation,
        groups=layer.groups,
    )
    return xt, w, b, y


# Both formulations (what "auto" picks on CPU is one of them) on every config.
IMPL_CASES = [(impl, i) for impl in ("xla", "hybrid") for i in range(len(CONFIGS))]


@pytest.mark.parametrize("impl,index", IMPL_CASES, ids=[f"{i}-{impl}" for impl, i in IMPL_CASES])
def test_conv_matches_torch_outputs_and_gradients(impl, index):
    in_shape, kwargs = CONFIGS[index]
    layer = fn.Conv(**kwargs, impl=impl)
    out_shape, params = layer.init(jax.random.key(0), in_shape)
    if layer.use_bias:  # a non-zero bias, so that its gradient and broadcast are really checked
        params["bias"] = jax.random.normal(jax.random.key(3), params["bias"].shape)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *in_shape))
    xt, w, b, yt = _torch_conv(layer, params, x, in_shape)
    g = rng.normal(size=(2, *out_shape))
    y, dparams, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), params, x, g)
    assert_close(y, channels_last(yt), "output")
    yt.backward(channels_first(g).detach())
    assert_close(dx, channels_last(xt.grad), "input gradient")
    grads = {"weight": w.grad.numpy()} | ({"bias": b.grad.numpy()} if b is not None else {})
    expected = convert.conv_from_torch(grads)
    assert_close(dparams["kernel"], expected["kernel"], "kernel gradient", tol=1e-6)
    if layer.use_bias:
        assert_close(dparams["bias"], expected["bias"], "bias gradient", tol=1e-6)


@pytest.mark.parametrize(
    "in_shape,kwargs,torch_padding,output_padding",
    [
        ((4, 5, 3), dict(features=2, kernel_size=(3, 3), strides=2), 1, 1),
        ((4, 3, 2), dict(features=3, kernel_size=(4, 4), strides=2), 1, 0),
        ((3, 4, 2), dict(features=2, kernel_size=(3, 2), strides=(1, 2), padding="VALID"), 0, 0),
        (
            (3, 3, 1),
            dict(features=2, kernel_size=(3, 3), strides=3, padding=((1, 0), (1, 0))),
            1,
            1,
        ),
        ((4, 4, 2), dict(features=2, kernel_size=(3, 3), dilation=2, padding="VALID"), 0, 0),
    ],
)
def test_conv_transpose_matches_torch(in_shape, kwargs, torch_padding, output_padding):
    _check_conv_transpose_against_torch(in_shape, kwargs, torch_padding, output_padding)


# SAME is PyTorch's padding p, output_padding q with (n - 1) s - 2p + k_eff + q = n s, written out by
# hand per (kernel, stride, dilation): k_eff < s needs q = s - k_eff extra zeros (p = 0), k_eff = s
# neither, k_eff > s crops t = k_eff - s as p = ceil(t / 2), q = 2p - t.
SAME_TRANSPOSE_CASES = [
    # (in_shape, kernel, strides, dilation, torch padding, torch output_padding)
    ((4, 5, 2), (2, 2), 3, 1, 0, 1),  # the case: (12, 15), not (11, 14)
    ((3, 4, 1), (1, 1), 2, 1, 0, 1),
    ((2, 3, 2), (2, 2), 4, 1, 0, 2),
    ((3, 3, 2), (2, 3), (3, 4), 1, 0, (1, 1)),
    ((3, 2, 1), (2, 2), 4, 2, 0, 1),  # dilated span 3 < stride 4
    ((3, 4, 2), (3, 3), 3, 1, 0, 0),
    ((4, 3, 1), (2, 2), 2, 1, 0, 0),
    ((4, 5, 2), (3, 3), 2, 1, 1, 1),
    ((4, 3, 2), (4, 4), 2, 1, 1, 0),
    ((3, 4, 1), (5, 5), 2, 1, 2, 1),
    ((3, 3, 2), (3, 3), 1, 1, 1, 0),
    ((3, 4, 2), (2, 5), (3, 2), 1, (0, 2), (1, 1)),  # one axis below its stride, one above
]


@pytest.mark.parametrize(
    "in_shape,kernel,strides,dilation,torch_padding,output_padding", SAME_TRANSPOSE_CASES
)
def test_conv_transpose_same_gives_n_times_s_as_torch(
    in_shape, kernel, strides, dilation, torch_padding, output_padding
):
    kwargs = dict(features=2, kernel_size=kernel, strides=strides, dilation=dilation, padding="SAME")
    s = (strides,) * 2 if isinstance(strides, int) else strides
    out_shape = _check_conv_transpose_against_torch(in_shape, kwargs, torch_padding, output_padding)
    assert out_shape == (in_shape[0] * s[0], in_shape[1] * s[1], 2)


def _check_conv_transpose_against_torch(in_shape, kwargs, torch_padding, output_padding):
    layer = fn.ConvTranspose(**kwargs)
    out_shape, params = layer.init(jax.random.key(1), in_shape)
    params["bias"] = jax.random.normal(jax.random.key(3), params["bias"].shape)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, *in_shape))
    xt = channels_first(x)
    tw = convert.conv_transpose_to_torch(params)
    w = torch.tensor(tw["weight"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(tw["bias"], dtype=torch.float64, requires_grad=True)
    yt = tnf.conv_transpose2d(
        xt,
        w,
        b,
        stride=layer.strides,
        padding=torch_padding,
        output_padding=output_padding,
        dilation=layer.dilation,
    )
    g = rng.normal(size=(2, *out_shape))
    y, dparams, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), params, x, g)
    assert_close(y, channels_last(yt), "output")
    yt.backward(channels_first(g).detach())
    assert_close(dx, channels_last(xt.grad), "input gradient")
    expected = convert.conv_transpose_from_torch({"weight": w.grad.numpy(), "bias": b.grad.numpy()})
    assert_close(dparams["kernel"], expected["kernel"], "kernel gradient", tol=1e-6)
    assert_close(dparams["bias"], expected["bias"], "bias gradient", tol=1e-6)
    assert tuple(y.shape[1:]) == out_shape, "init's shape is apply's"
    return out_shape


def test_conv_kernel_layout_and_leading_batch_axes():
    layer = fn.Conv(8, (3, 2), groups=2)
    out_shape, params = layer.init(jax.random.key(0), (5, 4, 6))
    assert params["kernel"].shape == (3, 2, 3, 8) and params["bias"].shape == (8,)
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4, 6)).astype(np.float32)
    y = layer.apply(params, x)
    flat = layer.apply(params, x.reshape(6, 5, 4, 6))
    assert y.shape == (2, 3, *out_shape)
    np.testing.assert_allclose(np.asarray(y).reshape(flat.shape), np.asarray(flat), rtol=1e-6)


def test_conv_refuses_bad_configs_and_inputs():
    with pytest.raises(ValueError, match=r"kernel_size must be a tuple .* e\.g\. \(3, 3\)"):
        fn.Conv(4, 3)
    with pytest.raises(ValueError, match="CAUSAL.*1-D"):
        fn.Conv(4, (3, 3), padding="causal")
    with pytest.raises(ValueError, match="groups must be a positive int dividing features=4"):
        fn.Conv(4, (3, 3), groups=3)
    with pytest.raises(ValueError, match="impl must be one of"):
        fn.Conv(4, (3, 3), impl="fast")
    with pytest.raises(fn.ShapeError, match=r"Conv\(.*expected a 2-D channels-last example"):
        fn.Conv(4, (3, 3)).init(jax.random.key(0), (28, 28))
    with pytest.raises(fn.ShapeError, match="in_features=3 .* not divisible by groups=2"):
        fn.Conv(4, (3, 3), groups=2).init(jax.random.key(0), (8, 8, 3))
    with pytest.raises(fn.ShapeError, match=r"too small for a window spanning \[5, 5\]"):
        fn.Conv(4, (3, 3), padding="VALID", dilation=2).init(jax.random.key(0), (4, 8, 1))
    _, params = fn.Conv(4, (3, 3)).init(jax.random.key(0), (8, 8, 3))
    with pytest.raises(
        fn.ShapeError, match=r"expected input channels of shape \[\.\.\., 3\].*got \[2, 8, 8, 1\]"
    ):
        fn.Conv(4, (3, 3)).apply(params, np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(fn.ShapeError, match=r"Sequential\[1\]: Conv"):
        fn.Sequential(fn.Dense(3), fn.Conv(2, (3, 3))).init(jax.random.key(0), (5,))


def test_conv_transpose_refuses_oversized_crop():
    with pytest.raises(fn.ShapeError, match=r"ConvTranspose.*crop \(\(3, 0\), \(0, 0\)\) is too large"):
        fn.ConvTranspose(2, (3, 3), padding=((3, 0), (0, 0))).init(jax.random.key(0), (4, 4, 1))


@pytest.mark.parametrize("impl,removed", [("patches", True), ("shifted", True), ("fast", False)])
def test_conv_refuses_an_unknown_or_removed_impl_naming_the_allowed_ones(impl, removed):
    with pytest.raises(
        ValueError, match=rf"Conv: impl must be one of \('auto', 'xla', 'hybrid'\), got '{impl}'"
    ) as error:
        fn.Conv(4, (3, 3), impl=impl)
    assert ("removed; see benchmarks/RESULTS.md" in str(error.value)) == removed


def _jaxpr(layer, params, x) -> str:
    return str(jax.make_jaxpr(lambda p, x: layer.apply(p, x))(params, x))


@pytest.mark.parametrize("backend", ["cpu", "gpu", "tpu"])
@pytest.mark.parametrize(
    "in_shape,strides,hybrid_applies", [((6, 6, 2), 1, True), ((6, 6, 6), 1, True), ((7, 7, 3), 2, False)]
)
def test_conv_auto_takes_the_cpu_tuned_path_only_on_cpu(
    monkeypatch, backend, in_shape, strides, hybrid_applies
):
    # On a GPU XLA's own convolution is cuDNN's; "auto" must not route it through the CPU-tuned hybrid.
    _, params = fn.Conv(4, (3, 3), strides=strides).init(jax.random.key(0), in_shape)
    x = jnp.ones((2, *in_shape))
    traced = {
        impl: _jaxpr(fn.Conv(4, (3, 3), strides=strides, impl=impl), params, x) for impl in ("xla", "hybrid")
    }
    assert (traced["hybrid"] != traced["xla"]) == hybrid_applies  # the check can tell the paths apart
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    expected = "hybrid" if backend == "cpu" and hybrid_applies else "xla"
    assert _jaxpr(fn.Conv(4, (3, 3), strides=strides), params, x) == traced[expected]
    assert _jaxpr(fn.Conv(4, (3, 3), strides=strides, impl="hybrid"), params, x) == traced["hybrid"]
