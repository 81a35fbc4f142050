"""The workspace at a glance: roles, versions, expiry calendar, keys and warnings, from files that verify.

What ``ceremony status`` prints and the terminal UI's home draws. The root
chain is verified before anything is shown: a status that reports days left on
a root whose signatures do not verify would be reassurance built on nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ceremony.core import ledger as _ledger
from ceremony.core import policy as _policy
from ceremony.core import repo_files as _files
from ceremony.core import verify as _verify
from ceremony.core.dates import format_date, parse_tuf_date
from ceremony.core.envelope import parse_envelope
from ceremony.core.roles import ONLINE_ROLES, TOP_LEVEL
from ceremony.core.workspace import PROFILE, KeyRecord, Workspace
from ceremony.errors import InputFileError, VerificationError


@dataclass
class RoleStatus:
    """One role's state for ``status``."""

    role: str
    version: int | None
    threshold: int
    keyids: list[str]
    expires: str | None
    days_left: float | None
    expiry_policy_days: int | None
    resign_by: str | None = None
    delegated_by: str | None = None


@dataclass
class Status:
    """The workspace at a glance: what ``status`` prints and the TUI draws."""

    path: str
    profile: str
    root_versions: list[int]
    roles: list[RoleStatus]
    keys: list[KeyRecord]
    warnings: list[str]
    #: Why the published metadata does not verify (also warnings[0]); None when it does.
    problem: VerificationError | None = None
    #: Every published root version and its tested paper backup, or none (ledger.py); its warnings are in
    #: ``warnings``.
    backups: _ledger.Ledger | None = None

    @property
    def calendar(self) -> list[RoleStatus]:
        """Roles ordered by the date they must be re-signed by."""
        return sorted((r for r in self.roles if r.resign_by), key=lambda r: r.resign_by or "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return {
            "workspace": self.path,
            "profile": self.profile,
            "root_versions": self.root_versions,
            "roles": [vars(r) for r in self.roles],
            "calendar": [{"role": r.role, "resign_by": r.resign_by, "expires": r.expires} for r in self.calendar],
            "keys": [
                {"keyid": k.keyid, **k.to_dict(), "location": k.location, "revoked": k.revoked} for k in self.keys
            ],
            "backup_ledger": self.backups.to_dict() if self.backups is not None else [],
            "warnings": self.warnings,
        }


