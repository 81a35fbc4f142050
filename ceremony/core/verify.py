"""Verify a TUF metadata directory the way a client would, but for any real repository.

Real roots differ from what the newest clients accept: Sigstore's first roots
use hex ECDSA keys and fractional-second dates with offsets (python-tuf refuses
them), DC Council's TAF repository uses ``rsa-pkcs1v15-sha256`` (tuf-js refuses
it). This verifier is loose on those encodings only, and otherwise at least as
strict as python-tuf's ``ngclient`` (the differential fuzz test in
tests/test_fuzz_verify.py holds it to that; docs/interop.md lists every
deliberate difference):

* sizes: each root file at most 512,000 bytes, timestamp 16,384, snapshot
  2,000,000 and targets (top-level or delegated) 5,000,000 unless the
  delegating file gives a length (python-tuf's ``UpdaterConfig``; see
  ``SizeLimits``);
* JSON with duplicate keys or floats is refused (the signed bytes would be ambiguous);
* every file: ``_type`` exactly "root", "timestamp", "snapshot" or "targets";
  ``spec_version`` "1.minor[.patch]" in digits; ``version`` a positive
  integer; ``expires`` a date (every root of the chain, not only the newest);
  no integer beyond 2**53 - 1 (tuf-js could not check the signatures);
* root: exactly the four top-level roles, each with unique keyids and a
  threshold of at least 1; every key in ``keys`` one that TUF clients can load,
  used or not; ``consistent_snapshot`` a boolean when present;
* timestamp and snapshot ``meta``: entries with a positive version, a length
  of at least 0 and a non-empty object of hashes when given; a hash whose
  algorithm clients cannot compute fails;
* targets: every target with a length of at least 0 and a non-empty object
  of hashes; delegations with loadable keys, names that are neither empty nor
  top-level role names nor repeated nor too long for a client to store,
  exactly one of ``paths`` and ``path_hash_prefixes``, and exactly one of
  ``roles`` and ``succinct_roles``;
* signatures are checked over the canonical JSON of ``signed``; a
  ``signatures`` list naming one keyid twice rejects the file, as both
  python-tuf and tuf-js do; a threshold counts distinct public keys;
* root N+1 needs a threshold of root N's root keys and of its own (spec 5.3.4),
  and every ``N.root.json`` must carry version N, with no gap (the trusted
  root too, when it is taken from the directory);
* ``root.json`` may differ from the newest ``N.root.json`` in layout only: same
  version and canonical ``signed``, and a threshold of valid signatures;
* when ``timestamp.json`` is present, the snapshot and targets it leads to
  must be present, and so must every delegated role that any targets file
  delegates to (each is verified against every role that delegates to it);
  a delegated role the snapshot does not list fails, as a client looking up
  a target through it fails;
* only the newest root, timestamp, snapshot, targets and the delegated roles
  must be unexpired.

A chain of more than 256 root rotations (python-tuf's ``max_root_rotations``)
is verified in full, with a warning in the report.

It works on an in-memory ``{file name: bytes}`` mapping, so ``init`` can verify
what it is about to write before anything touches the disk. Reading a
directory, an entry named like metadata that is not a readable regular file
is refused, never taken as absent; ``read_client_files`` reads only the files
a client fetches, without following links, and refuses anything else.

The deliberate looseness (Sigstore's dates and hex keys, ``role.json`` read in
place of ``N.role.json``, a root-only directory) is listed in docs/interop.md.

It does not fetch anything, and it does not check rollback against an earlier
client state (there is none: it starts from the trusted root).
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import stat
import warnings
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from securesystemslib.signer import Key

from ceremony.core import keys as _keys
from ceremony.core._fs import sha256_hex
from ceremony.core._json import MAX_FILE_BYTES, canonical_bytes, loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.errors import InputFileError, SigningKeyError, UsageError, VerificationError

_ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json$")
# RFC 3339 with an upper-case T and Z, or an offset (Sigstore's first roots), and any fractional seconds.
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})$")
# python-tuf's Signed: "major.minor[.patch]", digits only, major equal to its own ("1").
_SPEC_VERSION = re.compile(r"^1\.[0-9]+(?:\.[0-9]+)?$")
TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
_MAX_SUCCINCT_BITS = 16  # 65,536 bins; more than any published repository uses
#: JavaScript's Number.MAX_SAFE_INTEGER: tuf-js parses integers as doubles, so larger ones change on re-encoding.
_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_FILE_NAME = 255  # bytes in one file name (ext4, APFS, NTFS)
#: python-tuf's UpdaterConfig.max_root_rotations: its client stops updating the root after this many.
MAX_ROOT_ROTATIONS = 256


# --------------------------------------------------------------------------- size limits


@dataclass(frozen=True)
class SizeLimits:
    """The largest metadata file accepted per role, in bytes; the defaults are python-tuf's ``UpdaterConfig``.

    ``snapshot`` applies unless timestamp.json gives the snapshot's length,
    ``targets`` (top-level and delegated) unless the snapshot gives one: a
    client then downloads exactly that many bytes, as here.
    """

    root: int = 512_000
    timestamp: int = 16_384
    snapshot: int = 2_000_000
    targets: int = 5_000_000

    #: The most an auditor may raise a limit to: the file is read into memory.
    CEILING = 1 << 30

    @classmethod
    def parse(cls, specs: Iterable[str]) -> SizeLimits:
        """Limits from ``ROLE=BYTES`` values (``--max-bytes``), the others at their defaults.

        Args:
            specs: values such as ``"root=1000000"``; ROLE is root, timestamp,
                snapshot or targets (targets covers delegated roles too).

        Raises:
            UsageError: a value is not ROLE=BYTES, names another role, gives a
                role twice, or a size that is not a whole number from 1 to 2**30.

        Returns:
            The limits.
        """
        names = [f.name for f in fields(cls)]
        given: dict[str, int] = {}
        for spec in specs:
            role, sep, size = str(spec).partition("=")
            role, size = role.strip(), size.strip().replace("_", "")
            if not sep or role not in names:
                raise UsageError(
                    f"--max-bytes {printable(spec)!r} is not ROLE=BYTES with ROLE one of {', '.join(names)}"
                )
            if role in given:
                raise UsageError(f"--max-bytes gives {role} twice")
            if not size.isascii() or not size.isdigit() or not 1 <= int(size) <= cls.CEILING:
                raise UsageError(
                    f"--max-bytes {printable(spec)!r}: BYTES must be a whole number from 1 to {cls.CEILING:,}"
                )
            given[role] = int(size)
        return replace(cls(), **given)

    def largest(self) -> int:
        """The largest of the limits."""
        return max(self.root, self.timestamp, self.snapshot, self.targets)


DEFAULT_LIMITS = SizeLimits()


def _check_size(name: str, data: bytes, limit: int, role: str, given_length: bool = False) -> None:
    """Refuse ``data`` longer than a client would download for ``name``."""
    if len(data) > limit:
        why = (
            "the length its delegating file gives"
            if given_length
            else f"the {role} limit clients download (raise it with --max-bytes {role}=BYTES)"
        )
        raise VerificationError(f"{name}: {len(data):,} bytes, more than {limit:,}, {why}", name, "size")


# --------------------------------------------------------------------------- dates


def parse_tuf_date(text: object, source: str) -> datetime:
    """Parse an ``expires`` value loosely: Z or an offset under 24 hours, any fractional seconds.

    Raises:
        VerificationError: not a date we can read.
    """
    match = _DATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise VerificationError(
            f"{source}: 'expires' {printable(text, 80)!r} is not an RFC 3339 date", source, "format"
        )
    day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        if zone == "Z":
            tz = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if minutes > 59:
                raise ValueError("offset minutes over 59")
            # timezone() itself refuses 24 hours or more (ValueError).
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        parsed = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}").replace(microsecond=micro, tzinfo=tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as err:  # a bad field, or a date moved past year 1 or 9999
        raise VerificationError(
            f"{source}: 'expires' {printable(text, 80)!r} is not a valid date", source, "format"
        ) from err


def parse_at(text: str) -> datetime:
    """Parse a ``--at`` value: a date (midnight UTC) or a full RFC 3339 time.

    Raises:
        UsageError: not a date or time.
    """
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    try:
        return parse_tuf_date(text, "--at")
    except VerificationError as err:
        raise UsageError(f"--at {printable(text, 80)!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from err


def format_date(value: datetime) -> str:
    """The strict ``YYYY-MM-DDTHH:MM:SSZ`` form every client parses."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- envelopes


