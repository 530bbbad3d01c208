"""Optimizers and learning-rate schedules.

First-order methods, from the lectures' order: :class:`SGD` (plain and full-batch gradient
descent, momentum, Nesterov), :class:`Adagrad`, :class:`RMSprop`, :class:`Adadelta`,
:class:`Adam` and :class:`AdamW`.  All share :class:`Optimizer`'s contract (PyTorch's):
``param_groups``, ``state``, ``zero_grad()``, ``step(closure=None)``, ``state_dict()``.
Second-order methods see the parameters as one flat vector and re-evaluate the model
through a closure, ``step(closure)``: :class:`LBFGS` (PyTorch's), :class:`BFGS`,
:class:`ConjugateGradient`, :class:`Newton` and :class:`HessianFree`.  Schedules that
change the learning rate during training live in :mod:`bricks.optim.lr_scheduler`.
:func:`create` builds any of them from a name of the one table :data:`OPTIMIZERS`
(``create("adam", model.parameters())``), as the command line and the playground do.
Reading order: ``optimizer.py`` then ``sgd.py``.
"""

from bricks.optim import lr_scheduler
from bricks.optim.adadelta import Adadelta
from bricks.optim.adagrad import Adagrad
from bricks.optim.adam import Adam, AdamW
from bricks.optim.bfgs import BFGS
from bricks.optim.cg import ConjugateGradient
from bricks.optim.factory import OPTIMIZERS, OptimizerSpec, create
from bricks.optim.hessian_free import HessianFree
from bricks.optim.lbfgs import LBFGS
from bricks.optim.newton import Newton
from bricks.optim.optimizer import Optimizer
from bricks.optim.rmsprop import RMSprop
from bricks.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "lr_scheduler",
    "LBFGS", "BFGS", "ConjugateGradient", "Newton", "HessianFree",
    "OPTIMIZERS", "OptimizerSpec", "create",
]
