"""Neural-network bricks: Module, containers, layers, activations, losses, initializers.

Each family lives in its own file; this package re-exports them with explicit lists.
``bricks.nn.functional`` (imported as ``F``) holds the functional forms.
"""

from bricks.nn import functional, init, utils
from bricks.nn.activation import (
    ELU,
    GELU,
    SELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Step,
    Tanh,
)
from bricks.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from bricks.nn.embedding import Embedding, EmbeddingBag
from bricks.nn.layers import (
    Dropout,
    Dropout1d,
    Dropout2d,
    Flatten,
    Identity,
    Linear,
    Maxout,
    Unflatten,
)
from bricks.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    l1_penalty,
    l2_penalty,
)
from bricks.nn.module import Buffer, Module, ModuleDict, ModuleList, Parameter, Sequential
from bricks.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
)
from bricks.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
)
from bricks.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "functional", "init", "utils",
    "Module", "Parameter", "Buffer", "Sequential", "ModuleList", "ModuleDict",
    # layers
    "Linear", "Identity", "Flatten", "Unflatten", "Dropout", "Maxout", "BatchNorm1d",
    "LayerNorm", "Dropout1d", "Dropout2d", "BatchNorm2d", "GroupNorm", "InstanceNorm1d",
    "InstanceNorm2d",
    # convolution and pooling
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "MaxUnpool2d",
    # embeddings and recurrent layers
    "Embedding", "EmbeddingBag", "RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM",
    # activations
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "SELU", "GELU", "Softplus", "SiLU",
    "Softsign", "Step", "Hardtanh", "Mish", "Softmax", "LogSoftmax",
    # losses and penalties
    "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "NLLLoss", "KLDivLoss", "l1_penalty", "l2_penalty",
]
