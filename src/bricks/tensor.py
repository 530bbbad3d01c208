"""The Tensor: an array, its gradient, and the node of the graph that made it.

A Tensor wraps an array (``.data``), an optional gradient (``.grad``, itself a Tensor) and,
when it was computed by an op that needs gradients, the :class:`~bricks.autograd.Function`
node that made it (``.grad_fn``).  Operators and methods are one-liners that call the ops
in ``bricks.functions``; the engine that runs backward lives in ``bricks.autograd``.

Example:
    >>> x = bricks.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""

from __future__ import annotations

from bricks import backend
from bricks import devices as _device
from bricks.backend import as_dtype, is_floating, xp

__all__ = ["Tensor", "tensor", "tensor_from", "const"]


class Tensor:
    """A multi-dimensional array that records the operations applied to it.

    Build one with :func:`bricks.tensor` (or ``zeros``, ``randn``, ...).  ``Tensor(data)``
    also works and behaves like ``bricks.tensor(data)``.
    """

    __slots__ = ("data", "grad", "grad_fn", "_requires_grad", "_output_nr", "_vc", "_hooks",
                 "_retains_grad", "__weakref__")
    # NumPy must hand mixed expressions (array + Tensor) to Tensor's reflected operators.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad=False):
        made = tensor(data, dtype=dtype, requires_grad=requires_grad)
        self.data = made.data
        self.grad = None
        self.grad_fn = None
        self._requires_grad = made._requires_grad
        self._output_nr = 0
        self._vc = [0]
        self._hooks = None
        self._retains_grad = False

    @classmethod
    def _make(cls, data, requires_grad, grad_fn, output_nr):
        # The engine's constructor: no checks, no copies.
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.grad_fn = grad_fn
        t._requires_grad = requires_grad
        t._output_nr = output_nr
        t._vc = [0]
        t._hooks = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        requires_grad = bool(requires_grad)
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors; "
                "use detach() to get a tensor without a graph"
            )
        if requires_grad and not is_floating(self.data.dtype):
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got "
                f"{_dtype_name(self.data.dtype)}; convert first with x.float()"
            )
        self._requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user, not by an op that records gradients."""
        return self.grad_fn is None

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> _device.device:
        """Where the data lives: ``device(type='cpu')`` or ``device(type='cuda', index=0)``."""
        return _device.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return backend.device_type_of(self.data).name == "cuda"

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the transpose for a matrix)."""
        return _shape.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of transposed matrices)."""
        return _shape.transpose(self, -2, -1)

    def size(self, dim=None):
        """The shape, or its length along ``dim``."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_shape.normalize_dim(dim, self.data.ndim, "size")]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def item(self):
        """The value of a one-element tensor as a Python number."""
        _autograd._escape("item()")
        if self.data.size != 1:
            raise RuntimeError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"this one has shape {tuple(self.shape)}"
            )
        return self.data.reshape(()).item()

    def tolist(self):
        _autograd._escape("tolist()")
        return self.data.tolist()

    def numpy(self):
        """The data as a NumPy array (shares memory, like PyTorch's ``numpy()``).

        CPU tensors only, as in PyTorch: copy a GPU tensor first with ``.cpu()``.
        """
        _autograd._escape("numpy()")
        if self._requires_grad:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; "
                "use tensor.detach().numpy()"
            )
        _check_host(self, "numpy()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        _autograd._escape("conversion to a NumPy array")
        _check_host(self, "conversion to a NumPy array")
        a = self.data
        return a if dtype is None else a.astype(dtype, copy=False)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if not backend.is_integer(self.data.dtype) or self.data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self):
        _autograd._escape("bool()")
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                f"use .any() or .all()"
            )
        return bool(self.data.reshape(()))

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self):
        prefix = "tensor("
        arr = backend.to_numpy(self.data)
        options = {}
        if arr.dtype.kind == "f":
            finite = arr[xp.isfinite(arr)]
            if finite.size and not (finite == xp.round(finite)).all():
                options = {"precision": 4, "floatmode": "fixed"}  # PyTorch's 1.5000 style
        body = xp.array2string(arr, separator=", ", prefix=prefix, **options)
        extras = []
        dt = self.data.dtype
        if self.data.size == 0:
            extras.append(f"size={tuple(self.shape)}")
        where = _device.device_of(self.data)
        if where.type != "cpu":
            extras.append(f"device='{where}'")
        if not (dt == backend.get_default_dtype() or dt == backend.int64 or dt == backend.bool_):
            extras.append(f"dtype={_dtype_name(dt)}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return prefix + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------ graph
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Backpropagate from this tensor: accumulate d(self)/d(leaf) into each leaf's .grad.

        Args:
            gradient: d(loss)/d(self), needed when self has more than one element.
            retain_graph: keep the graph so that backward can run through it again
                (default: ``create_graph``).
            create_graph: record the gradient computation itself, for higher derivatives.
        """
        _autograd.backward(self, gradient, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph (``requires_grad=False``)."""
        t = const(self.data)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn.register_output_hook(self._output_nr, _autograd._RetainGrad(self))

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook may return a new gradient to use instead.  Returns a handle whose
        ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "does not require grad")
        if self.grad_fn is not None:
            return self.grad_fn.register_output_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _autograd._HookHandle(self._hooks, hook)

    # ------------------------------------------------------------ conversion
    def to(self, *args, device=None, dtype=None, copy=False, non_blocking=False) -> Tensor:
        """This tensor on another device and/or with another dtype, PyTorch's ``to``.

        ``x.to(dtype)``, ``x.to(device)``, ``x.to(device, dtype)``, ``x.to(other)`` (other's
        device and dtype), or the keywords ``device=``, ``dtype=``.  Returns ``self`` when
        nothing changes (unless ``copy=True``).  Differentiable: the gradient flows back to
        the original device and dtype.

        Example:
            >>> x = bricks.tensor([1, 2])
            >>> x.to(bricks.float64).dtype, x.to("cpu") is x
            (dtype('float64'), True)
        """
        device, dtype = _to_args(args, device, dtype)
        out = self
        if device is not None:
            out = _transfer.to_device(out, device)
        if dtype is not None and as_dtype(dtype) != out.data.dtype:
            out = _arith.to_dtype(out, dtype)
        if copy and out is self:
            out = _arith.clone(self)
        return out

    def cuda(self, device=None, non_blocking=False) -> Tensor:
        """This tensor on a GPU (``device``: an index or ``'cuda:N'``; default the current)."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int) and not isinstance(device, bool):
            device = _device.device("cuda", device)
        target = _device.as_device(device)
        if target.type != "cuda":
            raise ValueError(f"cuda: expected a cuda device, got {str(target)!r}")
        return _transfer.to_device(self, target)

    def cpu(self) -> Tensor:
        """This tensor in main memory (``self`` when it is there already)."""
        return _transfer.to_device(self, _device.CPU)

    def type(self, dtype) -> Tensor:
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(backend.float32)

    def double(self) -> Tensor:
        return self.to(backend.float64)

    def half(self) -> Tensor:
        return self.to(backend.float16)

    def long(self) -> Tensor:
        return self.to(backend.int64)

    def int(self) -> Tensor:
        return self.to(backend.int32)

    def bool(self) -> Tensor:
        return self.to(backend.bool_)

    def clone(self) -> Tensor:
        return _arith.clone(self)

    def contiguous(self) -> Tensor:
        return self

    # ------------------------------------------------------------ operators
    def __add__(self, other):
        return _arith.add(self, other)

    def __radd__(self, other):
        return _arith.add(other, self)

    def __sub__(self, other):
        return _arith.sub(self, other)

    def __rsub__(self, other):
        return _arith.sub(other, self)

    def __mul__(self, other):
        return _arith.mul(self, other)

    def __rmul__(self, other):
        return _arith.mul(other, self)

    def __truediv__(self, other):
        return _arith.div(self, other)

    def __rtruediv__(self, other):
        return _arith.div(other, self)

    def __floordiv__(self, other):
        return _arith.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _arith.floor_divide(other, self)

    def __mod__(self, other):
        return _arith.remainder(self, other)

    def __rmod__(self, other):
        return _arith.remainder(other, self)

    def __pow__(self, other):
        return _arith.pow(self, other)

    def __rpow__(self, other):
        return _arith.pow(other, self)

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self)

    def __neg__(self):
        return _arith.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _elem.abs(self)

    def __invert__(self):
        return _compare.logical_not(self)

    def __and__(self, other):
        return _compare.logical_and(self, other)

    def __or__(self, other):
        return _compare.logical_or(self, other)

    def __xor__(self, other):
        return _compare.logical_xor(self, other)

    def __eq__(self, other):
        return _compare.eq(self, other)

    def __ne__(self, other):
        return _compare.ne(self, other)

    def __lt__(self, other):
        return _compare.lt(self, other)

    def __le__(self, other):
        return _compare.le(self, other)

    def __gt__(self, other):
        return _compare.gt(self, other)

    def __ge__(self, other):
        return _compare.ge(self, other)

    def __getitem__(self, index):
        return _shape.getitem(self, index)

    def __setitem__(self, index, value):
        _inplace.setitem(self, index, value)

    # ------------------------------------------------------------ arithmetic methods
    def add(self, other, alpha=1):
        return _arith.add(self, other if alpha == 1 else _arith.mul(other, alpha))

    def sub(self, other, alpha=1):
        return _arith.sub(self, other if alpha == 1 else _arith.mul(other, alpha))

    def mul(self, other):
        return _arith.mul(self, other)

    def div(self, other):
        return _arith.div(self, other)

    def pow(self, exponent):
        return _arith.pow(self, exponent)

    def neg(self):
        return _arith.neg(self)

    def reciprocal(self):
        return _elem.reciprocal(self)

    def remainder(self, other):
        return _arith.remainder(self, other)

    def floor_divide(self, other):
        return _arith.floor_divide(self, other)

    # ------------------------------------------------------------ elementwise methods
    def exp(self):
        return _elem.exp(self)

    def log(self):
        return _elem.log(self)

    def log1p(self):
        return _elem.log1p(self)

    def expm1(self):
        return _elem.expm1(self)

    def sqrt(self):
        return _elem.sqrt(self)

    def rsqrt(self):
        return _elem.rsqrt(self)

    def sin(self):
        return _elem.sin(self)

    def cos(self):
        return _elem.cos(self)

    def tan(self):
        return _elem.tan(self)

    def tanh(self):
        return _elem.tanh(self)

    def sigmoid(self):
        return _elem.sigmoid(self)

    def relu(self):
        return _elem.relu(self)

    def abs(self):
        return _elem.abs(self)

    def sign(self):
        return _elem.sign(self)

    def erf(self):
        return _elem.erf(self)

    def floor(self):
        return _elem.floor(self)

    def ceil(self):
        return _elem.ceil(self)

    def round(self, decimals=0):
        return _elem.round(self, decimals=decimals)

    def clamp(self, min=None, max=None):
        return _elem.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return _elem.maximum(self, other)

    def minimum(self, other):
        return _elem.minimum(self, other)

    def where(self, condition, other):
        return _elem.where(condition, self, other)

    def isnan(self):
        return _compare.isnan(self)

    def isinf(self):
        return _compare.isinf(self)

    def isfinite(self):
        return _compare.isfinite(self)

    def logical_not(self):
        return _compare.logical_not(self)

    def eq(self, other):
        return _compare.eq(self, other)

    def ne(self, other):
        return _compare.ne(self, other)

    def lt(self, other):
        return _compare.lt(self, other)

    def le(self, other):
        return _compare.le(self, other)

    def gt(self, other):
        return _compare.gt(self, other)

    def ge(self, other):
        return _compare.ge(self, other)

    def allclose(self, other, rtol=1e-5, atol=1e-8):
        return _compare.allclose(self, other, rtol=rtol, atol=atol)

    def equal(self, other) -> bool:
        return _compare.equal(self, other)

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        return _red.sum(self, dim=dim, keepdim=keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False):
        return _red.mean(self, dim=dim, keepdim=keepdim)

    def var(self, dim=None, correction=1, keepdim=False, unbiased=None):
        return _red.var(self, dim=dim, correction=correction, keepdim=keepdim,
                        unbiased=unbiased)

    def std(self, dim=None, correction=1, keepdim=False, unbiased=None):
        return _red.std(self, dim=dim, correction=correction, keepdim=keepdim,
                        unbiased=unbiased)

    def max(self, dim=None, keepdim=False):
        return _red.max(self, dim=dim, keepdim=keepdim)

    def min(self, dim=None, keepdim=False):
        return _red.min(self, dim=dim, keepdim=keepdim)

    def amax(self, dim=None, keepdim=False):
        return _red.amax(self, dim=dim, keepdim=keepdim)

    def amin(self, dim=None, keepdim=False):
        return _red.amin(self, dim=dim, keepdim=keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _red.argmax(self, dim=dim, keepdim=keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _red.argmin(self, dim=dim, keepdim=keepdim)

    def prod(self, dim=None, keepdim=False):
        return _red.prod(self, dim=dim, keepdim=keepdim)

    def logsumexp(self, dim, keepdim=False):
        return _red.logsumexp(self, dim=dim, keepdim=keepdim)

    def norm(self, p="fro", dim=None, keepdim=False):
        return _red.norm(self, p=p, dim=dim, keepdim=keepdim)

    def cumsum(self, dim):
        return _red.cumsum(self, dim=dim)

    def all(self, dim=None, keepdim=False):
        return _compare.all(self, dim=dim, keepdim=keepdim)

    def any(self, dim=None, keepdim=False):
        return _compare.any(self, dim=dim, keepdim=keepdim)

    def softmax(self, dim):
        return _red.softmax(self, dim)

    def log_softmax(self, dim):
        return _red.log_softmax(self, dim)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape):
        return _shape.reshape(self, _shape.shape_args(shape))

    def view(self, *shape):
        return _shape.view(self, _shape.shape_args(shape))

    def view_as(self, other):
        return _shape.view(self, other.shape)

    def reshape_as(self, other):
        return _shape.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _shape.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return _shape.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _shape.unsqueeze(self, dim)

    def transpose(self, dim0, dim1):
        return _shape.transpose(self, dim0, dim1)

    def t(self):
        if self.data.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.T

    def permute(self, *dims):
        return _shape.permute(self, _shape.shape_args(dims))

    def expand(self, *sizes):
        return _shape.expand(self, _shape.shape_args(sizes))

    def expand_as(self, other):
        return _shape.expand(self, other.shape)

    def sum_to_size(self, *size):
        return _arith.sum_to_size(self, *size)

    def broadcast_to(self, shape):
        return _shape.broadcast_to(self, shape)

    def split(self, split_size_or_sections, dim=0):
        return _shape.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return _shape.chunk(self, chunks, dim)

    def gather(self, dim, index):
        return _shape.gather(self, dim, index)

    def index_select(self, dim, index):
        return _shape.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return _shape.masked_fill(self, mask, value)

    def flip(self, *dims):
        return _shape.flip(self, _shape.shape_args(dims))

    def repeat(self, *sizes):
        return _shape.repeat(self, _shape.shape_args(sizes))

    def tril(self, diagonal=0):
        return _shape.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _shape.triu(self, diagonal)

    # ------------------------------------------------------------ linear algebra
    def matmul(self, other):
        return _linalg.matmul(self, other)

    def mm(self, other):
        return _linalg.mm(self, other)

    def dot(self, other):
        return _linalg.dot(self, other)

    def outer(self, other):
        return _linalg.outer(self, other)

    # ------------------------------------------------------------ in place
    def add_(self, other, alpha=1):
        return _inplace.add_(self, other, alpha)

    def sub_(self, other, alpha=1):
        return _inplace.add_(self, other, -alpha)

    def mul_(self, other):
        return _inplace.mul_(self, other)

    def div_(self, other):
        return _inplace.div_(self, other)

    def zero_(self):
        return _inplace.zero_(self)

    def fill_(self, value):
        return _inplace.fill_(self, value)

    def copy_(self, src):
        return _inplace.copy_(self, src)

    def clamp_(self, min=None, max=None):
        return _inplace.clamp_(self, min, max)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        return _inplace.uniform_(self, a, b, generator)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        return _inplace.normal_(self, mean, std, generator)


def _to_args(args, device, dtype):
    """Sort ``Tensor.to``'s positional arguments into (device, dtype)."""
    if len(args) > 2:
        raise TypeError(f"to: expected at most 2 positional arguments, got {len(args)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.data.dtype
        elif isinstance(a, (str, _device.device)) and not _is_dtype_name(a):
            device = a
        elif isinstance(a, int) and not isinstance(a, bool):
            device = a  # a GPU index, as in PyTorch
        else:
            dtype = a
    if device is not None:
        device = _device.as_device(device)
    return device, dtype


def _is_dtype_name(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        as_dtype(value)
    except TypeError:
        return False
    return True


def _check_host(t, what):
    where = _device.device_of(t.data)
    if where.type != "cpu":
        raise TypeError(f"{what}: can't convert a {where} tensor to NumPy; use tensor.cpu() "
                        f"to copy it to the host first")


def _dtype_name(dtype) -> str:
    return f"bricks.{dtype.name}" if dtype.name != "bool" else "bricks.bool"


def tensor(data, dtype=None, requires_grad=False, device=None) -> Tensor:
    """Make a leaf tensor from a number, a nested list, an array or another tensor.

    Dtypes follow PyTorch: Python floats and float lists give the default dtype (float32),
    Python ints give int64, bools give bool, NumPy arrays and scalars keep their dtype.  The
    data is always copied.

    Args:
        data: the values.
        dtype: convert to this dtype (``bricks.float64``, ``'float64'``, ...).
        requires_grad: record operations on the tensor for backward (floating dtypes only).
        device: where to put it (``'cpu'``, ``'cuda'``, ``'cuda:1'``); default: where
            ``data`` lives (the CPU for lists and NumPy arrays).

    Example:
        >>> bricks.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
        >>> bricks.tensor([1.5, 2.0], requires_grad=True)
        tensor([1.5000, 2.0000], requires_grad=True)
    """
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data.data.copy() if dtype is None else data.data.astype(dtype)
    elif isinstance(data, backend.ndarray) or backend.get_array_module(data) is not xp:
        arr = data.copy() if dtype is None else data.astype(dtype)
    elif isinstance(data, backend.generic):
        arr = xp.array(data, dtype=dtype)
    else:
        try:
            arr = xp.array(data)
        except ValueError as err:
            raise ValueError(f"tensor: cannot make a tensor from {type(data).__name__}: "
                             f"{err}") from None
        if arr.dtype == object:
            raise TypeError(f"tensor: cannot make a tensor from a {type(data).__name__} "
                            f"holding non-numeric values")
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        elif arr.dtype.kind == "f" or (arr.size == 0 and arr.dtype.kind != "b"):
            arr = arr.astype(backend.get_default_dtype(), copy=False)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(backend.int64, copy=False)
        elif arr.dtype.kind == "c":
            raise TypeError("tensor: complex numbers are not supported")
    if device is not None:
        arr = _device.move(arr, device, "tensor")
    t = const(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor_from(value, dtype=None) -> Tensor:
    """``value`` as a Tensor, without copying when it already is one (for op arguments)."""
    if isinstance(value, Tensor):
        return value
    return tensor(value, dtype=dtype)


def const(array) -> Tensor:
    """``array`` as a Tensor that is a constant to autograd: no copy, no graph,
    ``requires_grad=False``.  What ops use for masks, indices and other arrays they hand
    to Tensor code; the user-facing way to make a tensor is :func:`tensor` (which copies).

    Example:
        >>> from bricks.tensor import const
        >>> const(bricks.ones(2).data).requires_grad
        False
    """
    return Tensor._make(array, False, None, 0)


# Operators call the ops, which in turn build on Tensor: import them once Tensor exists.
from bricks import autograd as _autograd  # noqa: E402
from bricks.functions import arithmetic as _arith  # noqa: E402
from bricks.functions import compare as _compare  # noqa: E402
from bricks.functions import elementwise as _elem  # noqa: E402
from bricks.functions import inplace as _inplace  # noqa: E402
from bricks.functions import linalg as _linalg  # noqa: E402
from bricks.functions import reduction as _red  # noqa: E402
from bricks.functions import shape as _shape  # noqa: E402
from bricks.functions import transfer as _transfer  # noqa: E402
