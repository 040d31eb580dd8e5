"""Data: in-memory arrays and the data sets fnnet can load offline."""

from fnnet.data.arrays import Standardizer, minibatches, train_test_split
from fnnet.data.tabular import TABULAR_DATASETS, TabularData, load_tabular

__all__ = [
    "TABULAR_DATASETS",
    "Standardizer",
    "TabularData",
    "load_tabular",
    "minibatches",
    "train_test_split",
]
