"""The process world and its collectives, on MPI (mpi4py) or, without it, a world of one.

A program started by ``mpiexec -n N python train.py`` (or ``bricks train --nproc N``) runs
N copies of itself, the *ranks* 0..N-1.  :func:`init` joins them into one world; the
collectives below each involve every rank and return the same result on every rank:

- ``all_reduce(x, op)``: the sum (mean, max, min) of every rank's ``x``;
- ``broadcast(x, src)``: rank ``src``'s ``x``;
- ``all_gather(x)``: every rank's ``x`` stacked along the first dimension, in rank order;
- ``barrier()``: waits until every rank got there.

A program started without an MPI launcher is a world of one process: ``rank() == 0``,
``world_size() == 1``, and every collective returns its input; mpi4py is not even imported.

Failures never hang the world.  After :func:`init` an exception that no code catches in one
rank prints that rank's traceback and ``bricks.distributed: rank R of N stopped with ...``
and aborts every rank (``MPI_Abort``), and ``mpiexec`` names a rank that died of a signal.
A collective that waits longer than the timeout (``init(timeout=...)``, or the
``BRICKS_DISTRIBUTED_TIMEOUT`` environment variable in seconds; default 300) for a rank that
hangs, or left without a word, raises :class:`DistributedError` naming the waiting rank and
the collective, which in turn aborts the world.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from bricks import backend
from bricks.backend import xp
from bricks.tensor import Tensor

__all__ = ["init", "is_initialized", "rank", "world_size", "all_reduce", "all_gather",
           "broadcast", "barrier", "DistributedError", "launched_by_mpi"]

_DEFAULT_TIMEOUT = 300.0
# Set by bricks.distributed.launch: each rank notes "host pid" in RANK.pid there at init().
PID_FOLDER_VARIABLE = "BRICKS_DISTRIBUTED_PID_FOLDER"
_ABORT_GRACE_SECONDS = 1.0
# Polling a pending collective: without pause for _SPIN_SECONDS, then with sleeps from
# _FIRST_SLEEP doubling up to _LONGEST_SLEEP (measured on 2 shared cores: a 2 MB all-reduce
# took 2-5 ms so, 17 ms when spinning for 50 ms first).
_SPIN_SECONDS = 1e-4
_FIRST_SLEEP, _LONGEST_SLEEP = 1e-5, 2e-4
# Environment variables that MPI launchers set in every process they start: MPICH's and
# Intel MPI's hydra (PMI_*), PMIx-based launchers such as Slurm's srun, and Open MPI.
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")


class DistributedError(RuntimeError):
    """A collective failed or timed out; the message names the rank and the collective."""


class _World:
    """The joined world: ``comm`` is an mpi4py communicator, or None for one process."""

    def __init__(self, comm, timeout: float):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.timeout = timeout
        self.count = 0  # collectives started, named in timeout messages


_world: _World | None = None


def launched_by_mpi() -> bool:
    """True when an MPI launcher (``mpiexec``, ``mpirun``, ``srun``) started this process."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def _timeout_from_env() -> float:
    text = os.environ.get("BRICKS_DISTRIBUTED_TIMEOUT")
    if text is None:
        return _DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"BRICKS_DISTRIBUTED_TIMEOUT must be a number of seconds, got "
                         f"{text!r}") from None
    if not value > 0:
        raise ValueError(f"BRICKS_DISTRIBUTED_TIMEOUT must be > 0 seconds, got {text!r}")
    return value


