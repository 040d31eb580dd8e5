"""Checkpoint speed: fnnet's safetensors files against the safetensors library and orbax-checkpoint.

    python -m benchmarks.checkpoint_io [--width 4096] [--rounds 5] [--dir /tmp]

An MLP of about 18 M parameters (256 -> width -> width -> 10 with the defaults), trained one Adam
step so the optimizer state is real. Interleaved rounds, medians printed (milliseconds):

- parameters: ``fnnet.training.checkpoint.save_params`` / ``load_params`` against
  ``safetensors.numpy.save_file`` / ``load_file`` on the same NumPy arrays under the same names;
- the whole TrainState: ``save_checkpoint`` / ``load_checkpoint`` against orbax's
  ``StandardCheckpointer`` ``save`` (+ ``wait_until_finished``) / ``restore``, both to JAX arrays.

fnnet's save fsyncs the file and its folder (a kill or power loss keeps the previous checkpoint);
the safetensors library's ``save_file`` does not, so the table also shows ``save_params(...,
durable=False)``, which skips it, to compare like with like.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import tempfile
import time

import jax
import numpy as np
import optax

import fnnet as fn
from fnnet.training import checkpoint

DEFAULTS = {"width": 4096, "rounds": 5, "dir": tempfile.gettempdir()}


def training_state(width: int) -> tuple[fn.Layer, fn.TrainState]:
    """The model and its TrainState one Adam step in."""
    model = fn.Sequential(
        fn.Dense(width), fn.activations.relu, fn.Dense(width), fn.activations.relu, fn.Dense(10)
    )
    state = fn.init_train_state(model, optax.adam(1e-3), jax.random.key(0), (256,))
    step = fn.make_train_step(model, fn.losses.softmax_cross_entropy, optax.adam(1e-3), donate=False)
    x = np.random.RandomState(0).randn(8, 256).astype(np.float32)
    return model, step(state, (x, np.zeros(8, np.int32)))[0]


def timed(fn_: object) -> float:
    started = time.perf_counter()
    out = fn_()  # type: ignore[operator]
    jax.block_until_ready(jax.tree.leaves(out) if out is not None else None)
    return (time.perf_counter() - started) * 1e3


def main(argv: list[str] | None = None) -> None:
    """Time every job of the module docstring, interleaved, and print the medians and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=DEFAULTS["width"])
    parser.add_argument("--rounds", type=int, default=DEFAULTS["rounds"])
    parser.add_argument("--dir", default=DEFAULTS["dir"])
    args = parser.parse_args(argv)

    import orbax.checkpoint as ocp
    import safetensors.numpy

    model, state = training_state(args.width)
    params = jax.tree.map(np.asarray, state.params)
    named = checkpoint._flatten(params)[0]  # the same arrays under the same names for the library
    count = sum(a.size for a in named.values())
    folder = pathlib.Path(tempfile.mkdtemp(dir=args.dir))
    orbax = ocp.StandardCheckpointer()
    template = state  # structure, shapes and dtypes only
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
    jobs = {
        "fnnet save params": lambda: checkpoint.save_params(folder / "p.safetensors", params, model=model),
        "fnnet save params (no fsync)": lambda: checkpoint.save_params(
            folder / "p.safetensors", params, model=model, durable=False
        ),
        "safetensors save_file": lambda: safetensors.numpy.save_file(named, folder / "s.safetensors"),
        "fnnet load params": lambda: checkpoint.load_params(folder / "p.safetensors")[0],
        "safetensors load_file": lambda: safetensors.numpy.load_file(folder / "s.safetensors"),
        "fnnet save state": lambda: checkpoint.save_checkpoint(
            folder / "c.safetensors", state, step=1, model=model
        ),
        "orbax save state": lambda: _orbax_save(orbax, folder / "orbax", state),
        "fnnet restore state": lambda: checkpoint.load_checkpoint(folder / "c.safetensors", template)[0],
        "orbax restore state": lambda: orbax.restore(folder / "orbax", abstract),
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.rounds + 1):  # the first round warms up caches and is dropped
        for name, job in jobs.items():
            times[name].append(timed(job))
    print(
        f"{count / 1e6:.1f} M parameters, {args.rounds} rounds, medians in ms ({jax.devices()[0].platform})"
    )
    medians = {name: statistics.median(values[1:]) for name, values in times.items()}
    for name, value in medians.items():
        print(f"  {name:30s} {value:8.1f}")
    for ours, theirs in (
        ("fnnet save params", "safetensors save_file"),
        ("fnnet save params (no fsync)", "safetensors save_file"),
        ("fnnet load params", "safetensors load_file"),
        ("fnnet save state", "orbax save state"),
        ("fnnet restore state", "orbax restore state"),
    ):
        print(f"  {ours} / {theirs}: {medians[ours] / medians[theirs]:.2f}x")
    shutil.rmtree(folder)


def _orbax_save(orbax: object, path: pathlib.Path, state: object) -> None:
    if path.exists():
        shutil.rmtree(path)
    orbax.save(path, state)  # type: ignore[attr-defined]
    orbax.wait_until_finished()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
