"""Making tensors: zeros, ones, full, empty, arange, linspace, eye and the ``*_like`` forms.

Each takes PyTorch's arguments (a shape as ``zeros(2, 3)`` or ``zeros((2, 3))``, ``dtype=``,
``requires_grad=``) and returns a leaf tensor.
"""

from __future__ import annotations

from bricks import backend
from bricks import devices as _devices
from bricks.backend import as_dtype
from bricks.functions.dims import shape_args
from bricks.tensor import Tensor, const

__all__ = ["zeros", "ones", "full", "empty", "arange", "linspace", "eye", "zeros_like",
           "ones_like", "full_like", "empty_like", "leaf", "from_numpy"]

_NUMPY_KINDS = "fiub"  # float, int, unsigned, bool: the dtypes bricks computes with


def leaf(array, requires_grad=False) -> Tensor:
    """Wrap ``array`` as a leaf tensor (no copy)."""
    t = const(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with the NumPy ``array`` (no copy), as ``torch.from_numpy``.

    Changes to one are seen in the other; the dtype is the array's own (float64 stays
    float64).  Use :func:`bricks.tensor` for a copy.

    Example:
        >>> a = np.zeros(3)
        >>> t = bricks.from_numpy(a)
        >>> a[0] = 5.0
        >>> t.tolist(), t.dtype
        ([5.0, 0.0, 0.0], dtype('float64'))
    """
    if not isinstance(array, backend.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array (np.ndarray), got "
                        f"{type(array).__name__}; use bricks.tensor(...) for other data")
    if array.dtype.kind not in _NUMPY_KINDS:
        raise TypeError(f"from_numpy: can't convert an array of dtype {array.dtype}; "
                        f"supported: floating, integer and bool arrays")
    return const(array)


def _shape(size, op):
    shape = shape_args(size)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"{op}: sizes must be non-negative, got {shape}")
    return shape


def _dtype(dtype):
    return as_dtype(dtype) or backend.get_default_dtype()


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros of the given shape (on ``device``: ``'cpu'``, ``'cuda:0'``, ...)."""
    xp, where = _devices.array_module(device, "zeros")
    with where:
        return leaf(xp.zeros(_shape(size, "zeros"), dtype=_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones of the given shape."""
    xp, where = _devices.array_module(device, "ones")
    with where:
        return leaf(xp.ones(_shape(size, "ones"), dtype=_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialized tensor of the given shape (its values are arbitrary)."""
    xp, where = _devices.array_module(device, "empty")
    with where:
        return leaf(xp.empty(_shape(size, "empty"), dtype=_dtype(dtype)), requires_grad)


def _fill_dtype(value):
    if isinstance(value, bool):
        return backend.bool_
    if isinstance(value, int):
        return backend.int64
    return backend.get_default_dtype()


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``fill_value``; the dtype follows the value (int64, bool or float)."""
    dtype = as_dtype(dtype) or _fill_dtype(fill_value)
    xp, where = _devices.array_module(device, "full")
    with where:
        return leaf(xp.full(_shape((size,), "full"), fill_value, dtype=dtype), requires_grad)


def _like(x, device, who):
    # The *_like functions make their tensor on x's device unless told otherwise (PyTorch).
    if device is None:
        return backend.get_array_module(x.data), backend._nullcontext
    return _devices.array_module(device, who)


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp, where = _like(x, device, "zeros_like")
    with where:
        return leaf(xp.zeros(x.shape, dtype=as_dtype(dtype) or x.dtype), requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp, where = _like(x, device, "ones_like")
    with where:
        return leaf(xp.ones(x.shape, dtype=as_dtype(dtype) or x.dtype), requires_grad)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp, where = _like(x, device, "empty_like")
    with where:
        return leaf(xp.empty(x.shape, dtype=as_dtype(dtype) or x.dtype), requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    xp, where = _like(x, device, "full_like")
    with where:
        return leaf(xp.full(x.shape, fill_value, dtype=as_dtype(dtype) or x.dtype),
                    requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end``, spaced by ``step``.

    All-integer arguments give int64, otherwise the default float dtype.

    Example:
        >>> bricks.arange(3).tolist()
        [0, 1, 2]
    """
    if end is None:
        start, end = 0, start
    # NumPy scalars and one-element tensors count as the Python numbers they hold.
    start, end, step = (v.item() if isinstance(v, (Tensor, backend.generic)) else v
                        for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    integral = all(isinstance(v, int) for v in (start, end, step))
    dtype = as_dtype(dtype) or (backend.int64 if integral else backend.get_default_dtype())
    xp, where = _devices.array_module(device, "arange")
    with where:
        return leaf(xp.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError(f"linspace: steps must be non-negative, got {steps}")
    xp, where = _devices.array_module(device, "linspace")
    with where:
        return leaf(xp.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n×m identity matrix (m defaults to n)."""
    xp, where = _devices.array_module(device, "eye")
    with where:
        return leaf(xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)
