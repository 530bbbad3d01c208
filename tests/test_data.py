"""bricks.data: datasets, loaders, splits and scalers against PyTorch and scikit-learn."""

import json
import math
from collections import namedtuple

import numpy as np
import pytest
import torch
from sklearn import model_selection as skms
from sklearn import preprocessing as skpp

import bricks
from bricks.data import (
    DataLoader,
    Dataset,
    MinMaxScaler,
    StandardScaler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    train_test_split,
)


def _ids(loader):
    """The sample ids (the last field of each batch) in loader order, as one list."""
    return [int(v) for batch in loader for v in batch[-1].tolist()]


class ListDataset(Dataset):
    """A map-style dataset of (x, id) pairs that is not a TensorDataset (the general path)."""

    def __init__(self, X, ids):
        self.X, self.ids = X, ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return self.X[i], int(self.ids[i])


# ---------------------------------------------------------------- datasets
def test_tensor_dataset_items_and_len():
    X = np.arange(12.0).reshape(6, 2)
    y = bricks.tensor([0, 1, 0, 1, 1, 0])
    ds = TensorDataset(X, y)
    assert len(ds) == 6 and len(ds.tensors) == 2
    assert all(isinstance(t, bricks.Tensor) for t in ds.tensors)
    assert ds.tensors[0].dtype == np.float64  # arrays keep their dtype, as torch.from_numpy
    x3, y3 = ds[3]
    assert x3.tolist() == [6.0, 7.0] and y3.item() == 1


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(TypeError, match="Tensor or an array"):
        TensorDataset([1, 2, 3])


def test_public_surface():
    import importlib

    assert bricks.data.datasets is importlib.import_module("bricks.data.datasets")
    assert bricks.data.transforms is importlib.import_module("bricks.data.transforms")
    for name in bricks.data.__all__:
        assert getattr(bricks.data, name) is not None


def test_dataset_is_abstract():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        len(Dataset())


def test_subset_and_nested_subset():
    ds = TensorDataset(np.arange(10))
    sub = Subset(ds, [9, 3, 5, 0])
    assert len(sub) == 4 and sub[1][0].item() == 3
    sub2 = Subset(sub, np.array([2, -1]))
    assert [sub2[i][0].item() for i in range(2)] == [5, 0]
    with pytest.raises(IndexError, match="10 is out of range.*length 10"):
        Subset(ds, [1, 10])


@pytest.mark.parametrize("lengths", [[7, 3], [0.7, 0.3], [0.5, 0.25, 0.25], [3, 3, 4],
                                     [0.34, 0.33, 0.33]])
def test_random_split_sizes_like_torch_and_disjoint(lengths):
    n = 10
    ds = TensorDataset(np.arange(n))
    parts = random_split(ds, lengths, generator=3)
    ref = torch.utils.data.random_split(range(n), lengths, torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(r) for r in ref]
    ids = [p[i][0].item() for p in parts for i in range(len(p))]
    assert sorted(ids) == list(range(n))


def test_random_split_reproducible_and_errors():
    ds = TensorDataset(np.arange(20))
    a = random_split(ds, [15, 5], generator=np.random.default_rng(1))
    b = random_split(ds, [15, 5], generator=np.random.default_rng(1))
    assert list(a[1].indices) == list(b[1].indices)
    bricks.manual_seed(4)
    c = random_split(ds, [15, 5])
    bricks.manual_seed(4)
    d = random_split(ds, [15, 5])
    assert list(c[0].indices) == list(d[0].indices)
    with pytest.raises(ValueError, match="sum to 19.*20 samples"):
        random_split(ds, [15, 4])
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [25, -5])


# ---------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                            (5, 8, False), (5, 8, True), (7, 1, False)])
def test_loader_len_and_batch_sizes_match_torch(n, bs, drop_last):
    ds = TensorDataset(np.arange(n * 2.0).reshape(n, 2), np.arange(n))
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last)
    ref = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.arange(n * 2.0).reshape(n, 2), torch.arange(n)), batch_size=bs,
        drop_last=drop_last)
    assert len(loader) == len(ref)
    batches = list(loader)
    assert len(batches) == len(loader)
    assert [b[0].shape for b in batches] == [tuple(r[0].shape) for r in ref]
    assert all(isinstance(b, tuple) and isinstance(b[0], bricks.Tensor) for b in batches)
    # unshuffled: the samples in order, each once (the dropped tail excepted)
    kept = n - n % bs if drop_last else n
    assert _ids(loader) == list(range(kept))


