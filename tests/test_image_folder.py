"""bricks.data.ImageFolder and load_image (Pillow), and the RandomCrop augmentation."""

import numpy as np
import pytest

from bricks.data import DataLoader, ImageFolder, load_image
from bricks.data import transforms as T

Image = pytest.importorskip("PIL.Image")


def _write(path, array, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("dog", "cat"):
        for i in range(3):
            _write(tmp_path / "root" / cls / f"{i}.png", rng.integers(0, 256, (6, 8, 3)), "RGB")
    return tmp_path / "root"


def test_classes_labels_shapes_and_values(folder):
    ds = ImageFolder(folder)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 6 and ds.targets == [0, 0, 0, 1, 1, 1]
    img, label = ds[4]
    assert img.shape == (3, 6, 8) and img.dtype == np.float32 and label == 1
    raw = np.asarray(Image.open(folder / "dog" / "1.png"))
    np.testing.assert_allclose(img, raw.transpose(2, 0, 1) / 255.0, atol=1e-7)
    grey = ImageFolder(folder, mode="L")[0][0]
    ref = np.asarray(Image.open(folder / "cat" / "0.png").convert("L")) / 255.0
    assert grey.shape == (1, 6, 8) and np.allclose(grey[0], ref, atol=1e-7)
    X, y = ds.to_arrays()
    assert X.shape == (6, 3, 6, 8) and y.tolist() == ds.targets
    assert ds[-1][1] == 1
    with pytest.raises(IndexError):
        ds[6]


def test_resize_crop_and_transform(folder):
    norm = T.Normalize([0.5] * 3, [0.5] * 3)
    ds = ImageFolder(folder, size=(4, 5), crop=(2, 3), transform=norm,
                     target_transform=lambda k: 10 + k)
    img, label = ds[0]
    assert img.shape == (3, 2, 3) and label == 10 and ds.image_shape == (3, 2, 3)
    assert img.min() >= -1.0 and img.max() <= 1.0
    plain = load_image(folder / "cat" / "0.png", size=(4, 5))
    np.testing.assert_allclose(img, (plain[:, 1:3, 1:4] - 0.5) / 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="larger than the image"):
        load_image(folder / "cat" / "0.png", crop=(9, 9))
    # works with the DataLoader (lazy decoding, one image at a time)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 3, 2, 3) and yb.shape == (4,)


def test_lazy_loading_and_cache(folder, monkeypatch):
    import bricks.data.image_folder as mod

    calls = []
    real = mod.load_image
    monkeypatch.setattr(mod, "load_image", lambda *a: calls.append(a[0]) or real(*a))
    ds = ImageFolder(folder, cache=True)
    assert calls == []  # construction reads headers only
    ds[0], ds[0], ds[1]
    assert len(calls) == 2
    ds.to_arrays()
    assert len(calls) == 6
    nocache = ImageFolder(folder)
    nocache[0], nocache[0]
    assert len(calls) == 8


def test_non_image_files_skip_with_warning_or_fail(folder):
    (folder / "cat" / "notes.txt").write_text("not an image")
    (folder / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.warns(UserWarning, match="skipping"):
        ds = ImageFolder(folder)
    assert len(ds) == 6 and len(ds.skipped) == 2
    assert any("notes.txt" in p for p, _ in ds.skipped)
    with pytest.raises(ValueError, match="notes.txt.*is not an image file"):
        ImageFolder(folder, on_error="raise")


def test_folder_errors(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class folders"):
        ImageFolder(tmp_path / "empty")
    (folder / "bird").mkdir()
    with pytest.raises(FileNotFoundError, match="bird.*holds no images"):
        ImageFolder(folder)
    (folder / "bird").rmdir()
    _write(folder / "cat" / "big.png", np.zeros((10, 10, 3)), "RGB")
    with pytest.raises(ValueError, match="different sizes.*size="):
        ImageFolder(folder)
    assert ImageFolder(folder, size=7)[0][0].shape == (3, 7, 7)
    with pytest.raises(ValueError, match="mode"):
        ImageFolder(folder, mode="CMYK")
    with pytest.raises(ValueError, match="on_error"):
        ImageFolder(folder, size=7, on_error="ignore")


def test_random_crop():
    img = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    out = T.RandomCrop((3, 4), generator=0)(img)
    assert out.shape == (2, 3, 4)
    # a window of the image: find its corner and compare
    found = [(t, c) for t in range(3) for c in range(3)
             if np.array_equal(out, img[:, t:t + 3, c:c + 4])]
    assert len(found) == 1
    batch = np.stack([img] * 64)
    crops = T.RandomCrop(5, padding=2, generator=1)(batch, batched=True)
    assert crops.shape == (64, 2, 5, 5)
    assert len({c.tobytes() for c in crops}) > 5  # independent positions per image
    same = T.RandomCrop((5, 6))(img)
    assert np.array_equal(same, img)  # full size, no padding: the image itself
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(9)(img)
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(2, padding=-1)
