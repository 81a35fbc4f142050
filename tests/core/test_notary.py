"""ceremony/core/notary.py: the Notary v1 format layer against files Go's notary and docker wrote.

The samples are tests/vectors/notary-v1 (Debian notary 0.7.0, docker 20.10; SOURCE.txt per folder). Every
sample re-serialises to its own bytes, every signature verifies over the canonical bytes, every key id is
what Go wrote; each refusal of the parser is one line. Keys for the synthetic file are made in-process.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ceremony.core import notary
from ceremony.errors import InputFileError, MetadataError

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "notary-v1"
SAMPLES = sorted(p for p in VECTOR.glob("*/*.json") if p.parent.name != "keys")
KEY_FILES = sorted((VECTOR / "keys").glob("*.key"))


def _name(path: Path) -> str:
    return path.relative_to(VECTOR).as_posix()


def _role_of(path: Path) -> str:
    """The role a sample file is for: ``3.targets.json`` -> targets, ``targets_releases.json`` -> targets/releases."""
    stem = path.name.removesuffix(".json").split(".")[-1]
    return stem.replace("_", "/")


def _folder_keys(folder: Path) -> dict[str, Any]:
    """Every key object the folder's files list (root keys and delegation keys), by id."""
    found: dict[str, Any] = {}
    for path in sorted(folder.glob("*.json")):
        found.update(notary.listed_keys(json.loads(path.read_bytes())["signed"]))
    return found


def test_every_sample_folder_is_there() -> None:
    assert sorted({p.parent.name for p in SAMPLES}) == [
        "docker",
        "docker-push",
        "local-signer",
        "server",
        "trustdir",
        "tz",
    ]
    assert len(SAMPLES) == 30


@pytest.mark.parametrize("path", SAMPLES, ids=_name)
def test_sample_re_serialises_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    md = notary.parse(data, _name(path), role=_role_of(path))
    assert notary.file_bytes(md.signed, md.signatures) == data
    assert notary.is_go_form(data, md)


@pytest.mark.parametrize("path", SAMPLES, ids=_name)
def test_sample_signatures_verify_over_the_canonical_bytes(path: Path) -> None:
    md = notary.parse(path.read_bytes(), _name(path))
    pool = _folder_keys(path.parent)
    payload = notary.signed_bytes(md.signed)
    assert md.signatures
    for signature in md.signatures:
        key = pool[signature.keyid]
        assert notary.key_id(key) == signature.keyid
        assert signature.method == notary.METHOD_FOR_KEYTYPE[key["keytype"]]
        assert notary.verify(key, signature, payload)
        assert not notary.verify(key, signature, payload + b" ")


@pytest.mark.parametrize("name", ["server/targets.json", "trustdir/targets.json", "tz/targets.json"])
def test_escaped_in_the_file_signed_raw(name: str) -> None:
    data = (VECTOR / name).read_bytes()
    md = notary.parse(data, name)
    payload = notary.signed_bytes(md.signed)
    (signature,) = md.signatures
    key = _folder_keys((VECTOR / name).parent)[signature.keyid]
    escaped = notary._escaped(payload)
    assert escaped != payload and escaped in data and payload not in data
    assert notary.verify(key, signature, payload)
    assert not notary.verify(key, signature, escaped)


def test_the_html_name_is_raw_in_the_signed_bytes() -> None:
    md = notary.parse((VECTOR / "server/targets.json").read_bytes(), "server/targets.json")
    assert "a<b>&c é €" in md.signed["targets"]
    assert '"a<b>&c é €"'.encode() in notary.signed_bytes(md.signed)
    assert b'"a\\u003cb\\u003e\\u0026c \xc3\xa9 \xe2\x82\xac"' in notary.to_bytes(md)


@pytest.mark.parametrize("path", SAMPLES, ids=_name)
def test_listed_key_ids_are_what_go_wrote(path: Path) -> None:
    for keyid, key in notary.listed_keys(json.loads(path.read_bytes())["signed"]).items():
        assert notary.key_id(key) == keyid
        if key["keytype"] != "ecdsa-x509":
            assert notary.canonical_key_id(key) == keyid


