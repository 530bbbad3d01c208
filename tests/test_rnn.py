"""Embeddings and recurrent layers against PyTorch 2.13 with copied weights: forward,
backward and double backward in float64 and float32 on hypothesis-drawn sizes, packed
variable-length batches, torch state_dicts (a 2-layer bidirectional LSTM), float64
gradcheck and gradgradcheck, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bricks
import bricks.nn.functional as F
from bricks.testing import gradcheck, gradgradcheck

torch.set_num_threads(1)
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
rng0 = np.random.default_rng(0)


def _np(t):
    return np.array(t.data) if isinstance(t, bricks.Tensor) else t.detach().numpy()


def _close(a, b, dtype, what):
    tol = dict(rtol=1e-7, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-4, atol=2e-5)
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs torch {b.dtype}"
    np.testing.assert_allclose(a, b, err_msg=what, **tol)


def _pair(bcls, tcls, dtype, *args, **kwargs):
    torch.manual_seed(0)
    tl = tcls(*args, **kwargs)
    bl = bcls(*args, **kwargs)
    if dtype == np.float64:
        tl, bl = tl.double(), bl.double()
    bl.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                        tl.state_dict().items()})
    return bl, tl


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def compare_modules(bl, tl, arrays, dtype, seed=0, double=True):
    """Forward, the gradient of every input and parameter for random upstream gradients,
    and the double backward of sum(grad * w), all equal to torch's."""
    rng = np.random.default_rng(seed)
    b_in = [bricks.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    bo, to = _flat(bl(*b_in)), _flat(tl(*t_in))
    assert len(bo) == len(to)
    for i, (a, b) in enumerate(zip(bo, to)):
        _close(a, b, dtype, f"output {i}")
    vs = [rng.standard_normal(o.shape).astype(dtype) for o in bo]
    bp, tp = list(bl.parameters()), list(tl.parameters())
    bg = bricks.grad(bo, b_in + bp, [bricks.tensor(v) for v in vs], create_graph=double,
                     allow_unused=True)
    tg = torch.autograd.grad(to, t_in + tp, [torch.tensor(v) for v in vs],
                             create_graph=double, allow_unused=True)
    names = [f"input {i}" for i in range(len(arrays))] + [n for n, _ in tl.named_parameters()]
    for name, a, b in zip(names, bg, tg):
        _close(a, b, dtype, f"grad of {name}")
    if not double:
        return
    ws = [rng.standard_normal(g.shape).astype(dtype) for g in bg]
    bs = sum((g * bricks.tensor(w)).sum() for g, w in zip(bg, ws))
    ts = sum((g * torch.tensor(w)).sum() for g, w in zip(tg, ws))
    bgg = bricks.grad(bs, b_in + bp, allow_unused=True)
    tgg = torch.autograd.grad(ts, t_in + tp, allow_unused=True)
    for name, a, b in zip(names, bgg, tgg):
        if a is None or b is None:
            assert (a is None or not np.any(_np(a))) and (b is None or not np.any(_np(b)))
            continue
        _close(a, b, dtype, f"double backward of {name}")


DTYPES = [np.float64, np.float32]


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
@SETTINGS
@given(batch=st.integers(1, 4), n_in=st.integers(1, 5), hidden=st.integers(1, 6),
       bias=st.booleans(), with_state=st.booleans(), unbatched=st.booleans())
def test_cells_match_torch(dtype, name, batch, n_in, hidden, bias, with_state, unbatched):
    bl, tl = _pair(getattr(bricks.nn, name), getattr(torch.nn, name), dtype, n_in, hidden,
                   bias=bias)
    lead = () if unbatched else (batch,)
    arrays = [rng0.standard_normal(lead + (n_in,))]
    if with_state:
        arrays += [rng0.standard_normal(lead + (hidden,))
                   for _ in range(2 if name == "LSTMCell" else 1)]

    class Wrap:
        def __init__(self, m, lstm):
            self.m, self.lstm = m, lstm

        def __call__(self, x, *state):
            if not state:
                return self.m(x)
            return self.m(x, tuple(state)) if self.lstm else self.m(x, state[0])

        def parameters(self):
            return self.m.parameters()

        def named_parameters(self):
            return self.m.named_parameters()

    lstm = name == "LSTMCell"
    compare_modules(Wrap(bl, lstm), Wrap(tl, lstm), arrays, dtype)


def test_rnn_cell_relu_matches_torch():
    bl, tl = _pair(bricks.nn.RNNCell, torch.nn.RNNCell, np.float64, 3, 4, nonlinearity="relu")
    compare_modules(bl, tl, [rng0.standard_normal((2, 3))], np.float64)
    assert repr(bl) == repr(tl)


# ---------------------------------------------------------------- layers


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
@SETTINGS
@given(steps=st.integers(1, 5), batch=st.integers(1, 3), n_in=st.integers(1, 4),
       hidden=st.integers(1, 5), layers=st.integers(1, 2), bidirectional=st.booleans(),
       batch_first=st.booleans(), bias=st.booleans(), with_state=st.booleans())
def test_recurrent_layers_match_torch(dtype, name, steps, batch, n_in, hidden, layers,
                                      bidirectional, batch_first, bias, with_state):
    bl, tl = _pair(getattr(bricks.nn, name), getattr(torch.nn, name), dtype, n_in, hidden,
                   num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                   bias=bias, dropout=0.3 if layers > 1 else 0.0)
    bl.eval()
    tl.eval()  # dropout off: the comparison is deterministic
    x = rng0.standard_normal((batch, steps, n_in) if batch_first else (steps, batch, n_in))
    arrays = [x]
    dirs = 2 if bidirectional else 1
    if with_state:
        arrays += [rng0.standard_normal((layers * dirs, batch, hidden))
                   for _ in range(2 if name == "LSTM" else 1)]

    class Wrap:
        def __init__(self, m):
            self.m = m

        def __call__(self, x, *state):
            if not state:
                return self.m(x)
            return self.m(x, tuple(state) if name == "LSTM" else state[0])

        def parameters(self):
            return self.m.parameters()

        def named_parameters(self):
            return self.m.named_parameters()

    compare_modules(Wrap(bl), Wrap(tl), arrays, dtype, double=dtype == np.float64)
    assert repr(bl) == repr(tl)
    assert list(bl.state_dict()) == list(tl.state_dict())


def test_unbatched_sequence_and_relu_rnn_match_torch():
    bl, tl = _pair(bricks.nn.RNN, torch.nn.RNN, np.float64, 3, 4, nonlinearity="relu",
                   num_layers=2)
    compare_modules(bl, tl, [rng0.standard_normal((5, 3))], np.float64)
    bl, tl = _pair(bricks.nn.GRU, torch.nn.GRU, np.float64, 3, 4, bidirectional=True)
    compare_modules(bl, tl, [rng0.standard_normal((5, 3)), rng0.standard_normal((2, 4))],
                    np.float64)


def test_two_layer_bidirectional_lstm_state_dict_from_torch():
    torch.manual_seed(1)
    tl = torch.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    bl = bricks.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    bl.load_state_dict({k: bricks.tensor(v.detach().numpy()) for k, v in
                        tl.state_dict().items()})
    compare_modules(bl, tl, [rng0.standard_normal((3, 6, 5))], np.float32, double=False)


def test_dropout_between_layers_only_in_training():
    bricks.manual_seed(0)
    gru = bricks.nn.GRU(3, 6, num_layers=2, dropout=0.5)
    x = bricks.randn(4, 2, 3)
    gru.eval()
    a, _ = gru(x)
    b, _ = gru(x)
    np.testing.assert_array_equal(_np(a), _np(b))
    gru.train()
    c, _ = gru(x)
    assert not np.allclose(_np(a), _np(c))


def test_gradcheck_and_gradgradcheck_through_time():
    for cls in (bricks.nn.GRU, bricks.nn.LSTM, bricks.nn.RNN):
        bricks.manual_seed(0)
        m = cls(2, 3, bidirectional=True).double()
        x = bricks.randn(3, 2, 2, dtype=bricks.float64, requires_grad=True)
        # the weight is perturbed in place, so m(a) sees it: gradients of input and weight
        assert gradcheck(lambda a, w, m=m: m(a)[0], (x, m.weight_hh_l0))
        assert gradgradcheck(lambda a, w, m=m: m(a)[0], (x, m.weight_ih_l0_reverse))


# ---------------------------------------------------------------- variable lengths


def test_pad_and_pack_helpers_match_torch():
    seqs = [rng0.standard_normal((n, 3)) for n in (2, 5, 3)]
    U, TU = bricks.nn.utils.rnn, torch.nn.utils.rnn
    for batch_first in (False, True):
        for side in ("right", "left"):
            _close(U.pad_sequence([bricks.tensor(s) for s in seqs], batch_first, -1.0, side),
                   TU.pad_sequence([torch.tensor(s) for s in seqs], batch_first, -1.0, side),
                   np.float64, "pad_sequence")
        padded = TU.pad_sequence([torch.tensor(s) for s in seqs], batch_first)
        tp = TU.pack_padded_sequence(padded, [2, 5, 3], batch_first, enforce_sorted=False)
        bp = U.pack_padded_sequence(bricks.tensor(padded.numpy()), [2, 5, 3], batch_first,
                                    enforce_sorted=False)
        for a, b in zip(bp, tp):
            _close(a, b, np.float64 if a.dtype == bricks.float64 else None, "packed field")
        for total in (None, 7):
            by, bn = U.pad_packed_sequence(bp, batch_first, 0.5, total)
            ty, tn = TU.pad_packed_sequence(tp, batch_first, 0.5, total)
            _close(by, ty, np.float64, "pad_packed_sequence")
            np.testing.assert_array_equal(_np(bn), tn.numpy())
    with pytest.raises(RuntimeError, match="not sorted in decreasing order"):
        U.pack_padded_sequence(bricks.zeros(5, 3, 2), [2, 5, 3])


@pytest.mark.parametrize("name", ["GRU", "LSTM", "RNN"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_batches_match_torch(name, enforce_sorted):
    lengths = [5, 4, 2] if enforce_sorted else [2, 5, 4]
    bl, tl = _pair(getattr(bricks.nn, name), getattr(torch.nn, name), np.float64, 3, 4,
                   num_layers=2, bidirectional=True, batch_first=True)
    x = rng0.standard_normal((3, 5, 3))
    U, TU = bricks.nn.utils.rnn, torch.nn.utils.rnn
    bx = bricks.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    bo, bh = bl(U.pack_padded_sequence(bx, lengths, True, enforce_sorted))
    to, th = tl(TU.pack_padded_sequence(tx, lengths, True, enforce_sorted))
    _close(bo.data, to.data, np.float64, "packed output")
    bh, th = _flat(bh), _flat(th)
    for a, b in zip(bh, th):
        _close(a, b, np.float64, "final state")
    by, _ = U.pad_packed_sequence(bo, True)
    ty, _ = TU.pad_packed_sequence(to, True)
    v = rng0.standard_normal(ty.shape)
    loss_b = (by * bricks.tensor(v)).sum() + sum(h.sum() for h in bh)
    loss_t = (ty * torch.tensor(v)).sum() + sum(h.sum() for h in th)
    gb = bricks.grad(loss_b, [bx] + list(bl.parameters()))
    gt = torch.autograd.grad(loss_t, [tx] + list(tl.parameters()))
    for a, b in zip(gb, gt):
        _close(a, b, np.float64, "packed gradient")


# ---------------------------------------------------------------- embeddings


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(num=st.integers(1, 8), dim=st.integers(1, 5), shape=st.lists(st.integers(1, 4),
                                                                      min_size=1, max_size=3),
       padding=st.booleans())
def test_embedding_matches_torch(dtype, num, dim, shape, padding):
    padding_idx = num - 1 if padding else None
    bl, tl = _pair(bricks.nn.Embedding, torch.nn.Embedding, dtype, num, dim,
                   padding_idx=padding_idx)
    idx = rng0.integers(0, num, size=shape)
    bo, to = bl(bricks.tensor(idx)), tl(torch.tensor(idx))
    _close(bo, to, dtype, "embedding")
    v = rng0.standard_normal(bo.shape).astype(dtype)
    (bo * bricks.tensor(v)).sum().backward()
    (to * torch.tensor(v)).sum().backward()
    _close(bl.weight.grad, tl.weight.grad, dtype, "embedding weight grad")
    if padding:
        assert not np.any(_np(bl.weight.grad)[padding_idx])


def test_embedding_init_max_norm_and_from_pretrained():
    bricks.manual_seed(0)
    emb = bricks.nn.Embedding(1000, 8, padding_idx=3)
    w = _np(emb.weight)
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05  # N(0, 1), as torch
    assert not np.any(w[3])
    bl, tl = _pair(bricks.nn.Embedding, torch.nn.Embedding, np.float64, 6, 4, max_norm=1.0)
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    _close(bl(bricks.tensor(idx)), tl(torch.tensor(idx)), np.float64, "max_norm output")
    _close(bl.weight, tl.weight, np.float64, "max_norm renormalized weight")
    table = rng0.standard_normal((5, 3))
    frozen = bricks.nn.Embedding.from_pretrained(bricks.tensor(table))
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(_np(frozen(bricks.tensor([4, 0]))), table[[4, 0]])
    free = bricks.nn.Embedding.from_pretrained(bricks.tensor(table), freeze=False,
                                               padding_idx=0)
    assert free.weight.requires_grad and free.padding_idx == 0
    tfree = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False,
                                               padding_idx=0)
    assert repr(free) == repr(tfree)


def test_embedding_double_backward_and_gradcheck():
    w = bricks.tensor(rng0.standard_normal((5, 3)), requires_grad=True)
    idx = bricks.tensor([[1, 1, 4], [0, 2, 1]])
    assert gradcheck(lambda t: F.embedding(idx, t) ** 2, (w,))
    assert gradgradcheck(lambda t: F.embedding(idx, t) ** 2, (w,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_matches_torch(dtype, mode, padding_idx):
    bl, tl = _pair(bricks.nn.EmbeddingBag, torch.nn.EmbeddingBag, dtype, 10, 4, mode=mode,
                   padding_idx=padding_idx)
    for idx, offsets in ((np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4, 4, 6])),
                         (np.array([[1, 2, 4], [2, 2, 9]]), None)):
        bi, ti = bricks.tensor(idx), torch.tensor(idx)
        bo_ = None if offsets is None else bricks.tensor(offsets)
        to_ = None if offsets is None else torch.tensor(offsets)
        bl.zero_grad()
        tl.zero_grad()
        bo, to = bl(bi, bo_), tl(ti, to_)
        _close(bo, to, dtype, f"embedding_bag {mode}")
        v = rng0.standard_normal(bo.shape).astype(dtype)
        (bo * bricks.tensor(v)).sum().backward()
        (to * torch.tensor(v)).sum().backward()
        _close(bl.weight.grad, tl.weight.grad, dtype, f"embedding_bag {mode} grad")
    if mode == "sum":
        idx, off = np.array([1, 2, 4, 5]), np.array([0, 1, 3])
        psw = rng0.standard_normal(4).astype(dtype)
        _close(bl(bricks.tensor(idx), bricks.tensor(off), bricks.tensor(psw)),
               tl(torch.tensor(idx), torch.tensor(off), torch.tensor(psw)), dtype,
               "per_sample_weights")


def test_embedding_and_rnn_errors_are_clear():
    emb = bricks.nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="embedding: index 5 is out of range .* 5 rows"):
        emb(bricks.tensor([5]))
    with pytest.raises(TypeError, match="integer token indices"):
        emb(bricks.tensor([1.0]))
    with pytest.raises(ValueError, match="offsets"):
        F.embedding_bag(bricks.tensor([1, 2]), emb.weight)
    gru = bricks.nn.GRU(3, 4)
    with pytest.raises(ValueError, match="GRU: expected input with 3 features"):
        gru(bricks.ones(5, 2, 4))
    with pytest.raises(RuntimeError, match=r"GRU: expected hidden state of shape \(1, 2, 4\)"):
        gru(bricks.ones(5, 2, 3), bricks.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: expected input of shape \(batch, 3\)"):
        bricks.nn.LSTMCell(3, 4)(bricks.ones(2, 5))
    with pytest.raises(ValueError, match="proj_size"):
        bricks.nn.LSTM(3, 4, proj_size=2)


def test_fused_gru_first_order_path_matches_torch_in_float64():
    """Without create_graph the GRU runs its fused NumPy backward through time; with it,
    the composed cell (the layer tests above check both against torch)."""
    bl, tl = _pair(bricks.nn.GRU, torch.nn.GRU, np.float64, 3, 5, num_layers=2,
                   bidirectional=True, bias=True)
    compare_modules(bl, tl, [rng0.standard_normal((6, 2, 3)), rng0.standard_normal((4, 2, 5))],
                    np.float64, double=False)
    bl, tl = _pair(bricks.nn.GRU, torch.nn.GRU, np.float64, 3, 5, bias=False)
    compare_modules(bl, tl, [rng0.standard_normal((6, 2, 3))], np.float64, double=False)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"])
def test_recurrent_init_is_torchs_uniform(name):
    """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch: same bound, filled."""
    bricks.manual_seed(0)
    torch.manual_seed(0)
    bl, tl = getattr(bricks.nn, name)(8, 16), getattr(torch.nn, name)(8, 16)
    bound = 1 / np.sqrt(16)
    for (n, b), (tn, t) in zip(bl.named_parameters(), tl.named_parameters()):
        assert n == tn and b.shape == tuple(t.shape)
        values = _np(b)
        assert np.abs(values).max() <= bound
        if values.size >= 100:  # enough draws to fill the interval and match the spread
            assert np.abs(values).max() > 0.9 * bound
            assert abs(values.std() - t.detach().numpy().std()) < 0.2 * bound
