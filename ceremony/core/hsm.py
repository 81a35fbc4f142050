"""PKCS#11 tokens: list them, generate keys inside them, and sign with them.

This is the only module that imports PyKCS11. The rest of the core sees token
and key records (frozen dataclasses) and ``TokenSigner``, a securesystemslib
``Signer`` of our own. securesystemslib's own HSMSigner (>= 1.5) uses a second
PKCS#11 binding that cannot initialise the same module in one process, so it is
deliberately not used.

Keys are named by RFC 7512 PKCS#11 URIs::

    pkcs11:token=root-1;serial=77b4397bfa7261f6;id=%85%e4%88%3f;object=root-key?module-path=/usr/lib/softhsm/libsofthsm2.so

A URI must match exactly one initialised token and exactly one private key on
it; zero or several matches is an error that lists what was found (with two
tokens inserted, taf looped on wrong-PIN prompts: openlawlibrary/taf#611).

PINs come from ``pin-source=file:/path`` (drills and tests) or from a
``SecretsHandler`` (the operator types it). ``pin-value=`` is refused: a PIN
must never sit in argv or a config file. Before each login the token's PIN
flags are read; a locked PIN is refused without trying, a PIN on its final try
is refused for unattended logins, and a wrong PIN is reported once, never
retried.

What it does not do: RSA keys on tokens, key backup or export (a token key
never leaves the token), or token initialisation.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import PyKCS11
from securesystemslib.signer import Key, SecretsHandler, Signature, Signer, SSlibKey

from ceremony.core import keys as _keys
from ceremony.core._json import read_secret_file
from ceremony.core._text import printable
from ceremony.errors import (
    HsmError,
    KeyNotFoundError,
    MechanismError,
    PinIncorrectError,
    PinLockedError,
    TokenNotFoundError,
    UsageError,
)

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
#: RFC 7512 sets no limit; a key's URI is a few hundred characters, a file full of one is an attack.
MAX_URI_LENGTH = 4096


# --------------------------------------------------------------------------- key types


@dataclass(frozen=True)
class TokenKeyType:
    """A key type we can generate and use on a token, with its PKCS#11 and TUF names."""

    name: str
    key_type: int
    gen_mechanism: int
    sign_mechanism: int
    ec_params: bytes  # DER of the curve OID
    scheme: str
    hash_name: str | None  # hashed on the host: SoftHSM has no combined ECDSA-SHA2 mechanism


#: The names are also ``choices.TOKEN_KEY_TYPE_NAMES``, which the CLI lists without loading PyKCS11;
#: tests/test_startup_imports.py checks the two agree.
TOKEN_KEY_TYPES: dict[str, TokenKeyType] = {
    t.name: t
    for t in (
        TokenKeyType(
            "ecdsa-p256",
            PyKCS11.CKK_EC,
            PyKCS11.CKM_EC_KEY_PAIR_GEN,
            PyKCS11.CKM_ECDSA,
            bytes.fromhex("06082a8648ce3d030107"),
            "ecdsa-sha2-nistp256",
            "sha256",
        ),
        TokenKeyType(
            "ecdsa-p384",
            PyKCS11.CKK_EC,
            PyKCS11.CKM_EC_KEY_PAIR_GEN,
            PyKCS11.CKM_ECDSA,
            bytes.fromhex("06052b81040022"),
            "ecdsa-sha2-nistp384",
            "sha384",
        ),
        TokenKeyType(
            "ed25519",
            PyKCS11.CKK_EC_EDWARDS,
            PyKCS11.CKM_EC_EDWARDS_KEY_PAIR_GEN,
            PyKCS11.CKM_EDDSA,
            bytes.fromhex("06032b6570"),
            "ed25519",
            None,
        ),
    )
}


# --------------------------------------------------------------------------- URIs

