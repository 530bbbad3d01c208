"""bricks.symbolic: the lecture's API, errors, grad, graph printing/drawing, and each
optimization shown to happen (node counts, buffers)."""

import numpy as np
import pytest
import torch

import bricks
import bricks.nn.functional as F
from bricks import nn
from bricks.symbolic import Constant, Symbol, Variable, call, compile, grad
from bricks.symbolic.compiler import generate


def test_lecture_example_exactly():
    A = Variable('A')
    B = Variable('B')
    C = B * A
    D = C + Constant(1)
    f = compile(D)
    d = f(A=np.ones(10), B=np.ones(10) * 2)
    assert isinstance(d, np.ndarray)
    np.testing.assert_array_equal(d, np.full(10, 3.0))
    t = f(A=bricks.ones(10), B=bricks.ones(10) * 2)  # Tensors in, Tensor out
    assert isinstance(t, bricks.Tensor) and t.tolist() == [3.0] * 10
    assert bricks.compile is compile


def test_many_outputs_modules_functional_and_methods():
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    x = Variable('x', shape=(None, 4))
    y = Variable('y', dtype='int64')
    logits = model(x)
    loss = call(F.cross_entropy, logits, y)
    probs = logits.softmax(dim=1)
    f = compile([loss, probs, (x ** 2).sum(dim=1).sqrt()])
    X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    Y = np.array([0, 1, 2, 0, 1, 2])
    got = f(x=X, y=Y)
    tx, ty = torch.tensor(X), torch.tensor(Y)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    with torch.no_grad():
        for tp, p in zip(tm.parameters(), model.parameters()):
            tp.copy_(torch.tensor(p.data))
        want = [torch.nn.functional.cross_entropy(tm(tx), ty), tm(tx).softmax(1),
                (tx ** 2).sum(1).sqrt()]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-5, atol=1e-6)


def test_errors_name_the_variable():
    x = Variable('x', shape=(None, 3), dtype='float32')
    y = Variable('y')
    f = compile(x.sum() + y)
    with pytest.raises(TypeError, match="missing value for Variable 'y'"):
        f(x=np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="'z', which is not a Variable"):
        f(x=np.ones((2, 3), np.float32), y=1.0, z=2)
    with pytest.raises(ValueError, match=r"Variable 'x' was declared with shape \('\?', 3\)"):
        f(x=np.ones((2, 4), np.float32), y=1.0)
    with pytest.raises(TypeError, match="Variable 'x' was declared with dtype float32"):
        f(x=np.ones((2, 3)), y=1.0)
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(AttributeError, match="not known before"):
        _ = y.shape


def test_grad_compiled_with_output_matches_torch():
    w = Variable('w', shape=(3,))
    x = Variable('x', shape=(4, 3))
    loss = ((x @ w).tanh() ** 2).mean()
    gw, gx = grad(loss, [w, x])
    f = compile([loss, gw, gx])
    W = np.array([0.5, -1.0, 2.0], np.float32)
    X = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    got = f(w=W, x=X)
    tw, tx = torch.tensor(W, requires_grad=True), torch.tensor(X, requires_grad=True)
    tl = ((tx @ tw).tanh() ** 2).mean()
    tl.backward()
    for g, want in zip(got, [tl.detach(), tw.grad, tx.grad]):
        np.testing.assert_allclose(g, want.numpy(), rtol=1e-5, atol=1e-7)


def test_graph_prints_and_draws_before_and_after():
    A = Variable('A', shape=(3,))
    B = Variable('B', shape=(3,))
    f = compile(B * A + Constant(1.0))  # shapes known: compiled at once
    text = str(f.graph)
    assert "input A: float32[3]" in text and "fused[mul,add]" in text
    before = bricks.viz.to_dot(f.graph_before)
    after = bricks.viz.to_dot(f.graph)
    assert before.startswith("digraph") and "Mul" in before and "Add" in before
    assert "fused[mul,add]" in after and after.count("->") < before.count("->")


def test_shapeless_graph_made_on_first_call():
    v = Variable('v')
    f = compile(v * 2)
    with pytest.raises(RuntimeError, match="call the function once"):
        _ = f.graph
    f(v=np.ones(2))
    assert "input v: float64[2]" in str(f.graph)


# ---------------------------------------------------------------- optimizations, shown


