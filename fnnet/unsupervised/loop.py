"""One jitted dispatch per epoch for steps on unlabelled data (GAN, RBM): ``make_epoch_fn``."""

from __future__ import annotations

from collections.abc import Callable

import jax

__all__ = ["make_epoch_fn"]


def make_epoch_fn(step: Callable, batch_size: int) -> Callable:
    """Jit ``epoch(state, x, key) -> (state, logs)``: ``step`` scanned over shuffled minibatches of ``x``.

    The rows are ``jax.random.permutation(key, N)`` cut into ``N // batch_size`` minibatches (the last
    partial batch is dropped, as in ``fnnet.fit``), so step ``i`` sees ``x[perm[i*B:(i+1)*B]]``.
    The incoming state's buffers are donated.

    Args:
        step: ``step(state, batch) -> (state, logs)`` for a batch ``[B, ...]`` of ``x``.
        batch_size: examples per step.

    Returns:
        The jitted epoch function; its ``logs`` stack each step's logs along a leading ``[S]`` axis.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"make_epoch_fn: batch_size must be a positive int, got {batch_size!r}")

    def epoch(state, x, key):
        steps = x.shape[0] // batch_size
        if steps == 0:
            raise ValueError(f"make_epoch_fn: {x.shape[0]} examples are fewer than batch_size={batch_size}")
        perm = jax.random.permutation(key, x.shape[0])[: steps * batch_size]
        perm = perm.reshape(steps, batch_size)  # [S, B]
        return jax.lax.scan(lambda s, rows: step(s, x[rows]), state, perm)

    return jax.jit(epoch, donate_argnums=0)
