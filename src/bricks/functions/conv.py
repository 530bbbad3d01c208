"""Convolution by im2col: ``unfold``/``fold`` as two primitives, every conv composed on them.

A 2-D convolution of x (N, C, H, W) with a kernel w (O, C, kh, kw) is a matrix product once
every receptive field of x is laid out as a column: ``unfold`` (im2col) builds the matrix
cols (N, C*kh*kw, L) of those columns (L = out_h * out_w positions), and the convolution is
w.reshape(O, C*kh*kw) @ cols, one GEMM per sample, reshaped to (N, O, out_h, out_w).

Only ``Im2col`` and ``Col2im`` are new Functions, and each is the other's adjoint (im2col
copies each input element into every column that sees it; col2im adds every column entry
back to the element it came from).  So the backward of im2col is col2im and the backward of
col2im is im2col, both linear: conv's backward and double backward follow from matmul's with
no hand-written gradient.  This is the one fused exception DESIGN.md names for convolution:
composing im2col from getitem/stack would cost one graph node per kernel offset and far more
memory; the two primitives copy with a strided view (NumPy's ``as_strided``) and add back
with one slice-add per kernel offset (kh*kw Python steps, never one per pixel or sample).

Measured on LeNet-5 (benchmarks/bench_conv.py): the batched GEMM on the (N, C*k*k, L)
layout keeps the output in NCHW order with no transpose copy, and was faster than one big
(N*L, C*k*k) GEMM followed by a permute.

Transposed convolution is the adjoint of convolution with respect to its input, so it is a
matmul followed by col2im; 1-D convolutions are the 2-D ones on a height-1 image.
"""

from __future__ import annotations

import numbers

from bricks.autograd import Function
from bricks.backend import get_array_module
from bricks.functions.shape import pad as _pad
from bricks.tensor import Tensor

__all__ = ["unfold", "fold", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
           "pair", "conv_output_size"]

