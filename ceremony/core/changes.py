"""Changes to a live repository: rotate keys, extend expiry, delegate; and one way to carry them out.

Each planner (``plan_rotation``, ``plan_extension``, ``plan_delegation``,
``plan_succinct_delegation`` (TAP 15 hash bins), ``plan_undelegation``) turns what the operator asked for into a ``Proposal``
(proposal.py): the new versions of the files the change touches, unsigned,
with the keys it adds acquired and the config it will write. Every rule it
applies is in ``policy.py``. ``apply`` is the one pipeline both clients call
once the operator has seen the diff: sign here with the keys held here and
publish (publish.py), or write a sign request for keyholders elsewhere
(requests.py). The CLI keeps only its show-and-confirm prompt; the terminal
UI's guided change keeps the request in the workspace (guided/change.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from securesystemslib.signer import Key

from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core._json import dumps_pretty, loads_strict
from ceremony.core._text import plural, printable
from ceremony.core.dates import format_date
from ceremony.core.proposal import ChangeContext, Proposal, State, load_state, successor
from ceremony.core.publish import PublishResult, delegators, publish, sign_here
from ceremony.core.requests import write_request
from ceremony.core.roles import CONFIG_NAME, TOP_LEVEL, target_file_names
from ceremony.core.signers import GENERATE, AcquiredKey, KeySpec, acquire_key
from ceremony.core.workspace import KeyRecord, Workspace
from ceremony.errors import HsmError, UsageError

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Root  # noqa: TID251 - types only


def _acquire(ctx: ChangeContext, spec: str, label: str, role: str) -> AcquiredKey:
    """A key added by a change (see workspace.acquire_key); new passphrases are asked as "new key LABEL".

    The workspace's profile decides which keys its clients can verify (a Sigstore instance's: what sigstore-js
    verifies); a key type is refused before a key is made, any other key as soon as its public key is known.
    """
    profile = str(ctx.ws.config.get("profile", ""))
    parsed = KeySpec.parse(spec)
    if parsed.kind == GENERATE:
        _policy.check_profile_key(profile, label, _keys.key_type(parsed.value).scheme)
    acquired = acquire_key(
        spec,
        label,
        role,
        lambda name: ctx.passphrase_for(f"new key {name}"),
        ctx.pin_for,
        ctx.module or ctx.ws.config.get("pkcs11_module"),
        ctx.stack,
        ctx.pin_file,
    )
    _policy.check_profile_key(profile, label, acquired.public.scheme)
    return acquired


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


def copy_config(ws: Workspace) -> dict[str, Any]:
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
            found = f"no key of role {role} matches" if not matches else f"{len(matches)} keys of role {role} match"
            raise UsageError(
                f"--revoke {printable(prefix, 80)}: {found}; its keys are {', '.join(k[:12] for k in keys)}"
            )
        result.append(matches[0])
    return result


def _can_sign_here(ctx: ChangeContext, keys: Mapping[str, Key], proposal: Proposal) -> bool:
    """True when at least one of ``keys`` is held in this workspace or was made by this change."""
    for keyid, key in keys.items():
        if _keys.public_key_identity(key) in proposal.signers:
            return True
        uri = ctx.ws.config.get("keys", {}).get(keyid, {}).get("uri")
        if uri and keyid not in proposal.revoked:
            return True
    return False


def cascade(ctx: ChangeContext, state: State, proposal: Proposal) -> None:
    """Re-sign snapshot and timestamp after targets-level files change, where we hold their keys."""
    changed = [r for r in proposal.metadata if r not in ("root", "snapshot", "timestamp")]
    root = proposal.metadata.get("root", state.root)
    if (changed or proposal.removed_roles) and "snapshot" not in proposal.metadata:
        current = state.current("snapshot")
        keys, _threshold = _md.root_role(root, "snapshot")
        if current is None or not _can_sign_here(ctx, keys, proposal):
            proposal.notes.append(_policy.left_to_online_line("snapshot"))
        else:
            snapshot = successor(ctx, current, "snapshot")
            for role in changed:
                _md.set_snapshot_meta(snapshot, f"{role}.json", _md.version(proposal.metadata[role]))
            for role in proposal.removed_roles:
                _md.set_snapshot_meta(snapshot, f"{role}.json", None)
            proposal.metadata["snapshot"] = snapshot
    if "snapshot" in proposal.metadata and "timestamp" not in proposal.metadata:
        current = state.current("timestamp")
        keys, _threshold = _md.root_role(root, "timestamp")
        if current is None or not _can_sign_here(ctx, keys, proposal):
            proposal.notes.append(_policy.left_to_online_line("timestamp"))
        else:
            timestamp = successor(ctx, current, "timestamp")
            _md.set_timestamp_snapshot(timestamp, _md.version(proposal.metadata["snapshot"]))
            proposal.metadata["timestamp"] = timestamp


def _new_root(ctx: ChangeContext, state: State, days: int | None = None) -> Metadata[Root]:
    """Root N+1: same content, version + 1, no signatures.

    Expiry: ``days`` from now when given (extend); otherwise the published one or later (``successor``: a
    rotation does not shorten the root's life).
    """
    root = (
        _md.next_version(state.root, ctx.now + timedelta(days=days))
        if days is not None
        else successor(ctx, state.root, "root")
    )
    _policy.check_expiry("root", _md.expires(root), ctx.now)
    return root


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
    config = copy_config(ctx.ws)
    keys, current_threshold = _md.root_role(state.root, role)
    revoked = _resolve_keyids(keys, revoke, role, config)
    if role == "root":
        _check_root_custody(ctx, config, [k for k in keys if k not in revoked], add)
    new_threshold = threshold if threshold is not None else current_threshold
    _policy.check_threshold(role, new_threshold, len(keys) - len(revoked) + len(add), no_spare_root_key)

    threshold_text = (
        f"{current_threshold} (unchanged)"
        if new_threshold == current_threshold
        else f"{current_threshold} -> {new_threshold}"
    )
    proposal = Proposal(
        command="rotate",
        summary=[f"rotate {role}: revoke {plural(len(revoked), 'key')}, add {len(add)}, threshold {threshold_text}"],
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
            entry.setdefault("revoked", []).append({"role": role, "at": format_date(ctx.now)})
    final_keys, _t = _md.root_role(root, role)
    config.setdefault("roles", {}).setdefault(role, {}).update({"threshold": new_threshold, "keyids": list(final_keys)})
    proposal.config = config

    if role != "root":
        current = state.current(role)
        if current is not None and _can_sign_here(ctx, final_keys, proposal):
            proposal.metadata[role] = successor(ctx, current, role)
            if role == "targets" or role == "snapshot":
                cascade(ctx, state, proposal)
        else:
            proposal.notes.append(f"{role}.json must be re-signed by the online service with the new key")
    return state, proposal


def plan_extension(ctx: ChangeContext, role: str, days: int) -> tuple[State, Proposal]:
    """A new version of ``role`` expiring ``days`` from now, and the files that must follow it (every bin, for
    the name prefix of hash bins).

    Raises:
        UsageError: the workspace does not hold the role.
        PolicyError: days < 1.
    """
    _policy.check_expiry_days(role, days)
    state = load_state(ctx.ws)
    proposal = Proposal(
        command="extend",
        summary=[f"extend {role}: expires {plural(days, 'day')} from now"],
        base_root_version=_md.version(state.root),
        metadata={},
        config=copy_config(ctx.ws),
    )
    if role == "root":
        proposal.metadata["root"] = _new_root(ctx, state, days)
        return state, proposal
    current = state.current(role)
    if current is None and role not in TOP_LEVEL and (bins_from := bins_parent(state, role)) is not None:
        return _extend_bins(ctx, state, proposal, bins_from, days)
    if current is None:
        raise UsageError(f"{role}: this workspace does not hold {role} metadata")
    proposal.metadata[role] = _md.next_version(current, ctx.now + timedelta(days=days))
    if role not in TOP_LEVEL:
        parent = state.parent_of(role)
        if parent is None:
            raise UsageError(f"{role}: no role delegates to it")
        proposal.parents[role] = parent
    if role == "snapshot" or role != "timestamp":
        cascade(ctx, state, proposal)
    return state, proposal


def _extend_bins(
    ctx: ChangeContext, state: State, proposal: Proposal, parent: str, days: int
) -> tuple[State, Proposal]:
    """Every hash bin of ``parent`` re-signed, expiring ``days`` from now (``extend --role PREFIX``: they were made
    together and expire together), and the snapshot and timestamp that list them.

    Raises:
        UsageError: the workspace does not hold a bin's metadata.
    """
    parent_md = state.current(parent)
    assert parent_md is not None  # noqa: S101 - bins_parent found it
    expires_at = ctx.now + timedelta(days=days)
    for bin_name in _md.bin_names(parent_md):
        current = state.current(bin_name)
        if current is None:
            raise UsageError(f"{bin_name}: this workspace does not hold {bin_name} metadata")
        proposal.metadata[bin_name] = _md.next_version(current, expires_at)
        proposal.parents[bin_name] = parent
    cascade(ctx, state, proposal)
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
    _policy.check_new_role_name(name)
    if not paths:
        raise UsageError("a delegation needs at least one --paths pattern")
    specs, days, state, parent_md = _delegation_basics(
        ctx, name, key_specs, generate, key_type, threshold, expires_days, parent
    )
    _policy.check_new_delegation(
        name, state.parent_of(name) is not None or name in ctx.ws.config.get("delegations", {})
    )
    _policy.check_succinct_parent(parent, names_roles=False, has_bins=_md.succinct_of(parent_md) is not None)
    config = copy_config(ctx.ws)
    proposal = Proposal(
        command="delegate",
        summary=[f"delegate {paths} from {parent} to new role {name!r}: {threshold} of {plural(len(specs), 'key')}"],
        base_root_version=_md.version(state.root),
        metadata={},
        parents={name: parent},
    )
    new_keys = _add_keys(ctx, config, proposal, specs, name)
    parent_new = _next_parent(ctx, state, proposal, parent, parent_md)
    _md.add_delegation(parent_new, name, new_keys, threshold, terminating, paths)
    proposal.metadata[name] = _md.build_targets(ctx.now + timedelta(days=days))
    return _recorded(ctx, state, proposal, config, name, {"parent": parent, "paths": paths}, threshold, days)


def _delegation_basics(
    ctx: ChangeContext,
    name: str,
    key_specs: list[str],
    generate: int,
    key_type: str,
    threshold: int,
    expires_days: int | None,
    parent: str,
) -> tuple[list[str], int, State, Metadata]:
    """What every new delegation checks first: its keys, threshold and expiry, and the delegating role held here.

    Raises:
        UsageError: no keys, or a parent the workspace does not hold.
        PolicyError: a threshold that locks the role out, an expiry in the past.
    """
    specs = list(key_specs) + [key_type] * generate
    if not specs:
        raise UsageError("a delegation needs keys: --key KEYSPEC or --keys N --key-type T")
    _policy.check_threshold(name, threshold, len(specs), no_spare_ok=True)
    days = expires_days if expires_days is not None else _policy.policy_days(ctx.ws.config, "targets")
    _policy.check_expiry(name, ctx.now + timedelta(days=days), ctx.now)
    state = load_state(ctx.ws)
    parent_md = state.current(parent)
    if parent_md is None:
        raise UsageError(f"--from {parent}: this workspace does not hold that role's metadata")
    return specs, days, state, parent_md


def _next_parent(ctx: ChangeContext, state: State, proposal: Proposal, parent: str, parent_md: Metadata) -> Metadata:
    """The delegating role's next version, in the proposal (with the role above it, for a delegated one)."""
    parent_new = successor(ctx, parent_md, parent)
    proposal.metadata[parent] = parent_new
    if parent != "targets":
        proposal.parents[parent] = state.parent_of(parent) or "targets"
    return parent_new


def _recorded(
    ctx: ChangeContext,
    state: State,
    proposal: Proposal,
    config: dict[str, Any],
    name: str,
    entry: dict[str, Any],
    threshold: int,
    days: int,
) -> tuple[State, Proposal]:
    """The config records the new delegation (its policy: threshold, expiry); snapshot and timestamp follow."""
    config.setdefault("delegations", {})[name] = {**entry, "threshold": threshold, "expiry_days": days}
    proposal.config = config
    cascade(ctx, state, proposal)
    return state, proposal


def plan_succinct_delegation(
    ctx: ChangeContext,
    name: str,
    bins: int,
    key_specs: list[str],
    generate: int,
    key_type: str,
    threshold: int,
    expires_days: int | None,
    parent: str = "targets",
) -> tuple[State, Proposal]:
    """Delegate every target path to ``bins`` hash bins ``NAME-<hex>`` (TAP 15), one key set for all of them.

    ``parent`` gets ``delegations.succinct_roles`` (the keys, threshold, bit length and name prefix, and no
    ``roles`` list); each bin gets version 1, empty, signed with the bins' keys held here; snapshot lists every
    bin. Clients route each target path to the bin named by the first bits of its SHA-256, as ``targets add``
    does.

    Raises:
        UsageError: a number of bins that is not a power of two from 2 to 16,384, a bad name, no keys, an
            unknown parent.
        PolicyError: a threshold that locks the bins out, a parent that already delegates, a bin name in use.
    """
    bit_length = _policy.check_succinct_bins(bins)
    _policy.check_new_role_name(name)
    width = len(f"{bins - 1:x}")
    _policy.check_new_role_name(f"{name}-{'0' * width}")  # the longest bin name must be a role name too
    specs, days, state, parent_md = _delegation_basics(
        ctx, name, key_specs, generate, key_type, threshold, expires_days, parent
    )
    _policy.check_succinct_parent(parent, _md.names_roles(parent_md), _md.succinct_of(parent_md) is not None)
    config = copy_config(ctx.ws)
    _check_bin_names_free(state, config, name, width)
    last = f"{name}-{bins - 1:0{width}x}"
    proposal = Proposal(
        command="delegate",
        summary=[
            f"delegate every target path from {parent} to {bins:,} hash bins {name}-{'0' * width} .. {last}: "
            f"{threshold} of {plural(len(specs), 'key')} for all bins"
        ],
        base_root_version=_md.version(state.root),
        metadata={},
    )
    new_keys = _add_keys(ctx, config, proposal, specs, name)
    parent_new = _next_parent(ctx, state, proposal, parent, parent_md)
    names = _md.add_succinct_delegation(parent_new, name, new_keys, threshold, bit_length)
    expires_at = ctx.now + timedelta(days=days)
    for bin_name in names:
        proposal.metadata[bin_name] = _md.build_targets(expires_at)
        proposal.parents[bin_name] = parent
    return _recorded(ctx, state, proposal, config, name, {"parent": parent, "succinct_bins": bins}, threshold, days)


def _check_bin_names_free(state: State, config: Mapping[str, Any], name: str, width: int) -> None:
    """Neither the prefix nor any bin name may be a role the repository has already (its keys would be ambiguous).

    Raises:
        PolicyError: naming the first role in the way.
    """
    bin_name = re.compile(rf"{re.escape(name)}-[0-9a-f]{{{width}}}")
    taken = set(config.get("delegations", {}))
    for file in state.files:
        base = file.removesuffix(".json")
        taken.add(base)
        taken.add(base.partition(".")[2] if base.partition(".")[0].isdigit() else base)
    _policy.check_new_delegation(name, name in taken or state.parent_of(name) is not None)
    for role in sorted(taken):
        if bin_name.fullmatch(role):
            _policy.check_new_delegation(role, True)


def bins_parent(state: State, prefix: str) -> str | None:
    """The role that delegates to the hash bins named ``prefix`` (targets, then named delegated roles), or None."""
    for role, md in delegators(state):
        succinct = _md.succinct_of(md)
        if succinct is not None and succinct[0] == prefix:
            return role
    return None


def _plan_bins_removal(ctx: ChangeContext, state: State, name: str, parent: str) -> tuple[State, Proposal]:
    """Remove the hash bins ``name`` delegated by ``parent``: every bin's metadata and target files go."""
    parent_md = state.current(parent)
    assert parent_md is not None  # noqa: S101 - bins_parent found it
    config = copy_config(ctx.ws)
    config.get("delegations", {}).pop(name, None)
    _revoke_role_keys(ctx, config, name)
    proposal = Proposal(
        command="delegate --remove",
        summary=[],
        base_root_version=_md.version(state.root),
        metadata={},
        config=config,
    )
    names = _md.remove_succinct_delegation(_next_parent(ctx, state, proposal, parent, parent_md))
    proposal.summary.append(f"remove the {len(names):,} hash bins {name}-* from {parent}")
    proposal.removed_roles = names
    for bin_name in names:
        current = state.current(bin_name)
        if current is None:
            continue
        for path, info in _md.targets_of(current).items():
            for file in target_file_names(path, info.get("hashes", {}), state.consistent):
                proposal.target_files[file] = None
    cascade(ctx, state, proposal)
    return state, proposal


def _revoke_role_keys(ctx: ChangeContext, config: dict[str, Any], role: str) -> None:
    """The keys of a removed role no longer serve it: kept, marked revoked for it, never reused."""
    for entry in config.get("keys", {}).values():
        if role in entry.get("roles", []):
            entry["roles"] = [r for r in entry["roles"] if r != role]
            entry.setdefault("revoked", []).append({"role": role, "at": format_date(ctx.now)})


def plan_undelegation(ctx: ChangeContext, name: str) -> tuple[State, Proposal]:
    """Remove a delegated role, or a set of hash bins by their name prefix: its parent stops naming it and its
    metadata is removed (for hash bins, every bin and the files it lists).

    Raises:
        UsageError: no such delegated role.
    """
    state = load_state(ctx.ws)
    parent = state.parent_of(name)
    if parent is None and (bins_from := bins_parent(state, name)) is not None:
        return _plan_bins_removal(ctx, state, name, bins_from)
    parent_md = state.current(parent) if parent is not None else None
    bins = _md.succinct_of(parent_md) if parent_md is not None else None
    if bins is not None:
        _policy.refuse_single_bin(name, bins[0])
    if parent is None or parent_md is None:
        raise UsageError(f"role {name!r} is not delegated in this repository")
    parent_new = successor(ctx, parent_md, parent)
    _md.remove_delegation(parent_new, name)
    config = copy_config(ctx.ws)
    config.get("delegations", {}).pop(name, None)
    _revoke_role_keys(ctx, config, name)
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
    cascade(ctx, state, proposal)
    return state, proposal


# --------------------------------------------------------------------------- signing in the workspace


# --------------------------------------------------------------------------- publishing


# --------------------------------------------------------------------------- sign requests


# --------------------------------------------------------------------------- import and diff


def _check_root_custody(ctx: ChangeContext, config: Mapping[str, Any], kept: list[str], add: list[str]) -> None:
    """The custody rule for a rotation of root keys, before any token is logged in to.

    The root keys that stay are named by the token serial their URIs record
    (the token need not be present); the keys added are looked up by the URI
    the operator typed.

    Raises:
        PolicyError: two root keys would be on one token.
    """
    module = ctx.module or ctx.ws.config.get("pkcs11_module")
    entries: list[tuple[str, str | None, str | None]] = []
    for keyid in kept:
        entry = config.get("keys", {}).get(keyid) or {}
        uri = entry.get("uri") or ""
        token = _kept_token(KeySpec.parse_own(uri), module) if uri.startswith("pkcs11:") else None
        entries.append((str(entry.get("label") or keyid[:12]), None, token))
    for index, spec in enumerate(add, start=1):
        entries.append((f"new root key {index}", None, KeySpec.parse(spec).token_identity(module)))
    _policy.check_custody(entries)


def _kept_token(spec: KeySpec, module: str | None) -> str | None:
    """The serial of the token a kept root key is on: from its URI, else looked up; its label if the token is absent."""
    try:
        return spec.token_identity(module)
    except HsmError:
        return spec.token_identity(module, lookup=False)


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did: published the change here, or wrote a sign request for keyholders elsewhere."""

    published: PublishResult | None
    request_id: str | None
    transcript_head: str


def apply(ctx: ChangeContext, state: State, proposal: Proposal, request_out: Path | None = None) -> Applied:
    """Carry out a change the operator has seen: sign here and publish, or write a sign request to ``request_out``.

    The one pipeline of every client. Signing here uses the keys made by the
    change first, then the workspace's keys until each threshold is met;
    ``publish`` then checks everything again. With ``request_out`` only the
    change's own new keys sign, and the request goes to the keyholders.

    Raises:
        ThresholdNotMetError: not enough keys are held here (nothing written).
        PassphraseError / HsmError / SigningKeyError: unlocking or signing failed.
        VerificationError / PolicyError / WorkspaceError: see publish and write_request.
    """
    if request_out is not None:
        _policy.check_request_roles(len(proposal.metadata), len(proposal.removed_roles))
        request_id, head = write_request(ctx, state, proposal, request_out)
        return Applied(None, request_id, head)
    result = publish(ctx, state, proposal, sign_here(ctx, state, proposal))
    return Applied(result, None, result.transcript_head)
