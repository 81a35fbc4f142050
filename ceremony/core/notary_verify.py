"""Verify a Notary v1 (Docker Content Trust) repository as the stock notary client and ``docker trust`` do.

The rules are notary 0.7.0's (``trustpinning/certs.go`` ``ValidateRoot``, ``tuf/utils/x509.go``
``ValidateCertificate``, ``tuf/signed/verify.go`` ``VerifySignatures``, ``tuf/builder.go``, ``client/tufclient.go``),
written here from reading them; the file format is notary.py's and the cryptography keys.py's:

* the root chain: every root version N+1 signed by a threshold of root N's root keys (at root N's threshold)
  and by a threshold of its own; no version missing between the trusted root and the newest (``N.root.json``
  and ``root.json``, which must agree when they hold the same version). The trusted root is ``trusted_root``,
  else the lowest version in the directory, and it must be signed by itself;
* a root key counts only when its certificate is a usable leaf (Go's ``parseAllCerts`` and
  ``validRootLeafCerts``): the first certificate is not a CA and is the only non-CA one, its CN equals the GUN
  exactly (a ``*`` pattern belongs to a client's trust pinning, never to a certificate), it is not signed with
  SHA-1, notBefore is not after notAfter and,
  for the newest root, ``at`` lies in its validity (notBefore with Go's one day of leeway). Older roots'
  certificates (a trusted root that later versions replace, the previous root signing a rotation) are not
  checked for expiry, as in Go, where a cached root is taken as it is. With CA
  pinning (``trust_pinning.ca``) the leaf is still not a CA: the CA is in the client's config and any
  intermediates follow the leaf; pinning itself (certs or CA) is not checked here;
* timestamp (by the root's timestamp role) -> snapshot -> targets and delegated roles: each file's length
  and its sha256/sha512 hashes as the file above lists them (at least one of the two, as ``data.CheckHashes``),
  root.json's too against the snapshot; each signed by a threshold of the keys its role has: the root's for
  the top-level roles, the delegating file's for ``targets/...`` (whose names must start with the parent's);
* a threshold counts distinct public keys (an x509 key by its certificate's key), never one key twice under
  two ids; a key listed under an id that is not its own fails (Go: ``ErrInvalidKeyID``); signatures are
  checked over ``notary.signed_bytes``, with the method of the key type;
* expiry: the newest root, timestamp, snapshot, targets and every delegated role verified, at ``at``.

Stricter than the stock client, on purpose: a delegated role that is expired or short of its threshold fails
(the client warns and skips it), and a threshold counts keys, not key ids. Looser: files the directory does not
hold are reported as skipped (a sample or a cache copy may lack the timestamp, or a delegation the snapshot
lists) instead of failing as a download would; what is present is verified fully, pinned by whatever lists it.
A delegated role ``targets/x`` is read from ``targets/x.json`` or, flattened, ``targets_x.json``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ceremony.core import notary
from ceremony.core._text import plural, printable
from ceremony.core.keys import dct as dct_keys
from ceremony.core.verify import Check, Report
from ceremony.errors import InputFileError, MetadataError, VerificationError

#: Go's ``ValidateCertificate`` accepts a certificate whose notBefore is up to one day in the future.
NOT_BEFORE_LEEWAY = timedelta(days=1)
#: The hashes ``data.CheckHashes`` computes; others in a meta entry are ignored.
HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")
_ROOT_FILE = re.compile(r"([1-9][0-9]{0,8})\.root\.json")


def _fail(file: str, check: str, message: str) -> VerificationError:
    return VerificationError(f"{file}: {message}", file, check)


def _meta(md: notary.NotaryFile) -> dict[str, Any]:
    """The ``meta`` object of a timestamp or snapshot (absent: empty).

    Raises:
        VerificationError: ``meta`` is there but is not an object.
    """
    meta = md.signed.get("meta")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise _fail(md.source, "structure", "'meta' is not an object")
    return meta


def _date(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class _Key:
    """A role key as counted: its identity (distinct public key), its object, and why it cannot count."""

    keyid: str
    key_obj: Any
    identity: bytes | None
    problem: str = ""  # "" when usable
    check: str = ""  # the check a problem belongs to (certificate-cn, certificate-expired, ...)


def _identity(key_obj: Any) -> bytes | None:
    """The public key a key object holds (x509: its certificate's key), tagged by kind; None if unreadable."""
    try:
        keytype, public = notary.key_public(key_obj)
        if keytype == "ecdsa-x509":
            public = dct_keys.certificate_spki(public)
            keytype = "ecdsa"
        if keytype == "ecdsa":
            spki = dct_keys.canonical_spki(public)
            return None if spki is None else b"ecdsa:" + spki
    except (MetadataError, ValueError):
        return None
    return keytype.encode() + b":" + public


def _certificate_problem(key_obj: Any, gun: str, at: datetime | None) -> tuple[str, str]:
    """Why a root key's certificate is not a usable leaf for ``gun`` (``at`` None: expiry not checked)."""
    try:
        keytype, public = notary.key_public(key_obj)
    except MetadataError as err:
        return str(err), "key"
    if keytype != "ecdsa-x509":
        return f"a root key must be an ecdsa-x509 certificate, not {printable(keytype, 40)!r}", "certificate"
    try:
        chain = dct_keys.certificate_facts(public)
    except ValueError:
        return "its public part is not PEM certificates", "certificate"
    leaf = chain[0]
    if leaf.is_ca or sum(not c.is_ca for c in chain) != 1:
        return "its first certificate is a CA certificate, or it holds more than one leaf", "certificate-ca"
    pattern = leaf.common_name
    if pattern != gun:  # exact, as notary's validRootLeafCerts (wildcards belong to trust pinning, not to a CN)
        return f"certificate CN {printable(pattern, 80)!r} is not the GUN {printable(gun, 80)!r}", "certificate-cn"
    if leaf.is_sha1:
        return "its certificate is signed with SHA-1", "certificate-sha1"
    if leaf.not_before > leaf.not_after:
        return "its certificate's notBefore is after its notAfter", "certificate-validity"
    if at is not None and (leaf.not_before > at + NOT_BEFORE_LEEWAY or at > leaf.not_after):
        return (
            f"its certificate is valid from {_date(leaf.not_before)} to {_date(leaf.not_after)}, not at {_date(at)}",
            "certificate-expired",
        )
    return "", ""


@dataclass(frozen=True)
class _Role:
    name: str
    threshold: int
    keys: tuple[_Key, ...]


def _role(
    file: str, listed: Mapping[str, Any], role_dict: Any, name: str, gun: str | None = None, at: datetime | None = None
) -> _Role:
    """A role's keys as its delegator lists them; root keys (``gun`` given) checked as certificates."""
    if not isinstance(role_dict, dict):
        raise _fail(file, "structure", f"has no {printable(name, 80)} role")
    keyids, threshold = role_dict.get("keyids"), role_dict.get("threshold")
    if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids) or len(set(keyids)) != len(keyids):
        raise _fail(file, "structure", f"the keyids of role {printable(name, 80)} are not a list of distinct ids")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise _fail(file, "structure", f"role {printable(name, 80)} has a threshold below 1 (Go refuses it)")
    found = []
    for keyid in keyids:
        key_obj = listed.get(keyid)
        if key_obj is None:
            raise _fail(file, "structure", f"role {printable(name, 80)} names key {keyid[:16]}, which is not listed")
        try:
            own = notary.key_id(key_obj)
        except MetadataError as err:
            raise _fail(file, "key", f"key {keyid[:16]}: {err}") from err
        if own != keyid:
            raise _fail(file, "keyid", f"key {keyid[:16]} is listed under an id that is not its own ({own[:16]})")
        problem, check = _certificate_problem(key_obj, gun, at) if gun is not None else ("", "")
        found.append(_Key(keyid, key_obj, _identity(key_obj), problem, check))
    return _Role(name, threshold, tuple(found))


