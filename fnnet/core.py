"""The layer protocol: immutable configs with pure `init` and `apply`.

A layer is a frozen (hence hashable) dataclass that holds hyper-parameters only. Its two pure methods:

* ``init(key, in_shape) -> (out_shape, params)`` takes the *per-example* input shape (no batch axis),
  pushes it forward and returns the output shape with freshly initialised parameters, a nested dict of
  arrays with stable names.
* ``apply(params, x, *, key=None, training=False) -> y`` accepts any number of leading batch axes.

Layers with mutable state (batch statistics) also define ``init_state(in_shape) -> state`` and
``apply_with_state(params, state, x, *, key=None, training=False) -> (y, new_state)``. Every layer has
both methods, so a training loop can always call ``apply_with_state`` while a model without state is
still just ``model.apply(params, x)``. A stateless layer's state is ``{}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

Shape = tuple[int, ...]
Params = Any  # a nested dict of arrays
State = Any  # a nested dict of arrays; {} for stateless layers
Array = jax.Array


class ShapeError(ValueError):
    """A layer was given an input (or config) whose shape it cannot take.

    The message names the layer, its path inside the model, what it expected and what it got. Combinators
    catch the error of a child and re-raise it with the child's position prepended to ``path``.
    """

    def __init__(self, layer: Any, message: str, path: tuple[str, ...] = ()) -> None:
        self.layer = layer
        self.detail = message
        self.path = path
        where = " > ".join(path) if path else "model"
        super().__init__(f"{where}: {_short_repr(layer)}: {message}")

    def within(self, step: str) -> ShapeError:
        """The same error, one level deeper inside a combinator (``step`` like ``'[2]'``)."""
        return ShapeError(self.layer, self.detail, (step, *self.path))


def describe(layer: Any) -> str:
    """A short description of a layer: its class and the fields that differ from their defaults."""
    if isinstance(layer, str) or not dataclasses.is_dataclass(layer):
        return layer if isinstance(layer, str) else repr(layer)
    if not _dataclass_repr(layer):
        return repr(layer)
    parts = []
    for field in dataclasses.fields(layer):
        value = getattr(layer, field.name)
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        if value is not default and value != default:
            parts.append(f"{field.name}={getattr(value, '__name__', None) or repr(value)}")
    return f"{type(layer).__name__}({', '.join(parts)})"


def _dataclass_repr(layer: Any) -> bool:
    code = getattr(type(layer).__repr__, "__code__", None)
    return code is not None and (
        code.co_filename == "<string>" or code.co_filename.endswith("dataclasses.py")
    )


def _short_repr(layer: Any) -> str:
    text = describe(layer)
    return text if len(text) <= 80 else text[:77] + "..."


def format_shape(shape: tuple[int | str, ...]) -> str:
    """Render a shape as ``[a, b, c]`` for error messages (a str entry, like ``"T"``, as itself)."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


_DTYPE_ARGUMENTS = frozenset({"dtype", "param_dtype", "compute_dtype"})


@dataclasses.dataclass(frozen=True)
class Layer:
    """Base class of every fnnet layer (a frozen dataclass of hyper-parameters).

    Subclasses override ``init`` and either ``apply`` (stateless layers) or ``apply_with_state``
    (stateful layers and combinators); each default is written in terms of the other.

    A layer takes no ``dtype``: precision is a policy over a whole model, ``fnnet.precision.Mixed(model,
    "mixed_bfloat16")``, so ``Dense(dtype=...)`` is a TypeError that says so.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """Refuse per-layer dtype arguments with a pointer to ``fnnet.precision.Mixed``."""
        for name in _DTYPE_ARGUMENTS & kwargs.keys():
            field_names = (
                {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
            )
            if name not in field_names:
                raise TypeError(
                    f"{cls.__name__} takes no {name}: fnnet sets precision for a whole model with "
                    f'fnnet.precision.Mixed(model, "mixed_bfloat16") (float32 parameters, bfloat16 compute)'
                )
        return super().__new__(cls)

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        """Initialise parameters for a per-example input of shape ``in_shape``.

        Args:
            key: a ``jax.random`` key.
            in_shape: the input shape without any batch axis.

        Returns:
            ``(out_shape, params)``: the per-example output shape and a nested dict of arrays.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define init")

    def init_state(self, in_shape: Shape) -> State:
        """Initial mutable state (batch statistics); ``{}`` for a stateless layer.

        Args:
            in_shape: the input shape without any batch axis.

        Returns:
            A nested dict of arrays.
        """
        del in_shape
        return {}

    @property
    def has_state(self) -> bool:
        """Whether this layer (or any layer inside it) carries mutable state."""
        return False

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        """Run the layer on ``x`` (any leading batch axes) and return its output.

        Args:
            params: the parameters ``init`` returned.
            x: the input, ``[..., *in_shape]``.
            key: a ``jax.random`` key, needed only by layers that draw random numbers when training.
            training: whether the model is being trained (dropout active, batch statistics used).

        Returns:
            The output, ``[..., *out_shape]``.
        """
        if self.has_state:
            raise TypeError(
                f"{_short_repr(self)} carries state (batch statistics): call "
                "apply_with_state(params, state, x, ...) with the state from init_state"
            )
        y, _ = self.apply_with_state(params, {}, x, key=key, training=training)
        return y

    def apply_with_state(
        self,
        params: Params,
        state: State,
        x: Array,
        *,
        key: Array | None = None,
        training: bool = False,
    ) -> tuple[Array, State]:
        """Run the layer and return ``(y, new_state)``; stateless layers return ``state`` unchanged.

        Args:
            params: the parameters ``init`` returned.
            state: the state ``init_state`` returned (or the one a previous call returned).
            x: the input, ``[..., *in_shape]``.
            key: a ``jax.random`` key for layers that draw random numbers when training.
            training: whether the model is being trained.

        Returns:
            ``(y, new_state)``.
        """
        if type(self).apply is Layer.apply:
            raise NotImplementedError(f"{type(self).__name__} defines neither apply nor apply_with_state")
        return self.apply(params, x, key=key, training=training), state


