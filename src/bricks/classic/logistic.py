"""Logistic and softmax regression: linear classifiers trained by maximum likelihood.

Binary: ``p(y=1 | x) = sigma(x . w + b)`` with ``sigma(z) = 1 / (1 + e^-z)``; the negative
log-likelihood is the cross-entropy ``l(z, y) = log(1 + e^z) - y z``.  Multinomial (softmax):
``p(y=k | x) = exp(z_k) / sum_j exp(z_j)`` with ``z = W x + b``.

Both minimize scikit-learn's objective ``C sum_i l_i + R(w)`` with ``R = ||w||^2 / 2`` (L2),
``||w||_1`` (L1) or 0 (none) and the intercept never penalized; internally it is divided by
``C n`` (same minimizer), so the loss curves read as a mean cross-entropy:
``J = (1/n) sum_i l_i + R(w) / (C n)``.
"""

from __future__ import annotations

from bricks.backend import xp
from bricks.classic._base import (
    BaseEstimator,
    ClassifierMixin,
    auto_lr,
    check_random_state,
    descend,
    soft_threshold,
)

__all__ = ["LogisticRegression", "SoftmaxRegression"]


def _sigmoid(z):
    # exp of a non-positive number only: no overflow for large |z|
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(Z):
    E = xp.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


class _LogisticBase(ClassifierMixin, BaseEstimator):
    def __init__(self, penalty: str | None = "l2", C: float = 1.0, solver: str = "newton",
                 fit_intercept: bool = True, lr="auto", max_iter: int = 1000,
                 tol: float = 1e-8, batch_size: int = 32, random_state=None):
        self.penalty = penalty
        self.C = C
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.lr = lr
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_params(self):
        who = type(self).__name__
        if self.penalty not in ("l2", "l1", None):
            raise ValueError(f"{who}: penalty must be 'l2', 'l1' or None, got {self.penalty!r}")
        if self.solver not in ("newton", "gd", "sgd"):
            raise ValueError(f"{who}: solver must be 'newton', 'gd' or 'sgd', "
                             f"got {self.solver!r}")
        if self.penalty == "l1" and self.solver == "newton":
            raise ValueError(f"{who}: the L1 penalty is not twice differentiable, so Newton "
                             "does not apply; use solver='gd' (proximal gradient) or 'sgd'")
        if not self.C > 0:
            raise ValueError(f"{who}: C must be positive, got {self.C!r}")

    def _strength(self, n):
        """The penalty weight ``1/(C n)`` of the mean-scaled objective (0 without penalty)."""
        return 0.0 if self.penalty is None else 1.0 / (float(self.C) * n)

    def _design(self, X):
        return xp.hstack([X, xp.ones((X.shape[0], 1))]) if self.fit_intercept else X

    def fit(self, X, y):
        """Fit to ``X`` (n_samples, n_features) and labels ``y`` (n_samples,); returns self."""
        self._check_params()
        X = self._validate_X(X, reset=True)
        codes = self._encode_labels(y, X.shape[0])
        A = self._design(X)
        theta = self._init_theta(A.shape[1])
        lam = self._strength(X.shape[0])
        mask = xp.ones(A.shape[1])
        if self.fit_intercept:
            mask[-1] = 0.0  # the intercept is not penalized
        if self.solver == "newton":
            theta = self._newton(A, codes, theta, lam, mask)
        else:
            theta = self._descent(A, codes, theta, lam, mask)
        self._set_coef(theta)
        return self

    def _objective_np(self, A, codes, theta, lam, mask):
        data = self._nll(A, codes, theta)
        if self.penalty == "l2":
            return data + 0.5 * lam * float(((theta * mask) ** 2).sum())
        if self.penalty == "l1":
            return data + lam * float(xp.abs(theta * mask).sum())
        return data

    def _newton(self, A, codes, theta, lam, mask):
        """IRLS: ``theta <- theta - H^-1 g`` with the Hessian ``X^T S X / n + lam I``.

        A backtracking line search halves the step while the objective rises (Newton's full
        step can overshoot far from the minimum).
        """
        losses = [self._objective_np(A, codes, theta, lam, mask)]
        self.n_iter_ = 0
        for it in range(1, int(self.max_iter) + 1):
            g, H = self._grad_hess(A, codes, theta)
            if self.penalty == "l2":
                g = g + lam * (mask * theta).reshape(g.shape)
                H = H + lam * xp.diag(xp.broadcast_to(mask, theta.shape).reshape(-1))
            self.n_iter_ = it
            if float(xp.max(xp.abs(g))) <= self.tol:
                break
            step = self._newton_step(H, g.reshape(-1), mask).reshape(theta.shape)
            t = 1.0
            while True:
                new = theta - t * step
                loss = self._objective_np(A, codes, new, lam, mask)
                if loss <= losses[-1] + 1e-12 * abs(losses[-1]) or t < 1e-10:
                    break
                t *= 0.5
            theta = new
            losses.append(loss)
            if float(xp.max(xp.abs(t * step))) <= self.tol * 1e-3:
                break
        self.loss_curve_ = losses
        return theta

    def _descent(self, A, codes, theta0, lam, mask):
        from bricks.nn import Parameter

        theta = Parameter(theta0.copy())
        mask_c = mask
        penalty = self.penalty

        def objective(ps, ab, cb):
            data = self._nll_tensor(ab, cb, ps[0])
            if penalty == "l2":
                return data + (ps[0] * ps[0] * mask_c).sum() * (0.5 * lam)
            return data  # the L1 part is handled by the proximal step

        def prox(lr):
            # proximal gradient for the L1 part: soft-threshold the penalized weights
            shrunk = soft_threshold(theta.data, lr * lam)
            theta.data[...] = xp.where(mask_c > 0, shrunk, theta.data)

        codes_arr = self._codes_for_tensor(codes)
        lr = auto_lr(self.lr, A, self._curvature, lam if penalty == "l2" else 0.0, self.solver)
        self.n_iter_, curve = descend(
            objective, [theta], A, codes_arr, self.solver, lr, self.max_iter, self.tol,
            self.batch_size, check_random_state(self.random_state),
            prox=prox if penalty == "l1" else None,
            report=lambda: self._objective_np(A, codes, theta.data, lam, mask))
        self.loss_curve_ = curve
        return theta.data.copy()

    def _newton_step(self, H, g, mask):
        """``H^-1 g``; least squares when H is singular (e.g. duplicated features)."""
        try:
            return xp.linalg.solve(H, g)
        except xp.linalg.LinAlgError:
            return xp.linalg.lstsq(H, g, rcond=None)[0]

    def predict(self, X):
        """The most probable class of each row."""
        self._check_fitted()
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_log_proba(self, X):
        """``log predict_proba(X)``."""
        return xp.log(self.predict_proba(X))


