"""BFGS: quasi-Newton with a dense estimate of the inverse Hessian.

Newton's method steps ``x <- x - H^{-1} g`` but needs the Hessian ``H``.  BFGS (Broyden,
Fletcher, Goldfarb, Shanno, 1970) builds an estimate ``H_k ~ H^{-1}`` from how the gradient
changes along the steps it takes, one rank-two update per iteration, and never forms or
inverts a Hessian.  It stores ``H_k`` as an n x n matrix, so it suits problems with up to a
few thousand parameters; L-BFGS (``lbfgs.py``) keeps only the last few update pairs instead.
"""

from __future__ import annotations

from bricks.backend import get_array_module
from bricks.optim.closure import WolfeOptimizer, iteration_defaults

__all__ = ["BFGS"]


class BFGS(WolfeOptimizer):
    r"""BFGS with a dense inverse-Hessian estimate and a strong-Wolfe line search.

    With ``s_k = x_{k+1} - x_k`` (the step taken), ``y_k = g_{k+1} - g_k`` (the change of the
    gradient) and ``rho_k = 1 / (y_k . s_k)``, each iteration

    * moves along ``d_k = -H_k g_k`` by a step ``t_k`` that satisfies the strong Wolfe
      conditions (which guarantee ``y_k . s_k > 0``, so ``H_k`` stays positive definite);
    * updates the inverse-Hessian estimate (the BFGS inverse update)::

          H_{k+1} = (I - rho_k s_k y_k^T) H_k (I - rho_k y_k s_k^T) + rho_k s_k s_k^T

      the matrix closest to ``H_k`` that satisfies the secant equation
      ``H_{k+1} y_k = s_k``.  The first iteration steps along ``-g``; before the first
      update ``H_0 = (y_0 . s_0) / (y_0 . y_0) I`` (Nocedal & Wright eq. 6.20), which puts the
      first steps on the scale of the problem.

    A pair with ``y . s <= 1e-10`` is skipped (no update), and if rounding ever makes
    ``d_k`` an ascent direction the estimate is reset to the identity.  Near the minimum
    BFGS converges superlinearly.

    When to use: smooth, deterministic objectives with up to a few thousand parameters
    (logistic regression, small networks, curve fitting).  Each iteration costs O(n^2)
    time and the matrix n^2 memory; beyond ``max_params`` parameters the constructor
    refuses, pointing at :class:`~bricks.optim.LBFGS`.

    Args:
        params: the parameters (one group only).
        lr: scales the first trial step of each line search (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max|g|`` is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        c1, c2: the strong Wolfe constants (default 1e-4 and 0.9).
        max_params: the largest parameter count accepted (default 5000, a 200 MB matrix in
            float64).

    Raises:
        ValueError: an invalid hyperparameter, or more than ``max_params`` parameters.

    ``step(closure)`` needs the closure (zero_grad, forward, backward, return the loss) and
    returns the loss of its first evaluation.  Flat state (in ``state_dict()``): ``H``
    (``None`` until the first update), ``d``, ``t``, ``gtd``, ``prev_flat_grad``,
    ``prev_loss``, ``n_iter``, ``func_evals``.

    Example:
        >>> import bricks.optim
        >>> w = bricks.tensor([-1.2, 1.0], dtype=bricks.float64, requires_grad=True)
        >>> opt = bricks.optim.BFGS([w], max_iter=100)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2   # Rosenbrock
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 4) for v in w.tolist()]
        [1.0, 1.0]
    """

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, c1=1e-4, c2=0.9, max_params=5000):
        super().__init__(params, iteration_defaults(
            lr, max_iter, max_eval, tolerance_grad, tolerance_change,
            c1=c1, c2=c2, max_params=max_params))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        self._check_int(group, "max_params")
        self._check_size(group)

    def _direction(self, state, flat_grad):
        if state["n_iter"] == 1:
            state["H"] = None
            return -flat_grad
        H = state.get("H")
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = y.dot(s)
        if ys > 1e-10:
            xp = get_array_module(flat_grad)
            rho = 1.0 / ys
            if H is None:
                H = xp.eye(flat_grad.shape[0], dtype=flat_grad.dtype) * (ys / y.dot(y))
            Hy = H.dot(y)
            # (I - rho s y^T) H (I - rho y s^T) + rho s s^T, expanded (H symmetric) into
            # H + s (c s - rho Hy)^T - rho Hy s^T with c = rho (1 + rho y^T H y):
            # two outer products written into one scratch matrix.
            scratch = xp.outer(s, (rho * (1.0 + rho * y.dot(Hy))) * s - rho * Hy)
            H += scratch
            xp.outer(rho * Hy, s, out=scratch)
            H -= scratch
            state["H"] = H
        d = -flat_grad if H is None else -H.dot(flat_grad)
        if flat_grad.dot(d) >= 0:  # lost positive definiteness to rounding: start over
            state["H"] = None
            d = -flat_grad
        return d
