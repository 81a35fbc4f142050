"""The session file of a guided ceremony: one typed record per step, checked as hostile when read.

``WS/session.json`` (0600, rewritten in the same journal transaction as each
step's files and transcript line, never holding a secret) says which flow is
under way and where it stopped. In memory it is typed: ``NewRootState`` (with
``Participant``, ``PlannedKey`` and ``OnlineKey``) or ``ChangeState``, each
read by ``from_dict`` and written by ``to_dict`` (the same JSON either way).
Reading it trusts nothing: ``from_dict`` checks every field the ceremonies
later use, with its type (keyids of 64 hex digits, labels of a fixed form, a
request under ``requests/`` inside the workspace), and ``overview`` checks the
transcript and the files it accounts for before the home screen reads them,
so a damaged or crafted file is one sentence naming it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard

from securesystemslib.signer import Key

from ceremony.core import _txn
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import transcript as _transcript
from ceremony.core._fs import write_atomic
from ceremony.core._json import dumps_pretty, read_json
from ceremony.core._text import printable
from ceremony.core.choices import TOKEN_KEY_TYPE_NAMES
from ceremony.core.roles import (
    CONFIG_NAME,
    KEYID,
    KEYS_DIR,
    ONLINE_ROLES,
    PARTICIPANT_ROLES,
    REQUEST_ID,
    REQUESTS_DIR,
    TOP_LEVEL,
)
from ceremony.core.status import Status, workspace_status
from ceremony.core.workspace import Workspace, verify_workspace_transcript
from ceremony.errors import InputFileError, SigningKeyError, UsageError

SESSION_NAME = "session.json"
SESSION_TYPE = "ceremony-session"
SESSION_FORMAT = 1

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


def save(path: Path, state: SessionState) -> None:
    write_atomic(path / SESSION_NAME, dumps_pretty(state.to_dict()))


def _read(path: Path) -> tuple[dict[str, Any], SessionState] | None:
    file = Path(path) / SESSION_NAME
    if not file.exists() and not file.is_symlink():
        return None
    data = read_json(file, "ceremony session", limit=MAX_SESSION_BYTES)  # a directory or FIFO is refused here
    return data, parse_session(data, Path(path), str(file))


def read_session(path: Path) -> dict[str, Any] | None:
    """The session in progress in ``path`` as its file says, or None; every field checked (see ``parse_session``).

    Raises:
        InputFileError: session.json exists but is not a ceremony session, or a field is missing,
            of the wrong type, or names something outside the directory (one sentence naming the file).
    """
    read = _read(path)
    return None if read is None else read[0]


def load_session(path: Path) -> SessionState | None:
    """The session in progress in ``path``, typed, or None; every field checked (see ``parse_session``).

    Raises:
        InputFileError: as ``read_session``.
    """
    read = _read(path)
    return None if read is None else read[1]


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
CHANGE_FLOWS = ("rotate", "extend", "delegate", "targets", "trust-root")
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


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object, source: str, what: str, limit: int = MAX_TEXT) -> str:
    """A non-empty string field of at most ``limit`` characters (shown through ``printable``, never raw)."""
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _session_error(source, f"{what} is not a line of text")
    return value


def _optional_text(value: object, source: str, what: str, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else _text(value, source, what, limit)


@dataclass(frozen=True)
class _Header:
    """The fields every session has: which flow, at which step, its title and start time."""

    flow: str
    step: str
    title: str | None
    started: str | None

    @classmethod
    def from_dict(cls, data: object, source: str) -> tuple[dict[str, Any], _Header]:
        if not isinstance(data, dict) or data.get("type") != SESSION_TYPE or data.get("format") != SESSION_FORMAT:
            raise InputFileError(f"{source}: not a ceremony session (format {SESSION_FORMAT})", hint=_SESSION_HINT)
        flow = data.get("flow")
        if not isinstance(flow, str) or (flow != "new-root" and flow not in CHANGE_FLOWS):
            raise _session_error(source, f"unknown flow {printable(flow, 40)!r}")
        step = data.get("step")
        if not isinstance(step, str) or step not in dict(step_titles(flow)):
            raise _session_error(source, f"{printable(step, 40)!r} is not a step of the {flow} flow")
        title = _optional_text(data.get("title"), source, "the title", limit=MAX_TITLE)
        started = _optional_text(data.get("started"), source, "the start time", limit=40)
        return data, cls(flow, step, title, started)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": SESSION_TYPE, "format": SESSION_FORMAT, "flow": self.flow, "step": self.step}
        data.update({k: v for k, v in (("title", self.title), ("started", self.started)) if v is not None})
        return data


def parse_session(data: object, directory: Path, source: str) -> SessionState:
    """A session file's fields as the guided ceremonies read them, typed.

    Args:
        data: the parsed session.json.
        directory: the workspace or draft it is in (request paths resolve inside it).
        source: the file name for messages.

    Raises:
        InputFileError: a field is missing, of the wrong type, or names something this tool never writes.
    """
    if _Header.from_dict(data, source)[1].flow == "new-root":
        return NewRootState.from_dict(data, directory, source)
    return ChangeState.from_dict(data, directory, source)


def check_session(data: object, directory: Path, source: str) -> None:
    """Check a session file's fields as the guided ceremonies read them (``parse_session``, result dropped)."""
    parse_session(data, directory, source)


