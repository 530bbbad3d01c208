"""Models from a short spec string, as the ``bricks`` command builds them.

``mlp:256,128`` is a multilayer perceptron with hidden layers of 256 and 128 units;
``linear`` (or ``mlp:``) has no hidden layer (logistic or linear regression).  Each hidden
layer is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; inputs with more than one
dimension (images) are flattened first.

``cnn:32,64`` is a LeNet-style convolutional network: per width a block
``Conv (3x3, 'same') -> [BatchNorm] -> activation -> MaxPool 2``, then a fully connected
hidden layer (128 units; ``cnn:32,64/256`` sets it, ``cnn:32,64/`` has none) and the output
layer.  Images (H, W) get one channel, (C, H, W) keep theirs; 1-D signals (L,) use
``Conv1d`` with kernel 5.

``gru:64`` (and ``lstm:64``, ``rnn:64``) reads each sample as a sequence, a 1-D signal (L,)
as L steps of one feature, a 2-D sample (L, F) (an image) row by row, and classifies from
the outputs of all steps, flattened into one linear layer (the MNIST-1D paper's GRU head:
from the last step alone a GRU(64) reached 37% on MNIST-1D in 10 command-line epochs);
``gru:64,64`` stacks two layers.

The models take the samples flat, as the ``bricks`` command's data pipeline hands them over
(scaled per feature), and restore the sample shape themselves with ``Unflatten``.  The spec,
the activation and the other options are plain strings and numbers, so a checkpoint's
metadata can rebuild the same model.
"""

from __future__ import annotations

import math

from bricks import nn

__all__ = ["ACTIVATIONS", "parse_model_spec", "count_mlp_parameters", "build_mlp",
           "build_cnn", "build_rnn", "build_model", "count_parameters", "SequenceOutputs"]

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


def _widths(spec: str, text: str) -> list[int]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"model {spec!r}: widths must be positive integers, got {part!r}")
        out.append(int(part))
    return out


def _activation(activation: str):
    key = str(activation).strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; available: "
                         f"{', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]


def build_cnn(spec: str, sample_shape, out_features: int, activation: str = "relu",
              dropout: float = 0.0, batch_norm: bool = False) -> nn.Sequential:
    """A LeNet-style convolutional network from ``'cnn:C1,C2,...[/D1,...]'``.

    Args:
        spec: conv widths, then after ``/`` the fully connected hidden widths (default 128).
        sample_shape: one sample's shape: (H, W), (C, H, W) or (L,) for 1-D signals.
        out_features: outputs (classes, or 1 for regression).
        activation: a key of :data:`ACTIVATIONS`.
        dropout: drop probability before every fully connected layer (0: none).
        batch_norm: a ``BatchNorm2d`` (``BatchNorm1d``) after every convolution.

    Returns:
        an ``nn.Sequential`` taking flat samples (N, prod(sample_shape)).

    Example:
        >>> model = build_cnn("cnn:8,16", (28, 28), 10)
        >>> model(bricks.zeros(2, 784)).shape
        (2, 10)
        >>> [type(m).__name__ for m in model][:5]
        ['Unflatten', 'Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d']
    """
    kind = str(spec).strip().lower().partition(":")[0]
    if kind != "cnn":
        raise ValueError(f"build_cnn: expected a 'cnn:C1,C2,...' spec, got {spec!r}")
    act = _activation(activation)
    shape = tuple(int(n) for n in sample_shape)
    channels, hidden, image, dims, _ = _cnn_layout(spec, shape)
    conv, norm, pool = ((nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d) if dims == 1 else
                        (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d))
    kernel = 5 if dims == 1 else 3
    layers = [nn.Unflatten(1, image)]
    c, size = image[0], list(image[1:])
    for width in channels:
        layers.append(conv(c, width, kernel, padding="same"))
        if batch_norm:
            layers.append(norm(width))
        layers.append(act())
        if min(size) >= 2:
            layers.append(pool(2))
            size = [n // 2 for n in size]
        c = width
    layers.append(nn.Flatten())
    width = c * math.prod(size)
    for h in hidden:
        if dropout > 0:
            layers.append(nn.Dropout(float(dropout)))
        layers += [nn.Linear(width, h), act()]
        width = h
    if dropout > 0:
        layers.append(nn.Dropout(float(dropout)))
    layers.append(nn.Linear(width, int(out_features)))
    return nn.Sequential(*layers)


class SequenceOutputs(nn.Module):
    """Runs a recurrent layer (batch_first) and returns its outputs at every step, (N, L, H),
    without the final state: a recurrent layer that fits in ``nn.Sequential``.

    Example:
        >>> SequenceOutputs(nn.GRU(3, 5, batch_first=True))(bricks.ones(2, 7, 3)).shape
        (2, 7, 5)
    """

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def build_rnn(spec: str, sample_shape, out_features: int, dropout: float = 0.0
              ) -> nn.Sequential:
    """A recurrent classifier from ``'gru:H1,H2,...'`` (or ``lstm:``, ``rnn:``).

    Args:
        spec: the kind and the hidden size of each stacked layer.
        sample_shape: (L,) (L steps of one feature) or (L, F).
        out_features: outputs.
        dropout: drop probability between stacked layers and before the output layer.

    Returns:
        an ``nn.Sequential`` taking flat samples (N, prod(sample_shape)).

    Example:
        >>> model = build_rnn("gru:16", (40,), 10)
        >>> model(bricks.zeros(3, 40)).shape
        (3, 10)
    """
    kind, _, rest = str(spec).strip().lower().partition(":")
    layer = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}.get(kind)
    if layer is None:
        raise ValueError(f"build_rnn: expected 'gru:', 'lstm:' or 'rnn:', got {spec!r}")
    hidden = _widths(spec, rest)
    if not hidden:
        raise ValueError(f"model {spec!r}: give the hidden size, e.g. '{kind}:64'")
    shape = tuple(int(n) for n in sample_shape)
    if len(shape) == 1:
        shape = shape + (1,)
    if len(shape) != 2:
        raise ValueError(f"model {spec!r}: samples of shape {tuple(sample_shape)} are not "
                         f"sequences (L,) or (L, F)")
    layers = [nn.Unflatten(1, shape)]
    features = shape[1]
    for h in hidden:
        layers.append(SequenceOutputs(layer(features, h, batch_first=True)))
        if dropout > 0:
            layers.append(nn.Dropout(float(dropout)))
        features = h
    layers += [nn.Flatten(), nn.Linear(shape[0] * features, int(out_features))]
    return nn.Sequential(*layers)


