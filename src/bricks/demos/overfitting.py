"""Polynomial curve fitting: too few degrees underfit, too many overfit, L2 tames them.

Bishop's example (Pattern Recognition and Machine Learning, ch. 1): a few noisy samples of
``sin(2 pi x)``, fitted by least squares with polynomials of degree 1, 4 and 15.  Degree 1
misses the curve (high train and test error); degree 4 follows it; degree 15 goes through
(almost) every training point with huge coefficients of alternating sign and a large test
error.  Ridge regression (L2, ``||y - X w||^2 + alpha ||w||^2``) on the same degree-15
features keeps the coefficients small and the test error low.
"""

from __future__ import annotations

import time

from bricks.backend import xp
from bricks.classic import LinearRegression, PolynomialFeatures, Ridge
from bricks.data.datasets import make_regression_1d
from bricks.demos._common import DemoResult, new_figure, save_figure

NAME = "overfitting"
TITLE = "Polynomial degree 1, 4, 15: under- and over-fitting, and L2 taming it"
CLAIM = ("On a small noisy sample, a degree-1 polynomial underfits, degree 4 fits, and degree "
         "15 overfits: near-zero training error, a larger test error, and coefficients that "
         "explode. An L2 penalty (Ridge) on the same degree-15 features shrinks the "
         "coefficients by orders of magnitude and brings the test error back down.")

DEGREES = (1, 4, 15)
N_TRAIN, NOISE, ALPHA = 12, 0.2, 1e-4


def _mse(model, poly, X, y):
    return float(((model.predict(poly.transform(X)) - y) ** 2).mean())


def run(out_dir, fast: bool = False) -> DemoResult:
    """Fit degrees 1, 4, 15 (and Ridge at 15); table of errors and coefficients; one figure."""
    start = time.perf_counter()
    X, y = make_regression_1d(N_TRAIN, noise=NOISE, seed=3)
    X_test, y_test = make_regression_1d(200 if fast else 1000, noise=NOISE, seed=100)
    X, y, X_test, y_test = (a.astype(xp.float64) for a in (X, y, X_test, y_test))
    # test inside the training range: the error of interpolation, not of extrapolation
    inside = (X_test[:, 0] >= X.min()) & (X_test[:, 0] <= X.max())
    X_test, y_test = X_test[inside], y_test[inside]
    grid = xp.linspace(0, 1, 400)[:, None]

    fits, checks = {}, {}
    lines = [f"{N_TRAIN} training points of sin(2 pi x) + N(0, {NOISE}^2), "
             f"{len(y_test)} test points in the same x range", "",
             f"{'model':<24}{'train MSE':>12}{'test MSE':>14}{'max |coef|':>14}"]
    models = [(f"degree {d}", d, LinearRegression()) for d in DEGREES]
    models.append((f"degree 15 + L2 ({ALPHA:g})", 15, Ridge(alpha=ALPHA)))
    for label, degree, model in models:
        poly = PolynomialFeatures(degree, include_bias=False).fit(X)
        model.fit(poly.transform(X), y)
        train, test = _mse(model, poly, X, y), _mse(model, poly, X_test, y_test)
        big = float(xp.abs(model.coef_).max())
        lines.append(f"{label:<24}{train:>12.4f}{test:>14.4g}{big:>14.3g}")
        key = "ridge_15" if isinstance(model, Ridge) else str(degree)
        checks.update({f"train_mse_{key}": train, f"test_mse_{key}": test,
                       f"max_coef_{key}": big})
        fits[label] = model.predict(poly.transform(grid))
    lines += ["", f"degree 15 / degree 4 largest coefficient: "
              f"{checks['max_coef_15'] / checks['max_coef_4']:.3g}x; "
              f"Ridge shrinks it {checks['max_coef_15'] / checks['max_coef_ridge_15']:.3g}x"]

    fig = new_figure(figsize=(13, 3.6))
    axes = fig.subplots(1, 4, sharey=True)
    for ax, (label, curve) in zip(axes, fits.items()):
        ax.plot(grid[:, 0], xp.sin(2 * xp.pi * grid[:, 0]), color="tab:green", lw=1.5,
                label="sin(2$\\pi$x)")
        ax.plot(grid[:, 0], curve, color="tab:red", lw=1.8, label="fit")
        ax.scatter(X[:, 0], y, s=28, facecolors="none", edgecolors="tab:blue", label="train")
        ax.set_ylim(-1.8, 1.8)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("x")
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Least-squares polynomials: underfit, fit, overfit, and overfit tamed by L2")
    figures = [save_figure(fig, out_dir, "overfitting.png")]
    lines.append(f"\n(ran in {time.perf_counter() - start:.1f} s)")
    return DemoResult(CLAIM, lines, figures, checks)