def check_input(layer: Layer, x: Array, expected_tail: Shape, what: str = "input") -> None:
    """Raise ShapeError unless ``x`` ends with the dimensions ``expected_tail``.

    Args:
        layer: the layer doing the check (named in the message).
        x: the array given to the layer.
        expected_tail: the per-example shape the layer was initialised for.
        what: what ``x`` is, for the message.
    """
    shape = tuple(x.shape)
    n = len(expected_tail)
    if len(shape) < n or shape[len(shape) - n :] != tuple(expected_tail):
        raise ShapeError(
            layer,
            f"expected {what} of shape [..., {format_shape(expected_tail)[1:-1]}] "
            f"(any leading batch axes), got {format_shape(shape)}",
        )


def check_params(
    layer: Layer,
    params: Params,
    expected: dict,
    x: Array | None = None,
    *,
    implied_input: Callable[[Params], tuple[int | str, ...]] | None = None,
    what: str = "input",
) -> None:
    """Raise ShapeError unless ``params`` has exactly the names and shapes the config implies.

    Every layer's ``apply`` calls it; it reads static shapes only, so a jitted program is unchanged.

    Args:
        layer: the layer doing the check (named in the message).
        params: the parameters the layer was given.
        expected: the names and shapes the config implies for this input, a nested dict whose
            leaves are shapes, or None for a child's params (checked by the child); ``{}``: no params.
        x: the input, quoted in the message.
        implied_input: ``params -> the input tail they were made for`` (a str entry matches any
            size); when a shape differs and ``x`` does not end with it, the input is named first.
        what: what ``x`` is, for the message.
    """
    _check_names(layer, params, expected, ())
    wrong = _first_wrong_shape(params, expected, ())
    if wrong is None:
        return
    name, got, want = wrong
    found = f"parameter {name} " + ("is not an array" if got is None else f"has shape {format_shape(got)}")
    try:
        tail = None if implied_input is None or got is None else tuple(implied_input(params))
    except (IndexError, TypeError, AttributeError):  # params too broken to imply an input
        tail = None
    if x is not None and tail is not None and not _ends_with(tuple(x.shape), tail):
        raise ShapeError(
            layer,
            f"expected {what} of shape [..., {format_shape(tail)[1:-1]}] (any leading batch axes), got "
            f"{format_shape(x.shape)}; {found}, for this input it would be {format_shape(want)}",
        )
    context = "" if x is None else f" for an input of shape {format_shape(x.shape)}"
    raise ShapeError(layer, f"{found}, expected {format_shape(want)}{context}")


def _check_names(layer: Layer, params: Params, expected: dict, path: tuple[str, ...]) -> None:
    here = "/".join(path)
    names = f"expected {sorted(expected)}" if expected or path else "it has no parameters: pass {}"
    if not isinstance(params, Mapping):
        what = f"parameters '{here}'" if path else "parameters"
        raise ShapeError(layer, f"{what} must be a dict ({names}), got {type(params).__name__}")
    prefix = here + "/" if path else ""
    missing, extra = sorted(set(expected) - set(params)), sorted(map(str, set(params) - set(expected)))
    if missing:
        raise ShapeError(layer, f"parameter '{prefix}{missing[0]}' is missing ({names})")
    if extra:
        raise ShapeError(layer, f"unexpected parameter '{prefix}{extra[0]}' ({names})")
    for name, want in expected.items():
        if isinstance(want, dict):
            _check_names(layer, params[name], want, (*path, name))


