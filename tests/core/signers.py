"""In-process test keys for the table-driven core tests: made in microseconds, never written to disk."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from securesystemslib.signer import CryptoSigner, SSlibKey


def ed25519_signer() -> CryptoSigner:
    """A new ed25519 key and its signer."""
    private = ed25519.Ed25519PrivateKey.generate()
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


def p256_signer() -> CryptoSigner:
    """A new ECDSA P-256 key and its signer, with the scheme TUF clients verify."""
    private = ec.generate_private_key(ec.SECP256R1())
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key(), scheme="ecdsa-sha2-nistp256"))
