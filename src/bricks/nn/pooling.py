"""Pooling: max and average over windows (1-D, 2-D), adaptive pooling, and max unpooling.

Windowed pooling reuses convolution's im2col (:class:`bricks.functions.conv.Im2col`): the
windows become columns of a (N, C, k*k, L) array and the pool is a max or a sum over the
window axis, so the backward (col2im of the window gradient) and the double backward come
from the same two primitives.  Max over the window axis is a small Function of its own
(``WindowMax``): its gradient goes to the first maximum of each window, as in PyTorch, by a
multiply with a constant one-hot mask, which is cheaper than scattering and differentiable
again.  Adaptive average pooling is separable: two matrix products with averaging matrices.
"""

from __future__ import annotations

import math
import numbers

from bricks import backend
from bricks.autograd import Function
from bricks.backend import get_array_module
from bricks.functions.conv import Im2col, pair
from bricks.functions.shape import gather
from bricks.functions.shape import pad as _pad
from bricks.nn.module import Module
from bricks.tensor import Tensor, const

__all__ = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_unpool2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "MaxUnpool2d",
]



class WindowMax(Function):
    """Max over one axis with the argmax; the gradient goes to the first maximum only."""

    def forward(self, x, dim):
        xp = get_array_module(x)
        k = x.shape[dim]
        values = x.max(axis=dim)
        if k <= 16:
            # argmax along a middle axis is slow in NumPy; for a small window, marking the
            # first position equal to the max (from the last one back) is several times faster.
            idx = xp.zeros(values.shape, dtype=backend.int64)
            for j in range(k - 1, 0, -1):
                idx[xp.take(x, j, axis=dim) == values] = j
            idx[xp.take(x, 0, axis=dim) == values] = 0
        else:
            idx = xp.argmax(x, axis=dim)
        shape = [1] * x.ndim
        shape[dim] = k
        onehot = xp.expand_dims(idx, dim) == xp.arange(k).reshape(shape)
        self.dim, self.mask = dim, onehot.astype(x.dtype)
        return values, idx

    def backward(self, grad, _grad_idx):
        return grad.unsqueeze(self.dim) * const(self.mask)


