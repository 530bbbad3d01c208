"""Activation functions, each in functional form (``F.relu``) and as a Module (``nn.ReLU``).

The lectures' table of nonlinearities, with PyTorch's names, arguments and reprs.  Every one is
a short composition of bricks primitives with no backward of its own (STYLE.md rule 5), so
gradients and second derivatives come from the engine.  Where an obvious formula would
overflow (``e^x`` for large x inside ELU, softplus, mish), the composition evaluates each
branch of a ``where`` on an input clamped to that branch's own half-line: the branch that is
not picked then stays finite, so its (zeroed) gradient cannot turn into ``0 * inf = NaN``.

Derivatives at a kink follow PyTorch: relu'(0) = 0, leaky_relu'(0) = negative_slope,
elu'(0) = alpha, hardtanh' = 0 at both ends.  Integer inputs are converted to the default float
dtype first (ReLU keeps them, as in PyTorch).

``inplace=True`` is accepted where PyTorch has it, so model definitions port unchanged, but
bricks never overwrites the input: the result is returned as a new tensor, which is the value
PyTorch returns too.

Example:
    >>> F = bricks.nn.functional
    >>> x = bricks.tensor([-1.0, 0.0, 2.0])
    >>> F.relu(x).tolist(), F.leaky_relu(x, 0.5).tolist()
    ([0.0, 0.0, 2.0], [-0.5, 0.0, 2.0])
    >>> bricks.nn.Sequential(bricks.nn.Tanh(), bricks.nn.ELU(alpha=0.5))
    Sequential(
      (0): Tanh()
      (1): ELU(alpha=0.5)
    )
"""

from __future__ import annotations

import math

from bricks import backend
from bricks.autograd import no_grad
from bricks.functions import elementwise as E
from bricks.functions import reduction as R
from bricks.functions.arithmetic import to_dtype
from bricks.functions.creation import full
from bricks.nn.module import Module, Parameter
from bricks.tensor import Tensor, tensor

__all__ = [
    # functional forms (re-exported by bricks.nn.functional)
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "softplus",
    "silu", "softsign", "step", "hardtanh", "mish", "softmax", "log_softmax",
    # modules (re-exported by bricks.nn)
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "Softplus",
    "SiLU", "Softsign", "Step", "Hardtanh", "Mish", "Softmax", "LogSoftmax",
]

# SELU's constants, to PyTorch's precision (Klambauer et al. 2017, eq. 14).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


# ------------------------------------------------------------------ sigmoid, tanh


