"""Convolution and recurrence speed: bricks next to PyTorch (and hand NumPy), in one run.

Run: python benchmarks/bench_conv.py            (a few minutes on a quiet machine)
     python benchmarks/bench_conv.py --quick    (a smoke run on small subsets; rough)

Workloads, all float32, 1 BLAS thread and ``torch.set_num_threads(1)``:

- ``conv2d fwd+bwd``: LeNet's second convolution, (64, 6, 14, 14) * (16, 6, 5, 5), forward
  and the gradients of input and weight.  The NumPy column is im2col + GEMM by hand (the
  floor for this method in Python).
- ``LeNet-5 epoch``: one training epoch (SGD, lr 0.05, batch 64) of LeNet-5 (conv 6@5x5 pad 2,
  max pool, conv 16@5x5, max pool, 120-84-10) over the 10,000 bundled MNIST digits.
- ``GRU(64) epoch``: one epoch (Adam, batch 32) of a GRU with 64 hidden units reading the
  4,000 MNIST-1D training signals step by step, classifying from the last hidden state.

Before timing, each workload runs one step of every implementation from the same weights and
compares the loss and the gradients with PyTorch's (rtol 1e-3, atol 1e-4); a difference
stops the script, so a faster number never comes from different work.  Then each is timed
in turns (bricks, PyTorch, bricks, ...) and the table shows the median.  Peak memory: the
largest amount of memory NumPy had allocated (``tracemalloc``) during one bricks LeNet-5
epoch.  The machine may be shared: compare ratios from one run, not times across runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bricks  # noqa: E402
from bricks.data.datasets import load_mnist, load_mnist1d  # noqa: E402

torch.set_num_threads(1)


# ---------------------------------------------------------------- models


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


class _GRUNet:
    """GRU(1 -> 64) over the time steps, the last hidden state into Linear(64, 10)."""

    def __init__(self, lib):
        self.gru = lib.nn.GRU(1, 64, batch_first=True)
        self.head = lib.nn.Linear(64, 10)

    def __call__(self, x):
        _, h = self.gru(x)
        return self.head(h[0])

    def parameters(self):
        return list(self.gru.parameters()) + list(self.head.parameters())

    def named_parameters(self):
        return list(self.gru.named_parameters()) + [
            ("head." + n, p) for n, p in self.head.named_parameters()]


def _copy_torch_into_bricks(tparams, bparams):
    for (_name, t), b in zip(tparams, bparams):
        b.data[...] = t.detach().numpy()


LIBS = {
    "bricks": (bricks, bricks.nn.functional, bricks.optim, bricks.tensor),
    "PyTorch": (torch, torch.nn.functional, torch.optim, torch.from_numpy),
}


def _epoch(model, opt, F, to, X, y, batch):
    for i in range(0, len(X), batch):
        loss = F.cross_entropy(model(to(X[i:i + batch])), to(y[i:i + batch]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss


def _models(kind):
    """(bricks model, torch model) with the same initial weights."""
    torch.manual_seed(0)
    tm = lenet(torch.nn) if kind == "lenet" else _GRUNet(torch)
    bm = lenet(bricks.nn) if kind == "lenet" else _GRUNet(bricks)
    _copy_torch_into_bricks(tm.named_parameters(), bm.parameters())
    return {"bricks": bm, "PyTorch": tm}


def _check_step(kind, X, y, batch):
    """One step from the same weights: equal losses and gradients, or stop."""
    models = _models(kind)
    grads = {}
    for name, (_lib, F, _, to) in LIBS.items():
        m = models[name]
        loss = F.cross_entropy(m(to(X[:batch])), to(y[:batch]))
        loss.backward()
        grads[name] = [float(loss.detach())] + [np.array(p.grad.data if name == "bricks" else
                                                p.grad.numpy()) for p in m.parameters()]
    for i, (a, b) in enumerate(zip(grads["bricks"], grads["PyTorch"])):
        if not np.allclose(a, b, rtol=1e-3, atol=1e-4):
            raise SystemExit(f"bench_conv: {kind}: bricks and PyTorch disagree on "
                             f"{'the loss' if i == 0 else f'gradient {i}'}")


def time_epochs(kind, X, y, batch, repeats, lr):
    _check_step(kind, X, y, batch)
    times = {name: [] for name in LIBS}
    for _ in range(repeats):
        for name, (_lib, F, optim, to) in LIBS.items():
            m = _models(kind)[name]
            opt = (optim.SGD(m.parameters(), lr=lr) if kind == "lenet" else
                   optim.Adam(m.parameters(), lr=lr))
            t0 = time.perf_counter()
            _epoch(m, opt, F, to, X, y, batch)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


# ---------------------------------------------------------------- one convolution


def _numpy_conv_fwd_bwd(x, w, g):
    """conv2d forward and backward by hand: im2col, GEMMs, col2im."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = h - k + 1, wd - k + 1
    s = x.strides
    win = np.lib.stride_tricks.as_strided(x, (n, c, k, k, oh, ow),
                                          (s[0], s[1], s[2], s[3], s[2], s[3]))
    cols = win.reshape(n, c * k * k, oh * ow)
    w2 = w.reshape(o, -1)
    out = w2 @ cols
    gr = g.reshape(n, o, oh * ow)
    gw = (gr @ cols.transpose(0, 2, 1)).sum(0).reshape(w.shape)
    gcols = (w2.T @ gr).reshape(n, c, k, k, oh, ow)
    gx = np.zeros_like(x)
    for i in range(k):
        for j in range(k):
            gx[:, :, i:i + oh, j:j + ow] += gcols[:, :, i, j]
    return out, gx, gw


