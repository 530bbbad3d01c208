"""Losses: how far a prediction is from its target, as one number to minimize.

Each loss comes in two forms with PyTorch's names: a function (``mse_loss``, in
``bricks.nn.functional``) and a module that stores the options (``MSELoss``). Every loss
takes ``reduction``: ``'mean'`` (the default) averages the per-element losses, ``'sum'`` adds
them, ``'none'`` returns them unreduced.

Regression: mean squared error (MSE), mean absolute error (MAE, ``l1_loss``), Huber and
smooth L1. Classification: binary cross-entropy on probabilities or (stable) on logits,
cross-entropy on logits (fused with log-softmax), negative log-likelihood on
log-probabilities, and the Kullback-Leibler divergence. ``l1_penalty`` and ``l2_penalty``
give the R(w) of the lecture's regularized objective ``loss + reg * R(w)``.

Most losses are short compositions of differentiable ops. Three are fused ``Function``s
(in ``bricks.functions.loss``, with ``SquaredError``, mse_loss's one-node common case),
each for a numerical reason stated where it is defined: binary cross-entropy (PyTorch's
clamped log and its finite gradient at 0 and 1), binary cross-entropy with logits and
cross-entropy (no overflow for logits of any size, and the simple gradient
sigmoid(x) - y or softmax(x) - y).
"""

from __future__ import annotations

import math
import warnings

from bricks import autograd as _autograd
from bricks import backend
from bricks.backend import get_array_module, is_floating
from bricks.functions import elementwise as E
from bricks.functions.arithmetic import to_dtype
from bricks.functions.loss import BCEWithLogits, BinaryCrossEntropy, CrossEntropy, SquaredError
from bricks.functions.shape import gather
from bricks.nn.module import Module
from bricks.tensor import Tensor, const, tensor

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
    "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "NLLLoss", "KLDivLoss",
    "l1_penalty", "l2_penalty",
]

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- helpers


def _check_reduction(reduction, op: str, allowed=_REDUCTIONS) -> None:
    if not isinstance(reduction, str) or reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{op}: reduction must be {names}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss



def _as_tensor(x, op: str, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return tensor(x)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}") from None


def _shape(t) -> tuple:
    return tuple(t.shape)


def _broadcast_pair(input, target, op: str, warn: bool = True):
    """``input`` (made float) and ``target`` as Tensors whose shapes broadcast.

    Different shapes are broadcast with a warning, as in PyTorch: an (N, 1) prediction
    against an (N,) target silently becomes an (N, N) loss, which is almost never meant.
    """
    input = E.float_input(input, op)
    target = _as_tensor(target, op, "target")
    if input.shape != target.shape:
        try:
            backend.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise RuntimeError(
                f"{op}: input of shape {_shape(input)} and target of shape {_shape(target)} "
                f"cannot be broadcast together; they should have the same shape"
            ) from None
        if warn:
            warnings.warn(
                f"{op}: target shape {_shape(target)} differs from input shape "
                f"{_shape(input)}; they are broadcast, which is rarely intended "
                f"(an (N, 1) input against an (N,) target gives (N, N) losses). Make the "
                f"shapes equal, e.g. with input.squeeze(-1) or target.unsqueeze(-1).",
                stacklevel=3,
            )
    return input, target


def _same_shape(input, target, op: str):
    input = E.float_input(input, op)
    target = _as_tensor(target, op, "target")
    if input.shape != target.shape:
        raise ValueError(
            f"{op}: target of shape {_shape(target)} must have the same shape as the input "
            f"{_shape(input)}"
        )
    if target.data.dtype != input.data.dtype:
        target = to_dtype(target, input.data.dtype)
    return input, target


def _weighted(loss: Tensor, weight, reduction: str, op: str, mean_by_weight: bool):
    """PyTorch's per-element ``weight`` of the regression losses (same shape as input).

    The weighted mean divides by sum(weight) for MSE and L1 and by the element count for
    Huber, exactly as PyTorch 2.13 does.
    """
    w = _as_tensor(weight, op, "weight")
    if w.shape != loss.shape:
        raise ValueError(
            f"{op}: weight of shape {_shape(w)} must have the same shape as the input "
            f"{_shape(loss)}"
        )
    loss = loss * w
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- regression


