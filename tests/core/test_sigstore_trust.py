"""ceremony/core/sigstore.py: a Sigstore trust root checked before keyholders sign it, one line per case.

Every broken file is derived from Sigstore's real ones (tests/vectors/sigstore-trust, byte for byte what
sigstore-python 4.5.1 ships and Sigstore publishes): each case changes one field and the refusal must be one
line naming the file and that field's JSON path. The real public and staging files pass, Rekor v2's ed25519
log ids included. The last cases are the trust-root changes a keyholder reads before signing.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ceremony.core import sigstore
from ceremony.errors import InputFileError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sigstore-trust"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
TR, SC = sigstore.TRUSTED_ROOT_NAME, sigstore.SIGNING_CONFIG_NAME


def real(instance: str, name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / instance / name).read_bytes()))


def enc(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


Mutation = Callable[[dict[str, Any]], object]


def mutated(instance: str, name: str, change: Mutation) -> dict[str, Any]:
    doc = copy.deepcopy(real(instance, name))
    change(doc)
    return doc


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(InputFileError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message, message
    return message


def ca(doc: dict[str, Any], index: int) -> dict[str, Any]:
    return dict(doc["certificateAuthorities"][index])


def certs(doc: dict[str, Any], index: int, kind: str = "certificateAuthorities") -> list[dict[str, str]]:
    return list(doc[kind][index]["certChain"]["certificates"])


def set_path(doc: Any, path: str, value: Any) -> None:
    """Set ``a.b[0].c`` in ``doc`` (a missing last key is added)."""
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        doc = doc[int(part)] if part.isdigit() else doc[part]
    last = parts[-1]
    if last.isdigit():
        doc[int(last)] = value
    else:
        doc[last] = value


def at(path: str, value: Any) -> Mutation:
    return lambda doc: set_path(doc, path, value)


def _swap_chain(source_kind: str, source: int, kind: str, index: int) -> Mutation:
    def change(doc: dict[str, Any]) -> None:
        doc[kind][index]["certChain"] = copy.deepcopy(doc[source_kind][source]["certChain"])

    return change


def _reverse_chain(doc: dict[str, Any]) -> None:
    doc["certificateAuthorities"][1]["certChain"]["certificates"].reverse()


def _drop_root(doc: dict[str, Any]) -> None:
    del doc["certificateAuthorities"][1]["certChain"]["certificates"][1]


def _bad_b64(doc: dict[str, Any]) -> None:
    key_id = doc["tlogs"][0]["logId"]["keyId"]
    doc["tlogs"][0]["logId"]["keyId"] = key_id[:8] + "!" + key_id[8:]  # sigstore-models would drop the "!"


TRUSTED_ROOT_CASES: list[tuple[str, str, Mutation, str]] = [
    (
        "v0.2 media type",
        "public",
        at("mediaType", sigstore.TRUSTED_ROOT_V02_MEDIA_TYPE),
        "mediaType: application/vnd.dev.sigstore.trustedroot.v0.2+json is not "
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1 (the v0.2 format: sigstore-python 4.x refuses it",
    ),
    ("no media type", "public", lambda d: d.pop("mediaType"), "mediaType: missing is not application/"),
    ("unknown field", "public", at("evil", "\x1b[31mred"), "evil: Extra inputs are not permitted"),
    ("nested unknown field", "public", at("tlogs[0].logId.extra", 1), "tlogs[0].logId.extra: Extra inputs"),
    ("missing ctlogs", "public", lambda d: d.pop("ctlogs"), "ctlogs: Field required"),
    (
        "bad key details",
        "public",
        at("tlogs[0].publicKey.keyDetails", "PKIX_BOGUS"),
        "tlogs[0].publicKey.keyDetails: Input should be",
    ),
    ("non-alphabet base64", "public", _bad_b64, "tlogs[0].logId.keyId: is not standard base64"),
    (
        "unpadded base64",
        "public",
        at("tlogs[0].logId.keyId", "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0"),
        "tlogs[0].logId.keyId: is not standard base64",
    ),
    (
        "url-safe base64",
        "public",
        at("ctlogs[1].logId.keyId", "3T0wasbHETJjGR4cmWc3AqJKXrjePK3_h4pygC8p7o4="),
        "ctlogs[1].logId.keyId: is not standard base64",
    ),
    (
        "time without zone",
        "public",
        at("tlogs[0].publicKey.validFor.start", "2021-01-12T11:53:27"),
        "tlogs[0].publicKey.validFor.start: is not an RFC 3339 time",
    ),
    (
        "log id of another key",
        "public",
        at("tlogs[0].logId.keyId", "3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4="),
        "tlogs[0].logId.keyId: does not identify this log's key (expected SHA-256 of the key's DER "
        "SubjectPublicKeyInfo, wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=)",
    ),
    (
        "ed25519 log id of another origin",
        "public",
        at("tlogs[1].baseUrl", "https://log2025-2.rekor.sigstore.dev"),
        "tlogs[1].logId.keyId: does not identify this log's key (expected SHA-256 of the key's DER "
        "SubjectPublicKeyInfo, ",
    ),
    (
        "duplicate log",
        "public",
        lambda d: d["tlogs"].append(copy.deepcopy(d["tlogs"][0])),
        "tlogs[2].logId.keyId: is also tlogs[0]'s",
    ),
    (
        "curve mismatch",
        "public",
        at("tlogs[0].publicKey.keyDetails", "PKIX_ECDSA_P384_SHA_384"),
        "tlogs[0].publicKey.keyDetails: PKIX_ECDSA_P384_SHA_384 but publicKey.rawBytes is an ecdsa P256 key",
    ),
    (
        "ed25519 declared for ecdsa",
        "public",
        at("ctlogs[1].publicKey.keyDetails", "PKIX_ED25519"),
        "ctlogs[1].publicKey.keyDetails: PKIX_ED25519 but publicKey.rawBytes is an ecdsa P256 key",
    ),
    (
        "ecdsa declared for ed25519",
        "public",
        at("tlogs[1].publicKey.keyDetails", "PKIX_ECDSA_P256_SHA_256"),
        "tlogs[1].publicKey.keyDetails: PKIX_ECDSA_P256_SHA_256 but publicKey.rawBytes is an ed25519 key",
    ),
    (
        "rsa size mismatch",
        "staging",
        at("ctlogs[0].publicKey.keyDetails", "PKIX_RSA_PKCS1V15_2048_SHA256"),
        "ctlogs[0].publicKey.rawBytes: is not in the one DER form of its key",
    ),
    (
        "pkcs1 declared as spki",
        "staging",
        at("ctlogs[0].publicKey.keyDetails", "PKIX_RSA_PKCS1V5"),
        "ctlogs[0].publicKey.rawBytes: is not in the one DER form of its key",
    ),
    (
        "spki declared as pkcs1",
        "public",
        at("tlogs[0].publicKey.keyDetails", "PKCS1_RSA_PKCS1V5"),
        "tlogs[0].publicKey.rawBytes: is not an RSA key (keyDetails PKCS1_RSA_PKCS1V5)",
    ),
    (
        "not a key",
        "public",
        at("tlogs[0].publicKey.rawBytes", b64(b"not a key")),
        "tlogs[0].publicKey.rawBytes: is not a DER SubjectPublicKeyInfo (keyDetails PKIX_ECDSA_P256_SHA_256)",
    ),
    ("no key", "public", lambda d: d["tlogs"][0]["publicKey"].pop("rawBytes"), "tlogs[0].publicKey.rawBytes: missing"),
    (
        "unverifiable key type",
        "public",
        at("tlogs[0].publicKey.keyDetails", "ML_DSA_65"),
        "tlogs[0].publicKey.keyDetails: ML_DSA_65 is not a key type Sigstore's clients verify",
    ),
    (
        "rekor url with a path",
        "public",
        at("tlogs[0].baseUrl", "https://rekor.sigstore.dev/api/v1"),
        "tlogs[0].baseUrl: https://rekor.sigstore.dev/api/v1: a Rekor URL is the log's base",
    ),
    (
        "rekor url trailing slash",
        "public",
        at("tlogs[0].baseUrl", "https://rekor.sigstore.dev/"),
        "tlogs[0].baseUrl: https://rekor.sigstore.dev/: a Rekor URL is the log's base, without /api/...",
    ),
    (
        "plain http",
        "public",
        at("tlogs[0].baseUrl", "http://rekor.sigstore.dev"),
        "tlogs[0].baseUrl: http://rekor.sigstore.dev is not https",
    ),
    (
        "url with a query",
        "public",
        at("ctlogs[1].baseUrl", "https://ctfe.sigstore.dev/2022?x=1"),
        "ctlogs[1].baseUrl: https://ctfe.sigstore.dev/2022?x=1 carries a user, query or fragment",
    ),
    (
        "url with a user",
        "public",
        at("ctlogs[1].baseUrl", "https://me@ctfe.sigstore.dev/2022"),
        "ctlogs[1].baseUrl: https://me@ctfe.sigstore.dev/2022 carries a user",
    ),
    (
        "url with a space",
        "public",
        at("ctlogs[1].baseUrl", "https://ctfe.sigstore.dev/20 22"),
        "ctlogs[1].baseUrl: https://ctfe.sigstore.dev/20 22 is not a URL",
    ),
    (
        "url without host",
        "public",
        at("ctlogs[1].baseUrl", "https:///2022"),
        "ctlogs[1].baseUrl: https:///2022 has no host",
    ),
    (
        "fulcio uri with a path",
        "public",
        at("certificateAuthorities[1].uri", "https://fulcio.sigstore.dev/api/v2"),
        "certificateAuthorities[1].uri: https://fulcio.sigstore.dev/api/v2: a Fulcio URL is a host root",
    ),
    (
        "tsa uri at a host root",
        "public",
        at("timestampAuthorities[0].uri", "https://timestamp.sigstore.dev"),
        "timestampAuthorities[0].uri: https://timestamp.sigstore.dev: a TSA URL is its full endpoint",
    ),
    (
        "chain root first",
        "public",
        _reverse_chain,
        "certificateAuthorities[1].certChain.certificates[0]: is not signed by certificates[1] (the chain goes leaf first, root last)",
    ),
    (
        "chain without its root",
        "public",
        _drop_root,
        "certificateAuthorities[1].certChain.certificates[0]: is not a self-signed root",
    ),
    (
        "not a certificate",
        "public",
        at("certificateAuthorities[1].certChain.certificates[0].rawBytes", b64(b"junk")),
        "certificateAuthorities[1].certChain.certificates[0].rawBytes: is not a DER X.509 certificate",
    ),
    (
        "empty chain",
        "public",
        at("certificateAuthorities[1].certChain.certificates", []),
        "certificateAuthorities[1].certChain.certificates: is empty",
    ),
    (
        "tsa chain as a fulcio ca",
        "public",
        _swap_chain("timestampAuthorities", 0, "certificateAuthorities", 1),
        "certificateAuthorities[1].certChain.certificates[0]: is not a CA certificate",
    ),
    (
        "fulcio chain as a tsa",
        "public",
        _swap_chain("certificateAuthorities", 1, "timestampAuthorities", 0),
        "timestampAuthorities[0].certChain.certificates[0]: the TSA's signing certificate does not list the timeStamping",
    ),
    (
        "trusted before its certificates",
        "public",
        at("certificateAuthorities[1].validFor.start", "2020-01-01T00:00:00Z"),
        "certificateAuthorities[1].validFor.start: 2020-01-01T00:00:00Z is before its root certificate is valid (2021-10-07T13:56:59Z)",
    ),
    (
        "tsa trusted before its certificates",
        "public",
        at("timestampAuthorities[0].validFor.start", "2025-01-01T00:00:00Z"),
        "timestampAuthorities[0].validFor.start: 2025-01-01T00:00:00Z is before its root certificate is valid",
    ),
    (
        "end before start",
        "public",
        at("tlogs[0].publicKey.validFor.end", "2020-01-01T00:00:00Z"),
        "tlogs[0].publicKey.validFor.end: 2020-01-01T00:00:00Z is not after validFor.start 2021-01-12T11:53:27Z",
    ),
    (
        "newest ca ended",
        "public",
        at("certificateAuthorities[1].validFor.end", "2025-01-01T00:00:00Z"),
        "certificateAuthorities: none is valid now (2026-12-01T00:00:00Z); the newest, [1], ended 2025-01-01T00:00:00Z",
    ),
    (
        "newest tsa ended",
        "public",
        at("timestampAuthorities[0].validFor.end", "2026-01-01T00:00:00Z"),
        "timestampAuthorities: none is valid now (2026-12-01T00:00:00Z); the newest, [0], ended 2026-01-01T00:00:00Z",
    ),
    (
        "no rekor valid now",
        "public",
        lambda d: [set_path(t, "publicKey.validFor.end", "2026-06-01T00:00:00Z") for t in d["tlogs"]],
        "tlogs: none is valid now (2026-12-01T00:00:00Z); the newest, [1], ended 2026-06-01T00:00:00Z",
    ),
    (
        "ct log not yet valid",
        "public",
        lambda d: [set_path(t, "publicKey.validFor", {"start": "2027-01-01T00:00:00Z"}) for t in d["ctlogs"]],
        "ctlogs: none is valid now (2026-12-01T00:00:00Z); the newest, [0], starts 2027-01-01T00:00:00Z",
    ),
    ("no rekor", "public", at("tlogs", []), "tlogs: is empty"),
    (
        "nested too deep",
        "public",
        at("tlogs[0].logId.x", json.loads("[" * 18 + "1" + "]" * 18)),
        "tlogs[0].logId.x[0][0][0][0][0][0][0][0][0][0][0][0][0]: nested more than 16 deep",
    ),
    (
        "time out of range",
        "public",
        at("tlogs[0].publicKey.validFor.end", "9999-12-31T23:59:59-01:00"),
        "tlogs[0].publicKey.validFor.end: is out of range in UTC",
    ),
    ("no fulcio", "public", at("certificateAuthorities", []), "certificateAuthorities: is empty"),
]


def _retired_ca_again(doc: dict[str, Any]) -> None:
    """The reviewer's case: CA 0 (retired 2022) listed again first, open-ended: sigstore-js would trust it again."""
    doc["certificateAuthorities"].insert(
        0, {**copy.deepcopy(doc["certificateAuthorities"][0]), "validFor": {"start": "2021-03-07T03:20:29Z"}}
    )


