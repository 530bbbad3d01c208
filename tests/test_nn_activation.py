"""Activations (bricks.nn.activation) against torch.nn / torch.nn.functional.

One table, ``ROWS``, lists every activation with every option; each row is checked in
functional and module form for forward, input gradient and double backward against PyTorch
(float64 tight, float32), by gradcheck/gradgradcheck, and at large |x| for finiteness.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import bricks
from bricks import nn
from bricks.nn import functional as F
from bricks.nn.activation import SELU_ALPHA, SELU_SCALE
from bricks.testing import gradcheck, gradgradcheck

# Tolerances for (forward, derivatives).  float32 derivatives get more room: NumPy's float32
# tanh may be 1 ulp below 1 where PyTorch's rounds to 1, and 1 - tanh² magnifies that.
DTYPES = {
    "float64": (bricks.float64, torch.float64,
                (dict(rtol=1e-10, atol=1e-12), dict(rtol=1e-10, atol=1e-12))),
    "float32": (bricks.float32, torch.float32,
                (dict(rtol=1e-5, atol=1e-6), dict(rtol=1e-4, atol=2e-5))),
}

# (id, Module name in bricks.nn and torch.nn, function name in F and torch's F, kwargs)
ROWS = [
    ("sigmoid", "Sigmoid", "sigmoid", {}),
    ("tanh", "Tanh", "tanh", {}),
    ("relu", "ReLU", "relu", {}),
    ("leaky_relu", "LeakyReLU", "leaky_relu", {}),
    ("leaky_relu-0.2", "LeakyReLU", "leaky_relu", {"negative_slope": 0.2}),
    ("leaky_relu-1.5", "LeakyReLU", "leaky_relu", {"negative_slope": 1.5}),
    ("elu", "ELU", "elu", {}),
    ("elu-0.5", "ELU", "elu", {"alpha": 0.5}),
    ("elu-2", "ELU", "elu", {"alpha": 2.0}),
    ("selu", "SELU", "selu", {}),
    ("gelu", "GELU", "gelu", {}),
    ("gelu-tanh", "GELU", "gelu", {"approximate": "tanh"}),
    ("softplus", "Softplus", "softplus", {}),
    ("softplus-2-5", "Softplus", "softplus", {"beta": 2.0, "threshold": 5.0}),
    ("softplus-0.5-1", "Softplus", "softplus", {"beta": 0.5, "threshold": 1.0}),
    ("silu", "SiLU", "silu", {}),
    ("softsign", "Softsign", "softsign", {}),
    ("hardtanh", "Hardtanh", "hardtanh", {}),
    ("hardtanh-2-0.5", "Hardtanh", "hardtanh", {"min_val": -2.0, "max_val": 0.5}),
    ("mish", "Mish", "mish", {}),
    ("softmax-0", "Softmax", "softmax", {"dim": 0}),
    ("softmax-last", "Softmax", "softmax", {"dim": -1}),
    ("log_softmax-0", "LogSoftmax", "log_softmax", {"dim": 0}),
    ("log_softmax-last", "LogSoftmax", "log_softmax", {"dim": -1}),
]
ROW_IDS = [r[0] for r in ROWS]
SHAPES = [(), (7,), (3, 4), (2, 3, 5)]


def _fns(row, form):
    """The bricks and the torch callable for one row, in functional or module form."""
    _, module, function, kwargs = row
    if form == "module":
        return getattr(nn, module)(**kwargs), getattr(torch.nn, module)(**kwargs)
    tfn = getattr(torch, function) if function in ("sigmoid", "tanh") else getattr(TF, function)
    return (lambda x: getattr(F, function)(x, **kwargs)), (lambda x: tfn(x, **kwargs))


def _bricks_derivatives(fn, x, v, w, dtype):
    """Output, vector-Jacobian product with v, and d(w · vjp)/dx, as float64 arrays."""
    xb = bricks.tensor(x, dtype=dtype, requires_grad=True)
    vb = bricks.tensor(v, dtype=dtype, requires_grad=True)
    y = fn(xb)
    assert y.dtype == dtype and y.shape == xb.shape
    (g,) = bricks.grad(y, xb, vb, create_graph=True)
    (h,) = bricks.grad((g * bricks.tensor(w, dtype=dtype)).sum(), xb, allow_unused=True)
    h = np.zeros_like(x) if h is None else h.detach().numpy()
    return y.detach().numpy(), g.detach().numpy(), h


def _torch_derivatives(fn, x, v, w, dtype):
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    vt = torch.tensor(v, dtype=dtype, requires_grad=True)
    y = fn(xt)
    (g,) = torch.autograd.grad(y, xt, vt, create_graph=True)
    (h,) = torch.autograd.grad((g * torch.tensor(w, dtype=dtype)).sum(), xt, allow_unused=True)
    h = np.zeros_like(x) if h is None else h.detach().numpy()
    return y.detach().numpy(), g.detach().numpy(), h


def _compare(fn_b, fn_t, x, dtype_name, seed=0, double_mask=None):
    """Check forward, gradient and double backward against torch; ``double_mask`` limits the
    double-backward comparison to some elements.  Returns both libraries' results."""
    bd, td, (tol_y, tol_g) = DTYPES[dtype_name]
    rng = np.random.default_rng(seed)
    v, w = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    ours = _bricks_derivatives(fn_b, x, v, w, bd)
    theirs = _torch_derivatives(fn_t, x, v, w, td)
    np.testing.assert_allclose(ours[0], theirs[0], err_msg="forward", **tol_y)
    np.testing.assert_allclose(ours[1], theirs[1], err_msg="gradient", **tol_g)
    keep = np.ones(x.shape, bool) if double_mask is None else double_mask
    np.testing.assert_allclose(ours[2][keep], theirs[2][keep], err_msg="double backward",
                               **tol_g)
    return ours, theirs