def init(timeout: float | None = None) -> None:
    """Join the world of processes started by ``mpiexec``; alone, a world of one.

    Safe to call more than once (later calls only change the timeout when given).  Under
    an MPI launcher it imports mpi4py (``pip install "bricks[distributed]"``) and installs
    an exception hook: an uncaught exception in any rank aborts every rank, with a message
    naming the rank, instead of leaving the others waiting forever.

    Args:
        timeout: seconds a collective may wait for the other ranks before it raises
            :class:`DistributedError` (default: ``BRICKS_DISTRIBUTED_TIMEOUT`` or 300).

    Example:
        >>> bricks.distributed.init()
        >>> bricks.distributed.rank(), bricks.distributed.world_size()  # no mpiexec here
        (0, 1)
    """
    global _world
    if timeout is not None and not timeout > 0:
        raise ValueError(f"init: timeout must be > 0 seconds, got {timeout!r}")
    if _world is not None:
        if timeout is not None:
            _world.timeout = float(timeout)
        return
    timeout = _timeout_from_env() if timeout is None else float(timeout)
    if not launched_by_mpi():
        _world = _World(None, timeout)
        return
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("bricks.distributed: this process was started by an MPI launcher "
                          "but mpi4py is not installed; pip install 'bricks[distributed]'"
                          ) from None
    _world = _World(MPI.COMM_WORLD, timeout)
    if _world.size > 1:
        sys.excepthook = _abort_on_exception(sys.excepthook)
    folder = os.environ.get(PID_FOLDER_VARIABLE)
    if folder and os.path.isdir(folder):  # for launch(): which rank a process id was
        with open(os.path.join(folder, f"{_world.rank}.pid"), "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}\n")


def _abort_on_exception(previous):
    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        world = _world
        sys.stderr.write(f"bricks.distributed: rank {world.rank} of {world.size} stopped "
                         f"with {kind.__name__}: {value}; aborting all ranks\n")
        sys.stderr.flush()
        sys.stdout.flush()
        # mpiexec relays the ranks' output through pipes and stops relaying once a rank
        # aborts: give it a moment to pass these lines on first.
        time.sleep(_ABORT_GRACE_SECONDS)
        world.comm.Abort(1)

    return hook


def _get() -> _World:
    if _world is None:
        init()
    return _world


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process."""
    return _world is not None


def rank() -> int:
    """This process's number in the world, 0..world_size()-1 (calls :func:`init`)."""
    return _get().rank


def world_size() -> int:
    """The number of processes in the world (1 without an MPI launcher)."""
    return _get().size


# ---------------------------------------------------------------- waiting, with a deadline
def _wait(world: _World, request, what: str) -> None:
    """Complete a non-blocking MPI request, or raise once the timeout has passed.

    MPI moves a non-blocking collective forward only while a rank asks about it, so a rank
    polls; after a short spin it sleeps a little between polls, which gives the core to
    its partner when ranks share cores (MPI's own blocking wait spins, and a spinning rank
    slows the rank it waits for) and keeps a rank that waits long for a slow or stuck
    partner nearly idle.
    """
    if request.Test():
        return
    start = time.monotonic()
    while not request.Test():
        if time.monotonic() - start > _SPIN_SECONDS:
            break
    delay = _FIRST_SLEEP
    while not request.Test():
        waited = time.monotonic() - start
        if waited > world.timeout:
            raise DistributedError(
                f"bricks.distributed: rank {world.rank} of {world.size} waited {waited:.0f} s "
                f"in {what} (collective #{world.count}) for the other ranks; one of them "
                f"died or hangs (see its own message). Raise the limit with "
                f"init(timeout=...) or BRICKS_DISTRIBUTED_TIMEOUT if it is only slow")
        time.sleep(delay)
        delay = min(delay * 2, _LONGEST_SLEEP)


def _start(world: _World) -> None:
    world.count += 1  # collectives are numbered in timeout messages


def _mpi_op(op: str):
    from mpi4py import MPI
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]


def _allreduce_inplace(buffer, op: str = "sum", what: str = "all_reduce") -> None:
    """Reduce a contiguous array across ranks, in place (no averaging here)."""
    world = _get()
    if world.comm is None:
        return
    from mpi4py import MPI
    _start(world)
    _wait(world, world.comm.Iallreduce(MPI.IN_PLACE, buffer, op=_mpi_op(op)), what)


def _bcast_inplace(buffer, src: int, what: str = "broadcast") -> None:
    world = _get()
    if world.comm is None:
        return
    _start(world)
    _wait(world, world.comm.Ibcast(buffer, root=src), what)


def _allgather_ints(values, what: str = "all_gather") -> list:
    """Each rank's list of ints (all lists of one length): a list of lists, by rank."""
    world = _get()
    local = xp.asarray(values, dtype=backend.int64).reshape(-1)
    if world.comm is None:
        return [local.tolist()]
    out = xp.empty((world.size, local.size), dtype=backend.int64)
    _start(world)
    _wait(world, world.comm.Iallgather(local, out), what)
    return out.tolist()


