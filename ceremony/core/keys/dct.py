"""The cryptography of Docker Content Trust (Notary v1): certificates, raw signatures, notary's key files.

Notary publishes keys as bytes, not as PEM strings: an ``ecdsa`` key is a DER SubjectPublicKeyInfo, an
``ecdsa-x509`` key the PEM of its certificate (leaf first), an ``ed25519`` key the raw 32 bytes; its
signatures are raw (ECDSA r||s, not DER); its root keys come with a certificate per repository (GUN); and its
private key files are PKCS#8 in a form ``cryptography`` will not load. ``core/notary.py`` owns the format
(key objects, key ids, files); this module is the cryptography it needs, each function mirroring the Go code
named in its docstring (notary 0.7.0). It is part of the ``keys`` package, the one owner of ``cryptography``
(``[tool.ceremony.owners]``): a private key made or read here never leaves it, and is kept at rest in the
workspace as every software key is (``keys.encrypt_private_key``).
"""

from __future__ import annotations

import base64
import binascii
import os
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from securesystemslib.signer import Key, Signer, SSlibKey

from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.core.keys import check_passphrase, encrypt_private_key, sign_verified
from ceremony.errors import InputFileError, PassphraseError, SigningKeyError, UsageError

#
# Notary v1 (Docker Content Trust) publishes keys as bytes, not as PEM strings: an ``ecdsa`` key is a DER
# SubjectPublicKeyInfo, an ``ecdsa-x509`` key the PEM of its certificate (leaf first), an ``ed25519`` key the raw
# 32 bytes; and its signatures are raw (ECDSA r||s, not DER). notary.py owns the format; these functions are the
# cryptography it needs, each mirroring the Go code named in its docstring (notary 0.7.0).


