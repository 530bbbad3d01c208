"""Data-parallel training on MPI: throughput of the MNIST MLP with 1 and 2 processes, and
what the all-reduce of the gradients costs per step.

Run: python benchmarks/bench_distributed.py            (one epoch of 10,000 MNIST digits)
     python benchmarks/bench_distributed.py --quick    (2,000 digits, a smoke run)

Workload: the MLP 784-512-256-10 with ReLU, softmax cross-entropy, SGD with momentum 0.9,
one epoch of the 10,000 real MNIST digits bundled with bricks, a *global* batch of 128 and
then 512 (one process: 128 per step; two: 64 each): both runs take the same steps (the test
suite checks that they end with the same weights).  Each process uses one BLAS thread.

Rows:

- ``1 process, bare model``: ``bricks.train.fit`` on the model itself (no MPI at all).
- ``1 process, DDP``: the same under ``mpiexec -n 1`` with DistributedDataParallel
  (the cost of the bookkeeping alone: packing the gradients, no partner to wait for).
- ``2 processes, DDP``: ``mpiexec -n 2``.

Columns: samples per second of the epoch (rank 0's wall clock, data sharding and metric
reduction included), the speed-up over the bare model, the time per step, and the time per
step spent in the collectives of DistributedDataParallel (the batch-size exchange of the
forward pass and the gradient all-reduce, waiting for the slower rank included).  The last
column is the all-reduce of the model's 535,818 float32 gradients (2.1 MB) alone, measured
in a loop with nothing else running in the ranks: the pure communication cost.

The scaling model (docs/distributed.md): a step costs compute(b) + allreduce(P); with N
processes each computes b = B/N samples, so the ideal speed-up is N when the all-reduce is
small against the compute.  This machine has 2 cores shared with other sessions: the
numbers are one run's, and two processes can only reach 2x when both cores are free.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import bricks  # noqa: E402
import bricks.distributed as dist  # noqa: E402

BATCHES = (128, 512)  # global batches: the step's compute grows, the all-reduce does not


class TimedDDP(dist.DistributedDataParallel):
    """DistributedDataParallel that adds up the time of its collectives."""

    seconds = 0.0

    def _batch_sizes(self, n):
        start = time.perf_counter()
        result = super()._batch_sizes(n)
        TimedDDP.seconds += time.perf_counter() - start
        return result

    def sync_gradients(self, loss=None):
        start = time.perf_counter()
        result = super().sync_gradients(loss)
        TimedDDP.seconds += time.perf_counter() - start
        return result


def build():
    bricks.manual_seed(0)
    nn = bricks.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def load(n):
    """The first ``n`` bundled MNIST digits, flattened, in [0, 1]."""
    X, y = bricks.data.datasets.load_mnist()
    X = np.asarray(X[:n], dtype=np.float32).reshape(n, -1)
    return (X / 255.0 if X.max() > 1.5 else X), np.asarray(y[:n], dtype=np.int64)


def worker(n: int, batch: int, bare: bool) -> dict:
    dist.init()
    X, y = load(n)
    model = build() if bare else TimedDDP(build())
    opt = bricks.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    per_rank = batch // dist.world_size()
    fit = bricks.train.fit
    # one warm-up step's worth of data first (imports, first allocations)
    fit(model, bricks.nn.CrossEntropyLoss(), opt, (X[:batch], y[:batch]),
        batch_size=per_rank, seed=0, verbose=False)
    TimedDDP.seconds = 0.0
    dist.barrier()
    start = time.perf_counter()
    fit(model, bricks.nn.CrossEntropyLoss(), opt, (X, y), batch_size=per_rank, seed=0,
        verbose=False)
    seconds = time.perf_counter() - start
    steps = -(-n // batch)
    # the all-reduce alone, on a buffer the size of all the gradients
    buffer = np.ones(sum(p.numel() for p in model.parameters()), dtype=np.float32)
    reps = 50
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        dist.comm._allreduce_inplace(buffer)
    alone = (time.perf_counter() - t0) / reps
    return {"seconds": seconds, "steps": steps, "n": n, "collectives": TimedDDP.seconds,
            "allreduce_alone": alone, "params": int(buffer.size)}


def run(nproc: int | None, n: int, batch: int) -> dict:
    """Run the worker (nproc None: this process, bare model); its rank 0's numbers."""
    if nproc is None:
        return worker(n, batch, bare=True)
    from bricks.distributed.launch import mpiexec_command

    line = mpiexec_command(nproc, [sys.executable, __file__, "--worker", str(n),
                                   "--batch", str(batch)])
    out = subprocess.run(line, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"mpiexec -n {nproc} failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2,000 samples instead of 10,000")
    p.add_argument("--worker", type=int, metavar="N", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, nargs="+", default=BATCHES,
                   help=f"global batch sizes, one table each (default: {BATCHES})")
    args = p.parse_args(argv)
    if args.worker is not None:
        result = worker(args.worker, args.batch[0], bare=False)
        if dist.rank() == 0:
            print(json.dumps(result), flush=True)
        return
    n = 2000 if args.quick else 10000
    for batch in args.batch:
        table(n, batch)


def table(n: int, batch: int) -> None:
    load_before = os.getloadavg()[0]
    rows = [("1 process, bare model", run(None, n, batch)), ("1 process, DDP", run(1, n, batch)),
            ("2 processes, DDP", run(2, n, batch))]
    base = rows[0][1]["n"] / rows[0][1]["seconds"]
    print(f"\nMNIST MLP 784-512-256-10, {n} samples, global batch {batch} "
          f"({batch // 2} per process with 2), {rows[-1][1]['params']:,} parameters")
    print(f"{os.cpu_count()} cores shared with other work (load average {load_before:.1f} "
          f"before, {os.getloadavg()[0]:.1f} after): one run's numbers")
    print(f"{'':24} {'samples/s':>10} {'speed-up':>9} {'ms/step':>8} "
          f"{'collectives ms/step':>20} {'all-reduce alone ms':>20}")
    for name, r in rows:
        rate = r["n"] / r["seconds"]
        per_step = 1e3 * r["seconds"] / r["steps"]
        coll = 1e3 * r["collectives"] / r["steps"]
        alone = "" if "DDP" not in name else f"{1e3 * r['allreduce_alone']:.3f}"
        coll_text = "" if "DDP" not in name else f"{coll:.2f} ({100 * coll / per_step:.0f}%)"
        print(f"{name:24} {rate:10.0f} {rate / base:8.2f}x {per_step:8.2f} "
              f"{coll_text:>20} {alone:>20}")

if __name__ == "__main__":
    main()
