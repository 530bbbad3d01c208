"""The functional forms of the layers, activations and losses (``import bricks.nn.functional
as F``): plain functions of tensors, with no parameters of their own."""

from bricks.nn.layers import dropout, linear
from bricks.nn.normalization import batch_norm, layer_norm

__all__: list[str] = []
__all__ += ["linear", "dropout", "batch_norm", "layer_norm"]
