"""A hostile-input corpus for the ``bricks`` command and its files: planted links, edited
checkpoints, devices and pipes, bombs, wrong-typed metadata.  Every case is generated here
(no stored binaries); each must end in one ``bricks: error: ...`` line (or a clean refusal),
never a traceback, a write outside the run folder, or a saved NaN."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import bricks
from bricks import io as bio
from bricks.backend import xp
from bricks.cli import DEFAULTS, main
from bricks.io import load_checkpoint

TINY = ["--data", "xor", "--model", "mlp:4", "--epochs", "2", "--quiet"]
CKPT = "checkpoint.safetensors"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(capsys, *argv, contains=None, code=2):
    got, out, err = run(capsys, *argv)
    assert got == code, (out, err)
    lines = [x for x in err.strip().splitlines() if not x.startswith("bricks: note: ")]
    assert len(lines) == 1 and lines[0].startswith("bricks: error: "), err
    assert "Traceback" not in err + out
    if contains is not None:
        for part in [contains] if isinstance(contains, str) else contains:
            assert part in lines[0], lines[0]
    return lines[0]


def edit_checkpoint(path, change):
    """Rewrite a checkpoint's JSON document with ``change(document)`` (an attacker's edit:
    the file stays well-formed, only its contents lie)."""
    arrays, document, _ = bio._read(path)
    change(document)
    bio._write(path, arrays, document, None)


@pytest.fixture(scope="module")
def _tiny_master(tmp_path_factory):
    out = tmp_path_factory.mktemp("master") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture()
def tiny_run(tmp_path, _tiny_master):
    """A fresh copy of a 2-epoch xor run (each test may spoil its own)."""
    out = tmp_path / "run"
    shutil.copytree(_tiny_master, out)
    return out


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))
            if (folder / name).is_file()}


# ---------------------------------------------------------------- 18.1 planted links
def test_resume_refuses_a_planted_config_symlink_and_leaves_the_target(tmp_path, tiny_run,
                                                                       capsys):
    victim = tmp_path / "victim.sh"
    victim.write_text("echo original\n")
    (tiny_run / "config.toml").unlink()
    (tiny_run / "config.toml").symlink_to(victim)
    assert_error(capsys, "train", "--resume", tiny_run, "--epochs", "3", "--quiet",
                 contains=["symbolic link", "config.toml"])
    assert victim.read_text() == "echo original\n"
    assert load_checkpoint(tiny_run / CKPT, restore_rng=False)["epoch"] == 1


def test_fresh_out_refuses_a_folder_with_links_or_a_linked_folder(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "history.csv").symlink_to(victim)
    assert_error(capsys, "train", *TINY, "--out", planted, contains="symbolic link")
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    assert_error(capsys, "train", *TINY, "--out", linked, contains="symbolic link")
    assert victim.read_text() == "keep me" and os.listdir(tmp_path / "elsewhere") == []


def test_atomic_write_replaces_a_link_instead_of_following_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    os.chmod(victim, 0o600)
    link = tmp_path / "out.txt"
    link.symlink_to(victim)
    with bio.atomic_write(link, "w") as f:
        f.write("new")
    assert victim.read_text() == "keep me" and not link.is_symlink()
    assert link.read_text() == "new"


HOSTILE_STRINGS = [
    'a"b', "a\\b", 'x"\nevil = "$(touch /tmp/pwned)', "line\nbreak", "\r\n[section]\n",
    "tab\there", "nul\x00byte", "del\x7f", "bell\x07", "\u2028sep\u2029", "\U0001f600 emoji",
    "' single", '"""', "\\u0041", "$(rm -rf ~)`id`", "",
]


@pytest.mark.parametrize("text", HOSTILE_STRINGS)
def test_toml_writer_round_trips_hostile_strings(text):
    doc = bio.toml_dumps({"data": text, "epochs": 3, "lr": 1e-05, "quiet": False},
                         comment="rerun with: bricks train --config x\n[evil]")
    assert tomllib.loads(doc) == {"data": text, "epochs": 3, "lr": 1e-05, "quiet": False}


