"""DistributedSampler: each rank its own share of a dataset's indices, every epoch."""

from __future__ import annotations

import math

from bricks import backend
from bricks.backend import xp
from bricks.distributed.comm import rank as _rank
from bricks.distributed.comm import world_size as _world_size

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices of this rank's shard of a dataset, for ``DataLoader(sampler=...)``.

    Every epoch all ranks draw the same permutation of ``0..n-1`` (the *global order*) and
    rank r takes every N-th index from position r: ``order[r::N]``.  So the shards are
    disjoint and together hold every sample exactly once per epoch; the shards of the
    ranks differ in length by at most one.  No sample is repeated to even them out
    (PyTorch's sampler pads by repeating samples, which counts them twice): a rank whose
    shard has run out in the last step of an epoch takes part in that step with no data
    (:meth:`DistributedDataParallel.step_without_data`, which :func:`bricks.train.fit`
    calls by itself).

    With local batches of ``b`` samples, step k of every rank together covers positions
    ``k*N*b .. (k+1)*N*b - 1`` of the global order: exactly the batch that one process
    with batch size ``N*b`` takes in its step k.

    The global order depends only on the seed and the epoch (``shuffle=True``: a
    permutation from ``numpy.random.default_rng([seed, epoch])``; ``False``: in order),
    never on N; call :meth:`set_epoch` at the start of each epoch to reshuffle, as with
    PyTorch.  Given ``generator=`` instead (a ``numpy.random.Generator`` in the same state
    on every rank), each pass draws ``generator.permutation(n)``, as
    :class:`bricks.data.DataLoader` does.

    Args:
        dataset: the dataset (anything with ``len``), or its length.
        num_replicas: N (default: ``world_size()``).
        rank: r (default: ``rank()``).
        shuffle: reshuffle every epoch (else the data order).
        seed: the seed of the global order, the same on every rank.
        generator: draw the order from this generator instead (see above).

    Example:
        >>> s0 = bricks.distributed.DistributedSampler(10, num_replicas=3, rank=0)
        >>> s1 = bricks.distributed.DistributedSampler(10, num_replicas=3, rank=1)
        >>> s2 = bricks.distributed.DistributedSampler(10, num_replicas=3, rank=2)
        >>> sorted(list(s0) + list(s1) + list(s2)) == list(range(10)), len(s0), len(s2)
        (True, 4, 3)
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, generator=None):
        n = dataset if isinstance(dataset, int) else len(dataset)
        num_replicas = _world_size() if num_replicas is None else num_replicas
        rank = _rank() if rank is None else rank
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or (
                num_replicas < 1):
            raise ValueError(f"DistributedSampler: num_replicas must be an int >= 1, got "
                             f"{num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0..{num_replicas - 1}, "
                             f"got {rank!r}")
        if generator is not None and not hasattr(generator, "permutation"):
            raise TypeError(f"DistributedSampler: generator must be a numpy.random.Generator,"
                            f" got {type(generator).__name__}")
        self.n, self.num_replicas, self.rank = int(n), num_replicas, rank
        self.shuffle, self.seed, self.generator = bool(shuffle), int(seed), generator
        self.epoch = 0
        self._global = False  # draw from bricks' global generator (fit without a seed)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose global order the next pass yields (with ``seed``)."""
        self.epoch = int(epoch)

    def global_order(self):
        """The permutation of all indices that the ranks share this epoch."""
        if not self.shuffle:
            return xp.arange(self.n)
        if self._global:
            return backend.default_generator().permutation(self.n)
        if self.generator is not None:
            return self.generator.permutation(self.n)
        return xp.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def __iter__(self):
        return iter(self.global_order()[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return math.ceil((self.n - self.rank) / self.num_replicas)

    def __repr__(self) -> str:
        return (f"DistributedSampler(n={self.n}, rank={self.rank}, "
                f"num_replicas={self.num_replicas}, shuffle={self.shuffle})")
