"""Changes to a live repository: rotate keys, extend expiry, delegate; sign here or by request; merge.

Every change is first built as a ``Proposal``: the new versions of the files it
touches, unsigned, plus what the workspace will record once it is published.
From there it is either signed in the workspace with the keys held here, or
written out as a self-contained sign request that keyholders sign wherever
their key is (``sign_request``) and that ``merge`` publishes once every
threshold is met. Nothing is written to the metadata directory until every
threshold is met and the whole repository verifies as a client would verify it.

Which keys must sign is never taken from a request: it is derived from the
previous root (root N+1 needs a threshold of root N's root keys and of its own,
spec 5.3.4), from the new root for the top-level roles, and from the delegating
metadata for delegated roles.

Refused, with the rule named: a threshold above the number of keys, a key
listed twice, an expiry in the past, a root threshold with no spare key (unless
accepted), a version that is not previous + 1, and publishing below any
threshold.
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, SecretsHandler

from ceremony.core import _txn
from ceremony.core import diff as _diff
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import transcript as _transcript
from ceremony.core import verify as _verify
from ceremony.core._fs import write_atomic
from ceremony.core._json import dumps_pretty, loads_strict, read_bytes, read_json
from ceremony.core._text import printable
from ceremony.core.workspace import (
    CONFIG_NAME,
    DEFAULT_EXPIRY_DAYS,
    KEYID,
    KEYS_DIR,
    METADATA_DIR,
    AcquiredKey,
    KeyRecord,
    PassphraseProvider,
    Workspace,
    acquire_key,
    check_config,
    unlock_held_key,
)
from ceremony.errors import (
    InputFileError,
    PolicyError,
    SigningKeyError,
    ThresholdNotMetError,
    UsageError,
    VerificationError,
    WorkspaceError,
)

TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")
PENDING_DIR = "pending"
REQUEST_TYPE = "ceremony-sign-request"
REQUEST_FORMAT = 1
_ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: A request id is what write_request generates (secrets.token_hex(8)); it names pending/<id>.json.
REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")
#: A sign request carries a few metadata files; python-tuf's largest metadata limit (5 MB) four times over.
MAX_REQUEST_BYTES = 24 * 1024 * 1024
#: Lines of the request's own (unsigned) description shown to a keyholder.
MAX_SUMMARY_LINES = 50
#: A key label taken from an imported repository (tuf-on-ci's key owner): a plain handle or e-mail address.
_LABEL = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
#: Commands that make pending changes (the transcript and the operator see this name).
_PENDING_COMMANDS = ("rotate", "extend", "delegate", "delegate --remove")


class TamperedRequestError(VerificationError):
    """A sign request's content or signatures do not match what was made or signed."""


# --------------------------------------------------------------------------- state


@dataclass
class State:
    """The published repository in a workspace, parsed once per command."""

    ws: Workspace
    files: dict[str, bytes]
    root: Any  # Metadata[Root]
    consistent: bool
    _cache: dict[str, Any] = field(default_factory=dict)

    def role_file(self, role: str) -> str | None:
        """The file that holds the current version of ``role``, if any."""
        if role == "root":
            return f"{_md.version(self.root)}.root.json"
        if role == "timestamp":
            return "timestamp.json" if "timestamp.json" in self.files else None
        if role == "snapshot":
            timestamp = self.current("timestamp")
            version = _md.timestamp_snapshot_version(timestamp) if timestamp else None
        else:
            snapshot = self.current("snapshot")
            version = _md.snapshot_meta_version(snapshot, f"{role}.json") if snapshot else None
        numbered = f"{version}.{role}.json"
        if version is not None and self.consistent and numbered in self.files:
            return numbered
        return f"{role}.json" if f"{role}.json" in self.files else None

    def current(self, role: str) -> Any | None:
        """The current metadata of ``role`` (None when the workspace does not hold it)."""
        if role == "root":
            return self.root
        if role not in self._cache:
            name = self.role_file(role)
            self._cache[role] = _md.parse(self.files[name], name) if name else None
        return self._cache[role]

    def parent_of(self, role: str) -> str | None:
        """The role that delegates to ``role`` (targets first, then delegated roles, breadth first)."""
        queue, seen = ["targets"], set()
        while queue:
            name = queue.pop(0)
            if name in seen:
                continue
            seen.add(name)
            md = self.current(name)
            if md is None:
                continue
            if _md.delegation(md, role) is not None:
                return name
            queue += _md.delegated_roles(md)
        return None


def load_state(ws: Workspace) -> State:
    """Read the workspace's published metadata.

    Raises:
        InputFileError: a metadata file is unreadable or not valid metadata.
    """
    files = _verify.read_metadata_dir(ws.metadata_dir)
    if "root.json" not in files:
        raise InputFileError(f"{ws.metadata_dir}/root.json: root metadata not found")
    root = _md.parse(files["root.json"], "root.json")
    return State(ws, files, root, _md.consistent_snapshot(root))


# --------------------------------------------------------------------------- names from files


def check_role_name(name: object, source: str) -> str:
    """A role name from a file: a top-level role, or a delegated name of letters, digits and . _ -.

    Raises:
        InputFileError: anything else (a path, a dot file, control characters, too long).
    """
    if not isinstance(name, str) or not (name in TOP_LEVEL or _ROLE_NAME.match(name)) or ".." in name:
        raise InputFileError(f"{source}: {printable(name, 80)!r} is not a role name")
    return name


def check_request_id(value: object, source: str) -> str:
    """A sign request id: 16 lowercase hex digits, as write_request makes them.

    Raises:
        TamperedRequestError: any other id (it would name a file outside pending/).
    """
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        raise TamperedRequestError(
            f"{source}: its id {printable(value, 80)!r} is not one this tool makes (16 hex digits)", source, "id"
        )
    return value


def _metadata_of(obj: object, source: str, role: str) -> Any:
    """One metadata object of a request or pending record, whose type must fit ``role``.

    Raises:
        InputFileError: not metadata, or of the wrong type (a targets file given as a root).
    """
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: {role} is not a metadata object")
    md = _md.from_dict(obj, f"{source} {role}")
    expected = role if role in TOP_LEVEL else "targets"
    if _md.role_type(md) != expected:
        raise InputFileError(f"{source}: {role} is {_md.role_type(md)} metadata, expected {expected}")
    return md


def _metadata_map(obj: object, source: str, what: str) -> dict[str, Any]:
    """role -> metadata, every name and type checked."""
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: '{what}' is not an object")
    return {check_role_name(role, f"{source} {what}"): _metadata_of(md, source, role) for role, md in obj.items()}


def _role_map(obj: object, source: str, what: str) -> dict[str, str]:
    """role -> role (delegated role -> the role that delegates it), every name checked."""
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: '{what}' is not an object")
    return {check_role_name(k, f"{source} {what}"): check_role_name(v, f"{source} {what}") for k, v in obj.items()}


def _text_list(obj: object, source: str, what: str, limit: int = MAX_SUMMARY_LINES) -> list[str]:
    """A list of at most ``limit`` strings."""
    if obj is None:
        return []
    if not isinstance(obj, list) or not all(isinstance(x, str) for x in obj) or len(obj) > limit:
        raise InputFileError(f"{source}: '{what}' is not a list of at most {limit} lines of text")
    return list(obj)


# --------------------------------------------------------------------------- proposals


@dataclass
class Requirement:
    """A set of keys of which ``threshold`` must sign one file."""

    label: str
    keys: dict[str, Key]
    threshold: int


