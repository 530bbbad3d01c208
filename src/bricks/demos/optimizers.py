"""Eleven optimizers on a narrow canyon, on Rosenbrock's valley, and on a small MLP.

Every optimizer here is a ``bricks.optim`` class driving a 2-element ``Parameter``, one
iteration per ``step()`` (``max_iter=1`` for the closure-based quasi-Newton and CG methods,
whose state carries over between calls), so each iterate can be drawn:

* the **canyon** ``f(x, y) = (x^2 + 50 y^2) / 2`` (condition number 50): gradient descent
  must keep its step below 2/50 and zig-zags across the canyon while creeping along it;
  momentum averages the zig-zag away; Newton's method, which rescales by the Hessian,
  jumps to the minimum in one step;
* **Rosenbrock** ``f(x, y) = (1 - x)^2 + 100 (y - x^2)^2`` from (-1.2, 1), the classic
  curved valley: first-order methods need thousands of steps, BFGS, L-BFGS, CG and Newton
  a few dozen.

Steps to converge count iterations until ``f - f* <= 1e-6`` and the function/gradient
evaluations they took.  Last, the same optimizers train one small MLP (two moons), the
first-order ones by mini-batch epochs, the second-order ones by full-batch closure
iterations.
"""

from __future__ import annotations

import math
import time

import bricks
from bricks import nn, optim
from bricks.backend import to_numpy, xp
from bricks.data import datasets
from bricks.demos._common import DemoResult, compiled_step, new_figure, save_figure

NAME = "optimizers"
TITLE = "Optimizers on a narrow canyon, Rosenbrock and a small MLP"
CLAIM = ("On an ill-conditioned quadratic (a narrow canyon) gradient descent zig-zags and "
         "crawls, momentum is faster, and Newton's method reaches the minimum in one step. On "
         "Rosenbrock's curved valley the second-order methods (Newton, BFGS, L-BFGS, CG) need "
         "a few dozen iterations where gradient descent needs thousands.")

TOL = 1e-6
FIRST, QUASI, NEWTON = "first-order", "closure", "newton"


def canyon(w):
    """``(x^2 + 50 y^2) / 2``: minimum 0 at (0, 0), Hessian diag(1, 50)."""
    return 0.5 * (w[0] ** 2 + 50.0 * w[1] ** 2)


def rosenbrock(w):
    """``(1 - x)^2 + 100 (y - x^2)^2``: minimum 0 at (1, 1)."""
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


PROBLEMS = {
    "canyon": dict(f=canyon, start=[-4.0, 1.0], minimum=(0.0, 0.0),
                   box=(-4.5, 1.0, -1.4, 1.4)),
    "rosenbrock": dict(f=rosenbrock, start=[-1.2, 1.0], minimum=(1.0, 1.0),
                       box=(-1.6, 1.5, -0.6, 1.6)),
}

# name -> (kind, class, hyperparameters per problem).  Closure methods run one iteration per
# step(); max_eval leaves their line search its own budget (max_iter=1 alone would give it
# none).  On the canyon GD's lr is near its limit 2/50; momentum 0.9 would make the canyon's
# slow direction converge no faster than sqrt(0.9) per step, so 0.6 is used there; Nesterov
# needs a smaller step: it is stable only for lr * 50 < 2 (1 + beta) / (1 + 2 beta).
_WOLFE = dict(max_iter=1, max_eval=25)
OPTIMIZERS = {
    "GD": (FIRST, optim.SGD, {"canyon": dict(lr=0.035), "rosenbrock": dict(lr=1e-3),
                              "mlp": dict(lr=0.1)}),
    "momentum": (FIRST, optim.SGD, {"canyon": dict(lr=0.035, momentum=0.6),
                                    "rosenbrock": dict(lr=1e-3, momentum=0.9),
                                    "mlp": dict(lr=0.1, momentum=0.9)}),
    "Nesterov": (FIRST, optim.SGD, {"canyon": dict(lr=0.025, momentum=0.8, nesterov=True),
                                    "rosenbrock": dict(lr=1e-3, momentum=0.9, nesterov=True),
                                    "mlp": dict(lr=0.1, momentum=0.9, nesterov=True)}),
    "AdaGrad": (FIRST, optim.Adagrad, {"canyon": dict(lr=1.0), "rosenbrock": dict(lr=0.5),
                                       "mlp": dict(lr=0.1)}),
    "RMSProp": (FIRST, optim.RMSprop, {"canyon": dict(lr=0.05), "rosenbrock": dict(lr=0.01),
                                       "mlp": dict(lr=0.01)}),
    "Adadelta": (FIRST, optim.Adadelta, {"canyon": dict(lr=1.0), "rosenbrock": dict(lr=1.0),
                                         "mlp": dict(lr=1.0)}),
    "Adam": (FIRST, optim.Adam, {"canyon": dict(lr=0.1), "rosenbrock": dict(lr=0.02),
                                 "mlp": dict(lr=0.01)}),
    "Newton": (NEWTON, optim.Newton, {"canyon": dict(damping=0.0),
                                      "rosenbrock": dict(damping=0.0), "mlp": dict()}),
    "BFGS": (QUASI, optim.BFGS, {p: dict(_WOLFE) for p in ("canyon", "rosenbrock", "mlp")}),
    "L-BFGS": (QUASI, optim.LBFGS, {p: dict(_WOLFE, line_search_fn="strong_wolfe")
                                    for p in ("canyon", "rosenbrock", "mlp")}),
    "CG": (QUASI, optim.ConjugateGradient, {p: dict(_WOLFE)
                                            for p in ("canyon", "rosenbrock", "mlp")}),
}

