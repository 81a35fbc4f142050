"""Software signing keys: generate, encrypt at rest, unlock, and sign.

This module is the only place that touches private key material in software.
It deliberately offers recipes, not primitives: a key is generated and
encrypted in one call, and unlocked straight into a securesystemslib
``CryptoSigner`` that never leaves memory.

At rest a key is a PKCS#12 file (RFC 7292) holding one shrouded key bag,
encrypted with PBES2: PBKDF2-HMAC-SHA256 with 600,000 iterations and
AES-256-CBC (the iteration count OWASP recommends for PBKDF2-SHA256 in 2023).
``openssl pkcs12`` and ``cryptography`` both read it, so a key can be recovered
without this tool. The format is documented in docs/key-format.md.

What it does not do: PKCS#11 keys (see hsm.py), and it never writes a key
unencrypted or keeps a passphrase after the call that used it. It is the only
module that imports ``cryptography``: hsm.py and shares.py reach it through
``public_key_from_point``, ``ecdsa_signature_from_raw`` and ``decrypt_private_key``, and notary.py
through the Notary v1 section at the end (certificates, SPKI, raw signatures).
"""

from __future__ import annotations

import base64
import binascii
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import pkcs12
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import CryptoSigner, Key, Signature, Signer, SSlibKey

from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.errors import InputFileError, PassphraseError, SigningKeyError, UsageError

#: A callable that returns a secret for the prompt it is given. getpass in the
#: CLI, a closure in the TUI, a lambda in tests. The core never stores the result.
SecretsHandler = Callable[[str], str]

PBKDF2_ITERATIONS = 600_000
MIN_PASSPHRASE_LENGTH = 8


@dataclass(frozen=True)
class KeyType:
    """One software key type the tool can generate, with its TUF names."""

    name: str
    keytype: str
    scheme: str
    description: str
    caveat: str = ""


KEY_TYPES: dict[str, KeyType] = {
    kt.name: kt
    for kt in (
        KeyType("ed25519", "ed25519", "ed25519", "Ed25519"),
        KeyType("ecdsa-p256", "ecdsa", "ecdsa-sha2-nistp256", "ECDSA on NIST P-256 with SHA-256"),
        KeyType(
            "ecdsa-p384",
            "ecdsa",
            "ecdsa-sha2-nistp384",
            "ECDSA on NIST P-384 with SHA-384",
            # Observed with tuf-js 5.0.1: @tufjs/models verifies every ECDSA
            # signature with SHA-256, whatever the scheme says.
            "tuf-js (npm, sigstore-js) cannot verify ecdsa-sha2-nistp384 signatures; "
            "use ecdsa-p256 or ed25519 if JavaScript clients must trust this repository",
        ),
        KeyType("rsa-pss-3072", "rsa", "rsassa-pss-sha256", "RSA-3072 with PSS and SHA-256"),
        KeyType("rsa-pss-4096", "rsa", "rsassa-pss-sha256", "RSA-4096 with PSS and SHA-256"),
    )
}
DEFAULT_KEY_TYPE = "ed25519"


def key_type_name(key: Key) -> str:
    """Short human name for a TUF key ("ecdsa-p256", "rsa-pss-3072", ...)."""
    scheme = key.scheme
    if scheme == "ed25519":
        return "ed25519"
    if scheme.startswith("ecdsa-sha2-nistp"):
        return f"ecdsa-p{scheme.removeprefix('ecdsa-sha2-nistp')}"
    if key.keytype == "rsa":
        try:
            public = serialization.load_pem_public_key(key.keyval["public"].encode())
            bits = f"-{public.key_size}" if isinstance(public, rsa.RSAPublicKey) else ""
        except (ValueError, TypeError):
            bits = ""
        kind = "rsa-pss" if "pss" in scheme else "rsa-pkcs1v15"
        return f"{kind}{bits}"
    return f"{key.keytype}/{scheme}"


def _generate_private(key_type: KeyType) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """Generate the private key object for ``key_type``."""
    if key_type.name == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type.name == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type.name == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    bits = int(key_type.name.rsplit("-", 1)[1])
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_type(name: str) -> KeyType:
    """The software key type called ``name``.

    Raises:
        UsageError: no such type (the types are listed).
    """
    found = KEY_TYPES.get(name)
    if found is None:
        raise UsageError(f"unknown key type {printable(name, 40)!r}; choose one of: {', '.join(KEY_TYPES)}")
    return found


