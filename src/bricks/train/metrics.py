"""Metrics: how good are the predictions?  Plain functions on arrays or Tensors.

Every function takes ``(y_true, y_pred)`` in scikit-learn's order and returns a Python
float (or, for :func:`confusion_matrix`, an integer array), computed in float64 so the
numbers equal scikit-learn's.  Classification metrics accept predictions in any of the
forms a model produces:

* logits or probabilities of shape ``(N, C)`` with ``C > 1``: the label is the argmax;
* one score per sample, shape ``(N,)`` or ``(N, 1)``: a probability, thresholded at 0.5
  (pass ``threshold=0.0`` for logits of a binary model trained with BCE-with-logits);
  scores that are all whole numbers are read as labels;
* integer labels of shape ``(N,)``.

Targets may be labels ``(N,)``, ``(N, 1)`` or one-hot rows ``(N, C)``.

Inside :func:`bricks.train.fit` the metrics are named by strings (see :data:`METRICS`):
``'accuracy'``, ``'top5'`` (``'top_k'``), ``'precision'``, ``'recall'``, ``'f1'``,
``'confusion_matrix'``, ``'mse'``, ``'mae'``, ``'r2'``; any callable ``fn(y_true, y_pred)``
works too and is logged under its ``__name__``.
"""

from __future__ import annotations

from bricks.backend import to_numpy, xp


def _array(x, name: str):
    """A NumPy array from an array, a Tensor (detached) or a list."""
    data = getattr(x, "data", x) if hasattr(x, "grad") else x
    a = xp.asarray(to_numpy(data) if hasattr(data, "shape") else data)
    if a.ndim == 0:
        raise ValueError(f"{name}: expected one value per sample, got a scalar")
    return a


def _is_whole(a) -> bool:
    return bool(xp.all(a == xp.round(a)))


def to_labels(y, threshold: float = 0.5, name: str = "y_pred"):
    """Class labels (int64, shape ``(N,)``) from logits, probabilities, one-hot rows or labels.

    ``(N, C)`` with ``C > 1``: ``argmax`` over the classes.  ``(N,)`` or ``(N, 1)``: the
    values themselves when they are integers (or whole floats, with the default
    threshold), else ``score >= threshold``.

    Example:
        >>> from bricks.train.metrics import to_labels
        >>> to_labels(np.array([[2.0, -1.0], [0.1, 0.3]])).tolist()
        [0, 1]
        >>> to_labels(np.array([0.2, 0.7, 0.5])).tolist()
        [0, 1, 1]
    """
    a = _array(y, name)
    if a.ndim == 2 and a.shape[1] > 1:
        return xp.argmax(a, axis=1).astype(xp.int64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name}: expected labels (N,), scores (N, 1) or (N, C), "
                         f"got shape {tuple(a.shape)}")
    # Whole numbers are labels (0/1 scores threshold to themselves at 0.5 anyway); with a
    # threshold other than 0.5 the caller says these are scores (e.g. logits at 0.0).
    if a.dtype.kind in "biu" or (threshold == 0.5 and _is_whole(a)):
        return a.astype(xp.int64)
    return (a >= threshold).astype(xp.int64)


def _pair(y_true, y_pred, threshold: float, op: str):
    t = to_labels(y_true, name=f"{op}: y_true")
    p = to_labels(y_pred, threshold, name=f"{op}: y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{op}: y_true has {t.shape[0]} samples but y_pred has {p.shape[0]}")
    return t, p


