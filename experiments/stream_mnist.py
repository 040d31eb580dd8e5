"""Streamed MNIST: fit on batches read from the IDX files as it trains, against the in-memory run.

The training images are never loaded whole: ``IdxBatches`` reads the gzip IDX files front to
back, a chunk at a time, through a shuffle buffer of ``--buffer`` examples (a new order every epoch
through ``set_epoch``), and yields ``(x [B, 28, 28, 1], y [B])`` batches; the test set streams the
same way as validation data. The same MLP (784 -> 256 -> 10) is then trained on the arrays in
memory (``--no-compare`` skips it) and the two test accuracies are compared: streaming should
cost no accuracy (a shuffle buffer is not a whole shuffle, so the batches differ).

    python -m experiments.stream_mnist           # ~97.6-97.9% both, 5 epochs (~6 s, ~4 s on 2 cores)
    fnnet run stream_mnist --log-dir logs        # with CSV and TensorBoard logs

Beyond the course: streamed input (issue 16), not a lesson of the course.
"""

from __future__ import annotations

import gzip
import pathlib
import time

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.data import idx

SOURCE = "the fnnet README, streamed data (issue 16 item 8): MNIST read in batches from its IDX files"

# Defaults (each is a command-line option).
EPOCHS = 5
BATCH_SIZE = 128
LEARNING_RATE = 1e-3  # Adam
BUFFER = 10_000  # examples in the shuffle buffer (0: the file's order)
CHUNK = 2_048  # examples read at a time
HIDDEN = 256


class IdxBatches:
    """``(x, y)`` batches of an MNIST split streamed from its IDX files (``.gz`` or raw).

    Re-iterable with a length (batches per pass), so ``fit`` runs it once per epoch; ``set_epoch``
    picks the epoch's shuffle. Files are checked against their published sha256 (streamed, in
    chunks) and their headers; a truncated file raises an ``IdxError`` naming it.

    Args:
        folder: the data set's folder, e.g. ``<data-dir>/mnist``.
        split: ``"train"`` or ``"t10k"``.
        batch_size: examples per batch.
        buffer: examples read and shuffled together (0: no shuffling).
        seed: the shuffle's seed.
        limit: read only the first ``limit`` examples (None: all).
        drop_remainder: drop the last partial batch (training: one batch shape, one compile).
    """

    def __init__(self, folder, split, batch_size, buffer=0, seed=0, limit=None, drop_remainder=True):
        self.paths = [self._find(pathlib.Path(folder), f"{split}-{kind}-idx{d}-ubyte") for kind, d in
                      (("images", 3), ("labels", 1))]  # fmt: skip
        self.batch_size, self.buffer, self.seed, self.epoch = batch_size, buffer, seed, 0
        self.drop_remainder = drop_remainder
        with self._open(0) as f:
            count = int(np.frombuffer(self._read(f, 8, self.paths[0]), ">u4")[1])
        self.count = count if limit is None else min(limit, count)

    @staticmethod
    def _find(folder: pathlib.Path, stem: str) -> pathlib.Path:
        for path in (folder / f"{stem}.gz", folder / stem):
            if path.is_file():
                expected = idx.SHA256.get(folder.name, {}).get(path.name)
                if expected is not None:  # the published sums are for the original .gz files
                    IdxBatches._check_sum(path, expected)
                return path
        raise idx.IdxError(f"{folder / stem}.gz: file not found (nor {folder / stem})")

    @staticmethod
    def _check_sum(path: pathlib.Path, expected: str) -> None:
        import hashlib

        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != expected:
            raise idx.IdxError(f"{path}: sha256 {digest.hexdigest()}, expected {expected}; download it again")

    def _open(self, which: int):
        path = self.paths[which]
        return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")

    @staticmethod
    def _read(f, size: int, path: pathlib.Path) -> bytes:
        data = f.read(size)
        if len(data) != size:
            raise idx.IdxError(f"{path}: truncated ({len(data)} of {size} bytes read)")
        return data

    def __len__(self) -> int:
        full, rest = divmod(self.count, self.batch_size)
        return full + (0 if self.drop_remainder or not rest else 1)

    def set_epoch(self, epoch: int) -> None:
        """Shuffle the next pass as epoch ``epoch`` (``fit`` calls it before each epoch)."""
        self.epoch = epoch

    def __iter__(self):
        # A shuffle buffer (as tf.data's): each chunk read joins a pool of ``buffer`` examples and a
        # random chunk's worth leaves it, so an example can travel anywhere in the epoch, not only
        # within its block of the file.
        rng = np.random.default_rng((self.seed, self.epoch))
        with self._open(0) as images, self._open(1) as labels:
            self._read(images, 16, self.paths[0])
            self._read(labels, 8, self.paths[1])
            pool_x, pool_y = np.zeros((0, 784), np.uint8), np.zeros(0, np.uint8)
            out_x, out_y, left = np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.int32), self.count
            while left or len(pool_y):
                k = min(CHUNK, left)
                x = np.frombuffer(self._read(images, k * 784, self.paths[0]), np.uint8).reshape(k, 784)
                pool_x, pool_y = (
                    np.concatenate([pool_x, x]),
                    np.concatenate([pool_y, self._labels(labels, k)]),
                )
                left -= k
                leaving = len(pool_y) - self.buffer if left else len(pool_y)
                if leaving <= 0:
                    continue
                order = rng.permutation(len(pool_y)) if self.buffer else np.arange(len(pool_y))
                x, y = pool_x[order[:leaving]], pool_y[order[:leaving]]
                pool_x, pool_y = pool_x[order[leaving:]], pool_y[order[leaving:]]
                x = (x.reshape(-1, 28, 28, 1) / np.float32(255)).astype(np.float32)  # [k, 28, 28, 1]
                out_x, out_y = np.concatenate([out_x, x]), np.concatenate([out_y, y.astype(np.int32)])
                full = len(out_y) // self.batch_size * self.batch_size
                for i in range(0, full, self.batch_size):
                    yield out_x[i : i + self.batch_size], out_y[i : i + self.batch_size]
                out_x, out_y = out_x[full:], out_y[full:]
            if len(out_y) and not self.drop_remainder:
                yield out_x, out_y

    def _labels(self, f, k: int) -> np.ndarray:
        return np.frombuffer(self._read(f, k, self.paths[1]), np.uint8)


