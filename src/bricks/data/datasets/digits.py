"""The 8x8 handwritten digits (UCI optical recognition, test part) bundled with scikit-learn.

scikit-learn is an optional extra (``pip install scikit-learn`` or ``pip install
bricks[all]``); its copy of the 1,797 digits ships inside the wheel, so this works offline.
"""

from __future__ import annotations

from bricks.backend import xp

__all__ = ["load_digits"]


def load_digits(scale: bool = False):
    """The 1,797 8x8 digits from scikit-learn's bundled copy, as flat feature vectors.

    Each image is 8x8 pixels with integer intensities 0..16 (counts of set pixels in 4x4
    blocks of the original 32x32 bitmaps), flattened row by row to 64 features.

    Args:
        scale: if True divide by 16, so features lie in [0, 1] (what
            ``load_dataset('digits')`` returns); by default keep the raw 0..16 values.

    Returns:
        ``(X, y)``: X float32 of shape (1797, 64), in [0, 16] (or [0, 1] when scaled);
        y int64 of shape (1797,) with digits 0..9 (about 180 of each).

    Raises:
        ImportError: when scikit-learn is not installed, saying how to install it.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.load_digits()
        >>> X.shape, X.dtype, float(X.max()), y.dtype
        ((1797, 64), dtype('float32'), 16.0, dtype('int64'))
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:
        raise ImportError(
            "load_digits() reads the copy of the digits bundled with scikit-learn, which is "
            "not installed: pip install scikit-learn (or pip install bricks[all])"
        ) from e
    bunch = _sk_load_digits()
    X = xp.asarray(bunch.data, dtype=xp.float32)
    if scale:
        X = X / xp.float32(16.0)
    return X, xp.asarray(bunch.target, dtype=xp.int64)
