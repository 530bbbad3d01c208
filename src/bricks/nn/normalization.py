"""Normalization layers: BatchNorm1d and LayerNorm, with their functional forms.

Both are compositions of bricks ops (mean, subtraction, rsqrt, ...), so autograd gives
their backward, and their double backward, with no hand-written gradient (STYLE rule 5).
The running statistics of batch norm are updated in place under ``no_grad``: they are
state, not part of the graph.
"""

from __future__ import annotations

import numbers

from bricks import backend
from bricks.autograd import Function, no_grad
from bricks.functions.creation import empty, zeros
from bricks.nn.module import Module, Parameter, parameter_dtype
from bricks.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d", "batch_norm", "layer_norm", "group_norm", "instance_norm"]


def _normalize(x: Tensor, dims, eps: float):
    """(x - mean) / sqrt(var + eps) over ``dims``, with the biased variance; also returns
    the batch mean and biased variance (keepdim) for running statistics."""
    mean = x.mean(dim=dims, keepdim=True)
    d = x - mean
    var = (d * d).mean(dim=dims, keepdim=True)
    return d * (var + eps).rsqrt(), mean, var


def _check_dtypes(op, input, named):
    # As PyTorch: no silent promotion of a float32 module's output to float64.
    for name, t in named:
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype} but the input has dtype "
                            f"{input.dtype}; convert one of them first (module.double() or "
                            f"x.float())")


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None, shape) -> Tensor:
    """y * gamma + beta, each (C,) vector reshaped to ``shape`` to broadcast along the
    channels; a None one is skipped."""
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class _RunningUpdate(Function):
    """running = (1 - momentum) running + momentum (scale * batch statistic), in place.

    An op (without a gradient) rather than array code, so that ``bricks.compile`` replays
    the update on every call; ``scale`` n / (n - 1) makes the variance unbiased.
    """

    mutates_inputs = True

    def forward(self, running, batch, momentum, scale=None):
        b = batch.reshape(running.shape)
        if scale is not None:
            b = b * scale
        running *= 1 - momentum
        running += b.astype(running.dtype) * momentum
        return running


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over every dimension but the channel dimension 1.

    y = (x - mu) / sqrt(sigma^2 + eps) * gamma + beta, per channel c.

    With ``training=True``, mu and sigma^2 are the batch's mean and biased variance over
    (N, *), and when ``running_mean``/``running_var`` are given they are updated in place:
    running = (1 - momentum) * running + momentum * batch statistic, where the variance
    that enters running_var is the unbiased one (n / (n - 1) times sigma^2), as in PyTorch.
    With ``training=False``, mu and sigma^2 are ``running_mean`` and ``running_var``.

    Args:
        input: (N, C) or (N, C, *).
        running_mean, running_var: (C,) or None.
        weight (gamma), bias (beta): (C,) or None (no scale / no shift).
        training: use batch statistics (and update the running ones).
        momentum: weight of the new batch statistic in the running average.
        eps: added to the variance for numerical stability.

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> x = bricks.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> y = bricks.nn.functional.batch_norm(x, None, None, training=True)
        >>> [round(v, 3) for v in y[:, 0].tolist()]
        [-1.0, 1.0]
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, *), got "
                         f"shape {tuple(input.shape)}")
    c = input.shape[1]
    named = (("running_mean", running_mean), ("running_var", running_var),
             ("weight", weight), ("bias", bias))
    for name, t in named:
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} of shape {tuple(t.shape)} does not match "
                             f"the {c} channels of the input (shape {tuple(input.shape)}); "
                             f"expected ({c},)")
    _check_dtypes("batch_norm", input, named)
    if training:
        n = input.numel() // c if c else 0
        if n == 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(input.shape)}")
        if eps <= 0:
            raise ValueError(f"batch_norm: eps must be positive in training, got {eps}")
    elif eps < 0:
        raise ValueError(f"batch_norm: eps must be non-negative, got {eps}")
    dims = (0,) + tuple(range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)  # broadcasts a (C,) vector along channels

    if training:
        y, mean, var = _normalize(input, dims, eps)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    _RunningUpdate.apply(running_mean, mean.detach(), momentum=momentum)
                    running_mean._vc[0] += 1
                if running_var is not None:
                    _RunningUpdate.apply(running_var, var.detach(), momentum=momentum,
                                         scale=n / (n - 1))
                    running_var._vc[0] += 1
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when "
                             "training=False (or pass training=True to use batch statistics)")
        mean = running_mean.detach().reshape(shape)
        var = running_var.detach().reshape(shape)
        y = (input - mean) * (var + eps).rsqrt()
    return _affine(y, weight, bias, shape)


