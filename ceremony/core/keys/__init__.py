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
``public_key_from_point``, ``ecdsa_signature_from_raw`` and ``decrypt_private_key``. Docker Content Trust's
cryptography (certificates, raw signatures, notary's key files) is ``keys/dct.py``, beside it in this package.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import CryptoSigner, Key, Signature, Signer, SSlibKey

from ceremony.core._json import read_bytes
from ceremony.core._text import printable

# The key types' table lives in choices.py, which the CLI reads at start-up without loading cryptography.
from ceremony.core.choices import DEFAULT_KEY_TYPE as DEFAULT_KEY_TYPE
from ceremony.core.choices import KEY_TYPES as KEY_TYPES
from ceremony.core.choices import KeyType as KeyType
from ceremony.core.envelope import key_token
from ceremony.errors import InputFileError, PassphraseError, SigningKeyError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.serialization import pkcs12

#: A callable that returns a secret for the prompt it is given. getpass in the
#: CLI, a closure in the TUI, a lambda in tests. The core never stores the result.
SecretsHandler = Callable[[str], str]

PBKDF2_ITERATIONS = 600_000
MIN_PASSPHRASE_LENGTH = 8


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
    # Imported here: PKCS#12 loads cryptography's X.509, which commands that never open a key file
    # (``status``, ``verify``) need not pay for.
    from cryptography.hazmat.primitives.serialization import pkcs12

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
    from cryptography.hazmat.primitives.serialization import pkcs12  # see encrypt_private_key

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


#: Distinct public keys remembered per process (parsed once, for identity and for verifying).
_KEY_CACHE_SIZE = 512


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
    seen = key_token(keyid, key_dict)  # a chain names the same keys in version after version: built once
    cached = _FROM_METADATA.get(seen)
    if cached is not None:
        return cached
    key = _public_key_from_metadata(keyid, key_dict)
    if len(_FROM_METADATA) >= _KEY_CACHE_SIZE:
        _FROM_METADATA.clear()
    _FROM_METADATA[seen] = key
    return key


_FROM_METADATA: dict[tuple[str, ...], SSlibKey] = {}


def _public_key_from_metadata(keyid: str, key_dict: dict[str, object]) -> SSlibKey:
    """public_key_from_metadata, uncached."""
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
    return _verifying(key)


def public_key_identity(key: Key) -> bytes:
    """The key's public material in one normal form (DER SubjectPublicKeyInfo).

    Two keyids can name the same key (a re-encoded PEM, a changed keytype
    string); thresholds must count keys, not keyids, or one key could sign
    twice under two names.
    """
    if type(key) is _VerifyingKey:
        return key.identity()
    public = key.keyval.get("public", "") if isinstance(key.keyval, dict) else ""
    if not isinstance(public, str):
        return f"unparsed:{key.keytype}:{public!r}".encode()
    return _identity_of(key.keytype, public)


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _identity_of(keytype: str, public: str) -> bytes:
    """public_key_identity for one encoded key, once per process: a chain of 1,000 roots names the same keys
    in version after version, and parsing each PEM again was a fifth of verifying it."""
    try:
        if keytype == "ed25519" and not public.startswith("-----BEGIN"):
            return b"ed25519:" + bytes.fromhex(public)
        loaded = _loaded_pem(public)
        return loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return f"unparsed:{keytype}:{public}".encode()


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _loaded_pem(public: str) -> Any:
    """A PEM public key parsed once, for its identity and for verifying with it alike."""
    return serialization.load_pem_public_key(public.encode())


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _crypto_key_of(keytype: str, public: str) -> Any:
    """The ``cryptography`` public key securesystemslib would load for this key, loaded once per process."""
    return SSlibKey("-", keytype, "-", {"public": public})._crypto_key()


class _VerifyingKey(SSlibKey):
    """An SSlibKey that verifies with a public key parsed once (``_crypto_key_of``), not once per signature.

    Everything else, the choice of hash and padding for each scheme above all, stays securesystemslib's.
    """

    _identity: bytes | None = None

    def _crypto_key(self) -> Any:
        return _crypto_key_of(self.keytype, self.keyval["public"])

    def identity(self) -> bytes:
        """public_key_identity, kept: thresholds ask it of every key of every role they count."""
        if self._identity is None:
            self._identity = _identity_of(self.keytype, self.keyval["public"])
        return self._identity


_K = TypeVar("_K", bound=Key)


def _verifying(key: _K) -> _K:
    """``key`` as a _VerifyingKey when it is a plain SSlibKey with a string public value (other keys as they are)."""
    if type(key) is SSlibKey and isinstance(key.keyval.get("public"), str):
        return _VerifyingKey(key.keyid, key.keytype, key.scheme, key.keyval, key.unrecognized_fields)  # type: ignore[return-value]
    return key


def signature_is_valid(key: Key, sig_hex: str, payload: bytes, *, payload_digest: bytes | None = None) -> bool:
    """True when ``sig_hex`` is a valid signature by ``key`` over ``payload``.

    A status check for reports, not for signing: it never raises for a bad or
    empty signature (tuf-on-ci publishes empty placeholders for keys that have
    not signed yet).

    Each answer is remembered for this process, by the key's public material, its scheme, the signature and
    the SHA-256 of ``payload`` (given as ``payload_digest`` by a caller that asks about several signatures
    over one payload): the same question has the same answer, and a change of 16,384 hash bins asked it three
    times per bin (right after signing, when counting thresholds, and when verifying the result as a client).
    """
    if not isinstance(sig_hex, str):
        return False
    # The identity is the key's cached bytes object and the type names are shared strings: an answer costs
    # the payload digest, the signature text and the entry (about 400 bytes).
    identity = public_key_identity(key)
    if identity.startswith(b"unparsed:"):  # no public material to tell two such keys apart: not remembered
        return _verify_once(key, sig_hex, payload)
    memo = (payload_digest or hashlib.sha256(payload).digest(), identity, key.keytype, key.scheme, sig_hex)
    known = _VERIFIED.get(memo)
    if known is None:
        known = _verify_once(key, sig_hex, payload)
        if len(_VERIFIED) >= _MAX_VERIFIED:
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread evicted it first
                del _VERIFIED[next(iter(_VERIFIED))]  # the oldest answer goes first
        _VERIFIED[memo] = known
    return known


#: signature_is_valid's answers, at most this many: a little more than a change of 16,384 hash bins asks about
#: in each of its three rounds (signing, counting, verifying as a client), which ask in the same order.
_VERIFIED: dict[tuple[bytes, bytes, str, str, str], bool] = {}
_MAX_VERIFIED = 20_000


def _verify_once(key: Key, sig_hex: str, payload: bytes) -> bool:
    """signature_is_valid, asked of cryptography (or securesystemslib) itself."""
    public = key.keyval.get("public") if isinstance(key.keyval, dict) else None
    verifier = _fast_verifier(key.keytype, key.scheme, public) if isinstance(public, str) else None
    try:
        if verifier is not None:
            verifier(bytes.fromhex(sig_hex), payload)
            return True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _verifying(key).verify_signature(Signature(key.keyid, sig_hex), payload)
    except (InvalidSignature, UnverifiedSignatureError, ValueError, TypeError):
        return False
    except Exception:  # noqa: BLE001 - an unsupported key/scheme verifies nothing
        return False
    return True


#: securesystemslib's hash for each ECDSA scheme; the keytype may be "ecdsa" or (deprecated) the scheme itself.
_ECDSA_HASHES = {"ecdsa-sha2-nistp256": hashes.SHA256, "ecdsa-sha2-nistp384": hashes.SHA384}


@functools.lru_cache(maxsize=_KEY_CACHE_SIZE)
def _fast_verifier(keytype: str, scheme: str, public: str) -> Callable[[bytes, bytes], None] | None:
    """A direct ``cryptography`` verify call for the schemes nearly every repository uses (ed25519, ECDSA P-256
    and P-384), made once per key; None for anything else, which securesystemslib verifies.

    It does what securesystemslib's SSlibKey does for these schemes, no more and no less: ed25519 keys as hex
    of the raw 32 bytes, ECDSA keys as PEM of a key on the scheme's own curve, DER signatures, the scheme's
    hash. A key that cannot be loaded so gets None: securesystemslib then refuses it as it always did. Its
    per-signature overhead was a sixth of verifying a long root chain.
    """
    try:
        if keytype == "ed25519" and scheme == "ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public)).verify
        if scheme in _ECDSA_HASHES and keytype in ("ecdsa", scheme):
            loaded = _loaded_pem(public)
            if not isinstance(loaded, ec.EllipticCurvePublicKey) or loaded.curve.name != _ECDSA_CURVES[scheme].name:
                return None
            algorithm = ec.ECDSA(_ECDSA_HASHES[scheme]())
            ecdsa_key = loaded

            def verify(signature: bytes, data: bytes) -> None:
                ecdsa_key.verify(signature, data, algorithm)

            return verify
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return None


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
