"""The convolution benchmark runs end to end (--quick): every workload has a row per
implementation, PyTorch's ratio is 1.00, and the peak memory is reported.  Never timings."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_conv.py"


@pytest.mark.slow
def test_quick_run_reports_every_workload(capsys):
    spec = importlib.util.spec_from_file_location("bench_conv", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    table = bench.main(["--quick"])
    printed = capsys.readouterr().out
    assert table in printed and "peak NumPy memory" in printed
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    by_workload = {}
    for workload, impl, time, ratio in rows:
        by_workload.setdefault(workload.split(",")[0].split(" (")[0], []).append(impl)
        assert time.endswith(("ms", " s")) and ratio.endswith("×")
        if impl == "PyTorch":
            assert ratio == "1.00×"
    assert by_workload == {"conv2d": ["bricks", "PyTorch", "NumPy"],
                           "LeNet-5 epoch": ["bricks", "PyTorch"],
                           "GRU(64) epoch": ["bricks", "PyTorch"]}
