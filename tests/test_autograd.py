"""Graph semantics of the backward engine: accumulation, retain_graph, grad modes, hooks,
in-place detection, deep graphs, ``bricks.grad`` and custom Functions."""

import gc
import sys
import weakref

import numpy as np
import pytest
import torch

import bricks
from bricks import Function
from bricks.testing import gradcheck, gradgradcheck


def leaf(values, dtype=None):
    return bricks.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------- the micrograd README


def test_micrograd_readme_expression():
    a = leaf(-4.0, bricks.float64)
    b = leaf(2.0, bricks.float64)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    g.backward()
    assert a.grad.item() == pytest.approx(138.8338, abs=1e-4)
    assert b.grad.item() == pytest.approx(645.5773, abs=1e-4)


def test_micrograd_readme_expression_in_float32():
    a, b = leaf(-4.0), leaf(2.0)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    g = (c - d) ** 2 / 2.0 + 10.0 / (c - d) ** 2
    g.backward()
    assert g.dtype == np.float32 and a.grad.dtype == np.float32
    assert g.item() == pytest.approx(24.7041, rel=1e-5)
    assert a.grad.item() == pytest.approx(138.8338, rel=1e-5)
    assert b.grad.item() == pytest.approx(645.5773, rel=1e-5)


# ---------------------------------------------------------------- graph shapes


def test_fan_out_accumulates():
    x = leaf([1.0, 2.0])
    y = x * 3 + x * x + x.exp()
    y.sum().backward()
    v = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * v + np.exp(v), rtol=1e-6)


def test_diamond_graph():
    x = leaf(1.5, bricks.float64)
    a = x.sin()
    b = a * 2
    c = a.exp()
    d = b * c
    d.backward()
    # d = 2 sin(x) exp(sin(x));  d' = 2 cos(x) exp(sin x) (1 + sin x)
    v = 1.5
    assert x.grad.item() == pytest.approx(2 * np.cos(v) * np.exp(np.sin(v)) * (1 + np.sin(v)))


def test_a_plus_a_then_square():
    a = leaf([3.0, -1.0])
    b = a + a
    c = b * b
    c.sum().backward()
    # c = 4 a^2
    assert a.grad.tolist() == [24.0, -8.0]


def test_node_reused_in_several_outputs():
    x = leaf([1.0, 2.0, 3.0], bricks.float64)
    h = x * x
    y1 = h.sum()
    y2 = (h * 3).sum()
    bricks.autograd.backward([y1, y2])
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.detach().numpy())
    x2 = leaf([1.0, 2.0], bricks.float64)
    h2 = x2 ** 2
    g1, = bricks.grad([h2.sum(), (h2 * 2).sum()], [x2])
    np.testing.assert_allclose(g1.numpy(), 6 * x2.detach().numpy())


