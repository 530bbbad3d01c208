"""Two linear layers are one linear layer: without a nonlinearity depth buys nothing.

``Linear(2, h)`` followed by ``Linear(h, 1)`` computes ``W2 (W1 x + b1) + b2``, which is
``W x + b`` with ``W = W2 W1`` and ``b = W2 b1 + b2``: one linear layer.  The demo checks
the equality numerically (float32 and float64), then trains both the stacked linear net and
the same net with a tanh between the layers on the four points of XOR.  The linear one
never gets more than 3 of the 4 points right (no line separates XOR); the nonlinear one
gets all 4.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.demos._common import DemoResult, compiled_step, new_figure, save_figure

NAME = "linear-collapse"
TITLE = "Stacked linear layers collapse into one; a nonlinearity learns XOR"
CLAIM = ("Two stacked linear layers without an activation equal ONE linear layer whose matrix "
         "is the product of theirs (W = W2 W1, b = W2 b1 + b2), so they cannot learn XOR "
         "(at most 3 of 4 points, 75%). A nonlinearity between them breaks the equality and "
         "learns XOR (100%).")

# the truth table of XOR
X_XOR = xp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = xp.array([0.0, 1.0, 1.0, 0.0])
HIDDEN = 8


def _net(nonlinear: bool, dtype) -> nn.Sequential:
    middle = nn.Tanh() if nonlinear else nn.Identity()
    return nn.Sequential(nn.Linear(2, HIDDEN, dtype=dtype), middle,
                         nn.Linear(HIDDEN, 1, dtype=dtype))


def _collapsed(net: nn.Sequential):
    """The single layer's (W, b) from the two layers: W = W2 W1, b = W2 b1 + b2."""
    W1, b1 = to_numpy(net[0].weight.data), to_numpy(net[0].bias.data)
    W2, b2 = to_numpy(net[2].weight.data), to_numpy(net[2].bias.data)
    return W2 @ W1, W2 @ b1 + b2


def _collapse_gap(net: nn.Sequential, X) -> float:
    """max |net(x) - (W x + b)| over the rows of X, with (W, b) from :func:`_collapsed`."""
    W, b = _collapsed(net)
    with bricks.no_grad():
        out = to_numpy(net(bricks.tensor(X, dtype=net[0].weight.dtype)).data)
    single = X.astype(W.dtype) @ W.T + b
    return float(abs(out - single).max())


def _train_xor(nonlinear: bool, seed: int, steps: int, lr: float = 0.05):
    """Full-batch Adam on the XOR table; returns (net, best accuracy seen, final accuracy)."""
    bricks.manual_seed(seed)
    net = _net(nonlinear, bricks.float32)
    X = bricks.tensor(X_XOR, dtype=bricks.float32)
    y = bricks.tensor(Y_XOR.reshape(-1, 1), dtype=bricks.float32)
    loss_fn = nn.BCEWithLogitsLoss()
    opt = bricks.optim.Adam(net.parameters(), lr=lr)
    step = compiled_step(net, loss_fn, opt, outputs=True)
    best = 0.0
    for _ in range(steps):
        _, logits = step(X, y)
        acc = float(((to_numpy(logits.data).ravel() > 0) == (Y_XOR > 0.5)).mean())
        best = max(best, acc)
    with bricks.no_grad():
        final = float(((to_numpy(net(X).data).ravel() > 0) == (Y_XOR > 0.5)).mean())
    return net, max(best, final), final


