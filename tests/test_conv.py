"""Convolution, unfold/fold, pooling, image normalization and channel dropout against
PyTorch 2.13, on shapes drawn by hypothesis: forward, backward and double backward in
float64 and float32, then float64 gradcheck and gradgradcheck on small cases, layer
state_dicts loaded from torch, and the shape errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bricks
import bricks.nn.functional as F
from bricks.testing import gradcheck, gradgradcheck

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _np(t):
    return np.array(t.data) if isinstance(t, bricks.Tensor) else t.detach().numpy()


def _close(a, b, dtype, what):
    tol = dict(rtol=1e-7, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs torch {b.dtype}"
    np.testing.assert_allclose(a, b, err_msg=what, **tol)


def check_op(fn, arrays, dtype, seed=0, double=True):
    """fn(F, *inputs) with F = bricks' or torch's functional module: forward, backward for a
    random upstream gradient, and the gradient of sum(grad * w) (w random) with respect to
    the inputs and the upstream gradient, all equal to PyTorch's."""
    rng = np.random.default_rng(seed)
    b_in = [bricks.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    bo, to = fn(F, *b_in), fn(TF, *t_in)
    _close(bo, to, dtype, "forward")
    v = rng.standard_normal(bo.shape).astype(dtype)
    bv, tv = bricks.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    bg = bricks.grad(bo, b_in, bv, create_graph=True, allow_unused=True)
    tg = torch.autograd.grad(to, t_in, tv, create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(bg, tg)):
        _close(a, b, dtype, f"backward, input {i}")
    if not double:
        return
    ws = [rng.standard_normal(a.shape).astype(dtype) for a in arrays]
    bs = sum((g * bricks.tensor(w)).sum() for g, w in zip(bg, ws))
    ts = sum((g * torch.tensor(w)).sum() for g, w in zip(tg, ws))
    bgg = bricks.grad(bs, b_in + [bv], allow_unused=True)
    tgg = torch.autograd.grad(ts, t_in + [tv], allow_unused=True)
    for i, (a, b) in enumerate(zip(bgg, tgg)):
        if b is None:
            assert a is None or not np.any(_np(a)), f"double backward {i}: torch has none"
            continue
        if a is None:
            assert not np.any(_np(b)), f"double backward {i}: bricks has none"
            continue
        _close(a, b, dtype, f"double backward, input {i}")


def check_grads(fn, arrays, seed=0):
    """float64 gradcheck and gradgradcheck of fn(F, *inputs)."""
    xs = [bricks.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    assert gradcheck(lambda *t: fn(F, *t), xs)
    assert gradgradcheck(lambda *t: fn(F, *t), xs)


DTYPES = [np.float64, np.float32]
rng0 = np.random.default_rng(0)


def _randn(*shape):
    return rng0.standard_normal(shape)


# ---------------------------------------------------------------- convolution


@st.composite
def conv2d_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.sampled_from(["same", "valid"])))
    if padding == "same":
        stride = (1, 1)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    pads = (0, 0) if padding in ("same", "valid") else padding
    eff = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if padding != "same":
        assume(h + 2 * pads[0] >= eff[0] and w + 2 * pads[1] >= eff[1])
    bias = draw(st.booleans())
    return dict(n=n, cin=cin, cout=cout, k=(kh, kw), h=h, w=w, stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=bias)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(conv2d_cases())
