"""ceremony/core/signers.py: KEYSPECs, key file references, the identity check, signing verified.

No token and no PKCS#11 module: a URI that names its serial is taken at its
word. The one software key file is made by ``keys.generate_key`` with a low
PBKDF2 count (the file format is the same; only the stretching is cheaper),
so unlocking it takes milliseconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner, Signature, SSlibKey

from ceremony.core import keys as _keys
from ceremony.core import signers
from ceremony.core.signers import GENERATE, PKCS11, PUBLIC, SOFTWARE, TOKEN, KeySpec
from ceremony.errors import PassphraseError, SigningKeyError, UsageError, WorkspaceError
from tests.core.signers import ed25519_signer, p256_signer

PASSPHRASE = "correct horse battery staple"
PAYLOAD = b"payload to sign"
HEX = "0123456789abcdef" * 4


ONE, TWO, P256 = ed25519_signer(), ed25519_signer(), p256_signer()
# ONE's public key under another key id (an imported repository's own key ids)
ONE_AGAIN = SSlibKey("e" * 64, ONE.public_key.keytype, ONE.public_key.scheme, dict(ONE.public_key.keyval))

# --------------------------------------------------------------------------- KEYSPEC

# text -> (kind, value)
PARSE: dict[str, tuple[str, tuple[str, str]]] = {
    **{f"key type {name}": (name, (GENERATE, name)) for name in _keys.KEY_TYPES},
    "key type, spaces around": ("  ed25519 \n", (GENERATE, "ed25519")),
    "pkcs11 URI": ("pkcs11:token=Root%20A;object=root-1", (PKCS11, "pkcs11:token=Root%20A;object=root-1")),
    "pkcs11 URI with a query": ("pkcs11:serial=ABC123;object=k?pin-source=file:/pin", (PKCS11, "pkcs11:serial=ABC123;object=k?pin-source=file:/pin")),
    "token:SERIAL": ("token:0123abcd", (TOKEN, "0123abcd")),
    "a public key file": ("keys/timestamp.pub.pem", (PUBLIC, "keys/timestamp.pub.pem")),
    "an absolute path": ("/media/usb/online.pem", (PUBLIC, "/media/usb/online.pem")),
    "an unknown key type is a path": ("ed448", (PUBLIC, "ed448")),
    "a key type's case matters": ("Ed25519", (PUBLIC, "Ed25519")),
    "file: is a path to parse": ("file:x.pem", (PUBLIC, "file:x.pem")),
}  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PARSE.values(), ids=PARSE.keys())
def test_parse(text: str, expected: tuple[str, str]) -> None:
    assert KeySpec.parse(text) == KeySpec(*expected)


# text -> exact sentence
PARSE_REFUSALS: dict[str, tuple[str, str]] = {
    "empty": ("", "an empty KEYSPEC: give a key type, a pkcs11: URI, token:SERIAL or a public key file"),
    "blank": ("  \t", "an empty KEYSPEC: give a key type, a pkcs11: URI, token:SERIAL or a public key file"),
    "token: with no serial": ("token:", "token: needs the serial of the token to generate the key on (token:SERIAL)"),
    "token: with no serial, spaces": (" token: ", "token: needs the serial of the token to generate the key on (token:SERIAL)"),
}  # fmt: skip


@pytest.mark.parametrize(("text", "sentence"), PARSE_REFUSALS.values(), ids=PARSE_REFUSALS.keys())
def test_parse_refusal(text: str, sentence: str) -> None:
    with pytest.raises(UsageError) as caught:
        KeySpec.parse(text)
    assert str(caught.value) == sentence


PARSE_OWN: dict[str, tuple[str, tuple[str, str]]] = {
    "pkcs11 URI": ("pkcs11:token=A;object=root-1", (PKCS11, "pkcs11:token=A;object=root-1")),
    "a path": ("/home/kim/root-1.p12", (SOFTWARE, "/home/kim/root-1.p12")),
    "a relative path": ("root-1.p12", (SOFTWARE, "root-1.p12")),
    "file:PATH": ("file:/home/kim/root-1.p12", (SOFTWARE, "/home/kim/root-1.p12")),
    "file:relative": ("file:keys/root-1.p12", (SOFTWARE, "keys/root-1.p12")),
    "a key type is a path here": ("ed25519", (SOFTWARE, "ed25519")),
    "token: is a path here": ("token:123", (SOFTWARE, "token:123")),
}  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PARSE_OWN.values(), ids=PARSE_OWN.keys())
def test_parse_own(text: str, expected: tuple[str, str]) -> None:
    assert KeySpec.parse_own(text) == KeySpec(*expected)


DESCRIBE: dict[str, tuple[KeySpec, str]] = {
    "generate": (KeySpec(GENERATE, "ecdsa-p256"), "new ecdsa-p256 software key"),
    "pkcs11": (KeySpec(PKCS11, "pkcs11:token=A;object=k?pin-source=file:/secret"), "token key pkcs11:token=A;object=k"),
    "token": (KeySpec(TOKEN, "0123abcd"), "new ecdsa-p256 key on the token with serial 0123abcd"),
    "software": (KeySpec(SOFTWARE, "/home/kim/root-1.p12"), "software key file /home/kim/root-1.p12"),
    "public": (KeySpec(PUBLIC, "online.pem"), "public key from online.pem (held elsewhere)"),
}  # fmt: skip


@pytest.mark.parametrize(("spec", "text"), DESCRIBE.values(), ids=DESCRIBE.keys())
def test_describe(spec: KeySpec, text: str) -> None:
    assert spec.describe() == text


# KEYSPEC -> token identity without a module (lookup=False, or a serial in the URI)
TOKEN_IDENTITY: dict[str, tuple[str, bool, str | None]] = {
    "serial in the URI, lookup=False": ("pkcs11:token=Root%20A;serial=ABC123;object=k", False, "ABC123"),
    "serial in the URI, lookup=True": ("pkcs11:token=Root%20A;serial=ABC123;object=k", True, "ABC123"),
    "no serial, lookup=False: the label": ("pkcs11:token=Root%20A;object=k", False, "Root A"),
    "neither, lookup=False": ("pkcs11:object=k", False, None),
    "token:SERIAL": ("token:0123abcd", True, "0123abcd"),
    "key type": ("ed25519", True, None),
    "public key file": ("online.pem", True, None),
}  # fmt: skip


@pytest.mark.parametrize(("text", "lookup", "identity"), TOKEN_IDENTITY.values(), ids=TOKEN_IDENTITY.keys())
def test_token_identity(text: str, lookup: bool, identity: str | None) -> None:
    assert KeySpec.parse(text).token_identity(None, lookup=lookup) == identity


def test_token_identity_of_a_bad_uri_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        KeySpec.parse("pkcs11:token=A?pin-value=1234").token_identity(None, lookup=False)
    assert str(caught.value) == (
        "PKCS#11 URI: pin-value is refused; a PIN must never be on the command line "
        "(use pin-source=file:/path for drills, or type it when asked)"
    )


@pytest.mark.parametrize(
    ("parts", "label"),
    [
        (("ws", "root", "20260101"), "ws-root-20260101"),
        (("my ws", "root;x", "?a"), "my-ws-root-x--a"),
        (("a" * 50, "b" * 50), "a" * 50 + "-" + "b" * 13),
    ],
    ids=["plain", "unsafe characters", "cut at 64"],
)
def test_object_label(parts: tuple[str, ...], label: str) -> None:
    assert signers.object_label(*parts) == label


# --------------------------------------------------------------------------- key files

KEY_FILES_OK: dict[str, tuple[str, str]] = {
    "keys/<keyid>.p12": (f"file:keys/{HEX}.p12", f"keys/{HEX}.p12"),
}
# uri -> refused (WorkspaceError)
KEY_FILES_REFUSED: dict[str, str] = {
    "absolute path": f"file:/etc/{HEX}.p12",
    "..": f"file:keys/../{HEX}.p12",
    "../ of keys": f"file:../keys/{HEX}.p12",
    "other directory": f"file:metadata/{HEX}.p12",
    "subdirectory": f"file:keys/x/{HEX}.p12",
    "63 hex digits": f"file:keys/{HEX[:63]}.p12",
    "65 hex digits": f"file:keys/{HEX}0.p12",
    "uppercase": f"file:keys/{HEX.upper()}.p12",
    "not hex": f"file:keys/{'g' * 64}.p12",
    "other extension": f"file:keys/{HEX}.pem",
    "no file: scheme": f"keys/{HEX}.p12",
    "pkcs11 URI": "pkcs11:token=A;object=k",
    "empty": "",
}


@pytest.mark.parametrize(("uri", "relative"), KEY_FILES_OK.values(), ids=KEY_FILES_OK.keys())
def test_key_file(tmp_path: Path, uri: str, relative: str) -> None:
    assert signers.key_file(tmp_path, uri) == tmp_path / relative


@pytest.mark.parametrize("uri", KEY_FILES_REFUSED.values(), ids=KEY_FILES_REFUSED.keys())
def test_key_file_refused(tmp_path: Path, uri: str) -> None:
    with pytest.raises(WorkspaceError) as caught:
        signers.key_file(tmp_path, uri)
    assert str(caught.value) == f"{uri!r} is not a key file of this workspace (expected file:keys/<keyid>.p12)"


def test_key_file_refusal_escapes_controls(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as caught:
        signers.key_file(tmp_path, "file:\x1b[2J")
    assert str(caught.value) == r"'file:\\x1b[2J' is not a key file of this workspace (expected file:keys/<keyid>.p12)"


# --------------------------------------------------------------------------- identity and signing

# name -> (signer's key, metadata's key, refused)
IDENTITY: dict[str, tuple[SSlibKey, SSlibKey, bool]] = {
    "same key": (ONE.public_key, ONE.public_key, False),
    "same key, other key id": (ONE.public_key, ONE_AGAIN, False),
    "other key": (TWO.public_key, ONE.public_key, True),
    "other key type": (P256.public_key, ONE.public_key, True),
}


@pytest.mark.parametrize(("signer_key", "key", "refused"), IDENTITY.values(), ids=IDENTITY.keys())
def test_check_identity(signer_key: SSlibKey, key: SSlibKey, refused: bool) -> None:
    if not refused:
        signers.check_identity(signer_key, key, "pkcs11:token=A;object=k", "root-1")
        return
    with pytest.raises(SigningKeyError) as caught:
        signers.check_identity(signer_key, key, "pkcs11:token=A;object=k", "root-1")
    assert str(caught.value) == f"the key at pkcs11:token=A;object=k is not key root-1 ({key.keyid[:12]})"


@dataclass
class WrongSigner:
    """A signer that signs with another key than it says (a swapped token, a faulty KMS)."""

    inner: CryptoSigner
    public_key: SSlibKey

    def sign(self, payload: bytes) -> Signature:
        return self.inner.sign(payload)


@dataclass
class GarbageSigner:
    """A signer whose signature is not a signature at all."""

    public_key: SSlibKey
    value: str

    def sign(self, payload: bytes) -> Signature:
        return Signature(self.public_key.keyid, self.value)


# name -> (signer, the metadata's key, verifies)
SIGN_VERIFIED: dict[str, tuple[Any, SSlibKey, bool]] = {
    "ed25519": (ONE, ONE.public_key, True),
    "ecdsa p-256": (P256, P256.public_key, True),
    "same key, other key id": (ONE, ONE_AGAIN, True),
    "signer of another key": (TWO, ONE.public_key, False),
    "swapped key behind the signer": (WrongSigner(TWO, ONE.public_key), ONE.public_key, False),
    "zero bytes": (GarbageSigner(ONE.public_key, "00" * 64), ONE.public_key, False),
    "empty": (GarbageSigner(ONE.public_key, ""), ONE.public_key, False),
    "not hex": (GarbageSigner(ONE.public_key, "zz"), ONE.public_key, False),
}  # fmt: skip


@pytest.mark.parametrize(("signer", "key", "verifies"), SIGN_VERIFIED.values(), ids=SIGN_VERIFIED.keys())
def test_sign_as(signer: Any, key: SSlibKey, verifies: bool) -> None:
    if verifies:
        sig = signers.sign_as(signer, key, PAYLOAD)
        assert _keys.signature_is_valid(key, sig, PAYLOAD)
        return
    with pytest.raises(SigningKeyError) as caught:
        signers.sign_as(signer, key, PAYLOAD)
    assert str(caught.value) == (
        f"the signature just made with key {key.keyid[:12]} does not verify; nothing was written"
    )


# --------------------------------------------------------------------------- keys the workspace holds


def test_signer_for_uri_scheme() -> None:
    assert set(signers.SIGNER_FOR_URI_SCHEME) == {"file", "pkcs11"}
    assert all(callable(unlock) for unlock in signers.SIGNER_FOR_URI_SCHEME.values())


@dataclass(frozen=True)
class HeldKey:
    base: Path
    public: SSlibKey
    uri: str


@pytest.fixture(scope="module")
def held_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldKey]:
    """One software key in <base>/keys/<keyid>.p12, made by keys.generate_key."""
    base = tmp_path_factory.mktemp("held")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_keys, "PBKDF2_ITERATIONS", 1_000)
        key = _keys.generate_key("ed25519", PASSPHRASE, "root-1")
    (base / "keys").mkdir()
    (base / "keys" / f"{key.public.keyid}.p12").write_bytes(key.encrypted)
    yield HeldKey(base, key.public, f"file:keys/{key.public.keyid}.p12")


def _unlock(held: HeldKey, uri: str | None) -> tuple[Any, list[str]]:
    """unlock_held_key for ``uri`` and the held key; the signer and the labels a passphrase was asked for."""
    asked: list[str] = []

    def passphrase_for(label: str) -> str:
        asked.append(label)
        return PASSPHRASE

    with contextlib.ExitStack() as stack:
        signer = signers.unlock_held_key(held.base, uri, held.public, "root-1", passphrase_for, None, None, stack)
    return signer, asked


# uri (a function of the held key's uri) -> None: held elsewhere, or a scheme this tool has no signer for
NOT_HELD: dict[str, Callable[[str], str | None]] = {
    "None": lambda _uri: None,
    "empty": lambda _uri: "",
    "unknown scheme": lambda _uri: "kms:projects/x/keys/root-1",
    "no scheme": lambda uri: uri.removeprefix("file:"),
    "scheme case": lambda uri: uri.replace("file:", "FILE:"),
}


@pytest.mark.parametrize("uri", NOT_HELD.values(), ids=NOT_HELD.keys())
def test_unlock_held_key_not_held_here(held_key: HeldKey, uri: Callable[[str], str | None]) -> None:
    assert _unlock(held_key, uri(held_key.uri)) == (None, [])


def test_unlock_held_key_software(held_key: HeldKey) -> None:
    signer, asked = _unlock(held_key, held_key.uri)
    assert asked == ["root-1"]
    assert signer.public_key.keyid == held_key.public.keyid
    assert _keys.signature_is_valid(held_key.public, signers.sign_as(signer, held_key.public, PAYLOAD), PAYLOAD)


# name -> (how the call differs from the good one, exception type)
UNLOCK_REFUSED: dict[str, tuple[dict[str, Any], type[Exception]]] = {
    "wrong passphrase": ({"passphrase": "not the passphrase"}, PassphraseError),
    "another key's metadata": ({"key": TWO.public_key}, SigningKeyError),
    "a uri outside keys/": ({"uri": "file:../x.p12"}, WorkspaceError),
}


@pytest.mark.parametrize(("change", "error"), UNLOCK_REFUSED.values(), ids=UNLOCK_REFUSED.keys())
def test_unlock_held_key_refused(held_key: HeldKey, change: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error) as caught, contextlib.ExitStack() as stack:
        signers.unlock_held_key(
            held_key.base,
            change.get("uri", held_key.uri),
            change.get("key", held_key.public),
            "root-1",
            lambda _label: change.get("passphrase", PASSPHRASE),
            None,
            None,
            stack,
        )
    assert type(caught.value) is error
