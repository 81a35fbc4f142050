"""Importing real published repositories (shared test vectors) and proposing their next root.

An imported workspace holds no private key: every change is a sign request for
the repository's real keyholders. The import must keep every file byte for
byte, and root N+1 must keep the repository's unknown fields and keyids.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import VECTOR_DATES, CliRunner, one_line_error
from tests.test_changes import canonical, ok, public_pem, tree

SIGSTORE = "sigstore-root-signing"


def client_copy(vectors: Path, name: str, dest: Path) -> Path:
    """The vector's metadata as a client sees the directory: its *.json files (not SOURCE.txt)."""
    dest.mkdir()
    for path in (vectors / name).glob("*.json"):
        shutil.copyfile(path, dest / path.name)
    return dest


def imported(cli: CliRunner, vectors: Path, name: str, dest: Path) -> Path:
    source = client_copy(vectors, name, dest.parent / f"{dest.name}-source")
    result = ok(cli("import", dest, "--from", source, "--at", VECTOR_DATES[name]))
    assert f"into {dest}: root chain verified to version" in result.stdout
    return dest


def metadata_sources(source: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in source.iterdir() if p.suffix == ".json"}


def test_sigstore_import_and_root_16_request(cli: CliRunner, vectors: Path, tmp_path: Path) -> None:
    source = vectors / SIGSTORE
    ws = imported(cli, vectors, SIGSTORE, tmp_path / "ws")
    # Every metadata file byte for byte, nothing added to the metadata directory.
    assert tree(ws / "metadata") == metadata_sources(source)
    assert "valid: root chain to version 15" in ok(cli("verify", ws / "metadata", "--at", "2026-08-25")).stdout
    ok(cli("transcript", "verify", ws))

    v15 = json.loads((source / "15.root.json").read_bytes())["signed"]
    old_root_keyids = v15["roles"]["root"]["keyids"]
    revoked = old_root_keyids[0]
    new_pem = public_pem(tmp_path / "new-keyholder.pem")
    request = tmp_path / "req.json"
    out = ok(
        cli("rotate", ws, "--role", "root", "--revoke", revoked[:10], "--add", new_pem, "--request", request, "--yes")
    ).stdout
    assert "16.root.json (root)" in out and "version: 15 -> 16" in out
    assert f"- key {revoked[:12]} (ecdsa-sha2-nistp256, {v15['keys'][revoked]['x-tuf-on-ci-keyowner']})" in out

    v16 = json.loads(request.read_bytes())["metadata"]["root"]["signed"]
    # Unknown fields kept, at the top level and in every key that stays.
    for field in ("x-tuf-on-ci-expiry-period", "x-tuf-on-ci-signing-period"):
        assert v16[field] == v15[field]
    (new_keyid,) = set(v16["keys"]) - set(v15["keys"])
    for keyid, key in v15["keys"].items():
        assert v16["keys"][keyid] == key, f"key {keyid[:12]} changed"  # still used by targets
    assert v16["roles"]["root"]["keyids"] == [*old_root_keyids[1:], new_keyid]
    for role in ("targets", "snapshot", "timestamp"):
        assert v16["roles"][role] == v15["roles"][role]
    assert (v16["version"], v16["consistent_snapshot"]) == (16, v15["consistent_snapshot"])
    # The new key gets the spec's keyid: SHA-256 of the canonical {keytype, scheme, keyval}.
    new_key = v16["keys"][new_keyid]
    assert set(new_key) == {"keytype", "scheme", "keyval"}
    assert new_keyid == hashlib.sha256(canonical(new_key)).hexdigest()

    # Nobody signed yet: merge refuses and names every key that could still sign, old and new.
    before = tree(ws)
    result = cli("merge", ws, request)
    line = one_line_error(result)
    assert "root: old root (version 15): 0 of 3" in result.stdout
    assert "root: new root (version 16): 0 of 3" in result.stdout
    old_part, new_part = line.split("new root (version 16) needs 3 more of:")
    assert "old root (version 15) needs 3 more of:" in old_part
    for keyid in old_root_keyids:
        owner = v15["keys"][keyid]["x-tuf-on-ci-keyowner"]
        marker = " revoked" if keyid == revoked else ""
        assert f"{owner} ({keyid[:12]}{marker})" in old_part
        assert (f"({keyid[:12]})" in new_part) == (keyid != revoked)
    assert new_keyid[:12] in new_part and new_keyid[:12] not in old_part
    assert tree(ws) == before


@pytest.mark.parametrize("name, roots", [("jku-tuf-demo", 5), ("dccouncil-law", 11)])
def test_other_real_repositories_import(cli: CliRunner, vectors: Path, tmp_path: Path, name: str, roots: int) -> None:
    ws = imported(cli, vectors, name, tmp_path / "ws")
    assert tree(ws / "metadata") == metadata_sources(vectors / name)
    config = json.loads((ws / "ceremony.json").read_bytes())
    assert config["imported_from"]["newest_root"] == roots
    assert all(entry["uri"] is None for entry in config["keys"].values())  # no private key: all held elsewhere
    assert not list((ws / "keys").iterdir())


