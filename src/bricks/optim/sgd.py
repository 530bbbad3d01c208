"""Stochastic gradient descent, with momentum ("friction" rho) and Nesterov's look-ahead.

The first optimizer to read: everything else in ``bricks.optim`` is this loop with a smarter
step.  Gradient descent walks downhill, ``x = x - lr * grad f(x)``; *stochastic* gradient
descent does the same with the gradient of a mini-batch's loss, an unbiased but noisy
estimate of the full gradient that costs a fraction of it.
"""

from __future__ import annotations

from bricks.optim.optimizer import Optimizer, _buffer, _gradient

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum and Nesterov momentum.

    Plain (full-batch) **gradient descent** is this class fed the gradient of the loss on
    the *whole* dataset at every step; with mini-batches it is *stochastic* gradient
    descent.  In the lectures' notation, with gradient ``g = grad f(x)``:

    * vanilla:   ``x = x - lr * g``
    * momentum with friction ``rho`` (velocity ``v``, a running sum of gradients):
      ``v = rho * v + g;  x = x - lr * v``
    * Nesterov momentum (look ahead along the velocity, then correct):
      ``v = rho * v + g;  x = x - lr * (g + rho * v)``

    With ``dampening`` d the velocity update reads ``v = rho * v + (1 - d) * g`` (the first
    step sets ``v = g``).  ``weight_decay`` wd adds the L2 penalty's gradient ``wd * x`` to
    ``g`` first; ``maximize`` uses ``-g``.

    **PyTorch's form differs from the textbook's.**  The lectures (and Sutskever et al.,
    2013) often write ``v = rho * v - lr * g;  x = x + v``, folding the learning rate into
    the velocity.  PyTorch (and this class) keeps ``v = rho * v + g`` and multiplies by
    ``lr`` at the end: the two agree for a constant learning rate (this ``v`` is the other
    one divided by ``-lr``), but differ when a scheduler changes ``lr``, where PyTorch's
    velocity does not remember the old learning rates.  Nesterov's textbook form,
    ``v = rho * v - lr * grad f(x + rho * v)``, is rewritten in the variable
    ``x + rho * v`` so that only the gradient at the current point is needed.

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-3, as in PyTorch 2.13).
        momentum: the friction ``rho`` (0 turns momentum off).
        dampening: scales the new gradient in the velocity by ``1 - dampening``.
        weight_decay: L2 penalty coefficient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``momentum_buffer`` (the velocity ``v``), once momentum is on.

    Example:
        >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = bricks.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(200):
        ...     opt.zero_grad()
        ...     loss = (w * w).sum()   # minimum at w = 0
        ...     loss.backward()
        ...     opt.step()
        >>> bool(abs(w.data).max() < 1e-3)
        True
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._require(group, "lr")
        self._require(group, "momentum")
        self._require(group, "weight_decay")
        if group.get("nesterov") and (group.get("momentum", 0) <= 0
                                      or group.get("dampening", 0) != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={group.get('momentum')!r}, dampening={group.get('dampening')!r}"
            )

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        # In place, in the optimizer's scratch arrays (_work): no array is made per step.
        for group in self.param_groups:
            dampening, nesterov = group["dampening"], group["nesterov"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            n_work = 2 if nesterov and (weight_decay != 0 or maximize) else 1
            for p, xp, (lr, momentum) in self._params_with_grad(group, "lr", "momentum"):
                work = self._work(p, n_work)
                g = _gradient(p, weight_decay, maximize, work[0])
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = g.copy()
                        state["momentum_buffer"] = _buffer(buf)
                    else:
                        buf = buf.data
                        buf *= momentum
                        if dampening != 0:
                            g = xp.multiply(g, 1 - dampening, out=work[0])
                        buf += g
                    if nesterov:  # g + momentum * buf
                        tmp = work[1] if g is work[0] else work[0]
                        xp.multiply(buf, momentum, out=tmp)
                        tmp += g
                        g = tmp
                    else:
                        g = buf
                p.data -= xp.multiply(g, lr, out=work[0])
                p._vc[0] += 1  # an in-place change: graphs that saved p must notice
        return loss