def certificate_spki(pem: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of the first certificate in ``pem`` (a leaf followed by any intermediates).

    Notary's canonical key id of an x509 key (``utils.X509PublicKeyID``) and its ECDSA verifier both use the
    first certificate's public key, re-encoded with ``x509.MarshalPKIXPublicKey``; cryptography's DER encoding
    of the loaded key is the same bytes (checked against every sample in tests/vectors/notary-v1). Stricter
    than Go's ``LoadCertFromPEM``, which skips blocks it cannot parse: here every block must be a certificate.

    Raises:
        ValueError: not PEM certificates.
    """
    certificates = x509.load_pem_x509_certificates(pem)
    return (
        certificates[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


#: The signature algorithms Go's ``utils.ValidateCertificate`` refuses in a root certificate (SHA-1).
_SHA1_SIGNATURES = frozenset(
    {
        x509.SignatureAlgorithmOID.RSA_WITH_SHA1,
        x509.SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        x509.SignatureAlgorithmOID.DSA_WITH_SHA1,
    }
)


@dataclass(frozen=True)
class CertificateFacts:
    """What Notary's client checks of one certificate of an x509 key (trustpinning/certs.go, utils/x509.go).

    ``common_name`` is Go's ``Subject.CommonName`` (the last CN attribute, "" without one); the validity dates
    are aware UTC datetimes; ``signature_hash`` names the hash of the issuer's signature ("sha256", "sha1", or
    the algorithm's OID when it has no hash cryptography knows); ``is_ca`` is Go's ``IsCA`` (basic constraints
    present with CA true); ``spki`` is the DER SubjectPublicKeyInfo of the certified key.
    """

    common_name: str
    not_before: datetime
    not_after: datetime
    signature_hash: str
    is_sha1: bool
    is_ca: bool
    spki: bytes


def certificate_facts(pem: bytes) -> list[CertificateFacts]:
    """The facts of every certificate in ``pem`` (a leaf followed by any intermediates), in order.

    Raises:
        ValueError: not PEM certificates.
    """
    found = []
    for cert in x509.load_pem_x509_certificates(pem):
        names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        common_name = names[-1].value if names else ""
        try:
            hash_algorithm = cert.signature_hash_algorithm
            signature_hash = (
                hash_algorithm.name if hash_algorithm is not None else cert.signature_algorithm_oid.dotted_string
            )
        except UnsupportedAlgorithm:
            signature_hash = cert.signature_algorithm_oid.dotted_string
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        found.append(
            CertificateFacts(
                common_name=common_name if isinstance(common_name, str) else common_name.decode("utf-8", "replace"),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                signature_hash=signature_hash,
                is_sha1=cert.signature_algorithm_oid in _SHA1_SIGNATURES,
                is_ca=is_ca,
                spki=cert.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
            )
        )
    return found


def canonical_spki(spki: bytes) -> bytes | None:
    """The one DER form of a public key (uncompressed EC point), or None when ``spki`` is not a public key.

    A key's identity for counting signatures is this form: the same key
    encoded twice (compressed and uncompressed point) is one key.
    """
    try:
        public = serialization.load_der_public_key(spki)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_ecdsa_raw(spki: bytes, signature: bytes, payload: bytes) -> bool:
    """True when ``signature`` (raw r||s) by the EC key ``spki`` is valid over SHA-256 of ``payload``.

    Notary's ``ECDSAVerifier`` (tuf/signed/verifiers.go): the signature must be exactly twice the curve's
    octet length (64 bytes for P-256), split in halves as big-endian r and s, and the digest is always
    SHA-256, whatever the curve. Never raises for a bad key or signature: it is simply not valid.
    """
    try:
        public = serialization.load_der_public_key(spki)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    if not isinstance(public, ec.EllipticCurvePublicKey) or canonical_spki(spki) != spki:
        return False  # Go reads only the uncompressed point: another encoding of a key would count it twice
    octets = (public.curve.key_size + 7) // 8
    if len(signature) != 2 * octets:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:octets], "big"), int.from_bytes(signature[octets:], "big"))
    try:
        public.verify(der, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify_ed25519_raw(public: bytes, signature: bytes, payload: bytes) -> bool:
    """True when ``signature`` (64 bytes) by the raw 32-byte Ed25519 key ``public`` is valid over ``payload``.

    Notary's ``Ed25519Verifier``: both lengths are checked exactly before verifying.
    """
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Notary v1 key files: the encrypted private key files of notary and docker trust ----------------------------
#
# ``~/.notary/private/<id>.key`` and ``~/.docker/trust/private/<id>.key``: one PEM block ``ENCRYPTED PRIVATE KEY``
# with headers (``role`` always, ``gun`` for targets/snapshot/timestamp, ``path`` when exported or to import),
# over PKCS#8 EncryptedPrivateKeyInfo with PBES2: PBKDF2 (HMAC-SHA1 always; notary ignores a ``prf`` field) and
# AES-256-CBC. The plaintext is PKCS#8 with version 1 for EC keys (notary's ``ConvertPrivateKeyToPKCS8``), which
# cryptography refuses, so the envelope and the PKCS#8 wrapper are read and written here by a DER codec bounded
# to exactly these structures: one-byte tags, lengths below 64 KiB in minimal form, at most a few fields each.
# Rules from notary 0.7.0 (tuf/utils/pkcs8.go, tuf/utils/x509.go, trustmanager/keys.go), checked against the
# files in tests/vectors/notary-v1/keys (issue 12 research notes, section 5). Key ids are notary.py's rule:
# this section gives the key type and public bytes (``NotaryKey.keytype``, ``.public``) and never computes one.

NOTARY_PEM_TYPE = "ENCRYPTED PRIVATE KEY"
NOTARY_PBKDF2_ITERATIONS = 2048
NOTARY_SALT_BYTES = 8
NOTARY_KEY_FILE_LIMIT = 16 * 1024
NOTARY_MAX_ITERATIONS = 10_000_000
NOTARY_GUN_ROLES = ("targets", "snapshot", "timestamp")
_NOTARY_HEADERS = ("gun", "path", "role")
_NOTARY_MAX_HEADER = 255

_OID_PBES2 = bytes.fromhex("2a864886f70d01050d")  # 1.2.840.113549.1.5.13
_OID_PBKDF2 = bytes.fromhex("2a864886f70d01050c")  # 1.2.840.113549.1.5.12
_OID_HMAC_SHA1 = bytes.fromhex("2a864886f70d0207")  # 1.2.840.113549.2.7
_OID_AES256_CBC = bytes.fromhex("60864801650304012a")  # 2.16.840.1.101.3.4.1.42
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
_OID_P256 = bytes.fromhex("2a8648ce3d030107")  # 1.2.840.10045.3.1.7
_OID_ED25519_GNUPG = bytes.fromhex("2b06010401da470f01")  # 1.3.6.1.4.1.11591.15.1 (notary's, not RFC 8410's)

_SEQUENCE, _INTEGER, _OCTETS, _OID, _NULL = 0x30, 0x02, 0x04, 0x06, 0x05


class _DerError(ValueError):
    """A DER structure outside the bounds of this codec (the message is a phrase for the caller's sentence)."""


def _der(tag: int, body: bytes) -> bytes:
    """One DER TLV (lengths below 64 KiB, which is all these files need)."""
    size = len(body)
    if size < 0x80:
        length = bytes([size])
    elif size < 0x100:
        length = bytes([0x81, size])
    elif size < 0x10000:
        length = bytes([0x82]) + size.to_bytes(2, "big")
    else:
        raise _DerError("a DER value of 64 KiB or more")
    return bytes([tag]) + length + body


def _der_int(value: int) -> bytes:
    """A non-negative DER INTEGER."""
    return _der(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der_fields(data: bytes, tags: tuple[int, ...], optional: tuple[int, ...] = ()) -> list[tuple[int, bytes]]:
    """The (tag, body) pairs of the TLVs that make up ``data`` exactly: ``tags`` in order, then some of
    ``optional``, in their order and each at most once.

    Raises:
        _DerError: another tag, a field missing or repeated, a length that is not minimal DER, data left over.
    """
    fields: list[tuple[int, bytes]] = []
    allowed = list(optional)
    position = 0
    while position < len(data):
        if len(data) - position < 2:
            raise _DerError("a truncated DER header")
        tag, first = data[position], data[position + 1]
        position += 2
        if first < 0x80:
            size = first
        elif first in (0x81, 0x82):
            count = first - 0x80
            size = int.from_bytes(data[position : position + count], "big")
            if len(data) - position < count or size < (0x80 if count == 1 else 0x100):
                raise _DerError("a DER length that is truncated or not minimal")
            position += count
        else:
            raise _DerError("a DER length that is indefinite or too large")
        if len(fields) < len(tags):
            if tag != tags[len(fields)]:
                raise _DerError(f"tag 0x{tag:02x} where 0x{tags[len(fields)]:02x} belongs")
        elif tag in allowed:
            del allowed[: allowed.index(tag) + 1]
        else:
            raise _DerError(f"an unexpected field (tag 0x{tag:02x})")
        if len(data) - position < size:
            raise _DerError("a DER value longer than its data")
        fields.append((tag, data[position : position + size]))
        position += size
    if len(fields) < len(tags):
        raise _DerError("fewer fields than the structure has")
    return fields


def _der_items(data: bytes, tags: tuple[int, ...], optional: tuple[int, ...] = ()) -> list[bytes]:
    """The bodies of ``_der_fields``."""
    return [body for _tag, body in _der_fields(data, tags, optional)]


def _der_one(data: bytes, tag: int) -> bytes:
    """The body of the one TLV ``data`` is (nothing after it)."""
    return _der_items(data, (tag,))[0]


def _der_small_int(body: bytes, what: str) -> int:
    """A minimal, non-negative DER INTEGER body of at most four bytes."""
    if not body or len(body) > 4 or body[0] & 0x80 or (len(body) > 1 and body[0] == 0 and not body[1] & 0x80):
        raise _DerError(f"the {what} is not a small non-negative DER integer")
    return int.from_bytes(body, "big")


def _oid_text(body: bytes) -> str:
    """Dotted form of a DER OBJECT IDENTIFIER body, for refusals (bounded: at most 16 arcs of 7 bytes)."""
    arcs: list[int] = []
    value = 0
    for index, byte in enumerate(body[:64]):
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
        if len(arcs) > 16 or index > 63:
            break
    if not arcs:
        return "(empty)"
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


class NotaryKey:
    """A private key read from or made for a Notary v1 key file; the key object never leaves this module.

    ``keytype`` and ``public`` are what notary.py needs for the key object and its ids (``ecdsa``: the DER
    SubjectPublicKeyInfo; ``ed25519``: the raw 32 bytes).
    """

    def __init__(self, private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> None:
        self._private = private
        if isinstance(private, ed25519.Ed25519PrivateKey):
            self.keytype = "ed25519"
            self.public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            self.keytype = "ecdsa"
            self.public = private.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )

    def sign(self, payload: bytes) -> bytes:
        """A raw signature as Notary publishes it (ECDSA r||s over SHA-256, or Ed25519), verified at once.

        Raises:
            SigningKeyError: the signature just made does not verify.
        """
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            raw = self._private.sign(payload)
            valid = verify_ed25519_raw(self.public, raw, payload)
        else:
            r, s = decode_dss_signature(self._private.sign(payload, ec.ECDSA(hashes.SHA256())))
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            valid = verify_ecdsa_raw(self.public, raw, payload)
        if not valid:
            raise SigningKeyError("the signature just made with a Notary key does not verify; nothing was written")
        return raw

    def encrypted(self, passphrase: str, label: str) -> bytes:
        """The key as this tool keeps software keys at rest (PKCS#12, ``encrypt_private_key``)."""
        return encrypt_private_key(self._private, passphrase, label)


def generate_notary_key(keytype: str = "ecdsa") -> NotaryKey:
    """A new key of a type Notary uses: ``ecdsa`` (P-256, targets/snapshot/delegations) or ``ed25519``.

    Raises:
        UsageError: another key type.
    """
    if keytype == "ecdsa":
        return NotaryKey(ec.generate_private_key(ec.SECP256R1()))
    if keytype == "ed25519":
        return NotaryKey(ed25519.Ed25519PrivateKey.generate())
    raise UsageError(f"Notary key files hold ecdsa or ed25519 keys, not {printable(keytype, 40)!r}")


def _notary_pem(data: bytes, source: str) -> tuple[dict[str, str], bytes]:
    """The headers and DER of the one ``ENCRYPTED PRIVATE KEY`` block that ``data`` must be (Go's pem form)."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        raise InputFileError(f"{source}: not a Notary key file (not ASCII PEM text)") from err
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    begin, end = f"-----BEGIN {NOTARY_PEM_TYPE}-----", f"-----END {NOTARY_PEM_TYPE}-----"
    if len(lines) < 3 or lines[0] != begin or lines[-1] != end:
        raise InputFileError(
            f"{source}: not a Notary key file (it must be exactly one PEM block '{NOTARY_PEM_TYPE}', "
            "as notary and docker trust write them)"
        )
    if any(line.startswith("-----") for line in lines[1:-1]):
        raise InputFileError(
            f"{source}: the file holds more than one PEM block; export one key at a time (notary key export --key ID)"
        )
    headers: dict[str, str] = {}
    index = 1
    while index < len(lines) - 1 and ":" in lines[index]:
        name, _, value = lines[index].partition(":")
        name, value = name.strip(), value.strip()
        if name not in _NOTARY_HEADERS:
            raise InputFileError(
                f"{source}: unknown PEM header {printable(name, 40)!r} (notary writes gun, path, role)"
            )
        if name in headers:
            raise InputFileError(f"{source}: the PEM header {name!r} appears twice")
        if not value or len(value) > _NOTARY_MAX_HEADER or not value.isprintable():
            raise InputFileError(f"{source}: the PEM header {name!r} is empty, too long or holds control characters")
        headers[name] = value
        index += 1
    if headers and (index >= len(lines) - 1 or lines[index] != ""):
        raise InputFileError(f"{source}: the PEM headers are not followed by one empty line")
    body = "".join(lines[index + 1 if headers else index : -1])
    try:
        der = base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error) as err:
        raise InputFileError(f"{source}: the PEM body is not base64") from err
    if "role" not in headers:
        raise InputFileError(f"{source}: the key file has no 'role' header (notary needs it to import the key)")
    if headers["role"] in NOTARY_GUN_ROLES and "gun" not in headers:
        raise InputFileError(f"{source}: a {headers['role']} key file needs a 'gun' header (notary refuses it without)")
    return headers, der


def _notary_envelope(der: bytes) -> tuple[bytes, int, bytes, bytes]:
    """Salt, iteration count, IV and ciphertext of a PBES2 EncryptedPrivateKeyInfo as notary reads it.

    Raises:
        _DerError: not that structure, another KDF or cipher, or a parameter out of bounds.
    """
    algorithm, ciphertext = _der_items(_der_one(der, _SEQUENCE), (_SEQUENCE, _OCTETS))
    scheme, params = _der_items(algorithm, (_OID, _SEQUENCE))
    if scheme != _OID_PBES2:
        raise _DerError(f"it is encrypted with scheme {_oid_text(scheme)}, not PBES2")
    kdf, cipher = _der_items(params, (_SEQUENCE, _SEQUENCE))
    kdf_oid, kdf_params = _der_items(kdf, (_OID, _SEQUENCE))
    if kdf_oid != _OID_PBKDF2:
        raise _DerError(f"its key derivation is {_oid_text(kdf_oid)}, not PBKDF2")
    fields = _der_fields(kdf_params, (_OCTETS, _INTEGER), (_INTEGER, _SEQUENCE))
    salt, iterations = fields[0][1], _der_small_int(fields[1][1], "iteration count")
    for tag, extra in fields[2:]:
        if tag == _SEQUENCE:  # prf AlgorithmIdentifier: notary always uses HMAC-SHA1
            prf = _der_items(extra, (_OID,), (_NULL,))[0]
            if prf != _OID_HMAC_SHA1:
                raise _DerError(f"its PBKDF2 uses {_oid_text(prf)}; notary reads only HMAC-SHA1")
        elif _der_small_int(extra, "key length") != 32:
            raise _DerError("its PBKDF2 key length is not 32 bytes (AES-256)")
    if not 8 <= len(salt) <= 64:
        raise _DerError(f"its salt is {len(salt)} bytes (8 to 64 are accepted)")
    if not 1 <= iterations <= NOTARY_MAX_ITERATIONS:
        raise _DerError(f"its iteration count {iterations:,} is outside 1 to {NOTARY_MAX_ITERATIONS:,}")
    cipher_oid, iv = _der_items(cipher, (_OID, _OCTETS))
    if cipher_oid != _OID_AES256_CBC:
        raise _DerError(f"its cipher is {_oid_text(cipher_oid)}, not AES-256-CBC")
    if len(iv) != 16:
        raise _DerError(f"its AES IV is {len(iv)} bytes, not 16")
    if not ciphertext or len(ciphertext) % 16 or len(ciphertext) > 4096:
        raise _DerError("its ciphertext is not whole AES blocks of at most 4 KiB")
    return salt, iterations, iv, ciphertext


def _notary_aes_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    """PBKDF2-HMAC-SHA1 to a 32-byte AES key, as notary derives it."""
    try:
        secret = passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise PassphraseError("the passphrase is not valid text (it holds an undecodable character)") from None
    return PBKDF2HMAC(hashes.SHA1(), 32, salt, iterations).derive(secret)  # noqa: S303


class _UnsupportedNotaryKey(ValueError):
    """The file decrypted, but holds a key notary's signers do not use (the message is a phrase)."""


def _notary_private(plaintext: bytes) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    """The key in notary's plaintext PKCS#8 (version 0, or 1 for EC), EC P-256 or notary's Ed25519 form.

    Raises:
        _DerError: not that structure (after a wrong passphrase, usually), or another key type.
    """
    version, algorithm, key = _der_items(_der_one(plaintext, _SEQUENCE), (_INTEGER, _SEQUENCE, _OCTETS))
    if _der_small_int(version, "PKCS#8 version") not in (0, 1):
        raise _DerError("its PKCS#8 version is not 0 or 1")
    fields = _der_items(algorithm, (_OID,), (_OID, _NULL))
    if fields[0] == _OID_EC_PUBLIC_KEY:
        if fields[1:] != [_OID_P256]:
            raise _UnsupportedNotaryKey("an EC key on a curve other than P-256")
        private = serialization.load_der_private_key(key, None)  # SEC1 ECPrivateKey; ValueError if not
        if not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
            raise _DerError("its SEC1 key is not on P-256")
        return private
    if fields[0] == _OID_ED25519_GNUPG:
        if len(key) != 96:  # public 32 || Go's ed25519.PrivateKey (seed 32 || public 32)
            raise _DerError("its Ed25519 key is not 96 bytes")
        private_ed = ed25519.Ed25519PrivateKey.from_private_bytes(key[32:64])
        public = private_ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if key[:32] != public or key[64:] != public:
            raise _DerError("its Ed25519 public key does not match the private key")
        return private_ed
    raise _UnsupportedNotaryKey(f"a key of algorithm {_oid_text(fields[0])}")


def _notary_pkcs8(private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    """Notary's plaintext PKCS#8 (``ConvertPrivateKeyToPKCS8``): EC version 1 with the SEC1 key, Ed25519 version 0."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        seed = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return _der(
            _SEQUENCE,
            _der_int(0) + _der(_SEQUENCE, _der(_OID, _OID_ED25519_GNUPG)) + _der(_OCTETS, public + seed + public),
        )
    sec1 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    algorithm = _der(_SEQUENCE, _der(_OID, _OID_EC_PUBLIC_KEY) + _der(_OID, _OID_P256))
    return _der(_SEQUENCE, _der_int(1) + algorithm + _der(_OCTETS, sec1))


def read_notary_key_file(path: Path, passphrase: str) -> tuple[NotaryKey, dict[str, str]]:
    """The key and PEM headers (``role``; ``gun``, ``path`` when present) of a notary or docker trust key file.

    Read as notary 0.7.0 reads it: salt and iteration count from the file, HMAC-SHA1 always, AES-256-CBC, the
    PKCS#8 version-1 EC quirk. The canonical key id (the file's name in a trust directory) is notary.py's:
    ``canonical_key_id(key_object(key.keytype, key.public))``.

    Raises:
        InputFileError: missing, larger than 16 KiB, not one ``ENCRYPTED PRIVATE KEY`` block, no ``role``
            header (or no ``gun`` for targets/snapshot/timestamp), another cipher, KDF or key type, or
            parameters out of bounds (each one sentence naming the file).
        PassphraseError: the passphrase is wrong (or the encrypted part is damaged).
    """
    source = printable(str(path))
    headers, der = _notary_pem(read_bytes(path, "key file", limit=NOTARY_KEY_FILE_LIMIT), source)
    try:
        salt, iterations, iv, ciphertext = _notary_envelope(der)
    except _DerError as err:
        raise InputFileError(f"{source}: not a key file notary can read: {err}") from err
    decryptor = Cipher(algorithms.AES(_notary_aes_key(passphrase, salt, iterations)), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    wrong = PassphraseError(
        f"{source}: the passphrase is wrong, or the key file is damaged",
        hint="check with the key's owner; the passphrase is case-sensitive",
    )
    try:
        unpadder = sym_padding.PKCS7(128).unpadder()
        plaintext = unpadder.update(padded) + unpadder.finalize()
        return NotaryKey(_notary_private(plaintext)), headers
    except _UnsupportedNotaryKey as err:
        raise InputFileError(f"{source}: the key file holds {err}; Notary keys are ECDSA P-256 or Ed25519") from err
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise wrong from err


def write_notary_key_file(key: NotaryKey, passphrase: str, role: str, path: str, gun: str | None = None) -> bytes:
    """The bytes of a key file that ``notary key import`` and ``docker trust key load`` accept.

    As notary writes one: headers sorted (``gun``, ``path``, ``role``; Go's ``pem.Encode``), PBES2 with
    PBKDF2-HMAC-SHA1 (2,048 iterations, 8-byte random salt, no prf field), AES-256-CBC, plaintext PKCS#8 as
    ``ConvertPrivateKeyToPKCS8`` (EC version 1). ``path`` is the key's canonical id (notary.py computes it);
    notary refuses an encrypted file without it. ``gun`` is required for targets, snapshot and timestamp keys
    and refused for others (notary strips it). The caller writes the bytes with mode 0600.

    Raises:
        PassphraseError: the passphrase is shorter than MIN_PASSPHRASE_LENGTH.
        UsageError: a role, gun or path notary would refuse or drop.
    """
    check_passphrase(passphrase, f"the {printable(role, 40)} key file")
    headers = {"role": role, "path": path}
    if role in NOTARY_GUN_ROLES:
        if not gun:
            raise UsageError(f"a {role} key file needs the GUN of its repository")
        headers["gun"] = gun
    elif gun is not None:
        raise UsageError(f"a {printable(role, 40)} key file carries no GUN (notary strips it on import)")
    for name, value in headers.items():
        if not value or len(value) > _NOTARY_MAX_HEADER or not value.isprintable() or value != value.strip():
            raise UsageError(f"the {name} of a Notary key file must be 1 to {_NOTARY_MAX_HEADER} printable characters")
    if len(path) != 64 or any(c not in "0123456789abcdef" for c in path):
        raise UsageError("the path of a Notary key file is its canonical key id (64 lowercase hex digits)")
    salt, iv = os.urandom(NOTARY_SALT_BYTES), os.urandom(16)
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(_notary_pkcs8(key._private)) + padder.finalize()
    aes_key = _notary_aes_key(passphrase, salt, NOTARY_PBKDF2_ITERATIONS)
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    kdf = _der(
        _SEQUENCE, _der(_OID, _OID_PBKDF2) + _der(_SEQUENCE, _der(_OCTETS, salt) + _der_int(NOTARY_PBKDF2_ITERATIONS))
    )
    cipher = _der(_SEQUENCE, _der(_OID, _OID_AES256_CBC) + _der(_OCTETS, iv))
    algorithm = _der(_SEQUENCE, _der(_OID, _OID_PBES2) + _der(_SEQUENCE, kdf + cipher))
    body = base64.b64encode(_der(_SEQUENCE, algorithm + _der(_OCTETS, ciphertext))).decode("ascii")
    lines = [f"-----BEGIN {NOTARY_PEM_TYPE}-----"]
    lines += [f"{name}: {headers[name]}" for name in sorted(headers)]
    lines += ["", *(body[i : i + 64] for i in range(0, len(body), 64)), f"-----END {NOTARY_PEM_TYPE}-----", ""]
    return "\n".join(lines).encode("ascii")


# --- end of Notary v1 key files -----------------------------------------------------------------------------------


# --- Root certificates made here, and signatures in Notary's raw form ---------------------------------------------
#
# A Notary root key is published as a certificate per repository (CN = the GUN), self-signed as notary's
# ``cryptoservice.GenerateCertificate`` makes it, or issued by a CA of the workspace so that clients can pin
# the CA (``trust_pinning.ca``). Root keys live in software or on a token, so a certificate is signed through
# a securesystemslib ``Signer``, never with a private key object: cryptography builds the to-be-signed part
# (with a throw-away key of the same algorithm, whose signature is discarded), the key's own signer signs it,
# and the certificate is assembled from the two and checked before it is returned.

#: AlgorithmIdentifier of ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters (RFC 5758).
_ECDSA_SHA256_ALGORITHM = _der(_SEQUENCE, _der(_OID, bytes.fromhex("2a8648ce3d040302")))
_BIT_STRING = 0x03
#: Go's ``x509.Certificate`` has no limit on the CN; RFC 5280's upper bound is 64 characters, which many GUNs
#: exceed (``registry.example.com:5000/team/project/image``). Longer CNs are written as notary writes them.
_RFC5280_CN_LIMIT = 64


def ecdsa_p256_spki(public: Key) -> bytes:
    """The DER SubjectPublicKeyInfo of a TUF ECDSA P-256 key (a software or token key of this workspace).

    Notary root keys are ECDSA P-256 only (``ecdsa-x509``): the stock client and server sign and verify
    nothing else for root.

    Raises:
        UsageError: not an ECDSA P-256 key.
    """
    pem = public.keyval.get("public", "") if isinstance(public.keyval, dict) else ""
    try:
        loaded = serialization.load_pem_public_key(str(pem).encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        loaded = None
    if not isinstance(loaded, ec.EllipticCurvePublicKey) or not isinstance(loaded.curve, ec.SECP256R1):
        raise UsageError(
            f"key {public.keyid[:12]} is not ECDSA P-256; Docker Content Trust root and repository keys must be "
            "(use key type ecdsa, or a token key made with --key-type ecdsa-p256)"
        )
    return loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def notary_signature(signer: Signer, payload: bytes) -> bytes:
    """Sign ``payload`` as Notary publishes an ECDSA signature (raw r||s over SHA-256), verified at once.

    The signer is any securesystemslib signer of an ECDSA P-256 key (software or token): its DER signature is
    checked (``sign_verified``), turned into r||s, and checked again in that form.

    Raises:
        SigningKeyError: the signature does not verify, or the signer's key is not ECDSA P-256.
    """
    signature = sign_verified(signer, payload)
    try:
        spki = ecdsa_p256_spki(signer.public_key)
        r, s = decode_dss_signature(bytes.fromhex(signature.signature))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    except (UsageError, ValueError, OverflowError) as err:
        raise SigningKeyError(f"the key {signer.public_key.keyid[:12]} cannot sign Notary metadata: {err}") from err
    if not verify_ecdsa_raw(spki, raw, payload):
        raise SigningKeyError("the signature just made does not verify in Notary's form; nothing was written")
    return raw


@dataclass(frozen=True)
class CertificateRequest:
    """What a root certificate says: the GUN as CN, its validity, and whether it is a CA or a leaf.

    ``code_signing`` is notary's template (EKU codeSigning). A leaf issued by a CA that clients pin leaves
    it out: Go verifies a pinned chain for serverAuth by default, and a codeSigning-only leaf fails it
    (docs/dct.md, "Pinning").
    """

    common_name: str
    not_before: datetime
    not_after: datetime
    is_ca: bool = False
    code_signing: bool = True


def _name(common_name: str) -> x509.Name:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a CN longer than RFC 5280's bound, as notary writes it
        validate = len(common_name) <= _RFC5280_CN_LIMIT
        return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name, _validate=validate)])


def make_certificate(
    subject: Key, request: CertificateRequest, issuer: Signer, issuer_certificate: bytes | None = None
) -> bytes:
    """A certificate (PEM) of ``subject`` as ``request`` says, signed by ``issuer`` (its own key: self-signed).

    Notary's template for a root key (``cryptoservice.GenerateCertificate``): a random serial, ecdsa-with-SHA256,
    key usage digitalSignature + keyEncipherment (critical), basic constraints CA:FALSE (critical), EKU
    codeSigning. A CA certificate has CA:TRUE with path length 0 and keyCertSign + cRLSign. The result is
    parsed back and its signature checked with the issuer's public key before it is returned.

    Args:
        subject: the key the certificate is for (ECDSA P-256).
        request: CN, validity, CA or leaf.
        issuer: the signer of the issuing key: the subject's own (self-signed) or the CA's.
        issuer_certificate: the CA's certificate (PEM), when ``issuer`` is a CA.

    Raises:
        UsageError: a key that is not ECDSA P-256, an empty CN, or a validity that ends before it starts.
        SigningKeyError: the signature does not verify.
    """
    if not request.common_name or not request.common_name.isprintable():
        raise UsageError("a certificate's common name (the GUN) must be printable text")
    if request.not_after <= request.not_before:
        raise UsageError("a certificate's validity must end after it starts")
    subject_public = serialization.load_der_public_key(ecdsa_p256_spki(subject))
    issuer_spki = ecdsa_p256_spki(issuer.public_key)
    if issuer_certificate is None:
        if issuer_spki != ecdsa_p256_spki(subject):
            raise UsageError("a self-signed certificate must be signed by its own key")
        issuer_name = _name(request.common_name)
    else:
        ca = x509.load_pem_x509_certificate(issuer_certificate)
        if ca.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != (issuer_spki):
            raise UsageError("the CA certificate is not the certificate of the signing key")
        issuer_name = ca.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(request.common_name))
        .issuer_name(issuer_name)
        .public_key(subject_public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(request.not_before)
        .not_valid_after(request.not_after)
    )
    if request.is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        usage = {"key_cert_sign": True, "crl_sign": True, "digital_signature": True, "key_encipherment": False}
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        usage = {"key_cert_sign": False, "crl_sign": False, "digital_signature": True, "key_encipherment": True}
        if request.code_signing:
            builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CODE_SIGNING]), False)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    # The throw-away key only fixes the signature algorithm inside the to-be-signed part; its signature is dropped.
    tbs = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).tbs_certificate_bytes
    signature = bytes.fromhex(sign_verified(issuer, tbs).signature)
    der = _der(_SEQUENCE, tbs + _ECDSA_SHA256_ALGORITHM + _der(_BIT_STRING, b"\x00" + signature))
    certificate = x509.load_der_x509_certificate(der)
    issuer_key = serialization.load_der_public_key(issuer_spki)
    try:
        assert isinstance(issuer_key, ec.EllipticCurvePublicKey)  # noqa: S101 - ecdsa_p256_spki checked it
        issuer_key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise SigningKeyError("the certificate just signed does not verify; nothing was written") from err
    return certificate.public_bytes(serialization.Encoding.PEM)


def tuf_key_from_spki(spki: bytes) -> Key:
    """The securesystemslib key of an ECDSA P-256 SubjectPublicKeyInfo (a root key named by its certificate).

    The workspace reaches a root key (software file or token) through the same signers as TUF keys; they are
    checked against this key before they sign.

    Raises:
        UsageError: not an ECDSA P-256 key.
    """
    try:
        public = serialization.load_der_public_key(spki)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        public = None
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise UsageError("a Docker Content Trust root key must be ECDSA P-256")
    return SSlibKey.from_crypto(public, scheme="ecdsa-sha2-nistp256")
