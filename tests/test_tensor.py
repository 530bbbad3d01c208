"""Tensor: construction and dtypes (against PyTorch), attributes, operators, in-place methods."""

import itertools

import numpy as np
import pytest
import torch

import bricks
from bricks import Tensor

# ---------------------------------------------------------------- construction and dtypes


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        (3, np.int64),
        (True, np.bool_),
        ([1.0, 2.0], np.float32),
        ([1, 2, 3], np.int64),
        ([1, 2.5], np.float32),
        ([[1, 2], [3, 4]], np.int64),
        ([[1.0, 2.0], [3.0, 4.0]], np.float32),
        ([True, False], np.bool_),
        ([], np.float32),
    ],
)
def test_tensor_from_python_values_follows_torch_dtype(data, dtype):
    t = bricks.tensor(data)
    ref = torch.tensor(data)
    assert t.dtype == dtype
    assert str(ref.dtype).removeprefix("torch.") == np.dtype(dtype).name.replace("bool_", "bool")
    assert t.shape == tuple(ref.shape)
    np.testing.assert_array_equal(t.numpy(), ref.numpy())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int32,
                                   np.int64, np.uint8, np.bool_])
def test_tensor_from_numpy_keeps_dtype_and_copies(dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    t = bricks.tensor(a)
    assert t.dtype == dtype
    assert t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy(), a)
    a[...] = 0
    assert t.numpy().any(), "bricks.tensor must copy its input"


@pytest.mark.parametrize("value", [np.float64(2.5), np.float32(1.5), np.int32(3), np.int64(4),
                                   np.bool_(True), np.float16(0.5)])
def test_tensor_from_numpy_scalar_keeps_dtype(value):
    t = bricks.tensor(value)
    assert t.shape == () and t.item() == value
    assert t.dtype.name == str(torch.tensor(value).dtype).removeprefix("torch.")


def test_tensor_with_explicit_dtype_and_from_tensor():
    t = bricks.tensor([1, 2], dtype=bricks.float64)
    assert t.dtype == np.float64
    assert bricks.tensor(1.0, dtype="float64").dtype == np.float64
    u = bricks.tensor(t)
    assert u.dtype == np.float64 and u.data is not t.data
    assert bricks.tensor(t, dtype=bricks.int64).dtype == np.int64
    assert Tensor([1.0, 2.0]).dtype == np.float32


def test_tensor_scalar_is_zero_dimensional():
    t = bricks.tensor(2.5)
    assert t.shape == () and t.ndim == 0 and t.numel() == 1 and t.item() == 2.5


def test_bad_tensor_data_errors():
    with pytest.raises((ValueError, TypeError), match="tensor"):
        bricks.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="tensor"):
        bricks.tensor(["a", object()])
    with pytest.raises(TypeError, match="complex"):
        bricks.tensor([1 + 2j])


def test_int_and_bool_tensors_exist_without_gradients():
    for t in (bricks.tensor([1, 2]), bricks.tensor([True])):
        assert not t.requires_grad and t.grad is None
        with pytest.raises(RuntimeError, match="floating point.*x.float"):
            t.requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        bricks.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        bricks.zeros(2, dtype=bricks.int64, requires_grad=True)


def test_int_result_of_float_graph_has_no_grad():
    x = bricks.tensor([1.5, -2.0], requires_grad=True)
    idx = x.argmax()
    assert idx.dtype == np.int64 and not idx.requires_grad and idx.grad_fn is None
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad and mask.grad_fn is None


# ---------------------------------------------------------------- type promotion (vs PyTorch)

_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _pair(dtype, zero_dim):
    shape = () if zero_dim else (2,)
    a = np.ones(shape, dtype=dtype)
    return bricks.tensor(a), torch.from_numpy(a.copy())


