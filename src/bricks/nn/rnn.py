"""Recurrent bricks: RNN, GRU and LSTM cells and layers, and variable-length batches.

Every cell is a few lines of bricks ops (matmul, sigmoid, tanh, products), so backward
through time and double backward come from autograd.  The names, shapes, gate order and
initialization are PyTorch's, so a torch ``state_dict`` loads and gives the same outputs:

* RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
* GRU:  r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h
* LSTM: i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of W_i* x + b_i* + W_h* h + b_h*,
        c' = f * c + i * g, h' = o * tanh(c')

with weights (gates * hidden, in) stacked in that gate order (GRU r, z, n; LSTM i, f, g, o)
and every weight and bias drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)).

The layers compute the input projection of the whole sequence in one matrix product before
the time loop, so each step does one (batch, hidden) x (hidden, gates * hidden) product.
Variable lengths come as a :class:`PackedSequence` (``pack_padded_sequence``); inside, the
layer works on the padded batch and stops each sequence's state at its length.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from bricks import backend
from bricks.autograd import Function, enable_grad, grad, is_grad_enabled
from bricks.backend import get_array_module, xp
from bricks.functions.creation import empty
from bricks.functions.elementwise import where
from bricks.functions.shape import cat, stack
from bricks.nn import init
from bricks.nn.layers import dropout
from bricks.nn.module import Module, Parameter, parameter_dtype
from bricks.tensor import Tensor, const

__all__ = ["RNNCell", "GRUCell", "LSTMCell", "RNN", "GRU", "LSTM", "PackedSequence",
           "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence"]



_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


# ---------------------------------------------------------------- one step


def _rnn_step(mode, gx, h, c, w_hh_t, b_hh, hidden):
    """One step from the input projection ``gx`` = x W_ih^T + b_ih (+ b_hh where it can be
    folded in); returns (h', c')."""
    gh = h @ w_hh_t
    if mode == "GRU":
        if b_hh is not None:
            gh = gh + b_hh
        rz = (gx[:, :2 * hidden] + gh[:, :2 * hidden]).sigmoid()
        r, z = rz[:, :hidden], rz[:, hidden:]
        n = (gx[:, 2 * hidden:] + r * gh[:, 2 * hidden:]).tanh()
        return n + z * (h - n), None
    g = gx + gh
    if mode == "LSTM":
        ifo = cat([g[:, :2 * hidden], g[:, 3 * hidden:]], 1).sigmoid()
        i, f, o = ifo[:, :hidden], ifo[:, hidden:2 * hidden], ifo[:, 2 * hidden:]
        c = f * c + i * g[:, 2 * hidden:3 * hidden].tanh()
        return o * c.tanh(), c
    return (g.tanh() if mode == "RNN_TANH" else g.relu()), None


def _sigmoid(x):
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: never overflows, and in place after one copy
    xp = get_array_module(x)
    y = x * 0.5
    xp.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


def _gru_composite(gx_all, h, w_hh, b_hh, hidden):
    w_hh_t = w_hh.T
    outs = []
    for t in range(gx_all.shape[0]):
        h, _ = _rnn_step("GRU", gx_all[t], h, None, w_hh_t, b_hh, hidden)
        outs.append(h)
    return stack(outs, 0)


class GRUSequence(Function):
    """A whole GRU sequence (one layer, one direction) as one node: the hidden states
    (T, B, H) from the input projection gx (T, B, 3H), h0, W_hh and b_hh.

    Why fused (DESIGN.md's exception for large speed wins): composed from bricks ops a step
    is about 17 graph nodes, so a 40-step sequence records 700 nodes per batch and the
    engine's per-node cost dominates (3.3x PyTorch on an MNIST-1D GRU epoch); here forward
    and backward through time are plain NumPy loops over time steps (never over batch or
    features).  Double backward stays exact: when the gradient itself must be
    differentiable (``create_graph=True``) the backward recomputes the sequence from the
    same cell in bricks ops and differentiates that, so the fast path is only taken when
    nothing will differentiate it again.
    """

    def forward(self, gx, h0, w_hh, b_hh):
        xp = get_array_module(gx)
        steps, batch, g = gx.shape
        hidden = g // 3
        self.save_for_backward(gx, h0, w_hh, b_hh)
        w_t = w_hh.T
        hs = xp.empty((steps + 1, batch, hidden), dtype=gx.dtype)
        hs[0] = h0
        rz = xp.empty((steps, batch, 2 * hidden), dtype=gx.dtype)
        n = xp.empty((steps, batch, hidden), dtype=gx.dtype)
        ghn = xp.empty((steps, batch, hidden), dtype=gx.dtype)
        for t in range(steps):
            gh = hs[t] @ w_t + b_hh
            rz[t] = _sigmoid(gx[t, :, :2 * hidden] + gh[:, :2 * hidden])
            ghn[t] = gh[:, 2 * hidden:]
            n[t] = xp.tanh(gx[t, :, 2 * hidden:] + rz[t, :, :hidden] * ghn[t])
            hs[t + 1] = n[t] + rz[t, :, hidden:] * (hs[t] - n[t])
        self.cache = (hs, rz, n, ghn)
        return hs[1:].copy()

    def backward(self, grad_out):
        xp = get_array_module(grad_out.data)
        gx, h0, w_hh, b_hh = self.saved_tensors
        inputs = (gx, h0, w_hh, b_hh)
        wanted = [i for i, e in enumerate(self.next_edges) if e is not None]
        if is_grad_enabled():  # create_graph: differentiate the composed cell instead
            with enable_grad():
                out = _gru_composite(gx, h0, w_hh, b_hh, w_hh.shape[1])
                found = grad(out, [inputs[i] for i in wanted], grad_out, create_graph=True,
                             allow_unused=True)
            result = [None] * 4
            for i, g in zip(wanted, found):
                result[i] = g if g is not None else inputs[i] * 0.0
            return tuple(result)
        hs, rz, n, ghn = self.cache
        steps, batch, hidden = n.shape
        w = w_hh.data
        w_rz, w_n = w[:2 * hidden], w[2 * hidden:]
        dout = grad_out.data
        r, z = rz[:, :, :hidden], rz[:, :, hidden:]
        # Every factor that does not depend on the incoming gradient, for all steps at once;
        # the loop then does the few products that must run in order.
        a_n = (1.0 - z) * (1.0 - n * n)  # d(pre-tanh of n) / dh
        b_r = ghn * r * (1.0 - r)  # d(pre-sigmoid of r) / d(pre-tanh of n)
        c_z = (hs[:-1] - n) * z * (1.0 - z)  # d(pre-sigmoid of z) / dh
        dgx = xp.empty((steps, batch, 3 * hidden), dtype=dout.dtype)
        dghn = xp.empty((steps, batch, hidden), dtype=dout.dtype)
        dh = xp.zeros((batch, hidden), dtype=dout.dtype)
        for t in range(steps - 1, -1, -1):
            dh = dh + dout[t]
            da_n = dh * a_n[t]
            dgx[t, :, :hidden] = da_n * b_r[t]
            dgx[t, :, hidden:2 * hidden] = dh * c_z[t]
            dgx[t, :, 2 * hidden:] = da_n
            dghn[t] = da_n * r[t]
            dh = dh * z[t] + dgx[t, :, :2 * hidden] @ w_rz + dghn[t] @ w_n
        dgh = xp.concatenate([dgx[:, :, :2 * hidden], dghn], axis=2)
        flat = dgh.reshape(steps * batch, 3 * hidden)
        out = (
            const(dgx),
            const(dh),
            const(flat.T @ hs[:-1].reshape(steps * batch, hidden)),
            const(flat.sum(axis=0)),
        )
        return tuple(out[i] if i in wanted else None for i in range(4))


# ---------------------------------------------------------------- cells


class _CellBase(Module):
    _mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, bias, device, dtype, mode=None):
        super().__init__()
        if mode is not None:
            self._mode = mode
        name = type(self).__name__
        for arg, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        dtype = parameter_dtype(dtype, device, name)
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        g = _GATES[self._mode] * self.hidden_size
        self.weight_ih = Parameter(empty((g, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(empty((g, self.hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty((g,), dtype=dtype))
            self.bias_hh = Parameter(empty((g,), dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check(self, input, hx):
        name = type(self).__name__
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        states = []
        for h in (hx if isinstance(hx, tuple) else (hx,)):
            if h is None:
                h = const(get_array_module(x.data).zeros((x.shape[0], self.hidden_size),
                                                         dtype=x.data.dtype))
            else:
                h = h.unsqueeze(0) if unbatched else h
                if tuple(h.shape) != (x.shape[0], self.hidden_size):
                    raise ValueError(f"{name}: expected hidden state of shape "
                                     f"({x.shape[0]}, {self.hidden_size}), got "
                                     f"{tuple(h.shape) if not unbatched else tuple(h.shape)[1:]}")
            states.append(h)
        return x, states, unbatched

    def _step(self, x, h, c):
        gx = x @ self.weight_ih.T
        b_hh = self.bias_hh
        if self.bias_ih is not None:
            gx = gx + self.bias_ih
            if self._mode != "GRU":
                gx, b_hh = gx + self.bias_hh, None
        return _rnn_step(self._mode, gx, h, c, self.weight_hh.T, b_hh, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self._mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s


class RNNCell(_CellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    Args:
        input_size, hidden_size: feature sizes.
        bias: learn b_ih and b_hh (default True).
        nonlinearity: 'tanh' (default) or 'relu'.
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        input (N, input_size), hx (N, hidden_size) or None (zeros) -> (N, hidden_size).

    Example:
        >>> cell = bricks.nn.RNNCell(3, 5)
        >>> cell(bricks.ones(2, 3)).shape
        (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype,
                         "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU")
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._check(input, hx)
        h, _ = self._step(x, h, None)
        return h.squeeze(0) if unbatched else h


class GRUCell(_CellBase):
    """One step of a gated recurrent unit (Cho et al., 2014); the equations are in this
    module's docstring (gate order r, z, n).

    Example:
        >>> bricks.nn.GRUCell(3, 5)(bricks.ones(2, 3)).shape
        (2, 5)
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._check(input, hx)
        h, _ = self._step(x, h, None)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    """One step of a long short-term memory cell (Hochreiter and Schmidhuber, 1997); gate
    order i, f, g, o.

    Shapes:
        input (N, input_size), hx = (h, c) each (N, hidden_size), or None -> (h', c').

    Example:
        >>> h, c = bricks.nn.LSTMCell(3, 5)(bricks.ones(2, 3))
        >>> h.shape, c.shape
        ((2, 5), (2, 5))
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx=None):
        x, (h, c), unbatched = self._check(input, (None, None) if hx is None else tuple(hx))
        h, c = self._step(x, h, c)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


# ---------------------------------------------------------------- packed sequences


class PackedSequence(NamedTuple):
    """A batch of sequences of different lengths, packed time step by time step.

    ``data`` (sum of lengths, *) holds step 0 of every sequence, then step 1 of those that
    are long enough, and so on (sequences sorted by decreasing length); ``batch_sizes[t]``
    is how many sequences have a step t.  ``sorted_indices`` maps the sorted order back to
    the caller's batch order (None when the batch came sorted).
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shape (L_i, *) into one (max L, B, *) tensor (or (B, max L, *)),
    filling the missing steps with ``padding_value``.

    Example:
        >>> a, b = bricks.tensor([1.0, 2.0, 3.0]), bricks.tensor([4.0])
        >>> bricks.nn.utils.rnn.pad_sequence([a, b], batch_first=True).tolist()
        [[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]]
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    trailing = tuple(sequences[0].shape[1:])
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != trailing:
            raise ValueError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}, but all "
                             f"must end in {trailing}")
        missing = longest - s.shape[0]
        if missing:
            fill = const(get_array_module(s.data).full((missing,) + trailing, padding_value,
                                                       dtype=s.data.dtype))
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def _lengths(op, lengths, batch):
    # Lengths and the packing indices computed from them live on the host (NumPy), as in
    # PyTorch; indexing with them moves them to the data's device.
    arr = backend.to_numpy(lengths.data if isinstance(lengths, Tensor) else lengths)
    arr = arr.astype(backend.int64).reshape(-1)
    if arr.size != batch:
        raise ValueError(f"{op}: got {arr.size} lengths for a batch of {batch} sequences")
    if arr.size and arr.min() < 1:
        raise ValueError(f"{op}: every length must be at least 1, got {arr.tolist()}")
    return arr


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has ``lengths[b]``
    valid steps.

    Args:
        input: the padded batch.
        lengths: one length per sequence (a list or a 1-D integer tensor).
        batch_first: ``input`` is (B, T, *).
        enforce_sorted: the lengths must be decreasing; pass False to have them sorted
            here (``sorted_indices`` records the order).

    Example:
        >>> x = bricks.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
        >>> p = bricks.nn.utils.rnn.pack_padded_sequence(x, [3, 2], batch_first=True)
        >>> p.data.tolist(), p.batch_sizes.tolist()
        ([1.0, 4.0, 2.0, 5.0, 3.0], [2, 2, 1])
    """
    op = "pack_padded_sequence"
    x = input.transpose(0, 1) if batch_first else input  # (T, B, *)
    lens = _lengths(op, lengths, x.shape[1])
    if lens.max() > x.shape[0]:
        raise ValueError(f"{op}: a length ({int(lens.max())}) exceeds the {x.shape[0]} steps "
                         f"of the input (shape {tuple(input.shape)})")
    if enforce_sorted:
        if xp.any(xp.diff(lens) > 0):
            raise RuntimeError(f"{op}: lengths {lens.tolist()} are not sorted in decreasing "
                               f"order; sort the batch or pass enforce_sorted=False")
        order, sorted_idx, unsorted_idx = xp.arange(lens.size), None, None
    else:
        order = xp.argsort(-lens, kind="stable")
        sorted_idx = const(order.astype(backend.int64))
        unsorted_idx = const(xp.argsort(order).astype(backend.int64))
    lens_sorted = lens[order]
    steps = int(lens_sorted[0])
    batch_sizes = (lens_sorted[None, :] > xp.arange(steps)[:, None]).sum(axis=1)
    t_idx = xp.repeat(xp.arange(steps), batch_sizes)
    b_idx = xp.concatenate([order[:n] for n in batch_sizes])
    data = x[const(t_idx), const(b_idx)]
    return PackedSequence(data, const(batch_sizes.astype(backend.int64)), sorted_idx,
                          unsorted_idx)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors: ``pack_padded_sequence(pad_sequence(...))``.

    Example:
        >>> seqs = [bricks.ones(3, 2), bricks.ones(1, 2)]
        >>> bricks.nn.utils.rnn.pack_sequence(seqs).batch_sizes.tolist()
        [2, 1, 1]
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def _packed_index(batch_sizes, order):
    """For each (t, b) of the padded (T, B) layout, its row in the packed data, or -1."""
    steps = batch_sizes.size
    batch = int(batch_sizes[0])
    index = xp.full((steps, batch), -1, dtype=backend.int64)
    start = 0
    for t, n in enumerate(batch_sizes.tolist()):  # one step per time step, not per element
        index[t, order[:n]] = xp.arange(start, start + n)
        start += n
    return index


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None):
    """Undo :func:`pack_padded_sequence`: returns the padded batch (in the caller's original
    order) and the lengths (int64).

    Example:
        >>> x = bricks.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
        >>> U = bricks.nn.utils.rnn
        >>> y, n = U.pad_packed_sequence(U.pack_padded_sequence(x, [3, 2], True), True)
        >>> y.tolist(), n.tolist()
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]], [3, 2])
    """
    data, batch_sizes, sorted_idx, _ = sequence
    sizes = backend.to_numpy(batch_sizes.data if isinstance(batch_sizes, Tensor) else batch_sizes)
    batch = int(sizes[0])
    order = xp.arange(batch) if sorted_idx is None else backend.to_numpy(sorted_idx.data)
    index = _packed_index(sizes, order)
    steps = sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is shorter "
                             f"than the longest sequence ({steps})")
        index = xp.concatenate([index, xp.full((total_length - steps, batch), -1,
                                               dtype=backend.int64)])
    fill = const(get_array_module(data.data).full((1,) + tuple(data.shape[1:]), padding_value,
                                                  dtype=data.data.dtype))
    padded = cat([data, fill], 0)[const(xp.where(index < 0, data.shape[0], index))]
    lengths = (index >= 0).sum(axis=0).astype(backend.int64)
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, const(lengths)


# ---------------------------------------------------------------- layers


class _RNNBase(Module):
    _mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout_p,
                 bidirectional, proj_size, device, dtype, mode=None):
        super().__init__()
        if mode is not None:
            self._mode = mode
        name = type(self).__name__
        for arg, v in (("input_size", input_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        if not isinstance(dropout_p, numbers.Real) or not 0 <= dropout_p <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout_p!r}")
        if proj_size:
            raise ValueError(f"{name}: proj_size is not supported (use 0)")
        dtype = parameter_dtype(dtype, device, name)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias, self.batch_first = int(num_layers), bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout_p), bidirectional, 0
        g = _GATES[self._mode] * self.hidden_size
        dirs = 2 if bidirectional else 1
        self._names = []
        for layer in range(self.num_layers):
            fan = self.input_size if layer == 0 else self.hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                setattr(self, names[0], Parameter(empty((g, fan), dtype=dtype)))
                setattr(self, names[1], Parameter(empty((g, self.hidden_size), dtype=dtype)))
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    setattr(self, names[2], Parameter(empty((g,), dtype=dtype)))
                    setattr(self, names[3], Parameter(empty((g,), dtype=dtype)))
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # ---- forward

    def _initial(self, hx, batch, dtype, unbatched):
        xp = get_array_module(next(self.parameters()).data)  # the module's device
        name = type(self).__name__
        dirs = 2 if self.bidirectional else 1
        shape = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            return const(xp.zeros(shape, dtype=dtype))
        if unbatched:
            hx = hx.unsqueeze(1)
        if tuple(hx.shape) != shape:
            want = shape if not unbatched else (shape[0], shape[2])
            got = tuple(hx.shape) if not unbatched else (hx.shape[0], hx.shape[2])
            raise RuntimeError(f"{name}: expected hidden state of shape {want}, got {got}")
        if hx.data.dtype != dtype:
            raise TypeError(f"{name}: hidden state has dtype {hx.dtype} but the input has "
                            f"dtype {dtype}")
        return hx

    def forward(self, input, hx=None):
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            x, lengths = pad_packed_sequence(input)  # (T, B, *), original batch order
            lengths = lengths.data
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: input must be a Tensor or a PackedSequence")
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: expected input of shape (L, N, H_in), (N, L, H_in) "
                                 f"with batch_first, or (L, H_in), got {tuple(input.shape)}")
            x = input
            if x.ndim == 3 and self.batch_first:
                x = x.transpose(0, 1)
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with {self.input_size} features in its "
                             f"last dimension, got shape {tuple(x.shape)}")
        steps, batch = x.shape[:2]
        dtype = x.data.dtype
        if self._mode == "LSTM":
            if hx is None:
                h0 = c0 = self._initial(None, batch, dtype, False)
            else:
                h0 = self._initial(hx[0], batch, dtype, unbatched)
                c0 = self._initial(hx[1], batch, dtype, unbatched)
        else:
            h0, c0 = self._initial(hx, batch, dtype, unbatched), None
        dirs = 2 if self.bidirectional else 1
        masks = None
        rev_index = None
        if lengths is not None:
            xp = get_array_module(x.data)
            lengths = backend.asarray_like(lengths, x.data)
            alive = xp.arange(steps)[:, None] < lengths[None, :]  # (T, B)
            masks = [const(alive[t][:, None]) for t in range(steps)]
            t_grid = xp.arange(steps)[:, None]
            rev = xp.where(alive, lengths[None, :] - 1 - t_grid, t_grid)
            rev_index = (const(rev), const(xp.broadcast_to(xp.arange(batch), (steps, batch))))
        h_n, c_n = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                params = [getattr(self, n) for n in self._names[k]]
                seq = layer_in
                if d == 1:
                    seq = seq[rev_index] if rev_index is not None else seq.flip(0)
                out, h, c = self._run(seq, params, h0[k], None if c0 is None else c0[k],
                                      masks)
                if d == 1:
                    out = out[rev_index] if rev_index is not None else out.flip(0)
                outs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_in = outs[0] if dirs == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = dropout(layer_in, self.dropout, True)
        output = layer_in
        h_n = stack(h_n, 0)
        state = (h_n, stack(c_n, 0)) if self._mode == "LSTM" else h_n
        if packed:
            output = pack_padded_sequence(output, lengths, enforce_sorted=False)
            if input.sorted_indices is None:
                output = PackedSequence(output.data, output.batch_sizes, None, None)
            return output, state
        if unbatched:
            output = output.squeeze(1)
            state = tuple(s.squeeze(1) for s in state) if isinstance(state, tuple) else (
                state.squeeze(1))
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def _run(self, seq, params, h, c, masks):
        """One direction of one layer over (T, B, in): returns (outputs, h_T, c_T)."""
        xp = get_array_module(seq.data)
        w_ih, w_hh = params[0], params[1]
        b_ih, b_hh = (params[2], params[3]) if len(params) == 4 else (None, None)
        steps = seq.shape[0]
        gx_all = seq @ w_ih.T  # the whole sequence's input projection, one product
        if b_ih is not None:
            gx_all = gx_all + b_ih
            if self._mode != "GRU":
                gx_all, b_hh = gx_all + b_hh, None
        if self._mode == "GRU" and masks is None:
            if b_hh is None:
                b_hh = const(xp.zeros((w_hh.shape[0],), dtype=w_hh.data.dtype))
            out = GRUSequence.apply(gx_all, h, w_hh, b_hh)
            return out, out[steps - 1], None
        w_hh_t = w_hh.T
        outs = []
        for t in range(steps):
            h_new, c_new = _rnn_step(self._mode, gx_all[t], h, c, w_hh_t, b_hh,
                                     self.hidden_size)
            if masks is not None:  # past a sequence's end its state stays, its output is 0
                h_new = where(masks[t], h_new, h)
                if c is not None:
                    c_new = where(masks[t], c_new, c)
                outs.append(where(masks[t], h_new, 0.0))
            else:
                outs.append(h_new)
            h, c = h_new, c_new
        return stack(outs, 0), h, c


class RNN(_RNNBase):
    """A multi-layer Elman RNN over a sequence: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1}
    W_hh^T + b_hh) (or relu), layer l's outputs being layer l+1's inputs.

    Args:
        input_size, hidden_size: feature sizes.
        num_layers: stacked layers (default 1).
        nonlinearity: 'tanh' (default) or 'relu'.
        bias: learn the biases (default True).
        batch_first: input and output are (N, L, *) instead of (L, N, *).
        dropout: dropout on every layer's output but the last (training only).
        bidirectional: also run each layer backwards in time; outputs concatenate both.
        device, dtype: as for :class:`~bricks.nn.Linear`.

    Shapes:
        input (L, N, H_in), (N, L, H_in) or (L, H_in), or a PackedSequence; h_0
        (layers * directions, N, H) or None -> output (L, N, directions * H), h_n.

    Example:
        >>> rnn = bricks.nn.RNN(3, 8, num_layers=2, batch_first=True)
        >>> out, h = rnn(bricks.ones(4, 10, 3))
        >>> out.shape, h.shape
        ((4, 10, 8), (2, 4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype,
                         "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU")
        self.nonlinearity = nonlinearity


class GRU(_RNNBase):
    """A multi-layer gated recurrent unit; arguments and shapes as :class:`RNN` (gate order
    r, z, n, as PyTorch).

    Example:
        >>> out, h = bricks.nn.GRU(3, 8, bidirectional=True)(bricks.ones(10, 4, 3))
        >>> out.shape, h.shape
        ((10, 4, 16), (2, 4, 8))
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


class LSTM(_RNNBase):
    """A multi-layer LSTM; arguments and shapes as :class:`RNN`, with the state a pair
    (h, c) (gate order i, f, g, o, as PyTorch).

    Example:
        >>> out, (h, c) = bricks.nn.LSTM(3, 8, num_layers=2)(bricks.ones(10, 4, 3))
        >>> out.shape, h.shape, c.shape
        ((10, 4, 8), (2, 4, 8), (2, 4, 8))
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)