def _first_wrong_shape(
    params: Params, expected: dict, path: tuple[str, ...]
) -> tuple[str, Shape | None, Shape] | None:
    """``('name', given shape or None for a non-array, expected shape)`` of the first mismatch, or None."""
    for name, want in expected.items():
        if isinstance(want, dict):
            wrong = _first_wrong_shape(params[name], want, (*path, name))
        elif want is not None:
            got = getattr(params[name], "shape", None)
            got = None if got is None else tuple(got)
            wrong = None if got == tuple(want) else ("'" + "/".join((*path, name)) + "'", got, tuple(want))
        if want is not None and wrong is not None:
            return wrong
    return None


def _ends_with(shape: Shape, tail: tuple) -> bool:
    start = len(shape) - len(tail)
    return start >= 0 and all(isinstance(t, str) or shape[start + i] == t for i, t in enumerate(tail))


def kernel_and_bias_shapes(layer: Any, kernel_shape: Shape) -> dict:
    """The shapes ``init_kernel_and_bias`` gives: ``{"kernel": kernel_shape, "bias": [features]}``."""
    return {"kernel": tuple(kernel_shape), **({"bias": (kernel_shape[-1],)} if layer.use_bias else {})}


def init_kernel_and_bias(layer: Any, key: Array, kernel_shape: Shape) -> Params:
    """``{"kernel": ..., "bias": ...}`` from a layer's ``kernel_init``, ``bias_init`` and ``use_bias``.

    The bias has the kernel's last axis (``features``); kernel and bias get independent keys.

    Args:
        layer: a layer with ``kernel_init``, ``bias_init`` and ``use_bias`` fields.
        key: a ``jax.random`` key.
        kernel_shape: the kernel's shape, output features last.

    Returns:
        The parameter dict (no ``"bias"`` when ``use_bias`` is false).
    """
    kernel_key, bias_key = jax.random.split(key)
    params = {"kernel": layer.kernel_init(kernel_key, tuple(kernel_shape), jnp.float32)}
    if layer.use_bias:
        params["bias"] = layer.bias_init(bias_key, (kernel_shape[-1],), jnp.float32)
    return params


def add_trailing(x: Array, b: Array) -> Array:
    """``x + b`` where ``b`` matches the trailing axes of ``x``, with the broadcast made explicit.

    Keeps fnnet clean under ``jax_numpy_rank_promotion="raise"``.
    """
    return x + b.reshape((1,) * (x.ndim - b.ndim) + tuple(b.shape))


def batch_shape(x: Array, example_rank: int) -> Shape:
    """The leading (batch) axes of ``x`` for a layer whose examples have rank ``example_rank``."""
    return tuple(x.shape[: x.ndim - example_rank])


@dataclasses.dataclass(frozen=True)
class Lambda(Layer):
    """A parameter-free layer from a plain function applied to each batch: ``y = fn(x, **kwargs)``.

    Any callable passed to a combinator (``Sequential(Dense(10), relu)``) is wrapped in a Lambda. The
    output shape is found by tracing ``fn`` abstractly, so shape-changing functions work too.

    Args:
        fn: a function of one array; it must treat every leading axis as a batch axis.
        kwargs: keyword arguments for ``fn`` as a tuple of ``(name, value)`` pairs (hashable).
    """

    fn: Callable[..., Array]
    kwargs: tuple[tuple[str, Any], ...] = ()

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        del key
        out = jax.eval_shape(self._call, jax.ShapeDtypeStruct((1, *in_shape), jnp.float32))
        return tuple(out.shape[1:]), {}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        del key, training
        check_params(self, params, {})
        return self._call(x)

    def _call(self, x: Array) -> Array:
        return self.fn(x, **dict(self.kwargs))

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs)
        return f"Lambda({name}{args})"


def as_layer(obj: Any) -> Layer:
    """Return ``obj`` if it is a Layer, wrap a callable in a ``Lambda``, else raise TypeError."""
    if isinstance(obj, Layer):
        return obj
    if callable(obj):
        return Lambda(obj)
    raise TypeError(f"expected a fnnet Layer or a function, got {type(obj).__name__}: {obj!r}")