def pair(value, name: str, op: str, n: int = 2, minimum: int = 0) -> tuple:
    """``3`` -> ``(3, 3)``; a tuple of ``n`` ints is checked and kept."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = (int(value),) * n
    else:
        try:
            out = tuple(int(v) for v in value)
        except TypeError:
            raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                            f"{value!r}") from None
        if len(out) == 1:
            out = out * n
        if len(out) != n:
            raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got "
                             f"{value!r}")
    if any(v < minimum for v in out):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return out


def conv_output_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int,
                     dilation: int) -> int:
    """Positions a kernel fits: floor((size + pads - dilation*(kernel-1) - 1) / stride) + 1."""
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


# ---------------------------------------------------------------- the two primitives


class Im2col(Function):
    """x (N, C, H, W) -> cols (N, C*kh*kw, oh*ow); ``padding`` is (top, bottom, left, right)."""

    def forward(self, x, args):
        xp = get_array_module(x)
        self.args = args
        n, c, h, w = x.shape
        (kh, kw), (dh, dw), (pt, pb, pl, pr), (sh, sw), (oh, ow) = self.args
        hp = builtin_max(h + pt + pb, dh * (kh - 1) + sh * (oh - 1) + 1)
        wp = builtin_max(w + pl + pr, dw * (kw - 1) + sw * (ow - 1) + 1)
        if (hp, wp) != (h, w):
            padded = xp.zeros((n, c, hp, wp), dtype=x.dtype)
            padded[:, :, pt:pt + h, pl:pl + w] = x
        else:
            padded = xp.ascontiguousarray(x)
        s_n, s_c, s_h, s_w = padded.strides
        # A read-only view in spirit (CuPy's as_strided has no writeable flag): it is only
        # read, by the reshape below.
        windows = xp.lib.stride_tricks.as_strided(
            padded, (n, c, kh, kw, oh, ow), (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw))
        return windows.reshape(n, c * kh * kw, oh * ow)  # the one copy: im2col itself

    def backward(self, grad):
        return Col2im.apply(grad, size=self.input_meta[0][0][2:], args=self.args)


class Col2im(Function):
    """cols (N, C*kh*kw, oh*ow) -> x (N, C, H, W), adding overlapping entries."""

    def forward(self, cols, size, args):
        xp = get_array_module(cols)
        self.args = args
        (kh, kw), (dh, dw), (pt, pb, pl, pr), (sh, sw), (oh, ow) = args
        h, w = size
        n, ck, _ = cols.shape
        c = ck // (kh * kw)
        hp = builtin_max(h + pt + pb, dh * (kh - 1) + sh * (oh - 1) + 1)
        wp = builtin_max(w + pl + pr, dw * (kw - 1) + sw * (ow - 1) + 1)
        blocks = cols.reshape(n, c, kh, kw, oh, ow)
        if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1):
            out = xp.zeros((n, c, hp, wp), dtype=cols.dtype)
            # Windows that tile the image (2x2 pooling with stride 2): nothing overlaps, so
            # col2im is one transposed copy; measured 5x faster than the strided slice-adds.
            out[:, :, :oh * kh, :ow * kw] = blocks.transpose(0, 1, 4, 2, 5, 3).reshape(
                n, c, oh * kh, ow * kw)
            return out[:, :, pt:pt + h, pl:pl + w] if (hp, wp) != (h, w) else out
        # One slice-add per kernel offset: kh*kw steps, each over all N, C, L.  The adds run
        # channels-last, (H, W, N*C), so every add streams over long contiguous rows; that
        # costs two transposed copies and measured 2x faster than adding in NCHW.
        rows = xp.ascontiguousarray(blocks.transpose(2, 3, 4, 5, 0, 1)).reshape(
            kh, kw, oh, ow, n * c)
        acc = xp.zeros((hp, wp, n * c), dtype=cols.dtype)
        for i in range(kh):
            top = i * dh
            for j in range(kw):
                left = j * dw
                acc[top:top + sh * (oh - 1) + 1:sh, left:left + sw * (ow - 1) + 1:sw] += rows[i, j]
        acc = acc[pt:pt + h, pl:pl + w].reshape(h, w, n, c)
        return xp.ascontiguousarray(acc.transpose(2, 3, 0, 1))

    def backward(self, grad):
        return Im2col.apply(grad, args=self.args)


builtin_max = max


# ---------------------------------------------------------------- unfold, fold


def _check_float(op, **named):
    for name, t in named.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.data.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a floating tensor, got {t.dtype}")


def _unfold_args(op, size, kernel_size, dilation, padding, stride):
    kernel = pair(kernel_size, "kernel_size", op, minimum=1)
    dilation = pair(dilation, "dilation", op, minimum=1)
    ph, pw = pair(padding, "padding", op)
    stride = pair(stride, "stride", op, minimum=1)
    blocks = tuple(conv_output_size(size[i], kernel[i], stride[i], (ph, pw)[i], (ph, pw)[i],
                                    dilation[i]) for i in range(2))
    return kernel, dilation, (ph, ph, pw, pw), stride, blocks


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks (im2col): every receptive field of the kernel becomes a column.

    Args:
        input: (N, C, H, W).
        kernel_size, dilation, padding, stride: ints or (h, w) pairs, as for ``conv2d``.

    Returns:
        (N, C * kh * kw, L) where L is the number of block positions, out_h * out_w with
        out = floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1.

    Example:
        >>> x = bricks.arange(9.0).reshape(1, 1, 3, 3)
        >>> bricks.nn.functional.unfold(x, 2).shape
        (1, 4, 4)
        >>> bricks.nn.functional.unfold(x, 2)[0, :, 0].tolist()
        [0.0, 1.0, 3.0, 4.0]
    """
    _check_float("unfold", input=input)
    if input.ndim != 4:
        raise RuntimeError(f"unfold: expected a 4-D input (N, C, H, W), got shape "
                           f"{tuple(input.shape)}")
    args = _unfold_args("unfold", input.shape[2:], kernel_size, dilation, padding, stride)
    if builtin_min(args[4]) < 1:
        raise RuntimeError(f"unfold: kernel {args[0]} with dilation {args[1]} does not fit the "
                           f"padded input of shape {tuple(input.shape)} (padding {padding})")
    return Im2col.apply(input, args=args)


