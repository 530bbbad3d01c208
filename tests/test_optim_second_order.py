"""Tests for the closure-based optimizers: LBFGS (against torch.optim.LBFGS), BFGS,
ConjugateGradient, Newton and HessianFree.

Measured on the problems below (and bounded in the asserts, with margin):

* Rosenbrock from (-1.2, 1) to max|x - (1, 1)| < 1e-6: BFGS 40 iterations, L-BFGS (strong
  Wolfe) 37, CG Polak-Ribiere+ 33, CG Fletcher-Reeves 37; bound 60 iterations.
* Newton on L2-regularized logistic regression (200 x 3, float64): gradient norm < 1e-8
  after 5 iterations (bound 10).
* Hessian-free (Gauss-Newton) on an MLP 2-16-16-1 regressing a 2-D sine: MSE < 1e-5 after
  39 steps (bound 60; 1093 Gauss-Newton-vector products and 78 loss evaluations in all);
  Adam from the same weights (lr 0.003, 0.01, 0.03) is still above 6e-5 after 1560 steps
  (40x, asserted above 2e-5), and above 4e-5 after 5000 steps (lr up to 0.1).
"""

import copy
import math

import numpy as np
import pytest
import torch

import bricks
import bricks.nn as nn
import bricks.nn.functional as F
import bricks.optim as optim
from bricks.optim import BFGS, LBFGS, ConjugateGradient, HessianFree, Newton
from bricks.optim._line_search import cubic_interpolate, strong_wolfe

f64 = bricks.float64


# ---------------------------------------------------------------- problems


def rosenbrock(w):
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def _logistic_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.5 + rng.logistic(size=n) > 0).astype(np.float64)
    return X, y


ALPHA = 1e-2  # L2 strength: loss = mean BCE + ALPHA/2 |w|^2 (bias not penalized)


def _logistic_numpy(theta, X, y):
    """Loss, gradient and Hessian of the regularized logistic loss, by hand (no autodiff)."""
    w, b = theta[:3], theta[3]
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    loss = np.mean(np.logaddexp(0, z) - y * z) + ALPHA / 2 * w @ w
    Xb = np.c_[X, np.ones(len(y))]
    reg = np.r_[ALPHA * np.ones(3), 0.0]
    g = Xb.T @ (p - y) / len(y) + reg * theta
    H = (Xb * (p * (1 - p))[:, None]).T @ Xb / len(y) + np.diag(reg)
    return loss, g, H


def _irls(X, y, iters=50):
    """Iteratively reweighted least squares (Newton in numpy) for the reference optimum."""
    theta = np.zeros(4)
    for _ in range(iters):
        _, g, H = _logistic_numpy(theta, X, y)
        theta = theta - np.linalg.solve(H, g)
    return theta


def _mlp(hidden=16, seed=0):
    bricks.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, hidden, dtype=f64), nn.Tanh(),
                         nn.Linear(hidden, hidden, dtype=f64), nn.Tanh(),
                         nn.Linear(hidden, 1, dtype=f64))


def _sine_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = np.sin(np.pi * X[:, 0]) * np.cos(np.pi * X[:, 1] / 2)
    return bricks.tensor(X), bricks.tensor(y)


def _rosenbrock_run(make, **kw):
    w = bricks.tensor([-1.2, 1.0], dtype=f64, requires_grad=True)
    opt = make([w], **kw)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(w)
        loss.backward()
        return loss

    opt.step(closure)
    return w, opt


# ---------------------------------------------------------------- LBFGS against torch


