"""Reverse-mode automatic differentiation: ``Function``, grad modes and the backward engine.

Every differentiable op is a subclass of :class:`Function`.  ``forward`` receives and returns
raw arrays and saves what backward needs with ``self.save_for_backward``; ``backward``
receives and returns Tensors and is written in bricks' own ops, so the gradient computation
is itself a graph that can be differentiated again (``create_graph=True``).

The engine (:func:`run_backward`) walks the graph of Function nodes in reverse topological
order with an explicit work list (no recursion, so a chain of 100,000 ops is fine), sums the
gradients that reach each node, and hands leaves their ``.grad``.

Defining your own op::

    class Cube(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, grad):
            (x,) = self.saved_tensors
            return grad * 3 * x * x

    y = Cube.apply(bricks.tensor([2.0], requires_grad=True))
"""

from __future__ import annotations

import functools
import gc
import threading
import weakref

from bricks.backend import generic, is_floating, ndarray, xp

__all__ = [
    "Function",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "backward",
    "grad",
]

# ---------------------------------------------------------------- grad mode

class _GradState(threading.local):
    # Per thread, as in PyTorch: a no_grad block (or a backward) in one thread must not
    # switch off recording for a model training in another (the playground runs several).
    enabled = True
    # The tracer of bricks.symbolic while it records a function (bricks.compile), else None.
    # The hook contract, kept small on purpose: Function.apply calls
    # ``tracer.record(fn, inputs, options, outputs)`` after every forward (recorded or not),
    # the engine runs each node's backward as ``tracer.backward(fn, grads)`` (which calls
    # ``fn.backward``) and calls ``tracer.deliver(leaf, grad, create_graph)`` when a leaf
    # receives its gradient; Tensor methods that read values into Python (item, tolist,
    # numpy, bool) call ``tracer.escape(what)``. Any faster engine path must stay off while
    # a tracer is set. See bricks/symbolic/trace.py.
    tracer = None
    closure = None  # the _ClosureRun of an optimizer's closure being evaluated, if any


_state = _GradState()


def _escape(what: str) -> None:
    """Tell a running tracer that Python code read a tensor's values (``what``)."""
    if _state.tracer is not None:
        _state.tracer.escape(what)


def array_op(fn, *args):
    """``fn(*args)``: an array computed with NumPy outside the ops (an index, a mask).

    A running tracer (``bricks.compile``) records it as a step of its plan, recomputed on
    every call from the arrays in ``args``, instead of a constant frozen at the first call.
    ``fn`` must be a module-level function or ufunc (the same object on every call).
    """
    out = fn(*args)
    if _state.tracer is not None:
        _state.tracer.array_op(fn, args, out)
    return out


def decide(fn, *args):
    """``fn(*args)``: a Python decision on array values (a check that raises, a branch).

    A running tracer records it as a guard: the compiled plan recomputes it on every call
    (so the check still raises) and runs the function eagerly when the decision differs
    from the traced one, instead of a plan that took the other branch.
    """
    result = fn(*args)
    if _state.tracer is not None:
        _state.tracer.decide(fn, args, result)
    return result


class _ClosureRun:
    """Context in which an optimizer evaluates its closure (see ``bricks.optim._flat``).

    It notes whether the closure called ``backward()`` (PyTorch's convention) or only
    returned the loss, and adapts ``backward()`` to what the optimizer needs: with
    ``retain_graph`` the graph survives for a second differentiation (Newton, Hessian-free),
    with ``skip_backward`` (a loss-only evaluation under ``no_grad``, in a line search)
    ``backward()`` does nothing.  One closure then serves every optimizer.
    """

    def __init__(self, retain_graph=False, skip_backward=False):
        self.retain_graph, self.skip_backward = retain_graph, skip_backward
        self.called_backward = False

    def __enter__(self):
        self._prev = _state.closure
        _state.closure = self
        return self

    def __exit__(self, *exc):
        _state.closure = self._prev
        return False


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward."""
    return _state.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording: ``with bricks.no_grad(): ...`` or ``@bricks.no_grad()``.

    Ops inside produce tensors with ``requires_grad=False``; use it for evaluation and for
    updates that must not become part of the graph (optimizer steps, initializers).
    """

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``: at once as a call, or for a block as a context manager."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, func):
        _state.enabled = self._prev  # used as a decorator: the mode applies inside only
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


