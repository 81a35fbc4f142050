"""Build and sign TUF metadata with python-tuf's Metadata API.

This is the only module that imports ``tuf.api``. It builds the top-level
metadata of a new repository, signs it, verifies every signature right after
it is made, and serialises it. Chain verification of whole repositories,
including real ones python-tuf refuses to parse, lives in verify.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from securesystemslib.signer import Key, Signer
from tuf.api.metadata import (
    TOP_LEVEL_ROLE_NAMES,
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError
from tuf.api.serialization.json import CanonicalJSONSerializer, JSONSerializer

from ceremony.core import keys as _keys
from ceremony.core._fs import sha256_hex
from ceremony.errors import InputFileError, MetadataError, PolicyError

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
SPEC_VERSION = "1.0.31"


def _at_second(value: datetime) -> datetime:
    """UTC, whole seconds: the only form every client parses."""
    if value.tzinfo is None:
        raise MetadataError("internal: naive datetime passed as expiry")
    return value.astimezone(UTC).replace(microsecond=0)


def to_bytes(md: Metadata) -> bytes:
    """Serialise metadata as written to disk (indented, sorted keys)."""
    return JSONSerializer(compact=False).serialize(md) + b"\n"


def signed_bytes(md: Metadata) -> bytes:
    """The canonical bytes a signature over ``md.signed`` covers."""
    return CanonicalJSONSerializer().serialize(md.signed)


def sign_metadata(md: Metadata, signers: Sequence[Signer]) -> None:
    """Add one signature per signer and verify each one right after it is made.

    Raises:
        SigningKeyError: a signature does not verify (nothing is kept).
        MetadataError: a signer is not one of the role's keys.
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


def check_role_plan(role: str, plan: RolePlan, now: datetime) -> None:
    """Refuse a role that clients could never verify.

    Raises:
        PolicyError: threshold 0, above the number of keys, duplicate keys, expiry in the past.
    """
    if plan.threshold < 1:
        raise PolicyError(f"{role}: threshold {plan.threshold} is not allowed; it must be at least 1")
    keyids = [k.keyid for k in plan.keys]
    if len(set(keyids)) != len(keyids):
        raise PolicyError(f"{role}: the same key is listed twice")
    if plan.threshold > len(keyids):
        raise PolicyError(
            f"{role}: threshold {plan.threshold} is above the {len(keyids)} key(s) of the role; "
            "clients could never verify it"
        )
    if plan.expires <= now:
        raise PolicyError(f"{role}: expiry {plan.expires:%Y-%m-%d %H:%M:%S} UTC is in the past")


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
    try:
        md = Metadata.from_bytes(data)
    except DeserializationError as err:
        raise InputFileError(f"{source}: not valid TUF metadata ({err})") from err
    if not isinstance(md.signed, Root):
        raise InputFileError(f"{source}: is {md.signed.type} metadata, expected root")
    return md  # type: ignore[return-value]


def role_keys(root: Root, role: str) -> list[Key]:
    """The keys ``root`` assigns to ``role``, in the order it lists them."""
    return [root.keys[keyid] for keyid in root.roles[role].keyids]