# folder, the root.json / delegation id (x509, written by Go), the key file Go named by the canonical id
X509_IDS = [
    ("server", "4a864bc255726a7f78796bf210f4b3f8ac7439dedaa3c6f09290b46b5790d750", "62bdbe56abb85229f37f45246ec932471b5baa910d35e7dff7d35b01133170d1"),
    ("trustdir", "4a864bc255726a7f78796bf210f4b3f8ac7439dedaa3c6f09290b46b5790d750", "62bdbe56abb85229f37f45246ec932471b5baa910d35e7dff7d35b01133170d1"),
    ("server", "9a8f466b0e9eb5817d148501ca43bdd6553d20ab29183ae950e78cb2809b475b", "d2c9d717f6b7f3aa033bed5647a79093c55c301cbec87c5cf496e5a9a0d689f4"),
    ("docker", "e7d465ed025d947d9a81fa0d784eb4db434846de4c0771a867e898f58a125863", "28d6bac80182ffc8811b7dfdd2c0afc03e493a98fa95785bd7ff68894765d0b9"),
]  # fmt: skip


@pytest.mark.parametrize(("folder", "keyid", "canonical"), X509_IDS)
def test_x509_canonical_id_is_the_key_file_name(folder: str, keyid: str, canonical: str) -> None:
    key = _folder_keys(VECTOR / folder)[keyid]
    assert key["keytype"] == "ecdsa-x509"
    assert notary.key_id(key) == keyid
    assert notary.canonical_key_id(key) == canonical
    assert (VECTOR / "keys" / f"{canonical}.key").is_file()


def _key_file_role(path: Path) -> str:
    headers = dict(line.split(": ", 1) for line in path.read_text().splitlines()[1:] if ": " in line)
    return headers["role"]


@pytest.mark.parametrize("path", [p for p in KEY_FILES if _key_file_role(p) != "bob"], ids=lambda p: p.name[:8])
def test_key_file_names_are_canonical_ids_of_sample_keys(path: Path) -> None:
    """bob's key was loaded into docker but never added to a repository; every other file names a listed key."""
    canonical = {
        notary.canonical_key_id(k) for folder in {p.parent for p in SAMPLES} for k in _folder_keys(folder).values()
    }
    assert path.stem in canonical


def test_a_key_id_ignores_other_fields_and_re_encodes_nothing() -> None:
    key = notary.ed25519_key(bytes(32))
    assert notary.key_id({**key, "extra": 1}) == notary.key_id(key) == notary.canonical_key_id(key)


BAD_KEYS = [
    ("not an object", "ecdsa", "keytype string"),
    ("no keyval", {"keytype": "ecdsa"}, "keyval object"),
    ("private part", {"keytype": "ecdsa", "keyval": {"private": "AA==", "public": "AA=="}}, "private part"),
    ("public not base64", {"keytype": "ecdsa", "keyval": {"private": None, "public": "***"}}, "base64"),
    ("public unpadded", {"keytype": "ecdsa", "keyval": {"private": None, "public": "AA"}}, "base64"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "key", "words"), BAD_KEYS, ids=[c[0] for c in BAD_KEYS])
def test_bad_key_objects_are_refused(case: str, key: Any, words: str) -> None:
    with pytest.raises(MetadataError, match=words):
        notary.key_id(key)


def test_an_x509_key_without_a_certificate_has_no_canonical_id() -> None:
    with pytest.raises(MetadataError, match="PEM certificate"):
        notary.canonical_key_id(notary.ecdsa_x509_key(b"not a certificate"))


# --- The parser's refusals, one line each ------------------------------------------------------------------

BASE = (
    '{"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2030-01-01T00:00:00Z",'
    '"targets":{"NAME":{"hashes":{},"length":1}},"version":VERSION},"signatures":SIGS}'
)
SIG = '{"keyid":"ab","method":"ecdsa","sig":"AAAA"}'


