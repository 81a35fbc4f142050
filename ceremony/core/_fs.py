"""Crash-safe file writes with owner-only permissions.

A ceremony may be interrupted at any moment (a power cut, a pulled USB stick,
Ctrl-C at 2 a.m.). Every file is therefore written to a temporary name in the
same directory, flushed with fsync, given mode 0600, and renamed over its final
name; the directory is fsynced so the rename itself survives. A reader sees the
old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename or create inside it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents, each with mode 0700; leave existing directories alone.

    A directory that exists keeps its mode: an operator's ``--out`` directory
    is theirs, and a directory made read-only on purpose must stay read-only
    (a write that then fails must change nothing, modes included). Each
    directory created here gets 0700 whatever the umask, parents too.
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        directory.chmod(DIR_MODE)  # mkdir's mode is masked by the umask


def write_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically with mode 0600 and return its SHA-256.

    The temporary file is created with mode 0600 from the start (mkstemp), so a
    key file is never readable by others, not even for an instant.
    """
    path = Path(path)
    tmp = _complete_temporary(path.parent, path.name, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return sha256_hex(data)


def _complete_temporary(directory: Path, name: str, data: bytes) -> str:
    """A temporary file beside ``name`` in ``directory`` holding ``data``, flushed to disk, mode 0600 from its
    creation (mkstemp): what a rename then puts in place, complete. Removed again if anything fails."""
    import tempfile  # only when writing: read-only commands never load it

    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic_many(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write each of ``files`` (name -> bytes) into ``directory`` as write_atomic does, with one directory flush.

    Each file is complete or absent and 0600 from the start, as with write_atomic; the directory entries are
    flushed once for all of them instead of once per file (an export writes twenty files: half its flushes).
    A name is one path component, never a path.

    Raises:
        ValueError: a name with a separator, or ``.``/``..``.
        OSError: a write failed; the files renamed before it stay (each complete), the rest are absent.
    """
    directory = Path(directory)
    for name in files:
        if not name or name in (".", "..") or "/" in name or "\0" in name or (os.sep != "/" and os.sep in name):
            raise ValueError(f"not a file name: {name!r}")
    written: list[tuple[str, str]] = []
    try:
        for name, data in files.items():
            written.append((_complete_temporary(directory, name, data), name))
        while written:
            tmp, name = written[0]
            os.replace(tmp, directory / name)
            written.pop(0)
    finally:
        for tmp, _ in written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    fsync_dir(directory)


def write_new(path: Path, data: bytes) -> str:
    """Write ``data`` to a new file ``path`` (mode 0600, complete or absent), never over an existing one.

    For files handed to someone outside the workspace (a key file, a bundle): the name is taken with a
    hard link from a complete temporary file, so a file created at ``path`` meanwhile is never replaced
    (without hard links, as on FAT: an exclusive empty claim, then a rename of the complete file over it).

    Raises:
        FileExistsError: ``path`` exists.
    """
    import tempfile  # only when writing: read-only commands never load it

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        try:
            os.link(tmp, path)
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # FAT and exFAT sticks have no hard links: claim the name exclusively (empty), then rename the complete
            # file over it, so a kill or a pulled stick leaves at worst an empty file, never half of one.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE))
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(path.parent)
    return sha256_hex(data)


def create_exclusive(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist: O_EXCL) with ``data``, mode 0600, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
