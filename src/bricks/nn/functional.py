"""The functional forms of the layers, activations and losses (``import bricks.nn.functional
as F``): plain functions of tensors, with no parameters of their own."""

from bricks.nn.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    prelu,
    relu,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    step,
    tanh,
)
from bricks.nn.layers import dropout, linear
from bricks.nn.normalization import batch_norm, layer_norm

__all__: list[str] = []
__all__ += ["linear", "dropout", "batch_norm", "layer_norm"]
__all__ += ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "softplus",
            "silu", "softsign", "step", "hardtanh", "mish", "softmax", "log_softmax"]
