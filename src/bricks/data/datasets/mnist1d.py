"""MNIST-1D (Greydanus & Kobak, 2020): 1-D signals of the ten digits, generated offline.

Each example is one of ten hand-made 12-point templates, padded with 36..60 zeros,
stretched to 72 points, scaled, translated (circularly), filled where it is zero with
correlated noise (Gaussian-filtered), given i.i.d. noise, sheared, and resampled to 40
points. The defaults (5,000 examples, 80/20 split, seed 42) give the standard dataset:
4,000 training and 1,000 test signals of length 40, ten classes of equal size overall.

When the ``mnist1d`` package (Apache-2.0) is installed, :func:`load_mnist1d` calls its
``make_dataset``; otherwise :func:`make_mnist1d`, a port of that generator in plain NumPy
(templates, transforms and the order of random draws taken from mnist1d 0.0.2), produces
the same numbers: it uses the package's legacy ``RandomState`` seeding (``np.random.seed``)
rather than ``default_rng``, since reproducing the published dataset is the point.
"""

from __future__ import annotations

from bricks.backend import xp

__all__ = ["load_mnist1d", "make_mnist1d", "MNIST1D_DEFAULTS"]

MNIST1D_DEFAULTS = {
    "num_samples": 5000,
    "train_split": 0.8,
    "template_len": 12,
    "padding": (36, 60),
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "shuffle_seq": False,
    "final_seq_length": 40,
    "seed": 42,
}
"""The arguments of mnist1d's ``get_dataset_args()`` (less its download URL)."""

_TEMPLATES = (
    (5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5),
    (5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5),
    (5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5),
    (5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5),
    (5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5),
    (5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5),
    (5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5),
    (5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5),
)


def _templates():
    x = xp.array(_TEMPLATES, dtype=xp.float64)
    x -= x.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]  # each signal starts and ends at 0
    return x / 6.0, xp.linspace(-5, 5, x.shape[1]) / 6.0


def _interpolate(x, n):
    # scipy's interp1d(kind='linear') on 1-D float64 data delegates to np.interp.
    return xp.interp(xp.linspace(0, 1, n), xp.linspace(0, 1, len(x)), x)


def _gaussian_filter(x, sigma=2.0, truncate=4.0):
    """scipy.ndimage.gaussian_filter on a 1-D signal, mode 'reflect', bit for bit.

    The kernel is scipy's; the sums follow its C loop for symmetric kernels
    (``out = x[i] w0 + sum_{j=r..1} (x[i-j] + x[i+j]) w_j``), so rounding matches too.
    """
    radius = int(truncate * sigma + 0.5)
    k = xp.arange(-radius, radius + 1)
    w = xp.exp(-0.5 / (sigma * sigma) * k**2)
    w = w / w.sum()
    padded = xp.pad(x, radius, mode="symmetric")  # scipy's 'reflect': d c b a | a b c d
    n = len(x)
    out = padded[radius : radius + n] * w[radius]
    for j in range(radius, 0, -1):
        left = padded[radius - j : radius - j + n]
        right = padded[radius + j : radius + j + n]
        out = out + (left + right) * w[radius + j]
    return out


def _transform(x, rs, a, eps=1e-8):
    low, high = a["padding"]
    p = low + int(rs.rand() * (high - low + 1))
    new_x = xp.concatenate([x + eps, xp.zeros(p)])
    new_x = _interpolate(new_x, a["template_len"] + high)
    new_x *= 1 + a["scale_coeff"] * (rs.rand() - 0.5)
    k = rs.choice(a["max_translation"])
    new_x = xp.concatenate([new_x[-k:], new_x[:-k]])
    mask = new_x != 0
    corr = _gaussian_filter(a["corr_noise_scale"] * rs.randn(*new_x.shape))
    new_x = mask * new_x + (1 - mask) * corr
    new_x = new_x + a["iid_noise_scale"] * rs.randn(*new_x.shape)
    coeff = a["shear_scale"] * (rs.rand() - 0.5)
    new_x = new_x - coeff * xp.linspace(-0.5, 0.5, len(new_x))
    return _interpolate(new_x, a["final_seq_length"])


