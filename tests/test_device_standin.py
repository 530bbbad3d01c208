"""The backend rule, proved on the CPU: bricks run on a stand-in device.

``standin_device`` wraps NumPy in a distinct array type that NumPy refuses and that refuses
NumPy arrays (as CuPy does), registered as the device type ``'standin'``.  Every test here
puts its tensors (and models) on that device and checks that the results equal the same
computation on the CPU: any code path that calls NumPy directly on a tensor's data instead
of ``get_array_module`` raises here, and would fail on a GPU.
"""

from __future__ import annotations

import copy
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bricks
from bricks import nn, optim

sys.path.insert(0, os.path.dirname(__file__))
import standin_device  # noqa: E402
import test_functions as table  # noqa: E402

DEV = standin_device.NAME


@pytest.fixture(autouse=True, scope="module")
def _standin():
    standin_device.register()
    yield
    standin_device.unregister()


class _StandIn(table._Lib):
    def leaf(self, array, dtype):
        array = np.asarray(array, dtype=dtype)
        return bricks.tensor(array, requires_grad=True, device=DEV)


# The table's bricks namespace (its overrides too), with leaves and constants on the device.
SI = _StandIn("bricks", bricks, lambda a: bricks.tensor(np.array(a), device=DEV),
              **{k: v for k, v in vars(table.BR).items()
                 if k not in ("name", "_module", "const")})


# Ops whose device path is a different algorithm, not the same NumPy kernel: erf has no
# array-module function (CuPy's lives in cupyx.scipy.special; the stand-in uses bricks' own
# series, SciPy serves the CPU), so it agrees to rounding, not bit for bit.
NOT_BITWISE = {"erf": dict(rtol=1e-14, atol=1e-15)}


@pytest.mark.parametrize("row", table.ROWS, ids=table.ROW_IDS)
@settings(max_examples=int(table.EXAMPLES / 4) or 1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_op_runs_on_the_standin_device(row, data):
    """Forward, backward (fast and graph) and double backward of every op in the table, on
    the stand-in device, equal the CPU's exactly (same NumPy kernels underneath)."""
    d, xs, kw, kinds = table._draw_case(data, row)
    seed = d.int(0, 2**31)
    dtype = d.pick([np.float64, np.float32])
    got = table.run(SI, row, xs, kw, kinds, dtype, seed)
    want = table.run(table.BR, row, xs, kw, kinds, dtype, seed)
    assert got.keys() == want.keys()
    assert got["requires_grad"] == want["requires_grad"]
    for key in ("out", "grad", "grad_fast", "gradgrad"):
        for i, (a, b) in enumerate(zip(got.get(key, []), want.get(key, []))):
            assert a.dtype == b.dtype, f"{row.name}: {key}[{i}] dtype {a.dtype} != {b.dtype}"
            if row.name in NOT_BITWISE:
                tol = NOT_BITWISE[row.name] if dtype == np.float64 else dict(rtol=1e-6)
                np.testing.assert_allclose(a, b, err_msg=f"{row.name}: {key}[{i}]", **tol)
            else:
                np.testing.assert_array_equal(a, b, err_msg=f"{row.name}: {key}[{i}]")


# ---------------------------------------------------------------- layers and losses


def _host(t):
    return None if t is None else bricks.backend.to_numpy(t.data)


def _same(a, b, what):
    assert (a is None) == (b is None), what
    if a is not None:
        assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} != {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=what)


def _twin(make):
    """The same freshly seeded module on the CPU and (a deep copy) on the stand-in."""
    bricks.manual_seed(0)
    cpu = make()
    dev = copy.deepcopy(cpu).to(DEV)
    for p in dev.parameters():
        assert p.device == DEV
    return cpu, dev


