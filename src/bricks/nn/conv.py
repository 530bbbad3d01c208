"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.

Each holds a weight and a bias and calls the functional form in
:mod:`bricks.functions.conv` (im2col + GEMM).  Initialization is PyTorch's:
``kaiming_uniform_(a=sqrt(5))`` on the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
fan_in = (C_in / groups) * prod(kernel) (for the transposed layers, whose weight is
(C_in, C_out / groups, *kernel), fan_in = (C_out / groups) * prod(kernel), as PyTorch
computes it), and the bias from the same interval.  So a torch ``state_dict`` loads by name
and a model built the same way starts from the same distribution.
"""

from __future__ import annotations

import numbers

from bricks.functions.conv import (
    _conv_padding,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    pad_for_mode,
    pair,
)
from bricks.nn.layers import _add_weight_bias, _reset_weight_bias
from bricks.nn.module import Module, parameter_dtype
from bricks.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What the convolution layers share; ``_conv`` is the functional form a subclass
    calls (its forward here, or the transposed layers' own)."""

    _n = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, device, dtype, output_padding=0):
        super().__init__()
        name = type(self).__name__
        n = self._n
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels),
                       ("groups", groups)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by "
                             f"groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        dtype = parameter_dtype(dtype, device, name)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", name, n, minimum=1)
        self.stride = pair(stride, "stride", name, n, minimum=1)
        self.dilation = pair(dilation, "dilation", name, n, minimum=1)
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
            _conv_padding(name, padding, self.kernel_size, self.dilation, self.stride, n)
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", name, n)
        self.output_padding = pair(output_padding, "output_padding", name, n)
        self.groups = int(groups)
        self.padding_mode = padding_mode
        if self._transposed:
            if padding_mode != "zeros":
                raise ValueError(f"{name}: only padding_mode='zeros' is supported for "
                                 f"transposed convolutions")
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        _add_weight_bias(self, shape, bias, self.out_channels, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch."""
        _reset_weight_bias(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else (
                f", padding={self.padding}")
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return self._conv(input, self.weight, self.bias, self.stride, self.padding,
                              self.dilation, self.groups)
        pads = _conv_padding(type(self).__name__, self.padding, self.kernel_size,
                             self.dilation, self.stride, self._n)
        return self._conv(pad_for_mode(input, pads, self.padding_mode), self.weight,
                          self.bias, self.stride, 0, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution layer over (N, C_in, H, W) images; see
    :func:`bricks.nn.functional.conv2d`.

    Args:
        in_channels, out_channels: channel counts (both divisible by ``groups``).
        kernel_size: int or (kh, kw).
        stride, dilation: int or pair (default 1).
        padding: int, pair, 'valid' or 'same' (default 0).
        groups: channel groups (in_channels for a depthwise convolution).
        bias: learn a per-channel bias (default True).
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        (N, C_in, H, W) -> (N, C_out, out_h, out_w); weight (C_out, C_in / groups, kh, kw).

    Example:
        >>> conv = bricks.nn.Conv2d(1, 6, 5, padding=2)
        >>> conv
        Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
        >>> conv(bricks.ones(4, 1, 28, 28)).shape
        (4, 6, 28, 28)
    """

    _conv = staticmethod(conv2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)


class Conv1d(_ConvNd):
    """1-D convolution layer over (N, C_in, L) sequences; see
    :func:`bricks.nn.functional.conv1d` and :class:`Conv2d` for the arguments.

    Example:
        >>> bricks.nn.Conv1d(2, 4, 3, padding="same")(bricks.ones(5, 2, 40)).shape
        (5, 4, 40)
    """

    _n = 1
    _conv = staticmethod(conv1d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution; see :func:`bricks.nn.functional.conv_transpose2d`.

    Shapes:
        (N, C_in, H, W) -> (N, C_out, out_h, out_w) with
        out = (size - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1;
        weight (C_in, C_out / groups, kh, kw).

    Example:
        >>> up = bricks.nn.ConvTranspose2d(8, 4, 2, stride=2)
        >>> up(bricks.ones(1, 8, 7, 7)).shape
        (1, 4, 14, 14)
    """

    _transposed = True
    _conv = staticmethod(conv_transpose2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return self._conv(input, self.weight, self.bias, self.stride, self.padding,
                          self._output_padding(input, output_size), self.groups,
                          self.dilation)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-self._n:]
        extra = []
        for i in range(self._n):
            base = ((input.shape[-self._n + i] - 1) * self.stride[i] - 2 * self.padding[i]
                    + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            extra.append(size[i] - base)
            if not 0 <= extra[-1] < max(self.stride[i], self.dilation[i]):
                raise ValueError(f"{type(self).__name__}: requested output size {size} is "
                                 f"not reachable from input shape {tuple(input.shape)}")
        return tuple(extra)


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution; see :class:`ConvTranspose2d`.

    Example:
        >>> bricks.nn.ConvTranspose1d(2, 3, 4, stride=2)(bricks.ones(1, 2, 5)).shape
        (1, 3, 12)
    """

    _n = 1
    _conv = staticmethod(conv_transpose1d)
