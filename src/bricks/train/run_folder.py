"""Run folders: the one place where ``bricks train`` writes, guarded against accidents
and against files planted by someone else.

A run folder holds ``checkpoint.safetensors``, ``config.toml``, the history and the plots,
every one written with :func:`bricks.io.atomic_write` (a temporary file renamed over the
target, so a planted symbolic link is replaced, never followed).  Before writing,
:func:`check_run_folder` refuses a folder that is itself a symbolic link or holds one, and
:class:`RunLock` makes sure only one process writes to a folder at a time: a second
``bricks train --out SAME`` (or ``--resume SAME``) is refused while the first runs, instead
of both writing and leaving a checkpoint of one run next to the config of the other.
"""

from __future__ import annotations

import contextlib
import os
import stat

from bricks.io import remove_stale_temp_files

__all__ = ["RunFolderError", "check_run_folder", "RunLock", "LOCK_NAME"]

LOCK_NAME = ".bricks.lock"

try:  # POSIX; Windows falls back to an exclusive create (see RunLock)
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None


class RunFolderError(ValueError):
    """A run folder that bricks will not write to (a symbolic link, one in use)."""


def check_run_folder(folder) -> None:
    """Refuse a run folder that is a symbolic link or holds any.

    Outputs are written by renaming over their names, which never follows a link, but a
    folder with planted links is not one that ``bricks train`` made: refusing it says so
    early instead of silently replacing someone's link.

    Raises:
        RunFolderError: naming the link and where it points.
    """
    folder = os.fspath(folder)
    if os.path.islink(folder):
        raise RunFolderError(f"the run folder {folder} is a symbolic link (to "
                             f"{os.readlink(folder)}); give the real folder")
    if not os.path.isdir(folder):
        raise RunFolderError(f"{folder} is not a folder")
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_symlink():
                raise RunFolderError(
                    f"the run folder {folder} holds a symbolic link {entry.name} -> "
                    f"{os.readlink(entry.path)}; bricks writes only into folders without "
                    f"links (remove it, or use another folder)")


class RunLock:
    """An exclusive lock on a run folder while a process trains into it.

    ``with RunLock(folder):`` takes an advisory lock on ``folder/.bricks.lock`` (``flock``,
    released by the kernel when the process ends, however it ends) or raises
    :class:`RunFolderError` at once if another process holds it.  With the lock held, the
    temporary files that a killed writer left in the folder are removed.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with RunLock(folder):
        ...     try:
        ...         RunLock(folder).acquire()
        ...     except RunFolderError as err:
        ...         print(str(err).split(":")[0])
        another bricks process is writing to this run folder
    """

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_NAME)
        self._fd = None

    def acquire(self) -> RunLock:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        if _fcntl is None:  # pragma: no cover - Windows: the file's existence is the lock
            flags |= os.O_EXCL
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileExistsError:  # pragma: no cover - Windows
            raise self._busy() from None
        except OSError as err:  # a planted link (ELOOP), a folder by that name, ...
            raise RunFolderError(f"cannot lock the run folder {self.folder}: {err.strerror} "
                                 f"({LOCK_NAME})") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RunFolderError(f"cannot lock the run folder {self.folder}: {LOCK_NAME} "
                                 f"is not a regular file")
        if _fcntl is not None:
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            except OSError:
                owner = b""
                with contextlib.suppress(OSError):
                    owner = os.pread(fd, 32, 0)
                os.close(fd)
                raise self._busy(owner.decode("ascii", "replace").strip()) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        remove_stale_temp_files(self.folder, min_age=0)  # ours to clean: nobody else writes
        return self

    def _busy(self, owner: str = "") -> RunFolderError:
        who = f" (pid {owner})" if owner.isdigit() else ""
        return RunFolderError(f"another bricks process is writing to this run folder: "
                              f"{self.folder}{who}; wait for it to end or choose another "
                              f"--out")

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if _fcntl is None:  # pragma: no cover - Windows
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            return
        os.close(fd)  # closing drops the flock; the empty file stays (unlinking would race)

    def __enter__(self) -> RunLock:
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
