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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony import __version__
from ceremony.core import _txn
from ceremony.core import roles as _roles
from ceremony.core import transcript as _transcript
from ceremony.core._fs import fsync_dir, make_private_dir, sha256_hex, write_atomic
from ceremony.core._json import dumps_pretty, read_json
from ceremony.core.dates import format_date
from ceremony.core.envelope import parse_envelope
from ceremony.core.roles import CONFIG_NAME, KEYID, KEYS_DIR, MAX_POLICY_DAYS, METADATA_DIR, TOP_LEVEL
from ceremony.errors import (
    CeremonyError,
    InputFileError,
    SigningKeyError,
    UsageError,
    WorkspaceError,
)

if TYPE_CHECKING:
    from securesystemslib.signer import Key

CONFIG_FORMAT = 1
PROFILE = "tuf"
#: The profile of a Docker Content Trust workspace (core/dct.py).
NOTARY_PROFILE = "notary"
#: A staging directory of an init killed before it renamed it into place is removed after this long
#: when it holds no lock (a live init holds an flock on its .lock from the first instant it can).
_STALE_STAGING_SECONDS = 60
_STAGING_LOCK = ".lock"

#: Returns the passphrase for a key, given its label ("root-1", "timestamp"): ``keys.SecretsHandler``, named
#: here without importing keys (and ``cryptography``), which ``status`` and ``--version`` never need.
PassphraseProvider = Callable[[str], str]


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
            from ceremony.core import hsm as _hsm  # PyKCS11 only for a workspace with token keys

            uri = _hsm.Pkcs11Uri.parse(self.uri)
            serial = f" (serial {uri.serial})" if uri.serial else ""
            return f"token '{uri.token}'{serial} key '{uri.object}'"
        return self.uri

    def to_dict(self) -> dict[str, Any]:
        """Config form (the revocation history is kept by changes.py, not here)."""
        return {"label": self.label, "roles": list(self.roles), "key_type": self.key_type, "uri": self.uri}


def create_workspace(
    path: Path,
    metadata_files: Mapping[str, bytes],
    key_files: Mapping[str, bytes],
    config: dict[str, Any],
    command: str,
    changes: list[str],
    details: dict[str, Any],
    now: datetime,
    plan_files: Mapping[str, bytes] | None = None,
) -> tuple[Workspace, dict[str, str], str]:
    """Assemble a workspace in a hidden sibling directory, then rename it into place in one step.

    Args:
        path: the workspace to create; it must not exist (or be an empty directory).
        metadata_files: file name -> bytes for metadata/.
        key_files: keyid -> encrypted PKCS#12 bytes for keys/.
        config: the config without format/profile/tool/created (added here).
        command, changes, details: the first transcript entry.
        now: the time recorded.
        plan_files: name -> bytes for plans/ (the ceremony plan this init ran from).

    Raises:
        WorkspaceError: the workspace exists or cannot be created here.
    """
    import shutil  # only when creating a workspace
    import tempfile  # only when creating a workspace

    path = Path(path)
    check_new_path(path)
    for keyid in key_files:
        if not KEYID.match(keyid):
            raise WorkspaceError(f"key id {keyid!r} cannot name a key file")
    config = _full_config(config, now)
    parent = path.absolute().parent
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
        if plan_files:
            make_private_dir(staging / _roles.PLANS_DIR)
            for name, data in plan_files.items():
                written[f"{_roles.PLANS_DIR}/{name}"] = write_atomic(staging / _roles.PLANS_DIR / name, data)
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


