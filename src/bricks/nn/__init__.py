"""Neural-network bricks: Module, containers, layers, activations, losses, initializers.

Each family lives in its own file; this package re-exports them with explicit lists.
``bricks.nn.functional`` (imported as ``F``) holds the functional forms.
"""

from bricks.nn import functional, init, utils
from bricks.nn.module import Buffer, Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "utils",
    "Module", "Parameter", "Buffer", "Sequential", "ModuleList", "ModuleDict",
]
