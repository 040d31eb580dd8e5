"""Sampling token sequences from a trained recurrent language model, batched and jitted.

The model is a ``Sequential`` whose ``RNN`` layers return sequences and whose other layers act per
time step (e.g. ``Sequential(Embedding(V, E), RNN(LSTMCell(H)), Dense(V))``). The prompt is read
once in full; then each new token costs one step of every recurrent layer, its state carried in a
``jax.lax.scan``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fnnet.combinators import Sequential
from fnnet.core import Array, Params, State
from fnnet.layers.recurrent import RNN

__all__ = ["sample"]


def _run(model: Sequential, params: Params, x: Array, states: State) -> tuple[Array, State]:
    """The model on tokens ``x: [B, T]`` from recurrent ``states``; returns logits, new states."""
    new_states = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, RNN):
            x, new_states[str(i)] = layer.run(params[str(i)], x, initial_state=states.get(str(i)))
        else:
            x = layer.apply(params[str(i)], x)
    return x, new_states


@functools.partial(jax.jit, static_argnames=("model", "num_tokens"))
def _sample(model, params, prompt, key, temperature, num_tokens):
    logits, states = _run(model, params, prompt, {})

    def pick(logits, k):  # logits: [B, V]
        greedy = jnp.argmax(logits, axis=-1)
        safe = jnp.where(temperature > 0, temperature, 1.0)
        drawn = jax.random.categorical(k, logits / safe, axis=-1)
        return jnp.where(temperature > 0, drawn, greedy).astype(prompt.dtype)

    def body(carry, k):
        token, states = carry
        logits, states = _run(model, params, token[:, None], states)
        nxt = pick(logits[:, -1], k)
        return (nxt, states), token

    first = pick(logits[:, -1], jax.random.fold_in(key, num_tokens))
    _, tokens = jax.lax.scan(body, (first, states), jax.random.split(key, num_tokens))
    return jnp.swapaxes(tokens, 0, 1)  # [B, num_tokens]


def sample(
    model: Sequential,
    params: Params,
    prompt: ArrayLike,
    num_tokens: int,
    *,
    key: jax.Array,
    temperature: float = 1.0,
) -> Array:
    """Continue each prompt by ``num_tokens`` tokens drawn from ``softmax(logits / temperature)``.

    Args:
        model: a ``Sequential`` of per-step layers and ``RNN(..., return_sequences=True)`` layers
            mapping tokens ``[B, T]`` to logits ``[B, T, V]``.
        params: the model's parameters.
        prompt: ``[B, P]`` int token ids (``P >= 1``), one prompt per row.
        num_tokens: how many tokens to generate.
        key: a ``jax.random`` key.
        temperature: > 0 sharpens (< 1) or flattens (> 1) the distribution; 0 takes the argmax.

    Returns:
        ``[B, num_tokens]`` generated ids (the prompt not included).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"sample: expected a Sequential language model, got {type(model).__name__}")
    for layer in model.layers:
        if isinstance(layer, RNN) and not layer.return_sequences:
            raise ValueError(f"sample: {layer!r} must have return_sequences=True to predict every step")
    prompt = jnp.asarray(prompt)
    if prompt.ndim != 2 or prompt.shape[1] < 1:
        raise ValueError(f"sample: prompt must be [B, P] token ids with P >= 1, got shape {prompt.shape}")
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    return _sample(model, params, prompt, key, jnp.float32(temperature), int(num_tokens))