def _run_module(module, xs, seed):
    """Forward (seeded: dropout draws the same masks), a backward of a random projection of
    the outputs, and every output, parameter gradient, input gradient and buffer."""
    bricks.manual_seed(seed)
    out = module(*xs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) for o in (
        o if isinstance(o, tuple) else (o,))]
    outs = [o for o in outs if isinstance(o, bricks.Tensor)]
    rng = np.random.default_rng(seed)
    total = None
    for o in outs:
        if o.requires_grad:
            w = bricks.tensor(rng.standard_normal(o.shape).astype(o.dtype), device=o.device)
            term = (o * w).sum()
            total = term if total is None else total + term
    if total is not None:
        total.backward()
    return ([_host(o) for o in outs] + [_host(p.grad) for p in module.parameters()]
            + [_host(x.grad) for x in xs if isinstance(x, bricks.Tensor) and x.requires_grad]
            + [_host(b) for b in module.buffers()])


def _inputs(shapes, device, seed, ints=None):
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if ints is not None:
            out.append(bricks.tensor(rng.integers(0, ints, shape), device=device))
        else:
            out.append(bricks.tensor(rng.standard_normal(shape), dtype=bricks.float32,
                                     requires_grad=True, device=device))
    return out


LAYERS = [
    ("Linear", lambda: nn.Linear(5, 3), [(4, 5)], None),
    ("Linear_no_bias", lambda: nn.Linear(5, 3, bias=False), [(2, 4, 5)], None),
    ("Bilinear_stack", lambda: nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)),
     [(3, 4)], None),
    ("Flatten_Unflatten", lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, 6))),
     [(3, 3, 4)], None),
    ("Maxout", lambda: nn.Maxout(4, 3, 2), [(5, 4)], None),
    ("Dropout", lambda: nn.Dropout(0.3), [(6, 7)], None),
    ("Dropout1d", lambda: nn.Dropout1d(0.5), [(2, 3, 5)], None),
    ("Dropout2d", lambda: nn.Dropout2d(0.5), [(2, 3, 4, 4)], None),
    ("Conv1d", lambda: nn.Conv1d(2, 3, 3, padding=1, stride=2), [(2, 2, 9)], None),
    ("Conv2d", lambda: nn.Conv2d(2, 3, 3, padding=1, dilation=2), [(2, 2, 7, 6)], None),
    ("Conv2d_reflect", lambda: nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
     [(1, 1, 5, 5)], None),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(2, 3, 3, stride=2), [(2, 2, 5)], None),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1),
     [(1, 2, 4, 4)], None),
    ("MaxPool1d", lambda: nn.MaxPool1d(2), [(2, 3, 8)], None),
    ("MaxPool2d", lambda: nn.MaxPool2d(2), [(2, 3, 6, 6)], None),
    ("MaxPool2d_overlap", lambda: nn.MaxPool2d(3, stride=2, padding=1, return_indices=True),
     [(1, 2, 7, 7)], None),
    ("AvgPool1d", lambda: nn.AvgPool1d(3, stride=2, padding=1), [(2, 2, 9)], None),
    ("AvgPool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
     [(1, 2, 7, 6)], None),
    ("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), [(2, 2, 7)], None),
    ("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), [(1, 2, 5, 7)], None),
    ("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(3), [(2, 2, 7)], None),
    ("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d((2, 3), return_indices=True),
     [(1, 2, 5, 7)], None),
    ("BatchNorm1d", lambda: nn.BatchNorm1d(4), [(6, 4)], None),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(3), [(2, 3, 4, 4)], None),
    ("LayerNorm", lambda: nn.LayerNorm((3, 4)), [(2, 3, 4)], None),
    ("GroupNorm", lambda: nn.GroupNorm(2, 4), [(2, 4, 3, 3)], None),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(3, affine=True), [(2, 3, 5)], None),
    ("InstanceNorm2d", lambda: nn.InstanceNorm2d(3, track_running_stats=True),
     [(2, 3, 4, 4)], None),
    ("Embedding", lambda: nn.Embedding(10, 4, padding_idx=0, max_norm=1.0), [(3, 5)], 10),
    ("EmbeddingBag_mean", lambda: nn.EmbeddingBag(10, 4, mode="mean"), [(3, 5)], 10),
    ("EmbeddingBag_max", lambda: nn.EmbeddingBag(10, 4, mode="max"), [(3, 5)], 10),
    ("RNNCell", lambda: nn.RNNCell(3, 4), [(2, 3)], None),
    ("GRUCell", lambda: nn.GRUCell(3, 4), [(2, 3)], None),
    ("LSTMCell", lambda: nn.LSTMCell(3, 4), [(2, 3)], None),
    ("RNN", lambda: nn.RNN(3, 4, num_layers=2, bidirectional=True), [(5, 2, 3)], None),
    ("GRU", lambda: nn.GRU(3, 4, batch_first=True), [(2, 5, 3)], None),
    ("LSTM", lambda: nn.LSTM(3, 4, dropout=0.3, num_layers=2), [(5, 2, 3)],
     None),
] + [(name, getattr(nn, name), [(3, 4)], None) for name in (
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "Softplus",
    "SiLU", "Softsign", "Hardtanh", "Mish")] + [
    ("Softmax", lambda: nn.Softmax(dim=1), [(3, 4)], None),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=0), [(3, 4)], None),
]


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name, make, shapes, ints", LAYERS, ids=[r[0] for r in LAYERS])
def test_layer_runs_on_the_standin_device(name, make, shapes, ints, mode):
    """Every layer, moved with Module.to: outputs, gradients and buffers equal the CPU's."""
    cpu, dev = _twin(make)
    cpu.train(mode == "train")
    dev.train(mode == "train")
    got = _run_module(dev, _inputs(shapes, DEV, 1, ints), seed=2)
    want = _run_module(cpu, _inputs(shapes, None, 1, ints), seed=2)
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        _same(a, b, f"{name} ({mode}): value {i}")


