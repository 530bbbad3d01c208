"""From a traced graph to a plan: lowering, optimization passes and code generation.

Passes, in order (each one is a function of the graph, and tests count what it did):

* :func:`hoist_guards`: the checks of the data (``guard``) and what they read run first.
* :func:`lower`: forward and backward steps of the common Functions become NumPy kernels
  (``matmul``, ``add``, ``relu_grad``, ...) that compute exactly what the Function does, in
  the same order, so results stay bit-identical; the rest stays a ``call``.
* :func:`fold_constants`: a pure step whose inputs are all constants runs once, now.
* :func:`eliminate_common`: two pure steps with the same op, settings and inputs run once.
* :func:`eliminate_dead`: steps whose results nobody reads are dropped (random draws,
  gradient deliveries and optimizer steps are kept: they have effects).
* :func:`fuse`: ``matmul`` followed by a bias ``add`` becomes one ``linear`` kernel, and a
  chain of elementwise kernels becomes one ``fused`` step that works in one buffer.
* :func:`generate`: Python source for the whole step, every kernel writing with ``out=`` into
  buffers allocated once and reused when their value is dead (liveness analysis); running
  it creates no Tensor or graph objects except in steps that call a Function.
"""

from __future__ import annotations

from bricks import autograd, backend
from bricks.backend import get_array_module, xp
from bricks.functions import arithmetic, elementwise, linalg, reduction, shape
from bricks.functions import loss as _loss
from bricks.optim.adam import Adam
from bricks.optim.optimizer import Optimizer
from bricks.optim.sgd import SGD
from bricks.symbolic.graph import Graph, Node
from bricks.tensor import Tensor, const

__all__ = ["optimize", "lower", "fold_constants", "eliminate_common", "eliminate_dead", "fuse",
           "hoist_guards", "generate", "Plan", "StalePlan"]


class StalePlan(Exception):
    """Raised by a plan's guard: this call's data takes another branch than the traced one
    (the caller then runs the function eagerly; the plan has done nothing yet)."""

# Kernels whose output element i depends only on the inputs' element i (after broadcasting).
ELEMENTWISE = {"add", "sub", "mul", "div", "neg", "relu", "tanh", "exp"}
VIEWS = {"transpose", "reshape", "broadcast_to", "basic_index"}
# Kernels that write into a buffer given to them (out=).
_BUFFERED = ELEMENTWISE | {"fused", "matmul", "linear", "sum_to", "tanh_grad", "ce_grad",
                           "relu_grad"}
_BINARY = {arithmetic.Add: "add", arithmetic.Sub: "sub", arithmetic.Mul: "mul",
           arithmetic.Div: "div"}
_UNARY = {arithmetic.Neg: "neg", elementwise.Relu: "relu", elementwise.Tanh: "tanh",
          elementwise.Exp: "exp"}


def optimize(graph: Graph) -> Graph:
    """All passes, in order; returns the same (changed) graph."""
    hoist_guards(graph)
    lower(graph)
    fold_constants(graph)
    eliminate_common(graph)
    eliminate_dead(graph)
    fuse(graph)
    return graph


# ---------------------------------------------------------------- lowering


def _float_same(graph, vids):
    dts = {graph.values[v].dtype for v in vids if v is not None}
    return len(dts) == 1 and next(iter(dts)).kind == "f"


def _matmul_shape(sa, sb):
    batch = xp.broadcast_shapes(sa[:-2], sb[:-2])
    return tuple(batch) + (sa[-2], sb[-1])


class _Builder:
    """Appends kernels for one lowered step, creating the values in between."""

    def __init__(self, graph, where):
        self.graph, self.where, self.nodes, self.rename = graph, where, [], {}

    def shape(self, v):
        return self.graph.values[v].shape

    def op(self, op, ins, shape_, attrs=None, out=None):
        if out is None:
            out = self.graph.new_value(shape_, self.graph.values[ins[0]].dtype, "node")
        self.nodes.append(Node(op, ins, [out], attrs or {}, self.where))
        return out

    def sum_to(self, v, target, out=None):
        s = self.shape(v)
        target = tuple(target)
        if s == target:
            if out is not None:
                self.rename[out] = v
            return v
        lead = len(s) - len(target)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(target) if n == 1 and s[lead + i] != 1)
        return self.op("sum_to", [v], target, dict(axes=axes, lead=lead), out)

    def same(self, out, v):
        if out is not None:
            self.rename[out] = v


def _lower_backward(graph, node):
    """Kernels for one Function's backward, or None to keep calling it."""
    fwd = node.attrs["fwd"]
    cls = fwd.attrs["cls"]
    if fwd.op != "call" or fwd.attrs["refs"] and cls is not _loss.CrossEntropy:
        return None
    n_in = fwd.attrs["n_in"]
    xin, youts = fwd.ins[:n_in], fwd.outs[:fwd.attrs["n_out"]]
    (g,) = node.ins if len(node.ins) == 1 else (None,)
    if g is None or not _float_same(graph, list(xin) + [g]):
        return None
    b = _Builder(graph, node.where)
    outs = node.outs
    if cls in _BINARY:
        a_, b_ = xin
        sa, sb = graph.values[a_].shape, graph.values[b_].shape
        full = xp.broadcast_shapes(sa, sb)
        kind = _BINARY[cls]
        if kind in ("add", "sub"):
            if outs[0] is not None:
                b.sum_to(g, sa, outs[0])
            if outs[1] is not None:
                ng = b.op("neg", [g], graph.values[g].shape) if kind == "sub" else g
                b.sum_to(ng, sb, outs[1])
        elif kind == "mul":
            if outs[0] is not None:
                b.sum_to(b.op("mul", [g, b_], full), sa, outs[0])
            if outs[1] is not None:
                b.sum_to(b.op("mul", [g, a_], full), sb, outs[1])
        else:
            if outs[0] is not None:
                b.sum_to(b.op("div", [g, b_], full), sa, outs[0])
            if outs[1] is not None:
                t = b.op("mul", [b.op("neg", [g], graph.values[g].shape), a_], full)
                bb = b.op("mul", [b_, b_], sb)
                b.sum_to(b.op("div", [t, bb], full), sb, outs[1])
    elif cls is arithmetic.Neg:
        b.op("neg", [g], graph.values[g].shape, out=outs[0])
    elif cls is linalg.MatMul:
        a_, b_ = xin
        sa, sb = graph.values[a_].shape, graph.values[b_].shape
        if len(sa) < 2 or len(sb) < 2:
            return None
        if outs[0] is not None:
            bt = b.op("transpose", [b_], sb[:-2] + (sb[-1], sb[-2]),
                      dict(dims=tuple(range(len(sb) - 2)) + (len(sb) - 1, len(sb) - 2)))
            b.sum_to(b.op("matmul", [g, bt], _matmul_shape(graph.values[g].shape,
                                                             graph.values[bt].shape)),
                     sa, outs[0])
        if outs[1] is not None:
            at = b.op("transpose", [a_], sa[:-2] + (sa[-1], sa[-2]),
                      dict(dims=tuple(range(len(sa) - 2)) + (len(sa) - 1, len(sa) - 2)))
            b.sum_to(b.op("matmul", [at, g], _matmul_shape(graph.values[at].shape,
                                                             graph.values[g].shape)),
                     sb, outs[1])
    elif cls is shape.Permute:
        dims = fwd.attrs["options"]["dims"]
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        b.op("transpose", [g], graph.values[xin[0]].shape, dict(dims=tuple(inverse)),
             out=outs[0])
    elif cls is shape.Reshape:
        s = graph.values[xin[0]].shape
        b.op("reshape", [g], s, dict(shape=s), out=outs[0])
    elif cls is arithmetic.BroadcastTo:
        b.sum_to(g, graph.values[xin[0]].shape, outs[0])
    elif cls is arithmetic.SumTo:
        s = graph.values[xin[0]].shape
        b.op("broadcast_to", [g], s, dict(shape=s), out=outs[0])
    elif cls is reduction.Sum:
        s = graph.values[xin[0]].shape
        axes = fwd.attrs["options"]["axes"]
        axes = tuple(range(len(s))) if axes is None else tuple(axes)
        kept = tuple(1 if i in axes else n for i, n in enumerate(s))
        r = g if graph.values[g].shape == kept else b.op("reshape", [g], kept,
                                                         dict(shape=kept))
        b.op("broadcast_to", [r], s, dict(shape=s), out=outs[0])
    elif cls is elementwise.Relu:
        b.op("relu_grad", [g, youts[0]], graph.values[g].shape, out=outs[0])
    elif cls is elementwise.Tanh:
        b.op("tanh_grad", [g, youts[0]], graph.values[g].shape, out=outs[0])
    elif cls is elementwise.Sigmoid:
        b.op("sigmoid_grad", [g, youts[0]], graph.values[g].shape, out=outs[0])
    elif cls is arithmetic.PowScalar:
        b.op("pow_scalar_grad", [g, xin[0]], graph.values[g].shape,
             dict(exponent=fwd.attrs["options"]["exponent"]), out=outs[0])
    elif cls is shape.BasicIndex:
        s = graph.values[xin[0]].shape
        b.op("index_grad", [g], s, dict(key=fwd.attrs["options"]["key"], shape=s),
             out=outs[0])
    elif cls is _loss.BCEWithLogits:
        if fwd.attrs["options"].get("pos_weight") is not None or outs[1] is not None:
            return None
        b.op("bce_logits_grad", [g] + list(xin), graph.values[g].shape, out=outs[0])
    elif cls is elementwise.Exp:
        b.op("mul", [g, youts[0]], graph.values[g].shape, out=outs[0])
    elif cls is _loss.CrossEntropy:
        o = fwd.attrs["options"]
        if (o.get("weight") is not None or o.get("smoothing") or fwd.attrs["refs"] != ["index"]
                or o.get("active") is not None or o.get("reduction") not in ("mean", "sum")
                or not o.get("denom") or fwd.attrs["saved"] != [1] or len(outs) != 1
                or len(graph.values[xin[0]].shape) != 2):
            return None
        logp = fwd.outs[fwd.attrs["n_out"]]
        index = fwd.ins[n_in]
        denom = o["denom"] if o["reduction"] == "mean" else None
        b.op("ce_grad", [g, logp, index], graph.values[logp].shape, dict(denom=denom),
             out=outs[0])
    else:
        return None
    return b


def _lower_cross_entropy(graph, node):
    o = node.attrs["options"]
    if (o.get("weight") is not None or o.get("smoothing") or node.attrs["refs"] != ["index"]
            or o.get("active") is not None or o.get("reduction") not in ("mean", "sum")
            or not o.get("denom") or node.attrs["saved"] not in ([], [1])
            or len(graph.values[node.ins[0]].shape) != 2):
        return None
    outs = list(node.outs) + ([None] if not node.attrs["saved"] else [])
    denom = o["denom"] if o["reduction"] == "mean" else None
    return Node("ce_loss", node.ins[:2], outs, dict(denom=denom), node.where)


def _lower_forward(graph, node):
    cls = node.attrs["cls"]
    n_in = node.attrs["n_in"]
    if cls is _loss.CrossEntropy and not node.attrs.get("keep"):
        return _lower_cross_entropy(graph, node)
    if node.attrs["refs"] or node.attrs["saved"] or node.attrs["n_out"] != 1:
        return None
    ins, out = node.ins[:n_in], node.outs[0]
    if not _float_same(graph, ins):
        return None
    opts = node.attrs["options"]
    if cls in _BINARY:
        return Node(_BINARY[cls], ins, [out], {}, node.where)
    if cls in _UNARY:
        return Node(_UNARY[cls], ins, [out], {}, node.where)
    if cls is elementwise.Sigmoid:
        return Node("sigmoid", ins, [out], {}, node.where)
    if cls is arithmetic.PowScalar:
        return Node("pow_scalar", ins, [out], dict(exponent=opts["exponent"]), node.where)
    if cls is shape.BasicIndex:
        return Node("basic_index", ins, [out], dict(key=opts["key"]), node.where)
    if cls is _loss.BCEWithLogits and opts.get("pos_weight") is None:
        return Node("bce_logits", ins, [out], {}, node.where)
    if cls is linalg.MatMul:
        if any(len(graph.values[v].shape) < 2 for v in ins):
            return None
        return Node("matmul", ins, [out], {}, node.where)
    if cls is reduction.Sum:
        return Node("sum", ins, [out], dict(axes=opts["axes"], keepdim=opts["keepdim"]),
                    node.where)
    if cls is shape.Permute:
        return Node("transpose", ins, [out], dict(dims=tuple(opts["dims"])), node.where)
    if cls is shape.Reshape:
        return Node("reshape", ins, [out], dict(shape=tuple(graph.values[out].shape)),
                    node.where)
    if cls is arithmetic.BroadcastTo:
        return Node("broadcast_to", ins, [out], dict(shape=tuple(opts["shape"])), node.where)
    if cls is arithmetic.SumTo:
        b = _Builder(graph, node.where)
        b.sum_to(ins[0], opts["shape"], out)
        return b.nodes[0] if b.nodes else None
    return None