@dataclass(frozen=True)
class Envelope:
    """A parsed metadata file: what is signed, who signed, and the exact bytes."""

    name: str
    raw: bytes
    signed: dict[str, Any]
    signatures: dict[str, str]
    payload: bytes

    @property
    def version(self) -> int:
        """The ``signed.version`` field."""
        return self.signed["version"]

    @property
    def type(self) -> str:
        """The ``signed._type`` field, exactly as written."""
        return str(self.signed["_type"])


def _is_int(value: object, minimum: int) -> bool:
    """True for an integer (not a boolean) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_safe_integers(name: str, signed: dict[str, Any]) -> None:
    """Refuse integers JavaScript cannot hold exactly: tuf-js re-encodes ``signed`` to check signatures."""
    stack: list[Any] = [signed]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INTEGER:
            raise VerificationError(
                f"{name}: holds the integer {value}, beyond 2**53 - 1, which JavaScript clients (tuf-js) cannot verify",
                name,
                "format",
            )


def parse_envelope(name: str, data: bytes, expected_type: str | None = None) -> Envelope:
    """Parse and structurally check one metadata file: envelope, version, type, spec_version.

    Raises:
        VerificationError: malformed, duplicate signature keyids, wrong type.
    """
    try:
        obj = loads_strict(data, name)
    except InputFileError as err:
        raise VerificationError(str(err), name, "parse") from err
    if not isinstance(obj, dict) or not isinstance(obj.get("signed"), dict):
        raise VerificationError(f"{name}: not TUF metadata (no 'signed' object)", name, "format")
    signed = obj["signed"]
    sig_list = obj.get("signatures")
    if not isinstance(sig_list, list):
        raise VerificationError(f"{name}: 'signatures' is not a list", name, "format")
    signatures: dict[str, str] = {}
    for entry in sig_list:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("keyid"), str)
            or not isinstance(entry.get("sig"), str)
        ):
            raise VerificationError(f"{name}: a signature entry lacks 'keyid' or 'sig'", name, "format")
        if entry["keyid"] in signatures:
            raise VerificationError(
                f"{name}: keyid {printable(entry['keyid'][:12])} signs twice (duplicate signatures are refused)",
                name,
                "duplicate-signature",
            )
        signatures[entry["keyid"]] = entry["sig"]
    if not _is_int(signed.get("version"), 1):
        raise VerificationError(f"{name}: 'version' must be a positive integer", name, "format")
    kind = signed.get("_type")
    if not isinstance(kind, str):
        raise VerificationError(f"{name}: '_type' is missing", name, "format")
    if expected_type and kind != expected_type:
        # Exact, as python-tuf and tuf-js compare it: "Root" is not "root".
        raise VerificationError(
            f"{name}: is a {printable(kind, 40)!r} file where {expected_type!r} was expected", name, "type"
        )
    spec = signed.get("spec_version")
    if not isinstance(spec, str) or not _SPEC_VERSION.match(spec):
        raise VerificationError(
            f"{name}: spec_version {printable(spec, 40)!r} is not 1.MINOR or 1.MINOR.PATCH (TUF specification 1.x)",
            name,
            "spec_version",
        )
    _check_safe_integers(name, signed)
    try:
        payload = canonical_bytes(signed)
    except Exception as err:
        raise VerificationError(f"{name}: 'signed' cannot be canonicalised ({err})", name, "format") from err
    return Envelope(name=name, raw=data, signed=signed, signatures=signatures, payload=payload)


# --------------------------------------------------------------------------- structure, as python-tuf loads it


def _fail(env: Envelope, message: str, check: str = "format") -> VerificationError:
    """A VerificationError about ``env``."""
    return VerificationError(f"{env.name}: {message}", env.name, check)


def _check_keys(env: Envelope, keys_dict: object, where: str) -> None:
    """Every key of a ``keys`` object must be one TUF clients load (securesystemslib's registry), used or not."""
    if not isinstance(keys_dict, dict):
        raise _fail(env, f"{where} 'keys' is not an object", "key")
    for keyid, key_dict in keys_dict.items():
        if not isinstance(key_dict, dict):
            raise _fail(env, f"key {printable(keyid[:12])} in {where} is not an object", "key")
        try:
            Key.from_dict(keyid, copy.deepcopy(key_dict))
        except Exception as err:  # whatever the key class raises, clients refuse the file
            detail = printable(str(err), 120)
            raise _fail(
                env, f"key {printable(keyid[:12])} in {where} is not a key TUF clients can load ({detail})", "key"
            ) from err


def _check_role_shape(env: Envelope, role_dict: object, role: str) -> None:
    """A role: an object with a list of unique string keyids and a threshold of at least 1."""
    if not isinstance(role_dict, dict):
        raise _fail(env, f"role {printable(role)!r} is not an object")
    keyids = role_dict.get("keyids")
    threshold = role_dict.get("threshold")
    if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids):
        raise _fail(env, f"role {printable(role)!r} has no keyid list")
    if not _is_int(threshold, 1):
        raise _fail(env, f"role {printable(role)!r} has threshold {printable(threshold, 40)!r}; it must be at least 1")
    if len(set(keyids)) != len(keyids):
        raise _fail(env, f"role {printable(role)!r} lists a keyid twice")


