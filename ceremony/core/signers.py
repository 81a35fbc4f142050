"""Keys as operators name them (KEYSPEC) and the signers behind them, with the identity check in one place.

A KEYSPEC is one of:

- a key type (``ed25519``, ``ecdsa-p256``, ...): a new software key, encrypted under its keyholder's passphrase;
- ``pkcs11:...``: an existing key on a token (RFC 7512 URI; ``pin-source=file:`` allowed for drills);
- ``token:SERIAL``: a new non-extractable key generated now on the token with that serial;
- a public key file (PEM): a key held elsewhere, for a role whose files are signed elsewhere;
- for a keyholder signing a request, their own software key file: a path, or ``file:PATH`` as securesystemslib writes it.

``KeySpec.parse`` is the only place that tells them apart. A key the workspace
holds is referenced by a URI in ceremony.json; ``SIGNER_FOR_URI_SCHEME`` maps
each scheme to the function that unlocks it (the shape of securesystemslib's
table of the same name), and every signer is checked to be the key the
metadata names before it signs: key id and public key both. Raw private key
objects never leave ``keys.py``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.core import choices as _choices
from ceremony.core import hsm as _hsm
from ceremony.core import keys as _keys
from ceremony.core import roles as _roles
from ceremony.core import transcript as _transcript
from ceremony.core._text import printable
from ceremony.core.workspace import KeyRecord
from ceremony.errors import SigningKeyError, UsageError, WorkspaceError

if TYPE_CHECKING:
    from securesystemslib.signer import Key, SecretsHandler, Signer

    from ceremony.core.workspace import Workspace

#: Returns the passphrase for a key, given its label ("root-1", "timestamp").
PassphraseProvider = _keys.SecretsHandler
#: Keys generated on a token: ECDSA P-256, which every TUF client verifies (docs/interop.md).
TOKEN_KEY_TYPE = _choices.DEFAULT_TOKEN_KEY_TYPE  # a token key made for a KEYSPEC: choices' default, as the CLI's
_OBJECT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")

GENERATE = "generate"
PKCS11 = "pkcs11"
TOKEN = "token"  # noqa: S105 (a KEYSPEC kind, not a secret)
PUBLIC = "public"
SOFTWARE = "software"


@dataclass(frozen=True)
class KeySpec:
    """One KEYSPEC, classified once."""

    kind: str  # GENERATE, PKCS11, TOKEN, PUBLIC or SOFTWARE
    value: str  # the key type, the URI, the serial, or the file path

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        """A key to add to a role: a key type, a ``pkcs11:`` URI, ``token:SERIAL``, or a public key file.

        Raises:
            UsageError: empty, or ``token:`` with no serial.
        """
        text = text.strip()  # typed or pasted on a screen: surrounding spaces are never meant
        if not text:
            raise UsageError("an empty KEYSPEC: give a key type, a pkcs11: URI, token:SERIAL or a public key file")
        if text in _keys.KEY_TYPES:
            return cls(GENERATE, text)
        if _hsm.is_pkcs11_uri(text):
            return cls(PKCS11, text)
        if text.startswith("token:"):
            serial = text.removeprefix("token:")
            if not serial:
                raise UsageError("token: needs the serial of the token to generate the key on (token:SERIAL)")
            return cls(TOKEN, serial)
        return cls(PUBLIC, text)

    @classmethod
    def parse_own(cls, text: str) -> KeySpec:
        """A keyholder's own key to sign with: a ``pkcs11:`` URI, or a software key file (path or ``file:PATH``)."""
        if _hsm.is_pkcs11_uri(text):
            return cls(PKCS11, text)
        return cls(SOFTWARE, text.removeprefix("file:"))

    def describe(self) -> str:
        """How the key will be had, in words."""
        if self.kind == GENERATE:
            return f"new {self.value} software key"
        if self.kind == PKCS11:
            return f"token key {self.value.split('?')[0]}"
        if self.kind == TOKEN:
            return f"new {TOKEN_KEY_TYPE} key on the token with serial {self.value}"
        if self.kind == SOFTWARE:
            return f"software key file {self.value}"
        return f"public key from {self.value} (held elsewhere)"

    def token_identity(self, module: str | None, lookup: bool = True) -> str | None:
        """Which token this key is on, as its serial, without logging in; None for a key not on a token.

        A URI that names the serial is taken at its word (the token need not be
        present); otherwise the one token it names is looked up, unless
        ``lookup`` is False (then its label stands for it).

        Raises:
            HsmError: the module, or the one token the URI names, cannot be found.
        """
        if self.kind == TOKEN:
            return self.value
        if self.kind != PKCS11:
            return None
        uri = _hsm.Pkcs11Uri.parse(self.value)
        if uri.serial or not lookup:
            return uri.serial or uri.token
        return _hsm.find_token(uri, _hsm.resolve_module(uri, module)).serial or uri.token


