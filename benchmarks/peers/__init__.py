"""The same architectures in every framework the suite compares; ``build(framework, spec)``."""

from __future__ import annotations

import importlib

from peers.common import MODELS, Built, Spec, blocking_step, compiled_step, make_data  # noqa: F401 (re-exported)

FRAMEWORKS = ("fnnet", "jax", "flax", "haiku", "equinox", "torch")
JAX_FRAMEWORKS = ("fnnet", "jax", "flax", "haiku", "equinox")
_REQUIRES = {"flax": "flax", "haiku": "haiku", "equinox": "equinox", "torch": "torch"}

__all__ = [
    "FRAMEWORKS",
    "JAX_FRAMEWORKS",
    "MODELS",
    "Built",
    "Skipped",
    "Spec",
    "build",
    "make_data",
]


class Skipped(Exception):  # noqa: N818 (a note, not an error)
    """A peer that cannot be built here (not installed, or fnnet lacks the layers).

    The message says why.
    """


def build(framework: str, spec: Spec, abstract: bool = False) -> Built:
    """Build ``spec`` in ``framework``; raise Skipped with a note if that is impossible here.

    ``abstract=True`` finds only the parameter count and output shape (cheap: for the parity check).
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; choose from {FRAMEWORKS}")
    package = _REQUIRES.get(framework)
    if package is not None and importlib.util.find_spec(package) is None:
        raise Skipped(f"{framework}: {package} is not installed")
    module = importlib.import_module(f"peers.{framework}_models")
    try:
        return module.build(spec, abstract)
    except AttributeError as err:
        if framework != "fnnet":
            raise
        raise Skipped(f"fnnet {spec.model}: this fnnet lacks a layer ({err})") from None