@dataclass
class ThresholdStatus:
    """Where one requirement stands."""

    role: str
    label: str
    signed: list[str]
    missing: list[str]
    threshold: int

    @property
    def met(self) -> bool:
        """Threshold reached."""
        return len(self.signed) >= self.threshold

    def describe(self) -> str:
        """ "new root (version 2): 1 of 2"."""
        return f"{self.label}: {len(self.signed)} of {self.threshold}"


@dataclass
class Proposal:
    """A change, unsigned or partly signed, and what publishing it records."""

    command: str
    summary: list[str]
    base_root_version: int
    metadata: dict[str, Any]  # role -> Metadata (new version)
    parents: dict[str, str] = field(default_factory=dict)  # delegated role -> delegating role
    removed_roles: list[str] = field(default_factory=list)
    new_key_files: dict[str, bytes] = field(default_factory=dict)  # keyid -> encrypted PKCS#12
    config: dict[str, Any] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    signers: dict[bytes, Any] = field(default_factory=dict)  # public identity -> signer (keys made here)


@dataclass
class ChangeContext:
    """How a command reaches keys: secrets callbacks and the sessions it holds open."""

    ws: Workspace
    passphrase_for: PassphraseProvider
    pin_for: SecretsHandler | None
    stack: contextlib.ExitStack
    now: datetime
    pin_file: Path | None = None
    module: str | None = None


def _policy_days(ws: Workspace, role: str) -> int:
    """Expiry policy of a role in days (config, else the defaults; delegated roles like targets)."""
    entry = ws.config.get("roles", {}).get(role) or {}
    return int(entry.get("expiry_days") or DEFAULT_EXPIRY_DAYS.get(role, DEFAULT_EXPIRY_DAYS["targets"]))


def requirements_for(
    previous_root: Any, metadata: Mapping[str, Any], parents: Mapping[str, str], context: Mapping[str, Any]
) -> dict[str, list[Requirement]]:
    """Which keys must sign each proposed file, derived from the metadata itself."""
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
        elif role in TOP_LEVEL:
            keys, threshold = _md.root_role(new_root or previous_root, role)
            result[role] = [Requirement(f"{role} role", keys, threshold)]
        else:
            parent = parents.get(role)
            parent_md = metadata.get(parent) if parent in metadata else context.get(parent or "")
            delegation = _md.delegation(parent_md, role) if parent_md is not None else None
            if delegation is None:
                raise VerificationError(f"{role}: no delegating metadata names this role", role, "delegation")
            result[role] = [Requirement(f"role {role!r} (delegated by {parent})", delegation[0], delegation[1])]
    return result


def status_of(role: str, md: Any, requirement: Requirement) -> ThresholdStatus:
    """Count valid signatures by distinct keys for one requirement."""
    payload = _md.signed_bytes(md)
    sigs = _md.signatures(md)
    signed, missing, counted = [], [], set()
    for keyid, key in requirement.keys.items():
        identity = _keys.public_key_identity(key)
        sig = sigs.get(keyid)
        if identity not in counted and sig is not None and _keys.signature_is_valid(key, sig, payload):
            signed.append(keyid)
            counted.add(identity)
        elif identity not in counted:
            missing.append(keyid)
    return ThresholdStatus(role, requirement.label, signed, missing, requirement.threshold)


def statuses(reqs: Mapping[str, list[Requirement]], metadata: Mapping[str, Any]) -> list[ThresholdStatus]:
    """Status of every requirement of every proposed file."""
    return [status_of(role, metadata[role], req) for role, role_reqs in reqs.items() for req in role_reqs]


def _context_parents(state: State, proposal: Proposal) -> dict[str, Any]:
    """Current delegating metadata for proposed delegated roles whose parent is not changing."""
    return {
        parent: state.current(parent)
        for role, parent in proposal.parents.items()
        if role in proposal.metadata and parent not in proposal.metadata
    }


def proposal_requirements(state: State, proposal: Proposal) -> dict[str, list[Requirement]]:
    """requirements_for applied to a proposal against the workspace's state."""
    return requirements_for(state.root, proposal.metadata, proposal.parents, _context_parents(state, proposal))


def proposal_payloads(proposal: Proposal) -> dict[str, bytes]:
    """role -> canonical bytes to be signed."""
    return {role: _md.signed_bytes(md) for role, md in proposal.metadata.items()}


def describe_proposal(state: State, proposal: Proposal) -> tuple[list[str], str, str]:
    """Diff lines against the current version, and the digest in hex and as words."""
    lines = list(proposal.summary)
    for role, md in proposal.metadata.items():
        current = state.current(role)
        name = f"{_md.version(md)}.root.json" if role == "root" else f"{role}.json"
        lines += _diff.describe_change(
            name, _md.signed_dict(current) if current is not None else None, _md.signed_dict(md)
        )
    for role in proposal.removed_roles:
        lines.append(f"{role}.json: REMOVED")
    lines += [f"note: {note}" for note in proposal.notes]
    digest = _diff.payload_digest(proposal_payloads(proposal))
    return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)


# --------------------------------------------------------------------------- acquiring keys


def _acquire(ctx: ChangeContext, spec: str, label: str, role: str) -> AcquiredKey:
    """A key added by a change (see workspace.acquire_key); new passphrases are asked as "new key LABEL"."""
    return acquire_key(
        spec,
        label,
        role,
        lambda name: ctx.passphrase_for(f"new key {name}"),
        ctx.pin_for,
        ctx.module or ctx.ws.config.get("pkcs11_module"),
        ctx.stack,
        ctx.pin_file,
    )


def _add_keys(ctx: ChangeContext, config: dict[str, Any], proposal: Proposal, specs: list[str], role: str) -> list[Key]:
    """Acquire the keys a change adds to ``role``, record them in the config, and keep what signs or is written."""
    publics = []
    for spec in specs:
        new = _acquire(ctx, spec, _next_label(config, role), role)
        _record_key(config, new.record)
        publics.append(new.public)
        if new.signer is not None:
            proposal.signers[_keys.public_key_identity(new.public)] = new.signer
        if new.encrypted:
            proposal.new_key_files[new.public.keyid] = new.encrypted
        proposal.details[new.record.label] = new.details
    return publics


def _next_label(config: dict[str, Any], role: str) -> str:
    """The next free label for a key of ``role`` (root-4, releases-2, ...)."""
    used = {entry.get("label") for entry in config.get("keys", {}).values()}
    index = 1
    while f"{role}-{index}" in used:
        index += 1
    return f"{role}-{index}"


def _copy_config(ws: Workspace) -> dict[str, Any]:
    """A deep copy of the config to edit."""
    return loads_strict(dumps_pretty(ws.config), CONFIG_NAME)


def _record_key(config: dict[str, Any], record: KeyRecord) -> None:
    """Add a key to the config, or add a role to an existing entry."""
    entry = config.setdefault("keys", {}).get(record.keyid)
    if entry is None:
        config["keys"][record.keyid] = record.to_dict()
    elif record.roles[0] not in entry["roles"]:
        entry["roles"].append(record.roles[0])


