"""Line searches and the common base of the closure-based (second-order) optimizers.

A second-order method picks a *direction* ``d`` from curvature (L-BFGS, BFGS, conjugate
gradients, Newton, Hessian-free) and then a *step length* ``t`` along it, looking at the
function of one variable ``phi(t) = f(x + t d)`` with slope ``phi'(t) = g(x + t d) . d``:

* :func:`strong_wolfe` finds a ``t`` that satisfies the strong Wolfe conditions

  - sufficient decrease (Armijo): ``f(x + t d) <= f(x) + c1 t g.d``
  - curvature:                    ``|g(x + t d) . d| <= c2 |g.d|``

  by bracketing and cubic interpolation (:func:`cubic_interpolate`).  It is a line-by-line
  port of PyTorch 2.13's ``torch.optim.lbfgs._strong_wolfe`` (itself from Torch7's
  ``lswolfe.lua``), so that :class:`~bricks.optim.LBFGS` follows ``torch.optim.LBFGS``
  exactly;  BFGS and CG use it too.
* :func:`backtracking` halves ``t`` until the Armijo condition holds (Newton, Hessian-free:
  their steps have the right length already, so a cheap safeguard is enough).

:class:`ClosureOptimizer` holds what the five optimizers share: one parameter group seen as
one flat vector (through :mod:`bricks.optim._flat`), a required closure, and a global state
that ``state_dict`` / ``load_state_dict`` carry so that resuming continues the same
trajectory.

Example:
    >>> from bricks.optim._line_search import cubic_interpolate
    >>> # phi(t) = (t - 1)^2 from phi(0) = 1, phi'(0) = -2 and phi(3) = 4, phi'(3) = 4
    >>> float(cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0))
    1.0
"""

from __future__ import annotations

import copy
import math

from bricks.backend import get_array_module
from bricks.optim import _flat
from bricks.optim.optimizer import Optimizer
from bricks.tensor import Tensor, const

