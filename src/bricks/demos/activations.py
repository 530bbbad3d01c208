"""Every activation of bricks and its derivative, the derivative computed by autograd.

The lecture's table of activation functions, drawn from the library itself: each function
is evaluated on a grid and differentiated by ``backward()``.  The derivatives are checked
against their textbook formulas (sigmoid' = s (1 - s), tanh' = 1 - tanh^2, relu' = 1[x > 0])
and against central differences, and the sigmoid's derivative never exceeds 1/4: through
n sigmoid layers the gradient shrinks by at least 4^n, the root of vanishing gradients.
"""

from __future__ import annotations

import time

import bricks
from bricks import nn
from bricks.backend import to_numpy, xp
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "activations"
TITLE = "Every activation and its derivative (by autograd)"
CLAIM = ("Each activation and its derivative, the derivative computed by bricks' autograd, "
         "equal to the textbook formulas (sigmoid' = s(1-s), tanh' = 1 - tanh^2, "
         "relu' = 1[x>0]). The sigmoid's derivative is at most 1/4: a deep sigmoid net "
         "multiplies its gradient by at most 1/4 per layer.")


def _table():
    """(name, module, formula of f, formula of f') in the lecture's order."""
    f64 = bricks.float64
    return [
        ("sigmoid", nn.Sigmoid(), "1 / (1 + e^-x)", "s (1 - s)"),
        ("tanh", nn.Tanh(), "tanh x", "1 - tanh^2 x"),
        ("relu", nn.ReLU(), "max(0, x)", "1[x > 0]"),
        ("leaky relu", nn.LeakyReLU(0.1), "max(0.1 x, x)", "1 or 0.1"),
        ("PReLU (init)", nn.PReLU(init=0.25, dtype=f64), "max(a x, x), a = 0.25", "1 or a"),
        ("ELU", nn.ELU(), "x or e^x - 1", "1 or e^x"),
        ("SELU", nn.SELU(), "l (x or a (e^x - 1))", "l or l a e^x"),
        ("GELU", nn.GELU(), "x Phi(x)", "Phi(x) + x phi(x)"),
        ("softplus", nn.Softplus(), "log(1 + e^x)", "sigmoid(x)"),
        ("SiLU", nn.SiLU(), "x sigmoid(x)", "s + x s (1 - s)"),
        ("mish", nn.Mish(), "x tanh(softplus x)", "(by autograd)"),
        ("softsign", nn.Softsign(), "x / (1 + |x|)", "1 / (1 + |x|)^2"),
        ("hardtanh", nn.Hardtanh(), "clip(x, -1, 1)", "1[-1 < x < 1]"),
        ("step", nn.Step(), "1[x > 0]", "0"),
    ]


def _value_and_derivative(module, x):
    """f(x) and f'(x) on a 1-D grid, f' by backward() (f acts elementwise: d sum f / dx)."""
    t = bricks.tensor(x, dtype=bricks.float64, requires_grad=True)
    y = module(t)
    y.sum().backward()
    return to_numpy(y.data), to_numpy(t.grad.data)


def _central_difference(module, x, h=1e-6):
    with bricks.no_grad():
        up = to_numpy(module(bricks.tensor(x + h, dtype=bricks.float64)).data)
        down = to_numpy(module(bricks.tensor(x - h, dtype=bricks.float64)).data)
    return (up - down) / (2 * h)


