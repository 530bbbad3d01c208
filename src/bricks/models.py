"""Models from a short spec string, as the ``bricks`` command builds them.

``mlp:256,128`` is a multilayer perceptron with hidden layers of 256 and 128 units;
``linear`` (or ``mlp:``) has no hidden layer (logistic or linear regression).  Each hidden
layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; inputs with more than one
dimension (images) are flattened first.  The spec, the activation and the other options are
plain strings and numbers, so a checkpoint's metadata can rebuild the same model.
"""

from __future__ import annotations

import math

from bricks import nn

__all__ = ["ACTIVATIONS", "parse_model_spec", "count_mlp_parameters", "build_mlp"]

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "selu": nn.SELU, "silu": nn.SiLU,
    "softplus": nn.Softplus, "mish": nn.Mish,
}
"""Activation names accepted by :func:`build_mlp` (``--activation``)."""


def parse_model_spec(spec: str) -> list[int]:
    """The hidden-layer widths of a spec: ``'mlp:256,128'`` -> ``[256, 128]``.

    Args:
        spec: ``'mlp:W1,W2,...'``, ``'mlp:'``/``'mlp'``/``'linear'`` (no hidden layer).

    Raises:
        ValueError: another kind of model, or a width that is not a positive integer
            (an empty one, as in ``'mlp:512,,256'``, included).

    Example:
        >>> parse_model_spec("mlp:256,128"), parse_model_spec("linear")
        ([256, 128], [])
    """
    text = str(spec).strip().lower()
    kind, _, widths = text.partition(":")
    if kind == "linear" and not widths:
        return []
    if kind != "mlp":
        raise ValueError(f"unknown model {spec!r}; expected 'mlp:W1,W2,...' (e.g. "
                         f"'mlp:256,128') or 'linear'")
    out = []
    parts = [p.strip() for p in widths.split(",")] if widths.strip() else []
    for part in parts:
        if not part:
            raise ValueError(f"model {spec!r}: an empty layer width (two commas in a row, "
                             f"or one at the end?)")
        if not part.isascii() or not part.isdigit() or int(part) < 1:
            raise ValueError(f"model {spec!r}: layer widths must be positive integers, "
                             f"got {part!r}")
        out.append(int(part))
    return out


def count_mlp_parameters(spec: str, in_features, out_features: int,
                         batch_norm: bool = False) -> int:
    """How many numbers :func:`build_mlp` would allocate for its weights, without building.

    Example:
        >>> count_mlp_parameters("mlp:8", 4, 3)  # (4*8 + 8) + (8*3 + 3)
        67
    """
    shape = (int(in_features),) if isinstance(in_features, int) else tuple(in_features)
    total, width = 0, math.prod(shape)
    for hidden in parse_model_spec(spec):
        total += width * hidden + hidden + (4 * hidden if batch_norm else 0)
        width = hidden
    return total + width * int(out_features) + int(out_features)


def build_mlp(spec: str, in_features, out_features: int, activation: str = "relu",
              dropout: float = 0.0, batch_norm: bool = False,
              max_parameters: int | None = None) -> nn.Sequential:
    """A multilayer perceptron from a spec string.

    Args:
        spec: see :func:`parse_model_spec`.
        in_features: features per sample, or the shape of one sample (e.g. ``(28, 28)``;
            then a ``Flatten`` comes first).
        out_features: outputs (classes, or 1 for regression).
        activation: a key of :data:`ACTIVATIONS`.
        dropout: drop probability after every hidden activation (0: no Dropout layer).
        batch_norm: a ``BatchNorm1d`` after every hidden ``Linear``.
        max_parameters: refuse (ValueError, before allocating anything) a model with more
            weights than this (:func:`count_mlp_parameters`); None: no limit.

    Returns:
        an ``nn.Sequential``.

    Example:
        >>> build_mlp("mlp:8", (2, 2), 3)
        Sequential(
          (0): Flatten(...)
          (1): Linear(in_features=4, out_features=8, bias=True)
          (2): ReLU()
          (3): Linear(in_features=8, out_features=3, bias=True)
        )
    """
    widths = parse_model_spec(spec)
    key = str(activation).strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; available: "
                         f"{', '.join(ACTIVATIONS)}")
    dropout = float(dropout)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    shape = (int(in_features),) if isinstance(in_features, int) else tuple(in_features)
    if max_parameters is not None:
        n = count_mlp_parameters(spec, shape, out_features, batch_norm)
        if n > max_parameters:
            raise ValueError(f"model {spec!r} for {math.prod(shape):,} inputs and "
                             f"{int(out_features):,} outputs would have {n:,} weights, over "
                             f"the limit of {max_parameters:,}")
    layers = [nn.Flatten()] if len(shape) > 1 else []
    width = math.prod(shape)
    for hidden in widths:
        layers.append(nn.Linear(width, hidden))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(ACTIVATIONS[key]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, int(out_features)))
    return nn.Sequential(*layers)
