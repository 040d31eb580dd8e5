"""A training run for the kill-and-resume test: ``python resumable_run.py CKPT_DIR OUT [--slow S]``.

Trains a small MLP with ``fit`` checkpointing every 7 steps (10 steps per epoch) into CKPT_DIR,
resuming from it if it holds a checkpoint, then writes the final TrainState to OUT. ``--slow S``
sleeps S seconds after every step so that the test can kill the process part-way.
"""

import argparse
import time

import jax
import numpy as np
import optax

import fnnet as fn
from fnnet.checkpoint import save_checkpoint
from fnnet.progress import Progress


class Sleep(Progress):
    def __init__(self, seconds):
        self.seconds = seconds

    def step(self, logs):
        time.sleep(self.seconds)


def train(checkpoint_dir, slow=0.0):
    """The run: 4 epochs of 10 steps, checkpointing every 7 steps into ``checkpoint_dir``."""
    rng = np.random.RandomState(0)
    x = rng.randn(80, 6).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(16), fn.tanh, fn.Dense(2))
    return fn.fit(
        model,
        fn.losses.softmax_cross_entropy,
        optax.adam(1e-2),
        x,
        y,
        key=jax.random.key(42),
        epochs=4,
        batch_size=8,
        checkpoint=checkpoint_dir,
        checkpoint_every=7,
        progress=Sleep(slow),
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir")
    parser.add_argument("out")
    parser.add_argument("--slow", type=float, default=0.0)
    args = parser.parse_args()
    result = train(args.checkpoint_dir, args.slow)
    save_checkpoint(args.out, result.state, step=result.steps)
    print("done", result.steps, flush=True)


if __name__ == "__main__":
    main()