STYLE = {
    "GD": ("tab:gray", "-"), "momentum": ("tab:blue", "-"), "Nesterov": ("tab:cyan", "--"),
    "AdaGrad": ("tab:olive", "-"), "RMSProp": ("tab:pink", "-"), "Adadelta": ("tab:brown", ":"),
    "Adam": ("tab:purple", "-"), "Newton": ("tab:red", "-"), "BFGS": ("tab:orange", "-"),
    "L-BFGS": ("tab:green", "--"), "CG": ("black", "-."),
}


def _hyper_text(hp: dict) -> str:
    """The settings in a few characters: 'lr=0.02 m=0.9 Nesterov', 'strong-Wolfe', ..."""
    parts = []
    for k, v in hp.items():
        if k in ("max_iter", "max_eval"):
            continue
        if k == "momentum":
            parts.append(f"m={v}")
        elif k == "nesterov":
            parts.append("Nesterov" if v else "")
        elif k == "line_search_fn":
            parts.append("strong-Wolfe" if v == "strong_wolfe" else "fixed step")
        else:
            parts.append(f"{k}={v}")
    return " ".join(p for p in parts if p) or "defaults"


def descend(name: str, problem: str, max_iter: int) -> dict:
    """Run optimizer ``name`` on ``problem`` from its start, one iteration per ``step()``.

    Returns a dict with ``path`` (the iterates, start first), ``values`` (f at each),
    ``iterations`` (to reach f <= 1e-6, or None), ``evals`` (function/gradient evaluations
    those iterations took) and ``diverged``.
    """
    kind, cls, hyper = OPTIMIZERS[name]
    spec = PROBLEMS[problem]
    f = spec["f"]
    w = nn.Parameter(bricks.tensor(spec["start"], dtype=bricks.float64))
    opt = cls([w], **hyper[problem])
    calls = 0

    def closure():
        nonlocal calls
        calls += 1
        if kind == NEWTON:  # Newton differentiates the loss itself: no backward() here
            return f(w)
        opt.zero_grad()
        loss = f(w)
        loss.backward()
        return loss

    def first_order_step():
        opt.zero_grad()
        loss = f(w)
        loss.backward()
        opt.step()
        return loss

    # The loss at w and the step from it in one compiled call: the step is taken even on
    # the iteration where the loop stops (w after the loop is not used).
    descent_step = bricks.compile(first_order_step)
    path, values = [list(spec["start"])], []
    iterations, diverged, steps = None, False, 0
    for k in range(max_iter + 1):
        if kind == FIRST:
            value = float(descent_step())
        else:
            with bricks.no_grad():
                value = float(f(w))
        values.append(value)
        if not math.isfinite(value) or value > 1e12:
            diverged = True
            break
        if value <= TOL:
            iterations = k
            break
        if k == max_iter:
            break
        if kind == FIRST:
            calls += 1
        else:
            opt.step(closure)
        steps += 1
        path.append(w.tolist())
    evals = calls
    if kind == QUASI and steps > 1:
        # each step() starts by re-evaluating the point its previous line search ended on;
        # one step() with max_iter = N would not: those calls are not counted.
        evals -= steps - 1
    return dict(path=xp.array(path), values=values, iterations=iterations, evals=evals,
                steps=steps, diverged=diverged)