def check_new_path(path: Path, what: str = "a workspace") -> None:
    """A workspace (or a guided ceremony's draft) is made only where nothing is: no file, or an empty directory.

    Raises:
        WorkspaceError: something is there, or the parent directory does not exist.
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise WorkspaceError(f"{path}: already exists; {what} needs a new or empty directory")
    if not path.absolute().parent.is_dir():
        raise WorkspaceError(f"{path.absolute().parent}: the parent directory does not exist")


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
            import shutil  # only when there is something to remove: every load calls this

            shutil.rmtree(staging, ignore_errors=True)
            removed.append(name)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def _write_metadata(base: Path, files: Mapping[str, bytes]) -> dict[str, str]:
    """Write metadata files into base/metadata/ atomically; workspace-relative name -> SHA-256."""
    return {f"{METADATA_DIR}/{name}": write_atomic(base / METADATA_DIR / name, data) for name, data in files.items()}


def _full_config(config: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The config with the fields every workspace carries (format, profile, tool, created)."""
    return {
        "format": CONFIG_FORMAT,
        "profile": PROFILE,
        "tool": f"ceremony {__version__}",
        "created": format_date(now),
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
            match = _roles.FILE_URI.match(uri)
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

    @property
    def is_notary(self) -> bool:
        """A Docker Content Trust workspace (``profile: notary``; core/dct.py is its code): asked here, so that
        a TUF workspace's ``status`` need not load DCT's whole stack to find out it is not one."""
        return self.config.get("profile") == NOTARY_PROFILE

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
        role_order = {role: i for i, role in enumerate(TOP_LEVEL)}
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
        for sub in (METADATA_DIR, KEYS_DIR, _roles.PENDING_DIR, _roles.DRILLS_DIR, _roles.PLANS_DIR):
            directory = self.path / sub
            if directory.is_dir():
                names += [f"{sub}/{p.name}" for p in sorted(directory.iterdir()) if p.is_file()]
        names += _target_files(self.path / _roles.TARGETS_DIR)
        return names

    def public_key(self, keyid: str) -> Key:
        """The public key ``keyid`` as the newest root lists it.

        Raises:
            InputFileError / SigningKeyError: root unreadable or key not in it.
        """
        if self.is_notary:
            return self._notary_public_key(keyid)
        env = parse_envelope("root.json", self.newest_root_bytes(), "root")
        key_obj = (env.signed.get("keys") or {}).get(keyid)
        if key_obj is None:
            raise SigningKeyError(f"key {keyid[:12]} is not in the newest root")
        from ceremony.core import keys as _keys  # cryptography's key loading, only when a key is asked for

        return _keys.public_key_from_metadata(keyid, key_obj)

    def _notary_public_key(self, canonical_id: str) -> Key:
        """A root key of a Docker Content Trust workspace, named by its canonical id, from its certificate."""
        from ceremony.core import notary  # Notary v1 and X.509 only for a DCT workspace's keys
        from ceremony.core.keys import dct as dct_keys

        ca = self.config.get("ca")
        if isinstance(ca, dict) and ca.get("keyid") == canonical_id and isinstance(ca.get("certificate"), str):
            with contextlib.suppress(CeremonyError, ValueError):  # the workspace CA: its own certificate's key
                return dct_keys.tuf_key_from_spki(dct_keys.certificate_spki(ca["certificate"].encode("ascii")))
        root = notary.parse(self.newest_root_bytes(), "root.json", "root")
        for key_obj in (root.signed.get("keys") or {}).values():
            with contextlib.suppress(CeremonyError, ValueError):
                if notary.canonical_key_id(key_obj) == canonical_id and key_obj.get("keytype") == "ecdsa-x509":
                    return dct_keys.tuf_key_from_spki(dct_keys.certificate_spki(notary.key_public(key_obj)[1]))
        raise SigningKeyError(f"key {canonical_id[:12]} is not a root key of the newest root")

    def require_tuf(self, command: str) -> None:
        """Refuse a TUF-only command on a Docker Content Trust workspace, saying what to use instead.

        Raises:
            UsageError: the workspace's profile is ``notary``.
        """
        if self.is_notary:
            raise UsageError(
                f"{self.path}: a Docker Content Trust workspace, and {command} is for TUF workspaces only "
                "(its changes are ceremony notary rotate-root and rotate-key; docs/dct.md)"
            )


def _target_files(targets: Path) -> list[str]:
    """``targets/<path>`` of every regular file below ``targets`` (subdirectories too), never through a link."""
    found: list[str] = []
    if targets.is_symlink() or not targets.is_dir():
        return found
    pending = [targets]
    while pending:
        directory = pending.pop()
        for entry in sorted(directory.iterdir()):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                pending.append(entry)
            elif entry.is_file():
                found.append(f"{_roles.TARGETS_DIR}/{entry.relative_to(targets).as_posix()}")
    return sorted(found)


def verify_workspace_transcript(ws: Workspace, expect_head: str | None = None) -> _transcript.TranscriptReport:
    """Check the transcript chain and that every workspace file is accounted for.

    Raises:
        TranscriptError: see transcript.verify_transcript.
    """
    return _transcript.verify_transcript(ws.path, ws.tracked_files(), expect_head)


__all__ = [
    "KeyRecord",
    "PassphraseProvider",
    "Workspace",
    "check_config",
    "complete_draft",
    "create_workspace",
    "verify_workspace_transcript",
]
