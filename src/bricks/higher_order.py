"""Higher-order derivatives, built only on ``grad(create_graph=True)``.

The same five functions as ``torch.autograd.functional``:

- ``vjp(f, x, v)``:  v^T J, one backward pass.
- ``jvp(f, x, v)``:  J v, by differentiating a vjp with respect to its vector (the "double
  vjp" trick): u -> u^T J is linear in u, and its gradient with respect to u is J v.
- ``hvp(f, x, v)``:  H v, the gradient of (grad f . v), two backward passes, never forming H.
- ``jacobian(f, x)`` and ``hessian(f, x)``: the full matrices, one backward per output
  element (fine for the small problems Newton's method is used on).

``inputs`` is a Tensor or a tuple of Tensors; results mirror that structure.
"""

from __future__ import annotations

from bricks.autograd import enable_grad, grad
from bricks.backend import xp
from bricks.functions.shape import stack
from bricks.tensor import Tensor, const

__all__ = ["vjp", "jvp", "hvp", "jacobian", "hessian"]


def _as_tuple(x, what):
    single = isinstance(x, Tensor)
    items = (x,) if single else tuple(x)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what} {i} is a {type(t).__name__}, expected a Tensor")
    return single, items


def _prepare(inputs, create_graph):
    single, items = _as_tuple(inputs, "input")
    fresh = []
    for t in items:
        if create_graph and t.requires_grad:
            fresh.append(t * 1.0)  # stays connected to the caller's graph
        else:
            fresh.append(t.detach().requires_grad_(True))
    return single, tuple(fresh)


def _grads(outputs, inputs, grad_outputs, create_graph):
    # An output that does not depend on any input at all (a constant) has derivative 0,
    # as in torch.autograd.functional (strict=False): leave it out instead of raising.
    live = [i for i, o in enumerate(outputs) if o.requires_grad]
    if not live:
        gs = (None,) * len(inputs)
    else:
        gs = grad([outputs[i] for i in live], inputs,
                  None if grad_outputs is None else [grad_outputs[i] for i in live],
                  create_graph=True, retain_graph=True, allow_unused=True)
    out = []
    for g, t in zip(gs, inputs):
        if g is None:
            g = const(xp.zeros(t.shape, dtype=t.dtype))
        out.append(g if create_graph else g.detach())
    return tuple(out)


def _result(single, items):
    return items[0] if single else tuple(items)


def _check_v(v, refs, what):
    single, vs = _as_tuple(v, what)
    if len(vs) != len(refs):
        raise ValueError(f"{what}: expected {len(refs)} tensors, got {len(vs)}")
    for i, (a, b) in enumerate(zip(vs, refs)):
        if a.shape != b.shape:
            raise RuntimeError(f"{what} {i} has shape {tuple(a.shape)}, expected "
                               f"{tuple(b.shape)}")
    return vs


def vjp(func, inputs, v=None, create_graph=False):
    """Vector-Jacobian product v^T (df/dx).

    Args:
        func: a function of the input tensor(s) returning a tensor (or tuple of tensors).
        inputs: a Tensor or tuple of Tensors.
        v: same shape(s) as the output; may be omitted for a single-element output.
        create_graph: keep the result differentiable.

    Returns:
        ``(outputs, vjp)`` with ``vjp`` shaped like ``inputs``.

    Example:
        >>> out, g = vjp(lambda x: (x ** 2).sum(), bricks.tensor([1.0, 2.0]))
        >>> g.tolist()
        [2.0, 4.0]
    """
    single_in, xs = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
        single_out, outs = _as_tuple(out, "output")
        vs = None if v is None else _check_v(v, outs, "v")
        gs = _grads(outs, xs, vs, create_graph)
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return _result(single_out, outs), _result(single_in, gs)


def jvp(func, inputs, v=None, create_graph=False):
    """Jacobian-vector product (df/dx) v, by the double-vjp trick.

    Returns:
        ``(outputs, jvp)`` with ``jvp`` shaped like the outputs.
    """
    single_in, xs = _prepare(inputs, create_graph)
    if v is None:
        if any(t.numel() != 1 for t in xs):
            raise RuntimeError("jvp: v can be omitted only for single-element inputs")
        vs = tuple(const(xp.ones(t.shape, dtype=t.dtype)) for t in xs)
    else:
        vs = _check_v(v, xs, "v")
    with enable_grad():
        out = func(*xs)
        single_out, outs = _as_tuple(out, "output")
        us = tuple(Tensor._make(xp.zeros(o.shape, dtype=o.dtype), True, None, 0) for o in outs)
        gx = grad(outs, xs, us, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(gx, vs) if g is not None]
        if not pairs:
            jv = tuple(const(xp.zeros(o.shape, dtype=o.dtype))
                       for o in outs)
        else:
            jv = _grads([g for g, _ in pairs], us, [w for _, w in pairs], create_graph)
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return _result(single_out, outs), _result(single_out, jv)


def hvp(func, inputs, v, create_graph=False):
    """Hessian-vector product H v of a scalar function, without forming H.

    Returns:
        ``(output, hvp)`` with ``hvp`` shaped like ``inputs``.

    Example:
        >>> f = lambda x: (x ** 3).sum()
        >>> _, hv = hvp(f, bricks.tensor([1.0, 2.0]), bricks.tensor([1.0, 1.0]))
        >>> hv.tolist()
        [6.0, 12.0]
    """
    single_in, xs = _prepare(inputs, create_graph)
    vs = _check_v(v, xs, "v")
    with enable_grad():
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hvp: the function must return a single-element tensor")
        gx = _grads((out,), xs, None, True)
        dot = sum((g * w).sum() for g, w in zip(gx, vs))
        hv = _grads((dot,), xs, None, create_graph)
    return (out if create_graph else out.detach()), _result(single_in, hv)


def jacobian(func, inputs, create_graph=False):
    """The full Jacobian: ``J[i..., j...] = d out[i...] / d x[j...]``.

    Returns:
        For one input and one output a tensor of shape ``out.shape + x.shape``; otherwise
        nested tuples ``J[output][input]`` (dropping the level that has a single entry).
    """
    single_in, xs = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
        single_out, outs = _as_tuple(out, "output")
        rows = []
        for o in outs:
            flat = o.reshape(-1)
            per_input = [[] for _ in xs]
            for i in range(flat.shape[0]):
                gs = _grads((flat[i],), xs, None, create_graph)
                for k, g in enumerate(gs):
                    per_input[k].append(g.reshape(-1))
            blocks = []
            for k, x in enumerate(xs):
                if per_input[k]:
                    block = stack(per_input[k], 0).reshape(o.shape + x.shape)
                else:
                    block = Tensor._make(xp.zeros(o.shape + x.shape, dtype=x.dtype), False,
                                         None, 0)
                blocks.append(block)
            rows.append(_result(single_in, blocks))
    return _result(single_out, rows)


def hessian(func, inputs, create_graph=False):
    """The Hessian of a scalar function: the Jacobian of its gradient.

    Example:
        >>> f = lambda x: (x[0] ** 2) * x[1]
        >>> hessian(f, bricks.tensor([1.0, 3.0])).tolist()
        [[6.0, 2.0], [2.0, 0.0]]
    """
    single_in, xs = _prepare(inputs, create_graph)

    def gradient(*args):
        out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hessian: the function must return a single-element tensor")
        gs = grad(out, args, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else a * 0.0 for g, a in zip(gs, args))

    with enable_grad():
        return jacobian(lambda *a: _result(single_in, gradient(*a)),
                        _result(single_in, xs), create_graph=create_graph)