TRUSTED_ROOT_CASES += [
    (
        "a ca listed twice",
        "public",
        _retired_ca_again,
        "certificateAuthorities[1].certChain: is also certificateAuthorities[0]'s",
    ),
    (
        "a tsa listed twice",
        "public",
        lambda d: d["timestampAuthorities"].append(copy.deepcopy(d["timestampAuthorities"][0])),
        "timestampAuthorities[1].certChain: is also timestampAuthorities[0]'s",
    ),
]


@pytest.mark.parametrize(
    ("instance", "change", "expected"), [c[1:] for c in TRUSTED_ROOT_CASES], ids=[c[0] for c in TRUSTED_ROOT_CASES]
)
def test_each_check_refuses_a_broken_trusted_root_in_one_line(instance: str, change: Mutation, expected: str) -> None:
    doc = mutated(instance, TR, change)
    message = refusal(lambda: sigstore.check_trusted_root(enc(doc), NOW))
    assert message.startswith(f"{TR}: {expected}"), message


def test_the_input_value_is_never_echoed_raw() -> None:
    doc = mutated("public", TR, at("tlogs[0].hashAlgorithm", "\x1b]0;pwned\x07SHA2_256"))
    message = refusal(lambda: sigstore.check_trusted_root(enc(doc), NOW))
    assert message.startswith(f"{TR}: tlogs[0].hashAlgorithm: Input should be") and "pwned" not in message