def test_multi_output_node_with_one_unused_output():
    x = leaf([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    values, indices = x.max(dim=1)
    values.sum().backward()  # indices has no gradient, and the engine fills nothing for it
    assert x.grad.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert indices.tolist() == [0, 1]


def test_same_tensor_twice_as_root():
    x = leaf([1.0, 2.0])
    y = x * 2
    bricks.autograd.backward([y, y], [bricks.ones(2), bricks.ones(2) * 3])
    assert x.grad.tolist() == [8.0, 8.0]


def test_backward_on_a_leaf_root():
    x = leaf([1.0, 2.0])
    x.backward(bricks.tensor([3.0, 4.0]))
    assert x.grad.tolist() == [3.0, 4.0]


def test_gradients_accumulate_over_two_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    (x * 1).sum().backward()
    assert x.grad.tolist() == [6.0, 8.0]


def test_leaf_grads_are_independent_arrays():
    a, b = leaf([1.0]), leaf([1.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    with bricks.no_grad():
        a.grad.add_(5)
    assert b.grad.tolist() == [1.0]


def test_grad_dtype_matches_leaf_dtype():
    x = leaf([1.0, 2.0], bricks.float64)
    w = leaf([1.0, 2.0])  # float32
    (x * w).sum().backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float32


def test_broadcast_backward_reduces_to_operand_shape():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.ones(4))
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and a.grad.tolist() == [[4.0]] * 3
    assert b.grad.shape == (4,) and b.grad.tolist() == [3.0] * 4


# ---------------------------------------------------------------- retain_graph and errors


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_non_scalar_backward_without_gradient_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar outputs.*shape \\(2,\\).*gradient="):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="gradient has shape"):
        (x * 2).backward(bricks.ones(3))


def test_backward_of_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        bricks.tensor([1.0]).sum().backward()
    x = leaf([1.0])
    with bricks.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_one_element_non_scalar_backward_is_allowed():
    x = leaf([[2.0]])
    (x * x).backward()
    assert x.grad.tolist() == [[4.0]]


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(bricks.tensor([1.0, 0.5, 0.0]))
    assert x.grad.tolist() == [2.0, 2.0, 0.0]


# ---------------------------------------------------------------- grad modes


def test_no_grad_context_manager():
    x = leaf([1.0])
    with bricks.no_grad():
        y = x * 2
        assert not bricks.is_grad_enabled()
    assert bricks.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with bricks.no_grad():
            raise ValueError
    assert bricks.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    x = leaf([1.0])

    @bricks.no_grad()
    def f(t):
        return t * 2

    @bricks.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    with bricks.no_grad():
        assert g(x).requires_grad
        assert not bricks.is_grad_enabled()
    assert f.__name__ == "f"


def test_enable_grad_inside_no_grad_and_nesting():
    x = leaf([1.0])
    with bricks.no_grad():
        with bricks.enable_grad():
            y = x * 2
            with bricks.no_grad():
                z = x * 2
            w = x * 2
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled_as_function_context_and_decorator():
    x = leaf([1.0])
    try:
        bricks.set_grad_enabled(False)
        assert not bricks.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        bricks.set_grad_enabled(True)
    assert bricks.is_grad_enabled()
    with bricks.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert bricks.is_grad_enabled()
    with bricks.no_grad():
        with bricks.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not bricks.is_grad_enabled()

    @bricks.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert bricks.is_grad_enabled(), "decorating must not change the mode outside"
    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_backward_runs_under_no_grad_unless_create_graph():
    x = leaf([2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.requires_grad))
    (x ** 3).sum().backward()
    assert seen == [False] and not x.grad.requires_grad
    x.grad = None
    (x ** 3).sum().backward(create_graph=True)
    assert seen[-1] is True and x.grad.requires_grad
    assert bricks.is_grad_enabled()


# ---------------------------------------------------------------- hooks and retain_grad


def test_hook_on_leaf_sees_and_replaces_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [30.0, 30.0]


def test_hook_on_non_leaf_changes_upstream_gradient():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: g * 0.5)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0]
    assert y.grad is None, "a non-leaf keeps no .grad unless retain_grad() was called"


def test_hook_handle_remove():
    x = leaf([1.0])
    y = x * 2
    calls = []
    h1 = x.register_hook(lambda g: calls.append("leaf"))
    h2 = y.register_hook(lambda g: calls.append("node"))
    h1.remove()
    h2.remove()
    h2.remove()  # twice is harmless
    (y * 1).sum().backward()
    assert calls == []
    assert x.grad.tolist() == [2.0]


def test_hook_sees_summed_gradient_of_fan_out_node():
    x = leaf([1.0])
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.item()))
    (y * 3 + y * 4).sum().backward()
    assert seen == [7.0]


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    z = y * y
    z.retain_grad()
    z.sum().backward(retain_graph=True)
    assert z.grad.tolist() == [1.0, 1.0]
    assert y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]
    y.retain_grad()  # calling twice does not double-count
    (y * y).sum().backward()
    assert y.grad.tolist() == [12.0, 24.0]  # accumulates, as in PyTorch
    assert x.grad.tolist() == [36.0, 72.0]


