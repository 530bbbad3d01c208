"""Errors speak the user's language (STYLE.md rule 11): a shape mismatch names the op and both
shapes, a wrong dtype says how to convert, a bad ``dim`` gives the valid range."""

import re

import pytest
import torch
import torch.nn.functional as TF

import bricks
import bricks.nn.functional as BF


def shapes(a, b):
    return re.escape(f"{a}") + ".*" + re.escape(f"{b}")


# ---------------------------------------------------------------- broadcasting


@pytest.mark.parametrize(
    "name, op",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a ** b),
        ("floor_divide", lambda a, b: a // b),
        ("remainder", lambda a, b: a % b),
        ("maximum", bricks.maximum),
        ("minimum", bricks.minimum),
        ("eq", lambda a, b: a == b),
        ("lt", lambda a, b: a < b),
    ],
)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_broadcast_mismatch_names_op_and_both_shapes(name, op, requires_grad):
    a = bricks.ones(2, 3, requires_grad=requires_grad)
    b = bricks.ones(4, 2)
    with pytest.raises(RuntimeError, match=f"^{name}: shapes " + shapes((2, 3), (4, 2))
                       + ".*cannot be broadcast"):
        op(a, b)


def test_broadcast_mismatch_with_a_vector():
    with pytest.raises(RuntimeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        bricks.ones(2, 3) + bricks.ones(4)


def test_where_mismatch_names_all_shapes():
    with pytest.raises(RuntimeError, match=r"where: shapes \(2, 3\) and \(3, 2\) and \(2,\)"):
        bricks.where(bricks.ones(2, 3) > 0, bricks.ones(3, 2), bricks.ones(2))


def test_masked_fill_mismatch():
    with pytest.raises(RuntimeError, match=r"masked_fill: mask of shape \(3, 2\).*\(2, 3\)"):
        bricks.ones(2, 3).masked_fill(bricks.ones(3, 2) > 0, 0.0)


# ---------------------------------------------------------------- matmul and friends


def test_matmul_inner_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be "
                                           r"multiplied \(3 != 2\)"):
        bricks.ones(2, 3) @ bricks.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(4,\) and \(3, 2\)"):
        bricks.ones(4) @ bricks.ones(3, 2)
    with pytest.raises(RuntimeError, match=r"matmul: shapes \(2, 3\) and \(4,\)"):
        bricks.matmul(bricks.ones(2, 3), bricks.ones(4))


def test_matmul_batch_mismatch():
    with pytest.raises(RuntimeError, match=r"matmul: batch dimensions of \(2, 2, 3\) and "
                                           r"\(3, 3, 2\)"):
        bricks.ones(2, 2, 3) @ bricks.ones(3, 3, 2)


def test_matmul_zero_dim():
    with pytest.raises(RuntimeError, match=r"matmul: .*at least 1 dimension.*\(\) and \(3,\)"):
        bricks.ones(()) @ bricks.ones(3)


def test_mm_dot_outer_einsum_shapes():
    with pytest.raises(RuntimeError, match=r"mm: expects two 2-D tensors.*\(3,\) and \(3, 2\)"):
        bricks.mm(bricks.ones(3), bricks.ones(3, 2))
    with pytest.raises(RuntimeError, match="dot: tensors must have the same length, got 3 and 4"):
        bricks.dot(bricks.ones(3), bricks.ones(4))
    with pytest.raises(RuntimeError, match=r"outer: expects 1-D tensors"):
        bricks.outer(bricks.ones(3, 1), bricks.ones(2))
    with pytest.raises(RuntimeError, match="einsum: subscript 'j' has size 3 and 2"):
        bricks.einsum("ij,jk->ik", bricks.ones(2, 3), bricks.ones(2, 3))
    with pytest.raises(RuntimeError, match="einsum: equation 'ij,jk->ik' names 2 operands, got 1"):
        bricks.einsum("ij,jk->ik", bricks.ones(2, 3))


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "name, op",
    [
        ("matmul", lambda a, b: a @ b),
        ("matmul", bricks.matmul),
        ("mm", bricks.mm),
        ("einsum", lambda a, b: bricks.einsum("ij,jk->ik", a, b)),
    ],
)
def test_mixed_float_dtypes_where_torch_refuses_say_how_to_convert(name, op):
    a, b = bricks.ones(2, 3), bricks.ones(3, 2, dtype=bricks.float64)
    with pytest.raises(RuntimeError, match="same dtype, got float32 and float64.*x.float\\(\\) or "
                                        "x.double\\(\\)"):
        op(a, b)


