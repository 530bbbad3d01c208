"""bricks.classic: equal to scikit-learn where both exist, check_estimator, the lecture's
gates and perceptron, the n-gram model."""

import math
import warnings

import numpy as np
import pytest

import bricks
from bricks.classic import (
    Lasso,
    LinearRegression,
    LogisticRegression,
    McCullochPitts,
    NGramLanguageModel,
    NotFittedError,
    Perceptron,
    PolynomialFeatures,
    Ridge,
    SoftmaxRegression,
    gates,
)

sklearn = pytest.importorskip("sklearn")
from sklearn import linear_model as sk  # noqa: E402
from sklearn import preprocessing as skp  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

RTOL = 1e-5


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0] + [0.0, 1.0, -2.0, 0.0, 5.0]
    y_reg = X @ [1.0, -2.0, 0.0, 0.5, 0.3] + 0.3 + 0.1 * rng.normal(size=80)
    y_bin = (X @ [1.0, -1.0, 0.5, 0.0, 0.3] - 0.5 + 0.5 * rng.normal(size=80) > 0).astype(int)
    Z = (X[:, :3] - X[:, :3].mean(0)) / X[:, :3].std(0)
    y_multi = np.argmax(Z + 0.5 * rng.normal(size=(80, 3)), axis=1)
    return X, y_reg, y_bin, y_multi


# ---------------------------------------------------------------- equal to scikit-learn

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_regression_normal_equals_sklearn(data, fit_intercept):
    X, y, _, _ = data
    ours = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    ref = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    assert rel(ours.coef_, ref.coef_) < RTOL
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=RTOL, abs=1e-9)
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-9)


def test_linear_regression_rank_deficient_is_min_norm(data):
    X, y, _, _ = data
    X2 = np.hstack([X, X[:, :1]])  # a duplicated column: X^T X is singular
    ours = LinearRegression().fit(X2, y)
    ref = sk.LinearRegression().fit(X2, y)
    assert rel(ours.coef_, ref.coef_) < RTOL
    assert ours.coef_[0] == pytest.approx(ours.coef_[-1])


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_linear_regression_descent_on_bricks_autograd(data, solver):
    X, y, _, _ = data
    Xs = (X - X.mean(0)) / X.std(0)
    ref = sk.LinearRegression().fit(Xs, y)
    ours = LinearRegression(solver=solver, tol=1e-10, max_iter=2000 if solver == "gd" else 100,
                            random_state=0).fit(Xs, y)
    if solver == "gd":  # full-batch gradient descent converges to the exact solution
        assert rel(ours.coef_, ref.coef_) < RTOL
    else:  # constant-step sgd hovers near it
        assert rel(ours.coef_, ref.coef_) < 0.05
    assert ours.loss_curve_[-1] < ours.loss_curve_[0] / 10


@pytest.mark.parametrize("alpha", [0.1, 3.0, 100.0])
def test_ridge_equals_sklearn(data, alpha):
    X, y, _, _ = data
    ours, ref = Ridge(alpha=alpha).fit(X, y), sk.Ridge(alpha=alpha).fit(X, y)
    assert rel(ours.coef_, ref.coef_) < RTOL
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=RTOL)


@pytest.mark.parametrize("alpha", [0.05, 0.3, 1.0])
def test_lasso_equals_sklearn_and_reaches_zeros(data, alpha):
    X, y, _, _ = data
    ours = Lasso(alpha=alpha, tol=1e-12, max_iter=20000).fit(X, y)
    ref = sk.Lasso(alpha=alpha, tol=1e-12, max_iter=100000).fit(X, y)
    assert rel(ours.coef_, ref.coef_) < RTOL
    assert ours.intercept_ == pytest.approx(ref.intercept_, rel=RTOL)
    assert np.array_equal(ours.coef_ == 0, ref.coef_ == 0)
    assert (ours.coef_ == 0).sum() >= 1  # feature 2 is useless: exactly zero


def test_lasso_large_alpha_zeros_everything(data):
    X, y, _, _ = data
    assert np.all(Lasso(alpha=1e3).fit(X, y).coef_ == 0)


@pytest.mark.parametrize("degree,include_bias,interaction_only",
                         [(1, True, False), (2, True, False), (3, False, False),
                          (3, True, True), (0, True, False)])
