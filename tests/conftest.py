"""Strict JAX settings for the whole suite, and the path to the shared data sets."""

import os
import pathlib

import jax
import pytest

# Implicit rank promotion hides shape bugs ([B, 1] + [B] -> [B, B]); make it an error everywhere.
jax.config.update("jax_numpy_rank_promotion", "raise")

DATA_DIR = pathlib.Path(
    os.environ.get("FNNET_DATA_DIR", pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


@pytest.fixture
def data_dir() -> pathlib.Path:
    """The directory of the shared real data sets (``$FNNET_DATA_DIR`` or ``../shared/data``)."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"data directory {DATA_DIR} not found; set FNNET_DATA_DIR")
    return DATA_DIR