def test_leaf_hook_runs_once_on_the_summed_gradient():
    # A leaf used twice must see one call with the total, not one call per use: a clipping
    # hook applied to partial gradients gives a different (wrong) result.
    for lib in (bricks, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        x.register_hook(lambda g, seen=seen: seen.append(g.tolist()))
        x.register_hook(lambda g: g.clamp(-3, 3))
        (x * 2 + x * 3).sum().backward()
        assert seen == [[5.0, 5.0]], lib.__name__
        assert x.grad.tolist() == [3.0, 3.0], lib.__name__


def test_retain_grad_sees_gradient_after_all_hooks():
    for lib in (bricks, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1
        y.retain_grad()
        y.register_hook(lambda g: g * 2)
        y.sum().backward()
        assert y.grad.tolist() == [2.0, 2.0], lib.__name__
        assert x.grad.tolist() == [2.0, 2.0], lib.__name__


def test_grad_does_not_run_hooks_of_leaves_it_does_not_differentiate():
    x, w = leaf([1.0]), leaf([1.0])
    calls = []
    w.register_hook(lambda g: calls.append(1))
    bricks.grad((x * w).sum(), x)
    assert calls == []
    bricks.grad((x * w).sum(), w)
    assert calls == [1]


def test_create_graph_gives_each_leaf_its_own_grad():
    a, b = leaf([1.0]), leaf([1.0])
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    with bricks.no_grad():
        a.grad.zero_()  # what an optimizer's zero_grad does
    assert b.grad.tolist() == [1.0]


def test_retain_grad_on_leaf_is_noop():
    x = leaf([1.0])
    x.retain_grad()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]


def test_hooks_match_torch_order_of_effects():
    values = [1.0, -2.0, 3.0]
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    outs = []
    for t in (x, tx):
        h = t * 2
        h.register_hook(lambda g: g + 1)
        k = h.sin()
        k.register_hook(lambda g: g * 3)
        (k * h).sum().backward()
        outs.append(t.grad.detach().numpy() if hasattr(t.grad, "detach") else t.grad)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5)


# ---------------------------------------------------------------- in-place detection


def test_modifying_saved_input_under_no_grad_is_detected():
    x = leaf([1.0, 2.0])
    w = bricks.tensor([3.0, 4.0])
    y = (x * w).sum()  # saves w for x's gradient
    with bricks.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation.*version 1.*"
                                           "expected version 0"):
        y.backward()


def test_modifying_saved_output_is_detected():
    x = leaf([1.0, 2.0])
    y = x.exp()  # saves its output
    z = y.sum()
    with bricks.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="in-place.*version"):
        z.backward()


def test_modifying_a_view_of_saved_tensor_is_detected():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    w = bricks.tensor([1.0, 2.0, 3.0, 4.0])
    y = (x * w).sum()
    v = w.reshape(2, 2)
    with bricks.no_grad():
        v[0, 0] = 10.0
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


@pytest.mark.parametrize(
    "view",
    [
        lambda w: w.reshape(2, 2), lambda w: w.view(4), lambda w: w.T, lambda w: w[1:3],
        lambda w: w[None], lambda w: w[...], lambda w: w.unsqueeze(0),
        lambda w: w.flatten(), lambda w: w.split(2)[1], lambda w: w.chunk(2)[0],
        lambda w: w.flip(0), lambda w: w.detach(), lambda w: w.float(),
        lambda w: w.reshape(2, 2).transpose(0, 1).permute(1, 0)[0],
    ],
)
def test_inplace_through_any_view_of_saved_tensor_is_detected(view):
    x = leaf([1.0, 2.0, 3.0, 4.0])
    w = bricks.tensor([1.0, 2.0, 3.0, 4.0])
    y = (x * w).sum()
    v = view(w)
    assert np.shares_memory(v.data, w.data)
    with bricks.no_grad():
        v.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_integer_index_to_zero_dim_is_a_view():
    w = bricks.zeros(3)
    v = w[1]
    with bricks.no_grad():
        v.fill_(1.0)
    assert w.tolist() == [0.0, 1.0, 0.0]


def test_modifying_a_parameter_after_backward_is_fine():
    w = leaf([1.0, 2.0])
    y = (w * w).sum()
    y.backward()
    with bricks.no_grad():
        w.sub_(w.grad, alpha=0.1)
    y2 = (w * w).sum()
    y2.backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0 + 1.6, 4.0 + 3.2], rtol=1e-6)


def test_unsaved_tensor_may_change_in_place():
    x = leaf([1.0, 2.0])
    c = bricks.tensor([5.0, 5.0])
    y = (x + c).sum()  # add saves nothing
    with bricks.no_grad():
        c.zero_()
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("op", ["add_", "mul_", "zero_", "fill_", "copy_", "uniform_",
                                "normal_", "setitem"])
