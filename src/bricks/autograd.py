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
from typing import NamedTuple

from bricks import backend
from bricks.backend import generic, get_array_module, ndarray, xp

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


class Edge(NamedTuple):
    """Where a node sends the gradient of one of its inputs: output ``output_nr`` of ``fn``,
    the node that computed that input."""

    fn: Function
    output_nr: int


class LeafEdge(NamedTuple):
    """Where a node sends the gradient of an input that is a leaf (a tensor the user made
    with ``requires_grad=True``): into that tensor's ``.grad``."""

    leaf: Tensor


_new_tuple = tuple.__new__  # Edge(fn, nr) without NamedTuple's Python-level __new__ (hot)


def _edges_and_meta(inputs):
    """A node's ``next_edges`` (an Edge, a LeafEdge, or None for an input that needs no
    gradient) and ``input_meta`` (each input's shape and dtype, to check its gradient)."""
    edges, meta = [], []
    for t in inputs:
        data = t.data
        meta.append((data.shape, data.dtype))
        if t.grad_fn is not None:
            edges.append(_new_tuple(Edge, (t.grad_fn, t._output_nr)))
        elif t._requires_grad:
            edges.append(_new_tuple(LeafEdge, (t,)))
        else:
            edges.append(None)
    return tuple(edges), tuple(meta)


class _SavedInput:
    """An input saved for backward, with its version when saved (for the in-place check)."""

    __slots__ = ("tensor", "version")

    def __init__(self, tensor, version):
        self.tensor, self.version = tensor, version


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
        values = []
        elsewhere = False  # some input is not a NumPy array: check they share one device
        for t in inputs:
            if not isinstance(t, Tensor):
                symbol = _deferred(inputs, options)
                if symbol is not None:  # bricks.symbolic: record the op, run nothing
                    return symbol._defer(cls.apply, inputs, options)
                values, inputs = _constant_inputs(cls, inputs)
                record = any(t._requires_grad for t in inputs)
                elsewhere = True
                break
            data = t.data
            values.append(data)
            if t._requires_grad:
                record = True
            if type(data) is not ndarray:
                elsewhere = True
        if elsewhere:
            _check_devices(cls, inputs)
        if record:
            if _state.enabled:
                fn._record = True
                if not _gc_pause.active:
                    _gc_pause.start()
                else:
                    _gc_pause.count_node()
            else:
                record = False
        raw = fn.forward(*values, **options)
        single = type(raw) is not tuple
        outputs = fn._outputs(inputs, (raw,) if single else raw, record)
        if _state.tracer is not None:
            _state.tracer.record(fn, inputs, options, outputs)
        return outputs[0] if single else outputs

    def _outputs(self, inputs, raw, record):
        """forward's arrays as Tensors; when ``record``, made by this node and connected to
        the inputs' nodes, with the saved values resolved."""
        make = Tensor._make
        outputs = []
        if record:
            self.next_edges, self.input_meta = _edges_and_meta(inputs)
            meta = []
            for i, a in enumerate(raw):
                if isinstance(a, generic):
                    # NumPy hands back scalars, not 0-d arrays, from ufuncs and reductions on
                    # 0-d data; a scalar cannot be changed in place (an optimizer's 0-d grad).
                    a = xp.asarray(a)
                meta.append((a.shape, a.dtype))
                # Only floating outputs are differentiable (an argmax's indices are not).
                outputs.append(make(a, True, self, i) if a.dtype.kind == "f" else const(a))
            self.output_meta = tuple(meta)
            if self._saved is not None:
                self._resolve_saved(inputs, outputs, raw)
        else:
            for a in raw:
                outputs.append(const(xp.asarray(a) if isinstance(a, generic) else a))
        if self.is_view:
            vc = inputs[0]._vc
            for out in outputs:
                out._vc = vc
        return tuple(outputs)

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
        # What forward saved, recognized: its inputs and outputs get version-checked.
        entries = []
        for a in self._saved:
            entry = a
            if a is not None:
                for t in inputs:
                    if a is t.data:
                        entry = _SavedInput(t, t._vc[0])
                        break
                else:
                    for i, t in enumerate(outputs):
                        if a is originals[i]:
                            entry = _SavedOutput(t.data, i, t._vc)
                            break
                    else:
                        if isinstance(a, (generic, bool, int, float)):
                            entry = backend.asarray_like(a, outputs[0].data)
            entries.append(entry)
        self._saved = tuple(entries)

    def _saved_values(self, as_tensors):
        """The saved values, after checking that no in-place op changed them since."""
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE.format(name=self.name()))
        out = []
        for entry in self._saved or ():
            kind = type(entry)
            if kind is _SavedInput:
                t = entry.tensor
                if t._vc[0] != entry.version:
                    raise RuntimeError(
                        _inplace_message(self, t.data.shape, t._vc[0], entry.version))
                out.append(t if as_tensors else t.data)
            elif kind is _SavedOutput:
                if entry.vc[0] != entry.version:
                    raise RuntimeError(
                        _inplace_message(self, entry.array.shape, entry.vc[0], entry.version)
                    )
                if as_tensors:
                    t = Tensor._make(entry.array, True, self, entry.index)
                    t._vc = entry.vc
                    out.append(t)
                else:
                    out.append(entry.array)
            else:
                out.append(const(entry) if as_tensors and entry is not None else entry)
        return out

    @property
    def saved_tensors(self):
        """The saved values as Tensors, after checking no in-place op changed them."""
        return tuple(self._saved_values(True))

    @property
    def saved_arrays(self):
        """The saved values as arrays (for ``backward_arrays``), version-checked too."""
        return self._saved_values(False)

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


