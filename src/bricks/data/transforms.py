"""Transforms: callables that turn a sample, or a whole batch, into what the model eats.

Deterministic ones (``Compose``, ``Normalize``, ``Flatten``, ``OneHot``) and the seeded image
augmentations of the lectures (``RandomShift``, ``RandomRotation``, ``GaussianNoise``,
``RandomHorizontalFlip``).  Each works on a NumPy array or a Tensor and gives back the same
kind (a Tensor without a graph: transforms prepare data, they are not differentiated).

Images are (H, W) or (C, H, W) for one image and (N, H, W) or (N, C, H, W) for a batch.  A
3-D input is ambiguous, so, as in torchvision, it counts as one (C, H, W) image unless the
call says ``batched=True`` (the ``DataLoader`` does, for the batches it builds); a 4-D input
is always a batch.  On a batch the random augmentations draw independent parameters per
image, all at once: no Python loop over images.

Randomness comes from ``generator``: a numpy Generator, an int seed (a generator made once,
so successive calls differ and a rebuilt transform repeats them), or ``None`` for the global
generator seeded by ``bricks.manual_seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bricks import backend
from bricks.backend import xp
from bricks.data.dataset import _generator
from bricks.tensor import Tensor, const

__all__ = ["Transform", "Compose", "Normalize", "Flatten", "OneHot", "RandomShift",
           "RandomRotation", "GaussianNoise", "RandomHorizontalFlip", "RandomCrop"]


class Transform:
    """Base class: subclasses implement ``_apply(array, batched) -> array``.

    ``transform(x, batched=None)`` accepts an array or a Tensor and returns the same kind.
    """

    def __call__(self, x, batched: bool | None = None):
        if isinstance(x, Tensor):
            return const(self._apply(x.data, batched))
        if isinstance(x, backend.ndarray) or backend.get_array_module(x) is not xp:
            return self._apply(x, batched)
        return self._apply(xp.asarray(x), batched)

    def _apply(self, x, batched):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _RandomTransform(Transform):
    def __init__(self, generator=None):
        self.generator = None if generator is None else _generator(generator)

    def _rng(self):
        # Looked up per call, so bricks.manual_seed after construction still takes effect.
        return self.generator if self.generator is not None else backend.default_generator()


def _float(x):
    """``x`` in a floating dtype (integers and bools become the default float dtype)."""
    return x if x.dtype.kind == "f" else x.astype(backend.get_default_dtype())


def _as_images(x, batched, name: str):
    """View ``x`` as (N, C, H, W); return that view and the original shape."""
    if batched is None:
        batched = x.ndim == 4
    if batched and x.ndim in (3, 4):
        n, c = x.shape[0], (x.shape[1] if x.ndim == 4 else 1)
    elif not batched and x.ndim in (2, 3):
        n, c = 1, (x.shape[0] if x.ndim == 3 else 1)
    else:
        expected = "(N, H, W) or (N, C, H, W)" if batched else "(H, W) or (C, H, W)"
        raise ValueError(f"{name}: expected {'a batch of images' if batched else 'an image'} "
                         f"of shape {expected}, got shape {tuple(x.shape)}"
                         + ("; reshape flat vectors to images first" if x.ndim < 3 else ""))
    return x.reshape(n, c, x.shape[-2], x.shape[-1]), x.shape


class Compose(Transform):
    """Apply transforms one after the other: ``Compose([f, g])(x) = g(f(x))``.

    Args:
        transforms: a list of callables; bricks transforms are passed ``batched`` along.

    Example:
        >>> t = bricks.data.transforms.Compose([bricks.data.transforms.Normalize(0.5, 0.5),
        ...                                     bricks.data.transforms.Flatten()])
        >>> t(np.ones((2, 2))).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, transforms):
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} is not callable "
                                f"({type(t).__name__})")
        self.transforms = transforms

    def __call__(self, x, batched: bool | None = None):
        for t in self.transforms:
            x = t(x, batched=batched) if isinstance(t, Transform) else t(x)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Normalize(Transform):
    """Standardize with fixed statistics: ``out = (x - mean) / std``.

    A scalar mean/std applies to every element; sequences of length C apply per channel,
    along the channel axis of (C, H, W) images and (N, C, H, W) batches (dimension -3), as
    torchvision's ``Normalize``.  Integer inputs are converted to the default float dtype.

    Args:
        mean: float or sequence of C floats.
        std: float or sequence of C floats, all > 0.

    Example:
        >>> bricks.data.transforms.Normalize(0.5, 0.25)(np.array([0.0, 0.5, 1.0]))
        array([-2.,  0.,  2.])
    """

    def __init__(self, mean, std):
        self.mean = xp.asarray(mean, dtype=xp.float64)
        self.std = xp.asarray(std, dtype=xp.float64)
        for what, v in (("mean", self.mean), ("std", self.std)):
            if v.ndim > 1:
                raise ValueError(f"Normalize: {what} must be a number or a 1-D sequence, "
                                 f"got shape {v.shape}")
        if (self.std <= 0).any() or not xp.isfinite(self.std).all():
            raise ValueError(f"Normalize: std must be positive and finite, got "
                             f"{self.std.tolist()}")
        if self.mean.ndim == self.std.ndim == 1 and self.mean.size != self.std.size:
            raise ValueError(f"Normalize: mean has {self.mean.size} values but std has "
                             f"{self.std.size}")

    def _apply(self, x, batched):
        x = _float(x)
        mean, std = self.mean, self.std
        c = max(mean.size if mean.ndim else 1, std.size if std.ndim else 1)
        if mean.ndim or std.ndim:
            if x.ndim < 3 or x.shape[-3] != c:
                raise ValueError(f"Normalize: {c} per-channel values need images with C={c} "
                                 f"channels at dimension -3, got shape {tuple(x.shape)}")
            mean = mean.reshape(-1, 1, 1) if mean.ndim else mean
            std = std.reshape(-1, 1, 1) if std.ndim else std
        return ((x - mean.astype(x.dtype)) / std.astype(x.dtype)).astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten(Transform):
    """Flatten a sample to a vector, or each sample of a batch: (N, ...) -> (N, D).

    With ``batched=None`` a 4-D input counts as a batch, anything else as one sample.

    Example:
        >>> bricks.data.transforms.Flatten()(np.zeros((1, 28, 28))).shape
        (784,)
        >>> bricks.data.transforms.Flatten()(np.zeros((5, 28, 28)), batched=True).shape
        (5, 784)
    """

    def _apply(self, x, batched):
        if batched is None:
            batched = x.ndim == 4
        if batched:
            if x.ndim == 0:
                raise ValueError("Flatten: a batch needs a first (sample) dimension")
            return x.reshape(x.shape[0], -1)
        return x.reshape(-1)


