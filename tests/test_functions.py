"""Every op through one table (STYLE.md rule 9), checked against PyTorch 2.13.

Each row of ``ROWS`` names an op, a function ``f(L, *xs, **kw)`` that calls it through a
namespace ``L`` (bricks, or torch with bricks' spelling), and a generator that draws a case:
the float inputs ``xs`` (all differentiable) and settings ``kw`` (dims, indices, masks).
For every row, on hypothesis-drawn shapes (broadcasting, size-1 and zero-size dimensions)
and on inputs that are non-contiguous views of their leaves (``leaf.transpose(-1, -2)``,
``leaf[..., ::2]``), in float64 and float32:

* forward: every output equals PyTorch's, dtype included;
* backward: the leaves' gradients for a random upstream gradient equal PyTorch's;
* double backward: the gradient of sum(grad * v) with respect to the leaves and to the
  upstream gradient (so linear ops check their backward's own backward too) equals
  PyTorch's;

float64 to a tight tolerance, float32 to ``torch.testing.assert_close``'s float32
defaults.  Separately, ``bricks.testing.gradcheck`` and ``gradgradcheck`` check each row
on a small float64 case against central differences.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bricks
from bricks.testing import gradcheck, gradgradcheck

torch.set_num_threads(1)

# ---------------------------------------------------------------- the two namespaces


class _Lib:
    """The module a row calls: attribute access falls through to bricks or torch."""

    def __init__(self, name, module, const, **overrides):
        self.name, self._module, self.const = name, module, const
        self.__dict__.update(overrides)

    def __getattr__(self, attr):
        return getattr(self._module, attr)

    def leaf(self, array, dtype):
        array = np.asarray(array, dtype=dtype)  # a 0-d array, never a NumPy scalar
        if self.name == "bricks":
            return bricks.tensor(array, requires_grad=True)
        return torch.tensor(array, requires_grad=True)

    def grad(self, outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
        if self.name == "bricks":
            return bricks.grad(outputs, inputs, grad_outputs, create_graph=create_graph,
                               retain_graph=retain_graph, allow_unused=True)
        return torch.autograd.grad(outputs, inputs, grad_outputs, create_graph=create_graph,
                                   retain_graph=retain_graph, allow_unused=True)


BR = _Lib("bricks", bricks, lambda a: bricks.tensor(np.array(a)),
          linear=bricks.nn.functional.linear, mse_loss=bricks.nn.functional.mse_loss,
          cross_entropy=bricks.nn.functional.cross_entropy,
          softplus=bricks.functions.elementwise.softplus)
TO = _Lib("torch", torch, lambda a: torch.from_numpy(np.array(a)), pad=TF.pad,
          one_hot=TF.one_hot, linear=TF.linear, mse_loss=TF.mse_loss,
          cross_entropy=TF.cross_entropy,
          # the pure log(1 + e^x): PyTorch's default threshold=20 switches to x itself
          softplus=lambda x: TF.softplus(x, threshold=1e9))


def _array(t):
    if isinstance(t, bricks.Tensor):
        return np.array(bricks.backend.to_numpy(t.data))  # from any device (test_device_*)
    if t._is_zerotensor():  # PyTorch's symbolic zeros (abs's double backward) hold no data
        return np.zeros(t.shape, dtype=torch.empty((), dtype=t.dtype).numpy().dtype)
    return t.detach().numpy().copy()


# ---------------------------------------------------------------- drawing cases


class Draw:
    """Hypothesis draws for one case; ``small`` keeps cases tiny and non-empty (gradcheck)."""

    def __init__(self, data, small=False):
        self.data, self.small = data, small
        self.rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))

    def __call__(self, strategy, label=None):
        return self.data.draw(strategy, label=label)

    def _limits(self, min_dims, max_dims, min_side, max_side):
        if self.small:
            max_side = min(max_side, 3)
            min_side = min(max(min_side, 1), max_side)
            max_dims = max(min_dims, min(max_dims, 2))
        return min_dims, max_dims, min_side, max_side

    def shape(self, min_dims=0, max_dims=3, min_side=0, max_side=4):
        a, b, c, e = self._limits(min_dims, max_dims, min_side, max_side)
        return self(hnp.array_shapes(min_dims=a, max_dims=b, min_side=c, max_side=e), "shape")

    def shapes(self, n, min_dims=0, max_dims=3, min_side=0, max_side=4):
        """``n`` mutually broadcastable shapes."""
        a, b, c, e = self._limits(min_dims, max_dims, min_side, max_side)
        drawn = self(hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=a, max_dims=b, min_side=c, max_side=e), "shapes")
        return drawn.input_shapes

    def arr(self, shape, lo=-2.0, hi=2.0, away=0.0):
        """Uniform values in [lo, hi]; with ``away``, magnitudes in [away, hi] of either sign."""
        if away:
            mag = self.rng.uniform(away, hi, shape)
            return np.where(self.rng.random(shape) < 0.5, -mag, mag)
        return self.rng.uniform(lo, hi, shape)

    def ints(self, shape, lo, hi):
        """int64 values in [lo, hi]."""
        return self.rng.integers(lo, hi + 1, shape).astype(np.int64)

    def int(self, lo, hi):
        return self(st.integers(lo, hi))

    def size(self, hi):
        """A dimension's size in [0, hi]; never 0 for gradcheck (its inputs must be real)."""
        return self.int(1 if self.small else 0, hi)

    def pick(self, options):
        return self(st.sampled_from(options))

    def bool(self):
        return self(st.booleans())

    def dim(self, ndim):
        return self.int(-max(ndim, 1), max(ndim, 1) - 1)

    def dims(self, ndim, allow_none=True):
        """None, an int or a (non-empty) tuple of distinct dims."""
        kinds = (["none"] if allow_none else []) + ["int"] + (["tuple"] if ndim else [])
        kind = self.pick(kinds)
        if kind == "none":
            return None
        if kind == "int":
            return self.dim(ndim)
        axes = self(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        return tuple(a - ndim if self.bool() else a for a in axes)


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % max(ndim, 1) for d in dims)) if ndim else ()


def _nonempty_along(shape, axes):
    return tuple(max(n, 1) if i in axes else n for i, n in enumerate(shape))


# ---------------------------------------------------------------- the table


