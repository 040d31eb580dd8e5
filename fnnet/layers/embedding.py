"""``Embedding``: a lookup table from integer tokens to feature vectors."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from fnnet import initializers
from fnnet.core import Array, Layer, Params, Shape, ShapeError, check_params


@dataclasses.dataclass(frozen=True)
class Embedding(Layer):
    """Maps integer tokens to learned vectors: ``y[..., :] = embedding[x[...], :]``.

    Args:
        num_embeddings: the vocabulary size ``V``; tokens must lie in ``0..V-1``.
        features: the size ``E`` of each vector.
        embedding_init: initialiser of the table (default standard normal, as PyTorch's
            ``nn.Embedding``).

    Shapes: ``x: [...] int -> y: [..., E]``. Params: ``{"embedding": [V, E]}``.
    Tokens out of range raise a ``ShapeError`` when the input is concrete (outside ``jit``); under
    ``jit`` they cannot be checked and give NaN rows.
    """

    num_embeddings: int
    features: int
    embedding_init: initializers.Initializer = initializers.standard_normal()

    def __post_init__(self) -> None:
        for name in ("num_embeddings", "features"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {value!r}")

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        table = self.embedding_init(key, (self.num_embeddings, self.features), jnp.float32)
        return (*in_shape, self.features), {"embedding": table}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {"embedding": (self.num_embeddings, self.features)})
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise ShapeError(self, f"expected integer tokens, got dtype {x.dtype}")
        if not isinstance(x, jax.core.Tracer) and x.size:
            low, high = int(x.min()), int(x.max())
            if low < 0 or high >= self.num_embeddings:
                bad = low if low < 0 else high
                raise ShapeError(self, f"tokens must be in 0..{self.num_embeddings - 1}, found {bad}")
        return jnp.take(params["embedding"], x, axis=0, mode="fill", fill_value=jnp.nan)
