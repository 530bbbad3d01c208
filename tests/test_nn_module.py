"""The module system: registration, traversal, state dicts, modes, hooks, printing and the
containers, checked against torch.nn on the same architectures where one exists."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import bricks
import bricks.nn as nn
from bricks.nn import Module, ModuleDict, ModuleList, Parameter, Sequential


class Tanh(Module):
    """Test-local activation, so these tests depend only on Module and Linear."""

    def forward(self, x):
        return x.tanh()


def make_block(lib):
    """The same custom architecture for bricks.nn and torch.nn: nested modules, a buffer,
    a non-persistent buffer, a bare parameter and a ModuleList."""

    class Block(lib.Module):
        def __init__(self, n):
            super().__init__()
            self.fc = lib.Linear(n, n)
            self.scale = lib.Parameter(lib_tensor(lib, np.ones(n)))
            self.register_buffer("count", lib_tensor(lib, np.zeros(1)))
            self.register_buffer("cache", lib_tensor(lib, np.zeros(n)), persistent=False)

        def forward(self, x):
            return self.fc(x).tanh() * self.scale

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.inp = lib.Linear(3, 4)
            self.blocks = lib.ModuleList([Block(4), Block(4)])
            self.head = lib.Sequential(OrderedDict(proj=lib.Linear(4, 2)))

        def forward(self, x):
            x = self.inp(x)
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    return Net()


def lib_tensor(lib, array):
    if lib is torch.nn:
        return torch.tensor(array, dtype=torch.float32)
    return bricks.tensor(array, dtype=bricks.float32)


def to_arrays(state):
    return {k: v.detach().numpy().copy() for k, v in state.items()}


# ---------------------------------------------------------------- registration and traversal
def test_registration_order_and_names_equal_torch():
    ours, theirs = make_block(nn), make_block(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "blocks.0.cache" not in ours.state_dict()  # non-persistent
    assert "blocks.0.cache" in dict(ours.named_buffers())
    assert [type(m).__name__ for m in ours.modules()] == [
        type(m).__name__ for m in theirs.modules()]
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_shared_submodules_and_parameters_counted_once():
    shared = nn.Linear(3, 3)
    model = Sequential(shared, Tanh(), shared)
    tshared = torch.nn.Linear(3, 3)
    tmodel = torch.nn.Sequential(tshared, torch.nn.Tanh(), tshared)
    assert len(list(model.parameters())) == 2
    assert model.num_parameters() == 12
    assert [n for n, _ in model.named_parameters()] == [
        n for n, _ in tmodel.named_parameters()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    assert list(model.state_dict()) == list(tmodel.state_dict())  # both paths, like torch

    # tied weights: one Parameter in two modules
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight
    tied = Sequential(a, b)
    assert len(list(tied.parameters())) == 3
    assert tied.num_parameters() == 16 + 4 + 4
    x = bricks.randn(2, 4)
    tied(x).sum().backward()
    assert a.weight.grad is b.weight.grad  # one tensor, gradients from both uses


def test_reassigning_keeps_the_registration_order_like_torch():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight  # tying weights must not move "weight" behind "bias"
    ta, tb = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    tb.weight = ta.weight
    assert list(b.state_dict()) == list(tb.state_dict()) == ["weight", "bias"]
    seq = Sequential(nn.Linear(1, 1), Tanh(), nn.Linear(1, 1))
    seq[0] = nn.Identity()
    assert list(seq._modules) == ["0", "1", "2"] and isinstance(seq[0], nn.Identity)

    class Buffers(Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("x", bricks.zeros(1), persistent=False)
            self.register_buffer("y", bricks.zeros(1))

    m = Buffers()
    assert list(m.state_dict()) == ["y"]
    m.register_buffer("x", bricks.ones(1))  # now persistent, and still first
    assert list(m.state_dict()) == ["x", "y"]
    m.x = nn.Buffer(bricks.ones(2), persistent=False)
    assert list(m.state_dict()) == ["y"] and list(dict(m.named_buffers())) == ["x", "y"]


def test_parameter_basics():
    t = bricks.ones(3)
    p = Parameter(t)
    assert p.requires_grad and p.is_leaf
    assert p.data is t.data  # shares memory, as in PyTorch
    assert repr(p).startswith("Parameter containing:")
    assert not Parameter(bricks.ones(2), requires_grad=False).requires_grad
    assert Parameter().shape == (0,)


def test_assignment_rules_and_errors():
    class Bad(Module):
        def __init__(self):
            self.w = Parameter(bricks.ones(2))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = bricks.ones(2, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        m.nope
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", bricks.zeros(1))
    with pytest.raises(TypeError, match="must be a Tensor"):
        m.register_buffer("arr", np.zeros(1))
    m.extra = bricks.zeros(1)  # a plain tensor is a plain attribute, as in torch
    assert "extra" not in dict(m.named_buffers())
    del m.weight
    assert list(m.named_parameters()) == []
    net = make_block(nn)
    assert net.get_submodule("blocks.1.fc") is net.blocks[1].fc
    with pytest.raises(AttributeError, match="no submodule 'x'"):
        net.get_submodule("blocks.x")


# ---------------------------------------------------------------- modes and helpers
def test_train_eval_propagate():
    net = make_block(nn)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.blocks.train()
    assert net.blocks[1].fc.training and not net.training and not net.head.proj.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="mode must be a bool"):
        net.train("no")


def test_dropout_follows_the_mode():
    model = Sequential(nn.Dropout(0.5))
    x = bricks.ones(1000)
    assert (model(x).numpy() == 0).any()
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), x.numpy())


def test_zero_grad_requires_grad_and_apply():
    net = make_block(nn)
    (net(bricks.randn(5, 3)) ** 2).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all((p.grad.numpy() == 0).all() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    assert net.num_parameters(trainable_only=True) == 0
    net.requires_grad_()
    assert net.num_parameters(trainable_only=True) == net.num_parameters()

    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    tvisited = []
    make_block(torch.nn).apply(lambda m: tvisited.append(type(m).__name__))
    assert visited == tvisited  # children first, then the module itself

    def reset(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(reset)
    assert all((m.weight.detach().numpy() == 0).all() for m in net.modules()
               if isinstance(m, nn.Linear))


def test_to_float64_and_back():
    net = make_block(nn)
    params = list(net.parameters())
    x = bricks.randn(2, 3)
    net(x).sum().backward()
    out32 = net(x).detach().numpy()
    assert net.to(bricks.float64) is net
    assert [p for p in net.parameters()] == params  # the same Parameter objects
    assert all(t.dtype == bricks.float64 for t in net.state_dict().values())
    assert all(p.grad.dtype == bricks.float64 for p in params)
    out64 = net(x.double())
    assert out64.dtype == bricks.float64
    np.testing.assert_allclose(out64.detach().numpy(), out32, rtol=1e-5, atol=1e-6)
    net.float()
    assert all(t.dtype == bricks.float32 for t in net.state_dict().values())
    net.double()
    assert net.inp.weight.dtype == bricks.float64


def test_to_leaves_integer_buffers_alone():
    class Counter(Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("steps", bricks.tensor(3))
            self.w = Parameter(bricks.ones(2))

    m = Counter().to(bricks.float64)
    assert m.steps.dtype == bricks.int64 and m.w.dtype == bricks.float64


# ---------------------------------------------------------------- hooks
def test_forward_hooks_fire_and_record_activations():
    model = Sequential(nn.Linear(3, 4), Tanh(), nn.Linear(4, 2))
    seen = []
    handles = [m.register_forward_hook(
        lambda mod, inputs, out, i=i: seen.append((i, type(mod).__name__, inputs[0].shape,
                                                   out.shape)))
        for i, m in enumerate(model)]
    model(bricks.randn(5, 3))
    assert seen == [(0, "Linear", (5, 3), (5, 4)), (1, "Tanh", (5, 4), (5, 4)),
                    (2, "Linear", (5, 4), (5, 2))]
    handles[1].remove()
    seen.clear()
    model(bricks.randn(5, 3))
    assert [s[0] for s in seen] == [0, 2]
    handles[1].remove()  # removing twice is harmless


def test_hooks_can_modify_inputs_and_outputs():
    lin = nn.Linear(2, 2)
    x = bricks.randn(3, 2)
    plain = lin(x).detach().numpy()
    h1 = lin.register_forward_hook(lambda m, inp, out: out * 2)
    np.testing.assert_allclose(lin(x).detach().numpy(), 2 * plain, rtol=1e-6)
    h2 = lin.register_forward_pre_hook(lambda m, inp: (inp[0] * 0,))  # a tuple replaces args
    np.testing.assert_allclose(lin(x).detach().numpy(), 2 * lin.bias.detach().numpy()
                               * np.ones((3, 1)), rtol=1e-6)
    h2.remove()
    h3 = lin.register_forward_pre_hook(lambda m, inp: inp[0] + 1)  # a single value too
    expected = lin.forward(x + 1).detach().numpy() * 2
    np.testing.assert_allclose(lin(x).detach().numpy(), expected, rtol=1e-6)
    h3.remove()
    h1.remove()
    np.testing.assert_allclose(lin(x).detach().numpy(), plain, rtol=1e-6)


def test_hooks_run_in_registration_order_and_handle_is_a_context_manager():
    lin = nn.Linear(2, 2)
    order = []
    lin.register_forward_pre_hook(lambda m, i: order.append("pre1"))
    lin.register_forward_pre_hook(lambda m, i: order.append("pre2"))
    lin.register_forward_hook(lambda m, i, o: order.append("post1"))
    with lin.register_forward_hook(lambda m, i, o: order.append("post2")):
        lin(bricks.zeros(1, 2))
    lin(bricks.zeros(1, 2))
    assert order == ["pre1", "pre2", "post1", "post2", "pre1", "pre2", "post1"]


# ---------------------------------------------------------------- state dicts
def test_state_dict_round_trip():
    bricks.manual_seed(0)
    a = make_block(nn)
    b = make_block(nn)
    x = bricks.randn(4, 3)
    assert not np.allclose(a(x).detach().numpy(), b(x).detach().numpy())
    a.blocks[0].count.data[...] = 7.0
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert b.blocks[0].count.item() == 7.0
    # loading copies values: the two models do not share memory afterwards
    with bricks.no_grad():
        a.inp.weight.fill_(0.0)
    assert not (b.inp.weight.detach().numpy() == 0).all()


def test_state_dict_values_are_detached_views_and_keep_vars():
    lin = nn.Linear(2, 3)
    sd = lin.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["weight"].requires_grad and sd["weight"].data is lin.weight.data
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight
    assert list(lin.state_dict(prefix="model.")) == ["model.weight", "model.bias"]


def test_load_state_dict_from_numpy_arrays_and_other_dtypes():
    lin = nn.Linear(2, 3)
    w = np.arange(6, dtype=np.float64).reshape(3, 2)
    lin.load_state_dict({"weight": w, "bias": [1.0, 2.0, 3.0]})
    assert lin.weight.dtype == bricks.float32  # converted to the module's dtype
    np.testing.assert_array_equal(lin.weight.detach().numpy(), w)
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [1, 2, 3])


def test_strict_errors_name_the_keys_and_shapes():
    net = make_block(nn)
    state = to_arrays(net.state_dict())
    missing = dict(state)
    del missing["blocks.1.fc.bias"]
    with pytest.raises(RuntimeError, match=r"missing keys: 'blocks.1.fc.bias'"):
        net.load_state_dict(missing)
    unexpected = dict(state, **{"blocks.2.fc.weight": np.zeros((4, 4))})
    with pytest.raises(RuntimeError, match=r"unexpected keys: 'blocks.2.fc.weight'"):
        net.load_state_dict(unexpected)
    wrong = dict(state, **{"head.proj.weight": np.zeros((3, 4))})
    with pytest.raises(RuntimeError, match=r"size mismatch for head.proj.weight: .*\(3, 4\).*"
                                           r"\(2, 4\)"):
        net.load_state_dict(wrong)
    with pytest.raises(RuntimeError, match=r"size mismatch for head.proj.weight"):
        net.load_state_dict(wrong, strict=False)  # a shape mismatch is always an error


def test_failed_load_changes_nothing_and_non_strict_loads_the_rest():
    net = make_block(nn)
    before = to_arrays(net.state_dict())
    bad = {k: np.full(v.shape, 5.0) for k, v in before.items()}
    bad["inp.bias"] = np.zeros(7)
    with pytest.raises(RuntimeError):
        net.load_state_dict(bad)
    for k, v in to_arrays(net.state_dict()).items():
        np.testing.assert_array_equal(v, before[k])
    partial = {"inp.bias": np.full(4, 2.0), "stray": np.zeros(1)}
    result = net.load_state_dict(partial, strict=False)
    assert result.unexpected_keys == ["stray"]
    assert "inp.bias" not in result.missing_keys and "inp.weight" in result.missing_keys
    np.testing.assert_array_equal(net.inp.bias.detach().numpy(), np.full(4, 2.0))


def _same_outputs_after_loading_torch(build_bricks, build_torch, x, train=False):
    torch.manual_seed(0)
    tmodel = build_torch()
    tmodel.train(train)
    model = build_bricks()
    model.train(train)
    assert list(model.state_dict()) == list(tmodel.state_dict())
    model.load_state_dict(to_arrays(tmodel.state_dict()))
    expected = tmodel(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(bricks.tensor(x)).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-6)


def test_loading_a_torch_state_dict_gives_torch_outputs():
    x = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    _same_outputs_after_loading_torch(lambda: make_block(nn), lambda: make_block(torch.nn), x)
    _same_outputs_after_loading_torch(
        lambda: Sequential(nn.Linear(3, 16), Tanh(), nn.Linear(16, 16), Tanh(),
                           nn.Linear(16, 2)),
        lambda: torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 2)), x)


def test_loading_torch_buffers_batchnorm_in_eval():
    torch.manual_seed(1)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.BatchNorm1d(5),
                                 torch.nn.Linear(5, 2))
    tmodel(torch.randn(32, 3) * 3 + 1)  # moves the running statistics away from 0 and 1
    tmodel.eval()
    model = Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2)).eval()
    model.load_state_dict(to_arrays(tmodel.state_dict()))
    assert model[1].num_batches_tracked.item() == 1
    x = np.random.default_rng(2).standard_normal((6, 3)).astype(np.float32)
    np.testing.assert_allclose(model(bricks.tensor(x)).detach().numpy(),
                               tmodel(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


# ---------------------------------------------------------------- printing
def test_repr_of_a_nested_model_equals_torch():
    def build(lib):
        return lib.Sequential(OrderedDict(
            body=lib.Sequential(lib.Linear(4, 8), lib.Dropout(0.25), lib.Identity()),
            stack=lib.ModuleList([lib.Linear(8, 8) for _ in range(3)] + [lib.Flatten()]),
            heads=lib.ModuleDict({"a": lib.Linear(8, 1), "b": lib.Linear(8, 2, bias=False)}),
            empty=lib.Sequential(),
        ))

    assert repr(build(nn)) == repr(build(torch.nn))


def test_repr_uses_extra_repr_on_one_or_several_lines():
    class One(Module):
        def extra_repr(self):
            return "k=3"

    class Many(Module):
        def __init__(self):
            super().__init__()
            self.child = One()

        def extra_repr(self):
            return "a=1,\nb=2"

    assert repr(One()) == "One(k=3)"
    assert repr(Many()) == "Many(\n  a=1,\n  b=2\n  (child): One(k=3)\n)"


def test_summary_table():
    model = Sequential(OrderedDict(fc1=nn.Linear(4, 8), act=Tanh(), drop=nn.Dropout(0.5),
                                   fc2=nn.Linear(8, 2)))
    text = model.summary((5, 4))
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params"]
    rows = [line.split() for line in lines[2:6]]
    assert rows[0][:2] == ["fc1", "Linear"] and rows[0][-1] == "40"
    assert "(5, 8)" in lines[2]
    assert rows[1][:2] == ["act", "Tanh"] and rows[1][-1] == "0"
    assert rows[2][:2] == ["drop", "Dropout"]
    assert rows[3][:2] == ["fc2", "Linear"] and "(5, 2)" in lines[5] and rows[3][-1] == "18"
    assert lines[-1] == "total parameters: 58 (trainable: 58)"
    assert model.training and model.drop.training  # mode restored
    assert all(p.grad is None for p in model.parameters())
    model[0].requires_grad_(False)
    assert model.summary((1, 4)).splitlines()[-1] == "total parameters: 58 (trainable: 18)"


def test_summary_of_a_custom_model_lists_leaf_layers():
    text = make_block(nn).summary((2, 3))
    names = [line.split()[0] for line in text.splitlines()[2:-2]]
    # a Block owns a parameter of its own, so it gets a row next to its Linear
    assert names == ["inp", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc",
                     "head.proj"] or names == ["inp", "blocks.0.fc", "blocks.0",
                                               "blocks.1.fc", "blocks.1", "head.proj"]
    assert "(2, 2)" in text.splitlines()[-3]


# ---------------------------------------------------------------- containers
def test_sequential_forms_indexing_slicing_len_append():
    a, act, b = nn.Linear(2, 3), Tanh(), nn.Linear(3, 1)
    seq = Sequential(a, act, b)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is b and list(seq) == [a, act, b]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    x = bricks.randn(4, 2)
    np.testing.assert_array_equal(seq(x).detach().numpy(), b(act(a(x))).detach().numpy())
    head = seq[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[1] is act
    assert list(seq[1:]._modules) == ["1", "2"]  # names kept, like torch
    named = Sequential(OrderedDict(first=a, second=act))
    assert named.first is a and list(named._modules) == ["first", "second"]
    assert [n for n, _ in named.named_parameters()] == ["first.weight", "first.bias"]
    c = nn.Linear(1, 1)
    assert seq.append(c) is seq
    assert len(seq) == 4 and seq[3] is c and "3.weight" in seq.state_dict()
    seq[1] = nn.Identity()
    assert isinstance(seq[1], nn.Identity)


def test_sequential_delete_renumbers_like_torch():
    seq = Sequential(nn.Linear(1, 1), Tanh(), nn.Linear(1, 2))
    last = seq[2]
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[1] is last
    seq.append(nn.Linear(2, 3))  # used to overwrite `last` under the name "2"
    assert len(seq) == 3 and seq[1] is last
    del seq[0:2]
    assert len(seq) == 1 and list(seq._modules) == ["0"]
    tseq = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Tanh(), torch.nn.Linear(1, 2))
    del tseq[0]
    assert list(tseq._modules) == ["0", "1"]


def test_module_list():
    layers = ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    extra = nn.Linear(2, 2)
    layers.append(extra).extend([nn.Linear(2, 2)])
    assert len(layers) == 5 and layers[3] is extra and layers[-2] is extra
    first = layers[0]
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and layers[1] is first
    assert list(layers._modules) == [str(i) for i in range(6)]
    sub = layers[1:3]
    assert isinstance(sub, ModuleList) and sub[0] is first
    del layers[0]
    assert layers[0] is first and list(layers._modules) == [str(i) for i in range(5)]
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity)
    with pytest.raises(NotImplementedError, match="iterate"):
        layers(bricks.zeros(1))

    class Hidden(Module):
        def __init__(self):
            super().__init__()
            self.plain = [nn.Linear(2, 2)]  # a plain list hides the parameters

    assert list(Hidden().parameters()) == []


def test_module_dict():
    heads = ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    heads.update([("c", nn.Identity())])
    assert list(heads) == ["a", "b", "c"] and list(heads.keys()) == ["a", "b", "c"]
    assert len(heads) == 3 and "b" in heads and "z" not in heads
    assert heads["b"].out_features == 3
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight",
                                                        "b.bias"]
    assert [k for k, _ in heads.items()] == ["a", "b", "c"]
    assert isinstance(heads.pop("c"), nn.Identity) and len(heads) == 2
    del heads["a"]
    assert list(heads) == ["b"]
    heads.clear()
    assert len(heads) == 0 and list(heads.parameters()) == []
    with pytest.raises(NotImplementedError, match="index it by name"):
        heads(bricks.zeros(1))


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        Module()(bricks.zeros(1))