def lower(graph: Graph) -> Graph:
    """Replace the steps of common Functions by NumPy kernels (see the module docstring)."""
    nodes, rename = [], {}
    for node in graph.nodes:
        if node.op == "call":
            node.attrs["keep"] = False
    for node in graph.nodes:
        if node.op == "call_bwd":
            b = _lower_backward(graph, node)
            if b is None:
                node.attrs["fwd"].attrs["keep"] = True
                nodes.append(node)
            else:
                nodes.extend(b.nodes)
                rename.update(b.rename)
        else:
            nodes.append(node)
    out = []
    for node in nodes:
        if node.op == "call" and not node.attrs.get("keep"):
            low = _lower_forward(graph, node)
            if low is not None:
                node = low
        out.append(node)
    graph.nodes = out
    _apply_renames(graph, rename)
    _fold_transposes(graph)
    return graph


def _fold_transposes(graph):
    """A transpose of a transpose that gives back the original axes is the original (the
    backward of ``x @ W.T`` transposes ``W.T`` again): its readers read the original."""
    producer = {n.outs[0]: n for n in graph.nodes if n.op == "transpose"}
    rename = {}
    for node in graph.nodes:
        inner = producer.get(node.ins[0]) if node.op == "transpose" else None
        if inner is not None:
            d1, d2 = inner.attrs["dims"], node.attrs["dims"]
            if all(d1[d2[i]] == i for i in range(len(d2))):
                rename[node.outs[0]] = inner.ins[0]
    _apply_renames(graph, rename)


def _apply_renames(graph, rename):
    if not rename:
        return

    def final(v):
        while v in rename and rename[v] != v:
            v = rename[v]
        return v

    for node in graph.nodes:
        node.ins = [None if v is None else final(v) for v in node.ins]
    graph.outputs = [final(v) for v in graph.outputs]


# ---------------------------------------------------------------- passes


def _pure(node) -> bool:
    if node.effect or node.op in ("call_bwd",):
        return False
    return not (node.op == "call" and node.attrs.get("keep"))


def fold_constants(graph: Graph) -> Graph:
    """Run now every pure step whose inputs are all constants; its outputs become constants."""
    kept = []
    for node in graph.nodes:
        if (_pure(node) and node.ins
                and all(v is not None and graph.values[v].kind == "const" for v in node.ins)):
            arrays = run_nodes(graph, [node], {v: graph.values[v].payload for v in node.ins})
            for v in node.outs:
                if v is not None:
                    value = graph.values[v]
                    a = arrays[v]
                    value.kind, value.payload = "const", get_array_module(a).array(a)  # own
            graph.folded = getattr(graph, "folded", 0) + 1
            continue
        kept.append(node)
    graph.nodes = kept
    return graph


def _freeze(x):
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return x


def eliminate_common(graph: Graph) -> Graph:
    """Merge pure steps with the same op, settings and inputs (common subexpressions)."""
    seen, rename, kept = {}, {}, []

    def canonical(v):
        value = graph.values[v] if v is not None else None
        if value is not None and value.kind == "const" and value.payload.size <= 16:
            return ("const", value.payload.dtype.str, value.payload.shape,
                    value.payload.tobytes())
        return v

    for node in graph.nodes:
        node.ins = [rename.get(v, v) for v in node.ins]
        if node.op == "event":
            seen.clear()  # an optimizer step changes the state that later steps read
        if _pure(node) and node.outs:
            attrs = {k: v for k, v in node.attrs.items()
                     if k not in ("input_meta", "output_meta", "needs")}
            key = (node.op, _freeze(attrs), tuple(canonical(v) for v in node.ins))
            other = seen.get(key)
            if other is not None and len(other.outs) == len(node.outs):
                for a, b in zip(node.outs, other.outs):
                    if a is not None:
                        rename[a] = b
                graph.merged = getattr(graph, "merged", 0) + 1
                continue
            seen[key] = node
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [rename.get(v, v) for v in graph.outputs]
    return graph


def eliminate_dead(graph: Graph) -> Graph:
    """Drop steps whose outputs nobody reads (steps with effects stay)."""
    live = set(graph.outputs)
    needed_fwd = set()
    kept = []
    for node in reversed(graph.nodes):
        used = any(v is not None and v in live for v in node.outs)
        if node.effect or used or id(node) in needed_fwd:
            kept.append(node)
            live.update(v for v in node.ins if v is not None)
            if node.op == "call_bwd":
                needed_fwd.add(id(node.attrs["fwd"]))
        else:
            graph.removed = getattr(graph, "removed", 0) + 1
    kept.reverse()
    for node in kept:  # outputs nobody reads need not be kept
        node.outs = [v if v is not None and v in live else None for v in node.outs]
    graph.nodes = kept
    return graph


def fuse(graph: Graph) -> Graph:
    """``matmul`` + bias ``add`` -> ``linear``; chains of elementwise kernels -> ``fused``."""
    uses = graph.uses()
    outputs = set(graph.outputs)
    producer = {}
    for node in graph.nodes:
        for v in node.outs:
            if v is not None:
                producer[v] = node
    delivered = {n.ins[0] for n in graph.nodes if n.op == "deliver"}
    removed = set()
    for node in graph.nodes:
        if node.op != "add":
            continue
        a, bias = node.ins
        p = producer.get(a)
        if (p is not None and p.op == "matmul" and uses.get(a) == 1 and a not in outputs
                and graph.values[node.outs[0]].shape == graph.values[a].shape):
            node.op, node.ins = "linear", p.ins + [bias]
            removed.add(id(p))
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]

    # Elementwise chains: a kernel whose (single-use) input comes from an elementwise kernel
    # of the same shape joins that kernel's group, and the group runs in one buffer.
    uses = graph.uses()
    producer = {}
    for node in graph.nodes:
        for v in node.outs:
            if v is not None:
                producer[v] = node
    out = []
    for node in graph.nodes:
        if node.op in ELEMENTWISE:
            o = node.outs[0]
            for pos, v in enumerate(node.ins):
                p = producer.get(v)
                at = next((j for j in range(len(out) - 1, -1, -1) if out[j] is p), None)
                if (p is not None and p.op in (ELEMENTWISE | {"fused"}) and uses.get(v) == 1
                        and v not in outputs and v not in delivered and at is not None
                        and not any(n.effect for n in out[at + 1:])
                        and graph.values[v].shape == graph.values[o].shape
                        and graph.values[v].dtype == graph.values[o].dtype):
                    # The group runs where its last step was (its other operands are ready).
                    out.append(out.pop(at))
                    if p.op != "fused":
                        steps = [(p.op, [("in", i) for i in range(len(p.ins))])]
                        p.attrs = dict(steps=steps)
                        p.op = "fused"
                    base = len(p.ins)
                    operands = []
                    for k, w in enumerate(node.ins):
                        if k == pos:
                            operands.append(("acc",))
                        else:
                            operands.append(("in", base))
                            p.ins.append(w)
                            base += 1
                    p.attrs["steps"].append((node.op, operands))
                    p.outs = [o]
                    producer[o] = p
                    graph.fused = getattr(graph, "fused", 0) + 1
                    break
            else:
                out.append(node)
            continue
        out.append(node)
    graph.nodes = out
    return graph


