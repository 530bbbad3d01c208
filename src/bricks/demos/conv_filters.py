"""Demo: what the first convolutional layer of an MNIST CNN learns.

A small LeNet-style network (two 5x5 convolutions with max pooling, then two fully connected
layers) trains for a short while on the bundled MNIST digits.  Its first layer is eight 5x5
filters that slide over the image; after training they are no longer noise but small stroke
and edge detectors (light on one side, dark on the other), and the eight feature maps of a
digit light up where its strokes run in each filter's direction.  The figures show the
filters before and after training and the feature maps (after ReLU) of one test digit.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.backend import xp
from bricks.data import train_test_split
from bricks.data.datasets import load_mnist
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "conv-filters"
TITLE = "The first-layer filters and feature maps of an MNIST CNN"
CLAIM = ("A CNN's first layer learns small stroke and edge detectors: training moves its 5x5 "
         "filters from white noise towards smoother light/dark patches, and each feature map "
         "responds where a digit's strokes match its filter.")


def lenet(channels: int = 8):
    """Conv(1->c, 5x5, same) -> ReLU -> MaxPool 2 -> Conv(c->16, 5x5) -> ReLU -> MaxPool 2
    -> Linear(400, 64) -> ReLU -> Linear(64, 10)."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 64), nn.ReLU(), nn.Linear(64, 10))


def _smoothness(filters):
    """Mean squared difference of neighbouring filter weights over their mean square: low
    for smooth (learned) filters, about 2 for white noise."""
    f = filters - filters.mean(axis=(1, 2), keepdims=True)
    dx = ((f[:, :, 1:] - f[:, :, :-1]) ** 2).mean()
    dy = ((f[:, 1:, :] - f[:, :-1, :]) ** 2).mean()
    return float((dx + dy) / 2 / (f ** 2).mean())


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    images, labels = load_mnist()
    X = (images.astype(xp.float32) / 255.0)[:, None]
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.15,
                                                        stratify=labels, seed=0)
    n_train = 2000 if fast else len(X_train)
    epochs = 1 if fast else 2
    bricks.manual_seed(0)
    model = lenet()
    before = model[0].weight.data[:, 0].copy()
    opt = bricks.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = xp.random.default_rng(0)
    for _ in range(epochs):
        order = gen.permutation(n_train)
        for i in range(0, n_train, 64):
            idx = order[i:i + 64]
            loss = loss_fn(model(bricks.tensor(X_train[idx])), bricks.tensor(y_train[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with bricks.no_grad():
        logits = model(bricks.tensor(X_test))
        accuracy = float((logits.argmax(dim=1).data == y_test).mean())
        digit = X_test[:1]
        maps = model[1](model[0](bricks.tensor(digit))).data[0]
    after = model[0].weight.data[:, 0]
    figures = [_plot_filters(before, after, out_dir),
               _plot_maps(digit[0, 0], maps, int(y_test[0]), out_dir)]
    lines = [f"LeNet-style CNN, {n_train} training digits, {epochs} epoch(s), Adam 2e-3: test "
             f"accuracy {accuracy:.1%} on {len(X_test)} held-out digits.",
             f"first-layer filters: roughness {_smoothness(before):.2f} at initialization "
             f"(white noise: about 2), {_smoothness(after):.2f} after training",
             f"({time.perf_counter() - start:.1f} s)"]
    checks = {"test_accuracy": accuracy, "roughness_before": _smoothness(before),
              "roughness_after": _smoothness(after), "n_filters": int(after.shape[0]),
              "feature_map_shape": tuple(maps.shape)}
    return DemoResult(CLAIM, lines, figures, checks)


def _plot_filters(before, after, out_dir):
    k = before.shape[0]
    fig = new_figure(figsize=(1.3 * k, 3.2))
    axes = fig.subplots(2, k)
    for row, (name, w) in enumerate((("initial", before), ("learned", after))):
        for j in range(k):
            ax = axes[row, j]
            lim = float(abs(w[j]).max()) or 1.0
            ax.imshow(w[j], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name)
    fig.suptitle("First-layer 5x5 filters (red positive, blue negative)")
    return save_figure(fig, out_dir, "conv_filters.png")


def _plot_maps(image, maps, label, out_dir):
    k = maps.shape[0]
    fig = new_figure(figsize=(1.6 * (k + 1), 2.2))
    axes = fig.subplots(1, k + 1)
    axes[0].imshow(image, cmap="gray_r")
    axes[0].set_title(f"digit {label}")
    for j in range(k):
        axes[j + 1].imshow(maps[j], cmap="viridis")
        axes[j + 1].set_title(f"map {j + 1}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Feature maps of the first layer (after ReLU) for one test digit")
    return save_figure(fig, out_dir, "conv_feature_maps.png")
