"""fnnet.interop.sklearn against scikit-learn itself: the same data, the same parameters, the same scores.

fnnet draws the initial weights, the shuffles and the validation split from the same ``random_state``
stream scikit-learn does, so the stochastic solvers start from the same weights and see the same
batches; the differences left are float32 (fnnet) against float64 (scikit-learn) arithmetic, and, for
``lbfgs``, optax's L-BFGS (zoom line search) against SciPy's L-BFGS-B.

Stated tolerances: test accuracy within 0.04 (two of 50 test rows), test R^2 within 0.02; for the
stochastic solvers also the final training loss within 0.5% and ``n_iter_`` within 2 epochs.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fnnet.interop import sklearn as fs

ACCURACY_TOL, R2_TOL, LOSS_RTOL, ITER_TOL = 0.04, 0.02, 0.005, 2

CLASSIFIER_CASES = {
    "course": dict(hidden_layer_sizes=(5, 2), activation="logistic"),  # the course's own call
    "adam": dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=150),
    "sgd-constant": dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.05, max_iter=150),
    "sgd-invscaling": dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate="invscaling",
                           learning_rate_init=0.5, power_t=0.3, max_iter=150),
    "sgd-adaptive": dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate="adaptive",
                         learning_rate_init=0.2, n_iter_no_change=2, tol=1e-2, max_iter=150,
                         nesterovs_momentum=False),
    "lbfgs": dict(hidden_layer_sizes=(16,), solver="lbfgs", alpha=1e-2, max_iter=300),
    "early-stopping": dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, early_stopping=True,
                           validation_fraction=0.2, n_iter_no_change=5, max_iter=150),
}  # fmt: skip

REGRESSOR_CASES = {
    "adam": dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=150),
    "sgd-invscaling": dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate="invscaling",
                           learning_rate_init=0.05, power_t=0.25, max_iter=150),
    "sgd-adaptive": dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate="adaptive",
                         learning_rate_init=0.05, n_iter_no_change=2, tol=1e-3, max_iter=150),
    "lbfgs": dict(hidden_layer_sizes=(16,), solver="lbfgs", alpha=1e-2, max_iter=300),
    "tanh-batch": dict(hidden_layer_sizes=(8, 8), activation="tanh", batch_size=32, max_iter=100,
                       learning_rate_init=0.01, shuffle=False),
}  # fmt: skip


def _iris():
    X, y = load_iris(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=50, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def _regression(poisson=False):
    X, y = make_regression(250, 5, n_informative=4, noise=5.0, random_state=1)
    if poisson:
        y = np.random.RandomState(2).poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.5)).astype(float)
    else:
        y = (y - y.mean()) / y.std()
    return X[:200], X[200:], y[:200], y[200:]


def _weights(n, use):
    return np.random.RandomState(3).uniform(0.2, 3.0, n) if use else None


def _fit_both(make_sk, make_fs, params, X, y, sample_weight):
    fitted = []
    for make in (make_sk, make_fs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted.append(make(random_state=0, **params).fit(X, y, sample_weight=sample_weight))
    return fitted


def _compare_training(ref, got, params):
    public = sorted(k for k in vars(ref) if k.endswith("_") and not k.startswith("_"))
    assert public == sorted(k for k in vars(got) if k.endswith("_") and not k.startswith("_"))
    assert [c.shape for c in got.coefs_] == [c.shape for c in ref.coefs_]
    assert got.out_activation_ == ref.out_activation_
    if params.get("solver", "adam") != "lbfgs":
        assert got.loss_ == pytest.approx(ref.loss_, rel=LOSS_RTOL)
        assert abs(got.n_iter_ - ref.n_iter_) <= ITER_TOL, (got.n_iter_, ref.n_iter_)
        assert got.t_ == pytest.approx(ref.t_, abs=ITER_TOL * len(ref.loss_curve_) * 200)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("case", list(CLASSIFIER_CASES))
def test_classifier_scores_match_scikit_learn(case, weighted):
    X_tr, X_te, y_tr, y_te = _iris()
    params = CLASSIFIER_CASES[case]
    ref, got = _fit_both(
        sk.MLPClassifier, fs.MLPClassifier, params, X_tr, y_tr, _weights(len(y_tr), weighted)
    )
    assert abs(got.score(X_te, y_te) - ref.score(X_te, y_te)) <= ACCURACY_TOL, (
        got.score(X_te, y_te),
        ref.score(X_te, y_te),
    )
    _compare_training(ref, got, params)
    if case == "sgd-adaptive":  # the schedule really divided the step, by the same factors
        assert ref._optimizer.learning_rate < params["learning_rate_init"]
        assert got._learning_rate == pytest.approx(ref._optimizer.learning_rate)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("case", [*REGRESSOR_CASES, "poisson"])
def test_regressor_scores_match_scikit_learn(case, weighted):
    poisson = case == "poisson"
    X_tr, X_te, y_tr, y_te = _regression(poisson)
    params = dict(loss="poisson", hidden_layer_sizes=(8,), learning_rate_init=0.01) if poisson else {}
    params = params or REGRESSOR_CASES[case]
    ref, got = _fit_both(sk.MLPRegressor, fs.MLPRegressor, params, X_tr, y_tr, _weights(len(y_tr), weighted))
    assert abs(got.score(X_te, y_te) - ref.score(X_te, y_te)) <= R2_TOL, (
        got.score(X_te, y_te),
        ref.score(X_te, y_te),
    )
    _compare_training(ref, got, params)


def test_sample_weight_weights_the_loss_like_repeated_rows():
    # lbfgs trains on the full batch, so integer weights equal repeating rows (alpha / sum(w) included)
    X_tr, _, y_tr, _ = _iris()
    w = np.random.RandomState(4).randint(1, 4, len(y_tr))
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=20, alpha=0.1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = fs.MLPClassifier(**params).fit(X_tr, y_tr, sample_weight=w)
        repeated = fs.MLPClassifier(**params).fit(np.repeat(X_tr, w, 0), np.repeat(y_tr, w))
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-4)
    for a, b in zip(weighted.coefs_, repeated.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("est", [fs.MLPClassifier, fs.MLPRegressor])
def test_every_scikit_learn_parameter_is_accepted_with_its_default(est):
    ref = getattr(sk, est.__name__)()
    assert est().get_params() == ref.get_params()


def test_invscaling_follows_eta0_over_t_to_the_power_t():
    X_tr, _, y_tr, _ = _iris()
    clf = fs.MLPClassifier((4,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.3,
                           power_t=0.4, max_iter=3, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_tr, y_tr)
    assert clf.t_ == 3 * len(y_tr)
    assert clf._learning_rate == pytest.approx(0.3 / (clf.t_ + 1) ** 0.4)


def test_refusals_say_why():
    X_tr, _, y_tr, _ = _iris()
    with pytest.raises(ValueError, match="'learning_rate' parameter of MLPClassifier must be"):
        fs.MLPClassifier(learning_rate="cyclic").fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="'loss' parameter of MLPRegressor must be"):
        fs.MLPRegressor(loss="huber").fit(X_tr, y_tr)
    with pytest.raises(AttributeError, match="partial_fit is only available for stochastic"):
        fs.MLPClassifier(solver="lbfgs").partial_fit(X_tr, y_tr, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        fs.MLPRegressor(early_stopping=True).partial_fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="sample_weight"):
        fs.MLPClassifier().fit(X_tr, y_tr, sample_weight=np.ones(3))


def test_lbfgs_stops_at_max_fun_with_a_convergence_warning():
    X_tr, _, y_tr, _ = _iris()
    clf = fs.MLPClassifier((16,), solver="lbfgs", max_fun=10, max_iter=500, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lbfgs"):
        clf.fit(X_tr, y_tr)
    assert 1 <= clf.n_iter_ < 10
