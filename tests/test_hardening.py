"""Regressions from the red team's smaller findings (issue 10): transcript paths, import of a bare root,
modes of output directories, internal errors without secrets, warnings, the journal read as hostile."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner as ClickRunner

from ceremony import cli as ceremony_cli
from ceremony.core import _txn
from ceremony.errors import WorkspaceError
from tests.conftest import VECTORS, CliRunner, one_line_error
from tests.test_changes import ok, tree


def _append_raw_line(ws: Path, files: dict[str, str | None]) -> None:
    """A transcript line chained correctly, naming ``files`` (as an attacker who edits the workspace would)."""
    import hashlib

    path = ws / "transcript.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    entry = {
        "seq": len(lines) + 1,
        "time": "2026-12-01T00:00:00Z",
        "tool": "ceremony 0",
        "command": "x",
        "changes": [],
        "files": files,
        "keyids": [],
        "details": {},
        "prev": hashlib.sha256(lines[-1]).hexdigest(),
    }
    path.write_bytes(b"".join(lines) + json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n")


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.json", "metadata/../../outside.json", ".journal/lock"])
def test_transcript_verify_never_opens_a_path_outside_the_workspace(
    cli: CliRunner, workspace: Path, tmp_path: Path, name: str
) -> None:
    (tmp_path / "outside.json").write_text("{}")
    _append_raw_line(workspace, {name: "0" * 64})
    line = one_line_error(cli("transcript", "verify", workspace))
    assert "not a" in line and "workspace" in line


def test_transcript_verify_does_not_follow_a_symlinked_file(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("outside")
    drill = workspace / "drills" / "drill-x.json"
    drill.parent.mkdir()
    drill.symlink_to(target)
    _append_raw_line(workspace, {"drills/drill-x.json": "0" * 64})
    line = one_line_error(cli("transcript", "verify", workspace))
    assert "symbolic link" in line


def test_import_of_a_directory_holding_only_root_json(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    vector = VECTORS / "python-tuf-repository_data"
    (source / "root.json").write_bytes((vector / "root.json").read_bytes())
    result = cli("import", tmp_path / "ws", "--from", source, "--at", "2026-11-28")
    ok(result)
    assert "Traceback" not in result.stderr
    ok(cli("verify", tmp_path / "ws" / "metadata", "--at", "2026-11-28"))


def test_output_directories_get_0700_and_existing_ones_keep_their_mode(
    cli: CliRunner, workspace: Path, tmp_path: Path
) -> None:
    existing = tmp_path / "existing"
    existing.mkdir()
    existing.chmod(0o755)
    nested = tmp_path / "a" / "b" / "c"
    env = dict(os.environ)
    for out in (existing, nested):
        result = subprocess.run(
            [sys.executable, "-c", "import os, sys; os.umask(0); from ceremony.cli import main; main()", "export",
             str(workspace), "--out", str(out), "--formats", "files"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755
    for directory in (tmp_path / "a", tmp_path / "a" / "b", nested):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in nested.iterdir())


def test_internal_error_is_one_line_without_its_message(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> None:
    marker = "mk-secret-7c1f9a"

    def broken(*_args: object, **_kwargs: object) -> None:
        passphrase = marker  # a local that a traceback with locals would show
        raise RuntimeError(f"failed with {passphrase}")

    monkeypatch.setattr(ceremony_cli.core, "workspace_status", broken)
    monkeypatch.delenv("CEREMONY_DEBUG", raising=False)
    result = ClickRunner().invoke(ceremony_cli.main, ["status", str(workspace)])
    assert result.exit_code == 3
    text = result.output
    assert marker not in text and "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and re.match(r"error: internal error \(RuntimeError at [\w.]+\.py:\d+\)", lines[0])
    assert "report it" in lines[0]


def test_exit_codes_tell_refusal_from_usage(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    refusal = cli("verify", tmp_path / "nowhere")
    assert refusal.returncode == 1
    usage = cli("verify", workspace / "metadata", "--at", "yesterday")
    assert usage.returncode == 2
    one_line_error(usage)


def test_python_warnings_do_not_reach_stderr(cli: CliRunner, workspace: Path) -> None:
    env = dict(os.environ, PYTHONWARNINGS="always")
    result = cli("status", workspace, env=env)
    ok(result)
    assert "Warning" not in result.stderr


def test_a_damaged_journal_cannot_name_a_path_outside(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    """The journal is a workspace file read as hostile after a crash: a committed entry naming ../ is refused."""
    entry = workspace / ".journal" / "0123456789abcdef.commit"
    entry.mkdir(parents=True)
    stage = "0123456789abcdef-0-abcd"
    (entry / stage).write_bytes(b"pwned")
    (entry / "intent.json").write_text(
        json.dumps(
            {
                "type": "ceremony-journal",
                "format": 1,
                "id": "0123456789abcdef",
                "ops": [{"op": "write", "path": "../pwned", "stage": stage, "sha256": "0" * 64}],
            }
        )
    )
    line = one_line_error(cli("status", workspace))
    assert "not a workspace file name" in line
    assert not (tmp_path / "pwned").exists()


def test_journal_replays_a_committed_change_and_drops_an_uncommitted_one(workspace: Path) -> None:
    before = tree(workspace)
    txn = _txn.Transaction(workspace)
    txn.write("metadata/extra.json", b"{}")
    txn.remove("metadata/timestamp.json")
    staging = txn._stage_dir()  # staged, not committed: as if killed here
    txn._unlock()
    assert _txn.needs_recovery(workspace)
    assert any("uncommitted" in line for line in _txn.recover(workspace))
    assert not staging.exists()
    assert {k: v for k, v in tree(workspace).items() if k != ".journal/lock"} == before

    txn = _txn.Transaction(workspace)
    digest = txn.write("metadata/extra.json", b"{}")
    txn.remove("metadata/timestamp.json")
    staging = txn._stage_dir()
    intent = {"type": "ceremony-journal", "format": 1, "id": txn.id, "ops": txn.ops}
    (staging / "intent.json").write_text(json.dumps(intent))
    staging.rename(staging.with_name(f"{txn.id}.commit"))  # committed, then killed before applying
    txn._staging = None
    txn._unlock()
    assert any("completed" in line for line in _txn.recover(workspace))
    assert (workspace / "metadata" / "extra.json").read_bytes() == b"{}"
    assert not (workspace / "metadata" / "timestamp.json").exists()
    assert digest == txn.ops[0]["sha256"]
    assert not _txn.needs_recovery(workspace)


def test_transaction_refuses_paths_outside_the_workspace(workspace: Path) -> None:
    txn = _txn.Transaction(workspace)
    for bad in ("/etc/x", "../x", "a/b/c", ".journal/x", "metadata/../x", ""):
        with pytest.raises(WorkspaceError):
            txn.write(bad, b"")
    txn.abort()


def test_a_second_writer_waits_for_the_lock_and_then_gives_up(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer lock is an flock on the workspace directory: a second writer cannot stage while it is held."""
    monkeypatch.setattr(_txn, "LOCK_WAIT_SECONDS", 0.2)
    held = _txn.lock(workspace)
    try:
        with pytest.raises(WorkspaceError, match="another ceremony command"):
            _txn.Transaction(workspace).write("metadata/x.json", b"{}")
    finally:
        os.close(held)
    assert not (workspace / "metadata" / "x.json").exists()
    assert not (workspace / ".journal").exists() or not any((workspace / ".journal").iterdir())
