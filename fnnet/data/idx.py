"""The IDX format of MNIST and Fashion-MNIST (gzip or raw), with checks that name the file at fault.

Files are read from a data directory given as an argument, else ``$FNNET_DATA_DIR``, else
``../shared/data`` beside the repository. Nothing is downloaded: a missing file gets an error that
says where it was expected and its sha256, so a user can fetch it.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib

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


def default_data_dir() -> pathlib.Path:
    """``$FNNET_DATA_DIR`` if set, else ``../shared/data`` beside the repository checkout."""
    env = os.environ.get("FNNET_DATA_DIR")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read one IDX file, gzip-compressed or raw (told apart by the gzip magic bytes), as uint8.

    Args:
        path: the file.
        expected_magic: 2051 for images, 2049 for labels; None accepts either.

    Returns:
        ``[n, rows, cols]`` uint8 images or ``[n]`` uint8 labels.

    Raises:
        IdxError: the file is missing, not gzip, has a wrong magic number, or is truncated.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise IdxError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b" or path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise IdxError(f"{path}: not a readable gzip file ({err}); the download may be truncated") from None
    if len(raw) < 8:
        raise IdxError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic, count = (int(v) for v in np.frombuffer(raw[:8], ">u4"))
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC) or (expected_magic and magic != expected_magic):
        want = expected_magic or f"{IMAGES_MAGIC} or {LABELS_MAGIC}"
        raise IdxError(f"{path}: magic number {magic}, expected {want}; not an IDX file of that kind")
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

    Each file is the original ``.gz``, or the same name without ``.gz`` (decompressed) when only
    that one exists.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: the directory holding ``name/``; default ``default_data_dir()``.

    Returns:
        An MnistData with images scaled to [0, 1] in NHWC layout.

    Raises:
        IdxError: a file is missing (the message gives the expected path and sha256), corrupt, or
            the image and label counts disagree.
    """
    if name not in SHA256:
        raise ValueError(f"load_mnist: unknown data set {name!r}; choose from {sorted(SHA256)}")
    folder = pathlib.Path(data_dir) if data_dir is not None else default_data_dir()
    folder = folder / name
    arrays = {}
    for filename, digest in SHA256[name].items():
        path = folder / filename
        if not path.is_file() and (folder / filename.removesuffix(".gz")).is_file():
            path = folder / filename.removesuffix(".gz")
        if not path.is_file():
            raise IdxError(
                f"{path}: file not found. fnnet expects the original {name} file {filename} "
                f"(sha256 {digest}) there; pass data_dir=... or set FNNET_DATA_DIR"
            )
        magic = IMAGES_MAGIC if "images" in filename else LABELS_MAGIC
        arrays[filename.split("-idx")[0]] = read_idx(path, magic)
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
