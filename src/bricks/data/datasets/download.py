"""The dataset error type, SHA-256 checks and a safe, verified download.

Every dataset loader in ``bricks.data.datasets`` reports a missing, truncated, corrupted or
unexpected file with a :class:`DatasetError` that names the file and the problem, so a
user never meets a bare NumPy or zlib message.

:func:`download` fetches one file with ``urllib`` only: it streams into a temporary file in
the target folder while hashing, checks the SHA-256, and only then renames the file into
place (``os.replace`` is atomic on one file system). A failed or interrupted download
leaves nothing behind under the final name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

__all__ = ["DatasetError", "download", "sha256sum"]

_CHUNK = 1 << 16
_HEX64 = re.compile(r"[0-9a-f]{64}")


class DatasetError(ValueError):
    """A dataset could not be loaded: a bad path, a malformed file, a checksum mismatch.

    A ``ValueError``, so callers that catch bad input in general also catch this.
    """


def sha256sum(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 lowercase hex digits.

    Args:
        path: the file to hash; read in chunks, so large files are fine.

    Returns:
        The hex digest.

    Example:
        >>> import tempfile, os
        >>> from bricks.data import datasets
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = os.path.join(d, "empty")
        ...     _ = open(p, "wb").close()
        ...     datasets.sha256sum(p)[:16]
        'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as e:
        raise DatasetError(f"cannot read {os.fspath(path)!r}: {e.strerror or e}") from e
    return digest.hexdigest()


def _check_sha256(sha256: str) -> str:
    value = str(sha256).strip().lower()
    if not _HEX64.fullmatch(value):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    return value


def download(
    url: str,
    folder: str | os.PathLike,
    sha256: str,
    filename: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` into ``folder`` and verify its SHA-256; return the file's path.

    The bytes stream into a temporary file in ``folder`` (so the final rename stays on one
    file system) while being hashed; only when the digest equals ``sha256`` is the file
    moved into place with ``os.replace``, which is atomic. On any failure (HTTP error,
    network error, checksum mismatch, interruption) the temporary file is deleted and no
    file appears under the final name. A file already in place with the right checksum is
    kept and not downloaded again; one with a wrong checksum is replaced.

    Args:
        url: an ``http://`` or ``https://`` address (other schemes are refused).
        folder: the target folder; created if missing.
        sha256: the expected SHA-256 as 64 hex digits.
        filename: the name to save under; default: the last component of the URL's path.
        timeout: seconds to wait for the server on each blocking operation.

    Returns:
        The path of the verified file.

    Raises:
        DatasetError: on an HTTP or network error, or a checksum mismatch; the message names
            the URL and the problem.
        ValueError: for a malformed ``sha256``, a URL that is not http(s), or a file name
            that is not a plain name.

    Example:
        >>> from bricks.data import datasets
        >>> datasets.download("ftp://example.org/x", ".", "0" * 64)
        Traceback (most recent call last):
        ...
        ValueError: download() takes an http:// or https:// URL, got 'ftp://example.org/x'
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"download() takes an http:// or https:// URL, got {url!r}")
    expected = _check_sha256(sha256)
    if filename is None:
        filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    if not filename or filename in (".", "..") or "/" in filename or os.sep in filename:
        raise ValueError(f"cannot derive a plain file name from {url!r}; pass filename=")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if target.is_file() and sha256sum(target) == expected:
        return target

    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    announced = response.headers.get("Content-Length")
                    received = 0
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                # http.client returns a short body silently when the server hangs up early.
                if announced is not None and announced.isdigit() and received != int(announced):
                    raise DatasetError(
                        f"download of {url} failed: the connection closed after {received} "
                        f"of {announced} bytes"
                    )
            except urllib.error.HTTPError as e:
                raise DatasetError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                reason = getattr(e, "reason", None) or repr(e)
                raise DatasetError(f"download of {url} failed: {reason}") from e
        actual = digest.hexdigest()
        if actual != expected:
            raise DatasetError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; "
                "the file was not saved"
            )
        os.replace(tmp_name, target)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a partial file in the user's folder.
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target