_PATH_ATTRS = {"token", "manufacturer", "serial", "model", "object", "id", "type", "slot-id", "library-description"}
_QUERY_ATTRS = {"module-path", "module-name", "pin-source", "pin-value"}


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed RFC 7512 PKCS#11 URI (only the attributes we use)."""

    token: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    object: str | None = None
    id: bytes | None = None
    module_path: str | None = None
    pin_source: str | None = None

    @classmethod
    def parse(cls, text: str) -> Pkcs11Uri:
        """Parse ``text``.

        Raises:
            UsageError: not a pkcs11: URI, an unknown or repeated attribute, or a pin-value.
        """
        if not isinstance(text, str) or not text.startswith("pkcs11:"):
            raise UsageError(f"{printable(text, 120)!r} is not a PKCS#11 URI (it must start with 'pkcs11:')")
        if len(text) > MAX_URI_LENGTH:
            raise UsageError(f"a PKCS#11 URI of {len(text):,} characters is refused (at most {MAX_URI_LENGTH:,})")
        path, _, query = text[len("pkcs11:") :].partition("?")
        values: dict[str, str | bytes] = {}

        def take(part: str, allowed: set[str], where: str) -> None:
            name, sep, raw = part.partition("=")
            if not sep or name not in allowed:
                raise UsageError(f"PKCS#11 URI: unknown {where} attribute {printable(name, 60)!r}")
            if name == "pin-value":
                raise UsageError(
                    "PKCS#11 URI: pin-value is refused; a PIN must never be on the command line "
                    "(use pin-source=file:/path for drills, or type it when asked)"
                )
            if name in values:
                raise UsageError(f"PKCS#11 URI: attribute {name!r} given twice")
            value = urllib.parse.unquote_to_bytes(raw) if name == "id" else urllib.parse.unquote(raw)
            if isinstance(value, str) and "\x00" in value:
                # A NUL ends a C string: the module would read another path or label than the one shown.
                raise UsageError(f"PKCS#11 URI: attribute {name!r} holds a NUL character")
            values[name] = value

        for part in filter(None, path.split(";")):
            take(part, _PATH_ATTRS, "path")
        for part in filter(None, query.split("&")):
            take(part, _QUERY_ATTRS, "query")
        if values.get("type") not in (None, "private"):
            raise UsageError("PKCS#11 URI: only type=private keys can sign")
        return cls(
            token=_s(values.get("token")),
            serial=_s(values.get("serial")),
            manufacturer=_s(values.get("manufacturer")),
            model=_s(values.get("model")),
            object=_s(values.get("object")),
            id=values.get("id") if isinstance(values.get("id"), bytes) else None,  # type: ignore[arg-type]
            module_path=_s(values.get("module-path")),
            pin_source=_s(values.get("pin-source")),
        )

    def to_string(self, with_pin_source: bool = False) -> str:
        """Canonical URI text; the pin-source is left out unless asked for."""
        quote = lambda v: urllib.parse.quote(v, safe="")  # noqa: E731
        parts = []
        for name, value in (
            ("token", self.token),
            ("manufacturer", self.manufacturer),
            ("model", self.model),
            ("serial", self.serial),
            ("object", self.object),
        ):
            if value is not None:
                parts.append(f"{name}={quote(value)}")
        if self.id is not None:
            parts.append("id=" + "".join(f"%{b:02x}" for b in self.id))
        if self.object is not None or self.id is not None:
            parts.append("type=private")
        query = []
        if self.module_path:
            query.append(f"module-path={urllib.parse.quote(self.module_path, safe='/')}")
        if with_pin_source and self.pin_source:
            query.append(f"pin-source={quote(self.pin_source)}")
        return "pkcs11:" + ";".join(parts) + ("?" + "&".join(query) if query else "")


def _s(value: object) -> str | None:
    """Narrow a parsed attribute to str."""
    return value if isinstance(value, str) else None


