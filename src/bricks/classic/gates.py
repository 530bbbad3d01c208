"""The lecture's logic gates as McCulloch-Pitts neurons, and the two ways around XOR.

One threshold neuron draws one straight line through the input square.  AND, OR and NOT
are linearly separable, XOR is not: no line puts (0,1) and (1,0) on one side and (0,0) and
(1,1) on the other.  Two fixes: a nonlinear feature (x1 x2 makes XOR linear in three
inputs) or a second layer of neurons.
"""

from __future__ import annotations

import itertools

from bricks.backend import xp
from bricks.classic.perceptron import McCullochPitts

__all__ = ["AND", "OR", "NOT", "NAND", "XOR_PRODUCT", "xor_with_product_feature",
           "xor_two_layer", "truth_table"]

#: ``x1 + x2 - 3/2 > 0``
AND = McCullochPitts([1, 1], 1.5, name="AND")
#: ``x1 + x2 - 1/2 > 0``
OR = McCullochPitts([1, 1], 0.5, name="OR")
#: ``-x1 + 1/2 > 0``
NOT = McCullochPitts([-1], -0.5, name="NOT")
#: ``-x1 - x2 + 3/2 > 0``: NOT(x1 AND x2) in one neuron
NAND = McCullochPitts([-1, -1], -1.5, name="NAND")
#: ``x1 + x2 - 2 x1 x2 - 1/2 > 0`` on the inputs (x1, x2, x1 x2)
XOR_PRODUCT = McCullochPitts([1, 1, -2], 0.5, name="XOR(x1, x2, x1*x2)")


def xor_with_product_feature(x1, x2):
    """XOR by one neuron on the features (x1, x2, x1 x2): ``x1 + x2 - 2 x1 x2 - 1/2 > 0``.

    Example:
        >>> from bricks.classic import gates
        >>> [gates.xor_with_product_feature(a, b) for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]]
        [0, 1, 1, 0]
    """
    return XOR_PRODUCT(x1, x2, xp.asarray(x1) * xp.asarray(x2))


def xor_two_layer(x1, x2):
    """XOR by two layers of neurons: ``(x1 OR x2) AND NOT(x1 AND x2)``.

    The hidden layer computes h1 = OR(x1, x2) and h2 = NAND(x1, x2) (NOT of AND in one
    neuron); the output neuron is AND(h1, h2).

    Example:
        >>> from bricks.classic import gates
        >>> [gates.xor_two_layer(a, b) for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]]
        [0, 1, 1, 0]
    """
    return AND(OR(x1, x2), NAND(x1, x2))


def truth_table(fn, n_inputs: int):
    """Every 0/1 input combination and ``fn``'s output, as an int array of rows
    ``[x1, ..., xn, y]`` (inputs in counting order).

    Example:
        >>> from bricks.classic import gates
        >>> gates.truth_table(gates.OR, 2).tolist()
        [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    """
    rows = [list(bits) + [int(fn(*bits))]
            for bits in itertools.product((0, 1), repeat=int(n_inputs))]
    return xp.array(rows, dtype=xp.int64)
