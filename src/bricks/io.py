"""Files: state dicts and full training checkpoints, written atomically, read without pickle.

Two file kinds, one container format:

* :func:`save` / :func:`load` store a state dict (dotted name -> Tensor), e.g.
  ``model.state_dict()``, plus optional JSON metadata.
* :func:`save_checkpoint` / :func:`load_checkpoint` store everything a run needs to resume
  bit for bit: the model's tensors, the optimizer's, scheduler's and scaler's state, the
  epoch, the history, the global random generator (and any other generators you name) and
  free-form ``extra`` data.

The container is `safetensors <https://huggingface.co/docs/safetensors>`_: an 8-byte
little-endian header length, a JSON header (name -> dtype, shape, byte offsets, plus a
``__metadata__`` str -> str map) and the raw little-endian bytes.  bricks keeps one JSON
document in ``__metadata__["bricks"]``; everything that is not an array (hyperparameters,
step counts, the RNG state, the key order, which safetensors does not keep) lives there,
every array is a tensor of the file.  A state-dict file's document is
``{"format": "bricks.state_dict", "version": 1, "keys": [...], "metadata": <packed>}``.
When the ``safetensors`` package is not installed (or with ``format="npz"``), the same
tensors and JSON go into an uncompressed NumPy ``.npz`` zip (the JSON as a ``uint8``
member named ``__metadata__``).  :func:`load` tells the two apart by their first bytes,
not by the file name, and reads ``.npz`` files with ``allow_pickle=False``.

Loading never executes code: no pickle anywhere.  A truncated, malformed or hostile file
(a header length larger than the file, header entries of the wrong type, byte ranges out of
bounds or overlapping, an unknown dtype, object arrays, a PyTorch pickle) raises
:class:`CheckpointError` naming the file and the problem.

Every file is written through :func:`atomic_write`: a temporary file in the same folder,
flushed and ``fsync``-ed, then renamed over the target with ``os.replace``.  A crash or an
exception mid-write leaves the previous file as it was.

Checkpoint layout (format version 1)::

    tensors   model.<name>              the model's state_dict, in its order
              optimizer.<path>          every array of optimizer.state_dict(), e.g.
                                        optimizer.state.0.momentum_buffer
              scheduler.<path>, scaler.<path>, history.<path>, extra.<path>,
              metadata.<path>           arrays found in those values, if any
    JSON      {"format": "bricks.checkpoint", "version": 1, "bricks_version": ...,
               "keys": [every tensor name, in the order saved],
               "model": [names] | null,
               "optimizer": {"class": "SGD", "state": <packed state_dict>} | null,
               "scheduler": ..., "scaler": ...,
               "epoch": ..., "history": ..., "extra": ..., "metadata": ...,
               "rng": {"global": <get_rng_state()>, "generators": {name: state}}}

*Packed* values are plain JSON where the value is plain JSON (lists, dicts with string keys,
finite floats, ints, strings, booleans, None); anything else is a one-key object:
``{"__tensor__": key}`` (a bricks Tensor), ``{"__array__": key}`` (a NumPy array),
``{"__scalar__": key}`` (a NumPy scalar, stored as a 0-d tensor), ``{"__tuple__": [...]}``,
``{"__float__": "nan" | "inf" | "-inf"}`` and ``{"__dict__": [[key, value], ...]}`` (a dict
with non-string keys, such as the optimizer's ``{0: {...}, 1: {...}}``).  So
``optimizer.load_state_dict`` receives exactly what ``state_dict()`` gave: same types, same
dict keys, arrays with the same dtype and shape.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import secrets
import stat
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

from bricks import backend
from bricks import devices as _devices
from bricks._version import __version__
from bricks.backend import xp
from bricks.tensor import Tensor, const

try:  # optional extra; without it files are written as .npz (see the module docstring)
    import safetensors.numpy as _safetensors
except Exception:  # pragma: no cover - depends on the environment
    _safetensors = None

__all__ = ["CheckpointError", "FORMAT_VERSION", "atomic_write", "save", "load",
           "save_checkpoint", "load_checkpoint", "read_bytes", "open_regular", "read_npz",
           "read_npy", "remove_stale_temp_files", "toml_dumps", "limit", "LIMITS"]

FORMAT_VERSION = 1
"""Version of the checkpoint layout; files from a newer version are refused."""

_META_KEY = "__metadata__"          # safetensors' reserved header key; the npz member name
_BRICKS_KEY = "bricks"              # the one entry bricks puts in __metadata__
_MAX_HEADER = 100_000_000           # safetensors' own limit on the JSON header (bytes)
_MAX_NDIM = 64
_MAX_DEPTH = 100                    # nesting of lists/dicts in the JSON (states need ~5)
_TMP_NAME = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")  # atomic_write's temporary files
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_STATE_DICT = "bricks.state_dict"
_CHECKPOINT = "bricks.checkpoint"

# safetensors dtype codes <-> NumPy dtypes (the ones NumPy has).
_TO_CODE = {
    backend.float64: "F64", backend.float32: "F32", backend.float16: "F16",
    backend.int64: "I64", backend.int32: "I32", backend.int16: "I16", backend.int8: "I8",
    xp.dtype("uint64"): "U64", xp.dtype("uint32"): "U32", xp.dtype("uint16"): "U16",
    backend.uint8: "U8", backend.bool_: "BOOL",
}
_FROM_CODE = {code: dtype.newbyteorder("<") for dtype, code in _TO_CODE.items()}
_NO_NUMPY_DTYPE = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
                   "C64", "C128"}


class CheckpointError(ValueError):
    """A file that bricks cannot read: truncated, malformed, hostile or of another format.

    Attributes:
        path: the file.
        problem: what is wrong with it, in words.
    """

    def __init__(self, path, problem: str):
        self.path = os.fspath(path) if path is not None else "<bytes>"
        self.problem = problem
        super().__init__(f"cannot load {self.path!r}: {problem}")


# ---------------------------------------------------------------- limits

LIMITS = {
    "BRICKS_MAX_FILE_BYTES": 2 * 2**30,     # one input file (checkpoint, .npz, .npy, CSV)
    "BRICKS_MAX_ARRAY_BYTES": 2**30,        # one array read from a file, after expanding
    "BRICKS_MAX_PIXELS": 50_000_000,        # one image to decode (Pillow's own is ~89 M)
    "BRICKS_MAX_PARAMETERS": 200_000_000,   # one model to build (800 MB of float32 weights)
}
"""Size limits on what hostile or mistaken input may make bricks allocate, by name.

