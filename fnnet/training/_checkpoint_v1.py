"""The reader of fnnet's first checkpoint format (``FNNETCK1``, fnnet 0.x before safetensors).

Files written by ``save_checkpoint`` before the switch to safetensors still load: ``load_checkpoint``
and ``CheckpointManager`` call ``read`` for a file that starts with the magic bytes ``FNNETCK1``.
Layout: magic, the manifest's length (u64 little-endian), a JSON manifest (step, model repr,
metadata, sha256 of the payload, leaves with key, shape, dtype, offset, nbytes, prng_impl), then the
payload. Every way a damaged file can fail is a ``CheckpointError`` naming it.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.training.tensorfile import CheckpointError

MAGIC = b"FNNETCK1"


def is_v1(path: pathlib.Path) -> bool:
    """Whether ``path`` starts with the first format's magic bytes."""
    try:
        with path.open("rb") as f:
            return f.read(8) == MAGIC
    except OSError:
        return False


def read(path: pathlib.Path) -> tuple[dict[str, Any], dict]:
    """``(arrays by jax keystr, manifest)`` of a first-format file, its payload's sha256 checked."""
    try:
        return _read(path)
    except CheckpointError:
        raise
    except Exception as err:  # a damaged manifest can fail in many ways; all of them are the file's fault
        raise CheckpointError(f"{path}: the manifest is corrupted ({type(err).__name__}: {err})") from None


def _read(path: pathlib.Path) -> tuple[dict[str, Any], dict]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    manifest = json.loads(raw[16 : 16 + n].decode())
    if manifest.get("format") != 1:
        raise CheckpointError(f"{path}: unknown checkpoint format {manifest.get('format')!r}")
    payload = raw[16 + n :]
    if len(payload) != manifest["payload_bytes"]:
        raise CheckpointError(
            f"{path} is truncated: payload has {len(payload)} bytes, the manifest says "
            f"{manifest['payload_bytes']}"
        )
    if hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
        raise CheckpointError(f"{path} is corrupted: the payload's sha256 does not match the manifest")
    arrays: dict[str, Any] = {}
    end = 0
    for entry in manifest["leaves"]:
        dtype = jnp.dtype(entry["dtype"]).newbyteorder("<")
        nbytes = int(np.prod(entry["shape"], dtype=np.int64)) * dtype.itemsize
        if entry["offset"] != end or entry["nbytes"] != nbytes or entry["key"] in arrays:
            raise CheckpointError(f"{path}: the manifest's entry for {entry['key']} is corrupted")
        end += nbytes
        chunk = payload[entry["offset"] : entry["offset"] + entry["nbytes"]]
        array = np.frombuffer(chunk, dtype=dtype).reshape(entry["shape"]).astype(dtype.newbyteorder("="))
        if "prng_impl" in entry:
            array = jax.random.wrap_key_data(array, impl=entry["prng_impl"])
        arrays[entry["key"]] = array
    if end != len(payload):
        raise CheckpointError(f"{path}: the manifest's leaves do not cover the payload")
    return arrays, manifest
