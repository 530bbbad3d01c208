"""Tests for bricks.io: state-dict files, checkpoints, atomic writes and hostile files."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import stat
import zipfile
from collections import OrderedDict

import pytest

import bricks
import bricks.io as bio
from bricks import nn
from bricks.backend import xp
from bricks.io import CheckpointError
from bricks.optim.lr_scheduler import ReduceLROnPlateau, StepLR

FORMATS = ["safetensors", "npz"]


def assert_same(a, b, where="value"):
    """Deep equality with types: dict key order and types, tuples vs lists, array dtype,
    shape and bytes, NumPy scalar types, NaN equal to NaN."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, bricks.Tensor):
        assert_same(a.data, b.data, where)
    elif isinstance(a, xp.ndarray) or isinstance(a, xp.generic):
        assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert xp.asarray(a).tobytes() == xp.asarray(b).tobytes(), f"{where}: values differ"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        assert [type(k) for k in a] == [type(k) for k in b], f"{where}: key types differ"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
        if isinstance(a, float):
            assert math.copysign(1, a) == math.copysign(1, b), f"{where}: sign of zero"


def sample_state():
    rng = xp.random.default_rng(1)
    return OrderedDict([
        ("layer.weight", bricks.Tensor(rng.standard_normal((3, 4)).astype("float32"))),
        ("z_f64", bricks.Tensor(rng.standard_normal(5))),
        ("count", bricks.tensor(7)),                                   # 0-d int64
        ("scalar", bricks.Tensor(xp.array(-0.0, dtype="float32"))),    # 0-d float, -0.0
        ("empty", bricks.zeros(0, 3)),
        ("empty_int", bricks.Tensor(xp.zeros((2, 0), dtype="int64"))),
        ("mask", bricks.Tensor(xp.array([[True, False], [False, True]]))),
        ("ids", bricks.Tensor(xp.array([-(2**62), 0, 2**62], dtype="int64"))),
        ("half", bricks.Tensor(xp.array([1.5, xp.inf, xp.nan], dtype="float16"))),
        ("bytes", bricks.Tensor(xp.arange(5, dtype="uint8"))),
        ("a.first_in_alphabet", bricks.Tensor(xp.arange(3, dtype="int32"))),
    ])


# ---------------------------------------------------------------- save / load


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_dtypes_shapes_and_order(tmp_path, fmt):
    state = sample_state()
    path = tmp_path / f"state.{fmt}"
    bio.save(state, path, format=fmt)
    loaded = bio.load(path)
    assert isinstance(loaded, OrderedDict)
    assert list(loaded) == list(state)  # the saved order, not the file's alphabetical one
    for key in state:
        assert isinstance(loaded[key], bricks.Tensor)
        assert not loaded[key].requires_grad
        assert_same(loaded[key].data, state[key].data, key)
    # Loaded arrays are the loader's own: writable, not views of a shared buffer.
    loaded["layer.weight"].data[0, 0] = 123.0
    assert bio.load(path)["layer.weight"].data[0, 0] != 123.0


@pytest.mark.parametrize("fmt", FORMATS)
def test_noncontiguous_big_endian_and_plain_arrays(tmp_path, fmt):
    base = xp.arange(24, dtype="float64").reshape(4, 6)
    state = {"strided": base[:, ::2], "transposed": bricks.Tensor(base.T),
             "big_endian": xp.arange(4, dtype=">i4")}
    bio.save(state, tmp_path / "x", format=fmt)
    loaded = bio.load(tmp_path / "x")
    assert xp.array_equal(loaded["strided"].data, base[:, ::2])
    assert xp.array_equal(loaded["transposed"].data, base.T)
    assert loaded["big_endian"].dtype == xp.dtype("int32")
    assert loaded["big_endian"].data.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_round_trip(tmp_path, fmt):
    meta = {"epoch": 3, "lr": 0.1, "nan": float("nan"), "inf": -math.inf,
            "betas": (0.9, 0.999), "by_class": {0: "zero", 1: "one"}, "name": "réseau ✓",
            "nested": [{"a": None, "b": True}], "__dunder": 1}
    path = tmp_path / "m"
    bio.save({"w": bricks.ones(2)}, path, metadata=meta, format=fmt)
    tensors, loaded = bio.load(path, with_metadata=True)
    assert_same(loaded, meta)
    assert list(tensors) == ["w"]
    bio.save({"w": bricks.ones(2)}, tmp_path / "none", format=fmt)
    assert bio.load(tmp_path / "none", with_metadata=True)[1] == {}