def _resolve_keyids(keys: Mapping[str, Key], prefixes: list[str], role: str, config: dict[str, Any]) -> list[str]:
    """Key ids of ``role`` named by id prefix or label.

    Raises:
        UsageError: a name matches no key of the role, or several.
    """
    result = []
    for prefix in prefixes:
        matches = [
            keyid
            for keyid in keys
            if keyid.startswith(prefix.lower()) or config.get("keys", {}).get(keyid, {}).get("label") == prefix
        ]
        if len(matches) != 1:
            found = "no key" if not matches else f"{len(matches)} keys"
            raise UsageError(
                f"--revoke {prefix}: {found} of role {role} match; its keys are {', '.join(k[:12] for k in keys)}"
            )
        result.append(matches[0])
    return result


def _check_threshold(role: str, threshold: int, count: int, no_spare: bool) -> None:
    """Refuse thresholds that lock clients out (or leave the root no spare key)."""
    if threshold < 1:
        raise PolicyError(f"{role}: threshold {threshold} is not allowed; it must be at least 1")
    if threshold > count:
        raise PolicyError(f"{role}: threshold {threshold} is above its {count} key(s); the role could never be signed")
    if role == "root" and threshold == count and not no_spare:
        raise PolicyError(
            f"root threshold {threshold} of {count} keys leaves no spare key: losing any one key would lock the root",
            hint="add a key, lower the threshold, or pass --no-spare-root-key to accept the risk",
        )


def _check_expiry(role: str, expires_at: datetime, now: datetime) -> None:
    """Refuse an expiry that is not in the future."""
    if expires_at <= now:
        raise PolicyError(f"{role}: expiry {_verify.format_date(expires_at)} is not in the future")


def _can_sign_here(ctx: ChangeContext, keys: Mapping[str, Key], proposal: Proposal) -> bool:
    """True when at least one of ``keys`` is held in this workspace or was made by this change."""
    for keyid, key in keys.items():
        if _keys.public_key_identity(key) in proposal.signers:
            return True
        uri = ctx.ws.config.get("keys", {}).get(keyid, {}).get("uri")
        if uri and keyid not in proposal.revoked:
            return True
    return False


def _cascade(ctx: ChangeContext, state: State, proposal: Proposal) -> None:
    """Re-sign snapshot and timestamp after targets-level files change, where we hold their keys."""
    changed = [r for r in proposal.metadata if r not in ("root", "snapshot", "timestamp")]
    root = proposal.metadata.get("root", state.root)
    if (changed or proposal.removed_roles) and "snapshot" not in proposal.metadata:
        current = state.current("snapshot")
        keys, _threshold = _md.root_role(root, "snapshot")
        if current is None or not _can_sign_here(ctx, keys, proposal):
            proposal.notes.append("snapshot.json is left to the online service that holds the snapshot key")
        else:
            snapshot = _md.next_version(current, ctx.now + timedelta(days=_policy_days(ctx.ws, "snapshot")))
            for role in changed:
                _md.set_snapshot_meta(snapshot, f"{role}.json", _md.version(proposal.metadata[role]))
            for role in proposal.removed_roles:
                _md.set_snapshot_meta(snapshot, f"{role}.json", None)
            proposal.metadata["snapshot"] = snapshot
    if "snapshot" in proposal.metadata and "timestamp" not in proposal.metadata:
        current = state.current("timestamp")
        keys, _threshold = _md.root_role(root, "timestamp")
        if current is None or not _can_sign_here(ctx, keys, proposal):
            proposal.notes.append("timestamp.json is left to the online service that holds the timestamp key")
        else:
            timestamp = _md.next_version(current, ctx.now + timedelta(days=_policy_days(ctx.ws, "timestamp")))
            _md.set_timestamp_snapshot(timestamp, _md.version(proposal.metadata["snapshot"]))
            proposal.metadata["timestamp"] = timestamp


def _new_root(ctx: ChangeContext, state: State, days: int | None = None) -> Any:
    """Root N+1: same content, version + 1, no signatures.

    Expiry: ``days`` from now when given (extend); otherwise the policy, but never
    earlier than the current root's (a rotation should not shorten the root's life).
    """
    if days is not None:
        expires_at = ctx.now + timedelta(days=days)
    else:
        expires_at = max(ctx.now + timedelta(days=_policy_days(ctx.ws, "root")), _md.expires(state.root))
    _check_expiry("root", expires_at, ctx.now)
    return _md.next_version(state.root, expires_at)


def plan_rotation(
    ctx: ChangeContext,
    role: str,
    revoke: list[str],
    add: list[str],
    threshold: int | None,
    no_spare_root_key: bool = False,
) -> tuple[State, Proposal]:
    """Replace keys of a top-level role; root N+1 and, where we hold the keys, the role's re-signed metadata.

    Raises:
        UsageError: unknown role, or a --revoke that names no single key of the role.
        PolicyError: the result would lock clients out.
        HsmError / InputFileError / PassphraseError: acquiring an added key failed.
    """
    if role not in TOP_LEVEL:
        raise UsageError(f"--role {role}: rotate changes the keys of root, targets, snapshot or timestamp")
    if not revoke and not add and threshold is None:
        raise UsageError("nothing to rotate: give --revoke, --add or --threshold")
    state = load_state(ctx.ws)
    config = _copy_config(ctx.ws)
    keys, current_threshold = _md.root_role(state.root, role)
    revoked = _resolve_keyids(keys, revoke, role, config)
    new_threshold = threshold if threshold is not None else current_threshold
    _check_threshold(role, new_threshold, len(keys) - len(revoked) + len(add), no_spare_root_key)

    proposal = Proposal(
        command="rotate",
        summary=[
            f"rotate {role}: revoke {len(revoked)} key(s), add {len(add)}, threshold {current_threshold} -> {new_threshold}"
        ],
        base_root_version=_md.version(state.root),
        metadata={},
        revoked=set(revoked),
    )
    added = _add_keys(ctx, config, proposal, add, role)
    root = _new_root(ctx, state)
    _md.edit_root_role(root, role, revoked, added, new_threshold)
    proposal.metadata["root"] = root
    for keyid in revoked:
        entry = config["keys"].get(keyid)
        if entry is not None:
            entry["roles"] = [r for r in entry["roles"] if r != role]
            # Kept, marked, never reused: the record of which key was revoked when outlives the key.
            entry.setdefault("revoked", []).append({"role": role, "at": _verify.format_date(ctx.now)})
    final_keys, _t = _md.root_role(root, role)
    config.setdefault("roles", {}).setdefault(role, {}).update({"threshold": new_threshold, "keyids": list(final_keys)})
    proposal.config = config

    if role != "root":
        current = state.current(role)
        if current is not None and _can_sign_here(ctx, final_keys, proposal):
            proposal.metadata[role] = _md.next_version(current, ctx.now + timedelta(days=_policy_days(ctx.ws, role)))
            if role == "targets" or role == "snapshot":
                _cascade(ctx, state, proposal)
        else:
            proposal.notes.append(f"{role}.json must be re-signed by the online service with the new key")
    return state, proposal


def plan_extension(ctx: ChangeContext, role: str, days: int) -> tuple[State, Proposal]:
    """A new version of ``role`` expiring ``days`` from now, and the files that must follow it.

    Raises:
        UsageError: the workspace does not hold the role.
        PolicyError: days < 1.
    """
    if days < 1:
        raise PolicyError(f"{role}: an expiry of {days} days is not in the future; use at least 1 day")
    state = load_state(ctx.ws)
    proposal = Proposal(
        command="extend",
        summary=[f"extend {role}: expires {days} days from now"],
        base_root_version=_md.version(state.root),
        metadata={},
        config=_copy_config(ctx.ws),
    )
    if role == "root":
        proposal.metadata["root"] = _new_root(ctx, state, days)
        return state, proposal
    current = state.current(role)
    if current is None:
        raise UsageError(f"{role}: this workspace does not hold {role} metadata")
    proposal.metadata[role] = _md.next_version(current, ctx.now + timedelta(days=days))
    if role not in TOP_LEVEL:
        parent = state.parent_of(role)
        if parent is None:
            raise UsageError(f"{role}: no role delegates to it")
        proposal.parents[role] = parent
    if role == "snapshot" or role != "timestamp":
        _cascade(ctx, state, proposal)
    return state, proposal


