"""ceremony/core/requests.py: SignRequest and PendingChange, round trips and every refusal of from_dict.

The published repository is built in-process, once for the module (ed25519
keys made with ``cryptography``, metadata with ``ceremony.core.metadata``),
and handed to ``SignRequest.build`` as a minimal ``State``: no key files, no
passphrase stretching, no subprocess. Hostile requests are good requests
with one field changed.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ceremony.core import diff as _diff
from ceremony.core import metadata as md
from ceremony.core.init import initial_config
from ceremony.core.proposal import Proposal, State
from ceremony.core.requests import PendingChange, SignRequest
from ceremony.core.workspace import CONFIG_FORMAT, KeyRecord, Workspace
from ceremony.errors import CeremonyError, InputFileError, TamperedRequestError, VerificationError
from tests.core.signers import ed25519_signer

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ID = "0123456789abcdef"
PATH = Path("requests/rotate.json")
PENDING = Path(f"pending/{ID}.json")


S = {
    n: ed25519_signer()
    for n in ("root-1", "root-2", "root-3", "targets", "snapshot", "timestamp", "releases", "outsider")
}
K = {n: s.public_key for n, s in S.items()}
TOP = {
    "root": ["root-1", "root-2", "root-3"],
    "targets": ["targets"],
    "snapshot": ["snapshot"],
    "timestamp": ["timestamp"],
}
DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}


def sign(metadata: Any, *names: str) -> Any:
    for n in names:
        md.add_signature(metadata, K[n].keyid, S[n].sign(md.signed_bytes(metadata)).signature)
    return metadata


def _published() -> tuple[State, dict[str, Any]]:
    """Version 1 of a repository with root 2 of 3 and a delegated role 'releases', every file signed."""
    plans = {
        role: md.RolePlan(tuple(K[n] for n in names), 2 if role == "root" else 1, NOW + timedelta(days=DAYS[role]))
        for role, names in TOP.items()
    }
    root = sign(md.build_root(plans), "root-1", "root-2")
    targets = md.build_targets(NOW + timedelta(days=90))
    md.add_delegation(targets, "releases", [K["releases"]], 1, True, ["releases/*"])
    sign(targets, "targets")
    releases = sign(md.build_targets(NOW + timedelta(days=90)), "releases")
    snapshot = md.build_snapshot(NOW + timedelta(days=7), targets_version=1)
    md.set_snapshot_meta(snapshot, "releases.json", 1)
    sign(snapshot, "snapshot")
    snapshot_bytes = md.to_bytes(snapshot)
    timestamp = sign(md.build_timestamp(NOW + timedelta(days=1), snapshot_bytes, 1), "timestamp")
    files = {
        "1.root.json": md.to_bytes(root),
        "root.json": md.to_bytes(root),
        "targets.json": md.to_bytes(targets),
        "releases.json": md.to_bytes(releases),
        "snapshot.json": snapshot_bytes,
        "timestamp.json": md.to_bytes(timestamp),
    }
    records = [
        KeyRecord(K[n].keyid, n, (role,), "ed25519", f"file:keys/{K[n].keyid}.p12")
        for role, names in TOP.items()
        for n in names
    ]
    config = {"format": CONFIG_FORMAT, **initial_config(plans, DAYS, records, None)}
    state = State(Workspace(Path("ws"), config), files, md.parse(files["root.json"], "root.json"), False)
    return state, config


STATE, CONFIG = _published()


# --------------------------------------------------------------------------- proposals (a fresh one per call)


def root_extension(version: int = 2) -> Proposal:
    root = md.next_version(STATE.root, NOW + timedelta(days=400))
    root.signed.version = version
    return Proposal(
        "extend", ["extend root: expires 400 days from now"], 1, {"root": root}, config=copy.deepcopy(CONFIG)
    )


def root_rotation() -> Proposal:
    root = md.next_version(STATE.root, NOW + timedelta(days=365))
    md.edit_root_role(root, "root", [K["root-3"].keyid], [K["outsider"]], 2)
    config = copy.deepcopy(CONFIG)
    config["keys"][K["outsider"].keyid] = {"label": "root-4", "roles": ["root"], "key_type": "ed25519", "uri": None}
    return Proposal(
        command="rotate",
        summary=["rotate root: revoke 1 key(s), add 1, threshold 2 -> 2"],
        base_root_version=1,
        metadata={"root": root},
        new_key_files={K["outsider"].keyid: b"encrypted PKCS#12 bytes"},
        config=config,
        revoked={K["root-3"].keyid},
        notes=["a note"],
        details={"root-4": {"generated": "ed25519"}},
    )


def delegated_extension() -> Proposal:
    releases = md.next_version(STATE.current("releases"), NOW + timedelta(days=30))
    return Proposal("extend", ["extend releases"], 1, {"releases": releases}, parents={"releases": "targets"})


def new_delegation() -> Proposal:
    targets = md.next_version(STATE.current("targets"), NOW + timedelta(days=90))
    md.add_delegation(targets, "nightly", [K["outsider"]], 1, False, ["nightly/*"])
    return Proposal(
        "delegate",
        ["delegate nightly"],
        1,
        {"targets": targets, "nightly": md.build_targets(NOW + timedelta(days=90))},
        parents={"nightly": "targets"},
        config=copy.deepcopy(CONFIG),
    )


def removal() -> Proposal:
    targets = md.next_version(STATE.current("targets"), NOW + timedelta(days=90))
    md.remove_delegation(targets, "releases")
    return Proposal("delegate --remove", ["remove releases"], 1, {"targets": targets}, removed_roles=["releases"])


PROPOSALS: dict[str, Callable[[], Proposal]] = {
    "root extension": root_extension,
    "root rotation": root_rotation,
    "delegated role, parent in context": delegated_extension,
    "new delegation, parent in the proposal": new_delegation,
    "delegation removed": removal,
}


def build(proposal: Proposal, request_id: str = ID) -> SignRequest:
    return SignRequest.build(request_id, STATE, proposal, "2026-01-01T00:00:00Z", PATH)


def good(proposal: Callable[[], Proposal] = root_extension) -> dict[str, Any]:
    """A good request's file content, as JSON gives it back."""
    return json.loads(build(proposal()).to_json())


