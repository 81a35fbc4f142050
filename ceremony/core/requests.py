"""Sign requests: a change carried to keyholders wherever their keys are, and merged back once signed.

Two records, each a typed class with ``from_dict`` (every field checked, as
hostile input) and ``to_dict``:

- ``SignRequest``, the file a keyholder signs (``ceremony-sign-request``
  format 1): the proposed metadata, the previous root and the delegating
  context that decide which keys may sign, the current versions the diff is
  shown against, and a digest over what will be signed;
- ``PendingChange``, the workspace's own record of a request it made
  (``pending/<id>.json``): everything publishing writes. Merge publishes only
  this record; nothing a returned copy carries besides signatures is used.

Which keys must sign is never taken from a request: ``thresholds.requirements_for``
derives it from the previous root, the new root and the delegating metadata,
and every signature taken from a copy is judged again by those requirements.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.core import _txn
from ceremony.core import diff as _diff
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core import sigstore as _sigstore
from ceremony.core import transcript as _transcript
from ceremony.core._fs import write_atomic
from ceremony.core._json import dumps_pretty, read_json
from ceremony.core._text import printable
from ceremony.core.dates import format_date
from ceremony.core.keys import SecretsHandler
from ceremony.core.proposal import (
    ChangeContext,
    Proposal,
    State,
    context_chain,
    context_parents,
    load_state,
    proposal_payloads,
    proposal_requirements,
)
from ceremony.core.publish import PublishResult, publish, sign_here, threshold_error
from ceremony.core.roles import KEYID, PENDING_DIR, TARGETS_DIR, TOP_LEVEL, display_name
from ceremony.core.signers import PassphraseProvider, open_own_key, sign_as
from ceremony.core.thresholds import Requirement, ThresholdResult, evaluate, evaluate_all, requirements_for
from ceremony.core.workspace import Workspace, check_config
from ceremony.errors import InputFileError, SigningKeyError, TamperedRequestError, UsageError, WorkspaceError

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Root  # noqa: TID251 - types only

REQUEST_TYPE = "ceremony-sign-request"
REQUEST_FORMAT = 1
#: A sign request carries a few metadata files; python-tuf's largest metadata limit (5 MB) four times over.
MAX_REQUEST_BYTES = 24 * 1024 * 1024
#: Lines of the request's own (unsigned) description shown to a keyholder.
MAX_SUMMARY_LINES = 50
#: Commands that make pending changes (the transcript and the operator see this name).
PENDING_COMMANDS = (
    "rotate",
    "extend",
    "delegate",
    "delegate --remove",
    "targets add",
    "targets remove",
    "sigstore set-trust",
)


def _metadata_of(obj: object, source: str, role: str) -> Metadata:
    """One metadata object of a request or pending record, whose type must fit ``role``.

    Raises:
        InputFileError: not metadata, or of the wrong type (a targets file given as a root).
    """
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: {role} is not a metadata object")
    md = _md.from_dict(obj, f"{source} {role}")
    expected = role if role in TOP_LEVEL else "targets"
    if _md.role_type(md) != expected:
        raise InputFileError(f"{source}: {role} is {_md.role_type(md)} metadata, expected {expected}")
    return md


def _object(obj: object, source: str, what: str) -> dict[str, Any]:
    """A field that must be a JSON object.

    Raises:
        InputFileError: naming the field.
    """
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: '{what}' is not an object")
    return obj


def _metadata_map(obj: object, source: str, what: str) -> dict[str, Metadata]:
    """role -> metadata, every name and type checked."""
    return {
        _policy.check_role_name(role, f"{source} {what}"): _metadata_of(md, source, role)
        for role, md in _object(obj, source, what).items()
    }


def _role_map(obj: object, source: str, what: str) -> dict[str, str]:
    """role -> role (delegated role -> the role that delegates it), every name checked."""
    return {
        _policy.check_role_name(k, f"{source} {what}"): _policy.check_role_name(v, f"{source} {what}")
        for k, v in _object(obj, source, what).items()
    }


def _text_list(obj: object, source: str, what: str, limit: int = MAX_SUMMARY_LINES) -> list[str]:
    """A list of at most ``limit`` strings."""
    if obj is None:
        return []
    if not isinstance(obj, list) or not all(isinstance(x, str) for x in obj) or len(obj) > limit:
        raise InputFileError(f"{source}: '{what}' is not a list of at most {limit} lines of text")
    return list(obj)


def accept_signatures(
    target: Mapping[str, Metadata], source: Mapping[str, Metadata], reqs: Mapping[str, list[Requirement]]
) -> int:
    """Copy into ``target`` the signatures of ``source`` by keys ``reqs`` needs that verify over the target's bytes.

    Every signature taken from a copy signed elsewhere passes here: a copy is
    only consistent with itself (its own previous root and context), so its
    signatures are judged again by the requirements of the change they join.
    Returns how many were added.
    """
    added = 0
    for role, md in target.items():
        payload = _md.signed_bytes(md)
        allowed = {keyid: key for req in reqs[role] for keyid, key in req.keys.items()}
        for keyid, sig in _md.signatures(source.get(role, md)).items():
            key = allowed.get(keyid)
            if keyid in _md.signatures(md) or key is None or not _keys.signature_is_valid(key, sig, payload):
                continue
            _md.add_signature(md, keyid, sig)
            added += 1
    return added


@dataclass
class SignRequest:
    """A sign request file, parsed and checked against its own digest and signatures."""

    path: Path
    raw: dict[str, Any]
    id: str
    previous_root: Metadata[Root]
    metadata: dict[str, Metadata]
    parents: dict[str, str]
    context: dict[str, Metadata]
    summary: list[str]
    #: A set-trust request's files: name -> (role, new bytes, current bytes or None); the new bytes match the
    #: target the proposed metadata lists (checked on load), the current ones are checked in ``describe``.
    trust_files: dict[str, tuple[str, bytes, bytes | None]] = field(default_factory=dict)

    def requirements(self) -> dict[str, list[Requirement]]:
        """Which keys must sign each file."""
        return requirements_for(self.previous_root, self.metadata, self.parents, self.context)

    def statuses(self) -> list[ThresholdResult]:
        """Where every threshold stands."""
        return evaluate_all(self.requirements(), self.metadata)

    def digest(self) -> bytes:
        """The digest over every proposed file's canonical bytes."""
        return _diff.payload_digest({role: _md.signed_bytes(md) for role, md in self.metadata.items()})

    def describe(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed, computed here: diff lines, digest hex and words.

        Every line is derived from the metadata the digest covers, compared
        with the previous root (which carries a threshold of its own
        signatures) or with the request's copy of the current version only
        when that copy is signed by the keys the previous root or the
        delegating metadata gives its role; an unsigned ``current`` would let
        a forger choose what the diff calls unchanged. The request's own
        ``summary`` is not here: it is not signed (see ``unsigned_summary``).
        A Sigstore trust root the request carries is diffed and checked here
        too, its validity windows judged at ``now`` (this machine's clock by
        default). Every line is printable (controls from the file escaped).
        """
        lines: list[str] = []
        current = self.raw.get("current") or {}
        reqs = self.requirements()
        for role, md in self.metadata.items():
            name = display_name(role, _md.version(md))
            old = self.previous_root if role == "root" else self._verified_current(role, current.get(role), reqs)
            if role != "root" and old is None and current.get(role) is not None:
                lines.append(
                    f"{name}: the request's copy of the current version is not signed by its role's keys; "
                    "the new version is shown in full"
                )
            delegator = self._delegator_of(role) if old is None and role != "root" else None
            lines += _diff.describe_change(
                name,
                _md.signed_dict(old) if old is not None else None,
                _md.signed_dict(md),
                role=None if role == "root" else role,
                delegator=delegator,
            )
        lines += self._trust_lines(current, reqs, now or datetime.now(UTC))
        digest = self.digest()
        return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)

    def _delegator_of(self, role: str) -> dict[str, Any] | None:
        """The proposed ``signed`` of the role in this request that delegates to ``role`` by name, if any.

        Read from the request's own proposed files, which the digest covers: the keyholder's diff of a new role
        names its keys and threshold as the delegation that will be signed lists them.
        """
        for other, md in self.metadata.items():
            signed = _md.signed_dict(md)
            delegations = signed.get("delegations")
            listed = delegations.get("roles") if isinstance(delegations, dict) else None
            named = isinstance(listed, list) and any(isinstance(r, dict) and r.get("name") == role for r in listed)
            if other != role and named:
                return dict(signed)
        return None

    def _trust_lines(
        self, current: Mapping[str, object], reqs: Mapping[str, list[Requirement]], now: datetime
    ) -> list[str]:
        """The trust-root changes of a Sigstore trust root this request changes, computed here from its files.

        The new files match the signed metadata (checked on load); a current file is used only when the
        request's copy of its role's current version is signed by that role's keys and lists exactly it. A
        request that changes ``trusted_root.json`` or ``signing_config.v0.2.json`` without carrying them
        (made by an older ceremony, or stripped) says so: only its unsigned summary describes the change.
        """
        lines: list[str] = []
        carried: dict[str, tuple[bytes, bytes | None, str]] = {}
        for role, md in self.metadata.items():
            listed = _md.targets_of(md) if _md.role_type(md) == "targets" else {}
            if not any(name in listed for name in _sigstore.TRUST_NAMES):
                continue
            old = self._verified_current(role, current.get(role), reqs)
            was = _md.targets_of(old) if old is not None else {}
            for name in _sigstore.TRUST_NAMES:
                if name not in listed:
                    continue
                if name not in self.trust_files or self.trust_files[name][0] != role:
                    if listed[name] != was.get(name):
                        lines.append(
                            f"trust root: this request does not carry {name}: its changes cannot be computed here "
                            "(only the request's unsigned summary describes them)"
                        )
                    continue
                _role, new_bytes, old_bytes = self.trust_files[name]
                why = ""
                if old is None and current.get(role) is not None:
                    why = f"the request's current {role} is not signed by its role's keys"
                elif name in was and (old_bytes is None or not _sigstore.matches_target(old_bytes, was[name])):
                    why = f"the request's current {name} is not the one {role} lists now"
                elif name not in was and old_bytes is not None:
                    why = f"{role} lists no {name} now, yet the request carries a current one"
                carried[name] = (new_bytes, None if why else old_bytes, why)
        return lines + (_sigstore.keyholder_changes(carried, now) if carried else [])

    def _verified_current(self, role: str, obj: object, reqs: Mapping[str, list[Requirement]]) -> Metadata | None:
        """The request's copy of ``role``'s current version, if a threshold of its role's keys signed it."""
        if not isinstance(obj, dict):
            return None
        try:
            md = _metadata_of(obj, f"{self.path} current", role)
        except InputFileError:
            return None
        if role in TOP_LEVEL:
            keys, threshold = _md.root_role(self.previous_root, role)
            checks = [Requirement(role, keys, threshold)]
        else:
            checks = reqs.get(role, [])
        if checks and all(evaluate(md, req, role).verified for req in checks):
            return md
        return None

    def unsigned_summary(self) -> list[str]:
        """The request's own description of itself: NOT signed and not covered by the words; printable."""
        return [printable(line, 300) for line in self.summary]

    def take_signatures(self, other: SignRequest) -> int:
        """Add the signatures of a signed copy that this request's own requirements accept; return how many.

        A copy is checked only against itself when it is loaded, so each of its
        signatures must also be by a key this request needs and verify over
        this request's bytes; anything else is left out.
        """
        return accept_signatures(self.metadata, other.metadata, self.requirements())

    def to_dict(self) -> dict[str, Any]:
        """The request file's content with the current signatures (every other field as it was read)."""
        obj = dict(self.raw)
        obj["metadata"] = {role: _md.to_dict(md) for role, md in self.metadata.items()}
        return obj

    def to_json(self) -> bytes:
        """The request file's bytes with the current signatures."""
        return dumps_pretty(self.to_dict())

    @classmethod
    def build(cls, request_id: str, state: State, proposal: Proposal, created: str, out: Path) -> SignRequest:
        """A new request for ``proposal`` against the published ``state``."""
        context = context_parents(state, proposal)
        obj = {
            "type": REQUEST_TYPE,
            "format": REQUEST_FORMAT,
            "id": request_id,
            "created": created,
            "command": proposal.command,
            "summary": proposal.summary,
            "previous_root": _md.to_dict(state.root),
            "context": {role: _md.to_dict(md) for role, md in context.items()},
            "parents": {**context_chain(state, context), **proposal.parents},
            # What the keyholder's diff compares against (not signed, not trusted for requirements).
            "current": {
                role: _md.to_dict(current)
                for role in proposal.metadata
                if role != "root" and (current := state.current(role)) is not None
            },
            "metadata": {role: _md.to_dict(md) for role, md in proposal.metadata.items()},
            "digest": _diff.payload_digest(proposal_payloads(proposal)).hex(),
        }
        if proposal.command == "sigstore set-trust":  # the keyholder's tool computes the trust-root changes
            obj["trust_files"] = {
                name: {"role": role, "new": _b64(new), "current": None if old is None else _b64(old)}
                for name, (role, new, old) in _sigstore.carried_files(state, proposal).items()
            }
        return cls.from_dict(obj, out)

    @classmethod
    def from_dict(cls, obj: object, path: Path) -> SignRequest:
        """A request read from ``path``, checked: format, names, types, digest, versions, and every signature.

        Raises:
            InputFileError: not a sign request, or malformed.
            TamperedRequestError: the content differs from its digest, or a signature does not verify.
        """
        if not isinstance(obj, dict) or obj.get("type") != REQUEST_TYPE or obj.get("format") != REQUEST_FORMAT:
            raise InputFileError(f"{path}: not a ceremony sign request (format {REQUEST_FORMAT})")
        return _checked_request(path, obj)


@dataclass
class PendingChange:
    """The workspace's record of a change it sent out as a sign request: what publishing it will write.

    It is the workspace's own file, but after a crash, a restore or an edit it
    is read as hostile like any other (``from_dict``).
    """

    request_id: str
    base_root_version: int
    command: str
    metadata: dict[str, Metadata]  # role -> the new version, unsigned or signed by the keys this change made
    config: dict[str, Any]
    new_key_files: dict[str, bytes] = field(default_factory=dict)
    target_files: dict[str, bytes | None] = field(default_factory=dict)  # targets/<path> -> bytes (None: remove)
    summary: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    removed_roles: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)

    @classmethod
    def from_proposal(cls, request_id: str, proposal: Proposal) -> PendingChange:
        """The record of ``proposal`` sent out as request ``request_id``."""
        return cls(
            request_id,
            proposal.base_root_version,
            proposal.command,
            proposal.metadata,
            proposal.config,
            dict(proposal.new_key_files),
            dict(proposal.target_files),
            list(proposal.summary),
            list(proposal.notes),
            dict(proposal.details),
            dict(proposal.parents),
            list(proposal.removed_roles),
            sorted(proposal.revoked),
        )

    def to_proposal(self) -> Proposal:
        """The change to publish, exactly as this workspace made it."""
        return Proposal(
            command=self.command,
            summary=list(self.summary),
            base_root_version=self.base_root_version,
            metadata=self.metadata,
            parents=dict(self.parents),
            removed_roles=list(self.removed_roles),
            new_key_files=dict(self.new_key_files),
            target_files=dict(self.target_files),
            config=self.config,
            revoked=set(self.revoked),
            notes=list(self.notes),
            details={**self.details, "request_id": self.request_id},
        )

    def to_dict(self) -> dict[str, Any]:
        """The form written to pending/<id>.json (key files base64, metadata as dicts)."""
        return {
            "request_id": self.request_id,
            "base_root_version": self.base_root_version,
            "command": self.command,
            "summary": self.summary,
            "notes": self.notes,
            "details": self.details,
            "parents": self.parents,
            "removed_roles": self.removed_roles,
            "revoked": self.revoked,
            "config": self.config,
            "metadata": {role: _md.to_dict(md) for role, md in self.metadata.items()},
            "new_key_files": {k: base64.b64encode(v).decode() for k, v in self.new_key_files.items()},
            "target_files": {
                k: None if v is None else base64.b64encode(v).decode() for k, v in self.target_files.items()
            },
        }

    @classmethod
    def from_dict(cls, record: object, path: Path, request_id: str) -> PendingChange:
        """A pending record, every field checked.

        Raises:
            InputFileError: a field is missing, of the wrong type, or names something this tool never writes.
        """
        source = str(path)
        if not isinstance(record, dict):
            raise InputFileError(f"{path}: not a pending change record")
        for name, kind in (
            ("request_id", str),
            ("base_root_version", int),
            ("command", str),
            ("metadata", dict),
            ("config", dict),
            ("new_key_files", dict),
        ):
            if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool):
                raise InputFileError(f"{path}: pending change record has no valid '{name}'")
        if record["request_id"] != request_id:
            raise InputFileError(f"{path}: the pending record is for request {printable(record['request_id'], 40)}")
        if record["command"] not in PENDING_COMMANDS:
            raise InputFileError(f"{path}: unknown command {printable(record['command'], 40)!r} in a pending record")
        removed = _text_list(record.get("removed_roles"), source, "removed_roles")
        for role in removed:
            _policy.check_role_name(role, f"{source} removed_roles")
        revoked = _text_list(record.get("revoked"), source, "revoked", limit=10_000)
        for keyid in revoked:
            if not KEYID.match(keyid):
                raise InputFileError(f"{path}: revoked key id {printable(keyid, 80)!r} is not a key id")
        details = record.get("details") or {}
        if not isinstance(details, dict):
            raise InputFileError(f"{path}: 'details' is not an object")
        check_config(record["config"], f"{path} config")
        key_files = {}
        for keyid, encoded in record["new_key_files"].items():
            if not KEYID.match(keyid) or not isinstance(encoded, str):
                raise InputFileError(f"{path}: new key file {printable(keyid, 80)!r} is not keys/<keyid>.p12")
            try:
                key_files[keyid] = base64.b64decode(encoded, validate=True)
            except ValueError as err:
                raise InputFileError(f"{path}: the new key file for {keyid[:12]} is not base64") from err
        target_files: dict[str, bytes | None] = {}
        found = record.get("target_files") or {}
        if not isinstance(found, dict):
            raise InputFileError(f"{path}: 'target_files' is not an object")
        for rel, encoded in found.items():
            if not isinstance(rel, str) or not rel.startswith(f"{TARGETS_DIR}/"):
                raise InputFileError(f"{path}: target file {printable(rel, 80)!r} is not below {TARGETS_DIR}/")
            # A file name as the journal writes it (with consistent snapshots HASH.NAME, longer than a target path's
            # segment may be); publish then checks each name against the metadata (publish._check_target_files).
            try:
                _txn.check_rel_path(rel, f"{path}: target file")
            except WorkspaceError as err:
                raise InputFileError(str(err)) from None
            try:
                target_files[rel] = None if encoded is None else base64.b64decode(encoded, validate=True)
            except (ValueError, TypeError) as err:
                raise InputFileError(f"{path}: the target file {printable(rel, 80)} is not base64") from err
        return cls(
            request_id=request_id,
            base_root_version=record["base_root_version"],
            command=record["command"],
            metadata=_metadata_map(record["metadata"], source, "metadata"),
            config=record["config"],
            new_key_files=key_files,
            target_files=target_files,
            summary=_text_list(record.get("summary"), source, "summary"),
            notes=_text_list(record.get("notes"), source, "notes"),
            details=details,
            parents=_role_map(record.get("parents") or {}, source, "parents"),
            removed_roles=removed,
            revoked=revoked,
        )


