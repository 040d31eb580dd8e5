"""scikit-learn's two stochastic MLP optimisers as optax transformations (``_stochastic_optimizers.py``).

Both take the step size as an extra argument of ``update`` (``learning_rate=``) because scikit-learn
changes it between epochs (``invscaling``, ``adaptive``) without resetting the optimiser's memory, which
``optax.sgd(momentum=...)`` cannot express: scikit-learn's velocity stores ``-lr * g`` terms, so a new
step size scales only the new gradient.

SGD:  ``v <- momentum * v - lr * g``; the update is ``v`` or, with Nesterov, ``momentum * v - lr * g``.
Adam: ``m <- b1 m + (1 - b1) g``, ``s <- b2 s + (1 - b2) g^2``,
``update = -lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(s) + eps)`` (eps outside the bias correction,
unlike ``optax.adam``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class SGDState(NamedTuple):
    """Velocities, one per parameter."""

    velocity: optax.Params


class AdamState(NamedTuple):
    """The step count and the first and second moments."""

    steps: jax.Array  # not `count`, which would shadow tuple.count
    mu: optax.Params
    nu: optax.Params


def sgd(momentum: float, nesterov: bool) -> optax.GradientTransformationExtraArgs:
    """scikit-learn's ``SGDOptimizer`` update rule; ``update(grads, state, params, learning_rate=lr)``."""

    def init(params):
        return SGDState(jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None, *, learning_rate, **extra):
        del params, extra
        velocity = jax.tree.map(lambda v, g: momentum * v - learning_rate * g, state.velocity, grads)
        if nesterov:
            updates = jax.tree.map(lambda v, g: momentum * v - learning_rate * g, velocity, grads)
        else:
            updates = velocity
        return updates, SGDState(velocity)

    return optax.GradientTransformationExtraArgs(init, update)


def adam(beta_1: float, beta_2: float, epsilon: float) -> optax.GradientTransformationExtraArgs:
    """scikit-learn's ``AdamOptimizer`` update rule; ``update(grads, state, params, learning_rate=lr)``."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdamState(jnp.zeros((), jnp.int32), zeros, zeros)

    def update(grads, state, params=None, *, learning_rate, **extra):
        del params, extra
        count = state.steps + 1
        mu = jax.tree.map(lambda m, g: beta_1 * m + (1 - beta_1) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, g: beta_2 * v + (1 - beta_2) * g * g, state.nu, grads)
        t = count.astype(jnp.float32)
        step = learning_rate * jnp.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        updates = jax.tree.map(lambda m, v: -step * m / (jnp.sqrt(v) + epsilon), mu, nu)
        return updates, AdamState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init, update)
