"""The IDX format of MNIST and Fashion-MNIST (gzip or raw), with checks that name the file at fault.

Files are read from a data directory given as an argument (``--data-dir``), else ``$FNNET_DATA_DIR``,
else the default: ``../shared/data`` beside the repository when fnnet runs from its checkout, the user
cache ``$XDG_CACHE_HOME/fnnet`` (``~/.cache/fnnet``) when it is installed. Nothing is downloaded: a
missing file gets an error that says where it was expected, every place of that chain and its sha256,
so a user can fetch it.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pathlib
import zlib

import numpy as np

__all__ = ["IdxError", "MnistData", "default_data_dir", "load_mnist", "read_idx"]

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

# Published sha256 sums (from shared/data/README.md): what a user downloads must match them.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",  # noqa: E501
    },
}


class IdxError(ValueError):
    """An IDX file is missing, truncated, or not what it should be; the message names the file."""


def _checkout_root() -> pathlib.Path | None:
    """The repository root when fnnet runs from its checkout (it holds pyproject.toml), else None."""
    root = pathlib.Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def _resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[pathlib.Path, str]:
    """The data folder and where it came from: ``data_dir``, ``$FNNET_DATA_DIR`` or the default."""
    if data_dir is not None:
        return pathlib.Path(data_dir), "given as data_dir (--data-dir)"
    env = os.environ.get("FNNET_DATA_DIR")
    if env:
        return pathlib.Path(env), "from $FNNET_DATA_DIR"
    unset = "no data_dir (--data-dir) given and $FNNET_DATA_DIR is not set"
    root = _checkout_root()
    if root is not None:
        return root.parent / "shared" / "data", f"the default from a checkout, ../shared/data; {unset}"
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    return cache / "fnnet", f"the default for an installed fnnet, the user cache; {unset}"


def _looked_in(data_dir: str | os.PathLike | None = None) -> str:
    """Where a missing data set was looked for, for the error message: the folder and the chain."""
    folder, origin = _resolve_data_dir(data_dir)
    return f"the data folder was {folder} ({origin})"


def default_data_dir() -> pathlib.Path:
    """The data folder when none is given.

    ``$FNNET_DATA_DIR`` if set; else ``../shared/data`` beside the repository when fnnet runs from its
    checkout; else the user cache ``$XDG_CACHE_HOME/fnnet`` (``~/.cache/fnnet``) for an installed fnnet.
    """
    return _resolve_data_dir(None)[0]


# Files whose sha256 was verified in this process: (path, size, mtime, inode, sum). A file that is
# rewritten gets a new mtime (or size or inode) and is checked again.
_VERIFIED: set[tuple] = set()


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _check_sha256(path: pathlib.Path, raw: bytes, expected: str) -> None:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, expected)
    if key in _VERIFIED:
        return
    actual = _sha256(raw)
    if actual != expected:
        raise IdxError(
            f"{path}: sha256 {actual}, expected {expected}; the file is corrupt or not the original, "
            "download it again"
        )
    _VERIFIED.add(key)


def read_idx(
    path: str | os.PathLike, expected_magic: int | None = None, sha256: str | None = None
) -> np.ndarray:
    """Read one IDX file, gzip-compressed or raw (told apart by the gzip magic bytes), as uint8.

    Args:
        path: the file.
        expected_magic: 2051 for images, 2049 for labels; None accepts either.
        sha256: the file's known sha256 (hex), checked before anything is decoded; a file is
            hashed once per process while its path, size and modification time stay the same.
            None skips the check (the gzip CRC and the IDX header still catch most corruption).

    Returns:
        ``[n, rows, cols]`` uint8 images or ``[n]`` uint8 labels.

    Raises:
        IdxError: the file is missing, has a wrong sha256, is not gzip or corrupt gzip, has a wrong
            magic number, or is truncated.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise IdxError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
        if sha256 is not None:
            _check_sha256(path, raw, sha256)
        if raw[:2] == b"\x1f\x8b" or path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise IdxError(f"{path}: not a readable gzip file ({err}); the download may be truncated") from None
    if len(raw) < 8:
        raise IdxError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic, count = (int(v) for v in np.frombuffer(raw[:8], ">u4"))
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC) or (expected_magic and magic != expected_magic):
        want = expected_magic or f"{IMAGES_MAGIC} or {LABELS_MAGIC}"
        raise IdxError(f"{path}: magic number {magic}, expected {want}; not an IDX file of that kind")
    shape: tuple[int, ...]
    if magic == IMAGES_MAGIC:
        if len(raw) < 16:
            raise IdxError(f"{path}: truncated image header ({len(raw)} bytes)")
        rows, cols = (int(v) for v in np.frombuffer(raw[8:16], ">u4"))
        shape, offset = (count, rows, cols), 16
    else:
        shape, offset = (count,), 8
    needed = offset + int(np.prod(shape))
    if len(raw) != needed:
        raise IdxError(
            f"{path}: {len(raw)} bytes after decompression, the header promises {needed} "
            f"({'truncated' if len(raw) < needed else 'trailing data'})"
        )
    data = np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)
    if magic == LABELS_MAGIC and count and int(data.max()) > 9:
        raise IdxError(f"{path}: label {int(data.max())} found; MNIST-style labels are 0..9")
    return data


