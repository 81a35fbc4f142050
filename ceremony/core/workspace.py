"""The workspace: one directory that holds one repository's root of trust.

Layout (docs/workspace.md)::

    WS/                      0700
      ceremony.json          config: profile, roles, thresholds, expiry policy, key references
      transcript.jsonl       hash-chained record of every change
      metadata/              every published N.root.json, root.json, targets/snapshot/timestamp.json
      keys/                  encrypted software private keys, <keyid>.p12, 0600

The config never holds a secret. The metadata directory is exactly what a TUF
client (or ``ceremony verify``) reads. A new workspace is assembled in a hidden
sibling directory and renamed into place in one step, so an interrupted
``init`` leaves nothing half-made behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, SecretsHandler

from ceremony import __version__
from ceremony.core import _txn
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import transcript as _transcript
from ceremony.core import verify as _verify
from ceremony.core._fs import fsync_dir, make_private_dir, sha256_hex, write_atomic
from ceremony.core._json import dumps_pretty, read_json
from ceremony.errors import (
    InputFileError,
    PolicyError,
    SigningKeyError,
    UsageError,
    WorkspaceError,
)

CONFIG_NAME = "ceremony.json"
METADATA_DIR = "metadata"
KEYS_DIR = "keys"
CONFIG_FORMAT = 1
PROFILE = "tuf"
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}
ROLES = ("root", "targets", "snapshot", "timestamp")
WARN_DAYS = 30
#: A key id that becomes a file name (keys/<keyid>.p12): the spec's SHA-256 key id, and nothing else.
KEYID = re.compile(r"^[0-9a-f]{64}$")
#: The only form of a software key reference: a file of this workspace's keys/ directory.
_FILE_URI = re.compile(r"^file:keys/([0-9a-f]{64})\.p12$")
#: A staging directory of an init killed before it renamed it into place is removed after this long
#: when it holds no lock (a live init holds an flock on its .lock from the first instant it can).
_STALE_STAGING_SECONDS = 60
_STAGING_LOCK = ".lock"

#: Returns the passphrase for a key, given its label ("root-1", "timestamp").
PassphraseProvider = Callable[[str], str]


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


@dataclass(frozen=True)
class KeyRecord:
    """How the workspace refers to one key; never a secret."""

    keyid: str
    label: str
    roles: tuple[str, ...]
    key_type: str
    uri: str | None  # "file:keys/<keyid>.p12", or None for a key held elsewhere
    revoked: bool = False  # no longer in any role; kept for the record

    @property
    def location(self) -> str:
        """Where the private key lives, for display."""
        if self.uri is None:
            return "held elsewhere (public key imported)"
        if self.uri.startswith("file:"):
            return f"software key {self.uri.removeprefix('file:')} (encrypted)"
        if self.uri.startswith("pkcs11:"):
            uri = _hsm.Pkcs11Uri.parse(self.uri)
            return f"token '{uri.token}' (serial {uri.serial}) key '{uri.object}'"
        return self.uri

    def to_dict(self) -> dict[str, Any]:
        """Config form (the revocation history is kept by changes.py, not here)."""
        return {"label": self.label, "roles": list(self.roles), "key_type": self.key_type, "uri": self.uri}


@dataclass(frozen=True)
class InitResult:
    """What ``init`` created, for the caller to show."""

    path: Path
    files: dict[str, str]
    keys: list[KeyRecord]
    skipped_roles: list[str]
    transcript_head: str


def _validate_init(path: Path, options: InitOptions, now: datetime) -> dict[str, int]:
    """Refuse, before any key is made, every request that would produce a bad root.

    Raises:
        WorkspaceError: the workspace exists.
        PolicyError / UsageError: threshold, spare key, expiry, key type problems.
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise WorkspaceError(f"{path}: already exists; refusing to overwrite a workspace")
    if options.key_type not in _keys.KEY_TYPES:
        raise UsageError(f"unknown key type {options.key_type!r}; choose one of: {', '.join(_keys.KEY_TYPES)}")
    count = len(options.root_key_specs) or options.root_keys
    options = replace(options, root_keys=count)
    if count < 1:
        raise PolicyError("a root needs at least one key")
    if options.threshold < 1:
        raise PolicyError(f"threshold {options.threshold} is not allowed; it must be at least 1")
    if options.threshold > options.root_keys:
        raise PolicyError(
            f"threshold {options.threshold} is above the {options.root_keys} root keys; the root could never be signed"
        )
    if options.threshold == options.root_keys and not options.no_spare_root_key:
        raise PolicyError(
            f"threshold {options.threshold} of {options.root_keys} root keys leaves no spare key: "
            "losing any one key would lock the root forever",
            hint="add a root key, lower the threshold, or pass --no-spare-root-key to accept the risk",
        )
    unknown = set(options.expiry_days) - set(ROLES)
    if unknown:
        raise UsageError(f"--expires names unknown role(s): {', '.join(sorted(unknown))}")
    days = {**DEFAULT_EXPIRY_DAYS, **options.expiry_days}
    for role, value in days.items():
        if value < 1:
            raise PolicyError(f"{role}: an expiry of {value} days is not in the future; use at least 1 day")
    unknown = set(options.online_keys) - set(_md.ONLINE_ROLES)
    if unknown:
        raise UsageError(
            f"--online-key names role(s) {', '.join(sorted(unknown))}; only targets, snapshot and timestamp keys can be imported"
        )
    return days


