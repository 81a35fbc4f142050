"""The audit bundle: written from a real workspace, verified offline without it, and every kind of tampering
refused with the member named.

One workspace is made for the module by the CLI (init, a root rotation, an export and a drill of its text
backups, a witness's sign-off of the head) and bundled once by the CLI; each tampering test rewrites that
archive with tarfile (the manifest brought back in line where the test says so, so that only the check under
test can catch it) and verifies the result in process.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ceremony.core import audit, plan, transcript
from ceremony.core._fs import sha256_hex
from ceremony.core.workspace import Workspace
from ceremony.errors import AuditError, TranscriptError
from tests.conftest import PASSPHRASE, _run, one_line_error
from tests.plans import new_root_plan
from tests.softhsm import MODULE, new_softhsm

P = audit.PREFIX
NOW = datetime.now(UTC).replace(microsecond=0)
WITNESS = "Wendy Witness"


def ok(*args: str | Path) -> str:
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def made(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The module's workspace (a rotation, a drill, a witness's sign-off), its bundle (by the CLI), the witness key."""
    top = tmp_path_factory.mktemp("audit")
    ws = top / "ws"
    shutil.copytree(base_workspace, ws)
    pf = top / "pf"
    pf.write_text(PASSPHRASE + "\n")
    ok("rotate", ws, "--role", "root", "--revoke", "root-3", "--add", "ed25519", "--passphrase-file", pf, "--yes")
    ok("export", ws, "--out", top / "backup", "--formats", "txt")
    ok("drill", ws, "--backup", top / "backup")
    ok("key", "generate", top / "witness.p12", "--passphrase-file", pf)
    key = top / "witness.p12"
    ok("transcript", "sign", ws, "--key", key, "--name", WITNESS, "--role", "witness", "--passphrase-file", pf, "--yes")
    out = ok("audit", "bundle", ws, "--out", top / "bundle.tar")
    assert out.splitlines()[0] == f"wrote {top / 'bundle.tar'}"
    return ws, top / "bundle.tar", key


# --------------------------------------------------------------------------- archives written by the tests


def members_of(path: Path) -> dict[str, bytes]:
    """name (without the prefix) -> bytes, read plainly (the tests' own reader, not the module's)."""
    with tarfile.open(path) as tar:
        out = {}
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None
            out[info.name.removeprefix(P)] = handle.read()
        return out


