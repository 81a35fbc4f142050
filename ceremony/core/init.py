"""A new repository: version 1 of every top-level role, made from KEYSPECs, verified, then written whole.

``init_workspace`` is what ``ceremony init`` runs; ``build_online_files``,
``initial_config`` and ``describe_new_keys`` are shared with the guided new-root
ceremony, which makes the same repository one step at a time. Every rule
comes from ``policy.py``; nothing is written until the whole repository
verifies as a client would verify it (``workspace.create_workspace`` then
renames it into place in one step).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core import verify as _verify
from ceremony.core.keys import SecretsHandler
from ceremony.core.roles import DEFAULT_EXPIRY_DAYS, ONLINE_ROLES, TOP_LEVEL, file_names
from ceremony.core.signers import GENERATE, PUBLIC, AcquiredKey, KeySpec, PassphraseProvider, acquire_key
from ceremony.core.workspace import PROFILE, KeyRecord, check_new_path, create_workspace
from ceremony.errors import UsageError

if TYPE_CHECKING:
    from ceremony.core.plan import PlanRun


@dataclass(frozen=True)
class InitOptions:
    """What ``ceremony init`` was asked to create."""

    root_keys: int = 3
    threshold: int = 2
    key_type: str = _keys.DEFAULT_KEY_TYPE
    expiry_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_EXPIRY_DAYS))
    online_keys: Mapping[str, str] = field(default_factory=dict)  # role -> KEYSPEC
    no_spare_root_key: bool = False
    root_key_specs: tuple[str, ...] = ()  # KEYSPECs; when given, they replace root_keys x key_type
    consistent_snapshot: bool = False  # N.role.json and targets/<hash>.<name>, as clients fetch them
    profile: str = PROFILE  # "tuf", or "sigstore" (consistent snapshots, keys every Sigstore client verifies)


@dataclass(frozen=True)
class InitResult:
    """What ``init`` created, for the caller to show."""

    path: Path
    files: dict[str, str]
    keys: list[KeyRecord]
    skipped_roles: list[str]
    transcript_head: str


def check_options(path: Path, options: InitOptions, module: str | None = None) -> dict[str, int]:
    """Refuse, before any key is made, any passphrase asked or any token logged in to, every request that
    would produce a bad root; the CLI calls it before it shows the plan, and ``init_workspace`` again.

    Everything that can be checked without a key is checked here, once: the directory is free, the
    threshold can be met and leaves a spare key, enough root keys can sign here, key types and the
    profile's rules, public key files of keys held elsewhere, custody, expiries and online roles.

    Args:
        path: the workspace directory to create.
        options: what init was asked to create.
        module: the PKCS#11 module for URIs that do not name one (custody looks tokens up).

    Raises:
        WorkspaceError: the workspace exists (and is not an empty directory), or its parent does not.
        PolicyError / UsageError: threshold, spare key, custody, expiry, key type or profile problems.
        InputFileError: a public key file cannot be read.

    Returns:
        The expiry, in days, of every top-level role.
    """
    check_new_path(path)
    return check_root_options(options, module)


def check_root_options(options: InitOptions, module: str | None = None) -> dict[str, int]:
    """check_options without the directory: what a ceremony plan is held to before the day (plan.check_plan).

    Raises:
        PolicyError / UsageError / InputFileError: as check_options.
    """
    if options.profile not in (PROFILE, _policy.SIGSTORE_PROFILE):
        raise UsageError(f"unknown profile {options.profile!r} for a TUF repository")
    if options.profile == _policy.SIGSTORE_PROFILE and not options.consistent_snapshot:
        raise UsageError("a Sigstore instance's root uses consistent snapshots (tuf-on-ci and Sigstore's own do)")
    _policy.check_profile_key(
        options.profile, f"--key-type {options.key_type}", _keys.key_type(options.key_type).scheme
    )
    specs = [KeySpec.parse(s) for s in options.root_key_specs]
    count = len(specs) or options.root_keys
    _policy.check_threshold("root", options.threshold, count, options.no_spare_root_key)
    _policy.check_signable(len([s for s in specs if s.kind != PUBLIC]) if specs else count, options.threshold)
    unknown = set(options.expiry_days) - set(TOP_LEVEL)
    if unknown:
        raise UsageError(f"--expires names unknown role(s): {', '.join(sorted(unknown))}")
    days = {**DEFAULT_EXPIRY_DAYS, **options.expiry_days}
    for role, value in days.items():
        _policy.check_expiry_days(role, value)
    _policy.check_online_key_roles(options.online_keys)
    _policy.check_custody([(f"root-{i}", None, spec.token_identity(module)) for i, spec in enumerate(specs, start=1)])
    for spec in [*specs, *(KeySpec.parse(s) for s in options.online_keys.values())]:
        if spec.kind == GENERATE:
            _policy.check_profile_key(options.profile, spec.value, _keys.key_type(spec.value).scheme)
        elif spec.kind == PUBLIC:  # read now, not after the first keyholders have typed their passphrases
            scheme = _keys.public_key_from_pem(Path(spec.value)).scheme
            _policy.check_profile_key(options.profile, spec.value, scheme)
    return days


def init_workspace(
    path: Path,
    options: InitOptions,
    passphrase_for: PassphraseProvider,
    now: datetime | None = None,
    pin_for: SecretsHandler | None = None,
    module: str | None = None,
    pin_file: Path | None = None,
    plan_run: PlanRun | None = None,
) -> InitResult:
    """Create a new workspace with repository version 1.

    Acquires every key (new software keys, each under its keyholder's own
    passphrase; keys on PKCS#11 tokens, each behind its own PIN; public keys of
    keys held elsewhere), builds and signs root, targets, snapshot and
    timestamp with the keys that can sign here, verifies the result as a client
    would, and only then writes it.

    Args:
        path: the workspace directory to create (must not exist, or be empty).
        options: keys, thresholds and expiry policy.
        passphrase_for: returns the passphrase for a key label; called once per software key.
        now: the current time (UTC); injectable for tests.
        pin_for: asks for a token PIN (the prompt names the token and its PIN flags).
        module: the PKCS#11 module for URIs that do not name one.
        pin_file: drills: a file with the PIN of every token key (else ``pin_for`` asks).
        plan_run: the ceremony plan step this init runs (kept in plans/, recorded in the transcript).

    Raises:
        WorkspaceError: the workspace exists or cannot be created.
        PolicyError: the request would lock clients out, leave no spare root key,
            or too few root keys can sign here.
        UsageError: unknown key type or role, or a malformed KEYSPEC.
        InputFileError: a public key file cannot be read.
        PassphraseError: a passphrase is too short.
        HsmError: a token, PIN or module problem (see hsm.open_key).

    Returns:
        InitResult naming every file written with its SHA-256.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    path = Path(path)
    days = check_options(path, options, module)
    root_specs = list(options.root_key_specs) or [options.key_type] * options.root_keys

    with contextlib.ExitStack() as stack:
        acquired: dict[str, list[AcquiredKey]] = {role: [] for role in TOP_LEVEL}
        for index, spec in enumerate(root_specs, start=1):
            acquired["root"].append(
                acquire_key(spec, f"root-{index}", "root", passphrase_for, pin_for, module, stack, pin_file)
            )
        for role in ONLINE_ROLES:
            spec = options.online_keys.get(role, options.key_type)
            acquired[role].append(
                acquire_key(spec, online_label(role, spec), role, passphrase_for, pin_for, module, stack, pin_file)
            )

        for keys in acquired.values():
            for key in keys:
                _policy.check_profile_key(options.profile, key.record.label, key.public.scheme)
        _policy.check_signable(len([k for k in acquired["root"] if k.signer is not None]), options.threshold)
        plans = {
            role: _md.RolePlan(
                tuple(k.public for k in acquired[role]),
                options.threshold if role == "root" else 1,
                now + timedelta(days=days[role]),
            )
            for role in TOP_LEVEL
        }
        for role, plan in plans.items():
            _policy.check_role(role, [k.keyid for k in plan.keys], plan.threshold, plan.expires, now)
        signers = {role: [k.signer for k in acquired[role] if k.signer is not None] for role in TOP_LEVEL}
        skipped = _policy.left_to_online({role: bool(signers[role]) for role in ONLINE_ROLES})
        files = _build_initial_metadata(plans, signers, skipped, options.consistent_snapshot)
    _verify.verify_files(files, files["1.root.json"], now, "1.root.json")

    records = merge_key_records([(role, k.record) for role in TOP_LEVEL for k in acquired[role]])
    generated = {k.public.keyid: k.encrypted for keys in acquired.values() for k in keys if k.encrypted}
    details = {k.record.label: k.details for keys in acquired.values() for k in keys}
    config = initial_config(plans, days, records, module, options.consistent_snapshot)
    if options.profile != PROFILE:
        config["profile"] = options.profile
    summary = f"root {options.threshold}-of-{len(root_specs)}"
    if options.consistent_snapshot:
        summary += ", consistent snapshots"
    written, head = _write_new_workspace(
        path, files, generated, config, records, skipped, summary, details, now, plan_run
    )
    return InitResult(path=path, files=written, keys=records, skipped_roles=skipped, transcript_head=head)