def test_conv2d_matches_torch(dtype, c):
    arrays = [_randn(c["n"], c["cin"], c["h"], c["w"]),
              _randn(c["cout"], c["cin"] // c["groups"], *c["k"])]
    if c["bias"]:
        arrays.append(_randn(c["cout"]))
    check_op(lambda L, x, w, *b: L.conv2d(x, w, b[0] if b else None, c["stride"],
                                          c["padding"], c["dilation"], c["groups"]),
             arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 3), groups=st.sampled_from([1, 2]), cg=st.integers(1, 2),
       length=st.integers(1, 12), k=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.sampled_from([0, 1, 2, "same", "valid"]), dilation=st.integers(1, 3))
def test_conv1d_matches_torch(dtype, n, groups, cg, length, k, stride, padding, dilation):
    if padding == "same":
        stride = 1
    pad = padding if isinstance(padding, int) else 0
    assume(padding == "same" or length + 2 * pad >= dilation * (k - 1) + 1)
    arrays = [_randn(n, groups * cg, length), _randn(2 * groups, cg, k), _randn(2 * groups)]
    check_op(lambda L, x, w, b: L.conv1d(x, w, b, stride, padding, dilation, groups),
             arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 2), groups=st.sampled_from([1, 2]), h=st.integers(1, 5),
       w=st.integers(1, 5), k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), data=st.data())
def test_conv_transpose2d_matches_torch(dtype, n, groups, h, w, k, stride, padding, dilation,
                                        data):
    out_pad = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = [(s - 1) * st_ - 2 * p + d * (kk - 1) + op + 1
            for s, st_, p, d, kk, op in zip((h, w), stride, padding, dilation, k, out_pad)]
    assume(min(size) >= 1)
    arrays = [_randn(n, 2 * groups, h, w), _randn(2 * groups, 3, *k), _randn(3 * groups)]
    check_op(lambda L, x, wt, b: L.conv_transpose2d(x, wt, b, stride, padding, out_pad, groups,
                                                    dilation), arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose1d_matches_torch(dtype):
    arrays = [_randn(2, 4, 7), _randn(4, 3, 3), _randn(6)]
    check_op(lambda L, x, w, b: L.conv_transpose1d(x, w, b, 2, 1, 1, 2, 1), arrays, dtype)


def test_depthwise_conv_and_unbatched_input():
    check_op(lambda L, x, w: L.conv2d(x, w, None, 1, 1, 1, 4),
             [_randn(2, 4, 6, 5), _randn(8, 1, 3, 3)], np.float64)
    check_op(lambda L, x, w: L.conv2d(x, w, padding=1), [_randn(3, 5, 5), _randn(2, 3, 3, 3)],
             np.float64)


def test_conv_gradcheck_and_gradgradcheck():
    check_grads(lambda L, x, w, b: L.conv2d(x, w, b, (2, 1), 1, (1, 2), 2),
                [_randn(1, 2, 4, 5), _randn(2, 1, 2, 2), _randn(2)])
    check_grads(lambda L, x, w, b: L.conv_transpose2d(x, w, b, 2, 1, 1),
                [_randn(1, 2, 3, 2), _randn(2, 1, 2, 3), _randn(1)])
    check_grads(lambda L, x, w: L.conv1d(x, w, padding="same", dilation=2),
                [_randn(2, 1, 5), _randn(1, 1, 2)])


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.tuples(st.integers(0, 1), st.integers(0, 1)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_unfold_and_fold_match_torch(dtype, n, c, h, w, k, stride, padding, dilation):
    blocks = [(s + 2 * p - d * (kk - 1) - 1) // st_ + 1
              for s, p, d, kk, st_ in zip((h, w), padding, dilation, k, stride)]
    assume(min(blocks) >= 1)
    opts = dict(kernel_size=k, dilation=dilation, padding=padding, stride=stride)
    check_op(lambda L, x: L.unfold(x, **opts), [_randn(n, c, h, w)], dtype)
    cols = _randn(n, c * k[0] * k[1], blocks[0] * blocks[1])
    check_op(lambda L, x: L.fold(x, (h, w), **opts), [cols], dtype)


def test_unfold_fold_gradcheck():
    check_grads(lambda L, x: L.fold(L.unfold(x, 2, padding=1, stride=(1, 2)), (3, 4), 2,
                                    padding=1, stride=(1, 2)), [_randn(1, 2, 3, 4)])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zeros"])
def test_conv_layers_padding_modes_match_torch(mode):
    for cls, shape, pad in ((bricks.nn.Conv2d, (2, 2, 6, 7), (1, 2)),
                            (bricks.nn.Conv1d, (2, 2, 9), 2)):
        torch.manual_seed(0)
        tcls = getattr(torch.nn, cls.__name__)
        tl = tcls(2, 4, 3, padding=pad, padding_mode=mode, stride=2).double()
        bl = cls(2, 4, 3, padding=pad, padding_mode=mode, stride=2, dtype=bricks.float64)
        bl.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                            tl.state_dict().items()})
        x = _randn(*shape)
        _close(bl(bricks.tensor(x)), tl(torch.tensor(x)), np.float64, f"{cls.__name__} {mode}")
        assert repr(bl) == repr(tl)
    # 'same' with a non-zeros mode and an even kernel pads one more on the right, as torch
    tl = torch.nn.Conv1d(1, 1, 4, padding="same", padding_mode=mode).double()
    bl = bricks.nn.Conv1d(1, 1, 4, padding="same", padding_mode=mode, dtype=bricks.float64)
    bl.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                        tl.state_dict().items()})
    x = _randn(2, 1, 8)
    _close(bl(bricks.tensor(x)), tl(torch.tensor(x)), np.float64, f"same {mode}")