__all__ = ["cubic_interpolate", "strong_wolfe", "backtracking", "ClosureOptimizer"]


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1, g2``,
    clipped to ``bounds`` (default: the interval between the two points); the midpoint when
    the cubic has no minimizer.  PyTorch's ``_cubic_interpolate``.
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    if x1 == x2:  # PyTorch divides 0 by 0 here and ends at the midpoint through a NaN
        return (xmin_bound + xmax_bound) / 2.0
    # The minimizer of the cubic, with x2 the farther point:
    #   d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2),  d2 = sqrt(d1^2 - g1 g2),
    #   t  = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """A step length ``t`` along ``d`` that satisfies the strong Wolfe conditions.

    A port of PyTorch 2.13's ``_strong_wolfe`` (More-Thuente style bracketing, then a zoom
    by safeguarded cubic interpolation).

    Args:
        obj_func: ``obj_func(x, t, d) -> (loss, flat_grad)`` at ``x + t d``
            (:func:`bricks.optim._flat.directional_evaluate`).
        x: the flat starting point (passed through to ``obj_func``).
        t: the first trial step.
        d: the search direction, shape ``(n,)``; must be a descent direction (``gtd < 0``).
        f, g, gtd: loss, flat gradient and slope ``g . d`` at ``x``.
        c1, c2: the sufficient-decrease and curvature constants (``0 < c1 < c2 < 1``).
        tolerance_change: stop zooming once the bracket is this short (times ``max|d|``).
        max_ls: the most function evaluations to spend.

    Returns:
        ``(f_new, g_new, t, evaluations)``: loss and gradient at the chosen step, the step,
        and how many times ``obj_func`` ran.
    """
    d_norm = abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new.copy()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [t]
            bracket_f = [f_new]
            bracket_g = [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket = [t_prev, t]
            bracket_f = [f_prev, f_new]
            bracket_g = [g_prev, g_new.copy()]
            bracket_gtd = [gtd_prev, gtd_new]
            break
        # extrapolate: the next trial lies between 1.01 t and 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                              bounds=(min_step, max_step))
        t_prev = tmp
        f_prev = f_new
        g_prev = g_new.copy()
        gtd_prev = gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:  # out of evaluations while bracketing
        bracket = [0, t]
        bracket_f = [f, f_new]
        bracket_g = [g, g_new]

    # zoom: shrink the bracket [low, high] until a point satisfies the conditions
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                              bracket[1], bracket_f[1], bracket_gtd[1])
        # Close to an end of the bracket twice in a row (or outside it): move to 10% of the
        # bracket's length from that end, so the bracket keeps shrinking.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # no sufficient decrease, or not below the low end: t becomes the high end
            bracket[high_pos] = t
            bracket_f[high_pos] = f_new
            bracket_g[high_pos] = g_new.copy()
            bracket_gtd[high_pos] = gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # the strong Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high end becomes the new low end
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos] = t
            bracket_f[low_pos] = f_new
            bracket_g[low_pos] = g_new.copy()
            bracket_gtd[low_pos] = gtd_new

    t = bracket[low_pos]
    f_new = bracket_f[low_pos]
    g_new = bracket_g[low_pos]
    return f_new, g_new, t, ls_func_evals


def backtracking(value_at, f, gtd, t=1.0, c1=1e-4, shrink=0.5, max_ls=20, slack=0.0):
    """Backtracking (Armijo) line search: the first ``t, t*shrink, t*shrink^2, ...`` with
    ``f(x + t d) <= f(x) + c1 t g.d + slack``.

    ``slack`` (a few ulps of ``|f|``) lets a step through whose predicted decrease is below
    the rounding error of ``f`` itself, as happens in the last iterations of Newton's method.

    Args:
        value_at: ``value_at(t) -> loss`` at ``x + t d`` (a float).
        f, gtd: loss and slope ``g . d`` at ``x`` (``gtd < 0``).
        t: the first trial step.
        c1: the sufficient-decrease constant.
        shrink: the factor between trials, in (0, 1).
        max_ls: the most trials.

    Returns:
        ``(t, f_new, first_f, evaluations)``: the accepted step and its loss (``t = None``
        when no trial was accepted; ``f_new`` is then the last trial's loss), the loss at the
        first trial, and the number of evaluations.
    """
    first_f = None
    f_new = f
    for k in range(max_ls):
        f_new = value_at(t)
        if k == 0:
            first_f = f_new
        if f_new <= f + c1 * t * gtd + slack:
            return t, f_new, first_f, k + 1
        t = t * shrink
    return None, f_new, first_f, max_ls


def _restore(value, like):
    """A saved state entry as live state: arrays copied to the parameters' dtype and
    array module, lists and tuples entry by entry, numbers as they are."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_restore(v, like) for v in value)
    if hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
        return get_array_module(like).asarray(value).astype(like.dtype, copy=True)
    return copy.deepcopy(value)


def _as_tensors(state):
    """Wrap the arrays (not the 0-d ones: numbers) of a flat state as Tensors, in place."""
    def wrap(v):
        if isinstance(v, list):
            return [wrap(a) for a in v]
        if hasattr(v, "dtype") and getattr(v, "ndim", 0) > 0 and not isinstance(v, Tensor):
            return const(v)
        return v
    for k in state:
        state[k] = wrap(state[k])
    return state


def _as_arrays(state):
    """The inverse of :func:`_as_tensors` (the arrays are shared, not copied)."""
    def unwrap(v):
        if isinstance(v, list):
            return [unwrap(a) for a in v]
        return v.data if isinstance(v, Tensor) else v
    for k in state:
        state[k] = unwrap(state[k])
    return state


class ClosureOptimizer(Optimizer):
    """Base of the optimizers that see all parameters as one flat vector and re-evaluate
    the model through a closure (L-BFGS, BFGS, CG, Newton, Hessian-free).

    As in ``torch.optim.LBFGS``: a single parameter group, and the optimizer's state (one
    state for all parameters) stored as the first parameter's ``state`` entry, so that
    ``state_dict()`` keeps PyTorch's layout.  Subclasses call :meth:`_check_closure` first
    in ``step``.
    """

    requires_closure = True

    def __init__(self, params, defaults):
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options "
                             f"(parameter groups): it optimizes one flat vector")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if getattr(self, "param_groups", None):
            raise ValueError(f"{type(self).__name__} doesn't support per-parameter options "
                             f"(parameter groups): it optimizes one flat vector")
        super().add_param_group(param_group)

    def step(self, closure=None):
        """One step of the method (see the class); returns the loss at the starting point.

        The state holds Tensors between steps, as PyTorch's does (``opt.state[p]["d"]``);
        the method itself works on their arrays.
        """
        self._check_closure(closure)
        state = self._flat_state
        _as_arrays(state)
        try:
            return self._step(closure)
        finally:
            _as_tensors(state)

    def _step(self, closure):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_closure(self, closure):
        if closure is None or not callable(closure):
            name = type(self).__name__
            raise TypeError(
                f"{name}.step() needs a closure: a function that re-evaluates the model and "
                f"returns the loss, e.g. opt.step(closure) with {self._closure_example}; "
                f"got {closure!r}")

    _closure_example = ("def closure(): opt.zero_grad(); loss = loss_fn(model(x), y); "
                        "loss.backward(); return loss")

    def _check_int(self, group, name, low=1):
        value = group.get(name)
        if name in group and (isinstance(value, bool) or not isinstance(value, int)
                              or value < low):
            raise self._invalid(name, value, f"an integer >= {low}")

    def _check_size(self, group):
        """The dense methods (BFGS, Newton) store an n x n matrix: refuse large n early."""
        if "max_params" not in group or "params" not in group:
            return
        n = _flat.numel(group["params"])
        if n > group["max_params"]:
            name = type(self).__name__
            raise ValueError(
                f"{name}: the model has {n} parameters, more than max_params="
                f"{group['max_params']}; {name} stores an {n} x {n} matrix. Use LBFGS, "
                f"ConjugateGradient or HessianFree for large models, or raise max_params")

    @property
    def _flat_state(self) -> dict:
        return self.state[self._params[0]]

    def load_state_dict(self, state_dict):
        """Restore a snapshot from :meth:`state_dict`: hyperparameters and the flat state
        (history vectors, matrices, step counts), copied to the parameters' dtype."""
        if not isinstance(state_dict, dict) or "state" not in state_dict:
            return super().load_state_dict(state_dict)
        saved = dict(state_dict["state"])
        flat = None
        for key in (0, "0"):
            if key in saved:
                flat = saved.pop(key)
        super().load_state_dict({**state_dict, "state": saved})
        if flat is not None:
            like = self._params[0].data
            self.state[self._params[0]] = _as_tensors({k: _restore(v, like)
                                                       for k, v in flat.items()})