def test_packed_sequences_on_the_standin_device():
    U = nn.utils.rnn
    cpu, dev = _twin(lambda: nn.LSTM(2, 3, bidirectional=True))
    for module, device in ((cpu, None), (dev, DEV)):
        x = bricks.tensor(np.arange(24.0).reshape(4, 3, 2) / 10, dtype=bricks.float32,
                          device=device)
        packed = U.pack_padded_sequence(x, [4, 2, 3], enforce_sorted=False)
        out, (h, c) = module(packed)
        padded, lengths = U.pad_packed_sequence(out)
        (padded.sum() + h.sum()).backward()
        result = [_host(padded), _host(h), _host(c)] + [_host(p.grad) for p in
                                                         module.parameters()]
        if device is None:
            want = result
        else:
            got = result
            assert padded.device == DEV
    for i, (a, b) in enumerate(zip(got, want)):
        _same(a, b, f"packed LSTM value {i}")


def _targets(kind, shape, device, rng):
    if kind == "index":
        return bricks.tensor(rng.integers(0, shape[1], (shape[0],) + shape[2:]), device=device)
    if kind == "index_ignored":
        t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
        t[0] = -100
        return bricks.tensor(t, device=device)
    if kind == "prob":
        p = rng.random(shape)
        return bricks.tensor(p / p.sum(axis=1, keepdims=True), dtype=bricks.float32,
                             device=device)
    if kind == "unit":
        return bricks.tensor(rng.random(shape), dtype=bricks.float32, device=device)
    return bricks.tensor(rng.standard_normal(shape), dtype=bricks.float32, device=device)


def _weights(n, device):
    return bricks.tensor(np.linspace(0.5, 1.5, n), dtype=bricks.float32, device=device)