def _reloaded(obj: dict[str, Any]) -> SignRequest:
    return SignRequest.from_dict(json.loads(json.dumps(obj)), PATH)


# --------------------------------------------------------------------------- SignRequest round trips

# proposal -> the requirements' labels, role by role
LABELS: dict[str, list[tuple[str, str]]] = {
    "root extension": [("root", "old root (version 1)"), ("root", "new root (version 2)")],
    "root rotation": [("root", "old root (version 1)"), ("root", "new root (version 2)")],
    "delegated role, parent in context": [("releases", "role 'releases' (delegated by targets)")],
    "new delegation, parent in the proposal": [("targets", "targets role"), ("nightly", "role 'nightly' (delegated by targets)")],
    "delegation removed": [("targets", "targets role")],
}  # fmt: skip


@pytest.mark.parametrize("name", PROPOSALS)
def test_sign_request_round_trip(name: str) -> None:
    proposal = PROPOSALS[name]()
    request = build(proposal)
    again = _reloaded(request.to_dict())
    assert again.to_dict() == request.to_dict()
    assert again.to_json() == request.to_json()
    assert again.id == ID
    assert list(again.metadata) == list(proposal.metadata)
    assert (
        again.digest()
        == request.digest()
        == _diff.payload_digest({r: md.signed_bytes(m) for r, m in proposal.metadata.items()})
    )
    assert again.digest().hex() == request.to_dict()["digest"]
    assert again.describe() == request.describe()
    assert again.unsigned_summary() == proposal.summary
    assert [(s.role, s.label) for s in again.statuses()] == LABELS[name]
    assert not any(s.verified for s in again.statuses())


