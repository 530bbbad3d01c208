"""Linear algebra: matmul in all of PyTorch's cases, dot, outer, and einsum.

For C = A @ B the chain rule gives dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC; batch
dimensions that were broadcast are summed back with ``sum_to``.  Vector operands are
handled the way PyTorch does: a 1-D left operand becomes a row (1, n), a 1-D right operand a
column (n, 1), and the added dimension is removed from the result.
"""

from __future__ import annotations

import math
import string

from bricks import autograd as _autograd
from bricks import backend
from bricks.autograd import Function
from bricks.backend import get_array_module
from bricks.functions.arithmetic import broadcast_to, sum_to, sum_to_array
from bricks.functions.shape import Permute, reshape, unsqueeze
from bricks.tensor import Tensor, const, tensor

__all__ = ["matmul", "mm", "dot", "outer", "einsum", "linear", "Linear"]


def _same_dtype(op: str, *tensors):
    dtypes = {t.data.dtype for t in tensors}
    if len(dtypes) > 1:
        names = " and ".join(str(t.dtype) for t in tensors)
        raise RuntimeError(
            f"{op}: expected operands of the same dtype, got {names}; convert one of them "
            f"first, e.g. x.float() or x.double()"
        )


class MatMul(Function):
    fresh_grads = True

    def forward(self, a, b):
        xp = get_array_module(a)
        self.save_for_backward(a, b)
        return xp.matmul(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        (sa, _), (sb, _) = self.input_meta
        ga = gb = None
        # Operands here are at least 2-D (matmul added the vector dimensions), so the
        # products go straight to MatMul without the public wrapper's checks.
        if self.next_edges[0] is not None:
            ga = sum_to(MatMul.apply(grad, _swap_last(b)), sa)
        if self.next_edges[1] is not None:
            gb = sum_to(MatMul.apply(_swap_last(a), grad), sb)
        return ga, gb

    def backward_arrays(self, grad):
        xp = get_array_module(grad)
        a, b = self.saved_arrays
        (sa, _), (sb, _) = self.input_meta
        ga = gb = None
        if self.next_edges[0] is not None:
            ga = sum_to_array(xp.matmul(grad, xp.swapaxes(b, -1, -2)), sa)
        if self.next_edges[1] is not None:
            gb = sum_to_array(xp.matmul(xp.swapaxes(a, -1, -2), grad), sb)
        return ga, gb


class Linear(Function):
    """``x W^T + b`` as one node: the layer every MLP repeats, fused for speed.

    Composed, it is three nodes (a transpose, a matmul, a broadcast add), each with its own
    bookkeeping and backward; fused, one.  ``x`` is (*, in), ``W`` (out, in), ``b`` (out,).
    """

    fresh_grads = True

    def forward(self, x, w, b=None):
        xp = get_array_module(x)
        self.save_for_backward(x, w)
        rows, n_out = (x.shape[0] if x.ndim == 2 else 0), w.shape[0]
        if 0 < rows <= 128 and n_out >= 2 * rows:
            # Few rows, many outputs (an MLP's small batches): OpenBLAS is up to 1.5x faster
            # on (W x^T)^T than on x W^T (the same products, the same bits); copying the
            # transposed result into the row-major output costs one pass, shared with + b.
            t = xp.matmul(w, x.T).T
            y = xp.empty(t.shape, dtype=t.dtype)
            if b is None:
                xp.copyto(y, t)
            else:
                xp.add(t, b, out=y)
            return y
        y = xp.matmul(x, w.T)
        if b is not None:
            y += b  # y is new: adding in place saves a temporary as large as the output
        return y

    def backward(self, grad):
        x, w = self.saved_tensors
        n_out, n_in = self.input_meta[1][0]
        rows = math.prod(grad.shape[:-1])  # the batch, flattened (explicit: it may be 0)
        need = self.needs_input_grad
        gx = matmul(grad, w) if need[0] else None
        gw = gb = None
        if need[1]:
            gw = matmul(reshape(grad, (rows, n_out)).T, reshape(x, (rows, n_in)))
        if len(need) > 2 and need[2]:
            gb = reshape(grad, (rows, n_out)).sum(dim=0)
        return (gx, gw) if len(need) == 2 else (gx, gw, gb)

    def backward_arrays(self, grad):
        xp = get_array_module(grad)
        x, w = self.saved_arrays
        n_out, n_in = w.shape
        rows = math.prod(grad.shape[:-1])
        edges = self.next_edges
        gx = xp.matmul(grad, w) if edges[0] is not None else None
        gw = gb = None
        g2 = grad.reshape(rows, n_out)
        if edges[1] is not None:
            gw = xp.matmul(g2.T, x.reshape(rows, n_in))
        if len(edges) > 2 and edges[2] is not None:
            gb = g2.sum(axis=0)
        return (gx, gw) if len(edges) == 2 else (gx, gw, gb)


def linear(input, weight, bias=None) -> Tensor:
    """The affine map ``input @ weight.T + bias`` (PyTorch's ``F.linear``), one fused node.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (*, out_features).

    Example:
        >>> x, w = bricks.ones(2, 3), bricks.ones(4, 3)
        >>> linear(x, w, bricks.zeros(4)).shape
        (2, 4)
    """
    # While bricks.compile traces, the primitives go into its graph (it fuses them itself).
    # The checks read the arrays, not the Tensor properties: this runs once per layer call.
    if (_autograd._state.tracer is None
            and isinstance(input, Tensor) and isinstance(weight, Tensor)):
        x, w = input.data, weight.data
        if (x.ndim >= 1 and w.ndim == 2 and x.shape[-1] == w.shape[1]
                and x.dtype == w.dtype and x.dtype.kind == "f"
                and (bias is None or (isinstance(bias, Tensor) and bias.data.dtype == x.dtype
                                      and bias.data.shape == (w.shape[0],)))):
            if bias is None:
                return Linear.apply(input, weight)
            return Linear.apply(input, weight, bias)
    out = matmul(input, weight.T)  # the general case: checks, promotion, broadcasting
    return out if bias is None else out + bias


def _swap_last(x: Tensor) -> Tensor:
    n = x.data.ndim
    return Permute.apply(x, dims=tuple(range(n - 2)) + (n - 1, n - 2))


def matmul(a, b) -> Tensor:
    """Matrix product with PyTorch's rules for 1-D, 2-D, batched and broadcast operands.

    Args:
        a: shape (n,), (n, k) or (..., n, k).
        b: shape (k,), (k, m) or (..., k, m).

    Returns:
        (..., n, m), with the dimension of a 1-D operand removed.

    Example:
        >>> a = bricks.ones(2, 3)
        >>> (a @ bricks.ones(3)).tolist()
        [3.0, 3.0]
    """
    a = a if isinstance(a, Tensor) else tensor(a)
    b = b if isinstance(b, Tensor) else tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    _same_dtype("matmul", a, b)
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"multiplied ({ka} != {kb})")
    if a.ndim > 2 or b.ndim > 2:
        try:
            backend.broadcast_shapes(a.shape[:-2], b.shape[:-2] if b.ndim > 1 else ())
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of {tuple(a.shape)} and "
                               f"{tuple(b.shape)} cannot be broadcast together") from None
    if a.ndim == 1 and b.ndim == 1:
        return reshape(MatMul.apply(unsqueeze(a, 0), unsqueeze(b, 1)), ())
    if a.ndim == 1:
        out = MatMul.apply(unsqueeze(a, 0), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:
        return reshape(MatMul.apply(a, unsqueeze(b, 1)), a.shape[:-1]) if a.ndim == 2 else (
            _squeeze_last(MatMul.apply(a, unsqueeze(b, 1)))
        )
    return MatMul.apply(a, b)


def _squeeze_last(x: Tensor) -> Tensor:
    return reshape(x, x.shape[:-1])


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Product of two matrices (2-D only)."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: expects two 2-D tensors, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    return matmul(a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: expects 1-D tensors, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    if a.shape != b.shape:
        raise RuntimeError(f"dot: tensors must have the same length, got {a.shape[0]} and "
                           f"{b.shape[0]}")
    _same_dtype("dot", a, b)
    return matmul(a, b)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Outer product: out[i, j] = a[i] * b[j]."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: expects 1-D tensors, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    return unsqueeze(a, 1) * unsqueeze(b, 0)


# ---------------------------------------------------------------- einsum


def _parse_einsum(equation: str, shapes):
    """Return (input subscripts, output subscript) with '...' replaced by explicit letters."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise RuntimeError(f"einsum: equation {equation!r} names {len(subs)} operands, got "
                         f"{len(shapes)}")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for s, shape in zip(subs, shapes):
        if "..." in s:
            n_ell = max(n_ell, len(shape) - (len(s) - 3))
    ell = "".join(spare[:n_ell])
    full = []
    for s, shape in zip(subs, shapes):
        if "..." in s:
            k = len(shape) - (len(s) - 3)
            s = s.replace("...", ell[n_ell - k:] if k else "")
        if len(s) != len(shape) or not all(c.isalpha() for c in s):
            raise RuntimeError(f"einsum: subscripts {s!r} do not fit an operand of shape "
                             f"{tuple(shape)}")
        full.append(s)
    if out is None:
        counts = {}
        for s in full:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return full, out


class Einsum(Function):
    def forward(self, *arrays, subs, out):
        xp = get_array_module(*arrays)
        self.subs, self.out = subs, out
        self.save_for_backward(*arrays)
        eq = ",".join(subs) + "->" + out
        return xp.asarray(xp.einsum(eq, *arrays, optimize=len(arrays) > 2))

    def backward(self, grad):
        operands = self.saved_tensors
        sizes = {}
        for s, t in zip(self.subs, operands):
            sizes.update(zip(s, t.shape))
        return tuple(
            None if edge is None else _einsum_grad(k, grad, operands, self.subs, self.out, sizes)
            for k, edge in enumerate(self.next_edges)
        )


def _einsum_grad(k, grad, operands, subs, out, sizes):
    """d(einsum)/d(operand k): the einsum of the gradient with the other operands.

    Letters only operand k has are restored with a vector of ones (broadcast), repeated
    letters (a diagonal, as in 'ii->i') with an identity matrix.
    """
    xp = get_array_module(grad.data)
    target = subs[k]
    elsewhere = set(out).union(*(set(s) for j, s in enumerate(subs) if j != k))
    spare = iter(c for c in string.ascii_letters if c not in set("".join(subs) + out))
    extra_subs, extra_ops, result, seen = [], [], [], set()
    dtype = grad.data.dtype
    for c in target:
        if c in seen:
            fresh = next(spare)
            extra_subs.append(c + fresh)
            extra_ops.append(const(xp.eye(sizes[c], dtype=dtype)))
            result.append(fresh)
        else:
            seen.add(c)
            result.append(c)
    for c in seen:
        if c not in elsewhere:
            extra_subs.append(c)
            extra_ops.append(const(xp.ones(sizes[c], dtype=dtype)))
    others = [t for j, t in enumerate(operands) if j != k]
    other_subs = [s for j, s in enumerate(subs) if j != k]
    eq = ",".join([out] + other_subs + extra_subs) + "->" + "".join(result)
    return einsum(eq, grad, *others, *extra_ops)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum('ij,jk->ik', a, b)`` for a matrix product.

    Supports '...', implicit output (no '->'), repeated letters (diagonals, traces) and
    any number of operands; differentiable to any order.

    Example:
        >>> a = bricks.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> float(einsum('ii->', a))
        5.0
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [t if isinstance(t, Tensor) else tensor(t) for t in operands]
    _same_dtype("einsum", *operands)
    subs, out = _parse_einsum(equation, [t.shape for t in operands])
    sizes = {}
    for s, t in zip(subs, operands):
        for c, n in zip(s, t.shape):
            m = sizes.setdefault(c, n)
            if m != n and 1 not in (m, n):
                raise RuntimeError(f"einsum: subscript {c!r} has size {m} and {n} in "
                                   f"{equation!r}")
            if m == 1:
                sizes[c] = n
    # Size-1 dimensions broadcast, as in PyTorch: expanding them first (a view) keeps the
    # Function itself strict, and broadcast_to's backward sums their gradient back.
    operands = [broadcast_to(t, tuple(sizes[c] for c in s)) for s, t in zip(subs, operands)]
    return Einsum.apply(*operands, subs=tuple(subs), out=out)
