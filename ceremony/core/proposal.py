"""A change before it is published: the repository it starts from, and the new versions it proposes.

Every change (rotate, extend, delegate, and whatever the next dialect adds)
is first built as a ``Proposal``: the new versions of the files it touches,
unsigned, plus what the workspace will record once it is published. The
planners in ``changes.py`` make proposals; ``publish.py`` signs and writes
them; ``requests.py`` carries them to keyholders elsewhere. ``State`` is the
published repository, parsed once per command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.core import diff as _diff
from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core import roles as _roles
from ceremony.core._text import printable
from ceremony.core.keys import SecretsHandler
from ceremony.core.repo_files import read_metadata_dir
from ceremony.core.signers import PassphraseProvider
from ceremony.core.thresholds import Requirement, requirements_for
from ceremony.core.workspace import Workspace
from ceremony.errors import InputFileError

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Root  # noqa: TID251 - types only

    from ceremony.core.plan import PlanRun


@dataclass
class State:
    """The published repository in a workspace, parsed once per command."""

    ws: Workspace
    files: dict[str, bytes]
    root: Metadata[Root]
    consistent: bool
    _cache: dict[str, Metadata | None] = field(default_factory=dict)

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

    def current(self, role: str) -> Metadata | None:
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
    ws.require_tuf("ceremony rotate, extend and delegate")
    files = read_metadata_dir(ws.metadata_dir)
    if "root.json" not in files:
        raise InputFileError(f"{ws.metadata_dir}/root.json: root metadata not found")
    root = _md.parse(files["root.json"], "root.json")
    return State(ws, files, root, _md.consistent_snapshot(root))


@dataclass
class Proposal:
    """A change, unsigned or partly signed, and what publishing it records."""

    command: str
    summary: list[str]
    base_root_version: int
    metadata: dict[str, Metadata]  # role -> the new version
    parents: dict[str, str] = field(default_factory=dict)  # delegated role -> delegating role
    removed_roles: list[str] = field(default_factory=list)
    new_key_files: dict[str, bytes] = field(default_factory=dict)  # keyid -> encrypted PKCS#12
    target_files: dict[str, bytes | None] = field(default_factory=dict)  # targets/<path> -> bytes (None: remove)
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
    plan_run: PlanRun | None = None  # the ceremony plan step this change runs (recorded with it)


def successor(ctx: ChangeContext, current: Metadata, policy_role: str) -> Metadata:
    """The next version of a published role, for a change that is not about its expiry (``policy.kept_expiry``).

    Every planner that re-signs a role it does not extend (delegation and its removal, hash bins, targets add
    and remove, rotation, snapshot and timestamp after them) makes the new version here, so none of them can
    shorten what an extension published. ``policy_role`` names the expiry policy (a bin's is its prefix's).
    """
    days = _policy.policy_days(ctx.ws.config, policy_role)
    return _md.next_version(current, _policy.kept_expiry(_md.expires(current), days, ctx.now))


def context_parents(state: State, proposal: Proposal) -> dict[str, Metadata]:
    """Current delegating metadata for proposed delegated roles whose parent is not changing, up to targets.

    A delegating role that is itself delegated brings every role above it, so
    that a keyholder's copy can verify the whole chain from the previous root
    (``requests``): a link nobody vouches for would let a forger choose keys.
    """
    context: dict[str, Metadata] = {}
    for role, parent in proposal.parents.items():
        name: str | None = parent if role in proposal.metadata else None
        while name is not None and name not in context and name not in proposal.metadata:
            current = state.current(name)
            if current is None:  # not held here: nothing vouches for the link, requirements_for says so
                break
            context[name] = current
            name = None if name in _roles.TOP_LEVEL else state.parent_of(name)
    return context


def context_chain(state: State, context: Mapping[str, Metadata]) -> dict[str, str]:
    """Delegated role -> the role that delegates it, for the delegated roles of ``context``."""
    return {name: parent for name in context if name not in _roles.TOP_LEVEL and (parent := state.parent_of(name))}


def proposal_requirements(state: State, proposal: Proposal) -> dict[str, list[Requirement]]:
    """requirements_for applied to a proposal against the workspace's state."""
    return requirements_for(state.root, proposal.metadata, proposal.parents, context_parents(state, proposal))


def proposal_payloads(proposal: Proposal) -> dict[str, bytes]:
    """role -> canonical bytes to be signed."""
    return {role: _md.signed_bytes(md) for role, md in proposal.metadata.items()}


def describe_proposal(state: State, proposal: Proposal) -> tuple[list[str], str, str]:
    """Diff lines against the current version, and the digest in hex and as words."""
    lines = list(proposal.summary)
    for role, md in proposal.metadata.items():
        current = state.current(role)
        name = _roles.display_name(role, _md.version(md))
        old = _md.signed_dict(current) if current is not None else None
        delegator = None
        if old is None and (parent := proposal.parents.get(role)) is not None:
            parent_md = proposal.metadata.get(parent) or state.current(parent)
            delegator = _md.signed_dict(parent_md) if parent_md is not None else None
        lines += _diff.describe_change(name, old, _md.signed_dict(md), role=role, delegator=delegator)
    for role in proposal.removed_roles:
        lines.append(f"{role}.json: REMOVED")
    lines += [f"note: {note}" for note in proposal.notes]
    digest = _diff.payload_digest(proposal_payloads(proposal))
    return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)