def hoist_guards(graph: Graph) -> Graph:
    """Move the guards, and the steps computing what they read, to the front: a plan checks
    its data before it changes anything.  The tracer admits only guards on the inputs and
    on steps without effects of them, so the moved steps depend on nothing left behind."""
    producer = {o: n for n in graph.nodes for o in n.outs if o is not None}
    front = set()
    todo = [n for n in graph.nodes if n.op == "guard"]
    while todo:
        node = todo.pop()
        if id(node) in front:
            continue
        front.add(id(node))
        todo.extend(producer[v] for v in node.ins if v is not None and v in producer)
    graph.nodes = ([n for n in graph.nodes if id(n) in front]
                   + [n for n in graph.nodes if id(n) not in front])
    return graph


# ---------------------------------------------------------------- code generation

# Kernels that run what PowScalar and BasicIndex (and the backward of each) compute, by
# their own code: the same bits, and a view where BasicIndex gives one.
_BY_FUNCTION = {
    "pow_scalar": "_asarray({0} ** _exponent{k})",
    "pow_scalar_grad": "_asarray(_pow_grad({0}, {1}, _exponent{k}))",
    "basic_index": "_new(_BasicIndex).forward({0}, _key{k})",
    "index_grad": "_new(_IndexBackward).forward({0}, _key{k}, _shape{k}, False)",
}

_UFUNC = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide",
          "neg": "negative", "tanh": "tanh", "exp": "exp"}


def _ufunc_call(op, args, out):
    if op == "relu":
        args = args + ["0"]
        name = "maximum"
    else:
        name = _UFUNC[op]
    return f"_np.{name}({', '.join(args)}, out={out})"


