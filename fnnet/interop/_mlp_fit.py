"""The training loops behind ``fnnet.interop.sklearn``, step for step scikit-learn's ``_fit_stochastic``
and ``_fit_lbfgs`` (``sklearn/neural_network/_multilayer_perceptron.py``).

Stochastic solvers: the optimiser is rebuilt by every ``fit`` (kept across ``partial_fit`` calls);
``n_iter_`` counts this call's epochs and ``t_`` every sample seen; the indices are reshuffled every
epoch with ``sklearn.utils.shuffle`` from the estimator's random state, and the early-stopping split is
``train_test_split`` from it, so the same ``random_state`` gives scikit-learn's batches. After each
epoch: the "no improvement" count (training loss not below ``best_loss_ - tol``, or validation score
not above ``best_validation_score_ + tol``), then ``invscaling``'s step ``learning_rate_init /
(t_ + 1) ** power_t``; past ``n_iter_no_change`` such epochs ``adaptive`` divides the step by 5
(stopping once it is at most 1e-6) and every other schedule stops.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle as sk_shuffle

from fnnet.interop import _mlp_lbfgs, _mlp_solver

if TYPE_CHECKING:  # the estimators import this module
    from fnnet.interop.sklearn import _BaseMLP

Validation = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # (X, y, sample_weight)


def _as_jax(params: Iterable[tuple[np.ndarray, np.ndarray]]) -> _mlp_solver.LayerParams:
    return [(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32)) for w, b in params]


def _weights(sample_weight: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n, np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)


def _split(
    est: _BaseMLP, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Validation | None]:
    """``(X_train, Y_train, w_train, validation or None)`` as scikit-learn splits for early stopping."""
    if not est.early_stopping:
        return X, Y, sample_weight, None
    stratify = Y if est._is_classifier and est.n_outputs_ == 1 else None
    arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
    parts = train_test_split(*arrays, random_state=est._random_state,
                             test_size=est.validation_fraction, stratify=stratify)  # fmt: skip
    X_tr, X_val, Y_tr, Y_val = parts[:4]
    w_tr, w_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
    if X_val.shape[0] < 2:
        raise ValueError(
            f"{type(est).__name__}: the validation set is too small ({X_val.shape[0]} rows); increase "
            "'validation_fraction' or the size of your dataset"
        )
    return X_tr, Y_tr, w_tr, (X_val, est._decode(Y_val), w_val)


def _batch_size(est: _BaseMLP, n: int) -> int:
    if est.batch_size == "auto":
        return min(200, n)
    if est.batch_size > n:
        warnings.warn(
            f"{type(est).__name__}: Got `batch_size` less than 1 or larger than sample size "
            f"({est.batch_size} > {n}). It is going to be clipped",
            stacklevel=4,
        )
    return int(np.clip(est.batch_size, 1, n))


def _early_stopping_changed(est: _BaseMLP) -> TypeError:
    """The error of a warm-started fit whose ``early_stopping`` differs from the fit that initialised it."""
    return TypeError(
        f"{type(est).__name__}: early_stopping={est.early_stopping} differs from the fit that initialised "
        "the weights; fit with warm_start=False"
    )


def _count_no_improvement(est: _BaseMLP, validation: Validation | None) -> None:
    if validation is None:
        best_loss = est.best_loss_
        if best_loss is None:
            raise _early_stopping_changed(est)
        if est.loss_curve_[-1] > best_loss - est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        est.best_loss_ = min(best_loss, est.loss_curve_[-1])
        return
    scores, best_score = est.validation_scores_, est.best_validation_score_
    if scores is None or best_score is None:
        raise _early_stopping_changed(est)
    X_val, y_val, w_val = validation
    score = est._score_unchecked(X_val, y_val, w_val)
    scores.append(score)
    if est.verbose:
        print(f"Validation score: {score:f}")
    est._no_improvement_count = est._no_improvement_count + 1 if score < best_score + est.tol else 0
    if score > best_score:
        est.best_validation_score_ = score
        est._best_coefs = [c.copy() for c in est.coefs_]
        est._best_intercepts = [b.copy() for b in est.intercepts_]


def _keeps_going(est: _BaseMLP) -> bool:
    """After ``n_iter_no_change`` epochs without improvement: ``adaptive`` divides the step by 5."""
    if est.solver == "sgd" and est.learning_rate == "adaptive" and est._learning_rate > 1e-6:
        est._learning_rate /= 5.0
        est._no_improvement_count = 0
        return True
    return False


def _record_epoch(est: _BaseMLP, loss: float, n: int) -> None:
    est.n_iter_ += 1
    est.t_ += n
    est.loss_ = loss
    est.loss_curve_.append(loss)
    if est.verbose:
        print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
    if not np.isfinite(loss):
        raise ValueError(
            f"{type(est).__name__}: the training loss became {loss} at iteration {est.n_iter_}; lower "
            "learning_rate_init or scale the data"
        )


def fit_stochastic(
    est: _BaseMLP, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, incremental: bool
) -> None:
    """``solver="sgd"`` or ``"adam"``: ``max_iter`` epochs (one for ``partial_fit``) of minibatches."""
    if est.early_stopping and incremental:
        raise ValueError(f"{type(est).__name__}: partial_fit does not support early_stopping=True")
    if not incremental or not hasattr(est, "_opt_state"):
        est._opt_state, est._learning_rate = None, float(est.learning_rate_init)
    X_tr, Y_tr, w_tr, validation = _split(est, X, Y, sample_weight)
    n = X_tr.shape[0]
    config = (est.solver, float(est.momentum), bool(est.nesterovs_momentum),
              (float(est.beta_1), float(est.beta_2), float(est.epsilon)))  # fmt: skip
    epoch, optimizer = _mlp_solver.epoch_fn(est.activation, est._loss_name(), float(est.alpha),
                                            _batch_size(est, n), config)  # fmt: skip
    params = _as_jax(zip(est.coefs_, est.intercepts_, strict=True))
    if est._opt_state is None:
        est._opt_state = optimizer.init(params)
    data = [jnp.asarray(a, jnp.float32) for a in (X_tr, Y_tr, _weights(w_tr, n))]
    idx = np.arange(n)
    est.n_iter_ = 0
    for _ in range(est.max_iter):
        if est.shuffle:
            idx = sk_shuffle(idx, random_state=est._random_state)
        params, est._opt_state, loss = epoch(params, est._opt_state, *data, jnp.asarray(idx),
                                             jnp.float32(est._learning_rate))  # fmt: skip
        _record_epoch(est, float(loss), n)
        est._set_weights(params)
        _count_no_improvement(est, validation)
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            est._learning_rate = float(est.learning_rate_init) / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change and not _keeps_going(est):
            break
        if incremental:
            break
        if est.n_iter_ == est.max_iter:
            warnings.warn(
                f"{type(est).__name__}: Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )
    if validation is not None:
        est.coefs_, est.intercepts_ = est._best_coefs, est._best_intercepts


def fit_lbfgs(est: _BaseMLP, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None) -> None:
    """``solver="lbfgs"``: full-batch L-BFGS with ``max_iter``, ``max_fun`` and ``gtol = tol``."""
    result = _mlp_lbfgs.minimize(
        _as_jax(zip(est.coefs_, est.intercepts_, strict=True)),
        *(jnp.asarray(a, jnp.float32) for a in (X, Y, _weights(sample_weight, X.shape[0]))),
        activation=est.activation, loss=est._loss_name(), alpha=float(est.alpha), tol=float(est.tol),
        max_iter=int(est.max_iter), max_fun=int(est.max_fun),
    )  # fmt: skip
    est.n_iter_, est.loss_, status = int(result.n_iter), float(result.loss), int(result.status)
    if status == 2:
        raise ValueError(f"{type(est).__name__}: lbfgs reached a non-finite loss; scale the data")
    if status == 1:
        limit = f"max_iter={est.max_iter}" if est.n_iter_ >= est.max_iter else f"max_fun={est.max_fun}"
        warnings.warn(
            f"{type(est).__name__}: lbfgs failed to converge after {est.n_iter_} iteration(s) and "
            f"{int(result.n_fun)} function evaluations: it reached {limit}. Increase it or scale the data.",
            ConvergenceWarning,
            stacklevel=4,
        )
    est._set_weights(result.params)


def to_numpy(params: _mlp_solver.LayerParams) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Float64 NumPy ``(coefs, intercepts)`` of JAX ``[(W, b), ...]``."""
    host = jax.device_get(params)
    return [np.asarray(w, np.float64) for w, _ in host], [np.asarray(b, np.float64) for _, b in host]
