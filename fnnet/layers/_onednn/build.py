"""Compiling ``rnn.cc`` on first use into a per-user cache, as ``torch.utils.cpp_extension.load`` does.

oneDNN comes from the ``fnnet[onednn]`` extra: PyPI's ``onednn-devel-cpu-gomp`` (headers) and
``onednn-cpu-gomp`` (``libdnnl.so.3``, a CPU-only build whose only runtime need beyond libc and
libstdc++ is GNU OpenMP). ``FNNET_ONEDNN_ROOT`` (a prefix with ``include/`` and ``lib/``) points at
another install instead. The compiler is ``$CXX``, else ``g++``. The library is cached under
``$FNNET_CACHE_DIR`` (default ``$XDG_CACHE_HOME/fnnet`` or ``~/.cache/fnnet``) in ``onednn/``, its
name keyed by the source, the jaxlib version, the oneDNN version and the compiler, so any change of
these builds afresh; concurrent first uses wait for one build (a file lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

SOURCE = pathlib.Path(__file__).with_name("rnn.cc")
HEADERS, LIBRARY = "onednn-devel-cpu-gomp", "onednn-cpu-gomp"
INSTALL = "pip install 'fnnet[onednn]' (onednn-devel-cpu-gomp==2023.2.0)"


class Unavailable(Exception):  # noqa: N818 (a reason, reported to the user)
    """The extension cannot be built or loaded here; the message says why and what to install."""


def _package_file(dist: str, suffix: str) -> pathlib.Path | None:
    """The installed file of distribution ``dist`` whose path ends with ``suffix``, or None."""
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:  # RECORD paths are relative to site-packages (``../../lib/...`` for data files)
        path = pathlib.Path(str(f.locate())).resolve()
        if path.as_posix().endswith(suffix) and path.exists():
            return path
    return None


def find_onednn() -> tuple[pathlib.Path, pathlib.Path, str]:
    """``(include_dir, lib_dir, version)`` of the oneDNN to build against; Unavailable if none.

    ``$FNNET_ONEDNN_ROOT`` wins; otherwise the files of the pip packages of the ``onednn`` extra.
    """
    root = os.environ.get("FNNET_ONEDNN_ROOT")
    if root:
        include, lib = pathlib.Path(root, "include"), pathlib.Path(root, "lib")
        if not (include / "oneapi/dnnl/dnnl.hpp").exists() or not any(lib.glob("libdnnl.so*")):
            wanted = "include/oneapi/dnnl/dnnl.hpp and lib/libdnnl.so"
            raise Unavailable(f"FNNET_ONEDNN_ROOT={root} has no {wanted}")
        return include, lib, f"root:{root}"
    header = _package_file(HEADERS, "include/oneapi/dnnl/dnnl.hpp")
    library = _package_file(LIBRARY, "lib/libdnnl.so.3")
    if header is None or library is None:
        missing = HEADERS if header is None else LIBRARY
        raise Unavailable(f"oneDNN is not installed ({missing} not found); {INSTALL}")
    version = importlib.metadata.version(LIBRARY)
    return header.parents[2], library.parent, version


def compiler() -> str:
    """The C++ compiler's path (``$CXX``, else ``g++``); Unavailable if it is not found."""
    name = os.environ.get("CXX") or "g++"
    path = shutil.which(name)
    if path is None:
        raise Unavailable(f"no C++ compiler {name!r} found (set CXX or install g++) to build it")
    return path


def cache_dir() -> pathlib.Path:
    """Where built extensions are kept (module docstring)."""
    base = os.environ.get("FNNET_CACHE_DIR") or pathlib.Path(
        os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache", "fnnet"
    )
    return pathlib.Path(base) / "onednn"


def _key(cxx: str, onednn_version: str) -> str:
    import jaxlib

    parts = [SOURCE.read_bytes(), jaxlib.__version__.encode(), onednn_version.encode(), cxx.encode()]
    parts.append(platform.machine().encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: pathlib.Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def library_path() -> pathlib.Path:
    """The built extension (``.so``), compiled now if the cache has none; Unavailable if it cannot be.

    Raises:
        Unavailable: oneDNN or the compiler is missing, or the compile failed (with its error).
    """
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise Unavailable(f"the oneDNN extension is built for x86-64 Linux only, not {platform.platform()}")
    include, lib, version = find_onednn()
    cxx = compiler()
    target = cache_dir() / f"fnnet_onednn_{_key(cxx, version)}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.with_suffix(".lock")):
        if target.exists():  # another process built it while we waited
            return target
        import jax

        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            out = pathlib.Path(tmp, target.name)
            command = [
                cxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-fopenmp", "-w",
                f"-I{jax.ffi.include_dir()}", f"-I{include}", str(SOURCE), "-o", str(out),
                f"-L{lib}", "-l:libdnnl.so.3", f"-Wl,-rpath,{lib}",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-5:]
                raise Unavailable(f"compiling {SOURCE.name} with {cxx} failed: " + " | ".join(tail))
            os.replace(out, target)
    return target
