"""Runnable demos: each reproduces one claim a lecture makes, prints the numbers that show it
and saves its figures as PNG.  ``bricks demo --list`` lists them, ``bricks demo NAME`` runs one.

Each demo is a module here with ``NAME``, ``TITLE``, ``CLAIM`` and
``run(out_dir, fast=False) -> DemoResult``.  ``fast=True`` is the small setting the tests
use; the default setting is what the README quotes.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect

from bricks.demos._common import DemoResult

__all__ = ["DEMOS", "DemoResult", "get_demo", "run_demo", "list_demos"]

# name -> module: an explicit table, in the lectures' order.
DEMOS = {
    "gates": "bricks.demos.gates",
    "linear-collapse": "bricks.demos.linear_collapse",
    "overfitting": "bricks.demos.overfitting",
    "activations": "bricks.demos.activations",
    "vanishing-gradients": "bricks.demos.vanishing_gradients",
    "init-symmetry": "bricks.demos.init_symmetry",
    "optimizers": "bricks.demos.optimizers",
    "normalization": "bricks.demos.normalization",
    "regularization": "bricks.demos.regularization",
    "batchnorm": "bricks.demos.batchnorm",
    "learning-rate": "bricks.demos.learning_rate",
    "batch-size": "bricks.demos.batch_size",
    "universal-approximation": "bricks.demos.universal_approximation",
    "newton-logreg": "bricks.demos.newton_logreg",
    "digits": "bricks.demos.digits",
    "text": "bricks.demos.text",
    "mnist1d": "bricks.demos.mnist1d",
    "conv-filters": "bricks.demos.conv_filters",
    "reviews": "bricks.demos.reviews",
    "augmentation": "bricks.demos.augmentation",
    "boxes": "bricks.demos.boxes",
}


def available() -> list[str]:
    """The demos whose module is present, in the table's order."""
    out = []
    for name, module in DEMOS.items():
        if importlib.util.find_spec(module) is not None:
            out.append(name)
    return out


def get_demo(name: str):
    """The demo module for ``name``; a clear error lists the names when it is unknown."""
    if name not in DEMOS or name not in available():
        raise ValueError(f"unknown demo {name!r}; available: {', '.join(available())}")
    return importlib.import_module(DEMOS[name])


def list_demos() -> list[tuple[str, str]]:
    """(name, title) for every available demo."""
    return [(name, get_demo(name).TITLE) for name in available()]


def run_demo(name: str, out_dir, fast: bool = False, **options) -> DemoResult:
    """Run demo ``name``, writing its figures into ``out_dir``; returns its result.

    ``options`` go to demos that take them (``text``: ``model='gru'``); a demo that does
    not raises a ValueError naming the option."""
    demo = get_demo(name)
    params = inspect.signature(demo.run).parameters
    for key in options:
        if key not in params:
            raise ValueError(f"demo {name!r} has no option {key!r}")
    return demo.run(out_dir, fast=fast, **options)
