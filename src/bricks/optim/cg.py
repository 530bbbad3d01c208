"""Nonlinear conjugate gradients (Fletcher-Reeves, Polak-Ribiere+).

Linear CG solves ``A x = b`` (minimizes ``1/2 x^T A x - b^T x``) in at most n steps by
moving along directions that are conjugate, ``d_i^T A d_j = 0``: each new direction is the
negative gradient plus a multiple ``beta`` of the previous direction.  Nonlinear CG
(Fletcher & Reeves, 1964) applies the same recurrence to any smooth function, with a line
search in place of the exact step, and needs only O(n) memory: two vectors more than
gradient descent.
"""

from __future__ import annotations

from bricks.optim import _flat
from bricks.optim.closure import WolfeOptimizer, iteration_defaults

__all__ = ["ConjugateGradient"]

_BETAS = ("fletcher-reeves", "polak-ribiere")


class ConjugateGradient(WolfeOptimizer):
    r"""Nonlinear conjugate gradients with restarts and a strong-Wolfe line search.

    Each iteration moves along ``d_k`` by a step ``t_k`` satisfying the strong Wolfe
    conditions, then

        ``d_{k+1} = -g_{k+1} + beta_{k+1} d_k``

    with (``beta``)

    * ``'fletcher-reeves'``: ``beta = (g_{k+1} . g_{k+1}) / (g_k . g_k)``
    * ``'polak-ribiere'`` (PR+): ``beta = max(0, g_{k+1} . (g_{k+1} - g_k) / (g_k . g_k))``

    The method *restarts* (``d = -g``, i.e. ``beta = 0``) on the first iteration, every
    ``restart`` iterations (default: the number of parameters n, after which CG on a
    quadratic would have converged), and whenever ``d_{k+1}`` is not a descent direction
    (``g . d >= 0``).  PR+ restarts by itself when progress stalls (``beta`` clipped to 0)
    and is usually faster; FR has the cleaner convergence theory (it needs ``c2 < 1/2``,
    hence the default ``c2=0.1``).  The first trial step is ``min(1, 1/|g|_1) * lr`` at the
    very first iteration and ``t_{k-1} (g_{k-1} . d_{k-1}) / (g_k . d_k)`` after
    (Nocedal & Wright eq. 3.60: the same first-order change as the last step).

    When to use: large smooth deterministic problems where even L-BFGS's ``m`` vectors are
    too many, or for teaching the step from linear CG (used inside
    :class:`~bricks.optim.HessianFree`) to optimization.  L-BFGS usually needs fewer
    evaluations.

    Args:
        params: the parameters (one group only).
        lr: scales the first trial step (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max|g|`` is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        beta: ``'polak-ribiere'`` (PR+, default) or ``'fletcher-reeves'``.
        restart: restart every this many iterations (default ``None``: the parameter count).
        c1, c2: the strong Wolfe constants (default 1e-4 and 0.1).

    ``step(closure)`` needs the closure (zero_grad, forward, backward, return the loss) and
    returns the loss of its first evaluation.  Flat state (in ``state_dict()``): ``d``, ``t``,
    ``gtd``, ``prev_flat_grad``, ``prev_loss``, ``since_restart``, ``n_iter``,
    ``func_evals``.

    Example (a quadratic in n = 3 variables, condition number 100: n iterations, as linear
    CG would need):
        >>> import bricks.optim
        >>> a = bricks.tensor([1.0, 10.0, 100.0], dtype=bricks.float64)
        >>> w = bricks.zeros(3, dtype=bricks.float64, requires_grad=True)
        >>> opt = bricks.optim.ConjugateGradient([w], max_iter=50)
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = 0.5 * (a * w * w).sum() - w.sum()   # minimum at w = 1 / a
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()], opt.state[w]["n_iter"]
        ([1.0, 0.1, 0.01], 3)
    """

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, beta="polak-ribiere", restart=None, c1=1e-4, c2=0.1):
        super().__init__(params, iteration_defaults(
            lr, max_iter, max_eval, tolerance_grad, tolerance_change,
            beta=beta, restart=restart, c1=c1, c2=c2))

    def _check_hyperparameters(self, group):
        super()._check_hyperparameters(group)
        if "beta" in group and group["beta"] not in _BETAS:
            raise self._invalid("beta", group["beta"], "'fletcher-reeves' or 'polak-ribiere'")
        if group.get("restart") is not None:
            self._check_int(group, "restart")

    def _direction(self, state, flat_grad):
        restart = self.param_groups[0]["restart"] or _flat.numel(self._params)
        since = state.get("since_restart", 0)
        if state["n_iter"] == 1 or since >= restart:
            state["since_restart"] = 1
            return -flat_grad
        g_prev = state["prev_flat_grad"]
        gg_prev = g_prev.dot(g_prev)
        if self.param_groups[0]["beta"] == "fletcher-reeves":
            beta = flat_grad.dot(flat_grad) / gg_prev
        else:
            beta = max(0.0, flat_grad.dot(flat_grad - g_prev) / gg_prev)
        d = beta * state["d"] - flat_grad
        if flat_grad.dot(d) >= 0:  # not a descent direction: restart
            state["since_restart"] = 1
            return -flat_grad
        state["since_restart"] = since + 1
        return d

    def _initial_step(self, state, flat_grad, d, gtd):
        if state["n_iter"] == 1:
            return super()._initial_step(state, flat_grad, d, gtd)
        return state["t"] * state["gtd"] / gtd
