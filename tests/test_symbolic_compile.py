"""bricks.compile(train_step): equal to eager for every layer, activation, loss, optimizer;
dropout, batch norm, train/eval, schedulers; untraceable code detected with its line."""

import warnings

import numpy as np
import pytest

import bricks
import bricks.nn.functional as F
from bricks import nn, optim
from bricks.symbolic import TraceError

RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def _pair(make_model, make_opt, seed=0):
    out = []
    for _ in range(2):
        bricks.manual_seed(seed)
        m = make_model()
        out.append((m, make_opt(m.parameters())))
    return out


def _step(model, opt, loss_fn):
    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return train_step


def _run_both(make_model, make_opt, loss_fn, xs, ys, dtype=np.float32, exact=True,
              calls=5, fallback=False):
    # exact: the plan computes what eager code computes, in the same order (bit-identical);
    # every case below is; the tolerance (1e-6 / 1e-12) is for reordered computations.
    (m1, o1), (m2, o2) = _pair(make_model, make_opt)
    eager = _step(m1, o1, loss_fn)
    compiled = bricks.compile(_step(m2, o2, loss_fn), fallback=fallback)
    for i in range(calls):
        x, y = xs[i % len(xs)], ys[i % len(ys)]
        bricks.manual_seed(100 + i)
        le = eager(bricks.tensor(x), bricks.tensor(y))
        bricks.manual_seed(100 + i)
        lc = compiled(bricks.tensor(x), bricks.tensor(y))
        for a, b in [(le, lc)] + [(p.data, q.data) for p, q in zip(m1.parameters(),
                                                                    m2.parameters())]:
            a = a.data if hasattr(a, "data") else a
            b = b.data if hasattr(b, "data") else b
            if exact:
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype])
    if fallback:
        return compiled, (m1, m2)
    assert compiled.fallback_reason is None
    assert compiled.graph is not None  # the last calls ran a plan
    return compiled, (m1, m2)


def _data(n=8, d=3, classes=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((n, d)).astype(dtype) for _ in range(3)]
    ys = [rng.integers(0, classes, n) for _ in range(3)]
    return xs, ys


def test_mlp_sgd_momentum_bit_identical_and_replayed():
    xs, ys = _data()
    compiled, _ = _run_both(
        lambda: nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 3)),
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9), F.cross_entropy, xs, ys, exact=True,
        calls=6)
    assert compiled.traces == 2  # two records, then four calls of the plan
    assert "_sgd(" in compiled.plan.source  # SGD's update runs in the plan, in place


ACTIVATIONS = [nn.Sigmoid, nn.Tanh, nn.ReLU, lambda: nn.LeakyReLU(0.1), nn.PReLU, nn.ELU,
               nn.SELU, nn.GELU, nn.Softplus, nn.SiLU, nn.Softsign, nn.Hardtanh, nn.Mish,
               lambda: nn.Softmax(dim=1), lambda: nn.LogSoftmax(dim=1), nn.Identity]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: getattr(a, "__name__", "act"))
def test_every_activation(act):
    xs, ys = _data()
    _run_both(lambda: nn.Sequential(nn.Linear(3, 6), act(), nn.Linear(6, 3)),
              lambda p: optim.SGD(p, lr=0.05), F.cross_entropy, xs, ys)


@pytest.mark.parametrize("layer", [
    lambda: nn.Sequential(nn.Flatten(), nn.Linear(3, 3)),
    lambda: nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 3)),
    lambda: nn.Sequential(nn.Linear(3, 8), nn.Maxout(8, 4, 2), nn.Linear(4, 3)),
    lambda: nn.Sequential(nn.Linear(3, 6), nn.Unflatten(1, (2, 3)), nn.Flatten(),
                          nn.Linear(6, 3)),
], ids=["flatten", "layernorm", "maxout", "unflatten"])
def test_every_layer(layer):
    xs, ys = _data()
    _run_both(layer, lambda p: optim.SGD(p, lr=0.05), F.cross_entropy, xs, ys)


def _float_targets(kind):
    rng = np.random.default_rng(1)
    if kind == "prob":
        return [rng.random((8, 3)).astype(np.float32) for _ in range(3)]
    return [rng.standard_normal((8, 3)).astype(np.float32) for _ in range(3)]


