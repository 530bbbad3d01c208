"""Newton's method with the exact Hessian from double backward, damped (Levenberg-Marquardt).

Around the current point a smooth function looks like its second-order Taylor model
``f(w + p) ~ f(w) + g^T p + 1/2 p^T H p``; the model's minimum is at ``p = -H^{-1} g``, the
Newton-Raphson step.  Near a minimum with a positive definite Hessian the error squares at
every step (quadratic convergence): a handful of iterations reach machine precision.  The
Hessian comes from differentiating the gradient once more (``grad(create_graph=True)``),
one backward pass per row, and the solve costs O(n^3): a method for small models.
"""

from __future__ import annotations

from bricks.autograd import enable_grad, grad
from bricks.backend import get_array_module
from bricks.functions.shape import cat
from bricks.optim import _flat
from bricks.optim._line_search import backtracking
from bricks.optim.closure import ClosureOptimizer

__all__ = ["Newton"]


def _graph_grads(loss, params, who):
    """``d loss / d params`` with their own graph (for the second derivatives)."""
    if loss.grad_fn is None:
        raise RuntimeError(f"{who}: the closure's loss has no graph (was it computed under "
                           f"no_grad, or from parameters that do not require grad?)")
    try:
        grads = grad(loss, params, create_graph=True, allow_unused=True)
    except RuntimeError as err:
        raise RuntimeError(
            f"{who}: cannot differentiate the closure's loss twice ({err}). Return the loss "
            f"whose graph {who} may differentiate (calling loss.backward() in the closure "
            f"is fine; backward(retain_graph=False) on another graph is not).") from None
    return [g if g is not None else p * 0.0 for g, p in zip(grads, params)]


def _solve_damped(H, g, lam):
    """``p = -(H + lam I)^{-1} g``, or None when ``H + lam I`` is not positive definite."""
    xp = get_array_module(H)
    A = H + lam * xp.eye(H.shape[0], dtype=H.dtype)
    try:
        L = xp.linalg.cholesky(A)
    except xp.linalg.LinAlgError:
        return None
    if not bool(xp.isfinite(L).all()):  # CuPy returns NaNs instead of raising
        return None
    z = xp.linalg.solve(L, -g)
    return xp.linalg.solve(L.T, z)


