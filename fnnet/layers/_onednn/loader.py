"""Loading the built extension once per process and registering its FFI targets with XLA.

``load()`` builds (``fnnet.layers._onednn.build``), loads and registers, or raises ``Unavailable``;
``unavailable_reason()`` tries that once and remembers the answer, so a missing compiler costs one
look per process.
"""

from __future__ import annotations

import ctypes

import jax

from fnnet.layers._onednn.build import Unavailable, library_path

TARGETS = ("lstm_infer", "lstm_train", "lstm_backward", "gru_infer", "gru_train", "gru_backward")

_state: dict = {"lib": None, "reason": None, "tried": False}


def load() -> ctypes.CDLL:
    """The loaded extension, its FFI targets registered (built on first use).

    Raises:
        Unavailable: it cannot be built or loaded here (the message says why).
    """
    if _state["lib"] is not None:
        return _state["lib"]
    path = library_path()
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as err:
        raise Unavailable(f"loading {path} failed: {err}") from None
    lib.fnnet_onednn_workspace_bytes.restype = ctypes.c_int64
    lib.fnnet_onednn_workspace_bytes.argtypes = [ctypes.c_int] + [ctypes.c_int64] * 4 + [ctypes.c_int] * 3
    lib.fnnet_onednn_error.restype = ctypes.c_char_p
    lib.fnnet_onednn_version.restype = ctypes.c_char_p
    lib.fnnet_onednn_has_bf16.restype = ctypes.c_int
    for name in TARGETS:
        symbol = f"fnnet_{name}"
        jax.ffi.register_ffi_target(symbol, jax.ffi.pycapsule(getattr(lib, symbol)), platform="cpu")
    _state["lib"] = lib
    return lib


def unavailable_reason() -> str | None:
    """Why the oneDNN extension cannot run in this process, or None if it can (tried once)."""
    if not _state["tried"]:
        _state["tried"] = True
        try:
            load()
        except Unavailable as err:
            _state["reason"] = str(err)
    return _state["reason"]


def version() -> str:
    """The loaded oneDNN's version, e.g. ``"3.2.0 (<git hash>, cpu runtime 2)"``."""
    return load().fnnet_onednn_version().decode()


def has_bf16() -> bool:
    """Whether this CPU has the AVX512-BF16 instructions oneDNN's bfloat16 RNN kernels need."""
    return bool(load().fnnet_onednn_has_bf16())