def time_conv(repeats, loops):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    g = rng.standard_normal((64, 16, 10, 10)).astype(np.float32)
    bx, bw = bricks.tensor(x, requires_grad=True), bricks.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bg, tg = bricks.tensor(g), torch.tensor(g)

    def run_bricks():
        return bricks.grad(bricks.nn.functional.conv2d(bx, bw), [bx, bw], bg)

    def run_torch():
        return torch.autograd.grad(torch.nn.functional.conv2d(tx, tw), [tx, tw], tg)

    def run_numpy():
        return _numpy_conv_fwd_bwd(x, w, g)[1:]

    ref = [a.numpy() for a in run_torch()]
    for name, got in (("bricks", [np.array(a.data) for a in run_bricks()]),
                      ("NumPy", run_numpy())):
        for a, b in zip(got, ref):
            if not np.allclose(a, b, rtol=1e-3, atol=1e-3):
                raise SystemExit(f"bench_conv: conv2d: {name} and PyTorch disagree")
    times = {"bricks": [], "PyTorch": [], "NumPy": []}
    fns = {"bricks": run_bricks, "PyTorch": run_torch, "NumPy": run_numpy}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            times[name].append((time.perf_counter() - t0) / loops)
    return {name: statistics.median(v) for name, v in times.items()}


def peak_memory_lenet_epoch(X, y, batch):
    model = _models("lenet")["bricks"]
    opt = bricks.optim.SGD(model.parameters(), lr=0.05)
    tracemalloc.start()
    tracemalloc.reset_peak()
    _epoch(model, opt, bricks.nn.functional, bricks.tensor, X, y, batch)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


# ---------------------------------------------------------------- report


def _fmt(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def run(quick=False):
    images, labels = load_mnist()
    X = (images.astype(np.float32) / 255.0)[:, None]
    S, s_y = load_mnist1d("train")
    S = S[:, :, None]
    if quick:
        X, labels, S, s_y = X[:256], labels[:256], S[:128], s_y[:128]
    repeats = 1 if quick else 3
    rows = []
    conv = time_conv(repeats, 2 if quick else 20)
    for name in ("bricks", "PyTorch", "NumPy"):
        rows.append(("conv2d (64,6,14,14)*(16,6,5,5) fwd+bwd", name, conv[name],
                     conv[name] / conv["PyTorch"]))
    lenet_t = time_epochs("lenet", X, labels, 64, repeats, 0.05)
    for name in ("bricks", "PyTorch"):
        rows.append((f"LeNet-5 epoch, {len(X)} MNIST digits", name, lenet_t[name],
                     lenet_t[name] / lenet_t["PyTorch"]))
    gru_t = time_epochs("gru", S, s_y, 32, repeats, 1e-3)
    for name in ("bricks", "PyTorch"):
        rows.append((f"GRU(64) epoch, {len(S)} MNIST-1D signals", name, gru_t[name],
                     gru_t[name] / gru_t["PyTorch"]))
    peak = peak_memory_lenet_epoch(X, labels, 64)
    lines = ["| workload | implementation | time | vs PyTorch |", "| --- | --- | --- | --- |"]
    lines += [f"| {w} | {i} | {_fmt(t)} | {r:.2f}× |" for w, i, t, r in rows]
    table = "\n".join(lines)
    print(f"bricks {bricks.__version__ if hasattr(bricks, '__version__') else ''} vs PyTorch "
          f"{torch.__version__}, NumPy {np.__version__}, Python {platform.python_version()}, "
          f"1 thread")
    print(table)
    print(f"\npeak NumPy memory during one bricks LeNet-5 epoch (batch 64): "
          f"{peak / 2**20:.1f} MiB (tracemalloc)")
    return table, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small subsets and one repeat: a smoke run, rough timings")
    args = parser.parse_args(argv)
    table, _ = run(args.quick)
    return table


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