def test_polynomial_features_equals_sklearn(data, degree, include_bias, interaction_only):
    X = data[0][:7, :3]
    ours = PolynomialFeatures(degree, include_bias=include_bias,
                              interaction_only=interaction_only).fit(X)
    ref = skp.PolynomialFeatures(degree, include_bias=include_bias,
                                 interaction_only=interaction_only).fit(X)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-12)
    np.testing.assert_array_equal(ours.powers_, ref.powers_)


def _sk_logistic(penalty, C, **kw):
    if penalty is None:
        return sk.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000, **kw)
    if penalty == "l1":
        return sk.LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12,
                                     max_iter=100000, **kw)
    return sk.LogisticRegression(C=C, tol=1e-12, max_iter=10000, **kw)


@pytest.mark.parametrize("penalty,C,solver", [
    ("l2", 1.0, "newton"), ("l2", 0.05, "newton"), (None, 1.0, "newton"),
    ("l2", 0.5, "gd"), ("l1", 0.5, "gd"), ("l1", 0.05, "gd"),
])
def test_logistic_regression_equals_sklearn(data, penalty, C, solver):
    X, _, y, _ = data
    Xs = (X - X.mean(0)) / X.std(0)
    ours = LogisticRegression(penalty=penalty, C=C, solver=solver, tol=1e-11,
                              max_iter=50000).fit(Xs, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _sk_logistic(penalty, C).fit(Xs, y)
    assert rel(ours.coef_, ref.coef_) < RTOL
    assert ours.intercept_[0] == pytest.approx(ref.intercept_[0], rel=RTOL, abs=1e-8)
    np.testing.assert_allclose(ours.predict_proba(Xs), ref.predict_proba(Xs), atol=1e-6)
    if penalty == "l1":
        assert np.array_equal(ours.coef_ == 0, ref.coef_ == 0)


def test_logistic_l1_gives_exact_zeros(data):
    X, _, y, _ = data
    Xs = (X - X.mean(0)) / X.std(0)
    m = LogisticRegression(penalty="l1", C=0.1, solver="gd", tol=1e-9).fit(Xs, y)
    assert 0 < (m.coef_ == 0).sum() < X.shape[1]


def test_newton_needs_few_iterations_gd_many(data):
    X, _, y, _ = data
    X = (X - X.mean(0)) / X.std(0)
    newton = LogisticRegression(tol=1e-8).fit(X, y)
    gd = LogisticRegression(solver="gd", tol=1e-8, max_iter=3000).fit(X, y)
    assert newton.n_iter_ <= 10 < 100 < gd.n_iter_
    assert newton.loss_curve_[-1] <= gd.loss_curve_[-1] + 1e-9


@pytest.mark.parametrize("penalty,C,solver", [("l2", 1.0, "newton"), ("l2", 0.1, "gd"),
                                              ("l1", 0.5, "gd")])
def test_softmax_regression_equals_sklearn_multinomial(data, penalty, C, solver):
    X, _, _, y = data
    Xs = (X - X.mean(0)) / X.std(0)
    ours = SoftmaxRegression(penalty=penalty, C=C, solver=solver, tol=1e-11,
                             max_iter=50000).fit(Xs, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _sk_logistic(penalty, C).fit(Xs, y)
    assert ours.coef_.shape == ref.coef_.shape == (3, 5)
    assert rel(ours.coef_, ref.coef_) < RTOL
    assert rel(ours.intercept_, ref.intercept_) < RTOL
    np.testing.assert_allclose(ours.predict_proba(Xs), ref.predict_proba(Xs), atol=1e-6)


@pytest.mark.parametrize("cls", [LogisticRegression, SoftmaxRegression])
def test_sgd_solver_learns(data, cls):
    X, _, y, y3 = data
    y = y if cls is LogisticRegression else y3
    Xs = (X - X.mean(0)) / X.std(0)
    ref = cls().fit(Xs, y).score(Xs, y)
    m = cls(solver="sgd", max_iter=50, random_state=0).fit(Xs, y)
    assert m.score(Xs, y) >= ref - 0.05
    again = cls(solver="sgd", max_iter=50, random_state=0).fit(Xs, y)
    np.testing.assert_array_equal(m.coef_, again.coef_)  # the seed fixes the shuffling


def test_string_labels_and_classes(data):
    X, _, y, _ = data
    labels = np.array(["no", "yes"])[y]
    m = LogisticRegression().fit(X, labels)
    assert list(m.classes_) == ["no", "yes"]
    assert set(m.predict(X)) <= {"no", "yes"}


def test_binary_models_reject_multiclass(data):
    X, _, _, y = data
    for cls in (LogisticRegression, Perceptron):
        with pytest.raises(ValueError, match="Only binary"):
            cls().fit(X, y)


def test_clear_errors(data):
    X, y, yb, _ = data
    with pytest.raises(ValueError, match="solver must be"):
        LinearRegression(solver="magic").fit(X, y)
    with pytest.raises(ValueError, match="L1 penalty is not twice differentiable"):
        LogisticRegression(penalty="l1").fit(X, yb)
    with pytest.raises(ValueError, match="NaN"):
        Ridge().fit(np.where(X > 2, np.nan, X), y)
    m = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but LinearRegression is expecting 5"):
        m.predict(X[:, :3])
    with pytest.raises(ValueError, match="unknown parameter 'alpha'"):
        LinearRegression().set_params(alpha=1)


# ---------------------------------------------------------------- the estimator contract

# gd variants with fewer iterations: they only need to fit well, and the checks fit many times
ESTIMATORS = [LinearRegression(), LinearRegression(solver="gd", max_iter=100, tol=1e-5),
              Ridge(), Lasso(), PolynomialFeatures(), LogisticRegression(),
              LogisticRegression(solver="gd", max_iter=100, tol=1e-5),
              LogisticRegression(penalty="l1", solver="gd", max_iter=100, tol=1e-5),
              SoftmaxRegression(), Perceptron()]

# scikit-learn's check wants *its own* NotFittedError class; bricks does not depend on
# scikit-learn and raises bricks.classic.NotFittedError (also a ValueError and an
# AttributeError, like scikit-learn's), tested in test_not_fitted_error below.
EXPECTED_FAILED = {"check_estimators_unfitted":
                   "bricks raises its own NotFittedError, not sklearn's class"}


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_check_estimator(estimator):
    expected = EXPECTED_FAILED if hasattr(estimator, "predict") else {}
    # no warning filter here: check_supervised_y_2d records the DataConversionWarning
    results = check_estimator(estimator, expected_failed_checks=expected, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert failed == []
    ran = [r for r in results if r["status"] == "passed"]
    assert len(ran) >= 40


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_not_fitted_error(estimator):
    X = np.zeros((3, 5))
    for method in ("predict", "predict_proba", "decision_function", "transform"):
        if hasattr(estimator, method):
            with pytest.raises(NotFittedError, match="not fitted yet"):
                getattr(estimator, method)(X)


def test_get_set_params_round_trip():
    m = LogisticRegression(C=3.0, solver="gd")
    params = m.get_params()
    assert params["C"] == 3.0 and params["solver"] == "gd" and "penalty" in params
    clone = LogisticRegression(**params)
    assert clone.get_params() == params
    assert m.set_params(C=0.5) is m and m.C == 0.5
    assert repr(Ridge(alpha=2.0)) == "Ridge(alpha=2.0, fit_intercept=True)"


# ---------------------------------------------------------------- neurons and gates

def test_lecture_gates_truth_tables():
    assert gates.truth_table(gates.AND, 2)[:, -1].tolist() == [0, 0, 0, 1]
    assert gates.truth_table(gates.OR, 2)[:, -1].tolist() == [0, 1, 1, 1]
    assert gates.truth_table(gates.NOT, 1).tolist() == [[0, 1], [1, 0]]
    assert gates.truth_table(gates.NAND, 2)[:, -1].tolist() == [1, 1, 1, 0]
    for xor in (gates.xor_with_product_feature, gates.xor_two_layer):
        assert gates.truth_table(xor, 2)[:, -1].tolist() == [0, 1, 1, 0]
    assert gates.AND.weights == (1.0, 1.0) and gates.AND.threshold == 1.5
    assert gates.OR.threshold == 0.5 and gates.NOT.weights == (-1.0,)


def test_mcculloch_pitts_vectorized_and_arity():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(gates.OR(X[:, 0], X[:, 1]), [0, 1, 1, 1])
    with pytest.raises(TypeError, match="takes 2 input"):
        gates.AND(1)
    assert McCullochPitts([2, -1], 0.0)(1, 1) == 1


def test_no_single_neuron_computes_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([0, 1, 1, 0])
    grid = np.linspace(-2, 2, 17)
    best = max(float((McCullochPitts([a, b], t)(X[:, 0], X[:, 1]) == y).mean())
               for a in grid for b in grid for t in grid)
    assert best == 0.75


def test_perceptron_converges_on_separable_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (X @ [2.0, -1.0] + 0.3 > 0).astype(int)
    X = X[np.abs(X @ [2.0, -1.0] + 0.3) > 0.2]  # a margin: Novikoff's bound is finite
    y = (X @ [2.0, -1.0] + 0.3 > 0).astype(int)
    p = Perceptron(random_state=0, max_iter=1000).fit(X, y)
    assert p.errors_[-1] == 0 and p.n_iter_ < 1000
    assert p.score(X, y) == 1.0


def test_perceptron_rule_by_hand():
    # first sample misclassified (w = 0 gives y_hat = 0 for y = 1): w <- w + lr * x
    p = Perceptron(lr=0.5, max_iter=1, shuffle=False).fit(np.array([[1.0, 2.0], [-1.0, -1.0]]),
                                                          np.array([1, 0]))
    np.testing.assert_allclose(p.coef_[0], [0.5, 1.0])
    assert p.intercept_[0] == 0.5 and p.errors_ == [1]


def test_perceptron_never_converges_on_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5, dtype=float)
    y = np.array([0, 1, 1, 0] * 5)
    p = Perceptron(max_iter=50, random_state=0).fit(X, y)
    assert p.n_iter_ == 50 and min(p.errors_) > 0 and p.score(X, y) <= 0.75


# ---------------------------------------------------------------- n-grams

def test_ngram_counts_and_laplace():
    lm = NGramLanguageModel(n=2).fit(["a", "b", "a", "c"])
    # vocabulary a, b, c, <unk>: V = 4; count(a) as a context = 2; count(a, b) = 1
    assert lm.prob("b", ["a"]) == pytest.approx((1 + 1) / (2 + 4))
    assert lm.prob("zebra", ["a"]) == pytest.approx(1 / 6)
    mle = NGramLanguageModel(n=2, smoothing="none").fit(["a", "b", "a", "c"])
    assert mle.prob("b", ["a"]) == 0.5 and mle.perplexity("c a") == math.inf


def test_ngram_probabilities_sum_to_one():
    lm = NGramLanguageModel(n=3, smoothing="laplace", k=0.5).fit(bricks.classic.bundled_text())
    for ctx in (["the", "white"], ["down", ","], ["no", "such"]):
        assert sum(lm.prob(w, ctx) for w in lm.vocab_) == pytest.approx(1.0)


def test_ngram_perplexity_by_hand():
    lm = NGramLanguageModel(n=1, smoothing="none").fit("a a a b")
    assert lm.perplexity("a b") == pytest.approx(math.exp(-(math.log(0.75) + math.log(0.25)) / 2))


def test_ngram_training_perplexity_falls_with_n():
    text = bricks.classic.bundled_text()
    pp = [NGramLanguageModel(n=n, smoothing="none").fit(text).perplexity(text) for n in (1, 2, 3)]
    assert pp[0] > 2 * pp[1] > 2 * pp[2] > 2


def test_ngram_generate_seeded_and_greedy(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("the cat sat on the mat . the cat ran .", encoding="utf-8")
    lm = NGramLanguageModel.from_file(path, n=2)
    assert lm.generate("the cat", length=2, temperature=0) == "the cat ran."
    a = lm.generate("the", length=20, random_state=3)
    assert a == lm.generate("the", length=20, random_state=3)
    assert len(a.replace(".", " .").split()) == 21
    words = set(lm.vocab_)
    assert set(a.replace(".", " .").split()) <= words
    with pytest.raises(ValueError, match="not fitted"):
        NGramLanguageModel().generate("x")


def test_bundled_text_ships_with_its_note():
    from importlib import resources

    text = bricks.classic.bundled_text()
    assert text.startswith("Alice was beginning") and len(text.split()) > 900
    note = resources.files("bricks.classic").joinpath("texts/README.txt").read_text()
    assert "1865" in note and "public domain" in note