def plan_delegation(
    ctx: ChangeContext,
    name: str,
    paths: list[str],
    key_specs: list[str],
    generate: int,
    key_type: str,
    threshold: int,
    terminating: bool,
    expires_days: int | None,
    parent: str = "targets",
) -> tuple[State, Proposal]:
    """Delegate ``paths`` to a new role, create its first metadata, and re-sign what lists it.

    Raises:
        UsageError: a bad role name, no paths, no keys, or an unknown parent.
        PolicyError: a threshold that locks the role out, or the role exists.
    """
    if not _ROLE_NAME.match(name) or name in TOP_LEVEL:
        raise UsageError(f"{name!r} is not a valid delegated role name (letters, digits, . _ -; not a top-level role)")
    if not paths:
        raise UsageError("a delegation needs at least one --paths pattern")
    specs = list(key_specs) + [key_type] * generate
    if not specs:
        raise UsageError("a delegation needs keys: --key KEYSPEC or --keys N --key-type T")
    _check_threshold(name, threshold, len(specs), no_spare=True)
    days = expires_days if expires_days is not None else _policy_days(ctx.ws, "targets")
    _check_expiry(name, ctx.now + timedelta(days=days), ctx.now)
    state = load_state(ctx.ws)
    parent_md = state.current(parent)
    if parent_md is None:
        raise UsageError(f"--from {parent}: this workspace does not hold that role's metadata")
    if state.parent_of(name) is not None:
        raise PolicyError(f"role {name!r} is already delegated")
    config = _copy_config(ctx.ws)
    proposal = Proposal(
        command="delegate",
        summary=[f"delegate {paths} from {parent} to new role {name!r}: {threshold} of {len(specs)} keys"],
        base_root_version=_md.version(state.root),
        metadata={},
        parents={name: parent},
    )
    new_keys = _add_keys(ctx, config, proposal, specs, name)
    parent_new = _md.next_version(parent_md, ctx.now + timedelta(days=_policy_days(ctx.ws, parent)))
    _md.add_delegation(parent_new, name, new_keys, threshold, terminating, paths)
    proposal.metadata[parent] = parent_new
    if parent != "targets":
        proposal.parents[parent] = state.parent_of(parent) or "targets"
    proposal.metadata[name] = _md.build_targets(ctx.now + timedelta(days=days))
    config.setdefault("delegations", {})[name] = {
        "parent": parent,
        "paths": paths,
        "threshold": threshold,
        "expiry_days": days,
    }
    proposal.config = config
    _cascade(ctx, state, proposal)
    return state, proposal


def plan_undelegation(ctx: ChangeContext, name: str) -> tuple[State, Proposal]:
    """Remove a delegated role: its parent stops naming it and its metadata is removed.

    Raises:
        UsageError: no such delegated role.
    """
    state = load_state(ctx.ws)
    parent = state.parent_of(name)
    if parent is None:
        raise UsageError(f"role {name!r} is not delegated in this repository")
    parent_new = _md.next_version(state.current(parent), ctx.now + timedelta(days=_policy_days(ctx.ws, parent)))
    _md.remove_delegation(parent_new, name)
    config = _copy_config(ctx.ws)
    config.get("delegations", {}).pop(name, None)
    for entry in config.get("keys", {}).values():
        if name in entry.get("roles", []):
            entry["roles"] = [r for r in entry["roles"] if r != name]
            entry.setdefault("revoked", []).append({"role": name, "at": _verify.format_date(ctx.now)})
    proposal = Proposal(
        command="delegate --remove",
        summary=[f"remove delegated role {name!r} from {parent}"],
        base_root_version=_md.version(state.root),
        metadata={parent: parent_new},
        removed_roles=[name],
        config=config,
    )
    if parent != "targets":
        proposal.parents[parent] = state.parent_of(parent) or "targets"
    _cascade(ctx, state, proposal)
    return state, proposal


# --------------------------------------------------------------------------- signing in the workspace


def _workspace_signer(ctx: ChangeContext, keyid: str, key: Key) -> Any | None:
    """A signer for a key the workspace holds (asks for its passphrase or PIN), or None."""
    entry = ctx.ws.config.get("keys", {}).get(keyid) or {}
    module = ctx.module or ctx.ws.config.get("pkcs11_module")
    label = entry.get("label", keyid[:12])
    return unlock_held_key(
        ctx.ws.path, entry.get("uri"), key, label, ctx.passphrase_for, ctx.pin_for, module, ctx.stack, ctx.pin_file
    )


def _sign_as(signer: Any, key: Key, payload: bytes) -> str:
    """Sign ``payload`` with ``signer`` and verify it as ``key`` (the metadata's own key object and keyid)."""
    signature = signer.sign(payload)
    if not _keys.signature_is_valid(key, signature.signature, payload):
        raise SigningKeyError(f"the signature just made with key {key.keyid[:12]} does not verify; nothing was written")
    return signature.signature


def sign_here(ctx: ChangeContext, state: State, proposal: Proposal, only_new_keys: bool = False) -> list[str]:
    """Sign every proposed file with keys held here, until each threshold is met.

    Keys made by this change sign first; then workspace keys in the order the
    metadata lists them, each unlocked once. A revoked key signs only the
    old-root requirement, and only when the keys that stay cannot reach its
    threshold alone (replacing every root key at once): a revoked key that is
    lost or compromised is simply never asked for. Returns the labels of the
    keys that signed.

    Raises:
        PassphraseError / HsmError / SigningKeyError: unlocking or signing failed.
    """
    reqs = proposal_requirements(state, proposal)
    unlocked: dict[bytes, Any] = dict(proposal.signers)
    used: list[str] = []
    for role, md in proposal.metadata.items():
        payload = _md.signed_bytes(md)
        for req in reqs[role]:
            status = status_of(role, md, req)
            kept = [k for k in req.keys if k not in proposal.revoked]
            revoked_last = [k for k in req.keys if k in proposal.revoked] if req.label.startswith("old root") else []
            for keyid in [*kept, *revoked_last]:
                key = req.keys[keyid]
                if status.met:
                    break
                if keyid in status.signed:
                    continue
                identity = _keys.public_key_identity(key)
                signer = unlocked.get(identity)
                if signer is None and not only_new_keys:
                    signer = _workspace_signer(ctx, keyid, key)
                    if signer is not None:
                        unlocked[identity] = signer
                if signer is None:
                    continue
                _md.add_signature(md, keyid, _sign_as(signer, key, payload))
                used.append(
                    ctx.ws.config.get("keys", {}).get(keyid, {}).get("label")
                    or proposal.config.get("keys", {}).get(keyid, {}).get("label")
                    or keyid[:12]
                )
                status = status_of(role, md, req)
    return sorted(set(used))


# --------------------------------------------------------------------------- publishing


@dataclass
class PublishResult:
    """What was published."""

    files: dict[str, str | None]
    statuses: list[ThresholdStatus]
    warnings: list[str]
    transcript_head: str


