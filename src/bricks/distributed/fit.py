"""What :func:`bricks.train.fit` does differently for a DistributedDataParallel model.

The trainer asks :func:`fit_hooks` once; for a :class:`DistributedDataParallel` model it
gets a :class:`FitHooks` and calls it at five points of its loop (and nothing changes for
any other model):

1. ``configure``: progress and file-writing callbacks (``rank_zero_only = True``) on rank
   0 only; ``compile`` off (an all-reduce cannot be traced into a plan).
2. ``shard``: the training batches of this rank (a :class:`DistributedSampler` over the
   same global order as one process would use), the same number of steps on every rank.
3. ``after_backward``: the gradients averaged over the ranks; the global batch's loss.
4. ``step_without_data``: a rank whose shard ran out joins the epoch's last step.
5. ``reduce_epoch``: the epoch's loss and predictions of all ranks (so metrics are those
   of the whole data), BatchNorm statistics averaged.

Every rank then sees the same numbers, so callbacks (early stopping, NaN guard, learning
rate schedules) decide alike everywhere and no rank leaves the loop alone.
"""

from __future__ import annotations

import math
import warnings

from bricks import backend
from bricks.backend import xp
from bricks.data import DataLoader
from bricks.distributed.comm import all_gather, all_reduce
from bricks.distributed.ddp import DistributedDataParallel, per_sample_draws
from bricks.distributed.sampler import DistributedSampler
from bricks.tensor import Tensor

__all__ = ["fit_hooks", "FitHooks"]


def fit_hooks(model, optimizer):
    """A :class:`FitHooks` for a DistributedDataParallel ``model``; None for any other."""
    if not isinstance(model, DistributedDataParallel):
        return None
    return FitHooks(model, optimizer)


class _ShardedBatches:
    """This rank's batches of an epoch; ``steps`` of them on every rank, the missing last
    one (the shard ran out) as an empty batch.

    The loader's transforms (random augmentation) draw under :func:`per_sample_draws`, as
    the forward pass does, so each sample gets the numbers one process would draw for it.
    """

    def __init__(self, loader: DataLoader, steps: int, model: DistributedDataParallel):
        self.loader, self.steps, self.batch_size = loader, steps, loader.batch_size
        self.model, self.rank, self.world_size = model, model._world.rank, model._world.size

    def __len__(self) -> int:
        return self.steps

    def sizes(self, step: int) -> list[int]:
        """The batch size of every rank in ``step`` (rank r: positions r, r+N, ...)."""
        world, global_batch = self.world_size, self.batch_size * self.world_size
        total = min(global_batch, self.loader.sampler.n - step * global_batch)
        return [max(0, math.ceil((total - r) / world)) for r in range(world)]

    def __iter__(self):
        batches = iter(self.loader)
        empty = Tensor(xp.zeros(0, dtype=backend.float32))
        try:
            for step in range(self.steps):  # drop_last: never a full local batch of an
                sizes = self.sizes(step)  # incomplete global one
                with per_sample_draws(self.rank, self.world_size, sizes):
                    batch = next(batches, None)
                self.model.expect_batch_sizes(sizes)  # no exchange of sizes needed
                yield (empty, empty) if batch is None else batch
        finally:
            self.model.expect_batch_sizes(None)


class FitHooks:
    """The trainer's distributed steps for one ``fit`` (see the module docstring)."""

    def __init__(self, model: DistributedDataParallel, optimizer):
        if not getattr(optimizer, "closure_does_backward", True):
            raise ValueError(f"fit: {type(optimizer).__name__} takes its own derivatives of "
                             f"the loss, which DistributedDataParallel cannot average over "
                             f"the ranks; use a gradient optimizer (SGD, Adam, LBFGS, ...)")
        self.model, self.optimizer = model, optimizer
        self.closure = getattr(optimizer, "requires_closure", False)
        self.rank, self.world_size = model._world.rank, model._world.size

    def configure(self, callbacks, verbose: bool, compile: bool):  # noqa: A002
        """``(callbacks, verbose, compile)`` for this rank."""
        if compile:
            warnings.warn("fit: compile=True is not used with DistributedDataParallel (the "
                          "all-reduce of the gradients cannot be traced); training runs "
                          "eagerly", RuntimeWarning, stacklevel=3)
        if self.rank != 0:
            callbacks = [cb for cb in callbacks or []
                         if not getattr(cb, "rank_zero_only", False)]
            verbose = False
        return callbacks, verbose, False

    def shard(self, batches) -> _ShardedBatches:
        """This rank's share of the loader that ``fit`` made (or was given)."""
        if not isinstance(batches, DataLoader):
            raise TypeError(f"fit: with DistributedDataParallel the training data must be a "
                            f"Dataset, an (X, y) pair or a bricks DataLoader, got "
                            f"{type(batches).__name__}")
        loader = batches
        if loader.sampler is None:
            sampler = DistributedSampler(loader.dataset, self.world_size, self.rank,
                                         shuffle=loader.shuffle, generator=loader.generator)
            # Without a seed, one process draws its order from the global generator, which
            # DistributedDataParallel made the same on every rank.
            sampler._global = loader.shuffle and loader.generator is None
            loader = DataLoader(loader.dataset, loader.batch_size, drop_last=loader.drop_last,
                                collate_fn=loader.collate_fn, transform=loader.transform,
                                target_transform=loader.target_transform, sampler=sampler)
        elif not isinstance(loader.sampler, DistributedSampler):
            raise ValueError(f"fit: with DistributedDataParallel the DataLoader's sampler "
                             f"must be a DistributedSampler, got "
                             f"{type(loader.sampler).__name__}")
        n, global_batch = loader.sampler.n, loader.batch_size * self.world_size
        steps = n // global_batch if loader.drop_last else math.ceil(n / global_batch)
        return _ShardedBatches(loader, steps, self.model)

    def after_backward(self, loss: Tensor) -> Tensor:
        """Average the gradients; return the global batch's mean loss."""
        result = self.model.sync_gradients(loss)
        return Tensor(xp.asarray(result["loss"], dtype=loss.dtype))

    def step_without_data(self) -> float:
        """This rank has no sample in this step: join it, with weight 0."""
        return self.model.step_without_data(self.optimizer, self.closure)["loss"]

    def reduce_epoch(self, loss_sum: float, count: int, outputs: list, targets: list):
        """The epoch's loss sum and count over all ranks, and every rank's predictions."""
        sums = all_reduce(xp.asarray([loss_sum, count], dtype=backend.float64))
        gathered = []
        for parts in (outputs, targets):
            joined = all_gather(xp.concatenate(parts) if parts else None)
            gathered.append([] if joined is None else [joined])
        self.model.average_buffers()
        return float(sums[0]), int(sums[1]), gathered[0], gathered[1]


def local_batch_size(batch_size: int, n_samples: int | None = None) -> int:
    """Each rank's share of a global batch of ``batch_size`` samples.

    ``batch_size`` must be divisible by ``world_size()``, unless it is a full batch
    (``batch_size >= n_samples``): then each rank takes ceil(n_samples / N), one step per
    epoch as with one process.

    Raises:
        ValueError: naming both numbers.

    Example:
        >>> bricks.distributed.fit.local_batch_size(64)  # a world of one
        64
    """
    from bricks.distributed.comm import world_size

    n = world_size()
    if batch_size % n == 0:
        return batch_size // n
    if n_samples is not None and batch_size >= n_samples:
        return math.ceil(n_samples / n)
    raise ValueError(f"the batch size {batch_size} does not split evenly over {n} "
                     f"processes; choose a multiple of {n}")
