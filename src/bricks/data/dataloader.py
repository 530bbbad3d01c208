"""DataLoader: batches from a dataset, reshuffled each epoch from a seeded generator.

Two paths give the same batches.  For in-memory data (a ``TensorDataset`` or a ``Subset``
of one, nested to any depth) the loader indexes every array with the whole batch of indices
at once, so an epoch costs a few NumPy gathers and no Python loop per sample.  Any other
dataset is read item by item and the items are merged by ``collate_fn`` (``default_collate``
stacks tensors, arrays and numbers, and recurses into tuples, lists and dicts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from bricks import backend
from bricks import devices as _devices
from bricks.backend import xp
from bricks.data.dataset import Subset, TensorDataset, _generator
from bricks.data.transforms import Transform
from bricks.tensor import Tensor, const

__all__ = ["DataLoader", "default_collate"]


def _stack(arrays, what: str):
    shapes = [a.shape for a in arrays]
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(f"default_collate: cannot stack {what} of different shapes: "
                               f"item 0 has shape {tuple(shapes[0])}, item {i} has shape "
                               f"{tuple(shape)}")
    mod = backend.get_array_module(arrays[0])
    return const(mod.stack(arrays))


def default_collate(batch):
    """Merge a list of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and arrays of shape S stack to a Tensor of shape (B, *S); Python ints give an
    int64 Tensor, floats a float64 Tensor, bools a bool Tensor, NumPy scalars keep their
    dtype; strings stay a list; tuples, lists, named tuples and dicts are collated field by
    field (tuples stay tuples).

    Args:
        batch: a list of B samples of the same structure.

    Returns:
        the batch, with the samples' structure.

    Example:
        >>> x, y = bricks.data.default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
        >>> x.shape, y.tolist()
        ((2, 3), [1, 0])
    """
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)) or not batch:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got "
                        f"{type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, Tensor) or isinstance(elem, backend.ndarray) or (
            backend.get_array_module(elem) is not xp):
        arrays = [b.data if isinstance(b, Tensor) else b for b in batch]
        if any(getattr(a, "dtype", None) is None or a.dtype.kind in "OSUV" for a in arrays):
            raise TypeError("default_collate: arrays must hold numbers (got strings or "
                            "objects)")
        return _stack(arrays, "tensors")
    if isinstance(elem, backend.generic):
        return const(xp.array(batch))
    if isinstance(elem, bool):
        return const(xp.array(batch, dtype=backend.bool_))
    if isinstance(elem, int):
        return const(xp.array(batch, dtype=backend.int64))
    if isinstance(elem, float):
        return const(xp.array(batch, dtype=backend.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        for i, b in enumerate(batch):
            if not isinstance(b, Mapping) or set(b) != set(elem):
                raise KeyError(f"default_collate: sample {i} does not have the keys of sample "
                               f"0 ({sorted(map(str, elem))})")
        return {key: default_collate([b[key] for b in batch]) for key in elem}
    if isinstance(elem, Sequence):
        for i, b in enumerate(batch):
            if len(b) != len(elem):
                raise RuntimeError(f"default_collate: each sample must have the same number "
                                   f"of fields: sample 0 has {len(elem)}, sample {i} has "
                                   f"{len(b)}")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: samples must be tensors, arrays, numbers, strings, "
                    f"tuples, lists or dicts; got {type(elem).__name__}")


def _in_memory(dataset):
    """(arrays, index map or None) when ``dataset`` is a TensorDataset or Subsets of one.

    Exact types only: a subclass may override ``__getitem__`` (to add a transform, say), and
    then only the item-by-item path is faithful to it.
    """
    mapping = None
    while type(dataset) is Subset:
        mapping = dataset._index if mapping is None else dataset._index[mapping]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return [t.data for t in dataset.tensors], mapping
    return None


def _apply(transform, x):
    # Our transforms learn that the input is a batch (a 3-D batch is (N, H, W), not (C, H, W)).
    if isinstance(transform, Transform):
        return transform(x, batched=True)
    return transform(x)


class DataLoader:
    """Iterate over a dataset in batches, as PyTorch's ``DataLoader``.

    Each ``iter(loader)`` (each epoch) walks all samples once: in order, or, with
    ``shuffle=True``, in a fresh permutation drawn from ``generator``, so the same seed gives
    the same sequence of epochs.  For a ``TensorDataset`` (or a ``Subset`` of one) and the
    default ``collate_fn`` a batch is gathered with one fancy index per array; otherwise
    items are read one by one and merged with ``collate_fn``.  Both give the same batches.

    ``transform`` and ``target_transform`` run on whole batches after collation: when the
    batch is a tuple or list they apply to its first and second field (inputs and targets);
    otherwise ``transform`` applies to the batch itself.  bricks' own transforms are called
    with ``batched=True`` and so draw independent random parameters per sample.

    Args:
        dataset: a ``Dataset`` (anything with ``__getitem__`` and ``__len__``), length N.
        batch_size: samples per batch, B >= 1.
        shuffle: reshuffle the samples at every epoch.
        drop_last: drop the last batch when it has fewer than B samples.
        generator: numpy Generator or int seed for shuffling (default: the global generator
            seeded by ``bricks.manual_seed``, looked up at each epoch).
        sampler: yields the indices of each epoch in order, instead of ``shuffle``; e.g. a
            ``bricks.distributed.DistributedSampler`` (each process its own share).
        collate_fn: merges a list of samples into a batch (default ``default_collate``).
        transform: callable applied to each batch's inputs.
        target_transform: callable applied to each batch's targets.
        device: move every tensor of each batch (after the transforms, which run on the
            host) to this device, e.g. ``'cuda'`` (default: leave batches where they are).
        pin_memory: copy to a GPU through page-locked host memory (CuPy), PyTorch's
            option; it has no effect for other devices.

    Example:
        >>> ds = bricks.data.TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
        >>> loader = bricks.data.DataLoader(ds, batch_size=2)
        >>> len(loader), [y.tolist() for _, y in loader]
        (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator=None, collate_fn=None, transform=None,
                 target_transform=None, sampler=None, device=None, pin_memory: bool = False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, xp.integer)) or (
                batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        for name, fn in (("collate_fn", collate_fn), ("transform", transform),
                         ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got "
                                f"{type(fn).__name__}")
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader: dataset must define __getitem__ and __len__, got "
                            f"{type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the "
                             "sampler chooses the order)")
        if sampler is not None and not (hasattr(sampler, "__iter__")
                                        and hasattr(sampler, "__len__")):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices with a "
                            f"length, got {type(sampler).__name__}")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # An int seed makes one generator here, so successive epochs differ (and repeat
        # for a loader built with the same seed); None defers to the global one.
        self.generator = None if generator is None else _generator(generator)
        self.collate_fn = collate_fn
        self.transform = transform
        self.target_transform = target_transform
        self.device = None if device is None else _devices.check_available(
            _devices.as_device(device), "DataLoader")
        self.pin_memory = bool(pin_memory)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return xp.asarray(list(self.sampler), dtype=backend.int64)
        n = len(self.dataset)
        if self.shuffle:
            gen = self.generator if self.generator is not None else backend.default_generator()
            return gen.permutation(n)
        return xp.arange(n)

    def __iter__(self):
        order = self._order()  # drawn now, so each epoch (each iter) reshuffles
        fast = _in_memory(self.dataset) if self.collate_fn is None else None
        collate = default_collate if self.collate_fn is None else self.collate_fn
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        for start in range(0, stop, bs):
            idx = order[start:start + bs]
            if fast is not None:
                arrays, mapping = fast
                if mapping is not None:
                    idx = mapping[idx]
                # The index goes to each array's device (a dataset kept on a GPU).
                batch = tuple(const(a[backend.asarray_like(idx, a)]) for a in arrays)
            else:
                batch = collate([self.dataset[int(i)] for i in idx])
            batch = self._transform(batch)
            yield batch if self.device is None else self._to_device(batch)

    def _to_device(self, batch):
        """Every tensor of ``batch`` (nested in tuples, lists, dicts) on ``self.device``."""
        if isinstance(batch, Tensor):
            where = self.device
            return Tensor._make(backend.to_device(batch.data, where.type, where.index,
                                                  pinned=self.pin_memory), False, None, 0)
        if isinstance(batch, Mapping):
            return {k: self._to_device(v) for k, v in batch.items()}
        if isinstance(batch, tuple) and hasattr(batch, "_fields"):
            return type(batch)(*(self._to_device(v) for v in batch))
        if isinstance(batch, (tuple, list)):
            return type(batch)(self._to_device(v) for v in batch)
        return batch

    def _transform(self, batch):
        if self.transform is None and self.target_transform is None:
            return batch
        if isinstance(batch, (tuple, list)) and not hasattr(batch, "_fields"):
            fields = list(batch)
            if self.transform is not None:
                fields[0] = _apply(self.transform, fields[0])
            if self.target_transform is not None:
                if len(fields) < 2:
                    raise ValueError("DataLoader: target_transform needs batches with a "
                                     "second (target) field")
                fields[1] = _apply(self.target_transform, fields[1])
            return type(batch)(fields)
        if self.target_transform is not None:
            raise ValueError(f"DataLoader: target_transform needs tuple batches (inputs, "
                             f"targets), got {type(batch).__name__}")
        return _apply(self.transform, batch)

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
