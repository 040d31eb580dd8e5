"""Training: the pure step, the epoch loops that consume it, ``fit`` and its callbacks.

Data flow: a batch goes through the step (``step_from_grad``: gradient -> optax update, gated on a
finite loss) to a new ``TrainState``; an epoch runs that step over the minibatches of one
``EpochPlan`` (one dispatch per step, or the whole epoch fused); ``fit`` loops over epochs and hands
control to its callbacks (checkpoints, early stopping, progress, logs) and its ``StopRule``.
"""

from fnnet.training import callbacks, checkpoint, epochs, parallel, privacy, progress
from fnnet.training.callbacks import Callback, Checkpoint, CSVLogger, EarlyStopping
from fnnet.training.epochs import EpochPlan
from fnnet.training.evaluation import evaluate, predict
from fnnet.training.fit import FitResult, fit
from fnnet.training.progress import ProgressBar
from fnnet.training.state import TrainState, init_train_state
from fnnet.training.step import (
    guarded_update,
    make_step_fn,
    make_train_step,
    step_from_grad,
    supervised_grad,
)
from fnnet.training.stopping import NonFiniteLossError, StopRule

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochPlan",
    "FitResult",
    "NonFiniteLossError",
    "ProgressBar",
    "StopRule",
    "TrainState",
    "callbacks",
    "checkpoint",
    "epochs",
    "evaluate",
    "fit",
    "guarded_update",
    "init_train_state",
    "make_step_fn",
    "make_train_step",
    "parallel",
    "predict",
    "privacy",
    "progress",
    "step_from_grad",
    "supervised_grad",
]