Each is checked *before* allocating; a file or model above one is refused with a message
that names the limit.  Raise one for a run with ``NAME=value`` in the environment, e.g.
``BRICKS_MAX_PARAMETERS=1e9 bricks train --model mlp:20000,20000``."""


def limit(name: str) -> int:
    """The limit ``name`` of :data:`LIMITS`, or its value from the environment.

    Example:
        >>> bricks.io.limit("BRICKS_MAX_PIXELS") == bricks.io.LIMITS["BRICKS_MAX_PIXELS"]
        True
    """
    text = os.environ.get(name)
    if text is None or not text.strip():
        return LIMITS[name]
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"the environment variable {name} must be a non-negative number, "
                         f"got {text!r}")
    return int(value)


def _limit_hint(name: str) -> str:
    return f"the limit {name}={limit(name):,} (raise it in the environment if you mean it)"


# ---------------------------------------------------------------- reading input files


@contextlib.contextmanager
def open_regular(path, max_bytes: int | None = None, what: str = "file"):
    """Open ``path`` for reading in binary mode, refusing anything but a regular file.

    A FIFO, a device such as ``/dev/zero``, a socket or a folder would block or never end;
    they are refused before a byte is read (the file is opened non-blocking and checked
    with ``fstat``, so swapping it after a check does not help).  A file larger than
    ``max_bytes`` (default: the ``BRICKS_MAX_FILE_BYTES`` limit) is refused as well.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a regular file, or too large.
    """
    path = os.fspath(path)
    cap = limit("BRICKS_MAX_FILE_BYTES") if max_bytes is None else max_bytes
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise CheckpointError(path, f"a folder, not a {what}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a folder" if stat.S_ISDIR(info.st_mode) else
                    "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else
                    "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise CheckpointError(path, f"{kind}, not a regular {what}")
        if info.st_size > cap:
            raise CheckpointError(path, f"{info.st_size:,} bytes exceed "
                                        f"{_limit_hint('BRICKS_MAX_FILE_BYTES')}"
                                  if max_bytes is None else
                                  f"{info.st_size:,} bytes exceed the {cap:,}-byte limit")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_bytes(path, max_bytes: int | None = None, what: str = "file") -> bytes:
    """The contents of a regular file, read with :func:`open_regular` (bounded: a file
    that grows while being read is cut at the size it had when opened, plus one byte to
    notice)."""
    with open_regular(path, max_bytes, what) as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(size + 1)
    if len(data) > size:
        raise CheckpointError(path, "the file grew while being read")
    return data


def read_npz(path, max_bytes: int | None = None) -> dict:
    """The arrays of an ``.npz`` file (``numpy.savez`` or ``savez_compressed``), checked.

    Unlike ``numpy.load``, every member's ``.npy`` header is read first: object arrays
    (pickles), members that expand more than 1000-fold (zip bombs), arrays whose header
    disagrees with the member's size and arrays above ``max_bytes`` (default: the
    ``BRICKS_MAX_ARRAY_BYTES`` limit) are refused before anything large is allocated.

    Returns:
        A dict name -> NumPy array, in the file's order.

    Raises:
        CheckpointError: the file is not a readable npz of numeric arrays, or too large.
    """
    data = read_bytes(path, what="npz file")
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise CheckpointError(path, "not an npz (zip) file")
    arrays, text = _read_npz(path, data, max_bytes=max_bytes, metadata_key=None)
    return dict(arrays)


def read_npy(path, max_bytes: int | None = None):
    """The array of a ``.npy`` file, its header checked before anything is allocated: no
    object arrays (pickles), a size that matches the file, at most ``max_bytes`` (default:
    the ``BRICKS_MAX_ARRAY_BYTES`` limit).

    Raises:
        CheckpointError: not a readable ``.npy`` file of numbers, or too large.
    """
    fmt = xp.lib.format
    cap = limit("BRICKS_MAX_ARRAY_BYTES") if max_bytes is None else max_bytes
    with open_regular(path, what=".npy file") as f:
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f)
            else:
                shape, _, dtype = fmt.read_array_header_2_0(f)
        except (ValueError, OSError, EOFError, TypeError, SyntaxError) as e:
            raise CheckpointError(path, f"not a .npy file ({e})") from None
        if dtype.hasobject:
            raise CheckpointError(path, "the array holds Python objects, which would need "
                                        "pickle; bricks never unpickles")
        needed = math.prod(shape) * dtype.itemsize
        have = os.fstat(f.fileno()).st_size - f.tell()
        if needed != have:
            raise CheckpointError(path, f"an array of shape {shape} needs {needed:,} bytes "
                                        f"but the file holds {have:,}")
        if needed > cap:
            raise CheckpointError(path, f"an array of shape {shape} would take {needed:,} "
                                        f"bytes, over " + _limit_hint("BRICKS_MAX_ARRAY_BYTES"))
        f.seek(0)
        try:
            return fmt.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise CheckpointError(path, f"a damaged .npy file ({e})") from None


def remove_stale_temp_files(folder, min_age: float = 3600.0) -> list:
    """Remove the temporary files that :func:`atomic_write` leaves behind when a process is
    killed mid-write (``.NAME.<12 hex digits>.tmp``), if older than ``min_age`` seconds.

    :func:`atomic_write` calls this for its folder with the default age (a writer that is
    still busy keeps touching its file); a caller that holds a lock on the folder may pass
    ``min_age=0``.  Symbolic links and other non-regular files are left alone.

    Returns:
        The paths removed.
    """
    import time

    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _TMP_NAME.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= min_age:
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


# ---------------------------------------------------------------- TOML


def toml_dumps(values: Mapping, comment: str | None = None) -> str:
    """A flat TOML document of ``key = value`` lines (str, int, finite float, bool).

    Strings are TOML basic strings with every character that TOML does not allow raw
    escaped (quotes, backslashes, all control characters), so no value can end its string,
    start a new key or table, or break the file: ``tomllib.loads(toml_dumps(d)) == d``.
    ``None`` values are left out (TOML has no null).  Keys must be bare-key safe
    (letters, digits, ``_`` and ``-``).

    Raises:
        ValueError: a key that is not bare, a non-finite float, a surrogate character.
        TypeError: a value of another type.

    Example:
        >>> print(bricks.io.toml_dumps({"model": 'mlp:8 "x"', "lr": 0.5, "quiet": True}))
        model = "mlp:8 \\"x\\""
        lr = 0.5
        quiet = true
        <BLANKLINE>
    """
    lines = []
    if comment is not None:
        for line in str(comment).split("\n"):  # control characters cannot end a comment
            lines.append("# " + "".join(c if c >= " " and c != "\x7f" else " "
                                        for c in line))
    for key, value in values.items():
        if value is None:
            continue
        if not isinstance(key, str) or not _BARE_KEY.fullmatch(key):
            raise ValueError(f"toml_dumps: key {key!r} is not a bare TOML key")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"toml_dumps: {key} = {value} is not a finite number")
            text = repr(value)
        elif isinstance(value, str):
            text = _toml_string(value)
        else:
            raise TypeError(f"toml_dumps: {key} is a {type(value).__name__}; only str, int, "
                            f"float and bool are written")
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"toml_dumps: the string {text!r} holds a lone surrogate")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None,
                 newline: str | None = None):
    """Open a file for writing so that it appears complete or not at all.

    The data goes to a temporary file in the same folder (so the final rename never
    crosses file systems), which is flushed, ``fsync``-ed and then renamed over ``path``
    with ``os.replace`` (atomic on POSIX and Windows).  If the ``with`` block raises, or
    anything before the rename fails, the temporary file is removed and a previous file at
    ``path`` is left untouched.  An existing file's permission bits are kept.  A symbolic
    link at ``path`` is replaced by the file, never followed (so a planted link cannot
    redirect the write).  Temporary files that killed writers left in the folder more
    than an hour ago are removed (:func:`remove_stale_temp_files`).

    Args:
        path: the file to write (str or path-like); its folder must exist.
        mode: ``"wb"`` (bytes, default), ``"w"`` or ``"wt"`` (text).
        encoding: text mode only; default UTF-8.
        newline: text mode only, as for :func:`open`.

    Yields:
        The open file object.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "log.txt")
        >>> with bricks.io.atomic_write(path, "w") as f:
        ...     _ = f.write("epoch 1\\n")
        >>> open(path).read(), os.listdir(folder)
        ('epoch 1\\n', ['log.txt'])
    """
    if mode not in ("wb", "w", "wt"):
        raise ValueError(f"atomic_write: mode must be 'wb', 'w' or 'wt', got {mode!r}")
    binary = "b" in mode
    if binary and (encoding is not None or newline is not None):
        raise ValueError("atomic_write: encoding and newline are for text mode only")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask: the mode open() would give
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    else:  # pragma: no cover
        raise FileExistsError(f"atomic_write: could not create a temporary file in {folder}")
    try:
        with contextlib.suppress(OSError):  # keep a file's mode; never a link target's
            old = os.stat(path, follow_symlinks=False)
            if stat.S_ISREG(old.st_mode):
                os.chmod(tmp, stat.S_IMODE(old.st_mode))
        if binary:
            f = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding or "utf-8", newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)  # only still open when fdopen itself failed
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)
    remove_stale_temp_files(folder)


def _fsync_folder(folder):
    # Makes the rename itself durable on POSIX; Windows cannot open folders, so skip there.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------- state dicts


def save(state_dict, path, metadata=None, *, format: str | None = None) -> None:
    """Save a state dict (name -> Tensor or array) to ``path``, atomically.

    Args:
        state_dict: a mapping from string names to Tensors or NumPy arrays of a bool,
            integer or floating dtype (any shape, 0-d and empty included), e.g.
            ``model.state_dict()``.
        path: the file to write.
        metadata: an optional dict of JSON-like values (nested lists, tuples and dicts,
            Python numbers including NaN and infinities, strings, booleans, None), returned
            as it was by ``load(path, with_metadata=True)``; no arrays (they belong in the
            state dict).
        format: ``"safetensors"``, ``"npz"``, or None: ``"npz"`` if ``path`` ends in
            ``.npz`` or the safetensors package is missing, else ``"safetensors"``.

    Raises:
        TypeError: a key is not a string, a value is not a Tensor or array, or the
            metadata holds something that is not JSON-like (a function, an object, an array
            or a NumPy scalar).
        ValueError: a dtype that the format cannot hold (complex, strings, objects), or a
            key named ``"__metadata__"`` (reserved).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "layer.safetensors")
        >>> layer = bricks.nn.Linear(3, 2)
        >>> bricks.io.save(layer.state_dict(), path, metadata={"epoch": 3})
        >>> tensors, meta = bricks.io.load(path, with_metadata=True)
        >>> list(tensors), tensors["weight"].shape, meta
        (['weight', 'bias'], (2, 3), {'epoch': 3})
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: state_dict must be a mapping of names to tensors, got "
                        f"{type(state_dict).__name__}")
    arrays = OrderedDict()
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"save: keys must be strings, got {key!r}")
        if isinstance(value, Tensor):
            value = value.data
        if not _is_array(value):
            raise TypeError(f"save: state_dict[{key!r}] is a {type(value).__name__}, "
                            f"expected a Tensor or an array")
        arrays[key] = value
    packer = _Packer()
    document = {"format": _STATE_DICT, "version": FORMAT_VERSION,
                "metadata": packer.pack({} if metadata is None else metadata, ["metadata"])}
    if packer.arrays:
        raise TypeError(f"save: metadata holds arrays or NumPy scalars (at {list(packer.arrays)});"
                        f" put arrays in the state dict, and numbers as Python numbers")
    _write(path, arrays, document, format)


