"""MNIST: the bundled 10,000 real digits, IDX files from a folder, and a verified download.

* :func:`load_mnist` with no arguments returns the 10,000 MNIST digits shipped inside
  bricks (``files/mnist-10k.npz``, MIT-licensed, see ``files/LICENSE-mnist-10k.txt``); the
  file's SHA-256 is checked the first time it is read in a process.
* With ``path=FOLDER`` it reads the four standard IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
  each plain or gzipped) of MNIST or Fashion-MNIST (:func:`load_fashion_mnist`).
* :func:`read_idx` / :func:`write_idx` read and write the IDX format (LeCun's: two zero
  bytes, a dtype code, the number of dimensions, each dimension as a big-endian uint32,
  then the big-endian data). Nothing here unpickles anything.
* :func:`download_mnist` fetches the four ``.gz`` files and checks their known SHA-256.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

from bricks.backend import xp

from .download import DatasetError, download, sha256sum

__all__ = [
    "read_idx",
    "write_idx",
    "load_mnist",
    "load_fashion_mnist",
    "download_mnist",
    "MNIST_SHA256",
    "FASHION_MNIST_SHA256",
    "FASHION_MNIST_CLASSES",
    "BUNDLED_MNIST_SHA256",
]

FILES_DIR = Path(__file__).resolve().parent / "files"
BUNDLED_MNIST = FILES_DIR / "mnist-10k.npz"
BUNDLED_MNIST_SHA256 = "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"
_verified: set[str] = set()

# IDX dtype codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"), big-endian.
_IDX_DTYPES = {
    0x08: xp.dtype(">u1"),
    0x09: xp.dtype(">i1"),
    0x0B: xp.dtype(">i2"),
    0x0C: xp.dtype(">i4"),
    0x0D: xp.dtype(">f4"),
    0x0E: xp.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}

# The SHA-256 of the standard gzipped files, as TensorFlow Datasets and torchvision list them.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
_MIRRORS = {
    "mnist": (
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    "fashion": (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def read_idx(path: str | os.PathLike):
    """Read an IDX file (plain or gzipped) into a native-endian array.

    The format: bytes 0-1 are zero, byte 2 the dtype code (0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), byte 3 the number of dimensions
    ``d``; then ``d`` big-endian uint32 sizes and the data, big-endian, in C order. The file
    must hold exactly the number of bytes its header promises. Gzip is recognized by its
    magic bytes, whatever the file's name.

    Args:
        path: the file.

    Returns:
        An array of the stored shape and dtype (byte order made native).

    Raises:
        DatasetError: a missing or unreadable file, a corrupted gzip stream, a wrong magic
            number, an unknown dtype code, or a truncated / over-long file; the message
            names the file.

    Example:
        >>> import os, tempfile
        >>> from bricks.data import datasets
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = os.path.join(d, "eye-idx2-ubyte.gz")
        ...     p = datasets.write_idx(path, np.eye(2, dtype=np.uint8))
        ...     datasets.read_idx(p)
        array([[1, 0],
               [0, 1]], dtype=uint8)
    """
    name = os.fspath(path)
    gzipped = False
    try:
        with open(name, "rb") as f:
            gzipped = f.read(2) == _GZIP_MAGIC
            f.seek(0)
            if gzipped:
                with gzip.GzipFile(fileobj=f, mode="rb") as g:
                    return _parse_idx(g, name)
            return _parse_idx(f, name)
    except FileNotFoundError:
        raise DatasetError(f"IDX file {name!r} does not exist") from None
    except (OSError, EOFError, zlib.error) as e:
        if gzipped:
            raise DatasetError(
                f"IDX file {name!r} is a corrupted or truncated gzip file: {e}"
            ) from e
        raise DatasetError(f"cannot read IDX file {name!r}: {e.strerror or e}") from e


def _read_upto(f, n):
    # In chunks, so a header that promises more than the file holds costs no memory.
    chunks, left = [], n
    while left > 0:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parse_idx(f, name):
    head = _read_upto(f, 4)
    if len(head) < 4:
        raise DatasetError(f"IDX file {name!r} is truncated: {len(head)} bytes, no full header")
    if head[0] != 0 or head[1] != 0:
        raise DatasetError(
            f"IDX file {name!r} has a wrong magic number 0x{head.hex()}: "
            "an IDX file starts with two zero bytes (e.g. 0x00000803 for MNIST images)"
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise DatasetError(
            f"IDX file {name!r} has unknown dtype code 0x{code:02X} (known: {known})"
        )
    if ndim == 0:
        raise DatasetError(f"IDX file {name!r} declares 0 dimensions")
    dims = _read_upto(f, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetError(
            f"IDX file {name!r} is truncated: its header needs {4 + 4 * ndim} bytes, "
            f"it has {4 + len(dims)}"
        )
    shape = tuple(int(s) for s in xp.frombuffer(dims, dtype=">u4"))
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    data = _read_upto(f, expected + 1)
    if len(data) < expected:
        raise DatasetError(
            f"IDX file {name!r} is truncated: shape {shape} needs {expected} data bytes, "
            f"found {len(data)}"
        )
    if len(data) > expected:
        raise DatasetError(
            f"IDX file {name!r} is corrupted: extra bytes after the {expected} data bytes "
            f"that shape {shape} needs"
        )
    array = xp.frombuffer(data, dtype=dtype, count=count).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array) -> Path:
    """Write an array as an IDX file; gzipped when the name ends in ``.gz``.

    Args:
        path: the file to write.
        array: an array of dtype uint8, int8, int16, int32, float32 or float64, with at
            least one dimension, each below 2**32.

    Returns:
        The path written.

    Example:
        >>> import os, tempfile
        >>> from bricks.data import datasets
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = datasets.write_idx(os.path.join(d, "x.idx"), np.array([1.5], np.float32))
        ...     p.read_bytes().hex()
        '00000d01000000013fc00000'
    """
    a = xp.asarray(array)
    dtype = a.dtype.newbyteorder("=")
    if dtype not in _IDX_CODES:
        raise ValueError(
            f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64, got {a.dtype}"
        )
    if a.ndim == 0 or a.ndim > 255 or any(s >= 2**32 for s in a.shape):
        raise ValueError(f"write_idx: cannot store an array of shape {a.shape} in IDX")
    header = bytes([0, 0, _IDX_CODES[dtype], a.ndim]) + xp.asarray(a.shape, ">u4").tobytes()
    payload = header + xp.ascontiguousarray(a, dtype=dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


def _load_bundled():
    key = str(BUNDLED_MNIST)
    if not BUNDLED_MNIST.is_file():
        raise DatasetError(
            f"the bundled MNIST file {key!r} is missing: reinstall bricks, or pass path= "
            "to a folder of MNIST IDX files"
        )
    if key not in _verified:
        actual = sha256sum(BUNDLED_MNIST)
        if actual != BUNDLED_MNIST_SHA256:
            raise DatasetError(
                f"the bundled MNIST file {key!r} is corrupted: sha256 {actual}, "
                f"expected {BUNDLED_MNIST_SHA256}; reinstall bricks"
            )
        _verified.add(key)
    with xp.load(BUNDLED_MNIST, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    return images, labels.astype(xp.int64)


def _find_idx(folder: Path, split: str, kind: str) -> Path:
    prefix = _SPLIT_PREFIX[split]
    ndim = 3 if kind == "images" else 1
    names = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
    for name in names:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                return candidate
    raise DatasetError(
        f"no {split} {kind} file in {str(folder)!r}: expected {names[0]} or {names[0]}.gz"
    )


def _load_idx_split(folder: Path, split: str):
    images_path = _find_idx(folder, split, "images")
    labels_path = _find_idx(folder, split, "labels")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != xp.uint8:
        raise DatasetError(
            f"{str(images_path)!r} should hold uint8 images of shape (N, rows, cols), "
            f"found {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != xp.uint8:
        raise DatasetError(
            f"{str(labels_path)!r} should hold uint8 labels of shape (N,), "
            f"found {labels.dtype} of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise DatasetError(
            f"{str(images_path)!r} holds {len(images)} images but {str(labels_path)!r} "
            f"holds {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{str(labels_path)!r} holds label {int(labels.max())}, expected 0..9")
    return images, labels.astype(xp.int64)


def _load_folder(path, split):
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(
            f"{str(folder)!r} is not a folder: pass the folder holding the IDX files "
            "(train-images-idx3-ubyte[.gz], ...)"
        )
    if split is None:
        parts = [_load_idx_split(folder, s) for s in ("train", "test")]
        return (
            xp.concatenate([p[0] for p in parts]),
            xp.concatenate([p[1] for p in parts]),
        )
    return _load_idx_split(folder, split)


def _check_split(split):
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")


def load_mnist(path: str | os.PathLike | None = None, split: str | None = None):
    """MNIST digits as uint8 images and int64 labels; offline by default.

    With no ``path``: the 10,000 real MNIST digits bundled with bricks (ordered by class,
    not shuffled; per class 1001 1127 991 1032 980 863 1014 1070 944 978). They have no
    train/test split of their own: split them with ``bricks.data.train_test_split``.

    With ``path``: the standard IDX files in that folder (plain or ``.gz``); ``split``
    ``'train'`` (60,000 for MNIST), ``'test'`` (10,000), or None for train followed by test.

    Args:
        path: a folder with the IDX files, or None for the bundled digits.
        split: None, ``'train'`` or ``'test'`` (only with ``path``).

    Returns:
        ``(images, labels)``: images uint8 of shape (N, 28, 28) with values 0..255,
        labels int64 of shape (N,) with values 0..9.

    Raises:
        DatasetError: a missing folder or file, a malformed file, a checksum mismatch of
            the bundled file.

    Example:
        >>> from bricks.data import datasets
        >>> images, labels = datasets.load_mnist()
        >>> images.shape, images.dtype, labels.dtype, int(labels[0]), int(labels[-1])
        ((10000, 28, 28), dtype('uint8'), dtype('int64'), 0, 9)
    """
    _check_split(split)
    if path is None:
        if split is not None:
            raise ValueError(
                "the bundled MNIST-10k has no train/test split: call load_mnist() and split "
                "it with bricks.data.train_test_split, or pass path= to a folder of IDX files"
            )
        return _load_bundled()
    return _load_folder(path, split)


def load_fashion_mnist(path: str | os.PathLike, split: str | None = None):
    """Fashion-MNIST (Zalando) from a folder of its IDX files (plain or ``.gz``).

    The files have MNIST's names and format; labels index :data:`FASHION_MNIST_CLASSES`.
    Nothing is bundled: fetch them once with ``download_mnist(folder, kind='fashion')``.

    Args:
        path: the folder holding ``train-images-idx3-ubyte[.gz]`` and the other three.
        split: ``'train'`` (60,000), ``'test'`` (10,000), or None for both in that order.

    Returns:
        ``(images, labels)``: uint8 (N, 28, 28) and int64 (N,) in 0..9.

    Example:
        >>> from bricks.data import datasets
        >>> datasets.FASHION_MNIST_CLASSES[9]
        'Ankle boot'
    """
    _check_split(split)
    if path is None:
        raise DatasetError(
            "Fashion-MNIST is not bundled: pass path= to a folder of its IDX files "
            "(download them with download_mnist(folder, kind='fashion'))"
        )
    return _load_folder(path, split)


def download_mnist(
    folder: str | os.PathLike,
    mirror: str | None = None,
    kind: str = "mnist",
    checksums: dict[str, str] | None = None,
) -> Path:
    """Download the four gzipped IDX files of MNIST or Fashion-MNIST into ``folder``.

    Each file is verified against its SHA-256 (:data:`MNIST_SHA256`,
    :data:`FASHION_MNIST_SHA256`) before it appears in the folder; files already there
    with the right checksum are not fetched again. Afterwards ``load_mnist(folder)`` or
    ``load_fashion_mnist(folder)`` reads them offline.

    Args:
        folder: where to put the files (created if missing).
        mirror: a base URL ending in ``/`` that serves the four files by their standard
            names; None tries the known mirrors in turn.
        kind: ``'mnist'`` or ``'fashion'``.
        checksums: file name → SHA-256, to override the known values (another mirror's
            re-compressed files, or another dataset in the same layout).

    Returns:
        The folder.

    Raises:
        DatasetError: when a file cannot be fetched from any mirror or fails its checksum.
    """
    if kind not in _MIRRORS:
        raise ValueError(f"kind must be 'mnist' or 'fashion', got {kind!r}")
    sums = dict(MNIST_SHA256 if kind == "mnist" else FASHION_MNIST_SHA256)
    if checksums is not None:
        sums = dict(checksums)
    mirrors = _MIRRORS[kind] if mirror is None else (mirror,)
    folder = Path(folder)
    for filename, sha256 in sums.items():
        errors = []
        for base in mirrors:
            url = base if base.endswith("/") else base + "/"
            try:
                download(url + filename, folder, sha256, filename=filename)
                break
            except DatasetError as e:
                errors.append(str(e))
        else:
            raise DatasetError(f"could not download {filename}: " + "; ".join(errors))
    return folder