def test_format_choice_and_detection_by_content(tmp_path):
    bio.save({"w": bricks.ones(2)}, tmp_path / "a.npz")
    bio.save({"w": bricks.ones(2)}, tmp_path / "a.safetensors")
    bio.save({"w": bricks.ones(2)}, tmp_path / "b.safetensors", format="npz")
    assert (tmp_path / "a.npz").read_bytes()[:2] == b"PK"
    assert (tmp_path / "a.safetensors").read_bytes()[:2] != b"PK"
    assert (tmp_path / "b.safetensors").read_bytes()[:2] == b"PK"
    for name in ("a.npz", "a.safetensors", "b.safetensors"):
        assert bio.load(tmp_path / name)["w"].data.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="format must be"):
        bio.save({"w": bricks.ones(2)}, tmp_path / "c", format="pickle")


def test_without_safetensors_package(tmp_path, monkeypatch):
    bio.save(sample_state(), tmp_path / "st", format="safetensors")
    monkeypatch.setattr(bio, "_safetensors", None)
    bio.save(sample_state(), tmp_path / "model.safetensors")  # falls back to npz
    assert (tmp_path / "model.safetensors").read_bytes()[:2] == b"PK"
    for name in ("model.safetensors", "st"):  # st: read by bricks' own safetensors parser
        loaded = bio.load(tmp_path / name)
        for key, value in sample_state().items():
            assert_same(loaded[key].data, value.data, key)
    with pytest.raises(ImportError, match="safetensors"):
        bio.save({"w": bricks.ones(1)}, tmp_path / "x", format="safetensors")


def test_foreign_safetensors_file(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(st.save({"b": xp.ones(2, "float32"), "a": xp.zeros(3, "int64")},
                             metadata={"format": "pt"}))
    tensors, meta = bio.load(path, with_metadata=True)
    assert sorted(tensors) == ["a", "b"]
    assert meta == {"format": "pt"}
    assert tensors["a"].dtype == xp.dtype("int64")


def test_save_rejects_what_it_cannot_store(tmp_path):
    p = tmp_path / "x"
    with pytest.raises(TypeError, match="keys must be strings"):
        bio.save({1: bricks.ones(1)}, p)
    with pytest.raises(TypeError, match=r"state_dict\['w'\] is a list"):
        bio.save({"w": [1, 2]}, p)
    with pytest.raises(ValueError, match="complex"):
        bio.save({"w": xp.ones(2, dtype="complex64")}, p)
    with pytest.raises(ValueError, match="reserved"):
        bio.save({"__metadata__": bricks.ones(1)}, p)
    with pytest.raises(TypeError, match="metadata.fn: a function"):
        bio.save({"w": bricks.ones(1)}, p, metadata={"fn": lambda: 0})
    with pytest.raises(TypeError, match=r"metadata holds arrays.*metadata\.a"):
        bio.save({"w": bricks.ones(1)}, p, metadata={"a": xp.ones(2)})
    with pytest.raises(TypeError, match="NumPy scalars"):
        bio.save({"w": bricks.ones(1)}, p, metadata={"lr": xp.float32(0.5)})
    with pytest.raises(TypeError, match="mapping"):
        bio.save([bricks.ones(1)], p)
    assert not p.exists() and os.listdir(tmp_path) == []


def test_header_length_that_looks_like_a_pickle(tmp_path):
    # A 640-byte header starts the file with b"\x80\x02", a pickle's first two bytes.
    path = tmp_path / "x"
    bio.save({"w": bricks.ones(1)}, path, metadata={"pad": ""})
    guess = 0x280 - int.from_bytes(path.read_bytes()[:8], "little")
    for k in range(guess - 8, guess + 9):  # safetensors pads its header to 8 bytes
        bio.save({"w": bricks.ones(1)}, path, metadata={"pad": "x" * k})
        if path.read_bytes()[:2] == b"\x80\x02":
            break
    assert path.read_bytes()[:8] == (0x280).to_bytes(8, "little")
    assert bio.load(path, with_metadata=True)[1] == {"pad": "x" * k}


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        bio.load(tmp_path / "nope.safetensors")


# ---------------------------------------------------------------- checkpoints


class TinyScaler:
    """A StandardScaler-like object: arrays and JSON values in its state."""

    def __init__(self):
        self.mean_ = self.scale_ = None
        self.n_samples_seen_ = 0
        self.with_mean = True

    def fit(self, x):
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0)
        self.n_samples_seen_ = int(x.shape[0])
        return self

    def state_dict(self):
        return {"mean_": self.mean_, "scale_": self.scale_,
                "n_samples_seen_": self.n_samples_seen_, "with_mean": self.with_mean}

    def load_state_dict(self, state):
        for k, v in state.items():
            setattr(self, k, v)


