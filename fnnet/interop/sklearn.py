"""scikit-learn estimators trained with fnnet/JAX: ``MLPClassifier`` and ``MLPRegressor``.

Drop-in for ``sklearn.neural_network``'s estimators of the same names (solvers ``"sgd"`` and
``"adam"``, constant learning rate), usable in pipelines and grid search::

    from fnnet.interop.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=0).fit(X, y)
    clf.predict_proba(X[:3])

Training runs in JAX (float32, one jitted dispatch per epoch); predictions use the fitted weights in
float64 NumPy, so they do not depend on how rows are batched. Fitted attributes follow scikit-learn:
``coefs_``, ``intercepts_``, ``loss_``, ``loss_curve_``, ``best_loss_``, ``n_iter_``, ``t_``,
``validation_scores_``, ``best_validation_score_``, ``classes_``, ``out_activation_``.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fnnet.interop import _mlp_solver as mlp_solver

__all__ = ["MLPClassifier", "MLPRegressor"]


class _BaseMLP(BaseEstimator):
    """Shared fitting logic; see MLPClassifier for the parameters."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    def _initialize(self, n_features, n_outputs, hidden, rng):
        sizes = (n_features, *hidden, n_outputs)
        self._params = mlp_solver.init_params(int(rng.randint(2**31 - 1)), sizes, self.activation)
        self._opt_state = None
        self.n_iter_, self.t_, self.loss_curve_ = 0, 0, []
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self._no_improvement = 0

    def _fit(self, X, Y, *, incremental, first_call):
        hidden = mlp_solver.check_params(self)
        rng = check_random_state(self.random_state)
        if first_call or not (incremental or self.warm_start) or not hasattr(self, "_params"):
            self._initialize(X.shape[1], Y.shape[1], hidden, rng)
        early = self.early_stopping and not incremental
        X_val = Y_val = None
        if early:
            stratify = self._y_raw if self._is_classifier else None
            X, X_val, Y, Y_val, *_ = train_test_split(
                X, Y, random_state=rng.randint(2**31 - 1),
                test_size=self.validation_fraction, stratify=stratify,
            )  # fmt: skip
        n = X.shape[0]
        batch = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        betas = (self.beta_1, self.beta_2, self.epsilon)
        config = (self.solver, float(self.learning_rate_init), float(self.momentum),
                  bool(self.nesterovs_momentum), betas)  # fmt: skip
        epoch, optimizer = mlp_solver.epoch_fn(self.activation, self._loss, float(self.alpha), batch, config)
        if self._opt_state is None:
            self._opt_state = optimizer.init(self._params)
        xd, yd = jax.numpy.asarray(X, np.float32), jax.numpy.asarray(Y, np.float32)
        best_params = self._params
        for _ in range(1 if incremental else self.max_iter):
            perm = rng.permutation(n) if self.shuffle else np.arange(n)
            self._params, self._opt_state, loss = epoch(self._params, self._opt_state, xd, yd, perm)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = float(loss)
            self.loss_curve_.append(self.loss_)
            if not np.isfinite(self.loss_):
                raise ValueError(
                    f"{type(self).__name__}: the loss became {self.loss_} at iteration "
                    f"{self.n_iter_}; lower learning_rate_init"
                )
            if self._improved(X_val, Y_val) if early else self.loss_ < self.best_loss_ - self.tol:
                self._no_improvement = 0
            else:
                self._no_improvement += 1
            if early and self._new_best:
                best_params = self._params
            if not early:
                self.best_loss_ = min(self.best_loss_, self.loss_)
            if not incremental and self._no_improvement > self.n_iter_no_change:
                break
        else:
            if not incremental:
                warnings.warn(
                    f"{type(self).__name__}: stochastic optimizer reached max_iter="
                    f"{self.max_iter} without converging",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        if early:
            self._params = best_params
            self.best_loss_ = None
        self._store_weights()
        return self

    def _improved(self, X_val, Y_val) -> bool:
        """Score the validation split; whether it beat the best score by more than ``tol``."""
        self._store_weights()
        score = self.score(X_val, self._decode(Y_val))
        self.validation_scores_.append(score)
        improved = score > self.best_validation_score_ + self.tol
        self._new_best = score > self.best_validation_score_
        self.best_validation_score_ = max(self.best_validation_score_, score)
        return improved

    def _store_weights(self):
        self.coefs_ = [np.asarray(w, np.float64) for w, _ in self._params]
        self.intercepts_ = [np.asarray(b, np.float64) for _, b in self._params]

    def _forward(self, X):
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return mlp_solver.forward_numpy(
            self.coefs_, self.intercepts_, X, self.activation, self.out_activation_
        )

    def __getstate__(self):
        state = super().__getstate__()  # JAX arrays become NumPy for pickling
        for name in ("_params", "_opt_state"):
            if name in state:
                state[name] = jax.tree.map(np.asarray, state[name])
        return state


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier, scikit-learn's ``MLPClassifier`` trained in JAX.

    Args:
        hidden_layer_sizes: the widths of the hidden layers, e.g. ``(100,)``.
        activation: hidden activation: ``"identity"``, ``"logistic"``, ``"tanh"`` or ``"relu"``.
        solver: ``"adam"`` or ``"sgd"`` (with ``momentum`` and ``nesterovs_momentum``).
        alpha: L2 penalty: ``alpha / 2 * sum(W^2) / batch_size`` is added to each batch's loss.
        batch_size: examples per minibatch; ``"auto"`` is ``min(200, n_samples)``.
        learning_rate_init: the (constant) step size.
        max_iter: the maximum number of epochs.
        shuffle: shuffle the examples every epoch.
        random_state: int, RandomState or None: initialisation, shuffling and the validation split.
        tol: the improvement of the loss (or validation score) that counts.
        warm_start: continue from the previous fit's weights.
        momentum: SGD momentum.
        nesterovs_momentum: Nesterov momentum for SGD.
        early_stopping: hold out ``validation_fraction`` and stop when its accuracy stalls.
        validation_fraction: the held-out fraction for early stopping.
        beta_1: Adam's first-moment decay.
        beta_2: Adam's second-moment decay.
        epsilon: Adam's epsilon.
        n_iter_no_change: epochs without an improvement of ``tol`` before stopping.

    Binary problems use one logistic output, multi-class ones a softmax (as scikit-learn does).
    """

    _is_classifier = True

    def _decode(self, Y):
        if Y.shape[1] == 1:
            return self.classes_[(Y[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(Y, axis=1)]

    def _encode(self, y, classes):
        check_classification_targets(y)
        self._binarizer = LabelBinarizer().fit(classes)
        if len(self._binarizer.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"got 1 class: {self._binarizer.classes_[0]!r}"
            )
        unknown = np.setdiff1d(np.unique(y), self._binarizer.classes_)
        if unknown.size:
            raise ValueError(f"{type(self).__name__}: y has classes {unknown} not in {classes}")
        self.classes_ = self._binarizer.classes_
        self.out_activation_ = "logistic" if len(self.classes_) == 2 else "softmax"
        self._loss = "binary_log_loss" if len(self.classes_) == 2 else "log_loss"
        self._y_raw = y
        return self._binarizer.transform(y).astype(np.float32)

    def fit(self, X, y):
        """Fit to data ``X [n_samples, n_features]`` and labels ``y [n_samples]``; returns self."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        y = column_or_1d(y, warn=True)
        keep = self.warm_start and hasattr(self, "classes_")
        Y = self._encode(y, self.classes_ if keep else np.unique(y))
        return self._fit(X, Y, incremental=False, first_call=not keep)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``; the first call needs ``classes``, all labels to expect."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("MLPClassifier.partial_fit: the first call needs classes=")
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first)
        y = column_or_1d(y, warn=True)
        if not first and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes} differs from the first call's {self.classes_}")
        Y = self._encode(y, np.unique(classes) if first else self.classes_)
        return self._fit(X, Y, incremental=True, first_call=first)

    def predict_proba(self, X):
        """Class probabilities ``[n_samples, n_classes]`` in the order of ``classes_``."""
        p = self._forward(X)
        return np.hstack([1 - p, p]) if p.shape[1] == 1 else p

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row ``[n_samples]``."""
        proba = self.predict_proba(X)  # raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor, scikit-learn's ``MLPRegressor`` trained in JAX.

    Takes the same parameters as MLPClassifier; the loss is ``mean((y - f(x))^2) / 2``, the output
    is linear, and ``y`` may have several columns. Early stopping watches the validation R^2.
    """

    _is_classifier = False
    _loss = "squared_error"
    out_activation_ = "identity"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _decode(self, Y):
        return Y[:, 0] if self._y_1d else Y

    def _targets(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64, multi_output=True,
                             y_numeric=True)  # fmt: skip
        self._y_1d = y.ndim == 1
        return X, (y[:, None] if y.ndim == 1 else y).astype(np.float32)

    def fit(self, X, y):
        """Fit to ``X [n_samples, n_features]`` and targets ``y [n_samples]`` or ``[n, k]``."""
        X, Y = self._targets(X, y, reset=True)
        first = not (self.warm_start and hasattr(self, "coefs_"))
        return self._fit(X, Y, incremental=False, first_call=first)

    def partial_fit(self, X, y):
        """One epoch of training over ``(X, y)``; returns self."""
        first = not hasattr(self, "coefs_")
        X, Y = self._targets(X, y, reset=first)
        return self._fit(X, Y, incremental=True, first_call=first)

    def predict(self, X):
        """Predictions ``[n_samples]`` (or ``[n_samples, k]`` for ``k``-column targets)."""
        p = self._forward(X)
        return p[:, 0] if self._y_1d else p
