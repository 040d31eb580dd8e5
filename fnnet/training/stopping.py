"""``StopRule``: when ``fit`` stops by itself — the course's ``tol``, ``max_steps``, a non-finite loss."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from fnnet.training.state import TrainState

__all__ = ["NonFiniteLossError", "StopRule"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or inf. ``state`` is the state training stopped with."""

    def __init__(self, message: str, state: TrainState):
        super().__init__(message)
        self.state = state


@dataclasses.dataclass(frozen=True)
class StopRule:
    """When training stops by itself (callbacks such as EarlyStopping can stop it too).

    Args:
        tol: the course's stopping rule: stop once an update's global norm (the step size) is
            below ``tol``. None never stops on it.
        max_steps: stop after this many optimizer steps in total, or None.
        on_nonfinite: when the loss becomes NaN or inf, ``"stop"`` (warn and return the state the
            non-finite step started from: its update is never applied) or ``"raise"`` (NonFiniteLossError).
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

    def nonfinite(self, logs: dict, step: int, epoch: int, first: int, state: TrainState) -> str | None:
        """The stop message if a step's loss was not finite (or raise, with ``on_nonfinite="raise"``).

        Args:
            logs: the epoch's step logs, with ``finite`` and ``loss``.
            step: steps with a finite loss taken so far.
            epoch: the epoch (from 0).
            first: the epoch's first step (later than 0 after a resume).
            state: the state training stopped with.
        """
        finite = np.asarray(logs["finite"]).astype(bool)
        if finite.all():
            return None
        bad = int(np.argmin(finite))
        message = (
            f"fit: the loss became {logs['loss'][bad]} at step {step + 1} (epoch {epoch + 1}, batch "
            f"{first + bad + 1}); training stopped, returning the state that step started from (the "
            "non-finite update was not applied)"
        )
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
