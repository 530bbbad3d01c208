"""Symbolic mode: define the graph, compile it, run it (and ``bricks.compile`` for eager code).

See docs/symbolic.md.
"""

from __future__ import annotations

from bricks.symbolic.function import CompiledFunction
from bricks.symbolic.trace import TraceError

__all__ = ["CompiledFunction", "TraceError"]
