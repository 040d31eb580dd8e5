"""The course experiments run end to end and show what the course says they show."""

import importlib
import json
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(name, tmp_path, *flags):
    module = importlib.import_module(f"experiments.{name}")
    return module.main(["--out-dir", str(tmp_path), "--quiet", *flags])


def test_surfing_node(tmp_path):
    assert run("surfing_node", tmp_path) == {"y_hat": 6.0, "decision": 1}
    assert (tmp_path / "surfing_node" / "surfing_node.png").stat().st_size > 1000


# 003_57e07c46f1bd5fd4.txt, "Quiz: Guessing the Weights": the seven rows and the course's two tables
CONCERT_ROWS = np.array(
    [[1, 1, 1, 1], [1, 0, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
)
COURSE_TOTALS = {"33/33/33": [99, 66, 33, 66, 66, 33, 33], "35/20/30": [85, 65, 35, 55, 50, 20, 30]}
COURSE_WRONG = {"33/33/33": 2, "35/20/30": 0}  # "We got 2 wrong!", "we got all right !!"


def test_concert_perceptron_reproduces_the_course_tables_and_learns_all_seven_rows(tmp_path):
    metrics = run("concert_perceptron", tmp_path, "--epochs", "500")
    for weights, totals in COURSE_TOTALS.items():
        assert metrics["tables"][weights]["totals"] == totals
        assert len(metrics["tables"][weights]["wrong_rows"]) == COURSE_WRONG[weights]
    assert metrics["tables"]["33/33/33"]["wrong_rows"] == [4, 5]  # (1, 1, 0) and (0, 1, 1) total 66
    for weights, result in metrics["solutions"].items():  # the slide notes' solutions, checked by NumPy
        totals = CONCERT_ROWS[:, :3] @ np.array([int(w) for w in weights.split("/")])
        for key, fires in (("strict_wrong_rows", totals > 60), ("at_least_wrong_rows", totals >= 60)):
            assert result[key] == [i + 1 for i in np.flatnonzero(fires != CONCERT_ROWS[:, 3])]
    assert metrics["solutions"]["50/1/49"] == {"strict_wrong_rows": [], "at_least_wrong_rows": []}
    assert metrics["solutions"]["50/0/5"]["strict_wrong_rows"] == [1, 2]  # totals 55: the course is wrong
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


def test_an_experiment_runs_as_a_module_from_the_repo_root(tmp_path):
    cmd = [sys.executable, "-m", "experiments.surfing_node", "--out-dir", str(tmp_path), "--quiet"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    assert json.loads((tmp_path / "surfing_node" / "metrics.json").read_text())["decision"] == 1


def test_run_all_writes_a_summary(tmp_path):
    summary = run("run_all", tmp_path, "--only", "surfing_node", "gradient_descent")
    assert set(summary) == {"surfing_node", "gradient_descent"}
    assert (tmp_path / "summary.json").exists()


def test_design_quizzes_have_the_course_output_layers(tmp_path, capsys):
    # 003, "Quiz: Design Neural Networks": 30 features -> one number; 10 features -> High / Medium / Low
    from fnnet import cli

    metrics = run("design_quizzes", tmp_path)
    assert metrics["stock_index"]["input_shape"] == [30] and metrics["stock_index"]["output_shape"] == [1]
    assert metrics["ticket_priority"]["input_shape"] == [10]
    assert metrics["ticket_priority"]["output_shape"] == [3]
    assert metrics["ticket_priority"]["max_abs_probability_sum_minus_1"] < 1e-5  # softmax: sums to 1
    assert metrics["stock_index"]["test_rmse"] < 0.5 * metrics["stock_index"]["baseline_rmse_predict_mean"]
    assert metrics["ticket_priority"]["test_accuracy"] > 0.8 > metrics["ticket_priority"]["baseline_majority"]
    for name, last_layer in (("stock_index", "Dense(features=1)"), ("ticket_priority", "Lambda(softmax)")):
        assert cli.main(["summary", name]) == 0
        assert last_layer in capsys.readouterr().out


def _course_descent(learning_rate, tol=0.001, max_steps=1000):
    """002, "5.3", in NumPy: step = learning rate x dSSR/dintercept; stop at |step| <= tol or max_steps."""
    weight, height, intercept = np.array([0.5, 2.3, 2.9]), np.array([1.4, 1.9, 3.2]), 0.0
    for steps in range(1, max_steps + 1):
        step = learning_rate * np.sum(-2 * (height - (intercept + 0.64 * weight)))
        intercept -= step
        if abs(step) <= tol:
            return steps, intercept, True
    return max_steps, intercept, False


@pytest.mark.parametrize("learning_rate", [0.1, 0.01, 1e-5])
def test_gradient_descent_stops_by_the_course_rule(tmp_path, learning_rate):
    # 002, "5.3": stop when the step size is <= 0.001, or after 1000 steps even if it is still large
    metrics = run("gradient_descent", tmp_path, "--learning-rate", str(learning_rate))
    steps, intercept, converged = _course_descent(learning_rate)
    assert (metrics["steps"], metrics["converged"]) == (steps, converged)
    assert metrics["intercept"] == pytest.approx(intercept, abs=1e-4)
    assert converged or steps == 1000  # 1e-5: steps stay above 0.001-ish; the 1000-step cap stops it


def _experiments():
    from fnnet import cli

    return {name: path for name, (path, _) in cli.discover(ROOT / "experiments").items()}


@pytest.mark.parametrize("name", sorted(_experiments()))
def test_every_experiment_names_its_source_in_its_docstring_and_header(name):
    import ast

    from experiments import common

    text = _experiments()[name].read_text()
    doc = ast.get_docstring(ast.parse(text)) or ""
    beyond = "Beyond the course:" in doc
    named = [f for f in common.COURSE.values() if f in doc]
    assert beyond or named, f"{name}: the docstring names no course file"
    assert re.search(rf"common\.header\(args, [\"']{name}[\"']", text), (
        f"{name}: main prints no source header"
    )
    assert ("beyond_course=True" in text) == beyond, f"{name}: the header and docstring disagree"


def test_the_course_files_the_experiments_cite_exist():
    from experiments import common

    course = ROOT.parent / "shared" / "course"
    if not course.is_dir():
        pytest.skip(f"the course texts are not beside this checkout ({course})")
    assert sorted(common.COURSE.values()) == sorted(p.name for p in course.glob("*.txt"))


def test_the_header_names_the_course_file(tmp_path, capsys):
    run_flags = ["--out-dir", str(tmp_path)]
    importlib.import_module("experiments.surfing_node").main(run_flags)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("== surfing_node: reproduces 002_80acec0b162294bd.txt")


def test_run_all_prints_times_figures_and_the_longer_experiments(tmp_path, capsys):
    run_all = importlib.import_module("experiments.run_all")
    run_all.main(["--out-dir", str(tmp_path), "--only", "surfing_node"])
    out = capsys.readouterr().out
    figure = tmp_path / "surfing_node" / "surfing_node.png"
    assert "--- surfing_node: " in out and f"figures: {figure}" in out
    longer = out.split("Longer experiments", 1)[1]
    assert "mnist " in longer and "forecast " in longer and "surfing_node" not in longer