# --------------------------------------------------------------------------- a change's session


@dataclass
class ChangeState:
    """A change's session: the request it keeps inside the workspace, its id, and whether it was reviewed."""

    flow: str  # one of CHANGE_FLOWS
    step: str
    request: str  # requests/<name>.json, relative to the workspace
    request_id: str
    title: str | None = None
    started: str | None = None
    reviewed: bool = False

    @classmethod
    def from_dict(cls, obj: object, directory: Path, source: str) -> ChangeState:
        """Raises: InputFileError (one sentence naming ``source``)."""
        data, header = _Header.from_dict(obj, source)
        if header.flow not in CHANGE_FLOWS:
            raise _session_error(source, f"flow {printable(header.flow, 40)!r} is not a change")
        request = data.get("request")
        if not isinstance(request, str) or not _REQUEST_NAME.match(request):
            raise _session_error(source, f"'request' is {printable(request, 80)!r}, not {REQUESTS_DIR}/<name>.json")
        base = Path(directory).resolve()
        if not (base / request).resolve().is_relative_to(base / REQUESTS_DIR):
            raise _session_error(source, f"'request' {request!r} leads outside {base / REQUESTS_DIR}")
        request_id = data.get("request_id")
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            raise _session_error(source, "'request_id' is not 16 lowercase hex digits")
        reviewed = data.get("reviewed", False)
        if not isinstance(reviewed, bool):
            raise _session_error(source, "'reviewed' is not true or false")
        return cls(header.flow, header.step, request, request_id, header.title, header.started, reviewed)

    def to_dict(self) -> dict[str, Any]:
        data = _Header(self.flow, self.step, self.title, self.started).to_dict()
        data.update(request=self.request, request_id=self.request_id)
        if self.reviewed:
            data["reviewed"] = True
        return data


# --------------------------------------------------------------------------- a new root ceremony's session


@dataclass(frozen=True)
class Participant:
    """A person at the ceremony and the role they hold in it."""

    name: str
    role: str

    @classmethod
    def from_dict(cls, obj: object, source: str) -> Participant:
        if not isinstance(obj, dict) or obj.get("role") not in PARTICIPANT_ROLES:
            raise _session_error(source, "a participant has no name or no known role")
        return cls(_text(obj.get("name"), source, "a participant's name"), str(obj["role"]))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role}


def _public_key(keyid: str, public: Mapping[str, Any]) -> Key:
    return _keys.public_key_from_metadata(keyid, {k: v for k, v in public.items() if k != "keyid"})


