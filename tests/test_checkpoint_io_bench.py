"""benchmarks/checkpoint_io.py runs (at a small width) and prints every job's median and each ratio."""

import re

from benchmarks import checkpoint_io


def test_the_checkpoint_benchmark_times_fnnet_against_safetensors_and_orbax(tmp_path, capsys):
    checkpoint_io.main(["--width", "16", "--rounds", "1", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert re.search(r"0\.0 M parameters, 1 rounds", out), out
    for job in ("fnnet save params", "safetensors save_file", "orbax save state", "fnnet restore state"):
        assert re.search(rf"  {re.escape(job)} +\d+\.\d", out), job
    assert len(re.findall(r" / .*: \d+\.\d\dx", out)) == 5
    assert list(tmp_path.iterdir()) == []  # the scratch folder is removed
