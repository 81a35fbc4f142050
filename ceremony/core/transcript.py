"""The workspace transcript: an append-only, hash-chained record of every change.

Each command that changes the workspace adds one JSON line to
``transcript.jsonl``: UTC time, command, what changed, the SHA-256 of every
file written, the key ids used, and ``prev``: the SHA-256 of the previous line's
exact bytes (64 zeros for the first). Editing, reordering or deleting a line
breaks the chain; deleting the last line leaves files that no line accounts
for. ``verify_transcript`` checks both.

Never a secret: callers pass only public facts; the entry builder takes no
passphrase or PIN arguments by construction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ceremony import __version__
from ceremony.core import _txn
from ceremony.core import roles as _roles
from ceremony.core._fs import sha256_hex
from ceremony.core._json import loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.errors import CeremonyError, InputFileError, TranscriptError

TRANSCRIPT_NAME = "transcript.jsonl"
GENESIS = "0" * 64
#: A transcript grows by a line or two per ceremony; 64 MiB is decades of them, and bounds a hostile one.
MAX_TRANSCRIPT_BYTES = 64 * 1024 * 1024
#: Top-level files and directories a transcript line may name; anything else (an absolute path,
#: ``..``, another directory) is refused before it is opened.
TRACKED_FILES = ("ceremony.json",)
TRACKED_DIRS = ("metadata", "keys", "pending", "drills", "requests", "plans")


def _lines(path: Path) -> list[bytes]:
    """The transcript's lines with their newline, as stored."""
    if not path.exists() and not path.is_symlink():
        return []
    try:
        data = read_bytes(path, "transcript", MAX_TRANSCRIPT_BYTES, follow_symlinks=False)
    except InputFileError as err:
        raise TranscriptError(str(err)) from err
    return data.splitlines(keepends=True)


def check_tracked_name(name: object, source: str) -> str:
    """A file name a transcript line records: the config, or one file directly inside a tracked directory.

    Raises:
        TranscriptError: anything else (absolute, ``..``, hidden, another directory).
    """
    try:
        if not isinstance(name, str):
            raise TypeError
        _txn.check_rel_path(name, source)
    except (TypeError, CeremonyError) as err:
        raise TranscriptError(f"{source}: names {printable(repr(name), 200)}, which is not a workspace file") from err
    directory, _sep, _base = name.rpartition("/")
    if name.startswith(f"{_roles.TARGETS_DIR}/"):  # target files, in subdirectories too (check_rel_path's rule)
        return name
    if (directory and directory not in TRACKED_DIRS) or (not directory and name not in TRACKED_FILES):
        raise TranscriptError(f"{source}: names {printable(repr(name), 200)}, which is not a file the workspace tracks")
    return name


