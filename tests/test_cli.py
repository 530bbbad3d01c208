"""The ``bricks`` command end to end: train, evaluate, predict, datasets, config, resume,
data files and every error path (exit status 2, one line, no traceback)."""

import csv
import json
import os
import subprocess
import sys

import pytest

from bricks.backend import xp
from bricks.cli import main
from bricks.io import load, load_checkpoint

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = ["--data", "moons", "--model", "mlp:16,16", "--epochs", "3", "--quiet"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(capsys, *argv, contains=None):
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bricks: error: "), err
    assert "Traceback" not in err + out
    if contains is not None:
        assert contains in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "moons")
    assert main(["train", *SMALL, "--out", out]) == 0
    return out


# ---------------------------------------------------------------- train
def test_train_writes_the_run_folder(moons_run):
    files = set(os.listdir(moons_run))
    assert {"checkpoint.safetensors", "config.toml", "history.csv", "history.json",
            "curves.png", "confusion_matrix.png", "decision_boundary.png"} <= files
    for name in files:
        if name.endswith(".png"):
            with open(os.path.join(moons_run, name), "rb") as f:
                assert f.read(8) == PNG, name
    with open(os.path.join(moons_run, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    with open(os.path.join(moons_run, "history.json")) as f:
        assert len(json.load(f)["history"]["loss"]) == 3
    ckpt = load_checkpoint(os.path.join(moons_run, "checkpoint.safetensors"),
                           restore_rng=False)
    meta = ckpt["metadata"]
    assert meta["config"]["model"] == "mlp:16,16" and meta["data"]["task"] == "classification"
    assert ckpt["epoch"] == 2 and ckpt["scaler"] is not None and ckpt["optimizer"] is not None


def test_train_prints_progress_and_test_accuracy(tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--data", "xor", "--model", "mlp:8", "--epochs", "2",
                       "--out", str(tmp_path / "r"))
    assert code == 0
    assert "epoch 1/2" in out and "epoch 2/2" in out and "loss=" in out
    assert "test accuracy:" in out and "held-out" in out


def test_train_learns_moons(tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--data", "moons", "--model", "mlp:32,32", "--epochs",
                       "60", "--lr", "0.01", "--quiet", "--out", str(tmp_path / "r"))
    assert code == 0
    accuracy = float(out.split("test accuracy:")[1].split("%")[0])
    assert accuracy >= 95.0, out


def test_default_run_folder_increments(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["train", "--data", "xor", "--model", "mlp:4", "--epochs", "1",
                     "--quiet"]) == 0
    assert sorted(os.listdir(tmp_path / "runs")) == ["run-001", "run-002"]


def test_options_shape_the_model(tmp_path):
    out = str(tmp_path / "r")
    assert main(["train", "--data", "spiral-3", "--model", "mlp:12,6", "--activation", "tanh",
                 "--dropout", "0.2", "--batch-norm", "--optimizer", "nesterov", "--lr",
                 "0.03", "--batch-size", "50", "--epochs", "2", "--schedule", "none", "--quiet",
                 "--out", out]) == 0
    state = load(os.path.join(out, "checkpoint.safetensors"))
    weights = [k for k in state if k.endswith("weight") and state[k].ndim == 2]
    assert [tuple(state[k].shape) for k in weights] == [(12, 2), (6, 12), (3, 6)]
    assert any("running_mean" in k for k in state)  # batch norm
    ckpt = load_checkpoint(os.path.join(out, "checkpoint.safetensors"), restore_rng=False)
    group = ckpt["optimizer"]["param_groups"][0]
    assert group["nesterov"] is True and group["momentum"] == 0.9 and group["lr"] == 0.03


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "rmsprop", "adadelta",
                                       "adamw", "lbfgs"])
def test_every_optimizer_trains(tmp_path, optimizer):
    out = str(tmp_path / optimizer)
    assert main(["train", "--data", "gauss", "--model", "mlp:4", "--optimizer", optimizer,
                 "--epochs", "2", "--quiet", "--out", out]) == 0
    with open(os.path.join(out, "history.csv")) as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert len(losses) == 2 and all(xp.isfinite(losses))