def test_conv_transpose_layer_output_size_matches_torch():
    torch.manual_seed(0)
    tl = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    bl = bricks.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=bricks.float64)
    bl.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                        tl.state_dict().items()})
    x = _randn(1, 3, 4, 4)
    for size in (None, (8, 8), (7, 8)):
        _close(bl(bricks.tensor(x), output_size=size), tl(torch.tensor(x), output_size=size),
               np.float64, f"output_size {size}")
    with pytest.raises(ValueError, match="not reachable"):
        bl(bricks.tensor(x), output_size=(10, 10))


@pytest.mark.parametrize("cls,args", [
    ("Conv2d", (6, 16, 5)), ("Conv1d", (4, 8, 3)), ("ConvTranspose2d", (6, 4, 3)),
    ("Conv2d", (8, 8, 3, 1, 1, 1, 4)), ("ConvTranspose1d", (4, 2, 5))])
def test_conv_init_matches_torch_distribution(cls, args):
    """Same bound as PyTorch's kaiming_uniform_(a=sqrt(5)): every value inside it, and the
    spread fills it (max |w| close to the bound)."""
    bricks.manual_seed(0)
    torch.manual_seed(0)
    bl, tl = getattr(bricks.nn, cls)(*args), getattr(torch.nn, cls)(*args)
    for name in ("weight", "bias"):
        b, t = _np(getattr(bl, name)), getattr(tl, name).detach().numpy()
        assert b.shape == t.shape
        fan_in = tl.weight.shape[1] * math.prod(tl.weight.shape[2:])
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(b).max() <= bound + 1e-7
        assert np.abs(b).max() > 0.8 * bound if b.size > 20 else True
        assert abs(b.std() - t.std()) < 0.35 * bound


def test_lenet_state_dict_from_torch_gives_torch_outputs_and_gradients():
    def net(nn):
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(16 * 5 * 5, 10))

    torch.manual_seed(0)
    tn = net(torch.nn).double()
    bn = net(bricks.nn).double()
    bn.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                        tn.state_dict().items()})
    x = _randn(4, 1, 28, 28)
    y = np.array([1, 2, 3, 4])
    for train in (True, False):
        tn.train(train)
        bn.train(train)
        tx = torch.tensor(x)
        bx = bricks.tensor(x)
        tl = TF.cross_entropy(tn(tx), torch.tensor(y))
        bl = F.cross_entropy(bn(bx), bricks.tensor(y))
        _close(bl, tl, np.float64, f"loss, train={train}")
        tn.zero_grad()
        bn.zero_grad()
        tl.backward()
        bl.backward()
        for (name, tp), bp in zip(tn.named_parameters(), bn.parameters()):
            _close(bp.grad, tp.grad, np.float64, f"grad of {name}, train={train}")
    for k, v in tn.state_dict().items():
        _close(bn.state_dict()[k], v, np.float64, f"buffer {k}")


