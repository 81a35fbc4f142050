"""The session file of a guided ceremony: one typed record per step, checked as hostile when read.

``WS/session.json`` (0600, rewritten in the same journal transaction as each
step's files and transcript line, never holding a secret) says which flow is
under way and where it stopped. Reading it trusts nothing: ``read_session``
checks every field the ceremonies later use, with its type (keyids of 64 hex
digits, labels of a fixed form, a request under ``requests/`` inside the
workspace), and ``overview`` checks the transcript and the files it accounts
for before the home screen reads them, so a damaged or crafted file is one
sentence naming it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key

from ceremony.core import _txn
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import transcript as _transcript
from ceremony.core._fs import write_atomic
from ceremony.core._json import dumps_pretty, read_json
from ceremony.core._text import printable
from ceremony.core.roles import CONFIG_NAME, KEYID, KEYS_DIR, ONLINE_ROLES, REQUEST_ID, REQUESTS_DIR, TOP_LEVEL
from ceremony.core.status import Status, workspace_status
from ceremony.core.workspace import Workspace, verify_workspace_transcript
from ceremony.errors import InputFileError, SigningKeyError, UsageError

SESSION_NAME = "session.json"
SESSION_TYPE = "ceremony-session"
SESSION_FORMAT = 1
PARTICIPANT_ROLES = ("administrator", "witness", "keyholder", "auditor")

#: The new root ceremony's steps, in order, with the title shown to operators.
NEW_ROOT_STEPS: tuple[tuple[str, str], ...] = (
    ("preflight", "Preflight checks"),
    ("participants", "Participants and roles"),
    ("plan", "Root keys: keyholder and backend"),
    ("keygen", "Key generation"),
    ("online", "Online keys"),
    ("review", "Review what will be signed"),
    ("sign", "Signing to threshold"),
    ("verify", "Verification"),
    ("backup", "Backup export and test restore"),
    ("signoff", "Sign-off"),
)

#: The steps of a change to a live workspace.
CHANGE_STEPS: tuple[tuple[str, str], ...] = (
    ("choose", "Choose the change"),
    ("sign", "Review and collect signatures"),
    ("publish", "Publish"),
)


def step_titles(flow: str) -> tuple[tuple[str, str], ...]:
    """The ordered (step, title) pairs of a flow."""
    return NEW_ROOT_STEPS if flow == "new-root" else CHANGE_STEPS


# --------------------------------------------------------------------------- the session file


def save(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path / SESSION_NAME, dumps_pretty(data))


def read_session(path: Path) -> dict[str, Any] | None:
    """The session in progress in ``path``, or None; every field checked (see ``check_session``).

    Raises:
        InputFileError: session.json exists but is not a ceremony session, or a field is missing,
            of the wrong type, or names something outside the directory (one sentence naming the file).
    """
    file = Path(path) / SESSION_NAME
    if not file.exists() and not file.is_symlink():
        return None
    data = read_json(file, "ceremony session", limit=MAX_SESSION_BYTES)  # a directory or FIFO is refused here
    check_session(data, Path(path), str(file))
    return data


# --------------------------------------------------------------------------- checking what the files say
# session.json, the pending record and the request are this tool's own files, but after a crash, a
# restore or an edit they are read as hostile like any other: every field the code later reads must be
# there with its type, every name that becomes a path must stay inside the directory, and a problem is
# one sentence naming the file, never a traceback.

#: A session holds root version 1 with its keys: far below this even with hundreds of keys.
MAX_SESSION_BYTES = 8 * 1024 * 1024
#: A name typed by the operator (a participant, a token label): a line, not a page.
MAX_TEXT = 300
#: A change's title (it quotes the paths a delegation names).
MAX_TITLE = 2000
CHANGE_FLOWS = ("rotate", "extend", "delegate")
_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
#: What ChangeSession.start writes: requests/<UTC time>-<flow>.json.
_REQUEST_NAME = re.compile(rf"^{REQUESTS_DIR}/[A-Za-z0-9][A-Za-z0-9._-]{{0,127}}\.json\Z")
#: Key labels this tool writes (root-1, timestamp, targets-online, root-4).
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


#: What to do about a session file that cannot be used.
_SESSION_HINT = (
    "the ceremony in progress resumes only from the file as this tool wrote it: restore it from a copy, "
    "or move it aside to give that ceremony up (nothing of it was published)"
)


def _session_error(source: str, what: str) -> InputFileError:
    return InputFileError(f"{source}: {what}; the session file is damaged or was edited by hand", hint=_SESSION_HINT)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object, source: str, what: str, limit: int = MAX_TEXT, optional: bool = False) -> str | None:
    """A non-empty string field of at most ``limit`` characters (shown through ``printable``, never raw)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _session_error(source, f"{what} is not a line of text")
    return value


