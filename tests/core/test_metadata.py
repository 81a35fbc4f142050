"""ceremony/core/metadata.py: the TUF 1.0 dialect, one line per case.

Keys are ed25519 and ECDSA P-256 keys made in-process (no key files, no
passphrase stretching); every metadata object is built with the module's own
builders.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from securesystemslib.formats import encode_canonical

from ceremony.core import keys as _keys
from ceremony.core import metadata as md
from ceremony.errors import InputFileError, MetadataError, PolicyError
from tests.core.signers import ed25519_signer, p256_signer

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


# root-1..3 (root, 2 of 3), targets, snapshot, timestamp, a delegated role's key, and one nobody uses
S = {
    name: ed25519_signer() for name in ("root-1", "root-2", "targets", "snapshot", "timestamp", "releases", "outsider")
}
S["root-3"] = p256_signer()
K = {name: signer.public_key for name, signer in S.items()}


def root_v1() -> Any:
    """Root version 1: root 2 of root-1..3, one key for each other role, unsigned."""
    plans = {
        "root": md.RolePlan((K["root-1"], K["root-2"], K["root-3"]), 2, NOW + timedelta(days=365)),
        "targets": md.RolePlan((K["targets"],), 1, NOW + timedelta(days=90)),
        "snapshot": md.RolePlan((K["snapshot"],), 1, NOW + timedelta(days=7)),
        "timestamp": md.RolePlan((K["timestamp"],), 1, NOW + timedelta(days=1)),
    }
    return md.build_root(plans)


def signed_root() -> Any:
    root = root_v1()
    md.sign_metadata(root, [S["root-1"], S["root-2"]])
    return root


def delegating_targets() -> Any:
    targets = md.build_targets(NOW + timedelta(days=90))
    md.add_delegation(targets, "releases", [K["releases"]], 1, True, ["releases/*"])
    return targets


BUILDERS: dict[str, Callable[[], Any]] = {
    "root": root_v1,
    "signed root": signed_root,
    "targets": lambda: md.build_targets(NOW),
    "targets with a delegation": delegating_targets,
    "snapshot": lambda: md.build_snapshot(NOW, targets_version=3),
    "timestamp": lambda: md.build_timestamp(NOW, b"snapshot bytes", snapshot_version=4),
}
ROLE_TYPES = {
    "root": "root",
    "signed root": "root",
    "targets": "targets",
    "targets with a delegation": "targets",
    "snapshot": "snapshot",
    "timestamp": "timestamp",
}


# --------------------------------------------------------------------------- the Dialect protocol


@pytest.mark.parametrize("name", md.DIALECT_FUNCTIONS)
def test_provides_dialect_function(name: str) -> None:
    assert callable(getattr(md, name, None)), name


def test_dialect_functions_are_the_protocol() -> None:
    assert set(md.DIALECT_FUNCTIONS) == {
        "parse",
        "from_dict",
        "to_bytes",
        "to_dict",
        "signed_bytes",
        "signed_dict",
        "signatures",
        "add_signature",
        "role_type",
        "version",
        "expires",
        "next_version",
        "root_role",
        "delegation",
        "delegated_roles",
    }


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_bytes_round_trip(build: Callable[[], Any]) -> None:
    original = build()
    raw = md.to_bytes(original)
    again = md.parse(raw, "file.json")
    assert md.to_bytes(again) == raw
    assert md.signed_bytes(again) == md.signed_bytes(original)
    assert md.signatures(again) == md.signatures(original)
    assert raw.endswith(b"}\n")


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_dict_round_trip(build: Callable[[], Any]) -> None:
    original = build()
    obj = md.to_dict(original)
    again = md.from_dict(json.loads(json.dumps(obj)), "file.json")
    assert md.to_dict(again) == obj
    assert md.signed_dict(again) == obj["signed"]
    assert obj is not md.to_dict(again)


def test_from_dict_leaves_its_argument_alone() -> None:
    obj = md.to_dict(signed_root())
    before = json.dumps(obj, sort_keys=True)
    md.from_dict(obj, "file.json")
    assert json.dumps(obj, sort_keys=True) == before


@pytest.mark.parametrize(("name", "kind"), ROLE_TYPES.items(), ids=ROLE_TYPES.keys())
def test_role_type_version_expires(name: str, kind: str) -> None:
    built = BUILDERS[name]()
    assert md.role_type(built) == kind
    assert md.version(built) == 1
    assert md.expires(built).tzinfo is not None


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_signed_bytes_are_canonical(build: Callable[[], Any]) -> None:
    built = build()
    assert md.signed_bytes(built) == encode_canonical(md.signed_dict(built)).encode("utf-8")


def test_builders_drop_microseconds_and_keep_utc() -> None:
    expires = datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert md.expires(md.build_targets(expires)) == datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def test_timestamp_pins_snapshot_length_and_hash() -> None:
    meta = md.signed_dict(md.build_timestamp(NOW, b"snapshot bytes", snapshot_version=4))["meta"]["snapshot.json"]
    assert meta == {
        "version": 4,
        "length": 14,
        "hashes": {"sha256": hashlib.sha256(b"snapshot bytes").hexdigest()},
    }


# name -> (call, exception type, exact sentence)
REFUSALS: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    "parse: not JSON": (lambda: md.parse(b"nope", "x.json"), InputFileError, "x.json: not valid TUF metadata (Failed to deserialize JSON)"),
    "parse: empty object": (lambda: md.parse(b"{}", "x.json"), InputFileError, "x.json: not valid TUF metadata (Failed to deserialize JSON)"),
    "from_dict: not an object": (lambda: md.from_dict([], "x"), InputFileError, "x: not a metadata object"),
    "from_dict: no _type": (lambda: md.from_dict({"signed": {}, "signatures": []}, "x"), InputFileError, "x: not valid TUF metadata ('_type')"),
    "from_dict: consistent_snapshot is text": (lambda: md.from_dict(_with_signed(root_v1(), consistent_snapshot="yes"), "x"), InputFileError, "x: not valid TUF metadata (consistent_snapshot is not true or false)"),
    "from_dict: keyids are numbers": (lambda: md.from_dict(_with_root_role(keyids=[1, 2]), "x"), InputFileError, "x: not valid TUF metadata (role 'root': keyids are not a list of text or the threshold is not an integer)"),
    "from_dict: sig is a number": (lambda: md.from_dict({**md.to_dict(root_v1()), "signatures": [{"keyid": "a" * 64, "sig": 5}]}, "x"), InputFileError, "x: not valid TUF metadata (a signature's keyid or sig is not text)"),
    "from_dict: version is a bool": (lambda: md.from_dict(_with_signed(root_v1(), version=True), "x"), InputFileError, "x: not valid TUF metadata (its version is not an integer)"),
    "load_root: targets": (lambda: md.load_root(md.to_bytes(md.build_targets(NOW)), "t.json"), InputFileError, "t.json: is targets metadata, expected root"),
    "build_root: a role missing": (lambda: md.build_root({r: md.RolePlan((K["root-1"],), 1, NOW) for r in ("root", "targets", "snapshot")}), MetadataError, "internal: no plan for role(s) timestamp"),
    "naive expiry": (lambda: md.build_targets(datetime(2026, 1, 1)), MetadataError, "internal: naive datetime passed as expiry"),
    "next_version: naive expiry": (lambda: md.next_version(root_v1(), datetime(2027, 1, 1)), MetadataError, "internal: naive datetime passed as expiry"),
    "root_role: of targets": (lambda: md.root_role(md.build_targets(NOW), "root"), MetadataError, "the keys of role 'root': targets metadata where root metadata is needed"),
    "root_role: unknown role": (lambda: md.root_role(root_v1(), "releases"), MetadataError, "root metadata has no role 'releases'"),
    "role_keys: unknown role": (lambda: md.role_keys(root_v1().signed, "releases"), MetadataError, "root metadata with a 'releases' role expected"),
    "edit: add a key listed already": (lambda: md.edit_root_role(root_v1(), "root", [], [K["root-2"]], 2), PolicyError, f"root: key {K['root-2'].keyid[:12]} is listed twice"),
    "edit: add one key twice": (lambda: md.edit_root_role(root_v1(), "targets", [], [K["outsider"], K["outsider"]], 1), PolicyError, f"targets: key {K['outsider'].keyid[:12]} is listed twice"),
    "edit: remove a key the role lacks": (lambda: md.edit_root_role(root_v1(), "root", [K["targets"].keyid], [], 2), PolicyError, f"root: key {K['targets'].keyid[:12]} is not one of its keys"),
    "edit: remove a key twice": (lambda: md.edit_root_role(root_v1(), "root", [K["root-1"].keyid, K["root-1"].keyid], [], 1), PolicyError, f"root: key {K['root-1'].keyid[:12]} is not one of its keys"),
    "edit: unknown role": (lambda: md.edit_root_role(root_v1(), "releases", [], [K["outsider"]], 1), MetadataError, "root metadata has no role 'releases'"),
    "edit: of targets": (lambda: md.edit_root_role(md.build_targets(NOW), "root", [], [], 1), MetadataError, "editing role 'root': targets metadata where root metadata is needed"),
    "delegate: twice": (lambda: md.add_delegation(delegating_targets(), "releases", [K["outsider"]], 1, False, ["x/*"]), PolicyError, "role 'releases' is already delegated"),
    "delegate: from root": (lambda: md.add_delegation(root_v1(), "releases", [K["outsider"]], 1, False, ["x/*"]), MetadataError, "delegating to 'releases': root metadata where targets metadata is needed"),
    "undelegate: not delegated": (lambda: md.remove_delegation(delegating_targets(), "nightly"), PolicyError, "role 'nightly' is not delegated here"),
    "undelegate: no delegations": (lambda: md.remove_delegation(md.build_targets(NOW), "releases"), PolicyError, "role 'releases' is not delegated here"),
    "snapshot meta of targets": (lambda: md.set_snapshot_meta(md.build_targets(NOW), "targets.json", 2), MetadataError, "listing targets.json: targets metadata where snapshot metadata is needed"),
    "timestamp version of snapshot": (lambda: md.timestamp_snapshot_version(md.build_snapshot(NOW, 1)), MetadataError, "the snapshot version: snapshot metadata where timestamp metadata is needed"),
    "consistent_snapshot of targets": (lambda: md.consistent_snapshot(md.build_targets(NOW)), MetadataError, "consistent_snapshot: targets metadata where root metadata is needed"),
}  # fmt: skip


def _with_signed(built: Any, **fields: object) -> dict[str, Any]:
    obj = md.to_dict(built)
    obj["signed"].update(fields)
    return obj


def _with_root_role(**fields: object) -> dict[str, Any]:
    obj = md.to_dict(root_v1())
    obj["signed"]["roles"]["root"].update(fields)
    return obj


@pytest.mark.parametrize(("call", "error", "sentence"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusal(call: Callable[[], object], error: type[Exception], sentence: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert type(caught.value) is error
    assert str(caught.value) == sentence


# --------------------------------------------------------------------------- next_version


@pytest.mark.parametrize("build", [signed_root, delegating_targets], ids=["root", "targets"])
def test_next_version(build: Callable[[], Any]) -> None:
    current = build()
    md.sign_metadata(current, [S["targets"]])
    before = md.to_bytes(current)
    new = md.next_version(current, LATER.replace(microsecond=500))
    assert md.version(new) == md.version(current) + 1
    assert md.signatures(new) == {}
    assert md.expires(new) == LATER
    assert md.to_bytes(current) == before  # a copy: the current version is unchanged
    unchanged = {k: v for k, v in md.signed_dict(new).items() if k not in ("version", "expires")}
    assert unchanged == {k: v for k, v in md.signed_dict(current).items() if k not in ("version", "expires")}


# --------------------------------------------------------------------------- signatures


def test_sign_metadata_adds_verified_signatures() -> None:
    root = root_v1()
    md.sign_metadata(root, [S["root-1"], S["root-3"]])
    sigs = md.signatures(root)
    assert set(sigs) == {K["root-1"].keyid, K["root-3"].keyid}
    assert all(_keys.signature_is_valid(K[n], sigs[K[n].keyid], md.signed_bytes(root)) for n in ("root-1", "root-3"))


# name -> signatures added (key name -> "valid" or a hex string), signatures() read back
ADDED_SIGNATURES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "none": ({}, {}),
    "one": ({"root-1": "valid"}, {"root-1": "valid"}),
    "two": ({"root-1": "valid", "root-2": "valid"}, {"root-1": "valid", "root-2": "valid"}),
    "kept as given, even invalid": ({"root-1": "00" * 64}, {"root-1": "00" * 64}),
    "empty placeholder": ({"root-2": ""}, {"root-2": ""}),
    "a key the root lacks": ({"outsider": "valid"}, {"outsider": "valid"}),
}


@pytest.mark.parametrize(("added", "read"), ADDED_SIGNATURES.values(), ids=ADDED_SIGNATURES.keys())
def test_add_signature_and_signatures(added: dict[str, str], read: dict[str, str]) -> None:
    root = root_v1()
    payload = md.signed_bytes(root)

    def sig(name: str, value: str) -> str:
        return S[name].sign(payload).signature if value == "valid" else value

    for name, value in added.items():
        md.add_signature(root, K[name].keyid, sig(name, value))
    assert md.signed_bytes(root) == payload  # signatures are not signed
    got = md.signatures(root)
    assert set(got) == {K[name].keyid for name in read}
    for name, value in read.items():
        if value == "valid":
            assert _keys.signature_is_valid(K[name], got[K[name].keyid], payload)
        else:
            assert got[K[name].keyid] == value
    assert md.signatures(md.parse(md.to_bytes(root), "r.json")) == got


# --------------------------------------------------------------------------- roles and delegations

# role -> (key names, threshold) in root_v1
ROOT_ROLES = {
    "root": (["root-1", "root-2", "root-3"], 2),
    "targets": (["targets"], 1),
    "snapshot": (["snapshot"], 1),
    "timestamp": (["timestamp"], 1),
}


@pytest.mark.parametrize(("role", "expected"), ROOT_ROLES.items(), ids=ROOT_ROLES.keys())
def test_root_role(role: str, expected: tuple[list[str], int]) -> None:
    names, threshold = expected
    keys, got_threshold = md.root_role(root_v1(), role)
    assert keys == {K[n].keyid: K[n] for n in names}
    assert got_threshold == threshold
    assert md.role_keys(root_v1().signed, role) == [K[n] for n in names]


# name -> (edit: remove, add, threshold), root keys and threshold after
EDITS: dict[str, tuple[list[str], list[str], int, list[str], int]] = {
    "replace a key": (["root-3"], ["outsider"], 2, ["root-1", "root-2", "outsider"], 2),
    "add a key": ([], ["outsider"], 3, ["root-1", "root-2", "root-3", "outsider"], 3),
    "remove a key": (["root-1"], [], 1, ["root-2", "root-3"], 1),
    "threshold only": ([], [], 3, ["root-1", "root-2", "root-3"], 3),
    "remove then add back": (["root-2"], ["root-2"], 2, ["root-1", "root-3", "root-2"], 2),
}  # fmt: skip


@pytest.mark.parametrize(("remove", "add", "threshold", "after", "after_threshold"), EDITS.values(), ids=EDITS.keys())
def test_edit_root_role(
    remove: list[str], add: list[str], threshold: int, after: list[str], after_threshold: int
) -> None:
    root = root_v1()
    md.edit_root_role(root, "root", [K[n].keyid for n in remove], [K[n] for n in add], threshold)
    keys, got_threshold = md.root_role(root, "root")
    assert list(keys) == [K[n].keyid for n in after]
    assert got_threshold == after_threshold
    assert md.root_role(root, "targets") == ({K["targets"].keyid: K["targets"]}, 1)


def test_edit_removes_a_revoked_key_no_role_uses() -> None:
    root = root_v1()
    md.edit_root_role(root, "root", [K["root-3"].keyid], [], 1)
    assert K["root-3"].keyid not in md.signed_dict(root)["keys"]


# name -> (metadata, delegated_roles, name asked, delegation: (key names, threshold) or None)
DELEGATIONS: dict[str, tuple[Callable[[], Any], list[str], str, tuple[list[str], int] | None]] = {
    "delegated": (delegating_targets, ["releases"], "releases", (["releases"], 1)),
    "not delegated": (delegating_targets, ["releases"], "nightly", None),
    "no delegations": (lambda: md.build_targets(NOW), [], "releases", None),
    "root metadata": (root_v1, [], "releases", None),
    "snapshot metadata": (lambda: md.build_snapshot(NOW, 1), [], "releases", None),
    "removed again": (lambda: _undelegated(delegating_targets()), [], "releases", None),
    "two roles": (lambda: _also(delegating_targets(), "nightly", ["outsider", "releases"], 2), ["releases", "nightly"], "nightly", (["outsider", "releases"], 2)),
}  # fmt: skip


def _undelegated(targets: Any) -> Any:
    md.remove_delegation(targets, "releases")
    return targets


def _also(targets: Any, name: str, key_names: list[str], threshold: int) -> Any:
    md.add_delegation(targets, name, [K[n] for n in key_names], threshold, False, [f"{name}/*"])
    return targets


@pytest.mark.parametrize(("build", "roles", "name", "expected"), DELEGATIONS.values(), ids=DELEGATIONS.keys())
def test_delegation_and_delegated_roles(
    build: Callable[[], Any], roles: list[str], name: str, expected: tuple[list[str], int] | None
) -> None:
    built = build()
    assert md.delegated_roles(built) == roles
    got = md.delegation(built, name)
    if expected is None:
        assert got is None
    else:
        names, threshold = expected
        assert got == ({K[n].keyid: K[n] for n in names}, threshold)


def test_delegation_fields_as_written() -> None:
    role = md.signed_dict(delegating_targets())["delegations"]["roles"][0]
    assert role == {
        "name": "releases",
        "keyids": [K["releases"].keyid],
        "threshold": 1,
        "terminating": True,
        "paths": ["releases/*"],
    }


def test_undelegate_drops_keys_only_that_role_used() -> None:
    targets = _also(delegating_targets(), "nightly", ["releases", "outsider"], 1)
    md.remove_delegation(targets, "nightly")
    assert set(md.signed_dict(targets)["delegations"]["keys"]) == {K["releases"].keyid}


# --------------------------------------------------------------------------- snapshot and timestamp


def test_snapshot_meta_versions() -> None:
    snapshot = md.build_snapshot(NOW, targets_version=3)
    assert md.snapshot_meta_version(snapshot, "targets.json") == 3
    md.set_snapshot_meta(snapshot, "releases.json", 2)
    assert md.snapshot_meta_version(snapshot, "releases.json") == 2
    md.set_snapshot_meta(snapshot, "releases.json", None)
    assert md.snapshot_meta_version(snapshot, "releases.json") is None
    assert md.signed_dict(snapshot)["meta"] == {"targets.json": {"version": 3}}


def test_timestamp_snapshot_version() -> None:
    timestamp = md.build_timestamp(NOW, b"x", snapshot_version=4)
    md.set_timestamp_snapshot(timestamp, 5)
    assert md.timestamp_snapshot_version(timestamp) == 5
    assert md.signed_dict(timestamp)["meta"]["snapshot.json"] == {"version": 5}


@pytest.mark.parametrize("consistent", [True, False])
def test_consistent_snapshot(consistent: bool) -> None:
    plans = {r: md.RolePlan((K["root-1"],), 1, NOW) for r in ("root", "targets", "snapshot", "timestamp")}
    assert md.consistent_snapshot(md.build_root(plans, consistent_snapshot=consistent)) is consistent
