"""The backup ledger: which published root versions have a paper backup that was shown to restore.

A backup that was never restored is a hope, not a backup. Two things prove
one: an export followed by a test restore of its printable PDFs that gave
byte-identical files (``recovery.export_with_test_restore``), and a passing
recovery drill (``recovery.drill``). Each records, in its transcript entry,
every file it proved: name, SHA-256 and how (``details["backup_ledger"]``).

The ledger is derived from the verified transcript, never from a file of its
own: a separate list would be one more thing to edit behind the tool's back,
while the transcript is hash-chained and every file it names is checked
against it. A version counts as tested only when a recorded test names its
file with the SHA-256 of the file now in ``metadata/``: a backup of another
file that had the same name (a re-signed or replaced version) does not count.

What this module does not do: make or restore backups (recovery.py), or say
how the result is shown (status.py, dct.py and the clients).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ceremony.core._fs import sha256_hex
from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.core.workspace import Workspace, verify_workspace_transcript
from ceremony.errors import InputFileError, TranscriptError

#: The key of a transcript entry's details that records what a backup test proved.
DETAILS_KEY = "backup_ledger"
#: How a backup was tested -> how the operator reads it.
HOW = {
    "test-restore": "export and test restore of the printable PDFs",
    "drill": "recovery drill",
}
_ROOT_FILE = re.compile(r"([1-9][0-9]{0,8})\.root\.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Versions named one by one in a warning before the rest are condensed into ranges.
_LISTED = 6


@dataclass(frozen=True)
class BackupTest:
    """One recorded test of one file's backup."""

    name: str
    sha256: str
    how: str  # a key of HOW
    time: str  # the transcript entry's UTC time
    source: str  # the backup directory's name, as recorded

    def describe(self) -> str:
        """The test as a short phrase: when and how."""
        return f"tested {self.time} by {HOW.get(self.how, self.how)}"


@dataclass(frozen=True)
class VersionBackup:
    """One published root version and its newest test, if any."""

    version: int
    file: str
    sha256: str
    tested: BackupTest | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "version": self.version,
            "file": self.file,
            "sha256": self.sha256,
            "tested": self.tested is not None,
            "when": self.tested.time if self.tested else None,
            "how": self.tested.how if self.tested else None,
            "backup": self.tested.source if self.tested else None,
        }


@dataclass(frozen=True)
class Ledger:
    """Every published root version, tested or not; ``problem`` when the transcript cannot vouch for any."""

    versions: tuple[VersionBackup, ...]
    problem: str | None = None

    @property
    def untested(self) -> list[int]:
        """Root versions without a tested paper backup."""
        return [v.version for v in self.versions if v.tested is None]

    def lines(self) -> list[str]:
        """One line per root version, for status and home."""
        return [
            f"root v{v.version}: {v.tested.describe() if v.tested else 'no tested paper backup'}" for v in self.versions
        ]

    def warnings(self, workspace: str = "WS") -> list[str]:
        """One sentence for every version missing a tested backup (condensed when many), or for the problem."""
        if self.problem is not None:
            return [f"backup ledger unknown: {self.problem}"]
        missing = self.untested
        if not missing:
            return []
        shown = printable(workspace, 200)
        what = f"root v{missing[0]} has" if len(missing) == 1 else f"root versions {_condensed(missing)} have"
        return [
            f"{what} no tested paper backup: run ceremony export {shown} --out DIR --test-restore (or ceremony drill "
            f"{shown} --backup DIR of an existing backup; in the terminal UI, b)"
        ]

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-ready form: one object per root version."""
        return [v.to_dict() for v in self.versions]


def _condensed(numbers: Sequence[int]) -> str:
    """1, 2 and 4; or, for many, runs: 1-7, 9 and 12-20."""
    if len(numbers) <= _LISTED:
        items = [str(n) for n in numbers]
    else:
        items, start = [], numbers[0]
        for previous, current in zip(numbers, [*numbers[1:], None], strict=True):
            if current != previous + 1:
                items.append(str(start) if start == previous else f"{start}-{previous}")
                if current is not None:
                    start = current
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def details(tested: Sequence[tuple[str, str]], how: str, source: str) -> dict[str, Any]:
    """The transcript details that record a passed test of ``tested`` (file name, SHA-256), for ``append``.

    Raises:
        ValueError: an unknown ``how`` (a programming error, not an operator's).
    """
    if how not in HOW:
        raise ValueError(f"unknown backup test {how!r}")
    files = [{"name": name, "sha256": digest} for name, digest in sorted(set(tested))]
    return {DETAILS_KEY: {"how": how, "backup": source, "files": files}}


def _tests(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], BackupTest]:
    """(file name, SHA-256) -> the newest recorded test of it, from verified transcript entries.

    An entry's details are checked field by field; one that is not exactly the
    recorded form proves nothing (and is skipped, not trusted in part).
    """
    found: dict[tuple[str, str], BackupTest] = {}
    for entry in records:
        entry_details = entry.get("details")
        ledger = entry_details.get(DETAILS_KEY) if isinstance(entry_details, dict) else None
        time = entry.get("time")
        if not isinstance(ledger, dict) or not isinstance(time, str):
            continue
        how, source, files = ledger.get("how"), ledger.get("backup"), ledger.get("files")
        if how not in HOW or not isinstance(source, str) or not isinstance(files, list):
            continue
        if entry.get("command") != how:  # written by the test itself, never by details carried in from a file
            continue
        for item in files:
            name = item.get("name") if isinstance(item, dict) else None
            digest = item.get("sha256") if isinstance(item, dict) else None
            if isinstance(name, str) and isinstance(digest, str) and _SHA256.fullmatch(digest):
                found[(name, digest)] = BackupTest(name, digest, str(how), time, source)
    return found


def backup_ledger(ws: Workspace, files: Mapping[str, bytes] | None = None) -> Ledger:
    """Every published root version (``N.root.json``), with its newest tested paper backup or none.

    Never raises for what it can report: a transcript that does not verify is
    ``problem`` (nothing it records can be vouched for, so no version counts
    as tested). For TUF and Docker Content Trust workspaces alike.

    Args:
        ws: the workspace.
        files: metadata file name -> bytes, as the caller already read (and verified) them;
            read from ``metadata/`` when None.
    """
    if files is None:
        try:
            files = {
                p.name: read_bytes(p, "root metadata", follow_symlinks=False)
                for p in sorted(ws.metadata_dir.glob("*.root.json"))
                if _ROOT_FILE.fullmatch(p.name)
            }
        except InputFileError as err:
            return Ledger((), f"the root metadata cannot be read ({err})")
    try:
        records = verify_workspace_transcript(ws).records
    except TranscriptError as err:
        return ledger_from_records([], files, f"the transcript does not verify ({err})")
    return ledger_from_records(records, files)


def ledger_from_records(
    records: Sequence[Mapping[str, Any]], files: Mapping[str, bytes], problem: str | None = None
) -> Ledger:
    """The ledger from verified transcript records and the root files (name -> bytes), wherever they come from: a
    workspace (``backup_ledger``) or an audit bundle, which has no workspace to read."""
    roots = sorted((int(m.group(1)), name) for name in files if (m := _ROOT_FILE.fullmatch(name)))
    tests = _tests(records)
    versions = []
    for version, name in roots:
        digest = sha256_hex(files[name])
        versions.append(VersionBackup(version, name, digest, tests.get((name, digest))))
    return Ledger(tuple(versions), problem)
