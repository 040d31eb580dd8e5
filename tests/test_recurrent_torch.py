"""Every formulation of every recurrent cell against PyTorch (copied weights), with ragged lengths.

For one forward layer and two stacked bidirectional layers, on packed sequences
(``pack_padded_sequence``) from a given initial state, ``RNN.run`` must give ``torch.nn.RNN/LSTM/GRU``'s
outputs and final states, and the gradients of a random linear function of both with respect to
every parameter, the input and the initial state. The fused formulation's hand-written backward pass
(``fnnet.layers.fused``) is checked here: its gradients through padded steps are nowhere else.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax.test_util import check_grads

import fnnet as fn
from fnnet.interop.torch import rnn_from_torch

TORCH = {fn.SimpleRNNCell: torch.nn.RNN, fn.LSTMCell: torch.nn.LSTM, fn.GRUCell: torch.nn.GRU}
# Every formulation each cell accepts on the CPU ("cudnn" is in test_cudnn_lstm.py).
FORMULATIONS = {
    fn.SimpleRNNCell: ["auto", "scan"],
    fn.LSTMCell: ["auto", "scan", "fused"],
    fn.GRUCell: ["auto", "scan", "fused"],
}
CASES = [(c, f) for c, fs in FORMULATIONS.items() for f in fs]
F, H, B, T = 3, 5, 4, 7
LENGTHS = np.array([T, 3, 1, 5])  # ragged and unsorted


def _torch_run(module, x, state0, lengths, w_out, w_state):
    """PyTorch's outputs, final states and gradients of ``sum(out * w_out) + sum(state * w_state)``."""
    xt = torch.tensor(x, requires_grad=True)
    names = list(state0)
    s0 = [torch.tensor(np.ascontiguousarray(np.swapaxes(state0[n], 0, 1)), requires_grad=True) for n in names]
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
    )
    out, state = module(packed, tuple(s0) if len(s0) == 2 else s0[0])
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    state = dict(zip(names, state if isinstance(state, tuple) else (state,), strict=True))
    state = {n: s.transpose(0, 1) for n, s in state.items()}  # [B, L*D, H]
    loss = (out * torch.from_numpy(w_out)).sum()
    loss = loss + sum((state[n] * torch.from_numpy(w_state[n])).sum() for n in names)
    loss.backward()
    grads = {
        "params": {k: v.grad.numpy() for k, v in module.named_parameters()},
        "x": xt.grad.numpy(),
        "initial_state": {n: np.swapaxes(s.grad.numpy(), 0, 1) for n, s in zip(names, s0, strict=True)},
    }
    return out.detach().numpy(), {n: s.detach().numpy() for n, s in state.items()}, grads


def _expected_param_grads(t_grads, rnn):
    """PyTorch's weight gradients in fnnet's layout (the one bias of RNN/LSTM gets ``d/d bias_ih``)."""
    expected = rnn_from_torch(t_grads, rnn)
    if not isinstance(rnn.cell, fn.GRUCell):
        for layer, direction in itertools.product(expected, rnn.directions):
            suffix = f"_l{layer}" + ("_reverse" if direction == "backward" else "")
            expected[layer][direction]["bias"] = t_grads["bias_ih" + suffix]
    return expected


def assert_matches_torch(cell, formulation, num_layers, bidirectional, nonlinearity="tanh", seed=0):
    torch.manual_seed(seed)
    extra = {"nonlinearity": nonlinearity} if isinstance(cell, fn.SimpleRNNCell) else {}
    module = TORCH[type(cell)](
        F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **extra
    )
    rnn = fn.RNN(cell, num_layers=num_layers, bidirectional=bidirectional, formulation=formulation)
    params = rnn_from_torch(module.state_dict(), rnn)
    rng = np.random.default_rng(seed + 1)
    LD = num_layers * len(rnn.directions)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    state0 = {n: rng.normal(size=(B, LD, H)).astype(np.float32) for n in cell.carry_names}
    w_out = rng.normal(size=(B, T, rnn.output_size)).astype(np.float32)
    w_state = {n: rng.normal(size=(B, LD, H)).astype(np.float32) for n in cell.carry_names}
    t_out, t_state, t_grads = _torch_run(module, x, state0, LENGTHS, w_out, w_state)

    def loss(p, x, s0):
        y, state = rnn.run(p, x, lengths=jnp.asarray(LENGTHS), initial_state=s0)
        return jnp.sum(y * w_out) + sum(jnp.sum(state[n] * w_state[n]) for n in state), (y, state)

    grad_fn = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))
    (g_params, g_x, g_state), (y, state) = grad_fn(params, jnp.asarray(x), jax.tree.map(jnp.asarray, state0))
    np.testing.assert_allclose(np.asarray(y), t_out, atol=1e-5, err_msg="outputs")
    for n in cell.carry_names:
        np.testing.assert_allclose(np.asarray(state[n]), t_state[n], atol=1e-5, err_msg=f"final {n}")
        np.testing.assert_allclose(
            np.asarray(g_state[n]), t_grads["initial_state"][n], atol=1e-4, err_msg=f"d/d initial {n}"
        )
    np.testing.assert_allclose(np.asarray(g_x), t_grads["x"], atol=1e-4, err_msg="d/dx")
    expected = _expected_param_grads(t_grads["params"], rnn)
    assert set(g_params) == set(expected)
    for layer, direction in itertools.product(g_params, rnn.directions):
        got, want = g_params[layer][direction], expected[layer][direction]
        assert set(got) == set(want)
        for name in got:
            np.testing.assert_allclose(
                np.asarray(got[name]), want[name], atol=1e-4, err_msg=f"d/d {layer}/{direction}/{name}"
            )


@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("cell_cls,formulation", CASES)
def test_outputs_states_and_all_gradients_match_pytorch_with_ragged_lengths(
    cell_cls, formulation, num_layers, bidirectional
):
    assert_matches_torch(cell_cls(H), formulation, num_layers, bidirectional)


@pytest.mark.parametrize("formulation", FORMULATIONS[fn.SimpleRNNCell])
def test_simple_rnn_activation_is_used(formulation):
    cell = fn.SimpleRNNCell(H, activation=fn.activations.relu)
    assert_matches_torch(cell, formulation, 2, True, nonlinearity="relu")


@pytest.mark.parametrize("cell_cls,formulation", [c for c in CASES if c[1] != "auto"])
def test_gradients_with_lengths_match_finite_differences(cell_cls, formulation):
    rnn = fn.RNN(cell_cls(3), bidirectional=True, formulation=formulation)
    with jax.enable_x64(True):
        _, params = rnn.init(jax.random.key(0), (5, 2))
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
        x = jax.random.normal(jax.random.key(1), (3, 5, 2), jnp.float64)
        lengths = jnp.array([5, 2, 4])

        def f(p, x):
            y, state = rnn.run(p, x, lengths=lengths)
            return jnp.sum(jnp.sin(y)) + sum(jnp.sum(jnp.cos(s)) for s in state.values())

        check_grads(f, (params, x), order=1, modes=["rev"])