@pytest.mark.parametrize("loss,targets", [
    (nn.MSELoss(), "real"), (nn.L1Loss(), "real"), (nn.HuberLoss(), "real"),
    (nn.SmoothL1Loss(), "real"), (nn.BCEWithLogitsLoss(), "prob"),
    (lambda a, b: nn.BCELoss()(a.sigmoid(), b), "prob"), (nn.CrossEntropyLoss(), "index"),
    (lambda a, b: nn.KLDivLoss(reduction="batchmean")(a.log_softmax(dim=1), b), "prob"),
    (nn.CrossEntropyLoss(label_smoothing=0.1), "index"),
], ids=["mse", "l1", "huber", "smoothl1", "bcelogits", "bce", "ce", "kldiv", "ce-ls"])
def test_every_loss(loss, targets):
    xs, ys = _data()
    if targets != "index":
        ys = _float_targets(targets)
    _run_both(lambda: nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)),
              lambda p: optim.SGD(p, lr=0.05), loss, xs, ys)


def test_nll_loss_and_gather_compile_without_fallback():
    # gather() wraps its index (index % size) and checks its range with NumPy: both are
    # steps of the plan (an array op, a guard), recomputed on every call, not constants.
    xs, ys = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled, _ = _run_both(
            lambda: nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)),
            lambda p: optim.SGD(p, lr=0.05),
            lambda a, b: nn.NLLLoss()(a.log_softmax(dim=1), b), xs, ys, exact=True,
            calls=6)
    g = compiled.graph
    assert compiled.fallback_reason is None and compiled.eager_calls == 0
    assert g.count("Gather") == 1 and g.count("array_op") == 1 and g.count("guard") == 2
    # The guards come first: the plan checks its data before it changes anything.
    assert [n.op for n in g.nodes[:3]] == ["guard", "reshape", "guard"]


_W = bricks.tensor([1.0, 2.0, 0.5])


@pytest.mark.parametrize("loss_fn", [
    lambda a, b: F.cross_entropy(a, b, weight=_W),
    lambda a, b: F.nll_loss(a.log_softmax(dim=1), b, weight=_W),
    lambda a, b: F.cross_entropy(a, b, ignore_index=1),
    lambda a, b: F.nll_loss(a.log_softmax(dim=1), b, ignore_index=1),
], ids=["ce-weight", "nll-weight", "ce-ignore", "nll-ignore"])
def test_values_read_from_the_targets_are_never_frozen(loss_fn):
    # Traced twice on the same targets, a plan used to keep their class weights, ignore
    # mask and the mean's denominator as constants, and gave wrong losses for the next
    # targets. Now the arrays are plan steps and the denominator a guard.
    rng = np.random.default_rng(0)
    (m1, o1), (m2, o2) = _ce_pair(loss_fn)
    eager = _step(m1, o1, loss_fn)
    compiled = bricks.compile(_step(m2, o2, loss_fn), fallback=False)
    x = bricks.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    first = bricks.tensor(rng.integers(0, 3, 8))
    for i in range(8):
        y = first if i < 3 else bricks.tensor(rng.integers(0, 3, 8))
        assert eager(x, y).item() == compiled(x, y).item()
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert compiled.graph is not None


def _ce_pair(loss_fn):
    return _pair(lambda: nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)),
                 lambda p: optim.SGD(p, lr=0.05))


@pytest.mark.parametrize("loss_fn", [
    F.cross_entropy, lambda a, b: F.nll_loss(a.log_softmax(dim=1), b),
    lambda a, b: -a.log_softmax(dim=1).gather(1, b[:, None]).mean(),
], ids=["cross_entropy", "nll_loss", "gather"])
def test_a_guard_sends_other_data_to_eager(loss_fn):
    # The plan was made for targets without ignore_index: a batch that has one (or an
    # invalid one) is not run through it (with cross_entropy it used to be: NumPy's
    # IndexError for -100 with 3 classes, a wrong loss with 100 classes or more).
    xs, ys = _data()
    (m1, o1), (m2, o2) = _ce_pair(loss_fn)
    eager = _step(m1, o1, loss_fn)
    compiled = bricks.compile(_step(m2, o2, loss_fn), fallback=False)
    x = bricks.tensor(xs[0])
    for i in range(4):
        y = bricks.tensor(ys[i % 3])
        assert eager(x, y).item() == compiled(x, y).item()
    assert compiled.eager_calls == 0 and compiled.graph.count("guard") >= 1
    odd = ys[0].copy()
    if loss_fn is F.cross_entropy or "nll_loss" in loss_fn.__code__.co_names:
        odd[2] = -100  # ignore_index
    else:
        odd[2] = -1  # a negative index: gather wraps it
    le, lc = eager(x, bricks.tensor(odd)), compiled(x, bricks.tensor(odd))
    assert le.item() == lc.item()
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    bad = ys[0].copy()
    bad[0] = 7  # out of range: the same error as eager code, from the plan's guard
    with pytest.raises((IndexError, RuntimeError), match="out of range"):
        compiled(x, bricks.tensor(bad))
    assert compiled(x, bricks.tensor(ys[1])).item() == eager(x, bricks.tensor(ys[1])).item()
    assert compiled.fallback_reason is None