def _step_index(flow: str, step: str) -> int:
    return [name for name, _title in step_titles(flow)].index(step)


def check_session(data: object, directory: Path, source: str) -> None:
    """Check a session file's fields as the guided ceremonies read them.

    Args:
        data: the parsed session.json.
        directory: the workspace or draft it is in (request paths resolve inside it).
        source: the file name for messages.

    Raises:
        InputFileError: a field is missing, of the wrong type, or names something this tool never writes.
    """
    if not isinstance(data, dict) or data.get("type") != SESSION_TYPE or data.get("format") != SESSION_FORMAT:
        raise InputFileError(f"{source}: not a ceremony session (format {SESSION_FORMAT})", hint=_SESSION_HINT)
    flow = data.get("flow")
    if flow != "new-root" and flow not in CHANGE_FLOWS:
        raise _session_error(source, f"unknown flow {printable(flow, 40)!r}")
    step = data.get("step")
    if not isinstance(step, str) or step not in dict(step_titles(flow)):
        raise _session_error(source, f"{printable(step, 40)!r} is not a step of the {flow} flow")
    _text(data.get("title"), source, "the title", limit=MAX_TITLE, optional=True)
    _text(data.get("started"), source, "the start time", limit=40, optional=True)
    if flow == "new-root":
        _check_new_root(data, _step_index(flow, step), source)
    else:
        _check_change(data, directory, source)


def _check_change(data: dict[str, Any], directory: Path, source: str) -> None:
    """A change's session: the request it keeps, inside the workspace, and its id."""
    request = data.get("request")
    if not isinstance(request, str) or not _REQUEST_NAME.match(request):
        raise _session_error(source, f"'request' is {printable(request, 80)!r}, not {REQUESTS_DIR}/<name>.json")
    base = Path(directory).resolve()
    if not (base / request).resolve().is_relative_to(base / REQUESTS_DIR):
        raise _session_error(source, f"'request' {request!r} leads outside {base / REQUESTS_DIR}")
    if not isinstance(data.get("request_id"), str) or not REQUEST_ID.match(data["request_id"]):
        raise _session_error(source, "'request_id' is not 16 lowercase hex digits")
    if not isinstance(data.get("reviewed", False), bool):
        raise _session_error(source, "'reviewed' is not true or false")


def _check_new_root(data: dict[str, Any], at: int, source: str) -> None:
    """A new root ceremony's session, every field its step and the steps before it wrote."""
    steps = [name for name, _title in NEW_ROOT_STEPS]
    module = data.get("module")
    if module is not None and (not isinstance(module, str) or "\x00" in module):  # the operator's choice
        raise _session_error(source, "'module' is not a file name")
    if at > steps.index("preflight") and not isinstance(data.get("preflight"), dict):
        raise _session_error(source, "the preflight record is missing")
    if at > steps.index("participants") or "participants" in data:
        _check_participants(data.get("participants"), source)
    if at > steps.index("plan"):
        _check_plan(data, at > steps.index("keygen"), source)
    if at > steps.index("online"):
        _check_online(data.get("online"), source)
    review = steps.index("review")
    if ("root" in data or "digest" in data) and at < review:
        raise _session_error(source, "it holds a root version 1 before the keys are all made")
    if "root" in data or at > review:
        _check_draft_root(data, source)
    if ("digest" in data or at > review) and not (
        isinstance(data.get("digest"), str) and _DIGEST.match(data["digest"])
    ):
        raise _session_error(source, "the reviewed digest is not 64 hex digits")


def _check_participants(value: object, source: str) -> None:
    if not isinstance(value, list) or not value or len(value) > 100:
        raise _session_error(source, "'participants' is not a list of people")
    for person in value:
        if not isinstance(person, dict) or person.get("role") not in PARTICIPANT_ROLES:
            raise _session_error(source, "a participant has no name or no known role")
        _text(person.get("name"), source, "a participant's name")


