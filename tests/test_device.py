"""The device API (PyTorch's names): bricks.device, Tensor.to/.cuda/.cpu/.device,
Module.to, device= on the functions that make tensors, bricks.cuda, mixed-device errors.

Machines without a GPU check the errors and the 'cpu' device, and the round trips through
the stand-in device of ``standin_device`` (NumPy behind a CuPy-like array type).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import bricks
from bricks import backend, nn

sys.path.insert(0, os.path.dirname(__file__))
import standin_device  # noqa: E402

DEV = standin_device.NAME


@pytest.fixture
def standin():
    standin_device.register()
    yield DEV
    standin_device.unregister()


# ---------------------------------------------------------------- bricks.device


def test_device_parses_like_torch():
    assert bricks.device("cpu").type == "cpu" and bricks.device("cpu").index is None
    d = bricks.device("cuda:1")
    assert (d.type, d.index, str(d), repr(d)) == ("cuda", 1, "cuda:1",
                                                  "device(type='cuda', index=1)")
    assert bricks.device("cuda", 1) == d == "cuda:1"
    assert bricks.device(d) == d and hash(bricks.device("cuda:1")) == hash(d)
    assert bricks.device("cuda") != bricks.device("cuda:0")  # as in PyTorch
    assert bricks.device("cpu") == "cpu" and bricks.device("cpu") != "cuda"
    assert bricks.device("cpu") != "not a device"


@pytest.mark.parametrize("bad, error, match", [
    ("tpu", RuntimeError, "unknown device type 'tpu'"),
    ("cuda:x", RuntimeError, "invalid device string 'cuda:x'"),
    ("cuda:-1", RuntimeError, "invalid device string"),
    ("cpu:1", RuntimeError, "cpu has only index 0"),
    (3.0, TypeError, "expected a string"),
])
def test_device_errors_name_the_problem(bad, error, match):
    with pytest.raises(error, match=match):
        bricks.device(bad)
    with pytest.raises(ValueError, match="index given twice"):
        bricks.device("cuda:0", 1)


def test_cuda_is_not_available_here_and_never_crashes():
    assert bricks.cuda.is_available() is (bricks.cuda.device_count() > 0)
    if backend.device_type("cuda") is None:  # no CuPy on this machine
        assert bricks.cuda.is_available() is False
        assert bricks.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="CUDA is not available.*not installed"):
            bricks.cuda.current_device()


def test_cuda_without_a_working_driver_is_unavailable(monkeypatch):
    """CuPy installed but its runtime raising (no driver, no GPU): False, not a crash."""

    def broken():
        raise RuntimeError("cudaErrorInsufficientDriver")

    kind = backend.DeviceType("cuda", standin_device.module, standin_device.StandInArray,
                              standin_device._to_numpy, standin_device._from_numpy,
                              count=broken)
    old = backend.device_type("cuda")
    backend.register_device_type(kind)
    try:
        assert bricks.cuda.is_available() is False
        assert bricks.cuda.device_count() == 0
    finally:
        backend.unregister_device_type("cuda")
        if old is not None:
            backend.register_device_type(old)


# ---------------------------------------------------------------- tensors on the cpu


def test_tensor_device_and_cpu_round_trips():
    x = bricks.tensor([1.0, 2.0])
    assert x.device == bricks.device("cpu") == "cpu" and not x.is_cuda
    assert x.to("cpu") is x and x.cpu() is x and x.to(bricks.device("cpu")) is x
    y = x.to("cpu", bricks.float64)
    assert y.dtype == bricks.float64 and y.tolist() == [1.0, 2.0]
    assert x.to(dtype=bricks.int64).dtype == bricks.int64
    assert x.to(y).dtype == bricks.float64  # another tensor's device and dtype
    z = x.to("cpu", copy=True)
    assert z is not x and z.tolist() == x.tolist()
    assert x.to("float64").dtype == bricks.float64  # a dtype name, not a device


def test_cuda_errors_say_cuda_is_not_available():
    if bricks.cuda.is_available():
        pytest.skip("this machine has a GPU")
    x = bricks.ones(2)
    for call in (lambda: x.cuda(), lambda: x.to("cuda"), lambda: x.to("cuda:1"),
                 lambda: bricks.zeros(2, device="cuda"),
                 lambda: bricks.randn(2, device="cuda"),
                 lambda: bricks.tensor([1.0], device="cuda"),
                 lambda: nn.Linear(2, 2).cuda(),
                 lambda: bricks.data.DataLoader([1, 2], device="cuda")):
        with pytest.raises(RuntimeError, match="'cuda(:1)?' is not available"):
            call()


@pytest.mark.parametrize("make", [
    lambda d: bricks.zeros(2, 3, device=d), lambda d: bricks.ones(2, device=d),
    lambda d: bricks.empty(2, device=d), lambda d: bricks.full((2,), 7.0, device=d),
    lambda d: bricks.arange(5, device=d), lambda d: bricks.linspace(0, 1, 5, device=d),
    lambda d: bricks.eye(3, device=d), lambda d: bricks.rand(2, device=d),
    lambda d: bricks.randn(2, device=d), lambda d: bricks.randint(0, 5, (3,), device=d),
    lambda d: bricks.randperm(4, device=d), lambda d: bricks.tensor([1, 2], device=d),
    lambda d: bricks.zeros_like(bricks.ones(2), device=d),
    lambda d: bricks.ones_like(bricks.ones(2), device=d),
    lambda d: bricks.full_like(bricks.ones(2), 3.0, device=d),
    lambda d: bricks.empty_like(bricks.ones(2), device=d),
    lambda d: bricks.rand_like(bricks.ones(2), device=d),
    lambda d: bricks.randn_like(bricks.ones(2), device=d),
], ids=["zeros", "ones", "empty", "full", "arange", "linspace", "eye", "rand", "randn",
        "randint", "randperm", "tensor", "zeros_like", "ones_like", "full_like", "empty_like",
        "rand_like", "randn_like"])
def test_every_creation_function_takes_device(make, standin):
    """device= puts the tensor there; the same seed draws the same numbers on every device."""
    bricks.manual_seed(3)
    on_cpu = make("cpu")
    bricks.manual_seed(3)
    on_dev = make(DEV)
    assert on_cpu.device == "cpu" and on_dev.device == DEV
    assert on_dev.dtype == on_cpu.dtype and on_dev.shape == on_cpu.shape
    if "empty" not in str(make):
        np.testing.assert_array_equal(on_dev.cpu().numpy(), on_cpu.numpy())


def test_like_functions_follow_their_input_device(standin):
    x = bricks.ones(2, 2, device=DEV)
    for y in (bricks.zeros_like(x), bricks.ones_like(x), bricks.full_like(x, 2.0),
              bricks.empty_like(x), bricks.rand_like(x), bricks.randn_like(x)):
        assert y.device == DEV


# ---------------------------------------------------------------- another device


def test_to_and_back_keeps_values_and_gradients(standin):
    x = bricks.tensor([1.0, -2.0, 3.0], requires_grad=True)
    d = x.to(DEV)
    assert d.device == DEV and d.is_leaf is False and d.requires_grad
    assert d.to(DEV) is d and d.to(bricks.device(DEV)) is d
    y = (d * d).sum()
    assert y.device == DEV
    y.backward()
    assert x.grad.device == "cpu"  # the gradient flows back through the move
    assert x.grad.tolist() == [2.0, -4.0, 6.0]
    back = d.detach().cpu()
    assert back.device == "cpu" and back.tolist() == [1.0, -2.0, 3.0]
    assert "device='standin'" in repr(d)


def test_numpy_on_another_device_raises_like_torch(standin):
    d = bricks.ones(2, device=DEV)
    with pytest.raises(TypeError, match=r"numpy\(\): can't convert a standin tensor.*cpu\(\)"):
        d.numpy()
    with pytest.raises(TypeError, match="cpu()"):
        np.asarray(d)
    assert d.tolist() == [1.0, 1.0] and d.sum().item() == 2.0  # these copy, as in PyTorch


@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "add"), (lambda a, b: a @ b.reshape(2, 1), "matmul"),
    (lambda a, b: bricks.where(a > 0, a, b), "where"),
    (lambda a, b: bricks.cat([a, b]), "cat"),
])
def test_mixing_devices_names_the_op_and_both_devices(op, name, standin):
    a = bricks.ones(2)
    b = bricks.ones(2, device=DEV)
    with pytest.raises(RuntimeError, match=rf"{name}.*same device.*cpu.*{DEV}"):
        op(a, b)
    with pytest.raises(RuntimeError, match=rf"same device.*{DEV}.*cpu"):
        op(b, a)


def test_constants_follow_the_tensor_device(standin):
    """Python numbers, lists and NumPy arrays mixed into ops land on the tensor's device."""
    d = bricks.arange(4.0, device=DEV)
    for y in (d + 1, 2.0 * d, d - np.float32(1.0), d + [1.0, 2.0, 3.0, 4.0],
              d * np.ones(4), d[np.array([0, 2])], d[[1, 3]], d.masked_fill(
                  np.array([True, False, True, False]), 0.0)):
        assert y.device == DEV
    d[np.array([0])] = 5.0
    d.copy_(np.arange(4.0))  # copy_ crosses devices, as in PyTorch
    assert d.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_module_to_moves_parameters_and_buffers(standin):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    params = list(model.parameters())
    model(bricks.randn(5, 3)).sum().backward()
    assert model.to(DEV) is model
    assert list(model.parameters()) == params  # the same Parameter objects, moved
    for t in list(model.parameters()) + list(model.buffers()):
        assert t.device == DEV
        if t.grad is not None:
            assert t.grad.device == DEV
    out = model(bricks.randn(5, 3, device=DEV))
    assert out.device == DEV
    model.cpu()
    assert all(t.device == "cpu" for t in model.state_dict().values())
    model.to(DEV, bricks.float64)
    assert all(p.device == DEV and p.dtype == bricks.float64 for p in model.parameters())
    model.to(bricks.float32)  # a dtype alone still works
    assert all(p.dtype == bricks.float32 for p in model.parameters())
    with pytest.raises(ValueError, match=r"\.to\(device\)"):
        nn.Linear(2, 2, device=DEV)


