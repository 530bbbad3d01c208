"""Symbolic values: ``Variable``, ``Constant``, the expressions built from them, ``compile``.

"First define the graph of computation, then compute": an expression on symbols runs
nothing, it records what to run.  ``compile(outputs)`` turns the recorded expressions into
one function of the variables; its first call with given shapes traces them with real
arrays into a graph, optimizes it and generates the plan that every later call runs.

Example (the lecture's):
    >>> A = Variable('A')
    >>> B = Variable('B')
    >>> C = B * A
    >>> D = C + Constant(1)
    >>> f = compile(D)
    >>> f(A=np.ones(3), B=np.ones(3) * 2)
    array([3., 3., 3.])
"""

from __future__ import annotations

import operator

from bricks import autograd, backend
from bricks.autograd import Deferred
from bricks.backend import ndarray
from bricks.symbolic import compiler
from bricks.symbolic.graph import Graph
from bricks.symbolic.trace import TraceError, Tracer, rng_state, set_rng_state, tracing
from bricks.tensor import Tensor, const, tensor

__all__ = ["Symbol", "Variable", "Constant", "compile", "grad", "call", "SymbolicFunction"]


class Symbol(Deferred):
    """A value to be computed: ``fn(*args, **kwargs)`` once the variables are given.

    Operators, Tensor methods and properties, ``nn.functional`` functions,
    ``Function.apply`` and calling an ``nn.Module`` on a symbol all give new symbols; any
    other function takes symbols through :func:`call`.
    """

    __slots__ = ("_fn", "_args", "_kwargs", "_label", "_shape", "_dtype")

    def __init__(self, fn, args=(), kwargs=None, label=None):
        self._fn, self._args, self._kwargs = fn, tuple(args), dict(kwargs or {})
        self._label, self._shape, self._dtype = label, None, None

    def _defer(self, fn, args, kwargs):
        return Symbol(fn, args, kwargs)

    def __repr__(self):
        if self._label is not None:
            return f"<{type(self).__name__} {self._label}>"
        return f"<Symbol {getattr(self._fn, '__name__', type(self._fn).__name__)}(...)>"

    # Tensor attributes: methods and properties become symbols; shape-like facts come from
    # a Variable's declaration or raise (they are not known before the call).
    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        attr = getattr(Tensor, name, None)
        if attr is None:
            raise AttributeError(f"symbolic values have no attribute {name!r} (Tensor has none)")
        if name in ("shape", "dtype", "ndim"):
            known = {"shape": self._shape, "dtype": self._dtype,
                     "ndim": None if self._shape is None else len(self._shape)}[name]
            if known is None or (name == "shape" and None in known):
                raise AttributeError(
                    f"{self!r}.{name} is not known before the compiled function is called; "
                    f"give it with Variable(name, shape=..., dtype=...)")
            return known
        if isinstance(attr, property):
            return Symbol(operator.attrgetter(name), (self,))

        def method(*args, **kwargs):
            return Symbol(attr, (self,) + args, kwargs)

        method.__name__ = name
        return method

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError("a symbolic value has no truth value before the compiled function "
                        "runs (Python `if` on it cannot be compiled)")

    def __iter__(self):
        raise TypeError("a symbolic value cannot be iterated before the compiled function runs")


def _binary(op, swap=False):
    def method(self, other):
        return Symbol(op, (other, self) if swap else (self, other))

    method.__name__ = op.__name__
    return method


def _unary(op):
    def method(self):
        return Symbol(op, (self,))

    method.__name__ = op.__name__
    return method


Symbol.__add__ = _binary(operator.add)
Symbol.__radd__ = _binary(operator.add, swap=True)
Symbol.__sub__ = _binary(operator.sub)
Symbol.__rsub__ = _binary(operator.sub, swap=True)
Symbol.__mul__ = _binary(operator.mul)
Symbol.__rmul__ = _binary(operator.mul, swap=True)
Symbol.__truediv__ = _binary(operator.truediv)
Symbol.__rtruediv__ = _binary(operator.truediv, swap=True)
Symbol.__floordiv__ = _binary(operator.floordiv)
Symbol.__mod__ = _binary(operator.mod)
Symbol.__pow__ = _binary(operator.pow)
Symbol.__rpow__ = _binary(operator.pow, swap=True)
Symbol.__matmul__ = _binary(operator.matmul)
Symbol.__rmatmul__ = _binary(operator.matmul, swap=True)
Symbol.__lt__ = _binary(operator.lt)
Symbol.__le__ = _binary(operator.le)
Symbol.__gt__ = _binary(operator.gt)
Symbol.__ge__ = _binary(operator.ge)
Symbol.__getitem__ = _binary(operator.getitem)
Symbol.__neg__ = _unary(operator.neg)
Symbol.__pos__ = _unary(operator.pos)
Symbol.__abs__ = _unary(operator.abs)


