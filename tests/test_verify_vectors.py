"""`ceremony verify` against real published TUF repositories, intact and tampered.

The vectors live in tests/vectors, copied byte for byte from shared/vectors
(see its README.md and each SOURCE.txt), so a fresh clone runs them. Tampered copies are built in memory (for the large matrix, which
calls ``verify_files`` in-process) or in ``tmp_path`` (for the CLI subset,
which covers the real command, its exit code and its one-line error).

Every rejection test asserts the file and the check the error names, so a
verifier that rejects for the wrong reason fails too, not only one that
accepts a tampered copy.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner

from ceremony.core import keys as ceremony_keys
from ceremony.core._json import canonical_bytes
from ceremony.core.dates import format_date, parse_at, parse_tuf_date
from ceremony.core.verify import Report, verify_files
from ceremony.errors import VerificationError
from tests.conftest import VECTOR_DATES, one_line_error

# Newest root version of each vector.
NEWEST = {
    "sigstore-root-signing": 15,
    "sigstore-root-signing-legacy": 9,
    "sigstore-root-signing-staging": 14,
    "jku-tuf-demo": 5,
    "dccouncil-law": 11,
    "python-tuf-repository_data": 1,
}

# Role -> the file a client reads for it (consistent snapshots read N.role.json).
NON_ROOT = {
    "sigstore-root-signing": {
        "timestamp": "timestamp.json",
        "snapshot": "snapshot.json",
        "targets": "targets.json",
        "registry.npmjs.org": "registry.npmjs.org.json",
    },
    "sigstore-root-signing-legacy": {
        "timestamp": "timestamp.json",
        "snapshot": "155.snapshot.json",
        "targets": "9.targets.json",
        "registry.npmjs.org": "3.registry.npmjs.org.json",
    },
    "sigstore-root-signing-staging": {
        "timestamp": "timestamp.json",
        "snapshot": "snapshot.json",
        "targets": "targets.json",
        "registry.npmjs.org": "registry.npmjs.org.json",
    },
    "jku-tuf-demo": {
        "timestamp": "timestamp.json",
        "snapshot": "snapshot.json",
        "targets": "targets.json",
        "jku": "jku.json",
        "rdimitrov": "rdimitrov.json",
        "kommendorkapten": "kommendorkapten.json",
    },
    "dccouncil-law": {
        "timestamp": "timestamp.json",
        "snapshot": "snapshot.json",
        "targets": "targets.json",
        "law": "law.json",
        "docs": "docs.json",
        "assets": "assets.json",
        "rdf": "rdf.json",
    },
    "python-tuf-repository_data": {
        "timestamp": "timestamp.json",
        "snapshot": "snapshot.json",
        "targets": "targets.json",
        "role1": "role1.json",
        "role2": "role2.json",
    },
}

NAMES = sorted(NEWEST)
ALL_ROOTS = [(n, v) for n in NAMES for v in range(1, NEWEST[n] + 1)]
LATER_ROOTS = [(n, v) for n, v in ALL_ROOTS if v >= 2]
MIDDLE_ROOTS = [(n, v) for n, v in ALL_ROOTS if 2 <= v < NEWEST[n]]
CHAINS = [n for n in NAMES if NEWEST[n] >= 2]
ALL_NON_ROOT = [(n, role) for n in NAMES for role in NON_ROOT[n]]
EVERY_FILE = [(n, f"{v}.root.json") for n, v in ALL_ROOTS] + [(n, NON_ROOT[n][r]) for n, r in ALL_NON_ROOT]


def _id(value: Any) -> str:
    return str(value)


# --- helpers ---------------------------------------------------------------------------------------


@cache
def _files(directory: str) -> dict[str, bytes]:
    """The vector's *.json files (cached; callers copy before changing)."""
    return {p.name: p.read_bytes() for p in sorted(Path(directory).glob("*.json"))}


def load(vectors: Path, name: str) -> dict[str, bytes]:
    """A private, mutable copy of a vector as ``{file name: bytes}``."""
    return dict(_files(str(vectors / name)))


