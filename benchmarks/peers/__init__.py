"""The same architectures in every framework the suite compares; ``build(framework, spec)``."""

from __future__ import annotations

import importlib
import importlib.util

from benchmarks.peers.common import MODELS, POLICIES, Built, Spec, blocking_step, compiled_step, make_data

FRAMEWORKS = ("fnnet", "jax", "flax", "haiku", "equinox", "torch")
_REQUIRES = {"flax": "flax", "haiku": "haiku", "equinox": "equinox", "torch": "torch"}
# the peers with a mixed-precision row: fnnet.precision.Mixed, a cast in the hand-written step, autocast
POLICY_PEERS = ("fnnet", "jax", "torch")

__all__ = [
    "FRAMEWORKS",
    "MODELS",
    "POLICIES",
    "POLICY_PEERS",
    "Built",
    "Skipped",
    "Spec",
    "blocking_step",
    "build",
    "compiled_step",
    "make_data",
]


class Skipped(Exception):  # noqa: N818 (a note, not an error)
    """A peer that cannot be built here (its framework is not installed, or it has no row for a
    precision policy); the message says why."""


def build(framework: str, spec: Spec, abstract: bool = False) -> Built:
    """Build ``spec`` in ``framework``; raise Skipped with a note if its framework is not installed.

    ``abstract=True`` finds only the parameter count and output shape (cheap: for the parity check).
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; choose from {FRAMEWORKS}")
    package = _REQUIRES.get(framework)
    if package is not None and importlib.util.find_spec(package) is None:
        raise Skipped(f"{framework}: {package} is not installed")
    if spec.dtype in POLICIES and framework not in POLICY_PEERS:
        raise Skipped(f"{framework}: no {spec.dtype} peer is written (only {', '.join(POLICY_PEERS)})")
    return importlib.import_module(f"benchmarks.peers.{framework}_models").build(spec, abstract)
