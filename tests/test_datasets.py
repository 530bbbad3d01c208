"""bricks.data.datasets: toy sets, 1-D regression, digits, MNIST (bundled, IDX, download),
MNIST-1D and the registry. Everything runs offline; downloads go to a loopback server.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import shutil
import sys
import threading
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from bricks.data import datasets as ds
from bricks.data.datasets import (
    DATASETS,
    DatasetError,
    download,
    download_mnist,
    list_datasets,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist1d,
    make_circle,
    make_gauss,
    make_mnist1d,
    make_moons,
    make_multi_gauss,
    make_plane,
    make_regression_1d,
    make_spiral,
    make_xor,
    read_idx,
    sha256sum,
    write_idx,
)
from bricks.data.datasets import mnist as mnist_module
from bricks.data.datasets import mnist1d as mnist1d_module

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist-10k.npz"
MNIST_SHA = "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"
MNIST_CLASS_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]

CLASSIFIERS = [make_circle, make_xor, make_gauss, make_spiral, make_moons]
REGRESSORS = [make_plane, make_multi_gauss]


# ---------------------------------------------------------------- toy 2-D sets


@pytest.mark.parametrize("make", CLASSIFIERS + REGRESSORS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [1, 7, 500])
def test_toy_shapes_dtypes(make, n):
    X, y = make(n, noise=0.2, seed=0)
    assert X.shape == (n, 2) and X.dtype == np.float32
    assert y.shape == (n,)
    if make in CLASSIFIERS:
        assert y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    else:
        assert y.dtype == np.float32
    assert np.isfinite(X).all() and np.isfinite(y).all()


@pytest.mark.parametrize("make", CLASSIFIERS + REGRESSORS, ids=lambda f: f.__name__)
def test_toy_determinism(make):
    X1, y1 = make(200, noise=0.1, seed=3)
    X2, y2 = make(200, noise=0.1, seed=3)
    X3, _ = make(200, noise=0.1, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make", [make_circle, make_gauss, make_spiral, make_moons])
def test_toy_class_balance(make):
    for n in (500, 501):
        _, y = make(n, noise=0.0, seed=0)
        counts = np.bincount(y, minlength=2)
        assert counts.sum() == n and abs(int(counts[0]) - int(counts[1])) <= 1


def test_toy_rows_are_shuffled():
    _, y = make_circle(400, seed=0)
    assert 0 < y[:200].sum() < 200  # not grouped by class as generated


def test_xor_roughly_balanced_and_noise_free_labels():
    X, y = make_xor(4000, seed=0)
    assert 0.45 < y.mean() < 0.55
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] >= 0).astype(np.int64))
    assert np.abs(X).min() >= 0.3 - 1e-6  # pushed away from the axes by the padding


def test_label_noise_flips_labels_without_moving_points():
    for make, truth in [
        (make_circle, lambda X: np.hypot(X[:, 0], X[:, 1]) < 2.5),
        (make_xor, lambda X: X[:, 0] * X[:, 1] >= 0),
    ]:
        X0, y0 = make(2000, noise=0.0, seed=1)
        X1, y1 = make(2000, noise=0.5, seed=1)
        np.testing.assert_array_equal(y0, truth(X0))
        flipped = np.mean(y1 != truth(X1))
        assert 0.05 < flipped < 0.45, make.__name__
        # the geometry is unchanged: radii (circle) and quadrant padding (xor) as without noise
        if make is make_circle:
            r = np.hypot(X1[:, 0], X1[:, 1])
            assert ((r <= 2.5) | (r >= 3.5 - 1e-5)).all() and r.max() <= 5 + 1e-5


def test_circle_geometry():
    X, y = make_circle(1000, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 1].max() < 2.5 and r[y == 0].min() >= 3.5 - 1e-5 and r.max() <= 5 + 1e-5


def test_gauss_noise_widens_the_clouds():
    for noise in (0.0, 0.5):
        X, y = make_gauss(20000, noise=noise, seed=0)
        expected_std = np.sqrt(0.5 + 7 * noise)
        np.testing.assert_allclose(X[y == 1].mean(0), [2, 2], atol=0.1)
        np.testing.assert_allclose(X[y == 0].mean(0), [-2, -2], atol=0.1)
        np.testing.assert_allclose(X[y == 1].std(0), expected_std, rtol=0.05)


def test_spiral_matches_playground_formula():
    n = 200
    X, y = make_spiral(n, noise=0.0, seed=0)
    m = n // 2
    i = np.arange(m)
    r = i / m * 5
    for label, delta in [(1, 0.0), (0, np.pi)]:
        t = 1.75 * i / m * 2 * np.pi + delta
        expected = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
        got = X[y == label]
        order = np.lexsort((got[:, 1], got[:, 0]))
        ref = np.lexsort((expected[:, 1], expected[:, 0]))
        np.testing.assert_allclose(got[order], expected[ref], atol=1e-5)


def test_spiral_noise_moves_points_within_bounds():
    X0, y0 = make_spiral(300, noise=0.0, seed=5)
    X1, y1 = make_spiral(300, noise=0.3, seed=5)
    np.testing.assert_array_equal(y0, y1)  # same permutation, same labels
    d = np.abs(X1 - X0)
    assert d.max() <= 0.3 + 1e-5 and d.mean() > 0.1


def test_spiral_k_classes():
    X, y = make_spiral(301, noise=0.0, seed=0, n_classes=3)
    assert X.shape == (301, 2)
    assert np.bincount(y).tolist() == [101, 100, 100]
    with pytest.raises(ValueError, match="n_classes"):
        make_spiral(10, n_classes=1)


def test_moons_equal_sklearn_without_noise():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    for n in (100, 101):
        X, y = make_moons(n, noise=0.0, seed=0)
        Xs, ys = sklearn_datasets.make_moons(n, shuffle=False, noise=None)
        for c in (0, 1):
            a = X[y == c].astype(np.float64)
            b = Xs[ys == c]
            a = a[np.lexsort((a[:, 1], a[:, 0]))]
            b = b[np.lexsort((b[:, 1], b[:, 0]))]
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_moons_noise_is_gaussian_jitter():
    X0, y0 = make_moons(4000, noise=0.0, seed=2)
    X1, y1 = make_moons(4000, noise=0.2, seed=2)
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_allclose((X1 - X0).std(), 0.2, rtol=0.05)


def test_plane_target():
    X, y = make_plane(500, seed=0)
    np.testing.assert_allclose(y, X.sum(1) / 10, atol=1e-6)
    assert np.abs(X).max() <= 6
    Xn, yn = make_plane(500, noise=0.5, seed=0)
    assert np.abs(yn - Xn.sum(1) / 10).mean() > 0.1  # noise acts on the target only


def _multi_gauss_reference(p):
    # The playground's getLabel, written as its loop.
    label = 0.0
    for cx, cy, sign in [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1),
                         (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]:  # fmt: skip
        d = np.hypot(p[0] - cx, p[1] - cy)
        value = sign * min(max(1 - d / 2, 0.0), 1.0)
        if abs(value) > abs(label):
            label = value
    return label


def test_multi_gauss_target():
    X, y = make_multi_gauss(300, seed=0)
    expected = [_multi_gauss_reference(p.astype(np.float64)) for p in X]
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert (y == 0).any() and y.max() > 0.5 and y.min() < -0.5
    Xn, yn = make_multi_gauss(300, noise=0.5, seed=0)
    expected = [_multi_gauss_reference(p.astype(np.float64)) for p in Xn]
    assert np.abs(yn - expected).mean() > 0.05


@pytest.mark.parametrize("bad", [dict(n=0), dict(n=2.5), dict(noise=-0.1)])
def test_toy_bad_arguments(bad):
    with pytest.raises(ValueError):
        make_xor(**{"n": 10, **bad})


# ---------------------------------------------------------------- 1-D regression


def test_regression_1d():
    X, y = make_regression_1d(seed=0)
    assert X.shape == (20, 1) and y.shape == (20,)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert (np.diff(X[:, 0]) >= 0).all() and X.min() >= 0 and X.max() <= 1
    X0, y0 = make_regression_1d(50, noise=0.0, seed=1)
    np.testing.assert_allclose(y0, np.sin(2 * np.pi * X0[:, 0]), atol=1e-6)
    X1, y1 = make_regression_1d(20000, noise=0.2, seed=1)
    resid = y1 - np.sin(2 * np.pi * X1[:, 0].astype(np.float64))
    np.testing.assert_allclose(resid.std(), 0.2, rtol=0.03)
    np.testing.assert_array_equal(make_regression_1d(seed=7)[1], make_regression_1d(seed=7)[1])


def test_regression_1d_functions():
    X, y = make_regression_1d(30, noise=0.0, seed=0, fn="cubic")
    np.testing.assert_allclose(y, (2 * X[:, 0] - 1) ** 3, atol=1e-6)
    X, y = make_regression_1d(30, noise=0.0, seed=0, fn=lambda x: x**2)
    np.testing.assert_allclose(y, X[:, 0] ** 2, atol=1e-6)
    with pytest.raises(ValueError, match="'sin'"):
        make_regression_1d(fn="tan")


# ---------------------------------------------------------------- digits


def test_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    Xs, _ = load_digits(scale=True)
    np.testing.assert_allclose(Xs, X / 16)


def test_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()


# ---------------------------------------------------------------- bundled MNIST


def test_bundled_mnist():
    images, labels = load_mnist()
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == MNIST_CLASS_COUNTS
    assert images.max() == 255 and images.min() == 0
    assert (np.diff(labels) >= 0).all()  # ordered by class, as documented
    # real digits: ink in the middle, blank corners
    assert images[:, 10:18, 10:18].mean() > 5 * images[:, :4, :4].mean()


def test_bundled_mnist_file_and_license():
    assert sha256sum(mnist_module.BUNDLED_MNIST) == MNIST_SHA == ds.BUNDLED_MNIST_SHA256
    if SHARED_MNIST.exists():
        assert mnist_module.BUNDLED_MNIST.read_bytes() == SHARED_MNIST.read_bytes()
    license_files = list(mnist_module.FILES_DIR.glob("LICENSE-mnist*"))
    assert len(license_files) == 1
    text = license_files[0].read_text()
    assert "Copyright (c) 2015 Juan Cazala" in text
    assert "Permission is hereby granted, free of charge" in text
    assert "mnist-10k.npz" in text


def test_package_data_ships_the_bundled_files():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["bricks.data.datasets"]
    package_dir = mnist_module.FILES_DIR.parent
    for path in (mnist_module.BUNDLED_MNIST, *mnist_module.FILES_DIR.glob("LICENSE*")):
        rel = path.relative_to(package_dir).as_posix()
        assert any(fnmatch(rel, p) for p in patterns), rel


def test_bundled_mnist_verified_once_and_corruption_detected(tmp_path, monkeypatch):
    calls = []

    def counting(path):
        calls.append(path)
        return sha256sum(path)

    copy = tmp_path / "mnist-10k.npz"
    shutil.copyfile(mnist_module.BUNDLED_MNIST, copy)
    monkeypatch.setattr(mnist_module, "BUNDLED_MNIST", copy)
    monkeypatch.setattr(mnist_module, "sha256sum", counting)
    monkeypatch.setattr(mnist_module, "_verified", set())
    load_mnist()
    load_mnist()
    assert len(calls) == 1

    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(mnist_module, "BUNDLED_MNIST", bad)
    with pytest.raises(DatasetError, match="corrupted.*sha256"):
        load_mnist()
    monkeypatch.setattr(mnist_module, "BUNDLED_MNIST", tmp_path / "gone.npz")
    with pytest.raises(DatasetError, match="missing"):
        load_mnist()


def test_bundled_mnist_has_no_split():
    with pytest.raises(ValueError, match="train_test_split"):
        load_mnist(split="train")
    with pytest.raises(ValueError, match="split must be"):
        load_mnist(split="validation")


# ---------------------------------------------------------------- IDX format

IDX_CASES = [
    (np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
    (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E),
]  # fmt: skip


def _idx_id(value):
    return value.__name__ if isinstance(value, type) else hex(value)


@pytest.mark.parametrize("dtype,code", IDX_CASES, ids=_idx_id)
@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(5,), (3, 4, 2)])
def test_idx_round_trip(tmp_path, dtype, code, suffix, shape):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        a = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(dtype)
    path = write_idx(tmp_path / f"a{suffix}", a)
    raw = path.read_bytes()
    if suffix:
        assert raw[:2] == b"\x1f\x8b"
        raw = gzip.decompress(raw)
    assert raw[:4] == bytes([0, 0, code, len(shape)])
    assert raw[4 : 4 + 4 * len(shape)] == b"".join(s.to_bytes(4, "big") for s in shape)
    assert raw[4 + 4 * len(shape) :] == a.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative and b.flags.writeable
    np.testing.assert_array_equal(a, b)


def test_idx_reads_hand_written_mnist_header(tmp_path):
    p = tmp_path / "t10k-labels-idx1-ubyte"
    p.write_bytes(bytes.fromhex("00000801") + (3).to_bytes(4, "big") + bytes([7, 2, 1]))
    np.testing.assert_array_equal(read_idx(p), [7, 2, 1])
    q = tmp_path / "ints"
    q.write_bytes(bytes.fromhex("00000c01 00000002 00000001 fffffffe"))
    np.testing.assert_array_equal(read_idx(q), np.array([1, -2], np.int32))


def test_write_idx_refuses_unsupported(tmp_path):
    with pytest.raises(ValueError, match="IDX stores"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="shape"):
        write_idx(tmp_path / "x", np.uint8(3))


def _good_idx(tmp_path):
    return write_idx(tmp_path / "good-idx3-ubyte", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    "mangle,match",
    [
        (lambda b: b[:-1], "truncated: shape \\(2, 3, 4\\) needs 24 data bytes, found 23"),
        (lambda b: b[:10], "truncated: its header needs 16 bytes, it has 10"),
        (lambda b: b[:4] + b"\xff" * 12, "truncated: shape \\(4294967295, "),
        (lambda b: b[:3], "truncated: 3 bytes"),
        (lambda b: b + b"\x00", "corrupted: extra bytes after the 24 data bytes"),
        (lambda b: b"\x01" + b[1:], "wrong magic number 0x01000803"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown dtype code 0x07"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
        (lambda b: gzip.compress(b)[:-12], "corrupted or truncated gzip"),
        (lambda b: _flip_middle(_big_gz()), "corrupted or truncated gzip"),
        (lambda b: _flip_crc(gzip.compress(b)), "corrupted or truncated gzip.*CRC"),
    ],
    ids=["short-data", "short-dims", "huge-shape", "short-header", "extra", "magic", "dtype",
         "ndim0", "gz-truncated", "gz-corrupted", "gz-crc"],  # fmt: skip
)
def test_idx_bad_files(tmp_path, mangle, match):
    good = _good_idx(tmp_path).read_bytes()
    bad = tmp_path / "bad-file"
    bad.write_bytes(mangle(good))
    with pytest.raises(DatasetError, match=match) as info:
        read_idx(bad)
    assert str(bad) in str(info.value)


def _big_gz():
    a = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(s.to_bytes(4, "big") for s in a.shape)
    return gzip.compress(header + a.tobytes())


def _flip_crc(b):
    b = bytearray(b)
    b[-6] ^= 0x01  # the trailer's CRC-32: the inflated data is intact, the check must fail
    return bytes(b)


def _flip_middle(b):
    b = bytearray(b)
    b[len(b) // 2] ^= 0xFF
    return bytes(b)


def test_idx_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist") as info:
        read_idx(tmp_path / "nope")
    assert "nope" in str(info.value)
    assert issubclass(DatasetError, ValueError)


# ---------------------------------------------------------------- MNIST from a folder


def _fake_mnist(folder, gz=True, n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        out[prefix] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_load_idx_folder(tmp_path, gz, loader):
    made = _fake_mnist(tmp_path / "m", gz=gz)
    for split, key in (("train", "train"), ("test", "t10k")):
        images, labels = loader(tmp_path / "m", split=split)
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, made[key][0])
        np.testing.assert_array_equal(labels, made[key][1])
    images, labels = loader(str(tmp_path / "m"))
    assert images.shape == (40, 28, 28)
    np.testing.assert_array_equal(labels[30:], made["t10k"][1])


def test_load_idx_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        load_mnist(tmp_path / "missing")
    _fake_mnist(tmp_path / "m")
    os.remove(tmp_path / "m" / "t10k-labels-idx1-ubyte.gz")
    load_mnist(tmp_path / "m", split="train")  # the train files alone are enough
    with pytest.raises(DatasetError, match="no test labels file .*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "m", split="test")
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.zeros(9, np.uint8))
    with pytest.raises(DatasetError, match="10 images but .* 9 labels"):
        load_mnist(tmp_path / "m", split="test")
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.full(10, 12, np.uint8))
    with pytest.raises(DatasetError, match="label 12"):
        load_mnist(tmp_path / "m", split="test")
    write_idx(tmp_path / "m" / "t10k-labels-idx1-ubyte", np.zeros(10, np.int32))
    with pytest.raises(DatasetError, match="uint8 labels"):
        load_mnist(tmp_path / "m", split="test")
    with pytest.raises(DatasetError, match="not bundled"):
        load_fashion_mnist(None)


# ---------------------------------------------------------------- download (loopback only)


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        if self.path == "/broken":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only a few bytes")
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()

    class Handler(_Handler):
        requests = []

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}/", Handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_download_success_and_reuse(server, tmp_path):
    root, base, requests = server
    payload = os.urandom(200_000)
    (root / "blob.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "out"
    path = download(base + "blob.bin", target, digest.upper())
    assert path == target / "blob.bin" and path.read_bytes() == payload
    assert sorted(os.listdir(target)) == ["blob.bin"]
    assert len(requests) == 1
    assert download(base + "blob.bin", target, digest) == path
    assert len(requests) == 1  # verified file already in place: not fetched again
    renamed = download(base + "blob.bin", target, digest, filename="other.bin")
    assert renamed.read_bytes() == payload


def test_download_checksum_mismatch_leaves_nothing(server, tmp_path):
    root, base, _ = server
    (root / "blob.bin").write_bytes(b"tampered")
    target = tmp_path / "out"
    with pytest.raises(DatasetError, match="checksum mismatch .*blob.bin") as info:
        download(base + "blob.bin", target, "0" * 64)
    assert hashlib.sha256(b"tampered").hexdigest() in str(info.value)
    assert os.listdir(target) == []


def test_download_mismatch_keeps_no_stale_partial_over_existing(server, tmp_path):
    root, base, _ = server
    (root / "blob.bin").write_bytes(b"new bytes")
    target = tmp_path / "out"
    target.mkdir()
    (target / "blob.bin").write_bytes(b"previous file")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        download(base + "blob.bin", target, "1" * 64)
    assert os.listdir(target) == ["blob.bin"]
    assert (target / "blob.bin").read_bytes() == b"previous file"  # untouched


def test_download_http_errors(server, tmp_path):
    _, base, _ = server
    target = tmp_path / "out"
    with pytest.raises(DatasetError, match="HTTP 404") as info:
        download(base + "absent.bin", target, "0" * 64)
    assert "absent.bin" in str(info.value)
    assert os.listdir(target) == []
    with pytest.raises(DatasetError, match="broken failed: the connection closed after 16 of 1000"):
        download(base + "broken", target, "0" * 64)
    assert os.listdir(target) == []


def test_download_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="http"):
        download("file:///etc/passwd", tmp_path, "0" * 64)
    with pytest.raises(ValueError, match="64 hex digits"):
        download("http://127.0.0.1:9/x", tmp_path, "abc")
    with pytest.raises(ValueError, match="file name"):
        download("http://127.0.0.1:9/", tmp_path, "0" * 64)
    assert os.listdir(tmp_path) == []


def test_download_mnist_from_loopback_mirror(server, tmp_path):
    root, base, _ = server
    made = _fake_mnist(root, gz=True)
    sums = {p.name: sha256sum(p) for p in sorted(root.iterdir())}
    assert set(sums) == set(ds.MNIST_SHA256) == set(ds.FASHION_MNIST_SHA256)
    folder = download_mnist(tmp_path / "fake", mirror=base, checksums=sums)
    assert sorted(os.listdir(folder)) == sorted(sums)
    images, labels = load_mnist(folder, split="train")
    np.testing.assert_array_equal(images, made["train"][0])
    # The known checksums of the real files reject these fake ones, leaving nothing behind.
    for kind in ("mnist", "fashion"):
        with pytest.raises(DatasetError, match="checksum mismatch"):
            download_mnist(tmp_path / kind, mirror=base, kind=kind)
        assert os.listdir(tmp_path / kind) == []
    with pytest.raises(ValueError, match="kind"):
        download_mnist(tmp_path, kind="kmnist")


def test_known_mnist_checksums_are_well_formed():
    for table in (ds.MNIST_SHA256, ds.FASHION_MNIST_SHA256):
        assert len(table) == 4
        assert all(len(v) == 64 and int(v, 16) >= 0 for v in table.values())
    assert ds.MNIST_SHA256["train-images-idx3-ubyte.gz"].startswith("440fcabf")
    assert ds.FASHION_MNIST_SHA256["train-images-idx3-ubyte.gz"].startswith("3aede38d")


# ---------------------------------------------------------------- MNIST-1D

# Recorded from mnist1d 0.0.2.post1: make_dataset(get_dataset_args()).
MNIST1D_LABELS_SHA256 = "6feec4a017698c7fe237c8854cbd2e338c6dd5c16240f6fa79daefaaa129e169"
MNIST1D_FIRST_LABELS = [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3]


@pytest.fixture(scope="module")
def mnist1d_data():
    return make_mnist1d()


def test_mnist1d_matches_recorded_package_output(mnist1d_data):
    d = mnist1d_data
    assert d["x"].shape == (4000, 40) and d["x_test"].shape == (1000, 40)
    labels = np.concatenate([d["y"], d["y_test"]]).astype("<i8")
    assert d["y"][:20].tolist() == MNIST1D_FIRST_LABELS
    assert hashlib.sha256(labels.tobytes()).hexdigest() == MNIST1D_LABELS_SHA256
    np.testing.assert_allclose(
        d["x"][0, :4], [-0.33200567, -0.47191037, -0.77869708, -1.00974083], atol=1e-8
    )
    np.testing.assert_allclose(
        d["x_test"][-1, -3:], [0.65987565, 0.87773435, 1.19315184], atol=1e-8
    )
    np.testing.assert_allclose(np.abs(d["x"]).sum(), 118338.29510719894, rtol=1e-10)
    np.testing.assert_allclose(np.abs(d["x_test"]).sum(), 29977.877540866408, rtol=1e-10)
    np.testing.assert_allclose(d["t"][:3], [-5.38753507, -5.11125122, -4.83496737], atol=1e-8)


def test_mnist1d_equals_package_exactly(mnist1d_data):
    pytest.importorskip("mnist1d")
    from mnist1d.data import get_dataset_args, make_dataset

    ref = make_dataset(get_dataset_args())
    for key in ("x", "y", "x_test", "y_test", "t"):
        np.testing.assert_array_equal(mnist1d_data[key], ref[key])
    X, y = load_mnist1d("train", use_package=True)
    np.testing.assert_array_equal(X, ref["x"].astype(np.float32))


def test_mnist1d_gaussian_filter_equals_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(0).standard_normal(72)
    np.testing.assert_array_equal(mnist1d_module._gaussian_filter(x), ndimage.gaussian_filter(x, 2))


def test_load_mnist1d(mnist1d_data):
    X, y = load_mnist1d("train", use_package=False)
    assert X.shape == (4000, 40) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, mnist1d_data["x"].astype(np.float32))
    Xt, yt = load_mnist1d("test", use_package=False)
    assert Xt.shape == (1000, 40)
    Xa, ya = load_mnist1d(use_package=False)
    assert Xa.shape == (5000, 40)
    assert np.bincount(ya).tolist() == [500] * 10
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(yt)) == set(range(10))
    np.testing.assert_allclose([Xa.mean(), Xa.std()], [0, 1], atol=1e-4)
    X[:] = 0  # the cache hands out copies
    assert load_mnist1d("train", use_package=False)[0].any()
    with pytest.raises(ValueError, match="split"):
        load_mnist1d("val")


def test_load_mnist1d_use_package_true_without_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    kept = {k: v for k, v in mnist1d_module._cache.items() if k == "bricks"}
    monkeypatch.setattr(mnist1d_module, "_cache", kept)
    with pytest.raises(ImportError, match="pip install mnist1d"):
        load_mnist1d(use_package=True)
    X, _ = load_mnist1d("test")  # auto: falls back to the built-in generator
    assert X.shape == (1000, 40)
    assert set(mnist1d_module._cache) == {"bricks"}


def test_make_mnist1d_options():
    d = make_mnist1d(num_samples=200, seed=1, final_seq_length=20)
    assert d["x"].shape == (160, 20) and d["x_test"].shape == (40, 20)
    other = make_mnist1d(num_samples=200, seed=2, final_seq_length=20)
    assert not np.array_equal(d["x"], other["x"])
    with pytest.raises(TypeError, match="unknown"):
        make_mnist1d(length=3)


# ---------------------------------------------------------------- registry

EXPECTED_NAMES = [
    "circle", "xor", "gauss", "spiral", "spiral-3", "moons", "plane", "multi-gauss",
    "regression-1d", "digits", "mnist", "fashion-mnist", "mnist1d", "reviews",
]  # fmt: skip


def test_registry_contents():
    assert list(DATASETS) == EXPECTED_NAMES
    rows = list_datasets()
    assert [r.name for r in rows] == EXPECTED_NAMES
    for row, spec in zip(rows, DATASETS.values()):
        assert tuple(row) == (spec.name, spec.task, spec.samples, spec.input_shape,
                              spec.n_classes, spec.description)  # fmt: skip
        assert spec.task in ("classification", "regression")
        assert (spec.n_classes is None) == (spec.task == "regression")
        assert spec.description and callable(spec.loader)


@pytest.mark.parametrize("name", [n for n in EXPECTED_NAMES if n != "fashion-mnist"])
def test_registry_loads_with_declared_shapes(name):
    if name == "digits":
        pytest.importorskip("sklearn")
    spec = DATASETS[name]
    X, y = load_dataset(name)
    assert isinstance(X, np.ndarray) and X.dtype == np.float32
    assert X.shape == (spec.samples, *spec.input_shape) and y.shape == (spec.samples,)
    if spec.task == "classification":
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() == spec.n_classes - 1
    else:
        assert y.dtype == np.float32
    if name in ("mnist", "digits"):
        assert X.min() == 0 and X.max() == 1


def test_registry_options_and_names():
    X, y = load_dataset("Multi_Gauss", n=40, noise=0.1, seed=0)
    np.testing.assert_array_equal(y, make_multi_gauss(40, noise=0.1, seed=0)[1])
    X, y = load_dataset("spiral-3", n=30, seed=0)
    assert set(y.tolist()) == {0, 1, 2}
    with pytest.raises(DatasetError, match="unknown dataset 'cifar10'; available: circle, xor"):
        load_dataset("cifar10")


def test_registry_images_from_folder(tmp_path):
    made = _fake_mnist(tmp_path / "f")
    X, y = load_dataset("fashion-mnist", path=tmp_path / "f", split="test")
    assert X.shape == (10, 28, 28) and X.dtype == np.float32
    np.testing.assert_allclose(X * 255, made["t10k"][0], atol=1e-4)
    X, _ = load_dataset("mnist", path=tmp_path / "f")
    assert X.shape == (40, 28, 28)
    with pytest.raises(DatasetError, match="path="):
        load_dataset("fashion-mnist")