def _check_key_entry(entry: Mapping[str, Any], where: str, token: bool | None, source: str) -> tuple[str, str | None]:
    """A generated or imported key: its keyid, where it is held, and a public key with that keyid.

    ``token``: True for a token key, False for a software key, None when either (or none) may be.
    Returns the keyid and the URI.
    """
    keyid = entry.get("keyid")
    if not isinstance(keyid, str) or not KEYID.match(keyid):
        raise _session_error(source, f"{where}: the key id is not 64 hex digits")
    uri = entry.get("uri")
    if uri is None and token is None:
        pass  # an online key held by the online service
    elif isinstance(uri, str) and uri == f"file:{KEYS_DIR}/{keyid}.p12" and token is not True:
        pass
    elif isinstance(uri, str) and uri.startswith("pkcs11:") and token is not False:
        from ceremony.core import hsm  # PyKCS11 loads for a session with token keys only, not for every home

        try:
            parsed = hsm.Pkcs11Uri.parse(uri)
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
    return keyid, uri


@dataclass(frozen=True)
class PlannedKey:
    """A root key as planned (label root-N, keyholder, backend), with its key once generated."""

    label: str
    holder: str
    backend: str  # "software" or "token"
    key_type: str
    token_label: str | None = None
    token_serial: str | None = None
    keyid: str | None = None  # None until generated
    uri: str | None = None  # file:keys/<keyid>.p12 or a pkcs11: URI, once generated
    public: Mapping[str, Any] | None = None  # the key as root metadata lists it, with its keyid, once generated

    @property
    def generated(self) -> bool:
        return self.keyid is not None

    def made(self) -> tuple[str, str, Mapping[str, Any]]:
        """Key id, URI and public key of a generated key.

        Raises:
            UsageError: the key has not been generated yet.
        """
        if self.keyid is None or self.uri is None or self.public is None:
            raise UsageError(f"{self.label}: the key has not been generated yet")
        return self.keyid, self.uri, self.public

    def key(self) -> Key:
        """The public key (generated keys only)."""
        keyid, _uri, public = self.made()
        return _public_key(keyid, public)

    @classmethod
    def from_dict(cls, obj: object, index: int, holders: set[str], generated: bool, source: str) -> PlannedKey:
        """Planned root key ``index`` (root-N); its key must be there once ``generated``."""
        if not isinstance(obj, dict) or obj.get("label") != f"root-{index}":
            raise _session_error(source, f"planned root key {index} is not labelled root-{index}")
        where = f"root-{index}"
        holder = obj.get("holder")
        if not isinstance(holder, str) or holder not in holders:
            raise _session_error(source, f"{where}: its holder is not one of the keyholders")
        backend, key_type = obj.get("backend"), obj.get("key_type")
        token_label = token_serial = None
        if backend == "software":
            if (
                not isinstance(key_type, str)
                or key_type not in _keys.KEY_TYPES
                or obj.get("token_label")
                or obj.get("token_serial")
            ):
                raise _session_error(source, f"{where}: not a software key type this tool makes")
        elif backend == "token":
            if not isinstance(key_type, str) or key_type not in TOKEN_KEY_TYPE_NAMES:
                raise _session_error(source, f"{where}: not a key type a token makes")
            token_label = _text(obj.get("token_label"), source, f"{where}: the token label", limit=64)
            token_serial = _text(obj.get("token_serial"), source, f"{where}: the token serial", limit=64)
        else:
            raise _session_error(source, f"{where}: unknown backend {printable(backend, 40)!r}")
        planned = cls(where, holder, backend, key_type, token_label, token_serial)
        if obj.get("keyid") is None:
            if generated:
                raise _session_error(source, f"{where} has not been generated, yet the session is past key generation")
            return planned
        keyid, uri = _check_key_entry(obj, where, token=backend == "token", source=source)
        return replace(planned, keyid=keyid, uri=uri, public=copy.deepcopy(obj["public"]))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": self.label,
            "holder": self.holder,
            "backend": self.backend,
            "key_type": self.key_type,
            "token_label": self.token_label,
            "token_serial": self.token_serial,
            "keyid": self.keyid,
        }
        if self.keyid is not None:
            data.update(uri=self.uri, public=copy.deepcopy(dict(self.public or {})))
        return data


