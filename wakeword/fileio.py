"""Atomic file writes: write to a temporary file beside the target, fsync, then rename.

A reader never sees a half-written file, and a crash (or a full disk) leaves whatever was stored
before untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from wakeword.errors import WriteError


def describe_os_error(exc: OSError) -> str:
    """Return a short human explanation of an ``OSError`` for one-line messages."""
    if exc.errno == errno.ENOSPC:
        return "disk full; free some space and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "not writable; choose a folder you can write to or fix its permissions"
    if exc.errno == errno.ENOENT:
        return "folder does not exist; create it first"
    return exc.strerror or str(exc)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, fsync: bool = True) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only if the ``with`` block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        Final location. Its folder must exist.
    mode : {"wb", "w"}
        Binary or text mode.
    fsync : bool
        Flush to disk before the rename (durable across a power cut). Bulk writers that commit a
        whole folder with one rename of their own may turn it off for speed.

    Raises
    ------
    WriteError
        If the folder is missing or not writable, or the disk is full (the target is untouched).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    target = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise WriteError(target, describe_os_error(exc)) from None
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        _remove_quietly(tmp_name)
        raise WriteError(target, describe_os_error(exc)) from None
    except BaseException:
        _remove_quietly(tmp_name)
        raise


def _remove_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
