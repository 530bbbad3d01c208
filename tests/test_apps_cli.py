"""The applications through the ``bricks`` command: reviews (text in, class out) and image
folders (``--data FOLDER``, ``predict RUN image.png``)."""

import os
import re

import pytest

from bricks.cli import main
from bricks.io import load_checkpoint


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def reviews_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "reviews")
    assert main(["train", "--data", "reviews", "--model", "mlp:64", "--epochs", "20",
                 "--lr", "0.01", "--quiet", "--out", out]) == 0
    return out


def test_train_reviews_uses_the_files_split_and_keeps_the_vectorizer(reviews_run, capsys):
    ckpt = load_checkpoint(os.path.join(reviews_run, "checkpoint.safetensors"),
                           restore_rng=False)
    meta = ckpt["metadata"]
    assert meta["data"]["n_train"] == 600 and meta["data"]["n_test"] == 379
    assert meta["data"]["classes"] == ["negative", "neutral", "positive"]
    assert meta["config"]["scaler"] == "none"
    assert meta["data"]["source"]["text"]["class"] == "TfidfVectorizer"
    code, out, _ = run(capsys, "evaluate", reviews_run)
    acc = float(re.search(r"test accuracy: ([\d.]+)%", out).group(1))
    assert code == 0 and "379 held-out" in out and acc > 68.0  # always "positive": 65.4%


def test_predict_text_prints_class_and_probability(reviews_run, capsys, tmp_path):
    code, out, _ = run(capsys, "predict", reviews_run,
                       "This medicine is great, it works and I love it, the best I have "
                       "taken, no side effects.")
    assert code == 0
    m = re.fullmatch(r"0: (\w+) \(([\d.]+)%\)", out.strip())
    assert m and m.group(1) == "positive" and 50 < float(m.group(2)) <= 100
    txt = tmp_path / "reviews.txt"
    txt.write_text("Worked wonders, I love it.\n\nHorrible, it never helped, worse pain.\n")
    code, out, _ = run(capsys, "predict", reviews_run, str(txt), "--output",
                       str(tmp_path / "p.csv"))
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("0: ") and lines[1].startswith("1: ")
    assert (tmp_path / "p.csv").read_text().splitlines()[0].startswith(
        "index,prediction,probability,p_negative,p_neutral,p_positive")
