"""`ceremony verify` at least as strict as python-tuf's client: one regression test per class of fault.

A red team found mutated repositories that ceremony accepted and python-tuf
refused (tests/fuzz_oracle.py now searches for them continuously). Each test
here failed on the verifier as it was, and asserts the file and the check the
error names, not only that verification failed. Fresh repositories are built
with python-tuf's Metadata API (tests/fuzz_oracle.py ``build_fresh``) and
every changed file is re-signed with its own keys, so the check behind the
signatures is what refuses it.

Names added with this work (SizeLimits, read_client_files) are imported inside
the tests that use them, so the rest of the file runs against older code.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from ceremony.core._json import canonical_bytes
from ceremony.core.dates import parse_at, parse_tuf_date
from ceremony.core.repo_files import read_metadata_dir
from ceremony.core.verify import verify_directory, verify_files
from ceremony.errors import InputFileError, UsageError, VerificationError
from tests.conftest import VECTOR_DATES
from tests.fuzz_oracle import (
    FRESH_AT,
    FreshRepo,
    Mutation,
    build_fresh,
    keyring,
    publish,
    python_tuf_verdict,
)

# --- helpers ---------------------------------------------------------------------------------------


def fresh(shape: str = "delegations", consistent: bool = False, **options: Any) -> FreshRepo:
    """A deterministic fresh repository (keys aside)."""
    return build_fresh(random.Random(5), shape=shape, consistent=consistent, rotation=True, **options)


def files_of(repo: FreshRepo, **hooks: Any) -> dict[str, bytes]:
    """Publish ``repo`` with ``signed`` hooks given as role=callable (root versions as root_N)."""
    signed = {k.replace("root_", "root:"): v for k, v in hooks.items() if k != "files"}
    return publish(repo, Mutation("test", signed=signed, files=hooks.get("files")))


def reject(files: dict[str, bytes], **kwargs: Any) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify_files(files, None, FRESH_AT, **kwargs)
    return info.value


def assert_rejected(err: VerificationError, file: str, check: str) -> None:
    assert (err.file, err.check) == (file, check), f"{err.file} [{err.check}]: {err}"
    assert file in str(err)


def python_tuf_refuses(files: dict[str, bytes]) -> None:
    """The oracle agrees the repository is bad (what the test asks of ceremony is python-tuf's rule)."""
    verdict = python_tuf_verdict(files, files["1.root.json"], FRESH_AT)
    assert not verdict.accepted


def pad(size: int) -> Any:
    """A hook padding ``signed`` so the published file is about ``size`` bytes."""

    def hook(signed: dict[str, Any]) -> None:
        signed["x-pad"] = ""
        probe = json.dumps({"signed": signed, "signatures": [{"keyid": "0" * 64, "sig": "0" * 128}]}, indent=1)
        signed["x-pad"] = "A" * max(0, size - len(probe.encode()))

    return hook


def test_fresh_repository_verifies_with_both() -> None:
    """Control for every test below: the untouched repository is valid for python-tuf and ceremony."""
    for shape in ("plain", "delegations", "nested", "diamond", "succinct"):
        for consistent in (False, True):
            files = files_of(fresh(shape, consistent))
            assert python_tuf_verdict(files, files["1.root.json"], FRESH_AT).accepted
            report = verify_files(files, None, FRESH_AT)
            assert report.skipped == [] and report.warnings == []


# --- 1. size limits --------------------------------------------------------------------------------


def test_timestamp_over_python_tuf_limit_is_refused() -> None:
    files = files_of(fresh(), timestamp=pad(16_384 + 200))
    assert len(files["timestamp.json"]) > 16_384
    python_tuf_refuses(files)
    assert_rejected(reject(files), "timestamp.json", "size")


def test_intermediate_root_over_limit_is_refused() -> None:
    files = files_of(fresh(), root_1=pad(100), root_2=pad(512_000 + 100))
    python_tuf_refuses(files)
    assert_rejected(reject(files), "2.root.json", "size")


def test_snapshot_limit_applies_unless_timestamp_gives_its_length() -> None:
    repo = fresh(pin_timestamp=False)
    files = files_of(repo, snapshot=pad(2_000_000 + 100))
    python_tuf_refuses(files)
    assert_rejected(reject(files), "snapshot.json", "size")
    # With the length in timestamp's meta a client downloads exactly that many bytes: accepted by both.
    pinned = files_of(fresh(pin_timestamp=True), snapshot=pad(2_000_000 + 100))
    assert python_tuf_verdict(pinned, pinned["1.root.json"], FRESH_AT).accepted
    verify_files(pinned, None, FRESH_AT)


def test_delegated_role_limit_and_raised_limits() -> None:
    from ceremony.core.repo_files import SizeLimits

    files = files_of(fresh(pin_snapshot=False), **{"role-a": pad(30_000)})
    small = SizeLimits(targets=20_000)
    assert_rejected(reject(files, limits=small), "role-a.json", "size")
    assert "--max-bytes targets=BYTES" in str(reject(files, limits=small))
    verify_files(files, None, FRESH_AT, limits=SizeLimits.parse(["targets=40000"]))
    assert SizeLimits() == SizeLimits(root=512_000, timestamp=16_384, snapshot=2_000_000, targets=5_000_000)


@pytest.mark.parametrize("spec", ["root", "root=", "root=-1", "root=0", "root=1.5", "mirror=10", "root=2000000000"])
def test_size_limits_parse_refuses_bad_values(spec: str) -> None:
    from ceremony.core.repo_files import SizeLimits

    with pytest.raises(UsageError):
        SizeLimits.parse([spec])
    with pytest.raises(UsageError):
        SizeLimits.parse(["root=1000", "root=2000"])
    assert SizeLimits.parse(["root=1_000_000", " timestamp = 20000 "]) == SizeLimits(root=1_000_000, timestamp=20_000)


# --- 2. unreadable entries are not absent ---------------------------------------------------------


def write(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


@pytest.mark.parametrize("kind", ["symlink-loop", "dangling", "directory", "fifo"])
@pytest.mark.parametrize("name", ["timestamp.json", "role-b.json", "3.root.json"])
def test_unreadable_metadata_entry_is_refused(tmp_path: Path, kind: str, name: str) -> None:
    """Treated as absent, a broken timestamp.json left a root-only 'valid' report; 3.root.json hid a rotation."""
    directory = write(tmp_path / "metadata", files_of(fresh()))
    path = directory / name
    path.unlink(missing_ok=True)
    if kind == "symlink-loop":
        path.symlink_to(name)
    elif kind == "dangling":
        path.symlink_to("gone.json.bak")
    elif kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    with pytest.raises(InputFileError) as info:
        read_metadata_dir(directory)
    assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(InputFileError):
        verify_directory(directory, None, FRESH_AT)


def test_read_client_files_reads_only_what_a_client_fetches(tmp_path: Path) -> None:
    from ceremony.core.repo_files import read_client_files

    files = files_of(fresh("nested", consistent=True))
    directory = write(tmp_path / "metadata", files)
    assert read_client_files(directory) == files
    verify_files(read_client_files(directory), None, FRESH_AT)

    (directory / "SOURCE.txt").write_text("where this came from")
    with pytest.raises(InputFileError) as info:
        read_client_files(directory)
    assert str(info.value).startswith(f"{directory / 'SOURCE.txt'}: a file that no TUF client would fetch")
    (directory / "SOURCE.txt").unlink()

    # A stale unversioned copy next to the numbered one a client fetches is refused too.
    (directory / "targets.json").write_bytes(b"{}")
    with pytest.raises(InputFileError, match=r"targets\.json: a file that no TUF client"):
        read_client_files(directory)
    (directory / "targets.json").unlink()


@pytest.mark.parametrize("kind", ["symlink", "dangling", "fifo", "directory"])
def test_read_client_files_never_follows_links_or_reads_special_files(tmp_path: Path, kind: str) -> None:
    from ceremony.core.repo_files import read_client_files

    files = files_of(fresh())
    directory = write(tmp_path / "metadata", files)
    victim = directory / "role-a.json"
    victim.unlink()
    if kind == "symlink":  # to the very same bytes, outside the directory
        (tmp_path / "elsewhere.json").write_bytes(files["role-a.json"])
        victim.symlink_to(tmp_path / "elsewhere.json")
    elif kind == "dangling":
        victim.symlink_to(tmp_path / "gone")
    elif kind == "fifo":
        os.mkfifo(victim)
    else:
        victim.mkdir()
    with pytest.raises(InputFileError) as info:
        read_client_files(directory)
    assert str(info.value).startswith(f"{victim}: ")


def test_read_client_files_on_real_vectors(vectors: Path, tmp_path: Path) -> None:
    """jku-tuf-demo's client files are all it has besides SOURCE.txt; legacy sigstore keeps stale copies."""
    from ceremony.core.repo_files import read_client_files

    source = vectors / "jku-tuf-demo"
    copy = write(tmp_path / "jku", {p.name: p.read_bytes() for p in source.glob("*.json")})
    files = read_client_files(copy)
    assert set(files) == {p.name for p in source.glob("*.json")}
    verify_files(files, None, parse_at(VECTOR_DATES["jku-tuf-demo"]))
    legacy = write(
        tmp_path / "legacy", {p.name: p.read_bytes() for p in (vectors / "sigstore-root-signing-legacy").glob("*.json")}
    )
    with pytest.raises(InputFileError, match=r"registry\.npmjs\.org\.json: a file that no TUF client"):
        read_client_files(legacy)


# --- 3. what python-tuf checks in each file -------------------------------------------------------


@pytest.mark.parametrize("value", ["2.0", "1", "1.0.0.0", "1.x", "01.0", "１.0", 1])
def test_spec_version_is_checked(value: Any) -> None:
    files = files_of(fresh(), targets=lambda s: s.update(spec_version=value))
    python_tuf_refuses(files)
    assert_rejected(reject(files), "targets.json", "spec_version")


@pytest.mark.parametrize(("role", "file"), [("root_2", "2.root.json"), ("snapshot", "snapshot.json")])
def test_type_is_compared_exactly(role: str, file: str) -> None:
    files = files_of(fresh(), **{role: lambda s: s.update(_type=s["_type"].capitalize())})
    python_tuf_refuses(files)
    assert_rejected(reject(files), file, "type")


def test_root_with_an_extra_role_is_refused() -> None:
    files = files_of(fresh(), root_2=lambda s: s["roles"].update(mirror=dict(s["roles"]["targets"])))
    python_tuf_refuses(files)
    assert_rejected(reject(files), "2.root.json", "format")


@pytest.mark.parametrize("where", ["root", "delegations"])
@pytest.mark.parametrize(
    "key", [{"keytype": "ed448", "scheme": "ed448", "keyval": {"public": "ab"}}, {"keytype": "ecdsa", "scheme": "x"}]
)
def test_unused_unknown_key_is_refused(where: str, key: dict[str, Any]) -> None:
    def add(keys: dict[str, Any]) -> None:
        keys["e" * 64] = key

    if where == "root":
        files = files_of(fresh(), root_1=lambda s: add(s["keys"]))
        file = "1.root.json"
    else:
        files = files_of(fresh(), targets=lambda s: add(s["delegations"]["keys"]))
        file = "targets.json"
    python_tuf_refuses(files)
    assert_rejected(reject(files), file, "key")


def test_hex_ecdsa_keys_stay_accepted(vectors: Path) -> None:
    """The deliberate looseness: Sigstore's root v1-v4 hold hex ECDSA points (python-tuf cannot verify them)."""
    root = json.loads((vectors / "sigstore-root-signing" / "1.root.json").read_bytes())["signed"]
    assert any(not k["keyval"]["public"].startswith("-----BEGIN") for k in root["keys"].values())
    files = {p.name: p.read_bytes() for p in (vectors / "sigstore-root-signing").glob("*.json")}
    assert verify_files(files, None, parse_at(VECTOR_DATES["sigstore-root-signing"])).newest_root_version == 15


def _first_role(signed: dict[str, Any]) -> dict[str, Any]:
    return signed["delegations"]["roles"][0]


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: _first_role(s).update(name="snapshot"),
        lambda s: s["delegations"]["roles"].append(dict(_first_role(s))),
        lambda s: _first_role(s).update(path_hash_prefixes=["0"]),
        lambda s: _first_role(s).pop("paths"),
        lambda s: s["delegations"].update(
            succinct_roles={"keyids": [], "threshold": 1, "bit_length": 1, "name_prefix": "b"}
        ),
        lambda s: s["delegations"].pop("roles"),
        lambda s: _first_role(s).update(name=""),
        lambda s: _first_role(s).update(name="r" * 251),
    ],
    ids=[
        "reserved-name",
        "duplicate-name",
        "paths-and-prefixes",
        "no-paths",
        "roles-and-succinct",
        "no-roles",
        "empty-name",
        "name-too-long-to-store",
    ],
)
def test_delegations_are_validated_like_python_tuf(edit: Any) -> None:
    files = files_of(fresh(), targets=edit)
    python_tuf_refuses(files)
    assert_rejected(reject(files), "targets.json", "delegation")


