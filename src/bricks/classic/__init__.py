"""Classic models the networks grew out of, with scikit-learn's estimator API.

``fit(X, y)`` returns the estimator, ``predict``/``score`` (accuracy or R^2),
``get_params``/``set_params``, fitted attributes ending in ``_`` (``coef_``, ``intercept_``,
``classes_``, ``n_features_in_``).  scikit-learn is not needed; its ``check_estimator``
passes for every estimator here (see tests/test_classic.py).

* :mod:`~bricks.classic.linear`: LinearRegression (normal equation, gd, sgd), Ridge,
  Lasso, PolynomialFeatures
* :mod:`~bricks.classic.logistic`: LogisticRegression (newton/IRLS, gd, sgd; L1/L2),
  SoftmaxRegression
* :mod:`~bricks.classic.perceptron`: McCullochPitts, Perceptron; :mod:`~bricks.classic.gates`
* :mod:`~bricks.classic.ngram`: NGramLanguageModel
"""

from bricks.classic import gates, ngram
from bricks.classic._base import NotFittedError
from bricks.classic.linear import Lasso, LinearRegression, PolynomialFeatures, Ridge
from bricks.classic.logistic import LogisticRegression, SoftmaxRegression
from bricks.classic.ngram import NGramLanguageModel, bundled_text
from bricks.classic.perceptron import McCullochPitts, Perceptron

__all__ = [
    "LinearRegression", "Ridge", "Lasso", "PolynomialFeatures",
    "LogisticRegression", "SoftmaxRegression",
    "McCullochPitts", "Perceptron", "gates",
    "NGramLanguageModel", "bundled_text", "ngram",
    "NotFittedError",
]
