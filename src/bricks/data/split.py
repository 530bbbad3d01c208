"""``train_test_split``: scikit-learn's function, on NumPy arrays, Tensors and lists."""

from __future__ import annotations

import math

from bricks import backend
from bricks.backend import xp
from bricks.data.dataset import _generator
from bricks.tensor import Tensor, const

__all__ = ["train_test_split"]


def _split_sizes(n: int, test_size, train_size):
    """scikit-learn's ``_validate_shuffle_split``: floats are fractions of n (the test part
    rounded up, the train part down), ints are counts, and a missing one is the rest."""
    if test_size is None and train_size is None:
        test_size = 0.25
    for name, size in (("test_size", test_size), ("train_size", train_size)):
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, (int, float, xp.integer,
                                                             xp.floating)):
            raise TypeError(f"train_test_split: {name} must be an int, a float or None, got "
                            f"{type(size).__name__}")
        if isinstance(size, (float, xp.floating)) and not 0 < size < 1:
            raise ValueError(f"train_test_split: {name}={size} should be a float in (0, 1) "
                             f"or an int in [1, n_samples={n}]")
        if isinstance(size, (int, xp.integer)) and not 0 < size <= n:
            raise ValueError(f"train_test_split: {name}={size} should be a float in (0, 1) "
                             f"or an int in [1, n_samples={n}]")
    is_frac = lambda s: isinstance(s, (float, xp.floating))  # noqa: E731
    if is_frac(test_size) and is_frac(train_size) and test_size + train_size > 1:
        raise ValueError(f"train_test_split: test_size + train_size = "
                         f"{test_size + train_size} should be <= 1")
    n_test = (math.ceil(test_size * n) if is_frac(test_size)
              else None if test_size is None else int(test_size))
    n_train = (math.floor(train_size * n) if is_frac(train_size)
               else None if train_size is None else int(train_size))
    if n_train is None:
        n_train = n - n_test
    elif n_test is None:
        n_test = n - n_train
    if n_train + n_test > n:
        raise ValueError(f"train_test_split: train ({n_train}) and test ({n_test}) samples "
                         f"add up to more than the {n} samples")
    if n_train == 0:
        raise ValueError(f"train_test_split: with n_samples={n}, test_size={test_size} and "
                         f"train_size={train_size} the train set would be empty")
    return n_train, n_test


def _approximate_mode(class_counts, n_draws: int, rng):
    """Per-class counts of a draw of ``n_draws`` (scikit-learn's ``_approximate_mode``):
    each class gets the floor of its share, and the leftover samples go to the classes with
    the largest remainders (ties broken at random)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = xp.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in xp.sort(xp.unique(remainder))[::-1]:
            (inds,) = xp.nonzero(remainder == value)
            add_now = min(len(inds), need)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need -= add_now
            if need == 0:
                break
    return floored.astype(xp.int64)


def _stratified(labels, n_train: int, n_test: int, rng):
    if labels.ndim == 2:  # multi-output targets: each distinct row is a class
        _, y = xp.unique(labels, axis=0, return_inverse=True)
    elif labels.ndim == 1:
        _, y = xp.unique(labels, return_inverse=True)
    else:
        raise ValueError(f"train_test_split: stratify must be 1-D or 2-D, got shape "
                         f"{labels.shape}")
    y = y.reshape(-1)
    counts = xp.bincount(y)
    k = len(counts)
    if counts.min() < 2:
        raise ValueError(f"train_test_split: the least populated class in stratify has only "
                         f"{int(counts.min())} member; every class needs at least 2")
    if n_train < k or n_test < k:
        raise ValueError(f"train_test_split: with {k} classes, train ({n_train}) and test "
                         f"({n_test}) sizes must each be at least {k}")
    class_indices = xp.split(xp.argsort(y, kind="stable"), xp.cumsum(counts)[:-1])
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    train, test = [], []
    for idx, a, b in zip(class_indices, n_i, t_i):
        perm = rng.permutation(idx)
        train.append(perm[:a])
        test.append(perm[a:a + b])
    return rng.permutation(xp.concatenate(train)), rng.permutation(xp.concatenate(test))


def _take(a, idx):
    if isinstance(a, Tensor):
        return const(a.data[idx])
    if isinstance(a, backend.ndarray) or backend.get_array_module(a) is not xp:
        return a[idx]
    if isinstance(a, tuple):
        return tuple(a[i] for i in idx)
    return [a[i] for i in idx]


def train_test_split(*arrays, test_size=None, train_size=None, shuffle: bool = True,
                     stratify=None, seed=None):
    """Split arrays into random train and test parts, as scikit-learn's ``train_test_split``.

    Sizes follow scikit-learn: a float is a fraction of the N samples (the test part is
    ``ceil(test_size * N)``, the train part ``floor(train_size * N)``), an int is a count, a
    missing one is the rest, and with neither the test part is 25%.  With ``stratify`` every
    class keeps its proportion in both parts (each part's per-class count is the floor of its
    share plus at most one, the counts scikit-learn picks).  No sample is lost or repeated.

    Args:
        *arrays: NumPy arrays, Tensors or lists, each of length N (first dimension).
        test_size: float in (0, 1), int, or None.
        train_size: float in (0, 1), int, or None.
        shuffle: shuffle before splitting; ``False`` takes the first samples for train and
            the next ones for test (no stratification then).
        stratify: class labels, shape (N,) (or (N, K) rows as classes), or None.
        seed: int seed or numpy Generator (default: the global generator seeded by
            ``bricks.manual_seed``).

    Returns:
        a list ``[a_train, a_test, b_train, b_test, ...]``, each of its input's kind.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
        >>> X_train, X_test, y_train, y_test = bricks.data.train_test_split(
        ...     X, y, test_size=0.3, seed=0)
        >>> X_train.shape, X_test.shape, sorted(y_train.tolist() + y_test.tolist()) == list(y)
        ((7, 2), (3, 2), True)
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array required as input")
    lengths = [len(a) for a in arrays]
    if any(n != lengths[0] for n in lengths):
        raise ValueError(f"train_test_split: found input arrays with inconsistent numbers of "
                         f"samples: {lengths}")
    n = lengths[0]
    n_train, n_test = _split_sizes(n, test_size, train_size)
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratified splitting requires shuffle=True")
        train = xp.arange(n_train)
        test = xp.arange(n_train, n_train + n_test)
    else:
        rng = _generator(seed)
        if stratify is not None:
            labels = stratify.data if isinstance(stratify, Tensor) else stratify
            labels = backend.to_numpy(labels)
            if len(labels) != n:
                raise ValueError(f"train_test_split: stratify has {len(labels)} labels but "
                                 f"the arrays have {n} samples")
            train, test = _stratified(labels, n_train, n_test, rng)
        else:
            perm = rng.permutation(n)
            test = perm[:n_test]
            train = perm[n_test:n_test + n_train]
    out = []
    for a in arrays:
        out.extend((_take(a, train), _take(a, test)))
    return out