class WolfeOptimizer(ClosureOptimizer):
    """The loop of BFGS and nonlinear CG: each ``step(closure)`` runs up to ``max_iter``
    iterations of *direction* (the subclass's :meth:`_direction`), *strong-Wolfe line
    search* from the trial step :meth:`_initial_step`, *move*; with the stopping tests of
    ``torch.optim.LBFGS`` (``tolerance_grad`` on ``max|g|``, ``tolerance_change`` on the
    step and on the change of the loss, ``max_eval`` closure calls).

    The flat state holds ``n_iter``, ``func_evals``, and, from the last iteration, ``d``
    (direction), ``t`` (step), ``gtd`` (slope ``g . d``), ``prev_flat_grad`` and
    ``prev_loss``; subclasses add their own entries.
    """

    def _check_hyperparameters(self, group):
        self._require(group, "lr")
        self._check_int(group, "max_iter")
        self._check_int(group, "max_eval")
        self._require(group, "tolerance_grad")
        self._require(group, "tolerance_change")
        for name in ("c1", "c2"):
            self._require(group, name, 0.0, 1.0, high_open=True)
            if group.get(name) == 0:
                raise self._invalid(name, 0, f"0 < {name} < 1")
        if "c1" in group and "c2" in group and not group["c1"] < group["c2"]:
            raise self._invalid("c2", group["c2"], f"c1 < c2 < 1 (c1={group['c1']})")

    def _direction(self, state, flat_grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def _initial_step(self, state, flat_grad, d, gtd):
        """The first trial step; by default LBFGS's: ``min(1, 1/|g|_1) * lr`` on the very
        first iteration, ``lr`` after."""
        lr = self.param_groups[0]["lr"]
        if state["n_iter"] == 1:
            return min(1.0, 1.0 / abs(flat_grad).sum()) * lr
        return lr

    def _step(self, closure):
        """Up to ``max_iter`` iterations; returns the loss at the starting point."""
        group = self.param_groups[0]
        params = self._params
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self._flat_state
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = _flat.closure_loss(_flat.evaluate_closure(closure, params))
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = _flat.flat_grad(params)
        if abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            d = self._direction(state, flat_grad)
            gtd = flat_grad.dot(d)
            t = self._initial_step(state, flat_grad, d, gtd)
            state["prev_flat_grad"] = flat_grad.copy()
            state["prev_loss"] = prev_loss = loss
            state["d"], state["t"], state["gtd"] = d, t, gtd
            if gtd > -tolerance_change:
                break

            x_init = _flat.flat_data(params)

            def obj_func(x, t, d):
                return _flat.directional_evaluate(closure, params, x, t, d)

            loss, flat_grad, t, ls_func_evals = strong_wolfe(
                obj_func, x_init, t, d, loss, flat_grad, gtd, c1=group["c1"], c2=group["c2"],
                tolerance_change=tolerance_change, max_ls=25)
            # The line search has its own budget (25, torch's default), as in torch's LBFGS:
            # tying it to max_eval left max_iter=1 steps with none, and the step length at 0.
            _flat.add_flat_(params, d, t)
            state["t"] = t
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval:
                break
            if abs(flat_grad).max() <= tolerance_grad:
                break
            if abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
        return orig_loss