def build_parser():
    """The options: ``--buffer``, ``--hidden``, ``--train-subset``, ``--no-compare`` plus the common ones."""
    parser = common.base_parser(__doc__.splitlines()[0], epochs=EPOCHS, batch_size=BATCH_SIZE,
                                learning_rate=LEARNING_RATE)  # fmt: skip
    parser.add_argument("--buffer", type=int, default=BUFFER, help="examples shuffled together")
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--train-subset", type=int, default=None, help="stream the first N training images")
    parser.add_argument("--no-compare", action="store_true", help="skip the in-memory run")
    return parser


def train(args, x, y, validation):
    """One fit of the MLP on ``x`` (arrays, or a stream when ``y`` is None); returns (result, seconds)."""
    model = fn.Sequential(fn.Flatten(), fn.Dense(args.hidden), fn.activations.relu, fn.Dense(10))
    started = time.perf_counter()
    result = fn.fit(
        model, fn.losses.softmax_cross_entropy, optax.adam(args.learning_rate), x, y,
        key=jax.random.key(args.seed), epochs=args.epochs, validation_data=validation,
        metrics={"accuracy": fn.metrics.accuracy}, callbacks=[common.epoch_logger(args, "val accuracy "
        "{val_accuracy:.4f}")], **({} if y is None else {"batch_size": args.batch_size}),
    )  # fmt: skip
    return result, time.perf_counter() - started


def main(argv=None) -> dict:
    """Train on the stream (and in memory), report both test accuracies; returns the metrics."""
    args = build_parser().parse_args(argv)
    common.header(args, "stream_mnist", SOURCE, beyond_course=True)
    folder = (pathlib.Path(args.data_dir) if args.data_dir else idx.default_data_dir()) / "mnist"
    train_stream = IdxBatches(folder, "train", args.batch_size, args.buffer, args.seed, args.train_subset)
    test_stream = IdxBatches(folder, "t10k", 1000, drop_remainder=False)
    streamed, seconds = train(args, train_stream, None, test_stream)
    out = {
        "epochs": len(streamed.history["epoch"]),
        "steps": streamed.steps,
        "stream_test_accuracy": streamed.history["val_accuracy"][-1],
        "stream_seconds": seconds,
    }
    common.report(args, f"streamed: test accuracy {out['stream_test_accuracy']:.4f} ({seconds:.1f} s)")
    if not args.no_compare:
        data = fn.data.load_mnist("mnist", args.data_dir)
        x, y = data.x_train[: args.train_subset], data.y_train[: args.train_subset]
        memory, seconds = train(args, x, y, (data.x_test, data.y_test))
        out["memory_test_accuracy"] = memory.history["val_accuracy"][-1]
        out["memory_seconds"] = seconds
        out["difference_points"] = 100 * (out["stream_test_accuracy"] - out["memory_test_accuracy"])
        common.report(
            args,
            f"in memory: test accuracy {out['memory_test_accuracy']:.4f} ({seconds:.1f} s); streamed "
            f"minus in memory: {out['difference_points']:+.2f} points",
        )
    common.save_metrics(common.output_dir(args, "stream_mnist"), out)
    return out


if __name__ == "__main__":
    main()
