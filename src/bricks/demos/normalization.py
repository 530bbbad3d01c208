"""Demo: gradient descent on raw versus standardized features.

House prices from the size in m^2 (50 to 200) and the number of rooms (1 to 6): the two
features differ in scale by a factor of about 30, and neither is centred.  The mean-squared
error is then a quadratic bowl ``L(w) = L* + (w - w*)^T A (w - w*)`` with ``A = X^T X / n``
whose curvatures differ by a factor kappa (the condition number of ``A``) of about 10^5: a
narrow canyon.  Gradient descent must take a step below ``2 / lambda_max`` (or it diverges
along the steepest direction) and then crawls along the flattest one, about kappa steps.
After standardizing (``x -> (x - mean) / std``) the bowl is nearly round and a few dozen
steps suffice.

For each version the largest stable learning rate is found on a grid (1, 2, 5 x 10^k), and
the run counts the steps until the loss is within 1% of the optimum ``L*`` (from least
squares).  Where the raw run hits its step budget first, the exact step count follows from
the eigen-decomposition of ``A``: along eigenvector i the error shrinks by
``|1 - 2 lr lambda_i|`` per step.
"""

from __future__ import annotations

import math
import time

import bricks
from bricks import nn
from bricks.backend import xp
from bricks.data import StandardScaler
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "normalization"
TITLE = "Gradient descent on unnormalized vs standardized features"
CLAIM = ("Features on very different scales make the loss a narrow canyon: gradient descent "
         "needs a tiny learning rate and crawls. Standardized features give a round bowl "
         "and converge in far fewer steps.")

_TOL = 0.01  # converged: L <= (1 + _TOL) * L*
_LR_GRID = [m * 10.0 ** k for k in range(1, -8, -1) for m in (5, 2, 1)]


def make_houses(n: int = 200, seed: int = 0):
    """``(X, y)``: size in m^2 and rooms (float32, (n, 2)); price in thousands (n,)."""
    rng = xp.random.default_rng(seed)
    size = rng.uniform(50.0, 200.0, n)
    rooms = xp.clip(xp.round(size / 45.0 + rng.normal(0.0, 1.0, n)), 1, 6)
    price = 2.5 * size + 20.0 * rooms + 40.0 + rng.normal(0.0, 20.0, n)
    X = xp.stack([size, rooms], axis=1)
    return X.astype(xp.float32), price.astype(xp.float32)


def _quadratic(X, y):
    """``A = Xb^T Xb / n`` (``Xb`` with a ones column), the optimum ``w*`` and ``L*``."""
    Xb = xp.concatenate([X, xp.ones((len(X), 1))], axis=1).astype(xp.float64)
    yd = y.astype(xp.float64)
    w_star = xp.linalg.lstsq(Xb, yd, rcond=None)[0]
    loss_star = float(xp.mean((Xb @ w_star - yd) ** 2))
    return Xb.T @ Xb / len(X), w_star, loss_star


def predicted_steps(A, w_star, loss_star, lr: float, w0=None, limit: int = 10 ** 9):
    """Steps of gradient descent (rate ``lr``, from ``w0``, default 0) until
    ``L <= (1 + tol) L*``, from the eigen-decomposition of ``A``; ``None`` if unstable."""
    lam, V = xp.linalg.eigh(A)
    e0 = V.T @ ((xp.zeros_like(w_star) if w0 is None else w0) - w_star)
    factor = xp.abs(1.0 - 2.0 * lr * lam)
    if factor.max() >= 1.0:
        return None

    def excess(t):
        return float(xp.sum(lam * e0 ** 2 * factor ** (2.0 * t)))

    target = _TOL * loss_star
    if excess(0) <= target:
        return 0
    hi = 1
    while excess(hi) > target:
        hi *= 2
        if hi > limit:
            return None
    lo = hi // 2  # excess(lo) > target >= excess(hi): bisect for the first t below
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if excess(mid) <= target else (mid, hi)
    return hi