@dataclass
class Row:
    name: str
    f: Callable  # f(L, *xs, **kw) with L = BR or TO
    gen: Callable  # gen(d: Draw) -> (xs, kw)
    tf: Callable | None = None  # torch's side, where torch spells the op differently
    views: bool = True  # also run on non-contiguous views of the leaves
    check: bool = True  # gradcheck/gradgradcheck (off only where the op has no derivative)
    # True at a point without derivative where PyTorch's convention is a zero gradient
    # (std at zero spread) but its own rounding only sometimes reaches that point exactly,
    # and its double backward is nan there: bricks' gradients must then be exactly 0.
    zero_grad: bool = False
    tol32: dict | None = None  # float32 tolerance, where assert_close's defaults cannot hold


def unary(lo=-2.0, hi=2.0, away=0.0, max_dims=4):
    return lambda d: ([d.arr(d.shape(max_dims=max_dims), lo, hi, away)], {})


def binary(lo=-2.0, hi=2.0, away=0.0, lo2=None, hi2=None, away2=None):
    def gen(d):
        sa, sb = d.shapes(2)
        b_args = (lo if lo2 is None else lo2, hi if hi2 is None else hi2,
                  away if away2 is None else away2)
        return [d.arr(sa, lo, hi, away), d.arr(sb, *b_args)], {}

    return gen


def ties(shape_gen, values=(0.0, 1.0, 2.0)):
    """Values from a tiny set, so extrema tie: the row checks PyTorch's tie-breaking."""

    def gen(d):
        xs, kw = shape_gen(d)
        return [np.asarray(values)[d.rng.integers(0, len(values), x.shape)] for x in xs], kw

    return gen


def away_from(x, points, gap=0.02, shift=0.05):
    """Push values within ``gap`` of a kink (clamp bounds) off it."""
    for p in points:
        x = np.where(np.abs(x - p) < gap, x + shift, x)
    return x


def gen_divmod(d):
    """a and b with a / b at least 0.1 away from an integer (// and % are smooth there).

    b is ±c for one c per case, so a = c * (k + frac) keeps every broadcast quotient safe.
    """
    sa, sb = d.shapes(2)
    c = d.rng.uniform(0.5, 2.0)
    b = c * np.where(d.rng.random(sb) < 0.5, -1.0, 1.0)
    a = c * (d.rng.integers(-3, 4, sa) + d.rng.uniform(0.1, 0.9, sa))
    return [a, b], {}


def gen_clamp(lo, hi):
    def gen(d):
        x = d.arr(d.shape(max_dims=4), -2, 2)
        return [away_from(x, [p for p in (lo, hi) if p is not None])], {"lo": lo, "hi": hi}

    return gen


def gen_clamp_tensor(d):
    sx, slo, shi = d.shapes(3)
    # x has the broadcast shape: PyTorch's clamp backward fails to reduce a gradient from a
    # zero-size broadcast shape back to a smaller x.
    sx = np.broadcast_shapes(sx, slo, shi)
    # x lies well inside [-0.1, 0.1] or outside ±1.1, bounds in [-1, -0.2] and [0.2, 1]:
    # never at a kink.
    inner = d.rng.uniform(-0.1, 0.1, sx)
    outer = d.arr(sx, 1.1, 2.0, away=1.1)
    x = np.where(d.rng.random(sx) < 0.5, inner, outer)
    return [x, d.rng.uniform(-1, -0.2, slo), d.rng.uniform(0.2, 1, shi)], {}


def gen_where(d):
    sc, sa, sb = d.shapes(3)
    return [d.arr(sa), d.arr(sb)], {"cond": d.rng.random(sc) < 0.5}


def gen_pow_scalar(d):
    e = d.pick([2, 3, 0, 1, -1, -2, 0.5, -1.5, 2.5, 2.0, 1.0])
    shape = d.shape(max_dims=4)
    if isinstance(e, int) or float(e).is_integer():
        x = d.arr(shape, -2, 2, away=0.3)
    else:
        x = d.rng.uniform(0.2, 2.0, shape)
    return [x], {"e": e}


def gen_rmod(d):
    x = d.arr(d.shape(), 0.6, 2.0, away=0.6)
    q = 5.0 / x
    x = np.where(np.abs(q - np.round(q)) < 0.1, x * 1.07, x)
    return [x], {}


def gen_mod_scalar(d):
    shape = d.shape(max_dims=4)
    q = d.rng.integers(-3, 4, shape) + d.rng.uniform(0.1, 0.9, shape)
    return [q * 1.5], {}


# reductions


def gen_reduce(lo=-2.0, hi=2.0, away=0.0, dims=True, nonempty=False, max_dims=4):
    def gen(d):
        shape = d.shape(max_dims=max_dims)
        dim = d.dims(len(shape)) if dims else None
        if nonempty:
            shape = _nonempty_along(shape, _axes(dim, len(shape)))
        return [d.arr(shape, lo, hi, away)], {"dim": dim, "keepdim": d.bool()}

    return gen


def gen_var(std=False, constant=False):
    def gen(d):
        shape = d.shape(min_dims=1 if std else 0, max_dims=4)
        dim = d.dims(len(shape))
        correction = d.pick([0, 1, 2])
        axes = _axes(dim, len(shape))
        # PyTorch divides by N - correction without clamping where bricks clamps at 0 (both
        # give inf/nan), so rows keep N > correction, and N >= 2 for std: one element has
        # zero spread, which is the ``constant`` row's case.
        least = max(correction + 1, 2 if std else 1)
        shape = tuple(max(n, least) if i in axes else n for i, n in enumerate(shape))
        if not axes:
            correction = 0
        x = d.arr(shape)
        if std:
            # A checkerboard of signs with magnitudes >= 0.5 keeps every slice's spread
            # >= 1: std's second derivative sums terms of size |g v| / std that cancel, and
            # float32 rounding of those (both libraries') grows as the spread shrinks.
            x = d.arr(shape, 0.5, 1.5) * (-1.0) ** np.indices(shape).sum(axis=0)
        if constant:  # zero spread along the reduced dims: PyTorch's gradient there is 0
            x = np.broadcast_to(x[tuple(slice(0, 1) if i in axes else slice(None)
                                        for i in range(len(shape)))], shape)
        return [x], {"dim": dim, "correction": correction, "keepdim": d.bool()}

    return gen


