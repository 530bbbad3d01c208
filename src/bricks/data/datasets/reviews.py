"""Drug reviews: 979 real patient reviews labelled negative / neutral / positive, bundled.

The lectures' first application: "raw data -> features -> logistic regression -> a neural
network" on reviews.  ``files/drug-reviews.zip`` holds two tab-separated files, a training
file of 600 reviews (385 positive, 161 negative, 54 neutral) and a test file of 379 (248 /
95 / 36), a subset of the UCI *Drug Review Dataset (Drugs.com)* by Gräßer, Kallumadi, Malberg
and Zaunseder (2018), CC BY 4.0; the attribution travels in ``files/LICENSE-drug-reviews.txt``.
Its SHA-256 is checked the first time it is read in a process.

* :func:`load_reviews` gives the texts and labels of a split (optionally only the positive
  and negative ones, the binary task).
* :func:`load_reviews_features` gives bag-of-words or TF-IDF features with the vocabulary
  built from the training file only (the test reviews never shape the features).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from bricks.backend import xp

from .download import DatasetError, sha256sum

__all__ = ["load_reviews", "load_reviews_features", "reviews_vectorizer", "REVIEW_CLASSES",
           "BUNDLED_REVIEWS_SHA256", "REVIEWS_N_TRAIN", "REVIEWS_N_WORDS"]

FILES_DIR = Path(__file__).resolve().parent / "files"
BUNDLED_REVIEWS = FILES_DIR / "drug-reviews.zip"
BUNDLED_REVIEWS_SHA256 = "3f08a1630a0c69a5271a82b7408c7b2bdbed0a187e6a249444b16d548e6fade0"
REVIEW_CLASSES = ("negative", "neutral", "positive")
"""The labels, in label order: 0 negative, 1 neutral, 2 positive."""
REVIEWS_N_TRAIN = 600
REVIEWS_N_WORDS = 2451
"""Words seen at least twice in the training reviews: the default feature count."""
_MEMBERS = {"train": "drugsComTrain.tsv", "test": "drugsComTest.tsv"}
_cache: dict[str, tuple[list[str], list[int]]] = {}


def _read_split(split: str):
    if split in _cache:
        return _cache[split]
    if not BUNDLED_REVIEWS.is_file():
        raise DatasetError(f"the bundled reviews file {str(BUNDLED_REVIEWS)!r} is missing: "
                           "reinstall bricks")
    if not _cache:
        actual = sha256sum(BUNDLED_REVIEWS)
        if actual != BUNDLED_REVIEWS_SHA256:
            raise DatasetError(f"the bundled reviews file {str(BUNDLED_REVIEWS)!r} is "
                               f"corrupted: sha256 {actual}, expected {BUNDLED_REVIEWS_SHA256}; "
                               "reinstall bricks")
    with zipfile.ZipFile(BUNDLED_REVIEWS) as z:
        raw = z.read(_MEMBERS[split]).decode("utf-8")
    texts, labels = [], []
    code = {name: i for i, name in enumerate(REVIEW_CLASSES)}
    for row in csv.DictReader(io.StringIO(raw, newline=""), delimiter="\t"):
        # The publisher wrapped each review in an extra pair of quotes ("""text""").
        text = row["review"].strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].strip()
        rating = row["rating"].strip()
        if rating not in code:
            raise DatasetError(f"{_MEMBERS[split]}: unknown rating {rating!r}")
        texts.append(text)
        labels.append(code[rating])
    _cache[split] = (texts, labels)
    return texts, labels


def load_reviews(split: str | None = None, binary: bool = False):
    """The bundled drug reviews as raw texts and labels.

    Args:
        split: ``'train'`` (600 reviews), ``'test'`` (379), or None for train then test.
        binary: keep only negative and positive reviews, labelled 0 and 1 (the neutral ones,
            about 9%, are dropped): the "positive vs negative" task.

    Returns:
        ``(texts, labels)``: a list of str (HTML entities still escaped, as published) and
        int64 labels, 0..2 indexing :data:`REVIEW_CLASSES` (0 negative, 1 positive when
        ``binary``).

    Example:
        >>> from bricks.data import datasets
        >>> texts, y = datasets.load_reviews("train")
        >>> len(texts), np.bincount(y).tolist(), texts[0][:30]
        (600, [161, 54, 385], 'I recently received an injecti')
        >>> len(datasets.load_reviews("test", binary=True)[0])
        343
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"load_reviews: split must be None, 'train' or 'test', got {split!r}")
    parts = ["train", "test"] if split is None else [split]
    texts, labels = [], []
    for part in parts:
        t, y = _read_split(part)
        texts += t
        labels += y
    y = xp.asarray(labels, dtype=xp.int64)
    if binary:
        keep = y != 1
        texts = [t for t, k in zip(texts, keep) if k]
        y = (y[keep] == 2).astype(xp.int64)
    return texts, y


def reviews_vectorizer(kind: str = "tfidf", min_count: int = 2):
    """A vectorizer fitted on the 600 training reviews (the test reviews are not seen).

    Args:
        kind: ``'tfidf'`` (:class:`bricks.data.text.TfidfVectorizer`) or ``'bow'``
            (:class:`bricks.data.text.CountVectorizer`, word counts).
        min_count: keep words that occur at least this often in the training reviews.
    """
    from bricks.data.text import CountVectorizer, TfidfVectorizer

    kinds = {"tfidf": TfidfVectorizer, "bow": CountVectorizer}
    if kind not in kinds:
        raise ValueError(f"features must be 'tfidf' or 'bow', got {kind!r}")
    return kinds[kind](min_count=min_count).fit(load_reviews("train")[0])


def load_reviews_features(features: str = "tfidf", split: str | None = None,
                          binary: bool = False, min_count: int = 2):
    """Reviews as a feature matrix: TF-IDF or bag-of-words over the training vocabulary.

    Args:
        features: ``'tfidf'`` or ``'bow'``.
        split, binary: as :func:`load_reviews`.
        min_count: as :func:`reviews_vectorizer`.

    Returns:
        ``(X, y)``: X float32 (N, n_words), y int64.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.load_reviews_features("bow", split="test")
        >>> X.shape[0], X.dtype, float(X.max()) >= 2
        (379, dtype('float32'), True)
    """
    vec = reviews_vectorizer(features, min_count)
    texts, y = load_reviews(split, binary)
    return vec.transform(texts), y
