"""N of M: which keys must sign a file, and how many distinct keys validly did.

One result type and one counter for every place that asks "is this signed
enough?": ``verify`` walking a chain, a change before it is published, a sign
request a keyholder opens, and the guided ceremonies' progress lines. The
shape follows python-tuf's ``VerificationResult`` (threshold, signed,
unsigned, verified, missing) so that a reader who knows one knows the other.

Distinct means distinct public keys, not distinct key ids: the same key
listed under two key ids counts once (spec 5.4). python-tuf does not: its
get_verification_result counts key ids, so one key under two ids meets a
threshold of 2 there (observed with python-tuf 7.0); ``tuf_on_ci`` refuses
such roles before a keyholder signs them.
Which keys must sign is never taken from a file's own say-so: it is derived
from the previous root, the new root, or the delegating metadata
(``requirements_for``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ceremony.core import keys as _keys
from ceremony.core import roles as _roles
from ceremony.errors import VerificationError

if TYPE_CHECKING:
    from securesystemslib.signer import Key
    from tuf.api.metadata import Metadata, Root  # noqa: TID251 - types only


@dataclass(frozen=True)
class ThresholdResult:
    """Where one threshold stands: which of its keys signed validly, and which did not (yet)."""

    label: str
    threshold: int
    signed: tuple[str, ...]  # key ids with a valid signature, one per distinct key
    unsigned: tuple[str, ...]  # key ids without one (a duplicate of a signed key is neither)
    role: str = ""
    names: tuple[str, ...] = ()  # labels of the keys that signed, for display (empty: none shown)

    @property
    def verified(self) -> bool:
        """The threshold is reached."""
        return len(self.signed) >= self.threshold

    @property
    def missing(self) -> int:
        """How many more valid signatures are needed."""
        return max(0, self.threshold - len(self.signed))

    @property
    def total(self) -> int:
        """Distinct keys the threshold counts from."""
        return len(self.signed) + len(self.unsigned)

    def describe(self) -> str:
        """ "new root (version 2): 1 of 2", with the signers' names when known.

        More valid signatures than the threshold are not "3 of 2": "3 signed, 2 needed".
        """
        who = f" ({', '.join(self.names)})" if self.names else ""
        done = len(self.signed)
        if done > self.threshold:
            return f"{self.label}: {done} signed, {self.threshold} needed{who}"
        return f"{self.label}: {done} of {self.threshold}{who}"

    def named(self, labels: Mapping[str, str]) -> ThresholdResult:
        """The same result with the signers' labels for display (a key id's start where none is known)."""
        names = tuple(labels.get(k, k[:12]) for k in self.signed)
        return ThresholdResult(self.label, self.threshold, self.signed, self.unsigned, self.role, names)


@dataclass(frozen=True)
class Requirement:
    """A set of keys of which ``threshold`` must sign one file."""

    label: str
    keys: Mapping[str, Key]
    threshold: int


def count(
    keys: Mapping[str, Key | str | None],
    signatures: Mapping[str, str],
    payload: bytes,
    payload_digest: bytes | None = None,
) -> tuple[list[str], list[str]]:
    """(signed, unsigned) key ids: distinct public keys with a valid signature over ``payload``, and the rest.

    A key that could not be loaded (given as a string saying why, or None)
    never counts as signed. The same public key under a second key id counts
    once and is in neither list the second time. Each signature is verified
    once per process, however many thresholds count it (keys.signature_is_valid
    remembers): root N+1's keys mostly are root N's.
    """
    signed: list[str] = []
    counted: set[bytes] = set()
    digest = payload_digest or hashlib.sha256(payload).digest()
    identities = [(keyid, key, _identity(key)) for keyid, key in keys.items()]
    for keyid, key, identity in identities:  # (signature_is_valid silences securesystemslib's deprecations)
        sig = signatures.get(keyid)
        if identity is None or identity in counted or sig is None:
            continue
        if _keys.signature_is_valid(key, sig, payload, payload_digest=digest):  # type: ignore[arg-type]
            signed.append(keyid)
            counted.add(identity)
    unsigned: list[str] = []
    for keyid, _key, identity in identities:
        if keyid in signed or (identity is not None and identity in counted):
            continue
        if identity is not None:
            counted.add(identity)
        unsigned.append(keyid)
    return signed, unsigned


def _identity(key: Key | str | None) -> bytes | None:
    return None if key is None or isinstance(key, str) else _keys.public_key_identity(key)


def evaluate(md: Metadata, requirement: Requirement, role: str = "") -> ThresholdResult:
    """Where ``requirement`` stands for metadata ``md``."""
    from ceremony.core import metadata as _md  # tuf's Metadata API: not needed to count a verify

    signed, unsigned = count(requirement.keys, _md.signatures(md), _md.signed_bytes(md))
    return ThresholdResult(requirement.label, requirement.threshold, tuple(signed), tuple(unsigned), role)


def evaluate_all(reqs: Mapping[str, Sequence[Requirement]], metadata: Mapping[str, Metadata]) -> list[ThresholdResult]:
    """Every requirement of every proposed file."""
    return [evaluate(metadata[role], req, role) for role, role_reqs in reqs.items() for req in role_reqs]


def requirements_for(
    previous_root: Metadata[Root],
    metadata: Mapping[str, Metadata],
    parents: Mapping[str, str],
    context: Mapping[str, Metadata],
) -> dict[str, list[Requirement]]:
    """Which keys must sign each proposed file, derived from the metadata itself.

    Root N+1 needs a threshold of root N's root keys and of its own (spec
    5.3.4); the other top-level roles need the new root's (or the current
    root's) keys; a delegated role needs the keys its delegating metadata
    names, taken from the proposal when it changes too, else from ``context``.

    Raises:
        VerificationError: no delegating metadata names a proposed delegated role.
    """
    from ceremony.core import metadata as _md  # tuf's Metadata API: not needed to count a verify

    new_root = metadata.get("root")
    result: dict[str, list[Requirement]] = {}
    for role, md in metadata.items():
        if role == "root":
            old_keys, old_threshold = _md.root_role(previous_root, "root")
            new_keys, new_threshold = _md.root_role(md, "root")
            result[role] = [
                Requirement(f"old root (version {_md.version(previous_root)})", old_keys, old_threshold),
                Requirement(f"new root (version {_md.version(md)})", new_keys, new_threshold),
            ]
        elif role in _roles.TOP_LEVEL:
            keys, threshold = _md.root_role(new_root or previous_root, role)
            result[role] = [Requirement(f"{role} role", keys, threshold)]
        else:
            parent = parents.get(role)
            if parent == role:  # a role's keys never come from its own file
                parent = None
            parent_md = None if parent is None else metadata[parent] if parent in metadata else context.get(parent)
            delegation = _md.delegation(parent_md, role) if parent_md is not None else None
            if delegation is None:
                raise VerificationError(f"{role}: no delegating metadata names this role", role, "delegation")
            result[role] = [Requirement(f"role {role!r} (delegated by {parent})", delegation[0], delegation[1])]
    return result


def signed_by_own_role(md: Metadata, root: Metadata[Root], role: str) -> bool:
    """``md`` carries a threshold of the signatures ``root`` gives ``role`` (root: its own root keys)."""
    from ceremony.core import metadata as _md  # tuf's Metadata API: not needed to count a verify

    keys, threshold = _md.root_role(root if role != "root" else md, role)
    return evaluate(md, Requirement(role, keys, threshold), role).verified
