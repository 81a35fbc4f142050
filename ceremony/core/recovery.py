"""Export, restore, key backups and recovery drills for a workspace.

Orchestration over backup.py (metadata backup sets), shares.py (key shares),
qr.py (QR symbols) and _paper.py (sheets): which files to back up, where the
results go, what the transcript records, and the dated drill report that
proves a backup restores before anyone needs it to.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ceremony.core import _txn
from ceremony.core import backup as _backup
from ceremony.core import diff as _diff
from ceremony.core import ledger as _ledger
from ceremony.core import qr as _qr
from ceremony.core import transcript as _transcript
from ceremony.core._fs import make_private_dir, sha256_hex, write_atomic
from ceremony.core._json import dumps_pretty, read_bytes
from ceremony.core._text import plural, printable
from ceremony.core.dates import format_date
from ceremony.core.envelope import parse_envelope
from ceremony.core.roles import DRILLS_DIR
from ceremony.core.workspace import PassphraseProvider, Workspace
from ceremony.errors import BackupError, CeremonyError, InputFileError, UsageError, VerificationError

_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)


def describe_file(name: str, data: bytes) -> list[str]:
    """What a metadata file holds, for the printed sheet (every value from the file shown as inert text)."""
    try:
        env = parse_envelope(name, data)
    except VerificationError as err:
        from ceremony.core import notary  # Notary v1 (and X.509) load only for what is not TUF

        gun = _notary_gun({name: data}) if name.endswith("root.json") else None
        if gun is None:
            return [f"{name}: {err}"]
        root = notary.parse(data, name, "root")
        lines = [
            f"{name}: Docker Content Trust (Notary v1) root of {printable(gun, 255)}, version {notary.version(root)}, "
            f"expires {printable(root.signed['expires'], 40)}, {plural(len(data), 'byte')}, {plural(len(root.signatures), 'signature')}"
        ]
        return lines + _role_lines(root.signed, {})
    signed = env.signed
    lines = [
        f"{name}: {env.type} version {env.version}, expires {printable(signed.get('expires'), 40)}, "
        f"spec {printable(signed.get('spec_version'), 20)}, {plural(len(data), 'byte')}, {plural(len(env.signatures), 'signature')}"
    ]
    if env.type == "root":
        found = signed.get("keys")
        lines += _role_lines(signed, found if isinstance(found, dict) else {})
    return lines


def _role_lines(signed: dict[str, Any], keys: dict[str, Any]) -> list[str]:
    """One line per role of a root: threshold, number of keys, and who holds them (tuf-on-ci owner or id)."""
    found = signed.get("roles")
    roles: dict[str, Any] = found if isinstance(found, dict) else {}
    lines = []
    for role, value in sorted(roles.items()):
        definition: dict[str, Any] = value if isinstance(value, dict) else {}
        listed = definition.get("keyids")
        ids = [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []
        owners = []
        for keyid in ids:
            key = keys.get(keyid)
            owners.append(str((key if isinstance(key, dict) else {}).get("x-tuf-on-ci-keyowner") or keyid[:12]))
        lines.append(
            printable(f"  {role}: {definition.get('threshold')} of {len(ids)} keys: {', '.join(owners)}", 2000)
        )
    return lines


def signing_digest(name: str, data: bytes) -> tuple[str, bytes] | None:
    """What keyholders read aloud when ``data`` was signed: (what it covers, its SHA-256); None if unknown.

    The digest is diff.py's ``payload_digest`` of this one file's signed part
    (canonical ``signed`` bytes for TUF, Go's canonical form for Notary), the
    digest the review before signing shows for a change that signs this file
    alone. A change that signed several files together showed one digest over
    all of them (``payload_digest``'s rule), which no single file's sheet can
    repeat.
    """
    role = name.removesuffix(".json").rpartition(".")[2] or name
    try:
        env = parse_envelope(name, data)
        payload, version = env.payload, env.version
    except VerificationError:
        from ceremony.core import notary  # Notary v1 (and X.509) load only for what is not TUF

        if not name.endswith("root.json") or _notary_gun({name: data}) is None:
            return None
        try:
            root = notary.parse(data, name, "root")
            payload, version = notary.signed_bytes(root.signed), notary.version(root)
        except CeremonyError:
            return None
    label = f"SHA-256 of the signed part of {printable(role, 100)} v{version}"
    return label, _diff.payload_digest({role: payload})


def describe_restored(item: _backup.Restored) -> list[str]:
    """What a restore prints for one file: both hashes, each named by what it covers."""
    lines = [
        f"restored {printable(item.name)} from set {printable(item.set_id)}",
        f"  SHA-256 of the file {printable(item.name)} (compare with the sheet's file hash): {item.sha256}",
    ]
    signed = signing_digest(item.name, item.data)
    if signed is not None:
        label, digest = signed
        lines.append(f"  words read aloud at signing ({label}): {_diff.digest_words(digest)}")
    return lines


def _chain_block(name: str, data: bytes, versions: Sequence[int], exported: Sequence[int]) -> list[str]:
    """Why every root version is needed, and which one this sheet is."""
    role = name.removesuffix(".json").rpartition(".")[2]
    if role != "root" or not versions:
        return [
            f"{printable(name)} is not a root: restore it together with the root versions of the same export; "
            "clients check it against the newest root."
        ]
    first, newest = versions[0], versions[-1]
    this = int(name.split(".")[0]) if name.split(".")[0].isdigit() else newest
    held = f"{exported[0]} to {exported[-1]}" if len(exported) > 1 else f"{exported[0]} only"
    walk = (
        "a restore checks the chain from the trust anchor, each version signed by the keys of the one before"
        if _notary_gun({name: data}) is not None
        else "a client that trusts an older root walks the chain one version at a time, and a restore checks it "
        f"from version {first}"
    )
    return [
        f"Every root version from {first} to the newest is needed: {walk}. Keep every version's sheet together.",
        f"This sheet is root version {this} of {newest}; this export holds {'versions' if len(exported) > 1 else 'version'} {held}. After a new root "
        "version is published, export and test a new backup: the new version's sheet joins these.",
    ]


@dataclass
class ExportResult:
    """What export wrote."""

    out: Path
    backups: list[_backup.ExportedBackup]
    transcript_head: str


def export_workspace(
    ws: Workspace,
    out: Path,
    versions: str = "all",
    formats: Sequence[str] = _backup.FORMATS,
    qr_bytes: int = _backup.DEFAULT_QR_BYTES,
    ecc: str = "M",
    all_metadata: bool = False,
    now: datetime | None = None,
) -> ExportResult:
    """Back up the workspace's signed root metadata (and optionally the other roles).

    Raises:
        UsageError: bad versions, formats or ECC level.
        QrCapacityError: a part does not fit one QR symbol.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    roots = sorted(
        (int(p.name.split(".")[0]), p) for p in ws.metadata_dir.glob("*.root.json") if p.name.split(".")[0].isdigit()
    )
    published = [v for v, _p in roots]  # every version, for the sheet's "root version 3 of 3"
    if versions == "latest":
        roots = roots[-1:]
    elif versions != "all":
        raise UsageError(f"--versions {versions}: choose all or latest")
    sources = [(p.name, read_bytes(p, "metadata")) for _v, p in roots]
    if all_metadata:
        for path in sorted(ws.metadata_dir.glob("*.json")):
            if not path.name.split(".")[0].isdigit() and path.name != "root.json":
                sources.append((path.name, read_bytes(path, "metadata")))

    exported = [v for v, _p in roots]

    def describe(name: str, data: bytes) -> _backup.SheetText:
        signed = signing_digest(name, data)
        return _backup.SheetText(
            summary=[
                f"Repository: workspace {ws.path.name} (profile {ws.config.get('profile', 'tuf')})",
                *describe_file(name, data),
            ],
            chain=_chain_block(name, data, published, exported),
            words_label=signed[0] if signed else "",
            words_digest=signed[1].hex() if signed else "",
        )

    backups = _backup.export_files(sources, Path(out), formats, qr_bytes, ecc, describe, format_date(now))
    head = _transcript.append(
        ws.path,
        "export",
        [f"exported {b.name} as backup set {b.set_id} ({b.parts} QR parts) to {Path(out).name}" for b in backups],
        {},
        [],
        now,
        {
            "backups": [{"file": b.name, "set": b.set_id, "sha256": b.sha256, "parts": b.parts} for b in backups],
            "formats": list(formats),
            "qr_bytes": qr_bytes,
            "ecc": ecc,
        },
    )
    return ExportResult(Path(out), backups, head)


@dataclass
class RestoreResult:
    """What restore wrote and what it checked."""

    restored: list[_backup.Restored]
    chain: str
    warnings: list[str] = field(default_factory=list)


def _notary_gun(files: dict[str, bytes]) -> str | None:
    """The GUN of restored Notary v1 roots (the CN of the first root certificate), or None for TUF metadata.

    A Notary root says which repository it is the root of only through its certificates, which
    notary_verify then checks: every root certificate's CN must be this GUN.
    """

    for name in sorted(files):
        if not name.endswith("root.json"):
            continue
        # A TUF root (_type "root") is never a Notary one (_type "Root"): no need to load Notary's code and X.509.
        with contextlib.suppress(CeremonyError, KeyError, IndexError, TypeError, ValueError):
            parse_envelope(name, files[name], "root")
            return None
        from ceremony.core import notary
        from ceremony.core.keys import dct as dct_keys

        try:
            root = notary.parse(files[name], name, "root")
            keyid = root.signed["roles"]["root"]["keyids"][0]
            _keytype, pem = notary.key_public(root.signed["keys"][keyid])
            return str(dct_keys.certificate_facts(pem)[0].common_name)
        except (CeremonyError, KeyError, IndexError, TypeError, ValueError):
            return None
    return None


def _check_restored_notary(files: dict[str, bytes], gun: str, at: datetime) -> tuple[str, list[str]]:
    """Restored Notary roots verified as the stock client would walk them, from the lowest version restored.

    Raises:
        VerificationError: they do not form a valid chain for the GUN their certificates name.
    """
    from ceremony.core import notary
    from ceremony.core.notary_verify import verify_notary

    versions = sorted((int(n.split(".")[0]), n) for n in files if n.split(".")[0].isdigit())
    trusted = files[versions[0][1]] if versions else files.get("root.json")
    warnings = []
    try:
        report = verify_notary(files, gun, at, trusted)
    except VerificationError as err:
        if err.check not in ("expiry", "certificate-expired", "certificate-validity"):
            raise
        newest = notary.parse(files[versions[-1][1]] if versions else files["root.json"], "root", "root")
        warnings.append(f"{err} (a backup of older metadata)")
        report = verify_notary(files, gun, notary.expires(newest) - timedelta(seconds=1), trusted)
    return f"Notary root chain of {gun} to version {report.newest_root_version} verified", warnings


def check_restored(restored: Sequence[_backup.Restored], at: datetime | None = None) -> tuple[str, list[str]]:
    """Verify restored files as a root chain (signatures and versions; expiry reported, not required).

    Raises:
        VerificationError: the restored files do not form a valid chain.
    """
    from ceremony.core import verify as _verify

    files = {r.name: r.data for r in restored}
    if not any(name.endswith("root.json") for name in files):
        return "no root metadata restored; nothing to chain", []
    gun = _notary_gun(files)
    if gun is not None:
        return _check_restored_notary(files, gun, at or datetime.now(UTC))
    warnings = []
    try:
        report = _verify.verify_files(files, None, at or datetime.now(UTC))
    except VerificationError as err:
        if err.check != "expiry":
            raise
        warnings.append(f"{err} (a backup of older metadata)")
        report = _verify.verify_files(files, None, _EPOCH)  # everything but expiry, once more
    return f"root chain {report.trusted_root} to version {report.newest_root_version} verified", warnings


def restore_to(inputs: Sequence[Path], out: Path) -> RestoreResult:
    """Restore backups from scans, photos, PDFs or text files into ``out``, then verify them.

    Raises:
        BackupError: missing, duplicate, foreign or corrupted parts; bad text lines.
        VerificationError: the restored metadata does not verify.
        UsageError: ``out`` already holds a different file (or a non-file) of the same name.
        InputFileError: an input is missing, not a regular file, too large or unreadable.
    """
    restored = _backup.restore(inputs)
    chain, warnings = check_restored(restored)
    make_private_dir(Path(out))
    for item in restored:
        target = Path(out) / item.name  # a plain file name: unpack refuses any other
        if target.is_symlink() or target.exists():
            # Compared without following a link or opening a FIFO; only a regular file of the same size is read.
            same = (
                target.is_file()
                and not target.is_symlink()
                and target.stat().st_size == len(item.data)
                and read_bytes(target, "restored file", len(item.data)) == item.data
            )
            if not same:
                raise UsageError(
                    f"{printable(str(target))}: already exists with other content; restore into an empty directory"
                )
    for item in restored:
        write_atomic(Path(out) / item.name, item.data)
    return RestoreResult(restored, chain, warnings)


def export_with_test_restore(ws: Workspace, out: Path, now: datetime) -> list[str]:
    """Export every root version, then prove the printable sheets restore byte for byte; record it in the ledger.

    The test restore reads the A4 PDFs (the pages that will be printed) into a
    temporary directory and compares every file with the workspace's copy and
    with what export recorded. Only then does a transcript entry record each
    file as tested (ledger.py), so a version counts as backed up only once its
    paper has been shown to restore.

    Returns:
        What was done, one line each, for the screen and the transcript.

    Raises:
        BackupError: the PDFs do not restore, or restore something else.
        UsageError / QrCapacityError: see export_workspace.
        VerificationError: the restored roots do not verify as a chain.
    """
    result = export_workspace(ws, Path(out), "all", now=now)
    pdfs = [Path(out) / f for b in result.backups for f in b.files if f.endswith("-a4.pdf")]
    with tempfile.TemporaryDirectory(prefix="ceremony-test-restore-") as tmp:
        restored = restore_to(pdfs, Path(tmp) / "restored")
    exported = {b.name: b.sha256 for b in result.backups}
    lines = [f"exported {b.name} as set {b.set_id} ({b.parts} QR parts) to {Path(out).name}" for b in result.backups]
    tested = []
    for item in restored.restored:
        try:
            original = read_bytes(ws.metadata_dir / item.name, "metadata file", follow_symlinks=False)
        except InputFileError as err:
            raise BackupError(f"test restore of {printable(item.name, 80)}: {err}") from err
        if original != item.data or exported.get(item.name) != item.sha256:
            raise BackupError(f"test restore of {item.name} from {Path(out)} gave different bytes than the workspace")
        tested.append((item.name, item.sha256))
        lines.append(f"test restore of {item.name} from the printable PDFs: byte-identical")
    if sorted(n for n, _d in tested) != sorted(exported):
        raise BackupError(f"test restore from {Path(out)} gave {len(tested)} of {len(result.backups)} files")
    lines.append(restored.chain)
    _transcript.append(
        ws.path,
        "test-restore",
        lines[len(result.backups) :],
        {},
        [],
        now,
        _ledger.details(tested, "test-restore", Path(out).name),
    )
    return lines


#: Files one restore or drill input list may expand to: a scanned stack of every part of hundreds of root
#: versions (a root backup is 2 to 12 QR codes). Larger lists are refused before any file is read.
MAX_INPUT_FILES = 10_000
_GLOB_CHARS = frozenset("*?[")
#: What a directory given as an input contributes: the kinds a restore reads (an export's SVG codes and
#: its JSON copies are left out, so a whole backup directory restores as it is).
RESTORABLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".txt")


def _regular(path: Path) -> bool:
    """A regular file, judged without following a link."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def expand_inputs(items: Sequence[str], suffixes: Sequence[str] | None = RESTORABLE_SUFFIXES) -> list[Path]:
    """Restore and drill inputs as typed: files, directories (their files) and globs, as a bounded list of files.

    A directory gives its regular files of the kinds ``suffixes`` names (by
    default those a restore reads; None: every file), sorted, not its subdirectories, hidden files or
    links (a link in a directory of scans could point anywhere). A
    glob (``scans/*.png``; ``**`` is one level, not recursive) gives the
    regular files it matches, sorted. A plain file is taken as named. A file
    reached twice is given once.

    Raises:
        UsageError: an item that matches nothing (named), or more than MAX_INPUT_FILES files.
    """
    try:
        return _expand_inputs(items, suffixes)
    except OSError as err:  # an unreadable directory, a name too long: one line, never a traceback
        raise UsageError(f"{printable(getattr(err, 'filename', '') or '')}: {err.strerror or err}") from err


def _expand_inputs(items: Sequence[str], suffixes: Sequence[str] | None) -> list[Path]:
    found: list[Path] = []
    seen: set[str] = set()

    def add(path: Path, item: str) -> None:
        key = os.path.normpath(os.path.abspath(path))
        if key in seen:
            return
        if len(found) >= MAX_INPUT_FILES:
            raise UsageError(
                f"{printable(item)}: the inputs come to more than {MAX_INPUT_FILES:,} files, the most one restore "
                "reads; give fewer"
            )
        seen.add(key)
        found.append(path)

    for item in items:
        path = Path(item)
        if path.is_dir():
            entries = []
            with os.scandir(path) as listing:
                for count, entry in enumerate(listing, start=1):
                    if count > MAX_INPUT_FILES:  # every entry counts: listing a huge directory costs too
                        raise UsageError(
                            f"{printable(item)}: more than {MAX_INPUT_FILES:,} files in this directory; give fewer"
                        )
                    readable = suffixes is None or Path(entry.name).suffix.lower() in suffixes
                    if readable and not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                        entries.append(entry.name)
            if not entries:
                kinds = "" if suffixes is None else f" of the kinds read ({', '.join(suffixes)})"
                raise UsageError(f"{printable(item)}: the directory holds no files{kinds}")
            for name in sorted(entries):
                add(path / name, item)
        elif path.exists() or path.is_symlink() or not _GLOB_CHARS & set(item):
            if not path.exists():
                raise UsageError(f"{printable(item)}: no such file")
            add(path, item)
        else:
            matches = []
            for count, match in enumerate(glob.iglob(item), start=1):
                if count > MAX_INPUT_FILES:
                    raise UsageError(f"{printable(item)}: matches more than {MAX_INPUT_FILES:,} files; give fewer")
                if _regular(Path(match)):
                    matches.append(match)
            if not matches:
                raise UsageError(f"{printable(item)}: matches no file")
            for match in sorted(matches):
                add(Path(match), item)
    if not found:
        raise UsageError("no input files given")
    return found


# --------------------------------------------------------------------------- key backups


@dataclass
class KeyBackupResult:
    """What backup-key wrote."""

    keyid: str
    files: list[str]
    transcript_head: str


def backup_key(
    ws: Workspace,
    keyid_prefix: str,
    shares: int,
    threshold: int,
    out: Path,
    passphrase_for: PassphraseProvider,
    paper: str = "a4",
    now: datetime | None = None,
) -> KeyBackupResult:
    """Split a software key's protection into SLIP-39 shares, one printable sheet per custodian.

    Raises:
        BackupError: the key lives on a token (never exported) or is held elsewhere.
        PassphraseError: the keyholder's passphrase is wrong.
        UsageError: bad share counts.
    """
    from ceremony.core import _paper  # sheets, and pypdfium2 when one is read, load only when needed
    from ceremony.core import keys as _keys  # key files and shares: only the key backup paths
    from ceremony.core import shares as _shares  # key files and shares: only the key backup paths

    now = (now or datetime.now(UTC)).astimezone(UTC)
    record = ws.find_key(keyid_prefix)
    if record.uri and record.uri.startswith("pkcs11:"):
        raise BackupError(
            f"key {record.label} lives on a token and cannot be exported: its backup is k-of-n independent keys "
            "(keep the root threshold below the number of root keys and store spare tokens apart)"
        )
    if not record.uri or not record.uri.startswith("file:"):
        raise BackupError(f"key {record.label} is held elsewhere; only its holder can back it up")
    public = ws.public_key(record.keyid) if record.roles else None
    path = ws.path / record.uri.removeprefix("file:")
    private = _keys.unlock_private(path, passphrase_for(record.label))
    if public is not None:
        _keys.signer_from_private(private, public, str(path))  # the key file holds the key the root names
    backup = _shares.split_key(private, record.keyid, shares, threshold)
    make_private_dir(Path(out))
    stem = f"key-{record.keyid[:16]}"
    files = {f"{stem}.p12": backup.encrypted, f"{stem}.json": _shares.key_backup_manifest(backup, record.label)}
    created = format_date(now)
    for index, words in enumerate(backup.shares, start=1):
        qr = _qr.symbol(words.upper(), "M")
        files[f"{stem}-share-{index}of{shares}.pdf"] = _paper.share_sheet(
            paper=paper,
            label=record.label,
            keyid=record.keyid,
            index=index,
            count=shares,
            threshold=threshold,
            words=words,
            qr=qr,
            created=created,
        )
    for name, data in files.items():
        write_atomic(Path(out) / name, data)
    head = _transcript.append(
        ws.path,
        "backup-key",
        [f"split key {record.label} {record.keyid} into {shares} SLIP-39 shares, any {threshold} restore it"],
        {},
        [record.keyid],
        now,
        {"files": sorted(files), "encrypted_key_sha256": sha256_hex(backup.encrypted)},
    )
    return KeyBackupResult(record.keyid, sorted(files), head)


def _manifest_in(backup_dir: Path, keyid_prefix: str | None) -> tuple[Path, dict[str, Any]]:
    """The key backup manifest in ``backup_dir`` (the one matching ``keyid_prefix`` if several), strictly checked.

    Raises:
        BackupError: no manifest, or several and none chosen.
        InputFileError: the manifest is unreadable or not valid (see shares.read_key_manifest).
    """
    from ceremony.core import shares as _shares  # key files and shares: only the key backup paths

    manifests = sorted(Path(backup_dir).glob("key-*.json"))
    chosen = [m for m in manifests if keyid_prefix is None or m.name.startswith(f"key-{keyid_prefix[:16]}")]
    if len(chosen) != 1:
        found = ", ".join(printable(m.name, 80) for m in manifests[:10]) or "none"
        more = f" and {len(manifests) - 10} more" if len(manifests) > 10 else ""
        raise BackupError(
            f"{printable(str(backup_dir))}: expected one key backup manifest, found {found}{more}; "
            "name the key with --keyid"
        )
    return chosen[0], _shares.read_key_manifest(chosen[0])


def recover_private(
    backup_dir: Path, share_inputs: Sequence[Path], keyid_prefix: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """Recombine shares and open the key backup, proving it is the key the manifest names.

    Everything read here (manifest, encrypted key, shares) may be hostile: the
    manifest is strictly checked, the encrypted key is a plain file in the
    manifest's directory (a symbolic link is refused) whose structure is checked
    before any key is derived, and shares are bounded in size and number.

    Raises:
        BackupError: too few or wrong shares, an encrypted key not made by this tool, or the key is
            not the one named.
        InputFileError: the manifest, the encrypted key or a share is unreadable or not valid.
    """
    from ceremony.core import keys as _keys  # key files and shares: only the key backup paths
    from ceremony.core import shares as _shares  # key files and shares: only the key backup paths

    manifest_path, manifest = _manifest_in(Path(backup_dir), keyid_prefix)
    label = printable(manifest["label"])
    encrypted_path = manifest_path.parent / manifest["encrypted_key"]  # a plain name: read_key_manifest checks
    encrypted = read_bytes(
        encrypted_path, "encrypted key backup", _shares.MAX_ENCRYPTED_KEY_BYTES, follow_symlinks=False
    )
    if sha256_hex(encrypted) != manifest["encrypted_key_sha256"]:
        raise BackupError(
            f"{printable(str(encrypted_path))}: does not match the SHA-256 in {printable(manifest_path.name)}"
        )
    _shares.check_encrypted_key(encrypted, str(encrypted_path))
    mnemonics = _shares.share_texts_from(share_inputs)
    if len(mnemonics) < manifest["threshold"]:
        raise BackupError(
            f"{plural(len(mnemonics), 'share')} given; any {manifest['threshold']} of {manifest['shares']} are needed "
            f"to restore key {label}"
        )
    private = _shares.combine_key(mnemonics, encrypted, str(manifest_path))
    try:
        keyid = _keys.SSlibKey.from_crypto(private.public_key()).keyid
    except ValueError as err:  # securesystemslib refuses key types TUF has no scheme for
        raise BackupError(f"the key backup of {label} holds a key of a type this tool does not use") from err
    if keyid != manifest["keyid"]:
        raise BackupError(f"the restored key has key id {keyid[:12]}, not {manifest['keyid'][:12]} as the backup says")
    return private, manifest


def restore_key(
    backup_dir: Path, share_inputs: Sequence[Path], out: Path, new_passphrase: str, keyid_prefix: str | None = None
) -> str:
    """Rebuild the encrypted key file from K shares under the keyholder's new passphrase; return the key id.

    The key is never written unencrypted.

    Raises:
        BackupError: see recover_private.
        InputFileError: see recover_private.
        PassphraseError: the new passphrase is too short.
        UsageError: ``out`` exists.
    """
    from ceremony.core import keys as _keys  # key files and shares: only the key backup paths

    _keys.refuse_existing_key_file(Path(out))
    private, manifest = recover_private(backup_dir, share_inputs, keyid_prefix)
    _keys.check_passphrase(new_passphrase, printable(manifest["label"]))
    write_atomic(Path(out), _keys.encrypt_private_key(private, new_passphrase, manifest["label"]))
    return str(manifest["keyid"])


# --------------------------------------------------------------------------- drills


@dataclass
class DrillCheck:
    """One check of a drill."""

    name: str
    passed: bool
    detail: str
    seconds: float


@dataclass
class DrillReport:
    """A dated drill report."""

    started: str
    backup_dir: str
    checks: list[DrillCheck]
    report_file: str = ""
    transcript_head: str = ""

    @property
    def passed(self) -> bool:
        """Every check passed (and there was at least one)."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON form written to drills/."""
        return {
            "started": self.started,
            "backup_dir": self.backup_dir,
            "passed": self.passed,
            "checks": [vars(c) for c in self.checks],
        }


def _timed(checks: list[DrillCheck], name: str, action: Callable[[], str]) -> None:
    """Run one drill check, recording pass or fail with its duration; never raises for an operator fault."""
    start = time.monotonic()
    try:
        detail = action()
        checks.append(DrillCheck(name, True, detail, round(time.monotonic() - start, 3)))
    except CeremonyError as err:
        checks.append(DrillCheck(name, False, str(err), round(time.monotonic() - start, 3)))


def drill(ws: Workspace, backup_dir: Path, now: datetime | None = None) -> DrillReport:
    """Restore every backup in ``backup_dir`` into a temporary place and check it; touch nothing in production.

    Metadata backups restore from their QR images (PNG, else PDF) and from their
    text fallback, separately; each must be byte-identical to the workspace's
    file and verify as a chain. Key backups recombine their shares (the share
    sheets in the directory) and test-sign a challenge verified against the
    workspace's public key. The report is written to drills/ in the workspace
    and recorded in the transcript; when the drill passes, that entry also
    records every metadata file it restored byte-identical, for the backup
    ledger (ledger.py).
    """
    from ceremony.core import keys as _keys  # key files and shares: only the key backup paths
    from ceremony.core import shares as _shares  # key files and shares: only the key backup paths

    now = (now or datetime.now(UTC)).astimezone(UTC)
    backup_dir = Path(backup_dir)
    report = DrillReport(format_date(now), str(backup_dir), [])
    if not backup_dir.is_dir():
        raise UsageError(f"{backup_dir}: backup directory not found")
    sets: dict[str, dict[str, list[Path]]] = {}
    for path in sorted(backup_dir.iterdir()):
        if path.name.startswith("key-"):
            continue
        stem = path.name.split("-part")[0].removesuffix(".txt").removesuffix("-a4.pdf").removesuffix("-letter.pdf")
        kind = {".png": "qr", ".txt": "text"}.get(path.suffix.lower())
        if path.suffix.lower() == ".pdf" and path.name.endswith("-a4.pdf"):
            kind = "pdf"
        if kind:
            sets.setdefault(stem, {}).setdefault(kind, []).append(path)
    proved: list[tuple[str, str]] = []  # (file, SHA-256) restored byte-identical to the workspace's
    with tempfile.TemporaryDirectory(prefix="ceremony-drill-") as scratch:
        for stem, kinds in sorted(sets.items()):
            for kind in ("qr", "pdf", "text"):
                if kind not in kinds or (kind == "pdf" and "qr" in kinds):
                    continue

                def restore_and_compare(kind: str = kind, paths: list[Path] = kinds[kind], stem: str = stem) -> str:
                    target = Path(scratch) / f"{stem}-{kind}"
                    result = restore_to(paths, target)
                    details = []
                    for item in result.restored:
                        current = ws.metadata_dir / item.name
                        if not current.is_file():
                            raise BackupError(f"{item.name}: not in the workspace any more")
                        if read_bytes(current, "metadata file", follow_symlinks=False) != item.data:
                            raise BackupError(f"{item.name}: restored bytes differ from the workspace's file")
                        details.append(f"{item.name} byte-identical (sha256 {item.sha256[:16]})")
                        proved.append((item.name, item.sha256))
                    return "; ".join([*details, result.chain])

                _timed(report.checks, f"restore {stem} from {kind}", restore_and_compare)
        for manifest_path in sorted(backup_dir.rglob("key-*.json")):

            def recombine(manifest_path: Path = manifest_path) -> str:
                manifest = _shares.read_key_manifest(manifest_path)
                stem = manifest_path.name.removesuffix(".json")
                shares = sorted(manifest_path.parent.glob(f"{stem}-share-*"))[: manifest["threshold"]]
                private, manifest = recover_private(manifest_path.parent, shares, manifest["keyid"])
                public = ws.public_key(manifest["keyid"])
                signer = _keys.signer_from_private(private, public, manifest_path.name)
                challenge = _keys.prove_signing(signer)
                return (
                    f"{manifest['label']}: {len(shares)} of {manifest['shares']} shares recombined, "
                    f"challenge {challenge[:16]} signed and verified"
                )

            _timed(report.checks, f"key backup {manifest_path.name}", recombine)
    if not report.checks:
        report.checks.append(DrillCheck("find backups", False, f"no backups found in {backup_dir}", 0.0))
    name = f"{DRILLS_DIR}/drill-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    with _txn.transaction(ws.path) as txn:  # the report and its transcript line, together
        digest = txn.write(name, dumps_pretty(report.to_dict()))
        report.transcript_head = _transcript.append(
            ws.path,
            "drill",
            [
                f"recovery drill over {backup_dir.name}: {'PASSED' if report.passed else 'FAILED'} "
                f"({sum(c.passed for c in report.checks)} of {len(report.checks)} checks)",
                *(
                    f"paper backup of {name} tested: restored byte-identical (sha256 {digest[:16]})"
                    for name, digest in (sorted(set(proved)) if report.passed else [])
                ),
            ],
            {name: digest},
            [],
            now,
            # Durations in whole milliseconds: transcript lines are strict JSON, without floats. Only a drill
            # that passed as a whole proves its backups (the ledger's entry).
            {
                "checks": [{"name": c.name, "passed": c.passed, "ms": round(c.seconds * 1000)} for c in report.checks],
                **(_ledger.details(proved, "drill", backup_dir.name) if report.passed and proved else {}),
            },
            txn,
        )
    report.report_file = name
    return report


def read_json_report(path: Path) -> dict[str, Any]:
    """Parse a drill report (for the TUI and tests)."""
    return json.loads(read_bytes(path, "drill report"))
