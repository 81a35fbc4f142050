"""The one file that crosses the air gap for a Notary v1 repository, each way.

The offline workstation never talks to a notary server; a connected host does (``notary_http.py``). What it
fetched travels to the workstation as a "fetched" bundle (the server's metadata files byte for byte, the
server's timestamp and snapshot public keys, where and when they were fetched), and what the workstation
signed travels back as a "publish" bundle (the files to upload, and a note saying what change this is).

A bundle is JSON (``to_bytes``): ``{"format": FORMAT, "version": 1, "kind", "gun", ..., "files": {name:
base64}}``, pretty-printed with sorted keys so two bundles can be compared with ``diff``. The files are
carried as exact bytes: a signature covers Go's serialisation, and notary-server stores what it is given.

Both directions treat a bundle as hostile (``from_bytes``): it may have been carried on a stick through any
number of hands. Every problem is one sentence naming the file; the size, the number of files and each file
are bounded; only the fields of its kind are accepted; every file name is one of the names a Notary
repository has (never a path: the names are keys of a dict, and the caller decides where files go); and
every file must parse as the Notary metadata of the role its name says, so a bundle never carries junk.
What a bundle does not promise: that its files verify, or that they are what the server serves. The
workstation verifies them (``notary_verify.verify_notary``), and ``notary_http.publish`` checks the server.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ceremony.core import notary
from ceremony.core._fs import write_atomic
from ceremony.core._json import dumps_pretty, loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.errors import InputFileError, MetadataError, UsageError

FORMAT = "ceremony-notary-bundle"
VERSION = 1
KINDS = ("fetched", "publish")

#: The largest bundle read: every file at its largest would not fit, on purpose; real repositories are far
#: smaller (the samples are a few KiB), and a stick full of JSON is an attack on the reader, not a repository.
MAX_BUNDLE_BYTES = 32 * 1024 * 1024
#: The largest metadata file carried (decoded). notary's client reads up to 100 MiB (``MaxDownloadSize``) and
#: a timestamp up to 1 MiB; a targets file of thousands of tags is well below 4 MiB, and a larger one is refused
#: here rather than carried.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: At most this many files: every root version, four top-level roles and hundreds of delegations.
MAX_FILES = 1000
#: A GUN: Docker's reference grammar allows 255 characters for a repository name.
MAX_GUN = 255
#: notary's ``data.IsDelegation``: a role name is shorter than 256 characters (a database column).
MAX_ROLE = 255
#: Delegation depth below ``targets/``; notary has no limit, but nothing real nests deeper than a few levels.
MAX_DEPTH = 8
#: The longest server URL accepted.
MAX_URL = 2048
#: The longest note carried.
MAX_NOTE = 4000

#: The server keys a fetched bundle carries (GET .../_trust/tuf/<role>.key), and the key types a notary
#: signer makes for them (``ecdsa``: the remote signer; ``ed25519``: a server with a local signer).
SERVER_KEY_ROLES = ("snapshot", "timestamp")
SERVER_KEY_TYPES = ("ecdsa", "ed25519")

# The fields of each kind: required, then optional.
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "fetched": (
        frozenset({"format", "version", "kind", "gun", "files", "server", "fetched_at", "server_keys"}),
        frozenset({"note"}),
    ),
    "publish": (frozenset({"format", "version", "kind", "gun", "files"}), frozenset({"note"})),
}

# One GUN segment: starts and ends with a letter or digit; '.', '_', '-' and ':' (a registry's port) inside.
# This is a superset of Docker's reference grammar (lower-case paths, host[:port] first) that still keeps
# every GUN a plain URL path (nothing to escape) and a plain directory name in a trust dir (no '..', no '*',
# which notary-server's routes refuse).
_GUN_SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._:-]*[A-Za-z0-9])?")
# notary's delegation names: targets/ then segments of [-a-z0-9_] (``delegationRegexp`` with path.Clean).
_DELEGATION_SEGMENT = re.compile(r"[-a-z0-9_]+")
_ROOT_VERSION_FILE = re.compile(r"([1-9][0-9]{0,8})\.root\.json")
_TOP_LEVEL_FILES = {f"{role}.json": role for role in ("root", "targets", "snapshot", "timestamp")}
_FETCHED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_URL_PATH = re.compile(r"(?:/[A-Za-z0-9._~-]+)*/?")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


@dataclass(frozen=True)
class Bundle:
    """One bundle: a fetched repository (server -> offline) or the files to publish (offline -> server).

    ``files`` maps Notary metadata file names (``root.json``, ``3.root.json``, ``targets/releases.json``, ...)
    to their exact bytes. ``server``, ``fetched_at`` and ``server_keys`` (role -> the key object the server
    answered for ``<role>.key``, as ``notary.key_object`` writes it) belong to fetched bundles only; ``note``
    is free text for the operator on either kind.
    """

    kind: str
    gun: str
    files: dict[str, bytes]
    server: str | None = None
    fetched_at: str | None = None
    server_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str | None = None


# --------------------------------------------------------------------------- the rules, one function each


def gun_problem(gun: Any) -> str | None:
    """Why ``gun`` is not a GUN this tool works with, or None.

    A GUN is at most 255 printable ASCII characters, segments separated by ``/``, each non-empty, starting
    and ending with a letter or digit and holding only letters, digits and ``. _ - :`` (so no ``..``, no
    whitespace, no ``*``, nothing a URL would have to escape).
    """
    if not isinstance(gun, str):
        return "the GUN is not a string"
    if not gun or len(gun) > MAX_GUN:
        return f"the GUN is empty or longer than {MAX_GUN} characters"
    if not all(_GUN_SEGMENT.fullmatch(segment) for segment in gun.split("/")):
        return (
            f"the GUN {printable(gun, 80)!r} is not a repository name (segments of letters, digits and '._-:' "
            "separated by '/', each starting and ending with a letter or digit, e.g. docker.io/org/app)"
        )
    return None


def check_gun(gun: Any) -> str:
    """``gun`` if it is a GUN this tool works with (``gun_problem``).

    Raises:
        UsageError: it is not.
    """
    problem = gun_problem(gun)
    if problem:
        raise UsageError(problem)
    return str(gun)


def delegation_problem(role: Any) -> str | None:
    """Why ``role`` is not a Notary delegation name (``targets/a/b``), or None (notary's ``IsDelegation``)."""
    if not isinstance(role, str) or not role.startswith("targets/"):
        return f"{printable(str(role), 80)!r} is not a delegated role (targets/...)"
    segments = role.split("/")[1:]
    if len(role) > MAX_ROLE or len(segments) > MAX_DEPTH:
        return f"the delegated role name is longer than {MAX_ROLE} characters or deeper than {MAX_DEPTH} levels"
    if not all(_DELEGATION_SEGMENT.fullmatch(segment) for segment in segments):
        return (
            f"{printable(role, 80)!r} is not a Notary delegation name (targets/ then segments of lower-case "
            "letters, digits, '-' and '_')"
        )
    return None


def role_of(name: Any) -> str | None:
    """The role whose metadata the file ``name`` holds, or None when ``name`` is not a Notary file name.

    The names are ``root.json``, ``N.root.json`` (N >= 1, no leading zero), ``targets.json``,
    ``snapshot.json``, ``timestamp.json`` and ``targets/<delegation>.json``.
    """
    if not isinstance(name, str):
        return None
    if name in _TOP_LEVEL_FILES:
        return _TOP_LEVEL_FILES[name]
    if _ROOT_VERSION_FILE.fullmatch(name):
        return "root"
    if name.endswith(".json") and delegation_problem(name.removesuffix(".json")) is None:
        return name.removesuffix(".json")
    return None


def root_version_of(name: str) -> int | None:
    """N for ``N.root.json``, else None."""
    match = _ROOT_VERSION_FILE.fullmatch(name)
    return int(match.group(1)) if match else None


def server_url_problem(url: Any) -> str | None:
    """Why ``url`` is not a notary server URL, or None: ``http(s)://host[:port][/path]`` and nothing else.

    No user name or password (a secret would be written into every bundle and log), no query, no fragment,
    no percent-escapes; the path is letters, digits and ``. _ ~ -`` between slashes.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL or not url.isascii() or not url.isprintable():
        return f"the server URL must be printable ASCII of at most {MAX_URL} characters"
    if any(char.isspace() for char in url):
        return "the server URL holds whitespace"
    shown = printable(url, 120)
    try:
        parts = urlsplit(url)
    except ValueError as err:
        return f"the server URL {shown!r} is not a URL ({err})"
    if parts.scheme not in ("https", "http") or not url.startswith(f"{parts.scheme}://"):
        return f"the server URL {shown!r} must start with https:// (or http:// for a server without TLS)"
    if "@" in parts.netloc:  # not shown: the part before '@' may be a password
        return "the server URL holds a user name or password (user@host); give the URL without them"
    if parts.query or parts.fragment or "?" in url or "#" in url or ";" in url:
        return f"the server URL {shown!r} holds a query or fragment; give scheme, host, port and path only"
    host, port = parts.netloc, ""
    if ":" in host and not host.endswith("]"):
        host, _, port = host.rpartition(":")
        if not _PORT.fullmatch(port) or int(port) > 65535:
            return f"the server URL {shown!r} has a port that is not a number from 1 to 65535"
    if not _HOST.fullmatch(host):
        return f"the server URL {shown!r} has no valid host name or address"
    if not _URL_PATH.fullmatch(parts.path) or any(seg in (".", "..") for seg in parts.path.split("/")):
        return f"the server URL {shown!r} has a path that is not plain segments (letters, digits, '._~-')"
    return None


def check_server_url(url: Any) -> str:
    """``url`` without a trailing slash, if it is a notary server URL (``server_url_problem``).

    Raises:
        UsageError: it is not.
    """
    problem = server_url_problem(url)
    if problem:
        raise UsageError(problem)
    return str(url).rstrip("/")


def server_key_problem(key_obj: Any) -> str | None:
    """Why ``key_obj`` is not a server public key as ``GET <role>.key`` answers it, or None.

    Exactly ``{"keytype","keyval":{"private":null,"public"}}``, an ``ecdsa`` (DER SubjectPublicKeyInfo) or
    ``ed25519`` (32 bytes) key; the bytes themselves are read when a signature is checked.
    """
    if not isinstance(key_obj, dict) or sorted(key_obj) != ["keytype", "keyval"]:
        return "is not a key object with exactly keytype and keyval"
    keyval = key_obj["keyval"]
    if not isinstance(keyval, dict) or sorted(keyval) != ["private", "public"]:
        return "has a keyval that is not exactly private and public"
    try:
        keytype, public = notary.key_public(key_obj)
    except MetadataError as err:
        return str(err)
    if keytype not in SERVER_KEY_TYPES:
        return f"is a {printable(keytype, 40)!r} key; a notary signer makes ecdsa or ed25519 keys"
    if (keytype == "ed25519" and len(public) != 32) or (keytype == "ecdsa" and not 32 < len(public) < 1024):
        return f"is not a plausible {keytype} public key ({len(public)} bytes)"
    return None


def _check_name(name: Any, where: str) -> str:
    """The role of a file name a bundle may carry."""
    role = role_of(name)
    if role is None:
        raise InputFileError(
            f"{where}: {printable(str(name), 80)!r} is not a Notary metadata file name (root.json, N.root.json, "
            "targets.json, snapshot.json, timestamp.json or targets/<delegation>.json)"
        )
    return role


def _check_file(name: str, data: bytes, where: str) -> None:
    """A file a bundle may carry: a Notary name, bounded, parsing as its role's metadata."""
    role = _check_name(name, where)
    if len(data) > MAX_FILE_BYTES:
        raise InputFileError(f"{where}: {name} is larger than {MAX_FILE_BYTES:,} bytes")
    md = notary.parse(data, f"{where}: {name}", role)
    version = root_version_of(name)
    if version is not None and notary.version(md) != version:
        raise InputFileError(f"{where}: {name} holds root version {notary.version(md)}")


def _decode_files(files: Any, where: str) -> dict[str, bytes]:
    """The ``files`` object: names to strict, canonical standard base64, each checked (``_check_file``)."""
    if not isinstance(files, dict):
        raise InputFileError(f"{where}: 'files' is not an object")
    if len(files) > MAX_FILES:
        raise InputFileError(f"{where}: it carries {len(files):,} files; at most {MAX_FILES:,} are accepted")
    decoded: dict[str, bytes] = {}
    for name, text in files.items():
        shown = printable(name, 80)
        _check_name(name, where)
        if not isinstance(text, str) or len(text) > (MAX_FILE_BYTES + 2) // 3 * 4:
            raise InputFileError(f"{where}: {shown} is not a base64 string of at most {MAX_FILE_BYTES:,} bytes")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise InputFileError(f"{where}: {shown} is not standard base64 ({err})") from err
        if base64.b64encode(data).decode("ascii") != text:
            raise InputFileError(f"{where}: {shown} is not canonical padded base64")
        _check_file(name, data, where)
        decoded[name] = data
    return decoded


def _server_keys(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or sorted(value) != sorted(SERVER_KEY_ROLES):
        raise InputFileError(f"{where}: 'server_keys' must be an object with exactly snapshot and timestamp")
    found: dict[str, dict[str, Any]] = {}
    for role in SERVER_KEY_ROLES:
        problem = server_key_problem(value[role])
        if problem:
            raise InputFileError(f"{where}: the server's {role} key {problem}")
        found[role] = notary.key_object(*notary.key_public(value[role]))
    return found


def _text_field(value: Any, name: str, where: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise InputFileError(f"{where}: '{name}' is not text of at most {limit:,} characters")
    return value


def fetched_at(when: datetime) -> str:
    """``when`` (aware) as a bundle's ``fetched_at``: UTC, whole seconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fetched_at(value: Any, where: str) -> str:
    if isinstance(value, str) and _FETCHED_AT.fullmatch(value):
        try:
            datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")  # noqa: DTZ007 - a UTC 'Z' form, checked as a date
        except ValueError:
            pass
        else:
            return value
    raise InputFileError(f"{where}: 'fetched_at' is {printable(str(value), 40)!r}, not YYYY-MM-DDTHH:MM:SSZ")


# --------------------------------------------------------------------------- reading and writing


def from_bytes(data: bytes, source: str) -> Bundle:
    """Read a bundle from ``data`` (hostile input), every problem one sentence naming ``source``.

    Raises:
        InputFileError: larger than 32 MiB, not strict JSON, another format or version, an unknown kind or a
            field that kind does not have (or one missing), a bad GUN, server URL, time or server key, more
            than 1,000 files, a name that is not a Notary file name, a file that is not strict base64, larger
            than 4 MiB or not Notary metadata of the role its name says.

    Returns:
        The bundle, its files as the exact bytes carried.
    """
    where = printable(source, 200)
    if len(data) > MAX_BUNDLE_BYTES:
        raise InputFileError(f"{where}: a bundle is at most {MAX_BUNDLE_BYTES:,} bytes; refused")
    value = loads_strict(data, where)
    if not isinstance(value, dict):
        raise InputFileError(f"{where}: not a Notary bundle (the top level is not a JSON object)")
    if value.get("format") != FORMAT:
        raise InputFileError(f"{where}: not a Notary bundle (format is not {FORMAT!r})")
    version = value.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise InputFileError(
            f"{where}: bundle format version {printable(str(version), 20)}; this tool reads version {VERSION}"
        )
    kind = value.get("kind")
    if kind not in KINDS:
        raise InputFileError(f"{where}: kind is {printable(str(kind), 40)!r}, not 'fetched' or 'publish'")
    required, optional = _FIELDS[kind]
    missing = sorted(required - set(value))
    if missing:
        raise InputFileError(f"{where}: a {kind} bundle needs the field {missing[0]!r}")
    unknown = sorted(set(value) - required - optional)
    if unknown:
        raise InputFileError(f"{where}: a {kind} bundle has no field {printable(unknown[0], 60)!r}")
    gun_error = gun_problem(value["gun"])
    if gun_error:
        raise InputFileError(f"{where}: {gun_error}")
    files = _decode_files(value["files"], where)
    if kind == "publish" and not files:
        raise InputFileError(f"{where}: a publish bundle carries no files")
    note = None if value.get("note") is None else _text_field(value["note"], "note", where, MAX_NOTE)
    if kind == "publish":
        return Bundle(kind, value["gun"], files, note=note)
    url_error = server_url_problem(value["server"])
    if url_error:
        raise InputFileError(f"{where}: {url_error}")
    return Bundle(
        kind,
        value["gun"],
        files,
        server=value["server"],
        fetched_at=_fetched_at(value["fetched_at"], where),
        server_keys=_server_keys(value["server_keys"], where),
        note=note,
    )


def to_dict(bundle: Bundle) -> dict[str, Any]:
    """The JSON object of ``bundle`` (files in standard base64; fields a kind does not have left out)."""
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": bundle.kind,
        "gun": bundle.gun,
        "files": {name: base64.b64encode(data).decode("ascii") for name, data in bundle.files.items()},
    }
    fetched_only = {"server": bundle.server, "fetched_at": bundle.fetched_at, "server_keys": dict(bundle.server_keys)}
    # A publish bundle given any of them writes them, so the check in to_bytes refuses it with its sentence.
    out.update({k: v for k, v in fetched_only.items() if bundle.kind == "fetched" or v})
    if bundle.note is not None:
        out["note"] = bundle.note
    return out


def to_bytes(bundle: Bundle) -> bytes:
    """The bundle file: pretty JSON, sorted keys, ending in a newline; checked by ``from_bytes`` first.

    Reading back what is written means a bundle this tool writes is always one it reads: the same rules,
    written once.

    Raises:
        UsageError: the bundle breaks a rule of ``from_bytes`` (the same sentence).
    """
    data = dumps_pretty(to_dict(bundle))
    try:
        from_bytes(data, "the bundle to write")
    except InputFileError as err:
        raise UsageError(str(err)) from err
    return data


def read_bundle(path: Path) -> Bundle:
    """Read the bundle file at ``path``: a regular file (not a link, FIFO or device) of at most 32 MiB.

    Raises:
        InputFileError: unreadable, not a regular file, a symbolic link, too large, or refused by ``from_bytes``.
    """
    data = read_bytes(path, "Notary bundle", limit=MAX_BUNDLE_BYTES, follow_symlinks=False)
    return from_bytes(data, str(path))


def write_bundle(path: Path, bundle: Bundle, *, overwrite: bool = False) -> str:
    """Write ``bundle`` to ``path`` atomically with mode 0600; return the file's SHA-256.

    An existing file (or link) at ``path`` is refused unless ``overwrite``: a bundle on a stick may be the
    only copy of a ceremony's result.

    Raises:
        UsageError: the bundle breaks a rule (``to_bytes``), or ``path`` exists and ``overwrite`` is false.
        InputFileError: the directory cannot be written.
    """
    data = to_bytes(bundle)
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise UsageError(f"{printable(str(path))}: already exists; refusing to overwrite a bundle")
    try:
        return write_atomic(path, data)
    except OSError as err:
        raise InputFileError(f"{printable(str(path))}: cannot write the bundle ({err.strerror})") from err
