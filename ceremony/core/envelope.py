"""One metadata file: its envelope parsed, and its structure checked as python-tuf loads it.

``parse_envelope`` reads the envelope (strict JSON, the signature list with
no keyid twice, ``version``, ``_type``, ``spec_version``, no integer beyond
what JavaScript holds) and the canonical bytes of ``signed`` that signatures
cover. ``load_envelope`` also checks the whole structure of a root,
timestamp, snapshot or targets file: the items "every file", "root",
"timestamp and snapshot meta" and "targets" of verify.py's list. Nothing
here checks a signature, an expiry, or one file against another: verify.py
does, on envelopes loaded here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ceremony.core._json import MAX_SAFE_INTEGER, canonical_bytes, loads_strict
from ceremony.core._text import printable
from ceremony.core.dates import parse_tuf_date
from ceremony.errors import InputFileError, VerificationError

# python-tuf's Signed: "major.minor[.patch]", digits only, major equal to its own ("1").
_SPEC_VERSION = re.compile(r"^1\.[0-9]+(?:\.[0-9]+)?\Z")
TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
_MAX_SUCCINCT_BITS = 16  # 65,536 bins; more than any published repository uses
_MAX_FILE_NAME = 255  # bytes in one file name (ext4, APFS, NTFS)


@dataclass(frozen=True)
class Envelope:
    """A parsed metadata file: what is signed, who signed, and the exact bytes."""

    name: str
    raw: bytes
    signed: dict[str, Any]
    signatures: dict[str, str]
    payload: bytes
    #: What verify.py worked out from this file once (a root's role keys: rotation N+1 asks for root N's again).
    derived: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> int:
        """The ``signed.version`` field."""
        return self.signed["version"]

    @property
    def type(self) -> str:
        """The ``signed._type`` field, exactly as written."""
        return str(self.signed["_type"])


def _is_int(value: object, minimum: int) -> bool:
    """True for an integer (not a boolean) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _unsafe_integer_in(signed: dict[str, Any]) -> int | None:
    """An integer of ``signed`` beyond what JavaScript holds exactly (the file had one; is it in ``signed``?)."""
    stack: list[Any] = [signed]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
            return value
    return None


def parse_envelope(name: str, data: bytes, expected_type: str | None = None) -> Envelope:
    """Parse and structurally check one metadata file: envelope, version, type, spec_version.

    Raises:
        VerificationError: malformed, duplicate signature keyids, wrong type.
    """
    unsafe: list[int] = []
    try:
        obj = loads_strict(data, name, unsafe_integers=unsafe)
    except InputFileError as err:
        raise VerificationError(str(err), name, "parse") from err
    if not isinstance(obj, dict) or not isinstance(obj.get("signed"), dict):
        raise VerificationError(f"{name}: not TUF metadata (no 'signed' object)", name, "format")
    signed = obj["signed"]
    sig_list = obj.get("signatures")
    if not isinstance(sig_list, list):
        raise VerificationError(f"{name}: 'signatures' is not a list", name, "format")
    signatures: dict[str, str] = {}
    for entry in sig_list:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("keyid"), str)
            or not isinstance(entry.get("sig"), str)
        ):
            raise VerificationError(f"{name}: a signature entry lacks 'keyid' or 'sig'", name, "format")
        if entry["keyid"] in signatures:
            raise VerificationError(
                f"{name}: keyid {printable(entry['keyid'][:12])} signs twice (duplicate signatures are refused)",
                name,
                "duplicate-signature",
            )
        signatures[entry["keyid"]] = entry["sig"]
    if not _is_int(signed.get("version"), 1):
        raise VerificationError(f"{name}: 'version' must be a positive integer", name, "format")
    kind = signed.get("_type")
    if not isinstance(kind, str):
        raise VerificationError(f"{name}: '_type' is missing", name, "format")
    if expected_type and kind != expected_type:
        # Exact, as python-tuf and tuf-js compare it: "Root" is not "root".
        raise VerificationError(
            f"{name}: is a {printable(kind, 40)!r} file where {expected_type!r} was expected", name, "type"
        )
    spec = signed.get("spec_version")
    if not isinstance(spec, str) or not _SPEC_VERSION.match(spec):
        raise VerificationError(
            f"{name}: spec_version {printable(spec, 40)!r} is not 1.MINOR or 1.MINOR.PATCH (TUF specification 1.x)",
            name,
            "spec_version",
        )
    if unsafe and (value := _unsafe_integer_in(signed)) is not None:
        raise VerificationError(
            f"{name}: holds the integer {value}, beyond 2**53 - 1, which JavaScript clients (tuf-js) cannot verify",
            name,
            "format",
        )
    try:
        payload = canonical_bytes(signed, parsed=True)
    except Exception as err:
        raise VerificationError(f"{name}: 'signed' cannot be canonicalised ({err})", name, "format") from err
    return Envelope(name=name, raw=data, signed=signed, signatures=signatures, payload=payload)