def _file_names(role: str, version: int, consistent: bool) -> list[str]:
    """Files a new version is written as."""
    if role == "root":
        return [f"{version}.root.json", "root.json"]
    return [f"{role}.json", *([f"{version}.{role}.json"] if consistent else [])]


def threshold_error(
    unmet: list[ThresholdStatus], all_statuses: list[ThresholdStatus], config: dict[str, Any]
) -> ThresholdNotMetError:
    """One sentence naming where each threshold stands and which keys could still sign."""

    def name(keyid: str) -> str:
        entry = config.get("keys", {}).get(keyid, {})
        label = entry.get("label")
        revoked = " revoked" if entry.get("revoked") else ""
        return f"{label} ({keyid[:12]}{revoked})" if label else keyid[:12]

    standing = "; ".join(f"{s.role} {s.describe()}" for s in all_statuses)
    needed = "; ".join(
        f"{s.label} needs {s.threshold - len(s.signed)} more of: {', '.join(name(k) for k in s.missing)}" for s in unmet
    )
    err = ThresholdNotMetError(f"not published: {standing}. Still needed: {needed}")
    err.statuses = all_statuses  # type: ignore[attr-defined]
    return err


def publish(
    ctx: ChangeContext,
    state: State,
    proposal: Proposal,
    used: list[str],
    also: Callable[[_txn.Transaction], None] | None = None,
) -> PublishResult:
    """Write a fully signed proposal: metadata, keys, config and a transcript entry.

    Raises:
        ThresholdNotMetError: a threshold is not met (nothing written).
        VerificationError: the result would not verify for a client (nothing written).
        WorkspaceError: the workspace moved on since the proposal was made.
    """
    current = load_state(ctx.ws)
    if _md.version(current.root) != proposal.base_root_version:
        raise WorkspaceError(
            f"{ctx.ws.path}: the change was made against root version {proposal.base_root_version}, "
            f"but the workspace is now at version {_md.version(current.root)}; make the change again"
        )
    reqs = proposal_requirements(state, proposal)
    all_statuses = statuses(reqs, proposal.metadata)
    unmet = [s for s in all_statuses if not s.met]
    if unmet:
        raise threshold_error(
            unmet,
            all_statuses,
            {**ctx.ws.config, "keys": {**ctx.ws.config.get("keys", {}), **proposal.config.get("keys", {})}},
        )
    for role, md in proposal.metadata.items():
        expected = (_md.version(state.current(role)) + 1) if state.current(role) is not None else 1
        if _md.version(md) != expected:
            raise PolicyError(f"{role}: version {_md.version(md)} is not the previous version + 1 ({expected})")
        _check_expiry(role, _md.expires(md), ctx.now)

    new_files = dict(state.files)
    outputs: dict[str, bytes] = {}
    for role, md in proposal.metadata.items():
        data = _md.to_bytes(md)
        for name in _file_names(role, _md.version(md), state.consistent):
            outputs[name] = data
    for role in proposal.removed_roles:
        check_role_name(role, "removed role")
        if role in TOP_LEVEL:
            raise PolicyError(f"{role}: a top-level role cannot be removed")
    removed = [
        n
        for role in proposal.removed_roles
        for n in state.files
        if n == f"{role}.json" or re.fullmatch(rf"[1-9][0-9]*\.{re.escape(role)}\.json", n)
    ]
    new_files.update(outputs)
    for name in removed:
        new_files.pop(name, None)
    warnings = _verify_result(new_files, set(outputs), ctx.now, _rekeyed_online_roles(state, proposal))

    for keyid in proposal.new_key_files:
        if not KEYID.match(keyid):
            raise WorkspaceError(f"key id {printable(keyid, 80)!r} cannot name a key file; nothing was written")
    check_config(proposal.config, "the config this change writes")

    # One transaction: metadata, keys, config, the pending record and the transcript line become the
    # workspace's state together, or not at all (docs/workspace.md, "Changes are all-or-nothing").
    written: dict[str, str | None] = {}
    signed_by = {role: sorted(_md.signatures(md)) for role, md in proposal.metadata.items()}
    versions = {role: _md.version(md) for role, md in proposal.metadata.items()}
    with _txn.transaction(ctx.ws.path) as txn:
        for keyid, encrypted in proposal.new_key_files.items():
            written[f"{KEYS_DIR}/{keyid}.p12"] = txn.write(f"{KEYS_DIR}/{keyid}.p12", encrypted)
        # root.json last: a reader never sees a root.json naming a root whose N.root.json is not there.
        for name in sorted(outputs, key=lambda n: n == "root.json"):
            written[f"{METADATA_DIR}/{name}"] = txn.write(f"{METADATA_DIR}/{name}", outputs[name])
        for name in removed:
            txn.remove(f"{METADATA_DIR}/{name}")
            written[f"{METADATA_DIR}/{name}"] = None
        # Key files of revoked keys stay in keys/: a revoked key is kept for the record, never deleted silently.
        written[CONFIG_NAME] = txn.write(CONFIG_NAME, dumps_pretty(proposal.config))
        request_id = proposal.details.get("request_id")
        if request_id:
            pending = f"{PENDING_DIR}/{check_request_id(request_id, 'pending change')}.json"
            if (ctx.ws.path / pending).exists():
                txn.remove(pending)
                written[pending] = None
        head = _transcript.append(
            ctx.ws.path,
            proposal.command,
            [
                *proposal.summary,
                *[f"published {role} version {v}" for role, v in versions.items()],
                *[f"removed {n}" for n in removed],
            ],
            written,
            sorted({k for keys in signed_by.values() for k in keys}),
            ctx.now,
            {
                "signed_by": signed_by,
                "signers": used,
                "thresholds": [s.describe() for s in all_statuses],
                "keys": {k: v for k, v in proposal.details.items() if k != "request_id"},
                "notes": proposal.notes,
            },
            txn,
        )
        if also is not None:  # a caller's own files of the same change (a guided session that ends with it)
            also(txn)
    ctx.ws.config = proposal.config
    return PublishResult(written, all_statuses, warnings + proposal.notes, head)


def _rekeyed_online_roles(state: State, proposal: Proposal) -> set[str]:
    """Top-level online roles whose keys or threshold root N+1 changes but whose metadata this change cannot re-sign.

    That is a rotation to a key held elsewhere (the online service's): the
    role's current file, signed by the old key, is the online service's to
    replace once root N+1 is out (see plan_rotation's note).
    """
    new_root = proposal.metadata.get("root")
    if new_root is None:
        return set()

    def keys_of(root: Any, role: str) -> tuple[set[str], int]:
        keys, threshold = _md.root_role(root, role)
        return set(keys), threshold

    return {
        role
        for role in ("targets", "snapshot", "timestamp")
        if role not in proposal.metadata and keys_of(new_root, role) != keys_of(state.root, role)
    }


