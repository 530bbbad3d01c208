"""Training speed and memory: PyTorch eager, hand-written NumPy, bricks eager and bricks
compiled (``bricks.compile``), in one process, on one BLAS thread.

Run: python benchmarks/bench_mlp.py              (one MNIST-sized epoch per row: minutes)
     python benchmarks/bench_mlp.py --quick      (6,000 samples, a smoke run)
     python benchmarks/bench_mlp.py --clock cpu  (CPU time of this process, not wall time:
                                                  steadier on a shared machine)

Workloads (issue 11's table):

- ``epoch, batch B``: an MLP 784-512-256-10 with ReLU, softmax cross-entropy, SGD with
  momentum 0.9 (lr 0.01), one epoch of 60,000 random MNIST-shaped samples at batch 32 and
  128.  Time per epoch; ratio to PyTorch.
- ``2-8-8-1 step``: a tanh MLP, MSE loss, SGD step on a batch of 16.  Time per step.

The NumPy row is the reference a person would write by hand: buffers allocated once, every
product and elementwise op with ``out=``.  Before timing, each implementation runs one step
from the same weights on the same batch, and the script stops if its loss and updated
weights differ from NumPy's (1e-4 relative for PyTorch's own kernels, bit-identical for
bricks compiled against bricks eager).  Peak memory is the peak of NumPy allocations
(tracemalloc) during 17 training steps after 3 warm-up steps, counting all that an
implementation holds (weights, optimizer state, buffers and temporaries; not the dataset).
PyTorch's allocator is not traced, so its cell is empty.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bricks  # noqa: E402
import bricks.nn.functional as F  # noqa: E402

IMPLEMENTATIONS = ("PyTorch eager", "NumPy by hand", "bricks eager", "bricks compiled")
# What the timings read: wall-clock time, or (--clock cpu) this process's CPU time, which
# leaves out the time other processes of a shared machine take the core away.
CLOCK = [time.perf_counter]
LR, MOMENTUM = 0.01, 0.9


def _weights(sizes, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        out.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                    rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return out


# ---------------------------------------------------------------- implementations
# Each make_* returns (step(x, y) -> None, params() -> list of arrays, last_loss() -> float).


def make_torch(weights, act, loss):
    layers = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU() if act == "relu" else torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    lossf = torch.nn.functional.cross_entropy if loss == "ce" else torch.nn.functional.mse_loss
    last = [0.0]

    def step(x, y):
        opt.zero_grad()
        out = lossf(model(x), y)
        out.backward()
        opt.step()
        last[0] = out.detach()

    return step, lambda: [p.detach().numpy() for p in model.parameters()], \
        lambda: float(last[0])


def make_bricks(weights, act, loss, compiled):
    layers = []
    for i, (w, b) in enumerate(weights):
        lin = bricks.nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data[...] = w
        lin.bias.data[...] = b
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(bricks.nn.ReLU() if act == "relu" else bricks.nn.Tanh())
    model = bricks.nn.Sequential(*layers)
    opt = bricks.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    lossf = F.cross_entropy if loss == "ce" else F.mse_loss

    def train_step(x, y):
        opt.zero_grad()
        out = lossf(model(x), y)
        out.backward()
        opt.step()
        return out

    fn = bricks.compile(train_step, fallback=False) if compiled else train_step
    last = [0.0]

    def step(x, y):
        last[0] = fn(x, y)

    return step, lambda: [p.data for p in model.parameters()], lambda: float(last[0])


def make_numpy(weights, act, loss, batch):
    """Forward, backward and SGD with momentum by hand, on buffers allocated once."""
    W = [w.copy() for w, _ in weights]
    B = [b.copy() for _, b in weights]
    VW = [np.zeros_like(w) for w in W]
    VB = [np.zeros_like(b) for b in B]
    n_layers = len(W)
    H = [np.empty((batch, w.shape[0]), np.float32) for w in W]  # layer outputs
    G = [np.empty((batch, w.shape[0]), np.float32) for w in W]  # their gradients
    GW = [np.empty_like(w) for w in W]
    GB = [np.empty_like(b) for b in B]
    mask = [np.empty((batch, w.shape[0]), bool) for w in W]
    rows = np.arange(batch)
    m = np.empty((batch, 1), np.float32)
    tmp = [np.empty_like(w) for w in W]
    last = [0.0]

    def step(x, y):
        a = x
        for i in range(n_layers):
            np.matmul(a, W[i].T, out=H[i])
            H[i] += B[i]
            if i < n_layers - 1:
                if act == "relu":
                    np.maximum(H[i], 0, out=H[i])
                else:
                    np.tanh(H[i], out=H[i])
            a = H[i]
        g = G[-1]
        if loss == "ce":
            np.max(a, axis=1, keepdims=True, out=m)
            np.subtract(a, m, out=g)
            np.exp(g, out=g)
            s = g.sum(axis=1, keepdims=True)
            g /= s
            last[0] = -np.mean(np.log(g[rows, y]))
            g[rows, y] -= 1
            g /= batch
        else:
            np.subtract(a, y, out=g)
            last[0] = float(np.mean(g * g))
            g *= 2.0 / g.size
        for i in range(n_layers - 1, -1, -1):
            inp = x if i == 0 else H[i - 1]
            np.matmul(G[i].T, inp, out=GW[i])
            np.sum(G[i], axis=0, out=GB[i])
            if i > 0:
                gx = G[i - 1]
                np.matmul(G[i], W[i], out=gx)
                if act == "relu":
                    np.greater(H[i - 1], 0, out=mask[i - 1])
                    gx *= mask[i - 1]
                else:
                    gx *= tmp_act(i - 1)
        for i in range(n_layers):
            VW[i] *= MOMENTUM
            VW[i] += GW[i]
            np.multiply(VW[i], LR, out=tmp[i])
            W[i] -= tmp[i]
            VB[i] *= MOMENTUM
            VB[i] += GB[i]
            B[i] -= LR * VB[i]

    act_buf = [np.empty((batch, w.shape[0]), np.float32) for w in W]

    def tmp_act(i):
        # 1 - tanh^2, in its own buffer
        t = act_buf[i]
        np.multiply(H[i], H[i], out=t)
        np.subtract(1.0, t, out=t)
        return t

    params = []
    for w, b in zip(W, B):
        params += [w, b]
    return step, lambda: params, lambda: float(last[0])


def _make(impl, weights, act, loss, batch):
    if impl == "PyTorch eager":
        return make_torch(weights, act, loss)
    if impl == "NumPy by hand":
        return make_numpy(weights, act, loss, batch)
    return make_bricks(weights, act, loss, compiled=impl == "bricks compiled")


def _as(impl, x, y):
    if impl == "PyTorch eager":
        return torch.from_numpy(x), torch.from_numpy(y)
    if impl == "NumPy by hand":
        return x, y
    return bricks.Tensor._make(x, False, None, 0), bricks.Tensor._make(y, False, None, 0)


def check_agree(sizes, act, loss, batch, seed=0):
    """One step from the same weights, on the same batch: stop if any implementation
    computes something else (bricks compiled must match bricks eager exactly)."""
    weights = _weights(sizes, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = (rng.integers(0, sizes[-1], batch) if loss == "ce"
         else rng.standard_normal((batch, sizes[-1])).astype(np.float32))
    results = {}
    for impl in IMPLEMENTATIONS:
        step, params, last = _make(impl, weights, act, loss, batch)
        for _ in range(3):  # bricks compiled: two records, then the plan
            step(*_as(impl, x, y))
        results[impl] = (last(), [np.array(p) for p in params()])
    ref_loss, ref_params = results["NumPy by hand"]
    for impl, (value, ps) in results.items():
        if not np.allclose(value, ref_loss, rtol=1e-4, atol=1e-6) or not all(
                np.allclose(p, q, rtol=1e-4, atol=1e-6) for p, q in zip(ps, ref_params)):
            raise AssertionError(f"{impl} disagrees with NumPy by hand on {sizes}")
    be, bc = results["bricks eager"], results["bricks compiled"]
    if be[0] != bc[0] or not all(np.array_equal(p, q) for p, q in zip(be[1], bc[1])):
        raise AssertionError("bricks compiled differs from bricks eager")


# ---------------------------------------------------------------- timing


def time_epochs(X, Y, batch, sizes, rounds=10):
    """Seconds per epoch, per implementation.  The epoch is cut into ``rounds`` slices and
    the implementations take turns on each slice (in a rotating order), so a change of the
    machine's load during the run hits them all alike."""
    steps, batches = {}, {}
    n = (len(X) // batch) * batch
    for impl in IMPLEMENTATIONS:
        steps[impl] = _make(impl, _weights(sizes), "relu", "ce", batch)[0]
        batches[impl] = [_as(impl, X[i:i + batch], Y[i:i + batch]) for i in range(0, n, batch)]
        for xb, yb in batches[impl][:3]:  # warm up (and record, for bricks compiled)
            steps[impl](xb, yb)
    total = dict.fromkeys(IMPLEMENTATIONS, 0.0)
    count = len(batches[IMPLEMENTATIONS[0]])
    bounds = [count * r // rounds for r in range(rounds + 1)]
    for r in range(rounds):
        order = IMPLEMENTATIONS[r % 4:] + IMPLEMENTATIONS[:r % 4]
        for impl in order:
            step, chunk = steps[impl], batches[impl][bounds[r]:bounds[r + 1]]
            start = CLOCK[0]()
            for xb, yb in chunk:
                step(xb, yb)
            total[impl] += CLOCK[0]() - start
    return total


def peak_memory(impl, X, Y, batch, sizes, steps=20):
    """Peak of what the implementation holds and allocates with NumPy (weights, optimizer
    state, buffers, temporaries) during training steps, after the first three (which, for
    bricks compiled, record the step twice and compile it: a one-time cost)."""
    weights = _weights(sizes)
    steps = max(4, min(steps, len(X) // batch))
    batches = [_as(impl, X[i * batch:(i + 1) * batch], Y[i * batch:(i + 1) * batch])
               for i in range(steps)]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step, _, _ = _make(impl, weights, "relu", "ce", batch)
    for xb, yb in batches[:3]:  # bricks compiled records (twice) and compiles here
        step(xb, yb)
    tracemalloc.reset_peak()
    for xb, yb in batches[3:]:
        step(xb, yb)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def time_tiny_steps(repeats=7, loops=300):
    """Median seconds per step, per implementation, the implementations taking turns."""
    sizes = (2, 8, 8, 1)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 2)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    runs = {}
    for impl in IMPLEMENTATIONS:
        step = _make(impl, _weights(sizes), "tanh", "mse", 16)[0]
        xb, yb = _as(impl, x, y)
        for _ in range(5):
            step(xb, yb)
        runs[impl] = (step, xb, yb)
    times = {impl: [] for impl in IMPLEMENTATIONS}
    for r in range(repeats):
        for impl in IMPLEMENTATIONS[r % 4:] + IMPLEMENTATIONS[:r % 4]:
            step, xb, yb = runs[impl]
            start = CLOCK[0]()
            for _ in range(loops):
                step(xb, yb)
            times[impl].append((CLOCK[0]() - start) / loops)
    return {impl: sorted(t)[len(t) // 2] for impl, t in times.items()}


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 samples, fewer repeats")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time with the wall clock (default) or with this process's CPU "
                             "time (steadier on a machine shared with other work)")
    args = parser.parse_args(argv)
    CLOCK[0] = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(1)
    samples = args.samples or (6000 if args.quick else 60000)
    sizes = (784, 512, 256, 10)
    check_agree(sizes, "relu", "ce", 32)
    check_agree((2, 8, 8, 1), "tanh", "mse", 16)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((samples, 784)).astype(np.float32)
    Y = rng.integers(0, 10, samples)
    rows = []
    for batch in (32, 128):
        times = time_epochs(X, Y, batch, sizes)
        mems = {impl: peak_memory(impl, X, Y, batch, sizes) for impl in IMPLEMENTATIONS
                if impl != "PyTorch eager"}
        for impl in IMPLEMENTATIONS:
            mem = mems.get(impl)
            rows.append((f"epoch ({samples} samples), batch {batch}", impl,
                         f"{times[impl]:.2f} s", f"{times[impl] / times['PyTorch eager']:.2f}×",
                         f"{times[impl] / times['NumPy by hand']:.2f}×",
                         "-" if mem is None else f"{mem / 2**20:.1f} MiB",
                         "-" if mem is None else f"{mem / mems['NumPy by hand']:.2f}×"))
    loops = 100 if args.quick else 300
    tiny = time_tiny_steps(loops=loops)
    for impl in IMPLEMENTATIONS:
        rows.append(("2-8-8-1 tanh, batch 16, SGD step", impl, f"{tiny[impl] * 1e6:.0f} µs",
                     f"{tiny[impl] / tiny['PyTorch eager']:.2f}×",
                     f"{tiny[impl] / tiny['NumPy by hand']:.2f}×", "-", "-"))
    head = ("| work | implementation | time | vs PyTorch | vs NumPy | peak memory | "
            "vs NumPy |\n|---|---|---:|---:|---:|---:|---:|")
    table = head + "\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    print(f"bricks {bricks.__version__}, PyTorch {torch.__version__}, NumPy {np.__version__}, "
          f"1 BLAS thread, {args.clock} clock; one run on a shared machine: compare ratios, "
          f"not times")
    print(table)
    return table


if __name__ == "__main__":
    main()
