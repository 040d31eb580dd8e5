"""Checkpoints: the whole training state in one self-describing file, written atomically.

On-disk layout of one checkpoint file (``ckpt_<step, 9 digits>.fnnet``), no pickled Python objects::

    bytes 0..7    magic  b"FNNETCK1"
    bytes 8..15   n, the manifest's length in bytes (unsigned 64-bit little-endian)
    next n bytes  the manifest, UTF-8 JSON:
                  format: 1, fnnet_version, model (the model config's repr), step,
                  metadata (JSON), treedef (str, informative), payload_bytes,
                  sha256 (of the payload), leaves: [{key, shape, dtype, offset, nbytes,
                  prng_impl?}, ...] in tree order
    the rest      the payload: every leaf's raw C-order little-endian bytes, back to back

``key`` is ``jax.tree_util.keystr`` of the leaf's path in the pytree (``.params['0']['kernel']``),
so the names of the parameter dicts are the names in the file. Typed ``jax.random`` keys are stored
as their ``key_data`` (uint32) with ``prng_impl`` naming the implementation.

Writes go to a temporary file in the same folder, are flushed and fsynced, then renamed over the
target and the folder fsynced: a crash or kill during a save leaves the previous checkpoints intact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "CheckpointError",
    "CheckpointManager",
    "load_checkpoint",
    "read_manifest",
    "save_checkpoint",
]

MAGIC = b"FNNETCK1"
FORMAT = 1
_NAME = re.compile(r"^ckpt_(\d{9})\.fnnet$")

PathArg = str | os.PathLike[str]  # a file or folder, as a str or a pathlib.Path


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted, or does not match the state it is restored to."""


def _version() -> str:
    from fnnet import __version__

    return __version__


def _flatten(tree: Any) -> list[tuple[str, np.ndarray, str | None]]:
    leaves = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        impl = None
        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
        leaves.append((jax.tree_util.keystr(path), np.asarray(leaf), impl))
    return leaves