def object_label(*parts: str) -> str:
    """A token object label made of parts (workspace name, role, time): letters, digits and . _ - only."""
    return _OBJECT_LABEL.sub("-", "-".join(parts))[:64]


@dataclass
class AcquiredKey:
    """A key ready for init: public key, how to sign with it (if we can), and what to record."""

    public: Key
    record: KeyRecord
    signer: Any | None = None
    encrypted: bytes | None = None
    details: dict[str, Any] = field(default_factory=dict)


def acquire_key(
    spec: str,
    label: str,
    role: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    module: str | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
) -> AcquiredKey:
    """Turn a KEYSPEC into a key for ``role``: a new software key, a token key, a new token key, or a public key.

    A token key's session stays open on ``stack`` so the key can sign later in the same command.

    Raises:
        UsageError / InputFileError / PassphraseError / HsmError: the KEYSPEC cannot be used.
    """
    keyspec = KeySpec.parse(spec)
    if keyspec.kind == GENERATE:
        key = _keys.generate_key(keyspec.value, passphrase_for(label), label)
        record = KeyRecord(key.public.keyid, label, (role,), keyspec.value, _roles.key_file_uri(key.public.keyid))
        return AcquiredKey(key.public, record, key.signer, key.encrypted, {"generated": keyspec.value})
    if keyspec.kind in (PKCS11, TOKEN):
        uri = keyspec.value
        if keyspec.kind == TOKEN:
            pin_for = _asked_once(pin_for)  # generation and the signing session log in with the same PIN
            stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            uri = generate_on_token(keyspec.value, object_label(label, stamp), pin_for, module, pin_file).uri
        signer = stack.enter_context(_hsm.open_key(uri, pin_for, module, pin_file))
        token_key = signer.token_key
        record = KeyRecord(token_key.public.keyid, label, (role,), token_key.key_type, token_key.uri)
        return AcquiredKey(token_key.public, record, signer, None, token_key.transcript_details())
    public = _keys.public_key_from_pem(Path(keyspec.value))
    record = KeyRecord(public.keyid, label, (role,), _keys.key_type_name(public), None)
    return AcquiredKey(public, record, None, None, {"imported_from": Path(keyspec.value).name})


def _asked_once(pin_for: SecretsHandler | None) -> SecretsHandler | None:
    """``pin_for`` asking the operator at most once (the answer is kept in memory for this key only)."""
    if pin_for is None:
        return None
    asked: list[str] = []

    def once(prompt: str) -> str:
        if not asked:
            asked.append(pin_for(prompt))
        return asked[0]

    return once


def generate_on_token(
    serial: str, label: str, pin_for: SecretsHandler | None, module: str | None, pin_file: Path | None = None
) -> _hsm.TokenKey:
    """A new non-extractable ECDSA P-256 key on the token with ``serial``, read back and test-signed.

    Raises:
        HsmError (and subclasses): no such token, wrong PIN, or the token refused.
    """
    token = _hsm.find_token(_hsm.Pkcs11Uri(serial=serial), _hsm.resolve_module(config=module))
    # Built, not formatted: a token label holding ";" or "?module-path=" must not add attributes to the URI.
    uri = _hsm.Pkcs11Uri(token=token.label, serial=token.serial).to_string()
    return _hsm.generate_key(uri, label, TOKEN_KEY_TYPE, pin_for, module, pin_file)


def key_file(base: Path, uri: str) -> Path:
    """The encrypted key file a ``file:`` URI names, which must be ``keys/<keyid>.p12`` inside ``base``.

    Raises:
        WorkspaceError: any other form (an absolute path, ``..``, another directory or name).
    """
    path = _roles.key_file_of(base, uri)
    if path is None:
        raise WorkspaceError(
            f"{printable(uri, 120)!r} is not a key file of this workspace (expected file:keys/<keyid>.p12)"
        )
    return path


def check_identity(signer_key: Key, key: Key, where: str, label: str) -> None:
    """The signer holds the public key the metadata names (key ids may differ: imported repositories use their own).

    Raises:
        SigningKeyError: naming where the signer came from.
    """
    if _keys.public_key_identity(signer_key) != _keys.public_key_identity(key):
        raise SigningKeyError(f"the key at {printable(where, 200)} is not key {label} ({key.keyid[:12]})")


@dataclass(frozen=True)
class KeyAccess:
    """How a command reaches the keys it holds: secrets callbacks, the module, and the sessions it keeps open."""

    passphrase_for: PassphraseProvider
    pin_for: SecretsHandler | None
    module: str | None
    stack: contextlib.ExitStack
    pin_file: Path | None = None


def _file_signer(base: Path, uri: str, key: Key, label: str, access: KeyAccess) -> Signer:
    """An encrypted key file of keys/, unlocked with its keyholder's passphrase (keys.unlock_signer checks it is ``key``)."""
    return _keys.unlock_signer(key_file(base, uri), key, access.passphrase_for(label))


