"""Layers: the fully connected layer, shape bricks, dropout and maxout.

Each layer is a :class:`~bricks.nn.module.Module` whose ``forward`` is a short composition
of bricks ops (matmul, reshape, amax, ...), so none needs a backward of its own: autograd
differentiates them, twice if asked.  The functional forms (``linear``, ``dropout``) live
here too and are re-exported by ``bricks.nn.functional``.
"""

from __future__ import annotations

import math
import numbers

from bricks import backend
from bricks.autograd import Function
from bricks.backend import is_floating
from bricks.functions import linalg as _linalg
from bricks.functions.creation import empty
from bricks.functions.shape import flatten as _flatten
from bricks.functions.shape import normalize_dim
from bricks.nn import init
from bricks.nn.module import Module, Parameter, parameter_dtype
from bricks.tensor import Tensor, const

__all__ = ["Linear", "Identity", "Flatten", "Unflatten", "Dropout", "Dropout1d", "Dropout2d",
           "Maxout", "linear", "dropout", "dropout1d", "dropout2d"]


def _add_weight_bias(module: Module, weight_shape: tuple, bias: bool, out_features: int,
                     dtype) -> None:
    """Register ``weight`` of ``weight_shape`` and ``bias`` of (out_features,) (None without
    ``bias``), in this order (the state_dict keys follow it); left for reset_parameters."""
    module.weight = Parameter(empty(weight_shape, dtype=dtype))
    if bias:
        module.bias = Parameter(empty((out_features,), dtype=dtype))
    else:
        module.register_parameter("bias", None)


def _reset_weight_bias(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default init of Linear and the convolutions: ``kaiming_uniform_(a=sqrt(5))``
    on the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same
    interval (zeros when fan_in is 0)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


# ---------------------------------------------------------------- linear


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """The affine map y = x W^T + b, applied to the last dimension of ``input``.

    Args:
        input: (*, in_features).
        weight: (out_features, in_features), PyTorch's layout.
        bias: (out_features,) or None.

    Returns:
        (*, out_features).

    Example:
        >>> x = bricks.tensor([[1.0, 2.0]])
        >>> w = bricks.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
        >>> bricks.nn.functional.linear(x, w, bricks.tensor([0.0, 0.5, 1.0])).tolist()
        [[1.0, 3.5, -1.0]]
    """
    if input.ndim == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: input of shape {tuple(input.shape)} does not fit a weight "
                           f"of shape {tuple(weight.shape)} (out_features, in_features); the "
                           f"input's last dimension must be {weight.shape[-1]}")
    return _linalg.linear(input, weight, bias)