def test_sgd_update_and_zero_grad_are_written_into_the_plan():
    xs, ys = _data()
    compiled, (m1, m2) = _run_both(
        lambda: nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 3)),
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9), F.cross_entropy, xs, ys, calls=4)
    src = compiled.plan.source
    # One in-place update per parameter (momentum buffer, then the parameter), no loop
    # over the parameter groups; zero_grad and the deliveries assign p.grad directly.
    assert src.count("_v *= _mo; _v += _g.data") == 4 and src.count("_p -= T") == 4
    assert "E1(*A1)" in src and src.index("if not _sgd(") > src.index("_v *= _mo")
    assert ".grad is None" not in src and src.count(".grad = G") == 4
    opt2 = [o for o in compiled.plan.fn.__globals__.values() if isinstance(o, optim.SGD)][0]
    buffers = [opt2.state[p]["momentum_buffer"] for p in m2.parameters()]
    compiled(bricks.tensor(xs[0]), bricks.tensor(ys[0]))
    assert all(opt2.state[p]["momentum_buffer"] is b for p, b in zip(m2.parameters(), buffers))
    for p in m2.parameters():
        assert p.grad is not None and p.grad.shape == p.shape


def test_few_row_linear_runs_transposed_with_the_same_bits():
    # batch 8, 40 outputs: the plan computes x W^T as (W x^T)^T, as eager Linear does.
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((8, 30)).astype(np.float32) for _ in range(3)]
    ys = [rng.integers(0, 5, 8) for _ in range(3)]
    compiled, _ = _run_both(
        lambda: nn.Sequential(nn.Linear(30, 40), nn.ReLU(), nn.Linear(40, 5)),
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9), F.cross_entropy, xs, ys, calls=5)
    src = compiled.plan.source
    assert src.count("_lt_40x8_float32") == 2  # the first layer only (5 < 2 * 8)
    assert compiled.graph.count("linear") == 2


def test_tracing_leaves_no_garbage_holding_arrays():
    # The records of the first calls (and every array they kept) are freed when the plan
    # is made, by reference counting: no cycle waits for the garbage collector.
    import gc

    from bricks.symbolic.trace import Tracer

    xs, ys = _data()
    bricks.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = bricks.compile(_step(model, opt, F.cross_entropy), fallback=False)
    gc.collect()
    gc.disable()
    try:
        for i in range(3):
            step(bricks.tensor(xs[i]), bricks.tensor(ys[i]))
        assert step.graph is not None
        assert not [o for o in gc.get_objects() if isinstance(o, Tracer)]
    finally:
        gc.enable()


def test_sigmoid_and_bce_with_logits_become_kernels():
    # The small classifiers of the demos: no Function is called per step any more.
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((16, 2)).astype(np.float32) * 30 for _ in range(3)]
    ys = [(rng.random((16, 1)) > 0.5).astype(np.float32) for _ in range(3)]
    compiled, _ = _run_both(
        lambda: nn.Sequential(nn.Linear(2, 8), nn.Sigmoid(), nn.Linear(8, 1)),
        lambda p: optim.Adam(p, lr=0.05), nn.BCEWithLogitsLoss(), xs, ys, calls=6)
    g = compiled.graph
    for op in ("sigmoid", "sigmoid_grad", "bce_logits", "bce_logits_grad"):
        assert g.count(op) == 1, op
    assert not [n for n in g.nodes if n.op in ("call", "call_bwd")]


