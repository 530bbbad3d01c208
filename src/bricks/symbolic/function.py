"""``bricks.compile(fn)``: trace an ordinary eager function, then replay its compiled plan.

The first call with given input shapes runs ``fn`` eagerly while a tracer records it; the
second call records it again, and when both records agree (same steps; every tensor that was
not an input either the same tensor object both times, which is then read live, or equal
values, a constant) the graph is optimized into a plan.  Later calls with those shapes run
the plan.  Two records are what makes it safe: a value computed from the data outside
bricks' ops, or random numbers drawn outside them, differs between the two calls and is
caught instead of being frozen into the plan.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

from bricks import autograd
from bricks.backend import get_array_module, is_array, ndarray
from bricks.symbolic import compiler
from bricks.symbolic.trace import TraceError, Tracer, rng_state, same_array, tracing
from bricks.tensor import Tensor, const

__all__ = ["CompiledFunction", "compile_function"]

# Two records of the same shapes that disagree this many times in a row: fall back.
_MAX_MISMATCHES = 3
_DIFFER = "does different things on two calls with the same shapes"
_ARG_NAMES = tuple(f"arg{i}" for i in range(16))


class CompiledFunction:
    """A function compiled by :func:`bricks.compile` (see its docstring).

    Attributes:
        graph: the optimized graph of the plan used last (None before one exists).
        graph_before: the same graph before optimization.
        fallback_reason: why the function runs eagerly, or None.
    """

    def __init__(self, fn, cache_size: int = 8, fallback: bool = True):
        if not callable(fn):
            raise TypeError(f"bricks.compile: expected a function, got {type(fn).__name__}")
        self.fn = fn
        self.cache_size = int(cache_size)
        self.fallback = fallback
        self.plans = OrderedDict()  # input key -> [(modules, flags, plan, structure, graphs)]
        self.pending = {}  # input key -> (tracer, structure, mismatches)
        self.fallback_reason = None
        self.graph = self.graph_before = None
        self.traces = 0
        self.eager_calls = 0  # calls that a plan's guard sent to eager execution
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if self.fallback_reason is not None:
            return self.fn(*args, **kwargs)
        # The per-call work before the plan runs, kept short: the key is the inputs' shapes,
        # dtypes, array types (a plan allocates with its inputs' module: NumPy, CuPy) and
        # requires_grad, and whether gradients are on.
        make = Tensor._make
        named = {}
        key = [autograd._state.enabled]
        if args:
            if any(type(a) is ndarray for a in args):
                args = tuple(make(a, False, None, 0) if type(a) is ndarray else a
                             for a in args)
            names = _ARG_NAMES if len(args) <= len(_ARG_NAMES) else [
                f"arg{i}" for i in range(len(args))]
            for name, a in zip(names, args):
                if isinstance(a, Tensor):
                    named[name] = a
                    key.append((a.data.shape, a.data.dtype, type(a.data), a._requires_grad))
                else:
                    key.append((name, a))
        if kwargs:
            kwargs = {k: make(a, False, None, 0) if type(a) is ndarray else a
                      for k, a in kwargs.items()}
            for name, a in kwargs.items():
                if isinstance(a, Tensor):
                    named[name] = a
                    key.append((name, a.data.shape, a.data.dtype, type(a.data),
                                a._requires_grad))
                else:
                    key.append((name, a))
        try:
            key = tuple(key)
            entries = self.plans.get(key, ())
        except TypeError:
            return self.fn(*args, **kwargs)  # unhashable arguments: nothing to key a plan on
        for modules, flags, plan, structure, graphs in entries:
            for m, f in zip(modules, flags):
                if m.training is not f:
                    break
            else:
                self.plans.move_to_end(key)
                self.graph_before, self.graph = graphs
                arrays = {n: t.data for n, t in named.items()}
                try:
                    out = plan.fn(arrays, named)
                except compiler.StalePlan:
                    # A guard saw other data than the plan was made for (a target equal
                    # to ignore_index, ...): this call runs eagerly. Guards come first in
                    # the plan, so nothing has run yet.
                    self.eager_calls += 1
                    return self.fn(*args, **kwargs)
                if structure[0] == "t":
                    return make(out[structure[1]], False, None, 0)
                return _rebuild(structure, out)
        return self._trace(key, named, args, kwargs)

    # ------------------------------------------------------------ tracing
    def _trace(self, key, named, args, kwargs):
        tracer = Tracer()
        for name, t in named.items():
            tracer.add_input(name, t)
        before = rng_state()
        copies = {name: t.data.copy() for name, t in named.items()}
        with tracing(tracer):
            result = self.fn(*args, **kwargs)
        self.traces += 1
        structure = tracer.set_outputs(result)
        for name, t in named.items():
            if not same_array(copies[name], t.data):
                tracer.fail(f"changes its input {name!r} in place outside bricks' ops (a "
                            f"plan would not repeat that)")
        if rng_state() != before and not tracer.draws_random:
            tracer.fail("draws random numbers outside bricks' ops")
        if tracer.failure is not None:
            self._give_up(*tracer.failure)
            return result
        previous = self.pending.pop(key, None)
        if previous is None:
            self.pending[key] = (tracer, structure, 0)
            return result
        graph, problem = _merge(previous[0], tracer)
        if graph is None or previous[1] != structure:
            mismatches = previous[2] + 1
            if mismatches >= _MAX_MISMATCHES or (problem and problem[0] is not _DIFFER):
                self._give_up(*(problem or ("returns a different structure on each call",
                                            "?")))
            else:
                self.pending[key] = (tracer, structure, mismatches)
            return result
        before_text = graph.copy()
        compiler.optimize(graph)
        plan = compiler.generate(graph, xp=get_array_module(*(t.data for t in named.values()))
                                 if named else None)
        flags = tuple(m.training for m in tracer.modules)
        entries = self.plans.setdefault(key, [])
        entries.append((tracer.modules, flags, plan, structure, (before_text, graph)))
        self.graph_before, self.graph = before_text, graph
        while sum(len(v) for v in self.plans.values()) > self.cache_size:
            oldest = next(iter(self.plans))
            self.plans[oldest].pop(0)
            if not self.plans[oldest]:
                del self.plans[oldest]
        self.plan = plan
        return result

    def _give_up(self, reason, where):
        name = getattr(self.fn, "__name__", "the function")
        message = f"bricks.compile: {name} cannot be compiled: {reason} (at {where})"
        if not self.fallback:
            raise TraceError(message)
        self.fallback_reason = f"{reason} (at {where})"
        warnings.warn(message + "; it runs eagerly from now on", RuntimeWarning, stacklevel=3)


def compile_function(fn=None, *, cache_size: int = 8, fallback: bool = True):
    """See :func:`bricks.compile`."""
    if fn is None:
        return lambda f: CompiledFunction(f, cache_size, fallback)
    return CompiledFunction(fn, cache_size, fallback)


def _rebuild(structure, arrays):
    kind, payload = structure
    if kind == "t":
        return const(arrays[payload])
    if kind == "c":
        return payload
    if kind is dict:
        return {k: _rebuild(v, arrays) for k, v in payload}
    return kind(_rebuild(v, arrays) for v in payload)


# ---------------------------------------------------------------- comparing two records


def _same(a, b) -> bool:
    if is_array(a) or is_array(b):
        return is_array(a) and is_array(b) and same_array(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - objects without a usable ==
        return a is b


def _merge(ta: Tracer, tb: Tracer):
    """The graph of ``tb`` with its externals decided, or (None, (reason, where))."""
    ga, gb = ta.graph, tb.graph
    differ = (_DIFFER, "?")
    if len(ga.values) != len(gb.values) or len(ga.nodes) != len(gb.nodes):
        return None, differ
    index_a = {id(n): i for i, n in enumerate(ga.nodes)}
    index_b = {id(n): i for i, n in enumerate(gb.nodes)}
    first_use = {}
    for na, nb in zip(ga.nodes, gb.nodes):
        if na.op != nb.op or na.ins != nb.ins or na.outs != nb.outs:
            return None, (differ[0], nb.where)
        for v in nb.ins:
            first_use.setdefault(v, nb.where)
        a, b = na.attrs, nb.attrs
        if na.op == "call":
            if a["cls"] is not b["cls"] or not _same(a["options"], b["options"]) or any(
                    a[k] != b[k] for k in ("refs", "n_in", "n_out", "saved", "needs")):
                return None, (differ[0], nb.where)
        elif na.op == "call_bwd":
            if index_a[id(a["fwd"])] != index_b[id(b["fwd"])]:
                return None, (differ[0], nb.where)
        elif na.op == "deliver":
            (ka, xa), (kb, xb) = a["target"], b["target"]
            if ka != kb or (xa is not xb if ka == "state" else xa != xb):
                return None, (differ[0], nb.where)
        elif na.op in ("array_op", "guard"):
            if (a["fn"] is not b["fn"] or not _same(a["args"], b["args"])
                    or not _same(a.get("expect"), b.get("expect"))):
                return None, (differ[0], nb.where)
        elif na.op == "event":
            fa, fb = a["fn"], b["fn"]
            if (fa.__self__ is not fb.__self__ or fa.__func__ is not fb.__func__
                    or not _same(a["args"], b["args"])):
                return None, (differ[0], nb.where)
    for va, vb in zip(ga.values, gb.values):
        if va.kind != vb.kind or va.shape != vb.shape or va.dtype != vb.dtype:
            return None, (differ[0], first_use.get(vb.vid, "?"))
        if vb.kind == "state" and va.payload is not vb.payload:
            return None, (differ[0], first_use.get(vb.vid, "?"))
        if vb.kind == "external":
            (t_a, arr_a, live_a), (t_b, arr_b, live_b) = va.payload, vb.payload
            if t_a is t_b:
                vb.kind, vb.payload = "state", t_b
            elif live_a is live_b:  # a new tensor on the same array (buffer.detach())
                vb.kind, vb.payload = "live", live_b
            elif same_array(arr_a, arr_b):
                vb.kind, vb.payload = "const", arr_b
            else:
                return None, ("reads a tensor that is neither an input, a parameter or "
                              "buffer, nor the same constant on each call (a value computed "
                              "from the data outside bricks' ops?)",
                              first_use.get(vb.vid, "?"))
        elif vb.kind == "const" and not same_array(va.payload, vb.payload):
            return None, ("uses an array option that changes between calls",
                          first_use.get(vb.vid, "?"))
    return gb, None