def test_int_matmul_float_says_how_to_convert():
    with pytest.raises(RuntimeError, match=r"int64 and float32.*x\.float\(\)"):
        bricks.tensor([[1, 2]]) @ bricks.ones(2, 1)


def test_requires_grad_on_integer_tensor_says_how_to_convert():
    with pytest.raises(RuntimeError, match=r"floating point dtype.*bricks\.int64.*x\.float\(\)"):
        bricks.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match=r"bricks\.bool"):
        bricks.tensor([True], requires_grad=True)


def test_inplace_float_into_int_says_how_to_convert():
    with pytest.raises(RuntimeError, match=r"mul_: .*float.*int64.*x = x\.float\(\)"):
        bricks.tensor([1, 2]).mul_(0.5)


def test_gradcheck_float32_input_says_double():
    from bricks.testing import gradcheck

    with pytest.raises(ValueError, match=r"float64.*x\.double\(\)"):
        gradcheck(lambda t: t * 2, (bricks.ones(2, requires_grad=True),))


def test_one_hot_and_index_select_need_integer_indices():
    with pytest.raises(RuntimeError, match="one_hot: expected an integer tensor.*float32"):
        bricks.one_hot(bricks.tensor([1.0]), 3)
    with pytest.raises(IndexError, match="index_select: index must be a 1-D integer tensor"):
        bricks.ones(2, 3).index_select(0, bricks.tensor([1.0]))


def test_bad_dtype_argument_and_operand():
    with pytest.raises(TypeError, match="not a dtype: 'foo'"):
        bricks.ones(2, dtype="foo")
    with pytest.raises(TypeError, match="add: unsupported operand types Tensor and str"):
        bricks.ones(2) + "a"
    with pytest.raises(ValueError, match="set_default_dtype: expected float32 or float64"):
        bricks.set_default_dtype(bricks.int64)


# ---------------------------------------------------------------- dims


_RANGE = r"dim {d} is out of range for a tensor with 2 dimensions \(expected -2\.\.1\)"


@pytest.mark.parametrize(
    "name, call",
    [
        ("sum", lambda x, d: x.sum(dim=d)),
        ("mean", lambda x, d: x.mean(dim=d)),
        ("var", lambda x, d: x.var(dim=d)),
        ("max", lambda x, d: x.max(dim=d)),
        ("min", lambda x, d: x.min(dim=d)),
        ("amax", lambda x, d: x.amax(dim=d)),
        ("argmax", lambda x, d: x.argmax(dim=d)),
        ("prod", lambda x, d: x.prod(dim=d)),
        ("logsumexp", lambda x, d: x.logsumexp(dim=d)),
        ("norm", lambda x, d: x.norm(dim=d)),
        ("cumsum", lambda x, d: x.cumsum(dim=d)),
        ("transpose", lambda x, d: x.transpose(0, d)),
        ("squeeze", lambda x, d: x.squeeze(d)),
        ("flip", lambda x, d: x.flip(d)),
        ("split", lambda x, d: x.split(1, dim=d)),
        ("chunk", lambda x, d: x.chunk(2, dim=d)),
        ("gather", lambda x, d: x.gather(d, bricks.tensor([[0]]))),
        ("index_select", lambda x, d: x.index_select(d, bricks.tensor([0]))),
        ("cat", lambda x, d: bricks.cat([x, x], dim=d)),
        ("size", lambda x, d: x.size(d)),
        ("all/any", lambda x, d: x.all(dim=d)),
    ],
)
@pytest.mark.parametrize("d", [2, -3])
def test_bad_dim_gives_valid_range(name, call, d):
    with pytest.raises(IndexError, match=re.escape(name) + ": " + _RANGE.format(d=d)):
        call(bricks.ones(2, 3), d)


def test_bad_dim_for_ops_that_add_a_dimension():
    with pytest.raises(IndexError, match=r"unsqueeze: dim 4 .*\(expected -3\.\.2\)"):
        bricks.ones(2, 3).unsqueeze(4)
    with pytest.raises(IndexError, match=r"stack: dim 3 .*\(expected -2\.\.1\)"):
        bricks.stack([bricks.ones(2)], dim=3)


def test_non_integer_dim():
    with pytest.raises(TypeError, match="sum: dim must be an int, got float"):
        bricks.ones(2, 3).sum(dim=1.0)


