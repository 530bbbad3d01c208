"""The common base of the closure-based (second-order) optimizers.

L-BFGS, BFGS, conjugate gradients, Newton and Hessian-free see all parameters as one flat
vector (through :mod:`bricks.optim._flat`) and re-evaluate the model through a closure,
``step(closure)``.  :class:`ClosureOptimizer` holds what the five share: one parameter
group, the required closure, a single state that ``state_dict`` / ``load_state_dict``
carry so that resuming continues the same trajectory, and the pieces of a step that
repeat (the first evaluation, the stopping tests, a line search that leaves the
parameters at the accepted point).  :class:`WolfeOptimizer` is the loop of BFGS and CG.
The line searches themselves live in :mod:`bricks.optim._line_search`.

A training loop needs only the class attributes (:class:`~bricks.optim.Optimizer`):
``requires_closure`` is True here, and ``closure_does_backward`` False for Newton and
Hessian-free, which differentiate the closure's loss themselves.
"""

from __future__ import annotations

import copy

from bricks.autograd import enable_grad
from bricks.backend import get_array_module
from bricks.optim import _flat
from bricks.optim._line_search import strong_wolfe
from bricks.optim.optimizer import Optimizer
from bricks.tensor import Tensor, const

__all__ = ["ClosureOptimizer", "WolfeOptimizer", "iteration_defaults"]


def iteration_defaults(lr, max_iter, max_eval, tolerance_grad, tolerance_change, **more):
    """The options of the iterating methods (L-BFGS, BFGS, CG), in their order, with
    ``max_eval`` defaulting to ``max_iter * 5 // 4`` as in ``torch.optim.LBFGS``."""
    if max_eval is None and isinstance(max_iter, int):
        max_eval = max_iter * 5 // 4
    return dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                tolerance_change=tolerance_change, **more)


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

    def _check_iteration_options(self, group):
        """Check the options of :func:`iteration_defaults`."""
        self._require(group, "lr")
        self._check_int(group, "max_iter")
        self._check_int(group, "max_eval")
        self._require(group, "tolerance_grad")
        self._require(group, "tolerance_change")

    def _first_evaluation(self, closure):
        """The start of an L-BFGS, BFGS or CG step: count the call in the state, evaluate
        the closure at the starting point; returns ``(loss, flat_grad)``, the loss as the
        closure returned it, ``flat_grad`` None where ``max|g| <= tolerance_grad`` (a
        stationary point already: no iteration)."""
        state = self._flat_state
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = _flat.closure_loss(_flat.evaluate_closure(closure, self._params))
        state["func_evals"] += 1
        flat_grad = _flat.flat_grad(self._params)
        if abs(flat_grad).max() <= self.param_groups[0]["tolerance_grad"]:
            return orig_loss, None
        return orig_loss, flat_grad

    def _check_newton_options(self, group):
        """Check the options Newton and Hessian-free share: ``lr > 0``, ``damping``,
        ``tolerance_grad``, ``max_ls``."""
        self._require(group, "lr")
        if group.get("lr") == 0:
            raise self._invalid("lr", 0, "lr > 0")
        self._require(group, "damping")
        self._require(group, "tolerance_grad")
        self._check_int(group, "max_ls")

    def _done(self, n_iter, evals, flat_grad, d, t, loss, prev_loss) -> bool:
        """The stopping tests of ``torch.optim.LBFGS`` after an iteration: ``max_iter``
        iterations or ``max_eval`` evaluations spent, ``max|g| <= tolerance_grad``, or a
        step or a change of the loss below ``tolerance_change``."""
        group = self.param_groups[0]
        tolerance_change = group["tolerance_change"]
        return (n_iter == group["max_iter"] or evals >= group["max_eval"]
                or abs(flat_grad).max() <= group["tolerance_grad"]
                or abs(d * t).max() <= tolerance_change
                or abs(loss - prev_loss) < tolerance_change)

    def _evaluate_for_curvature(self, closure):
        """The start of a Newton or Hessian-free step: count the call in the state (and
        start the damping), evaluate the closure keeping its graph for a second
        differentiation; returns ``(out, loss, f)``: what the closure returned, the loss
        Tensor and its value as a float."""
        state = self._flat_state
        state.setdefault("n_iter", 0)
        state.setdefault("func_evals", 0)
        state.setdefault("damping", self.param_groups[0]["damping"])
        with enable_grad():  # double backward, even when step() runs under no_grad
            # keep_graph: a PyTorch-style closure's backward() must not free the graph
            out = _flat.evaluate_closure(closure, keep_graph=True)
        state["func_evals"] += 1
        loss = _flat.closure_loss(out, type(self).__name__)
        return out, loss, float(loss)

    def _search_along(self, closure, direction, search):
        """Run the line search ``search(value_at)`` along ``direction`` and move there.

        ``value_at(t)`` is the loss at ``x + t * direction`` (``x`` the current point,
        evaluated without gradients); ``search`` returns a tuple whose first entry is the
        accepted ``t``, or None for no step.  The parameters end at ``x + t * direction``
        (or stay at ``x``); the evaluations, ``search``'s last entry, are counted in the
        state.  Returns what ``search`` returned.
        """
        params, who = self._params, type(self).__name__
        x = _flat.flat_data(params)

        def value_at(t):
            _flat.set_flat_data_(params, x)
            _flat.add_flat_(params, direction, t)
            return _flat.evaluate_value(closure, who)

        result = search(value_at)
        self._flat_state["func_evals"] += result[-1]
        _flat.set_flat_data_(params, x)
        if result[0] is not None:
            _flat.add_flat_(params, direction, result[0])
        return result

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
        self._check_iteration_options(group)
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
        orig_loss, flat_grad = self._first_evaluation(closure)
        if flat_grad is None:
            return orig_loss
        group, params, state = self.param_groups[0], self._params, self._flat_state
        tolerance_change = group["tolerance_change"]
        loss, current_evals, n_iter = float(orig_loss), 1, 0
        while n_iter < group["max_iter"]:
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
            if self._done(n_iter, current_evals, flat_grad, d, t, loss, prev_loss):
                break
        return orig_loss