def test_dead_code_elimination():
    x = Variable('x', shape=(3,))
    unused = (x * 3).exp()  # noqa: F841 - built, never an output
    kept = x + 1
    f = compile([kept, x.sum() * 0 + 1 + x.exp().sum() - x.exp().sum()])
    # The graph of the traced function drops what no output needs.
    g = compile(call(_with_dead_branch, x))
    assert g.graph.count("exp") == 0 and g.graph_before.count("Exp") == 1
    assert getattr(g.graph, "removed", 0) >= 1
    assert f(x=np.ones(3, np.float32))[0].tolist() == [2.0] * 3


def _with_dead_branch(x):
    _ = (x * 3).exp()  # computed, not used
    return x + 1


def test_constant_folding():
    x = Variable('x', shape=(2,))
    f = compile(x * (Constant(2.0) * Constant(3.0) + Constant(1.0)))
    assert f.graph_before.count("Mul") == 2 and f.graph_before.count("Add") == 1
    assert len(f.graph.nodes) == 1 and f.graph.folded >= 2
    np.testing.assert_array_equal(f(x=np.ones(2, np.float32)), [7.0, 7.0])


def test_common_subexpression_elimination():
    x = Variable('x', shape=(4,))
    f = compile((x.tanh() * 2) + (x.tanh() * 2))
    assert f.graph_before.count("Tanh") == 2
    assert str(f.graph).count("tanh") == 1 and f.graph.merged >= 2
    np.testing.assert_allclose(f(x=np.ones(4, np.float32)), 4 * np.tanh(1.0), rtol=1e-6)


def test_fused_elementwise_chain_uses_one_buffer():
    x = Variable('x', shape=(64,))
    y = Variable('y', shape=(64,))
    expr = ((x * y + 1.0).tanh() - y).exp() * x
    f = compile([expr.sum()])
    fused = [n for n in f.graph.nodes if n.op == "fused"]
    assert len(fused) == 1 and len(fused[0].attrs["steps"]) == 6
    plan = f._last[0]
    assert plan.n_kernels == 1 and len(plan.buffers) == 1  # one buffer for the chain
    X, Y = np.linspace(-1, 1, 64, dtype=np.float32), np.linspace(1, 2, 64, dtype=np.float32)
    want = (np.exp(np.tanh(X * Y + 1) - Y) * X).sum()
    np.testing.assert_allclose(f(x=X, y=Y)[0], want, rtol=1e-5)


def test_matmul_bias_and_softmax_cross_entropy_backward_fusions():
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = Variable('x', shape=(5, 4))
    y = Variable('y', shape=(5,), dtype='int64')
    loss = call(F.cross_entropy, model(x), y)
    f = compile([loss] + grad(loss, list(model.parameters())))
    g = f.graph
    assert g.count("linear") == 2 and g.count("matmul") == 3  # 2 forward, 3 weight/input grads
    assert g.count("ce_grad") == 1 and g.count("CrossEntropyBackward") == 0
    assert g.count("relu_grad") == 1
    X = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    Y = np.array([0, 1, 2, 1, 0])
    got = f(x=X, y=Y)
    loss_e = F.cross_entropy(model(bricks.tensor(X)), bricks.tensor(Y))
    loss_e.backward()
    np.testing.assert_array_equal(got[0], loss_e.data)  # bit-identical
    for p, gp in zip(model.parameters(), got[1:]):
        np.testing.assert_array_equal(p.grad.data, gp)


def test_buffers_reused_by_liveness():
    x = Variable('x', shape=(32, 32))
    h = x
    for _ in range(6):
        h = (h @ h).tanh() @ x
    f = compile(h.sum())
    plan = f._last[0]
    no_reuse = generate(f.graph.copy(), reuse=False)
    assert plan.n_kernels == no_reuse.n_kernels >= 12
    assert len(plan.buffers) <= 3 < len(no_reuse.buffers)
    X = np.eye(32, dtype=np.float32) * 0.5
    np.testing.assert_array_equal(plan.fn({"x": X}), no_reuse.fn({"x": X}))


def test_no_tensor_objects_per_call_in_a_lowered_plan():
    import gc

    x = Variable('x', shape=(8, 4))
    w = Variable('w', shape=(4, 4))
    f = compile([((x @ w).relu() * 2.0).sum()])
    assert "_T(" not in f.source and "_new(" not in f.source
    X, W = np.ones((8, 4), np.float32), np.ones((4, 4), np.float32)
    f(x=X, w=W)
    gc.collect()
    before = sum(1 for o in gc.get_objects() if type(o) is bricks.Tensor)
    for _ in range(50):
        f(x=X, w=W)
    after = sum(1 for o in gc.get_objects() if type(o) is bricks.Tensor)
    assert after == before