def test_loader_shuffle_every_sample_once_per_epoch_and_reshuffles():
    n = 103
    ds = TensorDataset(np.random.default_rng(0).normal(size=(n, 4)), np.arange(n))
    loader = DataLoader(ds, batch_size=10, shuffle=True, generator=7)
    epochs = [_ids(loader) for _ in range(4)]
    for ids in epochs:
        assert sorted(ids) == list(range(n))  # nothing lost, nothing duplicated
    assert epochs[0] != list(range(n))
    assert len({tuple(e) for e in epochs}) == 4  # a new order each epoch
    # the same seed gives the same sequence of epochs
    again = DataLoader(ds, batch_size=10, shuffle=True, generator=7)
    assert [_ids(again) for _ in range(4)] == epochs
    # and rows stay aligned with their labels
    for x, i in loader:
        np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy()[i.numpy()])


def test_loader_drop_last_shuffled_drops_exactly_the_remainder():
    ds = TensorDataset(np.arange(23))
    loader = DataLoader(ds, batch_size=5, shuffle=True, drop_last=True, generator=1)
    ids = _ids(loader)
    assert len(ids) == 20 and len(set(ids)) == 20 and len(loader) == 4
    assert all(b[0].shape == (5,) for b in loader)


def test_loader_global_generator_reproducible_under_manual_seed():
    ds = TensorDataset(np.arange(50))
    loader = DataLoader(ds, batch_size=7, shuffle=True)
    bricks.manual_seed(11)
    a = [_ids(loader) for _ in range(2)]
    bricks.manual_seed(11)
    b = [_ids(loader) for _ in range(2)]
    assert a == b and a[0] != a[1]


def test_fast_path_equals_general_path():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(37, 3, 4)).astype(np.float32)
    y = rng.integers(0, 5, size=37)
    ds = Subset(TensorDataset(X, y), rng.permutation(37)[:31])
    fast = DataLoader(ds, batch_size=4, shuffle=True, generator=5)
    slow = DataLoader(ds, batch_size=4, shuffle=True, generator=5, collate_fn=default_collate)
    items = DataLoader(ListDataset(X[ds._index], y[ds._index]), batch_size=4, shuffle=True,
                       generator=5)
    for _ in range(2):
        for bf, bs, bi in zip(fast, slow, items, strict=True):
            assert len(bf) == len(bs) == 2
            for f, s, i in zip(bf, bs, bi):
                assert f.dtype == s.dtype and f.shape == s.shape
                np.testing.assert_array_equal(f.numpy(), s.numpy())
                np.testing.assert_array_equal(f.numpy(), i.numpy())


def test_fast_path_does_not_loop_per_sample(monkeypatch):
    ds = TensorDataset(np.arange(100.0), np.arange(100))

    def boom(self, index):
        raise AssertionError("the fast path must not read samples one at a time")

    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    assert sum(len(b[0]) for b in DataLoader(Subset(ds, range(60)), batch_size=16)) == 60


def test_loader_general_path_dataset_subclass():
    # A TensorDataset subclass may change items: it must go through __getitem__.
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, = super().__getitem__(i)
            return (x * 2,)

    out = [b[0].tolist() for b in DataLoader(Doubled(np.arange(4)), batch_size=2)]
    assert out == [[0, 2], [4, 6]]


def test_default_collate_structures():
    Point = namedtuple("Point", "x y")
    batch = default_collate([{"a": np.zeros(2), "b": (1, 2.5, True), "c": "s0"},
                             {"a": np.ones(2), "b": (3, 0.5, False), "c": "s1"}])
    assert batch["a"].shape == (2, 2)
    ints, floats, bools = batch["b"]
    assert ints.dtype == np.int64 and floats.dtype == np.float64 and bools.dtype == np.bool_
    assert ints.tolist() == [1, 3] and batch["c"] == ["s0", "s1"]
    p = default_collate([Point(bricks.tensor([1.0]), 0), Point(bricks.tensor([2.0]), 1)])
    assert isinstance(p, Point) and p.x.shape == (2, 1) and p.y.tolist() == [0, 1]
    lst = default_collate([[np.float32(1), 2], [np.float32(3), 4]])
    assert isinstance(lst, list) and lst[0].dtype == np.float32
    # same dtypes as torch's default_collate
    ref = torch.utils.data.default_collate([(1, 2.5, True), (3, 0.5, False)])
    assert [str(t.dtype) for t in ref] == ["torch.int64", "torch.float64", "torch.bool"]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"item 0 has shape \(3,\), item 1 has shape \(4,\)"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="same number of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="got object"):
        default_collate([object(), object()])


