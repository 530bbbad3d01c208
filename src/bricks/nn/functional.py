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
from bricks.nn.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from bricks.nn.normalization import batch_norm, layer_norm

__all__: list[str] = []
__all__ += ["linear", "dropout", "batch_norm", "layer_norm"]
__all__ += ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "softplus",
            "silu", "softsign", "step", "hardtanh", "mish", "softmax", "log_softmax"]
__all__ += ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div"]
