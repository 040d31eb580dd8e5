"""The tabular data sets scikit-learn ships (no download): iris, wine, breast cancer, diabetes, digits."""

from __future__ import annotations

import dataclasses

import numpy as np

from fnnet.data.arrays import Standardizer, train_test_split

__all__ = ["TABULAR_DATASETS", "TabularData", "load_tabular"]

TABULAR_DATASETS = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "binary"),
    "diabetes": ("load_diabetes", "regression"),
    "digits": ("load_digits", "classification"),
}


@dataclasses.dataclass(frozen=True)
class TabularData:
    """A train/test split of a tabular data set.

    Attributes:
        x_train, y_train, x_test, y_test: float32 inputs ``[N, F]``; targets int32 classes ``[N]``
            (classification and binary) or float32 ``[N, 1]`` (regression).
        task: ``"classification"``, ``"binary"`` or ``"regression"``.
        num_classes: the number of classes (1 for regression).
        scaler: the Standardizer fitted on ``x_train`` (None if not standardised).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    num_classes: int
    scaler: Standardizer | None


def load_tabular(
    name: str, *, test_fraction: float = 0.2, seed: int = 0, standardize: bool = True
) -> TabularData:
    """Load one of scikit-learn's bundled data sets and split it into train and test parts.

    Args:
        name: one of ``TABULAR_DATASETS``: iris, wine, breast_cancer, diabetes, digits.
        test_fraction: the fraction of examples held out for testing.
        seed: the seed of the shuffled split.
        standardize: standardise inputs with statistics of the training part only.

    Returns:
        A TabularData.
    """
    if name not in TABULAR_DATASETS:
        raise ValueError(f"load_tabular: unknown data set {name!r}; choose from {sorted(TABULAR_DATASETS)}")
    try:
        import sklearn.datasets
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("load_tabular needs scikit-learn: pip install 'fnnet[experiments]'") from err
    loader, task = TABULAR_DATASETS[name]
    bunch = getattr(sklearn.datasets, loader)()
    x = np.asarray(bunch.data, np.float32)
    if task == "regression":
        y = np.asarray(bunch.target, np.float32)[:, None]
        num_classes = 1
    else:
        y = np.asarray(bunch.target, np.int32)
        num_classes = int(y.max()) + 1
    x_train, y_train, x_test, y_test = train_test_split(x, y, test_fraction=test_fraction, key=seed)
    scaler = None
    if standardize:
        scaler = Standardizer.fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    return TabularData(x_train, y_train, x_test, y_test, task, num_classes, scaler)
