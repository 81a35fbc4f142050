"""The backup ledger as read from the transcript: what counts as tested, and what does not.

No backup is made here (tests/test_backup_ledger.py makes real ones): a
ledger entry is appended the way recovery.py appends one, so each rule of
reading it can be shown on its own.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ceremony.core import ledger, transcript
from ceremony.core.workspace import Workspace

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _append(
    ws: Path, details: dict[str, object], files: dict[str, str | None] | None = None, command: str | None = None
) -> None:
    """An entry as the test it records appends it (its command is how it tested), or as ``command``."""
    entry = details.get(ledger.DETAILS_KEY)
    how = entry.get("how") if isinstance(entry, dict) else None
    transcript.append(ws, command or str(how or "drill"), ["a test entry"], files or {}, [], NOW, details)


def test_untested_root_is_a_warning_and_a_recorded_test_clears_it(workspace: Path) -> None:
    ws = Workspace.load(workspace)
    before = ledger.backup_ledger(ws)
    assert before.problem is None and before.untested == [1]
    assert before.lines() == ["root v1: no tested paper backup"]
    (warning,) = before.warnings("WS")
    assert warning.startswith("root v1 has no tested paper backup: run ceremony export WS --out DIR --test-restore")
    assert "ceremony drill WS --backup DIR" in warning

    _append(workspace, ledger.details([("1.root.json", _sha(workspace / "metadata" / "1.root.json"))], "drill", "b"))
    after = ledger.backup_ledger(ws)
    assert after.untested == [] and after.warnings() == []
    (version,) = after.versions
    assert (
        version.tested is not None and version.tested.how == "drill" and version.tested.time == "2026-12-01T12:00:00Z"
    )
    assert after.lines() == ["root v1: tested 2026-12-01T12:00:00Z by recovery drill"]
    assert after.to_dict()[0] | {"sha256": ""} == {
        "version": 1,
        "file": "1.root.json",
        "sha256": "",
        "tested": True,
        "when": "2026-12-01T12:00:00Z",
        "how": "drill",
        "backup": "b",
    }


def test_a_backup_of_another_file_with_the_same_name_does_not_count(workspace: Path) -> None:
    ws = Workspace.load(workspace)
    root = workspace / "metadata" / "1.root.json"
    _append(workspace, ledger.details([("1.root.json", "ab" * 32)], "test-restore", "b"))
    assert ledger.backup_ledger(ws).untested == [1]
    # A tested file, then replaced (the change recorded, so the transcript still verifies): the test was of the
    # old bytes, and no longer counts.
    _append(workspace, ledger.details([("1.root.json", _sha(root))], "test-restore", "b"))
    assert ledger.backup_ledger(ws).untested == []
    root.write_bytes(root.read_bytes() + b"\n")
    _append(workspace, {}, {"metadata/1.root.json": _sha(root)})
    assert ledger.backup_ledger(ws).problem is None
    assert ledger.backup_ledger(ws).untested == [1]


@pytest.mark.parametrize(
    "entry",
    [
        {"how": "a photo of it", "backup": "b", "files": [{"name": "1.root.json", "sha256": "SHA"}]},
        {"how": "drill", "backup": 7, "files": [{"name": "1.root.json", "sha256": "SHA"}]},
        {"how": "drill", "backup": "b", "files": {"name": "1.root.json", "sha256": "SHA"}},
        {"how": "drill", "backup": "b", "files": [{"name": "1.root.json", "sha256": "UPPER"}]},
        {"how": "drill", "backup": "b", "files": [["1.root.json", "SHA"]]},
        "drill",
    ],
    ids=["unknown how", "backup not text", "files not a list", "digest upper case", "file not an object", "a string"],
)
def test_a_malformed_entry_proves_nothing(workspace: Path, entry: object) -> None:
    sha = _sha(workspace / "metadata" / "1.root.json")
    text = json.dumps(entry).replace('"SHA"', json.dumps(sha)).replace('"UPPER"', json.dumps(sha.upper()))
    _append(workspace, {ledger.DETAILS_KEY: json.loads(text)})
    assert ledger.backup_ledger(Workspace.load(workspace)).untested == [1]


def test_a_transcript_that_does_not_verify_vouches_for_nothing(workspace: Path) -> None:
    ws = Workspace.load(workspace)
    _append(workspace, ledger.details([("1.root.json", _sha(workspace / "metadata" / "1.root.json"))], "drill", "b"))
    path = workspace / transcript.TRANSCRIPT_NAME
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0].replace(b'"seq":1', b'"seq":1 '), *lines[1:]]))
    result = ledger.backup_ledger(ws)
    assert result.untested == [1] and result.problem is not None
    (warning,) = result.warnings()
    assert warning.startswith("backup ledger unknown: the transcript does not verify (")


def test_many_missing_versions_are_one_condensed_sentence() -> None:
    def of(untested: list[int], newest: int) -> ledger.Ledger:
        test = ledger.BackupTest("x", "0" * 64, "drill", "t", "b")
        return ledger.Ledger(
            tuple(
                ledger.VersionBackup(v, f"{v}.root.json", "0" * 64, None if v in untested else test)
                for v in range(1, newest + 1)
            )
        )

    assert of([1, 2, 4], 4).warnings()[0].startswith("root versions 1, 2 and 4 have no tested paper backup: ")
    many = [*range(1, 8), 9, *range(12, 21)]
    (warning,) = of(many, 21).warnings()
    assert warning.startswith("root versions 1-7, 9 and 12-20 have no tested paper backup: ")
    assert of([], 3).warnings() == []


def test_an_unknown_way_of_testing_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown backup test"):
        ledger.details([("1.root.json", "0" * 64)], "looked at it", "b")


def test_a_ledger_record_counts_only_in_the_entry_of_the_test_itself(workspace: Path) -> None:
    """Details carried into another command's entry (a change's, a forged request's) prove no backup."""
    ws = Workspace.load(workspace)
    proof = ledger.details([("1.root.json", _sha(workspace / "metadata" / "1.root.json"))], "drill", "b")
    _append(workspace, proof, command="extend")
    assert ledger.backup_ledger(ws).untested == [1]
    _append(workspace, proof)
    assert ledger.backup_ledger(ws).untested == []
