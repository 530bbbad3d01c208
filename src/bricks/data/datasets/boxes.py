"""Digit canvases for box regression: where is the digit, as four numbers?

The lecture's localization example (regress the rectangle around a person, y = (a, b, c, d):
a corner, the width and the height) on real data: each sample is a 64x64 canvas with one
real MNIST-10k digit, scaled and placed at random, among clutter made of fragments of other
digits; the target is the tight box around the digit's ink.

Everything is generated from the bundled digits and a seed, offline, vectorized per digit.
"""

from __future__ import annotations

from bricks.backend import xp

from .mnist import load_mnist

__all__ = ["make_digit_boxes", "box_iou"]


def _resize(img, size: int):
    """Bilinear resize of a square (28, 28) float image to (size, size)."""
    n = img.shape[0]
    pos = (xp.arange(size) + 0.5) * (n / size) - 0.5
    pos = xp.clip(pos, 0, n - 1)
    i0 = xp.floor(pos).astype(xp.int64)
    i1 = xp.minimum(i0 + 1, n - 1)
    f = (pos - i0)[:, None]
    rows = img[i0] * (1 - f) + img[i1] * f                # (size, n)
    g = (pos - i0)[None, :]
    return rows[:, i0] * (1 - g) + rows[:, i1] * g        # (size, size)


def make_digit_boxes(n: int = 1000, canvas: int = 64, scale=(1.0, 1.7), clutter: int = 3,
                     seed: int = 0, digits=None):
    """Canvases with one digit each and the box around it.

    Each canvas: ``clutter`` fragments (random 8-12 pixel pieces of other digits, dimmed
    to 40-70%) at random places, then one whole digit, resized from 28x28 by a random
    factor in ``scale`` and pasted at a random position where it fits (brighter pixel wins).
    The target is the tight box of the digit's ink (pixels > 0.2 after resizing).

    Args:
        n: number of canvases.
        canvas: side of the square canvas in pixels.
        scale: (min, max) resize factor of the 28x28 digit.
        clutter: fragments per canvas.
        seed: the random seed (same seed, same canvases).
        digits: optional (images, labels) to draw from (default: the bundled MNIST-10k as
            uint8, scaled here to [0, 1]).

    Returns:
        ``(X, boxes, labels)``: X float32 (n, 1, canvas, canvas) in [0, 1]; boxes float32
        (n, 4) = (a, b, c, d) = (x of the left edge, y of the top edge, width, height) in
        pixels; labels int64 (n,) the digit class.

    Example:
        >>> from bricks.data.datasets import make_digit_boxes
        >>> X, boxes, labels = make_digit_boxes(4, seed=0)
        >>> X.shape, boxes.shape, bool((boxes[:, 2:] > 5).all())
        ((4, 1, 64, 64), (4, 4), True)
    """
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"make_digit_boxes: n must be a positive integer, got {n!r}")
    lo, hi = scale
    if not 0 < lo <= hi or int(28 * hi) > canvas:
        raise ValueError(f"make_digit_boxes: scale {scale} must satisfy 0 < min <= max and "
                         f"28 * max <= canvas ({canvas})")
    images, labels = load_mnist() if digits is None else digits
    images = xp.asarray(images, dtype=xp.float32)
    if images.max() > 1.0:
        images = images / xp.float32(255)
    rng = xp.random.default_rng(seed)
    X = xp.zeros((n, 1, canvas, canvas), dtype=xp.float32)
    boxes = xp.zeros((n, 4), dtype=xp.float32)
    picks = rng.integers(0, len(images), size=n)
    for i in range(n):
        c = X[i, 0]
        for _ in range(clutter):
            src = images[rng.integers(0, len(images))]
            fh, fw = (int(v) for v in rng.integers(8, 13, 2))
            sy, sx = (int(v) for v in rng.integers(4, 28 - 12, 2))
            frag = src[sy:sy + fh, sx:sx + fw] * xp.float32(rng.uniform(0.4, 0.7))
            y, x = (int(v) for v in rng.integers(0, canvas - 12, 2))
            c[y:y + fh, x:x + fw] = xp.maximum(c[y:y + fh, x:x + fw], frag)
        size = int(round(28 * rng.uniform(lo, hi)))
        digit = _resize(images[picks[i]], size)
        y, x = (int(v) for v in rng.integers(0, canvas - size + 1, 2))
        c[y:y + size, x:x + size] = xp.maximum(c[y:y + size, x:x + size], digit)
        ink_r = xp.nonzero((digit > 0.2).any(axis=1))[0]
        ink_c = xp.nonzero((digit > 0.2).any(axis=0))[0]
        boxes[i] = (x + ink_c[0], y + ink_r[0], ink_c[-1] - ink_c[0] + 1,
                    ink_r[-1] - ink_r[0] + 1)
    return X, boxes, xp.asarray(labels)[picks].astype(xp.int64)


def box_iou(a, b):
    """Intersection over union of boxes (x, y, w, h), row by row: shape (N, 4) -> (N,).

    ``IoU = area(A and B) / area(A or B)``: 1 for the same box, 0 for disjoint ones.

    Example:
        >>> from bricks.data.datasets import box_iou
        >>> box_iou(np.array([[0, 0, 2, 2], [0, 0, 2, 2]]), np.array([[1, 0, 2, 2],
        ...                                                          [5, 5, 1, 1]])).tolist()
        [0.3333333333333333, 0.0]
    """
    a, b = xp.asarray(a, dtype=xp.float64), xp.asarray(b, dtype=xp.float64)
    w = xp.clip(xp.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - xp.maximum(a[:, 0], b[:, 0]),
                0, None)
    h = xp.clip(xp.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - xp.maximum(a[:, 1], b[:, 1]),
                0, None)
    inter = w * h
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return xp.where(union > 0, inter / xp.where(union > 0, union, 1.0), 0.0)