@pytest.mark.parametrize("da, db", list(itertools.product(_DTYPES, _DTYPES)))
@pytest.mark.parametrize("zero_a, zero_b", [(False, False), (False, True), (True, False)])
def test_promotion_tensor_tensor_matches_torch(da, db, zero_a, zero_b):
    ba, ta = _pair(da, zero_a)
    bb, tb = _pair(db, zero_b)
    expected = torch.result_type(ta, tb)
    if da == db == "bool":
        got = bricks.logical_or(ba, bb).dtype  # bool + bool is refused by torch too
        assert got == np.bool_
        return
    got = (ba * bb).dtype
    assert str(expected).removeprefix("torch.") == got.name


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
@pytest.mark.parametrize("zero_dim", [False, True])
def test_promotion_tensor_python_scalar_matches_torch(dtype, scalar, zero_dim):
    bt, tt = _pair(dtype, zero_dim)
    expected = torch.result_type(tt, scalar)
    assert (bt * scalar).dtype.name == str(expected).removeprefix("torch.")
    assert (scalar * bt).dtype.name == str(expected).removeprefix("torch.")


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (bricks.tensor([1, 2]), 2.5, np.float32),
        (bricks.tensor([1.0, 2.0]), bricks.tensor(1.0, dtype=bricks.float64), np.float32),
        (bricks.tensor([1, 2]), bricks.tensor([1.0, 2.0]), np.float32),
        (bricks.tensor([True, False]), bricks.tensor([1, 2]), np.int64),
        (bricks.tensor([True, False]), 3, np.int64),
        (bricks.tensor([1, 2], dtype=bricks.int32), 5, np.int32),
        (bricks.tensor([1, 2], dtype=bricks.int32), bricks.tensor(5), np.int32),
        (bricks.tensor(1), bricks.tensor(1.0, dtype=bricks.float64), np.float64),
        (bricks.tensor([1.0], dtype=bricks.float16), bricks.tensor(2.0), np.float16),
    ],
)
def test_promotion_examples_from_the_issue(a, b, expected):
    assert (a + b).dtype == expected
    assert (b + a).dtype == expected


def test_true_division_of_ints_gives_float32():
    assert (bricks.tensor([1, 2]) / 2).dtype == np.float32
    assert (bricks.tensor([1, 2]) / bricks.tensor([2, 4])).tolist() == [0.5, 0.5]


# ---------------------------------------------------------------- creation functions


def test_zeros_ones_full_empty():
    z = bricks.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.numpy().any()
    assert bricks.zeros((2, 3)).shape == (2, 3)
    assert bricks.zeros([4]).shape == (4,)
    o = bricks.ones(3, dtype=bricks.float64)
    assert o.dtype == np.float64 and o.tolist() == [1.0, 1.0, 1.0]
    assert bricks.empty(2, 2).shape == (2, 2)
    assert bricks.full((2,), 7).dtype == np.int64
    assert bricks.full((2,), 7.0).dtype == np.float32
    assert bricks.full((2,), True).dtype == np.bool_
    assert bricks.full((2, 2), 1.5).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert bricks.zeros(0, 3).shape == (0, 3)
    p = bricks.ones(2, requires_grad=True)
    assert p.requires_grad and p.is_leaf
    with pytest.raises(RuntimeError, match="non-negative"):
        bricks.zeros(-1)


def test_arange_linspace_eye_match_torch():
    for args in [(5,), (1, 4), (0, 10, 3), (0.0, 1.0, 0.25), (5, 0, -2)]:
        b, t = bricks.arange(*args), torch.arange(*args)
        assert b.dtype.name == str(t.dtype).removeprefix("torch.")
        np.testing.assert_allclose(b.numpy(), t.numpy())
    lb, lt = bricks.linspace(-1, 1, 5), torch.linspace(-1, 1, 5)
    assert lb.dtype == np.float32
    np.testing.assert_allclose(lb.numpy(), lt.numpy())
    assert bricks.eye(3).tolist() == torch.eye(3).tolist()
    assert bricks.eye(2, 3).tolist() == torch.eye(2, 3).tolist()
    assert bricks.eye(3).dtype == np.float32
    with pytest.raises(RuntimeError, match="step"):
        bricks.arange(0, 3, 0)


@pytest.mark.parametrize("args", [(np.int64(5),), (np.int32(1), 4), (bricks.tensor(4),),
                                  (0, bricks.tensor(6), 2), (np.float32(2.0),)])
def test_arange_with_numpy_and_tensor_numbers_matches_torch(args):
    b = bricks.arange(*args)
    t = torch.arange(*[torch.tensor(a.item()) if isinstance(a, bricks.Tensor) else a
                       for a in args])
    assert b.dtype.name == str(t.dtype).removeprefix("torch.")
    assert b.tolist() == t.tolist()


