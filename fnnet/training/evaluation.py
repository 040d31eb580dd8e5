"""``evaluate`` and ``predict``: a model in evaluation mode over a data set, in batches.

``evaluate_batches`` does what ``evaluate`` does over a stream of ``(x, y)`` batches.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.core import Layer, Params, State

__all__ = ["evaluate", "evaluate_batches", "predict"]

Loss = Callable[[jax.Array, jax.Array], jax.Array]
Metrics = Mapping[str, Callable[[jax.Array, jax.Array], jax.Array]]
Data = np.ndarray | jax.Array  # indexable along its first axis, with a len()


@functools.lru_cache(maxsize=64)
def _eval_batch_fn(
    model: Layer, loss: Loss | None, metric_items: tuple
) -> Callable[[Params, State, jax.Array, jax.Array], dict[str, jax.Array]]:
    def run(params: Params, model_state: State, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        out, _ = model.apply_with_state(params, model_state, x, training=False)
        logs = {} if loss is None else {"loss": loss(out, y)}
        logs.update({name: fn(out, y) for name, fn in metric_items})
        return logs

    return jax.jit(run)


def evaluate(
    model: Layer,
    params: Params,
    x: Data,
    y: Data,
    *,
    loss: Loss | None = None,
    metrics: Metrics | None = None,
    model_state: State | None = None,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``(x, y)`` in evaluation mode, averaged over examples.

    Args:
        model: the model.
        params: its parameters.
        x: inputs ``[N, ...]``.
        y: targets ``[N, ...]``.
        loss: ``loss(outputs, targets)``, reported as ``"loss"`` (optional).
        metrics: ``name -> fn(outputs, targets)``, each a per-batch mean.
        model_state: the model's state (running statistics), if it has any.
        batch_size: examples per evaluation batch (memory, not results).

    Returns:
        ``{name: float}``, each weighted by batch sizes so the result is the mean over all N examples.

    Raises:
        ValueError: integer class labels ``y`` (one axis fewer than the outputs) outside
            ``0..K-1`` for a model with ``K`` outputs, naming the first such label; inside the jitted
            evaluation they would give a NaN loss.
    """
    run = _eval_batch_fn(model, loss, tuple(sorted((metrics or {}).items())))
    model_state = {} if model_state is None else model_state
    _check_labels(model, params, model_state, x, y)
    n = len(x)
    totals: dict[str, float] = {}
    for start in range(0, n, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logs = run(params, model_state, jnp.asarray(xb), jnp.asarray(yb))
        for name, value in logs.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(xb)
    return {name: total / n for name, total in totals.items()}


def evaluate_batches(
    model: Layer,
    params: Params,
    batches: Iterable[tuple[Data, Data]],
    *,
    loss: Loss | None = None,
    metrics: Metrics | None = None,
    model_state: State | None = None,
) -> dict[str, float]:
    """``evaluate`` over a stream of ``(x [B, ...], y [B, ...])`` batches, each read once.

    Batches may differ in size (a last partial batch is fine; each new size compiles once).

    Args:
        model: the model.
        params: its parameters.
        batches: an iterable of ``(x, y)`` pairs (a list, a generator, a grain DataLoader).
        loss: ``loss(outputs, targets)``, reported as ``"loss"`` (optional).
        metrics: ``name -> fn(outputs, targets)``, each a per-batch mean.
        model_state: the model's state (running statistics), if it has any.

    Returns:
        ``{name: float}``, the mean over all the batches' examples (each batch weighted by its size).

    Raises:
        ValueError: the batches hold no example, or (as ``evaluate``) integer class labels out of range,
            naming the batch.
    """
    run = _eval_batch_fn(model, loss, tuple(sorted((metrics or {}).items())))
    model_state = {} if model_state is None else model_state
    totals: dict[str, float] = {}
    n, classes = 0, None
    for index, (xb, yb) in enumerate(batches):
        try:
            classes = _check_labels(model, params, model_state, xb, yb, classes)
        except ValueError as err:
            raise ValueError(f"evaluate_batches: batch {index}: {err}") from None
        logs = run(params, model_state, jnp.asarray(xb), jnp.asarray(yb))
        for name, value in logs.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(xb)
        n += len(xb)
    if not n:
        raise ValueError("evaluate_batches: the batches held no examples; pass at least one (x, y) batch")
    return {name: total / n for name, total in totals.items()}


def _check_labels(
    model: Layer, params: Params, model_state: State, x: Data, y: Data, classes: int | None = None
) -> int | None:
    """Refuse integer labels outside ``0..K-1``, ``K`` the model's outputs (traced abstractly, free).

    Returns ``K`` when ``y`` holds class labels, else None; pass it back as ``classes`` to skip the
    trace for a later batch of the same kind.
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer) or not len(y):
        return None
    if classes is None:
        probe = jax.ShapeDtypeStruct(
            (1, *np.shape(x)[1:]), jax.dtypes.canonicalize_dtype(np.asarray(x[:1]).dtype)
        )
        out = jax.eval_shape(
            lambda p, s, xb: model.apply_with_state(p, s, xb, training=False)[0], params, model_state, probe
        )
        if tuple(out.shape[1:-1]) != tuple(y.shape[1:]):
            return None  # not class labels for these outputs (e.g. integer regression targets)
        classes = int(out.shape[-1])
    bad = y[(y < 0) | (y >= classes)]
    if bad.size:
        raise ValueError(
            f"evaluate: y labels must be in 0..{classes - 1} (the model has {classes} outputs), "
            f"found {int(bad[0])} ({bad.size} of {y.size} out of range)"
        )
    return classes


@functools.lru_cache(maxsize=64)
def _predict_fn(model: Layer) -> Callable[[Params, State, jax.Array], jax.Array]:
    return jax.jit(lambda params, state, x: model.apply_with_state(params, state, x)[0])


def predict(
    model: Layer, params: Params, x: Data, *, model_state: State | None = None, batch_size: int = 1024
) -> jax.Array:
    """The model's outputs on ``x`` in evaluation mode, computed in batches.

    Args:
        model: the model.
        params: its parameters.
        x: inputs ``[N, ...]``.
        model_state: the model's state, if it has any.
        batch_size: examples per batch.

    Returns:
        The outputs ``[N, ...]``.
    """
    run = _predict_fn(model)
    model_state = {} if model_state is None else model_state
    parts = [
        run(params, model_state, jnp.asarray(x[i : i + batch_size])) for i in range(0, len(x), batch_size)
    ]
    return jnp.concatenate(parts, axis=0)
