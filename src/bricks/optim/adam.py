"""Adam (momentum + RMSProp + bias correction) and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from bricks.optim.optimizer import Optimizer, _buffer, _leaky_square_, _lerp_

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015): momentum and RMSProp together, with bias correction.

    Adam keeps a leaky average of the gradient (the *first moment*, momentum's velocity)
    and one of the squared gradient (the *second moment*, RMSProp's scale), and steps along
    the first divided by the square root of the second.  Both averages start at zero, so
    early on they are biased towards zero; dividing by ``1 - beta**t`` corrects that, which
    matters most at the first steps (without it the very first step would be huge, since
    the second moment is tiny).  In the lectures' notation, with ``g = grad f(x)`` at step
    ``t = 1, 2, ...``::

        first_moment  = beta1 * first_moment  + (1 - beta1) * g
        second_moment = beta2 * second_moment + (1 - beta2) * g * g
        first_unbias  = first_moment  / (1 - beta1 ** t)
        second_unbias = second_moment / (1 - beta2 ** t)
        x -= lr * first_unbias / (sqrt(second_unbias) + eps)

    PyTorch's (and this class's) arithmetic is the same update rearranged: it folds the
    first correction into the step size, ``lr / (1 - beta1**t)``, and divides
    ``sqrt(second_moment)`` by ``sqrt(1 - beta2**t)`` before adding ``eps``, which
    matches the formula above exactly (the paper's own algorithm puts ``eps`` in the same
    place).  ``amsgrad=True`` (Reddi et al., 2018) divides by the running *maximum* of the
    second moment instead, so the step size never grows.  ``weight_decay`` adds
    ``wd * x`` to ``g`` (L2 regularization, which Adam then rescales: see :class:`AdamW`
    for the decoupled form); ``maximize`` uses ``-g``.

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-3).
        betas: ``(beta1, beta2)``, the decay rates of the two moments (default
            (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty coefficient (coupled: added to the gradient).
        amsgrad: use the running maximum of the second moment.
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: shrink the weights directly (AdamW) instead of adding the
            penalty's gradient.

    State per parameter: ``step``, ``exp_avg`` (first moment), ``exp_avg_sq`` (second
    moment), and ``max_exp_avg_sq`` with amsgrad.

    Example:
        >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = bricks.optim.Adam([w], lr=0.1)
        >>> for _ in range(300):
        ...     opt.zero_grad()
        ...     ((w - 1.0) ** 2).sum().backward()   # minimum at w = 1
        ...     opt.step()
        >>> bool(abs(w.data - 1.0).max() < 1e-2)
        True
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._require(group, "lr")
        self._require(group, "eps")
        if "betas" in group:
            betas = group["betas"]
            if len(betas) != 2:
                raise self._invalid("betas", betas, "a pair (beta1, beta2)")
            for i, beta in enumerate(betas):
                if not 0.0 <= beta < 1.0:
                    raise self._invalid(f"betas[{i}]", beta, f"0 <= betas[{i}] < 1")
        self._require(group, "weight_decay")

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            lr, amsgrad = group["lr"], group["amsgrad"]
            beta1, beta2 = group["betas"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            decoupled = weight_decay != 0 and group["decoupled_weight_decay"]
            for p, xp, (eps,) in self._params_with_grad(group, "eps"):
                if decoupled:
                    p.data *= 1 - lr * weight_decay
                state, g, (tmp,) = self._start_update(
                    p, ("exp_avg", "exp_avg_sq"), 0.0 if decoupled else weight_decay, maximize, 1)
                if amsgrad and "max_exp_avg_sq" not in state:
                    state["max_exp_avg_sq"] = _buffer(xp.zeros_like(p.data))
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"].data, state["exp_avg_sq"].data
                _lerp_(exp_avg, g, 1 - beta1, tmp)
                _leaky_square_(exp_avg_sq, g, beta2, tmp)

                step_size = lr / (1 - beta1 ** t)
                bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
                if amsgrad:
                    max_sq = state["max_exp_avg_sq"].data
                    xp.maximum(max_sq, exp_avg_sq, out=max_sq)
                    xp.sqrt(max_sq, out=tmp)
                else:
                    xp.sqrt(exp_avg_sq, out=tmp)
                tmp /= bias_correction2_sqrt
                tmp += eps
                xp.divide(exp_avg, tmp, out=tmp)
                tmp *= step_size
                p.data -= tmp
                p._vc[0] += 1  # an in-place change: graphs that saved p must notice
        return loss


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019): Adam with *decoupled* weight decay.

    With :class:`Adam`'s ``weight_decay`` the penalty's gradient ``wd * x`` goes through
    the adaptive scaling, so weights with large gradients are barely regularized.  AdamW
    instead shrinks every weight directly, before the Adam step::

        x = x * (1 - lr * wd)
        (then the Adam update of x with the plain gradient g)

    PyTorch's default ``weight_decay`` for AdamW is 1e-2 (Adam's is 0).  The paper scales
    the decay by a schedule multiplier rather than by ``lr``; PyTorch (and this class)
    multiply by ``lr``, so a learning-rate scheduler also scales the decay.

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (default 1e-3).
        betas: ``(beta1, beta2)`` (default (0.9, 0.999)).
        eps: added to the denominator (default 1e-8).
        weight_decay: decoupled decay coefficient (default 1e-2).
        amsgrad: use the running maximum of the second moment.
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
        >>> opt = bricks.optim.AdamW([w], lr=0.1, weight_decay=0.1)
        >>> for _ in range(300):
        ...     opt.zero_grad()
        ...     ((w - 1.0) ** 2).sum().backward()
        ...     opt.step()
        >>> bool(abs(w.data - 1.0).max() < 0.1)   # the decay pulls slightly towards 0
        True
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