def test_repeated_dim():
    with pytest.raises(RuntimeError, match=r"sum: dim \(1, -1\) names a dimension twice"):
        bricks.ones(2, 3).sum(dim=(1, -1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "std"])
def test_bad_dim_names_the_composite_op_called(name):
    x = bricks.ones(2, 3)
    with pytest.raises(IndexError, match=f"^{name}: dim 5 is out of range"):
        getattr(x, name)(5) if name != "std" else x.std(dim=5)


# ---------------------------------------------------------------- shapes


def test_reshape_and_expand_errors():
    with pytest.raises(RuntimeError, match=r"reshape: shape \(4, 2\) is invalid for a tensor of "
                                           r"6 elements \(shape \(2, 3\)\)"):
        bricks.ones(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError, match=r"expand: .*size 4 must match the existing size 2 at "
                                           r"dimension 0"):
        bricks.ones(2, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match=r"permute: dims \(0, 0\) must be a permutation"):
        bricks.ones(2, 3).permute(0, 0)


def test_view_error_names_view():
    with pytest.raises(RuntimeError, match=r"^view: shape \(5,\) is invalid"):
        bricks.ones(2, 3).view(5)


def test_dot_dtype_error_names_dot():
    with pytest.raises(RuntimeError, match=r"^dot: expected operands of the same dtype"):
        bricks.dot(bricks.ones(3), bricks.ones(3, dtype=bricks.float64))


def test_cat_and_stack_shape_errors():
    with pytest.raises(RuntimeError, match=r"cat: .*except in dimension 0: tensor 0 has shape "
                                           r"\(2, 3\), tensor 1 has shape \(3, 2\)"):
        bricks.cat([bricks.ones(2, 3), bricks.ones(3, 2)], dim=0)
    with pytest.raises(RuntimeError, match=r"stack: .*\(2, 3\) at entry 0 and \(3, 2\) at entry 1"):
        bricks.stack([bricks.ones(2, 3), bricks.ones(3, 2)])


def test_indexing_errors_name_the_tensor_shape():
    with pytest.raises(IndexError, match=r"index 5 is out of bounds.*tensor of shape \(2, 3\)"):
        bricks.ones(2, 3)[5]
    with pytest.raises(IndexError, match=r"too many indices.*tensor of shape \(2, 3\)"):
        bricks.ones(2, 3)[0, 0, 0]


def test_misc_argument_errors():
    with pytest.raises(RuntimeError, match=r"t: expects a tensor with <= 2 dimensions, got 3"):
        bricks.ones(2, 3, 4).t()
    with pytest.raises(RuntimeError, match="norm: p must be 'fro' or a number, got 'bad'"):
        bricks.ones(3).norm(p="bad")
    with pytest.raises(RuntimeError, match=r"pad: expected an even number of sizes"):
        bricks.pad(bricks.ones(2, 3), (1,))
    with pytest.raises(RuntimeError, match=r"repeat: number of repeats \(1\) must be at least"):
        bricks.ones(2, 3).repeat(2)
    with pytest.raises(ValueError, match="chunk: chunks must be positive, got 0"):
        bricks.ones(2, 3).chunk(0)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(bricks.tensor(1.0))


# ---------------------------------------------------------------- item and conversions


def test_item_on_many_elements():
    with pytest.raises(RuntimeError, match=r"item: only one-element tensors.*shape \(2, 3\)"):
        bricks.ones(2, 3).item()
    with pytest.raises(RuntimeError, match=r"item: .*shape \(0,\)"):
        bricks.zeros(0).item()
    with pytest.raises(RuntimeError, match="item"):
        float(bricks.ones(2))


def test_bool_of_many_elements():
    with pytest.raises(RuntimeError, match="truth value of a tensor with 2 elements is ambiguous"):
        if bricks.ones(2):
            pass


def test_numpy_on_tensor_requiring_grad():
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        bricks.ones(2, requires_grad=True).numpy()


# ---------------------------------------------------------------- autograd errors


def test_backward_errors():
    x = bricks.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad can be created implicitly only for scalar "
                                           r"outputs.*shape \(3,\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(2,\) but output 0 has shape "
                                           r"\(3,\)"):
        (x * 2).backward(bricks.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad and has no grad_fn"):
        bricks.ones(3).sum().backward()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="SumBackward: trying to backward through the graph a "
                                           "second time.*retain_graph=True"):
        y.backward()