def _logistic_pair(ls, history_size, max_iter):
    X, y = _logistic_data(60, seed=1)
    w0 = np.random.default_rng(2).normal(size=3) * 0.1
    tw = torch.tensor(w0, requires_grad=True)
    tb = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    bw = bricks.tensor(w0, requires_grad=True)
    bb = bricks.zeros(1, dtype=f64, requires_grad=True)
    kw = dict(line_search_fn=ls, history_size=history_size, max_iter=max_iter)
    topt, bopt = torch.optim.LBFGS([tw, tb], **kw), LBFGS([bw, bb], **kw)
    tX, ty, bX, by = torch.tensor(X), torch.tensor(y), bricks.tensor(X), bricks.tensor(y)

    def tclosure():
        topt.zero_grad()
        z = tX @ tw + tb
        loss = (torch.nn.functional.softplus(z) - ty * z).mean() + 0.01 * (tw ** 2).sum()
        loss.backward()
        return loss

    def bclosure():
        bopt.zero_grad()
        z = bX @ bw + bb
        loss = (F.softplus(z) - by * z).mean() + 0.01 * (bw ** 2).sum()
        loss.backward()
        return loss

    return (topt, tclosure, [tw, tb]), (bopt, bclosure, [bw, bb])


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [100, 2])
def test_lbfgs_equals_torch_on_logistic_regression(ls, history_size):
    (topt, tclosure, tparams), (bopt, bclosure, bparams) = _logistic_pair(ls, history_size, 3)
    for _ in range(6):
        tloss = topt.step(tclosure).item()
        bloss = float(bopt.step(bclosure))
        assert bloss == pytest.approx(tloss, rel=1e-13, abs=1e-15)
        for t, b in zip(tparams, bparams):
            np.testing.assert_allclose(b.data, t.detach().numpy(), rtol=0, atol=1e-12)
        tstate, bstate = topt.state[tparams[0]], bopt.state[bparams[0]]
        assert bstate["func_evals"] == tstate["func_evals"]
        assert bstate["n_iter"] == tstate["n_iter"]
        assert len(bstate["old_dirs"]) == len(tstate["old_dirs"]) <= history_size


