"""Autoencoders: an ``Autoencoder`` layer (encoder then decoder) and builders for dense and conv ones.

An autoencoder is an ordinary fnnet model trained to reproduce its input, ``fnnet.fit(model, mse, opt,
x, x)``. The denoising variant puts a noise layer (``GaussianNoise`` or ``MaskingNoise``) at the start of
the encoder: it corrupts the input only when training, so the loss compares the reconstruction of a
corrupted input with the clean one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax

from fnnet.activations import identity, relu, sigmoid
from fnnet.combinators import Sequential
from fnnet.core import (
    Array,
    Lambda,
    Layer,
    Params,
    Shape,
    ShapeError,
    State,
    as_layer,
    check_params,
    format_shape,
)
from fnnet.layers.conv import Conv, ConvTranspose
from fnnet.layers.dense import Dense

__all__ = ["Autoencoder", "conv_autoencoder", "dense_autoencoder", "flatten_trailing", "unflatten_trailing"]


@dataclasses.dataclass(frozen=True)
class Autoencoder(Layer):
    """``y = decoder(encoder(x))``, where the decoder must map the code back to the input's shape.

    Args:
        encoder: a layer (or function) mapping ``[..., *in_shape]`` to the code ``[..., *code_shape]``.
        decoder: a layer (or function) mapping the code back to ``[..., *in_shape]``.

    Params: ``{"encoder": params of the encoder, "decoder": params of the decoder}``.
    State: the same two keys, present only for a part that has state.
    """

    encoder: Layer
    decoder: Layer

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", as_layer(self.encoder))
        object.__setattr__(self, "decoder", as_layer(self.decoder))

    @property
    def has_state(self) -> bool:
        return self.encoder.has_state or self.decoder.has_state

    def code_shape(self, in_shape: Shape) -> Shape:
        """The per-example shape of the code for per-example inputs ``in_shape``."""
        holder: list[Shape] = []
        jax.eval_shape(lambda k: holder.append(self._init_part("encoder", k, in_shape)[0]), jax.random.key(0))
        return holder[0]

    def _init_part(self, name: str, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        try:
            return getattr(self, name).init(key, tuple(in_shape))
        except ShapeError as err:
            raise err.within(f"Autoencoder.{name}") from None

    def init(self, key: Array, in_shape: Shape) -> tuple[Shape, Params]:
        encoder_key, decoder_key = jax.random.split(key)
        code_shape, encoder_params = self._init_part("encoder", encoder_key, in_shape)
        out_shape, decoder_params = self._init_part("decoder", decoder_key, code_shape)
        if tuple(out_shape) != tuple(in_shape):
            raise ShapeError(
                self,
                f"the decoder maps the code {format_shape(code_shape)} to {format_shape(out_shape)}; "
                f"an autoencoder must reconstruct the input shape {format_shape(in_shape)}",
            )
        return tuple(in_shape), {"encoder": encoder_params, "decoder": decoder_params}

    def init_state(self, in_shape: Shape) -> State:
        state: dict[str, State] = {}
        if self.encoder.has_state:
            state["encoder"] = self.encoder.init_state(tuple(in_shape))
        if self.decoder.has_state:
            state["decoder"] = self.decoder.init_state(self.code_shape(in_shape))
        return state

    def _run(
        self, name: str, params: Params, state: State, x: Array, key: Array | None, training: bool
    ) -> tuple[Array, State]:
        try:
            return getattr(self, name).apply_with_state(
                params[name], state.get(name, {}), x, key=key, training=training
            )
        except ShapeError as err:
            raise err.within(f"Autoencoder.{name}") from None

    def apply_with_state(
        self, params: Params, state: State, x: Array, *, key: Array | None = None, training: bool = False
    ) -> tuple[Array, State]:
        check_params(self, params, {"encoder": None, "decoder": None})  # each part checks its own
        keys = (None, None) if key is None else tuple(jax.random.split(key))
        code, encoder_state = self._run("encoder", params, state, x, keys[0], training)
        y, decoder_state = self._run("decoder", params, state, code, keys[1], training)
        new_state: dict[str, State] = {}
        if self.encoder.has_state:
            new_state["encoder"] = encoder_state
        if self.decoder.has_state:
            new_state["decoder"] = decoder_state
        return y, new_state

    def encode(self, params: Params, x: Array, *, key: Array | None = None, training: bool = False) -> Array:
        """The code of ``x``: ``[..., *in_shape] -> [..., *code_shape]`` (evaluation mode by default)."""
        return self._run("encoder", params, {}, x, key, training)[0]

    def decode(
        self, params: Params, code: Array, *, key: Array | None = None, training: bool = False
    ) -> Array:
        """The reconstruction from a code: ``[..., *code_shape] -> [..., *in_shape]``."""
        return self._run("decoder", params, {}, code, key, training)[0]


def flatten_trailing(x: Array, axes: int = 3) -> Array:
    """Merge the last ``axes`` axes into one: ``[..., H, W, C] -> [..., H*W*C]`` for ``axes=3``."""
    return x.reshape(*x.shape[: x.ndim - axes], math.prod(x.shape[x.ndim - axes :]))


def unflatten_trailing(x: Array, shape: Shape = ()) -> Array:
    """Split the last axis into ``shape``: ``[..., prod(shape)] -> [..., *shape]``."""
    return x.reshape(*x.shape[:-1], *shape)


def dense_autoencoder(
    features: int,
    code_size: int,
    hidden: tuple[int, ...] = (256,),
    *,
    activation: Callable[[Array], Array] = relu,
    code_activation: Callable[[Array], Array] = identity,
    output_activation: Callable[[Array], Array] = sigmoid,
    noise: Layer | None = None,
) -> Autoencoder:
    """A fully connected autoencoder ``features -> hidden... -> code_size -> ...reversed hidden -> features``.

    Args:
        features: the input size (784 for flattened MNIST).
        code_size: the size of the code (2 for a plot, 32 to compare with 32 principal components).
        hidden: hidden layer sizes of the encoder; the decoder mirrors them.
        activation: the hidden layers' activation.
        code_activation: the activation of the code layer (identity: a linear code).
        output_activation: the reconstruction's activation (sigmoid for pixels in [0, 1]).
        noise: a corruption layer put first in the encoder (``GaussianNoise(0.3)``) for a denoising
            autoencoder; it acts only when training.

    Returns:
        An Autoencoder on inputs ``[..., features]``.
    """
    encoder: list[Layer | Callable[[Array], Array]] = [] if noise is None else [noise]
    for size in hidden:
        encoder += [Dense(size), activation]
    encoder += [Dense(code_size), code_activation]
    decoder: list[Layer | Callable[[Array], Array]] = []
    for size in reversed(hidden):
        decoder += [Dense(size), activation]
    decoder += [Dense(features), output_activation]
    return Autoencoder(Sequential(*encoder), Sequential(*decoder))


def conv_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    channels: tuple[int, int] = (16, 32),
    *,
    noise: Layer | None = None,
) -> Autoencoder:
    """A convolutional autoencoder: two stride-2 ``Conv`` down, a dense code, two ``ConvTranspose`` up.

    ``[H, W, C] -> Conv(c1, 3x3, /2) -> Conv(c2, 3x3, /2) -> Dense(code) -> Dense -> [H/4, W/4, c2]
    -> ConvTranspose(c1, 3x3, x2) -> ConvTranspose(C, 3x3, x2) -> sigmoid``; H and W must be divisible
    by 4.

    Args:
        image_shape: ``(H, W, C)`` of the images (NHWC).
        code_size: the size of the code.
        channels: the channels of the two convolutions.
        noise: an optional corruption layer put first (denoising variant).

    Returns:
        An Autoencoder on inputs ``[..., H, W, C]``.

    Raises:
        ValueError: H or W is not divisible by 4.
    """
    height, width, depth = image_shape
    if height % 4 or width % 4:
        raise ValueError(f"conv_autoencoder: H and W must be divisible by 4, got {image_shape}")
    small = (height // 4, width // 4, channels[1])
    encoder: list[Layer | Callable[[Array], Array]] = [] if noise is None else [noise]
    encoder += [
        Conv(channels[0], (3, 3), strides=2, padding="SAME"),
        relu,
        Conv(channels[1], (3, 3), strides=2, padding="SAME"),
        relu,
        Lambda(flatten_trailing, (("axes", 3),)),  # [..., H/4 * W/4 * c2]
        Dense(code_size),
    ]
    decoder: list[Layer | Callable[[Array], Array]] = [
        Dense(math.prod(small)),
        relu,
        Lambda(unflatten_trailing, (("shape", small),)),  # [..., H/4, W/4, c2]
        ConvTranspose(channels[0], (3, 3), 2, "SAME"),
        relu,
        ConvTranspose(depth, (3, 3), 2, "SAME"),
        sigmoid,
    ]
    return Autoencoder(Sequential(*encoder), Sequential(*decoder))
