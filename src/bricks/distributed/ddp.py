"""DistributedDataParallel: one model per rank, kept identical by averaging gradients.

Synchronous data parallelism (the design of Horovod and ChainerMN): every rank holds the
whole model and takes a different slice of each global batch.  After its backward pass the
ranks sum their gradients (an *all-reduce*), so every rank applies the same update and the
copies never drift apart.  With the gradient of rank r's mean loss g_r over its n_r samples,

    g = sum_r (n_r / T) * g_r,    T = n_0 + ... + n_{N-1},

is the gradient of the mean loss over the T samples of the global batch: N ranks with
batches of b samples take the steps of one process with batches of N*b.

Gradients travel in *buckets*: the parameters, last layer first, are packed into flat
buffers of up to ``bucket_cap_mb`` megabytes, and each buffer is one all-reduce (fewer,
larger messages: the fixed cost per message is paid per bucket, not per parameter).

Random numbers drawn in a forward pass (dropout masks) are arranged so that the global
batch sees the numbers one process would draw: every rank holds the global generator in
the same state, draws the numbers of the *whole* global batch and keeps the rows of its own
samples (rank r holds rows r, r+N, r+2N, ... of the global batch, the layout of
:class:`DistributedSampler`).  The generators stay in step on every rank, and one process
with batch N*b draws the same masks for the same samples.
"""

from __future__ import annotations

from contextlib import contextmanager

from bricks import backend
from bricks.autograd import no_grad
from bricks.backend import xp
from bricks.distributed import comm
from bricks.nn.module import Module
from bricks.tensor import Tensor

__all__ = ["DistributedDataParallel", "data_parallel"]


class _Bucket:
    """Parameters of one dtype whose gradients travel in one flat buffer."""

    def __init__(self, params, dtype, extra: int = 0):
        self.params, self.slices, start = params, [], 0
        for p in params:
            self.slices.append((start, start + p.numel()))
            start += p.numel()
        self.size = start
        self.buffer = xp.zeros(start + extra, dtype=dtype)


def _make_buckets(params, cap_bytes: float, extra: int) -> list[_Bucket]:
    """Last parameter first (backward makes their gradients first), one dtype per bucket;
    the last bucket gets ``extra`` slots for the flags and the loss."""
    buckets, current, current_bytes, dtype = [], [], 0, None
    for p in reversed(params):
        nbytes = p.numel() * p.dtype.itemsize
        if current and (p.dtype != dtype or current_bytes + nbytes > cap_bytes):
            buckets.append((current, dtype))
            current, current_bytes = [], 0
        current.append(p)
        current_bytes += nbytes
        dtype = p.dtype
    if current:
        buckets.append((current, dtype))
    if not buckets:
        return [_Bucket([], backend.float64, extra)]
    return [_Bucket(ps, dt, extra if i == len(buckets) - 1 else 0)
            for i, (ps, dt) in enumerate(buckets)]


def _batch_len(args, kwargs) -> int:
    first = args[0] if args else next(iter(kwargs.values()), None)
    while isinstance(first, (tuple, list)) and first:
        first = first[0]
    if first is None or not hasattr(first, "shape") or len(first.shape) == 0:
        raise TypeError("DistributedDataParallel: the first input must be a batch (a Tensor "
                        "or array whose first dimension counts the samples)")
    return int(first.shape[0])


class _PerSampleGenerator(xp.random.Generator):
    """The global generator's stream, drawing per-sample numbers for the whole global batch.

    A draw whose first dimension is this rank's batch size ``n`` draws ``rows`` rows (the
    global batch) and returns the rows at ``positions`` (this rank's samples); other draws
    pass through.  ``random``, ``standard_normal``, ``normal``, ``uniform`` and ``integers``
    (what bricks' dropout, random ops and data transforms use) are arranged so; other
    methods pass through.
    """

    def __init__(self, bit_generator, positions, rows: int):
        super().__init__(bit_generator)
        self.positions, self.rows, self.n = positions, rows, len(positions)

    def _global(self, size):
        shape = (size,) if isinstance(size, int) else tuple(size or ())
        if shape and shape[0] == self.n:
            return (self.rows, *shape[1:])
        return None

    def random(self, size=None, dtype=backend.float64, out=None):
        shape = None if out is not None else self._global(size)
        if shape is None:
            return super().random(size, dtype=dtype, out=out)
        return super().random(shape, dtype=dtype)[self.positions]

    def standard_normal(self, size=None, dtype=backend.float64, out=None):
        shape = None if out is not None else self._global(size)
        if shape is None:
            return super().standard_normal(size, dtype=dtype, out=out)
        return super().standard_normal(shape, dtype=dtype)[self.positions]

    def integers(self, low, high=None, size=None, dtype=backend.int64, endpoint=False):
        shape = self._global(size)
        if shape is None:
            return super().integers(low, high, size, dtype=dtype, endpoint=endpoint)
        return super().integers(low, high, shape, dtype=dtype,
                                endpoint=endpoint)[self.positions]

    def uniform(self, low=0.0, high=1.0, size=None):
        shape = self._global(size)
        if shape is None:
            return super().uniform(low, high, size)
        return super().uniform(low, high, shape)[self.positions]

    def normal(self, loc=0.0, scale=1.0, size=None):
        shape = self._global(size)
        if shape is None:
            return super().normal(loc, scale, size)
        return super().normal(loc, scale, shape)[self.positions]


