"""One table of optimizers by name, and :func:`create`, the one way to build one from a name.

The command line (``bricks train --optimizer adam``), the playground and the scripts it
exports all pick an optimizer by a short name.  :data:`OPTIMIZERS` maps each name to an
:class:`OptimizerSpec`: the class, the learning rate used when none is given, the keyword
arguments the name implies (``"nesterov"`` is ``SGD(momentum=0.9, nesterov=True)``), a
title for menus, and whether the method needs the whole training set and a closure.

Example:
    >>> w = bricks.tensor([3.0, -2.0], requires_grad=True)
    >>> opt = bricks.optim.create("nesterov", [w])
    >>> type(opt).__name__, opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
    ('SGD', 0.05, 0.9)
    >>> bricks.optim.create("adam", [w], lr=0.01).param_groups[0]["lr"]
    0.01
    >>> bricks.optim.OPTIMIZERS["lbfgs"].full_batch
    True
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bricks.optim.adadelta import Adadelta
from bricks.optim.adagrad import Adagrad
from bricks.optim.adam import Adam, AdamW
from bricks.optim.bfgs import BFGS
from bricks.optim.cg import ConjugateGradient
from bricks.optim.hessian_free import HessianFree
from bricks.optim.lbfgs import LBFGS
from bricks.optim.newton import Newton
from bricks.optim.optimizer import Optimizer
from bricks.optim.rmsprop import RMSprop
from bricks.optim.sgd import SGD

__all__ = ["OptimizerSpec", "OPTIMIZERS", "create"]


@dataclass(frozen=True)
class OptimizerSpec:
    """What an optimizer name stands for.

    Attributes:
        cls: the :class:`~bricks.optim.Optimizer` subclass.
        lr: the learning rate when the caller gives none (tuned for small networks on
            standardized data, so it may differ from the class's own default).
        options: keyword arguments the name implies (read-only); the caller's win.
        title: a human-readable name for menus and reports.
    """

    cls: type
    lr: float
    options: Mapping = field(default_factory=dict)
    title: str = ""

    def __post_init__(self):
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def full_batch(self) -> bool:
        """True for the closure methods (``cls.requires_closure``): ``step(closure)``
        re-evaluates the loss, so they are run on the whole training set at once."""
        return self.cls.requires_closure

    @property
    def parameters(self) -> tuple:
        """The keyword arguments the class's constructor takes (besides ``params``)."""
        signature = inspect.signature(self.cls.__init__)
        return tuple(name for name in signature.parameters if name not in ("self", "params"))


# The learning rates and options are those `bricks train` has always used.
OPTIMIZERS: Mapping[str, OptimizerSpec] = MappingProxyType({
    "sgd": OptimizerSpec(SGD, 0.1, {}, "SGD"),
    "momentum": OptimizerSpec(SGD, 0.05, {"momentum": 0.9}, "SGD with momentum"),
    "nesterov": OptimizerSpec(SGD, 0.05, {"momentum": 0.9, "nesterov": True},
                              "SGD with Nesterov momentum"),
    "adagrad": OptimizerSpec(Adagrad, 0.01, {}, "AdaGrad"),
    "rmsprop": OptimizerSpec(RMSprop, 0.001, {}, "RMSProp"),
    "adadelta": OptimizerSpec(Adadelta, 1.0, {}, "Adadelta"),
    "adam": OptimizerSpec(Adam, 0.002, {}, "Adam"),
    "adamw": OptimizerSpec(AdamW, 0.002, {}, "AdamW"),
    "lbfgs": OptimizerSpec(LBFGS, 1.0, {}, "L-BFGS"),
    "bfgs": OptimizerSpec(BFGS, 1.0, {}, "BFGS"),
    "cg": OptimizerSpec(ConjugateGradient, 1.0, {}, "Nonlinear conjugate gradients"),
    "newton": OptimizerSpec(Newton, 1.0, {}, "Newton's method (damped)"),
    "hessian_free": OptimizerSpec(HessianFree, 1.0, {}, "Hessian-free (truncated Newton)"),
})
"""Every optimizer name that :func:`create` knows, in menu order (first-order first)."""


def create(name: str, params, **options) -> Optimizer:
    """The optimizer called ``name`` in :data:`OPTIMIZERS`, built on ``params``.

    Args:
        name: a key of :data:`OPTIMIZERS` (``"sgd"``, ``"adam"``, ``"lbfgs"``, ...).
        params: parameters or parameter groups (see :class:`~bricks.optim.Optimizer`).
        **options: keyword arguments of the class; they override the name's own
            (``create("momentum", ps, momentum=0.5)``).  ``lr=None`` or no ``lr`` means
            the name's default learning rate.  Values are passed on as given: an invalid
            one raises the class's ``ValueError``.

    Returns:
        The optimizer.

    Raises:
        ValueError: an unknown name, or an option the class does not take (both errors
            list the valid choices).
    """
    spec = OPTIMIZERS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"bricks.optim.create: unknown optimizer {name!r}; expected one of "
                         f"{', '.join(OPTIMIZERS)}")
    accepted = spec.parameters
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise ValueError(
            f"bricks.optim.create({name!r}): {spec.cls.__name__} takes no option "
            f"{', '.join(repr(k) for k in unknown)}; its options are {', '.join(accepted)}")
    kwargs = {**spec.options, **options}
    if kwargs.get("lr") is None:
        kwargs["lr"] = spec.lr
    return spec.cls(params, **kwargs)
