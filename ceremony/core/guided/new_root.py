"""The new-root ceremony: a new repository made step by step in a draft directory, resumable after any step.

Preflight, participants, plan, key generation, online keys, review, signing
to threshold, verification, backup with a test restore, sign-off. Keys made
so far are encrypted files in ``keys/`` or keys on tokens; root signatures
collected so far are public. The draft becomes a workspace only when the
complete repository verifies: ``ceremony.json`` is written last
(``workspace.complete_draft``). Every rule is ``policy``'s, as for ``init``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer

from ceremony.core import _txn
from ceremony.core import diff as _diff
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import plan as _plan
from ceremony.core import policy as _policy
from ceremony.core import recovery as _recovery
from ceremony.core import transcript as _transcript
from ceremony.core import verify as _verify
from ceremony.core._fs import make_private_dir
from ceremony.core._text import plural, printable
from ceremony.core.dates import format_date, parse_at
from ceremony.core.guided.preflight import Check, excused
from ceremony.core.guided.state import (
    MAX_TEXT,
    PARTICIPANT_ROLES,
    SESSION_NAME,
    NewRootState,
    OnlineKey,
    Participant,
    PlannedKey,
    commit_step,
    load_session,
    save,
)
from ceremony.core.guided.subject import Progress, SigningKey, words_cover
from ceremony.core.init import build_online_files, describe_new_keys, initial_config, merge_key_records, online_label
from ceremony.core.roles import (
    CONFIG_NAME,
    DEFAULT_EXPIRY_DAYS,
    ONLINE_ROLES,
    PLANS_DIR,
    TOP_LEVEL,
    key_file_rel,
    key_file_uri,
)
from ceremony.core.signers import PassphraseProvider, acquire_key, object_label, sign_as, unlock_held_key
from ceremony.core.thresholds import Requirement, evaluate
from ceremony.core.workspace import KeyRecord, Workspace, check_new_path, complete_draft, verify_workspace_transcript
from ceremony.errors import (
    CeremonyError,
    PlanError,
    PolicyError,
    ThresholdNotMetError,
    UsageError,
    WorkspaceError,
)


@dataclass(frozen=True)
class KeyPlan:
    """How one root key will be made: its keyholder and backend."""

    holder: str
    backend: str  # "software" or "token"
    key_type: str
    token_label: str | None = None
    token_serial: str | None = None


@dataclass(frozen=True)
class GeneratedKey:
    """A planned root key once generated: its keyid and URI, no longer optional."""

    planned: PlannedKey
    keyid: str
    uri: str


class NewRootCeremony:
    """A new repository's root ceremony in a draft directory; every method records its step.

    Methods must be called in step order; each checks the step's inputs,
    does its work, saves the session and appends to the transcript before
    returning, so quitting after any step loses nothing.
    """

    #: What the last key generation proved, for the keyholder to read (never a secret).
    keygen_report: list[str] = []  # noqa: RUF012 (replaced, never mutated)

    def __init__(self, path: Path, state: NewRootState) -> None:
        self.path = path
        self.state = state

    # ---- opening

    @classmethod
    def start(
        cls, path: Path, now: datetime, module: str | None = None, plan_run: _plan.PlanRun | None = None
    ) -> NewRootCeremony:
        """Create the draft directory for a new repository (run from a ceremony plan: kept in plans/, and every
        step then holds to it and records which of its steps it was).

        Raises:
            WorkspaceError: the directory exists and is not empty, or cannot be made.
            PlanError: the plan is not a new TUF root's.
        """
        path = Path(path)
        if plan_run is not None and plan_run.plan.kind != "new-root":
            raise PlanError(f"{plan_run.plan.source}: a {plan_run.plan.kind} plan is not a new root ceremony's")
        check_new_path(path, "a new root ceremony")
        make_private_dir(path)
        state = NewRootState("preflight", title="new root ceremony", started=format_date(now), module=module)
        lines = [f"new root ceremony started in {path.name}"]
        files: dict[str, bytes] = {}
        if plan_run is not None:
            state.plan = plan_run.plan.sha256
            files = {f"{PLANS_DIR}/{name}": data for name, data in plan_run.files().items()}
            lines.append(f"from the ceremony plan {plan_run.plan.name} (sha256 {plan_run.plan.sha256})")
        ceremony = cls(path, state)
        details = (
            {"plan": {**plan_run.details(), "step": _plan.guided_step(plan_run.plan, "start")}} if plan_run else None
        )
        commit_step(path, state, "tui new-root start", lines, now, details, files)
        return ceremony

    @property
    def plan(self) -> _plan.Plan | None:
        """The ceremony plan this ceremony runs, read from plans/ (its bytes must still have the recorded hash).

        Raises:
            PlanError: the plan file is missing or changed.
        """
        if self.state.plan is None:
            return None
        cached = getattr(self, "_plan_cache", None)
        if cached is not None:
            return cached
        path = self.path / PLANS_DIR / f"{self.state.plan}.toml"
        try:
            found, _data = _plan.read_plan(path)
        except CeremonyError as err:
            raise PlanError(f"{path}: the ceremony plan this ceremony runs cannot be read ({err})") from err
        if found.sha256 != self.state.plan:
            raise PlanError(f"{path}: the ceremony plan changed since the ceremony started")
        self._plan_cache: _plan.Plan | None = found
        return found

    @classmethod
    def open(cls, path: Path) -> NewRootCeremony:
        """Reopen a draft to resume it.

        Raises:
            WorkspaceError: no new root ceremony is in progress there.
        """
        state = load_session(Path(path))
        if not isinstance(state, NewRootState):
            raise WorkspaceError(f"{path}: no new root ceremony is in progress here")
        return cls(Path(path), state)

    @property
    def step(self) -> str:
        """The step to do next."""
        return self.state.step

    @property
    def reviewed(self) -> bool:
        """The keyholders compared the words of root version 1 (recorded at the review step)."""
        return self.step != "review" and self.state.digest is not None

    @property
    def module(self) -> str | None:
        """The PKCS#11 module chosen for this ceremony (None: $PYKCS11LIB or SoftHSM2)."""
        return self.state.module

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
        self.state.step = step
        details = self._with_plan(done, details)
        return commit_step(self.path, self.state, f"tui new-root {done}", lines, now, details, new_files)

    def _with_plan(self, step: str, details: dict[str, Any] | None) -> dict[str, Any] | None:
        """``details`` of step ``step``'s transcript line, with the plan's hash and step when run from a plan."""
        plan = self.plan
        if plan is None:
            return details
        run = {"sha256": plan.sha256, "name": plan.name, "kind": plan.kind, "step": _plan.guided_step(plan, step)}
        return {**(details or {}), "plan": run}

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
        plan = self.plan
        exceptions = excused(checks, exceptions, _plan.planned_exceptions(plan) if plan is not None else None)
        lines = [f"{'ok' if c.passed else 'EXCEPTION'} {c.name}: {c.detail}" for c in checks]
        lines += [f"exception for {name}: {text}" for name, text in exceptions.items()]
        lines.append(f"clock confirmed by the administrator: {format_date(now)}")
        self.state.preflight = {
            "checks": [c.__dict__ for c in checks],
            "exceptions": exceptions,
            "clock": format_date(now),
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
        _policy.check_participants(by_role)
        plan = self.plan
        if plan is not None:
            _plan.check_guided_participants(plan, [(p.name.strip(), p.role) for p in participants])
        self.state.participants = [Participant(p.name.strip(), p.role) for p in participants]
        self._advance("plan", now, [f"participant {p.name.strip()}: {p.role}" for p in participants])

    def participants(self, role: str | None = None) -> list[str]:
        """Names of the participants (in ``role``)."""
        return [p.name for p in self.state.participants if role is None or p.role == role]

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
        ceremony_plan = self.plan
        if ceremony_plan is not None:
            _plan.check_guided_keys(
                ceremony_plan, [(k.holder, k.backend, k.key_type, k.token_serial) for k in keys], threshold, root_days
            )
        _policy.check_threshold("root", threshold, len(keys), no_spare)
        _policy.check_expiry_days("root", root_days)
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
        _policy.check_custody(
            [
                (f"root-{i}", p.holder, p.token_serial if p.backend == "token" else None)
                for i, p in enumerate(keys, start=1)
            ]
        )
        self.state.threshold = threshold
        self.state.no_spare = no_spare
        self.state.expiry_days = {**DEFAULT_EXPIRY_DAYS, "root": root_days}
        self.state.root_keys = [
            PlannedKey(f"root-{i}", p.holder, p.backend, p.key_type, p.token_label, p.token_serial)
            for i, p in enumerate(keys, start=1)
        ]
        lines = [f"root: {threshold} of {plural(len(keys), 'key')}, expires after {plural(root_days, 'day')}"]
        for entry in self.state.root_keys:
            where = (
                f"token '{entry.token_label}' serial {entry.token_serial}"
                if entry.backend == "token"
                else "software (passphrase)"
            )
            lines.append(f"{entry.label}: {entry.key_type} held by {entry.holder}, {where}")
        self._advance("keygen", now, lines)

    # ---- key generation

    def root_keys(self) -> list[PlannedKey]:
        """The planned root keys with what is known so far (keyid once generated)."""
        return list(self.state.root_keys)

    def next_key_to_generate(self) -> PlannedKey | None:
        """The first planned root key not generated yet."""
        return next((k for k in self.state.root_keys if not k.generated), None)

    def _object_label(self, label: str) -> str:
        return object_label(self.path.name, label)

    def generate_root_key(self, label: str, secret: str, now: datetime) -> PlannedKey:
        """Generate one root key with its keyholder's passphrase (software) or PIN (token).

        The software key is written encrypted to keys/ before this returns; a
        token key is generated non-extractable, read back and test-signed.

        Raises:
            PassphraseError: the passphrase is too short.
            HsmError (and subclasses): the token refused (wrong PIN, missing token, duplicate label).
        """
        self._require("keygen")
        index = next((i for i, k in enumerate(self.state.root_keys) if k.label == label), None)
        if index is None or self.state.root_keys[index].generated:
            raise UsageError(f"{label}: not a root key waiting to be generated")
        entry = self.state.root_keys[index]
        details: dict[str, Any]
        if entry.backend == "software":
            key = _keys.generate_key(entry.key_type, secret, label)
            challenge = _keys.prove_signing(key.signer)
            public, uri = key.public, key_file_uri(key.public.keyid)
            self.keygen_report = [
                f"{label}: {entry.key_type} software key {public.keyid}",
                f"written encrypted under {entry.holder}'s passphrase to {key_file_rel(public.keyid)}",
                f"test signature over the random challenge {challenge[:16]}... verified with the public key",
            ]
            details = {"generated": entry.key_type}
            files = {key_file_rel(public.keyid): key.encrypted}
            line = (
                f"generated software key {label} {public.keyid} for {entry.holder} (encrypted under their passphrase)"
            )
        else:
            # Built, not formatted: a label holding ";" or "?module-path=" must not add attributes to the URI.
            token_uri = _hsm.Pkcs11Uri(token=entry.token_label, serial=entry.token_serial).to_string()
            token_key = _hsm.generate_key(
                token_uri, self._object_label(label), entry.key_type, lambda _prompt: secret, self.module
            )
            public, uri = token_key.public, token_key.uri
            details = token_key.transcript_details()
            attributes = ", ".join(
                f"{name.removeprefix('CKA_')} {'yes' if value else 'no'}"
                for name, value in token_key.attributes.to_dict().items()
            )
            self.keygen_report = [
                f"{label}: {entry.key_type} key {public.keyid} on {token_key.token.describe()}",
                f"read back from the token: {attributes}"
                + ("" if token_key.attributes.safe else "  <- NOT a key that can never leave the token"),
                f"test signature over the random challenge {token_key.challenge[:16]}... verified with the public "
                "key read from the token",
            ]
            files = {}
            line = f"generated token key {label} {public.keyid} for {entry.holder} on {token_key.token.describe()}"
        entry = replace(entry, keyid=public.keyid, uri=uri, public={**public.to_dict(), "keyid": public.keyid})
        self.state.root_keys[index] = entry
        done = self.next_key_to_generate() is None
        self.state.step = "online" if done else "keygen"
        step_details = self._with_plan("keygen", {label: details})
        commit_step(self.path, self.state, "tui new-root keygen", [line], now, step_details, files)
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
        plan = self.plan
        if plan is not None:
            _check_online_against(plan, specs)
        acquired = {}
        with contextlib.ExitStack() as stack:
            for role in ONLINE_ROLES:
                spec = specs.get(role, "")
                if not spec:
                    raise UsageError(f"{role}: choose a key type to generate or a public key file to import")
                key = acquired[role] = acquire_key(
                    spec, online_label(role, spec), role, passphrase_for, None, self.module, stack
                )
                if key.signer is not None:
                    _keys.prove_signing(key.signer)
        written = {}
        online = {}
        for role, key in acquired.items():
            if key.encrypted:
                written[key_file_rel(key.public.keyid)] = key.encrypted
            public = {**key.public.to_dict(), "keyid": key.public.keyid}
            online[role] = OnlineKey(key.record.label, key.public.keyid, key.record.key_type, key.record.uri, public)
        self.state.online = online
        records = [KeyRecord(v.keyid, v.label, (r,), v.key_type, v.uri) for r, v in online.items()]
        self._advance("review", now, describe_new_keys(records, self._skipped()), new_files=written)

    def _skipped(self) -> list[str]:
        """Online roles whose files the online service signs: an imported key, and every role after it."""
        online = self.state.online
        return _policy.left_to_online({role: role in online and bool(online[role].uri) for role in ONLINE_ROLES})

    @property
    def needs_online_secret(self) -> bool:
        """Verification signs version 1 of files whose keys were generated here: it needs their passphrase."""
        return len(self._skipped()) < len(ONLINE_ROLES)

    # ---- review and signing

    def _generated(self) -> list[GeneratedKey]:
        """The root keys, every one generated (the steps after key generation).

        Raises:
            UsageError: a root key has not been generated yet.
        """
        result = []
        for k in self.state.root_keys:
            keyid, uri, _public = k.made()
            result.append(GeneratedKey(k, keyid, uri))
        return result

    def _root_dict(self) -> dict[str, Any]:
        if self.state.root is None:
            raise UsageError("root version 1 has not been built yet: review it first")
        return self.state.root

    def _plans(self, now: datetime) -> dict[str, _md.RolePlan]:
        """Keys, thresholds and expiry of every role: root's as signed, the online roles' from ``now``."""
        root = self._root_dict()["signed"]
        plans = {}
        for role in TOP_LEVEL:
            role_obj = root["roles"][role]
            keys = tuple(_keys.public_key_from_metadata(k, root["keys"][k]) for k in role_obj["keyids"])
            expires = (
                parse_at(root["expires"])
                if role == "root"
                else now.astimezone(UTC).replace(microsecond=0) + timedelta(days=self.state.expiry_days[role])
            )
            plans[role] = _md.RolePlan(keys, role_obj["threshold"], expires)
        return plans

    def _root(self) -> Any:
        return _md.from_dict(self._root_dict(), f"{self.path / SESSION_NAME} root")

    def build_root(self, now: datetime) -> tuple[list[str], str, str]:
        """Build root version 1 (once) and describe it: diff lines, digest hex and words to read aloud.

        Later calls return the same root: what the keyholders compared is what they sign.
        """
        if self.step not in ("review", "sign"):
            self._require("review")
        generated = self._generated()
        if self.state.root is None:
            base = now.astimezone(UTC).replace(microsecond=0)
            days = self.state.expiry_days
            plans = {
                "root": _md.RolePlan(
                    tuple(k.planned.key() for k in generated),
                    self.state.threshold,
                    base + timedelta(days=days["root"]),
                )
            }
            for role in ONLINE_ROLES:
                plans[role] = _md.RolePlan((self.state.online[role].key(),), 1, base + timedelta(days=days[role]))
            for role, plan in plans.items():
                _policy.check_role(role, [k.keyid for k in plan.keys], plan.threshold, plan.expires, now)
            self.state.root = _md.to_dict(_md.build_root(plans))
            save(self.path, self.state)
        root = self._root()
        lines = [
            f"new repository, root version 1: {self.state.threshold} of {plural(len(generated), 'root key')}",
            *[f"{k.planned.label} {k.keyid[:12]} held by {k.planned.holder}" for k in generated],
            *_diff.describe_change("1.root.json", None, _md.signed_dict(root)),
        ]
        digest = _diff.payload_digest({"root": _md.signed_bytes(root)})
        return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)

    def cover(self) -> list[str]:
        """What the words cover: root version 1's signed part, as on its paper backup sheet."""
        return words_cover({"root": (1, _md.signed_bytes(self._root()))})

    def unsigned_summary(self) -> list[str]:
        """Nothing: every line shown for a new root is computed from what is signed."""
        return []

    def confirm_review(self, now: datetime) -> None:
        """The keyholders compared the words read aloud: record the digest and move on to signing."""
        self._require("review")
        _lines, digest_hex, words = self.build_root(now)
        self.state.digest = digest_hex
        self._advance("sign", now, [f"reviewed root version 1; digest {digest_hex}", f"words read aloud: {words}"])

    def progress(self) -> list[Progress]:
        """Root signatures so far against the threshold."""
        root = self._root()
        keys, threshold = _md.root_role(root, "root")
        labels = {k.keyid: k.label for k in self.state.root_keys if k.keyid is not None}
        return [evaluate(root, Requirement("root (version 1)", keys, threshold), "root").named(labels)]

    def signing_keys(self) -> list[SigningKey]:
        """Root keys that have not signed yet."""
        signed = set(_md.signatures(self._root())) if self.state.root is not None else set()
        return [
            SigningKey(
                k.keyid,
                k.label,
                k.holder,
                f"PIN (token '{printable(k.token_label, 64)}' serial {printable(k.token_serial, 64)})"
                if k.backend == "token"
                else "passphrase",
            )
            for k in self.state.root_keys
            if k.keyid and k.keyid not in signed
        ]

    def sign(self, keyid: str, secret: str, now: datetime) -> list[Progress]:
        """One keyholder signs root version 1 with their key; the signature is verified before it is kept.

        Raises:
            PassphraseError / HsmError / SigningKeyError: unlocking or signing failed.
        """
        self._require("sign")
        entry = next((k for k in self._generated() if k.keyid == keyid), None)
        if entry is None:
            raise UsageError(f"{keyid[:12]}: not a root key of this ceremony")
        root = self._root()
        public = entry.planned.key()
        with contextlib.ExitStack() as stack:
            signer = unlock_held_key(
                self.path,
                entry.uri,
                public,
                entry.planned.label,
                lambda _l: secret,
                lambda _p: secret,
                self.module,
                stack,
            )
            if signer is None:  # a root key is held here (a key file or a token), by its URI
                raise UsageError(f"{entry.planned.label}: not a key held here")
            _md.add_signature(root, keyid, sign_as(signer, public, _md.signed_bytes(root)))
        self.state.root = _md.to_dict(root)
        progress = self.progress()
        commit_step(
            self.path,
            self.state,
            "tui new-root sign",
            [f"{entry.planned.label} ({entry.planned.holder}) signed root version 1; {progress[0].describe()}"],
            now,
            self._with_plan("sign", None),
        )
        return progress

    def finish_signing(self, now: datetime) -> None:
        """Move on to verification once the threshold is met.

        Raises:
            ThresholdNotMetError: too few signatures.
        """
        self._require("sign")
        progress = self.progress()[0]
        if not progress.verified:
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
        generated = self._generated()
        signers: dict[str, list[Signer]] = {role: [] for role in TOP_LEVEL}
        stack = contextlib.ExitStack()
        for role in ONLINE_ROLES:
            entry = self.state.online[role]
            if role not in skipped:
                signer = unlock_held_key(
                    self.path,
                    entry.uri,
                    entry.key(),
                    entry.label,
                    lambda _l: online_secret,
                    lambda _p: online_secret,
                    self.module,
                    stack,
                )
                if signer is not None:  # None: held by the online service, so skipped above
                    signers[role].append(signer)
        root_bytes = _md.to_bytes(self._root())
        files = {"1.root.json": root_bytes, "root.json": root_bytes}
        with stack:
            files.update(build_online_files(plans, signers, skipped))
        report = _verify.verify_files(files, root_bytes, now, "1.root.json")
        records = merge_key_records(
            [("root", KeyRecord(k.keyid, k.planned.label, ("root",), k.planned.key_type, k.uri)) for k in generated]
            + [(r, KeyRecord(v.keyid, v.label, (r,), v.key_type, v.uri)) for r, v in self.state.online.items()]
        )
        config = initial_config(plans, self.state.expiry_days, records, self.module)
        lines = [
            f"created repository version 1: root {self.state.threshold}-of-{len(generated)} (guided ceremony)",
            *[f"signed {name} (version 1)" for name in files if not name.endswith("root.json")],
            *[_policy.left_to_online_line(role) for role in skipped],
        ]
        details = (
            self._with_plan(
                "verify", {"participants": [p.to_dict() for p in self.state.participants], "digest": self.state.digest}
            )
            or {}
        )
        ws, _written, _head = complete_draft(self.path, files, config, "tui new-root verify", lines, details, now)
        summary = [f"ok {c.file} {c.role} v{c.version} {c.signatures}" for c in report.checks]
        self.state.step = "backup"
        save(self.path, self.state)
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

    def signoff_summary(self) -> list[str]:
        """What the participants read before they sign off: every transcript line so far, and its head.

        Read from the verified chain (the same bytes the check read), so what
        they approve is the record as it stands; the sign-off line is added
        after, and its own head is what the witness writes down.

        Raises:
            TranscriptError: the transcript does not verify.
        """
        self._require("signoff")
        report = verify_workspace_transcript(Workspace.load(self.path))
        lines = []
        for entry in report.records:  # every line of every entry: an exception written at preflight included
            recorded = entry.get("changes")
            changes: list[Any] = recorded if isinstance(recorded, list) else []
            lines.append(
                f"{printable(entry.get('seq'), 8):>3} {printable(entry.get('time'), 24)} "
                f"{printable(entry.get('command'), 60)}"
            )
            lines += [f"      {printable(change, 400)}" for change in changes]
        words = _diff.digest_words(bytes.fromhex(report.head))
        return [*lines, "", f"Transcript head now (SHA-256 of line {report.entries}): {report.head}", f"  {words}"]

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
        return commit_step(self.path, None, "tui new-root signoff", signed_off, now, self._with_plan("signoff", None))