def _emit(graph, node, v, o, lines, ns, k):
    """Append the code of one step; ``o`` is its output buffer name (None: allocate)."""
    xp = ns["_np"]  # the plan's array module: its inputs' (NumPy, CuPy)
    ins = [v(i) for i in node.ins]
    out = node.outs[0] if node.outs else None
    res = f"v{out}" if out is not None else "_"
    op = node.op
    alloc = o is None
    if op in ELEMENTWISE:
        if alloc:
            lines.append(f"{res} = _asarray({_ufunc_call(op, ins, 'None')})")
        else:
            lines.append(f"{res} = {_ufunc_call(op, ins, o)}")
    elif op == "fused":
        first = True
        for step_op, operands in node.attrs["steps"]:
            args = [res if x[0] == "acc" else ins[x[1]] for x in operands]
            if first and alloc:
                lines.append(f"{res} = _asarray({_ufunc_call(step_op, args, 'None')})")
            else:
                lines.append(f"{res} = {_ufunc_call(step_op, args, res if not first else o)}")
            first = False
    elif op == "matmul":
        if "swapped" in node.attrs:
            d = node.attrs["swapped"]
            lines.append(f"_np.matmul({ins[1]}.T, {ins[0]}.T, out={d})")
            if not node.attrs.get("unread"):
                lines.append(f"{res} = {d}.T")
        else:
            lines.append(f"{res} = _np.matmul({ins[0]}, {ins[1]}"
                         f"{'' if alloc else ', out=' + o})")
    elif op == "linear":
        sx, sw = graph.values[node.ins[0]].shape, graph.values[node.ins[1]].shape
        if (not alloc and len(sx) == 2 and len(sw) == 2 and 0 < sx[0] <= 128
                and sw[1] >= 2 * sx[0]):
            # Few rows, many outputs (an MLP's small batches): x W^T computed as (W x^T)^T,
            # as the eager Linear does (OpenBLAS is up to 1.5x faster there, the same bits),
            # into a scratch buffer shared by the kernels of that shape; + b writes it back.
            scratch = f"_lt_{sw[1]}x{sx[0]}_{graph.values[out].dtype}"
            if scratch not in ns:
                ns[scratch] = xp.empty((sw[1], sx[0]), graph.values[out].dtype)
            lines.append(f"_np.matmul({ins[1]}.T, {ins[0]}.T, out={scratch})")
            lines.append(f"{res} = _np.add({scratch}.T, {ins[2]}, out={o})")
            return
        if alloc:
            lines.append(f"{res} = _np.matmul({ins[0]}, {ins[1]})")
        else:
            lines.append(f"{res} = _np.matmul({ins[0]}, {ins[1]}, out={o})")
        lines.append(f"_np.add({res}, {ins[2]}, out={res})")
    elif op == "sum":
        lines.append(f"{res} = _asarray(_np.add.reduce({ins[0]}, axis={node.attrs['axes']!r}, "
                     f"keepdims={node.attrs['keepdim']!r}))")
    elif op == "transpose":
        lines.append(f"{res} = {ins[0]}.transpose({node.attrs['dims']!r})")
    elif op == "reshape":
        lines.append(f"{res} = {ins[0]}.reshape({node.attrs['shape']!r})")
    elif op == "broadcast_to":
        lines.append(f"{res} = _np.broadcast_to({ins[0]}, {node.attrs['shape']!r})")
    elif op == "sum_to":
        axes, lead = node.attrs["axes"], node.attrs["lead"]
        if alloc:
            expr = f"{ins[0]}.sum(axis={axes!r}, keepdims=True)"
            lines.append(f"{res} = _asarray({expr}.reshape({graph.values[out].shape!r})"
                         f"{'' if lead else ''})")
        elif all(a < lead for a in axes):
            lines.append(f"{res} = _np.add.reduce({ins[0]}, axis={axes!r}, out={o})")
        else:
            kshape = tuple(1 if i in axes else n
                           for i, n in enumerate(graph.values[node.ins[0]].shape))
            lines.append(f"_np.add.reduce({ins[0]}, axis={axes!r}, keepdims=True, "
                         f"out={o}.reshape({kshape!r}))")
            lines.append(f"{res} = {o}")
    elif op == "relu_grad":
        # where(y > 0, g, 0), as ReLU's backward, bit for bit (an exact +0 where y <= 0,
        # even for inf/nan g): g's bits as integers times the 0/1 mask, into a buffer.
        # np.where allocates and is three times slower; a float g * mask gives -0 and nan.
        dt = graph.values[out].dtype
        mask, ints = f"_mask{k}", f"_{res}_int"
        ns[mask] = xp.empty(graph.values[out].shape, xp.bool_)
        ns[ints] = xp.dtype(f"i{dt.itemsize}")
        lines.append(f"_np.greater({ins[1]}, 0, out={mask})")
        if alloc:
            lines.append(f"{res} = _np.multiply({ins[0]}.view({ints}), {mask})"
                         f".view({ins[0]}.dtype)")
        else:
            ns[f"{o}_int"] = ns[o].view(ns[ints])
            lines.append(f"_np.multiply({ins[0]}.view({ints}), {mask}, out={o}_int)")
            lines.append(f"{res} = {o}")
    elif op in ("sigmoid", "sigmoid_grad", "bce_logits", "bce_logits_grad"):
        # The Functions' own expressions (Sigmoid, BCEWithLogits and their backward), so
        # the same bits; they allocate, as the Functions do.
        dt = f"_np.{graph.values[out].dtype}"
        if op in ("sigmoid", "bce_logits_grad"):
            x = ins[0] if op == "sigmoid" else ins[1]
            lines.append(f"_e = _np.exp(-_np.abs({x}))")
            lines.append(f"_s = (_np.where({x} >= 0, 1.0, _e) / (1.0 + _e))"
                         f".astype({dt}, copy=False)")
        if op == "sigmoid":
            lines.append(f"{res} = _asarray(_s)")
        elif op == "sigmoid_grad":
            g, y = ins
            lines.append(f"{res} = _asarray({g} * {y} * (1.0 - {y}))")
        elif op == "bce_logits":
            x, y = ins
            lines.append(f"{res} = _asarray((1.0 - {y}) * {x} + (_np.maximum(-{x}, 0) + "
                         f"_np.log1p(_np.exp(-_np.abs({x})))))")
        else:
            lines.append(f"{res} = _asarray({ins[0]} * (_s - {ins[2]}))")
    elif op in _BY_FUNCTION:
        for name, value in node.attrs.items():
            ns[f"_{name}{k}"] = value
        lines.append(f"{res} = " + _BY_FUNCTION[op].format(*ins, k=k))
    elif op == "tanh_grad":
        target = o if not alloc else "None"
        lines.append(f"{res} = _np.multiply({ins[1]}, {ins[1]}, out={target})")
        lines.append(f"_np.subtract(1.0, {res}, out={res})")
        lines.append(f"_np.multiply({ins[0]}, {res}, out={res})")
    elif op == "ce_loss":
        # CrossEntropy.forward's arithmetic for class indices, step by step (same bits).
        x, index = ins
        n, c = graph.values[node.ins[0]].shape
        dt = graph.values[node.ins[0]].dtype
        rows = f"_rows{k}"
        ns[rows] = xp.arange(n)
        logp = f"v{node.outs[1]}" if node.outs[1] is not None else f"_logp{k}"
        lines.append("with _errstate(divide='ignore', invalid='ignore'):")
        lines.append(f"    _m = {x}.max(axis=1, keepdims=True)")
        lines.append("    _m = _np.where(_np.isfinite(_m), _m, 0)")
        lines.append(f"    _s = {x} - _m")
        lines.append(f"    {logp} = _s - _np.log(_np.exp(_s).sum(axis=1, keepdims=True))")
        lines.append(f"_l = -1.0 * {logp}[{rows}, {index}]")
        lines.append(f"_l = _l.astype(_np.{dt}, copy=False).sum()")
        if node.attrs["denom"] is not None:
            lines.append(f"_l = _l / {node.attrs['denom']!r}")
        lines.append(f"{res} = _asarray(_l, dtype=_np.{dt})")
        del c
    elif op == "ce_grad":
        g, logp, index = ins
        n = graph.values[node.ins[1]].shape[0]
        rows = f"_rows{k}"
        ns[rows] = xp.arange(n)
        lines.append(f"{res} = _np.exp({logp}{'' if alloc else ', out=' + o})")
        lines.append(f"{res}[{rows}, {index}] -= 1")
        denom = node.attrs["denom"]
        if denom is not None:
            dname = f"_denom{k}"
            ns[dname] = xp.asarray(denom, dtype=graph.values[out].dtype)
            lines.append(f"_np.multiply(_asarray({g} / {dname}), {res}, out={res})")
        else:
            lines.append(f"_np.multiply({g}, {res}, out={res})")
    elif op in ("array_op", "guard"):
        ns[f"AF{k}"] = node.attrs["fn"]
        args = []
        for j, (kind, x) in enumerate(node.attrs["args"]):
            if kind == "v":
                args.append(ins[x])
            else:
                ns[f"AC{k}_{j}"] = x
                args.append(f"AC{k}_{j}")
        call = f"AF{k}({', '.join(args)})"
        if op == "array_op":
            lines.append(f"{res} = _asarray({call})")
        else:
            ns[f"AE{k}"] = node.attrs["expect"]
            lines.append(f"if {call} != AE{k}:")
            lines.append("    raise _Stale")
    elif op == "call":
        a = node.attrs
        f = f"f{k}"
        ns[f"C{k}"], ns[f"O{k}"] = a["cls"], a["options"]
        ns[f"NE{k}"] = tuple(True if x else None for x in a["needs"])
        record = bool(a.get("keep") or any(v is not None for v in node.outs[a["n_out"]:]))
        lines.append(f"{f} = _new(C{k})")
        lines.append(f"{f}._record = {record}; {f}._saved = None; {f}._fwd_inputs = None; "
                     f"{f}.next_edges = NE{k}")
        if a.get("keep"):
            ns[f"IM{k}"], ns[f"OM{k}"] = a["input_meta"], a["output_meta"]
            lines.append(f"{f}.input_meta = IM{k}; {f}.output_meta = OM{k}")
        n_in = a["n_in"]
        args = ins[:n_in] + [f"{key}={ins[n_in + j]}" for j, key in enumerate(a["refs"])]
        args.append(f"**O{k}")
        lines.append(f"_r = {f}.forward({', '.join(args)})")
        lines.append("_r = _r if type(_r) is tuple else (_r,)")
        for j, vo in enumerate(node.outs[:a["n_out"]]):
            if vo is not None:
                lines.append(f"v{vo} = _asarray(_r[{j}])")
        for j, vo in zip(a["saved"], node.outs[a["n_out"]:]):
            if vo is not None:
                lines.append(f"v{vo} = _asarray({f}._saved[{j}])")
        node.attrs["slot"] = f
    elif op == "call_bwd":
        f = node.attrs["fwd"].attrs["slot"]
        args = ", ".join(f"_T({x})" for x in ins)
        lines.append("with _ng:")
        lines.append(f"    _r = {f}.backward({args})")
        lines.append("_r = _r if type(_r) is tuple else (_r,)")
        for j, vo in enumerate(node.outs):
            if vo is not None:
                lines.append(f"v{vo} = _r[{j}].data")
    elif op == "deliver":
        kind, target = node.attrs["target"]
        if kind == "state":
            t = f"S{k}"
            ns[t] = target
        else:
            t = f"_targs[{target!r}]"
        gname = f"G{k}"
        src = node.attrs.get("src") or ins[0]
        copy = node.attrs.get("copy", True)
        if copy:
            value = graph.values[node.ins[0]]
            ns[f"D{k}"] = xp.empty(value.shape, value.dtype)
            lines.append(f"_np.copyto(D{k}, {src})")
            src = f"D{k}"
        ns[gname] = const(None)
        if node.attrs.get("fresh"):  # just after zero_grad(): p.grad is None
            lines.append(f"{gname}.data = {src}; {t}.grad = {gname}")
            return
        lines.append(f"if {t}.grad is None:")
        if kind == "state":
            lines.append(f"    {gname}.data = {src}; {t}.grad = {gname}")
        else:
            lines.append(f"    {t}.grad = _T({src}.copy())")
        lines.append("else:")
        lines.append(f"    {t}.grad = _T(_asarray({t}.grad.data + {src}))")
    elif op == "event":
        fn = node.attrs["fn"]
        ns[f"E{k}"], ns[f"A{k}"] = fn, node.attrs["args"]
        func = getattr(fn, "__func__", None)
        if func is SGD.step and not node.attrs["args"]:
            # Plain SGD (with or without momentum) in place, without SGD.step's temporaries;
            # anything else (weight decay, Nesterov, a missing buffer) calls step() itself.
            ns[f"O{k}"], ns[f"SC{k}"] = fn.__self__, {}
            if not _emit_sgd(fn.__self__, k, ns, lines):
                lines.append(f"if not _sgd(O{k}, SC{k}):")
                lines.append(f"    E{k}(*A{k})")
        elif func is Adam.step and not node.attrs["args"]:
            if not _emit_adam(fn.__self__, k, ns, lines):
                lines.append(f"E{k}(*A{k})")
        elif func is Optimizer.zero_grad and node.attrs["args"] in ((), (True,)):
            # p.grad = None for each parameter, written out; those whose gradient this
            # plan delivers next are left alone (the delivery replaces it).
            opt = fn.__self__
            skip = node.attrs.get("delivered", ())
            sets = [f"{_param(opt, i, j, k, ns)}.grad = None"
                    for i, group in enumerate(opt.param_groups)
                    for j, p in enumerate(group["params"]) if id(p) not in skip]
            lines.append(f"if {_same_groups(opt, k, ns)}:")
            lines.extend("    " + line for line in sets or ["pass"])
            lines.append("else:")
            lines.append(f"    E{k}(*A{k})")
        else:
            lines.append(f"E{k}(*A{k})")
    else:  # pragma: no cover - every op above
        raise AssertionError(f"no code for {op}")


