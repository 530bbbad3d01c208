"""The functional forms of the layers, activations and losses (``import bricks.nn.functional
as F``): plain functions of tensors, with no parameters of their own."""

__all__: list[str] = []
