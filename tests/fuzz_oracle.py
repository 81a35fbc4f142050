"""Differential fuzzing of ``ceremony verify`` against python-tuf's ngclient (and tuf-js on a sample).

The property: ceremony never accepts a repository that python-tuf's client
refuses, except in the deliberate, documented cases of ``DOCUMENTED`` (also
in docs/interop.md), and it never raises anything but ``VerificationError``
or ``InputFileError``. Ceremony refusing what python-tuf accepts is allowed
(it is stricter in places, on purpose) and counted.

Three parts:

* the oracle (``python_tuf_verdict``): ``tuf.ngclient.Updater`` over an
  in-memory fetcher serving a ``{file name: bytes}`` dict, bootstrapped
  with the trusted root, with its reference time set to the case's time;
  after ``refresh()`` it loads every delegated role reachable from targets,
  for every role that delegates to it (``Updater._load_targets``), as a
  client looking up every possible target would;
* seeds: the real chains of tests/vectors (laid out as published: with
  consistent snapshots the numbered names a client fetches), and fresh
  repositories built with python-tuf's Metadata API and securesystemslib
  ``CryptoSigner`` keys (ed25519 and ECDSA P-256) that expire far in the
  future;
* structure-aware mutators: on fresh repositories a mutation edits
  ``signed`` before the file is signed, and everything above it (snapshot
  and timestamp meta) is recomputed and re-signed, so the checks behind the
  signatures are reached; on vectors (no private keys) mutations work on
  files, signatures and bytes outside ``signed``.

``scripts/fuzz`` runs many cases and prints a table; tests/test_fuzz_verify.py
runs a fixed seed in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api import exceptions as tuf_exceptions
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Root,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.ngclient import FetcherInterface, Updater

from ceremony import core as cv  # public names, looked up when used: tests import this module on older code too
from ceremony.core._json import canonical_bytes
from ceremony.errors import InputFileError, VerificationError

REPO_ROOT = Path(__file__).resolve().parents[1]
VECTORS = REPO_ROOT / "tests" / "vectors"
TUFJS_DIR = REPO_ROOT / "tests" / "js"
BASE_URL = "https://repository.invalid/metadata/"
FRESH_AT = datetime(2030, 1, 1, tzinfo=UTC)
FRESH_EXPIRES = "2099-01-01T00:00:00Z"
_STRICT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_NUMBERED = re.compile(r"^([0-9]+)\.(.+\.json)$")

# Where ceremony accepts what python-tuf refuses, on purpose (docs/interop.md,
# "Where ceremony verify is looser than python-tuf, on purpose").
DOCUMENTED = {
    "root-only": "no timestamp.json: ceremony verifies the root chain alone and says so in the report",
    "unversioned-name": "consistent snapshots with only role.json kept (a source tree): ceremony reads it in place "
    "of N.role.json, checking its version",
    "loose-date": "expires with fractional seconds or a UTC offset (Sigstore's first roots)",
    "hex-ecdsa": "ECDSA keys as hex points instead of PEM (Sigstore's first roots)",
    "max-root-rotations": "more than 256 root rotations: verified in full, with a warning",
}

# Seeds from tests/vectors: date inside their validity (tests/conftest.py VECTOR_DATES).
VECTOR_DATES = {
    "sigstore-root-signing": "2026-08-25",
    "sigstore-root-signing-legacy": "2024-09-05",
    "sigstore-root-signing-staging": "2026-08-25",
    "jku-tuf-demo": "2026-08-22",
    "dccouncil-law": "2025-07-01",
    "python-tuf-repository_data": "2026-11-28",
}


# --------------------------------------------------------------------------- the oracle


class MemoryFetcher(FetcherInterface):
    """Serves a ``{file name: bytes}`` dict at BASE_URL; anything else is a 404.

    With ``fallback``, ``N.role.json`` (never a root) is served from ``role.json``
    when only that exists: the documented looseness, to classify disagreements.
    """

    def __init__(self, files: dict[str, bytes], fallback: bool = False) -> None:
        self.files = files
        self.fallback = fallback

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = unquote(url.removeprefix(BASE_URL))
        data = self.files.get(name)
        if data is None and self.fallback and (m := _NUMBERED.match(name)) and m.group(2) != "root.json":
            data = self.files.get(m.group(2))
        if data is None:
            raise tuf_exceptions.DownloadHTTPError(f"{name} not found", 404)
        return iter([data])


@dataclass
class Verdict:
    """One verifier's answer on one case."""

    accepted: bool
    reason: str = ""
    error: str = ""  # exception class, "traceback" for ceremony faults
    report: cv.Report | None = None


def _chain(err: BaseException) -> str:
    """An exception and its causes, one line."""
    parts = []
    seen: BaseException | None = err
    while seen is not None and len(parts) < 5:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(parts)[:400]


def _delegated_names(targets: Targets) -> list[str]:
    """Role names a targets role delegates to (succinct bins included)."""
    delegations = targets.delegations
    if delegations is None:
        return []
    if delegations.roles is not None:
        return list(delegations.roles)
    if delegations.succinct_roles is not None:
        return list(delegations.succinct_roles.get_roles())
    return []


def python_tuf_verdict(files: dict[str, bytes], trusted_root: bytes, at: datetime, fallback: bool = False) -> Verdict:
    """python-tuf's ngclient on ``files``: refresh, then every reachable delegated role, at time ``at``."""
    with tempfile.TemporaryDirectory(prefix="ceremony-fuzz-") as cache_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # legacy keytype names in real roots
        try:
            updater = Updater(
                metadata_dir=cache_dir,
                metadata_base_url=BASE_URL,
                target_dir=os.path.join(cache_dir, "targets"),
                fetcher=MemoryFetcher(files, fallback),
                bootstrap=trusted_root,
            )
            # python-tuf reads the clock once, here; the case decides the time.
            updater._trusted_set.reference_time = at
            updater.refresh()
            trusted = updater._trusted_set
            queue, seen, edges = ["targets"], {"targets"}, set()
            while queue:
                parent = queue.pop(0)
                for name in _delegated_names(trusted[parent]):
                    if (parent, name) in edges:
                        continue
                    edges.add((parent, name))
                    updater._load_targets(name, parent)
                    if name not in seen:
                        seen.add(name)
                        queue.append(name)
        except Exception as err:  # noqa: BLE001 - any failure is the client refusing
            return Verdict(False, _chain(err), type(err).__name__)
    return Verdict(True)


def ceremony_verdict(
    files: dict[str, bytes], trusted_root: bytes | None, trusted_name: str | None, at: datetime
) -> Verdict:
    """``verify_files`` on ``files``; anything but VerificationError/InputFileError is a traceback."""
    try:
        report = cv.verify_files(files, trusted_root, at, trusted_name)
    except (VerificationError, InputFileError) as err:
        return Verdict(False, f"{getattr(err, 'file', None)} [{getattr(err, 'check', None)}] {err}", type(err).__name__)
    except Exception:  # noqa: BLE001 - the property under test
        return Verdict(False, traceback.format_exc(limit=6), "traceback")
    return Verdict(True, report=report)


def bootstrap_root(files: dict[str, bytes], trusted_root: bytes | None) -> bytes | None:
    """The root a client starts from: the given one, else the lowest N.root.json, else root.json (as verify)."""
    if trusted_root is not None:
        return trusted_root
    numbered = sorted((int(m.group(1)), n) for n in files if (m := re.match(r"^([1-9][0-9]*)\.root\.json$", n)))
    if numbered:
        return files[numbered[0][1]]
    return files.get("root.json")