def _check_devices(cls, inputs):
    """Raise when the inputs of one op live on different devices (PyTorch's rule)."""
    first = first_i = None
    for i, t in enumerate(inputs):
        kind = backend.device_type_of(t.data)
        if first is None:
            first, first_i = kind, i
        elif kind is not first:
            raise RuntimeError(
                f"{cls.__name__.lower()}: expected all tensors to be on the same device, but "
                f"input {first_i} is on {inputs[first_i].device} and input {i} on "
                f"{t.device}; move one with .to(device)")


def _constant_inputs(cls, inputs):
    """Inputs that are not Tensors (Python numbers, NumPy scalars and arrays) are constants,
    as in PyTorch's custom Functions: ``forward`` receives them unchanged, backward's
    gradient for them is ignored.  Returns (the values for forward, the inputs as Tensors).
    """
    values, tensors = [], []
    like = next((t.data for t in inputs if isinstance(t, Tensor)), None)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor):
            values.append(t.data)
            tensors.append(t)
            continue
        if isinstance(t, (bool, int, float, generic)) or backend.is_array(t):
            values.append(t)
            tensors.append(const(backend.asarray_like(t, like)))
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


def _zeros(meta, raw, like):
    """Zeros of an input's or output's (shape, dtype), on the device of the array ``like``:
    an array when ``raw``, else a Tensor."""
    shape, dtype = meta
    zeros = get_array_module(like).zeros(shape, dtype=dtype)
    return zeros if raw else const(zeros)


