"""The ceremony plan: one reviewed file that says what a ceremony will do, checked before the day.

A plan (TOML, ``docs/plans.md``) names the ceremony and its kind, the people and their roles, the keys (type,
software or token and which token, who holds them), thresholds and expiries. Reviewers read one file instead of
many typed commands (ceremony-practice.md, item 1); ``check_plan`` holds it to every policy rule that can be
checked without a key, and ``script_steps`` turns it into the printed script the administrator reads from and
the witness initials (``_paper.ceremony_script``). A command run with ``--plan`` takes its options from the
plan and records the plan's SHA-256 and the step it ran (``PlanRun.details``) in the transcript.

A plan comes from elsewhere: its size is bounded, every field is checked for type and range, names that become
parts of KEYSPECs or file names are validated, and text from it is shown through ``printable``. Nothing in a plan
chooses a library or a path outside the plan's own directory (a public key file it names must be beside it).

What it does not do: make keys, sign, or change a workspace (the commands it configures do, through the same
core as without a plan).
"""

from __future__ import annotations

import hashlib
import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ceremony.core import choices
from ceremony.core import policy as _policy
from ceremony.core import roles as _roles
from ceremony.core._text import plural, printable
from ceremony.errors import CeremonyError, PlanError

#: A plan is a page or two of TOML; 256 KiB bounds a hostile one.
MAX_PLAN_BYTES = 256 * 1024
MAX_PARTICIPANTS = 64
MAX_KEYS = 64
#: A clock more than an hour off is not "checked": certificates and expiries would be off by that much.
MAX_CLOCK_TOLERANCE_MINUTES = 60
PLAN_FORMAT = 1
#: What a plan may ask for, and the command that carries it out.
KINDS = {
    "new-root": "init",
    "dct-new-root": "init",
    "rotate": "rotate",
    "extend": "extend",
    "delegate": "delegate",
}
PARTICIPANT_ROLES = _roles.PARTICIPANT_ROLES
STORES = ("software", "token", "elsewhere")
PROFILES = ("tuf", "sigstore", "notary")
#: Names of people and keys: letters, digits, spaces and . _ - ' (a name is printed, and a key's name becomes a
#: token object label).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._'-]{0,63}$")
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SERIAL = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_PUBLIC_KEY_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Participant:
    """One person in the ceremony, as the plan names them."""

    name: str
    role: str
    keys: tuple[str, ...] = ()  # the plan keys a keyholder holds
    signoff_keyid: str | None = None  # the key they will sign the transcript head with, when named


@dataclass(frozen=True)
class PlanKey:
    """One key the ceremony makes or uses."""

    name: str
    roles: tuple[str, ...]
    store: str  # software, token or elsewhere
    key_type: str
    token_serial: str | None = None  # store = token: generate on the token with this serial
    uri: str | None = None  # store = token: an existing key on a token (pkcs11: URI)
    public_key: str | None = None  # store = elsewhere: a public key file beside the plan
    public_key_sha256: str | None = None  # ... and its SHA-256, so the plan's hash covers the key too
    holder: str | None = None

    def keyspec(self, plan_dir: Path) -> str:
        """The KEYSPEC the commands take for this key (signers.KeySpec's grammar)."""
        if self.store == "software":
            return self.key_type
        if self.store == "token":
            return self.uri or f"token:{self.token_serial}"
        # Absolute: a file named like a key type ("ed25519") must never read as "generate one here".
        return str((plan_dir / str(self.public_key)).absolute())

    def describe(self) -> str:
        """How the key is had, in words, for the script."""
        if self.store == "software":
            return f"new {self.key_type} software key, encrypted under a passphrase"
        if self.store == "token":
            where = f"token serial {self.token_serial}" if self.token_serial else f"the token key {self.uri}"
            return f"{self.key_type} key on {where} (generated there, never extractable)"
        return f"public key file {self.public_key} (the private key is held elsewhere)"


@dataclass(frozen=True)
class Step:
    """One step of the printed script: what is done, what is typed, what the screen should show."""

    id: str
    title: str
    who: str
    does: str
    types: tuple[str, ...] = ()
    shows: tuple[str, ...] = ()
    command: str | None = None  # the ceremony command this step runs with --plan (recorded in the transcript)


@dataclass(frozen=True)
class Plan:
    """A ceremony plan as read and checked (``load_plan``)."""

    source: str
    sha256: str
    name: str
    kind: str
    profile: str
    planned_date: date | None
    workspace: str
    participants: tuple[Participant, ...]
    keys: tuple[PlanKey, ...]
    thresholds: Mapping[str, int]
    expiry_days: Mapping[str, int]
    change: Mapping[str, Any] = field(default_factory=dict)  # [rotate], [extend], [delegate] or [dct]
    preflight: Mapping[str, Any] = field(default_factory=dict)
    directory: Path = Path()

    def people(self, role: str) -> list[Participant]:
        """The participants with ``role``."""
        return [p for p in self.participants if p.role == role]

    def key(self, name: str) -> PlanKey:
        """The plan key named ``name`` (check_plan made sure every name used exists)."""
        return next(k for k in self.keys if k.name == name)

    def holder_of(self, key: PlanKey) -> Participant | None:
        """The keyholder who holds ``key``, if the plan says."""
        return next((p for p in self.participants if key.name in p.keys), None)

    def root_keys(self) -> list[PlanKey]:
        """The keys of the root role, in plan order (root-1, root-2, ... in the new workspace)."""
        return [k for k in self.keys if "root" in k.roles]

    def expected_tokens(self) -> list[str]:
        """Serials of the tokens the ceremony needs present (preflight compares them with the tokens found)."""
        serials = [k.token_serial for k in self.keys if k.token_serial]
        for key in self.keys:
            if key.uri:
                found = re.search(r"(?:^|[:;])serial=([^;?]+)", key.uri)
                if found:
                    serials.append(found[1])
        return sorted(set(serials))


