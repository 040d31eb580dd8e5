"""Checkpoints as safetensors files: parameters for any tool, the whole TrainState for resuming.

Two kinds of file, both safetensors (``fnnet.training.tensorfile``: every byte checksummed):

- ``save_params(path, params, model=...)``: the parameters under their flattened names (``0.kernel``,
  ``1.bias``; the model's state as ``model_state.<name>``), readable by ``safetensors.numpy.load_file``
  and ``safetensors.torch.load_file``; ``load_model(path)`` rebuilds the model and its parameters
  with no user code, and ``fnnet summary PATH`` prints it.
- ``save_checkpoint(path, state, step=...)``: the whole ``TrainState`` — ``params.*``, ``opt_state.*``
  (any optax state), ``model_state.*``, ``step`` and ``key`` (typed keys as their uint32 key data).

Each carries, in the metadata entry ``fnnet``, JSON with the step, the model's config
(``fnnet.configs``; None and a reason if it holds user code), the model's repr, the user's metadata
and, for resuming, the run (batch size, data size, the key's fingerprint). ``CheckpointManager``
keeps the newest ``keep`` files of a folder; in a multi-process run only process 0 writes and the
others wait for it. Files of the first format (``FNNETCK1``) still load.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet import configs
from fnnet.training import _checkpoint_v1
from fnnet.training.tensorfile import CheckpointError, PathArg, read_metadata, read_tensors, write_tensors

__all__ = [
    "CheckpointError",
    "CheckpointManager",
    "load_checkpoint",
    "load_model",
    "load_params",
    "read_manifest",
    "save_checkpoint",
    "save_params",
]

FORMAT = 2
_NAME = re.compile(r"^ckpt_(\d{9})\.(safetensors|fnnet)$")
_STATE_PREFIX = "model_state."


def _version() -> str:
    from fnnet import __version__

    return __version__


def _entry_name(entry: Any) -> str:
    for attr in ("key", "idx", "name"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def _flatten(tree: Any, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``({dotted name: host array}, {name: prng impl})`` of a pytree's leaves."""
    arrays, keys = {}, {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = prefix + ".".join(_entry_name(e) for e in path)
        if _is_key(leaf):
            keys[name], leaf = str(jax.random.key_impl(leaf)), jax.random.key_data(leaf)
        if name in arrays:
            raise CheckpointError(f"cannot save: two leaves are both named {name!r} (a dict key holds a '.')")
        arrays[name] = _host_array(name, leaf)
    return arrays, keys


def _host_array(name: str, leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        if not leaf.is_fully_replicated:
            raise CheckpointError(f"cannot save {name}: it is sharded across processes; gather it first")
        leaf = leaf.addressable_data(0)  # replicated over processes: every copy is the same
    return np.asarray(leaf)


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _model_info(model: Any) -> dict:
    if model is None:
        return {"model": None, "model_repr": None, "model_error": "no model was given"}
    try:
        return {"model": configs.to_config(model), "model_repr": repr(model), "model_error": None}
    except configs.ConfigError as err:
        return {"model": None, "model_repr": repr(model), "model_error": str(err)}


def _write(
    path: PathArg,
    arrays: dict,
    keys: dict,
    kind: str,
    step: int,
    model: Any,
    durable: bool = True,
    **extra: Any,
) -> pathlib.Path:
    info = {
        "format": FORMAT,
        "kind": kind,
        "fnnet_version": _version(),
        "step": int(step),
        "prng_keys": keys,
        **_model_info(model),
        **extra,
    }
    return write_tensors(path, arrays, {"fnnet": json.dumps(info)}, durable=durable)


def save_params(
    path: PathArg,
    params: Any,
    *,
    model: Any = None,
    model_state: Any = None,
    step: int = 0,
    metadata: dict | None = None,
    durable: bool = True,
) -> pathlib.Path:
    """Write a model's parameters (and its state) as a safetensors file other tools read, atomically.

    Args:
        path: the file to write (``.safetensors``); its folder must exist.
        params: the parameters, nested dicts of arrays (names must not contain ``.``).
        model: the model; its config is stored so ``load_model`` can rebuild it.
        model_state: the model's state (batch statistics), stored as ``model_state.<name>``.
        step: the training step, recorded in the metadata.
        metadata: extra JSON-serialisable data.
        durable: fsync the file and its folder, so that a power loss keeps it (a killed process
            never leaves a partial file either way).

    Returns:
        The path written.
    """
    arrays, keys = _flatten(params)
    if any(name.startswith(_STATE_PREFIX) for name in arrays):
        raise CheckpointError(
            f"cannot save {path}: a parameter is named {_STATE_PREFIX}..., which is reserved"
        )
    state_arrays, state_keys = _flatten(model_state or {}, _STATE_PREFIX)
    empty = [n for n in _empty_dicts(params, "") if n]
    empty += [_STATE_PREFIX + n for n in _empty_dicts(model_state or {}, "") if n]
    return _write(
        path,
        {**arrays, **state_arrays},
        {**keys, **state_keys},
        "params",
        step,
        model,
        durable,
        metadata=metadata or {},
        empty_dicts=empty,
    )


def _empty_dicts(tree: Any, prefix: str) -> list[str]:
    """The dotted names of the empty dicts in nested dicts (a Lambda's ``{}``), which have no leaves."""
    if not isinstance(tree, dict):
        return []
    if not tree:
        return [prefix[:-1]]
    return [name for key, sub in tree.items() for name in _empty_dicts(sub, f"{prefix}{key}.")]


def _insert(tree: dict, name: str, value: Any) -> None:
    *parents, leaf = name.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def load_params(path: PathArg) -> tuple[dict, dict, dict]:
    """``(params, model_state, manifest)`` from a ``save_params`` file: nested dicts of NumPy arrays.

    Raises:
        CheckpointError: the file is damaged or is not an fnnet parameters file.
    """
    path = pathlib.Path(path)
    arrays, info = _read_fnnet(path)
    if info.get("kind") != "params":
        raise CheckpointError(f"{path} holds a {info.get('kind')!r}, not parameters (use load_checkpoint)")
    trees: dict[str, dict] = {"params": {}, "state": {}}
    entries = [(name, {}) for name in info.get("empty_dicts", [])] + list(arrays.items())
    for name, value in sorted(entries, key=lambda entry: entry[0]):
        if name.startswith(_STATE_PREFIX):
            _insert(trees["state"], name[len(_STATE_PREFIX) :], value)
        elif name:
            _insert(trees["params"], name, value)
    return trees["params"], trees["state"], info


def load_model(path: PathArg) -> tuple[Any, dict, dict]:
    """``(model, params, model_state)`` rebuilt from a ``save_params`` file, with no user code.

    The parameters are checked against the rebuilt model (names and shapes, as every ``apply`` does).

    Raises:
        CheckpointError: the file is damaged, holds no model config (the message says why it was
            not stored), or its parameters do not fit the model.
    """
    path = pathlib.Path(path)
    params, state, info = load_params(path)
    if info.get("model") is None:
        raise CheckpointError(f"{path} holds no model config: {info.get('model_error')}")
    try:
        model = configs.from_config(info["model"])
    except configs.ConfigError as err:
        raise CheckpointError(f"{path}: cannot rebuild the model: {err}") from None
    return model, params, state


def save_checkpoint(
    path: PathArg,
    state: Any,
    *,
    step: int,
    model: Any = None,
    metadata: dict | None = None,
    run: dict | None = None,
) -> pathlib.Path:
    """Write ``state`` (any pytree of arrays, e.g. a TrainState) to ``path`` atomically.

    Args:
        path: the file to write; its folder must exist.
        state: a pytree of arrays (params, optimizer state, model state, step, key).
        step: the training step, recorded in the metadata.
        model: the model; its config (or, for user code, its repr) is stored.
        metadata: extra JSON-serialisable data (e.g. the training history).
        run: what a resume must match (``Checkpoint`` stores batch size, data size, key fingerprint).

    Returns:
        The path written.
    """
    arrays, keys = _flatten(state)
    return _write(path, arrays, keys, "train_state", step, model, metadata=metadata or {}, run=run)


def read_manifest(path: PathArg) -> dict:
    """The fnnet metadata of a checkpoint (step, model, run, user metadata), its header checked."""
    path = pathlib.Path(path)
    if _checkpoint_v1.is_v1(path):
        return _checkpoint_v1.read(path)[1]
    return _info(path, read_metadata(path))


def _info(path: pathlib.Path, metadata: dict[str, str]) -> dict:
    try:
        info = json.loads(metadata["fnnet"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: its fnnet metadata is missing or corrupted ({err})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown fnnet checkpoint format {info!r:.80}")
    return info


def _read_fnnet(path: pathlib.Path) -> tuple[dict[str, Any], dict]:
    arrays, metadata = read_tensors(path)
    info = _info(path, metadata)
    for name, impl in info.get("prng_keys", {}).items():
        try:
            arrays[name] = jax.random.wrap_key_data(jnp.asarray(arrays[name]), impl=impl)
        except Exception as err:  # an unknown impl or a key data shape it refuses
            raise CheckpointError(f"{path}: the key {name} cannot be rebuilt ({err})") from None
    return arrays, info


def load_checkpoint(path: PathArg, template: Any = None) -> tuple[Any, dict]:
    """Read a checkpoint, verify it and rebuild the state.

    Args:
        path: the checkpoint file (this format or the first, ``FNNETCK1``).
        template: a pytree with the structure, shapes and dtypes of the saved state (e.g. a fresh
            TrainState from ``init_train_state``). Without it, a flat ``{name: array}`` dict.

    Returns:
        ``(state, manifest)``.

    Raises:
        CheckpointError: the file is truncated or corrupted, or its tree does not match
            ``template``: a missing or extra leaf, or a leaf whose shape or dtype differs (the
            message names the first differing leaf and both shapes or dtypes).
    """
    path = pathlib.Path(path)
    if _checkpoint_v1.is_v1(path):
        arrays, info = _checkpoint_v1.read(path)
        names: Callable[[Any], str] = jax.tree_util.keystr
    else:
        arrays, info = _read_fnnet(path)
        names = lambda p: ".".join(_entry_name(e) for e in p)  # noqa: E731
    if template is None:
        return arrays, info
    return _unflatten(path, template, arrays, names), info


def _unflatten(path: pathlib.Path, template: Any, arrays: dict[str, Any], names: Any) -> Any:
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    expected = [(names(p), leaf) for p, leaf in flat]
    for name, leaf in expected:
        if name not in arrays:
            raise CheckpointError(f"{path} does not match the model: it has no leaf {name}")
        saved = arrays[name]
        shapes = (_shape(saved), _shape(leaf))
        if shapes[0] != shapes[1]:
            raise CheckpointError(
                f"{path} does not match the model at {name}: the file has shape "
                f"{shapes[0]}, the model {shapes[1]}"
            )
        dtypes = (_dtype_name(saved), _dtype_name(leaf))
        if dtypes[0] != dtypes[1]:
            raise CheckpointError(
                f"{path} does not match the model at {name}: the file has dtype "
                f"{dtypes[0]}, the model {dtypes[1]}"
            )
    if extra := sorted(set(arrays) - {name for name, _ in expected}):
        raise CheckpointError(f"{path} does not match the model: the file has an extra leaf {extra[0]}")
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(arrays[name]) for name, _ in expected])


def _shape(leaf: Any) -> tuple:
    return tuple(np.shape(jax.random.key_data(leaf)) if _is_key(leaf) else np.shape(leaf))


def _dtype_name(leaf: Any) -> str:
    """``float32``, ``bfloat16``, ... or ``key<threefry2x32>`` for a typed ``jax.random`` key."""
    if _is_key(leaf):
        return f"key<{jax.random.key_impl(leaf)}>"
    return np.dtype(leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype).name


@dataclasses.dataclass
class CheckpointManager:
    """A folder of checkpoints ``ckpt_<step>.safetensors`` that keeps the newest ``keep``.

    In a multi-process run (``jax.distributed``) every process calls ``save`` with the same
    (replicated) state: process 0 writes and deletes, the others wait until it has, so a restore
    that follows sees the file on every process (the folder must be shared between them).

    Args:
        directory: the folder (created if needed).
        keep: how many checkpoints to keep; older ones are deleted after each successful save.
    """

    directory: PathArg
    keep: int = 3

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"CheckpointManager: keep must be at least 1, got {self.keep}")
        self.directory = pathlib.Path(self.directory)
        self._folder.mkdir(parents=True, exist_ok=True)

    @property
    def _folder(self) -> pathlib.Path:
        # `directory` is a pathlib.Path after __post_init__; its declared type is what the caller may pass
        return pathlib.Path(self.directory)

    def steps(self) -> list[int]:
        """The steps of the checkpoints on disk, oldest first."""
        found = (_NAME.match(p.name) for p in self._folder.iterdir())
        return sorted({int(m.group(1)) for m in found if m})

    def path(self, step: int) -> pathlib.Path:
        """The file of the checkpoint at ``step`` (a first-format ``.fnnet`` file if only that exists)."""
        path = self._folder / f"ckpt_{step:09d}.safetensors"
        legacy = path.with_suffix(".fnnet")
        return legacy if legacy.exists() and not path.exists() else path

    def save(
        self,
        state: Any,
        *,
        step: int,
        model: Any = None,
        metadata: dict | None = None,
        run: dict | None = None,
    ) -> pathlib.Path:
        """Save ``state`` as the checkpoint of ``step`` and delete all but the newest ``keep``.

        A folder has one writer: temporary files left by a save that was killed are removed here
        (never by readers, which may look at the folder while the writer is saving).
        """
        path = self._folder / f"ckpt_{step:09d}.safetensors"
        if jax.process_index() == 0:
            for stale in self._folder.glob(".ckpt_*.tmp"):
                stale.unlink(missing_ok=True)
            save_checkpoint(path, state, step=step, model=model, metadata=metadata, run=run)
            for old in self.steps()[: -self.keep]:
                self.path(old).unlink(missing_ok=True)
        else:
            _flatten(state)  # the same checks as the writer's, so every process fails alike
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"fnnet checkpoint {step}")
        return path

    def latest(self) -> int | None:
        """The newest step on disk, or None."""
        steps = self.steps()
        return steps[-1] if steps else None

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict] | None:
        """``(state, manifest)`` of the checkpoint at ``step`` (default the newest), or None."""
        step = self.latest() if step is None else step
        if step is None:
            return None
        return load_checkpoint(self.path(step), template)