@dataclasses.dataclass(frozen=True)
class MnistData:
    """MNIST-style images and labels.

    Attributes:
        x_train: float32 ``[60000, 28, 28, 1]`` in [0, 1] (NHWC).
        y_train: int32 ``[60000]``.
        x_test: float32 ``[10000, 28, 28, 1]``.
        y_test: int32 ``[10000]``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(name: str = "mnist", data_dir: str | os.PathLike | None = None) -> MnistData:
    """Load MNIST or Fashion-MNIST from ``data_dir/name/`` (the four original IDX files).

    Each file is the original ``.gz``, checked against its published sha256 (once per file and
    process), or the same name without ``.gz`` (decompressed) when only that one exists; no sum is
    published for those, so they get only the format's own checks.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: the directory holding ``name/``; default ``default_data_dir()``.

    Returns:
        An MnistData with images scaled to [0, 1] in NHWC layout.

    Raises:
        IdxError: a file is missing (the message gives the expected path and sha256), has another
            sha256 (the message gives both), is corrupt, or the image and label counts disagree.
    """
    if name not in SHA256:
        raise ValueError(f"load_mnist: unknown data set {name!r}; choose from {sorted(SHA256)}")
    folder = pathlib.Path(data_dir) if data_dir is not None else default_data_dir()
    folder = folder / name
    paths = {}
    for filename, digest in SHA256[name].items():  # a missing file is reported before any is read
        path = folder / filename
        if not path.is_file() and (folder / filename.removesuffix(".gz")).is_file():
            path = folder / filename.removesuffix(".gz")
        if not path.is_file():
            raise IdxError(
                f"{path}: file not found. fnnet expects the original {name} file {filename} "
                f"(sha256 {digest}) there; {_looked_in(data_dir)}"
            )
        paths[filename] = path
    arrays = {}
    for filename, path in paths.items():
        magic = IMAGES_MAGIC if "images" in filename else LABELS_MAGIC
        known = SHA256[name][filename] if path.name == filename else None  # the sums are of the .gz files
        arrays[filename.split("-idx")[0]] = read_idx(path, magic, sha256=known)
    splits = []
    for part in ("train", "t10k"):
        images, labels = arrays[f"{part}-images"], arrays[f"{part}-labels"]
        if len(images) != len(labels):
            raise IdxError(
                f"{folder}: {part}-images holds {len(images)} images but {part}-labels holds "
                f"{len(labels)} labels"
            )
        splits += [(images.astype(np.float32) / 255.0)[..., None], labels.astype(np.int32)]
    return MnistData(*splits)
