"""Reductions: sum, mean, var/std, max/min, prod, logsumexp, norm, cumsum, softmax.

A reduction's backward spreads the gradient back over the reduced dimensions: ``sum``
broadcasts it, ``amax`` sends it to the maxima (ties share it equally), ``max(dim)`` sends it
to the one index it returned.  ``mean``, ``var``, ``std``, ``logsumexp``, ``softmax`` and
``log_softmax`` are compositions of primitives and need no backward of their own.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from bricks import backend
from bricks.autograd import Function
from bricks.backend import get_array_module, is_floating
from bricks.functions import elementwise as E
from bricks.functions import shape as S
from bricks.functions.arithmetic import broadcast_to, to_dtype
from bricks.functions.dims import normalize_dim, normalize_dims
from bricks.tensor import Tensor, const

__all__ = [
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "prod",
    "logsumexp", "norm", "cumsum", "softmax", "log_softmax",
]

values_indices = namedtuple("values_indices", ["values", "indices"])


def _kept_shape(shape, axes):
    """The shape after reducing ``axes`` with keepdim=True (axes None means all)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _unreduce(grad: Tensor, in_shape, axes, keepdim) -> Tensor:
    """Give a reduction's gradient back its reduced axes (size 1), ready to broadcast."""
    kept = _kept_shape(in_shape, axes)
    return grad if keepdim or grad.data.shape == kept else grad.reshape(kept)


def _require_float(x: Tensor, op: str):
    if not is_floating(x.data.dtype):
        raise RuntimeError(
            f"{op}: expected a floating point tensor, got {x.dtype}; convert with x.float()"
        )


class Sum(Function):
    def forward(self, x, axes, keepdim):
        xp = get_array_module(x)
        self.axes, self.keepdim = axes, keepdim
        return xp.asarray(x.sum(axis=axes, keepdims=keepdim))

    def backward(self, grad):
        shape = self.input_meta[0][0]
        return broadcast_to(_unreduce(grad, shape, self.axes, self.keepdim), shape)

    def backward_arrays(self, grad):
        xp = get_array_module(grad)
        shape = self.input_meta[0][0]
        if not self.keepdim:
            grad = grad.reshape(_kept_shape(shape, self.axes))
        return xp.broadcast_to(grad, shape)


def sum(x: Tensor, dim=None, keepdim=False, dtype=None) -> Tensor:
    """Sum of the elements, over all of them or over ``dim`` (an int or a tuple).

    Integer and bool tensors sum to int64, as in PyTorch.

    Example:
        >>> bricks.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0).tolist()
        [4.0, 6.0]
    """
    if dtype is not None:
        x = to_dtype(x, dtype)
    elif not is_floating(x.data.dtype):
        x = to_dtype(x, backend.int64)
    return Sum.apply(x, axes=normalize_dims(dim, x.ndim, "sum"), keepdim=keepdim)


def _count(x: Tensor, axes) -> int:
    if axes is None:
        return int(x.data.size)
    n = 1
    for a in axes:
        n *= x.data.shape[a]
    return n


