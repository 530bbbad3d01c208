"""Comparisons and logic: bool results, never part of the graph (they have no gradient)."""

from __future__ import annotations

from bricks.autograd import Function
from bricks.backend import get_array_module
from bricks.functions.arithmetic import binary_operands
from bricks.functions.dims import normalize_dims
from bricks.tensor import Tensor, const, tensor

__all__ = [
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
    "logical_not", "isnan", "isinf", "isfinite", "all", "any", "allclose", "equal",
]


def _bool(xp, array) -> Tensor:
    return const(xp.asarray(array))  # NumPy gives scalars for dim=None


class Elementwise(Function):
    """The ufunc named ``ufunc`` (``'equal'``, ``'isnan'``, ...) of the inputs' array module,
    with a bool result and no gradient.  An op (not array code) so that ``bricks.compile``
    records masks like ``x > 0`` and recomputes them each call."""

    def forward(self, *arrays, ufunc):
        return getattr(get_array_module(*arrays), ufunc)(*arrays)


def _compare(ufunc, op, a, b) -> Tensor:
    ta, tb = binary_operands(a, b, op)
    try:
        return Elementwise.apply(ta, tb, ufunc=ufunc)
    except ValueError:
        raise RuntimeError(
            f"{op}: shapes {tuple(ta.shape)} and {tuple(tb.shape)} cannot be broadcast together"
        ) from None


def eq(a, b) -> Tensor:
    """Elementwise a == b (bool tensor)."""
    return _compare("equal", "eq", a, b)


def ne(a, b) -> Tensor:
    """Elementwise a != b (bool tensor)."""
    return _compare("not_equal", "ne", a, b)


def lt(a, b) -> Tensor:
    """Elementwise a < b (bool tensor)."""
    return _compare("less", "lt", a, b)


def le(a, b) -> Tensor:
    """Elementwise a <= b (bool tensor)."""
    return _compare("less_equal", "le", a, b)


def gt(a, b) -> Tensor:
    """Elementwise a > b (bool tensor)."""
    return _compare("greater", "gt", a, b)


def ge(a, b) -> Tensor:
    """Elementwise a >= b (bool tensor)."""
    return _compare("greater_equal", "ge", a, b)


def logical_and(a, b) -> Tensor:
    """Elementwise a and b; for bool tensors also ``a & b``."""
    return _compare("logical_and", "logical_and", a, b)


def logical_or(a, b) -> Tensor:
    """Elementwise a or b; for bool tensors also ``a | b``."""
    return _compare("logical_or", "logical_or", a, b)


def logical_xor(a, b) -> Tensor:
    """Elementwise a xor b; for bool tensors also ``a ^ b``."""
    return _compare("logical_xor", "logical_xor", a, b)


def logical_not(a) -> Tensor:
    """Elementwise not a; for bool tensors also ``~a``."""
    a = a if isinstance(a, Tensor) else tensor(a)
    return Elementwise.apply(a, ufunc="logical_not")


def isnan(a: Tensor) -> Tensor:
    return Elementwise.apply(a, ufunc="isnan")


def isinf(a: Tensor) -> Tensor:
    return Elementwise.apply(a, ufunc="isinf")


def isfinite(a: Tensor) -> Tensor:
    return Elementwise.apply(a, ufunc="isfinite")


def _axes(dim, ndim):
    return normalize_dims(dim, ndim, "all/any")


def all(a: Tensor, dim=None, keepdim=False) -> Tensor:
    """True where every element (along ``dim``) is nonzero."""
    xp = get_array_module(a.data)
    return _bool(xp, xp.all(a.data, axis=_axes(dim, a.ndim), keepdims=keepdim))


def any(a: Tensor, dim=None, keepdim=False) -> Tensor:
    """True where some element (along ``dim``) is nonzero."""
    xp = get_array_module(a.data)
    return _bool(xp, xp.any(a.data, axis=_axes(dim, a.ndim), keepdims=keepdim))


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    """True when |a - b| <= atol + rtol |b| everywhere."""
    ta, tb = binary_operands(a, b, "allclose")
    return bool(get_array_module(ta.data).allclose(ta.data, tb.data, rtol=rtol, atol=atol,
                                                   equal_nan=equal_nan))


def equal(a, b) -> bool:
    """True when both have the same shape and the same values."""
    ta, tb = binary_operands(a, b, "equal")
    return ta.shape == tb.shape and bool(get_array_module(ta.data).array_equal(ta.data, tb.data))
