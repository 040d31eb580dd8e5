"""Streamed data: ``fit`` on an iterable of ``(x, y)`` batches instead of arrays held in memory.

``fit(model, loss, optimizer, batches, key=...)`` — ``x`` alone, ``y`` left out — trains on a stream:
a list of batches, a generator, a grain ``DataLoader`` or ``MapDataset``, or any object with an
``__iter__`` that yields pairs ``(x [B, ...], y [B, ...])`` of NumPy or JAX arrays.
``validation_data`` may be a stream too. The rules:

* **Epochs.** A re-iterable (a list, a DataLoader, an object whose ``__iter__`` returns a fresh
  iterator) is iterated once per epoch; if it has a ``set_epoch(epoch)`` method (the convention of
  PyTorch's ``DistributedSampler``), ``fit`` calls it first, so the stream can reshuffle per epoch
  and a resumed run sees the same batches. A one-shot iterator (a generator object: ``iter(it) is
  it``) gives exactly one pass: with ``epochs > 1`` ``fit`` refuses it before training.
* **Every epoch has the same number of batches**: ``len(stream)`` when the stream has a length,
  else the number the first epoch gave. An epoch that gives none or another number is an error
  naming the epoch, never a silent short or empty epoch. (``Run.steps_per_epoch`` is None until a
  stream without a length has finished its first epoch.)
* **Batches are checked.** The first batch goes through ``fit``'s array checks against the model
  (shapes, dtypes, labels); every later one must have the first one's shapes and dtypes (for the
  validation stream only the per-example shapes: a last partial batch is fine there) and integer
  labels in range; an error names the batch (from 0) and the epoch. ``batch_size`` is the stream's
  own; passing another one is an error.
* **Resume.** A ``Checkpoint`` restores the step; ``fit`` then finds the epoch from
  ``steps_per_epoch`` and draws and discards the batches that epoch already trained on. The
  resumed run equals an uninterrupted one exactly when the stream yields the same batches each time
  it is iterated for an epoch (a list, a seeded loader, ``set_epoch``); a stream without a length
  cannot be resumed after its first epoch has begun (its epochs' bounds are unknown): an error.
* **Fused epochs need arrays**: ``fused=True`` and ``data_parallel=True`` refuse a stream.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax

from fnnet.training.batches import BatchChecker
from fnnet.training.epochs import stream_epoch

__all__ = ["Stream", "first_epoch", "stream_runner"]


class Stream:
    """A source of ``(x, y)`` batches as ``fit`` consumes it (the rules in the module docstring).

    Args:
        source: the iterable of batches.
        name: what messages call it, e.g. ``"the training stream"``.
        fused: ``fit``'s ``fused`` (a stream refuses it).
        data_parallel: ``fit``'s ``data_parallel`` (a stream refuses it).

    Attributes:
        one_shot: the source is an iterator (one pass only).
        length: ``len(source)`` when it has one, else None.
        checker: the ``BatchChecker`` every batch passes, set once the first batch is checked.
    """

    def __init__(self, source: Any, name: str, *, fused: bool = False, data_parallel: bool = False) -> None:
        if isinstance(source, str | bytes | collections.abc.Mapping) or not isinstance(source, Iterable):
            raise TypeError(
                f"fit: {name} must be an iterable of (x, y) batches (a list, a generator, a grain "
                f"DataLoader), got {type(source).__name__}"
            )
        for flag, on in (("fused=True", fused), ("data_parallel=True", data_parallel)):
            if on:
                raise ValueError(
                    f"fit: {flag} needs arrays: fused and data-parallel epochs gather their batches "
                    f"from device-resident data, so they cannot take {name}; pass x and y as arrays, "
                    f"or drop {flag}"
                )
        self.source, self.name = source, name
        self.one_shot = isinstance(source, Iterator)
        self.length = _length(source)
        self.checker: BatchChecker | None = None
        self._pending: tuple[Any, Iterator] | None = None

    @property
    def example_shape(self) -> tuple[int, ...]:
        """The per-example input shape, ``x.shape[1:]`` of the first batch (once checked)."""
        assert self.checker is not None, "the first batch is checked first (validate_stream)"
        return self.checker.expected[0][0][1:]

    @property
    def batch_size(self) -> int:
        """The training batch size, the first batch's (once checked)."""
        assert self.checker is not None, "the first batch is checked first (validate_stream)"
        return self.checker.expected[0][0][0]

    def check_epochs(self, epochs: int) -> None:
        """Refuse a one-shot iterator for more than one epoch, before training."""
        if self.one_shot and isinstance(epochs, int) and epochs > 1:
            raise ValueError(
                f"fit: {self.name} is a one-shot iterator (a {type(self.source).__name__}), which gives "
                f"one pass, but epochs={epochs}: pass a re-iterable (a list of batches, a grain "
                "DataLoader, or an object whose __iter__ makes a fresh iterator) or epochs=1"
            )

    def peek(self) -> Any:
        """The first batch of epoch 0, unchecked; epoch 0 then starts with it (nothing is read twice)."""
        if self._pending is None:
            self._set_epoch(0)
            iterator = iter(self.source)
            try:
                first = next(iterator)
            except StopIteration:
                raise ValueError(
                    f"fit: {self.name} gave no batches; pass at least one (x, y) batch"
                ) from None
            self._pending = (first, iterator)
        return self._pending[0]

    def batches(self, epoch: int) -> Iterator[tuple[Any, Any]]:
        """Epoch ``epoch``'s batches, each checked as it is drawn (``set_epoch`` called first)."""
        if self._pending is not None and epoch == 0:
            first, iterator = self._pending
            raw: Iterator = _chain(first, iterator)
        elif self.one_shot:
            raise ValueError(f"fit: {self.name} is a one-shot iterator, already consumed by its one pass")
        else:
            self._set_epoch(epoch)
            raw = iter(self.source)
        self._pending = None
        checker = self.checker
        if checker is None:
            return raw
        return (checker(batch, index, epoch) for index, batch in enumerate(raw))

    def _set_epoch(self, epoch: int) -> None:
        set_epoch = getattr(self.source, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)

    def finish_epoch(self, drawn: _Counted, epoch: int, expected: int | None) -> int | None:
        """Check the epoch's number of batches; return the number an epoch has (None: still unknown).

        Args:
            drawn: the epoch's batches as drawn, counted.
            epoch: the epoch (from 0).
            expected: batches per epoch, if known.
        """
        if expected is None:
            if not drawn.exhausted:
                return None  # training stopped inside the first epoch
            if drawn.seen == 0:
                raise ValueError(f"fit: epoch {epoch + 1} of {self.name} gave no batches")
            return drawn.seen
        if drawn.seen == expected and not drawn.exhausted and next(drawn, None) is not None:
            raise ValueError(
                f"fit: epoch {epoch + 1} of {self.name} gave more than {expected} batches, the number "
                f"{'len() says' if self.length is not None else 'its first epoch gave'}; every epoch must "
                "give the same number"
            )
        if drawn.exhausted and drawn.seen != expected:
            source = "len() says" if self.length is not None else "its first epoch gave"
            hint = (
                "; a re-iterable must start afresh each time it is iterated (its __iter__ returning a "
                "new iterator)"
                if drawn.seen == 0
                else ""
            )
            raise ValueError(
                f"fit: epoch {epoch + 1} of {self.name} gave {drawn.seen} batches but {source} "
                f"{expected}; every epoch must give the same number{hint}"
            )
        return expected


