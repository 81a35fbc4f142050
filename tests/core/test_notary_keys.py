"""ceremony/core/keys/dct.py, "Notary v1 key files": the key files of notary and docker trust, read and written.

The samples are tests/vectors/notary-v1/keys (written by Debian notary 0.7.0 and docker 20.10; passphrases in
SOURCE.txt there). Every sample decrypts and is named by its canonical id; our plaintext PKCS#8 is Go's byte for
byte; every refusal is one sentence naming the file. Crafted files are built here with the section's own DER
writer, so each differs from a good file in exactly one field.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ceremony.core import notary
from ceremony.core.keys import dct as dct_keys
from ceremony.errors import InputFileError, PassphraseError, UsageError

KEYS = Path(__file__).resolve().parents[1] / "vectors" / "notary-v1" / "keys"
PASSPHRASES = {  # from SOURCE.txt
    "62bdbe56": "rootpass",
    "86b86fbf": "targpass",
    "29d25dc2": "snappass",
    "d2c9d717": "delpass",
    "28d6bac8": "droot",
    "68ae9ada": "drepo",
    "69df8a33": "drepo",
    "275ced7b": "drepo",
}
ROLES = {
    "62bdbe56": ("root", None),
    "86b86fbf": ("targets", "registry.example:5000/org/app"),
    "29d25dc2": ("snapshot", "registry.example:5000/org/app"),
    "d2c9d717": ("targets/releases", None),
    "28d6bac8": ("root", None),
    "68ae9ada": ("targets", "registry.example:5000/org/dct"),
    "69df8a33": ("alice", None),
    "275ced7b": ("bob", None),
}
KEY_FILES = sorted(KEYS.glob("*.key"))
GUN = "registry.example:5000/org/app"
PASS = "correct horse battery"
PEM_BEGIN, PEM_END = "-----BEGIN ENCRYPTED PRIVATE KEY-----", "-----END ENCRYPTED PRIVATE KEY-----"


def _canonical_id(key: dct_keys.NotaryKey) -> str:
    return notary.canonical_key_id(notary.key_object(key.keytype, key.public))


def _plaintext(path: Path, passphrase: str) -> bytes:
    """The decrypted PKCS#8 of a key file, by hand (to compare with what the writer makes)."""
    body = "".join(line for line in path.read_text().splitlines()[1:-1] if line and ":" not in line)
    salt, iterations, iv, ciphertext = dct_keys._notary_envelope(base64.b64decode(body))
    decryptor = Cipher(
        algorithms.AES(dct_keys._notary_aes_key(passphrase, salt, iterations)), modes.CBC(iv)
    ).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(decryptor.update(ciphertext) + decryptor.finalize()) + unpadder.finalize()


# --- crafted files: a good envelope with one field changed --------------------------------------------------------

D, SEQ, INT, OCT, OID = dct_keys._der, dct_keys._SEQUENCE, dct_keys._INTEGER, dct_keys._OCTETS, dct_keys._OID
DES3_CBC = bytes.fromhex("2a864886f70d0307")  # 1.2.840.113549.3.7
HMAC_SHA256 = bytes.fromhex("2a864886f70d0209")
PBE_SHA1_DES = bytes.fromhex("2a864886f70d01050a")  # PBES1


def _pkcs8_of(key: dct_keys.NotaryKey) -> bytes:
    return dct_keys._notary_pkcs8(key._private)