def test_like_functions_keep_shape_and_dtype():
    x = bricks.tensor([[1.0, 2.0]], dtype=bricks.float64, requires_grad=True)
    for fn in (bricks.zeros_like, bricks.ones_like, bricks.randn_like, bricks.empty_like,
               bricks.rand_like):
        y = fn(x)
        assert y.shape == (1, 2) and y.dtype == np.float64
        assert not y.requires_grad, f"{fn.__name__} must not copy requires_grad"
    assert bricks.zeros_like(x).tolist() == [[0.0, 0.0]]
    assert bricks.ones_like(x).tolist() == [[1.0, 1.0]]
    assert bricks.full_like(x, 3).tolist() == [[3.0, 3.0]]
    assert bricks.zeros_like(x, dtype=bricks.int64).dtype == np.int64
    assert bricks.ones_like(bricks.tensor([1, 2])).dtype == np.int64


def test_random_functions_shapes_dtypes_and_ranges():
    bricks.manual_seed(0)
    r = bricks.rand(1000)
    assert r.dtype == np.float32 and r.shape == (1000,)
    assert 0.0 <= r.numpy().min() and r.numpy().max() < 1.0
    n = bricks.randn(200, 50, dtype=bricks.float64)
    assert n.dtype == np.float64
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    i = bricks.randint(3, 7, (500,))
    assert i.dtype == np.int64 and set(i.tolist()) == {3, 4, 5, 6}
    assert bricks.randint(4, (2, 2)).shape == (2, 2)
    assert set(bricks.randint(2, size=(100,)).tolist()) == {0, 1}
    assert set(bricks.randint(5, 7, size=(100,)).tolist()) == {5, 6}
    assert bricks.randint(3, (4,), dtype=bricks.int32).dtype == np.int32
    with pytest.raises(TypeError, match="randint"):
        bricks.randint(3)
    assert sorted(bricks.randperm(6).tolist()) == list(range(6))
    with pytest.raises(RuntimeError, match="floating"):
        bricks.randn(2, dtype=bricks.int64)
    with pytest.raises(RuntimeError, match="high"):
        bricks.randint(5, 5, (2,))


def test_manual_seed_makes_every_random_op_reproducible():
    def draw():
        x = bricks.empty(5)
        with bricks.no_grad():
            x.uniform_(-1, 1)
        y = bricks.empty(5).normal_(2.0, 3.0)
        return [bricks.rand(3).tolist(), bricks.randn(2, 2).tolist(),
                bricks.randint(0, 100, (4,)).tolist(), bricks.randperm(5).tolist(),
                bricks.randn_like(bricks.zeros(3)).tolist(), x.tolist(), y.tolist()]

    bricks.manual_seed(1234)
    first = draw()
    bricks.manual_seed(1234)
    second = draw()
    bricks.manual_seed(4321)
    third = draw()
    assert first == second
    assert first != third
    with pytest.raises(TypeError, match="seed"):
        bricks.manual_seed(1.5)


def test_rng_state_roundtrip():
    bricks.manual_seed(3)
    state = bricks.get_rng_state()
    a = bricks.randn(4).tolist()
    bricks.set_rng_state(state)
    assert bricks.randn(4).tolist() == a


# ---------------------------------------------------------------- attributes and methods


def test_attributes_of_leaves_and_results():
    x = bricks.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert isinstance(x.data, np.ndarray)
    assert x.grad is None and x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float32
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2
    assert x.numel() == 6 and len(x) == 2
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    assert y.grad_fn is not None and y.grad_fn.name() == "MulBackward"
    c = bricks.tensor([1.0, 2.0])
    assert c.is_leaf and not c.requires_grad
    assert (c * 2).is_leaf  # no graph without requires_grad, as in PyTorch


def test_requires_grad_underscore_and_setter():
    x = bricks.tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    assert x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_item_tolist_numpy():
    assert bricks.tensor([[3.5]]).item() == 3.5
    assert isinstance(bricks.tensor(3).item(), int)
    assert isinstance(bricks.tensor(3.0).item(), float)
    assert bricks.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    t = bricks.tensor([1.0, 2.0])
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0] = 9.0  # shares memory, like PyTorch
    assert t.tolist() == [9.0, 2.0]
    with pytest.raises(RuntimeError, match="detach"):
        bricks.tensor([1.0], requires_grad=True).numpy()
    assert float(bricks.tensor(2.5)) == 2.5 and int(bricks.tensor(7)) == 7
    np.testing.assert_array_equal(np.asarray(bricks.tensor([1, 2])), [1, 2])


def test_detach_shares_data_and_cuts_graph():
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    z = (d * x).sum()
    z.backward()
    assert x.grad.tolist() == [3.0, 6.0]  # only through the non-detached factor


def test_clone_copies_data_and_stays_differentiable():
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data)
    assert c.requires_grad and not c.is_leaf
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    k = bricks.tensor([1, 2]).clone()
    assert k.dtype == np.int64 and not k.requires_grad


def test_T_reverses_all_dims():
    x = bricks.arange(24).reshape(2, 3, 4)
    assert x.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    m = bricks.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (m.T * bricks.tensor([[1.0, 0.0], [0.0, 0.0]])).sum().backward()
    assert m.grad.tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_repr_is_readable_like_torch():
    assert repr(bricks.tensor([1.0, 2.0, 3.0])) == "tensor([1., 2., 3.])"
    assert repr(bricks.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(bricks.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(bricks.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(bricks.tensor([1.0], dtype=bricks.float64)) == "tensor([1.], dtype=bricks.float64)"
    x = bricks.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert "size=(0, 3)" in repr(bricks.zeros(0, 3))
    assert repr(bricks.tensor(True)) == "tensor(True)"


def test_retain_grad_and_register_hook_are_methods():
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    (y * y).sum().backward()
    assert y.grad.tolist() == [4.0, 8.0]
    assert seen == [[4.0, 8.0]]
    with pytest.raises(RuntimeError, match="does not require grad"):
        bricks.tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match="does not require grad"):
        bricks.tensor([1.0]).retain_grad()


# ---------------------------------------------------------------- operators


_A = [[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]]
_B = [[2.0, 0.5, -1.5], [3.0, -2.0, 2.5]]


# PyTorch has no derivative for floor division, nor for a remainder with a scalar dividend:
# those rows compare the forward only.
_OPERATORS = [
    (lambda a, b: a + b, True), (lambda a, b: a - b, True), (lambda a, b: a * b, True),
    (lambda a, b: a / b, True), (lambda a, b: a // b, False), (lambda a, b: a % b, True),
    (lambda a, b: abs(a) ** b, True), (lambda a, b: a @ b.T, True), (lambda a, b: -a, True),
    (lambda a, b: abs(a), True), (lambda a, b: a.abs(), True), (lambda a, b: 2 - a, True),
    (lambda a, b: 2 + a, True), (lambda a, b: 2 * a, True), (lambda a, b: 2 / a, True),
    (lambda a, b: 2 ** a, True), (lambda a, b: 7 // b, False), (lambda a, b: 7 % b, False),
    (lambda a, b: a - 2, True), (lambda a, b: a ** 2, True), (lambda a, b: a / 4, True),
    (lambda a, b: +a, True), (lambda a, b: abs(a) ** 0.5, True),
]


@pytest.mark.parametrize("op, check_grad", _OPERATORS)
def test_operators_match_torch_forward_and_backward(op, check_grad):
    a, b = bricks.tensor(_A, requires_grad=True), bricks.tensor(_B, requires_grad=True)
    ta, tb = torch.tensor(_A, requires_grad=True), torch.tensor(_B, requires_grad=True)
    out, ref = op(a, b), op(ta, tb)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    if check_grad:
        w = np.arange(1.0, 1.0 + ref.numel(), dtype=np.float32).reshape(ref.shape)
        out.backward(bricks.tensor(w))
        ref.backward(torch.from_numpy(w))
        for mine, theirs in ((a, ta), (b, tb)):
            if theirs.grad is None:
                assert mine.grad is None or not mine.grad.numpy().any()
            else:
                np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-5)


def test_matmul_with_numpy_array_on_either_side():
    m = bricks.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    assert isinstance(m @ a, Tensor) and isinstance(a @ m, Tensor)
    assert (a @ m).tolist() == [[1.0, 2.0], [6.0, 8.0]]
    assert (np.float32(2.0) * m).tolist() == [[2.0, 4.0], [6.0, 8.0]]


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_give_bool_and_no_grad(name):
    a = bricks.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = bricks.tensor([3.0, 2.0, 1.0])
    ta, tb = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0])
    for got, ref in ((getattr(a, name)(b), getattr(ta, name)(tb)),
                     (getattr(a, name)(2.0), getattr(ta, name)(2.0))):
        assert got.dtype == np.bool_ and not got.requires_grad and got.grad_fn is None
        assert got.tolist() == ref.tolist()
    ops = {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}
    assert ops[name].tolist() == getattr(ta, name)(tb).tolist()
    reflected = {"lt": 2 < a, "gt": 2 > a, "le": 2 <= a, "ge": 2 >= a, "eq": 2 == a,
                 "ne": 2 != a}[name]
    flipped = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le", "eq": "eq", "ne": "ne"}[name]
    assert reflected.tolist() == getattr(ta, flipped)(2.0).tolist()


def test_logical_operators_on_bool_tensors():
    p, q = bricks.tensor([True, True, False]), bricks.tensor([True, False, False])
    assert (p & q).tolist() == [True, False, False]
    assert (p | q).tolist() == [True, True, False]
    assert (p ^ q).tolist() == [False, True, False]
    assert (~p).tolist() == [False, False, True]


def test_tensor_is_hashable_and_truth_value():
    x = bricks.tensor([1.0])
    assert {x: 1}[x] == 1
    assert bool(bricks.tensor([2.0]) > 1)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(bricks.tensor([1.0, 2.0]))


def test_indexing_backward_accumulates_repeated_indices():
    x = bricks.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x[bricks.tensor([0, 2, 0, 0])]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0, 0.0]
    m = bricks.arange(12.0).reshape(3, 4)
    assert m[1].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert m[:, None, 1:3].shape == (3, 1, 2)
    assert m[..., -1].tolist() == [3.0, 7.0, 11.0]
    assert m[m > 8].tolist() == [9.0, 10.0, 11.0]


# ---------------------------------------------------------------- in-place methods and setitem


def test_inplace_methods_change_data_and_return_self():
    x = bricks.tensor([1.0, 2.0, 3.0])
    assert x.add_(1) is x and x.tolist() == [2.0, 3.0, 4.0]
    x.add_(bricks.tensor([1.0, 1.0, 1.0]), alpha=-2)
    assert x.tolist() == [0.0, 1.0, 2.0]
    assert x.mul_(3) is x and x.tolist() == [0.0, 3.0, 6.0]
    x.sub_(1)
    assert x.tolist() == [-1.0, 2.0, 5.0]
    assert x.fill_(7) is x and x.tolist() == [7.0, 7.0, 7.0]
    assert x.zero_() is x and x.tolist() == [0.0, 0.0, 0.0]
    assert x.copy_(bricks.tensor([4.0, 5.0, 6.0])) is x and x.tolist() == [4.0, 5.0, 6.0]
    x.copy_(bricks.tensor(1.0))  # broadcast
    assert x.tolist() == [1.0, 1.0, 1.0]
    assert x.dtype == np.float32


def test_inplace_random_initializers():
    bricks.manual_seed(0)
    w = bricks.empty(2000, dtype=bricks.float64)
    assert w.uniform_(-2.0, 3.0) is w
    assert -2.0 <= w.numpy().min() and w.numpy().max() < 3.0
    assert abs(w.numpy().mean() - 0.5) < 0.1
    assert w.normal_(1.0, 0.5) is w
    assert abs(w.numpy().mean() - 1.0) < 0.05 and abs(w.numpy().std() - 0.5) < 0.05
    assert w.dtype == np.float64


def test_inplace_bumps_version_and_keeps_identity():
    x = bricks.tensor([1.0, 2.0])
    data = x.data
    before = x._vc[0]
    x.add_(1)
    x.mul_(2)
    x.zero_()
    x.fill_(1)
    x.copy_(bricks.tensor([0.0, 0.0]))
    x.uniform_()
    x.normal_()
    x[0] = 3.0
    assert x._vc[0] == before + 8
    assert x.data is data


