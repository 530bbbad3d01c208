"""Datasets that work offline: toy 2-D sets, a 1-D curve, digits, MNIST, MNIST-1D, reviews.

* ``toy``: the TensorFlow Playground's sets (circle, xor, gauss, spiral, plane,
  multi-gauss), moons, and the 1-D regression toy: ``make_<name>(n, noise, seed)``.
* ``digits``: the 8x8 digits from scikit-learn's bundled copy (optional extra).
* ``mnist``: 10,000 real MNIST digits bundled with bricks, IDX files of MNIST and
  Fashion-MNIST from a folder, an IDX reader/writer and a SHA-256-verified download.
* ``mnist1d``: MNIST-1D, generated offline.
* ``reviews``: 979 real drug reviews (negative / neutral / positive) bundled with bricks,
  as texts or as bag-of-words / TF-IDF features.
* ``boxes``: 64x64 canvases with one MNIST digit among clutter and its box, for box
  regression (localization).
* ``registry``: ``load_dataset(name)`` and ``list_datasets()`` over all of them.

Loaders return NumPy arrays ``(X, y)``; see each function for dtypes and shapes.
"""

from .boxes import box_iou, make_digit_boxes
from .digits import load_digits
from .download import DatasetError, download, sha256sum
from .mnist import (
    BUNDLED_MNIST_SHA256,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_SHA256,
    MNIST_SHA256,
    download_mnist,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from .mnist1d import MNIST1D_DEFAULTS, load_mnist1d, make_mnist1d
from .registry import DATASETS, DatasetRow, DatasetSpec, list_datasets, load_dataset
from .reviews import (
    BUNDLED_REVIEWS_SHA256,
    REVIEW_CLASSES,
    load_reviews,
    load_reviews_features,
    reviews_vectorizer,
)
from .toy import (
    REGRESSION_1D_FUNCTIONS,
    make_circle,
    make_gauss,
    make_moons,
    make_multi_gauss,
    make_plane,
    make_regression_1d,
    make_spiral,
    make_xor,
)

__all__ = [
    "DatasetError",
    "DatasetSpec",
    "DatasetRow",
    "DATASETS",
    "load_dataset",
    "list_datasets",
    "make_circle",
    "make_xor",
    "make_gauss",
    "make_spiral",
    "make_moons",
    "make_plane",
    "make_multi_gauss",
    "make_regression_1d",
    "REGRESSION_1D_FUNCTIONS",
    "load_digits",
    "load_mnist",
    "load_fashion_mnist",
    "read_idx",
    "write_idx",
    "download",
    "download_mnist",
    "sha256sum",
    "MNIST_SHA256",
    "FASHION_MNIST_SHA256",
    "FASHION_MNIST_CLASSES",
    "BUNDLED_MNIST_SHA256",
    "load_mnist1d",
    "make_mnist1d",
    "MNIST1D_DEFAULTS",
    "make_digit_boxes",
    "box_iou",
    "load_reviews",
    "load_reviews_features",
    "reviews_vectorizer",
    "REVIEW_CLASSES",
    "BUNDLED_REVIEWS_SHA256",
]