def is_pkcs11_uri(text: str) -> bool:
    """True for text that names a token key."""
    return text.startswith("pkcs11:")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TokenInfo:
    """One token as the module reports it."""

    slot: int
    label: str
    serial: str
    manufacturer: str
    model: str
    initialized: bool
    login_required: bool
    pin_count_low: bool
    pin_final_try: bool
    pin_locked: bool
    key_types: tuple[str, ...]

    def describe(self) -> str:
        """ "token 'root-1' (serial 77b4...)" for messages."""
        return f"token '{self.label}' (serial {self.serial})"

    def pin_flags(self) -> str:
        """The PIN state as words, for the prompt shown before each login."""
        flags = [
            name
            for name, on in (
                ("PIN count low", self.pin_count_low),
                ("final try", self.pin_final_try),
                ("PIN LOCKED", self.pin_locked),
            )
            if on
        ]
        return ", ".join(flags) or "no failed PIN attempts reported"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class KeyAttributes:
    """Security attributes of a private key read back from the token."""

    local: bool
    always_sensitive: bool
    never_extractable: bool
    sensitive: bool
    extractable: bool

    @property
    def safe(self) -> bool:
        """Generated on the token and never exportable."""
        return (
            self.local and self.always_sensitive and self.never_extractable and self.sensitive and not self.extractable
        )

    def to_dict(self) -> dict[str, bool]:
        """JSON-ready form (CKA_ names as keys)."""
        return {
            "CKA_LOCAL": self.local,
            "CKA_ALWAYS_SENSITIVE": self.always_sensitive,
            "CKA_NEVER_EXTRACTABLE": self.never_extractable,
            "CKA_SENSITIVE": self.sensitive,
            "CKA_EXTRACTABLE": self.extractable,
        }


@dataclass(frozen=True)
class TokenKey:
    """A private key on a token: where it is, its public key, and what the token says about it."""

    uri: str  # without pin-source
    token: TokenInfo
    label: str
    key_type: str
    public: SSlibKey
    attributes: KeyAttributes
    challenge: str = ""  # hex of the random challenge test-signed at generation or unlock

    def transcript_details(self) -> dict[str, Any]:
        """What the transcript records about this key: serial and attributes, never a PIN."""
        return {
            "keyid": self.public.keyid,
            "uri": self.uri,
            "token_serial": self.token.serial,
            "token_label": self.token.label,
            "token_model": self.token.model,
            "token_manufacturer": self.token.manufacturer,
            "attributes": self.attributes.to_dict(),
            # PKCS#11 has no standard attestation; vendors' (YubiKey PIV, YubiHSM) come through their own
            # interfaces, which this tool does not read. The audit bundle says so rather than imply one.
            "attestation": None,
            "attestation_note": f"{self.token.manufacturer} {self.token.model}: no key attestation read "
            "(none is offered through PKCS#11; SoftHSM2 offers none at all)",
        }


# --------------------------------------------------------------------------- module and errors

_LIBS: dict[str, PyKCS11.PyKCS11Lib] = {}

_CKR_MESSAGES = {
    "CKR_PIN_LOCKED": "the PIN is locked; unlock it with the security officer PIN before this ceremony",
    "CKR_TOKEN_NOT_PRESENT": "the token is no longer present",
    "CKR_DEVICE_REMOVED": "the token was removed",
    "CKR_DEVICE_ERROR": "the token reported a device error",
    "CKR_SESSION_HANDLE_INVALID": "the session with the token was lost",
    "CKR_SESSION_CLOSED": "the session with the token was closed",
    "CKR_MECHANISM_INVALID": "the token does not support this mechanism",
    "CKR_TEMPLATE_INCONSISTENT": "the token refused the key template",
    "CKR_ATTRIBUTE_VALUE_INVALID": "the token refused a key attribute",
    "CKR_USER_PIN_NOT_INITIALIZED": "the token's user PIN is not initialised",
    "CKR_PIN_LEN_RANGE": "the PIN has the wrong length for this token",
    "CKR_GENERAL_ERROR": "the token reported a general error",
}


def _ckr_name(err: PyKCS11.PyKCS11Error) -> str:
    """CKR_ name of a PyKCS11 error."""
    return str(PyKCS11.CKR.get(err.value, f"CKR 0x{err.value:08x}"))