def _check_common(env: Envelope) -> datetime:
    """The expiry every file must have in a readable form."""
    return parse_tuf_date(env.signed.get("expires"), env.name)


def _check_root(env: Envelope) -> None:
    """Root structure: four roles exactly, loadable keys, boolean consistent_snapshot, a date."""
    signed = env.signed
    _check_common(env)
    roles = signed.get("roles")
    if not isinstance(roles, dict) or set(roles) != set(TOP_LEVEL_ROLES):
        found = ", ".join(printable(r, 40) for r in roles) if isinstance(roles, dict) else "none"
        raise _fail(env, f"root must define exactly the roles {', '.join(TOP_LEVEL_ROLES)} (found: {found})")
    for role in TOP_LEVEL_ROLES:
        _check_role_shape(env, roles[role], role)
    _check_keys(env, signed.get("keys"), "root")
    if "consistent_snapshot" in signed and not isinstance(signed["consistent_snapshot"], bool):
        raise _fail(env, "'consistent_snapshot' must be true or false")


def _check_hashes(env: Envelope, hashes: object, what: str) -> None:
    """A non-empty object of strings (python-tuf's BaseFile._validate_hashes)."""
    if not isinstance(hashes, dict) or not hashes:
        raise _fail(env, f"{what} has no hashes (a non-empty object is required)", "meta")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()):
        raise _fail(env, f"{what} has a hash that is not a string", "meta")


def _check_metafile(env: Envelope, name: str, meta: object) -> None:
    """One ``meta`` entry: a positive version, and a length and hashes that are well formed when given."""
    what = f"meta entry {printable(name, 80)!r}"
    if not isinstance(meta, dict):
        raise _fail(env, f"{what} is not an object", "meta")
    if not _is_int(meta.get("version"), 1):
        raise _fail(env, f"{what} has no positive integer version", "meta")
    # An explicit null is refused: python-tuf drops it, so the bytes it checks a signature over differ.
    if "length" in meta and not _is_int(meta["length"], 0):
        raise _fail(env, f"{what} has length {printable(meta['length'], 40)!r}; it must be an integer >= 0", "meta")
    if "hashes" in meta:
        _check_hashes(env, meta["hashes"], what)


def _check_timestamp(env: Envelope) -> None:
    """Timestamp structure: ``meta`` holds snapshot.json and nothing else."""
    _check_common(env)
    meta = env.signed.get("meta")
    if not isinstance(meta, dict) or "snapshot.json" not in meta:
        raise _fail(env, "has no entry for snapshot.json", "meta")
    if set(meta) != {"snapshot.json"}:
        # python-tuf keeps only snapshot.json and checks signatures over what it keeps.
        raise _fail(env, "'meta' lists files other than snapshot.json", "meta")
    _check_metafile(env, "snapshot.json", meta["snapshot.json"])


