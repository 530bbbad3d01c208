"""Datasets: anything with ``__getitem__`` and ``__len__``, as in ``torch.utils.data``.

``TensorDataset`` holds in-memory arrays (the case the DataLoader's vectorized fast path
serves), ``Subset`` views part of a dataset, and ``random_split`` cuts one into
non-overlapping random pieces.
"""

from __future__ import annotations

import math
import warnings

from bricks import backend
from bricks.backend import xp
from bricks.tensor import Tensor, const

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split"]


def _as_tensor(value) -> Tensor:
    # Arrays keep their dtype (torch.from_numpy); the engine's constructor wraps without a copy.
    if isinstance(value, Tensor):
        return value
    if isinstance(value, backend.ndarray) or backend.get_array_module(value) is not xp:
        return const(value)
    raise TypeError(f"expected a Tensor or an array, got {type(value).__name__}")


def _generator(generator):
    """The numpy Generator to draw from: the given one, a new one from an int seed, or the
    global one (looked up at call time, so ``bricks.manual_seed`` takes effect)."""
    if generator is None:
        return backend.default_generator()
    if isinstance(generator, bool):
        raise TypeError("generator: expected a numpy Generator or an int seed, got a bool")
    if isinstance(generator, (int, xp.integer)):
        return xp.random.default_rng(int(generator))
    if isinstance(generator, xp.random.Generator):
        return generator
    raise TypeError(f"generator: expected a numpy Generator or an int seed, got "
                    f"{type(generator).__name__}")


class Dataset:
    """Abstract dataset: subclasses define ``__getitem__(index)`` and ``__len__()``.

    Example:
        >>> class Squares(bricks.data.Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return float(i), float(i * i)
        >>> Squares()[3]
        (3.0, 9.0)
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension.

    ``dataset[i]`` is ``tuple(t[i] for t in tensors)``.

    Args:
        *tensors: Tensors or NumPy arrays, shapes (N, ...) with the same N.  Arrays are
            wrapped without a copy and keep their dtype (as ``torch.from_numpy``).

    Example:
        >>> ds = bricks.data.TensorDataset(np.zeros((5, 3)), np.arange(5))
        >>> len(ds), ds[2][1].item()
        (5, 2)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        tensors = tuple(_as_tensor(t) for t in tensors)
        for i, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a "
                                 f"first (sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions "
                             f"are {sizes}; all must be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


def _index_array(indices, n: int, where: str):
    """``indices`` as an int64 array, checked against a dataset of length ``n``."""
    idx = backend.to_numpy(indices.data if isinstance(indices, Tensor) else indices)
    idx = xp.asarray(idx)
    if idx.size == 0:
        return xp.zeros(0, dtype=xp.int64)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be a 1-D sequence of integers, got "
                        f"dtype {idx.dtype} and shape {idx.shape}")
    idx = idx.astype(xp.int64, copy=False)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"{where}: index {int(idx[bad][0])} is out of range for a dataset "
                         f"of length {n}")
    return xp.where(idx < 0, idx + n, idx)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: any dataset.
        indices: sequence of ints (list, array or int Tensor), shape (M,).

    Example:
        >>> ds = bricks.data.TensorDataset(np.arange(10))
        >>> sub = bricks.data.Subset(ds, [7, 2])
        >>> len(sub), sub[0][0].item()
        (2, 7)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._index = _index_array(indices, len(dataset), "Subset")

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.dataset[int(self._index[i])] for i in index]
        return self.dataset[int(self._index[index])]

    def __len__(self) -> int:
        return len(self._index)


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    Lengths are ints summing to ``len(dataset)``, or fractions summing to 1; as in PyTorch,
    fractions give ``floor(frac * n)`` samples each and the remaining samples go one at a
    time to the subsets in order (round robin).

    Args:
        dataset: the dataset to split, length N.
        lengths: sequence of ints or of fractions.
        generator: numpy Generator or int seed for the permutation (default: the global
            generator seeded by ``bricks.manual_seed``).

    Returns:
        a list of ``Subset``, one per length.

    Example:
        >>> ds = bricks.data.TensorDataset(np.arange(10))
        >>> [len(s) for s in bricks.data.random_split(ds, [0.7, 0.3], generator=0)]
        [7, 3]
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if any(isinstance(x, bool) or not isinstance(x, (int, float, xp.integer, xp.floating))
           for x in lengths):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {lengths}")
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this "
                              f"split will be empty", stacklevel=2)
        lengths = sizes
    elif not all(isinstance(x, (int, xp.integer)) for x in lengths):
        raise ValueError(f"random_split: fractions must sum to 1, got {lengths} "
                         f"(sum {sum(lengths)})")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {list(lengths)} sum to {sum(lengths)}, "
                         f"but the dataset has {n} samples")
    perm = _generator(generator).permutation(n)
    out, start = [], 0
    for size in lengths:
        out.append(Subset(dataset, perm[start:start + int(size)]))
        start += int(size)
    return out
