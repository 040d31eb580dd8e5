"""The benchmark suite's harness: peers agree with each other, parity excludes, quick mode runs."""

import json
import pathlib

import jax
import pytest

from benchmarks import dispatch, harness, peers, report, run, sklearn_digits
from benchmarks.peers.common import recurrent_step_flops
from fnnet.bench import host_memory

# The architectures' parameter counts, from their definitions (independent of every framework).
EXPECTED = {
    "mlp": 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10,
    "cnn": 3 * 3 * 1 * 32 + 32 + 3 * 3 * 32 * 64 + 64 + 7 * 7 * 64 * 128 + 128 + 128 * 10 + 10,
    "lstm": 4 * 128 * (32 + 128) + 4 * 128 + 128 * 10 + 10,  # one bias per gate
    "gru": 3 * 128 * (32 + 128) + 2 * 3 * 128 + 128 * 10 + 10,  # PyTorch's input and hidden biases
}


@pytest.fixture(autouse=True)
def _peers_broadcast_implicitly():
    """Flax, Haiku, Equinox (and the hand-written peer, written like them) add biases by implicit
    rank promotion, which conftest makes an error for fnnet's own code."""
    with jax.numpy_rank_promotion("allow"):
        yield


def build_or_skip(framework, spec, **options):
    """``peers.build``, with a framework that is not installed reported as a skip with its reason."""
    try:
        return peers.build(framework, spec, **options)
    except peers.Skipped as err:
        pytest.skip(str(err))


@pytest.mark.parametrize("framework", peers.FRAMEWORKS)
@pytest.mark.parametrize("model", peers.MODELS)
def test_every_peer_has_the_architectures_parameter_count(framework, model):
    built = build_or_skip(framework, peers.Spec(model, "float32", 4, 5), abstract=True)
    assert built.param_count == EXPECTED[model]
    assert built.out_shape == (10,)


@pytest.mark.parametrize("model", peers.MODELS)
def test_fnnet_peer_built_for_timing_has_the_parameter_count_too(model):
    built = peers.build("fnnet", peers.Spec(model, "float32", 4, 5))  # what the workers time
    assert built.param_count == EXPECTED[model] and built.out_shape == (10,)


def test_a_framework_that_is_not_installed_is_skipped_with_its_reason(monkeypatch):
    monkeypatch.setitem(peers._REQUIRES, "flax", "no_such_flax")
    with pytest.raises(peers.Skipped, match="flax: no_such_flax is not installed"):
        peers.build("flax", peers.Spec("mlp"))
    keep, notes = harness.parity(["fnnet", "flax"], [peers.Spec("mlp")], lambda *a: None)
    assert sorted(keep) == ["fnnet"] and "skipped: flax: no_such_flax is not installed" in notes


def test_a_peer_that_is_not_installed_is_a_pytest_skip_with_its_reason_not_an_error(monkeypatch):
    monkeypatch.setitem(peers._REQUIRES, "haiku", "no_such_haiku")
    with pytest.raises(pytest.skip.Exception, match=r"^haiku: no_such_haiku is not installed$"):
        build_or_skip("haiku", peers.Spec("mlp"), abstract=True)


def test_spec_rejects_unknown_model_and_dtype():
    with pytest.raises(ValueError, match="model must be one of"):
        peers.Spec("resnet")
    with pytest.raises(ValueError, match="dtype must be"):
        peers.Spec("mlp", "float16")


def test_parity_excludes_a_peer_whose_model_differs(monkeypatch):
    pytest.importorskip("haiku")
    real = peers.build

    def fake(framework, spec, abstract=False):
        built = real(framework, spec, abstract)
        if framework == "haiku":
            built.param_count += 1
        return built

    monkeypatch.setattr(peers, "build", fake)
    keep, notes = harness.parity(["fnnet", "jax", "haiku"], [peers.Spec("mlp")], lambda *a: None)
    assert sorted(keep) == ["fnnet", "jax"]
    assert any(n.startswith("excluded haiku mlp/float32/b128") for n in notes)


