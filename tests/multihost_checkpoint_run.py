"""One process of a two-process data-parallel run that checkpoints (the multi-host checkpoint test).

    python tests/multihost_checkpoint_run.py COORDINATOR NUM_PROCESSES PROCESS_ID CKPT_DIR OUT [--pause-at S]

Every process trains the same model on the same data with ``fit(data_parallel=True)`` and a
``Checkpoint`` every 4 steps into the shared CKPT_DIR (process 0 writes, the others wait), resuming
from it if it holds one. ``--pause-at S`` sleeps once step S has run, so that the test can kill the
processes part-way. Process 0 writes the final parameters to OUT (``.npz``).
"""

import argparse
import time

import jax


class PauseAt:
    """A callback that sleeps for a long time after its ``step``-th step of this process."""

    def __init__(self, step):
        import fnnet as fn

        class _Pause(fn.training.Callback):
            def __init__(self):
                self.steps = 0

            def step_end(self, run, logs):
                self.steps += 1
                if self.steps == step:
                    time.sleep(600)

        self.callback = _Pause()


def main():
    parser = argparse.ArgumentParser()
    for name in ("address", "processes", "index", "checkpoint_dir", "out"):
        parser.add_argument(name)
    parser.add_argument("--pause-at", type=int, default=0)
    args = parser.parse_args()
    if jax.config.jax_platforms == "cpu":  # CPU hosts talk through gloo
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(args.address, num_processes=int(args.processes), process_id=int(args.index))

    import numpy as np
    import optax

    import fnnet as fn

    rng = np.random.RandomState(0)
    x = rng.randn(128, 10).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(16), fn.activations.tanh, fn.Dense(2))
    callbacks = [fn.training.Checkpoint(args.checkpoint_dir, every=4)]
    if args.pause_at:
        callbacks.append(PauseAt(args.pause_at).callback)
    result = fn.fit(
        model,
        fn.losses.softmax_cross_entropy,
        optax.adam(1e-2),
        x,
        y,
        key=jax.random.key(0),
        epochs=3,
        batch_size=16,
        data_parallel=True,
        callbacks=callbacks,
    )
    if jax.process_index() == 0:
        leaves = jax.tree_util.tree_flatten_with_path(result.state.params)[0]
        arrays = {jax.tree_util.keystr(p): np.asarray(leaf.addressable_data(0)) for p, leaf in leaves}
        np.savez(args.out, steps=result.steps, **arrays)
    print("done", result.steps, flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
