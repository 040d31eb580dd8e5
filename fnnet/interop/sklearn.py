"""scikit-learn estimators trained with fnnet/JAX: ``MLPClassifier`` and ``MLPRegressor``.

Drop-in for ``sklearn.neural_network``'s estimators of the same names: every parameter of the installed
scikit-learn's ``MLPClassifier`` / ``MLPRegressor``, validated by scikit-learn's own constraints and with
its meaning (solvers ``"lbfgs"``, ``"sgd"``, ``"adam"``; schedules ``"constant"``, ``"invscaling"``,
``"adaptive"``; ``max_fun``; ``loss="poisson"``; ``early_stopping``; ``warm_start``; ``verbose``), and
``fit(X, y, sample_weight=None)`` / ``partial_fit``. Usable in pipelines and grid search::

    from fnnet.interop.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(5, 2), activation="logistic", random_state=0).fit(X, y)
    clf.predict_proba(X[:3])

The same ``random_state`` draws the same initial weights, shuffles and validation split as
scikit-learn. Training runs in JAX (float32, one jitted dispatch per epoch; L-BFGS is ``optax.lbfgs``
in one jitted loop); predictions use the fitted weights in float64 NumPy. Fitted attributes follow
scikit-learn: ``coefs_``, ``intercepts_``, ``loss_``, ``n_iter_``, ``t_``, ``n_layers_``,
``n_outputs_``, ``out_activation_``, ``classes_``; for the stochastic solvers also ``loss_curve_``,
``best_loss_``, ``validation_scores_``, ``best_validation_score_``. Not supported: sparse ``X``
(a TypeError from scikit-learn's input check; densify it first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import jax
import numpy as np
from numpy.typing import ArrayLike
from sklearn import neural_network as _sk
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fnnet.interop import _mlp_fit, _mlp_solver

__all__ = ["MLPClassifier", "MLPRegressor"]

Activation = Literal["identity", "logistic", "tanh", "relu"]
Solver = Literal["lbfgs", "sgd", "adam"]
Schedule = Literal["constant", "invscaling", "adaptive"]
RandomState = int | np.random.RandomState | None
_Estimator = TypeVar("_Estimator", bound="_BaseMLP")


class _BaseMLP(BaseEstimator):
    """Shared fitting logic; see scikit-learn's ``MLPClassifier`` for the parameters."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: Activation = "relu",
        *,
        solver: Solver = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: Schedule = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: RandomState = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def _initialize(self, n_outputs: int, sizes: list[int]) -> None:
        """scikit-learn's ``_initialize``: counters, output activation, weights from the random state."""
        self.n_iter_, self.t_ = 0, 0
        self.n_outputs_, self.n_layers_ = n_outputs, len(sizes)
        self.out_activation_ = self._out_activation()
        params = _mlp_solver.init_params(self._random_state, tuple(sizes), self.activation)
        self.coefs_, self.intercepts_ = [w for w, _ in params], [b for _, b in params]
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        if self.solver != "lbfgs":
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            early = self.early_stopping
            self.validation_scores_: list[float] | None = [] if early else None
            self.best_validation_score_ = -np.inf if early else None
            self.best_loss_ = None if early else np.inf

    def _fit(
        self: _Estimator, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None, incremental: bool
    ) -> _Estimator:
        self._validate_params()  # scikit-learn's own parameter constraints and messages
        if incremental and self.solver == "lbfgs":
            raise AttributeError(
                f"{type(self).__name__}: partial_fit is only available for stochastic optimizers. "
                "lbfgs is not stochastic."
            )
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if any(h <= 0 for h in hidden):
            raise ValueError(f"{type(self).__name__}: hidden_layer_sizes must be > 0, got {hidden}")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X_valid, Y = self._validate_input(X, y, incremental, reset=first_pass)
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X_valid)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y.shape[1], [X_valid.shape[1], *hidden, Y.shape[1]])
        if self.solver == "lbfgs":
            _mlp_fit.fit_lbfgs(self, X_valid, Y, weights)
        else:
            _mlp_fit.fit_stochastic(self, X_valid, Y, weights, incremental)
        return self

    def fit(
        self: _Estimator, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> _Estimator:
        """Fit to ``X [n_samples, n_features]`` and ``y``; ``sample_weight [n_samples]`` weights the loss.

        Args:
            X: the inputs ``[n_samples, n_features]``.
            y: labels ``[n_samples]`` (or an indicator matrix for multi-label), or regression targets
                ``[n_samples]`` / ``[n_samples, n_outputs]``.
            sample_weight: per-sample weights ``[n_samples]``: each batch's loss (and the L2 penalty) is
                divided by the batch's weight sum instead of its size, as in scikit-learn.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _set_weights(self, params: list[tuple[jax.Array, jax.Array]]) -> None:
        self.coefs_, self.intercepts_ = _mlp_fit.to_numpy(params)

    def _forward(self, X: ArrayLike, check_input: bool = True) -> np.ndarray:
        if check_input:
            check_is_fitted(self, "coefs_")
            X = validate_data(self, X, reset=False, dtype=np.float64)
        return _mlp_solver.forward_numpy(
            self.coefs_, self.intercepts_, X, self.activation, self.out_activation_
        )

    def _score_unchecked(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> float:
        """The early-stopping score, as scikit-learn's ``_score_with_function`` (NaN if not finite)."""
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(self._score_function(y, y_pred, sample_weight=sample_weight))

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # JAX arrays become NumPy for pickling
        if "_opt_state" in state:
            state["_opt_state"] = jax.tree.map(np.asarray, state["_opt_state"])
        return state


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained in JAX.

    Takes scikit-learn's parameters with their meanings (see ``sklearn.neural_network.MLPClassifier``).
    Binary and multi-label problems use logistic outputs, multi-class ones a softmax. Early stopping
    watches the validation accuracy.
    """

    _is_classifier = True
    _parameter_constraints = dict(_sk.MLPClassifier._parameter_constraints)
    _score_function = staticmethod(accuracy_score)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _loss_name(self) -> str:
        return "binary_log_loss" if self.out_activation_ == "logistic" else "log_loss"

    def _decode(self, Y: np.ndarray) -> np.ndarray:
        return self._label_binarizer.inverse_transform(Y)

    def _validate_input(
        self, X: ArrayLike, y: ArrayLike, incremental: bool, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        X_valid, y_valid = validate_data(
            self, X, y, multi_output=True, dtype=(np.float64, np.float32), reset=reset
        )
        if y_valid.ndim == 2 and y_valid.shape[1] == 1:
            y_valid = column_or_1d(y_valid, warn=True)
        check_classification_targets(y_valid)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y_valid)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y_valid)
            if self.warm_start and set(classes) != set(self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the previous call "
                    f"to fit. Previously got {self.classes_}, `y` has {classes}"
                )
            if len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_` {self.classes_}: {classes}")
        if len(self.classes_) < 2 and self._label_binarizer.y_type_ != "multilabel-indicator":
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"got 1 class: {self.classes_[0]!r}"
            )
        return X_valid, self._label_binarizer.transform(y_valid).astype(bool)

    def partial_fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: ArrayLike | None = None,
    ) -> MLPClassifier:
        """One epoch over ``(X, y)``; the first call needs ``classes``, all labels to expect."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(f"{type(self).__name__}.partial_fit: the first call needs classes=")
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"classes={classes} differs from the first call's {self.classes_}")
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict(self, X: ArrayLike, check_input: bool = True) -> np.ndarray:
        y_pred = self._forward(X, check_input)
        return self._label_binarizer.inverse_transform(y_pred.ravel() if self.n_outputs_ == 1 else y_pred)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row ``[n_samples]`` (indicators ``[n, k]`` for multi-label)."""
        return self._predict(X)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities ``[n_samples, n_classes]`` in the order of ``classes_``."""
        p = self._forward(X)
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained in JAX.

    Takes scikit-learn's parameters with their meanings, ``loss`` first: ``"squared_error"`` (linear
    output, ``mean((y - f(x))^2) / 2``) or ``"poisson"`` (exponential output, half the Poisson
    deviance). ``y`` may have several columns. Early stopping watches the validation R^2.
    """

    _is_classifier = False
    _parameter_constraints = dict(_sk.MLPRegressor._parameter_constraints)
    _score_function = staticmethod(r2_score)

    def __init__(
        self,
        loss: Literal["squared_error", "poisson"] = "squared_error",
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: Activation = "relu",
        *,
        solver: Solver = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: Schedule = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: RandomState = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ) -> None:
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
        )  # fmt: skip
        self.loss = loss

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _loss_name(self) -> str:
        return self.loss

    def _decode(self, Y: np.ndarray) -> np.ndarray:
        return Y[:, 0] if Y.shape[1] == 1 else Y

    def _validate_input(
        self, X: ArrayLike, y: ArrayLike, incremental: bool, reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        X_valid, y_valid = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32),
                                         multi_output=True, y_numeric=True)  # fmt: skip
        if y_valid.ndim == 2 and y_valid.shape[1] == 1:
            y_valid = column_or_1d(y_valid, warn=True)
        return X_valid, y_valid.reshape(-1, 1) if y_valid.ndim == 1 else y_valid

    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """One epoch of training over ``(X, y)``; returns self."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict(self, X: ArrayLike, check_input: bool = True) -> np.ndarray:
        p = self._forward(X, check_input)
        return p[:, 0] if p.shape[1] == 1 else p

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predictions ``[n_samples]`` (or ``[n_samples, k]`` for ``k``-column targets)."""
        return self._predict(X)
