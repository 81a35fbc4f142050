"""Witnessed sign-offs of the transcript head: a participant's own signature over "the record as it stood at
entry N", and the check of every such signature.

At the end of a ceremony the administrator reads the transcript head aloud (hex and 24 words) and the witness
writes it on the printed script; a witness, keyholder, administrator or auditor can then sign that head with a
key of their own (a software key file or a token key, the KEYSPEC a keyholder gives ``ceremony sign``). The
head is the SHA-256 of transcript line N, and each line carries the hash of the one before, so one signature
covers the whole record up to N: any later edit, reordering or deletion of lines 1..N, and any removal of the
lines up to N, makes the sign-off fail. Lines appended after N leave it valid: it says what was signed, when.

A sign-off is ``signoffs/<entries>-<keyid16>.json``; its ``signoff`` object is signed as TUF signs ``signed``
(canonical JSON) and carries the key it was made with, so it can be checked anywhere, without the workspace
(``verify_signoff_files`` is pure: the audit bundle calls it with the bundle's members). The sign-offs are not
tracked by the transcript: a sign-off is made after the head it signs, and recording it would move the head.

What this does not do: prove who holds a key. A sign-off by a key that neither the plan nor the metadata names
shows as such ("not named in the plan or the metadata"); the plan, which the transcript tracks, is what ties a
person to a key. Nor does it prove the ceremony happened as the transcript says, only that the signer vouched
for this record (docs/signoffs.md).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ceremony.core import roles as _roles
from ceremony.core import transcript as _transcript
from ceremony.core._fs import make_private_dir, sha256_hex, write_new
from ceremony.core._json import canonical_bytes, dumps_pretty, loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.errors import InputFileError, SigningKeyError, SignoffError, TranscriptError, UsageError

if TYPE_CHECKING:
    import contextlib

    from securesystemslib.signer import Key, SecretsHandler, Signer

    from ceremony.core.plan import Plan
    from ceremony.core.workspace import Workspace

SIGNOFF_TYPE = "ceremony-transcript-signoff"
SIGNOFF_VERSION = 1
SIGNOFFS_DIR = "signoffs"
#: The roles a participant signs off in (the plan's words: docs/examples, core/plan.py).
ROLES = _roles.PARTICIPANT_ROLES
#: A ceremony has a handful of participants; a thousand sign-offs is generous, and bounds a hostile directory.
MAX_SIGNOFF_FILES = 1000
#: A sign-off with an RSA-4096 key is under 2 KiB; 64 KiB bounds a hostile one.
MAX_SIGNOFF_BYTES = 64 * 1024
#: A participant's name as the plan and the printed script give it.
MAX_NAME_CHARS = 100
MAX_WORKSPACE_CHARS = 200

_FILE_NAME = re.compile(r"([1-9][0-9]{0,15})-([0-9a-f]{16})\.json\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
#: An RSA-4096 signature is 512 bytes; twice that bounds a hostile one.
_SIG_HEX = re.compile(r"(?:[0-9a-f]{2}){1,1024}\Z")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_SIGNOFF_FIELDS = frozenset(
    {"_type", "version", "workspace", "entries", "head", "signer", "role", "time", "plan_sha256"}
)
_FILE_FIELDS = frozenset({"signoff", "keyid", "key", "sig"})
_KEY_FIELDS = frozenset({"keytype", "scheme", "keyval"})
NOT_NAMED = "not named in the plan or the metadata"


class SignoffParticipant(Protocol):
    """What a sign-off check reads of a plan's participant (core/plan.py's ``Participant``)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def signoff_keyid(self) -> str | None: ...


class SignoffPlan(Protocol):
    """What a sign-off check reads of a plan (core/plan.py's ``Plan``): its hash and its participants."""

    @property
    def sha256(self) -> str: ...

    @property
    def participants(self) -> Sequence[SignoffParticipant]: ...


@dataclass(frozen=True)
class SignoffCheck:
    """One sign-off that verified: who signed which head, with which key, and what names that key."""

    file: str
    signer: str
    role: str
    entries: int
    head: str
    keyid: str
    #: "named in the plan for <name>", what the metadata calls the key ("root key 'root-1'"), or NOT_NAMED.
    who: str


@dataclass(frozen=True)
class Head:
    """A verified transcript head, as it is shown before anyone signs it."""

    workspace: str
    entries: int
    head: str
    words: str
    #: The plan in effect at this entry (the last one the transcript records up to it), or None.
    plan_sha256: str | None = None


@dataclass(frozen=True)
class SignoffResult:
    """A sign-off made, verified and written."""

    path: Path
    check: SignoffCheck
    time: str


# --------------------------------------------------------------------------- checking


def head_words(head: str) -> str:
    """The head as the 24 BIP-39 words read aloud (diff.digest_words, the words every review shows)."""
    from ceremony.core import diff  # mnemonic, only when words are shown

    return diff.digest_words(bytes.fromhex(head))


def default_keyid(key: Mapping[str, Any]) -> str:
    """The key id TUF and securesystemslib give a key: SHA-256 of the canonical JSON of keytype, scheme, keyval."""
    return sha256_hex(canonical_bytes({name: key[name] for name in ("keytype", "scheme", "keyval")}))


def _name_problem(value: object, what: str, limit: int) -> str | None:
    """Why ``value`` is not a name one can print and compare (text, trimmed, printable, bounded); None if it is."""
    if not isinstance(value, str) or not value:
        return f"{what} is not a non-empty text"
    if len(value) > limit:
        return f"{what} is longer than {limit} characters"
    if value != value.strip() or not value.isprintable():
        return f"{what} {printable(value, 80)!r} holds control, format or surrounding space characters"
    return None


def _bounded(files: Mapping[str, bytes]) -> bool:
    """Whether there is any sign-off to check, once there are not too many to read.

    Raises:
        SignoffError: more than MAX_SIGNOFF_FILES.
    """
    if len(files) > MAX_SIGNOFF_FILES:
        raise SignoffError(f"{SIGNOFFS_DIR}: {len(files):,} sign-off files, more than {MAX_SIGNOFF_FILES:,}; refused")
    return bool(files)


def _line_hashes(lines: Sequence[bytes]) -> list[str]:
    """The SHA-256 of each transcript line, once the lines hold as a transcript (transcript.check_lines).

    Raises:
        TranscriptError: a malformed line, or a broken chain.
    """
    return [sha256_hex(line) for line in _transcript.check_lines(lines, "transcript").lines]


def _plan_role_problem(plan: SignoffPlan, signer: str, role: str, plan_sha256: str | None) -> str | None:
    """What the plan says against this plan hash and this signer's role; None when it says nothing against them."""
    if plan_sha256 is not None and plan_sha256 != plan.sha256:
        return f"made under another plan (SHA-256 {plan_sha256[:16]}...), not this one ({plan.sha256[:16]}...)"
    named = [p for p in plan.participants if p.name == signer]
    if not named:
        # A ceremony run from a plan is signed off by its people: anyone else's word is not the record's.
        return f"signed by {signer!r}, whom the plan does not name"
    if all(p.role != role for p in named):
        return f"signed by {signer!r} as {role}, but the plan names {signer!r} as {named[0].role}"
    return None


def _plan_key_problem(plan: SignoffPlan, signer: str, keyid: str) -> str | None:
    """What the plan says against this signer using this key; None when it says nothing against it."""
    for participant in plan.participants:
        wanted = participant.signoff_keyid
        if participant.name == signer and wanted and wanted != keyid:
            return (
                f"signed by {signer!r} with key {keyid[:16]}, but the plan names key {printable(wanted[:16])} "
                f"for {signer!r}"
            )
        if participant.name != signer and wanted == keyid:
            return f"signed by {signer!r}, but the plan names key {keyid[:16]} as {participant.name!r}'s"
    return None


def _who(plan: SignoffPlan | None, signer: str, keyid: str, known_keys: Mapping[str, str]) -> str:
    """What vouches for the key: the plan first (it names people), then the metadata (it names keys)."""
    if plan is not None and any(p.name == signer and p.signoff_keyid == keyid for p in plan.participants):
        return f"named in the plan for {signer}"
    return known_keys.get(keyid, NOT_NAMED)


