"""The functional forms of the layers, activations and losses (``import bricks.nn.functional
as F``): plain functions of tensors, with no parameters of their own.

Each of them also takes symbolic values (``bricks.symbolic``): given a ``Variable`` or an
expression of one, it computes nothing and returns a new symbol that records the call, to
be run by the compiled function.

Example:
    >>> import bricks.nn.functional as F
    >>> from bricks.symbolic import Variable, compile
    >>> x = Variable('x')
    >>> f = compile(F.relu(x) + F.mse_loss(x, x * 0))
    >>> f(x=bricks.tensor([-1.0, 2.0])).tolist()
    [2.5, 4.5]
"""

import functools

from bricks.autograd import Deferred
from bricks.functions import conv as _conv
from bricks.nn import activation as _activation
from bricks.nn import embedding as _embedding
from bricks.nn import layers as _layers
from bricks.nn import loss as _loss
from bricks.nn import normalization as _normalization
from bricks.nn import pooling as _pooling


def _symbolic(fn):
    """``fn``, taking symbolic values too: when an argument is one (a ``Deferred``), the
    call ``fn(*args, **kwargs)`` is recorded in a new symbol instead of run.  A function
    reads its inputs' shapes and dtypes before its ops run, so the whole function is
    recorded (and traced with real arrays when the compiled function is called)."""

    @functools.wraps(fn)
    def accepts_symbols(*args, **kwargs):
        for a in args:
            if isinstance(a, Deferred):
                return a._defer(fn, args, kwargs)
        if kwargs:
            for a in kwargs.values():
                if isinstance(a, Deferred):
                    return a._defer(fn, args, kwargs)
        return fn(*args, **kwargs)

    return accepts_symbols


linear = _symbolic(_layers.linear)
dropout = _symbolic(_layers.dropout)
dropout1d = _symbolic(_layers.dropout1d)
dropout2d = _symbolic(_layers.dropout2d)
batch_norm = _symbolic(_normalization.batch_norm)
layer_norm = _symbolic(_normalization.layer_norm)
group_norm = _symbolic(_normalization.group_norm)
instance_norm = _symbolic(_normalization.instance_norm)

conv1d = _symbolic(_conv.conv1d)
conv2d = _symbolic(_conv.conv2d)
conv_transpose1d = _symbolic(_conv.conv_transpose1d)
conv_transpose2d = _symbolic(_conv.conv_transpose2d)
unfold = _symbolic(_conv.unfold)
fold = _symbolic(_conv.fold)
max_pool1d = _symbolic(_pooling.max_pool1d)
max_pool2d = _symbolic(_pooling.max_pool2d)
avg_pool1d = _symbolic(_pooling.avg_pool1d)
avg_pool2d = _symbolic(_pooling.avg_pool2d)
adaptive_avg_pool1d = _symbolic(_pooling.adaptive_avg_pool1d)
adaptive_avg_pool2d = _symbolic(_pooling.adaptive_avg_pool2d)
adaptive_max_pool1d = _symbolic(_pooling.adaptive_max_pool1d)
adaptive_max_pool2d = _symbolic(_pooling.adaptive_max_pool2d)
max_unpool2d = _symbolic(_pooling.max_unpool2d)
embedding = _symbolic(_embedding.embedding)
embedding_bag = _symbolic(_embedding.embedding_bag)

sigmoid = _symbolic(_activation.sigmoid)
tanh = _symbolic(_activation.tanh)
relu = _symbolic(_activation.relu)
leaky_relu = _symbolic(_activation.leaky_relu)
prelu = _symbolic(_activation.prelu)
elu = _symbolic(_activation.elu)
selu = _symbolic(_activation.selu)
gelu = _symbolic(_activation.gelu)
softplus = _symbolic(_activation.softplus)
silu = _symbolic(_activation.silu)
softsign = _symbolic(_activation.softsign)
step = _symbolic(_activation.step)
hardtanh = _symbolic(_activation.hardtanh)
mish = _symbolic(_activation.mish)
softmax = _symbolic(_activation.softmax)
log_softmax = _symbolic(_activation.log_softmax)

mse_loss = _symbolic(_loss.mse_loss)
l1_loss = _symbolic(_loss.l1_loss)
huber_loss = _symbolic(_loss.huber_loss)
smooth_l1_loss = _symbolic(_loss.smooth_l1_loss)
binary_cross_entropy = _symbolic(_loss.binary_cross_entropy)
binary_cross_entropy_with_logits = _symbolic(_loss.binary_cross_entropy_with_logits)
cross_entropy = _symbolic(_loss.cross_entropy)
nll_loss = _symbolic(_loss.nll_loss)
kl_div = _symbolic(_loss.kl_div)

__all__: list[str] = []
__all__ += ["linear", "dropout", "batch_norm", "layer_norm"]
__all__ += ["dropout1d", "dropout2d", "group_norm", "instance_norm"]
__all__ += ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
            "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
            "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
            "max_unpool2d", "embedding", "embedding_bag"]
__all__ += ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "softplus",
            "silu", "softsign", "step", "hardtanh", "mish", "softmax", "log_softmax"]
__all__ += ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div"]
