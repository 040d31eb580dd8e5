"""Principal component analysis: the linear baseline an autoencoder's code is compared with."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from numpy.typing import ArrayLike

__all__ = ["PCA", "fit_pca"]


class PCA(NamedTuple):
    """A fitted PCA: ``code = (x - mean) @ components.T``, ``x_hat = code @ components + mean``.

    Attributes:
        mean: ``[D]`` the training mean.
        components: ``[K, D]`` orthonormal principal directions, by decreasing variance.
        explained_variance: ``[K]`` the variance along each direction (divided by N - 1).
    """

    mean: jax.Array
    components: jax.Array
    explained_variance: jax.Array

    def encode(self, x: jax.Array) -> jax.Array:
        """``[..., D] -> [..., K]``: coordinates along the principal directions."""
        return jnp.matmul(x - self.mean.reshape((1,) * (x.ndim - 1) + (-1,)), self.components.T)

    def decode(self, code: jax.Array) -> jax.Array:
        """``[..., K] -> [..., D]``: the best rank-K linear reconstruction."""
        return jnp.matmul(code, self.components) + self.mean.reshape((1,) * (code.ndim - 1) + (-1,))

    def reconstruct(self, x: jax.Array) -> jax.Array:
        """``decode(encode(x))``."""
        return self.decode(self.encode(x))


def fit_pca(x: ArrayLike, n_components: int) -> PCA:
    """Fit PCA to ``x`` ``[N, D]`` by an SVD of the centred data.

    Args:
        x: the training data, ``[N, D]``.
        n_components: K, at most ``min(N, D)``.

    Returns:
        A PCA; each component's sign is fixed so that its largest-magnitude entry is positive.
    """
    data = jnp.asarray(x, jnp.float32)
    if data.ndim != 2:
        raise ValueError(f"fit_pca: x must be [N, D], got shape {tuple(data.shape)}")
    n, d = data.shape
    if not 1 <= n_components <= min(n, d):
        raise ValueError(f"fit_pca: n_components must be in 1..{min(n, d)} for x of shape [{n}, {d}]")
    mean = jnp.mean(data, axis=0)
    _, s, vt = jnp.linalg.svd(data - mean[None, :], full_matrices=False)
    vt = vt[:n_components]
    signs = jnp.sign(vt[jnp.arange(n_components), jnp.argmax(jnp.abs(vt), axis=1)])
    return PCA(mean, vt * signs[:, None], (s[:n_components] ** 2) / (n - 1))