def _allgatherv(local, counts, what: str):
    """Concatenate contiguous 1-D arrays of one dtype, ``counts[r]`` elements from rank r."""
    world = _get()
    out = xp.empty(int(sum(counts)), dtype=local.dtype)
    if world.comm is None:
        out[...] = local
        return out
    displacements = [int(sum(counts[:r])) for r in range(world.size)]
    _start(world)
    request = world.comm.Iallgatherv(local, [out, ([int(c) for c in counts], displacements)])
    _wait(world, request, what)
    return out


def _allgather_json(value, what: str = "all_gather") -> list:
    """Each rank's JSON-able ``value``, as a list by rank (no pickle travels)."""
    data = xp.frombuffer(json.dumps(value).encode(), dtype=backend.uint8)
    counts = [c[0] for c in _allgather_ints([data.size], what)]
    joined = _allgatherv(xp.ascontiguousarray(data), counts, what).tobytes()
    out, start = [], 0
    for count in counts:
        out.append(json.loads(joined[start:start + count].decode()))
        start += count
    return out


def _broadcast_json(value, src: int = 0, what: str = "broadcast"):
    """Rank ``src``'s JSON-able ``value`` on every rank."""
    world = _get()
    if world.comm is None:
        return value
    data = json.dumps(value).encode() if world.rank == src else b""
    length = xp.asarray([len(data)], dtype=backend.int64)
    _bcast_inplace(length, src, what)
    buffer = xp.empty(int(length[0]), dtype=backend.uint8)
    if world.rank == src:
        buffer[...] = xp.frombuffer(data, dtype=backend.uint8)
    _bcast_inplace(buffer, src, what)
    return json.loads(buffer.tobytes().decode())


# ---------------------------------------------------------------- the public collectives
def _unwrap(x, op: str):
    if isinstance(x, Tensor):
        return backend.to_numpy(x.data), "tensor"
    if isinstance(x, (bool, int, float)) or (hasattr(x, "shape") and hasattr(x, "dtype")):
        array = backend.to_numpy(xp.asarray(x))
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{op}: expected numbers, got an array of dtype {array.dtype}")
        return array, ("number" if isinstance(x, (bool, int, float)) else "array")
    raise TypeError(f"{op}: expected a Tensor, an array or a number, got {type(x).__name__}")


def _wrap(array, kind: str):
    if kind == "tensor":
        return Tensor(array)
    if kind == "number":
        return array.item()
    return array


def all_reduce(x, op: str = "sum"):
    """Combine ``x`` across all ranks: every rank gets the same result.

    ``op='sum'``: x_0 + ... + x_{N-1}; ``'mean'``: that sum / N; ``'max'``, ``'min'``:
    elementwise.  Unlike ``torch.distributed.all_reduce`` the input is left unchanged and
    the result is returned, as a new Tensor for a Tensor (no gradient), an array for an
    array, a number for a number.

    Args:
        x: a Tensor, array or number of the same shape and dtype on every rank.
        op: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.

    Returns:
        the reduced value, of ``x``'s kind and shape; ``'mean'`` of integers is floating.

    Example:
        >>> bricks.distributed.all_reduce(bricks.tensor([1.0, 2.0]), op="mean")
        tensor([1., 2.])
    """
    if op not in ("sum", "mean", "max", "min"):
        raise ValueError(f"all_reduce: op must be 'sum', 'mean', 'max' or 'min', got {op!r}")
    array, kind = _unwrap(x, "all_reduce")
    out = xp.array(array, copy=True, order="C")
    if out.dtype.kind == "b":
        if op in ("sum", "mean"):
            out = out.astype(backend.int64)
        else:  # MPI has no max over bool buffers: reduce as bytes
            out = out.astype(backend.uint8)
    _allreduce_inplace(out, op)
    if op == "mean":
        out = out / world_size() if out.dtype.kind != "f" else out / out.dtype.type(
            world_size())
    elif array.dtype.kind == "b" and op in ("max", "min"):
        out = out.astype(array.dtype)
    return _wrap(out, kind)