@dataclass(frozen=True)
class PlanRun:
    """A command running a step of a plan: what it records in the transcript, and the plan file it keeps."""

    plan: Plan
    data: bytes
    step: str
    #: The preflight checks run just before, as (name, passed, detail), and the exception for each that failed.
    preflight: tuple[tuple[str, bool, str], ...] = ()
    exceptions: Mapping[str, str] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        """``details["plan"]`` of the transcript entry: which plan, which step, and the preflight it passed."""
        out: dict[str, Any] = {
            "sha256": self.plan.sha256,
            "name": self.plan.name,
            "kind": self.plan.kind,
            "step": self.step,
        }
        if self.preflight:
            out["preflight"] = [{"check": n, "passed": ok, "detail": d} for n, ok, d in self.preflight]
        if self.exceptions:
            out["exceptions"] = dict(self.exceptions)
        return out

    def files(self) -> dict[str, bytes]:
        """The plan as the workspace keeps it: plans/<SHA-256>.toml."""
        return {f"{self.plan.sha256}.toml": self.data}

    def stage(self, workspace: Path, txn: Any) -> dict[str, str]:
        """Stage the plan in ``txn`` (a ``_txn.Transaction``) unless the workspace already keeps it; return the
        files staged (name -> SHA-256) for the transcript line, which carries ``details()`` too.

        Raises:
            PlanError: plans/<SHA-256>.toml is there with other bytes (changed outside the tool).
        """
        from ceremony.core._json import read_bytes  # bounded, no link followed: a workspace file is read as any

        rel = f"{_roles.PLANS_DIR}/{self.plan.sha256}.toml"
        kept = Path(workspace) / rel
        if kept.exists() or kept.is_symlink():
            try:
                data = read_bytes(kept, "kept plan", MAX_PLAN_BYTES, follow_symlinks=False)
            except CeremonyError as err:
                raise PlanError(f"{kept}: the kept plan cannot be read ({err})") from err
            if hashlib.sha256(data).hexdigest() != self.plan.sha256:
                raise PlanError(f"{kept}: differs from the plan its name is the SHA-256 of (changed outside the tool)")
            return {}
        return {rel: txn.write(rel, self.data)}


def _fail(source: str, message: str) -> PlanError:
    return PlanError(f"{source}: {message}")


def _table(obj: Mapping[str, Any], key: str, source: str, required: bool = False) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        if required:
            raise _fail(source, f"has no [{key}] table")
        return {}
    if not isinstance(value, dict):
        raise _fail(source, f"[{key}] must be a table")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str, required: bool = True, limit: int = 200) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise PlanError(f"{where} has no {key!r}")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise PlanError(f"{where}: {key!r} must be text of 1 to {limit} characters")
    if printable(value, limit) != value:
        raise PlanError(f"{where}: {key!r} holds control characters")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str, minimum: int = 1) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > 100_000:
        raise PlanError(f"{where}: {key!r} must be a whole number from {minimum} to 100000")
    return value


def _names(value: object, where: str, pattern: re.Pattern[str] = _KEY_NAME) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and pattern.match(v) for v in value):
        raise PlanError(f"{where} must be a list of names (letters, digits, . _ -)")
    if len(set(value)) != len(value):
        raise PlanError(f"{where} names the same one twice")
    return tuple(value)