def _gd(X, y, lr: float, max_steps: int, loss_star: float):
    """Full-batch gradient descent on ``MSE(Linear(X), y)`` from zero weights.

    Returns ``(losses, steps_to_converge or None, diverged)``."""
    model = nn.Linear(X.shape[1], 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    opt = bricks.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    Xt, yt = bricks.tensor(X), bricks.tensor(y[:, None])
    losses = []
    for step in range(max_steps + 1):
        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        value = loss.item()
        losses.append(value)
        if not math.isfinite(value) or value > 1e3 * losses[0]:
            return losses, None, True
        if value <= (1 + _TOL) * loss_star:
            return losses, step, False
        if step < max_steps:
            loss.backward()
            opt.step()
    return losses, None, False


def _largest_stable(X, y, loss_star: float, probe_steps: int):
    """The largest grid rate whose first ``probe_steps`` steps do not blow up."""
    for lr in _LR_GRID:
        diverged = _gd(X, y, lr, probe_steps, loss_star)[2]
        if not diverged:
            return lr
    raise RuntimeError("no stable learning rate on the grid")  # pragma: no cover


def run(out_dir, fast: bool = False) -> DemoResult:
    start = time.perf_counter()
    X, y = make_houses(200, seed=0)
    Xs = StandardScaler().fit_transform(X).astype(xp.float32)
    budget = 2000 if fast else 20000
    probe = 200

    rows = {}
    for label, data in (("raw", X), ("standardized", Xs)):
        A, w_star, loss_star = _quadratic(data, y)
        lam = xp.linalg.eigvalsh(A)
        lr = _largest_stable(data, y, loss_star, probe)
        losses, steps, diverged = _gd(data, y, lr, budget, loss_star)
        rows[label] = {
            "lr": lr, "losses": losses, "steps": steps, "diverged": diverged,
            "predicted": predicted_steps(A, w_star, loss_star, lr),
            "kappa": float(lam[-1] / lam[0]), "lr_limit": float(1.0 / lam[-1]),
            "loss_star": loss_star, "A": A, "w_star": w_star,
        }

    raw, std = rows["raw"], rows["standardized"]
    raw_steps = raw["steps"] if raw["steps"] is not None else raw["predicted"]
    ratio = raw_steps / max(std["steps"], 1)
    lines = [f"{'features':<14}{'kappa(A)':>12}{'max stable lr':>15}{'2/lam_max(H)':>14}"
             f"{'steps (run)':>14}{'steps (theory)':>16}"]
    for label, r in rows.items():
        run_steps = str(r["steps"]) if r["steps"] is not None else f"> {budget}"
        lines.append(f"{label:<14}{r['kappa']:>12.3g}{r['lr']:>15.3g}{r['lr_limit']:>14.3g}"
                     f"{run_steps:>14}{r['predicted']:>16}")
    lines += [
        "",
        f"converged = loss within {_TOL:.0%} of the least-squares optimum; grid of learning "
        f"rates 1, 2, 5 x 10^k; each run from zero weights.",
        f"raw features need {raw_steps:,} steps"
        + ("" if raw["steps"] is not None else " (theory; the run used up its "
           f"{budget:,}-step budget at {raw['losses'][-1] / raw['loss_star']:.1f} x L*)")
        + f", standardized ones {std['steps']}: {ratio:,.0f}x fewer.",
    ]

    figures = [_plot_curves(rows, budget, out_dir), _plot_contours(X, Xs, y, out_dir)]
    seconds = time.perf_counter() - start
    lines.append(f"({seconds:.1f} s)")
    checks = {
        "raw_steps": raw_steps,
        "raw_run_steps": raw["steps"],
        "raw_budget": budget,
        "standardized_steps": std["steps"],
        "standardized_predicted": std["predicted"],
        "step_ratio": ratio,
        "raw_kappa": raw["kappa"],
        "standardized_kappa": std["kappa"],
        "raw_lr": raw["lr"],
        "standardized_lr": std["lr"],
        "raw_final_over_optimum": raw["losses"][-1] / raw["loss_star"],
    }
    return DemoResult(CLAIM, lines, figures, checks)


def _excess_curve(r, t):
    """(L - L*) / L* after steps ``t`` of gradient descent from zero, by the eigenbasis."""
    lam, V = xp.linalg.eigh(r["A"])
    e0 = V.T @ -r["w_star"]
    factor = xp.abs(1.0 - 2.0 * r["lr"] * lam)
    return (lam * e0 ** 2 * factor[None, :] ** (2.0 * t[:, None])).sum(1) / r["loss_star"]


def _plot_curves(rows, budget, out_dir):
    fig = new_figure(figsize=(6.5, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    colors = {"raw": "tab:red", "standardized": "tab:blue"}
    for label, r in rows.items():
        excess = [max(v / r["loss_star"] - 1.0, 1e-6) for v in r["losses"]]
        ax.plot(range(1, len(excess) + 1), excess, color=colors[label],
                label=f"{label} (lr = {r['lr']:.3g})")
        if r["steps"] is None and r["predicted"] is not None:
            t = xp.unique(xp.geomspace(len(excess), 1.2 * r["predicted"], 200).astype(int))
            ax.plot(t + 1, _excess_curve(r, t), color=colors[label], ls=":",
                    label=f"{label}, theory beyond the run ({r['predicted']:,} steps)")
    ax.axhline(_TOL, color="gray", ls="--", lw=1, label=f"converged ({_TOL:.0%} above L*)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("(L - L*) / L*")
    ax.set_title("Linear regression on house prices: raw vs standardized features")
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    return save_figure(fig, out_dir, "normalization_loss.png")


def _plot_contours(X, Xs, y, out_dir):
    """Loss over the two feature weights, the bias minimized out, around each optimum."""
    fig = new_figure(figsize=(10, 4.4))
    for i, (label, data) in enumerate((("raw features (size m^2, rooms)", X),
                                       ("standardized features", Xs))):
        A, w_star, loss_star = _quadratic(data, y)
        ax = fig.add_subplot(1, 2, i + 1)
        # Window: the loss-(1.5 L*) ellipse's extent along the flattest weight direction.
        B = A[:2, :2] - xp.outer(A[:2, 2], A[2, :2]) / A[2, 2]  # bias minimized out
        r = math.sqrt(1.5 * loss_star / float(xp.linalg.eigvalsh(B)[0]))
        g = xp.linspace(-r, r, 201)
        u, v = xp.meshgrid(g, g)
        d = xp.stack([u.ravel(), v.ravel()])
        z = loss_star + xp.sum(d * (B @ d), axis=0).reshape(u.shape)
        levels = loss_star * xp.array([1.01, 1.05, 1.2, 1.5, 2.0, 3.0, 5.0])
        cs = ax.contour(u + w_star[0], v + w_star[1], z, levels=levels, cmap="viridis")
        if i == 1:  # on the canyon the labels would pile up
            ax.clabel(cs, fmt=lambda lv, s=loss_star: f"{lv / s:.2g} L*", fontsize=7)
        ax.plot([w_star[0]], [w_star[1]], "k*", ms=10, label="optimum")
        ax.set_aspect("equal")
        ax.set_xlabel("weight of feature 1 (size)")
        ax.set_ylabel("weight of feature 2 (rooms)")
        ax.set_title(label)
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle("Loss contours (1.01 to 5 x L*, bias at its best value): a narrow canyon vs a "
                 "round bowl")
    return save_figure(fig, out_dir, "normalization_contours.png")
