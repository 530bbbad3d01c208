"""Elementwise functions: exp, log, trigonometry, the classic activations, clamp, where.

Each derivative is the textbook one.  Where the derivative is cheaper from the output than
from the input (exp, tanh, sigmoid, sqrt, reciprocal), the output is what is saved.
Integer tensors are converted to the default float dtype first, as in PyTorch.
"""

from __future__ import annotations

import math

from bricks import backend
from bricks.autograd import Function
from bricks.backend import get_array_module, is_floating
from bricks.functions.arithmetic import binary_operands, sum_to, to_dtype
from bricks.tensor import Tensor, const, tensor

__all__ = [
    "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid",
    "softplus", "relu", "abs", "sign", "clamp", "maximum", "minimum", "where", "reciprocal", "erf",
    "floor", "ceil", "round",
]


def float_input(x, op: str, name: str = "input") -> Tensor:
    """``x`` as a floating Tensor, for an op defined on real numbers: numbers and arrays
    become Tensors, integer and bool tensors the default float dtype (as in PyTorch).  The
    one helper every op and loss uses for this; ``op`` and ``name`` go into the error for
    something that is not numeric.
    """
    if isinstance(x, Tensor):
        if x.data.dtype.kind == "f":
            return x  # the usual case, first
    else:
        try:
            converted = tensor(x)
        except (TypeError, ValueError):
            converted = None
        if converted is None or converted.data.dtype.kind not in "biuf":  # e.g. strings
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
        x = converted
    if not is_floating(x.data.dtype):
        x = to_dtype(x, backend.get_default_dtype())
    return x


def _masked(grad: Tensor, mask) -> Tensor:
    """``grad`` where the bool array ``mask`` holds, exact 0 elsewhere (even for inf grads)."""
    xp = get_array_module(grad.data)
    return where(const(mask), grad, const(xp.zeros((), dtype=grad.data.dtype)))


class Exp(Function):
    fresh_grads = True

    def forward(self, x):
        xp = get_array_module(x)
        y = xp.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * y

    def backward_arrays(self, grad):
        (y,) = self.saved_arrays
        return grad * y


def exp(x) -> Tensor:
    """Elementwise e^x.  Derivative: e^x."""
    return Exp.apply(float_input(x, "exp"))