def make_model(seed):
    bricks.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(8, 3))


OPTIMIZERS = {
    "SGD": lambda p: bricks.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "Adam": lambda p: bricks.optim.Adam(p, lr=0.01, amsgrad=True),
    "AdamW": lambda p: bricks.optim.AdamW(p, lr=0.01),
    "RMSprop": lambda p: bricks.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "Adagrad": lambda p: bricks.optim.Adagrad(p, lr=0.1),
    "LBFGS": lambda p: bricks.optim.LBFGS(p, lr=0.5, max_iter=4, history_size=3),
}


def train_steps(model, opt, x, y, steps=3):
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_checkpoint_round_trip(tmp_path, name, fmt):
    x = bricks.randn(16, 4)
    y = bricks.tensor(xp.random.default_rng(0).integers(0, 3, 16))
    model = make_model(0)
    opt = OPTIMIZERS[name](model.parameters())
    sched = ReduceLROnPlateau(opt, patience=0) if name == "Adagrad" else StepLR(opt, 2, 0.5)
    scaler = TinyScaler().fit(xp.random.default_rng(2).standard_normal((10, 4)))
    loader_gen = xp.random.default_rng(5)
    train_steps(model, opt, x, y)
    if isinstance(sched, ReduceLROnPlateau):
        sched.step(1.0)
    else:
        sched.step()
    history = {"loss": [1.0, 0.5], "acc": xp.array([0.1, 0.2])}
    path = tmp_path / "run.ckpt"
    bio.save_checkpoint(path, model, opt, sched, scaler, epoch=2, history=history,
                        extra={"best": math.inf, "note": ("a", 1)}, metadata={"cmd": "train"},
                        generators={"loader": loader_gen}, format=fmt)
    rng_after_save = bricks.backend.get_rng_state()

    model2 = make_model(1)
    opt2 = OPTIMIZERS[name](model2.parameters())
    if isinstance(sched, ReduceLROnPlateau):
        sched2 = ReduceLROnPlateau(opt2, patience=5)
    else:
        sched2 = StepLR(opt2, 3, 0.1)
    scaler2 = TinyScaler()
    gen2 = xp.random.default_rng(99)
    bricks.manual_seed(1234)
    ckpt = bio.load_checkpoint(path, model2, opt2, sched2, scaler2,
                               generators={"loader": gen2})

    assert_same(model2.state_dict(), model.state_dict())
    assert_same(opt2.state_dict(), opt.state_dict(), "optimizer")
    assert_same(ckpt["optimizer"], opt.state_dict(), "returned optimizer state")
    assert_same(sched2.state_dict(), sched.state_dict(), "scheduler")
    assert_same(scaler2.state_dict(), scaler.state_dict(), "scaler")
    assert_same(ckpt["model"], model.state_dict())
    assert ckpt["epoch"] == 2 and ckpt["version"] == bio.FORMAT_VERSION
    assert_same(ckpt["history"], history)
    assert_same(ckpt["extra"], {"best": math.inf, "note": ("a", 1)})
    assert ckpt["metadata"] == {"cmd": "train"}
    assert gen2.bit_generator.state == loader_gen.bit_generator.state
    assert bricks.backend.get_rng_state() == rng_after_save
    assert ckpt["rng"]["global"] == rng_after_save
    # The restored optimizer continues exactly like the original (same dropout draws).
    train_steps(model, opt, x, y, 2)
    bricks.backend.set_rng_state(rng_after_save)
    train_steps(model2, opt2, x, y, 2)
    assert_same(model2.state_dict(), model.state_dict())
    assert_same(opt2.state_dict(), opt.state_dict(), "optimizer after training")