def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Fraction of correct predictions: ``mean(pred_i == y_i)``.

    Args:
        y_true: labels ``(N,)`` (or one-hot ``(N, C)``).
        y_pred: logits/probabilities ``(N, C)``, binary scores ``(N,)``/``(N, 1)``, or labels.
        threshold: cut for binary scores (0.5 for probabilities, 0.0 for logits).

    Example:
        >>> bricks.train.metrics.accuracy([0, 1, 1, 0], np.array([[3., 1.], [0., 2.],
        ...                                                       [1., 0.], [5., 4.]]))
        0.75
        >>> bricks.train.metrics.accuracy([1, 0, 1], [0.9, 0.2, 0.4])
        0.6666666666666666
    """
    t, p = _pair(y_true, y_pred, threshold, "accuracy")
    return float(xp.mean(t == p))


def top_k_accuracy(y_true, y_score, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    ``mean(y_i in top_k(score_i))``; with ``k = 1`` this is :func:`accuracy`.

    Args:
        y_true: labels ``(N,)``.
        y_score: scores ``(N, C)`` (logits or probabilities).
        k: how many of the best guesses count.

    Example:
        >>> scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
        >>> bricks.train.metrics.top_k_accuracy([1, 0], scores, k=2)
        0.5
    """
    t = to_labels(y_true, name="top_k_accuracy: y_true")
    s = _array(y_score, "top_k_accuracy: y_score")
    if s.ndim != 2:
        raise ValueError(f"top_k_accuracy: y_score must be (N, C) scores, got shape "
                         f"{tuple(s.shape)}")
    if k >= s.shape[1]:
        return 1.0
    true_score = s[xp.arange(len(t)), t]
    # the true class is in the top k when fewer than k classes score strictly higher
    higher = xp.sum(s > true_score[:, None], axis=1)
    return float(xp.mean(higher < k))


def _labels_of(t, p, num_classes):
    if num_classes is not None:
        return xp.arange(num_classes)
    return xp.union1d(t, p)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None,
                     threshold: float = 0.5):
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predictions (scikit-learn's layout).  The classes are
    ``0 .. num_classes-1`` when given (or when ``y_pred`` has one column per class), else
    the sorted labels that occur in ``y_true`` or the predictions.

    Returns:
        an int64 array ``(K, K)``.

    Example:
        >>> bricks.train.metrics.confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2]).tolist()
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    a = _array(y_pred, "confusion_matrix: y_pred")
    if num_classes is None and a.ndim == 2 and a.shape[1] > 1:
        num_classes = a.shape[1]
    t, p = _pair(y_true, y_pred, threshold, "confusion_matrix")
    labels = _labels_of(t, p, num_classes)
    k = len(labels)
    ti, pi = xp.searchsorted(labels, t), xp.searchsorted(labels, p)
    inside = (ti < k) & (pi < k)
    inside[inside] &= (labels[ti[inside]] == t[inside]) & (labels[pi[inside]] == p[inside])
    cm = xp.zeros((k, k), dtype=xp.int64)
    xp.add.at(cm, (ti[inside], pi[inside]), 1)
    return cm


def _precision_recall_f1(y_true, y_pred, average, pos_label, threshold, op):
    t, p = _pair(y_true, y_pred, threshold, op)
    if average == "binary":
        labels = xp.array([pos_label])
    elif average in ("macro", "micro", "weighted"):
        labels = xp.union1d(t, p)
    else:
        raise ValueError(f"{op}: average must be 'macro', 'micro', 'weighted' or 'binary', "
                         f"got {average!r}")
    if average == "binary" and len(xp.union1d(t, p)) > 2:
        raise ValueError(f"{op}: average='binary' needs at most 2 classes; use "
                         f"average='macro' for {len(xp.union1d(t, p))} classes")
    tp = xp.array([xp.sum((p == c) & (t == c)) for c in labels], dtype=xp.float64)
    predicted = xp.array([xp.sum(p == c) for c in labels], dtype=xp.float64)
    actual = xp.array([xp.sum(t == c) for c in labels], dtype=xp.float64)
    if average == "micro":
        tp, predicted, actual = tp.sum(keepdims=True), predicted.sum(keepdims=True), \
            actual.sum(keepdims=True)
    # 0/0 is 0, as scikit-learn's zero_division=0 (and its default, after a warning)
    precision = xp.divide(tp, predicted, out=xp.zeros_like(tp), where=predicted > 0)
    recall = xp.divide(tp, actual, out=xp.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = xp.divide(2 * precision * recall, denom, out=xp.zeros_like(tp), where=denom > 0)
    weights = actual if average == "weighted" else None
    if weights is not None and weights.sum() == 0:
        weights = None
    return [float(xp.average(v, weights=weights)) for v in (precision, recall, f1)]


def precision(y_true, y_pred, average: str = "macro", pos_label: int = 1,
              threshold: float = 0.5) -> float:
    """Precision ``TP / (TP + FP)``: of the samples predicted as class c, how many are c.

    ``average='macro'`` (default) takes the unweighted mean over the classes that occur in
    ``y_true`` or the predictions; ``'weighted'`` weights each class by its support;
    ``'micro'`` pools the counts; ``'binary'`` reports class ``pos_label`` only.  A class
    never predicted has precision 0 (scikit-learn's ``zero_division=0``).

    Example:
        >>> bricks.train.metrics.precision([0, 1, 1, 1], [0, 1, 0, 0], average="binary")
        1.0
    """
    return _precision_recall_f1(y_true, y_pred, average, pos_label, threshold, "precision")[0]


def recall(y_true, y_pred, average: str = "macro", pos_label: int = 1,
           threshold: float = 0.5) -> float:
    """Recall ``TP / (TP + FN)``: of the samples of class c, how many were found.

    Averaging as in :func:`precision`.

    Example:
        >>> round(bricks.train.metrics.recall([0, 1, 1, 1], [0, 1, 0, 0], average="binary"), 4)
        0.3333
    """
    return _precision_recall_f1(y_true, y_pred, average, pos_label, threshold, "recall")[1]


def f1_score(y_true, y_pred, average: str = "macro", pos_label: int = 1,
             threshold: float = 0.5) -> float:
    """F1, the harmonic mean ``2 P R / (P + R)`` of precision and recall, per class.

    Averaging as in :func:`precision` (macro: the mean of the per-class F1 scores).

    Example:
        >>> bricks.train.metrics.f1_score([0, 1, 1, 1], [0, 1, 0, 0], average="binary")
        0.5
    """
    return _precision_recall_f1(y_true, y_pred, average, pos_label, threshold, "f1_score")[2]


def _regression_pair(y_true, y_pred, op: str):
    t = _array(y_true, f"{op}: y_true").astype(xp.float64)
    p = _array(y_pred, f"{op}: y_pred").astype(xp.float64)
    if t.ndim == 1 and p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim == 1 and t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.shape != p.shape:
        raise ValueError(f"{op}: y_true has shape {tuple(t.shape)} but y_pred has "
                         f"{tuple(p.shape)}")
    return t, p


def mse(y_true, y_pred) -> float:
    """Mean squared error ``mean((y_i - yhat_i)^2)``.

    Example:
        >>> bricks.train.metrics.mse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
        1.3333333333333333
    """
    t, p = _regression_pair(y_true, y_pred, "mse")
    return float(xp.mean((t - p) ** 2))


def mae(y_true, y_pred) -> float:
    """Mean absolute error ``mean(|y_i - yhat_i|)``.

    Example:
        >>> bricks.train.metrics.mae([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
        0.6666666666666666
    """
    t, p = _regression_pair(y_true, y_pred, "mae")
    return float(xp.mean(xp.abs(t - p)))


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination ``R^2 = 1 - sum((y - yhat)^2) / sum((y - mean(y))^2)``.

    1 is a perfect fit, 0 is no better than predicting the mean.  Several outputs
    ``(N, D)``: the mean of the per-output scores.  A constant target gives 1.0 for a
    perfect prediction and 0.0 otherwise (scikit-learn's ``force_finite``).

    Example:
        >>> bricks.train.metrics.r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        0.5
    """
    t, p = _regression_pair(y_true, y_pred, "r2_score")
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    residual = xp.sum((t - p) ** 2, axis=0)
    total = xp.sum((t - t.mean(axis=0)) ** 2, axis=0)
    scores = xp.where(residual == 0, 1.0, 0.0)
    scores = xp.divide(total - residual, total, out=scores, where=total > 0)
    return float(xp.mean(scores))


def _top5(y_true, y_score) -> float:
    return top_k_accuracy(y_true, y_score, k=5)


# The names usable as strings in fit(metrics=[...]); the key is also the name in History.
METRICS = {
    "accuracy": accuracy,
    "top5": _top5,
    "top_k": _top5,
    "precision": precision,
    "recall": recall,
    "f1": f1_score,
    "confusion_matrix": confusion_matrix,
    "mse": mse,
    "mae": mae,
    "r2": r2_score,
}


def get_metric(metric):
    """``(name, fn)`` for a metric given by name (a key of :data:`METRICS`) or a callable."""
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of "
                             f"{', '.join(METRICS)} or a function fn(y_true, y_pred)")
        return metric, METRICS[metric]
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    raise TypeError(f"a metric must be a name or a function fn(y_true, y_pred), "
                    f"got {metric!r}")
