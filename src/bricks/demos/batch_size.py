"""Demo: the noise of small mini-batches.

A mini-batch gradient is the mean of B per-sample gradients, an estimate of the full-batch
gradient ``g``.  Drawn with replacement, its error has covariance ``Sigma / B`` (``Sigma``
the covariance of the per-sample gradients), so ``E |g_B - g|^2 = tr(Sigma) / B``: halving
the noise's spread costs four times the batch.  (Without replacement, as an epoch of a
DataLoader draws, it is smaller by ``(N - B) / (N - 1)`` and vanishes at B = N.)

The demo computes every per-sample gradient of a small tanh MLP with bricks' autograd
(checking that their mean equals the gradient of a real mini-batch), measures the
variance for B = 1 ... 256 from many random batches and fits the slope on log-log axes.
Then it trains the same model with SGD at several batch sizes for the same number of steps:
B = 1 zig-zags, the full batch glides.
"""

from __future__ import annotations

import math
import time

import bricks
from bricks import nn
from bricks.backend import xp
from bricks.data.datasets import make_regression_1d
from bricks.demos._common import DemoResult, compiled_loss, compiled_step, new_figure, save_figure

NAME = "batch-size"
TITLE = "Batch size: the gradient noise of small mini-batches"
CLAIM = ("A mini-batch gradient is a noisy estimate of the full gradient whose variance "
         "falls like 1/B: small batches give cheap but noisy steps and jagged loss curves, "
         "large batches smooth ones.")


def _model():
    return nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 1))


def _flat_grad(model):
    return xp.concatenate([p.grad.data.ravel() for p in model.parameters()])


def per_sample_gradients(model, X, y):
    """``(N, P)``: the gradient of each sample's squared error (one backward per sample)."""
    loss_fn = nn.MSELoss()
    rows = []
    for i in range(len(X)):
        model.zero_grad()
        loss_fn(model(bricks.tensor(X[i:i + 1])), bricks.tensor(y[i:i + 1])).backward()
        rows.append(_flat_grad(model).astype(xp.float64))
    return xp.stack(rows)


def batch_gradient_variance(G, batch_size: int, draws: int, rng, replace: bool = True):
    """Mean of ``|g_B - g|^2`` over ``draws`` random batches of the rows of ``G``."""
    g = G.mean(0)
    total, done = 0.0, 0
    while done < draws:
        k = min(64, draws - done)
        if replace:
            idx = rng.integers(0, len(G), size=(k, batch_size))
        else:
            idx = xp.stack([rng.choice(len(G), batch_size, replace=False) for _ in range(k)])
        total += float(((G[idx].mean(1) - g) ** 2).sum())
        done += k
    return total / draws


def _sgd(X, y, batch_size: int, steps: int, lr: float, seed: int = 0):
    """SGD from the seed-0 weights; the full training loss after every step."""
    bricks.manual_seed(0)
    model = _model()
    opt = bricks.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    rng = xp.random.default_rng(seed)
    Xt, yt = bricks.tensor(X), bricks.tensor(y)
    step, full_loss = compiled_step(model, loss_fn, opt), compiled_loss(model, loss_fn)
    losses = []
    for _ in range(steps):
        idx = rng.choice(len(X), batch_size, replace=False)
        step(bricks.tensor(X[idx]), bricks.tensor(y[idx]))
        losses.append(full_loss(Xt, yt).item())
    return losses


