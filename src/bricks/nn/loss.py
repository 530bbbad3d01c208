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

Most losses are short compositions of differentiable ops. Three are fused ``Function``s,
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
from bricks.autograd import Function, is_grad_enabled
from bricks.backend import is_floating, xp
from bricks.functions import elementwise as E
from bricks.functions.arithmetic import to_dtype
from bricks.functions.reduction import log_softmax, softmax
from bricks.functions.shape import gather
from bricks.nn.module import Module
from bricks.tensor import Tensor, tensor

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


def _const(array) -> Tensor:
    return Tensor._make(array, False, None, 0)


def _as_tensor(x, op: str, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return tensor(x)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}") from None


def _float_input(x, op: str) -> Tensor:
    x = _as_tensor(x, op, "input")
    if not is_floating(x.data.dtype):
        x = to_dtype(x, backend.get_default_dtype())
    return x


def _shape(t) -> tuple:
    return tuple(t.shape)


def _broadcast_pair(input, target, op: str, warn: bool = True):
    """``input`` (made float) and ``target`` as Tensors whose shapes broadcast.

    Different shapes are broadcast with a warning, as in PyTorch: an (N, 1) prediction
    against an (N,) target silently becomes an (N, N) loss, which is almost never meant.
    """
    input = _float_input(input, op)
    target = _as_tensor(target, op, "target")
    if input.shape != target.shape:
        try:
            xp.broadcast_shapes(input.shape, target.shape)
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
    input = _float_input(input, op)
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


# PyTorch's floor for p (1 - p) in the gradient: 1e-12 rounded to float32, as in its kernel.
_BCE_EPS = 9.999999960041972e-13


class BinaryCrossEntropy(Function):
    """Elementwise -(y log p + (1 - y) log(1 - p)) with PyTorch's clamped logarithms.

    Fused because the composition breaks at the edges: PyTorch clamps each log at -100,
    so a prediction of exactly 0 or 1 costs at most 100 instead of inf, and its gradient
    (p - y) / max(p (1 - p), 1e-12) stays finite; composing log and clamp would give
    0 * inf = nan there.
    """

    def forward(self, p, y):
        self.save_for_backward(p, y)
        with xp.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), -100.0)
            log_1mp = xp.maximum(xp.log1p(-p), -100.0)
        return (y - 1.0) * log_1mp - y * log_p

    def backward(self, grad):
        p, y = self.saved_tensors
        gp = gy = None
        if self.needs_input_grad[0]:
            gp = grad * (p - y) / E.clamp(p * (1.0 - p), min=_BCE_EPS)
        if self.needs_input_grad[1]:
            gy = grad * (E.log1p(-p) - E.log(p))
        return gp, gy


def _class_free_weight(weight, shape, dtype, op: str) -> Tensor:
    """An optional weight that must broadcast to the loss's ``shape``, as a Tensor."""
    w = _as_tensor(weight, op, "weight")
    try:
        out = xp.broadcast_shapes(w.shape, shape)
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