def test_dataloader_moves_batches(standin):
    data = bricks.data.TensorDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    for pin in (False, True):
        loader = bricks.data.DataLoader(data, batch_size=4, device=DEV, pin_memory=pin)
        batches = list(loader)
        assert [x.device for x, _ in batches] == [DEV, DEV]
        assert [y.tolist() for _, y in batches] == [[0, 1, 2, 3], [4, 5]]
    dicts = bricks.data.DataLoader([{"a": np.ones(2)}] * 3, batch_size=2, device=DEV)
    assert next(iter(dicts))["a"].device == DEV
    # A dataset kept on the device: batches are gathered there.
    on_dev = bricks.data.TensorDataset(bricks.arange(12.0, device=DEV).reshape(6, 2),
                                       bricks.arange(6, device=DEV))
    batches = list(bricks.data.DataLoader(on_dev, batch_size=4, shuffle=True))
    assert all(x.device == DEV and y.device == DEV for x, y in batches)
    assert sorted(v for _, y in batches for v in y.tolist()) == list(range(6))


def test_get_array_module_and_backend_helpers(standin):
    d = bricks.ones(2, device=DEV).data
    assert backend.get_array_module(d) is standin_device.module
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(np.ones(2), d) is standin_device.module
    assert backend.get_array_module(1.0) is np
    assert backend.is_array(d) and backend.is_array(np.ones(1)) and not backend.is_array(1.0)
    np.testing.assert_array_equal(backend.to_numpy(d), np.ones(2))


# ---------------------------------------------------------------- the GPU benchmark


def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_skips_without_a_gpu(capsys):
    if bricks.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert _bench().main(["--quick"]) is None
    out = capsys.readouterr().out
    assert "skipped, no GPU to measure" in out and "No numbers are reported" in out
    assert "|" not in out  # no table, no invented numbers


def test_bench_gpu_models_match_their_torch_twins():
    """The PyTorch models of the benchmark compute what the bricks models compute."""
    torch = pytest.importorskip("torch")
    bench = _bench()
    for _, make, shape, _ in bench.WORKLOADS:
        bricks.manual_seed(0)
        model = make()
        twin = bench.torch_model(torch, model)
        x = np.random.default_rng(0).standard_normal((3,) + shape).astype(np.float32)
        want = twin(torch.from_numpy(x)).detach().numpy()
        got = model(bricks.tensor(x)).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
