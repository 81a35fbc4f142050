"""The Notary v1 dialect (Docker Content Trust): its files, key objects, key ids and signatures.

Notary v1 has TUF's four roles and N-of-M rules, but Go's serialisation and its own key and signature forms.
Every rule here was read in notary 0.7.0's source (``tuf/data``, ``tuf/signed``, ``tuf/utils``, the vendored
``github.com/docker/go/canonical/json``) and checked against files written by Debian's notary 0.7.0 and
docker 20.10 (``tests/vectors/notary-v1``; the findings are in the issue 12 research notes, section 3):

- What is signed is ``MarshalCanonical(signed)``: keys sorted bytewise, no whitespace, only ``"`` and ``\\``
  escaped, everything else (``<>&``, non-ASCII) raw UTF-8, integers only. securesystemslib's canonical JSON
  (``_json.canonical_bytes``) gives the same bytes for every sample, so it is reused.
- The file is ``json.Marshal(data.Signed{Signed json.RawMessage; Signatures []Signature})``: ``signed`` first
  (struct order, not sorted), then the signature objects ``{"keyid","method","sig"}``. Go's encoder escapes
  ``< > &`` and U+2028/U+2029 as ``\\u003c`` ... ``\\u2029`` in the file only; the signature still covers the
  raw form. notary-server hashes its own re-serialisation but stores the uploaded bytes, so a file that is not
  exactly Go's form is accepted with a 200 and breaks every client later.
- A raw control character in any string makes Go's client fail to write the file (``invalid character '\\t'
  in string literal``), so such strings cannot exist in Notary metadata: refused on reading and writing.
- Go's verifier re-reads ``signed`` into ``map[string]interface{}`` before re-canonicalising it
  (``tuf/signed/verify.go``), so every number becomes a float64: integers beyond 2**53 would not survive, and
  are refused.
- Key objects are ``{"keytype","keyval":{"private":null,"public":base64(bytes)}}``: ``ecdsa`` holds a DER
  SubjectPublicKeyInfo, ``ecdsa-x509`` the PEM of a certificate (leaf first), ``ed25519`` the raw 32 bytes.
  The key id is sha256 of the canonical key object (``TUFKey.ID``); the canonical id of an x509 key
  (``utils.CanonicalKeyID``: key file names, ``notary key list``, ``--rootkey``) is the id of the plain
  ``ecdsa`` key of its certificate's public key.
- Signatures are raw: ECDSA r||s (``method`` "ecdsa", SHA-256), Ed25519 64 bytes (``method`` "eddsa").

It sits beside metadata.py as the second metadata dialect (docs/architecture.md, "The seam for a second
dialect"): parsing, Go's serialisation, key objects and ids, signature checks, and the writers of new
versions (``build_root``, ``build_targets``, ``next_version``, ``sign_file``, ``add_signatures``). Notary's
client rules are notary_verify.py's, the ceremonies of a Docker Content Trust workspace dct.py's, and the
cryptography (certificates, raw signatures, key files) keys/dct.py's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ceremony.core._json import canonical_bytes, loads_strict
from ceremony.core._text import printable
from ceremony.core.keys import dct as dct_keys
from ceremony.errors import InputFileError, MetadataError, SigningKeyError

#: The ``_type`` of each top-level role's file (``data.TUFTypes``); delegated roles' files are "Targets".
TYPES: dict[str, str] = {"root": "Root", "targets": "Targets", "snapshot": "Snapshot", "timestamp": "Timestamp"}
#: The signature ``method`` Notary writes for each key type it signs with (``data.SigAlgorithm``).
METHOD_FOR_KEYTYPE: dict[str, str] = {"ecdsa": "ecdsa", "ecdsa-x509": "ecdsa", "ed25519": "eddsa"}
#: The largest integer a float64 holds exactly: Go's verifier reads every number as one.
MAX_EXACT_INT = 2**53
#: The only fields of a file and of a signature object (Go's structs; anything else would be dropped on write).
FILE_FIELDS = ("signed", "signatures")
SIGNATURE_FIELDS = ("keyid", "method", "sig")

# Go's RFC 3339 as time.Time writes it (RFC3339Nano): a fraction of 1-9 digits, Z or an offset.
_GO_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")
# What Go's encoder escapes in the file (HTML-safe JSON), never in the signed bytes.
_FILE_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


@dataclass(frozen=True)
class NotarySignature:
    """One entry of ``signatures``: the key id, the method and the raw signature bytes."""

    keyid: str
    method: str
    sig: bytes

    def to_dict(self) -> dict[str, str]:
        """The object as Go writes it (``sig`` in standard base64)."""
        return {"keyid": self.keyid, "method": self.method, "sig": base64.b64encode(self.sig).decode("ascii")}


@dataclass
class NotaryFile:
    """A parsed Notary v1 metadata file: the ``signed`` object as read and its signatures in order."""

    signed: dict[str, Any]
    signatures: list[NotarySignature]
    source: str


def expected_type(role: str) -> str:
    """The ``_type`` the file of ``role`` must carry: a delegated role (``targets/...``) is "Targets"."""
    return TYPES.get(role, "Targets" if role.startswith("targets/") else "")


def _value_problem(value: Any) -> str | None:
    """Why ``value`` cannot be in Notary metadata (Go could not write it, or not verify it), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            for char in item:
                if ord(char) < 0x20:
                    return (
                        f"a string holds the control character U+{ord(char):04X} ({printable(item, 60)}); "
                        "Go's notary cannot write it"
                    )
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone UTF-16 surrogate (not valid text)"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_EXACT_INT:
                return f"the integer {item} is beyond 2**53, which Go's verifier (reading numbers as float64) changes"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            return f"a {type(item).__name__} value (Notary metadata holds only objects, lists, strings and integers)"
    return None