def build_entry(
    previous: list[bytes],
    command: str,
    changes: list[str],
    files: Mapping[str, str | None],
    keyids: list[str],
    now: datetime,
    details: dict[str, Any] | None = None,
) -> bytes:
    """One transcript line (bytes, newline-terminated) chained to ``previous``."""
    prev = sha256_hex(previous[-1]) if previous else GENESIS
    entry = {
        "seq": len(previous) + 1,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": f"ceremony {__version__}",
        "command": command,
        "changes": changes,
        "files": dict(files),  # name -> SHA-256, or None: removed
        "keyids": keyids,
        "details": details or {},
        "prev": prev,
    }
    return (json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def append(
    workspace: Path,
    command: str,
    changes: list[str],
    files: Mapping[str, str | None],
    keyids: list[str],
    now: datetime,
    details: dict[str, Any] | None = None,
    txn: _txn.Transaction | None = None,
) -> str:
    """Append an entry to the workspace transcript; return its line hash.

    With ``txn`` the new transcript is staged in that transaction and becomes
    the transcript when it commits, together with the files the line records;
    without, the line is a transaction of its own. Either way a crash leaves the
    old transcript or the new one, never a torn last line, and Ctrl-C arrives
    before the line or after it.
    """
    if txn is None:
        with _txn.transaction(workspace) as own:
            return append(workspace, command, changes, files, keyids, now, details, own)
    path = Path(workspace) / TRANSCRIPT_NAME
    staged = txn.staged(TRANSCRIPT_NAME)
    previous = staged.splitlines(keepends=True) if staged is not None else _lines(path)
    line = build_entry(previous, command, changes, files, keyids, now, details)
    txn.write(TRANSCRIPT_NAME, b"".join(previous) + line)
    return sha256_hex(line)


@dataclass
class TranscriptReport:
    """Result of checking a transcript."""

    entries: int = 0
    head: str = ""
    files_checked: dict[str, str] = field(default_factory=dict)
    superseded: int = 0
    #: Every entry as parsed, in order, from the same bytes the chain check read (the backup ledger reads
    #: them here, so what it trusts is what was verified).
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: The lines checked, as stored.
    lines: list[bytes] = field(default_factory=list, repr=False)
    #: Each file name the lines record -> the SHA-256 the last of them recorded (None: removed).
    latest: dict[str, str | None] = field(default_factory=dict, repr=False)


def check_lines(lines: Sequence[bytes], source: str) -> TranscriptReport:
    """The hash chain of transcript lines (as stored, each with its newline), without the files they name: what a
    workspace's transcript and an audit bundle's are both held to.

    Raises:
        TranscriptError: an empty transcript, a broken chain, or a malformed line (naming ``source`` and the line).
    """
    if not lines:
        raise TranscriptError(f"{source}: the transcript is empty")
    prev = GENESIS
    latest: dict[str, str | None] = {}
    report = TranscriptReport(entries=len(lines))
    for number, line in enumerate(lines, start=1):
        if not line.endswith(b"\n"):
            raise TranscriptError(f"{source}: line {number} is incomplete (no newline)")
        try:
            entry = loads_strict(line, f"{source} line {number}")
        except InputFileError as err:
            raise TranscriptError(str(err)) from err
        if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
            raise TranscriptError(f"{source}: line {number} is not a transcript entry")
        for name, digest in entry["files"].items():
            check_tracked_name(name, f"{source} line {number}")
            if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
                raise TranscriptError(f"{source}: line {number} records {name!r} with a malformed SHA-256")
        if entry.get("prev") != prev:
            raise TranscriptError(
                f"{source}: line {number} does not follow line {number - 1} "
                "(the chain is broken: a line was edited, removed or reordered)"
            )
        if entry.get("seq") != number:
            raise TranscriptError(f"{source}: line {number} carries sequence number {entry.get('seq')}")
        for name, digest in entry["files"].items():
            if name in latest:
                report.superseded += 1
            latest[name] = digest
        report.records.append(entry)
        prev = sha256_hex(line)
    report.head = prev
    report.lines = list(lines)
    report.latest = latest
    return report


def verify_transcript(workspace: Path, tracked: list[str], expect_head: str | None = None) -> TranscriptReport:
    """Check the hash chain and that the files it names still match.

    The chain alone cannot reveal that its newest lines were cut off; files
    they wrote then no longer match, and a witness who noted the head hash
    printed after a command can pass it as ``expect_head``.

    Args:
        workspace: the workspace directory.
        tracked: workspace-relative paths of every file that must be accounted
            for by the transcript (metadata, keys, config).
        expect_head: a line hash (or a prefix of at least 12 hex digits) that
            must still be in the chain.

    Raises:
        TranscriptError: a broken chain, a malformed line, a file that differs
            from its last recorded hash, or a file no line records.
    """
    path = Path(workspace) / TRANSCRIPT_NAME
    if not path.exists():
        raise TranscriptError(f"{path}: transcript not found")
    report = check_lines(_lines(path), str(path))
    lines, latest = report.lines, report.latest
    if expect_head is not None:
        wanted = expect_head.strip().lower()
        if len(wanted) < 12:
            raise TranscriptError("--expect-head needs at least 12 hex digits of the recorded head")
        if not any(sha256_hex(line).startswith(wanted) for line in lines):
            raise TranscriptError(
                f"{path}: no line has hash {wanted[:16]}...: lines recorded by a witness were removed"
            )
    root = Path(workspace)
    for name, digest in sorted(latest.items()):
        file_path = root / name
        if digest is None:
            if file_path.exists() or file_path.is_symlink():
                raise TranscriptError(f"{name}: the transcript records it as removed, but it exists")
            continue
        if not file_path.is_file() and not file_path.is_symlink():
            raise TranscriptError(f"{name}: named in the transcript but missing from the workspace")
        try:
            actual = sha256_hex(read_bytes(file_path, "workspace file", follow_symlinks=False))
        except InputFileError as err:
            raise TranscriptError(str(err)) from err
        if actual != digest:
            raise TranscriptError(f"{name}: differs from the SHA-256 the transcript last recorded for it")
        report.files_checked[name] = digest
    for name in tracked:
        if name not in latest:
            raise TranscriptError(f"{name}: present in the workspace but not recorded in the transcript")
    return report
