"""Engine speed: bricks next to PyTorch and hand-written NumPy, in one run.

Run: python benchmarks/bench_engine.py            (about 30 seconds)
     python benchmarks/bench_engine.py --quick    (a smoke run, a few seconds; timings rough)

Four workloads, each in three implementations that start from the same float32 weights:

- ``add 4, fwd``: one 4-element add of two tensors that require grad (graph recording
  included): the fixed cost of one op.
- ``add 4, fwd+bwd``: the same add, then ``backward`` with a given gradient.
- ``MLP 2-8-8-1, fwd+bwd``: a tiny tanh network and its MSE loss on 16 samples, forward and
  backward (the gradients), the size of a classroom toy problem: pure overhead.
- ``MLP 784-512-256-10, SGD step``: a ReLU network on an MNIST-sized batch of 128, softmax
  cross-entropy (log_softmax, then picking each row's label), backward and an SGD update:
  mostly matrix products.

PyTorch runs with raw tensors and autograd (no ``nn``), on 1 thread; NumPy computes the
same forward and backward by hand.  Before timing, the script checks that the three compute
the same losses, gradients and updated weights, and stops with an error if not.  Times are
medians over several repeats of a timed loop, after warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

# BLAS reads these when NumPy is first imported: match PyTorch's one thread (no effect if
# NumPy was imported before this module, as in the test suite).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bricks  # noqa: E402

TORCH_THREADS = 1
IMPLEMENTATIONS = ("bricks", "PyTorch", "NumPy")
LR = 0.01


# ---------------------------------------------------------------- the workloads
#
# Each ``make_*`` takes the shared NumPy arrays and returns, per implementation, a pair
# (step, state): ``step()`` runs one timed iteration; ``state()`` returns the numbers that
# must agree across implementations after one step, as NumPy arrays.


def _b(a, grad=False):
    return bricks.tensor(a, requires_grad=grad)


def _t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.data)


def make_add(arrays, backward):
    a0, b0, g0 = arrays["a"], arrays["b"], arrays["g"]
    impls = {}

    ba, bb, bg = _b(a0, True), _b(b0, True), _b(g0)
    out = {}

    def bricks_step():
        c = ba + bb
        if backward:
            ba.grad = bb.grad = None
            c.backward(bg)
        out["bricks"] = c

    impls["bricks"] = (bricks_step, lambda: [_np(out["bricks"])] + (
        [_np(ba.grad), _np(bb.grad)] if backward else []))

    ta, tb, tg = _t(a0, True), _t(b0, True), _t(g0)

    def torch_step():
        c = ta + tb
        if backward:
            ta.grad = tb.grad = None
            c.backward(tg)
        out["PyTorch"] = c

    impls["PyTorch"] = (torch_step, lambda: [_np(out["PyTorch"])] + (
        [_np(ta.grad), _np(tb.grad)] if backward else []))

    na, nb, ng = a0.copy(), b0.copy(), g0.copy()
    grads = {}

    def numpy_step():
        c = na + nb
        if backward:
            # d(a + b)/da and /db are the identity: each input's gradient is a copy of g.
            grads["a"], grads["b"] = ng.copy(), ng.copy()
        out["NumPy"] = c

    impls["NumPy"] = (numpy_step, lambda: [out["NumPy"]] + (
        [grads["a"], grads["b"]] if backward else []))
    return impls


def make_tiny_mlp(arrays):
    """2-8-8-1, tanh, mean squared error; forward and backward, no update."""
    x0, y0 = arrays["x_tiny"], arrays["y_tiny"]
    w0 = arrays["tiny"]
    impls = {}
    out = {}

    bx, by = _b(x0), _b(y0)
    bw = [_b(w, True) for w in w0]

    def bricks_step():
        w1, b1, w2, b2, w3, b3 = bw
        h1 = (bx @ w1 + b1).tanh()
        h2 = (h1 @ w2 + b2).tanh()
        loss = ((h2 @ w3 + b3 - by) ** 2).mean()
        for w in bw:
            w.grad = None
        loss.backward()
        out["bricks"] = loss

    impls["bricks"] = (bricks_step, lambda: [_np(out["bricks"])] + [_np(w.grad) for w in bw])

    tx, ty = _t(x0), _t(y0)
    tw = [_t(w, True) for w in w0]

    def torch_step():
        w1, b1, w2, b2, w3, b3 = tw
        h1 = (tx @ w1 + b1).tanh()
        h2 = (h1 @ w2 + b2).tanh()
        loss = ((h2 @ w3 + b3 - ty) ** 2).mean()
        for w in tw:
            w.grad = None
        loss.backward()
        out["PyTorch"] = loss

    impls["PyTorch"] = (torch_step, lambda: [_np(out["PyTorch"])] + [_np(w.grad) for w in tw])

    nw = [w.copy() for w in w0]
    grads = []

    def numpy_step():
        w1, b1, w2, b2, w3, b3 = nw
        h1 = np.tanh(x0 @ w1 + b1)
        h2 = np.tanh(h1 @ w2 + b2)
        d = h2 @ w3 + b3 - y0
        out["NumPy"] = (d * d).mean()
        dout = d * (2.0 / d.size)
        dh2 = (dout @ w3.T) * (1.0 - h2 * h2)
        dh1 = (dh2 @ w2.T) * (1.0 - h1 * h1)
        grads[:] = [x0.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ dout, dout.sum(0)]

    impls["NumPy"] = (numpy_step, lambda: [out["NumPy"]] + grads)
    return impls


def make_big_mlp(arrays):
    """784-512-256-10, ReLU, softmax cross-entropy; forward, backward and an SGD update."""
    x0, y0 = arrays["x_big"], arrays["y_big"]
    w0 = arrays["big"]
    impls = {}
    out = {}

    bx, by = _b(x0), bricks.tensor(y0.reshape(-1, 1))
    bw = [_b(w, True) for w in w0]

    def bricks_step():
        w1, b1, w2, b2, w3, b3 = bw
        h1 = (bx @ w1 + b1).relu()
        h2 = (h1 @ w2 + b2).relu()
        logp = (h2 @ w3 + b3).log_softmax(dim=1)
        loss = -logp.gather(1, by).mean()
        for w in bw:
            w.grad = None
        loss.backward()
        with bricks.no_grad():
            for w in bw:
                w.sub_(w.grad, alpha=LR)
        out["bricks"] = loss

    impls["bricks"] = (bricks_step, lambda: [_np(out["bricks"])] + [_np(w) for w in bw])

    tx, ty = _t(x0), torch.tensor(y0.reshape(-1, 1))
    tw = [_t(w, True) for w in w0]

    def torch_step():
        w1, b1, w2, b2, w3, b3 = tw
        h1 = (tx @ w1 + b1).relu()
        h2 = (h1 @ w2 + b2).relu()
        logp = (h2 @ w3 + b3).log_softmax(dim=1)
        loss = -logp.gather(1, ty).mean()
        for w in tw:
            w.grad = None
        loss.backward()
        with torch.no_grad():
            for w in tw:
                w.sub_(w.grad, alpha=LR)
        out["PyTorch"] = loss

    impls["PyTorch"] = (torch_step, lambda: [_np(out["PyTorch"])] + [_np(w) for w in tw])

    nw = [w.copy() for w in w0]
    rows = np.arange(len(y0))

    def numpy_step():
        w1, b1, w2, b2, w3, b3 = nw
        z1 = x0 @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ w3 + b3
        shifted = z3 - z3.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        out["NumPy"] = -logp[rows, y0].mean()
        # d(loss)/d(logits) = (softmax - one_hot) / batch
        dz3 = np.exp(logp)
        dz3[rows, y0] -= 1.0
        dz3 *= 1.0 / len(y0)
        dh2 = dz3 @ w3.T
        dz2 = dh2 * (z2 > 0)
        dh1 = dz2 @ w2.T
        dz1 = dh1 * (z1 > 0)
        grads = (x0.T @ dz1, dz1.sum(0), h1.T @ dz2, dz2.sum(0), h2.T @ dz3, dz3.sum(0))
        for w, g in zip(nw, grads):
            w -= LR * g

    impls["NumPy"] = (numpy_step, lambda: [np.asarray(out["NumPy"])] + nw)
    return impls


WORKLOADS = (
    ("add 4, fwd", lambda arrays: make_add(arrays, backward=False)),
    ("add 4, fwd+bwd", lambda arrays: make_add(arrays, backward=True)),
    ("MLP 2-8-8-1 (16 samples), fwd+bwd", make_tiny_mlp),
    ("MLP 784-512-256-10 (batch 128), SGD step", make_big_mlp),
)


def make_arrays(seed=0):
    """The shared float32 inputs and weights (He-style scaling keeps activations sane)."""
    rng = np.random.default_rng(seed)

    def layer(n_in, n_out):
        w = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        b = rng.standard_normal(n_out) * 0.1
        return [w.astype(np.float32), b.astype(np.float32)]

    f32 = np.float32
    return {
        "a": rng.standard_normal(4).astype(f32),
        "b": rng.standard_normal(4).astype(f32),
        "g": rng.standard_normal(4).astype(f32),
        "x_tiny": rng.standard_normal((16, 2)).astype(f32),
        "y_tiny": rng.standard_normal((16, 1)).astype(f32),
        "tiny": layer(2, 8) + layer(8, 8) + layer(8, 1),
        "x_big": rng.standard_normal((128, 784)).astype(f32),
        "y_big": rng.integers(0, 10, size=128).astype(np.int64),
        "big": layer(784, 512) + layer(512, 256) + layer(256, 10),
    }


# ---------------------------------------------------------------- checking and timing


def check_agreement(name, impls, rtol=1e-4, atol=1e-5):
    """Run one step of each implementation and raise if their results differ."""
    states = {}
    for impl, (step, state) in impls.items():
        step()
        states[impl] = [np.asarray(s, dtype=np.float64) for s in state()]
    ref = states["PyTorch"]
    for impl, values in states.items():
        if len(values) != len(ref):
            raise AssertionError(f"{name}: {impl} returned {len(values)} results, "
                                 f"PyTorch {len(ref)}")
        for i, (got, want) in enumerate(zip(values, ref)):
            if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=atol):
                what = "loss/output" if i == 0 else f"tensor {i}"
                diff = np.abs(got - want).max() if got.shape == want.shape else "shape"
                raise AssertionError(
                    f"{name}: {impl} and PyTorch disagree on {what} "
                    f"(max abs difference {diff}); the benchmark would compare different work"
                )


def measure(steps, budget_s, repeats):
    """Median seconds per call of each step, over ``repeats`` rounds of timed loops.

    The implementations take turns within every round, so a burst of load from elsewhere
    on the machine slows all of them rather than one.
    """
    loops = {}
    for name, step in steps.items():
        start = time.perf_counter()
        calls = 0
        while calls < 3 or time.perf_counter() - start < budget_s * 0.1:
            step()  # warm-up, and a first estimate of the time per call
            calls += 1
        per_call = (time.perf_counter() - start) / calls
        loops[name] = max(1, int(budget_s / repeats / per_call))
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            n = loops[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            times[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(ts) for name, ts in times.items()}


def format_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"


def machine_info():
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")
        blas_info = config["Build Dependencies"]["blas"]
        blas = f"{blas_info['name']} {blas_info.get('version', '')}".strip()
    except Exception:  # older NumPy: no dict mode
        pass
    return [
        f"- Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({platform.platform()})",
        f"- NumPy {np.__version__} (BLAS: {blas}, OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})",
        f"- PyTorch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}",
        f"- bricks {bricks.__version__}, float32",
    ]


def run(quick=False, out=None):
    """Check, time and print every workload; return the markdown table."""
    out = sys.stdout if out is None else out
    budget, repeats = (0.02, 2) if quick else (1.5, 9)
    print("## bricks engine benchmark" + (" (--quick: timings are rough)" if quick else ""),
          file=out)
    print(file=out)
    for line in machine_info():
        print(line, file=out)
    print(file=out)
    rows = ["| workload | implementation | median time / iteration | vs PyTorch |",
            "| --- | --- | ---: | ---: |"]
    for name, make in WORKLOADS:
        impls = make(make_arrays())
        check_agreement(name, impls)
        times = measure({impl: impls[impl][0] for impl in IMPLEMENTATIONS}, budget, repeats)
        for impl in IMPLEMENTATIONS:
            ratio = times[impl] / times["PyTorch"]
            rows.append(f"| {name} | {impl} | {format_time(times[impl])} | {ratio:.2f}× |")
    table = "\n".join(rows)
    print(table, file=out)
    print(file=out)
    print("vs PyTorch: time divided by PyTorch's time in the same run (below 1 is faster).",
          file=out)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a fast smoke run with rough timings")
    parser.add_argument("--torch-threads", type=int, default=TORCH_THREADS, metavar="N",
                        help=f"PyTorch's intra-op threads (default {TORCH_THREADS}); on a "
                             f"busy machine 2 threads can be much slower than 1")
    args = parser.parse_args(argv)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.torch_threads)
    try:
        return run(quick=args.quick)
    finally:
        torch.set_num_threads(previous_threads)


if __name__ == "__main__":
    main()
