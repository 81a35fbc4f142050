"""A guided change to a live workspace: kept as a sign request in it until every threshold is met.

Rotation, extension or delegation, planned by ``changes`` and sent through
the same pipeline as the CLI's (``changes.apply`` with a request kept in
``requests/``), signed by the keyholders present one after another or by
remote keyholders on copies, then merged by ``requests.merge``, which
re-derives every requirement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ceremony.core import _txn
from ceremony.core import keys as _keys
from ceremony.core import transcript as _transcript
from ceremony.core._fs import make_private_dir
from ceremony.core._text import plural, printable
from ceremony.core.changes import apply
from ceremony.core.dates import format_date
from ceremony.core.guided.state import (
    MAX_TITLE,
    SESSION_NAME,
    ChangeState,
    commit_step,
    load_session,
    record_line,
    save,
)
from ceremony.core.guided.subject import (
    Progress,
    SigningKey,
    check_request_matches,
    config_labels,
    describe_request,
    request_cover,
    request_summary,
)
from ceremony.core.keys import SecretsHandler
from ceremony.core.policy import check_request_id
from ceremony.core.proposal import ChangeContext, Proposal, State
from ceremony.core.publish import PublishResult
from ceremony.core.requests import (
    PendingChange,
    SignRequest,
    load_pending,
    load_request,
    merge,
    save_request,
    sign_request,
)
from ceremony.core.roles import PENDING_DIR, REQUESTS_DIR, key_file_of
from ceremony.core.signers import PassphraseProvider
from ceremony.core.workspace import Workspace
from ceremony.errors import CeremonyError, SigningKeyError, ThresholdNotMetError, UsageError, WorkspaceError

#: Builds a change from a context: one of changes.plan_rotation / plan_extension / plan_delegation.
Planner = Callable[[ChangeContext], tuple[State, Proposal]]


class ChangeSession:
    """A change to a live workspace, kept as a sign request in it until every threshold is met."""

    def __init__(self, ws: Workspace, state: ChangeState) -> None:
        self.ws = ws
        self.state = state
        self._request: SignRequest | None = None
        self._pending_record: PendingChange | None = None

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
        if load_session(ws.path) is not None:
            raise WorkspaceError(f"{ws.path}: another guided ceremony is in progress here; resume or discard it first")
        with contextlib.ExitStack() as stack:
            ctx = ChangeContext(ws, passphrase_for, pin_for, stack, now)
            state, proposal = plan(ctx)
            make_private_dir(ws.path / REQUESTS_DIR)
            stem = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{flow}"
            out = ws.path / REQUESTS_DIR / f"{stem}.json"
            for number in range(2, 100):  # two changes in one second (or a request kept from an earlier one)
                if not out.exists() and not out.is_symlink():
                    break
                out = ws.path / REQUESTS_DIR / f"{stem}-{number}.json"
            request_id = apply(ctx, state, proposal, request_out=out).request_id
        if request_id is None:  # apply with request_out writes a request, so it has an id
            raise WorkspaceError(f"{out}: the change was not kept as a sign request")
        session = ChangeState(
            flow=flow,
            step="sign",
            request=str(out.relative_to(ws.path)),
            request_id=request_id,
            title=title[:MAX_TITLE],
            started=format_date(now),
        )
        save(ws.path, session)
        return cls(ws, session)

    @classmethod
    def open(cls, ws: Workspace) -> ChangeSession:
        """Reopen a change in progress.

        Raises:
            WorkspaceError: none is in progress.
        """
        state = load_session(ws.path)
        if not isinstance(state, ChangeState):
            raise WorkspaceError(f"{ws.path}: no guided change is in progress here")
        return cls(ws, state)

    @property
    def step(self) -> str:
        """The step to do next."""
        return self.state.step

    @property
    def reviewed(self) -> bool:
        """Keyholders compared the request's words before its first signature here."""
        return self.state.reviewed

    @property
    def title(self) -> str:
        """What the change is called (its flow when the session has no title)."""
        return self.state.title or self.state.flow

    @property
    def request_path(self) -> Path:
        """The request kept in the workspace (keyholders elsewhere sign copies of it)."""
        return self.ws.path / self.state.request

    def request(self) -> SignRequest:
        """The request as this session last saved it, read and checked (digest, every signature, its id) once.

        Raises:
            InputFileError / TamperedRequestError: the request file is malformed, changed, or another request.
        """
        if self._request is None:
            path = self.request_path
            self._request = check_request_matches(load_request(path), self.state.request_id, str(path))
        return self._request

    def _save_request(self, request: SignRequest) -> None:
        save_request(request)
        self._request = request

    def build_root(self, now: datetime | None = None) -> tuple[list[str], str, str]:
        """What will be signed: diff lines (printable), digest hex and words."""
        return describe_request(self.request())

    def cover(self) -> list[str]:
        """What the words cover, named."""
        return request_cover(self.request())

    def unsigned_summary(self) -> list[str]:
        """The request's own description of the change: not signed, not covered by the words; printable."""
        return request_summary(self.request())

    def progress(self) -> list[Progress]:
        """Every threshold of the change, with the labels of the keys that signed."""
        labels = config_labels(self.ws.config)
        labels.update(config_labels(self._pending().config))
        return [s.named(labels) for s in self.request().statuses()]

    def _pending(self) -> PendingChange:
        """The workspace's record of the change (what publishing writes), every field checked as it is read.

        Raises:
            WorkspaceError: the workspace has no record of the request.
            InputFileError: the record is malformed.
        """
        if self._pending_record is None:
            self._pending_record = load_pending(self.ws, self.state.request_id)
        return self._pending_record

    def signing_keys(self) -> list[SigningKey]:
        """Keys held here that the request still needs (keys being revoked are marked)."""
        revoked = set(self._pending().revoked)
        missing = {k for s in self.request().statuses() if not s.verified for k in s.unsigned}
        result = []
        for record in self.ws.key_records():
            if record.keyid in missing and record.uri:
                note = (
                    "being revoked: sign only if the others cannot reach the old threshold"
                    if record.keyid in revoked
                    else ""
                )
                kind = "passphrase"
                if record.uri.startswith("pkcs11:"):  # which token, so nobody spends another token's PIN tries
                    kind = f"PIN ({printable(record.location, 120)})"
                result.append(SigningKey(record.keyid, record.label, "", kind, note))
        result.sort(key=lambda k: bool(k.note))  # a key being revoked last: it is never the one offered first
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
            path = key_file_of(self.ws.path, record.uri)
            if path is None or path.stem != record.keyid:
                raise SigningKeyError(f"key {record.label}: {printable(record.uri, 120)!r} is not a key file in keys/")
            spec = str(path)
        else:
            spec = record.uri
        with contextlib.ExitStack() as stack:
            roles = sign_request(
                request, spec, lambda _n: secret, lambda _p: secret, stack, module=self.ws.config.get("pkcs11_module")
            )
        self._save_request(request)
        self.state.reviewed = True
        progress = self.progress()
        # The session and its transcript line together (the request file, outside the journal, came first).
        commit_step(
            self.ws.path,
            self.state,
            f"tui {self.state.flow} sign",
            [
                f"{record.label} signed {', '.join(roles)} of request {self.state.request_id}",
                *[p.describe() for p in progress],
            ],
            now,
            {"digest": request.digest().hex()},
        )
        return progress

    def add_signed_copy(self, copy: Path, now: datetime) -> list[Progress]:
        """Take the signatures from a copy of the request signed elsewhere (each one verified on load).

        Raises:
            UsageError: the copy belongs to another request.
            TamperedRequestError: the copy's content or a signature does not check out.
        """
        request = self.request()
        other = load_request(Path(copy))
        if other.id != request.id or other.digest() != request.digest():
            raise UsageError(f"{copy}: a copy of another sign request ({other.id}), not {request.id}")
        added = request.take_signatures(other)
        self._save_request(request)
        progress = self.progress()
        record_line(
            self.ws.path,
            f"tui {self.state.flow} add-copy",
            [f"took {plural(added, 'signature')} from {Path(copy).name}", *[p.describe() for p in progress]],
            now,
        )
        return progress

    def publish(self, now: datetime) -> PublishResult:
        """Merge the request (every requirement re-derived and checked) and end the session.

        Raises:
            ThresholdNotMetError: a threshold is not met yet (nothing written).
        """
        with contextlib.ExitStack() as stack:
            ctx = ChangeContext(self.ws, lambda _n: "", None, stack, now)
            # The session ends in the same transaction as the change it published.
            result, _statuses = merge(ctx, [self.request_path], lambda txn: txn.remove(SESSION_NAME))
        if result is None:
            raise ThresholdNotMetError(f"request {self.state.request_id}: not every threshold is met yet")
        return result

    def discard(self, now: datetime) -> None:
        """Give up the change: nothing was published, and nothing of it is left to merge by mistake.

        The session, the pending record (with any new key it carried, encrypted)
        and its transcript line go in one transaction; the request file in
        ``requests/`` after it (outside the journal, like its writing). The
        transcript keeps the request's digest, so the record of what was
        discarded survives the files.
        """
        request_id = check_request_id(self.state.request_id, "sign request")
        pending = f"{PENDING_DIR}/{request_id}.json"
        # Only files shown to be this change's go: the request must read as the session's (its id and every
        # signature checked), and the pending record must carry that id. A session file edited to name another
        # change (or one that no longer reads) ends alone, and the other change's files stay.
        try:
            ours = self.request().id == request_id and self._pending().request_id == request_id
        except CeremonyError:
            ours = False
        with _txn.transaction(self.ws.path) as txn:
            removed: dict[str, str | None] = {}
            if ours and (self.ws.path / pending).is_file():
                txn.remove(pending)
                removed[pending] = None
            txn.remove(SESSION_NAME)
            line = f"discarded request {request_id} unpublished"
            line += "; its pending record removed" if removed else "; no record of it was removed (not shown to be its)"
            _transcript.append(self.ws.path, f"tui {self.state.flow} discard", [line], removed, [], now, None, txn)
        requests_dir = self.ws.path / REQUESTS_DIR
        request = self.request_path
        inside = not requests_dir.is_symlink() and request.parent == requests_dir and not request.is_symlink()
        if ours and inside and request.is_file():
            request.unlink()


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
    non-extractable key on that token, behind PIN ``secret``, generated by the
    change once the custody rule has let it through).

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
        # A KEYSPEC (signers.KeySpec): the planner checks custody first, then the key is generated on the token.
        return NewKey(source, secret)
    raise UsageError(f"unknown key source {source!r}")