def gen_max_dim(d):
    shape = d.shape(max_dims=4)
    dim = d.dim(len(shape))
    return [d.arr(_nonempty_along(shape, _axes(dim, len(shape))))], {"dim": dim,
                                                                      "keepdim": d.bool()}


def gen_nonempty(d):
    return [d.arr(d.shape(max_dims=4, min_side=1))], {}


def gen_argmax(d):
    shape = d.shape(max_dims=4)
    dim = d.pick([None, d.dim(len(shape))])
    return [d.arr(_nonempty_along(shape, _axes(dim, len(shape))))], {"dim": dim,
                                                                      "keepdim": d.bool()}


def gen_prod(zeros):
    def gen(d):
        shape = d.shape(max_dims=3)
        dim = d.pick([None, d.dim(len(shape))])
        x = d.arr(shape, 0.5, 1.5, away=0.5)
        if zeros:  # some slices get one zero, some two or more
            x = np.where(d.rng.random(shape) < d.pick([0.2, 0.5]), 0.0, x)
        return [x], {"dim": dim, "keepdim": d.bool() if dim is not None else False}

    return gen


def gen_logsumexp(scale):
    def gen(d):
        shape = d.shape(max_dims=4)
        dim = d.dims(len(shape), allow_none=False)
        return [d.arr(shape, -scale, scale)], {"dim": dim, "keepdim": d.bool()}

    return gen


def gen_norm(d):
    p = d.pick(["fro", 2, 1, 3, 1.5, float("inf"), float("-inf"), 0])
    shape = d.shape(max_dims=3)
    dim = d.dims(len(shape))
    if p not in ("fro", 2, 1, 0):
        # An empty slice has norm 0, where |x|^p is not smooth: PyTorch's double backward
        # gives nan there (and amax has no identity).
        shape = _nonempty_along(shape, _axes(dim, len(shape)))
    # Away from 0, where |x|^(p-1) has a kink (p = 1) or an infinite second derivative.
    return [d.arr(shape, -2, 2, away=0.1)], {"p": p, "dim": dim, "keepdim": d.bool()}


def gen_dim(lo=-2.0, hi=2.0, min_dims=0):
    def gen(d):
        shape = d.shape(min_dims=min_dims, max_dims=4)
        return [d.arr(shape, lo, hi)], {"dim": d.dim(len(shape))}

    return gen


# shapes


def gen_reshape(d):
    shape = d.shape(max_dims=4)
    new = list(shape)
    d.rng.shuffle(new)
    for _ in range(d.int(0, 2)):
        new.insert(d.int(0, len(new)), 1)
    if len(new) >= 2 and d.bool():  # merge two neighbours
        i = d.int(0, len(new) - 2)
        new[i:i + 2] = [new[i] * new[i + 1]]
    if new and int(np.prod(shape)) > 0 and d.bool():
        new[d.int(0, len(new) - 1)] = -1
    return [d.arr(shape)], {"shape": tuple(new)}


def gen_flatten(d):
    shape = d.shape(max_dims=4)
    n = max(len(shape), 1)
    s, e = sorted((d.int(0, n - 1), d.int(0, n - 1)))
    return [d.arr(shape)], {"start": s - n if d.bool() else s, "end": e - n if d.bool() else e}


def gen_squeeze(d):
    shape = d.shape(max_dims=4, max_side=2)
    return [d.arr(shape)], {"dim": d.dims(len(shape))}


def gen_unsqueeze(d):
    shape = d.shape(max_dims=4)
    return [d.arr(shape)], {"dim": d.int(-len(shape) - 1, len(shape))}


def gen_transpose(d):
    shape = d.shape(min_dims=1, max_dims=4)
    return [d.arr(shape)], {"d0": d.dim(len(shape)), "d1": d.dim(len(shape))}


def gen_permute(d):
    shape = d.shape(max_dims=4)
    return [d.arr(shape)], {"dims": tuple(int(i) for i in d.rng.permutation(len(shape)))}


def gen_expand(d):
    shape = d.shape(max_dims=3, max_side=3)
    sizes = [(-1 if d.bool() else n) if n != 1 else d.size(3) for n in shape]
    lead = [d.size(3) for _ in range(d.int(0, 2))]
    return [d.arr(shape)], {"sizes": tuple(lead + sizes)}


def gen_broadcast_to(d):
    sa, sb = d.shapes(2)
    return [d.arr(sa)], {"shape": np.broadcast_shapes(sa, sb)}


def gen_cat(d):
    shape = d.shape(min_dims=1, max_dims=3)
    dim = d.dim(len(shape))
    axis = dim % len(shape)
    xs = []
    for _ in range(d.int(1, 4)):
        s = list(shape)
        s[axis] = d.size(3)
        xs.append(d.arr(tuple(s)))
    return xs, {"dim": dim}


def gen_stack(d):
    shape = d.shape(max_dims=3)
    return [d.arr(shape) for _ in range(d.int(1, 3))], {"dim": d.int(-len(shape) - 1,
                                                                      len(shape))}