def test_inplace_on_parameters_under_no_grad_like_an_optimizer():
    w = bricks.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with bricks.no_grad():
        w.add_(w.grad, alpha=-0.25)
        w.grad.zero_()
    assert w.tolist() == [0.5, 1.0]
    assert w.grad.tolist() == [0.0, 0.0]
    assert w.requires_grad and w.is_leaf


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.mean(), lambda x: x.var(), lambda x: x.sum(), lambda x: x[0].exp(),
        lambda x: -x.sum(), lambda x: x.sum() * x.sum(), lambda x: x.max(), lambda x: x.std(),
        lambda x: x.sum().sigmoid(), lambda x: x.sum().to(bricks.float64),
    ],
)
def test_zero_dim_results_hold_arrays_that_change_in_place(op):
    # NumPy returns scalars from ufuncs and reductions on 0-d data; a Tensor must still hold
    # an array, or in-place updates (optimizer steps, zero_grad) on it fail.
    x = bricks.tensor([0.5, 1.5, 2.5], requires_grad=True)
    y = op(x)
    assert isinstance(y.data, np.ndarray) and y.shape == ()
    with bricks.no_grad():
        z = op(x)
        assert isinstance(z.data, np.ndarray)
        z.add_(1)


def test_optimizer_step_on_zero_dim_parameter():
    p = bricks.tensor(2.0, requires_grad=True)
    for _ in range(2):
        loss = (p * p).mean() + p.exp()
        loss.backward()
        assert isinstance(p.grad.data, np.ndarray)
        with bricks.no_grad():
            p.grad.mul_(0.5)
            p.sub_(p.grad, alpha=0.1)
            p.grad.zero_()
    assert p.grad.item() == 0.0 and p.item() < 2.0 and p.is_leaf


def test_inplace_int_tensor_refuses_float_result():
    k = bricks.tensor([1, 2])
    k.add_(3)
    assert k.tolist() == [4, 5] and k.dtype == np.int64
    with pytest.raises(RuntimeError, match="x.float"):
        k.mul_(1.5)
    with pytest.raises(RuntimeError, match="shape"):
        bricks.zeros(3).add_(bricks.zeros(2, 3))
    with pytest.raises(RuntimeError, match="copy_"):
        bricks.zeros(3).copy_(bricks.zeros(4))


def test_setitem():
    x = bricks.zeros(2, 3)
    x[0] = 1.0
    x[1, 1:] = bricks.tensor([5.0, 6.0])
    x[:, 0] += 0  # reads, adds, writes back: fine on a tensor outside any graph
    assert x.tolist() == [[1.0, 1.0, 1.0], [0.0, 5.0, 6.0]]
    x[x > 4] = -1.0
    assert x.tolist() == [[1.0, 1.0, 1.0], [0.0, -1.0, -1.0]]
    with pytest.raises(IndexError, match="setitem"):
        x[5] = 1.0
    p = bricks.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        p[0] = 1.0
    with bricks.no_grad():
        p[0] = 1.0
    assert p.tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- issue 10.6


def test_sum_to_size_is_torchs():
    import torch

    x = np.arange(24.0).reshape(2, 3, 4)
    for size in [(1, 3, 1), (3, 4), (4,), (2, 1, 4), ((1, 1, 1),)]:
        mine = bricks.tensor(x).sum_to_size(*size)
        theirs = torch.tensor(x).sum_to_size(*size)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    np.testing.assert_array_equal(bricks.sum_to_size(bricks.tensor(x), (3, 1)).numpy(),
                                  torch.tensor(x).sum_to_size((3, 1)).numpy())
    w = bricks.tensor(x, requires_grad=True)
    w.sum_to_size(3, 1).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones_like(x))
    with pytest.raises(RuntimeError, match=r"sum_to_size: size \(2, 2\) is not expandable to "
                                           r"the tensor's shape \(2, 3, 4\)"):
        bricks.tensor(x).sum_to_size(2, 2)


def test_from_numpy_shares_memory():
    a = np.zeros((2, 3))
    t = bricks.from_numpy(a)
    assert t.dtype == np.float64 and t.shape == (2, 3)
    a[0, 0] = 5.0
    assert t[0, 0].item() == 5.0
    t.data[1, 2] = 7.0
    assert a[1, 2] == 7.0
    assert np.shares_memory(t.numpy(), a)
    assert bricks.from_numpy(np.arange(3)).dtype == np.int64
    with pytest.raises(TypeError, match="from_numpy: expected a NumPy array"):
        bricks.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="from_numpy: can't convert an array of dtype <U1"):
        bricks.from_numpy(np.array(["a"]))