def _b64(text: Any) -> bytes | None:
    """The bytes of standard base64 ``text`` as Go's ``[]byte`` writes it (padded, canonical), else None."""
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _shown(signed: dict[str, Any], field: str) -> str:
    """A field's value as JSON would show it (``"2"``, ``true``), or "missing", for an error message."""
    return printable(json.dumps(signed[field], ensure_ascii=False), 60) if field in signed else "missing"


def _signature(entry: Any, index: int, source: str) -> NotarySignature:
    """One signature object, exactly Go's three fields."""
    where = f"{source}: signature {index + 1}"
    if not isinstance(entry, dict):
        raise InputFileError(f"{where} is not an object")
    if sorted(entry) != sorted(SIGNATURE_FIELDS):
        raise InputFileError(f"{where} must have exactly the fields keyid, method and sig (it has {sorted(entry)})")
    if not all(isinstance(entry[field], str) for field in SIGNATURE_FIELDS):
        raise InputFileError(f"{where}: keyid, method and sig must be strings")
    raw = _b64(entry["sig"])
    if raw is None:
        raise InputFileError(f"{where}: sig is not standard padded base64 as Go writes it")
    return NotarySignature(entry["keyid"], entry["method"], raw)


def parse_go_time(text: Any) -> datetime | None:
    """``text`` as Go's RFC 3339 (``time.Time``), as an aware datetime (fraction cut to microseconds), or None."""
    match = _GO_TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = UTC
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    micro = int((fraction or "").ljust(6, "0")[:6])
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=offset
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def parse(data: bytes, source: str, role: str | None = None) -> NotaryFile:
    """Parse a Notary v1 metadata file strictly; with ``role``, its ``_type`` must be that role's.

    The bytes must be strict JSON (``_json.loads_strict``: UTF-8, no duplicate keys, no floats, no lone
    surrogates); the top level exactly ``signed`` and ``signatures`` (a list, never null); every string free
    of control characters; ``_type`` one of Notary's four; ``version`` an integer of at least 1; ``expires``
    Go's RFC 3339. The parsed ``signed`` is kept as read (``expires`` as its string).

    Raises:
        InputFileError: one sentence naming ``source`` and what is wrong.
    """
    value = loads_strict(data, source)
    if not isinstance(value, dict):
        raise InputFileError(f"{source}: not Notary metadata (the top level is not a JSON object)")
    for field in FILE_FIELDS:
        if field not in value:
            raise InputFileError(f"{source}: not Notary metadata (no {field!r} field)")
    extra = sorted(set(value) - set(FILE_FIELDS))
    if extra:
        raise InputFileError(f"{source}: unexpected top-level field {printable(extra[0], 60)!r} (Go writes none)")
    signed, entries = value["signed"], value["signatures"]
    if not isinstance(signed, dict):
        raise InputFileError(f"{source}: 'signed' is not an object")
    if not isinstance(entries, list):
        raise InputFileError(f"{source}: 'signatures' is not a list")
    problem = _value_problem(signed)
    if problem:
        raise InputFileError(f"{source}: {problem}")
    signatures = [_signature(entry, index, source) for index, entry in enumerate(entries)]
    problem = _value_problem([s.keyid for s in signatures] + [s.method for s in signatures])
    if problem:
        raise InputFileError(f"{source}: in a signature, {problem}")
    found = signed.get("_type")
    if found not in TYPES.values():
        raise InputFileError(
            f"{source}: _type is {_shown(signed, '_type')}, not one of Notary's {', '.join(TYPES.values())}"
        )
    if role is not None and found != expected_type(role):
        raise InputFileError(
            f"{source}: _type is {_shown(signed, '_type')}, but {printable(role, 60)} metadata is {expected_type(role)!r}"
        )
    version = signed.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputFileError(f"{source}: version is {_shown(signed, 'version')}, not an integer of at least 1")
    if parse_go_time(signed.get("expires")) is None:
        raise InputFileError(f"{source}: expires is {_shown(signed, 'expires')}, not an RFC 3339 time as Go writes it")
    return NotaryFile(signed, signatures, source)


