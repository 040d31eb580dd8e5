"""Mixed precision: a ``Policy`` of parameter, compute and output dtypes, applied to a model by ``Mixed``.

``Mixed(model, "mixed_bfloat16")`` keeps the parameters in float32 (so the optimizer, its moments and the
checkpoints see float32), casts them and the floating inputs to bfloat16 inside ``apply``, runs the model and
casts its outputs to float32, so the loss is computed in float32. ``jax.grad`` differentiates through the
casts, so the gradients arrive in float32, the parameters' dtype. Every layer computes in the dtype of its
inputs and parameters, so the one wrapper sets the precision of every layer family (Dense, Conv,
ConvTranspose, the recurrent cells, Embedding) with no per-layer ``dtype`` argument; normalisation layers
(``BatchNorm``, ``LayerNorm``) compute their statistics in float32 whatever their input and keep their
running statistics in float32 (the wrapper never casts the model state). Integer inputs (tokens, lengths)
are not cast.

Policies by name (``get_policy``): ``"float32"``; ``"mixed_bfloat16"`` (float32 parameters, bfloat16
compute, float32 outputs, Keras's name); ``"mixed_float16"`` (the same with float16); ``"bfloat16"`` or
``"float16"`` (everything in that dtype); or jmp's grammar,
``"params=float32,compute=bfloat16,output=float32"`` (``p=``, ``c=``, ``o=`` for short; compute defaults to
params, output to compute).

float16 has 5 exponent bits: small gradients underflow to zero and large ones overflow. With
``loss_scale=DynamicLossScale()`` (the default for a float16 compute dtype) the training step multiplies the
loss by a scale before differentiating and divides the gradients by it; a step whose gradients are not
finite is skipped (parameters, optimizer state and batch statistics unchanged, its batch consumed) and the
scale halved, and after ``period`` finite steps in a row the scale doubles (the semantics of jmp's
``DynamicLossScale``). The scale lives in the model state, ``{"model": inner state, "loss_scale": {"scale",
"counter"}}``, so ``fit``, checkpoints and resumes carry it with no new argument; it works when the ``Mixed``
layer is the model given to ``fit`` / ``make_step_fn`` (the outermost layer).

Example:
    >>> model = Mixed(fnnet.Sequential(fnnet.Dense(8), fnnet.activations.relu, fnnet.Dense(2)))
    >>> _, params = model.init(jax.random.key(0), (4,))
    >>> params["0"]["kernel"].dtype, model.apply(params, jnp.ones((3, 4))).dtype
    (dtype('float32'), dtype('float32'))
    >>> grads = jax.grad(lambda p: model.apply(p, jnp.ones((3, 4))).sum())(params)
    >>> grads["0"]["kernel"].dtype
    dtype('float32')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.core import Array, Layer, Params, Shape, ShapeError, State, as_layer, describe

__all__ = [
    "DynamicLossScale",
    "Mixed",
    "Policy",
    "all_finite",
    "full_precision",
    "get_policy",
    "loss_scaling",
]

_NAMES = {
    "float32": "float32", "f32": "float32", "full": "float32", "float": "float32",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float16": "float16", "f16": "float16", "half": "float16",
    "float64": "float64", "f64": "float64",
}  # fmt: skip
_MIXED = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def _dtype_name(value: Any, what: str) -> str:
    """The canonical name of a floating dtype given as a name, an alias or a dtype object."""
    if isinstance(value, str) and value.lower() in _NAMES:
        return _NAMES[value.lower()]
    try:
        dtype = jnp.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating) or dtype.name not in _NAMES:
        raise ValueError(
            f"Policy: {what} must be a floating dtype (float32, bfloat16, float16 or float64), got {value!r}"
        )
    return dtype.name


def _cast_floating(tree: Any, dtype: str) -> Any:
    """``tree`` with its floating arrays (JAX or NumPy) cast to ``dtype``; the other leaves as they are."""

    def cast(leaf: Any) -> Any:
        if isinstance(leaf, jax.Array | np.ndarray) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf if leaf.dtype == dtype else jnp.asarray(leaf).astype(dtype)
        return leaf

    return jax.tree.map(cast, tree)


def full_precision(tree: Any) -> Any:
    """``tree`` with its bfloat16 and float16 arrays cast to float32 (wider floats and integers kept).

    The training step applies it to a model's outputs before the loss, so a loss is always float32 or wider.
    """

    def widen(leaf: Any) -> Any:
        is_float = isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating)
        return leaf.astype(jnp.float32) if is_float and leaf.dtype.itemsize < 4 else leaf

    return jax.tree.map(widen, tree)


@dataclasses.dataclass(frozen=True)
class Policy:
    """The dtypes of a model's parameters, of its computation and of its outputs (jmp's ``Policy``).

    Args:
        param_dtype: the dtype the parameters are stored (and optimised) in.
        compute_dtype: the dtype the layers compute in: parameters and floating inputs are cast to it.
        output_dtype: the dtype of the model's outputs.

    Each accepts a name (``"float32"``, ``"bfloat16"``, ``"bf16"``, ``"float16"``, ...) or a dtype, and is
    stored as its canonical name.
    """

    param_dtype: str = "float32"
    compute_dtype: str = "float32"
    output_dtype: str = "float32"

    def __post_init__(self) -> None:
        for name in ("param_dtype", "compute_dtype", "output_dtype"):
            object.__setattr__(self, name, _dtype_name(getattr(self, name), name))

    def cast_to_param(self, tree: Any) -> Any:
        """The floating arrays of ``tree`` in ``param_dtype``."""
        return _cast_floating(tree, self.param_dtype)

    def cast_to_compute(self, tree: Any) -> Any:
        """The floating arrays of ``tree`` in ``compute_dtype``."""
        return _cast_floating(tree, self.compute_dtype)

    def cast_to_output(self, tree: Any) -> Any:
        """The floating arrays of ``tree`` in ``output_dtype``."""
        return _cast_floating(tree, self.output_dtype)


def get_policy(name: str | Policy) -> Policy:
    """The policy ``name`` stands for (the names are in the module docstring); a Policy is returned as is.

    Raises:
        ValueError: an unknown name or dtype, or a key other than params/compute/output.
    """
    if isinstance(name, Policy):
        return name
    if not isinstance(name, str):
        raise TypeError(f"get_policy: expected a policy name such as 'mixed_bfloat16', got {name!r}")
    text = name.strip().lower()
    if text in _MIXED:
        return Policy("float32", _MIXED[text], "float32")
    if "=" not in text:
        if text not in _NAMES:
            known = ", ".join(["float32", "bfloat16", "float16", *_MIXED])
            raise ValueError(
                f"get_policy: unknown policy {name!r}; use one of {known} or 'params=...,compute=...'"
            )
        return Policy(text, text, text)
    parts: dict[str, str] = {}
    keys = {"p": "params", "c": "compute", "o": "output"}
    keys.update({v: v for v in keys.values()})
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in keys:
            raise ValueError(
                f"get_policy: unknown key {key.strip()!r} in {name!r}; use params, compute or output"
            )
        parts[keys[key.strip()]] = value.strip()
    params = parts.get("params", "float32")
    compute = parts.get("compute", params)
    return Policy(params, compute, parts.get("output", compute))


@dataclasses.dataclass(frozen=True)
class DynamicLossScale:
    """Dynamic loss scaling for float16 training (jmp's ``DynamicLossScale`` rule).

    Each step multiplies the loss by ``scale`` and divides the gradients by it. If any gradient is not finite,
    the step is skipped, ``scale`` becomes ``max(min_scale, scale / factor)`` and the counter restarts; after
    ``period`` finite steps in a row, ``scale`` becomes ``scale * factor`` (if that is finite).

    Args:
        initial_scale: the first scale (2**15, about half float16's largest value, as jmp and Keras).
        period: finite steps between increases.
        factor: the multiplier of an increase and the divisor of a decrease.
        min_scale: the scale never falls below it.

    State: ``{"scale": float32 [], "counter": int32 []}``.
    """

    initial_scale: float = 2.0**15
    period: int = 2000
    factor: float = 2.0
    min_scale: float = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.period, int) and self.period >= 1):
            raise ValueError(f"DynamicLossScale: period must be a positive int, got {self.period!r}")
        if not self.factor > 1:
            raise ValueError(f"DynamicLossScale: factor must be above 1, got {self.factor!r}")
        if not 0 < self.min_scale <= self.initial_scale < np.finfo(np.float32).max:
            raise ValueError(
                "DynamicLossScale: need 0 < min_scale <= initial_scale (a finite float32), got "
                f"min_scale={self.min_scale!r}, initial_scale={self.initial_scale!r}"
            )

    def init(self) -> State:
        """The state at the start of training."""
        return {"scale": jnp.asarray(self.initial_scale, jnp.float32), "counter": jnp.zeros((), jnp.int32)}

    def adjust(self, state: State, grads_finite: Array) -> State:
        """The state after a step whose gradients were (``grads_finite``) or were not finite."""
        scale, counter = state["scale"], state["counter"]
        grown = scale * self.factor
        at_period = counter == self.period - 1
        up = jnp.where(at_period & jnp.isfinite(grown), grown, scale)
        down = jnp.maximum(jnp.float32(self.min_scale), scale / self.factor)
        return {
            "scale": jnp.where(grads_finite, up, down).astype(jnp.float32),
            "counter": jnp.where(grads_finite, (counter + 1) % self.period, 0).astype(jnp.int32),
        }


def all_finite(tree: Any) -> Array:
    """A boolean scalar: whether every element of every array in ``tree`` is finite."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.array(True)
    return jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]).all()