def _draw_regions(ax, net, title):
    grid = xp.linspace(-0.5, 1.5, 201)
    gx, gy = xp.meshgrid(grid, grid)
    pts = xp.stack([gx.ravel(), gy.ravel()], axis=1)
    with bricks.no_grad():
        z = to_numpy(net(bricks.tensor(pts, dtype=bricks.float32)).data).reshape(gx.shape)
    prob = 1.0 / (1.0 + xp.exp(-z))
    cs = ax.contourf(gx, gy, prob, levels=xp.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1.5)
    for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
        sel = Y_XOR == label
        ax.scatter(X_XOR[sel, 0], X_XOR[sel, 1], marker=marker, s=120, c=color,
                   edgecolors="k", label=f"XOR = {label}", zorder=3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    ax.set_aspect("equal")
    return cs


def run(out_dir, fast: bool = False) -> DemoResult:
    """Check the collapse numerically, train both nets on XOR, draw their decision regions."""
    start = time.perf_counter()
    seeds = range(3) if fast else range(10)
    steps = 300 if fast else 1000
    lines = []

    # 1. the equality, on random inputs, right at initialization
    rng = xp.random.default_rng(0)
    X_test = rng.normal(size=(1000, 2)) * 3
    gaps = {}
    for dtype, name in ((bricks.float32, "float32"), (bricks.float64, "float64")):
        bricks.manual_seed(0)
        gaps[name] = _collapse_gap(_net(False, dtype), X_test)
    bricks.manual_seed(0)
    gap_tanh = _collapse_gap(_net(True, bricks.float64), X_test)
    lines += ["max |two linear layers(x) - one layer with W = W2 W1, b = W2 b1 + b2 (x)| "
              "over 1000 random x:",
              f"  float32: {gaps['float32']:.2e}    float64: {gaps['float64']:.2e}",
              f"  with tanh between the layers (float64): {gap_tanh:.2e}  (no single layer)",
              ""]

    # 2. training on XOR
    runs = {False: [], True: []}
    for nonlinear in (False, True):
        for seed in seeds:
            runs[nonlinear].append(_train_xor(nonlinear, seed, steps))
    best_linear = max(r[1] for r in runs[False])
    final_tanh = [r[2] for r in runs[True]]
    trained_gap = max(_collapse_gap(r[0], X_test.astype(xp.float32)) for r in runs[False])
    lines += [f"XOR, full-batch Adam (lr 0.05), {steps} steps, {len(seeds)} seeds:",
              f"  {'network':<28}{'best accuracy seen':>20}{'final accuracy (min..max)':>28}",
              f"  {'Linear-Linear':<28}{best_linear:>20.0%}"
              f"{min(r[2] for r in runs[False]):>19.0%} .. {max(r[2] for r in runs[False]):.0%}",
              f"  {'Linear-Tanh-Linear':<28}{max(r[1] for r in runs[True]):>20.0%}"
              f"{min(final_tanh):>19.0%} .. {max(final_tanh):.0%}",
              f"  after training the linear net still equals one layer: max gap "
              f"{trained_gap:.2e} (float32)"]

    # 3. the figure: the decision regions of the first seed's nets
    with bricks.no_grad():
        lin_z = to_numpy(runs[False][0][0](bricks.tensor(X_XOR, dtype=bricks.float32)).data)
    lin_p = 1.0 / (1.0 + xp.exp(-lin_z.ravel()))
    fig = new_figure(figsize=(10, 4.4), layout="constrained")
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _draw_regions(ax1, runs[False][0][0],
                  f"Linear-Linear: accuracy {runs[False][0][2]:.0%}\n"
                  f"(best linear fit: P = {lin_p.min():.2f}..{lin_p.max():.2f} on the 4 points)")
    cs = _draw_regions(ax2, runs[True][0][0],
                       f"Linear-Tanh-Linear: accuracy {runs[True][0][2]:.0%}\n")
    ax2.legend(loc="upper center", fontsize=8, framealpha=0.9)
    cbar = fig.colorbar(cs, ax=[ax1, ax2], shrink=0.85)
    cbar.set_label("P(XOR = 1)")
    fig.suptitle("XOR decision regions (black line: P = 0.5)")
    figures = [save_figure(fig, out_dir, "linear_collapse_xor.png")]

    seconds = time.perf_counter() - start
    lines.append(f"\n({seconds:.1f} s)")
    checks = {
        "collapse_gap_float32": gaps["float32"],
        "collapse_gap_float64": gaps["float64"],
        "collapse_gap_tanh": gap_tanh,
        "collapse_gap_after_training": trained_gap,
        "linear_best_accuracy": best_linear,
        "tanh_min_final_accuracy": min(final_tanh),
        "seconds": seconds,
    }
    return DemoResult(CLAIM, lines, figures, checks)
