"""The playground's network and how its outputs are read: the MLP a config describes, its
initialization, and the :class:`Head` (targets, loss, probabilities, classes) of a task.
"""

from __future__ import annotations

import bricks
import bricks.nn as nn
import bricks.optim as optim
from bricks.backend import xp

__all__ = ["ACTIVATION_MODULES", "INITIALIZERS", "build_mlp", "init_linear", "Head",
           "optimizer_options", "uses_momentum"]

ACTIVATION_MODULES = {
    "tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity,
    "leaky_relu": nn.LeakyReLU, "prelu": nn.PReLU, "elu": nn.ELU, "selu": nn.SELU,
    "gelu": nn.GELU, "silu": nn.SiLU, "mish": nn.Mish, "softplus": nn.Softplus,
    "softsign": nn.Softsign, "hardtanh": nn.Hardtanh, "step": nn.Step,
}
# Initializer name -> (function name in bricks.nn.init, extra keyword arguments).
INITIALIZERS = {
    "xavier_uniform": ("xavier_uniform_", {}), "xavier_normal": ("xavier_normal_", {}),
    "kaiming_uniform": ("kaiming_uniform_", {"nonlinearity": "relu"}),
    "kaiming_normal": ("kaiming_normal_", {"nonlinearity": "relu"}),
    "orthogonal": ("orthogonal_", {}), "uniform": ("uniform_", {"a": -0.5, "b": 0.5}),
    "normal": ("normal_", {"std": 0.5}), "trunc_normal": ("trunc_normal_", {"std": 0.5}),
}


def layer_sizes(config, n_outputs: int) -> list[int]:
    """Neurons per layer: the input features, the hidden layers, the outputs."""
    return [len(config["features"])] + config["hidden"] + [n_outputs]


def layer_specs(config, n_outputs: int):
    """The MLP as ``(kind, argument)`` pairs in order: ``("linear", (n_in, n_out))``,
    ``("batch_norm", n)``, ``("activation", name)``, ``("dropout", p)``.  The session builds
    modules from it and the exported script writes code from it, so both are one net."""
    sizes = layer_sizes(config, n_outputs)
    specs = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        specs.append(("linear", (n_in, n_out)))
        if k == len(sizes) - 2:
            break
        if config["batch_norm"][k]:
            specs.append(("batch_norm", n_out))
        specs.append(("activation", config["activation"][k]))
        if config["dropout"][k] > 0:
            specs.append(("dropout", config["dropout"][k]))
    return specs


def init_linear(lin, config, rng) -> None:
    """The config's initializer (or zeros) for the weight, zeros for the bias."""
    with bricks.no_grad():
        if config["zero_init"]:
            nn.init.zeros_(lin.weight)
        else:
            name, kwargs = INITIALIZERS[config["init"]]
            getattr(nn.init, name)(lin.weight, generator=rng, **kwargs)
        nn.init.zeros_(lin.bias)


def build_mlp(config, n_outputs: int, rng):
    """``(model, linears, capture)``: the Sequential, its Linear layers, and the indices of
    the modules whose outputs are the hidden neurons (after activation and dropout)."""
    modules, linears, capture = [], [], []
    for kind, arg in layer_specs(config, n_outputs):
        if kind == "linear":
            module = nn.Linear(*arg)
            init_linear(module, config, rng)
            linears.append(module)
        elif kind == "batch_norm":
            module = nn.BatchNorm1d(arg)
        elif kind == "activation":
            module = ACTIVATION_MODULES[arg]()
        else:
            module = nn.Dropout(arg)
        if kind == "linear" and modules:
            capture.append(len(modules) - 1)  # a hidden layer ends before the next Linear
        modules.append(module)
    return nn.Sequential(*modules), linears, capture


def uses_momentum(name: str) -> bool:
    """Whether the page's momentum setting reaches optimizer ``name`` (the names whose
    entry in ``bricks.optim.OPTIMIZERS`` sets a momentum: "momentum" and "nesterov")."""
    return "momentum" in optim.OPTIMIZERS[name].options


def optimizer_options(config) -> dict:
    """The keyword arguments of ``bricks.optim.create(config["optimizer"], params, ...)``:
    the page's learning rate, its momentum where the name uses one, and a strong-Wolfe line
    search for the methods that take one (L-BFGS: without it a step can overshoot far)."""
    name = config["optimizer"]
    options = {"lr": config["lr"]}
    if uses_momentum(name):
        options["momentum"] = config["momentum"]
    if "line_search_fn" in optim.OPTIMIZERS[name].parameters:
        options["line_search_fn"] = "strong_wolfe"
    return options


class Head:
    """How a task reads the network's raw outputs ``z``.

    Regression: ``z`` itself, mean squared error.  Two classes: one output, a logit
    (cross-entropy, targets 0/1) or ``tanh(z)`` (mse, targets -1/1).  k classes: k
    outputs, softmax cross-entropy (integer targets) or ``softmax(z)`` against one-hot
    targets (mse).
    """

    def __init__(self, task: str, n_classes: int, loss: str):
        self.task, self.n_classes, self.loss_name = task, int(n_classes), loss

    @property
    def n_outputs(self) -> int:
        return 1 if self.task == "regression" or self.n_classes == 2 else self.n_classes

    def targets(self, y):
        """Targets in the form the loss wants."""
        if self.task == "regression":
            return y.astype(xp.float32)[:, None]
        if self.n_classes == 2:
            if self.loss_name == "mse":
                return (2.0 * y - 1.0).astype(xp.float32)[:, None]
            return y.astype(xp.float32)[:, None]
        if self.loss_name == "cross_entropy":
            return y.astype(xp.int64)
        return xp.eye(self.n_classes, dtype=xp.float32)[y.astype(xp.int64)]

    def output(self, z):
        """The model's prediction from its raw output (the loss's view of it)."""
        if self.task == "regression":
            return z
        if self.n_classes == 2:
            return z.tanh() if self.loss_name == "mse" else z
        return z.softmax(dim=1) if self.loss_name == "mse" else z

    def loss(self, z, target):
        out = self.output(z)
        if self.task == "classification" and self.loss_name == "cross_entropy":
            if self.n_classes == 2:
                return nn.functional.binary_cross_entropy_with_logits(out, target)
            return nn.functional.cross_entropy(out, target)
        return nn.functional.mse_loss(out, target)

    def shown(self, z):
        """What the heatmap shows: the output, as probabilities for cross-entropy."""
        out = self.output(z)
        if self.task == "classification" and self.loss_name == "cross_entropy":
            out = out.sigmoid() if self.n_classes == 2 else out.softmax(dim=1)
        return out

    def classes(self, zd):
        """Predicted classes from raw outputs (an array), for classification."""
        return (zd[:, 0] > 0).astype(xp.int64) if self.n_classes == 2 else zd.argmax(1)

    def output_name(self) -> str:
        """The output neuron's function in a formula ("" for regression)."""
        if self.task == "regression":
            return ""
        if self.n_classes == 2:
            return "tanh" if self.loss_name == "mse" else "sigmoid"
        return "softmax"