def write_request(ctx: ChangeContext, state: State, proposal: Proposal, out: Path) -> tuple[str, str]:
    """Write a self-contained sign request and keep what publishing needs in the workspace.

    Keys made by the change sign before the request is written (their
    passphrase was just typed). Returns the request id and the transcript head.

    Raises:
        WorkspaceError: ``out`` exists.
    """
    if out.exists():
        raise WorkspaceError(f"{out}: already exists; refusing to overwrite a sign request")
    sign_here(ctx, state, proposal, only_new_keys=True)
    request_id = secrets.token_hex(8)
    request = SignRequest.build(request_id, state, proposal, format_date(ctx.now), out)
    pending = PendingChange.from_proposal(request_id, proposal)
    # The pending record and its transcript line together; the request file (outside the workspace)
    # after them. A kill in between leaves a pending change without its file: making the change
    # again writes a new request, and the orphan record is never merged (nothing signs it).
    record = dumps_pretty(pending.to_dict())
    if len(record) > MAX_REQUEST_BYTES:
        # The record is read back with this bound at merge: a larger one could be written but never merged.
        raise UsageError(
            f"this change needs a pending record of {len(record):,} bytes, more than the {MAX_REQUEST_BYTES:,} a "
            "merge reads (large target files travel in it): sign it here, or split it into smaller changes"
        )
    with _txn.transaction(ctx.ws.path) as txn:
        digest = txn.write(f"{PENDING_DIR}/{request_id}.json", record)
        files = {f"{PENDING_DIR}/{request_id}.json": digest}
        details: dict[str, Any] = {"request_digest": request.digest().hex(), "notes": proposal.notes}
        if ctx.plan_run is not None:
            files.update(ctx.plan_run.stage(ctx.ws.path, txn))
            details["plan"] = ctx.plan_run.details()
        head = _transcript.append(
            ctx.ws.path,
            f"{proposal.command} --request",
            [*proposal.summary, f"wrote sign request {request_id} to {out.name}"],
            files,
            [],
            ctx.now,
            details,
            txn,
        )
    write_atomic(out, request.to_json())
    return request_id, head


