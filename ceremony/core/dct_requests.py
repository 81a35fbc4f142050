"""Sign requests for Docker Content Trust root changes: keyholders sign wherever their keys are, offline.

A root change (``dct_changes.rotate_root`` or ``rotate_targets_key`` with ``request_out``) that keys held
here cannot sign alone is kept in the workspace as ``pending/<id>.json`` and leaves as a request file
(``ceremony-notary-sign-request``): the proposed root's ``signed`` object, the current root (which decides
which old keys may sign), the signatures made so far, and an unsigned summary. Each keyholder runs
``ceremony sign REQUEST --key KEYSPEC`` with their own token or key file: the key is matched to the root keys
by its public key, the diff and the words are shown, and the signature is checked before it is added.
``ceremony merge WS REQUEST...`` takes only signatures from the returned copies, each verified against the
pending change's own root (never the copy's), and publishes when the old root's threshold and the new one's
are met (notary's server and client need both).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ceremony.core import _txn, notary
from ceremony.core import dct as _dct
from ceremony.core import diff as _diff
from ceremony.core import notary_bundle as _bundle
from ceremony.core import roles as _roles
from ceremony.core import transcript as _transcript
from ceremony.core._fs import write_atomic
from ceremony.core._json import canonical_bytes, dumps_pretty, read_json
from ceremony.core._text import printable
from ceremony.core.keys import SecretsHandler
from ceremony.core.keys import dct as dct_keys
from ceremony.core.notary_verify import verify_notary
from ceremony.core.signers import PassphraseProvider, open_own_key
from ceremony.core.workspace import Workspace, check_config
from ceremony.errors import (
    CeremonyError,
    InputFileError,
    SigningKeyError,
    TamperedRequestError,
    ThresholdNotMetError,
    VerificationError,
)

REQUEST_TYPE = "ceremony-notary-sign-request"
REQUEST_FORMAT = 1
PENDING_TYPE = "ceremony-notary-pending"
#: A request holds two roots and a targets file: far below this.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_SUMMARY_LINES = 50
_REQUEST_FIELDS = {"type", "format", "id", "gun", "current_root", "root", "signatures", "summary"}
_PENDING_FIELDS = {
    "type",
    "format",
    "id",
    "gun",
    "command",
    "root",
    "signatures",
    "files",
    "config",
    "key_files",
    "changes",
}


def is_request(data: Any) -> bool:
    """True when a parsed request file is a DCT request (``ceremony sign`` dispatches on it)."""
    return isinstance(data, dict) and data.get("type") == REQUEST_TYPE


@dataclass
class DctRequest:
    """A sign request as a keyholder holds it: every field checked on reading (hostile input)."""

    id: str
    gun: str
    current_root: bytes  # the root the change rotates from, as the workspace has it (Go's file form)
    root: dict[str, Any]  # the proposed root's signed object
    signatures: list[notary.NotarySignature]
    summary: list[str]
    source: str = "request"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": REQUEST_TYPE,
            "format": REQUEST_FORMAT,
            "id": self.id,
            "gun": self.gun,
            "current_root": base64.b64encode(self.current_root).decode("ascii"),
            "root": self.root,
            "signatures": [s.to_dict() for s in self.signatures],
            "summary": self.summary,
        }

    @property
    def file(self) -> bytes:
        """The proposed root.json with the signatures so far, in Go's form."""
        return notary.file_bytes(self.root, self.signatures)

    def describe(self) -> tuple[list[str], str, str]:
        """The diff from the current root, and the digest of what is signed, in hex and as words."""
        current = notary.parse(self.current_root, f"{self.source}: current root", "root")
        lines = [
            f"root change of {printable(self.gun, 255)} (request {self.id}; every root certificate names this GUN)"
        ]
        lines += _diff.describe_change("root.json", current.signed, self.root)
        digest = _diff.payload_digest({"root.json": notary.signed_bytes(self.root)})
        return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)


def _signatures(value: Any, source: str) -> list[notary.NotarySignature]:
    if not isinstance(value, list) or len(value) > 64:
        raise InputFileError(f"{source}: 'signatures' is not a list of at most 64 signatures")
    # Each signature object is checked by notary.parse's own rules, inside a minimal file.
    wrapped = {"signed": {"_type": "Root", "expires": "2000-01-01T00:00:00Z", "version": 1}, "signatures": value}
    return notary.parse(canonical_bytes(wrapped), source, "root").signatures