def _check_snapshot(env: Envelope) -> None:
    """Snapshot structure: every ``meta`` entry well formed."""
    _check_common(env)
    meta = env.signed.get("meta")
    if not isinstance(meta, dict):
        raise _fail(env, "'meta' is not an object", "meta")
    for name, entry in meta.items():
        _check_metafile(env, name, entry)


def _check_targets(env: Envelope) -> None:
    """Targets structure: target entries and delegations as python-tuf loads them."""
    _check_common(env)
    targets = env.signed.get("targets")
    if not isinstance(targets, dict):
        raise _fail(env, "'targets' is not an object", "target")
    for path, info in targets.items():
        what = f"target {printable(path, 80)!r}"
        if not isinstance(info, dict):
            raise _fail(env, f"{what} is not an object", "target")
        if not _is_int(info.get("length"), 0):
            raise _fail(env, f"{what} has no length (an integer >= 0)", "target")
        if not isinstance(info.get("hashes"), dict) or not info["hashes"]:
            raise _fail(env, f"{what} has no hashes (a non-empty object is required)", "target")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in info["hashes"].items()):
            raise _fail(env, f"{what} has a hash that is not a string", "target")
    if "delegations" in env.signed:
        _check_delegations(env, env.signed["delegations"])


def _check_cache_name(env: Envelope, name: str) -> None:
    """A client stores a role as quote(name).json; past 255 bytes no file system holds it and the client fails."""
    if len(quote(name, safe="").encode()) + len(".json") > _MAX_FILE_NAME:
        raise _fail(
            env,
            f"delegates to a role named {printable(name, 40)!r}... whose file name clients cannot store "
            f"(more than {_MAX_FILE_NAME} bytes)",
            "delegation",
        )


def _check_delegations(env: Envelope, delegations: object) -> None:
    """Delegations: loadable keys, exactly one of roles and succinct_roles, valid role entries."""
    if not isinstance(delegations, dict):
        raise _fail(env, "'delegations' is not an object", "delegation")
    _check_keys(env, delegations.get("keys"), "delegations")
    if ("roles" in delegations) == ("succinct_roles" in delegations):
        raise _fail(env, "delegations must have exactly one of 'roles' and 'succinct_roles'", "delegation")
    if "succinct_roles" in delegations:
        succinct = delegations["succinct_roles"]
        _check_role_shape(env, succinct, "succinct_roles")
        bits = succinct.get("bit_length")
        # The spec allows 1..32 bits; every bin must be listed in the snapshot, so cap what we walk.
        if not _is_int(bits, 1) or bits > _MAX_SUCCINCT_BITS:
            raise _fail(
                env,
                f"succinct_roles bit_length {printable(bits, 40)!r} is not an integer from 1 to {_MAX_SUCCINCT_BITS}",
                "delegation",
            )
        prefix = succinct.get("name_prefix")
        if not isinstance(prefix, str):
            raise _fail(env, "succinct_roles has no name_prefix", "delegation")
        _check_cache_name(env, f"{prefix}-{'0' * len(f'{2**bits - 1:x}')}")
        return
    roles = delegations["roles"]
    if not isinstance(roles, list):
        raise _fail(env, "delegations 'roles' is not a list", "delegation")
    names: set[str] = set()
    for role_dict in roles:
        name = role_dict.get("name") if isinstance(role_dict, dict) else None
        if not isinstance(name, str) or not name:
            raise _fail(env, "a delegated role has no name", "delegation")
        shown = printable(name, 80)
        if name in TOP_LEVEL_ROLES:
            raise _fail(env, f"delegates to {shown!r}, a top-level role name", "delegation")
        if name in names:
            raise _fail(env, f"delegates to {shown!r} twice", "delegation")
        names.add(name)
        _check_cache_name(env, name)
        _check_role_shape(env, role_dict, name)
        if not isinstance(role_dict.get("terminating"), bool):
            raise _fail(env, f"delegated role {shown!r} has no boolean 'terminating'", "delegation")
        if ("paths" in role_dict) == ("path_hash_prefixes" in role_dict):
            raise _fail(
                env,
                f"delegated role {shown!r} must have exactly one of 'paths' and 'path_hash_prefixes'",
                "delegation",
            )
        patterns = role_dict.get("paths", role_dict.get("path_hash_prefixes"))
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise _fail(env, f"delegated role {shown!r} has paths that are not a list of strings", "delegation")


_STRUCTURE = {
    "root": _check_root,
    "timestamp": _check_timestamp,
    "snapshot": _check_snapshot,
    "targets": _check_targets,
}


def load_envelope(name: str, data: bytes, role_type: str) -> Envelope:
    """Parse ``data`` as a ``role_type`` file and check its whole structure as python-tuf would.

    Raises:
        VerificationError: the file is malformed, of another type, or not loadable by clients.
    """
    env = parse_envelope(name, data, role_type)
    _STRUCTURE[role_type](env)
    return env


# --------------------------------------------------------------------------- keys and signatures


@dataclass(frozen=True)
class RoleKeys:
    """The keys and threshold a delegator assigns to one role."""

    keyids: tuple[str, ...]
    threshold: int
    keys: Mapping[str, Any]  # keyid -> SSlibKey, or a str saying why it is unusable


