"""Verify a TUF metadata directory the way a client would, but for any real repository.

Real roots differ from what the newest clients accept: Sigstore's first roots
use hex ECDSA keys and fractional-second dates with offsets (python-tuf refuses
them), DC Council's TAF repository uses ``rsa-pkcs1v15-sha256`` (tuf-js refuses
it). This verifier is loose on such encodings and strict on everything a
signature covers:

* JSON with duplicate keys or floats is refused (the signed bytes would be ambiguous);
* signatures are checked over the canonical JSON of ``signed``;
* a ``signatures`` list naming one keyid twice rejects the file, as both
  python-tuf and tuf-js do;
* root N+1 needs a threshold of root N's root keys and of its own (spec 5.3.4),
  and every ``N.root.json`` must carry version N, with no gap (the trusted
  root too, when it is taken from the directory);
* ``root.json`` may differ from the newest ``N.root.json`` in layout only: same
  version and canonical ``signed``, and a threshold of valid signatures;
* only the newest root, timestamp, snapshot and targets must be unexpired.

It works on an in-memory ``{file name: bytes}`` mapping, so ``init`` can verify
what it is about to write before anything touches the disk.

It does not fetch anything, and it does not check rollback against an earlier
client state (there is none: it starts from the trusted root).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ceremony.core import keys as _keys
from ceremony.core._fs import sha256_hex
from ceremony.core._json import canonical_bytes, loads_strict, read_bytes
from ceremony.errors import InputFileError, SigningKeyError, UsageError, VerificationError

_ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})$")
TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
_MAX_SUCCINCT_BITS = 16  # 65,536 bins; more than any published repository uses


def parse_tuf_date(text: object, source: str) -> datetime:
    """Parse an ``expires`` value loosely: Z or an offset, any fractional seconds.

    Raises:
        VerificationError: not a date we can read.
    """
    match = _DATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise VerificationError(f"{source}: 'expires' {text!r} is not an RFC 3339 date", source, "format")
    day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        parsed = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}").replace(microsecond=micro, tzinfo=tz)
    except ValueError as err:
        raise VerificationError(f"{source}: 'expires' {text!r} is not a valid date", source, "format") from err
    return parsed.astimezone(UTC)


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
        raise UsageError(f"--at {text!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from err


def format_date(value: datetime) -> str:
    """The strict ``YYYY-MM-DDTHH:MM:SSZ`` form every client parses."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        """The ``signed._type`` field, lower-cased (Notary writes "Root")."""
        return str(self.signed["_type"]).lower()


def parse_envelope(name: str, data: bytes, expected_type: str | None = None) -> Envelope:
    """Parse and structurally check one metadata file.

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
                f"{name}: keyid {entry['keyid'][:12]} signs twice (duplicate signatures are refused)",
                name,
                "duplicate-signature",
            )
        signatures[entry["keyid"]] = entry["sig"]
    version = signed.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise VerificationError(f"{name}: 'version' must be a positive integer", name, "format")
    if not isinstance(signed.get("_type"), str):
        raise VerificationError(f"{name}: '_type' is missing", name, "format")
    if expected_type and signed["_type"].lower() != expected_type:
        raise VerificationError(f"{name}: is a {signed['_type']} file where {expected_type} was expected", name, "type")
    try:
        payload = canonical_bytes(signed)
    except Exception as err:
        raise VerificationError(f"{name}: 'signed' cannot be canonicalised ({err})", name, "format") from err
    return Envelope(name=name, raw=data, signed=signed, signatures=signatures, payload=payload)


@dataclass(frozen=True)
class RoleKeys:
    """The keys and threshold a delegator assigns to one role."""

    keyids: tuple[str, ...]
    threshold: int
    keys: Mapping[str, Any]  # keyid -> SSlibKey, or a str saying why it is unusable


def _role_keys(source: Envelope, keys_dict: object, role_dict: object, role: str) -> RoleKeys:
    """Extract a role's keys from a root or a delegations object."""
    if not isinstance(role_dict, dict):
        raise VerificationError(f"{source.name}: role {role!r} is missing", source.name, "format")
    keyids = role_dict.get("keyids")
    threshold = role_dict.get("threshold")
    if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids):
        raise VerificationError(f"{source.name}: role {role!r} has no keyid list", source.name, "format")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise VerificationError(
            f"{source.name}: role {role!r} has threshold {threshold!r}; it must be at least 1", source.name, "format"
        )
    if len(set(keyids)) != len(keyids):
        raise VerificationError(f"{source.name}: role {role!r} lists a keyid twice", source.name, "format")
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
    return RoleKeys(tuple(keyids), threshold, resolved)


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "trusted_root": self.trusted_root,
            "newest_root_version": self.newest_root_version,
            "at": self.at,
            "checks": [vars(c) for c in self.checks],
            "skipped": self.skipped,
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


