"""Random tensors, all drawn from the one generator that ``bricks.manual_seed`` seeds."""

from __future__ import annotations

from bricks import backend
from bricks import devices as _devices
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


# Draws come from the one NumPy generator and are then copied to ``device``: a seed gives
# the same numbers on every device, which makes CPU and GPU runs comparable.


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    dtype = _float_dtype(dtype, "rand")
    values = _draw("random", _shape(size, "rand"), dtype, generator)
    return leaf(_devices.move(values, device, "rand"), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples (mean 0, variance 1)."""
    dtype = _float_dtype(dtype, "randn")
    values = _draw("standard_normal", _shape(size, "randn"), dtype, generator)
    return leaf(_devices.move(values, device, "randn"), requires_grad)


def rand_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                requires_grad=requires_grad)


def randn_like(x: Tensor, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(x.shape, dtype=dtype or x.dtype, device=device or x.device,
                 requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None) -> Tensor:
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
    values = values.astype(as_dtype(dtype) or backend.int64)
    return leaf(_devices.move(values, device, "randint"))


def randperm(n: int, generator=None, device=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    gen = generator or backend.default_generator()
    return leaf(_devices.move(gen.permutation(n).astype(backend.int64), device, "randperm"))
