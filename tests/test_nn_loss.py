"""Losses against torch.nn.functional: one table, value, gradients and double backward.

Each row of ``CASES`` is a loss call written once and run on both libraries (the names and
signatures are PyTorch's), with inputs drawn as NumPy arrays. For every row and both
float64 (tight) and float32 (PyTorch's tolerances) the test compares the loss, the
gradient of every differentiable input for a random upstream gradient, and the gradient of
that gradient (double backward).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import bricks
import bricks.nn.functional as F
from bricks import nn
from bricks.testing import gradcheck, gradgradcheck

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-5, atol=2e-5)}


# ---------------------------------------------------------------- input makers


def _rng(seed):
    return np.random.default_rng(seed)


def _normal(*shape, scale=1.0):
    return lambda r, dt: (r.standard_normal(shape) * scale).astype(dt)


def _uniform(*shape, lo=0.0, hi=1.0):
    return lambda r, dt: r.uniform(lo, hi, shape).astype(dt)


def _binary(*shape):
    return lambda r, dt: r.integers(0, 2, shape).astype(dt)


def _classes(classes, *shape, ignore=None):
    def make(r, dt):
        t = r.integers(0, classes, shape).astype(np.int64)
        if ignore is not None:
            t.flat[::3] = ignore  # every third target ignored
        return t
    return make


def _probs(*shape, dim=1):
    def make(r, dt):
        e = np.exp(r.standard_normal(shape))
        return (e / e.sum(axis=dim, keepdims=True)).astype(dt)
    return make


def _log_probs(*shape, dim=1):
    inner = _probs(*shape, dim=dim)
    return lambda r, dt: np.log(inner(r, dt))


def _const(values):
    return lambda r, dt: np.asarray(values, dtype=dt)


class Case:
    """A loss call ``fn(F, T, *inputs)``: F is the functional module, T makes a tensor of
    a constant (weight) array; ``inputs`` are drawn by ``makers``, the first ``diff`` of them
    differentiable."""

    def __init__(self, name, fn, makers, diff=1, seed=0):
        self.name, self.fn, self.makers, self.diff, self.seed = name, fn, makers, diff, seed

    def arrays(self, dtype):
        r = _rng(self.seed)
        return [m(r, dtype) for m in self.makers]


def _both(case, dtype):
    """Run ``case`` on bricks and on torch: (loss, inputs) for each."""
    arrays = case.arrays(dtype)
    results = []
    for lib in ("bricks", "torch"):
        if lib == "bricks":
            make = lambda a, g: bricks.tensor(a.copy(), requires_grad=g)  # noqa: E731
            funcs, const = F, lambda a: bricks.tensor(np.asarray(a, dtype=dtype))
        else:
            make = lambda a, g: torch.tensor(a.copy(), requires_grad=g)  # noqa: E731
            funcs, const = TF, lambda a: torch.tensor(np.asarray(a, dtype=dtype))
        inputs = [make(a, i < case.diff) for i, a in enumerate(arrays)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = case.fn(funcs, const, *inputs)
        results.append((out, inputs[: case.diff]))
    return results


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)
    return np.asarray(t.data)


def _close(a, b, dtype, what):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != torch {b.dtype}"
    np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=what, equal_nan=True)


def _grads(lib_grad, out, inputs, seed_grad, **kw):
    gs = lib_grad(out, inputs, seed_grad, allow_unused=True, **kw)
    return list(gs)


def _check_case(case, dtype):
    (bout, bin_), (tout, tin) = _both(case, dtype)
    _close(bout, tout, dtype, f"{case.name}: value")
    if not case.diff:
        return
    upstream = _rng(99).standard_normal(tout.shape).astype(dtype)
    bseed, tseed = bricks.tensor(upstream), torch.tensor(upstream)
    tg = _grads(torch.autograd.grad, tout, tin, tseed, create_graph=True)
    # First without a graph (fused ops may take a faster path), then with one.
    for graph in (False, True):
        bg = _grads(bricks.grad, bout, bin_, bseed, create_graph=graph, retain_graph=True)
        for i, (b, t) in enumerate(zip(bg, tg)):
            assert b is not None, f"{case.name}: no gradient for input {i}"
            assert graph or not b.requires_grad
            _close(b, t, dtype, f"{case.name}: gradient of input {i} (create_graph={graph})")
    # Double backward: d/d(inputs) of sum_i <grad_i, v_i> for random v.
    r = _rng(7)
    vs = [r.standard_normal(t.shape).astype(dtype) for t in tg]
    bsum = sum((g * bricks.tensor(v)).sum() for g, v in zip(bg, vs))
    tsum = sum((g * torch.tensor(v)).sum() for g, v in zip(tg, vs) if g.requires_grad)
    bgg = _grads(bricks.grad, bsum, bin_, None) if bsum.requires_grad else [None] * len(bin_)
    if isinstance(tsum, torch.Tensor) and tsum.requires_grad:
        tgg = list(torch.autograd.grad(tsum, tin, allow_unused=True))
    else:
        tgg = [None] * len(tin)
    for i, (b, t, x) in enumerate(zip(bgg, tgg, tin)):
        b = np.zeros(x.shape, dtype) if b is None else _np(b)
        t = np.zeros(x.shape, dtype) if t is None else _np(t)
        _close(b, t, dtype, f"{case.name}: double backward of input {i}")


# ---------------------------------------------------------------- the table

R = ("mean", "sum", "none")
CASES = []


def case(*args, **kw):
    CASES.append(Case(*args, **kw))


for red in R:
    # Regression: the target is differentiable too.
    case(f"mse-{red}", lambda F, T, x, y, r=red: F.mse_loss(x, y, reduction=r),
         [_normal(4, 3), _normal(4, 3)], diff=2)
    case(f"mse-3d-{red}", lambda F, T, x, y, r=red: F.mse_loss(x, y, reduction=r),
         [_normal(2, 3, 2), _normal(2, 3, 2)], diff=2)
    case(f"mse-weight-{red}",
         lambda F, T, x, y, w, r=red: F.mse_loss(x, y, reduction=r, weight=T(w)),
         [_normal(4, 3), _normal(4, 3), _uniform(4, 3)], diff=2)
    case(f"l1-{red}", lambda F, T, x, y, r=red: F.l1_loss(x, y, reduction=r),
         [_normal(5, 2), _normal(5, 2)], diff=2)
    case(f"l1-weight-{red}",
         lambda F, T, x, y, w, r=red: F.l1_loss(x, y, reduction=r, weight=T(w)),
         [_normal(5, 2), _normal(5, 2), _uniform(5, 2)], diff=2)
    for delta in (1.0, 0.7, 2.5):
        case(f"huber-{delta}-{red}",
             lambda F, T, x, y, r=red, d=delta: F.huber_loss(x, y, reduction=r, delta=d),
             [_normal(6, 3, scale=2.0), _normal(6, 3)], diff=2)
    case(f"huber-weight-{red}",
         lambda F, T, x, y, w, r=red: F.huber_loss(x, y, reduction=r, delta=0.5, weight=T(w)),
         [_normal(6, 3, scale=2.0), _normal(6, 3), _uniform(6, 3)], diff=2)
    for beta in (1.0, 0.5, 0.0):
        case(f"smooth_l1-{beta}-{red}",
             lambda F, T, x, y, r=red, b=beta: F.smooth_l1_loss(x, y, reduction=r, beta=b),
             [_normal(6, 3, scale=2.0), _normal(6, 3)], diff=2)

    # Binary cross-entropy on probabilities: input and target gradients.
    case(f"bce-{red}", lambda F, T, p, y, r=red: F.binary_cross_entropy(p, y, reduction=r),
         [_uniform(5, 3, lo=0.05, hi=0.95), _uniform(5, 3)], diff=2)
    case(f"bce-binary-{red}",
         lambda F, T, p, y, r=red: F.binary_cross_entropy(p, y, reduction=r),
         [_uniform(7, lo=0.05, hi=0.95), _binary(7)], diff=1)
    case(f"bce-weight-{red}",
         lambda F, T, p, y, w, r=red: F.binary_cross_entropy(p, y, T(w), reduction=r),
         [_uniform(5, 3, lo=0.05, hi=0.95), _uniform(5, 3), _uniform(3)], diff=2)

    # Binary cross-entropy with logits: weight, pos_weight, target gradient.
    case(f"bcel-{red}",
         lambda F, T, x, y, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r),
         [_normal(5, 3, scale=3.0), _uniform(5, 3)], diff=2)
    case(f"bcel-weight-{red}",
         lambda F, T, x, y, w, r=red: F.binary_cross_entropy_with_logits(
             x, y, T(w), reduction=r),
         [_normal(5, 3, scale=3.0), _uniform(5, 3), _uniform(5, 1)], diff=2)
    case(f"bcel-pos_weight-{red}",
         lambda F, T, x, y, pw, r=red: F.binary_cross_entropy_with_logits(
             x, y, reduction=r, pos_weight=T(pw)),
         [_normal(5, 3, scale=3.0), _uniform(5, 3), _uniform(3, lo=0.5, hi=3.0)], diff=2)
    case(f"bcel-both-{red}",
         lambda F, T, x, y, w, pw, r=red: F.binary_cross_entropy_with_logits(
             x, y, T(w), reduction=r, pos_weight=T(pw)),
         [_normal(4, 2, 3), _binary(4, 2, 3), _uniform(3), _uniform(3, lo=0.5, hi=3.0)],
         diff=2)

    # Cross-entropy with class indices.
    case(f"ce-{red}", lambda F, T, x, t, r=red: F.cross_entropy(x, t, reduction=r),
         [_normal(6, 4, scale=2.0), _classes(4, 6)])
    case(f"ce-weight-{red}",
         lambda F, T, x, t, w, r=red: F.cross_entropy(x, t, T(w), reduction=r),
         [_normal(6, 4), _classes(4, 6), _uniform(4, lo=0.2, hi=2.0)])
    case(f"ce-ignore-{red}",
         lambda F, T, x, t, r=red: F.cross_entropy(x, t, ignore_index=-100, reduction=r),
         [_normal(6, 4), _classes(4, 6, ignore=-100)])
    case(f"ce-ignore-in-range-{red}",
         lambda F, T, x, t, r=red: F.cross_entropy(x, t, ignore_index=2, reduction=r),
         [_normal(7, 4), _classes(4, 7)])
    case(f"ce-weight-ignore-{red}",
         lambda F, T, x, t, w, r=red: F.cross_entropy(x, t, T(w), ignore_index=1, reduction=r),
         [_normal(6, 4), _classes(4, 6, ignore=1), _uniform(4, lo=0.2, hi=2.0)])
    for eps in (0.1, 1.0):
        case(f"ce-smooth-{eps}-{red}",
             lambda F, T, x, t, r=red, e=eps: F.cross_entropy(x, t, reduction=r,
                                                              label_smoothing=e),
             [_normal(6, 4), _classes(4, 6)])
    case(f"ce-smooth-weight-ignore-{red}",
         lambda F, T, x, t, w, r=red: F.cross_entropy(
             x, t, T(w), ignore_index=-1, reduction=r, label_smoothing=0.2),
         [_normal(6, 4), _classes(4, 6, ignore=-1), _uniform(4, lo=0.2, hi=2.0)])
    case(f"ce-kdim-{red}", lambda F, T, x, t, r=red: F.cross_entropy(x, t, reduction=r),
         [_normal(2, 4, 3, 2), _classes(4, 2, 3, 2)])
    case(f"ce-kdim-all-options-{red}",
         lambda F, T, x, t, w, r=red: F.cross_entropy(
             x, t, T(w), ignore_index=3, reduction=r, label_smoothing=0.3),
         [_normal(2, 4, 5), _classes(4, 2, 5, ignore=3), _uniform(4, lo=0.2, hi=2.0)])
    case(f"ce-unbatched-{red}", lambda F, T, x, t, r=red: F.cross_entropy(x, t, reduction=r),
         [_normal(5), lambda r, dt: np.array(3)])

    # Cross-entropy with probability targets: the target is differentiable too.
    case(f"ce-probs-{red}", lambda F, T, x, p, r=red: F.cross_entropy(x, p, reduction=r),
         [_normal(5, 4), _probs(5, 4)], diff=2)
    case(f"ce-probs-weight-smooth-{red}",
         lambda F, T, x, p, w, r=red: F.cross_entropy(x, p, T(w), reduction=r,
                                                      label_smoothing=0.15),
         [_normal(5, 4), _probs(5, 4), _uniform(4, lo=0.2, hi=2.0)], diff=2)
    case(f"ce-probs-kdim-{red}",
         lambda F, T, x, p, w, r=red: F.cross_entropy(x, p, T(w), reduction=r),
         [_normal(2, 3, 4), _probs(2, 3, 4), _uniform(3, lo=0.2, hi=2.0)], diff=2)
    case(f"ce-probs-unnormalized-{red}",
         lambda F, T, x, p, r=red: F.cross_entropy(x, p, reduction=r, label_smoothing=0.1),
         [_normal(3, 4), _uniform(3, 4)], diff=2)
    case(f"ce-probs-unbatched-{red}",
         lambda F, T, x, p, r=red: F.cross_entropy(x, p, reduction=r),
         [_normal(4), _probs(4, dim=0)], diff=2)

    # NLL on log-probabilities (the input need not be normalized).
    case(f"nll-{red}", lambda F, T, x, t, r=red: F.nll_loss(x, t, reduction=r),
         [_normal(6, 4), _classes(4, 6)])
    case(f"nll-weight-ignore-{red}",
         lambda F, T, x, t, w, r=red: F.nll_loss(x, t, T(w), ignore_index=-5, reduction=r),
         [_normal(6, 4), _classes(4, 6, ignore=-5), _uniform(4, lo=0.2, hi=2.0)])
    case(f"nll-kdim-{red}",
         lambda F, T, x, t, w, r=red: F.nll_loss(x, t, T(w), reduction=r),
         [_normal(2, 3, 2, 2), _classes(3, 2, 2, 2), _uniform(3)])
    case(f"nll-unbatched-{red}", lambda F, T, x, t, r=red: F.nll_loss(x, t, reduction=r),
         [_normal(5), lambda r, dt: np.array(1)])

for red in R + ("batchmean",):
    case(f"kl-{red}", lambda F, T, x, p, r=red: F.kl_div(x, p, reduction=r),
         [_log_probs(4, 5), _probs(4, 5)], diff=2)
    case(f"kl-zeros-in-target-{red}",
         lambda F, T, x, p, r=red: F.kl_div(x, p, reduction=r),
         [_log_probs(3, 4), lambda r, dt: np.array([[0.5, 0.5, 0, 0]] * 3, dtype=dt)])
    case(f"kl-log_target-{red}",
         lambda F, T, x, p, r=red: F.kl_div(x, p, reduction=r, log_target=True),
         [_log_probs(4, 5), _log_probs(4, 5)], diff=2)
    case(f"kl-3d-{red}", lambda F, T, x, p, r=red: F.kl_div(x, p, reduction=r),
         [_log_probs(2, 3, 4), _probs(2, 3, 4)], diff=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_loss_matches_torch(case, dtype):
    _check_case(case, dtype)


def test_table_covers_every_loss():
    names = {c.name.split("-")[0] for c in CASES}
    assert names == {"mse", "l1", "huber", "smooth_l1", "bce", "bcel", "ce", "nll", "kl"}


# ---------------------------------------------------------------- stability


BIG = [[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [0.0, 0.0, -1e4]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("pos_weight", [None, [2.0, 0.5, 1.0]])
def test_bce_with_logits_stable_at_1e4(dtype, pos_weight):
    x = np.array(BIG, dtype=dtype)
    y = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.5], [1.0, 0.0, 1.0]], dtype=dtype)
    pw = None if pos_weight is None else np.array(pos_weight, dtype)
    bx, tx = bricks.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    by, ty = bricks.tensor(y, requires_grad=True), torch.tensor(y, requires_grad=True)
    b = F.binary_cross_entropy_with_logits(
        bx, by, reduction="none", pos_weight=None if pw is None else bricks.tensor(pw))
    t = TF.binary_cross_entropy_with_logits(
        tx, ty, reduction="none", pos_weight=None if pw is None else torch.tensor(pw))
    assert np.isfinite(_np(b)).all()
    _close(b, t, dtype, "value")
    # log sigmoid(1e4) = 0 exactly; a positive at -1e4 costs 1e4 (times its pos_weight).
    assert _np(b)[0, 0] == 0.0
    assert _np(b)[0, 1] == 1e4 * (1.0 if pw is None else pw[1])
    for bg, tg in zip(bricks.grad(b.sum(), [bx, by]), torch.autograd.grad(t.sum(), [tx, ty])):
        assert np.isfinite(_np(bg)).all()
        _close(bg, tg, dtype, "gradient")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("target", ["index", "probs"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_stable_at_1e4(dtype, target, smoothing):
    x = np.array(BIG, dtype=dtype)
    y = np.array([0, 0, 2]) if target == "index" else np.array(
        [[1.0, 0, 0], [0.5, 0.5, 0], [0, 0, 1.0]], dtype=dtype)
    bx, tx = bricks.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    b = F.cross_entropy(bx, bricks.tensor(y), reduction="none", label_smoothing=smoothing)
    t = TF.cross_entropy(tx, torch.tensor(y), reduction="none", label_smoothing=smoothing)
    assert np.isfinite(_np(b)).all()
    _close(b, t, dtype, "value")
    if smoothing == 0 and target == "index":
        assert _np(b).tolist() == pytest.approx([0.0, 2e4, 1e4 + math.log(2)],
                                              rel=1e-12 if dtype == np.float64 else 1e-6)
    (bg,) = bricks.grad(b.sum(), bx)
    (tg,) = torch.autograd.grad(t.sum(), tx)
    assert np.isfinite(_np(bg)).all()
    _close(bg, tg, dtype, "gradient")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_bce_clamps_log_at_minus_100(dtype):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=dtype)
    bp, tp = bricks.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    b = F.binary_cross_entropy(bp, bricks.tensor(y), reduction="none")
    t = TF.binary_cross_entropy(tp, torch.tensor(y), reduction="none")
    assert _np(b)[:2].tolist() == [100.0, 100.0]
    _close(b, t, dtype, "value")
    (bg,) = bricks.grad(b.sum(), bp)
    (tg,) = torch.autograd.grad(t.sum(), tp)
    assert np.isfinite(_np(bg)).all()  # -1e12 and 1e12 at the edges, as in PyTorch
    _close(bg, tg, dtype, "gradient")


def test_bce_with_logits_gradient_at_zero_is_sigmoid():
    x = bricks.zeros(3, requires_grad=True)
    y = bricks.tensor([1.0, 0.0, 0.25])
    F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    assert x.grad.tolist() == [-0.5, 0.5, 0.25]


# ---------------------------------------------------------------- ignored batches


@pytest.mark.parametrize("fn,smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.2),
                                          ("nll_loss", 0.0)])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_batch_gives_nan_and_zero_gradient(fn, smoothing, weighted):
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.full(3, -100)
    kw = {"label_smoothing": smoothing} if smoothing else {}
    outs = []
    for lib, funcs in (("bricks", F), ("torch", TF)):
        mod = bricks if lib == "bricks" else torch
        xx = mod.tensor(x, requires_grad=True)
        w = mod.tensor(np.ones(4)) if weighted else None
        loss = getattr(funcs, fn)(xx, mod.tensor(t), w, **kw)
        (g,) = (bricks.grad if lib == "bricks" else torch.autograd.grad)(loss, [xx])
        outs.append((_np(loss), _np(g)))
    (bl, bg), (tl, tg) = outs
    assert math.isnan(float(bl)) and math.isnan(float(tl))
    np.testing.assert_array_equal(bg, tg)
    assert (bg == 0).all()


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_zero_total_weight_gives_nan_like_torch(fn):
    x = np.random.default_rng(1).standard_normal((3, 4))
    t, w = np.array([0, 0, -100]), np.array([0.0, 1.0, 1.0, 1.0])
    outs = []
    for mod, funcs, grad in ((bricks, F, bricks.grad), (torch, TF, torch.autograd.grad)):
        xx = mod.tensor(x, requires_grad=True)
        loss = getattr(funcs, fn)(xx, mod.tensor(t), mod.tensor(w))
        outs.append((_np(loss), _np(grad(loss, [xx])[0])))
    (bl, bg), (tl, tg) = outs
    assert math.isnan(float(bl)) and math.isnan(float(tl))
    np.testing.assert_array_equal(np.isnan(bg), np.isnan(tg))
    assert np.isnan(bg[:2]).any(axis=1).all() and (bg[2] == 0).all()


def test_empty_batch_mean_is_nan():
    for target in (bricks.zeros(0, dtype=bricks.int64), bricks.zeros(0, 4)):
        assert math.isnan(F.cross_entropy(bricks.zeros(0, 4), target).item())


# ---------------------------------------------------------------- gradcheck


def _d(*shape, lo=None, hi=None, seed=0):
    r = np.random.default_rng(seed)
    a = r.standard_normal(shape) if lo is None else r.uniform(lo, hi, shape)
    return bricks.tensor(a, requires_grad=True)


GRADCHECK = [
    ("mse", lambda x, y: F.mse_loss(x, y), [(3, 2), (3, 2)]),
    ("l1", lambda x, y: F.l1_loss(x, y, reduction="sum"), [(3, 2), (3, 2)]),
    ("huber", lambda x, y: F.huber_loss(x, y, delta=0.8), [(3, 2), (3, 2)]),
    ("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.6), [(3, 2), (3, 2)]),
    ("bce", lambda p, y: F.binary_cross_entropy(p, y), [(3, 2, 0.1, 0.9), (3, 2, 0.0, 1.0)]),
    ("bcel", lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=bricks.tensor([2.0, 0.5], dtype=bricks.float64)),
     [(3, 2), (3, 2, 0.0, 1.0)]),
    ("ce-probs", lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1), [(3, 4), (3, 4, 0, 1)]),
    ("kl", lambda x, p: F.kl_div(x, p, reduction="batchmean"), [(3, 4), (3, 4, 0.1, 1)]),
    ("kl-log", lambda x, p: F.kl_div(x, p, log_target=True), [(3, 4), (3, 4)]),
]


@pytest.mark.parametrize("fn,shapes", [(f, s) for _, f, s in GRADCHECK],
                         ids=[n for n, _, _ in GRADCHECK])
def test_gradcheck_and_gradgradcheck(fn, shapes):
    inputs = []
    for i, s in enumerate(shapes):
        if len(s) == 4:
            inputs.append(_d(s[0], s[1], lo=s[2], hi=s[3], seed=i))
        else:
            inputs.append(_d(*s, seed=i))
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2},
                                {"weight": [1.0, 2.0, 0.5, 1.0], "ignore_index": 1},
                                {"reduction": "none"}])
def test_gradcheck_cross_entropy_class_indices(kw):
    kw = dict(kw)
    if "weight" in kw:
        kw["weight"] = bricks.tensor(kw["weight"], dtype=bricks.float64)
    t = bricks.tensor([0, 1, 3])
    fn = lambda x: F.cross_entropy(x, t, **kw)  # noqa: E731
    x = _d(3, 4)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])
    fn_k = lambda x: F.cross_entropy(x, bricks.tensor([[0, 1], [3, 2]]), **kw)  # noqa: E731
    assert gradgradcheck(fn_k, [_d(2, 4, 2)])


def test_gradcheck_nll_loss():
    t = bricks.tensor([2, 0, -100])
    fn = lambda x: F.nll_loss(x, t, weight=bricks.tensor([1.0, 0.5, 2.0], dtype=bricks.float64))  # noqa: E731,E501
    x = _d(3, 3)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_cross_entropy_hessian_is_softmax_covariance():
    # d²/dx² of -log softmax(x)_t is diag(p) - p p^T whatever t is: Newton's method needs it.
    x = bricks.tensor([0.3, -1.0, 2.0], dtype=bricks.float64)
    h = bricks.hessian(lambda z: F.cross_entropy(z.reshape(1, 3), bricks.tensor([1])), x)
    p = np.exp(x.numpy()) / np.exp(x.numpy()).sum()
    np.testing.assert_allclose(h.numpy(), np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- modules


MODULES = [
    (nn.MSELoss(reduction="sum"), lambda x, y: F.mse_loss(x, y, reduction="sum"), "reg"),
    (nn.L1Loss(), F.l1_loss, "reg"),
    (nn.HuberLoss("none", 0.5), lambda x, y: F.huber_loss(x, y, "none", 0.5), "reg"),
    (nn.SmoothL1Loss(beta=0.5), lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), "reg"),
    (nn.BCELoss(bricks.tensor([1.0, 2.0, 3.0])),
     lambda x, y: F.binary_cross_entropy(x, y, bricks.tensor([1.0, 2.0, 3.0])), "prob"),
    (nn.BCEWithLogitsLoss(pos_weight=[2.0, 1.0, 0.5]),
     lambda x, y: F.binary_cross_entropy_with_logits(
         x, y, pos_weight=bricks.tensor([2.0, 1.0, 0.5])), "reg"),
    (nn.CrossEntropyLoss([1.0, 2.0, 3.0], ignore_index=0, label_smoothing=0.1),
     lambda x, t: F.cross_entropy(x, t, bricks.tensor([1.0, 2.0, 3.0]), ignore_index=0,
                                  label_smoothing=0.1), "cls"),
    (nn.NLLLoss(reduction="sum"), lambda x, t: F.nll_loss(x, t, reduction="sum"), "cls"),
    (nn.KLDivLoss(reduction="batchmean", log_target=True),
     lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True), "reg"),
]


@pytest.mark.parametrize("module,fn,kind", MODULES, ids=[type(m[0]).__name__ for m in MODULES])
def test_module_equals_functional(module, fn, kind):
    r = np.random.default_rng(3)
    x = bricks.tensor(r.standard_normal((4, 3)).astype(np.float32))
    if kind == "cls":
        y = bricks.tensor(r.integers(0, 3, 4))
    elif kind == "prob":
        x = bricks.tensor(r.uniform(0.1, 0.9, (4, 3)).astype(np.float32))
        y = bricks.tensor(r.uniform(0, 1, (4, 3)).astype(np.float32))
    else:
        y = bricks.tensor(r.uniform(0, 1, (4, 3)).astype(np.float32))
    np.testing.assert_array_equal(module(x, y).numpy(), fn(x, y).numpy())


def test_module_repr_shows_non_default_options():
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
    assert repr(nn.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)) == (
        "CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)")
    assert repr(nn.KLDivLoss(reduction="batchmean", log_target=True)) == (
        "KLDivLoss(reduction='batchmean', log_target=True)")
    assert repr(nn.BCEWithLogitsLoss(pos_weight=[2.0])) == "BCEWithLogitsLoss(pos_weight=[2.0])"
    assert repr(nn.SmoothL1Loss(beta=0.5)) == "SmoothL1Loss(beta=0.5)"


def test_weights_are_buffers_in_state_dict_like_torch():
    ce = nn.CrossEntropyLoss(weight=bricks.tensor([1.0, 2.0]))
    assert list(ce.state_dict()) == list(torch.nn.CrossEntropyLoss(torch.ones(2)).state_dict())
    assert list(ce.parameters()) == []
    bce = nn.BCEWithLogitsLoss(weight=[1.0], pos_weight=[3.0])
    tb = torch.nn.BCEWithLogitsLoss(weight=torch.ones(1), pos_weight=torch.ones(1))
    assert list(bce.state_dict()) == list(tb.state_dict())
    assert list(nn.MSELoss().state_dict()) == []


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss,
                                 nn.BCELoss, nn.BCEWithLogitsLoss, nn.CrossEntropyLoss,
                                 nn.NLLLoss, nn.KLDivLoss])
def test_module_rejects_bad_reduction(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: reduction must be 'mean', .*'avg'"):
        cls(reduction="avg")
    if cls is not nn.KLDivLoss:
        with pytest.raises(ValueError, match="reduction must be"):
            cls(reduction="batchmean")


def test_module_option_errors():
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be non-negative"):
        nn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_losses_train_a_module_with_backward():
    model = nn.Linear(3, 2)
    x = bricks.randn(8, 3)
    t = bricks.tensor([0, 1] * 4)
    loss = nn.CrossEntropyLoss()(model(x), t) + 0.01 * nn.l2_penalty(model.parameters())
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


# ---------------------------------------------------------------- penalties


def test_penalties_values_and_gradients():
    w = bricks.tensor([[1.0, -2.0], [0.0, 3.0]], requires_grad=True)
    b = bricks.tensor([-0.5], requires_grad=True)
    l1 = nn.l1_penalty([w, b])
    l2 = nn.l2_penalty([w, b])
    assert l1.item() == 6.5 and l2.item() == 14.25
    gw, gb = bricks.grad(l1, [w, b])
    assert gw.tolist() == [[1.0, -1.0], [0.0, 1.0]] and gb.tolist() == [-1.0]
    gw, gb = bricks.grad(l2, [w, b])
    assert gw.tolist() == [[2.0, -4.0], [0.0, 6.0]] and gb.tolist() == [-1.0]


def test_penalties_match_torch_definitions():
    r = np.random.default_rng(5)
    arrays = [r.standard_normal((3, 4)), r.standard_normal(4)]
    ts = [torch.tensor(a) for a in arrays]
    bs = [bricks.tensor(a) for a in arrays]
    assert nn.l1_penalty(bs).item() == pytest.approx(sum(t.abs().sum() for t in ts).item())
    assert nn.l2_penalty(bs).item() == pytest.approx(sum(t.pow(2).sum() for t in ts).item())


def test_penalties_accept_generators_parameters_modules_and_single_tensors():
    p = nn.Parameter(bricks.tensor([3.0, -4.0]))
    assert nn.l2_penalty(iter([p])).item() == 25.0
    assert nn.l2_penalty(p).item() == 25.0
    assert nn.l1_penalty(p).item() == 7.0
    m = nn.Module()
    m.w = p
    assert nn.l2_penalty(m).item() == 25.0
    assert nn.l2_penalty(m.parameters()).item() == 25.0
    zero = nn.l2_penalty([])
    assert zero.item() == 0.0 and zero.shape == ()


def test_l2_penalty_hessian_is_twice_identity():
    w = bricks.tensor([0.5, -1.5, 2.0], dtype=bricks.float64)
    h = bricks.hessian(lambda v: nn.l2_penalty([v]), w)
    np.testing.assert_array_equal(h.numpy(), 2 * np.eye(3))


def test_penalty_rejects_non_tensors():
    with pytest.raises(TypeError, match=r"l2_penalty: .*item 1 is a str"):
        nn.l2_penalty([bricks.ones(2), "w"])
    with pytest.raises(TypeError, match=r"l1_penalty: .*item 0 is a float"):
        nn.l1_penalty([1.0])


# ---------------------------------------------------------------- errors


def test_bad_reduction_names_the_loss():
    x = bricks.zeros(2, 3)
    t = bricks.tensor([0, 1])
    calls = {
        "mse_loss": lambda r: F.mse_loss(x, x, reduction=r),
        "l1_loss": lambda r: F.l1_loss(x, x, reduction=r),
        "huber_loss": lambda r: F.huber_loss(x, x, reduction=r),
        "smooth_l1_loss": lambda r: F.smooth_l1_loss(x, x, reduction=r),
        "binary_cross_entropy": lambda r: F.binary_cross_entropy(x, x, reduction=r),
        "binary_cross_entropy_with_logits":
            lambda r: F.binary_cross_entropy_with_logits(x, x, reduction=r),
        "cross_entropy": lambda r: F.cross_entropy(x, t, reduction=r),
        "nll_loss": lambda r: F.nll_loss(x, t, reduction=r),
        "kl_div": lambda r: F.kl_div(x, x, reduction=r),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{name}: reduction must be .* got 'avg'"):
            call("avg")
        if name != "kl_div":
            with pytest.raises(ValueError, match=rf"^{name}: reduction must be"):
                call("batchmean")


def test_class_index_errors_name_loss_and_shapes():
    x = bricks.zeros(4, 3)
    for fn, name in ((F.cross_entropy, "cross_entropy"), (F.nll_loss, "nll_loss")):
        with pytest.raises(ValueError, match=rf"{name}: input of shape \(4, 3\) needs "
                                             rf"class-index targets of shape \(4,\).* \(3,\)"):
            fn(x, bricks.tensor([0, 1, 2]))
        with pytest.raises(IndexError, match=rf"{name}: target class index 3 is out of range "
                                             rf"for an input of shape \(4, 3\) with 3 classes"):
            fn(x, bricks.tensor([0, 1, 3, 2]))
        with pytest.raises(IndexError, match="class index -1 is out of range"):
            fn(x, bricks.tensor([0, -1, 0, 0]))
        with pytest.raises(RuntimeError, match=rf"{name}: weight must be a 1-D tensor with one "
                                             rf"entry per class \(3\), got shape \(2,\)"):
            fn(x, bricks.tensor([0, 1, 2, 0]), bricks.tensor([1.0, 2.0]))
        with pytest.raises(ValueError, match=rf"{name}: input must have a class dimension"):
            fn(bricks.tensor(1.0), bricks.tensor(0))
        with pytest.raises(RuntimeError, match=rf"{name}: input must be a floating point"):
            fn(bricks.tensor([[1, 2]]), bricks.tensor([0]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: class-index targets must be integers "
                                        r"\(int64\), got float32 of shape \(4,\); for "
                                        r"probability targets pass a float tensor of the "
                                        r"input's shape \(4, 3\)"):
        F.cross_entropy(x, bricks.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match=r"unbatched input of shape \(3,\)"):
        F.cross_entropy(bricks.zeros(3), bricks.tensor([1]))
    with pytest.raises(RuntimeError, match="label_smoothing must be between"):
        F.cross_entropy(x, bricks.tensor([0, 1, 2, 0]), label_smoothing=-0.1)


def test_ignore_index_is_not_range_checked():
    x = bricks.zeros(2, 3)
    assert F.cross_entropy(x, bricks.tensor([7, 1]), ignore_index=7).item() == pytest.approx(
        math.log(3))
    with pytest.raises(IndexError, match="target class index -100 is out of range"):
        F.cross_entropy(x, bricks.tensor([-100, 1]), ignore_index=7)


def test_binary_errors():
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: input must hold probabilities "
                                         r"in \[0, 1\], got values from -0.5 to 2.0"):
        F.binary_cross_entropy(bricks.tensor([-0.5, 2.0]), bricks.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="input must hold probabilities"):
        F.binary_cross_entropy(bricks.tensor([float("nan")]), bricks.tensor([0.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target of shape \(3,\) must "
                                         r"have the same shape as the input \(3, 1\)"):
        F.binary_cross_entropy(bricks.full((3, 1), 0.5), bricks.zeros(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: target of shape "
                                         r"\(2, 2\) must have the same shape as the input "
                                         r"\(2,\)"):
        F.binary_cross_entropy_with_logits(bricks.zeros(2), bricks.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"pos_weight: weight of shape \(3,\) does not broadcast "
                                         r"to the input's shape \(4, 2\)"):
        F.binary_cross_entropy_with_logits(bricks.zeros(4, 2), bricks.zeros(4, 2),
                                           pos_weight=bricks.ones(3))
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: weight of shape \(5,\)"):
        F.binary_cross_entropy(bricks.zeros(4), bricks.zeros(4), bricks.ones(5))


def test_regression_shape_errors_and_broadcast_warning():
    with pytest.raises(RuntimeError, match=r"mse_loss: input of shape \(3, 2\) and target of "
                                         r"shape \(4,\) cannot be broadcast together"):
        F.mse_loss(bricks.zeros(3, 2), bricks.zeros(4))
    with pytest.raises(ValueError, match=r"mse_loss: weight of shape \(3,\) must have the same"):
        F.mse_loss(bricks.zeros(3, 2), bricks.zeros(3, 2), weight=bricks.ones(3))
    with pytest.raises(RuntimeError, match="huber_loss: delta must be positive"):
        F.huber_loss(bricks.zeros(2), bricks.zeros(2), delta=-1.0)
    x, y = np.arange(3.0).reshape(3, 1), np.array([0.0, 1.0, 5.0])
    with pytest.warns(UserWarning, match=r"l1_loss: target shape \(3,\) differs from input "
                                         r"shape \(3, 1\)"):
        b = F.l1_loss(bricks.tensor(x), bricks.tensor(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = TF.l1_loss(torch.tensor(x), torch.tensor(y))
    assert b.item() == pytest.approx(t.item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(bricks.zeros(3), bricks.zeros(3))  # equal shapes: no warning


def test_integer_inputs_become_float():
    out = F.mse_loss(bricks.tensor([1, 2]), bricks.tensor([0, 0]))
    assert out.dtype == bricks.float32 and out.item() == 2.5


def test_non_tensor_arguments():
    assert F.mse_loss([1.0, 2.0], [0.0, 0.0]).item() == 2.5
    with pytest.raises(TypeError, match="mse_loss: input must be a Tensor, got object"):
        F.mse_loss(object(), bricks.zeros(1))


# ---------------------------------------------------------------- engine bugs found here


def test_engine_where_backward_gives_zero_to_the_branch_not_taken():
    a = bricks.tensor([1.0, 2.0], requires_grad=True)
    out = bricks.where(bricks.tensor([True, False]), a, 0.0)
    with np.errstate(invalid="ignore"):
        (g,) = bricks.grad(out, a, bricks.tensor([1.0, math.inf]))
    assert g.tolist() == [1.0, 0.0]


def test_engine_zero_gradient_ops_give_zeros_for_inf_upstream():
    a = bricks.tensor([1.0, 2.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        (g,) = bricks.grad(bricks.sign(a), a, bricks.tensor([1.0, math.inf]))
    assert g.tolist() == [0.0, 0.0]
