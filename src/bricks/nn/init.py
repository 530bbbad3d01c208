"""Initializers: fill a tensor in place with the values a layer should start from.

Same names, defaults, fans and gains as ``torch.nn.init``.  Every function changes its
tensor in place under ``no_grad`` (so it works on Parameters), draws its random numbers
from the global generator that :func:`bricks.manual_seed` seeds (or from ``generator``, a
``numpy.random.Generator``), and returns the tensor.

Why scale at all: a layer ``y = W x`` with ``fan_in`` inputs of unit variance gives outputs
of variance ``fan_in * Var(W)``.  Xavier/Glorot keeps the variance of activations and of
gradients roughly constant through the layers (``Var(W) = 2 / (fan_in + fan_out)``);
Kaiming/He corrects for ReLU zeroing half of its inputs (``Var(W) = 2 / fan_in``).

Example:
    >>> w = bricks.nn.Parameter(bricks.empty(64, 32))
    >>> _ = bricks.nn.init.kaiming_uniform_(w, nonlinearity="relu")
    >>> bound = (6 / 32) ** 0.5
    >>> bool(w.abs().max().item() <= bound)
    True
"""

from __future__ import annotations

import math
import warnings

from bricks import backend
from bricks.autograd import no_grad
from bricks.backend import xp
from bricks.tensor import Tensor

__all__ = [
    "calculate_gain", "zeros_", "ones_", "constant_", "eye_", "normal_", "uniform_",
    "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
               "conv_transpose2d", "conv_transpose3d", "sigmoid")
_NONLINEARITIES = _LINEAR_FNS + ("tanh", "relu", "leaky_relu", "selu")


