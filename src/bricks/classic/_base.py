"""The scikit-learn estimator contract, written out so bricks does not depend on scikit-learn.

``get_params`` / ``set_params`` read the ``__init__`` signature (as scikit-learn's
``BaseEstimator`` does), ``score`` is accuracy for classifiers and R^2 for regressors, and the
input checks raise the errors scikit-learn's ``check_estimator`` expects (NaN, sparse,
complex, empty or 1-D input, a different number of features than at fit time).
``__sklearn_tags__`` imports scikit-learn lazily: only scikit-learn itself calls it.
"""

from __future__ import annotations

import inspect
import warnings

from bricks.backend import xp

__all__ = [
    "BaseEstimator", "ClassifierMixin", "RegressorMixin", "TransformerMixin",
    "NotFittedError", "DataConversionWarning", "check_X", "check_y", "check_random_state",
    "descend", "soft_threshold", "auto_lr",
]


class NotFittedError(ValueError, AttributeError):
    """Raised when ``predict`` (or ``transform``, ...) is called before ``fit``."""


class DataConversionWarning(UserWarning):
    """Warns that the input was converted, e.g. a column-vector y raveled to 1-D."""


class BaseEstimator:
    """Parameters are the ``__init__`` arguments, stored unchanged; fitted state ends in ``_``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return sorted(p.name for p in sig.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments as a dict (``deep`` is accepted for scikit-learn)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments by name; an unknown name raises ``ValueError``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__}.set_params: unknown parameter "
                                 f"{name!r}; valid parameters: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    input_tags=InputTags())

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 "call fit(X, y) first")

    def _validate_X(self, X, reset: bool):
        X = check_X(X, type(self).__name__)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        return X


class RegressorMixin:
    """``score`` is the coefficient of determination R^2 = 1 - SS_res / SS_tot."""

    def score(self, X, y) -> float:
        """R^2 of ``predict(X)`` against ``y`` (1.0 is perfect, 0.0 predicts the mean)."""
        y = check_y(y, type(self).__name__, numeric=True)
        pred = self.predict(X)
        ss_res = float(((y - pred) ** 2).sum())
        ss_tot = float(((y - y.mean()) ** 2).sum())
        if ss_tot == 0.0:
            return 1.0 if ss_res == 0.0 else 0.0
        return 1.0 - ss_res / ss_tot

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        return tags


class ClassifierMixin:
    """``score`` is the accuracy, the fraction of correct predictions."""

    _binary_only = False

    def score(self, X, y) -> float:
        """Mean accuracy of ``predict(X)`` against ``y``."""
        y = check_y(y, type(self).__name__)
        return float((self.predict(X) == y).mean())

    def _encode_labels(self, y, n_samples):
        y = check_y(y, type(self).__name__, n_samples=n_samples)
        if y.dtype.kind == "f" and not xp.all(y == xp.round(y)):
            raise ValueError(f"{type(self).__name__}: Unknown label type: continuous "
                             "targets; a classifier needs class labels")
        classes, encoded = xp.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes "
                             f"in the data, but the data contain only one class: {classes[0]}")
        if self._binary_only and len(classes) > 2:
            raise ValueError(f"{type(self).__name__}: Only binary classification is supported. "
                             f"y has {len(classes)} classes; use SoftmaxRegression")
        self.classes_ = classes
        return encoded.reshape(-1)

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=not self._binary_only)
        tags.target_tags.required = True
        return tags


class TransformerMixin:
    """``fit_transform(X) = fit(X).transform(X)``."""

    def fit_transform(self, X, y=None):
        """Fit to ``X``, then transform it."""
        return self.fit(X, y).transform(X)

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags


def _is_sparse(a) -> bool:
    return hasattr(a, "tocsr") or hasattr(a, "toarray")


def check_X(X, who: str):
    """``X`` as a finite 2-D float64 array, or a clear error saying what is wrong."""
    if X is None:
        raise ValueError(f"{who}: expected a 2-D array X, got None")
    if _is_sparse(X):
        raise TypeError(f"{who}: sparse input is not supported; pass X.toarray()")
    arr = xp.asarray(X)
    if arr.dtype.kind == "c":
        raise ValueError(f"{who}: Complex data not supported")
    if arr.ndim != 2:
        raise ValueError(f"{who}: Expected 2D array, got {arr.ndim}D array instead. "
                         "Reshape your data with X.reshape(-1, 1) for a single feature or "
                         "X.reshape(1, -1) for a single sample")
    arr = arr.astype(xp.float64)
    if arr.shape[0] == 0:
        raise ValueError(f"{who}: Found array with 0 sample(s) (shape={arr.shape}) while a "
                         "minimum of 1 is required.")
    if arr.shape[1] == 0:
        raise ValueError(f"{who}: Found array with 0 feature(s) (shape={arr.shape}) while a "
                         "minimum of 1 is required.")
    if not xp.all(xp.isfinite(arr)):
        raise ValueError(f"{who}: Input X contains NaN or infinity")
    return arr


def check_y(y, who: str, numeric: bool = False, n_samples: int | None = None):
    """``y`` as a 1-D array (a column vector is raveled with a warning)."""
    if y is None:
        raise ValueError(f"{who} requires y to be passed, but the target y is None")
    if _is_sparse(y):
        raise TypeError(f"{who}: sparse y is not supported")
    arr = xp.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(DataConversionWarning(
            "A column-vector y was passed when a 1d array was expected; y is raveled to "
            "shape (n_samples,)"), stacklevel=3)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{who}: y should be a 1d array, got shape {arr.shape}")
    if numeric or arr.dtype.kind in "fc":
        if arr.dtype.kind == "c":
            raise ValueError(f"{who}: Complex data not supported")
        arr = arr.astype(xp.float64)
        if not xp.all(xp.isfinite(arr)):
            raise ValueError(f"{who}: Input y contains NaN or infinity")
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{who}: X has {n_samples} samples but y has {arr.shape[0]}; "
                         "Found input variables with inconsistent numbers of samples")
    return arr


def check_random_state(seed):
    """A NumPy Generator: ``None`` draws from bricks' global generator (``manual_seed``)."""
    if seed is None:
        from bricks.backend import default_generator

        return xp.random.default_rng(int(default_generator().integers(2**63 - 1)))
    return xp.random.default_rng(seed)


