"""``benchmarks/rnn_formulations.py`` runs end to end on a tiny grid and reports what it timed."""

import json

from benchmarks import rnn_formulations


def test_the_formulation_benchmark_times_every_worker_and_the_first_build(capsys):
    got = rnn_formulations.main(
        ["--models", "lstm,gru", "--seq-lens", "4", "--rounds", "2", "--workers", "torch,fused,onednn"]
    )
    assert got["build_s"] > 0
    assert set(got["ms"]) == {"torch", "fused", "onednn"}
    for times in got["ms"].values():
        assert set(times) == {"lstm/t4", "gru/t4"} and all(t > 0 for t in times.values())
    out = capsys.readouterr().out
    assert "oneDNN extension, first use" in out and "lstm/t4" in out and "onednn/torch" in out


def test_a_mixed_bfloat16_worker_times_the_bfloat16_step(capsys):
    for worker in ("onednn", "torch"):  # in this process: the workers the rounds start, with --dtype
        args = ["--worker", worker, "--models", "lstm", "--seq-lens", "4", "--dtype", "mixed_bfloat16"]
        assert rnn_formulations.main(args) == {}
        times = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert set(times) == {"lstm/t4"} and times["lstm/t4"] > 0
