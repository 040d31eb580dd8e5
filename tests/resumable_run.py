"""A training run for the kill-and-resume test: ``python resumable_run.py CKPT_DIR OUT [--slow S]``.

Trains a small MLP with ``fit`` checkpointing every 7 steps (10 steps per epoch) into CKPT_DIR,
resuming from it if it holds a checkpoint, then writes the final TrainState to OUT. ``--pause-at S``
stops for a long sleep once step S has run (for S=15: after the checkpoint of step 14 was written),
so that the test can kill the process part-way through training.
"""

import argparse
import time

import jax
import numpy as np
import optax

import fnnet as fn
from fnnet.training.checkpoint import save_checkpoint


class PauseAt(fn.training.Callback):
    def __init__(self, step):
        self.pause_at, self.steps = step, 0

    def step_end(self, run, logs):
        self.steps += 1
        if self.steps == self.pause_at:
            time.sleep(600)


def train(checkpoint_dir, pause_at=0):
    """The run: 4 epochs of 10 steps, checkpointing every 7 steps into ``checkpoint_dir``."""
    rng = np.random.RandomState(0)
    x = rng.randn(80, 6).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(16), fn.activations.tanh, fn.Dense(2))
    return fn.fit(
        model,
        fn.losses.softmax_cross_entropy,
        optax.adam(1e-2),
        x,
        y,
        key=jax.random.key(42),
        epochs=4,
        batch_size=8,
        callbacks=[fn.training.Checkpoint(checkpoint_dir, every=7), PauseAt(pause_at)],
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir")
    parser.add_argument("out")
    parser.add_argument("--pause-at", type=int, default=0)
    args = parser.parse_args()
    result = train(args.checkpoint_dir, args.pause_at)
    save_checkpoint(args.out, result.state, step=result.steps)
    print("done", result.steps, flush=True)


if __name__ == "__main__":
    main()
