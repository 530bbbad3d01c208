"""The dataset registry: every dataset by name, with what a trainer or a CLI needs to know.

``load_dataset(name, **options)`` returns network-ready NumPy arrays: features float32
(images scaled to [0, 1], shape (N, 28, 28) for MNIST-like sets; digits scaled to [0, 1],
shape (N, 64)), class labels int64 in 0..k-1, regression targets float32 of shape (N,).
``options`` go to the underlying loader (``n``, ``noise``, ``seed`` for the toy sets;
``path``, ``split`` for MNIST; ``split`` for MNIST-1D).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from bricks.backend import xp

from . import toy
from .digits import load_digits
from .download import DatasetError
from .mnist import load_fashion_mnist, load_mnist
from .mnist1d import load_mnist1d
from .reviews import (
    REVIEW_CLASSES,
    REVIEWS_N_TRAIN,
    REVIEWS_N_WORDS,
    load_reviews_features,
    reviews_vectorizer,
)

__all__ = ["DatasetSpec", "DatasetRow", "DATASETS", "load_dataset", "list_datasets"]


@dataclass(frozen=True)
class DatasetSpec:
    """What is known about a dataset before loading it.

    Attributes:
        name: the registry key (lowercase, words joined by ``-``).
        task: ``'classification'`` or ``'regression'``.
        n_classes: number of classes (None for regression).
        input_shape: shape of one example, e.g. ``(2,)`` or ``(28, 28)``.
        description: one line for listings.
        loader: called with the user's options, returns ``(X, y)`` as described above.
        samples: number of examples with the default options (None if it depends on files).
        classes: class names in label order, where they have names (None: 0..k-1).
        n_train: when the data comes with its own split, the first ``n_train`` rows are
            the training part and the rest the test part (None: no fixed split).
        vectorizer: for text data, a callable returning the fitted vectorizer that turned
            the texts into the features (so new text can be classified); None otherwise.
    """

    name: str
    task: str
    n_classes: int | None
    input_shape: tuple
    description: str
    loader: Callable
    samples: int | None
    classes: tuple | None = None
    n_train: int | None = None
    vectorizer: Callable | None = None


class DatasetRow(NamedTuple):
    """One row of :func:`list_datasets`."""

    name: str
    task: str
    samples: int | None
    shape: tuple
    classes: int | None
    description: str


def _images(loader):
    def load(**options):
        images, labels = loader(**options)
        return images.astype(xp.float32) / xp.float32(255.0), labels

    return load


def _toy(make, **fixed):
    def load(**options):
        return make(**{**fixed, **options})

    return load


def _digits(**options):
    return load_digits(scale=True, **options)


def _reviews(features="tfidf", split=None, binary=False, min_count=2):
    return load_reviews_features(features, split, binary, min_count)


def _fashion(path=None, split=None):
    return load_fashion_mnist(path, split)


DATASETS: OrderedDict[str, DatasetSpec] = OrderedDict(
    (spec.name, spec)
    for spec in (
        DatasetSpec("circle", "classification", 2, (2,),
                    "playground: a disc inside a ring (label noise)",
                    _toy(toy.make_circle), 500),
        DatasetSpec("xor", "classification", 2, (2,),
                    "playground: exclusive or of the signs of x and y (label noise)",
                    _toy(toy.make_xor), 500),
        DatasetSpec("gauss", "classification", 2, (2,),
                    "playground: two Gaussian clouds (noise widens them)",
                    _toy(toy.make_gauss), 500),
        DatasetSpec("spiral", "classification", 2, (2,),
                    "playground: two interleaved spirals",
                    _toy(toy.make_spiral), 500),
        DatasetSpec("spiral-3", "classification", 3, (2,),
                    "three interleaved spiral arms",
                    _toy(toy.make_spiral, n_classes=3), 500),
        DatasetSpec("moons", "classification", 2, (2,),
                    "two interleaving half circles (scikit-learn's make_moons)",
                    _toy(toy.make_moons), 500),
        DatasetSpec("plane", "regression", None, (2,),
                    "playground regression: target (x + y) / 10",
                    _toy(toy.make_plane), 500),
        DatasetSpec("multi-gauss", "regression", None, (2,),
                    "playground regression: six Gaussian bumps of alternating sign",
                    _toy(toy.make_multi_gauss), 500),
        DatasetSpec("regression-1d", "regression", None, (1,),
                    "sin(2 pi x) + noise on [0, 1], for polynomial over-fitting",
                    _toy(toy.make_regression_1d), 20),
        DatasetSpec("digits", "classification", 10, (64,),
                    "8x8 handwritten digits from scikit-learn, scaled to [0, 1]",
                    _digits, 1797),
        DatasetSpec("mnist", "classification", 10, (28, 28),
                    "10,000 real MNIST digits bundled with bricks (path= for the full IDX set)",
                    _images(load_mnist), 10000),
        DatasetSpec("fashion-mnist", "classification", 10, (28, 28),
                    "Fashion-MNIST from a folder of IDX files (path=; see download_mnist)",
                    _images(_fashion), 70000),
        DatasetSpec("mnist1d", "classification", 10, (40,),
                    "MNIST-1D: 1-D digit signals, 4,000 train + 1,000 test, generated",
                    load_mnist1d, 5000),
        DatasetSpec("reviews", "classification", 3, (REVIEWS_N_WORDS,),
                    "979 drug reviews (CC BY 4.0): TF-IDF of the words, 600 train + 379 test",
                    _reviews, 979, classes=REVIEW_CLASSES, n_train=REVIEWS_N_TRAIN,
                    vectorizer=reviews_vectorizer),
    )
)  # fmt: skip
"""Every dataset by name, in listing order."""


def _resolve(name: str) -> DatasetSpec:
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise DatasetError(
            f"unknown dataset {name!r}; available: {', '.join(DATASETS)}"
        )
    return DATASETS[key]


def load_dataset(name: str, **options):
    """Load a dataset by name as network-ready arrays ``(X, y)``.

    Names are case-insensitive, and ``_`` may stand for ``-`` (``multi_gauss``).

    Args:
        name: a key of :data:`DATASETS`.
        **options: passed to the dataset's loader (e.g. ``n=``, ``noise=``, ``seed=`` for
            the toy sets, ``path=``, ``split=`` for MNIST, ``split=`` for MNIST-1D).

    Returns:
        ``(X, y)``: X float32 (images in [0, 1], shape (N, 28, 28)); y int64 class labels
        or float32 regression targets.

    Raises:
        DatasetError: for an unknown name (the message lists the available ones) or a
            loading failure.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.load_dataset("xor", n=100, seed=0)
        >>> X.shape, y.dtype
        ((100, 2), dtype('int64'))
        >>> datasets.load_dataset("cifar")
        Traceback (most recent call last):
        ...
        bricks.data.datasets.download.DatasetError: unknown dataset 'cifar'; available: ...
    """
    return _resolve(name).loader(**options)


def list_datasets() -> list[DatasetRow]:
    """One row per dataset: (name, task, samples, shape, classes, description).

    Example:
        >>> from bricks.data import datasets
        >>> datasets.list_datasets()[0]
        DatasetRow(name='circle', task='classification', samples=500, shape=(2,), classes=2, ...)
    """
    return [
        DatasetRow(s.name, s.task, s.samples, s.input_shape, s.n_classes, s.description)
        for s in DATASETS.values()
    ]
