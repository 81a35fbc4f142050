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
  ``repo_files.SizeLimits``);
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
directory into one, and the size limits, are repo_files.py's; parsing each
file and checking its structure (the items above from JSON to targets) is
envelope.py's; reading and writing dates is dates.py's. This module checks
signatures and thresholds, the root chain, each file against what its
delegator lists, and expiry.

The deliberate looseness (Sigstore's dates and hex keys, ``role.json`` read in
place of ``N.role.json``, a root-only directory) is listed in docs/interop.md.

It does not fetch anything, and it does not check rollback against an earlier
client state (there is none: it starts from the trusted root).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ceremony.core import _workers
from ceremony.core import keys as _keys
from ceremony.core import thresholds as _thresholds
from ceremony.core._json import read_bytes
from ceremony.core._text import plural, printable
from ceremony.core.dates import format_date, parse_tuf_date
from ceremony.core.envelope import Envelope, check_role_shape, delegations_of, load_envelope
from ceremony.core.repo_files import (
    DEFAULT_LIMITS,
    ROOT_FILE,
    MetadataDirectory,
    SizeLimits,
    check_size,
    client_file,
    read_limit,
)
from ceremony.core.thresholds import ThresholdResult
from ceremony.errors import CeremonyError, SigningKeyError, VerificationError

#: python-tuf's UpdaterConfig.max_root_rotations: its client stops updating the root after this many.
MAX_ROOT_ROTATIONS = 256


# --------------------------------------------------------------------------- keys and signatures


@dataclass(frozen=True)
class RoleKeys:
    """The keys and threshold a delegator assigns to one role."""

    keyids: tuple[str, ...]
    threshold: int
    keys: Mapping[str, Any]  # keyid -> SSlibKey, or a str saying why it is unusable


def _role_keys(source: Envelope, keys_dict: object, role_dict: object, role: str) -> RoleKeys:
    """Extract a role's keys from a root or a delegations object."""
    check_role_shape(source, role_dict, role)
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


def count_signatures(envelope: Envelope, role_keys: RoleKeys) -> ThresholdResult:
    """Distinct role keys (by public key, not keyid) with a valid signature over the envelope (thresholds.count)."""
    keys = {keyid: role_keys.keys.get(keyid) for keyid in role_keys.keyids}
    digest = envelope.derived.get(("payload", "sha256"))
    if digest is None:
        digest = envelope.derived[("payload", "sha256")] = hashlib.sha256(envelope.payload).digest()
    signed, unsigned = _thresholds.count(keys, envelope.signatures, envelope.payload, digest)
    return ThresholdResult(envelope.name, role_keys.threshold, tuple(signed), tuple(unsigned))


def _describe_count(result: ThresholdResult, role_keys: RoleKeys) -> str:
    """ "2 valid of 3 keys, threshold 2", as the report shows it."""
    return f"{len(result.signed)} valid of {plural(len(role_keys.keyids), 'key')}, threshold {result.threshold}"


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


def _require_threshold(env: Envelope, role_keys: RoleKeys, what: str) -> str:
    """Raise unless a threshold of ``role_keys`` signed ``env``."""
    count = count_signatures(env, role_keys)
    if not count.verified:
        raise VerificationError(
            f"{env.name}: signed by {len(count.signed)} of the {count.threshold} required keys of {what}",
            env.name,
            "threshold",
        )
    return _describe_count(count, role_keys)


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
    check_size(name, data, limits.root, "root")
    return load_envelope(name, data, "root")


def _root_role(env: Envelope, role: str) -> RoleKeys:
    """The keys and threshold root ``env`` gives ``role`` (worked out once per file: a chain asks twice)."""
    found = env.derived.get(("root role", role))
    if found is None:
        found = env.derived[("root role", role)] = _role_keys(
            env, env.signed.get("keys"), env.signed["roles"].get(role), role
        )
    return found