def test_inplace_on_leaf_requiring_grad_outside_no_grad_errors(op):
    x = leaf([1.0, 2.0])
    calls = {
        "add_": lambda: x.add_(1), "mul_": lambda: x.mul_(2), "zero_": lambda: x.zero_(),
        "fill_": lambda: x.fill_(3), "copy_": lambda: x.copy_(bricks.ones(2)),
        "uniform_": lambda: x.uniform_(), "normal_": lambda: x.normal_(),
        "setitem": lambda: x.__setitem__(0, 5.0),
    }
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        calls[op]()
    assert x.tolist() == [1.0, 2.0]


def test_inplace_on_graph_tensor_errors():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="in-place"):
        y.add_(1)


# ---------------------------------------------------------------- deep graphs


def _chain(x, n, op):
    # The cyclic GC rescans the ever-growing graph while it is built (seconds for 100,000
    # nodes); it has nothing to collect here, so it is paused for the build.
    gc.disable()
    try:
        y = x
        for _ in range(n):
            y = op(y)
    finally:
        gc.enable()
    return y


@pytest.mark.slow
def test_deep_chain_backward_is_iterative():
    n = 100_000
    assert n > sys.getrecursionlimit()
    x = leaf(1.0, bricks.float64)
    y = _chain(x, n, lambda t: t + 1.0)
    y.backward()
    assert x.grad.item() == 1.0
    assert y.item() == n + 1.0
    z = _chain(x, n, lambda t: t * 1.0)
    (g,) = bricks.grad(z, x, create_graph=True)
    assert g.item() == 1.0


@pytest.mark.slow
def test_deep_chain_is_freed_by_refcount_without_recursion_error():
    n = 100_000
    x = leaf(1.0, bricks.float64)
    y = _chain(x, n, lambda t: t * 1.0)
    bottom = x * 1.0
    first = weakref.ref(bottom.grad_fn)
    top = _chain(bottom, n, lambda t: t * 1.0)
    del bottom
    assert first() is not None
    del top  # tearing down 100,000 nested nodes must neither recurse nor need the cyclic GC
    assert first() is None, "the graph holds a reference cycle: only gc.collect() frees it"
    y.backward()  # backward frees saved values as it goes; dropping y afterwards is fine too
    del y
    assert x.grad.item() == 1.0


# ---------------------------------------------------------------- bricks.grad


def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    gx, gw = bricks.grad(y, [x, w])
    assert gx.tolist() == [3.0, 4.0] and gw.tolist() == [1.0, 2.0]
    assert x.grad is None and w.grad is None
    (gx_only,) = bricks.grad((x * x).sum(), x)
    assert gx_only.tolist() == [2.0, 4.0]


def test_grad_allow_unused():
    x, z = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="input 1.*not used.*allow_unused=True"):
        bricks.grad(y, [x, z], retain_graph=True)
    gx, gz = bricks.grad(y, [x, z], allow_unused=True)
    assert gx.tolist() == [2.0] and gz is None


def test_grad_with_the_same_input_twice():
    x = leaf([1.0, 2.0])
    h = x * 3
    gx1, gh1, gx2, gh2 = bricks.grad((h * x).sum(), [x, h, x, h])
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    th = tx * 3
    ref = torch.autograd.grad((th * tx).sum(), [tx, th, tx, th])
    for mine, theirs in zip((gx1, gh1, gx2, gh2), ref):
        assert mine.tolist() == theirs.tolist()


def test_grad_with_grad_outputs():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    (g,) = bricks.grad(y, x, grad_outputs=bricks.tensor([1.0, 0.0, 2.0]))
    assert g.tolist() == [2.0, 0.0, 12.0]
    a = leaf([1.0, 2.0])
    y1, y2 = a * 2, a * a
    (g,) = bricks.grad([y1, y2], a, grad_outputs=[bricks.ones(2), bricks.tensor([1.0, 1.0])])
    assert g.tolist() == [4.0, 6.0]
    with pytest.raises(ValueError, match="2 outputs but 1 grad_outputs"):
        bricks.grad([a * 2, a * 3], a, grad_outputs=[bricks.ones(2)])


def test_grad_with_respect_to_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    gh, gx = bricks.grad(y, [h, x])
    assert gh.tolist() == [6.0, 12.0]
    assert gx.tolist() == [18.0, 36.0]


