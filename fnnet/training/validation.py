"""``fit``'s input checks: everything about the data that can be wrong, said before the first step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fnnet.training.epochs import check_batch_size

__all__ = ["validate"]


def validate(model, loss, x, y, batch_size: int, params=None, validation_data=None) -> None:
    """Check ``fit``'s data before training: lengths, dtypes, the batch size, shapes and labels.

    The model and loss are traced abstractly (``jax.eval_shape``) on a batch of two, so a shape
    mismatch raises the layer's ShapeError and integer labels outside ``0 .. classes - 1`` raise a
    ValueError, all before anything is compiled or run. ``validation_data`` gets the same checks.

    Args:
        model: the model.
        loss: the loss function.
        x, y: the training inputs and targets (NumPy arrays).
        batch_size: the requested batch size.
        params: the parameters to start from, or None for fresh ones (then only their shapes are used).
        validation_data: ``(x_val, y_val)`` or None.
    """
    check_batch_size(batch_size, len(x), "fit")
    in_shape = tuple(x.shape[1:])
    if params is None:
        _, params = jax.eval_shape(lambda k: model.init(k, in_shape), jax.random.key(0))
    _check_pair(model, loss, params, x, y, in_shape, ("x", "y"))
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise TypeError(
                f"fit: validation_data must be a pair (x_val, y_val), got {type(validation_data)}"
            )
        x_val, y_val = (np.asarray(a) for a in validation_data)
        if tuple(x_val.shape[1:]) != in_shape:
            raise ValueError(
                f"fit: validation x has examples of shape {list(x_val.shape[1:])} but the training x "
                f"has {list(in_shape)}; they must match"
            )
        _check_pair(model, loss, params, x_val, y_val, in_shape, ("validation x", "validation y"))


def _check_pair(model, loss, params, x, y, in_shape, names) -> None:
    if len(x) != len(y):
        raise ValueError(
            f"fit: {names[0]} has {len(x)} examples but {names[1]} has {len(y)}; they must match"
        )
    for name, arr in zip(names, (x, y), strict=True):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise TypeError(f"fit: {name} must be numeric, got dtype {arr.dtype}")

    def probe(params, xb, yb):
        out, _ = model.apply_with_state(params, model.init_state(in_shape), xb)
        return out, loss(out, yb)

    xb = jax.ShapeDtypeStruct((2, *x.shape[1:]), jnp.asarray(x[:1]).dtype)
    yb = jax.ShapeDtypeStruct((2, *y.shape[1:]), jnp.asarray(y[:1]).dtype)
    out, _ = jax.eval_shape(probe, params, xb, yb)  # raises a ShapeError naming the layer or loss
    if np.issubdtype(y.dtype, np.integer) and y.ndim == len(out.shape) - 1 and len(y):
        classes = out.shape[-1]
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise ValueError(
                f"fit: {names[1]} labels must be in 0..{classes - 1} (the model has {classes} outputs), "
                f"found {bad}"
            )