def merge_key_records(pairs: list[tuple[str, KeyRecord]]) -> list[KeyRecord]:
    """One record per key, listing every role it serves (a key may serve several roles)."""
    records: list[KeyRecord] = []
    for role, record in pairs:
        existing = next((r for r in records if r.keyid == record.keyid), None)
        if existing is None:
            records.append(record)
        elif role not in existing.roles:
            records[records.index(existing)] = replace(existing, roles=(*existing.roles, role))
    return records


def initial_config(
    plans: Mapping[str, _md.RolePlan],
    days: Mapping[str, int],
    records: list[KeyRecord],
    module: str | None,
    consistent_snapshot: bool = False,
) -> dict[str, Any]:
    """The config of a new workspace (without the fields create_workspace adds)."""
    config: dict[str, Any] = {
        "consistent_snapshot": consistent_snapshot,
        "roles": {
            role: {
                "threshold": plans[role].threshold,
                "keyids": [k.keyid for k in plans[role].keys],
                "expiry_days": days[role],
            }
            for role in TOP_LEVEL
        },
        "keys": {r.keyid: r.to_dict() for r in records},
    }
    if module:
        config["pkcs11_module"] = module
    return config


def _build_initial_metadata(
    plans: Mapping[str, _md.RolePlan], signers: Mapping[str, list[Any]], skipped: list[str], consistent: bool
) -> dict[str, bytes]:
    """Sign version 1 of every top-level role we hold keys for (also as ``1.ROLE.json`` with consistent snapshots)."""
    root = _md.build_root(plans, consistent_snapshot=consistent)
    _md.sign_metadata(root, signers["root"])
    root_bytes = _md.to_bytes(root)
    files = {"1.root.json": root_bytes, "root.json": root_bytes}
    for name, data in build_online_files(plans, signers, skipped).items():
        role = name.removesuffix(".json")
        files.update(dict.fromkeys(file_names(role, 1, consistent), data))
    return files


