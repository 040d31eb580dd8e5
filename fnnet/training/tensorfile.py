"""A safetensors file with fnnet's checks: named arrays, string metadata, and checksums over all of it.

The layout is the safetensors format (https://huggingface.co/docs/safetensors), so
``safetensors.numpy.load_file`` and ``safetensors.torch.load_file`` read fnnet's files::

    bytes 0..7    n, the header's length (unsigned 64-bit little-endian)
    next n bytes  the header, UTF-8 JSON padded with spaces to a multiple of 8:
                  {name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
                   "__metadata__": {str: str}}
    the rest      the arrays' little-endian C-order bytes, back to back in name order

fnnet adds two metadata entries: ``fnnet.header_sha256``, the sha256 of the header's canonical JSON
(sorted keys, without the two checksums), and ``fnnet.data_crc32``, the CRC-32 of the data (as in
zip, gzip and TFRecord: every flip of up to 32 consecutive bits is detected). Any flipped bit in a
file is therefore a ``CheckpointError`` that names the file, or loads exactly what was saved.
Writes go to a temporary file in the same folder, fsynced, then renamed over the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ml_dtypes
import numpy as np

__all__ = ["CheckpointError", "read_tensors", "read_metadata", "write_tensors"]

PathArg = str | os.PathLike[str]
HEADER_SHA256, DATA_CRC32 = "fnnet.header_sha256", "fnnet.data_crc32"
_MAX_HEADER = 100 * 2**20  # as the safetensors library
_DTYPES = {
    "F64": np.dtype("float64"),
    "F32": np.dtype("float32"),
    "F16": np.dtype("float16"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype("int64"),
    "I32": np.dtype("int32"),
    "I16": np.dtype("int16"),
    "I8": np.dtype("int8"),
    "U64": np.dtype("uint64"),
    "U32": np.dtype("uint32"),
    "U16": np.dtype("uint16"),
    "U8": np.dtype("uint8"),
    "BOOL": np.dtype("bool"),
}
_CODES = {dtype: code for code, dtype in _DTYPES.items()}


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted, or does not match the state it is restored to."""


def _canonical(tensors: dict, metadata: dict[str, str]) -> bytes:
    plain = {k: v for k, v in metadata.items() if k not in (HEADER_SHA256, DATA_CRC32)}
    return json.dumps({"tensors": tensors, "metadata": plain}, sort_keys=True, separators=(",", ":")).encode()


def write_tensors(
    path: PathArg, arrays: dict[str, np.ndarray], metadata: dict[str, str], *, durable: bool = True
) -> pathlib.Path:
    """Write ``arrays`` (name -> array) and ``metadata`` (str -> str) to ``path`` atomically.

    The file is written to a temporary name and renamed over ``path``, so a killed process leaves
    the previous file; with ``durable`` the file and its folder are also fsynced, so a power loss
    does too (about 10 ms for 72 MB on this project's machines; the safetensors library never does).
    """
    path = pathlib.Path(path)
    ordered = {name: _little_endian(name, arrays[name]) for name in sorted(arrays)}
    tensors, offset = {}, 0
    for name, array in ordered.items():
        tensors[name] = {
            "dtype": _CODES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    buffers = [_bytes(array) for array in ordered.values()]
    header = _header(tensors, metadata, 0)  # the CRC's 8 hex digits do not change its length
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, ThreadPoolExecutor(1) as pool:
            crc = pool.submit(_crc32, buffers)  # beside the writes: both release the GIL
            f.seek(8 + len(header))
            for buffer in buffers:
                f.write(buffer)
            f.seek(0)
            f.write(len(header).to_bytes(8, "little") + _header(tensors, metadata, crc.result()))
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def _header(tensors: dict, metadata: dict[str, str], crc: int) -> bytes:
    """The header's JSON with both checksums, padded with spaces to a multiple of 8 bytes."""
    metadata = {**metadata, DATA_CRC32: f"{crc:08x}"}
    metadata[HEADER_SHA256] = hashlib.sha256(_canonical(tensors, metadata)).hexdigest()
    header = json.dumps({**tensors, "__metadata__": metadata}).encode()
    return header + b" " * (-len(header) % 8)


def _crc32(buffers: list[memoryview]) -> int:
    crc = 0
    for buffer in buffers:
        crc = zlib.crc32(buffer, crc)
    return crc


def _little_endian(name: str, array: Any) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype not in _CODES:
        raise CheckpointError(f"cannot save {name}: dtype {array.dtype} has no safetensors code")
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)