def make_mnist1d(**overrides):
    """Generate MNIST-1D with NumPy alone, exactly as ``mnist1d.make_dataset`` does.

    Args:
        **overrides: any key of :data:`MNIST1D_DEFAULTS` (``num_samples``, ``seed``, ...).

    Returns:
        A dict with ``x`` float64 (n_train, length), ``y`` int64 (n_train,), ``x_test``,
        ``y_test``, and ``t`` (the resampled, rescaled time axis), as the package returns.
        The whole set is standardized to mean 0 and standard deviation 1.

    Example:
        >>> from bricks.data import datasets
        >>> d = datasets.make_mnist1d(num_samples=100)
        >>> d["x"].shape, d["x_test"].shape, sorted(set(d["y"].tolist()))[:3]
        ((80, 40), (20, 40), [0, 1, 2])
    """
    unknown = set(overrides) - set(MNIST1D_DEFAULTS)
    if unknown:
        raise TypeError(f"make_mnist1d() got unknown arguments {sorted(unknown)}")
    a = {**MNIST1D_DEFAULTS, **overrides}
    templates, t = _templates()
    rs = xp.random.RandomState(a["seed"])
    per_class = a["num_samples"] // len(templates)
    xs, ys = [], []
    for label in range(len(templates)):
        for _ in range(per_class):
            xs.append(_transform(templates[label], rs, a))
            ys.append(label)
    new_t = _interpolate(t, a["template_len"] + a["padding"][1])
    new_t = _interpolate(new_t, a["final_seq_length"])
    order = rs.permutation(len(ys))
    xs = xp.stack(xs)[order]
    ys = xp.array(ys, dtype=xp.int64)[order]
    if a["shuffle_seq"]:
        xs = xs[..., rs.permutation(a["final_seq_length"])]
    new_t = new_t / xs.std()
    xs = (xs - xs.mean()) / xs.std()
    split = int(len(ys) * a["train_split"])
    return {
        "x": xs[:split], "y": ys[:split], "x_test": xs[split:], "y_test": ys[split:], "t": new_t
    }


def _package_make_dataset():
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:  # also when one of its own imports (requests, matplotlib) is missing
        return None
    return lambda: make_dataset(get_dataset_args())


_cache: dict[str, dict] = {}


def load_mnist1d(split: str | None = None, use_package: bool | None = None):
    """The standard MNIST-1D: 4,000 train and 1,000 test signals of length 40, 10 classes.

    Generated offline (about a second, then cached in the process) with mnist1d's default
    arguments and seed 42: by the ``mnist1d`` package when it is installed, else by
    :func:`make_mnist1d`, which gives the same numbers.

    Args:
        split: ``'train'`` (4,000), ``'test'`` (1,000) or None (all 5,000, train first).
        use_package: True to require the ``mnist1d`` package, False to use the built-in
            generator, None (default) for the package when importable.

    Returns:
        ``(X, y)``: X float32 of shape (N, 40), standardized over the whole set; y int64
        of shape (N,) with values 0..9.

    Example:
        >>> from bricks.data import datasets
        >>> X, y = datasets.load_mnist1d("test")
        >>> X.shape, X.dtype, y.dtype
        ((1000, 40), dtype('float32'), dtype('int64'))
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    generate, source = make_mnist1d, "bricks"
    if use_package is not False:
        package = _package_make_dataset()
        if package is not None:
            generate, source = package, "mnist1d"
        elif use_package:
            raise ImportError(
                "load_mnist1d(use_package=True) needs the mnist1d package: pip install mnist1d"
            )
    if source not in _cache:
        data = generate()
        _cache[source] = {k: data[k] for k in ("x", "y", "x_test", "y_test")}
    d = _cache[source]
    if split == "train":
        X, y = d["x"], d["y"]
    elif split == "test":
        X, y = d["x_test"], d["y_test"]
    else:
        X, y = xp.concatenate([d["x"], d["x_test"]]), xp.concatenate([d["y"], d["y_test"]])
    return xp.asarray(X, dtype=xp.float32).copy(), xp.asarray(y, dtype=xp.int64).copy()