def _cnn_layout(spec: str, shape):
    """(channels, dense widths, input image, spatial dims, output size) of a cnn spec."""
    rest = str(spec).strip().lower().partition(":")[2]
    convs, slash, dense = rest.partition("/")
    channels = _widths(spec, convs)
    hidden = _widths(spec, dense) if slash else [128]
    if not channels:
        raise ValueError(f"model {spec!r}: give at least one conv width, e.g. 'cnn:32,64'")
    if len(shape) == 1:
        dims, image = 1, (1,) + shape
    elif len(shape) == 2:
        dims, image = 2, (1,) + shape
    elif len(shape) == 3:
        dims, image = 2, shape
    else:
        raise ValueError(f"model {spec!r}: samples of shape {shape} are not signals (L,) or "
                         f"images (H, W) / (C, H, W)")
    size = list(image[1:])
    for _ in channels:
        if min(size) >= 2:
            size = [n // 2 for n in size]
    return channels, hidden, image, dims, size


def count_parameters(spec: str, sample_shape, out_features: int,
                     batch_norm: bool = False) -> int:
    """How many numbers :func:`build_model` would allocate for ``spec``'s weights (and batch
    norm statistics, as :func:`count_mlp_parameters`), without building it.

    Example:
        >>> count_parameters("cnn:4/", (8, 8), 2)  # conv 4*9 + 4, linear 4*16*2 + 2
        170
        >>> count_parameters("gru:4", (10,), 2)  # 3*4*(1 + 4) + 2*3*4, then 10*4*2 + 2
        166
    """
    shape = (int(sample_shape),) if isinstance(sample_shape, int) else tuple(sample_shape)
    kind, _, rest = str(spec).strip().lower().partition(":")
    out = int(out_features)
    if kind == "cnn":
        channels, hidden, image, dims, size = _cnn_layout(spec, shape)
        k = 5 if dims == 1 else 9
        total, c = 0, image[0]
        for w in channels:
            total += c * w * k + w + (4 * w if batch_norm else 0)  # BN: 2 weights, 2 stats
            c = w
        width = c * math.prod(size)
        for h in hidden:
            total += width * h + h
            width = h
        return total + width * out + out
    if kind in ("gru", "lstm", "rnn"):
        gates = {"gru": 3, "lstm": 4, "rnn": 1}[kind]
        total, features = 0, (shape + (1,))[1] if len(shape) == 1 else shape[-1]
        for h in _widths(spec, rest):
            total += gates * h * (features + h) + 2 * gates * h
            features = h
        return total + shape[0] * features * out + out  # every step's output feeds the head
    if kind in ("mlp", "linear"):
        return count_mlp_parameters(spec, shape, out, batch_norm)
    raise ValueError(f"unknown model {spec!r}; expected 'mlp:W1,W2,...', 'linear', "
                     f"'cnn:C1,C2,...', 'gru:H', 'lstm:H' or 'rnn:H'")


def build_model(spec: str, sample_shape, out_features: int, activation: str = "relu",
                dropout: float = 0.0, batch_norm: bool = False,
                max_parameters: int | None = None) -> nn.Sequential:
    """Any model the ``bricks`` command knows, from its spec: ``mlp:...``, ``linear``,
    ``cnn:...``, ``gru:...``, ``lstm:...``, ``rnn:...`` (see the module docstring).

    Example:
        >>> build_model("gru:8", (40,), 10)[1]
        SequenceOutputs(
          (rnn): GRU(1, 8, batch_first=True)
        )
    """
    kind = str(spec).strip().lower().partition(":")[0]
    shape = (int(sample_shape),) if isinstance(sample_shape, int) else tuple(sample_shape)
    if max_parameters is not None and kind in ("cnn", "gru", "lstm", "rnn"):
        n = count_parameters(spec, shape, out_features, batch_norm)
        if n > max_parameters:
            raise ValueError(f"model {spec!r} for samples of shape {shape} and "
                             f"{int(out_features):,} outputs would have {n:,} weights, over "
                             f"the limit of {max_parameters:,}")
    if kind == "cnn":
        return build_cnn(spec, shape, out_features, activation, dropout, batch_norm)
    if kind in ("gru", "lstm", "rnn"):
        return build_rnn(spec, shape, out_features, dropout)
    if kind in ("mlp", "linear"):
        return build_mlp(spec, math.prod(shape), out_features, activation, dropout, batch_norm,
                         max_parameters=max_parameters)
    raise ValueError(f"unknown model {spec!r}; expected 'mlp:W1,W2,...', 'linear', "
                     f"'cnn:C1,C2,...', 'gru:H', 'lstm:H' or 'rnn:H'")

