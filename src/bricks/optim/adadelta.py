"""Adadelta: RMSProp whose step carries its own units, with no learning rate to tune."""

from __future__ import annotations

from bricks.backend import get_array_module
from bricks.optim.optimizer import (
    Optimizer,
    _gradient,
    _leaky_square_,
    _scalars,
    _work,
    _zero_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012).

    Like RMSProp it keeps a leaky average of squared gradients, and it also keeps one of
    the squared *updates*; their ratio gives the step the units of the parameter (Zeiler's
    argument from Newton's method), so no global learning rate is needed.  In the lectures'
    notation, with ``g = grad f(x)`` and decay ``rho``::

        E_g2  = rho * E_g2 + (1 - rho) * g * g
        delta = sqrt(E_dx2 + eps) / sqrt(E_g2 + eps) * g
        E_dx2 = rho * E_dx2 + (1 - rho) * delta * delta
        x    -= lr * delta

    The paper has no ``lr`` (it is 1, PyTorch's default); PyTorch adds it as a plain
    factor on the step, and ``weight_decay`` (``g += wd * x``) and ``maximize``.  Here
    ``eps`` sits inside both square roots, as in the paper and in PyTorch; it also seeds
    the first steps, whose size is about ``sqrt(eps)``.

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: factor on the step (default 1.0).
        rho: decay rate of both running averages (default 0.9).
        eps: added inside the square roots (default 1e-6).
        weight_decay: L2 penalty coefficient.
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``square_avg`` (E_g2), ``acc_delta`` (E_dx2).

    Example:
        >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = bricks.optim.Adadelta([w], lr=1.0)
        >>> before = float(((w - 1.0) ** 2).sum())
        >>> for _ in range(500):
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     opt.step()
        >>> bool(float(((w - 1.0) ** 2).sum()) < before)
        True
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *,
                 maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._require(group, "lr")
        self._require(group, "rho", 0.0, 1.0)
        self._require(group, "eps")
        self._require(group, "weight_decay")

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            dtype = None
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = get_array_module(p.data)
                if p.data.dtype is not dtype:  # once per group, unless the dtypes differ
                    dtype = p.data.dtype
                    lr_, eps_ = _scalars(dtype, lr, eps)
                state = self.state[p]
                if not state:
                    _zero_state(state, p, ("square_avg", "acc_delta"))
                state["step"] += 1
                work = _work(self, p, 3 if maximize or weight_decay != 0 else 2)
                g = _gradient(p, weight_decay, maximize, work[0])
                tmp, delta = work[1:3] if g is work[0] else work[0:2]
                square_avg, acc_delta = state["square_avg"].data, state["acc_delta"].data
                _leaky_square_(square_avg, g, rho, tmp)
                xp.add(square_avg, eps_, out=tmp)
                xp.sqrt(tmp, out=tmp)                   # std
                xp.add(acc_delta, eps_, out=delta)
                xp.sqrt(delta, out=delta)
                delta /= tmp
                delta *= g
                _leaky_square_(acc_delta, delta, rho, tmp)
                xp.multiply(delta, lr_, out=tmp)
                p.data -= tmp
                p._vc[0] += 1  # an in-place change: graphs that saved p must notice
        return loss
