"""What ``fit`` delegates for checkpoints, data parallelism and progress, kept out of its loop."""

from __future__ import annotations

import os

from fnnet import parallel
from fnnet.checkpoint import CheckpointManager
from fnnet.progress import resolve as resolve_progress

__all__ = ["Saver", "data_parallel", "resolve_progress"]


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