def test_indexing_and_powers_become_kernels():
    # The optimizers demo's test functions: w[0], w[1], ** 2 (and ** 3, a slice).
    w1 = bricks.nn.Parameter(bricks.tensor([-1.2, 1.0, 0.5], dtype=bricks.float64))
    w2 = bricks.nn.Parameter(bricks.tensor([-1.2, 1.0, 0.5], dtype=bricks.float64))

    def make(w):
        opt = optim.SGD([w], lr=1e-3, momentum=0.5)

        def step():
            opt.zero_grad()
            loss = (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2 + (w[1:] ** 3).sum()
            loss.backward()
            opt.step()
            return loss
        return step

    eager, compiled = make(w1), bricks.compile(make(w2), fallback=False)
    for _ in range(6):
        assert eager().item() == compiled().item()
        np.testing.assert_array_equal(w1.data, w2.data)
    g = compiled.graph
    assert g.count("basic_index") == 3 and g.count("index_grad") >= 3  # w[0] made once
    assert g.count("pow_scalar") == 4 and g.count("pow_scalar_grad") == 4
    assert not [n for n in g.nodes if n.op in ("call", "call_bwd")]


@pytest.mark.parametrize("change", ["none", "lr", "betas", "amsgrad", "state"])
def test_adam_step_written_into_the_plan(change):
    xs, ys = _data()
    (m1, o1), (m2, o2) = _pair(lambda: nn.Sequential(nn.Linear(3, 8), nn.Tanh(),
                                                     nn.Linear(8, 3)),
                               lambda p: optim.Adam(p, lr=0.01))
    eager = _step(m1, o1, F.cross_entropy)
    compiled = bricks.compile(_step(m2, o2, F.cross_entropy), fallback=False)
    for i in range(7):
        if i == 4:
            for opt in (o1, o2):
                group = opt.param_groups[0]
                if change == "lr":
                    group["lr"] = 0.1
                elif change == "betas":
                    group["betas"] = (0.3, 0.5)  # 1 - beta1 >= 0.5: lerp's other form
                elif change == "amsgrad":
                    group["amsgrad"] = True
                elif change == "state":
                    opt.load_state_dict(opt.state_dict())
        x, y = bricks.tensor(xs[i % 3]), bricks.tensor(ys[i % 3])
        assert eager(x, y).item() == compiled(x, y).item()
        for p, q in zip(m1.parameters(), m2.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
    assert "_np.sqrt(_es, out=_s)" in compiled.plan.source
    assert [o2.state[p]["step"] for p in m2.parameters()] == [7.0] * 4


@pytest.mark.parametrize("change", ["weight_decay", "nesterov", "momentum", "lr", "state",
                                    "group"])
def test_written_out_sgd_follows_changes_to_the_optimizer(change):
    # The plan's update checks, on each call, that the optimizer is still the plain SGD it
    # was written for; if not, SGD.step runs, and the result stays the eager one.
    xs, ys = _data()
    (m1, o1), (m2, o2) = _pair(lambda: nn.Sequential(nn.Linear(3, 8), nn.Tanh(),
                                                     nn.Linear(8, 3)),
                               lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    extra = [bricks.zeros(2, requires_grad=True) for _ in range(2)]
    eager = _step(m1, o1, F.cross_entropy)
    compiled = bricks.compile(_step(m2, o2, F.cross_entropy), fallback=False)
    for i in range(8):
        if i == 4:
            for opt, more in ((o1, extra[0]), (o2, extra[1])):
                group = opt.param_groups[0]
                if change == "weight_decay":
                    group["weight_decay"] = 0.01
                elif change == "nesterov":
                    group["nesterov"] = True
                elif change == "momentum":
                    group["momentum"] = 0.5
                elif change == "lr":
                    group["lr"] = 0.01
                elif change == "state":
                    opt.load_state_dict(opt.state_dict())
                else:
                    opt.add_param_group({"params": [more]})
        x, y = bricks.tensor(xs[i % 3]), bricks.tensor(ys[i % 3])
        assert eager(x, y).item() == compiled(x, y).item()
        for p, q in zip(m1.parameters(), m2.parameters()):
            np.testing.assert_array_equal(p.data, q.data)
    assert compiled.traces == 2 and compiled.fallback_reason is None


@pytest.mark.parametrize("make_opt", [
    lambda p: optim.SGD(p, lr=0.1),
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: optim.Adagrad(p, lr=0.1), lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5),
    lambda p: optim.Adadelta(p), lambda p: optim.Adam(p, lr=0.01),
    lambda p: optim.AdamW(p, lr=0.01, amsgrad=True),
], ids=["sgd", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"])
def test_every_first_order_optimizer(make_opt):
    xs, ys = _data()
    _run_both(lambda: nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 3)), make_opt,
              F.cross_entropy, xs, ys, exact=True)


def test_float64():
    xs, ys = _data(dtype=np.float64)

    def model():
        return nn.Sequential(nn.Linear(3, 5, dtype=bricks.float64), nn.Tanh(),
                             nn.Linear(5, 3, dtype=bricks.float64))
    _run_both(model, lambda p: optim.Adam(p, lr=0.01), F.cross_entropy, xs, ys,
              dtype=np.float64)


def test_dropout_fresh_mask_each_call_same_stream_as_eager():
    xs, ys = _data()
    compiled, (m1, m2) = _run_both(
        lambda: nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)),
        lambda p: optim.SGD(p, lr=0.1), F.cross_entropy, xs, ys, exact=True, calls=6)
    # A stale plan would reuse one mask: the same input twice gives different outputs.
    model = m2
    step = bricks.compile(lambda x: model(x) * 1.0)
    x = bricks.tensor(xs[0])
    outs = [step(x).data.copy() for _ in range(4)]
    assert step.graph is not None
    assert not np.array_equal(outs[2], outs[3])


