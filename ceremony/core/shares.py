"""Secret key backups: a software key's protection split into SLIP-39 shares.

A fresh 128-bit secret is split into shares (shamir-mnemonic) and the key is
re-encrypted under it, so any K custodians can restore the key and fewer learn
nothing. Token keys are never exported: their backup is k-of-n independent
keys (recovery.backup_key refuses them).

Every input to restore-key (the manifest, the encrypted key, each share) may
have been made by an attacker: each is read only if it is a regular file, and
each quantity that costs memory or time is bounded by a named constant below,
refused in one sentence that names the file and the bound before the work is
done (docs/backup.md, "Limits").

This module is the only importer of shamir-mnemonic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shamir_mnemonic

from ceremony.core import keys as _keys
from ceremony.core import qr as _qr
from ceremony.core._fs import sha256_hex
from ceremony.core._json import loads_strict, read_bytes
from ceremony.core._text import is_printable, printable
from ceremony.core.backup import PLAIN_NAME
from ceremony.errors import BackupError, InputFileError, UsageError

# --------------------------------------------------------------------------- limits on what restore-key reads

#: Bytes of a key backup manifest: ours are about 400.
MAX_MANIFEST_BYTES = 64 * 1024
#: Characters of the key label a manifest names: it is shown to the operator and written into the
#: rebuilt key file. Workspace labels are short ("root-1", "timestamp-online").
MAX_LABEL_CHARS = 128
#: Bytes of an encrypted key backup (PKCS#12): an RSA-4096 key's is under 3 KB.
MAX_ENCRYPTED_KEY_BYTES = 64 * 1024
#: Shares of one key backup, and distinct shares read by one restore-key: split_key's own limit
#: (SLIP-39 allows 16 shares in a group).
MAX_SHARES = 16
#: Bytes of one share text file: a share is 20 or 33 words, under 300 characters.
MAX_SHARE_FILE_BYTES = 64 * 1024
#: Any integer in an encrypted key backup's visible structure, which is where its key derivation
#: iteration counts are (PBKDF2 and the PKCS#12 MAC), checked before anything is derived: ten times what
#: this tool writes (keys.PBKDF2_ITERATIONS), about two seconds here. Unbounded, a crafted file costs
#: hours of CPU.
MAX_KDF_ITERATIONS = 10 * _keys.PBKDF2_ITERATIONS


# --------------------------------------------------------------------------- shares


@dataclass
class KeyBackup:
    """A software key split into SLIP-39 shares."""

    keyid: str
    shares: list[str] = field(repr=False)  # secret: never in a repr, a log or an assertion message
    threshold: int = 0
    encrypted: bytes = field(default=b"", repr=False)  # the key re-encrypted under the shared secret


def split_key(private: Any, keyid: str, shares: int, threshold: int) -> KeyBackup:
    """Re-encrypt a key under a fresh 128-bit secret and split that secret into SLIP-39 shares.

    Raises:
        UsageError: a threshold below 2 or above the number of shares, or more than 16 shares.
    """
    if not 2 <= threshold <= shares <= MAX_SHARES:
        raise UsageError(f"--threshold {threshold} of --shares {shares}: need 2 <= threshold <= shares <= {MAX_SHARES}")
    master = os.urandom(16)
    mnemonics = shamir_mnemonic.generate_mnemonics(1, [(threshold, shares)], master, b"")[0]
    encrypted = _keys.encrypt_private_key(private, master.hex(), f"backup-{keyid[:16]}")
    return KeyBackup(keyid, mnemonics, threshold, encrypted)


def combine_key(mnemonics: Iterable[str], encrypted: bytes, source: str) -> Any:
    """Recombine shares and decrypt the key backup (in memory only).

    Raises:
        BackupError: too few, mismatched or mistyped shares, a key backup this tool did not
            make (see check_encrypted_key), or a key that does not open.
    """
    shown = printable(source)
    check_encrypted_key(encrypted, source)
    words = [" ".join(m.split()) for m in mnemonics if m.strip()]
    try:
        master = shamir_mnemonic.combine_mnemonics(words)
    except shamir_mnemonic.MnemonicError:
        # shamir-mnemonic's messages quote share words: never pass them on.
        raise BackupError(
            f"{shown}: the shares do not combine (a mistyped word, a share of another set, or too few shares)"
        ) from None
    try:
        private = _keys.decrypt_private_key(encrypted, master.hex())
    except ValueError as err:
        raise BackupError(f"{shown}: the shares combine, but not to the secret of this key backup") from err
    if private is None:
        raise BackupError(f"{shown}: the key backup opens but holds no key")
    return private


def share_texts_from(inputs: Sequence[Path]) -> list[str]:
    """SLIP-39 share mnemonics from text files, images or PDFs (QR codes of the words).

    Raises:
        BackupError: more than MAX_SHARES different shares.
        InputFileError: an input missing, not a regular file, too large, or not a readable image or PDF.
    """
    found: dict[str, None] = {}
    for path in inputs:
        path = Path(path)
        if path.suffix.lower() == ".txt":
            text = read_bytes(path, "share", MAX_SHARE_FILE_BYTES).decode("utf-8", "replace")
            lines = [line.split(":", 1)[1] for line in text.splitlines() if line.lower().startswith("share:")]
        else:
            lines = [t for source, image in _qr.images_of(path) for t in _qr.decode_image(image, source)]
            lines = [t for t in lines if len(t.split()) in (20, 33)]
        for line in lines:
            if line.strip():
                found.setdefault(" ".join(line.split()).lower(), None)
        if len(found) > MAX_SHARES:
            raise BackupError(
                f"{printable(str(path))}: more than {MAX_SHARES} different shares given; a key backup has at most "
                f"{MAX_SHARES}"
            )
    return list(found)


# --------------------------------------------------------------------------- the encrypted key


# DER object identifiers (contents octets) in the key backups this tool writes (keys.encrypt_private_key):
# PKCS#7 data, PKCS#12 shrouded key bag, PBES2, PBKDF2, HMAC-SHA256, AES-256-CBC, SHA-256, friendlyName
# and localKeyId (RFC 7292, RFC 8018, NIST CSOR). Anything else (another cipher, scrypt, encrypted or
# enveloped content that could hide its own parameters) is not one of ours and is refused.
_KEY_BACKUP_OIDS = frozenset(
    bytes.fromhex(oid)
    for oid in (
        "2a864886f70d010701",
        "2a864886f70d010c0a0102",
        "2a864886f70d01050d",
        "2a864886f70d01050c",
        "2a864886f70d0209",
        "60864801650304012a",
        "608648016503040201",
        "2a864886f70d010914",
        "2a864886f70d010915",
    )
)
_PKCS7_DATA = bytes.fromhex("2a864886f70d010701")
_DER_MAX_DEPTH = 24  # ours nest 17 deep


class _NotOursError(ValueError):
    """Raised inside the DER walk; turned into BackupError with the file named."""


def _der_elements(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, contents) of each DER element in ``data``: single-byte tags, definite minimal lengths only."""
    elements, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 2 or data[pos] & 0x1F == 0x1F:
            raise _NotOursError("a malformed or multi-byte tag")
        tag, length, pos = data[pos], data[pos + 1], pos + 2
        if length & 0x80:
            size = length & 0x7F
            if not 1 <= size <= 3 or pos + size > len(data) or data[pos] == 0:
                raise _NotOursError("an indefinite, oversized or non-minimal length")
            length, pos = int.from_bytes(data[pos : pos + size], "big"), pos + size
            if length < 0x80:
                raise _NotOursError("a non-minimal length")
        if pos + length > len(data):
            raise _NotOursError("an element longer than the file")
        elements.append((tag, data[pos : pos + length]))
        pos += length
    return elements