def test_a_field_path_made_of_the_files_own_keys_is_shown_inert() -> None:
    doc = mutated("public", TR, at("tlogs[0].logId", {"\x1b[2J": {"keyId": "!!"}}))
    message = refusal(lambda: sigstore.check_trusted_root(enc(doc), NOW))
    assert message == f"{TR}: tlogs[0].logId.\\x1b[2J.keyId: is not standard base64 (padded, A-Z a-z 0-9 + / only)"


def test_not_json_and_too_large_are_one_line() -> None:
    assert refusal(lambda: sigstore.check_trusted_root(b"[1]", NOW)) == f"{TR}: is not a JSON object"
    dup = b'{"mediaType": "a", "mediaType": "b"}'
    assert "duplicate" in refusal(lambda: sigstore.check_trusted_root(dup, NOW))
    big = b" " * (sigstore.MAX_TRUST_FILE_BYTES + 1)
    assert "is above" in refusal(lambda: sigstore.check_trusted_root(big, NOW))


def test_every_ca_expired_is_refused_when_judged_later() -> None:
    data = (VECTORS / "public" / TR).read_bytes()
    message = refusal(lambda: sigstore.check_trusted_root(data, datetime(2032, 1, 1, tzinfo=UTC)))
    assert message.startswith(f"{TR}: certificateAuthorities: none is valid now (2032-01-01T00:00:00Z)"), message


@pytest.mark.parametrize("instance", ["public", "staging"])
def test_sigstores_real_files_pass(instance: str) -> None:
    root, warnings = sigstore.check_trusted_root((VECTORS / instance / TR).read_bytes(), NOW)
    _config, more = sigstore.check_signing_config((VECTORS / instance / SC).read_bytes(), NOW, root)
    assert (warnings, more) == ([], [])


@pytest.mark.parametrize(
    ("instance", "index", "rule"),
    [
        ("public", 0, "SHA-256 of the key's SubjectPublicKeyInfo"),
        ("public", 1, "the signed-note key id of origin log2025-1.rekor.sigstore.dev"),
        ("staging", 3, "the signed-note key id of origin log2025-alpha3.rekor.sigstage.dev"),
    ],
)
def test_log_ids_of_both_kinds_are_recognised(instance: str, index: int, rule: str) -> None:
    root, _warnings = sigstore.check_trusted_root((VECTORS / instance / TR).read_bytes(), NOW)
    assert sigstore._check_log(TR, "tlogs", root.tlogs[index], "Rekor", []) == rule


def test_the_staging_rsa_pkcs1_ct_log_id_is_over_its_spki() -> None:
    root, _warnings = sigstore.check_trusted_root((VECTORS / "staging" / TR).read_bytes(), NOW)
    assert root.ctlogs[0].public_key.key_details.value == "PKCS1_RSA_PKCS1V5"
    assert sigstore._check_log(TR, "ctlogs", root.ctlogs[0], "CT", []) == "SHA-256 of the key's SubjectPublicKeyInfo"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            at("tlogs[0].baseUrl", "http://127.0.0.1:3000"),
            f"{TR}: tlogs[0].baseUrl: http://127.0.0.1:3000 is plain http to this machine: for a lab only",
        ),
        (at("tlogs[0].baseUrl", "http://localhost"), f"{TR}: tlogs[0].baseUrl: http://localhost is plain http"),
        (
            at("certificateAuthorities[1].validFor.end", "2026-12-31T00:00:00Z"),
            f"{TR}: certificateAuthorities[1]: ends 2026-12-31T00:00:00Z, in 30 days, and nothing valid now lasts longer",
        ),
        (
            at("certificateAuthorities[0].validFor.end", "2040-01-01T00:00:00Z"),
            f"{TR}: certificateAuthorities[0].validFor.end: 2040-01-01T00:00:00Z is after certificates[0] ends "
            "(2031-02-23T03:20:29Z); clients trust the chain only until then",
        ),
    ],
    ids=["loopback http", "localhost http", "newest ca ends soon", "trusted after its certificates"],
)
def test_warnings(change: Mutation, expected: str) -> None:
    _root, warnings = sigstore.check_trusted_root(enc(mutated("public", TR, change)), NOW)
    assert len(warnings) == 1 and warnings[0].startswith(expected), warnings


