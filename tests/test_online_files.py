"""init with an online key held elsewhere: every file left to the online service is named.

A role whose key is held by the online service is not signed here, and
neither is any role after it: snapshot lists targets, timestamp hashes
snapshot. So ``--online-key targets=PEM`` leaves targets.json, snapshot.json
and timestamp.json to the online service, and ``--online-key snapshot=PEM``
leaves snapshot.json and timestamp.json. The operator's output and the
transcript must name every one of them, not only the role whose key was given.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conftest import CliRunner

ONLINE = ("targets", "snapshot", "timestamp")
# Words that mark a line as saying a file was left to the online service (not written here).
LEFT = ("not written", "online service", "left to")


def _public_pem(path: Path) -> Path:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def _init_entry(ws: Path) -> dict:
    lines = (ws / "transcript.jsonl").read_text().splitlines()
    entry = json.loads(lines[0])
    assert entry["command"] == "init", entry
    return entry


@pytest.mark.parametrize(
    ("role", "left"),
    [
        pytest.param("targets", ("targets", "snapshot", "timestamp"), id="targets-online"),
        pytest.param("snapshot", ("snapshot", "timestamp"), id="snapshot-online"),
        pytest.param("timestamp", ("timestamp",), id="timestamp-online"),  # passes today: the control
    ],
)
def test_init_names_every_file_left_to_the_online_service(
    cli: CliRunner, tmp_path: Path, passphrase_file: Path, role: str, left: tuple[str, ...]
) -> None:
    pem = _public_pem(tmp_path / f"{role}.pub.pem")
    ws = tmp_path / "ws"
    result = cli("init", ws, "--online-key", f"{role}={pem}", "--passphrase-file", passphrase_file, "--yes")
    assert result.returncode == 0, result.stderr
    written = [r for r in ONLINE if r not in left]

    # On disk: exactly the roles before the first online one are written.
    metadata = ws / "metadata"
    for name in left:
        assert not (metadata / f"{name}.json").exists(), name
    for name in written:
        assert (metadata / f"{name}.json").is_file(), name

    # The operator is told every file the online service must sign, each named in a line saying so.
    lines = (result.stdout + result.stderr).splitlines()
    told = {
        name
        for line in lines
        if any(word in line for word in LEFT)
        for name in re.findall(r"(?<![\w.])(targets|snapshot|timestamp)\.json", line)
    }
    for name in left:
        assert name in told, f"{name}.json is not named as left to the online service:\n{result.stdout}"
    for name in written:
        assert f"{name}.json not written" not in result.stdout + result.stderr

    # The transcript records every file left to the online service, and hashes only the files written.
    entry = _init_entry(ws)
    recorded = json.dumps([entry.get("changes"), entry.get("details")])
    for name in left:
        assert f"{name}.json" in recorded, f"the transcript does not record {name}.json as left: {entry['changes']}"
    for name in written:
        assert f"metadata/{name}.json" in entry["files"]
        assert f"{name}.json left" not in recorded and f"{name}.json not written" not in recorded, recorded
    for name in left:
        assert f"metadata/{name}.json" not in entry["files"]
