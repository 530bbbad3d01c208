"""Linear regression three ways, Ridge, Lasso and polynomial features (scikit-learn's API).

The model is ``y_hat = X w + b``, fitted by least squares: minimize
``||y - X w - b||^2``.  Setting the gradient to zero gives the normal equation
``X^T X w = X^T y``, i.e. ``w = (X^T X)^-1 X^T y``; it is solved here by a least-squares
routine (an orthogonal factorization), never by inverting ``X^T X``, whose condition
number is the square of X's.
"""

from __future__ import annotations

import itertools

from bricks.backend import xp
from bricks.classic._base import (
    BaseEstimator,
    RegressorMixin,
    TransformerMixin,
    auto_lr,
    check_random_state,
    check_y,
    descend,
)

__all__ = ["LinearRegression", "Ridge", "Lasso", "PolynomialFeatures"]


def _center(X, y, fit_intercept: bool):
    """Center X and y when an intercept is fitted: then ``b = mean(y) - mean(X) w``."""
    if not fit_intercept:
        return X, y, xp.zeros(X.shape[1]), 0.0
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    return X - x_mean, y - y_mean, x_mean, y_mean


class _LinearModel(RegressorMixin, BaseEstimator):
    def _prepare(self, X, y):
        X = self._validate_X(X, reset=True)
        y = check_y(y, type(self).__name__, numeric=True, n_samples=X.shape[0])
        return X, y

    def predict(self, X):
        """``X w + b`` for each row of X (shape (n_samples,))."""
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        return X @ self.coef_ + self.intercept_


class LinearRegression(_LinearModel):
    """Ordinary least squares: minimize ``(1/n) sum_i (y_i - x_i . w - b)^2``.

    ``solver='normal'`` solves the normal equation ``w = (X^T X)^-1 X^T y`` stably (least
    squares on centered data, the minimum-norm solution when X is rank deficient).
    ``'gd'`` and ``'sgd'`` learn w and b as bricks Parameters with the MSE loss, autograd and
    :class:`bricks.optim.SGD`: ``w <- w - lr * dL/dw`` on the full data (gd) or on shuffled
    mini-batches of ``batch_size`` (sgd).

    Args:
        solver: ``'normal'``, ``'gd'`` or ``'sgd'``.
        fit_intercept: learn ``b`` (else ``b = 0``).
        lr: learning rate of gd/sgd; ``'auto'`` takes the safe step ``1/L``, L the largest
            curvature of the loss (``2 lambda_max(X^T X / n)``; half that step for sgd).
        max_iter: iterations (gd) or epochs (sgd).
        tol: gd/sgd stop when no parameter moves by more than ``tol`` in an iteration.
        batch_size: mini-batch size of sgd.
        random_state: seed of sgd's shuffling (None: bricks' global generator).

    Attributes:
        coef_ (n_features,), intercept_ (float), n_features_in_, n_iter_, loss_curve_ (gd/sgd).

    Example:
        >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
        >>> m = bricks.classic.LinearRegression().fit(X, y)
        >>> np.round(m.coef_, 6).tolist(), round(m.intercept_, 6), m.score(X, y)
        ([2.0], 1.0, 1.0)
    """

    def __init__(self, solver: str = "normal", fit_intercept: bool = True, lr="auto",
                 max_iter: int = 1000, tol: float = 1e-7, batch_size: int = 32,
                 random_state=None):
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y):
        """Fit w and b to ``X`` (n_samples, n_features) and ``y`` (n_samples,); returns self."""
        X, y = self._prepare(X, y)
        if self.solver == "normal":
            Xc, yc, x_mean, y_mean = _center(X, y, self.fit_intercept)
            self.coef_ = xp.linalg.lstsq(Xc, yc, rcond=None)[0]
            self.intercept_ = float(y_mean - x_mean @ self.coef_)
            self.n_iter_ = 1
        elif self.solver in ("gd", "sgd"):
            self._fit_descent(X, y)
        else:
            raise ValueError(f"LinearRegression: solver must be 'normal', 'gd' or 'sgd', "
                             f"got {self.solver!r}")
        return self

    def _fit_descent(self, X, y):
        from bricks.nn import Parameter
        from bricks.nn.functional import mse_loss

        w = Parameter(xp.zeros(X.shape[1]))
        b = Parameter(xp.zeros(1))
        params = [w, b] if self.fit_intercept else [w]

        def objective(ps, xb, yb):
            pred = xb @ ps[0] + ps[1] if self.fit_intercept else xb @ ps[0]
            return mse_loss(pred, yb)

        A = xp.hstack([X, xp.ones((X.shape[0], 1))]) if self.fit_intercept else X
        lr = auto_lr(self.lr, A, 2.0, solver=self.solver)
        self.n_iter_, self.loss_curve_ = descend(
            objective, params, X, y, self.solver, lr, self.max_iter, self.tol,
            self.batch_size, check_random_state(self.random_state))
        self.coef_ = w.data.copy()
        self.intercept_ = float(b.data[0]) if self.fit_intercept else 0.0