class Variable(Symbol):
    """A placeholder: the compiled function takes its value as keyword argument ``name``.

    Args:
        name: the keyword (a Python identifier).
        shape: optional; None entries match any size. Calls with other shapes raise.
        dtype: optional; calls with another dtype raise (None: any, float64 NumPy input
            is kept as it is).
    """

    __slots__ = ()

    def __init__(self, name: str, shape=None, dtype=None):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Variable: name must be a Python identifier, got {name!r}")
        super().__init__(None, (), None, name)
        self._shape = None if shape is None else tuple(shape)
        self._dtype = backend.as_dtype(dtype)

    @property
    def name(self) -> str:
        return self._label


class Constant(Symbol):
    """A fixed value in the graph (a number, array or Tensor), folded where it can be."""

    __slots__ = ()

    def __init__(self, value, dtype=None):
        value = value if isinstance(value, Tensor) else tensor(value, dtype=dtype)
        super().__init__(None, (value,), None, f"Constant({value.data.tolist()!r})"
                         if value.data.size <= 4 else f"Constant{tuple(value.shape)}")
        self._shape, self._dtype = tuple(value.shape), value.dtype


def call(fn, *args, **kwargs) -> Symbol:
    """``fn(*args, **kwargs)`` as a symbol: any function of tensors (``bricks.exp``, your own)."""
    return Symbol(fn, args, kwargs)


def _grads(output, variables):
    return autograd.grad(output, list(variables), allow_unused=True)


def grad(output, variables) -> list:
    """Symbolic gradients d(output)/d(variable), one per variable (compile them with output).

    ``variables`` are Variables (the compiled function then takes gradients with respect
    to its inputs) or Tensors such as a model's parameters.
    """
    if not isinstance(output, Symbol):
        raise TypeError(f"grad: output must be a symbolic value, got {type(output).__name__}")
    variables = list(variables)
    g = Symbol(_grads, (output, variables))
    return [Symbol(operator.getitem, (g, i)) for i in range(len(variables))]


# ---------------------------------------------------------------- compile


def _walk(x, found, seen):
    if isinstance(x, Symbol):
        if id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, Variable):
            other = found.get(x.name)
            if other is not None and other is not x:
                raise ValueError(f"compile: two different Variables are named {x.name!r}")
            found[x.name] = x
        for a in x._args:
            _walk(a, found, seen)
        for a in x._kwargs.values():
            _walk(a, found, seen)
    elif isinstance(x, (list, tuple)):
        for a in x:
            _walk(a, found, seen)
    elif isinstance(x, dict):
        for a in x.values():
            _walk(a, found, seen)


def _grad_targets(x, out, seen):
    """Variables that some grad() differentiates with respect to."""
    if isinstance(x, Symbol) and id(x) not in seen:
        seen.add(id(x))
        if x._fn is _grads:
            for v in x._args[1]:
                if isinstance(v, Variable):
                    out.add(v.name)
        for a in list(x._args) + list(x._kwargs.values()):
            _grad_targets(a, out, seen)
    elif isinstance(x, (list, tuple)):
        for a in x:
            _grad_targets(a, out, seen)


def _evaluate(x, env, memo):
    if isinstance(x, Symbol):
        got = memo.get(id(x))
        if got is not None:
            return got
        if isinstance(x, Variable):
            value = env[x.name]
        elif isinstance(x, Constant):
            value = const(x._args[0].data.copy())  # folded: a copy
        else:
            args = [_evaluate(a, env, memo) for a in x._args]
            kwargs = {k: _evaluate(v, env, memo) for k, v in x._kwargs.items()}
            value = x._fn(*args, **kwargs)
        memo[id(x)] = value
        return value
    if isinstance(x, list):
        return [_evaluate(a, env, memo) for a in x]
    if isinstance(x, tuple):
        return tuple(_evaluate(a, env, memo) for a in x)
    if isinstance(x, dict):
        return {k: _evaluate(v, env, memo) for k, v in x.items()}
    return x