SIGNING_CONFIG_CASES: list[tuple[str, Mutation, str]] = [
    (
        "v0.1 media type",
        at("mediaType", "application/vnd.dev.sigstore.signingconfig.v0.1+json"),
        "mediaType: application/vnd.dev.sigstore.signingconfig.v0.1+json is not "
        "application/vnd.dev.sigstore.signingconfig.v0.2+json (the v0.1 format: sigstore-python 4.x refuses it",
    ),
    (
        "trusted root media type",
        at("mediaType", sigstore.TRUSTED_ROOT_MEDIA_TYPE),
        "mediaType: application/vnd.dev.sigstore.trustedroot+json;version=0.1 is not",
    ),
    ("unknown field", at("caUrls[0].bogus", True), "caUrls[0].bogus: Extra inputs are not permitted"),
    (
        "version as a string",
        at("rekorTlogUrls[0].majorApiVersion", "1"),
        "rekorTlogUrls[0].majorApiVersion: Input should be a valid integer",
    ),
    ("no operator", lambda d: d["caUrls"][0].pop("operator"), "caUrls[0].operator: Field required"),
    ("bogus selector", at("rekorTlogConfig.selector", "SOME"), "rekorTlogConfig.selector: Input should be"),
    (
        "no rekor valid now",
        at("rekorTlogUrls[0].validFor.end", "2025-01-01T00:00:00Z"),
        "rekorTlogUrls: no Rekor (majorApiVersion 1 or 2) is valid now; sigstore-python refuses this",
    ),
    (
        "rekor api v3 only",
        at("rekorTlogUrls[0].majorApiVersion", 3),
        "rekorTlogUrls: no Rekor (majorApiVersion 1 or 2) is valid now",
    ),
    ("rekor not yet valid", at("rekorTlogUrls[0].validFor.start", "2027-01-01T00:00:00Z"), "rekorTlogUrls: no Rekor"),
    ("no fulcio", at("caUrls", []), "caUrls: no Fulcio (majorApiVersion 1) is valid now; sigstore-python refuses this"),
    ("fulcio api v2", at("caUrls[0].majorApiVersion", 2), "caUrls: no Fulcio"),
    (
        "fulcio url with a path",
        at("caUrls[0].url", "https://fulcio.sigstore.dev/api/v2"),
        "caUrls[0].url: https://fulcio.sigstore.dev/api/v2: a Fulcio URL is a host root",
    ),
    (
        "rekor url with a path",
        at("rekorTlogUrls[0].url", "https://rekor.sigstore.dev/api/v1/log"),
        "rekorTlogUrls[0].url: https://rekor.sigstore.dev/api/v1/log: a Rekor URL is the log's base, without "
        "/api/... or a trailing slash",
    ),
    (
        "rekor url with a trailing slash",
        at("rekorTlogUrls[0].url", "https://rekor.sigstore.dev/prefix/"),
        "rekorTlogUrls[0].url: https://rekor.sigstore.dev/prefix/: a Rekor URL is the log's base",
    ),
    (
        "tsa url at a host root",
        at("tsaUrls[0].url", "https://timestamp.sigstore.dev/"),
        "tsaUrls[0].url: https://timestamp.sigstore.dev/: a TSA URL is its full endpoint",
    ),
    (
        "oidc over http",
        at("oidcUrls[0].url", "http://oauth2.sigstore.dev/auth"),
        "oidcUrls[0].url: http://oauth2.sigstore.dev/auth is not https",
    ),
    (
        "end before start",
        at("caUrls[0].validFor.end", "2022-01-01T00:00:00Z"),
        "caUrls[0].validFor.end: 2022-01-01T00:00:00Z is not after validFor.start 2022-04-13T20:06:15Z",
    ),
    (
        "exact count above the operators",
        at("rekorTlogConfig", {"selector": "EXACT", "count": 2}),
        "rekorTlogConfig.count: EXACT 2 but only 1 operator(s) have a rekorTlogUrls service valid now",
    ),
    (
        "a service listed twice",
        lambda d: d["rekorTlogUrls"].append(
            {**copy.deepcopy(d["rekorTlogUrls"][0]), "url": "https://REKOR.sigstore.dev"}
        ),
        "rekorTlogUrls[1].url: is also rekorTlogUrls[0]'s, with the same majorApiVersion",
    ),
    (
        "exact tsa without a tsa",
        lambda d: d.update(tsaUrls=[], tsaConfig={"selector": "EXACT", "count": 1}),
        "tsaConfig.count: EXACT 1 but only 0 operator(s)",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in SIGNING_CONFIG_CASES], ids=[c[0] for c in SIGNING_CONFIG_CASES]
)
def test_each_check_refuses_a_broken_signing_config_in_one_line(change: Mutation, expected: str) -> None:
    doc = mutated("public", SC, change)
    message = refusal(lambda: sigstore.check_signing_config(enc(doc), NOW))
    assert message.startswith(f"{SC}: {expected}"), message


def test_signing_config_warnings() -> None:
    public_root, _w = sigstore.check_trusted_root((VECTORS / "public" / TR).read_bytes(), NOW)
    _config, warnings = sigstore.check_signing_config((VECTORS / "staging" / SC).read_bytes(), NOW, public_root)
    assert warnings == [
        f"{SC}: caUrls: https://fulcio.sigstage.dev is not in the trusted root; what clients sign with it will not verify",
        f"{SC}: rekorTlogUrls: https://log2025-alpha3.rekor.sigstage.dev is not in the trusted root; what clients sign with it will not verify",
        f"{SC}: rekorTlogUrls: https://rekor.sigstage.dev is not in the trusted root; what clients sign with it will not verify",
        f"{SC}: tsaUrls: https://timestamp.sigstage.dev/api/v1/timestamp is not in the trusted root; what clients sign with it will not verify",
    ]
    doc = mutated(
        "public",
        SC,
        lambda d: (d["oidcUrls"][0].pop("validFor"), d["tsaUrls"].append({**d["tsaUrls"][0], "majorApiVersion": 2})),
    )
    _config, warnings = sigstore.check_signing_config(enc(doc), NOW)
    assert warnings == [
        f"{SC}: oidcUrls[0].validFor: missing (the spec requires it; clients take it as always)",
        f"{SC}: tsaUrls[1].majorApiVersion: 2 is not one sigstore-python 4.x uses; it skips this service",
    ]