def _hsm_error(err: PyKCS11.PyKCS11Error, what: str) -> HsmError:
    """Translate a PyKCS11 error into one operator sentence (the cause is chained by the caller)."""
    name = _ckr_name(err)
    if name == "CKR_PIN_INCORRECT":
        return PinIncorrectError(
            f"{what} rejected the PIN", hint="nothing was retried; check the PIN and run the command again"
        )
    if name == "CKR_PIN_LOCKED":
        return PinLockedError(f"{what}: {_CKR_MESSAGES[name]}")
    reason = _CKR_MESSAGES.get(name, "the operation failed")
    return HsmError(f"{what}: {reason} ({name}); nothing was written")


def resolve_module(uri: Pkcs11Uri | None = None, option: str | None = None, config: str | None = None) -> str:
    """The PKCS#11 module path: URI, then --module, then the config, then $PYKCS11LIB, then SoftHSM2."""
    return (uri.module_path if uri else None) or option or config or os.environ.get("PYKCS11LIB") or DEFAULT_MODULE


def _load(module: str) -> PyKCS11.PyKCS11Lib:
    """Load (once per process) the PKCS#11 module at ``module``."""
    if module in _LIBS:
        return _LIBS[module]
    if not isinstance(module, str) or "\x00" in module:
        raise HsmError(f"PKCS#11 module {printable(module, 200)!r} is not a file name")
    if not Path(module).is_file():
        raise HsmError(
            f"PKCS#11 module {module} not found",
            hint="install the token's module (Debian: softhsm2 for SoftHSM) or pass --module",
        )
    lib = PyKCS11.PyKCS11Lib()
    try:
        lib.load(module)
    except PyKCS11.PyKCS11Error as err:
        raise HsmError(f"PKCS#11 module {module} could not be loaded") from err
    _LIBS[module] = lib
    return lib


def _text(value: object) -> str:
    """Token info fields are space-padded (sometimes NUL-padded) fixed-width strings."""
    return str(value).replace("\x00", " ").strip()


def _token_info(lib: PyKCS11.PyKCS11Lib, slot: int) -> TokenInfo:
    """Read one token's info and the TUF key types it can generate and sign with."""
    info = lib.getTokenInfo(slot)
    flags = info.flags
    try:
        mechanisms = set(lib.getMechanismList(slot))
    except PyKCS11.PyKCS11Error:
        mechanisms = set()
    key_types = []
    for kt in TOKEN_KEY_TYPES.values():
        gen = PyKCS11.CKM[kt.gen_mechanism]
        names = {gen, "CKM_ECDSA_KEY_PAIR_GEN"} if kt.gen_mechanism == PyKCS11.CKM_EC_KEY_PAIR_GEN else {gen}
        if names & mechanisms and PyKCS11.CKM[kt.sign_mechanism] in mechanisms:
            key_types.append(kt.name)
    return TokenInfo(
        slot=slot,
        label=_text(info.label),
        serial=_text(info.serialNumber),
        manufacturer=_text(info.manufacturerID),
        model=_text(info.model),
        initialized=bool(flags & PyKCS11.CKF_TOKEN_INITIALIZED),
        login_required=bool(flags & PyKCS11.CKF_LOGIN_REQUIRED),
        pin_count_low=bool(flags & PyKCS11.CKF_USER_PIN_COUNT_LOW),
        pin_final_try=bool(flags & PyKCS11.CKF_USER_PIN_FINAL_TRY),
        pin_locked=bool(flags & PyKCS11.CKF_USER_PIN_LOCKED),
        key_types=tuple(key_types),
    )


def list_tokens(module: str | None = None) -> list[TokenInfo]:
    """Every slot with a token present, initialised or not.

    Raises:
        HsmError: the module is missing or fails.
    """
    module = module or resolve_module()
    lib = _load(module)
    try:
        return [_token_info(lib, slot) for slot in lib.getSlotList(tokenPresent=True)]
    except PyKCS11.PyKCS11Error as err:
        raise _hsm_error(err, f"PKCS#11 module {module}") from err


def _matches(token: TokenInfo, uri: Pkcs11Uri) -> bool:
    """True when every token attribute the URI names equals the token's."""
    return all(
        want is None or want == have
        for want, have in (
            (uri.token, token.label),
            (uri.serial, token.serial),
            (uri.manufacturer, token.manufacturer),
            (uri.model, token.model),
        )
    )