def test_tampered_copy_is_refused(cli: CliRunner, vectors: Path, tmp_path: Path) -> None:
    name = "jku-tuf-demo"
    copy = client_copy(vectors, name, tmp_path / "copy")
    targets = json.loads((copy / "targets.json").read_bytes())
    delegated = targets["signed"]["delegations"]["roles"][0]
    delegated["paths"] = ["*"]  # a signed field changed, the signatures kept
    (copy / "targets.json").write_text(json.dumps(targets, indent=1))
    line = one_line_error(cli("import", tmp_path / "ws", "--from", copy, "--at", VECTOR_DATES[name]))
    assert "targets.json" in line
    assert not (tmp_path / "ws").exists()
    # The untouched vector imports: it is the change that was refused.
    imported(cli, vectors, name, tmp_path / "ws2")


@pytest.mark.parametrize("extra", ["symlink", "other-json", "readme", "directory"])
def test_import_reads_only_what_a_client_fetches(cli: CliRunner, vectors: Path, tmp_path: Path, extra: str) -> None:
    """A symlink to a host file, an unrelated JSON file, or anything else in the source is refused, not copied."""
    name = "jku-tuf-demo"
    source = client_copy(vectors, name, tmp_path / "src")
    secret = tmp_path / "shadow"
    secret.write_text("root:secret-hash:19000::::::\n")
    if extra == "symlink":
        (source / "x.json").symlink_to(secret)
    elif extra == "other-json":
        (source / "x.json").write_text('{"signed": 1}')
    elif extra == "readme":
        (source / "README").write_text("hello")
    else:
        (source / "9.root.json").mkdir()
    line = one_line_error(cli("import", tmp_path / "ws", "--from", source, "--at", VECTOR_DATES[name]))
    assert str(source) in line
    assert not (tmp_path / "ws").exists()


def test_import_never_follows_a_symlinked_metadata_file(cli: CliRunner, vectors: Path, tmp_path: Path) -> None:
    name = "jku-tuf-demo"
    source = client_copy(vectors, name, tmp_path / "src")
    real = tmp_path / "elsewhere.json"
    (source / "timestamp.json").rename(real)
    (source / "timestamp.json").symlink_to(real)
    line = one_line_error(cli("import", tmp_path / "ws", "--from", source, "--at", VECTOR_DATES[name]))
    assert "timestamp.json" in line and "symbolic link" in line
    assert not (tmp_path / "ws").exists()


def tuf_on_ci_checkout(vectors: Path, name: str, dest: Path) -> Path:
    """The vector laid out as a tuf-on-ci checkout: metadata/ with every root version in metadata/root_history/."""
    metadata = dest / "metadata"
    (metadata / "root_history").mkdir(parents=True)
    for path in (vectors / name).glob("*.json"):
        numbered = path.name.split(".")[0].isdigit()
        shutil.copyfile(path, metadata / "root_history" / path.name if numbered else metadata / path.name)
    return metadata


def test_import_of_a_tuf_on_ci_checkout(cli: CliRunner, vectors: Path, tmp_path: Path) -> None:
    """root_history/N.root.json is the chain; every file is kept byte for byte (x-tuf-on-ci-* fields too)."""
    name = "sigstore-root-signing-staging"
    metadata = tuf_on_ci_checkout(vectors, name, tmp_path / "checkout")
    result = ok(cli("import", tmp_path / "ws", "--from", metadata, "--at", VECTOR_DATES[name]))
    assert "root chain verified to version 14" in result.stdout
    for path in (vectors / name).glob("*.json"):
        assert (tmp_path / "ws" / "metadata" / path.name).read_bytes() == path.read_bytes(), path.name
    owners = json.loads((tmp_path / "ws" / "metadata" / "root.json").read_text())["signed"]["keys"]
    assert any("x-tuf-on-ci-keyowner" in key for key in owners.values())


@pytest.mark.parametrize("damage", ["stray file", "two versions differ"])
def test_import_refuses_a_damaged_root_history(cli: CliRunner, vectors: Path, tmp_path: Path, damage: str) -> None:
    metadata = tuf_on_ci_checkout(vectors, "sigstore-root-signing-staging", tmp_path / "checkout")
    if damage == "stray file":
        (metadata / "root_history" / "notes.txt").write_text("hello\n")
        expected = "not a root version file"
    else:
        shutil.copyfile(metadata / "root_history" / "13.root.json", metadata / "14.root.json")
        expected = "differs from"
    line = one_line_error(cli("import", tmp_path / "ws", "--from", metadata, "--at", "2026-08-25"))
    assert expected in line and not (tmp_path / "ws").exists()