def test_grad_create_graph_gives_higher_derivatives():
    x = leaf(2.0, bricks.float64)
    y = x ** 4
    (g1,) = bricks.grad(y, x, create_graph=True)
    assert g1.requires_grad and g1.item() == 32.0
    (g2,) = bricks.grad(g1, x, create_graph=True)
    assert g2.item() == 48.0
    (g3,) = bricks.grad(g2, x)
    assert g3.item() == 48.0 and not g3.requires_grad


def test_backward_create_graph_then_differentiate_grad():
    x = leaf([1.0, 2.0], bricks.float64)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    (h,) = bricks.grad(g.sum(), x)
    assert h.tolist() == [6.0, 12.0]


def test_grad_without_create_graph_frees_graph_by_default():
    x = leaf([1.0])
    y = (x.exp()).sum()
    bricks.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        bricks.grad(y, x)
    z = (x.exp()).sum()
    bricks.grad(z, x, retain_graph=True)
    (g,) = bricks.grad(z, x)
    assert g.item() == pytest.approx(np.e)


def test_grad_input_errors():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        bricks.grad((x * 2).sum(), bricks.tensor([1.0]))
    with pytest.raises(TypeError, match="expected a Tensor"):
        bricks.grad((x * 2).sum(), [3.0])


def test_grad_only_runs_needed_part_of_graph():
    calls = []

    class Spy(Function):
        def forward(self, x):
            return x * 1

        def backward(self, g):
            calls.append(1)
            return g

    x, z = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum() + Spy.apply(z).sum()
    (gx,) = bricks.grad(y, x)
    assert gx.tolist() == [2.0] and calls == []


# ---------------------------------------------------------------- custom Functions


