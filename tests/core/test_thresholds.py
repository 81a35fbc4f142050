"""ceremony/core/thresholds.py: N of M, one line per case.

``count`` and ``evaluate`` against signatures made in-process (ed25519 and
ECDSA P-256); ``requirements_for`` against metadata built with
``ceremony.core.metadata``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from securesystemslib.signer import SSlibKey

from ceremony.core import metadata as md
from ceremony.core.thresholds import Requirement, ThresholdResult, count, evaluate, evaluate_all, requirements_for
from ceremony.errors import VerificationError
from tests.core.signers import ed25519_signer, p256_signer

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PAYLOAD = b'{"signed":"payload"}'


S = {n: ed25519_signer() for n in ("a", "b", "targets", "targets-2", "snapshot", "timestamp", "releases", "outsider")}
S["c"] = p256_signer()
K = {n: s.public_key for n, s in S.items()}
# the same public key as "a" under another key id
K["a-again"] = SSlibKey("f" * 64, K["a"].keytype, K["a"].scheme, dict(K["a"].keyval))


def ids(*names: str) -> list[str]:
    return [K[n].keyid for n in names]


def sig(name: str, payload: bytes = PAYLOAD) -> str:
    """A valid signature by key ``name`` ("a-again" is key "a")."""
    return S["a" if name == "a-again" else name].sign(payload).signature


# name -> (keys of the set, signatures given, signed, unsigned) by key name
#   a key given as "error" is one that could not be loaded (a string saying why)
COUNTS: dict[str, tuple[list[str], dict[str, str], list[str], list[str]]] = {
    "no signatures": (["a", "b", "c"], {}, [], ["a", "b", "c"]),
    "one valid": (["a", "b", "c"], {"a": "valid"}, ["a"], ["b", "c"]),
    "ecdsa valid": (["a", "b", "c"], {"c": "valid"}, ["c"], ["a", "b"]),
    "threshold met": (["a", "b", "c"], {"a": "valid", "c": "valid"}, ["a", "c"], ["b"]),
    "all": (["a", "b", "c"], {"a": "valid", "b": "valid", "c": "valid"}, ["a", "b", "c"], []),
    "invalid signature bytes": (["a", "b"], {"a": "00" * 64}, [], ["a", "b"]),
    "not hex": (["a", "b"], {"a": "not hex"}, [], ["a", "b"]),
    "empty placeholder": (["a", "b"], {"a": ""}, [], ["a", "b"]),
    "signature over other bytes": (["a", "b"], {"a": "other payload"}, [], ["a", "b"]),
    "b's signature under a's id": (["a", "b"], {"a": "by b"}, [], ["a", "b"]),
    "by a key not in the set": (["a", "b"], {"outsider": "valid"}, [], ["a", "b"]),
    "same key twice, both signed": (["a", "a-again", "b"], {"a": "valid", "a-again": "valid"}, ["a"], ["b"]),
    "same key twice, second signed": (["a", "a-again", "b"], {"a-again": "valid"}, ["a-again"], ["b"]),
    "same key twice, none signed": (["a", "a-again", "b"], {}, [], ["a", "b"]),
    "same key twice, first invalid": (["a", "a-again"], {"a": "00" * 64, "a-again": "valid"}, ["a-again"], []),
    "unloadable key, signed": (["error", "b"], {"error": "valid"}, [], ["error", "b"]),
    "None key, signed": (["none", "b"], {"none": "valid"}, [], ["none", "b"]),
    "empty set": ([], {"a": "valid"}, [], []),
}  # fmt: skip


def _keys_of(names: list[str]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for n in names:
        if n == "error":
            keys[K["a"].keyid] = "key a: malformed (could not be loaded)"
        elif n == "none":
            keys[K["a"].keyid] = None
        else:
            keys[K[n].keyid] = K[n]
    return keys


def _keyid(name: str) -> str:
    return K["a"].keyid if name in ("error", "none") else K[name].keyid


def _signature(name: str, value: str) -> str:
    if value == "valid":
        return sig("a" if name in ("error", "none") else name)
    if value == "other payload":
        return sig(name, b"other")
    if value == "by b":
        return sig("b")
    return value


@pytest.mark.parametrize(("keys", "given", "signed", "unsigned"), COUNTS.values(), ids=COUNTS.keys())
def test_count(keys: list[str], given: dict[str, str], signed: list[str], unsigned: list[str]) -> None:
    signatures = {_keyid(n): _signature(n, v) for n, v in given.items()}
    got_signed, got_unsigned = count(_keys_of(keys), signatures, PAYLOAD)
    assert got_signed == [_keyid(n) for n in signed]
    assert got_unsigned == [_keyid(n) for n in unsigned]
    assert len(set(got_signed) | set(got_unsigned)) == len(got_signed) + len(got_unsigned)


# name -> (key names, threshold, signers) -> (verified, missing, total, describe())
RESULTS: dict[str, tuple[list[str], int, list[str], bool, int, int, str]] = {
    "none of 2": (["a", "b", "c"], 2, [], False, 2, 3, "root: 0 of 2"),
    "1 of 2": (["a", "b", "c"], 2, ["b"], False, 1, 3, "root: 1 of 2"),
    "2 of 2": (["a", "b", "c"], 2, ["a", "c"], True, 0, 3, "root: 2 of 2"),
    "3 signed of 2": (["a", "b", "c"], 2, ["a", "b", "c"], True, 0, 3, "root: 3 signed, 2 needed"),
    "one key twice": (["a", "a-again", "b"], 2, ["a", "a-again"], False, 1, 2, "root: 1 of 2"),
    "outsider": (["a", "b"], 1, ["outsider"], False, 1, 2, "root: 0 of 1"),
}  # fmt: skip


def _signed_by(signers: list[str]) -> Any:
    """A targets file standing in for any metadata, signed by ``signers`` under their own key ids."""
    targets = md.build_targets(NOW)
    for n in signers:
        md.add_signature(targets, K[n].keyid, sig(n, md.signed_bytes(targets)))
    return targets


@pytest.mark.parametrize(
    ("keys", "threshold", "signers", "verified", "missing", "total", "text"), RESULTS.values(), ids=RESULTS.keys()
)
def test_evaluate(
    keys: list[str], threshold: int, signers: list[str], verified: bool, missing: int, total: int, text: str
) -> None:
    result = evaluate(_signed_by(signers), Requirement("root", {K[n].keyid: K[n] for n in keys}, threshold), "root")
    assert (result.verified, result.missing, result.total) == (verified, missing, total)
    assert result.describe() == text
    assert result.role == "root"
    assert result.threshold == threshold
    assert result.label == "root"


# name -> (signed key names, labels known) -> names shown ("NAME:12": the first 12 characters of NAME's key id)
NAMED: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
    "labels known": (["a", "b"], {"a": "root-1", "b": "root-2"}, ["root-1", "root-2"]),
    "one unknown": (["a", "b"], {"a": "root-1"}, ["root-1", "b:12"]),
    "none known": (["c"], {}, ["c:12"]),
    "nobody signed": ([], {"a": "root-1"}, []),
}


@pytest.mark.parametrize(("signed", "labels", "names"), NAMED.values(), ids=NAMED.keys())
def test_named(signed: list[str], labels: dict[str, str], names: list[str]) -> None:
    result = ThresholdResult("new root (version 2)", 2, tuple(ids(*signed)), tuple(ids("outsider")), "root")
    named = result.named({K[n].keyid: label for n, label in labels.items()})
    shown = [K[n.removesuffix(":12")].keyid[:12] if n.endswith(":12") else n for n in names]
    assert named.names == tuple(shown)
    assert (named.signed, named.unsigned, named.threshold, named.role) == (
        result.signed,
        result.unsigned,
        2,
        "root",
    )
    who = f" ({', '.join(shown)})" if shown else ""
    assert named.describe() == f"new root (version 2): {len(signed)} of 2{who}"
    assert result.names == ()  # the original is unchanged


# --------------------------------------------------------------------------- requirements_for

RootKeys = dict[str, tuple[list[str], int]]
V1: RootKeys = {"root": (["a", "b", "c"], 2), "targets": (["targets"], 1), "snapshot": (["snapshot"], 1), "timestamp": (["timestamp"], 1)}  # fmt: skip


def build_root(roles: RootKeys, version: int = 1) -> Any:
    plans = {
        r: md.RolePlan(tuple(K[n] for n in names), t, NOW + timedelta(days=365)) for r, (names, t) in roles.items()
    }
    return md.build_root(plans, version=version)


def delegating(version: int = 1, names: tuple[str, ...] = ("releases",), threshold: int = 1) -> Any:
    targets = md.build_targets(NOW, version=version)
    md.add_delegation(targets, "releases", [K[n] for n in names], threshold, False, ["releases/*"])
    return targets


PREVIOUS = build_root(V1)
ROOT_2 = build_root({**V1, "root": (["a", "b", "outsider"], 2)}, version=2)
ROOT_2_NEW_TARGETS = build_root({**V1, "targets": (["targets-2"], 1)}, version=2)

# name -> (metadata, parents, context) -> {role: [(label, key names, threshold), ...]}
Expected = dict[str, list[tuple[str, list[str], int]]]
REQUIREMENTS: dict[str, tuple[Callable[[], dict[str, Any]], dict[str, str], Callable[[], dict[str, Any]], Expected]] = {
    "root: old and new root keys": (lambda: {"root": ROOT_2}, {}, dict, {"root": [("old root (version 1)", ["a", "b", "c"], 2), ("new root (version 2)", ["a", "b", "outsider"], 2)]}),
    "root: same keys": (lambda: {"root": md.next_version(PREVIOUS, NOW)}, {}, dict, {"root": [("old root (version 1)", ["a", "b", "c"], 2), ("new root (version 2)", ["a", "b", "c"], 2)]}),
    "targets, root unchanged": (lambda: {"targets": md.build_targets(NOW, 2)}, {}, dict, {"targets": [("targets role", ["targets"], 1)]}),
    "targets, root changes its key": (lambda: {"root": ROOT_2_NEW_TARGETS, "targets": md.build_targets(NOW, 2)}, {}, dict, {"root": [("old root (version 1)", ["a", "b", "c"], 2), ("new root (version 2)", ["a", "b", "c"], 2)], "targets": [("targets role", ["targets-2"], 1)]}),
    "snapshot and timestamp": (lambda: {"snapshot": md.build_snapshot(NOW, 2, 2), "timestamp": md.build_timestamp(NOW, b"s", 2, 2)}, {}, dict, {"snapshot": [("snapshot role", ["snapshot"], 1)], "timestamp": [("timestamp role", ["timestamp"], 1)]}),
    "delegated, parent in the proposal": (lambda: {"targets": delegating(2, ("releases", "outsider"), 2), "releases": md.build_targets(NOW)}, {"releases": "targets"}, lambda: {"targets": delegating(1)}, {"targets": [("targets role", ["targets"], 1)], "releases": [("role 'releases' (delegated by targets)", ["releases", "outsider"], 2)]}),
    "delegated, parent in context": (lambda: {"releases": md.build_targets(NOW, 2)}, {"releases": "targets"}, lambda: {"targets": delegating(1)}, {"releases": [("role 'releases' (delegated by targets)", ["releases"], 1)]}),
    "delegated by a delegated role": (lambda: {"releases": md.build_targets(NOW, 2)}, {"releases": "stable"}, lambda: {"stable": delegating(3, ("outsider",))}, {"releases": [("role 'releases' (delegated by stable)", ["outsider"], 1)]}),
    "nothing proposed": (dict, {}, dict, {}),
}  # fmt: skip


@pytest.mark.parametrize(("metadata", "parents", "context", "expected"), REQUIREMENTS.values(), ids=REQUIREMENTS.keys())
def test_requirements_for(
    metadata: Callable[[], dict[str, Any]],
    parents: dict[str, str],
    context: Callable[[], dict[str, Any]],
    expected: Expected,
) -> None:
    reqs = requirements_for(PREVIOUS, metadata(), parents, context())
    got = {role: [(r.label, list(r.keys), r.threshold) for r in role_reqs] for role, role_reqs in reqs.items()}
    assert got == {role: [(label, ids(*names), t) for label, names, t in rs] for role, rs in expected.items()}
    for role_reqs in reqs.values():
        for r in role_reqs:
            assert all(key.keyid == keyid for keyid, key in r.keys.items())


# name -> (metadata, parents, context): no delegating metadata names the proposed role
UNDELEGATED: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, Any]]] = {
    "no parent given": ({"releases": md.build_targets(NOW)}, {}, {}),
    "parent nowhere": ({"releases": md.build_targets(NOW)}, {"releases": "targets"}, {}),
    "parent does not delegate it": ({"releases": md.build_targets(NOW)}, {"releases": "targets"}, {"targets": md.build_targets(NOW)}),
    "proposed parent drops it": ({"targets": md.build_targets(NOW, 2), "releases": md.build_targets(NOW)}, {"releases": "targets"}, {"targets": delegating(1)}),
    "parent is not targets metadata": ({"releases": md.build_targets(NOW)}, {"releases": "snapshot"}, {"snapshot": md.build_snapshot(NOW, 1)}),
    "delegated by itself (its own say-so)": ({"releases": delegating(1)}, {"releases": "releases"}, {}),
}  # fmt: skip


@pytest.mark.parametrize(("metadata", "parents", "context"), UNDELEGATED.values(), ids=UNDELEGATED.keys())
def test_requirements_for_an_undelegated_role(
    metadata: dict[str, Any], parents: dict[str, str], context: dict[str, Any]
) -> None:
    with pytest.raises(VerificationError) as caught:
        requirements_for(PREVIOUS, metadata, parents, context)
    assert str(caught.value) == "releases: no delegating metadata names this role"
    assert (caught.value.file, caught.value.check) == ("releases", "delegation")


def test_evaluate_all_follows_the_requirements() -> None:
    root = md.next_version(PREVIOUS, NOW + timedelta(days=1))
    for n in ("a", "b"):
        md.add_signature(root, K[n].keyid, sig(n, md.signed_bytes(root)))
    results = evaluate_all(requirements_for(PREVIOUS, {"root": root}, {}, {}), {"root": root})
    assert [(r.label, r.verified, r.signed, r.unsigned) for r in results] == [
        ("old root (version 1)", True, tuple(ids("a", "b")), tuple(ids("c"))),
        ("new root (version 2)", True, tuple(ids("a", "b")), tuple(ids("c"))),
    ]