# ------------------------------------------------------------------ the table against torch


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_matches_torch(row, shape, dtype_name, form):
    x = np.random.default_rng(len(shape)).standard_normal(shape) * 3
    _compare(*_fns(row, form), x, dtype_name)


def test_0d_float64_result_keeps_its_dtype():
    # A 0-d result must stay a 0-d array: a NumPy scalar would promote like a Python float.
    y = bricks.tensor(0.1, dtype=bricks.float64).exp()
    assert (1.0 - y).dtype == bricks.float64


def test_0d_float64_sigmoid_gradient():
    x = bricks.tensor(0.377, dtype=bricks.float64, requires_grad=True)
    F.sigmoid(x).backward()
    s = 1 / (1 + np.exp(-0.377))
    assert abs(x.grad.item() - s * (1 - s)) < 1e-14


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_non_contiguous_input(row):
    fn_b, fn_t = _fns(row, "functional")
    x = np.random.default_rng(1).standard_normal((3, 4)) * 3
    xb = bricks.tensor(x, dtype=bricks.float64, requires_grad=True)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yb, yt = fn_b(xb.T), fn_t(xt.T)
    (yb * bricks.tensor(x.T)).sum().backward()
    (yt * torch.tensor(x.T)).sum().backward()
    np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(xb.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


# Away from every kink (0, ±1, -2, 0.5, and threshold/beta = 20, 2.5, 2).
SMOOTH = np.array([[-2.7, -1.3, -0.4, 0.3], [0.8, 1.9, 3.1, -0.6], [1.2, -3.4, 0.05, 2.2]])


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_gradcheck_and_gradgradcheck(row):
    fn, _ = _fns(row, "functional")
    x = bricks.tensor(SMOOTH, dtype=bricks.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


# ------------------------------------------------------------------ large |x| and kinks

# ±1e4 and ±100 for stability; 0, ±1, -2, 0.5 and 2, 2.5, 20 are the kinks of the rows
# (relu, hardtanh, softplus's threshold / beta): the derivatives there follow PyTorch's.
EXTREME = np.array([-1e4, -100.0, -20.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 2.5, 20.0,
                    100.0, 1e4])


# Where PyTorch's second derivative takes the other side of a kink than its first derivative
# does: elu'(0) = α (the x <= 0 branch) but elu''(0) = 0 (the x > 0 branch); softplus at
# βx = threshold likewise.  bricks differentiates the branch it evaluates, so there
# elu''(0) = α and softplus'' = β σ'(threshold); these points are checked in
# test_second_derivative_at_kinks instead.
SECOND_DERIVATIVE_KINKS = {"elu": 0.0, "elu-0.5": 0.0, "elu-2": 0.0, "selu": 0.0,
                           "softplus": 20.0, "softplus-2-5": 2.5, "softplus-0.5-1": 2.0}


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_large_inputs_and_kinks(row, dtype_name):
    fn_b, fn_t = _fns(row, "module")
    x = EXTREME
    _, td, _ = DTYPES[dtype_name]
    theirs = _torch_derivatives(fn_t, x, np.ones_like(x), np.ones_like(x), td)
    # PyTorch's mish double backward is NaN at x = 1e4 (and 100 in float32): e^x overflows.
    mask = np.isfinite(theirs[2]) & (x != SECOND_DERIVATIVE_KINKS.get(row[0], np.nan))
    assert row[0] == "mish" or np.isfinite(theirs[2]).all()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        ours, _ = _compare(fn_b, fn_t, x, dtype_name, seed=3, double_mask=mask)
    for what, r in zip(("forward", "gradient", "double backward"), ours):
        assert np.isfinite(r).all(), what


@pytest.mark.parametrize("row", [r for r in ROWS if r[0] in SECOND_DERIVATIVE_KINKS],
                         ids=lambda r: r[0])
def test_second_derivative_at_kinks(row):
    kink = SECOND_DERIVATIVE_KINKS[row[0]]
    fn, _ = _fns(row, "functional")
    kwargs = row[3]
    x = bricks.tensor([kink], dtype=bricks.float64, requires_grad=True)
    (g,) = bricks.grad(fn(x).sum(), x, create_graph=True)
    (h,) = bricks.grad(g.sum(), x)
    if row[0].startswith("softplus"):
        beta = kwargs.get("beta", 1.0)
        e = np.exp(-beta * kink)
        expect_g, expect_h = 1 / (1 + e), beta * e / (1 + e) ** 2
    else:  # elu, selu: the x <= 0 branch, λ α e^x at x = 0
        scale, alpha = (SELU_SCALE, SELU_ALPHA) if row[0] == "selu" else (1.0, kwargs.get(
            "alpha", 1.0))
        expect_g = expect_h = scale * alpha
    np.testing.assert_allclose(g.item(), expect_g, rtol=1e-12)
    np.testing.assert_allclose(h.item(), expect_h, rtol=1e-12)


@pytest.mark.parametrize("dtype_name", list(DTYPES))
def test_stable_values_at_large_inputs(dtype_name):
    bd = DTYPES[dtype_name][0]
    x = bricks.tensor([-1e4, 1e4], dtype=bd, requires_grad=True)
    expect = {
        F.sigmoid: ([0, 1], [0, 0]), F.softplus: ([0, 1e4], [0, 1]), F.elu: ([-1, 1e4], [0, 1]),
        F.silu: ([0, 1e4], [0, 1]), F.mish: ([0, 1e4], [0, 1]), F.gelu: ([0, 1e4], [0, 1]),
        F.selu: ([-SELU_ALPHA * SELU_SCALE, 1e4 * SELU_SCALE], [0, SELU_SCALE]),
    }
    for fn, (value, slope) in expect.items():
        y = fn(x)
        (g,) = bricks.grad(y.sum(), x)
        np.testing.assert_allclose(y.detach().numpy(), value, rtol=1e-6, err_msg=fn.__name__)
        np.testing.assert_allclose(g.numpy(), slope, rtol=1e-6, err_msg=fn.__name__)
    y = F.softplus(x, beta=1.0, threshold=1e9)  # no linear shortcut: still finite
    (g,) = bricks.grad(y.sum(), x)
    assert y.tolist() == [0.0, 1e4] and g.tolist() == [0.0, 1.0]


# ------------------------------------------------------------------ PReLU


def _prelu_pair(num_parameters, slopes, dtype_name):
    bd, td, _ = DTYPES[dtype_name]
    bm = nn.PReLU(num_parameters, dtype=bd)
    tm = torch.nn.PReLU(num_parameters, dtype=td)
    with bricks.no_grad():
        bm.weight.copy_(bricks.tensor(slopes, dtype=bd))
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(slopes, dtype=td))
    return bm, tm


def _prelu_derivatives(lib, module, x, v, wx, ww, dtype):
    """y, (dx, dweight) for grad_output v, and d(wx · dx + ww · dweight)/d(x, weight)."""
    xs = lib.tensor(x, dtype=dtype, requires_grad=True)
    vs = lib.tensor(v, dtype=dtype, requires_grad=True)
    grad = bricks.grad if lib is bricks else torch.autograd.grad
    y = module(xs)
    gx, gw = grad(y, [xs, module.weight], vs, create_graph=True)
    s = (gx * lib.tensor(wx, dtype=dtype)).sum() + (gw * lib.tensor(ww, dtype=dtype)).sum()
    hx, hw = grad(s, [xs, module.weight], allow_unused=True)
    out = [y, gx, gw, hx, hw]
    return [np.zeros(1) if t is None else t.detach().numpy().astype(np.float64) for t in out]


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("num_parameters, shape", [
    (1, ()), (1, (7,)), (1, (4, 3)), (1, (2, 3, 5)), (3, (4, 3)), (3, (2, 3, 5)),
    (3, (2, 3, 2, 2)),
], ids=str)
def test_prelu_matches_torch(num_parameters, shape, dtype_name):
    bd, td, (tol_y, tol_g) = DTYPES[dtype_name]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape) * 3
    slopes = rng.uniform(-0.5, 1.5, num_parameters)
    v, wx, ww = rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal(
        num_parameters)
    bm, tm = _prelu_pair(num_parameters, slopes, dtype_name)
    ours = _prelu_derivatives(bricks, bm, x, v, wx, ww, bd)
    theirs = _prelu_derivatives(torch, tm, x, v, wx, ww, td)
    names = ["forward", "input grad", "weight grad", "double backward x", "double backward w"]
    for name, a, b in zip(names, ours, theirs):
        np.testing.assert_allclose(a, b, err_msg=name, **(tol_y if name == "forward" else tol_g))
    # the functional form, with the same weight
    y = F.prelu(bricks.tensor(x, dtype=bd), bm.weight)
    np.testing.assert_allclose(y.detach().numpy(), ours[0], rtol=1e-6)


