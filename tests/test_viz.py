"""bricks.viz: the graph as DOT text, and rendering it with Graphviz."""

import re
import shutil
from pathlib import Path

import pytest

import bricks
from bricks import viz
from bricks.viz import GraphvizNotFoundError, render, to_dot

_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"', re.M)
_EDGE = re.compile(r'^\s*(\w+) -> (\w+)(?: \[label="(\d+)"\])?;', re.M)


def parse(dot):
    """Node id -> list of label lines, and the edges as (source label, target label) pairs."""
    labels = {nid: text.split("\\n") for nid, text in _NODE.findall(dot)}
    edges = [(labels[a], labels[b], nr) for a, b, nr in _EDGE.findall(dot)]
    return labels, edges


def first_lines(dot):
    labels, edges = parse(dot)
    names = sorted(lines[0] for lines in labels.values())
    pairs = sorted((a[0], b[0]) for a, b, _ in edges)
    return names, pairs


def test_small_expression_has_its_ops_leaves_and_edges():
    x = bricks.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = bricks.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = (x * w + x).sum()
    dot = to_dot(y, params={"x": x, "w": w})
    assert dot.startswith("digraph bricks {") and dot.rstrip().endswith("}")
    names, pairs = first_lines(dot)
    assert names == ["AddBackward", "MulBackward", "SumBackward", "output", "w", "x"]
    assert pairs == [
        ("AddBackward", "SumBackward"),
        ("MulBackward", "AddBackward"),
        ("SumBackward", "output"),
        ("w", "MulBackward"),
        ("x", "AddBackward"),  # x feeds two ops but is drawn once
        ("x", "MulBackward"),
    ]
    labels, _ = parse(dot)
    by_name = {lines[0]: lines for lines in labels.values()}
    assert by_name["MulBackward"][1] == "(3,)"
    assert by_name["SumBackward"][1] == "()"
    assert by_name["x"][1] == "(3,)"


def test_unnamed_leaves_show_their_shape_and_constants_are_not_drawn():
    x = bricks.ones(2, 3, requires_grad=True)
    y = x * bricks.ones(2, 3)  # a constant: no requires_grad, not part of the graph
    labels, edges = parse(to_dot(y))
    assert sorted(lines[0] for lines in labels.values()) == ["(2, 3)", "MulBackward", "output"]
    assert len(edges) == 2


def test_same_tensor_used_twice_gives_two_edges():
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    _, edges = parse(to_dot(h * h))
    assert [(a[0], b[0]) for a, b, _ in edges].count(("ExpBackward", "MulBackward")) == 2


def test_named_intermediate_tensor_labels_its_op():
    x = bricks.tensor([[1.0, -2.0]], requires_grad=True)
    w = bricks.tensor([[1.0], [1.0]], requires_grad=True)
    h = (x @ w).relu()
    h.retain_grad()
    loss = (h * 3).sum()
    loss.backward()
    dot = to_dot(loss, show_values=True, show_grads=True, params={"x": x, "w": w, "h": h})
    labels, _ = parse(dot)
    relu = next(lines for lines in labels.values() if "ReluBackward" in lines)
    # 2-D values go one row per line; h.grad is there because of retain_grad.
    assert relu == ["h", "ReluBackward", "(1, 1)", "h value:", "[0]", "h grad:", "[3]"]


def test_values_and_grads_when_asked():
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    assert "value" not in to_dot(y) and "grad:" not in to_dot(y)
    dot_before = to_dot(y, show_grads=True, params={"x": x})
    assert "grad: None" in dot_before
    y.backward()
    dot = to_dot(y, show_values=True, show_grads=True, params={"x": x})
    labels, _ = parse(dot)
    by_name = {lines[0]: lines for lines in labels.values()}
    assert by_name["x"] == ["x", "(2,)", "value: [1, 2]", "grad: [2, 4]"]
    assert by_name["output"] == ["output", "()", "value: 5"]


def test_large_arrays_are_summarized():
    x = bricks.arange(100, dtype=bricks.float32).requires_grad_()
    y = x * 2
    y.sum().backward()
    dot = to_dot(y, show_values=True, show_grads=True)
    assert "value: mean=49.5 std=28.87 min=0 max=99" in dot
    assert "grad: mean=2 std=0 min=2 max=2" in dot
    assert "99]" not in dot


def test_non_default_dtype_is_shown():
    x = bricks.tensor([1.0, 2.0], dtype=bricks.float64, requires_grad=True)
    labels, _ = parse(to_dot(x.exp()))
    assert ["ExpBackward", "(2,) float64"] in labels.values()


def test_several_outputs_and_multi_output_ops():
    x = bricks.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    values, _ = x.max(dim=1)
    a, b = x.split(1, dim=0)
    dot = to_dot([values.sum(), a * b])
    names, pairs = first_lines(dot)
    assert names.count("output") == 2
    assert names.count("(2, 2)") == 1  # the shared leaf, once
    # max(dim) is one node with two outputs (values, indices): its edges say which one.
    labels, edges = parse(dot)
    max_node = next(lines for lines in labels.values() if lines[0].startswith("Max"))
    assert max_node[1] == "(2,) (2,) int64"
    assert [nr for src, _, nr in edges if src is max_node] == ["0"]


def test_leaf_alone():
    x = bricks.tensor([1.0], requires_grad=True)
    labels, edges = parse(to_dot(x, params={"x": x}))
    assert list(labels.values()) == [["x", "(1,)"]] and edges == []


def test_deep_chain_does_not_recurse():
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    dot = to_dot(y, params={"x": x})
    assert dot.count("MulBackward") == 10_000
    assert dot.count("->") == 10_001


def test_bad_arguments_say_what_was_expected(tmp_path):
    x = bricks.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="expected a Tensor"):
        to_dot([x, 3.0])
    with pytest.raises(TypeError, match="params"):
        to_dot(x * 2, params=[x])
    with pytest.raises(TypeError, match="params\\['w'\\]"):
        to_dot(x * 2, params={"w": 1.0})
    with pytest.raises(ValueError, match="svg, png, pdf"):
        render(x * 2, tmp_path / "graph.gif", format="gif")


def test_viz_does_not_import_numpy_by_name():
    source = Path(viz.__file__).read_text()
    assert not re.search(r"^\s*(import|from)\s+numpy", source, re.M)


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_render_writes_a_real_file(tmp_path, fmt, magic):
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    out = render(y, tmp_path / f"graph.{fmt}", show_values=True, show_grads=True,
                 params={"x": x})
    data = Path(out).read_bytes()
    assert out == str(tmp_path / f"graph.{fmt}")
    assert magic in data[:400]


@needs_dot
def test_render_adds_the_suffix_from_format(tmp_path):
    x = bricks.tensor([1.0], requires_grad=True)
    out = render(x.exp(), tmp_path / "graph", format="svg")
    assert out.endswith("graph.svg") and Path(out).exists()


def test_render_without_graphviz_raises_a_clear_error_and_saves_the_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(GraphvizNotFoundError, match="install graphviz") as info:
        render(y, tmp_path / "graph.svg")
    assert "apt-get install graphviz" in str(info.value)
    saved = tmp_path / "graph.dot"
    assert str(saved) in str(info.value)
    assert saved.read_text() == to_dot(y)
    assert not (tmp_path / "graph.svg").exists()