# ---------------------------------------------------------------- pooling


@st.composite
def pool_cases(draw, dilation=True):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    # every window holds an input element (a window of padding alone is degenerate)
    assume(h >= dil[0] * (k[0] - 1) + 1 and w >= dil[1] * (k[1] - 1) + 1)
    return dict(k=k, stride=stride, padding=padding, dilation=dil, h=h, w=w,
                n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)),
                ceil_mode=draw(st.booleans()))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(pool_cases())
def test_max_pool2d_matches_torch(dtype, c):
    x = rng0.permutation(c["n"] * c["c"] * c["h"] * c["w"]).reshape(
        c["n"], c["c"], c["h"], c["w"]) / 7.0  # distinct values: no ties
    opts = dict(kernel_size=c["k"], stride=c["stride"], padding=c["padding"],
                dilation=c["dilation"], ceil_mode=c["ceil_mode"])
    check_op(lambda L, t: L.max_pool2d(t, **opts), [x], dtype)
    bv, bi = F.max_pool2d(bricks.tensor(x), return_indices=True, **opts)
    tv, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **opts)
    np.testing.assert_array_equal(_np(bi), ti.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(pool_cases(dilation=False), st.booleans(), st.sampled_from([None, 3]))
def test_avg_pool2d_matches_torch(dtype, c, count_include_pad, divisor):
    x = _randn(c["n"], c["c"], c["h"], c["w"])
    opts = dict(kernel_size=c["k"], stride=c["stride"], padding=c["padding"],
                ceil_mode=c["ceil_mode"], count_include_pad=count_include_pad,
                divisor_override=divisor)
    check_op(lambda L, t: L.avg_pool2d(t, **opts), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(k=st.integers(1, 4), stride=st.integers(1, 3), length=st.integers(4, 12),
       ceil_mode=st.booleans(), data=st.data())
def test_pool1d_matches_torch(dtype, k, stride, length, ceil_mode, data):
    pad = data.draw(st.integers(0, k // 2))
    dil = data.draw(st.integers(1, 2))
    assume(length >= dil * (k - 1) + 1)
    x = rng0.permutation(2 * 3 * length).reshape(2, 3, length) / 5.0
    check_op(lambda L, t: L.max_pool1d(t, k, stride, pad, dil, ceil_mode), [x], dtype)
    _, bi = F.max_pool1d(bricks.tensor(x), k, stride, pad, dil, ceil_mode, True)
    _, ti = TF.max_pool1d(torch.tensor(x), k, stride, pad, dil, ceil_mode, True)
    np.testing.assert_array_equal(_np(bi), ti.numpy())
    check_op(lambda L, t: L.avg_pool1d(t, k, stride, pad, ceil_mode, False), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(h=st.integers(1, 9), w=st.integers(1, 9), oh=st.integers(1, 5), ow=st.integers(1, 5))
def test_adaptive_pooling_matches_torch(dtype, h, w, oh, ow):
    x = rng0.permutation(2 * 2 * h * w).reshape(2, 2, h, w) / 3.0
    check_op(lambda L, t: L.adaptive_avg_pool2d(t, (oh, ow)), [x], dtype)
    check_op(lambda L, t: L.adaptive_max_pool2d(t, (oh, ow)), [x], dtype)
    check_op(lambda L, t: L.adaptive_avg_pool1d(t[:, :, 0], ow), [x], dtype)
    check_op(lambda L, t: L.adaptive_max_pool1d(t[:, 0], oh), [x], dtype)
    _, bi = F.adaptive_max_pool2d(bricks.tensor(x), (oh, ow), return_indices=True)
    _, ti = TF.adaptive_max_pool2d(torch.tensor(x), (oh, ow), return_indices=True)
    np.testing.assert_array_equal(_np(bi), ti.numpy())
    check_op(lambda L, t: L.adaptive_avg_pool2d(t, (None, ow)), [x], dtype)


def test_global_average_pooling_is_mean_over_space():
    x = _randn(2, 3, 4, 5)
    _close(bricks.tensor(x).mean(dim=(2, 3)), torch.tensor(x).mean(dim=(2, 3)), np.float64,
           "mean(dim=(2, 3))")


def test_max_unpool2d_matches_torch():
    x = rng0.permutation(2 * 3 * 6 * 7).reshape(2, 3, 6, 7) / 3.0
    for k, s, p, size in ((2, 2, 0, (6, 7)), (3, 2, 1, (2, 3, 6, 7)), (2, 2, 0, None)):
        if size is None:
            x = x[:, :, :, :6]
        bv, bi = F.max_pool2d(bricks.tensor(x), k, s, p, return_indices=True)
        tv, ti = TF.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
        check_op(lambda L, t, bi=bi, ti=ti, k=k, s=s, p=p, size=size: L.max_unpool2d(
            t, bi if L is F else ti, k, s, p, size), [_np(bv)], np.float64)
    layer_b, layer_t = bricks.nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    x = np.ascontiguousarray(x)
    bv, bi = bricks.nn.MaxPool2d(2, return_indices=True)(bricks.tensor(x))
    tv, ti = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    _close(layer_b(bv, bi), layer_t(tv, ti), np.float64, "MaxUnpool2d")


def test_pooling_gradcheck_and_gradgradcheck():
    x = rng0.permutation(2 * 5 * 6).reshape(1, 2, 5, 6) / 4.0
    check_grads(lambda L, t: L.max_pool2d(t, 3, 2, 1, ceil_mode=True), [x])
    check_grads(lambda L, t: L.avg_pool2d(t, 3, 2, 1, ceil_mode=True,
                                          count_include_pad=False), [x])
    check_grads(lambda L, t: L.adaptive_max_pool2d(t, (2, 4)), [x])
    check_grads(lambda L, t: L.adaptive_avg_pool2d(t, (3, 4)), [x])


def test_pool_layers_repr_and_shapes_match_torch():
    x = _randn(2, 3, 9, 8)
    for name, args in (("MaxPool2d", (3, 2, 1)), ("AvgPool2d", (2,)),
                       ("AdaptiveAvgPool2d", ((2, 3),)), ("AdaptiveMaxPool2d", (2,))):
        b, t = getattr(bricks.nn, name)(*args), getattr(torch.nn, name)(*args)
        _close(b(bricks.tensor(x)), t(torch.tensor(x)), np.float64, name)
    x1 = _randn(2, 3, 11)
    for name, args in (("MaxPool1d", (3, 2)), ("AvgPool1d", (2,)),
                       ("AdaptiveAvgPool1d", (4,)), ("AdaptiveMaxPool1d", (4,))):
        b, t = getattr(bricks.nn, name)(*args), getattr(torch.nn, name)(*args)
        _close(b(bricks.tensor(x1)), t(torch.tensor(x1)), np.float64, name)


# ---------------------------------------------------------------- normalization, dropout


def _copy_into(bl, tl):
    bl.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                        tl.state_dict().items()})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,args,kwargs", [
    ("BatchNorm2d", (3,), {}), ("BatchNorm2d", (3,), dict(momentum=None, affine=False)),
    ("GroupNorm", (1, 3), {}), ("GroupNorm", (3, 3), dict(affine=False)),
    ("InstanceNorm2d", (3,), {}), ("InstanceNorm2d", (3,), dict(affine=True,
                                                               track_running_stats=True))])
def test_image_normalization_layers_match_torch(dtype, name, args, kwargs):
    torch.manual_seed(0)
    tl = getattr(torch.nn, name)(*args, **kwargs)
    bl = getattr(bricks.nn, name)(*args, **kwargs)
    if dtype == np.float64:
        tl, bl = tl.double(), bl.double()
    with torch.no_grad():
        for p in tl.parameters():
            p.uniform_(0.5, 1.5)
    _copy_into(bl, tl)
    for train in (True, True, False):
        tl.train(train)
        bl.train(train)
        x = _randn(4, 3, 5, 6) * 3 + 1
        params_b = [p for p in bl.parameters()]
        params_t = [p for p in tl.parameters()]
        check_op(lambda L, t: bl(t) if L is F else tl(t), [x], dtype, double=False)
        for k, v in tl.state_dict().items():
            _close(bl.state_dict()[k], v, dtype, f"{name} {k}")
        assert len(params_b) == len(params_t)


def test_normalization_double_backward_and_gradcheck():
    x = _randn(2, 4, 3, 3)
    check_grads(lambda L, t, w, b: L.group_norm(t, 2, w, b), [x, _randn(4), _randn(4)])
    check_grads(lambda L, t: L.instance_norm(t), [x])
    check_op(lambda L, t, w, b: L.group_norm(t, 2, w, b), [x, _randn(4), _randn(4)],
             np.float64)
    check_op(lambda L, t: L.instance_norm(t), [x], np.float64)
    check_op(lambda L, t, w, b: L.batch_norm(t, None, None, w, b, True), [x, _randn(4),
                                                                        _randn(4)], np.float64)


def test_dropout2d_drops_whole_channels_and_is_identity_in_eval():
    bricks.manual_seed(0)
    layer = bricks.nn.Dropout2d(0.5)
    x = bricks.ones(8, 16, 4, 4, requires_grad=True)
    y = layer(x)
    sums = y.sum(dim=(2, 3)).data
    assert set(np.unique(sums)) <= {0.0, 32.0}  # a channel is all 0 or all 2
    assert 0 < (sums == 0).mean() < 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data.sum(axis=(2, 3)), sums)
    assert layer.eval()(x) is x
    with pytest.raises(RuntimeError, match="dropout2d"):
        F.dropout2d(bricks.ones(3, 4))


