"""Data augmentation: more training images for free, by moving the ones we have.

Networks learn the MNIST-10k digits from few examples, once as they are and once with every
training batch randomly cropped from a 2-pixel padded copy (a shift of up to 2 pixels) and
rotated by up to 12 degrees: changes that keep a digit's class.  The test digits are never
augmented.  Both an MLP and, in the default setting, a small CNN gain about three points:
they have now seen each digit in more positions and slants.  Convolution and pooling give
the CNN some tolerance to shifts, but not to rotations, and with 500 digits it still
profits as much.  Flips are shown too, and left out of training on purpose: a mirrored 2
is not a 2 (for cats and dogs, flips are the first augmentation to use).
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
CLAIM = ("With few training digits, random crops and small rotations of the training images "
         "raise the test accuracy: the network learns that a shifted or slanted digit is the "
         "same digit.")


def small_cnn(seed: int = 0):
    """conv 3x3 (16) - ReLU - maxpool 2 - conv 3x3 (32) - ReLU - maxpool 2 - Linear(10)."""
    bricks.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, 10))


def small_mlp(seed: int = 0):
    """784 - 256 ReLU - 10, dropout 0.2."""
    bricks.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 10))


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


def train_net(X_train, y_train, X_test, y_test, augment: bool, epochs: int, net: str = "mlp",
              seed: int = 0):
    """Train :func:`small_mlp` or :func:`small_cnn` with or without :func:`augmenter`;
    returns the model and its test accuracy after each epoch."""
    model = small_mlp(seed) if net == "mlp" else small_cnn(seed)
    opt = bricks.optim.Adam(model.parameters(), lr=1e-3 if net == "mlp" else 2e-3)
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
    """Train each network twice (plain, augmented) on the same few digits; compare."""
    start = time.perf_counter()
    # (network, training digits, epochs); fast: the MLP only
    plan = [("mlp", 300, 40)] if fast else [("mlp", 1000, 30), ("cnn", 500, 20)]
    n_test = 1000 if fast else 2000
    lines = [f"MNIST-10k, stratified samples; {n_test} test digits; Adam; test accuracy = "
             "mean of the last 3 epochs", "",
             f"{'network':<28}{'training images':<42}{'test accuracy':>14}{'time':>8}"]
    checks, curves = {}, {}
    for net, n_train, epochs in plan:
        X_train, y_train, X_test, y_test = mnist_split(n_train, n_test)
        for augment in (False, True):
            t0 = time.perf_counter()
            _, curve = train_net(X_train, y_train, X_test, y_test, augment, epochs, net)
            final = sum(curve[-3:]) / 3  # one epoch's number on a few hundred digits is noisy
            key = f"{net}_{'augmented' if augment else 'plain'}"
            checks[key + "_acc"] = final
            curves[key] = (curve, n_train)
            label = "random crop (pad 2) + rotation <= 12 deg" if augment else "as they are"
            name = (f"MLP 784-256-10, {n_train} digits" if net == "mlp"
                    else f"CNN 16-32 conv, {n_train} digits")
            lines.append(f"{name:<28}{label:<42}{final:>14.2%}"
                         f"{time.perf_counter() - t0:>7.1f}s")
    figures = [_plot_samples(X_train, out_dir), _plot_curves(curves, out_dir)]
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


def _plot_curves(curves, out_dir):
    fig = new_figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for key, (curve, n_train) in curves.items():
        net, kind = key.split("_")
        ax.plot(range(1, len(curve) + 1), [100 * a for a in curve],
                ls="-" if kind == "augmented" else "--",
                color="tab:blue" if net == "mlp" else "tab:orange",
                label=f"{net.upper()} ({n_train} digits), {kind}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("augmentation on few MNIST digits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "augmentation_accuracy.png")