def sigmoid(input: Tensor) -> Tensor:
    """The logistic function σ(x) = 1 / (1 + e^(-x)), stable for any x.

    Derivative: σ'(x) = σ(x) (1 - σ(x)).  This is the engine's op: it evaluates e^(-|x|),
    which never overflows.

    Example:
        >>> bricks.nn.functional.sigmoid(bricks.tensor([0.0, 1e4, -1e4])).tolist()
        [0.5, 1.0, 0.0]
    """
    return E.sigmoid(input)


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^(-x)) elementwise; see :func:`sigmoid`.

    Example:
        >>> bricks.nn.Sigmoid()(bricks.tensor([0.0])).tolist()
        [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """tanh(x) = (e^x - e^(-x)) / (e^x + e^(-x)) = 2σ(2x) - 1.

    Derivative: 1 - tanh²(x).

    Example:
        >>> bricks.nn.functional.tanh(bricks.tensor([0.0, 1e4, -1e4])).tolist()
        [0.0, 1.0, -1.0]
    """
    return E.tanh(input)


class Tanh(Module):
    """tanh(x) elementwise; see :func:`tanh`.

    Example:
        >>> bricks.nn.Tanh()(bricks.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return tanh(input)


# ------------------------------------------------------------------ the ReLU family


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU(x) = max(0, x).

    Derivative: 1 for x > 0, else 0 (0 at x = 0, as in PyTorch).

    Example:
        >>> bricks.nn.functional.relu(bricks.tensor([-2.0, 0.0, 3.0])).tolist()
        [0.0, 0.0, 3.0]
    """
    return E.relu(input)


class ReLU(Module):
    """max(0, x) elementwise; see :func:`relu`.

    Example:
        >>> bricks.nn.ReLU()
        ReLU()
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return relu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """LeakyReLU(x) = x for x > 0, else a·x, with a = ``negative_slope``.

    Derivative: 1 for x > 0, else a (a at x = 0, as in PyTorch).

    Example:
        >>> bricks.nn.functional.leaky_relu(bricks.tensor([-2.0, 3.0]), 0.5).tolist()
        [-1.0, 3.0]
    """
    x = E.float_input(input, "leaky_relu")
    return E.where(x > 0, x, x * negative_slope)


class LeakyReLU(Module):
    """x for x > 0, else ``negative_slope`` · x; see :func:`leaky_relu`.

    Example:
        >>> bricks.nn.LeakyReLU()
        LeakyReLU(negative_slope=0.01)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"negative_slope={self.negative_slope}",
                                       _inplace_repr(self.inplace)]))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """PReLU(x) = x for x > 0, else a·x, with a learnable slope a (one, or one per channel).

    Derivatives: d/dx = 1 for x > 0, else a;  d/da = 0 for x > 0, else x (summed over every
    element that shares the slope).

    Args:
        input: a tensor; with more than one slope, of shape (N, C, ...) with C channels on
            dim 1.
        weight: shape (1,) (one slope for every element) or (C,).

    Example:
        >>> x = bricks.tensor([[-2.0, -2.0], [1.0, 1.0]])
        >>> bricks.nn.functional.prelu(x, bricks.tensor([0.5, 0.25])).tolist()
        [[-1.0, -0.5], [1.0, 1.0]]
    """
    x = E.float_input(input, "prelu")
    if not isinstance(weight, Tensor):
        weight = tensor(weight)
    n = weight.numel()
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 1-D (one slope per channel), got shape "
                         f"{tuple(weight.shape)}")
    if n == 1:
        a = weight.reshape(())
    else:
        if x.ndim < 2 or x.shape[1] != n:
            channels = x.shape[1] if x.ndim >= 2 else 1
            raise ValueError(
                f"prelu: weight has {n} slopes but the input of shape {tuple(x.shape)} has "
                f"{channels} channel(s) on dim 1 (inputs of fewer than 2 dims have one)"
            )
        a = weight.reshape((n,) + (1,) * (x.ndim - 2))
    return E.where(x > 0, x, a * x)


class PReLU(Module):
    """LeakyReLU with a learnable slope ``weight`` of shape (num_parameters,); see :func:`prelu`.

    With ``num_parameters`` = C > 1 each channel (dim 1 of the input) learns its own slope.
    Weight decay should usually not be applied to it (He et al. 2015).

    Args:
        num_parameters: 1, or the number of channels C.
        init: the initial slope.

    Example:
        >>> m = bricks.nn.PReLU(3, init=0.1)
        >>> m, m.weight.tolist()
        (PReLU(num_parameters=3), [0.1..., 0.1..., 0.1...])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None):
        super().__init__()
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got "
                             f"{num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = init
        dtype = dtype or backend.get_default_dtype()
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype))

    def reset_parameters(self) -> None:
        """Set every slope back to ``init``."""
        with no_grad():
            self.weight.fill_(self.init)

    def forward(self, input: Tensor) -> Tensor:
        return prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


# ------------------------------------------------------------------ exponential family


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU(x) = x for x > 0, else α (e^x - 1).

    Derivative: 1 for x > 0, else α e^x (= ELU(x) + α; α at x = 0, as in PyTorch).
    Stable for any x: e^x is taken of min(x, 0), so it never overflows.

    Example:
        >>> y = bricks.nn.functional.elu(bricks.tensor([-1e4, 0.0, 1e4]), alpha=2.0)
        >>> y.tolist()
        [-2.0, 0.0, 10000.0]
    """
    x = E.float_input(input, "elu")
    # expm1 of the clamped input: the unpicked branch stays finite for x = 1e4, so its
    # zeroed gradient is 0, not 0 * inf = NaN.
    return E.where(x > 0, x, E.expm1(E.clamp(x, max=0.0)) * alpha)


