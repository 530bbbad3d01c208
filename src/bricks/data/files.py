"""Data files as ``bricks train --data FILE`` and ``bricks predict RUN FILE`` read them.

    read_table(path, target)            a .csv or .npz file -> (X, y_raw, text classes)
    read_samples(path, sample_shape)    a .npy, .csv or image file -> inputs (N, ...)
    read_digit_image(path, shape)       one image -> a grey (1, H, W) digit, MNIST-like

Every reader goes through :mod:`bricks.io`'s guards: pipes, devices and oversized files are
refused (:func:`bricks.io.open_regular`), ``.npy``/``.npz`` arrays are size-checked before
they are expanded and never unpickled, and an image's pixel count is checked against
``BRICKS_MAX_PIXELS`` from its header, before anything is decoded.  Images need Pillow (the
``bricks[all]`` extra); without it the error says how to install it.
"""

from __future__ import annotations

import math
import os
import warnings

from bricks.backend import xp

__all__ = ["DataFileError", "IMAGE_SUFFIXES", "is_data_file", "read_table", "read_samples",
           "read_digit_image"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and what is wrong."""


def is_data_file(spec: str) -> bool:
    """Whether ``--data SPEC`` names a file (rather than a bundled dataset)."""
    return spec.lower().endswith((".csv", ".npz", ".npy")) or os.sep in spec or (
        os.path.exists(spec) and not os.path.isdir(spec))


def read_table(path: str, target=None):
    """``(X, y_raw, classes)`` from a CSV or NPZ file: features as float32, the target
    column (CSV: name or index, default the last) or key (NPZ: default ``y``), and the
    class names when a CSV target holds text (``y_raw`` then indexes them), else None.

    Raises:
        DataFileError: no such file, or not a .csv/.npz file.
        bricks.data.tabular.TableError, bricks.io.CheckpointError: a malformed file.
    """
    from bricks.data.tabular import read_csv, read_npz_xy

    if not os.path.exists(path):
        raise DataFileError(f"file not found: {path}")
    if path.lower().endswith(".npz"):
        X, y = read_npz_xy(path, target)
        return X.astype(xp.float32), y, None
    if not path.lower().endswith(".csv"):
        raise DataFileError(f"--data file must be .csv or .npz, got {path}")
    X, y, classes, _ = read_csv(path, target)
    return X, y, classes


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading images needs the optional package pillow: pip install "
                          "'bricks[all]' (or pip install pillow)", name="PIL") from None
    return Image


def read_digit_image(path, shape):
    """One image file as a grey digit like MNIST's: float32 ``(1, H, W)`` in [0, 1], light
    ink on dark (dark-on-light images are inverted), resized to ``shape`` = (H, W) by area
    averaging (Pillow's box filter: each pixel the mean of the pixels it covers).

    8- and 16-bit, grey, RGB(A) and palette images are read; colours are averaged to grey.

    Raises:
        DataFileError: not a readable image, or more pixels than ``BRICKS_MAX_PIXELS``.
        ImportError: Pillow is not installed.
    """
    from bricks.io import limit, open_regular

    Image = _pillow()
    max_pixels = limit("BRICKS_MAX_PIXELS")
    with open_regular(path, what="image") as f:
        try:
            with warnings.catch_warnings():  # Pillow's bomb warning: our own limit speaks
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(f)
            with im:
                # The size comes from the header; nothing is decoded until the check passes.
                if im.width * im.height > max_pixels:
                    raise DataFileError(f"{path}: a {im.width}x{im.height} image has "
                                        f"{im.width * im.height:,} pixels, over the limit "
                                        f"BRICKS_MAX_PIXELS={max_pixels:,} (raise it in the "
                                        f"environment if you mean it)")
                mode = im.mode
                if mode not in ("L", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
                    im, mode = im.convert("RGBA"), "RGBA"
                img = xp.asarray(im, dtype=xp.float64)
        except DataFileError:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            raise DataFileError(f"cannot read image {path}: {err}") from None
    if mode.startswith("I;16"):
        img = img / 65535.0
    elif mode in ("I", "F"):
        img = img / max(float(img.max()), 1.0)
    else:
        img = img / 255.0
    if img.ndim == 3:
        img = img[..., :3].mean(axis=-1) if img.shape[-1] >= 3 else img[..., 0]
    if img.ndim != 2:
        raise DataFileError(f"{path}: not a 2-D image (shape {img.shape})")
    h, w = shape
    # Resized as 32-bit floats ('F'), so 16-bit images keep their precision.
    grey = Image.fromarray(xp.ascontiguousarray(img, dtype=xp.float32), mode="F")
    img = xp.asarray(grey.resize((w, h), Image.BOX), dtype=xp.float64)
    if img.mean() > 0.5:  # dark ink on light paper: invert to MNIST's white on black
        img = 1.0 - img
    return img.astype(xp.float32)[None]


def read_samples(path: str, sample_shape, image: bool = False, image_source=None):
    """Inputs for a model that takes samples of ``sample_shape``: from a ``.npy`` array
    (one sample or a batch), a ``.csv`` table of numbers (no target), or one image file.

    Args:
        path: the file.
        sample_shape: the shape of one sample, e.g. ``[28, 28]`` or ``[2]``.
        image: whether the model was trained on images (only then is an image file read,
            as a digit: :func:`read_digit_image`).
        image_source: ``{'image_mode': 'RGB' or 'L', 'image_size': [H, W]}`` for a model
            trained on an image folder: the file is decoded exactly as the folder was.

    Returns:
        float32 inputs (N, ...), N >= 1; one feature per sample gives (N, 1).

    Raises:
        DataFileError: no such file, an unknown kind of file, non-numeric or non-finite
            values, or samples of another size than ``sample_shape``.
    """
    sample_shape = list(sample_shape)
    if not os.path.exists(path):
        raise DataFileError(f"file not found: {path}")
    low = path.lower()
    if low.endswith(".npy"):
        from bricks.io import read_npy

        X = read_npy(path)
        if X.dtype.kind not in "fiub":
            raise DataFileError(f"{path}: expected numbers, got dtype {X.dtype}")
        X = X.astype(xp.float32)
        if X.ndim == len(sample_shape) and list(X.shape) == sample_shape:
            X = X[None]  # one sample
        if X.ndim == 1 and sample_shape != [1]:
            X = X[None]
    elif low.endswith(".csv"):
        from bricks.data.tabular import read_csv

        X = read_csv(path, has_target=False)[0]
    elif low.endswith(IMAGE_SUFFIXES) and image_source is not None:
        from bricks.data.image_folder import load_image

        mode = image_source["image_mode"]
        X = load_image(path, mode, tuple(image_source["image_size"]))
        X = X[None, 0] if mode == "L" else X[None]
    elif low.endswith(IMAGE_SUFFIXES):
        if not image:
            raise DataFileError(f"{path} is an image, but this model takes samples of shape "
                                f"{tuple(sample_shape)}")
        X = read_digit_image(path, sample_shape)
    else:
        raise DataFileError(f"INPUT must be a .npy, .csv or image file, got {path}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    check_sample_shape(X, sample_shape, path)
    if not xp.all(xp.isfinite(X)):
        raise DataFileError(f"{path}: the inputs hold NaN or infinite values")
    return X


def check_sample_shape(X, sample_shape, where) -> None:
    """Refuse inputs whose samples have another number of values than ``sample_shape``."""
    want, got = math.prod(sample_shape), math.prod(X.shape[1:])
    if got != want:
        raise DataFileError(f"{where}: samples have {got} features ({tuple(X.shape[1:])}); "
                            f"the model expects {want} ({tuple(sample_shape)})")
