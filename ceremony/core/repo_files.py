"""A repository's metadata directory read as a TUF client fetches it, and how large each file may be.

Reading a directory, an entry named like metadata that is not a readable
regular file is refused, never taken as absent; ``read_client_files`` reads
only the files a client fetches, without following links, and refuses
anything else. What is read is checked by ``verify.verify_files``, on
exactly the bytes returned. ``SizeLimits`` are python-tuf's
``UpdaterConfig`` download limits, which ``--max-bytes`` may raise.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ceremony.core._fs import sha256_hex
from ceremony.core._json import MAX_FILE_BYTES, read_bytes, require_regular_file
from ceremony.core._text import printable
from ceremony.core.envelope import Envelope, delegations_of, load_envelope, parse_envelope
from ceremony.errors import InputFileError, UsageError, VerificationError

ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json\Z")


# --------------------------------------------------------------------------- size limits


@dataclass(frozen=True)
class SizeLimits:
    """The largest metadata file accepted per role, in bytes; the defaults are python-tuf's ``UpdaterConfig``.

    ``snapshot`` applies unless timestamp.json gives the snapshot's length,
    ``targets`` (top-level and delegated) unless the snapshot gives one: a
    client then downloads exactly that many bytes, as here.
    """

    root: int = 512_000
    timestamp: int = 16_384
    snapshot: int = 2_000_000
    targets: int = 5_000_000

    #: The most an auditor may raise a limit to: the file is read into memory.
    CEILING = 1 << 30

    @classmethod
    def parse(cls, specs: Iterable[str]) -> SizeLimits:
        """Limits from ``ROLE=BYTES`` values (``--max-bytes``), the others at their defaults.

        Args:
            specs: values such as ``"root=1000000"``; ROLE is root, timestamp,
                snapshot or targets (targets covers delegated roles too).

        Raises:
            UsageError: a value is not ROLE=BYTES, names another role, gives a
                role twice, or a size that is not a whole number from 1 to 2**30.

        Returns:
            The limits.
        """
        names = [f.name for f in fields(cls)]
        given: dict[str, int] = {}
        for spec in specs:
            role, sep, size = str(spec).partition("=")
            role, size = role.strip(), size.strip().replace("_", "")
            if not sep or role not in names:
                raise UsageError(
                    f"--max-bytes {printable(spec)!r} is not ROLE=BYTES with ROLE one of {', '.join(names)}"
                )
            if role in given:
                raise UsageError(f"--max-bytes gives {role} twice")
            if not size.isascii() or not size.isdigit() or not 1 <= int(size) <= cls.CEILING:
                raise UsageError(
                    f"--max-bytes {printable(spec)!r}: BYTES must be a whole number from 1 to {cls.CEILING:,}"
                )
            given[role] = int(size)
        return replace(cls(), **given)

    def largest(self) -> int:
        """The largest of the limits."""
        return max(self.root, self.timestamp, self.snapshot, self.targets)


DEFAULT_LIMITS = SizeLimits()


def check_size(name: str, data: bytes, limit: int, role: str, given_length: bool = False) -> None:
    """Refuse ``data`` longer than a client would download for ``name``."""
    if len(data) > limit:
        why = (
            "the length its delegating file gives"
            if given_length
            else f"the {role} limit clients download (raise it with --max-bytes {role}=BYTES)"
        )
        raise VerificationError(f"{name}: {len(data):,} bytes, more than {limit:,}, {why}", name, "size")


# --------------------------------------------------------------------------- file names


def client_file(files: Container[str], role: str, version: int, consistent: bool) -> tuple[str, str | None]:
    """The name a client fetches for ``role`` at ``version``, and the name present here to read (None: absent).

    With consistent snapshots a client fetches ``N.role.json``. A repository's
    source tree often keeps only ``role.json`` (Sigstore's root-signing
    repositories publish the numbered copies at release), so ``role.json`` is
    read in its place; its version is checked against the delegator's all the same.
    """
    plain = f"{role}.json"
    if not consistent:
        return plain, plain if plain in files else None
    numbered = f"{version}.{role}.json"
    if numbered in files:
        return numbered, numbered
    return numbered, plain if plain in files else None


# --------------------------------------------------------------------------- reading directories


def read_limit(limits: SizeLimits) -> int:
    """How much of one file to read: enough for any limit, never less than the usual bound."""
    return max(MAX_FILE_BYTES, limits.largest())


def read_metadata_dir(directory: Path, *, limits: SizeLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read every ``*.json`` entry directly inside ``directory``.

    An entry named like metadata that is not a readable regular file (a
    directory, a FIFO, a dangling or looping symbolic link) is refused, not
    skipped: a client fetching that name would fail, so treating it as absent
    could turn a broken repository into a valid-looking one.

    Raises:
        InputFileError: the directory is missing or unreadable, or an entry is
            not a readable regular file (the entry is named).
    """
    directory = Path(directory)
    if not directory.is_dir():
        _scan(directory)  # names what is wrong: missing, or not a directory
    limit = read_limit(limits)
    return {p.name: read_bytes(p, "metadata file", limit) for p in sorted(directory.glob("*.json"))}