def test_checkpoint_tensor_layout(tmp_path):
    model = nn.Linear(2, 2)
    opt = bricks.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(bricks.ones(1, 2)).sum().backward()
    opt.step()
    bio.save_checkpoint(tmp_path / "c", model, opt, epoch=1)
    tensors, document = bio.load(tmp_path / "c", with_metadata=True)
    assert list(tensors) == ["model.weight", "model.bias", "optimizer.state.0.momentum_buffer",
                             "optimizer.state.1.momentum_buffer"]
    assert document["format"] == "bricks.checkpoint" and document["version"] == 1
    assert document["model"] == ["weight", "bias"]
    assert document["optimizer"]["class"] == "SGD"
    assert document["epoch"] == 1
    assert document["bricks_version"] == bricks.__version__
    json.dumps(document, allow_nan=False)  # plain, strict JSON


def test_io_reads_the_version_from_its_module_not_the_package():
    # bricks.io sits below the package's __init__ (which imports it): it reads the version
    # from bricks._version, the one place it is written, instead of importing bricks.
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(bio))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {f"{node.module}.{alias.name}" for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert "bricks" not in imported
    assert "bricks._version.__version__" in imported
    assert bricks._version.__version__ == bricks.__version__


def test_checkpoint_partial_and_mismatches(tmp_path):
    model = nn.Linear(2, 2)
    sgd = bricks.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "c"
    bio.save_checkpoint(path, model, sgd)
    before = bricks.backend.get_rng_state()
    ckpt = bio.load_checkpoint(path)  # nothing to restore into: just the states
    assert ckpt["scheduler"] is None and ckpt["scaler"] is None and ckpt["epoch"] is None
    adam = bricks.optim.Adam(model.parameters())
    with pytest.raises(CheckpointError, match="holds SGD state.*Adam"):
        bio.load_checkpoint(path, optimizer=adam)
    with pytest.raises(CheckpointError, match="no scaler state"):
        bio.load_checkpoint(path, scaler=TinyScaler())
    with pytest.raises(CheckpointError, match="generator 'loader'"):
        bio.load_checkpoint(path, generators={"loader": xp.random.default_rng()})
    bricks.manual_seed(3)
    bio.load_checkpoint(path, restore_rng=False)
    assert bricks.backend.get_rng_state() != before
    bio.save({"w": bricks.ones(1)}, tmp_path / "plain")
    with pytest.raises(CheckpointError, match="not a bricks checkpoint"):
        bio.load_checkpoint(tmp_path / "plain")
    with pytest.raises(TypeError, match=r"extra\.f: a builtin_function_or_method is neither"):
        bio.save_checkpoint(tmp_path / "d", extra={"f": print})


# ---------------------------------------------------------------- resume equality


def run_training(epochs, optimizer_name, path=None, stop_after=None, resume_from=None,
                 restore_rng=True):
    """A plain loop: seeded batch order from a per-object generator, dropout from the global
    one, a StepLR schedule. Returns the final weights."""
    data_rng = xp.random.default_rng(11)
    x_all = bricks.Tensor(data_rng.standard_normal((64, 4)).astype("float32"))
    y_all = bricks.Tensor(data_rng.integers(0, 3, 64))
    model = make_model(0 if resume_from is None else 42)
    params = list(model.parameters())
    if optimizer_name == "SGD":
        opt = bricks.optim.SGD(params, lr=0.05, momentum=0.9)
    else:
        opt = bricks.optim.Adam(params, lr=0.01)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    order_rng = xp.random.default_rng(2024 if resume_from is None else 1)
    start = 0
    if resume_from is not None:
        bricks.manual_seed(999)  # a different global state that the checkpoint must undo
        ckpt = bio.load_checkpoint(resume_from, model, opt, sched,
                                   generators={"order": order_rng}, restore_rng=restore_rng)
        start = ckpt["epoch"] + 1
    else:
        bricks.manual_seed(5)
    history = []
    for epoch in range(start, epochs):
        model.train()
        order = order_rng.permutation(64)
        for i in range(0, 64, 16):
            idx = bricks.Tensor(order[i:i + 16])
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
        sched.step()
        history.append(loss.item())
        if stop_after is not None and epoch == stop_after:
            bio.save_checkpoint(path, model, opt, sched, epoch=epoch, history=history,
                                generators={"order": order_rng})
            return None
    return OrderedDict((k, v.data.copy()) for k, v in model.state_dict().items())


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
def test_resume_is_bit_identical(tmp_path, optimizer_name):
    full = run_training(5, optimizer_name)
    path = tmp_path / "epoch1.ckpt"
    run_training(5, optimizer_name, path=path, stop_after=1)
    resumed = run_training(5, optimizer_name, resume_from=path)
    assert_same(resumed, full)
    # The test can fail: without the saved global generator, dropout draws differ.
    other = run_training(5, optimizer_name, resume_from=path, restore_rng=False)
    assert any(not xp.array_equal(other[k], full[k]) for k in full)


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_success_text_and_binary(tmp_path):
    path = tmp_path / "f.txt"
    with bio.atomic_write(path, "w") as f:
        f.write("héllo\n")
    assert path.read_text(encoding="utf-8") == "héllo\n"
    with bio.atomic_write(path) as f:
        f.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["f.txt"]
    with pytest.raises(ValueError, match="mode"):
        with bio.atomic_write(path, "a"):
            pass


def test_atomic_write_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    fresh = tmp_path / "fresh"
    with bio.atomic_write(fresh) as f:
        f.write(b"x")
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask
    secret = tmp_path / "secret"
    secret.write_bytes(b"old")
    os.chmod(secret, 0o600)
    with bio.atomic_write(secret) as f:
        f.write(b"new")
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600


def test_exception_mid_write_keeps_previous_file(tmp_path):
    path = tmp_path / "model.safetensors"
    bio.save(sample_state(), path)
    old = path.read_bytes()
    with pytest.raises(RuntimeError, match="power cut"):
        with bio.atomic_write(path) as f:
            f.write(old[: len(old) // 2])  # half the bytes of a new file, then a crash
            raise RuntimeError("power cut")
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["model.safetensors"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fail", ["replace", "fsync"])
def test_crash_during_save_checkpoint_keeps_previous(tmp_path, monkeypatch, fail, fmt):
    model = nn.Linear(3, 2)
    path = tmp_path / "last.ckpt"
    bio.save_checkpoint(path, model, epoch=1, format=fmt)
    old = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(os, fail, crash)
        with pytest.raises(OSError, match="disk gone"):
            bio.save_checkpoint(path, nn.Linear(3, 2), epoch=2, format=fmt)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["last.ckpt"]
    assert bio.load_checkpoint(path)["epoch"] == 1


def test_crash_while_writing_npz_members(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    bio.save(sample_state(), path)
    old = path.read_bytes()
    real = xp.lib.format.write_array
    calls = []

    def write_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(xp.lib.format, "write_array", write_then_crash)
    with pytest.raises(MemoryError):
        bio.save(sample_state(), path)
    assert len(calls) == 3
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["m.npz"]


# ---------------------------------------------------------------- hostile files


def st_bytes(header, data=b"", length=None):
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    n = len(raw) if length is None else length
    return n.to_bytes(8, "little") + raw + data


F4 = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}


def entry(**kw):
    return {"w": {**F4, **kw}}


def npz_bytes(**arrays):
    buf = io.BytesIO()
    xp.savez(buf, **arrays)
    return buf.getvalue()


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npy_header_lie():
    buf = io.BytesIO()  # a .npy header declaring 10**12 floats, followed by 8 bytes
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
    xp.lib.format.write_array_header_1_0(buf, header)
    return zip_bytes({"w.npy": buf.getvalue() + b"\0" * 8})


def valid_file(tmp_path):
    bio.save({"w": bricks.ones(4), "v": bricks.zeros(2)}, tmp_path / "valid")
    return (tmp_path / "valid").read_bytes()


HOSTILE = {
    "empty": (lambda v: b"", "too short"),
    "five bytes": (lambda v: b"\x01\x02\x03\x04\x05", "too short"),
    "huge header length": (lambda v: st_bytes(b"{}", length=2**60), "header length"),
    "truncated": (lambda v: v[:-3], "outside|cover"),
    "truncated header": (lambda v: v[:20], "header length"),
    "text file": (lambda v: b"this is not a model file at all\n" * 4, "header length"),
    "pickle": (lambda v: pickle.dumps({"w": [1.0, 2.0]}), "pickle"),
    "header not json": (lambda v: st_bytes(b"{nope"), "not valid JSON"),
    "header not utf-8": (lambda v: st_bytes(b"\xff\xfe"), "not valid JSON"),
    "header is a list": (lambda v: st_bytes([1, 2]), "JSON object"),
    "entry not a dict": (lambda v: st_bytes({"w": 3}), "exactly dtype"),
    "entry extra field": (lambda v: st_bytes(entry(x=1), b"\0" * 4), "exactly dtype"),
    "dtype not str": (lambda v: st_bytes(entry(dtype=5), b"\0" * 4), "dtype should be"),
    "unknown dtype": (lambda v: st_bytes(entry(dtype="Q99"), b"\0" * 4), "unknown dtype"),
    "bf16": (lambda v: st_bytes(entry(dtype="BF16", data_offsets=[0, 2]), b"\0" * 2),
             "no NumPy equivalent"),
    "shape str": (lambda v: st_bytes(entry(shape="1"), b"\0" * 4), "shape should be"),
    "shape negative": (lambda v: st_bytes(entry(shape=[-1]), b"\0" * 4), "shape should be"),
    "shape bool": (lambda v: st_bytes(entry(shape=[True]), b"\0" * 4), "shape should be"),
    "shape float": (lambda v: st_bytes(entry(shape=[1.0]), b"\0" * 4), "shape should be"),
    "offsets short": (lambda v: st_bytes(entry(data_offsets=[0]), b"\0" * 4),
                      "data_offsets should be"),
    "offsets str": (lambda v: st_bytes(entry(data_offsets=["0", 4]), b"\0" * 4),
                    "data_offsets should be"),
    "offsets out of range": (lambda v: st_bytes(entry(data_offsets=[0, 10**12]), b"\0" * 4),
                             "outside"),
    "offsets reversed": (lambda v: st_bytes(entry(data_offsets=[4, 0]), b"\0" * 4), "outside"),
    "offsets negative": (lambda v: st_bytes(entry(data_offsets=[-4, 0]), b"\0" * 4),
                         "outside"),
    "size mismatch": (lambda v: st_bytes(entry(shape=[2]), b"\0" * 4), "needs 8"),
    "huge shape": (lambda v: st_bytes(entry(shape=[2**40, 2**40]), b"\0" * 4), "needs"),
    "overlap": (lambda v: st_bytes({"a": F4, "b": F4}, b"\0" * 4), "overlapping"),
    "trailing bytes": (lambda v: st_bytes(entry(), b"\0" * 8), "trailing"),
    "metadata not str": (lambda v: st_bytes({"__metadata__": {"a": 1}}), "strings to strings"),
    "bricks json broken": (lambda v: st_bytes({"__metadata__": {"bricks": "{oops"}}),
                           "bricks metadata is not valid JSON"),
    "bricks json deep": (lambda v: st_bytes({"__metadata__": {"bricks": "[" * 100000}}),
                         "bricks metadata is not valid JSON"),
    "bricks json list": (lambda v: st_bytes({"__metadata__": {"bricks": "[1]"}}),
                         "not a JSON object"),
    "key list mismatch": (lambda v: st_bytes({"__metadata__": {"bricks": json.dumps(
        {"format": "bricks.state_dict", "version": 1, "keys": ["x"], "metadata": {}})}}),
        "key list"),
    "npz object array": (lambda v: npz_bytes(a=xp.array([{"x": 1}], dtype=object)),
                         "Python objects"),
    "zip with pickle member": (lambda v: zip_bytes({"archive/data.pkl": b"\x80\x02."}),
                               "not an npz"),
    "damaged zip": (lambda v: b"PK\x03\x04" + b"\0" * 40, "damaged"),
    "npy shape lie": (lambda v: npy_header_lie(), "needs"),
    "npy not npy": (lambda v: zip_bytes({"w.npy": b"hello"}), "damaged npz"),
    "npz string array": (lambda v: npz_bytes(a=xp.array(["x"])), "dtype <U1"),
    "zip duplicate members": (lambda v: _dup_zip(), "duplicate"),
}


def _dup_zip():
    buf = io.BytesIO()
    member = io.BytesIO()
    xp.lib.format.write_array(member, xp.zeros(1))
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.npy", member.getvalue())
        with pytest.warns(UserWarning):
            zf.writestr("a.npy", member.getvalue())
    return buf.getvalue()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file(tmp_path, case):
    make, message = HOSTILE[case]
    path = tmp_path / "bad.file"
    path.write_bytes(make(valid_file(tmp_path)))
    with pytest.raises(CheckpointError, match=message) as info:
        bio.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(CheckpointError):
        bio.load_checkpoint(path)


def checkpoint_document(tmp_path):
    model = nn.Linear(2, 1)
    opt = bricks.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(bricks.ones(1, 2)).sum().backward()
    opt.step()
    bio.save_checkpoint(tmp_path / "good", model, opt, epoch=1, format="npz")
    tensors, document = bio.load(tmp_path / "good", with_metadata=True)
    return OrderedDict((k, v.data) for k, v in tensors.items()), document


def rewrite(arrays, document):
    """An npz with the given arrays and bricks JSON (bypassing save's checks)."""
    buf = io.BytesIO()
    meta = xp.frombuffer(json.dumps(document).encode(), dtype="uint8")
    xp.savez(buf, **arrays, __metadata__=meta)
    return buf.getvalue()


def _set(document, path, value):
    doc = json.loads(json.dumps(document))
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return doc


BAD_CHECKPOINTS = {
    "missing tensor": (["optimizer", "state"], {"__dict__": [[0, {"momentum_buffer": {
        "__array__": "nowhere"}}]]}, "not a tensor of the file"),
    "unknown tag": (["epoch"], {"__code__": "import os"}, "unknown tag"),
    "tag with extra keys": (["epoch"], {"__float__": "nan", "x": 1}, "extra keys"),
    "bad float": (["epoch"], {"__float__": "1e999"}, "__float__ must be"),
    "bad tuple": (["epoch"], {"__tuple__": 3}, "__tuple__ needs a list"),
    "bad dict": (["epoch"], {"__dict__": [[1]]}, "__dict__ needs"),
    "dict key list": (["epoch"], {"__dict__": [[[1], 2]]}, "dict key must be"),
    "newer version": (["version"], 99, "newer"),
    "bad version": (["version"], "1", "invalid format version"),
    "model keys": (["model"], ["weight", "nonexistent"], "model's key list"),
    "optimizer entry": (["optimizer"], {"state": {}}, "optimizer entry"),
    "rng": (["rng"], {"global": 1}, "rng entry"),
    "rng state": (["rng", "global"], {"bit_generator": "PCG64", "state": "x"},
                  "invalid global random state"),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_hostile_checkpoint_json(tmp_path, case):
    where, value, message = BAD_CHECKPOINTS[case]
    arrays, document = checkpoint_document(tmp_path)
    path = tmp_path / "bad.ckpt"
    path.write_bytes(rewrite(arrays, _set(document, where, value)))
    model = nn.Linear(2, 1)
    opt = bricks.optim.SGD(model.parameters(), lr=0.5)
    weights = model.weight.data.copy()
    with pytest.raises(CheckpointError, match=message):
        bio.load_checkpoint(path, model, opt)
    if case != "rng state":  # everything is checked before anything is restored
        assert xp.array_equal(model.weight.data, weights)
        assert opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("depth", [150, 900, 100_000])
def test_deeply_nested_json_fails_cleanly(tmp_path, depth):
    arrays, document = checkpoint_document(tmp_path)
    text = json.dumps(_set(document, ["extra"], "@@")).replace('"@@"', "[" * depth + "]" * depth)
    buf = io.BytesIO()
    xp.savez(buf, **arrays, __metadata__=xp.frombuffer(text.encode(), dtype="uint8"))
    (tmp_path / "deep").write_bytes(buf.getvalue())
    message = "nested more than 100 levels" if depth < 1000 else "not valid JSON"
    with pytest.raises(CheckpointError, match=message):
        bio.load_checkpoint(tmp_path / "deep")


def test_nesting_limit_on_save(tmp_path):
    deep = []
    for _ in range(98):
        deep = [deep]
    bio.save_checkpoint(tmp_path / "ok", extra=deep)  # the deepest that is allowed
    assert bio.load_checkpoint(tmp_path / "ok")["extra"] == deep
    with pytest.raises(TypeError, match="nested more than 100 levels"):
        bio.save_checkpoint(tmp_path / "deep", extra=[deep, [[[[deep]]]]])
    assert sorted(os.listdir(tmp_path)) == ["ok"]


class CountingGenerator:
    """A generator-like object that saves itself through state_dict/load_state_dict."""

    def __init__(self, seed):
        self.seed, self.calls = seed, 0

    def state_dict(self):
        return {"seed": self.seed, "calls": self.calls}

    def load_state_dict(self, state):
        self.seed, self.calls = state["seed"], state["calls"]


def test_generator_kinds(tmp_path):
    bits, custom = xp.random.PCG64(3), CountingGenerator(4)
    bits.random_raw(5)
    custom.calls = 9
    bio.save_checkpoint(tmp_path / "g", generators={"bits": bits, "custom": custom})
    bits2, custom2 = xp.random.PCG64(0), CountingGenerator(0)
    ckpt = bio.load_checkpoint(tmp_path / "g", generators={"bits": bits2, "custom": custom2})
    assert bits2.state == bits.state and custom2.state_dict() == {"seed": 4, "calls": 9}
    assert sorted(ckpt["rng"]["generators"]) == ["bits", "custom"]
    with pytest.raises(TypeError, match="generator 'x'.*no state"):
        bio.save_checkpoint(tmp_path / "h", generators={"x": object()})
    with pytest.raises(CheckpointError, match="invalid state for generator 'bits'"):
        bio.load_checkpoint(tmp_path / "g", generators={"bits": xp.random.MT19937(0)})


@pytest.mark.parametrize("name", ["StandardScaler", "MinMaxScaler"])
def test_checkpoint_with_bricks_data_scalers(tmp_path, name):
    data = pytest.importorskip("bricks.data")
    cls = getattr(data, name)
    x = xp.random.default_rng(0).standard_normal((20, 3)) * 5 + 2
    scaler = cls().fit(x)
    bio.save_checkpoint(tmp_path / "s", scaler=scaler)
    fresh = cls()
    bio.load_checkpoint(tmp_path / "s", scaler=fresh)
    assert_same(fresh.state_dict(), scaler.state_dict())
    assert_same(xp.asarray(fresh.transform(x)), xp.asarray(scaler.transform(x)))