class LogisticRegression(_LogisticBase):
    """Binary logistic regression with L2, L1 or no penalty (scikit-learn's objective).

    ``p = sigma(X w + b)``; minimize ``C sum_i [log(1 + e^{z_i}) - y_i z_i] + R(w)``.

    * ``solver='newton'``: iteratively reweighted least squares, Newton's method with the
      gradient ``X^T (p - y)`` and the Hessian ``X^T S X`` (``S = diag(p_i (1 - p_i))``)
      plus the L2 term; a handful of iterations reach machine precision.
    * ``'gd'`` / ``'sgd'``: bricks autograd and :class:`bricks.optim.SGD` on the mean loss
      (``binary_cross_entropy_with_logits``); with L1, proximal gradient descent
      (a soft-thresholding step after each gradient step, which gives exact zeros).

    Args:
        penalty: ``'l2'``, ``'l1'`` or None.
        C: inverse penalty strength (larger C, weaker penalty).
        solver: ``'newton'``, ``'gd'`` or ``'sgd'`` (L1 needs gd or sgd).
        fit_intercept, lr, max_iter, tol, batch_size, random_state: as in LinearRegression
            (``lr='auto'``: ``1/L`` with ``L = lambda_max(X^T X / n) / 4`` plus the L2 term);
            Newton stops when the largest gradient entry is below ``tol``, gd/sgd when no
            weight moves by more than ``tol``.

    Attributes:
        coef_ (1, n_features), intercept_ (1,), classes_, n_iter_, loss_curve_ (the
        objective J after each iteration).

    Example:
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
        >>> m = bricks.classic.LogisticRegression(C=10.0).fit(X, y)
        >>> m.predict(X).tolist(), m.predict_proba([[1.5]]).round(3).tolist()
        ([0, 0, 1, 1], [[0.5, 0.5]])
    """

    _binary_only = True
    _curvature = 0.25  # sigma' <= 1/4

    def _init_theta(self, p):
        return xp.zeros(p)

    def _nll(self, A, codes, theta):
        z = A @ theta
        return float((xp.logaddexp(0.0, z) - codes * z).mean())

    def _grad_hess(self, A, codes, theta):
        p = _sigmoid(A @ theta)
        n = A.shape[0]
        g = A.T @ (p - codes) / n
        H = (A.T * (p * (1.0 - p))) @ A / n
        return g, H

    def _codes_for_tensor(self, codes):
        return codes.astype(xp.float64)

    def _nll_tensor(self, ab, cb, theta):
        from bricks.nn.functional import binary_cross_entropy_with_logits

        return binary_cross_entropy_with_logits(ab @ theta, cb)

    def _set_coef(self, theta):
        if self.fit_intercept:
            self.coef_, self.intercept_ = theta[None, :-1].copy(), theta[-1:].copy()
        else:
            self.coef_, self.intercept_ = theta[None, :].copy(), xp.zeros(1)

    def decision_function(self, X):
        """The logit ``z = X w + b`` (positive: class ``classes_[1]``), shape (n_samples,)."""
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X):
        """``[1 - p, p]`` per row, ``p = sigma(X w + b)``; shape (n_samples, 2)."""
        p = _sigmoid(self.decision_function(X))
        return xp.stack([1.0 - p, p], axis=1)


