"""The playground's points: its data sets on the plane, the train/test split, the features.

Every random number of a session comes from its one config ``seed``, through separate
streams (``generator(seed, stream)``): the points, the split, the initial weights and the
mini-batch order each draw from their own, so that changing one (a new split ratio) does
not move the others.  The stream offsets are those of the first playground, so a seed gives
the same points, weights and batches as it always did (shared links keep working).
"""

from __future__ import annotations

import math

from bricks.backend import xp
from bricks.data import datasets
from bricks.playground import schema

__all__ = ["make_dataset", "split_mask", "feature_matrix", "feature_code", "feature_text",
           "generator", "SPLIT_STREAM", "INIT_STREAM", "BATCH_STREAM"]

# Offsets added to the config seed for each random stream (the points use the seed itself).
SPLIT_STREAM = 1     # which points are test points
INIT_STREAM = 7      # the initial weights
BATCH_STREAM = 11    # the mini-batch order of every epoch

# "blobs": k Gaussian clusters centred on a circle of this radius, each with standard
# deviation BLOB_STD plus BLOB_NOISE_STD * noise.
BLOB_RADIUS = 3.5
BLOB_STD = 0.6
BLOB_NOISE_STD = 3.0
# "moons": scikit-learn's two moons live in [-1, 2] x [-0.5, 1]; moved by -MOONS_CENTER and
# stretched by MOONS_SCALE they fill the plane [-6, 6]² like the other sets.
MOONS_CENTER = (0.5, 0.25)
MOONS_SCALE = 3.5

# Input features: name -> (columns of points X (n, 2), the same in a script, in a formula).
_FEATURES = {
    "x1": (lambda x1, x2: x1, "X[:, 0]", "x1"),
    "x2": (lambda x1, x2: x2, "X[:, 1]", "x2"),
    "x1sq": (lambda x1, x2: x1 * x1, "X[:, 0] ** 2", "x1^2"),
    "x2sq": (lambda x1, x2: x2 * x2, "X[:, 1] ** 2", "x2^2"),
    "x1x2": (lambda x1, x2: x1 * x2, "X[:, 0] * X[:, 1]", "x1*x2"),
    "sinx1": (lambda x1, x2: xp.sin(x1), "xp.sin(X[:, 0])", "sin(x1)"),
    "sinx2": (lambda x1, x2: xp.sin(x2), "xp.sin(X[:, 1])", "sin(x2)"),
}


def generator(seed: int, stream: int):
    """The random generator of one stream (``SPLIT_STREAM``, ...) of the config seed."""
    return xp.random.default_rng(seed + stream)


def feature_matrix(X, features):
    """The input features (X1, X2, X1², X2², X1·X2, sin X1, sin X2) of points ``X`` (n, 2)."""
    x1, x2 = X[:, 0], X[:, 1]
    return xp.stack([_FEATURES[f][0](x1, x2) for f in features], axis=1).astype(xp.float32)


def feature_code(feature: str) -> str:
    """The feature as a NumPy expression of points ``X`` (for the exported script)."""
    return _FEATURES[feature][1]


def feature_text(feature: str) -> str:
    """The feature's name in a neuron's formula (``x1^2``)."""
    return _FEATURES[feature][2]


def _make_blobs(n, noise, seed, k):
    """k Gaussian blobs on a circle of radius BLOB_RADIUS (k-class "gaussians")."""
    rng = xp.random.default_rng(seed)
    y = xp.arange(n) % k
    angle = 2 * math.pi * y / k
    centers = BLOB_RADIUS * xp.stack([xp.cos(angle), xp.sin(angle)], axis=1)
    X = centers + rng.standard_normal((n, 2)) * (BLOB_STD + BLOB_NOISE_STD * noise)
    X = xp.clip(X, -schema.DOMAIN, schema.DOMAIN)
    order = rng.permutation(n)
    return X[order].astype(xp.float32), y[order].astype(xp.int64)


def make_dataset(name, n, noise, seed, n_classes=2):
    """Points ``X`` (n, 2) in [-6, 6]² and labels ``y`` of a playground data set.

    ``noise`` is the fraction in [0, 0.5] (the page's percent / 100). Returns
    ``(X, y, task, k)`` with task ``"classification"`` or ``"regression"`` and ``k`` the
    number of classes (1 for regression).
    """
    if name == "moons":
        X, y = datasets.make_moons(n, noise=noise, seed=seed)
        # Noise is jitter, so clip the rare point that would leave the plane.
        X = (X - xp.asarray(MOONS_CENTER, dtype=xp.float32)) * MOONS_SCALE
        X = xp.clip(X, -schema.DOMAIN, schema.DOMAIN).astype(xp.float32)
        return X, y, "classification", 2
    if name == "blobs":
        X, y = _make_blobs(n, noise, seed, n_classes)
        return X, y, "classification", n_classes
    if name == "spiral":
        X, y = datasets.make_spiral(n, noise=noise, seed=seed, n_classes=n_classes)
        X = xp.clip(X, -schema.DOMAIN, schema.DOMAIN)
        return X, y, "classification", n_classes
    maker = {"circle": datasets.make_circle, "xor": datasets.make_xor,
             "gauss": datasets.make_gauss, "plane": datasets.make_plane,
             "multi_gauss": datasets.make_multi_gauss}[name]
    X, y = maker(n, noise=noise, seed=seed)
    task = "regression" if name in schema.REGRESSION_DATASETS else "classification"
    return X, y, task, (1 if task == "regression" else 2)


def split_mask(n, ratio, seed):
    """A boolean is_test mask with round(n * ratio / 100) training points, by ``seed``."""
    n_train = int(round(n * ratio / 100))
    order = generator(seed, SPLIT_STREAM).permutation(n)
    is_test = xp.ones(n, dtype=bool)
    is_test[order[:n_train]] = False
    return is_test
