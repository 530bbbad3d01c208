"""Every command that docs/cli.md shows does what the page says it does (issue 16.5).

The claims are read from the page itself: each example line of ``bricks train`` ends with
``# test accuracy >= N%`` or ``# r2 >= X``, and this test runs the line as written (in a
temporary folder, with the two placeholder files of the page generated here) and checks it.
"""

import os
import re
import shlex
from pathlib import Path

import pytest

from bricks.backend import xp
from bricks.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
CLAIM = re.compile(r"^(bricks train .*?)\s+#\s*(test accuracy|r2)\s*>=\s*([0-9.]+)(%?)\s*$")


def _examples():
    lines = [line.strip() for line in DOC.read_text().splitlines()]
    found = [CLAIM.match(line) for line in lines if line.startswith("bricks train")]
    return [m.groups() for m in found if m]


def test_the_page_has_claims_to_check():
    assert len(_examples()) >= 6  # the Examples block: every line carries its claim


def _placeholder_files(folder: Path):
    rng = xp.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    price = 3e5 + 1e5 * (X[:, 0] - 0.5 * X[:, 1]) + 1e4 * rng.normal(size=400)
    rows = ["size,age,rooms,price"] + [f"{a},{b},{c},{p}" for (a, b, c), p in zip(X, price)]
    (folder / "houses.csv").write_text("\n".join(rows) + "\n")
    centers = rng.normal(scale=3.0, size=(3, 10))
    y = rng.integers(0, 3, size=600)
    xp.savez(folder / "arrays.npz", X=(centers[y] + rng.normal(size=(600, 10))).astype(
        xp.float32), y=y)


@pytest.mark.slow
@pytest.mark.parametrize("command,metric,bound,percent", _examples(),
                         ids=lambda v: v if isinstance(v, str) and v.startswith("bricks")
                         else "")
def test_documented_example_reaches_its_claim(command, metric, bound, percent, tmp_path,
                                              monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _placeholder_files(tmp_path)
    argv = shlex.split(command)[1:] + ["--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if metric == "test accuracy":
        value = float(re.search(r"test accuracy: ([0-9.]+)%", out).group(1))
    else:
        value = float(re.search(r"r2: (-?[0-9.]+)", out).group(1))
    assert value >= float(bound), f"{command}: {out}"
    assert os.listdir(tmp_path / "runs")  # the run folder the page describes


def test_documented_error_example(capsys):
    text = DOC.read_text()
    block = text[text.index("$ bricks train --data cifar"):]
    expected = block.splitlines()[1]
    assert main(["train", "--data", "cifar"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(expected.split("...")[0].rstrip(", "))


def test_documented_config_file_example(tmp_path, monkeypatch, capsys):
    text = DOC.read_text()
    toml = text[text.index("# mnist-small.toml"):].split("```")[0]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist-small.toml").write_text(toml)
    assert main(["train", "--config", "mnist-small.toml", "--epochs", "1", "--quiet"]) == 0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.slow
def test_documented_resume_examples(tmp_path, monkeypatch):
    from bricks.io import load_checkpoint

    monkeypatch.chdir(tmp_path)
    text = DOC.read_text()
    block = text[text.index("### Resuming"):].split("```")[1]
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines()
                if line.startswith("bricks")]
    assert [c[1] for c in commands] == ["train", "train", "train"]
    for argv in commands:
        assert main(argv[1:] + ["--quiet"]) == 0
    epoch = load_checkpoint("runs/xor/checkpoint.safetensors", restore_rng=False)["epoch"]
    assert epoch == 59  # "20 more epochs" after 40