def _draw_paths(ax, problem, runs, names):
    spec = PROBLEMS[problem]
    x0, x1, y0, y1 = spec["box"]
    gx, gy = xp.meshgrid(xp.linspace(x0, x1, 300), xp.linspace(y0, y1, 300))
    with bricks.no_grad():
        z = to_numpy(spec["f"](bricks.tensor(xp.stack([gx, gy]), dtype=bricks.float64)).data)
    levels = xp.logspace(-2, math.log10(max(float(z.max()), 1.0)), 18)
    ax.contour(gx, gy, z, levels=levels, cmap="Greys", linewidths=0.7, alpha=0.6)
    for name in names:
        r = runs[name]
        color, ls = STYLE[name]
        p = r["path"]
        few = OPTIMIZERS[name][0] != FIRST
        if r["diverged"]:
            steps = "diverged"
        elif r["iterations"] is None:
            steps = f"> {r['steps']} it"
        else:
            steps = f"{r['iterations']} it"
        ax.plot(p[:, 0], p[:, 1], ls=ls, color=color, lw=1.8 if few else 1.3,
                marker="o" if few else None, ms=3.5, label=f"{name} ({steps})")
    ax.plot(*spec["start"], marker="^", color="k", ms=9, ls="none", label="start")
    ax.plot(*spec["minimum"], marker="*", color="gold", mec="k", ms=16, ls="none",
            label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8, loc="lower right" if problem == "canyon" else "upper center",
              ncol=2 if problem == "canyon" else 1, framealpha=0.9)


def _mlp_data():
    X, y = datasets.make_moons(200, noise=0.2, seed=0)
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(xp.float64), y


def _mlp():
    f64 = bricks.float64
    return nn.Sequential(nn.Linear(2, 10, dtype=f64), nn.Tanh(), nn.Linear(10, 10, dtype=f64),
                         nn.Tanh(), nn.Linear(10, 2, dtype=f64))


def train_mlp(name: str, epochs: int, batch: int = 20) -> dict:
    """Train the same MLP (seed 0) with optimizer ``name``: ``epochs`` mini-batch epochs for
    a first-order method, ``epochs`` full-batch closure iterations for the others.  Returns
    the full training loss after each epoch/iteration and the elapsed seconds."""
    kind, cls, hyper = OPTIMIZERS[name]
    X, y = _mlp_data()
    Xt, yt = bricks.tensor(X), bricks.tensor(y)
    loss_fn = nn.CrossEntropyLoss()
    bricks.manual_seed(0)
    net = _mlp()
    opt = cls(net.parameters(), **hyper["mlp"])
    rng = xp.random.default_rng(0)

    def closure():
        if kind == NEWTON:
            return loss_fn(net(Xt), yt)
        opt.zero_grad()
        loss = loss_fn(net(Xt), yt)
        loss.backward()
        return loss

    def full_loss():
        with bricks.no_grad():
            return float(loss_fn(net(Xt), yt))

    step = compiled_step(net, loss_fn, opt)
    losses, seconds = [full_loss()], [0.0]
    start = time.perf_counter()
    for _ in range(epochs):
        if kind == FIRST:
            order = rng.permutation(len(y))
            for i in range(0, len(y), batch):
                idx = order[i:i + batch]
                step(bricks.tensor(X[idx]), bricks.tensor(y[idx]))
        else:
            opt.step(closure)
        seconds.append(time.perf_counter() - start)
        losses.append(full_loss())
    return dict(losses=losses, seconds=seconds)


def _cell(r, max_iter):
    if r["diverged"]:
        return f"{'diverged':>17}"
    if r["iterations"] is None:
        return f"{'> ' + str(max_iter):>9}{'':>8}"
    return f"{r['iterations']:>9}{r['evals']:>8}"