class Log(Function):
    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        return xp.log(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x

    def backward_arrays(self, grad):
        (x,) = self.saved_arrays
        return grad / x


def log(x) -> Tensor:
    """Elementwise natural logarithm.  Derivative: 1/x."""
    return Log.apply(float_input(x, "log"))


class Log1p(Function):
    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        return xp.log1p(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (x + 1.0)


def log1p(x) -> Tensor:
    """Elementwise log(1 + x), accurate for small x.  Derivative: 1/(1 + x)."""
    return Log1p.apply(float_input(x, "log1p"))


class Expm1(Function):
    def forward(self, x):
        xp = get_array_module(x)
        y = xp.expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y + 1.0)


def expm1(x) -> Tensor:
    """Elementwise e^x - 1, accurate for small x.  Derivative: e^x."""
    return Expm1.apply(float_input(x, "expm1"))


class Sqrt(Function):
    def forward(self, x):
        xp = get_array_module(x)
        y = xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad / (y * 2.0)

    def backward_arrays(self, grad):
        (y,) = self.saved_arrays
        return grad / (y * 2.0)


def sqrt(x) -> Tensor:
    """Elementwise square root.  Derivative: 1/(2 sqrt(x))."""
    return Sqrt.apply(float_input(x, "sqrt"))


class Rsqrt(Function):
    def forward(self, x):
        xp = get_array_module(x)
        y = 1.0 / xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * -0.5 * y * y * y


def rsqrt(x) -> Tensor:
    """Elementwise 1/sqrt(x).  Derivative: -1/2 x^(-3/2)."""
    return Rsqrt.apply(float_input(x, "rsqrt"))


class Sin(Function):
    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        return xp.sin(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * cos(x)


def sin(x) -> Tensor:
    """Elementwise sine.  Derivative: cos x."""
    return Sin.apply(float_input(x, "sin"))


class Cos(Function):
    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        return xp.cos(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return -grad * sin(x)


def cos(x) -> Tensor:
    """Elementwise cosine.  Derivative: -sin x."""
    return Cos.apply(float_input(x, "cos"))


class Tan(Function):
    def forward(self, x):
        xp = get_array_module(x)
        y = xp.tan(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y * y + 1.0)


def tan(x) -> Tensor:
    """Elementwise tangent.  Derivative: 1 + tan^2 x."""
    return Tan.apply(float_input(x, "tan"))


class Tanh(Function):
    fresh_grads = True

    def forward(self, x):
        xp = get_array_module(x)
        y = xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (1.0 - y * y)

    def backward_arrays(self, grad):
        (y,) = self.saved_arrays
        return grad * (1.0 - y * y)


def tanh(x) -> Tensor:
    """Elementwise hyperbolic tangent.  Derivative: 1 - tanh^2 x."""
    return Tanh.apply(float_input(x, "tanh"))


class Sigmoid(Function):
    fresh_grads = True

    def forward(self, x):
        # exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) for x < 0.
        xp = get_array_module(x)
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1.0, e) / (1.0 + e)
        y = y.astype(x.dtype, copy=False)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * y * (1.0 - y)

    def backward_arrays(self, grad):
        (y,) = self.saved_arrays
        return grad * y * (1.0 - y)


def sigmoid(x) -> Tensor:
    """The logistic function 1 / (1 + e^-x), stable for any x.

    Derivative: sigmoid(x) (1 - sigmoid(x)).

    Example:
        >>> bricks.sigmoid(bricks.tensor([0.0, 1e4, -1e4])).tolist()
        [0.5, 1.0, 0.0]
    """
    return Sigmoid.apply(float_input(x, "sigmoid"))


class Softplus(Function):
    """log(1 + e^x) as max(x, 0) + log(1 + e^-|x|): e^ is only ever taken of a non-positive
    number, so it never overflows.

    A Function, not that composition, for the derivative at 0: relu and abs both have
    derivative 0 there, so the composition's gradient at x = 0 would be 0 instead of
    sigmoid(0) = 1/2.  The derivative sigmoid(x) is written exp(-softplus(-x)), so that its
    own derivative, sigmoid(x) sigmoid(-x), is exact to the last digits even where
    sigmoid(x) rounds to 1 (sigmoid's y (1 - y) loses them there: 4e-8 at x = 20).
    """

    fresh_grads = True

    def forward(self, x):
        self.save_for_backward(x)
        return softplus_array(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * exp(-Softplus.apply(-x))

    def backward_arrays(self, grad):
        (x,) = self.saved_arrays
        return grad * get_array_module(x).exp(-softplus_array(-x))


def softplus_array(x):
    """log(1 + e^x) on an array, computed without overflow (what ``Softplus`` computes)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def softplus(x) -> Tensor:
    """log(1 + e^x), stable for any x (``bricks.nn.functional.softplus`` adds beta and
    threshold).

    Derivative: sigmoid(x).

    Example:
        >>> softplus(bricks.tensor([-1e4, 0.0, 1e4], dtype=bricks.float64)).tolist()
        [0.0, 0.6931471805599453, 10000.0]
    """
    return Softplus.apply(float_input(x, "softplus"))


class Relu(Function):
    piecewise = True

    def forward(self, x):
        xp = get_array_module(x)
        y = xp.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return _masked(grad, y.data > 0)

    def backward_arrays(self, grad):
        xp = get_array_module(grad)
        (y,) = self.saved_arrays
        mask = y > 0
        out = grad * mask  # 4x faster than where ...
        if not xp.isfinite(out.sum()):
            # ... but inf * 0 is nan: an inf or nan upstream gradient must give exact 0s
            # where the input was not positive (PyTorch)
            out = xp.where(mask, grad, xp.zeros((), dtype=grad.dtype))
        return out


def relu(x) -> Tensor:
    """max(x, 0).  Derivative: 1 for x > 0, else 0 (0 at x = 0, as in PyTorch)."""
    if not isinstance(x, Tensor):
        x = tensor(x)
    return Relu.apply(x)


class Abs(Function):
    piecewise = True

    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        return xp.abs(x)

    def backward(self, grad):
        xp = get_array_module(grad.data)
        (x,) = self.saved_tensors
        return grad * const(xp.sign(x.data))


def abs(x) -> Tensor:
    """|x|.  Derivative: sign(x), taken as 0 at x = 0."""
    if not isinstance(x, Tensor):
        x = tensor(x)
    return Abs.apply(x)


class _ZeroGrad(Function):
    """Base of piecewise-constant ops: the derivative is 0 wherever it exists."""

    piecewise = True

    def backward(self, grad):
        # Exact zeros, not grad * 0 (an inf or nan upstream gradient must not leak through),
        # still connected to grad so that a create_graph result stays differentiable.
        xp = get_array_module(grad.data)
        return _masked(grad, xp.zeros(grad.data.shape, dtype=bool))


class Sign(_ZeroGrad):
    def forward(self, x):
        xp = get_array_module(x)
        return xp.sign(x)


def sign(x) -> Tensor:
    """-1, 0 or 1 by the sign of x (zero gradient)."""
    return Sign.apply(x if isinstance(x, Tensor) else tensor(x))


class Floor(_ZeroGrad):
    def forward(self, x):
        xp = get_array_module(x)
        return xp.floor(x)


def floor(x) -> Tensor:
    """Round down (zero gradient)."""
    return Floor.apply(x if isinstance(x, Tensor) else tensor(x))


class Ceil(_ZeroGrad):
    def forward(self, x):
        xp = get_array_module(x)
        return xp.ceil(x)


def ceil(x) -> Tensor:
    """Round up (zero gradient)."""
    return Ceil.apply(x if isinstance(x, Tensor) else tensor(x))


class Round(_ZeroGrad):
    def forward(self, x, decimals):
        xp = get_array_module(x)
        return xp.round(x, decimals)


def round(x, decimals: int = 0) -> Tensor:
    """Round half to even, like PyTorch and NumPy (zero gradient)."""
    return Round.apply(x if isinstance(x, Tensor) else tensor(x), decimals=decimals)


class Reciprocal(Function):
    def forward(self, x):
        y = 1.0 / x
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return -grad * y * y


def reciprocal(x) -> Tensor:
    """1/x.  Derivative: -1/x^2."""
    return Reciprocal.apply(float_input(x, "reciprocal"))


class Erf(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return backend.erf(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * (2.0 / math.sqrt(math.pi)) * exp(-(x * x))


def erf(x) -> Tensor:
    """The error function 2/sqrt(pi) ∫_0^x e^(-t^2) dt.  Derivative: 2/sqrt(pi) e^(-x^2)."""
    return Erf.apply(float_input(x, "erf"))


class Clamp(Function):
    piecewise = True

    def forward(self, x, lo, hi):
        xp = get_array_module(x)
        self.save_for_backward(x)
        self.lo, self.hi = lo, hi
        return xp.clip(x, lo, hi)

    def backward(self, grad):
        xp = get_array_module(grad.data)
        (x,) = self.saved_tensors
        inside = xp.ones(x.data.shape, dtype=bool)
        if self.lo is not None:
            inside &= x.data >= self.lo
        if self.hi is not None:
            inside &= x.data <= self.hi
        return _masked(grad, inside)


def clamp(x, min=None, max=None) -> Tensor:
    """Limit x to [min, max]; the gradient passes where min <= x <= max.

    ``min``/``max`` may be numbers or tensors (then this is ``minimum(maximum(x, min), max)``).
    """
    if not isinstance(x, Tensor):
        x = tensor(x)
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if not is_floating(x.data.dtype) and (isinstance(min, float) or isinstance(max, float)):
        x = to_dtype(x, backend.get_default_dtype())
    return Clamp.apply(x, lo=min, hi=max)


class Maximum(Function):
    piecewise = True

    def forward(self, a, b):
        xp = get_array_module(a)
        self.save_for_backward(a, b)
        return xp.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        # Ties share the gradient equally, as in PyTorch.
        wa = (a.data > b.data) + 0.5 * (a.data == b.data)
        return _split(self, grad, wa)


class Minimum(Function):
    piecewise = True

    def forward(self, a, b):
        xp = get_array_module(a)
        self.save_for_backward(a, b)
        return xp.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        wa = (a.data < b.data) + 0.5 * (a.data == b.data)
        return _split(self, grad, wa)


def _split(fn, grad, weight_a):
    (sa, _), (sb, _) = fn.input_meta
    wa = const(weight_a.astype(grad.data.dtype))
    ga = sum_to(grad * wa, sa) if fn.next_edges[0] is not None else None
    gb = sum_to(grad * (1.0 - wa), sb) if fn.next_edges[1] is not None else None
    return ga, gb


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b) with broadcasting; ties split the gradient in half."""
    ta, tb = binary_operands(a, b, "maximum")
    return _broadcasting(Maximum, "maximum", ta, tb)


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b) with broadcasting; ties split the gradient in half."""
    ta, tb = binary_operands(a, b, "minimum")
    return _broadcasting(Minimum, "minimum", ta, tb)


def _broadcasting(cls, op, *tensors):
    try:
        backend.broadcast_shapes(*(t.data.shape for t in tensors))
    except ValueError:
        shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
        raise RuntimeError(f"{op}: shapes {shapes} cannot be broadcast together") from None
    return cls.apply(*tensors)


class Where(Function):
    piecewise = True

    def forward(self, cond, a, b):
        xp = get_array_module(cond)
        self.save_for_backward(cond)
        return xp.where(cond, a, b)

    def backward(self, grad):
        xp = get_array_module(grad.data)
        (cond,) = self.saved_tensors
        _, (sa, _), (sb, _) = self.input_meta
        # A constant zero, not grad * 0: inf or nan upstream must give exact zeros (PyTorch).
        zero = const(xp.zeros((), dtype=grad.data.dtype))
        ga = sum_to(where(cond, grad, zero), sa) if self.next_edges[1] is not None else None
        gb = sum_to(where(cond, zero, grad), sb) if self.next_edges[2] is not None else None
        return None, ga, gb


def where(condition, x, y) -> Tensor:
    """Pick ``x`` where ``condition`` is true, else ``y`` (all three broadcast together).

    Example:
        >>> x = bricks.tensor([-1.0, 2.0])
        >>> bricks.where(x > 0, x, 0.0).tolist()
        [0.0, 2.0]
    """
    if not isinstance(condition, Tensor):
        condition = tensor(condition)
    if condition.data.dtype != backend.bool_:
        raise RuntimeError(f"where: condition must be a bool tensor, got {condition.dtype}")
    tx, ty = binary_operands(x, y, "where")
    return _broadcasting(Where, "where", condition, tx, ty)
