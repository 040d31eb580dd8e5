"""summary(): shapes, parameter counts and bytes against hand counts."""

import fnnet as fn


def test_summary_counts_match_hand_counts():
    model = fn.Sequential(
        fn.Dense(512), fn.activations.relu, fn.Dense(512), fn.activations.relu, fn.Dense(10)
    )
    text = fn.summary(model, (784,))
    lines = text.splitlines()
    assert lines[0].split() == ["path", "layer", "output", "params", "bytes"]
    total = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert lines[-1].split() == ["total", "[10]", f"{total:,}", f"{4 * total:,}"]
    assert any(
        line.split()[:2] == ["2", "Dense(features=512)"] and f"{512 * 512 + 512:,}" in line for line in lines
    )


def test_summary_recurses_into_nested_sequentials():
    model = fn.Sequential(fn.Sequential(fn.Dense(3), fn.activations.tanh), fn.Dense(1))
    paths = [line.split()[0] for line in fn.summary(model, (2,)).splitlines()[2:-2]]
    assert paths == ["0.0", "0.1", "1"]
