"""The recurrent experiments end to end (slow: minutes of training each)."""

import pytest


@pytest.mark.slow
def test_row_mnist_reaches_97_percent(data_dir, tmp_path):
    from experiments import row_mnist

    metrics = row_mnist.main(["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--quiet"])
    assert metrics["test_accuracy"] >= 0.97
    assert (tmp_path / "row_mnist" / "row_mnist_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_char_lstm_learns_shakespeare(data_dir, tmp_path):
    from experiments import char_lstm

    args = ["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--quiet", "--epochs", "2"]
    metrics = char_lstm.main(args)
    # A uniform guess over the 65 characters costs log2(65) = 6.02 bits; unigram frequencies ~4.3.
    assert metrics["val_bits_per_char"] < 3.0
    assert all(len(s[0]) > 100 for s in metrics["samples"].values())
