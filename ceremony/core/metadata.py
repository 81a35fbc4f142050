"""The TUF 1.0 dialect: build, edit, sign and serialise metadata with python-tuf's Metadata API.

This is the only module that imports ``tuf.api``. It builds the top-level
metadata of a new repository, signs it, verifies every signature right after
it is made, and serialises it. Chain verification of whole repositories,
including real ones python-tuf refuses to parse, lives in verify.py.

Every module above this one handles metadata only through the functions
listed in ``Dialect``: a second dialect (Notary v1 for Docker Content Trust,
docs/architecture.md) implements the same protocol beside this module, and
``thresholds``, ``policy``, ``requests`` and ``guided`` do not change.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from securesystemslib.signer import Key, Signer
from tuf.api.metadata import (
    TOP_LEVEL_ROLE_NAMES,
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Role,
    Root,
    Signed,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError, SerializationError
from tuf.api.serialization.json import JSONSerializer

from ceremony.core import keys as _keys
from ceremony.core import policy as _policy
from ceremony.core._fs import sha256_hex
from ceremony.core._json import canonical_bytes
from ceremony.core._text import printable
from ceremony.errors import InputFileError, MetadataError, PolicyError

SPEC_VERSION = "1.0.31"

_S = TypeVar("_S", bound=Signed)


def _at_second(value: datetime) -> datetime:
    """UTC, whole seconds: the only form every client parses."""
    if value.tzinfo is None:
        raise MetadataError("internal: naive datetime passed as expiry")
    return value.astimezone(UTC).replace(microsecond=0)


def to_bytes(md: Metadata) -> bytes:
    """Serialise metadata as written to disk (indented, sorted keys).

    Raises:
        MetadataError: the metadata holds text that cannot be encoded (a lone surrogate).
    """
    try:
        return JSONSerializer(compact=False).serialize(md) + b"\n"
    except SerializationError as err:
        raise MetadataError(f"{md.signed.type} metadata cannot be serialised ({err})") from err


def signed_bytes(md: Metadata) -> bytes:
    """The canonical bytes a signature over ``md.signed`` covers.

    Raises:
        MetadataError: the metadata holds text that cannot be encoded (a lone surrogate).
    """
    try:
        return _canonical(md.signed)
    except SerializationError as err:
        raise MetadataError(f"{md.signed.type} metadata cannot be put in canonical form ({err})") from err


def _canonical(signed: Any) -> bytes:
    """The bytes of python-tuf's ``CanonicalJSONSerializer`` for ``signed``, made by ``_json.canonical_bytes``.

    A change of 16,384 hash bins canonicalises each bin three or four times (the digest shown, signing, the
    threshold count); python-tuf's serializer runs securesystemslib's pure-Python encoder, ``canonical_bytes``
    the C encoder of ``json`` with the same output (tests/core/test_json.py holds them to it).

    Raises:
        SerializationError: as python-tuf's serializer raises it (a float, a lone surrogate, a bad type).
    """
    try:
        return canonical_bytes(signed.to_dict())
    except Exception as err:  # python-tuf's serializer wraps any failure the same way
        raise SerializationError from err


def sign_metadata(md: Metadata, signers: Sequence[Signer]) -> None:
    """Add one signature per signer and verify each one right after it is made.

    Whether the signers are the role's keys is not decided here (this module
    does not know the root a role's keys come from): callers verify the whole
    repository as a client would before anything is written.

    Raises:
        SigningKeyError: a signature does not verify (nothing is kept).
    """
    payload = signed_bytes(md)
    for signer in signers:
        signature = _keys.sign_verified(signer, payload)
        md.signatures[signature.keyid] = signature


@dataclass(frozen=True)
class RolePlan:
    """Keys, threshold and expiry for one top-level role of a new repository."""

    keys: tuple[Key, ...]
    threshold: int
    expires: datetime


def build_root(plans: Mapping[str, RolePlan], version: int = 1, consistent_snapshot: bool = False) -> Metadata[Root]:
    """Unsigned root metadata for ``plans`` (one entry per top-level role).

    Raises:
        MetadataError: a top-level role is missing.
    """
    missing = [r for r in TOP_LEVEL_ROLE_NAMES if r not in plans]
    if missing:
        raise MetadataError(f"internal: no plan for role(s) {', '.join(missing)}")
    root = Root(
        version=version,
        spec_version=SPEC_VERSION,
        expires=_at_second(plans["root"].expires),
        consistent_snapshot=consistent_snapshot,
    )
    for role, plan in plans.items():
        root.roles[role] = Role([], plan.threshold)
        for key in plan.keys:
            root.add_key(key, role)
    return Metadata(root)


def build_targets(expires: datetime, version: int = 1) -> Metadata[Targets]:
    """Unsigned, empty top-level targets metadata."""
    return Metadata(Targets(version=version, spec_version=SPEC_VERSION, expires=_at_second(expires)))


def build_snapshot(expires: datetime, targets_version: int, version: int = 1) -> Metadata[Snapshot]:
    """Unsigned snapshot metadata listing ``targets.json`` at ``targets_version``."""
    snapshot = Snapshot(version=version, spec_version=SPEC_VERSION, expires=_at_second(expires))
    snapshot.meta = {"targets.json": MetaFile(version=targets_version)}
    return Metadata(snapshot)


def build_timestamp(
    expires: datetime, snapshot_raw: bytes, snapshot_version: int, version: int = 1
) -> Metadata[Timestamp]:
    """Unsigned timestamp metadata pinning the exact snapshot bytes (length and SHA-256)."""
    timestamp = Timestamp(version=version, spec_version=SPEC_VERSION, expires=_at_second(expires))
    timestamp.snapshot_meta = MetaFile(
        version=snapshot_version, length=len(snapshot_raw), hashes={"sha256": sha256_hex(snapshot_raw)}
    )
    return Metadata(timestamp)


def load_root(data: bytes, source: str) -> Metadata[Root]:
    """Parse root metadata this tool wrote (strict python-tuf rules).

    Raises:
        InputFileError: not valid root metadata.
    """
    md = parse(data, source)
    if not isinstance(md.signed, Root):
        raise InputFileError(f"{source}: is {md.signed.type} metadata, expected root")
    return md


def role_keys(root: Root, role: str) -> list[Key]:
    """The keys ``root`` assigns to ``role``, in the order it lists them.

    Raises:
        MetadataError: ``root`` is not root metadata, or has no such role.
    """
    if not isinstance(root, Root) or role not in root.roles:
        raise MetadataError(f"root metadata with a {role!r} role expected")
    return [root.keys[keyid] for keyid in root.roles[role].keyids if keyid in root.keys]


# --------------------------------------------------------------------------- types python-tuf leaves unchecked
# python-tuf checks values (a threshold below 1, a duplicate keyid) but not every type: a keyid may be a
# number, a threshold a string, a signature a list. Each is refused here, as the file's fault, before
# the rest of the core compares, slices or formats it.


def _is_int(value: object) -> bool:
    """An integer that is not a bool (JSON true is not a version)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text_list(value: object) -> bool:
    """A list of strings."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _type_problem(md: Metadata) -> str | None:
    """What in ``md`` has a type the core cannot use, or None."""
    for keyid, signature in md.signatures.items():
        if not isinstance(keyid, str) or not isinstance(signature.signature, str):
            return "a signature's keyid or sig is not text"
    signed = md.signed
    if not _is_int(signed.version):
        return "its version is not an integer"
    roles: dict[str, Any] = {}
    if isinstance(signed, Root):
        roles = dict(signed.roles)
        if not isinstance(signed.consistent_snapshot, (bool, type(None))):
            return "consistent_snapshot is not true or false"
    elif isinstance(signed, Targets) and signed.delegations is not None:
        delegations = signed.delegations
        for name, role in (delegations.roles or {}).items():
            if not isinstance(role.terminating, bool):
                return f"delegated role {printable(name, 80)!r}: terminating is not true or false"
            for field in ("paths", "path_hash_prefixes"):
                value = getattr(role, field)
                if value is not None and not _is_text_list(value):
                    return f"delegated role {printable(name, 80)!r}: {field} is not a list of text"
            roles[name] = role
        succinct = delegations.succinct_roles
        if succinct is not None:
            if not _is_int(succinct.bit_length) or not isinstance(succinct.name_prefix, str):
                return "succinct_roles: bit_length or name_prefix has the wrong type"
            roles["succinct_roles"] = succinct
    elif isinstance(signed, Snapshot | Timestamp):
        metas = signed.meta if isinstance(signed, Snapshot) else {"snapshot.json": signed.snapshot_meta}
        for name, meta in metas.items():
            if not _is_int(meta.version) or (meta.length is not None and not _is_int(meta.length)):
                return f"meta {printable(name, 80)!r}: version or length is not an integer"
    for name, role in roles.items():
        if not _is_text_list(role.keyids) or not _is_int(role.threshold):
            return f"role {printable(name, 80)!r}: keyids are not a list of text or the threshold is not an integer"
    return None


def _checked(md: Metadata, source: str) -> Metadata:
    """``md`` once every type the core relies on is checked, and its canonical form can be made.

    Raises:
        InputFileError: a field of the wrong type, or text that has no UTF-8 form (a lone surrogate).
    """
    problem = _type_problem(md)
    if problem is None:
        try:
            _canonical(md.signed)
        except SerializationError:
            problem = "it cannot be put in canonical form"
    if problem is not None:
        raise _invalid(source, problem)
    return md


def _invalid(source: str, problem: object) -> InputFileError:
    """The one sentence for metadata a file or request holds that python-tuf or our type checks refuse."""
    return InputFileError(f"{source}: not valid TUF metadata ({printable(problem, 300)})")


def _signed_as(md: Metadata, kind: type[_S], what: str) -> _S:
    """``md.signed`` if it is of ``kind``.

    Raises:
        MetadataError: metadata of another type where ``what`` is needed.
    """
    if not isinstance(md, Metadata) or not isinstance(md.signed, kind):
        found = md.signed.type if isinstance(md, Metadata) else type(md).__name__
        raise MetadataError(f"{what}: {found} metadata where {kind.type} metadata is needed")
    return md.signed


# --------------------------------------------------------------------------- editing existing metadata
# The functions below let changes.py edit metadata without importing tuf.api.
# Unknown fields (x-tuf-on-ci-*, keyid_hash_algorithms, ...) live in python-tuf's
# unrecognized_fields and survive every edit unchanged.


def parse(data: bytes, source: str) -> Metadata:
    """Parse any TUF metadata with python-tuf's strict rules.

    Raises:
        InputFileError: not valid metadata.
    """
    try:
        md = Metadata.from_bytes(data)
    except DeserializationError as err:
        raise _invalid(source, err) from err
    return _checked(md, source)


def from_dict(obj: dict, source: str) -> Metadata:
    """Metadata from a parsed JSON object (as carried in a sign request).

    Raises:
        InputFileError: not valid metadata.
    """
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: not a metadata object")
    try:
        md = Metadata.from_dict(copy.deepcopy(obj))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise _invalid(source, err) from err
    return _checked(md, source)


def to_dict(md: Metadata) -> dict:
    """The metadata as a JSON-ready dict (signed and signatures)."""
    return md.to_dict()


def signed_dict(md: Metadata) -> dict:
    """The ``signed`` part as a dict."""
    return md.signed.to_dict()


def role_type(md: Metadata) -> str:
    """ "root", "targets", "snapshot" or "timestamp"."""
    return md.signed.type


def version(md: Metadata) -> int:
    """The metadata version."""
    return md.signed.version


def expires(md: Metadata) -> datetime:
    """The expiry (UTC)."""
    return md.signed.expires


def signatures(md: Metadata) -> dict[str, str]:
    """keyid -> hex signature."""
    return {keyid: sig.signature for keyid, sig in md.signatures.items()}


def add_signature(md: Metadata, keyid: str, sig_hex: str) -> None:
    """Attach a signature (already verified by the caller)."""
    from securesystemslib.signer import Signature

    md.signatures[keyid] = Signature(keyid, sig_hex)


def next_version(md: Metadata, expires_at: datetime) -> Metadata:
    """A deep copy with version + 1, a new expiry and no signatures."""
    new = Metadata.from_dict(copy.deepcopy(md.to_dict()))
    new.signed.version += 1
    new.signed.expires = _at_second(expires_at)
    new.signatures.clear()
    return new


def root_role(root_md: Metadata[Root], role: str) -> tuple[dict[str, Key], int]:
    """keyid -> key and threshold of a top-level role.

    Raises:
        MetadataError: ``root_md`` is not root metadata (a targets file given as a previous root).
    """
    root = _root_with_role(root_md, role, f"the keys of role {role!r}")
    role_obj = root.roles[role]
    return {keyid: root.keys[keyid] for keyid in role_obj.keyids if keyid in root.keys}, role_obj.threshold


def _root_with_role(root_md: Metadata[Root], role: str, what: str) -> Root:
    """The root of ``root_md``, which must define ``role``.

    Raises:
        MetadataError: not root metadata, or no such role.
    """
    root = _signed_as(root_md, Root, what)
    if role not in root.roles:
        raise MetadataError(f"root metadata has no role {role!r}")
    return root


def edit_root_role(
    root_md: Metadata[Root], role: str, remove: Sequence[str], add: Sequence[Key], threshold: int
) -> None:
    """Remove and add keys of a top-level role and set its threshold.

    Raises:
        PolicyError: a key added twice, or a key to remove that the role does not have.
        MetadataError: ``root_md`` is not root metadata, or has no such role.
    """
    root = _root_with_role(root_md, role, f"editing role {role!r}")
    for keyid in remove:
        if keyid not in root.roles[role].keyids:
            raise PolicyError(f"{role}: key {keyid[:12]} is not one of its keys")
        root.revoke_key(keyid, role)
    _policy.check_distinct_keys(role, [*root.roles[role].keyids, *(key.keyid for key in add)])
    for key in add:
        root.add_key(key, role)
    root.roles[role].threshold = threshold


def delegated_roles(md: Metadata[Targets]) -> list[str]:
    """Names of the roles a targets metadata delegates to (explicit roles only; none for other metadata)."""
    if not isinstance(md, Metadata) or not isinstance(md.signed, Targets):
        return []
    delegations = md.signed.delegations
    if delegations is None or delegations.roles is None:
        return []
    return list(delegations.roles)


def delegation(md: Metadata[Targets], name: str) -> tuple[dict[str, Key], int] | None:
    """keyid -> key and threshold that ``md`` gives delegated role ``name``, or None (never for non-targets)."""
    if not isinstance(md, Metadata) or not isinstance(md.signed, Targets):
        return None
    delegations = md.signed.delegations
    if delegations is None:
        return None
    role: DelegatedRole | SuccinctRoles
    if delegations.roles and name in delegations.roles:
        role = delegations.roles[name]
    elif delegations.succinct_roles is not None and delegations.succinct_roles.is_delegated_role(name):
        role = delegations.succinct_roles
    else:
        return None
    return {k: delegations.keys[k] for k in role.keyids if k in delegations.keys}, role.threshold


def add_delegation(
    md: Metadata[Targets], name: str, keys: Sequence[Key], threshold: int, terminating: bool, paths: Sequence[str]
) -> None:
    """Delegate ``paths`` to a new role ``name`` signed by ``threshold`` of ``keys``.

    Raises:
        PolicyError: the role exists already.
        MetadataError: ``md`` is not targets metadata.
    """
    targets = _signed_as(md, Targets, f"delegating to {name!r}")
    if targets.delegations is None:
        targets.delegations = Delegations(keys={}, roles={})
    if targets.delegations.roles is None:
        raise PolicyError(f"{name}: this role delegates with succinct hash bins; it cannot also name roles")
    _policy.check_new_delegation(name, name in targets.delegations.roles)
    targets.delegations.roles[name] = DelegatedRole(name, [], threshold, terminating, list(paths))
    for key in keys:
        targets.add_key(key, name)


def remove_delegation(md: Metadata[Targets], name: str) -> None:
    """Remove delegated role ``name`` and the keys only it used.

    Raises:
        PolicyError: no such role.
        MetadataError: ``md`` is not targets metadata.
    """
    delegations = _signed_as(md, Targets, f"removing {name!r}").delegations
    if delegations is None or not delegations.roles or name not in delegations.roles:
        raise PolicyError(f"role {name!r} is not delegated here")
    for keyid in list(delegations.roles[name].keyids):
        md.signed.revoke_key(keyid, name)
    del delegations.roles[name]


# --------------------------------------------------------------------------- hash bins (TAP 15 succinct roles)
# One delegation, one key set, 2**bit_length bins named PREFIX-<hex>; python-tuf's SuccinctRoles names the bins
# and routes each target path to one, and the clients route with the same function, so nothing here recomputes it.


def _succinct(md: Metadata) -> SuccinctRoles | None:
    """The hash-bin delegation of a targets metadata, or None (never for other metadata)."""
    if not isinstance(md, Metadata) or not isinstance(md.signed, Targets) or md.signed.delegations is None:
        return None
    return md.signed.delegations.succinct_roles


def succinct_of(md: Metadata[Targets]) -> tuple[str, int] | None:
    """(name_prefix, bit_length) of the hash bins ``md`` delegates to, or None."""
    succinct = _succinct(md)
    return None if succinct is None else (succinct.name_prefix, succinct.bit_length)


def names_roles(md: Metadata[Targets]) -> bool:
    """True when ``md`` delegates to at least one named role (a ``roles`` list that is not empty)."""
    return bool(delegated_roles(md))


def bin_names(md: Metadata[Targets]) -> list[str]:
    """Every bin ``md`` delegates to, in order (empty without hash bins)."""
    succinct = _succinct(md)
    return [] if succinct is None else list(succinct.get_roles())


def bin_for_target(md: Metadata[Targets], path: str) -> str | None:
    """The bin ``md`` routes target ``path`` to, as clients compute it (None without hash bins)."""
    succinct = _succinct(md)
    return None if succinct is None else succinct.get_role_for_target(path)


def add_succinct_delegation(
    md: Metadata[Targets], name_prefix: str, keys: Sequence[Key], threshold: int, bit_length: int
) -> list[str]:
    """Delegate every target path to 2**``bit_length`` bins ``name_prefix-<hex>``, each signed by ``threshold`` of
    ``keys``; return the bin names.

    Raises:
        MetadataError: ``md`` is not targets metadata, or already delegates (the planner refuses that first,
            with policy.check_succinct_parent).
    """
    targets = _signed_as(md, Targets, f"delegating to hash bins {name_prefix!r}")
    if targets.delegations is not None and (targets.delegations.roles or targets.delegations.succinct_roles):
        raise MetadataError(f"internal: hash bins {name_prefix!r} added to a role that already delegates")
    succinct = SuccinctRoles([], threshold, bit_length, name_prefix)
    targets.delegations = Delegations(keys={}, succinct_roles=succinct)
    for key in keys:
        targets.add_key(key)
    return list(succinct.get_roles())


def remove_succinct_delegation(md: Metadata[Targets]) -> list[str]:
    """Remove the hash-bin delegation of ``md`` and its keys; return the names of the bins it had.

    Raises:
        MetadataError: ``md`` is not targets metadata, or has no hash bins.
    """
    targets = _signed_as(md, Targets, "removing hash bins")
    succinct = _succinct(md)
    if succinct is None:
        raise MetadataError("internal: hash bins removed from a role that has none")
    names = list(succinct.get_roles())
    # No delegations left at all: an empty roles list would be a second kind of delegation to explain.
    targets.delegations = None
    return names


def targets_of(md: Metadata[Targets]) -> dict[str, dict[str, Any]]:
    """Target path -> its TUF target object (``length``, ``hashes``, ``custom``) of a targets metadata."""
    targets = _signed_as(md, Targets, "listing targets")
    return {path: info.to_dict() for path, info in targets.targets.items()}


def set_target(md: Metadata[Targets], path: str, data: bytes, algorithms: Sequence[str], custom: Any) -> dict[str, Any]:
    """Add or replace target ``path`` with the length and hashes of ``data`` (and ``custom``, when not None).

    Returns:
        The target object written (``length``, ``hashes``, ``custom``).

    Raises:
        MetadataError: ``md`` is not targets metadata.
    """
    targets = _signed_as(md, Targets, f"adding target {path!r}")
    info = TargetFile.from_data(path, data, list(algorithms))
    if custom is not None:
        info.unrecognized_fields["custom"] = custom
    targets.targets[path] = info
    return info.to_dict()


def remove_target(md: Metadata[Targets], path: str) -> None:
    """Remove target ``path``.

    Raises:
        PolicyError: the role lists no such target.
        MetadataError: ``md`` is not targets metadata.
    """
    targets = _signed_as(md, Targets, f"removing target {path!r}")
    _policy.check_target_listed(path, path in targets.targets)
    del targets.targets[path]


def delegates_path(parent: Metadata[Targets], role: str, path: str) -> bool:
    """True when ``parent`` delegates target ``path`` to ``role`` (its paths, path hash prefixes or hash bins)."""
    delegations = _signed_as(parent, Targets, "delegations").delegations
    if delegations is None:
        return False
    if delegations.roles and role in delegations.roles:
        return bool(delegations.roles[role].is_delegated_path(path))
    if delegations.succinct_roles is not None and delegations.succinct_roles.is_delegated_role(role):
        return bool(delegations.succinct_roles.get_role_for_target(path) == role)
    return False


def same_delegations(old: Metadata[Targets], new: Metadata[Targets]) -> bool:
    """True when two versions of a targets role delegate alike (same keys, roles, thresholds, paths, bins)."""
    old_d, new_d = (
        _signed_as(old, Targets, "delegations").delegations,
        _signed_as(new, Targets, "delegations").delegations,
    )
    return (old_d.to_dict() if old_d else None) == (new_d.to_dict() if new_d else None)


def snapshot_changes(old: Metadata[Snapshot], new: Metadata[Snapshot]) -> set[str]:
    """The files whose entry differs between two snapshots (added, removed or changed).

    Raises:
        MetadataError: either is not snapshot metadata.
    """
    old_meta, new_meta = _signed_as(old, Snapshot, "meta").meta, _signed_as(new, Snapshot, "meta").meta
    return {name for name in old_meta.keys() | new_meta.keys() if old_meta.get(name) != new_meta.get(name)}


def set_snapshot_meta(md: Metadata[Snapshot], file: str, version_: int | None) -> None:
    """List ``file`` at ``version_`` in a snapshot (None removes it).

    Only the version is listed: hashes would pin bytes that, with offline
    signing, are not final until the last signature arrives.

    Raises:
        MetadataError: ``md`` is not snapshot metadata.
    """
    snapshot = _signed_as(md, Snapshot, f"listing {file}")
    if version_ is None:
        snapshot.meta.pop(file, None)
    else:
        snapshot.meta[file] = MetaFile(version=version_)


def snapshot_meta_version(md: Metadata[Snapshot], file: str) -> int | None:
    """Version a snapshot lists for ``file``.

    Raises:
        MetadataError: ``md`` is not snapshot metadata.
    """
    meta = _signed_as(md, Snapshot, f"the version of {file}").meta.get(file)
    return None if meta is None else meta.version


def set_timestamp_snapshot(md: Metadata[Timestamp], snapshot_version: int) -> None:
    """Point a timestamp at snapshot version ``snapshot_version`` (version only, see set_snapshot_meta).

    Raises:
        MetadataError: ``md`` is not timestamp metadata.
    """
    _signed_as(md, Timestamp, "the snapshot version").snapshot_meta = MetaFile(version=snapshot_version)


def timestamp_snapshot_version(md: Metadata[Timestamp]) -> int:
    """The snapshot version a timestamp names.

    Raises:
        MetadataError: ``md`` is not timestamp metadata.
    """
    return _signed_as(md, Timestamp, "the snapshot version").snapshot_meta.version


def consistent_snapshot(root_md: Metadata[Root]) -> bool:
    """Whether clients fetch version-prefixed file names.

    Raises:
        MetadataError: ``root_md`` is not root metadata.
    """
    return bool(_signed_as(root_md, Root, "consistent_snapshot").consistent_snapshot)


class Dialect(Protocol):
    """What the rest of the core may ask of a metadata dialect; this module is the TUF 1.0 one.

    Metadata objects are opaque to callers: they are made, read and changed
    only through these functions (``tests/core/test_metadata.py`` checks this
    module provides every one of them).
    """

    def parse(self, data: bytes, source: str) -> Any: ...
    def from_dict(self, obj: dict, source: str) -> Any: ...
    def to_bytes(self, md: Any) -> bytes: ...
    def to_dict(self, md: Any) -> dict: ...
    def signed_bytes(self, md: Any) -> bytes: ...
    def signed_dict(self, md: Any) -> dict: ...
    def signatures(self, md: Any) -> dict[str, str]: ...
    def add_signature(self, md: Any, keyid: str, sig_hex: str) -> None: ...
    def role_type(self, md: Any) -> str: ...
    def version(self, md: Any) -> int: ...
    def expires(self, md: Any) -> datetime: ...
    def next_version(self, md: Any, expires_at: datetime) -> Any: ...
    def root_role(self, root_md: Any, role: str) -> tuple[dict[str, Key], int]: ...
    def delegation(self, md: Any, name: str) -> tuple[dict[str, Key], int] | None: ...
    def delegated_roles(self, md: Any) -> list[str]: ...


#: The names a dialect must provide (the members of ``Dialect``).
DIALECT_FUNCTIONS = tuple(name for name in Dialect.__dict__ if not name.startswith("_"))