def _token_signer(base: Path, uri: str, key: Key, label: str, access: KeyAccess) -> Signer:
    """A token key, its session kept open on the command's stack."""
    signer = access.stack.enter_context(_hsm.open_key(uri, access.pin_for, access.module, access.pin_file))
    check_identity(signer.public_key, key, uri, label)
    return signer


#: URI scheme -> how a key the workspace holds is unlocked (securesystemslib's SIGNER_FOR_URI_SCHEME, ours).
SIGNER_FOR_URI_SCHEME: dict[str, Callable[[Path, str, Key, str, KeyAccess], Signer]] = {
    "file": _file_signer,
    "pkcs11": _token_signer,
}


def unlock_held_key(
    base: Path,
    uri: str | None,
    key: Key,
    label: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    module: str | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
) -> Signer | None:
    """A signer for a key held where ``uri`` says, checked to be ``key``; None for a key held elsewhere.

    ``file:`` URIs are encrypted key files under ``base`` (the workspace or a
    draft); ``pkcs11:`` URIs are token keys whose session stays open on ``stack``.

    Raises:
        PassphraseError / HsmError: unlocking failed.
        SigningKeyError: the key found is not ``key``.
    """
    if not uri:
        return None
    unlock = SIGNER_FOR_URI_SCHEME.get(uri.partition(":")[0])
    if unlock is None:
        return None
    return unlock(base, uri, key, label, KeyAccess(passphrase_for, pin_for, module, stack, pin_file))


def open_own_key(
    keyspec: str,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None,
    stack: contextlib.ExitStack,
    pin_file: Path | None = None,
    module: str | None = None,
) -> tuple[bytes, Callable[[Key], Signer]]:
    """A keyholder's own key (their token URI or software key file): its public identity, and a signer per metadata key.

    The signer is made for the metadata's own key object, so a signature is
    always checked against the key id and key the metadata lists.

    Raises:
        PassphraseError / HsmError: unlocking failed.
    """
    own = KeySpec.parse_own(keyspec)
    if own.kind == PKCS11:
        token_signer = stack.enter_context(_hsm.open_key(own.value, pin_for, module, pin_file))
        return _keys.public_key_identity(token_signer.public_key), lambda _key: token_signer
    path = Path(own.value)
    own_file = _keys.OwnKeyFile(path, passphrase_for(path.name))
    return own_file.identity, own_file.signer_for


def sign_as(signer: Signer, key: Key, payload: bytes) -> str:
    """Sign ``payload`` with ``signer`` and verify it as ``key`` (the metadata's own key object and keyid) at once.

    Raises:
        SigningKeyError: the signature does not verify (nothing is kept).
    """
    signature = signer.sign(payload)
    _keys.verify_signature(key, signature, payload)
    return signature.signature


@dataclass(frozen=True)
class KeyCheckResult:
    """A keyholder proved they can unlock and sign with their key."""

    record: KeyRecord
    challenge: str
    transcript_head: str


def check_key(
    ws: Workspace,
    keyid_prefix: str,
    passphrase_for: PassphraseProvider,
    now: datetime | None = None,
    pin_for: SecretsHandler | None = None,
    pin_file: Path | None = None,
) -> KeyCheckResult:
    """Prove a keyholder can use their key: unlock it and test-sign a random challenge.

    Works for software keys (passphrase) and token keys (PIN). Records the
    successful check in the transcript (key id, challenge, token serial; never
    a secret).

    Raises:
        UsageError: no single key matches.
        SigningKeyError: the key is held elsewhere, or does not match its public key.
        PassphraseError: the passphrase is wrong.
        HsmError: a token, PIN or module problem.
    """
    record = ws.find_key(keyid_prefix)
    if record.uri is None:
        raise SigningKeyError(f"key {record.label} ({record.keyid[:12]}) is held elsewhere; it cannot be checked here")
    public = ws.public_key(record.keyid)
    details: dict[str, Any] = {}
    if record.uri.startswith("pkcs11:"):
        with _hsm.open_key(record.uri, pin_for, ws.config.get("pkcs11_module"), pin_file) as token_signer:
            check_identity(token_signer.public_key, public, record.uri, record.label)
            challenge = token_signer.token_key.challenge
            details = token_signer.token_key.transcript_details()
    elif record.uri.startswith("file:"):
        signer = _keys.unlock_signer(key_file(ws.path, record.uri), public, passphrase_for(record.label))
        challenge = _keys.prove_signing(signer)
    else:
        raise SigningKeyError(f"key {record.label}: {record.uri} is not a key reference this tool can use")
    head = _transcript.append(
        ws.path,
        "key check",
        [f"keyholder of {record.label} used key {record.keyid} to test-sign a random challenge"],
        {},
        [record.keyid],
        (now or datetime.now(UTC)),
        {"challenge": challenge, **details},
    )
    return KeyCheckResult(record, challenge, head)
