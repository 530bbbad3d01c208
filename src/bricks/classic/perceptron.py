"""The first neurons: McCulloch and Pitts' threshold unit (1943) and Rosenblatt's perceptron
(1958), which learns the weights of such a unit from examples.
"""

from __future__ import annotations

from bricks.backend import xp
from bricks.classic._base import BaseEstimator, ClassifierMixin, check_random_state

__all__ = ["McCullochPitts", "Perceptron"]


class McCullochPitts:
    """A threshold neuron with fixed weights: ``y = 1 if sum_i w_i x_i - theta > 0 else 0``.

    The lecture's gates are such neurons (see :mod:`bricks.classic.gates`): AND is
    ``x1 + x2 - 3/2 > 0`` (weights (1, 1), threshold 3/2), OR ``x1 + x2 - 1/2 > 0``, NOT
    ``-x1 + 1/2 > 0`` (weight -1, threshold -1/2).

    Args:
        weights: one weight per input.
        threshold: the neuron fires when the weighted sum exceeds it.

    Call it with one value (or array) per input; it returns 0/1 ints.

    Example:
        >>> AND = bricks.classic.McCullochPitts([1, 1], 1.5)
        >>> [AND(a, b) for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]]
        [0, 0, 0, 1]
    """

    def __init__(self, weights, threshold: float, name: str | None = None):
        self.weights = tuple(float(w) for w in weights)
        self.threshold = float(threshold)
        self.name = name

    def __call__(self, *inputs):
        if len(inputs) != len(self.weights):
            raise TypeError(f"{self!r} takes {len(self.weights)} input(s), got {len(inputs)}")
        total = sum(w * xp.asarray(x, dtype=xp.float64) for w, x in zip(self.weights, inputs))
        out = (total - self.threshold > 0).astype(xp.int64)
        return int(out) if out.ndim == 0 else out

    def __repr__(self) -> str:
        label = f"{self.name}: " if self.name else ""
        return f"McCullochPitts({label}weights={self.weights}, threshold={self.threshold})"


class Perceptron(ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron, a binary linear classifier ``y_hat = step(w . x + b)``.

    Learning rule (Hebb-style, only on mistakes): for each sample, in shuffled order,
    ``w <- w + lr (y - y_hat) x`` and ``b <- b + lr (y - y_hat)`` with y, y_hat in {0, 1}.
    On linearly separable data it stops after finitely many mistakes (Novikoff's theorem);
    on data like XOR it never does and runs ``max_iter`` epochs.

    Args:
        lr: learning rate eta (for the perceptron only the scale of w changes with it).
        max_iter: epochs at most; training stops at the first epoch without mistakes.
        shuffle: visit the samples in a new random order each epoch.
        random_state: seed of the shuffling (None: bricks' global generator).

    Attributes:
        coef_ (1, n_features), intercept_ (1,), classes_, n_iter_ (epochs run),
        errors_ (mistakes per epoch).

    Example:
        >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); y = np.array([0, 1, 1, 1])  # OR
        >>> p = bricks.classic.Perceptron(random_state=0).fit(X, y)
        >>> p.predict(X).tolist(), p.errors_[-1]
        ([0, 1, 1, 1], 0)
    """

    _binary_only = True

    def __init__(self, lr: float = 1.0, max_iter: int = 100, shuffle: bool = True,
                 random_state=None):
        self.lr = lr
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X, y):
        """Apply the learning rule until an epoch has no mistakes (or ``max_iter``)."""
        if not self.lr > 0:
            raise ValueError(f"Perceptron: lr must be positive, got {self.lr!r}")
        X = self._validate_X(X, reset=True)
        t = self._encode_labels(y, X.shape[0]).astype(xp.float64)
        rng = check_random_state(self.random_state)
        w, b = xp.zeros(X.shape[1]), 0.0
        self.errors_ = []
        self.n_iter_ = 0
        order = xp.arange(X.shape[0])
        for epoch in range(1, int(self.max_iter) + 1):
            if self.shuffle:
                order = rng.permutation(X.shape[0])
            mistakes = 0
            for i in order:
                y_hat = 1.0 if X[i] @ w + b > 0 else 0.0
                if y_hat != t[i]:
                    w = w + self.lr * (t[i] - y_hat) * X[i]
                    b = b + self.lr * (t[i] - y_hat)
                    mistakes += 1
            self.errors_.append(mistakes)
            self.n_iter_ = epoch
            if mistakes == 0:
                break
        self.coef_, self.intercept_ = w[None, :], xp.array([b])
        return self

    def decision_function(self, X):
        """``w . x + b`` per row (positive: class ``classes_[1]``)."""
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X):
        """``classes_[1]`` where ``w . x + b > 0``, else ``classes_[0]``."""
        self._check_fitted()
        return self.classes_[(self.decision_function(X) > 0).astype(xp.int64)]
