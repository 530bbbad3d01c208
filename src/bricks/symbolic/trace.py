"""Recording eager bricks code into a :class:`~bricks.symbolic.graph.Graph`.

While a :class:`Tracer` is installed (``with tracing(tracer):``), the autograd engine tells
it about every ``Function.apply`` (the op, its options, its input and output arrays, the
arrays it saved for backward), every backward of a node (recorded as one step), every leaf
that receives a ``.grad``, every optimizer ``step``/``zero_grad`` and module call, and every
Python read of a tensor's values (``item()``, ``bool()``, ...).  Arrays are identified by
identity, so a value is known by the op that produced it; any other array an op reads is an
*external*: a state tensor (a parameter, or a buffer that is the same tensor object on the
next call) or a constant.  What cannot be replayed sets ``tracer.failure`` to a reason and
the line of user code it came from.
"""

from __future__ import annotations

import os
import sys

from bricks import autograd, backend
from bricks.backend import get_array_module, is_array
from bricks.symbolic.graph import Graph, Node
from bricks.tensor import Tensor

__all__ = ["Tracer", "tracing", "TraceError"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TraceError(RuntimeError):
    """The function cannot be compiled: the reason and the line of code it came from."""


def user_line() -> str:
    """``file:line`` of the innermost frame outside the bricks package."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not os.path.abspath(name).startswith(_PACKAGE):
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return "<bricks>"


class tracing:
    """Install ``tracer`` for this thread while the block runs."""

    def __init__(self, tracer):
        self.tracer = tracer

    def __enter__(self):
        self._prev = autograd._state.tracer
        autograd._state.tracer = self.tracer
        return self.tracer

    def __exit__(self, *exc):
        autograd._state.tracer = self._prev
        return False


class Tracer:
    """Builds a Graph from the calls the engine reports (see the module docstring).

    Args:
        externals: "split" (default): tensors not made inside are state when they are
            leaves that require grad and undecided externals otherwise (decided by comparing
            two traces); "const": state when they require grad, constants otherwise.
    """

    def __init__(self, externals="split"):
        self.graph = Graph()
        self.by_array = {}
        self.keep = []  # every array seen stays alive, so that ids stay unique
        self.nodes_of = {}  # id(Function instance) -> its call node
        self.failure = None
        self.modules = []
        self._module_ids = set()
        self.externals = externals
        self.draws_random = False
        self.opaque = 0

    # ------------------------------------------------------------ values
    def add_input(self, name, t: Tensor) -> int:
        vid = self.graph.new_value(t.data.shape, t.data.dtype, "input", None, name)
        self.graph.inputs[name] = vid
        self._bind(t.data, vid)
        return vid

    def _bind(self, array, vid):
        self.by_array[id(array)] = vid
        self.keep.append(array)

    def value_of(self, t) -> int:
        a = t.data if isinstance(t, Tensor) else t
        vid = self.by_array.get(id(a))
        if vid is not None:
            return vid
        base = a.base
        if (base is not None and id(base) in self.by_array and a.size == base.size
                and a.flags.c_contiguous and base.flags.c_contiguous
                and backend.data_pointer(a) == backend.data_pointer(base)):
            # A reshaped view of a known array (``index[:, None]``): recorded as a reshape.
            vid = self._new_output(a)
            self.graph.nodes.append(Node("reshape", [self.by_array[id(base)]], [vid],
                                         dict(shape=tuple(a.shape)), user_line()))
            return vid
        if isinstance(t, Tensor) and t._requires_grad and t.grad_fn is None:
            kind, payload = "state", t
        elif isinstance(t, Tensor) and t.grad_fn is not None:
            self.fail("uses a tensor computed before the compiled function was called "
                      "(its graph reaches outside the function)")
            kind, payload = "const", a
        elif self.externals == "const" or not isinstance(t, Tensor):
            kind, payload = "const", a
        else:
            kind, payload = "external", (t, a.copy(), a)
        vid = self.graph.new_value(a.shape, a.dtype, kind, payload)
        self._bind(a, vid)
        return vid

    def _new_output(self, array) -> int:
        vid = self.graph.new_value(array.shape, array.dtype, "node")
        self._bind(array, vid)
        return vid

    # ------------------------------------------------------------ what the engine reports
    def fail(self, reason):
        if self.failure is None:
            self.failure = (reason, user_line())

    def escape(self, what):
        if self.opaque:
            return  # inside a Function's backward: replayed by calling it again
        self.fail(f"{what} reads a tensor's values into Python, so what follows depends on "
                  f"the data")

    def inplace(self, t, op):
        """An in-place op (``add_``, ``x[i] = v``, ``w -= ...``) on a tensor of the graph."""
        if self.opaque or self.failure is not None:
            return
        if id(t.data) in self.by_array or (t._requires_grad and t.grad_fn is None):
            self.fail(f"changes a tensor in place ({op}); a compiled function must leave "
                      f"updates to the optimizer (or compute new tensors)")

    def module(self, m):
        if id(m) not in self._module_ids:
            self._module_ids.add(id(m))
            self.modules.append(m)

    def record(self, fn, inputs, options, outputs):
        if self.failure is not None or self.opaque:
            return
        ins = [self.value_of(t) for t in inputs]
        static, refs = {}, []
        for key, v in options.items():
            if is_array(v):
                refs.append(key)
                ins.append(self.value_of(v))
            else:
                static[key] = v
        outs = [self._new_output(t.data) for t in outputs]
        saved = []
        if fn._record and fn._saved is not None:
            for i, entry in enumerate(fn._saved):
                if is_array(entry) and id(entry) not in self.by_array:
                    saved.append((i, self._new_output(entry)))
        cls = type(fn)
        if getattr(cls, "draws_random", False):
            self.draws_random = True
        needs = (tuple(e is not None for e in fn.next_edges) if fn._record
                 else (False,) * len(inputs))
        node = Node("call", ins, outs + [v for _, v in saved], dict(
            cls=cls, options=static, refs=refs, n_in=len(inputs), n_out=len(outputs),
            saved=[i for i, _ in saved], needs=needs,
            input_meta=getattr(fn, "input_meta", None),
            output_meta=getattr(fn, "output_meta", None)), user_line())
        self.graph.nodes.append(node)
        self.nodes_of[id(fn)] = node
        self.keep.append(fn)

    def backward(self, fn, grads):
        self.opaque += 1  # the ops inside one backward are replayed as that one step
        try:
            result = fn.backward(*grads)
        finally:
            self.opaque -= 1
        if self.failure is not None:
            return result
        if fn._hooks:
            self.fail("a tensor hook (register_hook, retain_grad) runs in backward")
            return result
        fwd = self.nodes_of.get(id(fn))
        if fwd is None:
            self.fail("backward reaches a graph built before the compiled function was called")
            return result
        single = type(result) is not tuple
        ins = [self.value_of(g) for g in grads]
        outs = []
        for g in ((result,) if single else result):
            outs.append(None if g is None else self._new_output(g.data))
        fwd.attrs["keep"] = True  # its backward calls the instance again
        self.graph.nodes.append(Node("call_bwd", ins, outs, dict(
            cls=type(fn), fwd=fwd, single=single), user_line()))
        return result

    def deliver(self, leaf, g, create_graph):
        if self.failure is not None:
            return
        if create_graph:
            self.fail("backward(create_graph=True) inside a compiled function")
            return
        vid = self.by_array.get(id(leaf.data))
        if vid is not None and self.graph.values[vid].kind == "input":
            target = ("input", self.graph.values[vid].name)
        else:
            self.value_of(leaf)
            target = ("state", leaf)
        self.graph.nodes.append(Node("deliver", [self.value_of(g)], [],
                                     dict(target=target), user_line()))

    def _array_args(self, args):
        """Graph values of the arrays among ``args``, and ``args`` with each array replaced
        by ("v", its position among those values) and anything else by ("c", value)."""
        ins, template = [], []
        for a in args:
            if is_array(a):
                template.append(("v", len(ins)))
                ins.append(self.value_of(a))
            else:
                template.append(("c", a))
        return ins, tuple(template)

    def array_op(self, fn, args, out):
        if self.failure is not None or self.opaque:
            return
        if not is_array(out):
            self.fail(f"{getattr(fn, '__name__', fn)} computes a {type(out).__name__}, not an "
                      f"array, from the data")
            return
        ins, template = self._array_args(args)
        self.graph.nodes.append(Node("array_op", ins, [self._new_output(out)],
                                     dict(fn=fn, args=template), user_line()))

    def decide(self, fn, args, result):
        if self.failure is not None or self.opaque:
            return
        ins, template = self._array_args(args)
        # The plan checks its guards before it does anything, so they may read the inputs,
        # constants, and what steps without effects compute from them; not parameters or
        # buffers (an optimizer step changes them), nor random draws or gradients.
        producer = {o: n for n in self.graph.nodes for o in n.outs}
        todo = list(ins)
        while todo:
            v = todo.pop()
            kind = self.graph.values[v].kind
            if kind in ("input", "const", "external"):
                continue
            node = producer.get(v)
            if (kind != "node" or node is None or node.effect
                    or node.op not in ("call", "array_op", "reshape")):
                self.fail(f"decides in Python ({getattr(fn, '__name__', fn)}) on a value "
                          f"that depends on more than the function's inputs")
                return
            todo.extend(node.ins)
        self.graph.nodes.append(Node("guard", ins, [], dict(fn=fn, args=template,
                                                            expect=result), user_line()))

    def event(self, fn, args, closure=None):
        if self.failure is not None:
            return
        if closure is not None:
            self.fail(f"{type(fn.__self__).__name__}.step(closure) inside a compiled function")
            return
        self.graph.nodes.append(Node("event", [], [], dict(fn=fn, args=args), user_line()))

    # ------------------------------------------------------------ the result
    def set_outputs(self, x):
        """Map the traced function's return value to graph values; returns its structure."""
        # A method, not a recursive closure: that would be a reference cycle holding the
        # tracer, and every array it saw, until the garbage collector's next run.
        if isinstance(x, Tensor):
            self.graph.outputs.append(self.value_of(x))
            return ("t", len(self.graph.outputs) - 1)
        if isinstance(x, (tuple, list)):
            return (type(x), [self.set_outputs(i) for i in x])
        if isinstance(x, dict):
            return (dict, [(k, self.set_outputs(v)) for k, v in x.items()])
        if x is None or isinstance(x, (bool, int, float, str)):
            return ("c", x)
        self.fail(f"returns a {type(x).__name__}; a compiled function returns tensors, "
                  f"numbers, None, or tuples, lists and dicts of them")
        return ("c", None)


def rng_state():
    return backend.default_generator().bit_generator.state


def set_rng_state(state):
    backend.default_generator().bit_generator.state = state


def same_array(a, b) -> bool:
    return (a.shape == b.shape and a.dtype == b.dtype
            and type(a) is type(b)
            and bool(get_array_module(a).array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