def _fsync_dir(folder: pathlib.Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    path: PathArg, state: Any, *, step: int, model: Any = None, metadata: dict | None = None
) -> pathlib.Path:
    """Write ``state`` (any pytree of arrays, e.g. a TrainState) to ``path`` atomically.

    Args:
        path: the file to write; its folder must exist.
        state: a pytree of arrays (params, optimizer state, model state, step, key).
        step: the training step, recorded in the manifest.
        model: the model config, recorded as its ``repr``.
        metadata: extra JSON-serialisable data (e.g. the training history).

    Returns:
        The path written, as a ``pathlib.Path``.
    """
    path = pathlib.Path(path)
    leaves = _flatten(state)
    digest, offset, entries = hashlib.sha256(), 0, []
    for key, array, impl in leaves:
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        digest.update(data)
        entry = {"key": key, "shape": list(array.shape), "dtype": array.dtype.name}
        entry.update(offset=offset, nbytes=len(data))
        if impl is not None:
            entry["prng_impl"] = impl
        entries.append(entry)
        offset += len(data)
    manifest = {
        "format": FORMAT,
        "fnnet_version": _version(),
        "model": None if model is None else repr(model),
        "step": int(step),
        "metadata": metadata or {},
        "treedef": str(jax.tree_util.tree_structure(state)),
        "payload_bytes": offset,
        "sha256": digest.hexdigest(),
        "leaves": entries,
    }
    header = json.dumps(manifest).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + len(header).to_bytes(8, "little") + header)
            for _, array, _ in leaves:
                f.write(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _read(path: pathlib.Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    if len(raw) < 16 or raw[:8] != MAGIC:
        raise CheckpointError(f"{path} is not an fnnet checkpoint (bad magic bytes or truncated header)")
    n = int.from_bytes(raw[8:16], "little")
    try:
        manifest = json.loads(raw[16 : 16 + n].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: the manifest is corrupted or truncated ({err})") from None
    if manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {manifest.get('format')!r}")
    return manifest, raw[16 + n :]


def read_manifest(path: PathArg) -> dict:
    """The JSON manifest of a checkpoint (step, model, fnnet version, leaves), unverified."""
    return _read(pathlib.Path(path))[0]


def load_checkpoint(path: PathArg, template: Any = None) -> tuple[Any, dict]:
    """Read a checkpoint, verify its checksum and rebuild the state.

    Args:
        path: the checkpoint file.
        template: a pytree with the structure, shapes and dtypes of the saved state (e.g. a fresh
            TrainState from ``init_train_state``). Without it, a flat ``{key: array}`` dict is
            returned.

    Returns:
        ``(state, manifest)``.

    Raises:
        CheckpointError: the file is truncated or corrupted (checksum mismatch), or its tree does
            not match ``template``: a missing or extra leaf, or a leaf whose shape or dtype differs
            (the message names the first differing key and both shapes or dtypes).
    """
    path = pathlib.Path(path)
    manifest, payload = _read(path)
    if len(payload) != manifest["payload_bytes"]:
        raise CheckpointError(
            f"{path} is truncated: payload has {len(payload)} bytes, the manifest says "
            f"{manifest['payload_bytes']}"
        )
    if hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
        raise CheckpointError(f"{path} is corrupted: the payload's sha256 does not match the manifest")
    arrays = {}
    for entry in manifest["leaves"]:
        dtype = jnp.dtype(entry["dtype"]).newbyteorder("<")
        chunk = payload[entry["offset"] : entry["offset"] + entry["nbytes"]]
        array = np.frombuffer(chunk, dtype=dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
        if "prng_impl" in entry:
            array = jax.random.wrap_key_data(array, impl=entry["prng_impl"])
        arrays[entry["key"]] = array
    if template is None:
        return arrays, manifest
    return _unflatten(path, template, manifest, arrays), manifest


def _unflatten(path: pathlib.Path, template: Any, manifest: dict, arrays: dict[str, Any]) -> Any:
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    expected = [(jax.tree_util.keystr(p), leaf) for p, leaf in flat]
    saved = {e["key"]: e for e in manifest["leaves"]}
    for key, leaf in expected:
        if key not in saved:
            raise CheckpointError(f"{path} does not match the model: it has no leaf {key}")
        leaf_shape = tuple(np.shape(jax.random.key_data(leaf)) if _is_key(leaf) else np.shape(leaf))
        if tuple(saved[key]["shape"]) != leaf_shape:
            raise CheckpointError(
                f"{path} does not match the model at {key}: the file has shape "
                f"{tuple(saved[key]['shape'])}, the model {leaf_shape}"
            )
        saved_dtype, leaf_dtype = _saved_dtype(saved[key]), _dtype_name(leaf)
        if saved_dtype != leaf_dtype:
            raise CheckpointError(
                f"{path} does not match the model at {key}: the file has dtype {saved_dtype}, "
                f"the model {leaf_dtype}"
            )
    extra = sorted(set(saved) - {key for key, _ in expected})
    if extra:
        raise CheckpointError(f"{path} does not match the model: the file has an extra leaf {extra[0]}")
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(arrays[key]) for key, _ in expected])


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _dtype_name(leaf: Any) -> str:
    """``float32``, ``bfloat16``, ... or ``key<threefry2x32>`` for a typed ``jax.random`` key."""
    if _is_key(leaf):
        return f"key<{jax.random.key_impl(leaf)}>"
    return np.dtype(leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype).name


def _saved_dtype(entry: dict) -> str:
    return f"key<{entry['prng_impl']}>" if "prng_impl" in entry else entry["dtype"]


@dataclasses.dataclass
class CheckpointManager:
    """A folder of checkpoints ``ckpt_<step>.fnnet`` that keeps the newest ``keep``.

    Args:
        directory: the folder (created if needed).
        keep: how many checkpoints to keep; older ones are deleted after each successful save.
    """

    directory: PathArg
    keep: int = 3

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"CheckpointManager: keep must be at least 1, got {self.keep}")
        self.directory = pathlib.Path(self.directory)
        self._folder.mkdir(parents=True, exist_ok=True)

    @property
    def _folder(self) -> pathlib.Path:
        # `directory` is a pathlib.Path after __post_init__; its declared type is what the caller may pass
        return pathlib.Path(self.directory)

    def steps(self) -> list[int]:
        """The steps of the checkpoints on disk, oldest first."""
        found = (_NAME.match(p.name) for p in self._folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def path(self, step: int) -> pathlib.Path:
        """The file of the checkpoint at ``step``."""
        return self._folder / f"ckpt_{step:09d}.fnnet"

    def save(self, state: Any, *, step: int, model: Any = None, metadata: dict | None = None) -> pathlib.Path:
        """Save ``state`` as the checkpoint of ``step`` and delete all but the newest ``keep``.

        A folder has one writer: temporary files left by a save that was killed are removed here
        (never by readers, which may look at the folder while the writer is saving).
        """
        for stale in self._folder.glob(".ckpt_*.tmp"):
            stale.unlink(missing_ok=True)
        written = save_checkpoint(self.path(step), state, step=step, model=model, metadata=metadata)
        for old in self.steps()[: -self.keep]:
            self.path(old).unlink(missing_ok=True)
        return written

    def latest(self) -> int | None:
        """The newest step on disk, or None."""
        steps = self.steps()
        return steps[-1] if steps else None

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict] | None:
        """``(state, manifest)`` of the checkpoint at ``step`` (default the newest), or None."""
        step = self.latest() if step is None else step
        if step is None:
            return None
        return load_checkpoint(self.path(step), template)
