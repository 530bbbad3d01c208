"""Checking and normalizing ``dim`` arguments, shared by every op that takes one."""

from __future__ import annotations

__all__ = ["normalize_dim", "normalize_dims", "shape_args"]


def normalize_dim(dim, ndim: int, op: str, extra: int = 0) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` (+ ``extra``) dimensions.

    Raises an IndexError naming the op and the valid range when ``dim`` is out of range.
    """
    if isinstance(dim, bool) or not isinstance(dim, int):
        try:
            dim = dim.__index__()
        except (AttributeError, TypeError):
            raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}") from None
    n = max(ndim + extra, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension"
            f"{'s' if ndim != 1 else ''} (expected {-n}..{n - 1})"
        )
    return dim % n


def normalize_dims(dim, ndim: int, op: str):
    """``dim`` (None, an int or a sequence of ints) as a sorted tuple of axes, or None."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted(normalize_dim(d, ndim, op) for d in dim))
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {tuple(dim)} names a dimension twice")
        return axes
    return (normalize_dim(dim, ndim, op),) if ndim else ()


def shape_args(args) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))`` / ``f([2, 3])`` forms of a shape argument."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    elif len(args) == 1 and hasattr(args[0], "__len__") and not isinstance(args[0], int):
        args = tuple(args[0])
    return tuple(int(a) for a in args)
