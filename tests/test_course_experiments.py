"""The course experiments run end to end and show what the course says they show."""

import importlib
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(name, tmp_path, *flags):
    module = importlib.import_module(f"experiments.{name}")
    return module.main(["--out-dir", str(tmp_path), "--quiet", *flags])


def test_surfing_node(tmp_path):
    assert run("surfing_node", tmp_path) == {"y_hat": 6.0, "decision": 1}
    assert (tmp_path / "surfing_node" / "surfing_node.png").stat().st_size > 1000


def test_concert_perceptron_learns_all_seven_rows_both_ways(tmp_path):
    metrics = run("concert_perceptron", tmp_path, "--epochs", "500")
    assert metrics["rule_accuracy"] == 1.0 and metrics["gd_accuracy"] == 1.0


def test_xor_needs_a_hidden_layer(tmp_path):
    metrics = run("xor", tmp_path, "--epochs", "2000")
    assert metrics["single_layer_right"] <= 3 and metrics["grid_best"] == 3
    assert metrics["hidden_layer_right"] == 4
    assert (tmp_path / "xor" / "xor_decision_boundaries.png").exists()


def test_gradient_descent_reaches_the_least_squares_intercept(tmp_path):
    metrics = run("gradient_descent", tmp_path)
    assert metrics["converged"] and metrics["steps"] < 1000
    assert metrics["intercept"] == pytest.approx(metrics["least_squares"], abs=2e-3)


def test_network_sizing_beats_baselines_and_digits_reaches_95(tmp_path):
    results = run("network_sizing", tmp_path, "--epochs", "30")
    assert results["diabetes"]["test_rmse"] < 0.85 * results["diabetes"]["baseline_rmse_predict_mean"]
    assert (
        results["breast_cancer"]["test_accuracy"] > 0.93 > results["breast_cancer"]["baseline_majority_class"]
    )
    assert results["digits"]["test_accuracy"] >= 0.95


def test_an_experiment_runs_as_a_module_from_the_repo_root(tmp_path):
    cmd = [sys.executable, "-m", "experiments.surfing_node", "--out-dir", str(tmp_path), "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    assert json.loads((tmp_path / "surfing_node" / "metrics.json").read_text())["decision"] == 1


def test_run_all_writes_a_summary(tmp_path):
    summary = run("run_all", tmp_path, "--only", "surfing_node", "gradient_descent")
    assert set(summary) == {"surfing_node", "gradient_descent"}
    assert (tmp_path / "summary.json").exists()