def _delegations(ws: Workspace, files: Mapping[str, bytes]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Delegated role name -> (delegating file's role, role definition), from the metadata read once."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in sorted(files):
        if name.split(".")[0].isdigit():
            continue
        path = ws.metadata_dir / name
        try:
            env = parse_envelope(name, files[name])
        except VerificationError:
            continue
        if env.type != "targets":
            continue
        delegations = env.signed.get("delegations")
        roles = delegations.get("roles") if isinstance(delegations, dict) else None
        if delegations is not None and not isinstance(roles, list | None):
            raise InputFileError(f"{path}: 'delegations' is malformed (its 'roles' is not a list)")
        for role in roles if isinstance(roles, list) else []:
            keyids = role.get("keyids") if isinstance(role, dict) else None
            threshold = role.get("threshold") if isinstance(role, dict) else None
            if (
                not isinstance(keyids, list)
                or not all(isinstance(k, str) for k in keyids)
                or not isinstance(threshold, int)
                or isinstance(threshold, bool)
            ):
                raise InputFileError(f"{path}: a delegated role has no valid 'keyids' list and 'threshold'")
            if isinstance(role.get("name"), str):
                found[role["name"]] = (name.removesuffix(".json"), role)
    return found


def check_published(
    files: dict[str, bytes], now: datetime, held_elsewhere: Callable[[str], bool]
) -> tuple[VerificationError | None, list[str]]:
    """Verify the published metadata as a client would: the first failure (or None), and what is only a warning.

    The root chain from 1.root.json is walked and every file checked for
    signatures, versions, hashes and structure. Expiry is not a failure here:
    it is reported as a warning by its own rule, so the check runs as of just
    before the earliest expiry. A workspace whose online files are left to the
    online service verifies as far as its files go.

    One state is a warning: right after a rotation gave an online role keys
    the online service holds (``held_elsewhere``), that role's file is still
    signed by the previous root's keys for it. That is tolerated only when it
    is exactly so, and the rest of the repository still verifies as it stood
    under the previous root; anything else is the failure.
    """
    at = now
    for name, data in files.items():
        try:
            expires = parse_tuf_date(parse_envelope(name, data).signed.get("expires"), name)
        except VerificationError as err:
            return err, []
        at = min(at, expires - timedelta(seconds=1))
    try:
        _verify.verify_files(files, None, at)
    except VerificationError as err:
        role = (err.file or "").removesuffix(".json").rpartition(".")[2]
        if err.check == "threshold" and role in ONLINE_ROLES and held_elsewhere(role):
            before = _before_last_rotation(files)
            if before is not None:
                try:
                    _verify.verify_files(before, None, at)
                except VerificationError as earlier:
                    return earlier, []  # the rest does not verify either: that is the failure to name
                return None, [
                    f"{err} (the online service that holds its new key must re-sign it; clients cannot update until then)"
                ]
        return err, []
    return None, []


def _before_last_rotation(files: dict[str, bytes]) -> dict[str, bytes] | None:
    """The repository as it stood before the newest root version (None when there is only one)."""
    numbered = sorted(int(m.group(1)) for name in files if (m := _files.ROOT_FILE.match(name)))
    if len(numbered) < 2:
        return None
    before = {name: data for name, data in files.items() if name != f"{numbered[-1]}.root.json"}
    before["root.json"] = files[f"{numbered[-2]}.root.json"]
    return before


def held_elsewhere(ws: Workspace) -> Callable[[str], bool]:
    """Whether every key ceremony.json lists for a role is held by someone else (no key reference here)."""
    keys = ws.config.get("keys", {})

    def held(role: str) -> bool:
        keyids = (ws.config.get("roles", {}).get(role) or {}).get("keyids") or []
        return bool(keyids) and all(not (keys.get(k) or {}).get("uri") for k in keyids)

    return held


def workspace_status(ws: Workspace, now: datetime | None = None) -> Status:
    """Describe the workspace, after checking that what it describes verifies.

    Never raises for a problem it can report: a published repository that does
    not verify is ``problem`` and the first warning, named by file and check.
    ``backups`` is the backup ledger of the root versions shown, and each
    version without a tested paper backup is a warning (ledger.py).

    Raises:
        InputFileError: root.json is unreadable (nothing can be shown without it).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    # Read once: what is verified is what is shown (a second read could see other bytes).
    files = _files.read_metadata_dir(ws.metadata_dir)
    problem, pending = check_published(files, now, held_elsewhere(ws))
    if "root.json" not in files:
        raise InputFileError(f"{ws.metadata_dir / 'root.json'}: root metadata not found")
    root = parse_envelope("root.json", files["root.json"], "root")
    warnings: list[str] = [f"does not verify: {problem}"] if problem else list(pending)
    roles: list[RoleStatus] = []
    versions = sorted(int(m.group(1)) for name in files if (m := _files.ROOT_FILE.match(name)))
    root_roles = root.signed.get("roles")
    if not isinstance(root_roles, dict):
        raise InputFileError(f"{ws.metadata_dir / 'root.json'}: 'roles' is not an object")
    role_defs: dict[str, tuple[str | None, dict[str, Any]]] = {
        role: (None, definition if isinstance(definition := root_roles.get(role), dict) else {}) for role in TOP_LEVEL
    }
    role_defs.update(_delegations(ws, files))
    for role, (delegator, definition) in role_defs.items():
        raw_keyids = definition.get("keyids")
        keyids = [k for k in raw_keyids if isinstance(k, str)] if isinstance(raw_keyids, list) else []
        raw_threshold = definition.get("threshold")
        threshold = raw_threshold if isinstance(raw_threshold, int) and not isinstance(raw_threshold, bool) else 0
        version: int | None = None
        expires_text: str | None = None
        if role == "root":
            version, expires_text = root.version, root.signed.get("expires")
        else:
            name = f"{role}.json"
            if name in files:
                try:
                    env = parse_envelope(name, files[name])
                    version, expires_text = env.version, env.signed.get("expires")
                except VerificationError as err:
                    warnings.append(str(err))
            elif delegator is None:
                warnings.append(f"{role}.json is not in the workspace (its key is held by the online service)")
        policy_entry = ws.config.get("roles", {}).get(role) or ws.config.get("delegations", {}).get(role) or {}
        days_left = resign_by = None
        if expires_text is not None:
            expires = parse_tuf_date(expires_text, role)
            days_left = round((expires - now).total_seconds() / 86400, 1)
            try:
                due = expires - timedelta(days=_policy.signing_period(ws.config, role))
            except OverflowError:
                due = expires
            resign_by = format_date(due)
            warning = _policy.expiry_warning(role, expires, due, now)
            if warning:
                warnings.append(warning)
        roles.append(
            RoleStatus(
                role,
                version,
                threshold,
                keyids,
                expires_text,
                days_left,
                policy_entry.get("expiry_days"),
                resign_by,
                delegator,
            )
        )
    spare = _policy.spare_key_warning(roles[0].threshold, len(roles[0].keyids))
    if spare:
        warnings.append(spare)
    owners: dict[str, list[str]] = {}
    for status in roles:
        for keyid in status.keyids:
            owners.setdefault(keyid, []).append(status.role)
    warnings += _policy.shared_key_warnings(owners)
    backups = _ledger.backup_ledger(ws, files)  # the bytes verified above, so the versions are those shown
    warnings += backups.warnings(str(ws.path))
    return Status(
        str(ws.path),
        str(ws.config.get("profile", PROFILE)),
        versions,
        roles,
        ws.key_records(),
        warnings,
        problem,
        backups,
    )
