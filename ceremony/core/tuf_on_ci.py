"""tuf-on-ci signing events in a git checkout: what awaits one keyholder's key, signing it in place, and the next
root version authored as tuf-on-ci itself would write it.

tuf-on-ci (theupdateframework/tuf-on-ci; Sigstore's public root is signed with it) keeps a repository in git:
``metadata/<role>.json``, every root version as ``metadata/root_history/N.root.json``, and a signing event is a
branch whose metadata awaits signatures, with a placeholder ``{"keyid": K, "sig": ""}`` for each key that may
sign. Its own signer (tuf-on-ci-sign) loads each file with python-tuf and writes it back with python-tuf's
``JSONSerializer``; its CI then checks thresholds, versions, expiry and key ids. So that both see nothing but a
signature added, this module writes exactly those bytes (``serialise``) and refuses a file python-tuf would
rewrite in any other way.

The checkout is read as hostile input: only regular files (never through a link), each bounded in size, role
names checked, ``root_history/`` holding nothing but ``N.root.json``. Which keys must sign never comes from the
file itself: root N needs the keys of root N-1 (from ``root_history/``) and its own, the targets role the
event's root's, a delegated role the delegation in ``targets.json`` (``thresholds.requirements_for``).
Root N-1, the base every root change is shown against, is itself checked: the chain ``root_history/1..N-1``
must verify (``verify.verify_root_chain``), its SHA-256 is shown for the keyholder to compare with the published
root, and it may be pinned. The event's keys and delegations must carry tuf-on-ci's key ids and no key twice in
a role, and an event root must pass the checks tuf-on-ci's CI makes, before anything is signed.

What it does not do: run git (the keyholder commits and pushes the files it names), open or close signing events,
accept invitations (``.signing-event-state``: tuf-on-ci-sign does that, and accepting rewrites the metadata),
or write ``timestamp.json``, ``snapshot.json`` or any root version but the event's.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.core import _txn
from ceremony.core import diff as _diff
from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import policy as _policy
from ceremony.core import repo_files as _repo_files
from ceremony.core import verify as _verify
from ceremony.core._json import canonical_bytes, loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.core.dates import format_date
from ceremony.core.envelope import load_envelope
from ceremony.core.signers import sign_as
from ceremony.core.thresholds import Requirement, ThresholdResult, evaluate, requirements_for
from ceremony.errors import InputFileError, PolicyError, SigningKeyError, UsageError, VerificationError

if TYPE_CHECKING:
    from securesystemslib.signer import Key, Signer
    from tuf.api.metadata import Metadata  # noqa: TID251 - types only

METADATA_DIR = "metadata"
HISTORY_DIR = _repo_files.TUF_ON_CI_HISTORY
#: tuf-on-ci-sign's record of open invitations to become a signer (``{"invites": {"@user": [roles]}}``).
STATE_FILE = ".signing-event-state"
TAG_KEYOWNER = "x-tuf-on-ci-keyowner"
TAG_ONLINE_URI = "x-tuf-on-ci-online-uri"
TAG_EXPIRY_PERIOD = "x-tuf-on-ci-expiry-period"
TAG_SIGNING_PERIOD = "x-tuf-on-ci-signing-period"
#: Roles the online signer (CI) writes: a signing event never changes them (tuf-on-ci-sign refuses if it does).
ONLINE_FILES = ("timestamp", "snapshot")
#: Entries looked at in metadata/: PEP 458's 16,384 hash bins and the top-level files fit with room to spare; a
#: repository with more role files than this is not one a keyholder signs.
MAX_ENTRIES = 65_536
#: Bytes of metadata read from one checkout in all (each file is bounded too): 16,384 bins listing 100,000 targets
#: are some 50 MB, so this is ample for a real repository and bounds what a hostile one makes ceremony parse.
MAX_TOTAL_BYTES = 256 * 1024 * 1024
MAX_STATE_BYTES = 64 * 1024
#: A key owner as tuf-on-ci names signers: "@" and a GitHub user name, lower case (tuf-on-ci-sign lowercases it).
_OWNER = re.compile(r"^@[a-z0-9](?:[a-z0-9-]{0,38})\Z")


# --------------------------------------------------------------------------- tuf-on-ci's forms


def serialise(obj: Mapping[str, Any]) -> bytes:
    """The bytes tuf-on-ci writes for a metadata object: python-tuf's ``JSONSerializer()``.

    One space of indent, ``": "`` after keys, keys sorted, ASCII with escapes, no newline at the end
    (tuf-on-ci's ``md.to_bytes(JSONSerializer())``). Lists (the signatures) keep their order.
    """
    return json.dumps(obj, indent=1, separators=(",", ": "), sort_keys=True).encode("ascii")


def keyid_of(key: Mapping[str, Any]) -> str:
    """tuf-on-ci's key id: SHA-256 of the canonical JSON of the whole key object, ``x-`` fields included.

    tuf-on-ci's CI refuses any other ("keyid does not match content hash"), and so do strict clients.
    """
    return hashlib.sha256(canonical_bytes(dict(key))).hexdigest()


def check_owner(text: str) -> str:
    """A key owner as tuf-on-ci names it: ``@`` and a GitHub user name, lower case (``alice`` -> ``@alice``).

    Raises:
        UsageError: anything else.
    """
    owner = text.strip().lower()
    owner = owner if owner.startswith("@") else f"@{owner}"
    if not _OWNER.match(owner):
        raise UsageError(
            f"key owner {printable(text, 60)!r}: give a GitHub user name (@name: letters, digits and '-'), "
            "as the keyholder's .tuf-on-ci-sign.ini names them"
        )
    return owner


def _owner_of(key: object) -> str:
    """The key's owner (or online signer) as a label, printable; '' when the key names none."""
    if not isinstance(key, dict):
        return ""
    value = key.get(TAG_KEYOWNER) or key.get(TAG_ONLINE_URI) or ""
    return printable(value, 80) if isinstance(value, str) else ""


# --------------------------------------------------------------------------- the checkout


@dataclass(frozen=True)
class RoleFile:
    """One ``metadata/<role>.json`` as read: the exact bytes, the parsed object and python-tuf's view of it."""

    role: str
    rel: str  # relative to metadata/
    raw: bytes
    obj: dict[str, Any]
    md: Metadata

    @property
    def version(self) -> int:
        """The file's version."""
        return _md.version(self.md)

    @property
    def exact(self) -> bool:
        """In tuf-on-ci's form: what python-tuf's JSONSerializer writes back for it, byte for byte."""
        return _md.to_dict(self.md) == self.obj and serialise(self.obj) == self.raw

    def check_exact(self, source: str) -> None:
        """Refuse to rewrite a file that is not in tuf-on-ci's form (more than a signature would change).

        Raises:
            InputFileError: naming the file.
        """
        if not self.exact:
            raise InputFileError(
                f"{source}: not in the form tuf-on-ci writes (python-tuf's JSONSerializer); signing it would rewrite "
                "more than a signature, so it is left alone"
            )


@dataclass
class Checkout:
    """A tuf-on-ci checkout, read once: its role files, its root history, open invitations."""

    path: Path
    metadata: Path
    files: dict[str, RoleFile]
    history: dict[int, Path]
    invites: dict[str, list[str]]
    #: Bytes of root_history/N.root.json as read once (by the base-chain check): what is verified, pinned, shown and
    #: decides who must sign is one read of each file, not a re-read a concurrent checkout could swap.
    history_raw: dict[int, bytes] = field(default_factory=dict)
    _history_parsed: dict[int, RoleFile] = field(default_factory=dict)

    def where(self, rel: str) -> str:
        """A file of the checkout as the operator finds it (``metadata/root.json``)."""
        return f"{METADATA_DIR}/{rel}"

    @property
    def root(self) -> RoleFile:
        """The checkout's root.json."""
        return self.files["root"]

    def history_root(self, version: int) -> RoleFile:
        """Root ``version`` from ``root_history/``.

        Raises:
            InputFileError: the checkout does not have it, or it is not valid root metadata.
        """
        if version in self._history_parsed:
            return self._history_parsed[version]
        path = self.history.get(version)
        rel = f"{HISTORY_DIR}/{version}.root.json"
        if path is None:
            raise InputFileError(
                f"{self.metadata / rel}: not found; tuf-on-ci keeps every root version in {HISTORY_DIR}/"
            )
        raw = self.history_raw.get(version)
        if raw is None:
            raw = read_bytes(path, "metadata file", _repo_files.DEFAULT_LIMITS.root, follow_symlinks=False)
            self.history_raw[version] = raw
        file = _role_file("root", rel, raw, str(path))
        if file.version != version:
            # A file named for one version holding another (root.json copied over the base) would make the event
            # its own base: no change shown, and who must sign taken from the file being signed.
            raise InputFileError(f"{path}: holds root version {file.version}, not {version} as its name says")
        self._history_parsed[version] = file
        return file

    @property
    def base(self) -> RoleFile | None:
        """Root N-1, the published root the event's root N changes (None for root 1, which has none)."""
        version = self.root.version
        return self.history_root(version - 1) if version > 1 else None


def _role_file(role: str, rel: str, raw: bytes, source: str) -> RoleFile:
    """Parse one role file (strict JSON, python-tuf's rules, the type its name says).

    Raises:
        InputFileError: not valid metadata, or the wrong type for its name.
    """
    obj = loads_strict(raw, source)
    if not isinstance(obj, dict):
        raise InputFileError(f"{source}: not a metadata object")
    md = _md.from_dict(obj, source)
    expected = role if role in ("root", *ONLINE_FILES) else "targets"
    if _md.role_type(md) != expected:
        raise InputFileError(f"{source}: holds {_md.role_type(md)} metadata where {expected} metadata belongs")
    return RoleFile(role, rel, raw, obj, md)


def _read_state(path: Path) -> dict[str, list[str]]:
    """The open invitations of ``.signing-event-state``: signer -> roles.

    Raises:
        InputFileError: not a regular file, too large, or not tuf-on-ci's form.
    """
    obj = loads_strict(read_bytes(path, "signing event state", MAX_STATE_BYTES, follow_symlinks=False), str(path))
    invites = obj.get("invites") if isinstance(obj, dict) else None
    if not isinstance(invites, dict) or not all(
        isinstance(who, str) and isinstance(roles, list) and all(isinstance(r, str) for r in roles)
        for who, roles in invites.items()
    ):
        raise InputFileError(f"{path}: not tuf-on-ci's signing event state ({{'invites': {{'@user': [roles]}}}})")
    return {who: list(roles) for who, roles in invites.items() if roles}


def _entries(metadata: Path) -> list[str]:
    """The names in metadata/, none of them a symbolic link, at most MAX_ENTRIES.

    Raises:
        InputFileError: a link (named), too many entries, or the directory cannot be listed.
    """
    names: list[str] = []
    try:
        with os.scandir(metadata) as entries:
            for entry in entries:
                if entry.is_symlink():
                    raise InputFileError(
                        f"{metadata / printable(entry.name, 120)}: a symbolic link; a tuf-on-ci checkout's metadata "
                        "is read only from the files themselves"
                    )
                names.append(entry.name)
                if len(names) > MAX_ENTRIES:
                    raise InputFileError(f"{metadata}: more than {MAX_ENTRIES:,} entries; not a tuf-on-ci checkout")
    except OSError as err:
        raise InputFileError(f"{metadata}: cannot list the metadata directory ({err.strerror})") from err
    return names


def _refuse_journal(metadata: Path) -> None:
    """A ceremony journal in a checkout is never replayed: what it would write was never shown to anyone.

    git carries a ``metadata/.journal/`` like any other directory, so an event's branch could bring one that
    rewrites ``root_history/`` (the base the keyholder's diff is computed against) on the keyholder's disk
    alone, before any question. Our own write leaves one only when killed between its two files; restoring
    the files from git and signing again loses nothing but that signature.

    Raises:
        InputFileError: naming the directory and how to remove it.
    """
    journal = metadata / _txn.JOURNAL_DIR
    if not journal.exists():
        return
    if journal.is_dir():
        with contextlib.suppress(OSError):
            journal.rmdir()  # an empty one (left by a write that could not remove it) holds nothing to replay
        if not journal.exists():
            return
    raise InputFileError(
        f"{journal}: a ceremony journal (a signature interrupted between root.json and root_history/, or one the "
        "checkout carries); it is not replayed in a tuf-on-ci checkout, since what it writes was never reviewed. "
        f"Remove it and restore the metadata from git, then sign again: rm -rf {METADATA_DIR}/{_txn.JOURNAL_DIR} "
        f"&& git checkout -- {METADATA_DIR}"
    )


def open_checkout(path: Path) -> Checkout:
    """Read the metadata of a tuf-on-ci checkout at ``path`` (its top directory), as hostile input.

    Nothing is written. The base chain ``root_history/1..N-1`` is verified (``verify.verify_root_chain``: each
    root signed by a threshold of its predecessor's root keys and of its own, every version present, each
    file holding the version its name says), so the base an event's diff is computed against is at least a
    root its predecessors signed; that it is the published one, the keyholder checks by its SHA-256
    (``SigningEvent.describe``) or a pin (``find_awaiting``'s ``base``).

    Raises:
        InputFileError: no metadata/ directory, a link or another non-regular file where metadata is, a file
            too large or more metadata than MAX_TOTAL_BYTES, a name that is not a role, ``root_history/``
            holding anything but ``N.root.json``, a file that is not metadata of its role's type, ``root.json``
            missing, or a ceremony journal in metadata/.
        VerificationError: the base chain ``root_history/1..N-1`` does not verify.
    """
    top = Path(path)
    metadata = top / METADATA_DIR
    if not top.is_dir():
        raise InputFileError(f"{top}: not a directory (give the top of a tuf-on-ci checkout)")
    if metadata.is_symlink() or not metadata.is_dir():
        raise InputFileError(f"{metadata}: not a directory of this checkout (a tuf-on-ci checkout has metadata/)")
    names = _entries(metadata)
    journal = metadata / _txn.JOURNAL_DIR
    if journal.exists() and not journal.is_dir():
        raise InputFileError(f"{journal}: not a directory of ceremony's own; refused")
    _refuse_journal(metadata)
    history = {
        int(name.split(".")[0]): where for name, where in _repo_files._root_history(metadata, set(names)).items()
    }
    files: dict[str, RoleFile] = {}
    invites: dict[str, list[str]] = {}
    total = 0
    for name in sorted(names):
        where = metadata / name
        if name == STATE_FILE:
            invites = _read_state(where)
        elif name.endswith(".json"):
            role = _policy.check_role_name(name.removesuffix(".json"), str(where))
            limits = _repo_files.DEFAULT_LIMITS
            limit = limits.root if role == "root" else limits.timestamp if role == "timestamp" else limits.targets
            if role == "snapshot":
                limit = limits.snapshot
            raw = read_bytes(where, "metadata file", limit, follow_symlinks=False)
            total += len(raw)
            if total > MAX_TOTAL_BYTES:
                raise InputFileError(
                    f"{metadata}: more than {MAX_TOTAL_BYTES:,} bytes of metadata; not a repository a keyholder signs"
                )
            files[role] = _role_file(role, name, raw, str(where))
    if "root" not in files:
        raise InputFileError(f"{metadata / 'root.json'}: not found; is this a tuf-on-ci checkout?")
    checkout = Checkout(top, metadata, files, history, invites)
    _check_root_history(checkout)
    _verify_base_chain(checkout)
    return checkout


def _verify_base_chain(checkout: Checkout) -> None:
    """``root_history/1..N-1`` is a root chain ceremony's verifier accepts (``verify.verify_root_chain``).

    Without it the base could be anything: root N's own content under the name N-1 (no change shown), or
    N-1 rewritten to hide a key root N adds (e1 of the review). The trusted start is 1.root.json, which must
    hold version 1: tuf-on-ci keeps every root from the first.

    Raises:
        InputFileError: a root version below N missing.
        VerificationError: a signature threshold, a version or a file's structure fails (naming the file).
    """
    version = checkout.root.version
    if version <= 1:
        return
    missing = [v for v in range(1, version) if v not in checkout.history]
    if missing:
        raise InputFileError(
            f"{checkout.metadata / HISTORY_DIR / f'{missing[0]}.root.json'}: not found; tuf-on-ci keeps every root "
            f"version there, and the base root v{version - 1} is checked from version 1"
        )
    files = {}
    total = 0
    for v in range(1, version):
        raw = read_bytes(checkout.history[v], "metadata file", _repo_files.DEFAULT_LIMITS.root, follow_symlinks=False)
        checkout.history_raw[v] = raw
        total += len(raw)
        if total > MAX_TOTAL_BYTES:
            raise InputFileError(f"{checkout.metadata / HISTORY_DIR}: more than {MAX_TOTAL_BYTES:,} bytes of roots")
        files[f"{v}.root.json"] = raw
    where = f"{checkout.metadata / HISTORY_DIR}/"
    try:
        trusted = load_envelope("1.root.json", files["1.root.json"], "root")
        if trusted.version != 1:
            raise VerificationError(
                f"1.root.json: holds root version {trusted.version}, not 1", "1.root.json", "version"
            )
        _verify.verify_root_chain(files, trusted, _verify.Report())
    except VerificationError as err:
        raise VerificationError(
            f"{where}{err}; the base of this signing event is not a verified root chain, so nothing is shown or signed",
            f"{where}{err.file}" if err.file else None,
            err.check,
        ) from err


def _check_root_history(checkout: Checkout) -> None:
    """root.json is the newest root and ``root_history/N.root.json`` holds the same bytes (tuf-on-ci writes both).

    Raises:
        InputFileError: naming the file that breaks it.
    """
    version = checkout.root.version
    newest = max(checkout.history, default=0)
    history_file = checkout.metadata / HISTORY_DIR / f"{version}.root.json"
    if newest > version:
        raise InputFileError(f"{checkout.metadata / HISTORY_DIR}: holds root version {newest}, newer than root.json")
    if version not in checkout.history:
        raise InputFileError(f"{history_file}: not found; tuf-on-ci writes every root version there and root.json")
    raw = read_bytes(checkout.history[version], "metadata file", _repo_files.DEFAULT_LIMITS.root, False)
    if raw != checkout.root.raw:
        raise InputFileError(f"{history_file}: differs from metadata/root.json, which holds the same version")


def _refuse_invites(checkout: Checkout) -> None:
    """An event with open invitations is not final: accepting one rewrites the metadata and clears every signature.

    Raises:
        UsageError: naming who is invited to what.
    """
    if checkout.invites:
        who = "; ".join(
            f"{printable(k, 40)}: {', '.join(printable(r, 40) for r in v)}" for k, v in checkout.invites.items()
        )
        raise UsageError(
            f"{checkout.metadata / STATE_FILE}: this signing event has open invitations ({who}); an invitee accepts "
            "with tuf-on-ci-sign, which changes the metadata and clears every signature, so sign once none is open"
        )


# --------------------------------------------------------------------------- who must sign what


def _previous_root(checkout: Checkout) -> Metadata:
    """The root the event's root must also be signed by: root N-1 from root_history/ (root 1: itself)."""
    version = checkout.root.version
    return checkout.history_root(version - 1).md if version > 1 else checkout.root.md


def requirements(checkout: Checkout, role: str) -> list[Requirement]:
    """Which keys must sign ``role``'s file: never from the file itself.

    Root N: the root keys of root N-1 and its own (thresholds of both); targets: the event's root's targets
    role; a delegated role: its delegation in the event's targets.json. Online roles and roles nobody
    delegates: none (they are not signed here).

    Raises:
        InputFileError: root N-1 is missing from root_history/ or is not valid root metadata.
    """
    if role in ONLINE_FILES:
        return []
    md = checkout.files[role].md
    if role == "root":
        return requirements_for(_previous_root(checkout), {"root": md}, {}, {})["root"]
    if role == "targets":
        return requirements_for(checkout.root.md, {"targets": md}, {}, {})["targets"]
    targets = checkout.files.get("targets")
    if targets is None or _md.delegation(targets.md, role) is None:
        return []
    return requirements_for(checkout.root.md, {role: md}, {role: "targets"}, {"targets": targets.md})[role]


def _check_placeholders(checkout: Checkout, file: RoleFile, reqs: Sequence[Requirement]) -> None:
    """Every signature entry names a key that may sign the file: an entry for any other key was not written by tuf-on-ci.

    Raises:
        InputFileError: naming the entry.
    """
    allowed = {keyid for req in reqs for keyid in req.keys}
    for keyid in _md.signatures(file.md):
        if keyid not in allowed:
            raise InputFileError(
                f"{checkout.metadata / file.rel}: a signature entry for key {printable(keyid[:16])}, which is not a "
                f"key of role {printable(file.role, 80)} (its keys come from the delegating metadata); refused"
            )


def _check_keys(source: str, keys: Mapping[str, Any], roles: Mapping[str, Sequence[str]]) -> None:
    """Every key id is tuf-on-ci's hash of its key, and no role lists one public key under two key ids.

    A key id that is not its key's hash lets key material change under an id the keyholder knows (python-tuf
    never recomputes it), and tuf-on-ci's CI refuses it; one key under two ids counts twice for python-tuf's
    ``verify_delegate``, which counts key ids, so one keyholder would meet a threshold of two alone.

    Raises:
        InputFileError: naming the file, the key and the role.
    """
    for keyid, key in keys.items():
        if not isinstance(key, dict) or keyid_of(key) != keyid:
            raise InputFileError(
                f"{source}: key {printable(keyid[:16])} has a key id that is not the hash of its content (tuf-on-ci's "
                "CI refuses it: 'keyid does not match content hash'); other key material may hide under a known id, "
                "so it is refused before anyone signs it"
            )
    for role, keyids in roles.items():
        seen: dict[bytes, str] = {}
        for keyid in keyids:
            key = keys.get(keyid)
            if not isinstance(key, dict):
                continue  # a key id with no key: no key to count twice (thresholds count it as unusable)
            identity = _keys.public_key_identity(_keys.public_key_from_metadata(keyid, key))
            if identity in seen:
                raise InputFileError(
                    f"{source}: role {printable(role, 80)} lists one public key under two key ids "
                    f"({printable(seen[identity][:12])} and {printable(keyid[:12])}); python-tuf counts key ids, so "
                    "that key alone would count twice toward the threshold; refused before anyone signs it"
                )
            seen[identity] = keyid


def _check_event_keys(checkout: Checkout) -> None:
    """``_check_keys`` for the event's root (every role) and every delegation a targets file of it makes.

    Raises:
        InputFileError: naming the file, the key and the role.
    """
    signed = checkout.root.obj["signed"]
    _check_keys(checkout.where("root.json"), signed["keys"], {r: role["keyids"] for r, role in signed["roles"].items()})
    for file in checkout.files.values():
        if _md.role_type(file.md) != "targets":
            continue
        delegations = file.obj["signed"].get("delegations")
        if not isinstance(delegations, dict):
            continue
        roles = {r["name"]: r["keyids"] for r in delegations.get("roles") or []}
        if isinstance(delegations.get("succinct_roles"), dict):
            roles["succinct_roles (every bin)"] = delegations["succinct_roles"]["keyids"]
        _check_keys(checkout.where(file.rel), delegations.get("keys") or {}, roles)


def _days(value: object) -> int | None:
    """A period of tuf-on-ci's (whole days, at least 1), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


#: How the refusals of tuf-on-ci CI's checks end: the file could never be merged, so no one should sign it.
_CI_REFUSES = "tuf-on-ci's CI refuses it, so it is refused here before anyone signs it"


def _check_expiry_period(where: str, file: RoleFile, now: datetime) -> None:
    """The file expires after ``now`` and within its ``x-tuf-on-ci-expiry-period`` of now (tuf-on-ci's CI, any role).

    Raises:
        InputFileError: naming the file and the rule.
    """
    period = _days(file.obj["signed"].get(TAG_EXPIRY_PERIOD))
    if period is None:
        raise InputFileError(f"{where}: has no {TAG_EXPIRY_PERIOD} (whole days); {_CI_REFUSES}")
    expires = _md.expires(file.md)
    if expires > now + timedelta(days=period):
        raise InputFileError(
            f"{where}: expires {format_date(expires)}, beyond its {TAG_EXPIRY_PERIOD} of {period} days from now; "
            f"{_CI_REFUSES}"
        )
    if expires <= now:
        raise InputFileError(f"{where}: expired already ({format_date(expires)}); nothing would be gained signing it")


def _check_event_root(where: str, root: RoleFile, now: datetime) -> None:
    """What tuf-on-ci's CI (``_validate_role``) refuses in a root, refused before the keyholder signs it.

    Expiry within ``x-tuf-on-ci-expiry-period`` of now (and after now), consistent_snapshot true, one online
    signer (timestamp and snapshot with the same keys and threshold), each online role with
    ``1 <= signing-period < expiry-period``. Key ids: ``_check_event_keys``; version N-1+1: the base is
    ``root_history/N-1`` by construction.

    Raises:
        InputFileError: naming the file and the rule.
    """
    signed = root.obj["signed"]
    ci = _CI_REFUSES
    _check_expiry_period(where, root, now)
    if signed.get("consistent_snapshot") is not True:
        raise InputFileError(
            f"{where}: consistent_snapshot is not true (tuf-on-ci publishes consistent snapshots); {ci}"
        )
    roles = signed["roles"]
    timestamp, snapshot = roles["timestamp"], roles["snapshot"]
    if timestamp["keyids"] != snapshot["keyids"] or timestamp["threshold"] != snapshot["threshold"]:
        raise InputFileError(
            f"{where}: timestamp and snapshot have different keys or thresholds (one online signer signs both); {ci}"
        )
    for name in ONLINE_FILES:
        expiry, signing = _days(roles[name].get(TAG_EXPIRY_PERIOD)), _days(roles[name].get(TAG_SIGNING_PERIOD))
        if expiry is None or signing is None or signing >= expiry:
            raise InputFileError(
                f"{where}: role {name}: {TAG_SIGNING_PERIOD} {printable(roles[name].get(TAG_SIGNING_PERIOD), 20)} and "
                f"{TAG_EXPIRY_PERIOD} {printable(roles[name].get(TAG_EXPIRY_PERIOD), 20)} are not whole days with "
                f"1 <= signing < expiry; {ci}"
            )


def _x_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ``x-`` fields of one object (tuf-on-ci's periods, owners, online URIs)."""
    return {k: v for k, v in obj.items() if isinstance(k, str) and k.startswith("x-")}


def _field_lines(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What diff.describe_change does not show between two roots: ``x-`` fields, and key material under a kept id.

    A key whose object changes under the same key id is signed in as other key material (the id the keyholder
    knows no longer names the key); an ``x-tuf-on-ci-expiry-period`` or an online URI is what tuf-on-ci's
    signer and CI act on.
    """
    lines: list[str] = []

    def changes(label: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        a, b = _x_fields(before), _x_fields(after)
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                was = printable(a[name], 100) if name in a else "(none)"
                now = printable(b[name], 100) if name in b else "(none)"
                lines.append(f"  {label}{printable(name, 60)}: {was} -> {now}")

    changes("", old, new)
    old_roles, new_roles = old.get("roles") or {}, new.get("roles") or {}
    for role in sorted(set(old_roles) & set(new_roles)):
        changes(f"role {printable(role, 40)} ", old_roles[role], new_roles[role])
    old_keys, new_keys = old.get("keys") or {}, new.get("keys") or {}
    for keyid in sorted(set(old_keys) & set(new_keys)):
        before, after = old_keys[keyid], new_keys[keyid]
        if before == after:
            continue
        what = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        lines.append(
            f"  key {printable(keyid[:12])} CHANGED under the same key id ({', '.join(printable(w, 40) for w in what)}): "
            "other key material or fields than the base root has for it"
        )
        changes(f"key {printable(keyid[:12])} ", before, after)
    online = [(old_roles.get(r) or {}, new_roles.get(r) or {}) for r in ONLINE_FILES]
    if any((a.get("keyids"), a.get("threshold")) != (b.get("keyids"), b.get("threshold")) for a, b in online):
        same = all(
            a.get("threshold") == b.get("threshold") and _identities(a, old_keys) == _identities(b, new_keys)
            for a, b in online
        )
        if same:  # Sigstore's v12: the online key's id recomputed, the key itself kept
            lines.append("  the online signer keeps its key, under a new key id")
        else:
            uris = sorted({_owner_of(new_keys.get(k)) or k[:12] for _a, b in online for k in b.get("keyids") or []})
            lines.append(
                f"  the ONLINE SIGNER CHANGES (timestamp/snapshot keys now: {', '.join(uris)}): make sure the "
                "maintainers planned this online key rotation"
            )
    return lines


def _identities(role: Mapping[str, Any], keys: Mapping[str, Any]) -> set[bytes | str]:
    """The public keys a role lists (``keys.public_key_identity``; a key that cannot be loaded: its key id)."""
    found: set[bytes | str] = set()
    for keyid in role.get("keyids") or []:
        try:
            found.add(_keys.public_key_identity(_keys.public_key_from_metadata(keyid, keys[keyid])))
        except (KeyError, TypeError, SigningKeyError):
            found.add(keyid)
    return found


def _base_lines(base: RoleFile) -> list[str]:
    """The base root's SHA-256, and where the keyholder finds the published root to compare it with."""
    digest = hashlib.sha256(base.raw).digest()
    return [
        f"  base: {METADATA_DIR}/{base.rel} (root v{base.version}; its chain from v1 verified here), file SHA-256:",
        f"    {digest.hex()}",
        f"    as words: {_diff.digest_words(digest)}",
        "    compare it with the published root: git show origin/main:metadata/root.json | sha256sum "
        f"(or the repository's published {base.version}.root.json); a different base hides what changes",
    ]


@dataclass
class Awaiting:
    """One role file that awaits this key: where it is written, the keys this key signs as, the thresholds."""

    file: RoleFile
    writes: tuple[str, ...]  # paths relative to metadata/
    sign_as: list[tuple[str, Key]]
    requirements: list[Requirement]
    lines: list[str]

    @property
    def payload(self) -> bytes:
        """The canonical bytes a signature covers."""
        return _md.signed_bytes(self.file.md)


@dataclass
class SigningEvent:
    """What a key may sign in a checkout: the roles awaiting it, and why each other role it belongs to does not."""

    checkout: Checkout
    awaiting: list[Awaiting]
    notes: list[str]

    def describe(self) -> tuple[list[str], str, str]:
        """Diff lines of every awaiting role, and the digest (hex, words) of what will be signed."""
        lines = [line for item in self.awaiting for line in item.lines]
        digest = _diff.payload_digest({item.file.role: item.payload for item in self.awaiting})
        return [printable(line) for line in lines], digest.hex(), _diff.digest_words(digest)


def _key_line(keyid: str, key: Key, label: str) -> str:
    """One key this key signs as."""
    owner = key.unrecognized_fields.get(TAG_KEYOWNER)
    who = f", {printable(owner, 60)}" if isinstance(owner, str) else ""
    return f"  signs as key {keyid[:12]} ({printable(key.scheme, 40)}{who}) for {label}"


def find_awaiting(
    checkout: Checkout, identity: bytes, *, now: datetime | None = None, base: bytes | None = None
) -> SigningEvent:
    """The roles of the checked-out event that await the key with public ``identity`` (``keys.public_key_identity``).

    A role awaits the key when the key is one that must sign it (``requirements``), its signature there is a
    placeholder, missing or invalid, and the role's thresholds are not all met yet: a version tuf-on-ci
    merged always meets them (its CI refuses anything else), so only an open signing event leaves one unmet.
    Without git there is no other way to tell the event's files from the repository's.

    Before anything is looked at, every key id of the event's root and delegations must be its key's hash and
    no role may list one key twice (``_check_event_keys``); a root that awaits the key must pass tuf-on-ci's
    CI checks as of ``now`` (``_check_event_root``). Its diff is against root N-1, with that file's SHA-256
    for the keyholder to compare with the published root; ``base``, when given, pins those bytes.

    Raises:
        UsageError: the event has open invitations.
        InputFileError: a signature entry for a key that may not sign the file, root N-1 missing, a key id or a
            key listed twice, a root tuf-on-ci's CI refuses.
        VerificationError: root N-1 is not the pinned ``base``.
        SigningKeyError: the key is not a key of any role of the checkout.
    """
    _refuse_invites(checkout)
    now = now or datetime.now(UTC)
    _check_event_keys(checkout)
    base_file = checkout.base
    if base is not None:
        if base_file is None:
            raise UsageError(f"{checkout.where('root.json')}: root v1 has no base to pin; sign it without one")
        if base != base_file.raw:
            raise VerificationError(
                f"{checkout.where(base_file.rel)}: differs from the pinned base (--base); the event's base is not "
                "the root you trust, so nothing is shown or signed",
                checkout.where(base_file.rel),
                "base",
            )
    root_reqs = requirements(checkout, "root")
    root_open = not all(evaluate(checkout.root.md, req, "root").verified for req in root_reqs)
    awaiting: list[Awaiting] = []
    notes: list[str] = []
    member = False
    order = ["root", "targets", *sorted(r for r in checkout.files if r not in ("root", "targets", *ONLINE_FILES))]
    for role in (r for r in order if r in checkout.files):
        file = checkout.files[role]
        reqs = requirements(checkout, role)
        if not reqs:
            continue
        _check_placeholders(checkout, file, reqs)
        mine: dict[str, tuple[Key, list[str]]] = {}
        for req in reqs:
            for keyid, key in req.keys.items():
                if _keys.public_key_identity(key) == identity:
                    mine.setdefault(keyid, (key, []))[1].append(req.label)
        if not mine:
            continue
        member = True
        name = f"{role} v{file.version}"
        payload = _md.signed_bytes(file.md)
        signatures = _md.signatures(file.md)
        pending = [
            k for k, (key, _l) in mine.items() if not _keys.signature_is_valid(key, signatures.get(k, ""), payload)
        ]
        if not pending:
            notes.append(f"{name}: signed by this key already")
            continue
        statuses = [evaluate(file.md, req, role) for req in reqs]
        if all(status.verified for status in statuses):
            notes.append(f"{name}: its thresholds are met ({'; '.join(s.describe() for s in statuses)}); not signed")
            continue
        file.check_exact(str(checkout.metadata / file.rel))
        writes = (file.rel, f"{HISTORY_DIR}/{file.version}.root.json") if role == "root" else (file.rel,)
        if role == "root":
            _check_event_root(checkout.where(file.rel), file, now)
            old = _md.signed_dict(base_file.md) if base_file is not None else None
            lines = _diff.describe_change(
                f"{name} (against {HISTORY_DIR}/{file.version - 1}.root.json)" if old is not None else name,
                old,
                _md.signed_dict(file.md),
            )
            if base_file is not None and old is not None:  # root v1 has no base
                lines += _field_lines(old, _md.signed_dict(file.md))
                lines += _base_lines(base_file)
        else:
            _check_expiry_period(checkout.where(file.rel), file, now)
            lines = [
                *_diff.describe_change(name, None, _md.signed_dict(file.md)),
                "  (no base without git: the role's whole content is shown; compare it with the event's pull request)",
            ]
            if role == "targets" and root_open:
                lines.append(
                    f"  its keys and threshold come from root v{checkout.root.version} of this event, which still "
                    "awaits signatures"
                )
        lines += [f"  now: {status.describe()}" for status in statuses]
        lines += [_key_line(k, mine[k][0], " and ".join(mine[k][1])) for k in pending]
        awaiting.append(Awaiting(file, writes, [(k, mine[k][0]) for k in pending], reqs, lines))
    if not member:
        version = checkout.root.version
        roots = f"root v{version}" + (f" and v{version - 1}" if version > 1 else "")
        raise SigningKeyError(
            f"{checkout.path}: this key is not a key of any role that is signed offline here ({roots}, targets, "
            "delegations); nothing was signed"
        )
    if not awaiting:
        raise SigningKeyError(f"nothing awaits this key in {checkout.path}: {'; '.join(notes)}")
    return SigningEvent(checkout, awaiting, notes)


# --------------------------------------------------------------------------- signing in place


def _with_signature(obj: dict[str, Any], keyid: str, sig: str) -> None:
    """Put ``sig`` in place of ``keyid``'s entry (placeholder or invalid), keeping the list order; append if none."""
    for entry in obj["signatures"]:
        if entry.get("keyid") == keyid:
            entry["sig"] = sig
            return
    obj["signatures"].append({"keyid": keyid, "sig": sig})


@dataclass(frozen=True)
class SignResult:
    """What signing wrote: the files (as the keyholder commits them) and where every threshold stands now."""

    files: list[str]
    statuses: list[ThresholdResult]


def sign_event(event: SigningEvent, signer_for: Callable[[Key], Signer]) -> SignResult:
    """Sign every awaiting role with the key, verify each signature, and write the files all-or-nothing.

    Each signature replaces its placeholder in place and the file is written in tuf-on-ci's form, so the only
    change in the files is the signature. Root is written to ``root.json`` and ``root_history/N.root.json``
    with the same bytes. Both go through the journal (``_txn``, rooted at metadata/, whose paths are one level
    deep): a kill between the two leaves a committed entry, never one file signed and the other not; it is
    not replayed in a checkout (``_refuse_journal``): the next command says how to remove it and sign again.

    Raises:
        SigningKeyError: a signature does not verify (nothing is written).
        InputFileError: a file changed on disk since it was read (nothing is written).
        PassphraseError / HsmError: unlocking or using the key failed.
    """
    checkout = event.checkout
    staged: dict[str, bytes] = {}
    statuses: list[ThresholdResult] = []
    for item in event.awaiting:
        obj = copy.deepcopy(item.file.obj)
        payload = item.payload
        for keyid, key in item.sign_as:
            _with_signature(obj, keyid, sign_as(signer_for(key), key, payload))
        signed = _role_file(item.file.role, item.file.rel, serialise(obj), checkout.where(item.file.rel))
        signed.check_exact(checkout.where(item.file.rel))
        statuses += [evaluate(signed.md, req, item.file.role) for req in item.requirements]
        for rel in item.writes:
            staged[rel] = signed.raw
    for item in event.awaiting:  # the keyholder reviewed these bytes: refuse if anything else changed them since
        for rel in item.writes:
            now = read_bytes(checkout.metadata / rel, "metadata file", len(item.file.raw) + 1, follow_symlinks=False)
            if now != item.file.raw:
                raise InputFileError(
                    f"{checkout.metadata / rel}: changed while it was being signed; nothing was written"
                )
    _write_together(checkout.metadata, staged)
    return SignResult([checkout.where(rel) for rel in staged], statuses)


def _write_together(metadata: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (paths relative to metadata/) in one transaction, then drop the journal directory it made.

    The journal (``_txn``) serves any directory: rooted at metadata/, ``root.json`` and
    ``root_history/N.root.json`` are both paths it accepts. Its directory is removed when empty, so nothing
    of ours is left in the checkout for ``git add metadata`` to pick up.
    """
    try:
        with _txn.transaction(metadata) as txn:
            for rel, data in files.items():
                txn.write(rel, data)
    finally:
        _drop_empty_journal(metadata)


def _drop_empty_journal(metadata: Path) -> None:
    """Remove metadata/.journal when nothing is left in it (a committed entry that could not be applied stays)."""
    with contextlib.suppress(OSError):
        (metadata / _txn.JOURNAL_DIR).rmdir()


# --------------------------------------------------------------------------- authoring the next root


@dataclass(frozen=True)
class NewRootKey:
    """A key to add to the root role: its public key, the keyholder who owns it (``@name``), the token it is on."""

    public: Key
    owner: str
    token: str | None = None  # the token's serial (or label) for a key on a token: one root key per token


@dataclass
class RootProposal:
    """The next root version as tuf-on-ci writes it, ready to show and write."""

    checkout: Checkout
    version: int
    obj: dict[str, Any]
    raw: bytes
    lines: list[str]

    def describe(self) -> tuple[list[str], str, str]:
        """Diff lines and the digest (hex, words) of the new root's signed bytes."""
        # Through the same digest a keyholder's ``sign --tuf-on-ci`` shows (SigningEvent.describe), so the words agree.
        digest = _diff.payload_digest({"root": canonical_bytes(self.obj["signed"])})
        return [printable(line) for line in self.lines], digest.hex(), _diff.digest_words(digest)

    @property
    def writes(self) -> tuple[str, str]:
        """Where it is written, relative to metadata/."""
        return ("root.json", f"{HISTORY_DIR}/{self.version}.root.json")


def _find_root_key(signed: Mapping[str, Any], spec: str) -> str:
    """The root key ``spec`` names: ``@owner`` or a key id prefix (at least 8 hex digits).

    Raises:
        UsageError: no root key or several match.
    """
    keyids = signed["roles"]["root"]["keyids"]
    if spec.startswith("@"):
        owner = spec.lower()
        found = [k for k in keyids if signed["keys"].get(k, {}).get(TAG_KEYOWNER) == owner]
    elif re.fullmatch(r"[0-9a-f]{8,64}", spec):
        found = [k for k in keyids if k.startswith(spec)]
    else:
        raise UsageError(
            f"--revoke {printable(spec, 70)!r}: give a root key's owner (@name) or its key id (8+ hex digits)"
        )
    if len(found) != 1:
        owners = ", ".join(f"{k[:12]} {_owner_of(signed['keys'].get(k))}".strip() for k in keyids)
        what = "no root key" if not found else f"{len(found)} root keys"
        raise UsageError(f"--revoke {printable(spec, 70)!r}: {what} match (the root keys: {owners})")
    return found[0]


def _tagged(key: Mapping[str, Any]) -> bool:
    """A key tuf-on-ci recognises as a signer of the known-good root (it skips untagged, imported keys)."""
    return TAG_KEYOWNER in key or TAG_ONLINE_URI in key


def propose_root(
    checkout: Checkout,
    add: Sequence[NewRootKey],
    revoke: Sequence[str],
    threshold: int | None,
    expires_days: int | None,
    now: datetime,
    no_spare_ok: bool = False,
) -> RootProposal:
    """The next root version of a tuf-on-ci repository, as tuf-on-ci would write it for the same change.

    The checkout's root must be a finished version (its thresholds met): tuf-on-ci counts the new version
    from the known-good root, so the change is authored on a branch made from the repository's main branch.
    The new version is exactly +1, consistent_snapshot true, expires ``expires_days`` (default: the root's
    ``x-tuf-on-ci-expiry-period``, which it may not exceed) from ``now``; new keys carry
    ``x-tuf-on-ci-keyowner`` and tuf-on-ci's key id; a revoked key leaves the keys only when no role uses it
    (python-tuf's ``revoke_key``); placeholders name first the known-good root's root keys, then the new ones
    (tuf-on-ci's ``close``); every other field is kept.

    Raises:
        UsageError: open invitations, a --revoke that names no single root key, an owner not in tuf-on-ci's form.
        InputFileError: the new root would be refused by its signers (``_check_keys``, ``_check_event_root``:
            one key under two ids in a role, online periods tuf-on-ci's CI refuses).
        PolicyError: the checkout's root is an unfinished signing event, not a tuf-on-ci root, a key it holds has
            a key id tuf-on-ci's CI would refuse; or the threshold, spare key, keyholder, key type or expiry rules.
    """
    _refuse_invites(checkout)
    current = checkout.root
    version = current.version
    root_reqs = requirements(checkout, "root")
    statuses = [evaluate(current.md, req, "root") for req in root_reqs]
    if not all(status.verified for status in statuses):
        raise PolicyError(
            f"{checkout.where('root.json')}: root v{version} is a signing event still awaiting signatures "
            f"({'; '.join(s.describe() for s in statuses)}); author the next root on a branch made from the "
            "repository's main branch"
        )
    signed = copy.deepcopy(current.obj["signed"])
    period = signed.get(TAG_EXPIRY_PERIOD)
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise PolicyError(f"{checkout.where('root.json')}: has no {TAG_EXPIRY_PERIOD}; not a root tuf-on-ci manages")
    days = period if expires_days is None else expires_days
    _policy.check_expiry_days("root", days)
    if days > period:
        raise PolicyError(
            f"root: an expiry of {days} days is beyond the root's {TAG_EXPIRY_PERIOD} of {period} days; "
            "tuf-on-ci's CI refuses it"
        )
    for keyid, key in signed["keys"].items():
        if keyid_of(key) != keyid:
            raise PolicyError(
                f"{checkout.where('root.json')}: key {printable(keyid[:16])} has a key id that is not the hash of its "
                "content; tuf-on-ci's CI refuses such a root (fix the key ids with tuf-on-ci first)"
            )
    role = signed["roles"]["root"]
    for spec in revoke:
        keyid = _find_root_key(signed, spec.strip())
        role["keyids"].remove(keyid)
        if not any(keyid in r["keyids"] for r in signed["roles"].values()):
            del signed["keys"][keyid]
    root_keys: dict[str, Key] = {k: _keys.public_key_from_metadata(k, signed["keys"][k]) for k in role["keyids"]}
    tokens: dict[str, str | None] = {}
    for new in add:
        key = {**new.public.to_dict(), TAG_KEYOWNER: check_owner(new.owner)}
        _policy.check_profile_key(_policy.SIGSTORE_PROFILE, new.owner, new.public.scheme)
        keyid = keyid_of(key)
        same = [
            k
            for k, held in root_keys.items()
            if _keys.public_key_identity(held) == _keys.public_key_identity(new.public)
        ]
        if same:
            raise PolicyError(f"root: the key of {new.owner} is root key {same[0][:12]} already")
        signed["keys"][keyid] = key
        role["keyids"].append(keyid)
        root_keys[keyid] = new.public
        tokens[keyid] = new.token
    if threshold is not None:
        role["threshold"] = threshold
    _policy.check_distinct_keys("root", role["keyids"])
    before = current.obj["signed"]["roles"]["root"]
    # Re-signing the root's own keys and threshold as they are (a new expiry) makes no spare key fewer: it is not
    # refused for a lack of one (the repository chose it; a change of keys or threshold is checked).
    unchanged = role["keyids"] == before["keyids"] and role["threshold"] == before["threshold"]
    _policy.check_threshold("root", role["threshold"], len(role["keyids"]), no_spare_ok or unchanged)
    _policy.check_custody([(k[:12], signed["keys"][k].get(TAG_KEYOWNER), tokens.get(k)) for k in role["keyids"]])
    signed["version"] = version + 1
    signed["expires"] = format_date(now + timedelta(days=days))
    signed["consistent_snapshot"] = True
    placeholders = [
        k for k in current.obj["signed"]["roles"]["root"]["keyids"] if _tagged(current.obj["signed"]["keys"][k])
    ]
    placeholders += [k for k in role["keyids"] if k not in placeholders]
    obj = {"signatures": [{"keyid": k, "sig": ""} for k in placeholders], "signed": signed}
    where = checkout.where(f"{HISTORY_DIR}/{version + 1}.root.json")
    proposal = _role_file("root", "root.json", serialise(obj), where)
    proposal.check_exact(where)
    # What keyholders' ceremony (and tuf-on-ci's CI) would refuse is refused before it is written: periods kept
    # from the current root, one key under two ids in a role it keeps.
    _check_keys(where, signed["keys"], {r: role_["keyids"] for r, role_ in signed["roles"].items()})
    _check_event_root(where, proposal, now)
    lines = _diff.describe_change(f"root v{version + 1}", current.obj["signed"], signed)
    lines.append(f"  placeholders for {len(placeholders)} signatures: the root keys of v{version}, then the new ones")
    lines += [
        f"    {k[:12]} {_owner_of(signed['keys'].get(k) or current.obj['signed']['keys'].get(k))}" for k in placeholders
    ]
    return RootProposal(checkout, version + 1, proposal.obj, proposal.raw, lines)


def check_writable(proposal: RootProposal) -> None:
    """Refuse now what ``write_root`` would refuse: run it before writing anything else (a new keyholder's key file).

    Raises:
        UsageError: ``root_history/N.root.json`` exists already, or root.json changed since it was read.
    """
    checkout = proposal.checkout
    history = checkout.metadata / proposal.writes[1]
    if history.exists() or history.is_symlink():
        raise UsageError(f"{history}: exists already; this root version was proposed before")
    if (
        read_bytes(checkout.metadata / "root.json", "metadata file", len(checkout.root.raw) + 1, False)
        != checkout.root.raw
    ):
        raise UsageError(
            f"{checkout.metadata / 'root.json'}: changed while the new root was prepared; nothing was written"
        )


def write_root(proposal: RootProposal) -> list[str]:
    """Write the new root to ``root.json`` and ``root_history/N.root.json``, all-or-nothing; return the files.

    Raises:
        UsageError: ``root_history/N.root.json`` exists already, or root.json changed since it was read.
    """
    check_writable(proposal)
    checkout = proposal.checkout
    _write_together(checkout.metadata, {rel: proposal.raw for rel in proposal.writes})
    return [checkout.where(rel) for rel in proposal.writes]