def _load_root_envelope(name: str, data: bytes) -> Envelope:
    """Parse a root file and check it names all four top-level roles."""
    env = parse_envelope(name, data, "root")
    roles = env.signed.get("roles")
    if not isinstance(roles, dict) or any(r not in roles for r in TOP_LEVEL_ROLES):
        raise VerificationError(f"{name}: root must define the roles {', '.join(TOP_LEVEL_ROLES)}", name, "format")
    return env


def _root_role(env: Envelope, role: str) -> RoleKeys:
    """The keys and threshold root ``env`` gives ``role``."""
    return _role_keys(env, env.signed.get("keys"), env.signed["roles"].get(role), role)


def verify_root_chain(files: Mapping[str, bytes], trusted: Envelope, report: Report) -> Envelope:
    """Walk N.root.json from the trusted root; return the newest root.

    Raises:
        VerificationError: a self-signature, rotation, version or gap check failed.
    """
    count = _require_threshold(trusted, _root_role(trusted, "root"), f"its own root role (version {trusted.version})")
    report.checks.append(
        Check(
            trusted.name, "root", trusted.version, str(trusted.signed.get("expires")), count.describe(), "trusted root"
        )
    )
    current = trusted
    while (name := f"{current.version + 1}.root.json") in files:
        new = _load_root_envelope(name, files[name])
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
        plain = _load_root_envelope("root.json", files["root.json"])
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
    return current


def _meta(env: Envelope) -> dict[str, Any]:
    """The ``meta`` object of a timestamp or snapshot, refusing any other shape."""
    meta = env.signed.get("meta")
    if not isinstance(meta, dict):
        raise VerificationError(f"{env.name}: 'meta' is not an object", env.name, "format")
    return meta


def _find_file(files: Mapping[str, bytes], role: str, version: int, consistent: bool) -> str | None:
    """Name of the file holding ``role`` at ``version``: N.role.json, else role.json."""
    numbered = f"{version}.{role}.json"
    if consistent and numbered in files:
        return numbered
    if f"{role}.json" in files:
        return f"{role}.json"
    if numbered in files:
        return numbered
    return None


def _check_meta(env: Envelope, meta: object, delegator: str) -> None:
    """Check version, length and hashes that the delegating file lists for ``env``."""
    if not isinstance(meta, dict):
        raise VerificationError(f"{delegator}: has no entry for {env.name}", delegator, "meta")
    if meta.get("version") != env.version:
        raise VerificationError(
            f"{env.name}: is version {env.version} but {delegator} lists version {meta.get('version')}",
            env.name,
            "version",
        )
    length = meta.get("length")
    if length is not None and length != len(env.raw):
        raise VerificationError(
            f"{env.name}: length {len(env.raw)} differs from {length} in {delegator}", env.name, "length"
        )
    hashes = meta.get("hashes") or {}
    if isinstance(hashes, dict):
        import hashlib

        for algo, expected in hashes.items():
            try:
                actual = hashlib.new(algo, env.raw).hexdigest()
            except ValueError:
                continue
            if actual != expected:
                raise VerificationError(f"{env.name}: {algo} hash differs from {delegator}", env.name, "hash")


def _verify_delegated(
    files: Mapping[str, bytes],
    snapshot: Envelope,
    parent: Envelope,
    consistent: bool,
    at: datetime,
    report: Report,
    seen: set[str],
) -> None:
    """Verify every delegated role of ``parent`` whose metadata is present."""
    delegations = parent.signed.get("delegations")
    if not isinstance(delegations, dict):
        return
    roles = list(delegations.get("roles") or [])
    succinct = delegations.get("succinct_roles")
    if isinstance(succinct, dict):
        bits = succinct.get("bit_length")
        prefix = succinct.get("name_prefix")
        # The spec allows 1..32 bits; we expand the bin names, so cap what we walk.
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= _MAX_SUCCINCT_BITS:
            raise VerificationError(
                f"{parent.name}: succinct_roles bit_length {bits!r} is not an integer from 1 to {_MAX_SUCCINCT_BITS}",
                parent.name,
                "format",
            )
        if not isinstance(prefix, str):
            raise VerificationError(f"{parent.name}: succinct_roles has no name_prefix", parent.name, "format")
        width = len(f"{2**bits - 1:x}")
        roles += [{**succinct, "name": f"{prefix}-{i:0{width}x}"} for i in range(2**bits)]
    snapshot_meta = _meta(snapshot)
    for role_dict in roles:
        name = role_dict.get("name") if isinstance(role_dict, dict) else None
        if not isinstance(name, str) or name in seen:
            continue
        meta = snapshot_meta.get(f"{name}.json")
        if not isinstance(meta, dict):
            report.skipped.append(f"{name}: not listed in {snapshot.name}")
            continue
        file_name = _find_file(files, name, meta.get("version", 0), consistent)
        if file_name is None:
            report.skipped.append(f"{name}: metadata not present")
            continue
        seen.add(name)
        env = parse_envelope(file_name, files[file_name], "targets")
        _check_meta(env, meta, snapshot.name)
        role_keys = _role_keys(parent, delegations.get("keys"), role_dict, name)
        count = _require_threshold(env, role_keys, f"role {name!r} as delegated by {parent.name}")
        expires = _require_unexpired(env, at)
        report.checks.append(
            Check(file_name, name, env.version, format_date(expires), count.describe(), f"delegated by {parent.name}")
        )
        _verify_delegated(files, snapshot, env, consistent, at, report, seen)