def _verify_result(
    files: dict[str, bytes], changed: set[str], now: datetime, rekeyed: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """Verify the repository as it will be.

    Tolerated, as warnings, only for files this change does not touch: staleness,
    and a file of an online role that this change gave keys the workspace does not
    hold (``rekeyed``; the online service re-signs it).
    """
    try:
        _verify.verify_files(files, None, now)
    except VerificationError as err:
        if err.check == "expiry" and err.file not in changed:
            return [f"{err} (not part of this change; the online service must renew it)"]
        role = re.fullmatch(r"(?:\d+\.)?(.+)\.json", err.file or "")
        if err.check == "threshold" and err.file not in changed and role and role.group(1) in rekeyed:
            return [
                f"{err} (its role now has keys this workspace does not hold: clients cannot update "
                "until the online service re-signs it)"
            ]
        raise
    return []


# --------------------------------------------------------------------------- sign requests


def accept_signatures(
    target: Mapping[str, Any], source: Mapping[str, Any], reqs: Mapping[str, list[Requirement]]
) -> int:
    """Copy into ``target`` the signatures of ``source`` by keys ``reqs`` needs that verify over the target's bytes.

    Every signature taken from a copy signed elsewhere passes here: a copy is
    only consistent with itself (its own previous root and context), so its
    signatures are judged again by the requirements of the change they join.
    Returns how many were added.
    """
    added = 0
    for role, md in target.items():
        payload = _md.signed_bytes(md)
        allowed = {keyid: key for req in reqs[role] for keyid, key in req.keys.items()}
        for keyid, sig in _md.signatures(source.get(role, md)).items():
            key = allowed.get(keyid)
            if keyid in _md.signatures(md) or key is None or not _keys.signature_is_valid(key, sig, payload):
                continue
            _md.add_signature(md, keyid, sig)
            added += 1
    return added


@dataclass
class SignRequest:
    """A sign request file, parsed and checked against its own digest and signatures."""

    path: Path
    raw: dict[str, Any]
    id: str
    previous_root: Any
    metadata: dict[str, Any]
    parents: dict[str, str]
    context: dict[str, Any]
    summary: list[str]

    def requirements(self) -> dict[str, list[Requirement]]:
        """Which keys must sign each file."""
        return requirements_for(self.previous_root, self.metadata, self.parents, self.context)

    def statuses(self) -> list[ThresholdStatus]:
        """Where every threshold stands."""
        return statuses(self.requirements(), self.metadata)

    def digest(self) -> bytes:
        """The digest over every proposed file's canonical bytes."""
        return _diff.payload_digest({role: _md.signed_bytes(md) for role, md in self.metadata.items()})

    def describe(self) -> tuple[list[str], str, str]:
        """What will be signed, computed here: diff lines, digest hex and words.

        Every line is derived from the metadata the digest covers, compared
        with the previous root (which carries a threshold of its own
        signatures) or with the request's copy of the current version only
        when that copy is signed by the keys the previous root or the
        delegating metadata gives its role; an unsigned ``current`` would let
        a forger choose what the diff calls unchanged. The request's own
        ``summary`` is not here: it is not signed (see ``unsigned_summary``).
        Every line is printable (controls from the file escaped).
        """
        lines: list[str] = []
        current = self.raw.get("current") or {}
        reqs = self.requirements()
        for role, md in self.metadata.items():
            name = f"{_md.version(md)}.root.json" if role == "root" else f"{role}.json"
            old = self.previous_root if role == "root" else self._verified_current(role, current.get(role), reqs)
            if role != "root" and old is None and current.get(role) is not None:
                lines.append(
                    f"{name}: the request's copy of the current version is not signed by its role's keys; "
                    "the new version is shown in full"
                )
            lines += _diff.describe_change(name, _md.signed_dict(old) if old is not None else None, _md.signed_dict(md))
        digest = self.digest()
        return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)

    def _verified_current(self, role: str, obj: object, reqs: Mapping[str, list[Requirement]]) -> Any | None:
        """The request's copy of ``role``'s current version, if a threshold of its role's keys signed it."""
        if not isinstance(obj, dict):
            return None
        try:
            md = _metadata_of(obj, f"{self.path} current", role)
        except InputFileError:
            return None
        if role in TOP_LEVEL:
            keys, threshold = _md.root_role(self.previous_root, role)
            checks = [Requirement(role, keys, threshold)]
        else:
            checks = reqs.get(role, [])
        if checks and all(status_of(role, md, req).met for req in checks):
            return md
        return None

    def unsigned_summary(self) -> list[str]:
        """The request's own description of itself: NOT signed and not covered by the words; printable."""
        return [printable(line, 300) for line in self.summary]

    def take_signatures(self, other: SignRequest) -> int:
        """Add the signatures of a signed copy that this request's own requirements accept; return how many.

        A copy is checked only against itself when it is loaded, so each of its
        signatures must also be by a key this request needs and verify over
        this request's bytes; anything else is left out.
        """
        return accept_signatures(self.metadata, other.metadata, self.requirements())

    def to_json(self) -> bytes:
        """The request file's bytes with the current signatures."""
        obj = dict(self.raw)
        obj["metadata"] = {role: _md.to_dict(md) for role, md in self.metadata.items()}
        return dumps_pretty(obj)


def write_request(ctx: ChangeContext, state: State, proposal: Proposal, out: Path) -> tuple[str, str]:
    """Write a self-contained sign request and keep what publishing needs in the workspace.

    Keys made by the change sign before the request is written (their
    passphrase was just typed). Returns the request id and the transcript head.

    Raises:
        WorkspaceError: ``out`` exists.
    """
    if out.exists():
        raise WorkspaceError(f"{out}: already exists; refusing to overwrite a sign request")
    sign_here(ctx, state, proposal, only_new_keys=True)
    request_id = secrets.token_hex(8)
    context = _context_parents(state, proposal)
    payloads = proposal_payloads(proposal)
    request = {
        "type": REQUEST_TYPE,
        "format": REQUEST_FORMAT,
        "id": request_id,
        "created": _verify.format_date(ctx.now),
        "command": proposal.command,
        "summary": proposal.summary,
        "previous_root": _md.to_dict(state.root),
        "context": {role: _md.to_dict(md) for role, md in context.items()},
        "parents": proposal.parents,
        # What the keyholder's diff compares against (not signed, not trusted for requirements).
        "current": {
            role: _md.to_dict(state.current(role))
            for role in proposal.metadata
            if role != "root" and state.current(role) is not None
        },
        "metadata": {role: _md.to_dict(md) for role, md in proposal.metadata.items()},
        "digest": _diff.payload_digest(payloads).hex(),
    }
    pending = {
        "request_id": request_id,
        "base_root_version": proposal.base_root_version,
        "command": proposal.command,
        "summary": proposal.summary,
        "notes": proposal.notes,
        "details": proposal.details,
        "parents": proposal.parents,
        "removed_roles": proposal.removed_roles,
        "revoked": sorted(proposal.revoked),
        "config": proposal.config,
        "metadata": request["metadata"],
        "new_key_files": {k: base64.b64encode(v).decode() for k, v in proposal.new_key_files.items()},
    }
    # The pending record and its transcript line together; the request file (outside the workspace)
    # after them. A kill in between leaves a pending change without its file: making the change
    # again writes a new request, and the orphan record is never merged (nothing signs it).
    with _txn.transaction(ctx.ws.path) as txn:
        digest = txn.write(f"{PENDING_DIR}/{request_id}.json", dumps_pretty(pending))
        head = _transcript.append(
            ctx.ws.path,
            f"{proposal.command} --request",
            [*proposal.summary, f"wrote sign request {request_id} to {out.name}"],
            {f"{PENDING_DIR}/{request_id}.json": digest},
            [],
            ctx.now,
            {"request_digest": request["digest"], "notes": proposal.notes},
            txn,
        )
    write_atomic(out, dumps_pretty(request))
    return request_id, head


