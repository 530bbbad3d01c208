"""benchmarks/bench_mlp.py: the four implementations agree before anything is timed, and a
small run prints the table (timings are never asserted)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_mlp.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_mlp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_implementations_agree(bench):
    bench.check_agree((20, 16, 8, 4), "relu", "ce", 8)
    bench.check_agree((2, 8, 8, 1), "tanh", "mse", 16)


def test_a_disagreeing_implementation_is_caught(bench, monkeypatch):
    real = bench.make_numpy

    def wrong(weights, act, loss, batch):
        step, params, last = real(weights, act, loss, batch)
        return step, lambda: [p * 1.01 for p in params()], last

    monkeypatch.setattr(bench, "make_numpy", wrong)
    with pytest.raises(AssertionError, match="disagrees"):
        bench.check_agree((20, 16, 8, 4), "relu", "ce", 8)


@pytest.mark.slow
def test_small_run_prints_every_row(bench, capsys, monkeypatch):
    monkeypatch.setattr(bench, "time_tiny_steps",
                        lambda loops=1: dict.fromkeys(bench.IMPLEMENTATIONS, 1e-5))
    table = bench.main(["--samples", "512", "--clock", "cpu"])
    out = capsys.readouterr().out
    assert table in out and "cpu clock" in out
    assert bench.CLOCK[0] is bench.time.process_time
    rows = [r for r in table.splitlines()[2:] if r.startswith("|")]
    assert len(rows) == 12
    for impl in bench.IMPLEMENTATIONS:
        assert sum(impl in r for r in rows) == 3