@dataclass
class AcquiredKey:
    """A key ready for init: public key, how to sign with it (if we can), and what to record."""

    public: Key
    record: KeyRecord
    signer: Any | None = None
    encrypted: bytes | None = None
    details: dict[str, Any] = field(default_factory=dict)


def acquire_key(
    spec: str,
    label: str,
    role: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    module: str | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
) -> AcquiredKey:
    """Turn a KEYSPEC into a key: a key type (new software key), a pkcs11: URI, or a public key file.

    A token key's session stays open on ``stack`` so the key can sign later in the same command.

    Raises:
        UsageError / InputFileError / PassphraseError / HsmError: the KEYSPEC cannot be used.
    """
    if spec in _keys.KEY_TYPES:
        key = _keys.generate_key(spec, passphrase_for(label), label)
        uri = f"file:{KEYS_DIR}/{key.public.keyid}.p12"
        record = KeyRecord(key.public.keyid, label, (role,), spec, uri)
        return AcquiredKey(key.public, record, key.signer, key.encrypted, {"generated": spec})
    if _hsm.is_pkcs11_uri(spec):
        signer = stack.enter_context(_hsm.open_key(spec, pin_for, module, pin_file))
        token_key = signer.token_key
        record = KeyRecord(token_key.public.keyid, label, (role,), token_key.key_type, token_key.uri)
        return AcquiredKey(token_key.public, record, signer, None, token_key.transcript_details())
    public = _keys.public_key_from_pem(Path(spec))
    record = KeyRecord(public.keyid, label, (role,), _keys.key_type_name(public), None)
    return AcquiredKey(public, record, None, None, {"imported_from": Path(spec).name})