def _file(name: str = "t", version: str = "2", sigs: str = "[]", replace: tuple[str, str] = ("", "")) -> bytes:
    """The base file with a target ``name``, a ``version``, the ``sigs`` list and one text replaced."""
    text = BASE.replace("NAME", name).replace("VERSION", version).replace("SIGS", sigs)
    return text.replace(*replace).encode() if replace[0] else text.encode()


REFUSALS = [
    ("not UTF-8", b'{"signed":"\xff"}', "not UTF-8"),
    ("not JSON", b'{"signed":', "not valid JSON"),
    ("not an object", b"[]", "top level is not a JSON object"),
    ("a float", _file(version="2.5"), "non-integer number 2.5"),
    ("a whole float", _file(version="2.0"), "non-integer number 2.0"),
    ("an escaped control character", _file(name="tab\\there"), "control character U\\+0009"),
    ("an escaped NUL in a key", _file(name="a\\u0000"), "control character U\\+0000"),
    ("a raw control character", _file(name="tab\there"), "not valid JSON"),
    ("a lone surrogate", _file(name="\\ud800"), "lone UTF-16 surrogate"),
    ("an integer beyond 2**53", _file(version=str(2**53 + 1)), "beyond 2\\*\\*53"),
    ("a duplicate key", _file().replace(b'"version"', b'"version":1,"version"'), "duplicate key"),
    ("no signed", b'{"signatures":[]}', "no 'signed' field"),
    ("no signatures", _file().replace(b',"signatures":[]', b""), "no 'signatures' field"),
    ("an extra field", _file()[:-1] + b',"x":1}', "unexpected top-level field 'x'"),
    ("signed not an object", b'{"signed":[],"signatures":[]}', "'signed' is not an object"),
    ("signatures null", _file(sigs="null"), "'signatures' is not a list"),
    ("a signature not an object", _file(sigs="[1]"), "signature 1 is not an object"),
    ("a signature without method", _file(sigs='[{"keyid":"ab","sig":"AAAA"}]'), "exactly the fields"),
    ("a signature with an extra field", _file(sigs=f"[{SIG[:-1]},\"x\":1}}]"), "exactly the fields"),
    ("a sig that is a number", _file(sigs='[{"keyid":"ab","method":"ecdsa","sig":1}]'), "must be strings"),
    ("a sig not base64", _file(sigs="[" + SIG.replace("AAAA", "A*A=") + "]"), "not standard padded base64"),
    ("a sig unpadded", _file(sigs="[" + SIG.replace("AAAA", "AA") + "]"), "not standard padded base64"),
    ("a control character in a method", _file(sigs="[" + SIG.replace("ecdsa", "ec\\n") + "]"), "in a signature, a string"),
    ("no _type", _file(replace=('"_type":"Targets",', "")), "_type is missing"),
    ("a lower-case _type", _file(replace=('"Targets"', '"targets"')), '_type is "targets"'),
    ("an unknown _type", _file(replace=('"Targets"', '"Mirrors"')), "not one of Notary's Root, Targets"),
    ("version 0", _file(version="0"), "version is 0"),
    ("version a string", _file(version='"2"'), 'version is "2"'),
    ("version true", _file(version="true"), "version is true"),
    ("expires without a zone", _file(replace=("00:00Z", "00:00")), "not an RFC 3339 time"),
    ("expires a date", _file(replace=("T00:00:00Z", "")), "not an RFC 3339 time"),
    ("expires a month 13", _file(replace=("2030-01", "2030-13")), "not an RFC 3339 time"),
    ("expires ten fraction digits", _file(replace=("00Z", "00.1234567891Z")), "not an RFC 3339 time"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "data", "words"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_parser_refuses(case: str, data: bytes, words: str) -> None:
    with pytest.raises(InputFileError, match=words) as caught:
        notary.parse(data, "in/targets.json")
    assert str(caught.value).startswith("in/targets.json: ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("role", "words"),
    [("root", "but root metadata is 'Root'"), ("snapshot", "'Snapshot'"), ("targets/x", None), ("targets", None)],
)
def test_parse_checks_the_role_type(role: str, words: str | None) -> None:
    if words is None:
        assert notary.role_type(notary.parse(_file(), "t.json", role=role)) == "Targets"
        return
    with pytest.raises(InputFileError, match=words):
        notary.parse(_file(), "t.json", role=role)


def test_the_base_file_parses() -> None:
    md = notary.parse(_file(sigs=f"[{SIG}]"), "t.json")
    assert (notary.version(md), notary.signatures(md)) == (2, [notary.NotarySignature("ab", "ecdsa", bytes(3))])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tz/root.json", datetime(2036, 11, 28, 14, 44, 29, 516816, tzinfo=UTC)),  # +01:00, nanoseconds
        ("server/root.json", datetime(2036, 11, 28, 14, 42, 16, 802545, tzinfo=UTC)),
    ],
)
def test_expires_as_go_wrote_it(name: str, expected: datetime) -> None:
    md = notary.parse((VECTOR / name).read_bytes(), name)
    assert notary.expires(md) == expected


