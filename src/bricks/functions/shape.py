"""Shape ops: reshape, permute, broadcasting, joining and splitting, indexing, gather, pad.

None of these changes a value, only where it sits, so every backward puts the gradient back
where its value came from: reshape reshapes it back, permute applies the inverse
permutation, indexing scatters it into zeros (adding where an index repeats), and ``cat``
slices it into pieces.
"""

from __future__ import annotations

import builtins

from bricks import backend
from bricks.autograd import Function, array_op, decide
from bricks.backend import get_array_module
from bricks.functions import elementwise as E
from bricks.functions.arithmetic import broadcast_to, to_dtype
from bricks.functions.dims import normalize_dim, normalize_dims, shape_args
from bricks.tensor import Tensor, const, tensor

__all__ = [
    "reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "expand",
    "broadcast_to", "cat", "concat", "stack", "split", "chunk", "gather", "scatter_into",
    "index_select", "masked_fill", "pad", "flip", "repeat", "tril", "triu", "one_hot",
    "getitem", "movedim_last", "movedim_back", "normalize_dim", "normalize_dims", "shape_args",
]



# ---------------------------------------------------------------- reshape


class Reshape(Function):
    is_view = True

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.input_meta[0][0])

    def backward_arrays(self, grad):
        return grad.reshape(self.input_meta[0][0])


def reshape(x: Tensor, shape, _op: str = "reshape") -> Tensor:
    """The same elements in a new shape (one size may be -1, inferred).

    Example:
        >>> bricks.arange(6).reshape(2, 3).tolist()
        [[0, 1, 2], [3, 4, 5]]
    """
    shape = tuple(int(n) for n in shape)
    if x.data.shape == shape:
        return x
    try:
        return Reshape.apply(x, shape=shape)
    except ValueError:
        raise RuntimeError(
            f"{_op}: shape {shape} is invalid for a tensor of {x.data.size} elements "
            f"(shape {tuple(x.shape)})"
        ) from None


def view(x: Tensor, shape) -> Tensor:
    """``reshape`` under PyTorch's other name (bricks never needs contiguous memory)."""
    return reshape(x, shape, _op="view")


