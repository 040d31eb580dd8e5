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
    "CharVocabulary",
    "IdxError",
    "MnistData",
    "SERIES",
    "Standardizer",
    "TABULAR_DATASETS",
    "TabularData",
    "default_data_dir",
    "language_model_windows",
    "load_mnist",
    "load_series",
    "load_tabular",
    "load_text",
    "minibatches",
    "read_idx",
    "sliding_windows",
    "time_ordered_split",
    "train_test_split",
]
