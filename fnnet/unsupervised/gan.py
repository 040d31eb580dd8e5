"""A generative adversarial network as one functional step with two optax optimisers.

The generator ``G`` maps latent noise ``z: [B, latent_size]`` to samples shaped like the data; the
discriminator ``D`` maps a sample to one logit ``[B, 1]`` (real vs generated). One step:

1. ``d_key, g_key, next_key = jax.random.split(state.key, 3)``; ``z_d = latent_noise(d_key, B, L)``.
2. Discriminator update on ``L_D = bce(D(x), 1 - label_smoothing) + bce(D(G(z_d)), 0)``.
3. Generator update with the *updated* discriminator on the non-saturating loss
   ``L_G = bce(D(G(z_g)), 1)``, ``z_g = latent_noise(g_key, B, L)``.

``bce`` is ``fnnet.losses.binary_cross_entropy_with_logits``. Both networks must be stateless; they get
``training=True`` and keys folded from ``d_key``/``g_key`` (so dropout works).
"""

# No `from __future__ import annotations` here: the NamedTuple's field types must be objects, not strings,
# for the API reference (pdoc) to resolve them.

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fnnet.core import Array, Layer, Params, ShapeError, format_shape
from fnnet.losses import binary_cross_entropy_with_logits as bce

__all__ = [
    "GANState",
    "discriminator_loss",
    "generator_loss",
    "init_gan_state",
    "latent_noise",
    "make_gan_step",
    "sample_generator",
]


class GANState(NamedTuple):
    """Everything a GAN step changes, as one pytree.

    Attributes:
        generator: the generator's params.
        discriminator: the discriminator's params.
        generator_opt_state: the generator optimiser's state.
        discriminator_opt_state: the discriminator optimiser's state.
        step: steps taken, an int32 scalar.
        key: the key the next step splits its noise from.
    """

    generator: Any
    discriminator: Any
    generator_opt_state: Any
    discriminator_opt_state: Any
    step: jax.Array
    key: jax.Array


def latent_noise(key: jax.Array, batch: int, latent_size: int) -> jax.Array:
    """Standard normal latent codes ``[batch, latent_size]``."""
    return jax.random.normal(key, (batch, latent_size))


def _check_stateless(generator: Layer, discriminator: Layer) -> None:
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        if net.has_state:
            raise ValueError(f"GAN: the {name} {net!r} carries state (batch statistics); use a stateless one")


def init_gan_state(
    generator: Layer,
    discriminator: Layer,
    generator_optimizer: optax.GradientTransformation,
    discriminator_optimizer: optax.GradientTransformation,
    key: jax.Array,
    latent_size: int,
    data_shape: tuple[int, ...],
) -> GANState:
    """Initialise both networks and optimisers; check ``G: [L] -> data_shape`` and ``D: data_shape -> [1]``.

    Args:
        generator: the generator.
        discriminator: the discriminator (one logit per example).
        generator_optimizer: optax optimiser of the generator.
        discriminator_optimizer: optax optimiser of the discriminator.
        key: a ``jax.random`` key.
        latent_size: L, the size of the latent code.
        data_shape: the per-example shape of the data.

    Returns:
        A GANState at step 0.
    """
    _check_stateless(generator, discriminator)
    g_key, d_key, train_key = jax.random.split(key, 3)
    g_shape, g_params = generator.init(g_key, (latent_size,))
    if tuple(g_shape) != tuple(data_shape):
        raise ShapeError(
            generator,
            f"the generator maps [{latent_size}] to {format_shape(g_shape)}, "
            f"but the data are {format_shape(data_shape)}",
        )
    d_shape, d_params = discriminator.init(d_key, tuple(data_shape))
    if tuple(d_shape) != (1,):
        raise ShapeError(
            discriminator, f"the discriminator must output one logit [1], got {format_shape(d_shape)}"
        )
    return GANState(
        generator=g_params,
        discriminator=d_params,
        generator_opt_state=generator_optimizer.init(g_params),
        discriminator_opt_state=discriminator_optimizer.init(d_params),
        step=jnp.zeros((), jnp.int32),
        key=train_key,
    )