def flatten(x: Tensor, start_dim=0, end_dim=-1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:s] + (-1 if x.data.size else _prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return reshape(x, shape)


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove size-1 dimensions (all, or those in ``dim`` that have size 1)."""
    if dim is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        axes = [a for a in normalize_dims(dim, x.ndim, "squeeze") if x.shape[a] == 1]
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (counting from the end when negative)."""
    d = normalize_dim(dim, x.ndim, "unsqueeze", extra=1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


# ---------------------------------------------------------------- permute


class Permute(Function):
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return permute(grad, tuple(inverse))

    def backward_arrays(self, grad):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return grad.transpose(inverse)


def permute(x: Tensor, dims) -> Tensor:
    """Reorder the dimensions: output dimension i is input dimension ``dims[i]``."""
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise RuntimeError(
            f"permute: dims {dims} must be a permutation of 0..{x.ndim - 1} for a tensor of "
            f"shape {tuple(x.shape)}"
        )
    if dims == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    if x.ndim == 0:
        return x
    d0 = normalize_dim(dim0, x.ndim, "transpose")
    d1 = normalize_dim(dim1, x.ndim, "transpose")
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = d1, d0
    return permute(x, dims)


def movedim_last(x: Tensor, dim: int) -> Tensor:
    """Move dimension ``dim`` to the end."""
    dims = [d for d in range(x.ndim) if d != dim] + [dim]
    return permute(x, dims)


def movedim_back(x: Tensor, dim: int) -> Tensor:
    """Undo ``movedim_last``: move the last dimension to position ``dim``."""
    dims = list(range(x.ndim - 1))
    dims.insert(dim, x.ndim - 1)
    return permute(x, dims)


def expand(x: Tensor, sizes) -> Tensor:
    """Broadcast size-1 dimensions to ``sizes`` without copying (-1 keeps a size)."""
    sizes = tuple(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's "
            f"number of dimensions ({x.ndim}); shape {tuple(x.shape)}"
        )
    lead = len(sizes) - x.ndim
    target = []
    for i, n in enumerate(sizes):
        if i < lead:
            if n < 0:
                raise RuntimeError(f"expand: size -1 is not allowed in a new leading "
                                   f"dimension ({i})")
            target.append(n)
            continue
        have = x.shape[i - lead]
        if n == -1:
            n = have
        if have != 1 and n != have:
            raise RuntimeError(
                f"expand: the expanded size {n} must match the existing size {have} at "
                f"dimension {i} (only size-1 dimensions can be expanded); shape "
                f"{tuple(x.shape)} to {sizes}"
            )
        target.append(n)
    return broadcast_to(x, tuple(target))


# ---------------------------------------------------------------- joining, splitting


class Cat(Function):
    def forward(self, *xs, dim):
        xp = get_array_module(*xs)
        self.dim = dim
        return xp.concatenate(xs, axis=dim)

    def backward(self, grad):
        grads, start = [], 0
        for edge, (shape, _) in zip(self.next_edges, self.input_meta):
            stop = start + shape[self.dim]
            grads.append(None if edge is None else _slice_dim(grad, self.dim, start, stop))
            start = stop
        return tuple(grads)


def _slice_dim(x: Tensor, dim: int, start: int, stop: int) -> Tensor:
    return getitem(x, (slice(None),) * dim + (slice(start, stop),))


def cat(tensors, dim=0) -> Tensor:
    """Join tensors along an existing dimension (their dtypes are promoted together).

    Example:
        >>> bricks.cat([bricks.zeros(1, 2), bricks.ones(1, 2)]).tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ref = tensors[0]
    if ref.ndim == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(
            a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d
        ):
            raise RuntimeError(
                f"cat: tensors must have the same shape except in dimension {d}: tensor 0 "
                f"has shape {tuple(ref.shape)}, tensor {i} has shape {tuple(t.shape)}"
            )
    dtype = backend.result_type(*(t.data for t in tensors))
    tensors = [t if t.data.dtype == dtype else to_dtype(t, dtype) for t in tensors]
    return Cat.apply(*tensors, dim=d)


concat = cat


def stack(tensors, dim=0) -> Tensor:
    """Join same-shaped tensors along a new dimension ``dim``."""
    tensors = [t if isinstance(t, Tensor) else tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack: expects each tensor to be equal size, but got "
                f"{tuple(tensors[0].shape)} at entry 0 and {tuple(t.shape)} at entry {i}"
            )
    d = normalize_dim(dim, tensors[0].ndim, "stack", extra=1)
    return cat([unsqueeze(t, d) for t in tensors], dim=d)


def split(x: Tensor, split_size_or_sections, dim=0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of listed sizes."""
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [builtins.min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split: sections {sizes} must sum to the size of dimension {d} ({n})"
            )
    out, start = [], 0
    for s in sizes:
        out.append(_slice_dim(x, d, start, start + s))
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim=0) -> tuple:
    """Split into ``chunks`` pieces of ceil(n / chunks) (fewer when n is small)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    d = normalize_dim(dim, x.ndim, "chunk")
    if x.shape[d] == 0:  # PyTorch's rule: an empty dimension gives ``chunks`` empty pieces
        return split(x, [0] * chunks, d)
    size = -(-x.shape[d] // chunks)
    return split(x, builtins.max(size, 1), d)


# ---------------------------------------------------------------- indexing


def index_key(index, like=None):
    """Turn an index (ints, slices, None, Ellipsis, tensors, lists) into NumPy's form, with
    its arrays on the device of the array ``like`` (the indexed one)."""
    items = index if isinstance(index, tuple) else (index,)
    out, advanced = [], False
    for it in items:
        if isinstance(it, Tensor):
            it = it.data
        elif isinstance(it, list):
            it = backend.asarray_like(it, like)
        if backend.is_array(it):
            if type(it) is not type(like) and like is not None:
                it = backend.asarray_like(it, like)  # a CPU index for a GPU tensor
            if it.dtype.kind not in "biu":
                raise IndexError(
                    f"index: tensors used as indices must be integer or bool, got {it.dtype}"
                )
            advanced = True
        out.append(it)
    return tuple(out), advanced


class BasicIndex(Function):
    is_view = True

    def forward(self, x, key):
        self.key = key
        out = x[key]
        if not backend.is_array(out):
            # Every dimension indexed by an int: NumPy returns a scalar copy; an Ellipsis
            # keeps it a 0-d view, so x[i].fill_(v) writes through as in PyTorch.
            has_ellipsis = any(k is Ellipsis for k in key)
            out = get_array_module(x).asarray(out) if has_ellipsis else x[key + (Ellipsis,)]
        return out

    def backward(self, grad):
        return IndexBackward.apply(grad, key=self.key, shape=self.input_meta[0][0],
                                   accumulate=False)


class AdvancedIndex(Function):
    def forward(self, x, key):
        self.key = key
        return x[key]

    def backward(self, grad):
        return IndexBackward.apply(grad, key=self.key, shape=self.input_meta[0][0],
                                   accumulate=True)


class IndexBackward(Function):
    """Scatter a gradient into zeros at the indexed positions (adding repeated indices)."""

    def forward(self, grad, key, shape, accumulate):
        xp = get_array_module(grad)
        self.key = key
        out = xp.zeros(shape, dtype=grad.dtype)
        if accumulate:
            xp.add.at(out, key, grad)
        else:
            out[key] = grad
        return out

    def backward(self, grad):
        return getitem(grad, self.key)


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` with ints, slices, None, ``...``, integer arrays and bool masks.

    The gradient is scattered back into the indexed positions; an index that appears
    several times receives the sum of its gradients.
    """
    key, advanced = index_key(index, x.data)
    try:
        return (AdvancedIndex if advanced else BasicIndex).apply(x, key=key)
    except IndexError as err:
        raise IndexError(f"index: {err} (tensor of shape {tuple(x.shape)})") from None


def index_select(x: Tensor, dim: int, index) -> Tensor:
    """The entries of ``x`` at positions ``index`` (1-D integer) along ``dim``."""
    d = normalize_dim(dim, x.ndim, "index_select")
    idx = backend.asarray_like(index.data if isinstance(index, Tensor) else index, x.data)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_select: index must be a 1-D integer tensor, got shape "
                         f"{tuple(idx.shape)} and dtype {idx.dtype}")
    return getitem(x, (slice(None),) * d + (idx.reshape(-1),))


