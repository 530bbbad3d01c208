"""The fused loss Functions: each loss whose composition of ops would be unstable or slow.

The loss functions and modules users call (``cross_entropy``, ``BCELoss``, ...) live in
``bricks.nn.loss`` and check their arguments there; these are the nodes they build:

- ``BinaryCrossEntropy``: PyTorch's clamped logarithms, and a finite gradient at 0 and 1;
- ``BCEWithLogits``: binary cross-entropy from the logit, never overflowing;
- ``CrossEntropy``: log-softmax and the negative log-likelihood in one node, with the
  gradient softmax(x) - target;
- ``SquaredError``: mean squared error's common case as one node.
"""

from __future__ import annotations

import math

from bricks import backend
from bricks.autograd import Function, is_grad_enabled
from bricks.backend import get_array_module
from bricks.functions import elementwise as E
from bricks.functions.reduction import log_softmax, softmax
from bricks.tensor import Tensor, const

__all__ = ["BinaryCrossEntropy", "BCEWithLogits", "CrossEntropy", "SquaredError"]


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
        xp = get_array_module(p)
        self.save_for_backward(p, y)
        with backend.errstate(xp, divide="ignore"):
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
        softplus_neg = E.softplus_array(-x)
        if pos_weight is None:
            return (1.0 - y) * x + softplus_neg
        return (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * softplus_neg

    def backward(self, grad):
        x, y = self.saved_tensors
        pw = None if self.pos_weight is None else const(self.pos_weight)
        gx = gy = None
        if self.needs_input_grad[0]:
            s = E.sigmoid(x)
            gx = grad * (s - y) if pw is None else grad * ((1.0 + (pw - 1.0) * y) * s - pw * y)
        if self.needs_input_grad[1]:
            gy = -grad * x if pw is None else grad * ((pw - 1.0) * E.softplus(x) - pw * x)
        return gx, gy


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
        xp = get_array_module(x)
        self.index, self.active, self.weight = index, active, weight
        self.smoothing, self.reduction, self.denom = smoothing, reduction, denom
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
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
        xp = get_array_module(index)
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
        xp = get_array_module(grad.data if isinstance(grad, Tensor) else grad)
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
        return grad * const(nan_rows.reshape(rows))

    def backward(self, grad):
        xp = get_array_module(grad.data)
        saved = self.saved_tensors
        x, logp = saved[0], saved[1]
        probs = saved[2] if len(saved) > 2 else None
        shape, dtype = x.data.shape, x.data.dtype
        g = self._grad_scale(grad, shape)
        graph = is_grad_enabled()
        classes, eps = shape[1], self.smoothing
        w_c = None
        if self.weight is not None:
            w_c = const(self.weight.reshape((1, -1) + (1,) * (len(shape) - 2)))
        gx = gt = None
        if self.needs_input_grad[0]:
            p = softmax(x, dim=1) if graph else const(xp.exp(logp.data))
            if probs is None:
                q, s = self._class_weights(shape, dtype)
                gx = g * ((p if s is None else p * const(s)) - const(q))
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
        xp = get_array_module(grad)
        saved = self.saved_arrays
        if len(saved) > 2 or not self.needs_input_grad[0] or (
                self.reduction == "mean" and not self.denom):
            return self.backward(const(grad))  # the general case (the engine unwraps)
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
        xp = get_array_module(x)
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
        xp = get_array_module(grad)
        x, t = self.saved_arrays
        g = grad / xp.asarray(self.n, dtype=grad.dtype) if self.n != 1 else grad
        gd = x - t
        gd *= g
        gd += gd
        return gd, -gd if self.next_edges[1] is not None else None