def load_request(path: Path) -> SignRequest:
    """Read a sign request and check it (``SignRequest.from_dict``).

    Raises:
        InputFileError: not a sign request, or malformed.
        TamperedRequestError: the content differs from its digest, or a signature does not verify.
    """
    return SignRequest.from_dict(read_json(path, "sign request", limit=MAX_REQUEST_BYTES), path)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _trust_files(
    obj: object, source: str, metadata: Mapping[str, Metadata]
) -> dict[str, tuple[str, bytes, bytes | None]]:
    """A set-trust request's carried files, bounded, each new one exactly the target the proposed metadata lists.

    The field is optional: requests made before it existed load, and ``describe`` says what they lack.

    Raises:
        InputFileError: malformed, too large, or a name set-trust does not publish.
        TamperedRequestError: a new file is not the target the metadata to be signed lists.
    """
    if obj is None:
        return {}
    files = _object(obj, source, "trust_files")
    found: dict[str, tuple[str, bytes, bytes | None]] = {}
    total = 0
    for name, entry in files.items():
        if name not in _sigstore.TRUST_NAMES or not isinstance(entry, dict):
            raise InputFileError(
                f"{source}: trust_files: {printable(str(name), 80)!r} is not a file set-trust publishes"
            )
        role = entry.get("role")
        if not isinstance(role, str) or role not in metadata:
            raise InputFileError(f"{source}: trust_files: {name}: its role is not one this request proposes")
        decoded: list[bytes | None] = []
        for part in ("new", "current"):
            value = entry.get(part)
            if value is None and part == "current":
                decoded.append(None)
                continue
            if not isinstance(value, str) or len(value) > _sigstore.MAX_TRUST_FILE_BYTES * 4 // 3 + 4:
                raise InputFileError(f"{source}: trust_files: {name}: '{part}' is not base64 of at most one file")
            try:
                decoded.append(base64.b64decode(value, validate=True))
            except ValueError:
                raise InputFileError(f"{source}: trust_files: {name}: '{part}' is not base64") from None
            total += len(decoded[-1] or b"")
        if total > _sigstore.MAX_CARRIED_BYTES:
            raise InputFileError(f"{source}: trust_files: above {_sigstore.MAX_CARRIED_BYTES:,} bytes together")
        new, current = decoded
        assert new is not None  # noqa: S101 - "new" is never None above
        listed = _md.targets_of(metadata[role]).get(name) if _md.role_type(metadata[role]) == "targets" else None
        if not _sigstore.matches_target(new, listed):
            raise TamperedRequestError(
                f"{source}: its {name} is not the target {printable(role, 80)} lists in the metadata to be signed",
                source,
                "trust-files",
            )
        found[name] = (role, new, current)
    return found