class SymbolicFunction:
    """What :func:`compile` returns: call it with the variables as keyword arguments.

    Attributes:
        graph: the optimized graph (print it; ``bricks.viz.to_dot(f.graph)`` draws it).
        graph_before: the graph as traced, before optimization.
        variables: the names it takes.
    """

    def __init__(self, outputs, optimize: bool = True):
        self.single = not isinstance(outputs, (list, tuple))
        self.outputs = [outputs] if self.single else list(outputs)
        for i, o in enumerate(self.outputs):
            if not isinstance(o, Symbol):
                raise TypeError(f"compile: output {i} is a {type(o).__name__}, expected a "
                                f"symbolic value (built from Variables)")
        self._vars = {}
        _walk(self.outputs, self._vars, set())
        self._grad_of = set()
        _grad_targets(self.outputs, self._grad_of, set())
        self.optimize = optimize
        self.plans = {}
        self._last = None
        if all(v._shape is not None and None not in v._shape for v in self._vars.values()):
            self._plan_for({n: self._example(v) for n, v in self._vars.items()})

    @property
    def variables(self) -> list:
        return list(self._vars)

    @staticmethod
    def _example(v):
        dtype = v._dtype or backend.get_default_dtype()
        return const(backend.xp.zeros(v._shape, dtype=dtype))

    @property
    def graph(self) -> Graph:
        if self._last is None:
            raise RuntimeError("compile: the graph is made on the first call (some Variable "
                               "has no full shape); call the function once first")
        return self._last[1]

    @property
    def graph_before(self) -> Graph:
        self.graph  # noqa: B018 - raises the same error before the first call
        return self._last[2]

    @property
    def source(self) -> str:
        """The generated Python code of the plan."""
        self.graph  # noqa: B018
        return self._last[0].source

    # ------------------------------------------------------------ calling
    def _check(self, kwargs):
        missing = [n for n in self._vars if n not in kwargs]
        if missing:
            raise TypeError(f"compiled function: missing value for Variable "
                            f"{', '.join(repr(n) for n in missing)} (it takes "
                            f"{', '.join(self._vars)})")
        extra = [n for n in kwargs if n not in self._vars]
        if extra:
            raise TypeError(f"compiled function: got {', '.join(repr(n) for n in extra)}, "
                            f"which is not a Variable of the graph (it takes "
                            f"{', '.join(self._vars) or 'nothing'})")
        named = {}
        as_arrays = True
        for n, v in self._vars.items():
            value = kwargs[n]
            if isinstance(value, Tensor):
                as_arrays = False
                t = value
            elif isinstance(value, ndarray):
                t = const(value)
            else:
                t = tensor(value, dtype=v._dtype)
            if v._shape is not None:
                s = t.data.shape
                if len(s) != len(v._shape) or any(
                        e is not None and e != a for e, a in zip(v._shape, s)):
                    want = tuple("?" if e is None else e for e in v._shape)
                    raise ValueError(f"compiled function: Variable {n!r} was declared with "
                                     f"shape {want}, got an array of shape {tuple(s)}")
            if v._dtype is not None and t.data.dtype != v._dtype:
                raise TypeError(f"compiled function: Variable {n!r} was declared with dtype "
                                f"{v._dtype}, got {t.data.dtype}")
            named[n] = t
        return named, as_arrays

    def __call__(self, **kwargs):
        named, as_arrays = self._check(kwargs)
        key = tuple((n, t.data.shape, t.data.dtype.str) for n, t in named.items())
        entry = self.plans.get(key) or self._plan_for(named)
        self._last = entry
        plan, structure = entry[0], entry[3]
        try:
            arrays = plan.fn({n: t.data for n, t in named.items()})
        except compiler.StalePlan:  # a guard saw data the plan was not made for: eagerly
            env = {n: Tensor._make(t.data, n in self._grad_of, None, 0)
                   for n, t in named.items()}
            with autograd.enable_grad():
                arrays = [v.data for v in _evaluate(self.outputs, env, {})]
        if as_arrays:
            result = [arrays[i] for i in range(len(arrays))]
        else:
            result = [const(a) for a in arrays]
        del structure
        return result[0] if self.single else result

    def _trace_once(self, named):
        tracer = Tracer()
        env = {}
        for n, t in named.items():
            t = Tensor._make(t.data, n in self._grad_of, None, 0)
            env[n] = t
            tracer.add_input(n, t)
        with autograd.enable_grad(), tracing(tracer):
            values = _evaluate(self.outputs, env, {})
        for i, v in enumerate(values):
            if not isinstance(v, Tensor):
                raise TypeError(f"compile: output {i} evaluates to a {type(v).__name__}, not "
                                f"a tensor")
        structure = tracer.set_outputs(values)
        if tracer.failure is not None:
            reason, where = tracer.failure
            raise TraceError(f"compile: the graph cannot be compiled: {reason} (at {where})")
        return tracer, structure

    def _plan_for(self, named):
        """Trace twice (other values first, then these), without leaving effects behind:
        what is the same object both times is state, what differs is an error, the rest
        constants (as for bricks.compile)."""
        from bricks.symbolic.function import _merge

        key = tuple((n, t.data.shape, t.data.dtype.str) for n, t in named.items())
        buffers = [b for m in _modules(self.outputs) for b in m.buffers() if b is not None]
        saved = [b.data.copy() for b in buffers]
        rng = rng_state()
        gen = backend.xp.random.default_rng(12345)
        other = {}
        for n, t in named.items():
            a = t.data
            fresh = (gen.standard_normal(a.shape).astype(a.dtype) if a.dtype.kind == "f"
                     else backend.xp.zeros_like(a))
            other[n] = const(fresh)
        try:
            first, _ = self._trace_once(other)
            second, structure = self._trace_once(named)
        finally:
            for b, a in zip(buffers, saved):
                b.data[...] = a
            set_rng_state(rng)
        graph, problem = _merge(first, second)
        if graph is None:
            reason, where = problem
            raise TraceError(f"compile: the graph cannot be compiled: it {reason} (at {where})")
        before = graph.copy()
        if self.optimize:
            compiler.optimize(graph)
        plan = compiler.generate(graph)
        entry = (plan, graph, before, structure)
        self.plans[key] = entry
        self._last = entry
        return entry


