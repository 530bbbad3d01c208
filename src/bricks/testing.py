"""Check your own ops: ``gradcheck`` and ``gradgradcheck`` compare the gradients that
backward computes with float64 central differences, and say exactly where they differ.

Example:
    >>> x = bricks.randn(3, dtype=bricks.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t.sin() * t).sum(), (x,))
    True
"""

from __future__ import annotations

from bricks.autograd import enable_grad, grad, no_grad
from bricks.backend import float64, xp
from bricks.tensor import Tensor, const

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError", "numerical_jacobian",
           "analytical_jacobian"]


class GradcheckError(AssertionError):
    """Raised by gradcheck when analytic and numeric gradients disagree."""


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _outputs(func, inputs):
    return _as_tuple(func(*inputs))


def numerical_jacobian(func, inputs, eps=1e-6):
    """Central differences: one (n_out_total, n_in) matrix per differentiable input."""
    with no_grad():
        outs = _outputs(func, inputs)
    n_out = sum(o.numel() for o in outs)
    jacs = []
    for t in inputs:
        if not (isinstance(t, Tensor) and t.requires_grad):
            jacs.append(None)
            continue
        jac = xp.zeros((n_out, t.numel()), dtype=float64)
        flat = t.data.reshape(-1)  # a view: perturbing it perturbs the input
        if t.data.size and not xp.shares_memory(flat, t.data):
            raise ValueError("gradcheck: inputs must be contiguous arrays")
        for j in range(t.numel()):
            old = flat[j]
            flat[j] = old + eps
            with no_grad():
                plus = _flat_outputs(func, inputs)
            flat[j] = old - eps
            with no_grad():
                minus = _flat_outputs(func, inputs)
            flat[j] = old
            jac[:, j] = (plus - minus) / (2 * eps)
        jacs.append(jac)
    return jacs


def _flat_outputs(func, inputs):
    outs = _outputs(func, inputs)
    return xp.concatenate([xp.asarray(o.data, dtype=float64).reshape(-1) for o in outs]) if (
        outs) else xp.zeros(0)


def analytical_jacobian(func, inputs):
    """Backward, one output element at a time: one (n_out_total, n_in) matrix per input."""
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(func, inputs)
    n_out = sum(o.numel() for o in outs)
    jacs = {i: xp.zeros((n_out, inputs[i].numel()), dtype=float64) for i in diff}
    row = 0
    for o in outs:
        for k in range(o.numel()):
            if not o.requires_grad:
                row += 1
                continue
            seed = xp.zeros(o.shape, dtype=o.dtype)
            seed.reshape(-1)[k] = 1
            gs = grad(o, [inputs[i] for i in diff], const(seed),
                      retain_graph=True, allow_unused=True)
            for i, g in zip(diff, gs):
                if g is not None:
                    jacs[i][row] = g.data.reshape(-1)
            row += 1
    return [jacs.get(i) for i in range(len(inputs))]


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True) -> bool:
    """Compare backward's gradients of ``func`` with float64 central differences.

    Args:
        func: takes the tensors in ``inputs`` and returns a tensor or a tuple of tensors.
        inputs: tensors; those with ``requires_grad=True`` are checked (use float64).
        eps: finite-difference step.
        atol, rtol: the check is |analytic - numeric| <= atol + rtol * |numeric|.
        raise_exception: raise GradcheckError with a report (else return False).

    Returns:
        True when every entry of every Jacobian agrees.
    """
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != float64:
            raise ValueError(f"gradcheck: input {i} has dtype {t.dtype}; finite differences "
                             f"need float64 inputs (x.double())")
    if not any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        raise ValueError("gradcheck: no input has requires_grad=True")
    numeric = numerical_jacobian(func, inputs, eps)
    analytic = analytical_jacobian(func, inputs)
    for i, (num, ana) in enumerate(zip(numeric, analytic)):
        if num is None:
            continue
        bad = ~(xp.abs(ana - num) <= atol + rtol * xp.abs(num))
        if bad.any():
            r, c = (int(v) for v in xp.argwhere(bad)[0])
            shape = tuple(inputs[i].shape)
            elem = tuple(int(v) for v in xp.unravel_index(c, shape)) if shape else ()
            msg = (
                f"gradcheck failed for input {i} (shape {shape}) at element {elem}, output "
                f"element {r}: analytic {ana[r, c]:.10g} vs numeric {num[r, c]:.10g} "
                f"({int(bad.sum())} of {bad.size} entries differ; atol={atol}, rtol={rtol})"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True) -> bool:
    """Check second derivatives: gradcheck of the map (inputs, v) -> v^T J(inputs).

    ``grad_outputs`` (the v's) default to random float64 tensors shaped like the outputs.
    """
    inputs = _as_tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = xp.random.default_rng(0)
        grad_outputs = tuple(
            Tensor._make(rng.standard_normal(o.shape), True, None, 0) for o in outs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():  # also while the numeric pass runs under no_grad
            ys = _outputs(func, xs)
            gs = grad(ys, [xs[i] for i in diff], vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0.0 for g, i in zip(gs, diff))

    return gradcheck(first_derivative, inputs + grad_outputs, eps, atol, rtol,
                     raise_exception)
