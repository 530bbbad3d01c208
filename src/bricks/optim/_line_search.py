"""Line searches: the step length along a direction, for the closure-based optimizers.

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

The optimizers themselves share their base classes in :mod:`bricks.optim.closure`.

Example:
    >>> from bricks.optim._line_search import cubic_interpolate
    >>> # phi(t) = (t - 1)^2 from phi(0) = 1, phi'(0) = -2 and phi(3) = 4, phi'(3) = 4
    >>> float(cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0))
    1.0
"""

from __future__ import annotations

import math

__all__ = ["cubic_interpolate", "strong_wolfe", "backtracking"]


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