def test_sign_request_fields_as_built() -> None:
    obj = build(delegated_extension()).to_dict()
    assert (obj["type"], obj["format"], obj["id"], obj["command"]) == ("ceremony-sign-request", 1, ID, "extend")
    assert obj["previous_root"] == md.to_dict(STATE.root)
    assert obj["context"] == {"targets": md.to_dict(STATE.current("targets"))}
    assert obj["current"] == {"releases": md.to_dict(STATE.current("releases"))}
    assert obj["parents"] == {"releases": "targets"}


# signers of the new root -> (old root signed, new root signed)
SIGNED_COPIES: dict[str, tuple[list[str], tuple[int, int], tuple[bool, bool]]] = {
    "one old key": (["root-1"], (1, 1), (False, False)),
    "two old keys": (["root-1", "root-2"], (2, 2), (True, True)),
    "a revoked key counts for the old root only": (["root-1", "root-3"], (2, 1), (True, False)),
    "a new key counts for the new root only": (["root-1", "outsider"], (1, 2), (False, True)),
}  # fmt: skip


@pytest.mark.parametrize(("signers", "signed", "verified"), SIGNED_COPIES.values(), ids=SIGNED_COPIES.keys())
def test_signed_request_round_trip(signers: list[str], signed: tuple[int, int], verified: tuple[bool, bool]) -> None:
    request = build(root_rotation())
    sign(request.metadata["root"], *signers)
    again = _reloaded(request.to_dict())
    assert md.signatures(again.metadata["root"]) == md.signatures(request.metadata["root"])
    assert tuple(len(s.signed) for s in again.statuses()) == signed
    assert tuple(s.verified for s in again.statuses()) == verified


def test_take_signatures_from_a_signed_copy() -> None:
    request, copy_ = build(root_extension()), build(root_extension())
    copy_.metadata["root"] = md.from_dict(md.to_dict(request.metadata["root"]), "copy")
    sign(copy_.metadata["root"], "root-2", "outsider")
    assert request.take_signatures(copy_) == 1  # the outsider's is not a key this request needs
    assert set(md.signatures(request.metadata["root"])) == {K["root-2"].keyid}


# --------------------------------------------------------------------------- SignRequest refusals


def _with(proposal: Callable[[], Proposal] = root_extension, **fields: Any) -> dict[str, Any]:
    return {**good(proposal), **fields}


def _without(name: str) -> dict[str, Any]:
    obj = good()
    del obj[name]
    return obj