@pytest.mark.parametrize(
    ("signed", "words"),
    [
        ({"name": "tab\there"}, "control character U\\+0009"),
        ({"n": 1.0}, "a float value"),
        ({"n": 2**60}, "beyond 2"),
        ({"\ud800": 1}, "lone UTF-16 surrogate"),
    ],
)
def test_the_writer_refuses_what_go_cannot_write(signed: dict[str, Any], words: str) -> None:
    with pytest.raises(MetadataError, match=words):
        notary.file_bytes(signed, [])


# --- Writing: a synthetic file round trip ------------------------------------------------------------------


def test_write_then_parse_a_file_with_html_characters_and_u2028() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = notary.ecdsa_key(spki)
    name = "a<b>&c\u2028d\u2029 é"
    signed = {
        "_type": "Targets",
        "delegations": {"keys": {notary.key_id(key): key}, "roles": []},
        "expires": "2030-01-01T00:00:00Z",
        "targets": {name: {"hashes": {"sha256": base64.b64encode(bytes(32)).decode()}, "length": 1}},
        "version": 3,
    }
    payload = notary.signed_bytes(signed)
    r, s = decode_dss_signature(private.sign(payload, ec.ECDSA(hashes.SHA256())))
    signature = notary.NotarySignature(notary.key_id(key), "ecdsa", r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    data = notary.file_bytes(signed, [signature])

    assert data.startswith(b'{"signed":{"_type":"Targets",') and data.endswith(
        b'"sig":"' + base64.b64encode(signature.sig) + b'"}]}'
    )
    assert b"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029 \xc3\xa9" in data
    assert name.encode() in payload and b"\\u" not in payload
    md = notary.parse(data, "synthetic.json", role="targets")
    assert md.signed == signed and md.signatures == [signature]
    assert notary.is_go_form(data, md)
    assert notary.verify(key, signature, notary.signed_bytes(md.signed))
    assert not notary.verify(key, signature, notary._escaped(payload))
    assert json.loads(data)["signed"] == signed  # any JSON reader sees the same object


def test_ed25519_eddsa_and_method_mismatches() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key = notary.ed25519_key(
        private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    payload = notary.signed_bytes({"_type": "Timestamp"})
    good = notary.NotarySignature(notary.key_id(key), "eddsa", private.sign(payload))
    assert notary.verify(key, good, payload)
    assert not notary.verify(key, notary.NotarySignature(good.keyid, "ecdsa", good.sig), payload)
    assert not notary.verify(key, notary.NotarySignature(good.keyid, "eddsa", good.sig[:63]), payload)
    assert not notary.verify({"keytype": "rsa", "keyval": {"public": "AA=="}}, good, payload)


def test_an_ecdsa_signature_of_the_wrong_length_verifies_nothing() -> None:
    path = VECTOR / "server/root.json"
    md = notary.parse(path.read_bytes(), "root.json")
    (signature,) = md.signatures
    key = _folder_keys(path.parent)[signature.keyid]
    payload = notary.signed_bytes(md.signed)
    assert not notary.verify(key, notary.NotarySignature(signature.keyid, "ecdsa", b"\0" + signature.sig), payload)
    assert not notary.verify(key, notary.NotarySignature(signature.keyid, "eddsa", signature.sig), payload)