@pytest.mark.parametrize("ls,lr", [(None, 0.1), ("strong_wolfe", 1.0)])
def test_lbfgs_equals_torch_on_rosenbrock(ls, lr):
    tw = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    bw = bricks.tensor([-1.2, 1.0], dtype=f64, requires_grad=True)
    kw = dict(lr=lr, max_iter=10, line_search_fn=ls, history_size=5)
    topt, bopt = torch.optim.LBFGS([tw], **kw), LBFGS([bw], **kw)

    def tclosure():
        topt.zero_grad()
        loss = rosenbrock(tw)
        loss.backward()
        return loss

    def bclosure():
        bopt.zero_grad()
        loss = rosenbrock(bw)
        loss.backward()
        return loss

    for _ in range(6):
        tloss = topt.step(tclosure).item()
        bloss = float(bopt.step(bclosure))
        assert bloss == pytest.approx(tloss, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(bw.data, tw.detach().numpy(), rtol=0, atol=1e-9)
        assert bopt.state[bw]["func_evals"] == topt.state[tw]["func_evals"]
    if ls == "strong_wolfe":
        assert np.abs(bw.data - 1).max() < 1e-4


@pytest.mark.parametrize("ls", [None, "strong_wolfe"])
def test_lbfgs_equals_torch_on_mlp_with_an_unused_parameter(ls):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    init = [rng.normal(size=(3, 5)) * 0.5, rng.normal(size=(5, 2)) * 0.5, np.ones(2)]
    tp = [torch.tensor(a, requires_grad=True) for a in init]
    bp = [bricks.tensor(a, requires_grad=True) for a in init]
    kw = dict(max_iter=8, line_search_fn=ls, lr=1.0 if ls else 0.5)
    topt, bopt = torch.optim.LBFGS(tp, **kw), LBFGS(bp, **kw)
    tX, tY, bX, bY = torch.tensor(X), torch.tensor(Y), bricks.tensor(X), bricks.tensor(Y)

    def tclosure():  # tp[2] is not used: its gradient counts as zeros
        topt.zero_grad()
        loss = ((torch.tanh(tX @ tp[0]) @ tp[1] - tY) ** 2).mean()
        loss.backward()
        return loss

    def bclosure():
        bopt.zero_grad()
        loss = ((bricks.tanh(bX @ bp[0]) @ bp[1] - bY) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(2):
        assert float(bopt.step(bclosure)) == pytest.approx(topt.step(tclosure).item(),
                                                           rel=1e-10)
        for t, b in zip(tp, bp):
            np.testing.assert_allclose(b.data, t.detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(bp[2].data, np.ones(2))


def test_lbfgs_returns_at_once_at_a_stationary_point_and_keeps_float32():
    w = bricks.zeros(3, requires_grad=True)
    opt = LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert opt.state[w]["func_evals"] == 1 and opt.state[w]["n_iter"] == 0
    v = bricks.tensor([1.0, -2.0], requires_grad=True)  # float32
    opt = LBFGS([v], line_search_fn="strong_wolfe")

    def closure32():
        opt.zero_grad()
        loss = ((v - 3) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure32)
    assert v.data.dtype == np.float32
    np.testing.assert_allclose(v.data, [3.0, 3.0], atol=1e-5)


def test_cubic_interpolate_and_strong_wolfe():
    # exact on a cubic: phi(t) = t^3 - 3t has its local minimum at t = 1
    assert cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0) == pytest.approx(1.0)
    # clipped to the bounds, and the midpoint when the cubic has no minimizer
    assert cubic_interpolate(0.0, 0.0, -3.0, 2.0, 2.0, 9.0, bounds=(1.5, 3.0)) == 1.5
    assert cubic_interpolate(0.0, 0.0, 1.0, 2.0, 4.0 / 3.0, 1.0) == 1.0
    assert cubic_interpolate(1.0, 0.0, 1.0, 1.0, 0.0, 1.0) == 1.0  # coinciding points

    # against PyTorch's own, on random points (both slopes signs, both orders, bounds)
    from torch.optim.lbfgs import _cubic_interpolate
    rng = np.random.default_rng(0)
    for _ in range(200):
        x1, f1, g1, x2, f2, g2 = rng.normal(size=6)
        bounds = (min(x1, x2) - 1, max(x1, x2) + 1) if rng.random() < 0.5 else None
        ref = _cubic_interpolate(*(torch.tensor(v, dtype=torch.float64)
                                   for v in (x1, f1, g1, x2, f2, g2)), bounds=bounds)
        assert float(cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds)) == \
            pytest.approx(float(ref), rel=1e-12, abs=1e-12)

    # phi(t) = (t - 5)^2 along d = 1 from x = 0: the Wolfe point is near t = 5
    def obj(x, t, d):
        z = x + t * d
        return float(((z - 5) ** 2).sum()), 2 * (z - 5)

    x, d = np.zeros(1), np.ones(1)
    f, g = obj(x, 0.0, d)
    f_new, g_new, t, evals = strong_wolfe(obj, x, 1.0, d, f, g, g.dot(d))
    assert f_new <= f + 1e-4 * t * g.dot(d)          # sufficient decrease
    assert abs(g_new.dot(d)) <= 0.9 * abs(g.dot(d))  # curvature
    assert f_new == obj(x, t, d)[0] and 1 <= evals <= 25


# ---------------------------------------------------------------- Rosenbrock


@pytest.mark.parametrize("make,kw", [
    (BFGS, {}),
    (LBFGS, {"line_search_fn": "strong_wolfe"}),
    (ConjugateGradient, {"beta": "polak-ribiere"}),
    (ConjugateGradient, {"beta": "fletcher-reeves"}),
], ids=["bfgs", "lbfgs", "cg-pr", "cg-fr"])
def test_rosenbrock_minimum_within_60_iterations(make, kw):
    w, opt = _rosenbrock_run(make, max_iter=60, max_eval=500, tolerance_grad=1e-10,
                             tolerance_change=1e-14, **kw)
    assert np.abs(w.data - 1).max() < 1e-6
    assert opt.state[w]["n_iter"] <= 60
    assert opt.state[w]["func_evals"] <= 150


def _bfgs_update(H, s, y):
    """The textbook inverse update (I - rho s y^T) H (I - rho y s^T) + rho s s^T."""
    rho, eye = 1 / (y @ s), np.eye(len(s))
    return (eye - rho * np.outer(s, y)) @ H @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)


