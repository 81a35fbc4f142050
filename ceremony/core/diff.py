"""See before you sign: what changes between two versions, and a hash to read aloud.

Every command that signs shows, against the current version, the keys added
and removed, thresholds, expiries, versions and delegations, then the SHA-256
of the exact canonical bytes to be signed in hex and as BIP-39 words (24 words
for 32 bytes, the last word carrying a checksum), for keyholders to read aloud
and compare (IANA's ksrsigner does the same with PGP words).

Works on plain ``signed`` dictionaries, so it describes imported repositories
with unknown fields and loose encodings as well as our own; every value it
quotes from a file is escaped with ``_text.printable``, so a crafted string
cannot move the cursor, hide text or fake a line where the diff is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mnemonic import Mnemonic

from ceremony.core._json import canonical_bytes, read_bytes
from ceremony.core._text import plural, printable
from ceremony.core.envelope import parse_envelope
from ceremony.core.roles import TOP_LEVEL
from ceremony.errors import UsageError

if TYPE_CHECKING:
    from ceremony.core.workspace import Workspace

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


def _obj(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a loose file describes what it can)."""
    return value if isinstance(value, dict) else {}


def _keyids(role: Mapping[str, Any]) -> list[str]:
    """A role's keyids that are text (anything else in the list is not a key id)."""
    keyids = role.get("keyids")
    return [k for k in keyids if isinstance(k, str)] if isinstance(keyids, list) else []


def _v(value: object, limit: int = 200) -> str:
    """A value from the file as inert text (controls escaped, long values cut)."""
    return printable(value, limit)


def _shown(value: object, limit: int = 200) -> str:
    """A field's value as ``_v`` shows it, and "(absent)" for a field the file does not have (never "None")."""
    return "(absent)" if value is None else _v(value, limit)


def _key_label(keyid: str, keys: Mapping[str, Any]) -> str:
    """A key as the operator recognises it: id prefix, scheme and owner when known."""
    key = _obj(keys.get(keyid))
    owner = key.get("x-tuf-on-ci-keyowner") or key.get("x-ceremony-label") or ""
    scheme = key.get("scheme") or key.get("keytype") or "?"  # Notary keys have a keytype only
    return f"{_v(keyid[:12])} ({_v(scheme, 40)}{', ' + _v(owner, 80) if owner else ''})"