@pytest.mark.parametrize(
    "entry",
    [
        {"length": -1, "hashes": {"sha256": "ab"}},
        {"length": 1, "hashes": {}},
        {"length": "1", "hashes": {"sha256": "ab"}},
    ],
)
def test_target_entries_are_validated(entry: dict[str, Any]) -> None:
    files = files_of(fresh(), **{"role-a": lambda s: s["targets"].update({"a/bad": entry})})
    python_tuf_refuses(files)
    assert_rejected(reject(files), "role-a.json", "target")


@pytest.mark.parametrize("algorithm", ["sha3", "shake_128", "shake_256", "no-such-hash"])
def test_meta_hash_algorithm_clients_cannot_compute_fails(algorithm: str) -> None:
    def hook(signed: dict[str, Any]) -> None:
        signed["meta"]["targets.json"]["hashes"] = {algorithm: "00"}

    files = files_of(fresh(pin_snapshot=True), snapshot=hook)
    python_tuf_refuses(files)
    err = reject(files)
    assert_rejected(err, "targets.json", "hash")


def test_delegated_role_missing_from_snapshot_fails() -> None:
    files = files_of(fresh(), snapshot=lambda s: s["meta"].pop("role-b.json"))
    python_tuf_refuses(files)
    err = reject(files)
    assert_rejected(err, "snapshot.json", "meta")
    assert "role-b.json" in str(err)