def gen_split(d):
    shape = d.shape(min_dims=1, max_dims=3, max_side=5)
    dim = d.dim(len(shape))
    n = shape[dim]
    if d.bool():
        arg = d.int(1, 4)
    else:
        if d.small:  # no empty pieces: their gradients would be zero-size inputs
            cuts = sorted(d(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
        else:
            cuts = sorted(d(st.lists(st.integers(0, n), max_size=3)))
        arg = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return [d.arr(shape)], {"arg": arg, "dim": dim}


def gen_chunk(d):
    shape = d.shape(min_dims=1, max_dims=3, max_side=6)
    return [d.arr(shape)], {"chunks": d.int(1, 4), "dim": d.dim(len(shape))}


def gen_gather(d):
    shape = d.shape(min_dims=1, max_dims=3)
    dim = d.dim(len(shape))
    axis = dim % len(shape)
    shape = _nonempty_along(shape, (axis,))
    index_shape = tuple(d.size(4) if i == axis else d.int(min(n, 1) if d.small else 0, n)
                        for i, n in enumerate(shape))
    index = d.ints(index_shape, 0, shape[axis] - 1)  # repeats are likely
    return [d.arr(shape)], {"dim": dim, "index": index}


def gen_index_select(d):
    shape = d.shape(min_dims=1, max_dims=3)
    dim = d.dim(len(shape))
    axis = dim % len(shape)
    shape = _nonempty_along(shape, (axis,))
    return [d.arr(shape)], {"dim": dim, "index": d.ints((d.size(6),), 0, shape[axis] - 1)}


def _broadcastable_to(d, shape):
    """A shape that broadcasts to ``shape``: some dims set to 1, some leading ones dropped."""
    out = tuple(1 if d.bool() else n for n in shape)
    return out[d.int(0, len(out)):]


def gen_masked_fill(tensor_value):
    def gen(d):
        shape = d.shape(max_dims=4)
        mask = d.rng.random(_broadcastable_to(d, shape)) < 0.5
        xs = [d.arr(shape)]
        kw = {"mask": mask}
        if tensor_value:
            xs.append(d.arr(()))
        else:
            # -inf, as attention masks use it; not in gradcheck (inf - inf is no difference)
            kw["value"] = d.pick([0.0, -1.5] + ([] if d.small else [float("-inf")]))
        return xs, kw

    return gen


def gen_pad(mode):
    def gen(d):
        if mode == "constant":
            shape = d.shape(min_dims=1, max_dims=4)
            k = d.int(1, len(shape))
            widths = []
            for i in range(k):
                n = shape[-1 - i]
                # negative widths crop; keep what is left non-negative (non-empty for
                # gradcheck)
                keep = n - 1 if d.small else n
                lo = d.int(-keep, 3)
                hi = d.int(-(keep + min(lo, 0)), 3)
                widths += [lo, hi]
            return [d.arr(shape)], {"pad": tuple(widths), "mode": mode,
                                    "value": d.pick([0.0, 1.5])}
        # PyTorch's non-constant modes pad the last k dims of a (k+1)- or (k+2)-D input.
        k = d.int(1, 3)
        nd = k + d.int(1, 2)
        if d.small:
            k, nd = 1, 2
        shape = d.shape(min_dims=nd, max_dims=nd, min_side=1, max_side=4)
        widths = []
        for i in range(k):
            n = shape[-1 - i]
            top = n - 1 if mode == "reflect" else (n if mode == "circular" else 3)
            widths += [d.int(0, top), d.int(0, top)]
        return [d.arr(shape)], {"pad": tuple(widths), "mode": mode, "value": 0.0}

    return gen


def gen_flip(d):
    shape = d.shape(min_dims=1, max_dims=4)
    dims = d.dims(len(shape), allow_none=False)
    return [d.arr(shape)], {"dims": dims if isinstance(dims, tuple) else (dims,)}


def gen_repeat(d):
    shape = d.shape(max_dims=3, max_side=3)
    sizes = [d.size(3) for _ in range(len(shape) + d.int(0, 2))]
    return [d.arr(shape)], {"sizes": tuple(sizes)}


def gen_tri(d):
    shape = d.shape(min_dims=2, max_dims=4)
    return [d.arr(shape)], {"diagonal": d.int(-3, 3)}


def gen_one_hot(d):
    shape = d.shape(max_dims=3)
    n = d.int(1, 5)
    # PyTorch cannot infer the number of classes (-1) from an empty tensor; bricks gives 0.
    counts = [n, n + 2] + ([-1] if 0 not in shape else [])
    return [], {"c": d.ints(shape, 0, n - 1), "n": d.pick(counts)}


def gen_basic_index(d):
    """A key of ints, slices (positive steps, as PyTorch requires), None and ``...``."""
    shape = d.shape(min_dims=1, max_dims=4)
    key = []
    for n in shape:
        kind = d.pick(["int", "slice", "full"] if n else ["slice", "full"])
        if kind == "int":
            key.append(d.int(-n, n - 1))
        elif kind == "slice" and d.small:  # never empty: gradcheck needs a non-empty result
            key.append(slice(d.int(0, n - 1), None, d.pick([None, 1, 2])))
        elif kind == "slice":
            key.append(slice(d.pick([None, d.int(-5, 5)]), d.pick([None, d.int(-5, 5)]),
                             d.pick([None, 1, 2, 3])))
        else:
            key.append(slice(None))
    if d.bool():  # an ellipsis stands for a run of full slices
        i = d.int(0, len(key))
        j = d.int(i, len(key))
        if all(k == slice(None) for k in key[i:j]):
            key[i:j] = [Ellipsis]
    for _ in range(d.int(0, 2)):
        key.insert(d.int(0, len(key)), None)
    return [d.arr(shape)], {"key": tuple(key)}


def gen_int_index(d):
    shape = d.shape(min_dims=1, max_dims=3)
    shape = _nonempty_along(shape, (0,))
    return [d.arr(shape)], {"i": d.int(-shape[0], shape[0] - 1)}


def gen_array_index(where):
    def gen(d):
        shape = d.shape(min_dims=2 if where != "first" else 1, max_dims=3)
        axis = 0 if where == "first" else (1 if where == "middle" else len(shape) - 1)
        shape = _nonempty_along(shape, (axis,))
        n = shape[axis]
        index = d.ints(d.shape(min_dims=1, max_dims=2, max_side=5), -n, n - 1)  # repeats
        return [d.arr(shape)], {"idx": index}

    return gen


def gen_two_array_index(d):
    shape = d.shape(min_dims=2, max_dims=3, min_side=1)
    si, sj = d.shapes(2, min_dims=0, max_dims=2)
    return [d.arr(shape)], {"i": d.ints(si, -shape[0], shape[0] - 1),
                            "j": d.ints(sj, -shape[1], shape[1] - 1)}


def gen_bool_index(full):
    def gen(d):
        shape = d.shape(min_dims=1, max_dims=3)
        mask_shape = shape if full else shape[:1]
        mask = d.rng.random(mask_shape) < 0.5
        if d.small:  # gradcheck needs a non-empty result
            mask.reshape(-1)[0] = True
        return [d.arr(shape)], {"mask": mask}

    return gen


# linear algebra


def gen_matmul(d):
    na, nb = d.int(1, 4), d.int(1, 4)
    ba, bb = d.shapes(2, min_dims=2, max_dims=2, max_side=3)
    n, k, m = d.size(4), d.size(4), d.size(4)
    sa = ba[len(ba) - (na - 2):] + (n, k) if na >= 2 else (k,)
    sb = bb[len(bb) - (nb - 2):] + (k, m) if nb >= 2 else (k,)
    return [d.arr(sa), d.arr(sb)], {}


def gen_mm(d):
    n, k, m = d.size(4), d.size(4), d.size(4)
    return [d.arr((n, k)), d.arr((k, m))], {}


def gen_linear(bias):
    """x (*, in), W (out, in) and, with ``bias``, b (out,): the fused Linear node."""
    def gen(d):
        lead = d.shape(max_dims=2)
        n_in, n_out = d.size(4), d.size(4)
        xs = [d.arr(lead + (n_in,)), d.arr((n_out, n_in))]
        return xs + ([d.arr((n_out,))] if bias else []), {}

    return gen


def gen_mse(d):
    shape = d.shape(max_dims=3)
    return [d.arr(shape), d.arr(shape)], {"reduction": d.pick(["mean", "sum"])}


def gen_cross_entropy(d):
    n, c = d.int(1, 4), d.int(2, 5)
    return [d.arr((n, c), -3, 3)], {"target": d.ints((n,), 0, c - 1),
                                    "reduction": d.pick(["mean", "sum"])}


def gen_vectors(same):
    def gen(d):
        n = d.size(5)
        return [d.arr((n,)), d.arr((n if same else d.size(5),))], {}

    return gen


EINSUMS = [
    "ij,jk->ik", "ij,jk", "ii->", "ii", "ii->i", "bii->b", "iij->j", "ij->ji", "ij->",
    "i,i->", "i,j->ij", "bij,bjk->bik", "...ij,...jk->...ik", "...i,...i->...", "i...->...",
    "ij,jk,kl->il", "i,ij,j->", "bi,ij,bj->b",
]


def gen_einsum(d):
    eq = d.pick(EINSUMS)
    lhs = eq.split("->")[0].split(",")
    sizes = {c: d.size(3) for c in sorted(set(eq)) if c.isalpha()}
    ell = d.shapes(len(lhs), max_dims=2, max_side=3)
    xs = []
    for s, e in zip(lhs, ell):
        shape = tuple(sizes[c] for c in s.replace("...", ""))
        if "..." in s:
            i = s.index("...")
            shape = shape[:i] + e + shape[i:]
        xs.append(d.arr(shape))
    return xs, {"eq": eq}


def gen_softmax(scale):
    def gen(d):
        shape = d.shape(max_dims=4)
        return [d.arr(shape, -scale, scale)], {"dim": d.dim(len(shape))}

    return gen


def _norm_torch(L, x, p, dim, keepdim):
    return torch.linalg.vector_norm(x, ord=2 if p == "fro" else p, dim=dim, keepdim=keepdim)


def _amax_torch(op):
    return lambda L, x, dim, keepdim: getattr(torch, op)(x, dim=() if dim is None else dim,
                                                         keepdim=keepdim)


def _prod(L, x, dim, keepdim):
    return L.prod(x) if dim is None else L.prod(x, dim=dim, keepdim=keepdim)


def _clamp(L, x, lo, hi):
    return L.clamp(x, min=lo, max=hi)


def _floor_div_torch(L, a, b):
    # torch.floor_divide has no derivative (it raises); div with rounding_mode='floor' is
    # the same function with PyTorch's zero derivative.
    return torch.div(a, b, rounding_mode="floor")


U = lambda name, f, lo=-2.0, hi=2.0, away=0.0, **o: Row(name, f, unary(lo, hi, away), **o)
NO_TIES = dict(check=False)  # numerical derivatives are meaningless at a tie

ROWS = [
    # elementwise
    U("exp", lambda L, x: L.exp(x), -3, 3),
    U("log", lambda L, x: L.log(x), 0.1, 5),
    U("log1p", lambda L, x: L.log1p(x), -0.9, 5),
    U("expm1", lambda L, x: L.expm1(x), -3, 3),
    U("sqrt", lambda L, x: L.sqrt(x), 0.1, 5),
    U("rsqrt", lambda L, x: L.rsqrt(x), 0.1, 5),
    U("sin", lambda L, x: L.sin(x), -4, 4),
    U("cos", lambda L, x: L.cos(x), -4, 4),
    U("tan", lambda L, x: L.tan(x), -1.3, 1.3),
    U("tanh", lambda L, x: L.tanh(x), -3, 3),
    U("sigmoid", lambda L, x: L.sigmoid(x), -8, 8),
    U("sigmoid_saturated", lambda L, x: L.sigmoid(x), -60, 60, away=15),
    U("softplus", lambda L, x: L.softplus(x), -8, 8),
    U("softplus_saturated", lambda L, x: L.softplus(x), -60, 60, away=15),
    U("relu", lambda L, x: L.relu(x), away=0.05),
    U("abs", lambda L, x: L.abs(x), away=0.05),
    U("abs_builtin", lambda L, x: abs(x), away=0.05),
    U("sign", lambda L, x: L.sign(x), away=0.05),
    U("erf", lambda L, x: L.erf(x), -2.5, 2.5),
    U("reciprocal", lambda L, x: L.reciprocal(x), -3, 3, away=0.2),
    U("floor", lambda L, x: L.floor(x), -3, 3),
    U("ceil", lambda L, x: L.ceil(x), -3, 3),
    U("round", lambda L, x: L.round(x), -3, 3),
    U("round_decimals", lambda L, x: L.round(x, decimals=1), -3, 3),
    Row("clamp", _clamp, gen_clamp(-0.5, 0.7)),
    Row("clamp_min", _clamp, gen_clamp(-0.5, None)),
    Row("clamp_max", _clamp, gen_clamp(None, 0.7)),
    Row("clamp_tensor_bounds", lambda L, x, lo, hi: L.clamp(x, min=lo, max=hi),
        gen_clamp_tensor),
    Row("maximum", lambda L, a, b: L.maximum(a, b), binary()),
    Row("minimum", lambda L, a, b: L.minimum(a, b), binary()),
    Row("maximum_ties", lambda L, a, b: L.maximum(a, b), ties(binary()), **NO_TIES),
    Row("minimum_ties", lambda L, a, b: L.minimum(a, b), ties(binary()), **NO_TIES),
    Row("where", lambda L, a, b, cond: L.where(cond, a, b), gen_where),
    Row("pow_scalar", lambda L, x, e: x**e, gen_pow_scalar),
    Row("pow_scalar_function", lambda L, x, e: L.pow(x, e), gen_pow_scalar),
    Row("pow_tensor", lambda L, a, b: a**b, binary(0.2, 2.0, lo2=-2.0, hi2=2.0)),
    # operators, reflected forms included
    Row("add", lambda L, a, b: a + b, binary()),
    Row("sub", lambda L, a, b: a - b, binary()),
    Row("mul", lambda L, a, b: a * b, binary()),
    Row("div", lambda L, a, b: a / b, binary(away2=0.3, lo2=-2.0, hi2=2.0)),
    Row("floordiv", lambda L, a, b: a // b, gen_divmod, tf=_floor_div_torch),
    Row("mod", lambda L, a, b: a % b, gen_divmod),
    U("neg", lambda L, x: -x),
    U("radd", lambda L, x: 2.5 + x),
    U("rsub", lambda L, x: 2 - x),
    U("rmul", lambda L, x: 3 * x),
    U("rdiv", lambda L, x: 2 / x, away=0.3),
    U("rpow", lambda L, x: 2**x),
    U("rpow_fraction", lambda L, x: 0.5**x),
    # torch.remainder(number, tensor) has no derivative: its reference is the definition.
    Row("rmod", lambda L, x: 5.0 % x, gen_rmod,
        tf=lambda L, x: 5.0 - x * torch.div(5.0, x, rounding_mode="floor")),
    U("sub_scalar", lambda L, x: x - 0.5),
    U("div_scalar", lambda L, x: x / 4),
    Row("mod_scalar", lambda L, x: x % 1.5, gen_mod_scalar),
    # reductions
    Row("sum", lambda L, x, dim, keepdim: L.sum(x, dim=dim, keepdim=keepdim), gen_reduce()),
    Row("mean", lambda L, x, dim, keepdim: L.mean(x, dim=dim, keepdim=keepdim), gen_reduce()),
    Row("var", lambda L, x, **kw: L.var(x, **kw), gen_var()),
    Row("std", lambda L, x, **kw: L.std(x, **kw), gen_var(std=True)),
    Row("std_zero_spread", lambda L, x, **kw: L.std(x, **kw), gen_var(constant=True),
        check=False, zero_grad=True),
    Row("max", lambda L, x: L.max(x), gen_nonempty),
    Row("min", lambda L, x: L.min(x), gen_nonempty),
    Row("max_ties", lambda L, x: L.max(x), ties(gen_nonempty), **NO_TIES),
    Row("min_ties", lambda L, x: L.min(x), ties(gen_nonempty), **NO_TIES),
    Row("max_dim", lambda L, x, **kw: tuple(L.max(x, **kw)), gen_max_dim),
    Row("min_dim", lambda L, x, **kw: tuple(L.min(x, **kw)), gen_max_dim),
    Row("max_dim_ties", lambda L, x, **kw: tuple(L.max(x, **kw)), ties(gen_max_dim),
        **NO_TIES),
    Row("min_dim_ties", lambda L, x, **kw: tuple(L.min(x, **kw)), ties(gen_max_dim),
        **NO_TIES),
    Row("amax", lambda L, x, **kw: L.amax(x, **kw), gen_reduce(nonempty=True),
        tf=_amax_torch("amax")),
    Row("amin", lambda L, x, **kw: L.amin(x, **kw), gen_reduce(nonempty=True),
        tf=_amax_torch("amin")),
    Row("amax_ties", lambda L, x, **kw: L.amax(x, **kw), ties(gen_reduce(nonempty=True)),
        tf=_amax_torch("amax"), **NO_TIES),
    Row("amin_ties", lambda L, x, **kw: L.amin(x, **kw), ties(gen_reduce(nonempty=True)),
        tf=_amax_torch("amin"), **NO_TIES),
    Row("argmax", lambda L, x, **kw: L.argmax(x, **kw), gen_argmax, check=False),
    Row("argmin", lambda L, x, **kw: L.argmin(x, **kw), gen_argmax, check=False),
    Row("argmax_ties", lambda L, x, **kw: L.argmax(x, **kw), ties(gen_argmax), check=False),
    Row("argmin_ties", lambda L, x, **kw: L.argmin(x, **kw), ties(gen_argmax), check=False),
    Row("prod", _prod, gen_prod(zeros=False)),
    Row("prod_zeros", _prod, gen_prod(zeros=True)),
    Row("logsumexp", lambda L, x, **kw: L.logsumexp(x, **kw), gen_logsumexp(3.0)),
    # float32 holds logits near 1e4 only to ~1e-3: PyTorch's backward, exp(x - result),
    # inherits that error (bricks' softmax-shaped one less), so float32 compares to 1e-3.
    Row("logsumexp_1e4", lambda L, x, **kw: L.logsumexp(x, **kw), gen_logsumexp(1e4),
        tol32=dict(rtol=1e-3, atol=1e-5)),
    Row("norm", lambda L, x, **kw: L.norm(x, **kw), gen_norm, tf=_norm_torch),
    Row("cumsum", lambda L, x, dim: L.cumsum(x, dim=dim), gen_dim()),
    Row("softmax", lambda L, x, dim: L.softmax(x, dim), gen_softmax(3.0)),
    Row("softmax_1e4", lambda L, x, dim: L.softmax(x, dim), gen_softmax(1e4)),
    Row("log_softmax", lambda L, x, dim: L.log_softmax(x, dim), gen_softmax(3.0)),
    Row("log_softmax_1e4", lambda L, x, dim: L.log_softmax(x, dim), gen_softmax(1e4)),
    # shapes
    Row("reshape", lambda L, x, shape: x.reshape(shape), gen_reshape),
    # torch's view refuses strides it cannot reinterpret; bricks' view is reshape.
    Row("view", lambda L, x, shape: x.view(shape), gen_reshape, views=False),
    Row("flatten", lambda L, x, start, end: x.flatten(start, end), gen_flatten),
    Row("squeeze", lambda L, x, dim: x.squeeze() if dim is None else x.squeeze(dim),
        gen_squeeze),
    Row("unsqueeze", lambda L, x, dim: x.unsqueeze(dim), gen_unsqueeze),
    Row("transpose", lambda L, x, d0, d1: x.transpose(d0, d1), gen_transpose),
    Row("permute", lambda L, x, dims: L.permute(x, dims), gen_permute),
    Row("expand", lambda L, x, sizes: x.expand(sizes), gen_expand),
    Row("broadcast_to", lambda L, x, shape: L.broadcast_to(x, shape), gen_broadcast_to),
    Row("cat", lambda L, *xs, dim: L.cat(list(xs), dim=dim), gen_cat),
    Row("stack", lambda L, *xs, dim: L.stack(list(xs), dim=dim), gen_stack),
    Row("split", lambda L, x, arg, dim: tuple(L.split(x, arg, dim)), gen_split),
    Row("chunk", lambda L, x, chunks, dim: tuple(L.chunk(x, chunks, dim)), gen_chunk),
    Row("gather", lambda L, x, dim, index: L.gather(x, dim, index), gen_gather),
    Row("index_select", lambda L, x, dim, index: L.index_select(x, dim, index),
        gen_index_select),
    Row("masked_fill", lambda L, x, mask, value: x.masked_fill(mask, value),
        gen_masked_fill(tensor_value=False)),
    Row("masked_fill_tensor_value", lambda L, x, v, mask: x.masked_fill(mask, v),
        gen_masked_fill(tensor_value=True)),
    Row("pad_constant", lambda L, x, **kw: L.pad(x, **kw), gen_pad("constant")),
    Row("pad_reflect", lambda L, x, **kw: L.pad(x, **kw), gen_pad("reflect")),
    Row("pad_replicate", lambda L, x, **kw: L.pad(x, **kw), gen_pad("replicate")),
    Row("pad_circular", lambda L, x, **kw: L.pad(x, **kw), gen_pad("circular")),
    Row("flip", lambda L, x, dims: L.flip(x, dims), gen_flip),
    Row("repeat", lambda L, x, sizes: x.repeat(sizes), gen_repeat),
    Row("tril", lambda L, x, diagonal: L.tril(x, diagonal), gen_tri),
    Row("triu", lambda L, x, diagonal: L.triu(x, diagonal), gen_tri),
    Row("one_hot", lambda L, c, n: L.one_hot(c, n), gen_one_hot, check=False),
    # indexing
    Row("index_basic", lambda L, x, key: x[key], gen_basic_index),
    Row("index_int", lambda L, x, i: x[i], gen_int_index),
    Row("index_array_first", lambda L, x, idx: x[idx], gen_array_index("first")),
    Row("index_array_middle", lambda L, x, idx: x[:, idx], gen_array_index("middle")),
    Row("index_array_ellipsis", lambda L, x, idx: x[..., idx], gen_array_index("last")),
    Row("index_two_arrays", lambda L, x, i, j: x[i, j], gen_two_array_index),
    Row("index_bool_mask", lambda L, x, mask: x[mask], gen_bool_index(full=True)),
    Row("index_bool_rows", lambda L, x, mask: x[mask], gen_bool_index(full=False)),
    # linear algebra
    Row("matmul", lambda L, a, b: a @ b, gen_matmul),
    Row("matmul_function", lambda L, a, b: L.matmul(a, b), gen_matmul),
    Row("mm", lambda L, a, b: L.mm(a, b), gen_mm),
    Row("linear", lambda L, x, w, b: L.linear(x, w, b), gen_linear(bias=True)),
    Row("linear_no_bias", lambda L, x, w: L.linear(x, w), gen_linear(bias=False)),
    # the fused losses (SquaredError, CrossEntropy)
    Row("mse_loss", lambda L, x, t, reduction: L.mse_loss(x, t, reduction=reduction), gen_mse),
    Row("cross_entropy", lambda L, x, target, reduction: L.cross_entropy(
        x, target, reduction=reduction), gen_cross_entropy),
    Row("dot", lambda L, a, b: L.dot(a, b), gen_vectors(same=True)),
    Row("outer", lambda L, a, b: L.outer(a, b), gen_vectors(same=False)),
    Row("einsum", lambda L, *xs, eq: L.einsum(eq, *xs), gen_einsum),
]

ROW_IDS = [r.name for r in ROWS]
assert len(set(ROW_IDS)) == len(ROW_IDS)

# ---------------------------------------------------------------- running a row

VIEW_KINDS = ("contiguous", "strided", "transposed")


def _base(x, kind, rng):
    """The leaf's array, from which ``_view`` cuts the input ``x``."""
    if kind == "transposed":
        return np.ascontiguousarray(np.swapaxes(x, -1, -2))
    if kind == "strided":
        base = rng.standard_normal(x.shape[:-1] + (2 * x.shape[-1],))
        base[..., ::2] = x
        return base
    return x


def _view(leaf, kind):
    if kind == "transposed":
        return leaf.transpose(-1, -2)
    if kind == "strided":
        return leaf[..., ::2]
    return leaf


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def run(L, row, xs, kw, kinds, dtype, seed):
    """Forward, backward and double backward of one case: a dict of lists of arrays."""
    rng = np.random.default_rng(seed)
    junk = np.random.default_rng(seed + 1)
    leaves = [L.leaf(_base(x, k, junk), dtype) for x, k in zip(xs, kinds)]
    inputs = [_view(t, k) for t, k in zip(leaves, kinds)]
    kw = {k: L.const(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    f = row.tf if (row.tf is not None and L is TO) else row.f
    outs = _outputs(f(L, *inputs, **kw))
    result = {"out": [_array(o) for o in outs],
              "requires_grad": [bool(o.requires_grad) for o in outs]}
    diff = [o for o in outs if o.requires_grad]
    if not leaves or not diff:
        return result
    gs = [L.leaf(rng.standard_normal(o.shape), dtype) for o in diff]
    # First without a graph of the gradient (bricks' fast path on raw arrays, what a
    # training step runs), then with one (the Tensor-op backward, differentiated again).
    fast = L.grad(diff, leaves, gs, retain_graph=True)
    result["grad_fast"] = [np.zeros(t.shape, dtype) if g is None else _array(g)
                           for g, t in zip(fast, leaves)]
    first = L.grad(diff, leaves, gs, create_graph=True)
    result["grad"] = [np.zeros(t.shape, dtype) if g is None else _array(g)
                      for g, t in zip(first, leaves)]
    vs = [np.asarray(rng.standard_normal(t.shape), dtype=dtype) for t in leaves]
    terms = [(g * L.const(v)).sum() for g, v in zip(first, vs)
             if g is not None and g.requires_grad]
    wrt = leaves + gs
    if terms:
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        second = L.grad(total, wrt)
    else:
        second = [None] * len(wrt)
    result["gradgrad"] = [np.zeros(t.shape, dtype) if g is None else _array(g)
                          for g, t in zip(second, wrt)]
    return result


TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=None, atol=None)}


def compare(got, want, dtype, what, tol32=None):
    assert got["requires_grad"] == want["requires_grad"], (
        f"{what}: outputs requiring grad differ: bricks {got['requires_grad']}, "
        f"torch {want['requires_grad']}")
    for key in ("out", "grad", "grad_fast", "gradgrad"):
        assert (key in got) == (key in want), f"{what}: {key} computed by only one library"
        for i, (a, b) in enumerate(zip(got.get(key, []), want.get(key, []))):
            tol = TOLERANCE[dtype] if b.dtype.kind == "f" else dict(rtol=0, atol=0)
            if tol32 is not None and dtype is np.float32 and b.dtype.kind == "f":
                tol = tol32
            torch.testing.assert_close(
                torch.from_numpy(np.ascontiguousarray(a)),
                torch.from_numpy(np.ascontiguousarray(b)), equal_nan=True, **tol,
                msg=lambda m, key=key, i=i: f"{what}: {key}[{i}] differs from torch:\n{m}")
        assert len(got.get(key, [])) == len(want.get(key, [])), f"{what}: {key} count differs"


def _draw_case(data, row, small=False):
    d = Draw(data, small)
    xs, kw = row.gen(d)
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    # 0-d draws come back from NumPy as scalars: make them 0-d arrays (tensors, not numbers).
    kw = {k: np.asarray(v) if isinstance(v, np.generic) else v for k, v in kw.items()}
    kinds = []
    for x in xs:
        options = VIEW_KINDS[: (1 if not row.views else 2 + (x.ndim >= 2))] if x.ndim else (
            "contiguous",)
        kinds.append(d.pick(options))
    return d, xs, kw, kinds


# ---------------------------------------------------------------- the tests

# BRICKS_OP_EXAMPLES=500 runs a deep search; the default keeps the file under a minute.
EXAMPLES = int(os.environ.get("BRICKS_OP_EXAMPLES", "12"))
_settings = settings(max_examples=EXAMPLES, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.filter_too_much])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
@_settings
@given(data=st.data())
def test_op_matches_torch(row, dtype, data):
    d, xs, kw, kinds = _draw_case(data, row)
    seed = d.int(0, 2**31)
    what = f"{row.name} {np.dtype(dtype).name} shapes {[x.shape for x in xs]} views {kinds}"
    got = run(BR, row, xs, kw, kinds, dtype, seed)
    want = run(TO, row, xs, kw, kinds, dtype, seed)
    if row.zero_grad:
        for key in ("grad", "grad_fast", "gradgrad"):
            want[key] = [np.zeros_like(g) for g in want.get(key, [])]
    compare(got, want, dtype, what, row.tol32)


@pytest.mark.parametrize("row", [r for r in ROWS if r.check], ids=[r.name for r in ROWS
                                                                       if r.check])
@settings(max_examples=2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_gradcheck(row, data):
    _, xs, kw, kinds = _draw_case(data, row, small=True)
    leaves = [bricks.tensor(x, requires_grad=True) for x in xs]  # contiguous float64
    kw = {k: BR.const(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}

    def func(*ts):
        outs = _outputs(row.f(BR, *[_view(t, k) for t, k in zip(ts, kinds)], **kw))
        return tuple(o for o in outs if o.dtype.kind == "f")

    # The views above need a leaf shaped like the view's base: transpose it back.
    leaves = [bricks.tensor(np.ascontiguousarray(np.swapaxes(x, -1, -2)), requires_grad=True)
              if k == "transposed" else t for x, t, k in zip(xs, leaves, kinds)]
    leaves = [bricks.tensor(np.repeat(x, 2, axis=-1), requires_grad=True)
              if k == "strided" else t for x, t, k in zip(xs, leaves, kinds)]
    assert gradcheck(func, leaves)
    assert gradgradcheck(func, leaves)


class _WrongDoubleBackward(bricks.Function):
    """x^3 with a backward that is right but not differentiable (saves 3x^2 as a constant)."""

    def forward(self, x):
        self.save_for_backward(3 * x * x)
        return x**3

    def backward(self, grad):
        (slope,) = self.saved_tensors
        return grad * slope


class _WrongFastBackward(bricks.Function):
    """x^3 whose Tensor backward is right but whose raw-array fast path is off by 0.1%."""

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 3 * x * x

    def backward_arrays(self, grad):
        (x,) = self.saved_arrays
        return grad * 3.003 * x * x


@pytest.mark.parametrize("wrong", ["forward", "backward", "fast backward", "double backward"])
def test_the_table_catches_a_wrong_op(wrong):
    fns = {
        "forward": lambda L, x: x**3 + (1e-6 if L is BR else 0.0),
        "backward": lambda L, x: (x**3 if L is TO else
                                  x.detach() ** 3 + 1.001 * (x - x.detach()) * 3 * x.detach()**2),
        "double backward": lambda L, x: x**3 if L is TO else _WrongDoubleBackward.apply(x),
        "fast backward": lambda L, x: x**3 if L is TO else _WrongFastBackward.apply(x),
    }
    row = Row("cube", fns[wrong], unary())
    x = np.array([0.5, -1.25, 2.0])
    got = run(BR, row, [x], {}, ["contiguous"], np.float64, 0)
    want = run(TO, row, [x], {}, ["contiguous"], np.float64, 0)
    with pytest.raises(AssertionError, match={"forward": "out", "backward": "grad\\[",
                                              "fast backward": "grad_fast",
                                              "double backward": "gradgrad"}[wrong]):
        compare(got, want, np.float64, "cube")


# ---------------------------------------------------------------- found outside the op files


def test_gradcheck_accepts_zero_size_input():
    x = bricks.tensor(np.zeros((0, 3)), requires_grad=True)
    assert gradcheck(lambda t: t * 2.0, (x,))  # torch.autograd.gradcheck: True


def test_gradgradcheck_accepts_zero_size_output():
    x = bricks.tensor(np.ones(2), requires_grad=True)
    assert gradgradcheck(lambda t: t.expand(0, 2), (x,))  # torch: True