#: What a new root draft holds before it becomes a workspace; a directory with anything else is not deleted.
_DRAFT_ENTRIES = frozenset({SESSION_NAME, _transcript.TRANSCRIPT_NAME, "keys", PLANS_DIR, _txn.JOURNAL_DIR})


def _check_online_against(plan: _plan.Plan, specs: Mapping[str, str]) -> None:
    """Each online role's key as the plan gives it: its key type, or the very public key file it names.

    Raises:
        PlanError: another key type, or a public key file with other bytes.
    """
    planned = {role: k for k in plan.keys for role in k.roles if role != "root"}
    for role, wanted in _plan.online_specs(plan).items():
        given = specs.get(role, "")
        key = planned.get(role)
        if key is not None and key.store == "elsewhere":
            _plan.check_public_key_file(key, Path(given))
        elif given != wanted:
            raise PlanError(f"{role}: the plan's key is a new {printable(wanted, 40)} key, not {printable(given, 200)}")


def plan_of(plan_file: Path) -> _plan.Plan:
    """A ceremony plan, read and parsed (not yet checked against policy: ``plan_run_for`` does that).

    Raises:
        InputFileError / PlanError: see plan.read_plan.
    """
    return _plan.read_plan(plan_file)[0]


def plan_run_for(plan_file: Path, path: Path, module: str | None) -> _plan.PlanRun:
    """A new root ceremony's run of ``plan_file`` in ``path``: read, held to every policy rule, a plan for this
    workspace, and a new plain TUF root's (the guided ceremony makes no other; ``ceremony init --plan`` does).

    Raises:
        InputFileError / PlanError / PolicyError / UsageError: the plan would not run here.
    """
    found, data = _plan.read_plan(plan_file)
    _plan.check_plan(found, module)
    check_guided_plan(found)
    _plan.check_workspace_name(found, path)
    return _plan.PlanRun(found, data, _plan.guided_step(found, "start"))


