"""Epochs: the one shuffling rule (``EpochPlan``) and the loops that run a step over it.

Every loop in fnnet cuts data into minibatches the same way: epoch ``e`` visits the rows
``jax.random.permutation(fold_in(key, e), N)`` in ``N // B`` batches of ``B`` and drops the last
partial batch, so every step has one shape and compiles once. Overall step ``s`` is step ``s % S`` of
epoch ``s // S``, which is how a resumed run replays exactly the batches it would have seen.

Four loops consume a step ``step(state, batch) -> (state, logs)``:

* ``per_step_epoch``: a Python loop that dispatches the jitted step once per minibatch;
* ``stream_epoch``: the same loop over a stream's batches (``fnnet.training.streams``), which are
  in whatever order the stream gives them, not the plan's;
* ``fused_epoch``: the whole epoch as one ``lax.while_loop`` dispatch over device-resident data;
* ``make_epoch_fn``: unlabelled data (GAN, RBM), one ``lax.scan`` dispatch per epoch.

The first three stop at the same place: after ``limit`` steps, at the first step whose loss is not
finite, or (with ``tol``, the course's stopping rule) after the first update smaller than ``tol``.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "EpochPlan",
    "check_batch_size",
    "fused_epoch",
    "make_epoch_fn",
    "per_step_epoch",
    "split_batches",
    "stream_epoch",
]


def split_batches(perm: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Cut a permutation ``[N]`` into full batches ``[N // B, B]`` and the remainder ``[N % B]``."""
    full = perm.shape[0] // batch_size
    return perm[: full * batch_size].reshape(full, batch_size), perm[full * batch_size :]


def check_batch_size(batch_size: object, num_examples: int, where: str) -> int:
    """``batch_size`` as an int in ``1..num_examples``, or a ValueError/TypeError saying what is wrong."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"{where}: batch_size must be a positive int, got {batch_size!r}")
    if num_examples < 1:
        raise ValueError(f"{where}: the data set is empty (0 examples); pass at least one batch of data")
    size = int(batch_size)
    if not 1 <= size <= num_examples:
        raise ValueError(
            f"{where}: batch_size must be in 1..{num_examples} (the number of examples), got {batch_size}"
        )
    return size


@dataclasses.dataclass(frozen=True, eq=False)
class EpochPlan:
    """Which rows every step of every epoch trains on (the rule in the module docstring).

    Args:
        num_examples: ``N``.
        batch_size: ``B``; the last partial batch of each epoch is dropped.
        key: the shuffling key; epoch ``e`` uses ``fold_in(key, e)``.
    """

    num_examples: int
    batch_size: int
    key: jax.Array

    def __post_init__(self) -> None:
        check_batch_size(self.batch_size, self.num_examples, "EpochPlan")

    @property
    def steps_per_epoch(self) -> int:
        """``N // B``."""
        return self.num_examples // self.batch_size

    def epoch_key(self, epoch: int) -> jax.Array:
        """The key that shuffles epoch ``epoch``."""
        return jax.random.fold_in(self.key, epoch)

    def rows(self, epoch_key: jax.Array) -> jax.Array:
        """The epoch's rows ``[S, B]`` for its key (traceable, so it also runs inside ``jit``)."""
        return split_batches(jax.random.permutation(epoch_key, self.num_examples), self.batch_size)[0]

    def host_rows(self, epoch: int, first: int = 0, limit: int | None = None) -> np.ndarray:
        """Rows ``[limit - first, B]`` of steps ``first .. limit - 1`` of ``epoch``, as NumPy."""
        return np.asarray(self.rows(self.epoch_key(epoch)))[first:limit]

    def position(self, step: int) -> tuple[int, int]:
        """``(epoch, step within that epoch)`` of overall step ``step``."""
        return divmod(int(step), self.steps_per_epoch)


def _stops(logs: dict[str, jax.Array], tol: float | None) -> jax.Array:
    stop = jnp.logical_not(logs["finite"])
    return stop | (logs["update_norm"] < tol) if tol is not None else stop


def per_step_epoch(
    train_step: Callable,
    state: Any,
    batches: Iterable,
    tol: float | None,
    after_step: Callable | None = None,
) -> tuple[Any, dict[str, np.ndarray]]:
    """Dispatch the jitted ``train_step`` once per batch until the epoch's stopping rule.

    Args:
        train_step: ``train_step(state, batch) -> (state, logs)`` (``fnnet.make_train_step``).
        state: the TrainState to start from.
        batches: the epoch's batches (consumed only as far as training goes).
        tol: stop after a step whose ``logs["update_norm"]`` is below it, or None.
        after_step: called as ``after_step(state, logs)`` after every step.

    Returns:
        ``(state, logs)`` with ``logs = {name: np.ndarray [steps taken]}``.
    """
    taken = []
    for batch in batches:
        state, logs = train_step(state, batch)
        logs = jax.device_get(logs)
        taken.append(logs)
        if after_step is not None:
            after_step(state, logs)
        if not logs["finite"] or (tol is not None and logs["update_norm"] < tol):
            break
    if not taken:
        return state, {}
    return state, {name: np.array([logs[name] for logs in taken]) for name in taken[0]}