def refuse_existing_key_file(path: Path) -> None:
    """A key file is never overwritten: the key it holds may be the only copy.

    Raises:
        UsageError: something (a file or a symbolic link) is at ``path``.
    """
    if path.exists() or path.is_symlink():
        raise UsageError(f"{printable(str(path))}: already exists; refusing to overwrite a key")


def check_passphrase(passphrase: str, what: str) -> None:
    """Refuse passphrases too weak to protect a root key at rest.

    Raises:
        PassphraseError: empty or shorter than MIN_PASSPHRASE_LENGTH.
    """
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise PassphraseError(
            f"the passphrase for {what} is too short: use at least {MIN_PASSPHRASE_LENGTH} characters"
        )


@dataclass(frozen=True)
class GeneratedKey:
    """A freshly generated software key: its public TUF key and encrypted file bytes."""

    public: SSlibKey
    encrypted: bytes
    signer: CryptoSigner


def generate_key(key_type_name_: str, passphrase: str, label: str) -> GeneratedKey:
    """Generate a software key and encrypt it under ``passphrase``.

    The returned signer lets the caller sign in the same ceremony without asking
    for the passphrase again; the encrypted bytes are what goes to disk.

    Args:
        key_type_name_: one of KEY_TYPES.
        passphrase: the keyholder's passphrase (checked for length).
        label: a friendly name stored in the PKCS#12 file (not secret).

    Raises:
        UsageError: unknown key type.
        PassphraseError: passphrase too short.

    Returns:
        GeneratedKey with the public key (keyid by the TUF spec rule).
    """
    chosen = key_type(key_type_name_)
    check_passphrase(passphrase, label)
    private = _generate_private(chosen)
    public = SSlibKey.from_crypto(private.public_key(), scheme=chosen.scheme)
    encrypted = encrypt_private_key(private, passphrase, label)
    return GeneratedKey(public=public, encrypted=encrypted, signer=CryptoSigner(private, public))


