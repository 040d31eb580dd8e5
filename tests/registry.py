"""The layer registry: every layer of fnnet with a small config, driving the cross-cutting checks.

Each family adds its cases in a ``cases_<family>.py`` file beside this one, as a list ``CASES`` of
``Case``; this module collects them all, so families never edit a shared list.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pathlib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Case:
    """One layer configuration to check.

    Attributes:
        name: a unique id for the test report.
        layer: the layer.
        in_shape: the per-example input shape.
        int_inputs: for token inputs, the vocabulary size (inputs are ints below it); None for floats.
        training: apply in training mode (with a key) in the checks.
        check_grads: run the finite-difference gradient check (off for layers with discontinuities).
    """

    name: str
    layer: Any
    in_shape: tuple
    int_inputs: int | None = None
    training: bool = False
    check_grads: bool = True


def _collect() -> list[Case]:
    cases = []
    for path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases.extend(module.CASES)
    names = [c.name for c in cases]
    duplicated = {n for n in names if names.count(n) > 1}
    assert not duplicated, f"duplicate registry case names: {duplicated}"
    return cases


CASES = _collect()