def _as_array(g):
    """A backward result as an array (backward may return Tensors or NumPy scalars)."""
    if isinstance(g, Tensor):
        return g.data
    if isinstance(g, (generic, bool, int, float)):
        return xp.asarray(g)
    return g  # an array of another module (CuPy)


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

    The steps: seed the roots' gradients (:func:`_seed`), discover the graph
    (:func:`_discover`), count each node's dependencies (:func:`_count_dependencies`), run
    the nodes' backward in dependency order, with their hooks (:func:`_propagate`), and
    deliver the summed gradients to the leaves (:func:`_deliver_to_leaves`).
    """
    try:
        # The fast path on raw arrays stays off while bricks.compile traces (the tracer
        # records the Tensor-level backward of each node).
        raw = not create_graph and _state.tracer is None
        request = None if inputs is None else _Request(inputs)
        buffers, leaves, root_nodes = _seed(roots, grad_roots, raw, request)
        order = _discover(root_nodes)
        needed = set(order) if request is None else request.nodes_reaching(order)
        deps = _count_dependencies(order, needed)
        with set_grad_enabled(create_graph):
            _propagate(root_nodes, buffers, leaves, deps, needed, request, raw,
                       retain_graph, create_graph)
            _deliver_to_leaves(leaves, request, raw, create_graph)
            if request is not None and create_graph:
                request.connect_to_inputs()
    finally:
        _gc_pause.end()
    return None if request is None else request.results(allow_unused)


class _Request:
    """What ``grad(outputs, inputs)`` asked for: one result slot per input, filled by the
    engine when the input's gradient is complete (no ``.grad`` changes)."""

    __slots__ = ("inputs", "leaf_slot", "node_slot", "repeats", "captured")

    def __init__(self, inputs):
        self.inputs = inputs
        self.captured = [None] * len(inputs)
        self.leaf_slot = {}  # id(leaf) -> slot
        self.node_slot = {}  # (node, output_nr) -> slot, for inputs that are not leaves
        self.repeats = []  # (i, j): input i is input j again, and gets the same gradient
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"grad: input {i} does not require grad")
            slots, key = (self.leaf_slot, id(t)) if t.grad_fn is None else (
                self.node_slot, (t.grad_fn, t._output_nr))
            if key in slots:
                self.repeats.append((i, slots[key]))
            else:
                slots[key] = i

    def wants(self, leaf) -> bool:
        return id(leaf) in self.leaf_slot

    def set_leaf(self, leaf, g):
        self.captured[self.leaf_slot[id(leaf)]] = g

    def capture_outputs(self, fn, grads, raw):
        """Keep the gradients of ``fn``'s outputs that are requested inputs."""
        for i, g in enumerate(grads):
            slot = self.node_slot.get((fn, i))
            if slot is not None:
                self.captured[slot] = const(g) if raw else g

    def nodes_reaching(self, order):
        """The nodes from which some requested input can be reached (the rest need not run)."""
        targets = {fn for fn, _ in self.node_slot}
        parents = {}
        found = set()
        for fn in order:
            for edge in fn.next_edges:
                if type(edge) is LeafEdge:
                    if id(edge.leaf) in self.leaf_slot:
                        found.add(fn)
                elif edge is not None:
                    parents.setdefault(edge.fn, []).append(fn)
        stack = list(found | (targets & set(order)))
        needed = set()
        while stack:
            fn = stack.pop()
            if fn in needed:
                continue
            needed.add(fn)
            stack.extend(parents.get(fn, ()))
        return needed

    def connect_to_inputs(self):
        """create_graph: a gradient that does not depend on its input (x.sum(), relu's
        mask) still is a function of it, one with derivative 0.  So a create_graph result
        is always differentiable, and the Hessian of a piecewise-linear function is zeros,
        not an error."""
        for slot, g in enumerate(self.captured):
            if g is not None and not g._requires_grad:
                self.captured[slot] = ZeroDerivative.apply(g, self.inputs[slot])

    def results(self, allow_unused):
        captured = self.captured
        for i, j in self.repeats:
            captured[i] = captured[j]
        for i, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(self.inputs[i].shape)}) was not used to "
                    f"compute the outputs; pass allow_unused=True to get None for it"
                )
        return captured


class _LeafGrad:
    """A leaf's gradient while backward runs: the sum of what reached it so far, and whether
    that sum is a new array nobody else holds (then the leaf may keep it uncopied)."""

    __slots__ = ("leaf", "grad", "fresh")

    def __init__(self, leaf, grad, fresh):
        self.leaf, self.grad, self.fresh = leaf, grad, fresh