def test_bfgs_update_satisfies_the_secant_equation():
    rng = np.random.default_rng(0)
    x = bricks.zeros(4, dtype=f64, requires_grad=True)
    opt = BFGS([x])
    M = rng.normal(size=(4, 4))
    H = M @ M.T + 4 * np.eye(4)
    d, t = rng.normal(size=4), 0.7
    g_prev, g = rng.normal(size=4), rng.normal(size=4)
    s, y = t * d, g - g_prev
    if y @ s < 0:
        g_prev, y = g + y, -y  # keep the curvature condition y.s > 0
    state = {"n_iter": 2, "H": H.copy(), "d": d, "t": t, "prev_flat_grad": g_prev}
    direction = opt._direction(state, g)
    expected = _bfgs_update(H, s, y)
    np.testing.assert_allclose(state["H"], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state["H"] @ y, s, rtol=1e-12, atol=1e-12)  # secant
    np.testing.assert_allclose(direction, -expected @ g, rtol=1e-12, atol=1e-12)
    assert np.linalg.eigvalsh(state["H"]).min() > 0

    # before the first update H_0 = (y.s / y.y) I (first-step scaling)
    state = {"n_iter": 2, "H": None, "d": d, "t": t, "prev_flat_grad": g_prev}
    opt._direction(state, g)
    expected = _bfgs_update((y @ s) / (y @ y) * np.eye(4), s, y)
    np.testing.assert_allclose(state["H"], expected, rtol=1e-12, atol=1e-14)


def test_bfgs_solves_a_quadratic():
    A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    b = np.array([1.0, -1.0, 2.0])
    x = bricks.zeros(3, dtype=f64, requires_grad=True)
    At, bt = bricks.tensor(A), bricks.tensor(b)
    opt = BFGS([x], max_iter=50, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x * (At @ x)).sum() - (bt * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.data, np.linalg.solve(A, b), atol=1e-10)
    assert opt.state[x]["n_iter"] <= 15  # measured: 11
    H = opt.state[x]["H"]
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    # H approximates A^{-1}: the eigenvalues of H A are near 1
    assert np.abs(np.linalg.eigvals(H @ A) - 1).max() < 0.2


def test_cg_is_linear_cg_on_a_quadratic():
    # on a quadratic with exact line searches CG ends in n iterations
    A = np.diag([1.0, 4.0, 9.0, 16.0])
    x = bricks.ones(4, dtype=f64, requires_grad=True)
    At = bricks.tensor(A)
    for beta in ("fletcher-reeves", "polak-ribiere"):
        x.data[...] = 1.0
        opt = ConjugateGradient([x], beta=beta, max_iter=20, tolerance_grad=1e-9,
                                tolerance_change=1e-15, c1=1e-7, c2=1e-6)

        def closure(opt=opt):
            opt.zero_grad()
            loss = 0.5 * (x * (At @ x)).sum()
            loss.backward()
            return loss

        opt.step(closure)
        assert np.abs(x.data).max() < 1e-8
        assert opt.state[x]["n_iter"] <= 6


# ---------------------------------------------------------------- Newton


def _logistic_closure(w, b, X, y):
    def closure():  # no backward: Newton differentiates the loss itself
        z = X @ w + b
        return F.binary_cross_entropy_with_logits(z, y) + ALPHA / 2 * (w * w).sum()
    return closure


def test_newton_logistic_regression_reaches_the_optimum_in_10_iterations():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    X, y = _logistic_data()
    w = bricks.zeros(3, dtype=f64, requires_grad=True)
    b = bricks.zeros(1, dtype=f64, requires_grad=True)
    opt = Newton([w, b])
    closure = _logistic_closure(w, b, bricks.tensor(X), bricks.tensor(y))
    norms = []
    for _ in range(10):
        opt.step(closure)
        theta = np.r_[w.data, b.data]
        norms.append(np.linalg.norm(_logistic_numpy(theta, X, y)[1]))
        if norms[-1] < 1e-8:
            break
    assert norms[-1] < 1e-8, norms
    assert len(norms) <= 10
    # quadratic convergence: the last steps square the gradient norm (up to a constant)
    assert norms[-1] < 10 * norms[-2] ** 2 or norms[-1] < 1e-14

    theta = np.r_[w.data, b.data]
    reference = _irls(X, y)
    np.testing.assert_allclose(theta, reference, rtol=0, atol=1e-6)
    for _ in range(2):  # quadratic convergence: two more steps reach machine precision
        opt.step(closure)
    theta = np.r_[w.data, b.data]
    np.testing.assert_allclose(theta, reference, rtol=0, atol=1e-13)
    ref = scipy_optimize.minimize(lambda t: _logistic_numpy(t, X, y)[0], np.zeros(4),
                                  jac=lambda t: _logistic_numpy(t, X, y)[1],
                                  method="BFGS", options={"gtol": 1e-11})
    assert ref.success
    np.testing.assert_allclose(theta, ref.x, rtol=0, atol=1e-9)