def load(path, with_metadata: bool = False, map_location=None):
    """Load a file written by :func:`save` (or any safetensors or ``.npz`` file of arrays).

    Nothing in the file is executed: safetensors holds raw bytes and JSON, and ``.npz``
    members are read with ``allow_pickle=False``.

    Args:
        path: the file.
        with_metadata: also return the metadata.
        map_location: the device to put the tensors on (``'cpu'``, ``'cuda'``,
            ``'cuda:1'``, a :class:`bricks.device`); None: the CPU.  Files hold no
            device: a state saved from a GPU loads to either.

    Returns:
        An ``OrderedDict`` name -> Tensor in the order they were saved (for files from
        other tools, the file's order), or ``(tensors, metadata)``.  ``metadata`` is the
        dict given to :func:`save`; for a checkpoint, its whole JSON document; for a
        foreign safetensors file, its ``__metadata__`` map (``{}`` if none).

    Raises:
        CheckpointError: the file is truncated, malformed, hostile or of another format.
        FileNotFoundError: there is no such file.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
        >>> bricks.io.save({"step": bricks.tensor(7), "w": bricks.zeros(2, 2)}, path)
        >>> state = bricks.io.load(path)
        >>> state["step"].item(), state["w"].dtype
        (7, dtype('float32'))
    """
    arrays, document, raw = _read(path)
    if document is None:
        out = OrderedDict((k, _as_tensor(v, map_location)) for k, v in arrays.items())
        return (out, raw) if with_metadata else out
    if document.get("format") == _STATE_DICT:
        metadata = _Unpacker(path, arrays).unpack(document.get("metadata", {}), "metadata")
    else:
        metadata = document
    out = OrderedDict((k, _as_tensor(v, map_location)) for k, v in arrays.items())
    return (out, metadata) if with_metadata else out