builtin_min = min


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding blocks into an image (col2im), summing overlapping values.

    The adjoint of :func:`unfold`: ``fold(unfold(x))`` multiplies every pixel by the number
    of blocks that contain it.

    Args:
        input: (N, C * kh * kw, L), L the number of blocks for ``output_size``.
        output_size: (H, W) of the result.
        kernel_size, dilation, padding, stride: as for :func:`unfold`.

    Returns:
        (N, C, H, W).

    Example:
        >>> x = bricks.ones(1, 1, 3, 3)
        >>> F = bricks.nn.functional
        >>> F.fold(F.unfold(x, 2), (3, 3), 2)[0, 0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    _check_float("fold", input=input)
    size = pair(output_size, "output_size", "fold", minimum=1)
    args = _unfold_args("fold", size, kernel_size, dilation, padding, stride)
    kernel, blocks = args[0], args[4]
    k = kernel[0] * kernel[1]
    if input.ndim != 3 or input.shape[1] % k or input.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(
            f"fold: expected an input of shape (N, C * {k}, {blocks[0] * blocks[1]}) for "
            f"kernel {kernel} and output size {size} ({blocks[0]} x {blocks[1]} blocks), got "
            f"shape {tuple(input.shape)}")
    return Col2im.apply(input, size=size, args=args)


# ---------------------------------------------------------------- convolution


def _same_padding(kernel, dilation):
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(v for t in total for v in (t // 2, t - t // 2))


def _conv_padding(op, padding, kernel, dilation, stride, n):
    """(lo, hi) pairs flattened: 'valid' -> zeros, 'same' -> PyTorch's split (extra on hi)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            return _same_padding(kernel, dilation)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple, got "
                         f"{padding!r}")
    p = pair(padding, "padding", op, n)
    return tuple(v for q in p for v in (q, q))


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library).

    out[n, o, i, j] = b[o] + sum over c, p, q of
    w[o, c, p, q] * x_padded[n, g*C/G + c, i*s_h + p*d_h, j*s_w + q*d_w],
    where g is output channel o's group.  Computed as unfold (im2col) and a matrix product.

    Args:
        input: (N, C_in, H, W), or (C_in, H, W) without a batch dimension.
        weight: (C_out, C_in / groups, kh, kw).
        bias: (C_out,) or None.
        stride, dilation: int or (h, w).
        padding: int, (h, w), 'valid' (none) or 'same' (output as large as the input,
            stride 1 only; an odd total goes one more on the bottom/right, as PyTorch).
        groups: split channels into groups convolved separately (C_in and C_out divisible
            by it; groups = C_in is a depthwise convolution).

    Returns:
        (N, C_out, out_h, out_w), out = floor((size + 2*padding - dilation*(k-1) - 1) /
        stride) + 1.

    Example:
        >>> x = bricks.ones(1, 1, 4, 4)
        >>> w = bricks.ones(2, 1, 3, 3)
        >>> bricks.nn.functional.conv2d(x, w, padding=1)[0, 0].tolist()[0]
        [4.0, 6.0, 6.0, 4.0]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution: :func:`conv2d` along the last dimension of (N, C_in, L) inputs.

    Args:
        input: (N, C_in, L) or (C_in, L).
        weight: (C_out, C_in / groups, k).
        bias: (C_out,) or None.
        stride, padding, dilation, groups: as for :func:`conv2d` (ints, 'same', 'valid').

    Returns:
        (N, C_out, out_L).

    Example:
        >>> x = bricks.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> bricks.nn.functional.conv1d(x, bricks.tensor([[[1.0, -1.0]]])).tolist()
        [[[-1.0, -1.0, -1.0]]]
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def _check_conv(op, input, weight, bias, groups, n, weight_dims, dtype_hint=""):
    """The checks conv and conv_transpose share (float tensors, the weight's and input's
    ranks, matching dtypes, positive groups); returns the input with a batch dimension
    and whether it was added. ``weight_dims`` names the weight's first two dimensions."""
    _check_float(op, input=input, weight=weight)
    if bias is not None:
        _check_float(op, bias=bias)
    if weight.ndim != n + 2:
        raise RuntimeError(f"{op}: expected a {n + 2}-D weight ({weight_dims}, "
                           f"{'kh, kw' if n == 2 else 'k'}), got shape {tuple(weight.shape)}")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{op}: expected a {n + 2}-D input (N, C_in, "
                           f"{'H, W' if n == 2 else 'L'}) or {n + 1}-D without batch, got "
                           f"shape {tuple(input.shape)}")
    unbatched = input.ndim == n + 1
    if unbatched:
        input = input.unsqueeze(0)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{op}: input has dtype {input.dtype} but {name} has dtype "
                            f"{t.dtype}; convert one of them first{dtype_hint}")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return input, unbatched


def _conv(input, weight, bias, stride, padding, dilation, groups, n, op):
    input, unbatched = _check_conv(op, input, weight, bias, groups, n, "C_out, C_in / groups",
                                   " (x.float() or module.double())")
    c_out, c_in_g = weight.shape[:2]
    c_in = input.shape[1]
    if c_in != c_in_g * groups:
        raise RuntimeError(
            f"{op}: input of shape {tuple(input.shape)} has {c_in} channels, but a weight of "
            f"shape {tuple(weight.shape)} with groups={groups} expects {c_in_g * groups} "
            f"(C_in / groups = {c_in_g})")
    if c_out % groups:
        raise RuntimeError(f"{op}: out channels ({c_out}, weight shape {tuple(weight.shape)}) "
                           f"must be divisible by groups={groups}")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise RuntimeError(f"{op}: bias of shape {tuple(bias.shape)} does not match the "
                           f"{c_out} output channels; expected ({c_out},)")
    stride = pair(stride, "stride", op, n, minimum=1)
    dilation = pair(dilation, "dilation", op, n, minimum=1)
    kernel = tuple(weight.shape[2:])
    pads = _conv_padding(op, padding, kernel, dilation, stride, n)
    if n == 1:  # a height-1 image
        input, weight = input.unsqueeze(2), weight.unsqueeze(2)
        kernel, stride, dilation, pads = (1,) + kernel, (1,) + stride, (1,) + dilation, (
            0, 0) + pads
    size = input.shape[2:]
    blocks = tuple(conv_output_size(size[i], kernel[i], stride[i], pads[2 * i],
                                    pads[2 * i + 1], dilation[i]) for i in range(2))
    if builtin_min(blocks) < 1:
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise RuntimeError(
            f"{op}: the kernel (effective size {eff[2 - n:]} with dilation) is larger than "
            f"the padded input: input shape {tuple(input.shape)[:2] + size[2 - n:]}, "
            f"weight shape {tuple(weight.shape)[:2] + kernel[2 - n:]}, padding "
            f"{padding}")
    cols = Im2col.apply(input, args=(kernel, dilation, pads, stride, blocks))
    batch = input.shape[0]
    if groups == 1:
        out = weight.reshape(c_out, -1) @ cols  # (O, C*k*k) @ (N, C*k*k, L)
    else:
        cols = cols.reshape(batch, groups, -1, blocks[0] * blocks[1])
        out = weight.reshape(groups, c_out // groups, -1) @ cols  # (N, G, O/G, L)
    out = out.reshape((batch, c_out) + (blocks if n == 2 else blocks[1:]))
    if bias is not None:
        out = out + bias.reshape((c_out,) + (1,) * n)
    return out.squeeze(0) if unbatched else out


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed convolution ("deconvolution"): the adjoint of ``conv2d`` in its input.

    Every input pixel scatters a weighted copy of the kernel into the output; overlaps add.
    Computed as a matrix product and fold (col2im).

    Args:
        input: (N, C_in, H, W) or (C_in, H, W).
        weight: (C_in, C_out / groups, kh, kw) (PyTorch's layout).
        bias: (C_out,) or None.
        stride, padding, dilation: as for the conv2d whose adjoint this is.
        output_padding: extra rows/columns on the bottom/right of the output (smaller than
            stride or dilation), to pick among the input sizes a strided conv maps to H.
        groups: as for conv2d.

    Returns:
        (N, C_out, out_h, out_w), out = (size - 1)*stride - 2*padding + dilation*(k - 1) +
        output_padding + 1.

    Example:
        >>> x = bricks.ones(1, 1, 2, 2)
        >>> w = bricks.ones(1, 1, 2, 2)
        >>> bricks.nn.functional.conv_transpose2d(x, w)[0, 0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    return _conv_t(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                   "conv_transpose2d")


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution on (N, C_in, L); see :func:`conv_transpose2d`.

    Example:
        >>> x = bricks.tensor([[[1.0, 2.0]]])
        >>> bricks.nn.functional.conv_transpose1d(x, bricks.ones(1, 1, 2)).tolist()
        [[[1.0, 3.0, 2.0]]]
    """
    return _conv_t(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                   "conv_transpose1d")


def _conv_t(input, weight, bias, stride, padding, output_padding, groups, dilation, n, op):
    input, unbatched = _check_conv(op, input, weight, bias, groups, n, "C_in, C_out / groups")
    c_in, c_out_g = weight.shape[:2]
    if input.shape[1] != c_in or c_in % groups:
        raise RuntimeError(
            f"{op}: input of shape {tuple(input.shape)} has {input.shape[1]} channels, but a "
            f"weight of shape {tuple(weight.shape)} expects {c_in} (C_in, divisible by "
            f"groups={groups})")
    c_out = c_out_g * groups
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise RuntimeError(f"{op}: bias of shape {tuple(bias.shape)} does not match the "
                           f"{c_out} output channels; expected ({c_out},)")
    stride = pair(stride, "stride", op, n, minimum=1)
    dilation = pair(dilation, "dilation", op, n, minimum=1)
    pads = pair(padding, "padding", op, n)
    out_pad = pair(output_padding, "output_padding", op, n)
    for i in range(n):
        if out_pad[i] >= builtin_max(stride[i], dilation[i]):
            raise ValueError(f"{op}: output_padding {out_pad} must be smaller than stride "
                             f"{stride} or dilation {dilation}")
    kernel = tuple(weight.shape[2:])
    blocks = tuple(input.shape[2:])
    if n == 1:
        input, weight = input.unsqueeze(2), weight.unsqueeze(2)
        kernel, stride, dilation = (1,) + kernel, (1,) + stride, (1,) + dilation
        pads, out_pad, blocks = (0,) + pads, (0,) + out_pad, (1,) + blocks
    size = tuple((blocks[i] - 1) * stride[i] - 2 * pads[i] + dilation[i] * (kernel[i] - 1)
                 + out_pad[i] + 1 for i in range(2))
    if builtin_min(size) < 1:
        raise RuntimeError(f"{op}: the output would be empty ({size[2 - n:]}) for input shape "
                           f"{tuple(input.shape)}, kernel {kernel[2 - n:]}, padding "
                           f"{padding}")
    batch = input.shape[0]
    x = input.reshape(batch, groups, c_in // groups, blocks[0] * blocks[1])
    w = weight.reshape(groups, c_in // groups, -1).transpose(1, 2)  # (G, C_out/G*k*k, C_in/G)
    cols = (w @ x).reshape(batch, -1, blocks[0] * blocks[1])
    args = (kernel, dilation, (pads[0], pads[0], pads[1], pads[1]), stride, blocks)
    out = Col2im.apply(cols, size=size, args=args)
    if n == 1:
        out = out.squeeze(2)
    if bias is not None:
        out = out + bias.reshape((c_out,) + (1,) * n)
    return out.squeeze(0) if unbatched else out


def pad_for_mode(input: Tensor, pads, mode: str) -> Tensor:
    """Pad the last len(pads)//2 dims with ``mode`` ('reflect', 'replicate', 'circular');
    ``pads`` lists (lo, hi) from the first spatial dim, as the conv layers keep them."""
    rev = []
    for i in range(len(pads) // 2 - 1, -1, -1):
        rev += [pads[2 * i], pads[2 * i + 1]]
    return _pad(input, tuple(rev), mode=mode)
