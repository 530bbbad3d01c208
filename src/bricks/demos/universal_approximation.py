"""Demo: one hidden layer approximates a smooth and a step function better as it widens.

The universal approximation theorem says a single hidden layer of sigmoid-like units can
come arbitrarily close to any continuous function on a bounded interval, given enough
units; a sum of steep units even builds step functions.  Here ``y = v^T tanh(W x + b) + c``
with 1, 2, 4, 8, 32, 128 hidden units fits

* a smooth function, ``sin(4 pi x)`` on [0, 1] (two periods, four bumps), and
* a step function, a staircase with four levels 0, 1/3, 2/3, 1 (jumps at 1/4, 1/2, 3/4),

on 200 points, by L-BFGS (strong Wolfe line search) in float64.  The error is the mean
squared error on those points.  Each width is fitted twice, from a fresh random start and
from the previous width's fit with new units added (output weight 0, so the start is
exactly the narrower net), and the better fit counts: a wider net can represent everything a
narrower one can, and this keeps the optimizer's bad luck out of the comparison.
"""

from __future__ import annotations

import math
import time

import bricks
from bricks import nn
from bricks.backend import xp
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "universal-approximation"
TITLE = "Universal approximation: one hidden layer, growing width"
CLAIM = ("One hidden layer of tanh units can approximate any continuous function, and even "
         "a step function, as closely as we like: the error falls as the layer widens.")

TARGETS = {
    "smooth: sin(4 pi x)": lambda x: xp.sin(4 * math.pi * x),
    "step: 4-level staircase": lambda x: xp.clip(xp.floor(4 * x), 0, 3) / 3,
}


def _net(width: int, seed: int, previous=None):
    """A 1-width-1 tanh net in float64; hidden units centred at random points of [-1, 1].

    With ``previous`` (a narrower net) its units are copied in and the new units get output
    weight 0, so the new net computes exactly the same function to start with."""
    bricks.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, 1)).double()
    rng = xp.random.default_rng(seed)
    W = rng.normal(0.0, 8.0, (width, 1))  # steep enough to resolve features of the targets
    model[0].weight.data[...] = W
    model[0].bias.data[...] = -W[:, 0] * rng.uniform(-1.0, 1.0, width)
    if previous is not None:
        k = previous[0].weight.shape[0]
        model[0].weight.data[:k] = previous[0].weight.data
        model[0].bias.data[:k] = previous[0].bias.data
        model[2].weight.data[...] = 0.0
        model[2].weight.data[:, :k] = previous[2].weight.data
        model[2].bias.data[...] = previous[2].bias.data
    return model


def _fit(model, X, Y, iterations: int) -> float:
    opt = bricks.optim.LBFGS(model.parameters(), lr=1.0, max_iter=iterations,
                             line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                             tolerance_change=1e-14)
    loss_fn = nn.MSELoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(X), Y)
        loss.backward()
        return loss

    opt.step(closure)
    with bricks.no_grad():
        return loss_fn(model(X), Y).item()


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    widths = [1, 2, 4, 8, 32, 128]
    iterations = 150 if fast else 600
    x = xp.linspace(0.0, 1.0, 200)[:, None]
    X = bricks.tensor(2.0 * x - 1.0)  # inputs centred on [-1, 1]

    results = {}
    for name, f in TARGETS.items():
        Y = bricks.tensor(f(x))
        errors, fits, previous = {}, {}, None
        for width in widths:
            fresh = _net(width, seed=width)
            candidates = [(_fit(fresh, X, Y, iterations), fresh)]
            if previous is not None:
                grown = _net(width, seed=1000 + width, previous=previous)
                candidates.append((_fit(grown, X, Y, iterations), grown))
            err, best = min(candidates, key=lambda c: c[0])
            errors[width], previous = err, best
            with bricks.no_grad():
                fits[width] = best(X).data[:, 0].copy()
        results[name] = {"errors": errors, "fits": fits, "y": f(x)[:, 0]}

    lines = ["one hidden layer of tanh units, 200 points on [0, 1], L-BFGS (strong Wolfe, "
             f"up to {iterations} iterations per fit), float64; MSE on the points "
             "(best of a fresh start and the grown narrower fit):", "",
             f"{'width':>7}" + "".join(f"{name:>26}" for name in TARGETS)]
    for width in widths:
        lines.append(f"{width:>7}" + "".join(f"{r['errors'][width]:>26.3e}"
                                            for r in results.values()))
    figures = _plot(x[:, 0], widths, results, out_dir)
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    smooth, step = (results[name]["errors"] for name in TARGETS)
    checks = {"widths": widths, "smooth_errors": smooth, "step_errors": step}
    return DemoResult(CLAIM, lines, figures, checks)


def _plot(x, widths, results, out_dir):
    fig = new_figure(figsize=(12, 7.5))
    axes = fig.subplots(2, 3)
    shown = [1, 4, max(widths)]
    colors = {1: "tab:red", 4: "tab:orange", max(widths): "tab:blue"}
    for row, (name, r) in enumerate(results.items()):
        for col, width in enumerate(shown):
            ax = axes[row, col]
            ax.plot(x, r["y"], color="black", lw=2, alpha=0.4, label="target")
            ax.plot(x, r["fits"][width], color=colors[width], label=f"width {width}")
            ax.set_title(f"{name}, width {width}: MSE {r['errors'][width]:.1e}", fontsize=9)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.legend(fontsize=8)
    fig.suptitle("One hidden layer of tanh units: fits at widths 1, 4 and "
                 f"{max(widths)}")
    fig.subplots_adjust(hspace=0.35, wspace=0.3)
    path_fits = save_figure(fig, out_dir, "universal_approximation_fits.png")

    fig2 = new_figure(figsize=(6, 4))
    ax = fig2.add_subplot(1, 1, 1)
    for name, r in results.items():
        ax.plot(widths, [max(r["errors"][w], 1e-16) for w in widths], "o-", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden units (width)")
    ax.set_ylabel("mean squared error")
    ax.set_title("Error vs width of the hidden layer")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    return [path_fits, save_figure(fig2, out_dir, "universal_approximation_error.png")]