# ---------------------------------------------------------------- checkpoints


def save_checkpoint(path, model=None, optimizer=None, scheduler=None, scaler=None,
                    epoch=None, history=None, extra=None, *, metadata=None,
                    generators=None, format: str | None = None) -> None:
    """Save everything a training run needs to resume exactly, in one atomic file.

    A run stopped after epoch ``k``, reloaded with :func:`load_checkpoint` and continued
    gives bit for bit the weights of an uninterrupted run, provided the data order and
    every random draw come from the generators saved here (the global one always).

    Args:
        path: the file to write.
        model: a module (anything with ``state_dict()``); its tensors go under ``model.``.
        optimizer, scheduler, scaler: objects with ``state_dict()`` whose states are
            nested dicts/lists of arrays and JSON values (bricks optimizers and learning
            rate schedulers, data scalers).
        epoch: the last finished epoch (any JSON-like value).
        history: per-epoch losses and metrics (JSON-like values or arrays).
        extra: anything else of that kind (e.g. the best validation loss).
        metadata: JSON-like notes (the command line, the dataset).
        generators: a dict name -> random generator (``numpy.random.Generator``, a bit
            generator, or an object with ``state_dict``/``load_state_dict``) whose states
            are saved next to the global one (``bricks.backend.get_rng_state()``).
        format: as in :func:`save`.

    Raises:
        TypeError: a state holds a value that is neither an array nor JSON-like data.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
        >>> model = bricks.nn.Linear(2, 1)
        >>> opt = bricks.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> bricks.io.save_checkpoint(path, model, opt, epoch=4, history={"loss": [0.5]})
        >>> fresh = bricks.nn.Linear(2, 1)
        >>> ckpt = bricks.io.load_checkpoint(path, model=fresh)
        >>> ckpt["epoch"], ckpt["history"], bool((fresh.weight == model.weight).all())
        (4, {'loss': [0.5]}, True)
    """
    arrays = OrderedDict()
    document = {"format": _CHECKPOINT, "version": FORMAT_VERSION,
                "bricks_version": __version__, "model": None}
    if model is not None:
        names = []
        for name, value in _state_of("model", model).items():
            if isinstance(value, Tensor):
                value = value.data
            if not isinstance(name, str) or not _is_array(value):
                raise TypeError(f"save_checkpoint: model.state_dict()[{name!r}] is not a "
                                f"named tensor")
            arrays["model." + name] = value
            names.append(name)
        document["model"] = names
    for part, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is None:
            document[part] = None
            continue
        packer = _Packer(arrays)
        document[part] = {"class": type(obj).__name__,
                          "state": packer.pack(_state_of(part, obj), [part])}
    for part, value in (("epoch", epoch), ("history", history), ("extra", extra),
                        ("metadata", metadata)):
        document[part] = _Packer(arrays).pack(value, [part])
    states = {}
    for name, gen in (generators or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"save_checkpoint: generator names must be strings, got {name!r}")
        states[name] = _generator_state(name, gen)
    document["rng"] = _Packer(arrays).pack(
        {"global": backend.get_rng_state(), "generators": states}, ["rng"])
    _write(path, arrays, document, format)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, scaler=None, *,
                    generators=None, restore_rng: bool = True, strict: bool = True,
                    map_location=None) -> dict:
    """Load a checkpoint from :func:`save_checkpoint` and restore it into the given objects.

    The whole file is read and checked before anything is restored.  Then, in this order:
    the model's tensors (``model.load_state_dict(..., strict=strict)``), the optimizer,
    scheduler and scaler states (each ``load_state_dict`` receives exactly the structure
    its ``state_dict()`` gave), the named generators, and the global random generator.

    Args:
        path: the file.
        model, optimizer, scheduler, scaler: objects to restore into (None: skip; the
            state is still returned).
        generators: a dict name -> generator, restored from the states saved under the same
            names.
        restore_rng: restore the global random generator (default True, as resuming needs).
        strict: passed to ``model.load_state_dict``.
        map_location: the device of the returned ``"model"`` tensors (None: the CPU).  The
            objects given are restored on their own devices whatever it is: a model (and
            its optimizer) on a GPU gets the values on the GPU, one on the CPU on the CPU,
            wherever the checkpoint was saved from.

    Returns:
        A dict with ``"epoch"``, ``"history"``, ``"extra"``, ``"metadata"``, ``"rng"``
        (``{"global": state, "generators": {name: state}}``), ``"version"``, and the saved
        states ``"model"`` (an OrderedDict of Tensors), ``"optimizer"``, ``"scheduler"``,
        ``"scaler"`` (None where not saved).

    Raises:
        CheckpointError: the file is not a readable bricks checkpoint, comes from a newer
            format version, lacks a state that an object was given for, or holds the state
            of another class (e.g. SGD state for an Adam optimizer).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
        >>> w = bricks.zeros(2, requires_grad=True)
        >>> opt = bricks.optim.Adam([w], lr=0.1)
        >>> w.grad = bricks.ones(2); opt.step()
        >>> bricks.io.save_checkpoint(path, optimizer=opt, epoch=1)
        >>> opt2 = bricks.optim.Adam([bricks.zeros(2, requires_grad=True)], lr=0.5)
        >>> ckpt = bricks.io.load_checkpoint(path, optimizer=opt2)
        >>> opt2.param_groups[0]["lr"], opt2.state_dict()["state"][0]["step"]
        (0.1, 1.0)
    """
    arrays, document, _ = _read(path)
    if document is None or document.get("format") != _CHECKPOINT:
        raise CheckpointError(path, "not a bricks checkpoint (no checkpoint header; "
                                    "a plain state dict is read with bricks.io.load)")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(path, f"format version {version} is newer than this bricks "
                                    f"reads ({FORMAT_VERSION}); upgrade bricks")
    unpacker = _Unpacker(path, arrays)
    result = {"version": version, "model": None}
    names = document.get("model")
    if names is not None:
        if (not isinstance(names, list) or not all(isinstance(n, str) for n in names)
                or any("model." + n not in arrays for n in names)):
            raise CheckpointError(path, "the model's key list does not match its tensors")
        result["model"] = OrderedDict((n, _as_tensor(arrays["model." + n], map_location))
                                      for n in names)
    for part in ("optimizer", "scheduler", "scaler"):
        entry = document.get(part)
        if entry is None:
            result[part] = None
            continue
        if not isinstance(entry, dict) or set(entry) != {"class", "state"}:
            raise CheckpointError(path, f"the {part} entry should be {{'class', 'state'}}")
        result[part] = unpacker.unpack(entry["state"], part)
    for part in ("epoch", "history", "extra", "metadata"):
        result[part] = unpacker.unpack(document.get(part), part)
    rng = unpacker.unpack(document.get("rng"), "rng")
    if (not isinstance(rng, dict) or not isinstance(rng.get("global"), dict)
            or not isinstance(rng.get("generators"), dict)):
        raise CheckpointError(path, "the rng entry should be {'global': state, "
                                    "'generators': {name: state}}")
    result["rng"] = rng

    # Everything decoded: now check the targets, then restore.
    for part, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler),
                      ("scaler", scaler)):
        if obj is None:
            continue
        if result[part] is None:
            raise CheckpointError(path, f"a {part} was given but the checkpoint holds no "
                                        f"{part} state")
        if part != "model":
            saved = document[part]["class"]
            if saved != type(obj).__name__:
                raise CheckpointError(path, f"the checkpoint holds {saved} state, which "
                                            f"cannot be loaded into a {type(obj).__name__}")
    for name in generators or {}:
        if name not in rng["generators"]:
            raise CheckpointError(path, f"no state saved for the generator {name!r} (saved: "
                                        f"{sorted(rng['generators'])})")
    if model is not None:
        model.load_state_dict(result["model"], strict=strict)
    for part, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is not None:
            obj.load_state_dict(unpacker.unpack(document[part]["state"], part))
    for name, gen in (generators or {}).items():
        _set_generator_state(path, name, gen, rng["generators"][name])
    if restore_rng:
        try:
            backend.set_rng_state(rng["global"])
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(path, f"invalid global random state: {e}") from None
    return result


