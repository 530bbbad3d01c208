"""Embeddings: a lookup table of learned vectors, one per token, and bags of them.

``embedding`` is indexing (``weight[input]``): its backward adds each output row's gradient
to the row it was read from (repeated tokens add up), which autograd already does for
advanced indexing.  ``padding_idx`` keeps that row out of training: its entries are
read with their gradient cut, so the row stays as it was (zeros when freshly built).
``max_norm`` renormalizes, in place and outside the graph, each looked-up row whose norm is
above it, as PyTorch does.
"""

from __future__ import annotations

import numbers

from bricks import backend
from bricks.autograd import no_grad
from bricks.backend import get_array_module
from bricks.functions.creation import empty
from bricks.functions.elementwise import where
from bricks.functions.shape import cat
from bricks.nn import init
from bricks.nn.module import Module, Parameter, parameter_dtype
from bricks.tensor import Tensor, const

__all__ = ["Embedding", "EmbeddingBag", "embedding", "embedding_bag"]



def _indices(op, input, num):
    idx = input.data if isinstance(input, Tensor) else backend.to_numpy(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer token indices, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"{op}: index {bad} is out of range for an embedding table of "
                         f"{num} rows")
    return idx


def _padding_idx(op, padding_idx, num):
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within the {num} "
                         f"embeddings")
    return padding_idx % num


def _renorm_(weight, idx, max_norm, norm_type):
    xp = get_array_module(weight.data)
    rows = xp.unique(idx)
    with no_grad():
        w = weight.data
        norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[rows] = w[rows] * scale[:, None].astype(w.dtype)
        weight._vc[0] += 1