def test_newton_hessian_equals_torch():
    X, y = _logistic_data(40, seed=3)
    w = bricks.tensor([0.3, -0.2, 0.1], dtype=f64, requires_grad=True)
    b = bricks.tensor([0.05], dtype=f64, requires_grad=True)
    opt = Newton([w, b])
    loss = _logistic_closure(w, b, bricks.tensor(X), bricks.tensor(y))()
    from bricks.optim.newton import _graph_grads
    H = opt._hessian(_graph_grads(loss, [w, b], "Newton"))

    tX, ty = torch.tensor(X), torch.tensor(y)

    def tloss(theta):
        z = tX @ theta[:3] + theta[3]
        return (torch.nn.functional.binary_cross_entropy_with_logits(z, ty)
                + ALPHA / 2 * (theta[:3] ** 2).sum())

    ref = torch.autograd.functional.hessian(tloss, torch.tensor([0.3, -0.2, 0.1, 0.05],
                                                                dtype=torch.float64))
    np.testing.assert_allclose(H, ref.numpy(), rtol=1e-12, atol=1e-14)


def test_newton_damping_handles_an_indefinite_hessian():
    # f = x^4 - 2 x^2 + y^2 at (0.2, 1): H has a negative eigenvalue; pure Newton would head
    # for the saddle at 0, damped Newton goes downhill to a minimum (+-1, 0)
    v = bricks.tensor([0.2, 1.0], dtype=f64, requires_grad=True)
    opt = Newton([v], damping=0.0)

    def closure():
        return v[0] ** 4 - 2 * v[0] ** 2 + v[1] ** 2

    losses = [float(closure())]
    for _ in range(40):
        opt.step(closure)
        losses.append(float(closure()))
    assert all(b <= a + 1e-15 for a, b in zip(losses, losses[1:]))  # monotone
    np.testing.assert_allclose(v.data, [1.0, 0.0], atol=1e-8)
    assert losses[-1] == pytest.approx(-1.0, abs=1e-14)


# ---------------------------------------------------------------- Hessian-free


def _curvature_setup():
    rng = np.random.default_rng(5)
    X, Y = bricks.tensor(rng.normal(size=(7, 2))), bricks.tensor(rng.normal(size=(7, 2)))
    model = nn.Sequential(nn.Linear(2, 3, dtype=f64), nn.Tanh(), nn.Linear(3, 2, dtype=f64))
    params = list(model.parameters())
    flat0 = np.concatenate([p.data.reshape(-1) for p in params])
    v = rng.normal(size=flat0.size)

    def torch_fn(flat):
        W1, b1 = flat[:6].reshape(3, 2), flat[6:9]
        W2, b2 = flat[9:15].reshape(2, 3), flat[15:17]
        out = torch.tanh(torch.tensor(X.data) @ W1.T + b1) @ W2.T + b2
        return out, torch.log1p((out - torch.tensor(Y.data)) ** 2).mean()

    return model, X, Y, params, flat0, v, torch_fn


