"""Toy data: the 2-D sets of the TensorFlow Playground, moons, and a 1-D regression curve.

The playground's generators (``src/dataset.ts`` of tensorflow/playground) are reproduced
with their geometry and their *noise semantics*, which differ between sets:

* circle, xor, plane, multi-gauss: points are drawn cleanly and the **label** is computed
  at a perturbed position ``p + noise * U(-r, r)^2`` (``r`` = 5 for circle and xor, 6 for
  the regression sets), so noise flips labels near the boundary but never moves a point;
* gauss: noise widens both Gaussians (variance ``0.5 + 7 * noise``, the playground's map
  of noise 0..0.5 onto variance 0.5..4);
* spiral: noise moves points by ``noise * U(-1, 1)`` in each coordinate;
* moons (scikit-learn's ``make_moons``): noise is the standard deviation of Gaussian
  jitter added to the points.

The playground's noise slider runs over 0..50 %, i.e. ``noise`` in [0, 0.5]; larger values
work too. Labels: the playground's +1 is class 1 and its -1 is class 0. Classes have equal
sizes (``n // k`` each, the first ``n % k`` classes one more), exactly ``n`` rows come back,
and the rows are shuffled (the playground shuffles too), all drawn from
``default_rng(seed)``, so the same seed gives the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bricks.backend import xp

__all__ = [
    "make_circle",
    "make_xor",
    "make_gauss",
    "make_spiral",
    "make_moons",
    "make_plane",
    "make_multi_gauss",
    "make_regression_1d",
    "REGRESSION_1D_FUNCTIONS",
]


def _check(n, noise):
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    return int(n), float(noise)


def _class_sizes(n, k):
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _finish(rng, X, y, y_dtype):
    order = rng.permutation(len(y))
    return X[order].astype(xp.float32), y[order].astype(y_dtype)


def make_circle(n: int = 500, noise: float = 0.0, seed: int | None = None):
    """The playground's "circle": a disc of class 1 inside a ring of class 0.

    Half the points lie at radius ``U(0, 2.5)`` (inner disc), half at ``U(3.5, 5)`` (outer
    ring), at uniform angles. The label is ``1 if |p + noise * U(-5, 5)^2| < 2.5 else 0``:
    noise flips labels, it does not move points.

    Args:
        n: number of points.
        noise: label noise, 0..0.5 in the playground.
        seed: seed for ``default_rng``; None draws fresh entropy.

    Returns:
        ``(X, y)``: X float32 of shape (n, 2), y int64 of shape (n,) with values 0, 1.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_circle(100, seed=0)
        >>> X.shape, X.dtype, y.dtype, int(y.sum())
        ((100, 2), dtype('float32'), dtype('int64'), 50)
    """
    n, noise = _check(n, noise)
    rng = xp.random.default_rng(seed)
    radius = 5.0
    n_in, n_out = _class_sizes(n, 2)
    r = xp.concatenate([
        rng.uniform(0, radius * 0.5, n_in),
        rng.uniform(radius * 0.7, radius, n_out),
    ])
    angle = rng.uniform(0, 2 * math.pi, n)
    X = xp.stack([r * xp.sin(angle), r * xp.cos(angle)], axis=1)
    shifted = X + rng.uniform(-radius, radius, (n, 2)) * noise
    y = (xp.hypot(shifted[:, 0], shifted[:, 1]) < radius * 0.5).astype(xp.int64)
    return _finish(rng, X, y, xp.int64)


def make_xor(n: int = 500, noise: float = 0.0, seed: int | None = None):
    """The playground's "exclusive or": class 1 in quadrants I and III, class 0 in II and IV.

    Coordinates are ``U(-5, 5)`` pushed 0.3 away from the axes; the label is
    ``1 if (x + noise * U(-5, 5)) * (y + noise * U(-5, 5)) >= 0 else 0`` (label noise only).
    Class sizes are random (about n/2 each), as in the playground.

    Args:
        n: number of points.
        noise: label noise, 0..0.5 in the playground.
        seed: seed for ``default_rng``.

    Returns:
        ``(X, y)``: X float32 (n, 2), y int64 (n,) in {0, 1}.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_xor(8, seed=1)
        >>> bool(((X[:, 0] * X[:, 1] >= 0) == (y == 1)).all())
        True
    """
    n, noise = _check(n, noise)
    rng = xp.random.default_rng(seed)
    padding = 0.3
    X = rng.uniform(-5, 5, (n, 2))
    X += xp.where(X > 0, padding, -padding)
    shifted = X + rng.uniform(-5, 5, (n, 2)) * noise
    y = (shifted[:, 0] * shifted[:, 1] >= 0).astype(xp.int64)
    return _finish(rng, X, y, xp.int64)


def make_gauss(n: int = 500, noise: float = 0.0, seed: int | None = None):
    """The playground's "two Gaussians": class 1 around (2, 2), class 0 around (-2, -2).

    Each coordinate is normal with variance ``0.5 + 7 * noise`` (noise 0 → variance 0.5,
    noise 0.5 → variance 4, the playground's linear map), so noise makes the clouds overlap.

    Args:
        n: number of points.
        noise: spread, 0..0.5 in the playground.
        seed: seed for ``default_rng``.

    Returns:
        ``(X, y)``: X float32 (n, 2), y int64 (n,) in {0, 1}.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_gauss(1000, seed=0)
        >>> bool(abs(X[y == 1].mean() - 2) < 0.1), bool(abs(X[y == 0].mean() + 2) < 0.1)
        (True, True)
    """
    n, noise = _check(n, noise)
    rng = xp.random.default_rng(seed)
    std = math.sqrt(0.5 + 7.0 * noise)
    n_pos, n_neg = _class_sizes(n, 2)
    X = xp.concatenate([
        rng.normal(2.0, std, (n_pos, 2)),
        rng.normal(-2.0, std, (n_neg, 2)),
    ])
    y = xp.concatenate([xp.ones(n_pos, xp.int64), xp.zeros(n_neg, xp.int64)])
    return _finish(rng, X, y, xp.int64)


def make_spiral(n: int = 500, noise: float = 0.0, seed: int | None = None, n_classes: int = 2):
    """The playground's "spiral": interleaved arms, one per class (binary by default).

    Point ``i`` of the ``m`` points of an arm sits at radius ``r = 5 i / m`` and angle
    ``t = 1.75 * 2 pi i / m + delta``, at ``(r sin t, r cos t) + noise * U(-1, 1)^2``. With
    two classes this is the playground exactly (class 1 has ``delta = 0``, class 0 has
    ``delta = pi``); with k classes the arms are spread evenly, class c at
    ``delta = pi (1 + 2c / k)`` (mod 2 pi).

    Args:
        n: number of points.
        noise: positional jitter, 0..0.5 in the playground.
        seed: seed for ``default_rng``.
        n_classes: number of arms and classes (>= 2).

    Returns:
        ``(X, y)``: X float32 (n, 2), y int64 (n,) in 0..n_classes-1.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_spiral(300, seed=0, n_classes=3)
        >>> [int(c) for c in np.bincount(y)]
        [100, 100, 100]
    """
    n, noise = _check(n, noise)
    if int(n_classes) != n_classes or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    k = int(n_classes)
    rng = xp.random.default_rng(seed)
    points, labels = [], []
    for c, m in enumerate(_class_sizes(n, k)):
        i = xp.arange(m, dtype=xp.float64)
        delta = math.pi * ((k + 2 * c) % (2 * k)) / k
        r = i / m * 5
        t = 1.75 * i / m * 2 * math.pi + delta
        points.append(xp.stack([r * xp.sin(t), r * xp.cos(t)], axis=1))
        labels.append(xp.full(m, c, dtype=xp.int64))
    X = xp.concatenate(points)
    X += rng.uniform(-1, 1, X.shape) * noise
    return _finish(rng, X, xp.concatenate(labels), xp.int64)


def make_moons(n: int = 500, noise: float = 0.0, seed: int | None = None):
    """Two interleaving half circles, as scikit-learn's ``make_moons``.

    Class 0 is the upper arc ``(cos s, sin s)``, class 1 the lower arc
    ``(1 - cos s, 0.5 - sin s)``, ``s`` evenly spaced in [0, pi]; then Gaussian noise of
    standard deviation ``noise`` is added to every coordinate. With ``noise=0`` the point
    set equals scikit-learn's (ours are shuffled with our own generator).

    Args:
        n: number of points (class 0 gets ``n // 2``, class 1 the rest, as in sklearn).
        noise: standard deviation of the jitter (sklearn's examples use 0.1 to 0.3).
        seed: seed for ``default_rng``.

    Returns:
        ``(X, y)``: X float32 (n, 2), y int64 (n,) in {0, 1}.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_moons(6)
        >>> sorted(map(tuple, X[y == 0].round(3).tolist()))
        [(-1.0, 0.0), (0.0, 1.0), (1.0, 0.0)]
    """
    n, noise = _check(n, noise)
    rng = xp.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    s_out = xp.linspace(0, math.pi, n_out)
    s_in = xp.linspace(0, math.pi, n_in)
    X = xp.concatenate([
        xp.stack([xp.cos(s_out), xp.sin(s_out)], axis=1),
        xp.stack([1 - xp.cos(s_in), 1 - xp.sin(s_in) - 0.5], axis=1),
    ])
    y = xp.concatenate([xp.zeros(n_out, xp.int64), xp.ones(n_in, xp.int64)])
    X += rng.standard_normal(X.shape) * noise
    return _finish(rng, X, y, xp.int64)


def make_plane(n: int = 500, noise: float = 0.0, seed: int | None = None):
    """The playground's regression "plane": target ``(x + y) / 10`` on [-6, 6]^2.

    The target is computed at ``p + noise * U(-6, 6)^2`` (the point itself does not move),
    so it lies in [-1.2, 1.2] for noise 0 (the playground clips its display to [-1, 1]).

    Args:
        n: number of points.
        noise: input noise of the target, 0..0.5 in the playground.
        seed: seed for ``default_rng``.

    Returns:
        ``(X, y)``: X float32 (n, 2), y float32 (n,).

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_plane(50, seed=0)
        >>> bool(np.allclose(y, X.sum(axis=1) / 10, atol=1e-6)), y.dtype
        (True, dtype('float32'))
    """
    n, noise = _check(n, noise)
    rng = xp.random.default_rng(seed)
    radius = 6.0
    X = rng.uniform(-radius, radius, (n, 2))
    shifted = X + rng.uniform(-radius, radius, (n, 2)) * noise
    y = (shifted[:, 0] + shifted[:, 1]) / 10.0
    return _finish(rng, X, y, xp.float32)


_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def make_multi_gauss(n: int = 500, noise: float = 0.0, seed: int | None = None):
    """The playground's regression "multi Gaussian": six bumps of alternating sign.

    Bumps sit at x in {-4, 0, 4}, y in {2.5, -2.5} with signs ``+ - +`` over ``- + -``; each
    contributes ``sign * max(0, 1 - d / 2)`` at distance ``d``, and the target is the
    contribution largest in absolute value (0 far from all bumps). As for the plane, the
    target is computed at ``p + noise * U(-6, 6)^2`` for points drawn from U(-6, 6)^2.

    Args:
        n: number of points.
        noise: input noise of the target, 0..0.5 in the playground.
        seed: seed for ``default_rng``.

    Returns:
        ``(X, y)``: X float32 (n, 2), y float32 (n,) in [-1, 1].

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_multi_gauss(200, seed=0)
        >>> bool(y.min() >= -1 and y.max() <= 1), X.shape
        (True, (200, 2))
    """
    n, noise = _check(n, noise)
    rng = xp.random.default_rng(seed)
    radius = 6.0
    X = rng.uniform(-radius, radius, (n, 2))
    shifted = X + rng.uniform(-radius, radius, (n, 2)) * noise
    centers = xp.array([(cx, cy) for cx, cy, _ in _GAUSSIANS], dtype=xp.float64)
    signs = xp.array([s for _, _, s in _GAUSSIANS], dtype=xp.float64)
    d = xp.hypot(shifted[:, None, 0] - centers[:, 0], shifted[:, None, 1] - centers[:, 1])
    values = signs * xp.clip(1.0 - d / 2.0, 0.0, 1.0)
    # argmax takes the first of equal magnitudes, as the playground's strict '>' does.
    y = values[xp.arange(n), xp.argmax(xp.abs(values), axis=1)]
    return _finish(rng, X, y, xp.float32)


REGRESSION_1D_FUNCTIONS: dict[str, Callable] = {
    "sin": lambda x: xp.sin(2 * math.pi * x),
    "linear": lambda x: 2 * x - 1,
    "cubic": lambda x: (2 * x - 1) ** 3,
}
"""The named curves of :func:`make_regression_1d`, for plotting the truth next to a fit."""


def make_regression_1d(n: int = 20, noise: float = 0.2, seed: int | None = None, fn="sin"):
    """Noisy samples of a 1-D curve: the polynomial over-fitting example (Bishop, ch. 1).

    ``x ~ U(0, 1)`` (sorted ascending), ``y = f(x) + noise * N(0, 1)`` with ``f`` one of
    ``'sin'`` (``sin(2 pi x)``), ``'linear'`` (``2x - 1``), ``'cubic'`` (``(2x - 1)^3``) or any
    callable on arrays. Few points and a high-degree polynomial over-fit; more points cure it.

    Args:
        n: number of samples.
        noise: standard deviation of the Gaussian noise on ``y``.
        seed: seed for ``default_rng``.
        fn: the name of the curve (see :data:`REGRESSION_1D_FUNCTIONS`) or a callable.

    Returns:
        ``(X, y)``: X float32 (n, 1) in [0, 1], y float32 (n,).

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.make_regression_1d(10, noise=0.0, seed=0)
        >>> X.shape, bool(np.allclose(y, np.sin(2 * np.pi * X[:, 0]), atol=1e-6))
        ((10, 1), True)
    """
    n, noise = _check(n, noise)
    if callable(fn):
        f = fn
    elif fn in REGRESSION_1D_FUNCTIONS:
        f = REGRESSION_1D_FUNCTIONS[fn]
    else:
        names = ", ".join(repr(k) for k in REGRESSION_1D_FUNCTIONS)
        raise ValueError(f"fn must be a callable or one of {names}, got {fn!r}")
    rng = xp.random.default_rng(seed)
    x = xp.sort(rng.uniform(0.0, 1.0, n))
    y = xp.asarray(f(x), dtype=xp.float64) + noise * rng.standard_normal(n)
    return x[:, None].astype(xp.float32), y.astype(xp.float32)
