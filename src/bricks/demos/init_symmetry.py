"""Zero initialization never breaks the symmetry between hidden units; random init does.

If every weight starts at zero, all hidden units of a layer compute the same function, so
they receive the same gradient and take the same step: after any number of steps they are
still copies of one another, and a layer of ``h`` units is worth one unit.  (With sigmoid
units, as here, the net does learn, just as a one-unit net; with tanh or ReLU units and
zero weights every gradient into the hidden layer is 0 and nothing but the output bias
moves at all.)  Random initialization makes the units differ from the start, and the
layer uses all of them.  The demo trains the same 2-8-1 sigmoid MLP both ways on the
playground's "circle", which no single unit can separate.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.data import datasets
from bricks.demos._common import DemoResult, compiled_step, new_figure, save_figure

NAME = "init-symmetry"
TITLE = "Zero initialization keeps hidden units identical; random init breaks the symmetry"
CLAIM = ("With all weights initialized to zero every hidden unit gets the same gradient, so "
         "after training all hidden units are still identical (their incoming weights differ "
         "by exactly 0) and the net is no better than one unit: it cannot fit a nonlinear "
         "task. Random initialization breaks the symmetry, the units differ, and it fits.")

HIDDEN = 8


def _net(init: str, unit=nn.Sigmoid) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(2, HIDDEN), unit(), nn.Linear(HIDDEN, 1))
    if init == "zeros":
        for p in net.parameters():
            nn.init.zeros_(p)
    return net


def _hidden_weights(net):
    """Each hidden unit's incoming weights and bias, one row per unit: (HIDDEN, 3)."""
    W, b = to_numpy(net[0].weight.data), to_numpy(net[0].bias.data)
    return xp.concatenate([W, b[:, None]], axis=1)


def _max_pairwise_difference(rows) -> float:
    return float(abs(rows[:, None, :] - rows[None, :, :]).max())