def _check_tensor(tensor, op: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a bricks Tensor (or Parameter), got "
                        f"{type(tensor).__name__}")
    if not backend.is_floating(tensor.dtype):
        raise TypeError(f"{op}: expected a floating tensor, got dtype {tensor.dtype}")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    ============================  ======================================
    nonlinearity                  gain
    ============================  ======================================
    linear, conv*d, sigmoid       1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + negative_slope^2))
    selu                          3/4
    ============================  ======================================

    Args:
        nonlinearity: the name of the function that follows the layer.
        param: ``leaky_relu``'s negative slope (default 0.01); ignored otherwise.

    Returns:
        The gain, a Python number.

    Example:
        >>> bricks.nn.init.calculate_gain("tanh")
        1.6666666666666667
        >>> round(bricks.nn.init.calculate_gain("leaky_relu", 0.2), 4)
        1.3868
    """
    if nonlinearity in _LINEAR_FNS:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically (pytorch/pytorch#50664)
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected "
                     f"one of {', '.join(_NONLINEARITIES)}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``.

    ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``: for a Linear weight
    ``(out_features, in_features)`` they are the feature counts; for a convolution weight
    ``(out_channels, in_channels, kh, kw)`` each input channel contributes ``kh * kw`` inputs.
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions (got shape {tuple(tensor.shape)})")
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    fan_in = tensor.shape[1] * receptive_field_size
    fan_out = tensor.shape[0] * receptive_field_size
    return fan_in, fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} is not supported; use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _no_grad_store(tensor: Tensor, array) -> Tensor:
    with no_grad():
        return tensor.copy_(array)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill ``tensor`` with samples of the uniform distribution U(a, b).

    Args:
        tensor: the tensor to fill, any shape.
        a, b: the bounds, ``a <= b``.
        generator: a ``numpy.random.Generator`` to draw from instead of the global one.

    Returns:
        ``tensor``.

    Example:
        >>> w = bricks.nn.init.uniform_(bricks.empty(3, 5), -0.1, 0.1)
        >>> bool((w.abs() <= 0.1).all())
        True
    """
    _check_tensor(tensor, "uniform_")
    if a > b:
        raise ValueError(f"uniform_: expected a <= b, got a={a} > b={b}")
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill ``tensor`` with samples of the normal distribution N(mean, std^2).

    Example:
        >>> w = bricks.nn.init.normal_(bricks.empty(1000), mean=3.0, std=0.01)
        >>> round(w.mean().item())
        3
    """
    _check_tensor(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill ``tensor`` with a normal N(mean, std^2) truncated to ``[a, b]``.

    Samples outside ``[a, b]`` are redrawn (rejection sampling, as PyTorch 2.13 does), so
    the values follow the normal density restricted to the interval.  Note that ``a`` and
    ``b`` are absolute bounds, not multiples of ``std``.  When the interval holds less than
    30% of the mass, proposals come from U(a, b) and are accepted with probability
    ``exp(-((x - mean)/std)^2 / 2) / peak``, which stays fast far in the tails.

    Args:
        tensor: the tensor to fill.
        mean, std: of the normal before truncation (``std > 0``).
        a, b: the bounds, ``a < b``.

    Example:
        >>> w = bricks.nn.init.trunc_normal_(bricks.empty(500), std=1.0, a=-0.5, b=0.5)
        >>> bool(((w >= -0.5) & (w <= 0.5)).all())
        True
    """
    _check_tensor(tensor, "trunc_normal_")
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    gen = generator or backend.default_generator()
    n = tensor.numel()

    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    mass = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
    if mass > 0.3:
        out = gen.normal(mean, std, size=n)
        bad = xp.flatnonzero((out < a) | (out > b))
        while bad.size:
            out[bad] = gen.normal(mean, std, size=bad.size)
            bad = bad[(out[bad] < a) | (out[bad] > b)]
    else:
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        out = xp.empty(n)
        pending = xp.arange(n)
        while pending.size:
            cand = gen.uniform(a, b, size=pending.size)
            log_accept = -0.5 * ((cand - mean) / std) ** 2 - log_peak
            ok = xp.log(gen.random(pending.size)) <= log_accept
            out[pending[ok]] = cand[ok]
            pending = pending[~ok]
    return _no_grad_store(tensor, out.reshape(tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with the value ``val``.

    Example:
        >>> bricks.nn.init.constant_(bricks.empty(2, 2), 0.5)
        tensor([[0.5000, 0.5000],
                [0.5000, 0.5000]])
    """
    _check_tensor(tensor, "constant_")
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros (biases usually start here).

    Example:
        >>> bricks.nn.init.zeros_(bricks.empty(3))
        tensor([0., 0., 0.])
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones (normalization scales usually start here).

    Example:
        >>> bricks.nn.init.ones_(bricks.empty(3))
        tensor([1., 1., 1.])
    """
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, also rectangular),
    so a Linear layer starts out passing its inputs through.

    Example:
        >>> bricks.nn.init.eye_(bricks.empty(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    _check_tensor(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    return _no_grad_store(tensor, xp.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010) uniform initialization: U(-bound, bound) with

        bound = gain * sqrt(6 / (fan_in + fan_out))

    which gives ``Var(W) = gain^2 * 2 / (fan_in + fan_out)``.  Fans come from the shape
    ``(out, in, *kernel)``: ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``.

    Args:
        tensor: a weight with at least 2 dimensions.
        gain: scale, usually ``calculate_gain(nonlinearity)``.

    Example:
        >>> w = bricks.nn.init.xavier_uniform_(bricks.empty(20, 10))
        >>> bool(w.abs().max().item() <= (6 / 30) ** 0.5)
        True
    """
    _check_tensor(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # a uniform on [-c, c] has std c / sqrt(3)
    with no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010) normal initialization: N(0, std^2) with

        std = gain * sqrt(2 / (fan_in + fan_out))

    Example:
        >>> w = bricks.nn.init.xavier_normal_(bricks.empty(300, 200))
        >>> round(w.std().item(), 2) == round((2 / 500) ** 0.5, 2)
        True
    """
    _check_tensor(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    with no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def _kaiming_std(tensor, a, mode, nonlinearity, op):
    _check_tensor(tensor, op)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015) uniform initialization: U(-bound, bound) with

        bound = gain * sqrt(3 / fan_mode),   gain = calculate_gain(nonlinearity, a)

    so ``Var(W) = gain^2 / fan_mode`` (``2 / fan_in`` for ReLU).  ``mode='fan_in'`` keeps
    the variance of the forward activations, ``'fan_out'`` that of the backward gradients.
    The defaults (``a=0``, ``'leaky_relu'``) give gain sqrt(2), as in PyTorch; ``nn.Linear``
    uses ``a=sqrt(5)``, which yields ``bound = 1 / sqrt(fan_in)``.

    Args:
        tensor: a weight with at least 2 dimensions.
        a: the negative slope of the leaky ReLU that follows (only for ``'leaky_relu'``).
        mode: ``'fan_in'`` or ``'fan_out'``.
        nonlinearity: a name accepted by :func:`calculate_gain`.

    Example:
        >>> w = bricks.nn.init.kaiming_uniform_(bricks.empty(8, 100), a=5 ** 0.5)
        >>> bool(w.abs().max().item() <= 1 / 100 ** 0.5)
        True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    with no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015) normal initialization: N(0, std^2) with

        std = gain / sqrt(fan_mode),   gain = calculate_gain(nonlinearity, a)

    Example:
        >>> w = bricks.nn.init.kaiming_normal_(bricks.empty(400, 200), nonlinearity="relu")
        >>> round(w.std().item(), 2)
        0.1
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    with no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times ``gain``.

    The tensor is viewed as ``(rows, cols) = (shape[0], numel / shape[0])``.  A Gaussian
    matrix is factored ``A = QR`` and ``Q`` multiplied by the signs of ``diag(R)`` so it is
    uniformly distributed; then ``Q^T Q = I`` (rows >= cols) or ``Q Q^T = I`` (rows < cols).

    Example:
        >>> w = bricks.nn.init.orthogonal_(bricks.empty(5, 3, dtype=bricks.float64))
        >>> bool((w.T @ w).allclose(bricks.eye(3, dtype=bricks.float64)))
        True
    """
    _check_tensor(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gen = generator or backend.default_generator()
    flat = gen.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _no_grad_store(tensor, (gain * q).reshape(tensor.shape))