def _check_der(data: bytes, depth: int, data_payload: bool = False) -> None:
    """Walk DER ``data``: known object identifiers only, small integers, nested PKCS#7 data opened too."""
    if depth > _DER_MAX_DEPTH:
        raise _NotOursError("structures nested too deeply")
    elements = _der_elements(data)
    for index, (tag, contents) in enumerate(elements):
        if tag == 0x06:
            if contents not in _KEY_BACKUP_OIDS:
                raise _NotOursError(f"an algorithm or content type this tool does not write ({contents.hex()[:40]})")
        elif tag == 0x02:
            if len(contents) > 4 or int.from_bytes(contents, "big", signed=True) > MAX_KDF_ITERATIONS:
                raise _NotOursError(f"a number above {MAX_KDF_ITERATIONS:,} (a key derivation that costs too much)")
        elif tag == 0x04 and data_payload:
            _check_der(contents, depth + 1)  # PKCS#7 data: the octets are themselves DER (RFC 7292 section 4.1)
        elif tag & 0x20:
            # A ContentInfo is SEQUENCE { type, [0] content }: open the content when it is PKCS#7 data.
            payload = tag == 0xA0 and index == 1 and elements[0] == (0x06, _PKCS7_DATA)
            _check_der(contents, depth + 1, payload)