def at(name: str) -> datetime:
    return parse_at(VECTOR_DATES[name])


def reject(
    files: dict[str, bytes], when: datetime, trusted: bytes | None = None, trusted_name: str | None = None
) -> VerificationError:
    """Run the verifier and return the error it must raise."""
    with pytest.raises(VerificationError) as info:
        verify_files(files, trusted, when, trusted_name)
    return info.value


def assert_rejected(err: VerificationError, file: str, check: str | set[str]) -> None:
    checks = {check} if isinstance(check, str) else check
    assert (err.file, err.check in checks) == (file, True), f"{err.file} [{err.check}]: {err}"
    assert file in str(err)


def doc(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def tamper_expires(data: bytes) -> bytes:
    """Change one digit of signed.expires in place; the file stays valid JSON of the same length."""
    expires = doc(data)["signed"]["expires"]
    pattern = re.compile(rb'"expires"\s*:\s*"' + re.escape(expires.encode()) + rb'"')
    matches = list(pattern.finditer(data))
    assert len(matches) == 1, "signed.expires is not unique in the file"
    pos = matches[0].end() - 1 - len(expires) + 3  # last digit of the year
    digit = data[pos : pos + 1]
    assert digit.isdigit()
    out = data[:pos] + str((int(digit) + 1) % 10).encode() + data[pos + 1 :]
    changed = doc(out)
    assert changed["signed"]["expires"] != expires and len(out) == len(data)
    return out


def tamper_keyid(data: bytes) -> bytes:
    """Change one hex character of the first key id in signed.keys (the dict key itself)."""
    keyid = next(iter(doc(data)["signed"]["keys"]))
    matches = list(re.finditer(rb'"' + re.escape(keyid.encode()) + rb'"\s*:', data))
    assert len(matches) == 1
    pos = matches[0].start() + 1
    flipped = b"1" if data[pos : pos + 1] != b"1" else b"2"
    out = data[:pos] + flipped + data[pos + 1 :]
    assert keyid not in doc(out)["signed"]["keys"]
    return out


def insert_in_signed(data: bytes, member: bytes) -> bytes:
    """Insert raw JSON ``member,`` as the first member of the signed object."""
    matches = list(re.finditer(rb'"signed"\s*:\s*\{', data))
    assert len(matches) == 1
    pos = matches[0].end()
    return data[:pos] + member + b"," + data[pos:]


def dump(obj: Any, indent: int | str | None = 4) -> bytes:
    return json.dumps(obj, indent=indent, ensure_ascii=False).encode()


def valid_root_signers(root_doc: dict[str, Any], signer_doc: dict[str, Any]) -> list[str]:
    """Key ids of ``signer_doc``'s root role whose signature over ``root_doc`` is valid (computed independently)."""
    payload = canonical_bytes(root_doc["signed"])
    signer = signer_doc["signed"]
    sigs = {s["keyid"]: s["sig"] for s in root_doc["signatures"]}
    valid = []
    for keyid in signer["roles"]["root"]["keyids"]:
        if keyid in sigs and keyid in signer["keys"]:
            key = ceremony_keys.public_key_from_metadata(keyid, signer["keys"][keyid])
            if ceremony_keys.signature_is_valid(key, sigs[keyid], payload):
                valid.append(keyid)
    return valid


def expected_tamper_check(files: dict[str, bytes], name: str, role: str) -> str:
    """A changed signed byte fails the hash check when the delegator pins hashes, else the signature threshold."""
    if role == "timestamp":
        return "threshold"
    delegator = NON_ROOT[name]["timestamp" if role == "snapshot" else "snapshot"]
    meta = doc(files[delegator])["signed"]["meta"][f"{role}.json"]
    return "hash" if meta.get("hashes") else "threshold"


def expires_of(data: bytes) -> datetime:
    return parse_tuf_date(doc(data)["signed"]["expires"], "test")


# --- 1. every vector verifies at its date ----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_vector_verifies_in_process(vectors: Path, name: str) -> None:
    report: Report = verify_files(load(vectors, name), None, at(name))
    newest = NEWEST[name]
    assert report.newest_root_version == newest
    assert report.trusted_root == "1.root.json"
    roots = [(c.file, c.version) for c in report.checks if c.role == "root"]
    assert roots == [(f"{v}.root.json", v) for v in range(1, newest + 1)]
    others = {c.role: c.file for c in report.checks if c.role != "root"}
    assert others == NON_ROOT[name]
    assert report.skipped == []


@pytest.mark.parametrize("name", NAMES)
def test_vector_verifies_cli_json(vectors: Path, cli, name: str) -> None:
    result = cli("verify", vectors / name, "--at", VECTOR_DATES[name], "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert out["valid"] is True
    assert out["newest_root_version"] == NEWEST[name]
    checked = {c["role"]: c["file"] for c in out["checks"] if c["role"] != "root"}
    assert {"timestamp", "snapshot", "targets"} <= set(checked)
    assert checked == NON_ROOT[name]
    assert [c["version"] for c in out["checks"] if c["role"] == "root"] == list(range(1, NEWEST[name] + 1))


def test_vector_verifies_cli_text(vectors: Path, cli) -> None:
    result = cli("verify", vectors / "sigstore-root-signing", "--at", "2026-08-25")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("valid: root chain to version 15")


# --- 2. expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_expired_newest_root_in_process(vectors: Path, name: str) -> None:
    files = load(vectors, name)
    newest = f"{NEWEST[name]}.root.json"
    expires = expires_of(files[newest])
    roots_only = {f: data for f, data in files.items() if f.endswith("root.json")}
    verify_files(roots_only, None, expires - timedelta(seconds=1))  # the chain is still valid just before
    assert_rejected(reject(roots_only, expires), newest, "expiry")
    for when in (expires, expires + timedelta(days=1)):
        assert_rejected(reject(files, when), newest, "expiry")


@pytest.mark.parametrize("name", NAMES)
def test_expired_newest_root_cli(vectors: Path, cli, name: str) -> None:
    newest = f"{NEWEST[name]}.root.json"
    when = format_date(expires_of(_files(str(vectors / name))[newest]) + timedelta(days=1))
    line = one_line_error(cli("verify", vectors / name, "--at", when))
    assert line.startswith(f"error: {newest}: expired at ")
    assert line.endswith("[expiry check]")


@pytest.mark.parametrize("name", NAMES)
def test_expired_timestamp(vectors: Path, name: str) -> None:
    files = load(vectors, name)
    when = expires_of(files["timestamp.json"])
    root = f"{NEWEST[name]}.root.json"
    if expires_of(files[root]) <= when:
        assert_rejected(reject(files, when), root, "expiry")
    else:
        # Whatever expires first among timestamp, snapshot, targets... the first checked is timestamp.
        assert_rejected(reject(files, when), "timestamp.json", "expiry")


# --- 3a. one byte changed inside a signed field ----------------------------------------------------


@pytest.mark.parametrize(("name", "version"), ALL_ROOTS, ids=_id)
def test_root_version_with_changed_expires_is_rejected(vectors: Path, name: str, version: int) -> None:
    files = load(vectors, name)
    target = f"{version}.root.json"
    files[target] = tamper_expires(files[target])
    if version == NEWEST[name]:
        files["root.json"] = files[target]
    assert_rejected(reject(files, at(name)), target, "threshold")


@pytest.mark.parametrize(("name", "version"), ALL_ROOTS, ids=_id)
def test_root_version_with_changed_keyid_is_rejected(vectors: Path, name: str, version: int) -> None:
    files = load(vectors, name)
    target = f"{version}.root.json"
    files[target] = tamper_keyid(files[target])
    assert_rejected(reject(files, at(name)), target, "threshold")


@pytest.mark.parametrize(("name", "role"), ALL_NON_ROOT, ids=_id)
def test_non_root_with_changed_expires_is_rejected(vectors: Path, name: str, role: str) -> None:
    files = load(vectors, name)
    target = NON_ROOT[name][role]
    files[target] = tamper_expires(files[target])
    assert_rejected(reject(files, at(name)), target, expected_tamper_check(files, name, role))


def test_unused_unnumbered_copy_is_not_read_with_consistent_snapshots(vectors: Path) -> None:
    """Legacy sigstore has consistent snapshots: clients read 9.targets.json, never targets.json."""
    files = load(vectors, "sigstore-root-signing-legacy")
    files["targets.json"] = tamper_expires(files["targets.json"])
    verify_files(files, None, at("sigstore-root-signing-legacy"))
    files["9.targets.json"] = files["targets.json"]
    assert_rejected(reject(files, at("sigstore-root-signing-legacy")), "9.targets.json", "hash")


def test_changed_root_version_cli(vectors: Path, cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / "dccouncil-law", repo)
    (repo / "4.root.json").write_bytes(tamper_expires((repo / "4.root.json").read_bytes()))
    line = one_line_error(cli("verify", repo, "--at", VECTOR_DATES["dccouncil-law"]))
    assert line.startswith("error: 4.root.json: signed by 0 of the 2 required keys of root version 3")
    assert line.endswith("[threshold check]")


@pytest.mark.parametrize("name", ["jku-tuf-demo", "sigstore-root-signing-legacy"])
def test_changed_non_root_cli_json(vectors: Path, cli, tmp_path: Path, name: str) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / name, repo)
    target = NON_ROOT[name]["targets"]
    (repo / target).write_bytes(tamper_expires((repo / target).read_bytes()))
    result = cli("verify", repo, "--at", VECTOR_DATES[name], "--json")
    line = one_line_error(result)
    out = json.loads(result.stdout)
    expected = expected_tamper_check(_files(str(vectors / name)), name, "targets")
    assert (out["valid"], out["file"], out["check"]) == (False, target, expected)
    assert line.startswith(f"error: {target}: ") and line.endswith(f"[{expected} check]")


# --- 3b. below threshold ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["drop", "blank"])
@pytest.mark.parametrize(("name", "version"), ALL_ROOTS, ids=_id)
def test_root_one_signature_below_threshold(vectors: Path, name: str, version: int, mode: str) -> None:
    """Keep threshold-1 valid signatures of the root's own keys; drop the rest or blank them (tuf-on-ci placeholders)."""
    files = load(vectors, name)
    target = f"{version}.root.json"
    root = doc(files[target])
    threshold = root["signed"]["roles"]["root"]["threshold"]
    valid = valid_root_signers(root, root)
    assert len(valid) >= threshold  # the untouched file meets it
    keep = set(valid[: threshold - 1])
    if mode == "drop":
        root["signatures"] = [s for s in root["signatures"] if s["keyid"] in keep]
    else:
        root["signatures"] = [s if s["keyid"] in keep else {**s, "sig": ""} for s in root["signatures"]]
    files[target] = dump(root)
    err = reject(files, at(name))
    assert_rejected(err, target, "threshold")
    counted = re.search(r"signed by (\d+) of the (\d+) required keys", str(err))
    assert counted and int(counted.group(1)) < int(counted.group(2)) and int(counted.group(1)) <= len(keep)


def test_trusted_root_below_threshold_cli(vectors: Path, cli, tmp_path: Path) -> None:
    root = doc((vectors / "sigstore-root-signing" / "5.root.json").read_bytes())
    valid = valid_root_signers(root, root)
    root["signatures"] = [s for s in root["signatures"] if s["keyid"] in valid[:2]]
    trusted = tmp_path / "trusted.json"
    trusted.write_bytes(dump(root))
    line = one_line_error(
        cli("verify", vectors / "sigstore-root-signing", "--trusted-root", trusted, "--at", "2026-08-25")
    )
    assert line.startswith(f"error: {trusted}: signed by 2 of the 3 required keys")
    assert line.endswith("[threshold check]")


@pytest.mark.parametrize("name", NAMES)
def test_new_root_signed_only_by_its_own_new_keys_is_rejected(vectors: Path, name: str) -> None:
    """Root N+1 that replaces the root keys and is signed by the new key only: the previous root did not approve it."""
    files = load(vectors, name)
    newest = NEWEST[name]
    signer = CryptoSigner.generate_ed25519()
    forged = doc(files[f"{newest}.root.json"])
    signed = forged["signed"]
    signed["version"] = newest + 1
    signed["keys"][signer.public_key.keyid] = signer.public_key.to_dict()
    signed["roles"]["root"] = {"keyids": [signer.public_key.keyid], "threshold": 1}
    forged["signatures"] = [signer.sign(canonical_bytes(signed)).to_dict()]
    forged_bytes = dump(forged)
    files[f"{newest + 1}.root.json"] = files["root.json"] = forged_bytes

    err = reject(files, at(name))
    assert_rejected(err, f"{newest + 1}.root.json", "threshold")
    assert f"root version {newest}" in str(err)
    # Control: the forged root is well formed; a client that trusted it outright would accept the rest.
    assert verify_files(files, forged_bytes, at(name), "forged").newest_root_version == newest + 1


# --- 3c. version order: swap, gap, replay, root.json -------------------------------------------------


@pytest.mark.parametrize(("name", "version"), [(n, v) for n, v in ALL_ROOTS if v < NEWEST[n]], ids=_id)
def test_swapped_consecutive_versions_are_rejected(vectors: Path, name: str, version: int) -> None:
    files = load(vectors, name)
    first, second = f"{version}.root.json", f"{version + 1}.root.json"
    files[first], files[second] = files[second], files[first]
    assert_rejected(reject(files, at(name)), first, "version")


@pytest.mark.parametrize(("name", "version"), MIDDLE_ROOTS, ids=_id)
def test_missing_middle_version_is_a_gap(vectors: Path, name: str, version: int) -> None:
    files = load(vectors, name)
    del files[f"{version}.root.json"]
    assert_rejected(reject(files, at(name)), f"{version}.root.json", "gap")


@pytest.mark.parametrize("name", CHAINS)
def test_missing_newest_version_leaves_root_json_ahead(vectors: Path, name: str) -> None:
    files = load(vectors, name)
    del files[f"{NEWEST[name]}.root.json"]
    assert_rejected(reject(files, at(name)), "root.json", "root-json")


@pytest.mark.parametrize(("name", "version"), LATER_ROOTS, ids=_id)
def test_replayed_previous_version_is_rejected(vectors: Path, name: str, version: int) -> None:
    files = load(vectors, name)
    files[f"{version}.root.json"] = files[f"{version - 1}.root.json"]
    assert_rejected(reject(files, at(name)), f"{version}.root.json", "version")


@pytest.mark.parametrize("name", CHAINS)
def test_root_json_of_an_older_version_is_rejected(vectors: Path, name: str) -> None:
    files = load(vectors, name)
    files["root.json"] = files[f"{NEWEST[name] - 1}.root.json"]
    assert_rejected(reject(files, at(name)), "root.json", "root-json")


@pytest.mark.parametrize("name", NAMES)
def test_root_json_with_changed_signed_byte_is_rejected(vectors: Path, name: str) -> None:
    files = load(vectors, name)
    files["root.json"] = tamper_expires(files["root.json"])
    assert_rejected(reject(files, at(name)), "root.json", "root-json")


@pytest.mark.parametrize("mode", ["stripped", "blanked"])
@pytest.mark.parametrize("name", NAMES)
def test_root_json_without_valid_signatures_is_rejected(vectors: Path, name: str, mode: str) -> None:
    """Same signed content as the newest root, but a client bootstrapping from root.json could not verify it."""
    files = load(vectors, name)
    root = doc(files["root.json"])
    root["signatures"] = [] if mode == "stripped" else [{**s, "sig": ""} for s in root["signatures"]]
    files["root.json"] = dump(root)
    assert_rejected(reject(files, at(name)), "root.json", "threshold")


def test_swapped_first_versions_cli(vectors: Path, cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / "jku-tuf-demo", repo)
    (repo / "1.root.json").write_bytes((vectors / "jku-tuf-demo" / "2.root.json").read_bytes())
    (repo / "2.root.json").write_bytes((vectors / "jku-tuf-demo" / "1.root.json").read_bytes())
    line = one_line_error(cli("verify", repo, "--at", VECTOR_DATES["jku-tuf-demo"]))
    assert line.startswith("error: 1.root.json: holds root version 2, expected 1")
    assert line.endswith("[version check]")


def test_gap_cli(vectors: Path, cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / "sigstore-root-signing-staging", repo)
    (repo / "7.root.json").unlink()
    line = one_line_error(cli("verify", repo, "--at", VECTOR_DATES["sigstore-root-signing-staging"]))
    assert line.startswith("error: 7.root.json: missing, but 8.root.json exists")
    assert line.endswith("[gap check]")


def test_root_json_differs_cli(vectors: Path, cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / "sigstore-root-signing", repo)
    shutil.copyfile(repo / "14.root.json", repo / "root.json")
    line = one_line_error(cli("verify", repo, "--at", VECTOR_DATES["sigstore-root-signing"]))
    assert line.startswith("error: root.json: is root version 14 but the newest in the chain is 15.root.json")
    assert line.endswith("[root-json check]")


# --- 3d. duplicate signatures, duplicate JSON keys, floats ------------------------------------------


@pytest.mark.parametrize(("name", "file"), EVERY_FILE, ids=_id)
def test_duplicated_signature_entry_is_rejected(vectors: Path, name: str, file: str) -> None:
    files = load(vectors, name)
    obj = doc(files[file])
    obj["signatures"].append(dict(obj["signatures"][0]))
    files[file] = dump(obj)
    assert_rejected(reject(files, at(name)), file, "duplicate-signature")


@pytest.mark.parametrize(("name", "file"), EVERY_FILE, ids=_id)
def test_duplicate_key_in_signed_is_rejected(vectors: Path, name: str, file: str) -> None:
    files = load(vectors, name)
    version = doc(files[file])["signed"]["version"]
    files[file] = insert_in_signed(files[file], b'"version": %d' % version)  # same value, still refused
    err = reject(files, at(name))
    assert_rejected(err, file, "parse")
    assert "duplicate key 'version'" in str(err)


@pytest.mark.parametrize(("name", "file"), EVERY_FILE, ids=_id)
def test_float_in_signed_is_rejected(vectors: Path, name: str, file: str) -> None:
    files = load(vectors, name)
    files[file] = insert_in_signed(files[file], b'"x-ratio": 1.5')
    err = reject(files, at(name))
    assert_rejected(err, file, "parse")
    assert "1.5" in str(err)


@pytest.mark.parametrize(
    ("file", "member", "words"),
    [
        ("3.root.json", b'"_type": "root"', "duplicate key '_type'"),
        ("snapshot.json", b'"x-ratio": 0.5', "non-integer number 0.5"),
    ],
)
def test_duplicate_key_and_float_cli(vectors: Path, cli, tmp_path: Path, file: str, member: bytes, words: str) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / "sigstore-root-signing", repo)
    (repo / file).write_bytes(insert_in_signed((repo / file).read_bytes(), member))
    result = cli("verify", repo, "--at", VECTOR_DATES["sigstore-root-signing"])
    assert result.returncode == 1
    line = one_line_error(result)
    assert line.startswith(f"error: {file}: {words}")
    assert line.endswith("[parse check]")


