"""The lock a batch holds on its output file (``OUTPUT.lock``), so that two runs never
answer into one file, and that leaves no file behind once the batch ends. A search holds
the same lock on its run directory's ``search.json``.

The lock is an ``flock`` taken through `filelock` (kernel-held: a killed run never leaves a
stale lock). On every end of the batch (normal, error, Ctrl-C) the lock file is unlinked
*while still held*, then released. A second run that opened the old file just before can
then take the lock on an unlinked inode, which would let a third run lock a new file at the
same path: the ``on_acquired`` check refuses a lock whose file is no longer the one at the
path (filelock rolls the acquisition back), so such a run sees the lock as busy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from ._exceptions import InvalidInputError

__all__ = ["folder_problem", "make_folder", "output_lock", "output_lock_path"]


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` can be neither used nor made as a folder, or None: a file on its path
    (``folder`` itself or the nearest of its parents that exists). Checked before anything
    is written, so the caller says so instead of raising mkdir's FileExistsError or
    NotADirectoryError at its end."""
    for place in (folder, *folder.parents):
        if place.exists():
            return None if place.is_dir() else f"{place} is a file, not a folder"
    return None


def make_folder(folder: Path) -> str | None:
    """Make ``folder`` and its parents; why that failed (the place and the system's reason:
    no permission, a read-only file system), or None once it exists."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"{error.filename or folder}: {error.strerror or error}"
    return None


def output_lock_path(output: Path) -> Path:
    """The lock file of an answers file: ``OUTPUT.lock`` beside it."""
    return output.with_name(output.name + ".lock")


@contextmanager
def output_lock(output: Path, *, busy: str | None = None) -> Iterator[None]:
    """Hold ``output``'s lock for the block; the lock file is gone after it.

    Args:
        output: the file the lock guards.
        busy: the refusal's message when another run holds the lock (default: a batch's,
            naming ``output`` and the lock file).

    Raises:
        InvalidInputError: another run holds the lock, or the lock file cannot be made
            beside ``output`` (a folder this process may not write in).
    """
    path = output_lock_path(output)

    def still_ours(fd: int) -> None:
        try:
            linked = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            linked = False
        if not linked:
            raise Timeout(str(path))  # the holder removed this file as it ended: busy

    lock = FileLock(path, thread_local=False, on_acquired=still_ours)
    try:
        lock.acquire(timeout=0)
    except Timeout:  # a TimeoutError, so an OSError: before the clause below
        if (refused := _creation_refused(path)) is not None:  # nobody holds it
            raise InvalidInputError(_unwritable(output, path, refused)) from None
        raise InvalidInputError(
            busy
            or f"{output}: another run is writing these answers (its lock {path} is held); "
            "wait for it to end, or give another --output"
        ) from None
    except OSError as error:  # no permission, a read-only file system
        raise InvalidInputError(_unwritable(output, path, error)) from None
    try:
        yield
    finally:
        with suppress(FileNotFoundError):
            path.unlink()  # before the release: no other run can hold it in between
        lock.release()


def _creation_refused(path: Path) -> OSError | None:
    """Why the lock file ``path`` cannot be created, when no file is there to be held (for
    some paths filelock reads a refused creation as a busy lock); None when it can be, or
    is there (a holder's)."""
    if path.exists():
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return None
    except OSError as error:
        return error
    os.close(fd)  # a holder removed it as it ended, just now: busy a moment ago
    with suppress(FileNotFoundError):
        path.unlink()
    return None


def _unwritable(output: Path, path: Path, error: OSError) -> str:
    return (
        f"{output}: its lock file {path} cannot be made ({error.strerror or error}): "
        "give a place this process can write in"
    )