LOSSES = [
    ("MSELoss", lambda d: nn.MSELoss(), (4, 3), "real", None),
    ("MSELoss_none", lambda d: nn.MSELoss(reduction="none"), (4, 3), "real", None),
    ("L1Loss", lambda d: nn.L1Loss(), (4, 3), "real", None),
    ("HuberLoss", lambda d: nn.HuberLoss(delta=0.5), (4, 3), "real", None),
    ("SmoothL1Loss", lambda d: nn.SmoothL1Loss(beta=0.5), (4, 3), "real", None),
    ("BCELoss", lambda d: nn.BCELoss(weight=_weights(3, d)), (4, 3), "unit", "sigmoid"),
    ("BCEWithLogitsLoss", lambda d: nn.BCEWithLogitsLoss(pos_weight=_weights(3, d)), (4, 3),
     "unit", None),
    ("CrossEntropyLoss", lambda d: nn.CrossEntropyLoss(), (5, 4), "index", None),
    ("CrossEntropyLoss_2d", lambda d: nn.CrossEntropyLoss(weight=_weights(4, d),
                                                          label_smoothing=0.1),
     (2, 4, 3, 3), "index", None),
    ("CrossEntropyLoss_ignore", lambda d: nn.CrossEntropyLoss(reduction="sum"), (5, 4),
     "index_ignored", None),
    ("CrossEntropyLoss_probs", lambda d: nn.CrossEntropyLoss(label_smoothing=0.2), (5, 4),
     "prob", None),
    ("NLLLoss", lambda d: nn.NLLLoss(weight=_weights(4, d)), (5, 4), "index_ignored",
     "log_softmax"),
    ("KLDivLoss", lambda d: nn.KLDivLoss(reduction="batchmean"), (5, 4), "prob",
     "log_softmax"),
]


@pytest.mark.parametrize("name, make, shape, kind, squash", LOSSES, ids=[r[0] for r in LOSSES])
def test_loss_runs_on_the_standin_device(name, make, shape, kind, squash):
    """Every loss, its weights on the device too: the loss and its gradient equal the CPU's."""
    results = []
    for device in (DEV, None):
        rng = np.random.default_rng(3)
        x = bricks.tensor(rng.standard_normal(shape), dtype=bricks.float32, requires_grad=True,
                          device=device)
        inp = x if squash is None else (x.sigmoid() if squash == "sigmoid" else
                                         x.log_softmax(1))
        loss = make(device)(inp, _targets(kind, shape, device, rng))
        assert loss.device == (device or "cpu")
        (loss * bricks.ones_like(loss)).sum().backward()
        results.append([_host(loss), _host(x.grad)])
    for i, (a, b) in enumerate(zip(*results)):
        _same(a, b, f"{name}: value {i}")


# ---------------------------------------------------------------- optimizers, fit, files

FIRST_ORDER = [
    ("SGD", lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("Adagrad", lambda p: optim.Adagrad(p, lr=0.1)),
    ("RMSprop", lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True)),
    ("Adadelta", lambda p: optim.Adadelta(p)),
    ("Adam", lambda p: optim.Adam(p, lr=0.01, amsgrad=True)),
    ("AdamW", lambda p: optim.AdamW(p, lr=0.01)),
]


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _optimizer_twins(name, make, make_model, steps, closure_step):
    """``steps`` steps of the optimizer ``make`` on the device and on the CPU (each step a
    closure call, or zero_grad/backward/step); the parameters (and the losses the closure
    steps return) must be equal; first-order state must live on the device."""
    cpu, dev = _twin(make_model)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    runs = []
    for model, device in ((dev, DEV), (cpu, None)):
        opt = make(model.parameters())
        xb, yb = bricks.tensor(x, device=device), bricks.tensor(y, device=device)

        def closure(model=model, opt=opt, xb=xb, yb=yb):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            return loss

        losses = []
        for _ in range(steps):
            if closure_step:
                losses.append(float(opt.step(closure)))
            else:
                closure()
                opt.step()
        for state in opt.state.values():
            for key, value in state.items():
                if isinstance(value, bricks.Tensor) or bricks.backend.is_array(value):
                    where = value.device if isinstance(value, bricks.Tensor) else \
                        bricks.devices.device_of(value)
                    assert where == (device or "cpu"), f"{name} state {key}"
        runs.append([np.array(losses)] + [_host(p) for p in model.parameters()])
    for i, (a, b) in enumerate(zip(*runs)):
        _same(a, b, f"{name}: value {i}")