class _Softplus(Function):
    """log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), which never overflows.

    A Function rather than that composition because relu and abs both have derivative 0
    at x = 0, so the composition's gradient there would be 0 instead of sigmoid(0) = 1/2.
    """

    def forward(self, x):
        self.save_for_backward(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * E.sigmoid(x)


class BCEWithLogits(Function):
    """Elementwise binary cross-entropy of sigmoid(x), computed from the logit x.

    Fused for stability and a simple gradient. With p_w the positive-class weight,
    l = (1 - y) x + (1 + (p_w - 1) y) log(1 + e^-x), and log(1 + e^-x) is evaluated as
    max(-x, 0) + log(1 + e^-|x|), so logits of magnitude 1e4 neither overflow exp nor
    take log(0); the gradient is (1 + (p_w - 1) y) sigmoid(x) - p_w y (sigmoid(x) - y
    without p_w). ``pos_weight`` is a constant, as in PyTorch.
    """

    def forward(self, x, y, pos_weight):
        self.save_for_backward(x, y)
        self.pos_weight = pos_weight
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        if pos_weight is None:
            return (1.0 - y) * x + softplus_neg
        return (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * softplus_neg

    def backward(self, grad):
        x, y = self.saved_tensors
        pw = None if self.pos_weight is None else _const(self.pos_weight)
        gx = gy = None
        if self.needs_input_grad[0]:
            s = E.sigmoid(x)
            gx = grad * (s - y) if pw is None else grad * ((1.0 + (pw - 1.0) * y) * s - pw * y)
        if self.needs_input_grad[1]:
            gy = -grad * x if pw is None else grad * ((pw - 1.0) * _Softplus.apply(x) - pw * x)
        return gx, gy


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


def _class_weight(weight, classes: int, dtype, op: str):
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else xp.asarray(weight)
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
    # A decision on the targets' values: bricks.compile checks it again on every call.
    if not _autograd.decide(_any_ignored, t, tuple(shape), ignore_index, op):
        return t, None
    ignored = t == ignore_index
    return xp.where(ignored, 0, t), ~ignored


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


class CrossEntropy(Function):
    """Cross-entropy of softmax(x) against a target, log-softmax and NLL in one op.

    Fused for stability and speed. log-softmax is computed as (x - max) - log(sum e^(x -
    max)), finite for logits of magnitude 1e4, and the gradient is the famous
    softmax(x) - target, scaled by the target's weights: with q_c the weight of class c in
    the loss -sum_c q_c log softmax(x)_c, it is (sum_c q_c) softmax(x) - q. A composition
    would build softmax, log, gather and their backward graph for every batch.

    Backward is written in Tensor ops: while a graph is being recorded (create_graph=True)
    softmax is recomputed from x so that the gradient can be differentiated again;
    otherwise the forward's log-softmax is reused.

    Class-index mode: inputs (x,), ``q`` is (1 - eps) w_t at the target class t plus
    eps/C w_c everywhere, and 0 for ignored targets. Probability mode: inputs (x, target),
    ``q`` is ((1 - eps) target + eps/C) w_c, and gradients flow to the target too.
    """

    def forward(self, x, *probs, index, active, weight, smoothing, reduction, denom):
        self.index, self.active, self.weight = index, active, weight
        self.smoothing, self.reduction, self.denom = smoothing, reduction, denom
        with xp.errstate(divide="ignore", invalid="ignore"):
            m = x.max(axis=1, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            shifted = x - m
            logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        self.save_for_backward(x, logp, *probs)
        classes = x.shape[1]
        w_c = None if weight is None else weight.reshape((1, -1) + (1,) * (x.ndim - 2))
        if probs:
            q = probs[0] if not smoothing else probs[0] * (1.0 - smoothing) + smoothing / classes
            if w_c is not None:
                q = q * w_c
            loss = -(q * logp).sum(axis=1)
        else:
            picked = xp.take_along_axis(logp, index[:, None], axis=1)[:, 0]
            coef = 1.0 - smoothing
            if weight is not None:
                coef = coef * weight[index]
            loss = -coef * picked
            if smoothing:
                spread = logp.sum(axis=1) if w_c is None else (logp * w_c).sum(axis=1)
                loss = loss - (smoothing / classes) * spread
            if active is not None:
                loss = xp.where(active, loss, 0)
        loss = loss.astype(x.dtype, copy=False)
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "mean":
            total = total / denom if denom else total * math.nan
        return xp.asarray(total, dtype=x.dtype)

    def _class_weights(self, shape, dtype):
        """q and its sum over classes s for class-index targets, as arrays (None: 1)."""
        index, active, weight, eps = self.index, self.active, self.weight, self.smoothing
        classes = shape[1]
        coef = xp.full(index.shape, 1.0 - eps, dtype=dtype)
        if weight is not None:
            coef = coef * weight[index]
        q = xp.zeros(shape, dtype=dtype)
        xp.put_along_axis(q, index[:, None], coef[:, None], axis=1)
        s = None
        if eps or weight is not None:
            w_c = xp.ones(classes, dtype=dtype) if weight is None else weight
            q += (eps / classes) * w_c.reshape((1, -1) + (1,) * (len(shape) - 2))
            s = (coef + (eps / classes) * w_c.sum())[:, None]
        if active is not None:
            mask = active[:, None]
            q = q * mask
            s = mask.astype(dtype) if s is None else s * mask
        return q, s

    def _grad_scale(self, grad, shape):
        """The incoming gradient, shaped to broadcast over (N, C, d1, ...)."""
        rows = (shape[0], 1) + tuple(shape[2:])
        if self.reduction == "none":
            return grad.reshape(rows)
        if self.reduction == "sum":
            return grad
        if self.denom:
            return grad / self.denom
        # The mean is 0 / 0: every target is ignored or has weight 0. PyTorch's gradient is
        # 0 for the ignored targets and nan (0 * inf) for the others.
        active = self.active if self.active is not None else xp.ones(rows[:1] + rows[2:], bool)
        nan_rows = xp.where(active, math.nan, 0.0).astype(grad.data.dtype)
        return grad * _const(nan_rows.reshape(rows))

    def backward(self, grad):
        saved = self.saved_tensors
        x, logp = saved[0], saved[1]
        probs = saved[2] if len(saved) > 2 else None
        shape, dtype = x.data.shape, x.data.dtype
        g = self._grad_scale(grad, shape)
        graph = is_grad_enabled()
        classes, eps = shape[1], self.smoothing
        w_c = None
        if self.weight is not None:
            w_c = _const(self.weight.reshape((1, -1) + (1,) * (len(shape) - 2)))
        gx = gt = None
        if self.needs_input_grad[0]:
            p = softmax(x, dim=1) if graph else _const(xp.exp(logp.data))
            if probs is None:
                q, s = self._class_weights(shape, dtype)
                gx = g * ((p if s is None else p * _const(s)) - _const(q))
            else:
                q = probs if not eps else probs * (1.0 - eps) + eps / classes
                if w_c is not None:
                    q = q * w_c
                gx = g * (p * q.sum(dim=1, keepdim=True) - q)
        if probs is not None and self.needs_input_grad[1]:
            lp = log_softmax(x, dim=1) if graph else logp
            gt = g * lp * -(1.0 - eps)
            if w_c is not None:
                gt = gt * w_c
        return (gx,) if probs is None else (gx, gt)

    def backward_arrays(self, grad):
        # The training step's case on raw arrays: class indices, input gradient only.
        saved = self.saved_arrays
        if len(saved) > 2 or not self.needs_input_grad[0] or (
                self.reduction == "mean" and not self.denom):
            return self.backward(_const(grad))  # the general case (the engine unwraps)
        x, logp = saved
        g = self._grad_scale(grad, x.shape)
        q, s = self._class_weights(x.shape, x.dtype)
        p = xp.exp(logp)
        if s is not None:
            p *= s
        p -= q
        p *= g
        return (p,)


class SquaredError(Function):
    """sum((x - t)^2) / n in one node: ``mse_loss``'s common case (same shapes, no weight).

    Composed it is four nodes (subtract, square, sum, divide) with as many backward
    steps; the gradient is just 2 (x - t) / n, computed here in the same order of
    operations, so the result is the composition's, bit for bit.
    """

    def forward(self, x, t, n):
        self.n = n
        self.save_for_backward(x, t)
        d = x - t
        total = (d * d).sum()
        return xp.asarray(total / n if n != 1 else total, dtype=x.dtype)

    def backward(self, grad):
        x, t = self.saved_tensors
        g = grad / float(self.n) if self.n != 1 else grad
        gd = (x - t) * g
        gd = gd + gd
        return gd, -gd

    fresh_grads = True

    def backward_arrays(self, grad):
        x, t = self.saved_arrays
        g = grad / xp.asarray(self.n, dtype=grad.dtype) if self.n != 1 else grad
        gd = x - t
        gd *= g
        gd += gd
        return gd, -gd if self.next_edges[1] is not None else None


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
    w = _class_weight(weight, shape[1], dtype, op)
    options = dict(weight=w, smoothing=float(label_smoothing), reduction=reduction)
    if probs and target.shape == shape:
        if target.data.dtype != dtype:
            target = to_dtype(target, dtype)
        denom = float(input.data.size // shape[1]) if shape[1] else 0.0
        out = CrossEntropy.apply(input, target, index=None, active=None, denom=denom,
                                 **options)
    else:
        index, active = _class_targets(input, target, ignore_index, op)
        if w is None:
            denom = float(index.size if active is None else active.sum())
        else:
            picked = w[index] if active is None else w[index] * active
            denom = float(picked.sum())
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
    w = _class_weight(weight, input.shape[1], input.data.dtype, op)
    loss = -gather(input, 1, index[:, None]).squeeze(1)
    if w is not None:
        loss = loss * _const(w[index])
    if active is not None:
        loss = E.where(_const(active), loss, 0.0)
    if reduction == "mean":
        if w is None:
            denom = float(index.size if active is None else active.sum())
        else:
            denom = float((w[index] if active is None else w[index] * active).sum())
        if denom:
            loss = loss.sum() / denom
        else:
            # 0 / 0: every target is ignored or has weight 0. PyTorch returns nan, with a
            # gradient of nan for the targets that count and 0 for the ignored ones; a
            # constant per-target factor gives both, and no division-by-zero warning.
            nan_rows = xp.full(index.shape, math.nan, dtype=input.data.dtype)
            if active is not None:
                nan_rows = xp.where(active, nan_rows, 0).astype(input.data.dtype)
            loss = (loss * _const(nan_rows)).sum() + math.nan
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
