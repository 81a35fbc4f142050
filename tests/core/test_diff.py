"""ceremony/core/diff.py: what a keyholder is shown before signing, one line per case.

``describe_change`` works on plain ``signed`` dicts, so the cases are written
as dicts with fixed key ids (the exact lines can be pinned), plus one check
against metadata built by ``ceremony.core.metadata``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from mnemonic import Mnemonic
from securesystemslib.signer import SSlibKey

from ceremony.core import diff
from ceremony.core import metadata as md

A, B, C, D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
ESC_ID = "\x1b[2J" + "e" * 60  # a key id that would clear the screen
WORDLIST = set(Mnemonic("english").wordlist)


def key(scheme: str = "ed25519", **extra: str) -> dict[str, Any]:
    return {"keytype": "ed25519", "scheme": scheme, "keyval": {"public": "00" * 32}, **extra}


def root(version: int = 1, expires: str = "2027-01-01T00:00:00Z", **change: Any) -> dict[str, Any]:
    """A root ``signed`` dict: root 2 of A B C, targets D, snapshot and timestamp A; ``change`` replaces fields."""
    signed = {
        "_type": "root",
        "spec_version": "1.0.31",
        "version": version,
        "expires": expires,
        "consistent_snapshot": False,
        "keys": {A: key(), B: key(), C: key("ecdsa-sha2-nistp256"), D: key()},
        "roles": {
            "root": {"keyids": [A, B, C], "threshold": 2},
            "targets": {"keyids": [D], "threshold": 1},
            "snapshot": {"keyids": [A], "threshold": 1},
            "timestamp": {"keyids": [A], "threshold": 1},
        },
    }
    signed.update(change)
    return signed


def roles(**change: dict[str, Any]) -> dict[str, Any]:
    return {**root()["roles"], **change}


def targets(version: int = 1, delegated: dict[str, dict[str, Any]] | None = None, **change: Any) -> dict[str, Any]:
    signed: dict[str, Any] = {
        "_type": "targets",
        "spec_version": "1.0.31",
        "version": version,
        "expires": "2026-04-01T00:00:00Z",
        "targets": {},
    }
    if delegated is not None:
        signed["delegations"] = {
            "keys": {A: key(), B: key(), ESC_ID: key()},
            "roles": [{"name": name, **role} for name, role in delegated.items()],
        }
    signed.update(change)
    return signed


RELEASES = {"keyids": [A], "threshold": 1, "terminating": True, "paths": ["releases/*"]}
KEYS_OWNED = {**root()["keys"], B: key(**{"x-tuf-on-ci-keyowner": "@bob"}), D: key(**{"x-ceremony-label": "root-4"})}
V2 = {"version": 2}

# name -> (file name, old signed or None, new signed, lines)
CHANGES: dict[str, tuple[str, dict[str, Any] | None, dict[str, Any], list[str]]] = {
    "version only": ("2.root.json", root(), root(2), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
    ]),
    "expiry": ("2.root.json", root(), root(2, "2028-01-01T00:00:00Z"), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z -> 2028-01-01T00:00:00Z",
    ]),
    "key added": ("2.root.json", root(), root(2, roles=roles(root={"keyids": [A, B, C, D], "threshold": 2})), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: threshold 2 (unchanged), 4 keys", f"    + key {D[:12]} (ed25519)",
    ]),
    "key removed": ("2.root.json", root(), root(2, roles=roles(root={"keyids": [A, B], "threshold": 2})), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: threshold 2 (unchanged), 2 keys", f"    - key {C[:12]} (ecdsa-sha2-nistp256)",
    ]),
    "threshold": ("2.root.json", root(), root(2, roles=roles(root={"keyids": [A, B, C], "threshold": 3})), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: threshold 2 -> 3, 3 keys",
    ]),
    "key replaced, threshold": ("2.root.json", root(), root(2, roles=roles(root={"keyids": [A, B, D], "threshold": 1})), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: threshold 2 -> 1, 3 keys", f"    + key {D[:12]} (ed25519)", f"    - key {C[:12]} (ecdsa-sha2-nistp256)",
    ]),
    "owners shown": ("2.root.json", root(keys=KEYS_OWNED), root(2, keys=KEYS_OWNED, roles=roles(root={"keyids": [A, D], "threshold": 2})), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: threshold 2 (unchanged), 2 keys", f"    + key {D[:12]} (ed25519, root-4)",
        f"    - key {B[:12]} (ed25519, @bob)", f"    - key {C[:12]} (ecdsa-sha2-nistp256)",
    ]),
    "online role's key": ("2.root.json", root(), root(2, roles=roles(timestamp={"keyids": [B], "threshold": 1})), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role timestamp: threshold 1 (unchanged), 1 key", f"    + key {B[:12]} (ed25519)", f"    - key {A[:12]} (ed25519)",
    ]),
    "consistent_snapshot": ("2.root.json", root(), root(2, consistent_snapshot=True), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  consistent_snapshot: False -> True",
    ]),
    "root roles in the spec's order": ("2.root.json", root(), root(2, roles={
        "timestamp": {"keyids": [B], "threshold": 1}, "snapshot": {"keyids": [B], "threshold": 1},
        "targets": {"keyids": [D], "threshold": 1}, "root": {"keyids": [A, B, C], "threshold": 2},
    }), [
        "2.root.json (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role snapshot: threshold 1 (unchanged), 1 key", f"    + key {B[:12]} (ed25519)", f"    - key {A[:12]} (ed25519)",
        "  role timestamp: threshold 1 (unchanged), 1 key", f"    + key {B[:12]} (ed25519)", f"    - key {A[:12]} (ed25519)",
    ]),
    "new root file": ("1.root.json", None, root(), [
        "1.root.json (root)", "  new file, version 1, expires 2027-01-01T00:00:00Z",
        "  role root: threshold 2, 3 keys", f"    + key {A[:12]} (ed25519)", f"    + key {B[:12]} (ed25519)",
        f"    + key {C[:12]} (ecdsa-sha2-nistp256)",
        "  role targets: threshold 1, 1 key", f"    + key {D[:12]} (ed25519)",
        "  role snapshot: threshold 1, 1 key", f"    + key {A[:12]} (ed25519)",
        "  role timestamp: threshold 1, 1 key", f"    + key {A[:12]} (ed25519)",
    ]),
    "new targets file": ("releases.json", None, targets(), [
        "releases.json (targets)", "  new file, version 1, expires 2026-04-01T00:00:00Z",
    ]),
    "delegation added": ("targets.json", targets(), targets(2, {"releases": RELEASES}), [
        "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
        "  role releases: ADDED, paths ['releases/*'], terminating True",
        "  role releases: threshold 1, 1 key", f"    + key {A[:12]} (ed25519)",
    ]),
    "delegation added, hash prefixes": ("targets.json", targets(), targets(2, {"bins-0": {"keyids": [A, B], "threshold": 2, "path_hash_prefixes": ["0"]}}), [
        "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
        "  role bins-0: ADDED, paths ['0'], terminating False",
        "  role bins-0: threshold 2, 2 keys", f"    + key {A[:12]} (ed25519)", f"    + key {B[:12]} (ed25519)",
    ]),
    "delegation removed": ("targets.json", targets(1, {"releases": RELEASES}), targets(2, {}), [
        "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
        "  role releases: REMOVED",
    ]),
    "delegations dropped whole": ("targets.json", targets(1, {"releases": RELEASES}), targets(2), [
        "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
        "  role releases: REMOVED",
    ]),
    "delegation's paths": ("targets.json", targets(1, {"releases": RELEASES}), targets(2, {"releases": {**RELEASES, "paths": ["*"]}}), [
        "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
        "  role releases: paths ['releases/*'] -> ['*']",
    ]),
    "delegation's keys": ("targets.json", targets(1, {"releases": RELEASES}), targets(2, {"releases": {**RELEASES, "keyids": [B], "threshold": 1}}), [
        "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
        "  role releases: threshold 1 (unchanged), 1 key", f"    + key {B[:12]} (ed25519)", f"    - key {A[:12]} (ed25519)",
    ]),
    "targets added, removed and changed": (
        "targets.json",
        {**targets(), "targets": {"a.txt": {"length": 3, "hashes": {"sha256": "aa" * 32}}, "gone": {"length": 1, "hashes": {"sha256": "bb" * 32}}}},
        {**targets(2), "targets": {"a.txt": {"length": 4, "hashes": {"sha256": "cc" * 32}}, "new/b.bin": {"length": 9, "hashes": {"sha512": "dd" * 64, "sha256": "ee" * 32}}}},
        [
            "targets.json (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
            f"  ~ target a.txt: 3 bytes, sha256 {'aa' * 8} -> 4 bytes, sha256 {'cc' * 8}",
            "  - target gone", f"  + target new/b.bin: 9 bytes, sha256 {'ee' * 8}",
        ],
    ),
    "snapshot lists": ("snapshot.json", {"_type": "snapshot", "version": 1, "expires": "x", "meta": {"targets.json": {"version": 1}, "old.json": {"version": 1}}},
        {"_type": "snapshot", "version": 2, "expires": "x", "meta": {"targets.json": {"version": 2}, "releases.json": {"version": 1}}}, [
        "snapshot.json (snapshot)", "  version: 1 -> 2", "  expires: x (unchanged)",
        "  lists releases.json (new): version 1", "  lists targets.json: version 1 -> 2", "  no longer lists old.json",
    ]),
}  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "lines"), CHANGES.values(), ids=CHANGES.keys())
def test_describe_change(name: str, old: dict[str, Any] | None, new: dict[str, Any], lines: list[str]) -> None:
    assert diff.describe_change(name, old, new) == lines


# A value from a file is shown escaped: one value is one line of inert text.
# name -> (old, new, a line that must be shown exactly)
HOSTILE: dict[str, tuple[dict[str, Any] | None, dict[str, Any], str]] = {
    "key id with ESC": (root(), root(2, keys={**root()["keys"], ESC_ID: key()}, roles=roles(targets={"keyids": [ESC_ID], "threshold": 1})),
        "    + key \\x1b[2Jeeeeeeee (ed25519)"),
    "scheme with ESC": (root(), root(2, keys={**root()["keys"], D: key("ed\x1b[8m")}, roles=roles(targets={"keyids": [D, A], "threshold": 1})),
        f"    + key {A[:12]} (ed25519)"),
    "owner with a newline": (root(), root(2, keys={**root()["keys"], D: key(**{"x-tuf-on-ci-keyowner": "bob\n    - key fake"})}, roles=roles(root={"keyids": [A, B, C, D], "threshold": 2})),
        f"    + key {D[:12]} (ed25519, bob\\x0a    - key fake)"),
    "delegated role name with ESC": (targets(), targets(2, {"rel\x1b[2Jeases": RELEASES}),
        "  role rel\\x1b[2Jeases: ADDED, paths ['releases/*'], terminating True"),
    "delegated role name with bidi override": (targets(), targets(2, {"\u202esesaeler": RELEASES}),
        "  role \\u202esesaeler: threshold 1, 1 key"),
    "expiry with a carriage return": (None, targets(expires="2026-01-01T00:00:00Z\rfake"),
        "  new file, version 1, expires 2026-01-01T00:00:00Z\\x0dfake"),
    "file name with ESC": (None, targets(), "x\\x1b]0;title\\x07.json (targets)"),
    "type with ESC": (None, targets(_type="Targets\x1b[1m"), "x\\x1b]0;title\\x07.json (targets\\x1b[1m)"),
    "paths with a newline": (targets(1, {"releases": RELEASES}), targets(2, {"releases": {**RELEASES, "paths": ["a\nb"]}}),
        "  role releases: paths ['releases/*'] -> ['a\\nb']"),
}  # fmt: skip


@pytest.mark.parametrize(("old", "new", "line"), HOSTILE.values(), ids=HOSTILE.keys())
def test_describe_change_escapes_values_from_the_file(
    old: dict[str, Any] | None, new: dict[str, Any], line: str
) -> None:
    lines = diff.describe_change("x\x1b]0;title\x07.json", old, new)
    assert line in lines, lines
    for shown in lines:
        assert all(c >= " " and c != "\x7f" and not ("\u2000" <= c <= "\u206f") for c in shown), repr(shown)


# Loose or hostile files are described, never raised on. name -> (old, new, lines)
LOOSE: dict[str, tuple[Any, Any, list[str]]] = {
    "new is not an object": (None, ["not", "a", "dict"], ["f ()", "  new file, version (absent), expires (absent)"]),
    "old is not an object": ("x", targets(), ["f (targets)", "  version: (absent) -> 1", "  expires: (absent) -> 2026-04-01T00:00:00Z"]),
    "roles not an object": (root(), root(2, roles=["root"]), [
        "f (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: REMOVED", "  role targets: REMOVED", "  role snapshot: REMOVED", "  role timestamp: REMOVED",
    ]),
    "keyids not text": (root(), root(2, roles=roles(root={"keyids": [A, 5, None], "threshold": 2})), [
        "f (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role root: threshold 2 (unchanged), 1 key", f"    - key {B[:12]} (ed25519)", f"    - key {C[:12]} (ecdsa-sha2-nistp256)",
    ]),
    "key unknown": (root(), root(2, roles=roles(targets={"keyids": [D, "f" * 64], "threshold": 1})), [
        "f (root)", "  version: 1 -> 2", "  expires: 2027-01-01T00:00:00Z (unchanged)",
        "  role targets: threshold 1 (unchanged), 2 keys", "    + key ffffffffffff (?)",
    ]),
    "delegated roles not a list": (targets(), targets(2, delegations={"roles": {"x": {}}}), [
        "f (targets)", "  version: 1 -> 2", "  expires: 2026-04-01T00:00:00Z (unchanged)",
    ]),
}  # fmt: skip


@pytest.mark.parametrize(("old", "new", "lines"), LOOSE.values(), ids=LOOSE.keys())
def test_describe_change_of_a_loose_file(old: Any, new: Any, lines: list[str]) -> None:
    assert diff.describe_change("f", old, new) == lines


def test_describe_change_of_built_metadata() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    private = ed25519.Ed25519PrivateKey.generate()
    new_key = SSlibKey.from_crypto(private.public_key())
    current = md.build_targets(now)
    proposed = md.next_version(current, now + timedelta(days=90))
    md.add_delegation(proposed, "releases", [new_key], 1, False, ["releases/*"])
    assert diff.describe_change("targets.json", md.signed_dict(current), md.signed_dict(proposed)) == [
        "targets.json (targets)",
        "  version: 1 -> 2",
        "  expires: 2026-01-01T00:00:00Z -> 2026-04-01T00:00:00Z",
        "  role releases: ADDED, paths ['releases/*'], terminating False",
        "  role releases: threshold 1, 1 key",
        f"    + key {new_key.keyid[:12]} (ed25519)",
    ]
    assert diff.signed_digest_hex(md.signed_dict(proposed)) == hashlib.sha256(md.signed_bytes(proposed)).hexdigest()


# --------------------------------------------------------------------------- the digest read aloud


def _outer(payloads: dict[str, bytes]) -> bytes:
    outer = hashlib.sha256()
    for name in sorted(payloads):
        outer.update(name.encode() + b"\n" + hashlib.sha256(payloads[name]).digest())
    return outer.digest()


# name -> (payloads, digest)
DIGESTS: dict[str, tuple[dict[str, bytes], bytes]] = {
    "one file: its own SHA-256": ({"root": b"canonical root"}, hashlib.sha256(b"canonical root").digest()),
    "one file: the name does not count": ({"targets": b"canonical root"}, hashlib.sha256(b"canonical root").digest()),
    "two files": ({"root": b"r", "targets": b"t"}, _outer({"root": b"r", "targets": b"t"})),
    "two files, other order": ({"targets": b"t", "root": b"r"}, _outer({"root": b"r", "targets": b"t"})),
    "nothing": ({}, hashlib.sha256(b"").digest()),
}  # fmt: skip


@pytest.mark.parametrize(("payloads", "digest"), DIGESTS.values(), ids=DIGESTS.keys())
def test_payload_digest(payloads: dict[str, bytes], digest: bytes) -> None:
    assert diff.payload_digest(payloads) == digest
    assert diff.payload_digest(dict(payloads)) == diff.payload_digest(payloads)  # deterministic


# name -> two payload sets whose digests must differ
DIFFERENT: dict[str, tuple[dict[str, bytes], dict[str, bytes]]] = {
    "one byte": ({"root": b"r"}, {"root": b"s"}),
    "names swapped": ({"root": b"r", "targets": b"t"}, {"root": b"t", "targets": b"r"}),
    "a name changed": ({"root": b"r", "targets": b"t"}, {"root": b"r", "releases": b"t"}),
    "a file added": ({"root": b"r", "targets": b"t"}, {"root": b"r", "targets": b"t", "snapshot": b"s"}),
    "name and bytes shifted": ({"root": b"r", "a": b"\nb"}, {"root": b"r", "a\n": b"b"}),
}


@pytest.mark.parametrize(("first", "second"), DIFFERENT.values(), ids=DIFFERENT.keys())
def test_payload_digest_differs(first: dict[str, bytes], second: dict[str, bytes]) -> None:
    assert diff.payload_digest(first) != diff.payload_digest(second)


# name -> (digest, words): BIP-39's own vectors (trezor/python-mnemonic vectors.json)
WORDS: dict[str, tuple[bytes, str]] = {
    "zeros": (bytes(32), " ".join(["abandon"] * 23 + ["art"])),
    "ones": (b"\xff" * 32, " ".join(["zoo"] * 23 + ["vote"])),
    "7f": (b"\x7f" * 32, "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title"),
}  # fmt: skip


@pytest.mark.parametrize(("digest", "words"), WORDS.values(), ids=WORDS.keys())
def test_digest_words_vectors(digest: bytes, words: str) -> None:
    assert diff.digest_words(digest) == words


@pytest.mark.parametrize("payload", [b"", b"root", b"\x00" * 1000], ids=["empty", "short", "long"])
def test_digest_words_of_a_digest(payload: bytes) -> None:
    digest = diff.payload_digest({"root": payload})
    words = diff.digest_words(digest).split(" ")
    assert len(digest) == 32
    assert len(words) == 24
    assert set(words) <= WORDLIST
    assert diff.digest_words(digest) == diff.digest_words(diff.payload_digest({"root": payload}))
    assert Mnemonic("english").to_entropy(words) == digest


def _bins(keyids: list[str], threshold: int, bits: int) -> dict[str, Any]:
    succinct = {"keyids": keyids, "threshold": threshold, "bit_length": bits, "name_prefix": "bins"}
    return {"_type": "targets", "version": 2, "targets": {}, "delegations": {"keys": {}, "succinct_roles": succinct}}


def test_hash_bins_keys_threshold_and_count_are_shown() -> None:
    """A keyholder signing a delegation to hash bins sees the bins' keys, threshold and how many bins."""
    added = diff.describe_change(
        "targets.json", {"_type": "targets", "version": 1, "targets": {}}, _bins(["a" * 64], 1, 14)
    )
    assert "  role bins-* (hash bins): ADDED, paths every path, by its hash, into 16384 bins, terminating True" in added
    assert "    + key aaaaaaaaaaaa (?)" in added
    changed = diff.describe_change("targets.json", _bins(["a" * 64], 1, 14), _bins(["a" * 64, "b" * 64], 2, 10))
    assert "  role bins-* (hash bins): threshold 1 -> 2, 2 keys" in changed and "    + key bbbbbbbbbbbb (?)" in changed
    assert (
        "  role bins-* (hash bins): paths every path, by its hash, into 16384 bins -> every path, by its hash, "
        "into 1024 bins" in changed
    )