def _checked_request(path: Path, obj: dict[str, Any]) -> SignRequest:
    """Every check of a sign request's content, in the order a forger would have to pass them."""
    source = str(path)
    for name in ("id", "previous_root", "metadata", "digest"):
        if name not in obj:
            raise InputFileError(f"{path}: malformed sign request (no '{name}')")
    request_id = _policy.check_request_id(obj["id"], source)
    previous = _metadata_of(obj["previous_root"], source, "root")
    metadata = _metadata_map(obj["metadata"], source, "metadata")
    if not metadata:
        raise InputFileError(f"{path}: the sign request proposes no metadata; there is nothing to sign")
    context = _metadata_map(obj.get("context") or {}, source, "context")
    parents = _role_map(obj.get("parents") or {}, source, "parents")
    if not isinstance(obj.get("current") or {}, dict):
        raise InputFileError(f"{path}: 'current' is not an object")
    if not isinstance(obj["digest"], str):
        raise InputFileError(f"{path}: 'digest' is not text")
    request = SignRequest(
        path,
        obj,
        request_id,
        previous,
        metadata,
        parents,
        context,
        _text_list(obj.get("summary"), source, "summary"),
        _trust_files(obj.get("trust_files"), source, metadata),
    )
    if request.digest().hex() != obj.get("digest"):
        raise TamperedRequestError(
            f"{path}: the proposed metadata does not match the request's digest: it was changed after it was made",
            str(path),
            "digest",
        )
    # The digest covers only what will be signed; the previous root and the
    # delegating context decide which keys are accepted, so they must carry
    # valid signatures themselves (a forger has no keys to make those).
    own_keys, own_threshold = _md.root_role(previous, "root")
    if not evaluate(previous, Requirement("previous root", own_keys, own_threshold)).verified:
        raise TamperedRequestError(
            f"{path}: its previous root is not signed by a threshold of its own root keys; the request was tampered with",
            str(path),
            "previous-root",
        )
    _check_chain(path, previous, metadata, context, parents)
    if "root" in metadata and _md.version(metadata["root"]) != _md.version(previous) + 1:
        raise TamperedRequestError(
            f"{path}: proposes root version {_md.version(metadata['root'])} after version {_md.version(previous)}",
            str(path),
            "version",
        )
    reqs = request.requirements()
    for role, md in metadata.items():
        payload = _md.signed_bytes(md)
        allowed = {keyid: key for req in reqs[role] for keyid, key in req.keys.items()}
        for keyid, sig in _md.signatures(md).items():
            key = allowed.get(keyid)
            if key is None or not _keys.signature_is_valid(key, sig, payload):
                raise TamperedRequestError(
                    f"{path}: the signature by {keyid[:12]} on {role} does not verify; the request was tampered with",
                    str(path),
                    "signature",
                )
    return request