def _writable(value: Any, what: str) -> None:
    """Refuse to serialise what Go could not write or verify (the same rules as ``parse``)."""
    problem = _value_problem(value)
    if problem:
        raise MetadataError(f"{what} cannot be written as Notary metadata: {problem}")


def signed_bytes(signed: dict[str, Any]) -> bytes:
    """The bytes a signature covers: canonical JSON of ``signed``, as Go's ``MarshalCanonical`` writes it.

    Raises:
        MetadataError: ``signed`` holds what Notary metadata cannot (a control character, a float, ...).
    """
    _writable(signed, "signed")
    return canonical_bytes(signed)


def _escaped(canonical: bytes) -> bytes:
    """Go's HTML-safe escaping of ``< > &`` and U+2028/U+2029 (only ever inside strings of canonical JSON)."""
    for raw, escape in _FILE_ESCAPES:
        canonical = canonical.replace(raw, escape)
    return canonical


def file_bytes(signed: dict[str, Any], signatures: Sequence[NotarySignature]) -> bytes:
    """The file exactly as Go's notary writes it: ``{"signed":<canonical, HTML-escaped>,"signatures":[...]}``.

    Raises:
        MetadataError: ``signed`` or a signature holds what Notary metadata cannot.
    """
    entries = [s.to_dict() for s in signatures]
    _writable(entries, "a signature")
    return (
        b'{"signed":' + _escaped(signed_bytes(signed)) + b',"signatures":' + _escaped(canonical_bytes(entries)) + b"}"
    )


def to_bytes(md: NotaryFile) -> bytes:
    """The file of ``md`` in Go's form (``file_bytes``)."""
    return file_bytes(md.signed, md.signatures)


def is_go_form(data: bytes, md: NotaryFile) -> bool:
    """True when ``data`` (the bytes ``md`` was parsed from) is exactly what Go would write for it.

    A file in any other form still parses and verifies, but must never be uploaded as it is.
    """
    return to_bytes(md) == data


def signatures(md: NotaryFile) -> list[NotarySignature]:
    """The signatures of ``md`` in file order."""
    return list(md.signatures)


def role_type(md: NotaryFile) -> str:
    """The file's ``_type`` ("Root", "Targets", "Snapshot" or "Timestamp")."""
    return str(md.signed["_type"])


def version(md: NotaryFile) -> int:
    """The file's version (checked by ``parse``)."""
    return int(md.signed["version"])


def expires(md: NotaryFile) -> datetime:
    """When the file expires, in UTC (Go may write local time: ``+01:00``; nanoseconds are cut)."""
    when = parse_go_time(md.signed["expires"])
    if when is None:  # parse checked it; a signed dict changed since is a bug
        raise MetadataError(f"{md.source}: expires is not an RFC 3339 time")
    return when


# --- Key objects and key ids --------------------------------------------------------------------------------


def key_object(keytype: str, public: bytes) -> dict[str, Any]:
    """A key object as Notary writes it: ``{"keytype":T,"keyval":{"private":null,"public":base64(public)}}``."""
    return {"keytype": keytype, "keyval": {"private": None, "public": base64.b64encode(public).decode("ascii")}}


def ecdsa_key(spki: bytes) -> dict[str, Any]:
    """An ``ecdsa`` key (targets, snapshot, timestamp, delegation keys): the DER SubjectPublicKeyInfo."""
    return key_object("ecdsa", spki)


