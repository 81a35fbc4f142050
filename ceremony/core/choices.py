"""The choices an operator names before anything heavy loads: key types and the QR payload size.

The command line lists these in its options (``--key-type``, ``--qr-bytes``) when it starts, before it knows
which command runs, so they live here, in a module that imports nothing but the standard library: every
command, ``ceremony --version`` included, would otherwise load ``cryptography``, PyKCS11 and the QR libraries
just to build its option table.

What it does not do: generate, use or check a key (``keys/`` for software keys, ``hsm.py`` for tokens), or
draw a QR code (``qr.py``, ``backup.py``). ``keys/`` re-exports the software key types from here; ``hsm.py``
pairs each token key type named here with its PKCS#11 mechanisms, and ``backup.py`` uses the QR default
(tests/test_startup_imports.py checks both agree with this module).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyType:
    """One software key type the tool can generate, with its TUF names."""

    name: str
    keytype: str
    scheme: str
    description: str
    caveat: str = ""


#: The software key types, by the name an operator types (``--key-type``, a KEYSPEC).
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

#: The key types a token can generate and sign with, in the order ``hsm.TOKEN_KEY_TYPES`` lists them (no RSA
#: on tokens: see hsm.py). The default is ECDSA P-256, which every TUF client verifies (docs/interop.md).
TOKEN_KEY_TYPE_NAMES = ("ecdsa-p256", "ecdsa-p384", "ed25519")
DEFAULT_TOKEN_KEY_TYPE = "ecdsa-p256"  # noqa: S105 (a key type, not a secret: "TOKEN" fools the check)

#: The key type generated where none is named, by profile: ed25519 for TUF; for a private Sigstore instance
#: ECDSA P-256, what Sigstore's own root uses and every Sigstore client verifies; for Docker Content Trust root
#: keys ECDSA P-256, the only type notary's root certificates take.
PROFILE_KEY_TYPES = {"tuf": DEFAULT_KEY_TYPE, "sigstore": "ecdsa-p256", "notary": "ecdsa-p256"}


def default_key_type(profile: str) -> str:
    """The key type generated for ``profile`` where none is named (init, a ceremony plan)."""
    return PROFILE_KEY_TYPES.get(profile, DEFAULT_KEY_TYPE)


#: Maximum payload bytes per QR code of a metadata backup (``ceremony export --qr-bytes``; why 300:
#: docs/backup.md).
DEFAULT_QR_BYTES = 300

__all__ = [
    "DEFAULT_KEY_TYPE",
    "DEFAULT_QR_BYTES",
    "DEFAULT_TOKEN_KEY_TYPE",
    "KEY_TYPES",
    "PROFILE_KEY_TYPES",
    "TOKEN_KEY_TYPE_NAMES",
    "KeyType",
    "default_key_type",
]
