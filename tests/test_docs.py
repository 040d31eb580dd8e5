"""The documentation cannot drift from the code: the API reference (pdoc) builds from the docstrings of every
public module with no warning, its index (``fnnet/__init__.py``'s docstring) follows the README's order, and
every ``>>>`` example in fnnet's docstrings runs under doctest with the output it shows."""

import doctest
import importlib
import pathlib
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet

ROOT = pathlib.Path(__file__).resolve().parents[1]


def public_modules() -> list[str]:
    """Every module of fnnet whose dotted name has no ``_``-prefixed part (packages included)."""
    names = []
    for path in sorted((ROOT / "fnnet").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(p.startswith("_") for p in parts):
            names.append(".".join(parts))
    return names


def build_reference(out: pathlib.Path) -> list[str]:
    """Build the HTML reference of every public module into ``out``; return pdoc's warnings."""
    pdoc = pytest.importorskip("pdoc", reason="pdoc is in the [test] extra")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # pdoc walks fnnet's submodules but skips those a package's __all__ leaves out (interop.sklearn,
        # imported on its own): name each of those too, once
        specs = ["fnnet"]
        while missing := [m for m in public_modules() if m not in pdoc.extract.walk_specs(specs)]:
            specs.append(missing[0])
        pdoc.pdoc(*specs, output_directory=out)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    return out, build_reference(out)


def test_reference_builds_without_warnings(reference):
    _, caught = reference
    assert not caught, "\n".join(caught)


def test_reference_has_a_page_per_public_module(reference):
    out, _ = reference
    missing = [m for m in public_modules() if not (out / (m.replace(".", "/") + ".html")).is_file()]
    assert not missing
    assert "MLPClassifier" in (out / "fnnet/interop/sklearn.html").read_text()
    callbacks = (out / "fnnet/training/callbacks.html").read_text()
    assert all(name in callbacks for name in ("Checkpoint", "EarlyStopping", "Callback"))
    assert "CSVLogger" in (out / "fnnet/training/metric_logs.html").read_text()


def _index_modules() -> list[str]:
    """The modules the index (``fnnet``'s docstring) names, in order of first mention."""
    seen: list[str] = []
    for name in re.findall(r"``(fnnet(?:\.\w+)*)``", fnnet.__doc__ or ""):
        if name not in seen:
            seen.append(name)
    return seen


def test_index_names_every_public_module():
    listed = set(_index_modules())
    assert not [m for m in public_modules() if m != "fnnet" and m not in listed]


def test_index_follows_the_readme():
    """Modules the README names appear in the index in the order of the README's first mention."""
    readme = (ROOT / "README.md").read_text()
    positions = {}
    for name in _index_modules():
        match = re.search(re.escape(name) + r"(?![\w.])", readme)
        if match:
            positions[name] = match.start()
    assert len(positions) >= 8, positions  # the README names most namespaces
    in_index = list(positions)
    assert in_index == sorted(in_index, key=positions.get), in_index


FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def run_examples(module) -> tuple[int, str]:
    """Run the ``>>>`` examples of ``module``'s docstrings; return (examples run, report of failures)."""
    globs = {"jax": jax, "jnp": jnp, "np": np, "fnnet": fnnet, "fn": fnnet, **vars(module)}
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    examples = 0
    for test in finder.find(module, module.__name__, globs=globs):
        examples += len(test.examples)
        runner.run(test, out=report.append)
    return examples, "".join(report)


@pytest.mark.parametrize("name", public_modules())
def test_docstring_examples_run(name):
    _, report = run_examples(importlib.import_module(name))
    assert not report, report


def test_the_examples_exist_and_a_drifted_one_fails():
    total = sum(run_examples(importlib.import_module(m))[0] for m in public_modules())
    assert total >= 20
    drifted = type(fnnet)("drifted")
    drifted.__doc__ = ">>> fn.Dense(3).init(jax.random.key(0), (5,))[0]\n(4,)\n"
    examples, report = run_examples(drifted)
    assert examples == 1 and "Expected:\n    (4,)\nGot:\n    (3,)" in report