def stream_epoch(
    train_step: Callable,
    state: Any,
    batches: Iterator,
    first: int,
    limit: int,
    tol: float | None,
    after_step: Callable | None = None,
) -> tuple[Any, dict[str, np.ndarray]]:
    """Steps ``first .. limit - 1`` of a streamed epoch: ``per_step_epoch`` over the stream's batches.

    A stream cannot jump to a batch, so after a resume the ``first`` batches the epoch already
    trained on are drawn and discarded.

    Args:
        train_step: ``train_step(state, batch) -> (state, logs)``.
        state: the TrainState to start from.
        batches: the epoch's batches from its start (consumed only as far as training goes).
        first: the epoch's first step to run (batches before it are skipped).
        limit: one past its last step to run.
        tol: as for ``per_step_epoch``.
        after_step: as for ``per_step_epoch``.

    Returns:
        ``(state, logs)`` as ``per_step_epoch`` gives them.
    """
    collections.deque(itertools.islice(batches, first), maxlen=0)  # skip, keeping nothing
    return per_step_epoch(
        train_step, state, itertools.islice(batches, max(limit - first, 0)), tol, after_step
    )


def fused_epoch(step: Callable, plan: EpochPlan, tol: float | None) -> Callable:
    """One jitted dispatch per epoch: a while loop gathering each minibatch on the device.

    Args:
        step: the un-jitted ``step(state, batch) -> (state, logs)`` (``fnnet.make_step_fn``).
        plan: the epoch plan (its rows are drawn on the device).
        tol: stop once ``logs["update_norm"]`` is below it, or None.

    Returns:
        ``epoch(state, x, y, epoch_key, limit) -> (state, logs)``, jitted with the state donated: it
        runs until ``limit`` steps are done or the loop stops as ``per_step_epoch`` would, and returns
        the logs of the steps taken, ``{name: np.ndarray [taken]}``, like ``per_step_epoch``.
    """
    S = plan.steps_per_epoch

    def epoch(state, x, y, epoch_key, limit):
        rows = plan.rows(epoch_key)  # [S, B]
        shapes = jax.eval_shape(step, state, (x[rows[0]], y[rows[0]]))[1]
        logs = jax.tree.map(lambda s: jnp.zeros((S, *s.shape), s.dtype), shapes)

        def running(carry):
            index, _, stopped, _ = carry
            return jnp.logical_and(index < limit, jnp.logical_not(stopped))

        def body(carry):
            index, state, _, logs = carry
            state, out = step(state, (x[rows[index]], y[rows[index]]))
            logs = jax.tree.map(lambda buf, v: buf.at[index].set(v), logs, out)
            return index + 1, state, _stops(out, tol), logs

        carry = (jnp.zeros((), jnp.int32), state, jnp.array(False), logs)
        taken, state, _, logs = jax.lax.while_loop(running, body, carry)
        return state, logs, taken

    compiled = jax.jit(epoch, donate_argnums=0)

    def run(state, x, y, epoch_key, limit):
        state, logs, taken = compiled(state, x, y, epoch_key, limit)
        taken = int(taken)
        return state, {name: values[:taken] for name, values in jax.device_get(logs).items()}

    return run


def make_epoch_fn(step: Callable, batch_size: int) -> Callable:
    """Jit ``epoch(state, x, epoch_key) -> (state, logs)``: ``step`` scanned over the epoch's batches.

    For unlabelled data (GAN, RBM): step ``i`` sees ``x[rows[i]]`` with ``rows`` from the same rule
    as ``EpochPlan`` (``epoch_key`` is the plan's ``fold_in(key, epoch)``). The state is donated.

    Args:
        step: ``step(state, batch) -> (state, logs)`` for a batch ``[B, ...]`` of ``x``.
        batch_size: examples per step.

    Returns:
        The jitted epoch function; its ``logs`` stack each step's logs along a leading ``[S]`` axis.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"make_epoch_fn: batch_size must be a positive int, got {batch_size!r}")

    def epoch(state, x, epoch_key):
        check_batch_size(batch_size, x.shape[0], "make_epoch_fn")  # at trace time: shapes are static
        plan = EpochPlan(x.shape[0], batch_size, epoch_key)
        return jax.lax.scan(lambda s, rows: step(s, x[rows]), state, plan.rows(epoch_key))

    return jax.jit(epoch, donate_argnums=0)