@pytest.mark.parametrize("name, make", FIRST_ORDER, ids=[r[0] for r in FIRST_ORDER])
def test_optimizer_steps_on_the_standin_device(name, make):
    """Five steps on the device: parameters equal the CPU's, state lives on the device."""
    _optimizer_twins(name, make, _mlp, 5, closure_step=False)


SECOND_ORDER = [
    ("LBFGS", lambda p: optim.LBFGS(p, lr=1, max_iter=5, line_search_fn="strong_wolfe")),
    ("BFGS", lambda p: optim.BFGS(p)),
    ("ConjugateGradient", lambda p: optim.ConjugateGradient(p)),
    ("Newton", lambda p: optim.Newton(p)),
    ("HessianFree", lambda p: optim.HessianFree(p, cg_max_iter=5)),
]


@pytest.mark.parametrize("name, make", SECOND_ORDER, ids=[r[0] for r in SECOND_ORDER])
def test_second_order_optimizer_steps_on_the_standin_device(name, make):
    """Three closure steps of the second-order methods on the device equal the CPU's."""
    _optimizer_twins(name, make, lambda: nn.Sequential(nn.Linear(4, 4), nn.Tanh(),
                                                       nn.Linear(4, 3)), 3, closure_step=True)


def test_short_fit_on_the_standin_device():
    """Trainer.fit with device=: a DataLoader's CPU batches are moved to the model's
    device; the losses and the trained parameters equal the CPU run's."""
    from bricks.data import DataLoader, TensorDataset
    from bricks.train import Trainer

    rng = np.random.default_rng(5)
    x = bricks.tensor(rng.standard_normal((40, 4)), dtype=bricks.float32)
    y = bricks.tensor(rng.integers(0, 3, 40))
    runs = []
    cpu, dev = _twin(_mlp)
    for model, device in ((dev, DEV), (cpu, None)):
        bricks.manual_seed(7)
        loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, device=device)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(),
                                                                   lr=0.01), verbose=0)
        history = trainer.fit(loader, epochs=2)
        runs.append((history.history, [_host(p) for p in model.parameters()]))
        assert all(p.device == (device or "cpu") for p in model.parameters())
    (h_dev, p_dev), (h_cpu, p_cpu) = runs
    assert h_dev == h_cpu
    for i, (a, b) in enumerate(zip(p_dev, p_cpu)):
        _same(a, b, f"fit: parameter {i}")


def test_checkpoint_round_trip_through_the_standin_device(tmp_path):
    """A model and optimizer saved from the device load back to the device or to the CPU:
    ``load(map_location=)`` for state dicts, ``load_checkpoint`` into objects on either."""
    cpu, dev = _twin(_mlp)
    opt = optim.Adam(dev.parameters(), lr=0.01)
    x = bricks.randn(5, 4, device=DEV)
    dev(x).sum().backward()
    opt.step()
    want = {k: _host(v) for k, v in dev.state_dict().items()}
    path = tmp_path / "model.safetensors"
    bricks.io.save(dev.state_dict(), path)
    for where in (DEV, "cpu", None):
        loaded = bricks.io.load(path, map_location=where)
        for k, v in loaded.items():
            assert v.device == (where or "cpu"), k
            _same(_host(v), want[k], f"load(map_location={where}): {k}")
    ckpt = tmp_path / "run.ckpt"
    bricks.io.save_checkpoint(ckpt, dev, opt, epoch=1)
    for where in (DEV, "cpu"):
        model = _mlp().to(where)
        opt2 = optim.Adam(model.parameters(), lr=0.01)
        result = bricks.io.load_checkpoint(ckpt, model, opt2, map_location=where)
        assert all(t.device == where for t in result["model"].values())
        for k, v in model.state_dict().items():
            assert v.device == where, k
            _same(_host(v), want[k], f"load_checkpoint to {where}: {k}")
        for p, q in zip(model.parameters(), dev.parameters()):
            for key, value in opt2.state[p].items():
                if isinstance(value, bricks.Tensor):
                    assert value.device == where, key
                    _same(_host(value), _host(opt.state[q][key]), f"{where}: state {key}")