def broadcast(x, src: int = 0):
    """Rank ``src``'s ``x`` on every rank.

    The other ranks' ``x`` may be anything (``None`` too); when it is an array or Tensor of
    rank ``src``'s shape and dtype it is also overwritten in place, as in
    ``torch.distributed.broadcast``.  Besides Tensors, arrays and numbers, any JSON value
    (dicts, lists, strings) can be broadcast.

    Args:
        x: the value (only rank ``src``'s matters).
        src: the rank whose value everyone gets.

    Returns:
        rank ``src``'s value, of its kind (a Tensor for a Tensor).

    Example:
        >>> bricks.distributed.broadcast({"lr": 0.1})
        {'lr': 0.1}
    """
    world = _get()
    if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < world.size:
        raise ValueError(f"broadcast: src must be a rank in 0..{world.size - 1}, got {src!r}")
    header = None
    if world.rank == src:
        try:
            array, kind = _unwrap(x, "broadcast")
            header = {"kind": kind, "dtype": array.dtype.str, "shape": list(array.shape)}
        except TypeError:
            header = {"kind": "json", "value": x}
    header = _broadcast_json(header, src, "broadcast")
    if header["kind"] == "json":
        return header["value"]
    shape, dtype = tuple(header["shape"]), xp.dtype(header["dtype"])
    if world.rank == src:
        buffer = xp.array(array, copy=True, order="C")
    else:
        buffer = xp.empty(shape, dtype=dtype)
    _bcast_inplace(buffer, src, "broadcast")
    target = x.data if isinstance(x, Tensor) else x
    if world.rank != src and isinstance(target, backend.ndarray) and (
            target.shape == shape and target.dtype == dtype):
        target[...] = buffer
        if isinstance(x, Tensor):
            x._vc[0] += 1
    return _wrap(buffer, header["kind"])


def all_gather(x):
    """Every rank's ``x`` joined along the first dimension, in rank order.

    The first dimension may differ between ranks (say, each rank's predictions); the other
    dimensions and the dtype must agree.  A rank with nothing to add passes ``None``.

    Args:
        x: a Tensor or array ``(n_r, ...)``, or ``None``.

    Returns:
        ``(n_0 + ... + n_{N-1}, ...)``, a Tensor if any rank passed one.

    Example:
        >>> bricks.distributed.all_gather(np.arange(3)).tolist()
        [0, 1, 2]
    """
    if x is None:
        meta = None
    else:
        array, kind = _unwrap(x, "all_gather")
        if array.ndim == 0:
            array = array.reshape(1)
        meta = {"kind": kind, "dtype": array.dtype.str, "shape": list(array.shape)}
    metas = _allgather_json(meta, "all_gather")
    known = [m for m in metas if m is not None]
    if not known:
        return None
    trailing, dtype = known[0]["shape"][1:], known[0]["dtype"]
    for r, m in enumerate(metas):
        if m is not None and (m["shape"][1:] != trailing or m["dtype"] != dtype):
            raise ValueError(f"all_gather: rank {r} has shape {tuple(m['shape'])} and dtype "
                             f"{xp.dtype(m['dtype'])}, but rank {metas.index(known[0])} has "
                             f"{tuple(known[0]['shape'])} and {xp.dtype(dtype)}; all but the "
                             f"first dimension must agree")
    row = int(xp.prod(trailing)) if trailing else 1
    counts = [0 if m is None else m["shape"][0] * row for m in metas]
    local = (xp.empty(0, dtype=xp.dtype(dtype)) if x is None
             else xp.ascontiguousarray(array).reshape(-1))
    out = _allgatherv(local, counts, "all_gather").reshape([-1, *trailing])
    kind = "tensor" if any(m is not None and m["kind"] == "tensor" for m in metas) else "array"
    return _wrap(out, kind)


def barrier() -> None:
    """Wait until every rank has called ``barrier()``.

    Example:
        >>> bricks.distributed.barrier()
    """
    world = _get()
    if world.comm is None:
        return
    _start(world)
    _wait(world, world.comm.Ibarrier(), "barrier")