def test_loader_errors():
    ds = TensorDataset(np.arange(4))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn=3)
    with pytest.raises(TypeError, match="__getitem__ and __len__"):
        DataLoader(42)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, shuffle=True, generator="seed")


def test_loader_transforms_apply_per_batch():
    from bricks.data import transforms as T

    X = np.arange(24.0).reshape(6, 2, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    loader = DataLoader(TensorDataset(X, y), batch_size=4, transform=T.Flatten(),
                        target_transform=T.OneHot(3))
    xb, yb = next(iter(loader))
    assert xb.shape == (4, 4) and yb.shape == (4, 3)  # Flatten saw the batch (batched=True)
    np.testing.assert_array_equal(yb.numpy().argmax(1), y[:4])
    with pytest.raises(ValueError, match="target_transform needs"):
        next(iter(DataLoader(TensorDataset(X), target_transform=T.OneHot(3))))


# ---------------------------------------------------------------- train_test_split
@pytest.mark.parametrize("n", [10, 17, 100, 101])
@pytest.mark.parametrize("sizes", [dict(), dict(test_size=0.3), dict(test_size=0.2),
                                   dict(train_size=0.7), dict(test_size=3),
                                   dict(train_size=5, test_size=0.2),
                                   dict(train_size=0.5, test_size=0.25)])
def test_train_test_split_sizes_equal_sklearn(n, sizes):
    X = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, seed=0, **sizes)
    ref = skms.train_test_split(X, y, random_state=0, **sizes)
    assert (len(X_tr), len(X_te)) == (len(ref[0]), len(ref[1]))
    np.testing.assert_array_equal(X_tr[:, 0] // 2, y_tr)  # rows stay aligned
    both = np.concatenate([y_tr, y_te])
    assert len(np.unique(both)) == len(both)  # nothing duplicated
    if "train_size" not in sizes or "test_size" not in sizes:
        assert sorted(both.tolist()) == list(range(n))  # nothing lost


def test_train_test_split_no_shuffle_equals_sklearn():
    X, y = np.arange(30).reshape(15, 2), np.arange(15)
    ours = train_test_split(X, y, test_size=0.2, shuffle=False)
    ref = skms.train_test_split(X, y, test_size=0.2, shuffle=False)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_test_split_kinds_and_reproducibility():
    X = bricks.randn(20, 3)
    y = list(range(20))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=5)
    assert isinstance(X_tr, bricks.Tensor) and isinstance(y_tr, list)
    assert X_tr.shape == (15, 3) and len(y_te) == 5
    np.testing.assert_array_equal(X_te.numpy(), X.numpy()[y_te])
    again = train_test_split(X, y, test_size=0.25, seed=5)
    assert again[3] == y_te
    other = train_test_split(X, y, test_size=0.25, seed=6)
    assert other[3] != y_te


@pytest.mark.parametrize("counts", [[50, 30, 20], [7, 13, 5, 25], [3, 97], [11, 11, 11]])
@pytest.mark.parametrize("test_size", [0.25, 0.3, 0.15])
def test_stratify_keeps_proportions_and_matches_sklearn_counts(counts, test_size):
    y = np.repeat(np.arange(len(counts)), counts)
    y = y[np.random.default_rng(0).permutation(len(y))]
    X = np.arange(len(y))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y, seed=1)
    ref_tr, ref_te = skms.train_test_split(y, test_size=test_size, stratify=y, random_state=0)
    assert sorted(np.concatenate([X_tr, X_te]).tolist()) == list(range(len(y)))
    np.testing.assert_array_equal(y[X_tr], y_tr)
    n = len(y)
    for part in (y_tr, y_te):
        got = np.bincount(part, minlength=len(counts))
        exact = np.array(counts) * len(part) / n
        assert np.all(np.abs(got - exact) < 1)  # within one sample of the exact share
    assert (len(y_tr), len(y_te)) == (len(ref_tr), len(ref_te))
    # sklearn's per-class counts: equal unless a tie in the remainders was broken at random
    # (train: counts * n_train / n; test: what train left, scaled to n_test)
    ours = [np.bincount(p, minlength=len(counts)) for p in (y_tr, y_te)]
    ref = [np.bincount(p, minlength=len(counts)) for p in (ref_tr, ref_te)]
    pools = [np.array(counts), np.array(counts) - ref[0]]
    for got, want, pool in zip(ours, ref, pools):
        share = pool * want.sum() / pool.sum()
        remainders = share - np.floor(share)
        if len(np.unique(remainders)) < len(remainders):
            break
        np.testing.assert_array_equal(got, want)