class MetadataDirectory(Mapping[str, bytes]):
    """The ``*.json`` entries directly inside a directory, each read from disk when it is looked up.

    For ``verify``: a chain of 10,000 roots is 50 MB that need not be in memory at once, since each file is
    looked at once or twice in turn. Every entry is checked to be a regular file when the directory is opened
    (a directory, FIFO or dangling link named like metadata is refused, not skipped, as ``read_metadata_dir``
    does); an entry that is unreadable or over the size bound is refused when it is looked up, so one that no
    client would fetch is never looked at. Each lookup reads the file again: a caller that must see the same
    bytes twice compares them (verify's chain does, by digest).
    """

    def __init__(self, directory: Path, limits: SizeLimits = DEFAULT_LIMITS) -> None:
        directory = Path(directory)
        if not directory.is_dir():
            _scan(directory)  # names what is wrong: missing, or not a directory
        self._directory = directory
        self._limit = read_limit(limits)
        self._names = sorted(p.name for p in directory.glob("*.json"))
        self._present = frozenset(self._names)
        for name in self._names:
            require_regular_file(directory / name, "metadata file")

    def __getitem__(self, name: str) -> bytes:
        if name not in self._present:
            raise KeyError(name)
        return read_bytes(self._directory / name, "metadata file", self._limit)

    def __contains__(self, name: object) -> bool:
        return name in self._present

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _scan(directory: Path) -> list[str]:
    """Names of every entry in ``directory`` (never following links).

    Raises:
        InputFileError: the directory is missing or unreadable.
    """
    try:
        with os.scandir(directory) as entries:
            return sorted(e.name for e in entries)
    except FileNotFoundError as err:
        raise InputFileError(f"{directory}: metadata directory not found") from err
    except NotADirectoryError as err:
        raise InputFileError(f"{directory}: not a directory") from err
    except OSError as err:
        raise InputFileError(f"{directory}: cannot list the metadata directory ({err.strerror})") from err


def _meta_version(env: Envelope, name: str) -> int | None:
    """The version ``env`` (timestamp or snapshot, already checked) lists for ``name``, if any."""
    entry = env.signed["meta"].get(name)
    return entry["version"] if entry is not None else None


#: tuf-on-ci keeps every root version as ``metadata/root_history/N.root.json`` (and publishes them as N.root.json).
TUF_ON_CI_HISTORY = "root_history"


def _root_history(directory: Path, entries: set[str]) -> dict[str, Path]:
    """``N.root.json`` -> path of a tuf-on-ci checkout's ``root_history/`` (empty for any other layout).

    Only root version files may be in it (each a regular file, never a link); a version also present beside
    it must hold the same bytes, or which of the two a client sees would depend on the server.

    Raises:
        InputFileError: anything else in ``root_history/``, or two different files for one version.
    """
    history = directory / TUF_ON_CI_HISTORY
    if TUF_ON_CI_HISTORY not in entries or history.is_symlink() or not history.is_dir():
        return {}
    found = {}
    for name in _scan(history):
        if not ROOT_FILE.match(name):
            raise InputFileError(
                f"{history / printable(name, 120)}: not a root version file (tuf-on-ci's root_history/ holds "
                "only N.root.json)"
            )
        found[name] = history / name
    for name in sorted(set(found) & entries):
        if read_bytes(found[name], "metadata file", follow_symlinks=False) != read_bytes(
            directory / name, "metadata file", follow_symlinks=False
        ):
            raise InputFileError(f"{history / name}: differs from {directory / name}, which holds the same version")
    return found


