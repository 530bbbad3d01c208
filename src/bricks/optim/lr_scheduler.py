"""Learning-rate schedules: change ``group["lr"]`` of an optimizer as training goes on.

**The learning rate should decrease.**  The lectures' rule of thumb: a large learning rate
makes fast progress at first but then bounces around the minimum (the noise of stochastic
gradients does not average out), a small one is stable but slow; so start large and decay
it over time.  For SGD the classical condition (Robbins and Monro, 1951) is that the steps
``lr_t`` sum to infinity (we can still reach any point) while their squares have a finite
sum (the noise dies out), e.g. ``lr_t ~ 1/t``.  In practice: step decay (:class:`StepLR`,
:class:`MultiStepLR`), exponential (:class:`ExponentialLR`), cosine
(:class:`CosineAnnealingLR`), decay when the validation loss stalls
(:class:`ReduceLROnPlateau`), and, for large batches or Adam, a short linear *warm-up*
first (:class:`LinearLR`, :class:`OneCycleLR`), because the very first steps of a fresh
network (and of Adam's not-yet-calibrated second moments) are the least reliable.

Usage is PyTorch's: build the scheduler after the optimizer, call ``scheduler.step()``
once per epoch (or per batch for OneCycleLR), after ``optimizer.step()``.  Building a
scheduler already sets the first learning rate.  ``get_last_lr()`` returns the current
learning rates, ``state_dict()`` / ``load_state_dict()`` save and resume (plain numbers,
lists and strings only).  Values equal PyTorch's schedulers step by step; the deprecated
``step(epoch)`` form is not supported.

Example:
    >>> w = bricks.zeros(3, requires_grad=True)
    >>> opt = bricks.optim.SGD([w], lr=1.0)
    >>> sched = bricks.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     opt.step()            # (after the epoch's forward/backward passes)
    ...     lrs.append(sched.get_last_lr()[0])
    ...     sched.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
"""

from __future__ import annotations

import copy
import math
import types

from bricks.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR",
           "CosineAnnealingLR", "LinearLR", "ReduceLROnPlateau", "OneCycleLR"]