def run(out_dir, fast: bool = False) -> DemoResult:
    """Evaluate and differentiate every activation on a grid; draw the table."""
    start = time.perf_counter()
    n = 201 if fast else 801
    x = xp.linspace(-4.0, 4.0, n)
    # kinks (0 for relu and friends, +-1 for hardtanh) have no derivative to compare with
    smooth = (abs(x) > 1e-3) & (abs(abs(x) - 1) > 1e-3)

    rows = []
    curves = {}
    fd_gap = 0.0
    for name, module, f_text, d_text in _table():
        y, dy = _value_and_derivative(module, x)
        gap = float(abs(dy - _central_difference(module, x))[smooth].max())
        fd_gap = max(fd_gap, gap)
        curves[name] = (y, dy)
        zero = int(xp.argmin(abs(x)))
        rows.append((name, f_text, d_text, y.min(), y.max(), float(dy[zero]), float(dy.max()),
                     gap))

    s, ds = curves["sigmoid"]
    t, dt = curves["tanh"]
    _, dr = curves["relu"]
    sigmoid_gap = float(abs(ds - s * (1 - s)).max())
    tanh_gap = float(abs(dt - (1 - t ** 2)).max())
    relu_gap = float(abs(dr - (x > 0)).max())

    fp = "f'"
    header = (f"{'activation':<14}{'f(x)':<24}{fp + '(x)':<20}{'f on [-4, 4]':>18}"
              f"{fp + '(0)':>8}{'max ' + fp:>8}{'|auto - fd|':>13}")
    lines = [f"on {n} points in [-4, 4], float64; f' by autograd; fd = central difference "
             f"(away from kinks):", header]
    for name, f_text, d_text, lo, hi, d0, dmax, gap in rows:
        lines.append(f"{name:<14}{f_text:<24}{d_text:<20}{f'{lo:.2f} .. {hi:.2f}':>18}"
                     f"{d0:>8.3f}{dmax:>8.3f}{gap:>13.1e}")
    lines += ["",
              f"max |autograd - formula|:  sigmoid' vs s(1-s) {sigmoid_gap:.1e},  "
              f"tanh' vs 1-tanh^2 {tanh_gap:.1e},  relu' vs 1[x>0] {relu_gap:.1e}",
              f"max sigmoid' = {ds.max():.6f} (at x = {x[int(xp.argmax(ds))]:+.3f}) <= 1/4: "
              f"10 sigmoid layers scale a gradient by at most 4^-10 = {4.0 ** -10:.1e}"]

    fig = new_figure(figsize=(14, 10.5), layout="constrained")
    for i, (name, f_text, d_text, *_rest) in enumerate(rows):
        ax = fig.add_subplot(4, 4, i + 1)
        y, dy = curves[name]
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(x, y, color="tab:blue", lw=2, label="f(x)")
        ax.plot(x, dy, color="tab:orange", lw=1.6, ls="--", label="f'(x) (autograd)")
        ax.set_title(f"{name}: f = {f_text}\nf' = {d_text}", fontsize=9.5)
        ax.set_xlim(-4, 4)
        ax.set_ylim(-1.9, 4.3)
        ax.set_xlabel("x", fontsize=9)
        ax.tick_params(labelsize=8)
        if i % 4 == 0:
            ax.set_ylabel("value", fontsize=9)
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    ax = fig.add_subplot(4, 4, len(rows) + 1)
    for name in ("sigmoid", "tanh", "relu"):
        ax.plot(x, curves[name][1], lw=1.8, label=f"{name}'")
    ax.axhline(0.25, color="k", ls=":", lw=1, label="1/4")
    ax.set_title("derivatives compared", fontsize=10)
    ax.set_xlabel("x", fontsize=9)
    ax.set_xlim(-4, 4)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8)
    fig.suptitle("Activation functions f (solid) and their derivatives f' by bricks' autograd "
                 "(dashed)")
    figures = [save_figure(fig, out_dir, "activations.png")]

    seconds = time.perf_counter() - start
    lines.append(f"\n({seconds:.1f} s)")
    checks = {
        "n_activations": len(rows),
        "sigmoid_formula_gap": sigmoid_gap,
        "tanh_formula_gap": tanh_gap,
        "relu_formula_gap": relu_gap,
        "max_finite_difference_gap": fd_gap,
        "sigmoid_derivative_max": float(ds.max()),
        "step_derivative_max_abs": float(abs(curves["step"][1]).max()),
        "seconds": seconds,
    }
    return DemoResult(CLAIM, lines, figures, checks)