def _fields(value: object, fields: frozenset[str], shown: str, what: str) -> dict[str, Any]:
    """``value`` as a JSON object with exactly ``fields``.

    Raises:
        SignoffError: not an object, a field missing, or a field this version does not define.
    """
    if not isinstance(value, dict):
        raise SignoffError(f"{shown}: {what} is not a JSON object")
    missing, extra = sorted(fields - value.keys()), sorted(value.keys() - fields)
    if missing:
        raise SignoffError(f"{shown}: {what} lacks {', '.join(missing)}")
    if extra:
        raise SignoffError(
            f"{shown}: {what} holds {printable(', '.join(extra), 200)}, which a sign-off does not define"
        )
    return value


def _check_signoff_fields(signoff: dict[str, Any], shown: str) -> None:
    """Every field of the signed object, by type and form.

    Raises:
        SignoffError: naming the file and the field.
    """
    if signoff["_type"] != SIGNOFF_TYPE:
        raise SignoffError(f"{shown}: _type is {printable(repr(signoff['_type']), 80)}, not {SIGNOFF_TYPE!r}")
    if type(signoff["version"]) is not int or signoff["version"] != SIGNOFF_VERSION:
        raise SignoffError(f"{shown}: version {printable(repr(signoff['version']), 40)} (this tool reads version 1)")
    entries = signoff["entries"]
    if type(entries) is not int or entries < 1:
        raise SignoffError(f"{shown}: entries {printable(repr(entries), 40)} is not a line number")
    for name in ("head", "plan_sha256"):
        value = signoff[name]
        if (value is not None or name == "head") and not (isinstance(value, str) and _HEX64.match(value)):
            raise SignoffError(f"{shown}: {name} is not 64 lower-case hex digits")
    time = signoff["time"]
    try:
        if not (isinstance(time, str) and _TIME.match(time)):
            raise ValueError
        datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ")  # noqa: DTZ007 - the Z is matched above: UTC
    except ValueError as err:
        raise SignoffError(f"{shown}: time {printable(repr(time), 40)} is not YYYY-MM-DDTHH:MM:SSZ") from err
    if signoff["role"] not in ROLES:
        raise SignoffError(f"{shown}: role {printable(repr(signoff['role']), 40)} is not one of {', '.join(ROLES)}")
    for name, limit in (("signer", MAX_NAME_CHARS), ("workspace", MAX_WORKSPACE_CHARS)):
        problem = _name_problem(signoff[name], name, limit)
        if problem:
            raise SignoffError(f"{shown}: {problem}")


