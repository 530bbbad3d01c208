"""The engine benchmark runs end to end (--quick) and reports all three implementations.

Only the shape of the report is checked, never the timings: those depend on the machine.
"""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_a_row_per_workload_and_implementation(bench, capsys):
    table = bench.main(["--quick"])
    printed = capsys.readouterr().out
    assert table in printed
    assert "PyTorch 2.13" in printed and "NumPy" in printed
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    workloads = [name for name, _ in bench.WORKLOADS]
    assert len(workloads) == 7
    assert any("784-512-256-10 ReLU (batch 32)" in name for name in workloads)
    for name in workloads:
        impls = [c[1] for c in cells if c[0] == name]
        assert impls == ["bricks", "PyTorch", "NumPy"]
    for _workload, impl, time, ratio in cells:
        assert time.endswith(("µs", "ms")) and ratio.endswith("×")
        if impl == "PyTorch":
            assert ratio == "1.00×"


def test_nn_training_steps_agree_across_implementations(bench):
    """The nn/optim rows (issue 11's workloads) compute the same step in all three."""
    for sizes, activation, batch in ((bench.TINY, "tanh", 16), (bench.MNIST, "relu", 8)):
        impls = bench.make_train_step(None, sizes, activation, batch)
        impls.pop("feed")
        for _ in range(2):  # the second step uses the momentum buffers
            bench.check_agreement("nn step", impls)


def test_disagreeing_implementations_are_caught(bench):
    impls = bench.make_tiny_mlp(bench.make_arrays())
    step, state = impls["NumPy"]

    def wrong_state():
        loss, *grads = state()
        return [loss + 1.0, *grads]

    impls["NumPy"] = (step, wrong_state)
    with pytest.raises(AssertionError, match="NumPy and PyTorch disagree on loss"):
        bench.check_agreement("tiny", impls)