def count(role: _Role, md: notary.NotaryFile, *, usable_only: bool = True) -> list[str]:
    """Key ids of distinct public keys of ``role`` with a valid signature over ``md`` (thresholds.count's rule)."""
    payload = notary.signed_bytes(md.signed)
    by_id: dict[str, list[Any]] = {}
    for s in md.signatures:
        by_id.setdefault(s.keyid, []).append(s)
    signed: list[str] = []
    counted: set[bytes] = set()
    for key in role.keys:
        sigs = by_id.get(key.keyid, [])
        if key.identity is None or key.identity in counted or not sigs or (usable_only and key.problem):
            continue
        if any(notary.verify(key.key_obj, sig, payload) for sig in sigs):  # as Go, each signature is tried
            signed.append(key.keyid)
            counted.add(key.identity)
    return signed


def _require(md: notary.NotaryFile, role: _Role, what: str, check: str) -> str:
    """Raise unless a threshold of ``role``'s usable keys signed ``md``; the sentence for the report."""
    signed = count(role, md)
    if len(signed) >= role.threshold:
        return f"{what}: {len(signed)} valid of {plural(len(role.keys), 'key')}, threshold {role.threshold}"
    # A key that signed validly but cannot count explains the failure better than the number alone.
    excluded = [k for k in role.keys if k.problem and k.keyid in count(role, md, usable_only=False)]
    if excluded and len(count(role, md, usable_only=False)) >= role.threshold:
        key = excluded[0]
        raise _fail(md.source, key.check, f"{what}: key {key.keyid[:16]} does not count: {key.problem}")
    reasons = "".join(f"; key {k.keyid[:16]} does not count: {k.problem}" for k in role.keys if k.problem)
    raise _fail(md.source, check, f"signed by {len(signed)} of the {role.threshold} required keys of {what}{reasons}")