def test_prelu_gradcheck():
    x = bricks.tensor(SMOOTH.reshape(2, 3, 2), dtype=bricks.float64, requires_grad=True)
    for w in ([0.25], [0.1, -0.3, 1.7]):
        wt = bricks.tensor(w, dtype=bricks.float64, requires_grad=True)
        assert gradcheck(F.prelu, (x, wt))
        assert gradgradcheck(F.prelu, (x, wt))


def test_prelu_module_parameters_and_state_dict():
    m = nn.PReLU(4, init=0.1)
    assert [name for name, _ in m.named_parameters()] == ["weight"]
    assert m.weight.shape == (4,) and m.weight.dtype == bricks.float32
    assert m.weight.requires_grad
    np.testing.assert_allclose(m.weight.detach().numpy(), 0.1)
    with bricks.no_grad():
        m.weight.copy_(bricks.tensor([0.5, -1.0, 2.0, 0.0]))
    t = torch.nn.PReLU(4)
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in m.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(m(bricks.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    m.reset_parameters()
    assert m.weight.tolist() == pytest.approx([0.1] * 4)
    assert nn.PReLU(dtype=bricks.float64).weight.dtype == bricks.float64


def test_prelu_errors():
    with pytest.raises(ValueError, match=r"3 slopes .* \(2, 4\)"):
        nn.PReLU(3)(bricks.ones(2, 4))
    with pytest.raises(ValueError, match="3 slopes"):
        F.prelu(bricks.ones(3), bricks.ones(3))
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)


# ------------------------------------------------------------------ the step function


@pytest.mark.parametrize("dtype_name", list(DTYPES))
def test_step_forward_matches_heaviside(dtype_name):
    bd, td, _ = DTYPES[dtype_name]
    x = np.concatenate([EXTREME, [1e-30, -1e-30, np.inf, -np.inf]])
    expect = torch.heaviside(torch.tensor(x, dtype=td), torch.tensor(0.0, dtype=td)).numpy()
    for fn, n in ((F.step, len(x)), (nn.Step(), len(x)), (nn.Step(straight_through=True), -2)):
        # the straight-through form adds x - x, which is exact for finite x only
        y = fn(bricks.tensor(x[:n], dtype=bd, requires_grad=True))
        assert y.dtype == bd
        np.testing.assert_array_equal(y.detach().numpy(), expect[:n])
    assert F.step(bricks.tensor([-3, 0, 2])).tolist() == [0.0, 0.0, 1.0]
    assert F.step(bricks.tensor([-3, 0, 2])).dtype == bricks.get_default_dtype()


@pytest.mark.parametrize("straight_through", [False, True])
def test_step_gradient_modes(straight_through):
    x = bricks.tensor(EXTREME, dtype=bricks.float64, requires_grad=True)
    v = bricks.tensor(np.random.default_rng(0).standard_normal(EXTREME.shape),
                      dtype=bricks.float64, requires_grad=True)
    y = nn.Step(straight_through=straight_through)(x)
    (g,) = bricks.grad(y, x, v, create_graph=True)
    # zero gradient (the lecture's table) or the identity's (straight-through estimator)
    np.testing.assert_array_equal(g.detach().numpy(), v.detach().numpy() if straight_through
                                  else 0.0)
    (h,) = bricks.grad((g * g).sum() + g.sum(), x, allow_unused=True)
    assert h is None or not h.detach().numpy().any()
    # a weight in front of the step learns only through the straight-through estimator
    w = bricks.tensor(2.0, dtype=bricks.float64, requires_grad=True)
    F.step(x * w - 1.0, straight_through=straight_through).sum().backward()
    assert (w.grad.item() == pytest.approx(EXTREME.sum())) if straight_through else (
        w.grad.item() == 0.0)


# ------------------------------------------------------------------ reprs, options, errors

REPRS = [
    "Sigmoid()", "Tanh()", "ReLU()", "ReLU(inplace=True)", "LeakyReLU()",
    "LeakyReLU(0.2, True)", "LeakyReLU(negative_slope=1)", "PReLU()", "PReLU(3, 0.1)", "ELU()",
    "ELU(2)", "ELU(alpha=0.5, inplace=True)", "SELU()", "SELU(True)", "GELU()", "GELU('tanh')",
    "Softplus()", "Softplus(2, 5)", "Softplus(beta=0.5, threshold=10.0)", "SiLU()",
    "SiLU(True)", "Softsign()", "Hardtanh()", "Hardtanh(-2, 3)", "Hardtanh(-2.0, 3.0, True)",
    "Mish()", "Mish(inplace=True)", "Softmax(dim=1)", "Softmax()", "LogSoftmax(-1)",
    "LogSoftmax(dim=0)",
]


@pytest.mark.parametrize("call", REPRS)
def test_repr_matches_torch(call):
    assert repr(eval("nn." + call)) == repr(eval("torch.nn." + call))


def test_repr_inside_sequential_and_step():
    ours = nn.Sequential(nn.Tanh(), nn.LeakyReLU(0.2), nn.Softmax(dim=-1))
    theirs = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.LeakyReLU(0.2),
                                 torch.nn.Softmax(dim=-1))
    assert repr(ours) == repr(theirs)
    assert repr(nn.Step()) == "Step(straight_through=False)"
    assert repr(nn.Step(True)) == "Step(straight_through=True)"