@dataclass(frozen=True)
class OnlineKey:
    """The targets, snapshot or timestamp key: made here (a key file) or imported (held by the online service)."""

    label: str
    keyid: str
    key_type: str
    uri: str | None  # None: the online service holds the key
    public: Mapping[str, Any]

    def key(self) -> Key:
        return _public_key(self.keyid, self.public)

    @classmethod
    def from_dict(cls, obj: object, role: str, source: str) -> OnlineKey:
        if not isinstance(obj, dict) or not isinstance(obj.get("label"), str) or not _LABEL.match(obj["label"]):
            raise _session_error(source, f"the {role} key has no valid label")
        keyid, uri = _check_key_entry(obj, f"the {role} key", token=None, source=source)
        return cls(obj["label"], keyid, obj["key_type"], uri, copy.deepcopy(obj["public"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "keyid": self.keyid,
            "key_type": self.key_type,
            "uri": self.uri,
            "public": copy.deepcopy(dict(self.public)),
        }


@dataclass
class NewRootState:
    """A new root ceremony's session: every field its step and the steps before it wrote.

    Empty lists and dicts and None stand for what is not recorded yet (the file then lacks the field).
    """

    step: str
    title: str | None = None
    started: str | None = None
    module: str | None = None  # the PKCS#11 module chosen (None: $PYKCS11LIB or SoftHSM2)
    preflight: dict[str, Any] | None = None
    participants: list[Participant] = field(default_factory=list)
    root_keys: list[PlannedKey] = field(default_factory=list)  # empty until the plan
    threshold: int = 0  # 0 until the plan
    no_spare: bool = False
    expiry_days: dict[str, int] = field(default_factory=dict)
    online: dict[str, OnlineKey] = field(default_factory=dict)
    root: dict[str, Any] | None = None  # root version 1 as metadata JSON, once built at review
    digest: str | None = None  # the digest the keyholders compared, once reviewed
    plan: str | None = None  # SHA-256 of the ceremony plan this ceremony runs (plans/<SHA-256>.toml), if any

    @property
    def flow(self) -> str:
        return "new-root"

    @classmethod
    def from_dict(cls, obj: object, directory: Path, source: str) -> NewRootState:
        """Raises: InputFileError (one sentence naming ``source``)."""
        data, header = _Header.from_dict(obj, source)
        if header.flow != "new-root":
            raise _session_error(source, f"flow {printable(header.flow, 40)!r} is not a new root ceremony")
        steps = [name for name, _title in NEW_ROOT_STEPS]
        at = steps.index(header.step)
        module = data.get("module")
        if module is not None and (not isinstance(module, str) or "\x00" in module):  # the operator's choice
            raise _session_error(source, "'module' is not a file name")
        state = cls(header.step, header.title, header.started, module)
        plan = data.get("plan")
        if plan is not None and not (isinstance(plan, str) and _DIGEST.match(plan)):
            raise _session_error(source, "'plan' is not the SHA-256 of a ceremony plan")
        state.plan = plan
        preflight = data.get("preflight")
        if at > steps.index("preflight") and not isinstance(preflight, dict):
            raise _session_error(source, "the preflight record is missing")
        state.preflight = copy.deepcopy(preflight) if isinstance(preflight, dict) else None
        if at > steps.index("participants") or "participants" in data:
            state.participants = _participants(data.get("participants"), source)
        if at > steps.index("plan"):
            state._plan_from(data, at > steps.index("keygen"), source)
        if at > steps.index("online"):
            state.online = _online(data.get("online"), source)
        review = steps.index("review")
        if ("root" in data or "digest" in data) and at < review:
            raise _session_error(source, "it holds a root version 1 before the keys are all made")
        if "root" in data or at > review:
            state.root = state._draft_root(data.get("root"), source)
        digest = data.get("digest")
        if "digest" in data or at > review:
            if not isinstance(digest, str) or not _DIGEST.match(digest):
                raise _session_error(source, "the reviewed digest is not 64 hex digits")
            state.digest = digest
        return state

    def _plan_from(self, data: dict[str, Any], generated: bool, source: str) -> None:
        """Threshold, expiry policy and the planned root keys (each with its key once ``generated``)."""
        keys = data.get("root_keys")
        if not isinstance(keys, list) or not 1 <= len(keys) <= 100:
            raise _session_error(source, "'root_keys' is not a list of planned keys")
        threshold = data.get("threshold")
        if not _is_int(threshold) or not 1 <= threshold <= len(keys):
            raise _session_error(source, f"the root threshold is not a number from 1 to {len(keys)}")
        no_spare = data.get("no_spare", False)
        if not isinstance(no_spare, bool):
            raise _session_error(source, "'no_spare' is not true or false")
        days = data.get("expiry_days")
        if not isinstance(days, dict) or not all(_is_int(days.get(r)) and 1 <= days[r] <= 36_500 for r in TOP_LEVEL):
            raise _session_error(source, "'expiry_days' does not give every role a number of days")
        holders = {p.name for p in self.participants if p.role == "keyholder"}
        planned: list[PlannedKey] = []
        seen: set[str] = set()
        for index, entry in enumerate(keys, start=1):
            key = PlannedKey.from_dict(entry, index, holders, generated, source)
            if key.keyid is not None:
                if key.keyid in seen:
                    raise _session_error(source, f"{key.label}: the same key is planned twice")
                seen.add(key.keyid)
            planned.append(key)
        self.root_keys, self.threshold, self.no_spare = planned, threshold, no_spare
        self.expiry_days = copy.deepcopy(days)

    def _draft_root(self, value: object, source: str) -> dict[str, Any]:
        """Root version 1 as built at review: root metadata listing exactly the planned keys."""
        if not isinstance(value, dict):
            raise _session_error(source, "root version 1 is missing")
        root = _md.from_dict(value, f"{source} root")
        if _md.role_type(root) != "root" or _md.version(root) != 1:
            raise _session_error(source, "'root' is not root metadata of version 1")
        entries: dict[str, list[PlannedKey] | list[OnlineKey]] = {
            "root": self.root_keys,
            **{role: [self.online[role]] for role in ONLINE_ROLES},
        }
        for role, planned in entries.items():
            keys, threshold = _md.root_role(root, role)
            expected = {k.keyid: k.public for k in planned if k.keyid is not None and k.public is not None}
            if sorted(keys) != sorted(expected) or threshold != (self.threshold if role == "root" else 1):
                raise _session_error(source, f"root version 1 gives role {role} other keys than the plan")
            for keyid, key in keys.items():
                if key.keyval != expected[keyid].get("keyval") or key.scheme != expected[keyid].get("scheme"):
                    raise _session_error(
                        source, f"root version 1 holds another public key than the plan for {keyid[:12]}"
                    )
        return copy.deepcopy(value)

    def to_dict(self) -> dict[str, Any]:
        data = _Header("new-root", self.step, self.title, self.started).to_dict()
        data["module"] = self.module
        if self.plan is not None:
            data["plan"] = self.plan
        if self.preflight is not None:
            data["preflight"] = copy.deepcopy(self.preflight)
        if self.participants:
            data["participants"] = [p.to_dict() for p in self.participants]
        if self.root_keys:
            data.update(
                threshold=self.threshold,
                no_spare=self.no_spare,
                expiry_days=dict(self.expiry_days),
                root_keys=[k.to_dict() for k in self.root_keys],
            )
        if self.online:
            data["online"] = {role: key.to_dict() for role, key in self.online.items()}
        if self.root is not None:
            data["root"] = copy.deepcopy(self.root)
        if self.digest is not None:
            data["digest"] = self.digest
        return data


def _participants(value: object, source: str) -> list[Participant]:
    if not isinstance(value, list) or not value or len(value) > 100:
        raise _session_error(source, "'participants' is not a list of people")
    return [Participant.from_dict(person, source) for person in value]


def _online(value: object, source: str) -> dict[str, OnlineKey]:
    if not isinstance(value, dict) or set(value) != set(ONLINE_ROLES):
        raise _session_error(source, "'online' does not name a key for each of targets, snapshot and timestamp")
    return {role: OnlineKey.from_dict(entry, role, source) for role, entry in value.items()}


#: What a session file holds, typed.
SessionState = NewRootState | ChangeState


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
    state = load_session(path)
    if state is None:
        return None
    titles = dict(step_titles(state.flow))
    return SessionInfo(state.flow, state.step, state.title or state.flow, titles[state.step])


def commit_step(
    path: Path,
    session: SessionState | None,
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
            txn.write(SESSION_NAME, dumps_pretty(session.to_dict()))
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
