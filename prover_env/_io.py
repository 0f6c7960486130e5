"""Durable appends: a whole chunk of JSON lines reaches the disk, or none of it stays."""

from __future__ import annotations

import os
from pathlib import Path

from prover_env.error import ResultsWriteError

__all__ = ["append_durably"]


def append_durably(path: str | os.PathLike[str], data: bytes, what: str) -> None:
    """Append ``data`` to ``path`` and fsync it; on failure cut the file back and raise.

    Args:
        path: The file (created if missing).
        data: Whole JSON lines.
        what: What is written, for the error message (``"a result"``, ``"dataset records"``).

    Raises:
        ResultsWriteError: The data could not be written whole (e.g. the disk is full). The file
            was cut back to its size before the call (no torn line is left for a resume to trip
            on) and the message says to free space and rerun.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as e:
        raise ResultsWriteError.from_os_error(path, what, e) from e
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)  # a delayed ENOSPC/EIO surfaces here on some file systems
        except OSError as e:
            restored = True
            try:  # a full disk still lets a file shrink
                os.ftruncate(fd, size)
                os.fsync(fd)
            except OSError:
                restored = False  # readers drop a torn last line anyway
            raise ResultsWriteError.from_os_error(path, what, e, restored) from e
    finally:
        os.close(fd)