def test_inplace_flag_returns_the_result_and_keeps_the_input():
    x = bricks.tensor([-1.0, 2.0])
    for m in (nn.ReLU(True), nn.LeakyReLU(0.5, True), nn.ELU(inplace=True), nn.SiLU(True),
              nn.Hardtanh(inplace=True), nn.Mish(True), nn.SELU(True)):
        t = eval("torch.nn." + repr(m))
        np.testing.assert_allclose(m(x).numpy(), t(torch.tensor([-1.0, 2.0])).numpy(),
                                   rtol=1e-6)
        assert x.tolist() == [-1.0, 2.0]


def test_integer_inputs():
    xi = bricks.tensor([-2, 0, 3])
    assert F.relu(xi).dtype == bricks.int64 and F.relu(xi).tolist() == [0, 0, 3]
    for name in ("sigmoid", "tanh", "elu", "gelu", "softplus", "silu", "mish", "softsign"):
        y = getattr(F, name)(xi)
        assert y.dtype == bricks.get_default_dtype(), name
        np.testing.assert_allclose(y.numpy(), getattr(TF, name, None)(
            torch.tensor([-2.0, 0.0, 3.0])).numpy() if hasattr(TF, name) else
            getattr(torch, name)(torch.tensor([-2.0, 0.0, 3.0])).numpy(), rtol=1e-6)


def test_softmax_dtype_argument():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for ours, theirs in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        y = ours(bricks.tensor(x), dim=1, dtype=bricks.float64)
        assert y.dtype == bricks.float64
        np.testing.assert_allclose(
            y.numpy(), theirs(torch.tensor(x), dim=1, dtype=torch.float64).numpy(), rtol=1e-12)


def test_bad_arguments_raise_clear_errors():
    x = bricks.ones(2, 3)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="max_val must be greater than min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="max_val must be greater than min_val"):
        F.hardtanh(x, 0.5, 0.5)
    for call in (lambda: F.softmax(x), lambda: nn.Softmax()(x), lambda: F.log_softmax(x),
                 lambda: nn.LogSoftmax()(x)):
        with pytest.raises(ValueError, match="pass dim explicitly"):
            call()