def test_toml_writer_refuses_what_toml_cannot_hold():
    with pytest.raises(ValueError, match="finite"):
        bio.toml_dumps({"lr": float("inf")})
    with pytest.raises(ValueError, match="bare"):
        bio.toml_dumps({"a b": 1})
    with pytest.raises(ValueError, match="surrogate"):
        bio.toml_dumps({"x": "\ud800"})
    with pytest.raises(TypeError):
        bio.toml_dumps({"x": [1]})


def test_config_toml_of_a_file_with_quotes_in_its_name_reads_back(tmp_path, capsys):
    rng = xp.random.default_rng(0)
    name = tmp_path / 'we"ird $(touch pwned)\\.csv'
    X = rng.normal(size=(60, 2))
    rows = ["a,b,y"] + [f"{a},{b},{int(a > b)}" for a, b in X]
    name.write_text("\n".join(rows) + "\n")
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "--data", name, "--model", "mlp:4", "--epochs", "1",
                       "--quiet", "--out", out)
    assert code == 0, err
    with open(out / "config.toml", "rb") as f:
        cfg = tomllib.load(f)
    assert cfg["data"] == str(name)
    assert {k.replace("-", "_") for k in cfg} <= set(DEFAULTS)


# ---------------------------------------------------------------- 18.2 / 18.6 where resume writes
def test_resume_ignores_an_out_path_written_in_the_checkpoint(tmp_path, tiny_run, capsys):
    elsewhere = tmp_path / "elsewhere"
    edit_checkpoint(tiny_run / CKPT,
                    lambda d: d["metadata"]["config"].__setitem__("out", str(elsewhere)))
    code, _, err = run(capsys, "train", "--resume", tiny_run, "--epochs", "3", "--quiet")
    assert code == 0, err
    assert not elsewhere.exists()
    assert load_checkpoint(tiny_run / CKPT, restore_rng=False)["epoch"] == 2


def test_resume_of_a_moved_folder_does_not_touch_the_old_path(tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["train", *TINY, "--out", str(first)]) == 0
    moved = tmp_path / "moved"
    shutil.move(str(first), str(moved))
    # an unrelated run now lives at the old path
    assert main(["train", *TINY, "--out", str(first), "--seed", "1"]) == 0
    before = snapshot(first)
    code, _, err = run(capsys, "train", "--resume", moved, "--epochs", "3", "--quiet")
    assert code == 0, err
    assert snapshot(first) == before
    assert load_checkpoint(moved / CKPT, restore_rng=False)["epoch"] == 2


def test_resume_into_an_explicit_out(tmp_path, tiny_run, capsys):
    target = tmp_path / "continued"
    code, _, err = run(capsys, "train", "--resume", tiny_run, "--epochs", "3", "--quiet",
                       "--out", target)
    assert code == 0, err
    assert load_checkpoint(target / CKPT, restore_rng=False)["epoch"] == 2
    assert load_checkpoint(tiny_run / CKPT, restore_rng=False)["epoch"] == 1
    other = tmp_path / "other"
    assert main(["train", *TINY, "--out", str(other)]) == 0
    assert_error(capsys, "train", "--resume", tiny_run, "--epochs", "3", "--out", other,
                 contains="already holds a run")


def test_the_saved_config_does_not_hold_the_out_folder(tiny_run):
    meta = load_checkpoint(tiny_run / CKPT, restore_rng=False)["metadata"]
    assert "out" not in meta["config"]
    with open(tiny_run / "config.toml", "rb") as f:
        assert "out" not in tomllib.load(f)