def init_workspace(
    path: Path,
    options: InitOptions,
    passphrase_for: PassphraseProvider,
    now: datetime | None = None,
    pin_for: SecretsHandler | None = None,
    module: str | None = None,
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
    days = _validate_init(path, options, now)
    root_specs = list(options.root_key_specs) or [options.key_type] * options.root_keys

    with contextlib.ExitStack() as stack:
        acquired: dict[str, list[AcquiredKey]] = {role: [] for role in ROLES}
        for index, spec in enumerate(root_specs, start=1):
            acquired["root"].append(acquire_key(spec, f"root-{index}", "root", passphrase_for, pin_for, module, stack))
        for role in _md.ONLINE_ROLES:
            spec = options.online_keys.get(role, options.key_type)
            label = role if spec in _keys.KEY_TYPES else f"{role}-online"
            acquired[role].append(acquire_key(spec, label, role, passphrase_for, pin_for, module, stack))

        root_signers = [k.signer for k in acquired["root"] if k.signer is not None]
        if len(root_signers) < options.threshold:
            raise PolicyError(
                f"only {len(root_signers)} of the {options.threshold} root signatures needed can be made here "
                "(the other root keys are public keys held elsewhere)"
            )
        plans = {
            role: _md.RolePlan(
                tuple(k.public for k in acquired[role]),
                options.threshold if role == "root" else 1,
                now + timedelta(days=days[role]),
            )
            for role in ROLES
        }
        for role, plan in plans.items():
            _md.check_role_plan(role, plan, now)
        signers = {role: [k.signer for k in acquired[role] if k.signer is not None] for role in ROLES}
        skipped = [role for role in _md.ONLINE_ROLES if not signers[role]]
        files = _build_initial_metadata(plans, signers, skipped)
    _verify.verify_files(files, files["1.root.json"], now, "1.root.json")

    records = merge_key_records([(role, k.record) for role in ROLES for k in acquired[role]])
    generated = {k.public.keyid: k.encrypted for keys in acquired.values() for k in keys if k.encrypted}
    details = {k.record.label: k.details for keys in acquired.values() for k in keys}
    config = initial_config(plans, days, records, module)
    summary = f"root {options.threshold}-of-{len(root_specs)}"
    written, head = _write_new_workspace(path, files, generated, config, records, skipped, summary, details, now)
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
    plans: Mapping[str, _md.RolePlan], days: Mapping[str, int], records: list[KeyRecord], module: str | None
) -> dict[str, Any]:
    """The config of a new workspace (without the fields create_workspace adds)."""
    config: dict[str, Any] = {
        "consistent_snapshot": False,
        "roles": {
            role: {
                "threshold": plans[role].threshold,
                "keyids": [k.keyid for k in plans[role].keys],
                "expiry_days": days[role],
            }
            for role in ROLES
        },
        "keys": {r.keyid: r.to_dict() for r in records},
    }
    if module:
        config["pkcs11_module"] = module
    return config


def _build_initial_metadata(
    plans: Mapping[str, _md.RolePlan], signers: Mapping[str, list[Any]], skipped: list[str]
) -> dict[str, bytes]:
    """Sign version 1 of every top-level role we hold keys for."""
    root = _md.build_root(plans)
    _md.sign_metadata(root, signers["root"])
    root_bytes = _md.to_bytes(root)
    return {"1.root.json": root_bytes, "root.json": root_bytes, **build_online_files(plans, signers, skipped)}


def build_online_files(
    plans: Mapping[str, _md.RolePlan], signers: Mapping[str, list[Any]], skipped: list[str]
) -> dict[str, bytes]:
    """Version 1 of targets, snapshot and timestamp, each signed by its key if it is held here.

    A role whose key is held elsewhere is skipped, and so is every role after it
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
) -> tuple[dict[str, str], str]:
    """Write a workspace made by init; return the file hashes and the transcript head."""
    changes = [f"created repository version 1: {summary}", *describe_new_keys(records, skipped)]
    details = {"expiry_days": {r: v["expiry_days"] for r, v in config["roles"].items()}, "keys": key_details}
    _ws, written, head = create_workspace(path, files, generated, config, "init", changes, details, now)
    return written, head


def describe_new_keys(records: list[KeyRecord], skipped: list[str]) -> list[str]:
    """Transcript lines for the keys of a new repository and the files left to the online service."""
    return [
        *[f"generated software key {r.label} {r.keyid}" for r in records if r.uri and r.uri.startswith("file:")],
        *[f"added token key {r.label} {r.keyid} ({r.uri})" for r in records if r.uri and r.uri.startswith("pkcs11:")],
        *[f"imported public key {r.label} {r.keyid}" for r in records if not r.uri],
        *[f"{role}.json left to the online service that holds its key" for role in skipped],
    ]


def create_workspace(
    path: Path,
    metadata_files: Mapping[str, bytes],
    key_files: Mapping[str, bytes],
    config: dict[str, Any],
    command: str,
    changes: list[str],
    details: dict[str, Any],
    now: datetime,
) -> tuple[Workspace, dict[str, str], str]:
    """Assemble a workspace in a hidden sibling directory, then rename it into place in one step.

    Args:
        path: the workspace to create; it must not exist (or be an empty directory).
        metadata_files: file name -> bytes for metadata/.
        key_files: keyid -> encrypted PKCS#12 bytes for keys/.
        config: the config without format/profile/tool/created (added here).
        command, changes, details: the first transcript entry.
        now: the time recorded.

    Raises:
        WorkspaceError: the workspace exists or cannot be created here.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise WorkspaceError(f"{path}: already exists; refusing to overwrite a workspace")
    for keyid in key_files:
        if not KEYID.match(keyid):
            raise WorkspaceError(f"key id {keyid!r} cannot name a key file")
    config = _full_config(config, now)
    parent = path.absolute().parent
    if not parent.is_dir():
        raise WorkspaceError(f"{parent}: the parent directory does not exist")
    remove_stale_staging(path)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.init-", dir=parent))
    except OSError as err:
        raise WorkspaceError(f"{parent}: cannot create the workspace here ({err.strerror})") from err
    lock_fd = None
    try:
        # Held until the rename: a later command tells a live staging directory from a killed one by it.
        lock_fd = os.open(staging / _STAGING_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        staging.chmod(0o700)
        make_private_dir(staging / METADATA_DIR)
        make_private_dir(staging / KEYS_DIR)
        written = _write_metadata(staging, metadata_files)
        for keyid, encrypted in key_files.items():
            written[f"{KEYS_DIR}/{keyid}.p12"] = write_atomic(staging / KEYS_DIR / f"{keyid}.p12", encrypted)
        written[CONFIG_NAME] = write_atomic(staging / CONFIG_NAME, dumps_pretty(config))
        first = _transcript.build_entry([], command, changes, written, sorted(config.get("keys", {})), now, details)
        write_atomic(staging / _transcript.TRANSCRIPT_NAME, first)
        head = sha256_hex(first)
        fsync_dir(staging)
        with _txn.signals_held():
            if path.exists():
                path.rmdir()  # empty, checked above
            os.rename(staging, path)
            _txn.committed.append(f"init {path.name}")
            fsync_dir(parent)
        # The lock moved in with the rename; it has done its work (a kill before this leaves an empty hidden file).
        with contextlib.suppress(OSError):
            os.unlink(path / _STAGING_LOCK)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, OSError):
            raise WorkspaceError(
                f"{path}: cannot write the new workspace ({err.strerror}); nothing was created"
            ) from err
        raise
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    return Workspace(path, config), written, head