# --------------------------------------------------------------------------- structure, as python-tuf loads it


def _fail(env: Envelope, message: str, check: str = "format") -> VerificationError:
    """A VerificationError about ``env``."""
    return VerificationError(f"{env.name}: {message}", env.name, check)


def key_token(keyid: str, key_dict: dict[str, Any]) -> tuple[str, ...]:
    """A hashable stand-in for one key object of a metadata file, equal for equal content: the key a cache of
    what was already loaded from it is looked up by. The usual shape (keytype, scheme and a public value,
    nothing else) is read directly; any other is compared by its repr."""
    keyval = key_dict.get("keyval")
    if len(key_dict) == 3 and type(keyval) is dict and len(keyval) == 1:
        keytype, scheme, public = key_dict.get("keytype"), key_dict.get("scheme"), keyval.get("public")
        if type(keytype) is str and type(scheme) is str and type(public) is str:
            return (keyid, keytype, scheme, public)
    return (keyid, repr(key_dict))


#: Key objects (key id, repr) already loaded by securesystemslib in this process, at most this many.
_LOADABLE_KEYS: set[tuple[str, ...]] = set()
_MAX_REMEMBERED_KEYS = 512


def _check_keys(env: Envelope, keys_dict: object, where: str) -> None:
    """Every key of a ``keys`` object must be one TUF clients load (securesystemslib's registry), used or not."""
    if not isinstance(keys_dict, dict):
        raise _fail(env, f"{where} 'keys' is not an object", "key")
    for keyid, key_dict in keys_dict.items():
        if not isinstance(key_dict, dict):
            raise _fail(env, f"key {printable(keyid[:12])} in {where} is not an object", "key")
        seen = key_token(keyid, key_dict)  # the same key object in version after version is loaded once
        if seen in _LOADABLE_KEYS:
            continue
        from securesystemslib.signer import Key  # here, not at the top: a file only parsed (status, export) needs none

        try:
            # from_dict takes the fields out of what it is given: it gets a copy (two levels: a key is that deep)
            Key.from_dict(keyid, {k: copy.copy(v) for k, v in key_dict.items()})
        except Exception as err:  # whatever the key class raises, clients refuse the file
            detail = printable(str(err), 120)
            raise _fail(
                env, f"key {printable(keyid[:12])} in {where} is not a key TUF clients can load ({detail})", "key"
            ) from err
        if len(_LOADABLE_KEYS) >= _MAX_REMEMBERED_KEYS:
            _LOADABLE_KEYS.clear()
        _LOADABLE_KEYS.add(seen)


def check_role_shape(env: Envelope, role_dict: object, role: str) -> None:
    """A role: an object with a list of unique string keyids and a threshold of at least 1."""
    if not isinstance(role_dict, dict):
        raise _fail(env, f"role {printable(role)!r} is not an object")
    keyids = role_dict.get("keyids")
    threshold = role_dict.get("threshold")
    if not isinstance(keyids, list) or not all(isinstance(k, str) for k in keyids):
        raise _fail(env, f"role {printable(role)!r} has no keyid list")
    if not _is_int(threshold, 1):
        raise _fail(env, f"role {printable(role)!r} has threshold {printable(threshold, 40)!r}; it must be at least 1")
    if len(set(keyids)) != len(keyids):
        raise _fail(env, f"role {printable(role)!r} lists a keyid twice")