class Linear(Module):
    """Fully connected layer: y = x W^T + b.

    The weight has PyTorch's layout (out_features, in_features).  Both weight and bias start
    uniform in [-1/sqrt(in_features), 1/sqrt(in_features)] (PyTorch's default,
    ``kaiming_uniform_(a=sqrt(5))``: gain sqrt(2 / (1 + 5)) times sqrt(3 / fan_in) is
    1/sqrt(fan_in)), drawn from bricks' global generator, so ``bricks.manual_seed`` makes
    them reproducible.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default True).
        device: accepted for PyTorch's signature; only None or 'cpu'.
        dtype: parameter dtype (default: bricks' default float dtype).

    Shapes:
        input (*, in_features) -> output (*, out_features).

    Example:
        >>> layer = bricks.nn.Linear(3, 2)
        >>> layer
        Linear(in_features=3, out_features=2, bias=True)
        >>> layer.weight.shape, layer(bricks.ones(5, 3)).shape
        ((2, 3), (5, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {n!r}")
        dtype = parameter_dtype(dtype, device, "Linear")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        _add_weight_bias(self, (self.out_features, self.in_features), bias, self.out_features,
                         dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        _reset_weight_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged: y = x.  Arguments are accepted and ignored, as in PyTorch.

    Example:
        >>> x = bricks.tensor([1.0, 2.0])
        >>> bricks.nn.Identity(54, unused="argument")(x) is x
        True
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Flatten(Module):
    """Merges dimensions ``start_dim..end_dim`` into one (by default all but the batch).

    Args:
        start_dim: first dimension to merge (default 1).
        end_dim: last dimension to merge (default -1).

    Shapes:
        (N, d1, ..., dk) -> (N, d1 * ... * dk) with the defaults.

    Example:
        >>> bricks.nn.Flatten()(bricks.zeros(32, 1, 5, 5)).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return _flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size`` (the inverse of Flatten).

    Args:
        dim: the dimension to split.
        unflattened_size: its new sizes (a tuple or list; one may be -1, inferred).

    Shapes:
        (*, d, *) -> (*, u1, ..., uk, *) with u1 * ... * uk = d.

    Example:
        >>> bricks.nn.Unflatten(1, (2, 5))(bricks.zeros(2, 10)).shape
        (2, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(dim, numbers.Integral):
            raise TypeError(f"Unflatten: dim must be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple or list of ints, "
                            f"got {type(unflattened_size).__name__}")
        self.dim = int(dim)
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        d = normalize_dim(self.dim, input.ndim, "Unflatten")
        sizes = tuple(int(s) for s in self.unflattened_size)
        n = input.shape[d]
        known = math.prod(s for s in sizes if s != -1)
        ok = sizes.count(-1) <= 1 and (known == n if -1 not in sizes
                                       else known > 0 and n % known == 0)
        if not ok:
            raise RuntimeError(f"Unflatten: sizes {sizes} don't multiply to the size {n} of "
                               f"dimension {self.dim} of the input (shape "
                               f"{tuple(input.shape)})")
        return input.reshape(input.shape[:d] + sizes + input.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


# ---------------------------------------------------------------- dropout


def _check_p(p, op):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p has to be between 0 and 1, "
                         f"but got p={p!r}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p).

    y = x * m / (1 - p) with m ~ Bernoulli(1 - p) elementwise, so E[y] = x and nothing needs
    rescaling at test time.  With ``training=False`` or p = 0 it returns ``input`` itself;
    p = 1 gives zeros.  The mask is drawn from bricks' global generator (reproducible under
    ``bricks.manual_seed``).

    Args:
        input: any shape, floating.
        p: probability of zeroing an element, in [0, 1].
        training: apply dropout (True) or return the input (False).
        inplace: accepted for PyTorch's signature; bricks always returns a new tensor with
            the same values (an in-place op would break autograd of the input).

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> _ = bricks.manual_seed(0)
        >>> y = bricks.nn.functional.dropout(bricks.ones(8), p=0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    _check_p(p, "dropout")
    if not training or p == 0 or input.numel() == 0:
        return input
    if not is_floating(input.dtype):
        raise RuntimeError(f"dropout: expected a floating point input, got {input.dtype}; "
                        f"convert with x.float()")
    if p == 1:
        return input * 0.0
    # One multiply by a constant (mask already scaled): the backward is grad * mask / (1-p).
    return input * _DropoutMask.apply(input.detach(), p=p)


class _DropoutMask(Function):
    """The scaled Bernoulli mask m / (1 - p), drawn inside an op so that ``bricks.compile``
    replays the draw: a fresh mask on every call, from the same generator stream."""

    draws_random = True

    def forward(self, x, p):
        # Drawn on the host from the one generator (the same masks on every device for a
        # seed), then copied to x's device.
        u = backend.default_generator().random(x.shape, dtype=backend.float64)
        mask = (u >= p).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
        return backend.asarray_like(mask, x)


class Dropout(Module):
    """Randomly zeroes elements with probability p during training (inverted dropout).

    In training mode y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element; in eval mode
    y = x.  See :func:`dropout`.

    Args:
        p: probability of an element being zeroed (default 0.5), in [0, 1].
        inplace: accepted for PyTorch's signature and repr; results are never in place.

    Shapes:
        any shape -> the same shape.

    Example:
        >>> drop = bricks.nn.Dropout(p=0.25)
        >>> drop
        Dropout(p=0.25, inplace=False)
        >>> x = bricks.ones(4)
        >>> drop.eval()(x) is x
        True
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        _check_p(p, "Dropout")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


def _channel_dropout(op, input, p, training, spatial):
    _check_p(p, op)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected a {spatial + 2}-D (N, C, ...) or {spatial + 1}-D "
                           f"(C, ...) input, got shape {tuple(input.shape)}")
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return input * 0.0
    # One draw per (sample, channel): a whole feature map is kept or zeroed together.
    shape = input.shape[:input.ndim - spatial] + (1,) * spatial
    u = backend.default_generator().random(shape, dtype=backend.float64)
    mask = (u >= p).astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p))
    return input * const(backend.asarray_like(mask, input.data))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout: zero whole feature maps of (N, C, H, W) with probability p and scale
    the rest by 1/(1-p) (Tompson et al., 2015: neighbouring pixels are correlated, so
    dropping single pixels regularizes little).

    Example:
        >>> _ = bricks.manual_seed(0)
        >>> y = bricks.nn.functional.dropout2d(bricks.ones(1, 4, 2, 2))
        >>> sorted(set(y.sum(dim=(2, 3)).tolist()[0]))
        [0.0, 8.0]
    """
    return _channel_dropout("dropout2d", input, p, training, 2)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Channel dropout of (N, C, L) sequences; see :func:`dropout2d`."""
    return _channel_dropout("dropout1d", input, p, training, 1)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) inputs in training; see :func:`dropout2d`.

    Example:
        >>> bricks.nn.Dropout2d(0.2)
        Dropout2d(p=0.2, inplace=False)
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout2d(input, self.p, self.training)


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) inputs in training; see :func:`dropout1d`."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout1d(input, self.p, self.training)


# ---------------------------------------------------------------- maxout


class Maxout(Module):
    """Maxout unit (Goodfellow et al., 2013): the largest of ``pieces`` affine maps.

    y_j = max_k (w_{j,k} . x + b_{j,k}),  k = 1..pieces,  j = 1..out_features,

    the lecture's max(w1 . x + b1, w2 . x + b2, ...): a learned convex piecewise-linear
    activation (ReLU is the special case max(w . x + b, 0)).  Implemented as one
    ``Linear(in_features, out_features * pieces)`` (attribute ``linear``) whose outputs are
    read as (out_features, pieces), unit j's pieces side by side (rows j*pieces .. j*pieces +
    pieces - 1 of ``linear.weight``), followed by ``amax`` over the pieces.  Tied maxima
    share the gradient equally.

    Args:
        in_features: size of each input sample.
        out_features: number of maxout units.
        pieces: number of affine pieces per unit (>= 1).
        bias: learn the biases b_{j,k} (default True).
        device, dtype: as for :class:`Linear`.

    Shapes:
        input (*, in_features) -> output (*, out_features).

    Example:
        >>> m = bricks.nn.Maxout(4, 3, pieces=2)
        >>> m
        Maxout(
          in_features=4, out_features=3, pieces=2
          (linear): Linear(in_features=4, out_features=6, bias=True)
        )
        >>> m(bricks.randn(5, 4)).shape
        (5, 3)
    """

    def __init__(self, in_features: int, out_features: int, pieces: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        for name, n in (("out_features", out_features), ("pieces", pieces)):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Maxout: {name} must be a positive int, got {n!r}")
        self.in_features = in_features
        self.out_features = int(out_features)
        self.pieces = int(pieces)
        self.linear = Linear(in_features, self.out_features * self.pieces, bias=bias,
                             device=device, dtype=dtype)

    def forward(self, input: Tensor) -> Tensor:
        z = self.linear(input)
        z = z.reshape(z.shape[:-1] + (self.out_features, self.pieces))
        return z.amax(dim=-1)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}")