def load_request(path: Path) -> SignRequest:
    """Read a sign request and check it: digest, versions, and every signature it carries.

    Raises:
        InputFileError: not a sign request, or malformed.
        TamperedRequestError: the content differs from its digest, or a signature does not verify.
    """
    obj = read_json(path, "sign request", limit=MAX_REQUEST_BYTES)
    if not isinstance(obj, dict) or obj.get("type") != REQUEST_TYPE or obj.get("format") != REQUEST_FORMAT:
        raise InputFileError(f"{path}: not a ceremony sign request (format {REQUEST_FORMAT})")
    source = str(path)
    for name in ("id", "previous_root", "metadata", "digest"):
        if name not in obj:
            raise InputFileError(f"{path}: malformed sign request (no '{name}')")
    request_id = check_request_id(obj["id"], source)
    previous = _metadata_of(obj["previous_root"], source, "root")
    metadata = _metadata_map(obj["metadata"], source, "metadata")
    if not metadata:
        raise InputFileError(f"{path}: the sign request proposes no metadata; there is nothing to sign")
    context = _metadata_map(obj.get("context") or {}, source, "context")
    parents = _role_map(obj.get("parents") or {}, source, "parents")
    if not isinstance(obj.get("current") or {}, dict):
        raise InputFileError(f"{path}: 'current' is not an object")
    if not isinstance(obj["digest"], str):
        raise InputFileError(f"{path}: 'digest' is not text")
    request = SignRequest(
        path, obj, request_id, previous, metadata, parents, context, _text_list(obj.get("summary"), source, "summary")
    )
    if request.digest().hex() != obj.get("digest"):
        raise TamperedRequestError(
            f"{path}: the proposed metadata does not match the request's digest: it was changed after it was made",
            str(path),
            "digest",
        )
    # The digest covers only what will be signed; the previous root and the
    # delegating context decide which keys are accepted, so they must carry
    # valid signatures themselves (a forger has no keys to make those).
    own_keys, own_threshold = _md.root_role(previous, "root")
    if not status_of("root", previous, Requirement("previous root", own_keys, own_threshold)).met:
        raise TamperedRequestError(
            f"{path}: its previous root is not signed by a threshold of its own root keys; the request was tampered with",
            str(path),
            "previous-root",
        )
    for role, md in context.items():
        if role in TOP_LEVEL:
            keys, threshold = _md.root_role(previous, role)
            if not status_of(role, md, Requirement(role, keys, threshold)).met:
                raise TamperedRequestError(
                    f"{path}: its {role} context is not signed by the {role} keys of the previous root",
                    str(path),
                    "context",
                )
    if "root" in metadata and _md.version(metadata["root"]) != _md.version(previous) + 1:
        raise TamperedRequestError(
            f"{path}: proposes root version {_md.version(metadata['root'])} after version {_md.version(previous)}",
            str(path),
            "version",
        )
    reqs = request.requirements()
    for role, md in metadata.items():
        payload = _md.signed_bytes(md)
        allowed = {keyid: key for req in reqs[role] for keyid, key in req.keys.items()}
        for keyid, sig in _md.signatures(md).items():
            key = allowed.get(keyid)
            if key is None or not _keys.signature_is_valid(key, sig, payload):
                raise TamperedRequestError(
                    f"{path}: the signature by {keyid[:12]} on {role} does not verify; the request was tampered with",
                    str(path),
                    "signature",
                )
    return request


def sign_request(
    request: SignRequest,
    keyspec: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
    module: str | None = None,
) -> list[str]:
    """Sign every file of the request that the keyholder's key must sign; verify each signature.

    KEYSPEC is the keyholder's own key: a ``pkcs11:`` URI, or a software key file (PKCS#12).
    Returns the roles signed.

    Raises:
        SigningKeyError: the key is not one of the keys this request needs, or has signed already.
        PassphraseError / HsmError: unlocking the key failed.
    """
    reqs = request.requirements()
    if _hsm.is_pkcs11_uri(keyspec):
        token_signer = stack.enter_context(_hsm.open_key(keyspec, pin_for, module, pin_file))
        identity = _keys.public_key_identity(token_signer.public_key)

        def signer_for(key: Key) -> Any:
            return token_signer
    else:
        private = _keys.unlock_private(Path(keyspec), passphrase_for(Path(keyspec).name))
        identity = _keys.public_identity_of_private(private)

        def signer_for(key: Key) -> Any:
            return _keys.signer_from_private(private, key, keyspec)

    signed_roles = []
    needed_anywhere = False
    for role, md in request.metadata.items():
        payload = _md.signed_bytes(md)
        for req in reqs[role]:
            for keyid, key in req.keys.items():
                if _keys.public_key_identity(key) != identity:
                    continue
                needed_anywhere = True
                if keyid in _md.signatures(md) and _keys.signature_is_valid(key, _md.signatures(md)[keyid], payload):
                    continue
                _md.add_signature(md, keyid, _sign_as(signer_for(key), key, payload))
                if role not in signed_roles:
                    signed_roles.append(role)
    if not needed_anywhere:
        needed = "; ".join(
            f"{r.label}: {', '.join(k[:12] for k in r.keys)}" for role_reqs in reqs.values() for r in role_reqs
        )
        raise SigningKeyError(f"this key is not one of the keys this request needs ({needed})")
    if not signed_roles:
        raise SigningKeyError("this key has already signed everything it can sign in this request")
    return signed_roles


def save_request(request: SignRequest, out: Path | None = None) -> None:
    """Write the request (with its new signatures) atomically."""
    write_atomic(out or request.path, request.to_json())


def _load_pending(ws: Workspace, request_id: str) -> dict[str, Any]:
    """The workspace's record of a request it made.

    Raises:
        WorkspaceError: this workspace did not make the request, or already merged it.
    """
    path = ws.path / PENDING_DIR / f"{check_request_id(request_id, 'sign request')}.json"
    if not path.exists() and not path.is_symlink():
        raise WorkspaceError(
            f"{ws.path}: sign request {request_id} was not made by this workspace, or was merged already"
        )
    return read_pending(path, request_id)


def read_pending(path: Path, request_id: str) -> dict[str, Any]:
    """A pending record, every field checked: it is the workspace's own file, but read as hostile after a crash.

    Raises:
        InputFileError: a field is missing, of the wrong type, or names something this tool never writes.
    """
    record = read_json(path, "pending change", limit=MAX_REQUEST_BYTES)
    source = str(path)
    if not isinstance(record, dict):
        raise InputFileError(f"{path}: not a pending change record")
    for name, kind in (
        ("request_id", str),
        ("base_root_version", int),
        ("command", str),
        ("metadata", dict),
        ("config", dict),
        ("new_key_files", dict),
    ):
        if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool):
            raise InputFileError(f"{path}: pending change record has no valid '{name}'")
    if record["request_id"] != request_id:
        raise InputFileError(f"{path}: the pending record is for request {printable(record['request_id'], 40)}")
    if record["command"] not in _PENDING_COMMANDS:
        raise InputFileError(f"{path}: unknown command {printable(record['command'], 40)!r} in a pending record")
    _text_list(record.get("summary"), source, "summary")
    _text_list(record.get("notes"), source, "notes")
    _role_map(record.get("parents") or {}, source, "parents")
    for role in _text_list(record.get("removed_roles"), source, "removed_roles"):
        check_role_name(role, f"{source} removed_roles")
    for keyid in _text_list(record.get("revoked"), source, "revoked", limit=10_000):
        if not KEYID.match(keyid):
            raise InputFileError(f"{path}: revoked key id {printable(keyid, 80)!r} is not a key id")
    if not isinstance(record.get("details") or {}, dict):
        raise InputFileError(f"{path}: 'details' is not an object")
    check_config(record["config"], f"{path} config")
    for keyid, encoded in record["new_key_files"].items():
        if not KEYID.match(keyid) or not isinstance(encoded, str):
            raise InputFileError(f"{path}: new key file {printable(keyid, 80)!r} is not keys/<keyid>.p12")
        try:
            base64.b64decode(encoded, validate=True)
        except ValueError as err:
            raise InputFileError(f"{path}: the new key file for {keyid[:12]} is not base64") from err
    _metadata_map(record["metadata"], source, "metadata")
    return record


