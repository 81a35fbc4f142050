"""Offline signing: three keyholders, each with only their own key and a copy of the request.

The administrator's workspace writes a sign request; keyholders sign copies in
separate directories that hold nothing but the request and their key; merge
publishes only when the old and the new root's thresholds are both met, and
refuses, with one line and without touching the workspace, anything short of
that or anything tampered with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, CliRunner, one_line_error
from tests.test_changes import both_clients, canonical, label_of, ok, shown_digest, signed_of, tree

KEYHOLDERS = ("kh1", "kh2", "kh3")


@pytest.fixture
def rotation(cli: CliRunner, workspace: Path, passphrase_file: Path, tmp_path: Path) -> dict:
    """Root 2 of 3 (workspace keys) -> 2 of 3 keyholder keys, written as a sign request."""
    keyholders = {}
    for name in KEYHOLDERS:
        home = tmp_path / name
        home.mkdir()
        (home / "pf").write_text(f"{PASSPHRASE} of {name}\n")
        out = ok(cli("key", "generate", home / "key.p12", "--key-type", "ecdsa-p256", "--passphrase-file", home / "pf"))
        keyid = out.stdout.split("keyid: ")[1].strip()
        keyholders[name] = {"home": home, "keyid": keyid, "pem": home / "key.p12.pub.pem"}
        # The key's own directory: the encrypted key, its public half, the passphrase file; nothing else.
        assert sorted(p.name for p in home.iterdir()) == ["key.p12", "key.p12.pub.pem", "pf"]
    request = tmp_path / "req.json"
    old = {label: label_of(workspace, label) for label in ("root-1", "root-2", "root-3")}
    out = ok(
        cli(
            "rotate",
            workspace,
            "--role",
            "root",
            *[a for label in old for a in ("--revoke", label)],
            *[a for kh in keyholders.values() for a in ("--add", kh["pem"])],
            "--threshold",
            "2",
            "--request",
            request,
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
    )
    digest, words = shown_digest(out.stdout)
    assert not (workspace / "metadata" / "2.root.json").exists()
    return {"ws": workspace, "request": request, "keyholders": keyholders, "old": old, "digest": digest, "words": words}


def copy_for(request: Path, home: Path) -> Path:
    """Hand a copy of the request to a keyholder."""
    dest = home / "req.json"
    shutil.copyfile(request, dest)
    return dest


def sign_as(cli: CliRunner, copy: Path, key: Path, passphrase: Path):
    return cli("sign", copy, "--key", key, "--passphrase-file", passphrase, "--yes", cwd=copy.parent)


def test_three_keyholders_round_trip(cli: CliRunner, rotation: dict, passphrase_file: Path, tmp_path: Path) -> None:
    ws, request = rotation["ws"], rotation["request"]
    before = tree(ws)

    # Nothing signed yet: merge lists both thresholds and the keys each still needs.
    result = cli("merge", ws, request)
    line = one_line_error(result)
    assert result.returncode == 1
    assert (
        "root: old root (version 1): 0 of 2" in result.stdout and "root: new root (version 2): 0 of 2" in result.stdout
    )
    for label, keyid in rotation["old"].items():
        assert f"{label} ({keyid[:12]}" in line  # old keys, marked " revoked" where the rotation removes them
    for kh in rotation["keyholders"].values():
        assert kh["keyid"][:12] in line
    assert tree(ws) == before

    # Two new keyholders sign their own copies, each seeing the words the administrator read.
    copies = []
    for name in ("kh1", "kh2"):
        kh = rotation["keyholders"][name]
        copy = copy_for(request, kh["home"])
        out = ok(sign_as(cli, copy, kh["home"] / "key.p12", kh["home"] / "pf"))
        assert shown_digest(out.stdout) == (rotation["digest"], rotation["words"])
        assert "signed root; every signature verified" in out.stdout
        assert "new root (version 2): 1 of 2" in out.stdout and "old root (version 1): 0 of 2" in out.stdout
        assert sorted(p.name for p in kh["home"].iterdir()) == ["key.p12", "key.p12.pub.pem", "pf", "req.json"]
        copies.append(copy)

    # Signed only by new keys: refused, nothing written.
    result = cli("merge", ws, *copies)
    line = one_line_error(result)
    assert "new root (version 2): 2 of 2" in result.stdout and "old root (version 1): 0 of 2" in result.stdout
    assert "old root (version 1) needs 2 more of" in line and "new root (version 2) needs" not in line
    assert tree(ws) == before

    # Two keyholders of the old root sign, each in their own directory with their key file.
    for label in ("root-1", "root-3"):
        home = tmp_path / label
        home.mkdir()
        key = home / "key.p12"
        shutil.copyfile(ws / "keys" / f"{rotation['old'][label]}.p12", key)
        copy = copy_for(request, home)
        out = ok(sign_as(cli, copy, key, passphrase_file))
        assert "old root (version 1): 1 of 2" in out.stdout
        copies.append(copy)

    out = ok(cli("merge", ws, *copies)).stdout
    assert "root: old root (version 1): 2 of 2" in out and "root: new root (version 2): 2 of 2" in out
    assert "published" in out
    root = json.loads((ws / "metadata" / "2.root.json").read_bytes())
    assert sorted(root["signed"]["roles"]["root"]["keyids"]) == sorted(
        kh["keyid"] for kh in rotation["keyholders"].values()
    )
    assert {s["keyid"] for s in root["signatures"]} == {
        rotation["keyholders"]["kh1"]["keyid"],
        rotation["keyholders"]["kh2"]["keyid"],
        rotation["old"]["root-1"],
        rotation["old"]["root-3"],
    }
    assert not list((ws / "pending").iterdir())
    for client in both_clients(ws / "metadata"):
        assert client["root_version"] == 2
    assert "valid: root chain to version 2" in ok(cli("verify", ws / "metadata")).stdout
    ok(cli("transcript", "verify", ws))
    # The same request cannot be merged twice.
    assert "was not made by this workspace, or was merged already" in one_line_error(cli("merge", ws, *copies))


def _edit(path: Path, out: Path, change) -> Path:
    obj = json.loads(path.read_bytes())
    change(obj)
    out.write_text(json.dumps(obj, indent=2))
    return out


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (
            lambda r: r["metadata"]["root"]["signed"].update(expires="2099-01-01T00:00:00Z"),
            "does not match the request's digest",
        ),
        (
            lambda r: r["metadata"]["root"]["signed"]["roles"]["root"].update(threshold=1),
            "does not match the request's digest",
        ),
        (
            lambda r: r["metadata"]["root"]["signed"]["roles"]["root"]["keyids"].__setitem__(0, "ab" * 32),
            "does not match the request's digest",
        ),
        (lambda r: r.update(digest="00" * 32), "does not match the request's digest"),
    ],
    ids=["expires", "threshold", "keyid", "digest"],
)
def test_tampered_request_refused_by_sign_and_merge(
    cli: CliRunner, rotation: dict, tmp_path: Path, tamper, reason: str
) -> None:
    ws = rotation["ws"]
    kh = rotation["keyholders"]["kh1"]
    before = tree(ws)
    bad = _edit(rotation["request"], kh["home"] / "req.json", tamper)
    untouched = bad.read_bytes()
    line = one_line_error(sign_as(cli, bad, kh["home"] / "key.p12", kh["home"] / "pf"))
    assert reason in line
    assert bad.read_bytes() == untouched
    line = one_line_error(cli("merge", ws, bad))
    assert reason in line
    assert tree(ws) == before


def test_corrupted_signature_refused(cli: CliRunner, rotation: dict) -> None:
    ws = rotation["ws"]
    kh = rotation["keyholders"]["kh1"]
    copy = copy_for(rotation["request"], kh["home"])
    ok(sign_as(cli, copy, kh["home"] / "key.p12", kh["home"] / "pf"))

    def flip(r: dict) -> None:
        (sig,) = r["metadata"]["root"]["signatures"]
        sig["sig"] = sig["sig"][:-4] + ("0000" if not sig["sig"].endswith("0000") else "1111")

    bad = _edit(copy, rotation["keyholders"]["kh2"]["home"] / "req.json", flip)
    before = tree(ws)
    expected = f"the signature by {kh['keyid'][:12]} on root does not verify; the request was tampered with"
    kh2 = rotation["keyholders"]["kh2"]
    assert expected in one_line_error(sign_as(cli, bad, kh2["home"] / "key.p12", kh2["home"] / "pf"))
    assert expected in one_line_error(cli("merge", ws, bad))
    # A good copy next to the bad one does not help.
    assert expected in one_line_error(cli("merge", ws, copy, bad))
    assert tree(ws) == before


def test_self_consistent_forgery_refused_by_merge(cli: CliRunner, rotation: dict, tmp_path: Path) -> None:
    """A request rewritten with a matching digest: sign shows other words; merge compares with what the workspace made."""
    ws = rotation["ws"]
    kh = rotation["keyholders"]["kh1"]
    forged = kh["home"] / "req.json"

    def lower_threshold(r: dict) -> None:
        r["metadata"]["root"]["signed"]["roles"]["root"]["threshold"] = 1

    _edit(rotation["request"], forged, lower_threshold)
    # A forger recomputes the digest (one file: the SHA-256 of its canonical signed bytes).
    obj = json.loads(forged.read_bytes())
    obj["digest"] = hashlib.sha256(canonical(obj["metadata"]["root"]["signed"])).hexdigest()
    forged.write_text(json.dumps(obj))

    out = ok(sign_as(cli, forged, kh["home"] / "key.p12", kh["home"] / "pf")).stdout
    digest, words = shown_digest(out)
    assert (digest, words) != (rotation["digest"], rotation["words"])  # what the keyholder compares aloud
    before = tree(ws)
    line = one_line_error(cli("merge", ws, forged))
    assert "its proposed metadata differs from what this workspace put in request" in line
    assert tree(ws) == before


def test_key_not_needed_is_refused_by_sign(
    cli: CliRunner, rotation: dict, passphrase_file: Path, tmp_path: Path
) -> None:
    ws = rotation["ws"]
    home = tmp_path / "kh4"
    home.mkdir()
    ok(cli("key", "generate", home / "key.p12", "--key-type", "ed25519", "--passphrase-file", passphrase_file))
    copy = copy_for(rotation["request"], home)
    untouched = copy.read_bytes()
    line = one_line_error(sign_as(cli, copy, home / "key.p12", passphrase_file))
    assert "this key is not one of the keys this request needs" in line
    assert rotation["keyholders"]["kh1"]["keyid"][:12] in line and rotation["old"]["root-2"][:12] in line
    # The workspace's own timestamp key is not a root key either.
    timestamp = ws / "keys" / f"{label_of(ws, 'timestamp')}.p12"
    assert "not one of the keys this request needs" in one_line_error(sign_as(cli, copy, timestamp, passphrase_file))
    assert copy.read_bytes() == untouched
    # A key that signed already is told so.
    kh = rotation["keyholders"]["kh3"]
    mine = copy_for(rotation["request"], kh["home"])
    ok(sign_as(cli, mine, kh["home"] / "key.p12", kh["home"] / "pf"))
    assert "already signed everything" in one_line_error(sign_as(cli, mine, kh["home"] / "key.p12", kh["home"] / "pf"))


def test_copies_of_two_requests_refused_and_stale_request(
    cli: CliRunner, rotation: dict, passphrase_file: Path, tmp_path: Path
) -> None:
    ws = rotation["ws"]
    other = tmp_path / "extend.json"
    ok(
        cli(
            "extend",
            ws,
            "--role",
            "root",
            "--days",
            "400",
            "--request",
            other,
            "--passphrase-file",
            passphrase_file,
            "--yes",
        )
    )
    assert json.loads(other.read_bytes())["id"] != json.loads(rotation["request"].read_bytes())["id"]
    before = tree(ws)
    result = cli("merge", ws, rotation["request"], other)
    line = one_line_error(result)
    assert result.returncode == 2
    assert "copies of different sign requests" in line and "merge one change at a time" in line
    assert tree(ws) == before

    # The extension is signed by two old root keys in the workspace and merged; the rotation is now stale.
    for label in ("root-1", "root-2"):
        ok(
            cli(
                "sign",
                other,
                "--key",
                ws / "keys" / f"{label_of(ws, label)}.p12",
                "--passphrase-file",
                passphrase_file,
                "--yes",
            )
        )
    assert "published" in ok(cli("merge", ws, other)).stdout
    assert signed_of(ws / "metadata" / "root.json")["version"] == 2
    line = one_line_error(cli("merge", ws, rotation["request"]))
    assert "was made against root version 1, but the workspace is now at version 2; make the change again" in line


def test_tampered_previous_root_is_refused(cli: CliRunner, tmp_path: Path, passphrase_file: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", ws, "--passphrase-file", passphrase_file, "--yes").returncode == 0
    request = tmp_path / "req.json"
    result = cli("extend", ws, "--role", "root", "--days", "400", "--request", request, "--yes")
    assert result.returncode == 0, result.stderr
    obj = json.loads(request.read_bytes())
    # Swap in another key set for the previous root: the digest (what is signed) is unchanged.
    obj["previous_root"]["signed"]["roles"]["root"]["threshold"] = 1
    request.write_text(json.dumps(obj))
    line = one_line_error(cli("sign", request, "--key", ws / "keys" / "x.p12", "--yes"))
    assert "previous root is not signed by a threshold of its own root keys" in line