def _unexpired(md: notary.NotaryFile, at: datetime) -> str:
    when = notary.expires(md)
    if when <= at:
        raise _fail(md.source, "expiry", f"expired at {_date(when)} (checked as of {_date(at)})")
    return _date(when)


def _parse(files: Mapping[str, bytes], name: str, role: str) -> notary.NotaryFile:
    try:
        return notary.parse(files[name], name, role)
    except InputFileError as err:
        raise VerificationError(str(err), name, "parse") from err


# --------------------------------------------------------------------------- root chain


def _root_role(md: notary.NotaryFile, role: str, gun: str | None = None, at: datetime | None = None) -> _Role:
    roles = md.signed.get("roles")
    listed = md.signed.get("keys")
    if not isinstance(roles, dict) or not isinstance(listed, dict):
        raise _fail(md.source, "structure", "a root needs a keys object and a roles object")
    return _role(md.source, listed, roles.get(role), role, gun, at)


def _check_root_shape(md: notary.NotaryFile) -> None:
    roles = md.signed.get("roles")
    missing = [r for r in TOP_LEVEL if not isinstance(roles, dict) or r not in roles]
    if missing:
        raise _fail(md.source, "structure", f"has no {missing[0]} role (a Notary root needs all four)")
    for role in TOP_LEVEL:
        _root_role(md, role)


def _roots(files: Mapping[str, bytes]) -> dict[int, notary.NotaryFile]:
    """Every root in the directory by version: N.root.json must hold N; root.json must agree with its twin."""
    found: dict[int, notary.NotaryFile] = {}
    for name in sorted(files):
        match = _ROOT_FILE.fullmatch(name)
        if match:
            md = _parse(files, name, "root")
            if notary.version(md) != int(match.group(1)):
                raise _fail(name, "version", f"holds root version {notary.version(md)} (swapped or replayed file)")
            found[notary.version(md)] = md
    if "root.json" in files:
        md = _parse(files, "root.json", "root")
        twin = found.get(notary.version(md))
        if twin is not None and notary.signed_bytes(twin.signed) != notary.signed_bytes(md.signed):
            raise _fail("root.json", "root-json", f"differs from {twin.source}, which holds the same version")
        found.setdefault(notary.version(md), md)
    return found


