"""Workspace layout, key files at rest, refusals of `init`, status, and clean failures."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.conftest import PASSPHRASE, CliRunner, one_line_error


def _all_files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def _snapshot_tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in _all_files(path)}


def test_layout_and_modes(workspace: Path) -> None:
    assert sorted(p.name for p in workspace.iterdir()) == ["ceremony.json", "keys", "metadata", "transcript.jsonl"]
    assert sorted(p.name for p in (workspace / "metadata").iterdir()) == [
        "1.root.json",
        "root.json",
        "snapshot.json",
        "targets.json",
        "timestamp.json",
    ]
    assert len(list((workspace / "keys").iterdir())) == 6  # 3 root + targets + snapshot + timestamp
    for path in [workspace, *workspace.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_no_unencrypted_private_key_anywhere(workspace: Path) -> None:
    config = json.loads((workspace / "ceremony.json").read_bytes())
    files = _all_files(workspace)
    contents = b"\n".join(p.read_bytes() for p in files)
    # No PEM private key in any form, and nothing that loads without a passphrase.
    assert b"PRIVATE KEY-----" not in contents
    for path in files:
        data = path.read_bytes()
        for loader in (serialization.load_der_private_key, serialization.load_pem_private_key):
            with pytest.raises((ValueError, TypeError)):
                loader(data, None)
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(data, None)
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(data, b"")
    # Decrypt every key with its passphrase: the raw private key appears nowhere on disk.
    for keyid, entry in config["keys"].items():
        key_path = workspace / entry["uri"].removeprefix("file:")
        private, _, _ = pkcs12.load_key_and_certificates(key_path.read_bytes(), PASSPHRASE.encode())
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        der = private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        assert raw not in contents and der not in contents, keyid
    # And the passphrase itself is nowhere in the workspace.
    assert PASSPHRASE.encode() not in contents


def test_key_file_format_is_pbkdf2_600k_aes256(workspace: Path) -> None:
    # openssl reads our key files: PBES2, PBKDF2-HMAC-SHA256 with 600,000 iterations, AES-256-CBC.
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    key = next((workspace / "keys").iterdir())
    out = subprocess.run(
        ["openssl", "pkcs12", "-in", str(key), "-info", "-noout", "-passin", "stdin"],
        input=PASSPHRASE + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert (
        "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 600000, PRF hmacWithSHA256" in out.stdout + out.stderr
    )


def test_config_holds_no_secret_and_names_keys(workspace: Path) -> None:
    config = json.loads((workspace / "ceremony.json").read_bytes())
    assert config["profile"] == "tuf"
    assert config["roles"]["root"]["threshold"] == 2
    assert config["roles"]["root"]["expiry_days"] == 365
    assert {r: config["roles"][r]["expiry_days"] for r in ("targets", "snapshot", "timestamp")} == {
        "targets": 90,
        "snapshot": 7,
        "timestamp": 1,
    }
    for keyid, entry in config["keys"].items():
        assert entry["uri"] == f"file:keys/{keyid}.p12"
        assert (workspace / "keys" / f"{keyid}.p12").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--root-keys", "3", "--threshold", "0"], "threshold 0"),
        (["--root-keys", "3", "--threshold", "4"], "root: threshold 4 is above its 3 keys"),
        (["--root-keys", "3", "--threshold", "3"], "no spare key"),
        (["--root-keys", "2", "--threshold", "1", "--expires", "root=0"], "root: an expiry of 0 days"),
        (["--root-keys", "2", "--threshold", "1", "--expires", "timestamp=-1"], "timestamp: an expiry of -1 days"),
        (["--root-keys", "2", "--threshold", "1", "--expires", "nosuchrole=3"], "unknown role"),
        (
            ["--root-keys", "2", "--threshold", "1", "--online-key", "root=x.pem"],
            "only targets, snapshot and timestamp",
        ),
        (
            ["--root-keys", "2", "--threshold", "1", "--online-key", "timestamp=missing.pem"],
            "missing.pem: public key file not found",
        ),
    ],
)
def test_init_refusals(cli: CliRunner, tmp_path: Path, passphrase_file: Path, args: list[str], needle: str) -> None:
    result = cli("init", tmp_path / "ws", *args, "--passphrase-file", passphrase_file, "--yes", cwd=tmp_path)
    line = one_line_error(result)
    assert needle in line
    assert not (tmp_path / "ws").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ws.")], "staging directory left behind"


def test_init_refuses_existing_workspace(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    before = _snapshot_tree(workspace)
    line = one_line_error(cli("init", workspace, "--passphrase-file", passphrase_file, "--yes"))
    assert "already exists" in line
    assert _snapshot_tree(workspace) == before


def test_no_spare_root_key_flag_allows_n_of_n(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    result = cli(
        "init",
        tmp_path / "ws",
        "--root-keys",
        "2",
        "--threshold",
        "2",
        "--no-spare-root-key",
        "--passphrase-file",
        passphrase_file,
        "--yes",
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(cli("status", tmp_path / "ws", "--json").stdout)
    assert any("no spare key" in w for w in status["warnings"])


def test_init_without_terminal_or_yes_refuses(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    line = one_line_error(cli("init", tmp_path / "ws", "--passphrase-file", passphrase_file))
    assert "--yes" in line
    assert not (tmp_path / "ws").exists()


def test_short_passphrase_refused(cli: CliRunner, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    line = one_line_error(cli("init", tmp_path / "ws", "--passphrase-file", short, "--yes"))
    assert "too short" in line
    assert "abc" not in line
    assert not (tmp_path / "ws").exists()


def test_one_passphrase_file_per_key(cli: CliRunner, tmp_path: Path) -> None:
    files = []
    for index in range(5):  # 2 root keys + targets + snapshot + timestamp
        path = tmp_path / f"pf{index}"
        path.write_text(f"keyholder passphrase {index}\n")
        files += ["--passphrase-file", path]
    result = cli("init", tmp_path / "ws", "--root-keys", "2", "--threshold", "1", *files, "--yes")
    assert result.returncode == 0, result.stderr
    ok = cli("key", "check", tmp_path / "ws", "root-2", "--passphrase-file", tmp_path / "pf1")
    assert ok.returncode == 0, ok.stderr
    wrong = cli("key", "check", tmp_path / "ws", "root-2", "--passphrase-file", tmp_path / "pf0")
    assert "passphrase is wrong" in one_line_error(wrong)


def test_online_key_import(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    online = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "timestamp.pub.pem"
    pem.write_bytes(
        online.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = cli(
        "init",
        tmp_path / "ws",
        "--root-keys",
        "2",
        "--threshold",
        "1",
        "--online-key",
        f"timestamp={pem}",
        "--passphrase-file",
        passphrase_file,
        "--yes",
    )
    assert result.returncode == 0, result.stderr
    assert "timestamp.json not written" in result.stdout
    metadata = tmp_path / "ws" / "metadata"
    assert not (metadata / "timestamp.json").exists()
    root = json.loads((metadata / "1.root.json").read_bytes())["signed"]
    (ts_keyid,) = root["roles"]["timestamp"]["keyids"]
    assert root["keys"][ts_keyid]["keyval"]["public"].strip() == pem.read_text().strip()
    status = json.loads(cli("status", tmp_path / "ws", "--json").stdout)
    assert [k["location"] for k in status["keys"] if k["keyid"] == ts_keyid] == ["held elsewhere (public key imported)"]
    assert len(list((tmp_path / "ws" / "keys").iterdir())) == 4
    verified = cli("verify", metadata)
    assert verified.returncode == 0, verified.stderr
    assert "timestamp.json not present" in verified.stdout


def test_status_json(cli: CliRunner, workspace: Path) -> None:
    result = cli("status", workspace, "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    roles = {r["role"]: r for r in status["roles"]}
    assert roles["root"]["version"] == 1 and roles["root"]["threshold"] == 2 and len(roles["root"]["keyids"]) == 3
    assert 364 <= roles["root"]["days_left"] <= 365
    assert 0 < roles["timestamp"]["days_left"] <= 1
    assert any("timestamp expires in" in w for w in status["warnings"])
    assert {k["label"] for k in status["keys"]} == {"root-1", "root-2", "root-3", "targets", "snapshot", "timestamp"}
    assert all(k["location"].startswith("software key keys/") for k in status["keys"])
    text = cli("status", workspace)
    assert "root" in text.stdout and "2/3" in text.stdout and "Warnings:" in text.stdout


def test_key_check_proves_and_records(cli: CliRunner, workspace: Path, passphrase_file: Path) -> None:
    result = cli("key", "check", workspace, "root-1", "--passphrase-file", passphrase_file)
    assert result.returncode == 0, result.stderr
    lines = (workspace / "transcript.jsonl").read_text().splitlines()
    entry = json.loads(lines[-1])
    assert entry["command"] == "key check"
    assert PASSPHRASE not in (workspace / "transcript.jsonl").read_text()
    assert cli("transcript", "verify", workspace).returncode == 0


def test_wrong_passphrase_fails_cleanly(cli: CliRunner, workspace: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    before = _snapshot_tree(workspace)
    line = one_line_error(cli("key", "check", workspace, "root-2", "--passphrase-file", wrong))
    assert "passphrase is wrong" in line and "not the passphrase" not in line
    assert _snapshot_tree(workspace) == before


@pytest.mark.parametrize(
    ("setup", "args", "needle"),
    [
        (None, ["status", "{tmp}/nope"], "workspace not found"),
        ("mkdir", ["status", "{tmp}/empty"], "not a ceremony workspace"),
        ("badconfig", ["status", "{ws}"], "not valid JSON"),
        ("dupconfig", ["status", "{ws}"], "duplicate key"),
        (None, ["verify", "{tmp}/nope"], "metadata directory not found"),
        ("badroot", ["verify", "{ws}/metadata"], "1.root.json: not valid JSON"),
        ("floatroot", ["verify", "{ws}/metadata"], "non-integer number"),
        (None, ["key", "check", "{ws}", "ffff", "--passphrase-file", "{tmp}/pf"], "no key matches"),
        (None, ["key", "check", "{ws}", "root-1", "--passphrase-file", "{tmp}/missing"], "passphrase file not found"),
        (None, ["verify", "{ws}/metadata", "--at", "yesterday"], "is not a date"),
    ],
)
def test_expected_faults_are_one_line(
    cli: CliRunner, workspace: Path, tmp_path: Path, setup: str | None, args: list[str], needle: str
) -> None:
    (tmp_path / "pf").write_text(PASSPHRASE + "\n")
    if setup == "mkdir":
        (tmp_path / "empty").mkdir()
    elif setup == "badconfig":
        (workspace / "ceremony.json").write_text("{not json")
    elif setup == "dupconfig":
        (workspace / "ceremony.json").write_text('{"format": 1, "format": 1}')
    elif setup == "badroot":
        (workspace / "metadata" / "1.root.json").write_text('{"signed": ')
    elif setup == "floatroot":
        path = workspace / "metadata" / "1.root.json"
        path.write_text(path.read_text().replace('"version": 1', '"version": 1.0', 1))
    args = [a.format(tmp=tmp_path, ws=workspace) for a in args]
    line = one_line_error(cli(*args))
    assert needle in line, line


def test_usage_errors_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("init").returncode == 2
    assert cli("init", tmp_path / "ws", "--key-type", "dsa").returncode == 2
    result = cli("init", tmp_path / "ws", "--expires", "root", "--yes")
    assert result.returncode == 2 and "expected ROLE=VALUE" in result.stderr


def test_version_and_module_entry(cli: CliRunner) -> None:
    from ceremony import __version__

    result = cli("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_secrets_never_in_argv_options(cli: CliRunner) -> None:
    # There is no option that takes a secret value: only files and prompts.
    help_text = cli("init", "--help").stdout + cli("key", "check", "--help").stdout
    assert "--passphrase " not in help_text and "--pin " not in help_text
    assert "--passphrase-file" in help_text
    assert os.environ.get("CEREMONY_PASSPHRASE") is None


def test_key_generate_for_a_keyholder(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    line = one_line_error(cli("key", "generate", tmp_path / "missing" / "k.p12", "--passphrase-file", passphrase_file))
    assert "directory not found" in line
    result = cli(
        "key", "generate", tmp_path / "k.p12", "--key-type", "ecdsa-p256", "--passphrase-file", passphrase_file
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "k.p12").stat().st_mode) == 0o600
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "k.p12.pub.pem").read_bytes()
    private, _, _ = pkcs12.load_key_and_certificates((tmp_path / "k.p12").read_bytes(), PASSPHRASE.encode())
    assert private is not None
    assert "already exists" in one_line_error(
        cli("key", "generate", tmp_path / "k.p12", "--passphrase-file", passphrase_file)
    )