def _add_gamma_beta(module: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """Register the learned scale ``weight`` (gamma) and shift ``bias`` (beta) of a norm
    layer, or ``None`` in their places, in PyTorch's order."""
    if affine:
        module.weight = Parameter(empty(shape, dtype=dtype))
        if bias:
            module.bias = Parameter(empty(shape, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_gamma_beta(module: Module) -> None:
    """gamma = ones, beta = zeros (where the layer has them)."""
    with no_grad():
        if module.weight is not None:
            module.weight.fill_(1)
        if module.bias is not None:
            module.bias.fill_(0)


class _NormBase(Module):
    """What batch and instance norm share (as PyTorch's ``_NormBase``): the hyperparameters,
    ``weight`` and ``bias`` of shape (C,) when ``affine``, and the ``running_mean``,
    ``running_var`` and ``num_batches_tracked`` buffers when ``track_running_stats``
    (registered in this order: the state_dict keys follow it); ``name`` is the layer named
    in dtype/device errors. Subclasses define ``reset_parameters``, called last."""

    def __init__(self, num_features, eps, momentum, affine: bool, track_running_stats: bool,
                 device, dtype, name: str, *, bias: bool = True):
        super().__init__()
        dtype = parameter_dtype(dtype, device, name)
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _add_gamma_beta(self, (self.num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", empty((self.num_features,), dtype=dtype))
            self.register_buffer("running_var", empty((self.num_features,), dtype=dtype))
            self.register_buffer("num_batches_tracked",
                                 zeros((), dtype=backend.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()


class BatchNorm1d(_NormBase):
    """Batch normalization (Ioffe and Szegedy, 2015) of (N, C) or (N, C, L) inputs.

    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, per feature (channel) c.

    Training mode normalizes with the batch's mean and biased variance over N (and L) and
    updates ``running_mean`` and ``running_var`` (unbiased variance) with
    running = (1 - momentum) * running + momentum * batch; ``momentum=None`` gives the
    cumulative average (momentum 1 / num_batches_tracked).  Eval mode normalizes with the
    running statistics, or with the batch's when ``track_running_stats=False``.

    Args:
        num_features: C, the number of features or channels.
        eps: added to the variance for numerical stability (default 1e-5).
        momentum: weight of each new batch in the running averages (default 0.1), or None.
        affine: learn gamma (``weight``, ones) and beta (``bias``, zeros) (default True).
        track_running_stats: keep ``running_mean``, ``running_var`` and
            ``num_batches_tracked`` buffers (default True).
        device, dtype: as for :class:`~bricks.nn.Linear`.
        bias: learn beta (keyword only, default True; needs ``affine``).

    Shapes:
        (N, C) -> (N, C) and (N, C, L) -> (N, C, L).

    Example:
        >>> bn = bricks.nn.BatchNorm1d(3)
        >>> bn
        BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        >>> y = bn(bricks.randn(8, 3) * 5 + 2)
        >>> [round(v, 4) + 0.0 for v in y.mean(dim=0).tolist()]
        [0.0, 0.0, 0.0]
        >>> int(bn.num_batches_tracked)
        1
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        if not isinstance(num_features, numbers.Integral) or num_features < 1:
            raise ValueError(f"BatchNorm1d: num_features must be a positive int, got "
                             f"{num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got "
                             f"{momentum!r}")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, "BatchNorm1d", bias=bias)

    def reset_parameters(self) -> None:
        """Reset the running statistics, and gamma to ones and beta to zeros."""
        self.reset_running_stats()
        _reset_gamma_beta(self)

    _dims = (2, 3)
    _dims_text = "2D (N, C) or 3D (N, C, L)"

    def forward(self, input: Tensor) -> Tensor:
        name = type(self).__name__
        if input.ndim not in self._dims:
            raise ValueError(f"{name}: expected {self._dims_text} input, got "
                             f"{input.ndim}D input of shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} features in "
                             f"dimension 1, got input of shape {tuple(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / int(self.num_batches_tracked)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


def _normalized_shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalization over the last ``len(normalized_shape)`` dimensions.

    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, with the mean and biased variance
    taken per sample over the normalized dimensions (no running statistics: training and
    eval behave the same).

    Args:
        input: (*, *normalized_shape).
        normalized_shape: an int or a tuple, the trailing shape to normalize over.
        weight (gamma), bias (beta): of shape ``normalized_shape``, or None.
        eps: added to the variance for numerical stability.

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> x = bricks.tensor([[1.0, 2.0, 3.0]])
        >>> [round(v, 4) for v in bricks.nn.functional.layer_norm(x, 3).tolist()[0]]
        [-1.2247, 0.0, 1.2247]
    """
    shape = _normalized_shape(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: input of shape {tuple(input.shape)} does not end in "
                         f"normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} of shape {tuple(t.shape)} must have "
                             f"normalized_shape {shape}")
    _check_dtypes("layer_norm", input, (("weight", weight), ("bias", bias)))
    y, _, _ = _normalize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


class LayerNorm(Module):
    """Layer normalization (Ba et al., 2016) over the trailing ``normalized_shape``.

    y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, statistics per sample.

    Args:
        normalized_shape: an int or a tuple: the last dimensions of the input to normalize.
        eps: added to the variance for numerical stability (default 1e-5).
        elementwise_affine: learn gamma (``weight``, ones) and beta (``bias``, zeros) of
            shape ``normalized_shape`` (default True).
        bias: learn beta (default True; needs ``elementwise_affine``).
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        (*, *normalized_shape) -> the same shape.

    Example:
        >>> ln = bricks.nn.LayerNorm(4)
        >>> ln
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
        >>> y = ln(bricks.randn(2, 4) * 3 + 1)
        >>> [round(v, 4) + 0.0 for v in y.mean(dim=-1).tolist()]
        [0.0, 0.0]
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = parameter_dtype(dtype, device, "LayerNorm")
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _add_gamma_beta(self, self.normalized_shape, elementwise_affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma = ones, beta = zeros."""
        _reset_gamma_beta(self)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class BatchNorm2d(BatchNorm1d):
    """Batch normalization of (N, C, H, W) images: statistics per channel over N, H and W.

    Arguments, modes and running statistics exactly as :class:`BatchNorm1d`.

    Shapes:
        (N, C, H, W) -> (N, C, H, W).

    Example:
        >>> bn = bricks.nn.BatchNorm2d(3)
        >>> y = bn(bricks.randn(4, 3, 5, 5) * 2 + 1)
        >>> [round(v, 4) + 0.0 for v in y.mean(dim=(0, 2, 3)).tolist()]
        [0.0, 0.0, 0.0]
    """

    _dims = (4,)
    _dims_text = "4D (N, C, H, W)"


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Group normalization: per sample, the channels split into ``num_groups`` groups, each
    normalized over its channels and all positions, then a per-channel affine map.

    y = (x - E_group[x]) / sqrt(Var_group[x] + eps) * gamma_c + beta_c.

    Args:
        input: (N, C, *), C divisible by ``num_groups``.
        num_groups: number of groups (1: layer norm over (C, *); C: instance norm).
        weight (gamma), bias (beta): (C,) or None.
        eps: added to the variance.

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> x = bricks.tensor([[1.0, 3.0, 10.0, 30.0]])
        >>> [round(v, 3) for v in bricks.nn.functional.group_norm(x, 2).tolist()[0]]
        [-1.0, 1.0, -1.0, 1.0]
    """
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got shape "
                         f"{tuple(input.shape)}")
    n, c = input.shape[:2]
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: the {c} channels of input shape {tuple(input.shape)} "
                         f"must be divisible by num_groups={num_groups!r}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"group_norm: {name} of shape {tuple(t.shape)} must be ({c},)")
    _check_dtypes("group_norm", input, (("weight", weight), ("bias", bias)))
    y, _, _ = _normalize(input.reshape(n, num_groups, -1), (2,), eps)
    y = y.reshape(input.shape)
    shape = (c,) + (1,) * (input.ndim - 2)
    return _affine(y, weight, bias, shape)


class GroupNorm(Module):
    """Group normalization (Wu and He, 2018); see :func:`bricks.nn.functional.group_norm`.

    Args:
        num_groups: number of groups the channels are split into.
        num_channels: C.
        eps: added to the variance (default 1e-5).
        affine: learn per-channel gamma (ones) and beta (zeros) (default True).
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        (N, C, *) -> the same shape.

    Example:
        >>> bricks.nn.GroupNorm(2, 4)
        GroupNorm(2, 4, eps=1e-05, affine=True)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        dtype = parameter_dtype(dtype, device, "GroupNorm")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        _add_gamma_beta(self, (self.num_channels,), affine, True, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma = ones, beta = zeros."""
        _reset_gamma_beta(self)

    def forward(self, input: Tensor) -> Tensor:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization: every (sample, channel) normalized over its positions.

    With ``use_input_stats`` the statistics are each instance's own, and running statistics
    (when given) move towards their mean over the batch (unbiased variance, as PyTorch);
    otherwise the running statistics are used, as batch norm does in eval mode.

    Args:
        input: (N, C, *).
        running_mean, running_var: (C,) or None.
        weight (gamma), bias (beta): (C,) or None.
        use_input_stats: normalize with the instance statistics (default True).
        momentum, eps: as for :func:`batch_norm`.

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> x = bricks.tensor([[[1.0, 3.0], [10.0, 30.0]]])
        >>> bricks.nn.functional.instance_norm(x).round(decimals=3).tolist()
        [[[-1.0, 1.0], [-1.0, 1.0]]]
    """
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *) with at "
                         f"least one position dimension, got shape {tuple(input.shape)}")
    c = input.shape[1]
    named = (("running_mean", running_mean), ("running_var", running_var),
             ("weight", weight), ("bias", bias))
    for name, t in named:
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"instance_norm: {name} of shape {tuple(t.shape)} does not match "
                             f"the {c} channels of input shape {tuple(input.shape)}")
    _check_dtypes("instance_norm", input, named)
    shape = (c,) + (1,) * (input.ndim - 2)
    dims = tuple(range(2, input.ndim))
    if use_input_stats:
        y, mean, var = _normalize(input, dims, eps)
        m = input.numel() // (input.shape[0] * c) if c and input.shape[0] else 0
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(
                    mean.data.mean(axis=0).reshape(c).astype(running_mean.dtype) * momentum)
            if running_var is not None:
                unbiased = var.data.mean(axis=0).reshape(c) * (m / max(m - 1, 1))
                running_var.mul_(1 - momentum).add_(
                    unbiased.astype(running_var.dtype) * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: running_mean and running_var are needed when "
                             "use_input_stats=False")
        y = (input - running_mean.detach().reshape(shape)) * (
            running_var.detach().reshape(shape) + eps).rsqrt()
    return _affine(y, weight, bias, shape)


class InstanceNorm2d(_NormBase):
    """Instance normalization (Ulyanov et al., 2016) of (N, C, H, W) images.

    Args:
        num_features: C.
        eps: added to the variance (default 1e-5).
        momentum: for the running statistics (default 0.1).
        affine: learn per-channel gamma and beta (default False, as PyTorch).
        track_running_stats: keep running statistics and use them in eval mode (default
            False: instance statistics in both modes).
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        (N, C, H, W) or (C, H, W) -> the same shape.

    Example:
        >>> bricks.nn.InstanceNorm2d(3)(bricks.randn(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    _ndim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, type(self).__name__)

    def reset_parameters(self) -> None:
        """Running statistics to 0 and 1, gamma to ones, beta to zeros."""
        self.reset_running_stats()
        _reset_gamma_beta(self)

    def forward(self, input: Tensor) -> Tensor:
        name, k = type(self).__name__, self._ndim
        if input.ndim not in (k + 1, k + 2):
            raise ValueError(f"{name}: expected {k + 2}D (N, C, ...) or {k + 1}D input, got "
                             f"shape {tuple(input.shape)}")
        unbatched = input.ndim == k + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels, got input of "
                             f"shape {tuple(input.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        # num_batches_tracked exists for PyTorch's state_dict keys; PyTorch never counts it up.
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_input_stats, self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(InstanceNorm2d):
    """Instance normalization of (N, C, L) sequences; see :class:`InstanceNorm2d`.

    Example:
        >>> bricks.nn.InstanceNorm1d(3)(bricks.randn(2, 3, 8)).shape
        (2, 3, 8)
    """

    _ndim = 1