def _require_root_version(env: Envelope, expected: int) -> None:
    """N.root.json holds root version N.

    Raises:
        VerificationError: another version (a swapped or replayed file).
    """
    if env.version != expected:
        raise VerificationError(
            f"{env.name}: holds root version {env.version}, expected {expected} (swapped or replayed file)",
            env.name,
            "version",
        )


def _rotation(files: Mapping[str, bytes], current: Envelope, name: str, limits: SizeLimits) -> tuple[Envelope, Check]:
    """Root ``name`` (version N+1) loaded and checked against ``current`` (version N): version, both thresholds.

    Raises:
        VerificationError: any of those checks failed.
    """
    new = _load_root_envelope(name, files[name], limits)
    _require_root_version(new, current.version + 1)
    old_count = _require_threshold(new, _root_role(current, "root"), f"root version {current.version}")
    new_count = _require_threshold(new, _root_role(new, "root"), f"its own root role (version {new.version})")
    summary = f"old root: {old_count}; new root: {new_count}"
    return new, Check(name, "root", new.version, str(new.signed.get("expires")), summary)


def _previous(
    files: Mapping[str, bytes], trusted: Envelope, names: list[str], index: int, limits: SizeLimits
) -> Envelope:
    """The root that rotation ``index`` (to ``names[index]``) starts from."""
    if index == 0:
        return trusted
    return _load_root_envelope(names[index - 1], files[names[index - 1]], limits)


#: One rotation as a worker reports it: its Check (None: it failed, and the caller raises its error), the
#: digest of the new root's bytes, and for the first rotation of a run the digest of the root it started from.
_Step = tuple[Check | None, str, str | None]


def _rotations(
    files: Mapping[str, bytes], trusted: Envelope, names: list[str], limits: SizeLimits, newest: dict[int, Envelope]
) -> Callable[[Sequence[int]], list[_Step]]:
    """A worker for ``_workers.split_map``: each rotation of a run of them, in order. Any refusal (a check, an
    unreadable or oversized file) ends the run as a failure, so the caller raises the first one in chain order
    whichever process met it. ``newest`` receives the last root this process verified, by index."""

    def work(indices: Sequence[int]) -> list[_Step]:
        results: list[_Step] = []
        current: Envelope | None = None
        for index in indices:
            start = None
            try:
                if current is None:
                    current = _previous(files, trusted, names, index, limits)
                    start = _digest("sha256", current.raw)
                current, check = _rotation(files, current, names[index], limits)
            except CeremonyError:
                failed: list[_Step] = [(None, "", start)]
                return results + failed * (len(indices) - len(results))
            results.append((check, _digest("sha256", current.raw) or "", start))
        if current is not None and indices:
            newest.clear()
            newest[indices[-1]] = current
        return results

    return work


def _changed(name: str) -> VerificationError:
    return VerificationError(
        f"{name}: changed while it was being verified (read twice, with different bytes); verify a copy that "
        "nothing else writes to",
        name,
        "changed",
    )


