"""AdaGrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from bricks.backend import get_array_module
from bricks.optim.optimizer import Optimizer, _buffer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan and Singer, 2011).

    Each coordinate gets its own step size, divided by the square root of the sum of all
    its squared gradients so far: the lectures' "total update path length".  Coordinates
    with large or frequent gradients slow down, rare ones keep moving.  In the lectures'
    notation, with ``g = grad f(x)``::

        grad_squared += g * g
        x -= lr * g / (sqrt(grad_squared) + eps)

    Because ``grad_squared`` only grows, the effective learning rate only shrinks: fine for
    convex problems, often too early a stop for neural networks (RMSProp's fix is a leaky
    average).  PyTorch's extras, all off by default: ``lr_decay`` divides the learning rate
    at step t by ``1 + (t - 1) * lr_decay``, ``initial_accumulator_value`` starts
    ``grad_squared`` above zero, ``weight_decay`` adds ``wd * x`` to ``g``, ``maximize``
    uses ``-g``.  The textbook writes ``eps`` inside the square root in some versions;
    PyTorch (and this class) adds it outside.

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty coefficient.
        initial_accumulator_value: starting value of the sum of squares (per group here;
            PyTorch uses the constructor's value for every group).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.

    State per parameter (made at construction, as in PyTorch): ``step`` (a float) and
    ``sum`` (the accumulated squared gradients).

    Example:
        >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = bricks.optim.Adagrad([w], lr=1.0)
        >>> for _ in range(100):
        ...     opt.zero_grad()
        ...     ((w - 1.0) ** 2).sum().backward()   # minimum at w = 1
        ...     opt.step()
        >>> w.data.round(3)
        array([1., 1.], dtype=float32)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _check_hyperparameters(self, group):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            self._require(group, name)

    def _init_state(self, p, group):
        xp = get_array_module(p.data)
        state = self.state[p]
        state["step"] = 0.0
        state["sum"] = _buffer(xp.full(p.data.shape, group["initial_accumulator_value"],
                                       dtype=p.data.dtype))
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, lr_decay = group["lr"], group["lr_decay"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            for p, xp, (eps,) in self._params_with_grad(group, "eps"):
                if not self.state[p]:  # a group added after construction
                    self._init_state(p, group)
                state, g, (tmp,) = self._start_update(p, (), weight_decay, maximize, 1)
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                total = state["sum"].data
                xp.multiply(g, g, out=tmp)
                total += tmp
                xp.sqrt(total, out=tmp)
                tmp += eps
                xp.divide(g, tmp, out=tmp)
                tmp *= clr
                p.data -= tmp
                p._vc[0] += 1  # an in-place change: graphs that saved p must notice
        return loss