def _redigested(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with a digest that matches its metadata again (a forger can always do this)."""
    metadata = {role: md.from_dict(m, role) for role, m in obj["metadata"].items()}
    obj["digest"] = _diff.payload_digest({r: md.signed_bytes(m) for r, m in metadata.items()}).hex()
    return obj


def _edited_metadata() -> dict[str, Any]:
    obj = good()
    obj["metadata"]["root"]["signed"]["expires"] = "2099-01-01T00:00:00Z"
    return obj


def _previous_root(*signers: str) -> dict[str, Any]:
    previous = md.from_dict(good()["previous_root"], "previous")
    previous.signatures.clear()
    return _with(previous_root=md.to_dict(sign(previous, *signers)))


def _context(*signers: str) -> dict[str, Any]:
    obj = good(delegated_extension)
    context = md.from_dict(obj["context"]["targets"], "context")
    context.signatures.clear()
    obj["context"]["targets"] = md.to_dict(sign(context, *signers))
    return obj


def _signed_by(keyid: str, sig: str) -> dict[str, Any]:
    obj = good()
    obj["metadata"]["root"]["signatures"].append({"keyid": keyid, "sig": sig})
    return obj


def _outsider_signature() -> dict[str, Any]:
    request = build(root_extension())
    sign(request.metadata["root"], "outsider")
    return json.loads(request.to_json())


def _undelegated() -> dict[str, Any]:
    obj = good(delegated_extension)
    obj["parents"] = {}
    return obj


def _targets_as_root() -> dict[str, Any]:
    return _redigested(_with(metadata={"root": md.to_dict(md.build_targets(NOW))}))


R1 = K["root-1"].keyid[:12]
OUT = K["outsider"].keyid[:12]
# name -> (request content, exception type, exact sentence)
REQUEST_REFUSALS: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    "not an object": (lambda: [], InputFileError, f"{PATH}: not a ceremony sign request (format 1)"),
    "wrong type": (lambda: _with(type="ceremony-backup"), InputFileError, f"{PATH}: not a ceremony sign request (format 1)"),
    "no type": (lambda: {k: v for k, v in good().items() if k != "type"}, InputFileError, f"{PATH}: not a ceremony sign request (format 1)"),
    "format 2": (lambda: _with(format=2), InputFileError, f"{PATH}: not a ceremony sign request (format 1)"),
    "format as text": (lambda: _with(format="1"), InputFileError, f"{PATH}: not a ceremony sign request (format 1)"),
    "no id": (lambda: _without("id"), InputFileError, f"{PATH}: malformed sign request (no 'id')"),
    "no previous_root": (lambda: _without("previous_root"), InputFileError, f"{PATH}: malformed sign request (no 'previous_root')"),
    "no metadata": (lambda: _without("metadata"), InputFileError, f"{PATH}: malformed sign request (no 'metadata')"),
    "no digest": (lambda: _without("digest"), InputFileError, f"{PATH}: malformed sign request (no 'digest')"),
    "id outside pending/": (lambda: _with(id="../../etc/x"), TamperedRequestError, f"{PATH}: its id '../../etc/x' is not one this tool makes (16 hex digits)"),
    "id absolute": (lambda: _with(id="/tmp/x"), TamperedRequestError, f"{PATH}: its id '/tmp/x' is not one this tool makes (16 hex digits)"),
    "id a number": (lambda: _with(id=123), TamperedRequestError, f"{PATH}: its id '123' is not one this tool makes (16 hex digits)"),
    "id with a final newline": (lambda: _with(id=ID + "\n"), TamperedRequestError, f"{PATH}: its id '{ID}\\\\x0a' is not one this tool makes (16 hex digits)"),
    "previous_root not an object": (lambda: _with(previous_root="root.json"), InputFileError, f"{PATH}: root is not a metadata object"),
    "previous_root is targets": (lambda: _with(previous_root=md.to_dict(STATE.current("targets"))), InputFileError, f"{PATH}: root is targets metadata, expected root"),
    "previous_root not metadata": (lambda: _with(previous_root={"signed": {}}), InputFileError, f"{PATH} root: not valid TUF metadata ('_type')"),
    "metadata not an object": (lambda: _with(metadata=[]), InputFileError, f"{PATH}: 'metadata' is not an object"),
    "empty metadata": (lambda: _with(metadata={}, digest=_diff.payload_digest({}).hex()), InputFileError, f"{PATH}: the sign request proposes no metadata; there is nothing to sign"),
    "metadata role a path": (lambda: _with(metadata={"../root": good()["metadata"]["root"]}), InputFileError, f"{PATH} metadata: '../root' is not a role name"),
    "metadata root is targets": (_targets_as_root, InputFileError, f"{PATH}: root is targets metadata, expected root"),
    "context not an object": (lambda: _with(context=["targets"]), InputFileError, f"{PATH}: 'context' is not an object"),
    "parents not an object": (lambda: _with(parents=["targets"]), InputFileError, f"{PATH}: 'parents' is not an object"),
    "parent a path": (lambda: _with(parents={"releases": "../targets"}), InputFileError, f"{PATH} parents: '../targets' is not a role name"),
    "current not an object": (lambda: _with(current=["x"]), InputFileError, f"{PATH}: 'current' is not an object"),
    "summary not a list": (lambda: _with(summary="all fine"), InputFileError, f"{PATH}: 'summary' is not a list of at most 50 lines of text"),
    "summary too long": (lambda: _with(summary=["x"] * 51), InputFileError, f"{PATH}: 'summary' is not a list of at most 50 lines of text"),
    "digest not text": (lambda: _with(digest=5), InputFileError, f"{PATH}: 'digest' is not text"),
    "digest mismatch": (lambda: _with(digest="00" * 32), TamperedRequestError, f"{PATH}: the proposed metadata does not match the request's digest: it was changed after it was made"),
    "metadata changed after": (_edited_metadata, TamperedRequestError, f"{PATH}: the proposed metadata does not match the request's digest: it was changed after it was made"),
    "previous root unsigned": (_previous_root, TamperedRequestError, f"{PATH}: its previous root is not signed by a threshold of its own root keys; the request was tampered with"),
    "previous root 1 of 2": (lambda: _previous_root("root-1"), TamperedRequestError, f"{PATH}: its previous root is not signed by a threshold of its own root keys; the request was tampered with"),
    "previous root by others": (lambda: _previous_root("outsider", "targets"), TamperedRequestError, f"{PATH}: its previous root is not signed by a threshold of its own root keys; the request was tampered with"),
    "context unsigned": (_context, TamperedRequestError, f"{PATH}: its targets context is not signed by the keys that delegate it; the request was tampered with"),
    "context signed by another key": (lambda: _context("outsider"), TamperedRequestError, f"{PATH}: its targets context is not signed by the keys that delegate it; the request was tampered with"),
    "root version +2": (lambda: build(root_extension(3)), TamperedRequestError, f"{PATH}: proposes root version 3 after version 1"),
    "root version repeated": (lambda: build(root_extension(1)), TamperedRequestError, f"{PATH}: proposes root version 1 after version 1"),
    "signature by an unknown key": (_outsider_signature, TamperedRequestError, f"{PATH}: the signature by {OUT} on root does not verify; the request was tampered with"),
    "invalid signature by a root key": (lambda: _signed_by(K["root-1"].keyid, "00" * 64), TamperedRequestError, f"{PATH}: the signature by {R1} on root does not verify; the request was tampered with"),
    "empty signature by a root key": (lambda: _signed_by(K["root-1"].keyid, ""), TamperedRequestError, f"{PATH}: the signature by {R1} on root does not verify; the request was tampered with"),
    "delegated role nobody delegates": (_undelegated, VerificationError, "releases: no delegating metadata names this role"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "error", "sentence"), REQUEST_REFUSALS.values(), ids=REQUEST_REFUSALS.keys())
def test_sign_request_refusal(content: Callable[[], object], error: type[Exception], sentence: str) -> None:
    with pytest.raises(error) as caught:
        obj = content()
        SignRequest.from_dict(obj, PATH)
    assert type(caught.value) is error
    assert str(caught.value) == sentence


def _nested_context() -> dict[str, Any]:
    """Role 'nightly', delegated by 'releases', whose context copy of releases nobody signed and names a forger's key."""
    forged = md.next_version(STATE.current("releases"), NOW + timedelta(days=30))
    md.add_delegation(forged, "nightly", [K["outsider"]], 1, False, ["nightly/*"])
    nightly = sign(md.build_targets(NOW + timedelta(days=30)), "outsider")
    return _redigested(
        _with(
            delegated_extension,
            context={"releases": md.to_dict(forged)},
            parents={"nightly": "releases"},
            current={},
            metadata={"nightly": md.to_dict(nightly)},
        )
    )


def _self_delegated() -> dict[str, Any]:
    """Role 'releases' said to be delegated by itself: its own copy names the forger's key, which signed it."""
    releases = md.next_version(STATE.current("releases"), NOW + timedelta(days=30))
    md.add_delegation(releases, "releases", [K["outsider"]], 1, False, ["*"])
    sign(releases, "outsider")
    return _redigested(_with(delegated_extension, context={}, parents={"releases": "releases"}, metadata={"releases": md.to_dict(releases)}))  # fmt: skip


# Requests whose keys come from nothing anyone signed (the previous root vouches for neither): refused,
# as the docstring of _checked_request says ("the previous root and the delegating context decide which keys
# are accepted, so they must carry valid signatures themselves"). Bugs: both are accepted, the forger's
# signature counted.
UNVOUCHED: dict[str, Callable[[], dict[str, Any]]] = {
    "delegated context unsigned": _nested_context,
    "role delegated by itself": _self_delegated,
}


@pytest.mark.parametrize("content", UNVOUCHED.values(), ids=UNVOUCHED.keys())
def test_sign_request_keys_vouched_for_by_nobody_are_refused(content: Callable[[], dict[str, Any]]) -> None:
    obj = content()
    with pytest.raises(VerificationError):
        request = SignRequest.from_dict(obj, PATH)
        pytest.fail(f"accepted; statuses: {[s.describe() for s in request.statuses()]}")


# --------------------------------------------------------------------------- PendingChange


@pytest.mark.parametrize("name", PROPOSALS)
def test_pending_change_round_trip(name: str) -> None:
    proposal = PROPOSALS[name]()
    if not proposal.config:
        proposal.config = copy.deepcopy(CONFIG)
    pending = PendingChange.from_proposal(ID, proposal)
    obj = json.loads(json.dumps(pending.to_dict()))
    again = PendingChange.from_dict(obj, PENDING, ID)
    assert again.to_dict() == pending.to_dict()
    assert again.new_key_files == proposal.new_key_files
    assert {r: md.signed_bytes(m) for r, m in again.metadata.items()} == {
        r: md.signed_bytes(m) for r, m in proposal.metadata.items()
    }
    back = again.to_proposal()
    assert (back.command, back.summary, back.base_root_version, back.parents) == (
        proposal.command,
        proposal.summary,
        1,
        proposal.parents,
    )
    assert (back.removed_roles, back.revoked, back.notes) == (proposal.removed_roles, proposal.revoked, proposal.notes)
    assert back.details == {**proposal.details, "request_id": ID}
    assert back.config == proposal.config


def _record(**fields: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(PendingChange.from_proposal(ID, root_rotation()).to_dict())), **fields}


