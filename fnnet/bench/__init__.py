"""Honest benchmarking of JAX computations and fnnet models on CPU, GPU and TPU.

Compile time is measured apart from step time; every timed block ends with ``jax.block_until_ready``;
results are plain JSON-serialisable dicts carrying the device, versions and dtype; the FLOP/s a step
reaches is compared with a matmul ceiling measured on the same device in the same run; ``interleaved``
compares variants timed block by block in one process.

Example:
    >>> ceiling = fnnet.bench.matmul_ceiling("float32", 1024)
    >>> result = fnnet.bench.benchmark(jnp.tanh, jnp.ones((256, 256)), ceiling=ceiling)
    >>> seconds, flops = result["median_s"], result["flops"]  # flops: None where XLA reports no cost
    >>> sorted(result["environment"])[:3]
    [...]
"""

from fnnet.bench.device import environment, memory_analysis
from fnnet.bench.host_memory import retain_freed_memory
from fnnet.bench.models import cast_floats, forward_benchmark, param_count, train_step_benchmark
from fnnet.bench.timing import (
    benchmark,
    cost_analysis,
    interleaved,
    matmul_ceiling,
    summarize,
    time_blocks,
)

__all__ = [
    "benchmark",
    "cast_floats",
    "cost_analysis",
    "environment",
    "forward_benchmark",
    "interleaved",
    "matmul_ceiling",
    "memory_analysis",
    "param_count",
    "retain_freed_memory",
    "summarize",
    "time_blocks",
    "train_step_benchmark",
]