def _encrypt(plaintext: bytes, passphrase: str, salt: bytes, iterations: int, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(
        algorithms.AES(dct_keys._notary_aes_key(passphrase, salt, iterations)), modes.CBC(iv)
    ).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _envelope(
    *,
    plaintext: bytes | None = None,
    scheme: bytes = dct_keys._OID_PBES2,
    kdf_oid: bytes = dct_keys._OID_PBKDF2,
    salt: bytes = b"saltsalt",
    iterations: int = 2048,
    kdf_extra: bytes = b"",
    cipher: bytes = dct_keys._OID_AES256_CBC,
    iv: bytes = b"\x01" * 16,
    ciphertext: bytes | None = None,
    trailer: bytes = b"",
) -> bytes:
    if ciphertext is None:
        text = plaintext if plaintext is not None else _pkcs8_of(dct_keys.generate_notary_key())
        ciphertext = _encrypt(text, PASS, salt, min(max(iterations, 1), 4096), iv if len(iv) == 16 else b"\x01" * 16)
    kdf_params = D(OCT, salt) + D(INT, iterations.to_bytes(iterations.bit_length() // 8 + 1, "big")) + kdf_extra
    kdf = D(SEQ, D(OID, kdf_oid) + D(SEQ, kdf_params))
    algorithm = D(SEQ, D(OID, scheme) + D(SEQ, kdf + D(SEQ, D(OID, cipher) + D(OCT, iv))))
    return D(SEQ, algorithm + D(OCT, ciphertext)) + trailer


def _pem(der: bytes, headers: str = "role: root\n") -> bytes:
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"{PEM_BEGIN}\n{headers}\n{lines}\n{PEM_END}\n".encode()


def _p384_pkcs8() -> bytes:
    """A P-256-shaped PKCS#8 whose curve OID says P-384 (decrypts fine, then refused as a key type)."""
    good = _pkcs8_of(dct_keys.generate_notary_key())
    return good.replace(dct_keys._OID_P256, bytes.fromhex("2b81040022") + b"\x00\x00\x00")[: len(good)]


def _good_file() -> bytes:
    return dct_keys.write_notary_key_file(dct_keys.generate_notary_key(), PASS, "root", "ab" * 32)


REFUSALS: list[tuple[str, bytes | None, str]] = [
    # (case, file bytes (None: built in the test), a phrase of the one-sentence refusal)
    ("not PEM", b"hello\n", "not a Notary key file"),
    ("another PEM type", _good_file().replace(b"ENCRYPTED PRIVATE KEY", b"PRIVATE KEY"), "not a Notary key file"),
    ("not ASCII", _good_file().replace(b"role: root", "role: r\u00f6ot".encode()), "not ASCII"),
    ("truncated", _good_file()[:200] + b"\n" + PEM_END.encode() + b"\n", "not base64"),
    ("truncated at a line", b"\n".join(_good_file().split(b"\n")[:5]) + b"\n" + PEM_END.encode() + b"\n", "not a key"),
    ("garbled base64", _good_file().replace(b"\n\n", b"\n\n!!!!", 1), "not base64"),
    ("two blocks", (KEYS / "gun-export.pem").read_bytes(), "more than one PEM block"),
    ("missing role", _pem(_envelope(), headers="path: " + "ab" * 32 + "\n"), "no 'role' header"),
    ("targets without gun", _pem(_envelope(), headers="role: targets\n"), "needs a 'gun' header"),
    ("unknown header", _pem(_envelope(), headers="role: root\nProc-Type: 4,ENCRYPTED\n"), "unknown PEM header"),
    ("duplicate header", _pem(_envelope(), headers="role: root\nrole: targets\n"), "appears twice"),
    ("empty header", _pem(_envelope(), headers="role:\n"), "is empty"),
    ("no blank line", _pem(_envelope(), headers="role: root\n").replace(b"root\n\n", b"root\n"), "one empty line"),
    ("unsupported cipher", _pem(_envelope(cipher=DES3_CBC, iv=b"\x01" * 8)), "cipher is 1.2.840.113549.3.7"),
    ("PBES1", _pem(_envelope(scheme=PBE_SHA1_DES)), "scheme 1.2.840.113549.1.5.10, not PBES2"),
    ("another KDF", _pem(_envelope(kdf_oid=HMAC_SHA256)), "not PBKDF2"),
    ("prf SHA-256", _pem(_envelope(kdf_extra=D(SEQ, D(OID, HMAC_SHA256) + D(0x05, b"")))), "only HMAC-SHA1"),
    ("key length 16", _pem(_envelope(kdf_extra=D(INT, b"\x10"))), "key length is not 32"),
    ("absurd iterations", _pem(_envelope(iterations=2_000_000_000)), "outside 1 to 10,000,000"),
    ("zero iterations", _pem(_envelope(iterations=0)), "outside 1 to 10,000,000"),
    ("huge integer", _pem(_envelope(iterations=2**40)), "not a small non-negative DER integer"),
    ("short salt", _pem(_envelope(salt=b"salt")), "salt is 4 bytes"),
    ("short IV", _pem(_envelope(iv=b"\x01" * 8)), "IV is 8 bytes"),
    ("partial block", _pem(_envelope(ciphertext=b"\x00" * 20)), "whole AES blocks"),
    ("data after the envelope", _pem(_envelope(trailer=b"\x00\x00")), "unexpected field"),
    ("P-384 key", _pem(_envelope(plaintext=_p384_pkcs8())), "curve other than P-256"),
    ("too large", None, "larger than 16,384 bytes"),
]


@pytest.mark.parametrize("path", KEY_FILES, ids=lambda p: p.name[:8])
def test_sample_key_file_decrypts_and_is_named_by_its_canonical_id(path: Path) -> None:
    key, headers = dct_keys.read_notary_key_file(path, PASSPHRASES[path.name[:8]])
    assert _canonical_id(key) == path.stem
    role, gun = ROLES[path.name[:8]]
    assert headers == ({"role": role, "gun": gun} if gun else {"role": role})
    assert key.keytype == "ecdsa"


def test_exported_key_file_carries_its_id_in_the_path_header() -> None:
    key, headers = dct_keys.read_notary_key_file(KEYS / "root-export.pem", "rootpass")
    assert headers == {"path": _canonical_id(key), "role": "root"}
    assert headers["path"].startswith("62bdbe56")


@pytest.mark.parametrize("path", KEY_FILES, ids=lambda p: p.name[:8])
def test_plaintext_pkcs8_written_here_is_gos_byte_for_byte(path: Path) -> None:
    passphrase = PASSPHRASES[path.name[:8]]
    key, _headers = dct_keys.read_notary_key_file(path, passphrase)
    assert _pkcs8_of(key) == _plaintext(path, passphrase)


def test_wrong_passphrase_is_one_sentence_naming_the_file() -> None:
    path = KEY_FILES[0]
    with pytest.raises(PassphraseError) as caught:
        dct_keys.read_notary_key_file(path, "not-the-passphrase")
    message = str(caught.value)
    assert message.startswith(f"{path}: the passphrase is wrong")
    assert "\n" not in message and "not-the-passphrase" not in message


@pytest.mark.parametrize(("case", "data", "phrase"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_with_one_sentence_naming_the_file(tmp_path: Path, case: str, data: bytes | None, phrase: str) -> None:
    path = tmp_path / "crafted.key"
    path.write_bytes(data if data is not None else _good_file() + b" " * 16_384)
    with pytest.raises(InputFileError) as caught:
        dct_keys.read_notary_key_file(path, PASS)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), case
    assert phrase in message, message
    assert "\n" not in message


def test_non_minimal_der_length_is_refused(tmp_path: Path) -> None:
    good = _envelope()
    assert good[1] == 0x81
    path = tmp_path / "long.key"
    path.write_bytes(_pem(bytes([0x30, 0x82, 0x00]) + good[2:]))
    with pytest.raises(InputFileError, match="not minimal"):
        dct_keys.read_notary_key_file(path, PASS)


@pytest.mark.parametrize(
    ("keytype", "role", "gun"), [("ecdsa", "targets", GUN), ("ecdsa", "root", None), ("ed25519", "alice", None)]
)
def test_write_then_read_round_trip(tmp_path: Path, keytype: str, role: str, gun: str | None) -> None:
    key = dct_keys.generate_notary_key(keytype)
    key_id = _canonical_id(key)
    data = dct_keys.write_notary_key_file(key, PASS, role, key_id, gun=gun)
    path = tmp_path / f"{key_id}.key"
    path.write_bytes(data)
    again, headers = dct_keys.read_notary_key_file(path, PASS)
    assert (again.keytype, again.public) == (key.keytype, key.public)
    assert headers == {"role": role, "path": key_id, **({"gun": gun} if gun else {})}
    payload = b"signed bytes"
    signature = again.sign(payload)
    verify = dct_keys.verify_ed25519_raw if keytype == "ed25519" else dct_keys.verify_ecdsa_raw
    assert verify(key.public, signature, payload)


def test_written_bytes_are_notarys_form() -> None:
    key = dct_keys.generate_notary_key()
    key_id = _canonical_id(key)
    lines = dct_keys.write_notary_key_file(key, PASS, "targets", key_id, gun=GUN).decode().split("\n")
    assert lines[:5] == [PEM_BEGIN, f"gun: {GUN}", f"path: {key_id}", "role: targets", ""]
    assert lines[-2:] == [PEM_END, ""]
    body = lines[5:-2]
    assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64
    der = base64.b64decode("".join(body))
    salt, iterations, iv, _ciphertext = dct_keys._notary_envelope(der)
    assert (len(salt), iterations, len(iv)) == (8, 2048, 16)
    kdf_params = D(OCT, salt) + D(INT, (2048).to_bytes(2, "big"))  # no keyLength, no prf: as Go writes it
    assert D(SEQ, D(OID, dct_keys._OID_PBKDF2) + D(SEQ, kdf_params)) in der


def test_two_writes_differ_in_salt_and_iv() -> None:
    key = dct_keys.generate_notary_key()
    first = dct_keys.write_notary_key_file(key, PASS, "root", "ab" * 32)
    assert first != dct_keys.write_notary_key_file(key, PASS, "root", "ab" * 32)


WRITE_REFUSALS = [
    ("targets without gun", {"role": "targets", "path": "ab" * 32}, UsageError, "needs the GUN"),
    ("root with gun", {"role": "root", "path": "ab" * 32, "gun": GUN}, UsageError, "carries no GUN"),
    ("path not an id", {"role": "root", "path": "AB" * 32}, UsageError, "canonical key id"),
    ("role with a newline", {"role": "ro\nle", "path": "ab" * 32}, UsageError, "printable characters"),
    ("short passphrase", {"role": "root", "path": "ab" * 32, "passphrase": "short"}, PassphraseError, "too short"),
]


@pytest.mark.parametrize(("case", "args", "error", "phrase"), WRITE_REFUSALS, ids=[w[0] for w in WRITE_REFUSALS])
def test_write_refuses_what_notary_would_refuse_or_drop(
    case: str, args: dict[str, str], error: type[Exception], phrase: str
) -> None:
    options = dict(args)
    passphrase = options.pop("passphrase", PASS)
    with pytest.raises(error, match=phrase):
        dct_keys.write_notary_key_file(dct_keys.generate_notary_key(), passphrase, options.pop("role"), **options)


def test_generate_refuses_other_key_types() -> None:
    with pytest.raises(UsageError, match="ecdsa or ed25519"):
        dct_keys.generate_notary_key("rsa")


def test_a_passphrase_that_is_not_text_is_one_sentence_without_it() -> None:
    """A lone surrogate (a non-UTF-8 terminal or file) is refused, and no part of the passphrase is shown."""
    with pytest.raises(PassphraseError) as caught:
        dct_keys.read_notary_key_file(KEY_FILES[0], "secret\udcff")
    assert "secret" not in str(caught.value) and "\\udcff" not in str(caught.value)