def test_compiled_train_step_graph_before_and_after():
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = bricks.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    @bricks.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    x, y = bricks.randn(16, 2), bricks.randn(16, 1)
    for _ in range(3):
        step(x, y)
    before, after = step.graph_before, step.graph
    assert before.count("MatMul") == 2 and after.count("linear") == 2
    assert before.count("TanhBackward") == 1 and after.count("tanh_grad") == 1
    assert after.count("deliver") == 4 and after.count("SGD.step") == 1
    # Every Function step became a NumPy kernel: no Function or Tensor made per call.
    assert not [n for n in after.nodes if n.op in ("call", "call_bwd")]
    assert "_new(" not in step.plan.source


# ---------------------------------------------------------------- symbols everywhere


def test_every_functional_takes_a_symbol_and_records_it():
    x = Variable('x')
    for name in F.__all__:
        fn = getattr(F, name)
        s = fn(x)  # records, runs nothing (no arguments are checked yet)
        assert isinstance(s, Symbol), name
        assert fn.__doc__ == fn.__wrapped__.__doc__ and fn.__name__ == name
    t = bricks.tensor([-1.0, 2.0])
    assert isinstance(F.relu(t), bricks.Tensor)  # eager as before


def test_functional_on_symbols_compiles_equal_to_eager():
    bricks.manual_seed(0)
    w, b = bricks.randn(3, 4), bricks.randn(3)
    x = Variable('x', shape=(None, 4))
    y = Variable('y', dtype='int64')

    def net(x, y):
        logits = F.linear(F.tanh(x), w, b)
        return [F.cross_entropy(logits, y), F.nll_loss(F.log_softmax(logits, dim=1), y),
                F.softmax(logits, dim=1),
                F.mse_loss(F.relu(x), x * 0.5), F.layer_norm(x, (4,))]

    outs = net(x, y)
    assert all(isinstance(o, Symbol) for o in outs)
    f = compile(outs)
    X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    Y = np.array([0, 1, 2, 0, 1, 2])
    got = f(x=X, y=Y)
    want = net(bricks.tensor(X), bricks.tensor(Y))
    for g, e in zip(got, want):
        np.testing.assert_array_equal(g, e.data)
    # The graph holds the ops the functions ran, not one opaque step per function.
    assert f.graph_before.count("CrossEntropy") == 1 and f.graph_before.count("Tanh") == 1


def test_custom_function_apply_takes_a_symbol():
    class ThreeXPlusOne(bricks.autograd.Function):  # a user's own op
        def forward(self, x):
            return 3 * x + 1

        def backward(self, grad):
            return grad * 3

    x = Variable('x', shape=(3,))
    y = ThreeXPlusOne.apply(x * x)
    assert isinstance(y, Symbol)
    f = compile([y.sum()] + grad(y.sum(), [x]))
    value, gx = f(x=np.array([1.0, 2.0, -1.0], np.float32))
    assert value == 21.0 and gx.tolist() == [6.0, 12.0, -6.0]


def test_relu_backward_kernel_keeps_every_bit():
    # where(y > 0, g, 0) exactly: +0 where the input was <= 0 even for g = -1, inf or nan;
    # the plan computes it as integer bits times a mask, into a buffer.
    x = Variable('x', shape=(2, 4))
    w = Variable('w', shape=(2, 4))
    loss = (x.relu() * w).sum()
    f = compile(grad(loss, [x]))
    assert f.graph.count("relu_grad") == 1 and "_np.where" not in f.source
    X = np.array([[-1.0, 0.0, 2.0, -0.0], [3.0, -2.0, np.nan, 1.0]], np.float32)
    W = np.array([[-1.0, np.inf, -0.0, np.nan], [np.nan, -np.inf, 5.0, -3.0]], np.float32)
    (got,) = f(x=X, w=W)
    xt = bricks.tensor(X, requires_grad=True)
    (xt.relu() * bricks.tensor(W)).sum().backward()
    np.testing.assert_array_equal(got.view(np.int32), xt.grad.data.view(np.int32))