# ---------------------------------------------------------------- packing nested states


def _is_array(value) -> bool:
    return (not isinstance(value, (Tensor, backend.generic)) and hasattr(value, "shape")
            and hasattr(value, "dtype") and hasattr(value, "__array__"))


def _as_tensor(array, device=None) -> Tensor:
    """A loaded array as a tensor on ``device`` (None: the CPU, where files are read)."""
    return const(_devices.move(array, device, "load"))


class _Packer:
    """Turns a nested value into JSON, moving its arrays into ``arrays`` under their dotted
    path (see the module docstring for the tags)."""

    def __init__(self, arrays=None):
        self.arrays = OrderedDict() if arrays is None else arrays

    def _add(self, array, path):
        key = ".".join(path)
        n = 1
        while key in self.arrays:
            key = f"{'.'.join(path)}~{n}"
            n += 1
        self.arrays[key] = array
        return key

    def pack(self, value, path):
        if len(path) > _MAX_DEPTH:
            raise TypeError(f"cannot store {'.'.join(path[:3])}...: nested more than "
                            f"{_MAX_DEPTH} levels deep")
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, Tensor):
            return {"__tensor__": self._add(value.data, path)}
        if isinstance(value, backend.generic):
            return {"__scalar__": self._add(xp.asarray(value), path)}
        if _is_array(value):
            return {"__array__": self._add(value, path)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.pack(v, path + [str(i)]) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.pack(v, path + [str(i)]) for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            for k in value:
                if k is not None and not isinstance(k, (str, int, float)):
                    raise TypeError(f"cannot store {'.'.join(path)}: dict key {k!r} is a "
                                    f"{type(k).__name__} (keys must be str, int, float, "
                                    f"bool or None)")
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.pack(v, path + [k]) for k, v in value.items()}
            return {"__dict__": [[self.pack(k, path), self.pack(v, path + [str(k)])]
                                 for k, v in value.items()]}
        raise TypeError(f"cannot store {'.'.join(path)}: a {type(value).__name__} is neither "
                        f"an array nor JSON-like data (bricks files never hold pickles)")


