"""Moving a tensor between devices (``Tensor.to(device)``, ``.cuda()``, ``.cpu()``).

The move is an op like any other: its backward moves the gradient back, so a parameter
kept on the CPU and used on the GPU still gets its gradient on the CPU.
"""

from __future__ import annotations

from bricks import backend
from bricks import devices as _device
from bricks.autograd import Function
from bricks.tensor import Tensor

__all__ = ["to_device"]


class ToDevice(Function):
    def forward(self, x, kind, index):
        self.source = _device.device_of(x)
        return backend.to_device(x, kind, index)

    def backward(self, grad):
        return to_device(grad, self.source)

    def backward_arrays(self, grad):
        return backend.to_device(grad, self.source.type, self.source.index)


def to_device(x: Tensor, device) -> Tensor:
    """``x`` on ``device`` (a :class:`bricks.device` or its string); ``x`` itself when it is
    there already.  Raises a clear error when the device is not available.

    Example:
        >>> x = bricks.tensor([1.0, 2.0])
        >>> to_device(x, "cpu") is x
        True
    """
    target = _device.as_device(device)
    here = _device.device_of(x.data)
    if here.type == target.type and (target.index is None or here.index in (None,
                                                                           target.index)):
        return x
    _device.check_available(target, "to")
    return ToDevice.apply(x, kind=target.type, index=target.index)