def _check_plan(data: dict[str, Any], generated: bool, source: str) -> None:
    """Threshold, expiry policy and the planned root keys (each with its key once ``generated``)."""
    keys = data.get("root_keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= 100:
        raise _session_error(source, "'root_keys' is not a list of planned keys")
    threshold = data.get("threshold")
    if not _is_int(threshold) or not 1 <= threshold <= len(keys):
        raise _session_error(source, f"the root threshold is not a number from 1 to {len(keys)}")
    if not isinstance(data.get("no_spare", False), bool):
        raise _session_error(source, "'no_spare' is not true or false")
    days = data.get("expiry_days")
    if not isinstance(days, dict) or not all(_is_int(days.get(r)) and 1 <= days[r] <= 36_500 for r in TOP_LEVEL):
        raise _session_error(source, "'expiry_days' does not give every role a number of days")
    holders = {p["name"] for p in data["participants"] if p["role"] == "keyholder"}
    seen: set[str] = set()
    for index, entry in enumerate(keys, start=1):
        if not isinstance(entry, dict) or entry.get("label") != f"root-{index}":
            raise _session_error(source, f"planned root key {index} is not labelled root-{index}")
        where = f"root-{index}"
        if entry.get("holder") not in holders:
            raise _session_error(source, f"{where}: its holder is not one of the keyholders")
        backend, key_type = entry.get("backend"), entry.get("key_type")
        if backend == "software":
            if key_type not in _keys.KEY_TYPES or entry.get("token_label") or entry.get("token_serial"):
                raise _session_error(source, f"{where}: not a software key type this tool makes")
        elif backend == "token":
            if key_type not in _hsm.TOKEN_KEY_TYPES:
                raise _session_error(source, f"{where}: not a key type a token makes")
            _text(entry.get("token_label"), source, f"{where}: the token label", limit=64)
            _text(entry.get("token_serial"), source, f"{where}: the token serial", limit=64)
        else:
            raise _session_error(source, f"{where}: unknown backend {printable(backend, 40)!r}")
        keyid = entry.get("keyid")
        if keyid is None:
            if generated:
                raise _session_error(source, f"{where} has not been generated, yet the session is past key generation")
            continue
        if keyid in seen:
            raise _session_error(source, f"{where}: the same key is planned twice")
        seen.add(keyid)
        _check_key_entry(entry, where, token=backend == "token", source=source)


def _check_key_entry(entry: Mapping[str, Any], where: str, token: bool | None, source: str) -> None:
    """A generated or imported key: its keyid, where it is held, and a public key with that keyid.

    ``token``: True for a token key, False for a software key, None when either (or none) may be.
    """
    keyid = entry.get("keyid")
    if not isinstance(keyid, str) or not KEYID.match(keyid):
        raise _session_error(source, f"{where}: the key id is not 64 hex digits")
    uri = entry.get("uri")
    if uri is None and token is None:
        pass  # an online key held by the online service
    elif isinstance(uri, str) and uri == f"file:{KEYS_DIR}/{keyid}.p12" and token is not True:
        pass
    elif isinstance(uri, str) and _hsm.is_pkcs11_uri(uri) and token is not False:
        try:
            parsed = _hsm.Pkcs11Uri.parse(uri)
        except UsageError as err:
            raise _session_error(source, f"{where}: {err}") from err
        if parsed.id is None and parsed.object is None:
            raise _session_error(source, f"{where}: the token key's URI names no key")
    else:
        raise _session_error(source, f"{where}: {printable(uri, 120)!r} is not where this tool keeps the key")
    public = entry.get("public")
    if not isinstance(public, dict) or public.get("keyid", keyid) != keyid:
        raise _session_error(source, f"{where}: the public key is missing or names another key id")
    fields = {k: v for k, v in public.items() if k != "keyid"}
    try:
        _keys.public_key_from_metadata(keyid, fields)
        Key.from_dict(keyid, copy.deepcopy(fields))  # a key type and scheme TUF clients verify
    except (SigningKeyError, KeyError, TypeError, ValueError) as err:
        raise _session_error(source, f"{where}: not a public key TUF clients can use") from err
    if not isinstance(entry.get("key_type"), str):
        raise _session_error(source, f"{where}: the key type is missing")


def _check_online(value: object, source: str) -> None:
    if not isinstance(value, dict) or set(value) != set(ONLINE_ROLES):
        raise _session_error(source, "'online' does not name a key for each of targets, snapshot and timestamp")
    for role, entry in value.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("label"), str) or not _LABEL.match(entry["label"]):
            raise _session_error(source, f"the {role} key has no valid label")
        _check_key_entry(entry, f"the {role} key", token=None, source=source)