class _Unpacker:
    """The inverse of :class:`_Packer`, checking every tag (the JSON may be hostile)."""

    _SCALARS = (str, int, float, bool, type(None))

    def __init__(self, path, arrays):
        self.path = path
        self.arrays = arrays

    def unpack(self, obj, where):
        try:
            return self._unpack(obj, where, 0)
        except RecursionError:  # pragma: no cover - _MAX_DEPTH comes first
            raise CheckpointError(self.path, f"{where}: nested too deeply") from None

    def _array(self, key, where, tag):
        if not isinstance(key, str) or key not in self.arrays:
            raise CheckpointError(self.path, f"{where}: {tag} refers to {key!r}, which is not "
                                             f"a tensor of the file")
        return self.arrays[key].copy()

    def _bad(self, where, what):
        return CheckpointError(self.path, f"{where}: {what}")

    def _unpack(self, obj, where, depth):
        if depth > _MAX_DEPTH:
            raise self._bad(where, f"nested more than {_MAX_DEPTH} levels deep")
        if isinstance(obj, list):
            return [self._unpack(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            return obj
        if not any(k.startswith("__") for k in obj):
            return {k: self._unpack(v, f"{where}.{k}", depth + 1) for k, v in obj.items()}
        if len(obj) != 1:
            raise self._bad(where, f"a tagged value has extra keys {sorted(obj)}")
        (tag, arg), = obj.items()
        if tag == "__tensor__":
            return const(self._array(arg, where, tag))
        if tag == "__array__":
            return self._array(arg, where, tag)
        if tag == "__scalar__":
            array = self._array(arg, where, tag)
            if array.ndim != 0:
                raise self._bad(where, f"the scalar {arg!r} has shape {array.shape}")
            return array[()]
        if tag == "__float__":
            if arg not in ("nan", "inf", "-inf"):
                raise self._bad(where, f"__float__ must be 'nan', 'inf' or '-inf', got {arg!r}")
            return float(arg)
        if tag == "__tuple__":
            if not isinstance(arg, list):
                raise self._bad(where, "__tuple__ needs a list")
            return tuple(self._unpack(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(arg))
        if tag == "__dict__":
            if not isinstance(arg, list) or not all(isinstance(p, list) and len(p) == 2
                                                    for p in arg):
                raise self._bad(where, "__dict__ needs a list of [key, value] pairs")
            out = {}
            for k, v in arg:
                k = self._unpack(k, where, depth + 1)
                if not isinstance(k, self._SCALARS):
                    raise self._bad(where, f"a dict key must be a str, number, bool or "
                                           f"null, got {type(k).__name__}")
                out[k] = self._unpack(v, f"{where}.{k}", depth + 1)
            return out
        raise self._bad(where, f"unknown tag {tag!r}")


def _state_of(part, obj):
    if not hasattr(obj, "state_dict"):
        raise TypeError(f"save_checkpoint: the {part} ({type(obj).__name__}) has no "
                        f"state_dict() method")
    return obj.state_dict()


def _generator_state(name, gen):
    if hasattr(gen, "bit_generator"):        # numpy.random.Generator
        return gen.bit_generator.state
    if hasattr(gen, "state_dict"):
        return gen.state_dict()
    if hasattr(gen, "state") and isinstance(gen.state, dict):  # a NumPy bit generator
        return gen.state
    raise TypeError(f"save_checkpoint: generator {name!r} ({type(gen).__name__}) has no "
                    f"state to save (expected a numpy Generator or an object with "
                    f"state_dict)")


def _set_generator_state(path, name, gen, state):
    try:
        if hasattr(gen, "bit_generator"):
            gen.bit_generator.state = state
        elif hasattr(gen, "load_state_dict"):
            gen.load_state_dict(state)
        else:
            gen.state = state
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(path, f"invalid state for generator {name!r}: {e}") from None


# ---------------------------------------------------------------- containers


def _storable(key, array):
    """``array`` as a C-contiguous little-endian NumPy array of a dtype the files hold."""
    array = backend.to_numpy(array)
    native = array.dtype.newbyteorder("=")
    if native not in _TO_CODE:
        raise ValueError(f"cannot store {key!r}: dtype {array.dtype} is not supported (bool, "
                         f"int8-64, uint8-64, float16/32/64 are)")
    # safetensors.numpy reads the raw buffer: a strided view would be written scrambled.
    return array.astype(native.newbyteorder("<"), order="C", copy=False)


def _write(path, arrays, document, format):
    if format is None:
        use_npz = os.fspath(path).endswith(".npz") or _safetensors is None
    elif format in ("safetensors", "npz"):
        use_npz = format == "npz"
    else:
        raise ValueError(f"format must be 'safetensors', 'npz' or None, got {format!r}")
    if not use_npz and _safetensors is None:
        raise ImportError("format='safetensors' needs the safetensors package "
                          "(pip install safetensors), or use format='npz'")
    if _META_KEY in arrays:
        raise ValueError(f"the key {_META_KEY!r} is reserved for the file's metadata")
    arrays = OrderedDict((k, _storable(k, v)) for k, v in arrays.items())
    document["keys"] = list(arrays)
    text = json.dumps(document, allow_nan=False, ensure_ascii=False)
    if use_npz:
        with atomic_write(path) as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                arrays[_META_KEY] = xp.frombuffer(text.encode("utf-8"), dtype=backend.uint8)
                for key, array in arrays.items():
                    with zf.open(key + ".npy", "w", force_zip64=True) as member:
                        xp.lib.format.write_array(member, array, allow_pickle=False)
    else:
        data = _safetensors.save(dict(arrays), metadata={_BRICKS_KEY: text})
        with atomic_write(path) as f:
            f.write(data)


def _read(path):
    """Read a file into (OrderedDict of arrays, bricks JSON document or None, raw metadata)."""
    data = read_bytes(path, what="checkpoint or state-dict file")
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        arrays, raw = _read_npz(path, data)
        text = raw
    else:
        arrays, raw = _read_safetensors(path, data)
        text = raw.get(_BRICKS_KEY)
    if text is None:
        return arrays, None, raw if isinstance(raw, dict) else {}
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(path, f"the bricks metadata is not valid JSON ({e})") from None
    if not isinstance(document, dict):
        raise CheckpointError(path, "the bricks metadata is not a JSON object")
    keys = document.get("keys")  # the order of saving (safetensors sorts its entries)
    if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
            or len(set(keys)) != len(keys) or set(keys) != set(arrays)):
        raise CheckpointError(path, "the bricks metadata's key list does not match the "
                                    "tensors in the file")
    return OrderedDict((k, arrays[k]) for k in keys), document, document


def _read_npz(path, data, max_bytes=None, metadata_key=_META_KEY):
    fmt = xp.lib.format
    cap = limit("BRICKS_MAX_ARRAY_BYTES") if max_bytes is None else max_bytes
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise CheckpointError(path, f"a damaged zip/npz file ({e})") from None
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise CheckpointError(path, "the zip file has duplicate member names")
    arrays = OrderedDict()
    text = None
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise CheckpointError(path, f"a zip file that is not an npz of arrays (member "
                                        f"{info.filename!r}; a PyTorch file? bricks never "
                                        f"unpickles)")
        key = info.filename[:-4]
        if (info.compress_type != zipfile.ZIP_STORED
                and info.file_size > 1000 * max(info.compress_size, 1)):
            raise CheckpointError(path, f"member {key!r} expands {info.file_size} bytes from "
                                        f"{info.compress_size} (a zip bomb?)")
        try:
            with archive.open(info) as member:  # the .npy header first: no huge allocations
                version = fmt.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = fmt.read_array_header_1_0(member)
                else:
                    shape, _, dtype = fmt.read_array_header_2_0(member)
                header_size = member.tell()
            if dtype.hasobject:
                raise CheckpointError(path, f"array {key!r} holds Python objects, which "
                                            f"would need pickle; bricks never unpickles")
            if dtype.newbyteorder("=") not in _TO_CODE:
                raise CheckpointError(path, f"array {key!r} has dtype {dtype}, which bricks "
                                            f"does not load")
            needed = math.prod(shape) * dtype.itemsize
            if needed != info.file_size - header_size:
                raise CheckpointError(path, f"array {key!r} of shape {shape} needs {needed} "
                                            f"bytes but the member holds "
                                            f"{info.file_size - header_size}")
            if needed > cap:
                raise CheckpointError(path, f"array {key!r} of shape {shape} would take "
                                            f"{needed:,} bytes, over "
                                            + (_limit_hint("BRICKS_MAX_ARRAY_BYTES")
                                               if max_bytes is None else
                                               f"the {cap:,}-byte limit"))
            with archive.open(info) as member:
                array = fmt.read_array(member, allow_pickle=False)
        except CheckpointError:
            raise
        except (ValueError, zipfile.BadZipFile, OSError, EOFError, TypeError,
                MemoryError, OverflowError) as e:
            raise CheckpointError(path, f"a damaged npz file: member {key!r} "
                                        f"({type(e).__name__}: {e})") from None
        if key == metadata_key:
            if array.dtype != backend.uint8 or array.ndim != 1:
                raise CheckpointError(path, "the __metadata__ member should be uint8 bytes")
            try:
                text = array.tobytes().decode("utf-8")
            except UnicodeDecodeError:
                raise CheckpointError(path, "the __metadata__ member is not UTF-8") from None
            continue
        arrays[key] = array.astype(array.dtype.newbyteorder("="), copy=False)
    return arrays, text


def _read_safetensors(path, data):
    entries, metadata, start = _check_header(path, data)
    arrays = OrderedDict()
    if _safetensors is not None:
        try:
            loaded = _safetensors.load(data)
        except Exception as e:  # the header passed our checks, so this is unexpected
            raise CheckpointError(path, f"safetensors could not read it ({e})") from None
        for name in entries:
            arrays[name] = loaded[name]
    else:  # pragma: no cover - exercised by monkeypatching in the tests
        for name, (dtype, shape, begin, _) in entries.items():
            array = xp.frombuffer(data, dtype=dtype, count=math.prod(shape),
                                  offset=start + begin)
            arrays[name] = array.reshape(shape).copy()
    for name, array in arrays.items():
        if array.dtype.byteorder not in ("=", "|"):
            arrays[name] = array.astype(array.dtype.newbyteorder("="))
    return arrays, metadata


def _check_header(path, data):
    """Validate a safetensors header completely; return entries in file order."""
    def bad(problem):
        return CheckpointError(path, problem)

    if len(data) < 8:
        raise bad(f"only {len(data)} bytes: too short for a safetensors file (which starts "
                  f"with an 8-byte header length) or an npz file")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        if data[0] == 0x80 and data[1] in (2, 3, 4, 5):  # the PROTO opcode of pickles
            raise bad("this is a Python pickle (e.g. from torch.save), not safetensors or "
                      "npz; bricks never unpickles")
        raise bad(f"the header length field says {n} bytes but only {len(data) - 8} follow "
                  f"(a truncated file, or neither safetensors nor npz)")
    if n > _MAX_HEADER:
        raise bad(f"a header of {n} bytes exceeds the {_MAX_HEADER}-byte limit")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(f"the header is not valid JSON, so this is not a safetensors file "
                  f"({type(e).__name__}: {e})") from None
    if not isinstance(header, dict):
        raise bad(f"the header should be a JSON object, got {type(header).__name__}")
    metadata = header.pop(_META_KEY, None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ should map strings to strings")
    size = len(data) - 8 - n
    entries = OrderedDict()
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"tensor {name!r}: the entry should be an object with exactly dtype, "
                      f"shape and data_offsets")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(code, str):
            raise bad(f"tensor {name!r}: dtype should be a string, got {code!r}")
        if code not in _FROM_CODE:
            if code in _NO_NUMPY_DTYPE:
                raise bad(f"tensor {name!r}: dtype {code} has no NumPy equivalent, so "
                          f"bricks cannot load it")
            raise bad(f"tensor {name!r}: unknown dtype {code!r}")
        if (not isinstance(shape, list) or len(shape) > _MAX_NDIM
                or not all(_is_int(d) and d >= 0 for d in shape)):
            raise bad(f"tensor {name!r}: shape should be a list of non-negative integers, "
                      f"got {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o) for o in offsets)):
            raise bad(f"tensor {name!r}: data_offsets should be [begin, end] integers, got "
                      f"{offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= size:
            raise bad(f"tensor {name!r}: bytes [{begin}, {end}) lie outside the {size}-byte "
                      f"data section (truncated or corrupted)")
        dtype = _FROM_CODE[code]
        expected = math.prod(shape) * dtype.itemsize
        if end - begin != expected:
            raise bad(f"tensor {name!r}: {end - begin} bytes for shape {shape} of {code} "
                      f"(needs {expected})")
        entries[name] = (dtype, tuple(shape), begin, end)
    position = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda e: e[1][2:]):
        if begin != position:
            raise bad(f"tensor {name!r} starts at byte {begin} but the previous one ends at "
                      f"{position} (overlapping or gapped data)")
        position = end
    if position != size:
        raise bad(f"the tensors cover {position} bytes of a {size}-byte data section "
                  f"(trailing bytes)")
    return entries, metadata, 8 + n


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
