"""Guided ceremonies as persisted steps: what the terminal UI walks operators through, and resumes.

Two kinds of session, each kept in ``WS/session.json`` (0600, rewritten
atomically after every step, never holding a secret):

- ``NewRootCeremony``: a new repository made step by step in a draft directory
  (preflight, participants, plan, key generation, online keys, review, signing
  to threshold, verification, backup with a test restore, sign-off). Keys made
  so far are encrypted files in ``keys/`` or keys on tokens; root signatures
  collected so far are public. The draft becomes a workspace only when the
  complete repository verifies: ``ceremony.json`` is written last.
- ``ChangeSession``: a change to a live workspace (rotation, extension,
  delegation) kept as a sign request inside the workspace, signed by the
  keyholders present one after another (or by remote keyholders on copies),
  then merged by ``changes.merge``, which re-derives every requirement.

Every step appends to the workspace transcript, as the CLI's commands do, so
an auditor reads one record whichever client drove the ceremony.

Reading a session trusts nothing in it: ``read_session`` checks every field
the ceremonies later use, with its type (keyids of 64 hex digits, labels of a
fixed form, a request under ``requests/`` inside the workspace), and
``overview`` checks the transcript and the files it accounts for before the
home screen reads them, so a damaged or crafted file is one sentence naming
it. Lines shown to a keyholder are escaped with ``_text.printable``.
"""

from __future__ import annotations

import contextlib
import copy
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, SecretsHandler

from ceremony.core import _txn
from ceremony.core import changes as _changes
from ceremony.core import diff as _diff
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import recovery as _recovery
from ceremony.core import transcript as _transcript
from ceremony.core import verify as _verify
from ceremony.core._fs import make_private_dir, write_atomic
from ceremony.core._json import dumps_pretty, read_bytes, read_json
from ceremony.core._text import printable
from ceremony.core.workspace import (
    CONFIG_NAME,
    DEFAULT_EXPIRY_DAYS,
    KEYS_DIR,
    ROLES,
    KeyRecord,
    PassphraseProvider,
    Status,
    Workspace,
    acquire_key,
    build_online_files,
    complete_draft,
    describe_new_keys,
    initial_config,
    merge_key_records,
    unlock_held_key,
    verify_workspace_transcript,
    workspace_status,
)
from ceremony.errors import (
    BackupError,
    InputFileError,
    PolicyError,
    SigningKeyError,
    ThresholdNotMetError,
    UsageError,
    WorkspaceError,
)

SESSION_NAME = "session.json"
SESSION_TYPE = "ceremony-session"
SESSION_FORMAT = 1
REQUESTS_DIR = "requests"
PARTICIPANT_ROLES = ("administrator", "witness", "keyholder", "auditor")
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
#: Keys a change generates on a token: ECDSA P-256, which every TUF client verifies (docs/interop.md).
TOKEN_KEY_TYPE = "ecdsa-p256"  # noqa: S105 (a key type, not a secret)

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

_OBJECT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")


def step_titles(flow: str) -> tuple[tuple[str, str], ...]:
    """The ordered (step, title) pairs of a flow."""
    return NEW_ROOT_STEPS if flow == "new-root" else CHANGE_STEPS


# --------------------------------------------------------------------------- the session file


def _save(path: Path, data: dict[str, Any]) -> None:
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
_KEYID = re.compile(r"^[0-9a-f]{64}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")
#: What ChangeSession.start writes: requests/<UTC time>-<flow>.json.
_REQUEST_NAME = re.compile(rf"^{REQUESTS_DIR}/[A-Za-z0-9][A-Za-z0-9._-]{{0,127}}\.json$")
#: Key labels this tool writes (root-1, timestamp, targets-online, root-4).
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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
    if not isinstance(data.get("request_id"), str) or not _REQUEST_ID.match(data["request_id"]):
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
    if not isinstance(days, dict) or not all(_is_int(days.get(r)) and 1 <= days[r] <= 36_500 for r in ROLES):
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
    if not isinstance(keyid, str) or not _KEYID.match(keyid):
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


def _describe(request: _changes.SignRequest) -> tuple[list[str], str, str]:
    """A request's diff lines, every one printable, with its digest in hex and as words."""
    lines, digest_hex, words = request.describe()
    return [printable(line) for line in lines], digest_hex, words


def _summary(request: _changes.SignRequest) -> list[str]:
    """A request's own (unsigned) description, each line printable and cut to a line's length."""
    return [printable(line, MAX_TEXT) for line in request.summary]


def _labels(config: object) -> dict[str, str]:
    """keyid -> label of the keys a config lists (a malformed entry falls back to the keyid's start)."""
    keys = config.get("keys") if isinstance(config, dict) else None
    if not isinstance(keys, dict):
        return {}
    return {
        keyid: entry["label"] if isinstance(entry, dict) and isinstance(entry.get("label"), str) else keyid[:12]
        for keyid, entry in keys.items()
    }


def _check_request_matches(request: _changes.SignRequest, request_id: str, source: str) -> _changes.SignRequest:
    """The request a session keeps is the one it made, and can be written back as it was read.

    Raises:
        TamperedRequestError: the file holds another request.
        InputFileError: text in it has no UTF-8 form (a lone surrogate), so it could not be saved.
    """
    if request.id != request_id:
        raise _changes.TamperedRequestError(
            f"{source}: holds request {printable(request.id, 40)}, not {request_id}", source, "id"
        )
    try:
        dumps_pretty(request.raw)
    except UnicodeEncodeError as err:
        raise InputFileError(f"{source}: holds text that cannot be written back (not UTF-8)") from err
    return request


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


