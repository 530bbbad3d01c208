"""Draw the computational graph behind a tensor, as Graphviz DOT text or an SVG/PNG file.

Every op that recorded gradients left a :class:`~bricks.autograd.Function` node behind
(``y.grad_fn``); each node knows its inputs through ``next_edges``.  :func:`to_dot` walks
those edges from the output back to the leaves and writes one DOT node per op (its name,
like ``MulBackward``, and its output shape) and one per leaf tensor (its shape, and its
name when you pass ``params``), with arrows pointing the way the data flowed: from the
inputs through the ops to the output.  It is the picture of what ``backward()`` will walk,
in the opposite direction.

Colors follow PyTorch's torchviz: leaves are light blue, the output is green, ops are grey.

Example:
    >>> w = bricks.tensor([1.0, 2.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> print(to_dot(loss, params={"w": w}))  # doctest: +ELLIPSIS
    digraph bricks {
    ...
    }

Render it with ``render(loss, "graph.svg")`` (needs the ``dot`` program from Graphviz), or
save the text and paste it into any Graphviz viewer.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from bricks.autograd import LeafEdge
from bricks.backend import get_default_dtype, to_numpy, xp
from bricks.tensor import Tensor

__all__ = ["to_dot", "render", "GraphvizNotFoundError"]

# Arrays with at most this many elements are printed in full; bigger ones are summarized.
_MAX_PRINTED = 16

_LEAF_STYLE = 'style=filled, fillcolor="lightblue"'
_OUTPUT_STYLE = 'style=filled, fillcolor="darkolivegreen1"'
_OP_STYLE = 'style="filled,rounded", fillcolor="lightgrey"'
_NAMED_OP_STYLE = 'style="filled,rounded", fillcolor="orange"'

_FORMATS = ("svg", "png", "pdf")


class GraphvizNotFoundError(RuntimeError):
    """Raised by :func:`render` when the Graphviz ``dot`` program is not on the PATH."""


def to_dot(
    tensor,
    show_values: bool = False,
    show_grads: bool = False,
    params: dict | None = None,
) -> str:
    """The computational graph that produced ``tensor``, as Graphviz DOT text.

    One node per op (``MulBackward`` and its output shape), one per leaf tensor that
    requires grad (its shape, and its name from ``params``), one for the output; arrows go
    from inputs to ops to the output.  Constants (tensors without ``requires_grad``) are
    not part of the graph and are not drawn.  The walk uses an explicit stack, so graphs
    of any depth work.

    Args:
        tensor: the output to draw from, or a sequence of outputs (drawn in one graph);
            or a compiled graph (``f.graph`` or ``f.graph_before`` of ``bricks.compile``),
            drawn with one node per step and its output shapes.
        show_values: add each leaf's and output's values to its node (arrays with at most
            16 elements in full, larger ones as shape, mean, std, min and max).  Values of
            intermediate results are shown for the tensors named in ``params``: the graph
            keeps only what backward needs, not every intermediate array.
        show_grads: add each leaf's ``.grad`` (after ``backward()``), summarized the same
            way; also the ``.grad`` of named non-leaf tensors that called ``retain_grad()``.
        params: names for tensors, e.g. ``dict(model.named_parameters())`` as in torchviz.
            A named leaf shows its name; a named intermediate tensor (``h = x @ w``) labels
            the op that made it.

    Returns:
        The DOT source, a ``str`` starting with ``digraph bricks {``.

    Example:
        >>> x = bricks.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> y = (x * 2).sum()
        >>> print(to_dot(y, params={"x": x}))
        digraph bricks {
            graph [rankdir=TB, fontname="Helvetica"];
            node [shape=box, fontname="Helvetica", fontsize=11];
            n0 [label="SumBackward\\n()", style="filled,rounded", fillcolor="lightgrey"];
            n1 [label="MulBackward\\n(3,)", style="filled,rounded", fillcolor="lightgrey"];
            n2 [label="x\\n(3,)", style=filled, fillcolor="lightblue"];
            out0 [label="output\\n()", style=filled, fillcolor="darkolivegreen1"];
            n1 -> n0;
            n2 -> n1;
            n0 -> out0;
        }
        <BLANKLINE>
    """
    if hasattr(tensor, "to_dot") and not isinstance(tensor, Tensor):
        return tensor.to_dot()  # a compiled graph (bricks.symbolic): f.graph, f.graph_before
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for i, t in enumerate(roots):
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot: expected a Tensor (or a sequence of them), got "
                            f"{type(t).__name__} at position {i}")
    leaf_names, op_names = _index_names(params)

    ids: dict[int, str] = {}  # id(node or leaf tensor) -> DOT node id
    keep = []  # the objects behind ``ids``, kept alive so no id is reused during the walk
    nodes, edges = [], []

    def node_id(obj):
        key = id(obj)
        nid = ids.get(key)
        if nid is None:
            nid = ids[key] = f"n{len(ids)}"
            keep.append(obj)
        return nid

    def add_leaf(t):
        key = id(t)
        if key in ids:
            return ids[key]
        nid = node_id(t)
        name = leaf_names.get(key)
        label = [name] if name is not None else []
        label.append(_shape_text(t.data.shape, t.data.dtype))
        if show_values:
            label.append(_array_text("value", t.data))
        if show_grads:
            label.append(_array_text("grad", None if t.grad is None else t.grad.data))
        nodes.append(f"    {nid} [label={_quote(label)}, {_LEAF_STYLE}];")
        return nid

    stack = []
    seen_fns: set[int] = set()
    for t in roots:
        if t.grad_fn is None:
            add_leaf(t)
            continue
        if id(t.grad_fn) not in seen_fns:
            seen_fns.add(id(t.grad_fn))
            stack.append(t.grad_fn)

    # Ops first (depth-first from the outputs), each with its edges from its inputs.
    while stack:
        fn = stack.pop()
        nid = node_id(fn)
        named = [op_names[(id(fn), nr)] for nr in range(len(fn.output_meta))
                 if (id(fn), nr) in op_names]
        label = [name for name, _ in named]
        label.append(fn.name())
        label.append(" ".join(_shape_text(shape, dtype) for shape, dtype in fn.output_meta))
        for name, t in named:
            if show_values:
                label.append(_array_text(f"{name} value", t.data))
            if show_grads and t.grad is not None:
                label.append(_array_text(f"{name} grad", t.grad.data))
        style = _NAMED_OP_STYLE if named else _OP_STYLE
        nodes.append(f"    {nid} [label={_quote(label)}, {style}];")
        for edge in fn.next_edges:
            if edge is None:
                continue
            if type(edge) is LeafEdge:
                edges.append(f"    {add_leaf(edge.leaf)} -> {nid};")
                continue
            src, nr = edge
            if id(src) not in seen_fns:
                seen_fns.add(id(src))
                stack.append(src)
            attrs = f' [label="{nr}"]' if len(src.output_meta) > 1 else ""
            edges.append(f"    {node_id(src)} -> {nid}{attrs};")

    # The outputs: a green box per root, fed by the op that made it.
    for i, t in enumerate(roots):
        if t.grad_fn is None:
            continue
        out_id = f"out{i}"
        name = op_names.get((id(t.grad_fn), t._output_nr))
        label = [name[0] if name is not None else "output"]
        label.append(_shape_text(t.data.shape, t.data.dtype))
        if show_values:
            label.append(_array_text("value", t.data))
        if show_grads and t.grad is not None:
            label.append(_array_text("grad", t.grad.data))
        nodes.append(f"    {out_id} [label={_quote(label)}, {_OUTPUT_STYLE}];")
        attrs = f' [label="{t._output_nr}"]' if len(t.grad_fn.output_meta) > 1 else ""
        edges.append(f"    {ids[id(t.grad_fn)]} -> {out_id}{attrs};")
    header = ["digraph bricks {",
              '    graph [rankdir=TB, fontname="Helvetica"];',
              '    node [shape=box, fontname="Helvetica", fontsize=11];']
    return "\n".join(header + nodes + edges + ["}"]) + "\n"


def render(
    tensor,
    path,
    format: str | None = None,
    show_values: bool = False,
    show_grads: bool = False,
    params: dict | None = None,
):
    """Draw the graph of ``tensor`` into an SVG, PNG or PDF file with Graphviz's ``dot``.

    Needs the ``dot`` program (``apt-get install graphviz``, ``brew install graphviz``,
    ``conda install graphviz``).  When it is missing, the DOT text is still saved next to
    ``path`` (with the suffix ``.dot``) and :class:`GraphvizNotFoundError` says where, so you
    can render it elsewhere (``dot -Tsvg graph.dot -o graph.svg``) or paste it into an online
    Graphviz viewer.

    Args:
        tensor: the output (or a sequence of outputs) whose graph to draw.
        path: the file to write; a missing suffix is added from ``format``.
        format: ``'svg'``, ``'png'`` or ``'pdf'``; by default taken from the suffix of
            ``path``, else ``'svg'``.
        show_values, show_grads, params: as in :func:`to_dot`.

    Returns:
        The path of the written file, as a ``str``.

    Example:
        >>> x = bricks.tensor([1.0, 2.0], requires_grad=True)
        >>> import tempfile, os
        >>> out = os.path.join(tempfile.mkdtemp(), "graph.svg")
        >>> try:
        ...     written = render((x * x).sum(), out)
        ... except GraphvizNotFoundError:
        ...     written = out  # no Graphviz here: graph.dot was saved instead
        >>> written == out
        True
    """
    path = os.fspath(path)
    stem, suffix = os.path.splitext(path)
    suffix = suffix[1:].lower()
    if format is None:
        format = suffix if suffix in _FORMATS else "svg"
    format = format.lower()
    if format not in _FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(_FORMATS)}, got {format!r}")
    if suffix != format:
        stem, path = path, f"{path}.{format}"
    source = to_dot(tensor, show_values=show_values, show_grads=show_grads, params=params)

    dot = shutil.which("dot")
    if dot is None:
        dot_path = f"{stem}.dot"
        with open(dot_path, "w", encoding="utf-8") as f:
            f.write(source)
        raise GraphvizNotFoundError(
            f"render: the Graphviz program 'dot' was not found on the PATH, so {path} could "
            f"not be drawn. Install Graphviz (apt-get install graphviz, brew install graphviz "
            f"or conda install graphviz) and try again. The graph's DOT text was saved to "
            f"{dot_path}; render it with 'dot -T{format} {dot_path} -o {path}', or get the "
            f"text itself from bricks.viz.to_dot()."
        )
    result = subprocess.run(
        [dot, f"-T{format}", "-o", path],
        input=source.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"render: 'dot -T{format}' failed (exit code {result.returncode}): "
                           f"{message}")
    return path


# ---------------------------------------------------------------- helpers


def _index_names(params):
    """Split ``params`` into names of leaves (by id) and of op outputs (by node, output nr)."""
    leaf_names: dict[int, str] = {}
    op_names: dict[tuple, tuple] = {}
    if params is None:
        return leaf_names, op_names
    if not hasattr(params, "items"):
        raise TypeError(f"to_dot: params must map names to tensors (a dict, as from "
                        f"dict(model.named_parameters())), got {type(params).__name__}")
    for name, t in params.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"to_dot: params[{name!r}] is a {type(t).__name__}, expected a "
                            f"Tensor")
        if t.grad_fn is None:
            leaf_names.setdefault(id(t), str(name))
        else:
            op_names.setdefault((id(t.grad_fn), t._output_nr), (str(name), t))
    return leaf_names, op_names


def _shape_text(shape, dtype) -> str:
    text = str(tuple(shape))
    if dtype != get_default_dtype():
        text += f" {dtype.name}"
    return text


def _array_text(what: str, data) -> str:
    """Small arrays in full, large ones as a one-line summary."""
    if data is None:
        return f"{what}: None"
    arr = to_numpy(data)
    if arr.size <= _MAX_PRINTED:
        if arr.ndim >= 2:  # one line per row keeps the node narrow
            rows = arr.reshape(-1, arr.shape[-1])
            return f"{what}:\n" + "\n".join(_format_values(r) for r in rows)
        return f"{what}: {_format_values(arr)}"
    if arr.dtype.kind in "fiu" and arr.size:
        a = arr.astype(xp.float64)
        return (f"{what}: mean={a.mean():.4g} std={a.std():.4g} "
                f"min={a.min():.4g} max={a.max():.4g}")
    return f"{what}: {arr.size} elements"


def _format_values(arr) -> str:
    if arr.ndim == 0:
        return _format_number(arr.item())
    return "[" + ", ".join(_format_number(v) for v in arr.tolist()) + "]"


def _format_number(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _quote(parts) -> str:
    """A DOT string literal with one line per part."""
    text = "\n".join(parts)
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'
