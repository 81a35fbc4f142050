"""PKCS#11 keys on real SoftHSM2 tokens: listing, key generation, signing roots, and failing safely."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients import python_tuf_refresh, tufjs_refresh
from tests.conftest import PASSPHRASE, CliRunner, one_line_error
from tests.softhsm import MODULE, USER_PIN, SoftHsm, keygen, new_softhsm, probe_key


@pytest.fixture
def softhsm(tmp_path: Path) -> SoftHsm:
    return new_softhsm(tmp_path / "softhsm")


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()} if path.exists() else {}


_keygen = keygen


def test_hsm_list_shows_tokens_made_outside(cli: CliRunner, softhsm: SoftHsm) -> None:
    serial1 = softhsm.make_token("root-1")
    serial2 = softhsm.make_token("root-2")
    result = cli("hsm", "list", "--module", MODULE, "--json", env=softhsm.env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    tokens = {t["label"]: t for t in listing["tokens"] if t["initialized"]}
    assert {label: t["serial"] for label, t in tokens.items()} == {"root-1": serial1, "root-2": serial2}
    for token in tokens.values():
        assert token["manufacturer"] == "SoftHSM project" and token["model"] == "SoftHSM v2"
        assert token["login_required"] is True
        assert (token["pin_count_low"], token["pin_final_try"], token["pin_locked"]) == (False, False, False)
        assert set(token["key_types"]) == {"ecdsa-p256", "ecdsa-p384", "ed25519"}
    text = cli("hsm", "list", env=softhsm.env).stdout
    assert f"token 'root-1' serial {serial1}" in text and "uninitialised token" in text


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ecdsa-p384", "ed25519"])
def test_keygen_makes_non_extractable_keys(cli: CliRunner, softhsm: SoftHsm, key_type: str) -> None:
    serial = softhsm.make_token("root-1")
    record = _keygen(cli, softhsm, "root-1", "root-key", key_type)
    assert record["key_type"] == key_type
    assert record["token"]["serial"] == serial
    assert record["attributes"] == {
        "CKA_LOCAL": True,
        "CKA_ALWAYS_SENSITIVE": True,
        "CKA_NEVER_EXTRACTABLE": True,
        "CKA_SENSITIVE": True,
        "CKA_EXTRACTABLE": False,
    }
    assert record["uri"].startswith(f"pkcs11:token=root-1;serial={serial};object=root-key;id=%")
    assert "pin" not in record["uri"]
    assert len(record["keyid"]) == 64
    # Ask the token itself, outside ceremony: the key cannot be read out nor made exportable.
    probe = probe_key(softhsm, "root-1", "root-key")
    assert probe["value_readable"] is False
    assert probe["set_extractable"] == "CKR_ATTRIBUTE_READ_ONLY"
    assert probe["clear_sensitive"] == "CKR_ATTRIBUTE_READ_ONLY"
    assert probe["attributes"] == {
        "CKA_EXTRACTABLE": False,
        "CKA_SENSITIVE": True,
        "CKA_DECRYPT": False,
        "CKA_UNWRAP": False,
        "CKA_DERIVE": False,
        "CKA_SIGN": True,
        "CKA_TOKEN": True,
        "CKA_PRIVATE": True,
    }


def test_keygen_checked_by_opensc(cli: CliRunner, softhsm: SoftHsm) -> None:
    if shutil.which("pkcs11-tool") is None:
        pytest.skip("OpenSC pkcs11-tool not installed (apt-get install opensc)")
    softhsm.make_token("root-1")
    _keygen(cli, softhsm, "root-1", "root-key")
    out = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            MODULE,
            "--token-label",
            "root-1",
            "--login",
            "--pin",
            USER_PIN,
            "--list-objects",
            "--type",
            "privkey",
        ],
        env=softhsm.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "label:      root-key" in out
    assert "Access:     sensitive, always sensitive, never extractable, local" in out
    assert "Usage:      sign\n" in out


def test_keygen_refuses_existing_label(cli: CliRunner, softhsm: SoftHsm) -> None:
    softhsm.make_token("root-1")
    _keygen(cli, softhsm, "root-1", "root-key")
    result = cli("hsm", "keygen", "--token", softhsm.uri("root-1"), "--label", "root-key", env=softhsm.env)
    assert "already holds an object labelled 'root-key'" in one_line_error(result)


def _init_with(cli: CliRunner, hsm: SoftHsm, ws: Path, pf: Path, root_keys: list[str], threshold: int = 2):
    args = [arg for spec in root_keys for arg in ("--root-key", spec)]
    return cli(
        "init",
        ws,
        *args,
        "--threshold",
        str(threshold),
        "--key-type",
        "ecdsa-p256",
        "--passphrase-file",
        pf,
        "--yes",
        env=hsm.env,
    )


def _check_clients(ws: Path) -> None:
    metadata = ws / "metadata"
    for refresh in (python_tuf_refresh, tufjs_refresh):
        result = refresh(metadata, metadata / "1.root.json")
        assert (result["root_version"], result["timestamp_version"], result["targets_version"]) == (1, 1, 1)


def test_root_on_three_tokens(cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path) -> None:
    uris = []
    for index, key_type in enumerate(["ecdsa-p256", "ed25519", "ecdsa-p256"], start=1):
        softhsm.make_token(f"root-{index}")
        _keygen(cli, softhsm, f"root-{index}", f"root-key-{index}", key_type)
        uris.append(softhsm.uri(f"root-{index}", key=f"root-key-{index}"))
    result = _init_with(cli, softhsm, tmp_path / "ws", passphrase_file, uris)
    assert result.returncode == 0, result.stderr
    ws = tmp_path / "ws"
    _check_clients(ws)
    root = json.loads((ws / "metadata" / "1.root.json").read_bytes())
    assert len(root["signatures"]) == 3
    # The workspace refers to token keys by URI, without PIN values; no private key file for them.
    config = json.loads((ws / "ceremony.json").read_bytes())
    token_keys = [k for k in config["keys"].values() if k["uri"] and k["uri"].startswith("pkcs11:")]
    assert len(token_keys) == 3 and len(list((ws / "keys").iterdir())) == 3  # targets, snapshot, timestamp
    for entry in token_keys:
        assert "pin" not in entry["uri"] and f"serial={softhsm.tokens[entry['label']]}" in entry["uri"]
    # The transcript records token serials and the attributes read back, never a PIN.
    transcript = (ws / "transcript.jsonl").read_text()
    assert USER_PIN not in transcript and USER_PIN not in (ws / "ceremony.json").read_text()
    details = json.loads(transcript.splitlines()[0])["details"]["keys"]
    assert details["root-2"]["token_serial"] == softhsm.tokens["root-2"]
    assert details["root-2"]["attributes"]["CKA_NEVER_EXTRACTABLE"] is True
    status = json.loads(cli("status", ws, "--json").stdout)
    locations = [k["location"] for k in status["keys"] if "root" in k["roles"]]
    assert locations == [
        f"token 'root-{i}' (serial {softhsm.tokens[f'root-{i}']}) key 'root-key-{i}'" for i in (1, 2, 3)
    ]
    # A keyholder proves their token key still signs.
    check = cli("key", "check", ws, "root-3", "--pin-file", softhsm.pin_file, env=softhsm.env)
    assert check.returncode == 0, check.stderr


def test_mixed_root_two_tokens_one_software_key(
    cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path
) -> None:
    uris = []
    for index in (1, 2):
        softhsm.make_token(f"root-{index}")
        _keygen(cli, softhsm, f"root-{index}", "root-key")
        uris.append(softhsm.uri(f"root-{index}", key="root-key"))
    result = _init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [*uris, "ecdsa-p256"])
    assert result.returncode == 0, result.stderr
    _check_clients(tmp_path / "ws")
    config = json.loads((tmp_path / "ws" / "ceremony.json").read_bytes())
    kinds = sorted(k["uri"].split(":")[0] for k in config["keys"].values() if "root" in k["roles"])
    assert kinds == ["file", "pkcs11", "pkcs11"]


def test_wrong_pin_is_one_clear_error(cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path) -> None:
    serial = softhsm.make_token("root-1")
    _keygen(cli, softhsm, "root-1", "root-key")
    (tmp_path / "wrong").write_text("0000\n")
    uri = softhsm.uri("root-1", key="root-key", pin=False) + f"&pin-source=file:{tmp_path / 'wrong'}"
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [uri, "ecdsa-p256", "ecdsa-p256"]))
    assert f"token 'root-1' (serial {serial}) rejected the PIN" in line
    assert "0000" not in line
    assert not (tmp_path / "ws").exists()
    # Never retried automatically: one failed login, and the token now reports it.
    listing = json.loads(cli("hsm", "list", "--json", env=softhsm.env).stdout)
    (token,) = [t for t in listing["tokens"] if t["label"] == "root-1"]
    assert token["pin_count_low"] is True


def test_locked_pin_is_refused_without_trying(
    cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path
) -> None:
    serial = softhsm.make_token("root-1")
    _keygen(cli, softhsm, "root-1", "root-key")
    softhsm.lock_user_pin("root-1")
    listing = json.loads(cli("hsm", "list", "--json", env=softhsm.env).stdout)
    assert [t["pin_locked"] for t in listing["tokens"] if t["label"] == "root-1"] == [True]
    uri = softhsm.uri("root-1", key="root-key")
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [uri, "ecdsa-p256", "ecdsa-p256"]))
    assert f"token 'root-1' (serial {serial}): the user PIN is locked" in line
    assert not (tmp_path / "ws").exists()


def test_uri_matching_no_token_or_two_tokens(
    cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path
) -> None:
    s1 = softhsm.make_token("shared-label")
    s2 = softhsm.make_token("shared-label")
    none = f"pkcs11:token=absent;object=k?pin-source=file:{softhsm.pin_file}"
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [none, "ed25519", "ed25519"]))
    assert "no token matches" in line and s1 in line and s2 in line
    two = f"pkcs11:token=shared-label;object=k?pin-source=file:{softhsm.pin_file}"
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [two, "ed25519", "ed25519"]))
    assert "2 tokens match" in line and "serial=" in line
    assert not (tmp_path / "ws").exists()


def test_token_removed_between_keygen_and_signing(
    cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path
) -> None:
    softhsm.make_token("root-1")
    softhsm.make_token("root-2")
    _keygen(cli, softhsm, "root-1", "root-key")
    _keygen(cli, softhsm, "root-2", "root-key")
    uris = [softhsm.uri(f"root-{i}", key="root-key") for i in (1, 2)]
    result = _init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [*uris, "ecdsa-p256"])
    assert result.returncode == 0, result.stderr
    ws = tmp_path / "ws"
    before = _tree(ws)
    shutil.rmtree(softhsm.token_path("root-2"))
    line = one_line_error(cli("key", "check", ws, "root-2", "--pin-file", softhsm.pin_file, env=softhsm.env))
    assert "no token matches" in line and "root-2" in line
    assert _tree(ws) == before
    # And a new ceremony naming the removed token stops before anything is written.
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws2", passphrase_file, [*uris, "ecdsa-p256"]))
    assert "no token matches" in line
    assert not (tmp_path / "ws2").exists()


def test_missing_module_and_pin_value(cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path) -> None:
    line = one_line_error(cli("hsm", "list", "--module", tmp_path / "nope.so", env=softhsm.env))
    assert f"PKCS#11 module {tmp_path / 'nope.so'} not found" in line
    line = one_line_error(
        cli("hsm", "keygen", "--token", "pkcs11:token=x?pin-value=1234", "--label", "k", env=softhsm.env)
    )
    assert "pin-value is refused" in line and "1234" not in line


def test_key_uri_must_name_one_key(cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path) -> None:
    softhsm.make_token("root-1")
    _keygen(cli, softhsm, "root-1", "root-key")
    uri = softhsm.uri("root-1", key="other-key")
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [uri, "ed25519", "ed25519"]))
    assert "no private key match" in line and "keys on the token: object=root-key id=" in line
    line = one_line_error(
        _init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [softhsm.uri("root-1"), "ed25519", "ed25519"])
    )
    assert "names a token but no key" in line
    assert not (tmp_path / "ws").exists()


def test_threshold_needs_keys_that_can_sign(
    cli: CliRunner, softhsm: SoftHsm, tmp_path: Path, passphrase_file: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pems = []
    for index in (1, 2):
        pem = tmp_path / f"held-{index}.pem"
        pem.write_bytes(
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        pems.append(str(pem))
    line = one_line_error(_init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [*pems, "ecdsa-p256"]))
    assert "only 1 of the 2 root signatures needed can be made here" in line
    assert not (tmp_path / "ws").exists()
    # With one held-elsewhere key and two that sign here, the root is made and verifies.
    result = _init_with(cli, softhsm, tmp_path / "ws", passphrase_file, [pems[0], "ecdsa-p256", "ecdsa-p256"])
    assert result.returncode == 0, result.stderr
    assert cli("verify", tmp_path / "ws" / "metadata").returncode == 0
    assert PASSPHRASE not in (tmp_path / "ws" / "transcript.jsonl").read_text()
