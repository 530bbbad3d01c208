"""McCulloch-Pitts neurons compute AND, OR and NOT; one neuron cannot compute XOR.

A threshold neuron ``y = [w1 x1 + w2 x2 - theta > 0]`` splits the input square with one
straight line.  The demo prints the truth tables of the lecture's gates, searches a grid of
weights and thresholds (and trains Rosenblatt's perceptron) for the best single neuron on
XOR, which gets 3 of 4 rows (75%), and shows the two fixes of the lecture: the extra input
x1 x2, and a second layer ``(x1 OR x2) AND NOT(x1 AND x2)``, both 100%.
"""

from __future__ import annotations

import itertools
import time

from bricks.backend import xp
from bricks.classic import McCullochPitts, Perceptron, gates
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "gates"
TITLE = "McCulloch-Pitts gates: AND, OR, NOT, and why XOR needs more"
CLAIM = ("A McCulloch-Pitts neuron computes AND (x1 + x2 - 3/2 > 0), OR (x1 + x2 - 1/2 > 0) and "
         "NOT (-x1 + 1/2 > 0), but no single neuron computes XOR: the best gets 3 of 4 rows "
         "(75%). The nonlinear feature x1*x2, or a second layer of neurons, computes it (100%).")

INPUTS = xp.array(list(itertools.product((0, 1), repeat=2)))
XOR = xp.array([0, 1, 1, 0])


def _table_lines(name, fn, n_inputs):
    table = gates.truth_table(fn, n_inputs)
    head = " ".join(f"x{i + 1}" for i in range(n_inputs))
    rows = [" ".join(f"{v:>2}" for v in row[:-1]) + f" | {row[-1]}" for row in table]
    return [f"{name}  ({fn!r})", f"  {head} | y"] + [f"  {r}" for r in rows], table


def _best_single_neuron(steps: int):
    """Exhaustive search of w1, w2, theta on a grid: the best accuracy on XOR."""
    grid = xp.linspace(-2.0, 2.0, steps)
    best, best_params = 0.0, None
    for w1, w2, theta in itertools.product(grid, grid, grid):
        acc = float((McCullochPitts([w1, w2], theta)(INPUTS[:, 0], INPUTS[:, 1]) == XOR).mean())
        if acc > best:
            best, best_params = acc, (float(w1), float(w2), float(theta))
    return best, best_params


def _draw(ax, title, neuron=None, fn=None, target=None):
    grid = xp.linspace(-0.25, 1.25, 151)
    gx, gy = xp.meshgrid(grid, grid)
    if fn is not None:
        z = fn(gx.ravel(), gy.ravel()).reshape(gx.shape)
        ax.contourf(gx, gy, z, levels=[-0.5, 0.5, 1.5], colors=["#dbe8f5", "#f7d9d4"])
    if neuron is not None:
        w1, w2 = neuron.weights
        if abs(w2) > 1e-12:
            ax.plot(grid, (neuron.threshold - w1 * grid) / w2, "k-", lw=1.5)
        else:
            ax.axvline(neuron.threshold / w1, color="k", lw=1.5)
    if target is None:
        target = fn(INPUTS[:, 0], INPUTS[:, 1])
    for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
        sel = target == label
        ax.scatter(INPUTS[sel, 0], INPUTS[sel, 1], marker=marker, s=110, c=color,
                   edgecolors="k", zorder=3, label=f"y = {label}")
    ax.set_xlim(-0.25, 1.25)
    ax.set_ylim(-0.25, 1.25)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("$x_1$")


def run(out_dir, fast: bool = False) -> DemoResult:
    """Truth tables, the best single neuron on XOR, the two working XORs, one figure."""
    start = time.perf_counter()
    lines, checks = [], {}
    for name, fn, k, want in (("AND", gates.AND, 2, [0, 0, 0, 1]),
                              ("OR", gates.OR, 2, [0, 1, 1, 1]),
                              ("NOT", gates.NOT, 1, [1, 0])):
        text, table = _table_lines(name, fn, k)
        lines += text
        checks[f"{name.lower()}_correct"] = table[:, -1].tolist() == want

    steps = 17 if fast else 41
    best, params = _best_single_neuron(steps)
    X = xp.tile(INPUTS, (5, 1)).astype(xp.float64)
    y = xp.tile(XOR, 5)
    accs = [Perceptron(max_iter=100, random_state=seed).fit(X, y).score(X, y)
            for seed in range(5 if fast else 20)]
    product = float((gates.xor_with_product_feature(INPUTS[:, 0], INPUTS[:, 1]) == XOR).mean())
    two_layer = float((gates.xor_two_layer(INPUTS[:, 0], INPUTS[:, 1]) == XOR).mean())
    lines += [
        "",
        f"XOR with ONE neuron, search over {steps}^3 (w1, w2, theta) in [-2, 2]: best "
        f"accuracy {best:.0%} (e.g. w = ({params[0]:.2f}, {params[1]:.2f}), "
        f"theta = {params[2]:.2f})",
        f"XOR with Rosenblatt's perceptron, {len(accs)} seeds x 100 epochs: best accuracy "
        f"{max(accs):.0%} (it never stops making mistakes)",
        f"XOR with the feature x1*x2 (x1 + x2 - 2 x1 x2 - 1/2 > 0): {product:.0%}",
        f"XOR with two layers, (x1 OR x2) AND NAND(x1, x2): {two_layer:.0%}",
    ]
    checks.update(xor_single_neuron_acc=best, xor_perceptron_acc=max(accs),
                  xor_product_feature_acc=product, xor_two_layer_acc=two_layer)

    fig = new_figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 4)
    axes[0].set_ylabel("$x_2$")
    _draw(axes[0], "AND: x1 + x2 - 3/2 > 0", gates.AND, gates.AND)
    _draw(axes[1], "OR: x1 + x2 - 1/2 > 0", gates.OR, gates.OR)
    # any best neuron gets 3 of 4; OR's line is the clearest to look at
    or_on_xor = float((gates.OR(INPUTS[:, 0], INPUTS[:, 1]) == XOR).mean())
    _draw(axes[2], f"XOR, one neuron (the OR line): {or_on_xor:.0%}", gates.OR, gates.OR, XOR)
    _draw(axes[3], f"XOR, two layers: {two_layer:.0%}", None, gates.xor_two_layer)
    axes[3].legend(loc="upper left", fontsize=8, bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("One line separates AND and OR, no line separates XOR; two layers do")
    figures = [save_figure(fig, out_dir, "gates.png")]
    lines.append(f"\n(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(CLAIM, lines, figures, checks)