def test_stratified_counts_equal_sklearn_approximate_mode():
    from sklearn.utils.extmath import _approximate_mode as sk_mode

    from bricks.data.split import _approximate_mode

    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        counts = rng.integers(2, 40, size=rng.integers(2, 6))
        draws = int(rng.integers(1, counts.sum()))
        share = counts * draws / counts.sum()
        ours = _approximate_mode(counts, draws, np.random.default_rng(1))
        assert ours.sum() == draws and np.all(np.abs(ours - share) < 1)
        rem = share - np.floor(share)
        if len(np.unique(rem)) == len(rem):
            np.testing.assert_array_equal(ours, sk_mode(counts, draws, rng=0))
            checked += 1
    assert checked > 100


def test_stratify_with_tensor_labels_and_2d():
    y = bricks.tensor([0, 1] * 10)
    _, _, y_tr, y_te = train_test_split(np.zeros(20), y, test_size=0.5, stratify=y, seed=0)
    assert np.bincount(y_tr.numpy()).tolist() == [5, 5] == np.bincount(y_te.numpy()).tolist()
    Y = np.stack([np.arange(20) % 2, np.arange(20) % 4 // 2], axis=1)  # 4 distinct rows
    Y_tr, Y_te = train_test_split(Y, test_size=0.4, stratify=Y, seed=0)
    assert np.unique(Y_te, axis=0, return_counts=True)[1].tolist() == [2, 2, 2, 2]


def test_train_test_split_errors():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[10, 9\]"):
        train_test_split(X, np.zeros(9))
    with pytest.raises(ValueError, match="test_size=1.5"):
        train_test_split(X, test_size=1.5)
    with pytest.raises(ValueError, match="test_size=11"):
        train_test_split(X, test_size=11)
    with pytest.raises(ValueError, match="should be <= 1"):
        train_test_split(X, test_size=0.6, train_size=0.6)
    with pytest.raises(ValueError, match="requires shuffle=True"):
        train_test_split(X, stratify=np.arange(10) % 2, shuffle=False)
    with pytest.raises(ValueError, match="only 1 member"):
        train_test_split(X, stratify=np.array([0] * 9 + [1]))
    with pytest.raises(ValueError, match="at least one array"):
        train_test_split()


# ---------------------------------------------------------------- scalers
def _data(dtype=np.float64):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[1.0, -3.0, 100.0, 5.0], scale=[2.0, 0.1, 30.0, 1.0], size=(60, 4))
    X[:, 3] = 5.0  # a constant feature
    X_tr, X_te = skms.train_test_split(X.astype(dtype), test_size=0.25, random_state=0)
    return X_tr, X_te


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standard_scaler_equals_sklearn(dtype):
    X_tr, X_te = _data(dtype)
    ours, ref = StandardScaler().fit(X_tr), skpp.StandardScaler().fit(X_tr)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.mean_, ref.mean_, **tol)
    np.testing.assert_allclose(ours.var_, ref.var_, **tol)
    np.testing.assert_allclose(ours.scale_, ref.scale_, **tol)
    assert ours.scale_[3] == 1.0  # zero variance scales by 1
    out = ours.transform(X_te)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref.transform(X_te), **tol)
    np.testing.assert_allclose(ours.fit_transform(X_tr), ref.transform(X_tr), **tol)
    np.testing.assert_allclose(ours.inverse_transform(out), X_te, **tol)
    np.testing.assert_allclose(ours.transform(X_tr).std(axis=0)[:3], 1.0, rtol=1e-4)


def test_standard_scaler_options_equal_sklearn():
    X_tr, X_te = _data()
    for kw in (dict(with_mean=False), dict(with_std=False)):
        np.testing.assert_allclose(StandardScaler(**kw).fit(X_tr).transform(X_te),
                                   skpp.StandardScaler(**kw).fit(X_tr).transform(X_te),
                                   rtol=1e-12)


