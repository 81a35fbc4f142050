"""The cryptography of a Sigstore trust root: log public keys and the certificate chains of CAs and TSAs.

``core/sigstore.py`` owns the trust root's rules (field paths, log ids, validity windows, the sentences);
this module only answers questions about bytes, with ``cryptography``, whose one owner is this ``keys``
package (``[tool.ceremony.owners]``). Nothing here holds a private key. Every function takes DER bytes read
from a hostile file and raises ``ValueError`` (never a library exception) when they are not what is asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

#: cryptography's curve names -> the names Sigstore's keyDetails use.
_CURVES = {"secp256r1": "P256", "secp384r1": "P384", "secp521r1": "P521"}
_SIG = x509.SignatureAlgorithmOID
#: Certificate signature algorithms by name (RSA-PSS is named with its hash, read from its parameters).
_SIGNATURES = {
    **{getattr(_SIG, f"ECDSA_WITH_SHA{n}"): f"ecdsa-sha{n}" for n in ("1", "224", "256", "384", "512")},
    **{getattr(_SIG, f"RSA_WITH_SHA{n}"): f"rsa-pkcs1-sha{n}" for n in ("1", "224", "256", "384", "512")},
    _SIG.ED25519: "ed25519",
    _SIG.ED448: "ed448",
}


@dataclass(frozen=True)
class LogKey:
    """A transparency log's public key as parsed: its algorithm, its size, and the forms its ids are over.

    ``algorithm`` is ``ecdsa``, ``ed25519`` or ``rsa``; ``size`` the curve (``P256``...), ``""`` for
    ed25519, or the RSA modulus in bits as text; ``spki`` the DER SubjectPublicKeyInfo (RFC 6962's log id is
    SHA-256 over it, also for a key given as PKCS#1); ``raw`` the 32-byte Ed25519 key (empty otherwise).
    """

    algorithm: str
    size: str
    spki: bytes
    raw: bytes = b""


def parse_log_key(der: bytes, pkcs1_rsa: bool) -> LogKey:
    """The public key in ``der``: a DER SubjectPublicKeyInfo, or with ``pkcs1_rsa`` an RSA PKCS#1 RSAPublicKey.

    The form must be exactly what was asked: an SPKI given where PKCS#1 is declared is refused, and the
    bytes must be the one DER encoding of the key (the key re-encoded gives the same bytes), so that the
    key id a client computes and the one checked here are over the same bytes.

    Raises:
        ValueError: not a public key of that form, or a key type Sigstore's clients do not verify.
    """
    try:  # cryptography reads both SPKI and PKCS#1 here; the re-encoding below tells which one it was
        public = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        form = "an RSA PKCS#1 public key" if pkcs1_rsa else "a DER SubjectPublicKeyInfo"
        raise ValueError(f"is not {form}") from err
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if pkcs1_rsa:
        if not isinstance(public, rsa.RSAPublicKey):
            raise ValueError("is not an RSA key")
        if public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1) != der:
            raise ValueError("is not in the one DER form of its key")
        return LogKey("rsa", str(public.key_size), spki)
    if spki != der:
        raise ValueError("is not in the one DER form of its key (e.g. a compressed point or trailing bytes)")
    if isinstance(public, ec.EllipticCurvePublicKey):
        return LogKey("ecdsa", _CURVES.get(public.curve.name, public.curve.name), spki)
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return LogKey("ed25519", "", spki, raw)
    if isinstance(public, rsa.RSAPublicKey):
        return LogKey("rsa", str(public.key_size), spki)
    raise ValueError("is a key type Sigstore's clients do not verify (ECDSA, Ed25519 or RSA only)")


@dataclass(frozen=True)
class CertificateFacts:
    """What a trust root's reviewer and its checks need of one certificate of a chain.

    Dates are aware UTC datetimes; ``fingerprint`` is the SHA-256 of the DER certificate in hex; ``is_ca``
    says basic constraints are present with CA true; ``can_sign_certificates`` is false only when a key usage
    extension is present without keyCertSign; ``time_stamping`` / ``code_signing`` say the extended key usage
    lists them. ``public_key`` is ``ecdsa P256`` (``P384``, ``P521``), ``rsa 2048`` (the modulus bits),
    ``ed25519`` or the key's class name; ``signature`` the algorithm its issuer signed it with, as
    ``ecdsa-sha256``, ``rsa-pkcs1-sha256``, ``rsa-pss-sha256``, ``ed25519`` or the algorithm's OID.
    """

    subject: str
    issuer: str
    fingerprint: str
    not_before: datetime
    not_after: datetime
    is_ca: bool
    can_sign_certificates: bool
    time_stamping: bool
    code_signing: bool
    public_key: str = ""
    signature: str = ""


def certificate_facts(der: bytes) -> CertificateFacts:
    """The facts of one DER X.509 certificate.

    Raises:
        ValueError: not one DER certificate (trailing bytes included).
    """
    cert = _load(der)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        can_sign = cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        can_sign = True
    try:
        usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = []
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        can_sign_certificates=can_sign,
        time_stamping=x509.ExtendedKeyUsageOID.TIME_STAMPING in usages,
        code_signing=x509.ExtendedKeyUsageOID.CODE_SIGNING in usages,
        public_key=_key_name(cert),
        signature=_signature_name(cert),
    )


def _key_name(cert: x509.Certificate) -> str:
    """The certificate's key as ``ecdsa P256``, ``rsa 2048``, ``ed25519`` (or its class name)."""
    try:
        public = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"ecdsa {_CURVES.get(public.curve.name, public.curve.name)}"
    if isinstance(public, rsa.RSAPublicKey):
        return f"rsa {public.key_size}"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(public).__name__


def _signature_name(cert: x509.Certificate) -> str:
    """The issuer's signature on the certificate as ``ecdsa-sha256``, ``rsa-pss-sha384``, ``ed25519`` (or its OID)."""
    oid = cert.signature_algorithm_oid
    if oid == x509.SignatureAlgorithmOID.RSASSA_PSS:
        try:
            digest = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            digest = None
        return f"rsa-pss-{digest.name}" if digest is not None else oid.dotted_string
    return _SIGNATURES.get(oid, oid.dotted_string)


def _load(der: bytes) -> x509.Certificate:
    """One DER certificate, or ValueError (cryptography refuses trailing bytes and PEM here)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.extensions  # noqa: B018 -- a malformed extension raises here, not later in a check
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise ValueError("is not a DER X.509 certificate") from err
    return cert


def issued_by(der: bytes, issuer_der: bytes) -> bool:
    """True when the certificate ``der`` names ``issuer_der``'s subject as issuer and carries its valid signature.

    Used for each link of a chain (leaf first), and with the same certificate twice for a self-signed root.
    Never raises for a bad signature or an unsupported algorithm: the link is simply not valid.

    Raises:
        ValueError: either is not a DER certificate.
    """
    cert, issuer = _load(der), _load(issuer_der)
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True
