"""ImageFolder: a folder per class of PNG/JPEG files, as in torchvision and Kaggle's data.

The layout (Dogs vs. Cats after sorting its ``train/`` files into two folders)::

    root/cat/cat.0.jpg
    root/cat/cat.1.jpg
    root/dog/dog.0.jpg
    ...

Class names are the sub-folder names in sorted order, labels their positions.  Each image is
decoded with Pillow, converted to RGB or grey (``mode``), optionally resized (``size``) and
center-cropped (``crop``), scaled to [0, 1] and laid out (C, H, W) as float32; then the
user's ``transform`` (e.g. ``Normalize``, ``RandomCrop``) runs on it.

Construction only lists the files and reads their headers (cheap): a non-image file is
skipped with a warning or is an error (``on_error``), and images of different sizes without
a ``size`` to resize them to are an error that names two of them.  Pixels are decoded
lazily, on first access; with ``cache=True`` they are kept, and :meth:`ImageFolder.to_arrays`
decodes everything at once with a progress bar.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from bricks.backend import xp
from bricks.data.dataset import Dataset

__all__ = ["ImageFolder", "load_image", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_MODES = {"RGB": 3, "L": 1}


def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("reading image files needs Pillow: pip install pillow") from None
    return Image


def _size_pair(size, name):
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"ImageFolder: {name} must be an int or a (height, width) pair, got "
                         f"{size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"ImageFolder: {name} must be positive, got {size!r}")
    return h, w


def load_image(path, mode: str = "RGB", size=None, crop=None):
    """Decode one image file into a float32 array (C, H, W) with values in [0, 1].

    Args:
        path: a PNG, JPEG, ... file.
        mode: ``'RGB'`` (3 channels) or ``'L'`` (grey, 1 channel).
        size: resize to (height, width) (or an int for a square) with bilinear filtering
            (antialiased when shrinking); None keeps the file's size.
        crop: after resizing, cut the central (height, width) (or int) region.

    Raises:
        ValueError: the file is not an image Pillow can read, or the crop is larger than
            the image; the message names the file.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
        >>> Image.new("RGB", (6, 4), (255, 0, 0)).save(path)
        >>> img = bricks.data.load_image(path, size=(2, 3))
        >>> img.shape, img.dtype, img[:, 0, 0].tolist()
        ((3, 2, 3), dtype('float32'), [1.0, 0.0, 0.0])
    """
    Image = _pil()
    if mode not in _MODES:
        raise ValueError(f"load_image: mode must be 'RGB' or 'L', got {mode!r}")
    size, crop = _size_pair(size, "size"), _size_pair(crop, "crop")
    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if size is not None and (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            a = xp.asarray(im, dtype=xp.uint8)
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot read image {os.fspath(path)!r}: {err}") from None
    if a.ndim == 2:
        a = a[:, :, None]
    if crop is not None:
        h, w = a.shape[:2]
        if crop[0] > h or crop[1] > w:
            raise ValueError(f"load_image: crop {crop} is larger than the image {(h, w)} of "
                             f"{os.fspath(path)!r}")
        top, left = (h - crop[0]) // 2, (w - crop[1]) // 2
        a = a[top:top + crop[0], left:left + crop[1]]
    return xp.ascontiguousarray(a.transpose(2, 0, 1)).astype(xp.float32) / xp.float32(255)


class ImageFolder(Dataset):
    """Images in one sub-folder per class; ``dataset[i]`` is ``(image, label)``.

    Args:
        root: the folder holding one sub-folder per class.
        transform: called on each image array (C, H, W) after decoding (e.g. a
            ``bricks.data.transforms.Compose`` of ``Normalize``, ``RandomCrop``...).
        target_transform: called on each label.
        mode: ``'RGB'`` or ``'L'`` (grey).
        size: resize every image to (height, width) or an int square; needed when the
            files have different sizes.
        crop: central crop (height, width) after resizing.
        cache: keep decoded images in memory (decoding is the slow part).
        on_error: a file that is not a readable image: ``'warn'`` skips it with a warning,
            ``'raise'`` stops with an error naming it.
        extensions: the file endings that count as images (others are non-image files).
        progress: show a progress bar in :meth:`to_arrays`.

    Attributes:
        classes: sorted class names; class_to_idx: name -> label; samples: list of
        (path, label); targets: the labels.

    Raises:
        FileNotFoundError: ``root`` is missing, holds no class folders, or a class folder
            holds no images.
        ValueError: a bad file with ``on_error='raise'``, or images of different sizes
            without ``size``.

    Example:
        >>> import os, tempfile
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> for name, colour in (("cat", 0), ("dog", 255)):
        ...     os.makedirs(os.path.join(root, name))
        ...     Image.new("L", (4, 4), colour).save(os.path.join(root, name, "a.png"))
        >>> ds = bricks.data.ImageFolder(root, mode="L")
        >>> ds.classes, len(ds), ds[1][0].shape, ds[1][1]
        (['cat', 'dog'], 2, (1, 4, 4), 1)
    """

    def __init__(self, root, transform=None, target_transform=None, mode: str = "RGB",
                 size=None, crop=None, cache: bool = False, on_error: str = "warn",
                 extensions=IMAGE_EXTENSIONS, progress: bool = True):
        if mode not in _MODES:
            raise ValueError(f"ImageFolder: mode must be 'RGB' or 'L', got {mode!r}")
        if on_error not in ("warn", "raise"):
            raise ValueError(f"ImageFolder: on_error must be 'warn' or 'raise', got "
                             f"{on_error!r}")
        self.root = Path(root)
        self.transform, self.target_transform = transform, target_transform
        self.mode, self.size, self.crop = mode, _size_pair(size, "size"), _size_pair(crop,
                                                                                    "crop")
        self.cache, self.on_error, self.progress = cache, on_error, progress
        self.extensions = tuple(e.lower() for e in extensions)
        self.skipped: list[tuple[str, str]] = []
        self._cache: dict[int, object] = {}
        self._scan()

    def _bad(self, path, why):
        if self.on_error == "raise":
            raise ValueError(f"ImageFolder: {os.fspath(path)!r} {why} (on_error='warn' skips "
                             "such files)")
        self.skipped.append((os.fspath(path), why))
        warnings.warn(f"ImageFolder: skipping {os.fspath(path)!r}: {why}", stacklevel=3)

    def _scan(self):
        Image = _pil()
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {os.fspath(self.root)!r} is not a folder")
        self.classes = sorted(d.name for d in self.root.iterdir()
                              if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            raise FileNotFoundError(
                f"ImageFolder: {os.fspath(self.root)!r} holds no class folders; expected one "
                f"sub-folder per class, e.g. {os.fspath(self.root / 'cat')}/1.jpg")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples, sizes = [], {}
        for c in self.classes:
            found = 0
            for path in sorted((self.root / c).rglob("*")):
                if not path.is_file() or path.name.startswith("."):
                    continue
                if path.suffix.lower() not in self.extensions:
                    self._bad(path, f"is not an image file (extension {path.suffix!r}; "
                                    f"expected one of {', '.join(self.extensions)})")
                    continue
                try:
                    with Image.open(path) as im:
                        wh = im.size
                except (OSError, SyntaxError, ValueError) as err:
                    self._bad(path, f"cannot be read as an image ({err})")
                    continue
                self.samples.append((path, self.class_to_idx[c]))
                sizes.setdefault((wh[1], wh[0]), path)
                found += 1
            if found == 0:
                raise FileNotFoundError(f"ImageFolder: class folder "
                                        f"{os.fspath(self.root / c)!r} holds no images")
        if self.size is None and len(sizes) > 1:
            (s1, p1), (s2, p2) = list(sizes.items())[:2]
            raise ValueError(
                f"ImageFolder: the images have different sizes ({len(sizes)} sizes, e.g. "
                f"{s1[0]}x{s1[1]} {os.fspath(p1)!r} and {s2[0]}x{s2[1]} {os.fspath(p2)!r}); "
                "pass size=(height, width) to resize them (bricks train: --image-size HxW)")
        self.targets = [label for _, label in self.samples]
        first = self.size or next(iter(sizes))
        self.image_shape = (_MODES[self.mode], *(self.crop or first))

    def __len__(self) -> int:
        return len(self.samples)

    def _decoded(self, i):
        if i in self._cache:
            return self._cache[i]
        img = load_image(self.samples[i][0], self.mode, self.size, self.crop)
        if self.cache:
            self._cache[i] = img
        return img

    def __getitem__(self, index):
        i = int(index)
        if not -len(self) <= i < len(self):
            raise IndexError(f"ImageFolder: index {index} out of range for {len(self)} images")
        i %= len(self)
        img = self._decoded(i)
        if self.transform is not None:
            img = self.transform(img)
        label = self.samples[i][1]
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label

    def to_arrays(self):
        """Decode every image (without ``transform``): ``(X, y)``, X float32 of shape
        (N, C, H, W) in [0, 1], y int64; a progress bar on a terminal."""
        X = xp.empty((len(self), *self.image_shape), dtype=xp.float32)
        bar = None
        if self.progress and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(self), desc=f"decoding {self.root.name}", unit="img",
                           file=sys.stderr, leave=False)
            except ImportError:
                bar = None
        for i in range(len(self)):
            X[i] = self._decoded(i)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return X, xp.asarray(self.targets, dtype=xp.int64)

    def __repr__(self) -> str:
        return (f"ImageFolder({os.fspath(self.root)!r}, {len(self)} images, classes="
                f"{self.classes}, mode={self.mode!r}, image_shape={self.image_shape})")