def _verify_roots(
    files: Mapping[str, bytes], gun: str, at: datetime, trusted_root: bytes | None, report: Report, cached: bool
) -> notary.NotaryFile:
    roots = _roots(files)
    if trusted_root is not None:
        try:
            trusted = notary.parse(trusted_root, "trusted root", "root")
        except InputFileError as err:
            raise VerificationError(str(err), "trusted root", "parse") from err
    elif roots:
        trusted = roots[min(roots)]
    else:
        raise VerificationError("no root metadata: neither N.root.json nor root.json is present", None, "root")
    _check_root_shape(trusted)
    newest = max(roots, default=0)
    # A trusted root that later roots replace is the client's cached root: Go re-checks its signatures but
    # not its certificates' validity (ValidateRoot takes a cached root as it is). Only the newest root's
    # certificates must be valid at ``at``.
    trusted_at = at if cached or notary.version(trusted) >= newest else None
    own = _require(trusted, _root_role(trusted, "root", gun, trusted_at), "its own root role", "self-signature")
    report.trusted_root = trusted.source
    report.checks.append(
        Check(trusted.source, "root", notary.version(trusted), _date(notary.expires(trusted)), own, "trusted root")
    )
    current = trusted
    while notary.version(current) < newest:
        wanted = notary.version(current) + 1
        new = roots.get(wanted)
        if new is None:
            raise _fail(
                f"{wanted}.root.json",
                "gap",
                f"missing, but root version {newest} exists; clients cannot rotate past version {wanted - 1}",
            )
        _check_root_shape(new)
        # The previous root's certificates are not checked for expiry (validRootLeafCerts(..., false)).
        old = _require(new, _root_role(current, "root", gun, None), f"root version {wanted - 1}", "rotation")
        mine = _require(new, _root_role(new, "root", gun, at), "its own root role", "self-signature")
        report.checks.append(Check(new.source, "root", wanted, _date(notary.expires(new)), f"{old}; {mine}"))
        current = new
    report.newest_root_version = notary.version(current)
    _unexpired(current, at)
    return current


# --------------------------------------------------------------------------- the other roles


def _pinned(name: str, data: bytes, meta: Any, by: str) -> None:
    """``data`` has the length and the sha256/sha512 hashes that ``by`` lists for it (``data.CheckHashes``)."""
    if meta is None:
        raise _fail(by, "meta", f"does not list {name}")
    if not isinstance(meta, dict):
        raise _fail(by, "meta", f"its entry for {name} is not an object")
    length, hashes = meta.get("length"), meta.get("hashes")
    if length is not None and length != len(data):
        raise _fail(name, "length", f"is {len(data)} bytes, but {by} lists {length}")
    hashes = hashes if isinstance(hashes, dict) else {}
    known = [a for a in hashes if a in HASHES]
    if not known:
        raise _fail(by, "hash", f"lists no sha256 or sha512 hash for {name}")
    for algorithm in known:
        expected = hashes[algorithm]
        actual = base64.b64encode(HASHES[algorithm](data).digest()).decode("ascii")
        if not isinstance(expected, str) or not hmac.compare_digest(actual, expected):
            raise _fail(name, "hash", f"its {algorithm} hash differs from the one {by} lists")


def _file_for(files: Mapping[str, bytes], role: str) -> str | None:
    for name in (f"{role}.json", f"{role.replace('/', '_')}.json"):
        if name in files:
            return name
    return None


def _load(
    files: Mapping[str, bytes], role: str, pin: notary.NotaryFile | None, keys_of: _Role, what: str
) -> tuple[notary.NotaryFile, str]:
    name = _file_for(files, role)
    assert name is not None  # noqa: S101 - callers look first
    if pin is not None:
        _pinned(name, files[name], _meta(pin).get(role), pin.source)
    md = _parse(files, name, role)
    count_text = _require(md, keys_of, what, "threshold")
    return md, count_text