def test_delegated_role_listed_but_missing_fails() -> None:
    def drop(files: dict[str, bytes]) -> None:
        del files["role-c.json"]

    files = files_of(fresh("nested"), files=drop)
    python_tuf_refuses(files)
    assert_rejected(reject(files), "role-c.json", "missing")


def test_diamond_delegation_is_checked_against_every_delegator() -> None:
    """role-c is delegated by role-a and role-b; role-b naming another key must fail though role-a's holds."""
    other = keyring()[9].public_key

    def rekey(signed: dict[str, Any]) -> None:
        signed["delegations"]["keys"] = {other.keyid: other.to_dict()}
        signed["delegations"]["roles"][0]["keyids"] = [other.keyid]

    files = files_of(fresh("diamond"), **{"role-b": rekey})
    python_tuf_refuses(files)
    assert_rejected(reject(files), "role-c.json", "threshold")


def test_intermediate_root_expires_is_parsed() -> None:
    files = files_of(fresh(), root_1=lambda s: s.update(expires="2099-02-30T00:00:00Z"))
    python_tuf_refuses(files)
    assert_rejected(reject(files), "1.root.json", "format")


@pytest.mark.parametrize(
    ("drop", "consistent"), [("snapshot", False), ("targets", False), ("snapshot", True), ("targets", True)]
)
def test_timestamp_pointing_to_missing_file_fails(drop: str, consistent: bool) -> None:
    """It reported valid: a client cannot load such a repository."""
    removed = []

    def remove(files: dict[str, bytes]) -> None:
        name = next(n for n in files if n.endswith(f"{drop}.json"))
        removed.append(name)
        del files[name]

    files = files_of(fresh("plain", consistent), files=remove)
    python_tuf_refuses(files)
    err = reject(files)
    assert_rejected(err, removed[0], "missing")
    assert "a client cannot load this repository" in str(err)


