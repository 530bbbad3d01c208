"""The demos that train many small networks run their training steps through
bricks.compile, and give the numbers that eager code gives (their fast settings)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("matplotlib")

import bricks.symbolic.function as compiled_module  # noqa: E402
from bricks.demos import run_demo  # noqa: E402

FAST = ["linear-collapse", "learning-rate",
        pytest.param("init-symmetry", marks=pytest.mark.slow),
        pytest.param("batch-size", marks=pytest.mark.slow),
        pytest.param("vanishing-gradients", marks=pytest.mark.slow)]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _numbers(result):
    """The checks and printed lines, without the wall-clock times."""
    checks = {k: v for k, v in result.checks.items() if "second" not in k}
    lines = [ln for ln in result.lines if not (ln.strip().startswith("(")
                                              and ln.strip().endswith(" s)"))]
    return checks, lines


def _compiled_and_eager(name, tmp_path, monkeypatch):
    made = []
    real = compiled_module.CompiledFunction.__init__

    def record(self, *args, **kwargs):
        real(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(compiled_module.CompiledFunction, "__init__", record)
    compiled = run_demo(name, tmp_path / "compiled", fast=True)
    # Every compiled step ran from a plan, none fell back to eager execution.
    assert made and all(f.fallback_reason is None for f in made)
    assert any(f.graph is not None for f in made)
    monkeypatch.setattr(compiled_module, "compile_function",
                        lambda fn=None, **kw: fn if fn is not None else (lambda f: f))
    eager = run_demo(name, tmp_path / "eager", fast=True)
    return _numbers(compiled), _numbers(eager)


@pytest.mark.parametrize("name", FAST)
def test_compiled_demo_gives_the_eager_numbers(name, tmp_path, monkeypatch):
    (cc, cl), (ec, el) = _compiled_and_eager(name, tmp_path, monkeypatch)
    assert _same(cc, ec)
    assert cl == el


@pytest.mark.slow
def test_optimizers_demo_compiled_gives_the_eager_numbers(tmp_path, monkeypatch):
    (cc, cl), (ec, el) = _compiled_and_eager("optimizers", tmp_path, monkeypatch)
    assert _same(cc, ec)
    # The MLP table's last column is wall-clock seconds; every other number is equal.
    strip = [ln.rsplit(None, 1)[0] if ln.rstrip().endswith(tuple("0123456789")) else ln
             for ln in cl]
    assert strip == [ln.rsplit(None, 1)[0] if ln.rstrip().endswith(tuple("0123456789"))
                     else ln for ln in el]
