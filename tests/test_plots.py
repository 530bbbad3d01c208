"""bricks.train.plots: each function writes a valid PNG atomically and returns its path."""

import builtins
import os

import numpy as np
import pytest

import bricks
from bricks import nn, optim
from bricks.train import fit, plots
from bricks.train.metrics import confusion_matrix

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path, min_size=2000):
    with open(path, "rb") as f:
        data = f.read()
    return data[:8] == PNG and len(data) > min_size


def two_gaussians(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return X, y


@pytest.fixture(scope="module")
def trained():
    X, y = two_gaussians()
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.SGD(model.parameters(), lr=0.2)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), val_data=two_gaussians(100, 1),
            epochs=5, metrics=["accuracy"], seed=0, verbose=False,
            scheduler=optim.lr_scheduler.StepLR(opt, 2, 0.5))
    return model, h, X, y


def test_plot_history(trained, tmp_path):
    _, h, _, _ = trained
    path = tmp_path / "sub" / "history.png"
    assert plots.plot_history(h, path) == str(path)
    assert is_png(path)
    assert is_png(plots.plot_history(h.history, tmp_path / "dict.png"))
    assert [p for p in os.listdir(tmp_path / "sub")] == ["history.png"]  # no temp files


def test_plot_confusion_matrix(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    pred = np.where(rng.uniform(size=300) < 0.7, y, rng.integers(0, 10, 300))
    cm = confusion_matrix(y, pred)
    assert is_png(plots.plot_confusion_matrix(cm, tmp_path / "cm.png"))
    path = plots.plot_confusion_matrix(cm[:3, :3], tmp_path / "cm3.png",
                                       labels=["cat", "dog", "bird"], normalize=True)
    assert is_png(path)


def test_plot_misclassified(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(40, 8, 8))
    y = rng.integers(0, 10, 40)
    logits = rng.normal(size=(40, 10))
    path = plots.plot_misclassified(images, y, logits, tmp_path / "wrong.png", max_images=12)
    assert is_png(path)
    flat = plots.plot_misclassified(images.reshape(40, 64), y, logits.argmax(1),
                                    tmp_path / "flat.png")
    assert is_png(flat)
    chan = plots.plot_misclassified(bricks.tensor(images[:, None]), y, y, tmp_path / "none.png")
    assert is_png(chan, min_size=500)  # nothing misclassified: a note instead of a grid


def test_plot_decision_boundary(trained, tmp_path):
    model, _, X, y = trained
    model.train()
    path = plots.plot_decision_boundary(model, X, y, tmp_path / "boundary.png", resolution=80)
    assert is_png(path, min_size=5000)
    assert model.training  # predict() put the mode back
    bricks.manual_seed(0)
    single = nn.Linear(2, 1)  # one logit per point: thresholded at 0
    assert is_png(plots.plot_decision_boundary(single, X, y, tmp_path / "b1.png",
                                               resolution=40, threshold=0.0))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.plot_decision_boundary(model, np.zeros((5, 3)), y[:5], tmp_path / "bad.png")


def test_clear_error_without_matplotlib(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plots.plot_history({"loss": [1.0, 0.5]}, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()