def verify_root_chain(
    files: Mapping[str, bytes], trusted: Envelope, report: Report, limits: SizeLimits = DEFAULT_LIMITS
) -> Envelope:
    """Walk N.root.json from the trusted root; return the newest root.

    Raises:
        VerificationError: a self-signature, rotation, version, structure, size or gap check failed.
    """
    count = _require_threshold(trusted, _root_role(trusted, "root"), f"its own root role (version {trusted.version})")
    report.checks.append(
        Check(trusted.name, "root", trusted.version, str(trusted.signed.get("expires")), count, "trusted root")
    )
    names: list[str] = []
    while (name := f"{trusted.version + len(names) + 1}.root.json") in files:
        names.append(name)
    # Each rotation depends only on two files (root N and N+1), so the two halves of a long chain are
    # verified side by side; the results are read in chain order, so the first failure is still the one raised.
    # Where a run starts, root N was read a second time: it must be the very bytes the run before verified.
    newest: dict[int, Envelope] = {}
    steps = _workers.split_map(_rotations(files, trusted, names, limits, newest), range(len(names)))
    verified = _digest("sha256", trusted.raw)
    for index, (check, digest, start) in enumerate(steps):
        if start is not None and start != verified:
            raise _changed(names[index - 1])
        if check is None:  # the first failed rotation: done again here, to raise its error
            previous = _previous(files, trusted, names, index, limits)
            if _digest("sha256", previous.raw) != verified:
                raise _changed(names[index - 1])
            new, check = _rotation(files, previous, names[index], limits)
            digest = _digest("sha256", new.raw) or ""
        report.checks.append(check)
        verified = digest
    # The newest root as verified here, or, when the other process verified it, read again and compared.
    current = newest.get(len(names) - 1) or _previous(files, trusted, names, len(names), limits)
    if _digest("sha256", current.raw) != verified:
        raise _changed(current.name)
    later = sorted(int(m.group(1)) for n in files if (m := ROOT_FILE.match(n)) and int(m.group(1)) > current.version)
    if later:
        missing = f"{current.version + 1}.root.json"
        raise VerificationError(
            f"{missing}: missing, but {later[0]}.root.json exists; clients stop at root version {current.version}",
            missing,
            "gap",
        )
    plain_bytes = files.get("root.json")  # read once: a directory may be read as it is looked up
    if plain_bytes is not None and plain_bytes != current.raw:
        plain = _load_root_envelope("root.json", plain_bytes, limits)
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
    wanted, name = client_file(files, role, meta["version"], consistent)
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
    check_size(name, data, max(length, limit), role_type, given_length=length > limit)
    env = load_envelope(name, data, role_type)
    _check_meta(env, meta, delegator)
    return env


def _verify_delegated(
    files: Mapping[str, bytes],
    snapshot: Envelope,
    targets: Envelope,
    consistent: bool,
    at: datetime,
    report: Report,
    limits: SizeLimits,
    unchanged: Container[str] = frozenset(),
) -> None:
    """Verify every role reachable from ``targets``, against every role that delegates to it.

    A client fetches a delegated role when it looks up a target delegated to
    it; any lookup must succeed, so every delegation must hold: the role is
    listed in the snapshot, present, and signed by a threshold of the keys of
    each delegator. A role in ``unchanged`` (publish: a hash bin a change does
    not touch, verified when it was published) is only looked for.
    """
    snapshot_meta = snapshot.signed["meta"]
    loaded: dict[str, Envelope] = {"targets": targets}
    queue = ["targets"]
    edges: set[tuple[str, str]] = set()
    while queue:
        parent_role = queue.pop(0)
        parent = loaded[parent_role]
        delegations = parent.signed.get("delegations") or {}
        # Hash bins share one role object: its keys are loaded once, not once per bin.
        keys_of: dict[int, RoleKeys] = {}
        for name, role_dict in delegations_of(parent):
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
            if name in unchanged:
                wanted, present = client_file(files, name, meta["version"], consistent)
                if present is None:
                    raise VerificationError(
                        f"{wanted}: missing, but {snapshot.name} lists {printable(name, 80)} version "
                        f"{meta['version']}; a client cannot load this repository",
                        wanted,
                        "missing",
                    )
                continue
            first = name not in loaded
            if first:
                loaded[name] = _load_listed(files, name, "targets", meta, snapshot.name, consistent, limits.targets)
            env = loaded[name]
            if id(role_dict) not in keys_of:
                keys_of[id(role_dict)] = _role_keys(parent, delegations.get("keys"), role_dict, name)
            role_keys = keys_of[id(role_dict)]
            result = count_signatures(env, role_keys)
            count = (
                _describe_count(result, role_keys)
                if result.verified  # the sentence of a failure only when it fails: 16,384 bins pass
                else _require_threshold(env, role_keys, f"role {printable(name, 80)!r} as delegated by {parent.name}")
            )
            expires = _require_unexpired(env, at)
            note = f"delegated by {parent.name}"
            report.checks.append(Check(env.name, name, env.version, format_date(expires), count, note))
            if first:
                queue.append(name)