def test_inplace_errors():
    x = bricks.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad.*"
                                           r"with bricks\.no_grad\(\)"):
        x.add_(1)
    w = bricks.ones(2)
    y = (x * w).sum()
    with bricks.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: a tensor of shape "
                                           r"\(2,\) saved by MulBackward is at version 1, "
                                           r"expected version 0.*clone\(\)"):
        y.backward()


@pytest.mark.parametrize("op", ["fill_", "zero_", "add_", "mul_", "copy_", "uniform_",
                                "normal_", "clamp_", "setitem"])
def test_inplace_on_expanded_view_says_clone(op):
    v = bricks.tensor([[1.0, 2.0]]).expand(3, 2)
    calls = {
        "fill_": lambda: v.fill_(0), "zero_": lambda: v.zero_(), "add_": lambda: v.add_(1),
        "mul_": lambda: v.mul_(2), "copy_": lambda: v.copy_(bricks.ones(3, 2)),
        "uniform_": lambda: v.uniform_(), "normal_": lambda: v.normal_(),
        "clamp_": lambda: v.clamp_(0, 1), "setitem": lambda: v.__setitem__(0, 1.0),
    }
    with pytest.raises(RuntimeError, match=rf"{op}: the tensor of shape \(3, 2\) is an expanded "
                                           r"view.*clone\(\)"):
        calls[op]()


def test_creation_errors():
    with pytest.raises(RuntimeError, match=r"zeros: sizes must be non-negative, got \(2, -1\)"):
        bricks.zeros(2, -1)
    with pytest.raises(RuntimeError, match="arange: step must be nonzero"):
        bricks.arange(0, 1, 0)
    with pytest.raises(RuntimeError, match="linspace: steps must be non-negative"):
        bricks.linspace(0, 1, -1)
    with pytest.raises(RuntimeError, match="randn: dtype must be floating"):
        bricks.randn(2, dtype=bricks.int64)
    with pytest.raises(RuntimeError, match=r"randint: high \(2\) must be greater than low \(3\)"):
        bricks.randint(3, 2, (4,))
    with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
        bricks.manual_seed("0")


# ---------------------------------------------------------------- issue 10.5: PyTorch's classes