def _check_common(env: Envelope) -> datetime:
    """The expiry every file must have in a readable form."""
    return parse_tuf_date(env.signed.get("expires"), env.name)


def _check_root(env: Envelope) -> None:
    """Root structure: four roles exactly, loadable keys, boolean consistent_snapshot, a date."""
    signed = env.signed
    _check_common(env)
    roles = signed.get("roles")
    if not isinstance(roles, dict) or set(roles) != set(TOP_LEVEL_ROLES):
        found = ", ".join(printable(r, 40) for r in roles) if isinstance(roles, dict) else "none"
        raise _fail(env, f"root must define exactly the roles {', '.join(TOP_LEVEL_ROLES)} (found: {found})")
    for role in TOP_LEVEL_ROLES:
        check_role_shape(env, roles[role], role)
    _check_keys(env, signed.get("keys"), "root")
    if "consistent_snapshot" in signed and not isinstance(signed["consistent_snapshot"], bool):
        raise _fail(env, "'consistent_snapshot' must be true or false")


def _check_hashes(env: Envelope, hashes: object, what: str) -> None:
    """A non-empty object of strings (python-tuf's BaseFile._validate_hashes)."""
    if not isinstance(hashes, dict) or not hashes:
        raise _fail(env, f"{what} has no hashes (a non-empty object is required)", "meta")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in hashes.items()):
        raise _fail(env, f"{what} has a hash that is not a string", "meta")


def _check_metafile(env: Envelope, name: str, meta: object) -> None:
    """One ``meta`` entry: a positive version, and a length and hashes that are well formed when given."""
    what = f"meta entry {printable(name, 80)!r}"
    if not isinstance(meta, dict):
        raise _fail(env, f"{what} is not an object", "meta")
    if not _is_int(meta.get("version"), 1):
        raise _fail(env, f"{what} has no positive integer version", "meta")
    # An explicit null is refused: python-tuf drops it, so the bytes it checks a signature over differ.
    if "length" in meta and not _is_int(meta["length"], 0):
        raise _fail(env, f"{what} has length {printable(meta['length'], 40)!r}; it must be an integer >= 0", "meta")
    if "hashes" in meta:
        _check_hashes(env, meta["hashes"], what)


def _check_timestamp(env: Envelope) -> None:
    """Timestamp structure: ``meta`` holds snapshot.json and nothing else."""
    _check_common(env)
    meta = env.signed.get("meta")
    if not isinstance(meta, dict) or "snapshot.json" not in meta:
        raise _fail(env, "has no entry for snapshot.json", "meta")
    if set(meta) != {"snapshot.json"}:
        # python-tuf keeps only snapshot.json and checks signatures over what it keeps.
        raise _fail(env, "'meta' lists files other than snapshot.json", "meta")
    _check_metafile(env, "snapshot.json", meta["snapshot.json"])


def _check_snapshot(env: Envelope) -> None:
    """Snapshot structure: every ``meta`` entry well formed."""
    _check_common(env)
    meta = env.signed.get("meta")
    if not isinstance(meta, dict):
        raise _fail(env, "'meta' is not an object", "meta")
    for name, entry in meta.items():
        _check_metafile(env, name, entry)


def _check_targets(env: Envelope) -> None:
    """Targets structure: target entries and delegations as python-tuf loads them."""
    _check_common(env)
    targets = env.signed.get("targets")
    if not isinstance(targets, dict):
        raise _fail(env, "'targets' is not an object", "target")
    for path, info in targets.items():
        what = f"target {printable(path, 80)!r}"
        if not isinstance(info, dict):
            raise _fail(env, f"{what} is not an object", "target")
        if not _is_int(info.get("length"), 0):
            raise _fail(env, f"{what} has no length (an integer >= 0)", "target")
        if not isinstance(info.get("hashes"), dict) or not info["hashes"]:
            raise _fail(env, f"{what} has no hashes (a non-empty object is required)", "target")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in info["hashes"].items()):
            raise _fail(env, f"{what} has a hash that is not a string", "target")
    if "delegations" in env.signed:
        _check_delegations(env, env.signed["delegations"])