def mean(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Arithmetic mean, over all elements or over ``dim``."""
    _require_float(x, "mean")
    axes = normalize_dims(dim, x.ndim, "mean")
    n = _count(x, axes)
    total = Sum.apply(x, axes=axes, keepdim=keepdim)
    if n == 0:
        # An empty mean is 0/0 = nan.  Adding nan (rather than dividing by 0) keeps 1/0 out
        # of the gradient's own graph, so double backward stays finite, as in PyTorch.
        return total + float("nan")
    return total / float(n)


def _correction(correction, unbiased):
    if unbiased is not None:
        return 1 if unbiased else 0
    return correction


def var(x: Tensor, dim=None, correction=1, keepdim=False, unbiased=None) -> Tensor:
    """Variance sum((x - mean)^2) / (N - correction); correction=1 is Bessel's (unbiased).

    ``unbiased=False`` is the older spelling of ``correction=0``.
    """
    xp = get_array_module(x.data)
    _require_float(x, "var")
    correction = _correction(correction, unbiased)
    axes = normalize_dims(dim, x.ndim, "var")
    n = _count(x, axes)
    if n:
        # Shift by one sample first (the variance does not change): constant data then has
        # deviations of exactly 0, so its std is exactly 0 with PyTorch's zero gradient, not
        # rounding noise divided by rounding noise; a large common offset loses no digits.
        first = tuple(slice(0, 1) if axes is None or i in axes else slice(None)
                      for i in range(x.ndim))
        x = x - const(xp.asarray(x.data[first]))
    d = x - mean(x, dim=axes, keepdim=True)
    denom = n - correction
    total = Sum.apply(d * d, axes=axes, keepdim=keepdim)
    with backend.errstate(xp, divide="ignore", invalid="ignore"):  # N <= correction: inf or nan
        return total / float(builtins.max(denom, 0))


def std(x: Tensor, dim=None, correction=1, keepdim=False, unbiased=None) -> Tensor:
    """Standard deviation: the square root of ``var`` (same arguments).

    Where the spread is zero the square root has no derivative; the gradient there is 0,
    as in PyTorch (a constant feature must not turn a whole batch's gradient into nan).
    """
    _require_float(x, "std")
    dim = normalize_dims(dim, x.ndim, "std")  # a bad dim names std, not var
    v = var(x, dim=dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    zero = const(v.data == 0)
    return E.where(zero, 0.0, E.sqrt(E.where(zero, 1.0, v)))


class AMax(Function):
    """max/min over axes; the gradient is shared equally among tied extrema."""

    piecewise = True

    def forward(self, x, axes, keepdim, largest):
        self.axes, self.keepdim = axes, keepdim
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        mask = (x == y).astype(x.dtype)
        mask /= mask.sum(axis=axes, keepdims=True)
        self.weights = mask
        return y if keepdim else y.reshape(
            tuple(n for i, n in enumerate(x.shape) if axes is not None and i not in axes)
        )

    def backward(self, grad):
        shape = self.input_meta[0][0]
        g = broadcast_to(_unreduce(grad, shape, self.axes, self.keepdim), shape)
        return g * const(self.weights)


def _check_nonempty(x: Tensor, axes, op: str):
    if x.data.size == 0 and (axes is None or any(x.data.shape[a] == 0 for a in axes)):
        raise RuntimeError(f"{op}: cannot reduce an empty tensor of shape {tuple(x.shape)} "
                           f"(there is no identity for max/min)")


def amax(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Largest element over ``dim`` (all by default); tied maxima share the gradient."""
    axes = normalize_dims(dim, x.ndim, "amax")
    _check_nonempty(x, axes, "amax")
    return AMax.apply(x, axes=axes, keepdim=keepdim, largest=True)


def amin(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Smallest element over ``dim`` (all by default); tied minima share the gradient."""
    axes = normalize_dims(dim, x.ndim, "amin")
    _check_nonempty(x, axes, "amin")
    return AMax.apply(x, axes=axes, keepdim=keepdim, largest=False)


class MaxDim(Function):
    piecewise = True

    def forward(self, x, dim, keepdim, largest):
        xp = get_array_module(x)
        self.dim, self.keepdim = dim, keepdim
        idx = xp.argmax(x, axis=dim, keepdims=True) if largest else xp.argmin(
            x, axis=dim, keepdims=True)
        values = xp.take_along_axis(x, idx, axis=dim)
        self.index = idx
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx.astype(backend.int64, copy=False)

    def backward(self, grad, _grad_indices):
        if not self.keepdim:
            grad = grad.unsqueeze(self.dim)
        return S.scatter_into(grad, self.dim, self.index, self.input_meta[0][0])


def _max_min(x: Tensor, dim, keepdim, largest, op):
    xp = get_array_module(x.data)
    if dim is None:
        return amax(x) if largest else amin(x)
    d = normalize_dim(dim, x.ndim, op)
    _check_nonempty(x, (d,) if x.ndim else None, op)
    if x.ndim == 0:
        return values_indices(x, const(xp.zeros((), backend.int64)))
    return values_indices(*MaxDim.apply(x, dim=d, keepdim=keepdim, largest=largest))


def max(x: Tensor, dim=None, keepdim=False):
    """The largest element; with ``dim``, a ``(values, indices)`` pair along that dimension.

    Gradients: without ``dim`` tied maxima share it equally; with ``dim`` it goes to the
    returned index (the first maximum), exactly as in PyTorch.
    """
    return _max_min(x, dim, keepdim, True, "max")


def min(x: Tensor, dim=None, keepdim=False):
    """The smallest element; with ``dim``, a ``(values, indices)`` pair (see ``max``)."""
    return _max_min(x, dim, keepdim, False, "min")


def argmax(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Index of the first maximum (of the flattened tensor when ``dim`` is None)."""
    xp = get_array_module(x.data)
    if dim is None:
        _check_nonempty(x, None, "argmax")
        idx = xp.argmax(x.data)
        if keepdim:
            idx = xp.reshape(idx, (1,) * x.ndim)
    else:
        d = normalize_dim(dim, x.ndim, "argmax")
        idx = xp.argmax(x.data, axis=d, keepdims=keepdim) if x.ndim else xp.zeros((), int)
    return const(xp.asarray(idx, dtype=backend.int64))


def argmin(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Index of the first minimum (of the flattened tensor when ``dim`` is None)."""
    xp = get_array_module(x.data)
    if dim is None:
        _check_nonempty(x, None, "argmin")
        idx = xp.argmin(x.data)
        if keepdim:
            idx = xp.reshape(idx, (1,) * x.ndim)
    else:
        d = normalize_dim(dim, x.ndim, "argmin")
        idx = xp.argmin(x.data, axis=d, keepdims=keepdim) if x.ndim else xp.zeros((), int)
    return const(xp.asarray(idx, dtype=backend.int64))


class Prod(Function):
    def forward(self, x, dim, keepdim):
        xp = get_array_module(x)
        self.dim, self.keepdim = dim, keepdim
        # Save the very array returned: only then is it recognized as this node's output,
        # so that double backward differentiates through it instead of taking a constant.
        y = xp.asarray(x.prod(axis=dim, keepdims=keepdim))
        self.save_for_backward(x, y)
        return y

    def backward(self, grad):
        xp = get_array_module(grad.data)
        x, y = self.saved_tensors
        if not self.keepdim:
            grad, y = grad.unsqueeze(self.dim), y.unsqueeze(self.dim)
        if not (x.data == 0).any():
            return grad * y / x
        # With zeros, y/x is undefined: use the product of the other elements directly.
        # O(n^2) memory along dim, and itself differentiable (so double backward works).
        n = x.shape[self.dim]
        xl = S.movedim_last(x, self.dim)  # (..., n)
        rows = xl.unsqueeze(-2).expand(*xl.shape[:-1], n, n)
        eye = const(xp.eye(n, dtype=bool))
        others = prod(E.where(eye, 1.0, rows), dim=-1)  # (..., n)
        return grad * S.movedim_back(others, self.dim)


def prod(x: Tensor, dim=None, keepdim=False) -> Tensor:
    """Product of the elements, over all of them or over one ``dim``.

    The gradient d(prod)/dx_i is the product of the other elements, zeros included.
    """
    if dim is not None:
        if not isinstance(dim, int):
            raise TypeError("prod: dim must be a single int")
        dim = normalize_dim(dim, x.ndim, "prod")
    if dim is None or x.ndim == 0:  # a 0-d tensor reduces over its one element too
        flat = x.reshape(-1)
        out = Prod.apply(flat, dim=0, keepdim=False)
        return out.reshape((1,) * x.ndim) if keepdim else out
    return Prod.apply(x, dim=dim, keepdim=keepdim)


def logsumexp(x: Tensor, dim, keepdim=False) -> Tensor:
    """log(sum(exp(x))) over ``dim``, without overflow (the max is subtracted first).

    Its gradient is softmax(x) along ``dim``.
    """
    _require_float(x, "logsumexp")
    axes = normalize_dims(dim, x.ndim, "logsumexp")
    if _count(x, axes) == 0:
        # log(0) = -inf for an empty sum; adding it to a sum keeps log's 1/0 out of the
        # gradient's own graph (finite double backward, as in PyTorch).
        return Sum.apply(x, axes=axes, keepdim=keepdim) + float("-inf")
    m = _max_shift(x, axes)
    out = E.log(sum(E.exp(x - m), dim=axes, keepdim=True)) + m
    return out if keepdim else out.reshape(
        tuple(n for i, n in enumerate(x.shape) if axes is not None and i not in axes)
    )


class Norm(Function):
    def forward(self, x, p, axes, keepdim):
        xp = get_array_module(x)
        self.p, self.axes, self.keepdim = p, axes, keepdim
        self.piecewise = p == 1  # |x| summed: piecewise linear (see Function.piecewise)
        a = xp.abs(x)
        if p == 2:
            y = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        elif p == 1:
            y = a.sum(axis=axes, keepdims=True)
        else:
            y = (a**p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        if not keepdim:
            y = y.reshape(tuple(n for i, n in enumerate(x.shape)
                                if axes is not None and i not in axes))
        # Save the array returned, so double backward sees the output, not a constant.
        self.save_for_backward(x, y)
        return y

    def backward(self, grad):
        xp = get_array_module(grad.data)
        x, y = self.saved_tensors
        shape, p = self.input_meta[0][0], self.p
        g = _unreduce(grad, shape, self.axes, self.keepdim)
        y = _unreduce(y, shape, self.axes, self.keepdim)
        if p == 1:
            return broadcast_to(g, shape) * const(xp.sign(x.data))
        # d||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1); 0 where the norm is 0 (PyTorch).
        zero = const(y.data == 0)
        safe_y = E.where(zero, 1.0, y)
        scale = E.where(zero, 0.0, g / (safe_y if p == 2 else safe_y ** (p - 1)))
        if p == 2:
            return x * scale
        return E.sign(x).detach() * E.abs(x) ** (p - 1) * scale


def norm(x: Tensor, p="fro", dim=None, keepdim=False) -> Tensor:
    """Vector p-norm (sum |x|^p)^(1/p) over ``dim`` (all elements by default).

    ``p`` may be 'fro' (= 2), any p > 0, ``float('inf')`` (max |x|), ``-inf`` or 0 (count
    of nonzeros).  The gradient at x = 0 is 0, as in PyTorch.
    """
    _require_float(x, "norm")
    if p == "fro":
        p = 2
    if isinstance(p, str) or not isinstance(p, (int, float)):
        raise RuntimeError(f"norm: p must be 'fro' or a number, got {p!r}")
    axes = normalize_dims(dim, x.ndim, "norm")
    if p == float("inf"):
        return amax(E.abs(x), dim=axes, keepdim=keepdim)
    if p == float("-inf"):
        return amin(E.abs(x), dim=axes, keepdim=keepdim)
    if p == 0:
        # The count of nonzeros; through sign (zero gradient) so that, as in PyTorch, the
        # result takes part in autograd with a zero gradient instead of breaking backward.
        return sum(E.sign(E.abs(x)), dim=axes, keepdim=keepdim)
    if p < 0:
        raise ValueError(f"norm: p must be positive, 0 or ±inf, got {p}")
    return Norm.apply(x, p=p, axes=axes, keepdim=keepdim)


class Cumsum(Function):
    def forward(self, x, dim):
        xp = get_array_module(x)
        self.dim = dim
        return xp.cumsum(x, axis=dim)

    def backward(self, grad):
        return cumsum(grad.flip(self.dim), self.dim).flip(self.dim)


def cumsum(x: Tensor, dim) -> Tensor:
    """Running sum along ``dim``.  Backward: the reversed running sum of the gradient."""
    if not is_floating(x.data.dtype):
        x = to_dtype(x, backend.int64)
    if x.ndim == 0:
        return x.clone()
    return Cumsum.apply(x, dim=normalize_dim(dim, x.ndim, "cumsum"))


def _max_shift(x: Tensor, axes) -> Tensor:
    """The max over ``axes`` (kept as size 1) as a constant, to subtract before exp.

    Any constant gives the same softmax; the max keeps exp from overflowing.  Where it is
    not finite, or the reduction is empty (softmax of an empty dim is empty, logsumexp
    -inf, as in PyTorch), 0 is used instead.
    """
    xp = get_array_module(x.data)
    if x.data.size == 0:
        return const(xp.zeros(_kept_shape(x.shape, axes), x.dtype))
    return _MaxShift.apply(x.detach(), axes=axes)


class _MaxShift(Function):
    # An op without a gradient (not array code) so that bricks.compile recomputes it.
    def forward(self, x, axes):
        xp = get_array_module(x)
        m = x.max(axis=axes, keepdims=True)
        return xp.where(xp.isfinite(m), m, 0)


def softmax(x: Tensor, dim) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim``; stable for logits of any magnitude."""
    _require_float(x, "softmax")
    m = _max_shift(x, normalize_dims(dim, x.ndim, "softmax"))
    e = E.exp(x - m)
    return e / sum(e, dim=dim, keepdim=True)


def log_softmax(x: Tensor, dim) -> Tensor:
    """x_i - log(sum_j exp(x_j)) along ``dim``, computed as (x - max) - log(sum exp(x - max))."""
    _require_float(x, "log_softmax")
    shifted = x - _max_shift(x, normalize_dims(dim, x.ndim, "log_softmax"))
    return shifted - E.log(sum(E.exp(shifted), dim=dim, keepdim=True))