def _check_draft_root(data: dict[str, Any], source: str) -> None:
    """Root version 1 as built at review: root metadata listing exactly the planned keys."""
    if not isinstance(data.get("root"), dict):
        raise _session_error(source, "root version 1 is missing")
    root = _md.from_dict(data["root"], f"{source} root")
    if _md.role_type(root) != "root" or _md.version(root) != 1:
        raise _session_error(source, "'root' is not root metadata of version 1")
    entries = {"root": data["root_keys"], **{role: [data["online"][role]] for role in ONLINE_ROLES}}
    for role, planned in entries.items():
        keys, threshold = _md.root_role(root, role)
        expected = {entry["keyid"]: entry["public"] for entry in planned}
        if sorted(keys) != sorted(expected) or threshold != (data["threshold"] if role == "root" else 1):
            raise _session_error(source, f"root version 1 gives role {role} other keys than the plan")
        for keyid, key in keys.items():
            if key.keyval != expected[keyid].get("keyval") or key.scheme != expected[keyid].get("scheme"):
                raise _session_error(source, f"root version 1 holds another public key than the plan for {keyid[:12]}")


@dataclass(frozen=True)
class SessionInfo:
    """What the home screen says about a session in progress."""

    flow: str
    step: str
    title: str
    step_title: str

    def describe(self) -> str:
        """ "new root ceremony, stopped at: Signing to threshold"."""
        return f"{self.title}, stopped at: {self.step_title}"


def session_info(path: Path) -> SessionInfo | None:
    """A session in progress in ``path`` (workspace or draft), or None."""
    data = read_session(path)
    if data is None:
        return None
    titles = dict(step_titles(data["flow"]))
    return SessionInfo(data["flow"], data["step"], str(data.get("title") or data["flow"]), titles[data["step"]])


def commit_step(
    path: Path,
    session: dict[str, Any] | None,
    command: str,
    lines: list[str],
    now: datetime,
    details: dict[str, Any] | None = None,
    new_files: Mapping[str, bytes] | None = None,
) -> str:
    """One step in one transaction: the files it made, the session file (None: the session ends), its transcript line.

    A kill between them would leave a session that moved on without its line,
    or a key file no line records; as one journal transaction (core/_txn.py)
    the step happened whole or not at all. Returns the transcript head.
    """
    with _txn.transaction(path) as txn:
        files = {rel: txn.write(rel, data) for rel, data in (new_files or {}).items()}
        if session is None:
            txn.remove(SESSION_NAME)
        else:
            txn.write(SESSION_NAME, dumps_pretty(session))
        head = _transcript.append(path, command, lines, files, [], now, details, txn)
    return head


def record_line(
    path: Path,
    command: str,
    lines: list[str],
    now: datetime,
    files: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    return _transcript.append(path, command, lines, files or {}, [], now, details)


def is_draft(path: Path) -> bool:
    """A new root ceremony in progress (no ceremony.json yet)."""
    return (Path(path) / SESSION_NAME).is_file() and not (Path(path) / CONFIG_NAME).exists()


@dataclass(frozen=True)
class Overview:
    """What the home screen shows about a directory: the session in progress, and the workspace once there is one."""

    info: SessionInfo | None
    status: Status | None  # None for a draft: no ceremony.json yet


def overview(path: Path, now: datetime) -> Overview:
    """Open a workspace or a draft the way the home screen shows it, every file it reads checked first.

    session.json is checked field by field; the transcript's chain is
    checked, and so is every file it accounts for (ceremony.json, metadata,
    keys, pending changes), before anything is read from those files: a file
    changed behind the tool's back is named, and a damaged one is a sentence,
    not a traceback.

    Raises:
        WorkspaceError: not a workspace or a draft.
        InputFileError: session.json, ceremony.json or a metadata file is malformed.
        TranscriptError: the transcript is damaged, or a file differs from what it recorded.
        VerificationError: root.json cannot be read as root metadata.
    """
    path = Path(path)
    info = session_info(path) if path.is_dir() else None
    if is_draft(path):
        keys = path / KEYS_DIR
        tracked = [f"{KEYS_DIR}/{p.name}" for p in sorted(keys.iterdir()) if p.is_file()] if keys.is_dir() else []
        _transcript.verify_transcript(path, tracked)
        return Overview(info, None)
    ws = Workspace.load(path)
    verify_workspace_transcript(ws)
    return Overview(info, workspace_status(ws, now))
