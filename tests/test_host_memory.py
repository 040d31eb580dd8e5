"""retain_freed_memory: freed buffers stay resident (checked in a child process), and its errors."""

import subprocess
import sys

import pytest

import fnnet
from fnnet.bench import host_memory

# Child: apply the setting, fill and free a 64 MiB buffer, print how much resident memory the free gave back.
CHILD = """
import ctypes, os, sys
import fnnet
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
applied = fnnet.bench.retain_freed_memory(sys.argv[1] == "on")
size = 64 << 20
buffer = libc.malloc(size)
ctypes.memset(buffer, 1, size)
before = resident()
libc.free(buffer)
print(applied, before - resident())
"""


def released_bytes(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    return out[0], int(out[1])


GLIBC_LINUX = sys.platform.startswith("linux") and host_memory._mallopt() is not None


@pytest.mark.skipif(not GLIBC_LINUX, reason="needs glibc and /proc (Linux)")
def test_freed_memory_stays_resident_only_when_retained():
    applied, released = released_bytes("on")
    assert applied == "True" and released < (4 << 20)
    applied, released = released_bytes("off")  # glibc's defaults: a 64 MiB block is mmapped and unmapped
    assert applied == "True" and released > (60 << 20)


def test_without_glibc_it_is_a_no_op(monkeypatch):
    monkeypatch.setattr(host_memory, "_mallopt", lambda: None)
    assert fnnet.bench.retain_freed_memory() is False


def test_a_refused_setting_names_the_parameter(monkeypatch):
    monkeypatch.setattr(host_memory, "_mallopt", lambda: lambda param, value: 0)
    with pytest.raises(RuntimeError, match=f"parameter {host_memory.M_MMAP_THRESHOLD} = {1 << 30}"):
        fnnet.bench.retain_freed_memory()