def _proposed_root(value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputFileError(f"{source}: 'root' is not a root's signed object")
    md = notary.parse(notary.file_bytes(value, []), f"{source}: root", "root")
    return md.signed


def _request_from(obj: Any, source: str) -> DctRequest:
    if not isinstance(obj, dict) or obj.get("type") != REQUEST_TYPE or obj.get("format") != REQUEST_FORMAT:
        raise InputFileError(f"{source}: not a Docker Content Trust sign request of format {REQUEST_FORMAT}")
    if set(obj) != _REQUEST_FIELDS:
        raise InputFileError(f"{source}: a sign request has exactly the fields {', '.join(sorted(_REQUEST_FIELDS))}")
    if not isinstance(obj["id"], str) or not _roles.REQUEST_ID.match(obj["id"]):
        raise InputFileError(f"{source}: the request id is not 16 hex digits")
    try:
        current = base64.b64decode(obj["current_root"], validate=True) if isinstance(obj["current_root"], str) else b""
    except ValueError as err:
        raise InputFileError(f"{source}: current_root is not base64") from err
    notary.parse(current, f"{source}: current root", "root")
    summary = obj["summary"]
    if (
        not isinstance(summary, list)
        or len(summary) > MAX_SUMMARY_LINES
        or not all(isinstance(s, str) for s in summary)
    ):
        raise InputFileError(f"{source}: 'summary' is not a list of at most {MAX_SUMMARY_LINES} lines")
    gun = obj["gun"]
    _bundle.check_gun(gun)
    current_md = notary.parse(current, f"{source}: current root", "root")
    root = _proposed_root(obj["root"], source)
    for what, signed in (("current root", current_md.signed), ("proposed root", root)):
        _check_common_names(signed, gun, f"{source}: {what}")
    return DctRequest(
        id=obj["id"],
        gun=gun,
        current_root=current,
        root=root,
        signatures=_signatures(obj["signatures"], source),
        summary=[printable(s, 300) for s in summary],
        source=source,
    )


def _check_common_names(signed: Mapping[str, Any], gun: str, source: str) -> None:
    """Every root key's certificate names the request's GUN (CN = GUN), so the GUN a keyholder is shown is the
    repository whose roots they sign, even where the same token key roots several GUNs.

    Raises:
        InputFileError: a root key whose certificate names another GUN, or that holds no certificate.
    """
    for keyid, key_obj in _root_keys(signed).items():
        try:
            _keytype, pem = notary.key_public(key_obj)
            name = dct_keys.certificate_facts(pem)[0].common_name
        except (CeremonyError, ValueError) as err:
            raise InputFileError(f"{source}: root key {keyid[:12]} holds no readable certificate") from err
        if name != gun:
            raise InputFileError(
                f"{source}: root key {keyid[:12]} is certified for {printable(name, 120)!r}, not for the "
                f"request's GUN {printable(gun, 120)!r}"
            )


def load_request(path: Path) -> DctRequest:
    """A DCT sign request read as hostile input.

    Raises:
        InputFileError: one sentence naming the file and what is wrong.
    """
    source = printable(str(path))
    return _request_from(read_json(Path(path), "sign request", limit=MAX_REQUEST_BYTES), source)


def save_request(request: DctRequest, out: Path) -> None:
    """Write the request atomically (0600)."""
    write_atomic(out, dumps_pretty(request.to_dict()))


# --------------------------------------------------------------------------- which keys, and their signatures


def _root_keys(signed: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The root role's key objects of a root's signed object, by key id."""
    keys = signed.get("keys") or {}
    return {k: keys[k] for k in (signed.get("roles") or {}).get("root", {}).get("keyids", []) if k in keys}


def _spki(key_obj: Mapping[str, Any]) -> bytes | None:
    try:
        _keytype, pem = notary.key_public(key_obj)
        return dct_keys.canonical_spki(dct_keys.certificate_spki(pem))
    except (ValueError, InputFileError, VerificationError):
        return None
    except Exception:  # noqa: BLE001 - a hostile key object matches nothing
        return None


def sign_request(
    request: DctRequest,
    keyspec: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
) -> list[str]:
    """Sign the proposed root with the keyholder's own key under every id it has in the current or new root.

    Returns the key ids signed under.

    Raises:
        SigningKeyError: the key is not a root key of either root, or has signed already.
        PassphraseError / HsmError: unlocking the key failed.
    """
    current = notary.parse(request.current_root, f"{request.source}: current root", "root")
    identity, signer_for = open_own_key(keyspec, passphrase_for, pin_for, stack, pin_file)
    candidates = {**_root_keys(current.signed), **_root_keys(request.root)}
    mine = {k: obj for k, obj in candidates.items() if _spki(obj) == identity}
    if not mine:
        raise SigningKeyError("this key is not a root key of the current root or of the proposed one")
    payload = notary.signed_bytes(request.root)
    done = {s.keyid for s in request.signatures if s.keyid in mine and notary.verify(mine[s.keyid], s, payload)}
    todo = {k: obj for k, obj in mine.items() if k not in done}
    if not todo:
        raise SigningKeyError("this key has already signed this request")
    public = dct_keys.tuf_key_from_spki(identity)
    signer = signer_for(public)
    signers = [
        notary.NotarySigner(keyid, obj, lambda p: dct_keys.notary_signature(signer, p)) for keyid, obj in todo.items()
    ]
    signed = notary.add_signatures(request.file, request.source, "root", signers)
    request.signatures = notary.parse(signed, request.source, "root").signatures
    return list(todo)


# --------------------------------------------------------------------------- the workspace's side


@dataclass(frozen=True)
class PendingDct:
    """What a merge publishes: the workspace's own record of the change (``pending/<id>.json``)."""

    id: str
    gun: str
    command: str
    root: dict[str, Any]
    signatures: list[notary.NotarySignature]
    files: dict[str, bytes]  # other metadata of the change (targets.json), final
    config: dict[str, Any]
    key_files: dict[str, bytes]  # canonical id -> encrypted key of a key added by the change
    changes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": PENDING_TYPE,
            "format": REQUEST_FORMAT,
            "id": self.id,
            "gun": self.gun,
            "command": self.command,
            "root": self.root,
            "signatures": [s.to_dict() for s in self.signatures],
            "files": {n: base64.b64encode(d).decode("ascii") for n, d in self.files.items()},
            "config": self.config,
            "key_files": {k: base64.b64encode(d).decode("ascii") for k, d in self.key_files.items()},
            "changes": self.changes,
        }


def _b64_map(value: Any, source: str, what: str, names: Sequence[str] | None = None) -> dict[str, bytes]:
    if not isinstance(value, dict):
        raise InputFileError(f"{source}: '{what}' is not an object")
    found = {}
    for name, text in value.items():
        if names is not None and name not in names:
            raise InputFileError(f"{source}: '{what}' holds {printable(name, 60)!r}")
        if names is None and not _roles.KEYID.match(str(name)):
            raise InputFileError(f"{source}: '{what}' holds a key id that is not 64 hex digits")
        try:
            found[name] = base64.b64decode(text, validate=True)
        except (ValueError, TypeError) as err:
            raise InputFileError(f"{source}: '{what}' {printable(name, 60)} is not base64") from err
    return found


def _pending_from(obj: Any, source: str) -> PendingDct:
    if not isinstance(obj, dict) or obj.get("type") != PENDING_TYPE or set(obj) != _PENDING_FIELDS:
        raise InputFileError(f"{source}: not a pending Docker Content Trust change")
    if not isinstance(obj["id"], str) or not _roles.REQUEST_ID.match(obj["id"]):
        raise InputFileError(f"{source}: the request id is not 16 hex digits")
    check_config(obj["config"], f"{source} config")
    changes = obj["changes"]
    if not isinstance(changes, list) or not all(isinstance(c, str) for c in changes):
        raise InputFileError(f"{source}: 'changes' is not a list of lines")
    files = _b64_map(obj["files"], source, "files", ("targets.json",))
    for name, data in files.items():
        notary.parse(data, f"{source}: {name}", "targets")
    return PendingDct(
        id=str(obj["id"]),
        gun=str(obj["gun"]),
        command=str(obj["command"]),
        root=_proposed_root(obj["root"], source),
        signatures=_signatures(obj["signatures"], source),
        files=files,
        config=obj["config"],
        key_files=_b64_map(obj["key_files"], source, "key_files"),
        changes=[printable(c, 500) for c in changes],
    )


def _pending_rel(request_id: str) -> str:
    return f"{_roles.PENDING_DIR}/{request_id}.json"


def new_request_id() -> str:
    return secrets.token_hex(8)


def write_pending(
    ws: Workspace, pending: PendingDct, request_out: Path, summary: Sequence[str], now: datetime
) -> tuple[DctRequest, str]:
    """Keep ``pending`` in the workspace and write the request for the keyholders (one transaction, then the file).

    Raises:
        WorkspaceError: ``request_out`` exists.
    """
    _dct.refuse_existing(request_out)
    current = _dct.metadata_files(ws)["root.json"]
    request = DctRequest(pending.id, pending.gun, current, pending.root, list(pending.signatures), list(summary))
    with _txn.transaction(ws.path) as txn:
        digest = txn.write(_pending_rel(pending.id), dumps_pretty(pending.to_dict()))
        head = _transcript.append(
            ws.path,
            f"{pending.command} --request",
            [f"sign request {pending.id} written: {line}" for line in pending.changes[:1]]
            + [f"root.json v{pending.root['version']} waits for signatures (ceremony merge)"],
            {_pending_rel(pending.id): digest},
            sorted(ws.config["keys"]),
            now,
            {"request": pending.id},
            txn,
        )
    save_request(request, request_out)
    return request, head


def _accept(
    pending: PendingDct, current: notary.NotaryFile, copies: Sequence[DctRequest]
) -> list[notary.NotarySignature]:
    """The pending change's signatures plus every valid one from the copies, judged against the pending root.

    Raises:
        TamperedRequestError: a copy proposes another root, or belongs to another request.
    """
    payload = notary.signed_bytes(pending.root)
    keys = {**_root_keys(current.signed), **_root_keys(pending.root)}
    kept = {s.keyid: s for s in pending.signatures}
    for copy in copies:
        if copy.id != pending.id:
            raise TamperedRequestError(f"{copy.source}: request {copy.id} is not the pending request {pending.id}")
        if notary.signed_bytes(copy.root) != payload:
            raise TamperedRequestError(
                f"{copy.source}: proposes another root than the workspace's pending change {pending.id}; "
                "its signatures are not used"
            )
        for signature in copy.signatures:
            key_obj = keys.get(signature.keyid)
            if key_obj is not None and signature.keyid not in kept and notary.verify(key_obj, signature, payload):
                kept[signature.keyid] = signature
    return list(kept.values())


def merge(ws: Workspace, paths: Sequence[Path], bundle_out: Path, now: datetime | None = None) -> _dct.DctResult:
    """Add the signatures of returned requests; publish the change when both root thresholds are met.

    Raises:
        TamperedRequestError: a copy that does not match the pending change.
        ThresholdNotMetError: still short (the signatures so far are kept in the pending change).
        VerificationError: the result does not verify as the stock client would.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    copies = [load_request(p) for p in paths]
    if not copies:
        raise InputFileError("no sign request given")
    _dct.refuse_existing(bundle_out)
    rel = _pending_rel(copies[0].id)
    source = str(ws.path / rel)
    if not (ws.path / rel).is_file():
        raise InputFileError(f"{printable(source)}: no pending change {copies[0].id} in this workspace")
    pending = _pending_from(read_json(ws.path / rel, "pending change", limit=MAX_REQUEST_BYTES), source)
    files = _dct.metadata_files(ws)
    current = notary.parse(files["root.json"], "root.json", "root")
    if int(pending.root["version"]) != notary.version(current) + 1:
        raise TamperedRequestError(f"{source}: the workspace's root changed since request {pending.id} was made")
    signatures = _accept(pending, current, copies)
    root_file = notary.file_bytes(pending.root, signatures)
    version = notary.version(current) + 1
    # The workspace's targets.json is the last one it signed, the publisher's since: checked only when this
    # change writes a new one.
    kept = {n: d for n, d in files.items() if n != "targets.json"}
    proposed = {**kept, f"{version}.root.json": root_file, "root.json": root_file, **pending.files}
    try:
        report = verify_notary(proposed, pending.gun, now, _dct.anchor_root(files))
    except VerificationError as err:
        if err.check not in ("rotation", "self-signature", "threshold"):
            raise
        updated = PendingDct(**{**pending.__dict__, "signatures": signatures})
        with _txn.transaction(ws.path) as txn:
            txn.write(rel, dumps_pretty(updated.to_dict()))
        raise ThresholdNotMetError(
            f"request {pending.id}: {err}", hint="the signatures so far are kept; ask the other keyholders to sign"
        ) from err
    written_files = {f"{version}.root.json": root_file, "root.json": root_file, **pending.files}
    with _txn.transaction(ws.path) as txn:
        written = {
            f"{_roles.METADATA_DIR}/{n}": txn.write(f"{_roles.METADATA_DIR}/{n}", d) for n, d in written_files.items()
        }
        for keyid, data in pending.key_files.items():
            written[_roles.key_file_rel(keyid)] = txn.write(_roles.key_file_rel(keyid), data)
        written[_roles.CONFIG_NAME] = txn.write(_roles.CONFIG_NAME, dumps_pretty(pending.config))
        txn.remove(rel)
        head = _transcript.append(
            ws.path,
            f"merge {pending.id}",
            pending.changes,
            written,
            sorted(pending.config["keys"]),
            now,
            {"request": pending.id, "gun": pending.gun},
            txn,
        )
    uploads = {"root.json": root_file, **pending.files}
    _dct.write_publish_bundle(bundle_out, pending.gun, uploads, f"root version {version} (request {pending.id})")
    return _dct.DctResult(
        path=ws.path,
        gun=pending.gun,
        root_version=version,
        files=written,
        bundle=bundle_out,
        uploads=tuple(uploads),
        root_keys=tuple(_dct.root_keys(Workspace.load(ws.path))),
        targets_key=None,
        targets_key_file=None,
        transcript_head=head,
        report=report,
    )