def run(out_dir, fast: bool = False) -> DemoResult:
    """Paths and steps to converge on the canyon and on Rosenbrock; loss curves on an MLP."""
    start = time.perf_counter()
    caps = {"canyon": 1000, "rosenbrock": 2000} if fast else {"canyon": 5000,
                                                               "rosenbrock": 20000}
    epochs = 8 if fast else 60

    runs = {problem: {name: descend(name, problem, caps[problem]) for name in OPTIMIZERS}
            for problem in PROBLEMS}

    lines = ["steps to converge (f - f* <= 1e-6) from the start point: iterations and "
             "function/gradient evaluations",
             "(Newton's evaluations include the line search's function-only trials; each of "
             "its iterations also builds the 2x2 Hessian by double backward)",
             "",
             f"{'optimizer':<10}{'canyon (x^2+50y^2)/2, from (-4, 1)':>41}"
             f"{'Rosenbrock, from (-1.2, 1)':>41}",
             f"{'':<10}{'settings':>24}{'iters':>9}{'evals':>8}"
             f"{'settings':>24}{'iters':>9}{'evals':>8}"]
    for name, (_, _, hyper) in OPTIMIZERS.items():
        lines.append(f"{name:<10}"
                     + f"{_hyper_text(hyper['canyon']):>24}"
                     + _cell(runs["canyon"][name], caps["canyon"])
                     + f"{_hyper_text(hyper['rosenbrock']):>24}"
                     + _cell(runs["rosenbrock"][name], caps["rosenbrock"]))
    lines.append("('> N': did not converge in N iterations; m = momentum; BFGS, L-BFGS and "
                 "CG use a strong-Wolfe line search)")

    figures = []
    titles = {"canyon": "Narrow canyon f = (x² + 50 y²) / 2",
              "rosenbrock": "Rosenbrock f = (1 - x)² + 100 (y - x²)²"}
    first = [name for name, spec in OPTIMIZERS.items() if spec[0] == FIRST]
    second = ["GD"] + [name for name, spec in OPTIMIZERS.items() if spec[0] != FIRST]
    for problem in PROBLEMS:
        tall = problem == "rosenbrock"
        fig = new_figure(figsize=(15, 6.2 if tall else 4.8), layout="constrained")
        for i, (names, which) in enumerate(((first, "first-order methods"),
                                            (second, "second-order methods (and GD)"))):
            ax = fig.add_subplot(1, 2, i + 1)
            _draw_paths(ax, problem, runs[problem], names)
            ax.set_title(which)
        fig.suptitle(f"{titles[problem]}: optimizer paths (it = iterations to "
                     f"f - f* ≤ 1e-6; at most {caps[problem]})")
        figures.append(save_figure(fig, out_dir, f"optimizers_{problem}.png"))

    # Newton builds the 162 x 162 Hessian (162 extra backward passes) every iteration, and
    # has converged long before: it gets fewer iterations to keep the demo short.
    newton_iters = min(epochs, 20)
    mlp = {name: train_mlp(name, newton_iters if name == "Newton" else epochs)
           for name in OPTIMIZERS}
    lines += ["",
              f"MLP 2-10-10-2 (tanh, float64) on two moons (200 points), cross-entropy; "
              f"{epochs} epochs of mini-batches of 20 (first-order) or {epochs} full-batch "
              f"iterations (closure methods; Newton {newton_iters}), same initial weights:",
              f"  {'optimizer':<10}{'settings':>24}{'final loss':>12}{'seconds':>9}"]
    for name, r in mlp.items():
        lines.append(f"  {name:<10}{_hyper_text(OPTIMIZERS[name][2]['mlp']):>24}"
                     f"{r['losses'][-1]:>12.2e}{r['seconds'][-1]:>9.2f}")

    fig = new_figure(figsize=(13, 5), layout="constrained")
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, r in mlp.items():
        color, ls = STYLE[name]
        ax1.semilogy(range(len(r["losses"])), r["losses"], color=color, ls=ls, label=name)
        ax2.loglog(r["seconds"][1:], r["losses"][1:], color=color, ls=ls, label=name)
    ax1.set_xlabel("epoch (first-order, mini-batches of 20) / iteration (closure methods)")
    ax2.set_xlabel("wall-clock seconds (log)")
    for ax in (ax1, ax2):
        ax.set_ylabel("training loss (cross-entropy, log)")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_title("MLP 2-10-10-2 on two moons: loss per epoch / iteration")
    ax2.set_title("the same runs against time (Newton pays for its Hessian)")
    ax2.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figures.append(save_figure(fig, out_dir, "optimizers_mlp.png"))

    def iters(problem, name):
        r = runs[problem][name]
        return r["iterations"] if r["iterations"] is not None else math.inf

    seconds = time.perf_counter() - start
    lines.append(f"\n({seconds:.1f} s)")
    checks = {f"{problem}_{name}_iterations": iters(problem, name)
              for problem in PROBLEMS for name in OPTIMIZERS}
    checks.update({
        "canyon_newton_final_value": runs["canyon"]["Newton"]["values"][-1],
        "canyon_gd_zigzag_sign_changes": int((xp.diff(xp.sign(
            runs["canyon"]["GD"]["path"][:, 1])) != 0).sum()),
        "caps": caps,
        "mlp_initial_loss": mlp["GD"]["losses"][0],
        "mlp_final_loss": {name: r["losses"][-1] for name, r in mlp.items()},
        "seconds": seconds,
    })
    return DemoResult(CLAIM, lines, figures, checks)
