"""One flat vector for many parameters: the shared helper of the closure-based optimizers.

Second-order methods (L-BFGS, BFGS, conjugate gradients, Newton, Hessian-free) think of the
model's parameters as one point ``x`` in R^n and of the gradient as one vector ``g``.  This
module is the single place that maps between that view and the list of parameter tensors:

* :func:`flat_data` / :func:`flat_grad` gather the parameters' values / gradients (a copy,
  in the order of the list; a missing gradient counts as zeros, as in ``torch.optim.LBFGS``),
  :func:`flatten` any list of Tensors shaped like the parameters (gradients from
  ``bricks.grad``, curvature-vector products), and :func:`split` is its inverse;
* :func:`set_flat_data_` writes a flat vector back into the parameters, :func:`add_flat_`
  moves them along a direction (``p += alpha * d``), both in place;
* :func:`evaluate_closure` runs the closure under ``enable_grad`` (even when ``step`` is
  called inside ``no_grad``); :func:`loss_and_flat_grad` and :func:`directional_evaluate` are the
  two evaluations a line search needs.

Example:
    >>> from bricks.optim import _flat
    >>> a = bricks.tensor([1.0, 2.0], requires_grad=True)
    >>> b = bricks.tensor([[3.0]], requires_grad=True)
    >>> _flat.flat_data([a, b])
    array([1., 2., 3.], dtype=float32)
    >>> _flat.set_flat_data_([a, b], _flat.flat_data([a, b]) * 10)
    >>> b.data
    array([[30.]], dtype=float32)
"""

from __future__ import annotations

from bricks.autograd import _ClosureRun, enable_grad, grad, no_grad
from bricks.backend import get_array_module
from bricks.tensor import Tensor, const

__all__ = ["numel", "flat_data", "flat_grad", "flatten", "split", "set_flat_data_", "add_flat_",
           "closure_loss", "evaluate_closure", "evaluate_value", "loss_and_flat_grad",
           "directional_evaluate"]


def numel(params) -> int:
    """The total number of scalars in ``params`` (the length of the flat vector)."""
    return sum(int(p.data.size) for p in params)


def _concat(arrays, like):
    xp = get_array_module(like)
    if not arrays:
        return xp.zeros((0,), dtype=like.dtype)
    return xp.concatenate([a.reshape(-1) for a in arrays])


def flat_data(params):
    """The parameters' values as one new 1-D array (a copy, in the order of ``params``)."""
    params = list(params)
    if not params:
        raise ValueError("flat_data: got an empty list of parameters")
    return _concat([p.data for p in params], params[0].data)


def flat_grad(params):
    """The parameters' gradients as one new 1-D array; a parameter without ``.grad`` gives
    zeros (PyTorch's ``LBFGS._gather_flat_grad`` does the same)."""
    params = list(params)
    if not params:
        raise ValueError("flat_grad: got an empty list of parameters")
    return flatten([p.grad for p in params], params)


def flatten(tensors, params):
    """Tensors shaped like ``params`` (one each, None for zeros) as one new 1-D array."""
    like = params[0].data
    xp = get_array_module(like)
    parts = [t.data if t is not None else xp.zeros(p.data.shape, p.data.dtype)
             for t, p in zip(tensors, params)]
    return _concat(parts, like)


def split(vec, params) -> list:
    """The flat vector ``vec`` as Tensors shaped like ``params`` (views of ``vec``, no
    gradient): the inverse of :func:`flatten`."""
    _check_length("split", params, vec)
    out, offset = [], 0
    for p in params:
        n = p.data.size
        out.append(const(vec[offset:offset + n].reshape(p.data.shape)))
        offset += n
    return out


def _check_length(op, params, vec):
    n = numel(params)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(f"{op}: expected a flat vector of length {n} (the parameters' total "
                         f"size), got shape {tuple(vec.shape)}")


def set_flat_data_(params, vec) -> None:
    """Write the flat vector ``vec`` into the parameters' arrays, in place (p = vec[slice])."""
    params = list(params)
    _check_length("set_flat_data_", params, vec)
    offset = 0
    for p in params:
        n = p.data.size
        p.data[...] = vec[offset:offset + n].reshape(p.data.shape)
        p._vc[0] += 1  # in-place change: graphs that saved p must notice (see functions/inplace)
        offset += n


def add_flat_(params, vec, alpha=1.0) -> None:
    """Move the parameters along the flat direction ``vec``, in place: p += alpha * vec[slice]."""
    params = list(params)
    _check_length("add_flat_", params, vec)
    offset = 0
    for p in params:
        n = p.data.size
        piece = vec[offset:offset + n].reshape(p.data.shape)
        p.data += piece if alpha == 1 else alpha * piece
        p._vc[0] += 1
        offset += n


def closure_loss(out, who="step"):
    """The loss tensor from a closure's return value (a Tensor, or ``(loss, outputs)``)."""
    loss = out[0] if isinstance(out, tuple) else out
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise TypeError(f"{who}: the closure must return the loss as a single-element Tensor, "
                        f"got {type(loss).__name__}")
    return loss


def evaluate_closure(closure, params=None, keep_graph=False):
    """Call ``closure()`` with gradient recording on (even inside ``no_grad``) and return
    what it returns.

    Every closure-based optimizer accepts both kinds of closure:

    * PyTorch's: ``opt.zero_grad(); loss = ...; loss.backward(); return loss``;
    * one that only returns the loss: then, when ``params`` are given, their ``.grad`` is
      set here to ``d loss / d params``, as the backward of the first kind would have.

    Args:
        closure: the closure.
        params: the parameters whose ``.grad`` the optimizer reads next (None: not needed).
        keep_graph: keep the loss's graph even if the closure calls ``backward()``, for a
            second differentiation (Newton, Hessian-free).
    """
    with enable_grad(), _ClosureRun(retain_graph=keep_graph) as run:
        out = closure()
    if params is not None and not run.called_backward:
        loss = closure_loss(out)
        params = list(params)
        if loss.requires_grad:
            grads = grad(loss, params, retain_graph=keep_graph, allow_unused=True)
        else:
            grads = [None] * len(params)
        for p, g in zip(params, grads):
            p.grad = g
    return out


def evaluate_value(closure, who="step"):
    """The closure's loss as a float, computed under ``no_grad`` (a line-search trial);
    a ``backward()`` inside the closure does nothing here."""
    with no_grad(), _ClosureRun(skip_backward=True):
        return float(closure_loss(closure(), who))


def loss_and_flat_grad(closure, params):
    """Evaluate the closure; return ``(float(loss), flat_grad(params))``."""
    loss = float(closure_loss(evaluate_closure(closure, params)))
    return loss, flat_grad(params)


def directional_evaluate(closure, params, x, t, d):
    """Loss and flat gradient at ``x + t * d``; the parameters are put back to ``x`` after.

    This is the function of one variable ``phi(t) = f(x + t d)`` (with ``phi'(t) = g . d``)
    that a line search probes.
    """
    set_flat_data_(params, x)
    add_flat_(params, d, t)
    loss, g = loss_and_flat_grad(closure, params)
    set_flat_data_(params, x)
    return loss, g