class ELU(Module):
    """x for x > 0, else α (e^x - 1); see :func:`elu`.

    Example:
        >>> bricks.nn.ELU()
        ELU(alpha=1.0)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return elu(input, self.alpha)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"alpha={self.alpha}", _inplace_repr(self.inplace)]))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """SELU(x) = λ ELU_α(x) = λ x for x > 0, else λ α (e^x - 1), with PyTorch's constants
    α = 1.6732632423543772848170429916717 and λ = 1.0507009873554804934193349852946
    (chosen so that activations keep zero mean and unit variance; Klambauer et al. 2017).

    Derivative: λ for x > 0, else λ α e^x.  Stable for any x, like :func:`elu`.

    Example:
        >>> y = bricks.nn.functional.selu(bricks.tensor([1.0, -1e4], dtype=bricks.float64))
        >>> [round(v, 6) for v in y.tolist()]
        [1.050701, -1.758099]
    """
    return elu(input, SELU_ALPHA) * SELU_SCALE


class SELU(Module):
    """λ ELU_α(x) with PyTorch's fixed α and λ; see :func:`selu`.

    Example:
        >>> bricks.nn.SELU()
        SELU()
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return selu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x) = x/2 (1 + erf(x / √2)), Φ the standard normal CDF.

    With ``approximate='tanh'``: x/2 (1 + tanh(√(2/π) (x + 0.044715 x³))).

    Derivative (exact form): Φ(x) + x φ(x), with φ(x) = e^(-x²/2) / √(2π); the tanh form is
    differentiated as written.

    Example:
        >>> F = bricks.nn.functional
        >>> x = bricks.tensor([-1e4, 0.0, 1.0, 1e4], dtype=bricks.float64)
        >>> [round(v, 4) for v in F.gelu(x).tolist()]
        [-0.0, 0.0, 0.8413, 10000.0]
        >>> [round(v, 4) for v in F.gelu(x, approximate='tanh').tolist()]
        [-0.0, 0.0, 0.8412, 10000.0]
    """
    x = E.float_input(input, "gelu")
    if approximate == "none":
        return x * 0.5 * (1.0 + E.erf(x * (1.0 / math.sqrt(2.0))))
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
        return x * 0.5 * (1.0 + E.tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


class GELU(Module):
    """x Φ(x), exactly or with the tanh approximation; see :func:`gelu`.

    Example:
        >>> bricks.nn.GELU(approximate='tanh')
        GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus(x) = (1/β) log(1 + e^(βx)), and x itself where βx > ``threshold``
    (as in PyTorch, where the two agree to float precision).

    Derivative: σ(βx) (1 where βx > threshold).  Stable for any x and any threshold.

    Example:
        >>> F = bricks.nn.functional
        >>> x = bricks.tensor([-1e4, 0.0, 1e4], dtype=bricks.float64)
        >>> [round(v, 6) for v in F.softplus(x).tolist()]
        [0.0, 0.693147, 10000.0]
        >>> [round(v, 6) for v in F.softplus(x, beta=2.0, threshold=1e9).tolist()]
        [0.0, 0.346574, 10000.0]
    """
    x = E.float_input(input, "softplus")
    z = x * beta
    return E.where(z > threshold, x, E.softplus(z) / beta)


class Softplus(Module):
    """(1/β) log(1 + e^(βx)), linear above ``threshold``; see :func:`softplus`.

    Example:
        >>> bricks.nn.Softplus()
        Softplus(beta=1.0, threshold=20.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU(x) = x σ(x) (also called swish).

    Derivative: σ(x) (1 + x (1 - σ(x))).  Stable for any x (σ is).

    Example:
        >>> bricks.nn.functional.silu(bricks.tensor([-1e4, 0.0, 1e4])).tolist()
        [-0.0, 0.0, 10000.0]
    """
    x = E.float_input(input, "silu")
    return x * E.sigmoid(x)


class SiLU(Module):
    """x σ(x); see :func:`silu`.

    Example:
        >>> bricks.nn.SiLU()
        SiLU()
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return silu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish(x) = x tanh(softplus(x)), softplus(x) = log(1 + e^x) (no threshold, as PyTorch).

    Derivative: tanh(softplus(x)) + x σ(x) (1 - tanh²(softplus(x))).  Stable for any x.

    Example:
        >>> y = bricks.nn.functional.mish(bricks.tensor([-1e4, 0.0, 1.0, 1e4]))
        >>> [round(v, 4) for v in y.tolist()]
        [-0.0, 0.0, 0.8651, 10000.0]
    """
    x = E.float_input(input, "mish")
    return x * E.tanh(E.softplus(x))


class Mish(Module):
    """x tanh(softplus(x)); see :func:`mish`.

    Example:
        >>> bricks.nn.Mish()
        Mish()
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return mish(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


# ------------------------------------------------------------------ bounded ones


def softsign(input: Tensor) -> Tensor:
    """Softsign(x) = x / (1 + |x|).

    Derivative: 1 / (1 + |x|)².

    Example:
        >>> bricks.nn.functional.softsign(bricks.tensor([-3.0, 0.0, 1.0])).tolist()
        [-0.75, 0.0, 0.5]
    """
    x = E.float_input(input, "softsign")
    return x / (1.0 + E.abs(x))


class Softsign(Module):
    """x / (1 + |x|); see :func:`softsign`.

    Example:
        >>> bricks.nn.Softsign()
        Softsign()
    """

    def forward(self, input: Tensor) -> Tensor:
        return softsign(input)


def step(input: Tensor, straight_through: bool = False) -> Tensor:
    """The Heaviside step H(x) = 1 for x > 0, else 0 (the perceptron's threshold unit).

    At x = 0 the output is 0: the same as ``torch.heaviside(x, torch.tensor(0.))``, and H is
    then exactly the derivative bricks and PyTorch give ReLU (relu'(0) = 0).

    Derivative: 0 everywhere (the lecture's table; H' is 0 wherever it exists), so nothing
    learns through a step.  With ``straight_through=True`` the backward pass pretends the
    unit was the identity and passes the gradient through unchanged (the straight-through
    estimator of Hinton's lectures and Bengio et al. 2013): forward H(x), backward 1.  The
    straight-through form is exact for finite x (it adds x - x, which is NaN at ±inf).

    Example:
        >>> x = bricks.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> F = bricks.nn.functional
        >>> F.step(x).tolist()
        [0.0, 0.0, 1.0]
        >>> F.step(x).sum().backward(); x.grad.tolist()
        [0.0, 0.0, 0.0]
        >>> x.grad = None; F.step(x, straight_through=True).sum().backward(); x.grad.tolist()
        [1.0, 1.0, 1.0]
    """
    x = E.float_input(input, "step")
    # sign() is the engine's zero-gradient op; relu maps its -1/0/1 to 0/0/1.
    h = E.relu(E.sign(x))
    if straight_through:
        # x - x.detach() is exactly 0 for finite x, with derivative 1.
        h = h + (x - x.detach())
    return h


class Step(Module):
    """The Heaviside step, 1 for x > 0 else 0; see :func:`step` for the gradient choice.

    Example:
        >>> bricks.nn.Step(straight_through=True)
        Step(straight_through=True)
    """

    def __init__(self, straight_through: bool = False):
        super().__init__()
        self.straight_through = straight_through

    def forward(self, input: Tensor) -> Tensor:
        return step(input, self.straight_through)

    def extra_repr(self) -> str:
        return f"straight_through={self.straight_through}"


def _check_range(min_val, max_val, op):
    if not max_val > min_val:
        raise ValueError(f"{op}: max_val must be greater than min_val, got min_val={min_val} "
                         f"and max_val={max_val}")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Hardtanh(x) = min_val for x <= min_val, max_val for x >= max_val, else x.

    Derivative: 1 for min_val < x < max_val, else 0 (0 at both ends, as in PyTorch; this is
    why it is not ``clamp``, whose gradient passes at the ends).

    Example:
        >>> bricks.nn.functional.hardtanh(bricks.tensor([-3.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]
    """
    _check_range(min_val, max_val, "hardtanh")
    x = E.float_input(input, "hardtanh")
    return E.where(x <= min_val, min_val, E.where(x >= max_val, max_val, x))


class Hardtanh(Module):
    """x limited to [min_val, max_val]; see :func:`hardtanh`.

    Example:
        >>> bricks.nn.Hardtanh()
        Hardtanh(min_val=-1.0, max_val=1.0)
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        _check_range(min_val, max_val, "Hardtanh")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return ", ".join(filter(None, [f"min_val={self.min_val}, max_val={self.max_val}",
                                       _inplace_repr(self.inplace)]))


# ------------------------------------------------------------------ softmax


def _softmax_input(input, dim, dtype, op) -> Tensor:
    if dim is None:
        raise ValueError(f"{op}: pass dim explicitly, e.g. {op}(x, dim=-1) (PyTorch's "
                         f"implicit choice of dim is deprecated)")
    x = E.float_input(input, op)
    return x if dtype is None else to_dtype(x, dtype)


def softmax(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:
    """softmax(x)_i = e^(x_i) / Σ_j e^(x_j) along ``dim``: probabilities that sum to 1.

    Derivative: ∂s_i/∂x_j = s_i (δ_ij - s_j).  Stable for logits of any size (the maximum
    along ``dim`` is subtracted first, which changes nothing mathematically).

    Args:
        input: a tensor of any shape.
        dim: the dim along which the outputs sum to 1 (required).
        dtype: if given, the input is converted to it first.

    Example:
        >>> x = bricks.tensor([[0.0, 0.0], [1e4, 0.0]])
        >>> bricks.nn.functional.softmax(x, dim=1).tolist()
        [[0.5, 0.5], [1.0, 0.0]]
    """
    return R.softmax(_softmax_input(input, dim, dtype, "softmax"), dim=dim)


class Softmax(Module):
    """Softmax along ``dim``; see :func:`softmax`.

    Example:
        >>> bricks.nn.Softmax(dim=1)
        Softmax(dim=1)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def log_softmax(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:
    """log_softmax(x)_i = x_i - log Σ_j e^(x_j) along ``dim``.

    Derivative: ∂y_i/∂x_j = δ_ij - softmax(x)_j.  Computed as (x - m) - log Σ e^(x - m) with
    m the maximum, so it is finite for logits of any size (log(softmax) would give -inf).

    Args:
        input: a tensor of any shape.
        dim: the dim to normalize over (required).
        dtype: if given, the input is converted to it first.

    Example:
        >>> x = bricks.tensor([[0.0, 0.0], [1e4, 0.0]])
        >>> bricks.nn.functional.log_softmax(x, dim=1).tolist()
        [[-0.693147..., -0.693147...], [0.0, -10000.0]]
    """
    return R.log_softmax(_softmax_input(input, dim, dtype, "log_softmax"), dim=dim)


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably; see :func:`log_softmax`.

    Example:
        >>> bricks.nn.LogSoftmax(dim=-1)
        LogSoftmax(dim=-1)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