def test_hessian_free_curvature_products_equal_torch():
    model, X, Y, params, flat0, v, torch_fn = _curvature_setup()
    out = model(X)
    loss = bricks.log1p((out - Y) ** 2).mean()  # a non-quadratic loss: H_L is not constant
    opt = HessianFree(params, curvature="gauss-newton")
    gv = opt._gauss_newton_product(loss, out)(v)

    t0 = torch.tensor(flat0)
    J = torch.autograd.functional.jacobian(lambda f: torch_fn(f)[0], t0).reshape(14, -1)
    out_t = torch_fn(t0)[0].detach()
    HL = torch.autograd.functional.hessian(
        lambda o: torch.log1p((o - torch.tensor(Y.data)) ** 2).mean(), out_t).reshape(14, 14)
    np.testing.assert_allclose(gv, (J.T @ HL @ J @ torch.tensor(v)).numpy(), rtol=1e-10,
                               atol=1e-13)

    from bricks.optim.newton import _graph_grads
    loss = bricks.log1p((model(X) - Y) ** 2).mean()
    hv = opt._hessian_product(_graph_grads(loss, params, "HessianFree"))(v)
    H = torch.autograd.functional.hessian(lambda f: torch_fn(f)[1], t0)
    np.testing.assert_allclose(hv, (H @ torch.tensor(v)).numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.slow
def test_hessian_free_trains_an_mlp_much_faster_than_adam():
    X, y = _sine_data()
    target = 1e-5

    model = _mlp()
    opt = HessianFree(model.parameters(), curvature="gauss-newton", cg_max_iter=50)

    def closure():
        out = model(X).reshape(-1)
        return F.mse_loss(out, y), out

    hf_steps = None
    for k in range(1, 61):
        if float(opt.step(closure)) < target:
            hf_steps = k
            break
    assert hf_steps is not None and hf_steps <= 60
    assert float(closure()[0]) < target

    # Adam from the same initial weights, at three learning rates, 40x the steps
    for lr in (0.003, 0.01, 0.03):
        model = _mlp()
        adam = optim.Adam(model.parameters(), lr=lr)
        for _ in range(40 * hf_steps):
            adam.zero_grad()
            loss = F.mse_loss(model(X).reshape(-1), y)
            loss.backward()
            adam.step()
        assert float(loss) > 2 * target, lr


def test_hessian_free_with_the_hessian_trains_a_classifier():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, np.pi, 100)
    X = np.concatenate([np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)]])
    X = bricks.tensor(X + 0.1 * rng.normal(size=(200, 2)))
    y = bricks.tensor(np.r_[np.zeros(100), np.ones(100)])
    model = _mlp()
    opt = HessianFree(model.parameters(), curvature="hessian", cg_max_iter=50)

    def closure():
        return F.binary_cross_entropy_with_logits(model(X).reshape(-1), y)

    losses = [float(opt.step(closure)) for _ in range(30)]
    assert losses[-1] < 0.01
    assert float(closure()) < 0.01
    assert opt.state[next(iter(model.parameters()))]["func_evals"] <= 120


# ---------------------------------------------------------------- one closure for all


ALL_CLOSURE_OPTIMIZERS = [
    (LBFGS, {"max_iter": 5}), (LBFGS, {"max_iter": 5, "line_search_fn": "strong_wolfe"}),
    (BFGS, {"max_iter": 5}), (ConjugateGradient, {"max_iter": 5}),
    (Newton, {"damping": 1e-2}), (HessianFree, {"cg_max_iter": 20, "damping": 1e-2}),
]


@pytest.mark.parametrize("kind", ["backward", "loss"])
@pytest.mark.parametrize("cls,kw", ALL_CLOSURE_OPTIMIZERS,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in
                              enumerate(ALL_CLOSURE_OPTIMIZERS)])
def test_every_closure_optimizer_takes_the_same_closure(cls, kw, kind):
    """Swapping LBFGS for any other closure optimizer needs no change to the closure:
    PyTorch's (zero_grad, loss, backward, return loss) and a loss-only one both work."""
    X, y = _sine_data(40, seed=2)
    model = _mlp(hidden=4)
    opt = cls(model.parameters(), **kw)
    closure = _quadratic_mlp_closure(model, X, y, opt, kind)
    with bricks.no_grad():
        start = float(F.mse_loss(model(X).reshape(-1), y))
    losses = [float(opt.step(closure)) for _ in range(8)]
    assert losses[0] == pytest.approx(start, rel=1e-12)
    with bricks.no_grad():
        end = float(F.mse_loss(model(X).reshape(-1), y))
    assert end < 0.75 * start
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_pytorch_style_and_loss_only_closures_give_the_same_newton_steps():
    X, y = _sine_data(30, seed=3)
    runs = []
    for kind in ("backward", "loss"):
        model = _mlp(hidden=3)
        opt = Newton(model.parameters(), damping=1e-2)
        closure = _quadratic_mlp_closure(model, X, y, opt, kind)
        for _ in range(3):
            opt.step(closure)
        runs.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_a_pytorch_style_closure_still_leaves_the_gradient_in_grad():
    w = bricks.tensor([-1.2, 1.0], dtype=f64, requires_grad=True)
    opt = LBFGS([w], max_iter=1)
    opt.step(lambda: rosenbrock(w))  # loss only: LBFGS computes the gradient itself
    assert w.grad is not None and w.grad.shape == (2,)
    assert not np.allclose(w.data, [-1.2, 1.0])