def _check_chain(
    path: Path,
    previous: Metadata[Root],
    metadata: Mapping[str, Metadata],
    context: Mapping[str, Metadata],
    parents: Mapping[str, str],
) -> None:
    """Every delegating link a request relies on is vouched for, from the previous root down.

    A context role must carry a threshold of the signatures its own delegator
    gives it (a top-level role: the previous root's keys), and every proposed
    delegated role must reach a top-level role or a vouched context role through
    ``parents`` without a loop: a role named as its own parent, or two roles
    naming each other, would let a forger's copy supply the keys that judge it.

    Raises:
        TamperedRequestError: a link that is not vouched for.
    """

    def refuse(role: str, why: str) -> TamperedRequestError:
        return TamperedRequestError(
            f"{path}: its {printable(role, 80)} {why}; the request was tampered with", str(path), "context"
        )

    vouched: set[str] = set()

    def vouch(role: str, below: frozenset[str]) -> None:
        if role in vouched:
            return
        if role in TOP_LEVEL:
            keys, threshold = _md.root_role(previous, role)
        else:
            parent = parents.get(role)
            if parent is None or parent in below or parent == role or parent not in context:
                raise refuse(role, "context has no delegating role this request vouches for")
            vouch(parent, below | {role})
            delegation = _md.delegation(context[parent], role)
            if delegation is None:
                raise refuse(role, f"context is not delegated by {printable(parent, 80)}")
            keys, threshold = delegation
        if not evaluate(context[role], Requirement(role, keys, threshold)).verified:
            raise refuse(role, "context is not signed by the keys that delegate it")
        vouched.add(role)

    for role in context:
        vouch(role, frozenset())
    for role in metadata:
        name, seen = role, {role}
        while name not in TOP_LEVEL and name not in context:
            parent = parents.get(name)
            if parent is None:
                break  # requirements_for refuses a delegated role nobody names
            if parent in seen:
                raise refuse(role, "delegation chain loops back on itself")
            name = parent
            seen.add(name)