def _commit_step(
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


def _record(
    path: Path,
    command: str,
    lines: list[str],
    now: datetime,
    files: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    return _transcript.append(path, command, lines, files or {}, [], now, details)


# --------------------------------------------------------------------------- preflight


@dataclass(frozen=True)
class Check:
    """One preflight check: passed, or failed with what was found."""

    name: str
    passed: bool
    detail: str


def preflight_checks(
    module: str | None,
    net_dir: Path = Path("/sys/class/net"),
    swaps: Path = Path("/proc/swaps"),
) -> list[Check]:
    """What the machine looks like before keys are made: network, swap, tokens.

    An air-gapped host has no interface up besides loopback, and no swap (a
    key or passphrase in memory could be paged to disk). Tokens are listed
    so the administrator can compare labels and serials with the inventory.
    """
    up = []
    if net_dir.is_dir():
        for iface in sorted(net_dir.iterdir()):
            state = iface / "operstate"
            if iface.name == "lo":
                continue
            try:
                if state.is_file() and state.read_text().strip() == "up":
                    up.append(printable(iface.name, 40))
            except OSError:  # a state that cannot be read cannot be shown to be down: the check fails
                up.append(f"{printable(iface.name, 40)} (state unreadable)")
    checks = [
        Check(
            "network",
            not up,
            f"interfaces up: {', '.join(up)}" if up else "no network interface up besides loopback",
        )
    ]
    try:
        swap_lines = swaps.read_text().splitlines()[1:] if swaps.is_file() else []
    except OSError:
        swap_lines = ["(unreadable)"]  # cannot prove swap is off: the check fails
    swap_devices = [printable(line.split()[0], 200) for line in swap_lines if line.strip()]
    checks.append(
        Check("swap", not swap_devices, f"swap on: {', '.join(swap_devices)}" if swap_devices else "swap is off")
    )
    try:
        tokens = [t for t in _hsm.list_tokens(module) if t.initialized]
        detail = (
            "tokens: " + "; ".join(f"'{t.label}' serial {t.serial}" for t in tokens)
            if tokens
            else "no initialised token present (software keys only)"
        )
    except _hsm.HsmError as err:
        detail = f"no PKCS#11 module usable ({err}); software keys only"
    checks.append(Check("tokens", True, detail))
    return checks


# --------------------------------------------------------------------------- the new root ceremony


@dataclass(frozen=True)
class Participant:
    """A person at the ceremony and the role they hold in it."""

    name: str
    role: str


@dataclass(frozen=True)
class KeyPlan:
    """How one root key will be made: its keyholder and backend."""

    holder: str
    backend: str  # "software" or "token"
    key_type: str
    token_label: str | None = None
    token_serial: str | None = None


@dataclass(frozen=True)
class SigningKey:
    """A key that can sign now, as the signing screen lists it."""

    keyid: str
    label: str
    holder: str
    kind: str  # "passphrase" or "PIN"
    note: str = ""


@dataclass(frozen=True)
class Progress:
    """Where a threshold stands, for display."""

    label: str
    signed: list[str]
    threshold: int

    @property
    def met(self) -> bool:
        """Threshold reached."""
        return len(self.signed) >= self.threshold

    def describe(self) -> str:
        """ "root (version 1): 1 of 2 (root-1)"."""
        who = f" ({', '.join(self.signed)})" if self.signed else ""
        return f"{self.label}: {len(self.signed)} of {self.threshold}{who}"


class NewRootCeremony:
    """A new repository's root ceremony in a draft directory; every method records its step.

    Methods must be called in step order; each checks the step's inputs,
    does its work, saves the session and appends to the transcript before
    returning, so quitting after any step loses nothing.
    """

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    # ---- opening

    @classmethod
    def start(cls, path: Path, now: datetime, module: str | None = None) -> NewRootCeremony:
        """Create the draft directory for a new repository.

        Raises:
            WorkspaceError: the directory exists and is not empty, or cannot be made.
        """
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise WorkspaceError(f"{path}: already exists; a new root ceremony needs a new directory")
        if not path.absolute().parent.is_dir():
            raise WorkspaceError(f"{path.absolute().parent}: the parent directory does not exist")
        make_private_dir(path)
        data: dict[str, Any] = {
            "type": SESSION_TYPE,
            "format": SESSION_FORMAT,
            "flow": "new-root",
            "title": "new root ceremony",
            "step": "preflight",
            "started": _verify.format_date(now),
            "module": module,
        }
        ceremony = cls(path, data)
        _save(path, data)
        _record(path, "tui new-root start", [f"new root ceremony started in {path.name}"], now)
        return ceremony

    @classmethod
    def open(cls, path: Path) -> NewRootCeremony:
        """Reopen a draft to resume it.

        Raises:
            WorkspaceError: no new root ceremony is in progress there.
        """
        data = read_session(Path(path))
        if data is None or data.get("flow") != "new-root":
            raise WorkspaceError(f"{path}: no new root ceremony is in progress here")
        return cls(Path(path), data)

    @property
    def step(self) -> str:
        """The step to do next."""
        return str(self.data["step"])

    @property
    def reviewed(self) -> bool:
        """The keyholders compared the words of root version 1 (recorded at the review step)."""
        return self.step != "review" and "digest" in self.data

    @property
    def module(self) -> str | None:
        """The PKCS#11 module chosen for this ceremony (None: $PYKCS11LIB or SoftHSM2)."""
        return self.data.get("module")

    def _advance(
        self,
        step: str,
        now: datetime,
        lines: list[str],
        details: dict[str, Any] | None = None,
        new_files: Mapping[str, bytes] | None = None,
    ) -> str:
        """Save the session at the next step and record the step just done (named by the current one), together."""
        done = self.step
        self.data["step"] = step
        return _commit_step(self.path, self.data, f"tui new-root {done}", lines, now, details, new_files)

    def _require(self, step: str) -> None:
        if self.step != step:
            raise UsageError(f"the ceremony is at step {self.step!r}, not {step!r}")

    # ---- preflight, participants, plan

    def record_preflight(
        self, checks: list[Check], clock_confirmed: bool, exceptions: Mapping[str, str], now: datetime
    ) -> None:
        """Record the preflight; a failed check needs a written exception, the clock a confirmation.

        Raises:
            PolicyError: the clock is not confirmed, or a failed check has no exception.
        """
        self._require("preflight")
        if not clock_confirmed:
            raise PolicyError(
                "the administrator has not confirmed the clock",
                hint="compare it with a trusted clock, then tick the box",
            )
        missing = [c.name for c in checks if not c.passed and not exceptions.get(c.name, "").strip()]
        if missing:
            raise PolicyError(
                f"preflight check(s) failed: {', '.join(missing)}",
                hint="fix the machine, or have the witness write down why the ceremony goes on anyway (an exception)",
            )
        lines = [f"{'ok' if c.passed else 'EXCEPTION'} {c.name}: {c.detail}" for c in checks]
        lines += [f"exception for {name}: {text.strip()}" for name, text in exceptions.items() if text.strip()]
        lines.append(f"clock confirmed by the administrator: {_verify.format_date(now)}")
        self.data["preflight"] = {
            "checks": [c.__dict__ for c in checks],
            "exceptions": {k: v.strip() for k, v in exceptions.items() if v.strip()},
            "clock": _verify.format_date(now),
        }
        self._advance("participants", now, lines)

    def set_participants(self, participants: list[Participant], now: datetime) -> None:
        """Record who is present and in which role.

        Raises:
            PolicyError: no administrator, witness or keyholder; the witness is the administrator.
            UsageError: an empty name, an unknown role, or a name listed twice in one role.
        """
        self._require("participants")
        seen = set()
        for p in participants:
            if not p.name.strip():
                raise UsageError("every participant needs a name")
            if len(p.name.strip()) > MAX_TEXT:
                raise UsageError(f"a participant's name is longer than {MAX_TEXT} characters")
            if p.role not in PARTICIPANT_ROLES:
                raise UsageError(f"{p.name}: unknown role {p.role!r}; choose one of: {', '.join(PARTICIPANT_ROLES)}")
            if (p.name.strip(), p.role) in seen:
                raise UsageError(f"{p.name} is listed twice as {p.role}")
            seen.add((p.name.strip(), p.role))
        by_role = {role: [p.name.strip() for p in participants if p.role == role] for role in PARTICIPANT_ROLES}
        for role in ("administrator", "witness", "keyholder"):
            if not by_role[role]:
                raise PolicyError(f"a root ceremony needs at least one {role}")
        if set(by_role["witness"]) <= set(by_role["administrator"]):
            raise PolicyError("the witness must be someone other than the administrator")
        self.data["participants"] = [{"name": p.name.strip(), "role": p.role} for p in participants]
        self._advance("plan", now, [f"participant {p.name.strip()}: {p.role}" for p in participants])

    def participants(self, role: str | None = None) -> list[str]:
        """Names of the participants (in ``role``)."""
        return [p["name"] for p in self.data.get("participants", []) if role is None or p["role"] == role]

    def set_plan(
        self, keys: list[KeyPlan], threshold: int, root_days: int, now: datetime, no_spare: bool = False
    ) -> None:
        """Record the root keys' keyholders and backends, the threshold and the root's expiry.

        Raises:
            PolicyError: a threshold that locks clients out or leaves no spare key; one keyholder or
                one token for two keys.
            UsageError: a holder who is not a keyholder, an unknown key type or backend.
        """
        self._require("plan")
        _changes._check_threshold("root", threshold, len(keys), no_spare)
        if root_days < 1:
            raise PolicyError(f"root: an expiry of {root_days} days is not in the future")
        keyholders = set(self.participants("keyholder"))
        for index, plan in enumerate(keys, start=1):
            if plan.holder not in keyholders:
                raise UsageError(
                    f"root-{index}: {plan.holder!r} is not one of the keyholders ({', '.join(sorted(keyholders))})"
                )
            if plan.backend == "software" and plan.key_type not in _keys.KEY_TYPES:
                raise UsageError(f"root-{index}: unknown key type {plan.key_type!r}")
            if plan.backend == "token":
                if plan.key_type not in _hsm.TOKEN_KEY_TYPES:
                    raise UsageError(f"root-{index}: key type {plan.key_type!r} cannot be made on a token")
                if not plan.token_serial:
                    raise UsageError(f"root-{index}: pick the token that will hold the key")
            elif plan.backend != "software":
                raise UsageError(f"root-{index}: unknown backend {plan.backend!r}")
        holders = [p.holder for p in keys]
        twice = sorted({h for h in holders if holders.count(h) > 1})
        if twice:
            raise PolicyError(
                f"{', '.join(twice)} would hold more than one root key; each root key needs its own keyholder"
            )
        serials = [p.token_serial for p in keys if p.backend == "token"]
        if len(set(serials)) != len(serials):
            raise PolicyError("two root keys on one token: losing that token would lose both; use one token per key")
        self.data["threshold"] = threshold
        self.data["no_spare"] = no_spare
        self.data["expiry_days"] = {**DEFAULT_EXPIRY_DAYS, "root": root_days}
        self.data["root_keys"] = [
            {"label": f"root-{i}", **p.__dict__, "keyid": None} for i, p in enumerate(keys, start=1)
        ]
        lines = [f"root: {threshold} of {len(keys)} keys, expires after {root_days} days"]
        for entry in self.data["root_keys"]:
            where = (
                f"token '{entry['token_label']}' serial {entry['token_serial']}"
                if entry["backend"] == "token"
                else "software (passphrase)"
            )
            lines.append(f"{entry['label']}: {entry['key_type']} held by {entry['holder']}, {where}")
        self._advance("keygen", now, lines)

    # ---- key generation

    def root_keys(self) -> list[dict[str, Any]]:
        """The planned root keys with what is known so far (keyid once generated)."""
        return list(self.data.get("root_keys", []))

    def next_key_to_generate(self) -> dict[str, Any] | None:
        """The first planned root key not generated yet."""
        return next((k for k in self.root_keys() if not k.get("keyid")), None)

    def _object_label(self, label: str) -> str:
        return _OBJECT_LABEL.sub("-", f"{self.path.name}-{label}")[:64]

    def generate_root_key(self, label: str, secret: str, now: datetime) -> dict[str, Any]:
        """Generate one root key with its keyholder's passphrase (software) or PIN (token).

        The software key is written encrypted to keys/ before this returns; a
        token key is generated non-extractable, read back and test-signed.

        Raises:
            PassphraseError: the passphrase is too short.
            HsmError (and subclasses): the token refused (wrong PIN, missing token, duplicate label).
        """
        self._require("keygen")
        entry = next((k for k in self.data["root_keys"] if k["label"] == label), None)
        if entry is None or entry.get("keyid"):
            raise UsageError(f"{label}: not a root key waiting to be generated")
        if entry["backend"] == "software":
            key = _keys.generate_key(entry["key_type"], secret, label)
            _keys.prove_signing(key.signer)
            rel = f"{KEYS_DIR}/{key.public.keyid}.p12"
            entry.update(keyid=key.public.keyid, uri=f"file:{rel}", public=key.public.to_dict())
            details: dict[str, Any] = {"generated": entry["key_type"]}
            files = {rel: key.encrypted}
            line = f"generated software key {label} {key.public.keyid} for {entry['holder']} (encrypted under their passphrase)"
        else:
            # Built, not formatted: a label holding ";" or "?module-path=" must not add attributes to the URI.
            token_uri = _hsm.Pkcs11Uri(token=entry["token_label"], serial=entry["token_serial"]).to_string()
            token_key = _hsm.generate_key(
                token_uri, self._object_label(label), entry["key_type"], lambda _prompt: secret, self.module
            )
            entry.update(keyid=token_key.public.keyid, uri=token_key.uri, public=token_key.public.to_dict())
            details = token_key.transcript_details()
            files = {}
            line = f"generated token key {label} {token_key.public.keyid} for {entry['holder']} on {token_key.token.describe()}"
        entry["public"]["keyid"] = entry["keyid"]
        done = self.next_key_to_generate() is None
        self.data["step"] = "online" if done else "keygen"
        _commit_step(self.path, self.data, "tui new-root keygen", [line], now, {label: details}, files)
        return entry

    # ---- online keys

    def set_online_keys(self, specs: Mapping[str, str], passphrase_for: PassphraseProvider, now: datetime) -> None:
        """Generate or import the targets, snapshot and timestamp keys.

        Each spec is a key type (a new software key, its passphrase from
        ``passphrase_for(role)``) or a public key file (the online service holds
        the key and signs its own files). Version 1 of the files whose keys are
        made here is signed at verification, so a timestamp is fresh however
        long the ceremony pauses in between.

        Raises:
            UsageError / InputFileError / PassphraseError: a spec cannot be used.
        """
        self._require("online")
        acquired = {}
        with contextlib.ExitStack() as stack:
            for role in ONLINE_ROLES:
                spec = specs.get(role, "")
                if not spec:
                    raise UsageError(f"{role}: choose a key type to generate or a public key file to import")
                label = role if spec in _keys.KEY_TYPES else f"{role}-online"
                acquired[role] = acquire_key(spec, label, role, passphrase_for, None, self.module, stack)
                if acquired[role].signer is not None:
                    _keys.prove_signing(acquired[role].signer)
        written = {}
        online = {}
        for role, key in acquired.items():
            if key.encrypted:
                written[f"{KEYS_DIR}/{key.public.keyid}.p12"] = key.encrypted
            public = key.public.to_dict()
            public["keyid"] = key.public.keyid
            online[role] = {
                "label": key.record.label,
                "keyid": key.public.keyid,
                "key_type": key.record.key_type,
                "uri": key.record.uri,
                "public": public,
            }
        self.data["online"] = online
        records = [KeyRecord(v["keyid"], v["label"], (r,), v["key_type"], v["uri"]) for r, v in online.items()]
        self._advance("review", now, describe_new_keys(records, self._skipped()), new_files=written)

    def _skipped(self) -> list[str]:
        """Online roles whose files the online service signs: an imported key, and every role after it."""
        online = self.data.get("online", {})
        held_elsewhere = [role for role in ONLINE_ROLES if not (online.get(role) or {}).get("uri")]
        return list(ONLINE_ROLES[ONLINE_ROLES.index(held_elsewhere[0]) :]) if held_elsewhere else []

    @property
    def needs_online_secret(self) -> bool:
        """Verification signs version 1 of files whose keys were generated here: it needs their passphrase."""
        return len(self._skipped()) < len(ONLINE_ROLES)

    # ---- review and signing

    def _public(self, entry: Mapping[str, Any]) -> Key:
        return _keys.public_key_from_metadata(
            entry["keyid"], {k: v for k, v in entry["public"].items() if k != "keyid"}
        )

    def _plans(self, now: datetime) -> dict[str, _md.RolePlan]:
        """Keys, thresholds and expiry of every role: root's as signed, the online roles' from ``now``."""
        root = self.data["root"]["signed"]
        plans = {}
        for role in ROLES:
            role_obj = root["roles"][role]
            keys = tuple(_keys.public_key_from_metadata(k, root["keys"][k]) for k in role_obj["keyids"])
            expires = (
                _verify.parse_at(root["expires"])
                if role == "root"
                else now.astimezone(UTC).replace(microsecond=0) + timedelta(days=self.data["expiry_days"][role])
            )
            plans[role] = _md.RolePlan(keys, role_obj["threshold"], expires)
        return plans

    def _root(self) -> Any:
        return _md.from_dict(self.data["root"], f"{self.path / SESSION_NAME} root")

    def build_root(self, now: datetime) -> tuple[list[str], str, str]:
        """Build root version 1 (once) and describe it: diff lines, digest hex and words to read aloud.

        Later calls return the same root: what the keyholders compared is what they sign.
        """
        if self.step not in ("review", "sign"):
            self._require("review")
        if "root" not in self.data:
            base = now.astimezone(UTC).replace(microsecond=0)
            days = self.data["expiry_days"]
            plans = {
                "root": _md.RolePlan(
                    tuple(self._public(k) for k in self.data["root_keys"]),
                    self.data["threshold"],
                    base + timedelta(days=days["root"]),
                )
            }
            for role in ONLINE_ROLES:
                key = self._public(self.data["online"][role])
                plans[role] = _md.RolePlan((key,), 1, base + timedelta(days=days[role]))
            for role, plan in plans.items():
                _md.check_role_plan(role, plan, now)
            self.data["root"] = _md.to_dict(_md.build_root(plans))
            _save(self.path, self.data)
        root = self._root()
        holders = {k["keyid"]: k["holder"] for k in self.data["root_keys"]}
        lines = [
            f"new repository, root version 1: {self.data['threshold']} of {len(self.data['root_keys'])} root keys",
            *[f"{k['label']} {k['keyid'][:12]} held by {holders[k['keyid']]}" for k in self.data["root_keys"]],
            *_diff.describe_change("1.root.json", None, _md.signed_dict(root)),
        ]
        digest = _diff.payload_digest({"root": _md.signed_bytes(root)})
        return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)

    def unsigned_summary(self) -> list[str]:
        """Nothing: every line shown for a new root is computed from what is signed."""
        return []

    def confirm_review(self, now: datetime) -> None:
        """The keyholders compared the words read aloud: record the digest and move on to signing."""
        self._require("review")
        _lines, digest_hex, words = self.build_root(now)
        self.data["digest"] = digest_hex
        self._advance("sign", now, [f"reviewed root version 1; digest {digest_hex}", f"words read aloud: {words}"])

    def progress(self) -> list[Progress]:
        """Root signatures so far against the threshold."""
        root = self._root()
        signed = set(_md.signatures(root))
        labels = [k["label"] for k in self.data["root_keys"] if k["keyid"] in signed]
        return [Progress("root (version 1)", labels, self.data["threshold"])]

    def signing_keys(self) -> list[SigningKey]:
        """Root keys that have not signed yet."""
        signed = set(_md.signatures(self._root())) if "root" in self.data else set()
        return [
            SigningKey(k["keyid"], k["label"], k["holder"], "PIN" if k["backend"] == "token" else "passphrase")
            for k in self.data.get("root_keys", [])
            if k.get("keyid") and k["keyid"] not in signed
        ]

    def sign(self, keyid: str, secret: str, now: datetime) -> list[Progress]:
        """One keyholder signs root version 1 with their key; the signature is verified before it is kept.

        Raises:
            PassphraseError / HsmError / SigningKeyError: unlocking or signing failed.
        """
        self._require("sign")
        entry = next((k for k in self.data["root_keys"] if k["keyid"] == keyid), None)
        if entry is None:
            raise UsageError(f"{keyid[:12]}: not a root key of this ceremony")
        root = self._root()
        public = self._public(entry)
        with contextlib.ExitStack() as stack:
            signer = unlock_held_key(
                self.path,
                entry["uri"],
                public,
                entry["label"],
                lambda _l: secret,
                lambda _p: secret,
                self.module,
                stack,
            )
            _md.add_signature(root, keyid, _changes._sign_as(signer, public, _md.signed_bytes(root)))
        self.data["root"] = _md.to_dict(root)
        _save(self.path, self.data)
        progress = self.progress()
        _record(
            self.path,
            "tui new-root sign",
            [f"{entry['label']} ({entry['holder']}) signed root version 1; {progress[0].describe()}"],
            now,
        )
        return progress

    def finish_signing(self, now: datetime) -> None:
        """Move on to verification once the threshold is met.

        Raises:
            ThresholdNotMetError: too few signatures.
        """
        self._require("sign")
        progress = self.progress()[0]
        if not progress.met:
            raise ThresholdNotMetError(f"{progress.describe()}: more keyholders must sign before verification")
        self._advance("verify", now, [f"signing complete: {progress.describe()}"])

    # ---- verification and publishing

    def complete(self, now: datetime, online_secret: str = "") -> tuple[Workspace, list[str]]:
        """Sign version 1 of the online files made here, verify everything as a client would, write the workspace.

        ``online_secret`` unlocks the online keys generated in this ceremony
        (see ``needs_online_secret``); their files get their expiry from now.

        Raises:
            PassphraseError: the online keys' passphrase is wrong.
            VerificationError: the repository does not verify (nothing is written).
        """
        self._require("verify")
        plans = self._plans(now)
        skipped = self._skipped()
        signers: dict[str, list[Any]] = {role: [] for role in ROLES}
        stack = contextlib.ExitStack()
        for role in ONLINE_ROLES:
            entry = self.data["online"][role]
            if role not in skipped:
                signers[role].append(
                    unlock_held_key(
                        self.path,
                        entry["uri"],
                        self._public(entry),
                        entry["label"],
                        lambda _l: online_secret,
                        lambda _p: online_secret,
                        self.module,
                        stack,
                    )
                )
        root_bytes = _md.to_bytes(self._root())
        files = {"1.root.json": root_bytes, "root.json": root_bytes}
        with stack:
            files.update(build_online_files(plans, signers, skipped))
        report = _verify.verify_files(files, root_bytes, now, "1.root.json")
        records = merge_key_records(
            [
                ("root", KeyRecord(k["keyid"], k["label"], ("root",), k["key_type"], k["uri"]))
                for k in self.data["root_keys"]
            ]
            + [
                (r, KeyRecord(v["keyid"], v["label"], (r,), v["key_type"], v["uri"]))
                for r, v in self.data["online"].items()
            ]
        )
        config = initial_config(plans, self.data["expiry_days"], records, self.module)
        lines = [
            f"created repository version 1: root {self.data['threshold']}-of-{len(self.data['root_keys'])} (guided ceremony)",
            *[f"signed {name} (version 1)" for name in files if not name.endswith("root.json")],
            *[f"{role}.json left to the online service that holds its key" for role in skipped],
        ]
        details = {"participants": self.data["participants"], "digest": self.data.get("digest")}
        ws, _written, _head = complete_draft(self.path, files, config, "tui new-root verify", lines, details, now)
        summary = [f"ok {c.file} {c.role} v{c.version} {c.signatures}" for c in report.checks]
        self.data["step"] = "backup"
        _save(self.path, self.data)
        return ws, summary

    def backup(self, out: Path, now: datetime) -> list[str]:
        """Export the root as files, QR codes and printable sheets, then restore it from the PDFs and compare.

        Raises:
            BackupError / VerificationError / UsageError: export or the test restore failed.
        """
        self._require("backup")
        ws = Workspace.load(self.path)
        lines = backup_with_test_restore(ws, out, now)
        self._advance("signoff", now, lines)
        return lines

    def sign_off(self, names: list[str], now: datetime) -> str:
        """Every participant confirms the record; the session ends. Returns the transcript head.

        Raises:
            PolicyError: a participant has not signed off.
        """
        self._require("signoff")
        missing = [n for n in dict.fromkeys(self.participants()) if n not in names]
        if missing:
            raise PolicyError(f"not signed off yet: {', '.join(missing)}")
        signed_off = [f"signed off by {n}" for n in dict.fromkeys(self.participants())]
        return _commit_step(self.path, None, "tui new-root signoff", signed_off, now)


def backup_with_test_restore(ws: Workspace, out: Path, now: datetime) -> list[str]:
    """Export every root version, then prove the printable sheets restore byte for byte.

    The test restore reads the PDFs (the pages that will be printed) into a
    temporary directory and compares every file with the workspace's copy; a
    transcript entry records the result.

    Raises:
        BackupError: the PDFs do not restore, or restore something else.
    """
    result = _recovery.export_workspace(ws, Path(out), "all", now=now)
    pdfs = [Path(out) / f for b in result.backups for f in b.files if f.endswith("-a4.pdf")]
    with tempfile.TemporaryDirectory(prefix="ceremony-test-restore-") as tmp:
        restored = _recovery.restore_to(pdfs, Path(tmp) / "restored")
    lines = [f"exported {b.name} as set {b.set_id} ({b.parts} QR parts) to {Path(out).name}" for b in result.backups]
    for item in restored.restored:
        try:
            original = read_bytes(ws.metadata_dir / item.name, "metadata file")
        except InputFileError as err:
            raise BackupError(f"test restore of {printable(item.name, 80)}: {err}") from err
        if original != item.data:
            raise BackupError(f"test restore of {item.name} from {Path(out)} gave different bytes than the workspace")
        lines.append(f"test restore of {item.name} from the printable PDFs: byte-identical")
    if len(restored.restored) != len(result.backups):
        raise BackupError(f"test restore from {Path(out)} gave {len(restored.restored)} of {len(result.backups)} files")
    lines.append(restored.chain)
    _record(ws.path, "tui backup test-restore", lines[len(result.backups) :], now)
    return lines


# --------------------------------------------------------------------------- changes to a live workspace


#: Builds a change from a context: one of changes.plan_rotation / plan_extension / plan_delegation.
Planner = Callable[[_changes.ChangeContext], tuple[_changes.State, _changes.Proposal]]


class ChangeSession:
    """A change to a live workspace, kept as a sign request in it until every threshold is met."""

    def __init__(self, ws: Workspace, data: dict[str, Any]) -> None:
        self.ws = ws
        self.data = data
        self._request: _changes.SignRequest | None = None
        self._pending_record: dict[str, Any] | None = None

    @classmethod
    def start(
        cls,
        ws: Workspace,
        flow: str,
        title: str,
        plan: Planner,
        passphrase_for: PassphraseProvider,
        pin_for: SecretsHandler | None,
        now: datetime,
    ) -> ChangeSession:
        """Plan the change (keys it adds are made here and sign at once) and keep it as a request.

        Raises:
            WorkspaceError: another guided change is in progress in this workspace.
            CeremonyError subclasses from the planner (policy, keys, tokens).
        """
        if read_session(ws.path) is not None:
            raise WorkspaceError(f"{ws.path}: another guided ceremony is in progress here; resume or discard it first")
        with contextlib.ExitStack() as stack:
            ctx = _changes.ChangeContext(ws, passphrase_for, pin_for, stack, now)
            state, proposal = plan(ctx)
            make_private_dir(ws.path / REQUESTS_DIR)
            out = ws.path / REQUESTS_DIR / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{flow}.json"
            request_id, _head = _changes.write_request(ctx, state, proposal, out)
        data = {
            "type": SESSION_TYPE,
            "format": SESSION_FORMAT,
            "flow": flow,
            "title": title[:MAX_TITLE],
            "step": "sign",
            "started": _verify.format_date(now),
            "request": str(out.relative_to(ws.path)),
            "request_id": request_id,
        }
        _save(ws.path, data)
        return cls(ws, data)

    @classmethod
    def open(cls, ws: Workspace) -> ChangeSession:
        """Reopen a change in progress.

        Raises:
            WorkspaceError: none is in progress.
        """
        data = read_session(ws.path)
        if data is None or data.get("flow") == "new-root":
            raise WorkspaceError(f"{ws.path}: no guided change is in progress here")
        return cls(ws, data)

    @property
    def step(self) -> str:
        """The step to do next."""
        return str(self.data["step"])

    @property
    def reviewed(self) -> bool:
        """Keyholders compared the request's words before its first signature here."""
        return bool(self.data.get("reviewed"))

    @property
    def request_path(self) -> Path:
        """The request kept in the workspace (keyholders elsewhere sign copies of it)."""
        return self.ws.path / self.data["request"]

    def request(self) -> _changes.SignRequest:
        """The request as this session last saved it, read and checked (digest, every signature, its id) once.

        Raises:
            InputFileError / TamperedRequestError: the request file is malformed, changed, or another request.
        """
        if self._request is None:
            path = self.request_path
            self._request = _check_request_matches(_changes.load_request(path), self.data["request_id"], str(path))
        return self._request

    def _save_request(self, request: _changes.SignRequest) -> None:
        _changes.save_request(request)
        self._request = request

    def build_root(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed: diff lines (printable), digest hex and words."""
        return _describe(self.request())

    def unsigned_summary(self) -> list[str]:
        """The request's own description of the change: not signed, not covered by the words; printable."""
        return _summary(self.request())

    def progress(self) -> list[Progress]:
        """Every threshold of the change, with the labels of the keys that signed."""
        labels = _labels(self.ws.config)
        labels.update(_labels(self._pending().get("config")))
        return [
            Progress(s.label, [labels.get(k, k[:12]) for k in s.signed], s.threshold) for s in self.request().statuses()
        ]

    def _pending(self) -> dict[str, Any]:
        """The workspace's record of the change (what publishing writes), with the fields read here checked.

        Raises:
            WorkspaceError: the workspace has no record of the request.
            InputFileError: the record is malformed.
        """
        if self._pending_record is None:
            record = _changes._load_pending(self.ws, self.data["request_id"])
            source = f"{self.ws.path / _changes.PENDING_DIR / self.data['request_id']}.json"
            if not isinstance(record, dict) or record.get("request_id") != self.data["request_id"]:
                raise InputFileError(f"{source}: not the pending record of request {self.data['request_id']}")
            config, revoked = record.get("config"), record.get("revoked", [])
            if not isinstance(config, dict) or not isinstance(config.get("keys", {}), dict):
                raise InputFileError(f"{source}: the config the change writes is not an object")
            if not isinstance(revoked, list) or not all(isinstance(k, str) for k in revoked):
                raise InputFileError(f"{source}: 'revoked' is not a list of key ids")
            self._pending_record = record
        return self._pending_record

    def signing_keys(self) -> list[SigningKey]:
        """Keys held here that the request still needs (keys being revoked are marked)."""
        revoked = set(self._pending().get("revoked", []))
        missing = {k for s in self.request().statuses() if not s.met for k in s.missing}
        result = []
        for record in self.ws.key_records():
            if record.keyid in missing and record.uri:
                note = (
                    "being revoked: sign only if the others cannot reach the old threshold"
                    if record.keyid in revoked
                    else ""
                )
                kind = "PIN" if record.uri.startswith("pkcs11:") else "passphrase"
                result.append(SigningKey(record.keyid, record.label, "", kind, note))
        return result

    def sign(self, keyid: str, secret: str, now: datetime) -> list[Progress]:
        """A keyholder present signs the request with their key; each signature is verified before it is kept.

        Raises:
            PassphraseError / HsmError / SigningKeyError: unlocking or signing failed.
        """
        record = next((r for r in self.ws.key_records() if r.keyid == keyid), None)
        if record is None or not record.uri:
            raise UsageError(f"{printable(keyid[:12])}: not a key held in this workspace")
        request = self.request()
        if record.uri.startswith("file:"):
            # Only this key's own file in keys/: a reference elsewhere (../, an absolute path) is refused.
            if record.uri != f"file:{KEYS_DIR}/{record.keyid}.p12" or not _KEYID.match(record.keyid):
                raise SigningKeyError(f"key {record.label}: {printable(record.uri, 120)!r} is not a key file in keys/")
            spec = str(self.ws.path / KEYS_DIR / f"{record.keyid}.p12")
        else:
            spec = record.uri
        with contextlib.ExitStack() as stack:
            roles = _changes.sign_request(
                request, spec, lambda _n: secret, lambda _p: secret, stack, module=self.ws.config.get("pkcs11_module")
            )
        self._save_request(request)
        if not self.reviewed:
            self.data["reviewed"] = True
            _save(self.ws.path, self.data)
        progress = self.progress()
        _record(
            self.ws.path,
            f"tui {self.data['flow']} sign",
            [
                f"{record.label} signed {', '.join(roles)} of request {self.data['request_id']}",
                *[p.describe() for p in progress],
            ],
            now,
            details={"digest": request.digest().hex()},
        )
        return progress

    def add_signed_copy(self, copy: Path, now: datetime) -> list[Progress]:
        """Take the signatures from a copy of the request signed elsewhere (each one verified on load).

        Raises:
            UsageError: the copy belongs to another request.
            TamperedRequestError: the copy's content or a signature does not check out.
        """
        request = self.request()
        other = _changes.load_request(Path(copy))
        if other.id != request.id or other.digest() != request.digest():
            raise UsageError(f"{copy}: a copy of another sign request ({other.id}), not {request.id}")
        added = request.take_signatures(other)
        self._save_request(request)
        progress = self.progress()
        _record(
            self.ws.path,
            f"tui {self.data['flow']} add-copy",
            [f"took {added} signature(s) from {Path(copy).name}", *[p.describe() for p in progress]],
            now,
        )
        return progress

    def publish(self, now: datetime) -> _changes.PublishResult:
        """Merge the request (every requirement re-derived and checked) and end the session.

        Raises:
            ThresholdNotMetError: a threshold is not met yet (nothing written).
        """
        with contextlib.ExitStack() as stack:
            ctx = _changes.ChangeContext(self.ws, lambda _n: "", None, stack, now)
            # The session ends in the same transaction as the change it published.
            result, _statuses = _changes.merge(ctx, [self.request_path], lambda txn: txn.remove(SESSION_NAME))
        if result is None:
            raise ThresholdNotMetError(f"request {self.data['request_id']}: not every threshold is met yet")
        return result

    def discard(self, now: datetime) -> None:
        """Give up the change: nothing was published; the request file stays for the record."""
        _commit_step(
            self.ws.path,
            None,
            f"tui {self.data['flow']} discard",
            [f"discarded request {self.data['request_id']} unpublished"],
            now,
        )


@dataclass(frozen=True)
class NewKey:
    """A key a change adds: how to acquire it, and the secret that protects it."""

    spec: str  # key type, pkcs11: URI or public key file, as changes.plan_* take it
    secret: str = field(default="", repr=False)  # never in a repr, a log or an assertion message

    def passphrase_for(self, _label: str) -> str:
        """The new software key's passphrase."""
        return self.secret

    def pin_for(self, _prompt: str) -> str:
        """The token's PIN."""
        return self.secret


def new_key(ws: Workspace, source: str, secret: str, role: str, now: datetime, public_file: str = "") -> NewKey:
    """Turn a choice made on screen into a key a change can add.

    ``source`` is a key type (a new software key under ``secret``), ``import``
    (a public key file of a key held elsewhere) or ``token:<serial>`` (a new
    non-extractable key generated now on that token, behind PIN ``secret``).

    Raises:
        UsageError: no public key file given; an unknown source.
        HsmError (and subclasses): the token refused.
    """
    if source in _keys.KEY_TYPES:
        _keys.check_passphrase(secret, f"the new {role} key")
        return NewKey(source, secret)
    if source == "import":
        if not public_file.strip():
            raise UsageError(f"{role}: type the path of the public key file to import")
        return NewKey(public_file.strip())
    if source.startswith("token:"):
        module = ws.config.get("pkcs11_module")
        serial = source.removeprefix("token:")
        token = _hsm.find_token(_hsm.Pkcs11Uri(serial=serial), _hsm.resolve_module(config=module))
        label = _OBJECT_LABEL.sub("-", f"{ws.path.name}-{role}-{now.strftime('%Y%m%d%H%M%S')}")[:64]
        # Built, not formatted: a token label holding ";" or "?module-path=" must not add attributes.
        uri = _hsm.Pkcs11Uri(token=token.label, serial=token.serial).to_string()
        key = _hsm.generate_key(uri, label, TOKEN_KEY_TYPE, lambda _p: secret, module)
        return NewKey(key.uri, secret)
    raise UsageError(f"unknown key source {source!r}")


class OfflineSigning:
    """A keyholder signing a request file with their own key, away from the workspace."""

    step = "sign"

    def __init__(self, path: Path, out: Path | None = None) -> None:
        self.path = Path(path)
        self.out = Path(out) if out else self.path
        self.saved = False

    def _current(self) -> Path:
        return self.out if self.saved else self.path

    def request(self) -> _changes.SignRequest:
        """The request (with the signatures made so far), checked again as it is read.

        Raises:
            InputFileError / TamperedRequestError: the request is malformed or was changed.
        """
        path = self._current()
        request = _changes.load_request(path)
        return _check_request_matches(request, request.id, str(path))

    def build_root(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed: diff lines (printable), digest hex and words."""
        return _describe(self.request())

    def unsigned_summary(self) -> list[str]:
        """The request's own description of the change: not signed, not covered by the words; printable."""
        return _summary(self.request())

    def progress(self) -> list[Progress]:
        """Every threshold of the request."""
        return [Progress(s.label, [k[:12] for k in s.signed], s.threshold) for s in self.request().statuses()]

    def signing_keys(self) -> list[SigningKey]:
        """None listed: the keyholder names their own key file or token URI."""
        return []

    def sign(self, keyspec: str, secret: str, now: datetime) -> list[Progress]:
        """Sign with the keyholder's key (software file or pkcs11: URI), verify, and save the request.

        Raises:
            SigningKeyError: the key is not needed by this request, or signed already.
            PassphraseError / HsmError: unlocking failed.
        """
        request = self.request()
        with contextlib.ExitStack() as stack:
            _changes.sign_request(request, keyspec, lambda _n: secret, lambda _p: secret, stack)
        _changes.save_request(request, self.out)
        self.saved = True
        return self.progress()


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


__all__ = [
    "CHANGE_STEPS",
    "NEW_ROOT_STEPS",
    "ChangeSession",
    "Check",
    "KeyPlan",
    "NewKey",
    "NewRootCeremony",
    "OfflineSigning",
    "Overview",
    "Participant",
    "Progress",
    "SessionInfo",
    "SigningKey",
    "backup_with_test_restore",
    "check_session",
    "is_draft",
    "new_key",
    "overview",
    "preflight_checks",
    "read_session",
    "session_info",
    "step_titles",
]