# ---------------------------------------------------------------- state_dict resume


def _quadratic_mlp_closure(model, X, y, opt, kind):
    def closure():
        if kind == "backward":
            opt.zero_grad()
            loss = F.mse_loss(model(X).reshape(-1), y)
            loss.backward()
            return loss
        out = model(X).reshape(-1)
        loss = F.mse_loss(out, y)
        return (loss, out) if kind == "gn" else loss
    return closure


RESUME_CASES = [
    (LBFGS, {"max_iter": 3, "history_size": 4}, "backward"),
    (LBFGS, {"max_iter": 3, "line_search_fn": "strong_wolfe"}, "backward"),
    (BFGS, {"max_iter": 3}, "backward"),
    (ConjugateGradient, {"max_iter": 3, "restart": 4}, "backward"),
    (ConjugateGradient, {"max_iter": 3, "beta": "fletcher-reeves"}, "backward"),
    (Newton, {"damping": 1.0}, "loss"),
    (HessianFree, {"cg_max_iter": 10}, "loss"),
    (HessianFree, {"cg_max_iter": 10, "curvature": "gauss-newton"}, "gn"),
]


@pytest.mark.parametrize("cls,kw,kind", RESUME_CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(RESUME_CASES)])
def test_state_dict_resume_gives_the_same_trajectory(cls, kw, kind):
    X, y = _sine_data(40, seed=1)

    def run(steps, model, opt):
        closure = _quadratic_mlp_closure(model, X, y, opt, kind)
        for _ in range(steps):
            opt.step(closure)

    straight = _mlp(hidden=4)
    opt = cls(straight.parameters(), **kw)
    run(6, straight, opt)

    first = _mlp(hidden=4)
    opt1 = cls(first.parameters(), **kw)
    run(3, first, opt1)
    snapshot = opt1.state_dict()
    weights = [p.data.copy() for p in first.parameters()]
    run(2, first, opt1)  # going on must not change the snapshot

    resumed = _mlp(hidden=4, seed=1)
    for p, saved in zip(resumed.parameters(), weights):
        p.data[...] = saved
    opt2 = cls(resumed.parameters(), **{k: v for k, v in kw.items() if k != "max_iter"})
    opt2.load_state_dict(copy.deepcopy(snapshot))
    assert opt2.param_groups[0].get("max_iter") == opt.param_groups[0].get("max_iter")
    run(3, resumed, opt2)

    for p, q in zip(resumed.parameters(), straight.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    s1 = opt.state[next(iter(straight.parameters()))]
    s2 = opt2.state[next(iter(resumed.parameters()))]
    assert s1["n_iter"] == s2["n_iter"] > 0
    assert s1["func_evals"] == s2["func_evals"]


def test_lbfgs_state_dict_layout_is_torchs():
    w = bricks.tensor([-1.2, 1.0], dtype=f64, requires_grad=True)
    b = bricks.zeros(1, dtype=f64, requires_grad=True)
    opt = LBFGS([w, b], max_iter=4)

    def closure():
        opt.zero_grad()
        loss = rosenbrock(w) + (b * b).sum()
        loss.backward()
        return loss

    opt.step(closure)
    sd = opt.state_dict()
    assert list(sd["state"]) == [0]
    assert {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
            "prev_flat_grad", "prev_loss", "al"} <= set(sd["state"][0])
    assert sd["state"][0]["d"].shape == (3,)
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["max_eval"] == 5
    before = sd["state"][0]["d"].copy()
    opt.step(closure)
    np.testing.assert_array_equal(sd["state"][0]["d"], before)  # a snapshot, not a view


# ---------------------------------------------------------------- errors


ALL = [LBFGS, BFGS, ConjugateGradient, Newton, HessianFree]


@pytest.mark.parametrize("cls", ALL, ids=[c.__name__ for c in ALL])
def test_step_requires_a_closure(cls):
    w = bricks.zeros(2, requires_grad=True)
    opt = cls([w])
    with pytest.raises(TypeError, match=rf"{cls.__name__}\.step\(\) needs a closure"):
        opt.step()
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step(3.0)


@pytest.mark.parametrize("cls", ALL, ids=[c.__name__ for c in ALL])
def test_one_parameter_group_only(cls):
    a, b = bricks.zeros(2, requires_grad=True), bricks.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        cls([{"params": [a]}, {"params": [b]}])
    opt = cls([a])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [b]})


