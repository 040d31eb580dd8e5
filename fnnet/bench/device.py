"""What a result must say about where it ran: the device, the software, the memory a computation needs.

Every benchmark result carries ``environment()``: the platform, device kind, jax/jaxlib versions,
the CPU and the thread settings, so that runs from different machines can be merged and
compared.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import jax

__all__ = ["environment", "memory_analysis"]

THREAD_VARIABLES = ("XLA_FLAGS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(dtype: str | None = None) -> dict[str, Any]:
    """The device and software a measurement ran on.

    Args:
        dtype: the dtype of the measurement, stored alongside.

    Returns:
        ``{"platform", "device_kind", "device_count", "jax", "jaxlib", "python", "cpu", "cpu_count",
        "dtype", "threads": {XLA_FLAGS, OMP_NUM_THREADS, ...}}``.
    """
    import jaxlib

    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "dtype": dtype,
        "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def memory_analysis(compiled: jax.stages.Compiled) -> dict[str, int | None]:
    """Memory a compiled computation needs, and the device's peak use where the backend reports it.

    Args:
        compiled: a ``jax.stages.Compiled``.

    Returns:
        ``{"argument_bytes", "output_bytes", "alias_bytes", "temp_bytes", "device_peak_bytes"}``;
        ``device_peak_bytes`` (the allocator's high-water mark since the process started) is None on
        backends without ``memory_stats`` (XLA:CPU).
    """
    out: dict[str, int | None] = dict.fromkeys(
        ("argument_bytes", "output_bytes", "alias_bytes", "temp_bytes", "device_peak_bytes")
    )
    try:
        stats = compiled.memory_analysis()
    except Exception:
        stats = None
    if stats is not None:
        for name in ("argument", "output", "alias", "temp"):
            out[f"{name}_bytes"] = int(getattr(stats, f"{name}_size_in_bytes", 0))
    try:
        device_stats = jax.devices()[0].memory_stats()
    except Exception:
        device_stats = None
    if device_stats:
        out["device_peak_bytes"] = int(device_stats.get("peak_bytes_in_use", 0)) or None
    return out
