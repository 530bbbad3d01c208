"""Arithmetic: + - * / ** // %, negation, dtype casts, and ``sum_to``.

Every binary op broadcasts its operands like NumPy (and PyTorch) do, so its backward must
undo the broadcast: the gradient of an operand of shape (3, 1) that was stretched to (3, 4)
is the sum of the (3, 4) gradient over the stretched axis.  That is ``sum_to``, the one
helper every binary op calls.

Operands may be Tensors, Python numbers or arrays; ``binary_operands`` turns them into
Tensors of one dtype, following PyTorch's promotion rules (see ``backend.result_type``).
"""

from __future__ import annotations

from bricks import backend
from bricks.autograd import Function
from bricks.backend import get_array_module, is_floating
from bricks.tensor import Tensor, const, tensor

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "floor_divide", "remainder", "sum_to",
    "sum_to_size",
    "broadcast_to", "to_dtype", "clone", "binary_operands", "as_tensor_like",
]


# ---------------------------------------------------------------- operands


def _raw(x):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, backend.generic) or backend.is_array(x):
        return x
    if hasattr(x, "dtype"):
        return backend.to_numpy(x)
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


def binary_operands(a, b, op: str, floating: bool = False):
    """Return ``a`` and ``b`` as Tensors of their common (PyTorch-promoted) dtype.

    A constant operand (a number, list or array) is put on the device of the tensor one.

    Args:
        a, b: Tensors, Python numbers, NumPy arrays or (nested) lists.
        op: the op's name, for error messages.
        floating: promote integer results to the default floating dtype (true division).
    """
    if isinstance(a, (list, tuple)):
        a = tensor(a).data
    if isinstance(b, (list, tuple)):
        b = tensor(b).data
    try:
        ra, rb = _raw(a), _raw(b)
    except TypeError:
        raise TypeError(
            f"{op}: unsupported operand types {type(a).__name__} and {type(b).__name__}"
        ) from None
    dtype = backend.result_type(ra, rb)
    if floating and not is_floating(dtype):
        dtype = backend.get_default_dtype()
    like = ra if isinstance(a, Tensor) else rb
    return as_tensor_like(a, ra, dtype, like), as_tensor_like(b, rb, dtype, like)


def as_tensor_like(x, raw, dtype, like=None):
    """``x`` as a Tensor of ``dtype``: tensors are cast (differentiably), constants wrapped
    (on the device of the array ``like``, when given)."""
    if isinstance(x, Tensor):
        return x if x.data.dtype == dtype else to_dtype(x, dtype)
    return const(backend.asarray_like(raw, like, dtype))


def _broadcast_error(op, a, b):
    return RuntimeError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together "
        f"(sizes must match or be 1, aligned from the last dimension)"
    )


def _apply_binary(cls, op, a, b, floating=False):
    if (isinstance(a, Tensor) and isinstance(b, Tensor) and a.data.dtype == b.data.dtype
            and (not floating or a.data.dtype.kind == "f")):
        ta, tb = a, b  # the common case: nothing to promote
    else:
        ta, tb = binary_operands(a, b, op, floating)
    try:
        return cls.apply(ta, tb)
    except ValueError:
        if ta.data.ndim and tb.data.ndim:
            try:
                backend.broadcast_shapes(ta.data.shape, tb.data.shape)
            except ValueError:
                raise _broadcast_error(op, ta, tb) from None
        raise


# ---------------------------------------------------------------- broadcasting


def sum_to_array(x, shape):
    """``sum_to`` on a raw array (the fast backward path): sum the broadcast axes away."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1
    )
    y = x.sum(axis=axes, keepdims=True) if axes else x
    return y.reshape(shape) if lead else y


class SumTo(Function):
    def forward(self, x, shape):
        return sum_to_array(x, shape)

    def backward(self, grad):
        return broadcast_to(grad, self.input_meta[0][0])

    def backward_arrays(self, grad):
        xp = get_array_module(grad)
        return xp.broadcast_to(grad, self.input_meta[0][0])


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum ``x`` down to ``shape``: the inverse of broadcasting ``shape`` up to ``x.shape``.

    Every binary op's backward calls this so that an operand's gradient has its own shape.

    Example:
        >>> g = bricks.ones(3, 4)
        >>> sum_to(g, (3, 1)).tolist()
        [[4.0], [4.0], [4.0]]
    """
    shape = tuple(shape)
    if x.data.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def sum_to_size(x: Tensor, *size) -> Tensor:
    """Sum ``x`` down to ``size``, PyTorch's ``Tensor.sum_to_size``: the public ``sum_to``.

    ``size`` must broadcast to ``x.shape`` (each size equal to x's or 1, leading ones
    allowed to be missing); the result is differentiable.

    Example:
        >>> bricks.ones(2, 3).sum_to_size(1, 3).tolist()
        [[2.0, 2.0, 2.0]]
    """
    shape = tuple(int(n) for n in (size[0] if len(size) == 1 and isinstance(
        size[0], (tuple, list)) else size))
    try:
        ok = len(shape) <= x.data.ndim and backend.broadcast_shapes(shape, x.data.shape) == \
            x.data.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"sum_to_size: size {shape} is not expandable to the tensor's "
                           f"shape {tuple(x.shape)} (each size must equal the tensor's or be 1)")
    return sum_to(x, shape)