# --- What changed: the review's first lines -----------------------------------------------------------------------


def parsed(doc: dict[str, Any]) -> Any:
    return sigstore.check_trusted_root(enc(doc), NOW)[0]


def parsed_config(doc: dict[str, Any]) -> Any:
    return sigstore.check_signing_config(enc(doc), NOW)[0]


def test_no_change_no_lines() -> None:
    root, config = parsed(real("public", TR)), parsed_config(real("public", SC))
    assert sigstore.trust_changes(root, root, config, config) == []


def test_a_new_fulcio_certificate() -> None:
    def add_staging_ca(doc: dict[str, Any]) -> None:
        doc["certificateAuthorities"].append(real("staging", TR)["certificateAuthorities"][0])

    lines = sigstore.trust_changes(
        parsed(real("public", TR)), parsed(mutated("public", TR, add_staging_ca)), None, None
    )
    assert lines == [
        "trust root: new Fulcio CA sigstore (CN=sigstore-intermediate,O=sigstore.dev, sha256 66e08b3881fc3111, "
        "certificate 2022-04-14T21:38:40Z..2032-03-22T16:50:45Z, trusted 2022-04-14T21:38:40Z..open)"
    ]
    assert sigstore.trust_changes(
        parsed(mutated("public", TR, add_staging_ca)), parsed(real("public", TR)), None, None
    ) == [lines[0].replace("trust root: new", "trust root: removed")]


def test_a_rekor_keys_end_of_validity_set_then_changed() -> None:
    old = parsed(real("public", TR))
    ended = parsed(mutated("public", TR, at("tlogs[0].publicKey.validFor.end", "2027-06-01T00:00:00Z")))
    assert sigstore.trust_changes(old, ended, None, None) == [
        "trust root: Rekor key https://rekor.sigstore.dev: validFor end set to 2027-06-01T00:00:00Z"
    ]
    later = parsed(mutated("public", TR, at("tlogs[0].publicKey.validFor.end", "2027-09-01T00:00:00Z")))
    assert sigstore.trust_changes(ended, later, None, None) == [
        "trust root: Rekor key https://rekor.sigstore.dev: validFor end changed from 2027-06-01T00:00:00Z to "
        "2027-09-01T00:00:00Z"
    ]


def test_a_ca_end_set_a_log_removed_and_a_tsa_replaced() -> None:
    def change(doc: dict[str, Any]) -> None:
        set_path(doc, "certificateAuthorities[1].validFor.end", "2030-01-01T00:00:00Z")
        del doc["tlogs"][1]
        doc["timestampAuthorities"] = real("staging", TR)["timestampAuthorities"]
        doc["timestampAuthorities"][0]["uri"] = "https://timestamp.sigstore.dev/api/v1/timestamp"

    lines = sigstore.trust_changes(parsed(real("public", TR)), parsed(mutated("public", TR, change)), None, None)
    assert lines == [
        "trust root: Fulcio CA sigstore (15d795348226b464): validFor end set to 2030-01-01T00:00:00Z (sigstore-js "
        "applies it; sigstore-python 4.x ignores a CA's or TSA's end)",
        "trust root: removed Rekor key https://log2025-1.rekor.sigstore.dev (log id zxGZFVvd0FEmjR8W, PKIX_ED25519, "
        "valid 2025-09-23T00:00:00Z..open)",
        "trust root: new TSA sigstore-tsa-selfsigned (CN=sigstore-tsa,O=sigstore.dev, sha256 06f4ffe047feb359, "
        "certificate 2025-03-28T09:14:06Z..2035-03-26T08:14:06Z, trusted 2025-04-09T00:00:00Z..open)",
        "trust root: removed TSA sigstore-tsa-selfsigned (CN=sigstore-tsa,O=sigstore.dev, sha256 85f927bc07ab62ca, "
        "certificate 2025-04-08T06:59:43Z..2035-04-06T06:59:43Z, trusted 2025-07-04T00:00:00Z..open)",
    ]


def test_a_previous_file_that_no_longer_parses_is_still_compared() -> None:
    old = parsed(real("public", TR))
    old.certificate_authorities[0].cert_chain.certificates[0].raw_bytes = b"junk"
    lines = sigstore.trust_changes(old, parsed(real("public", TR)), None, None)
    assert "trust root: removed Fulcio CA sigstore (no certificate that parses)" in lines


def test_signing_config_service_changes() -> None:
    root = parsed(real("public", TR))
    old = parsed_config(real("public", SC))

    def change(doc: dict[str, Any]) -> None:
        doc["rekorTlogUrls"].insert(
            0,
            {
                **copy.deepcopy(doc["rekorTlogUrls"][0]),
                "url": "https://log2025-1.rekor.sigstore.dev",
                "majorApiVersion": 2,
            },
        )
        set_path(doc, "rekorTlogUrls[1].validFor.end", "2027-01-01T00:00:00Z")
        doc["tsaUrls"] = []
        doc["rekorTlogConfig"] = {"selector": "ALL"}

    new = parsed_config(mutated("public", SC, change))
    assert sigstore.trust_changes(root, root, old, new) == [
        "signing config: new rekorTlogUrls https://log2025-1.rekor.sigstore.dev (v2), valid 2021-01-12T11:53:27Z..open",
        "signing config: rekorTlogUrls https://rekor.sigstore.dev (v1): validFor end set to 2027-01-01T00:00:00Z",
        "signing config: removed tsaUrls https://timestamp.sigstore.dev/api/v1/timestamp (v1)",
        "signing config: rekorTlogConfig is now {'selector': 'ALL'}",
    ]