def test_regression_dataset(tmp_path, capsys):
    out = str(tmp_path / "r")
    code, text, _ = run(capsys, "train", "--data", "plane", "--model", "mlp:16", "--epochs",
                        "20", "--lr", "0.01", "--quiet", "--out", out)
    assert code == 0 and "test mse:" in text and "r2:" in text
    r2 = float(text.split("r2:")[1].split()[0])
    assert r2 > 0.5, text
    assert "confusion_matrix.png" not in os.listdir(out)
    code, text, _ = run(capsys, "evaluate", out)
    assert code == 0 and "mse:" in text


# ---------------------------------------------------------------- config
def test_config_file_and_override_precedence(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('data = "xor"\nmodel = "mlp:5"\nepochs = 3\nbatch-size = 20\n'
                   'optimizer = "rmsprop"\nlr = 0.005\nquiet = true\n')
    out = str(tmp_path / "r")
    assert main(["train", "--config", str(cfg), "--epochs", "2", "--out", out]) == 0
    ckpt = load_checkpoint(os.path.join(out, "checkpoint.safetensors"), restore_rng=False)
    used = ckpt["metadata"]["config"]
    assert used["epochs"] == 2  # the flag wins over the file
    assert used["model"] == "mlp:5" and used["batch_size"] == 20 and used["lr"] == 0.005
    assert used["optimizer"] == "rmsprop" and used["data"] == "xor"
    assert ckpt["epoch"] == 1
    # the config.toml written to the run reproduces the run
    text = (tmp_path / "r" / "config.toml").read_text()
    assert 'model = "mlp:5"' in text and "epochs = 2" in text
    out2 = str(tmp_path / "r2")
    assert main(["train", "--config", os.path.join(out, "config.toml"), "--out", out2]) == 0
    a, b = load(os.path.join(out, "checkpoint.safetensors")), load(
        os.path.join(out2, "checkpoint.safetensors"))
    assert all(xp.array_equal(a[k].data, b[k].data) for k in a)


def test_config_train_table(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[train]\ndata = "gauss"\nmodel = "linear"\nepochs = 1\nquiet = true\n')
    out = str(tmp_path / "r")
    assert main(["train", "--config", str(cfg), "--out", out]) == 0
    keys = [k for k in load(os.path.join(out, "checkpoint.safetensors")) if "model." in k]
    assert keys == ["model.0.weight", "model.0.bias"]  # 'linear': no hidden layer


# ---------------------------------------------------------------- one training loop
def test_train_runs_the_trainers_loop_on_epoch_begin(tmp_path, monkeypatch):
    """Issue 17.1: `bricks train` runs Trainer.fit, so every callback hears
    on_epoch_begin (the CLI's own copy of the loop never called it)."""
    from bricks.train import CSVLogger

    begun = []
    monkeypatch.setattr(CSVLogger, "on_epoch_begin",
                        lambda self, epoch, logs: begun.append(epoch), raising=False)
    assert main(["train", *SMALL, "--out", str(tmp_path / "r")]) == 0
    assert begun == [0, 1, 2]


def test_train_steps_the_schedule_before_the_other_callbacks(tmp_path, monkeypatch):
    """Issue 17.1: as in Trainer, the schedule steps first at an epoch's end, so the
    callbacks after it (loggers, the checkpoint) see the next epoch's rate; the CLI's copy
    of the loop stepped it after them."""
    from bricks.train import CSVLogger

    seen, original = [], CSVLogger.on_epoch_end

    def spy(self, epoch, logs):
        seen.append((logs["lr"], self.trainer.optimizer.param_groups[0]["lr"]))
        return original(self, epoch, logs)

    monkeypatch.setattr(CSVLogger, "on_epoch_end", spy)
    out = str(tmp_path / "r")
    assert main(["train", *SMALL, "--schedule", "step", "--out", out]) == 0
    # step_size = epochs // 3 = 1, gamma 0.1: the rate after epoch e is lr * 0.1**(e+1)
    assert [now for _, now in seen] == pytest.approx([used * 0.1 for used, _ in seen])
    assert len(seen) == 3
    ckpt = load_checkpoint(os.path.join(out, "checkpoint.safetensors"), restore_rng=False)
    assert ckpt["scheduler"]["last_epoch"] == 3


def test_optimizers_come_from_the_one_table(tmp_path):
    """Issue 17.3: --optimizer accepts exactly bricks.optim.OPTIMIZERS' names and builds
    them with bricks.optim.create: the table's learning rate and options when none given."""
    from bricks.cli import build_parser
    from bricks.optim import OPTIMIZERS

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = next(a.choices for a in train._actions if "--optimizer" in a.option_strings)
    assert list(choices) == list(OPTIMIZERS)
    out = str(tmp_path / "r")
    assert main(["train", *SMALL, "--optimizer", "nesterov", "--schedule", "none",
                 "--out", out]) == 0
    ckpt = load_checkpoint(os.path.join(out, "checkpoint.safetensors"), restore_rng=False)
    group = ckpt["optimizer"]["param_groups"][0]
    assert group["lr"] == OPTIMIZERS["nesterov"].lr
    assert group["momentum"] == 0.9 and group["nesterov"] is True


def test_compile_is_the_default_and_gives_the_eager_run(moons_run, tmp_path):
    """Issue 11: `bricks train` compiles its updates by default (the same numbers, faster);
    --no-compile trains eagerly, and the two runs are equal bit for bit."""
    with open(os.path.join(moons_run, "config.toml")) as f:
        assert "compile = true" in f.read()
    out = str(tmp_path / "eager")
    assert main(["train", *SMALL, "--no-compile", "--out", out]) == 0
    with open(os.path.join(out, "config.toml")) as f:
        assert "compile = false" in f.read()
    for name in ("history.csv",):
        with open(os.path.join(out, name)) as f1, open(os.path.join(moons_run, name)) as f2:
            assert f1.read() == f2.read()
    a, b = _weights(out), _weights(moons_run)
    assert all(xp.array_equal(a[k].data, b[k].data) for k in a if k.startswith("model."))


def test_compile_benchmark_runs_and_compares(capsys):
    """benchmarks/bench_cli_compile.py (the numbers behind compile's default) in its
    smallest setting: both modes run and give the same result line."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_cli_compile.py"
    spec = importlib.util.spec_from_file_location("bench_cli_compile", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main_bench(["--reps", "1", "--epochs", "1"])
    out = capsys.readouterr().out
    assert "same results: True" in out and out.count("test accuracy:") == 2


# ---------------------------------------------------------------- resume
def _weights(folder):
    return load(os.path.join(folder, "checkpoint.safetensors"))


def test_resume_gives_the_uninterrupted_weights(tmp_path):
    opts = ["--data", "moons", "--model", "mlp:16,16", "--dropout", "0.1", "--schedule",
            "none", "--quiet"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    assert main(["train", *opts, "--epochs", "4", "--out", full]) == 0
    assert main(["train", *opts, "--epochs", "2", "--out", part]) == 0
    # --no-compile may change on resume: the same numbers either way
    assert main(["train", "--resume", part, "--epochs", "4", "--no-compile", "--quiet"]) == 0
    a, b = _weights(full), _weights(part)
    assert list(a) == list(b) and all(xp.array_equal(a[k].data, b[k].data) for k in a)
    with open(os.path.join(full, "history.csv")) as f1, open(
            os.path.join(part, "history.csv")) as f2:
        assert f1.read() == f2.read()


def test_resume_after_an_interruption_with_a_schedule(tmp_path, monkeypatch, capsys):
    """A run stopped by Ctrl-C after epoch 2 of 4 and resumed equals the full run (the
    cosine schedule planned for 4 epochs included)."""
    from bricks.train import Trainer

    opts = ["--data", "xor", "--model", "mlp:8", "--epochs", "4", "--quiet"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    assert main(["train", *opts, "--out", full]) == 0
    original = Trainer.train_epoch

    def interrupt(self, batches, epoch, progress=None):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, batches, epoch, progress)

    monkeypatch.setattr(Trainer, "train_epoch", interrupt)
    assert main(["train", *opts, "--out", part]) == 130
    assert f"continue with: bricks train --resume {part}" in capsys.readouterr().err
    monkeypatch.setattr(Trainer, "train_epoch", original)
    ckpt = os.path.join(part, "checkpoint.safetensors")
    assert load_checkpoint(ckpt, restore_rng=False)["epoch"] == 1
    assert main(["train", "--resume", ckpt, "--quiet"]) == 0
    a, b = _weights(full), _weights(part)
    assert all(xp.array_equal(a[k].data, b[k].data) for k in a)


# ---------------------------------------------------------------- data files
def _table(rng, n=120):
    X = rng.normal(size=(n, 3)).astype(xp.float32)
    y = (X[:, 0] - X[:, 2] > 0).astype(xp.int64)
    return X, y


def test_csv_with_named_target_and_text_classes(tmp_path, capsys):
    rng = xp.random.default_rng(0)
    X, y = _table(rng)
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "a", "b", "c"])
        for xi, yi in zip(X, y):
            w.writerow(["yes" if yi else "no", *xi.tolist()])
    out = str(tmp_path / "r")
    code, text, _ = run(capsys, "train", "--data", str(path), "--target", "label", "--model",
                        "mlp:8", "--epochs", "30", "--lr", "0.01", "--quiet", "--out", out)
    assert code == 0 and "test accuracy" in text
    meta = load_checkpoint(os.path.join(out, "checkpoint.safetensors"),
                           restore_rng=False)["metadata"]
    assert meta["data"]["classes"] == ["no", "yes"] and meta["data"]["sample_shape"] == [3]
    # predict on a CSV of features (header row allowed), written atomically with --output
    inp = tmp_path / "in.csv"
    inp.write_text("a,b,c\n3,0,-3\n-3,0,3\n")
    result = tmp_path / "pred.csv"
    code, text, _ = run(capsys, "predict", out, str(inp), "--output", str(result))
    assert code == 0
    rows = list(csv.DictReader(open(result)))
    assert [r["prediction"] for r in rows] == ["yes", "no"]
    assert abs(float(rows[0]["p_no"]) + float(rows[0]["p_yes"]) - 1) < 1e-5
    assert "0: yes" in text and "1: no" in text
    # evaluate on the training file itself: only its held-out rows (issue 16.6)
    code, text, _ = run(capsys, "evaluate", out, "--data", str(path), "--target", "label")
    assert code == 0 and "held-out test split" in text and "training rows are left out" in text
    assert "(loss" in text and "18 held-out samples" in text
    # on another file: every row, and not called held-out
    other = tmp_path / "other.csv"
    other.write_bytes(path.read_bytes())
    code, text, _ = run(capsys, "evaluate", out, "--data", str(other), "--target", "label")
    assert code == 0 and "all 120 samples of" in text and "held-out" not in text
    assert "test accuracy" not in text and "(loss" in text and "120 samples)" in text


def test_csv_default_last_column_regression(tmp_path, capsys):
    rng = xp.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 2))
    t = 2 * X[:, 0] - X[:, 1] + 0.25
    path = tmp_path / "r.csv"
    xp.savetxt(path, xp.column_stack([X, t]), delimiter=",")
    out = str(tmp_path / "r")
    code, text, _ = run(capsys, "train", "--data", str(path), "--model", "linear", "--epochs",
                        "40", "--lr", "0.05", "--quiet", "--out", out)
    assert code == 0 and "test mse" in text
    assert float(text.split("r2:")[1].split()[0]) > 0.95, text
    npy = tmp_path / "x.npy"
    xp.save(npy, xp.array([[0.5, 0.0], [0.0, 0.0]]))
    code, text, _ = run(capsys, "predict", out, str(npy))
    values = [float(line.split(":")[1]) for line in text.strip().splitlines()]
    assert code == 0 and abs(values[0] - 1.25) < 0.2 and abs(values[1] - 0.25) < 0.2


def test_npz_with_X_and_y(tmp_path, capsys):
    rng = xp.random.default_rng(2)
    X, y = _table(rng)
    path = tmp_path / "d.npz"
    xp.savez(path, X=X, y=y, other=y)
    out = str(tmp_path / "r")
    assert main(["train", "--data", str(path), "--model", "mlp:8", "--epochs", "3",
                 "--quiet", "--out", out]) == 0
    capsys.readouterr()
    npy = tmp_path / "x.npy"
    xp.save(npy, X[:7])
    code, text, _ = run(capsys, "predict", out, str(npy))
    assert code == 0 and len(text.strip().splitlines()) == 7
    assert main(["train", "--data", str(path), "--target", "other", "--epochs", "1",
                 "--quiet", "--out", str(tmp_path / "r2")]) == 0


# ---------------------------------------------------------------- images
@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A tiny image model: 2 epochs on MNIST-10k."""
    out = str(tmp_path_factory.mktemp("img") / "mnist")
    assert main(["train", "--model", "mlp:32", "--epochs", "2", "--quiet", "--out",
                 out]) == 0
    return out


def test_image_run_plots_and_predicts_an_image(digits_run, tmp_path, capsys):
    import matplotlib.image as mpimg

    from bricks.data.datasets import load_dataset

    for name in ("misclassified.png", "confusion_matrix.png", "curves.png"):
        with open(os.path.join(digits_run, name), "rb") as f:
            assert f.read(8) == PNG
    X, y = load_dataset("mnist")
    picks = [int(xp.nonzero(y == k)[0][0]) for k in (0, 1, 7)]
    for i in picks:
        # a 56x56 dark-on-light PNG: resized to 28x28 and inverted to MNIST's look
        big = xp.kron(1.0 - X[i], xp.ones((2, 2)))
        path = str(tmp_path / f"d{i}.png")
        mpimg.imsave(path, big, cmap="gray", vmin=0, vmax=1)
        code, text, _ = run(capsys, "predict", digits_run, path)
        assert code == 0 and text.startswith(f"0: {int(y[i])} ("), (text, int(y[i]))
    npy = tmp_path / "imgs.npy"
    xp.save(npy, X[picks])
    code, text, _ = run(capsys, "predict", digits_run, str(npy))
    assert code == 0 and [line.split()[1] for line in text.splitlines()] == \
        [str(int(y[i])) for i in picks]


def test_evaluate_the_image_run(digits_run, capsys):
    code, text, _ = run(capsys, "evaluate", digits_run)
    assert code == 0 and "1500 held-out samples" in text
    assert float(text.split("test accuracy:")[1].split("%")[0]) > 85


@pytest.mark.slow
def test_default_run_on_mnist_reaches_95_percent(tmp_path, capsys):
    code, text, _ = run(capsys, "train", "--epochs", "3", "--quiet", "--out",
                        str(tmp_path / "r"))
    assert code == 0
    assert float(text.split("test accuracy:")[1].split("%")[0]) >= 95.0, text


# ---------------------------------------------------------------- evaluate, datasets
def test_evaluate_matches_the_training_result(moons_run, capsys):
    with open(os.path.join(moons_run, "history.json")) as f:
        last = json.load(f)["history"]["val_accuracy"][-1]
    code, text, _ = run(capsys, "evaluate", moons_run)
    assert code == 0 and f"test accuracy: {100 * last:.2f}%" in text
    code, text2, _ = run(capsys, "evaluate", os.path.join(moons_run,
                                                           "checkpoint.safetensors"))
    assert code == 0 and text2.splitlines()[1] == text.splitlines()[1]


def test_datasets_lists_the_registry(capsys):
    from bricks.data.datasets import list_datasets

    code, text, _ = run(capsys, "datasets")
    assert code == 0
    names = [line.split()[0] for line in text.splitlines()[1:] if line.strip()]
    for row in list_datasets():
        assert row.name in names
    assert "10,000" in text and "28x28" in text


# ---------------------------------------------------------------- errors
def test_error_unknown_dataset_lists_the_available_ones(capsys, tmp_path):
    line = assert_error(capsys, "train", "--data", "cifar", "--out", str(tmp_path / "r"))
    assert "cifar" in line and "moons" in line and "mnist" in line
    assert not os.path.exists(tmp_path / "r")  # no empty run folder left behind


@pytest.mark.parametrize("argv, contains", [
    (["train", "--epochs", "zero"], "--epochs"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--optimizer", "adamax"], "--optimizer"),
    (["train", "--bogus"], "--bogus"),
    (["frobnicate"], "frobnicate"),
    (["predict", "only-one-arg"], "INPUT"),
    (["train", "--data", "xor", "--model", "transformer:3"], "transformer:3"),
    (["train", "--data", "xor", "--model", "mlp:8,-2"], "-2"),
    (["train", "--data", "xor", "--activation", "swish2"], "swish2"),
    (["train", "--data", "xor", "--dropout", "1.5"], "dropout"),
    (["train", "--data", "xor", "--test-size", "2"], "test-size"),
    (["train", "--data", "xor", "--augment", "shift"], "image"),
    (["train", "--data", "missing.csv"], "missing.csv"),
    (["train", "--config", "missing.toml"], "missing.toml"),
    (["evaluate", "no/such/run"], "no/such/run"),
    (["predict", "no/such/run", "x.npy"], "no/such/run"),
])
def test_usage_errors(capsys, tmp_path, monkeypatch, argv, contains):
    monkeypatch.chdir(tmp_path)
    assert_error(capsys, *argv, contains=contains)


def test_error_bad_toml_and_unknown_key(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    assert_error(capsys, "train", "--config", str(bad), contains="bad TOML")
    unknown = tmp_path / "u.toml"
    unknown.write_text("epoch = 3\n")
    assert_error(capsys, "train", "--config", str(unknown), contains="'epoch'")
    wrong = tmp_path / "w.toml"
    wrong.write_text('epochs = "many"\n')
    assert_error(capsys, "train", "--config", str(wrong), contains="epochs")


def test_error_corrupt_checkpoint_and_not_a_run(capsys, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "checkpoint.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    assert_error(capsys, "evaluate", str(folder), contains="checkpoint.safetensors")
    assert_error(capsys, "train", "--resume", str(folder), contains="checkpoint.safetensors")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_error(capsys, "evaluate", str(empty), contains="no checkpoint")


def test_error_bad_inputs_to_predict(capsys, tmp_path, moons_run):
    wrong = tmp_path / "w.npy"
    xp.save(wrong, xp.zeros((2, 5)))
    assert_error(capsys, "predict", moons_run, str(wrong), contains="expects 2")
    img = tmp_path / "i.png"
    img.write_bytes(PNG)
    assert_error(capsys, "predict", moons_run, str(img), contains="image")
    assert_error(capsys, "predict", moons_run, str(tmp_path / "none.npy"), contains="none.npy")
    txt = tmp_path / "x.txt"
    txt.write_text("1,2\n")
    assert_error(capsys, "predict", moons_run, str(txt), contains=".npy, .csv")
    bad = tmp_path / "b.npy"
    bad.write_bytes(b"not numpy")
    assert_error(capsys, "predict", moons_run, str(bad), contains="b.npy")


def test_error_bad_data_files(capsys, tmp_path):
    ragged = tmp_path / "r.csv"
    ragged.write_text("1,2,3\n4,5\n")
    assert_error(capsys, "train", "--data", str(ragged), contains="columns")
    text = tmp_path / "t.csv"
    text.write_text("a,b,y\n1,x,0\n2,3,1\n")
    assert_error(capsys, "train", "--data", str(text), contains="numbers")
    ok = tmp_path / "ok.csv"
    ok.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    assert_error(capsys, "train", "--data", str(ok), "--target", "z", contains="'z'")
    npz = tmp_path / "d.npz"
    xp.savez(npz, features=xp.zeros((4, 2)), labels=xp.zeros(4))
    assert_error(capsys, "train", "--data", str(npz), contains="'y'")


def test_error_out_folder_already_holds_a_run(capsys, moons_run):
    assert_error(capsys, "train", *SMALL, "--out", moons_run, contains="--resume")


def test_error_resume_cannot_change_the_model(capsys, moons_run):
    assert_error(capsys, "train", "--resume", moons_run, "--model", "mlp:4",
                 contains="--model")


# ---------------------------------------------------------------- entry points
def test_python_dash_m_bricks(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "bricks", "datasets"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0 and "mnist" in done.stdout
    done = subprocess.run([sys.executable, "-m", "bricks", "train", "--data", "nope"],
                          capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("bricks: error: unknown dataset 'nope'")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_help_exits_zero(capsys):
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--resume" in out and "--config" in out
