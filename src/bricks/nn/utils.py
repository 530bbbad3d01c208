"""Gradient clipping and flattening parameters to one vector (``torch.nn.utils``' helpers).

Clipping keeps one bad batch (or an exploding recurrent gradient) from throwing the weights
far away; the flat vector is what second-order optimizers and line searches work on.

Example:
    >>> w = bricks.nn.Parameter(bricks.tensor([3.0, 4.0]))
    >>> w.grad = bricks.tensor([30.0, 40.0])
    >>> bricks.nn.utils.clip_grad_norm_([w], max_norm=5.0)
    tensor(50.)
    >>> [round(g, 4) for g in w.grad.tolist()]
    [3.0, 4.0]
"""

from __future__ import annotations

from bricks import backend
from bricks.autograd import no_grad
from bricks.backend import get_array_module, xp
from bricks.functions.shape import cat
from bricks.tensor import Tensor, tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "rnn"]


def _as_list(parameters, op):
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected tensors (parameters), got {type(p).__name__}")
    return params


def _vector_norm(array, norm_type: float):
    # On the array's own device; the norms (Python floats) are then combined on the host.
    flat = array.reshape(-1).astype(backend.float64)
    if flat.size == 0:
        return 0.0
    return float(get_array_module(flat).linalg.norm(flat, ord=norm_type))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients of ``parameters`` together so that their total norm is at most
    ``max_norm``.

    The total norm is the norm of all gradients concatenated into one vector,
    ``||g|| = (sum_i ||g_i||^p)^(1/p)`` (the largest ``|g|`` for ``p = inf``).  Every
    gradient is multiplied by ``min(1, max_norm / (||g|| + 1e-6))``.  Parameters without
    a gradient are skipped.

    Args:
        parameters: an iterable of tensors (or a single tensor) whose ``.grad`` to clip.
        max_norm: the largest allowed total norm.
        norm_type: ``p`` of the p-norm; ``float('inf')`` (or ``'inf'``) for the max norm.
        error_if_nonfinite: raise if the total norm is NaN or infinite (otherwise the
            gradients are scaled by it anyway, as in PyTorch).

    Returns:
        The total norm of the gradients before clipping, a 0-d tensor in the gradients'
        dtype.

    Example:
        >>> p = bricks.nn.Parameter(bricks.zeros(4))
        >>> p.grad = bricks.tensor([1.0, -1.0, 1.0, -1.0])
        >>> bricks.nn.utils.clip_grad_norm_(p, 1.0)
        tensor(2.)
        >>> round(p.grad.norm().item(), 4)
        1.0
    """
    params = _as_list(parameters, "clip_grad_norm_")
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return tensor(0.0)
    dtype = grads[0].data.dtype
    for g in grads[1:]:
        dtype = backend.promote_types(dtype, g.data.dtype)
    norms = xp.array([_vector_norm(g.data, norm_type) for g in grads])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not xp.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"non-finite ({total}), so they cannot be clipped; to scale them by the "
            f"non-finite norm anyway, pass error_if_nonfinite=False"
        )
    # PyTorch computes the coefficient in the gradients' dtype; doing the same keeps
    # float32 results bit-comparable.
    total_t = xp.asarray(total, dtype=dtype)
    coef = min(xp.asarray(max_norm, dtype=dtype) / (total_t + xp.asarray(1e-6, dtype=dtype)),
               xp.asarray(1.0, dtype=dtype))
    with no_grad():
        for g in grads:
            g.mul_(coef.astype(g.data.dtype))
    return tensor(total_t, device=grads[0].device)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element of ``parameters`` into ``[-clip_value, clip_value]``.

    Example:
        >>> p = bricks.nn.Parameter(bricks.zeros(3))
        >>> p.grad = bricks.tensor([-5.0, 0.5, 5.0])
        >>> bricks.nn.utils.clip_grad_value_(p, 1.0)
        >>> p.grad
        tensor([-1.0000,  0.5000,  1.0000])
    """
    params = _as_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    with no_grad():
        for p in params:
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters) -> Tensor:
    """Concatenate the flattened ``parameters`` into one 1-D tensor (differentiable).

    Example:
        >>> a = bricks.nn.Parameter(bricks.ones(2, 2))
        >>> b = bricks.nn.Parameter(bricks.zeros(3))
        >>> bricks.nn.utils.parameters_to_vector([a, b]).shape
        (7,)
    """
    params = _as_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-D tensor ``vec`` into ``parameters``, in order.

    The inverse of :func:`parameters_to_vector`.  Unlike PyTorch, which rebinds each
    ``param.data`` to a view of ``vec``, the values are copied into the parameters' own
    arrays, so later changes to ``vec`` do not leak into the model; and a ``vec`` whose
    length differs from the parameters' total size is an error rather than silently cut.

    Example:
        >>> a = bricks.nn.Parameter(bricks.zeros(2, 2))
        >>> bricks.nn.utils.vector_to_parameters(bricks.arange(4.0), [a])
        >>> a.data.tolist()
        [[0.0, 1.0], [2.0, 3.0]]
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    params = _as_list(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D tensor of {total} elements "
                         f"(the parameters' total size), got shape {tuple(vec.shape)}")
    pointer = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec.data[pointer:pointer + n].reshape(p.shape))
            pointer += n


# ``nn.utils.rnn`` as in PyTorch (pad_sequence, pack_padded_sequence, pad_packed_sequence,
# pack_sequence, PackedSequence): they live with the recurrent layers that consume them.
from bricks.nn import rnn  # noqa: E402