def manifest_for(members: Mapping[str, bytes]) -> bytes:
    """The manifest that lists ``members`` as they are (and the transcript head they hold)."""
    manifest = json.loads(members["manifest.json"])
    lines = members["transcript.jsonl"].splitlines(keepends=True)
    manifest["transcript"] = {"entries": len(lines), "head": sha256_hex(lines[-1])}
    manifest["members"] = {
        name: {"sha256": sha256_hex(data), "size": len(data)}
        for name, data in sorted(members.items())
        if name != "manifest.json"
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def write_tar(path: Path, members: Mapping[str, bytes], *, fix_manifest: bool = True) -> Path:
    members = dict(members)
    if fix_manifest:
        members["manifest.json"] = manifest_for(members)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(P + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def refused(path: Path) -> str:
    with pytest.raises(AuditError) as caught:
        audit.verify_bundle(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def signoff_name(members: Mapping[str, bytes]) -> str:
    (name,) = [n for n in members if n.startswith("signoffs/")]
    return name


# --------------------------------------------------------------------------- a bundle that verifies


def test_bundle_verifies_offline_without_the_workspace(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(made[0], ws)
    head = sha256_hex((ws / "transcript.jsonl").read_bytes().splitlines(keepends=True)[-1])
    ok("audit", "bundle", ws, "--out", tmp_path / "bundle.tar")
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    copy = elsewhere / "bundle.tar"
    shutil.copy(tmp_path / "bundle.tar", copy)
    shutil.rmtree(ws)  # the workspace is gone: the bundle alone is verified
    result = _run("audit", "verify", copy, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"audit bundle {copy} verified: workspace 'ws' (tuf), {len(members_of(copy))} members, transcript head "
        f"{head} (4 entries)"
    )
    proves = lines[lines.index("proves:") + 1 : lines.index("cannot prove:")]
    cannot = lines[lines.index("cannot prove:") + 1 :]
    assert f"  - the transcript is one unbroken hash chain of 4 entries, from the first to head {head}" in proves
    assert any(
        line.startswith(
            "  - root version 2 (2.root.json) was signed by a threshold of root version 1's keys and of "
            "its own (old root: 2 valid of 3 keys, threshold 2; new root: 2 valid of 3 keys"
        )
        for line in proves
    ), proves
    assert any("1.root.json (entry 1)" in line and "2.root.json (entry 2)" in line for line in proves), proves
    assert any(line.startswith("  - drills/drill-") and "PASSED" in line for line in proves), proves
    assert "  - backup ledger: root v2: tested" in "\n".join(proves)
    assert any(
        line.startswith(f"  - the transcript head {head[:16]}... (entry 4 of 4) was signed off by {WITNESS} (witness)")
        for line in proves
    ), proves
    assert cannot[0].startswith("  - that a software key was never copied")
    assert any("not rewritten before the first sign-off" in line for line in cannot)
    assert any(f"is {WITNESS}'s: neither the plan nor the metadata names it" in line for line in cannot)
    assert any(line.startswith("  - that the printed sheets in the safe restore:") for line in cannot), cannot
    assert not any("holds no drill report" in line for line in cannot), cannot


def test_the_archive_is_deterministic_and_plain(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    ws, bundle, _key = made
    assert bundle.stat().st_mode & 0o777 == 0o600
    again = audit.write_bundle(Workspace.load(ws), tmp_path / "again.tar")
    assert again.path.read_bytes() == bundle.read_bytes()
    assert again.sha256 == sha256_hex(bundle.read_bytes()) and again.entries == 4
    newest = json.loads((ws / "transcript.jsonl").read_bytes().splitlines()[-1])["time"]
    stamp = int(datetime.strptime(newest, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    with tarfile.open(bundle) as tar:
        infos = tar.getmembers()
    names = [i.name for i in infos]
    assert names == sorted(names) and len(names) == again.members
    assert all(i.isreg() and i.mode == 0o644 and i.uid == i.gid == 0 and i.mtime == stamp for i in infos)
    assert all(i.uname == i.gname == "" for i in infos)
    members = members_of(bundle)
    assert {n.partition("/")[0] for n in members} == {
        "manifest.json", "transcript.jsonl", "ceremony.json", "tokens.json", "ledger.json",
        "metadata", "public-keys", "drills", "signoffs",
    }  # fmt: skip
    assert members["transcript.jsonl"] == (ws / "transcript.jsonl").read_bytes()
    for path in sorted((ws / "metadata").iterdir()):
        assert members[f"metadata/{path.name}"] == path.read_bytes()
    assert not any(n.startswith("keys/") or n.endswith(".p12") for n in members)  # no private key, even encrypted
    root = json.loads(members["metadata/2.root.json"])["signed"]
    for keyid, key in root["keys"].items():
        assert json.loads(members[f"public-keys/{keyid}.json"]) == key
    ledger = json.loads(members["ledger.json"])
    assert [(row["version"], row["tested"], row["how"]) for row in ledger] == [(1, True, "drill"), (2, True, "drill")]
    assert json.loads(members["tokens.json"])["recorded"] == {}


def test_bundle_refuses_an_existing_file_and_a_workspace_that_does_not_verify(
    made: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ws, bundle, _key = made
    assert one_line_error(_run("audit", "bundle", ws, "--out", bundle)) == (
        f"error: {bundle}: already exists; an audit bundle is never written over a file"
    )
    copy = tmp_path / "ws"
    shutil.copytree(ws, copy)
    (copy / "metadata" / "timestamp.json").write_bytes((copy / "metadata" / "timestamp.json").read_bytes() + b" ")
    error = one_line_error(_run("audit", "bundle", copy, "--out", tmp_path / "b.tar"))
    assert error == "error: metadata/timestamp.json: differs from the SHA-256 the transcript last recorded for it"
    assert not (tmp_path / "b.tar").exists()


# --------------------------------------------------------------------------- tampering


def test_a_changed_metadata_file_is_caught_by_the_transcript(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    members["metadata/2.root.json"] = members["metadata/2.root.json"].replace(b'"version": 2', b'"version":  2')
    assert members["metadata/2.root.json"] != members_of(made[1])["metadata/2.root.json"]
    path = write_tar(tmp_path / "t.tar", members)  # the manifest lists the changed file: only the transcript knows
    assert refused(path) == f"{P}metadata/2.root.json: differs from the SHA-256 transcript entry 2 recorded for it"
    error = one_line_error(_run("audit", "verify", path))
    assert (
        error == f"error: {path}: {P}metadata/2.root.json: differs from the SHA-256 transcript entry 2 recorded for it"
    )


def test_a_changed_transcript_line_breaks_the_chain(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    lines = members["transcript.jsonl"].splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"rotate"', b'"rotatE"')
    members["transcript.jsonl"] = b"".join(lines)
    path = write_tar(tmp_path / "t.tar", members)
    assert refused(path).startswith(f"{P}transcript.jsonl: line 3 does not follow line 2 (the chain is broken")


def test_a_changed_last_line_is_caught_by_the_signoff(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    lines = members["transcript.jsonl"].splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b"PASSED", b"PASSED!")
    members["transcript.jsonl"] = b"".join(lines)
    path = write_tar(tmp_path / "t.tar", members)  # the chain still holds: nothing follows the last line
    name = signoff_name(members)
    assert refused(path).startswith(f"{P}{name}: signs head ")
    assert "(the transcript was changed after the sign-off)" in refused(path)


def test_a_changed_manifest_entry_is_refused(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    manifest = json.loads(members["manifest.json"])
    manifest["members"]["metadata/1.root.json"]["sha256"] = "0" * 64
    members["manifest.json"] = json.dumps(manifest).encode()
    path = write_tar(tmp_path / "t.tar", members, fix_manifest=False)
    assert refused(path) == f"{P}metadata/1.root.json: differs from the SHA-256 and size the manifest lists for it"
    manifest = json.loads(members_of(made[1])["manifest.json"])
    manifest["transcript"]["entries"] = 3
    members["manifest.json"] = json.dumps(manifest).encode()
    path = write_tar(tmp_path / "u.tar", members, fix_manifest=False)
    assert refused(path).startswith(f"{P}manifest.json: names transcript head ")


def test_a_member_added_or_removed_is_refused(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    extra = {**members, "drills/drill-extra.json": b"{}\n"}
    assert refused(write_tar(tmp_path / "a.tar", extra, fix_manifest=False)) == (
        f"{P}drills/drill-extra.json: in the archive but not listed in the manifest"
    )
    assert refused(write_tar(tmp_path / "b.tar", extra)) == (
        f"{P}drills/drill-extra.json: not recorded by any transcript entry"
    )
    fewer = {n: d for n, d in members.items() if n != "metadata/2.root.json"}
    assert refused(write_tar(tmp_path / "c.tar", fewer, fix_manifest=False)) == (
        f"{P}metadata/2.root.json: listed in the manifest but missing from the archive"
    )
    assert refused(write_tar(tmp_path / "d.tar", fewer)) == (
        f"{P}metadata/2.root.json: recorded by transcript entry 2, but missing from the bundle"
    )
    no_key = {n: d for n, d in members.items() if n != sorted(n for n in members if n.startswith("public-keys/"))[0]}
    assert refused(write_tar(tmp_path / "e.tar", no_key)).endswith(": missing: the metadata names this key")


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("tokens.json", "differs from the token facts the transcript records"),
        ("ledger.json", "differs from the backup ledger the transcript and the root files give"),
        ("public-keys", "differs from what the metadata lists for this key"),
    ],
)
def test_a_changed_derived_member_is_refused(
    made: tuple[Path, Path, Path], tmp_path: Path, member: str, expected: str
) -> None:
    members = members_of(made[1])
    name = member if member != "public-keys" else sorted(n for n in members if n.startswith("public-keys/"))[0]
    members[name] = members[name].replace(b"\n", b"\n ", 1)
    assert refused(write_tar(tmp_path / "t.tar", members)) == f"{P}{name}: {expected}"


def test_an_altered_signoff_signature_is_refused(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    name = signoff_name(members)
    document = json.loads(members[name])
    sig = document["sig"]
    document["sig"] = ("1" if sig[0] != "1" else "2") + sig[1:]
    members[name] = json.dumps(document, indent=2, sort_keys=True).encode()
    assert refused(write_tar(tmp_path / "t.tar", members)).startswith(
        f"{P}{name}: the signature does not verify with key "
    )
    document["sig"] = sig
    document["signoff"]["signer"] = "Mallory"  # what the signature covers, changed
    members[name] = json.dumps(document, indent=2, sort_keys=True).encode()
    assert "the signature does not verify" in refused(write_tar(tmp_path / "u.tar", members))


# --------------------------------------------------------------------------- hostile archives


def raw_tar(path: Path, build: Callable[[tarfile.TarFile], None]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return path


def add(tar: tarfile.TarFile, name: str, data: bytes = b"{}") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ceremony-audit/../etc/passwd", "a member name that climbs out of the archive (..); refused"),
        ("../ceremony-audit/manifest.json", "a member name that climbs out of the archive (..); refused"),
        ("/etc/passwd", "an absolute or malformed member name; refused"),
        ("ceremony-audit/keys/root.p12", "not a file an audit bundle holds (see docs/audit.md); refused"),
        ("ceremony-audit/metadata/.hidden.json", "not a file an audit bundle holds (see docs/audit.md); refused"),
        ("elsewhere/manifest.json", "not a file an audit bundle holds (see docs/audit.md); refused"),
    ],
)
def test_hostile_names_are_refused(tmp_path: Path, name: str, expected: str) -> None:
    path = raw_tar(tmp_path / "t.tar", lambda tar: add(tar, name))
    assert refused(path) == f"{name}: {expected}"


def test_links_devices_and_directories_are_refused(tmp_path: Path) -> None:
    for kind, what in (
        (tarfile.SYMTYPE, "a symbolic link"),
        (tarfile.LNKTYPE, "a hard link"),
        (tarfile.CHRTYPE, "a device"),
        (tarfile.FIFOTYPE, "a FIFO"),
        (tarfile.DIRTYPE, "a directory"),
    ):

        def build(tar: tarfile.TarFile, kind: bytes = kind) -> None:
            info = tarfile.TarInfo(f"{P}metadata/root.json")
            info.type = kind
            info.linkname = "/etc/passwd"
            tar.addfile(info)

        path = raw_tar(tmp_path / "t.tar", build)
        assert refused(path) == f"{P}metadata/root.json: is {what}; an audit bundle holds regular files only"


def test_a_duplicate_member_is_refused(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])

    def build(tar: tarfile.TarFile) -> None:
        for name, data in sorted(members.items()):
            add(tar, P + name, data)
        add(tar, f"{P}metadata/1.root.json", members["metadata/1.root.json"])

    assert (
        refused(raw_tar(tmp_path / "t.tar", build)) == f"{P}metadata/1.root.json: appears twice in the archive; refused"
    )


def test_an_oversized_member_is_refused_before_it_is_read(tmp_path: Path) -> None:
    info = tarfile.TarInfo(f"{P}transcript.jsonl")
    info.size = audit.MAX_MEMBER_BYTES + 1
    path = tmp_path / "t.tar"
    path.write_bytes(info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 1024)  # the header alone: 64 MiB declared, none there
    assert refused(path) == (
        f"{P}transcript.jsonl: declares {audit.MAX_MEMBER_BYTES + 1:,} bytes, more than {audit.MAX_MEMBER_BYTES:,}; "
        "refused"
    )


def test_member_count_and_total_size_are_bounded(
    made: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "MAX_MEMBERS", 5)
    assert refused(made[1]) == "more than 5 members; refused"
    monkeypatch.undo()
    monkeypatch.setattr(audit, "MAX_TOTAL_BYTES", 4000)
    assert "takes the members past 4,000 bytes in all; refused" in refused(made[1])


def test_not_a_plain_tar_or_data_after_its_end_is_refused(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data = made[1].read_bytes()
    zipped = tmp_path / "z.tar.gz"
    zipped.write_bytes(gzip.compress(data))
    assert refused(zipped).startswith("not an uncompressed tar archive (")
    trailing = tmp_path / "t.tar"
    trailing.write_bytes(data + b"hidden")
    assert refused(trailing).startswith("bytes after the end of the archive")
    truncated = tmp_path / "u.tar"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(AuditError):
        audit.verify_bundle(truncated)


def test_a_manifest_that_is_not_one_is_refused(made: tuple[Path, Path, Path], tmp_path: Path) -> None:
    members = members_of(made[1])
    for manifest, expected in (
        (b"[1]", "not a manifest of ceremony-audit-bundle version 1 (its fields differ)"),
        (b'{"a": 1, "a": 2}', "not valid JSON"),
    ):
        path = write_tar(tmp_path / "t.tar", {**members, "manifest.json": manifest}, fix_manifest=False)
        assert refused(path).startswith(f"{P}manifest.json: {expected}")
    no_manifest = {n: d for n, d in members.items() if n != "manifest.json"}
    assert refused(write_tar(tmp_path / "u.tar", no_manifest, fix_manifest=False)) == (
        f"{P}manifest.json: missing; every audit bundle has one"
    )


# --------------------------------------------------------------------------- plans and token facts


PLAN = new_root_plan(
    name="Audited ceremony",
    workspace="ws",
    witness="Wendy Witness",
    root_keys=('store = "token"\ntoken_serial = "SERIAL"', 'type = "ed25519"', 'type = "ed25519"'),
)


def test_plans_and_token_facts_are_carried_and_checked(tmp_path: Path) -> None:
    """A workspace made from a plan with a root key on a SoftHSM token: the bundle carries the plan and what the
    token said about the key, says what that proves and what it cannot, and misses neither."""
    hsm = new_softhsm(tmp_path / "hsm")
    serial = hsm.make_token("keyholder-kim")
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(PLAN.replace("SERIAL", serial))
    pf = tmp_path / "pf"
    pf.write_text(PASSPHRASE + "\n")
    ws = tmp_path / "ws"
    made = _run(
        "init", ws, "--plan", plan_file, "--module", MODULE, "--passphrase-file", pf, "--pin-file", hsm.pin_file,
        "--yes", "--exception", "test host", env=hsm.env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "ok   tokens:" in made.stdout and serial in made.stdout  # the plan's token was found at preflight
    loaded = plan.load_plan(plan_file.read_bytes(), "plan.toml")
    out = tmp_path / "b.tar"
    assert _run("audit", "bundle", ws, "--out", out, env=hsm.env).returncode == 0
    shutil.rmtree(ws)
    report = audit.verify_bundle(out)
    assert (
        f"plan {loaded.name!r} (SHA-256 {loaded.sha256[:16]}...) is the plan transcript entry 1 ran from"
        in report.proves
    ), report.proves
    members = members_of(out)
    tokens = json.loads(members["tokens.json"])
    (keyid,) = tokens["recorded"]
    facts = tokens["recorded"][keyid]["facts"]
    assert facts["token_serial"] == serial and facts["token_label"] == "keyholder-kim"
    assert facts["attributes"] == {
        "CKA_LOCAL": True,
        "CKA_ALWAYS_SENSITIVE": True,
        "CKA_NEVER_EXTRACTABLE": True,
        "CKA_SENSITIVE": True,
        "CKA_EXTRACTABLE": False,
    }
    assert facts["attestation"] is None and "SoftHSM2 offers none" in facts["attestation_note"]
    assert "pin" not in json.dumps(facts).lower().replace("pin-", "")  # no PIN, nor a PIN file's path
    assert any(
        line.startswith(f"key {keyid[:16]} (root-1): transcript entry 1 (init) recorded it on token 'keyholder-kim' "
                        f"(serial {serial}, SoftHSM project SoftHSM v2), which reported CKA_ALWAYS_SENSITIVE=true")
        for line in report.proves
    ), report.proves  # fmt: skip
    assert any(
        line.startswith(f"key {keyid[:16]} (root-1): that its attributes were truly read from a token")
        and "SoftHSM2 offers none" in line
        for line in report.cannot_prove
    ), report.cannot_prove
    # The plan the transcript ran from, removed (manifest in line): the transcript still names it.
    fewer = {n: d for n, d in members.items() if not n.startswith("plans/")}
    assert refused(write_tar(tmp_path / "t.tar", fewer)) == (
        f"{P}plans/{loaded.sha256}.toml: recorded by transcript entry 1, but missing from the bundle"
    )
    # A plan whose bytes were changed (its name and the manifest in line) is not the plan the transcript names.
    changed = {**members, f"plans/{loaded.sha256}.toml": members[f"plans/{loaded.sha256}.toml"] + b"# edited\n"}
    assert f"plans/{loaded.sha256}.toml" in refused(write_tar(tmp_path / "u.tar", changed))


def test_the_chain_check_is_transcript_py_s(made: tuple[Path, Path, Path]) -> None:
    """The bundle's chain check accepts and refuses exactly what verify_transcript's chain does."""
    lines = (made[0] / "transcript.jsonl").read_bytes().splitlines(keepends=True)
    mine = audit._chain(lines, "t")
    theirs = transcript.verify_transcript(made[0], Workspace.load(made[0]).tracked_files())
    assert (mine.entries, mine.head, mine.records, mine.superseded) == (
        theirs.entries, theirs.head, theirs.records, theirs.superseded,
    )  # fmt: skip
    for broken, expected in (
        ([lines[0], lines[2]], "t: line 2 does not follow line 1"),
        ([lines[0].rstrip(b"\n")], "t: line 1 is incomplete (no newline)"),
        ([], "t: the transcript is empty"),
    ):
        with pytest.raises(TranscriptError) as caught:
            audit._chain(broken, "t")
        assert str(caught.value).startswith(expected)


# --------------------------------------------------------------------------- Docker Content Trust


def test_a_docker_content_trust_bundle_carries_the_root_certificates(tmp_path: Path) -> None:
    from ceremony.core import dct, notary, notary_bundle
    from ceremony.core.keys.dct import generate_notary_key

    gun = "registry.example:5000/org/app"
    server_keys = {role: notary.ecdsa_key(generate_notary_key().public) for role in ("snapshot", "timestamp")}
    fetched = notary_bundle.Bundle(
        kind="fetched",
        gun=gun,
        files={},
        server="https://notary.example:4443",
        fetched_at=notary_bundle.fetched_at(NOW),
        server_keys=server_keys,
    )
    notary_bundle.write_bundle(tmp_path / "fetched.bundle", fetched)
    options = dct.DctInitOptions(
        gun=gun,
        server_keys=tmp_path / "fetched.bundle",
        bundle_out=tmp_path / "v1.bundle",
        targets_key_out=tmp_path / "targets.key",
    )
    dct.init_dct(tmp_path / "ws", options, lambda label: f"{label} passphrase")
    summary = audit.write_bundle(Workspace.load(tmp_path / "ws"), tmp_path / "b.tar")
    report = audit.verify_bundle(summary.path)
    assert report.profile == "notary"
    assert report.proves[4].startswith(
        "root version 1 (1.root.json) starts the chain, signed by its own root keys (its own root role: 3 valid of 3 "
    )
    assert any(line.startswith("the root chain verifies as the stock notary client would") for line in report.proves)
    members = members_of(summary.path)
    root = json.loads(members["metadata/1.root.json"])["signed"]
    root_ids = root["roles"]["root"]["keyids"]
    assert len(root_ids) == 3
    for keyid in root_ids:
        pem = members[f"public-keys/{keyid}.pem"]
        assert pem.startswith(b"-----BEGIN CERTIFICATE-----") and pem == notary.key_public(root["keys"][keyid])[1]
    name = f"public-keys/{root_ids[0]}.pem"
    members[name] = members[f"public-keys/{root_ids[1]}.pem"]  # another keyholder's certificate in its place
    assert (
        refused(write_tar(tmp_path / "t.tar", members))
        == f"{P}{name}: differs from what the metadata lists for this key"
    )
