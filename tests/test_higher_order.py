"""vjp, jvp, hvp, jacobian, hessian against torch.autograd.functional; known Hessians;
double backward through an MLP against PyTorch."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import bricks
from bricks import hessian, hvp, jacobian, jvp, vjp


def _t(a):
    return bricks.tensor(np.asarray(a, dtype=np.float64))


def _tt(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


def _close(mine, theirs, **kw):
    kw.setdefault("rtol", 1e-10)
    kw.setdefault("atol", 1e-12)
    if isinstance(theirs, (tuple, list)):
        assert isinstance(mine, (tuple, list)) and len(mine) == len(theirs)
        for m, t in zip(mine, theirs):
            _close(m, t, **kw)
        return
    assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), **kw)


# Functions written once, run with either library (method calls only).
def f_vec(x):  # R^3 -> R^3
    return (x.sin() * x + x ** 3).tanh() * 2


def f_two(x, y):  # (R^3, R^3) -> R^3
    return x * y.exp() + (x * x).sum()


def f_scalar(x):  # R^3 -> R
    return (x.exp() * x.sin()).sum() + (x * x).sum() ** 2


def f_scalar_two(x, y):  # (R^3, R^3) -> R
    return (x * y * y).sum() + (x.sin() * y.cos()).sum()


def f_matrix(w):  # R^{2x3} -> R^{2x2}
    return (w @ w.T).tanh()


_rng = np.random.default_rng(0)
X = _rng.standard_normal(3)
Y = _rng.standard_normal(3)
V = _rng.standard_normal(3)
W = _rng.standard_normal((2, 3))


def test_vjp_matches_torch():
    out, g = vjp(f_vec, _t(X), _t(V))
    tout, tg = TF.vjp(f_vec, _tt(X), _tt(V))
    _close(out, tout)
    _close(g, tg)
    assert not g.requires_grad and not out.requires_grad
    out, gs = vjp(f_two, (_t(X), _t(Y)), _t(V))
    _close(gs, TF.vjp(f_two, (_tt(X), _tt(Y)), _tt(V))[1])
    _, gm = vjp(f_matrix, _t(W), _t(np.eye(2)))
    _close(gm, TF.vjp(f_matrix, _tt(W), _tt(np.eye(2)))[1])


def test_vjp_of_scalar_without_v():
    out, g = vjp(f_scalar, _t(X))
    _close(g, TF.vjp(f_scalar, _tt(X))[1])
    _close(out, f_scalar(_tt(X)))


def test_jvp_matches_torch():
    out, jv = jvp(f_vec, _t(X), _t(V))
    tout, tjv = TF.jvp(f_vec, _tt(X), _tt(V))
    _close(out, tout)
    _close(jv, tjv)
    _, jv2 = jvp(f_two, (_t(X), _t(Y)), (_t(V), _t(X)))
    _close(jv2, TF.jvp(f_two, (_tt(X), _tt(Y)), (_tt(V), _tt(X)))[1])
    _, jvm = jvp(f_matrix, _t(W), _t(np.ones((2, 3))))
    _close(jvm, TF.jvp(f_matrix, _tt(W), _tt(np.ones((2, 3))))[1])


def test_hvp_matches_torch():
    out, hv = hvp(f_scalar, _t(X), _t(V))
    tout, thv = TF.hvp(f_scalar, _tt(X), _tt(V))
    _close(out, tout)
    _close(hv, thv)
    _, hv2 = hvp(f_scalar_two, (_t(X), _t(Y)), (_t(V), _t(Y)))
    _close(hv2, TF.hvp(f_scalar_two, (_tt(X), _tt(Y)), (_tt(V), _tt(Y)))[1])


@pytest.mark.parametrize("func, args", [
    (f_vec, (X,)), (f_two, (X, Y)), (f_matrix, (W,)), (f_scalar, (X,)),
])
def test_jacobian_matches_torch(func, args):
    mine = jacobian(func, _t(args[0]) if len(args) == 1 else tuple(_t(a) for a in args))
    theirs = TF.jacobian(func, _tt(args[0]) if len(args) == 1 else tuple(_tt(a) for a in args))
    _close(mine, theirs)


def test_jacobian_of_several_outputs_matches_torch():
    def g(x, y):
        return x * y, (x + y).sin()

    mine = jacobian(g, (_t(X), _t(Y)))
    theirs = TF.jacobian(g, (_tt(X), _tt(Y)))
    _close(mine, theirs)


@pytest.mark.parametrize("func, args", [(f_scalar, (X,)), (f_scalar_two, (X, Y))])
def test_hessian_matches_torch(func, args):
    mine = hessian(func, _t(args[0]) if len(args) == 1 else tuple(_t(a) for a in args))
    theirs = TF.hessian(func, _tt(args[0]) if len(args) == 1 else tuple(_tt(a) for a in args))
    _close(mine, theirs)


def test_hessian_of_matrix_input_matches_torch():
    f = lambda w: (w @ w.T).tanh().sum()  # noqa: E731
    mine, theirs = hessian(f, _t(W)), TF.hessian(f, _tt(W))
    assert mine.shape == (2, 3, 2, 3)
    _close(mine, theirs)


def _rosenbrock(x):
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def _rosenbrock_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 2 - 400 * (x[i + 1] - 3 * x[i] ** 2)
        h[i, i + 1] += -400 * x[i]
        h[i + 1, i] += -400 * x[i]
        h[i + 1, i + 1] += 200
    return h


@pytest.mark.parametrize("point", [[-1.2, 1.0], [1.0, 1.0], [0.5, -0.3, 2.0, 1.1]])
def test_rosenbrock_hessian_is_analytic(point):
    h = hessian(_rosenbrock, _t(point))
    np.testing.assert_allclose(h.numpy(), _rosenbrock_hessian(point), rtol=1e-12, atol=1e-10)
    _, g = vjp(_rosenbrock, _t(point))
    x, y = point[0], point[1]
    if len(point) == 2:
        expected = [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_rosenbrock_newton_step_from_hessian_reaches_minimum_of_quadratic():
    # One Newton step on a quadratic lands on its minimum exactly.
    a = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    f = lambda x: 0.5 * (x @ (_t(a) @ x)) - (_t(b) * x).sum()  # noqa: E731
    x0 = _t([5.0, -7.0])
    h = hessian(f, x0)
    _, g = vjp(f, x0)
    step = np.linalg.solve(h.numpy(), g.numpy())
    np.testing.assert_allclose(x0.numpy() - step, np.linalg.solve(a, b), rtol=1e-12)


def test_create_graph_results_are_differentiable():
    x = bricks.tensor(X, requires_grad=True)
    _, g = vjp(f_scalar, x, create_graph=True)
    assert g.requires_grad
    (h_row,) = bricks.grad(g[0], x)
    np.testing.assert_allclose(h_row.numpy(), TF.hessian(f_scalar, _tt(X))[0].numpy(),
                               rtol=1e-10)
    _, hv = hvp(f_scalar, x, _t(V), create_graph=True)
    assert hv.requires_grad


def test_higher_order_does_not_touch_dot_grad_and_does_not_need_requires_grad():
    x = _t(X)
    hessian(f_scalar, x)
    jacobian(f_vec, x)
    hvp(f_scalar, x, _t(V))
    assert x.grad is None and not x.requires_grad
    p = bricks.tensor(X, requires_grad=True)
    hessian(f_scalar, p)
    assert p.grad is None


def test_unused_input_gives_zeros():
    f = lambda x, y: (x * x).sum()  # noqa: E731
    _, (gx, gy) = vjp(f, (_t(X), _t(Y)))
    assert gy.tolist() == [0.0, 0.0, 0.0]
    hxx, hxy = hessian(f, (_t(X), _t(Y)))[0]
    np.testing.assert_allclose(hxx.numpy(), 2 * np.eye(3))
    assert not hxy.numpy().any()


def test_higher_order_argument_errors():
    with pytest.raises(RuntimeError, match="v 0 has shape \\(2,\\), expected \\(3,\\)"):
        vjp(f_vec, _t(X), _t([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="single-element"):
        hessian(f_vec, _t(X))
    with pytest.raises(RuntimeError, match="single-element"):
        hvp(f_vec, _t(X), _t(V))
    with pytest.raises(TypeError, match="expected a Tensor"):
        jacobian(f_vec, [1.0, 2.0])


# ---------------------------------------------------------------- double backward, MLP


def test_double_backward_through_mlp_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3))
    params = [rng.standard_normal(s) * 0.5 for s in [(3, 6), (6,), (6, 6), (6,), (6, 1), (1,)]]
    target = rng.standard_normal((8, 1))

    def run(tensor, grad):
        ps = [tensor(p, requires_grad=True) for p in params]
        xx, tt = tensor(x, requires_grad=True), tensor(target)
        h = (xx @ ps[0] + ps[1]).tanh()
        h = (h @ ps[2] + ps[3]).sigmoid()
        out = h @ ps[4] + ps[5]
        loss = ((out - tt) ** 2).mean()
        gs = grad(loss, ps + [xx], create_graph=True)
        # The squared gradient norm (a gradient penalty) and its own gradient.
        penalty = sum((g * g).sum() for g in gs)
        return loss, gs, grad(penalty, ps + [xx])

    bl, bg, bs = run(bricks.tensor, bricks.grad)
    tl, tg, ts = run(torch.tensor, torch.autograd.grad)
    assert bl.item() == pytest.approx(tl.item(), rel=1e-12)
    _close(list(bg), list(tg), rtol=1e-9, atol=1e-12)
    _close(list(bs), list(ts), rtol=1e-9, atol=1e-12)


def test_hessian_of_mlp_loss_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2))
    y = rng.standard_normal(5)
    w0 = rng.standard_normal(2 * 4 + 4)

    def loss(w):
        h = (x_ @ w[:8].reshape(2, 4)).tanh()
        return ((h @ w[8:] - y_) ** 2).mean()

    x_, y_ = _t(x), _t(y)
    mine = hessian(loss, _t(w0))
    x_, y_ = _tt(x), _tt(y)
    theirs = TF.hessian(loss, _tt(w0))
    _close(mine, theirs, rtol=1e-9)
    np.testing.assert_allclose(mine.numpy(), mine.numpy().T, atol=1e-12)


# ---------------------------------------------------------------- issue 10.1: piecewise ops


PIECEWISE = {
    "abs": lambda t: t.abs().sum(),
    "relu": lambda t: t.relu().sum(),
    "clamp": lambda t: t.clamp(-0.5, 0.5).sum(),
    "sign": lambda t: (t.sign() * 3).sum(),
    "floor": lambda t: t.floor().sum(),
    "round": lambda t: t.round().sum(),
    "max": lambda t: t.max(),
    "max_dim": lambda t: t.reshape(2, 3).max(dim=1)[0].sum(),
    "maximum": lambda t: t.maximum(t * 0.5).sum(),
    "linear": lambda t: (t * 2).sum(),
    "norm1": lambda t: t.norm(p=1),
}


def _where(t, lib):
    return lib.where(t > 0, t, 2 * t).sum()


@pytest.mark.parametrize("name", list(PIECEWISE) + ["where"])
def test_create_graph_through_piecewise_ops_is_differentiable(name):
    """grad(create_graph=True) always gives a differentiable result; its Hessian is 0."""
    x0 = np.array([-1.3, -0.2, 0.4, 0.7, 1.6, 2.2])
    f = PIECEWISE[name] if name != "where" else (lambda t: _where(t, bricks))
    x = _t(x0).requires_grad_()
    (g,) = bricks.grad(f(x), x, create_graph=True)
    assert g.requires_grad
    (h,) = bricks.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), np.zeros(6))
    ft = PIECEWISE[name] if name != "where" else (lambda t: _where(t, torch))
    xt = _tt(x0).requires_grad_()
    (gt,) = torch.autograd.grad(ft(xt), xt, create_graph=True)
    _close(g, gt)
    _close(hessian(f, _t(x0)), TF.hessian(ft, _tt(x0)))


def test_hessian_of_relu_and_abs_is_zero_as_in_torch():
    x = _t([-1.0, 0.5, 2.0])
    _close(hessian(lambda t: bricks.relu(t).sum(), x),
           TF.hessian(lambda t: torch.relu(t).sum(), _tt([-1.0, 0.5, 2.0])))
    (g,) = bricks.grad(bricks.abs(x.requires_grad_()).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None


def _relu_net(lib, x, w1, b1, w2, b2):
    h = lib.relu(x @ w1.T + b1)
    return (lib.tanh(h @ w2.T + b2) ** 2).sum()


def test_hessians_of_relu_network_match_torch():
    """Hessians of a ReLU network w.r.t. its input and its weights, against PyTorch."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(2, 3))
    w = [rng.normal(size=(4, 3)), rng.normal(size=(4,)), rng.normal(size=(2, 4)),
         rng.normal(size=(2,))]
    mine = [_t(a) for a in w]
    theirs = [_tt(a) for a in w]
    # w.r.t. the input: ReLU contributes 0, tanh does not
    _close(hessian(lambda x: _relu_net(bricks, x, *mine), _t(x0)),
           TF.hessian(lambda x: _relu_net(torch, x, *theirs), _tt(x0)))
    # a purely piecewise-linear network: the input Hessian is exactly 0 (torch agrees)
    def lin(lib, x, ws):
        return (lib.relu(x @ ws[0].T + ws[1]) @ ws[2].T).sum()
    hx = hessian(lambda x: lin(bricks, x, mine), _t(x0))
    _close(hx, TF.hessian(lambda x: lin(torch, x, theirs), _tt(x0)))
    assert not hx.numpy().any()
    # w.r.t. all the weights at once
    _close(hessian(lambda *ws: _relu_net(bricks, _t(x0), *ws), tuple(mine)),
           TF.hessian(lambda *ws: _relu_net(torch, _tt(x0), *ws), tuple(theirs)))
    # double backward by hand: d/dW1 of (d loss / dx) . v
    xs = _t(x0).requires_grad_()
    ws = [a.detach().requires_grad_() for a in mine]
    (gx,) = bricks.grad(lin(bricks, xs, ws), xs, create_graph=True)
    hw = bricks.grad((gx * gx).sum(), [xs] + ws, allow_unused=True)
    xt = _tt(x0).requires_grad_()
    wt = [a.detach().requires_grad_() for a in theirs]
    (gxt,) = torch.autograd.grad(lin(torch, xt, wt), xt, create_graph=True)
    ht = torch.autograd.grad((gxt * gxt).sum(), [xt] + wt, allow_unused=True)
    for a, b in zip(hw, ht):
        if b is None:
            assert a is None or not a.numpy().any()
        else:
            _close(a, b)


def test_jacobian_and_hessian_of_constant_parts_are_zero_as_in_torch():
    x0 = [0.5, -2.0]
    _close(jacobian(lambda t: bricks.ones(3, dtype=bricks.float64), _t(x0)),
           TF.jacobian(lambda t: torch.ones(3, dtype=torch.float64), _tt(x0)))
    _close(hessian(lambda t: t.sum(), _t(x0)), TF.hessian(lambda t: t.sum(), _tt(x0)))