def stream_runner(step: Callable, stream: Stream, tol: float | None, run: Any) -> tuple[Callable, Callable]:
    """``(run_epoch, replay)`` for a stream, as ``fit``'s array runner gives them.

    ``run_epoch(epoch, first, limit, hooks) -> logs`` trains steps ``first .. limit - 1`` of the
    epoch, advancing ``run`` (and setting ``run.steps_per_epoch`` once the first epoch has counted
    its batches); ``replay(state, epoch, first, limit) -> state`` re-runs them without callbacks,
    or gives None for a one-shot stream, which cannot be read again.
    """
    train_step = jax.jit(step, donate_argnums=0)

    def steps(state: Any, epoch: int, first: int, limit: int, after_step: Callable | None) -> tuple:
        drawn = _Counted(stream.batches(epoch))
        state, logs = stream_epoch(train_step, state, drawn, first, limit, tol, after_step)
        return state, logs, drawn

    def run_epoch(epoch: int, first: int, limit: int, hooks: Any) -> dict:
        def after_step(state: Any, logs: dict) -> None:
            run.state, run.step = state, run.step + int(logs["finite"])
            hooks.step_end(run, logs)

        _, logs, drawn = steps(run.state, epoch, first, limit, after_step)
        run.steps_per_epoch = stream.finish_epoch(drawn, epoch, run.steps_per_epoch)
        return logs

    def replay(state: Any, epoch: int, first: int, limit: int) -> Any:
        return None if stream.one_shot else steps(state, epoch, first, limit, None)[0]

    return run_epoch, replay


def first_epoch(run: Any) -> int:
    """The epoch a (possibly resumed) streamed fit starts in; an error where it cannot be known."""
    if run.steps_per_epoch is None:
        if run.step:
            raise ValueError(
                f"fit: cannot resume a stream without a length at step {run.step}: the epoch it stopped "
                "in is unknown; give the stream a __len__ (batches per epoch) or start afresh"
            )
        return 0
    return run.step // run.steps_per_epoch


class _Counted:
    """An iterator that counts what is drawn from it and notes when it runs out."""

    def __init__(self, iterator: Iterator) -> None:
        self.iterator, self.seen, self.exhausted = iterator, 0, False

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self.iterator)
        except StopIteration:
            self.exhausted = True
            raise
        self.seen += 1
        return item


def _chain(first: Any, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _length(source: Any) -> int | None:
    try:
        return len(source) if hasattr(source, "__len__") else None
    except TypeError:  # a __len__ that refuses (an unsized dataset)
        return None