def encrypt_private_key(private: pkcs12.PKCS12PrivateKeyTypes, passphrase: str, label: str) -> bytes:
    """PKCS#12 bytes of ``private`` under PBES2/PBKDF2-HMAC-SHA256(600k)/AES-256-CBC."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PBKDF2_ITERATIONS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase.encode("utf-8"))
    )
    return pkcs12.serialize_key_and_certificates(
        label.encode("utf-8"),
        private,
        None,
        None,
        encryption,
    )


def decrypt_private_key(data: bytes, passphrase: str) -> Any | None:
    """The private key in PKCS#12 bytes ``data`` encrypted under ``passphrase`` (None: the bytes hold no key).

    Raises:
        ValueError: the passphrase is wrong, the bytes are damaged, or they use an algorithm cryptography
            does not support.
    """
    try:
        private, _cert, _extra = pkcs12.load_key_and_certificates(data, passphrase.encode("utf-8"))
    except UnsupportedAlgorithm as err:
        raise ValueError(f"unsupported algorithm ({err})") from err
    return private


class OwnKeyFile:
    """A keyholder's own software key file, unlocked: signs as any metadata key whose public key it holds.

    The private key object stays inside this module; callers get its public
    identity and signers bound to the metadata's own key objects.
    """

    def __init__(self, path: Path, passphrase: str) -> None:
        self._private = unlock_private(path, passphrase)
        self._source = str(path)
        self.identity = public_identity_of_private(self._private)

    def signer_for(self, public: Key) -> CryptoSigner:
        """A signer for ``public`` (the metadata's key id and scheme); refused if it is another key."""
        return signer_from_private(self._private, public, self._source)


def unlock_private(path: Path, passphrase: str) -> Any:
    """Decrypt the key file at ``path``; the private key stays in memory only.

    Raises:
        InputFileError: the key file is missing, unreadable, or holds no key.
        PassphraseError: wrong passphrase, or the file is damaged.
    """
    data = read_bytes(path, "key file")
    try:
        private = decrypt_private_key(data, passphrase)
    except ValueError as err:
        raise PassphraseError(
            f"{path}: the passphrase is wrong, or the key file is damaged",
            hint="check with the keyholder; the passphrase is case-sensitive",
        ) from err
    if private is None:
        raise InputFileError(f"{path}: the file holds no private key")
    return private


def public_identity_of_private(private: Any) -> bytes:
    """public_key_identity of a private key's public half.

    Raises:
        SigningKeyError: a key type TUF cannot use (DSA, Ed448, a curve other than P-256/P-384/P-521).
    """
    try:
        return public_key_identity(SSlibKey.from_crypto(private.public_key()))
    except (ValueError, TypeError, AttributeError) as err:
        raise SigningKeyError(
            f"the key file holds a {type(private).__name__.lstrip('_')} key, which TUF metadata cannot name "
            "(Ed25519, ECDSA P-256/P-384 and RSA are supported)"
        ) from err


def signer_from_private(private: Any, public: Key, source: str) -> CryptoSigner:
    """A signer for ``public`` (its keyid and scheme as the metadata lists them).

    Raises:
        SigningKeyError: the private key does not match ``public``.
    """
    try:
        if not isinstance(public, SSlibKey):
            public = SSlibKey(public.keyid, public.keytype, public.scheme, public.keyval)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(f"key {printable(public.keyid, 16)}: a key type this tool cannot sign for") from err
    if public.keyval["public"].startswith("-----BEGIN") or public.keytype == "ed25519":
        normal = public
    else:  # hex-encoded ECDSA (old Sigstore roots): re-encode for signing only
        normal = public_key_from_metadata(public.keyid, public.to_dict())
    try:
        return CryptoSigner(private, normal)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(f"{source}: this private key does not match key {printable(public.keyid[:12])}") from err


def unlock_signer(path: Path, public: Key, passphrase: str) -> CryptoSigner:
    """Decrypt the key file at ``path`` into a signer for ``public``.

    Raises:
        InputFileError: the key file is missing or unreadable.
        PassphraseError: wrong passphrase, or the file is damaged.
        SigningKeyError: the key does not match ``public``.
    """
    return signer_from_private(unlock_private(path, passphrase), public, str(path))


def sign_verified(signer: Signer, payload: bytes) -> Signature:
    """Sign ``payload`` and verify the signature with the signer's public key at once.

    A signer that produces a wrong signature (a swapped token, a faulty KMS) is
    caught here, before the signature can reach a file (tuf-on-ci PR #237,
    awslabs/tough#262).

    Raises:
        SigningKeyError: the signature does not verify.
    """
    signature = signer.sign(payload)
    public: Key = signer.public_key
    verify_signature(public, signature, payload)
    return signature


def verify_signature(public: Key, signature: Signature, payload: bytes) -> None:
    """Verify one signature just made, raising SigningKeyError if it does not hold.

    Only the signature bytes are checked against ``public``: the key id a
    signer puts on its signature may differ from the id the metadata gives the
    same key (imported repositories use their own key ids).

    Raises:
        SigningKeyError: the signature is invalid for ``public`` and ``payload``.
    """
    if not signature_is_valid(public, signature.signature, payload):
        raise SigningKeyError(
            f"the signature just made with key {public.keyid[:12]} does not verify; nothing was written"
        )


def prove_signing(signer: Signer) -> str:
    """Sign a random 32-byte challenge and verify it; return the challenge in hex.

    Raises:
        SigningKeyError: the signature does not verify.
    """
    challenge = os.urandom(32)
    sign_verified(signer, b"ceremony key check\n" + challenge)
    return challenge.hex()


def public_key_from_pem(path: Path) -> SSlibKey:
    """Load a public key file (PEM SubjectPublicKeyInfo) as a TUF key.

    Used for keys held elsewhere, e.g. the online service's timestamp key.

    Raises:
        InputFileError: missing, unreadable, or not a supported public key.
    """
    data = read_bytes(path, "public key file")
    try:
        public = serialization.load_pem_public_key(data)
        return SSlibKey.from_crypto(public)
    except (ValueError, TypeError) as err:
        raise InputFileError(
            f"{path}: not a PEM public key of a supported type (Ed25519, ECDSA P-256/P-384, RSA)"
        ) from err


_ECDSA_CURVES: dict[str, ec.EllipticCurve] = {
    "ecdsa-sha2-nistp256": ec.SECP256R1(),
    "ecdsa-sha2-nistp384": ec.SECP384R1(),
}


def public_key_from_point(scheme: str, point: bytes) -> SSlibKey:
    """A TUF key of ``scheme`` from its bare public point (Ed25519: 32 bytes; ECDSA: an X9.62 point).

    PKCS#11 tokens give public keys in this form (hsm.py).

    Raises:
        ValueError: not a valid point for ``scheme``, or a scheme other than ed25519 and ECDSA P-256/P-384.
    """
    public: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    if scheme == "ed25519":
        public = ed25519.Ed25519PublicKey.from_public_bytes(point)
    elif scheme in _ECDSA_CURVES:
        public = ec.EllipticCurvePublicKey.from_encoded_point(_ECDSA_CURVES[scheme], point)
    else:
        raise ValueError(f"no public key from a bare point for scheme {scheme!r}")
    return SSlibKey.from_crypto(public, scheme=scheme)


def ecdsa_signature_from_raw(raw: bytes) -> bytes:
    """An ECDSA signature given as r||s (PKCS#11's form, two equal halves) in DER, the form TUF clients expect."""
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def public_key_from_metadata(keyid: str, key_dict: dict[str, object]) -> SSlibKey:
    """Build a verifying key from a key object as real repositories publish it.

    Loose on encoding, because published roots differ: Sigstore roots v1-v4
    hold ECDSA keys as hex-encoded uncompressed points where the spec and
    python-tuf expect PEM, and several use the deprecated keytype
    ``ecdsa-sha2-nistp256``. The key is re-encoded for verification only; the
    metadata itself (and so every keyid) is never changed.

    Raises:
        SigningKeyError: the key object is malformed or of an unsupported type.
    """
    try:
        key = SSlibKey.from_dict(keyid, dict(key_dict))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SigningKeyError(f"key {printable(str(keyid)[:12])} is malformed ({printable(err, 200)})") from err
    public = key.keyval.get("public", "")
    curve = _ECDSA_CURVES.get(key.scheme)
    if curve is not None and not public.startswith("-----BEGIN"):
        try:
            point = ec.EllipticCurvePublicKey.from_encoded_point(curve, bytes.fromhex(public))
        except ValueError as err:
            raise SigningKeyError(f"key {printable(keyid[:12])} holds an invalid ECDSA point") from err
        pem = point.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        key = SSlibKey(keyid, key.keytype, key.scheme, {**key.keyval, "public": pem})
    return key


def public_key_identity(key: Key) -> bytes:
    """The key's public material in one normal form (DER SubjectPublicKeyInfo).

    Two keyids can name the same key (a re-encoded PEM, a changed keytype
    string); thresholds must count keys, not keyids, or one key could sign
    twice under two names.
    """
    public = key.keyval.get("public", "") if isinstance(key.keyval, dict) else ""
    if not isinstance(public, str):
        return f"unparsed:{key.keytype}:{public!r}".encode()
    try:
        if key.keytype == "ed25519" and not public.startswith("-----BEGIN"):
            return b"ed25519:" + bytes.fromhex(public)
        loaded = serialization.load_pem_public_key(public.encode())
        return loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError):
        return f"unparsed:{key.keytype}:{public}".encode()


