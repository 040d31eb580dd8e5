"""``StopRule``: when ``fit`` stops by itself — the course's ``tol``, ``max_steps``, a non-finite loss."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.training.state import TrainState

if TYPE_CHECKING:
    from fnnet.training.callbacks import Run

__all__ = ["LastFinite", "NonFiniteLossError", "StopRule"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or inf. ``state`` is the state ``fit`` would have returned.

    That is the last state whose own loss was finite (see ``LastFinite``), or the state ``fit``
    started from if its loss was already non-finite; the message says which.
    """

    def __init__(self, message: str, state: TrainState) -> None:
        super().__init__(message)
        self.state = state


@dataclasses.dataclass(frozen=True)
class StopRule:
    """When training stops by itself (callbacks such as EarlyStopping can stop it too).

    Args:
        tol: the course's stopping rule: stop once an update's global norm (the step size) is
            below ``tol``. None never stops on it.
        max_steps: stop after this many optimizer steps in total, or None.
        on_nonfinite: when the loss becomes NaN or inf, ``"stop"`` (warn and return the last state
            whose own loss was finite, see ``LastFinite``) or ``"raise"`` (NonFiniteLossError
            carrying that state).
    """

    tol: float | None = None
    max_steps: int | None = None
    on_nonfinite: str = "stop"

    def __post_init__(self):
        if self.on_nonfinite not in ("stop", "raise"):
            raise ValueError(f"StopRule: on_nonfinite must be 'stop' or 'raise', got {self.on_nonfinite!r}")
        if self.tol is not None and not self.tol > 0:
            raise ValueError(f"StopRule: tol must be positive, got {self.tol!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise ValueError(f"StopRule: max_steps must be a positive int, got {self.max_steps!r}")

    def limit(self, first: int, done: int, steps_per_epoch: int) -> int:
        """One past the last step of this epoch to run, from step ``first`` with ``done`` taken."""
        if self.max_steps is None:
            return steps_per_epoch
        return min(steps_per_epoch, first + self.max_steps - done)

    def nonfinite(self, logs: dict, run: Run, epoch: int, first: int, last_finite: LastFinite) -> str | None:
        """The stop message if a step's loss was not finite (or raise, with ``on_nonfinite="raise"``).

        Sets ``run.final_state`` to the state ``fit`` returns: the last one whose own loss was finite.

        Args:
            logs: the epoch's step logs, with ``finite`` and ``loss``.
            run: the fit's ``Run``; ``run.step`` counts the steps with a finite loss taken so far.
            epoch: the epoch (from 0).
            first: the epoch's first step (later than 0 after a resume).
            last_finite: the epoch copies to rebuild that state from.
        """
        finite = np.asarray(logs["finite"]).astype(bool)
        if finite.all():
            return None
        bad, step = int(np.argmin(finite)), run.step
        loss, batch = logs["loss"][bad], first + bad + 1
        where = f"the loss became {loss} at step {step + 1} (epoch {epoch + 1}, batch {batch})"
        state = last_finite.state_after(step - 1) if step > 0 else None
        if state is not None:
            returned = (
                f"returning the state step {step} started from, the last state whose loss was finite (step "
                f"{step}'s update led to the non-finite loss; neither it nor step {step + 1}'s is in it)"
            )
        else:  # the state the failing step started from, as it was (that step moved the optimizer's state)
            state = last_finite.state_after(step)
            state = run.state if state is None else state
            start = (
                "fit started from" if step == 0 else f"step {step + 1} started from (no earlier one is kept)"
            )
            returned = f"returning the state {start}, whose own loss is {loss}"
        run.final_state = state
        message = f"fit: {where}; training stopped, {returned}"
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(message, state)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return message

    def reached(self, logs: dict, step: int) -> str | None:
        """The stop message if ``tol`` or ``max_steps`` was reached at the end of an epoch."""
        if self.tol is not None and len(logs.get("update_norm", ())) and logs["update_norm"][-1] < self.tol:
            return f"converged: the update's size fell below tol={self.tol} at step {step}"
        if self.max_steps is not None and step >= self.max_steps:
            return f"reached max_steps={self.max_steps}"
        return None


_copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))


class LastFinite:
    """Rebuilds, when the loss turns non-finite, the last state whose own loss was finite.

    The step never applies the update of a step with a non-finite loss, so training stops holding
    the state that step started from: the parameters the update before it produced, whose loss is
    the non-finite one (with a diverging learning rate, their predictions are inf or NaN). The state
    whose own loss was last finite is the one before that update. Keeping it at every step would cost
    a copy of the whole state per step (the per-step loop donates each state to its step, and a fused
    loop would carry two states), so ``fit`` instead copies the state at the start of each epoch
    (one jitted copy per epoch; the two newest are kept, since the last finite state can lie in the
    previous epoch) and, only when a loss turns non-finite, replays the steps from the newest copy at
    or before that state: the same compiled step on the same batches and keys, so the same state.

    Args:
        replay: ``replay(state, epoch, first, limit) -> state``: run steps ``first .. limit - 1`` of
            ``epoch`` from ``state`` as ``fit`` ran them, without callbacks.
    """

    def __init__(self, replay: Callable) -> None:
        self.replay = replay
        self.marks: list[tuple[int, int, int, TrainState]] = []

    def mark(self, epoch: int, first: int, step: int, state: TrainState) -> None:
        """Keep a copy of ``state``, which starts ``epoch`` at its step ``first`` after ``step`` steps."""
        self.marks = [*self.marks[-1:], (epoch, first, step, _copy(state))]

    def state_after(self, step: int) -> TrainState | None:
        """The state after ``step`` steps, or None if no copy is from that step or before."""
        for epoch, first, done, state in reversed(self.marks):
            if done <= step:
                return state if done == step else self.replay(state, epoch, first, first + step - done)
        return None