@contextmanager
def per_sample_draws(rank: int, world: int, sizes):
    """Draw as one process with the whole global batch would (see the module docstring)."""
    rows = max((q + world * (s - 1) + 1 for q, s in enumerate(sizes) if s > 0), default=0)
    if rows == sizes[rank]:
        yield
        return
    positions = rank + world * xp.arange(sizes[rank])
    gen = _PerSampleGenerator(backend.default_generator().bit_generator, positions, rows)
    previous = backend.set_default_generator(gen)
    try:
        yield
    finally:
        backend.set_default_generator(previous)


def _describe(module) -> list:
    return [[name, list(value.shape), str(value.dtype)]
            for name, value in module.state_dict(keep_vars=True).items()]


def _check_same_model(module) -> None:
    """Raise on every rank when any rank's parameters and buffers differ from rank 0's."""
    described = comm._allgather_json(_describe(module), "DistributedDataParallel")
    ref = described[0]
    for r, mine in enumerate(described[1:], start=1):
        if mine == ref:
            continue
        names0, names_r = [e[0] for e in ref], [e[0] for e in mine]
        if names0 != names_r:
            only0 = [n for n in names0 if n not in names_r][:3]
            only_r = [n for n in names_r if n not in names0][:3]
            detail = (f"rank 0 has {len(names0)} tensors, rank {r} has {len(names_r)}; only "
                      f"on rank 0: {only0 or 'none'}, only on rank {r}: {only_r or 'none'}")
        else:
            e0, er = next((a, b) for a, b in zip(ref, mine) if a != b)
            detail = (f"{e0[0]!r} has shape {tuple(e0[1])} ({e0[2]}) on rank 0 but "
                      f"{tuple(er[1])} ({er[2]}) on rank {r}")
        raise ValueError(f"DistributedDataParallel: the model differs across ranks: {detail}."
                         f" Every rank must build the same model")