def _bytes(array: np.ndarray) -> memoryview:
    return array.reshape(-1).view(np.uint8).data


def _fsync_dir(folder: pathlib.Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_metadata(path: PathArg) -> dict[str, str]:
    """The metadata of a file written by ``write_tensors``, its header checked (the data is not read)."""
    path = pathlib.Path(path)
    try:
        with path.open("rb") as f:
            _, metadata, _ = _read_header(path, f, os.fstat(f.fileno()).st_size)
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    return metadata


def read_tensors(path: PathArg) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``(arrays, metadata)`` of a file written by ``write_tensors``, every byte of it checked.

    Raises:
        CheckpointError: the file cannot be read, is not a safetensors file with fnnet's checksums,
            is truncated, or a checksum does not match; the message names the file.
    """
    path = pathlib.Path(path)
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            tensors, metadata, start = _read_header(path, f, size)
            data = np.empty(size - start, np.uint8)
            if f.readinto(data.data) != len(data):
                raise CheckpointError(f"{path} is truncated: its data ended early")
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    if f"{zlib.crc32(data.data):08x}" != metadata[DATA_CRC32]:
        raise CheckpointError(f"{path} is corrupted: the CRC-32 of its data does not match its header")
    arrays = {}
    for name, info in tensors.items():
        begin, end = info["data_offsets"]
        arrays[name] = data[begin:end].view(_DTYPES[info["dtype"]]).reshape(info["shape"])
    return arrays, metadata


def _read_header(path: pathlib.Path, f: Any, size: int) -> tuple[dict, dict[str, str], int]:
    raw = f.read(8)
    n = int.from_bytes(raw, "little") if len(raw) == 8 else -1
    if n < 2 or n > _MAX_HEADER or 8 + n > size:
        raise CheckpointError(
            f"{path} is not a safetensors file or is truncated (header length {n}, file {size} bytes)"
        )
    try:
        header = json.loads(f.read(n).decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CheckpointError(f"{path}: the header is corrupted ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the header is corrupted (not a JSON object)")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: the header's __metadata__ is missing or corrupted")
    if HEADER_SHA256 not in metadata or DATA_CRC32 not in metadata:
        raise CheckpointError(
            f"{path} has no fnnet checksums: it was not written by fnnet, or its header is corrupted "
            "(read a foreign file with safetensors.numpy.load_file)"
        )
    _check_layout(path, header, size - 8 - n)
    if hashlib.sha256(_canonical(header, metadata)).hexdigest() != metadata[HEADER_SHA256]:
        raise CheckpointError(f"{path} is corrupted: the sha256 of its header does not match")
    return header, metadata, 8 + n


def _check_layout(path: pathlib.Path, tensors: dict, data_bytes: int) -> None:
    """Every entry well formed, the arrays back to back, covering the data exactly."""
    end = 0
    for name, info in sorted(tensors.items(), key=lambda item: _begin(item[1])):
        ok = isinstance(info, dict) and set(info) == {"dtype", "shape", "data_offsets"}
        ok = ok and info["dtype"] in _DTYPES and _ints(info["shape"]) and _ints(info["data_offsets"])
        if not ok or len(info["data_offsets"]) != 2:
            raise CheckpointError(f"{path}: the header's entry for {name!r} is corrupted")
        begin, stop = info["data_offsets"]
        nbytes = int(np.prod(info["shape"], dtype=np.int64)) * _DTYPES[info["dtype"]].itemsize
        if begin != end or stop - begin != nbytes:
            raise CheckpointError(f"{path}: the header's offsets for {name!r} are corrupted")
        end = stop
    if end != data_bytes:
        raise CheckpointError(
            f"{path} is truncated or corrupted: {data_bytes} data bytes, the header says {end}"
        )


def _begin(info: Any) -> int:
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    return offsets[0] if isinstance(offsets, list) and offsets and isinstance(offsets[0], int) else -1


def _ints(values: Any) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    )