def sign_request(
    request: SignRequest,
    keyspec: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
    module: str | None = None,
) -> list[str]:
    """Sign every file of the request that the keyholder's key must sign; verify each signature.

    KEYSPEC is the keyholder's own key: a ``pkcs11:`` URI, or a software key file (PKCS#12).
    Returns the roles signed.

    Raises:
        SigningKeyError: the key is not one of the keys this request needs, or has signed already.
        PassphraseError / HsmError: unlocking the key failed.
    """
    reqs = request.requirements()
    identity, signer_for = open_own_key(keyspec, passphrase_for, pin_for, stack, pin_file, module)
    signed_roles = []
    needed_anywhere = False
    for role, md in request.metadata.items():
        payload = _md.signed_bytes(md)
        for req in reqs[role]:
            for keyid, key in req.keys.items():
                if _keys.public_key_identity(key) != identity:
                    continue
                needed_anywhere = True
                if keyid in _md.signatures(md) and _keys.signature_is_valid(key, _md.signatures(md)[keyid], payload):
                    continue
                _md.add_signature(md, keyid, sign_as(signer_for(key), key, payload))
                if role not in signed_roles:
                    signed_roles.append(role)
    if not needed_anywhere:
        needed = "; ".join(
            f"{r.label}: {', '.join(k[:12] for k in r.keys)}" for role_reqs in reqs.values() for r in role_reqs
        )
        raise SigningKeyError(f"this key is not one of the keys this request needs ({needed})")
    if not signed_roles:
        raise SigningKeyError("this key has already signed everything it can sign in this request")
    return signed_roles


