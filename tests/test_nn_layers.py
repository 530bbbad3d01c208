"""Layers (Linear, Identity, Flatten, Unflatten, Dropout, Maxout) and normalization
(BatchNorm1d, LayerNorm) against torch.nn with the same weights copied in: forward, input
gradient and parameter gradients in float64 (tight) and float32, train and eval modes;
running statistics, state_dict keys, reprs, errors, dropout statistics, gradcheck."""

import math

import numpy as np
import pytest
import torch

import bricks
import bricks.nn as nn
import bricks.nn.functional as F
from bricks.testing import gradcheck, gradgradcheck

# float64 is compared tightly; float32 with PyTorch's own float32 tolerances (slightly
# widened for the reductions of the normalization layers).
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-5)}
DTYPES = [np.float64, np.float32]
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _copy_weights(bricks_module, torch_module):
    """Load torch's state dict (as arrays) into the bricks module of the same architecture."""
    state = {k: v.numpy() for k, v in torch_module.state_dict().items()}
    bricks_module.load_state_dict(state)


def _randomize(torch_module, seed=0):
    """Give every floating parameter of a torch module random values (not ones/zeros)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in torch_module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5 + 1.0)


def _compare(bm, tm, x, dtype, tol=None, seed=1):
    """Run both modules on ``x``, backprop the same random upstream gradient, and check the
    output, the input gradient and every named parameter gradient."""
    tol = tol or TOL[dtype]
    xb = bricks.tensor(x.astype(dtype), requires_grad=True)
    xt = torch.tensor(x.astype(dtype), requires_grad=True)
    yb, yt = bm(xb), tm(xt)
    assert yb.dtype == dtype
    assert tuple(yb.shape) == tuple(yt.shape)
    np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), **tol)
    g = _rng(seed).standard_normal(tuple(yt.shape)).astype(dtype)
    yb.backward(bricks.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xb.grad.numpy(), xt.grad.numpy(), **tol)
    tparams = dict(tm.named_parameters())
    bparams = dict(bm.named_parameters())
    assert list(bparams) == list(tparams)
    for name, p in bparams.items():
        assert p.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), **tol,
                                   err_msg=name)
    return yb, yt


def _zero_grads(bm, tm):
    bm.zero_grad()
    tm.zero_grad()


# ---------------------------------------------------------------- Linear


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,), (1, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_linear_matches_torch(dtype, bias, shape, training):
    tm = torch.nn.Linear(3, 4, bias=bias, dtype=TORCH_DTYPE[dtype])
    bm = nn.Linear(3, 4, bias=bias, dtype=dtype)
    _copy_weights(bm, tm)
    bm.train(training)
    tm.train(training)
    _compare(bm, tm, _rng().standard_normal(shape), dtype)


def test_linear_layout_dtype_and_state_dict_keys():
    layer = nn.Linear(3, 5)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert nn.Linear(3, 5, dtype=bricks.float64).weight.dtype == np.float64
    assert list(layer.state_dict()) == list(torch.nn.Linear(3, 5).state_dict())
    assert list(nn.Linear(3, 5, bias=False).state_dict()) == ["weight"]
    assert nn.Linear(3, 5, bias=False).bias is None
    assert layer.num_parameters() == 20


def test_linear_default_init_bounds_and_distribution():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): most of the range is used, variance bound^2 / 3, mean 0.
    assert np.abs(w).max() > 0.99 * bound
    np.testing.assert_allclose(w.var(), bound ** 2 / 3, rtol=0.02)
    assert abs(w.mean()) < 0.01 * bound  # the mean's std is 0.0017 * bound
    # The same law as torch's default init: compare variances with torch's draw.
    tw = torch.nn.Linear(400, 300).weight.detach().numpy()
    np.testing.assert_allclose(w.var(), tw.var(), rtol=0.03)


def test_linear_init_reproducible_under_manual_seed_and_reset_parameters():
    bricks.manual_seed(123)
    a = nn.Linear(4, 3)
    bricks.manual_seed(123)
    b = nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    np.testing.assert_array_equal(a.bias.detach().numpy(), b.bias.detach().numpy())
    c = nn.Linear(4, 3)
    assert not np.array_equal(a.weight.detach().numpy(), c.weight.detach().numpy())
    old = a.weight.detach().numpy().copy()
    a.reset_parameters()
    assert not np.array_equal(old, a.weight.detach().numpy())
    assert np.abs(a.weight.detach().numpy()).max() <= 0.5


def test_linear_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=r"linear.*\(4, 5\).*\(2, 3\)"):
        layer(bricks.zeros(4, 5))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match="device"):
        nn.Linear(2, 2, device="cuda")


def test_linear_zero_in_features_like_torch():
    with pytest.warns(UserWarning, match="zero-element"):
        layer = nn.Linear(0, 3)
    with pytest.warns(UserWarning, match="zero-element"):
        torch.nn.Linear(0, 3)
    np.testing.assert_array_equal(layer.bias.detach().numpy(), np.zeros(3, np.float32))
    y = layer(bricks.zeros(2, 0))
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((2, 3), np.float32))


def test_linear_gradcheck_and_gradgradcheck():
    layer = nn.Linear(3, 2, dtype=bricks.float64)
    x = bricks.randn(4, 3, dtype=bricks.float64, requires_grad=True)
    fn = lambda x, w, b: F.linear(x, w, b).tanh()
    assert gradcheck(fn, (x, layer.weight, layer.bias))
    assert gradgradcheck(fn, (x, layer.weight, layer.bias))


def test_functional_linear_matches_torch():
    r = _rng(3)
    x, w, b = r.standard_normal((2, 5, 3)), r.standard_normal((4, 3)), r.standard_normal(4)
    ours = F.linear(bricks.tensor(x), bricks.tensor(w), bricks.tensor(b))
    ref = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    ours = F.linear(bricks.tensor(x), bricks.tensor(w))
    ref = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w))
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12)


# ---------------------------------------------------------------- Identity, Flatten, Unflatten


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Identity(),
        lambda m: m.Identity(3, some="argument"),
        lambda m: m.Flatten(),
        lambda m: m.Flatten(0, -1),
        lambda m: m.Flatten(1, 2),
        lambda m: m.Flatten(-3, -2),
        lambda m: m.Unflatten(1, (3, 1)),
        lambda m: m.Unflatten(-1, (2, 2)),
        lambda m: m.Unflatten(2, [-1, 2]),
    ],
)
def test_shape_layers_match_torch(dtype, make):
    bm, tm = make(nn), make(torch.nn)
    assert repr(bm) == repr(tm)
    _compare(bm, tm, _rng().standard_normal((2, 3, 4)), dtype)


def test_identity_returns_the_input_itself():
    x = bricks.randn(2, 3)
    assert nn.Identity()(x) is x


def test_unflatten_errors():
    with pytest.raises(RuntimeError, match=r"Unflatten.*\(2, 2\).*size 3"):
        nn.Unflatten(1, (2, 2))(bricks.zeros(4, 3))
    with pytest.raises(RuntimeError, match="Unflatten"):
        nn.Unflatten(1, (-1, -1))(bricks.zeros(4, 4))
    with pytest.raises(TypeError, match="unflattened_size"):
        nn.Unflatten(1, 4)


def test_flatten_unflatten_round_trip():
    x = bricks.randn(2, 3, 4)
    y = nn.Unflatten(1, (3, 4))(nn.Flatten()(x))
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())


# ---------------------------------------------------------------- Dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
def test_dropout_statistics(p):
    x = bricks.ones(200_000)
    y = nn.Dropout(p)(x).detach().numpy()
    zeroed = (y == 0).mean()
    # Binomial standard error sqrt(p(1-p)/n) is about 0.001: allow 5 of them.
    assert abs(zeroed - p) < 0.005
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1 / (1 - p), rtol=1e-6)  # inverted: scaled up
    assert abs(y.mean() - 1.0) < 0.02  # the expectation is preserved


def test_dropout_same_mask_under_same_seed_and_new_mask_otherwise():
    x = bricks.randn(50, 20)
    drop = nn.Dropout(0.5)
    bricks.manual_seed(7)
    a = drop(x).detach().numpy()
    bricks.manual_seed(7)
    b = drop(x).detach().numpy()
    c = drop(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a == 0, c == 0)
    bricks.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).detach().numpy(), a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_gradient_is_the_scaled_mask(dtype):
    x = bricks.tensor(_rng().standard_normal((30, 40)).astype(dtype), requires_grad=True)
    y = nn.Dropout(0.4)(x)
    assert y.dtype == dtype
    y.sum().backward()
    mask = y.detach().numpy() != 0
    expected = mask / np.asarray(0.6, dtype)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(y.detach().numpy(), x.detach().numpy() * expected, rtol=1e-6)
    assert 0.3 < 1 - mask.mean() < 0.5


def test_dropout_p0_and_eval_are_identity_p1_gives_zeros():
    x = bricks.randn(10, 10, requires_grad=True)
    state = bricks.get_rng_state()
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.9, training=False) is x
    drop = nn.Dropout(0.7)
    drop.eval()
    assert drop(x) is x
    after = bricks.rand(5).numpy()
    bricks.set_rng_state(state)
    np.testing.assert_array_equal(after, bricks.rand(5).numpy())  # identity drew nothing
    y = nn.Dropout(1.0)(x)
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((10, 10), np.float32))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((10, 10), np.float32))
    ref = torch.nn.Dropout(1.0)(torch.ones(3))
    np.testing.assert_array_equal(ref.numpy(), np.zeros(3, np.float32))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5"])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"\bp\b"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"\bp\b"):
        F.dropout(bricks.ones(3), p)


def test_dropout_repr_and_train_eval_toggle_in_sequential():
    assert repr(nn.Dropout()) == repr(torch.nn.Dropout())
    assert repr(nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = bricks.randn(64, 4)
    model.eval()
    a, b = model(x).detach().numpy(), model(x).detach().numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    assert (model(x).detach().numpy() == 0).mean() > 0.3


# ---------------------------------------------------------------- BatchNorm1d


BN_OPTIONS = [
    dict(),
    dict(affine=False),
    dict(bias=False),
    dict(momentum=None),
    dict(momentum=0.5, eps=1e-3),
    dict(track_running_stats=False),
    dict(affine=False, track_running_stats=False),
]


def _bn_pair(options, dtype, c=3, seed=0):
    tm = torch.nn.BatchNorm1d(c, dtype=TORCH_DTYPE[dtype], **options)
    _randomize(tm, seed)
    bm = nn.BatchNorm1d(c, dtype=dtype, **options)
    _copy_weights(bm, tm)
    return bm, tm


def _check_running_stats(bm, tm, dtype):
    for name in ("running_mean", "running_var"):
        b, t = getattr(bm, name), getattr(tm, name)
        if t is None:
            assert b is None
        else:
            assert b.dtype == dtype
            np.testing.assert_allclose(b.numpy(), t.numpy(), **TOL[dtype], err_msg=name)
    if tm.num_batches_tracked is None:
        assert bm.num_batches_tracked is None
    else:
        assert bm.num_batches_tracked.dtype == np.int64
        assert int(bm.num_batches_tracked) == int(tm.num_batches_tracked)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", BN_OPTIONS, ids=str)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3), (2, 3, 1)])
def test_batchnorm1d_matches_torch_over_training_steps_then_eval(dtype, options, shape):
    bm, tm = _bn_pair(options, dtype)
    r = _rng(1)
    tol = None
    if dtype is np.float32 and math.prod(shape) // shape[1] == 2:
        # Two values per channel normalize to about +-1 whatever they are, so the input
        # gradient is a difference of terms of size |g| |w| / sigma that cancel down to
        # O(eps / sigma^2): float32 rounding of those terms, not of the result, sets the
        # error (seen: 1.2e-5 absolute on a gradient of 6.4e-3, identical in torch's terms).
        tol = dict(rtol=1e-3, atol=1e-4)
    for step in range(4):
        x = r.standard_normal(shape) * (step + 1) + step  # a different batch each step
        _zero_grads(bm, tm)
        _compare(bm, tm, x, dtype, tol=tol, seed=step)
        _check_running_stats(bm, tm, dtype)
    bm.eval()
    tm.eval()
    for step in range(2):
        _zero_grads(bm, tm)
        _compare(bm, tm, r.standard_normal(shape) * 2, dtype, tol=tol, seed=10 + step)
    _check_running_stats(bm, tm, dtype)  # eval does not touch them


def test_batchnorm1d_running_stats_formula():
    bm = nn.BatchNorm1d(2, momentum=0.25, dtype=bricks.float64)
    x = _rng().standard_normal((6, 2, 3))
    bm(bricks.tensor(x))
    mean = x.mean(axis=(0, 2))
    var_unbiased = x.var(axis=(0, 2), ddof=1)
    np.testing.assert_allclose(bm.running_mean.numpy(), 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(bm.running_var.numpy(), 0.75 + 0.25 * var_unbiased, rtol=1e-12)


def test_batchnorm1d_cumulative_average_with_momentum_none():
    bm = nn.BatchNorm1d(3, momentum=None, dtype=bricks.float64)
    batches = [_rng(i).standard_normal((5, 3)) for i in range(3)]
    for x in batches:
        bm(bricks.tensor(x))
    np.testing.assert_allclose(bm.running_mean.numpy(),
                               np.mean([x.mean(0) for x in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(bm.running_var.numpy(),
                               np.mean([x.var(0, ddof=1) for x in batches], axis=0),
                               rtol=1e-12)
    assert int(bm.num_batches_tracked) == 3


def test_batchnorm1d_training_output_is_normalized():
    bm = nn.BatchNorm1d(4, dtype=bricks.float64)
    y = bm(bricks.tensor(_rng().standard_normal((50, 4, 3)) * 7 + 3)).detach().numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, rtol=1e-4)


@pytest.mark.parametrize("options", [dict(), dict(affine=False), dict(momentum=None)], ids=str)
@pytest.mark.parametrize("shape", [(5, 3), (3, 3, 2)])
def test_batchnorm1d_gradcheck_train_and_eval(options, shape):
    bm, tm = _bn_pair(options, np.float64)
    params = [p for p in bm.parameters()]
    x = bricks.tensor(_rng().standard_normal(shape), requires_grad=True)

    def fn(x, *params):
        return bm(x) * bricks.tensor(_rng(5).standard_normal(shape))

    assert gradcheck(fn, (x, *params))
    assert gradgradcheck(fn, (x, *params))
    bm.eval()
    assert gradcheck(fn, (x, *params))


def test_batchnorm1d_errors():
    bm = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"2D.*3D.*4D"):
        bm(bricks.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"2D.*3D.*1D"):
        bm(bricks.zeros(3))
    with pytest.raises(ValueError, match=r"3 features.*\(4, 5\)"):
        bm(bricks.zeros(4, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bm(bricks.zeros(1, 3))
    bm.eval()
    assert bm(bricks.zeros(1, 3)).shape == (1, 3)  # a single sample is fine in eval mode
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)


@pytest.mark.parametrize("options", BN_OPTIONS, ids=str)
def test_batchnorm1d_repr_state_dict_and_buffers_like_torch(options):
    bm, tm = nn.BatchNorm1d(5, **options), torch.nn.BatchNorm1d(5, **options)
    assert repr(bm) == repr(tm)
    assert list(bm.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in bm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(bm.state_dict()[k].numpy(), v.numpy(), err_msg=k)
        assert bm.state_dict()[k].shape == tuple(v.shape)


def test_batchnorm1d_reset_running_stats():
    bm = nn.BatchNorm1d(2)
    bm(bricks.randn(4, 2) + 3)
    assert int(bm.num_batches_tracked) == 1 and bm.running_mean.numpy().any()
    bm.reset_running_stats()
    np.testing.assert_array_equal(bm.running_mean.numpy(), [0, 0])
    np.testing.assert_array_equal(bm.running_var.numpy(), [1, 1])
    assert int(bm.num_batches_tracked) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 2, 2)])
def test_functional_batch_norm_matches_torch(dtype, training, shape):
    r = _rng(2)
    x = r.standard_normal(shape).astype(dtype)
    rm, rv = r.standard_normal(3).astype(dtype), r.random(3).astype(dtype) + 0.5
    w, b = r.standard_normal(3).astype(dtype), r.standard_normal(3).astype(dtype)
    brm, brv = bricks.tensor(rm), bricks.tensor(rv)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    xb, wb, bb = (bricks.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yb = F.batch_norm(xb, brm, brv, wb, bb, training=training, momentum=0.3, eps=1e-4)
    yt = torch.nn.functional.batch_norm(xt, trm, trv, wt, bt, training=training,
                                        momentum=0.3, eps=1e-4)
    np.testing.assert_allclose(yb.detach().numpy(), yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(brm.detach().numpy(), trm.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(brv.numpy(), trv.numpy(), **TOL[dtype])
    g = r.standard_normal(shape).astype(dtype)
    yb.backward(bricks.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, ref in ((xb, xt), (wb, wt), (bb, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), **TOL[dtype])


def test_normalization_refuses_mixed_dtypes_like_torch():
    x = bricks.randn(4, 3, dtype=bricks.float64)
    with pytest.raises(TypeError, match=r"weight.*float32.*float64.*double\(\)"):
        nn.BatchNorm1d(3, track_running_stats=False)(x)
    with pytest.raises(TypeError, match="running_mean"):
        nn.BatchNorm1d(3, affine=False).eval()(x)
    with pytest.raises(TypeError, match=r"layer_norm: weight"):
        nn.LayerNorm(3)(x)
    with pytest.raises(RuntimeError, match="mixed dtype"):
        torch.nn.LayerNorm(3)(torch.randn(4, 3, dtype=torch.float64))
    assert nn.BatchNorm1d(3).double()(x).dtype == np.float64


def test_functional_batch_norm_errors():
    x = bricks.zeros(4, 3)
    with pytest.raises(ValueError, match=r"running_mean.*\(2,\).*3 channels"):
        F.batch_norm(x, bricks.zeros(2), bricks.ones(3))
    with pytest.raises(ValueError, match="running_mean and running_var"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.batch_norm(bricks.zeros(3), None, None, training=True)


# ---------------------------------------------------------------- LayerNorm


LN_CASES = [
    (4, dict(), (3, 4)),
    (4, dict(), (2, 3, 4)),
    ((3, 4), dict(), (2, 3, 4)),
    ([2, 3, 4], dict(), (2, 3, 4)),
    (4, dict(elementwise_affine=False), (5, 4)),
    (4, dict(bias=False), (5, 4)),
    ((3, 4), dict(eps=1e-2), (2, 3, 4)),
    (1, dict(), (3, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized_shape, options, shape", LN_CASES, ids=str)
@pytest.mark.parametrize("training", [True, False])
def test_layernorm_matches_torch(dtype, normalized_shape, options, shape, training):
    tm = torch.nn.LayerNorm(normalized_shape, dtype=TORCH_DTYPE[dtype], **options)
    _randomize(tm)
    bm = nn.LayerNorm(normalized_shape, dtype=dtype, **options)
    _copy_weights(bm, tm)
    bm.train(training)
    tm.train(training)
    assert repr(bm) == repr(tm)
    assert list(bm.state_dict()) == list(tm.state_dict())
    _compare(bm, tm, _rng().standard_normal(shape) * 3 + 1, dtype)


@pytest.mark.parametrize("normalized_shape, shape", [(4, (3, 4)), ((2, 3), (2, 2, 3))])
def test_layernorm_gradcheck(normalized_shape, shape):
    tm = torch.nn.LayerNorm(normalized_shape, dtype=torch.float64)
    _randomize(tm)
    bm = nn.LayerNorm(normalized_shape, dtype=bricks.float64)
    _copy_weights(bm, tm)
    x = bricks.tensor(_rng().standard_normal(shape), requires_grad=True)
    g = bricks.tensor(_rng(5).standard_normal(shape))
    fn = lambda x, w, b: bm(x) * g
    assert gradcheck(fn, (x, bm.weight, bm.bias))
    assert gradgradcheck(fn, (x, bm.weight, bm.bias))


def test_functional_layer_norm_matches_torch_and_checks_shapes():
    r = _rng(4)
    x, w, b = r.standard_normal((2, 3, 4)), r.standard_normal((3, 4)), r.standard_normal((3, 4))
    ours = F.layer_norm(bricks.tensor(x), (3, 4), bricks.tensor(w), bricks.tensor(b), 1e-3)
    ref = torch.nn.functional.layer_norm(torch.tensor(x), (3, 4), torch.tensor(w),
                                         torch.tensor(b), 1e-3)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(4, 3\)"):
        F.layer_norm(bricks.tensor(x), (4, 3))
    with pytest.raises(ValueError, match=r"weight.*\(4,\)"):
        F.layer_norm(bricks.tensor(x), (3, 4), bricks.ones(4))
    with pytest.raises(ValueError, match="LayerNorm|layer_norm"):
        nn.LayerNorm(5)(bricks.zeros(2, 4))


# ---------------------------------------------------------------- Maxout


class TorchMaxout(torch.nn.Module):
    """The reference: one torch Linear to out*pieces, viewed as (out, pieces), max."""

    def __init__(self, in_features, out_features, pieces, bias=True, dtype=None):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = torch.nn.Linear(in_features, out_features * pieces, bias=bias,
                                      dtype=dtype)

    def forward(self, x):
        z = self.linear(x)
        return z.view(*z.shape[:-1], self.out_features, self.pieces).amax(dim=-1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pieces", [1, 2, 4])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 5), (5,)])
def test_maxout_matches_torch(dtype, pieces, bias, shape):
    tm = TorchMaxout(5, 3, pieces, bias=bias, dtype=TORCH_DTYPE[dtype])
    bm = nn.Maxout(5, 3, pieces, bias=bias, dtype=dtype)
    assert list(bm.state_dict()) == list(tm.state_dict())
    _copy_weights(bm, tm)
    _compare(bm, tm, _rng().standard_normal(shape), dtype)


def test_maxout_is_the_max_of_the_affine_pieces():
    m = nn.Maxout(3, 2, pieces=3, dtype=bricks.float64)
    x = _rng().standard_normal((4, 3))
    w, b = m.linear.weight.detach().numpy(), m.linear.bias.detach().numpy()
    pieces = [[x @ w[j * 3 + k] + b[j * 3 + k] for k in range(3)] for j in range(2)]
    expected = np.stack([np.max(p, axis=0) for p in pieces], axis=1)
    np.testing.assert_allclose(m(bricks.tensor(x)).detach().numpy(), expected, rtol=1e-12)
    assert m.linear.weight.shape == (6, 3)


def test_maxout_tied_pieces_share_the_gradient_like_torch():
    tm = TorchMaxout(3, 2, 2, dtype=torch.float64)
    with torch.no_grad():  # both pieces of every unit identical: every max is a tie
        tm.linear.weight[1::2] = tm.linear.weight[0::2]
        tm.linear.bias[1::2] = tm.linear.bias[0::2]
    bm = nn.Maxout(3, 2, 2, dtype=bricks.float64)
    _copy_weights(bm, tm)
    _compare(bm, tm, _rng().standard_normal((4, 3)), np.float64)
    g = bm.linear.weight.grad.numpy()
    np.testing.assert_array_equal(g[0::2], g[1::2])


def test_maxout_gradcheck_repr_and_errors():
    m = nn.Maxout(3, 2, pieces=2, dtype=bricks.float64)
    x = bricks.tensor(_rng().standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda x, w, b: m(x), (x, m.linear.weight, m.linear.bias))
    assert repr(m) == ("Maxout(\n  in_features=3, out_features=2, pieces=2\n"
                       "  (linear): Linear(in_features=3, out_features=4, bias=True)\n)")
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(3, 2, pieces=0)


# ---------------------------------------------------------------- whole models


def _make_mlp(m, dtype=None):
    return m.Sequential(
        m.Linear(4, 8, dtype=dtype), m.BatchNorm1d(8, dtype=dtype), m.Dropout(0.3),
        m.Linear(8, 6, dtype=dtype), m.LayerNorm(6, dtype=dtype), m.Flatten(),
        m.Linear(6, 2, dtype=dtype),
    )


def test_model_state_dict_keys_repr_and_loaded_outputs_match_torch():
    tm, bm = _make_mlp(torch.nn, torch.float64), _make_mlp(nn, bricks.float64)
    _randomize(tm)
    assert list(bm.state_dict()) == list(tm.state_dict())
    assert repr(bm) == repr(tm)
    # a few training steps in torch change the running statistics; then load and compare
    tm.train()
    with torch.no_grad():
        for i in range(3):
            tm(torch.tensor(_rng(i).standard_normal((16, 4))))
    _copy_weights(bm, tm)
    assert int(bm[1].num_batches_tracked) == 3
    tm.eval()
    bm.eval()
    _compare(bm, tm, _rng(9).standard_normal((5, 4)), np.float64)


def test_summary_lists_the_layers_with_output_shapes_and_counts():
    text = _make_mlp(nn).summary((5, 4))
    assert "BatchNorm1d" in text and "(5, 8)" in text and "LayerNorm" in text
    total = 4 * 8 + 8 + 2 * 8 + 8 * 6 + 6 + 2 * 6 + 6 * 2 + 2
    assert f"total parameters: {total:,}" in text