def test_a_first_trust_root_is_read_whole_and_the_lines_are_bounded() -> None:
    lines = sigstore.trust_changes(None, parsed(real("staging", TR)), None, parsed_config(real("staging", SC)))
    assert len(lines) == 17 and all(line.startswith(("trust root: new", "signing config: new")) for line in lines)

    def many(doc: dict[str, Any]) -> None:
        for day in range(1, 40):
            extra = copy.deepcopy(doc["rekorTlogUrls"][0])
            extra["url"] = f"https://rekor{day}.sigstore.dev"
            extra["validFor"] = {"start": (NOW - timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")}
            doc["rekorTlogUrls"].append(extra)

    lines = sigstore.trust_changes(None, parsed(real("public", TR)), None, parsed_config(mutated("public", SC, many)))
    assert len(lines) == sigstore.MAX_DIFF_LINES and lines[-1] == "... and 21 more trust changes"


def test_a_published_file_listing_an_entry_twice_is_compared_copy_by_copy() -> None:
    """The published file came from elsewhere and may list a CA twice: no copy is lost from the diff."""
    twice = sigstore._schema("TrustedRoot").model_validate_json(enc(mutated("public", TR, _retired_ca_again)))
    once = parsed(real("public", TR))
    assert sigstore.trust_changes(once, twice, None, None) == [
        "trust root: Fulcio CA sigstore (03a38ffb1f450100): listed 2 time(s), was 1",
        "trust root: Fulcio CA sigstore (03a38ffb1f450100): validFor end changed from 2022-12-31T23:59:59Z to open "
        "(sigstore-js applies it; sigstore-python 4.x ignores a CA's or TSA's end)",
    ]
    assert sigstore.trust_changes(twice, once, None, None)[0].endswith("listed 1 time(s), was 2")


# --- A private instance, built here ----------------------------------------------------------------------------
#
# Sigstore's own files cannot show what a private instance looks like: a self-signed Fulcio root alone, a
# TSA, Rekor v2 only, RSA log keys, or what `cosign trusted-root create` writes. These are built with
# cryptography, from fixed times around NOW, one key per purpose per test session.

CERT_START = NOW - timedelta(days=30)
WINDOW_START = "2026-11-01T00:00:00Z"  # CERT_START's day: every validFor below starts there


@functools.cache
def key(purpose: str, kind: str = "ec") -> Any:
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "ed":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(65537, 2048)


def spki(private: Any) -> bytes:
    return bytes(
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def x509_name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "example"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def certificate(
    subject: str,
    private: Any,
    issuer: tuple[str, Any] | None = None,
    *,
    ca: bool = True,
    eku: x509.ObjectIdentifier | None = None,
    not_before: datetime = CERT_START,
    days: int = 3650,
) -> str:
    """A base64 DER certificate: self-signed unless ``issuer`` (its name and key) is given."""
    issuer_name, issuer_key = issuer or (subject, private)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509_name(subject))
        .issuer_name(x509_name(issuer_name))
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return b64(builder.sign(issuer_key, digest).public_bytes(serialization.Encoding.DER))


def log(url: str, private: Any, details: str, key_id: bytes) -> dict[str, Any]:
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": b64(spki(private)), "keyDetails": details, "validFor": {"start": WINDOW_START}},
        "logId": {"keyId": b64(key_id)},
    }


def note_id(origin: str, private: Any) -> bytes:
    """The C2SP signed-note key id rekor-tiles gives an Ed25519 log: SHA-256(origin, newline, 0x01, raw key)."""
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()


def rsa_note_id(origin: str, private: Any) -> bytes:
    """rekor-tiles' id for an RSA log: SHA-256(origin, newline, 0xff, "PKIX-RSA-PKCS#1v1.5", DER SPKI)."""
    return hashlib.sha256(origin.encode() + b"\n\xff" + b"PKIX-RSA-PKCS#1v1.5" + spki(private)).digest()


REKOR_V2 = "https://log2026-1.rekor.example.com"
TSA_URL = "https://timestamp.example.com/api/v1/timestamp"


def private_root() -> dict[str, Any]:
    """A private instance: a self-signed Fulcio root alone, one CT log, one TSA (leaf and root), Rekor v2 only.

    The same file on every call (its certificates are made once): two calls compare as no change.
    """
    return dict(json.loads(_private_root_json()))


@functools.cache
def _private_root_json() -> str:
    rekor, ct = key("rekor", "ed"), key("ct")
    tsa_root, tsa_leaf = key("tsa-root"), key("tsa-leaf")
    leaf = certificate("tsa", tsa_leaf, ("tsa-root", tsa_root), ca=False, eku=ExtendedKeyUsageOID.TIME_STAMPING)
    return json.dumps(
        {
            "mediaType": sigstore.TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [log(REKOR_V2, rekor, "PKIX_ED25519", note_id("log2026-1.rekor.example.com", rekor))],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "example", "commonName": "fulcio"},
                    "uri": "https://fulcio.example.com",
                    "certChain": {"certificates": [{"rawBytes": certificate("fulcio-root", key("fulcio"))}]},
                    "validFor": {"start": WINDOW_START},
                }
            ],
            "ctlogs": [
                log("https://ctfe.example.com/2026", ct, "PKIX_ECDSA_P256_SHA_256", hashlib.sha256(spki(ct)).digest())
            ],
            "timestampAuthorities": [
                {
                    "subject": {"organization": "example", "commonName": "tsa"},
                    "uri": TSA_URL,
                    "certChain": {
                        "certificates": [{"rawBytes": leaf}, {"rawBytes": certificate("tsa-root", tsa_root)}]
                    },
                    "validFor": {"start": WINDOW_START},
                }
            ],
        }
    )


def private_config() -> dict[str, Any]:
    """Its signing config: Fulcio v1, Rekor v2 and the TSA, one operator."""

    def service(url: str, version: int) -> dict[str, Any]:
        return {"url": url, "majorApiVersion": version, "validFor": {"start": WINDOW_START}, "operator": "example.com"}

    return {
        "mediaType": sigstore.SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [service("https://fulcio.example.com", 1)],
        "oidcUrls": [service("https://oauth2.example.com/auth", 1)],
        "rekorTlogUrls": [service(REKOR_V2, 2)],
        "tsaUrls": [service(TSA_URL, 1)],
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    }


def check_private(change: Mutation = lambda d: None, config_change: Mutation = lambda d: None) -> list[str]:
    """The warnings for the private instance changed by ``change`` (and its signing config by ``config_change``)."""
    doc, config = private_root(), private_config()
    change(doc)
    config_change(config)
    root, warnings = sigstore.check_trusted_root(enc(doc), NOW)
    return warnings + sigstore.check_signing_config(enc(config), NOW, root)[1]


