"""The transcript's hash chain detects edits, reordering and deletion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CliRunner, one_line_error


@pytest.fixture
def two_entries(cli: CliRunner, workspace: Path, passphrase_file: Path) -> Path:
    result = cli("key", "check", workspace, "root-1", "--passphrase-file", passphrase_file)
    assert result.returncode == 0, result.stderr
    result = cli("key", "check", workspace, "root-2", "--passphrase-file", passphrase_file)
    assert result.returncode == 0, result.stderr
    return workspace


def _lines(ws: Path) -> list[str]:
    return (ws / "transcript.jsonl").read_text().splitlines(keepends=True)


def _write(ws: Path, lines: list[str]) -> None:
    (ws / "transcript.jsonl").write_text("".join(lines))


def test_fresh_transcript_verifies(cli: CliRunner, two_entries: Path) -> None:
    result = cli("transcript", "verify", two_entries)
    assert result.returncode == 0, result.stderr
    assert "3 entries" in result.stdout
    entry = json.loads(_lines(two_entries)[0])
    assert entry["command"] == "init" and entry["prev"] == "0" * 64
    assert set(entry["files"]) >= {"metadata/1.root.json", "metadata/root.json", "ceremony.json"}
    assert len(entry["keyids"]) == 6 and entry["time"].endswith("Z")


def test_edited_line_detected(cli: CliRunner, two_entries: Path) -> None:
    lines = _lines(two_entries)
    lines[1] = lines[1].replace("key check", "key chack")
    _write(two_entries, lines)
    assert "line 3 does not follow line 2" in one_line_error(cli("transcript", "verify", two_entries))


def test_edited_first_line_detected(cli: CliRunner, two_entries: Path) -> None:
    lines = _lines(two_entries)
    lines[0] = lines[0].replace('"init"', '"inot"')
    _write(two_entries, lines)
    assert "line 2 does not follow line 1" in one_line_error(cli("transcript", "verify", two_entries))


def test_reordered_lines_detected(cli: CliRunner, two_entries: Path) -> None:
    lines = _lines(two_entries)
    lines[1], lines[2] = lines[2], lines[1]
    _write(two_entries, lines)
    assert "does not follow" in one_line_error(cli("transcript", "verify", two_entries))


@pytest.mark.parametrize("index", [0, 1])
def test_deleted_line_detected(cli: CliRunner, two_entries: Path, index: int) -> None:
    lines = _lines(two_entries)
    del lines[index]
    _write(two_entries, lines)
    assert "does not follow" in one_line_error(cli("transcript", "verify", two_entries))


def test_deleted_last_line_detected_by_witness_head(cli: CliRunner, two_entries: Path) -> None:
    head = cli("transcript", "verify", two_entries).stdout.split("transcript head: ")[1].strip()
    _write(two_entries, _lines(two_entries)[:-1])
    assert "were removed" in one_line_error(cli("transcript", "verify", two_entries, "--expect-head", head[:16]))


def test_deleted_only_line_detected(cli: CliRunner, workspace: Path) -> None:
    _write(workspace, [])
    assert "empty" in one_line_error(cli("transcript", "verify", workspace))


def test_changed_file_detected(cli: CliRunner, workspace: Path) -> None:
    target = workspace / "metadata" / "targets.json"
    target.write_bytes(target.read_bytes().replace(b'"version": 1', b'"version": 2'))
    assert "metadata/targets.json: differs" in one_line_error(cli("transcript", "verify", workspace))


def test_unrecorded_file_detected(cli: CliRunner, workspace: Path) -> None:
    (workspace / "metadata" / "2.root.json").write_bytes((workspace / "metadata" / "1.root.json").read_bytes())
    assert "not recorded in the transcript" in one_line_error(cli("transcript", "verify", workspace))