def descend(objective, params, X, y, solver: str, lr: float, max_iter: int, tol: float,
            batch_size: int, rng, prox=None, report=None):
    """Minimize ``objective(params, X, y)`` (a scalar Tensor) with bricks' autograd and SGD.

    ``solver='gd'`` takes one full-batch step per iteration, ``'sgd'`` one pass of shuffled
    mini-batches of ``batch_size``.  ``prox(lr)`` (e.g. soft-thresholding for an L1
    penalty) runs after every step: proximal gradient descent.  ``report()`` (default: the
    objective on all data) is recorded after each iteration.  Stops when no parameter
    moves by more than ``tol`` in an iteration.

    Returns:
        ``(n_iter, losses)``: iterations run and the full-data objective before the first
        and after each (``n_iter + 1`` values).
    """
    from bricks.autograd import no_grad
    from bricks.optim import SGD
    from bricks.tensor import tensor

    if solver not in ("gd", "sgd"):
        raise ValueError(f"solver must be 'gd' or 'sgd' here, got {solver!r}")
    if lr == "auto":
        raise ValueError("lr='auto' must be resolved by the estimator (see auto_lr)")
    if not lr > 0:
        raise ValueError(f"lr must be positive or 'auto', got {lr!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    opt = SGD(params, lr=lr)
    Xt, yt = tensor(X), tensor(y)
    n = X.shape[0]

    def current():
        with no_grad():
            if report is not None:
                return float(report())
            return float(objective(params, Xt, yt).item())

    losses, n_iter = [current()], 0
    for n_iter in range(1, int(max_iter) + 1):  # noqa: B007 - n_iter is returned
        before = [p.data.copy() for p in params]
        if solver == "gd":
            batches = [(Xt, yt)]
        else:
            order = rng.permutation(n)
            batches = [(tensor(X[idx]), tensor(y[idx]))
                       for idx in (order[i:i + int(batch_size)]
                                   for i in range(0, n, int(batch_size)))]
        for xb, yb in batches:
            opt.zero_grad()
            objective(params, xb, yb).backward()
            opt.step()
            if prox is not None:
                with no_grad():
                    prox(lr)
        losses.append(current())
        if not xp.isfinite(losses[-1]):
            raise ValueError(f"gradient descent diverged (loss {losses[-1]}); lower lr")
        moved = max(float(xp.max(xp.abs(p.data - b), initial=0.0))
                    for p, b in zip(params, before))
        if moved <= tol:
            break
    return n_iter, losses


def auto_lr(lr, A, curvature: float, extra: float = 0.0, solver: str = "gd"):
    """``lr``, or for ``lr='auto'`` the classic safe step ``1 / L`` of gradient descent.

    L bounds the curvature (Hessian eigenvalues) of the mean loss over the rows of A:
    ``L = curvature * lambda_max(A^T A / n) + extra`` (curvature 2 for the squared error,
    1/4 for the logistic loss, 1/2 for softmax; ``extra`` the L2 term).  sgd takes half that
    step, since a mini-batch can be more curved than the whole data.
    """
    if lr != "auto":
        return lr
    top = float(xp.linalg.eigvalsh(A.T @ A / A.shape[0])[-1])
    L = curvature * top + extra
    step = 1.0 / L if L > 0 else 1.0
    return step if solver == "gd" else 0.5 * step


def soft_threshold(w, t):
    """The proximal map of ``t * ||w||_1``: ``sign(w) * max(|w| - t, 0)`` (exact zeros)."""
    return xp.sign(w) * xp.maximum(xp.abs(w) - t, 0.0) + 0.0  # + 0.0: no -0.0