def test_a_private_instance_with_a_lone_fulcio_root_a_tsa_and_rekor_v2_passes() -> None:
    assert check_private() == []


def _cosign_style(doc: dict[str, Any]) -> None:
    """What cosign trusted-root create writes: root and a newer intermediate, trusted from the root's notBefore."""
    root_key, intermediate_key = key("cosign-root"), key("cosign-intermediate")
    intermediate = certificate(
        "fulcio-intermediate", intermediate_key, ("fulcio-root", root_key), not_before=CERT_START + timedelta(days=2)
    )
    doc["certificateAuthorities"][0]["certChain"]["certificates"] = [
        {"rawBytes": intermediate},
        {"rawBytes": certificate("fulcio-root", root_key)},
    ]


def _rsa_rekor_v2(doc: dict[str, Any]) -> None:
    rekor = key("rekor-rsa", "rsa")
    doc["tlogs"] = [
        log(REKOR_V2, rekor, "PKIX_RSA_PKCS1V15_2048_SHA256", rsa_note_id("log2026-1.rekor.example.com", rekor))
    ]


def _ct_log_with_a_note_id(doc: dict[str, Any]) -> None:
    ct = key("ct-ed", "ed")
    doc["ctlogs"] = [log("https://ctfe.example.com/2026", ct, "PKIX_ED25519", note_id("ctfe.example.com", ct))]


def test_a_cosign_built_chain_and_an_rsa_rekor_v2_pass() -> None:
    assert check_private(_cosign_style) == []
    assert check_private(_rsa_rekor_v2) == []
    root, _warnings = sigstore.check_trusted_root(enc(mutated_private(_rsa_rekor_v2)), NOW)
    rule = sigstore._check_log(TR, "tlogs[0]", root.tlogs[0], "Rekor", [])
    assert rule == "the signed-note key id of origin log2026-1.rekor.example.com"


def mutated_private(change: Mutation) -> dict[str, Any]:
    doc = private_root()
    change(doc)
    return doc


def test_a_ct_log_id_is_the_spki_hash_only() -> None:
    message = refusal(lambda: sigstore.check_trusted_root(enc(mutated_private(_ct_log_with_a_note_id)), NOW))
    assert message.startswith(f"{TR}: ctlogs[0].logId.keyId: does not identify this log's key (expected SHA-256 of "), (
        message
    )
    assert "signed-note" not in message


def _no_tsa(doc: dict[str, Any]) -> None:
    doc["timestampAuthorities"] = []


def _one_certificate_tsa(doc: dict[str, Any]) -> None:
    lone = certificate("tsa", key("tsa-lone"), ca=False, eku=ExtendedKeyUsageOID.TIME_STAMPING)
    doc["timestampAuthorities"][0]["certChain"]["certificates"] = [{"rawBytes": lone}]


def _ca_as_tsa_leaf(doc: dict[str, Any]) -> None:
    root_key, leaf_key = key("tsa-root"), key("tsa-ca-leaf")
    leaf = certificate("tsa", leaf_key, ("tsa-root", root_key), ca=True, eku=ExtendedKeyUsageOID.TIME_STAMPING)
    doc["timestampAuthorities"][0]["certChain"]["certificates"][0] = {"rawBytes": leaf}


@pytest.mark.parametrize(
    ("change", "config_change", "expected"),
    [
        (
            _no_tsa,
            lambda c: None,
            f"{TR}: timestampAuthorities: is empty, and every Rekor log here is a v2 log (signed-note log id), whose "
            "entries carry no time: nothing would verify without a TSA's timestamp (sigstore-python 4.x: "
            "'not enough sources of verified time')",
        ),
        (
            lambda d: None,
            lambda c: c.update(tsaUrls=[]) or c.pop("tsaConfig"),
            f"{SC}: tsaUrls: no TSA (majorApiVersion 1) is valid now, and every Rekor valid now is v2",
        ),
        (
            lambda d: d.update(ctlogs=[]),
            lambda c: None,
            f"{TR}: ctlogs: is empty: sigstore-python 4.x refuses every signature (it checks each Fulcio "
            "certificate's SCT against these logs), as cosign and sigstore-js do unless told to skip SCTs",
        ),
        (
            _one_certificate_tsa,
            lambda c: None,
            f"{TR}: timestampAuthorities[0].certChain.certificates: has one certificate: a TSA chain is its signing "
            "certificate, then its root (sigstore-python 4.x skips a shorter chain, cosign refuses it)",
        ),
        (
            _ca_as_tsa_leaf,
            lambda c: None,
            f"{TR}: timestampAuthorities[0].certChain.certificates[0]: the TSA's signing certificate is a CA certificate",
        ),
        (
            lambda d: None,
            at("rekorTlogConfig", {"selector": "EXACT", "count": -1}),
            f"{SC}: rekorTlogConfig.count: EXACT -1: the number of services to sign with must be at least 1",
        ),
    ],
    ids=[
        "rekor v2 and no tsa",
        "rekor v2 and no tsa service",
        "no ct log",
        "one-certificate tsa",
        "ca as tsa leaf",
        "exact -1",
    ],
)
def test_what_sigstore_python_cannot_use_is_refused(change: Mutation, config_change: Mutation, expected: str) -> None:
    message = refusal(lambda: check_private(change, config_change))
    assert message.startswith(expected), message


def _p384_sha256_rekor(doc: dict[str, Any]) -> None:
    rekor = key("rekor-p384", "p384")
    doc["tlogs"].append(
        log("https://rekor.example.com", rekor, "PKIX_ECDSA_P384_SHA_256", hashlib.sha256(spki(rekor)).digest())
    )


def _ed25519_fulcio(doc: dict[str, Any]) -> None:
    doc["certificateAuthorities"][0]["certChain"]["certificates"] = [
        {"rawBytes": certificate("fulcio-root", key("fulcio-ed", "ed"))}
    ]


def test_what_only_sigstore_python_cannot_use_is_a_warning_naming_it() -> None:
    assert check_private(_p384_sha256_rekor) == [
        f"{TR}: tlogs[1].publicKey.keyDetails: PKIX_ECDSA_P384_SHA_256: sigstore-python 4.x cannot load this key "
        "type and skips this log ('unsupported key type'); other clients may still use it"
    ]
    assert check_private(_ed25519_fulcio) == [
        f"{TR}: certificateAuthorities[0].certChain.certificates[0]: its ed25519 key: sigstore-python 4.x refuses every "
        "certificate this CA issues (its X.509 profile takes RSA of 2048 bits or more and ECDSA P-256, P-384, P-521, "
        "signed with SHA-256, -384 or -512); other clients may accept it"
    ]


