"""Golden files pin every registered layer's parameter names, shapes and dtypes: the checkpoint format.

A checkpoint stores each leaf under ``jax.tree_util.keystr`` of its path (``['0']['kernel']``), so renaming
a parameter, reshaping it or changing its dtype makes every saved file unreadable. For each case of the
layer registry (``registry.py`` and ``cases_*.py``), ``golden/<case>.json`` holds what ``init`` and
``init_state`` return, computed with ``jax.eval_shape`` (no arrays are made)::

    {"in_shape": [5, 3], "out_shape": [5, 4],
     "params": {"['bias']": "float32[4]", "['kernel']": "float32[3, 4]"},
     "state": {...}}

The test compares the current layers with these files and names the case and the path that differ. A
deliberate change of the format (a new layer, a renamed parameter) regenerates them; review the diff of
``tests/golden/`` before committing it::

    FNNET_REGENERATE_GOLDEN=1 python -m pytest tests/test_golden_params.py

(dm-haiku pins its modules the same way in ``haiku/_src/integration/checkpoints/``.)
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import pathlib

import jax
import pytest
from registry import CASES

import fnnet as fn

GOLDEN_DIR = pathlib.Path(__file__).parent / "golden"
REGENERATE = os.environ.get("FNNET_REGENERATE_GOLDEN", "") not in ("", "0")
IDS = [c.name for c in CASES]


def _leaves(tree) -> dict:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): f"{leaf.dtype}{list(leaf.shape)}" for path, leaf in flat}


def describe_case(case) -> dict:
    """The names, shapes and dtypes ``init`` / ``init_state`` give for ``case``, without computing them."""
    out_shapes = []

    def init(key):
        out_shape, params = case.layer.init(key, case.in_shape)
        out_shapes.append(out_shape)  # static, so recorded outside the trace
        return params

    params = jax.eval_shape(init, jax.random.key(0))
    state = jax.eval_shape(lambda: case.layer.init_state(case.in_shape))
    return {
        "in_shape": list(case.in_shape),
        "out_shape": list(out_shapes[0]),
        "params": _leaves(params),
        "state": _leaves(state),
    }


def _golden_path(name: str) -> pathlib.Path:
    return GOLDEN_DIR / f"{name}.json"


def _dump(description: dict) -> str:
    """JSON with one leaf a line, so that a regenerated file's git diff names the leaves that changed."""
    lines = [f' "{k}": {json.dumps(description[k])},' for k in ("in_shape", "out_shape")]
    for tree in ("params", "state"):
        leaves = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(description[tree].items())]
        body = "{\n" + ",\n".join(leaves) + "\n }" if leaves else "{}"
        lines.append(f' "{tree}": {body}' + ("," if tree == "params" else ""))
    return "{\n" + "\n".join(lines) + "\n}\n"


def _differences(name: str, golden: dict, current: dict) -> list[str]:
    lines = []
    for field in ("in_shape", "out_shape"):
        if golden.get(field) != current[field]:
            lines.append(f"{name}: {field} was {golden.get(field)}, is now {current[field]}")
    for tree in ("params", "state"):
        old, new = golden.get(tree, {}), current[tree]
        for path in sorted(old.keys() - new.keys()):
            lines.append(f"{name}: {tree}{path} ({old[path]}) is gone")
        for path in sorted(new.keys() - old.keys()):
            lines.append(f"{name}: {tree}{path} ({new[path]}) is new")
        for path in sorted(old.keys() & new.keys()):
            if old[path] != new[path]:
                lines.append(f"{name}: {tree}{path} was {old[path]}, is now {new[path]}")
    return lines


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_parameters_match_the_golden_file(case):
    current = describe_case(case)
    path = _golden_path(case.name)
    if REGENERATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(_dump(current))
        return
    if not path.exists():
        pytest.fail(
            f"no golden file {path.name} for registry case {case.name!r}; if the case is new, run "
            "FNNET_REGENERATE_GOLDEN=1 python -m pytest tests/test_golden_params.py and commit the file"
        )
    diff = _differences(case.name, json.loads(path.read_text()), current)
    assert not diff, (
        "parameter names/shapes/dtypes changed (this breaks saved checkpoints):\n  "
        + "\n  ".join(diff)
        + "\nIf deliberate, regenerate (see this module's docstring) and say so in the CHANGELOG."
    )


def test_every_golden_file_has_a_registry_case():
    if REGENERATE:
        for path in GOLDEN_DIR.glob("*.json"):
            if path.stem not in IDS:
                path.unlink()
    orphans = sorted(p.stem for p in GOLDEN_DIR.glob("*.json") if p.stem not in IDS)
    assert not orphans, (
        f"golden files without a registry case (renamed or removed?): {orphans}; when a case is "
        "renamed, `git mv` its golden file to the new name (the parameters must not change), and "
        "regenerate only for a case whose layer configuration is really gone"
    )


def _classes_in(obj, seen=None) -> set[type]:
    """Every dataclass type reachable from ``obj`` through dataclass fields, tuples, lists and dicts."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return set()
    seen.add(id(obj))
    found = set()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        found.add(type(obj))
        for field in dataclasses.fields(obj):
            found |= _classes_in(getattr(obj, field.name), seen)
    elif isinstance(obj, tuple | list):
        for item in obj:
            found |= _classes_in(item, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            found |= _classes_in(item, seen)
    return found


def _public_layer_classes() -> set[type]:
    classes = {getattr(fn.layers, name) for name in fn.layers.__all__}
    for module in (fn, fn.unsupervised):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, fn.Layer) and obj is not fn.Layer:
                classes.add(obj)
    return {c for c in classes if inspect.isclass(c)}


def test_every_public_layer_class_is_pinned_by_a_golden_case():
    covered = set().union(*(_classes_in(case.layer) for case in CASES))
    missing = sorted(c.__name__ for c in _public_layer_classes() - covered)
    assert not missing, f"public layer classes with no registry (hence golden) case: {missing}"
    assert {fn.Sequential, fn.Parallel, fn.Residual, fn.Lambda, fn.LSTMCell} <= _public_layer_classes()