def _modules(x, out=None, seen=None):
    """The modules called anywhere in a symbolic graph (their buffers may change)."""
    from bricks.nn.module import Module

    out = [] if out is None else out
    seen = set() if seen is None else seen
    if isinstance(x, Symbol) and id(x) not in seen:
        seen.add(id(x))
        if isinstance(x._fn, Module):
            out.extend(m for m in x._fn.modules() if all(m is not o for o in out))
        for a in list(x._args) + list(x._kwargs.values()):
            _modules(a, out, seen)
    elif isinstance(x, (list, tuple)):
        for a in x:
            _modules(a, out, seen)
    return out


def compile(outputs=None, *, optimize: bool = True, cache_size: int = 8,  # noqa: A001
            fallback: bool = True):
    """Compile symbolic outputs into one function of their Variables, or compile a Python
    function (``bricks.compile(train_step)``).

    Args:
        outputs: a symbolic value or a list of them (compiled into one function); or an
            ordinary function of tensors, traced on its first calls and then replayed (see
            :class:`~bricks.symbolic.function.CompiledFunction`); or None, to use
            ``@bricks.compile(...)`` with options as a decorator.
        optimize: run the graph optimizations (symbolic outputs; False runs it as traced).
        cache_size: how many plans (one per input shapes and train/eval mode) a compiled
            Python function keeps.
        fallback: what a compiled Python function does when it cannot be compiled: run
            eagerly with a one-time warning (True) or raise :class:`TraceError` (False).

    Returns:
        For symbols, a :class:`SymbolicFunction`: ``f(name=array_or_tensor, ...)`` returns
        an array (a Tensor when the inputs are Tensors), or a list for a list of outputs.
        For a function, a :class:`CompiledFunction` that is called like it.

    Example:
        >>> w = bricks.tensor([1.0, -1.0], requires_grad=True)
        >>> opt = bricks.optim.SGD([w], lr=0.1)
        >>> @bricks.compile
        ... def step(x):
        ...     opt.zero_grad()
        ...     loss = ((x * w).sum() - 1.0) ** 2
        ...     loss.backward()
        ...     opt.step()
        ...     return loss
        >>> for _ in range(20):
        ...     loss = step(bricks.ones(2))   # calls 1, 2 record; 3 to 20 run the plan
        >>> step.traces, round(float(loss), 6)
        (2, 0.0)
    """
    from bricks.symbolic.function import compile_function

    if outputs is None:
        return compile_function(cache_size=cache_size, fallback=fallback)
    if callable(outputs) and not isinstance(outputs, Symbol):
        return compile_function(outputs, cache_size=cache_size, fallback=fallback)
    return SymbolicFunction(outputs, optimize)