def embedding(input, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight``: out[..., :] = weight[input[...], :].

    Args:
        input: integer tensor of any shape (token indices).
        weight: (num_embeddings, embedding_dim).
        padding_idx: a row that gets no gradient.
        max_norm: rows looked up with a larger ``norm_type``-norm are scaled down to it, in
            place (this changes ``weight``).
        norm_type: the p of the p-norm for ``max_norm``.
        scale_grad_by_freq, sparse: PyTorch's options; only False is supported.

    Returns:
        input.shape + (embedding_dim,).

    Example:
        >>> w = bricks.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> bricks.nn.functional.embedding(bricks.tensor([2, 1, 2]), w).tolist()
        [[3.0, 4.0], [1.0, 2.0], [3.0, 4.0]]
    """
    if scale_grad_by_freq or sparse:
        raise ValueError("embedding: scale_grad_by_freq and sparse gradients are not "
                         "supported; pass False")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    num = weight.shape[0]
    idx = backend.asarray_like(_indices("embedding", input, num), weight.data)
    padding_idx = _padding_idx("embedding", padding_idx, num)
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    out = weight[idx]
    if padding_idx is not None and out.requires_grad:
        keep = const((idx != padding_idx)[..., None])
        out = where(keep, out, out.detach())
    return out


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``.

    The weight starts N(0, 1) (PyTorch's default), with the ``padding_idx`` row zeroed.

    Args:
        num_embeddings: vocabulary size.
        embedding_dim: size of each vector.
        padding_idx: a row kept at its value (zeros) and out of training.
        max_norm, norm_type: renormalize looked-up rows (see :func:`embedding`).
        scale_grad_by_freq, sparse: PyTorch's options; only False.
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        integer (*) -> (*, embedding_dim).

    Example:
        >>> emb = bricks.nn.Embedding(10, 3, padding_idx=0)
        >>> emb
        Embedding(10, 3, padding_idx=0)
        >>> emb(bricks.tensor([[0, 4], [9, 9]])).shape
        (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {v!r}")
        dtype = parameter_dtype(dtype, device, "Embedding")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {tuple(_weight.shape)} does not "
                                 f"match ({self.num_embeddings}, {self.embedding_dim})")
            data = _weight.data if isinstance(_weight, Tensor) else backend.to_numpy(_weight)
            self.weight = Parameter(const(data.copy()), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), the padding row zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

    def forward(self, input) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding whose table is a copy of ``embeddings`` (num, dim); ``freeze=True``
        keeps it out of training (``requires_grad=False``).

        Example:
            >>> emb = bricks.nn.Embedding.from_pretrained(bricks.eye(3))
            >>> emb(bricks.tensor([2])).tolist(), emb.weight.requires_grad
            ([[0.0, 0.0, 1.0]], False)
        """
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        num, dim = embeddings.shape
        return cls(num, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze, dtype=embeddings.dtype)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s


# ---------------------------------------------------------------- bags


def embedding_bag(input, weight: Tensor, offsets=None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """Sum, mean or max of the embeddings of each bag of tokens, without building the
    (tokens, dim) intermediate per bag.

    Bags are the rows of a 2-D ``input`` (B, n), or, for a 1-D ``input``, the runs that start
    at ``offsets`` (B,).  Tokens equal to ``padding_idx`` are left out (and not counted in
    the mean); an empty bag gives zeros.

    Args:
        input: integer (B, n), or (total,) with ``offsets``.
        weight: (num_embeddings, dim).
        offsets: start of each bag in a 1-D input.
        mode: 'sum', 'mean' or 'max'.
        per_sample_weights: float (same shape as input), multiplies each embedding
            (mode 'sum' only).
        include_last_offset: ``offsets`` has B + 1 entries, the last being len(input).
        max_norm, norm_type, padding_idx: as for :func:`embedding`.

    Returns:
        (B, dim).

    Example:
        >>> w = bricks.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
        >>> F = bricks.nn.functional
        >>> F.embedding_bag(bricks.tensor([0, 1, 2]), w, bricks.tensor([0, 2]),
        ...                 mode="sum").tolist()
        [[1.0, 1.0], [2.0, 2.0]]
    """
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if scale_grad_by_freq or sparse:
        raise ValueError(f"{op}: scale_grad_by_freq and sparse are not supported")
    num = weight.shape[0]
    idx = backend.asarray_like(_indices(op, input, num), weight.data)
    xp = get_array_module(idx)
    padding_idx = _padding_idx(op, padding_idx, num)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None for a 2-D input (each row is a bag)")
        bags, per_bag = idx.shape
        bag_of = xp.repeat(xp.arange(bags), per_bag)
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: a 1-D input needs offsets (the start of each bag)")
        off = backend.asarray_like(offsets.data if isinstance(offsets, Tensor) else offsets,
                                   idx)
        off = off.astype(backend.int64)
        if off.ndim != 1 or (off.size and (off[0] != 0 or xp.any(xp.diff(off) < 0)
                                           or off[-1] > idx.size)):
            raise ValueError(f"{op}: offsets must be 1-D, start at 0, not decrease and stay "
                             f"within the input's {idx.size} tokens; got {off.tolist()}")
        if include_last_offset:
            off = off[:-1]
        bags = off.size
        bag_of = xp.searchsorted(off, xp.arange(idx.size), side="right") - 1
    else:
        raise ValueError(f"{op}: input must be 1-D (with offsets) or 2-D, got shape "
                         f"{tuple(idx.shape)}")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"{op}: per_sample_weights needs mode='sum', got {mode!r}")
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    keep = xp.ones(idx.shape, dtype=bool) if padding_idx is None else idx != padding_idx
    rows = weight[idx[keep]]  # (kept tokens, dim)
    bag_of = bag_of[keep]
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)[const(xp.nonzero(keep)[0])]
        rows = rows * psw.unsqueeze(1)
    counts = xp.bincount(bag_of, minlength=bags)
    if mode == "max":
        # Pad every bag to the longest with -inf, take the max, and give empty bags zeros.
        longest = int(counts.max()) if counts.size else 0
        start = xp.concatenate([[0], xp.cumsum(counts)[:-1]]).astype(backend.int64)
        pos = xp.arange(bag_of.size) - start[bag_of]
        slot = xp.full((bags, builtin_max(longest, 1)), bag_of.size, dtype=backend.int64)
        slot[bag_of, pos] = xp.arange(bag_of.size)
        pad_row = const(xp.full((1, weight.shape[1]), -xp.inf, dtype=weight.data.dtype))
        table = cat([rows, pad_row], 0)[const(slot)]  # (B, longest, dim)
        out = table.max(dim=1)[0]
        return where(const((counts > 0)[:, None]), out, 0.0)
    member = (bag_of[None, :] == xp.arange(bags)[:, None]).astype(weight.data.dtype)
    if mode == "mean":
        member = member / xp.maximum(counts, 1)[:, None].astype(weight.data.dtype)
    return const(member) @ rows


builtin_max = max


class EmbeddingBag(Module):
    """Sums or averages the embeddings of bags of tokens; see
    :func:`bricks.nn.functional.embedding_bag`.

    Args:
        num_embeddings, embedding_dim, max_norm, norm_type, padding_idx: as for
            :class:`Embedding`.
        mode: 'sum', 'mean' (default) or 'max'.
        include_last_offset: as for :func:`embedding_bag`.

    Example:
        >>> bag = bricks.nn.EmbeddingBag(10, 4, mode="sum")
        >>> bag(bricks.tensor([1, 2, 4, 5, 4]), bricks.tensor([0, 3])).shape
        (2, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight=None, include_last_offset: bool = False,
                 padding_idx: int | None = None, device=None, dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got "
                             f"{mode!r}")
        dtype = parameter_dtype(dtype, device, "EmbeddingBag")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.max_norm, self.norm_type, self.mode = max_norm, norm_type, mode
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = _padding_idx("EmbeddingBag", padding_idx, self.num_embeddings)
        if _weight is None:
            self.weight = Parameter(empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
            self.reset_parameters()
        else:
            data = _weight.data if isinstance(_weight, Tensor) else backend.to_numpy(_weight)
            self.weight = Parameter(const(data.copy()))

    def reset_parameters(self) -> None:
        """weight ~ N(0, 1), the padding row zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.data[self.padding_idx] = 0

    def forward(self, input, offsets=None, per_sample_weights=None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, self.sparse,
                             per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