class Cube(Function):
    """The example from autograd.py's docstring."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 3 * x * x


class MulAdd(Function):
    """Two inputs, a keyword option, a saved output, two outputs."""

    def forward(self, a, b, scale=1.0):
        y = a * b * scale
        s = a + b
        self.scale = scale
        self.save_for_backward(a, b, y)
        return y, s

    def backward(self, gy, gs):
        a, b, y = self.saved_tensors
        return gy * b * self.scale + gs, gy * a * self.scale + gs


def test_docstring_custom_function_works():
    x = bricks.tensor([2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.tolist() == [8.0] and y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [12.0]


def test_custom_function_gradcheck_and_gradgradcheck():
    x = bricks.randn(4, dtype=bricks.float64, requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t), (x,))
    assert gradgradcheck(lambda t: Cube.apply(t), (x,))


def test_custom_function_with_two_outputs_and_options():
    a = bricks.randn(3, dtype=bricks.float64, requires_grad=True)
    b = bricks.randn(3, dtype=bricks.float64, requires_grad=True)
    y, s = MulAdd.apply(a, b, scale=2.0)
    np.testing.assert_allclose(y.detach().numpy(), 2 * a.detach().numpy() * b.detach().numpy())
    assert y.grad_fn is s.grad_fn
    assert gradcheck(lambda p, q: MulAdd.apply(p, q, scale=2.0), (a, b))
    assert gradgradcheck(lambda p, q: MulAdd.apply(p, q, scale=2.0), (a, b))


def test_custom_function_without_grad_records_nothing():
    x = bricks.tensor([2.0])
    y = Cube.apply(x)
    assert y.grad_fn is None and not y.requires_grad
    with bricks.no_grad():
        assert Cube.apply(leaf([1.0])).grad_fn is None


def test_custom_function_needs_input_grad():
    seen = []

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, g):
            seen.append(self.needs_input_grad)
            return g, g

    Probe.apply(leaf([1.0]), bricks.tensor([2.0])).sum().backward()
    assert seen == [(True, False)]


def test_custom_function_returning_wrong_shape_or_count_errors():
    class BadShape(Function):
        def forward(self, x):
            return x.sum()

        def backward(self, g):
            return g  # should be broadcast back to x's shape

    class BadCount(Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return g, g

    with pytest.raises(RuntimeError, match="BadShapeBackward.*shape \\(\\).*shape \\(3,\\)"):
        BadShape.apply(leaf([1.0, 2.0, 3.0])).backward()
    with pytest.raises(RuntimeError, match="BadCountBackward returned 2 gradients for 1 inputs"):
        BadCount.apply(leaf([1.0])).sum().backward()


def test_custom_function_saved_input_version_check():
    x = leaf([2.0])
    c = bricks.tensor([3.0])

    class Scale(Function):
        def forward(self, a, b):
            self.save_for_backward(b)
            return a * b

        def backward(self, g):
            (b,) = self.saved_tensors
            return g * b, None

    y = Scale.apply(x, c).sum()
    with bricks.no_grad():
        c.fill_(0)
    with pytest.raises(RuntimeError, match="ScaleBackward.*version"):
        y.backward()


# ---------------------------------------------------------------- against torch


def test_mlp_gradients_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 2))
    params = [rng.standard_normal(s) for s in [(2, 8), (8,), (8, 8), (8,), (8, 1), (1,)]]
    target = rng.standard_normal((16, 1))

    def loss(lib, ps, xx, tt):
        h = (xx @ ps[0] + ps[1]).tanh()
        h = (h @ ps[2] + ps[3]).relu()
        out = h @ ps[4] + ps[5]
        return ((out - tt) ** 2).mean()

    bp = [bricks.tensor(p, requires_grad=True) for p in params]
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    lb = loss(bricks, bp, bricks.tensor(x), bricks.tensor(target))
    lt = loss(torch, tp, torch.tensor(x), torch.tensor(target))
    lb.backward()
    lt.backward()
    assert lb.item() == pytest.approx(lt.item(), rel=1e-12)
    for a, b in zip(bp, tp):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_grad_mode_is_per_thread():
    # A no_grad block in one thread must not stop another thread from recording.
    import threading

    inside, recorded = threading.Event(), {}
    release = threading.Event()

    def hold_no_grad():
        with bricks.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    inside.wait(5)
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    recorded["requires_grad"] = (x * x).requires_grad
    release.set()
    t.join()
    assert recorded["requires_grad"] is True
    assert bricks.is_grad_enabled()


# ---------------------------------------------------------------- issue 10.4


class _ScaleBy(bricks.autograd.Function):
    def forward(self, x, c):
        self.c = c
        return x * c

    def backward(self, grad):
        return grad * self.c, None


@pytest.mark.parametrize("c", [2.5, 3, np.float64(2.5), np.float32(2.0), np.array(1.5),
                               np.array([1.0, 2.0, 3.0])])
def test_function_apply_takes_numbers_and_arrays_as_constants(c):
    x = bricks.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = _ScaleBy.apply(x, c)
    assert y.dtype == (np.ones(3, np.float32) * c).dtype  # forward got c itself (NumPy's rules)
    y.sum().backward()
    expected = np.broadcast_to(np.asarray(c, dtype=np.float64), (3,))
    np.testing.assert_allclose(x.grad.numpy(), expected)
    np.testing.assert_allclose(y.detach().numpy(), np.array([1.0, 2.0, 3.0]) * expected,
                               rtol=1e-6)


def test_function_apply_with_a_number_first_and_saved():
    class AddMul(bricks.autograd.Function):
        def forward(self, c, x):
            self.save_for_backward(c, x)
            return c * x + c

        def backward(self, grad):
            c, x = self.saved_tensors
            return None, grad * c

    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    AddMul.apply(3.0, x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_function_apply_rejects_other_objects_clearly():
    with pytest.raises(TypeError, match=r"_ScaleBy.apply: input 1 is a str; pass Tensors"):
        _ScaleBy.apply(bricks.ones(2), "2")


# ---------------------------------------------------------------- issue 11: GC pause


def test_cyclic_gc_is_paused_while_a_graph_is_built_and_resumed_by_backward():
    assert gc.isenabled()
    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    assert not gc.isenabled()  # recording a graph paused the collector
    y.backward()
    assert gc.isenabled()  # backward consumed the graph: back on
    with bricks.no_grad():
        _ = x * 2
    assert gc.isenabled()  # nothing recorded, nothing paused
    y = (x * 3).sum()
    with pytest.raises(RuntimeError):
        bricks.grad(y, bricks.tensor([1.0], requires_grad=True))  # an error in backward ...
    assert gc.isenabled()  # ... still resumes it


def test_gc_pause_leaves_a_collector_the_user_switched_off_alone():
    x = bricks.tensor([1.0], requires_grad=True)
    gc.disable()
    try:
        (x * 2).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_graph_never_backpropagated_still_lets_the_collector_run(monkeypatch):
    pause = bricks.autograd._gc_pause
    monkeypatch.setattr(pause, "LIMIT", 50)
    runs = []

    def note(phase, info):
        if phase == "start":
            runs.append(info["generation"])

    x = bricks.tensor([1.0], requires_grad=True)
    gc.callbacks.append(note)
    try:
        for _ in range(120):
            x = x * 1.0  # recorded, never backpropagated
    finally:
        gc.callbacks.remove(note)
        pause.end()
    assert runs  # the young generations were collected along the way
    assert gc.isenabled()


@pytest.mark.parametrize("create_graph", [False, True])
def test_relu_backward_keeps_exact_zeros_for_inf_and_nan_upstream(create_graph):
    x = bricks.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    g = bricks.tensor([float("inf"), 1.0, float("nan"), float("-inf")])
    (gx,) = bricks.grad(bricks.relu(x), x, g, create_graph=create_graph)
    xt = torch.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    (gt,) = torch.autograd.grad(torch.relu(xt), xt, torch.tensor(g.numpy()))
    np.testing.assert_array_equal(gx.detach().numpy(), gt.numpy())


def test_fast_path_leaf_gradients_are_not_shared_between_leaves():
    """Fast-path results a leaf keeps uncopied must be its own: in-place changes to one
    .grad never show up in another (Add hands the same gradient to both inputs)."""
    a = bricks.tensor([1.0, 2.0], requires_grad=True)
    b = bricks.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data += 1
    assert b.grad.tolist() == [1.0, 1.0]
    w = bricks.tensor([[1.0, 2.0]], requires_grad=True)
    x = bricks.tensor([[1.0, 1.0]])
    (bricks.nn.functional.linear(x, w) * 2).sum().backward()
    w.grad.data[0, 0] = 100.0  # writable, owned
    assert w.grad.tolist() == [[100.0, 2.0]]


def test_next_edges_name_where_each_gradient_goes():
    """Edge(fn, output_nr) for an input made by an op, LeafEdge(leaf) for a leaf that
    requires grad, None for a constant: the engine and viz read them by type."""
    from bricks.autograd import Edge, LeafEdge

    x = bricks.tensor([1.0, 2.0], requires_grad=True)
    c = bricks.tensor([3.0, 4.0])
    y = x * 2

    class Halves(Function):  # two outputs, to see output_nr in an edge
        def forward(self, v):
            return v[:1] * 1.0, v[1:] * 1.0

        def backward(self, ga, gb):
            return bricks.cat([ga, gb])

    a, b = Halves.apply(bricks.tensor([1.0, 2.0], requires_grad=True))
    z = y * c + b
    mul = z.grad_fn.next_edges[0][0]
    assert type(mul.next_edges[0]) is Edge and mul.next_edges[0] == (y.grad_fn, 0)
    assert mul.next_edges[0].fn is y.grad_fn and mul.next_edges[0].output_nr == 0
    assert mul.next_edges[1] is None
    assert type(y.grad_fn.next_edges[0]) is LeafEdge and y.grad_fn.next_edges[0].leaf is x
    assert z.grad_fn.next_edges[1] == Edge(b.grad_fn, b._output_nr)
    assert b._output_nr == 1 and a._output_nr == 0


def test_const_wraps_without_copy_or_graph():
    from bricks.tensor import const

    a = np.arange(3.0)
    t = const(a)
    assert t.data is a and not t.requires_grad and t.grad_fn is None and t.is_leaf


def test_float_input_converts_numbers_and_integers_and_names_the_op():
    from bricks.functions.elementwise import float_input

    x = bricks.tensor([1.0])
    assert float_input(x, "op") is x
    assert float_input([1, 2], "op").dtype == bricks.get_default_dtype()
    assert float_input(bricks.tensor([1, 2]), "op").dtype == bricks.get_default_dtype()
    with pytest.raises(TypeError, match="sigmoid: input must be a Tensor, got object"):
        bricks.sigmoid(object())
    with pytest.raises(TypeError, match="leaky_relu: input must be a Tensor, got str"):
        bricks.nn.functional.leaky_relu("abc")
