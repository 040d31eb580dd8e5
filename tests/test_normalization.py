"""BatchNorm and LayerNorm against PyTorch: train and eval modes, running statistics, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch_ref import assert_close, channels_first, channels_last, fnnet_vjp

import fnnet as fn
from fnnet.interop import torch as convert


def _torch_bn(params, state, channels, momentum):
    bn = torch.nn.BatchNorm2d(channels, eps=1e-5, momentum=1 - momentum).double()
    tensors = convert.batchnorm_to_torch(params, state)
    bn.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in tensors.items()}, strict=False)
    return bn


def test_batch_norm_training_steps_match_torch_including_running_statistics():
    layer = fn.BatchNorm(momentum=0.8)
    _, params = layer.init(jax.random.key(0), (5, 4, 3))
    params = {"scale": jnp.array([1.0, 2.0, 0.5]), "offset": jnp.array([0.0, -1.0, 3.0])}
    state = layer.init_state((5, 4, 3))
    bn = _torch_bn(params, state, 3, 0.8)
    rng = np.random.default_rng(0)
    step = jax.jit(lambda p, s, x: layer.apply_with_state(p, s, x, training=True))
    for i in range(4):
        x = rng.normal(loc=i, scale=1 + i, size=(6, 5, 4, 3)).astype(np.float32)
        y, state = step(params, state, x)
        yt = bn.train()(channels_first(x.astype(np.float64)))
        assert_close(np.asarray(y), channels_last(yt), f"training output, step {i}", tol=1e-4)
    _, expected_state = convert.batchnorm_from_torch(
        {k: v.detach().numpy() for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
        | {"weight": bn.weight.detach().numpy(), "bias": bn.bias.detach().numpy()}
    )
    assert_close(np.asarray(state["mean"]), expected_state["mean"], "running mean", tol=1e-5)
    assert_close(np.asarray(state["var"]), expected_state["var"], "running var", tol=1e-4)
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    y, unchanged = layer.apply_with_state(params, state, x, training=False)
    yt = bn.eval()(channels_first(x.astype(np.float64)))
    assert_close(np.asarray(y), channels_last(yt), "evaluation output", tol=1e-4)
    assert unchanged is state


def test_batch_norm_training_gradients_match_torch():
    layer = fn.BatchNorm()
    _, params = layer.init(jax.random.key(0), (3, 3, 2))
    params = {"scale": jnp.array([1.5, 0.5]), "offset": jnp.array([0.2, -0.3])}
    state = layer.init_state((3, 3, 2))
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(4, 3, 3, 2)), rng.normal(size=(4, 3, 3, 2))
    y, dparams, dx = fnnet_vjp(
        lambda p, x: layer.apply_with_state(p, state, x, training=True)[0], params, x, g
    )
    bn = _torch_bn(params, state, 2, 0.9)
    xt = channels_first(x)
    yt = bn.train()(xt)
    yt.backward(channels_first(g).detach())
    assert_close(y, channels_last(yt), "output", tol=1e-7)
    assert_close(dx, channels_last(xt.grad), "input gradient", tol=1e-7)
    assert_close(dparams["scale"], bn.weight.grad.numpy(), "scale gradient", tol=1e-7)
    assert_close(dparams["offset"], bn.bias.grad.numpy(), "offset gradient", tol=1e-7)


def test_batch_norm_state_flows_through_fit_per_step_and_fused():
    model = fn.Sequential(fn.Conv(4, (3, 3)), fn.BatchNorm(), fn.activations.relu, fn.Flatten(), fn.Dense(2))
    rng = np.random.default_rng(2)
    x = rng.normal(loc=3.0, size=(32, 5, 5, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 3.0).astype(np.int32)
    # SGD, not Adam: BatchNorm cancels the conv bias's gradient to rounding noise, which Adam would
    # scale up to full-size steps that differ between the two (equally valid) compilations.
    results = [
        fn.fit(
            model,
            fn.losses.softmax_cross_entropy,
            optax.sgd(0.05),
            x,
            y,
            key=jax.random.key(0),
            epochs=2,
            batch_size=8,
            fused=fused,
        )
        for fused in (False, True)
    ]
    states = [r.state.model_state["1"] for r in results]
    assert set(states[0]) == {"mean", "var"}
    assert not np.allclose(np.asarray(states[0]["var"]), 1.0), "running variance never updated"
    for name in ("mean", "var"):
        np.testing.assert_allclose(np.asarray(states[0][name]), np.asarray(states[1][name]), rtol=1e-4)


def test_batch_norm_needs_state():
    layer = fn.BatchNorm()
    _, params = layer.init(jax.random.key(0), (3,))
    with pytest.raises(TypeError, match="apply_with_state"):
        layer.apply(params, jnp.zeros((2, 3)))
    with pytest.raises(fn.ShapeError, match=r"BatchNorm.*\[\.\.\., 3\].*got \[2, 4\]"):
        layer.apply_with_state(params, layer.init_state((3,)), jnp.zeros((2, 4)))
    with pytest.raises(ValueError, match="momentum must be in"):
        fn.BatchNorm(momentum=1.0)


def test_layer_norm_matches_torch():
    layer = fn.LayerNorm(epsilon=1e-3)
    _, params = layer.init(jax.random.key(0), (4, 6))
    rng = np.random.default_rng(3)
    params = {"scale": jnp.asarray(rng.normal(size=6)), "offset": jnp.asarray(rng.normal(size=6))}
    x, g = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 4, 6))
    y, dparams, dx = fnnet_vjp(lambda p, x: layer.apply(p, x), params, x, g)
    ln = torch.nn.LayerNorm(6, eps=1e-3).double()
    with torch.no_grad():
        ln.weight.copy_(torch.tensor(np.asarray(params["scale"])))
        ln.bias.copy_(torch.tensor(np.asarray(params["offset"])))
    xt = torch.tensor(x, requires_grad=True)
    yt = ln(xt)
    yt.backward(torch.tensor(g))
    assert_close(y, yt.detach().numpy(), "output")
    assert_close(dx, xt.grad.numpy(), "input gradient")
    assert_close(dparams["scale"], ln.weight.grad.numpy(), "scale gradient")
    assert_close(dparams["offset"], ln.bias.grad.numpy(), "offset gradient")