def build_online_files(
    plans: Mapping[str, _md.RolePlan], signers: Mapping[str, list[Any]], skipped: list[str]
) -> dict[str, bytes]:
    """Version 1 of targets, snapshot and timestamp, each signed by its key if it is held here.

    ``skipped`` is ``policy.left_to_online``: a role whose key is held elsewhere, and every role after it
    (snapshot lists targets, timestamp hashes snapshot).
    """
    files: dict[str, bytes] = {}
    if "targets" in skipped:
        return files
    targets = _md.build_targets(plans["targets"].expires)
    _md.sign_metadata(targets, signers["targets"])
    files["targets.json"] = _md.to_bytes(targets)
    if "snapshot" in skipped:
        return files
    snapshot = _md.build_snapshot(plans["snapshot"].expires, targets_version=1)
    _md.sign_metadata(snapshot, signers["snapshot"])
    files["snapshot.json"] = _md.to_bytes(snapshot)
    if "timestamp" in skipped:
        return files
    timestamp = _md.build_timestamp(plans["timestamp"].expires, files["snapshot.json"], snapshot_version=1)
    _md.sign_metadata(timestamp, signers["timestamp"])
    files["timestamp.json"] = _md.to_bytes(timestamp)
    return files


def _write_new_workspace(
    path: Path,
    files: Mapping[str, bytes],
    generated: Mapping[str, bytes],
    config: dict[str, Any],
    records: list[KeyRecord],
    skipped: list[str],
    summary: str,
    key_details: dict[str, dict[str, Any]],
    now: datetime,
    plan_run: PlanRun | None = None,
) -> tuple[dict[str, str], str]:
    """Write a workspace made by init; return the file hashes and the transcript head."""
    changes = [f"created repository version 1: {summary}", *describe_new_keys(records, skipped)]
    details: dict[str, Any] = {
        "expiry_days": {r: v["expiry_days"] for r, v in config["roles"].items()},
        "keys": key_details,
    }
    if plan_run is not None:
        details["plan"] = plan_run.details()
    plans = plan_run.files() if plan_run is not None else None
    _ws, written, head = create_workspace(path, files, generated, config, "init", changes, details, now, plans)
    return written, head


def describe_new_keys(records: list[KeyRecord], skipped: list[str]) -> list[str]:
    """Transcript lines for the keys of a new repository and the files left to the online service."""
    return [
        *[f"generated software key {r.label} {r.keyid}" for r in records if r.uri and r.uri.startswith("file:")],
        *[f"added token key {r.label} {r.keyid} ({r.uri})" for r in records if r.uri and r.uri.startswith("pkcs11:")],
        *[f"imported public key {r.label} {r.keyid}" for r in records if not r.uri],
        *[_policy.left_to_online_line(role) for role in skipped],
    ]


def online_label(role: str, spec: str) -> str:
    """The label of an online role's key: the role's name for a key made here, ROLE-online for one held elsewhere."""
    return role if KeySpec.parse(spec).kind == GENERATE else f"{role}-online"