# --------------------------------------------------------------------------- fresh repositories


@cache
def keyring() -> tuple[CryptoSigner, ...]:
    """Signers for fresh repositories: ed25519 and ECDSA P-256, made once per process."""
    return tuple(CryptoSigner.generate_ed25519() if i % 2 == 0 else CryptoSigner.generate_ecdsa() for i in range(10))


def _expires() -> datetime:
    return datetime.strptime(FRESH_EXPIRES, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass
class FreshRepo:
    """A repository as signed dicts plus the signers of each file, published by ``publish``."""

    roots: list[dict[str, Any]]
    root_signers: list[list[Signer]]
    roles: dict[str, dict[str, Any]]  # timestamp, snapshot, targets, delegated roles: signed dicts
    signers: dict[str, list[Signer]]
    delegated: list[str]
    consistent: bool
    pin_snapshot: bool
    pin_timestamp: bool
    shape: str


SHAPES = ("plain", "delegations", "nested", "diamond", "succinct")


def build_fresh(
    rng: random.Random,
    *,
    shape: str | None = None,
    consistent: bool | None = None,
    rotation: bool | None = None,
    pin_snapshot: bool | None = None,
    pin_timestamp: bool | None = None,
) -> FreshRepo:
    """A fresh repository through python-tuf's Metadata API; what is not given is drawn from ``rng``."""
    ring = list(keyring())
    rng.shuffle(ring)
    consistent = rng.random() < 0.6 if consistent is None else consistent
    expires = _expires()
    shape = shape or rng.choice(SHAPES)
    root_keys = ring[:3]
    online = {"timestamp": ring[3], "snapshot": ring[4], "targets": ring[5]}
    root = Root(expires=expires, consistent_snapshot=consistent)
    for key in root_keys[:2]:
        root.add_key(key.public_key, "root")
    root.roles["root"].threshold = rng.choice([1, 2])
    for role, signer in online.items():
        root.add_key(signer.public_key, role)
    roots = [root.to_dict()]
    root_signers: list[list[Signer]] = [root_keys[:2]]
    if rng.random() < 0.5 if rotation is None else rotation:  # a rotation: one root key replaced, signed by both
        rotated = Root.from_dict(copy.deepcopy(roots[0]))
        rotated.version = 2
        rotated.revoke_key(root_keys[0].public_key.keyid, "root")
        rotated.add_key(root_keys[2].public_key, "root")
        rotated.roles["root"].threshold = 1
        roots.append(rotated.to_dict())
        root_signers.append(list(root_keys))
    targets = Targets(expires=expires)
    data = b"hello"
    targets.targets["files/hello.txt"] = TargetFile.from_data("files/hello.txt", data, ["sha256"])
    roles: dict[str, dict[str, Any]] = {}
    signers: dict[str, list[Signer]] = {"targets": [online["targets"]]}
    delegated: list[str] = []
    dkeys = ring[6:9]
    if shape in ("delegations", "nested", "diamond"):
        delegations = Delegations(keys={}, roles={})
        targets.delegations = delegations
        a = DelegatedRole("role-a", [], 1, False, paths=["a/*"])
        b = DelegatedRole("role-b", [], 1, True, path_hash_prefixes=["0", "8"])
        delegations.roles = {"role-a": a, "role-b": b}
        targets.add_key(dkeys[0].public_key, "role-a")
        targets.add_key(dkeys[1].public_key, "role-b")
        delegated += ["role-a", "role-b"]
        signers["role-a"], signers["role-b"] = [dkeys[0]], [dkeys[1]]
        role_a = Targets(expires=expires)
        role_a.targets["a/x"] = TargetFile.from_data("a/x", b"x", ["sha256"])
        if shape in ("nested", "diamond"):
            role_a.delegations = Delegations(keys={}, roles={})
            c = DelegatedRole("role-c", [], 1, False, paths=["a/c/*"])
            role_a.delegations.roles = {"role-c": c}  # type: ignore[dict-item]
            role_a.add_key(dkeys[2].public_key, "role-c")
            delegated.append("role-c")
            signers["role-c"] = [dkeys[2]]
            roles["role-c"] = Targets(expires=expires).to_dict()
        if shape == "diamond":  # role-c delegated by role-a and by role-b, with the same key
            role_b = Targets(expires=expires)
            role_b.delegations = Delegations(keys={}, roles={})
            role_b.delegations.roles = {  # type: ignore[assignment]
                "role-c": DelegatedRole("role-c", [], 1, False, paths=["*"])
            }
            role_b.add_key(dkeys[2].public_key, "role-c")
            roles["role-b"] = role_b.to_dict()
        else:
            roles["role-b"] = Targets(expires=expires).to_dict()
        roles["role-a"] = role_a.to_dict()
    elif shape == "succinct":
        bits = rng.choice([1, 2])
        succinct = SuccinctRoles([], 1, bits, "bin")
        targets.delegations = Delegations(keys={}, succinct_roles=succinct)
        targets.add_key(dkeys[0].public_key)
        for name in succinct.get_roles():
            delegated.append(name)
            signers[name] = [dkeys[0]]
            roles[name] = Targets(expires=expires).to_dict()
    roles["targets"] = targets.to_dict()
    roles["snapshot"] = Snapshot(expires=expires).to_dict()
    roles["timestamp"] = Timestamp(expires=expires).to_dict()
    signers["snapshot"], signers["timestamp"] = [online["snapshot"]], [online["timestamp"]]
    return FreshRepo(
        roots=roots,
        root_signers=root_signers,
        roles=roles,
        signers=signers,
        delegated=delegated,
        consistent=consistent,
        pin_snapshot=rng.random() < 0.5 if pin_snapshot is None else pin_snapshot,
        pin_timestamp=rng.random() < 0.5 if pin_timestamp is None else pin_timestamp,
        shape=shape,
    )


Hook = Callable[[dict[str, Any]], None]


@dataclass
class Mutation:
    """What a mutator changes: ``signed`` of a file before signing, its envelope after, or the files."""

    name: str
    signed: dict[str, Hook] = field(default_factory=dict)  # "root:N", "timestamp", "snapshot", role names
    envelope: dict[str, Hook] = field(default_factory=dict)
    files: Callable[[dict[str, bytes]], None] | None = None
    disk: str | None = None  # an entry kind for the directory mode: symlink-loop, dangling, directory, fifo


def _dump(doc: dict[str, Any], indent: int | None = 1) -> bytes:
    return json.dumps(doc, indent=indent, ensure_ascii=False).encode()


def _sign_doc(signed: dict[str, Any], signers: list[Signer]) -> dict[str, Any]:
    payload = canonical_bytes(signed)
    return {"signed": signed, "signatures": [s.sign(payload).to_dict() for s in signers]}


def _meta_entry(signed: dict[str, Any], data: bytes, pin: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"version": signed.get("version")}
    if pin:
        entry["length"] = len(data)
        entry["hashes"] = {"sha256": hashlib.sha256(data).hexdigest()}
    return entry


def publish(repo: FreshRepo, mutation: Mutation) -> dict[str, bytes]:
    """Sign and lay out ``repo`` with ``mutation`` applied; meta above a changed file is recomputed."""
    repo = copy.deepcopy(repo)
    files: dict[str, bytes] = {}

    def sign(key: str, signed: dict[str, Any], signers: list[Signer]) -> bytes:
        if key in mutation.signed:
            mutation.signed[key](signed)
        doc = _sign_doc(signed, signers)
        if key in mutation.envelope:
            mutation.envelope[key](doc)
        return _dump(doc)

    for i, root in enumerate(repo.roots):
        files[f"{i + 1}.root.json"] = sign(f"root:{i + 1}", root, repo.root_signers[i])
    files["root.json"] = files[f"{len(repo.roots)}.root.json"]

    def name_of(role: str, version: object) -> str:
        return f"{version}.{role}.json" if repo.consistent else f"{role}.json"

    meta: dict[str, Any] = {}
    for role in ["targets", *repo.delegated]:
        signed = repo.roles[role]
        data = sign(role, signed, repo.signers[role])
        files[name_of(role, signed.get("version"))] = data
        meta[f"{role}.json"] = _meta_entry(signed, data, repo.pin_snapshot)
    snapshot = repo.roles["snapshot"]
    snapshot["meta"] = meta
    data = sign("snapshot", snapshot, repo.signers["snapshot"])
    files[name_of("snapshot", snapshot.get("version"))] = data
    timestamp = repo.roles["timestamp"]
    timestamp["meta"] = {"snapshot.json": _meta_entry(snapshot, data, repo.pin_timestamp)}
    files["timestamp.json"] = sign("timestamp", timestamp, repo.signers["timestamp"])
    if mutation.files:
        mutation.files(files)
    return files


# --------------------------------------------------------------------------- mutators


@dataclass
class Ctx:
    """What a mutator may look at."""

    rng: random.Random
    repo: FreshRepo | None  # None for vectors (no private keys)
    files: dict[str, bytes]  # the unmutated files

    def role_keys(self) -> list[str]:
        """Hook keys of every signed file of a fresh repository."""
        assert self.repo is not None
        return [f"root:{i + 1}" for i in range(len(self.repo.roots))] + [
            "timestamp",
            "snapshot",
            "targets",
            *self.repo.delegated,
        ]

    def delegators(self) -> list[str]:
        """Targets roles of a fresh repository that delegate."""
        assert self.repo is not None
        return [r for r in ["targets", *self.repo.delegated] if "delegations" in self.repo.roles[r]]


def _set(path: list[Any], value: Any) -> Hook:
    """A hook setting signed[path...] = value (a missing value deletes)."""

    def hook(signed: dict[str, Any]) -> None:
        target: Any = signed
        for step in path[:-1]:
            target = target[step]
        if value is _DELETE:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = copy.deepcopy(value)

    return hook


_DELETE = object()

SPEC_VERSIONS = [
    "1.0",
    "1.0.31",
    "1.2.3",
    "2.0",
    "0.9",
    "1",
    "1.0.0.0",
    "1.x",
    "01.0",
    "1.0.",
    "１.0",
    "1.²",
    1,
    None,
    "",
]
EXPIRES = [
    "2099-01-01T00:00:00+00:00",
    "2099-01-01T00:00:00.5Z",
    "2099-01-01T00:00:00.123456789-06:00",
    "2099-01-01t00:00:00z",
    "2099-01-01 00:00:00Z",
    "2099-01-01T00:00:00",
    "2099-01-01T00:00:00+24:00",
    "2099-01-01T00:00:00+99:99",
    "2099-01-01T00:00:00-23:59",
    "2099-01-01T00:00:00+05:60",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "2099-02-30T00:00:00Z",
    "2099-1-1T0:0:0Z",
    "2029-12-31T23:59:59Z",
    "2030-01-01T00:00:00Z",
    "2030-01-01T00:00:01Z",
    "",
    20990101,
    None,
]
BAD_INTS: list[Any] = [0, -1, True, False, "1", None, 10**39, 10**40, [1], 2]
THRESHOLDS: list[Any] = [0, -1, True, "1", None, 10**20, 3, 1, 2]


def m_spec_version(ctx: Ctx) -> Mutation:
    value = ctx.rng.choice(SPEC_VERSIONS)
    return Mutation("spec_version", signed={ctx.rng.choice(ctx.role_keys()): _set(["spec_version"], value)})


def m_type(ctx: Ctx) -> Mutation:
    value = ctx.rng.choice(["Root", "ROOT", "Targets", "timestamp ", "root", "targets", "snapshot", "timestamp", 1])
    return Mutation("type", signed={ctx.rng.choice(ctx.role_keys()): _set(["_type"], value)})


def m_expires(ctx: Ctx) -> Mutation:
    value = ctx.rng.choice(EXPIRES)
    return Mutation("expires", signed={ctx.rng.choice(ctx.role_keys()): _set(["expires"], value)})


def m_version(ctx: Ctx) -> Mutation:
    key = ctx.rng.choice(ctx.role_keys())
    value = ctx.rng.choice(BAD_INTS)
    if value is None:
        value = _DELETE
    return Mutation("version", signed={key: _set(["version"], value)})


def m_meta(ctx: Ctx) -> Mutation:
    """Edit a meta entry of snapshot or timestamp after it was computed, then sign it."""
    rng = ctx.rng
    assert ctx.repo is not None
    where = rng.choice(["snapshot", "timestamp"])
    names = ["snapshot.json"] if where == "timestamp" else [f"{r}.json" for r in ["targets", *ctx.repo.delegated]]
    entry_name = rng.choice(names)
    field_name = rng.choice(["version", "length", "hashes", "entry"])

    def hook(signed: dict[str, Any]) -> None:
        entry = signed["meta"][entry_name]
        if field_name == "version":
            value = rng.choice(BAD_INTS)
            if value is None:
                entry.pop("version")
            else:
                entry["version"] = value if value != 2 else entry["version"] + 1
        elif field_name == "length":
            length = entry.get("length", 100)
            entry["length"] = rng.choice([length + 1, length - 1, -1, 0, None, "5", 10**30, True, length])
            if rng.random() < 0.2:
                entry.pop("length")
        elif field_name == "hashes":
            choice = rng.choice(["empty", "null", "unknown", "shake", "extra-good", "upper", "int", "wrong", "drop"])
            hashes = entry.get("hashes", {"sha256": "00" * 32})
            if choice == "empty":
                entry["hashes"] = {}
            elif choice == "null":
                entry["hashes"] = None
            elif choice == "unknown":
                entry["hashes"] = {**hashes, rng.choice(["sha3", "whirlpool-x", "", "md4x"]): "00"}
            elif choice == "shake":
                entry["hashes"] = {**hashes, rng.choice(["shake_128", "shake_256"]): "00"}
            elif choice == "extra-good":
                algo = rng.choice(["sha512", "blake2b-256", "SHA256", "md5", "sha3_256", "blake2b"])
                entry["hashes"] = {**hashes, algo: "ff"}  # a wrong value; the file's bytes are not known here
            elif choice == "upper":
                entry["hashes"] = {k: v.upper() for k, v in hashes.items()}
            elif choice == "int":
                entry["hashes"] = {"sha256": 5}
            elif choice == "wrong":
                entry["hashes"] = {"sha256": "ab" * 32}
            else:
                entry.pop("hashes", None)
        else:
            choice = rng.choice(["drop", "extra", "not-object", "unknown-field"])
            if choice == "drop":
                signed["meta"].pop(entry_name)
            elif choice == "extra":
                signed["meta"]["extra.json"] = {"version": 1}
            elif choice == "not-object":
                signed["meta"][entry_name] = [entry]
            else:
                entry["x-custom"] = {"a": 1}

    return Mutation(f"meta-{field_name}", signed={where: hook})


def m_threshold(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    value = rng.choice(THRESHOLDS)
    if rng.random() < 0.5 or not ctx.delegators():
        key = rng.choice([k for k in ctx.role_keys() if k.startswith("root:")])
        role = rng.choice(["root", "timestamp", "snapshot", "targets"])
        return Mutation("threshold", signed={key: _set(["roles", role, "threshold"], value)})
    parent = rng.choice(ctx.delegators())

    def hook(signed: dict[str, Any]) -> None:
        d = signed["delegations"]
        target = d["succinct_roles"] if "succinct_roles" in d else rng.choice(d["roles"])
        target["threshold"] = value

    return Mutation("threshold", signed={parent: hook})


def _keyid_edit(rng: random.Random, role_dict: dict[str, Any], keys: dict[str, Any]) -> None:
    choice = rng.choice(["duplicate", "unknown", "empty", "not-list", "other", "int"])
    keyids = role_dict["keyids"]
    if choice == "duplicate" and keyids:
        role_dict["keyids"] = [*keyids, keyids[0]]
    elif choice == "unknown":
        role_dict["keyids"] = [*keyids, "f" * 64]
    elif choice == "empty":
        role_dict["keyids"] = []
    elif choice == "not-list":
        role_dict["keyids"] = keyids[0] if keyids else "abc"
    elif choice == "int":
        role_dict["keyids"] = [1]
    else:
        role_dict["keyids"] = [rng.choice(list(keys))] if keys else []


def m_keyids(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    if rng.random() < 0.5 or not ctx.delegators():
        key = rng.choice([k for k in ctx.role_keys() if k.startswith("root:")])
        role = rng.choice(["root", "timestamp", "snapshot", "targets"])

        def root_hook(signed: dict[str, Any]) -> None:
            _keyid_edit(rng, signed["roles"][role], signed["keys"])

        return Mutation("keyids", signed={key: root_hook})
    parent = rng.choice(ctx.delegators())

    def hook(signed: dict[str, Any]) -> None:
        d = signed["delegations"]
        target = d["succinct_roles"] if "succinct_roles" in d else rng.choice(d["roles"])
        _keyid_edit(rng, target, d["keys"])

    return Mutation("keyids", signed={parent: hook})


def _key_edit(rng: random.Random, keys: dict[str, Any]) -> None:
    choice = rng.choice(
        [
            "keytype",
            "scheme",
            "mismatch",
            "no-keyval",
            "public-int",
            "no-public",
            "pem-ed25519",
            "hex-ecdsa",
            "legacy-keytype",
            "extra-field",
            "unused-bad",
            "unused-good",
            "not-object",
            "keys-not-object",
        ]
    )
    keyid = rng.choice(list(keys)) if keys else None
    key = keys.get(keyid) if keyid else None
    if choice == "unused-bad":
        keys["e" * 64] = {"keytype": rng.choice(["foo", "ecdsa", "rsa"]), "scheme": "bar", "keyval": {"public": "x"}}
    elif choice == "unused-good":
        keys["e" * 64] = keyring()[9].public_key.to_dict()
    elif key is None:
        return
    elif choice == "keytype":
        key["keytype"] = rng.choice(["ed448", "ECDSA", "", 5])
    elif choice == "scheme":
        key["scheme"] = rng.choice(["ed448", "ecdsa-sha2-nistp999", "rsassa-pss-sha1", None])
    elif choice == "mismatch":
        key["scheme"] = {"ed25519": "ecdsa-sha2-nistp256", "ecdsa": "ecdsa-sha2-nistp384"}.get(
            key["keytype"], "ed25519"
        )
        if key["scheme"] == "ed25519":
            key["keytype"] = "ed25519"
    elif choice == "no-keyval":
        key.pop("keyval")
    elif choice == "public-int":
        key["keyval"]["public"] = 5
    elif choice == "no-public":
        key["keyval"] = {}
    elif choice == "pem-ed25519" and key["keytype"] == "ed25519":
        key["keyval"]["public"] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    elif choice == "hex-ecdsa" and key["keytype"] == "ecdsa":
        from cryptography.hazmat.primitives import serialization

        point = serialization.load_pem_public_key(key["keyval"]["public"].encode())
        raw = point.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        key["keyval"]["public"] = raw.hex()
    elif choice == "legacy-keytype" and key["keytype"] == "ecdsa":
        key["keytype"] = "ecdsa-sha2-nistp256"
    elif choice == "extra-field":
        key["x-owner"] = "someone"
    elif choice == "not-object":
        keys[keyid] = [key]  # type: ignore[index]
    elif choice == "keys-not-object":
        keys.clear()
        keys["x"] = "y"


def m_key(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    if rng.random() < 0.6 or not ctx.delegators():
        key = rng.choice([k for k in ctx.role_keys() if k.startswith("root:")])
        return Mutation("key", signed={key: lambda s: _key_edit(rng, s["keys"])})
    parent = rng.choice(ctx.delegators())
    return Mutation("key", signed={parent: lambda s: _key_edit(rng, s["delegations"]["keys"])})


def m_root_roles(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    key = rng.choice([k for k in ctx.role_keys() if k.startswith("root:")])
    choice = rng.choice(["extra", "missing", "not-object", "roles-list", "consistent"])

    def hook(signed: dict[str, Any]) -> None:
        roles = signed["roles"]
        if choice == "extra":
            roles[rng.choice(["mirror", "Root", "role-a", ""])] = copy.deepcopy(roles["targets"])
        elif choice == "missing":
            roles.pop(rng.choice(list(roles)))
        elif choice == "not-object":
            roles[rng.choice(list(roles))] = rng.choice([[], "x", None])
        elif choice == "roles-list":
            signed["roles"] = list(roles.values())
        else:
            signed["consistent_snapshot"] = rng.choice([None, "yes", 1, 0, not signed.get("consistent_snapshot")])

    return Mutation(f"root-{choice}", signed={key: hook})


def m_delegation(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    if not ctx.delegators():
        return m_spec_version(ctx)
    parent = rng.choice(ctx.delegators())
    choice = rng.choice(
        [
            "top-level-name",
            "empty-name",
            "duplicate-name",
            "rename",
            "both-paths",
            "no-paths",
            "paths-null",
            "paths-not-list",
            "path-int",
            "both-roles",
            "no-roles",
            "roles-null",
            "roles-dict",
            "terminating",
            "delegations-null",
            "no-keys",
            "bit-length",
            "name-prefix",
            "drop-role",
        ]
    )

    def hook(signed: dict[str, Any]) -> None:
        d = signed["delegations"]
        roles = d.get("roles")
        if choice == "delegations-null":
            signed["delegations"] = None
        elif choice == "no-keys":
            d.pop("keys")
        elif choice == "both-roles":
            if roles is None:
                d["roles"] = []
            else:
                d["succinct_roles"] = {"keyids": [], "threshold": 1, "bit_length": 1, "name_prefix": "bin"}
        elif choice == "no-roles":
            d.pop("roles", None)
            d.pop("succinct_roles", None)
        elif choice == "roles-null":
            d["roles" if roles is not None else "succinct_roles"] = None
        elif roles is None:  # succinct
            succinct = d["succinct_roles"]
            if choice == "bit-length":
                succinct["bit_length"] = rng.choice([0, 33, 17, "2", True, 3, -1])
            elif choice == "name-prefix":
                succinct["name_prefix"] = rng.choice([None, 5, "other"])
            else:
                succinct.pop("name_prefix")
        else:
            role = rng.choice(roles)
            if choice == "top-level-name":
                role["name"] = rng.choice(["root", "targets", "snapshot", "timestamp"])
            elif choice == "empty-name":
                role["name"] = rng.choice(["", None, 5])
            elif choice == "duplicate-name":
                roles.append(copy.deepcopy(role))
            elif choice == "rename":
                role["name"] = rng.choice(["role-z", "Role-A", "a/b", "..", "x\u202ey", "\x1b[2J"])
            elif choice == "both-paths":
                role["paths"], role["path_hash_prefixes"] = ["*"], ["0"]
            elif choice == "no-paths":
                role.pop("paths", None)
                role.pop("path_hash_prefixes", None)
            elif choice == "paths-null":
                key = "paths" if "paths" in role else "path_hash_prefixes"
                role[key] = None
            elif choice == "paths-not-list":
                key = "paths" if "paths" in role else "path_hash_prefixes"
                role[key] = "a/*"
            elif choice == "path-int":
                key = "paths" if "paths" in role else "path_hash_prefixes"
                role[key] = [1]
            elif choice == "terminating":
                value = rng.choice([_DELETE, "yes", 1, None])
                if value is _DELETE:
                    role.pop("terminating")
                else:
                    role["terminating"] = value
            elif choice == "roles-dict":
                d["roles"] = {r["name"]: r for r in roles}
            else:
                roles.remove(role)

    return Mutation(f"delegation-{choice}", signed={parent: hook})


def m_target_entry(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    assert ctx.repo is not None
    role = rng.choice(["targets", *ctx.repo.delegated])
    choice = rng.choice(["length-neg", "length-str", "no-length", "no-hashes", "empty-hashes", "hash-int", "not-obj"])

    def hook(signed: dict[str, Any]) -> None:
        entry = {"length": 5, "hashes": {"sha256": "ab" * 32}}
        if choice == "length-neg":
            entry["length"] = -1
        elif choice == "length-str":
            entry["length"] = "5"  # type: ignore[assignment]
        elif choice == "no-length":
            entry.pop("length")
        elif choice == "no-hashes":
            entry.pop("hashes")
        elif choice == "empty-hashes":
            entry["hashes"] = {}
        elif choice == "hash-int":
            entry["hashes"] = {"sha256": 5}  # type: ignore[dict-item]
        else:
            entry = [entry]  # type: ignore[assignment]
        if rng.random() < 0.2:
            signed["targets"] = rng.choice([[], None, "x"])
        else:
            signed["targets"]["files/bad"] = entry

    return Mutation(f"target-{choice}", signed={role: hook})


def m_signatures(ctx: Ctx) -> Mutation:
    """Edit the signatures list of one file (after signing; works on vectors too)."""
    rng = ctx.rng
    choice = rng.choice(["drop", "blank", "non-hex", "duplicate", "foreign", "no-sig", "keyid-int", "not-list"])

    def edit(doc: dict[str, Any]) -> None:
        sigs = doc["signatures"]
        if not sigs:
            return
        i = rng.randrange(len(sigs))
        if choice == "drop":
            sigs.pop(i)
        elif choice == "blank":
            sigs[i]["sig"] = ""
        elif choice == "non-hex":
            sigs[i]["sig"] = rng.choice(["zz", "abc", sigs[i]["sig"] + "0"])
        elif choice == "duplicate":
            sigs.append(dict(sigs[i]))
        elif choice == "foreign":
            signer = keyring()[9]
            sigs.append(signer.sign(canonical_bytes(doc["signed"])).to_dict())
        elif choice == "no-sig":
            sigs[i].pop("sig")
        elif choice == "keyid-int":
            sigs[i]["keyid"] = 5
        else:
            doc["signatures"] = {"x": sigs}

    if ctx.repo is not None:
        return Mutation(f"signatures-{choice}", envelope={rng.choice(ctx.role_keys()): edit})
    name = rng.choice(sorted(ctx.files))

    def on_files(files: dict[str, bytes]) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
            doc = json.loads(files[name])
            edit(doc)
            files[name] = _dump(doc)

    return Mutation(f"signatures-{choice}", files=on_files)


def m_rotation(ctx: Ctx) -> Mutation:
    """Root N+1 signed without the old root's keys, or by the old keys only."""
    rng = ctx.rng
    assert ctx.repo is not None
    if len(ctx.repo.roots) < 2:
        return m_threshold(ctx)
    choice = rng.choice(["new-only", "old-only"])
    old = {s.public_key.keyid for s in ctx.repo.root_signers[0]}
    new_keyids = set(ctx.repo.roots[1]["roles"]["root"]["keyids"])

    def edit(doc: dict[str, Any]) -> None:
        keep = new_keyids - old if choice == "new-only" else old - new_keyids
        doc["signatures"] = [s for s in doc["signatures"] if s["keyid"] in keep]

    return Mutation(f"rotation-{choice}", envelope={"root:2": edit})


def m_size(ctx: Ctx) -> Mutation:
    """Pad a file near its size limit, inside signed (re-signed) or outside it (signatures kept)."""
    rng = ctx.rng
    candidates = sorted(n for n in ctx.files if n.endswith(".json"))
    weights = {"root": 6, "timestamp": 8, "snapshot": 3, "targets": 1}
    name = rng.choice(candidates)
    role = (
        "root"
        if "root" in name
        else "timestamp"
        if "timestamp" in name
        else "snapshot"
        if "snapshot" in name
        else "targets"
    )
    if rng.random() * 10 > weights[role]:
        name, role = "timestamp.json", "timestamp"
    limit = getattr(cv.SizeLimits(), role)
    target = limit + rng.choice([-50, 1, 100, 5000])
    inside = ctx.repo is not None and rng.random() < 0.5

    def pad_to(doc: dict[str, Any], container: dict[str, Any]) -> None:
        container["x-pad"] = ""
        base = len(_dump(doc))
        container["x-pad"] = "A" * max(0, target - base)

    if inside:
        key = name_to_key(ctx, name)

        def signed_hook(signed: dict[str, Any]) -> None:
            pad_to({"signed": signed, "signatures": [{"keyid": "0" * 64, "sig": "0" * 128}]}, signed)

        return Mutation(f"size-{role}", signed={key: signed_hook})

    def on_files(files: dict[str, bytes]) -> None:
        if name not in files:
            return
        doc = json.loads(files[name])
        pad_to(doc, doc)
        files[name] = _dump(doc)

    return Mutation(f"size-{role}", files=on_files)


def name_to_key(ctx: Ctx, name: str) -> str:
    """The hook key of a fresh repository's file name."""
    if m := re.match(r"^([0-9]+)\.root\.json$", name):
        return f"root:{m.group(1)}"
    if name == "root.json":
        assert ctx.repo is not None
        return f"root:{len(ctx.repo.roots)}"
    role = _NUMBERED.match(name).group(2) if _NUMBERED.match(name) else name  # type: ignore[union-attr]
    return role.removesuffix(".json")


def m_nesting(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    depth = rng.choice([50, 400, 990, 3000, 100000])
    inside = ctx.repo is not None and rng.random() < 0.5
    if inside:
        return (
            Mutation("nesting", signed={rng.choice(ctx.role_keys()): _set(["x-deep"], json.loads("[" * 50 + "]" * 50))})
            if depth < 900
            else _raw_nesting(ctx, depth)
        )
    return _raw_nesting(ctx, depth)


def _raw_nesting(ctx: Ctx, depth: int) -> Mutation:
    name = ctx.rng.choice(sorted(ctx.files))

    def on_files(files: dict[str, bytes]) -> None:
        data = files.get(name, b"{}")
        pos = data.rfind(b"}")
        files[name] = data[:pos] + b', "x-deep": ' + b"[" * depth + b"]" * depth + data[pos:]

    return Mutation("nesting", files=on_files)


def m_huge_int(ctx: Ctx) -> Mutation:
    rng = ctx.rng
    digits = rng.choice([39, 40, 41, 5000])
    text = "1" + "0" * (digits - 1)
    if ctx.repo is not None and digits < 1000 and rng.random() < 0.7:
        key = rng.choice(ctx.role_keys())
        return Mutation("huge-int", signed={key: _set([rng.choice(["version", "x-big"])], int(text))})
    name = rng.choice(sorted(ctx.files))

    def on_files(files: dict[str, bytes]) -> None:
        data = files.get(name, b"{}")
        pos = data.rfind(b"}")
        files[name] = data[:pos] + b', "x-big": ' + text.encode() + data[pos:]

    return Mutation("huge-int", files=on_files)


def m_files(ctx: Ctx) -> Mutation:
    """Drop, rename, duplicate or swap whole files."""
    rng = ctx.rng
    names = sorted(ctx.files)
    choice = rng.choice(["drop", "rename", "duplicate", "swap-roots", "numbered", "unnumbered", "gap"])

    def on_files(files: dict[str, bytes]) -> None:
        name = rng.choice(names)
        if choice == "drop":
            files.pop(name, None)
        elif choice == "rename":
            other = rng.choice(names)
            files[other] = files.pop(name)
        elif choice == "duplicate":
            files[rng.choice(names)] = files[name]
        elif choice == "swap-roots":
            roots = [n for n in names if re.match(r"^[0-9]+\.root\.json$", n)]
            if len(roots) >= 2:
                a, b = rng.sample(roots, 2)
                files[a], files[b] = files[b], files[a]
        elif choice == "numbered":  # role.json -> N.role.json or another number
            m = _NUMBERED.match(name)
            if m and "root" not in name:
                files[f"{int(m.group(1)) + rng.choice([1, -1])}.{m.group(2)}"] = files.pop(name)
            elif not m and name not in ("root.json", "timestamp.json"):
                files[f"1.{name}"] = files[name]
        elif choice == "unnumbered":  # N.role.json -> role.json
            m = _NUMBERED.match(name)
            if m and "root" not in name:
                files[m.group(2)] = files.pop(name)
        else:
            roots = sorted(int(n.split(".")[0]) for n in names if re.match(r"^[0-9]+\.root\.json$", n))
            if len(roots) >= 2:
                files.pop(f"{rng.choice(roots[:-1])}.root.json", None)

    return Mutation(f"files-{choice}", files=on_files)


def m_bytes(ctx: Ctx) -> Mutation:
    """Change bytes: one character, a truncation, another indentation (harmless), invalid UTF-8."""
    rng = ctx.rng
    name = rng.choice(sorted(ctx.files))
    choice = rng.choice(["flip", "truncate", "reindent", "utf8", "bom", "empty"])

    def on_files(files: dict[str, bytes]) -> None:
        data = files.get(name)
        if data is None:
            return
        if choice == "flip" and data:
            i = rng.randrange(len(data))
            files[name] = data[:i] + bytes([rng.choice(b'0123456789abcdef"{}[],: ')]) + data[i + 1 :]
        elif choice == "truncate":
            files[name] = data[: rng.randrange(len(data) + 1)]
        elif choice == "reindent":
            with contextlib.suppress(ValueError):
                files[name] = _dump(json.loads(data), rng.choice([None, 2, 7]))
        elif choice == "utf8":
            files[name] = data[:-1] + b"\xff" + data[-1:]
        elif choice == "bom":
            files[name] = b"\xef\xbb\xbf" + data
        else:
            files[name] = b""

    return Mutation(f"bytes-{choice}", files=on_files)


def m_unicode_role(ctx: Ctx) -> Mutation:
    """A delegated role with an odd but valid name, listed in the snapshot and present: both should accept."""
    rng = ctx.rng
    assert ctx.repo is not None
    if "role-a" not in ctx.repo.delegated:
        return m_files(ctx)
    new = rng.choice(["rôle-ä", "x y", "a%2Fb", "café.json", "e\u0301"])
    return Mutation("unicode-role", signed={"targets": _rename_role("role-a", new)}, files=_rename_file("role-a", new))


def _rename_role(old: str, new: str) -> Hook:
    def hook(signed: dict[str, Any]) -> None:
        for role in signed["delegations"]["roles"]:
            if role["name"] == old:
                role["name"] = new

    return hook


def _rename_file(old: str, new: str) -> Callable[[dict[str, bytes]], None]:
    def on_files(files: dict[str, bytes]) -> None:
        for name in list(files):
            m = _NUMBERED.match(name)
            if name == f"{old}.json" or (m and m.group(2) == f"{old}.json"):
                prefix = f"{m.group(1)}." if m and name != f"{old}.json" else ""
                files[f"{prefix}{new}.json"] = files.pop(name)

    return on_files


def m_disk(ctx: Ctx) -> Mutation:
    """Directory mode: one metadata name becomes a link loop, a dangling link, a directory or a FIFO."""
    kind = ctx.rng.choice(["symlink-loop", "dangling", "directory", "fifo", "symlink-file", "extra-entry"])
    return Mutation(f"disk-{kind}", disk=kind)


FRESH_MUTATORS: list[tuple[Callable[[Ctx], Mutation], int]] = [
    (m_spec_version, 3),
    (m_type, 3),
    (m_expires, 4),
    (m_version, 3),
    (m_meta, 8),
    (m_threshold, 3),
    (m_keyids, 3),
    (m_key, 5),
    (m_root_roles, 3),
    (m_delegation, 8),
    (m_target_entry, 3),
    (m_signatures, 4),
    (m_rotation, 2),
    (m_size, 3),
    (m_nesting, 1),
    (m_huge_int, 1),
    (m_files, 6),
    (m_bytes, 3),
    (m_unicode_role, 1),
    (m_disk, 2),
]
VECTOR_MUTATORS: list[tuple[Callable[[Ctx], Mutation], int]] = [
    (m_signatures, 3),
    (m_size, 2),
    (m_nesting, 1),
    (m_huge_int, 1),
    (m_files, 6),
    (m_bytes, 4),
]


# --------------------------------------------------------------------------- seeds and cases


def _load_vector(name: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((VECTORS / name).glob("*.json"))}


def published_layout(files: dict[str, bytes]) -> dict[str, bytes]:
    """With consistent snapshots, give snapshot, targets and delegated roles the numbered names a client fetches."""
    files = dict(files)
    root = json.loads(files["root.json"])["signed"]
    if not root.get("consistent_snapshot"):
        return files
    timestamp = json.loads(files["timestamp.json"])["signed"]
    wanted = {"snapshot.json": timestamp["meta"]["snapshot.json"]["version"]}
    snapshot_name = f"{wanted['snapshot.json']}.snapshot.json"
    if snapshot_name not in files:
        files[snapshot_name] = files.pop("snapshot.json")
    for entry, meta in json.loads(files[snapshot_name])["signed"]["meta"].items():
        numbered = f"{meta['version']}.{entry}"
        if numbered not in files and entry in files:
            files[numbered] = files.pop(entry)
    return files


@cache
def vector_seed(name: str) -> tuple[dict[str, bytes], str, datetime]:
    """A vector in its published layout, the lowest root python-tuf bootstraps from, and its date."""
    files = published_layout(_load_vector(name))
    at = cv.parse_at(VECTOR_DATES[name])
    roots = sorted(int(n.split(".")[0]) for n in files if re.match(r"^[0-9]+\.root\.json$", n))
    for version in roots:
        trusted = f"{version}.root.json"
        if python_tuf_verdict(files, files[trusted], at).accepted:
            return files, trusted, at
    raise AssertionError(f"python-tuf accepts no trusted root of {name}")


@dataclass
class Case:
    """One generated repository."""

    index: int
    seed: str
    mutation: str
    files: dict[str, bytes]
    trusted_root: bytes | None
    trusted_name: str | None
    at: datetime
    disk: str | None = None


def _pick(rng: random.Random, table: list[tuple[Callable[[Ctx], Mutation], int]]) -> Callable[[Ctx], Mutation]:
    return rng.choices([m for m, _ in table], weights=[w for _, w in table])[0]


@cache
def _fresh_base(shape_seed: int) -> FreshRepo:
    return build_fresh(random.Random(shape_seed))


def make_case(index: int, seed: int, vector_share: float = 0.25) -> Case:
    """Case ``index`` of run ``seed``: deterministic given both (keys aside)."""
    rng = random.Random(f"{seed}:{index}")
    if rng.random() < vector_share:
        name = rng.choice(sorted(VECTOR_DATES))
        files, trusted, at = vector_seed(name)
        ctx = Ctx(rng, None, files)
        mutation = _pick(rng, VECTOR_MUTATORS)(ctx) if rng.random() < 0.95 else Mutation("none")
        mutated = dict(files)
        if mutation.files:
            mutation.files(mutated)
        # The trusted root is the client's own copy: mutations of the directory do not reach it.
        return Case(index, name, mutation.name, mutated, files[trusted], trusted, at)
    repo = _fresh_base(rng.randrange(40))
    clean = publish(repo, Mutation("none"))
    ctx = Ctx(rng, repo, clean)
    mutation = _pick(rng, FRESH_MUTATORS)(ctx) if rng.random() < 0.95 else Mutation("none")
    files = publish(repo, mutation)
    return Case(index, f"fresh-{repo.shape}", mutation.name, files, None, None, FRESH_AT, mutation.disk)


# --------------------------------------------------------------------------- judging


@dataclass
class Outcome:
    """One case judged."""

    case: Case
    ceremony: Verdict
    python_tuf: Verdict
    kind: str  # "agree-accept", "agree-reject", "stricter", "documented:<name>", "disagree", "traceback"
    seconds: float = 0.0


def documented_exception(case: Case, ours: Verdict, theirs: Verdict) -> str | None:
    """The documented looseness that explains ceremony accepting what python-tuf refused, if any."""
    report = ours.report
    assert report is not None
    if any(s.startswith("timestamp.json not present") for s in report.skipped):
        return "root-only"
    if report.warnings:
        return "max-root-rotations"
    bootstrap = bootstrap_root(case.files, case.trusted_root)
    if bootstrap is not None and python_tuf_verdict(case.files, bootstrap, case.at, fallback=True).accepted:
        return "unversioned-name"
    if "does not match format" in theirs.reason or "unconverted data remains" in theirs.reason:
        loose = False
        for data in case.files.values():
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                expires = json.loads(data)["signed"]["expires"]
                loose = loose or (isinstance(expires, str) and not _STRICT_DATE.match(expires))
        if loose:
            return "loose-date"
    if "UnsignedMetadataError" in theirs.reason and _has_hex_ecdsa(case.files):
        return "hex-ecdsa"
    return None


def _has_hex_ecdsa(files: dict[str, bytes]) -> bool:
    for data in files.values():
        with contextlib.suppress(ValueError, AttributeError, TypeError, KeyError):
            signed = json.loads(data)["signed"]
            keys = dict(signed.get("keys") or {})
            keys.update((signed.get("delegations") or {}).get("keys") or {})
            for key in keys.values():
                public = key["keyval"]["public"]
                if "ecdsa" in key["scheme"] and isinstance(public, str) and not public.startswith("-----BEGIN"):
                    return True
    return False


def _disk_verdict(case: Case) -> Verdict:
    """Directory mode: write the files, replace one by a special entry, run verify_directory and read_client_files."""
    with tempfile.TemporaryDirectory(prefix="ceremony-fuzz-dir-") as tmp:
        directory = Path(tmp) / "metadata"
        directory.mkdir()
        for name, data in case.files.items():
            if "/" not in name:
                (directory / name).write_bytes(data)
        rng = random.Random(case.index)
        victim = rng.choice(sorted(n for n in case.files if "/" not in n))
        path = directory / victim
        special = case.disk
        if special == "extra-entry":
            (directory / "SOURCE.txt").write_text("x")
        elif special == "symlink-file":
            path.unlink()
            (directory / "elsewhere.bin").write_bytes(case.files[victim])
            path.symlink_to("elsewhere.bin")
        else:
            path.unlink()
            if special == "symlink-loop":
                path.symlink_to(victim)
            elif special == "dangling":
                path.symlink_to("nowhere.json.missing")
            elif special == "directory":
                path.mkdir()
            else:
                os.mkfifo(path)
        results = []
        for call in (
            lambda: cv.verify_directory(directory, None, case.at),
            lambda: cv.read_client_files(directory),
        ):
            try:
                call()
                results.append("accepted")
            except (VerificationError, InputFileError) as err:
                results.append(f"refused: {err}")
            except Exception:  # noqa: BLE001 - the property under test
                return Verdict(False, traceback.format_exc(limit=6), "traceback")
        verdict, client = results
        if special in ("symlink-loop", "dangling", "directory", "fifo") and (
            verdict == "accepted" or victim not in verdict
        ):
            return Verdict(True, f"verify_directory did not refuse the {special} {victim}: {verdict}", "disagree")
        if special in ("symlink-loop", "dangling", "directory", "fifo", "symlink-file", "extra-entry") and (
            client == "accepted"
        ):
            return Verdict(True, f"read_client_files did not refuse the {special} {victim}", "disagree")
        return Verdict(False, f"{verdict} / {client}", "InputFileError")


def judge(case: Case) -> Outcome:
    """Run both verifiers on ``case`` and classify the result."""
    start = time.perf_counter()
    if case.disk:
        ours = _disk_verdict(case)
        kind = "traceback" if ours.error == "traceback" else "disagree" if ours.error == "disagree" else "agree-reject"
        return Outcome(case, ours, Verdict(False, "not run (directory mode)"), kind, time.perf_counter() - start)
    ours = ceremony_verdict(case.files, case.trusted_root, case.trusted_name, case.at)
    bootstrap = bootstrap_root(case.files, case.trusted_root)
    theirs = (
        python_tuf_verdict(case.files, bootstrap, case.at)
        if bootstrap is not None
        else Verdict(False, "no root to bootstrap from", "none")
    )
    if ours.error == "traceback":
        kind = "traceback"
    elif ours.accepted and theirs.accepted:
        kind = "agree-accept"
    elif not ours.accepted and not theirs.accepted:
        kind = "agree-reject"
    elif not ours.accepted:
        kind = "stricter"
    else:
        exception = documented_exception(case, ours, theirs)
        kind = f"documented:{exception}" if exception else "disagree"
    return Outcome(case, ours, theirs, kind, time.perf_counter() - start)


def run(cases: int, seed: int, vector_share: float = 0.25) -> list[Outcome]:
    """Judge ``cases`` cases of run ``seed``."""
    return [judge(make_case(i, seed, vector_share)) for i in range(cases)]


# --------------------------------------------------------------------------- tuf-js


def tufjs_verdict(files: dict[str, bytes], trusted_root: bytes) -> Verdict:
    """tuf-js (tests/js/verify-dir.mjs, real clock) on ``files`` served over HTTP on 127.0.0.1."""
    from tests.clients import TUFJS_TIMEOUT, serve_directory

    node = shutil.which("node")
    if node is None or not (TUFJS_DIR / "node_modules" / "tuf-js" / "package.json").is_file():
        raise RuntimeError(f"tuf-js needs node and `npm ci` in {TUFJS_DIR}")
    with tempfile.TemporaryDirectory(prefix="ceremony-fuzz-js-") as tmp:
        directory = Path(tmp) / "metadata"
        directory.mkdir()
        for name, data in files.items():
            if "/" not in name:
                (directory / name).write_bytes(data)
        root = Path(tmp) / "trusted-root.json"
        root.write_bytes(trusted_root)
        with serve_directory(directory) as url:
            proc = subprocess.run(
                [node, str(TUFJS_DIR / "verify-dir.mjs"), "--metadata-url", url, "--root", str(root)],
                cwd=TUFJS_DIR,
                capture_output=True,
                text=True,
                timeout=TUFJS_TIMEOUT,
                check=False,
            )
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return Verdict(False, f"no result (exit {proc.returncode}): {proc.stderr[-300:]}", "crash")
    return Verdict(bool(result.get("ok")), str(result.get("error", "")), "" if result.get("ok") else "refused")


# --------------------------------------------------------------------------- the script


def summarize(outcomes: list[Outcome]) -> tuple[str, bool]:
    """A table of outcomes, and whether the run passes (no undocumented disagreement, no traceback)."""
    kinds = Counter(o.kind for o in outcomes)
    agree = kinds["agree-accept"] + kinds["agree-reject"]
    disagreements: dict[str, list[Outcome]] = defaultdict(list)
    stricter: Counter[str] = Counter()
    for o in outcomes:
        if o.kind in ("disagree", "traceback"):
            disagreements[f"{o.kind}: {o.case.mutation}"].append(o)
        elif o.kind == "stricter":
            stricter[o.case.mutation] += 1
    lines = [
        f"{'cases':<44}{len(outcomes):>8}",
        f"{'agreements':<44}{agree:>8}",
        f"{'  both accept':<44}{kinds['agree-accept']:>8}",
        f"{'  both refuse':<44}{kinds['agree-reject']:>8}",
        f"{'ceremony stricter (refuses, python-tuf accepts)':<44}{kinds['stricter']:>8}",
    ]
    for name, count in stricter.most_common():
        lines.append(f"{'    ' + name:<44}{count:>8}")
    lines.append(f"{'documented exceptions':<44}{sum(v for k, v in kinds.items() if k.startswith('documented')):>8}")
    for name in DOCUMENTED:
        if kinds[f"documented:{name}"]:
            lines.append(f"{'    ' + name:<44}{kinds[f'documented:{name}']:>8}")
    lines.append(f"{'undocumented disagreements':<44}{kinds['disagree']:>8}")
    lines.append(f"{'tracebacks':<44}{kinds['traceback']:>8}")
    for label, items in sorted(disagreements.items()):
        first = items[0]
        lines.append(f"  {label} x{len(items)} (e.g. case {first.case.index}, {first.case.seed})")
        lines.append(f"      ceremony:   {first.ceremony.reason[:300] or 'accepted'}")
        lines.append(f"      python-tuf: {first.python_tuf.reason[:300] or 'accepted'}")
    return "\n".join(lines), not disagreements


def main(argv: list[str] | None = None) -> int:
    """``scripts/fuzz``: run cases, print the table, exit 1 on an undocumented disagreement or a traceback."""
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vector-share", type=float, default=0.25, help="share of cases mutating tests/vectors")
    parser.add_argument("--tufjs", type=int, default=0, help="also run tuf-js on this many fresh cases")
    parser.add_argument("--show", type=int, default=0, help="print the first N undocumented cases in full")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    outcomes = []
    for i in range(args.cases):
        outcomes.append(judge(make_case(i, args.seed, args.vector_share)))
        if (i + 1) % 500 == 0:
            print(  # noqa: T201 - the script's table
                f"  ... {i + 1} cases, {time.perf_counter() - start:.0f} s", file=sys.stderr
            )
    table, ok = summarize(outcomes)
    print(  # noqa: T201 - the script's table
        f"seed {args.seed}, {args.cases} cases in {time.perf_counter() - start:.1f} s"
    )
    print(  # noqa: T201 - the script's table
        table
    )
    shown = [o for o in outcomes if o.kind in ("disagree", "traceback")][: args.show]
    for o in shown:
        print(  # noqa: T201 - the script's table
            f"\n--- case {o.case.index} {o.case.seed} {o.case.mutation}\n{o.ceremony.reason}\n{o.python_tuf.reason}"
        )
    if args.tufjs:
        ok = tufjs_sample(args.seed, args.tufjs) and ok
    return 0 if ok else 1


def tufjs_judge(case: Case, files: dict[str, bytes], now: datetime) -> tuple[str, Verdict, Verdict]:
    """ceremony (as of ``now``) and tuf-js on ``files``: "agree", "stricter", "documented:<name>" or "disagree".

    Where ceremony accepts and tuf-js refuses, the documented looseness is recognised as for
    python-tuf (say, tuf-js too fetches only N.role.json with consistent snapshots).
    """
    ours = ceremony_verdict(files, None, None, now)
    bootstrap = bootstrap_root(files, None)
    if ours.error == "traceback" or bootstrap is None:
        return ("traceback" if ours.error == "traceback" else "agree"), ours, Verdict(False, "no root")
    theirs = tufjs_verdict(files, bootstrap)
    if ours.accepted == theirs.accepted:
        return "agree", ours, theirs
    if not ours.accepted:
        return "stricter", ours, theirs
    oracle = python_tuf_verdict(files, bootstrap, now)
    probe = Case(case.index, case.seed, case.mutation, files, None, None, now)
    exception = None if oracle.accepted else documented_exception(probe, ours, oracle)
    return (f"documented:{exception}" if exception else "disagree"), ours, theirs


def tufjs_sample(seed: int, count: int) -> bool:
    """tuf-js on ``count`` fresh cases: where ceremony (as of now) accepts, tuf-js must accept; prints a line each."""
    ok = True
    now = datetime.now(UTC)
    picked = 0
    index = 0
    while picked < count and index < count * 50:
        case = make_case(index, seed, vector_share=0.0)
        index += 1
        if case.disk or case.mutation.startswith(("expires", "size", "nesting")):
            continue  # tuf-js uses the real clock; sizes and nesting are covered by python-tuf
        picked += 1
        kind, ours, theirs = tufjs_judge(case, case.files, now)
        ok = ok and kind not in ("disagree", "traceback")
        print(  # noqa: T201 - the script's table
            f"tuf-js case {case.index} {case.seed} {case.mutation}: ceremony "
            f"{'accepts' if ours.accepted else 'refuses'}, tuf-js {'accepts' if theirs.accepted else 'refuses'}"
            + ("" if kind in ("agree", "stricter") else f"  {kind.upper()}: {theirs.reason[:200]}")
        )
    return ok


if __name__ == "__main__":
    sys.exit(main())
