"""See before you sign: what changes between two versions, and a hash to read aloud.

Every command that signs shows, against the current version, the keys added
and removed, thresholds, expiries, versions and delegations, then the SHA-256
of the exact canonical bytes to be signed in hex and as BIP-39 words (24 words
for 32 bytes, the last word carrying a checksum), for keyholders to read aloud
and compare (IANA's ksrsigner does the same with PGP words).

Works on plain ``signed`` dictionaries, so it describes imported repositories
with unknown fields and loose encodings as well as our own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mnemonic import Mnemonic

from ceremony.core._json import canonical_bytes

_WORDS = Mnemonic("english")


def digest_words(digest: bytes) -> str:
    """A 32-byte digest as 24 BIP-39 English words."""
    return _WORDS.to_mnemonic(digest)


def payload_digest(payloads: Mapping[str, bytes]) -> bytes:
    """One SHA-256 over every file to be signed: name and canonical bytes, in name order.

    With one file it is simply the SHA-256 of that file's canonical ``signed`` bytes.
    """
    if len(payloads) == 1:
        return hashlib.sha256(next(iter(payloads.values()))).digest()
    outer = hashlib.sha256()
    for name in sorted(payloads):
        outer.update(name.encode() + b"\n" + hashlib.sha256(payloads[name]).digest())
    return outer.digest()


_TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")


def _key_label(keyid: str, keys: Mapping[str, Any]) -> str:
    """A key as the operator recognises it: id prefix, scheme and owner when known."""
    key = keys.get(keyid) or {}
    owner = key.get("x-tuf-on-ci-keyowner") or key.get("x-ceremony-label") or ""
    scheme = key.get("scheme", "?")
    return f"{keyid[:12]} ({scheme}{', ' + owner if owner else ''})"


def _roles_of(signed: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Role name -> role dict for a root (top-level roles) or targets (delegated roles)."""
    if "roles" in signed and isinstance(signed["roles"], dict):
        return dict(signed["roles"])
    delegations = signed.get("delegations") or {}
    return {r["name"]: r for r in delegations.get("roles", []) if isinstance(r, dict) and "name" in r}


def _keys_of(signed: Mapping[str, Any]) -> dict[str, Any]:
    """keyid -> key dict for a root or a targets' delegations."""
    if isinstance(signed.get("keys"), dict):
        return dict(signed["keys"])
    return dict((signed.get("delegations") or {}).get("keys") or {})


def describe_change(name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Human lines for what changes in one file from ``old`` to ``new`` (both ``signed`` dicts)."""
    kind = str(new.get("_type", "")).lower()
    lines = [f"{name} ({kind})"]
    if old is None:
        lines.append(f"  new file, version {new.get('version')}, expires {new.get('expires')}")
    else:
        lines.append(f"  version: {old.get('version')} -> {new.get('version')}")
        if old.get("expires") != new.get("expires"):
            lines.append(f"  expires: {old.get('expires')} -> {new.get('expires')}")
        else:
            lines.append(f"  expires: {new.get('expires')} (unchanged)")
    old_roles = _roles_of(old or {})
    new_roles = _roles_of(new)
    old_keys, new_keys = _keys_of(old or {}), _keys_of(new)
    order = [*new_roles, *[r for r in old_roles if r not in new_roles]]
    if kind == "root":  # python-tuf builds root roles from a set: show them in the spec's order
        order.sort(key=lambda r: (_TOP_LEVEL.index(r) if r in _TOP_LEVEL else len(_TOP_LEVEL), r))
    for role in order:
        before, after = old_roles.get(role), new_roles.get(role)
        if after is None:
            lines.append(f"  role {role}: REMOVED")
            continue
        if before is None and kind != "root":
            lines.append(
                f"  role {role}: ADDED, paths {after.get('paths') or after.get('path_hash_prefixes')}, "
                f"terminating {after.get('terminating', False)}"
            )
        added = [k for k in after.get("keyids", []) if k not in (before or {}).get("keyids", [])]
        removed = [k for k in (before or {}).get("keyids", []) if k not in after.get("keyids", [])]
        threshold_before = (before or {}).get("threshold")
        if before is None or added or removed or threshold_before != after.get("threshold"):
            count = len(after.get("keyids", []))
            if before is None or threshold_before == after.get("threshold"):
                lines.append(
                    f"  role {role}: threshold {after.get('threshold')}{' (unchanged)' if before else ''}, {count} keys"
                )
            else:
                lines.append(f"  role {role}: threshold {threshold_before} -> {after.get('threshold')}, {count} keys")
            lines += [f"    + key {_key_label(k, new_keys)}" for k in added]
            lines += [f"    - key {_key_label(k, old_keys)}" for k in removed]
        if before is not None and kind != "root" and before.get("paths") != after.get("paths"):
            lines.append(f"  role {role}: paths {before.get('paths')} -> {after.get('paths')}")
    if kind == "root" and old is not None and old.get("consistent_snapshot") != new.get("consistent_snapshot"):
        lines.append(f"  consistent_snapshot: {old.get('consistent_snapshot')} -> {new.get('consistent_snapshot')}")
    if "meta" in new:
        old_meta = (old or {}).get("meta") or {}
        for file, meta in sorted((new.get("meta") or {}).items()):
            before_version = (old_meta.get(file) or {}).get("version")
            if before_version != meta.get("version"):
                lines.append(f"  lists {file}: version {before_version} -> {meta.get('version')}")
        for file in sorted(set(old_meta) - set(new.get("meta") or {})):
            lines.append(f"  no longer lists {file}")
    return lines


def signed_digest_hex(signed: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical bytes of one ``signed`` dict."""
    return hashlib.sha256(canonical_bytes(signed)).hexdigest()