class DistributedDataParallel(Module):
    """Wrap ``module`` for synchronous data-parallel training over all ranks.

    At construction it checks that every rank built the same model (the same parameter
    and buffer names, shapes and dtypes; else a ``ValueError`` names the first difference
    and the rank, on every rank), then copies rank 0's parameters, buffers and global
    random state to every rank, so all start alike.

    In training mode each forward pass notes the batch sizes of all ranks (one small
    collective) and arranges the random draws of the pass (see the module docstring).
    After ``loss.backward()`` call :meth:`sync_gradients`: it replaces each gradient by the
    average over the global batch (see above), bucketed in flat buffers.
    :func:`bricks.train.fit` does all of this by itself when given this model, as well as
    sharding the data, reducing the epoch's numbers and printing and saving on rank 0 only.

    In eval mode the forward pass is the wrapped module's, with no communication.
    ``state_dict`` and ``load_state_dict`` are the wrapped module's (no ``module.`` prefix),
    so checkpoints load into the bare model and back.

    BatchNorm layers normalize with the statistics of each rank's own batch (as PyTorch's
    DistributedDataParallel without SyncBatchNorm); :meth:`average_buffers` averages their
    running statistics over the ranks (``fit`` does it after every epoch).

    Args:
        module: the model, built the same way on every rank.
        bucket_cap_mb: the largest bucket of gradients, in megabytes (PyTorch's default, 25).

    Example:
        >>> model = bricks.distributed.DistributedDataParallel(bricks.nn.Linear(3, 2))
        >>> loss = model(bricks.ones(4, 3)).sum()
        >>> loss.backward()
        >>> model.sync_gradients(loss)  # one process: the gradients stay as they are
        {'loss': ..., 'samples': 4}
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a bricks.nn.Module, got "
                            f"{type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got "
                             f"{bucket_cap_mb!r}")
        comm.init()
        self.module = module
        self.bucket_cap_mb = float(bucket_cap_mb)
        world = comm._get()
        object.__setattr__(self, "_world", world)
        object.__setattr__(self, "_sizes", None)
        if world.size > 1:
            _check_same_model(module)
            self._broadcast_from_rank0()
        self._params = [p for p in module.parameters() if p.requires_grad]
        # The last bucket ends with one flag per parameter (how many ranks have a gradient
        # for it) and the global batch's mean loss.
        self._buckets = _make_buckets(self._params, self.bucket_cap_mb * 2**20,
                                      extra=len(self._params) + 1)

    # ------------------------------------------------------------ construction
    def _broadcast_from_rank0(self) -> None:
        with no_grad():
            for value in self.module.state_dict(keep_vars=True).values():
                buffer = xp.ascontiguousarray(backend.to_numpy(value.data))
                comm._bcast_inplace(buffer, 0, "DistributedDataParallel")
                value.data[...] = buffer
                value._vc[0] += 1
        backend.set_rng_state(comm._broadcast_json(backend.get_rng_state(), 0,
                                                   "DistributedDataParallel"))

    # ------------------------------------------------------------ the state is the module's
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        return self.module.state_dict(destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.module.load_state_dict(state_dict, strict)

    # ------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        world = self._world
        if not self.training:
            return self.module(*args, **kwargs)
        n = _batch_len(args, kwargs)
        if world.size == 1:
            object.__setattr__(self, "_sizes", [n])
            return self.module(*args, **kwargs)
        sizes = self._batch_sizes(n)
        object.__setattr__(self, "_sizes", sizes)
        with per_sample_draws(world.rank, world.size, sizes):
            return self.module(*args, **kwargs)

    def expect_batch_sizes(self, sizes) -> None:
        """Tell the coming steps every rank's batch size (``None``: ask the ranks).

        :func:`bricks.train.fit` knows them from the sampler's layout and calls this before
        each step, which saves the forward pass its exchange of batch sizes.  Every rank
        must do the same (all announce, or none).
        """
        object.__setattr__(self, "_announced", None if sizes is None else list(sizes))

    def _batch_sizes(self, n: int) -> list:
        announced = getattr(self, "_announced", None)
        if announced is None:
            return [row[0] for row in comm._allgather_ints([n], "forward (batch sizes)")]
        if announced[self._world.rank] != n:
            raise RuntimeError(f"DistributedDataParallel: this step's batch has {n} samples "
                               f"on rank {self._world.rank}, but {announced[self._world.rank]} "
                               f"were announced (expect_batch_sizes)")
        return announced

    # ------------------------------------------------------------ gradients
    def sync_gradients(self, loss=None) -> dict:
        """Average the gradients over the global batch, on every rank (after backward).

        Each rank's gradients are weighted by its share of the step's samples, n_r / T
        (see the module docstring), and summed with one all-reduce per bucket.  A parameter
        that has no gradient on any rank keeps ``grad=None``; one with a gradient on some
        ranks gets the average on all.

        Args:
            loss: this rank's mean loss of the step (a Tensor or number), or None.

        Returns:
            ``{'loss': the global batch's mean loss (None without a loss), 'samples': T}``.
        """
        sizes = self._sizes
        if sizes is None:
            raise RuntimeError("DistributedDataParallel.sync_gradients: call the model in "
                               "training mode on this step's batch first (its forward pass "
                               "notes the batch sizes of every rank)")
        object.__setattr__(self, "_sizes", None)
        world = self._world
        n, total = sizes[world.rank], sum(sizes)
        local_loss = None if loss is None else float(
            loss.item() if isinstance(loss, Tensor) else loss)
        if world.size == 1:
            return {"loss": local_loss, "samples": total}
        scale = n / total if total else 0.0
        flags = self._buckets[-1].buffer[self._buckets[-1].size:]
        index = {id(p): i for i, p in enumerate(self._params)}
        for bucket in self._buckets:
            for p, (start, stop) in zip(bucket.params, bucket.slices):
                part = bucket.buffer[start:stop]
                if p.grad is None or n == 0:
                    part[...] = 0
                    flags[index[id(p)]] = 0
                else:
                    xp.multiply(p.grad.data.reshape(-1), scale, out=part, casting="unsafe")
                    flags[index[id(p)]] = 1
        flags[-1] = 0.0 if (local_loss is None or n == 0) else local_loss * scale
        self._all_reduce_buckets()
        for bucket in self._buckets:
            for p, (start, stop) in zip(bucket.params, bucket.slices):
                if flags[index[id(p)]] == 0:
                    p.grad = None
                    continue
                grad = bucket.buffer[start:stop].reshape(p.shape)
                if p.grad is not None and p.grad.shape == p.shape:
                    p.grad.data[...] = grad
                else:
                    p.grad = Tensor(grad.copy())
        if min(sizes) == 0:
            # A rank without data ran no forward pass and drew no random numbers: give it
            # the generator state of a rank that did, so that all stay in step.
            src = next(r for r, s in enumerate(sizes) if s > 0)
            backend.set_rng_state(comm._broadcast_json(backend.get_rng_state(), src,
                                                       "sync_gradients (random state)"))
        return {"loss": None if loss is None else float(flags[-1]), "samples": total}

    def _all_reduce_buckets(self) -> None:
        world = self._world
        from mpi4py import MPI
        requests = []
        for bucket in self._buckets:  # all started at once, then completed in order
            comm._start(world)
            requests.append(world.comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM))
        for i, request in enumerate(requests):
            comm._wait(world, request, f"sync_gradients (bucket {i + 1} of {len(requests)})")

    def step_without_data(self, optimizer, closure: bool = False) -> dict:
        """Take part in a step in which this rank has no sample left.

        In the last step of an epoch whose length N does not divide, some ranks may have no
        sample (the sampler never repeats samples to even the shards out).  Such a rank
        joins the collectives of the step with an empty batch (weight 0) and applies the
        same update as the others, so the models stay identical.

        Args:
            optimizer: the optimizer the other ranks step.
            closure: the optimizer takes ``step(closure)`` (L-BFGS, ...): each evaluation
                of the others is matched here.

        Returns:
            :meth:`sync_gradients`'s result of the step's first evaluation.
        """
        first = []

        def evaluate():
            optimizer.zero_grad()
            sizes = self._batch_sizes(0) if self._world.size > 1 else [0]
            object.__setattr__(self, "_sizes", sizes)
            # The empty batch's loss: 0, with zero gradients (and a backward pass, which
            # closure-based optimizers look for).
            empty_loss = None
            for p in self._params:
                term = (p * 0.0).sum()
                empty_loss = term if empty_loss is None else empty_loss + term
            if empty_loss is not None:
                empty_loss.backward()
            result = self.sync_gradients(0.0)
            if not first:
                first.append(result)
            dtype = self._params[0].dtype if self._params else backend.float32
            return Tensor(xp.asarray(result["loss"], dtype=dtype))

        if closure:
            optimizer.step(evaluate)
        else:
            evaluate()
            optimizer.step()
        return first[0]

    # ------------------------------------------------------------ buffers
    def average_buffers(self) -> None:
        """Average floating buffers (BatchNorm's running statistics) over the ranks; other
        buffers (counters) take rank 0's values."""
        if self._world.size == 1:
            return
        with no_grad():
            for _, b in self.module.named_buffers():
                buffer = xp.ascontiguousarray(backend.to_numpy(b.data))
                if backend.is_floating(buffer.dtype):
                    comm._allreduce_inplace(buffer, "sum", "average_buffers")
                    buffer /= buffer.dtype.type(self._world.size)
                else:
                    comm._bcast_inplace(buffer, 0, "average_buffers")
                b.data[...] = buffer
                b._vc[0] += 1

    def extra_repr(self) -> str:
        return f"world_size={self._world.size}, buckets={len(self._buckets)}"


def data_parallel(module: Module) -> Module:
    """``module`` wrapped in :class:`DistributedDataParallel` when this process is one of
    several ranks, else ``module`` itself (what ``bricks train`` trains).

    Example:
        >>> layer = bricks.nn.Linear(2, 2)
        >>> bricks.distributed.data_parallel(layer) is layer  # a world of one
        True
    """
    return DistributedDataParallel(module) if comm.world_size() > 1 else module