def find_token(uri: Pkcs11Uri, module: str) -> TokenInfo:
    """The one initialised token ``uri`` names.

    Raises:
        TokenNotFoundError: none or several match (the message lists what is there).
    """
    tokens = [t for t in list_tokens(module) if t.initialized]
    matching = [t for t in tokens if _matches(t, uri)]
    present = "; ".join(t.describe() for t in tokens) or "no initialised token"
    wanted = uri.to_string()
    if not matching:
        raise TokenNotFoundError(f"no token matches {wanted} (present: {present})")
    if len(matching) > 1:
        raise TokenNotFoundError(
            f"{len(matching)} tokens match {wanted} ({present}); add serial= to the URI to choose one"
        )
    return matching[0]


def _read_pin_source(source: str) -> str:
    """The PIN from a ``pin-source=file:`` URI attribute (drills and tests only).

    Raises:
        UsageError: the pin-source is not a file name.
        InputFileError: the file cannot be read.
    """
    name = source.removeprefix("file://").removeprefix("file:")
    if not name or "\x00" in name:
        raise UsageError("PKCS#11 URI: pin-source names no file (use pin-source=file:/path)")
    return read_secret_file(Path(name), "PIN")


# --------------------------------------------------------------------------- sessions


class TokenSession:
    """A logged-in session with one token. Use through ``open_session``."""

    def __init__(self, lib: PyKCS11.PyKCS11Lib, token: TokenInfo, module: str, session: Any) -> None:
        self.lib = lib
        self.token = token
        self.module = module
        self.session = session

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one PKCS#11 call, translating failures into one sentence."""
        try:
            return fn(*args)
        except PyKCS11.PyKCS11Error as err:
            raise _hsm_error(err, f"{self.token.describe()}: {what}") from err

    def find_private_keys(self, label: str | None = None, key_id: bytes | None = None) -> list[Any]:
        """Handles of private keys matching ``label`` and/or ``key_id``."""
        template: list[tuple[int, Any]] = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)]
        if label is not None:
            template.append((PyKCS11.CKA_LABEL, label))
        if key_id is not None:
            template.append((PyKCS11.CKA_ID, key_id))
        return list(self._call("searching keys", self.session.findObjects, template))

    def objects_with_label(self, label: str) -> list[Any]:
        """Handles of any object (key, certificate, data) carrying ``label``."""
        return list(self._call("searching objects", self.session.findObjects, [(PyKCS11.CKA_LABEL, label)]))

    def attributes(self, handle: Any, attrs: list[int]) -> list[Any]:
        """Attribute values of one object."""
        return list(self._call("reading key attributes", self.session.getAttributeValue, handle, attrs))

    def public_key_for(self, private: Any) -> tuple[str, SSlibKey]:
        """The key type name and TUF public key of a private key, read from its public twin."""
        key_id, key_type = self.attributes(private, [PyKCS11.CKA_ID, PyKCS11.CKA_KEY_TYPE])
        publics = self._call(
            "finding the public key",
            self.session.findObjects,
            [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_ID, bytes(key_id))],
        )
        if len(publics) != 1:
            raise KeyNotFoundError(f"{self.token.describe()}: the public key of this key is missing (or not unique)")
        params, point = self.attributes(publics[0], [PyKCS11.CKA_EC_PARAMS, PyKCS11.CKA_EC_POINT])
        name = next(
            (kt.name for kt in TOKEN_KEY_TYPES.values() if kt.key_type == key_type and kt.ec_params == bytes(params)),
            None,
        )
        if name is None:
            raise MechanismError(
                f"{self.token.describe()}: this key's type is not supported (ECDSA P-256/P-384 and Ed25519 are)"
            )
        return name, _public_from_point(name, bytes(point))

    def key_attributes(self, private: Any) -> KeyAttributes:
        """Read back the attributes that prove the key was made here and cannot leave."""
        values = self.attributes(
            private,
            [
                PyKCS11.CKA_LOCAL,
                PyKCS11.CKA_ALWAYS_SENSITIVE,
                PyKCS11.CKA_NEVER_EXTRACTABLE,
                PyKCS11.CKA_SENSITIVE,
                PyKCS11.CKA_EXTRACTABLE,
            ],
        )
        return KeyAttributes(*(bool(v) for v in values))

    def sign_raw(self, private: Any, key_type: str, payload: bytes) -> bytes:
        """Sign ``payload`` on the token; return the signature as TUF encodes it.

        ECDSA: the payload is hashed on the host and signed with CKM_ECDSA (SoftHSM
        has no combined ECDSA-SHA2 mechanism); PKCS#11 returns r||s (PKCS#11
        v2.40 section 2.3.1), which TUF clients expect DER-encoded. Ed25519: the
        whole payload is signed with CKM_EDDSA.
        """
        kt = TOKEN_KEY_TYPES[key_type]
        data = hashlib.new(kt.hash_name, payload).digest() if kt.hash_name else payload
        raw = bytes(self._call("signing", self.session.sign, private, data, PyKCS11.Mechanism(kt.sign_mechanism, None)))
        if kt.hash_name is None:
            return raw
        return _keys.ecdsa_signature_from_raw(raw)


