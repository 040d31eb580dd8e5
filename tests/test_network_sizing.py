"""experiments/network_sizing.py: early stopping on a validation split, the test split scored once."""

import numpy as np
import pytest

from experiments import network_sizing


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("sizing")
    return network_sizing.main(["--out-dir", str(out), "--quiet"]), out


def test_test_scores_beat_the_baselines(results):
    r, _ = results
    assert r["diabetes"]["test_rmse"] < 0.85 * r["diabetes"]["baseline_rmse_predict_mean"]
    assert r["breast_cancer"]["test_accuracy"] > 0.93 > r["breast_cancer"]["baseline_majority_class"]
    assert r["digits"]["test_accuracy"] >= 0.95 > 0.2 > r["digits"]["baseline_majority_class"]


@pytest.mark.parametrize("task", ["diabetes", "breast_cancer", "digits"])
def test_chosen_epoch_is_the_validation_minimum_before_the_last_epoch(results, task):
    r = results[0][task]
    val, patience = np.array(r["val_loss"]), network_sizing.DEFAULTS["patience"]
    assert len(val) == len(r["train_loss"]) == r["epochs_run"]
    assert r["chosen_epoch"] == int(np.argmin(val)) + 1  # epochs count from 1
    assert r["chosen_epoch"] < network_sizing.DEFAULTS["epochs"]
    assert r["epochs_run"] == r["chosen_epoch"] + patience and r["stop_reason"].startswith("early stopping")
    # the weights fit returned are the chosen epoch's, not the last epoch's
    assert r["val_loss_of_returned_weights"] == pytest.approx(val.min(), rel=1e-5)
    assert val[-1] > val.min()


def test_figure_is_written(results):
    assert (results[1] / "network_sizing" / "network_sizing_curves.png").stat().st_size > 10_000


def test_bad_validation_fraction_names_the_option():
    with pytest.raises(ValueError, match="--val-fraction"):
        network_sizing.main(["--val-fraction", "0", "--quiet"])