def _param(opt, i, j, k, ns) -> str:
    name = f"P{k}_{i}_{j}"
    ns[name] = opt.param_groups[i]["params"][j]
    return name


def _same_groups(opt, k, ns) -> str:
    """A condition, true while ``opt`` has the parameter groups that the code was made for."""
    groups = opt.param_groups
    ns[f"O{k}"], ns[f"PG{k}"] = opt, groups
    conds = [f"O{k}.param_groups is PG{k}", f"len(PG{k}) == {len(groups)}"]
    for i, group in enumerate(groups):
        ns[f"PL{k}_{i}"] = group["params"]
        conds += [f"PG{k}[{i}]['params'] is PL{k}_{i}",
                  f"len(PL{k}_{i}) == {len(group['params'])}"]
    return " and ".join(conds)


def _emit_sgd(opt, k, ns, lines) -> bool:
    """Plain SGD's step written out, parameter by parameter, with the arithmetic of SGD.step
    (so the same bits): ``v *= momentum; v += g; p -= lr * v`` in place, ``lr * v`` in one
    scratch buffer shared by all.  A condition checked on each call (the same groups and
    momentum buffers, settings still plain) guards it; the learning rate and momentum are
    read on each call (schedulers change them).  False: not plain SGD now, nothing written.
    """
    conds = [_same_groups(opt, k, ns)]
    updates, scratches = [], []
    for i, group in enumerate(opt.param_groups):
        if (group["weight_decay"] != 0 or group["maximize"] or group["nesterov"]
                or group["dampening"] != 0):
            return False
        g = f"PG{k}[{i}]"
        conds += [f"{g}['weight_decay'] == 0", f"not {g}['maximize']",
                  f"not {g}['nesterov']", f"{g}['dampening'] == 0"]
        momentum = group["momentum"] != 0
        conds.append(f"({g}['momentum'] != 0) is {momentum}")
        updates.append(f"_lr = {g}['lr']" + (f"; _mo = {g}['momentum']" if momentum else ""))
        for j, p in enumerate(group["params"]):
            name = _param(opt, i, j, k, ns)
            scratch = f"T{k}_{i}_{j}"
            scratches.append((scratch, p.data))
            updates += [f"_g = {name}.grad", "if _g is not None:"]
            if momentum:
                buf = opt.state.get(p, {}).get("momentum_buffer")
                if buf is None:
                    return False
                ns[f"M{k}_{i}_{j}"] = buf
                conds.append(f"O{k}.state.get({name}, _NONE).get('momentum_buffer') is "
                             f"M{k}_{i}_{j}")
                updates += [f"    _v = M{k}_{i}_{j}.data; _v *= _mo; _v += _g.data",
                            f"    _np.multiply(_lr, _v, out={scratch})"]
            else:
                updates.append(f"    _np.multiply(_lr, _g.data, out={scratch})")
            updates.append(f"    _p = {name}.data; _p -= {scratch}; {name}._vc[0] += 1")
    return _write_guarded(lines, ns, conds, updates, scratches,
                          [f"if not _sgd(O{k}, SC{k}):", f"    E{k}(*A{k})"])


def _write_guarded(lines, ns, conds, updates, scratches, otherwise) -> bool:
    """An optimizer's step written out: ``updates`` under ``if conds:``, else the lines
    ``otherwise`` (the step called as it is).  False, writing nothing, without updates."""
    if not scratches:
        return False
    _share_scratch(scratches, ns)
    lines.append(f"if {' and '.join(conds)}:")
    lines.extend("    " + line for line in updates)
    lines.append("else:")
    lines.extend("    " + line for line in otherwise)
    return True


def _share_scratch(scratches, ns):
    """Every parameter's temporary of an update goes through one buffer per dtype, of the
    largest's size (the parameters are updated one after the other)."""
    xp = ns["_np"]  # the plan's array module
    size = {}
    for _, a in scratches:
        size[a.dtype.str] = max(size.get(a.dtype.str, 0), a.size)
    flat = {dt: xp.empty(n, xp.dtype(dt)) for dt, n in size.items()}
    for name, a in scratches:
        ns[name] = flat[a.dtype.str][:a.size].reshape(a.shape)


