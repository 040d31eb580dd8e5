"""Conv padding against pads written out by hand, and CAUSAL convolution tested for causality itself.

``test_conv.py`` pads PyTorch's input with the pads fnnet computes, so it cannot see a wrong pad rule;
here the expected ``(low, high)`` pairs are hard-coded (as ``test_pool.py`` does for pooling) and
PyTorch convolves the input padded with them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.nn import functional as tnf
from torch_ref import assert_close, channels_first, channels_last, torch_pad

import fnnet as fn
from fnnet.interop import torch as convert

TORCH_CONV = {1: tnf.conv1d, 2: tnf.conv2d, 3: tnf.conv3d}

# (kernel_size, strides, dilation, spatial input sizes, padding, expected (low, high) per axis).
# SAME: total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0), the odd zero at the HIGH end.
# CAUSAL: (k - 1) * d zeros at the low end, none at the high end.
PADS = [
    ((3,), 1, 1, (7,), "SAME", ((1, 1),)),
    ((4,), 1, 1, (5,), "SAME", ((1, 2),)),
    ((2,), 1, 1, (6,), "SAME", ((0, 1),)),
    ((3,), 2, 1, (8,), "SAME", ((0, 1),)),
    ((3,), 2, 1, (9,), "SAME", ((1, 1),)),
    ((4,), 3, 1, (10,), "SAME", ((1, 2),)),
    ((3,), 1, 2, (9,), "SAME", ((2, 2),)),
    ((2,), 1, 3, (7,), "SAME", ((1, 2),)),
    ((5,), 3, 1, (6,), "SAME", ((1, 1),)),
    ((3,), 4, 1, (8,), "SAME", ((0, 0),)),  # the 2 outputs fit without padding
    ((3,), 1, 1, (7,), "VALID", ((0, 0),)),
    ((3,), 1, 1, (7,), "CAUSAL", ((2, 0),)),
    ((3,), 1, 2, (9,), "CAUSAL", ((4, 0),)),
    ((4,), 2, 1, (10,), "CAUSAL", ((3, 0),)),
    ((2,), 1, 3, (7,), "CAUSAL", ((3, 0),)),
    ((3,), 1, 1, (5,), 2, ((2, 2),)),
    ((4, 3), (1, 2), 1, (5, 8), "SAME", ((1, 2), (0, 1))),
    ((2, 3), (2, 1), (3, 1), (7, 6), "SAME", ((1, 2), (1, 1))),
    ((3, 3), 1, 1, (6, 5), ((2, 0), (1, 3)), ((2, 0), (1, 3))),
    ((2, 2, 3), (1, 1, 2), 1, (3, 4, 5), "SAME", ((0, 1), (0, 1), (1, 1))),
]


def _fnnet_forward(layer, params, x) -> np.ndarray:
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        return np.asarray(layer.apply(params, jnp.asarray(x, jnp.float64)))


@pytest.mark.parametrize("impl", ["xla", "hybrid"])
@pytest.mark.parametrize("kernel_size,strides,dilation,sizes,padding,pads", PADS)
def test_conv_pads_as_written_out(kernel_size, strides, dilation, sizes, padding, pads, impl):
    layer = fn.Conv(3, kernel_size, strides=strides, padding=padding, dilation=dilation, impl=impl)
    in_shape = (*sizes, 2)  # 2 channels: the hybrid forward is its shifted products
    assert layer._geometry(in_shape)[0] == pads
    out_shape, params = layer.init(jax.random.key(0), in_shape)
    params["bias"] = jax.random.normal(jax.random.key(1), params["bias"].shape)
    x = np.random.default_rng(0).normal(size=(2, *in_shape))
    torch_params = {k: torch.tensor(np.asarray(v)) for k, v in convert.conv_to_torch(params).items()}
    expected = TORCH_CONV[len(sizes)](
        tnf.pad(channels_first(x), torch_pad(pads)),
        torch_params["weight"].double(),
        torch_params["bias"].double(),
        stride=layer.strides,
        dilation=layer.dilation,
    )
    expected = channels_last(expected)
    assert expected.shape == (2, *out_shape)
    assert_close(_fnnet_forward(layer, params, x), expected, f"{padding} output")


@pytest.mark.parametrize("impl", ["xla", "hybrid"])
@pytest.mark.parametrize("kernel,dilation,strides", [(2, 1, 1), (3, 1, 1), (3, 2, 1), (5, 3, 1), (4, 1, 2)])
def test_causal_conv_never_sees_the_future(kernel, dilation, strides, impl):
    steps = 12
    layer = fn.Conv(3, (kernel,), strides=strides, dilation=dilation, padding="CAUSAL", impl=impl)
    _, params = layer.init(jax.random.key(0), (steps, 2))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, steps, 2)).astype(np.float32)
    y = np.asarray(layer.apply(params, x))
    assert y.shape == (2, -(-steps // strides), 3)  # one output per stride, the last ends at t = T - 1
    for t in range(steps - 1):
        changed = x.copy()
        changed[:, t + 1 :] = rng.normal(size=changed[:, t + 1 :].shape)
        y_changed = np.asarray(layer.apply(params, changed))
        seen = t // strides + 1  # outputs j whose window ends at j * strides <= t
        np.testing.assert_allclose(y_changed[:, :seen], y[:, :seen], rtol=0, atol=1e-6, err_msg=f"t={t}")
        if seen < y.shape[1]:  # ...and the next one, ending at j * strides >= t + 1, does: no delay
            assert np.abs(y_changed[:, seen] - y[:, seen]).max() > 1e-3, f"t={t}"
