"""One process of a multi-host data-parallel run: the script the README's multi-host commands start.

    python tests/multihost_run.py COORDINATOR_ADDRESS NUM_PROCESSES PROCESS_ID

Every process runs the same program on the same data and key; ``jax.distributed.initialize``
joins them into one set of global devices and ``fit(..., data_parallel=True)`` shards each batch
over all of them. Prints the loss per epoch as JSON.
"""

import json
import sys

import jax


def main():
    address, processes, index = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if jax.config.jax_platforms == "cpu":  # CPU hosts talk through gloo
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(address, num_processes=processes, process_id=index)

    import numpy as np
    import optax

    import fnnet as fn

    rng = np.random.RandomState(0)
    x = rng.randn(256, 10).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(32), fn.activations.tanh, fn.Dense(2))
    result = fn.fit(
        model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y,
        key=jax.random.key(0), epochs=3, batch_size=32, data_parallel=True,
    )  # fmt: skip
    out = {
        "process": jax.process_index(),
        "devices": jax.device_count(),
        "loss": result.history["loss"],
    }
    print("RESULT" + json.dumps(out), flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