def _per_group(name, optimizer, value):
    """``value`` as one entry per parameter group (a list must have one per group)."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have one value per parameter group: got "
                             f"{len(value)} values for {len(optimizer.param_groups)} groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _check_choice(who, name, value, choices):
    """Raise ValueError naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        expected = " or ".join(repr(c) for c in choices)
        raise ValueError(f"{who}: invalid {name}={value!r} (expected {expected})")


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base class of the schedules: subclasses implement :meth:`get_lr`.

    Args:
        optimizer: the optimizer whose ``group["lr"]`` values this schedules.
        last_epoch: index of the last epoch; -1 (default) starts a fresh schedule (and
            records each group's ``"initial_lr"``), other values resume one.

    Attributes:
        base_lrs: each group's ``"initial_lr"``.
        last_epoch: how many times :meth:`step` was called (0 right after construction).
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr', which resuming a "
                                   f"schedule with last_epoch={last_epoch} needs; load the "
                                   f"optimizer's state_dict first, or use last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The learning rates for epoch ``last_epoch`` (called by :meth:`step`)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def get_last_lr(self) -> list:
        """The learning rate of each parameter group, as last set by this scheduler."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set each group's learning rate."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """The scheduler's state: its attributes except the optimizer (plain values)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from :meth:`state_dict` (load the optimizer's state too)."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def _group_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(epoch)``: any schedule as a function.

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the epoch (an int) giving a factor, or a list of them, one
            per parameter group.
        last_epoch: see :class:`LRScheduler`.

    Only the ``__dict__`` of callable *objects* is saved in ``state_dict`` (functions and
    lambdas are code, not state), as in PyTorch.

    Example:
        >>> opt = bricks.optim.SGD([bricks.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = bricks.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
        >>> sched.step(); sched.step()
        >>> round(sched.get_last_lr()[0], 6)
        0.033333
    """

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"LambdaLR: expected {len(optimizer.param_groups)} "
                                 f"lr_lambdas (one per group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType)
                               else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(copy.deepcopy(state))
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(copy.deepcopy(saved))

    def get_lr(self) -> list:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (step decay).

    Closed form: ``lr = initial_lr * gamma ** (epoch // step_size)``.

    Args:
        optimizer: the optimizer.
        step_size: epochs between decays.
        gamma: the factor (default 0.1).
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: invalid step_size={step_size!r} (expected a positive "
                             f"int)")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each of the ``milestones`` epochs.

    Closed form: ``lr = initial_lr * gamma ** (number of milestones <= epoch)``; a
    milestone listed twice decays twice.

    Args:
        optimizer: the optimizer.
        milestones: epoch indices (any order).
        gamma: the factor (default 0.1).
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        hits = self.milestones.count(self.last_epoch)
        if hits == 0:
            return self._group_lrs()
        return [lr * self.gamma ** hits for lr in self._group_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = initial_lr * gamma**epoch``.

    Args:
        optimizer: the optimizer.
        gamma: the factor per epoch.
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._group_lrs()
        return [lr * self.gamma for lr in self._group_lrs()]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing (Loshchilov and Hutter, SGDR, without the restarts).

    Closed form, with ``T_cur`` the epoch::

        lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_max)) / 2

    Like PyTorch, each step computes the new rate *recursively* from the current
    ``group["lr"]`` (so another scheduler or the user may change it in between), which
    equals the closed form when nothing else touches the rate.  After ``T_max`` epochs the
    rate climbs back along the cosine (period ``2 * T_max``).

    Args:
        optimizer: the optimizer.
        T_max: epochs from ``initial_lr`` down to ``eta_min``.
        eta_min: the smallest learning rate (default 0).
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: invalid T_max={T_max!r} (expected > 0)")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        lrs, epoch, T = self._group_lrs(), self.last_epoch, self.T_max
        if self._is_initial:
            return lrs
        if self._step_count == 1 and epoch > 0:  # resumed with last_epoch: closed form
            return [self.eta_min + (base - self.eta_min) * (1 + math.cos(epoch * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (epoch - 1 - T) % (2 * T) == 0:  # the bottom of the cosine: recursion would be 0/0
            return [lr + (base - self.eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for lr, base in zip(lrs, self.base_lrs)]
        return [(1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
                * (lr - self.eta_min) + self.eta_min for lr in lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): the factor on ``initial_lr`` goes linearly from
    ``start_factor`` to ``end_factor`` over ``total_iters`` epochs, then stays.

    Closed form: ``lr = initial_lr * (start + (end - start) * min(epoch, total_iters) /
    total_iters)``; computed recursively from the current rate, as in PyTorch.

    Args:
        optimizer: the optimizer.
        start_factor: factor at epoch 0, in (0, 1] (default 1/3).
        end_factor: factor from ``total_iters`` on, in [0, 1] (default 1).
        total_iters: length of the ramp in epochs (default 5).
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: invalid start_factor={start_factor!r} (expected "
                             f"0 < start_factor <= 1)")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: invalid end_factor={end_factor!r} (expected "
                             f"0 <= end_factor <= 1)")
        if not total_iters > 0:
            raise ValueError(f"LinearLR: invalid total_iters={total_iters!r} (expected > 0)")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        lrs, epoch = self._group_lrs(), self.last_epoch
        if epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if self._is_initial or epoch > self.total_iters:
            return lrs
        diff = self.end_factor - self.start_factor
        factor = 1.0 + diff / (self.total_iters * self.start_factor + (epoch - 1) * diff)
        return [lr * factor for lr in lrs]


class ReduceLROnPlateau(LRScheduler):
    """Divide the learning rate when a metric (e.g. the validation loss) stops improving.

    ``step(metric)`` once per epoch.  The metric *improves* when it beats the best so far
    by more than ``threshold`` (``rel``: ``best * (1 - threshold)`` in min mode, ``best *
    (1 + threshold)`` in max mode; ``abs``: ``best -/+ threshold``).  After more than
    ``patience`` epochs without improvement, each group's rate becomes ``max(lr * factor,
    min_lr)`` (changes smaller than ``eps`` are skipped), then ``cooldown`` epochs pass
    before bad epochs count again.

    Args:
        optimizer: the optimizer.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: multiplies the rate on a reduction (< 1; default 0.1).
        patience: bad epochs tolerated before reducing (default 10).
        threshold: the margin an improvement must beat (default 1e-4).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: epochs to wait after a reduction (default 0).
        min_lr: lower bound, one number or one per group (default 0).
        eps: smallest change of the rate worth making (default 1e-8).

    Example:
        >>> opt = bricks.optim.SGD([bricks.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = bricks.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
        >>> for val_loss in [3.0, 2.0, 2.0, 2.0, 2.0]:
        ...     sched.step(val_loss)
        >>> sched.get_last_lr()
        [0.5]
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0.0, eps: float = 1e-8):
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: invalid factor={factor!r} (expected < 1)")
        _check_optimizer(optimizer)
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} "
                                 f"min_lr values (one per group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        _check_choice("ReduceLROnPlateau", "mode", mode, ("min", "max"))
        _check_choice("ReduceLROnPlateau", "threshold_mode", threshold_mode, ("rel", "abs"))
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._group_lrs()
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def get_lr(self) -> list:
        return self._group_lrs()

    def step(self, metrics) -> None:  # type: ignore[override]
        """Record this epoch's metric and reduce the rate if it has stalled."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._group_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer now has {len(groups)} "
                                   f"parameter groups but min_lr has {len(self.min_lrs)} "
                                   f"values; update the scheduler's min_lrs")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin, 2018): warm up to ``max_lr``, then anneal far below.

    Per *batch*: over the first ``pct_start`` of ``total_steps`` the rate rises from
    ``max_lr / div_factor`` to ``max_lr``, then falls to ``initial_lr / final_div_factor``.
    Momentum (SGD's ``momentum``, or Adam's ``beta1``) moves the opposite way, between
    ``max_momentum`` and ``base_momentum``, when ``cycle_momentum`` is on.  With
    ``three_phase`` the rate comes back down to ``initial_lr`` symmetrically before the
    final annealing phase (fast.ai's variant).  Each phase interpolates with a half cosine
    (``anneal_strategy="cos"``) or a straight line (``"linear"``).

    Args:
        optimizer: the optimizer (with ``momentum`` or ``betas`` if cycle_momentum).
        max_lr: peak learning rate, one or one per group.
        total_steps: number of steps in the cycle; or give ``epochs`` and
            ``steps_per_epoch``.
        epochs, steps_per_epoch: the alternative to ``total_steps``.
        pct_start: fraction of the cycle spent rising (default 0.3).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        cycle_momentum: cycle the momentum inversely to the rate (default True).
        base_momentum, max_momentum: its bounds (defaults 0.85, 0.95).
        div_factor: ``initial_lr = max_lr / div_factor`` (default 25).
        final_div_factor: ``min_lr = initial_lr / final_div_factor`` (default 1e4).
        three_phase: use the three-phase variant.
        last_epoch: see :class:`LRScheduler`.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: invalid total_steps={total_steps!r} (expected "
                                 f"a positive int)")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise ValueError(f"OneCycleLR: invalid {name}={value!r} (expected a "
                                     f"positive int)")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: invalid pct_start={pct_start!r} (expected "
                             f"0 <= pct_start <= 1)")
        _check_choice("OneCycleLR", "anneal_strategy", anneal_strategy, ("cos", "linear"))
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr",
                     end_lr="max_lr", start_momentum="max_momentum",
                     end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * n) - 2, start_lr="max_lr",
                     end_lr="initial_lr", start_momentum="base_momentum",
                     end_momentum="max_momentum"),
                dict(end_step=n - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr",
                     end_lr="max_lr", start_momentum="max_momentum",
                     end_momentum="base_momentum"),
                dict(end_step=n - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("OneCycleLR: cycle_momentum=True needs an optimizer with "
                                 "'momentum' or 'betas'; pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            max_ms = _per_group("max_momentum", optimizer, max_momentum)
            base_ms = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for top, base, group in zip(max_ms, base_ms, optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (top, *group["betas"][1:])
                    else:
                        group["momentum"] = top
                    group["max_momentum"] = top
                    group["base_momentum"] = base
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the cycle has "
                             f"total_steps={self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == last:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]],
                                                group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs
