"""bricks.train.metrics against scikit-learn's numbers."""

import numpy as np
import pytest
from sklearn import metrics as skm

import bricks
from bricks.train import metrics as M

RNG = np.random.default_rng(7)


def _multiclass(n=300, c=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, size=n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), y] += 1.0  # better than chance, not perfect
    return y, logits


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_logits_labels_tensors(seed):
    y, logits = _multiclass(seed=seed)
    expected = skm.accuracy_score(y, logits.argmax(1))
    assert M.accuracy(y, logits) == expected
    assert M.accuracy(y, logits.argmax(1)) == expected
    assert M.accuracy(bricks.tensor(y), bricks.tensor(logits, requires_grad=True)) == expected
    assert M.accuracy(np.eye(4)[y], logits) == expected  # one-hot targets


def test_accuracy_binary_probabilities_and_logits():
    y = RNG.integers(0, 2, size=200)
    p = np.clip(y * 0.6 + RNG.uniform(0, 0.5, size=200), 0, 1)
    expected = skm.accuracy_score(y, (p >= 0.5).astype(int))
    assert M.accuracy(y, p) == expected
    assert M.accuracy(y, p[:, None]) == expected
    assert M.accuracy(y[:, None].astype(np.float32), p[:, None]) == expected
    logits = np.log(p + 1e-9) - np.log1p(-p + 1e-9)
    assert M.accuracy(y, logits, threshold=0.0) == expected


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy(k):
    y, logits = _multiclass(c=6)
    expected = skm.top_k_accuracy_score(y, logits, k=k, labels=np.arange(6))
    assert M.top_k_accuracy(y, logits, k=k) == pytest.approx(expected, abs=1e-15)
    assert M.METRICS["top5"](y, logits) == skm.top_k_accuracy_score(y, logits, k=5)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("seed", [0, 3])
def test_precision_recall_f1_multiclass(average, seed):
    y, logits = _multiclass(seed=seed)
    pred = logits.argmax(1)
    kw = dict(average=average, zero_division=0)
    assert M.precision(y, logits, average=average) == pytest.approx(
        skm.precision_score(y, pred, **kw), abs=1e-12)
    assert M.recall(y, logits, average=average) == pytest.approx(
        skm.recall_score(y, pred, **kw), abs=1e-12)
    assert M.f1_score(y, logits, average=average) == pytest.approx(
        skm.f1_score(y, pred, **kw), abs=1e-12)


def test_precision_recall_f1_a_class_never_predicted():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 1, 0, 1])  # class 2 never predicted: precision 0/0
    for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score),
                         (M.f1_score, skm.f1_score)]:
        assert ours(y, pred) == pytest.approx(theirs(y, pred, average="macro",
                                                     zero_division=0), abs=1e-12)


def test_binary_average():
    y = RNG.integers(0, 2, size=100)
    pred = np.where(RNG.uniform(size=100) < 0.8, y, 1 - y)
    for ours, theirs in [(M.precision, skm.precision_score), (M.recall, skm.recall_score),
                         (M.f1_score, skm.f1_score)]:
        assert ours(y, pred, average="binary") == pytest.approx(theirs(y, pred), abs=1e-12)
        assert ours(y, pred, average="binary", pos_label=0) == pytest.approx(
            theirs(y, pred, pos_label=0), abs=1e-12)
        assert ours(y, pred) == pytest.approx(theirs(y, pred, average="macro"), abs=1e-12)
    with pytest.raises(ValueError, match="binary"):
        M.f1_score([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(ValueError, match="average"):
        M.f1_score([0, 1], [0, 1], average="samples")


def test_confusion_matrix():
    y, logits = _multiclass(c=5)
    pred = logits.argmax(1)
    np.testing.assert_array_equal(M.confusion_matrix(y, pred), skm.confusion_matrix(y, pred))
    np.testing.assert_array_equal(M.confusion_matrix(y, logits), skm.confusion_matrix(y, pred))
    # labels absent from both: sklearn drops them, num_classes keeps them
    y2, p2 = np.array([0, 3, 3]), np.array([3, 3, 0])
    np.testing.assert_array_equal(M.confusion_matrix(y2, p2), skm.confusion_matrix(y2, p2))
    np.testing.assert_array_equal(M.confusion_matrix(y2, p2, num_classes=4),
                                  skm.confusion_matrix(y2, p2, labels=[0, 1, 2, 3]))
    assert M.confusion_matrix(y, pred).dtype == np.int64


@pytest.mark.parametrize("shape", [(50,), (50, 1), (50, 3)])
def test_regression_metrics(shape):
    y = RNG.normal(size=shape)
    p = y + 0.3 * RNG.normal(size=shape)
    assert M.mse(y, p) == pytest.approx(skm.mean_squared_error(y, p), rel=1e-13)
    assert M.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-13)
    assert M.r2_score(y, p) == pytest.approx(skm.r2_score(y, p), rel=1e-13)
    assert M.mse(bricks.tensor(y), bricks.tensor(p)) == pytest.approx(
        skm.mean_squared_error(y, p), rel=1e-13)


def test_regression_shapes_and_constant_target():
    y = RNG.normal(size=20)
    p = y + 1.0
    assert M.mse(y, p[:, None]) == pytest.approx(1.0)  # (N,) against (N, 1)
    assert M.r2_score(np.ones(5), np.ones(5)) == skm.r2_score(np.ones(5), np.ones(5)) == 1.0
    assert M.r2_score(np.ones(5), np.arange(5.0)) == skm.r2_score(np.ones(5), np.arange(5.0))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        M.mse(np.zeros(3), np.zeros(4))


def test_errors_and_lookup():
    with pytest.raises(ValueError, match="samples"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="unknown metric 'acc'.*accuracy"):
        M.get_metric("acc")
    with pytest.raises(TypeError):
        M.get_metric(3)
    assert M.get_metric("f1") == ("f1", M.f1_score)
    assert M.get_metric(M.mae) == ("mae", M.mae)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        M.top_k_accuracy([0, 1], np.zeros(2))