def _unknown(obj: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """A misspelt field is an error, not a default silently taken ("treshold" would mean 1)."""
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise PlanError(f"{where}: unknown field {printable(extra[0], 60)!r} (known: {', '.join(allowed)})")


def _participant(index: int, obj: object, source: str) -> Participant:
    where = f"{source}: participant {index}"
    if not isinstance(obj, dict):
        raise PlanError(f"{where} is not a table")
    _unknown(obj, ("name", "role", "keys", "signoff_keyid"), where)
    name = _str(obj, "name", where, limit=64)
    assert name is not None  # noqa: S101 - required above
    if not _NAME.match(name):
        raise PlanError(f"{where}: name {printable(name, 64)!r} may hold only letters, digits, spaces and . _ - '")
    where = f"{source}: participant {name!r}"
    role = obj.get("role")
    if role not in PARTICIPANT_ROLES:
        raise PlanError(f"{where}: role {printable(role, 40)!r} is not one of {', '.join(PARTICIPANT_ROLES)}")
    keyid = obj.get("signoff_keyid")
    if keyid is not None and not (isinstance(keyid, str) and _HEX.match(keyid)):
        raise PlanError(f"{where}: signoff_keyid must be a key id (64 lowercase hex digits)")
    keys = _names(obj.get("keys"), f"{where}: keys")
    if keys and role != "keyholder":
        raise PlanError(f"{where}: only a keyholder holds keys (this participant is the {role})")
    return Participant(name, str(role), keys, keyid)


def _key(index: int, obj: object, source: str, profile: str) -> PlanKey:
    where = f"{source}: key {index}"
    if not isinstance(obj, dict):
        raise PlanError(f"{where} is not a table")
    _unknown(obj, ("name", "roles", "store", "type", "token_serial", "uri", "public_key", "public_key_sha256"), where)
    name = obj.get("name")
    if not isinstance(name, str) or not _KEY_NAME.match(name):
        raise PlanError(f"{where}: name must be letters, digits, . _ - (at most 64)")
    where = f"{source}: key {name!r}"
    key_roles = obj.get("roles")
    if not isinstance(key_roles, list) or not key_roles:
        raise PlanError(f"{where}: roles must be a non-empty list (root, targets, snapshot, timestamp or a delegation)")
    for role in key_roles:
        try:
            _policy.check_role_name(role, where)
        except CeremonyError as err:
            raise PlanError(str(err)) from err
    store = obj.get("store", "software")
    if store not in STORES:
        raise PlanError(f"{where}: store {printable(store, 40)!r} is not one of {', '.join(STORES)}")
    key_type = obj.get("type", choices.DEFAULT_TOKEN_KEY_TYPE if store == "token" else choices.DEFAULT_KEY_TYPE)
    allowed = choices.TOKEN_KEY_TYPE_NAMES if store == "token" else tuple(choices.KEY_TYPES)
    if key_type not in allowed:
        raise PlanError(f"{where}: type {printable(key_type, 40)!r} is not one of {', '.join(allowed)} ({store})")
    serial, uri, public = obj.get("token_serial"), obj.get("uri"), obj.get("public_key")
    if store == "token":
        if (serial is None) == (uri is None):
            raise PlanError(f"{where}: a token key needs exactly one of token_serial (generate) or uri (existing)")
        if serial is not None and not (isinstance(serial, str) and _SERIAL.match(serial)):
            raise PlanError(f"{where}: token_serial must be letters, digits, . _ - (at most 64)")
        if uri is not None and not (isinstance(uri, str) and uri.startswith("pkcs11:") and len(uri) < 1000):
            raise PlanError(f"{where}: uri must be a pkcs11: URI")
        if uri is not None and "?" in uri:
            # A plan never chooses a library to load (module-path, module-name) and never holds a PIN (pin-value,
            # pin-source): RFC 7512 puts all of them in the query, so a plan's URI has none.
            raise PlanError(f"{where}: uri may not have a query (?module-path=, ?pin-source=, ...): a plan names "
                            "the token and the key, never a module or a PIN")  # fmt: skip
        if serial is not None and key_type != choices.DEFAULT_TOKEN_KEY_TYPE:
            raise PlanError(
                f"{where}: keys generated on a token by serial are {choices.DEFAULT_TOKEN_KEY_TYPE}; for "
                f"{key_type}, generate it with `ceremony hsm keygen` beforehand and give its uri"
            )
    elif serial is not None or uri is not None:
        raise PlanError(f'{where}: token_serial and uri are for store = "token"')
    digest = obj.get("public_key_sha256")
    if store == "elsewhere":
        if not (isinstance(public, str) and _PUBLIC_KEY_FILE.match(public)):
            raise PlanError(f"{where}: public_key must be the name of a file beside the plan (no directories)")
        if not (isinstance(digest, str) and _HEX.match(digest)):
            raise PlanError(
                f"{where}: public_key_sha256 must be the SHA-256 of the public key file (sha256sum {public}), so "
                "that the reviewed plan's hash covers the key"
            )
    elif public is not None or digest is not None:
        raise PlanError(f'{where}: public_key and public_key_sha256 are for store = "elsewhere"')
    if profile == "notary" and "root" in key_roles and key_type != choices.default_key_type("notary"):
        raise PlanError(f"{where}: Docker Content Trust root keys are ecdsa-p256")
    return PlanKey(name, tuple(key_roles), str(store), str(key_type), serial, uri, public, digest)


def load_plan(data: bytes, source: str, directory: Path | None = None) -> Plan:
    """Parse a plan and check each field, and that the plan is whole (every name it uses defined).

    Args:
        data: the plan file's bytes.
        source: its name, for messages.
        directory: where the plan is (public key files it names are beside it).

    Raises:
        PlanError: one line naming the plan and the problem.
    """
    if len(data) > MAX_PLAN_BYTES:
        raise _fail(source, f"is larger than {MAX_PLAN_BYTES // 1024} KiB; a plan is a page or two")
    try:
        obj = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(source, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise _fail(source, f"is not valid TOML ({printable(err, 200)})") from None
    except (RecursionError, ValueError):  # arrays nested thousands deep, an integer of thousands of digits
        raise _fail(source, "is not a plan (nested or sized beyond any plan)") from None
    _unknown(
        obj,
        ("plan_format", "ceremony", "participants", "keys", "thresholds", "expiry_days", *_CHANGE_TABLES, "preflight"),
        source,
    )
    if obj.get("plan_format") != PLAN_FORMAT:
        raise _fail(source, f"plan_format must be {PLAN_FORMAT} (this tool reads plans of format {PLAN_FORMAT})")
    head = _table(obj, "ceremony", source, required=True)
    where = f"{source}: [ceremony]"
    _unknown(head, ("name", "kind", "profile", "date", "workspace"), where)
    name = _str(head, "name", where) or ""
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:  # the script's PDF core fonts print nothing else; "??" is no name to compare
        raise _fail(source, "[ceremony] name must be Latin-1 text (the printed script shows no other)") from None
    kind = head.get("kind")
    if kind not in KINDS:
        raise _fail(source, f"kind {printable(kind, 40)!r} is not one of {', '.join(KINDS)}")
    profile = head.get("profile", "notary" if kind == "dct-new-root" else "tuf")
    if profile not in PROFILES or (kind == "dct-new-root") != (profile == "notary"):
        raise _fail(source, f"profile {printable(profile, 40)!r} does not fit kind {kind!r}")
    planned = head.get("date")
    if planned is not None and not (isinstance(planned, date) and type(planned) is date):
        raise _fail(source, "[ceremony] date must be a TOML date (2027-01-15)")
    workspace = _str(head, "workspace", where, limit=64) or ""
    if not _KEY_NAME.match(workspace):
        raise _fail(source, "[ceremony] workspace must be a directory name (letters, digits, . _ -)")
    people = obj.get("participants")
    if not isinstance(people, list) or not people or len(people) > MAX_PARTICIPANTS:
        raise _fail(source, f"needs [[participants]] (1 to {MAX_PARTICIPANTS})")
    participants = tuple(_participant(i, p, source) for i, p in enumerate(people, start=1))
    keys_list = obj.get("keys", [])
    if not isinstance(keys_list, list) or len(keys_list) > MAX_KEYS:
        raise _fail(source, f"[[keys]] must be a list of at most {MAX_KEYS} tables")
    keys = tuple(_key(i, k, source, str(profile)) for i, k in enumerate(keys_list, start=1))
    thresholds = _numbers(_table(obj, "thresholds", source), f"{source}: [thresholds]")
    expiry = _numbers(_table(obj, "expiry_days", source), f"{source}: [expiry_days]")
    table_name = _CHANGE_TABLE.get(str(kind))
    change = _table(obj, table_name, source, required=table_name != "dct") if table_name else {}
    for table in _CHANGE_TABLES:
        if table in obj and _CHANGE_TABLE.get(str(kind)) != table:
            raise _fail(source, f"[{table}] is not part of a {kind} ceremony")
    preflight = _table(obj, "preflight", source)
    _unknown(preflight, ("network_exception", "clock_tolerance_minutes"), f"{source}: [preflight]")
    if "network_exception" in preflight:
        _str(preflight, "network_exception", f"{source}: [preflight]", limit=500)
    tolerance = _int(preflight, "clock_tolerance_minutes", f"{source}: [preflight]")
    if tolerance is not None and tolerance > MAX_CLOCK_TOLERANCE_MINUTES:
        raise _fail(source, f"[preflight] clock_tolerance_minutes: at most {MAX_CLOCK_TOLERANCE_MINUTES}")
    return Plan(
        source=source,
        sha256=hashlib.sha256(data).hexdigest(),
        name=name,
        kind=str(kind),
        profile=str(profile),
        planned_date=planned,
        workspace=workspace,
        participants=participants,
        keys=keys,
        thresholds=thresholds,
        expiry_days=expiry,
        change=change,
        preflight=preflight,
        directory=directory or Path(),
    )


_CHANGE_TABLE = {"rotate": "rotate", "extend": "extend", "delegate": "delegate", "dct-new-root": "dct"}
_CHANGE_TABLES = ("rotate", "extend", "delegate", "dct")


def _numbers(table: Mapping[str, Any], where: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for role in table:
        _policy.check_role_name(role, where)
        value = _int(table, role, where)
        assert value is not None  # noqa: S101 - present in the table
        out[role] = value
    return out


def read_plan(path: Path) -> tuple[Plan, bytes]:
    """A plan file read (bounded, a regular file, no link followed) and parsed.

    Raises:
        InputFileError: unreadable, a link, or too large.
        PlanError: see load_plan.
    """
    from ceremony.core._json import read_bytes  # the bounded reader every input goes through

    data = read_bytes(path, "plan", MAX_PLAN_BYTES, follow_symlinks=False)
    return load_plan(data, str(path), path.parent), data


# --------------------------------------------------------------------------- the checks before the day


def check_plan(plan: Plan, module: str | None = None) -> list[str]:
    """Every rule that can be checked without a key, as the command the plan configures would check it.

    The people (an administrator, a witness other than the administrator, keyholders), every key used
    exactly where it is defined, one keyholder per root key and one token per root key, thresholds that
    leave a spare root key, expiries within policy, and the kind's own change; a new root is checked by
    ``init.check_options`` itself (a dry run: no key is made, no token logged in to).

    Returns:
        Notes for the operator (nothing refused; e.g. a key held elsewhere).

    Raises:
        PlanError / PolicyError / UsageError: the first rule the plan breaks, one line naming the plan.
    """
    try:
        return _check_plan(plan, module)
    except CeremonyError as err:
        if str(err).startswith(f"{plan.source}:"):
            raise
        raise type(err)(f"{plan.source}: {err}", err.hint) from err


def _check_plan(plan: Plan, module: str | None) -> list[str]:
    """check_plan, its messages not yet naming the plan."""
    notes: list[str] = []
    by_role = {role: [p.name for p in plan.people(role)] for role in PARTICIPANT_ROLES}
    names = [p.name for p in plan.participants]
    if len(set(names)) != len(names):
        raise _fail(plan.source, "names one participant twice")
    key_names = [k.name for k in plan.keys]
    if len(set(key_names)) != len(key_names):
        raise _fail(plan.source, "defines one key name twice")
    held: dict[str, str] = {}
    for person in plan.participants:
        for key_name in person.keys:
            if key_name not in key_names:
                raise _fail(
                    plan.source, f"participant {person.name!r} holds key {key_name!r}, which no [[keys]] defines"
                )
            if key_name in held:
                raise _fail(plan.source, f"key {key_name!r} is held by both {held[key_name]!r} and {person.name!r}")
            held[key_name] = person.name
    if plan.kind in ("new-root", "dct-new-root", "rotate"):
        _policy.check_participants(by_role)
    elif not by_role["administrator"] or not by_role["witness"]:
        raise _fail(plan.source, "needs an administrator and a witness")
    if not by_role["auditor"]:
        notes.append("no auditor is named: the audit bundle will be read by whoever receives it")
    for key in plan.keys:  # the reviewed files first: nothing else is read from one that is not
        if key.store == "elsewhere":
            check_public_key_file(key, plan.directory / str(key.public_key))
    if plan.kind in ("new-root", "dct-new-root"):
        notes += _check_new_root(plan, module)
    elif plan.kind == "rotate":
        _check_rotate(plan)
    elif plan.kind == "extend":
        _check_extend(plan)
    else:
        _check_delegate(plan)
    for key in plan.keys:
        if "root" in key.roles and key.store != "elsewhere" and key.name not in held:
            raise _fail(plan.source, f"root key {key.name!r} has no keyholder (list it in a keyholder's keys)")
        if key.store == "elsewhere":
            notes.append(f"key {key.name!r} is held elsewhere: its holder signs a request offline")
    return notes


def planned_exceptions(plan: Plan) -> dict[str, str]:
    """Exceptions the plan recorded in advance, by preflight check (the network's, for a host whose interface
    cannot be brought down)."""
    text = plan.preflight.get("network_exception")
    return {"network": f"(recorded in the plan) {text}"} if text else {}


def check_public_key_file(key: PlanKey, path: Path) -> None:
    """The public key file a plan names for a key held elsewhere must be the file it was reviewed with.

    Raises:
        PlanError: missing, a link, too large, or other bytes than the plan's public_key_sha256.
    """
    from ceremony.core._json import read_bytes  # the bounded reader every input goes through

    try:
        data = read_bytes(path, "public key file", 64 * 1024, follow_symlinks=False)
    except CeremonyError as err:
        raise PlanError(f"key {key.name!r}: {err}") from err
    if hashlib.sha256(data).hexdigest() != key.public_key_sha256:
        raise PlanError(f"key {key.name!r}: {path} is not the public key file the plan names (its SHA-256 differs)")


def check_workspace_name(plan: Plan, workspace: Path) -> None:
    """A step of a plan runs on the workspace the plan was reviewed for (its directory name).

    Raises:
        PlanError: another directory name.
    """
    if Path(workspace).name != plan.workspace:
        raise PlanError(
            f"{plan.source}: is a plan for the workspace {plan.workspace!r}, not {printable(Path(workspace).name, 80)!r}"
        )


def _check_new_root(plan: Plan, module: str | None) -> list[str]:
    """A new root: the options init would get, checked by init's own check (no key made)."""
    root = plan.root_keys()
    if not root:
        raise _fail(plan.source, 'a new root needs [[keys]] with roles = ["root"]')
    for person in plan.people("keyholder"):
        held_root = [n for n in person.keys if "root" in plan.key(n).roles]
        if len(held_root) != 1 or len(person.keys) != 1:
            raise _fail(plan.source, f"keyholder {person.name!r} must hold exactly one root key (one key each)")
    threshold = plan.thresholds.get("root")
    extra = sorted(set(plan.thresholds) - {"root"})
    if extra:
        raise _fail(plan.source, f"[thresholds] {extra[0]!r}: a new root sets the root threshold only (the rest are 1)")
    if threshold is None:
        raise _fail(plan.source, "[thresholds] needs root (how many root keys must sign)")
    # One keyholder per root key here; one token per root key is init's own check below (it looks each token
    # up, so a key named by label and another by serial on the same token are one token).
    _policy.check_custody([(k.name, (plan.holder_of(k) or Participant("", "")).name or None, None) for k in root])
    for role, days in plan.expiry_days.items():
        if role not in _roles.TOP_LEVEL:
            raise _fail(plan.source, f"[expiry_days] {role!r}: a new root sets the top-level roles' expiry only")
        _policy.check_expiry_days(role, days)
    _policy.check_threshold("root", threshold, len(root))
    _policy.check_signable(len([k for k in root if k.store != "elsewhere"]), threshold)
    if plan.kind == "dct-new-root":
        dct = plan.change
        _unknown(dct, ("gun", "server_keys", "certificate_days"), f"{plan.source}: [dct]")
        from ceremony.core import dct as _dct  # a DCT root's defaults
        from ceremony.core import notary_bundle as _bundle  # the GUN rule every DCT command applies

        _bundle.check_gun(_str(dct, "gun", f"{plan.source}: [dct]"))
        server = _str(dct, "server_keys", f"{plan.source}: [dct]", required=False)
        if server is not None and not _PUBLIC_KEY_FILE.match(server):
            raise _fail(plan.source, "[dct] server_keys must be the name of a bundle file beside the plan")
        certificate_days = _int(dct, "certificate_days", f"{plan.source}: [dct]")
        if certificate_days is not None:
            _policy.check_certificate_days(certificate_days, plan.expiry_days.get("root", _dct.DEFAULT_DAYS["root"]))
        if [k for k in plan.keys if "root" not in k.roles]:
            raise _fail(
                plan.source, "a Docker Content Trust root ceremony makes root keys only (targets: the publisher)"
            )
        return []
    online = {role: k for k in plan.keys for role in k.roles if role != "root"}
    unknown = sorted(set(online) - set(_roles.ONLINE_ROLES))
    if unknown:
        raise _fail(
            plan.source, f"key role {unknown[0]!r}: a new root's keys are for root, targets, snapshot, timestamp"
        )
    for key in plan.keys:
        if len(key.roles) > 1 and key.store != "elsewhere":
            # init makes one key per role: one plan key for several roles would be several keys on the day
            raise _fail(plan.source, f"key {key.name!r}: a key made in a new-root ceremony is for one role")
        _policy.check_profile_key(plan.profile, f"key {key.name!r}", choices.KEY_TYPES[key.key_type].scheme)
    from ceremony.core import init as _init  # cryptography and tokens load only for a plan that makes a root

    _init.check_root_options(init_options(plan), module)
    return []


def init_options(plan: Plan) -> Any:
    """``init.InitOptions`` for a new-root plan (keys in plan order: root-1, root-2, ...)."""
    from ceremony.core import init as _init

    online = online_specs(plan)
    return _init.InitOptions(
        threshold=plan.thresholds["root"],
        expiry_days=dict(plan.expiry_days),
        online_keys=online,
        root_key_specs=tuple(k.keyspec(plan.directory) for k in plan.root_keys()),
        consistent_snapshot=plan.profile == _policy.SIGSTORE_PROFILE,
        profile=plan.profile,
        key_type=_default_key_type(plan),
    )


def _check_rotate(plan: Plan) -> None:
    where = f"{plan.source}: [rotate]"
    change = plan.change
    _unknown(change, ("role", "revoke", "add", "threshold"), where)
    role = _str(change, "role", where, limit=64)
    _policy.check_role_name(role, where)
    revoke = _names(change.get("revoke"), f"{where} revoke", re.compile(r"^[A-Za-z0-9._-]{1,64}$"))
    add = _names(change.get("add"), f"{where} add")
    if not revoke and not add:
        raise _fail(plan.source, "[rotate] revokes and adds no key")
    for name in add:
        if name not in {k.name for k in plan.keys}:
            raise _fail(plan.source, f"[rotate] adds key {name!r}, which no [[keys]] defines")
        if role not in plan.key(name).roles:
            raise _fail(plan.source, f"[rotate] adds key {name!r} to {role}, but the key's roles do not list {role}")
    _int(change, "threshold", where)


def _check_extend(plan: Plan) -> None:
    where = f"{plan.source}: [extend]"
    _unknown(plan.change, ("role", "days"), where)
    role = _str(plan.change, "role", where, limit=64)
    days = _int(plan.change, "days", where)
    if days is None:
        raise _fail(plan.source, "[extend] needs days (the new expiry, in days from the ceremony)")
    _policy.check_role_name(role, where)
    if role in _roles.TOP_LEVEL:
        _policy.check_expiry_days(str(role), days)


def _check_delegate(plan: Plan) -> None:
    where = f"{plan.source}: [delegate]"
    change = plan.change
    _unknown(change, ("role", "from", "paths", "keys", "threshold", "terminating", "expires_days"), where)
    role = _str(change, "role", where, limit=64)
    _policy.check_new_role_name(str(role))
    if "from" in change:
        _policy.check_role_name(change["from"], f"{where} from")
    paths = change.get("paths")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and 0 < len(p) < 500 for p in paths):
        raise _fail(plan.source, "[delegate] paths must be a non-empty list of path patterns")
    keys = _names(change.get("keys"), f"{where} keys")
    if not keys:
        raise _fail(plan.source, "[delegate] keys must name the [[keys]] of the new role")
    for name in keys:
        if name not in {k.name for k in plan.keys}:
            raise _fail(plan.source, f"[delegate] names key {name!r}, which no [[keys]] defines")
    threshold = _int(change, "threshold", where) or 1
    _policy.check_threshold(str(role), threshold, len(keys))
    if "terminating" in change and not isinstance(change["terminating"], bool):
        raise _fail(plan.source, "[delegate] terminating must be true or false")
    _int(change, "expires_days", where)


# --------------------------------------------------------------------------- the script


def _people(plan: Plan, role: str) -> str:
    return ", ".join(p.name for p in plan.people(role)) or "(nobody named)"


def script_steps(plan: Plan, plan_file: str = "PLAN") -> list[Step]:
    """The ceremony's steps in order, as the printed script shows them.

    Each step says who does it, what is typed (the exact command, with the plan's file name as given) and
    what the screen should show; the steps that run a command with ``--plan`` name it, so the transcript
    entry of that command says which step it was.
    """
    plan_file = shlex.quote(plan_file)  # typed at a shell: a file name with a space or a ";" is typed quoted
    ws = plan.workspace
    admin = _people(plan, "administrator")
    witness = _people(plan, "witness")
    steps = [
        Step(
            "S1",
            "Open the ceremony",
            admin,
            "Read the plan's name and SHA-256 aloud; the witness compares them with the reviewed plan and this "
            "script's header. Note the start time.",
            (f"sha256sum {plan_file}",),
            (f"{plan.sha256}  {plan_file}",),
        ),
        Step(
            "S2",
            "Participants",
            witness,
            "Each participant states their name and role; the witness checks each against the plan and an "
            "identity document.",
            (),
            tuple(f"{p.name}: {p.role}" for p in plan.participants),
        ),
        Step(
            "S3",
            "Preflight of the air-gapped host",
            admin,
            "Check the host: no network, no swap (or encrypted swap), the clock against a trusted time read "
            "aloud, the tokens the plan expects present, the workspace's disk encrypted or removable, the "
            "tool's files matching its install kit. A failed check is an exception the witness writes down.",
            (f'ceremony preflight --plan {plan_file} --workspace {ws} --time "YYYY-MM-DD HH:MM"',),
            (*(f"ok   {name}: {what}" for name, what in _PREFLIGHT_SHOWN), "preflight: every check passed"),
        ),
    ]
    tokens = [k for k in plan.keys if k.store == "token"]
    if tokens:
        steps.append(
            Step(
                "S4",
                "Tokens out of their bags",
                witness,
                "For each token: read the tamper-evident bag's serial aloud, open it, insert the token, and "
                "compare the token's serial with the plan.",
                ("ceremony hsm list",),
                tuple(
                    f"  slot ...: token '...' serial {k.token_serial} ..." if k.token_serial else f"  ({k.uri})"
                    for k in tokens
                ),
            )
        )
    steps.extend(_kind_steps(plan, plan_file, ws, admin))
    if plan.kind == "dct-new-root":  # the server's snapshot and timestamp are not here: status checks what is
        verify_types, verify_shows = (
            (f"ceremony status {ws}",),
            (f"Workspace {ws} (profile notary, GUN {plan.change.get('gun')})",),
        )
    else:
        verify_types, verify_shows = (f"ceremony verify {ws}/metadata",), ("valid: root chain to version ...",)
    n = len(steps)
    steps += [
        Step(
            f"S{n + 1}",
            "Verify as a client",
            admin,
            "Verify the published metadata as a client would.",
            verify_types,
            verify_shows,
        ),
        Step(
            f"S{n + 2}",
            "Paper backup and test restore",
            admin,
            "Export the signed root to files, QR codes and printable sheets, restore it from the sheets at once "
            "and compare byte for byte; print the sheets for the safe.",
            (f"ceremony export {ws} --out {ws}-backup --test-restore",),
            ("  test restore of ... from the printable PDFs: byte-identical", "wrote the backup to ..."),
        ),
        Step(
            f"S{n + 3}",
            "Transcript head",
            witness,
            "Show the transcript head as hex and words; the witness writes all 64 hex digits in the box at the "
            "end of this script, and the first 16 and 4 words on every keyholder's page.",
            (f"ceremony transcript verify {ws}",),
            ("transcript ok: ...", "transcript head: ...", "  as words (BIP-39): ..."),
        ),
        Step(
            f"S{n + 4}",
            "Sign-offs",
            witness,
            "The witness and each keyholder sign the transcript head with their own key (a key file or a "
            "token), each typing their own PIN or passphrase; each compares the head shown with the one written.",
            tuple(
                f'ceremony transcript sign {ws} --key KEYSPEC --name "{p.name}" --role {p.role}'
                for p in plan.participants
                if p.role in ("witness", "keyholder")
            ),
            ("signed off: ... at entry ..., key ...",),
        ),
        Step(
            f"S{n + 5}",
            "Audit bundle",
            admin,
            "Write the audit bundle and verify it; note its SHA-256 for the auditor. Reseal the tokens and log "
            "the new bag serials.",
            (f"ceremony audit bundle {ws} --out {ws}-audit.tar", f"ceremony audit verify {ws}-audit.tar"),
            ("sha256 ...", f"audit bundle {ws}-audit.tar verified: ..."),
        ),
    ]
    return steps


#: What each preflight check shows when it passes (guided.preflight's wording), for the script's step.
_PREFLIGHT_SHOWN = (
    ("network", "no interface up besides loopback"),
    ("swap", "..."),
    ("tokens", "..."),
    ("clock", "within ... of the trusted time ..."),
    ("disk", "... is on ..."),
    ("install", "..."),
)


#: What every command that signs a change prints, in order, as the script shows it ("..." stands for what differs).
_SIGNED_SHOWS = (
    "SHA-256 of what will be signed: ...",
    "  as words (BIP-39): ...",
    "published",
    "transcript head: ...",
)


def _kind_steps(plan: Plan, plan_file: str, ws: str, admin: str) -> list[Step]:
    """The steps that make the change itself, each with the lines its command prints (``...``: what differs)."""
    first = 5 if any(k.store == "token" for k in plan.keys) else 4
    holders = ", ".join(
        f"{k.name} is {(plan.holder_of(k) or Participant('(nobody)', '')).name}'s" for k in plan.root_keys()
    )
    if plan.kind in ("new-root", "dct-new-root"):
        return [_create_step(plan, plan_file, ws, admin, f"S{first}", holders)]
    change = plan.change
    role = change.get("role")
    shows: tuple[str, ...]
    if plan.kind == "rotate":
        added = ", ".join(f"{n} ({plan.key(n).describe()})" for n in change.get("add", ())) or "none"
        does = (
            f"Run the rotation from the plan: revoke {', '.join(change.get('revoke', ())) or 'none'}, add {added}. "
            "Review the diff on screen (each key removed and added, the threshold), read the words aloud; the "
            "keyholders of the old and the new keys compare them and type their own passphrase or PIN."
        )
        command, shows = f"ceremony rotate {ws} --plan {plan_file}", (f"  rotate {role}: ...", "      + key ...")
    elif plan.kind == "extend":
        does = "Re-sign the role with its new expiry; read the words aloud; the keyholders compare them and sign."
        command, shows = f"ceremony extend {ws} --plan {plan_file}", (f"  extend {role}: expires ... from now",)
    else:
        does = "Delegate the paths to the new role with its keys; review the diff; read the words aloud; sign."
        command = f"ceremony delegate {ws} {role} --plan {plan_file}"
        shows = (f"  delegate ... from {change.get('from', 'targets')} to new role '{role}': ...",)
    title = {"rotate": f"Rotate the {role} keys", "extend": f"Extend {role}", "delegate": f"Delegate to {role}"}
    return [Step(f"S{first}", title[plan.kind], admin, does, (command,), (*shows, *_SIGNED_SHOWS), plan.kind)]


def _create_step(plan: Plan, plan_file: str, ws: str, admin: str, step_id: str, holders: str) -> Step:
    """The new repository's step: init from the plan, and each line it prints about the keys it makes."""
    from ceremony.core.signers import KeySpec  # the words init itself prints for each key

    root = plan.root_keys()
    does = (
        f"Run init from the plan; it runs the preflight again and records it. {holders}: each keyholder types "
        "their own passphrase or PIN when asked (never aloud, never on paper); the witness compares each key line "
        "with the plan and notes the transcript head's first 16 digits."
    )
    if plan.kind == "dct-new-root":
        outputs = f" --out {ws}-publish.bundle --targets-key-out {ws}-targets.key"
        shows: tuple[str, ...] = (
            f"New Docker Content Trust repository {plan.change.get('gun')} in {ws}",
            f"  root: {plan.thresholds.get('root')} of {len(root)} keys (ecdsa-x509, ...)",
            "  targets: a new key for the publisher; snapshot and timestamp: the server's keys",
            f"Created {ws}",
        )
        return Step(step_id, "Create the repository and its keys", admin, does, (f"ceremony init {ws} --plan {plan_file}{outputs}",), shows, "init")  # fmt: skip
    days = {**_roles.DEFAULT_EXPIRY_DAYS, **plan.expiry_days}
    kind = "TUF repository for a private Sigstore instance" if plan.profile == "sigstore" else "TUF repository"
    shows = (
        f"New {kind} in {ws}...",
        f"  root: {plan.thresholds.get('root')} of {len(root)} keys, expires in {plural(days['root'], 'day')}",
        *(f"    root-{i}: {KeySpec.parse(k.keyspec(plan.directory)).describe()}" for i, k in enumerate(root, 1)),
        *(
            f"  {role}: {KeySpec.parse(spec).describe()}, expires in {plural(days[role], 'day')}"
            for role, spec in online_specs(plan).items()
        ),
        f"Created {ws}",
        "transcript head: ...",
    )
    return Step(step_id, "Create the repository and its keys", admin, does, (f"ceremony init {ws} --plan {plan_file}",), shows, "init")  # fmt: skip


def step_for(plan: Plan, command: str) -> str:
    """The id of the step that runs ``command`` with this plan.

    Raises:
        PlanError: the plan has no such step (a rotation plan given to init).
    """
    for step in script_steps(plan):
        if step.command == command:
            return step.id
    raise PlanError(f"{plan.source}: a {plan.kind} plan has no `ceremony {command}` step")


#: The script step each step of the guided new-root ceremony (core/guided/new_root.py) carries out; its key
#: steps (plan, keygen, online, review, sign) are all the script's "create" step, which init runs in one go.
_GUIDED_STEPS = {
    "start": "Open the ceremony",
    "preflight": "Preflight of the air-gapped host",
    "participants": "Participants",
    "verify": "Verify as a client",
    "backup": "Paper backup and test restore",
    "signoff": "Transcript head",
}


def guided_step(plan: Plan, name: str) -> str:
    """The id of the script step that step ``name`` of the guided new-root ceremony carries out."""
    steps = script_steps(plan)
    title = _GUIDED_STEPS.get(name)
    return next(s.id for s in steps if (s.title == title if title else s.command == "init"))


def check_guided_participants(plan: Plan, people: Sequence[tuple[str, str]]) -> None:
    """The participants a guided ceremony records must be the plan's, in the plan's roles.

    Raises:
        PlanError: someone missing, added, or in another role than the plan gives them.
    """
    wanted = sorted((p.name, p.role) for p in plan.participants)
    given = sorted(people)
    if wanted != given:
        missing = [f"{n} ({r})" for n, r in wanted if (n, r) not in given]
        extra = [f"{n} ({r})" for n, r in given if (n, r) not in wanted]
        what = f"missing {', '.join(missing)}" if missing else f"not in the plan: {', '.join(extra)}"
        raise PlanError(
            f"the participants differ from the plan's ({printable(what, 300)})",
            hint="the plan was reviewed: change it (and check it again) rather than the ceremony",
        )


def check_guided_keys(
    plan: Plan, keys: Sequence[tuple[str, str, str, str | None]], threshold: int, root_days: int
) -> None:
    """The root keys a guided ceremony plans, (holder, backend, key type, token serial) each, and its threshold and
    root expiry, must be the plan's.

    Raises:
        PlanError: naming the first difference.
    """
    wanted: dict[str, tuple[str, str, str | None]] = {}
    for key in plan.root_keys():
        person = plan.holder_of(key)
        wanted[person.name if person else ""] = (key.store, key.key_type, key.token_serial)
    for holder, backend, key_type, serial in keys:
        expected = wanted.get(holder)
        if expected is None:
            raise PlanError(f"{printable(holder, 80)} holds no root key in the plan")
        if (backend, key_type, serial if backend == "token" else None) != expected:
            store, kind, token = expected
            where = f"on token serial {token}" if store == "token" else store
            raise PlanError(f"the plan gives {printable(holder, 80)} a {kind} key ({where}), not this one")
    if len(keys) != len(wanted):
        raise PlanError(f"the plan has {plural(len(wanted), 'root key')}, not {len(keys)}")
    if threshold != plan.thresholds.get("root"):
        raise PlanError(f"the plan's root threshold is {plan.thresholds.get('root')}, not {threshold}")
    if root_days != plan.expiry_days.get("root", _roles.DEFAULT_EXPIRY_DAYS["root"]):
        raise PlanError(f"the plan's root expiry is {plan.expiry_days.get('root', 365)} days, not {root_days}")


def online_specs(plan: Plan) -> dict[str, str]:
    """The KEYSPEC of each online role's key in a new-root plan: its plan key's (a key type, or a public key file
    beside it), or the key type init generates for a role the plan gives no key (the profile's default)."""
    given = {role: k.keyspec(plan.directory) for k in plan.keys for role in k.roles if role != "root"}
    return {role: given.get(role, _default_key_type(plan)) for role in _roles.ONLINE_ROLES}


def _default_key_type(plan: Plan) -> str:
    """The key type init generates where a plan names none (choices' rule, as for init without a plan)."""
    return choices.default_key_type(plan.profile)


def script_pdf(plan: Plan, plan_file: str, paper: str = "a4") -> bytes:
    """The printed ceremony script (``_paper.ceremony_script``)."""
    from ceremony.core import _paper

    keyholders = [
        (p.name, [f"{k.name}: {k.describe()}" for k in (plan.key(n) for n in p.keys)]) for p in plan.people("keyholder")
    ]
    return _paper.ceremony_script(
        paper=paper,
        title=plan.name,
        kind=plan.kind,
        plan_file=plan_file,
        plan_sha256=plan.sha256,
        planned=plan.planned_date.isoformat() if plan.planned_date else "",
        participants=[(p.name, p.role) for p in plan.participants],
        keys=[f"{k.name} ({', '.join(k.roles)}): {k.describe()}" for k in plan.keys],
        settings=[f"{role}: threshold {n}" for role, n in plan.thresholds.items()]
        + [f"{role}: expires in {plural(days, 'day')}" for role, days in plan.expiry_days.items()],
        steps=[(s.id, s.title, s.who, s.does, list(s.types), list(s.shows)) for s in script_steps(plan, plan_file)],
        keyholders=keyholders,
    )


__all__ = [
    "KINDS",
    "Participant",
    "Plan",
    "PlanKey",
    "PlanRun",
    "Step",
    "check_plan",
    "init_options",
    "load_plan",
    "read_plan",
    "script_pdf",
    "script_steps",
    "step_for",
]