def _role_keys(source: Envelope, keys_dict: object, role_dict: object, role: str) -> RoleKeys:
    """Extract a role's keys from a root or a delegations object."""
    _check_role_shape(source, role_dict, role)
    assert isinstance(role_dict, dict)  # noqa: S101 - checked just above
    keyids = role_dict["keyids"]
    resolved: dict[str, Any] = {}
    keys_dict = keys_dict if isinstance(keys_dict, dict) else {}
    for keyid in keyids:
        key_obj = keys_dict.get(keyid)
        if not isinstance(key_obj, dict):
            resolved[keyid] = "not in the key list"
            continue
        try:
            resolved[keyid] = _keys.public_key_from_metadata(keyid, key_obj)
        except SigningKeyError as err:
            resolved[keyid] = str(err)
    return RoleKeys(tuple(keyids), role_dict["threshold"], resolved)


@dataclass(frozen=True)
class SignatureCount:
    """How many of a role's keys validly signed a file."""

    valid: tuple[str, ...]
    threshold: int
    total: int

    @property
    def met(self) -> bool:
        """True when the threshold is reached."""
        return len(self.valid) >= self.threshold

    def describe(self) -> str:
        """ "2 of 3 keys, threshold 2"."""
        return f"{len(self.valid)} valid of {self.total} keys, threshold {self.threshold}"


def count_signatures(envelope: Envelope, role_keys: RoleKeys) -> SignatureCount:
    """Count distinct role keys (by public key, not keyid) with a valid signature over the envelope."""
    valid = []
    counted: set[bytes] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # securesystemslib on keytype "ecdsa-sha2-nistp256"
        for keyid in role_keys.keyids:
            key = role_keys.keys.get(keyid)
            sig = envelope.signatures.get(keyid)
            if sig is None or isinstance(key, str) or key is None:
                continue
            identity = _keys.public_key_identity(key)
            if identity in counted:
                continue  # the same key listed under a second keyid counts once
            if _keys.signature_is_valid(key, sig, envelope.payload):
                valid.append(keyid)
                counted.add(identity)
    return SignatureCount(tuple(valid), role_keys.threshold, len(role_keys.keyids))


# --------------------------------------------------------------------------- report


@dataclass
class Check:
    """One verified file, for the report."""

    file: str
    role: str
    version: int
    expires: str
    signatures: str
    note: str = ""


@dataclass
class Report:
    """What was verified. Raised errors carry the failing file; this carries the rest."""

    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    trusted_root: str = ""
    newest_root_version: int = 0
    at: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "trusted_root": self.trusted_root,
            "newest_root_version": self.newest_root_version,
            "at": self.at,
            "checks": [vars(c) for c in self.checks],
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


def _require_threshold(env: Envelope, role_keys: RoleKeys, what: str) -> SignatureCount:
    """Raise unless a threshold of ``role_keys`` signed ``env``."""
    count = count_signatures(env, role_keys)
    if not count.met:
        raise VerificationError(
            f"{env.name}: signed by {len(count.valid)} of the {count.threshold} required keys of {what}",
            env.name,
            "threshold",
        )
    return count


def _require_unexpired(env: Envelope, at: datetime) -> datetime:
    """Raise if ``env`` is expired at ``at``."""
    expires = parse_tuf_date(env.signed.get("expires"), env.name)
    if expires <= at:
        raise VerificationError(
            f"{env.name}: expired at {format_date(expires)} (checked as of {format_date(at)})",
            env.name,
            "expiry",
        )
    return expires


# --------------------------------------------------------------------------- root chain


def _load_root_envelope(name: str, data: bytes, limits: SizeLimits = DEFAULT_LIMITS) -> Envelope:
    """Parse a root file of at most the root size limit and check its whole structure."""
    _check_size(name, data, limits.root, "root")
    return load_envelope(name, data, "root")


def _root_role(env: Envelope, role: str) -> RoleKeys:
    """The keys and threshold root ``env`` gives ``role``."""
    return _role_keys(env, env.signed.get("keys"), env.signed["roles"].get(role), role)


def verify_root_chain(
    files: Mapping[str, bytes], trusted: Envelope, report: Report, limits: SizeLimits = DEFAULT_LIMITS
) -> Envelope:
    """Walk N.root.json from the trusted root; return the newest root.

    Raises:
        VerificationError: a self-signature, rotation, version, structure, size or gap check failed.
    """
    count = _require_threshold(trusted, _root_role(trusted, "root"), f"its own root role (version {trusted.version})")
    report.checks.append(
        Check(
            trusted.name, "root", trusted.version, str(trusted.signed.get("expires")), count.describe(), "trusted root"
        )
    )
    current = trusted
    while (name := f"{current.version + 1}.root.json") in files:
        new = _load_root_envelope(name, files[name], limits)
        if new.version != current.version + 1:
            raise VerificationError(
                f"{name}: holds root version {new.version}, expected {current.version + 1} (swapped or replayed file)",
                name,
                "version",
            )
        old_count = _require_threshold(new, _root_role(current, "root"), f"root version {current.version}")
        new_count = _require_threshold(new, _root_role(new, "root"), f"its own root role (version {new.version})")
        report.checks.append(
            Check(
                name,
                "root",
                new.version,
                str(new.signed.get("expires")),
                f"old root: {old_count.describe()}; new root: {new_count.describe()}",
            )
        )
        current = new
    later = sorted(int(m.group(1)) for n in files if (m := _ROOT_FILE.match(n)) and int(m.group(1)) > current.version)
    if later:
        missing = f"{current.version + 1}.root.json"
        raise VerificationError(
            f"{missing}: missing, but {later[0]}.root.json exists; clients stop at root version {current.version}",
            missing,
            "gap",
        )
    if "root.json" in files and files["root.json"] != current.raw:
        plain = _load_root_envelope("root.json", files["root.json"], limits)
        if plain.version != current.version or plain.payload != current.payload:
            raise VerificationError(
                f"root.json: is root version {plain.version} but the newest in the chain is "
                f"{current.version}.root.json",
                "root.json",
                "root-json",
            )
        # Same signed content in another layout is fine, but a client bootstrapping
        # from root.json checks its signatures too: stripped or broken ones must fail.
        _require_threshold(plain, _root_role(current, "root"), f"root version {current.version}")
    rotations = current.version - trusted.version
    if rotations > MAX_ROOT_ROTATIONS:
        report.warnings.append(
            f"the root chain rotates {rotations} times from {trusted.name}; python-tuf clients stop after "
            f"{MAX_ROOT_ROTATIONS} (max_root_rotations) at version {trusted.version + MAX_ROOT_ROTATIONS} "
            f"and never reach version {current.version}: publish a later trusted root with the clients"
        )
    return current


