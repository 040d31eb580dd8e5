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


@pytest.mark.slow
def test_forecast_reports_every_model_and_beats_seasonal_naive_on_sunspots(data_dir, tmp_path):
    from experiments import forecast

    metrics = forecast.main(["--data-dir", str(data_dir), "--out-dir", str(tmp_path), "--quiet"])
    for name in ("airline-passengers", "monthly-sunspots"):
        assert set(metrics[name]["rmse"]) == {"seasonal-naive", "linear AR", "LSTM", "GRU"}
        assert (tmp_path / "forecast" / f"forecast_{name}.png").stat().st_size > 0
    sunspots = metrics["monthly-sunspots"]["rmse"]
    assert sunspots["LSTM"] < sunspots["seasonal-naive"] and sunspots["GRU"] < sunspots["seasonal-naive"]
