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
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, SecretsHandler

from ceremony.core import changes as _changes
from ceremony.core import diff as _diff
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import recovery as _recovery
from ceremony.core import transcript as _transcript
from ceremony.core import verify as _verify
from ceremony.core._fs import make_private_dir, write_atomic
from ceremony.core._json import dumps_pretty, read_json
from ceremony.core.workspace import (
    CONFIG_NAME,
    DEFAULT_EXPIRY_DAYS,
    KEYS_DIR,
    ROLES,
    KeyRecord,
    PassphraseProvider,
    Workspace,
    acquire_key,
    build_online_files,
    complete_draft,
    describe_new_keys,
    initial_config,
    merge_key_records,
    unlock_held_key,
)
from ceremony.errors import (
    BackupError,
    InputFileError,
    PolicyError,
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
    """The session in progress in ``path``, or None.

    Raises:
        InputFileError: session.json exists but is not a ceremony session.
    """
    file = Path(path) / SESSION_NAME
    if not file.is_file():
        return None
    data = read_json(file, "ceremony session")
    if not isinstance(data, dict) or data.get("type") != SESSION_TYPE or data.get("format") != SESSION_FORMAT:
        raise InputFileError(f"{file}: not a ceremony session (format {SESSION_FORMAT})")
    return data


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
    titles = dict(step_titles(str(data["flow"])))
    return SessionInfo(
        str(data["flow"]),
        str(data["step"]),
        str(data.get("title", data["flow"])),
        titles.get(str(data["step"]), str(data["step"])),
    )


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
            if iface.name != "lo" and state.is_file() and state.read_text().strip() == "up":
                up.append(iface.name)
    checks = [
        Check(
            "network",
            not up,
            f"interfaces up: {', '.join(up)}" if up else "no network interface up besides loopback",
        )
    ]
    swap_lines = swaps.read_text().splitlines()[1:] if swaps.is_file() else []
    swap_devices = [line.split()[0] for line in swap_lines if line.strip()]
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
        files: dict[str, str] | None = None,
    ) -> str:
        """Save the session at the next step, then record the step just done (named by the current one)."""
        done = self.step
        self.data["step"] = step
        _save(self.path, self.data)
        return _record(self.path, f"tui new-root {done}", lines, now, files, details)

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
            make_private_dir(self.path / KEYS_DIR)
            digest = write_atomic(self.path / rel, key.encrypted)
            entry.update(keyid=key.public.keyid, uri=f"file:{rel}", public=key.public.to_dict())
            details: dict[str, Any] = {"generated": entry["key_type"]}
            files = {rel: digest}
            line = f"generated software key {label} {key.public.keyid} for {entry['holder']} (encrypted under their passphrase)"
        else:
            token_uri = f"pkcs11:token={entry['token_label']};serial={entry['token_serial']}"
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
        _save(self.path, self.data)
        _record(self.path, "tui new-root keygen", [line], now, files, {label: details})
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
                rel = f"{KEYS_DIR}/{key.public.keyid}.p12"
                make_private_dir(self.path / KEYS_DIR)
                written[rel] = write_atomic(self.path / rel, key.encrypted)
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
        self._advance("review", now, describe_new_keys(records, self._skipped()), files=written)

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
        return lines, digest.hex(), _diff.digest_words(digest)

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
        head = _record(
            self.path, "tui new-root signoff", [f"signed off by {n}" for n in dict.fromkeys(self.participants())], now
        )
        (self.path / SESSION_NAME).unlink()
        return head


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
        original = (ws.metadata_dir / item.name).read_bytes()
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
            "title": title,
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
        """The request as this session last saved it, read and checked (digest, every signature) once."""
        if self._request is None:
            self._request = _changes.load_request(self.request_path)
        return self._request

    def _save_request(self, request: _changes.SignRequest) -> None:
        _changes.save_request(request)
        self._request = request

    def build_root(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed: diff lines, digest hex and words."""
        return self.request().describe()

    def progress(self) -> list[Progress]:
        """Every threshold of the change, with the labels of the keys that signed."""
        labels = {k: v.get("label", k[:12]) for k, v in self.ws.config.get("keys", {}).items()}
        pending = self._pending()
        labels.update({k: v.get("label", k[:12]) for k, v in pending.get("config", {}).get("keys", {}).items()})
        return [
            Progress(s.label, [labels.get(k, k[:12]) for k in s.signed], s.threshold) for s in self.request().statuses()
        ]

    def _pending(self) -> dict[str, Any]:
        if self._pending_record is None:
            self._pending_record = _changes._load_pending(self.ws, self.data["request_id"])
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
            raise UsageError(f"{keyid[:12]}: not a key held in this workspace")
        request = self.request()
        spec = str(self.ws.path / record.uri.removeprefix("file:")) if record.uri.startswith("file:") else record.uri
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
            result, _statuses = _changes.merge(ctx, [self.request_path])
        if result is None:
            raise ThresholdNotMetError(f"request {self.data['request_id']}: not every threshold is met yet")
        (self.ws.path / SESSION_NAME).unlink()
        return result

    def discard(self, now: datetime) -> None:
        """Give up the change: nothing was published; the request file stays for the record."""
        (self.ws.path / SESSION_NAME).unlink()
        _record(
            self.ws.path,
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
        token = _hsm.find_token(_hsm.Pkcs11Uri.parse(f"pkcs11:serial={serial}"), _hsm.resolve_module(config=module))
        label = _OBJECT_LABEL.sub("-", f"{ws.path.name}-{role}-{now.strftime('%Y%m%d%H%M%S')}")[:64]
        key = _hsm.generate_key(
            f"pkcs11:token={token.label};serial={serial}", label, TOKEN_KEY_TYPE, lambda _p: secret, module
        )
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
        """The request (with the signatures made so far), checked again as it is read."""
        return _changes.load_request(self._current())

    def build_root(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed: diff lines, digest hex and words."""
        return self.request().describe()

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


__all__ = [
    "CHANGE_STEPS",
    "NEW_ROOT_STEPS",
    "ChangeSession",
    "Check",
    "KeyPlan",
    "NewKey",
    "NewRootCeremony",
    "OfflineSigning",
    "Participant",
    "Progress",
    "SessionInfo",
    "SigningKey",
    "backup_with_test_restore",
    "is_draft",
    "new_key",
    "preflight_checks",
    "read_session",
    "session_info",
    "step_titles",
]
