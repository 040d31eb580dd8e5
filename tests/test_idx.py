"""The IDX loader on the real MNIST and Fashion-MNIST files and on crafted bad files."""

import gzip
import hashlib
import shutil
import struct

import numpy as np
import pytest

from fnnet.data import IdxError, idx, load_mnist, read_idx
from fnnet.data.idx import SHA256

# Class counts published in shared/data/README.md.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _idx_bytes(magic, dims, payload):
    return struct.pack(">" + "I" * (1 + len(dims)), magic, *dims) + bytes(payload)


def _write(path, content, compress=True):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.fixture(scope="module")
def mnist(request):
    from conftest import DATA_DIR

    return load_mnist("mnist", DATA_DIR)


def test_real_mnist_shapes_dtypes_ranges_and_label_counts(mnist):
    assert mnist.x_train.shape == (60000, 28, 28, 1) and mnist.x_train.dtype == np.float32
    assert mnist.x_test.shape == (10000, 28, 28, 1) and mnist.x_test.dtype == np.float32
    assert mnist.y_train.dtype == np.int32 and mnist.y_test.dtype == np.int32
    assert mnist.x_train.min() == 0.0 and mnist.x_train.max() == 1.0
    assert np.bincount(mnist.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == MNIST_TEST_COUNTS


def test_real_fashion_mnist_labels_and_raw_pixels(data_dir):
    labels = read_idx(data_dir / "fashion-mnist" / "train-labels-idx1-ubyte.gz", 2049)
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [6000] * 10
    test = read_idx(data_dir / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz")
    assert np.bincount(test).tolist() == [1000] * 10
    images = read_idx(data_dir / "fashion-mnist" / "t10k-images-idx3-ubyte.gz", 2051)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8 and images.max() == 255


def test_raw_and_gzip_files_read_alike(tmp_path):
    content = _idx_bytes(2051, (2, 3, 4), range(24))
    a = read_idx(_write(tmp_path / "a.gz", content))
    b = read_idx(_write(tmp_path / "b", content, compress=False))
    np.testing.assert_array_equal(a, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    np.testing.assert_array_equal(a, b)


def test_load_mnist_falls_back_to_decompressed_files(tmp_path, data_dir):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in SHA256["mnist"]:
        source = data_dir / "mnist" / name
        if name.startswith("t10k"):
            (folder / name.removesuffix(".gz")).write_bytes(gzip.decompress(source.read_bytes()))
        else:
            shutil.copy(source, folder / name)
    data = load_mnist("mnist", tmp_path)
    assert np.bincount(data.y_test).tolist() == MNIST_TEST_COUNTS


def test_wrong_magic_number_is_named(tmp_path):
    path = _write(tmp_path / "labels.gz", _idx_bytes(2051, (3, 1, 1), [1, 2, 3]))
    with pytest.raises(IdxError, match=r"labels\.gz: magic number 2051, expected 2049"):
        read_idx(path, 2049)
    path = _write(tmp_path / "junk.gz", _idx_bytes(1234, (0,), []))
    with pytest.raises(IdxError, match=r"junk\.gz: magic number 1234, expected 2051 or 2049"):
        read_idx(path)


def test_truncated_files_are_named(tmp_path):
    content = _idx_bytes(2051, (2, 3, 4), range(24))
    path = _write(tmp_path / "short.gz", content[:-5])
    with pytest.raises(IdxError, match=r"short\.gz: 35 bytes after decompression, .* 40 \(truncated\)"):
        read_idx(path)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(content)[:-10])  # a download that stopped early
    with pytest.raises(IdxError, match=r"cut\.gz: not a readable gzip file .* truncated"):
        read_idx(cut)
    header = _write(tmp_path / "header", b"\x00\x00", compress=False)
    with pytest.raises(IdxError, match="only 2 bytes, too short for an IDX header"):
        read_idx(header)


def test_out_of_range_label_is_named(tmp_path):
    path = _write(tmp_path / "labels.gz", _idx_bytes(2049, (3,), [1, 12, 3]))
    with pytest.raises(IdxError, match=r"labels\.gz: label 12 found"):
        read_idx(path)


def _fake_mnist(root, n_train_images=5, n_train_labels=5):
    folder = root / "mnist"
    folder.mkdir()
    sizes = {"train-images": n_train_images, "train-labels": n_train_labels}
    for name in SHA256["mnist"]:
        n = sizes.get(name.split("-idx")[0], 2)
        if "images" in name:
            _write(folder / name, _idx_bytes(2051, (n, 28, 28), [0] * (n * 784)))
        else:
            _write(folder / name, _idx_bytes(2049, (n,), [1] * n))
    return folder


def test_count_mismatch_between_images_and_labels(tmp_path, monkeypatch):
    folder = _fake_mnist(tmp_path, 5, 4)
    monkeypatch.setitem(
        SHA256, "mnist", {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in SHA256["mnist"]}
    )
    with pytest.raises(IdxError, match="train-images holds 5 images but train-labels holds 4 labels"):
        load_mnist("mnist", tmp_path)


def test_missing_file_says_where_and_its_sha256(tmp_path):
    folder = _fake_mnist(tmp_path)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    digest = SHA256["mnist"]["t10k-labels-idx1-ubyte.gz"]
    pattern = rf"{folder}/t10k-labels-idx1-ubyte\.gz: file not found.*sha256 {digest}"
    with pytest.raises(IdxError, match=pattern):
        load_mnist("mnist", tmp_path)
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        load_mnist("cifar", tmp_path)


def test_published_checksums_match_the_shared_data_readme(data_dir):
    readme = (data_dir / "README.md").read_text()
    for files in SHA256.values():
        for digest in files.values():
            assert digest in readme


def _flips(blob):
    """Every single-byte flip of ``blob`` (each byte XOR 0xFF in turn)."""
    for i in range(len(blob)):
        yield i, blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1 :]


def test_every_byte_flip_of_a_gz_with_a_known_sha256_is_an_idx_error_naming_the_file(tmp_path):
    content = _idx_bytes(2051, (2, 3, 4), range(24))
    blob = gzip.compress(content, mtime=0)
    good = _write(tmp_path / "good.gz", content)
    good.write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()
    np.testing.assert_array_equal(read_idx(good, 2051, sha256=digest), np.arange(24).reshape(2, 3, 4))
    for i, flipped in _flips(blob):
        path = tmp_path / f"flip{i}.gz"  # a fresh name: the checksum cache is keyed by path, size and mtime
        path.write_bytes(flipped)
        actual = hashlib.sha256(flipped).hexdigest()
        with pytest.raises(IdxError) as err:
            read_idx(path, 2051, sha256=digest)
        message = str(err.value)
        assert f"flip{i}.gz" in message and digest in message and actual in message, (i, message)


def test_every_byte_flip_of_a_gz_without_a_known_sum_is_an_idx_error_or_the_same_data(tmp_path):
    for magic, dims, payload in [(2051, (2, 3, 4), range(24)), (2049, (6,), [3, 1, 4, 1, 5, 9])]:
        content = _idx_bytes(magic, dims, payload)
        blob = gzip.compress(content, mtime=0)
        expected = np.frombuffer(content, np.uint8, offset=16 if magic == 2051 else 8).reshape(dims)
        outcomes = {"error": 0, "same": 0}
        for i, flipped in _flips(blob):
            path = tmp_path / f"{magic}-{i}.gz"
            path.write_bytes(flipped)
            try:
                data = read_idx(path)
            except IdxError as err:
                assert f"{magic}-{i}.gz" in str(err), (i, str(err))
                outcomes["error"] += 1
            else:  # only a flip the format cannot see (the gzip header's mtime, flags, OS byte)
                np.testing.assert_array_equal(data, expected, err_msg=f"flip of byte {i} gave wrong data")
                outcomes["same"] += 1
        assert outcomes["error"] > len(blob) // 2, outcomes


def test_load_mnist_checks_each_file_against_its_published_sha256_once(tmp_path, monkeypatch):
    folder = _fake_mnist(tmp_path)
    name = "t10k-labels-idx1-ubyte.gz"
    actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    with pytest.raises(IdxError) as err:
        load_mnist("mnist", tmp_path)
    message = str(err.value)
    assert (
        "train-images-idx3-ubyte.gz" in message and SHA256["mnist"]["train-images-idx3-ubyte.gz"] in message
    )
    sums = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in SHA256["mnist"]}
    monkeypatch.setitem(SHA256, "mnist", sums)
    assert load_mnist("mnist", tmp_path).y_test.tolist() == [1, 1]
    hashed = []
    real = idx._sha256
    monkeypatch.setattr(idx, "_sha256", lambda raw: hashed.append(len(raw)) or real(raw))
    load_mnist("mnist", tmp_path)
    assert hashed == []  # verified once per file and process (path, size and modification time)
    (folder / name).write_bytes(gzip.compress(_idx_bytes(2049, (2,), [1, 2])))  # the file changes
    with pytest.raises(IdxError, match=rf"{name}: sha256 [0-9a-f]{{64}}, expected {actual}"):
        load_mnist("mnist", tmp_path)
    assert len(hashed) == 1