class BroadcastTo(Function):
    is_view = True

    def forward(self, x, shape):
        xp = get_array_module(x)
        return xp.broadcast_to(x, shape)

    def backward(self, grad):
        return sum_to(grad, self.input_meta[0][0])

    def backward_arrays(self, grad):
        return sum_to_array(grad, self.input_meta[0][0])


def broadcast_to(x: Tensor, shape) -> Tensor:
    """Stretch size-1 (and missing leading) dimensions of ``x`` to ``shape``, without copying.

    Example:
        >>> bricks.tensor([1.0, 2.0]).broadcast_to((2, 2)).tolist()
        [[1.0, 2.0], [1.0, 2.0]]
    """
    shape = tuple(int(n) for n in shape)
    if x.data.shape == shape:
        return x
    try:
        backend.broadcast_shapes(x.data.shape, shape)
        if len(shape) < x.data.ndim or backend.broadcast_shapes(x.data.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(
            f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {shape} "
            f"(each size must equal the target's or be 1)"
        ) from None
    return BroadcastTo.apply(x, shape=shape)


# ---------------------------------------------------------------- + - * /


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        (sa, _), (sb, _) = self.input_meta
        return sum_to(grad, sa), sum_to(grad, sb)

    def backward_arrays(self, grad):
        (sa, _), (sb, _) = self.input_meta
        return sum_to_array(grad, sa), sum_to_array(grad, sb)


def add(a, b) -> Tensor:
    """Elementwise ``a + b`` with broadcasting.

    Example:
        >>> (bricks.tensor([1.0, 2.0]) + 1).tolist()
        [2.0, 3.0]
    """
    return _apply_binary(Add, "add", a, b)


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        (sa, _), (sb, _) = self.input_meta
        gb = sum_to(-grad, sb) if self.next_edges[1] is not None else None
        return sum_to(grad, sa), gb

    def backward_arrays(self, grad):
        (sa, _), (sb, _) = self.input_meta
        gb = sum_to_array(-grad, sb) if self.next_edges[1] is not None else None
        return sum_to_array(grad, sa), gb


def sub(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting."""
    return _apply_binary(Sub, "sub", a, b)


class Mul(Function):
    fresh_grads = True

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        (sa, _), (sb, _) = self.input_meta
        ga = sum_to(grad * b, sa) if self.next_edges[0] is not None else None
        gb = sum_to(grad * a, sb) if self.next_edges[1] is not None else None
        return ga, gb

    def backward_arrays(self, grad):
        a, b = self.saved_arrays
        (sa, _), (sb, _) = self.input_meta
        ga = sum_to_array(grad * b, sa) if self.next_edges[0] is not None else None
        gb = sum_to_array(grad * a, sb) if self.next_edges[1] is not None else None
        return ga, gb


def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting."""
    return _apply_binary(Mul, "mul", a, b)


class Div(Function):
    fresh_grads = True

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved_tensors
        (sa, _), (sb, _) = self.input_meta
        ga = sum_to(grad / b, sa) if self.next_edges[0] is not None else None
        gb = sum_to(-grad * a / (b * b), sb) if self.next_edges[1] is not None else None
        return ga, gb

    def backward_arrays(self, grad):
        a, b = self.saved_arrays
        (sa, _), (sb, _) = self.input_meta
        ga = sum_to_array(grad / b, sa) if self.next_edges[0] is not None else None
        gb = None
        if self.next_edges[1] is not None:
            gb = sum_to_array(-grad * a / (b * b), sb)
        return ga, gb


def div(a, b) -> Tensor:
    """Elementwise true division ``a / b`` (integers give the default float dtype)."""
    return _apply_binary(Div, "div", a, b, floating=True)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad

    def backward_arrays(self, grad):
        return -grad


def neg(a: Tensor) -> Tensor:
    """``-a``."""
    if a.data.dtype == backend.bool_:
        raise RuntimeError("neg: negation of a bool tensor is not supported; use ~x")
    return Neg.apply(a)


# ---------------------------------------------------------------- powers



def _pow_grad(grad, a, c):
    """d(a**c)/da times grad, for Tensors (backward) and arrays (the fast path) alike; the
    small exponents skip the power, so c = 2 costs one multiply."""
    if c == 0:
        return grad * 0.0
    if c == 1:
        return grad
    if c == 2:
        return grad * 2.0 * a
    return grad * c * a ** (c - 1)

class PowScalar(Function):
    def forward(self, a, exponent):
        self.exponent = exponent
        self.save_for_backward(a)
        return a**exponent

    def backward(self, grad):
        (a,) = self.saved_tensors
        return _pow_grad(grad, a, self.exponent)

    def backward_arrays(self, grad):
        (a,) = self.saved_arrays
        return _pow_grad(grad, a, self.exponent)


class Pow(Function):
    def forward(self, a, b):
        y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, grad):
        a, b, y = self.saved_tensors
        (sa, _), (sb, _) = self.input_meta
        ga = gb = None
        if self.next_edges[0] is not None:
            ga = sum_to(grad * b * a ** (b - 1), sa)
        if self.next_edges[1] is not None:
            # d(a^b)/db = a^b log a, taken as 0 where a == 0 and b >= 0 (PyTorch's choice).
            # Shifting those a to 1 makes log a = 0 there, and keeps the rest differentiable.
            zero = ((a.data == 0) & (b.data >= 0)).astype(a.data.dtype)
            gb = sum_to(grad * y * _elem.log(a + const(zero)), sb)
        return ga, gb


def pow(a, exponent) -> Tensor:
    """Elementwise ``a ** exponent``; the exponent may be a number or a tensor.

    Example:
        >>> (bricks.tensor([2.0, 3.0]) ** 2).tolist()
        [4.0, 9.0]
    """
    if isinstance(a, Tensor) and isinstance(exponent, (int, float)) and not isinstance(
        exponent, bool
    ):
        if backend.is_integer(a.data.dtype) and exponent < 0 and isinstance(exponent, int):
            raise RuntimeError("pow: integers to negative integer powers are not allowed; "
                               "convert with x.float() first")
        dtype = backend.result_type(a.data, exponent)
        base = a if a.data.dtype == dtype else to_dtype(a, dtype)
        return PowScalar.apply(base, exponent=exponent)
    return _apply_binary(Pow, "pow", a, exponent)


# ---------------------------------------------------------------- // and %


class FloorDivide(Function):
    piecewise = True

    def forward(self, a, b):
        xp = get_array_module(a)
        return xp.floor_divide(a, b)

    def backward(self, grad):
        # Piecewise constant: the derivative is zero wherever it exists.  Still each gradient
        # has its operand's shape (a broadcast operand sums back down).
        (sa, _), (sb, _) = self.input_meta
        ga = sum_to(grad * 0.0, sa) if self.next_edges[0] is not None else None
        gb = sum_to(grad * 0.0, sb) if self.next_edges[1] is not None else None
        return ga, gb


def floor_divide(a, b) -> Tensor:
    """Elementwise ``a // b``, rounding toward minus infinity (Python's and PyTorch's rule)."""
    return _apply_binary(FloorDivide, "floor_divide", a, b)


class Remainder(Function):
    piecewise = True

    def forward(self, a, b):
        xp = get_array_module(a)
        self.save_for_backward(a, b)
        return xp.remainder(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        (sa, _), (sb, _) = self.input_meta
        ga = sum_to(grad, sa) if self.next_edges[0] is not None else None
        gb = None
        if self.next_edges[1] is not None:
            gb = sum_to(-grad * floor_divide(a, b).detach(), sb)
        return ga, gb


def remainder(a, b) -> Tensor:
    """Elementwise ``a % b`` with the sign of ``b`` (Python's and PyTorch's rule)."""
    return _apply_binary(Remainder, "remainder", a, b)


# ---------------------------------------------------------------- casts and copies


class ToDtype(Function):
    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, grad):
        return grad.to(self.input_meta[0][1])


def to_dtype(x: Tensor, dtype) -> Tensor:
    """``x`` converted to ``dtype``; gradients flow back between floating dtypes."""
    dtype = backend.as_dtype(dtype)
    if x.data.dtype == dtype:
        return x
    return ToDtype.apply(x, dtype=dtype)


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad

    def backward_arrays(self, grad):
        return grad


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` with its own memory, still connected to the graph."""
    return Clone.apply(x)


# Pow's backward needs log; elementwise builds on this module, so import it last.
from bricks.functions import elementwise as _elem  # noqa: E402
