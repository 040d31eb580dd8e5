"""A deep belief network: RBMs stacked greedily, then exported as an MLP for supervised fine-tuning.

Greedy layer-wise pre-training (Hinton, Osindero & Teh 2006): RBM 1 is trained by CD-k on the data; each
next RBM is trained on the hidden probabilities ``p(h | v)`` of the one below. The weights then
initialise ``Sequential(Dense(H1), sigmoid, ..., Dense(Hn), sigmoid, Dense(classes))``: each ``Dense``
takes its RBM's ``kernel`` and ``hidden_bias`` (the sigmoid layers compute exactly ``p(h | v)``), the
output layer is fresh, and ``fnnet.fit`` fine-tunes the whole network.
"""

# No `from __future__ import annotations` here: the NamedTuple's field types must be objects, not strings,
# for the API reference (pdoc) to resolve them.

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from numpy.typing import ArrayLike

from fnnet.activations import sigmoid
from fnnet.combinators import Sequential
from fnnet.core import Array, Layer, Params
from fnnet.layers.dense import Dense
from fnnet.unsupervised.rbm import RBM, fit_rbm, hidden_probabilities

__all__ = ["DBN", "dbn_mlp", "pretrain_dbn"]


class DBN(NamedTuple):
    """A pre-trained stack of RBMs.

    Attributes:
        rbms: the RBM params, bottom first (``rbms[0]["kernel"]`` is ``[V, H1]``).
        histories: each RBM's training history (``reconstruction_error`` per epoch, ...).
    """

    rbms: list[Params]
    histories: list[dict[str, list[float]]]

    def propagate(self, v: Array, layers: int | None = None) -> Array:
        """Hidden probabilities after ``layers`` RBMs (all by default): ``[..., V] -> [..., H]``."""
        for params in self.rbms[:layers]:
            v = hidden_probabilities(params, v)
        return v


def pretrain_dbn(
    x: ArrayLike,
    hidden_sizes: Sequence[int],
    optimizer: optax.GradientTransformation,
    *,
    key: jax.Array,
    epochs: int = 1,
    batch_size: int = 64,
    k: int = 1,
) -> DBN:
    """Greedy layer-wise CD-k pre-training of one RBM per entry of ``hidden_sizes``.

    Args:
        x: data ``[N, V]`` in [0, 1].
        hidden_sizes: the hidden sizes, bottom first.
        optimizer: the optax optimiser of every RBM.
        key: a ``jax.random`` key; RBM ``i`` trains with ``fold_in(key, i)``.
        epochs: epochs per RBM.
        batch_size: examples per CD step.
        k: Gibbs steps.

    Returns:
        A DBN.
    """
    if not hidden_sizes:
        raise ValueError("pretrain_dbn: hidden_sizes must name at least one layer")
    data = jnp.asarray(x, jnp.float32)
    rbms: list[Params] = []
    histories: list[dict[str, list[float]]] = []
    for i, size in enumerate(hidden_sizes):
        state, history = fit_rbm(
            RBM(size),
            data,
            optimizer,
            key=jax.random.fold_in(key, i),
            epochs=epochs,
            batch_size=batch_size,
            k=k,
        )
        rbms.append(state.params)
        histories.append(history)
        data = hidden_probabilities(state.params, data)  # [N, H_i]: the next RBM's visible data
    return DBN(rbms, histories)


def dbn_mlp(
    dbn: DBN | None, hidden_sizes: Sequence[int], num_classes: int, in_features: int, key: jax.Array
) -> tuple[Sequential, Params]:
    """The MLP of a DBN and its parameters: pre-trained from ``dbn``, or random when ``dbn`` is None.

    Args:
        dbn: a pre-trained DBN whose RBM sizes are ``hidden_sizes`` (None: random initialisation, the
            baseline with the same architecture).
        hidden_sizes: the hidden sizes, bottom first.
        num_classes: the size of the output layer (logits).
        in_features: the input size V.
        key: initialises the output layer (and every layer when ``dbn`` is None).

    Returns:
        ``(model, params)`` with ``model = Sequential(Dense(H1), sigmoid, ..., Dense(num_classes))``; the
        params are copies of the DBN's arrays, so training may donate them.
    """
    layers: list[Layer | Callable[..., Array]] = []
    for size in hidden_sizes:
        layers += [Dense(size), sigmoid]
    model = Sequential(*layers, Dense(num_classes))
    _, params = model.init(key, (in_features,))
    if dbn is None:
        return model, params
    if len(dbn.rbms) != len(hidden_sizes):
        raise ValueError(
            f"dbn_mlp: the DBN has {len(dbn.rbms)} RBMs but hidden_sizes has {len(hidden_sizes)}"
        )
    for i, rbm in enumerate(dbn.rbms):
        want = params[str(2 * i)]["kernel"].shape
        if rbm["kernel"].shape != want:
            raise ValueError(
                f"dbn_mlp: RBM {i} has kernel {tuple(rbm['kernel'].shape)} "
                f"but layer {2 * i} needs {tuple(want)}"
            )
        # copies: fit donates the state's buffers, which must not delete the DBN's own arrays
        params[str(2 * i)] = {"kernel": jnp.array(rbm["kernel"]), "bias": jnp.array(rbm["hidden_bias"])}
    return model, params