def _add_to_leaf(leaves, leaf, g, request, fresh=False):
    """Sum ``g`` into the leaf's pending gradient; it is delivered once, at the end, so that
    the leaf's hooks see the total and not one partial sum per use."""
    if request is not None and not request.wants(leaf):
        return  # grad(): a leaf that was not asked for gets nothing, and its hooks do not run
    pending = leaves.get(id(leaf))
    if pending is None:
        leaves[id(leaf)] = _LeafGrad(leaf, g, fresh)
    else:
        pending.grad = pending.grad + g
        pending.fresh = True


def _seed(roots, grad_roots, raw, request):
    """Step 1: each root's gradient, into the buffer of the node that made the root (or of
    the leaf, for a root that is a leaf).  Returns the node buffers (node -> one gradient
    per output), the leaves' pending gradients and the roots' nodes, in order."""
    buffers, leaves, root_nodes = {}, {}, []
    for t, g in zip(roots, grad_roots):
        if raw:
            g = g.data
        fn = t.grad_fn
        if fn is None:
            _add_to_leaf(leaves, t, g, request)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * len(fn.output_meta)
            root_nodes.append(fn)
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    return buffers, leaves, root_nodes


def _discover(root_nodes):
    """Step 2: every node reachable from the roots, in first-seen order (iteratively, so
    that a chain of 100,000 ops does not hit Python's recursion limit)."""
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
            if type(edge) is Edge and edge[0] not in seen:
                stack.append(edge[0])
    return order


def _count_dependencies(order, needed):
    """Step 3: per node, how many needed nodes send it a gradient; a node runs once all of
    them have (then its gradient is complete)."""
    deps = {}
    for fn in order:
        if fn not in needed:
            continue
        for edge in fn.next_edges:
            if type(edge) is Edge and edge[0] in needed:
                deps[edge[0]] = deps.get(edge[0], 0) + 1
    return deps


def _run_output_hooks(fn, grads, raw):
    """The hooks registered on ``fn``'s outputs (``register_hook``, ``retain_grad``), which
    see and may replace each output's complete gradient."""
    for i, hooks in fn._hooks.items():
        g = const(grads[i]) if raw else grads[i]
        for hook in list(hooks):
            result = hook(g)
            if result is not None:
                g = result
        grads[i] = g.data if raw else g


def _propagate(root_nodes, buffers, leaves, deps, needed, request, raw, retain_graph,
               create_graph):
    """Step 4: run each node's backward once its gradient is complete, and send the
    gradients it returns along its edges: to the nodes' buffers, or to the leaves."""
    # The hottest loop of a training step: local names, and the rare cases in helpers.
    tracer = _state.tracer
    capture = request is not None and request.node_slot
    ready = [fn for fn in root_nodes if fn in needed and fn not in deps]
    while ready:
        fn = ready.pop()
        grads = buffers.pop(fn)
        for i, g in enumerate(grads):
            if g is None:  # an output that did not reach the roots
                like = next(a for a in grads if a is not None)
                grads[i] = _zeros(fn.output_meta[i], raw, like if raw else like.data)
        if fn._hooks:
            _run_output_hooks(fn, grads, raw)
        if capture:
            request.capture_outputs(fn, grads, raw)
        if fn._freed:
            raise RuntimeError(_FREED_MESSAGE.format(name=fn.name()))
        if tracer is not None:
            in_grads = tracer.backward(fn, grads)  # records it as one step
        elif not raw:
            in_grads = fn.backward(*grads)
        elif fn.backward_arrays is not None:
            in_grads = fn.backward_arrays(*grads)
        else:
            in_grads = fn.backward(*[const(g) for g in grads])
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
                    _check_grad(fn, const(g), meta)  # raises, naming the shapes
                if g.dtype != meta[1]:
                    g = g.astype(meta[1])
            else:
                g = _check_grad(fn, g, meta)
            if type(edge) is LeafEdge:
                _add_to_leaf(leaves, edge[0], g, request, raw and fn.fresh_grads)
                continue
            target, nr = edge
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


