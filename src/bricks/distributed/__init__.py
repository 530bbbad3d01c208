"""Data-parallel training over processes and machines, on MPI (mpi4py).

Start N copies of a script with ``mpiexec -n N python train.py`` (or ``bricks train
--nproc N``); in the script::

    import bricks.distributed as dist

    dist.init()                                   # join the world (alone: a world of 1)
    model = dist.DistributedDataParallel(build_model())   # same start on every rank
    optimizer = bricks.optim.Adam(model.parameters())
    bricks.train.fit(model, loss_fn, optimizer, (X, y), batch_size=64, seed=0)

``fit`` then gives each rank its shard of every global batch, averages the gradients after
each backward pass, reduces the epoch's numbers over the ranks and prints and saves on
rank 0 only.  N processes with batches of b samples take the same steps as one process
with batches of N*b (docs/distributed.md: how, what it costs, multi-machine runs).

Without mpi4py, or without an MPI launcher, all of this works as a world of one process.
"""

from bricks.distributed.comm import (
    DistributedError,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    init,
    is_initialized,
    launched_by_mpi,
    rank,
    world_size,
)
from bricks.distributed.ddp import DistributedDataParallel, data_parallel
from bricks.distributed.sampler import DistributedSampler

__all__ = ["init", "is_initialized", "launched_by_mpi", "rank", "world_size", "all_reduce",
           "all_gather", "broadcast", "barrier", "DistributedError",
           "DistributedDataParallel", "DistributedSampler", "data_parallel"]