def check_encrypted_key(encrypted: bytes, source: str) -> None:
    """Refuse an encrypted key backup unlike the ones this tool writes, before any key is derived.

    Decrypting runs the key derivations the file itself names, as many
    iterations as it asks for; so its visible structure is walked first (DER
    only, known algorithms only) and every number in it must be at most
    MAX_KDF_ITERATIONS.

    Raises:
        BackupError: larger than MAX_ENCRYPTED_KEY_BYTES, not DER, an unknown algorithm, or a number
            over the bound.
    """
    shown = printable(source)
    if len(encrypted) > MAX_ENCRYPTED_KEY_BYTES:
        raise BackupError(f"{shown}: the encrypted key is larger than {MAX_ENCRYPTED_KEY_BYTES:,} bytes; refused")
    try:
        elements = _der_elements(encrypted)
        if len(elements) != 1 or elements[0][0] != 0x30:
            raise _NotOursError("not one DER structure")
        _check_der(encrypted, 0)
    except _NotOursError as err:
        raise BackupError(f"{shown}: not an encrypted key backup made by this tool ({err}); refused") from err


# --------------------------------------------------------------------------- the manifest


def key_backup_manifest(backup: KeyBackup, label: str) -> bytes:
    """A small JSON manifest naming the key, the share scheme, and the encrypted key file."""
    import json

    return (
        json.dumps(
            {
                "type": "ceremony-key-backup",
                "format": 1,
                "keyid": backup.keyid,
                "label": label,
                "threshold": backup.threshold,
                "shares": len(backup.shares),
                "encrypted_key": f"key-{backup.keyid[:16]}.p12",
                "encrypted_key_sha256": sha256_hex(backup.encrypted),
            },
            indent=2,
        )
        + "\n"
    ).encode()


_MANIFEST_FIELDS: dict[str, type] = {
    "type": str,
    "format": int,
    "keyid": str,
    "label": str,
    "threshold": int,
    "shares": int,
    "encrypted_key": str,
    "encrypted_key_sha256": str,
}
_HEX64 = re.compile(r"[0-9a-f]{64}")


def read_key_manifest(path: Path) -> dict[str, Any]:
    """Parse and strictly check a key backup manifest (format 1).

    Every field must be present with the right type and nothing else
    present; the key id and digest are 64 hex digits; the label is short,
    printable text; the share scheme is one split_key makes; and the
    encrypted key is a plain file name (``*.p12``) in the manifest's own
    directory, never a path.

    Raises:
        InputFileError: missing, not a regular file, too large, not JSON, or not a valid manifest.
    """
    shown = printable(str(path))
    obj = loads_strict(read_bytes(path, "key backup manifest", MAX_MANIFEST_BYTES), shown)
    if not isinstance(obj, dict) or obj.get("type") != "ceremony-key-backup":
        raise InputFileError(f"{shown}: not a ceremony key backup manifest")
    missing = [name for name in _MANIFEST_FIELDS if name not in obj]
    unknown = [name for name in obj if name not in _MANIFEST_FIELDS]
    if missing or unknown:
        named = [f"missing {', '.join(missing)}"] if missing else []
        named += [f"unknown {', '.join(printable(n, 40) for n in unknown[:5])}"] if unknown else []
        raise InputFileError(f"{shown}: not a valid key backup manifest ({'; '.join(named)})")
    for name, kind in _MANIFEST_FIELDS.items():
        value = obj[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputFileError(
                f"{shown}: field {name} must be {'text' if kind is str else 'a whole number'}, "
                f"not {type(value).__name__}"
            )

    def refuse(field_name: str, why: str) -> InputFileError:
        return InputFileError(f"{shown}: field {field_name} {why}")

    if obj["format"] != 1:
        raise refuse("format", f"is {obj['format']}; this tool reads format 1")
    for name in ("keyid", "encrypted_key_sha256"):
        if not _HEX64.fullmatch(obj[name]):
            raise refuse(name, "must be 64 lowercase hex digits")
    label = obj["label"]
    if not 1 <= len(label) <= MAX_LABEL_CHARS or not is_printable(label) or label != label.strip():
        raise refuse("label", f"must be 1 to {MAX_LABEL_CHARS} printable characters: '{printable(label, 60)}'")
    if not 2 <= obj["threshold"] <= obj["shares"] <= MAX_SHARES:
        raise refuse(
            "threshold", f"{obj['threshold']} of shares {obj['shares']}: need 2 <= threshold <= shares <= {MAX_SHARES}"
        )
    encrypted_key = obj["encrypted_key"]
    if not PLAIN_NAME.fullmatch(encrypted_key) or not encrypted_key.endswith(".p12") or encrypted_key.startswith("."):
        raise refuse(
            "encrypted_key",
            f"'{printable(encrypted_key, 60)}' is not a plain file name (*.p12) in the backup directory; refused",
        )
    return obj
