"""The command line as a new user meets it: the twelve defects of issue 16, each pinned."""

import re
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from bricks.backend import xp
from bricks.cli import build_parser, main
from bricks.io import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
CKPT = "checkpoint.safetensors"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bricks: error: "), err
    return lines[0]


# ---------------------------------------------------------------- 16.1 predict's input range
@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist") / "run"
    assert main(["train", "--model", "linear", "--epochs", "1", "--quiet", "--out",
                 str(out)]) == 0
    return out


def test_predict_scales_raw_pixels_like_the_training_images(mnist_run, tmp_path, capsys):
    from bricks.data.datasets import load_dataset

    X, y = load_dataset("mnist")
    pixels = xp.round(X[:20] * 255).astype(xp.float32)  # raw 0..255, as a user has them
    xp.save(tmp_path / "raw.npy", pixels)
    xp.save(tmp_path / "unit.npy", pixels / 255)
    code, raw_out, raw_err = run(capsys, "predict", mnist_run, tmp_path / "raw.npy")
    assert code == 0 and "divided by 255" in raw_err
    code, unit_out, unit_err = run(capsys, "predict", mnist_run, tmp_path / "unit.npy")
    assert code == 0 and unit_err == ""
    assert raw_out == unit_out
    predicted = [int(line.split(": ")[1].split()[0]) for line in raw_out.splitlines()]
    assert sum(p == t for p, t in zip(predicted, y[:20].tolist())) >= 15
    meta = load_checkpoint(mnist_run / CKPT, restore_rng=False)["metadata"]
    assert meta["data"]["input_range"] == [0.0, 1.0]


# ---------------------------------------------------------------- 16.2 regression targets
def _houses(path, n=400):
    rng = xp.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    price = 3e5 + 1e5 * (X[:, 0] - 0.5 * X[:, 1]) + 1e4 * rng.normal(size=n)
    rows = ["size,age,rooms,price"] + [f"{a},{b},{c},{p}" for (a, b, c), p in zip(X, price)]
    path.write_text("\n".join(rows) + "\n")
    return X, price


def test_regression_targets_are_standardized_and_predictions_mapped_back(tmp_path, capsys):
    X, price = _houses(tmp_path / "houses.csv")
    common = ["train", "--data", tmp_path / "houses.csv", "--target", "price", "--quiet"]
    code, out, _ = run(capsys, *common, "--out", tmp_path / "std")
    assert code == 0
    r2 = float(re.search(r"r2: (-?[0-9.]+)", out).group(1))
    assert r2 > 0.95, out
    code, out, _ = run(capsys, *common, "--target-scaler", "none", "--out", tmp_path / "raw")
    assert code == 0 and float(re.search(r"r2: (-?[0-9.]+)", out).group(1)) < 0.5  # the bug
    ckpt = load_checkpoint(tmp_path / "std" / CKPT, restore_rng=False)
    assert "target_scaler" in ckpt["extra"]
    # predictions and evaluation are in the data's units
    (tmp_path / "in.csv").write_text("".join(f"{a},{b},{c}\n" for a, b, c in X[:5]))
    code, out, _ = run(capsys, "predict", tmp_path / "std", tmp_path / "in.csv")
    values = [float(line.split(": ")[1]) for line in out.splitlines()]
    assert code == 0 and all(abs(v - p) < 4e4 for v, p in zip(values, price[:5])), out
    code, out, _ = run(capsys, "evaluate", tmp_path / "std")
    assert code == 0 and float(re.search(r"r2: (-?[0-9.]+)", out).group(1)) == r2


# ---------------------------------------------------------------- 16.3 / 16.4 core install
@pytest.fixture()
def core_install(monkeypatch):
    """Only NumPy: the optional packages cannot be imported."""
    for name in ("matplotlib", "sklearn", "starlette", "uvicorn", "websockets", "PIL"):
        monkeypatch.setitem(sys.modules, name, None)
    for name in list(sys.modules):
        if name.startswith(("matplotlib.", "sklearn.", "starlette.", "uvicorn.", "PIL.")):
            monkeypatch.delitem(sys.modules, name)


def test_core_install_demo_and_digits_name_the_extra(core_install, capsys, tmp_path):
    code, out, err = run(capsys, "demo", "linear-collapse", "--fast", "--out", tmp_path)
    assert code == 2 and "Traceback" not in out + err
    line = one_error_line(err)
    assert "matplotlib" in line and "pip install 'bricks[all]'" in line
    code, out, err = run(capsys, "train", "--data", "digits", "--out", tmp_path / "r")
    assert code == 2
    line = one_error_line(err)
    assert "scikit-learn" in line and "bricks[all]" in line
    code, out, _ = run(capsys, "datasets")
    digits = next(row for row in out.splitlines() if row.startswith("digits"))
    assert "optional: needs scikit-learn, not installed" in digits


def test_core_install_playground_says_so_on_stderr_with_status_2(core_install, capsys):
    code, out, err = run(capsys, "playground", "--no-browser")
    assert code == 2 and out == ""
    assert "pip install 'bricks[playground]'" in one_error_line(err)


def test_core_install_train_still_works_without_plots(core_install, capsys, tmp_path):
    code, out, err = run(capsys, "train", "--data", "xor", "--model", "mlp:4", "--epochs",
                         "1", "--quiet", "--out", tmp_path / "r")
    assert code == 0 and "test accuracy" in out and "no plots" in err


