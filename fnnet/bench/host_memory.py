"""Keep freed host memory in the process, so XLA:CPU's buffers are not page-faulted in every step.

XLA:CPU allocates each step's temporaries and outputs with ``malloc`` and frees them after. For
buffers of more than a few MiB, glibc's defaults hand the memory back to the kernel on ``free``
(``mmap``/``munmap`` above ``M_MMAP_THRESHOLD``, trimming of the heap above ``M_TRIM_THRESHOLD``)
and keep a separate, trimmed arena per thread, so the next step faults every page in again. On the
2-core benchmark machine that costs ~10 ms per 30 MB buffer written (5 GB/s instead of ~20); the
suite's CNN step at batch 128 took 106 ms in hand-written JAX and 37 ms in fnnet with glibc's
defaults, 62 and 32 ms with ``--retain-memory`` (``benchmarks/RESULTS.md``). PyTorch's CPU steps pay
the same cost.

``retain_freed_memory()`` switches glibc to keeping freed memory for reuse: one arena, no ``mmap``
below 1 GiB, no trimming. The price is that the process's resident memory stays at its peak. It is
process-wide, affects every library in the process, and is best called before the first
computation (arenas that threads already own stay as they are). It is a no-op returning ``False``
where the C library is not glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["retain_freed_memory"]

# mallopt parameters (glibc's malloc.h) and the values set.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
RETAIN = {M_MMAP_THRESHOLD: 1 << 30, M_TRIM_THRESHOLD: (1 << 31) - 1, M_ARENA_MAX: 1}
# glibc's defaults (an arena limit of 0 means glibc's own per-core limit).
DEFAULTS = {M_MMAP_THRESHOLD: 128 * 1024, M_TRIM_THRESHOLD: 128 * 1024, M_ARENA_MAX: 0}


@functools.lru_cache(maxsize=1)
def _mallopt():
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        gnu_get_libc_version = libc.gnu_get_libc_version  # only glibc has it
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    del gnu_get_libc_version
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def retain_freed_memory(enable: bool = True) -> bool:
    """Make glibc keep freed memory for reuse (``enable=True``) or restore its defaults.

    Args:
        enable: ``True`` keeps freed memory in the process (one arena, no ``mmap`` below 1 GiB,
            no trimming); ``False`` restores glibc's default thresholds and arena limit (its
            dynamic raising of the thresholds stays off).

    Returns:
        ``True`` if every setting was applied; ``False`` where the C library is not glibc.

    Raises:
        RuntimeError: if glibc refused a setting (names it).
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    for param, value in (RETAIN if enable else DEFAULTS).items():
        if mallopt(param, value) != 1:
            raise RuntimeError(f"retain_freed_memory: glibc's mallopt refused parameter {param} = {value}")
    return True
