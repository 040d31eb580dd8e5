"""summary(): shapes, trainable / non-trainable counts and bytes against hand counts; the table's text."""

import fnnet as fn
from fnnet.core import describe


def _footer(text):
    """The three count lines under the table, as {label: int}."""
    out = {}
    for line in text.splitlines():
        if ":" in line and line.split(":")[0].endswith("params"):
            label, value = line.split(":", 1)
            out[label] = int(value.split()[0].replace(",", ""))
    return out


def test_dense_stack_counts_match_hand_counts():
    model = fn.Sequential(
        fn.Dense(512), fn.activations.relu, fn.Dense(512), fn.activations.relu, fn.Dense(10)
    )
    text = fn.summary(model, (784,))
    lines = text.splitlines()
    assert lines[0].split() == ["path", "layer", "output", "params", "state", "bytes"]
    total = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert _footer(text) == {"total params": total, "trainable params": total, "non-trainable params": 0}
    total_row = next(line for line in lines if line.startswith("total "))
    assert total_row.split() == ["total", "[10]", f"{total:,}", "0", f"{4 * total:,}"]
    assert any(
        line.split()[:2] == ["2", "Dense(features=512)"] and f"{512 * 512 + 512:,}" in line for line in lines
    )


def test_batchnorm_residual_parallel_counts_match_hand_counts():
    model = fn.Sequential(
        fn.Dense(8),  # 4*8 + 8 = 40
        fn.BatchNorm(),  # scale, offset: 16 trainable; running mean, var: 16 state
        fn.Residual(fn.Dense(8), fn.activations.relu),  # 8*8 + 8 = 72
        fn.Parallel(fn.Dense(3), fn.Sequential(fn.Dense(5), fn.BatchNorm())),  # 27; 45 + 10, 10 state
        fn.Dense(2),  # (3 + 5)*2 + 2 = 18
    )
    text = fn.summary(model, (4,))
    trainable = 40 + 16 + 72 + 27 + 45 + 10 + 18
    state = 16 + 10
    assert _footer(text) == {
        "total params": trainable + state,
        "trainable params": trainable,
        "non-trainable params": state,
    }
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:] if line[:1].isdigit()}
    # every nested combinator is expanded: its row, then its children's, paths = the params' keys
    assert list(rows) == ["0", "1", "2", "2.0", "2.0.0", "2.0.1", "3", "3.0", "3.1", "3.1.0", "3.1.1", "4"]
    assert rows["1"] == ["BatchNorm()", "[8]", "16", "16", f"{4 * 32}"]
    assert rows["2"] == ["Residual", "[8]"]
    assert rows["2.0.0"] == ["Dense(features=8)", "[8]", "72", f"{4 * 72}"]
    assert rows["3"] == ["Parallel(merge='concat')", "[8]"]
    assert rows["3.1.1"] == ["BatchNorm()", "[5]", "10", "10", "80"]
    # children are indented under their combinator
    layer_col = text.splitlines()[0].index("layer")
    indent = {
        line.split()[0]: len(line[layer_col:]) - len(line[layer_col:].lstrip())
        for line in text.splitlines()[2:]
        if line[:1].isdigit()
    }
    assert [indent[p] for p in ("2", "2.0", "2.0.0", "3.1", "3.1.1")] == [0, 2, 4, 2, 4]


def test_exact_table_of_a_small_model():
    model = fn.Sequential(fn.Dense(3), fn.Residual(fn.Dense(3)), fn.BatchNorm())
    expected = "\n".join(
        [
            "path   layer                output  params  state  bytes",
            "-----  -------------------  ------  ------  -----  -----",
            "0      Dense(features=3)    [3]          9            36",
            "1      Residual             [3]",
            "1.0      Dense(features=3)  [3]         12            48",
            "2      BatchNorm()          [3]          6      6     48",
            "-----  -------------------  ------  ------  -----  -----",
            "total                       [3]         27      6    132",
            "",
            "total params: 33",
            "trainable params: 27",
            "non-trainable params: 6 (state: running statistics, not trained by the optimizer)",
        ]
    )
    assert fn.summary(model, (2,)) == expected


def test_long_configs_wrap_at_argument_boundaries_never_mid_word():
    conv = fn.Conv(16, (3, 3), strides=(2, 2), padding="VALID", use_bias=False)
    text = fn.summary(fn.Sequential(conv, fn.Flatten(), fn.Dense(4)), (9, 9, 3))
    lines = text.splitlines()
    start = lines[0].index("layer")
    end = lines[0].index("output")
    first = next(i for i, line in enumerate(lines) if line.startswith("0 "))
    cells = [lines[first][start:end].strip()]
    for line in lines[first + 1 :]:
        if line[:start].strip():  # the next row (or the rule) has something in the path column
            break
        cells.append(line[start:end].strip())
    assert len(cells) > 1, text  # long enough to wrap
    assert "..." not in text
    assert " ".join(cells) == describe(conv)
    for cell in cells[:-1]:
        assert cell.endswith(","), cells  # each break falls after an argument
    assert all(len(line[start:end].rstrip()) <= 48 for line in lines)


def test_top_level_layer_and_nested_sequentials():
    model = fn.Sequential(fn.Sequential(fn.Dense(3), fn.activations.tanh), fn.Dense(1))
    paths = [line.split()[0] for line in fn.summary(model, (2,)).splitlines()[2:] if line[:1].isdigit()]
    assert paths == ["0", "0.0", "0.1", "1"]
    single = fn.summary(fn.Dense(5), (2,))
    assert _footer(single) == {"total params": 15, "trainable params": 15, "non-trainable params": 0}
