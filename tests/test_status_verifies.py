"""status checks the root chain it reports on: a broken root is a refusal, not "days left".

``ceremony status`` must not show a healthy calendar for a workspace whose
trusted root (metadata/1.root.json) is truncated, or whose root no longer
carries a threshold of valid signatures: it exits non-zero with one line
naming the file and the check that failed. The terminal UI's home screen
(``session.overview``) shows the same fault as its first warning.

Two ways to break a workspace:

* raw: a file is edited behind the tool's back. The transcript then no longer
  matches it, and either check (transcript or root chain) may be the one that
  names the file.
* recorded: the edit is also recorded in the transcript, with a chained line
  built the way any writer can build one (the transcript is not signed). Then
  ``ceremony transcript verify`` passes, and only the root-chain check can
  catch it; the tests assert the first half of that to show it.

The root is 2-of-3; a signature is broken by flipping one hex digit, in two of
the three signatures so that fewer than the threshold verify (one flipped
signature of three leaves a root any TUF client accepts).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ceremony.core import guided as session
from tests.conftest import CliRunner, one_line_error

ROOT_NAME = re.compile(r"(?<![\w.])root\.json")  # root.json, not the tail of 1.root.json


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_signatures(path: Path, count: int = 2) -> None:
    """Flip the first hex digit of the first ``count`` signatures; every other byte is kept."""
    text = path.read_text()
    matches = list(re.finditer(r'"sig": "([0-9a-f])', text))
    assert len(matches) >= count, text
    for match in matches[:count]:
        i = match.start(1)
        text = text[:i] + ("1" if text[i] == "0" else "0") + text[i + 1 :]
    path.write_text(text)


def _record(ws: Path, *names: str) -> None:
    """Append a transcript line recording the current SHA-256 of metadata files, chained like any line."""
    path = ws / "transcript.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    entry = {
        "seq": len(lines) + 1,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": "edited outside ceremony",
        "command": "edit",
        "changes": [f"edited metadata/{name}" for name in names],
        "files": {f"metadata/{n}": hashlib.sha256((ws / "metadata" / n).read_bytes()).hexdigest() for n in names},
        "keyids": [],
        "details": {},
        "prev": hashlib.sha256(lines[-1]).hexdigest(),
    }
    line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    path.write_bytes(b"".join(lines) + line.encode())


def _truncated_trusted_root(ws: Path) -> tuple[str, ...]:
    _truncate(ws / "metadata" / "1.root.json")
    return ("1.root.json",)


def _unsigned_root_both(ws: Path) -> tuple[str, ...]:
    """The same flips in 1.root.json and root.json: consistent with each other, but not signed."""
    for name in ("1.root.json", "root.json"):
        _flip_signatures(ws / "metadata" / name)
    assert (ws / "metadata" / "1.root.json").read_bytes() == (ws / "metadata" / "root.json").read_bytes()
    return ("1.root.json", "root.json")


def _unsigned_root_json_only(ws: Path) -> tuple[str, ...]:
    _flip_signatures(ws / "metadata" / "root.json")
    return ("root.json",)


# (tamper, files the error may name (any one), words of the failed check (any one; file names removed first))
CASES = [
    pytest.param(
        _truncated_trusted_root,
        ("1.root.json",),
        ("json", "parse", "truncat", "incomplete", "malformed"),
        id="truncated-1.root.json",
    ),
    pytest.param(
        _unsigned_root_both, ("1.root.json", "root.json"), ("sign", "threshold"), id="signatures-flipped-in-both"
    ),
    # root.json alone: it may be named as unsigned, or as differing from the chain it should end.
    pytest.param(_unsigned_root_json_only, ("root.json",), (), id="signatures-flipped-in-root.json"),
]


def _names(line: str, names: tuple[str, ...]) -> bool:
    return any(("1.root.json" in line) if name == "1.root.json" else bool(ROOT_NAME.search(line)) for name in names)


def _checks(line: str, words: tuple[str, ...]) -> bool:
    rest = line.replace("1.root.json", "").replace("root.json", "").lower()
    return not words or any(word in rest for word in words)


def _assert_refused(
    result: subprocess.CompletedProcess[str], names: tuple[str, ...], words: tuple[str, ...] = ()
) -> str:
    line = one_line_error(result)
    assert result.returncode == 1, result.stderr  # a refusal, not an internal error (3)
    assert "days left" not in result.stdout, result.stdout
    assert _names(line, names), line
    assert _checks(line, words), line
    return line


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_healthy_workspace_status_exits_0(cli: CliRunner, workspace: Path, as_json: bool) -> None:
    result = cli("status", workspace, *(["--json"] if as_json else []))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    if as_json:
        json.loads(result.stdout)
    else:
        assert "days left" in result.stdout


def test_a_recorded_edit_that_changes_nothing_is_still_healthy(cli: CliRunner, workspace: Path) -> None:
    """Control for the recorded cases: the appended transcript line alone is not a fault."""
    _record(workspace, "1.root.json", "root.json")
    assert cli("transcript", "verify", workspace).returncode == 0
    assert cli("status", workspace).returncode == 0


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize(("tamper", "names", "_words"), CASES)
def test_status_refuses_a_broken_root_edited_behind_its_back(
    cli: CliRunner, workspace: Path, tamper, names: tuple[str, ...], _words: tuple[str, ...], as_json: bool
) -> None:
    tamper(workspace)
    _assert_refused(cli("status", workspace, *(["--json"] if as_json else [])), names)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize(("tamper", "names", "words"), CASES)
def test_status_refuses_a_broken_root_the_transcript_records(
    cli: CliRunner, workspace: Path, tamper, names: tuple[str, ...], words: tuple[str, ...], as_json: bool
) -> None:
    changed = tamper(workspace)
    _record(workspace, *changed)
    # The transcript cannot catch this one: only the root chain can.
    verified = cli("transcript", "verify", workspace)
    assert verified.returncode == 0, verified.stderr
    _assert_refused(cli("status", workspace, *(["--json"] if as_json else [])), names, words)


# --------------------------------------------------------------------------- the TUI home (core level)


def test_overview_of_a_healthy_workspace_warns_of_no_root_file(workspace: Path) -> None:
    status = session.overview(workspace, datetime.now(UTC)).status
    assert status is not None
    assert not any(ROOT_NAME.search(w) or "1.root.json" in w for w in status.warnings), status.warnings


@pytest.mark.parametrize(("tamper", "names", "words"), CASES)
def test_overview_shows_a_broken_root_chain_as_its_first_warning(
    workspace: Path, tamper, names: tuple[str, ...], words: tuple[str, ...]
) -> None:
    changed = tamper(workspace)
    _record(workspace, *changed)
    status = session.overview(workspace, datetime.now(UTC)).status  # a warning, not an exception
    assert status is not None and status.warnings, status
    first = status.warnings[0]
    assert _names(first, names) and _checks(first, words), status.warnings


def _hand_timestamp_to_the_online_service(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    """Rotate the timestamp key to a public key held elsewhere: timestamp.json stays signed by the revoked key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pem = tmp_path / "online.pub.pem"
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    pem.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    rotated = cli(
        "rotate", workspace, "--role", "timestamp", "--revoke", "timestamp", "--add", pem,
        "--passphrase-file", passphrase_file, "--yes",
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr


def test_status_after_handing_timestamp_to_the_online_service_warns_but_succeeds(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    """timestamp.json still signed by the revoked key, its new key held by the online service: a warning, exit 0."""
    _hand_timestamp_to_the_online_service(cli, workspace, passphrase_file, tmp_path)
    result = cli("status", workspace)
    assert result.returncode == 0, result.stderr
    assert "days left" in result.stdout
    warnings = result.stdout.split("Warnings:")[1].splitlines()
    assert "timestamp.json" in warnings[1] and "online service" in warnings[1] and "re-sign" in warnings[1], warnings


def test_a_file_awaiting_the_online_service_does_not_hide_a_broken_one(
    cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    """The tolerated timestamp after a hand-over must not stop the rest from being verified: a bad targets.json fails."""
    _hand_timestamp_to_the_online_service(cli, workspace, passphrase_file, tmp_path)
    _flip_signatures(workspace / "metadata" / "targets.json", count=1)
    result = cli("status", workspace)
    line = one_line_error(result)
    assert "targets.json" in line, line
    assert "days left" not in result.stdout


# --------------------------------------------------------------------------- the backup ledger in status


def test_status_lists_the_backup_ledger_and_warns_of_an_untested_root(cli: CliRunner, workspace: Path) -> None:
    shown = json.loads(cli("status", workspace, "--json").stdout)
    (row,) = shown["backup_ledger"]
    assert row["version"] == 1 and row["tested"] is False and row["when"] is None
    text = cli("status", workspace)
    assert text.returncode == 0, text.stderr
    assert f"root v1 has no tested paper backup: run ceremony export {workspace} --out DIR" in text.stdout


def test_status_with_a_broken_transcript_vouches_for_no_backup(cli: CliRunner, workspace: Path) -> None:
    """A ledger entry is only as good as the chain it is in: a broken chain makes the ledger unknown."""
    path = workspace / "transcript.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines, lines[-1]]))  # a line repeated: it does not chain to the one before
    result = cli("status", workspace)
    assert result.returncode == 0, result.stderr
    assert "backup ledger unknown: the transcript does not verify (" in result.stdout
    assert f"line {len(lines) + 1} does not follow line {len(lines)}" in result.stdout
