"""Newton's method (IRLS) versus gradient descent on logistic regression.

The logistic loss is smooth and convex, so both reach the same minimum; Newton uses the
curvature, ``theta <- theta - H^-1 g`` with ``H = X^T S X / n + lambda I``, and converges
quadratically near the minimum: a handful of iterations.  Gradient descent with the safe
step ``1/L`` needs many more, the more so the worse the features are conditioned.
"""

from __future__ import annotations

import time

from bricks.backend import xp
from bricks.classic import LogisticRegression
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "newton-logreg"
TITLE = "Newton/IRLS vs gradient descent on logistic regression"
CLAIM = ("Newton's method (IRLS, with the Hessian X^T S X) reaches the minimum of the logistic "
         "loss in a handful of iterations; gradient descent needs hundreds to thousands to "
         "reach the same loss.")

GAP = 1e-6  # "the same loss": within this of Newton's final objective


def _data(n, seed=0):
    """Correlated Gaussian features (an ill-conditioned problem) and Bernoulli labels."""
    rng = xp.random.default_rng(seed)
    mix = xp.array([[1.0, 0.9, 0.0, 0.0], [0.0, 0.45, 0.0, 0.0],
                    [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.3]])
    X = rng.normal(size=(n, 4)) @ mix
    p = 1.0 / (1.0 + xp.exp(-(X @ xp.array([1.5, -2.0, 1.0, 0.5]) + 0.3)))
    return X, (rng.random(n) < p).astype(xp.int64)


def _iters_to(curve, target):
    """First iteration whose objective is within GAP of target (None if never)."""
    for i, loss in enumerate(curve):
        if loss - target <= GAP:
            return i
    return None


def run(out_dir, fast: bool = False) -> DemoResult:
    """Fit both; count iterations to within 1e-6 of Newton's loss; plot the gaps."""
    start = time.perf_counter()
    X, y = _data(400 if fast else 2000)
    max_gd = 3000 if fast else 20000
    t0 = time.perf_counter()
    newton = LogisticRegression(solver="newton", C=1.0, tol=1e-12).fit(X, y)
    t_newton = time.perf_counter() - t0
    t0 = time.perf_counter()
    gd = LogisticRegression(solver="gd", C=1.0, tol=0.0, max_iter=max_gd).fit(X, y)
    t_gd = time.perf_counter() - t0
    best = min(newton.loss_curve_[-1], min(gd.loss_curve_))
    it_newton = _iters_to(newton.loss_curve_, best)
    it_gd = _iters_to(gd.loss_curve_, best)
    gd_count = it_gd if it_gd is not None else max_gd
    cond = xp.linalg.cond(xp.hstack([X, xp.ones((len(X), 1))]))
    lines = [f"{len(y)} samples, 4 correlated features (condition number of [X, 1]: "
             f"{cond:.1f}), L2 penalty C = 1",
             f"minimum of J = mean cross-entropy + |w|^2 / (2 C n): {best:.8f}", "",
             f"{'solver':<22}{'iterations to J* + 1e-6':>26}{'time':>10}",
             f"{'Newton / IRLS':<22}{it_newton:>26}{t_newton:>9.2f}s",
             f"{'gradient descent 1/L':<22}"
             f"{(str(it_gd) if it_gd is not None else f'> {max_gd}'):>26}{t_gd:>9.2f}s",
             "", f"Newton needs {gd_count / max(it_newton, 1):.0f}x fewer iterations"]
    checks = dict(newton_iters=it_newton, gd_iters=gd_count, gd_reached=it_gd is not None,
                  newton_loss=newton.loss_curve_[-1], gd_loss=gd.loss_curve_[-1])

    fig = new_figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for curve, label, style in ((newton.loss_curve_, "Newton / IRLS", "o-"),
                                (gd.loss_curve_, "gradient descent (step 1/L)", "-")):
        gap = xp.maximum(xp.array(curve) - best, 1e-16)
        ax.semilogy(xp.arange(len(gap)) + 1, gap, style, label=label, ms=4)
    ax.axhline(GAP, color="gray", ls=":", label="1e-6")
    ax.set_xscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("J - J*")
    ax.set_title("Logistic regression: loss gap per iteration")
    ax.legend()
    figures = [save_figure(fig, out_dir, "newton_logreg.png")]
    lines.append(f"\n(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(CLAIM, lines, figures, checks)