@pytest.mark.parametrize("cls,kwargs,name", [
    (LBFGS, {"lr": -1.0}, "lr"),
    (LBFGS, {"max_iter": 0}, "max_iter"),
    (LBFGS, {"history_size": 0}, "history_size"),
    (LBFGS, {"tolerance_grad": -1.0}, "tolerance_grad"),
    (LBFGS, {"line_search_fn": "armijo"}, "line_search_fn"),
    (BFGS, {"lr": float("nan")}, "lr"),
    (BFGS, {"c1": 0.0}, "c1"),
    (BFGS, {"c1": 0.5, "c2": 0.1}, "c2"),
    (BFGS, {"c2": 1.0}, "c2"),
    (BFGS, {"max_params": 0}, "max_params"),
    (ConjugateGradient, {"beta": "hestenes-stiefel"}, "beta"),
    (ConjugateGradient, {"restart": 0}, "restart"),
    (ConjugateGradient, {"max_eval": 2.5}, "max_eval"),
    (Newton, {"damping": -1.0}, "damping"),
    (Newton, {"damping_factor": 1.0}, "damping_factor"),
    (Newton, {"lr": 0.0}, "lr"),
    (Newton, {"max_params": -3}, "max_params"),
    (HessianFree, {"curvature": "fisher"}, "curvature"),
    (HessianFree, {"cg_max_iter": 0}, "cg_max_iter"),
    (HessianFree, {"cg_decay": 1.5}, "cg_decay"),
    (HessianFree, {"damping": -0.1}, "damping"),
])
def test_invalid_hyperparameters_name_the_argument(cls, kwargs, name):
    w = bricks.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=rf"invalid {name}="):
        cls([w], **kwargs)


@pytest.mark.parametrize("cls,default", [(BFGS, 5000), (Newton, 2000)])
def test_max_params(cls, default):
    cls([bricks.zeros(default, requires_grad=True)])  # at the limit: accepted
    with pytest.raises(ValueError, match=rf"has {default + 1} parameters, more than "
                                         rf"max_params={default}"):
        cls([bricks.zeros(default, requires_grad=True), bricks.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="has 11 parameters, more than max_params=10"):
        cls([bricks.zeros((2, 5), requires_grad=True), bricks.zeros(1, requires_grad=True)],
            max_params=10)


def test_newton_explains_the_closure_contract():
    w = bricks.tensor([1.0, 2.0], dtype=f64, requires_grad=True)
    opt = Newton([w])

    def with_backward():
        loss = (w ** 4).sum()
        loss.backward()
        return loss

    opt.step(with_backward)  # PyTorch's closure convention works too (issue 10.2)
    assert w.tolist() != [1.0, 2.0]
    with pytest.raises(RuntimeError, match="has no graph"):
        opt.step(lambda: (w.detach() ** 2).sum())
    with pytest.raises(TypeError, match="single-element Tensor"):
        opt.step(lambda: 3.0)


def test_hessian_free_gauss_newton_needs_the_outputs():
    w = bricks.tensor([1.0, 2.0], dtype=f64, requires_grad=True)
    opt = HessianFree([w], curvature="gauss-newton")
    with pytest.raises(TypeError, match=r"must return \(loss, outputs\)"):
        opt.step(lambda: (w ** 2).sum())
    with pytest.raises(TypeError, match=r"\(loss, outputs\)"):
        opt.step(lambda: ((w ** 2).sum(), 3.0))


def test_second_order_optimizers_run_inside_no_grad():
    w = bricks.tensor([-1.2, 1.0], dtype=f64, requires_grad=True)
    opt = Newton([w])
    with bricks.no_grad():
        for _ in range(30):
            opt.step(lambda: rosenbrock(w))
    np.testing.assert_allclose(w.data, [1.0, 1.0], atol=1e-8)
    assert math.isfinite(opt.state[w]["damping"])