class Gather(Function):
    def forward(self, x, dim, index):
        xp = get_array_module(x)
        self.dim, self.index = dim, index
        if index.shape != x.shape:
            # PyTorch reads only the leading index.shape[d] entries of the other dims.
            x = x[tuple(slice(0, n) if d != dim else slice(None)
                        for d, n in enumerate(index.shape))]
        return xp.take_along_axis(x, index, axis=dim)

    def backward(self, grad):
        return scatter_into(grad, self.dim, self.index, self.input_meta[0][0])


class ScatterInto(Function):
    def forward(self, grad, dim, index, shape):
        xp = get_array_module(grad)
        self.dim, self.index = dim, index
        out = xp.zeros(shape, dtype=grad.dtype)
        key = list(xp.indices(index.shape, sparse=True))
        key[dim] = index
        xp.add.at(out, tuple(key), grad)
        return out

    def backward(self, grad):
        return Gather.apply(grad, dim=self.dim, index=self.index)


def scatter_into(src: Tensor, dim: int, index, shape) -> Tensor:
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``dim`` (gather's adjoint)."""
    return ScatterInto.apply(src, dim=dim, index=index, shape=tuple(shape))


def gather(x: Tensor, dim: int, index) -> Tensor:
    """Pick values along ``dim``: out[i][j] = x[i][index[i][j]] for dim=1.

    ``index`` is an integer tensor with as many dimensions as ``x``.
    """
    d = normalize_dim(dim, x.ndim, "gather")
    idx = backend.asarray_like(index.data if isinstance(index, Tensor) else index, x.data)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather: index must be an integer tensor, got {idx.dtype}")
    if idx.ndim != x.ndim:
        raise RuntimeError(f"gather: index must have as many dimensions as the input: "
                           f"index {tuple(idx.shape)}, input {tuple(x.shape)}")
    for i, (a, b) in enumerate(zip(idx.shape, x.shape)):
        if i != d and a > b:
            raise RuntimeError(f"gather: index {tuple(idx.shape)} is larger than the input "
                               f"{tuple(x.shape)} in dimension {i}")
    # The range check and the wrapped index are computed from the index's values: steps
    # that bricks.compile repeats on every call (a guard, an array op), not constants.
    decide(_check_index, idx, x.shape[d], d)
    return Gather.apply(x, dim=d, index=array_op(_wrap_index, idx, builtins.max(x.shape[d], 1)))


def _wrap_index(idx, n: int):
    # Negative indices counted from the end; ``%`` runs on the index's own device.
    return idx % n


def _check_index(idx, n: int, d: int) -> None:
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise RuntimeError(f"gather: index out of range for dimension {d} of size {n}")


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``x`` with ``value`` wherever the bool ``mask`` (broadcast to x) is true."""
    mask = mask if isinstance(mask, Tensor) else tensor(mask, device=x.device)
    if mask.dtype != backend.bool_:
        raise RuntimeError(f"masked_fill: mask must be a bool tensor, got {mask.dtype}")
    try:
        if backend.broadcast_shapes(mask.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"masked_fill: mask of shape {tuple(mask.shape)} does not broadcast "
                           f"to the tensor's shape {tuple(x.shape)}") from None
    if isinstance(value, Tensor):
        value = value.to(x.dtype)
    return E.where(mask, value, x)


class Pad(Function):
    def forward(self, x, widths, value):
        xp = get_array_module(x)
        self.key = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return xp.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, grad):
        return getitem(grad, self.key)


def pad(x: Tensor, pad, mode="constant", value=0.0) -> Tensor:
    """Pad (or crop, with negative sizes) the last dimensions, PyTorch's ``F.pad``.

    ``pad`` lists (left, right) pairs starting from the last dimension:
    ``(1, 1)`` pads the last dimension, ``(1, 1, 2, 2)`` the last two.
    ``mode`` is 'constant' (with ``value``), 'reflect', 'replicate' or 'circular'.
    """
    xp = get_array_module(x.data)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"pad: expected an even number of sizes, at most 2 × ndim "
                         f"({2 * x.ndim}), got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    # Negative widths crop: slice first, then pad with what is left.
    crop = tuple(slice(-builtins.min(lo, 0), n + builtins.min(hi, 0))
                 for (lo, hi), n in zip(widths, x.shape))
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        x = getitem(x, crop)
    widths = tuple((builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in widths)
    if mode == "constant":
        return Pad.apply(x, widths=widths, value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be constant, reflect, replicate or circular, "
                         f"got {mode!r}")
    # Other modes read existing elements: an index per output position, gathered with
    # advanced indexing, so backward adds each gradient to its source element.
    index = []
    for (lo, hi), n in zip(widths, x.shape):
        pos = xp.arange(-lo, n + hi)
        if mode == "replicate":
            pos = xp.clip(pos, 0, n - 1)
        elif mode == "circular":
            pos = pos % n
        else:
            if (lo or hi) and (lo >= n or hi >= n):
                raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be smaller than "
                                 f"the dimension ({n})")
            period = 2 * (n - 1) if n > 1 else 1
            pos = xp.abs(pos) % period
            pos = xp.where(pos >= n, period - pos, pos)
        index.append(pos)
    return getitem(x, xp.ix_(*index))


def flip(x: Tensor, dims) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    axes = normalize_dims(dims if isinstance(dims, (tuple, list)) else (dims,), x.ndim, "flip")
    key = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return getitem(x, key)


def repeat(x: Tensor, sizes) -> Tensor:
    """Tile ``x``: ``sizes[i]`` copies along dimension i (like ``numpy.tile``)."""
    sizes = tuple(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: number of repeats ({len(sizes)}) must be at least the "
                           f"number of dimensions ({x.ndim})")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = []
    for n in shape:
        interleaved += [1, n]
    target = []
    for r, n in zip(sizes, shape):
        target += [r, n]
    out = broadcast_to(reshape(x, tuple(interleaved)), tuple(target))
    return reshape(out, tuple(r * n for r, n in zip(sizes, shape)))


def _tri_mask(x: Tensor, diagonal: int, lower: bool) -> Tensor:
    xp = get_array_module(x.data)
    if x.ndim < 2:
        raise RuntimeError(f"{'tril' if lower else 'triu'}: expects a tensor with at least "
                           f"2 dimensions, got shape {tuple(x.shape)}")
    r, c = x.shape[-2:]
    mask = xp.tri(r, c, k=diagonal, dtype=bool)
    if not lower:
        mask = ~xp.tri(r, c, k=diagonal - 1, dtype=bool)
    return const(mask)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros above."""
    return E.where(_tri_mask(x, diagonal, True), x, 0)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros below."""
    return E.where(_tri_mask(x, diagonal, False), x, 0)


def one_hot(x: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot codes: shape x.shape + (num_classes,) (no gradient).

    Example:
        >>> one_hot(bricks.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    x = x if isinstance(x, Tensor) else tensor(x)
    xp = get_array_module(x.data)
    if x.data.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expected an integer tensor of class indices, got {x.dtype}")
    if x.data.size and x.data.min() < 0:
        raise RuntimeError("one_hot: class indices must be non-negative")
    top = int(x.data.max()) + 1 if x.data.size else 0
    if num_classes == -1:
        num_classes = top
    elif top > num_classes:
        raise ValueError(f"one_hot: class index {top - 1} is out of range for "
                         f"num_classes={num_classes}")
    out = (x.data[..., None] == xp.arange(num_classes)).astype(backend.int64)
    return const(out)