def _emit_adam(opt, k, ns, lines) -> bool:
    """Adam's step written out, parameter by parameter, with the arithmetic of Adam.step
    (so the same bits), its temporary in one shared scratch buffer.  Guarded on each call
    like :func:`_emit_sgd` (the same groups and state, no weight decay, maximize or
    amsgrad); lr, betas and eps are read on each call.  False: not written."""
    conds = [_same_groups(opt, k, ns)]
    updates, scratches = [], []
    for i, group in enumerate(opt.param_groups):
        if group["weight_decay"] != 0 or group["maximize"] or group["amsgrad"]:
            return False
        g = f"PG{k}[{i}]"
        conds += [f"{g}['weight_decay'] == 0", f"not {g}['maximize']", f"not {g}['amsgrad']"]
        updates += [f"_lr, _eps = {g}['lr'], {g}['eps']; _b1, _b2 = {g}['betas']",
                    "_w = 1 - _b1"]
        for j, p in enumerate(group["params"]):
            name = _param(opt, i, j, k, ns)
            state = opt.state.get(p)
            if not state or "exp_avg" not in state or "exp_avg_sq" not in state:
                return False
            st, tmp = f"ST{k}_{i}_{j}", f"T{k}_{i}_{j}"
            ns[st], ns[f"EA{k}_{i}_{j}"], ns[f"ES{k}_{i}_{j}"] = (
                state, state["exp_avg"], state["exp_avg_sq"])
            conds += [f"O{k}.state.get({name}) is {st}",
                      f"{st}.get('exp_avg') is EA{k}_{i}_{j}",
                      f"{st}.get('exp_avg_sq') is ES{k}_{i}_{j}"]
            scratches.append((tmp, p.data))
            updates += [
                f"_g = {name}.grad",
                "if _g is not None:",
                f"    _g = _g.data; {st}['step'] += 1; _t = {st}['step']",
                f"    _ea, _es, _s = EA{k}_{i}_{j}.data, ES{k}_{i}_{j}.data, {tmp}",
                "    _np.subtract(_g, _ea, out=_s)",  # _lerp_(exp_avg, g, 1 - beta1, _s)
                "    if abs(_w) < 0.5:",
                "        _s *= _w; _ea += _s",
                "    else:",
                "        _s *= 1 - _w; _np.subtract(_g, _s, out=_ea)",
                "    _np.multiply(_g, 1 - _b2, out=_s); _s *= _g; _es *= _b2; _es += _s",
                "    _np.sqrt(_es, out=_s); _s /= (1 - _b2 ** _t) ** 0.5; _s += _eps",
                "    _np.divide(_ea, _s, out=_s); _s *= _lr / (1 - _b1 ** _t)",
                f"    _p = {name}.data; _p -= _s; {name}._vc[0] += 1"]
    return _write_guarded(lines, ns, conds, updates, scratches, [f"E{k}(*A{k})"])


def _sgd(opt, scratch) -> bool:
    """``opt.step()`` for plain SGD, the same arithmetic as SGD.step (so the same bits):
    ``v = momentum * v + g; p -= lr * v``, with ``lr * v`` in a scratch buffer per shape.
    Returns False, having changed nothing, when the fast path does not apply."""
    groups = opt.param_groups
    for group in groups:
        if (group["weight_decay"] != 0 or group["maximize"] or group["nesterov"]
                or group["dampening"] != 0):
            return False
        if group["momentum"] != 0:
            for p in group["params"]:
                if p.grad is not None and "momentum_buffer" not in opt.state.get(p, ()):
                    return False
    for group in groups:
        lr, momentum = group["lr"], group["momentum"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g = grad.data
            if momentum != 0:
                buf = opt.state[p]["momentum_buffer"]
                buf = buf.data if isinstance(buf, Tensor) else buf
                buf *= momentum
                buf += g
                g = buf
            key = (g.shape, g.dtype.str)
            tmp = scratch.get(key)
            xp = get_array_module(g)  # the parameters' device
            if tmp is None:
                tmp = scratch[key] = xp.empty(g.shape, g.dtype)
            xp.multiply(lr, g, out=tmp)
            p.data -= tmp
            p._vc[0] += 1
    return True


def _base_namespace(module=None):
    module = module or xp  # the plan's array module (NumPy by default)
    return dict(_np=module, _asarray=module.asarray,
                _errstate=lambda **kw: backend.errstate(module, **kw),
                _new=object.__new__, _sgd=_sgd, _Stale=StalePlan,
                _NONE={}, _pow_grad=arithmetic._pow_grad, _BasicIndex=shape.BasicIndex,
                _IndexBackward=shape.IndexBackward,
                _T=const, _ng=autograd.no_grad())


def run_nodes(graph, nodes, arrays):
    """Run ``nodes`` on the given {vid: array}; returns {vid: array} of their outputs."""
    ns = _base_namespace(get_array_module(*arrays.values()) if arrays else None)
    lines = []
    for vid, a in arrays.items():
        ns[f"c{vid}"] = a

    def v(i):
        return f"c{i}" if i in arrays else f"v{i}"

    for k, node in enumerate(nodes):
        _emit(graph, node, v, None, lines, ns, k)
    outs = sorted({o for n in nodes for o in n.outs if o is not None})
    src = "def _run():\n" + "".join("    " + ln + "\n" for ln in lines)
    src += "    return {" + ", ".join(f"{o}: v{o}" for o in outs) + "}\n"
    exec(compile(src, "<bricks.symbolic fold>", "exec"), ns)
    return ns["_run"]()


class Plan:
    """The generated step: ``plan(args)`` runs it on a dict of input arrays."""

    def __init__(self, source, fn, buffers, n_kernels):
        self.source, self.fn, self.buffers, self.n_kernels = source, fn, buffers, n_kernels

    @property
    def buffer_bytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)