class SoftmaxRegression(_LogisticBase):
    """Multinomial logistic regression: ``p(y=k | x) = softmax(W x + b)_k``.

    Minimizes ``C sum_i -log p(y_i | x_i) + R(W)`` (scikit-learn's multinomial objective).
    Newton uses the full Hessian ``sum_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T`` (K d
    parameters; fine for the few hundred of the digits); the softmax is unchanged when the
    same vector is added to every class, so the Newton step is the least-squares solution.
    gd/sgd use ``bricks.nn.functional.cross_entropy`` and SGD (proximal for L1).

    Args: as :class:`LogisticRegression`.

    Attributes:
        coef_ (n_classes, n_features), intercept_ (n_classes,), classes_, n_iter_, loss_curve_.

    Example:
        >>> X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [20.0], [21.0]])
        >>> y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
        >>> m = bricks.classic.SoftmaxRegression(C=100.0).fit(X, y)
        >>> m.predict(X).tolist(), m.predict_proba(X).sum(axis=1).round(6).tolist()[:2]
        ([0, 0, 0, 1, 1, 1, 2, 2], [1.0, 1.0])
    """

    _curvature = 0.5  # the softmax Hessian diag(p) - p p^T has eigenvalues <= 1/2

    def _init_theta(self, p):
        return xp.zeros((len(self.classes_), p))

    def _nll(self, A, codes, theta):
        Z = A @ theta.T
        zmax = Z.max(axis=1)
        lse = zmax + xp.log(xp.exp(Z - zmax[:, None]).sum(axis=1))
        return float((lse - Z[xp.arange(len(codes)), codes]).mean())

    def _grad_hess(self, A, codes, theta):
        n, d = A.shape
        K = theta.shape[0]
        P = _softmax(A @ theta.T)
        Y = xp.zeros_like(P)
        Y[xp.arange(n), codes] = 1.0
        g = (P - Y).T @ A / n  # (K, d)
        # H = sum_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T = blockdiag(A^T diag(P_k) A) - B^T B
        B = (P[:, :, None] * A[:, None, :]).reshape(n, K * d)
        H = -(B.T @ B)
        for k in range(K):
            H[k * d:(k + 1) * d, k * d:(k + 1) * d] += (A.T * P[:, k]) @ A
        return g, H / n

    def _newton_step(self, H, g, mask):
        # Adding the same vector to every class's unpenalized weights (the intercepts; all
        # weights without a penalty) leaves the softmax unchanged: H is singular along
        # u = 1_K (x) e_j.  The gradient is orthogonal to these u, so adding u u^T / K to H
        # makes it invertible and gives the minimum-norm Newton step (it keeps sum_k b_k = 0).
        K = H.shape[0] // len(mask)
        free = xp.ones(len(mask)) if self.penalty != "l2" else 1.0 - mask
        return super()._newton_step(H + xp.kron(xp.ones((K, K)) / K, xp.diag(free)), g, mask)

    def _codes_for_tensor(self, codes):
        return codes.astype(xp.int64)

    def _nll_tensor(self, ab, cb, theta):
        from bricks.nn.functional import cross_entropy

        return cross_entropy(ab @ theta.T, cb)

    def _set_coef(self, theta):
        if self.fit_intercept:
            self.coef_, self.intercept_ = theta[:, :-1].copy(), theta[:, -1].copy()
        else:
            self.coef_, self.intercept_ = theta.copy(), xp.zeros(theta.shape[0])

    def _scores(self, X):
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        return X @ self.coef_.T + self.intercept_

    def decision_function(self, X):
        """The class scores ``z = X W^T + b``, shape (n_samples, n_classes); with two
        classes the margin ``z_1 - z_0``, shape (n_samples,) (scikit-learn's convention)."""
        Z = self._scores(X)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X):
        """``softmax(X W^T + b)`` per row, shape (n_samples, n_classes)."""
        return _softmax(self._scores(X))
