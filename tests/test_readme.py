"""The README's first Python example runs as written and does what its comments say."""

import pathlib
import re


def test_readme_example_runs(capsys):
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["logits"].shape == (len(namespace["data"].x_test), 10)
    assert namespace["result"].history["val_accuracy"][-1] > 0.9
    assert "total" in capsys.readouterr().out
