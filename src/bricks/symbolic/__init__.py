"""Symbolic mode: define the graph, compile it, run it; and ``bricks.compile`` for eager code.

Two ways into the same compiler (docs/symbolic.md):

* symbolic: ``Variable``/``Constant`` and expressions on them record a graph;
  ``compile(outputs)`` gives one function of the variables, ``grad(output, variables)``
  adds gradients to it, ``f.graph`` prints the optimized graph;
* ``bricks.compile(train_step)``: an ordinary eager function (forward, ``backward()``,
  ``optimizer.step()``) is traced on its first calls and replayed as a plan afterwards.

Example:
    >>> from bricks.symbolic import Variable, Constant, compile
    >>> A = Variable('A')
    >>> B = Variable('B')
    >>> f = compile(B * A + Constant(1.0))
    >>> f(A=bricks.ones(3), B=bricks.ones(3) * 2).tolist()
    [3.0, 3.0, 3.0]
"""

from __future__ import annotations

from bricks.symbolic.function import CompiledFunction
from bricks.symbolic.graph import Graph
from bricks.symbolic.symbols import (
    Constant,
    Symbol,
    SymbolicFunction,
    Variable,
    call,
    compile,
    grad,
)
from bricks.symbolic.trace import TraceError

__all__ = ["Variable", "Constant", "Symbol", "compile", "grad", "call", "SymbolicFunction",
           "CompiledFunction", "Graph", "TraceError"]
