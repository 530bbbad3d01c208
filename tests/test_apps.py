"""The lectures' applications on their fast settings: each test asserts the demo's claim
(augmentation helps with few digits, box regression reaches IoU >= 0.8, the character GRU
beats the best character n-gram), plus the building blocks they rest on."""

import numpy as np
import pytest

import bricks
from bricks.cli import main
from bricks.data.datasets import box_iou, make_digit_boxes
from bricks.demos import get_demo, run_demo

PNG = b"\x89PNG\r\n\x1a\n"


def _run(name, tmp_path, **options):
    pytest.importorskip("matplotlib")
    result = run_demo(name, tmp_path, fast=True, **options)
    assert result.figures and all(p.read_bytes()[:8] == PNG for p in result.figures)
    assert get_demo(name).CLAIM in result.report()
    return result.checks


# ---------------------------------------------------------------- box regression
def test_digit_boxes_hold_the_digit_and_are_reproducible():
    X, boxes, labels = make_digit_boxes(20, seed=3)
    X2, boxes2, _ = make_digit_boxes(20, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(boxes, boxes2)
    assert X.shape == (20, 1, 64, 64) and X.dtype == np.float32 and 0 <= X.min() <= X.max() <= 1
    a, b, c, d = boxes.T
    assert (a >= 0).all() and (b >= 0).all() and (a + c <= 64).all() and (b + d <= 64).all()
    assert (d >= 15).all()  # a whole digit (>= 28 px scaled), not a fragment
    for k in range(20):  # bright ink on each edge of the box (tight box)
        x0, y0, w, h = (int(v) for v in boxes[k])
        inside = X[k, 0, y0:y0 + h, x0:x0 + w]
        assert inside[:, 0].max() > 0.19 and inside[:, -1].max() > 0.19
        assert inside[0].max() > 0.19 and inside[-1].max() > 0.19
    assert labels.dtype == np.int64 and set(labels.tolist()) <= set(range(10))
    with pytest.raises(ValueError, match="scale"):
        make_digit_boxes(2, scale=(1.0, 3.0))


def test_box_iou_against_hand_values():
    a = np.array([[0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 4], [1, 1, 2, 2]])
    b = np.array([[0, 0, 4, 4], [2, 0, 4, 4], [10, 10, 1, 1], [0, 0, 4, 4]])
    np.testing.assert_allclose(box_iou(a, b), [1.0, 8 / 24, 0.0, 4 / 16])


def test_box_cnn_shapes_and_gradient():
    from bricks.demos.boxes import BoxCNN

    model = BoxCNN(channels=4)
    X, boxes, _ = make_digit_boxes(3, seed=0)
    out = model(bricks.tensor(X))
    assert out.shape == (3, 4)
    a, b, c, d = (out.data[:, i] for i in range(4))
    assert ((a > 0) & (a < 1) & (b > 0) & (b < 1)).all()  # soft-argmax: inside the canvas
    loss = bricks.nn.SmoothL1Loss(beta=0.02)(out, bricks.tensor(boxes / 64))
    loss.backward()
    assert all(p.grad is not None and np.isfinite(p.grad.data).all()
               for p in model.parameters())
    assert "positions" in dict(model.named_buffers())


@pytest.mark.slow
def test_box_regression_reaches_iou_08(tmp_path):
    c = _run("boxes", tmp_path)
    assert c["mean_iou"] >= 0.8
    assert c["iou_above_half"] >= 0.9
    assert c["iou_curve"][-1] > c["iou_curve"][0]


# ---------------------------------------------------------------- augmentation
@pytest.mark.slow
def test_augmentation_raises_accuracy_with_few_digits(tmp_path):
    c = _run("augmentation", tmp_path)
    assert c["mlp_augmented_acc"] >= c["mlp_plain_acc"] + 0.01
    assert c["mlp_plain_acc"] > 0.75  # the baseline learned something


# ---------------------------------------------------------------- language models
def test_char_language_model_learns_and_samples():
    from bricks.demos._text_models import CharLanguageModel

    text = "abcabcabcabcabcabc " * 30
    lm = CharLanguageModel("lstm", hidden=16, embed=8, bptt=16, batch=4, lr=1e-2)
    lm.fit(text, epochs=8, valid=text[:60])
    assert lm.history_[-1][0] < lm.history_[0][0]
    assert lm.perplexity("abcabcabc") < 2.0  # 4 symbols; learned the cycle
    cold = lm.generate("abc", 12, temperature=0.05)
    assert cold.startswith("abc") and len(cold) == 15 and "abcabc" in cold
    assert set(lm.generate("a", 40, temperature=3.0, random_state=2)) <= set("abc ")
    with pytest.raises(ValueError, match="not in the training text"):
        lm.perplexity("xyz")
    with pytest.raises(ValueError, match="temperature"):
        lm.generate("a", 3, temperature=0)


@pytest.mark.slow
def test_text_demo_gru_beats_the_best_character_ngram(tmp_path):
    c = _run("text", tmp_path, model="gru")
    best = c["best_char_ngram_perplexity"]
    assert best == min(c[f"char_ngram_perplexity_{n}"] for n in range(1, 6))
    assert c["gru_perplexity"] < best
    assert c["gru_sample_0.3"].startswith("Alice was ")
    assert c["train_perplexity_1"] > c["train_perplexity_2"]  # the n-gram part still runs


def test_demo_model_option_errors(capsys):
    assert main(["demo", "gates", "--model", "gru"]) == 2
    assert "has no option 'model'" in capsys.readouterr().err
    assert main(["demo", "text", "--model", "transformer"]) == 2
    assert "ngram, gru, lstm" in capsys.readouterr().err


# ---------------------------------------------------------------- reviews, sequences
def test_sequence_classifier_mean_pooling_ignores_padding():
    from bricks.demos._text_models import SequenceClassifier

    bricks.manual_seed(0)
    for kind in ("mean", "gru"):
        model = SequenceClassifier(10, 3, dim=4, kind=kind)
        model.eval()
        short = model(bricks.tensor(np.array([[3, 4, 5]])))
        padded = model(bricks.tensor(np.array([[3, 4, 5, 0, 0, 0]])))
        np.testing.assert_allclose(short.data, padded.data, rtol=1e-5, atol=1e-6)
