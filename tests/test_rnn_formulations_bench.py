"""``benchmarks/rnn_formulations.py`` runs end to end on a tiny grid and reports what it timed."""

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