# ---------------------------------------------------------------- Function


class _SavedOutput:
    """An output saved for backward, kept as its array to avoid an output->node->output cycle."""

    __slots__ = ("array", "index", "vc", "version")

    def __init__(self, array, index, vc):
        self.array, self.index, self.vc, self.version = array, index, vc, vc[0]


class Function:
    """Base class of every differentiable op.

    Subclasses implement ``forward(self, *arrays, **options)`` returning an array (or a tuple
    of arrays) and ``backward(self, *grad_outputs)`` returning one Tensor (or None) per input.
    Call an op with ``MyOp.apply(*tensors, **options)``.

    Class attributes:
        is_view: the output aliases the first input's memory (reshape, transpose, slicing),
            so both share one version counter for the in-place check.
        piecewise: the op is piecewise linear or constant (relu, abs, clamp, max, floor,
            ...): its backward uses the inputs only through masks, whose derivative is 0.
            With ``create_graph=True`` the engine still connects each gradient it returns
            to the op's inputs (with derivative 0, as PyTorch does for relu and abs), so
            that a second derivative through it is a zero, never "does not require grad".
    """

    is_view = False
    piecewise = False
    #: Optional fast path: ``backward_arrays(self, *grad_arrays)`` is ``backward`` on raw
    #: arrays (read the saved values with ``self.saved_arrays``), returning one array (or
    #: None) per input.  The engine uses it when no graph of the gradient is wanted
    #: (``create_graph=False``, the usual training step); ``backward`` stays the reference,
    #: and the one used for higher derivatives.  Ops without it just work, a bit slower.
    backward_arrays = None
    #: True when ``backward_arrays`` always returns new arrays, none returned twice (no
    #: views of the incoming gradient): a leaf may then keep one as its ``.grad`` uncopied.
    fresh_grads = False
    _hooks = None
    _freed = False
    _record = False
    _saved = None

    @classmethod
    def apply(cls, *inputs, **options):
        fn = cls.__new__(cls)
        record = False
        values = None
        for t in inputs:
            if not isinstance(t, Tensor):
                symbol = _deferred(inputs, options)
                if symbol is not None:  # bricks.symbolic: record the op, run nothing
                    return symbol._defer(cls.apply, inputs, options)
                values, inputs = _constant_inputs(cls, inputs)
                record = any(t._requires_grad for t in inputs)
                break
            if t._requires_grad:
                record = True
        if record:
            if _state.enabled:
                fn._record = True
                if not _gc_pause.active:
                    _gc_pause.start()
                else:
                    _gc_pause.count_node()
            else:
                record = False
        if values is None:
            values = [t.data for t in inputs]
        raw = fn.forward(*values, **options)
        make = Tensor._make
        if type(raw) is not tuple:
            # The common single-output case, written out: this is the hottest path of bricks.
            # NumPy hands back scalars, not 0-d arrays, from ufuncs and reductions on 0-d
            # data; a scalar cannot be changed in place (optimizer steps on a 0-d grad).
            original = raw
            if isinstance(raw, generic):
                raw = xp.asarray(raw)
            if not record:
                out = make(raw, False, None, 0)
            else:
                fn._set_edges(inputs)
                fn.output_meta = ((raw.shape, raw.dtype),)
                out = make(raw, True, fn, 0) if raw.dtype.kind == "f" else make(
                    raw, False, None, 0)
                if fn._saved is not None:
                    fn._resolve_saved(inputs, (out,), (original,))
            if cls.is_view:
                out._vc = inputs[0]._vc
            if _state.tracer is not None:
                _state.tracer.record(fn, inputs, options, (out,))
            return out
        originals = raw
        arrays = tuple(xp.asarray(a) if isinstance(a, generic) else a for a in raw)
        if record:
            fn._set_edges(inputs)
            fn.output_meta = tuple((a.shape, a.dtype) for a in arrays)
            outputs = tuple(
                make(a, True, fn, i) if is_floating(a.dtype) else make(a, False, None, 0)
                for i, a in enumerate(arrays)
            )
            if fn._saved is not None:
                fn._resolve_saved(inputs, outputs, originals)
        else:
            outputs = tuple(make(a, False, None, 0) for a in arrays)
        if cls.is_view:
            for out in outputs:
                out._vc = inputs[0]._vc
        if _state.tracer is not None:
            _state.tracer.record(fn, inputs, options, outputs)
        return outputs

    def _set_edges(self, inputs):
        # Per input: its producer node and output slot, the leaf itself, or None (no grad).
        self.next_edges = tuple(
            (t.grad_fn, t._output_nr) if t.grad_fn is not None
            else (t, -1) if t._requires_grad else None
            for t in inputs)
        self.input_meta = tuple((t.data.shape, t.data.dtype) for t in inputs)

    # ---- what forward and backward call

    def forward(self, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    @property
    def needs_input_grad(self):
        """One bool per input: does backward need to produce that input's gradient?"""
        return tuple(e is not None for e in self.next_edges)

    def save_for_backward(self, *arrays):
        """Keep arrays for backward; inputs and outputs are recognized and version-checked.

        Call from ``forward`` with the arrays it received or returned (or fresh ones);
        ``backward`` reads them back as Tensors through ``self.saved_tensors``.
        """
        if self._record:
            self._saved = arrays

    def _resolve_saved(self, inputs, outputs, originals):
        entries = []
        for a in self._saved:
            entry = a
            if a is not None:
                for t in inputs:
                    if a is t.data:
                        entry = (t, t._vc[0])
                        break
                else:
                    for i, t in enumerate(outputs):
                        if a is originals[i]:
                            entry = _SavedOutput(t.data, i, t._vc)
                            break
                    else:
                        if isinstance(a, (generic, bool, int, float)):
                            entry = xp.asarray(a)
            entries.append(entry)
        self._saved = tuple(entries)

    @property
    def saved_tensors(self):
        """The saved values as Tensors, after checking no in-place op changed them."""
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE.format(name=self.name()))
        out = []
        for entry in self._saved or ():
            if entry is None:
                out.append(None)
            elif type(entry) is tuple:
                t, version = entry
                if t._vc[0] != version:
                    raise RuntimeError(_inplace_message(self, t.data.shape, t._vc[0], version))
                out.append(t)
            elif type(entry) is _SavedOutput:
                if entry.vc[0] != entry.version:
                    raise RuntimeError(
                        _inplace_message(self, entry.array.shape, entry.vc[0], entry.version)
                    )
                t = Tensor._make(entry.array, True, self, entry.index)
                t._vc = entry.vc
                out.append(t)
            else:
                out.append(Tensor._make(entry, False, None, 0))
        return tuple(out)

    @property
    def saved_arrays(self):
        """The saved values as arrays (for ``backward_arrays``), version-checked too."""
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE.format(name=self.name()))
        out = []
        for entry in self._saved or ():
            if type(entry) is tuple:
                t, version = entry
                if t._vc[0] != version:
                    raise RuntimeError(_inplace_message(self, t.data.shape, t._vc[0], version))
                out.append(t.data)
            elif type(entry) is _SavedOutput:
                if entry.vc[0] != entry.version:
                    raise RuntimeError(
                        _inplace_message(self, entry.array.shape, entry.vc[0], entry.version)
                    )
                out.append(entry.array)
            else:
                out.append(entry)
        return out

    def name(self) -> str:
        """``'ExpBackward'`` for ``Exp``: the name PyTorch users know from ``grad_fn``."""
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    def _release(self):
        self._saved = None
        self._freed = True

    def register_output_hook(self, index, hook):
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks.setdefault(index, [])
        # retain_grad() keeps the gradient after every other hook, whenever they were added.
        if hooks and type(hooks[-1]) is _RetainGrad and type(hook) is not _RetainGrad:
            hooks.insert(len(hooks) - 1, hook)
        else:
            hooks.append(hook)
        return _HookHandle(hooks, hook)


