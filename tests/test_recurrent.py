"""RNN, LSTM and GRU layers against PyTorch (copied weights) and a Python loop over the cell."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnnet as fn
from fnnet.interop.torch import rnn_from_torch as from_torch
from fnnet.interop.torch import rnn_to_torch as to_torch

TORCH = {fn.SimpleRNNCell: torch.nn.RNN, fn.LSTMCell: torch.nn.LSTM, fn.GRUCell: torch.nn.GRU}
CELLS = [fn.SimpleRNNCell, fn.LSTMCell, fn.GRUCell]
FORMULATIONS = ["auto", "scan", "fused"]
F, H, B, T = 3, 5, 4, 6


def _torch_run(module, x, lengths):
    """PyTorch outputs [B, T, D*H] (zero past each length) and final states {name: [B, L*D, H]}."""
    xt = torch.from_numpy(x)
    if lengths is None:
        out, state = module(xt)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
        )
        out, state = module(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    states = state if isinstance(state, tuple) else (state,)
    names = ("h", "c")[: len(states)]
    return out, {n: s.transpose(0, 1) for n, s in zip(names, states, strict=True)}


def _setup(cell_cls, num_layers, bidirectional, formulation="scan", seed=0):
    torch.manual_seed(seed)
    module = TORCH[cell_cls](F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    rnn = fn.RNN(cell_cls(H), num_layers=num_layers, bidirectional=bidirectional, formulation=formulation)
    return module, rnn, from_torch(module.state_dict(), rnn)


# One layer one way, and two stacked bidirectional layers, each with full and ragged lengths.
OPTIONS = [(c, n, bi, ragged) for c in CELLS for n, bi in [(1, False), (2, True)] for ragged in [False, True]]


@pytest.mark.parametrize("cell_cls,num_layers,bidirectional,ragged", OPTIONS)
def test_outputs_states_and_gradients_match_pytorch(cell_cls, num_layers, bidirectional, ragged):
    module, rnn, params = _setup(cell_cls, num_layers, bidirectional)
    assert_matches_pytorch(module, rnn, params, np.array([T, 2, 1, 4]) if ragged else None)


def assert_matches_pytorch(module, rnn, params, lengths, seed=1):
    """``rnn.run``'s outputs, final states and parameter gradients equal ``module``'s (PyTorch's)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    w_out = rng.normal(size=(B, T, rnn.output_size)).astype(np.float32)  # a random loss direction

    t_out, t_state = _torch_run(module, x, lengths)
    t_loss = (t_out * torch.from_numpy(w_out)).sum() + sum(s.sum() for s in t_state.values())
    t_loss.backward()

    def loss(p):
        y, state = rnn.run(p, jnp.asarray(x), lengths=None if lengths is None else jnp.asarray(lengths))
        return jnp.sum(y * w_out) + sum(jnp.sum(s) for s in state.values()), (y, state)

    grads, (y, state) = jax.jit(jax.grad(loss, has_aux=True))(params)
    np.testing.assert_allclose(np.asarray(y), t_out.detach().numpy(), atol=1e-5)
    for n in state:
        np.testing.assert_allclose(np.asarray(state[n]), t_state[n].detach().numpy(), atol=1e-5)
    # Map PyTorch's gradients through the converter: d/d(kernel) = (d/d weight).T, bias grads equal.
    t_grads = {k: v.grad.numpy() for k, v in module.named_parameters()}
    expected = from_torch(t_grads, rnn)
    for layer, direction in itertools.product(params, rnn.directions):
        for name, g in grads[layer][direction].items():
            want = expected[layer][direction][name]
            if name == "bias" and not isinstance(rnn.cell, fn.GRUCell):
                want = t_grads[_name("bias_ih", rnn, layer, direction)]  # d/d(b_ih + b_hh) = d/d b_ih
            np.testing.assert_allclose(
                np.asarray(g), np.asarray(want), atol=1e-4, err_msg=f"{layer}/{direction}/{name}"
            )


def _name(base, rnn, layer, direction):
    return f"{base}_l{layer}" + ("_reverse" if direction == "backward" else "")


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("cell_cls", CELLS)
def test_every_formulation_matches_pytorch_with_lengths(cell_cls, formulation):
    if formulation == "fused" and cell_cls is fn.SimpleRNNCell:
        with pytest.raises(
            ValueError, match="'fused' is only available for LSTMCell and GRUCell, not SimpleRNNCell"
        ):
            fn.RNN(cell_cls(H), formulation=formulation)
        return
    module, rnn, params = _setup(cell_cls, 1, True, formulation)
    x = np.random.default_rng(2).normal(size=(B, T, F)).astype(np.float32)
    lengths = np.array([3, T, 1, 5])
    t_out, t_state = _torch_run(module, x, lengths)
    y, state = jax.jit(rnn.run)(params, jnp.asarray(x), lengths=jnp.asarray(lengths))
    np.testing.assert_allclose(np.asarray(y), t_out.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(state["h"]), t_state["h"].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize("cell_cls", CELLS)
def test_converter_round_trip_gives_the_same_pytorch_function(cell_cls):
    module, rnn, params = _setup(cell_cls, 2, True)
    twin = TORCH[cell_cls](F, H, num_layers=2, bidirectional=True, batch_first=True)
    twin.load_state_dict({k: torch.tensor(v) for k, v in to_torch(params, rnn).items()})
    x = torch.randn(B, T, F)
    np.testing.assert_allclose(twin(x)[0].detach().numpy(), module(x)[0].detach().numpy(), atol=1e-6)


def test_converter_errors_name_the_missing_weight():
    module, rnn, _ = _setup(fn.LSTMCell, 1, False)
    sd = {k: v for k, v in module.state_dict().items() if k != "weight_hh_l0"}
    with pytest.raises(KeyError, match="weight_hh_l0"):
        from_torch(sd, rnn)
    with pytest.raises(ValueError, match=r"weight_hh_l0 has shape \(20, 5\), expected \(28, 7\)"):
        from_torch(module.state_dict(), fn.RNN(fn.LSTMCell(7)))


@pytest.mark.parametrize("cell_cls", CELLS)
def test_scan_equals_a_python_loop_over_the_cell(cell_cls):
    cell = cell_cls(H)
    rnn = fn.RNN(cell, reverse=True)
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    carry, outs = cell.zero_carry((B,)), []
    for t in reversed(range(T)):
        carry, y = cell(params["0"]["backward"], carry, x[:, t])
        outs.append(y)
    y, state = jax.jit(rnn.run)(params, x)
    np.testing.assert_allclose(np.asarray(y), np.stack(outs[::-1], axis=1), atol=1e-6)
    np.testing.assert_allclose(np.asarray(state["h"][:, 0]), np.asarray(carry["h"]), atol=1e-6)


@pytest.mark.parametrize("formulation", [*FORMULATIONS, "onednn"])
@pytest.mark.parametrize("cell_cls", [fn.LSTMCell, fn.GRUCell])
def test_inputs_narrower_than_the_kernels_are_promoted_as_a_dense_layer_promotes_them(cell_cls, formulation):
    """bfloat16 or integer inputs to float32 parameters compute in float32, as ``x @ kernel`` would."""
    rnn = fn.RNN(cell_cls(H), bidirectional=True, formulation=formulation)
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = np.random.default_rng(0).integers(-3, 4, size=(B, T, F))
    want = rnn.run(params, x.astype(np.float32))
    for narrow in (x.astype(jnp.bfloat16), x.astype(np.int32)):  # both hold these integers exactly
        got = rnn.run(params, narrow)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            assert a.dtype == jnp.float32
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("unroll", [3])
def test_unroll_does_not_change_results(unroll):
    x = jax.random.normal(jax.random.key(1), (B, 7, F))
    lengths = jnp.array([7, 2, 5, 1])
    base = fn.RNN(fn.LSTMCell(H), num_layers=2, bidirectional=True)
    _, params = base.init(jax.random.key(0), (7, F))
    want = base.run(params, x, lengths=lengths)
    got = fn.RNN(fn.LSTMCell(H), num_layers=2, bidirectional=True, unroll=unroll).run(
        params, x, lengths=lengths
    )
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


OPTION_GRID = list(
    itertools.product(
        [True, False],
        [1, 2],
        [(False, "concat"), (True, "concat"), (True, "sum")],
        ["zero", "learned"],
    )
)


@pytest.mark.parametrize("return_sequences,num_layers,bi_merge,initial_state", OPTION_GRID)
def test_every_option_combination_has_the_shapes_init_predicts(
    return_sequences, num_layers, bi_merge, initial_state
):
    bidirectional, merge = bi_merge
    rnn = fn.RNN(
        fn.GRUCell(H),
        return_sequences,
        num_layers,
        bidirectional,
        merge,
        initial_state=initial_state,
    )
    out_shape, params = rnn.init(jax.random.key(0), (T, F))
    x = jnp.ones((2, 3, T, F))
    y, state = jax.eval_shape(lambda: rnn.run(params, x, lengths=jnp.full((2, 3), T - 1)))
    assert y.shape == (2, 3, *out_shape)
    assert state["h"].shape == (2, 3, num_layers * (2 if bidirectional else 1), H)
    given = {n: jnp.zeros(s.shape) for n, s in state.items()}  # the final state's layout
    state_shapes = jax.eval_shape(lambda: rnn.run(params, x, initial_state=given)[1])
    assert state_shapes["h"].shape == state["h"].shape


def test_lengths_freeze_the_state_and_zero_the_outputs():
    rnn = fn.RNN(fn.LSTMCell(H))
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (2, T, F))
    y, state = jax.jit(rnn.run)(params, x, lengths=jnp.array([3, T]))
    y3, state3 = jax.jit(rnn.run)(params, x[:1, :3])  # the first sequence cut at its length
    np.testing.assert_array_equal(np.asarray(y[0, 3:]), 0.0)
    np.testing.assert_allclose(np.asarray(y[0, :3]), np.asarray(y3[0]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(state["c"][0]), np.asarray(state3["c"][0]), atol=1e-6)


def test_given_initial_state_continues_a_sequence():
    rnn = fn.RNN(fn.LSTMCell(H), num_layers=2)
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    run = jax.jit(rnn.run)
    whole, state = run(params, x)
    first, mid = run(params, x[:, :2])
    second, end = run(params, x[:, 2:], initial_state=mid)
    np.testing.assert_allclose(np.asarray(jnp.concatenate([first, second], 1)), np.asarray(whole), atol=1e-6)
    np.testing.assert_allclose(np.asarray(end["c"]), np.asarray(state["c"]), atol=1e-6)


def test_learned_initial_state_is_used_and_trained():
    rnn = fn.RNN(fn.SimpleRNNCell(H), initial_state="learned", return_sequences=False)
    _, params = rnn.init(jax.random.key(0), (T, F))
    params["0"]["forward"]["initial_state"]["h"] = jnp.full((H,), 0.3)
    x = jnp.zeros((1, 1, F))  # one step: h = tanh(h0 @ W_h + b)
    p = params["0"]["forward"]
    want = np.tanh(0.3 * np.asarray(p["recurrent_kernel"]).sum(0) + np.asarray(p["bias"]))
    np.testing.assert_allclose(np.asarray(rnn.apply(params, x))[0], want, atol=1e-6)
    g = jax.grad(lambda p: rnn.apply(p, x).sum())(params)
    assert np.abs(np.asarray(g["0"]["forward"]["initial_state"]["h"])).sum() > 0


def test_dropout_between_layers_only_when_training():
    rnn = fn.RNN(fn.GRUCell(H), num_layers=2, dropout_rate=0.5)
    _, params = rnn.init(jax.random.key(0), (T, F))
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    plain = jax.jit(fn.RNN(fn.GRUCell(H), num_layers=2).apply)(params, x)
    np.testing.assert_array_equal(np.asarray(jax.jit(rnn.apply)(params, x)), np.asarray(plain))
    train = jax.jit(lambda p, x, k: rnn.apply(p, x, key=k, training=True))
    a, b = train(params, x, jax.random.key(3)), train(params, x, jax.random.key(4))
    assert not np.allclose(np.asarray(a), np.asarray(plain)) and not np.allclose(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="needs a key"):
        rnn.apply(params, x, training=True)


def test_classifier_in_sequential_gives_logits():
    model = fn.Sequential(fn.RNN(fn.LSTMCell(8), return_sequences=False), fn.Dense(10))
    out_shape, params = model.init(jax.random.key(0), (100, 32))
    assert out_shape == (10,)
    assert jax.eval_shape(model.apply, params, jnp.ones((2, 100, 32))).shape == (2, 10)


def test_bad_inputs_give_clear_errors():
    rnn = fn.RNN(fn.LSTMCell(H))
    _, params = rnn.init(jax.random.key(0), (T, F))
    with pytest.raises(fn.ShapeError, match=r"RNN.*expected a per-example sequence \[T, F\], got \[3\]"):
        rnn.init(jax.random.key(0), (3,))
    with pytest.raises(fn.ShapeError, match=r"expected input of shape \[\.\.\., T, 3\].*got \[4\]"):
        rnn.apply(params, jnp.ones((4,)))
    with pytest.raises(fn.ShapeError, match=r"expected input of shape \[\.\.\., T, 3\].*got \[2, 6, 4\]"):
        rnn.apply(params, jnp.ones((2, T, 4)))
    x = jnp.ones((2, T, F))
    with pytest.raises(fn.ShapeError, match=r"lengths must be in 1\.\.6.*from 2 to 7"):
        rnn.apply(params, x, lengths=jnp.array([2, 7]))
    with pytest.raises(fn.ShapeError, match=r"lengths must be in 1\.\.6.*from 0 to 3"):
        rnn.apply(params, x, lengths=jnp.array([0, 3]))
    with pytest.raises(fn.ShapeError, match=r"lengths must have the batch shape \[2\], got \[3\]"):
        rnn.apply(params, x, lengths=jnp.array([1, 2, 3]))
    with pytest.raises(fn.ShapeError, match=r"initial_state\['h'\] must have shape \[2, 1, 5\]"):
        rnn.apply(params, x, initial_state={"h": jnp.zeros((2, 5)), "c": jnp.zeros((2, 1, 5))})
    with pytest.raises(fn.ShapeError, match=r"Sequential\[0\].*got \[2, 6, 4\]"):
        fn.Sequential(rnn, fn.Dense(2)).apply({"0": params, "1": {}}, jnp.ones((2, T, 4)))
    with pytest.raises(ValueError, match="merge must be 'concat' or 'sum'"):
        fn.RNN(fn.LSTMCell(H), merge="mean")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        fn.GRUCell(0)
    with pytest.raises(TypeError, match="cell must be a recurrent cell"):
        fn.RNN(fn.Dense(3))


def test_cells_use_orthogonal_recurrent_kernels_and_forget_bias():
    params = fn.LSTMCell(H, forget_bias=1.0).init(jax.random.key(0), F)
    w = np.asarray(params["recurrent_kernel"])
    for g in range(4):
        block = w[:, g * H : (g + 1) * H]
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(params["bias"]), np.repeat([0.0, 1.0, 0.0, 0.0], H))
    assert fn.GRUCell(H).init(jax.random.key(0), F)["recurrent_bias"].shape == (3 * H,)


def test_embedding_looks_up_rows_and_rejects_bad_tokens():
    emb = fn.Embedding(7, 3)
    out_shape, params = emb.init(jax.random.key(0), (4,))
    assert out_shape == (4, 3)
    tokens = np.array([[0, 6, 2, 2]])
    np.testing.assert_array_equal(
        np.asarray(emb.apply(params, tokens)), np.asarray(params["embedding"])[tokens]
    )
    with pytest.raises(fn.ShapeError, match=r"Embedding.*tokens must be in 0\.\.6, found 7"):
        emb.apply(params, np.array([1, 7]))
    with pytest.raises(fn.ShapeError, match="expected integer tokens, got dtype float32"):
        emb.apply(params, jnp.ones((2,)))


# Under jit the lengths' values are unknown, so they cannot be refused as they are eagerly: they are
# clamped to 0..T. The batch repeats one sequence, so rows with equal clamped lengths must agree.
JIT_LENGTHS = [0, -1, T, T + 1, T + 5]


@pytest.mark.parametrize("bidirectional,reverse", [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("cell_cls", CELLS)
def test_lengths_out_of_range_under_jit_are_clamped(cell_cls, formulation, bidirectional, reverse):
    if formulation == "fused" and cell_cls is fn.SimpleRNNCell:
        pytest.skip("the fused formulation is for the LSTM and GRU")
    rnn = fn.RNN(
        cell_cls(H), num_layers=2, bidirectional=bidirectional, reverse=reverse, formulation=formulation
    )
    _, params = rnn.init(jax.random.key(0), (T, F))
    one = jax.random.normal(jax.random.key(1), (1, T, F))
    x = jnp.repeat(one, len(JIT_LENGTHS), axis=0)
    lengths = jnp.array(JIT_LENGTHS)
    y, state = jax.jit(rnn.run)(params, x, lengths=lengths)
    y, state = np.asarray(y), {n: np.asarray(a) for n, a in state.items()}
    assert np.all(np.isfinite(y)) and all(np.all(np.isfinite(a)) for a in state.values())
    full_y, full_state = rnn.run(params, one)  # eager, no lengths: the whole sequence
    for row in (2, 3, 4):  # T, T + 1, T + 5: the whole sequence
        np.testing.assert_allclose(y[row], full_y[0], rtol=1e-5, atol=1e-6)
        for n, a in state.items():
            np.testing.assert_allclose(a[row], full_state[n][0], rtol=1e-5, atol=1e-6)
    for row in (0, 1):  # 0, -1: an empty sequence, zero outputs and the (zero) initial state
        assert np.all(y[row] == 0) and all(np.all(a[row] == 0) for a in state.values())

    def total(p, lengths):  # an argument, so traced under jit (closed-over values are checked)
        out, final = rnn.run(p, x, lengths=lengths)
        return jnp.sum(out) + sum(jnp.sum(a) for a in final.values())

    grads = jax.jit(jax.grad(total))(params, lengths)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