def test_aggregate_takes_the_median_over_rounds_and_the_ceiling_fraction():
    base = {"model": "mlp", "dtype": "float32", "batch": 8, "seq_len": 100, "min_s": 0, "max_s": 1}
    rows = [
        {"framework": "ceiling", "dtype": "float32", "flops_per_second": 100.0},
        {"framework": "ceiling", "dtype": "float32", "flops_per_second": 300.0},
        {**base, "framework": "jax", "median_s": 1.0, "flops": 50.0},
        {**base, "framework": "jax", "median_s": 3.0, "flops": 50.0},
        {**base, "framework": "jax", "median_s": 2.0, "flops": 50.0},
        {**base, "framework": "torch", "median_s": 4.0},
    ]
    table = {r["framework"]: r for r in harness.aggregate(rows)}
    assert table["jax"]["median_s"] == 2.0 and table["jax"]["rounds"] == [1.0, 3.0, 2.0]
    assert table["jax"]["fraction_of_ceiling"] == pytest.approx(50.0 / 2.0 / 200.0)
    assert table["torch"]["fraction_of_ceiling"] == pytest.approx(50.0 / 4.0 / 200.0)


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_recurrent_flops_match_xla_at_one_step_and_grow_with_length(model):
    # XLA counts a scan's body once, so it is right only at T = 1. There the hand count's growth
    # with the batch must match XLA's (the optimizer's work does not grow with it); for longer
    # sequences the hand count grows by one step's work per step.
    from fnnet import bench

    def xla_flops(batch, seq_len):
        b = peers.build("jax", peers.Spec(model, batch=batch, seq_len=seq_len))
        return bench.cost_analysis(b.step.lower(*b.args).compile())["flops"]

    def hand(batch, seq_len):
        return recurrent_step_flops(peers.Spec(model, batch=batch, seq_len=seq_len))

    assert hand(8, 1) - hand(4, 1) == pytest.approx(xla_flops(8, 1) - xla_flops(4, 1), rel=0.05)
    assert hand(4, 9) - hand(4, 8) == hand(4, 3) - hand(4, 2) > 0


def test_aggregate_takes_the_same_process_overhead_as_the_median_over_rounds():
    base = {"model": "mlp", "dtype": "float32", "batch": 8, "seq_len": 100, "min_s": 0, "max_s": 1}
    rows = [
        {**base, "framework": "fnnet", "median_s": 2.0},
        {**base, "framework": "jax", "median_s": 1.0},
        *({**base, "framework": harness.OVERHEAD, "ratio": r} for r in (1.3, 0.9, 1.0)),
        {**base, "framework": harness.OVERHEAD, "error": "ValueError: no ratio"},
    ]
    table = {r["framework"]: r for r in harness.aggregate(rows)}
    assert sorted(table) == ["fnnet", "jax"]  # the overhead worker adds no framework row
    assert table["fnnet"]["fnnet_over_jax_same_process"] == 1.0
    assert "fnnet_over_jax_same_process" not in table["jax"]


def test_aggregate_counts_recurrent_flops_by_hand():
    base = {"model": "lstm", "dtype": "float32", "batch": 32, "seq_len": 100, "min_s": 0, "max_s": 1}
    rows = [
        {"framework": "ceiling", "dtype": "float32", "flops_per_second": 1e11},
        {**base, "framework": "jax", "median_s": 0.01, "flops": 1.0},
    ]
    (row,) = harness.aggregate(rows)
    expected = recurrent_step_flops(peers.Spec("lstm", batch=32, seq_len=100))
    assert row["model_flops"] == expected and row["fraction_of_ceiling"] == pytest.approx(
        expected / 0.01 / 1e11
    )


def test_retain_memory_reaches_every_worker(tmp_path):
    argv = ["--quick", "--models", "mlp", "--frameworks", "jax", "--quiet", "--retain-memory"]
    saved = json.loads(pathlib.Path(run.main([*argv, "--out-dir", str(tmp_path)])["path"]).read_text())
    workers = [r for r in saved["rows"] if r["framework"] != "ceiling"]
    assert saved["machine"]["retain_freed_memory"] is True
    glibc = host_memory._mallopt() is not None  # elsewhere the call is a no-op that says so
    assert workers and all(r["retained_freed_memory"] is glibc for r in workers)