def test_a_rekor_url_with_a_path_prefix_is_a_warning() -> None:
    """sigstore-python builds f"{url}/api/v1" and f"{url}/api/v2": a Rekor behind a path prefix works."""
    doc = mutated("public", SC, at("rekorTlogUrls[0].url", "https://sigstore.example.com/rekor"))
    _config, warnings = sigstore.check_signing_config(enc(doc), NOW)
    assert warnings == [
        f"{SC}: rekorTlogUrls[0].url: https://sigstore.example.com/rekor has a path: clients add /api/v1 or /api/v2 "
        "after it; check that the log answers there"
    ]


def test_what_changes_in_an_entry_that_stays_is_shown() -> None:
    """A keyDetails change alone can make sigstore-python skip a Rekor key: every field of a kept entry counts."""

    def change(doc: dict[str, Any]) -> None:
        doc["tlogs"][0]["publicKey"]["keyDetails"] = "PKIX_ED25519_PH"
        doc["tlogs"][0]["checkpointKeyId"] = {"keyId": b64(b"\x01" * 32)}
        doc["tlogs"][0]["operator"] = "\x1b[31mexample.com"
        doc["certificateAuthorities"][0]["uri"] = "https://fulcio2.example.com"
        doc["certificateAuthorities"][0]["operator"] = "example.com"

    old, new = private_root(), private_root()
    change(new)
    config = private_config()
    moved = copy.deepcopy(config)
    moved["caUrls"][0]["operator"] = "other.example"
    lines = sigstore.trust_changes(parsed(old), parsed(new), parsed_config(config), parsed_config(moved))
    assert lines == [
        "trust root: Fulcio CA fulcio (" + lines[0].split("(", 1)[1].split(")", 1)[0] + "): uri changed from "
        "https://fulcio.example.com to https://fulcio2.example.com",
        lines[1],
        f"trust root: Rekor key {REKOR_V2}: keyDetails changed from PKIX_ED25519 to PKIX_ED25519_PH",
        f"trust root: Rekor key {REKOR_V2}: checkpointKeyId changed from unset to AQEBAQEBAQEBAQEB",
        f"trust root: Rekor key {REKOR_V2}: operator changed from unset to \\x1b[31mexample.com",
        "signing config: caUrls https://fulcio.example.com (v1): operator changed from example.com to other.example",
    ]
    assert lines[1].endswith("operator changed from unset to example.com")


def test_warnings_that_only_inform_come_last_and_are_the_ones_cut() -> None:
    """Twelve services of an API version sigstore-python skips never hide a warning that matters."""

    def many(doc: dict[str, Any]) -> None:
        for index in range(sigstore.MAX_WARNINGS + 2):
            doc["oidcUrls"].append({**copy.deepcopy(doc["oidcUrls"][0]), "majorApiVersion": 3 + index})
        doc["caUrls"][0]["url"] = "https://fulcio.other.example"

    _config, warnings = sigstore.check_signing_config(enc(mutated("public", SC, many)), NOW, parsed(real("public", TR)))
    shown = sigstore.bounded_warnings(warnings)
    assert len(shown) == sigstore.MAX_WARNINGS and shown[-1] == "... and 4 more warnings"
    assert shown[0].startswith(f"{SC}: caUrls: https://fulcio.other.example is not in the trusted root"), shown


def _key_for(details: str) -> bytes:
    """A public key of the kind ``details`` names, in the form its rawBytes takes."""
    algorithm, size, pkcs1 = sigstore._KEY_DETAILS[details]
    if algorithm == "ecdsa":
        private = key(f"details-{size}", {"P256": "ec", "P384": "p384", "P521": "p521"}[str(size)])
    elif algorithm == "ed25519":
        private = key("details-ed", "ed")
    else:
        private = key("details-rsa", "rsa")
    if pkcs1:
        return bytes(private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1))
    return spki(private)


def test_the_key_types_said_to_be_skipped_are_the_ones_sigstore_python_skips() -> None:
    """Against sigstore-python 4.5.1 itself: the keyring entry it builds for each log key (``Key``), or refuses."""
    from sigstore._internal.trust import Key
    from sigstore.errors import VerificationError
    from sigstore_models.common.v1 import PublicKey

    loaded = set()
    for details in sigstore._KEY_DETAILS:
        try:
            document = json.dumps({"rawBytes": b64(_key_for(details)), "keyDetails": details})
            Key(PublicKey.model_validate_json(document))
        except VerificationError:
            continue
        loaded.add(details)
    assert loaded == sigstore._SIGSTORE_PYTHON_KEYS


def test_a_wide_or_no_break_space_in_a_name_is_shown_as_an_escape() -> None:
    """U+3000 and U+00A0 look like spaces (or like nothing), yet make another name: the review shows them."""

    def rename(doc: dict[str, Any]) -> None:
        doc["certificateAuthorities"][0]["subject"]["commonName"] = "fulcio\u3000\u00a0root"

    lines = sigstore.trust_changes(None, parsed(mutated_private(rename)), None, None)
    assert lines[0].startswith("trust root: new Fulcio CA fulcio\\u3000\\xa0root (CN=fulcio-root,O=example"), lines


def test_the_keyholders_tool_checks_the_carried_files_too() -> None:
    """A request need not come from a ceremony that ran the checks: the keyholder's tool runs them again."""
    old = (VECTORS / "public" / TR).read_bytes()
    lab = enc(mutated("public", TR, at("tlogs[0].baseUrl", "http://127.0.0.1:3000")))
    lines = sigstore.keyholder_changes({TR: (lab, old, "")}, NOW)
    assert lines == [
        "trust root: Rekor key http://127.0.0.1:3000: base URL was https://rekor.sigstore.dev",
        f"warning: {TR}: tlogs[0].baseUrl: http://127.0.0.1:3000 is plain http to this machine: for a lab only",
    ]
    no_ct = enc(mutated("public", TR, lambda d: d.update(ctlogs=[])))
    lines = sigstore.keyholder_changes({TR: (no_ct, None, "the request's current targets is not signed")}, NOW)
    assert lines[0] == f"trust root: the request's current targets is not signed; {TR} is compared with nothing"
    assert lines[-1].startswith(f"refused by this tool's checks: {TR}: ctlogs: is empty: sigstore-python 4.x refuses")