class Ridge(_LinearModel):
    """Least squares with an L2 penalty: minimize ``||y - X w - b||^2 + alpha ||w||^2``.

    The penalty (weight decay) shrinks w and makes the problem well posed even when
    ``X^T X`` is singular: ``w = (X^T X + alpha I)^-1 X^T y``, solved as the least-squares
    problem ``[X; sqrt(alpha) I] w = [y; 0]`` (no inverse, no squared condition number).
    The intercept is not penalized (scikit-learn's objective, same coefficients).

    Example:
        >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
        >>> round(float(bricks.classic.Ridge(alpha=1.0).fit(X, y).coef_[0]), 6)  # 4/(2+1)
        1.333333
    """

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        """Fit w and b; returns self."""
        if not self.alpha >= 0:
            raise ValueError(f"Ridge: alpha must be >= 0, got {self.alpha!r}")
        X, y = self._prepare(X, y)
        Xc, yc, x_mean, y_mean = _center(X, y, self.fit_intercept)
        d = X.shape[1]
        A = xp.concatenate([Xc, xp.sqrt(float(self.alpha)) * xp.eye(d)])
        rhs = xp.concatenate([yc, xp.zeros(d)])
        self.coef_ = xp.linalg.lstsq(A, rhs, rcond=None)[0]
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        return self


class Lasso(_LinearModel):
    """Least squares with an L1 penalty, by coordinate descent with soft-thresholding.

    Minimizes scikit-learn's objective ``1/(2n) ||y - X w - b||^2 + alpha ||w||_1``.  One
    coordinate at a time has a closed-form minimizer:
    ``w_j = S(x_j^T r_j / n, alpha) / (x_j^T x_j / n)`` with ``r_j`` the residual without
    feature j and ``S(z, t) = sign(z) max(|z| - t, 0)``, so weights become exactly zero:
    the L1 penalty selects features.

    Args:
        alpha: penalty strength.
        fit_intercept: learn ``b`` (not penalized).
        max_iter: sweeps over the coordinates.
        tol: stop when no weight changes by more than ``tol * max(1, max|w|)`` in a sweep.

    Example:
        >>> X = np.array([[1.0, 0.3], [2.0, -0.1], [3.0, 0.2], [4.0, 0.0]])
        >>> m = bricks.classic.Lasso(alpha=0.1).fit(X, 2 * X[:, 0])
        >>> float(m.coef_[1])  # the useless feature is dropped exactly
        0.0
    """

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, max_iter: int = 1000,
                 tol: float = 1e-4):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        """Fit w and b; returns self."""
        if not self.alpha >= 0:
            raise ValueError(f"Lasso: alpha must be >= 0, got {self.alpha!r}")
        X, y = self._prepare(X, y)
        Xc, yc, x_mean, y_mean = _center(X, y, self.fit_intercept)
        n, d = Xc.shape
        col_sq = (Xc ** 2).sum(axis=0) / n
        w = xp.zeros(d)
        r = yc.copy()  # residual y - X w, kept up to date
        self.n_iter_ = 0
        for sweep in range(1, int(self.max_iter) + 1):
            largest = 0.0
            for j in range(d):
                if col_sq[j] == 0.0:
                    continue
                old = w[j]
                z = Xc[:, j] @ r / n + col_sq[j] * old
                w[j] = xp.sign(z) * max(abs(z) - self.alpha, 0.0) / col_sq[j] + 0.0  # no -0.0
                if w[j] != old:
                    r -= Xc[:, j] * (w[j] - old)
                    largest = max(largest, abs(w[j] - old))
            self.n_iter_ = sweep
            if largest <= self.tol * max(1.0, float(xp.max(xp.abs(w)))):
                break
        self.coef_ = w
        self.intercept_ = float(y_mean - x_mean @ w)
        return self


class PolynomialFeatures(TransformerMixin, BaseEstimator):
    """All monomials of the features up to ``degree``, in scikit-learn's column order.

    For features (a, b) and degree 2: ``[1, a, b, a^2, a b, b^2]`` (bias, then degree 1,
    then degree 2, each in lexicographic order of the index tuples).  A linear model on
    these columns fits a polynomial: ``y = w_0 + w_1 x + ... + w_M x^M``.

    Args:
        degree: the highest total degree.
        include_bias: include the constant column of ones.
        interaction_only: only products of distinct features (no ``a^2``).

    Attributes:
        powers_ (n_output_features_, n_features_in_): exponent of each input in each column.

    Example:
        >>> bricks.classic.PolynomialFeatures(2).fit_transform(np.array([[2.0, 3.0]]))
        array([[1., 2., 3., 4., 6., 9.]])
    """

    def __init__(self, degree: int = 2, include_bias: bool = True,
                 interaction_only: bool = False):
        self.degree = degree
        self.include_bias = include_bias
        self.interaction_only = interaction_only

    def fit(self, X, y=None):
        """Record the number of features and the exponents of the output columns."""
        if int(self.degree) != self.degree or self.degree < 0:
            raise ValueError(f"PolynomialFeatures: degree must be a non-negative integer, "
                             f"got {self.degree!r}")
        X = self._validate_X(X, reset=True)
        d = X.shape[1]
        pick = itertools.combinations if self.interaction_only else \
            itertools.combinations_with_replacement
        combos = [()] if self.include_bias else []
        for deg in range(1, int(self.degree) + 1):
            combos += list(pick(range(d), deg))
        powers = xp.zeros((len(combos), d), dtype=xp.int64)
        for row, combo in enumerate(combos):
            for j in combo:
                powers[row, j] += 1
        self.powers_ = powers
        self.n_output_features_ = len(combos)
        return self

    def transform(self, X):
        """The monomial columns of X, shape (n_samples, n_output_features_)."""
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        out = xp.ones((X.shape[0], self.n_output_features_))
        for row, p in enumerate(self.powers_):
            for j in xp.nonzero(p)[0]:
                out[:, row] *= X[:, j] ** int(p[j])
        return out
