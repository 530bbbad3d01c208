"""Plots of a training run, saved as PNG files (matplotlib, an optional extra).

Figures are drawn with matplotlib's object-oriented API on the Agg canvas, so no window
opens and the user's pyplot backend is left alone.  Each function writes its PNG
atomically (a temporary file, then a rename) and returns the path.
"""

from __future__ import annotations

import math
import os

from bricks.backend import to_numpy, xp
from bricks.io import atomic_write
from bricks.train.metrics import to_labels


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("bricks.train.plots needs matplotlib: pip install matplotlib "
                          "(or bricks[all])") from err
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "wb") as f:  # a crash never leaves half a PNG
        fig.savefig(f, format="png")
    return path


def _numpy(x):
    return xp.asarray(to_numpy(x.data) if hasattr(x, "grad") else x)


def plot_history(history, path, val_label: str = "validation") -> str:
    """Loss and metric curves per epoch, training (solid) against validation (dashed).

    One panel for the loss and one per scalar metric (the learning rate, when it
    changed, gets its own log-scale panel).

    Args:
        history: a :class:`~bricks.train.History` (or its ``history`` dict).
        path: where the PNG goes.
        val_label: the legend of the ``val_`` curves (``bricks train`` says
            ``"held-out test (val_)"``, since its ``val_`` numbers come from the test split).

    Example:
        >>> import tempfile, os
        >>> h = bricks.train.History()
        >>> for e, (l, v) in enumerate([(1.0, 1.1), (0.5, 0.7), (0.3, 0.6)]):
        ...     h.append(e, {"loss": l, "val_loss": v})
        >>> out = bricks.train.plots.plot_history(h, os.path.join(tempfile.mkdtemp(), "h.png"))
        >>> open(out, "rb").read(8) == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    logs = getattr(history, "history", history)
    names = [k for k, v in logs.items() if not k.startswith("val_") and k != "lr" and v
             and isinstance(v[-1], (int, float))]
    if "lr" in logs and len(set(logs["lr"])) > 1:
        names.append("lr")
    fig = _figure(4.5 * max(len(names), 1), 3.5)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        epochs = range(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "-o", markersize=3, label="train")
        if "val_" + name in logs:
            ax.plot(epochs, logs["val_" + name], "--o", markersize=3, label=val_label)
            ax.legend()
        if name == "lr":
            ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


_MAX_ANNOTATED = 30  # classes whose counts are written in the cells
_MAX_TICKS = 50      # classes named on the axes


def plot_confusion_matrix(cm, path, labels=None, normalize: bool = False) -> str:
    """The confusion matrix as a heat map, with the count written in every cell (up to
    30 classes; beyond, the colors alone, and the figure stops growing at 12 inches, so
    thousands of classes draw in about a second instead of minutes).

    Args:
        cm: ``(K, K)`` counts, rows true classes and columns predictions (as
            :func:`bricks.train.metrics.confusion_matrix` returns).
        path: where the PNG goes.
        labels: K class names (default ``0 .. K-1``).
        normalize: color by the fraction of each true class (rows sum to 1).
    """
    cm = _numpy(cm)
    k = cm.shape[0]
    labels = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    shown = cm / xp.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = min(max(4.0, 0.5 * k + 2), 12.0)
    fig = _figure(size + 1, size)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(shown, cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax)
    if k <= _MAX_TICKS:
        ax.set_xticks(range(k), labels, rotation=45 if k > 10 else 0)
        ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    high = shown.max() / 2 if shown.size else 0
    if k <= _MAX_ANNOTATED:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", fontsize=8,
                        color="white" if shown[i, j] > high else "black")
    ax.set_title("confusion matrix")
    fig.tight_layout()
    return _save(fig, path)


def plot_misclassified(images, y_true, y_pred, path, max_images: int = 25,
                       image_shape=None) -> str:
    """A grid of the misclassified images, each titled ``true -> predicted``.

    Args:
        images: ``(N, H, W)``, ``(N, 1, H, W)`` or flat ``(N, H*W)`` (square, or give
            ``image_shape``).
        y_true: labels ``(N,)``.
        y_pred: labels or model outputs (logits ``(N, C)``).
        path: where the PNG goes.
        max_images: at most this many, the first ones in order.
        image_shape: ``(H, W)`` for flat images that are not square.
    """
    images = _numpy(images)
    t, p = to_labels(y_true, name="y_true"), to_labels(y_pred)
    wrong = xp.nonzero(t != p)[0][:max_images]
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    elif images.ndim == 2:
        side = int(round(math.sqrt(images.shape[1])))
        shape = image_shape or (side, side)
        images = images.reshape(len(images), *shape)
    cols = max(1, min(5, len(wrong)))
    rows = max(1, math.ceil(len(wrong) / cols))
    fig = _figure(1.8 * cols, 1.9 * rows)
    if len(wrong) == 0:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.axis("off")
    for n, i in enumerate(wrong):
        ax = fig.add_subplot(rows, cols, n + 1)
        ax.imshow(images[i], cmap="gray")
        ax.set_title(f"{t[i]} -> {p[i]}", fontsize=9, color="crimson")
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def plot_decision_boundary(model, X, y, path, resolution: int = 200,
                           threshold: float = 0.5) -> str:
    """The classes ``model`` predicts over the plane, with the data points on top.

    The model is evaluated (``eval`` mode, no gradients) on a ``resolution x resolution``
    grid covering the data with a 10% margin; outputs ``(N, C)`` are read by argmax, one
    score per point by ``threshold`` (0.5 for probabilities, 0.0 for logits).

    Args:
        model: a classifier of 2-D inputs.
        X: ``(N, 2)`` points.
        y: labels ``(N,)``.
        path: where the PNG goes.
    """
    from bricks.train.trainer import predict

    X = _numpy(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must be (N, 2), got {tuple(X.shape)}")
    y = to_labels(y, name="y")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * xp.maximum(hi - lo, 1e-9)
    gx, gy = xp.meshgrid(xp.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         xp.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    grid = xp.stack([gx.ravel(), gy.ravel()], axis=1)
    out = predict(model, grid, batch_size=4096).data
    if out.ndim == 2 and out.shape[1] > 1:
        zone = out.argmax(axis=1).reshape(gx.shape)
    else:
        zone = (out.reshape(-1) >= threshold).astype(xp.int64).reshape(gx.shape)
    classes = int(max(zone.max(), y.max())) + 1
    fig = _figure(5.5, 5)
    ax = fig.add_subplot(1, 1, 1)
    ax.contourf(gx, gy, zone, levels=xp.arange(classes + 1) - 0.5, cmap="coolwarm" if
                classes == 2 else "tab10", alpha=0.35, vmin=-0.5,
                vmax=classes - 0.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm" if classes == 2 else "tab10",
               vmin=-0.5, vmax=classes - 0.5, s=12, edgecolors="k", linewidths=0.3)
    ax.set_title("decision boundary")
    fig.tight_layout()
    return _save(fig, path)
