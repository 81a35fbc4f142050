"""The TUI's new root ceremony and emergency rotation on real SoftHSM tokens, verified by both clients.

Each flow runs in its own process (tests/tui_pilot.py, driven by the pilot)
because PyKCS11 loads SoftHSM once per process, and SoftHSM reads its
SOFTHSM2_CONF then: every test has its own token directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ceremony.core.workspace import Workspace
from tests.clients import python_tuf_refresh, tufjs_refresh
from tests.softhsm import MODULE, USER_PIN, keygen, new_softhsm, probe_key

PILOT = Path(__file__).with_name("tui_pilot.py")
pytestmark = pytest.mark.slow


def _drive(job: dict, env: dict[str, str]) -> None:
    """Run one pilot flow in a fresh process; secrets travel on stdin, never in argv."""
    result = subprocess.run(
        [sys.executable, str(PILOT)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        env={**env, "PYKCS11LIB": MODULE},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_root_ceremony_then_rotation_on_tokens(tmp_path: Path) -> None:
    hsm = new_softhsm(tmp_path / "hsm")
    serials = [hsm.make_token(f"kh{i}") for i in (1, 2, 3, 4)]
    ws = tmp_path / "repo"
    plan = {
        "keyholders": ["Kim", "Lee", "Max"],
        "backends": [f"token:{s}" for s in serials[:3]],
        "key_type": "ecdsa-p256",
        "secrets": [USER_PIN] * 3,
        "threshold": 2,
        "online_secret": "online passphrase",
        "signers": [("root-1", USER_PIN), ("root-2", USER_PIN)],
    }
    _drive({"flow": "new-root", "ws": str(ws), "backup": str(tmp_path / "backup"), "plan": plan}, hsm.env)

    trusted = ws / "metadata" / "1.root.json"
    assert python_tuf_refresh(ws / "metadata", trusted)["root_version"] == 1
    assert tufjs_refresh(ws / "metadata", trusted)["root_version"] == 1
    records = {r.label: r for r in Workspace.load(ws).key_records()}
    for index in (1, 2, 3):
        uri = records[f"root-{index}"].uri or ""
        assert uri.startswith("pkcs11:") and f"serial={serials[index - 1]}" in uri
        assert "pin" not in uri  # no PIN or pin-source recorded
    # The token itself says the key is sensitive, never extractable and made on the token.
    probe = probe_key(hsm, "kh1", "repo-root-1")
    assert not probe["value_readable"], probe
    assert probe["attributes"]["CKA_SENSITIVE"] and not probe["attributes"]["CKA_EXTRACTABLE"], probe

    _drive(
        {
            "flow": "rotate",
            "ws": str(ws),
            "label": "root-2",
            "source": f"token:{serials[3]}",
            "secret": USER_PIN,
            "signers": [("root-1", USER_PIN), ("root-3", USER_PIN)],
        },
        hsm.env,
    )
    assert python_tuf_refresh(ws / "metadata", trusted)["root_version"] == 2
    assert tufjs_refresh(ws / "metadata", trusted)["root_version"] == 2
    ws_now = Workspace.load(ws)
    new = ws_now.find_key("root-4")
    assert new.uri and f"serial={serials[3]}" in new.uri
    assert [r.label for r in ws_now.key_records() if r.revoked] == ["root-2"]


def test_extend_delegate_and_offline_signing_on_tokens(tmp_path: Path, cli) -> None:
    """The other changes with token keys: extend root, delegate to a new token key, sign a request offline."""
    hsm = new_softhsm(tmp_path / "hsm")
    serials = [hsm.make_token(f"kh{i}") for i in (1, 2, 3, 4)]
    ws = tmp_path / "repo"
    # The starting repository is made by the CLI (the TUI's root ceremony on tokens is the test above).
    for token in ("kh1", "kh2", "kh3"):
        keygen(cli, hsm, token, "root")
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("online passphrase\n")
    root_keys = [arg for token in ("kh1", "kh2", "kh3") for arg in ("--root-key", hsm.uri(token, key="root"))]
    made = cli(
        "init", ws, *root_keys, "--key-type", "ecdsa-p256", "--passphrase-file", passphrase, "--yes", env=hsm.env
    )
    assert made.returncode == 0, made.stderr
    _drive(
        {
            "flow": "extend",
            "ws": str(ws),
            "role": "root",
            "days": 400,
            "signers": [("root-1", USER_PIN), ("root-2", USER_PIN)],
        },
        hsm.env,
    )
    online = [(role, "online passphrase") for role in ("targets", "snapshot", "timestamp")]
    _drive(
        {
            "flow": "delegate",
            "ws": str(ws),
            "name": "releases",
            "paths": "releases/*",
            "source": f"token:{serials[3]}",
            "secret": USER_PIN,
            "signers": online,
        },
        hsm.env,
    )
    records = {r.label: r for r in Workspace.load(ws).key_records()}
    assert f"serial={serials[3]}" in (records["releases-1"].uri or "")

    # Keyholders elsewhere sign a request with their tokens in the TUI's offline flow.
    request = tmp_path / "request.json"
    made = cli("extend", ws, "--role", "root", "--days", "300", "--request", request, "--yes", env=hsm.env)
    assert made.returncode == 0, made.stderr
    for label in ("root-2", "root-3"):
        job = {"flow": "offline", "request": str(request), "keyspec": records[label].uri, "secret": USER_PIN}
        _drive(job, hsm.env)
    merged = cli("merge", ws, request, env=hsm.env)
    assert merged.returncode == 0, merged.stderr

    trusted = ws / "metadata" / "1.root.json"
    assert python_tuf_refresh(ws / "metadata", trusted, ["releases/app.tar.gz"])["root_version"] == 3
    assert tufjs_refresh(ws / "metadata", trusted)["root_version"] == 3
