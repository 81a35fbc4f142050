"""The connected host's side of the air gap: fetch a Notary v1 repository into a bundle, publish a bundle.

Only the connected host runs this; the offline workstation never opens a socket. It speaks notary-server's
HTTP API as notary 0.7.0's client does (``storage/httpstore.go``; the routes in ``server/server.go``), with
the standard library only (``urllib`` and ``ssl``):

* ``GET /v2/<gun>/_trust/tuf/<role>.json`` and ``<N>.<role>.json`` (every version the server stores),
  ``targets/<delegation>.json``; a 404 means the server has no such file;
* ``GET .../timestamp.key`` and ``snapshot.key``: the server's public keys (made at every request while the
  GUN has no root, so an offline first root can name them; afterwards the root's, when the server holds it);
* ``POST /v2/<gun>/_trust/tuf/``: one ``multipart/form-data`` body, every file a part of the form field
  ``files`` whose filename is the role (``root``, ``targets/releases``: what the stock client sends; the
  server strips a ``.json`` too, ``AtomicUpdateHandler``). The server validates the whole update, stores
  the bytes it was given, signs a new timestamp (and a snapshot, when it holds the snapshot key) and
  answers 200 with an empty body, or 400 with ``{"errors":[{"code","message","detail"}]}``.

What it guards against: a server URL is ``http(s)://host[:port][/path]`` and nothing more (no user name or
password); TLS is verified against the CA given (or the system's); redirects are never followed; every
response is bounded in size and time; every fetched file must be Notary metadata of its role; a fetched
repository must verify (``notary_verify.verify_notary``) unless the caller asks to keep one that does not;
and a publish is refused before anything is sent when it would break the repository in a way the server
does not see (bytes not in Go's form), or leave it unsigned (a targets key changed without targets.json, a
snapshot key the server does not hold without snapshot.json). After an upload every file is read back and compared
byte for byte, and the whole repository is verified from the root the server held before.

Errors, one sentence each: the server or network cannot be read (``InputFileError``: refused connection,
TLS, timeout, an answer too large or not Notary metadata), the server or a rule here refuses an upload
(``PolicyError``, naming the file and the rule, the server's own words kept visible but escaped), what the
server serves does not verify or is not what was uploaded (``VerificationError``).
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ceremony.core import _fs, notary
from ceremony.core._json import loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.core.notary_bundle import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_NOTE,
    Bundle,
    check_gun,
    check_server_url,
    delegation_problem,
    fetched_at,
    role_of,
    root_version_of,
    server_key_problem,
    to_bytes,
)
from ceremony.core.notary_verify import verify_notary
from ceremony.core.verify import Report
from ceremony.errors import InputFileError, PolicyError, UsageError, VerificationError

#: The seconds one request may wait for the server (connecting, and each read).
TIMEOUT = 30.0
#: The largest key answer read (a key object is a few hundred bytes) and the largest error body read.
MAX_SMALL_BYTES = 64 * 1024
#: The largest CA file read.
MAX_CA_BYTES = 1024 * 1024
#: Files the server makes itself: never uploaded from a bundle (the server would ignore an uploaded
#: timestamp and sign its own; it stores every root version as root.json is uploaded).
SERVER_MADE = "timestamp.json"
USER_AGENT = "ceremony-notary"

_KEY_NOT_FOUND = re.compile(r"key ([0-9a-f]{64}) not found")
_ROOT_VERSION = re.compile(r"Current (\d+), new (\d+)")
_EXPIRED = re.compile(r"^(root|targets(?:/[-a-z0-9_/]+)?|snapshot|timestamp) expired at (.+)$")
_THRESHOLD = re.compile(r"valid signatures did not meet threshold for (root|targets(?:/[-a-z0-9_/]+)?|snapshot)")


# --------------------------------------------------------------------------- the connection


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: the operator named the server, and trust data comes from it or not at all."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


@dataclass
class _Client:
    """One server, one GUN: the base URL of its trust data and an opener that verifies TLS as asked."""

    server: str
    gun: str
    ca: Path | None
    timeout: float
    opener: urllib.request.OpenerDirector

    @property
    def base(self) -> str:
        return f"{self.server}/v2/{self.gun}/_trust/tuf/"

    def where(self) -> str:
        return printable(self.server, 200)

    def _failed(self, what: str, err: BaseException) -> InputFileError:
        """The one sentence for a request that got no HTTP answer (refused, TLS, timeout, reset)."""
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        host = printable(self.server.split("//", 1)[1].split("/", 1)[0], 200)
        if isinstance(reason, ssl.SSLCertVerificationError):
            trusted = f"the CA in {printable(str(self.ca))}" if self.ca else "the system's trusted CAs"
            return InputFileError(
                f"{host}: the server's TLS certificate does not verify against {trusted} "
                f"({printable(reason.verify_message or reason.reason or str(reason), 200)}); give the CA that "
                "issued it"
            )
        if isinstance(reason, ssl.SSLError):
            return InputFileError(f"{host}: TLS failed while {what} ({printable(reason.reason or str(reason), 200)})")
        if isinstance(reason, ConnectionRefusedError):
            return InputFileError(f"{host}: connection refused while {what}; is the notary server running there?")
        if isinstance(reason, TimeoutError):
            return InputFileError(f"{host}: no answer within {self.timeout:g} seconds while {what}")
        if isinstance(reason, socket.gaierror):
            return InputFileError(f"{host}: the host name does not resolve ({printable(str(reason), 200)})")
        text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return InputFileError(f"{host}: {what} failed ({printable(text, 200)})")

    def request(
        self, name: str, what: str, limit: int, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, bytes, str]:
        """Status, body (at most ``limit`` bytes) and Location of one request for ``base + name``.

        Raises:
            InputFileError: no HTTP answer, or an answer larger than ``limit``.
        """
        headers = {"User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        # The URL is always http(s)://: check_server_url refuses any other scheme.
        req = urllib.request.Request(  # noqa: S310
            self.base + name, data=body, headers=headers, method="GET" if body is None else "POST"
        )
        try:
            try:
                response = self.opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as err:  # an HTTP answer, not a failure of the connection
                response = err
            with response:
                status = response.getcode() or 0
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise InputFileError(f"{self.where()}: {what}: the answer is larger than {limit:,} bytes")
                data = response.read(limit + 1) if response.fp is not None else b""
                location = response.headers.get("Location", "")
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
            raise self._failed(what, err) from err
        if len(data) > limit:
            raise InputFileError(f"{self.where()}: {what}: the answer is larger than {limit:,} bytes")
        return status, data, location

    def unexpected(self, status: int, body: bytes, location: str, what: str) -> InputFileError:
        """The sentence for an HTTP answer that is neither the file nor a 404."""
        if 300 <= status < 400:
            return InputFileError(
                f"{self.where()}: {what}: the server redirects to {printable(location, 200)!r} (HTTP {status}); "
                "redirects are not followed, give that URL instead"
            )
        if status in (401, 403):
            return InputFileError(
                f"{self.where()}: {what}: the server asks for credentials (HTTP {status}); this tool sends none "
                "(Docker Hub's notary needs a registry token)"
            )
        if status == 400 and b"HTTP request to an HTTPS server" in body:
            return InputFileError(f"{self.where()}: the server speaks TLS; give an https:// URL")
        return InputFileError(f"{self.where()}: {what}: HTTP {status}{_server_said(body)}")

    def get(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """The body of ``GET base + name``, or None when the server has no such file (404).

        Raises:
            InputFileError: another status, no answer, or a body larger than ``limit``.
        """
        status, data, location = self.request(name, f"reading {name}", limit)
        if status == 200:
            return data
        if status == 404:
            return None
        raise self.unexpected(status, data, location, f"reading {name}")


def _context(server: str, ca: Path | None) -> ssl.SSLContext | None:
    """The TLS context for ``server``: the CA file given, else the system's CAs; None for http://."""
    if server.startswith("http://"):
        if ca is not None:
            raise UsageError(f"{printable(server)} is plain http://, so a CA would not be used; give an https:// URL")
        return None
    if ca is None:
        return ssl.create_default_context()
    pem = read_bytes(ca, "CA certificate file", limit=MAX_CA_BYTES)
    try:
        return ssl.create_default_context(cadata=pem.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as err:
        raise InputFileError(f"{printable(str(ca))}: not a PEM CA certificate ({printable(str(err), 120)})") from err


def _client(server: str, gun: str, ca: Path | None, timeout: float) -> _Client:
    url = check_server_url(server)
    check_gun(gun)
    if not 0 < timeout <= 3600:
        raise UsageError(f"the timeout must be between 0 and 3600 seconds, not {timeout:g}")
    handlers: list[Any] = [_NoRedirect()]
    context = _context(url, ca)
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    return _Client(url, gun, ca, timeout, urllib.request.build_opener(*handlers))


def _server_said(body: bytes) -> str:
    """``body`` (an error answer) as data for a sentence: the server's error message, escaped, or nothing."""
    code, message, detail = _error_of(body)
    text = " ".join(part for part in (code, message, detail) if part)
    return f' (the server said: "{printable(text, 300)}")' if text else ""


def _error_of(body: bytes) -> tuple[str, str, str]:
    """``code``, ``message`` and the detail's message of notary-server's ``{"errors":[...]}`` (empty if other)."""
    try:
        value = json.loads(body.decode("utf-8"))
        entry = value["errors"][0]
        code, message, detail = entry.get("code", ""), entry.get("message", ""), entry.get("detail")
    except (ValueError, UnicodeDecodeError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
        return "", "", printable(body[:300].decode("utf-8", "replace").strip(), 300)
    if isinstance(detail, dict):  # validation.SerializableError: {"Name", "Error": {"Msg", ...}}
        error = detail.get("Error")
        detail = error.get("Msg", "") if isinstance(error, dict) else ""
    return str(code), str(message), str(detail or "")


# --------------------------------------------------------------------------- fetching


@dataclass
class _State:
    """What the server serves for a GUN: its keys, its files, and what is missing."""

    keys: dict[str, dict[str, Any]]
    files: dict[str, bytes]
    missing: list[str] = field(default_factory=list)


def _server_key(client: _Client, role: str) -> dict[str, Any]:
    name = f"{role}.key"
    data = client.get(name, MAX_SMALL_BYTES)
    if data is None:
        raise InputFileError(f"{client.where()}: the server has no {name} for {client.gun} (not a notary server?)")
    value = loads_strict(data, f"{client.where()}: {name}")
    problem = server_key_problem(value)
    if problem:
        raise InputFileError(f"{client.where()}: the server's {role} key {problem}")
    return notary.key_object(*notary.key_public(value))


def _new_server_key(client: _Client, role: str) -> dict[str, Any]:
    """A new key the server makes for ``role`` (``POST ROLE.key``, notary's RotateKeyHandler)."""
    name = f"{role}.key"
    status, data, _location = client.request(name, f"a new {role} key", MAX_SMALL_BYTES, body=b"")
    if status != 200:
        raise InputFileError(
            f"{client.where()}: the server did not make a new {role} key (HTTP {status}){_server_said(data)}"
        )
    value = loads_strict(data, f"{client.where()}: {name}")
    problem = server_key_problem(value)
    if problem:
        raise InputFileError(f"{client.where()}: the server's new {role} key {problem}")
    return notary.key_object(*notary.key_public(value))


def _parsed(client: _Client, name: str, data: bytes) -> notary.NotaryFile:
    role = role_of(name)
    assert role is not None  # noqa: S101 - every name fetched is built from the rules
    return notary.parse(data, f"{client.where()}: {name}", role)


def _delegated_names(client: _Client, name: str, md: notary.NotaryFile) -> list[str]:
    """The file names of the roles ``md`` delegates to, each checked to be a Notary delegation name."""
    delegations = md.signed.get("delegations")
    roles = delegations.get("roles") if isinstance(delegations, dict) else None
    if delegations is None or roles is None:
        return []
    if not isinstance(roles, list):
        raise InputFileError(f"{client.where()}: {name}: delegations.roles is not a list")
    names = []
    for entry in roles:
        role = entry.get("name") if isinstance(entry, dict) else None
        problem = delegation_problem(role)
        if problem:
            raise InputFileError(f"{client.where()}: {name} delegates to a role this tool cannot carry: {problem}")
        names.append(f"{role}.json")
    return names


def _fetch_state(client: _Client, *, keys: bool = True) -> _State:
    """The server's keys (unless not ``keys``) and every file of the GUN: root versions, top-level roles and
    delegations (bounded)."""
    state = _State({role: _server_key(client, role) for role in ("timestamp", "snapshot")} if keys else {}, {})
    root = client.get("root.json")
    if root is None:
        return state  # a GUN nobody has published: only the keys
    current = notary.version(_parsed(client, "root.json", root))
    if current > MAX_FILES:
        raise InputFileError(
            f"{client.where()}: root.json is version {current:,}; this tool fetches at most {MAX_FILES:,} versions"
        )
    for version in range(1, current + 1):
        name = f"{version}.root.json"
        data = client.get(name)
        if version == current and data != root:
            raise InputFileError(
                f"{client.where()}: {name} is not root.json's bytes; the server changed while it was read, or "
                "serves two roots of one version: fetch again"
            )
        if data is None:
            state.missing.append(name)
            continue
        _parsed(client, name, data)
        state.files[name] = data
    state.files["root.json"] = root
    for name in ("timestamp.json", "snapshot.json", "targets.json"):
        data = client.get(name)
        if data is None:
            state.missing.append(name)
        else:
            _parsed(client, name, data)
            state.files[name] = data
    queue = ["targets.json"] if "targets.json" in state.files else []
    while queue:
        parent = queue.pop(0)
        for name in _delegated_names(client, parent, _parsed(client, parent, state.files[parent])):
            if name in state.files or name in state.missing:
                continue
            if len(state.files) + len(state.missing) >= MAX_FILES:
                raise InputFileError(f"{client.where()}: the repository has more than {MAX_FILES:,} files")
            data = client.get(name)
            if data is None:
                state.missing.append(name)
                continue
            _parsed(client, name, data)
            state.files[name] = data
            queue.append(name)
    if len(state.files) > MAX_FILES:
        raise InputFileError(f"{client.where()}: the repository has more than {MAX_FILES:,} files")
    return state


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise UsageError("the time to verify at must carry a time zone")
    return now.astimezone(UTC)


def fetch(
    server: str,
    gun: str,
    ca: Path | None,
    *,
    timeout: float = TIMEOUT,
    allow_unverified: bool = False,
    now: datetime | None = None,
    new_server_key: str | None = None,
) -> Bundle:
    """Fetch everything the server serves for ``gun`` into a "fetched" bundle, verified first.

    With ``new_server_key`` ("snapshot" or "timestamp"), the server is asked to make a new key for that role
    (``POST .../ROLE.key``, as ``notary key rotate GUN ROLE -r`` does) after the fetch; the bundle carries the
    new key, which an offline root then names (``ceremony notary rotate-key WS --role ROLE``). The server keeps
    signing with the old key until such a root is published.

    The server's timestamp and snapshot keys are asked for first: for a GUN without root.json (a new one, whose
    bundle then has the keys and no files) the server makes a new key at each request, and holds every key it
    made, so an offline first root names these. For a published GUN the server answers the keys its root
    names, or a new key when it does not hold that one (a snapshot signed offline). Then the bundle gets every
    root version (``N.root.json``, 1 to the current), root.json,
    timestamp, snapshot, targets and every delegated role targets.json delegates to, recursively, as
    ``targets/<name>.json``, each the exact bytes served.

    A repository that does not verify (``verify_notary``, trusting its first root) is refused: the offline
    side must never start from something clients would refuse without being told. ``allow_unverified`` keeps
    it, with the reason in the bundle's note, because that is also the repository a ceremony must repair (an
    expired targets.json, a root certificate past its date); the workstation verifies it again anyway.

    Args:
        server: ``https://host[:port][/path]`` (``http://`` only for a server without TLS).
        gun: the repository, e.g. ``docker.io/org/app``.
        ca: the CA that issued the server's TLS certificate; None trusts the system's CAs.
        timeout: seconds each request may wait.
        allow_unverified: keep a repository that does not verify (the reason goes in the note).
        now: the time to verify at (aware); default: now.

    Raises:
        UsageError: the URL, GUN, timeout or time is not acceptable.
        InputFileError: the server cannot be reached or read (one sentence: refused, TLS, timeout, HTTP
            status), or it serves something that is not Notary metadata.
        VerificationError: the repository does not verify, and ``allow_unverified`` is false.

    Returns:
        The fetched bundle.
    """
    at = _now(now)
    client = _client(server, gun, ca, timeout)
    state = _fetch_state(client)
    notes = [f"the server has no file for {name}" for name in state.missing if name.startswith("targets/")]
    if "root.json" in state.files:
        try:
            verify_notary(state.files, gun, at)
        except VerificationError as err:
            if not allow_unverified:
                raise VerificationError(
                    f"{gun} on {client.where()} does not verify: {err}; no bundle was made (allow an unverified "
                    "fetch to repair it offline)",
                    err.file,
                    err.check,
                ) from err
            notes.insert(0, f"UNVERIFIED: the repository did not verify when fetched: {err}")
    if new_server_key is not None:
        if new_server_key not in ("snapshot", "timestamp"):
            raise UsageError(f"the server makes snapshot and timestamp keys, not {new_server_key!r} keys")
        if "root.json" not in state.files:
            raise UsageError(f"{gun} has no trust data yet: its first root names the server's keys as fetched")
        state.keys[new_server_key] = _new_server_key(client, new_server_key)
        notes.append(
            f"new server {new_server_key} key {notary.key_id(state.keys[new_server_key])[:16]}: publish a root "
            "naming it (ceremony notary rotate-key WS --role " + new_server_key + ")"
        )
    bundle = Bundle(
        "fetched",
        gun,
        state.files,
        server=client.server,
        fetched_at=fetched_at(at),
        server_keys=state.keys,
        note="; ".join(notes)[:MAX_NOTE] or None,
    )
    to_bytes(bundle)  # every rule of a bundle file holds for what was fetched
    return bundle


# --------------------------------------------------------------------------- publishing


@dataclass(frozen=True)
class UploadedFile:
    """One file of an upload: its name in the bundle, the form's filename (the role), version and SHA-256."""

    name: str
    role: str
    version: int
    sha256: str


@dataclass(frozen=True)
class PublishResult:
    """What a publish did and what the server serves now.

    ``uploaded`` is empty when the server already served every file of the bundle byte for byte (a
    re-publish changes nothing, and sends nothing). ``unchanged`` names those files, ``not_uploaded`` says
    why the files the server makes itself were left out, ``served`` is each file the server now serves and
    its version, ``report`` the verification of all of it, and ``after`` the fetched bundle of it.
    """

    gun: str
    server: str
    uploaded: tuple[UploadedFile, ...]
    unchanged: tuple[str, ...]
    not_uploaded: tuple[str, ...]
    served: dict[str, int]
    report: Report
    after: Bundle


def _role_keys(md: notary.NotaryFile, role: str) -> tuple[list[str], int]:
    """The key ids and threshold a root gives ``role`` (empty and 0 when it has none)."""
    roles = md.signed.get("roles")
    entry = roles.get(role) if isinstance(roles, dict) else None
    keyids = entry.get("keyids") if isinstance(entry, dict) else None
    threshold = entry.get("threshold") if isinstance(entry, dict) else None
    ids = [k for k in keyids if isinstance(k, str)] if isinstance(keyids, list) else []
    return ids, threshold if isinstance(threshold, int) and not isinstance(threshold, bool) else 0


def _short(keyids: list[str]) -> str:
    return ", ".join(k[:16] for k in keyids) or "none"


def _multipart(parts: Mapping[str, bytes]) -> tuple[bytes, str]:
    """The body and Content-Type of one form: each part in field ``files``, filename = role (Go's CreateFormFile)."""
    boundary = secrets.token_hex(24)
    while any(boundary.encode() in data for data in parts.values()):
        boundary = secrets.token_hex(24)
    chunks = []
    for role, data in parts.items():
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="files"; filename="{role}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        chunks += [head.encode("ascii"), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _refusal(
    code: str, message: str, detail: str, uploads: Mapping[str, bytes], before: Mapping[str, bytes], gun: str
) -> str:
    """An operator's sentence for notary-server's refusal of an upload (the rule, the file; its words after)."""
    new_root = _root_or_none(uploads.get("root.json") or before.get("root.json"))
    old_root = _root_or_none(before.get("root.json"))
    if code == "VERSION":
        versions = "; ".join(
            f"{name} is version {_version(data)}"
            + (f", the server's is {_version(before[name])}" if name in before else ", the server has none")
            for name, data in uploads.items()
        )
        return (
            "notary server refused the upload: it already holds this version or a newer one of a file "
            f"uploaded ({versions}); every changed file needs a version above the server's"
        )
    if code != "INVALID_UPDATE":
        return f"notary server could not take the upload ({code or 'no error code'}: {message})"
    match = _ROOT_VERSION.search(detail)
    if match:
        held, given = int(match.group(1)), int(match.group(2))
        return (
            f"notary server refused root.json: it is version {given}, but the server holds root version {held}; "
            f"the next root must be version {held + 1} (no version may be skipped or repeated)"
        )
    if "could not rotate trust" in detail and old_root is not None:
        keyids, threshold = _role_keys(old_root, "root")
        return (
            "notary server refused root.json: it is not signed by the current root's threshold of keys "
            f"({threshold} of the {len(keyids)} root keys of root version {notary.version(old_root)})"
        )
    if "unable to retrieve valid leaf certificates" in detail:
        return (
            f"notary server refused root.json: none of its root keys is a certificate it accepts for {gun} "
            "(an x509 leaf, not a CA, with CN = the GUN exactly, not expired, not signed with SHA-1)"
        )
    if "failed to validate integrity of roots" in detail and new_root is not None:
        keyids, threshold = _role_keys(new_root, "root")
        return (
            "notary server refused root.json: it is not signed by a threshold of its own root keys "
            f"({threshold} of the {len(keyids)} root keys it lists); a new root must also be signed by its new keys"
        )
    match = _EXPIRED.match(detail)
    if match:
        return f"notary server refused {match.group(1)}.json: it expired at {match.group(2)}"
    match = _THRESHOLD.search(detail)
    if match:
        role = match.group(1)
        by = "root.json" if "/" not in role else f"{role.rsplit('/', 1)[0]}.json"
        return f"notary server refused {role}.json: it is not signed by a threshold of the {role} keys {by} names"
    match = _KEY_NOT_FOUND.search(detail)
    if match and new_root is not None:
        keyid = match.group(1)
        role = next((r for r in ("timestamp", "snapshot") if keyid in _role_keys(new_root, r)[0]), "snapshot")
        fix = (
            "the timestamp key must be the server's (GET timestamp.key)"
            if role == "timestamp"
            else "add snapshot.json signed offline, or name the server's snapshot key (GET snapshot.key) in root.json"
        )
        return (
            f"notary server refused the upload: it does not hold the {role} key {keyid[:16]} that root.json names, "
            f"so it cannot sign {role}.json; {fix}"
        )
    if "does not hold current snapshot key" in detail:
        return (
            "notary server refused the upload: it does not hold the snapshot key root.json names, and the upload "
            "has no snapshot.json; add snapshot.json signed offline, or name the server's snapshot key"
        )
    if "no pre-existing root" in detail:
        return f"notary server refused the upload: it has no root for {gun} yet, so the upload must include root.json"
    if "targets must be loaded first" in detail:
        return (
            f"notary server refused the upload: it has no targets.json for {gun} (or a delegation's parent), so the "
            "upload must include it"
        )
    if "no timestamp keys exist" in detail:
        return "notary server refused root.json: the server holds no timestamp key for it (GET timestamp.key first)"
    return f"notary server refused the upload: {message or code}"


def _root_or_none(data: bytes | None, source: str = "root.json") -> notary.NotaryFile | None:
    if data is None:
        return None
    try:
        return notary.parse(data, source)
    except InputFileError:
        return None


def _version(data: bytes) -> int:
    md = _root_or_none(data)
    return notary.version(md) if md is not None else 0


def _post(client: _Client, uploads: Mapping[str, bytes], before: Mapping[str, bytes]) -> None:
    """One POST of ``uploads`` (file name -> bytes); a refusal as one sentence naming the rule.

    Raises:
        PolicyError: the server refused the upload.
        InputFileError: no answer, or an answer that is not a notary server's.
    """
    parts = {role_of(name) or name: data for name, data in uploads.items()}
    body, content_type = _multipart(parts)
    status, answer, location = client.request("", "uploading", MAX_SMALL_BYTES, body, content_type)
    if status == 200:
        return
    if status != 400:
        raise client.unexpected(status, answer, location, "uploading")
    code, message, detail = _error_of(answer)
    sentence = _refusal(code, message, detail, uploads, before, client.gun)
    raise PolicyError(f"{sentence}{_server_said(answer)}")


def upload(server: str, gun: str, files: Mapping[str, bytes], ca: Path | None, *, timeout: float = TIMEOUT) -> None:
    """POST ``files`` (bundle names -> bytes) as one update, with no checks of ours: the server's rules alone.

    For tests and for an operator who must see what the server itself says; ``publish`` is the way to
    publish. A timestamp.json is sent as it is (the server ignores it and signs its own).

    Raises:
        UsageError: the URL, GUN or a file name is not acceptable (``N.root.json`` too: the form names a
            role, and the server stores each root version as root.json is uploaded).
        PolicyError: the server refused the update (one sentence naming the file and the rule).
        InputFileError: the server cannot be reached, or answered something else.
    """
    client = _client(server, gun, ca, timeout)
    for name in files:
        if role_of(name) is None or root_version_of(name) is not None:
            raise UsageError(f"{printable(name, 80)!r} is not a file one uploads (root.json, targets.json, ...)")
    before = {name: data for name in ("root.json", *files) if (data := client.get(name)) is not None}
    _post(client, files, before)


def _go_form(name: str, data: bytes) -> notary.NotaryFile:
    """``data`` parsed, and exactly the bytes Go's notary would write for it (the server stores what it gets).

    Raises:
        PolicyError: another serialisation of the same metadata.
    """
    md = notary.parse(data, name, role_of(name))
    if not notary.is_go_form(data, md):
        raise PolicyError(
            f"{name} is not in the byte form Go's notary writes; the server would store it as it is while hashing "
            "its own form, and every client would then fail its checksum. Nothing was uploaded"
        )
    return md


def _check_keys(client: _Client, uploads: Mapping[str, bytes], before: Mapping[str, bytes]) -> None:
    """Refuse an update that would leave a role unsigned, where that can be known before sending it.

    * root.json changes the targets keys (or is the first root): a new targets.json must come with it, or
      clients refuse the targets.json the server holds (the server would take the root alone);
    * no snapshot.json in the update and the root's snapshot keys stay the server's current root's: the
      server must sign the snapshot, so it must hold that key. It says so: ``GET snapshot.key`` answers the
      root's key when its signer holds it, and makes a new one when it does not (a snapshot the client signs).

    Whether the server holds a timestamp or snapshot key a *new* root names cannot be asked: for a GUN
    without a root, every ``GET <role>.key`` makes a new key, and any key made so is held. The server's
    refusal of such a root names the key (``_refusal``).

    Raises:
        PolicyError: one of the rules, naming it.
    """
    old = _root_or_none(before.get("root.json"))
    new = notary.parse(uploads["root.json"], "root.json", "root") if "root.json" in uploads else old
    if new is None:
        raise PolicyError(
            f"the server has no root.json for {client.gun} yet, so the bundle must carry root.json (and targets.json)"
        )
    old_targets = _role_keys(old, "targets")[0] if old is not None else []
    new_targets = _role_keys(new, "targets")[0]
    if sorted(old_targets) != sorted(new_targets) and "targets.json" not in uploads:
        was = f"from {_short(old_targets)} " if old is not None else ""
        raise PolicyError(
            f"root.json changes the targets key ({was}to {_short(new_targets)}), but the bundle has no new "
            "targets.json signed with it; clients would refuse the targets.json the server holds. Nothing was "
            "uploaded"
        )
    snapshot_keys = _role_keys(new, "snapshot")[0]
    if old is None or "snapshot.json" in uploads or sorted(snapshot_keys) != sorted(_role_keys(old, "snapshot")[0]):
        return
    held = notary.key_id(_server_key(client, "snapshot"))
    if held not in snapshot_keys:
        raise PolicyError(
            f"the bundle has no snapshot.json, so the server must sign the snapshot, but it does not hold the "
            f"snapshot key {_short(snapshot_keys)} that root.json names (the snapshot is signed offline): add "
            "snapshot.json signed with it, or make the snapshot server-managed. Nothing was uploaded"
        )


def publish(
    bundle: Bundle, server: str, ca: Path | None, *, timeout: float = TIMEOUT, now: datetime | None = None
) -> PublishResult:
    """Upload a "publish" bundle as one update, then read it all back and verify it.

    Files the server already serves byte for byte are not sent (a root, targets or snapshot of the same
    version would be refused as old), nor ``N.root.json`` (the server keeps every root version as root.json
    is uploaded) or timestamp.json (the server signs its own); when nothing is left, nothing is sent and the
    repository is verified as it stands. Before sending: every file in Go's byte form, and the key rules of
    ``_check_keys``. After: every uploaded file read back and compared byte for byte (root.json also as
    ``N.root.json``), and the whole repository verified, trusting the root the server held before (its first
    root for a new GUN).

    Args:
        bundle: a "publish" bundle (``notary_bundle.read_bundle``).
        server: ``https://host[:port][/path]``.
        ca: the CA that issued the server's TLS certificate; None trusts the system's CAs.
        timeout: seconds each request may wait.
        now: the time to verify at (aware); default: now.

    Raises:
        UsageError: not a publish bundle, or the URL, GUN or timeout is not acceptable.
        PolicyError: a rule here or the server refused the update (nothing was stored).
        InputFileError: the server cannot be reached or read.
        VerificationError: the server accepted the update but now serves other bytes than were uploaded,
            or a repository that does not verify.

    Returns:
        What was uploaded and what the server serves now, verified.
    """
    if bundle.kind != "publish":
        raise UsageError(
            f"a {printable(bundle.kind, 20)} bundle cannot be published; publish bundles come from the offline side"
        )
    to_bytes(bundle)  # a bundle made in memory obeys the rules of one read from a file
    at = _now(now)
    client = _client(server, bundle.gun, ca, timeout)
    before = _fetch_state(client, keys=False)  # for a GUN without a root, a GET of a key makes a new one
    uploads: dict[str, bytes] = {}
    unchanged, not_uploaded = [], []
    for name in sorted(bundle.files, key=lambda n: (n.count("/"), n)):
        data = bundle.files[name]
        if root_version_of(name) is not None:
            not_uploaded.append(f"{name}: the server keeps every root version itself, as root.json is uploaded")
        elif name == SERVER_MADE:
            not_uploaded.append(f"{name}: the server signs its own timestamp")
        elif before.files.get(name) == data:
            unchanged.append(name)
        else:
            uploads[name] = data
    trusted = before.files.get("root.json")
    if uploads:
        for name, data in uploads.items():
            _go_form(name, data)
        _check_keys(client, uploads, before.files)
        _post(client, uploads, before.files)
    after = _fetch_state(client)
    for name, data in uploads.items():
        names = [name]
        if name == "root.json":
            names.append(f"{_version(data)}.root.json")
        for served_name in names:
            served = after.files.get(served_name)
            if served is None:
                raise VerificationError(
                    f"the server accepted the upload but does not serve {served_name} now", served_name, "read-back"
                )
            if served != data:
                raise VerificationError(
                    f"the server now serves a different {served_name} than was uploaded (sha256 "
                    f"{_fs.sha256_hex(served)[:16]} served, {_fs.sha256_hex(data)[:16]} uploaded)",
                    served_name,
                    "read-back",
                )
    try:
        report = verify_notary(after.files, bundle.gun, at, trusted_root=trusted)
    except VerificationError as err:
        said = "accepted the upload, but" if uploads else "was sent nothing (it served every file already), and"
        raise VerificationError(
            f"the server {said} the repository it serves does not verify: {err}", err.file, err.check
        ) from err
    return PublishResult(
        gun=bundle.gun,
        server=client.server,
        uploaded=tuple(
            UploadedFile(name, role_of(name) or name, _version(data), _fs.sha256_hex(data))
            for name, data in uploads.items()
        ),
        unchanged=tuple(unchanged),
        not_uploaded=tuple(not_uploaded),
        served={name: _version(data) for name, data in after.files.items()},
        report=report,
        after=Bundle(
            "fetched",
            bundle.gun,
            after.files,
            server=client.server,
            fetched_at=fetched_at(at),
            server_keys=after.keys,
        ),
    )
