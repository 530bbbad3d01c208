"""The backend rule, proved on the CPU: bricks run on a stand-in device.

``standin_device`` wraps NumPy in a distinct array type that NumPy refuses and that refuses
NumPy arrays (as CuPy does), registered as the device type ``'standin'``.  Every test here
puts its tensors (and models) on that device and checks that the results equal the same
computation on the CPU: any code path that calls NumPy directly on a tensor's data instead
of ``get_array_module`` raises here, and would fail on a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bricks
import standin_device
import test_functions as table

DEV = standin_device.NAME


@pytest.fixture(autouse=True, scope="module")
def _standin():
    standin_device.register()
    yield
    standin_device.unregister()


class _StandIn(table._Lib):
    def leaf(self, array, dtype):
        array = np.asarray(array, dtype=dtype)
        return bricks.tensor(array, requires_grad=True, device=DEV)


SI = _StandIn("bricks", bricks, lambda a: bricks.tensor(np.array(a), device=DEV),
              linear=bricks.nn.functional.linear, mse_loss=bricks.nn.functional.mse_loss,
              cross_entropy=bricks.nn.functional.cross_entropy)


def _on_standin(result):
    return result


@pytest.mark.parametrize("row", table.ROWS, ids=table.ROW_IDS)
@settings(max_examples=int(table.EXAMPLES / 4) or 1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(data=st.data())
def test_op_runs_on_the_standin_device(row, data):
    """Forward, backward (fast and graph) and double backward of every op in the table, on
    the stand-in device, equal the CPU's exactly (same NumPy kernels underneath)."""
    d, xs, kw, kinds = table._draw_case(data, row)
    seed = d.int(0, 2**31)
    dtype = d.pick([np.float64, np.float32])
    got = table.run(SI, row, xs, kw, kinds, dtype, seed)
    want = table.run(table.BR, row, xs, kw, kinds, dtype, seed)
    assert got.keys() == want.keys()
    assert got["requires_grad"] == want["requires_grad"]
    for key in ("out", "grad", "grad_fast", "gradgrad"):
        for i, (a, b) in enumerate(zip(got.get(key, []), want.get(key, []))):
            assert a.dtype == b.dtype, f"{row.name}: {key}[{i}] dtype {a.dtype} != {b.dtype}"
            np.testing.assert_array_equal(a, b, err_msg=f"{row.name}: {key}[{i}]")