def remove_stale_staging(path: Path) -> list[str]:
    """Remove staging directories of inits of ``path`` that were killed before their rename.

    A killed init leaves ``.NAME.init-*`` beside the workspace, holding
    encrypted keys nobody will use. A live one holds an flock on its lock
    file; a directory whose lock can be taken (or that has none and is older
    than a minute) belongs to a process that is gone.
    """
    path = Path(path)
    parent = path.absolute().parent
    removed = []
    try:
        names = [n for n in os.listdir(parent) if n.startswith(f".{path.name}.init-")]
    except OSError:
        return []
    for name in names:
        staging = parent / name
        if staging.is_symlink() or not staging.is_dir():
            continue
        try:
            fd = os.open(staging / _STAGING_LOCK, os.O_RDWR)
        except FileNotFoundError:
            fd = None
            with contextlib.suppress(OSError):
                staging.rmdir()  # killed between mkdtemp and its lock: empty, nothing to keep
                removed.append(name)
                continue
            with contextlib.suppress(OSError):
                if time.time() - staging.stat().st_mtime < _STALE_STAGING_SECONDS:
                    continue
        except OSError:
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live init
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(name)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def _write_metadata(base: Path, files: Mapping[str, bytes]) -> dict[str, str]:
    """Write metadata files into base/metadata/ atomically; workspace-relative name -> SHA-256."""
    return {f"{METADATA_DIR}/{name}": write_atomic(base / METADATA_DIR / name, data) for name, data in files.items()}


def key_file(base: Path, uri: str) -> Path:
    """The encrypted key file a ``file:`` URI names, which must be ``keys/<keyid>.p12`` inside ``base``.

    Raises:
        WorkspaceError: any other form (an absolute path, ``..``, another directory or name).
    """
    match = _FILE_URI.match(uri)
    if match is None:
        raise WorkspaceError(f"{uri!r} is not a key file of this workspace (expected file:keys/<keyid>.p12)")
    return Path(base) / KEYS_DIR / f"{match.group(1)}.p12"


