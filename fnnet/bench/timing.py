"""Timing a jitted computation honestly: compile apart, warm-up, synchronised timed blocks.

``benchmark`` compiles ahead of time (``jit(fn).lower(*args).compile()``), so compile time is
measured on its own and never leaks into the step time; it then runs the compiled executable
``warmup`` times, and times ``repeats`` blocks of ``number`` calls, each block ended by
``jax.block_until_ready`` on the last output (JAX dispatches asynchronously: without the
synchronisation one would time only the dispatch). With ``carry=True`` the first output is fed back
as the first argument, the way a train step threads its state, which also lets a step donate its
input buffers.

``interleaved`` times several variants in one process, block by block in rotating order, so that drift
in the machine's speed hits them alike; ``matmul_ceiling`` is the FLOP/s a large matmul reaches on the
same device, the yardstick for a model's FLOP/s.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from fnnet.bench.device import environment, memory_analysis

__all__ = ["benchmark", "cost_analysis", "interleaved", "matmul_ceiling", "summarize", "time_blocks"]


def summarize(seconds: list[float], samples_per_call: int | None = None) -> dict[str, Any]:
    """Median, min, max and mean of per-call times (and samples/s when the batch size is known).

    Args:
        seconds: one per-call time per timed block, in seconds.
        samples_per_call: examples processed by one call (the batch size), if meaningful.

    Returns:
        ``{"median_s", "min_s", "max_s", "mean_s", "samples_s": [...]}`` plus
        ``"samples_per_second"`` (from the median) when ``samples_per_call`` is given.
    """
    if not seconds:
        raise ValueError("summarize: no timings given")
    out: dict[str, Any] = {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "mean_s": statistics.fmean(seconds),
        "samples_s": list(seconds),
    }
    if samples_per_call is not None:
        out["samples_per_second"] = samples_per_call / out["median_s"]
    return out


def time_blocks(
    call: Callable[[], Any],
    sync: Callable[[Any], Any] = jax.block_until_ready,
    *,
    warmup: int = 3,
    number: int = 10,
    repeats: int = 5,
) -> list[float]:
    """Per-call seconds of ``call`` over ``repeats`` timed blocks of ``number`` calls.

    Works for any framework: ``sync(last_output)`` must wait until the work is done (for PyTorch
    on a GPU, ``torch.cuda.synchronize``; on a CPU, reading the loss with ``.item()``).

    Args:
        call: a function of no arguments doing one unit of work (one train step); it may keep
            state in a closure.
        sync: waits for ``call``'s output to be computed.
        warmup: untimed calls first (caches, allocator, CPU frequency).
        number: calls per timed block (amortises the synchronisation).
        repeats: timed blocks.

    Returns:
        ``repeats`` per-call times in seconds.
    """
    if warmup < 0 or number < 1 or repeats < 1:
        raise ValueError(
            f"time_blocks: need warmup >= 0, number >= 1, repeats >= 1, got {warmup}, {number}, {repeats}"
        )
    out = None
    for _ in range(warmup):
        out = call()
    if out is not None:
        sync(out)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(number):
            out = call()
        sync(out)
        seconds.append((time.perf_counter() - started) / number)
    return seconds


def interleaved(
    thunks: Mapping[str, Callable[[], Any]],
    *,
    rounds: int = 7,
    block: int = 10,
    warmup: int = 3,
    sync: Callable[[Any], Any] = jax.block_until_ready,
) -> dict[str, dict[str, Any]]:
    """Time several variants in one process, one block of each per round, so drift hits all alike.

    A small machine's speed drifts (other load, clocks, caches) by more than the differences worth
    measuring between variants. Here every variant is first called ``warmup`` times (the first call
    usually compiles); then in each of ``rounds`` rounds every variant times one block of ``block``
    calls, ended by ``sync`` on its last output. The order rotates by one each round, so every
    variant runs in every position equally often (for two variants: alternating). Round ``r``'s
    entries of the variants' ``samples_s`` were timed back to back, so their per-round ratios are
    fair comparisons too.

    Args:
        thunks: ``name -> call``; ``call()`` does one unit of work (one train step) and returns
            something ``sync`` can wait on (or waits itself and returns anything).
        rounds: timed blocks per variant.
        block: calls per timed block.
        warmup: untimed calls per variant before the first round.
        sync: waits for a call's output (``jax.block_until_ready`` ignores non-JAX values).

    Returns:
        ``{name: summarize(seconds)}``: per-call seconds, ``samples_s`` holding one entry per round.

    Example:
        >>> a, b = jnp.ones((256, 256)), jnp.ones((256, 512))
        >>> f, g = jax.jit(lambda: a @ a), jax.jit(lambda: a @ b)
        >>> times = fnnet.bench.interleaved({"square": f, "wide": g}, rounds=5, block=10)
        >>> ratio = times["wide"]["median_s"] / times["square"]["median_s"]  # about 2
    """
    if rounds < 1 or block < 1 or warmup < 0:
        raise ValueError(
            f"interleaved: need rounds >= 1, block >= 1, warmup >= 0, got {rounds}, {block}, {warmup}"
        )
    if not thunks:
        raise ValueError("interleaved: no variants given")
    for call in thunks.values():
        out = None
        for _ in range(warmup):
            out = call()
        if out is not None:
            sync(out)
    names = list(thunks)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds[name] += time_blocks(thunks[name], sync, warmup=0, number=block, repeats=1)
    return {name: summarize(s) for name, s in seconds.items()}


def cost_analysis(compiled: jax.stages.Compiled) -> dict[str, float | None]:
    """FLOPs, bytes accessed and transcendentals from XLA's cost analysis of a compiled computation.

    Args:
        compiled: a ``jax.stages.Compiled`` (``jax.jit(f).lower(*args).compile()``).

    Returns:
        ``{"flops", "bytes_accessed", "transcendentals"}``; None where the backend reports nothing.
    """
    try:
        cost = compiled.cost_analysis()
    except Exception:  # some backends do not implement it
        cost = None
    if isinstance(cost, list | tuple):  # older JAX: one dict per computation
        cost = cost[0] if cost else None
    cost = cost or {}

    def get(name: str) -> float | None:
        value = cost.get(name)
        return None if value is None or value < 0 else float(value)

    return {
        "flops": get("flops"),
        "bytes_accessed": get("bytes accessed"),
        "transcendentals": get("transcendentals"),
    }


def benchmark(
    fn: Callable,
    *args: Any,
    carry: bool = False,
    warmup: int = 3,
    number: int = 10,
    repeats: int = 5,
    samples_per_call: int | None = None,
    ceiling: dict | None = None,
    name: str | None = None,
    dtype: str | None = None,
) -> dict[str, Any]:
    """Time a JAX function: compile time, step time statistics, FLOPs, memory and the environment.

    Args:
        fn: a function of arrays/pytrees, jitted or not (a ``jax.jit`` object keeps its donation).
        *args: its arguments.
        carry: feed the first output back as the first argument (a train step ``state -> state``);
            required if ``fn`` donates its first argument.
        warmup: untimed calls after compiling.
        number: calls per timed block.
        repeats: timed blocks; statistics are over blocks.
        samples_per_call: the batch size, for samples/s.
        ceiling: a ``matmul_ceiling`` result of the same device and dtype, for the fraction of it
            reached.
        name: a label stored in the result.
        dtype: the dtype label stored in the result (e.g. ``"float32"``).

    Returns:
        A JSON-serialisable dict: ``name``, ``dtype``, ``lower_s`` and ``compile_s``, the
        ``summarize`` statistics, ``flops``, ``bytes_accessed``, ``flops_per_second`` (achieved,
        from the median), ``fraction_of_ceiling``, ``memory`` and ``environment``.
    """
    jitted = fn if hasattr(fn, "lower") else jax.jit(fn)
    started = time.perf_counter()
    lowered = jitted.lower(*args)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    compiled_at = time.perf_counter()

    state = list(args)

    def call() -> Any:
        out = compiled(*state)
        if carry:
            state[0] = out[0]
        return out

    seconds = time_blocks(call, warmup=warmup, number=number, repeats=repeats)
    result: dict[str, Any] = {"name": name, "dtype": dtype}
    result["lower_s"] = lowered_at - started
    result["compile_s"] = compiled_at - lowered_at
    result.update(summarize(seconds, samples_per_call))
    result.update(cost_analysis(compiled))
    flops = result["flops"]
    result["flops_per_second"] = None if flops is None else flops / result["median_s"]
    result["fraction_of_ceiling"] = None
    if ceiling is not None and result["flops_per_second"] is not None:
        result["fraction_of_ceiling"] = result["flops_per_second"] / ceiling["flops_per_second"]
        result["ceiling_flops_per_second"] = ceiling["flops_per_second"]
    result["memory"] = memory_analysis(compiled)
    result["environment"] = environment(dtype)
    return result


def matmul_ceiling(
    dtype: str = "float32", size: int = 2048, *, warmup: int = 2, number: int = 3, repeats: int = 5
) -> dict[str, Any]:
    """The achieved FLOP/s of one large square matmul in ``dtype``: the ceiling for models.

    Args:
        dtype: ``"float32"``, ``"bfloat16"``, ...
        size: the matrices are ``[size, size]``; the matmul does ``2 * size**3`` FLOPs.
        warmup: untimed calls.
        number: calls per timed block.
        repeats: timed blocks (the median is used).

    Returns:
        ``{"dtype", "size", "flops", "median_s", "min_s", "max_s", "flops_per_second",
        "environment"}``.
    """
    if size < 1:
        raise ValueError(f"matmul_ceiling: size must be positive, got {size}")
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (size, size), jnp.float32).astype(dtype)
    b = jax.random.normal(key_b, (size, size), jnp.float32).astype(dtype)
    matmul = jax.jit(jnp.matmul).lower(a, b).compile()
    seconds = time_blocks(lambda: matmul(a, b), warmup=warmup, number=number, repeats=repeats)
    flops = 2.0 * size**3
    stats = summarize(seconds)
    return {
        "dtype": str(jnp.dtype(dtype)),
        "size": size,
        "flops": flops,
        **stats,
        "flops_per_second": flops / stats["median_s"],
        "environment": environment(str(jnp.dtype(dtype))),
    }