def _delegations(
    files: Mapping[str, bytes],
    targets: notary.NotaryFile,
    snapshot: notary.NotaryFile | None,
    at: datetime,
    report: Report,
) -> None:
    queue = [("targets", targets)]
    seen = {"targets"}
    while queue:
        parent_name, parent = queue.pop(0)
        delegations = parent.signed.get("delegations")
        if delegations is None:
            continue
        listed, roles = (delegations.get("keys"), delegations.get("roles")) if isinstance(delegations, dict) else (0, 0)
        if not isinstance(listed, dict) or not isinstance(roles, list):
            raise _fail(parent.source, "structure", "delegations need a keys object and a roles list")
        for role_dict in roles:
            name = role_dict.get("name") if isinstance(role_dict, dict) else None
            if not isinstance(name, str) or not name.startswith(parent_name + "/") or name == parent_name + "/":
                raise _fail(parent.source, "delegation", f"delegates to {printable(str(name), 80)!r}, not a child role")
            if name in seen:
                raise _fail(parent.source, "delegation", f"delegates to {printable(name, 80)} twice")
            seen.add(name)
            role = _role(parent.source, listed, role_dict, name)
            if _file_for(files, name) is None:
                report.skipped.append(f"{name}: not in the directory; not verified")
                continue
            if snapshot is not None and name not in _meta(snapshot):
                report.skipped.append(f"{name}: {snapshot.source} does not list it; clients skip it")
                continue
            md, text = _load(files, name, snapshot, role, f"role {printable(name, 80)} as {parent.source} delegates it")
            report.checks.append(
                Check(md.source, name, notary.version(md), _unexpired(md, at), text, f"delegated by {parent.source}")
            )
            queue.append((name, md))


def verify_notary(
    files: Mapping[str, bytes], gun: str, at: datetime, trusted_root: bytes | None = None, *, cached: bool = False
) -> Report:
    """Verify a Notary v1 repository held as ``{file name: bytes}`` for ``gun``, as of ``at`` (aware, UTC).

    ``cached`` says ``trusted_root`` is a client's cached root (``verify --trusted-root``): Go loads it with
    its certificates checked for expiry and fails hard when they are not valid, so they must be valid at
    ``at``; otherwise only the newest root's certificates must be.

    Raises:
        VerificationError: the first failed check, one sentence naming the file (``.file``) and the check
            (``.check``: parse, structure, key, keyid, self-signature, rotation, gap, version, root-json,
            certificate, certificate-ca, certificate-cn, certificate-sha1, certificate-validity,
            certificate-expired, threshold, expiry, length, hash, meta, missing, delegation).

    Returns:
        The report of every file verified, what was skipped, and warnings.
    """
    report = Report(at=_date(at))
    root = _verify_roots(files, gun, at, trusted_root, report, cached)
    root_label = f"root version {notary.version(root)}"
    timestamp = snapshot = None
    if "timestamp.json" in files:
        timestamp, text = _load(
            files, "timestamp", None, _root_role(root, "timestamp"), f"the timestamp role of {root_label}"
        )
        report.checks.append(
            Check("timestamp.json", "timestamp", notary.version(timestamp), _unexpired(timestamp, at), text)
        )
    else:
        report.skipped.append("timestamp.json: not in the directory; the snapshot is not pinned")
    if _file_for(files, "snapshot") is not None:
        snapshot, text = _load(
            files, "snapshot", timestamp, _root_role(root, "snapshot"), f"the snapshot role of {root_label}"
        )
        report.checks.append(
            Check(snapshot.source, "snapshot", notary.version(snapshot), _unexpired(snapshot, at), text)
        )
        root_meta = _meta(snapshot).get("root")
        # The client checks the root it fetched (root.json) against the snapshot's entry (builder.go).
        root_file = "root.json" if "root.json" in files else root.source
        if root_meta is not None and root_file in files and _parse(files, root_file, "root").signed == root.signed:
            _pinned(root_file, files[root_file], root_meta, snapshot.source)
    elif timestamp is not None:
        raise _fail("snapshot.json", "missing", "missing, but timestamp.json lists it")
    else:
        report.skipped.append("snapshot.json: not in the directory; targets is not pinned")
    if _file_for(files, "targets") is not None:
        targets, text = _load(
            files, "targets", snapshot, _root_role(root, "targets"), f"the targets role of {root_label}"
        )
        report.checks.append(Check(targets.source, "targets", notary.version(targets), _unexpired(targets, at), text))
        _delegations(files, targets, snapshot, at, report)
    elif snapshot is not None:
        raise _fail("targets.json", "missing", f"missing, but {snapshot.source} lists it")
    else:
        report.skipped.append("targets.json: not in the directory")
    return report