def mse_loss(input, target, *, reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error: MSE = 1/n sum_i (y_hat_i - y_i)^2.

    Args:
        input: predictions y_hat, any shape (*).
        target: targets y, the same shape (other shapes are broadcast, with a warning).
            Gradients flow to the target too.
        reduction: 'mean' | 'sum' | 'none'.
        weight: optional per-element weights of the input's shape; the weighted mean is
            sum(w * (y_hat - y)^2) / sum(w).

    Returns:
        A scalar, or the per-element squared errors of shape (*) for ``reduction='none'``.

    Example:
        >>> mse_loss(bricks.tensor([1.0, 2.0]), bricks.tensor([0.0, 0.0])).item()
        2.5
    """
    _check_reduction(reduction, "mse_loss")
    input, target = _broadcast_pair(input, target, "mse_loss")
    # (not while bricks.compile traces: its graph gets the primitives, which it fuses itself)
    if (weight is None and reduction != "none" and input.shape == target.shape
            and _autograd._state.tracer is None
            and input.dtype == target.dtype and input.dtype.kind == "f"):
        n = max(input.numel(), 1) if reduction == "mean" else 1
        if input.numel() or reduction == "sum":
            return SquaredError.apply(input, target, n=n)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        return _weighted(loss, weight, reduction, "mse_loss", mean_by_weight=True)
    return _reduce(loss, reduction)


def l1_loss(input, target, *, reduction: str = "mean", weight=None) -> Tensor:
    """Mean absolute error: MAE = 1/n sum_i |y_hat_i - y_i|.

    The gradient is sign(y_hat - y), taken as 0 where the two are equal (as in PyTorch).

    Args:
        input: predictions y_hat, any shape (*).
        target: targets y, the same shape (other shapes are broadcast, with a warning).
        reduction: 'mean' | 'sum' | 'none'.
        weight: optional per-element weights of the input's shape; the weighted mean is
            sum(w * |y_hat - y|) / sum(w).

    Returns:
        A scalar, or the per-element absolute errors of shape (*) for ``reduction='none'``.

    Example:
        >>> l1_loss(bricks.tensor([1.0, -3.0]), bricks.tensor([0.0, 0.0])).item()
        2.0
    """
    _check_reduction(reduction, "l1_loss")
    input, target = _broadcast_pair(input, target, "l1_loss")
    loss = E.abs(input - target)
    if weight is not None:
        return _weighted(loss, weight, reduction, "l1_loss", mean_by_weight=True)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """Huber loss: quadratic for small errors, linear for large ones (robust to outliers).

    With d = y_hat - y:  l = 1/2 d^2 if |d| < delta, else delta (|d| - 1/2 delta).

    Args:
        input: predictions y_hat, any shape (*).
        target: targets y, the same shape (other shapes are broadcast, with a warning).
        reduction: 'mean' | 'sum' | 'none'.
        delta: where the quadratic part turns linear; must be positive.
        weight: optional per-element weights of the input's shape; the weighted mean is
            mean(w * l) (PyTorch's choice for Huber).

    Returns:
        A scalar, or the per-element losses of shape (*) for ``reduction='none'``.

    Example:
        >>> huber_loss(bricks.tensor([0.5, 3.0]), bricks.tensor([0.0, 0.0]),
        ...            reduction='none').tolist()
        [0.125, 2.5]
    """
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _broadcast_pair(input, target, "huber_loss")
    diff = input - target
    size = E.abs(diff)
    loss = E.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    if weight is not None:
        return _weighted(loss, weight, reduction, "huber_loss", mean_by_weight=False)
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 loss: the Huber loss divided by beta, so its linear part has slope 1.

    With d = y_hat - y:  l = 1/2 d^2 / beta if |d| < beta, else |d| - 1/2 beta;
    beta = 0 gives the L1 loss.

    Args:
        input: predictions y_hat, any shape (*).
        target: targets y, the same shape (other shapes are broadcast, with a warning).
        reduction: 'mean' | 'sum' | 'none'.
        beta: where the quadratic part turns linear; must be >= 0.

    Returns:
        A scalar, or the per-element losses of shape (*) for ``reduction='none'``.

    Example:
        >>> smooth_l1_loss(bricks.tensor([0.5, 3.0]), bricks.tensor([0.0, 0.0]),
        ...                reduction='none').tolist()
        [0.125, 2.5]
    """
    _check_reduction(reduction, "smooth_l1_loss")
    if not beta >= 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input, target = _broadcast_pair(input, target, "smooth_l1_loss")
    diff = input - target
    size = E.abs(diff)
    if beta == 0:
        return _reduce(size, reduction)
    loss = E.where(size < beta, (0.5 / beta) * diff * diff, size - 0.5 * beta)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- binary classification


def _class_free_weight(weight, shape, dtype, op: str) -> Tensor:
    """An optional weight that must broadcast to the loss's ``shape``, as a Tensor."""
    w = _as_tensor(weight, op, "weight")
    try:
        out = backend.broadcast_shapes(w.shape, shape)
    except ValueError:
        out = None
    if out != tuple(shape):
        raise RuntimeError(
            f"{op}: weight of shape {_shape(w)} does not broadcast to the input's shape "
            f"{tuple(shape)}"
        )
    if w.data.dtype != dtype:
        w = to_dtype(w, dtype)
    return w


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy (log-loss) on probabilities.

    l = -w (y log p + (1 - y) log(1 - p)), each log clamped at -100 as in PyTorch, so a
    confident wrong prediction (p = 0 or 1) costs 100 rather than inf.

    Prefer ``binary_cross_entropy_with_logits`` on the raw scores: it is exact where
    sigmoid rounds to 0 or 1.

    Args:
        input: probabilities p in [0, 1], any shape (*).
        target: targets y in [0, 1], the same shape (gradients flow to it too).
        weight: optional rescaling weight broadcast to (*).
        reduction: 'mean' | 'sum' | 'none'.

    Returns:
        A scalar, or the per-element losses of shape (*) for ``reduction='none'``.

    Example:
        >>> p = bricks.tensor([0.9, 0.2])
        >>> round(binary_cross_entropy(p, bricks.tensor([1.0, 0.0])).item(), 4)
        0.1643
    """
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    input, target = _same_shape(input, target, op)
    p = input.data
    if p.size and not ((p >= 0).all() and (p <= 1).all()):
        raise RuntimeError(
            f"{op}: input must hold probabilities in [0, 1], got values from {p.min()} to "
            f"{p.max()}; apply sigmoid first, or better, pass the raw scores to "
            f"binary_cross_entropy_with_logits"
        )
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _class_free_weight(weight, input.shape, input.data.dtype, op)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy (log-loss) of sigmoid(input), stable for logits of any size.

    l = -w (p_w y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))
      = w ((1 - y) x + (1 + (p_w - 1) y) log(1 + e^-x)),
    which for p_w = 1 is max(x, 0) - x y + log(1 + e^-|x|). The gradient in x is
    w (sigmoid(x) - y) for p_w = 1.

    Args:
        input: logits x, any shape (*).
        target: targets y in [0, 1], the same shape (gradients flow to it too).
        weight: optional rescaling weight broadcast to (*).
        reduction: 'mean' | 'sum' | 'none'.
        pos_weight: optional weight p_w of the positive examples, broadcast against the
            last dimension (one per class for multi-label targets of shape (N, C)).

    Returns:
        A scalar, or the per-element losses of shape (*) for ``reduction='none'``.

    Example:
        >>> x = bricks.tensor([0.0, 1e4, -1e4])
        >>> binary_cross_entropy_with_logits(x, bricks.tensor([1.0, 0.0, 0.0]),
        ...                                  reduction='none').tolist()
        [0.6931471824645996, 10000.0, 0.0]
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    input, target = _same_shape(input, target, op)
    pw = None
    if pos_weight is not None:
        pw = _class_free_weight(pos_weight, input.shape, input.data.dtype, op + " pos_weight")
        pw = pw.data
    loss = BCEWithLogits.apply(input, target, pos_weight=pw)
    if weight is not None:
        loss = loss * _class_free_weight(weight, input.shape, input.data.dtype, op)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- multi-class


def _class_weight(weight, classes: int, dtype, op: str, like=None):
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else backend.asarray_like(weight, like)
    if w.shape != (classes,):
        raise RuntimeError(
            f"{op}: weight must be a 1-D tensor with one entry per class ({classes}), got "
            f"shape {tuple(w.shape)}"
        )
    return w.astype(dtype, copy=False)


def _class_input(input, op: str) -> Tensor:
    input = _as_tensor(input, op, "input")
    if not is_floating(input.data.dtype):
        raise RuntimeError(f"{op}: input must be a floating point tensor of scores, got "
                        f"{input.dtype}; convert with x.float()")
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dimension: shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a scalar")
    return input


def _class_targets(input: Tensor, target: Tensor, ignore_index: int, op: str):
    """Check class-index targets; return (index array safe to gather with, active mask).

    ``active`` is None when no target equals ``ignore_index``.
    """
    shape, t = input.shape, target.data
    expected = (shape[0],) + tuple(shape[2:])
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            f"{op}: class-index targets must be integers (int64), got {t.dtype} of shape "
            f"{tuple(t.shape)}; for probability targets pass a float tensor of the input's "
            f"shape {tuple(shape)}"
        )
    if t.shape != expected:
        raise ValueError(
            f"{op}: input of shape {tuple(shape)} needs class-index targets of shape "
            f"{expected} (or probability targets of shape {tuple(shape)}), got target of "
            f"shape {tuple(t.shape)}"
        )
    # A decision on the targets' values: bricks.compile checks it again on every call, and
    # recomputes the arrays made from them (array_op) instead of freezing them.
    if not _autograd.decide(_any_ignored, t, tuple(shape), ignore_index, op):
        return t, None
    return (_autograd.array_op(_zero_ignored, t, ignore_index),
            _autograd.array_op(_not_ignored, t, ignore_index))


def _zero_ignored(t, ignore_index: int):
    return get_array_module(t).where(t == ignore_index, 0, t)


def _not_ignored(t, ignore_index: int):
    return t != ignore_index  # on t's own device


def _pick(w, index):
    return w[index]


def _denominator(index, active, w) -> float:
    """The mean's denominator: how many targets count, or the sum of their class weights.

    A number read from the targets' values: with ignored targets or class weights it is a
    decision that bricks.compile checks on every call (it is a constant of the plan).
    """
    if w is None and active is None:
        return float(index.size)
    return _autograd.decide(_count_or_weigh, index, active, w)


def _count_or_weigh(index, active, w) -> float:
    if w is None:
        return float(active.sum())
    return float((w[index] if active is None else w[index] * active).sum())


def _any_ignored(t, shape, ignore_index: int, op: str) -> bool:
    """Whether a target equals ``ignore_index``; raises if one is out of range."""
    classes = shape[1]
    if t.size:
        lo, hi = t.min(), t.max()
        if 0 <= lo and hi < classes and not lo <= ignore_index <= hi:
            return False  # the usual case, in two reductions
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= classes))
    if bad.any():
        raise IndexError(
            f"{op}: target class index {int(t[bad].flat[0])} is out of range for an input "
            f"of shape {tuple(shape)} with {classes} classes (valid: 0 to {classes - 1}, "
            f"or ignore_index={ignore_index})"
        )
    return bool(ignored.any())


def _batched(input: Tensor, target: Tensor, op: str, probs: bool):
    """Unbatched (C,) input with a () or (C,) target becomes a batch of one."""
    if input.ndim != 1:
        return input, target
    if target.ndim != (1 if probs else 0):
        raise ValueError(
            f"{op}: an unbatched input of shape {_shape(input)} needs a scalar class index "
            f"or a probability target of shape {_shape(input)}, got target of shape "
            f"{_shape(target)}"
        )
    return input.reshape(1, -1), target.reshape(1, *target.shape)


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(input) against class indices or class probabilities.

    For one example with logits x and true class t:
        l = -log softmax(x)_t = -x_t + log sum_c e^(x_c),
    and in general l = -sum_c q_c log softmax(x)_c for a target distribution q. The
    gradient in x is softmax(x) - q. Computed in one fused, stable op (see CrossEntropy).

    With ``weight`` w, class-index targets give l_i = -w_(t_i) log softmax(x_i)_(t_i) and
    the mean is sum_i l_i / sum_i w_(t_i), over the targets that are not ignored (so an
    all-ignored batch gives nan, as in PyTorch). ``label_smoothing`` eps mixes the target
    with the uniform distribution: q = (1 - eps) onehot(t) + eps / C. Probability targets
    are weighted per class and their mean divides by the number of examples N * d1 * ...

    Args:
        input: logits of shape (C,), (N, C) or (N, C, d1, ...).
        target: class indices (integers in [0, C) or ``ignore_index``) of shape (), (N,)
            or (N, d1, ...); or probabilities (floats) of the input's shape.
        weight: optional weight per class, shape (C,).
        ignore_index: class-index targets with this value add nothing to the loss or the
            mean's denominator (ignored for probability targets).
        reduction: 'mean' | 'sum' | 'none'.
        label_smoothing: eps in [0, 1].

    Returns:
        A scalar, or the per-example losses of the target's shape (N, d1, ...) for
        ``reduction='none'``.

    Example:
        >>> logits = bricks.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        >>> loss = cross_entropy(logits, bricks.tensor([0, 2]), reduction='none')
        >>> [round(v, 4) for v in loss.tolist()]
        [0.2395, 1.0986]
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    input = _class_input(input, op)
    target = _as_tensor(target, op, "target")
    probs = is_floating(target.data.dtype)
    unbatched = input.ndim == 1
    input, target = _batched(input, target, op, probs)
    shape, dtype = input.shape, input.data.dtype
    w = _class_weight(weight, shape[1], dtype, op, input.data)
    options = dict(weight=w, smoothing=float(label_smoothing), reduction=reduction)
    if probs and target.shape == shape:
        if target.data.dtype != dtype:
            target = to_dtype(target, dtype)
        denom = float(input.data.size // shape[1]) if shape[1] else 0.0
        out = CrossEntropy.apply(input, target, index=None, active=None, denom=denom,
                                 **options)
    else:
        index, active = _class_targets(input, target, ignore_index, op)
        denom = _denominator(index, active, w)
        out = CrossEntropy.apply(input, index=index, active=active, denom=denom, **options)
    if unbatched and reduction == "none":
        out = out.reshape(())
    return out


def nll_loss(input, target, weight=None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities.

    l_i = -w_(t_i) input[i, t_i]; the mean is sum_i l_i / sum_i w_(t_i) over the targets
    that are not ``ignore_index``. Applied to ``log_softmax(x, dim=1)`` it is the
    cross-entropy of the logits x (``cross_entropy`` does both in one stable op).

    Args:
        input: log-probabilities of shape (C,), (N, C) or (N, C, d1, ...).
        target: class indices (integers in [0, C) or ``ignore_index``) of shape (), (N,)
            or (N, d1, ...).
        weight: optional weight per class, shape (C,).
        ignore_index: targets with this value add nothing to the loss or the denominator.
        reduction: 'mean' | 'sum' | 'none'.

    Returns:
        A scalar, or the per-example losses of the target's shape for ``reduction='none'``.

    Example:
        >>> logp = bricks.tensor([[-0.5, -1.0], [-2.0, -0.1]])
        >>> nll_loss(logp, bricks.tensor([0, 1])).item()
        0.30000001192092896
    """
    op = "nll_loss"
    _check_reduction(reduction, op)
    input = _class_input(input, op)
    target = _as_tensor(target, op, "target")
    unbatched = input.ndim == 1
    input, target = _batched(input, target, op, probs=False)
    index, active = _class_targets(input, target, ignore_index, op)
    w = _class_weight(weight, input.shape[1], input.data.dtype, op, input.data)
    loss = -gather(input, 1, index[:, None]).squeeze(1)
    if w is not None:
        loss = loss * const(_autograd.array_op(_pick, w, index))
    if active is not None:
        loss = E.where(const(active), loss, 0.0)
    if reduction == "mean":
        denom = _denominator(index, active, w)
        if denom:
            loss = loss.sum() / denom
        else:
            # 0 / 0: every target is ignored or has weight 0. PyTorch returns nan, with a
            # gradient of nan for the targets that count and 0 for the ignored ones; a
            # constant per-target factor gives both, and no division-by-zero warning.
            xp = get_array_module(index)
            nan_rows = xp.full(index.shape, math.nan, dtype=input.data.dtype)
            if active is not None:
                nan_rows = xp.where(active, nan_rows, 0).astype(input.data.dtype)
            loss = (loss * const(nan_rows)).sum() + math.nan
    elif reduction == "sum":
        loss = loss.sum()
    elif unbatched:
        loss = loss.reshape(())
    return loss


def kl_div(input, target, *, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(target || model), the input given as log-probabilities.

    l = target (log target - input), with 0 where target = 0; with ``log_target=True``
    the target is given as log-probabilities too: l = e^target (target - input).

    ``reduction='batchmean'`` (sum / N) is the true KL divergence of a batch; 'mean'
    divides by every element (N * C), as PyTorch does (PyTorch also warns about it).

    Args:
        input: log-probabilities log q, shape (N, *).
        target: probabilities p (or log p), broadcastable to the input's shape.
        reduction: 'mean' | 'batchmean' | 'sum' | 'none'.
        log_target: whether the target holds log-probabilities.

    Returns:
        A scalar, or the per-element terms for ``reduction='none'``.

    Example:
        >>> p = bricks.tensor([[0.5, 0.5]])
        >>> kl_div(p.log(), p, reduction='batchmean').item()
        0.0
    """
    op = "kl_div"
    _check_reduction(reduction, op, ("mean", "batchmean", "sum", "none"))
    input, target = _broadcast_pair(input, target, op, warn=False)
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        # xlogy(p, p) = p log p with 0 log 0 = 0; log sees 1 where p = 0 so that the
        # discarded branch has no inf for backward to multiply by 0.
        nonzero = target != 0
        entropy = E.where(nonzero, target * E.log(E.where(nonzero, target, 1.0)), 0.0)
        loss = entropy - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- penalties


def _penalty(params, term, op: str) -> Tensor:
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, Module):
        params = params.parameters()
    total = None
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected an iterable of Tensors or Parameters, item {i} "
                            f"is a {type(p).__name__}")
        value = term(p).sum()
        total = value if total is None else total + value
    if total is None:
        return tensor(0.0)
    return total


def l1_penalty(params) -> Tensor:
    """The L1 (lasso) penalty R(w) = sum_i |w_i| over every element of every tensor.

    Use it in the lecture's regularized objective ``loss + reg * l1_penalty(...)``; it
    pushes weights to exactly zero. The gradient is sign(w) (0 at w = 0).

    Args:
        params: an iterable of Tensors or Parameters (``model.parameters()``), a single
            Tensor, or a Module (its parameters are used).

    Returns:
        A scalar tensor, differentiable with respect to every parameter (0 for none).

    Example:
        >>> l1_penalty([bricks.tensor([1.0, -2.0]), bricks.tensor([[3.0]])]).item()
        6.0
    """
    return _penalty(params, E.abs, "l1_penalty")


def l2_penalty(params) -> Tensor:
    """The L2 (ridge, weight decay) penalty R(w) = sum_i w_i^2 = ||w||^2, without a 1/2.

    Use it in the lecture's regularized objective ``loss + reg * l2_penalty(...)``. No
    factor 1/2, so R is the squared norm exactly as written (as in scikit-learn's Ridge)
    and its gradient is 2 w. An optimizer's ``weight_decay=lambda`` (which adds lambda w to
    the gradient) therefore equals ``reg = lambda / 2`` here.

    Args:
        params: an iterable of Tensors or Parameters (``model.parameters()``), a single
            Tensor, or a Module (its parameters are used).

    Returns:
        A scalar tensor, differentiable with respect to every parameter (0 for none).

    Example:
        >>> l2_penalty([bricks.tensor([1.0, -2.0]), bricks.tensor([[3.0]])]).item()
        14.0
    """
    return _penalty(params, lambda p: p * p, "l2_penalty")


# ---------------------------------------------------------------- modules


class _Loss(Module):
    """Base of the loss modules: stores ``reduction`` (validated) and the other options."""

    _reductions = _REDUCTIONS

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        _check_reduction(reduction, type(self).__name__, self._reductions)
        self.reduction = reduction

    def _options(self) -> dict:
        """The settings that differ from their defaults, for ``repr``."""
        return {} if self.reduction == "mean" else {"reduction": self.reduction}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._options().items())


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = tensor(weight)
        self.register_buffer("weight", weight)

    def _options(self) -> dict:
        opts = super()._options()
        if self.weight is not None:
            opts["weight"] = self.weight.tolist()
        return opts


class MSELoss(_Loss):
    """Mean squared error, MSE = 1/n sum_i (y_hat_i - y_i)^2 (see ``mse_loss``).

    Example:
        >>> bricks.nn.MSELoss()(bricks.tensor([1.0, 2.0]), bricks.tensor([0.0, 0.0])).item()
        2.5
    """

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, MAE = 1/n sum_i |y_hat_i - y_i| (see ``l1_loss``)."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Huber loss: 1/2 d^2 for |d| < delta, else delta (|d| - delta/2) (see ``huber_loss``).

    Example:
        >>> bricks.nn.HuberLoss(delta=2.0)
        HuberLoss(delta=2.0)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def _options(self) -> dict:
        opts = super()._options()
        if self.delta != 1.0:
            opts["delta"] = self.delta
        return opts

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1: 1/2 d^2 / beta for |d| < beta, else |d| - beta/2 (see ``smooth_l1_loss``)."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def _options(self) -> dict:
        opts = super()._options()
        if self.beta != 1.0:
            opts["beta"] = self.beta
        return opts

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities, logs clamped at -100 (see
    ``binary_cross_entropy``)."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(weight, reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one stable op (see
    ``binary_cross_entropy_with_logits``); ``pos_weight`` weighs the positive class.

    Example:
        >>> loss = bricks.nn.BCEWithLogitsLoss(pos_weight=bricks.tensor([3.0]))
        >>> round(loss(bricks.tensor([0.0]), bricks.tensor([1.0])).item(), 4)
        2.0794
    """

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(weight, reduction)
        if pos_weight is not None and not isinstance(pos_weight, Tensor):
            pos_weight = tensor(pos_weight)
        self.register_buffer("pos_weight", pos_weight)

    def _options(self) -> dict:
        opts = super()._options()
        if self.pos_weight is not None:
            opts["pos_weight"] = self.pos_weight.tolist()
        return opts

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of softmax(input): log-softmax and NLL fused (see ``cross_entropy``).

    Example:
        >>> loss = bricks.nn.CrossEntropyLoss(label_smoothing=0.1)
        >>> loss
        CrossEntropyLoss(label_smoothing=0.1)
        >>> round(loss(bricks.zeros(2, 3), bricks.tensor([0, 1])).item(), 4)
        1.0986
    """

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and "
                             f"1.0, got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def _options(self) -> dict:
        opts = super()._options()
        if self.ignore_index != -100:
            opts["ignore_index"] = self.ignore_index
        if self.label_smoothing:
            opts["label_smoothing"] = self.label_smoothing
        return opts

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities (see ``nll_loss``)."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def _options(self) -> dict:
        opts = super()._options()
        if self.ignore_index != -100:
            opts["ignore_index"] = self.ignore_index
        return opts

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probability inputs from a target (see ``kl_div``);
    use ``reduction='batchmean'`` for the true KL divergence."""

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, *, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        self.log_target = log_target

    def _options(self) -> dict:
        opts = super()._options()
        if self.log_target:
            opts["log_target"] = True
        return opts

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