def _check_cache_name(env: Envelope, name: str) -> None:
    """A client stores a role as quote(name).json; past 255 bytes no file system holds it and the client fails."""
    if len(quote(name, safe="").encode()) + len(".json") > _MAX_FILE_NAME:
        raise _fail(
            env,
            f"delegates to a role named {printable(name, 40)!r}... whose file name clients cannot store "
            f"(more than {_MAX_FILE_NAME} bytes)",
            "delegation",
        )


def _check_delegations(env: Envelope, delegations: object) -> None:
    """Delegations: loadable keys, exactly one of roles and succinct_roles, valid role entries."""
    if not isinstance(delegations, dict):
        raise _fail(env, "'delegations' is not an object", "delegation")
    _check_keys(env, delegations.get("keys"), "delegations")
    if ("roles" in delegations) == ("succinct_roles" in delegations):
        raise _fail(env, "delegations must have exactly one of 'roles' and 'succinct_roles'", "delegation")
    if "succinct_roles" in delegations:
        succinct = delegations["succinct_roles"]
        check_role_shape(env, succinct, "succinct_roles")
        bits = succinct.get("bit_length")
        # The spec allows 1..32 bits; every bin must be listed in the snapshot, so cap what we walk.
        if not _is_int(bits, 1) or bits > _MAX_SUCCINCT_BITS:
            raise _fail(
                env,
                f"succinct_roles bit_length {printable(bits, 40)!r} is not an integer from 1 to {_MAX_SUCCINCT_BITS}",
                "delegation",
            )
        prefix = succinct.get("name_prefix")
        if not isinstance(prefix, str):
            raise _fail(env, "succinct_roles has no name_prefix", "delegation")
        _check_cache_name(env, f"{prefix}-{'0' * len(f'{2**bits - 1:x}')}")
        return
    roles = delegations["roles"]
    if not isinstance(roles, list):
        raise _fail(env, "delegations 'roles' is not a list", "delegation")
    names: set[str] = set()
    for role_dict in roles:
        name = role_dict.get("name") if isinstance(role_dict, dict) else None
        if not isinstance(name, str) or not name:
            raise _fail(env, "a delegated role has no name", "delegation")
        shown = printable(name, 80)
        if name in TOP_LEVEL_ROLES:
            raise _fail(env, f"delegates to {shown!r}, a top-level role name", "delegation")
        if name in names:
            raise _fail(env, f"delegates to {shown!r} twice", "delegation")
        names.add(name)
        _check_cache_name(env, name)
        check_role_shape(env, role_dict, name)
        if not isinstance(role_dict.get("terminating"), bool):
            raise _fail(env, f"delegated role {shown!r} has no boolean 'terminating'", "delegation")
        if ("paths" in role_dict) == ("path_hash_prefixes" in role_dict):
            raise _fail(
                env,
                f"delegated role {shown!r} must have exactly one of 'paths' and 'path_hash_prefixes'",
                "delegation",
            )
        patterns = role_dict.get("paths", role_dict.get("path_hash_prefixes"))
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise _fail(env, f"delegated role {shown!r} has paths that are not a list of strings", "delegation")


_STRUCTURE = {
    "root": _check_root,
    "timestamp": _check_timestamp,
    "snapshot": _check_snapshot,
    "targets": _check_targets,
}


def load_envelope(name: str, data: bytes, role_type: str) -> Envelope:
    """Parse ``data`` as a ``role_type`` file and check its whole structure as python-tuf would.

    Raises:
        VerificationError: the file is malformed, of another type, or not loadable by clients.
    """
    env = parse_envelope(name, data, role_type)
    _STRUCTURE[role_type](env)
    return env


# --------------------------------------------------------------------------- delegations


def delegations_of(parent: Envelope) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, role object) of every role ``parent`` delegates to, succinct bins included (already well formed)."""
    delegations = parent.signed.get("delegations")
    if not isinstance(delegations, dict):
        return
    succinct = delegations.get("succinct_roles")
    if isinstance(succinct, dict):
        bits = succinct["bit_length"]
        width = len(f"{2**bits - 1:x}")
        for i in range(2**bits):
            yield f"{succinct['name_prefix']}-{i:0{width}x}", succinct
        return
    for role_dict in delegations["roles"]:
        yield role_dict["name"], role_dict
