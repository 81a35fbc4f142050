"""Signing a proposal with the keys held here, and publishing it once every threshold is met.

``publish`` is the last gate of every change, whichever client made it and
whether it was signed here or merged from sign requests: it re-derives every
requirement, checks versions and expiry again (``policy``), verifies the
repository as it will be as a client would, and writes metadata, keys, config
and the transcript line in one journal transaction. Hash bins a change leaves
exactly as they were published are only looked for, not loaded again, so a
change costs what it touches, not the 16,384 bins of PEP 458 (``_unchanged_roles``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from securesystemslib.signer import Key

from ceremony.core import _txn
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core import roles as _roles
from ceremony.core import transcript as _transcript
from ceremony.core import verify as _verify
from ceremony.core._json import dumps_pretty
from ceremony.core._text import printable
from ceremony.core.proposal import ChangeContext, Proposal, State, load_state, proposal_requirements
from ceremony.core.roles import CONFIG_NAME, KEYID, KEYS_DIR, METADATA_DIR, PENDING_DIR, target_file_names
from ceremony.core.signers import sign_as, unlock_held_key
from ceremony.core.thresholds import ThresholdResult, count, evaluate_all
from ceremony.core.workspace import check_config
from ceremony.errors import TamperedRequestError, ThresholdNotMetError, VerificationError, WorkspaceError

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Root  # noqa: TID251 - types only


def _workspace_signer(ctx: ChangeContext, keyid: str, key: Key) -> Any | None:
    """A signer for a key the workspace holds (asks for its passphrase or PIN), or None."""
    entry = ctx.ws.config.get("keys", {}).get(keyid) or {}
    module = ctx.module or ctx.ws.config.get("pkcs11_module")
    label = entry.get("label", keyid[:12])
    return unlock_held_key(
        ctx.ws.path, entry.get("uri"), key, label, ctx.passphrase_for, ctx.pin_for, module, ctx.stack, ctx.pin_file
    )


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
            # Distinct keys that signed validly; a signature made below is verified by sign_as as it is made,
            # so it is counted without checking it again (16,384 hash bins are signed in one change).
            signed, _unsigned = count(req.keys, _md.signatures(md), payload)
            counted = {_keys.public_key_identity(req.keys[k]) for k in signed}
            kept = [k for k in req.keys if k not in proposal.revoked]
            revoked_last = [k for k in req.keys if k in proposal.revoked] if req.label.startswith("old root") else []
            for keyid in [*kept, *revoked_last]:
                key = req.keys[keyid]
                if len(counted) >= req.threshold:
                    break
                identity = _keys.public_key_identity(key)
                if identity in counted:
                    continue
                signer = unlocked.get(identity)
                if signer is None and not only_new_keys:
                    signer = _workspace_signer(ctx, keyid, key)
                    if signer is not None:
                        unlocked[identity] = signer
                if signer is None:
                    continue
                _md.add_signature(md, keyid, sign_as(signer, key, payload))
                used.append(
                    ctx.ws.config.get("keys", {}).get(keyid, {}).get("label")
                    or proposal.config.get("keys", {}).get(keyid, {}).get("label")
                    or keyid[:12]
                )
                counted.add(identity)
    return sorted(set(used))


@dataclass
class PublishResult:
    """What was published."""

    files: dict[str, str | None]
    statuses: list[ThresholdResult]
    warnings: list[str]
    transcript_head: str


def threshold_error(
    unmet: list[ThresholdResult], all_statuses: list[ThresholdResult], config: dict[str, Any]
) -> ThresholdNotMetError:
    """One sentence naming where each threshold stands and which keys could still sign."""

    def name(keyid: str) -> str:
        entry = config.get("keys", {}).get(keyid, {})
        label = entry.get("label")
        revoked = " revoked" if entry.get("revoked") else ""
        return f"{label} ({keyid[:12]}{revoked})" if label else keyid[:12]

    standing = "; ".join(s.describe() for s in all_statuses)  # each label names its role already
    needed = "; ".join(f"{s.label} needs {s.missing} more of: {', '.join(name(k) for k in s.unsigned)}" for s in unmet)
    return ThresholdNotMetError(f"not published: {standing}. Still needed: {needed}", statuses=all_statuses)


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
    all_statuses = evaluate_all(reqs, proposal.metadata)
    unmet = [s for s in all_statuses if not s.verified]
    if unmet:
        raise threshold_error(
            unmet,
            all_statuses,
            {**ctx.ws.config, "keys": {**ctx.ws.config.get("keys", {}), **proposal.config.get("keys", {})}},
        )
    for role, md in proposal.metadata.items():
        current_md = state.current(role)
        _policy.check_next_version(role, _md.version(md), _md.version(current_md) + 1 if current_md is not None else 1)
        _policy.check_expiry(role, _md.expires(md), ctx.now)

    new_files = dict(state.files)
    outputs: dict[str, bytes] = {}
    for role, md in proposal.metadata.items():
        data = _md.to_bytes(md)
        for name in _roles.file_names(role, _md.version(md), state.consistent):
            outputs[name] = data
    for role in proposal.removed_roles:
        _policy.check_role_name(role, "removed role")
        _policy.check_removable(role)
    removed = _files_of_roles(state.files, set(proposal.removed_roles))
    new_files.update(outputs)
    for name in removed:
        new_files.pop(name, None)
    warnings = _verify_result(
        new_files, set(outputs), ctx.now, _rekeyed_online_roles(state, proposal), _unchanged_roles(state, proposal)
    )

    for keyid in proposal.new_key_files:
        if not KEYID.match(keyid):
            raise WorkspaceError(f"key id {printable(keyid, 80)!r} cannot name a key file; nothing was written")
    check_config(proposal.config, "the config this change writes")
    _check_target_files(state, proposal)

    # One transaction: metadata, keys, config, the pending record and the transcript line become the
    # workspace's state together, or not at all (docs/workspace.md, "Changes are all-or-nothing").
    written: dict[str, str | None] = {}
    signed_by = {role: sorted(_md.signatures(md)) for role, md in proposal.metadata.items()}
    versions = {role: _md.version(md) for role, md in proposal.metadata.items()}
    with _txn.transaction(ctx.ws.path) as txn:
        for keyid, encrypted in proposal.new_key_files.items():
            written[f"{KEYS_DIR}/{keyid}.p12"] = txn.write(f"{KEYS_DIR}/{keyid}.p12", encrypted)
        # Target files before the metadata that lists them: a reader never sees a listed target missing.
        for rel, content in sorted(proposal.target_files.items()):
            if content is None:
                txn.remove(rel)
                written[rel] = None
            else:
                written[rel] = txn.write(rel, content)
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
            pending = f"{PENDING_DIR}/{_policy.check_request_id(request_id, 'pending change')}.json"
            if (ctx.ws.path / pending).exists():
                txn.remove(pending)
                written[pending] = None
        details: dict[str, Any] = {
            "signed_by": signed_by,
            "signers": used,
            "thresholds": [s.describe() for s in all_statuses],
            "keys": {k: v for k, v in proposal.details.items() if k != "request_id"},
            "notes": proposal.notes,
        }
        if ctx.plan_run is not None:
            written.update(ctx.plan_run.stage(ctx.ws.path, txn))
            details["plan"] = ctx.plan_run.details()
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
            details,
            txn,
        )
        if also is not None:  # a caller's own files of the same change (a guided session that ends with it)
            also(txn)
    ctx.ws.config = proposal.config
    return PublishResult(written, all_statuses, warnings + proposal.notes, head)


def _files_of_roles(files: Iterable[str], roles: set[str]) -> list[str]:
    """The files (ROLE.json, N.ROLE.json) of ``roles`` among ``files``: one pass, however many roles go."""
    found = []
    for name in files:
        base = name.removesuffix(".json")
        number, _dot, rest = base.partition(".")
        if base in roles or (rest in roles and number.isascii() and number.isdigit() and number[0] != "0"):
            found.append(name)
    return found


def _unchanged_roles(state: State, proposal: Proposal) -> frozenset[str]:
    """Delegated roles whose verification at publish is the one they had when they were published.

    A change of a few hash bins must not load and check the thousands of others: a delegated role is skipped
    when this change writes no file of it or of any role below it, and its delegating role either is not
    changed or delegates to it with exactly the same keys and threshold. Snapshot entries must be unchanged
    for every role this change does not write (else nothing is skipped). Their bytes are the ones published
    and recorded with their SHA-256 in the transcript (``ceremony transcript`` checks them; ``verify`` and
    ``status`` check everything).
    """
    old_snapshot, new_snapshot = state.current("snapshot"), proposal.metadata.get("snapshot")
    if old_snapshot is None or "root" in proposal.metadata:
        return frozenset()
    changed = set(proposal.metadata) | set(proposal.removed_roles)
    if new_snapshot is not None and _md.snapshot_changes(old_snapshot, new_snapshot) - {f"{r}.json" for r in changed}:
        return frozenset()
    above: set[str] = set()  # every role with a changed role below it
    for role in changed:
        name = proposal.parents.get(role) or state.parent_of(role)
        while name is not None and name not in above and name not in _roles.TOP_LEVEL:
            above.add(name)
            name = proposal.parents.get(name) or state.parent_of(name)
    skipped: set[str] = set()
    for parent, old in delegators(state):
        new = proposal.metadata.get(parent)
        if new is None or _md.same_delegations(old, new):
            skipped.update(r for r in _md.bin_names(old) if r not in changed and r not in above)
    return frozenset(skipped)


def delegators(state: State) -> Iterator[tuple[str, Metadata]]:
    """(role, current metadata) of targets and every named delegated role below it held here, breadth first: the
    roles that may delegate (hash bins delegate nothing; they are not walked)."""
    queue, seen = ["targets"], set()
    while queue:
        role = queue.pop(0)
        md = state.current(role) if role not in seen else None
        seen.add(role)
        if md is not None:
            queue += _md.delegated_roles(md)
            yield role, md


def _check_target_files(state: State, proposal: Proposal) -> None:
    """Every target file a change writes or removes follows from its metadata, not from the record it came in.

    A pending record is read back from disk (after a crash, or an edit): a file to write must be a name a client
    fetches for a target the new metadata lists, with exactly that length and those hashes; a file to remove
    must be one the current version served and the new one no longer does.

    Raises:
        TamperedRequestError: naming the file.
    """
    if not proposal.target_files:
        return
    new_names: dict[str, dict[str, Any]] = {}
    old_names: set[str] = set()
    for md in proposal.metadata.values():
        if _md.role_type(md) != "targets":
            continue
        for path, info in _md.targets_of(md).items():
            for name in target_file_names(path, info.get("hashes", {}), state.consistent):
                new_names[name] = info
    for role in [*proposal.metadata, *proposal.removed_roles]:
        current = state.current(role)
        if current is not None and _md.role_type(current) == "targets":
            for path, info in _md.targets_of(current).items():
                old_names.update(target_file_names(path, info.get("hashes", {}), state.consistent))
    for rel, content in proposal.target_files.items():
        shown = printable(rel, 200)
        if content is None:
            if rel not in old_names or rel in new_names:
                raise TamperedRequestError(f"{shown}: the change removes it, but its metadata does not drop it")
            continue
        listed = new_names.get(rel)
        hashes = listed.get("hashes", {}) if listed else {}
        if (
            listed is None
            or listed.get("length") != len(content)
            or not hashes
            or any(
                algorithm not in ("sha256", "sha512") or hashlib.new(algorithm, content).hexdigest() != digest
                for algorithm, digest in hashes.items()
            )
        ):
            raise TamperedRequestError(f"{shown}: the change writes it, but no target of its metadata is these bytes")


def _rekeyed_online_roles(state: State, proposal: Proposal) -> set[str]:
    """Top-level online roles whose keys or threshold root N+1 changes but whose metadata this change cannot re-sign.

    That is a rotation to a key held elsewhere (the online service's): the
    role's current file, signed by the old key, is the online service's to
    replace once root N+1 is out (see plan_rotation's note).
    """
    new_root = proposal.metadata.get("root")
    if new_root is None:
        return set()

    def keys_of(root: Metadata[Root], role: str) -> tuple[set[str], int]:
        keys, threshold = _md.root_role(root, role)
        return set(keys), threshold

    return {
        role
        for role in ("targets", "snapshot", "timestamp")
        if role not in proposal.metadata and keys_of(new_root, role) != keys_of(state.root, role)
    }


def _verify_result(
    files: dict[str, bytes],
    changed: set[str],
    now: datetime,
    rekeyed: set[str] | frozenset[str] = frozenset(),
    unchanged: frozenset[str] = frozenset(),
) -> list[str]:
    """Verify the repository as it will be (``unchanged``: delegated roles verified when they were published).

    Tolerated, as warnings, only for files this change does not touch: staleness,
    and a file of an online role that this change gave keys the workspace does not
    hold (``rekeyed``; the online service re-signs it).
    """
    try:
        _verify.verify_files(files, None, now, unchanged=unchanged)
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
