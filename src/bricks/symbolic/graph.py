"""The graph that ``bricks.symbolic`` compiles: values, nodes, and how it prints.

A :class:`Graph` is a list of :class:`Node` in execution order over numbered
:class:`Value` s.  A value is an input (a keyword argument of the compiled function), a
state tensor read when the plan runs (a parameter, a batch-norm buffer), a constant, or the
output of a node.  Nodes are either ``call`` (the forward of any bricks ``Function``),
``call_bwd`` (its backward), primitive NumPy kernels the optimizer lowered them to
(``matmul``, ``add``, ``relu_grad``, ``ce_grad``, ...), ``array_op`` (an index or mask
computed with NumPy outside the ops, ``autograd.array_op``), ``guard`` (a decision on the
inputs' values, ``autograd.decide``, checked before the plan runs), ``deliver`` (a leaf
receives its ``.grad``) or ``event`` (an optimizer's ``step``/``zero_grad``, replayed as
is).
"""

from __future__ import annotations

__all__ = ["Value", "Node", "Graph"]


class Value:
    """One array of the graph: ``kind`` is input, state, const or node."""

    __slots__ = ("vid", "shape", "dtype", "kind", "payload", "name")

    def __init__(self, vid, shape, dtype, kind, payload=None, name=None):
        self.vid, self.shape, self.dtype = vid, tuple(shape), dtype
        self.kind, self.payload, self.name = kind, payload, name

    def label(self) -> str:
        return self.name or f"%{self.vid}"


class Node:
    """One step: ``op`` applied to values ``ins`` giving ``outs`` (None: not needed)."""

    __slots__ = ("op", "ins", "outs", "attrs", "where")

    def __init__(self, op, ins, outs, attrs=None, where=None):
        self.op, self.ins, self.outs = op, list(ins), list(outs)
        self.attrs = attrs if attrs is not None else {}
        self.where = where

    @property
    def effect(self) -> bool:
        """Has an effect beyond its outputs (kept even when nothing reads them)."""
        if self.op in ("deliver", "event", "guard"):
            return True
        cls = self.attrs.get("cls")
        return cls is not None and (getattr(cls, "draws_random", False)
                                    or getattr(cls, "mutates_inputs", False))

    def title(self) -> str:
        if self.op in ("call", "call_bwd"):
            name = self.attrs["cls"].__name__
            return name if self.op == "call" else name + "Backward"
        if self.op == "event":
            fn = self.attrs["fn"]
            return f"{type(fn.__self__).__name__}.{fn.__name__}"
        if self.op in ("array_op", "guard"):
            return f"{self.op}[{getattr(self.attrs['fn'], '__name__', '?')}]"
        if self.op == "fused":
            return "fused[" + ",".join(step[0] for step in self.attrs["steps"]) + "]"
        return self.op


class Graph:
    """Values and nodes; ``inputs`` maps names to values, ``outputs`` lists returned values."""

    def __init__(self):
        self.values: list[Value] = []
        self.nodes: list[Node] = []
        self.inputs: dict[str, int] = {}
        self.outputs: list[int] = []

    def new_value(self, shape, dtype, kind, payload=None, name=None) -> int:
        vid = len(self.values)
        self.values.append(Value(vid, shape, dtype, kind, payload, name))
        return vid

    def copy(self) -> Graph:
        """A copy that later passes on this graph leave unchanged."""
        out = Graph()
        out.values = [Value(v.vid, v.shape, v.dtype, v.kind, v.payload, v.name)
                      for v in self.values]
        out.nodes = [Node(n.op, list(n.ins), list(n.outs), dict(n.attrs), n.where)
                     for n in self.nodes]
        out.inputs = dict(self.inputs)
        out.outputs = list(self.outputs)
        return out

    def uses(self) -> dict:
        """vid -> number of nodes (and outputs) reading it."""
        count = {}
        for node in self.nodes:
            for v in node.ins:
                if v is not None:
                    count[v] = count.get(v, 0) + 1
        for v in self.outputs:
            count[v] = count.get(v, 0) + 1
        return count

    def count(self, op: str) -> int:
        """How many nodes run ``op`` (a primitive's name, or a Function class's name)."""
        return sum(1 for n in self.nodes if n.op == op or n.title() == op)

    def _name(self, vid) -> str:
        if vid is None:
            return "_"
        v = self.values[vid]
        if v.kind == "const" and v.payload is not None and v.payload.size == 1:
            return repr(v.payload.reshape(()).item())
        return v.label()

    def __str__(self) -> str:
        lines = []
        for name, vid in self.inputs.items():
            v = self.values[vid]
            lines.append(f"input {name}: {_shape_text(v)}")
        state = [v for v in self.values if v.kind == "state"]
        if state:
            lines.append(f"state: {len(state)} tensors read when the plan runs (parameters, "
                         f"buffers)")
        for node in self.nodes:
            outs = ", ".join(self._name(o) + (": " + _shape_text(self.values[o]) if o is not None
                                              else "") for o in node.outs)
            ins = ", ".join(self._name(i) for i in node.ins)
            lhs = f"{outs} = " if node.outs else ""
            lines.append(f"  {lhs}{node.title()}({ins})")
        lines.append("return " + ", ".join(self._name(o) for o in self.outputs))
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self) -> str:
        """Graphviz DOT text: inputs (blue), state and constants (white), steps (grey),
        outputs (green); what ``bricks.viz.to_dot(f.graph)`` returns."""
        lines = ["digraph compiled {", '    graph [rankdir=TB, fontname="Helvetica"];',
                 '    node [shape=box, fontname="Helvetica", fontsize=11];']
        made = {}

        def source(vid):
            if vid in made:
                return made[vid]
            v = self.values[vid]
            nid = f"v{vid}"
            style = ('style=filled, fillcolor="lightblue"' if v.kind == "input"
                     else 'style=dashed')
            lines.append(f'    {nid} [label="{self._name(vid)}\\n{_shape_text(v)}", '
                         f'{style}];')
            made[vid] = nid
            return nid

        for k, node in enumerate(self.nodes):
            shapes = ", ".join(_shape_text(self.values[o]) for o in node.outs if o is not None)
            nid = f"n{k}"
            lines.append(f'    {nid} [label="{node.title()}\\n{shapes}", '
                         f'style="filled,rounded", fillcolor="lightgrey"];')
            for i in node.ins:
                if i is not None:
                    lines.append(f"    {source(i)} -> {nid};")
            for o in node.outs:
                if o is not None:
                    made[o] = nid
        for j, o in enumerate(self.outputs):
            lines.append(f'    out{j} [label="output {j}\\n{_shape_text(self.values[o])}", '
                         f'style=filled, fillcolor="darkolivegreen1"];')
            lines.append(f"    {source(o)} -> out{j};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _shape_text(v: Value) -> str:
    return f"{v.dtype}{list(v.shape)}"
