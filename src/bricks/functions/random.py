"""Random tensors, all drawn from the one generator that ``bricks.manual_seed`` seeds."""

from __future__ import annotations

from bricks import backend
from bricks.backend import as_dtype
from bricks.functions.creation import _shape, leaf
from bricks.tensor import Tensor

__all__ = ["rand", "randn", "randint", "rand_like", "randn_like", "randperm", "manual_seed"]

manual_seed = backend.manual_seed


def _float_dtype(dtype, op):
    dtype = as_dtype(dtype) or backend.get_default_dtype()
    if dtype.kind != "f":
        raise RuntimeError(f"{op}: dtype must be floating, got {dtype}")
    return dtype


def _draw(method, shape, dtype, generator):
    gen = generator or backend.default_generator()
    # Draw in the target float type directly: float32 draws are half the work.
    if dtype in (backend.float32, backend.float64):
        return getattr(gen, method)(shape, dtype=dtype)
    return getattr(gen, method)(shape).astype(dtype)


def rand(*size, dtype=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    return leaf(_draw("random", _shape(size, "rand"), dtype, generator), requires_grad)


def randn(*size, dtype=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples (mean 0, variance 1)."""
    dtype = _float_dtype(dtype, "randn")
    return leaf(_draw("standard_normal", _shape(size, "randn"), dtype, generator),
                requires_grad)


def rand_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return rand(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def randn_like(x: Tensor, dtype=None, requires_grad=False) -> Tensor:
    return randn(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None, generator=None) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)``."""
    if isinstance(high, (tuple, list)) and size is None:
        low, high, size = 0, low, high  # randint(high, size)
    elif high is None and size is not None:
        low, high = 0, low  # randint(high, size=size)
    if high is None or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise RuntimeError(f"randint: high ({high}) must be greater than low ({low})")
    gen = generator or backend.default_generator()
    values = gen.integers(low, high, size=_shape((size,), "randint"))
    return leaf(values.astype(as_dtype(dtype) or backend.int64))


def randperm(n: int, generator=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    gen = generator or backend.default_generator()
    return leaf(gen.permutation(n).astype(backend.int64))
