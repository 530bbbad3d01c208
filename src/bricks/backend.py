"""Array backend: the only module that imports NumPy (or CuPy) by name.

Everything else asks this module for the array namespace (``xp``) or for the module that
owns a given array (``get_array_module``), so the engine reads the same on the CPU and on
a GPU.  Dtype policy (PyTorch's) lives here too: the default floating dtype, the promotion
rules between tensors and Python numbers, and the global random generator.
"""

from __future__ import annotations

import numpy

xp = numpy
ndarray = numpy.ndarray
generic = numpy.generic  # NumPy scalars (numpy.float64(1.0)): they keep their dtype like arrays

try:  # CuPy is optional: a GPU is never required.
    import cupy  # type: ignore

    _cupy_ndarray = cupy.ndarray
except Exception:  # pragma: no cover - depends on the machine
    cupy = None
    _cupy_ndarray = ()

float16 = numpy.dtype(numpy.float16)
float32 = numpy.dtype(numpy.float32)
float64 = numpy.dtype(numpy.float64)
int8 = numpy.dtype(numpy.int8)
int16 = numpy.dtype(numpy.int16)
int32 = numpy.dtype(numpy.int32)
int64 = numpy.dtype(numpy.int64)
uint8 = numpy.dtype(numpy.uint8)
bool_ = numpy.dtype(numpy.bool_)

_default_dtype = float32


def get_array_module(x):
    """Return the array module (numpy or cupy) that owns ``x``."""
    if cupy is not None and isinstance(x, _cupy_ndarray):
        return cupy
    return numpy


def to_numpy(x):
    """Return ``x`` as a NumPy array (copies from the GPU when needed)."""
    if cupy is not None and isinstance(x, _cupy_ndarray):
        return cupy.asnumpy(x)
    return numpy.asarray(x)


def get_default_dtype():
    """The floating dtype given to Python floats and lists (float32, as in PyTorch)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Change the default floating dtype (float32 or float64)."""
    global _default_dtype
    dtype = as_dtype(dtype)
    if dtype not in (float32, float64):
        raise ValueError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def as_dtype(dtype):
    """Turn a dtype-like (``bricks.float32``, ``'float64'``, ``np.int64``) into a dtype."""
    if dtype is None:
        return None
    if dtype is float:
        return _default_dtype
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


def is_integer(dtype) -> bool:
    return dtype.kind in "iu"


def _category(dtype) -> int:
    # bool < integer < floating, PyTorch's promotion categories.
    if dtype.kind == "b":
        return 0
    if dtype.kind in "iu":
        return 1
    return 2


def promote_types(a, b):
    """PyTorch's ``promote_types``: int and float give the float type (NumPy gives float64)."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca == cb:
        return numpy.promote_types(a, b)
    return a if ca > cb else b


def _combine(higher, lower):
    # c10's combine_categories: a lower-priority operand only wins a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if is_floating(higher):
        return higher
    if higher == bool_ or is_floating(lower):
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """Result dtype of an op over tensors-as-arrays and Python scalars, as PyTorch computes it.

    Operands are arrays (dimensioned or 0-d) or Python numbers.  Dimensioned arrays take
    priority over 0-d arrays, which take priority over Python numbers, except that an
    operand of a higher category (bool < int < float) lifts the result to its category.
    """
    dim = zero = wrapped = None
    for op in operands:
        if isinstance(op, bool):
            dt, slot = bool_, 2
        elif isinstance(op, int):
            dt, slot = int64, 2
        elif isinstance(op, float):
            dt, slot = _default_dtype, 2
        else:
            dt = op.dtype
            slot = 0 if op.ndim > 0 else 1
        if slot == 0:
            dim = dt if dim is None else promote_types(dim, dt)
        elif slot == 1:
            zero = dt if zero is None else promote_types(zero, dt)
        else:
            wrapped = dt if wrapped is None else promote_types(wrapped, dt)
    return _combine(dim, _combine(zero, wrapped))


# ---------------------------------------------------------------- random numbers
_generator = numpy.random.default_rng()


def manual_seed(seed: int):
    """Seed the global generator that every random op in bricks draws from."""
    global _generator
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = numpy.random.default_rng(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return _generator


def default_generator():
    """The global ``numpy.random.Generator`` (reseeded by ``manual_seed``)."""
    return _generator


def set_default_generator(generator):
    """Make ``generator`` the global one and return the one it replaces.

    ``bricks.distributed`` puts in, for one forward pass, a generator on the same stream
    that draws each random number of the whole global batch and keeps this process's rows.
    """
    global _generator
    previous, _generator = _generator, generator
    return previous


def get_rng_state() -> dict:
    """The global generator's state as a plain dict (JSON-friendly, no pickle)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    _generator.bit_generator.state = state


# ---------------------------------------------------------------- special functions
try:  # SciPy's erf is exact and fast; without SciPy a vectorized series takes over.
    from scipy.special import erf as _scipy_erf
except Exception:  # pragma: no cover - depends on the environment
    _scipy_erf = None


def erf(x):
    """Elementwise error function, to double precision, with or without SciPy."""
    if _scipy_erf is not None and get_array_module(x) is numpy:
        return _scipy_erf(x)
    return _erf_numpy(x)


def _erf_numpy(x):
    # For |x| < 3 the all-positive series erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1)/(2n+1)!!
    # has no cancellation; beyond, erfc's continued fraction converges in a few dozen terms.
    mod = get_array_module(x)
    x64 = mod.asarray(x, dtype=numpy.float64)
    a = mod.abs(x64)
    small = mod.minimum(a, 3.0)
    term = small.copy()
    total = small.copy()
    x2 = small * small
    for n in range(1, 90):
        term = term * (2.0 * x2) / (2 * n + 1)
        total = total + term
    series = 2.0 / numpy.sqrt(numpy.pi) * mod.exp(-x2) * total
    big = mod.maximum(a, 3.0)
    frac = mod.zeros_like(big)
    for k in range(60, 0, -1):
        frac = (k / 2.0) / (big + frac)
    erfc_big = mod.exp(-big * big) / numpy.sqrt(numpy.pi) / (big + frac)
    out = mod.where(a < 3.0, series, 1.0 - erfc_big)
    out = mod.copysign(out, x64)
    return out.astype(x.dtype if x.dtype.kind == "f" else numpy.float64, copy=False)
