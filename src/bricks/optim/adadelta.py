"""Adadelta: RMSProp whose step carries its own units, with no learning rate to tune."""

from __future__ import annotations

from bricks.optim.optimizer import Optimizer, _leaky_square_

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
            rho, weight_decay, maximize = group["rho"], group["weight_decay"], group["maximize"]
            for p, xp, (lr, eps) in self._params_with_grad(group, "lr", "eps"):
                state, g, (tmp, delta) = self._start_update(
                    p, ("square_avg", "acc_delta"), weight_decay, maximize, 2)
                square_avg, acc_delta = state["square_avg"].data, state["acc_delta"].data
                _leaky_square_(square_avg, g, rho, tmp)
                xp.add(square_avg, eps, out=tmp)
                xp.sqrt(tmp, out=tmp)                   # std
                xp.add(acc_delta, eps, out=delta)
                xp.sqrt(delta, out=delta)
                delta /= tmp
                delta *= g
                _leaky_square_(acc_delta, delta, rho, tmp)
                xp.multiply(delta, lr, out=tmp)
                p.data -= tmp
                p._vc[0] += 1  # an in-place change: graphs that saved p must notice
        return loss
