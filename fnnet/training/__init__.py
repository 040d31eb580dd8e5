"""Training: the pure step, the epoch runners that consume it, ``fit`` and its callbacks.

Data flow: a batch goes through ``make_step_fn``'s step (gradient -> optax update, gated on a finite
loss) to a new ``TrainState``; an epoch runs that step per minibatch of one ``EpochPlan`` (one
dispatch per step, or the whole epoch fused); ``fit`` loops epochs and hands control to callbacks.
"""

from fnnet.training import checkpoint, parallel, privacy
from fnnet.training.fit import EarlyStopping, FitResult, NonFiniteLossError, fit
from fnnet.training.step import (
    TrainState,
    evaluate,
    guarded_update,
    init_train_state,
    make_step_fn,
    make_train_step,
    predict,
)

__all__ = [
    "EarlyStopping",
    "FitResult",
    "NonFiniteLossError",
    "TrainState",
    "checkpoint",
    "evaluate",
    "fit",
    "guarded_update",
    "init_train_state",
    "make_step_fn",
    "make_train_step",
    "parallel",
    "predict",
    "privacy",
]
