"""In-place methods (``add_``, ``mul_``, ``copy_``, ``fill_``, ``uniform_``, ...) and ``x[i] = v``.

They exist for optimizers and initializers, which change parameters under ``no_grad``.
Each one bumps the tensor's version counter, so a graph that saved the old values notices
at backward time and raises instead of computing a wrong gradient.  Changing in place a
tensor that is itself being recorded (a leaf that requires grad, outside ``no_grad``) is
refused, as in PyTorch.
"""

from __future__ import annotations

from bricks import autograd, backend
from bricks.backend import get_array_module
from bricks.functions.shape import index_key
from bricks.tensor import Tensor

__all__ = ["add_", "mul_", "div_", "fill_", "zero_", "copy_", "clamp_", "uniform_", "normal_",
           "setitem"]


def _check(t: Tensor, op: str):
    if autograd._state.tracer is not None:
        autograd._state.tracer.inplace(t, op)  # bricks.compile: not replayed, so refused
    if not getattr(t.data.flags, "writeable", True):
        # NumPy marks broadcast views read-only: many elements share one memory location.
        raise RuntimeError(
            f"{op}: the tensor of shape {tuple(t.shape)} is an expanded view (expand, "
            f"broadcast_to) whose elements share memory, so it cannot be changed in place; "
            f"clone() it first"
        )
    if autograd.is_grad_enabled() and t._requires_grad:
        if t.grad_fn is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad is being changed in place; do it "
                f"inside `with bricks.no_grad():` (as optimizers and initializers do)"
            )
        raise RuntimeError(
            f"{op}: in-place changes to a tensor that is part of a recorded graph are not "
            f"supported; use the out-of-place op (x = x + y) instead"
        )


def _value(v, like):
    """An operand as an array (on the device of the array ``like``) or a Python number."""
    if isinstance(v, Tensor):
        return v.data
    if isinstance(v, (bool, int, float)):
        return v
    return backend.asarray_like(v, like)


def _store(t: Tensor, op: str, result):
    xp = get_array_module(t.data)
    result = xp.asarray(result)
    if not xp.can_cast(result.dtype, t.data.dtype, casting="same_kind") and not (
        result.ndim == 0 and backend.result_type(t.data, result.item()) == t.data.dtype
    ):
        raise RuntimeError(
            f"{op}: the result has dtype {result.dtype}, which can't be stored in a tensor of "
            f"dtype {t.dtype}; convert the tensor first (x = x.float())"
        )
    try:
        t.data[...] = result
    except ValueError:
        raise RuntimeError(
            f"{op}: a result of shape {tuple(result.shape)} does not fit the tensor's shape "
            f"{tuple(t.shape)} (in-place ops cannot change the shape)"
        ) from None
    t._vc[0] += 1
    return t


def add_(t: Tensor, other, alpha=1):
    _check(t, "add_")
    other = _value(other, t.data)
    return _store(t, "add_", t.data + (other if alpha == 1 else alpha * other))


def mul_(t: Tensor, other):
    _check(t, "mul_")
    return _store(t, "mul_", t.data * _value(other, t.data))


def div_(t: Tensor, other):
    _check(t, "div_")
    return _store(t, "div_", t.data / _value(other, t.data))


def fill_(t: Tensor, value, op="fill_"):
    _check(t, op)
    t.data.fill(_value(value, t.data))
    t._vc[0] += 1
    return t


def zero_(t: Tensor):
    return fill_(t, 0, "zero_")


def copy_(t: Tensor, src):
    _check(t, "copy_")
    # copy_ may cross devices (PyTorch's x_gpu.copy_(x_cpu)): the source moves to t's.
    src = backend.asarray_like(src.data if isinstance(src, Tensor) else src, t.data)
    try:
        t.data[...] = src
    except ValueError:
        raise RuntimeError(f"copy_: source of shape {tuple(src.shape)} does not broadcast "
                           f"to the tensor's shape {tuple(t.shape)}") from None
    t._vc[0] += 1
    return t


def clamp_(t: Tensor, lo=None, hi=None):
    _check(t, "clamp_")
    get_array_module(t.data).clip(t.data, lo, hi, out=t.data)
    t._vc[0] += 1
    return t


def uniform_(t: Tensor, a=0.0, b=1.0, generator=None):
    _check(t, "uniform_")
    gen = generator or backend.default_generator()
    t.data[...] = backend.asarray_like(gen.uniform(a, b, size=t.data.shape), t.data)
    t._vc[0] += 1
    return t


def normal_(t: Tensor, mean=0.0, std=1.0, generator=None):
    _check(t, "normal_")
    gen = generator or backend.default_generator()
    t.data[...] = backend.asarray_like(gen.normal(mean, std, size=t.data.shape), t.data)
    t._vc[0] += 1
    return t


def setitem(t: Tensor, index, value):
    """``t[index] = value``, in place (under the same rules as the other in-place ops)."""
    _check(t, "setitem")
    key, _ = index_key(index, t.data)
    try:
        t.data[key] = _value(value, t.data)
    except (ValueError, IndexError) as err:
        raise type(err)(f"setitem: {err} (tensor of shape {tuple(t.shape)})") from None
    t._vc[0] += 1