def _public_from_point(key_type: str, point: bytes) -> SSlibKey:
    """TUF public key from a CKA_EC_POINT (a DER OCTET STRING around the point, or the bare point)."""
    if len(point) > 2 and point[0] == 0x04 and point[1] == len(point) - 2:
        point = point[2:]
    elif len(point) > 3 and point[0] == 0x04 and point[1] == 0x81 and point[2] == len(point) - 3:
        point = point[3:]
    try:
        return _keys.public_key_from_point(TOKEN_KEY_TYPES[key_type].scheme, point)
    except ValueError as err:
        raise HsmError("the token returned a malformed public key") from err


@contextlib.contextmanager
def open_session(
    uri: Pkcs11Uri,
    module: str,
    pin_handler: SecretsHandler | None,
    *,
    read_write: bool = False,
    pin_file: Path | None = None,
) -> Iterator[TokenSession]:
    """Open a session with the token ``uri`` names and log in with its PIN.

    The PIN comes from the URI's pin-source or ``pin_file`` (drills: unattended),
    else from ``pin_handler`` with a prompt that shows the token and its PIN flags. The session is closed (and
    logged out) in ``finally``.

    Raises:
        TokenNotFoundError: none or several tokens match.
        PinLockedError: the PIN is locked, or on its final try with an unattended PIN.
        PinIncorrectError: the token rejected the PIN.
        HsmError: the module or the token failed.
    """
    lib = _load(module)
    token = find_token(uri, module)
    if token.pin_locked:
        raise PinLockedError(
            f"{token.describe()}: the user PIN is locked; nothing was tried",
            hint="unlock it with the security officer PIN, or use another keyholder's key",
        )
    source = uri.pin_source or (str(pin_file) if pin_file else None)
    if source:
        if token.pin_final_try:
            raise PinLockedError(
                f"{token.describe()}: the PIN is on its final try; refusing to use a PIN file unattended",
            )
        pin = _read_pin_source(source)
    elif pin_handler is None:
        raise HsmError(f"{token.describe()}: a PIN is needed and there is no one to ask")
    else:
        pin = pin_handler(f"PIN for {token.describe()} [{token.pin_flags()}]")
    flags = PyKCS11.CKF_SERIAL_SESSION | (PyKCS11.CKF_RW_SESSION if read_write else 0)
    try:
        session = lib.openSession(token.slot, flags)
    except PyKCS11.PyKCS11Error as err:
        raise _hsm_error(err, token.describe()) from err
    try:
        try:
            session.login(pin)
        except PyKCS11.PyKCS11Error as err:
            raise _hsm_error(err, token.describe()) from err
        finally:
            del pin
        yield TokenSession(lib, token, module, session)
    finally:
        with contextlib.suppress(PyKCS11.PyKCS11Error):
            session.logout()
        with contextlib.suppress(PyKCS11.PyKCS11Error):
            session.closeSession()