def verify_files(
    files: Mapping[str, bytes],
    trusted_root: bytes | None,
    at: datetime,
    trusted_name: str | None = None,
    *,
    limits: SizeLimits = DEFAULT_LIMITS,
    unchanged: Container[str] = frozenset(),
) -> Report:
    """Verify a repository held as ``{file name: bytes}``.

    Args:
        files: metadata file names (no directories) mapped to their bytes.
        trusted_root: the root a client trusts; default the lowest N.root.json.
        at: the time to check expiry against (UTC).
        trusted_name: how to name the trusted root in messages.
        limits: the largest file accepted per role (default python-tuf's).
        unchanged: delegated roles only looked for, not loaded (publish passes the hash bins a change leaves
            as they were published; every other caller verifies everything).

    Raises:
        VerificationError: the first failed check, naming the file.

    Returns:
        A Report of every check that passed, what was not present, and warnings.
    """
    report = Report(at=format_date(at))
    from_directory = trusted_root is None
    if trusted_root is None:
        numbered = sorted((int(m.group(1)), n) for n in files if (m := ROOT_FILE.match(n)))
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
    named = ROOT_FILE.match(trusted_name) if from_directory else None
    if named:
        # Without this, swapping 1.root.json and 2.root.json was accepted: the chain
        # started from version 2 and never looked at the file holding version 1.
        _require_root_version(trusted, int(named.group(1)))
    root = verify_root_chain(files, trusted, report, limits)
    report.newest_root_version = root.version
    _require_unexpired(root, at)
    consistent = root.signed.get("consistent_snapshot") is True

    if "timestamp.json" not in files:
        report.skipped.append("timestamp.json not present: only the root chain was verified")
        return report
    timestamp_bytes = files["timestamp.json"]
    check_size("timestamp.json", timestamp_bytes, limits.timestamp, "timestamp")
    timestamp = load_envelope("timestamp.json", timestamp_bytes, "timestamp")
    count = _require_threshold(
        timestamp, _root_role(root, "timestamp"), f"the timestamp role of root version {root.version}"
    )
    expires = _require_unexpired(timestamp, at)
    report.checks.append(Check("timestamp.json", "timestamp", timestamp.version, format_date(expires), count))

    snap_meta = timestamp.signed["meta"]["snapshot.json"]
    snapshot = _load_listed(files, "snapshot", "snapshot", snap_meta, "timestamp.json", consistent, limits.snapshot)
    count = _require_threshold(
        snapshot, _root_role(root, "snapshot"), f"the snapshot role of root version {root.version}"
    )
    expires = _require_unexpired(snapshot, at)
    report.checks.append(Check(snapshot.name, "snapshot", snapshot.version, format_date(expires), count))

    targets_meta = snapshot.signed["meta"].get("targets.json")
    if targets_meta is None:
        raise VerificationError(f"{snapshot.name}: has no entry for targets.json", snapshot.name, "meta")
    targets = _load_listed(files, "targets", "targets", targets_meta, snapshot.name, consistent, limits.targets)
    count = _require_threshold(targets, _root_role(root, "targets"), f"the targets role of root version {root.version}")
    expires = _require_unexpired(targets, at)
    report.checks.append(Check(targets.name, "targets", targets.version, format_date(expires), count))
    _verify_delegated(files, snapshot, targets, consistent, at, report, limits, unchanged)
    return report


# --------------------------------------------------------------------------- a directory


def verify_directory(
    directory: Path, trusted_root: Path | None, at: datetime, *, limits: SizeLimits = DEFAULT_LIMITS
) -> Report:
    """Verify the metadata directory ``directory`` (see verify_files).

    Raises:
        InputFileError: the directory, an entry named like metadata, or the trusted root cannot be read.
        VerificationError: the first failed check.
    """
    files = MetadataDirectory(directory, limits)
    trusted_bytes = read_bytes(trusted_root, "trusted root", read_limit(limits)) if trusted_root else None
    return verify_files(files, trusted_bytes, at, str(trusted_root) if trusted_root else None, limits=limits)