class Newton(ClosureOptimizer):
    r"""Damped Newton's method: exact Hessian, Levenberg-Marquardt damping, Armijo search.

    Each ``step(closure)`` is one Newton iteration on the flat parameter vector ``w`` with
    gradient ``g`` and Hessian ``H``:

    * the **Newton-Raphson step** with Levenberg-Marquardt damping ``lambda``:
      ``p = -(H + lambda I)^{-1} g``.  ``lambda = 0`` is the pure step
      ``w <- w - H^{-1} g``; a large ``lambda`` turns it into a short gradient-descent step
      ``-g / lambda``.  If ``H + lambda I`` is not positive definite (Cholesky fails; the
      Hessian of a non-convex loss may be indefinite) ``lambda`` grows by ``damping_factor``
      until it is;
    * a **backtracking (Armijo) line search**: ``w <- w + t p`` with the first of
      ``t = lr, lr/2, lr/4, ...`` such that ``f(w + t p) <= f(w) + c1 t g^T p``;
    * **adapting** ``lambda``: divided by ``damping_factor`` when the full step ``t = lr``
      was accepted (the quadratic model is trusted), multiplied when it was not.  If no
      trial is accepted, ``w`` stays and only ``lambda`` grows.

    Nothing happens once ``max|g| <= tolerance_grad``.  The Hessian is built row by row,
    ``H[i] = d g_i / d w`` (one extra backward pass through the gradient's graph per
    parameter), and symmetrized.

    When to use: small, smooth models (logistic or softmax regression, a few hundred
    parameters) that you want solved to machine precision in a few iterations.  Beyond
    ``max_params`` parameters the constructor refuses: use :class:`~bricks.optim.LBFGS` or
    :class:`~bricks.optim.HessianFree`.

    **The closure** is the one every closure optimizer takes: PyTorch's (``zero_grad``,
    loss, ``loss.backward()``, return the loss; its ``backward()`` keeps the graph here so
    Newton can differentiate the loss twice) or one that only returns the loss.  During
    the line search it runs under ``no_grad``, where its ``backward()`` does nothing.

    Args:
        params: the parameters (one group only).
        lr: the first trial step of the line search (default 1: the full Newton step).
        damping: the initial Levenberg-Marquardt ``lambda`` (default 1e-4).
        damping_factor: how much ``lambda`` grows on a failure and shrinks on a success
            (default 10).
        tolerance_grad: no step once ``max|g|`` is at most this (default 1e-12).
        c1: the Armijo constant (default 1e-4).
        max_ls: the most line-search trials (default 20).
        max_params: the largest parameter count accepted (default 2000).

    Raises:
        ValueError: an invalid hyperparameter, or more than ``max_params`` parameters.

    Returns (``step``): the loss at the starting point.  Flat state (in ``state_dict()``):
    ``damping`` (the current ``lambda``), ``n_iter``, ``func_evals``.

    Example:
        >>> import bricks.optim
        >>> w = bricks.tensor([3.0, -1.0], dtype=bricks.float64, requires_grad=True)
        >>> opt = bricks.optim.Newton([w])
        >>> def closure():   # LBFGS's closure works too (zero_grad, backward, return loss)
        ...     return (w[0] - 1) ** 4 + (w[0] - 1) ** 2 + 2 * (w[1] + w[0]) ** 2
        >>> for _ in range(30):
        ...     _ = opt.step(closure)
        >>> [round(v, 4) for v in w.tolist()]
        [1.0, -1.0]
    """

    closure_does_backward = False  # it differentiates the loss twice itself

    def __init__(self, params, lr=1.0, damping=1e-4, damping_factor=10.0, tolerance_grad=1e-12,
                 c1=1e-4, max_ls=20, max_params=2000):
        defaults = dict(lr=lr, damping=damping, damping_factor=damping_factor,
                        tolerance_grad=tolerance_grad, c1=c1, max_ls=max_ls,
                        max_params=max_params)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_newton_options(group)
        self._require(group, "c1", 0.0, 1.0, high_open=True)
        if "damping_factor" in group and not group["damping_factor"] > 1:
            raise self._invalid("damping_factor", group["damping_factor"], "damping_factor > 1")
        self._check_int(group, "max_params")
        self._check_size(group)

    def _hessian(self, grads):
        """The Hessian, row by row: ``H[i] = d g_i / d w`` through the gradient's graph."""
        params = self._params
        flat_g = cat([g.reshape(-1) for g in grads])
        xp = get_array_module(params[0].data)
        n = flat_g.shape[0]
        H = xp.zeros((n, n), dtype=params[0].data.dtype)
        if not flat_g.requires_grad:  # the gradient is constant: a linear loss, H = 0
            return H
        for i in range(n):
            H[i] = _flat.flatten(grad(flat_g[i], params, retain_graph=True,
                                      allow_unused=True), params)
        H += H.T
        H *= 0.5
        return H

    def _step(self, closure):
        """One damped Newton iteration; returns the loss at the starting point."""
        _, orig_loss, f = self._evaluate_for_curvature(closure)
        group, params, state = self.param_groups[0], self._params, self._flat_state
        with enable_grad():  # double backward, even when step() runs under no_grad
            grads = _graph_grads(orig_loss, params, type(self).__name__)
            g = _flat.flatten(grads, params)
            if abs(g).max() <= group["tolerance_grad"]:
                return orig_loss.detach()
            state["n_iter"] += 1
            H = self._hessian(grads)
            del grads

        lam, factor = state["damping"], group["damping_factor"]
        xp = get_array_module(g)
        p = _solve_damped(H, g, lam)
        while p is None:  # not positive definite: more damping
            lam = max(lam * factor, 1e-8 * max(1.0, float(abs(xp.diag(H)).max())))
            p = _solve_damped(H, g, lam)

        # a few ulps of |f|: an Armijo test cannot see changes below f's own rounding
        slack = 8 * xp.finfo(g.dtype).eps * max(1.0, abs(f))
        t, _, _, evals = self._search_along(closure, p, lambda value_at: backtracking(
            value_at, f, g.dot(p), t=group["lr"], c1=group["c1"], max_ls=group["max_ls"],
            slack=slack))
        state["damping"] = lam / factor if evals == 1 and t is not None else lam * factor
        return orig_loss.detach()
