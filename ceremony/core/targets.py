"""Target files: add and remove the files a repository vouches for, in top-level targets or a delegated role.

A target change is a new version of the role that lists the file (its length and hashes), re-signed snapshot
and timestamp where this workspace holds their keys (``changes._cascade``), and the file itself under the
workspace's ``targets/``, so that ``metadata/`` and ``targets/`` are exactly what a static web server serves.
With consistent snapshots a client fetches ``targets/<dir>/<hash>.<name>`` (TUF 5.7.3), which is written too.
The change goes through ``changes.apply`` like every other: signed here, or a sign request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core.changes import _cascade, _copy_config
from ceremony.core.proposal import ChangeContext, Proposal, State, load_state
from ceremony.core.roles import target_file_names
from ceremony.core.workspace import Workspace
from ceremony.errors import UsageError

#: Hashes of every target; sha512 too on request.
HASHES = ("sha256",)
#: A target file kept in the workspace: a sign request carries it, and python-tuf's default limit is far above.
MAX_TARGET_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class NewTarget:
    """A file to add: its target path, its bytes, and optional ``custom`` metadata (any JSON)."""

    path: str
    data: bytes
    custom: Any = None


def _role_state(state: State, role: str) -> tuple[Any, str | None]:
    current = state.current(role)
    if current is None:
        raise UsageError(f"{role}: this workspace does not hold {role} metadata")
    parent = None if role == "targets" else state.parent_of(role)
    if role != "targets" and parent is None:
        raise UsageError(f"{role}: no role delegates to it")
    return current, parent


def plan_targets(
    ctx: ChangeContext,
    role: str,
    add: Sequence[NewTarget] = (),
    remove: Sequence[str] = (),
    sha512: bool = False,
) -> tuple[State, Proposal]:
    """A new version of ``role`` with targets added (or replaced) and removed, and the files to write.

    Raises:
        UsageError: a bad target path, a file too large, a role the workspace does not hold, nothing to do.
        PolicyError: a path the role's delegation does not cover, or a target it does not list.
    """
    if not add and not remove:
        raise UsageError("nothing to change: give files to add or target paths to remove")
    state = load_state(ctx.ws)
    current, parent = _role_state(state, role)
    parent_md = state.current(parent) if parent else None
    new = _md.next_version(current, ctx.now + timedelta(days=_policy.policy_days(ctx.ws.config, role)))
    listed = _md.targets_of(current)
    files: dict[str, bytes | None] = {}
    summary = []
    algorithms = [*HASHES, *(["sha512"] if sha512 else [])]
    for path in remove:
        _policy.check_target_path(path)
        _md.remove_target(new, path)
        for name in target_file_names(path, listed[path].get("hashes", {}), state.consistent):
            files[name] = None
        summary.append(f"remove target {path} from {role}")
    seen: set[str] = set()
    for item in add:
        _policy.check_target_path(item.path)
        if item.path in seen:
            raise UsageError(f"target path {item.path!r} is given twice")
        seen.add(item.path)
        if len(item.data) > MAX_TARGET_BYTES:
            raise UsageError(f"target {item.path!r}: {len(item.data):,} bytes is above {MAX_TARGET_BYTES:,}")
        if parent_md is not None:
            _policy.check_delegated_path(role, item.path, _md.delegates_path(parent_md, role, item.path))
        if item.path in listed:  # a replaced file: its old copies are no longer served
            for name in target_file_names(item.path, listed[item.path].get("hashes", {}), state.consistent):
                files[name] = None
        info = _md.set_target(new, item.path, item.data, algorithms, item.custom)
        for name in target_file_names(item.path, info["hashes"], state.consistent):
            files[name] = item.data
        summary.append(f"add target {item.path} to {role} ({len(item.data)} bytes)")
    proposal = Proposal(
        command="targets add" if add else "targets remove",
        summary=summary,
        base_root_version=_md.version(state.root),
        metadata={role: new},
        config=_copy_config(ctx.ws),
    )
    proposal.target_files = files
    if parent:
        proposal.parents[role] = parent
    _cascade(ctx, state, proposal)
    return state, proposal


def list_targets(ws: Workspace, role: str) -> dict[str, dict[str, Any]]:
    """Target path -> length, hashes and custom of ``role`` as published in the workspace.

    Raises:
        UsageError: the workspace does not hold the role.
    """
    current = load_state(ws).current(role)
    if current is None:
        raise UsageError(f"{role}: this workspace does not hold {role} metadata")
    return _md.targets_of(current)
