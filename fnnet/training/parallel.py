"""Data-parallel training with ``jax.sharding``: a 1-D mesh, batches sharded, the state replicated.

No hand-written collectives: the parameters are replicated across a ``Mesh`` of the local devices,
each batch is constrained to be split along its first axis, and XLA's SPMD partitioner inserts the
gradient all-reduce. The same program runs on one host or, after ``jax.distributed.initialize()``,
on many (then ``jax.devices()`` lists every host's devices and each host feeds the same global
batch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["data_mesh", "replicate", "shard_batch", "sharded_step"]

AXIS = "data"

Step = Callable[[Any, Any], tuple[Any, Any]]  # step(state, batch) -> (state, logs)


def data_mesh(devices: Iterable[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: all of ``jax.devices()``)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), (AXIS,))


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.numpy.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _put(leaf: Any, sharding: NamedSharding) -> jax.Array:
    # make_array_from_callback also builds arrays spanning other hosts' devices (multi-host): it
    # takes from this host's copy of the global value (the same on every host) only its shards.
    if _is_key(leaf):
        data = _put(jax.random.key_data(leaf), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
    value = np.asarray(leaf)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every array of ``tree`` on every device of ``mesh`` (a full copy each).

    Every host must pass the same values (as ``fit`` does: same data, same key).
    """
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda leaf: _put(leaf, sharding), tree)


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Split every array of ``batch`` along its first axis across the mesh's devices.

    Every host passes the same global batch and keeps only the rows of its own devices.

    Raises:
        ValueError: the first axis is not divisible by the number of devices.
    """
    n = mesh.devices.size
    for leaf in jax.tree.leaves(batch):
        if leaf.shape[0] % n:
            raise ValueError(
                f"data parallel: the batch size {leaf.shape[0]} must be divisible by the {n} devices"
            )
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    return jax.tree.map(lambda leaf: _put(leaf, sharding), batch)


def sharded_step(step: Step, mesh: Mesh) -> Step:
    """Wrap ``step(state, batch)`` so its batch is sharded along ``"data"`` inside the jit.

    The wrapped step works both when called per step and inside ``fit``'s fused epoch loop, where
    the batch is gathered on the device: the sharding constraint tells XLA to split it there.
    """
    batch_sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    state_sharding = NamedSharding(mesh, PartitionSpec())

    def wrapped(state: Any, batch: Any) -> tuple[Any, Any]:
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
        state, logs = step(state, batch)
        return jax.lax.with_sharding_constraint(state, state_sharding), logs

    return wrapped


def data_parallel(
    step: Step, state: Any, batch_size: int
) -> tuple[Step, Any, Callable[[Any], Any], Callable[[Any], Any]]:
    """``(step, state, put, put_batch)`` for data-parallel training over all devices.

    ``put`` replicates an array on every device (the fused loop's data set); ``put_batch`` shards a
    batch along its first axis (the per-step loop).
    """
    mesh = data_mesh()
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(
            f"fit: data_parallel needs batch_size divisible by the {n} devices, got {batch_size}"
        )
    return (
        sharded_step(step, mesh),
        replicate(state, mesh),
        lambda a: replicate(a, mesh),
        lambda batch: shard_batch(batch, mesh),
    )