COMPILED = [
    ("mlp_sgd_momentum", lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
     lambda p: optim.SGD(p, lr=0.1, momentum=0.9), nn.CrossEntropyLoss()),
    ("tanh_adam_mse", lambda: nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)),
     lambda p: optim.Adam(p, lr=0.01), nn.MSELoss()),
    ("dropout_layernorm", lambda: nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6),
                                                nn.Dropout(0.3), nn.Linear(6, 3)),
     lambda p: optim.SGD(p, lr=0.05), nn.CrossEntropyLoss(label_smoothing=0.1)),
]


@pytest.mark.parametrize("name, make, make_opt, loss_fn", COMPILED, ids=[r[0] for r in COMPILED])
def test_compiled_plan_runs_on_the_standin_device(name, make, make_opt, loss_fn):
    """bricks.compile of a training step on the device: the plan (its buffers allocated
    with the inputs' array module) replays the step; losses and parameters equal the
    compiled CPU run's bit for bit, and the plan is used (no eager fallback)."""
    rng = np.random.default_rng(6)
    xs = [rng.standard_normal((8, 4)).astype(np.float32) for _ in range(3)]
    ys = [rng.integers(0, 3, 8) if name != "tanh_adam_mse" else
          rng.standard_normal((8, 3)).astype(np.float32) for _ in range(3)]
    runs = []
    cpu, dev = _twin(make)
    for model, device in ((dev, DEV), (cpu, None)):
        opt = make_opt(model.parameters())

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

        compiled = bricks.compile(step, fallback=False)
        losses = []
        for i in range(5):
            bricks.manual_seed(100 + i)
            loss = compiled(bricks.tensor(xs[i % 3], device=device),
                            bricks.tensor(ys[i % 3], device=device))
            assert loss.device == (device or "cpu")
            losses.append(_host(loss))
        assert compiled.fallback_reason is None and compiled.graph is not None
        runs.append(losses + [_host(p) for p in model.parameters()])
    for i, (a, b) in enumerate(zip(*runs)):
        _same(a, b, f"compiled {name}: value {i}")


def test_cli_train_on_the_standin_device_and_resume_on_the_cpu(tmp_path, capsys):
    """``bricks train --device``: a run on the device (compiled steps included) equals the
    CPU run, and its checkpoint resumes on the CPU exactly like an uninterrupted CPU run."""
    from bricks.cli import main

    opts = ["--data", "moons", "--model", "mlp:16,16", "--dropout", "0.1", "--schedule",
            "none", "--quiet"]
    runs = {name: str(tmp_path / name) for name in ("cpu", "dev", "full")}
    assert main(["train", *opts, "--epochs", "2", "--out", runs["cpu"]]) == 0
    assert main(["train", *opts, "--epochs", "2", "--device", DEV, "--out", runs["dev"]]) == 0
    assert main(["train", *opts, "--epochs", "3", "--out", runs["full"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(" (")[0:2] == lines[1].split(" (")[0:2]  # the same test scores
    assert main(["train", "--resume", runs["dev"], "--epochs", "3", "--device", "cpu",
                 "--quiet"]) == 0

    def weights(run):
        ckpt = bricks.io.load_checkpoint(os.path.join(run, "checkpoint.safetensors"),
                                         restore_rng=False)
        return {k: _host(v) for k, v in ckpt["model"].items()}

    for a, b in ((weights(runs["dev"]), weights(runs["full"])),):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k], f"resumed on the cpu: {k}")