def test_batchnorm_running_stats_and_train_eval_retrace():
    xs, ys = _data()
    compiled, (m1, m2) = _run_both(
        lambda: nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)),
        lambda p: optim.SGD(p, lr=0.1), F.cross_entropy, xs, ys, exact=True, calls=6)
    bn1, bn2 = m1[1], m2[1]
    np.testing.assert_array_equal(bn1.running_mean.data, bn2.running_mean.data)
    np.testing.assert_array_equal(bn1.running_var.data, bn2.running_var.data)
    assert not np.array_equal(bn2.running_mean.data, np.zeros(6, np.float32))

    model = m2
    predict = bricks.compile(lambda x: model(x))
    x = bricks.tensor(xs[0])
    for mode in ("train", "eval", "train", "eval"):
        getattr(model, mode)()
        model2 = m1
        getattr(model2, mode)()
        for _ in range(3):
            want = model2(x).data
            got = predict(x).data
            np.testing.assert_array_equal(want, got)


def test_scheduler_changes_lr_without_retrace():
    xs, ys = _data()
    (m1, o1), (m2, o2) = _pair(lambda: nn.Linear(3, 3), lambda p: optim.SGD(p, lr=0.5))
    s1 = optim.lr_scheduler.StepLR(o1, step_size=1, gamma=0.5)
    s2 = optim.lr_scheduler.StepLR(o2, step_size=1, gamma=0.5)
    eager, compiled = _step(m1, o1, F.cross_entropy), bricks.compile(
        _step(m2, o2, F.cross_entropy))
    for _ in range(6):
        x, y = bricks.tensor(xs[0]), bricks.tensor(ys[0])
        eager(x, y)
        compiled(x, y)
        s1.step()
        s2.step()
        np.testing.assert_array_equal(m1.weight.data, m2.weight.data)
    assert compiled.traces == 2


def test_new_shape_retraces_and_cache_keeps_plans():
    bricks.manual_seed(0)
    model = nn.Linear(3, 2)
    f = bricks.compile(lambda x: model(x).sum(), cache_size=2)
    for n in (4, 4, 4, 5, 5, 5, 4):
        x = bricks.randn(n, 3)
        np.testing.assert_allclose(f(x).data, model(x).sum().data, rtol=1e-6)
    assert f.traces == 4  # two records per shape, none when shape 4 came back
    assert len(f.plans) == 2