class TiledMax(Function):
    """Max pooling whose windows tile the image (stride = kernel, no padding or dilation):
    every window is a (kh, kw) block of a free reshape, so neither im2col's copy nor
    col2im's adds are needed (the LeNet-5 epoch's pooling became 3x cheaper).  The gradient
    goes to each block's first maximum (row-major), as in PyTorch."""

    def forward(self, x, kernel):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = h // kh, w // kw
        blocks = x.reshape(n, c, oh, kh, ow, kw)
        # a max over two strided axes is slow in NumPy; kh*kw elementwise maxima are not
        values = blocks[:, :, :, 0, :, 0].copy()
        for a in range(1, kh * kw):
            xp.maximum(values, blocks[:, :, :, a // kw, :, a % kw], out=values)
        idx = xp.zeros(values.shape, dtype=backend.int64)
        for a in range(kh * kw - 1, -1, -1):  # from the last position back: first max wins
            idx[blocks[:, :, :, a // kw, :, a % kw] == values] = a
        mask = xp.zeros(blocks.shape, dtype=x.dtype)
        for a in range(kh * kw):
            mask[:, :, :, a // kw, :, a % kw] = idx == a
        self.mask, self.shape = mask, (n, c, oh, 1, ow, 1)
        return values, idx

    def backward(self, grad, _grad_idx):
        g = grad.reshape(self.shape) * const(self.mask)
        return g.reshape(self.input_meta[0][0])


def _check_input(op, input, n):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (n + 1, n + 2):
        dims = "H, W" if n == 2 else "L"
        raise RuntimeError(f"{op}: expected a {n + 2}-D input (N, C, {dims}) or {n + 1}-D "
                           f"(C, {dims}), got shape {tuple(input.shape)}")
    if input.data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating input, got {input.dtype}")


def _pool_geometry(op, size, kernel_size, stride, padding, dilation, ceil_mode, n):
    kernel = pair(kernel_size, "kernel_size", op, n, minimum=1)
    stride = kernel if stride is None or stride == () or stride == [] else pair(
        stride, "stride", op, n, minimum=1)
    pad = pair(padding, "padding", op, n)
    dilation = pair(dilation, "dilation", op, n, minimum=1)
    for k, p in zip(kernel, pad):
        if p > k // 2:
            raise ValueError(f"{op}: padding {pad} should be at most half of kernel size "
                             f"{kernel}")
    out = []
    for i in range(n):
        span = size[i] + 2 * pad[i] - dilation[i] * (kernel[i] - 1) - 1
        o = (-(-span // stride[i]) if ceil_mode else span // stride[i]) + 1
        if ceil_mode and (o - 1) * stride[i] >= size[i] + pad[i]:
            o -= 1  # the last window must start inside the input or its left padding
        if o < 1:
            raise RuntimeError(f"{op}: output size would be {o} for input size {size[i]}, "
                               f"kernel {kernel[i]}, stride {stride[i]}, padding {pad[i]}, "
                               f"dilation {dilation[i]}")
        out.append(o)
    return kernel, stride, pad, dilation, tuple(out)


def _to_2d(input, n, unbatched):
    if unbatched:
        input = input.unsqueeze(0)
    return input.unsqueeze(2) if n == 1 else input


def _from_2d(out, n, unbatched):
    if n == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def _windows(x, kernel, stride, pad, dilation, out, value):
    """(N, C, H, W) -> (N, C, kh*kw, oh*ow) windows; pads with ``value`` (0 or -inf)."""
    n, c, h, w = x.shape
    hi = [builtin_max(0, (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1
                      - (x.shape[2 + i] + pad[i])) for i in range(2)]
    if value == 0:
        pads = (pad[0], hi[0], pad[1], hi[1])
    else:
        if pad[0] or pad[1] or hi[0] or hi[1]:
            x = _pad(x, (pad[1], hi[1], pad[0], hi[0]), value=value)
        pads = (0, 0, 0, 0)
    cols = Im2col.apply(x, args=(kernel, dilation, pads, stride, out))
    return cols.reshape(n, c, kernel[0] * kernel[1], out[0] * out[1])


builtin_max = max


# ---------------------------------------------------------------- max pooling


def _max_pool(op, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    _check_input(op, input, n)
    unbatched = input.ndim == n + 1
    x = _to_2d(input, n, unbatched)
    size = x.shape[2:]
    geo = _pool_geometry(op, size[2 - n:], kernel_size, stride, padding, dilation, ceil_mode, n)
    if n == 1:  # a height-1 image: kernel, stride, dilation and output 1, padding 0
        geo = tuple(((0 if i == 2 else 1),) + g for i, g in enumerate(geo))
    kernel, stride_, pad, dilation_, out = geo
    shape = x.shape[:2] + out
    if stride_ == kernel and dilation_ == (1, 1) and pad == (0, 0) and all(
            out[i] * kernel[i] <= size[i] for i in range(2)):
        crop = x
        if (out[0] * kernel[0], out[1] * kernel[1]) != tuple(size):
            crop = x[:, :, :out[0] * kernel[0], :out[1] * kernel[1]]
        values, idx = TiledMax.apply(crop, kernel=kernel)
    else:
        values, idx = WindowMax.apply(_windows(x, kernel, stride_, pad, dilation_, out,
                                               -math.inf), dim=2)
    values = _from_2d(values.reshape(shape), n, unbatched)
    if not return_indices:
        return values
    # Flat index into each (H, W) plane, as PyTorch's return_indices gives it.
    a = idx.data.reshape(shape)
    xp = get_array_module(a)
    oi = xp.arange(out[0]).reshape(-1, 1)
    oj = xp.arange(out[1]).reshape(1, -1)
    row = oi * stride_[0] - pad[0] + (a // kernel[1]) * dilation_[0]
    col = oj * stride_[1] - pad[1] + (a % kernel[1]) * dilation_[1]
    flat = (row * size[1] + col).astype(backend.int64)
    return values, _from_2d(const(flat), n, unbatched)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-D max pooling: the largest value of every (dilated) window.

    out[n, c, i, j] = max over p, q of x_padded[n, c, i*s_h + p*d_h, j*s_w + q*d_w], with
    -inf padding.  The gradient goes to the first maximum of each window.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: int or (kh, kw).
        stride: int or pair (default: kernel_size).
        padding: implicit -inf padding on both sides, at most kernel_size // 2.
        dilation: spacing between window elements.
        ceil_mode: round the output size up (windows may run off the bottom/right edge,
            but must start inside the input or its left/top padding).
        return_indices: also return the flat index (h * W + w) of each maximum, for
            :func:`max_unpool2d`.

    Returns:
        (N, C, out_h, out_w), and the int64 indices of that shape when asked.

    Example:
        >>> x = bricks.arange(16.0).reshape(1, 1, 4, 4)
        >>> bricks.nn.functional.max_pool2d(x, 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-D max pooling over the last dimension of (N, C, L); see :func:`max_pool2d`.

    Example:
        >>> bricks.nn.functional.max_pool1d(bricks.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


# ---------------------------------------------------------------- average pooling


def _avg_divisor(size, kernel, stride, pad, out, count_include_pad, xp):
    """PyTorch's window sizes: with padding counted, windows clip at the padded edge."""
    counts = []
    for i in range(2):
        start = xp.arange(out[i]) * stride[i] - pad[i]
        end = xp.minimum(start + kernel[i], size[i] + pad[i])
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, size[i])
        counts.append(end - start)
    return xp.outer(counts[0], counts[1]).reshape(-1)


def _avg_pool(op, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    _check_input(op, input, n)
    unbatched = input.ndim == n + 1
    x = _to_2d(input, n, unbatched)
    geo = _pool_geometry(op, x.shape[4 - n:], kernel_size, stride, padding, 1, ceil_mode, n)
    if n == 1:
        geo = tuple(((0 if i == 2 else 1),) + g for i, g in enumerate(geo))
    kernel, stride_, pad, dilation_, out = geo
    sums = _windows(x, kernel, stride_, pad, dilation_, out, 0).sum(dim=2)
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must be a non-zero int, got "
                             f"{divisor_override!r}")
        y = sums / float(divisor_override)
    else:
        div = _avg_divisor(x.shape[2:], kernel, stride_, pad, out, count_include_pad,
                           get_array_module(x.data))
        y = sums / const(div.astype(x.data.dtype))
    return _from_2d(y.reshape(x.shape[:2] + out), n, unbatched)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2-D average pooling: the mean of every window.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default kernel_size), padding, ceil_mode: as for
            :func:`max_pool2d` (zero padding).
        count_include_pad: count the zero padding in each window's divisor (default True).
        divisor_override: divide every window sum by this instead.

    Returns:
        (N, C, out_h, out_w).

    Example:
        >>> x = bricks.arange(16.0).reshape(1, 1, 4, 4)
        >>> bricks.nn.functional.avg_pool2d(x, 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over the last dimension of (N, C, L); see :func:`avg_pool2d`.

    Example:
        >>> bricks.nn.functional.avg_pool1d(bricks.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


# ---------------------------------------------------------------- adaptive pooling


def _adaptive_sizes(op, output_size, size, n):
    if isinstance(output_size, numbers.Integral) or output_size is None:
        output_size = (output_size,) * n
    output_size = tuple(output_size)
    if len(output_size) != n:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {n}, got "
                         f"{output_size!r}")
    out = tuple(size[i] if o is None else int(o) for i, o in enumerate(output_size))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    return out


def _bins(size, out, xp):
    """Adaptive windows: [floor(i*size/out), ceil((i+1)*size/out)) for i < out."""
    i = xp.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _averaging_matrix(size, out, dtype, xp):
    start, end = _bins(size, out, xp)
    pos = xp.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return const((inside / (end - start)[:, None]).astype(dtype))


def _adaptive_avg(op, n, input, output_size):
    _check_input(op, input, n)
    out = _adaptive_sizes(op, output_size, input.shape[-n:], n)
    xp = get_array_module(input.data)
    y = input
    if n == 2:
        y = _averaging_matrix(input.shape[-2], out[0], input.data.dtype, xp) @ y
    return y @ _averaging_matrix(input.shape[-1], out[-1], input.data.dtype, xp).T


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size: window i spans
    [floor(i*H/out_h), ceil((i+1)*H/out_h)) (the same along W).

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (out_h, out_w); None keeps that input size.

    Returns:
        (N, C, out_h, out_w).

    Example:
        >>> x = bricks.arange(16.0).reshape(1, 1, 4, 4)
        >>> bricks.nn.functional.adaptive_avg_pool2d(x, 1).tolist()
        [[[[7.5]]]]
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Adaptive average pooling of (N, C, L) to (N, C, output_size); see the 2-D form.

    Example:
        >>> x = bricks.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> bricks.nn.functional.adaptive_avg_pool1d(x, 2).tolist()
        [[[1.5, 3.5]]]
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def _adaptive_index(size, out, xp):
    start, end = _bins(size, out, xp)
    k = int((end - start).max())
    # Short windows repeat their last element, which leaves the max and its argmax unchanged.
    return xp.minimum(start[:, None] + xp.arange(k), end[:, None] - 1), k


def _adaptive_max(op, n, input, output_size, return_indices):
    _check_input(op, input, n)
    unbatched = input.ndim == n + 1
    x = _to_2d(input, n, unbatched)
    out = _adaptive_sizes(op, output_size, x.shape[4 - n:], n)
    if n == 1:
        out = (1,) + out
    h, w = x.shape[2:]
    xp = get_array_module(x.data)
    ih, kh = _adaptive_index(h, out[0], xp)
    iw, kw = _adaptive_index(w, out[1], xp)
    g = x[:, :, ih[:, :, None, None], iw[None, None, :, :]]  # (N, C, oh, kh, ow, kw)
    g = g.permute(0, 1, 2, 4, 3, 5).reshape(x.shape[:2] + out + (kh * kw,))
    values, idx = WindowMax.apply(g, dim=4)
    values = _from_2d(values, n, unbatched)
    if not return_indices:
        return values
    a = idx.data
    oi = xp.arange(out[0])[:, None]
    oj = xp.arange(out[1])[None, :]
    rows = ih[oi, a // kw]
    cols = iw[oj, a % kw]
    flat = (rows * w + cols).astype(backend.int64)
    return values, _from_2d(const(flat), n, unbatched)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size, with the windows of :func:`adaptive_avg_pool2d`.

    Example:
        >>> x = bricks.arange(16.0).reshape(1, 1, 4, 4)
        >>> bricks.nn.functional.adaptive_max_pool2d(x, (1, 2)).tolist()
        [[[[13.0, 15.0]]]]
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive max pooling of (N, C, L) to (N, C, output_size).

    Example:
        >>> x = bricks.tensor([[[1.0, 5.0, 3.0, 4.0]]])
        >>> bricks.nn.functional.adaptive_max_pool1d(x, 2).tolist()
        [[[5.0, 4.0]]]
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


# ---------------------------------------------------------------- unpooling


class Unpool(Function):
    """Write each value at its index of a zero plane (PyTorch assigns, so an index repeated
    by overlapping windows holds the value once); the gradient is read back at the index."""

    def forward(self, x, index, plane):
        xp = get_array_module(x)
        self.index = index
        out = xp.zeros(x.shape[:2] + (plane,), dtype=x.dtype)
        xp.put_along_axis(out, index, x, axis=2)
        return out

    def backward(self, grad):
        return gather(grad, 2, self.index)


def max_unpool2d(input: Tensor, indices, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of ``max_pool2d``: each value goes back to where its maximum was
    (the flat ``indices`` that ``max_pool2d(..., return_indices=True)`` returned); zeros
    elsewhere.

    Args:
        input: (N, C, H, W) or (C, H, W), the pooled values.
        indices: int64 of the same shape.
        kernel_size, stride (default kernel_size), padding: the pooling's.
        output_size: (H_out, W_out) (optionally with N, C in front); default
            (H - 1) * stride - 2 * padding + kernel_size.

    Returns:
        (N, C, H_out, W_out).

    Example:
        >>> x = bricks.tensor([[[[1.0, 4.0], [3.0, 2.0]]]])
        >>> y, i = bricks.nn.functional.max_pool2d(x, 2, return_indices=True)
        >>> bricks.nn.functional.max_unpool2d(y, i, 2).tolist()
        [[[[0.0, 4.0], [0.0, 0.0]]]]
    """
    op = "max_unpool2d"
    _check_input(op, input, 2)
    idx = backend.asarray_like(indices.data if isinstance(indices, Tensor) else indices,
                               input.data)
    if tuple(idx.shape) != tuple(input.shape) or idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: indices must be an integer tensor of the input's shape "
                           f"{tuple(input.shape)}, got {tuple(idx.shape)} ({idx.dtype})")
    kernel = pair(kernel_size, "kernel_size", op, minimum=1)
    stride = kernel if stride is None else pair(stride, "stride", op, minimum=1)
    pad = pair(padding, "padding", op)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    idx = idx[None] if unbatched else idx
    if output_size is None:
        size = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * pad[i] + kernel[i]
                     for i in range(2))
    else:
        size = tuple(int(s) for s in tuple(output_size)[-2:])
    n, c = x.shape[:2]
    plane = size[0] * size[1]
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise RuntimeError(f"{op}: an index ({int(idx.max())}) is out of range for the "
                           f"output size {size} ({plane} positions)")
    flat = Unpool.apply(x.reshape(n, c, -1), index=idx.reshape(n, c, -1), plane=plane)
    out = flat.reshape(n, c, size[0], size[1])
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------- modules


class _MaxPoolNd(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding,
                              self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling layer; see :func:`bricks.nn.functional.max_pool2d`.

    Shapes:
        (N, C, H, W) -> (N, C, out_h, out_w).

    Example:
        >>> bricks.nn.MaxPool2d(2)(bricks.ones(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    _fn = staticmethod(max_pool2d)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling layer; see :func:`bricks.nn.functional.max_pool1d`.

    Example:
        >>> bricks.nn.MaxPool1d(3, stride=2)(bricks.ones(2, 4, 9)).shape
        (2, 4, 4)
    """

    _fn = staticmethod(max_pool1d)


class AvgPool2d(Module):
    """2-D average pooling layer; see :func:`bricks.nn.functional.avg_pool2d`.

    Example:
        >>> bricks.nn.AvgPool2d(2)(bricks.ones(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """1-D average pooling layer; see :func:`bricks.nn.functional.avg_pool1d`.

    Example:
        >>> bricks.nn.AvgPool1d(2)(bricks.ones(2, 4, 9)).shape
        (2, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptiveAvg(Module):
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptiveAvg):
    """Adaptive average pooling to ``output_size``; (1, 1) is global average pooling.

    Example:
        >>> bricks.nn.AdaptiveAvgPool2d((1, 1))(bricks.ones(2, 3, 7, 5)).shape
        (2, 3, 1, 1)
    """

    _fn = staticmethod(adaptive_avg_pool2d)


class AdaptiveAvgPool1d(_AdaptiveAvg):
    """Adaptive average pooling of (N, C, L) to ``output_size``.

    Example:
        >>> bricks.nn.AdaptiveAvgPool1d(4)(bricks.ones(2, 3, 10)).shape
        (2, 3, 4)
    """

    _fn = staticmethod(adaptive_avg_pool1d)


class _AdaptiveMax(Module):
    _fn = None

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_AdaptiveMax):
    """Adaptive max pooling to ``output_size``.

    Example:
        >>> bricks.nn.AdaptiveMaxPool2d(3)(bricks.ones(2, 3, 7, 5)).shape
        (2, 3, 3, 3)
    """

    _fn = staticmethod(adaptive_max_pool2d)


class AdaptiveMaxPool1d(_AdaptiveMax):
    """Adaptive max pooling of (N, C, L) to ``output_size``.

    Example:
        >>> bricks.nn.AdaptiveMaxPool1d(4)(bricks.ones(2, 3, 10)).shape
        (2, 3, 4)
    """

    _fn = staticmethod(adaptive_max_pool1d)


class MaxUnpool2d(Module):
    """Partial inverse of MaxPool2d; see :func:`bricks.nn.functional.max_unpool2d`.

    Example:
        >>> pool = bricks.nn.MaxPool2d(2, return_indices=True)
        >>> y, i = pool(bricks.randn(1, 1, 4, 4))
        >>> bricks.nn.MaxUnpool2d(2)(y, i).shape
        (1, 1, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input: Tensor, indices, output_size=None) -> Tensor:
        return max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