# --- harmless changes are accepted -------------------------------------------------------------------


@pytest.mark.parametrize("indent", [None, 3, 7], ids=["compact", "indent3", "indent7"])
@pytest.mark.parametrize("name", NAMES)
def test_reformatted_roots_and_timestamp_are_accepted(vectors: Path, name: str, indent: int | str | None) -> None:
    """Same canonical signed content, other whitespace and signature order: nothing a signature covers changed."""
    files = load(vectors, name)
    for file in [f"{v}.root.json" for v in range(1, NEWEST[name] + 1)] + ["root.json", "timestamp.json"]:
        obj = doc(files[file])
        obj["signatures"].reverse()
        files[file] = dump(obj, indent)
        assert files[file] != _files(str(vectors / name))[file]
    assert verify_files(files, None, at(name)).newest_root_version == NEWEST[name]


@pytest.mark.parametrize("name", NAMES)
def test_root_json_canonically_equal_or_absent_is_accepted(vectors: Path, name: str) -> None:
    files = load(vectors, name)
    files["root.json"] = dump(doc(files["root.json"]), 2)  # differs in bytes from N.root.json
    verify_files(files, None, at(name))
    del files["root.json"]
    verify_files(files, None, at(name))


def test_reformatted_root_cli(vectors: Path, cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(vectors / "sigstore-root-signing", repo)
    for file in ("15.root.json", "root.json", "1.root.json"):
        (repo / file).write_bytes(dump(doc((repo / file).read_bytes()), 8))
    result = cli("verify", repo, "--at", VECTOR_DATES["sigstore-root-signing"])
    assert result.returncode == 0, result.stderr


# --- 4. --trusted-root at a later version ------------------------------------------------------------


def test_trusted_root_later_version_cli(vectors: Path, cli) -> None:
    repo = vectors / "sigstore-root-signing"
    result = cli("verify", repo, "--trusted-root", repo / "5.root.json", "--at", "2026-08-25", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["valid"] is True
    assert out["trusted_root"] == str(repo / "5.root.json")
    assert out["newest_root_version"] == 15
    assert [c["version"] for c in out["checks"] if c["role"] == "root"] == list(range(5, 16))


@pytest.mark.parametrize("name", CHAINS)
def test_trusted_root_later_version_ignores_earlier_files(vectors: Path, name: str) -> None:
    """A client trusting version K never reads 1..K-1, so damage there does not matter; damage after K does."""
    files = load(vectors, name)
    newest = NEWEST[name]
    trusted_version = max(2, newest // 2)
    trusted = files[f"{trusted_version}.root.json"]
    files["1.root.json"] = tamper_expires(files["1.root.json"])
    report = verify_files(files, trusted, at(name), f"{trusted_version}.root.json (trusted)")
    assert [c.version for c in report.checks if c.role == "root"] == list(range(trusted_version, newest + 1))
    if trusted_version < newest:
        later = f"{trusted_version + 1}.root.json"
        files[later] = tamper_expires(files[later])
        assert_rejected(reject(files, at(name), trusted, "trusted"), later, "threshold")


def test_trusted_root_of_another_repository_is_rejected(vectors: Path) -> None:
    files = load(vectors, "sigstore-root-signing")
    other = load(vectors, "jku-tuf-demo")["1.root.json"]
    err = reject(files, at("sigstore-root-signing"), other, "jku 1.root.json")
    assert_rejected(err, "2.root.json", "threshold")


def test_trusted_root_newer_than_directory_rejects_older_root_json(vectors: Path) -> None:
    files = load(vectors, "sigstore-root-signing")
    del files["15.root.json"]
    trusted = _files(str(vectors / "sigstore-root-signing"))["15.root.json"]
    # The client already trusts 15; root.json at 15 is fine...
    verify_files(files, trusted, at("sigstore-root-signing"), "15.root.json (trusted)")
    # ...but a root.json that is older than what the client trusts is a rollback.
    files["root.json"] = files["14.root.json"]
    assert_rejected(reject(files, at("sigstore-root-signing"), trusted, "t"), "root.json", "root-json")