def ecdsa_x509_key(certificate_pem: bytes) -> dict[str, Any]:
    """An ``ecdsa-x509`` key (root keys, delegations added from a certificate): the certificate's PEM."""
    return key_object("ecdsa-x509", certificate_pem)


def ed25519_key(public: bytes) -> dict[str, Any]:
    """An ``ed25519`` key (a notary-server with a local signer): the raw 32 bytes."""
    return key_object("ed25519", public)


def key_public(key_obj: Any) -> tuple[str, bytes]:
    """The key type and public bytes of a key object, checked as Go's ``TUFKey`` would read it.

    Raises:
        MetadataError: not a key object, ``public`` not base64, or a ``private`` part present.
    """
    keyval = key_obj.get("keyval") if isinstance(key_obj, dict) else None
    keytype = key_obj.get("keytype") if isinstance(key_obj, dict) else None
    if not isinstance(keytype, str) or not isinstance(keyval, dict):
        raise MetadataError("a Notary key object needs a keytype string and a keyval object")
    if keyval.get("private") is not None:
        raise MetadataError(f"a published {printable(keytype, 40)} key holds a private part")
    public = _b64(keyval.get("public"))
    if public is None:
        raise MetadataError(f"the public part of a {printable(keytype, 40)} key is not standard padded base64")
    return keytype, public


def key_id(key_obj: Any) -> str:
    """Notary's key id (``TUFKey.ID``): sha256 of the canonical ``{"keytype","keyval":{"private":null,"public"}}``.

    Only the key type and the public bytes count: other fields of the object are not part of the id.

    Raises:
        MetadataError: not a key object (``key_public``).
    """
    keytype, public = key_public(key_obj)
    return hashlib.sha256(canonical_bytes(key_object(keytype, public))).hexdigest()


def canonical_key_id(key_obj: Any) -> str:
    """The canonical id (``utils.CanonicalKeyID``): for ``ecdsa-x509`` the id of the certificate's plain key.

    This is the id of key files (``private/<id>.key``), ``notary key list`` and ``notary init --rootkey``;
    root.json and ``docker trust inspect`` show ``key_id`` (over the certificate) instead.

    Raises:
        MetadataError: not a key object, or an x509 key whose public part is not a PEM certificate.
    """
    keytype, public = key_public(key_obj)
    if keytype != "ecdsa-x509":
        return key_id(key_obj)
    try:
        spki = dct_keys.certificate_spki(public)
    except ValueError as err:
        raise MetadataError("an ecdsa-x509 key does not hold a PEM certificate") from err
    return key_id(ecdsa_key(spki))