class Deferred:
    """Base of values whose computation is deferred (``bricks.symbolic``'s symbols).

    An op, module or ``nn.functional`` function given one records the call instead of
    running it: ``f(value, ...)`` returns ``value._defer(f, args, kwargs)``.
    """

    __slots__ = ()

    def _defer(self, fn, args, kwargs):  # pragma: no cover - abstract
        raise NotImplementedError


def _deferred(inputs, options):
    """The first Deferred among an op's inputs and options, or None."""
    for x in inputs:
        if isinstance(x, Deferred):
            return x
    for x in options.values():
        if isinstance(x, Deferred):
            return x
    return None


def _constant_inputs(cls, inputs):
    """Inputs that are not Tensors (Python numbers, NumPy scalars and arrays) are constants,
    as in PyTorch's custom Functions: ``forward`` receives them unchanged, backward's
    gradient for them is ignored.  Returns (the values for forward, the inputs as Tensors).
    """
    values, tensors = [], []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor):
            values.append(t.data)
            tensors.append(t)
            continue
        if isinstance(t, (bool, int, float, generic, ndarray)):
            values.append(t)
            tensors.append(Tensor._make(xp.asarray(t), False, None, 0))
            continue
        raise TypeError(
            f"{cls.__name__}.apply: input {i} is a {type(t).__name__}; pass Tensors, or "
            f"Python numbers / NumPy scalars and arrays (used as constants)"
        )
    return values, tuple(tensors)