@dataclasses.dataclass(frozen=True)
class Mixed(Layer):
    """A model run under a precision ``Policy``: params and floating inputs cast to the compute dtype, the
    outputs to the output dtype (details and the loss-scaling state in the module docstring).

    Args:
        layer: the model (any layer or combinator; a plain function is wrapped in a ``Lambda``).
        policy: a ``Policy`` or its name (default ``"mixed_bfloat16"``).
        loss_scale: a ``DynamicLossScale``, None for none, or ``"auto"`` (default): a ``DynamicLossScale()``
            when the compute dtype is float16, none otherwise.

    Params: the inner model's, in ``policy.param_dtype`` (float32 for the mixed policies), same names,
    so float32 parameters trained without the wrapper load into it and back.
    State: the inner model's; with loss scaling
    ``{"model": inner state, "loss_scale": {"scale", "counter"}}``.
    """

    layer: Layer
    policy: Policy | str = "mixed_bfloat16"  # a Policy once constructed
    loss_scale: DynamicLossScale | str | None = "auto"  # a DynamicLossScale or None once constructed

    def __post_init__(self) -> None:
        object.__setattr__(self, "layer", as_layer(self.layer))
        object.__setattr__(self, "policy", get_policy(self.policy))
        scale = self.loss_scale
        if isinstance(scale, str):
            if scale != "auto":
                raise ValueError(
                    f"Mixed: loss_scale must be a DynamicLossScale, None or 'auto', got {scale!r}"
                )
            scale = DynamicLossScale() if self.dtypes.compute_dtype == "float16" else None
        elif scale is not None and not isinstance(scale, DynamicLossScale):
            raise TypeError(f"Mixed: loss_scale must be a DynamicLossScale, None or 'auto', got {scale!r}")
        object.__setattr__(self, "loss_scale", scale)

    @property
    def dtypes(self) -> Policy:
        """The policy (``policy`` as a ``Policy``)."""
        return get_policy(self.policy)

    @property
    def scaler(self) -> DynamicLossScale | None:
        """The loss scale (``loss_scale`` once ``"auto"`` is resolved)."""
        return self.loss_scale if isinstance(self.loss_scale, DynamicLossScale) else None

    @property
    def has_state(self) -> bool:
        return self.layer.has_state or self.scaler is not None

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        try:
            out_shape, params = self.layer.init(key, tuple(in_shape))
        except ShapeError as err:
            raise err.within("Mixed") from None
        return out_shape, self.dtypes.cast_to_param(params)

    def init_state(self, in_shape: Shape) -> State:
        inner = self.layer.init_state(tuple(in_shape))
        return inner if self.scaler is None else {"model": inner, "loss_scale": self.scaler.init()}

    def apply(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        if self.layer.has_state:
            return super().apply(params, x, key=key, training=training)  # the base class's error
        return self.apply_with_state(params, {}, x, key=key, training=training)[0]

    def apply_with_state(
        self, params: Params, state: State, x: Array, *, key: Array | None = None, training: bool = False
    ) -> tuple[Array, State]:
        inner, scale = self.split_state(state)
        try:
            y, new_inner = self.layer.apply_with_state(
                self.dtypes.cast_to_compute(params),
                inner,
                self.dtypes.cast_to_compute(x),
                key=key,
                training=training,
            )
        except ShapeError as err:
            raise err.within("Mixed") from None
        y = self.dtypes.cast_to_output(y)
        return y, (new_inner if scale is None else {"model": new_inner, "loss_scale": scale})

    def split_state(self, state: State) -> tuple[State, State | None]:
        """``(inner model's state, loss-scale state or None)`` from this layer's state.

        Without loss scaling the state is the inner model's. With it, a stateless inner model may also be
        given ``{}`` (as ``predict`` and ``evaluate`` pass by default), which runs without a scale.
        """
        if self.scaler is None:
            return state, None
        if isinstance(state, Mapping) and "loss_scale" in state:
            return state.get("model", {}), state["loss_scale"]
        if not self.layer.has_state and isinstance(state, Mapping) and not state:
            return {}, None
        got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
        raise ShapeError(
            self, f"expected the state {{'model': ..., 'loss_scale': ...}} of init_state, got {got}"
        )

    def end_step(self, old: State, new: State, grads_finite: Array) -> State:
        """The state after a training step: ``new``'s inner state if the gradients were finite (else
        ``old``'s), and the loss scale adjusted (``DynamicLossScale.adjust``)."""
        scaler = self.scaler
        assert scaler is not None  # only the step's loss-scaling path calls it
        old_inner, scale = self.split_state(old)
        new_inner, _ = self.split_state(new)
        kept = jax.tree.map(lambda n, o: jnp.where(grads_finite, n, o), new_inner, old_inner)
        return {"model": kept, "loss_scale": scaler.adjust(scale, grads_finite)}

    def __repr__(self) -> str:
        policy = self.dtypes
        names = {v: k for k, v in _MIXED.items()}
        if policy.param_dtype == policy.output_dtype == "float32" and policy.compute_dtype in names:
            shown = repr(names[policy.compute_dtype])
        else:
            shown = repr(policy)
        scale = "" if self.scaler is None else f", loss_scale={self.scaler!r}"
        return f"Mixed({describe(self.layer)}, {shown}{scale})"


def loss_scaling(model: Layer) -> Mixed | None:
    """The ``Mixed`` model whose loss the training step scales: ``model`` itself if it is a ``Mixed`` with a
    loss scale, else None.

    Raises:
        ValueError: a ``Mixed`` with a loss scale sits inside ``model`` (the step could not find its state):
            wrap the whole model instead.
    """
    if isinstance(model, Mixed) and model.scaler is not None:
        _refuse_nested(model.layer, "Mixed")
        return model
    _refuse_nested(model, type(model).__name__)
    return None


def _refuse_nested(layer: Any, where: str) -> None:
    children: list[Any] = []
    if dataclasses.is_dataclass(layer):
        for field in dataclasses.fields(layer):
            value = getattr(layer, field.name, None)
            children += list(value) if isinstance(value, tuple) else [value]
    for child in children:
        if isinstance(child, Mixed) and child.scaler is not None:
            raise ValueError(
                f"{where} holds {child!r}, whose loss scale only the outermost layer can carry: wrap the "
                "whole model, Mixed(model, policy, loss_scale=...), and give the inner one loss_scale=None"
            )
        if isinstance(child, Layer):
            _refuse_nested(child, f"{where} > {type(child).__name__}")