# ---------------------------------------------------------------- 16.7 / 16.8 bad options
@pytest.mark.parametrize("option", [["--model", "mlp:16,x"], ["--model", "cnn-ish"],
                                    ["--activation", "nope"], ["--model", "mlp:512,,256"]])
def test_a_bad_model_leaves_no_run_folder(option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "--data", "xor", *option)
    assert code == 2 and option[0] in one_error_line(err)
    assert not (tmp_path / "runs").exists()


def test_an_optimizer_refusing_the_model_leaves_no_run_folder(tmp_path, monkeypatch, capsys):
    # Newton's size check can only run once the model is built, after the folder was made
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "--data", "xor", "--optimizer", "newton",
                       "--model", "mlp:64,64")
    assert code == 2 and "Newton" in one_error_line(err)
    assert list((tmp_path / "runs").glob("run-*")) == []


def test_empty_layer_widths_are_refused(capsys):
    from bricks.models import parse_model_spec

    for spec in ("mlp:512,,256", "mlp:8,", "mlp:,8"):
        with pytest.raises(ValueError, match="empty layer width"):
            parse_model_spec(spec)
    assert parse_model_spec("mlp:") == [] and parse_model_spec("mlp: 8 , 4") == [8, 4]


# ---------------------------------------------------------------- 16.9 / 16.12 demo
def test_demo_out_help_and_behaviour_agree(capsys, tmp_path):
    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    help_text = " ".join(demo.format_help().split())
    assert "DIR/NAME" in help_text and "demos/NAME" in help_text
    code, out, _ = run(capsys, "demo", "linear-collapse", "--fast", "--out", tmp_path)
    assert code == 0 and (tmp_path / "linear-collapse").is_dir()
    timings = [line for line in out.splitlines() if re.fullmatch(r"\(\d+\.\d s\)", line)]
    assert len(timings) == 1, out  # the demo's own timing, printed once


# ---------------------------------------------------------------- 16.11 rerun as written
def test_config_toml_rerun_command_works_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "xor", "--model", "mlp:4", "--epochs", "2",
                 "--quiet"]) == 0
    first = Path("runs/run-001/config.toml").read_text()
    command = first.splitlines()[0].split("rerun with: ")[1]
    assert command == "bricks train --config runs/run-001/config.toml"
    assert main(command.split()[1:] + ["--quiet"]) == 0
    second = Path("runs/run-002/config.toml").read_text()
    assert tomllib.loads(first) == tomllib.loads(second)
    a = load_checkpoint("runs/run-001/" + CKPT, restore_rng=False)["model"]
    b = load_checkpoint("runs/run-002/" + CKPT, restore_rng=False)["model"]
    assert all(xp.array_equal(a[k].data, b[k].data) for k in a)  # the same run, repeated


# ---------------------------------------------------------------- 16.12 small ones
def test_version(capsys):
    import bricks

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"bricks {bricks.__version__}"


def test_header_of_a_linear_one_epoch_run(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--data", "plane", "--model", "linear", "--epochs",
                       "1", "--out", tmp_path / "r")
    header = out.splitlines()[0]
    assert code == 0 and "model linear, adam, 1 epoch ->" in header, header


def test_curves_legend_calls_val_the_held_out_test(capsys, tmp_path, monkeypatch):
    from bricks.train import plots

    seen = {}
    original = plots.plot_history

    def spy(history, path, **kwargs):
        seen.update(kwargs)
        return original(history, path, **kwargs)

    monkeypatch.setattr(plots, "plot_history", spy)
    assert main(["train", "--data", "xor", "--model", "mlp:4", "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "r")]) == 0
    assert seen["val_label"] == "held-out test (val_)"
    for doc in (ROOT / "docs" / "cli.md", ROOT / "README.md"):
        assert "held-out test (val_)" in " ".join(doc.read_text().split()), doc


def test_docs_name_every_subcommand():
    text = (ROOT / "docs" / "cli.md").read_text()
    commands = build_parser()._subparsers._group_actions[0].choices
    assert "Six subcommands" in text and len(commands) == 6
    for name in commands:
        assert f"`bricks {name}" in text, name


def test_benchmark_thread_count_matches_its_docs():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_engine
    finally:
        sys.path.pop(0)
    assert bench_engine.TORCH_THREADS == 1
    bench_readme = (ROOT / "benchmarks" / "README.md").read_text()
    assert "`torch.set_num_threads(1)`" in bench_readme and "set_num_threads(2)" not in \
        bench_readme
    assert "one BLAS/torch thread" in (ROOT / "README.md").read_text()


def test_architecture_snippets_run_as_pasted():
    text = (ROOT / "docs" / "architecture.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        namespace = {}
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith(">>> "):
                i += 1
                continue
            source = [lines[i][4:]]
            i += 1
            while i < len(lines) and lines[i].startswith("... "):
                source.append(lines[i][4:])
                i += 1
            expected = lines[i] if i < len(lines) else ""
            try:
                exec("\n".join(source), namespace)  # a fresh interpreter, pasted line by line
            except Exception as err:  # a documented error must be the one the page shows
                assert expected.startswith(type(err).__name__), (source, err)


def test_pyproject_license_and_comments():
    text = (ROOT / "pyproject.toml").read_text()
    data = tomllib.loads(text)
    assert data["project"]["license"] == "MIT"
    extras = text[text.index("[project.optional-dependencies]"):]
    torch_comment = extras.index("The reference implementation for tests")
    assert extras.index("test = [") < torch_comment < extras.index('"torch==2.13.0"')
    assert "--upgrade pip" not in (ROOT / ".ci" / "run").read_text()