def test_item_inside_is_reported_with_its_line_or_falls_back():
    model = nn.Linear(3, 1)

    def step(x):
        loss = model(x).sum()
        if loss.item() > 0:  # data-dependent Python control flow
            return loss * 2
        return loss

    strict = bricks.compile(step, fallback=False)
    with pytest.raises(TraceError, match=r"item\(\).*test_symbolic_compile.py:\d+"):
        strict(bricks.randn(4, 3))

    lenient = bricks.compile(step)
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        lenient(bricks.randn(4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning comes once
        for _ in range(3):
            x = bricks.randn(4, 3)
            assert float(lenient(x)) == float(step(x))


def test_raw_array_changes_and_raw_randomness_are_caught():
    model = nn.Linear(3, 1)

    def uses_raw_data(x):
        scale = bricks.Tensor._make(x.data.mean(axis=0), False, None, 0)  # outside the ops
        return (model(x) * scale.sum()).sum()

    f = bricks.compile(uses_raw_data, fallback=False)
    f(bricks.randn(4, 3))
    with pytest.raises(TraceError, match="neither an input"):
        f(bricks.randn(4, 3))

    def raw_noise(x):
        noise = bricks.backend.default_generator().standard_normal(x.shape)
        return (x * bricks.Tensor._make(noise.astype(np.float32), False, None, 0)).sum()

    g = bricks.compile(raw_noise, fallback=False)
    with pytest.raises(TraceError, match="random numbers"):
        g(bricks.randn(4, 3))


def test_in_place_change_of_an_input_outside_bricks_is_caught():
    def scales_its_input(x):
        x.data *= 2  # raw NumPy on the input: no op records it
        return x.sum()

    f = bricks.compile(scales_its_input, fallback=False)
    with pytest.raises(TraceError, match="changes its input 'arg0' in place"):
        f(bricks.ones(3))


def test_manual_in_place_update_is_refused_not_frozen():
    w = bricks.tensor([1.0, 2.0], requires_grad=True)

    def manual_sgd(x):
        loss = (w * x).sum()
        loss.backward()
        with bricks.no_grad():
            w.sub_(0.1 * w.grad)  # an in-place op: not replayed by a plan
        w.grad = None
        return loss

    f = bricks.compile(manual_sgd)
    with pytest.warns(RuntimeWarning, match=r"in place \(add_\).*test_symbolic_compile"):
        f(bricks.ones(2))
    for _ in range(3):
        f(bricks.ones(2))
    np.testing.assert_allclose(w.data, [0.6, 1.6], rtol=1e-6)  # every call updated w


def test_input_requiring_grad_gets_its_grad():
    w = bricks.tensor([1.0, 2.0, 3.0])

    def f(x):
        loss = (x * w).sum()
        loss.backward()
        return loss

    c = bricks.compile(f)
    for _ in range(4):
        x = bricks.randn(3, requires_grad=True)
        c(x)
        np.testing.assert_array_equal(x.grad.data, w.data)


def test_numpy_inputs_and_structured_outputs():
    model = nn.Linear(2, 2)
    f = bricks.compile(lambda x: {"out": model(x), "n": 3, "pair": (model(x).sum(), None)})
    x = np.ones((2, 2), np.float32)
    for _ in range(3):
        r = f(x)
    assert r["n"] == 3 and r["pair"][1] is None
    np.testing.assert_allclose(r["out"].data, model(bricks.tensor(x)).data, rtol=1e-6)


def test_fit_compile_equals_eager_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    weights = []
    for compile_ in (False, True):
        bricks.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 2))
        opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
        h = bricks.train.fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=3,
                             batch_size=16, metrics=["accuracy"], seed=0, verbose=False,
                             compile=compile_)
        weights.append(([p.data.copy() for p in model.parameters()], h.history))
    for a, b in zip(weights[0][0], weights[1][0]):
        np.testing.assert_array_equal(a, b)
    assert weights[0][1]["loss"] == weights[1][1]["loss"]


@pytest.mark.slow
def test_cli_train_compile_gives_the_same_run(tmp_path, capsys):
    import json

    from bricks.cli import main

    histories = []
    for flag in (["--no-compile"], ["--compile"]):
        out = tmp_path / flag[0][2:]
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no eager fallback
            assert main(["train", "--data", "moons", "--model", "mlp:16", "--epochs", "2",
                         "--quiet", "--out", str(out)] + flag) == 0
        histories.append(json.loads((out / "history.json").read_text()))
    capsys.readouterr()
    assert histories[0]["history"]["loss"] == histories[1]["history"]["loss"]
    assert "compile = true" in (tmp_path / "compile" / "config.toml").read_text()
    assert "compile = false" in (tmp_path / "no-compile" / "config.toml").read_text()