def _train(init: str, X, y, steps: int, lr: float, unit=nn.Sigmoid):
    bricks.manual_seed(0)
    net = _net(init, unit)
    Xt = bricks.tensor(X)
    yt = bricks.tensor(y.reshape(-1, 1).astype(xp.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    opt = bricks.optim.Adam(net.parameters(), lr=lr)
    step = compiled_step(net, loss_fn, opt)
    losses = [float(step(Xt, yt)) for _ in range(steps)]
    with bricks.no_grad():
        logits = to_numpy(net(Xt).data).ravel()
        losses.append(float(loss_fn(net(Xt), yt)))
    acc = float(((logits > 0) == (y == 1)).mean())
    return net, losses, acc


def _draw_regions(ax, net, X, y, title):
    lim = float(abs(X).max()) * 1.1
    grid = xp.linspace(-lim, lim, 161)
    gx, gy = xp.meshgrid(grid, grid)
    pts = xp.stack([gx.ravel(), gy.ravel()], axis=1).astype(xp.float32)
    with bricks.no_grad():
        z = to_numpy(net(bricks.tensor(pts)).data).reshape(gx.shape)
    prob = 1.0 / (1.0 + xp.exp(-z))
    ax.contourf(gx, gy, prob, levels=xp.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.75)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1.2)
    for label, color in ((0, "tab:blue"), (1, "tab:red")):
        sel = y == label
        ax.scatter(X[sel, 0], X[sel, 1], s=12, c=color, edgecolors="k", linewidths=0.3,
                   label=f"class {label}")
    ax.set_xlabel("$x_1$ (standardized)")
    ax.set_ylabel("$x_2$ (standardized)")
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower right")


def run(out_dir, fast: bool = False) -> DemoResult:
    """Train a 2-8-1 sigmoid MLP from zero and from random weights; compare the units."""
    start = time.perf_counter()
    steps = 300 if fast else 1500
    lr = 0.05
    X, y = datasets.make_circle(200 if fast else 400, seed=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(xp.float32)

    runs = {init: _train(init, X, y, steps, lr) for init in ("zeros", "random")}
    weights = {init: _hidden_weights(r[0]) for init, r in runs.items()}
    spread = {init: _max_pairwise_difference(w) for init, w in weights.items()}
    out_w = {init: to_numpy(r[0][2].weight.data).ravel() for init, r in runs.items()}
    out_spread = {init: float(w.max() - w.min()) for init, w in out_w.items()}

    lines = [f"playground 'circle' ({len(y)} points), MLP 2-{HIDDEN}-1 with sigmoid hidden "
             f"units, BCE loss, full-batch Adam (lr {lr}), {steps} steps:",
             f"  {'init':<8}{'final loss':>12}{'accuracy':>10}"
             f"{'max |w_i - w_j| (hidden in)':>30}{'spread of output w':>21}"]
    for init, (_, losses, acc) in runs.items():
        lines.append(f"  {init:<8}{losses[-1]:>12.4f}{acc:>10.1%}{spread[init]:>30.3g}"
                     f"{out_spread[init]:>21.3g}")
    tanh_net = _train("zeros", X, y, steps, lr, unit=nn.Tanh)[0]
    tanh_moved = float(abs(_hidden_weights(tanh_net)).max())
    lines.append(f"  (tanh units from zeros: tanh(0) = 0 and the output weights are 0, so no "
                 f"gradient reaches the hidden layer; max |hidden weight| after training = "
                 f"{tanh_moved:g})")
    lines += ["", "hidden units' incoming weights (w1, w2, bias) after training:"]
    for init in ("zeros", "random"):
        lines.append(f"  {init}:")
        lines += [f"    unit {i + 1}: " + "  ".join(f"{v:+8.4f}" for v in row)
                  for i, row in enumerate(weights[init])]

    fig = new_figure(figsize=(12, 10), layout="constrained")
    ax_loss, ax_w = fig.add_subplot(2, 2, 1), fig.add_subplot(2, 2, 2)
    colors = {"zeros": "tab:red", "random": "tab:green"}
    for init, (_, losses, acc) in runs.items():
        ax_loss.plot(losses, color=colors[init], label=f"{init} init (accuracy {acc:.0%})")
    ax_loss.set_xlabel("Adam step")
    ax_loss.set_ylabel("training loss (BCE)")
    ax_loss.set_title("Loss: zero init learns only what one unit can")
    ax_loss.set_ylim(bottom=0)
    ax_loss.grid(True, alpha=0.3)
    ax_loss.legend()
    for init, marker, size in (("random", "o", 60), ("zeros", "*", 260)):
        w = weights[init]
        ax_w.scatter(w[:, 0], w[:, 1], marker=marker, s=size, color=colors[init],
                     edgecolors="k", label=f"{init} init: {HIDDEN} units, "
                     f"max |w_i - w_j| = {spread[init]:.3g}", zorder=3)
    z = weights["zeros"][0]
    ax_w.annotate(f"all {HIDDEN} units\nat one point", (z[0], z[1]), textcoords="offset points",
                  xytext=(-110, -40), fontsize=9, arrowprops=dict(arrowstyle="->"))
    ax_w.axhline(0, color="0.8", lw=0.8)
    ax_w.axvline(0, color="0.8", lw=0.8)
    ax_w.set_xlabel("incoming weight from $x_1$")
    ax_w.set_ylabel("incoming weight from $x_2$")
    ax_w.set_title("Hidden units' incoming weights after training")
    ax_w.legend(fontsize=8)
    _draw_regions(fig.add_subplot(2, 2, 3), runs["zeros"][0], X, y,
                  f"zero init: accuracy {runs['zeros'][2]:.0%} (8 copies of one unit)")
    _draw_regions(fig.add_subplot(2, 2, 4), runs["random"][0], X, y,
                  f"random init: accuracy {runs['random'][2]:.0%}")
    figures = [save_figure(fig, out_dir, "init_symmetry.png")]

    seconds = time.perf_counter() - start
    lines.append(f"\n({seconds:.1f} s)")
    checks = {
        "zeros_hidden_max_difference": spread["zeros"],
        "zeros_output_weight_spread": out_spread["zeros"],
        "random_hidden_max_difference": spread["random"],
        "zeros_hidden_weight_norm": float(abs(weights["zeros"]).max()),
        "tanh_zeros_hidden_weight_max": tanh_moved,
        "zeros_accuracy": runs["zeros"][2],
        "random_accuracy": runs["random"][2],
        "zeros_final_loss": runs["zeros"][1][-1],
        "random_final_loss": runs["random"][1][-1],
        "seconds": seconds,
    }
    return DemoResult(CLAIM, lines, figures, checks)