def listed_keys(signed: dict[str, Any]) -> dict[str, Any]:
    """The key objects a file lists by id: root's ``keys``, or a targets file's ``delegations.keys``."""
    found = signed.get("keys")
    if found is None:
        delegations = signed.get("delegations")
        found = delegations.get("keys") if isinstance(delegations, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def verify(key_obj: Any, signature: NotarySignature, payload: bytes) -> bool:
    """True when ``signature`` by ``key_obj`` is valid over ``payload`` (``signed_bytes``), as Notary checks it.

    The method must be the key type's (``ecdsa`` for ``ecdsa`` and ``ecdsa-x509``, ``eddsa`` for ``ed25519``:
    Go's verifier for a method refuses other key types). An ``ecdsa`` key must hold an EC key; an x509 key is
    verified with its first certificate's key. RSA keys and methods are not supported (nothing here makes
    them) and verify nothing. The key id is not checked here: the caller looks the key up by it.
    """
    try:
        keytype, public = key_public(key_obj)
    except MetadataError:
        return False
    if METHOD_FOR_KEYTYPE.get(keytype) != signature.method:
        return False
    if keytype == "ed25519":
        return dct_keys.verify_ed25519_raw(public, signature.sig, payload)
    if keytype == "ecdsa-x509":
        try:
            public = dct_keys.certificate_spki(public)
        except ValueError:
            return False
    return dct_keys.verify_ecdsa_raw(public, signature.sig, payload)


# --- Writing new versions ---------------------------------------------------------------------------------------


def format_go_time(when: datetime) -> str:
    """``when`` as this tool writes ``expires``: UTC to the second, ``YYYY-MM-DDTHH:MM:SSZ``.

    Go re-serialises any RFC 3339 time as ``time.Time`` writes it (``+00:00`` becomes ``Z``, ``.500`` becomes
    ``.5``); a form it writes back unchanged is this one. Years beyond 9999 Go cannot write at all.

    Raises:
        MetadataError: a year outside 1 to 9999.
    """
    utc = when.astimezone(UTC)
    if not 1 <= utc.year <= 9999:
        raise MetadataError(f"the time {utc.isoformat()} is outside the years Go can write")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_root(
    keys_by_id: dict[str, Any], roles: dict[str, tuple[list[str], int]], expires_at: datetime, version_: int
) -> dict[str, Any]:
    """The ``signed`` object of a root.json: every key by id, the four roles, ``consistent_snapshot`` false.

    Notary's ``data.SignedRoot`` (tuf/data/root.go): all four roles are required, each key a role names must
    be listed, and consistent snapshots are not used by notary's clients.

    Raises:
        MetadataError: a role missing, a role naming an unlisted key, or a threshold out of range.
    """
    for role in TYPES:
        if role not in roles:
            raise MetadataError(f"a Notary root needs the {role} role")
    for role, (keyids, threshold) in roles.items():
        missing = [k for k in keyids if k not in keys_by_id]
        if missing:
            raise MetadataError(f"the {role} role names key {missing[0][:12]}, which the root does not list")
        if not 1 <= threshold <= len(keyids):
            raise MetadataError(f"the {role} role's threshold {threshold} is not between 1 and {len(keyids)}")
    return {
        "_type": TYPES["root"],
        "consistent_snapshot": False,
        "expires": format_go_time(expires_at),
        "keys": dict(keys_by_id),
        "roles": {
            role: {"keyids": list(keyids), "threshold": threshold} for role, (keyids, threshold) in roles.items()
        },
        "version": version_,
    }


def build_targets(expires_at: datetime, version_: int) -> dict[str, Any]:
    """The ``signed`` object of a first targets.json as Docker's CLI starts one: no targets, no delegations."""
    return {
        "_type": TYPES["targets"],
        "delegations": {"keys": {}, "roles": []},
        "expires": format_go_time(expires_at),
        "targets": {},
        "version": version_,
    }


def next_version(signed: dict[str, Any], expires_at: datetime) -> dict[str, Any]:
    """A copy of ``signed`` as the next version: version + 1 and the new expiry; everything else unchanged."""
    copied = json.loads(json.dumps(signed))
    copied["version"] = int(signed["version"]) + 1
    copied["expires"] = format_go_time(expires_at)
    return copied


@dataclass(frozen=True)
class NotarySigner:
    """One key that signs a Notary file: the id the file lists it under, the method, and how to sign.

    ``sign`` returns the raw signature (ECDSA r||s, Ed25519 64 bytes) and must verify it before returning
    (``keys.dct.notary_signature``, ``NotaryKey.sign``); ``sign_file`` checks it again against the key object.
    """

    keyid: str
    key_obj: dict[str, Any]
    sign: Callable[[bytes], bytes]


def _new_signatures(payload: bytes, signers: Sequence[NotarySigner], source: str) -> list[NotarySignature]:
    """A signature by each signer over ``payload``, each checked against the key object it is listed under."""
    made = []
    for signer in signers:
        method = METHOD_FOR_KEYTYPE.get(str(signer.key_obj.get("keytype")), "")
        signature = NotarySignature(signer.keyid, method, signer.sign(payload))
        if key_id(signer.key_obj) != signer.keyid or not verify(signer.key_obj, signature, payload):
            raise SigningKeyError(
                f"{source}: the signature by key {signer.keyid[:12]} does not verify; nothing was written"
            )
        made.append(signature)
    return made


def sign_file(signed: dict[str, Any], signers: Sequence[NotarySigner], source: str) -> bytes:
    """The file of ``signed`` in Go's form, signed by every signer in order, each signature checked.

    Raises:
        MetadataError: ``signed`` holds what Notary metadata cannot.
        SigningKeyError: a signature does not verify with the key object it is listed under.
    """
    return file_bytes(signed, _new_signatures(signed_bytes(signed), signers, source))


def add_signatures(data: bytes, source: str, role: str, signers: Sequence[NotarySigner]) -> bytes:
    """``data`` (a file in Go's form) with more signatures, each checked; a key that signed already is replaced.

    Raises:
        InputFileError: ``data`` does not parse.
        SigningKeyError: a new signature does not verify.
    """
    md = parse(data, source, role)
    fresh = {s.keyid for s in signers}
    kept = [s for s in md.signatures if s.keyid not in fresh]
    return file_bytes(md.signed, kept + _new_signatures(signed_bytes(md.signed), signers, source))
