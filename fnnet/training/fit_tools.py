"""What ``fit`` delegates (input checks, checkpoints, data parallelism, progress), kept out of its loop."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.training import parallel
from fnnet.training.checkpoint import CheckpointManager
from fnnet.training.progress import resolve as resolve_progress

__all__ = ["Saver", "data_parallel", "resolve_progress", "validate"]


class Saver:
    """Checkpointing inside ``fit``: when to save, and resuming from the newest checkpoint.

    Args:
        checkpoint: None (no checkpoints), a folder, or a CheckpointManager.
        every: save every this many steps; None saves at the end of every epoch.
        model: the model, whose repr goes into each checkpoint's manifest.
    """

    def __init__(self, checkpoint, every: int | None, model):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"fit: checkpoint_every must be a positive int, got {every!r}")
        if every is not None and checkpoint is None:
            raise ValueError("fit: checkpoint_every needs a checkpoint folder (checkpoint=...)")
        if isinstance(checkpoint, str | os.PathLike):
            checkpoint = CheckpointManager(checkpoint)
        self.manager, self.every, self.model, self.saved = checkpoint, every, model, None

    def resume(self, state, steps_per_epoch: int):
        """``(state, history, steps)`` from the newest checkpoint, or ``(state, {}, 0)`` if none.

        The history keeps the epochs completed before the checkpoint; an epoch interrupted part-way
        is recorded again when it completes (its means then cover the steps run after the resume).
        """
        if self.manager is None:
            return state, {}, 0
        restored = self.manager.restore(state)
        if restored is None:
            return state, {}, 0
        state, manifest = restored
        self.saved = int(state.step)
        done = int(state.step) // steps_per_epoch
        history = {k: v[:done] for k, v in manifest["metadata"].get("history", {}).items()}
        return state, history, int(state.step)

    def _save(self, state, step, history):
        if self.manager is not None and step != self.saved:
            self.manager.save(state, step=step, model=self.model, metadata={"history": history})
            self.saved = step

    def after_step(self, state, step, history):
        """Called after each step of the per-step loop with the total number of steps taken."""
        if self.every is not None and step % self.every == 0:
            self._save(state, step, history)

    def after_epoch(self, state, step, history, taken):
        """Called at the end of an epoch in which ``taken`` steps ran."""
        if self.every is None:
            self._save(state, step, history)
            return
        multiple = step // self.every * self.every
        # the fused loop cannot stop at the multiple itself: save at the end of its epoch instead
        if multiple > step - taken and (self.saved is None or self.saved < multiple):
            self._save(state, step, history)

    def final(self, state, step, history):
        """Called when training ends."""
        self._save(state, step, history)


def data_parallel(step, state, batch_size: int):
    """``(step, state, put, put_batch)`` for data-parallel training over all devices.

    ``put`` replicates an array on every device (the fused loop's data set); ``put_batch`` shards a
    batch along its first axis (the per-step loop).
    """
    mesh = parallel.data_mesh()
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(
            f"fit: data_parallel needs batch_size divisible by the {n} devices, got {batch_size}"
        )
    return (
        parallel.sharded_step(step, mesh),
        parallel.replicate(state, mesh),
        lambda a: parallel.replicate(a, mesh),
        lambda batch: parallel.shard_batch(batch, mesh),
    )


def validate(model, loss, x, y, batch_size: int, in_shape: tuple, params) -> None:
    """Check ``fit``'s data before training: lengths, dtypes, the batch size, shapes and labels.

    The model and loss are traced abstractly (``jax.eval_shape``) on a batch of two, so a shape
    mismatch raises the layer's ShapeError and integer labels outside ``0 .. classes - 1`` raise a
    ValueError, all before anything is compiled or run.

    Args:
        model: the model.
        loss: the loss function.
        x, y: the training inputs and targets (NumPy arrays).
        batch_size: the requested batch size.
        in_shape: the per-example input shape.
        params: the parameters to start from, or None for fresh ones (then only their shapes are used).
    """
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} examples but y has {len(y)}; they must match")
    for name, arr in (("x", x), ("y", y)):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError(f"fit: {name} must be numeric, got dtype {arr.dtype}")
    if not 1 <= batch_size <= len(x):
        raise ValueError(f"fit: batch_size must be in 1..{len(x)} (the number of examples), got {batch_size}")

    def probe(params, xb, yb):
        out, _ = model.apply_with_state(params, model.init_state(in_shape), xb)
        return out, loss(out, yb)

    if params is None:
        _, params = jax.eval_shape(lambda k: model.init(k, in_shape), jax.random.key(0))
    xb = jax.ShapeDtypeStruct((2, *x.shape[1:]), jnp.asarray(x[:1]).dtype)
    yb = jax.ShapeDtypeStruct((2, *y.shape[1:]), jnp.asarray(y[:1]).dtype)
    out, _ = jax.eval_shape(probe, params, xb, yb)  # raises a ShapeError naming the layer or loss
    if np.issubdtype(y.dtype, np.integer) and y.ndim == len(out.shape) - 1:
        classes = out.shape[-1]
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"fit: labels must be in 0..{classes - 1} (the model has {classes} outputs), found {bad}"
            )
