"""End-to-end training on real MNIST via experiments/mnist.py: fast subsets here, full runs slow."""

import json

import pytest

from experiments import mnist


def _run(tmp_path, data_dir, *args):
    argv = ["--quiet", "--data-dir", str(data_dir), "--out-dir", str(tmp_path), *args]
    return mnist.main(argv)


def test_cnn_learns_mnist_in_a_few_hundred_steps(tmp_path, data_dir):
    out = _run(
        tmp_path, data_dir, "--model", "cnn", "--train-subset", "6400", "--test-subset", "2000",
        "--epochs", "1", "--batch-size", "32",
    )  # fmt: skip
    assert out["steps"] == 200
    assert out["test_accuracy"] >= 0.93, out["test_accuracy"]
    folder = tmp_path / "mnist_cnn_mnist"
    for name in ["curves", "confusion", "first_layer_filters", "feature_maps"]:
        assert (folder / f"{name}.png").stat().st_size > 1000, name
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["test_accuracy"] == out["test_accuracy"] and saved["samples_per_second"] > 0


def test_mlp_learns_mnist_in_a_few_hundred_steps(tmp_path, data_dir):
    out = _run(
        tmp_path, data_dir, "--model", "mlp", "--train-subset", "12800", "--test-subset", "2000",
        "--epochs", "1", "--batch-size", "32", "--no-figures",
    )  # fmt: skip
    assert out["steps"] == 400
    assert out["test_accuracy"] >= 0.88, out["test_accuracy"]


@pytest.mark.slow
@pytest.mark.parametrize("model,dataset", [("cnn", "mnist"), ("mlp", "mnist"), ("cnn", "fashion-mnist")])
def test_full_run_reaches_the_issue_target(tmp_path, data_dir, model, dataset):
    out = _run(tmp_path, data_dir, "--model", model, "--dataset", dataset, "--no-figures")
    assert out["test_accuracy"] >= out["target_accuracy"], out["test_accuracy"]