def signature_is_valid(key: Key, sig_hex: str, payload: bytes) -> bool:
    """True when ``sig_hex`` is a valid signature by ``key`` over ``payload``.

    A status check for reports, not for signing: it never raises for a bad or
    empty signature (tuf-on-ci publishes empty placeholders for keys that have
    not signed yet).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            key.verify_signature(Signature(key.keyid, sig_hex), payload)
    except (UnverifiedSignatureError, ValueError, TypeError):
        return False
    except Exception:  # noqa: BLE001 - an unsupported key/scheme verifies nothing
        return False
    return True


def generate_key_file(path: Path, key_type_name_: str, passphrase: str) -> SSlibKey:
    """Generate a software key for a keyholder who keeps it outside any workspace.

    Writes the encrypted key to ``path`` (0600, atomically) and its public key
    next to it as ``<path>.pub.pem``, to hand to the administrator.

    Raises:
        UsageError: unknown key type, or ``path`` exists.
        PassphraseError: passphrase too short.
    """
    from ceremony.core._fs import write_atomic

    path = Path(path)
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: directory not found; create it first")
    public_path = path.with_name(path.name + ".pub.pem")
    for target in (path, public_path):
        refuse_existing_key_file(target)
    key = generate_key(key_type_name_, passphrase, path.stem)
    public_pem = (
        serialization.load_pem_public_key(key.public.keyval["public"].encode()).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if key.public.keytype != "ed25519"
        else key.signer._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    write_atomic(path, key.encrypted)
    write_atomic(public_path, public_pem)
    return key.public


# --- Notary v1: x509 certificates, SubjectPublicKeyInfo and raw signatures (for notary.py) ---------------------
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