# --------------------------------------------------------------------------- the signer


class TokenSigner(Signer):
    """A securesystemslib Signer for one private key in an open token session.

    Every signature is verified with the public key right after the token made
    it (see keys.sign_verified), so a swapped or faulty token cannot produce a
    bad signature unnoticed.
    """

    SCHEME = "pkcs11"

    def __init__(self, session: TokenSession, handle: Any, key: TokenKey) -> None:
        self._session = session
        self._handle = handle
        self.token_key = key

    @property
    def public_key(self) -> Key:
        """The TUF public key."""
        return self.token_key.public

    def sign(self, payload: bytes) -> Signature:
        """Sign ``payload`` on the token (not yet verified; use keys.sign_verified)."""
        raw = self._session.sign_raw(self._handle, self.token_key.key_type, payload)
        return Signature(self.token_key.public.keyid, raw.hex())

    @classmethod
    def from_priv_key_uri(
        cls, priv_key_uri: str, public_key: Key, secrets_handler: SecretsHandler | None = None
    ) -> Signer:
        """Not supported: a token signer lives inside an open session (use open_key)."""
        raise HsmError("open token keys with ceremony.core.hsm.open_key, which manages the session")


@contextlib.contextmanager
def open_key(
    uri_text: str, pin_handler: SecretsHandler | None, module: str | None = None, pin_file: Path | None = None
) -> Iterator[TokenSigner]:
    """Log in to the token a URI names, find its one private key, and yield a signer.

    The key is test-signed over a random challenge on the way in, so a wrong
    or faulty key is caught before it signs anything that matters.

    Raises:
        UsageError: the URI is malformed or names no key (id= or object=).
        TokenNotFoundError / KeyNotFoundError: zero or several matches.
        PinIncorrectError / PinLockedError / HsmError: see open_session.
    """
    uri = Pkcs11Uri.parse(uri_text)
    if uri.id is None and uri.object is None:
        raise UsageError(f"{uri.to_string()} names a token but no key: add id= or object=")
    module = resolve_module(uri, module)
    with open_session(uri, module, pin_handler, pin_file=pin_file) as session:
        handles = session.find_private_keys(uri.object, uri.id)
        if len(handles) != 1:
            what = "no private key" if not handles else f"{len(handles)} private keys"
            present = []
            for handle in session.find_private_keys():
                label, key_id = session.attributes(handle, [PyKCS11.CKA_LABEL, PyKCS11.CKA_ID])
                present.append(f"object={_text(label)} id={bytes(key_id).hex()}")
            raise KeyNotFoundError(
                f"{session.token.describe()}: {what} match {uri.to_string()} "
                f"(keys on the token: {'; '.join(present) or 'none'})"
            )
        key_type, public = session.public_key_for(handles[0])
        label_raw, id_raw = session.attributes(handles[0], [PyKCS11.CKA_LABEL, PyKCS11.CKA_ID])
        exact = Pkcs11Uri(
            token=session.token.label,
            serial=session.token.serial,
            object=_text(label_raw) or None,
            id=bytes(id_raw),
            module_path=module,
        )
        key = TokenKey(
            uri=exact.to_string(),
            token=session.token,
            label=_text(label_raw),
            key_type=key_type,
            public=public,
            attributes=session.key_attributes(handles[0]),
        )
        signer = TokenSigner(session, handles[0], key)
        challenge = _keys.prove_signing(signer)
        signer.token_key = TokenKey(**{**vars(key), "challenge": challenge})
        yield signer