def discriminator_loss(
    generator: Layer,
    discriminator: Layer,
    g_params: Params,
    d_params: Params,
    real: Array,
    z: Array,
    *,
    key: Array | None = None,
    label_smoothing: float = 0.0,
) -> tuple[Array, dict[str, Array]]:
    """``bce(D(real), 1 - label_smoothing) + bce(D(G(z)), 0)`` and the mean D probabilities.

    Args:
        generator: the generator.
        discriminator: the discriminator.
        g_params: generator params (not differentiated here).
        d_params: discriminator params.
        real: a batch of data ``[B, *data_shape]``.
        z: latent codes ``[B, L]``.
        key: a key for layers that draw random numbers (training mode); None for deterministic nets.
        label_smoothing: one-sided smoothing of the real label.

    Returns:
        ``(loss, {"d_real": mean D(real) probability, "d_fake": mean D(G(z)) probability})``.
    """
    keys: list[Array | None] = [None] * 3 if key is None else list(jax.random.split(key, 3))
    training = key is not None
    fake = jax.lax.stop_gradient(generator.apply(g_params, z, key=keys[0], training=training))
    real_logits = discriminator.apply(d_params, real, key=keys[1], training=training)
    fake_logits = discriminator.apply(d_params, fake, key=keys[2], training=training)
    loss = bce(real_logits, jnp.full_like(real_logits, 1.0 - label_smoothing)) + bce(
        fake_logits, jnp.zeros_like(fake_logits)
    )
    probs = {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return loss, probs


def generator_loss(
    generator: Layer,
    discriminator: Layer,
    g_params: Params,
    d_params: Params,
    z: Array,
    *,
    key: Array | None = None,
) -> Array:
    """The non-saturating generator loss ``bce(D(G(z)), 1) = -mean(log D(G(z)))``.

    Args:
        generator: the generator.
        discriminator: the discriminator.
        g_params: generator params (differentiated).
        d_params: discriminator params.
        z: latent codes ``[B, L]``.
        key: a key for layers that draw random numbers; None for deterministic nets.

    Returns:
        A scalar.
    """
    keys: list[Array | None] = [None, None] if key is None else list(jax.random.split(key))
    training = key is not None
    fake = generator.apply(g_params, z, key=keys[0], training=training)
    logits = discriminator.apply(d_params, fake, key=keys[1], training=training)
    return bce(logits, jnp.ones_like(logits))


def make_gan_step(
    generator: Layer,
    discriminator: Layer,
    generator_optimizer: optax.GradientTransformation,
    discriminator_optimizer: optax.GradientTransformation,
    latent_size: int,
    label_smoothing: float = 0.0,
) -> Callable[[GANState, Array], tuple[GANState, dict[str, Array]]]:
    """The un-jitted step ``step(state, real) -> (state, logs)`` (jit it, or scan it with make_epoch_fn).

    Why this is not ``fnnet.training.step_from_grad``: that builder updates one parameter pytree with
    one optimizer from one gradient. A GAN step is two updates in sequence, each with its own optimizer
    and state, and the generator's gradient is taken against the discriminator's parameters *after*
    the discriminator's update — so it cannot be one ``grad_fn`` of one ``TrainState``.

    Args:
        generator: the generator ``[..., L] -> [..., *data_shape]``.
        discriminator: the discriminator ``[..., *data_shape] -> [..., 1]`` (a logit).
        generator_optimizer: optax optimiser of the generator.
        discriminator_optimizer: optax optimiser of the discriminator.
        latent_size: L.
        label_smoothing: one-sided label smoothing of real examples (0.1 is common).

    Returns:
        The step; its logs are ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean probabilities
        the discriminator gives real and generated examples before its update).
    """
    _check_stateless(generator, discriminator)

    def step(state: GANState, real: Array) -> tuple[GANState, dict[str, Array]]:
        d_key, g_key, next_key = jax.random.split(state.key, 3)
        batch = real.shape[0]
        z_d = latent_noise(d_key, batch, latent_size)

        def d_objective(d_params: Params) -> tuple[Array, dict[str, Array]]:
            return discriminator_loss(
                generator,
                discriminator,
                state.generator,
                d_params,
                real,
                z_d,
                key=jax.random.fold_in(d_key, 1),
                label_smoothing=label_smoothing,
            )

        (d_loss, probs), d_grads = jax.value_and_grad(d_objective, has_aux=True)(state.discriminator)
        d_updates, d_opt_state = discriminator_optimizer.update(
            d_grads, state.discriminator_opt_state, state.discriminator
        )
        d_params = optax.apply_updates(state.discriminator, d_updates)

        z_g = latent_noise(g_key, batch, latent_size)

        def g_objective(g_params: Params) -> Array:
            return generator_loss(
                generator, discriminator, g_params, d_params, z_g, key=jax.random.fold_in(g_key, 1)
            )

        g_loss, g_grads = jax.value_and_grad(g_objective)(state.generator)
        g_updates, g_opt_state = generator_optimizer.update(
            g_grads, state.generator_opt_state, state.generator
        )
        new_state = GANState(
            generator=optax.apply_updates(state.generator, g_updates),
            discriminator=d_params,
            generator_opt_state=g_opt_state,
            discriminator_opt_state=d_opt_state,
            step=state.step + 1,
            key=next_key,
        )
        return new_state, {"d_loss": d_loss, "g_loss": g_loss, **probs}

    return step


def sample_generator(
    generator: Layer, g_params: Params, key: jax.Array, n: int, latent_size: int
) -> jax.Array:
    """``n`` samples ``G(z)`` in evaluation mode, ``z = latent_noise(key, n, latent_size)``."""
    return generator.apply(g_params, latent_noise(key, n, latent_size))