def test_quick_run_of_two_frameworks_writes_json_and_report(tmp_path):
    argv = ["--quick", "--models", "mlp", "--frameworks", "fnnet,jax", "--quiet"]
    result = run.main([*argv, "--out-dir", str(tmp_path)])
    saved = json.loads(pathlib.Path(result["path"]).read_text())
    names = {(r["framework"], r["model"]) for r in saved["table"]}
    assert names == {("fnnet", "mlp"), ("jax", "mlp")}
    assert [c["dtype"] for c in saved["ceilings"]] == ["float32"]
    assert all(r["fraction_of_ceiling"] > 0 for r in saved["table"])
    (fnnet_row,) = [r for r in saved["table"] if r["framework"] == "fnnet"]
    assert fnnet_row["fnnet_over_jax_same_process"] > 0  # the overhead worker ran both in one process
    assert saved["machine"]["platform"] and not [n for n in saved["notes"] if "error" in n]
    out = report.main(
        [result["path"], "--out", str(tmp_path / "R.md"), "--figures", str(tmp_path), "--quiet"]
    )
    text = pathlib.Path(out["out"]).read_text()
    assert "| mlp | float32 | 8 |" in text and "fnnet / jax" in text
    assert len(out["figures"]) == 2  # by framework and by batch; no recurrent rows, so no length chart
    assert all(pathlib.Path(p).stat().st_size > 0 for p in out["figures"])


@pytest.mark.slow
def test_full_quick_mode_runs_every_framework(tmp_path):
    result = run.main(["--quick", "--quiet", "--out-dir", str(tmp_path)])
    assert not [n for n in result["notes"] if n.startswith(("error", "excluded"))]
    assert {r["framework"] for r in result["table"]} >= {"jax", "flax", "haiku", "equinox", "torch"}


def test_charts_leave_out_a_chart_with_nothing_to_plot(tmp_path):
    row = {"model": "mlp", "dtype": "float32", "batch": 8, "seq_len": 100, "median_s": 1e-3}
    table = [dict(row, framework=fw, batch=b) for fw in ("fnnet", "jax") for b in (8, 128)]
    paths = report.charts({"table": table}, tmp_path, "t")
    assert sorted(p.name for p in paths) == ["t-by-batch.png", "t-by-framework.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_report_rewrites_only_its_part_of_the_results_file(tmp_path):
    out = tmp_path / "R.md"
    report.write_between_markers(out, "first")
    kept = f"{out.read_text()}\n## A closed study\n\nits figures\n"
    out.write_text(kept.replace("# Benchmark results", "# Benchmark results\n\nintro"))
    report.write_between_markers(out, "second")
    text = out.read_text()
    assert "intro" in text and text.endswith("## A closed study\n\nits figures\n")
    assert "second" in text and "first" not in text


def test_dispatch_quick_times_both_epochs_and_the_floor():
    out = dispatch.main(["--quick", "--quiet"])
    assert set(out["speedup"]) == {"mlp b8"} and out["speedup"]["mlp b8"] > 0
    assert {"adam update only", "forward+backward, sgd", "mlp b8 fit fused"} <= set(out["ms_per_step"])
    assert out["best_possible_with_adam"] == pytest.approx(
        (out["ms_per_step"]["adam update only"] + out["dispatch_ms"]) / out["ms_per_step"]["adam update only"]
    )


def test_sklearn_digits_fits_both_estimators_per_seed(tmp_path):
    pytest.importorskip("sklearn")
    out = sklearn_digits.main(["--seeds", "1", "--max-iter", "3", "--out", str(tmp_path / "d.json")])
    saved = json.loads((tmp_path / "d.json").read_text())
    assert saved["fnnet"] == out["fnnet"] and saved["sklearn"] == out["sklearn"]
    for name in ("fnnet", "sklearn"):
        assert 0 < out[name]["mean_accuracy"] <= 1 and out[name]["mean_epochs"] == 3
