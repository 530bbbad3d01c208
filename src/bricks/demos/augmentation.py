"""Data augmentation: more training images for free, by moving the ones we have.

A small CNN learns the MNIST-10k digits from only a few hundred examples, once as they are
and once with every training batch randomly cropped from a 2-pixel padded copy (a shift of up
to 2 pixels) and rotated by up to 12 degrees: changes that keep a digit's class.  The test
digits are never augmented.  With few examples the augmented network generalizes better:
it has seen each digit in more positions and slants.  Flips are shown too, and left out of
training on purpose: a mirrored 2 is not a 2 (for cats and dogs, flips are the first
augmentation to use).
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.data import DataLoader, TensorDataset, train_test_split
from bricks.data import transforms as T
from bricks.data.datasets import load_mnist
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "augmentation"
TITLE = "Image augmentation (random crops and rotations) with few MNIST digits"
CLAIM = ("With only a few hundred training digits, random crops and small rotations of the "
         "training images raise a CNN's test accuracy: the network learns that a shifted or "
         "slanted digit is the same digit.")


def small_cnn(seed: int = 0):
    """conv 3x3 (16) - ReLU - maxpool 2 - conv 3x3 (32) - ReLU - maxpool 2 - Linear(10)."""
    bricks.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, 10))


def augmenter(seed: int = 0):
    """The training-time augmentation: random crop with padding 2, rotation up to 12 deg."""
    return T.Compose([T.RandomCrop(28, padding=2, generator=seed),
                      T.RandomRotation(12, generator=seed + 1)])


def mnist_split(n_train: int, n_test: int, seed: int = 0):
    """A stratified sample of the bundled digits as (N, 1, 28, 28) float32 in [0, 1]."""
    images, labels = load_mnist()
    X = (images.astype(xp.float32) / xp.float32(255))[:, None]
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, labels, train_size=n_train, stratify=labels, seed=seed)
    X_test, _, y_test, _ = train_test_split(X_rest, y_rest, train_size=n_test,
                                            stratify=y_rest, seed=seed)
    return X_train, y_train, X_test, y_test


def train_cnn(X_train, y_train, X_test, y_test, augment: bool, epochs: int, seed: int = 0):
    """Train :func:`small_cnn` with or without :func:`augmenter`; the test accuracy curve."""
    model = small_cnn(seed)
    opt = bricks.optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32, shuffle=True,
                        generator=seed, transform=augmenter(seed) if augment else None)
    curve = []
    for _ in range(epochs):
        bricks.train.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, verbose=False)
        model.eval()
        pred = to_numpy(bricks.train.predict(model, X_test, 500).data).argmax(axis=1)
        model.train()
        curve.append(float((pred == y_test).mean()))
    return model, curve


def run(out_dir, fast: bool = False) -> DemoResult:
    """Train the CNN twice (plain, augmented) on the same few digits; compare test accuracy."""
    start = time.perf_counter()
    n_train, n_test, epochs = (300, 1000, 12) if fast else (500, 2000, 25)
    X_train, y_train, X_test, y_test = mnist_split(n_train, n_test)
    t0 = time.perf_counter()
    _, plain = train_cnn(X_train, y_train, X_test, y_test, False, epochs)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, aug = train_cnn(X_train, y_train, X_test, y_test, True, epochs)
    t_aug = time.perf_counter() - t0
    # the mean of the last three epochs: one epoch's number on 300 digits is noisy
    final_plain, final_aug = (sum(c[-3:]) / 3 for c in (plain, aug))
    lines = [f"{n_train} training digits, {n_test} test digits (MNIST-10k, stratified), "
             f"CNN 1-16-32 conv + linear, Adam, {epochs} epochs", "",
             f"{'training images':<40}{'test accuracy':>14}{'time':>8}",
             f"{'as they are':<40}{final_plain:>14.2%}{t_plain:>7.1f}s",
             f"{'random crop (pad 2) + rotation <= 12 deg':<40}{final_aug:>14.2%}{t_aug:>7.1f}s",
             "", "(test accuracy: mean of the last 3 epochs)"]
    checks = dict(plain_acc=final_plain, augmented_acc=final_aug, plain_curve=plain,
                  augmented_curve=aug)
    figures = [_plot_samples(X_train, out_dir), _plot_curves(plain, aug, n_train, out_dir)]
    lines.append(f"\n(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(CLAIM, lines, figures, checks)


def _plot_samples(X, out_dir):
    rows = [("original", None), ("random crop, pad 2", T.RandomCrop(28, padding=2,
                                                                       generator=1)),
            ("rotation <= 12 deg", T.RandomRotation(12, generator=2)),
            ("both (training)", augmenter(3)),
            ("horizontal flip (not for digits)", T.RandomHorizontalFlip(1.0))]
    digits = X[:8]
    fig = new_figure(figsize=(8, 5.6), layout="constrained")
    axes = fig.subplots(len(rows), len(digits))
    for r, (name, t) in enumerate(rows):
        batch = digits if t is None else t(digits, batched=True)
        for c in range(len(digits)):
            ax = axes[r, c]
            ax.imshow(to_numpy(batch[c, 0]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("augmented training digits")
    return save_figure(fig, out_dir, "augmentation_samples.png")


def _plot_curves(plain, aug, n_train, out_dir):
    fig = new_figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    epochs = range(1, len(plain) + 1)
    ax.plot(epochs, [100 * a for a in plain], label="as they are")
    ax.plot(epochs, [100 * a for a in aug], label="augmented (crop + rotation)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"CNN on {n_train} MNIST digits")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, out_dir, "augmentation_accuracy.png")