class OneHot(Transform):
    """Class indices to one-hot rows: ``out[..., k] = 1 if x == k else 0``.

    Args:
        num_classes: K, the number of classes (indices must lie in [0, K)).
        dtype: of the output (default: the default float dtype, ready for MSE targets).

    Shapes: integer labels of any shape S give S + (K,).

    Example:
        >>> bricks.data.transforms.OneHot(3)(np.array([2, 0]))
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_classes: int, dtype=None):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, xp.integer)) or (
                num_classes < 1):
            raise ValueError(f"OneHot: num_classes must be a positive int, got "
                             f"{num_classes!r}")
        self.num_classes = int(num_classes)
        self.dtype = backend.as_dtype(dtype)

    def _apply(self, x, batched):
        if x.dtype.kind not in "iu":
            if x.dtype.kind == "f" and x.size and (x == xp.round(x)).all():
                x = x.astype(backend.int64)
            else:
                raise TypeError(f"OneHot: expected integer class indices, got {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_classes):
            bad = x.min() if x.min() < 0 else x.max()
            raise ValueError(f"OneHot: class index {int(bad)} is out of range for "
                             f"num_classes={self.num_classes}")
        mod = backend.get_array_module(x)
        dtype = self.dtype or backend.get_default_dtype()
        return (x[..., None] == mod.arange(self.num_classes)).astype(dtype)

    def __repr__(self) -> str:
        return f"OneHot(num_classes={self.num_classes})"


def _pair(value, name: str, what: str):
    if isinstance(value, (Sequence, xp.ndarray)) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name}: {what} must be a number or a pair, got {value!r}")
        return value[0], value[1]
    return value, value


class RandomShift(_RandomTransform):
    """Translate each image by a random whole number of pixels; vacated pixels get ``fill``.

    ``out[y, x] = in[y - dy, x - dx]`` with dy, dx drawn uniformly from the integers in
    [-max_shift, max_shift] (one pair per image); positive dx moves the content right,
    positive dy moves it down.

    Args:
        max_shift: int, or (max_dy, max_dx), in pixels, >= 0.
        fill: value of the pixels shifted in.
        generator: numpy Generator, int seed, or None for the global generator.

    Shapes: (H, W), (C, H, W), or a batch (N, H, W) / (N, C, H, W); the output has the
    input's shape.

    Example:
        >>> img = np.zeros((5, 5)); img[2, 2] = 1.0
        >>> out = bricks.data.transforms.RandomShift(1, generator=0)(img)
        >>> out.shape, float(out.sum())
        ((5, 5), 1.0)
    """

    def __init__(self, max_shift, fill: float = 0.0, generator=None):
        super().__init__(generator)
        my, mx = _pair(max_shift, "RandomShift", "max_shift")
        for m in (my, mx):
            if isinstance(m, bool) or not isinstance(m, (int, xp.integer)) or m < 0:
                raise ValueError(f"RandomShift: max_shift must be non-negative int pixels, "
                                 f"got {max_shift!r}")
        self.max_shift = (int(my), int(mx))
        self.fill = fill

    def _apply(self, x, batched):
        imgs, shape = _as_images(x, batched, "RandomShift")
        n, c, h, w = imgs.shape
        my, mx = self.max_shift
        rng = self._rng()
        dy = rng.integers(-my, my + 1, size=n)
        dx = rng.integers(-mx, mx + 1, size=n)
        mod = backend.get_array_module(imgs)
        padded = mod.pad(imgs, ((0, 0), (0, 0), (my, my), (mx, mx)), constant_values=self.fill)
        # out[y] = in[y - dy] = padded[y - dy + my]: one gather for the whole batch.
        rows = (my - dy)[:, None] + mod.arange(h)
        cols = (mx - dx)[:, None] + mod.arange(w)
        out = padded[mod.arange(n)[:, None, None, None], mod.arange(c)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
        return out.reshape(shape)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill})"


class RandomRotation(_RandomTransform):
    """Rotate each image about its center by a random angle (counter-clockwise, in degrees).

    Inverse mapping: output pixel p = (y, x) reads the input at
    ``c + [[cos a, sin a], [-sin a, cos a]] (p - c)``, with c = ((H-1)/2, (W-1)/2) and a the
    angle drawn uniformly from [-degrees, degrees] per image, interpolated bilinearly (or
    nearest); points outside the image read ``fill``.  A 90 degree rotation of a square
    image is ``np.rot90``.  Pure NumPy, vectorized over the batch.

    Args:
        degrees: d >= 0 for the range [-d, d], or a (min, max) pair.
        interpolation: ``'bilinear'`` or ``'nearest'``.
        fill: value of the pixels coming from outside the image.
        generator: numpy Generator, int seed, or None for the global generator.

    Shapes: (H, W), (C, H, W), or a batch (N, H, W) / (N, C, H, W); the output has the
    input's shape (integer images are rounded back to their dtype).

    Example:
        >>> img = np.arange(9.0).reshape(3, 3)
        >>> rot = bricks.data.transforms.RandomRotation((90, 90))
        >>> bool((rot(img) == np.rot90(img)).all())
        True
    """

    def __init__(self, degrees, interpolation: str = "bilinear", fill: float = 0.0,
                 generator=None):
        super().__init__(generator)
        if isinstance(degrees, (Sequence, xp.ndarray)) and not isinstance(degrees, str):
            lo, hi = _pair(degrees, "RandomRotation", "degrees")
        else:
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0 when a single "
                                 f"number, got {degrees}")
            lo, hi = -degrees, degrees
        if lo > hi:
            raise ValueError(f"RandomRotation: degrees range ({lo}, {hi}) has min > max")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"RandomRotation: interpolation must be 'bilinear' or 'nearest', "
                             f"got {interpolation!r}")
        self.degrees = (float(lo), float(hi))
        self.interpolation = interpolation
        self.fill = fill

    def _apply(self, x, batched):
        imgs, shape = _as_images(x, batched, "RandomRotation")
        n, c, h, w = imgs.shape
        mod = backend.get_array_module(imgs)
        angle = self._rng().uniform(self.degrees[0], self.degrees[1], size=n) * (math.pi / 180)
        cos, sin = mod.cos(angle), mod.sin(angle)
        # cos(90 deg) is 6e-17, not 0: zero such crumbs so that multiples of 90 degrees (and
        # 0) land exactly on the grid and copy pixels exactly.
        cos = mod.where(mod.abs(cos) < 1e-12, 0.0, cos)[:, None, None]
        sin = mod.where(mod.abs(sin) < 1e-12, 0.0, sin)[:, None, None]
        # float32 coordinates for float32 images: half the memory traffic, and an error of
        # ~1e-6 pixel, far below what bilinear interpolation resolves.
        cdt = mod.float32 if imgs.dtype == mod.float32 else mod.float64
        cos, sin = cos.astype(cdt), sin.astype(cdt)
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy = (mod.arange(h, dtype=cdt) - cdt(cy))[:, None]
        xx = (mod.arange(w, dtype=cdt) - cdt(cx))[None, :]
        # +2: coordinates in the image padded by two rings of `fill`, so that a corner and
        # its right/lower neighbours are always inside the padded array.
        ys = cos * yy + sin * xx + cdt(cy + 2)
        xs = -sin * yy + cos * xx + cdt(cx + 2)
        src = imgs.astype(mod.float64) if imgs.dtype.kind != "f" else imgs
        padded = mod.pad(src, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=self.fill)
        wp = w + 4
        # Flat indices of every pixel of every image: one `take` per corner for the batch.
        # Clipping sends points far outside the image into the padding, where they read fill.
        base = (mod.arange(n * c) * ((h + 4) * wp)).reshape(n, c, 1, 1)
        flat = padded.reshape(-1)
        if self.interpolation == "nearest":
            idx = (mod.clip(mod.rint(ys), 0, h + 3).astype(mod.intp) * wp
                   + mod.clip(mod.rint(xs), 0, w + 3).astype(mod.intp))[:, None] + base
            out = flat.take(idx)
        else:
            y0, x0 = mod.floor(ys), mod.floor(xs)
            wy = (ys - y0)[:, None].astype(src.dtype)
            wx = (xs - x0)[:, None].astype(src.dtype)
            idx = (mod.clip(y0, 0, h + 2).astype(mod.intp) * wp
                   + mod.clip(x0, 0, w + 2).astype(mod.intp))[:, None] + base
            top = flat.take(idx) * (1 - wx) + flat.take(idx + 1) * wx
            bottom = flat.take(idx + wp) * (1 - wx) + flat.take(idx + wp + 1) * wx
            out = top * (1 - wy) + bottom * wy
        if x.dtype.kind != "f":
            out = mod.rint(out)
        return out.astype(x.dtype, copy=False).reshape(shape)

    def __repr__(self) -> str:
        return (f"RandomRotation(degrees={self.degrees}, interpolation="
                f"'{self.interpolation}', fill={self.fill})")


class GaussianNoise(_RandomTransform):
    """Add independent Gaussian noise to every element: ``out = x + mean + std * z``, z ~ N(0, 1).

    Args:
        std: standard deviation of the noise, >= 0.
        mean: its mean (default 0).
        generator: numpy Generator, int seed, or None for the global generator.

    Shapes: any; integer inputs become the default float dtype, floats keep theirs.

    Example:
        >>> out = bricks.data.transforms.GaussianNoise(0.1, generator=0)(np.zeros((2, 3)))
        >>> out.shape, out.dtype
        ((2, 3), dtype('float64'))
    """

    def __init__(self, std: float, mean: float = 0.0, generator=None):
        super().__init__(generator)
        if not (std >= 0) or not math.isfinite(std):
            raise ValueError(f"GaussianNoise: std must be a finite number >= 0, got {std!r}")
        self.std = float(std)
        self.mean = float(mean)

    def _apply(self, x, batched):
        x = _float(x)
        dtype = x.dtype if x.dtype in (backend.float32, backend.float64) else backend.float64
        z = self._rng().standard_normal(x.shape, dtype=dtype)
        if backend.get_array_module(x) is not xp:  # pragma: no cover - GPU only
            z = backend.get_array_module(x).asarray(z)
        return (x + (self.mean + self.std * z).astype(x.dtype)).astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, mean={self.mean})"


class RandomHorizontalFlip(_RandomTransform):
    """Mirror each image left to right (``out[..., x] = in[..., W - 1 - x]``) with probability p.

    Args:
        p: probability of flipping each image, in [0, 1].
        generator: numpy Generator, int seed, or None for the global generator.

    Shapes: (H, W), (C, H, W), or a batch (N, H, W) / (N, C, H, W); one coin per image.

    Example:
        >>> img = np.array([[1, 2, 3]])
        >>> bricks.data.transforms.RandomHorizontalFlip(p=1.0)(img)
        array([[3, 2, 1]])
    """

    def __init__(self, p: float = 0.5, generator=None):
        super().__init__(generator)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def _apply(self, x, batched):
        imgs, shape = _as_images(x, batched, "RandomHorizontalFlip")
        mod = backend.get_array_module(imgs)
        flip = mod.asarray(self._rng().random(imgs.shape[0]) < self.p)
        out = mod.where(flip[:, None, None, None], imgs[..., ::-1], imgs)
        return out.reshape(shape)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop(_RandomTransform):
    """Cut a random (height, width) window out of each image, after optional zero padding.

    torchvision's ``RandomCrop(size, padding)``: the image is padded by ``padding`` pixels
    of ``fill`` on every side, then a window of ``size`` at a uniformly random position
    (one per image) is kept.  With ``size`` equal to the image size and ``padding=p`` it
    shifts the content by up to p pixels; with a smaller ``size`` it zooms in on a part.

    Args:
        size: int (square) or (height, width) of the output.
        padding: pixels of ``fill`` added on each side first (>= 0).
        fill: value of the padding.
        generator: numpy Generator, int seed, or None for the global generator.

    Shapes: (H, W), (C, H, W), or a batch (N, H, W) / (N, C, H, W) -> the same with the last
    two dimensions replaced by ``size``.

    Example:
        >>> img = np.arange(16.0).reshape(4, 4)
        >>> out = bricks.data.transforms.RandomCrop(2, generator=0)(img)
        >>> out.shape, bool(np.isin(out, img).all())
        ((2, 2), True)
    """

    def __init__(self, size, padding: int = 0, fill: float = 0.0, generator=None):
        super().__init__(generator)
        h, w = _pair(size, "RandomCrop", "size")
        for v in (h, w):
            if isinstance(v, bool) or not isinstance(v, (int, xp.integer)) or v < 1:
                raise ValueError(f"RandomCrop: size must be positive int pixels, got {size!r}")
        if isinstance(padding, bool) or not isinstance(padding, (int, xp.integer)) or \
                padding < 0:
            raise ValueError(f"RandomCrop: padding must be an int >= 0, got {padding!r}")
        self.size, self.padding, self.fill = (int(h), int(w)), int(padding), fill

    def _apply(self, x, batched):
        imgs, shape = _as_images(x, batched, "RandomCrop")
        n, c, h, w = imgs.shape
        p = self.padding
        th, tw = self.size
        if th > h + 2 * p or tw > w + 2 * p:
            raise ValueError(f"RandomCrop: size {self.size} is larger than the padded image "
                             f"({h + 2 * p}, {w + 2 * p})")
        mod = backend.get_array_module(imgs)
        padded = mod.pad(imgs, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        rng = self._rng()
        top = rng.integers(0, h + 2 * p - th + 1, size=n)
        left = rng.integers(0, w + 2 * p - tw + 1, size=n)
        rows = top[:, None] + mod.arange(th)
        cols = left[:, None] + mod.arange(tw)
        out = padded[mod.arange(n)[:, None, None, None], mod.arange(c)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
        return out.reshape(*shape[:-2], th, tw)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, fill={self.fill})"