def unlock_held_key(
    base: Path,
    uri: str | None,
    key: Key,
    label: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    module: str | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
) -> Any | None:
    """A signer for a key held where ``uri`` says, checked to be ``key``; None for a key held elsewhere.

    ``file:`` URIs are encrypted key files under ``base`` (the workspace or a
    draft); ``pkcs11:`` URIs are token keys whose session stays open on ``stack``.

    Raises:
        PassphraseError / HsmError: unlocking failed.
        SigningKeyError: the token key found is not ``key``.
    """
    if not uri:
        return None
    if uri.startswith("file:"):
        return _keys.unlock_signer(key_file(base, uri), key, passphrase_for(label))
    if uri.startswith("pkcs11:"):
        signer = stack.enter_context(_hsm.open_key(uri, pin_for, module, pin_file))
        if _keys.public_key_identity(signer.public_key) != _keys.public_key_identity(key):
            raise SigningKeyError(f"the token key at {uri} is not key {label} ({key.keyid[:12]})")
        return signer
    return None


def _full_config(config: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The config with the fields every workspace carries (format, profile, tool, created)."""
    return {
        "format": CONFIG_FORMAT,
        "profile": PROFILE,
        "tool": f"ceremony {__version__}",
        "created": _verify.format_date(now),
        **config,
    }


def complete_draft(
    path: Path,
    metadata_files: Mapping[str, bytes],
    config: dict[str, Any],
    command: str,
    changes: list[str],
    details: dict[str, Any],
    now: datetime,
) -> tuple[Workspace, dict[str, str], str]:
    """Turn a draft directory (a guided ceremony under way: keys/, transcript) into a workspace.

    The metadata files are written first and ceremony.json last: until the
    config exists the directory is not a workspace, so a crash in between
    leaves a draft that can be completed again, never a half-made workspace.

    Raises:
        WorkspaceError: the directory is already a workspace.
    """
    path = Path(path)
    if (path / CONFIG_NAME).exists():
        raise WorkspaceError(f"{path}: already a workspace; refusing to overwrite it")
    config = _full_config(config, now)
    with _txn.transaction(path) as txn:
        written = {
            f"{METADATA_DIR}/{name}": txn.write(f"{METADATA_DIR}/{name}", data) for name, data in metadata_files.items()
        }
        written[CONFIG_NAME] = txn.write(CONFIG_NAME, dumps_pretty(config))
        head = _transcript.append(path, command, changes, written, sorted(config.get("keys", {})), now, details, txn)
    return Workspace(path, config), written, head


#: ceremony.json lists keys and roles; even PEP 458's 16,384 bins of keys stay far below this.
MAX_CONFIG_BYTES = 8 * 1024 * 1024


def _config_error(source: str, what: str) -> InputFileError:
    return InputFileError(f"{source}: {what}; the workspace config is damaged or was edited by hand")


#: Expiry and signing periods in a config: a day to a century (a larger value is a damaged file, and
#: would overflow date arithmetic).
MAX_POLICY_DAYS = 36_500


def _check_days(entry: dict[str, Any], source: str, what: str) -> None:
    """expiry_days and signing_period_days, when present: whole numbers of days in range."""
    for number, low in (("expiry_days", 1), ("signing_period_days", 0)):
        value = entry.get(number)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_POLICY_DAYS
        ):
            raise _config_error(source, f"{what}: {number} is not a whole number from {low} to {MAX_POLICY_DAYS}")


def check_config(config: Any, source: str) -> None:
    """Check a workspace config (ceremony.json, or the config a pending change will write) field by field.

    The config is the workspace's own file, but after a crash, a restore or an
    edit it is read as hostile like any other: every field the code later
    uses must be there with its type, and every key reference must be one of
    the forms this tool writes (``file:keys/<keyid>.p12``, a ``pkcs11:`` URI,
    or none), so a damaged config is one sentence, never a traceback, and
    never a path outside the workspace.

    Raises:
        InputFileError: naming ``source`` and the field.
    """
    if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
        raise InputFileError(f"{source}: not a ceremony workspace config of format {CONFIG_FORMAT}")
    if not isinstance(config.get("keys"), dict) or not isinstance(config.get("roles"), dict):
        raise InputFileError(f"{source}: 'keys' and 'roles' must be objects")
    for name, field_type in (("profile", str), ("pkcs11_module", str), ("delegations", dict)):
        if name in config and config[name] is not None and not isinstance(config[name], field_type):
            raise _config_error(source, f"'{name}' is not a {field_type.__name__}")
    for role, entry in config["roles"].items():
        if not isinstance(entry, dict):
            raise _config_error(source, f"role {role!r} is not an object")
        threshold = entry.get("threshold")
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            raise _config_error(source, f"role {role!r} has no integer threshold")
        keyids = entry.get("keyids")
        if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids):
            raise _config_error(source, f"role {role!r} has no list of key ids")
        _check_days(entry, source, f"role {role!r}")
    for role, entry in (config.get("delegations") or {}).items():
        if not isinstance(entry, dict):
            raise _config_error(source, f"delegation {role!r} is not an object")
        _check_days(entry, source, f"delegation {role!r}")
    for keyid, entry in config["keys"].items():
        if not isinstance(entry, dict):
            raise _config_error(source, f"key {keyid[:16]!r} is not an object")
        if not isinstance(entry.get("label", ""), str) or not isinstance(entry.get("key_type", ""), str):
            raise _config_error(source, f"key {keyid[:16]!r}: label and key_type must be text")
        roles = entry.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise _config_error(source, f"key {keyid[:16]!r}: roles is not a list of role names")
        if not isinstance(entry.get("revoked", []), list):
            raise _config_error(source, f"key {keyid[:16]!r}: revoked is not a list")
        uri = entry.get("uri")
        if uri is None:
            continue
        if not isinstance(uri, str):
            raise _config_error(source, f"key {keyid[:16]!r}: uri is not text")
        if uri.startswith("file:"):
            match = _FILE_URI.match(uri)
            if match is None or match.group(1) != keyid:
                raise _config_error(source, f"key {keyid[:16]!r}: {uri!r} is not this key's file in keys/")
        elif not uri.startswith("pkcs11:"):
            raise _config_error(source, f"key {keyid[:16]!r}: {uri!r} is not a key reference this tool writes")


class Workspace:
    """An existing workspace, loaded and checked enough to be used."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = path
        self.config = config

    @classmethod
    def load(cls, path: Path) -> Workspace:
        """Open the workspace at ``path``.

        Raises:
            WorkspaceError: not a directory, or no ceremony.json.
            InputFileError: ceremony.json is malformed.
        """
        path = Path(path)
        remove_stale_staging(path)  # a killed init of this name leaves encrypted keys beside it
        if not path.is_dir():
            raise WorkspaceError(f"{path}: workspace not found")
        config_path = path / CONFIG_NAME
        if config_path.exists() or (path / _txn.JOURNAL_DIR).is_dir():
            # Before anything is read: a change a killed command committed is completed, one it did
            # not commit is dropped, so every command starts from the old state or the new one.
            _txn.recover(path)
        if not config_path.is_file():
            if (path / "session.json").is_file():
                raise WorkspaceError(
                    f"{path}: a new root ceremony is in progress here and has not finished",
                    hint=f"resume it with: ceremony tui {path}",
                )
            raise WorkspaceError(f"{path}: not a ceremony workspace (no {CONFIG_NAME})")
        config = read_json(config_path, "workspace config", limit=MAX_CONFIG_BYTES)
        check_config(config, str(config_path))
        return cls(path, config)

    @property
    def metadata_dir(self) -> Path:
        """The directory a TUF client reads."""
        return self.path / METADATA_DIR

    def key_records(self) -> list[KeyRecord]:
        """Every key the workspace refers to."""
        records = []
        for keyid, entry in self.config["keys"].items():
            records.append(
                KeyRecord(
                    keyid,
                    str(entry.get("label", keyid[:8])),
                    tuple(entry.get("roles", ())),
                    str(entry.get("key_type", "")),
                    entry.get("uri"),
                    bool(entry.get("revoked")) and not entry.get("roles"),
                )
            )
        role_order = {role: i for i, role in enumerate(ROLES)}
        records.sort(key=lambda r: (min((role_order.get(x, 9) for x in r.roles), default=9), r.label))
        return records

    def find_key(self, keyid_prefix: str) -> KeyRecord:
        """The one key whose id starts with ``keyid_prefix`` (or whose label matches).

        Raises:
            UsageError: no key or several keys match.
        """
        matches = [
            r
            for r in self.key_records()
            if not r.revoked and (r.keyid.startswith(keyid_prefix.lower()) or r.label == keyid_prefix)
        ]
        if not matches:
            raise UsageError(f"{self.path}: no key matches {keyid_prefix!r}")
        if len(matches) > 1:
            raise UsageError(
                f"{self.path}: {keyid_prefix!r} matches {len(matches)} keys ({', '.join(m.label for m in matches)}); give more of the key id"
            )
        return matches[0]

    def newest_root_bytes(self) -> bytes:
        """Bytes of metadata/root.json.

        Raises:
            InputFileError: missing or unreadable.
        """
        from ceremony.core._json import read_bytes

        return read_bytes(self.metadata_dir / "root.json", "root metadata")

    def tracked_files(self) -> list[str]:
        """Workspace-relative paths the transcript must account for."""
        names = [CONFIG_NAME]
        for sub in (METADATA_DIR, KEYS_DIR, "pending", "drills"):
            directory = self.path / sub
            if directory.is_dir():
                names += [f"{sub}/{p.name}" for p in sorted(directory.iterdir()) if p.is_file()]
        return names

    def public_key(self, keyid: str) -> Key:
        """The public key ``keyid`` as the newest root lists it.

        Raises:
            InputFileError / SigningKeyError: root unreadable or key not in it.
        """
        env = _verify.parse_envelope("root.json", self.newest_root_bytes(), "root")
        key_obj = (env.signed.get("keys") or {}).get(keyid)
        if key_obj is None:
            raise SigningKeyError(f"key {keyid[:12]} is not in the newest root")
        return _keys.public_key_from_metadata(keyid, key_obj)


@dataclass(frozen=True)
class KeyCheckResult:
    """A keyholder proved they can unlock and sign with their key."""

    record: KeyRecord
    challenge: str
    transcript_head: str


def check_key(
    ws: Workspace,
    keyid_prefix: str,
    passphrase_for: PassphraseProvider,
    now: datetime | None = None,
    pin_for: SecretsHandler | None = None,
    pin_file: Path | None = None,
) -> KeyCheckResult:
    """Prove a keyholder can use their key: unlock it and test-sign a random challenge.

    Works for software keys (passphrase) and token keys (PIN). Records the
    successful check in the transcript (key id, challenge, token serial; never
    a secret).

    Raises:
        UsageError: no single key matches.
        SigningKeyError: the key is held elsewhere, or does not match its public key.
        PassphraseError: the passphrase is wrong.
        HsmError: a token, PIN or module problem.
    """
    record = ws.find_key(keyid_prefix)
    if record.uri is None:
        raise SigningKeyError(f"key {record.label} ({record.keyid[:12]}) is held elsewhere; it cannot be checked here")
    public = ws.public_key(record.keyid)
    details: dict[str, Any] = {}
    if record.uri.startswith("pkcs11:"):
        with _hsm.open_key(record.uri, pin_for, ws.config.get("pkcs11_module"), pin_file) as signer:
            if signer.public_key.keyid != public.keyid or _keys.public_key_identity(
                signer.public_key
            ) != _keys.public_key_identity(public):
                raise SigningKeyError(f"the token key at {record.uri} is not key {record.label} ({record.keyid[:12]})")
            challenge = signer.token_key.challenge
            details = signer.token_key.transcript_details()
    elif record.uri.startswith("file:"):
        signer = _keys.unlock_signer(key_file(ws.path, record.uri), public, passphrase_for(record.label))
        challenge = _keys.prove_signing(signer)
    else:
        raise SigningKeyError(f"key {record.label}: {record.uri} is not a key reference this tool can use")
    head = _transcript.append(
        ws.path,
        "key check",
        [f"keyholder of {record.label} used key {record.keyid} to test-sign a random challenge"],
        {},
        [record.keyid],
        (now or datetime.now(UTC)),
        {"challenge": challenge, **details},
    )
    return KeyCheckResult(record, challenge, head)


#: Days before expiry by which a role must be re-signed: time to gather keyholders
#: (root), to re-sign and publish (targets), or for the online service (snapshot,
#: timestamp). Configurable per role as ``signing_period_days`` in ceremony.json.
DEFAULT_SIGNING_PERIOD_DAYS = {"root": 60, "targets": 30, "snapshot": 2, "timestamp": 0}


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
            "warnings": self.warnings,
        }


