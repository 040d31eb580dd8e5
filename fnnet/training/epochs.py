"""One epoch of training, two ways: one dispatch per step, or the whole epoch fused into one.

Both stop at the same place: after ``limit`` steps, at the first step whose loss is not finite, or
(with ``tol``, the course's stopping rule) at the first step whose update is smaller than ``tol``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["fused_epoch", "minibatch_rows", "per_step_epoch"]


def minibatch_rows(perm: np.ndarray, batch_size: int, first: int, limit: int):
    """The example indices of steps ``first .. limit - 1`` of an epoch shuffled by ``perm``.

    Args:
        perm: the epoch's permutation of the example indices.
        batch_size: examples per step.
        first: the first step to run (later than 0 when resuming mid-epoch).
        limit: one past the last step.

    Returns:
        A generator of index arrays ``[batch_size]``.
    """
    return (perm[i * batch_size : (i + 1) * batch_size] for i in range(first, limit))


def per_step_epoch(
    train_step: Callable, state, batches: Iterable, tol: float | None, after_step: Callable | None = None
):
    """Dispatch the jitted ``train_step`` once per batch until the epoch's stopping rule.

    Args:
        train_step: ``train_step(state, batch) -> (state, logs)`` (``fnnet.make_train_step``).
        state: the TrainState to start from.
        batches: the epoch's batches (consumed only as far as training goes).
        tol: stop after a step whose ``logs["update_norm"]`` is below it, or None.
        after_step: called as ``after_step(state, logs, steps_done)`` after every step.

    Returns:
        ``(state, logs)`` with ``logs = {name: np.ndarray [steps taken]}``.
    """
    taken = []
    for batch in batches:
        state, logs = train_step(state, batch)
        logs = jax.device_get(logs)
        taken.append(logs)
        if after_step is not None:
            after_step(state, logs, len(taken))
        if not logs["finite"] or (tol is not None and logs["update_norm"] < tol):
            break
    return state, {name: np.array([logs[name] for logs in taken]) for name in taken[0]}


def fused_epoch(step, batch_size: int, steps_per_epoch: int, tol: float | None):
    """One jitted dispatch per epoch: a while loop gathering each minibatch on the device.

    Args:
        step: the un-jitted ``step(state, batch) -> (state, logs)`` (``fnnet.training.step.make_step_fn``).
        batch_size: examples per step.
        steps_per_epoch: full batches per epoch (the last partial one is dropped).
        tol: stop once ``logs["update_norm"]`` is below it, or None.

    Returns:
        ``epoch(state, x, y, perm_key, limit) -> (state, logs, taken)``, jitted with the state
        donated: it shuffles ``x, y`` (on the device) by ``permutation(perm_key, N)``, runs until
        ``limit`` steps are done or the loop stops as ``per_step_epoch`` would, and returns the
        per-step logs ``[steps_per_epoch]`` (valid up to ``taken``) and the step count ``taken``.
    """

    def epoch(state, x, y, perm_key, limit):
        perm = jax.random.permutation(perm_key, x.shape[0])[: steps_per_epoch * batch_size]
        perm = perm.reshape(steps_per_epoch, batch_size)  # [S, B]
        first = (x[perm[0]], y[perm[0]])
        shapes = jax.eval_shape(step, state, first)[1]
        logs = jax.tree.map(lambda s: jnp.zeros((steps_per_epoch, *s.shape), s.dtype), shapes)

        def running(carry):
            index, _, stopped, _ = carry
            return jnp.logical_and(index < limit, jnp.logical_not(stopped))

        def body(carry):
            index, state, _, logs = carry
            rows = perm[index]
            state, out = step(state, (x[rows], y[rows]))
            stop = jnp.logical_not(out["finite"])
            if tol is not None:
                stop = stop | (out["update_norm"] < tol)
            logs = jax.tree.map(lambda buf, v: buf.at[index].set(v), logs, out)
            return index + 1, state, stop, logs

        carry = (jnp.zeros((), jnp.int32), state, jnp.array(False), logs)
        taken, state, _, logs = jax.lax.while_loop(running, body, carry)
        return state, logs, taken

    return jax.jit(epoch, donate_argnums=0)
