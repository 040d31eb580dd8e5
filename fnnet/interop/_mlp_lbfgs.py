"""``solver="lbfgs"``: scikit-learn's full-batch L-BFGS with ``optax.lbfgs`` in one jitted while loop.

scikit-learn runs SciPy's L-BFGS-B (memory 10) with ``maxiter=max_iter``, ``maxfun=max_fun`` and
``gtol=tol``; this is ``optax.lbfgs`` (memory 10, a zoom line search for the strong Wolfe conditions)
with the same stopping rules: at most ``max_iter`` iterations, at most ``max_fun`` evaluations of the
objective (each line-search step is one), and convergence when the largest gradient entry is at most
``tol`` or the objective's relative decrease is at most SciPy's ``ftol`` (``2.22e-9``, which in
float32 means "no longer decreases"). The objective is the full-data one of ``_mlp_solver.objective``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import optax

from fnnet.interop import _mlp_solver

FTOL = 2.220446049250313e-09  # SciPy's L-BFGS-B default (factr = 1e7 times float64 epsilon)
MAX_LINESEARCH_STEPS = 20  # SciPy's line search also gives up after 20 evaluations


_Carry = tuple[_mlp_solver.LayerParams, optax.OptState, jax.Array, jax.Array, jax.Array, jax.Array]


class LbfgsResult(NamedTuple):
    """What the run ended with: parameters, reported loss, iterations, evaluations, why it stopped."""

    params: _mlp_solver.LayerParams
    loss: jax.Array
    n_iter: jax.Array
    n_fun: jax.Array
    status: jax.Array  # 0 converged (gtol or ftol), 1 max_iter or max_fun reached, 2 non-finite


@functools.lru_cache(maxsize=16)
def _runner(activation: str, loss: str) -> Callable[..., LbfgsResult]:
    def run(params, x, y, w, alpha, tol, max_iter, max_fun):
        def trained(p):
            return _mlp_solver.objective(p, x, y, w, activation=activation, loss=loss, alpha=alpha)[0]

        optimizer = optax.lbfgs(
            memory_size=10, linesearch=optax.scale_by_zoom_linesearch(MAX_LINESEARCH_STEPS)
        )
        value_and_grad = optax.value_and_grad_from_state(trained)

        def body(carry):
            params, state, n_iter, n_fun, previous, _ = carry
            value, grad = value_and_grad(params, state=state)
            updates, state = optimizer.update(grad, state, params, value=value, grad=grad, value_fn=trained)
            params = optax.apply_updates(params, updates)
            new_value = optax.tree_utils.tree_get(state, "value")
            new_grad = optax.tree_utils.tree_get(state, "grad")
            n_fun = n_fun + optax.tree_utils.tree_get(state, "num_linesearch_steps")
            gmax = jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(new_grad)]))
            decrease = (value - new_value) / jnp.maximum(jnp.maximum(jnp.abs(value), jnp.abs(new_value)), 1.0)
            status = jnp.where(
                ~jnp.isfinite(new_value), 2, jnp.where((gmax <= tol) | (decrease <= FTOL), 0, -1)
            )
            status = jnp.where((status < 0) & ((n_iter + 1 >= max_iter) | (n_fun >= max_fun)), 1, status)
            return params, state, n_iter + 1, n_fun, new_value, status

        # the first evaluation counts; the loop hands the Python scalars back as arrays
        carry = cast(_Carry, (params, optimizer.init(params), 0, 1, jnp.inf, -1))
        params, _, n_iter, n_fun, _, status = jax.lax.while_loop(lambda c: c[-1] < 0, body, carry)
        reported = _mlp_solver.objective(params, x, y, w, activation=activation, loss=loss, alpha=alpha)[1]
        return LbfgsResult(params, reported, n_iter, n_fun, status)

    return jax.jit(run)


def minimize(params: _mlp_solver.LayerParams, x: jax.Array, y: jax.Array, w: jax.Array, *,
             activation: str, loss: str, alpha: float, tol: float, max_iter: int,
             max_fun: int) -> LbfgsResult:  # fmt: skip
    """Run L-BFGS from ``params`` on the full data ``x [N, F]``, ``y [N, K]``, weights ``w [N]``."""
    run = _runner(activation, loss)
    return run(params, x, y, w, jnp.float32(alpha), jnp.float32(tol), max_iter, max_fun)
