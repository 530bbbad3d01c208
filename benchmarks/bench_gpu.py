"""Training on a GPU: bricks on CUDA (CuPy) vs PyTorch on CUDA vs bricks on the CPU.

Run: python benchmarks/bench_gpu.py            (one epoch of 60,000 MNIST-shaped samples)
     python benchmarks/bench_gpu.py --quick    (6,000 samples, a smoke run)

Workloads, each one epoch of random MNIST-shaped data (28x28, 10 classes), float32, SGD with
momentum 0.9 (lr 0.01), softmax cross-entropy:

- ``MLP 784-512-256-10, batch 128``: ReLU network.
- ``CNN, batch 64``: Conv2d(1, 16, 3, padding 1) - ReLU - MaxPool2d(2) - Conv2d(16, 32, 3,
  padding 1) - ReLU - MaxPool2d(2) - Flatten - Linear(1568, 10).

The data lives on the device before timing (one transfer, as a GPU training loop that keeps
its dataset in GPU memory does); every timed epoch ends with a device synchronization, so
the time covers all queued work.  Before timing, bricks on the GPU runs one step from the
same weights and batch as bricks on the CPU and the script stops if the loss or the updated
weights differ by more than 1e-4 relative (cuBLAS and OpenBLAS sum in different orders).

Without a GPU (or without CuPy, or without a CUDA build of PyTorch) the script says so and
exits with status 0 without printing a table: it never invents numbers.  The machine this
project was developed on has no GPU; no GPU number in this repository was measured yet.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import bricks  # noqa: E402
from bricks import nn, optim  # noqa: E402

LR, MOMENTUM = 0.01, 0.9
N_FULL, N_QUICK = 60_000, 6_000


def gpu_missing() -> str | None:
    """Why the GPU rows cannot run here, or None when they can."""
    if not bricks.cuda.is_available():
        if bricks.backend.device_type("cuda") is None:
            return "CuPy is not installed (pip install 'bricks[gpu]')"
        return "CuPy sees no GPU (no NVIDIA GPU or driver on this machine)"
    return None


def torch_cuda():
    """The torch module when it has CUDA, else None (the PyTorch row is then skipped)."""
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


# ---------------------------------------------------------------- models


def bricks_mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def bricks_cnn():
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def torch_model(torch, bricks_model):
    """The PyTorch twin of a bricks Sequential, with its weights copied."""
    tnn = torch.nn
    layers = []
    for m in bricks_model:
        if isinstance(m, nn.Linear):
            t = tnn.Linear(m.in_features, m.out_features)
        elif isinstance(m, nn.Conv2d):
            t = tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding)
        elif isinstance(m, nn.ReLU):
            t = tnn.ReLU()
        elif isinstance(m, nn.MaxPool2d):
            t = tnn.MaxPool2d(2)
        else:
            t = tnn.Flatten()
        for name, p in m.named_parameters():
            getattr(t, name).data = torch.from_numpy(p.detach().cpu().numpy().copy())
        layers.append(t)
    return tnn.Sequential(*layers)


WORKLOADS = [("MLP 784-512-256-10, batch 128", bricks_mlp, (784,), 128),
             ("CNN 2 conv + linear, batch 64", bricks_cnn, (1, 28, 28), 64)]


# ---------------------------------------------------------------- timing


def data(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n,) + shape).astype(np.float32),
            rng.integers(0, 10, n).astype(np.int64))


def epoch(model, x, y, batch, opt, loss_fn, sync):
    """One timed epoch; bricks and PyTorch share the API (zero_grad, backward, step)."""
    start = time.perf_counter()
    for i in range(0, x.shape[0], batch):
        opt.zero_grad()
        loss = loss_fn(model(x[i:i + batch]), y[i:i + batch])
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - start


def bricks_epoch(model, x, y, batch, sync):
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return epoch(model, x, y, batch, opt, nn.CrossEntropyLoss(), sync)


def torch_epoch(torch, model, x, y, batch):
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return epoch(model, x, y, batch, opt, torch.nn.CrossEntropyLoss(), torch.cuda.synchronize)


def check_one_step(make, shape, batch):
    """bricks on the GPU and on the CPU take the same first step (to 1e-4)."""
    x, y = data(batch, shape, seed=1)
    results = []
    for device in ("cpu", "cuda"):
        bricks.manual_seed(0)
        model = make().to(device)
        opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        loss = nn.functional.cross_entropy(model(bricks.tensor(x, device=device)),
                                           bricks.tensor(y, device=device))
        loss.backward()
        opt.step()
        results.append([loss.item()] + [p.detach().cpu().numpy() for p in model.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6,
                                   err_msg="bricks on the GPU differs from bricks on the CPU")


def main(argv=None) -> str | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 samples per epoch")
    args = parser.parse_args(argv)
    reason = gpu_missing()
    if reason is not None:
        print(f"bench_gpu: skipped, no GPU to measure: {reason}. No numbers are reported.")
        return None
    torch = torch_cuda()
    n = N_QUICK if args.quick else N_FULL
    rows = ["| work | implementation | epoch time | vs PyTorch CUDA | vs bricks CPU |",
            "|---|---|---:|---:|---:|"]
    for name, make, shape, batch in WORKLOADS:
        check_one_step(make, shape, batch)
        x, y = data(n, shape)
        times = {}
        bricks.manual_seed(0)
        model = make()
        cpu_model = make()
        cpu_model.load_state_dict(model.state_dict())
        if torch is not None:
            tmodel = torch_model(torch, model).cuda()
            tx, ty = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
            torch_epoch(torch, tmodel, tx[:batch * 2], ty[:batch * 2], batch)  # warm-up
            times["PyTorch CUDA"] = torch_epoch(torch, tmodel, tx, ty, batch)
        model.cuda()
        gx, gy = bricks.tensor(x, device="cuda"), bricks.tensor(y, device="cuda")
        bricks_epoch(model, gx[:batch * 2], gy[:batch * 2], batch, bricks.cuda.synchronize)
        times["bricks CUDA"] = bricks_epoch(model, gx, gy, batch, bricks.cuda.synchronize)
        times["bricks CPU"] = bricks_epoch(cpu_model, bricks.tensor(x), bricks.tensor(y),
                                           batch, lambda: None)
        for impl, t in times.items():
            vs_torch = (f"{t / times['PyTorch CUDA']:.2f}×" if "PyTorch CUDA" in times
                        else "-")
            rows.append(f"| {name} | {impl} | {t:.2f} s | {vs_torch} | "
                        f"{t / times['bricks CPU']:.2f}× |")
    head = (f"bricks {bricks.__version__}, {n} samples per epoch, float32; one run: compare "
            f"ratios, not times" + ("" if torch is not None else
                                    "; PyTorch has no CUDA here, its row is left out"))
    table = "\n".join(rows)
    print(head)
    print(table)
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
