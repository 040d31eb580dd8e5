"""fit_pca against scikit-learn's PCA."""

import numpy as np
import pytest
from sklearn import decomposition

from fnnet.unsupervised import fit_pca


def test_pca_matches_scikit_learn():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12))).astype(np.float32)
    ours, ref = fit_pca(x, 5), decomposition.PCA(5).fit(x)
    for mine, theirs in zip(np.asarray(ours.components), ref.components_):
        sign = np.sign(mine @ theirs)
        np.testing.assert_allclose(mine, sign * theirs, atol=2e-4)
    np.testing.assert_allclose(ours.explained_variance, ref.explained_variance_, rtol=1e-4)
    np.testing.assert_allclose(ours.reconstruct(x), ref.inverse_transform(ref.transform(x)), atol=2e-3)
    assert ours.encode(x[None]).shape == (1, 300, 5)  # any leading axes


def test_pca_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"n_components must be in 1\.\.3"):
        fit_pca(np.zeros((3, 8)), 4)
    with pytest.raises(ValueError, match=r"x must be \[N, D\], got shape \(3, 2, 2\)"):
        fit_pca(np.zeros((3, 2, 2)), 1)
