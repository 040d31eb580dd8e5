"""Model configs as JSON: a model is rebuilt from its file, with no user code.

A layer is a frozen dataclass of hyper-parameters, so its config is its type's name and its fields::

    >>> import fnnet as fn
    >>> config = fn.configs.to_config(fn.Sequential(fn.Dense(4), fn.activations.relu, fn.Dense(2)))
    >>> config["type"], config["fields"]["layers"][1]["fields"]["fn"]
    ('Sequential', {'function': 'fnnet.activations.relu'})
    >>> fn.configs.from_config(config) == fn.Sequential(fn.Dense(4), fn.activations.relu, fn.Dense(2))
    True

Only registered types are rebuilt (fnnet's layers, cells and initializers, and the classes a user
passes to ``register``), and a function only if it is one of ``fnnet.activations`` or ``jax.nn``: a
file never names code to import. A ``Lambda`` of other code cannot be saved; ``to_config`` says to
register a layer class instead.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["ConfigError", "diff", "from_config", "register", "to_config"]

_FNNET_MODULES = (
    "fnnet.core",
    "fnnet.combinators",
    "fnnet.initializers",
    "fnnet.layers.cells",
    "fnnet.layers.conv",
    "fnnet.layers.dense",
    "fnnet.layers.dropout",
    "fnnet.layers.embedding",
    "fnnet.layers.noise",
    "fnnet.layers.normalization",
    "fnnet.layers.pool",
    "fnnet.layers.recurrent",
    "fnnet.layers.reshape",
    "fnnet.precision",
    "fnnet.unsupervised.autoencoder",
    "fnnet.unsupervised.rbm",
)
_types: dict[str, type] = {}
_functions: dict[str, Callable] = {}


class ConfigError(ValueError):
    """A model cannot be written as a config, or a config does not describe a model fnnet can rebuild."""


def register(cls: type) -> type:
    """Make a dataclass layer type (or anything a layer holds) savable; usable as a class decorator.

    Its config name is ``module.QualName``; loading a file that names it needs the class registered
    again (importing the module that defines it).
    """
    if not (inspect.isclass(cls) and dataclasses.is_dataclass(cls)):
        raise ConfigError(f"register: expected a dataclass type, got {cls!r}")
    _registry()[_type_name(cls)] = cls
    return cls


def _registry() -> dict[str, type]:
    if not _types:
        for module_name in _FNNET_MODULES:
            module = importlib.import_module(module_name)
            for name, obj in vars(module).items():
                if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module_name:
                    if not name.startswith("_"):
                        _types[name] = obj
    return _types


def _function_registry() -> dict[str, Callable]:
    if not _functions:
        from fnnet import activations

        for module, prefix in ((activations, "fnnet.activations"), (jax.nn, "jax.nn")):
            for name in getattr(module, "__all__", dir(module)):
                obj = getattr(module, name, None)
                if callable(obj) and not inspect.isclass(obj) and not name.startswith("_"):
                    _functions.setdefault(f"{prefix}.{name}", obj)
    return _functions


def _type_name(cls: type) -> str:
    return cls.__name__ if cls.__module__.startswith("fnnet.") else f"{cls.__module__}.{cls.__qualname__}"


def to_config(obj: Any) -> Any:
    """The JSON-serialisable config of a model (any registered dataclass and the values it holds).

    Raises:
        ConfigError: the model holds something that cannot be rebuilt from a file: a ``Lambda`` of a
            function outside ``fnnet.activations`` / ``jax.nn``, an unregistered class, or another
            object; the message names where in the model it is.
    """
    return _encode(obj, "model")


def _encode(obj: Any, where: str) -> Any:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else {"float": repr(obj)}
    if isinstance(obj, tuple | list):
        return [_encode(item, f"{where}[{i}]") for i, item in enumerate(obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        name = _type_name(type(obj))
        if _registry().get(name) is not type(obj):
            raise ConfigError(
                f"{where}: {type(obj).__qualname__} is not a registered type, so a file cannot rebuild it; "
                "decorate the class with @fnnet.configs.register"
            )
        fields = {f.name: _encode(getattr(obj, f.name), f"{where}.{f.name}") for f in dataclasses.fields(obj)}
        return {"type": name, "fields": fields}
    if callable(obj):
        for name, fn in _function_registry().items():
            if fn is obj:
                return {"function": name}
        raise ConfigError(
            f"{where}: the function {getattr(obj, '__qualname__', obj)!r} is user code, which a file cannot "
            "hold; use a function of fnnet.activations or jax.nn, or write the layer as a dataclass "
            "registered with @fnnet.configs.register"
        )
    raise ConfigError(f"{where}: cannot store a {type(obj).__name__} ({obj!r}) in a model config")


def from_config(config: Any) -> Any:
    """Rebuild the model (or value) that ``to_config`` described.

    Raises:
        ConfigError: the config names an unknown type or function, a field the type does not have,
            or values the type refuses; the message names where.
    """
    return _decode(config, "model")


def _decode(config: Any, where: str) -> Any:
    if config is None or isinstance(config, bool | int | float | str):
        return config
    if isinstance(config, list):
        return tuple(_decode(item, f"{where}[{i}]") for i, item in enumerate(config))
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: unexpected {type(config).__name__} in a model config")
    if set(config) == {"float"} and config["float"] in ("nan", "inf", "-inf"):
        return float(config["float"])
    if set(config) == {"function"}:
        fn = _function_registry().get(config["function"]) if isinstance(config["function"], str) else None
        if fn is None:
            raise ConfigError(f"{where}: unknown function {config['function']!r}")
        return fn
    if set(config) != {"type", "fields"} or not isinstance(config["fields"], dict):
        raise ConfigError(f"{where}: a config entry must be {{'type', 'fields'}}, got keys {sorted(config)}")
    cls = _registry().get(config["type"]) if isinstance(config["type"], str) else None
    if cls is None:
        raise ConfigError(
            f"{where}: unknown type {config['type']!r} (a class of your own must be registered with "
            "@fnnet.configs.register before loading)"
        )
    known = {f.name for f in dataclasses.fields(cls)}
    if unknown := sorted(set(config["fields"]) - known):
        raise ConfigError(f"{where}: {cls.__name__} has no field {unknown[0]!r}")
    fields = {name: _decode(value, f"{where}.{name}") for name, value in config["fields"].items()}
    try:
        if "layers" in fields and _takes_varargs(cls):  # Sequential(*layers), Parallel(*layers, merge=...)
            return cls(*fields.pop("layers"), **fields)
        return cls(**fields)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {cls.__name__} refuses these fields: {err}") from None


def _takes_varargs(cls: type) -> bool:
    parameters = inspect.signature(cls).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def diff(a: Any, b: Any, where: str = "model") -> str | None:
    """Where two configs first differ, in words (``model.layers[1].fn: 'relu' vs 'tanh'``), or None."""
    if isinstance(a, dict) and isinstance(b, dict) and "function" not in a and "function" not in b:
        if a.get("type") != b.get("type") and "type" in a:
            return f"{where}: {a.get('type')} vs {b.get('type')}"
        inner_a, inner_b = a.get("fields", a), b.get("fields", b)
        for key in sorted(set(inner_a) | set(inner_b)):
            if key not in inner_a or key not in inner_b:
                return f"{where}.{key}: present in only one"
            if found := diff(inner_a[key], inner_b[key], f"{where}.{key}"):
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} vs {len(b)} entries"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := diff(x, y, f"{where}[{i}]"))), None)
    return None if a == b else f"{where}: {_short(a)} vs {_short(b)}"


def _short(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"function"}:
        return repr(value["function"].rsplit(".", 1)[-1])
    return repr(value)