def _roles_of(signed: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Role name -> role dict for a root (top-level roles) or targets (delegated roles)."""
    if isinstance(signed.get("roles"), dict):
        return {name: role for name, role in signed["roles"].items() if isinstance(role, dict)}
    delegations = _obj(signed.get("delegations"))
    found: dict[str, dict[str, Any]] = {}
    succinct = delegations.get("succinct_roles")
    if isinstance(succinct, dict):
        # Hash bins (TAP 15): one key set for every bin, shown as one role so the keyholder sees its keys,
        # threshold and how many bins the paths are split into.
        bits = succinct.get("bit_length")
        count = 2**bits if isinstance(bits, int) and not isinstance(bits, bool) and 0 < bits <= 32 else bits
        name = f"{str(succinct.get('name_prefix'))[:60]}-* (hash bins)"
        found[name] = {
            "keyids": succinct.get("keyids"),
            "threshold": succinct.get("threshold"),
            "paths": f"every path, by its hash, into {_shown(count, 20)} bins",
            "terminating": True,
        }
    roles = delegations.get("roles")
    if isinstance(roles, list):
        found.update({r["name"]: r for r in roles if isinstance(r, dict) and isinstance(r.get("name"), str)})
    return found


def _keys_of(signed: Mapping[str, Any]) -> dict[str, Any]:
    """keyid -> key dict for a root or a targets' delegations."""
    if isinstance(signed.get("keys"), dict):
        return dict(signed["keys"])
    return dict(_obj(_obj(signed.get("delegations")).get("keys")))


#: Target lines shown in one diff; a larger change is summarised after them.
MAX_TARGET_LINES = 500


def _target_info(meta: object) -> str:
    """A target's length and first hash as the operator checks them (hash cut to 16 characters)."""
    info = _obj(meta)
    hashes = _obj(info.get("hashes"))
    first = next(iter(sorted(hashes.items())), None)
    digest = f", {_v(first[0], 20)} {_v(str(first[1])[:16])}" if first else ""
    length = info.get("length")
    size = plural(length, "byte") if type(length) is int else f"{_shown(length, 20)} bytes"
    return f"{size}{digest}"


def _target_lines(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Each target added, removed or changed (length or hashes), in name order."""
    lines = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"  + target {_v(name)}: {_target_info(new[name])}")
        elif name not in new:
            lines.append(f"  - target {_v(name)}")
        elif old[name] != new[name]:
            lines.append(f"  ~ target {_v(name)}: {_target_info(old[name])} -> {_target_info(new[name])}")
    if len(lines) > MAX_TARGET_LINES:
        lines = [*lines[:MAX_TARGET_LINES], f"  ... and {len(lines) - MAX_TARGET_LINES} more target changes"]
    return lines


def _delegation_of(role: str, delegator: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry of ``delegator`` (a targets ``signed`` dict) that delegates to ``role``: by name, or its hash bins."""
    delegations = _obj(delegator.get("delegations"))
    for entry in delegations.get("roles") or []:
        if isinstance(entry, dict) and entry.get("name") == role:
            return entry
    succinct = _obj(delegations.get("succinct_roles"))
    prefix = succinct.get("name_prefix")
    if isinstance(prefix, str) and role.startswith(f"{prefix}-"):
        return succinct
    return None


def _new_file_line(new: Mapping[str, Any], role: str | None, delegator: Mapping[str, Any] | None) -> str:
    """The line that says a file is new: for a new role, with the keys and threshold its delegating role gives it."""
    version, expires = _shown(new.get("version")), _shown(new.get("expires"))
    if role is None:
        return f"  new file, version {version}, expires {expires}"
    line = f"  new role {_v(role, 100)}: version {version}, expires {expires}"
    entry = _delegation_of(role, _obj(delegator)) if delegator is not None else None
    if entry is None:
        return line
    keys = _keys_of(_obj(delegator))
    shown = ", ".join(_key_label(k, keys) for k in _keyids(entry)) or "none"
    return f"{line}, keys {shown}, threshold {_shown(entry.get('threshold'))}"


def describe_change(
    name: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    role: str | None = None,
    delegator: Mapping[str, Any] | None = None,
) -> list[str]:
    """Human lines for what changes in one file from ``old`` to ``new`` (both ``signed`` dicts).

    Never raises for a loose or hostile file: a field of the wrong type is
    described as absent (never as "None"), and every value taken from the
    files is printable (controls and bidirectional overrides escaped, long
    values cut), so the lines can go to a terminal or a screen as they are.

    Args:
        name: the file name shown.
        old: the current version's ``signed``, or None for a file that is new.
        new: the new version's ``signed``.
        role: for a new file, the role it is the first version of ("new role NAME").
        delegator: for a new delegated role, the ``signed`` of the role that delegates to it (the new role's
            keys and threshold are there, and the line names them).
    """
    new = _obj(new)
    old = None if old is None else _obj(old)
    kind = _v(new.get("_type", ""), 40).lower()
    lines = [f"{_v(name)} ({kind})"]
    if old is None:
        lines.append(_new_file_line(new, None if kind == "root" else role, delegator))
    else:
        lines.append(f"  version: {_shown(old.get('version'))} -> {_shown(new.get('version'))}")
        if old.get("expires") != new.get("expires"):
            lines.append(f"  expires: {_shown(old.get('expires'))} -> {_shown(new.get('expires'))}")
        else:
            lines.append(f"  expires: {_shown(new.get('expires'))} (unchanged)")
    old_roles = _roles_of(old or {})
    new_roles = _roles_of(new)
    old_keys, new_keys = _keys_of(old or {}), _keys_of(new)
    order = [*new_roles, *[r for r in old_roles if r not in new_roles]]
    if kind == "root":  # python-tuf builds root roles from a set: show them in the spec's order
        order.sort(key=lambda r: (TOP_LEVEL.index(r) if r in TOP_LEVEL else len(TOP_LEVEL), r))
    for role in order:
        before, after = old_roles.get(role), new_roles.get(role)
        shown = _v(role, 100)
        if after is None:
            lines.append(f"  role {shown}: REMOVED")
            continue
        if before is None and kind != "root":
            lines.append(
                f"  role {shown}: ADDED, paths {_shown(after.get('paths') or after.get('path_hash_prefixes'))}, "
                f"terminating {_shown(after.get('terminating', False))}"
            )
        keyids_before, keyids_after = _keyids(before or {}), _keyids(after)
        added = [k for k in keyids_after if k not in keyids_before]
        removed = [k for k in keyids_before if k not in keyids_after]
        threshold_before, threshold_after = (before or {}).get("threshold"), after.get("threshold")
        if before is None or added or removed or threshold_before != threshold_after:
            count = len(keyids_after)
            if before is None or threshold_before == threshold_after:
                unchanged = " (unchanged)" if before else ""
                lines.append(f"  role {shown}: threshold {_shown(threshold_after)}{unchanged}, {plural(count, 'key')}")
            else:
                lines.append(
                    f"  role {shown}: threshold {_shown(threshold_before)} -> {_shown(threshold_after)}, "
                    f"{plural(count, 'key')}"
                )
            lines += [f"    + key {_key_label(k, new_keys)}" for k in added]
            lines += [f"    - key {_key_label(k, old_keys)}" for k in removed]
        if before is not None and kind != "root" and before.get("paths") != after.get("paths"):
            lines.append(f"  role {shown}: paths {_shown(before.get('paths'))} -> {_shown(after.get('paths'))}")
    if kind == "root" and old is not None and old.get("consistent_snapshot") != new.get("consistent_snapshot"):
        lines.append(
            f"  consistent_snapshot: {_shown(old.get('consistent_snapshot'))} -> {_shown(new.get('consistent_snapshot'))}"
        )
    if kind == "targets":
        lines += _target_lines(_obj((old or {}).get("targets")), _obj(new.get("targets")))
    if "meta" in new:
        old_meta, new_meta = _obj((old or {}).get("meta")), _obj(new.get("meta"))
        for file, meta in sorted(new_meta.items()):
            before_version, after_version = _obj(old_meta.get(file)).get("version"), _obj(meta).get("version")
            if file not in old_meta:
                lines.append(f"  lists {_v(file)} (new): version {_shown(after_version)}")
            elif before_version != after_version:
                lines.append(f"  lists {_v(file)}: version {_shown(before_version)} -> {_shown(after_version)}")
        for file in sorted(set(old_meta) - set(new_meta)):
            lines.append(f"  no longer lists {_v(file)}")
    return lines


def signed_digest_hex(signed: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical bytes of one ``signed`` dict."""
    return hashlib.sha256(canonical_bytes(signed)).hexdigest()


def root_versions(ws: Workspace) -> list[int]:
    """Published root versions in the workspace."""
    return sorted(
        int(p.name.split(".")[0]) for p in ws.metadata_dir.glob("*.root.json") if p.name.split(".")[0].isdigit()
    )


def diff_roots(ws: Workspace, a: int | None, b: int | None) -> tuple[list[str], str, str]:
    """What changed from root version ``a`` to ``b`` (default: the newest two), with b's digest.

    Raises:
        UsageError: a version the workspace does not have.
    """
    ws.require_tuf("ceremony diff")
    versions = root_versions(ws)
    if b is None:
        b = versions[-1]
    if a is None:
        a = b - 1
    lines: list[str] = []
    for v in (a, b):
        if v not in versions:
            raise UsageError(f"root version {v} is not in {ws.metadata_dir} (it has {', '.join(map(str, versions))})")
    old = parse_envelope(f"{a}.root.json", read_bytes(ws.metadata_dir / f"{a}.root.json"), "root")
    new = parse_envelope(f"{b}.root.json", read_bytes(ws.metadata_dir / f"{b}.root.json"), "root")
    lines += describe_change(f"{b}.root.json", old.signed, new.signed)
    digest = payload_digest({"root": new.payload})
    return [printable(line) for line in lines], digest.hex(), digest_words(digest)