def save_request(request: SignRequest, out: Path | None = None) -> None:
    """Write the request (with its new signatures) atomically."""
    write_atomic(out or request.path, request.to_json())


def load_pending(ws: Workspace, request_id: str) -> PendingChange:
    """The workspace's record of a request it made.

    Raises:
        WorkspaceError: this workspace did not make the request, or already merged it.
        InputFileError: the record is malformed.
    """
    path = ws.path / PENDING_DIR / f"{_policy.check_request_id(request_id, 'sign request')}.json"
    if not path.exists() and not path.is_symlink():
        raise WorkspaceError(
            f"{ws.path}: sign request {request_id} was not made by this workspace, or was merged already"
        )
    return read_pending(path, request_id)


def read_pending(path: Path, request_id: str) -> PendingChange:
    """Read pending/<id>.json (``PendingChange.from_dict``).

    Raises:
        InputFileError: a field is missing, of the wrong type, or names something this tool never writes.
    """
    return PendingChange.from_dict(read_json(path, "pending change", limit=MAX_REQUEST_BYTES), path, request_id)


def merge(
    ctx: ChangeContext, paths: list[Path], also: Callable[[_txn.Transaction], None] | None = None
) -> tuple[PublishResult | None, list[ThresholdResult]]:
    """Check every signature of one or more signed copies of a request; publish when every threshold is met.

    Raises:
        TamperedRequestError: a request's content differs from what this workspace made, or a signature is bad.
        ThresholdNotMetError: thresholds not met (nothing written; ``statuses`` attribute lists them).
        WorkspaceError: unknown request, or the workspace moved on.
    """
    if not paths:
        raise UsageError("merge needs at least one sign request")
    requests = [load_request(p) for p in paths]
    ids = {r.id for r in requests}
    if len(ids) != 1:
        raise UsageError(
            f"these files are copies of different sign requests ({', '.join(sorted(ids))}); merge one change at a time"
        )
    pending = load_pending(ctx.ws, requests[0].id)
    state = load_state(ctx.ws)
    if _md.version(state.root) != pending.base_root_version:
        raise WorkspaceError(
            f"{ctx.ws.path}: request {requests[0].id} was made against root version {pending.base_root_version}, "
            f"but the workspace is now at version {_md.version(state.root)}; make the change again"
        )
    base = pending.metadata
    for request in requests:
        if set(request.metadata) != set(base) or any(
            _md.signed_bytes(request.metadata[r]) != _md.signed_bytes(base[r]) for r in base
        ):
            raise TamperedRequestError(
                f"{request.path}: its proposed metadata differs from what this workspace put in request {request.id}",
                str(request.path),
                "content",
            )
    proposal = pending.to_proposal()
    reqs = proposal_requirements(state, proposal)
    for request in requests:
        accept_signatures(base, request.metadata, reqs)
    all_statuses = evaluate_all(reqs, proposal.metadata)
    unmet = [s for s in all_statuses if not s.verified]
    if unmet:
        raise threshold_error(
            unmet, all_statuses, {"keys": {**ctx.ws.config.get("keys", {}), **proposal.config.get("keys", {})}}
        )
    result = publish(ctx, state, proposal, [f"request {requests[0].id}"], also)
    return result, all_statuses