def verify_files(
    files: Mapping[str, bytes], trusted_root: bytes | None, at: datetime, trusted_name: str | None = None
) -> Report:
    """Verify a repository held as ``{file name: bytes}``.

    Args:
        files: metadata file names (no directories) mapped to their bytes.
        trusted_root: the root a client trusts; default the lowest N.root.json.
        at: the time to check expiry against (UTC).
        trusted_name: how to name the trusted root in messages.

    Raises:
        VerificationError: the first failed check, naming the file.

    Returns:
        A Report of every check that passed and what was not present.
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
    trusted = _load_root_envelope(trusted_name, trusted_root)
    named = _ROOT_FILE.match(trusted_name) if from_directory else None
    if named and trusted.version != int(named.group(1)):
        # Without this, swapping 1.root.json and 2.root.json was accepted: the chain
        # started from version 2 and never looked at the file holding version 1.
        raise VerificationError(
            f"{trusted_name}: holds root version {trusted.version}, expected {named.group(1)} (swapped or replayed file)",
            trusted_name,
            "version",
        )
    root = verify_root_chain(files, trusted, report)
    report.newest_root_version = root.version
    _require_unexpired(root, at)
    consistent = bool(root.signed.get("consistent_snapshot"))

    if "timestamp.json" not in files:
        report.skipped.append("timestamp.json not present: only the root chain was verified")
        return report
    timestamp = parse_envelope("timestamp.json", files["timestamp.json"], "timestamp")
    count = _require_threshold(
        timestamp, _root_role(root, "timestamp"), f"the timestamp role of root version {root.version}"
    )
    expires = _require_unexpired(timestamp, at)
    report.checks.append(
        Check("timestamp.json", "timestamp", timestamp.version, format_date(expires), count.describe())
    )

    snap_meta = _meta(timestamp).get("snapshot.json")
    if not isinstance(snap_meta, dict):
        raise VerificationError("timestamp.json: has no entry for snapshot.json", "timestamp.json", "meta")
    snapshot_name = _find_file(files, "snapshot", snap_meta.get("version", 0), consistent)
    if snapshot_name is None:
        report.skipped.append("snapshot metadata not present: stopped after timestamp.json")
        return report
    snapshot = parse_envelope(snapshot_name, files[snapshot_name], "snapshot")
    _check_meta(snapshot, snap_meta, "timestamp.json")
    count = _require_threshold(
        snapshot, _root_role(root, "snapshot"), f"the snapshot role of root version {root.version}"
    )
    expires = _require_unexpired(snapshot, at)
    report.checks.append(Check(snapshot_name, "snapshot", snapshot.version, format_date(expires), count.describe()))

    targets_meta = _meta(snapshot).get("targets.json")
    if not isinstance(targets_meta, dict):
        raise VerificationError(f"{snapshot_name}: has no entry for targets.json", snapshot_name, "meta")
    targets_name = _find_file(files, "targets", targets_meta.get("version", 0), consistent)
    if targets_name is None:
        report.skipped.append("targets metadata not present: stopped after snapshot")
        return report
    targets = parse_envelope(targets_name, files[targets_name], "targets")
    _check_meta(targets, targets_meta, snapshot_name)
    count = _require_threshold(targets, _root_role(root, "targets"), f"the targets role of root version {root.version}")
    expires = _require_unexpired(targets, at)
    report.checks.append(Check(targets_name, "targets", targets.version, format_date(expires), count.describe()))
    _verify_delegated(files, snapshot, targets, consistent, at, report, {"targets"})
    return report


def read_metadata_dir(directory: Path) -> dict[str, bytes]:
    """Read every ``*.json`` file directly inside ``directory``.

    Raises:
        InputFileError: the directory is missing or unreadable.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(f"{directory}: metadata directory not found")
    return {p.name: read_bytes(p, "metadata file") for p in sorted(directory.glob("*.json")) if p.is_file()}


def verify_directory(directory: Path, trusted_root: Path | None, at: datetime) -> Report:
    """Verify the metadata directory ``directory`` (see verify_files).

    Raises:
        InputFileError: the directory or the trusted root cannot be read.
        VerificationError: the first failed check.
    """
    files = read_metadata_dir(directory)
    trusted_bytes = read_bytes(trusted_root, "trusted root") if trusted_root else None
    return verify_files(files, trusted_bytes, at, str(trusted_root) if trusted_root else None)


def file_digest(data: bytes) -> str:
    """SHA-256 hex of ``data`` (re-exported for callers that report hashes)."""
    return sha256_hex(data)