def _delegations(ws: Workspace) -> dict[str, tuple[str, dict[str, Any]]]:
    """Delegated role name -> (delegating file's role, role definition), from the metadata present."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(ws.metadata_dir.glob("*.json")):
        if path.name.split(".")[0].isdigit():
            continue
        try:
            env = _verify.parse_envelope(path.name, path.read_bytes())
        except _verify.VerificationError:
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
                found[role["name"]] = (path.stem, role)
    return found


def workspace_status(ws: Workspace, now: datetime | None = None) -> Status:
    """Describe the workspace; never raises for a problem it can report as a warning.

    Raises:
        InputFileError: root.json is unreadable (nothing can be shown without it).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    root = _verify.parse_envelope("root.json", ws.newest_root_bytes(), "root")
    warnings: list[str] = []
    roles: list[RoleStatus] = []
    versions = sorted(
        int(p.name.split(".")[0]) for p in ws.metadata_dir.glob("*.root.json") if p.name.split(".")[0].isdigit()
    )
    root_roles = root.signed.get("roles")
    if not isinstance(root_roles, dict):
        raise InputFileError(f"{ws.metadata_dir / 'root.json'}: 'roles' is not an object")
    role_defs: dict[str, tuple[str | None, dict[str, Any]]] = {
        role: (None, root_roles.get(role) if isinstance(root_roles.get(role), dict) else {}) for role in ROLES
    }
    role_defs.update(_delegations(ws))
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
            file = ws.metadata_dir / f"{role}.json"
            if file.is_file():
                try:
                    env = _verify.parse_envelope(file.name, file.read_bytes())
                    version, expires_text = env.version, env.signed.get("expires")
                except _verify.VerificationError as err:
                    warnings.append(str(err))
            elif delegator is None:
                warnings.append(f"{role}.json is not in the workspace (its key is held by the online service)")
        policy_entry = ws.config.get("roles", {}).get(role) or ws.config.get("delegations", {}).get(role) or {}
        days_left = resign_by = None
        if expires_text is not None:
            expires = _verify.parse_tuf_date(expires_text, role)
            days_left = round((expires - now).total_seconds() / 86400, 1)
            period = policy_entry.get("signing_period_days", DEFAULT_SIGNING_PERIOD_DAYS.get(role, 30))
            try:
                due = expires - timedelta(days=period)
            except OverflowError:
                due = expires
            resign_by = _verify.format_date(due)
            if days_left <= 0:
                warnings.append(f"{role} EXPIRED on {_verify.format_date(expires)}")
            elif days_left <= WARN_DAYS:
                warnings.append(f"{role} expires in {days_left:g} days ({_verify.format_date(expires)})")
            elif due <= now:
                warnings.append(f"{role} is past its re-sign date {resign_by} (expires {_verify.format_date(expires)})")
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
    root_role = roles[0]
    if root_role.threshold >= len(root_role.keyids):
        warnings.append(
            f"root threshold {root_role.threshold} of {len(root_role.keyids)} keys leaves no spare key: losing one key locks the root"
        )
    owners: dict[str, list[str]] = {}
    for status in roles:
        for keyid in status.keyids:
            owners.setdefault(keyid, []).append(status.role)
    for keyid, owning in owners.items():
        if len(owning) > 1:
            warnings.append(f"key {keyid[:12]} is shared by roles {', '.join(owning)}")
    return Status(str(ws.path), str(ws.config.get("profile", PROFILE)), versions, roles, ws.key_records(), warnings)


def verify_workspace_transcript(ws: Workspace, expect_head: str | None = None) -> _transcript.TranscriptReport:
    """Check the transcript chain and that every workspace file is accounted for.

    Raises:
        TranscriptError: see transcript.verify_transcript.
    """
    return _transcript.verify_transcript(ws.path, ws.tracked_files(), expect_head)


__all__ = [
    "InitOptions",
    "InitResult",
    "KeyCheckResult",
    "KeyRecord",
    "Status",
    "Workspace",
    "check_key",
    "init_workspace",
    "verify_workspace_transcript",
    "workspace_status",
]
