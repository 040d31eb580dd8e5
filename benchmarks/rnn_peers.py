"""Train steps of the LSTM/GRU sequence classifier in each framework, for rnn_formulations.py.

Every builder takes ``(kind, B, T, F, H)`` (kind ``"lstm"`` or ``"gru"``) and returns ``run(x, y)``,
one train step (forward, backward, Adam at lr 1e-3) that blocks until done and returns the loss.
The model is the same everywhere: a one-layer recurrent net over ``[B, T, F]``, its last hidden
state into a dense layer of 10 logits, softmax cross-entropy, float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fnnet as fn

CLASSES = 10


def _jax_runner(loss_fn, params):
    """A donated, jitted Adam step around ``loss_fn(params, x, y)``, as a closure over its state."""
    opt = optax.adam(1e-3)

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    state = [params, opt.init(params)]

    def run(x, y):
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return jax.block_until_ready(loss)

    return run


def _xent(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def fnnet_step(kind, B, T, F, H, **rnn_options):
    """fnnet: ``Sequential(RNN(cell, return_sequences=False, **rnn_options), Dense(10))``."""
    cell = fn.LSTMCell(H) if kind == "lstm" else fn.GRUCell(H)
    model = fn.Sequential(fn.RNN(cell, return_sequences=False, **rnn_options), fn.Dense(CLASSES))
    _, params = model.init(jax.random.key(0), (T, F))
    return _jax_runner(lambda p, x, y: _xent(model.apply(p, x), y), params)


def hand_step(kind, B, T, F, H):
    """A hand-written ``lax.scan``: per step ``x @ W_x + h @ W_h + b``, the obvious formulation."""
    G = 4 if kind == "lstm" else 3
    k = jax.random.split(jax.random.key(0), 3)
    params = {
        "wx": jax.random.normal(k[0], (F, G * H)) / np.sqrt(F),
        "wh": jax.random.normal(k[1], (H, G * H)) / np.sqrt(H),
        "b": jnp.zeros((G * H,)),
        "bh": jnp.zeros((G * H,)),
        "wd": jax.random.normal(k[2], (H, CLASSES)) / np.sqrt(H),
        "bd": jnp.zeros((CLASSES,)),
    }

    def cell(p, carry, x):
        h, c = carry
        a = x @ p["wx"] + p["b"]
        u = h @ p["wh"] + p["bh"]
        if kind == "lstm":
            i, f, g, o = jnp.split(a + u, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None
        (ar, az, an), (ur, uz, un) = jnp.split(a, 3, -1), jnp.split(u, 3, -1)
        r, z = jax.nn.sigmoid(ar + ur), jax.nn.sigmoid(az + uz)
        n = jnp.tanh(an + r * un)
        return ((1 - z) * n + z * h, c), None

    def loss(p, x, y):
        zeros = jnp.zeros((x.shape[0], H))
        (h, _), _ = jax.lax.scan(lambda c, x_t: cell(p, c, x_t), (zeros, zeros), jnp.swapaxes(x, 0, 1))
        return _xent(h @ p["wd"] + p["bd"], y)

    return _jax_runner(loss, params)


def flax_step(kind, B, T, F, H, optimized=False):
    """Flax linen: ``nn.RNN(nn.LSTMCell)`` (or ``OptimizedLSTMCell``, ``GRUCell``), ``nn.Dense``."""
    import flax.linen as nn

    cell_cls = {"lstm": nn.OptimizedLSTMCell if optimized else nn.LSTMCell, "gru": nn.GRUCell}[kind]

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            carry, _ = nn.RNN(cell_cls(H), return_carry=True)(x)
            h = carry[1] if kind == "lstm" else carry
            return nn.Dense(CLASSES)(h)

    net = Net()
    params = net.init(jax.random.key(0), jnp.zeros((B, T, F)))
    return _jax_runner(lambda p, x, y: _xent(net.apply(p, x), y), params)


def haiku_step(kind, B, T, F, H):
    """dm-haiku: ``hk.dynamic_unroll(hk.LSTM or hk.GRU)`` then ``hk.Linear``."""
    import haiku as hk

    def forward(x):
        core = hk.LSTM(H) if kind == "lstm" else hk.GRU(H)
        xs = jnp.swapaxes(x, 0, 1)  # [T, B, F]
        _, state = hk.dynamic_unroll(core, xs, core.initial_state(x.shape[0]))
        h = state.hidden if kind == "lstm" else state
        return hk.Linear(CLASSES)(h)

    net = hk.without_apply_rng(hk.transform(forward))
    params = net.init(jax.random.key(0), jnp.zeros((B, T, F)))
    return _jax_runner(lambda p, x, y: _xent(net.apply(p, x), y), params)


def equinox_step(kind, B, T, F, H):
    """Equinox: ``eqx.nn.LSTMCell`` / ``GRUCell`` in ``lax.scan``, vmapped over the batch."""
    import equinox as eqx

    k1, k2 = jax.random.split(jax.random.key(0))
    cell = (eqx.nn.LSTMCell if kind == "lstm" else eqx.nn.GRUCell)(F, H, key=k1)
    model = (cell, eqx.nn.Linear(H, CLASSES, key=k2))
    params, static = eqx.partition(model, eqx.is_array)

    def one(p, x):  # one example [T, F]
        cell, head = eqx.combine(p, static)
        init = (jnp.zeros(H), jnp.zeros(H)) if kind == "lstm" else jnp.zeros(H)
        state, _ = jax.lax.scan(lambda s, x_t: (cell(x_t, s), None), init, x)
        return head(state[0] if kind == "lstm" else state)

    return _jax_runner(lambda p, x, y: _xent(jax.vmap(one, (None, 0))(p, x), y), params)


def torch_step(kind, B, T, F, H):
    """PyTorch: ``nn.LSTM`` / ``nn.GRU`` (batch_first) then ``nn.Linear``, 2 threads."""
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    rnn = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(F, H, batch_first=True)
    head = torch.nn.Linear(H, CLASSES)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    cache = {}

    def run(x, y):
        key = id(x)
        if key not in cache:
            cache.clear()
            cache[key] = (torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y)).long())
        xt, yt = cache[key]
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(xt)
        loss = torch.nn.functional.cross_entropy(head(out[:, -1]), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return run


PEERS = {
    "hand lax.scan": hand_step,
    "flax nn.RNN": flax_step,
    "haiku dynamic_unroll": haiku_step,
    "equinox cell+scan": equinox_step,
    "pytorch": torch_step,
}
