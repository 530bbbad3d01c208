"""The applications through the ``bricks`` command: reviews (text in, class out) and image
folders (``--data FOLDER``, ``predict RUN image.png``)."""

import os
import re

import numpy as np
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


# ---------------------------------------------------------------- image folders
def make_shapes_folder(root, n=24, size=(16, 16), seed=0):
    """Two classes drawn with Pillow: a reddish disc or a bluish square, random place, size
    and shade on a random dark background (PNG and JPEG files)."""
    Image = pytest.importorskip("PIL.Image")
    ImageDraw = pytest.importorskip("PIL.ImageDraw")
    rng = np.random.default_rng(seed)
    for cls in ("disc", "square"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            h, w = size
            im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(0, 60, 3)))
            d = ImageDraw.Draw(im)
            r = int(rng.integers(3, 6))
            cy, cx = (int(v) for v in rng.integers(r, min(h, w) - r, 2))
            hue = [int(rng.integers(170, 256)), int(rng.integers(0, 90)),
                   int(rng.integers(0, 90))]
            colour = tuple(hue if cls == "disc" else hue[::-1])
            box = [cx - r, cy - r, cx + r, cy + r]
            (d.ellipse if cls == "disc" else d.rectangle)(box, fill=colour)
            im.save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    root = make_shapes_folder(tmp_path_factory.mktemp("shapes") / "data", n=40)
    out = str(tmp_path_factory.mktemp("runs") / "shapes")
    assert main(["train", "--data", str(root), "--model", "mlp:64", "--epochs", "25",
                 "--quiet", "--out", out, "--augment", "none"]) == 0
    return root, out


def test_train_on_an_image_folder_and_predict_an_image_file(shapes_run, capsys, tmp_path):
    root, out = shapes_run
    ckpt = load_checkpoint(os.path.join(out, "checkpoint.safetensors"), restore_rng=False)
    meta = ckpt["metadata"]["data"]
    assert meta["classes"] == ["disc", "square"] and meta["sample_shape"] == [3, 16, 16]
    code, text, _ = run(capsys, "evaluate", out)
    assert code == 0 and float(re.search(r"accuracy: ([\d.]+)%", text).group(1)) >= 90
    fresh = make_shapes_folder(tmp_path / "new", n=6, seed=7)  # images never seen
    right = 0
    for cls in ("disc", "square"):
        for f in sorted((fresh / cls).iterdir()):
            code, text, _ = run(capsys, "predict", out, str(f))
            m = re.fullmatch(r"0: (\w+) \(([\d.]+)%\)", text.strip())
            assert code == 0 and m and m.group(1) in ("disc", "square")
            right += m.group(1) == cls
    assert right >= 10  # of 12


def test_image_folder_errors_through_the_cli(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "train", "--data", str(empty), "--quiet", "--out",
                       str(tmp_path / "r1"))
    assert code == 2 and "no class folders" in err and "Traceback" not in err
    mixed = make_shapes_folder(tmp_path / "mixed", n=3)
    make_shapes_folder(tmp_path / "mixed", n=2, size=(20, 12), seed=3)  # overwrites 0, 1
    code, _, err = run(capsys, "train", "--data", str(mixed), "--quiet", "--out",
                       str(tmp_path / "r2"))
    assert code == 2 and "different sizes" in err and "--image-size" in err
    code, text, _ = run(capsys, "train", "--data", str(mixed), "--image-size", "8x8",
                        "--model", "mlp:8", "--epochs", "1", "--quiet",
                        "--out", str(tmp_path / "r3"))
    assert code == 0
    assert load_checkpoint(str(tmp_path / "r3" / "checkpoint.safetensors"),
                           restore_rng=False)["metadata"]["data"]["sample_shape"] == [3, 8, 8]
    code, _, err = run(capsys, "train", "--data", str(mixed), "--image-size", "8y8")
    assert code == 2 and "image-size" in err


def test_cnn_on_an_image_folder(capsys, tmp_path):
    root = make_shapes_folder(tmp_path / "data", n=40)
    out = str(tmp_path / "cnn")
    code, text, _ = run(capsys, "train", "--data", str(root), "--model", "cnn:8,16",
                        "--epochs", "10", "--quiet", "--out", out)
    assert code == 0 and float(re.search(r"accuracy: ([\d.]+)%", text).group(1)) >= 90
    fresh = make_shapes_folder(tmp_path / "new", n=4, seed=9)
    code, text, _ = run(capsys, "evaluate", out, "--data", str(fresh))
    assert code == 0 and float(re.search(r"accuracy: ([\d.]+)%", text).group(1)) >= 75


def test_predict_refuses_an_edited_text_vectorizer(reviews_run, capsys, tmp_path):
    import shutil

    from bricks.io import save_checkpoint

    ckpt = load_checkpoint(os.path.join(reviews_run, "checkpoint.safetensors"),
                           restore_rng=False)
    meta = ckpt["metadata"]
    edited = tmp_path / "edited"
    shutil.copytree(reviews_run, edited)
    for bad in ({"class": "TfidfVectorizer"}, {**meta["data"]["source"]["text"],
                                                "vocabulary": {"tokens": [1, 2]}}):
        meta["data"]["source"]["text"] = bad
        from bricks.train.saved_run import restore

        model, scaler, *_ = restore(os.path.join(reviews_run, "checkpoint.safetensors"))
        save_checkpoint(edited / "checkpoint.safetensors", model, epoch=ckpt["epoch"],
                        history=ckpt["history"], metadata=meta)
        code, out, err = run(capsys, "predict", str(edited), "great drug")
        assert code == 2 and "text vectorizer" in err and "Traceback" not in err, err
