"""Training: the pure step, the epoch loops that consume it, ``fit`` and its callbacks.

Data flow: a batch goes through the step (``step_from_grad``: gradient -> optax update, gated on a
finite loss) to a new ``TrainState``; an epoch runs that step over the minibatches of one
``EpochPlan`` (one dispatch per step, or the whole epoch fused); ``fit`` loops over epochs and hands
control to its callbacks (checkpoints, early stopping, progress, metric logs) and its ``StopRule``.
Data may be arrays in memory or a stream of batches (``streams``, ``batches``).
"""

from fnnet.training import (
    batches,
    callbacks,
    checkpoint,
    epochs,
    metric_logs,
    parallel,
    privacy,
    progress,
    streams,
)
from fnnet.training.callbacks import Callback, Checkpoint, EarlyStopping
from fnnet.training.epochs import EpochPlan
from fnnet.training.evaluation import evaluate, predict
from fnnet.training.fit import FitResult, fit
from fnnet.training.metric_logs import CSVLogger, TensorBoardLogger, logging_to
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
    "TensorBoardLogger",
    "TrainState",
    "batches",
    "callbacks",
    "checkpoint",
    "epochs",
    "evaluate",
    "fit",
    "guarded_update",
    "init_train_state",
    "logging_to",
    "make_step_fn",
    "make_train_step",
    "metric_logs",
    "parallel",
    "predict",
    "privacy",
    "progress",
    "step_from_grad",
    "streams",
    "supervised_grad",
]
