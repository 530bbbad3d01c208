"""RMSProp: AdaGrad with a leaky average of the squared gradients."""

from __future__ import annotations

from bricks.optim.optimizer import Optimizer, _buffer, _leaky_square_, _lerp_

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSProp (Tieleman and Hinton, 2012, lecture 6e of their Coursera course).

    AdaGrad's sum of squared gradients only grows, so its steps die out.  RMSProp replaces
    it with a *leaky* (exponentially decaying) average, which forgets old gradients at the
    decay rate ``alpha``.  In the lectures' notation, with ``g = grad f(x)``::

        grad_squared = alpha * grad_squared + (1 - alpha) * g * g
        x -= lr * g / (sqrt(grad_squared) + eps)

    ``centered=True`` also keeps a leaky average of the gradient, ``g_avg``, and divides by
    an estimate of the gradient's standard deviation, ``sqrt(grad_squared - g_avg**2)``,
    instead of its root mean square.  ``momentum`` mu adds a velocity on top of the scaled
    step: ``buf = mu * buf + g / (sqrt(...) + eps);  x -= lr * buf``.  ``weight_decay``
    adds ``wd * x`` to ``g``, ``maximize`` uses ``-g``.

    PyTorch's form differs from the lecture slides in where ``eps`` sits (outside the
    square root here, as in PyTorch; Hinton's slides leave it out) and in calling the
    decay rate ``alpha`` (often ``rho`` or ``beta`` in the lectures, default 0.99 vs 0.9).

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-2).
        alpha: decay rate of the leaky average (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient.
        momentum: momentum factor (0 turns it off).
        centered: divide by the gradient's estimated variance instead of its second moment.
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``square_avg``; ``momentum_buffer`` with momentum;
    ``grad_avg`` when centered.

    Example:
        >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = bricks.optim.RMSprop([w], lr=0.01)
        >>> for _ in range(500):
        ...     opt.zero_grad()
        ...     ((w - 1.0) ** 2).sum().backward()   # minimum at w = 1
        ...     opt.step()
        >>> bool(abs(w.data - 1.0).max() < 0.05)
        True
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        for name in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            self._require(group, name)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            alpha, centered = group["alpha"], group["centered"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            constants = ("lr", "eps", "momentum")
            for p, xp, (lr, eps, momentum) in self._params_with_grad(group, *constants):
                state, g, (tmp,) = self._start_update(p, ("square_avg",), weight_decay,
                                                      maximize, 1)
                if momentum > 0 and "momentum_buffer" not in state:
                    state["momentum_buffer"] = _buffer(xp.zeros_like(p.data))
                if centered and "grad_avg" not in state:
                    state["grad_avg"] = _buffer(xp.zeros_like(p.data))
                square_avg = state["square_avg"].data
                _leaky_square_(square_avg, g, alpha, tmp)
                if centered:
                    grad_avg = state["grad_avg"].data
                    _lerp_(grad_avg, g, 1 - alpha, tmp)
                    xp.multiply(grad_avg, grad_avg, out=tmp)
                    xp.subtract(square_avg, tmp, out=tmp)
                    xp.sqrt(tmp, out=tmp)
                else:
                    xp.sqrt(square_avg, out=tmp)
                tmp += eps
                xp.divide(g, tmp, out=tmp)
                if momentum > 0:
                    buf = state["momentum_buffer"].data
                    buf *= momentum
                    buf += tmp
                    xp.multiply(buf, lr, out=tmp)
                else:
                    tmp *= lr
                p.data -= tmp
                p._vc[0] += 1  # an in-place change: graphs that saved p must notice
        return loss