def _check_one(
    name: str,
    data: bytes,
    hashes: Sequence[str],
    plan: SignoffPlan | None,
    known_keys: Mapping[str, str],
) -> SignoffCheck:
    """One sign-off file, checked whole: name, size, form, key id, signature, head, plan.

    Raises:
        SignoffError: naming the file.
    """
    from ceremony.core import keys as _keys  # cryptography, only when there is something to verify

    shown = printable(name, 200)
    match = _FILE_NAME.match(name.rpartition("/")[2])
    if match is None:
        raise SignoffError(f"{shown}: not a sign-off file name (expected {SIGNOFFS_DIR}/<entries>-<keyid16>.json)")
    if len(data) > MAX_SIGNOFF_BYTES:
        raise SignoffError(f"{shown}: larger than {MAX_SIGNOFF_BYTES:,} bytes; refused")
    try:
        document = loads_strict(data, shown)
    except InputFileError as err:
        raise SignoffError(str(err)) from err
    document = _fields(document, _FILE_FIELDS, shown, "the file")
    signoff = _fields(document["signoff"], _SIGNOFF_FIELDS, shown, "its signoff")
    _check_signoff_fields(signoff, shown)
    key = _fields(document["key"], _KEY_FIELDS, shown, "its key")
    keyval = _fields(key["keyval"], frozenset({"public"}), shown, "its key's keyval")
    if not all(isinstance(key[field], str) for field in ("keytype", "scheme")) or not isinstance(keyval["public"], str):
        raise SignoffError(f"{shown}: its key's keytype, scheme and public key must be text")
    keyid = document["keyid"]
    if not (isinstance(keyid, str) and _HEX64.match(keyid)):
        raise SignoffError(f"{shown}: keyid is not 64 lower-case hex digits")
    actual = default_keyid(key)
    if keyid != actual:
        raise SignoffError(
            f"{shown}: keyid {keyid[:16]} does not match the key the file carries (its id is {actual[:16]})"
        )
    entries, head, signer, role = signoff["entries"], signoff["head"], signoff["signer"], signoff["role"]
    if int(match.group(1)) != entries or match.group(2) != keyid[:16]:
        raise SignoffError(
            f"{shown}: the file holds a sign-off of entry {entries} by key {keyid[:16]}, not what its name says"
        )
    sig = document["sig"]
    if not (isinstance(sig, str) and _SIG_HEX.match(sig)):
        raise SignoffError(f"{shown}: sig is not a signature in lower-case hex")
    try:
        public = _keys.public_key_from_metadata(keyid, key)
    except SigningKeyError as err:
        raise SignoffError(f"{shown}: {err}") from err
    if not _keys.signature_is_valid(public, sig, canonical_bytes(signoff, parsed=True)):
        raise SignoffError(
            f"{shown}: the signature does not verify with key {keyid[:16]} (forged, or the file was changed after "
            "it was signed)"
        )
    if entries > len(hashes):
        raise SignoffError(
            f"{shown}: signs entry {entries}, but the transcript has {len(hashes)} (lines it signed were removed)"
        )
    if hashes[entries - 1] != head:
        raise SignoffError(
            f"{shown}: signs head {head[:16]}... at entry {entries}, but line {entries} of the transcript hashes to "
            f"{hashes[entries - 1][:16]}... (the transcript was changed after the sign-off)"
        )
    if plan is not None:
        problem = _plan_role_problem(plan, signer, role, signoff["plan_sha256"]) or _plan_key_problem(
            plan, signer, keyid
        )
        if problem:
            raise SignoffError(f"{shown}: {problem}")
    return SignoffCheck(name, signer, role, entries, head, keyid, _who(plan, signer, keyid, known_keys))


def verify_signoff_files(
    transcript_lines: Sequence[bytes],
    files: Mapping[str, bytes],
    plan: SignoffPlan | None,
    known_keys: Mapping[str, str],
) -> list[SignoffCheck]:
    """Check every sign-off against these transcript lines; pure (no workspace: the audit bundle calls it too).

    Args:
        transcript_lines: the transcript's lines as stored, each with its newline (bytes.splitlines(keepends=True));
            their chain (``prev``) is checked here, the files they name are the caller's to check.
        files: name -> bytes of each sign-off file (the base name must be ``<entries>-<keyid16>.json``).
        plan: the plan the ceremony ran from, or None; when given, a sign-off the plan contradicts is refused.
        known_keys: keyid -> what the metadata calls the key ("root key 'root-1'").

    Raises:
        SignoffError: naming the file, for a malformed, oversized or misnamed file, a key id that is not its key's,
            a signature that does not verify, a head that is not line N's hash, or a signer, role, key or plan hash
            the plan contradicts; or more than MAX_SIGNOFF_FILES files.
        TranscriptError: the lines do not chain.

    Returns:
        One SignoffCheck per file, in entry order (then file name).
    """
    if not _bounded(files):
        return []
    hashes = _line_hashes(transcript_lines)
    checks = [_check_one(name, data, hashes, plan, known_keys) for name, data in sorted(files.items())]
    return sorted(checks, key=lambda check: (check.entries, check.file))


# --------------------------------------------------------------------------- the workspace


def workspace_name(ws: Workspace) -> str:
    """The name a sign-off records: ceremony.json's ``name``, or the workspace directory's name."""
    name = ws.config.get("name")
    if isinstance(name, str) and _name_problem(name, "name", MAX_WORKSPACE_CHARS) is None:
        return name
    directory = ws.path.resolve().name
    if _name_problem(directory, "name", MAX_WORKSPACE_CHARS) is None:
        return directory
    return printable(directory, 120).strip() or "workspace"


