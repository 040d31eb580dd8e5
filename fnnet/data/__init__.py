"""Data: in-memory arrays and the data sets fnnet can load offline."""

from fnnet.data.arrays import Standardizer, minibatches, train_test_split
from fnnet.data.idx import IdxError, MnistData, default_data_dir, load_mnist, read_idx
from fnnet.data.sequences import (
    SERIES,
    CharVocabulary,
    language_model_windows,
    load_series,
    load_text,
    sliding_windows,
    time_ordered_split,
)
from fnnet.data.tabular import TABULAR_DATASETS, TabularData, load_tabular

__all__ = [
    "IdxError",
    "MnistData",
    "TABULAR_DATASETS",
    "default_data_dir",
    "load_mnist",
    "read_idx",
    "Standardizer",
    "TabularData",
    "load_tabular",
    "minibatches",
    "train_test_split",
    "SERIES",
    "CharVocabulary",
    "language_model_windows",
    "load_series",
    "load_text",
    "sliding_windows",
    "time_ordered_split",
]
