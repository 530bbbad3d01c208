"""bricks.data.files: the readers behind ``bricks train --data FILE`` and ``bricks predict``
(issue 17.4: they moved out of the command line, and the image resize is Pillow's)."""

import sys

import numpy as np
import pytest

from bricks.data.files import (
    DataFileError,
    is_data_file,
    read_digit_image,
    read_samples,
    read_table,
)

Image = pytest.importorskip("PIL.Image")


def _area_average(img, shape):
    """The pure-NumPy resize the command line used before Pillow's box filter."""
    h, w = shape
    rows = (np.arange(h + 1) * img.shape[0] / h).astype(int)
    cols = (np.arange(w + 1) * img.shape[1] / w).astype(int)
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = img[rows[i]:max(rows[i + 1], rows[i] + 1),
                            cols[j]:max(cols[j + 1], cols[j] + 1)].mean()
    return out


def test_digit_image_is_shrunk_by_area_averaging_and_inverted(tmp_path):
    rng = np.random.default_rng(0)
    ink = rng.random((56, 84))  # light paper (mean > 0.5 after inverting below)
    paper = (255 * (1.0 - 0.3 * ink)).round().astype(np.uint8)
    path = tmp_path / "digit.png"
    Image.fromarray(paper, mode="L").save(path)
    got = read_digit_image(str(path), (28, 28))
    assert got.shape == (1, 28, 28) and got.dtype == np.float32
    # an integer factor (2 x 3): Pillow's box filter is exactly the mean of each block
    want = 1.0 - _area_average(paper / 255.0, (28, 28))
    np.testing.assert_allclose(got[0], want, atol=1e-6)


def test_sixteen_bit_image_keeps_its_precision(tmp_path):
    ramp = np.linspace(0, 65535, 8 * 8).reshape(8, 8).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    got = read_digit_image(str(path), (4, 4))[0]
    want = _area_average(ramp / 65535.0, (4, 4))
    want = 1.0 - want if want.mean() > 0.5 else want
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_growing_repeats_pixels(tmp_path):
    small = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    path = tmp_path / "small.png"
    Image.fromarray(small, mode="L").save(path)
    got = read_digit_image(str(path), (4, 4))[0]
    np.testing.assert_array_equal(got, np.kron(small / 255.0, np.ones((2, 2))))


def test_pixel_limit_is_checked_from_the_header(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((10, 100), dtype=np.uint8)).save(path)
    monkeypatch.setenv("BRICKS_MAX_PIXELS", "999")
    with pytest.raises(DataFileError, match="100x10 image has 1,000 pixels.*BRICKS_MAX_PIXELS"):
        read_digit_image(str(path), (28, 28))


def test_without_pillow_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install 'bricks\[all\]'") as info:
        read_digit_image(str(tmp_path / "x.png"), (28, 28))
    assert info.value.name == "PIL"


def test_tables_and_samples(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
    X, y, classes = read_table(str(csv), "label")
    assert X.tolist() == [[1, 2], [3, 4], [5, 6]] and classes == ["cat", "dog"]
    assert [classes[i] for i in y] == ["cat", "dog", "cat"]
    npy = tmp_path / "x.npy"
    np.save(npy, np.ones((3, 2)))
    assert read_samples(str(npy), [2]).shape == (3, 2)
    np.save(npy, np.ones(2))  # one sample
    assert read_samples(str(npy), [2]).shape == (1, 2)
    with pytest.raises(DataFileError, match="expects 3"):
        read_samples(str(npy), [3])
    with pytest.raises(DataFileError, match="must be .csv or .npz"):
        read_table(str(npy))
    assert is_data_file("t.csv") and not is_data_file("moons")