# --- 4. more rotations than python-tuf's client follows -------------------------------------------


def test_chain_longer_than_max_root_rotations_carries_a_warning() -> None:
    signer = keyring()[0]
    key = signer.public_key
    files: dict[str, bytes] = {}
    for version in range(1, 259):
        signed = {
            "_type": "root",
            "spec_version": "1.0.31",
            "version": version,
            "expires": "2099-01-01T00:00:00Z",
            "consistent_snapshot": False,
            "keys": {key.keyid: key.to_dict()},
            "roles": {r: {"keyids": [key.keyid], "threshold": 1} for r in ("root", "timestamp", "snapshot", "targets")},
        }
        payload = canonical_bytes(signed)
        files[f"{version}.root.json"] = json.dumps(
            {"signed": signed, "signatures": [signer.sign(payload).to_dict()]}
        ).encode()
    report = verify_files(files, None, FRESH_AT)
    assert report.newest_root_version == 258
    assert (
        len(report.warnings) == 1 and "257 times" in report.warnings[0] and "max_root_rotations" in report.warnings[0]
    )
    assert report.to_dict()["warnings"] == report.warnings
    del files["258.root.json"]
    assert verify_files(files, None, FRESH_AT).warnings == []


# --- 5. dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-01T00:00:00+24:00",
        "2030-01-01T00:00:00+99:99",
        "2030-01-01T00:00:00-24:00",
        "2030-01-01T00:00:00+05:60",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_out_of_range_offsets_are_verification_errors(text: str) -> None:
    with pytest.raises(VerificationError) as info:
        parse_tuf_date(text, "x.json")
    assert (info.value.file, info.value.check) == ("x.json", "format")
    with pytest.raises(UsageError):
        parse_at(text)
    files = files_of(fresh(), timestamp=lambda s: s.update(expires=text))
    assert_rejected(reject(files), "timestamp.json", "format")


def test_documented_date_looseness_is_kept() -> None:
    assert parse_tuf_date("2021-12-18T13:28:12.99008-06:00", "x").isoformat() == "2021-12-18T19:28:12.990080+00:00"
    assert parse_tuf_date("2030-01-01T00:00:00-23:59", "x").isoformat() == "2030-01-01T23:59:00+00:00"
