"""The Playground experiment (003, "DL Playground", "Hidden Layers"): which data sets need a hidden layer.

The linear column is checked against scikit-learn's logistic regression on the same splits.
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from experiments import playground as pg

FLAGS = ["--widths", "16", "--grid", "40"]  # linear, 1x16, 2x16: fewer networks than the default


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("pg")
    result = pg.main(["--out-dir", str(out), "--quiet", *FLAGS])
    assert (out / "playground" / "playground_decision_boundaries.png").stat().st_size > 10_000
    assert (out / "playground" / "metrics.json").exists()
    return result


@pytest.mark.parametrize("name", ["xor", "circles", "spirals"])
def test_nonlinear_data_sets_need_a_hidden_layer(metrics, name):
    scores = metrics[name]["scores"]
    assert scores["linear"]["test"] < 0.7
    assert max(scores[k]["test"] for k in ("1x16", "2x16")) > 0.85
    assert metrics[name]["hidden_layer"]["needed"] is True


def test_gaussian_clusters_are_linearly_separable(metrics):
    assert metrics["gaussian"]["scores"]["linear"]["test"] > 0.95
    assert metrics["gaussian"]["hidden_layer"]["needed"] is False


@pytest.mark.parametrize("name", list(pg.DATASETS))
def test_linear_column_matches_scikit_learn_logistic_regression(metrics, name):
    data = pg.make_dataset(name, pg.DEFAULTS["points"], pg.DEFAULTS["noise"], 0.5, 0)
    reference = (
        LogisticRegression().fit(data["x_train"], data["y_train"]).score(data["x_test"], data["y_test"])
    )
    assert metrics[name]["scores"]["linear"]["test"] == pytest.approx(reference, abs=0.06)


def test_generated_labels_follow_the_definitions():
    data = pg.make_dataset("xor", 400, 0.0, 0.5, 1)
    x, y = data["x_train"], data["y_train"]
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] > 0).astype(int))
    data = pg.make_dataset("circles", 400, 0.0, 0.5, 1)
    radius = np.hypot(*data["x_test"].T)
    assert np.all(radius[data["y_test"] == 1] < 0.5) and np.all(radius[data["y_test"] == 0] >= 0.7)
    assert len(data["x_train"]) == len(data["x_test"]) == 200


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown data set 'moons'"):
        pg.make_dataset("moons", 400, 0.1, 0.5, 0)
    with pytest.raises(ValueError, match="test_fraction"):
        pg.make_dataset("xor", 400, 0.1, 1.5, 0)