_FREED_MESSAGE = (
    "{name}: trying to backward through the graph a second time (or to read saved tensors "
    "after they were freed). The first backward freed the graph's saved values; pass "
    "retain_graph=True to the first backward() if you need to go through it again."
)


def _inplace_message(fn, shape, now, then):
    return (
        f"one of the tensors needed for gradient computation has been modified by an in-place "
        f"operation: a tensor of shape {tuple(shape)} saved by {fn.name()} is at version {now}, "
        f"expected version {then}. Use the out-of-place op (x = x + y instead of x.add_(y)) "
        f"or clone() the tensor before changing it."
    )


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook out again."""

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# ---------------------------------------------------------------- the engine


class _GCPause:
    """Python's cyclic garbage collector, paused from the first recorded op to the end of
    the backward pass that consumes the graph.

    A graph is many small objects (nodes, tensors, tuples) and, being acyclic, all of them
    are freed by reference counting; but while it grows, the collector's full passes walk
    every one of them again and again (a 100,000-op chain spent most of its time there).
    Only a collector that was on is paused (and switched on again), and a graph that is
    never backpropagated does not keep it off for good: every ``LIMIT`` recorded ops the
    young generations are collected.
    """

    LIMIT = 1_000_000

    def __init__(self):
        self.active = False
        self.nodes = 0

    def start(self):
        if gc.isenabled():
            gc.disable()
            self.active = True
            self.nodes = 0

    def count_node(self):
        self.nodes += 1
        if self.nodes >= self.LIMIT:
            self.nodes = 0
            gc.collect(1)

    def end(self):
        if self.active:
            self.active = False
            gc.enable()


_gc_pause = _GCPause()


def _zeros_for(meta):
    shape, dtype = meta
    return Tensor._make(xp.zeros(shape, dtype=dtype), False, None, 0)


def _as_array(g):
    """A backward result as an array (backward may return Tensors or NumPy scalars)."""
    if isinstance(g, Tensor):
        return g.data
    if isinstance(g, (generic, bool, int, float)):
        return xp.asarray(g)
    return g  # an array of another module (CuPy)


def _wrap(array):
    return Tensor._make(array, False, None, 0)


def run_backward(
    roots,
    grad_roots,
    *,
    retain_graph=False,
    create_graph=False,
    inputs=None,
    allow_unused=False,
):
    """Backpropagate ``grad_roots`` from ``roots``.

    With ``inputs=None`` gradients accumulate into the ``.grad`` of every leaf reached;
    otherwise they are returned, one per input (None where unused), and no ``.grad`` changes.

    Without ``create_graph`` the gradients flow as raw arrays (no Tensor per gradient, and
    each node's ``backward_arrays`` when it has one); hooks and results still see Tensors.
    """
    try:
        return _run_backward(roots, grad_roots, retain_graph, create_graph, inputs,
                             allow_unused)
    finally:
        _gc_pause.end()


def _run_backward(roots, grad_roots, retain_graph, create_graph, inputs, allow_unused):
    # The fast path on raw arrays stays off while bricks.compile traces (the tracer records
    # the Tensor-level backward of each node).
    raw = not create_graph and _state.tracer is None
    if raw:
        grad_roots = [g.data for g in grad_roots]
    captured = None
    leaf_slot = {}
    node_slot = {}
    repeats = []  # (i, j): input i is input j again, and gets the same gradient
    if inputs is not None:
        captured = [None] * len(inputs)
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"grad: input {i} does not require grad")
            slots, key = (leaf_slot, id(t)) if t.grad_fn is None else (
                node_slot, (t.grad_fn, t._output_nr))
            if key in slots:
                repeats.append((i, slots[key]))
            else:
                slots[key] = i

    # Seed the buffers.  Leaves collect their gradient in leaf_buffers (one entry per leaf:
    # tensor, summed gradient, whether that sum is a fresh array) and receive it once, at the
    # end, so that their hooks see the total and not one partial sum per use.
    buffers = {}
    leaf_buffers = {}
    root_nodes = []
    for t, g in zip(roots, grad_roots):
        if t.grad_fn is None:
            _buffer_leaf(leaf_buffers, t, g, leaf_slot, captured)
            continue
        fn = t.grad_fn
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * len(fn.output_meta)
            root_nodes.append(fn)
        buf[t._output_nr] = g if buf[t._output_nr] is None else buf[t._output_nr] + g

    # Discover the graph iteratively: children of each node, in first-seen order.
    order = []
    seen = set()
    stack = list(root_nodes)
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        order.append(fn)
        for edge in fn.next_edges:
            if edge is not None and edge[1] >= 0 and edge[0] not in seen:
                stack.append(edge[0])

    needed = seen
    if inputs is not None:
        needed = _nodes_reaching(order, leaf_slot, node_slot)

    deps = {}
    for fn in order:
        if fn not in needed:
            continue
        for edge in fn.next_edges:
            if edge is not None and edge[1] >= 0 and edge[0] in needed:
                deps[edge[0]] = deps.get(edge[0], 0) + 1

    ready = [fn for fn in root_nodes if fn in needed and deps.get(fn, 0) == 0]
    mode = set_grad_enabled(create_graph)
    try:
        while ready:
            fn = ready.pop()
            grads = buffers.pop(fn)
            for i, g in enumerate(grads):
                if g is None:
                    grads[i] = _zeros_for(fn.output_meta[i])
                    if raw:
                        grads[i] = grads[i].data
            if fn._hooks:
                for i, hooks in fn._hooks.items():
                    g = _wrap(grads[i]) if raw else grads[i]
                    for hook in list(hooks):
                        result = hook(g)
                        if result is not None:
                            g = result
                    grads[i] = g.data if raw else g
            if node_slot:
                for i in range(len(grads)):
                    slot = node_slot.get((fn, i))
                    if slot is not None:
                        captured[slot] = _wrap(grads[i]) if raw else grads[i]
            if fn._freed:
                raise RuntimeError(_FREED_MESSAGE.format(name=fn.name()))
            if _state.tracer is not None:
                in_grads = _state.tracer.backward(fn, grads)  # records it as one step
            elif not raw:
                in_grads = fn.backward(*grads)
            elif fn.backward_arrays is not None:
                in_grads = fn.backward_arrays(*grads)
            else:
                in_grads = fn.backward(*[_wrap(g) for g in grads])
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(fn.next_edges):
                raise RuntimeError(
                    f"{fn.name()} returned {len(in_grads)} gradients for "
                    f"{len(fn.next_edges)} inputs"
                )
            if not retain_graph:
                fn._release()
            if create_graph and fn.piecewise:
                in_grads = _depend_on_inputs(fn, in_grads)
            for edge, g, meta in zip(fn.next_edges, in_grads, fn.input_meta):
                if edge is None or g is None:
                    continue
                if raw:
                    if type(g) is not ndarray:
                        g = _as_array(g)
                    if g.shape != meta[0]:
                        _check_grad(fn, _wrap(g), meta)  # raises, naming the shapes
                    if g.dtype != meta[1]:
                        g = g.astype(meta[1])
                else:
                    g = _check_grad(fn, g, meta)
                target, nr = edge
                if nr < 0:
                    _buffer_leaf(leaf_buffers, target, g, leaf_slot, captured,
                                 raw and fn.fresh_grads)
                    continue
                if target not in needed:
                    continue
                buf = buffers.get(target)
                if buf is None:
                    buf = buffers[target] = [None] * len(target.output_meta)
                if buf[nr] is None:
                    buf[nr] = g
                else:
                    g = buf[nr] + g
                    buf[nr] = _as_array(g) if raw and isinstance(g, generic) else g
                deps[target] -= 1
                if deps[target] == 0:
                    ready.append(target)
        for t, g, fresh in leaf_buffers.values():
            if raw:
                _deliver_array_to_leaf(t, g, fresh, leaf_slot, captured)
                continue
            if create_graph and not g._requires_grad:
                g, fresh = ZeroDerivative.apply(g, t), False
            _deliver_to_leaf(t, g, fresh, leaf_slot, captured, create_graph)
        if create_graph and captured is not None:
            for slot, g in enumerate(captured):
                if g is not None and not g._requires_grad:
                    # A gradient that does not depend on the input (x.sum(), relu's mask)
                    # still is a function of it: one with derivative 0.  So a
                    # create_graph result is always differentiable, and the Hessian of a
                    # piecewise-linear function is zeros, not an error.
                    captured[slot] = ZeroDerivative.apply(g, inputs[slot])
    finally:
        mode.__exit__()

    if captured is not None:
        for i, j in repeats:
            captured[i] = captured[j]
        for i, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(inputs[i].shape)}) was not used to compute "
                    f"the outputs; pass allow_unused=True to get None for it"
                )
    return captured


class ZeroDerivative(Function):
    """``g`` itself, recorded as a function of ``sources`` whose derivative is 0.

    What the engine uses to keep ``create_graph=True`` gradients connected to the inputs
    they are (piecewise-constant) functions of; see ``Function.piecewise``.
    """

    is_view = True

    def forward(self, g, *sources):
        return g

    def backward(self, grad):
        zeros = tuple(
            None if edge is None else _zeros_for(meta)
            for edge, meta in zip(self.next_edges[1:], self.input_meta[1:])
        )
        return (grad,) + zeros


def _edge_tensor(edge, meta):
    """A stand-in Tensor for a node's input, from the edge alone (its values are not needed)."""
    target, nr = edge
    if nr < 0:
        return target  # a leaf
    shape, dtype = meta
    return Tensor._make(xp.broadcast_to(xp.zeros((), dtype=dtype), shape), True, target, nr)


def _depend_on_inputs(fn, in_grads):
    sources = [_edge_tensor(e, m) for e, m in zip(fn.next_edges, fn.input_meta)
               if e is not None]
    if not sources:
        return in_grads
    return tuple(g if g is None else ZeroDerivative.apply(g, *sources) for g in in_grads)


def _nodes_reaching(order, leaf_slot, node_slot):
    """The nodes from which some requested input can be reached (the rest need not run)."""
    targets = {fn for fn, _ in node_slot}
    parents = {}
    found = set()
    for fn in order:
        for edge in fn.next_edges:
            if edge is None:
                continue
            if edge[1] < 0:
                if id(edge[0]) in leaf_slot:
                    found.add(fn)
            else:
                parents.setdefault(edge[0], []).append(fn)
    stack = list(found | (targets & set(order)))
    needed = set()
    while stack:
        fn = stack.pop()
        if fn in needed:
            continue
        needed.add(fn)
        stack.extend(parents.get(fn, ()))
    return needed


def _check_grad(fn, g, meta):
    shape, dtype = meta
    if g.data.shape != shape:
        raise RuntimeError(
            f"{fn.name()} returned a gradient of shape {tuple(g.data.shape)} for an input of "
            f"shape {tuple(shape)}"
        )
    if g.data.dtype != dtype:
        g = g.to(dtype)
    return g


def _buffer_leaf(leaf_buffers, t, g, leaf_slot, captured, fresh=False):
    if captured is not None and id(t) not in leaf_slot:
        return  # grad(): a leaf that was not asked for gets nothing, and its hooks do not run
    entry = leaf_buffers.get(id(t))
    if entry is None:
        leaf_buffers[id(t)] = [t, g, fresh]
    else:
        entry[1] = entry[1] + g
        entry[2] = True


def _deliver_to_leaf(t, g, fresh, leaf_slot, captured, create_graph):
    if t._hooks:
        for hook in list(t._hooks):
            result = hook(g)
            if result is not None:
                g, fresh = result, False
    if _state.tracer is not None and captured is None:
        _state.tracer.deliver(t, g, create_graph)
    if captured is not None:
        captured[leaf_slot[id(t)]] = g
        return
    if create_graph:
        # A clone (differentiable): the same gradient tensor may reach several leaves (a + b),
        # and zeroing one leaf's .grad in place must not zero the other's.
        t.grad = (g if fresh else g.clone()) if t.grad is None else t.grad + g
    elif t.grad is None:
        # Copy unless the sum is new: the same gradient array may reach several leaves.
        t.grad = Tensor._make(g.data if fresh else g.data.copy(), False, None, 0)
    else:
        total = t.grad.data + g.data
        t.grad = Tensor._make(xp.asarray(total) if isinstance(total, generic) else total,
                              False, None, 0)


def _deliver_array_to_leaf(t, g, fresh, leaf_slot, captured):
    """``_deliver_to_leaf`` for a gradient that is a raw array (no create_graph)."""
    if isinstance(g, generic):  # a sum of 0-d arrays
        g = xp.asarray(g)
    if t._hooks:
        gt = _wrap(g)
        for hook in list(t._hooks):
            result = hook(gt)
            if result is not None:
                gt, fresh = result, False
        g = gt.data
    if captured is not None:
        captured[leaf_slot[id(t)]] = _wrap(g)
        return
    if t.grad is None:
        # Copy unless the sum is new: the same gradient array may reach several leaves.
        t.grad = _wrap(g if fresh else g.copy())
    else:
        total = t.grad.data + g
        t.grad = _wrap(xp.asarray(total) if isinstance(total, generic) else total)


def _as_grad_list(outputs, grad_outputs, who):
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    outputs = list(outputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"{who}: got {len(outputs)} outputs but {len(grad_outputs)} grad_outputs"
        )
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{who}: output {i} is a {type(out).__name__}, expected a Tensor")
        if not out._requires_grad:
            raise RuntimeError(
                f"{who}: output {i} does not require grad and has no grad_fn: nothing it was "
                f"computed from has requires_grad=True (or it was computed under no_grad)"
            )
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"{who}: grad can be created implicitly only for scalar outputs, but output "
                    f"{i} has shape {tuple(out.shape)}; pass gradient= (a tensor of that shape)"
                )
            g = Tensor._make(xp.ones_like(out.data), False, None, 0)
        else:
            if not isinstance(g, Tensor):
                g = tensor_from(g, out.data.dtype)
            if g.shape != out.shape:
                raise RuntimeError(
                    f"{who}: gradient has shape {tuple(g.shape)} but output {i} has shape "
                    f"{tuple(out.shape)}"
                )
        grads.append(g)
    return outputs, grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    run = _state.closure
    if run is not None:
        run.called_backward = True
        if run.skip_backward:
            return
    outputs, grads = _as_grad_list(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if run is not None and run.retain_graph:
        retain_graph = True
    run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=False,
):
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    Args:
        outputs: a Tensor or sequence of Tensors to differentiate.
        inputs: a Tensor or sequence of Tensors to differentiate with respect to.
        grad_outputs: the vector in the vector-Jacobian product, one per output (None means
            ones, allowed for single-element outputs).
        retain_graph: keep the graph for another backward (default: ``create_graph``).
        create_graph: record the gradient's own graph, for higher derivatives.
        allow_unused: return None for an input the outputs do not depend on, instead of
            raising.

    Returns:
        A tuple with one gradient per input.

    Example:
        >>> x = bricks.tensor(3.0, requires_grad=True)
        >>> (g,) = bricks.grad(x ** 3, x, create_graph=True)
        >>> (h,) = bricks.grad(g, x)
        >>> float(g), float(h)
        (27.0, 18.0)
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: input {i} is a {type(t).__name__}, expected a Tensor")
    outputs, grads = _as_grad_list(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(
        outputs,
        grads,
        retain_graph=retain_graph,
        create_graph=create_graph,
        inputs=inputs,
        allow_unused=allow_unused,
    )
    return tuple(result)


class _RetainGrad:
    """Hook that stores a non-leaf tensor's gradient in its ``.grad`` (held weakly)."""

    def __init__(self, t):
        self.ref = weakref.ref(t)

    def __call__(self, g):
        t = self.ref()
        if t is not None:
            if t.grad is None:
                t.grad = g if _state.enabled else Tensor._make(g.data.copy(), False, None, 0)
            else:
                t.grad = t.grad + g
        return None


# The engine makes and inspects Tensors; tensor.py imports this module first.
from bricks.tensor import Tensor, tensor_from  # noqa: E402
