"""The journal never follows a link a damaged or hostile workspace carries.

Recovery lists and deletes what the journal directory holds and replays committed entries; a workspace left by a
crash, copied from elsewhere or checked out from git may carry a link where ``.journal`` or one of its own
directories should be. Both are refused in one sentence, and nothing outside the workspace is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ceremony.core import _txn
from ceremony.errors import WorkspaceError


def committed_entry(root: Path, rel: str, data: bytes) -> None:
    """A committed journal entry that writes ``data`` to ``rel``, as a killed command leaves it."""
    entry = root / _txn.JOURNAL_DIR / "0123456789abcdef.commit"
    entry.mkdir(parents=True)
    stage = "0123456789abcdef-1-abcd"
    (entry / stage).write_bytes(data)
    op = {"op": "write", "path": rel, "stage": stage, "sha256": hashlib.sha256(data).hexdigest()}
    (entry / _txn.INTENT_NAME).write_text(json.dumps({"type": "ceremony-journal", "ops": [op]}))


def test_a_linked_journal_is_refused_and_what_it_points_to_is_kept(tmp_path: Path) -> None:
    ws, precious = tmp_path / "ws", tmp_path / "precious"
    ws.mkdir()
    precious.mkdir()
    (precious / "notes").write_text("keep me")
    os.symlink(precious, ws / _txn.JOURNAL_DIR)
    assert _txn.needs_recovery(ws)
    with pytest.raises(WorkspaceError, match=r"\.journal: a link or a file where the workspace's journal must be"):
        _txn.recover(ws)
    with pytest.raises(WorkspaceError, match="journal must be"), _txn.transaction(ws) as txn:
        txn.write("metadata/root.json", b"{}")
    assert (precious / "notes").read_text() == "keep me" and sorted(os.listdir(precious)) == ["notes"]


@pytest.mark.parametrize("rel", ["metadata/planted.json", "targets/sub/planted.txt"])
def test_a_committed_entry_never_writes_through_a_linked_directory(tmp_path: Path, rel: str) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    first = rel.split("/")[0] if rel.startswith("metadata") else "targets/sub"
    if "/" in first:
        (ws / "targets").mkdir()
    os.symlink(outside, ws / first)
    committed_entry(ws, rel, b"planted")
    with pytest.raises(WorkspaceError, match="a link or a file where a directory of the workspace must be"):
        _txn.recover(ws)
    assert list(outside.iterdir()) == []