# --------------------------------------------------------------------------- timestamp, snapshot, targets


def _client_file(files: Container[str], role: str, version: int, consistent: bool) -> tuple[str, str | None]:
    """The name a client fetches for ``role`` at ``version``, and the name present here to read (None: absent).

    With consistent snapshots a client fetches ``N.role.json``. A repository's
    source tree often keeps only ``role.json`` (Sigstore's root-signing
    repositories publish the numbered copies at release), so ``role.json`` is
    read in its place; its version is checked against the delegator's all the same.
    """
    plain = f"{role}.json"
    if not consistent:
        return plain, plain if plain in files else None
    numbered = f"{version}.{role}.json"
    if numbered in files:
        return numbered, numbered
    return numbered, plain if plain in files else None


def _digest(algorithm: str, data: bytes) -> str | None:
    """Hex digest of ``data`` by a metadata hash name, as python-tuf computes it; None if it cannot."""
    try:
        digest = hashlib.blake2b(digest_size=32) if algorithm == "blake2b-256" else hashlib.new(algorithm)
        digest.update(data)
        return digest.hexdigest()
    except (ValueError, TypeError):  # unknown names; shake_* need a length
        return None


def _check_meta(env: Envelope, meta: Mapping[str, Any], delegator: str) -> None:
    """Check version, length and hashes that the delegating file lists for ``env`` (already well formed)."""
    if meta["version"] != env.version:
        raise VerificationError(
            f"{env.name}: is version {env.version} but {delegator} lists version {meta['version']}",
            env.name,
            "version",
        )
    _check_length_and_hashes(env.name, env.raw, meta, delegator)


def _check_length_and_hashes(name: str, data: bytes, meta: Mapping[str, Any], delegator: str) -> None:
    """The length and every hash ``meta`` gives must match ``data``; an algorithm clients lack fails."""
    length = meta.get("length")
    if length is not None and length != len(data):
        raise VerificationError(f"{name}: length {len(data)} differs from {length} in {delegator}", name, "length")
    for algo, expected in (meta.get("hashes") or {}).items():
        actual = _digest(algo, data)
        if actual is None:
            raise VerificationError(
                f"{name}: {delegator} pins it with hash algorithm {printable(algo, 40)!r}, which clients cannot compute",
                name,
                "hash",
            )
        if actual != expected:
            raise VerificationError(f"{name}: {printable(algo, 40)} hash differs from {delegator}", name, "hash")


def _load_listed(
    files: Mapping[str, bytes],
    role: str,
    role_type: str,
    meta: Mapping[str, Any],
    delegator: str,
    consistent: bool,
    limit: int,
) -> Envelope:
    """Read the file a client fetches for ``role`` as ``delegator`` lists it: size, length, hashes, structure."""
    wanted, name = _client_file(files, role, meta["version"], consistent)
    if name is None:
        raise VerificationError(
            f"{wanted}: missing, but {delegator} lists {role} version {meta['version']}; "
            "a client cannot load this repository",
            wanted,
            "missing",
        )
    data = files[name]
    # A client downloads at most the length the delegator gives, else the role's limit (UpdaterConfig).
    # A file within the bound but of another length fails the length check, after the parse has
    # named any malformation.
    length = meta.get("length") or 0
    _check_size(name, data, max(length, limit), role_type, given_length=length > limit)
    env = load_envelope(name, data, role_type)
    _check_meta(env, meta, delegator)
    return env