def generate(graph: Graph, reuse: bool = True, xp=None) -> Plan:
    """Python source for the graph, with preallocated buffers reused by liveness; ``xp``:
    the array module of its inputs, which allocates the buffers (default NumPy)."""
    hoist_guards(graph)
    values = graph.values
    ns = _base_namespace(xp)
    xp = ns["_np"]
    outputs = set(graph.outputs)

    def reads(node):
        # A Function's backward reads what its forward saved: the forward's inputs and
        # outputs stay alive (their buffers untouched) until the backward has run.
        if node.op == "call_bwd":
            fwd = node.attrs["fwd"]
            fwd.attrs["keep"] = True
            return [i for i in node.ins + fwd.ins + fwd.outs if i is not None]
        return [i for i in node.ins if i is not None]

    uses_left = {}
    for node in graph.nodes:
        for i in reads(node):
            uses_left[i] = uses_left.get(i, 0) + 1
    for i in graph.outputs:
        uses_left[i] = uses_left.get(i, 0) + 1
    # Views keep their base alive: root[v] is the value that owns v's memory.
    root = {}

    def bases(i):
        return root.get(i, (i,))

    for node in graph.nodes:
        if node.op in VIEWS:
            root[node.outs[0]] = bases(node.ins[0])
        elif node.op in ("call", "array_op"):
            for o in node.outs:  # a Function may return a view of an input: keep them all
                if o is not None:
                    root[o] = tuple(b for i in node.ins if i is not None for b in bases(i))
    alias_count = {}
    for v, r in root.items():
        for base in r:
            alias_count[base] = alias_count.get(base, 0) + uses_left.get(v, 0)
    pending = dict(uses_left)
    for base, n in alias_count.items():
        pending[base] = pending.get(base, 0) + n
    # A delivered gradient lives on as p.grad: it gets its own buffer, never reused.
    delivered = {}
    for node in graph.nodes:
        if node.op == "deliver":
            v = node.ins[0]
            delivered[v] = delivered.get(v, 0) + 1

    producer_op = {o: n.op for n in graph.nodes for o in n.outs if o is not None}
    # A weight's gradient is often matmul(h.T, g) seen through a transpose: the product is
    # written straight into the transposed view of the gradient's own buffer (the same
    # kernel on the same operands, so the same bits), instead of a strided copy after it.
    producer = {o: n for n in graph.nodes for o in n.outs if o is not None}
    into, silent = {}, set()
    for k, node in enumerate(graph.nodes):
        if node.op != "deliver":
            continue
        v = node.ins[0]
        t = producer.get(v)
        if (t is None or t.op != "transpose" or delivered[v] != 1 or v in outputs
                or uses_left.get(v) != 1):
            continue
        u = t.ins[0]
        m = producer.get(u)
        if m is None or m.op != "matmul" or uses_left.get(u) != 1 or u in outputs:
            continue
        dims = t.attrs["dims"]
        inverse = [0] * len(dims)
        for i, d in enumerate(dims):
            inverse[d] = i
        buf = xp.empty(values[v].shape, values[v].dtype)
        ns[f"D{k}"], ns[f"_Dt{k}"] = buf, buf.transpose(inverse)
        into[id(m)] = f"_Dt{k}"
        node.attrs["src"] = f"D{k}"
        silent.add(id(t))  # its only reader, the delivery, reads D{k} itself
        if len(values[v].shape) == 2:
            # (a.T @ g).T computed as g.T @ a into C-ordered memory, where BLAS is faster;
            # every element is the same dot product (the tests compare the bits).
            m.attrs["swapped"] = f"D{k}"
            m.attrs["unread"] = True  # its output, seen through t, is D{k}.T: not needed
    # A gradient delivered after zero_grad() (set_to_none), with no other optimizer call
    # between: the delivery just assigns it, and zero_grad leaves that parameter alone.
    cleared = {}
    for node in graph.nodes:
        if node.op == "event":
            fn = node.attrs["fn"]
            cleared = {}
            if (getattr(fn, "__func__", None) is Optimizer.zero_grad
                    and node.attrs["args"] in ((), (True,))):
                node.attrs["delivered"] = set()
                cleared = {id(p): node for group in fn.__self__.param_groups
                           for p in group["params"]}
        elif node.op == "deliver":
            kind, target = node.attrs["target"]
            zero = cleared.pop(id(target), None) if kind == "state" else None
            node.attrs["fresh"] = zero is not None
            if zero is not None:
                zero.attrs["delivered"].add(id(target))
    free = {}
    owner = {}
    buffers = []
    lines = []

    def name(i):
        kind = values[i].kind
        if kind == "input":
            return f"_in_{values[i].name}"
        if kind == "state":
            return f"s{i}"
        if kind in ("const", "live"):
            return f"c{i}"
        return f"v{i}"

    used_state = set()
    used_const = set()
    for node in graph.nodes:
        for i in node.ins:
            if i is not None and values[i].kind == "state":
                used_state.add(i)
            if i is not None and values[i].kind in ("const", "live"):
                used_const.add(i)
    for i in graph.outputs:
        if values[i].kind == "state":
            used_state.add(i)
        if values[i].kind in ("const", "live"):
            used_const.add(i)
    for i in used_const:
        ns[f"c{i}"] = values[i].payload
    for i in sorted(used_state):
        ns[f"S_{i}"] = values[i].payload
        lines.append(f"s{i} = S_{i}.data")
    for nm in graph.inputs:
        lines.append(f"_in_{nm} = _args[{nm!r}]")

    def release(i):
        pending[i] -= 1
        if pending[i] == 0 and i in owner:
            buf = owner.pop(i)
            free.setdefault((values[i].shape, values[i].dtype.str), []).append(buf)
        for base in root.get(i, ()):
            release(base)

    kernels = 0
    for k, node in enumerate(graph.nodes):
        o = None
        out = node.outs[0] if node.outs else None
        bufferable = node.op in _BUFFERED and out is not None and out not in outputs
        # relu_grad may write where g or y was: its mask is computed first.
        inplace = node.op in ELEMENTWISE | {"fused", "relu_grad"}
        early = []
        if inplace:
            # The output may take over the buffer of an input that dies here; in a fused
            # group only the first step's inputs can (later steps still read theirs).
            first = (len(node.attrs["steps"][0][1]) if node.op == "fused" else len(node.ins))
            early = node.ins[:first]
            for i in early:
                if i is not None:
                    release(i)
        if id(node) in into:
            kernels += 1
            o = into[id(node)]
        elif bufferable:
            kernels += 1
            value = values[out]
            key = (value.shape, value.dtype.str)
            if out in delivered or not reuse:
                buf = None
            else:
                stack = free.get(key)
                buf = stack.pop() if stack else None
            if buf is None:
                buf = f"b{len(buffers)}"
                buffers.append(xp.empty(value.shape, value.dtype))
                ns[buf] = buffers[-1]
            if out not in delivered:
                owner[out] = buf
            o = buf
        if node.op == "deliver":
            v0 = node.ins[0]
            node.attrs["copy"] = not ("src" in node.attrs or (
                producer_op.get(v0) in _BUFFERED and delivered[v0] == 1
                and v0 not in outputs))
        if id(node) not in silent:
            _emit(graph, node, name, o, lines, ns, k)
        rest = reads(node)
        for i in early:
            if i is not None:
                rest.remove(i)
        for i in rest:
            release(i)
    rets = []
    for i in graph.outputs:
        owned = any(b in owner or values[b].kind != "node" for b in bases(i))
        rets.append(f"{name(i)}.copy()" if owned else name(i))
    src = "def _plan(_args, _targs=None):\n" + "".join("    " + ln + "\n" for ln in lines)
    src += f"    return ({', '.join(rets)}{',' if len(rets) == 1 else ''})\n"
    exec(compile(src, "<bricks.symbolic plan>", "exec"), ns)
    return Plan(src, ns["_plan"], buffers, kernels)