def workspace_keys(ws: Workspace) -> dict[str, str]:
    """keyid -> what the workspace's metadata calls the key ("root key 'root-1'", "revoked key 'root-1'")."""
    known: dict[str, str] = {}
    for record in ws.key_records():
        roles = "former" if record.revoked or not record.roles else " and ".join(record.roles)
        known[record.keyid] = f"{roles} key {printable(record.label, 60)!r}"
    return known


def plans_by_entry(records: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """The plan in effect at each entry (index N-1): the SHA-256 of the last plan a verified entry up to N
    records (``details["plan"]["sha256"]``, written by every command run with ``--plan``), or None before any."""
    current: str | None = None
    in_effect: list[str | None] = []
    for entry in records:
        details = entry.get("details")
        plan = details.get("plan") if isinstance(details, dict) else None
        sha = plan.get("sha256") if isinstance(plan, dict) else None
        if isinstance(sha, str) and _HEX64.match(sha):
            current = sha
        in_effect.append(current)
    return in_effect


def load_plan_file(ws: Workspace, sha256: str) -> Plan:
    """The workspace's copy of the plan with this SHA-256 (``plans/<SHA-256>.toml``, tracked by the transcript).

    Raises:
        SignoffError: the file is missing, a link, too large, or not the plan of that hash.
        PlanError: the plan does not load (core/plan.py).
    """
    from ceremony.core import plan as _plan

    name = f"{_roles.PLANS_DIR}/{sha256}.toml"
    path = ws.path / name
    try:
        data = read_bytes(path, "plan", _plan.MAX_PLAN_BYTES, follow_symlinks=False)
    except InputFileError as err:
        raise SignoffError(f"{name}: the plan the transcript records cannot be read ({err})") from err
    if sha256_hex(data) != sha256:
        raise SignoffError(f"{name}: does not hash to its name (it is not the plan the transcript records)")
    return _plan.load_plan(data, name, path.parent)


def _verified_lines(
    ws: Workspace, report: _transcript.TranscriptReport | None = None
) -> tuple[list[bytes], _transcript.TranscriptReport]:
    """The transcript's lines, the very ones the chain and file checks passed (``report``: done already).

    Raises:
        TranscriptError: the transcript does not verify.
    """
    from ceremony.core.workspace import verify_workspace_transcript

    if report is None:
        report = verify_workspace_transcript(ws)
    return list(report.lines), report


def _read_signoff_dir(root: Path) -> dict[str, bytes]:
    """signoffs/ as name -> bytes, bounded: at most MAX_SIGNOFF_FILES files of MAX_SIGNOFF_BYTES, names checked
    before anything is read, no link followed (the directory's own included).

    Raises:
        SignoffError: naming the directory or the file.
    """
    directory = root / SIGNOFFS_DIR
    if directory.is_symlink():
        raise SignoffError(f"{SIGNOFFS_DIR}: is a symbolic link; sign-offs are read only from the workspace itself")
    if not directory.exists():
        return {}
    if not directory.is_dir():
        raise SignoffError(f"{SIGNOFFS_DIR}: is not a directory")
    names: list[str] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if len(names) >= MAX_SIGNOFF_FILES:
                raise SignoffError(f"{SIGNOFFS_DIR}: more than {MAX_SIGNOFF_FILES:,} files; refused")
            names.append(entry.name)
    files: dict[str, bytes] = {}
    for name in sorted(names):
        shown = f"{SIGNOFFS_DIR}/{printable(name, 200)}"
        if not _FILE_NAME.match(name):
            raise SignoffError(f"{shown}: not a sign-off file name (expected {SIGNOFFS_DIR}/<entries>-<keyid16>.json)")
        path = directory / name
        try:
            files[f"{SIGNOFFS_DIR}/{name}"] = read_bytes(
                path, "sign-off file", MAX_SIGNOFF_BYTES, follow_symlinks=False
            )
        except InputFileError as err:
            raise SignoffError(str(err).replace(str(path), shown, 1)) from err
    return files


def _plan_at(name: str, in_effect: Sequence[str | None]) -> str | None:
    """The plan in effect at the entry a sign-off file's name gives (None: none, or a name _check_one refuses)."""
    match = _FILE_NAME.match(name.rpartition("/")[2])
    entries = int(match.group(1)) if match else 0
    return in_effect[entries - 1] if 0 < entries <= len(in_effect) else None


def verify_signoffs_by_plan(
    transcript_lines: Sequence[bytes],
    records: Sequence[Mapping[str, Any]],
    files: Mapping[str, bytes],
    plans: Mapping[str, SignoffPlan],
    known_keys: Mapping[str, str],
) -> list[SignoffCheck]:
    """verify_signoff_files with each sign-off held to the plan in effect at the entry it signs; pure (a
    workspace and an audit bundle both come here).

    Args:
        transcript_lines: as verify_signoff_files.
        records: the same lines parsed, as the transcript's verification returns them (TranscriptReport.records);
            they say which plan is in effect where (plans_by_entry).
        files: name -> bytes of each sign-off file.
        plans: SHA-256 -> plan, for every plan in effect at an entry a sign-off signs.
        known_keys: keyid -> what the metadata calls the key.

    Raises:
        SignoffError: as verify_signoff_files, or a plan in effect that ``plans`` lacks (naming the file).
        TranscriptError: the lines do not chain, or are not the lines ``records`` were parsed from.

    Returns:
        One SignoffCheck per file, in entry order (then file name).
    """
    if not _bounded(files):
        return []
    if len(records) != len(transcript_lines):
        raise TranscriptError(f"transcript: {len(transcript_lines)} lines, but {len(records)} entries were verified")
    hashes = _line_hashes(transcript_lines)
    in_effect = plans_by_entry(records)
    checks = []
    for name, data in sorted(files.items()):
        sha = _plan_at(name, in_effect)
        plan = plans.get(sha) if sha is not None else None
        if sha is not None and plan is None:
            raise SignoffError(
                f"{printable(name, 200)}: signs an entry made under plan {sha[:16]}..., which is missing "
                f"({_roles.PLANS_DIR}/{sha}.toml)"
            )
        checks.append(_check_one(name, data, hashes, plan, known_keys))
    return sorted(checks, key=lambda check: (check.entries, check.file))


def verify_workspace_signoffs(ws: Workspace, report: _transcript.TranscriptReport | None = None) -> list[SignoffCheck]:
    """Every sign-off in the workspace's ``signoffs/``, checked against its verified transcript, each against the
    plan in effect at the entry it signs (verify_signoffs_by_plan).

    Args:
        ws: the workspace.
        report: the transcript's verification, when the caller has just made it (else it is made here).

    Raises:
        TranscriptError: the transcript does not verify.
        SignoffError / PlanError: see verify_signoff_files and load_plan_file.

    Returns:
        One SignoffCheck per sign-off, in entry order; empty without any.
    """
    lines, report = _verified_lines(ws, report)
    files = _read_signoff_dir(ws.path)
    if not files:
        return []
    in_effect = plans_by_entry(report.records)
    needed = sorted({sha for name in files if (sha := _plan_at(name, in_effect)) is not None})
    plans: dict[str, SignoffPlan] = {sha: load_plan_file(ws, sha) for sha in needed}
    return verify_signoffs_by_plan(lines, report.records, files, plans, workspace_keys(ws))


def transcript_head(ws: Workspace) -> Head:
    """The workspace's verified transcript head, to show (hex and words) before anyone signs it.

    Raises:
        TranscriptError: the transcript does not verify.
    """
    _lines, report = _verified_lines(ws)
    plan = plans_by_entry(report.records)[-1]
    return Head(workspace_name(ws), report.entries, report.head, head_words(report.head), plan)


# --------------------------------------------------------------------------- signing


def _identity_keys(identity: bytes) -> list[Key]:
    """The keys (keytype, scheme) a software or token key of this public identity could sign as, each with its
    default key id: every key type this tool makes has the scheme securesystemslib gives its public key."""
    from ceremony.core import choices
    from ceremony.core import keys as _keys

    if identity.startswith(b"ed25519:"):
        forms = [("ed25519", "ed25519", identity.removeprefix(b"ed25519:").hex())]
    elif identity.startswith(b"unparsed:"):
        forms = []
    else:  # DER SubjectPublicKeyInfo, armoured as cryptography writes PEM (64 characters a line)
        text = base64.b64encode(identity).decode("ascii")
        body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
        pem = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"
        seen = dict.fromkeys((kt.keytype, kt.scheme) for kt in choices.KEY_TYPES.values() if kt.keytype != "ed25519")
        forms = [(keytype, scheme, pem) for keytype, scheme in seen]
    candidates: list[Key] = []
    for keytype, scheme, public in forms:
        form: dict[str, Any] = {"keytype": keytype, "scheme": scheme, "keyval": {"public": public}}
        candidates.append(_keys.public_key_from_metadata(default_keyid(form), form))
    return candidates


def _own_signer(identity: bytes, signer_for: Callable[[Key], Signer], where: str) -> tuple[Key, Signer]:
    """The signer's own public key (its default key id) and a signer bound to it.

    signers.open_own_key gives a key's identity and a signer per metadata key; a sign-off names no metadata key,
    so the key is rebuilt from the identity: each form a key of ours can take is offered, and keys.py refuses
    those the private key does not match (a token signer knows its own key and is taken at it).

    Raises:
        SigningKeyError: no form of a key type this tool signs with matches the key.
    """
    from ceremony.core import keys as _keys

    for candidate in _identity_keys(identity):
        try:
            signer = signer_for(candidate)
        except SigningKeyError:
            continue
        public: Key = signer.public_key
        if _keys.public_key_identity(public) != identity:
            break
        form: dict[str, Any] = {
            "keytype": public.keytype,
            "scheme": public.scheme,
            "keyval": {"public": public.keyval["public"]},
        }
        keyid = default_keyid(form)
        return (public if public.keyid == keyid else _keys.public_key_from_metadata(keyid, form)), signer
    raise SigningKeyError(f"the key at {printable(where, 200)} is not of a type a sign-off can name")


def sign_head(
    ws: Workspace,
    keyspec: str,
    signer: str,
    role: str,
    passphrase_for: Callable[[str], str],
    pin_for: SecretsHandler | None,
    stack: contextlib.ExitStack,
    *,
    pin_file: Path | None = None,
    plan: SignoffPlan | None = None,
    head: Head | None = None,
    now: datetime | None = None,
) -> SignoffResult:
    """Sign the workspace's verified transcript head with the signer's own key; verify it; write the sign-off.

    The transcript is verified first (chain and files) and the head signed is that verified head: the one shown
    (``head``, from transcript_head) when given, which must still be in the chain. The signature is verified at
    once (signers.sign_as), then the whole file is checked again as any verifier will check it, before it is
    written, new (never over another), 0600, in a 0700 ``signoffs/``.

    Args:
        ws: the workspace.
        keyspec: the signer's own key, as ``ceremony sign`` takes it: a ``pkcs11:`` URI or a software key file
            (a path or ``file:PATH``).
        signer: the signer's name, as the plan and the printed script give it.
        role: one of ROLES.
        passphrase_for: the software key's passphrase, asked by the key file's name.
        pin_for: the token's PIN, asked with the token's prompt (None: only ``pin_file`` or the URI's pin-source).
        stack: keeps a token session open while it signs.
        pin_file: a PIN file (drills and automation).
        plan: the plan in effect at the entry signed (load_plan_file), or None to have it loaded here; a signer,
            role or key it contradicts is refused before anything is signed, and its hash is recorded.
        head: the head shown to the signer (transcript_head); None signs the head as verified now.
        now: the time recorded (default: now).

    Raises:
        UsageError: a name or role a sign-off cannot carry.
        TranscriptError: the transcript does not verify, or the head shown is no longer in it.
        SignoffError: the plan contradicts the sign-off, ``plan`` is not the plan in effect, this key already
            signed off this entry, or signoffs/ is a link.
        PlanError: the plan in effect does not load.
        PassphraseError / HsmError / SigningKeyError: the key cannot be unlocked, or its signature does not verify.

    Returns:
        Where the sign-off was written and what it checks as.
    """
    from ceremony.core import signers as _signers  # the KEYSPEC grammar and tokens, only when signing

    problem = _name_problem(signer, "the signer's name", MAX_NAME_CHARS)
    if problem:
        raise UsageError(problem)
    if role not in ROLES:
        raise UsageError(f"role {printable(role, 40)!r} is not one of {', '.join(ROLES)}")
    lines, report = _verified_lines(ws)
    entries, head_hex = report.entries, report.head
    if head is not None:
        entries, head_hex = head.entries, head.head
        if entries > len(lines) or sha256_hex(lines[entries - 1]) != head_hex:
            raise TranscriptError(
                f"the head shown ({head_hex[:16]}... at entry {entries}) is no longer in the transcript; nothing was signed"
            )
    # The plan that verifiers will hold this sign-off to: the one in effect at the entry signed.
    plan_sha256 = plans_by_entry(report.records[:entries])[-1]
    if plan is None and plan_sha256 is not None:
        plan = load_plan_file(ws, plan_sha256)
    if plan is not None and plan.sha256 != plan_sha256:
        raise SignoffError(
            f"the plan given ({plan.sha256[:16]}...) is not the plan the transcript records at entry {entries}; "
            "nothing was signed"
        )
    plan_file = f"{_roles.PLANS_DIR}/{plan_sha256}.toml"
    if plan is not None:  # before any secret is asked: a role the plan contradicts needs no key to refuse
        problem = _plan_role_problem(plan, signer, role, plan_sha256)
        if problem:
            raise SignoffError(f"{plan_file}: {problem}; nothing was signed")
    identity, signer_for = _signers.open_own_key(
        keyspec, passphrase_for, pin_for, stack, pin_file, ws.config.get("pkcs11_module")
    )
    public, signing = _own_signer(identity, signer_for, keyspec)
    keyid = public.keyid
    if plan is not None:
        problem = _plan_key_problem(plan, signer, keyid)
        if problem:
            raise SignoffError(f"{plan_file}: {problem}; nothing was signed")
    time = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signoff = {
        "_type": SIGNOFF_TYPE,
        "version": SIGNOFF_VERSION,
        "workspace": workspace_name(ws),
        "entries": entries,
        "head": head_hex,
        "signer": signer,
        "role": role,
        "time": time,
        "plan_sha256": plan_sha256,
    }
    sig = _signers.sign_as(signing, public, canonical_bytes(signoff))
    key = {"keytype": public.keytype, "scheme": public.scheme, "keyval": {"public": public.keyval["public"]}}
    data = dumps_pretty({"signoff": signoff, "keyid": keyid, "key": key, "sig": sig})
    name = f"{entries}-{keyid[:16]}.json"
    # The exact bytes written, checked as every verifier will check them (verify_signoff_files).
    (check,) = verify_signoff_files(lines, {f"{SIGNOFFS_DIR}/{name}": data}, plan, workspace_keys(ws))
    directory = ws.path / SIGNOFFS_DIR
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise SignoffError(
            f"{SIGNOFFS_DIR}: is not a directory of the workspace (a link or a file); nothing was written"
        )
    make_private_dir(directory)
    try:
        write_new(directory / name, data)
    except FileExistsError as err:
        raise SignoffError(
            f"{SIGNOFFS_DIR}/{name}: key {keyid[:16]} has already signed off entry {entries}; nothing was written"
        ) from err
    return SignoffResult(directory / name, check, time)


__all__ = [
    "MAX_SIGNOFF_BYTES",
    "MAX_SIGNOFF_FILES",
    "ROLES",
    "SIGNOFFS_DIR",
    "SIGNOFF_TYPE",
    "Head",
    "SignoffCheck",
    "SignoffParticipant",
    "SignoffPlan",
    "SignoffResult",
    "default_keyid",
    "head_words",
    "load_plan_file",
    "plans_by_entry",
    "sign_head",
    "transcript_head",
    "verify_signoff_files",
    "verify_signoffs_by_plan",
    "verify_workspace_signoffs",
    "workspace_keys",
    "workspace_name",
]