def read_client_files(directory: Path, *, limits: SizeLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read exactly the files a TUF client would fetch from ``directory``, each once, and refuse anything else.

    The names follow the client's walk: ``N.root.json`` from the lowest
    present upward with no gap, ``root.json``, ``timestamp.json``, the snapshot
    it names (``N.snapshot.json`` with consistent snapshots, or
    ``snapshot.json`` where only that is kept, as verify reads it), the
    targets the snapshot names, and every delegated role reachable from
    targets that the snapshot lists, by the name the client would fetch.
    Symbolic links are never followed. Files are parsed only to learn the
    next names: nothing is verified here (``verify.verify_files`` does that, on
    exactly the bytes returned).

    Args:
        directory: the repository's metadata directory.
        limits: size limits; each file is read up to the largest of them (or 16 MiB).

    Raises:
        InputFileError: the directory cannot be listed, a file a client fetches
            is a symbolic link, not a regular file or unreadable, or the
            directory holds any other entry (each named).
        VerificationError: a file needed to learn the next names is malformed.

    Returns:
        ``{file name: bytes}`` of the files a client fetches, for ``verify_files``.
    """
    directory = Path(directory)
    entries = set(_scan(directory))
    limit = read_limit(limits)
    files: dict[str, bytes] = {}
    history = _root_history(directory, entries)
    entries |= set(history)

    def take(name: str) -> bytes:
        if name not in files:
            where = history.get(name, directory / name)
            files[name] = read_bytes(where, "metadata file", limit, follow_symlinks=False)
        return files[name]

    numbered = sorted(int(m.group(1)) for n in entries if (m := ROOT_FILE.match(n)))
    newest: Envelope | None = None
    if numbered:
        version = numbered[0]
        while f"{version}.root.json" in entries:
            newest = parse_envelope(f"{version}.root.json", take(f"{version}.root.json"), "root")
            version += 1
    if "root.json" in entries:
        plain = parse_envelope("root.json", take("root.json"), "root")
        newest = newest or plain
    consistent = bool(newest and newest.signed.get("consistent_snapshot") is True)

    def fetch(role: str, version: int | None, role_type: str) -> Envelope | None:
        if version is None:
            return None
        _wanted, name = client_file(entries, role, version, consistent)
        return load_envelope(name, take(name), role_type) if name else None

    if "timestamp.json" in entries:
        timestamp = load_envelope("timestamp.json", take("timestamp.json"), "timestamp")
        snapshot = fetch("snapshot", _meta_version(timestamp, "snapshot.json"), "snapshot")
        if snapshot is not None:
            targets = fetch("targets", _meta_version(snapshot, "targets.json"), "targets")
            queue, seen = ([targets] if targets else []), {"targets"}
            while queue:
                parent = queue.pop(0)
                for name, _role in delegations_of(parent):
                    if name in seen:
                        continue
                    seen.add(name)
                    child = fetch(name, _meta_version(snapshot, f"{name}.json"), "targets")
                    if child is not None:
                        queue.append(child)

    if history:
        entries.discard(TUF_ON_CI_HISTORY)
    for name in sorted(entries - set(files)):
        path = directory / name
        try:
            mode = path.lstat().st_mode
        except OSError:
            mode = 0
        kind = (
            "a symbolic link"
            if stat.S_ISLNK(mode)
            else "a directory"
            if stat.S_ISDIR(mode)
            else "a file"
            if stat.S_ISREG(mode)
            else "an entry"
        )
        reason = (
            "after a gap in the root chain, so no client fetches it"
            if ROOT_FILE.match(name)
            else "that no TUF client would fetch from this repository"
        )
        raise InputFileError(
            f"{directory / printable(name, 120)}: {kind} {reason}; only the metadata a client fetches may be in "
            "the directory (move anything else out)"
        )
    return files


def file_digest(data: bytes) -> str:
    """SHA-256 hex of ``data`` (re-exported for callers that report hashes)."""
    return sha256_hex(data)
