"""The engine's speed paths compute exactly what the plain paths compute.

Each fast path (a fused node, a different product order, backward on raw arrays) is
checked bit for bit against the straightforward computation, on shapes on both sides of
whatever threshold selects it.
"""

import numpy as np
import pytest

import bricks
from bricks.functions.linalg import Linear


@pytest.mark.parametrize("rows,n_in,n_out", [
    (1, 3, 2), (4, 5, 8), (16, 2, 8), (32, 64, 128), (100, 7, 3), (128, 16, 256),
    (129, 8, 300), (200, 4, 5),
])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_is_row_major_and_equals_the_plain_product(rows, n_in, n_out, bias):
    rng = np.random.default_rng(rows * 1000 + n_out)
    x = rng.standard_normal((rows, n_in)).astype(np.float32)
    w = rng.standard_normal((n_out, n_in)).astype(np.float32)
    b = rng.standard_normal(n_out).astype(np.float32)
    args = [bricks.tensor(x), bricks.tensor(w, requires_grad=True)]
    if bias:
        args.append(bricks.tensor(b, requires_grad=True))
    y = Linear.apply(*args)
    expected = x @ w.T + b if bias else x @ w.T
    assert y.data.flags.c_contiguous
    assert y.dtype == np.float32 and y.shape == (rows, n_out)
    np.testing.assert_array_equal(y.data, expected)
    g = rng.standard_normal((rows, n_out)).astype(np.float32)
    y.backward(bricks.tensor(g))
    np.testing.assert_array_equal(args[1].grad.data, g.T @ x)
    if bias:
        np.testing.assert_array_equal(args[2].grad.data, g.sum(axis=0))