def merge(
    ctx: ChangeContext, paths: list[Path], also: Callable[[_txn.Transaction], None] | None = None
) -> tuple[PublishResult | None, list[ThresholdStatus]]:
    """Check every signature of one or more signed copies of a request; publish when every threshold is met.

    Raises:
        TamperedRequestError: a request's content differs from what this workspace made, or a signature is bad.
        ThresholdNotMetError: thresholds not met (nothing written; ``statuses`` attribute lists them).
        WorkspaceError: unknown request, or the workspace moved on.
    """
    if not paths:
        raise UsageError("merge needs at least one sign request")
    requests = [load_request(p) for p in paths]
    ids = {r.id for r in requests}
    if len(ids) != 1:
        raise UsageError(
            f"these files are copies of different sign requests ({', '.join(sorted(ids))}); merge one change at a time"
        )
    pending = _load_pending(ctx.ws, requests[0].id)
    state = load_state(ctx.ws)
    if _md.version(state.root) != pending["base_root_version"]:
        raise WorkspaceError(
            f"{ctx.ws.path}: request {requests[0].id} was made against root version {pending['base_root_version']}, "
            f"but the workspace is now at version {_md.version(state.root)}; make the change again"
        )
    base = _metadata_map(pending["metadata"], "pending change", "metadata")
    for request in requests:
        if set(request.metadata) != set(base) or any(
            _md.signed_bytes(request.metadata[r]) != _md.signed_bytes(base[r]) for r in base
        ):
            raise TamperedRequestError(
                f"{request.path}: its proposed metadata differs from what this workspace put in request {request.id}",
                str(request.path),
                "content",
            )
    proposal = Proposal(
        command=str(pending["command"]),
        summary=list(pending.get("summary") or []),
        base_root_version=int(pending["base_root_version"]),
        metadata=base,
        parents=dict(pending.get("parents") or {}),
        removed_roles=list(pending.get("removed_roles") or []),
        new_key_files={k: base64.b64decode(v, validate=True) for k, v in pending["new_key_files"].items()},
        config=pending["config"],
        revoked=set(pending.get("revoked") or []),
        notes=list(pending.get("notes") or []),
        details={**(pending.get("details") or {}), "request_id": requests[0].id},
    )
    reqs = proposal_requirements(state, proposal)
    for request in requests:
        accept_signatures(base, request.metadata, reqs)
    all_statuses = statuses(reqs, proposal.metadata)
    unmet = [s for s in all_statuses if not s.met]
    if unmet:
        raise threshold_error(
            unmet, all_statuses, {"keys": {**ctx.ws.config.get("keys", {}), **proposal.config.get("keys", {})}}
        )
    result = publish(ctx, state, proposal, [f"request {requests[0].id}"], also)
    return result, all_statuses


# --------------------------------------------------------------------------- import and diff


def import_repository(
    path: Path, source: Path, trusted_root: Path | None, at: datetime, now: datetime | None = None
) -> tuple[Workspace, _verify.Report]:
    """Make a workspace from a real repository after verifying it, without private keys.

    Only the files a TUF client would fetch are read, by name and never through
    a symbolic link, and any other entry of the source directory is refused
    (``verify.read_client_files``): nothing the source holds besides its
    metadata reaches the published directory. Every file is copied byte for byte (unknown fields included); every key is
    recorded as held elsewhere, labelled with its owner where the metadata says
    (tuf-on-ci's x-tuf-on-ci-keyowner). New versions keep the repository's
    keyids; new keys get the spec's keyid.

    Raises:
        VerificationError: the repository does not verify.
        WorkspaceError: the workspace exists.
    """
    from ceremony.core.workspace import create_workspace  # local: avoids a cycle at import time

    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    # Read once, verify those bytes, and copy exactly those bytes: a second read could differ.
    # Only the files a client would fetch, by name, never through a symlink; anything else is refused.
    files = _verify.read_client_files(source)
    trusted_bytes = read_bytes(trusted_root, "trusted root") if trusted_root else None
    report = _verify.verify_files(files, trusted_bytes, at, str(trusted_root) if trusted_root else None)
    newest = f"{report.newest_root_version}.root.json"
    if newest not in files:  # only root.json was given: it is the newest root, kept under its number too
        files[newest] = files["root.json"]
    files.setdefault("root.json", files[newest])
    root = _md.parse(files["root.json"], "root.json")
    root_dict = _md.signed_dict(root)
    keys_config: dict[str, Any] = {}
    for role in TOP_LEVEL:
        for keyid in root_dict["roles"][role]["keyids"]:
            key = root_dict["keys"].get(keyid, {})
            owner = key.get("x-tuf-on-ci-keyowner")
            if not isinstance(owner, str) or not _LABEL.match(owner):
                owner = None  # a label is shown everywhere: only a plain one is taken from the repository
            entry = keys_config.setdefault(
                keyid,
                {
                    "label": owner or f"{role}-{keyid[:8]}",
                    "roles": [],
                    "key_type": _keys.key_type_name(_keys.public_key_from_metadata(keyid, key)),
                    "uri": None,
                },
            )
            entry["roles"].append(role)
    config = {
        "roles": {
            role: {
                "threshold": root_dict["roles"][role]["threshold"],
                "keyids": root_dict["roles"][role]["keyids"],
                "expiry_days": DEFAULT_EXPIRY_DAYS[role],
            }
            for role in TOP_LEVEL
        },
        "keys": keys_config,
        "consistent_snapshot": bool(root_dict.get("consistent_snapshot")),
        "imported_from": {
            "trusted_root": report.trusted_root,
            "verified_at": report.at,
            "newest_root": report.newest_root_version,
        },
    }
    ws, _written, _head = create_workspace(
        path,
        files,
        {},
        config,
        "import",
        [
            f"imported a verified repository: root chain {report.trusted_root} to version {report.newest_root_version}",
            f"every key recorded as held elsewhere ({len(keys_config)} keys)",
        ],
        {"verified_at": report.at, "source_files": sorted(files)},
        now,
    )
    return ws, report


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
    versions = root_versions(ws)
    if b is None:
        b = versions[-1]
    if a is None:
        a = b - 1
    lines: list[str] = []
    for v in (a, b):
        if v not in versions:
            raise UsageError(f"root version {v} is not in {ws.metadata_dir} (it has {', '.join(map(str, versions))})")
    old = _verify.parse_envelope(f"{a}.root.json", read_bytes(ws.metadata_dir / f"{a}.root.json"), "root")
    new = _verify.parse_envelope(f"{b}.root.json", read_bytes(ws.metadata_dir / f"{b}.root.json"), "root")
    lines += _diff.describe_change(f"{b}.root.json", old.signed, new.signed)
    digest = _diff.payload_digest({"root": new.payload})
    return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)