def _deliver_to_leaves(leaves, request, raw, create_graph):
    """Step 5: each leaf's complete gradient, through its hooks, into its ``.grad`` (or
    into the result of ``grad()``)."""
    for pending in leaves.values():
        t, g, fresh = pending.leaf, pending.grad, pending.fresh
        if raw:
            _deliver_array_to_leaf(t, g, fresh, request)
            continue
        if create_graph and not g._requires_grad:
            g, fresh = ZeroDerivative.apply(g, t), False
        _deliver_to_leaf(t, g, fresh, request, create_graph)


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
            None if edge is None else _zeros(meta, False, grad.data)
            for edge, meta in zip(self.next_edges[1:], self.input_meta[1:])
        )
        return (grad,) + zeros


def _edge_tensor(edge, meta, like):
    """A stand-in Tensor for a node's input, from the edge alone (its values are not needed)."""
    if type(edge) is LeafEdge:
        return edge.leaf
    shape, dtype = meta
    xp = get_array_module(like)
    return Tensor._make(xp.broadcast_to(xp.zeros((), dtype=dtype), shape), True, edge.fn,
                        edge.output_nr)


def _depend_on_inputs(fn, in_grads):
    like = next((g.data for g in in_grads if g is not None), None)
    sources = [_edge_tensor(e, m, like) for e, m in zip(fn.next_edges, fn.input_meta)
               if e is not None]
    if not sources:
        return in_grads
    return tuple(g if g is None else ZeroDerivative.apply(g, *sources) for g in in_grads)


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


def _run_leaf_hooks(t, g, fresh):
    for hook in list(t._hooks):
        result = hook(g)
        if result is not None:
            g, fresh = result, False
    return g, fresh


def _deliver_to_leaf(t, g, fresh, request, create_graph):
    if t._hooks:
        g, fresh = _run_leaf_hooks(t, g, fresh)
    if _state.tracer is not None and request is None:
        _state.tracer.deliver(t, g, create_graph)
    if request is not None:
        request.set_leaf(t, g)
        return
    if create_graph:
        # A clone (differentiable): the same gradient tensor may reach several leaves (a + b),
        # and zeroing one leaf's .grad in place must not zero the other's.
        t.grad = (g if fresh else g.clone()) if t.grad is None else t.grad + g
    elif t.grad is None:
        # Copy unless the sum is new: the same gradient array may reach several leaves.
        t.grad = const(g.data if fresh else g.data.copy())
    else:
        total = t.grad.data + g.data
        t.grad = const(xp.asarray(total) if isinstance(total, generic) else total)


def _deliver_array_to_leaf(t, g, fresh, request):
    """``_deliver_to_leaf`` for a gradient that is a raw array (no create_graph)."""
    if isinstance(g, generic):  # a sum of 0-d arrays
        g = xp.asarray(g)
    if t._hooks:
        gt, fresh = _run_leaf_hooks(t, const(g), fresh)
        g = gt.data
    if request is not None:
        request.set_leaf(t, const(g))
        return
    if t.grad is None:
        # Copy unless the sum is new: the same gradient array may reach several leaves.
        t.grad = const(g if fresh else g.copy())
    else:
        total = t.grad.data + g
        t.grad = const(xp.asarray(total) if isinstance(total, generic) else total)


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
            g = const(get_array_module(out.data).ones_like(out.data))
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
                t.grad = g if _state.enabled else const(g.data.copy())
            else:
                t.grad = t.grad + g
        return None


# The engine makes and inspects Tensors; tensor.py imports this module first.
from bricks.tensor import Tensor, const, tensor_from  # noqa: E402