def check_guided_plan(plan: _plan.Plan) -> None:
    """The guided new root ceremony runs new-root plans of profile tuf, with software or generated token keys.

    Raises:
        PlanError: another kind or profile, or a root key it cannot make (held elsewhere, or an existing token key).
    """
    if plan.kind != "new-root" or plan.profile != "tuf":
        raise PlanError(
            f"{plan.source}: the guided new root ceremony runs new-root plans of profile tuf; run this "
            f"{plan.kind} ({plan.profile}) plan with the CLI"
        )
    for key in plan.root_keys():
        if key.store == "elsewhere" or key.uri:
            raise PlanError(
                f"{plan.source}: key {key.name!r}: the guided ceremony generates its root keys; use the CLI"
            )


def discard_draft(path: Path) -> list[str]:
    """Delete a new root ceremony that will not be finished; what was lost, for the operator.

    Only a draft is ever deleted: its session must read as a new root
    ceremony, no ``ceremony.json`` may be there (not even a dangling link),
    and the directory may hold nothing a draft does not (a published
    workspace has ``metadata/``; removable media holds other files). Each of
    the draft's own entries is removed, never the directory's other contents,
    and no link is followed. Keys made on tokens stay on the tokens (a draft
    never held them), so the lines say so.

    Raises:
        WorkspaceError: ``path`` is a link, not a draft, its session cannot be read, or it holds anything else.
    """
    path = Path(path)
    shown = printable(path, 200)
    if path.is_symlink() or not path.is_dir() or os.path.lexists(path / CONFIG_NAME):
        raise WorkspaceError(f"{shown}: not a new root ceremony in progress; nothing deleted")
    try:
        state = NewRootCeremony.open(path).state
    except CeremonyError as err:
        raise WorkspaceError(
            f"{shown}: its session does not read as a new root ceremony ({err}); nothing deleted: check the "
            "directory and remove it by hand if it is a draft"
        ) from err
    entries = sorted(os.listdir(path))
    others = [name for name in entries if name not in _DRAFT_ENTRIES]
    if others:
        listed = ", ".join(printable(n, 60) for n in others[:5])
        raise WorkspaceError(f"{shown}: holds more than a draft ({listed}); nothing deleted")
    tokens = [f"{k.label} on {k.token_label}" for k in state.root_keys if k.backend == "token" and k.keyid]
    for name in entries:
        entry = path / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    path.rmdir()
    lines = [f"deleted the draft {shown} and the key files in it"]
    if tokens:
        lines.append(f"keys made on tokens stay on them: {', '.join(printable(t, 60) for t in tokens)}")
    return lines


def backup_with_test_restore(ws: Workspace, out: Path, now: datetime) -> list[str]:
    """Export every root version and prove the printable sheets restore (recovery.py; the ledger records it)."""
    return _recovery.export_with_test_restore(ws, Path(out), now)