# ---------------------------------------------------------------- 18.7 one writer per folder
LOCKER = textwrap.dedent("""
    import sys, time
    from bricks.train.run_folder import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()
""")


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "busy"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(folder)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        line = assert_error(capsys, "train", *TINY, "--out", folder,
                            contains="another bricks process")
        assert f"pid {proc.pid}" in line
        assert not (folder / CKPT).exists()
    finally:
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(timeout=30)
    assert main(["train", *TINY, "--out", str(folder)]) == 0  # released when it ended


def test_resume_of_a_locked_run_is_refused(tiny_run, capsys):
    from bricks.train.run_folder import RunLock

    before = snapshot(tiny_run)
    with RunLock(tiny_run):
        assert_error(capsys, "train", "--resume", tiny_run, contains="another bricks process")
    assert snapshot(tiny_run) == before


# ---------------------------------------------------------------- 18.9 stale temporary files
def test_a_killed_writers_temp_files_are_removed_on_the_next_run(tmp_path, tiny_run, capsys):
    stale = [tiny_run / ".checkpoint.safetensors.0123456789ab.tmp",
             tiny_run / ".history.csv.ba9876543210.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    keep = tiny_run / ".notes.tmp"  # not one of atomic_write's names
    keep.write_text("mine")
    code, _, err = run(capsys, "train", "--resume", tiny_run, "--epochs", "2", "--quiet")
    assert code == 0, err
    assert not any(p.exists() for p in stale) and keep.exists()


def test_atomic_write_removes_only_old_temp_files(tmp_path):
    old = tmp_path / ".a.bin.0123456789ab.tmp"
    new = tmp_path / ".b.bin.ba9876543210.tmp"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (0, 0))  # written by a writer killed long ago
    with bio.atomic_write(tmp_path / "c.bin") as f:
        f.write(b"z")
    assert not old.exists() and new.exists()  # a recent one may belong to a live writer