# ---------------------------------------------------------------- errors


def test_shape_errors_name_the_op_and_shapes():
    x = bricks.ones(2, 3, 8, 8)
    with pytest.raises(RuntimeError, match=r"conv2d: input of shape \(2, 3, 8, 8\) has 3 "
                                           r"channels.*\(6, 4, 3, 3\)"):
        F.conv2d(x, bricks.ones(6, 4, 3, 3))
    with pytest.raises(RuntimeError, match="conv2d: the kernel .* larger than the padded"):
        F.conv2d(x, bricks.ones(1, 3, 9, 9))
    with pytest.raises(RuntimeError, match="conv2d: expected a 4-D input"):
        F.conv2d(bricks.ones(8, 8), bricks.ones(1, 3, 3, 3))
    with pytest.raises(RuntimeError, match="divisible by groups"):
        F.conv2d(bricks.ones(1, 4, 5, 5), bricks.ones(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        F.conv2d(x, bricks.ones(1, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(TypeError, match="conv2d: input has dtype float32 but weight"):
        F.conv2d(x, bricks.ones(1, 3, 3, 3, dtype=bricks.float64))
    with pytest.raises(RuntimeError, match=r"bias of shape \(2,\)"):
        F.conv2d(x, bricks.ones(1, 3, 3, 3), bricks.ones(2))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, bricks.ones(3, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding_mode"):
        bricks.nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="divisible by groups"):
        bricks.nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="at most half of kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="max_pool2d: expected a 4-D input"):
        F.max_pool2d(bricks.ones(8), 2)
    with pytest.raises(RuntimeError, match="fold: expected an input of shape"):
        F.fold(bricks.ones(1, 5, 4), (3, 3), 2)
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D"):
        bricks.nn.BatchNorm2d(3)(bricks.ones(2, 3))
    with pytest.raises(ValueError, match="group_norm: the 3 channels"):
        F.group_norm(bricks.ones(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match="max_unpool2d: an index"):
        F.max_unpool2d(bricks.ones(1, 1, 1, 1), bricks.tensor([[[[99]]]]), 2)