def _roughness(losses):
    """Mean |change of log loss| per step over the second half: how jagged the curve is."""
    tail = [math.log(v) for v in losses[len(losses) // 2:]]
    return sum(abs(b - a) for a, b in zip(tail, tail[1:])) / (len(tail) - 1)


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    n = 256 if fast else 512
    X, y = make_regression_1d(n, noise=0.1, seed=0)
    y = y[:, None]
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    draws = 200 if fast else 1000
    train_sizes = [1, 4, 32, n]
    steps = 200 if fast else 600

    # Per-sample gradients at the initial weights; check against a real mini-batch.
    bricks.manual_seed(0)
    model = _model()
    G = per_sample_gradients(model, X, y)
    rng = xp.random.default_rng(1)
    idx = rng.choice(n, 16, replace=False)
    model.zero_grad()
    nn.MSELoss()(model(bricks.tensor(X[idx])), bricks.tensor(y[idx])).backward()
    batch_check = float(xp.abs(_flat_grad(model) - G[idx].mean(0)).max())

    trace = float(G.var(0).sum())  # tr(Sigma), per-sample gradient covariance
    with_repl = {b: batch_gradient_variance(G, b, draws, rng) for b in sizes}
    without = {b: batch_gradient_variance(G, b, draws, rng, replace=False) for b in sizes}
    logb = [math.log(b) for b in sizes]
    logv = [math.log(with_repl[b]) for b in sizes]
    mb, mv = sum(logb) / len(logb), sum(logv) / len(logv)
    slope = (sum((a - mb) * (c - mv) for a, c in zip(logb, logv))
             / sum((a - mb) ** 2 for a in logb))

    curves = {b: _sgd(X, y, b, steps, lr=0.05) for b in train_sizes}
    rough = {b: _roughness(c) for b, c in curves.items()}

    lines = [f"tanh MLP 1-32-32-1, {n} noisy samples of sin(2 pi x), {G.shape[1]} "
             f"parameters; gradients at the initial weights, {draws} random batches per size.",
             f"mean of per-sample gradients vs bricks' gradient of the same batch of 16: max "
             f"|diff| = {batch_check:.1e}", "",
             f"{'B':>5}{'E|g_B - g|^2':>15}{'tr(Sigma)/B':>13}{'without repl.':>15}"
             f"{'theory':>10}"]
    for b in sizes:
        lines.append(f"{b:>5}{with_repl[b]:>15.4g}{trace / b:>13.4g}{without[b]:>15.4g}"
                     f"{trace / b * (n - b) / (n - 1):>10.4g}")
    lines += ["", f"log-log slope of the variance vs B (with replacement): {slope:.3f} "
                  f"(theory -1)", "",
              f"SGD, lr 0.05, {steps} steps; full training loss after each step:",
              f"{'B':>5}{'final loss':>12}{'roughness':>11}  (mean |d log loss| per step, "
              f"second half)"]
    for b in train_sizes:
        lines.append(f"{b:>5}{curves[b][-1]:>12.4f}{rough[b]:>11.4f}")
    figure = _plot(sizes, with_repl, without, trace, n, curves, out_dir)
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    checks = {
        "slope": slope,
        "variance": with_repl,
        "variance_without_replacement": without,
        "trace": trace,
        "batch_gradient_max_diff": batch_check,
        "roughness": rough,
        "final_loss": {b: c[-1] for b, c in curves.items()},
        "n": n,
    }
    return DemoResult(CLAIM, lines, [figure], checks)


def _plot(sizes, with_repl, without, trace, n, curves, out_dir):
    fig = new_figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    fig.subplots_adjust(wspace=0.3)
    ax1.plot(sizes, [with_repl[b] for b in sizes], "o", color="tab:blue",
             label="measured, with replacement")
    ax1.plot(sizes, [without[b] for b in sizes], "s", color="tab:orange", mfc="none",
             label="measured, without replacement")
    ax1.plot(sizes, [trace / b for b in sizes], "-", color="tab:blue", lw=1,
             label="tr(Sigma) / B")
    ax1.plot(sizes, [trace / b * (n - b) / (n - 1) for b in sizes], "--", color="tab:orange",
             lw=1, label="tr(Sigma) / B * (N - B) / (N - 1)")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("batch size B")
    ax1.set_ylabel("E |g_B - g|^2")
    ax1.set_title("Variance of the mini-batch gradient")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    colors = ["tab:red", "tab:orange", "tab:green", "tab:blue"]
    for color, (b, c) in zip(colors, curves.items()):
        ax2.plot(range(1, len(c) + 1), c, color=color, lw=1,
                 label=f"B = {b}" + (" (full batch)" if b == n else ""))
    ax2.set_yscale("log")
    ax2.set_xlabel("SGD step (lr 0.05)")
    ax2.set_ylabel("training MSE (all samples)")
    ax2.set_title("Loss curves: noisy for small B, smooth for large B")
    ax2.legend()
    ax2.grid(True, alpha=0.3)
    return save_figure(fig, out_dir, "batch_size.png")