# ---------------------------------------------------------------- 18.11 files that never end
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_or_device_as_checkpoint_is_refused_without_blocking(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.mkfifo(run_dir / CKPT)  # opening it for reading would block forever
    assert_error(capsys, "evaluate", run_dir, contains="FIFO")
    assert_error(capsys, "predict", run_dir / CKPT, tmp_path / "x.npy", contains="FIFO")
    if os.path.exists("/dev/zero"):
        assert_error(capsys, "evaluate", "/dev/zero", contains="device")
    with pytest.raises(bio.CheckpointError, match="device|FIFO"):
        bio.load("/dev/zero" if os.path.exists("/dev/zero") else run_dir / CKPT)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_data_config_or_input_is_refused(tmp_path, tiny_run, capsys):
    for name in ("d.csv", "d.npz", "c.toml", "x.npy", "x.png"):
        os.mkfifo(tmp_path / name)
    assert_error(capsys, "train", "--data", tmp_path / "d.csv", contains="FIFO")
    assert_error(capsys, "train", "--data", tmp_path / "d.npz", contains="FIFO")
    assert_error(capsys, "train", "--config", tmp_path / "c.toml", contains="FIFO")
    assert_error(capsys, "predict", tiny_run, tmp_path / "x.npy", contains="FIFO")


# ---------------------------------------------------------------- 18.8 divergence
DIVERGE = ["--data", "moons", "--model", "mlp:16", "--optimizer", "sgd", "--lr", "1e10",
           "--schedule", "none", "--epochs", "3", "--quiet"]


def test_a_diverging_run_exits_nonzero_with_one_message_and_saves_nothing(tmp_path, capsys):
    out = tmp_path / "div"
    line = assert_error(capsys, "train", *DIVERGE, "--out", out, code=1,
                        contains=["training diverged", "smaller learning rate",
                                  "nothing was saved"])
    assert "Warning" not in line
    assert not (out / CKPT).exists()
    # the folder holds no run, so the same command with a sane rate may reuse it
    code, _, err = run(capsys, "train", *DIVERGE[:-5], "--lr", "0.1", "--epochs", "1",
                       "--quiet", "--out", out)
    assert code == 0, err


def test_resume_that_diverges_keeps_the_finite_checkpoint(tmp_path, tiny_run, capsys,
                                                          monkeypatch):
    from bricks.train import Trainer

    before = (tiny_run / CKPT).read_bytes()
    original = Trainer.train_epoch

    def poisoned(self, batches, epoch, progress=None):
        logs = original(self, batches, epoch, progress)
        for p in self.model.parameters():
            p.data[...] = xp.nan
        return logs

    monkeypatch.setattr(Trainer, "train_epoch", poisoned)
    assert_error(capsys, "train", "--resume", tiny_run, "--epochs", "4", "--quiet", code=1,
                 contains=["training diverged", "keeps epoch 2, the last finite one"])
    assert (tiny_run / CKPT).read_bytes() == before


@pytest.mark.parametrize("flag,value", [("--lr", "inf"), ("--lr", "nan"), ("--lr", "-inf"),
                                        ("--dropout", "nan"), ("--test-size", "inf")])
def test_non_finite_hyperparameters_are_refused(capsys, tmp_path, flag, value):
    name = flag[2:]
    assert_error(capsys, "train", *TINY, flag, value, "--out", tmp_path / "r", contains=name)
    assert not (tmp_path / "r").exists()


def test_non_finite_lr_in_a_config_file_is_refused(capsys, tmp_path):
    (tmp_path / "c.toml").write_text("lr = inf\n")
    assert_error(capsys, "train", "--config", tmp_path / "c.toml", *TINY, contains="lr")


def test_optimizers_refuse_non_finite_hyperparameters():
    import bricks

    w = bricks.zeros(2, requires_grad=True)
    for cls, kw in [(bricks.optim.SGD, {"lr": float("inf")}),
                    (bricks.optim.SGD, {"lr": 0.1, "momentum": float("inf")}),
                    (bricks.optim.Adam, {"lr": float("nan")}),
                    (bricks.optim.RMSprop, {"lr": 0.1, "weight_decay": float("inf")})]:
        with pytest.raises(ValueError, match="finite"):
            cls([w], **kw)


def test_evaluate_and_predict_refuse_nan_weights(tmp_path, tiny_run, capsys):
    edit_checkpoint(tiny_run / CKPT, lambda d: None)  # the file as an editor rewrites it
    arrays, document, _ = bio._read(tiny_run / CKPT)
    name = next(k for k in arrays if k.startswith("model."))
    arrays[name] = arrays[name].copy()
    arrays[name][...] = xp.nan
    bio._write(tiny_run / CKPT, arrays, document, None)
    xp.save(tmp_path / "x.npy", xp.zeros((1, 2), dtype=xp.float32))
    assert_error(capsys, "evaluate", tiny_run, contains=["NaN", name[len("model."):]])
    assert_error(capsys, "predict", tiny_run, tmp_path / "x.npy", contains="NaN")
    assert_error(capsys, "train", "--resume", tiny_run, "--epochs", "3", contains="NaN")


@pytest.mark.parametrize("seed", ["-7", str(2**32)])
def test_seed_out_of_range_names_the_option(capsys, tmp_path, seed):
    assert_error(capsys, "train", *TINY, "--seed", seed, "--out", tmp_path / "r",
                 contains="seed")


# ---------------------------------------------------------------- 18.12 lying metadata
def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(document):
        node = document
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def _scheduler_tmax_zero(document):
    state = document["scheduler"]["state"]
    assert "T_max" in state
    state["T_max"] = 0


def _bigger_model(document):
    document["metadata"]["config"]["model"] = "mlp:5"


LIES = {
    "config a list": (_set("metadata", "config", [1, 2]), "config should be a table"),
    "config unknown key": (_set("metadata", "config", "evil", 1), "evil"),
    "lr a string": (_set("metadata", "config", "lr", "fast"), "lr must be"),
    "optimizer unknown": (_set("metadata", "config", "optimizer", "evil"), "optimizer"),
    "epochs negative": (_set("metadata", "config", "epochs", -3), "epochs"),
    "data a string": (_set("metadata", "data", "x"), "data should be a table"),
    "task missing": (lambda d: d["metadata"]["data"].pop("task"), "data.task"),
    "task unknown": (_set("metadata", "data", "task", "evil"), "data.task"),
    "sample_shape a string": (_set("metadata", "data", "sample_shape", "2"), "sample_shape"),
    "sample_shape zero": (_set("metadata", "data", "sample_shape", [0]), "sample_shape"),
    "classes null": (_set("metadata", "data", "classes", None), "data.classes"),
    "classes one": (_set("metadata", "data", "classes", [0]), "data.classes"),
    "image a string": (_set("metadata", "data", "image", "no"), "data.image"),
    "epoch null": (_set("epoch", None), "epoch"),
    "epoch a string": (_set("epoch", "1"), "epoch"),
    "history null": (_set("history", None), "history"),
    "history lists": (_set("history", {"epoch": [0], "history": {"loss": 1}}), "history"),
    "scheduler T_max 0": (_scheduler_tmax_zero, "T_max"),
    "model bigger than weights": (_bigger_model, "does not fit"),
    "classes more than weights": (_set("metadata", "data", "classes", [0, 1, 2]),
                                  "does not fit"),
    "features more than weights": (_set("metadata", "data", "sample_shape", [3]),
                                   "does not fit"),
}


@pytest.mark.parametrize("case", list(LIES))
def test_lying_metadata_is_one_clear_error(case, tmp_path, tiny_run, capsys):
    change, message = LIES[case]
    edit_checkpoint(tiny_run / CKPT, change)
    x = tmp_path / "x.npy"
    xp.save(x, xp.zeros((1, 2), dtype=xp.float32))
    before = (tiny_run / CKPT).read_bytes()
    commands = [["evaluate", tiny_run], ["predict", tiny_run, x],
                ["train", "--resume", tiny_run, "--epochs", "3", "--quiet"]]
    for argv in commands[2:] if "scheduler" in case else commands:  # only resume steps it
        line = assert_error(capsys, *argv, contains=message)
        assert str(tiny_run) in line, line
    assert (tiny_run / CKPT).read_bytes() == before


def test_deeply_nested_config_toml_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert_error(capsys, "train", "--config", tmp_path / "deep.toml",
                 contains=["deep.toml", "nested too deeply"])
    (tmp_path / "table.toml").write_text("data = {a = 1}\n")
    assert_error(capsys, "train", "--config", tmp_path / "table.toml", contains="data")


# ---------------------------------------------------------------- 18.11 bombs and sizes
def _png_header(width, height):
    """A PNG whose header claims width x height pixels (its pixel data is missing)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("img") / "run"
    assert main(["train", "--data", "mnist", "--model", "linear", "--epochs", "1",
                 "--quiet", "--out", str(out)]) == 0
    return out


def test_predict_refuses_a_huge_image_before_decoding(tmp_path, image_run, capsys,
                                                      monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(_png_header(10000, 10000))  # 100 M pixels claimed in 57 bytes
    assert_error(capsys, "predict", image_run, big,
                 contains=["10000x10000", "BRICKS_MAX_PIXELS"])
    monkeypatch.setenv("BRICKS_MAX_PIXELS", "1e9")  # raised: now it tries, and fails cleanly
    line = assert_error(capsys, "predict", image_run, big, contains="cannot read image")
    assert "Warning" not in line
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header(20000, 20000))  # Pillow's own bomb limit still holds
    assert_error(capsys, "predict", image_run, huge, contains="cannot read image")


def _zip_bomb(path, megabytes=20):
    import zipfile

    shape = b"{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % (
        megabytes * 2**20 // 8)
    header = b"\x93NUMPY\x01\x00" + shape
    header = header + b" " * (63 - len(header) % 64) + b"\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("X.npy", "w") as member:
            member.write(header)
            zero = bytes(2**20)
            for _ in range(megabytes):
                member.write(zero)
        zf.writestr("y.npy", b"")


def test_data_npz_zip_bomb_is_refused(tmp_path, capsys):
    bomb = tmp_path / "bomb.npz"
    _zip_bomb(bomb)
    assert bomb.stat().st_size < 100_000
    assert_error(capsys, "train", "--data", bomb, "--out", tmp_path / "r",
                 contains="zip bomb")
    assert not (tmp_path / "r").exists()


def test_data_npz_over_the_array_limit_is_refused(tmp_path, capsys, monkeypatch):
    path = tmp_path / "big.npz"
    xp.savez(path, X=xp.zeros((1000, 300)), y=xp.zeros(1000))
    monkeypatch.setenv("BRICKS_MAX_ARRAY_BYTES", "1000000")
    assert_error(capsys, "train", "--data", path, contains="BRICKS_MAX_ARRAY_BYTES")


def test_npz_member_claiming_100_gb_is_refused(tmp_path, capsys):
    import io as _io
    import zipfile

    header = _io.BytesIO()
    xp.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (12_500_000_000,)})
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", header.getvalue() + bytes(64))
        zf.writestr("y.npy", header.getvalue() + bytes(64))
    assert_error(capsys, "train", "--data", path, contains="100000000000 bytes")


def test_npy_input_claiming_100_gb_is_refused(tmp_path, tiny_run, capsys):
    import io as _io

    header = _io.BytesIO()
    xp.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (12_500_000_000,)})
    (tmp_path / "x.npy").write_bytes(header.getvalue() + bytes(64))
    assert_error(capsys, "predict", tiny_run, tmp_path / "x.npy",
                 contains="100,000,000,000 bytes")


def test_model_size_is_checked_before_allocating(tmp_path, tiny_run, capsys, monkeypatch):
    assert_error(capsys, "train", *TINY, "--model", "mlp:99999999999", "--out",
                 tmp_path / "r", contains=["BRICKS_MAX_PARAMETERS", "weights"])
    assert not (tmp_path / "r").exists()
    edit_checkpoint(tiny_run / CKPT,
                    _set("metadata", "data", "sample_shape", [100000, 100000]))
    assert_error(capsys, "evaluate", tiny_run, contains="BRICKS_MAX_PARAMETERS")
    monkeypatch.setenv("BRICKS_MAX_PARAMETERS", "100")
    assert_error(capsys, "train", *TINY, "--model", "mlp:64", "--out", tmp_path / "r",
                 contains="over the limit")
    monkeypatch.setenv("BRICKS_MAX_PARAMETERS", "lots")
    assert_error(capsys, "train", *TINY, "--out", tmp_path / "r",
                 contains="BRICKS_MAX_PARAMETERS must be")


def test_confusion_matrix_of_thousands_of_classes_is_capped(tmp_path):
    import time

    from bricks.train import plots

    pytest.importorskip("matplotlib")
    cm = xp.eye(2000, dtype=xp.int64)
    start = time.perf_counter()
    plots.plot_confusion_matrix(cm, tmp_path / "cm.png")
    assert time.perf_counter() - start < 60  # uncapped: 4 M text cells, many minutes
    from PIL import Image

    with Image.open(tmp_path / "cm.png") as im:
        assert max(im.size) <= 1300  # 13 x 12 inches at 100 dpi, not 1002 inches


def test_csv_memory_is_a_small_multiple_of_the_file(tmp_path):
    import tracemalloc

    from bricks.data.tabular import read_csv

    rng = xp.random.default_rng(0)
    data = rng.normal(size=(40000, 20))
    path = tmp_path / "t.csv"
    lines = [",".join(f"{v:.6f}" for v in row) + f",{i % 3}" for i, row in enumerate(data)]
    path.write_text("\n".join(lines) + "\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        X, y, classes, _ = read_csv(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X.shape == (40000, 20) and classes is None and set(y.tolist()) == {0.0, 1.0, 2.0}
    assert xp.allclose(X, data, atol=1e-6)
    assert peak < 1.0 * size, (peak, size)  # the old list-of-lists reader: ~17x


# ---------------------------------------------------------------- 18.14 clear messages
def test_predict_output_that_is_a_folder_names_the_option(tmp_path, tiny_run, capsys):
    xp.save(tmp_path / "x.npy", xp.zeros((1, 2), dtype=xp.float32))
    line = assert_error(capsys, "predict", tiny_run, tmp_path / "x.npy", "--output",
                        tmp_path, contains=["--output", "is a folder"])
    assert ".tmp" not in line


def test_one_class_csv_is_refused(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i * 2},yes\n" for i in range(20)))
    assert_error(capsys, "train", "--data", path, "--out", tmp_path / "r",
                 contains=["only one class", "'yes'"])
    assert not (tmp_path / "r").exists()


def test_overflowing_outputs_are_an_error_not_nan_numbers(tmp_path, tiny_run, capsys):
    arrays, document, _ = bio._read(tiny_run / CKPT)
    for name in arrays:
        if name.startswith("model.") and name.endswith("weight"):
            arrays[name] = arrays[name] * 1e30  # finite weights, but huge
    bio._write(tiny_run / CKPT, arrays, document, None)
    xp.save(tmp_path / "x.npy", xp.full((2, 2), 1e10, dtype=xp.float32))
    assert_error(capsys, "predict", tiny_run, tmp_path / "x.npy", contains="NaN or infinite")
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("a,b,y\n" + "".join(f"{1e10 * (i % 2)},{1e10},{i % 2}\n"
                                              for i in range(10)))
    assert_error(capsys, "evaluate", tiny_run, "--data", csv_path, contains="NaN or infinite")


def test_a_bare_key_error_is_worded(capsys, monkeypatch):
    import bricks.cli as cli

    def boom(args):
        raise KeyError("task")

    monkeypatch.setitem(cli.COMMANDS, "datasets", boom)
    assert_error(capsys, "datasets", contains="missing or unknown entry 'task'")


# ---------------------------------------------------------------- no code path can unpickle
# Everything bricks reads (checkpoints, optimizer and generator states, data files, and what
# the ranks of bricks.distributed send each other) is arrays and JSON.  mpi4py's lowercase
# collectives (comm.bcast, comm.recv, ...) pickle their objects, so only the uppercase
# buffer ones may appear.
_UNPICKLING = re.compile(
    r"^\s*(import|from)\s+(pickle|cPickle|dill|cloudpickle|shelve|marshal|joblib)\b"
    r"|allow_pickle\s*=\s*True"
    r"|\btorch\.load\("
    r"|\bcomm\.(bcast|recv|irecv|send|isend|allgather|gather|scatter|alltoall|sendrecv"
    r"|allreduce|reduce)\(",
    re.MULTILINE)


def test_no_source_file_can_unpickle():
    root = Path(bricks.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in _UNPICKLING.finditer(text):
            line = text[:match.start()].count("\n") + 1
            found.append(f"{path.relative_to(root)}:{line}: {match.group(0).strip()}")
    assert found == []


def test_the_unpickling_check_catches_what_it_looks_for():
    for bad in ("import pickle", "from pickle import loads", "np.load(f, allow_pickle=True)",
                "world.comm.bcast(value, root=0)", "self.comm.allgather(x)", "torch.load(path)"):
        assert _UNPICKLING.search(bad), bad
    for fine in ("world.comm.Ibcast(buffer, root=src)", "comm.Iallgather(local, out)",
                 "read_array(f, allow_pickle=False)", "ax.scatter(x, y)",
                 "xp.add.reduce(a, axis=0)", "x.gather(1, index)"):
        assert not _UNPICKLING.search(fine), fine
