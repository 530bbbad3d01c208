"""bricks: a deep-learning framework written from scratch in Python on NumPy.

The public surface, re-exported with an explicit list.  Reading order for learners:
``tensor.py`` -> ``autograd.py`` -> ``functions/arithmetic.py`` (then the other op files).
"""

from bricks import _version
from bricks.autograd import (
    Function,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from bricks.backend import (
    bool_ as bool,
)
from bricks.backend import (
    float16,
    float32,
    float64,
    get_default_dtype,
    get_rng_state,
    int8,
    int16,
    int32,
    int64,
    manual_seed,
    set_default_dtype,
    set_rng_state,
    uint8,
)
from bricks.devices import device
from bricks.functions.arithmetic import (
    add,
    div,
    floor_divide,
    mul,
    neg,
    pow,
    remainder,
    sub,
    sum_to_size,
)
from bricks.functions.compare import (
    allclose,
    eq,
    equal,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
)
from bricks.functions.creation import (
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    zeros,
    zeros_like,
)
from bricks.functions.elementwise import (
    abs,
    ceil,
    clamp,
    cos,
    erf,
    exp,
    expm1,
    floor,
    log,
    log1p,
    maximum,
    minimum,
    reciprocal,
    relu,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    tan,
    tanh,
    where,
)
from bricks.functions.linalg import dot, einsum, matmul, mm, outer
from bricks.functions.random import rand, rand_like, randint, randn, randn_like, randperm
from bricks.functions.reduction import (
    amax,
    amin,
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    sum,
    var,
)
from bricks.functions.shape import (
    broadcast_to,
    cat,
    chunk,
    concat,
    flatten,
    flip,
    gather,
    index_select,
    masked_fill,
    one_hot,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    tril,
    triu,
    unsqueeze,
)
from bricks.higher_order import hessian, hvp, jacobian, jvp, vjp

# The higher layers, so that `import bricks` gives bricks.nn and bricks.optim (as torch does).
from bricks import data, io, nn, optim, testing, train, viz  # noqa: E402  isort: skip
from bricks import symbolic  # noqa: E402  isort: skip
from bricks import cuda  # noqa: E402  isort: skip
from bricks.symbolic import compile  # noqa: E402  isort: skip
from bricks.tensor import Tensor, tensor

clip = clamp
__version__ = _version.__version__

__all__ = [
    # subpackages
    "data", "io", "nn", "optim", "testing", "train", "viz", "symbolic", "compile", "cuda",
    # devices
    "device",
    # tensors and dtypes
    "Tensor", "tensor", "bool", "float16", "float32", "float64", "int8", "int16", "int32",
    "int64", "uint8", "get_default_dtype", "set_default_dtype",
    # making tensors
    "zeros", "ones", "full", "empty", "arange", "linspace", "eye", "zeros_like", "ones_like",
    "full_like", "empty_like", "from_numpy", "rand", "randn", "randint", "rand_like", "randn_like",
    "randperm", "manual_seed", "get_rng_state", "set_rng_state",
    # autograd
    "Function", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "vjp", "jvp", "hvp", "jacobian", "hessian",
    # arithmetic and elementwise
    "add", "sub", "mul", "div", "neg", "pow", "floor_divide", "remainder", "abs", "ceil",
    "clamp", "clip", "cos", "erf", "exp", "expm1", "floor", "log", "log1p", "maximum",
    "minimum", "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sign", "sin", "sqrt",
    "tan", "tanh", "where",
    # comparisons
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
    "logical_not", "isnan", "isinf", "isfinite", "allclose", "equal",
    # reductions
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "prod",
    "logsumexp", "norm", "cumsum", "softmax", "log_softmax",
    # shapes
    "reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "broadcast_to",
    "cat", "concat", "stack", "split", "chunk", "gather", "index_select", "masked_fill",
    "pad", "flip", "repeat", "tril", "triu", "one_hot", "sum_to_size",
    # linear algebra
    "matmul", "mm", "dot", "outer", "einsum",
]
