"""The audit bundle: one archive an outsider verifies offline, without the workspace.

``write_bundle`` verifies a workspace first (the transcript chain and every file it names; the published
metadata as a client would) and writes one uncompressed tar of what an auditor needs, under ``ceremony-audit/``:
the transcript, the workspace config, the plans the ceremony ran from, every metadata version, the public keys
(and Docker Content Trust certificates) the metadata names, the token facts recorded when token keys were made,
the drill reports, the backup ledger, the sign-offs of the transcript head, and a manifest of hashes. The archive
is deterministic (sorted members, one mtime: the newest transcript entry's; owner 0, mode 0644, regular files
only), so the same workspace gives the same bytes and two auditors compare bundles by their SHA-256.

``verify_bundle`` reads an archive as hostile input: bounded (at most MAX_MEMBERS members of at most
MAX_MEMBER_BYTES, MAX_TOTAL_BYTES in all), every name validated (only under ``ceremony-audit/``, no absolute path,
no ``..``, no duplicate, only the files a bundle holds), regular files only, nothing extracted to disk. Every
member is checked against the manifest, the tracked ones (config, plans, metadata, drills) against the last
SHA-256 the transcript recorded for them, the root chain with verify.py (or notary_verify.py), the derived ones
(public keys, token facts, ledger) by deriving them again from the members they come from, and the sign-offs
with signoff.py. It says what the bundle proves and what it cannot (docs/audit.md).

What it does not do: sign anything, read a workspace while verifying, or judge a token's attestation
certificates against its vendor's root (none is shipped: they are carried for an auditor who has it).
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ceremony import __version__
from ceremony.core import ledger as _ledger
from ceremony.core import roles as _roles
from ceremony.core import signoff as _signoff
from ceremony.core import transcript as _transcript
from ceremony.core._fs import sha256_hex, write_new
from ceremony.core._json import dumps_pretty, loads_strict, read_bytes
from ceremony.core._text import plural, printable
from ceremony.core.workspace import NOTARY_PROFILE, Workspace, check_config, verify_workspace_transcript
from ceremony.errors import AuditError, CeremonyError, InputFileError, TranscriptError, VerificationError

BUNDLE_FORMAT = "ceremony-audit-bundle"
BUNDLE_VERSION = 1
TOKENS_FORMAT = "ceremony-audit-tokens"
#: Every member's name starts with this directory (an archive unpacked by hand makes one directory).
PREFIX = "ceremony-audit/"
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
#: The archive itself: the members, a header of at most four blocks each (ustar, and a pax header for a long
#: name), their padding, and the end-of-archive record.
MAX_ARCHIVE_BYTES = MAX_TOTAL_BYTES + MAX_MEMBERS * 4 * 512 + 1024 * 1024

MANIFEST = "manifest.json"
TRANSCRIPT = _transcript.TRANSCRIPT_NAME
CONFIG = _roles.CONFIG_NAME
TOKENS = "tokens.json"
LEDGER = "ledger.json"
METADATA = _roles.METADATA_DIR
PUBLIC_KEYS = "public-keys"
DRILLS = _roles.DRILLS_DIR
PLANS = "plans"  # roles.PLANS_DIR: every plan a step ran from, as plans/<SHA-256>.toml
SIGNOFFS = "signoffs"  # signoff.SIGNOFFS_DIR
#: Files directly under ceremony-audit/, and the directories of one level below it.
_TOP_FILES = frozenset({MANIFEST, TRANSCRIPT, CONFIG, TOKENS, LEDGER})
_DIRS = frozenset({METADATA, PUBLIC_KEYS, DRILLS, PLANS, SIGNOFFS})
_REQUIRED = (MANIFEST, TRANSCRIPT, CONFIG, TOKENS, LEDGER)
#: What the transcript tracks and the bundle carries as it is (checked against the transcript's last record).
_TRACKED_FILES = (CONFIG,)
_TRACKED_DIRS = (METADATA, DRILLS, PLANS)
#: One path component, as the workspace names its files (the journal's rule, _txn._NAME).
_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PLAN_FILE = re.compile(r"([0-9a-f]{64})\.toml")
_ROOT_FILE = re.compile(r"([1-9][0-9]{0,8})\.root\.json")
_ENTRY_TIME = "%Y-%m-%dT%H:%M:%SZ"
_MANIFEST_FIELDS = frozenset({"format", "version", "tool", "workspace", "profile", "transcript", "members"})


@dataclass(frozen=True)
class BundleSummary:
    """A bundle written: where, its SHA-256 (what an auditor compares), how many members, which head."""

    path: Path
    sha256: str
    members: int
    entries: int
    head: str


@dataclass
class AuditReport:
    """A bundle that verified: what it proves, and what it cannot."""

    bundle: str
    workspace: str
    profile: str
    entries: int
    head: str
    members: int
    proves: list[str] = field(default_factory=list)
    cannot_prove: list[str] = field(default_factory=list)
    #: signoff.SignoffCheck of every sign-off, in entry order.
    signoffs: list[Any] = field(default_factory=list)


# --------------------------------------------------------------------------- errors


def _fail(where: str, member: str | None, problem: str) -> AuditError:
    """One sentence: the bundle, the member (its name in the archive), the problem."""
    if member is None:
        return AuditError(f"{where}: {problem}")
    shown = f"{PREFIX}{printable(member, 200)}"
    return AuditError(f"{where}: {shown}: {problem}", shown)


# --------------------------------------------------------------------------- the transcript


def _chain(lines: Sequence[bytes], source: str) -> _transcript.TranscriptReport:
    """The bundle's transcript held to transcript.py's chain rule, on its lines alone (no workspace).

    Raises:
        TranscriptError: a broken chain or a malformed line.
    """
    return _transcript.check_lines(lines, source)


def _latest(records: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str | None, int]]:
    """Workspace file name -> (the SHA-256 the last entry that names it recorded, or None: removed; that entry)."""
    latest: dict[str, tuple[str | None, int]] = {}
    for number, entry in enumerate(records, start=1):
        for name, digest in entry["files"].items():
            latest[name] = (digest, number)
    return latest


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """An entry's UTC time, or None when it is not the form transcript.py writes."""
    try:
        return datetime.strptime(str(entry.get("time")), _ENTRY_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def _describe_entry(records: Sequence[Mapping[str, Any]], number: int) -> str:
    """ "entry 4 (rotate, 2027-01-15T10:00:00Z)"."""
    entry = records[number - 1]
    return f"entry {number} ({printable(entry.get('command'), 60)}, {printable(entry.get('time'), 40)})"


# --------------------------------------------------------------------------- derived members


def _named_keys(metadata: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    """Every key the metadata names: keyid -> the key object as a root or a delegating file lists it (Notary's
    metadata has the same shape: ``signed.keys``, ``signed.delegations.keys``).

    Raises:
        VerificationError: a metadata file that is not JSON metadata (named).
        ValueError: one key id for two different keys (the message names it).
    """
    found: dict[str, dict[str, Any]] = {}
    for name in sorted(metadata, key=_metadata_order):
        if not name.endswith(".json"):
            continue
        try:
            document = loads_strict(metadata[name], name)
        except InputFileError as err:
            raise VerificationError(str(err), name, "parse") from err
        signed = document.get("signed") if isinstance(document, dict) else None
        if not isinstance(signed, dict):
            raise VerificationError(f"{name}: not a metadata file (no signed object)", name, "parse")
        delegations = signed.get("delegations")
        tables = [signed.get("keys"), delegations.get("keys") if isinstance(delegations, dict) else None]
        for keys in tables:
            for keyid, key_obj in (keys if isinstance(keys, dict) else {}).items():
                if not isinstance(key_obj, dict):
                    continue
                if keyid in found and found[keyid] != key_obj:
                    raise ValueError(f"key id {printable(keyid, 80)} names two different keys")
                found.setdefault(keyid, key_obj)
    return found


def _metadata_order(name: str) -> tuple[int, str]:
    """Root versions in version order, then every other file by name (which copy of a key is kept: the first)."""
    match = _ROOT_FILE.fullmatch(name)
    return (int(match.group(1)), "") if match else (1 << 40, name)


def _public_key_members(metadata: Mapping[str, bytes], notary: bool) -> dict[str, bytes]:
    """``public-keys/<keyid>.json`` for every key the metadata names, and ``<keyid>.pem`` for a Notary certificate.

    Raises:
        VerificationError: a metadata file that is not metadata.
        ValueError: a key id that cannot name a file, or names two keys (the message says which).
    """
    found = _named_keys(metadata)
    members: dict[str, bytes] = {}
    for keyid, key_obj in sorted(found.items()):
        if not _COMPONENT.fullmatch(f"{keyid}.json"):
            raise ValueError(f"key id {printable(keyid, 80)} cannot name a file of the bundle")
        members[f"{PUBLIC_KEYS}/{keyid}.json"] = dumps_pretty(key_obj)
        if notary and str(key_obj.get("keytype", "")).endswith("-x509"):
            from ceremony.core import notary as _notary  # Notary's key objects, for a DCT workspace only

            try:
                members[f"{PUBLIC_KEYS}/{keyid}.pem"] = _notary.key_public(key_obj)[1]
            except CeremonyError as err:
                raise ValueError(f"key {keyid[:16]}: {err}") from err
    return members


def _without_pin(uri: str) -> str:
    """A pkcs11: URI without its pin-source or pin-value attribute (a path to a PIN file is nobody's business)."""
    path, sep, query = uri.partition("?")
    kept = [a for a in query.split("&") if a and a.split("=", 1)[0] not in ("pin-source", "pin-value")]
    return path + (sep + "&".join(kept) if kept else "")


def _token_facts(details: object) -> list[dict[str, Any]]:
    """What an entry recorded of token keys (``hsm.TokenKey.transcript_details``), wherever its command put them:
    init under ``details["keys"][label]``, the guided ceremony's key generation under ``details[label]``.

    A record counts only in that exact shape (a key id, a ``pkcs11:`` URI, the CKA_ attributes as booleans);
    anything else in details is not a token's statement and is ignored, not trusted in part.
    """
    if not isinstance(details, dict):
        return []
    keys = details.get("keys")
    candidates = [*details.values(), *(keys.values() if isinstance(keys, dict) else ())]
    found = []
    for value in candidates:
        if not isinstance(value, dict):
            continue
        keyid, uri, attributes = value.get("keyid"), value.get("uri"), value.get("attributes")
        if (
            isinstance(keyid, str)
            and _roles.KEYID.match(keyid)
            and isinstance(uri, str)
            and uri.startswith("pkcs11:")
            and isinstance(attributes, dict)
            and all(isinstance(k, str) and isinstance(v, bool) for k, v in attributes.items())
        ):
            found.append(value)
    return found


def _tokens_member(records: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> bytes:
    """``tokens.json``: the token facts the transcript recorded for each token key (the first record of each),
    and every ``pkcs11:`` key of the config with none.

    Raises:
        ValueError: a ``token_keys`` record that is not an object of objects (the message names the entry).
    """
    recorded: dict[str, dict[str, Any]] = {}
    for number, entry in enumerate(records, start=1):
        for fact in _token_facts(entry.get("details")):
            recorded.setdefault(
                fact["keyid"],
                {"entry": number, "command": entry.get("command"), "time": entry.get("time"), "facts": fact},
            )
    unrecorded = []
    keys = config.get("keys")
    for keyid, entry in sorted((keys if isinstance(keys, dict) else {}).items()):
        uri = entry.get("uri") if isinstance(entry, dict) else None
        if isinstance(uri, str) and uri.startswith("pkcs11:") and keyid not in recorded:
            unrecorded.append({"keyid": keyid, "label": entry.get("label"), "uri": _without_pin(uri)})
    return dumps_pretty(
        {"format": TOKENS_FORMAT, "version": 1, "recorded": recorded, "token_keys_without_facts": unrecorded}
    )


def _ledger_of(records: Sequence[Mapping[str, Any]], metadata: Mapping[str, bytes]) -> _ledger.Ledger:
    """The backup ledger as ledger.py derives it, from verified transcript records and the root files."""
    return _ledger.ledger_from_records(records, metadata)


def _ledger_member(records: Sequence[Mapping[str, Any]], metadata: Mapping[str, bytes]) -> bytes:
    """``ledger.json``: one object per root version, as ``status --json`` shows the ledger."""
    return dumps_pretty(_ledger_of(records, metadata).to_dict())


# --------------------------------------------------------------------------- writing


def _read_dir(ws: Workspace, sub: str, count: list[int]) -> dict[str, bytes]:
    """Every regular file directly in ``ws/sub`` (none when it is absent), never through a link, bounded.

    Raises:
        AuditError: a name the bundle cannot hold, something that is not a regular file, too many or too large.
    """
    directory = ws.path / sub
    if not directory.exists() and not directory.is_symlink():
        return {}
    if directory.is_symlink() or not directory.is_dir():
        raise AuditError(f"{directory}: not a directory of the workspace (a link or a file)")
    files: dict[str, bytes] = {}
    for path in sorted(directory.iterdir()):
        count[0] += 1
        if count[0] > MAX_MEMBERS:
            raise AuditError(f"{ws.path}: more than {MAX_MEMBERS:,} files to bundle; refused")
        if not _COMPONENT.fullmatch(path.name):
            raise AuditError(f"{printable(str(path), 300)}: a name an audit bundle cannot hold")
        try:
            files[path.name] = read_bytes(path, "workspace file", MAX_MEMBER_BYTES, follow_symlinks=False)
        except InputFileError as err:
            raise AuditError(str(err)) from err
    return files


def _collect(ws: Workspace) -> tuple[dict[str, bytes], datetime | None]:
    """The bundle's members (name inside ceremony-audit/ -> bytes) from a verified workspace, and its mtime.

    Raises:
        TranscriptError: the transcript does not verify (chain or files).
        AuditError: a file changed while it was read, or cannot be bundled.
    """
    report = verify_workspace_transcript(ws)
    try:
        data = read_bytes(ws.path / TRANSCRIPT, "transcript", _transcript.MAX_TRANSCRIPT_BYTES, follow_symlinks=False)
    except InputFileError as err:
        raise AuditError(str(err)) from err
    lines = data.splitlines(keepends=True)
    if len(lines) != report.entries or sha256_hex(lines[-1]) != report.head:
        raise AuditError(f"{ws.path / TRANSCRIPT}: changed while the bundle was made; run the command again")
    members: dict[str, bytes] = {TRANSCRIPT: data}
    count = [0]
    for sub in (*_TRACKED_DIRS, SIGNOFFS):
        for name, content in _read_dir(ws, sub, count).items():
            members[f"{sub}/{name}"] = content
    for name in _TRACKED_FILES:
        path = ws.path / name
        if path.exists() or path.is_symlink():
            try:
                members[name] = read_bytes(path, "workspace file", MAX_MEMBER_BYTES, follow_symlinks=False)
            except InputFileError as err:
                raise AuditError(str(err)) from err
    for name, content in members.items():
        if name.partition("/")[0] in _TRACKED_DIRS or name in _TRACKED_FILES:
            recorded = report.files_checked.get(name)
            if recorded is None:
                raise AuditError(f"{ws.path / name}: not recorded by the transcript; the bundle would not verify")
            if recorded != sha256_hex(content):
                raise AuditError(f"{ws.path / name}: changed while the bundle was made; run the command again")
    if CONFIG not in members:
        raise AuditError(f"{ws.path / CONFIG}: missing; not a workspace")
    try:  # the config as bundled (checked against the transcript just above), not as loaded before
        config = loads_strict(members[CONFIG], str(ws.path / CONFIG))
    except InputFileError as err:
        raise AuditError(str(err)) from err
    metadata = {n.partition("/")[2]: d for n, d in members.items() if n.startswith(f"{METADATA}/")}
    try:
        members.update(_public_key_members(metadata, config.get("profile") == NOTARY_PROFILE))
        members[TOKENS] = _tokens_member(report.records, config)
    except (ValueError, VerificationError) as err:
        raise AuditError(f"{ws.path}: {err}") from err
    members[LEDGER] = _ledger_member(report.records, metadata)
    head_time = _entry_time(report.records[-1])
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "tool": f"ceremony {__version__}",
        "workspace": _signoff.workspace_name(ws),  # the name a sign-off records
        "profile": str(config.get("profile", "tuf")),
        "transcript": {"entries": report.entries, "head": report.head},
        "members": {n: {"sha256": sha256_hex(d), "size": len(d)} for n, d in sorted(members.items())},
    }
    members[MANIFEST] = dumps_pretty(manifest)
    total = sum(len(d) for d in members.values())
    if len(members) > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
        raise AuditError(
            f"{ws.path}: {plural(len(members), 'member')} of {total:,} bytes in all, more than a bundle may hold "
            f"({MAX_MEMBERS:,} members, {MAX_TOTAL_BYTES:,} bytes)"
        )
    return members, head_time


def _archive(members: Mapping[str, bytes], mtime: datetime | None) -> bytes:
    """The members as one uncompressed POSIX (pax) tar, the same bytes for the same members: sorted names,
    one mtime, owner 0 with no names, mode 0644, regular files only."""
    stamp = int(mtime.timestamp()) if mtime is not None else 0
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(PREFIX + name)
            info.size = len(members[name])
            info.mtime = stamp
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(members[name]))
    return buffer.getvalue()


def write_bundle(ws: Workspace, out: Path, now: datetime | None = None) -> BundleSummary:
    """Verify the workspace, then write its audit bundle to ``out`` (a new file, 0600, complete or absent).

    The workspace's transcript is verified (chain and every file it names), every file bundled is compared
    with the SHA-256 the transcript last recorded for it as it is read, and the members are then checked
    exactly as ``verify_bundle`` checks an archive (the published metadata as a client would, as of ``now``),
    so a bundle that is written verifies.

    Args:
        ws: the workspace.
        out: the bundle file to write; it must not exist.
        now: the time the published metadata is verified at (default: now; expiry is not a refusal, as in status).

    Raises:
        TranscriptError: the transcript does not verify.
        AuditError: a file cannot be bundled, changed while it was read, the bundle would not verify, or
            ``out`` exists or cannot be written.

    Returns:
        Where the bundle is, its SHA-256, how many members it holds, and the transcript head it covers.
    """
    out = Path(out)
    members, mtime = _collect(ws)
    report = _verify_members(members, str(ws.path), now or datetime.now(UTC))
    data = _archive(members, mtime)
    try:
        digest = write_new(out, data)
    except FileExistsError as err:
        raise AuditError(f"{out}: already exists; an audit bundle is never written over a file") from err
    except OSError as err:
        raise AuditError(f"{out}: cannot write the bundle ({err.strerror or type(err).__name__})") from err
    return BundleSummary(out, digest, len(members), report.entries, report.head)


# --------------------------------------------------------------------------- reading an archive


def _member_name(name: str, where: str) -> str:
    """The name inside ceremony-audit/ of an archive member, when it is one a bundle holds.

    Raises:
        AuditError: an absolute name, one that climbs (``..``), or any other name a bundle does not hold.
    """
    shown = printable(name, 200)
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or "\0" in name:
        raise AuditError(f"{where}: {shown}: an absolute or malformed member name; refused", shown)
    if ".." in parts or "." in parts:
        raise AuditError(f"{where}: {shown}: a member name that climbs out of the archive (..); refused", shown)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise AuditError(f"{where}: {shown}: a member name that is not UTF-8; refused", shown) from None
    rel = name.removeprefix(PREFIX) if name.startswith(PREFIX) else None
    inner = rel.split("/") if rel else []
    if rel is not None and (
        (len(inner) == 1 and rel in _TOP_FILES)
        or (len(inner) == 2 and inner[0] in _DIRS and _COMPONENT.fullmatch(inner[1]))
    ):
        return rel
    raise AuditError(f"{where}: {shown}: not a file an audit bundle holds (see docs/audit.md); refused", shown)


def _kind(info: tarfile.TarInfo) -> str | None:
    """What a member is when it is not a plain regular file (None when it is one)."""
    if info.issym():
        return "a symbolic link"
    if info.islnk():
        return "a hard link"
    if info.isdir():
        return "a directory"
    if info.ischr() or info.isblk():
        return "a device"
    if info.isfifo():
        return "a FIFO"
    if info.issparse() or info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        return "a special member (sparse, contiguous or unknown)"
    return None


def _read_archive(path: Path) -> dict[str, bytes]:
    """The members of the archive at ``path`` (name inside ceremony-audit/ -> bytes), read as hostile input.

    Raises:
        InputFileError: the file cannot be read, or is larger than MAX_ARCHIVE_BYTES.
        AuditError: not an uncompressed tar, a bound exceeded, a bad name, a duplicate, a member that is not a
            regular file, a short member, or bytes after the end of the archive.
    """
    where = str(path)
    data = read_bytes(path, "bundle file", MAX_ARCHIVE_BYTES)
    members: dict[str, bytes] = {}
    total = 0
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 - closed below, in its own with
    except (tarfile.TarError, ValueError, UnicodeError, OverflowError) as err:
        raise AuditError(f"{where}: not an uncompressed tar archive ({printable(err, 200)})") from err
    with tar:
        while True:
            try:
                info = tar.next()
            except (tarfile.TarError, ValueError, UnicodeError, OverflowError) as err:
                raise AuditError(
                    f"{where}: the archive is damaged after {plural(len(members), 'member')} ({printable(err, 200)})"
                ) from err
            if info is None:
                break
            if len(members) >= MAX_MEMBERS:
                raise AuditError(f"{where}: more than {MAX_MEMBERS:,} members; refused")
            rel = _member_name(info.name, where)
            if rel in members:
                raise _fail(where, rel, "appears twice in the archive; refused")
            kind = _kind(info)
            if kind is not None:
                raise _fail(where, rel, f"is {kind}; an audit bundle holds regular files only")
            if info.size > MAX_MEMBER_BYTES:
                raise _fail(where, rel, f"declares {info.size:,} bytes, more than {MAX_MEMBER_BYTES:,}; refused")
            total += info.size
            if total > MAX_TOTAL_BYTES:
                raise _fail(where, rel, f"takes the members past {MAX_TOTAL_BYTES:,} bytes in all; refused")
            try:
                handle = tar.extractfile(info)
                content = handle.read(info.size) if handle is not None else b""
            except (tarfile.TarError, ValueError, OSError) as err:
                raise _fail(where, rel, f"cannot be read ({printable(err, 200)})") from err
            if len(content) != info.size:
                raise _fail(where, rel, f"holds {len(content):,} of the {info.size:,} bytes it declares")
            members[rel] = content
        end = tar.offset
    if data[end:].strip(b"\0"):
        raise AuditError(f"{where}: bytes after the end of the archive (hidden data, or a damaged member); refused")
    return members


# --------------------------------------------------------------------------- checking members


def _check_manifest(members: Mapping[str, bytes], where: str) -> dict[str, Any]:
    """The manifest, checked field by field and against every member (no member missing or extra).

    Raises:
        AuditError: naming the member.
    """
    if MANIFEST not in members:
        raise _fail(where, MANIFEST, "missing; every audit bundle has one")
    try:
        manifest = loads_strict(members[MANIFEST], f"{PREFIX}{MANIFEST}")
    except InputFileError as err:
        raise _fail(where, MANIFEST, f"not valid JSON ({err})") from err
    if not isinstance(manifest, dict) or set(manifest) != _MANIFEST_FIELDS:
        raise _fail(where, MANIFEST, f"not a manifest of {BUNDLE_FORMAT} version {BUNDLE_VERSION} (its fields differ)")
    if manifest["format"] != BUNDLE_FORMAT or manifest["version"] != BUNDLE_VERSION:
        raise _fail(
            where,
            MANIFEST,
            f"format {printable(repr(manifest['format']), 60)} version {printable(repr(manifest['version']), 20)}; "
            f"this tool reads {BUNDLE_FORMAT} version {BUNDLE_VERSION}",
        )
    for name in ("tool", "workspace", "profile"):
        if not isinstance(manifest[name], str):
            raise _fail(where, MANIFEST, f"{name} is not text")
    transcript = manifest["transcript"]
    if (
        not isinstance(transcript, dict)
        or set(transcript) != {"entries", "head"}
        or type(transcript["entries"]) is not int
        or not (isinstance(transcript["head"], str) and _HEX64.fullmatch(transcript["head"]))
    ):
        raise _fail(where, MANIFEST, "transcript is not {entries, head}")
    listed = manifest["members"]
    if not isinstance(listed, dict):
        raise _fail(where, MANIFEST, "members is not an object")
    for name, entry in sorted(listed.items()):
        if name == MANIFEST or not isinstance(entry, dict) or set(entry) != {"sha256", "size"}:
            raise _fail(where, MANIFEST, f"its entry for {printable(name, 200)} is not {{sha256, size}}")
        if name not in members:
            raise _fail(where, name, "listed in the manifest but missing from the archive")
        data = members[name]
        if entry["sha256"] != sha256_hex(data) or type(entry["size"]) is not int or entry["size"] != len(data):
            raise _fail(where, name, "differs from the SHA-256 and size the manifest lists for it")
    for name in sorted(members):
        if name != MANIFEST and name not in listed:
            raise _fail(where, name, "in the archive but not listed in the manifest")
    for name in _REQUIRED:
        if name not in members:
            raise _fail(where, name, "missing; every audit bundle has one")
    return manifest


def _check_tracked(
    members: Mapping[str, bytes], records: Sequence[Mapping[str, Any]], where: str
) -> dict[str, tuple[str | None, int]]:
    """Every tracked member (config, plans, metadata, drills) is the file the transcript last recorded under its
    name, and every such file the transcript says exists is in the bundle.

    Raises:
        AuditError: naming the member.
    """
    latest = _latest(records)
    for name in sorted(members):
        if name.partition("/")[0] in _TRACKED_DIRS or name in _TRACKED_FILES:
            digest, number = latest.get(name, (None, 0))
            if number == 0:
                raise _fail(where, name, "not recorded by any transcript entry")
            if digest is None:
                raise _fail(where, name, f"transcript entry {number} records it as removed")
            if digest != sha256_hex(members[name]):
                raise _fail(where, name, f"differs from the SHA-256 transcript entry {number} recorded for it")
    for name, (digest, number) in sorted(latest.items()):
        bundled = name.partition("/")[0] in _TRACKED_DIRS or name in _TRACKED_FILES
        if bundled and digest is not None and name not in members:
            raise _fail(where, name, f"recorded by transcript entry {number}, but missing from the bundle")
    return latest


def _plans(
    members: Mapping[str, bytes], records: Sequence[Mapping[str, Any]], where: str
) -> tuple[dict[str, Any], list[str]]:
    """The plans held (SHA-256 -> loaded plan), each checked against its name and loaded, and every plan hash a
    transcript entry records held; with the statements of what they prove.

    Raises:
        AuditError: naming the member (or plans/ for a plan the transcript names but the bundle lacks).
    """
    from ceremony.core import plan as _plan  # tomllib and the plan's rules, only for a bundle with plans

    held: dict[str, Any] = {}
    for name in sorted(members):
        if not name.startswith(f"{PLANS}/"):
            continue
        digest = sha256_hex(members[name])
        match = _PLAN_FILE.fullmatch(name.partition("/")[2])
        if match is None or match.group(1) != digest:
            raise _fail(where, name, f"its SHA-256 is {digest[:16]}..., not the one its name gives")
        try:
            held[digest] = _plan.load_plan(members[name], f"{PREFIX}{name}")
        except CeremonyError as err:
            raise _fail(where, name, f"does not load as a plan ({err})") from err
    used: dict[str, list[int]] = {}
    for number, entry in enumerate(records, start=1):
        details = entry.get("details")
        plan = details.get("plan") if isinstance(details, dict) else None
        if plan is None:
            continue
        ran = plan.get("sha256") if isinstance(plan, dict) else None
        if not (isinstance(ran, str) and _HEX64.fullmatch(ran)):
            raise _fail(where, TRANSCRIPT, f"entry {number} names a plan without a SHA-256")
        if ran not in held:
            raise _fail(
                where,
                f"{PLANS}/{ran}.toml",
                f"transcript entry {number} ran from this plan, missing from the bundle",
            )
        used.setdefault(ran, []).append(number)
    proves = [
        f"plan {printable(held[d].name, 80)!r} (SHA-256 {d[:16]}...) is the plan transcript "
        f"{'entry' if len(n) == 1 else 'entries'} {', '.join(map(str, n))} ran from"
        for d, n in sorted(used.items(), key=lambda item: item[1][0])
    ]
    return held, proves


def _verify_metadata(
    metadata: Mapping[str, bytes], config: Mapping[str, Any], at: datetime, where: str
) -> tuple[list[Any], list[str]]:
    """The metadata verified as a client would (expiry not a refusal, as ``status`` treats it): the root checks
    (verify.Check, in chain order) and the warnings.

    Raises:
        AuditError: the first failed check, naming the metadata member.
    """
    from ceremony.core import verify as _verify  # signatures and thresholds: cryptography, only when verifying

    def failed(err: VerificationError) -> AuditError:
        return _fail(where, f"{METADATA}/{err.file}" if err.file else METADATA, str(err))

    try:
        if config.get("profile") == NOTARY_PROFILE:
            from ceremony.core import dct as _dct  # Notary v1, for a DCT bundle only
            from ceremony.core import notary as _notary
            from ceremony.core.notary_verify import verify_notary

            files = {n: d for n, d in metadata.items() if n != "targets.json"}
            if "root.json" not in files:
                raise _fail(where, f"{METADATA}/root.json", "missing; a Docker Content Trust bundle has one")
            root = _notary.parse(files["root.json"], "root.json", "root")
            gun = config.get("gun")
            report = verify_notary(files, str(gun), _dct.chain_time(root, at), _dct.anchor_root(files))
            return [c for c in report.checks if c.role == "root"], report.warnings
        from ceremony.core import status as _status
        from ceremony.core.envelope import load_envelope

        files = {n: d for n, d in metadata.items() if n.endswith(".json")}
        as_config = Workspace(Path(PREFIX), dict(config))
        problem, warnings = _status.check_published(
            files,
            at,
            _status.held_elsewhere(as_config),
        )
        if problem is not None:
            raise failed(problem)
        numbered = sorted((int(m.group(1)), n) for n in files if (m := _ROOT_FILE.fullmatch(n)))
        if not numbered:
            raise _fail(where, METADATA, "holds no N.root.json")
        chain = _verify.Report()
        lowest = numbered[0][1]
        _verify.verify_root_chain(files, load_envelope(lowest, files[lowest], "root"), chain)
        return chain.checks, warnings
    except VerificationError as err:
        raise failed(err) from err
    except InputFileError as err:
        raise _fail(where, METADATA, str(err)) from err


def _root_statements(checks: Sequence[Any]) -> list[str]:
    """What the root checks prove, one sentence per root version."""
    lines = []
    for check in checks:
        name = check.file if str(check.file).endswith(".json") else f"{check.version}.root.json"
        if check.note == "trusted root":
            lines.append(
                f"root version {check.version} ({name}) starts the chain, signed by its own root keys ({check.signatures})"
            )
        else:
            lines.append(
                f"root version {check.version} ({name}) was signed by a threshold of root version "
                f"{check.version - 1}'s keys and of its own ({check.signatures})"
            )
    return lines


def _token_statements(tokens: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """What the token facts say (each key's token and attributes, as the token reported them), and what they
    cannot prove."""
    proves, cannot = [], []
    keys: Mapping[str, Any] = config.get("keys") or {}
    for keyid, record in sorted(tokens.get("recorded", {}).items()):
        facts = record.get("facts", {})
        label = (keys.get(keyid) or {}).get("label") if isinstance(keys.get(keyid), dict) else None
        who = f"key {keyid[:16]}" + (f" ({printable(label, 60)})" if label else "")
        attributes = facts.get("attributes") if isinstance(facts.get("attributes"), dict) else {}
        said = ", ".join(f"{printable(k, 40)}={str(v).lower()}" for k, v in sorted(attributes.items()))
        proves.append(
            f"{who}: transcript entry {record.get('entry')} ({printable(record.get('command'), 40)}) recorded it on "
            f"token {printable(facts.get('token_label'), 60)!r} (serial {printable(facts.get('token_serial'), 60)}, "
            f"{printable(facts.get('token_manufacturer'), 60)} {printable(facts.get('token_model'), 60)}), which reported "
            f"{said or 'no attributes'}"
        )
        attestation = facts.get("attestation")
        if isinstance(attestation, dict):
            certificates = attestation.get("certificates_pem")
            count = len(certificates) if isinstance(certificates, list) else 0
            cannot.append(
                f"{who}: that its attestation ({printable(attestation.get('format'), 40)}, "
                f"{plural(count, 'certificate')}) leads to the token maker's root: this tool carries it but holds "
                "no vendor root; check the chain with the vendor's root certificate"
            )
        else:
            note = facts.get("attestation_note")
            cannot.append(
                f"{who}: that its attributes were truly read from a token: they are the token's own statement, with "
                f"no attestation certificate chain behind them ({printable(note or 'none recorded', 300)})"
            )
    for key in tokens.get("token_keys_without_facts", []):
        cannot.append(
            f"key {str(key.get('keyid'))[:16]} ({printable(key.get('label'), 60)}) is a token key of the config, "
            "but no transcript entry records its token or attributes"
        )
    return proves, cannot


def _check_signoffs(
    lines: Sequence[bytes],
    records: Sequence[Mapping[str, Any]],
    files: Mapping[str, bytes],
    plans: Mapping[str, Any],
    as_config: Workspace,
) -> list[Any]:
    """Every sign-off, each held to the plan in effect at the entry it signs (signoff.py's rule, as for a workspace).

    Raises:
        SignoffError / TranscriptError: as signoff.verify_signoffs_by_plan.
    """
    if not files:
        return []
    return _signoff.verify_signoffs_by_plan(lines, records, files, plans, _signoff.workspace_keys(as_config))


def _verify_members(members: Mapping[str, bytes], where: str, at: datetime | None = None) -> AuditReport:
    """Check a bundle's members whole; what they prove and cannot (``at``: when the metadata is verified;
    default the time of the newest transcript entry).

    Raises:
        AuditError: the first failed check, naming the member.
    """
    manifest = _check_manifest(members, where)
    lines = members[TRANSCRIPT].splitlines(keepends=True)
    try:
        chain = _chain(lines, f"{PREFIX}{TRANSCRIPT}")
    except TranscriptError as err:
        raise AuditError(f"{where}: {err}", f"{PREFIX}{TRANSCRIPT}") from err
    records = chain.records
    recorded = manifest["transcript"]
    if recorded["entries"] != chain.entries or recorded["head"] != chain.head:
        raise _fail(
            where,
            MANIFEST,
            f"names transcript head {printable(recorded['head'], 64)[:16]}... at entry {recorded['entries']}, but "
            f"the transcript's is {chain.head[:16]}... at entry {chain.entries}",
        )
    latest = _check_tracked(members, records, where)
    try:
        config = loads_strict(members[CONFIG], f"{PREFIX}{CONFIG}")
        check_config(config, f"{PREFIX}{CONFIG}")
    except InputFileError as err:
        raise _fail(where, CONFIG, str(err).removeprefix(f"{PREFIX}{CONFIG}: ")) from err
    profile = str(config.get("profile", "tuf"))
    if manifest["profile"] != profile:
        raise _fail(where, MANIFEST, f"names profile {printable(manifest['profile'], 40)!r}, the config {profile!r}")
    held, plan_lines = _plans(members, records, where)
    metadata = {n.partition("/")[2]: d for n, d in members.items() if n.startswith(f"{METADATA}/")}
    when = at or _entry_time(records[-1])
    if when is None:
        raise _fail(where, TRANSCRIPT, f"entry {chain.entries} has no time of the form YYYY-MM-DDTHH:MM:SSZ")
    root_checks, warnings = _verify_metadata(metadata, config, when, where)

    derived: dict[str, bytes] = {}
    try:
        derived.update(_public_key_members(metadata, profile == NOTARY_PROFILE))
    except (ValueError, VerificationError) as err:
        raise _fail(where, METADATA, str(err)) from err
    for name in sorted({*derived, *(n for n in members if n.startswith(f"{PUBLIC_KEYS}/"))}):
        if name not in members:
            raise _fail(where, name, "missing: the metadata names this key")
        if name not in derived:
            raise _fail(where, name, "a key the metadata does not name")
        if members[name] != derived[name]:
            raise _fail(where, name, "differs from what the metadata lists for this key")
    try:
        tokens_bytes = _tokens_member(records, config)
    except ValueError as err:
        raise _fail(where, TRANSCRIPT, str(err)) from err
    if members[TOKENS] != tokens_bytes:
        raise _fail(where, TOKENS, "differs from the token facts the transcript records")
    if members[LEDGER] != _ledger_member(records, metadata):
        raise _fail(where, LEDGER, "differs from the backup ledger the transcript and the root files give")

    files = {n: d for n, d in members.items() if n.startswith(f"{SIGNOFFS}/")}
    try:
        signoffs = _check_signoffs(lines, records, files, held, Workspace(Path(PREFIX), dict(config)))
    except CeremonyError as err:  # SignoffError naming the file; TranscriptError or PlanError behind it
        text = str(err)
        if text.startswith(f"{SIGNOFFS}/"):
            raise AuditError(f"{where}: {PREFIX}{text}", f"{PREFIX}{text.partition(': ')[0]}") from err
        raise _fail(where, f"{SIGNOFFS}/", text) from err

    report = AuditReport(where, str(manifest["workspace"]), profile, chain.entries, chain.head, len(members))
    report.signoffs = list(signoffs)
    _statements(report, members, records, latest, root_checks, warnings, plan_lines, config, when)
    return report


def _statements(
    report: AuditReport,
    members: Mapping[str, bytes],
    records: Sequence[Mapping[str, Any]],
    latest: Mapping[str, tuple[str | None, int]],
    root_checks: Sequence[Any],
    warnings: Sequence[str],
    plan_lines: Sequence[str],
    config: Mapping[str, Any],
    when: datetime,
) -> None:
    """Fill in what a verified bundle proves and what it cannot."""
    proves, cannot = report.proves, report.cannot_prove
    entries, head = report.entries, report.head
    proves.append(
        f"the {plural(len(members), 'member')} are exactly the ones the manifest lists, each with its SHA-256 and size"
    )
    proves.append(
        f"the transcript is one unbroken hash chain of {plural(entries, 'entry', 'entries')}, from the first to "
        f"head {head}"
    )
    metadata = sorted((n for n in members if n.startswith(f"{METADATA}/")), key=lambda n: latest[n][1])
    roots = [n for n in metadata if _ROOT_FILE.fullmatch(n.partition("/")[2])]
    proves.append(
        f"the {plural(len(metadata), 'metadata file')} are the versions the transcript recorded, in this order: "
        + ", ".join(f"{n.partition('/')[2]} (entry {latest[n][1]})" for n in metadata)
    )
    if roots:
        proves.append(f"the root versions are {', '.join(r.partition('/')[2] for r in roots)}, with no gap")
    proves.extend(_root_statements(root_checks))
    if config.get("profile") == NOTARY_PROFILE:
        proves.append(
            "the root chain verifies as the stock notary client would (signatures, thresholds, versions, root "
            f"certificates) as of {when.strftime(_ENTRY_TIME)}; the certificates are in {PUBLIC_KEYS}/ as PEM"
        )
    else:
        proves.append(
            "the published metadata verifies as a client would (signatures, thresholds, versions, hashes) as of "
            f"{when.strftime(_ENTRY_TIME)}, expiry aside (the bundle is a record of what was published, not of today)"
        )
    proves.extend(f"warning: {w}" for w in warnings)
    proves.append(f"{CONFIG} is the workspace config the transcript last recorded (entry {latest[CONFIG][1]})")
    proves.extend(plan_lines)
    for name in sorted(n for n in members if n.startswith(f"{DRILLS}/")):
        number = latest[name][1]
        changes = records[number - 1].get("changes")
        said = printable(changes[0], 200) if isinstance(changes, list) and changes else "no summary"
        proves.append(f"{name} is the drill report {_describe_entry(records, number)} recorded: {said}")
    ledger = _ledger_of(records, {n.partition("/")[2]: members[n] for n in roots})
    proves.extend(f"backup ledger: {line}" for line in ledger.lines())
    keys = sorted(n for n in members if n.startswith(f"{PUBLIC_KEYS}/") and n.endswith(".json"))
    proves.append(f"the {plural(len(keys), 'public key')} in {PUBLIC_KEYS}/ are every key the metadata names")
    tokens = loads_strict(members[TOKENS], TOKENS)
    token_proves, token_cannot = _token_statements(tokens, config)
    proves.extend(token_proves)
    covered = 0
    for check in report.signoffs:
        covered = max(covered, check.entries)
        proves.append(
            f"the transcript head {check.head[:16]}... (entry {check.entries} of {entries}) was signed off by "
            f"{printable(check.signer, 100)} ({check.role}) with key {check.keyid[:16]} ({printable(check.who, 120)})"
        )

    cannot.append(
        "that a software key was never copied: the transcript records what this tool did, not what else read the "
        "key files, and a copy leaves no trace in them"
    )
    if not report.signoffs:
        cannot.append(
            "that the transcript was not rewritten: it has no sign-off, so nothing outside the bundle pins it, and "
            "anyone holding the workspace could have rebuilt the whole chain"
        )
    else:
        cannot.append(
            "that the transcript was not rewritten before the first sign-off: a sign-off pins the record up to its "
            "entry from then on, not what happened before it was made"
        )
        if covered < entries:
            cannot.append(
                f"that entries {covered + 1} to {entries} are as they happened: no sign-off covers them"
                if covered + 1 < entries
                else f"that entry {entries} is as it happened: no sign-off covers it"
            )
    for check in report.signoffs:
        if check.who == _signoff.NOT_NAMED:
            cannot.append(
                f"that key {check.keyid[:16]} is {printable(check.signer, 100)}'s: neither the plan nor the metadata "
                "names it, so its sign-off shows only that whoever holds it vouched for the record"
            )
    cannot.extend(token_cannot)
    cannot.append("that the times in the transcript are true: each is the clock of the machine that ran the command")
    cannot.append(
        "who holds each key: the bundle ties names to keys (through the plan and the config), not keys to people"
    )
    cannot.append("that no other copy of the workspace went on to a different history after this bundle")
    cannot.append(
        "that the printed sheets in the safe restore: a test restore read the PDFs the tool wrote, a drill the "
        "scans it was given; neither saw the paper kept since"
        if any(n.startswith(f"{DRILLS}/") for n in members) or any(v.tested for v in ledger.versions)
        else "that any paper backup restores: the bundle holds no drill report and the ledger no tested backup"
    )


# --------------------------------------------------------------------------- verifying a bundle


def verify_bundle(path: Path) -> AuditReport:
    """Verify an audit bundle offline, without the workspace, reading it as hostile input.

    Every member is checked against the manifest (none missing, none extra), the transcript chain, the config,
    plans, metadata and drill reports against the last SHA-256 the transcript recorded for each, the root chain
    (thresholds, versions) and the rest of the metadata as a client would as of the newest transcript entry,
    the public keys, token facts and backup ledger by deriving them again, and every sign-off's signature and
    head.

    Args:
        path: the bundle file.

    Raises:
        InputFileError: the file cannot be read, or is too large.
        AuditError: the first failed check: ``str(err)`` is ``FILE: MEMBER: problem``; ``err.member`` the member.

    Returns:
        What the bundle proves, and what it cannot.
    """
    path = Path(path)
    return _verify_members(_read_archive(path), str(path))


__all__ = [
    "BUNDLE_FORMAT",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "PREFIX",
    "AuditReport",
    "BundleSummary",
    "verify_bundle",
    "write_bundle",
]
