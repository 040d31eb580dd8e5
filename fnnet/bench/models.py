"""Benchmarks of an fnnet model: its whole train step, or its forward pass.

Both cast the floating-point parameters (and optimizer state) to the benchmark's dtype, time the
compiled computation with ``fnnet.bench.benchmark`` and add the model's parameter count and output
shape, the facts a comparison between frameworks must agree on. A mixed-precision policy name as the
dtype (``"mixed_bfloat16"``, ``"mixed_float16"``) times the model wrapped in ``fnnet.precision.Mixed``:
float32 parameters, optimizer state and inputs, the policy's compute dtype inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike, DTypeLike

from fnnet import precision
from fnnet.bench.timing import benchmark
from fnnet.core import Layer, Params, Shape, State
from fnnet.training import init_train_state, make_train_step

__all__ = ["cast_floats", "forward_benchmark", "param_count", "train_step_benchmark"]


def cast_floats(tree: Any, dtype: DTypeLike) -> Any:
    """``tree`` with every floating-point leaf cast to ``dtype`` (integer leaves, keys
    untouched)."""

    def cast(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array | jnp.ndarray) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf.astype(dtype)
        return leaf

    return jax.tree.map(cast, tree)


def _under(model: Layer, dtype: str) -> tuple[Layer, str]:
    """``(model to time, dtype of its parameters and inputs)``: a policy name wraps the model in ``Mixed``."""
    if dtype.startswith("mixed_"):
        policy = precision.get_policy(dtype)
        return precision.Mixed(model, policy), policy.param_dtype
    return model, dtype


def param_count(params: Params) -> int:
    """The number of scalars in a parameter pytree."""
    return int(sum(leaf.size for leaf in jax.tree.leaves(params)))


def _model_facts(model: Layer, params: Params, in_shape: Shape, dtype: DTypeLike) -> dict[str, Any]:
    out = jax.eval_shape(
        lambda p, x: model.apply_with_state(p, model.init_state(in_shape), x)[0],
        params,
        jax.ShapeDtypeStruct((1, *in_shape), dtype),
    )
    return {"param_count": param_count(params), "out_shape": list(out.shape[1:])}


def train_step_benchmark(
    model: Layer,
    loss: Callable,
    optimizer: optax.GradientTransformation,
    x: ArrayLike,
    y: ArrayLike,
    *,
    key: jax.Array | None = None,
    dtype: str = "float32",
    **options: Any,
) -> dict[str, Any]:
    """Time one full training step (forward, backward, optimizer update) of ``model`` on ``(x, y)``.

    The step is ``fnnet.make_train_step`` (jitted, state donated), exactly what ``fnnet.fit`` runs.

    Args:
        model: the model.
        loss: ``loss(outputs, targets) -> scalar``.
        optimizer: an optax GradientTransformation.
        x: one batch of inputs ``[B, ...]`` (cast to ``dtype`` if floating).
        y: its targets ``[B, ...]``.
        key: the initialisation key (default ``jax.random.key(0)``).
        dtype: parameters, optimizer state and floating inputs are cast to it; or a policy name such
            as ``"mixed_bfloat16"`` (see the module docstring).
        **options: passed to ``benchmark`` (``warmup``, ``number``, ``repeats``, ...).

    Returns:
        The ``benchmark`` result plus ``param_count``, ``out_shape``, ``batch_size`` and
        ``kind="train_step"``.
    """
    key = jax.random.key(0) if key is None else key
    model, stored = _under(model, dtype)
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(stored)
    y = jnp.asarray(y)
    state = init_train_state(model, optimizer, key, tuple(x.shape[1:]))
    state = state._replace(
        params=cast_floats(state.params, stored), opt_state=cast_floats(state.opt_state, stored)
    )
    step = make_train_step(model, loss, optimizer)
    facts = _model_facts(model, state.params, tuple(x.shape[1:]), x.dtype)
    result = benchmark(step, state, (x, y), carry=True, samples_per_call=x.shape[0], dtype=dtype, **options)
    return {**result, **facts, "batch_size": int(x.shape[0]), "kind": "train_step"}


def forward_benchmark(
    model: Layer,
    params: Params,
    x: ArrayLike,
    *,
    dtype: str = "float32",
    model_state: State | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Time the forward pass ``model.apply(params, x)`` in evaluation mode.

    Args:
        model: the model.
        params: its parameters (cast to ``dtype``).
        x: a batch of inputs ``[B, ...]`` (cast to ``dtype`` if floating).
        dtype: the dtype of the computation, or a policy name such as ``"mixed_bfloat16"``.
        model_state: the model's state, for models with batch statistics.
        **options: passed to ``benchmark``.

    Returns:
        The ``benchmark`` result plus ``param_count``, ``out_shape``, ``batch_size`` and
        ``kind="forward"``.
    """
    model, stored = _under(model, dtype)
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(stored)
    params = cast_floats(params, stored)
    in_shape = tuple(x.shape[1:])
    model_state = model.init_state(in_shape) if model_state is None else model_state

    def forward(p: Params, s: State, batch: jax.Array) -> jax.Array:
        return model.apply_with_state(p, s, batch)[0]

    facts = _model_facts(model, params, in_shape, x.dtype)
    result = benchmark(forward, params, model_state, x, samples_per_call=x.shape[0], dtype=dtype, **options)
    return {**result, **facts, "batch_size": int(x.shape[0]), "kind": "forward"}