def _record_without(name: str) -> dict[str, Any]:
    record = _record()
    del record[name]
    return record


OUTSIDER = K["outsider"].keyid
P12 = base64.b64encode(b"p12").decode()
REQUIRED = ("request_id", "base_root_version", "command", "metadata", "config", "new_key_files")
WRONG_TYPES = {"request_id": 5, "base_root_version": "1", "command": ["rotate"], "metadata": [], "config": "x", "new_key_files": []}  # fmt: skip
# name -> (record, exact sentence); every refusal is an InputFileError
PENDING_REFUSALS: dict[str, tuple[Callable[[], object], str]] = {
    "not an object": (lambda: [], f"{PENDING}: not a pending change record"),
    **{f"no {name}": ((lambda n=name: _record_without(n)), f"{PENDING}: pending change record has no valid '{name}'") for name in REQUIRED},
    **{f"{name} of the wrong type": ((lambda n=name: _record(**{n: WRONG_TYPES[n]})), f"{PENDING}: pending change record has no valid '{name}'") for name in REQUIRED},
    "base_root_version a bool": (lambda: _record(base_root_version=True), f"{PENDING}: pending change record has no valid 'base_root_version'"),
    "another request's record": (lambda: _record(request_id="fedcba9876543210"), f"{PENDING}: the pending record is for request fedcba9876543210"),
    "unknown command": (lambda: _record(command="publish"), f"{PENDING}: unknown command 'publish' in a pending record"),
    "command with ESC": (lambda: _record(command="rotate\x1b[2J"), f"{PENDING}: unknown command 'rotate\\\\x1b[2J' in a pending record"),
    "removed role a path": (lambda: _record(removed_roles=["../metadata/root"]), f"{PENDING} removed_roles: '../metadata/root' is not a role name"),
    "removed roles not a list": (lambda: _record(removed_roles="releases"), f"{PENDING}: 'removed_roles' is not a list of at most 50 lines of text"),
    "revoked not a list": (lambda: _record(revoked="x"), f"{PENDING}: 'revoked' is not a list of at most 10000 lines of text"),
    "revoked key id short": (lambda: _record(revoked=["abc"]), f"{PENDING}: revoked key id 'abc' is not a key id"),
    "revoked key id uppercase": (lambda: _record(revoked=[OUTSIDER.upper()]), f"{PENDING}: revoked key id '{OUTSIDER.upper()}' is not a key id"),
    "revoked key id with a final newline": (lambda: _record(revoked=[OUTSIDER + "\n"]), f"{PENDING}: revoked key id '{OUTSIDER}\\\\x0a' is not a key id"),
    "details not an object": (lambda: _record(details=["x"]), f"{PENDING}: 'details' is not an object"),
    "config of another format": (lambda: _record(config={**CONFIG, "format": 2}), f"{PENDING} config: not a ceremony workspace config of format 1"),
    "config key file outside keys/": (lambda: _record(config={**CONFIG, "keys": {OUTSIDER: {"uri": "file:../x.p12"}}}), f"{PENDING} config: key {OUTSIDER[:16]!r}: 'file:../x.p12' is not this key's file in keys/; the workspace config is damaged or was edited by hand"),
    "new key file a path": (lambda: _record(new_key_files={"../../x": P12}), f"{PENDING}: new key file '../../x' is not keys/<keyid>.p12"),
    "new key file absolute": (lambda: _record(new_key_files={"/tmp/x": P12}), f"{PENDING}: new key file '/tmp/x' is not keys/<keyid>.p12"),
    "new key file id with a final newline": (lambda: _record(new_key_files={OUTSIDER + "\n": P12}), f"{PENDING}: new key file '{OUTSIDER}\\\\x0a' is not keys/<keyid>.p12"),
    "new key file not text": (lambda: _record(new_key_files={OUTSIDER: 5}), f"{PENDING}: new key file '{OUTSIDER}' is not keys/<keyid>.p12"),
    "new key file not base64": (lambda: _record(new_key_files={OUTSIDER: "not base64!"}), f"{PENDING}: the new key file for {OUTSIDER[:12]} is not base64"),
    "metadata role a path": (lambda: _record(metadata={"../x": _record()["metadata"]["root"]}), f"{PENDING} metadata: '../x' is not a role name"),
    "metadata not metadata": (lambda: _record(metadata={"root": "x"}), f"{PENDING}: root is not a metadata object"),
    "metadata root is targets": (lambda: _record(metadata={"root": md.to_dict(md.build_targets(NOW))}), f"{PENDING}: root is targets metadata, expected root"),
    "parents a path": (lambda: _record(parents={"x": "../y"}), f"{PENDING} parents: '../y' is not a role name"),
    "summary too long": (lambda: _record(summary=["x"] * 51), f"{PENDING}: 'summary' is not a list of at most 50 lines of text"),
    "notes not text": (lambda: _record(notes=[1]), f"{PENDING}: 'notes' is not a list of at most 50 lines of text"),
}  # fmt: skip


@pytest.mark.parametrize(("record", "sentence"), PENDING_REFUSALS.values(), ids=PENDING_REFUSALS.keys())
def test_pending_change_refusal(record: Callable[[], object], sentence: str) -> None:
    with pytest.raises(CeremonyError) as caught:
        PendingChange.from_dict(record(), PENDING, ID)
    assert type(caught.value) is InputFileError
    assert str(caught.value) == sentence


# name -> a field this tool may leave out or empty
PENDING_OPTIONAL: dict[str, dict[str, Any]] = {
    "no summary": {"summary": None},
    "no notes": {"notes": None},
    "no details": {"details": None},
    "no parents": {"parents": None},
    "no removed roles": {"removed_roles": None},
    "no revoked": {"revoked": None},
    "no new key files": {"new_key_files": {}},
}


@pytest.mark.parametrize("fields", PENDING_OPTIONAL.values(), ids=PENDING_OPTIONAL.keys())
def test_pending_change_optional_fields(fields: dict[str, Any]) -> None:
    record = {k: v for k, v in _record(**fields).items() if v is not None}
    pending = PendingChange.from_dict(record, PENDING, ID)
    assert pending.request_id == ID
    assert set(pending.metadata) == {"root"}