# (name, bricks call, torch call): each must raise the class torch raises (bricks keeps its
# own, more helpful message).
SAME_CLASS = [
    ("matmul dtype", lambda: bricks.ones(2, 2, dtype=bricks.float64) @ bricks.ones(2, 2),
     lambda: torch.ones(2, 2, dtype=torch.float64) @ torch.ones(2, 2)),
    ("linear dtype", lambda: BF.linear(bricks.ones(2, 2, dtype=bricks.float64),
                                       bricks.ones(3, 2)),
     lambda: TF.linear(torch.ones(2, 2, dtype=torch.float64), torch.ones(3, 2))),
    ("matmul shapes", lambda: bricks.ones(2, 3) @ bricks.ones(2, 2),
     lambda: torch.ones(2, 3) @ torch.ones(2, 2)),
    ("index", lambda: bricks.ones(3)[5], lambda: torch.ones(3)[5]),
    ("index tensor", lambda: bricks.ones(3)[bricks.tensor([5])],
     lambda: torch.ones(3)[torch.tensor([5])]),
    ("dim", lambda: bricks.ones(3).sum(dim=2), lambda: torch.ones(3).sum(dim=2)),
    ("reshape", lambda: bricks.ones(3).reshape(2, 2), lambda: torch.ones(3).reshape(2, 2)),
    ("where condition", lambda: bricks.where(bricks.ones(2), bricks.ones(2), 0.0),
     lambda: torch.where(torch.ones(2), torch.ones(2), 0.0)),
    ("mean of ints", lambda: bricks.ones(2, dtype=bricks.int64).mean(),
     lambda: torch.ones(2, dtype=torch.int64).mean()),
    ("neg bool", lambda: -bricks.ones(2, dtype=bricks.bool),
     lambda: -torch.ones(2, dtype=torch.bool)),
    ("gather range", lambda: bricks.ones(2, 2).gather(1, bricks.tensor([[5, 0], [0, 0]])),
     lambda: torch.ones(2, 2).gather(1, torch.tensor([[5, 0], [0, 0]]))),
    ("gather float index", lambda: bricks.ones(2, 2).gather(1, bricks.ones(2, 2)),
     lambda: torch.ones(2, 2).gather(1, torch.ones(2, 2))),
    ("masked_fill mask", lambda: bricks.ones(2).masked_fill(bricks.ones(2), 0.0),
     lambda: torch.ones(2).masked_fill(torch.ones(2), 0.0)),
    ("cross_entropy float target",
     lambda: BF.cross_entropy(bricks.ones(2, 3), bricks.tensor([0.0, 1.0])),
     lambda: TF.cross_entropy(torch.ones(2, 3), torch.tensor([0.0, 1.0]))),
    ("cross_entropy target range",
     lambda: BF.cross_entropy(bricks.ones(2, 3), bricks.tensor([0, 5])),
     lambda: TF.cross_entropy(torch.ones(2, 3), torch.tensor([0, 5]))),
    ("mse shapes", lambda: BF.mse_loss(bricks.ones(2, 3), bricks.ones(3, 3)),
     lambda: TF.mse_loss(torch.ones(2, 3), torch.ones(3, 3))),
    ("bce range", lambda: BF.binary_cross_entropy(bricks.ones(2) * 2, bricks.ones(2)),
     lambda: TF.binary_cross_entropy(torch.ones(2) * 2, torch.ones(2))),
    ("bce shapes", lambda: BF.binary_cross_entropy(bricks.ones(2) * 0.5, bricks.ones(3)),
     lambda: TF.binary_cross_entropy(torch.ones(2) * 0.5, torch.ones(3))),
    ("repeated dim", lambda: bricks.ones(2, 2).sum(dim=(0, 0)),
     lambda: torch.ones(2, 2).sum(dim=(0, 0))),
    ("clamp without bounds", lambda: bricks.ones(2).clamp(), lambda: torch.ones(2).clamp()),
    ("flatten order", lambda: bricks.ones(2, 2).flatten(1, 0),
     lambda: torch.ones(2, 2).flatten(1, 0)),
    ("cat empty", lambda: bricks.cat([]), lambda: torch.cat([])),
    ("stack empty", lambda: bricks.stack([]), lambda: torch.stack([])),
    ("arange step 0", lambda: bricks.arange(0, 1, 0), lambda: torch.arange(0, 1, 0)),
    ("negative size", lambda: bricks.zeros(-1), lambda: torch.zeros(-1)),
    ("randint bounds", lambda: bricks.randint(5, 2, (2,)), lambda: torch.randint(5, 2, (2,))),
    ("item", lambda: bricks.ones(2).item(), lambda: torch.ones(2).item()),
    ("einsum operands", lambda: bricks.einsum("ij,jk->ik", bricks.ones(2, 2)),
     lambda: torch.einsum("ij,jk->ik", torch.ones(2, 2))),
    ("huber delta", lambda: BF.huber_loss(bricks.ones(2), bricks.ones(2), delta=-1.0),
     lambda: TF.huber_loss(torch.ones(2), torch.ones(2), delta=-1.0)),
    ("label smoothing", lambda: BF.cross_entropy(bricks.ones(2, 3), bricks.tensor([0, 1]),
                                                 label_smoothing=2.0),
     lambda: TF.cross_entropy(torch.ones(2, 3), torch.tensor([0, 1]), label_smoothing=2.0)),
    ("reduction", lambda: BF.mse_loss(bricks.ones(2), bricks.ones(2), reduction="x"),
     lambda: TF.mse_loss(torch.ones(2), torch.ones(2), reduction="x")),
    ("backward twice", lambda: _twice(bricks), lambda: _twice(torch)),
    ("sgd lr", lambda: bricks.optim.SGD([bricks.ones(2, requires_grad=True)], lr=-1),
     lambda: torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=-1)),
    ("dropout of ints", lambda: BF.dropout(bricks.ones(2, dtype=bricks.int64)),
     lambda: TF.dropout(torch.ones(2, dtype=torch.int64))),
]


def _twice(lib):
    y = (lib.ones(2, requires_grad=True) * 2).sum()
    y.backward()
    y.backward()


def _raised(call):
    try:
        call()
    except Exception as err:  # noqa: BLE001 - the class is what is compared
        return type(err)
    return None


@pytest.mark.parametrize("name,mine,theirs", SAME_CLASS, ids=[c[0] for c in SAME_CLASS])
def test_exception_classes_are_torchs(name, mine, theirs):
    expected = _raised(theirs)
    assert expected is not None
    assert _raised(mine) is expected