def _delegated_roles(parent: Envelope) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, role object) of every role ``parent`` delegates to, succinct bins included (already well formed)."""
    delegations = parent.signed.get("delegations")
    if not isinstance(delegations, dict):
        return
    succinct = delegations.get("succinct_roles")
    if isinstance(succinct, dict):
        bits = succinct["bit_length"]
        width = len(f"{2**bits - 1:x}")
        for i in range(2**bits):
            yield f"{succinct['name_prefix']}-{i:0{width}x}", succinct
        return
    for role_dict in delegations["roles"]:
        yield role_dict["name"], role_dict


def _verify_delegated(
    files: Mapping[str, bytes],
    snapshot: Envelope,
    targets: Envelope,
    consistent: bool,
    at: datetime,
    report: Report,
    limits: SizeLimits,
) -> None:
    """Verify every role reachable from ``targets``, against every role that delegates to it.

    A client fetches a delegated role when it looks up a target delegated to
    it; any lookup must succeed, so every delegation must hold: the role is
    listed in the snapshot, present, and signed by a threshold of the keys of
    each delegator.
    """
    snapshot_meta = snapshot.signed["meta"]
    loaded: dict[str, Envelope] = {"targets": targets}
    queue = ["targets"]
    edges: set[tuple[str, str]] = set()
    while queue:
        parent_role = queue.pop(0)
        parent = loaded[parent_role]
        delegations = parent.signed.get("delegations") or {}
        for name, role_dict in _delegated_roles(parent):
            if (parent_role, name) in edges:
                continue
            edges.add((parent_role, name))
            meta = snapshot_meta.get(f"{name}.json")
            if meta is None:
                raise VerificationError(
                    f"{snapshot.name}: does not list {printable(name, 80)}.json, which {parent.name} delegates to; "
                    "a client looking up a target delegated to it fails",
                    snapshot.name,
                    "meta",
                )
            first = name not in loaded
            if first:
                loaded[name] = _load_listed(files, name, "targets", meta, snapshot.name, consistent, limits.targets)
            env = loaded[name]
            role_keys = _role_keys(parent, delegations.get("keys"), role_dict, name)
            count = _require_threshold(env, role_keys, f"role {printable(name, 80)!r} as delegated by {parent.name}")
            expires = _require_unexpired(env, at)
            note = f"delegated by {parent.name}"
            report.checks.append(Check(env.name, name, env.version, format_date(expires), count.describe(), note))
            if first:
                queue.append(name)


def verify_files(
    files: Mapping[str, bytes],
    trusted_root: bytes | None,
    at: datetime,
    trusted_name: str | None = None,
    *,
    limits: SizeLimits = DEFAULT_LIMITS,
) -> Report:
    """Verify a repository held as ``{file name: bytes}``.

    Args:
        files: metadata file names (no directories) mapped to their bytes.
        trusted_root: the root a client trusts; default the lowest N.root.json.
        at: the time to check expiry against (UTC).
        trusted_name: how to name the trusted root in messages.
        limits: the largest file accepted per role (default python-tuf's).

    Raises:
        VerificationError: the first failed check, naming the file.

    Returns:
        A Report of every check that passed, what was not present, and warnings.
    """
    report = Report(at=format_date(at))
    from_directory = trusted_root is None
    if trusted_root is None:
        numbered = sorted((int(m.group(1)), n) for n in files if (m := _ROOT_FILE.match(n)))
        if numbered:
            trusted_name = numbered[0][1]
        elif "root.json" in files:
            trusted_name = "root.json"
        else:
            raise VerificationError("no root metadata: neither N.root.json nor root.json is present", None, "root")
        trusted_root = files[trusted_name]
    trusted_name = trusted_name or "trusted root"
    report.trusted_root = trusted_name
    trusted = _load_root_envelope(trusted_name, trusted_root, limits)
    named = _ROOT_FILE.match(trusted_name) if from_directory else None
    if named and trusted.version != int(named.group(1)):
        # Without this, swapping 1.root.json and 2.root.json was accepted: the chain
        # started from version 2 and never looked at the file holding version 1.
        raise VerificationError(
            f"{trusted_name}: holds root version {trusted.version}, expected {named.group(1)} (swapped or replayed file)",
            trusted_name,
            "version",
        )
    root = verify_root_chain(files, trusted, report, limits)
    report.newest_root_version = root.version
    _require_unexpired(root, at)
    consistent = root.signed.get("consistent_snapshot") is True

    if "timestamp.json" not in files:
        report.skipped.append("timestamp.json not present: only the root chain was verified")
        return report
    timestamp_bytes = files["timestamp.json"]
    _check_size("timestamp.json", timestamp_bytes, limits.timestamp, "timestamp")
    timestamp = load_envelope("timestamp.json", timestamp_bytes, "timestamp")
    count = _require_threshold(
        timestamp, _root_role(root, "timestamp"), f"the timestamp role of root version {root.version}"
    )
    expires = _require_unexpired(timestamp, at)
    report.checks.append(
        Check("timestamp.json", "timestamp", timestamp.version, format_date(expires), count.describe())
    )

    snap_meta = timestamp.signed["meta"]["snapshot.json"]
    snapshot = _load_listed(files, "snapshot", "snapshot", snap_meta, "timestamp.json", consistent, limits.snapshot)
    count = _require_threshold(
        snapshot, _root_role(root, "snapshot"), f"the snapshot role of root version {root.version}"
    )
    expires = _require_unexpired(snapshot, at)
    report.checks.append(Check(snapshot.name, "snapshot", snapshot.version, format_date(expires), count.describe()))

    targets_meta = snapshot.signed["meta"].get("targets.json")
    if targets_meta is None:
        raise VerificationError(f"{snapshot.name}: has no entry for targets.json", snapshot.name, "meta")
    targets = _load_listed(files, "targets", "targets", targets_meta, snapshot.name, consistent, limits.targets)
    count = _require_threshold(targets, _root_role(root, "targets"), f"the targets role of root version {root.version}")
    expires = _require_unexpired(targets, at)
    report.checks.append(Check(targets.name, "targets", targets.version, format_date(expires), count.describe()))
    _verify_delegated(files, snapshot, targets, consistent, at, report, limits)
    return report


# --------------------------------------------------------------------------- reading directories


def _read_limit(limits: SizeLimits) -> int:
    """How much of one file to read: enough for any limit, never less than the usual bound."""
    return max(MAX_FILE_BYTES, limits.largest())


def read_metadata_dir(directory: Path, *, limits: SizeLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read every ``*.json`` entry directly inside ``directory``.

    An entry named like metadata that is not a readable regular file (a
    directory, a FIFO, a dangling or looping symbolic link) is refused, not
    skipped: a client fetching that name would fail, so treating it as absent
    could turn a broken repository into a valid-looking one.

    Raises:
        InputFileError: the directory is missing or unreadable, or an entry is
            not a readable regular file (the entry is named).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(f"{directory}: metadata directory not found")
    limit = _read_limit(limits)
    return {p.name: read_bytes(p, "metadata file", limit) for p in sorted(directory.glob("*.json"))}


def _scan(directory: Path) -> list[str]:
    """Names of every entry in ``directory`` (never following links).

    Raises:
        InputFileError: the directory is missing or unreadable.
    """
    try:
        with os.scandir(directory) as entries:
            return sorted(e.name for e in entries)
    except FileNotFoundError as err:
        raise InputFileError(f"{directory}: metadata directory not found") from err
    except NotADirectoryError as err:
        raise InputFileError(f"{directory}: not a directory") from err
    except OSError as err:
        raise InputFileError(f"{directory}: cannot list the metadata directory ({err.strerror})") from err


def _meta_version(env: Envelope, name: str) -> int | None:
    """The version ``env`` (timestamp or snapshot, already checked) lists for ``name``, if any."""
    entry = env.signed["meta"].get(name)
    return entry["version"] if entry is not None else None


def read_client_files(directory: Path, *, limits: SizeLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read exactly the files a TUF client would fetch from ``directory``, each once, and refuse anything else.

    The names follow the client's walk: ``N.root.json`` from the lowest
    present upward with no gap, ``root.json``, ``timestamp.json``, the snapshot
    it names (``N.snapshot.json`` with consistent snapshots, or
    ``snapshot.json`` where only that is kept, as verify reads it), the
    targets the snapshot names, and every delegated role reachable from
    targets that the snapshot lists, by the name the client would fetch.
    Symbolic links are never followed. Files are parsed only to learn the
    next names: nothing is verified here (``verify_files`` does that, on
    exactly the bytes returned).

    Args:
        directory: the repository's metadata directory.
        limits: size limits; each file is read up to the largest of them (or 16 MiB).

    Raises:
        InputFileError: the directory cannot be listed, a file a client fetches
            is a symbolic link, not a regular file or unreadable, or the
            directory holds any other entry (each named).
        VerificationError: a file needed to learn the next names is malformed.

    Returns:
        ``{file name: bytes}`` of the files a client fetches, for ``verify_files``.
    """
    directory = Path(directory)
    entries = set(_scan(directory))
    limit = _read_limit(limits)
    files: dict[str, bytes] = {}

    def take(name: str) -> bytes:
        if name not in files:
            files[name] = read_bytes(directory / name, "metadata file", limit, follow_symlinks=False)
        return files[name]

    numbered = sorted(int(m.group(1)) for n in entries if (m := _ROOT_FILE.match(n)))
    newest: Envelope | None = None
    if numbered:
        version = numbered[0]
        while f"{version}.root.json" in entries:
            newest = parse_envelope(f"{version}.root.json", take(f"{version}.root.json"), "root")
            version += 1
    if "root.json" in entries:
        plain = parse_envelope("root.json", take("root.json"), "root")
        newest = newest or plain
    consistent = bool(newest and newest.signed.get("consistent_snapshot") is True)

    def fetch(role: str, version: int | None, role_type: str) -> Envelope | None:
        if version is None:
            return None
        _wanted, name = _client_file(entries, role, version, consistent)
        return load_envelope(name, take(name), role_type) if name else None

    if "timestamp.json" in entries:
        timestamp = load_envelope("timestamp.json", take("timestamp.json"), "timestamp")
        snapshot = fetch("snapshot", _meta_version(timestamp, "snapshot.json"), "snapshot")
        if snapshot is not None:
            targets = fetch("targets", _meta_version(snapshot, "targets.json"), "targets")
            queue, seen = ([targets] if targets else []), {"targets"}
            while queue:
                parent = queue.pop(0)
                for name, _role in _delegated_roles(parent):
                    if name in seen:
                        continue
                    seen.add(name)
                    child = fetch(name, _meta_version(snapshot, f"{name}.json"), "targets")
                    if child is not None:
                        queue.append(child)

    for name in sorted(entries - set(files)):
        path = directory / name
        try:
            mode = path.lstat().st_mode
        except OSError:
            mode = 0
        kind = (
            "a symbolic link"
            if stat.S_ISLNK(mode)
            else "a directory"
            if stat.S_ISDIR(mode)
            else "a file"
            if stat.S_ISREG(mode)
            else "an entry"
        )
        reason = (
            "after a gap in the root chain, so no client fetches it"
            if _ROOT_FILE.match(name)
            else "that no TUF client would fetch from this repository"
        )
        raise InputFileError(
            f"{directory / printable(name, 120)}: {kind} {reason}; only the metadata a client fetches may be in "
            "the directory (move anything else out)"
        )
    return files


def verify_directory(
    directory: Path, trusted_root: Path | None, at: datetime, *, limits: SizeLimits = DEFAULT_LIMITS
) -> Report:
    """Verify the metadata directory ``directory`` (see verify_files).

    Raises:
        InputFileError: the directory, an entry named like metadata, or the trusted root cannot be read.
        VerificationError: the first failed check.
    """
    files = read_metadata_dir(directory, limits=limits)
    trusted_bytes = read_bytes(trusted_root, "trusted root", _read_limit(limits)) if trusted_root else None
    return verify_files(files, trusted_bytes, at, str(trusted_root) if trusted_root else None, limits=limits)


def file_digest(data: bytes) -> str:
    """SHA-256 hex of ``data`` (re-exported for callers that report hashes)."""
    return sha256_hex(data)
