"""A private Sigstore instance's trust root: check it as an operator would before keyholders sign, and show what
changed.

Sigstore's clients fetch two TUF targets from the instance's repository: ``trusted_root.json`` (the Fulcio CAs,
Rekor and CT log keys and timestamp authorities they verify against) and ``signing_config.v0.2.json`` (the
services they sign with). sigstore-python and sigstore-js read those exact names. A mistake in either file is
signed by the keyholders and then breaks every client of the instance, so ``set_trust`` checks both before it
proposes them: the media types the clients accept, the schema (sigstore-models, the pydantic models
sigstore-python 4.x itself parses with, plus strict base64 which those models skip), log ids against the log
keys, certificate chains and validity windows, and the URL shapes the clients build requests from. It then
adds them through the same pipeline as ``ceremony targets add`` (``targets.plan_targets``), with the trust-root
changes (new or removed CAs and log keys, validity ends set) first in the review.

What it does not do: talk to any of the instance's services (``ceremony`` stays offline), check the trusted
root's certificates against a live Fulcio, or parse a v0.2 trusted root (sigstore-python 4.x refuses it). The
refusals are one line each, ``<file>: <field path>: <problem>``, as ``InputFileError``; the cryptography is
``keys/sigstore.py``. The core never prints: warnings come back as lines of the proposal's summary.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ceremony.core import metadata as _md
from ceremony.core._json import loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.core.dates import format_date
from ceremony.core.keys import sigstore as _crypto
from ceremony.core.proposal import ChangeContext, Proposal, State
from ceremony.core.roles import target_file_names
from ceremony.errors import InputFileError, UsageError

if TYPE_CHECKING:
    import pydantic
    from sigstore_models.trustroot.v1 import CertificateAuthority, SigningConfig, TransparencyLogInstance, TrustedRoot

#: The target names sigstore-python 4.x and sigstore-js fetch (``sigstore/_internal/tuf.py``, ``@sigstore/tuf``).
TRUSTED_ROOT_NAME = "trusted_root.json"
SIGNING_CONFIG_NAME = "signing_config.v0.2.json"
#: The one trusted-root media type sigstore-python 4.x accepts ("unsupported trusted root format" otherwise).
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
TRUSTED_ROOT_V02_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot.v0.2+json"
#: The one signing-config media type sigstore-python 4.x accepts ("unsupported signing config format").
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
SIGNING_CONFIG_V01_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.1+json"
#: Formats the schema allows and sigstore-python 4.x refuses: why each is refused here.
_OLDER_FORMATS = {
    TRUSTED_ROOT_V02_MEDIA_TYPE: "the v0.2 format: sigstore-python 4.x refuses it, 'unsupported trusted root format'",
    SIGNING_CONFIG_V01_MEDIA_TYPE: "the v0.1 format: sigstore-python 4.x refuses it, 'unsupported signing config format'",
}
#: Sigstore's own files are under 10 KB; a private instance with years of rotations stays far below this.
MAX_TRUST_FILE_BYTES = 1024 * 1024
#: Entries per list and certificates per chain: far above any real instance, and bounded work per file.
MAX_ENTRIES = 100
MAX_CHAIN = 10
MAX_DEPTH = 16
#: A CA, log key or service still in use that ends within this many days is a warning (publish its successor).
WARN_DAYS = 90
#: Plain http is taken for these hosts only, with a warning: a lab on one machine, never a published instance.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Service API versions sigstore-python 4.x uses (``REKOR_VERSIONS``, ``FULCIO_VERSIONS``...); others it skips.
SERVICE_VERSIONS = {"caUrls": (1,), "oidcUrls": (1,), "rekorTlogUrls": (1, 2), "tsaUrls": (1,)}
#: At most this many trust-root change lines in the review (a sign request carries at most 50 summary lines).
MAX_DIFF_LINES = 30
#: At most this many warnings in the review (the rest counted).
MAX_WARNINGS = 12

#: keyDetails -> (algorithm, size or None for any, rawBytes is PKCS#1). Anything else sigstore-python cannot verify.
_KEY_DETAILS: dict[str, tuple[str, str | None, bool]] = {
    "PKIX_ECDSA_P256_SHA_256": ("ecdsa", "P256", False),
    "PKIX_ECDSA_P256_HMAC_SHA_256": ("ecdsa", "P256", False),
    "PKIX_ECDSA_P384_SHA_384": ("ecdsa", "P384", False),
    "PKIX_ECDSA_P384_SHA_256": ("ecdsa", "P384", False),
    "PKIX_ECDSA_P521_SHA_512": ("ecdsa", "P521", False),
    "PKIX_ECDSA_P521_SHA_256": ("ecdsa", "P521", False),
    "PKIX_ED25519": ("ed25519", "", False),
    "PKIX_ED25519_PH": ("ed25519", "", False),
    "PKCS1_RSA_PKCS1V5": ("rsa", None, True),
    "PKCS1_RSA_PSS": ("rsa", None, True),
    "PKIX_RSA_PKCS1V5": ("rsa", None, False),
    "PKIX_RSA_PSS": ("rsa", None, False),
    **{
        f"PKIX_RSA_{pad}_{bits}_SHA256": ("rsa", bits, False)
        for pad in ("PKCS1V15", "PSS")
        for bits in ("2048", "3072", "4096")
    },
}
_T = TypeVar("_T")

#: The keyDetails sigstore-python 4.x loads (``_internal/trust.py``, ``Key``); it skips a log key of any other type.
_SIGSTORE_PYTHON_KEYS = frozenset(
    {
        "PKCS1_RSA_PKCS1V5",
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        "PKIX_ECDSA_P256_SHA_256",
        "PKIX_ECDSA_P384_SHA_384",
        "PKIX_ECDSA_P521_SHA_512",
        "PKIX_ED25519",
    }
)
#: The X.509 profile sigstore-python 4.x verifies Fulcio chains against (cryptography's web PKI policy).
_WEBPKI_KEYS = frozenset({"ecdsa P256", "ecdsa P384", "ecdsa P521"})
_WEBPKI_MIN_RSA = 2048
_WEBPKI_SIGNATURES = frozenset(
    f"{family}-sha{bits}" for family in ("ecdsa", "rsa-pkcs1", "rsa-pss") for bits in ("256", "384", "512")
)
#: Protobuf JSON's Timestamp (RFC 3339 with a zone); the bytes fields protobuf JSON writes as standard base64.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
#: The endings of warnings that only inform (a service a client skips, or takes as always valid): shown after
#: the others, so that the count of ``MAX_WARNINGS`` never hides a warning that matters behind them.
_SKIPPED = "; it skips this service"
_ALWAYS = " (the spec requires it; clients take it as always)"
_MINOR_ENDINGS = (_SKIPPED, _ALWAYS)
#: The log-id rule of RFC 6962 (every CT log, and Rekor v1); a Rekor v2 log's id is its signed-note key id.
_SPKI_RULE = "SHA-256 of the key's SubjectPublicKeyInfo"
#: sigstore-python 4.x's refusal when a signature has neither a TSA timestamp nor a Rekor v1 entry's time.
_NO_TIME = "not enough sources of verified time"
_BYTES_FIELDS = frozenset({"rawBytes", "keyId"})
_URL_CHARS = re.compile(r"[!-~]{1,2048}")


def _refuse(source: str, where: str, problem: str) -> InputFileError:
    """The one line of a refusal: the file, the JSON field path (its keys are the file's: shown inert), the problem."""
    where = printable(where, 160)
    return InputFileError(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def _loc(parts: Sequence[Any]) -> str:
    """A pydantic error location as a JSON field path: ``tlogs[0].logId.keyId``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return printable(out, 120)


def _parse(cls: type[pydantic.BaseModel], data: bytes, source: str, media_type: str) -> Any:
    """The file as sigstore-models' ``cls``, after the checks the models do not make.

    Strict JSON first (no duplicate keys), then the media type (its own sentence), then the raw forms of the
    bytes and time fields, and last the schema.
    """
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise _refuse(source, "", f"{len(data):,} bytes is above {MAX_TRUST_FILE_BYTES:,}")
    raw = loads_strict(data, source)
    if not isinstance(raw, dict):
        raise _refuse(source, "", "is not a JSON object")
    given = raw.get("mediaType")
    if given != media_type:
        why = f" ({_OLDER_FORMATS[given]})" if isinstance(given, str) and given in _OLDER_FORMATS else ""
        shown = "missing" if given is None else printable(given, 80)
        raise _refuse(source, "mediaType", f"{shown} is not {media_type}{why}")
    try:
        members = list(_walk(raw, ""))
    except ValueError as err:
        raise _refuse(source, str(err), f"nested more than {MAX_DEPTH} deep") from None
    for where, key, value in members:
        if key in _BYTES_FIELDS and isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise _refuse(source, where, "is not standard base64 (padded, A-Z a-z 0-9 + / only)") from None
        if (
            key in {"start", "end"}
            and ".validFor" in f".{where}"
            and not (isinstance(value, str) and _TIMESTAMP.fullmatch(value))
        ):
            raise _refuse(source, where, "is not an RFC 3339 time with a zone (e.g. 2026-01-01T00:00:00Z)")
    return _model(cls, data, source)


def _walk(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) of every member of every object below ``value`` (Sigstore's files nest 6 deep)."""
    if depth > MAX_DEPTH:
        raise ValueError(where)
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{where}.{key}" if where else str(key)
            yield path, str(key), child
            yield from _walk(child, path, depth + 1)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, f"{where}[{index}]", depth + 1)


def _schema(name: str) -> type[pydantic.BaseModel]:
    """sigstore-models' model ``TrustedRoot`` or ``SigningConfig``, imported on first use.

    Every command imports this module (a sign request may carry a trust root), but only the ones that read a
    trust root need pydantic and the models, which would otherwise add a sixth of a second to each start-up.
    """
    from sigstore_models.trustroot import v1

    model: type[pydantic.BaseModel] = getattr(v1, name)
    return model


def _model(cls: type[pydantic.BaseModel], data: bytes, source: str) -> Any:
    """Validate with sigstore-models; the first error as one line (its message, never the input value)."""
    import pydantic

    try:
        return cls.model_validate_json(data)
    except pydantic.ValidationError as err:
        first = err.errors(include_url=False, include_input=False, include_context=False)[0]
        raise _refuse(source, _loc(first["loc"]), printable(first["msg"], 200)) from None


def _check_url(source: str, where: str, url: str, kind: str, warnings: list[str]) -> None:
    """A service URL of the shape Sigstore's clients build requests from.

    Fulcio and Rekor are host roots (clients append ``/api/v2/signingCert``, ``/api/v1/log/entries``...), a
    CT log's base URL may carry a path (``https://ctfe.sigstore.dev/2022``), a TSA URL is its full endpoint
    (clients POST to it as given), an OIDC URL the issuer. https only; http to a loopback host is let through
    with a warning, for a lab on one machine.
    """
    if not _URL_CHARS.fullmatch(url):
        raise _refuse(source, where, f"{printable(url, 100)} is not a URL (printable ASCII, no spaces)")
    try:
        parts = urllib.parse.urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise _refuse(source, where, f"{printable(url, 100)} is not a URL") from None
    if not host:
        raise _refuse(source, where, f"{printable(url, 100)} has no host")
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        warnings.append(f"{source}: {where}: {printable(url, 100)} is plain http to this machine: for a lab only")
    elif parts.scheme != "https":
        raise _refuse(source, where, f"{printable(url, 100)} is not https (clients must reach the service over TLS)")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise _refuse(source, where, f"{printable(url, 100)} carries a user, query or fragment")
    if kind == "Fulcio" and parts.path:  # clients join /api/v2/... to it as an absolute path: a path is lost
        raise _refuse(
            source,
            where,
            f"{printable(url, 100)}: a Fulcio URL is a host root with no path (clients add /api/v2/... to it), "
            "e.g. https://fulcio.example.com",
        )
    if kind == "Rekor" and parts.path:  # clients append /api/v1 or /api/v2 to it as text: a prefix works
        if parts.path.endswith("/") or f"{parts.path}/".startswith("/api/"):
            raise _refuse(
                source,
                where,
                f"{printable(url, 100)}: a Rekor URL is the log's base, without /api/... or a trailing slash (clients "
                "add /api/v1 or /api/v2 to it), e.g. https://rekor.example.com",
            )
        warnings.append(
            f"{source}: {where}: {printable(url, 100)} has a path: clients add /api/v1 or /api/v2 after it; check "
            "that the log answers there"
        )
    if kind == "TSA" and parts.path in {"", "/"}:
        raise _refuse(
            source,
            where,
            f"{printable(url, 100)}: a TSA URL is its full endpoint (clients POST to it as given), "
            "e.g. https://timestamp.example.com/api/v1/timestamp",
        )


def _utc(value: datetime, source: str, where: str) -> datetime:
    """An aware datetime in UTC (the raw check already refused times without a zone)."""
    if value.tzinfo is None:
        raise _refuse(source, where, "has no time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _refuse(source, where, "is out of range in UTC") from None


def _window(valid_for: Any, source: str, where: str) -> tuple[datetime, datetime | None]:
    """validFor as (start, end or None), refusing an end that is not after its start."""
    start = _utc(valid_for.start, source, f"{where}.start")
    end = _utc(valid_for.end, source, f"{where}.end") if valid_for.end is not None else None
    if end is not None and end <= start:
        raise _refuse(source, f"{where}.end", f"{format_date(end)} is not after validFor.start {format_date(start)}")
    return start, end


def _check_log(source: str, where: str, log: TransparencyLogInstance, kind: str, warnings: list[str]) -> str:
    """One tlog or ctlog: URL shape, key details against the key, log id; returns which log-id rule matched."""
    _check_url(source, f"{where}.baseUrl", log.base_url, kind, warnings)
    key = log.public_key
    if key.raw_bytes is None:
        raise _refuse(source, f"{where}.publicKey.rawBytes", "missing (a log without its key verifies nothing)")
    details = key.key_details.value
    if details not in _KEY_DETAILS:
        raise _refuse(
            source,
            f"{where}.publicKey.keyDetails",
            f"{details} is not a key type Sigstore's clients verify (ECDSA, Ed25519 or RSA)",
        )
    if details not in _SIGSTORE_PYTHON_KEYS:
        warnings.append(
            f"{source}: {where}.publicKey.keyDetails: {details}: sigstore-python 4.x cannot load this key type and "
            "skips this log ('unsupported key type'); other clients may still use it"
        )
    algorithm, size, pkcs1 = _KEY_DETAILS[details]
    try:
        parsed = _crypto.parse_log_key(key.raw_bytes, pkcs1)
    except ValueError as err:
        raise _refuse(source, f"{where}.publicKey.rawBytes", f"{err} (keyDetails {details})") from None
    if parsed.algorithm != algorithm or (size is not None and parsed.size != size):
        found = f"{parsed.algorithm} {parsed.size}".strip()
        raise _refuse(source, f"{where}.publicKey.keyDetails", f"{details} but publicKey.rawBytes is an {found} key")
    if key.valid_for is not None:
        _window(key.valid_for, source, f"{where}.publicKey.validFor")
    key_id = log.log_id.key_id
    spki_id = hashlib.sha256(parsed.spki).digest()
    if key_id == spki_id:
        return _SPKI_RULE
    expected = f"SHA-256 of the key's DER SubjectPublicKeyInfo, {base64.b64encode(spki_id).decode()}"
    note_key = _note_key(parsed) if kind == "Rekor" else None  # a CT log's id is RFC 6962's, the SPKI hash only
    if note_key is not None:
        for origin in _origins(log.base_url):
            if key_id == hashlib.sha256(origin.encode() + b"\n" + note_key).digest():
                return f"the signed-note key id of origin {origin}"
        expected += (
            f", or the signed-note key id of origin {printable(urllib.parse.urlsplit(log.base_url).hostname, 80)}"
        )
    raise _refuse(source, f"{where}.logId.keyId", f"does not identify this log's key (expected {expected})")


def _note_key(key: _crypto.LogKey) -> bytes | None:
    """What a Rekor v2 (rekor-tiles) log's signed-note key id hashes after its origin and a newline, if any.

    Ed25519 is C2SP signed-note's type 0x01 with the raw key; RSA is the "other" type 0xff with rekor-tiles'
    name for it and the DER SubjectPublicKeyInfo (what cosign writes into logId for such a log).
    """
    if key.algorithm == "ed25519":
        return b"\x01" + key.raw
    if key.algorithm == "rsa":
        return b"\xffPKIX-RSA-PKCS#1v1.5" + key.spki
    return None


def _origins(base_url: str) -> list[str]:
    """The checkpoint origins a Rekor v2 log may carry: its host (Sigstore's logs), with port and path if any."""
    parts = urllib.parse.urlsplit(base_url)
    found = [parts.hostname or "", parts.netloc, f"{parts.netloc}{parts.path}".rstrip("/")]
    return list(dict.fromkeys(o for o in found if o))


@dataclass(frozen=True)
class _Authority:
    """A CA's or TSA's chain as checked: its certificates' facts and the window it is trusted in."""

    label: str
    facts: tuple[_crypto.CertificateFacts, ...]
    start: datetime
    end: datetime | None


def _check_authority(source: str, where: str, ca: CertificateAuthority, kind: str, warnings: list[str]) -> _Authority:
    """A Fulcio CA or a TSA: URI shape, chain order (leaf first, self-signed root last), CA flags, validFor."""
    if ca.uri is not None:
        _check_url(source, f"{where}.uri", ca.uri, kind, warnings)
    certs = [c.raw_bytes for c in ca.cert_chain.certificates]
    chain = f"{where}.certChain.certificates"
    if not certs:
        raise _refuse(source, chain, "is empty (a CA is trusted through its certificates)")
    if len(certs) > MAX_CHAIN:
        raise _refuse(source, chain, f"{len(certs)} certificates is above {MAX_CHAIN}")
    if kind == "TSA" and len(certs) < 2:
        raise _refuse(
            source,
            chain,
            "has one certificate: a TSA chain is its signing certificate, then its root (sigstore-python 4.x skips "
            "a shorter chain, cosign refuses it)",
        )
    facts = []
    for index, der in enumerate(certs):
        try:
            facts.append(_crypto.certificate_facts(der))
        except ValueError as err:
            raise _refuse(source, f"{chain}[{index}].rawBytes", str(err)) from None
    for index in range(len(certs) - 1):
        if not _crypto.issued_by(certs[index], certs[index + 1]):
            raise _refuse(
                source,
                f"{chain}[{index}]",
                f"is not signed by certificates[{index + 1}] (the chain goes leaf first, root last)",
            )
    if not _crypto.issued_by(certs[-1], certs[-1]):
        raise _refuse(source, f"{chain}[{len(certs) - 1}]", "is not a self-signed root (the chain ends with its root)")
    for index, fact in enumerate(facts):
        issuing = kind == "Fulcio" or index > 0
        if issuing and not (fact.is_ca and fact.can_sign_certificates):
            raise _refuse(source, f"{chain}[{index}]", "is not a CA certificate (basic constraints CA, keyCertSign)")
    if kind == "TSA" and not facts[0].time_stamping:
        raise _refuse(source, f"{chain}[0]", "the TSA's signing certificate does not list the timeStamping key usage")
    if kind == "TSA" and facts[0].is_ca:
        raise _refuse(source, f"{chain}[0]", "the TSA's signing certificate is a CA certificate (it signs timestamps)")
    if kind == "Fulcio":
        _check_profile(source, chain, facts, warnings)
    start, end = _window(ca.valid_for, source, f"{where}.validFor")
    # cosign trusted-root create starts the window at the root's notBefore, before a newer intermediate's:
    # clients only trust a certificate within its own validity anyway, so only the root bounds the start.
    if start < facts[-1].not_before:
        raise _refuse(
            source,
            f"{where}.validFor.start",
            f"{format_date(start)} is before its root certificate is valid ({format_date(facts[-1].not_before)})",
        )
    earliest = min(range(len(facts)), key=lambda i: facts[i].not_after)
    earliest_end = facts[earliest]
    if end is not None and end > earliest_end.not_after:
        warnings.append(
            f"{source}: {where}.validFor.end: {format_date(end)} is after certificates[{earliest}] ends "
            f"({format_date(earliest_end.not_after)}); clients trust the chain only until then"
        )
    label = f"{kind} {printable(ca.subject.organization, 60)}/{printable(ca.subject.common_name, 60)}"
    last = earliest_end.not_after if end is None else min(end, earliest_end.not_after)
    return _Authority(label, tuple(facts), start, last)


def _check_profile(source: str, chain: str, facts: Sequence[_crypto.CertificateFacts], warnings: list[str]) -> None:
    """Warn when sigstore-python 4.x's X.509 profile refuses a Fulcio chain's key or signature algorithms.

    A warning, not a refusal: cosign (Go's crypto/x509) verifies an Ed25519 chain, for one, and only
    sigstore-python's users would be affected: every certificate this CA issues fails there. The root's own
    self-signature is never checked by a client; its key is, as it verifies the next certificate.
    """
    for index, fact in enumerate(facts):
        algorithm, _space, size = fact.public_key.partition(" ")
        if fact.public_key in _WEBPKI_KEYS or (algorithm == "rsa" and size.isdigit() and int(size) >= _WEBPKI_MIN_RSA):
            problem = ""
        else:
            problem = f"its {fact.public_key} key"
        if not problem and index < len(facts) - 1 and fact.signature not in _WEBPKI_SIGNATURES:
            problem = f"signed with {fact.signature}"
        if problem:
            warnings.append(
                f"{source}: {chain}[{index}]: {printable(problem, 80)}: sigstore-python 4.x refuses every certificate "
                "this CA issues (its X.509 profile takes RSA of 2048 bits or more and ECDSA P-256, P-384, P-521, "
                "signed with SHA-256, -384 or -512); other clients may accept it"
            )
            return


def _ends(start: datetime, end: datetime | None, now: datetime) -> tuple[bool, datetime | None]:
    """(valid now, its end or None)."""
    return start <= now and (end is None or now <= end), end


def _require_current(
    source: str, where: str, windows: Sequence[tuple[datetime, datetime | None]], now: datetime, warnings: list[str]
) -> None:
    """A list in use needs an entry valid now (the newest one ending is normal for older ones); warn when it ends soon.

    An instance whose every CA (or log key) has ended can only verify what was signed before: nothing a
    client signs today would verify, so keyholders should not sign it as the instance's trust.
    """
    if not windows:
        return
    current = [(i, end) for i, (start, end) in enumerate(windows) if _ends(start, end, now)[0]]
    if not current:
        newest = max(range(len(windows)), key=lambda i: windows[i][0])
        start, end = windows[newest]
        why = f"starts {format_date(start)}" if start > now else f"ended {format_date(end or start)}"
        raise _refuse(source, where, f"none is valid now ({format_date(now)}); the newest, [{newest}], {why}")
    soon = now + timedelta(days=WARN_DAYS)
    if all(end is not None and end <= soon for _i, end in current):
        index, end = max(current, key=lambda item: item[1] or now)
        last = end or now
        warnings.append(
            f"{source}: {where}[{index}]: ends {format_date(last)}, in {(last - now).days} days, and nothing "
            "valid now lasts longer; publish its successor before then"
        )


def check_trusted_root(data: bytes, now: datetime, source: str = TRUSTED_ROOT_NAME) -> tuple[TrustedRoot, list[str]]:
    """Check a ``trusted_root.json`` as Sigstore's clients will read it, before keyholders sign it.

    Args:
        data: the file's bytes (hostile).
        now: the time the validity windows are judged at.
        source: the file name in messages.

    Raises:
        InputFileError: one line naming the file, the JSON field path and the problem.

    Returns:
        The parsed trusted root and the warnings to show with the review.
    """
    warnings: list[str] = []
    root: TrustedRoot = _parse(_schema("TrustedRoot"), data, source, TRUSTED_ROOT_MEDIA_TYPE)
    logs = {"tlogs": root.tlogs, "ctlogs": root.ctlogs}
    cas = {"certificateAuthorities": root.certificate_authorities, "timestampAuthorities": root.timestamp_authorities}
    counts = {**{name: len(v) for name, v in logs.items()}, **{name: len(v) for name, v in cas.items()}}
    for name, count in counts.items():
        if count > MAX_ENTRIES:
            raise _refuse(source, name, f"{count} entries is above {MAX_ENTRIES}")
    if not root.tlogs:
        raise _refuse(source, "tlogs", "is empty (clients verify every signature's transparency log entry)")
    if not root.certificate_authorities:
        raise _refuse(source, "certificateAuthorities", "is empty (clients verify every signing certificate)")
    if not root.ctlogs:  # every instance here has a Fulcio CA, whose certificates clients check for an SCT
        raise _refuse(
            source,
            "ctlogs",
            "is empty: sigstore-python 4.x refuses every signature (it checks each Fulcio certificate's SCT "
            "against these logs), as cosign and sigstore-js do unless told to skip SCTs",
        )
    rekor_v1 = False
    for name, kind in (("tlogs", "Rekor"), ("ctlogs", "CT")):
        seen: dict[bytes, int] = {}
        windows = []
        for index, log in enumerate(logs[name]):
            where = f"{name}[{index}]"
            rule = _check_log(source, where, log, kind, warnings)
            rekor_v1 = rekor_v1 or (kind == "Rekor" and rule == _SPKI_RULE)
            if log.log_id.key_id in seen:
                raise _refuse(source, f"{where}.logId.keyId", f"is also {name}[{seen[log.log_id.key_id]}]'s")
            seen[log.log_id.key_id] = index
            if log.public_key.valid_for is not None:
                windows.append(_window(log.public_key.valid_for, source, f"{where}.publicKey.validFor"))
            else:
                windows.append((datetime.min.replace(tzinfo=UTC), None))
        _require_current(source, name, windows, now, warnings)
    if not rekor_v1 and not root.timestamp_authorities:
        raise _refuse(
            source,
            "timestampAuthorities",
            "is empty, and every Rekor log here is a v2 log (signed-note log id), whose entries carry no time: "
            f"nothing would verify without a TSA's timestamp (sigstore-python 4.x: {_NO_TIME!r})",
        )
    for name, kind in (("certificateAuthorities", "Fulcio"), ("timestampAuthorities", "TSA")):
        authorities = [_check_authority(source, f"{name}[{i}]", ca, kind, warnings) for i, ca in enumerate(cas[name])]
        chains: dict[tuple[str, ...], int] = {}
        for index, authority in enumerate(authorities):
            chain = tuple(f.fingerprint for f in authority.facts)
            if chain in chains:  # two windows for one chain: clients differ on which counts, and the diff hides one
                raise _refuse(source, f"{name}[{index}].certChain", f"is also {name}[{chains[chain]}]'s")
            chains[chain] = index
        _require_current(source, name, [(a.start, a.end) for a in authorities], now, warnings)
    return root, warnings


def check_signing_config(
    data: bytes, now: datetime, trusted_root: TrustedRoot | None = None, source: str = SIGNING_CONFIG_NAME
) -> tuple[SigningConfig, list[str]]:
    """Check a ``signing_config.v0.2.json`` as sigstore-python 4.x will use it.

    It needs at least one Rekor (API v1 or v2) and one Fulcio (v1) valid now, or sigstore-python refuses the
    instance; each URL has the shape its client expects; an EXACT selector must be satisfiable. Services the
    trusted root does not know are warnings: what a client signs there would not verify.

    Raises:
        InputFileError: one line naming the file, the JSON field path and the problem.

    Returns:
        The parsed signing config and the warnings to show with the review.
    """
    warnings: list[str] = []
    config: SigningConfig = _parse(_schema("SigningConfig"), data, source, SIGNING_CONFIG_MEDIA_TYPE)
    kinds = {"caUrls": "Fulcio", "oidcUrls": "OIDC", "rekorTlogUrls": "Rekor", "tsaUrls": "TSA"}
    usable: dict[str, list[Any]] = {}
    for name, kind in kinds.items():
        services = getattr(config, _snake(name))
        if len(services) > MAX_ENTRIES:
            raise _refuse(source, name, f"{len(services)} entries is above {MAX_ENTRIES}")
        usable[name] = []
        seen: dict[tuple[str, int], int] = {}
        for index, service in enumerate(services):
            where = f"{name}[{index}]"
            _check_url(source, f"{where}.url", service.url, kind, warnings)
            same = (_norm(service.url), service.major_api_version)
            if same in seen:
                raise _refuse(source, f"{where}.url", f"is also {name}[{seen[same]}]'s, with the same majorApiVersion")
            seen[same] = index
            if service.major_api_version not in SERVICE_VERSIONS[name]:
                warnings.append(
                    f"{source}: {where}.majorApiVersion: {service.major_api_version} is not one sigstore-python 4.x "
                    f"uses{_SKIPPED}"
                )
                continue
            if service.valid_for is None:
                warnings.append(f"{source}: {where}.validFor: missing{_ALWAYS}")
                usable[name].append(service)
                continue
            if _ends(*_window(service.valid_for, source, f"{where}.validFor"), now)[0]:
                usable[name].append(service)
    if not usable["rekorTlogUrls"]:
        raise _refuse(
            source, "rekorTlogUrls", "no Rekor (majorApiVersion 1 or 2) is valid now; sigstore-python refuses this"
        )
    if not usable["caUrls"]:
        raise _refuse(source, "caUrls", "no Fulcio (majorApiVersion 1) is valid now; sigstore-python refuses this")
    if all(s.major_api_version == 2 for s in usable["rekorTlogUrls"]):
        no_tsa = not usable["tsaUrls"] or (trusted_root is not None and not trusted_root.timestamp_authorities)
        if no_tsa:
            raise _refuse(
                source,
                "tsaUrls",
                f"{'no TSA (majorApiVersion 1) is valid now' if not usable['tsaUrls'] else 'the trusted root has no TSA'}"
                ", and every Rekor valid now is v2, whose entries carry no time: nothing clients sign would verify "
                f"(sigstore-python 4.x: {_NO_TIME!r})",
            )
    for name, selector_name in (("rekorTlogUrls", "rekorTlogConfig"), ("tsaUrls", "tsaConfig")):
        selector = getattr(config, _snake(selector_name))
        operators = {s.operator for s in usable[name]}
        if selector is not None and selector.selector.value == "EXACT":
            if selector.count is not None and selector.count < 1:
                raise _refuse(
                    source,
                    f"{selector_name}.count",
                    f"EXACT {selector.count}: the number of services to sign with must be at least 1 "
                    "(sigstore-python 4.x would sign with fewer than its operators give, or none)",
                )
            count = selector.count or 1
            if count > len(operators):
                raise _refuse(
                    source,
                    f"{selector_name}.count",
                    f"EXACT {count} but only {len(operators)} operator(s) have a {name} service valid now "
                    "(sigstore-python refuses to sign)",
                )
    if trusted_root is not None:
        known = {
            "caUrls": {_norm(c.uri) for c in trusted_root.certificate_authorities if c.uri},
            "rekorTlogUrls": {_norm(t.base_url) for t in trusted_root.tlogs},
            "tsaUrls": {_norm(t.uri) for t in trusted_root.timestamp_authorities if t.uri},
        }
        for name, urls in known.items():
            for service in usable[name]:
                if _norm(service.url) not in urls:
                    warnings.append(
                        f"{source}: {name}: {printable(service.url, 100)} is not in the trusted root; what clients "
                        "sign with it will not verify"
                    )
    return config, warnings


def _snake(name: str) -> str:
    """camelCase JSON name -> the model's attribute name."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _norm(url: str) -> str:
    """A URL compared as clients use it: without a trailing slash, host lower-cased."""
    parts = urllib.parse.urlsplit(url.rstrip("/"))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, "", ""))


# --- What changed: the review's first lines ---------------------------------------------------------------------


def _date(value: datetime | None) -> str:
    return format_date(value) if value is not None else "open"


def _authority_lines(kind: str, old: Sequence[CertificateAuthority], new: Sequence[CertificateAuthority]) -> list[str]:
    """CAs or TSAs added, removed, or with another validFor; an authority is its chain's fingerprints."""

    def key(ca: CertificateAuthority) -> tuple[str, ...]:
        return tuple(hashlib.sha256(c.raw_bytes).hexdigest() for c in ca.cert_chain.certificates)

    def describe(ca: CertificateAuthority) -> str:
        try:  # a previous file was checked when it was published here, but may have come from elsewhere
            first = _crypto.certificate_facts(ca.cert_chain.certificates[0].raw_bytes)
        except (ValueError, IndexError):
            return f"{kind} {printable(ca.subject.common_name, 60)} (no certificate that parses)"
        return (
            f"{kind} {printable(ca.subject.common_name, 60)} ({printable(first.subject, 100)}, sha256 "
            f"{first.fingerprint[:16]}, certificate {format_date(first.not_before)}..{format_date(first.not_after)}, "
            f"trusted {_date(ca.valid_for.start)}..{_date(ca.valid_for.end)})"
        )

    lines: list[str] = []
    for k, was, now in _matched(old, new, key):
        if not was or not now:
            lines += [f"trust root: {'new' if now else 'removed'} {describe(ca)}" for ca in now or was]
            continue
        which = k[0][:16] if k else "no certificates"
        label = f"{kind} {printable(now[0].subject.common_name, 60)} ({which})"
        lines += _count_line("trust root", label, was, now)
        for before, after in zip(was, now, strict=False):
            lines += _window_lines(label, before, after, _END_IGNORED)
            lines += _field_lines(
                "trust root",
                label,
                [
                    ("uri", before.uri, after.uri),
                    ("operator", before.operator, after.operator),
                    ("subject", _subject(before), _subject(after)),
                ],
            )
    return lines


def _subject(ca: CertificateAuthority) -> str:
    return f"{ca.subject.organization}/{ca.subject.common_name}"


def _field_lines(prefix: str, label: str, fields: Sequence[tuple[str, Any, Any]]) -> list[str]:
    """One line per field of an entry that stays whose value changed (values shown inert, None as unset)."""

    def shown(value: Any) -> str:
        if value is None:
            return "unset"
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()[:16]
        return printable(str(value), 100)

    return [
        f"{prefix}: {label}: {name} changed from {shown(was)} to {shown(now)}"
        for name, was, now in fields
        if was != now
    ]


def _matched(old: Sequence[_T], new: Sequence[_T], key: Callable[[_T], Any]) -> list[tuple[Any, list[_T], list[_T]]]:
    """(key, old entries, new entries) per key, new file's order first: lists, so that a duplicate is never lost.

    The new file may not list an entry twice (its checks refuse it), but the published one came from elsewhere.
    """
    before: dict[Any, list[_T]] = {}
    after: dict[Any, list[_T]] = {}
    for item in old:
        before.setdefault(key(item), []).append(item)
    for item in new:
        after.setdefault(key(item), []).append(item)
    keys = [*after, *(k for k in before if k not in after)]
    return [(k, before.get(k, []), after.get(k, [])) for k in keys]


def _count_line(prefix: str, label: str, was: Sequence[Any], now: Sequence[Any]) -> list[str]:
    """A line when an entry is listed another number of times (each copy has its own validFor)."""
    return [f"{prefix}: {label}: listed {len(now)} time(s), was {len(was)}"] if len(was) != len(now) else []


#: Said after a CA's or TSA's end: sigstore-python 4.x reads such authorities with ``allow_expired=True``.
_END_IGNORED = " (sigstore-js applies it; sigstore-python 4.x ignores a CA's or TSA's end)"


def _window_lines(label: str, old: Any, new: Any, end_note: str = "") -> list[str]:
    """validFor end set, changed or removed (with ``end_note``); start changed."""
    lines = []
    was, now = old.valid_for, new.valid_for
    was_end, now_end = (was.end if was else None), (now.end if now else None)
    if was_end != now_end:
        if was_end is None:
            lines.append(f"trust root: {label}: validFor end set to {_date(now_end)}{end_note}")
        else:
            lines.append(
                f"trust root: {label}: validFor end changed from {_date(was_end)} to {_date(now_end)}{end_note}"
            )
    if (was.start if was else None) != (now.start if now else None):
        lines.append(f"trust root: {label}: validFor start changed to {_date(now.start if now else None)}")
    return lines


def _log_lines(kind: str, old: Sequence[TransparencyLogInstance], new: Sequence[TransparencyLogInstance]) -> list[str]:
    """Log keys added, removed, moved, or with another validFor; a log is its log id."""

    def describe(log: TransparencyLogInstance) -> str:
        window = log.public_key.valid_for
        return (
            f"{kind} key {printable(log.base_url, 100)} (log id {base64.b64encode(log.log_id.key_id).decode()[:16]}, "
            f"{log.public_key.key_details.value}, valid {_date(window.start if window else None)}.."
            f"{_date(window.end if window else None)})"
        )

    lines: list[str] = []
    for _k, was, now in _matched(old, new, lambda log: log.log_id.key_id):
        if not was or not now:
            lines += [f"trust root: {'new' if now else 'removed'} {describe(log)}" for log in now or was]
            continue
        label = f"{kind} key {printable(now[0].base_url, 100)}"
        lines += _count_line("trust root", label, was, now)
        for before, after in zip(was, now, strict=False):
            if before.base_url != after.base_url:
                lines.append(f"trust root: {label}: base URL was {printable(before.base_url, 100)}")
            lines += _window_lines(label, before.public_key, after.public_key)
            lines += _field_lines(
                "trust root",
                label,
                [
                    ("keyDetails", before.public_key.key_details.value, after.public_key.key_details.value),
                    ("hashAlgorithm", before.hash_algorithm.value, after.hash_algorithm.value),
                    ("checkpointKeyId", _key_id(before.checkpoint_key_id), _key_id(after.checkpoint_key_id)),
                    ("operator", before.operator, after.operator),
                ],
            )
    return lines


def _key_id(log_id: Any) -> bytes | None:
    return log_id.key_id if log_id is not None else None


def _service_lines(old: SigningConfig | None, new: SigningConfig) -> list[str]:
    """Signing-config services added or removed (by URL and API version), windows and selectors changed."""
    lines = []
    for name in SERVICE_VERSIONS:
        attr = _snake(name)
        pairs = _matched(getattr(old, attr) if old else [], getattr(new, attr), lambda s: (s.url, s.major_api_version))
        for (url, version), was, now in pairs:
            label = f"{name} {printable(url, 100)} (v{version})"
            if not was:
                for service in now:
                    window = service.valid_for
                    lines.append(
                        f"signing config: new {label}, valid {_date(window.start if window else None)}.."
                        f"{_date(window.end if window else None)}"
                    )
            elif not now:
                lines += [f"signing config: removed {label}" for _service in was]
            else:
                lines += _count_line("signing config", label, was, now)
                for before, after in zip(was, now, strict=False):
                    lines += [
                        line.replace("trust root:", "signing config:", 1)
                        for line in _window_lines(label, before, after)
                    ]
                    lines += _field_lines("signing config", label, [("operator", before.operator, after.operator)])
    for attr, name in (("rekor_tlog_config", "rekorTlogConfig"), ("tsa_config", "tsaConfig")):
        was_selector = getattr(old, attr) if old else None
        selector = getattr(new, attr)
        if old is not None and (was_selector and was_selector.to_dict()) != (selector and selector.to_dict()):
            lines.append(f"signing config: {name} is now {selector.to_dict() if selector else 'unset'}")
    return lines


def trust_changes(
    old_root: TrustedRoot | None,
    new_root: TrustedRoot,
    old_config: SigningConfig | None,
    new_config: SigningConfig | None,
) -> list[str]:
    """The trust-root changes keyholders read before signing: CAs, log keys, TSAs and services.

    With no previous file every entry of the new one is listed as new: a first trust root is read whole.

    Returns:
        Lines, at most ``MAX_DIFF_LINES`` (then a count of the rest).
    """
    old_cas = old_root.certificate_authorities if old_root else []
    lines = _authority_lines("Fulcio CA", old_cas, new_root.certificate_authorities)
    lines += _log_lines("Rekor", old_root.tlogs if old_root else [], new_root.tlogs)
    lines += _log_lines("CT log", old_root.ctlogs if old_root else [], new_root.ctlogs)
    lines += _authority_lines("TSA", old_root.timestamp_authorities if old_root else [], new_root.timestamp_authorities)
    if new_config is not None:
        lines += _service_lines(old_config, new_config)
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[: MAX_DIFF_LINES - 1], f"... and {len(lines) - MAX_DIFF_LINES + 1} more trust changes"]
    return lines


# --- The change ----------------------------------------------------------------------------------------------------


#: python-tuf's ngclient visits at most this many roles looking for a target (``max_delegations``); tuf-js too.
MAX_SEARCH = 32


def _client_search(state: State, name: str) -> tuple[list[str], str | None]:
    """The roles a TUF client visits looking for target ``name``, in its order, and the first that lists it.

    Pre-order, depth first from top-level targets: each role's delegations for the name in file order, a
    terminating one (hash bins always are) ending the search below it; at most ``MAX_SEARCH`` roles. This is
    python-tuf's walk, which tuf-js follows: the role clients take the file from is the first that lists it.
    """
    stack: list[str] = ["targets"]
    order: list[str] = []
    while stack and len(order) < MAX_SEARCH:
        role = stack.pop()
        if role in order:
            continue
        order.append(role)
        md = state.current(role)
        if md is None:
            continue
        if name in _md.targets_of(md):
            return order, role
        children = []
        bin_name = _md.bin_for_target(md, name)
        if bin_name is not None:
            children = [bin_name]
        else:
            for child in (_md.signed_dict(md).get("delegations") or {}).get("roles") or []:
                if _md.delegates_path(md, child["name"], name):
                    children.append(child["name"])
                    if child.get("terminating"):
                        stack = []
                        break
        stack += reversed(children)
    return order, None


def _published(state: State, role: str, name: str, *, replacing: bool) -> tuple[bytes | None, str]:
    """The bytes of target ``name`` as clients get it today, read from WS/targets/ and checked against its listing.

    Clients take the file from the first role of their search that lists it (``_client_search``): that is the
    file to compare with, whichever role lists it. With ``replacing``, ``role`` must be where clients will look:
    a role earlier in their search that lists the name (top-level targets, say, when ``--role`` is a delegated
    one) would keep serving its own file, and the one signed here would never be fetched.

    Raises:
        UsageError: ``replacing`` and clients would never reach ``role`` for ``name``.
    """
    order, found = _client_search(state, name)
    if replacing and role not in order:
        if found is not None:
            raise UsageError(
                f"{role}: {printable(found, 80)} also lists {name}, and clients find it there first: change it in "
                f"{printable(found, 80)}, or remove it there before publishing it in {role}"
            )
        raise UsageError(
            f"{role}: clients looking for {name} never reach {role} (a terminating delegation or the search limit "
            "ends their search first)"
        )
    current = state.current(found) if found is not None else None
    listed = _md.targets_of(current).get(name) if current is not None else None
    if listed is None:
        return None, ""
    data = _listed_file(state, name, listed)
    if data is not None:
        return data, ""
    shown = printable(found or "", 80)
    return None, f"note: the published {name} is not in targets/ as {shown} lists it; compared with nothing"


def _listed_file(state: State, name: str, listed: dict[str, Any]) -> bytes | None:
    """Target ``name``'s bytes from WS/targets/, when they are what ``listed`` (its target object) says."""
    for file_name in target_file_names(name, listed.get("hashes", {}), state.consistent)[:1]:
        try:
            data = read_bytes(state.ws.path / file_name, "target file", MAX_TRUST_FILE_BYTES, follow_symlinks=False)
        except InputFileError:
            return None
        return data if matches_target(data, listed) else None
    return None


def matches_target(data: bytes, listed: object) -> bool:
    """True when ``data`` has the length and every SHA-256/SHA-512 hash of the TUF target object ``listed``."""
    if not isinstance(listed, dict) or not isinstance(listed.get("hashes"), dict) or len(data) != listed.get("length"):
        return False
    hashes = listed["hashes"]
    known = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
    return "sha256" in hashes and all(
        known[algorithm](data).hexdigest() == value for algorithm, value in hashes.items() if algorithm in known
    )


def _previous(data: bytes | None, cls: type[pydantic.BaseModel], media_type: str, name: str) -> tuple[Any, str]:
    """The published file parsed for the diff, or None with the note why it is compared with nothing.

    It was checked when it was published here, but may have come from elsewhere: its times must have a zone
    and fit in UTC (a zone-less time beside an aware one, or 0001-01-01T00:00:00+01:00, cannot be compared or
    shown), through the same raw checks as a new file.
    """
    if data is None:
        return None, ""
    try:
        parsed = _parse(cls, data, f"the published {name}", media_type)
        for where, valid_for in _validity_of(parsed):
            _utc(valid_for.start, name, where)
            if valid_for.end is not None:
                _utc(valid_for.end, name, where)
    except InputFileError:
        return None, f"note: the published {name} is not one these checks read; compared with nothing"
    return parsed, ""


def _validity_of(model: Any) -> Iterator[tuple[str, Any]]:
    """Every validFor of a trusted root's or signing config's entries, with its field path."""
    lists = {
        "certificateAuthorities": "",
        "timestampAuthorities": "",
        "tlogs": "public_key",
        "ctlogs": "public_key",
        "caUrls": "",
        "oidcUrls": "",
        "rekorTlogUrls": "",
        "tsaUrls": "",
    }
    for name, inner in lists.items():
        for index, entry in enumerate(getattr(model, _snake(name), None) or []):
            holder = getattr(entry, inner) if inner else entry
            if holder.valid_for is not None:
                yield f"{name}[{index}]", holder.valid_for


def _kept_config(data: bytes | None, note: str, now: datetime, root: TrustedRoot) -> list[str]:
    """The published signing config, kept beside a new trusted root: does it still pass, and with it?"""
    if data is None:
        return [note.removeprefix("note: ")] if note else []
    try:
        return check_signing_config(data, now, root, f"the published {SIGNING_CONFIG_NAME}")[1]
    except InputFileError as err:
        return [f"{err} (give --signing-config to replace it)"]


def bounded_warnings(warnings: Sequence[str]) -> list[str]:
    """At most ``MAX_WARNINGS`` lines, the warnings that only inform last, so that they are the ones counted."""
    ordered = sorted(warnings, key=lambda w: w.endswith(_MINOR_ENDINGS))  # stable: the files' order otherwise
    if len(ordered) > MAX_WARNINGS:
        ordered = [*ordered[: MAX_WARNINGS - 1], f"... and {len(ordered) - MAX_WARNINGS + 1} more warnings"]
    return ordered


def plan_set_trust(
    ctx: ChangeContext, trusted_root: bytes, signing_config: bytes | None, role: str = "targets"
) -> tuple[State, Proposal]:
    """A new version of ``role`` listing the checked trust root (and signing config) under the names clients fetch.

    Both files are checked first (``check_trusted_root``, ``check_signing_config``); then the change is
    ``targets.plan_targets``'s, with the trust-root changes and the warnings first in its summary, so that the
    review, a sign request and the transcript all carry them.

    Raises:
        UsageError: a Docker Content Trust workspace, a role the workspace does not hold, or the files are
            already the published ones.
        InputFileError: a file fails a check (one line naming the file and the field).
        PolicyError: the role's delegation does not cover the names.
    """
    # Here, not at the top: requests.py reads this module's request helpers, and targets -> changes -> requests.
    from ceremony.core.targets import NewTarget, plan_targets

    ctx.ws.require_tuf("ceremony sigstore set-trust")
    root, warnings = check_trusted_root(trusted_root, ctx.now)
    config = None
    if signing_config is not None:
        config, more = check_signing_config(signing_config, ctx.now, root)
        warnings += more
    items = [NewTarget(TRUSTED_ROOT_NAME, trusted_root)]
    if signing_config is not None:
        items.append(NewTarget(SIGNING_CONFIG_NAME, signing_config))
    state, proposal = plan_targets(ctx, role, add=items)
    old_root_bytes, root_note = _published(state, role, TRUSTED_ROOT_NAME, replacing=True)
    old_config_bytes, config_note = _published(state, role, SIGNING_CONFIG_NAME, replacing=signing_config is not None)
    if signing_config is None:
        if _client_search(state, SIGNING_CONFIG_NAME)[1] is None:
            warnings.append(
                f"{SIGNING_CONFIG_NAME}: not given and not published: sigstore-python refuses an instance without it "
                "('no signing config'); sigstore-js reads only the trusted root"
            )
        else:
            warnings.append(f"{SIGNING_CONFIG_NAME}: not given; the published one stays as it is")
            warnings += _kept_config(old_config_bytes, config_note, ctx.now, root)
    if old_root_bytes == trusted_root and (signing_config is None or old_config_bytes == signing_config):
        raise UsageError(f"{role}: already lists these exact files as the instance's trust root; nothing to change")
    old_root, unread = _previous(old_root_bytes, _schema("TrustedRoot"), TRUSTED_ROOT_MEDIA_TYPE, TRUSTED_ROOT_NAME)
    root_note = root_note or unread
    old_config, unread = _previous(
        old_config_bytes, _schema("SigningConfig"), SIGNING_CONFIG_MEDIA_TYPE, SIGNING_CONFIG_NAME
    )
    config_note = config_note or unread
    lines = trust_changes(old_root, root, old_config, config)
    notes = [n for n in (root_note, config_note if signing_config is not None else "") if n]
    proposal.command = "sigstore set-trust"  # the transcript and a sign request name the change as typed
    warnings = bounded_warnings(warnings)
    proposal.summary = [*lines, *notes, *(f"warning: {w}" for w in warnings), *proposal.summary]
    return state, proposal


# --- A sign request: the files travel with it, and the keyholder's tool computes the changes ---------------------

#: The names set-trust publishes, in the order a request carries them.
TRUST_NAMES = (TRUSTED_ROOT_NAME, SIGNING_CONFIG_NAME)
#: Every file a request carries, new and current together: two names, two versions, each at most one file's limit.
MAX_CARRIED_BYTES = 4 * MAX_TRUST_FILE_BYTES


def carried_files(state: State, proposal: Proposal) -> dict[str, tuple[str, bytes, bytes | None]]:
    """name -> (role, new bytes, current bytes or None): what a set-trust sign request carries to keyholders.

    The new bytes are the proposal's own files for the target the proposed metadata lists; the current ones
    are what the same role lists today (the version the keyholder can check against that role's keys), so a
    keyholder signing elsewhere computes the trust-root changes with their own tool instead of reading the
    request's unsigned summary.
    """
    carried = {}
    for role, md in proposal.metadata.items():
        listed = _md.targets_of(md) if _md.role_type(md) == "targets" else {}
        for name in TRUST_NAMES:
            if name not in listed:
                continue
            files = target_file_names(name, listed[name].get("hashes", {}), state.consistent)
            new = next((proposal.target_files[f] for f in files if proposal.target_files.get(f) is not None), None)
            if new is None:  # listed but not written by this change: the role's current file
                new = _listed_file(state, name, listed[name])
            current_md = state.current(role)
            was = _md.targets_of(current_md).get(name) if current_md is not None else None
            if new is not None:
                carried[name] = (role, new, _listed_file(state, name, was) if was is not None else None)
    return carried


def keyholder_changes(carried: dict[str, tuple[bytes, bytes | None, str]], now: datetime) -> list[str]:
    """The trust-root changes computed from a sign request's files: name -> (new, current or None, why none).

    Each file is parsed as a published one is (``_previous``): one that cannot be read is said in a line,
    never a crash, so a keyholder always sees what could not be compared. The new files then go through
    every check set-trust makes, judged at ``now``: their warnings, or the refusal, computed on the
    keyholder's machine (a request need not have been made by a ceremony that ran them).
    """
    lines: list[str] = []
    models: dict[str, tuple[Any, Any]] = {}
    for name, cls, media_type in (
        (TRUSTED_ROOT_NAME, _schema("TrustedRoot"), TRUSTED_ROOT_MEDIA_TYPE),
        (SIGNING_CONFIG_NAME, _schema("SigningConfig"), SIGNING_CONFIG_MEDIA_TYPE),
    ):
        if name not in carried:
            continue
        new_bytes, old_bytes, why = carried[name]
        new, _unread = _previous(new_bytes, cls, media_type, name)
        if new is None:
            lines.append(f"trust root: the proposed {name} is not one these checks read; its changes cannot be shown")
            continue
        old, old_unread = _previous(old_bytes, cls, media_type, name)
        if why:
            lines.append(f"trust root: {why}; {name} is compared with nothing")
        elif old_unread:
            lines.append(f"trust root: {old_unread.removeprefix('note: ')}")
        models[name] = (old, new)
    if TRUSTED_ROOT_NAME not in models:
        return lines
    old_root, new_root = models[TRUSTED_ROOT_NAME]
    old_config, new_config = models.get(SIGNING_CONFIG_NAME, (None, None))
    return [*lines, *trust_changes(old_root, new_root, old_config, new_config), *_checked_here(carried, now)]


def _checked_here(carried: dict[str, tuple[bytes, bytes | None, str]], now: datetime) -> list[str]:
    """set-trust's checks of a request's new files, as lines: its warnings, or the one refusal."""
    try:
        root, warnings = check_trusted_root(carried[TRUSTED_ROOT_NAME][0], now)
        if SIGNING_CONFIG_NAME in carried:
            warnings += check_signing_config(carried[SIGNING_CONFIG_NAME][0], now, root)[1]
    except InputFileError as err:
        return [f"refused by this tool's checks: {err}"]
    return [f"warning: {w}" for w in bounded_warnings(warnings)]