@pytest.mark.parametrize("feature_range", [(0, 1), (-1, 1), (2, 5)])
def test_minmax_scaler_equals_sklearn(feature_range):
    X_tr, X_te = _data()
    ours = MinMaxScaler(feature_range).fit(X_tr)
    ref = skpp.MinMaxScaler(feature_range=feature_range).fit(X_tr)
    for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X_te), ref.transform(X_te), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X_te)), X_te, rtol=1e-12)
    tr = ours.transform(X_tr)
    np.testing.assert_allclose(tr[:, :3].min(0), feature_range[0], atol=1e-12)
    np.testing.assert_allclose(tr[:, :3].max(0), feature_range[1], atol=1e-12)
    clipped = MinMaxScaler(feature_range, clip=True).fit(X_tr).transform(X_te * 3)
    np.testing.assert_allclose(
        clipped, skpp.MinMaxScaler(feature_range=feature_range, clip=True).fit(X_tr)
        .transform(X_te * 3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("Scaler", [StandardScaler, MinMaxScaler])
def test_scaler_tensor_in_tensor_out(Scaler):
    X_tr, X_te = _data(np.float32)
    sc = Scaler().fit(bricks.tensor(X_tr))
    out = sc.transform(bricks.tensor(X_te))
    assert isinstance(out, bricks.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), Scaler().fit(X_tr).transform(X_te), rtol=1e-6,
                               atol=1e-6)
    back = sc.inverse_transform(out)
    assert isinstance(back, bricks.Tensor)
    np.testing.assert_allclose(back.numpy(), X_te, rtol=1e-4, atol=1e-4)
    ints = sc.transform(bricks.tensor(np.ones((2, 4), dtype=np.int64)))
    assert ints.dtype == bricks.get_default_dtype()


@pytest.mark.parametrize("Scaler", [StandardScaler, MinMaxScaler])
def test_scaler_state_dict_round_trip_is_json_able(Scaler):
    X_tr, X_te = _data()
    sc = Scaler().fit(X_tr)
    state = sc.state_dict()
    assert all(isinstance(v, np.ndarray) for k, v in state.items()
               if k in ("mean", "scale", "min", "data_min"))
    plain = json.loads(json.dumps({k: v.tolist() if isinstance(v, np.ndarray) else v
                                   for k, v in state.items()}))
    for restored_state in (state, plain):
        new = Scaler().load_state_dict(restored_state)
        np.testing.assert_array_equal(new.transform(X_te), sc.transform(X_te))
        np.testing.assert_array_equal(new.inverse_transform(X_te), sc.inverse_transform(X_te))
    state["scale"][0] = 123.0  # the state is a copy: the scaler is unchanged
    assert sc.scale_[0] != 123.0


@pytest.mark.parametrize("Scaler", [StandardScaler, MinMaxScaler])
def test_scaler_errors(Scaler):
    X_tr, _ = _data()
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Scaler().transform(X_tr)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        Scaler().state_dict()
    sc = Scaler().fit(X_tr)
    with pytest.raises(ValueError, match="X has 3 features, but .* fitted with 4"):
        sc.transform(X_tr[:, :3])
    with pytest.raises(ValueError, match=r"2-D.*reshape\(-1, 1\)"):
        Scaler().fit(X_tr[:, 0])
    with pytest.raises(KeyError, match="missing keys"):
        Scaler().load_state_dict({"mean": np.zeros(4)})
    bad = sc.state_dict()
    bad["scale"] = np.ones(3)
    with pytest.raises(ValueError, match=r"'scale' has shape \(3,\), expected \(4,\)"):
        Scaler().load_state_dict(bad)


def test_minmax_bad_range():
    with pytest.raises(ValueError, match="smaller than maximum"):
        MinMaxScaler((1, 0))


def test_scaler_fit_on_train_only_in_a_pipeline():
    # the test set is transformed with the train statistics: its mean is not zero
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2)) + np.array([[0.0, 10.0]])
    X_tr, X_te = train_test_split(X, test_size=0.3, seed=0)
    X_te = X_te + 1.0
    sc = StandardScaler().fit(X_tr)
    assert np.allclose(sc.transform(X_tr).mean(0), 0, atol=1e-12)
    assert np.all(sc.transform(X_te).mean(0) > 0.5)
    assert math.isclose(sc.n_samples_seen_, 140)
