"""Demo: a learning rate too small, good, and too large, on the same model.

A small tanh MLP fits 100 noisy samples of ``sin(2 pi x)`` by full-batch SGD with momentum
0.9 from the same initial weights; only the learning rate changes.  Too small a rate
crawls (after hundreds of steps the net still predicts little more than the mean); a good
one reaches the noise floor (noise 0.1, so an MSE near 0.01); too large a rate overshoots
the valley further at every step: the loss grows geometrically until it overflows, which
bricks.train's ``NaNGuard`` detects and stops.  A sweep over rates shows the familiar U:
the best rate sits just below the ones that diverge.
"""

from __future__ import annotations

import math
import time
import warnings

import bricks
from bricks import nn
from bricks.data.datasets import make_regression_1d
from bricks.demos._common import DemoResult, new_figure, save_figure
from bricks.train import NaNGuard, fit

NAME = "learning-rate"
TITLE = "Learning rate: too small, good, too large"
CLAIM = ("The learning rate decides whether gradient descent crawls, converges or diverges: "
         "too small barely moves the loss, a good one reaches the noise floor, too large "
         "overshoots more at every step until the loss explodes.")

RATES = {"too small": 0.0005, "small": 0.005, "good": 0.05, "too large": 0.5}


def _train(X, y, lr: float, steps: int):
    """Full-batch SGD (momentum 0.9) from the seed-0 weights; (losses, diverged, reason)."""
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    opt = bricks.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    guard = NaNGuard()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaNGuard's message: we report it
        history = fit(model, nn.MSELoss(), opt, (X, y), epochs=steps, batch_size=len(X),
                      callbacks=[guard], seed=0, verbose=False, compile=True)
    losses = history["loss"]
    diverged = guard.message is not None or not math.isfinite(losses[-1])
    return losses, diverged, history.stopped_reason


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    X, y = make_regression_1d(100, noise=0.1, seed=0)
    y = y[:, None]
    steps = 300 if fast else 1000
    sweep_rates = ([0.0005, 0.005, 0.05, 0.2, 0.5] if fast else
                   [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5])

    runs = {}
    for label, lr in RATES.items():
        losses, diverged, reason = _train(X, y, lr, steps)
        runs[label] = {"lr": lr, "losses": losses, "diverged": diverged, "reason": reason}
    sweep = {}
    for lr in sweep_rates:
        same = [r for r in runs.values() if r["lr"] == lr]
        losses, diverged = (same[0]["losses"], same[0]["diverged"]) if same else \
            _train(X, y, lr, steps)[:2]
        sweep[lr] = math.inf if diverged else losses[-1]

    lines = [f"tanh MLP 1-32-32-1 on 100 noisy samples of sin(2 pi x) (noise 0.1, so the "
             f"best MSE is about 0.01); full-batch SGD, momentum 0.9, {steps} steps, same "
             f"initial weights.", "",
             f"{'':<11}{'lr':>8}{'loss at 0':>11}{'min loss':>10}{'final loss':>12}  outcome"]
    for label, r in runs.items():
        finite = [v for v in r["losses"] if math.isfinite(v)]
        outcome = (f"diverged at step {len(r['losses'])}" if r["diverged"] else "ran all steps")
        final = r["losses"][-1]
        lines.append(f"{label:<11}{r['lr']:>8g}{r['losses'][0]:>11.4f}{min(finite):>10.4g}"
                     f"{final:>12.4g}  {outcome}")
    if runs["too large"]["reason"]:
        lines += ["", runs["too large"]["reason"]]
    lines += ["", "sweep (final loss after all steps; inf = diverged):",
              "  " + "  ".join(f"{lr:g}: {v:.3g}" for lr, v in sweep.items())]
    figure = _plot(runs, sweep, out_dir)
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    finals = {label: r["losses"][-1] for label, r in runs.items()}
    checks = {
        **{f"final_{k.replace(' ', '_')}": v for k, v in finals.items()},
        "too_large_diverged": runs["too large"]["diverged"],
        "good_diverged": runs["good"]["diverged"],
        "too_small_diverged": runs["too small"]["diverged"],
        "too_large_steps": len(runs["too large"]["losses"]),
        "best_label": min(finals, key=lambda k: finals[k] if math.isfinite(finals[k])
                          else math.inf),
        "best_sweep_rate": min(sweep, key=sweep.get),
        "steps": steps,
    }
    return DemoResult(CLAIM, lines, [figure], checks)


def _plot(runs, sweep, out_dir):
    fig = new_figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    colors = {"too small": "tab:gray", "small": "tab:orange", "good": "tab:green",
              "too large": "tab:red"}
    for label, r in runs.items():
        ax1.plot(range(1, len(r["losses"]) + 1), r["losses"], color=colors[label],
                 label=f"{label}: lr = {r['lr']:g}" + (" (diverged)" if r["diverged"] else ""))
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_ylim(top=1e4)
    ax1.set_xlabel("step (full batch)")
    ax1.set_ylabel("training MSE")
    ax1.set_title("Loss curves")
    ax1.legend()
    ax1.grid(True, alpha=0.3)
    finite = {lr: v for lr, v in sweep.items() if math.isfinite(v)}
    ax2.plot(list(finite), list(finite.values()), "o-", color="tab:blue", label="final loss")
    top = 2 * max(finite.values())
    bad = [lr for lr, v in sweep.items() if not math.isfinite(v)]
    if bad:
        ax2.plot(bad, [top] * len(bad), "x", color="tab:red", ms=10, mew=2, label="diverged")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("learning rate")
    ax2.set_ylabel("training MSE after all steps")
    ax2.set_title("Learning-rate sweep")
    ax2.legend()
    ax2.grid(True, alpha=0.3)
    fig.suptitle("Same model, same start, only the learning rate changes")
    return save_figure(fig, out_dir, "learning_rate.png")
