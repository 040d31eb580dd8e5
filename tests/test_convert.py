"""Layout converters against real PyTorch modules: copied weights give the same outputs."""

import numpy as np
import pytest
import torch

import fnnet as fn
from fnnet.interop import torch as convert


def _numpy_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def test_dense_round_trip_and_outputs():
    linear = torch.nn.Linear(5, 3)
    params = convert.dense_from_torch(_numpy_state(linear))
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    expected = linear(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(fn.Dense(3).apply(params, x)), expected, rtol=1e-5, atol=1e-6)
    back = convert.dense_to_torch(params)
    np.testing.assert_array_equal(back["weight"], linear.weight.detach().numpy())


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_from_torch_gives_torch_outputs(groups):
    conv = torch.nn.Conv2d(4, 6, (3, 2), padding=0, groups=groups)
    params = convert.conv_from_torch(_numpy_state(conv))
    assert params["kernel"].shape == (3, 2, 4 // groups, 6)
    x = np.random.default_rng(1).normal(size=(2, 4, 7, 5)).astype(np.float32)
    expected = conv(torch.tensor(x)).detach().numpy().transpose(0, 2, 3, 1)
    layer = fn.Conv(6, (3, 2), padding="VALID", groups=groups)
    y = layer.apply(params, x.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-5)
    back = convert.conv_to_torch(params)
    np.testing.assert_array_equal(back["weight"], conv.weight.detach().numpy())


def test_conv_transpose_and_batchnorm_round_trips():
    deconv = torch.nn.ConvTranspose2d(3, 2, 3)
    params = convert.conv_transpose_from_torch(_numpy_state(deconv))
    assert params["kernel"].shape == (3, 3, 3, 2)
    np.testing.assert_array_equal(
        convert.conv_transpose_to_torch(params)["weight"], deconv.weight.detach().numpy()
    )
    bn = torch.nn.BatchNorm2d(3)
    bn.running_mean.fill_(0.5)
    params, state = convert.batchnorm_from_torch(_numpy_state(bn))
    assert set(params) == {"scale", "offset"} and set(state) == {"mean", "var"}
    back = convert.batchnorm_to_torch(params, state)
    np.testing.assert_array_equal(back["running_mean"], bn.running_mean.numpy())


def test_converter_errors_name_what_is_missing():
    with pytest.raises(KeyError, match=r"conv_from_torch: expected a PyTorch entry 'weight'"):
        convert.conv_from_torch({"kernel": np.zeros((3, 3, 1, 2))})
    with pytest.raises(ValueError, match=r"dense_from_torch: weight must be \[out, in\]"):
        convert.dense_from_torch({"weight": np.zeros(3)})
