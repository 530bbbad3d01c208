"""L-BFGS: quasi-Newton with a limited memory, a port of ``torch.optim.LBFGS``.

BFGS (see ``bfgs.py``) keeps an n x n estimate of the inverse Hessian; L-BFGS keeps only the
last ``m`` pairs ``s_k = x_{k+1} - x_k``, ``y_k = g_{k+1} - g_k`` and applies the inverse
Hessian estimate to the gradient with the *two-loop recursion*, in O(m n) time and memory.
This file follows PyTorch 2.13's ``torch/optim/lbfgs.py`` step by step, so the two produce
the same trajectories (tested in float64).
"""

from __future__ import annotations

from bricks.optim import _flat
from bricks.optim._line_search import strong_wolfe
from bricks.optim.closure import ClosureOptimizer, iteration_defaults

__all__ = ["LBFGS"]


class LBFGS(ClosureOptimizer):
    r"""Limited-memory BFGS, equal to ``torch.optim.LBFGS``.

    Each ``step(closure)`` runs up to ``max_iter`` iterations of

    * direction by the **two-loop recursion**: with the stored pairs
      ``(s_i, y_i)``, ``rho_i = 1 / (y_i . s_i)``::

          q = -g
          for i = k-1 ... k-m:   a_i = rho_i s_i . q;   q = q - a_i y_i
          r = gamma q,           gamma = (s_{k-1} . y_{k-1}) / (y_{k-1} . y_{k-1})
          for i = k-m ... k-1:   b = rho_i y_i . r;     r = r + (a_i - b) s_i
          d = r                  (= -H_k g, H_k the BFGS inverse-Hessian estimate)

      a pair enters the memory only when ``y . s > 1e-10`` (curvature condition);
    * step length ``t``: ``lr`` (the very first iteration ``min(1, 1/|g|_1) * lr``), fixed,
      or chosen by a strong-Wolfe line search with ``line_search_fn='strong_wolfe'``;
    * ``x = x + t d``,

    stopping early when ``max|g| <= tolerance_grad``, when the step or the change of the loss
    falls below ``tolerance_change``, or after ``max_eval`` closure calls.

    When to use: smooth, deterministic (full-batch) objectives with many parameters, where
    BFGS's n x n matrix does not fit; the usual choice for fitting small networks or
    classical models to convergence.  With mini-batches the curvature pairs are noisy: use a
    first-order method there.

    Args:
        params: the parameters (one group only).
        lr: step length (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max|g|`` is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        history_size: the memory ``m`` (default 100).
        line_search_fn: ``None`` (fixed step ``lr``) or ``'strong_wolfe'``.

    ``step(closure)`` needs the closure (zero_grad, forward, backward, return the loss) and
    returns the loss of its first evaluation.  State (``state_dict()``, under the first
    parameter, as in PyTorch): ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``
    (the ``y``'s), ``old_stps`` (the ``s``'s), ``ro``, ``H_diag``, ``prev_flat_grad``,
    ``prev_loss``, ``al``.

    Example:
        >>> import bricks.optim
        >>> w = bricks.tensor([-1.2, 1.0], dtype=bricks.float64, requires_grad=True)
        >>> opt = bricks.optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2   # Rosenbrock
        ...     loss.backward()
        ...     return loss
        >>> for _ in range(5):
        ...     _ = opt.step(closure)
        >>> [round(v, 4) for v in w.tolist()]
        [1.0, 1.0]
    """

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        super().__init__(params, iteration_defaults(
            lr, max_iter, max_eval, tolerance_grad, tolerance_change,
            history_size=history_size, line_search_fn=line_search_fn))

    def _check_hyperparameters(self, group):
        self._check_iteration_options(group)
        self._check_int(group, "history_size")
        if group.get("line_search_fn") not in (None, "strong_wolfe"):
            raise self._invalid("line_search_fn", group["line_search_fn"],
                                "None or 'strong_wolfe'")

    def _step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss at the starting point."""
        group = self.param_groups[0]
        params = self._params
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]

        orig_loss, flat_grad = self._first_evaluation(closure)
        if flat_grad is None:
            return orig_loss
        state = self._flat_state
        loss = float(orig_loss)
        current_evals = 1

        d = state.get("d")
        t = state.get("t")
        old_dirs = state.get("old_dirs")
        old_stps = state.get("old_stps")
        ro = state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad = state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # gamma: scale of the initial inverse Hessian

                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]

                # the two-loop recursion, in one buffer
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # ---- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = _flat.flat_data(params)

                def obj_func(x, t, d):
                    return _flat.directional_evaluate(closure, params, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                _flat.add_flat_(params, d, t)
            else:
                _flat.add_flat_(params, d, t)
                if n_iter != max_iter:
                    # no re-evaluation after the last iteration (PyTorch's choice: with
                    # mini-batches the next step evaluates anyway); the tests below stop
                    # there before they would look at the old gradient
                    loss, flat_grad = _flat.loss_and_flat_grad(closure, params)
                    ls_func_evals = 1

            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if self._done(n_iter, current_evals, flat_grad, d, t, loss, prev_loss):
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss
