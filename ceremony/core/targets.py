"""Target files: add and remove the files a repository vouches for, in top-level targets or a delegated role.

A target change is a new version of the role that lists the file (its length and hashes), re-signed snapshot
and timestamp where this workspace holds their keys (``changes.cascade``), and the file itself under the
workspace's ``targets/``, so that ``metadata/`` and ``targets/`` are exactly what a static web server serves.
With consistent snapshots a client fetches ``targets/<dir>/<hash>.<name>`` (TUF 5.7.3), which is written too.
Where the role delegates by hash bins (TAP 15, ``delegate --succinct-bins``), each path goes to the bin its hash
names, as clients look it up, and only the bins that change are read, given a new version and signed: a change
costs what it touches, not the 16,384 bins of PEP 458.
The change goes through ``changes.apply`` like every other: signed here, or a sign request.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core._json import read_bytes
from ceremony.core._text import plural, printable
from ceremony.core.changes import cascade, copy_config
from ceremony.core.proposal import ChangeContext, Proposal, State, load_state, successor
from ceremony.core.roles import target_file_names
from ceremony.core.workspace import Workspace
from ceremony.errors import InputFileError, UsageError

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


#: Bytes of all the files one change adds, read before anything is planned (a folder or glob of a large
#: directory must not fill memory mid-ceremony); the sizes are checked before any file is read.
MAX_CHANGE_BYTES = 4 * MAX_TARGET_BYTES


def read_new_targets(paths: Sequence[Path], prefix: str = "") -> list[NewTarget]:
    """The files to add under ``prefix`` + their names, their sizes bounded (each and together) before any is read.

    Raises:
        InputFileError: a file larger than MAX_TARGET_BYTES, or together more than MAX_CHANGE_BYTES, or unreadable.
    """
    total = 0
    for path in paths:
        try:
            size = os.lstat(path).st_size
        except OSError as err:
            raise InputFileError(f"{printable(path)}: {err.strerror or err}") from err
        if size > MAX_TARGET_BYTES:
            raise InputFileError(f"{printable(path)}: {size:,} bytes, more than the {MAX_TARGET_BYTES:,} of one target")
        total += size
        if total > MAX_CHANGE_BYTES:
            raise InputFileError(
                f"{printable(path)}: the files come to more than {MAX_CHANGE_BYTES:,} bytes, the most one change "
                "adds; add them in several changes"
            )
    return [
        NewTarget(prefix + Path(path).name, read_bytes(Path(path), "target file", MAX_TARGET_BYTES)) for path in paths
    ]


def _role_state(state: State, role: str) -> tuple[Any, str | None]:
    current = state.current(role)
    if current is None:
        raise UsageError(f"{role}: this workspace does not hold {role} metadata")
    parent = None if role == "targets" else state.parent_of(role)
    if role != "targets" and parent is None:
        raise UsageError(f"{role}: no role delegates to it")
    return current, parent


@dataclass
class _Edit:
    """One role a target change gives a new version: what it lists now, and the version being built."""

    current: Any
    new: Any
    listed: dict[str, dict[str, Any]]


class _Router:
    """Which role each target path of a change goes to, and the new version of each role that changes.

    A role that delegates by hash bins (TAP 15) lists no targets of its own here: each path goes to the bin its
    hash names (``metadata.bin_for_target``, python-tuf's own routing), and only the bins that change are read,
    given a new version and signed.
    """

    def __init__(self, ctx: ChangeContext, state: State, role: str) -> None:
        self.ctx, self.state, self.role = ctx, state, role
        self.current, self.parent = _role_state(state, role)
        bins = _md.succinct_of(self.current)
        self.prefix = bins[0] if bins else None
        self.parent_md = state.current(self.parent) if self.parent else None
        parent_bins = _md.succinct_of(self.parent_md) if self.parent_md is not None else None
        #: Policy of the role's expiry: a bin's is its prefix's (delegate --succinct-bins records it so).
        self.policy_role = parent_bins[0] if parent_bins else role
        self.edits: dict[str, _Edit] = {}

    def role_for(self, path: str) -> str:
        """The role ``path`` is listed in (the bin its hash names, where the role has bins).

        Raises:
            PolicyError: a path the role's delegation does not give it.
        """
        if self.parent_md is not None:  # bins below a delegated role serve only the paths it is given
            _policy.check_delegated_path(self.role, path, _md.delegates_path(self.parent_md, self.role, path))
        if self.prefix is not None:
            bin_name = _md.bin_for_target(self.current, path)
            assert bin_name is not None  # noqa: S101 - the role has bins
            return bin_name
        return self.role

    def edit(self, role: str) -> _Edit:
        """The new version of ``role`` this change builds (read and copied once, however many paths go to it).

        Raises:
            UsageError: the workspace does not hold the bin's metadata.
        """
        if role not in self.edits:
            current = self.current if role == self.role else self.state.current(role)
            if current is None:
                raise UsageError(f"{role}: this workspace does not hold {role} metadata")
            new = successor(self.ctx, current, self.policy_role if role == self.role else self.prefix or role)
            self.edits[role] = _Edit(current, new, _md.targets_of(current))
        return self.edits[role]


#: Summary lines of one change: each target up to this many, then a count (a sign request carries 50 lines).
_SUMMARY_TARGETS = 40


def plan_targets(
    ctx: ChangeContext,
    role: str,
    add: Sequence[NewTarget] = (),
    remove: Sequence[str] = (),
    sha512: bool = False,
) -> tuple[State, Proposal]:
    """A new version of ``role`` with targets added (or replaced) and removed, and the files to write.

    Where ``role`` delegates by hash bins, each path goes to its bin instead, and only those bins change.

    Raises:
        UsageError: a bad target path, a file too large, a role the workspace does not hold, nothing to do.
        PolicyError: a path the role's delegation does not cover, or a target it does not list.
    """
    if not add and not remove:
        raise UsageError("nothing to change: give files to add or target paths to remove")
    state = load_state(ctx.ws)
    router = _Router(ctx, state, role)
    files: dict[str, bytes | None] = {}
    summary = []
    algorithms = [*HASHES, *(["sha512"] if sha512 else [])]
    for path in remove:
        _policy.check_target_path(path)
        where = router.role_for(path) if router.prefix is not None else role
        edit = router.edit(where)
        _md.remove_target(edit.new, path)
        for name in target_file_names(path, edit.listed[path].get("hashes", {}), state.consistent):
            files[name] = None
        summary.append(f"remove target {path} from {where}")
    seen: set[str] = set()
    for item in add:
        _policy.check_target_path(item.path)
        if item.path in seen:
            raise UsageError(f"target path {item.path!r} is given twice")
        seen.add(item.path)
        if len(item.data) > MAX_TARGET_BYTES:
            raise UsageError(f"target {item.path!r}: {len(item.data):,} bytes is above {MAX_TARGET_BYTES:,}")
        where = router.role_for(item.path)
        edit = router.edit(where)
        if item.path in edit.listed:  # a replaced file: its old copies are no longer served
            for name in target_file_names(item.path, edit.listed[item.path].get("hashes", {}), state.consistent):
                files[name] = None
        info = _md.set_target(edit.new, item.path, item.data, algorithms, item.custom)
        for name in target_file_names(item.path, info["hashes"], state.consistent):
            files[name] = item.data
        summary.append(f"add target {item.path} to {where} ({plural(len(item.data), 'byte')})")
    if len(summary) > _SUMMARY_TARGETS:
        summary = [*summary[: _SUMMARY_TARGETS - 1], f"... and {len(summary) - _SUMMARY_TARGETS + 1:,} more targets"]
    proposal = Proposal(
        command="targets add" if add else "targets remove",
        summary=summary,
        base_root_version=_md.version(state.root),
        metadata={name: edit.new for name, edit in router.edits.items()},
        config=copy_config(ctx.ws),
    )
    proposal.target_files = files
    for name in router.edits:
        if name != role:
            proposal.parents[name] = role
        elif router.parent:
            proposal.parents[name] = router.parent
    cascade(ctx, state, proposal)
    return state, proposal


def list_targets(ws: Workspace, role: str) -> dict[str, dict[str, Any]]:
    """Target path -> length, hashes and custom of ``role`` as published in the workspace.

    Raises:
        UsageError: the workspace does not hold the role.
    """
    return {path: info for listed in targets_by_role(ws, role).values() for path, info in listed.items()}


def targets_by_role(ws: Workspace, role: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Role -> its targets as ``list_targets`` gives them: ``role`` alone, or each of its hash bins that lists any.

    Raises:
        UsageError: the workspace does not hold the role (or a bin of it).
    """
    state = load_state(ws)
    current = state.current(role)
    if current is None:
        raise UsageError(f"{role}: this workspace does not hold {role} metadata")
    found = {role: _md.targets_of(current)}
    for bin_name in _md.bin_names(current):
        bin_md = state.current(bin_name)
        if bin_md is None:
            raise UsageError(f"{bin_name}: this workspace does not hold {bin_name} metadata")
        found[bin_name] = _md.targets_of(bin_md)
    return {name: listed for name, listed in found.items() if listed or name == role}