def generate_key(
    token_uri: str,
    label: str,
    key_type: str,
    pin_handler: SecretsHandler | None,
    module: str | None = None,
    pin_file: Path | None = None,
) -> TokenKey:
    """Generate a non-extractable key pair on a token and prove it signs.

    Private key template (ceremony-practice.md, Keys and HSMs): CKA_TOKEN,
    CKA_PRIVATE, CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_SIGN true,
    CKA_DECRYPT/UNWRAP/DERIVE false, a random 16-byte CKA_ID. SoftHSM refuses
    CKA_EXTRACTABLE in the public template, so it is not set there. After
    generation CKA_LOCAL, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE are
    read back; a key that does not report them all is destroyed and refused.

    Raises:
        UsageError: unknown key type, or a label that already exists on the token.
        MechanismError: the token cannot generate or sign with this key type.
        HsmError, PinIncorrectError, PinLockedError, TokenNotFoundError: see open_session.
    """
    if key_type not in TOKEN_KEY_TYPES:
        raise UsageError(
            f"key type {key_type!r} cannot be generated on a token; choose one of: {', '.join(TOKEN_KEY_TYPES)}"
        )
    if not label:
        raise UsageError("a token key needs a label")
    kt = TOKEN_KEY_TYPES[key_type]
    uri = Pkcs11Uri.parse(token_uri)
    module = resolve_module(uri, module)
    with open_session(uri, module, pin_handler, read_write=True, pin_file=pin_file) as session:
        if key_type not in session.token.key_types:
            raise MechanismError(
                f"{session.token.describe()} cannot generate {key_type} keys "
                f"(it supports: {', '.join(session.token.key_types) or 'none of ours'})"
            )
        if session.objects_with_label(label):
            raise UsageError(
                f"{session.token.describe()} already holds an object labelled {label!r}; choose another label"
            )
        key_id = os.urandom(16)
        common = [
            (PyKCS11.CKA_TOKEN, True),
            (PyKCS11.CKA_KEY_TYPE, kt.key_type),
            (PyKCS11.CKA_LABEL, label),
            (PyKCS11.CKA_ID, key_id),
        ]
        public_template = [
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY),
            *common,
            (PyKCS11.CKA_PRIVATE, False),
            (PyKCS11.CKA_VERIFY, True),
            (PyKCS11.CKA_EC_PARAMS, kt.ec_params),
        ]
        private_template = [
            (PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
            *common,
            (PyKCS11.CKA_PRIVATE, True),
            (PyKCS11.CKA_SENSITIVE, True),
            (PyKCS11.CKA_EXTRACTABLE, False),
            (PyKCS11.CKA_SIGN, True),
            (PyKCS11.CKA_DECRYPT, False),
            (PyKCS11.CKA_UNWRAP, False),
            (PyKCS11.CKA_DERIVE, False),
        ]
        public_handle, private_handle = session._call(
            f"generating a {key_type} key",
            session.session.generateKeyPair,
            public_template,
            private_template,
            PyKCS11.Mechanism(kt.gen_mechanism, None),
        )
        attributes = session.key_attributes(private_handle)
        if not attributes.safe:
            for handle in (private_handle, public_handle):
                with contextlib.suppress(PyKCS11.PyKCS11Error):
                    session.session.destroyObject(handle)
            raise HsmError(
                f"{session.token.describe()} generated a key that is not local, sensitive and non-extractable "
                f"({attributes.to_dict()}); it was destroyed"
            )
        _name, public = session.public_key_for(private_handle)
        exact = Pkcs11Uri(
            token=session.token.label, serial=session.token.serial, object=label, id=key_id, module_path=module
        )
        key = TokenKey(
            uri=exact.to_string(),
            token=session.token,
            label=label,
            key_type=key_type,
            public=public,
            attributes=attributes,
        )
        signer = TokenSigner(session, private_handle, key)
        challenge = _keys.prove_signing(signer)
        return TokenKey(**{**vars(key), "challenge": challenge})


__all__ = [
    "DEFAULT_MODULE",
    "TOKEN_KEY_TYPES",
    "HsmError",
    "KeyAttributes",
    "KeyNotFoundError",
    "MechanismError",
    "PinIncorrectError",
    "PinLockedError",
    "Pkcs11Uri",
    "TokenInfo",
    "TokenKey",
    "TokenNotFoundError",
    "TokenSigner",
    "generate_key",
    "is_pkcs11_uri",
    "list_tokens",
    "open_key",
    "resolve_module",
]
