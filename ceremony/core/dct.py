"""Docker Content Trust workspaces: the offline root of one Notary v1 repository (one GUN).

A ``notary`` workspace holds what a DCT publisher must never keep on a laptop: the root keys (software keys
encrypted at rest, or keys on tokens), m-of-n, and every root version. The publisher keeps the targets key
(a key file this module makes for ``docker trust key load`` / ``notary key import``); the notary server keeps
the snapshot and timestamp keys (as Docker's CLI sets repositories up). Every command here is offline: what the
server knows arrives as a bundle written by ``ceremony notary fetch`` on the connected host, and what it must
learn leaves as a bundle that ``ceremony notary publish`` uploads (notary_bundle.py, notary_http.py).

Layout: as every workspace (workspace.py), with ``profile: notary`` and ``gun`` in ceremony.json, keys
named by their canonical Notary id (``keys/<canonical id>.p12``), and ``metadata/`` holding ``N.root.json``,
``root.json`` and the newest ``targets.json`` this workspace signed. The root.json key ids are the
certificates' ids; ceremony.json, key files and what ``notary key list`` shows use the canonical ids
(notary.py, "key ids"). Every file written is checked first as the stock client would check it
(notary_verify.py); the format is notary.py's, the cryptography keys/dct.py's, every refusal policy.py's.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceremony.core import _txn, notary
from ceremony.core import choices as _choices
from ceremony.core import diff as _diff
from ceremony.core import notary_bundle as _bundle
from ceremony.core import policy as _policy
from ceremony.core import roles as _roles
from ceremony.core._fs import write_new
from ceremony.core._json import read_bytes
from ceremony.core._text import plural, printable
from ceremony.core.keys import SecretsHandler
from ceremony.core.keys import dct as dct_keys
from ceremony.core.notary_verify import verify_notary
from ceremony.core.signers import GENERATE, PKCS11, TOKEN, KeySpec, PassphraseProvider, acquire_key, unlock_held_key
from ceremony.core.verify import Report
from ceremony.core.workspace import NOTARY_PROFILE, KeyRecord, Workspace, check_new_path, create_workspace
from ceremony.errors import CeremonyError, InputFileError, SigningKeyError, UsageError, WorkspaceError

if TYPE_CHECKING:
    from ceremony.core.plan import PlanRun

PROFILE = NOTARY_PROFILE
#: Docker's and notary's defaults: root 10 years, targets 3 years (the server re-signs snapshot and timestamp).
DEFAULT_DAYS = {"root": 3650, "targets": 1095}
#: The label the publisher's passphrase is asked under (the key file is encrypted with it, never stored here).
PUBLISHER_LABEL = "the publisher's targets key file"
SERVER_ROLES = ("snapshot", "timestamp")
#: The one key type of Notary root keys made here (``ecdsa-x509`` over P-256), in software or on a token.
ROOT_KEY_TYPE = _choices.default_key_type("notary")


@dataclass(frozen=True)
class RootKey:
    """One root key as the newest root lists it: both ids, its certificate, and where the private key is."""

    label: str
    canonical_id: str  # key files, ceremony.json, `notary key list`
    x509_id: str  # root.json, `docker trust inspect`
    certificate: bytes
    not_after: datetime
    uri: str | None

    @property
    def key_obj(self) -> dict[str, Any]:
        """The key object root.json lists under ``x509_id``."""
        return notary.ecdsa_x509_key(self.certificate)


@dataclass(frozen=True)
class DctResult:
    """What a DCT ceremony wrote, for the client to show."""

    path: Path
    gun: str
    root_version: int
    files: dict[str, str]  # workspace-relative name -> sha256
    bundle: Path  # the publish bundle for the connected host
    uploads: tuple[str, ...]  # the files in it
    root_keys: tuple[RootKey, ...]
    targets_key: str | None  # canonical id of a new targets key
    targets_key_file: Path | None
    transcript_head: str
    report: Report
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DctInitOptions:
    """What ``ceremony init --profile notary`` was asked to create."""

    gun: str
    server_keys: Path  # the bundle ``ceremony notary fetch`` wrote
    bundle_out: Path
    targets_key_out: Path
    root_key_specs: tuple[str, ...] = (ROOT_KEY_TYPE,) * 3
    threshold: int = 2
    root_days: int = DEFAULT_DAYS["root"]
    targets_days: int = DEFAULT_DAYS["targets"]
    certificate_days: int | None = None  # default: the root's expiry
    no_spare_root_key: bool = False
    ca_key_spec: str | None = None  # an offline CA of the workspace issues the root certificates (trust_pinning.ca)


# ----------------------------------------------------------------------------------------------- reading


def is_dct(ws: Workspace) -> bool:
    """True for a Docker Content Trust workspace (``profile: notary``)."""
    return ws.is_notary


def load(path: Path) -> Workspace:
    """Open a DCT workspace.

    Raises:
        WorkspaceError: not a workspace, or a TUF one.
        InputFileError: its config lacks a valid GUN.
    """
    ws = Workspace.load(path)
    if not is_dct(ws):
        raise WorkspaceError(
            f"{path}: a TUF workspace, not a Docker Content Trust one (ceremony notary commands need a workspace "
            "made by ceremony init --profile notary)"
        )
    gun = ws.config.get("gun")
    if _bundle.gun_problem(gun):
        raise InputFileError(f"{path / _roles.CONFIG_NAME}: 'gun' is missing or not a valid GUN")
    return ws


def load_verified(path: Path, now: datetime) -> Workspace:
    """Open a DCT workspace for a change: its own metadata must verify first (its files are read as hostile
    after a crash or an edit; a change is never built on a root chain the stock client would refuse).

    Raises:
        WorkspaceError / InputFileError: as ``load``.
        VerificationError: the workspace's metadata does not verify.
    """
    ws = load(path)
    verify_workspace(ws, now)
    return ws


def gun_of(ws: Workspace) -> str:
    """The GUN the workspace is the root of (checked by ``load``)."""
    return str(ws.config["gun"])


def metadata_files(ws: Workspace) -> dict[str, bytes]:
    """Every metadata file of the workspace: N.root.json, root.json, targets.json (bounded reads)."""
    files: dict[str, bytes] = {}
    directory = ws.metadata_dir
    for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
        name = entry.name
        if name in ("root.json", "targets.json") or re.fullmatch(r"[1-9][0-9]{0,8}\.root\.json", name):
            if len(files) >= _bundle.MAX_FILES:
                raise InputFileError(f"{directory}: more than {_bundle.MAX_FILES} metadata files")
            files[name] = read_bytes(entry, "Notary metadata", limit=_bundle.MAX_FILE_BYTES, follow_symlinks=False)
    if "root.json" not in files:
        raise InputFileError(f"{directory}: no root.json; the workspace is damaged")
    return files


def anchor_root(files: Mapping[str, bytes]) -> bytes:
    """The workspace's trust anchor: its lowest ``N.root.json`` (1 for a repository made here, the trusted root's
    version after a take-over), else root.json."""
    versions = sorted((v, n) for n in files if (v := _bundle.root_version_of(n)))
    return files[versions[0][1]] if versions else files["root.json"]


def verify_workspace(ws: Workspace, now: datetime | None = None) -> Report:
    """The workspace's root chain verified as the stock client would (from its lowest root, for its GUN).

    Only the roots: targets.json is the publisher's from the first push on, and the copy here is only the
    last one this workspace signed. Expiry is not a refusal here: a workspace whose root or certificates
    have expired must still be able to rotate out of them (that is the repair), so the chain is checked as
    of just before the first of them ends, and ``status`` warns about the expiry itself.

    Raises:
        VerificationError: the first failed check (signatures, versions, certificates' CN and form).
    """
    files = {n: d for n, d in metadata_files(ws).items() if n != "targets.json"}
    root = notary.parse(files["root.json"], "root.json", "root")
    return verify_notary(files, gun_of(ws), chain_time(root, now or datetime.now(UTC)), anchor_root(files))


def chain_time(root: notary.NotaryFile, now: datetime) -> datetime:
    """``now``, or just before the root or one of its certificates ends if that is earlier: the time a chain is
    checked at when its expiry is the operator's to repair, not a reason to refuse the repair."""
    ends = [notary.expires(root)]
    for keyid in root.signed.get("roles", {}).get("root", {}).get("keyids", []):
        with contextlib.suppress(Exception):  # an unreadable key fails in verify_notary, with its sentence
            ends.append(dct_keys.certificate_facts(notary.key_public(root.signed["keys"][keyid])[1])[0].not_after)
    return min([now, *[e - timedelta(seconds=1) for e in ends]])


def read_notary_directory(directory: Path) -> dict[str, bytes]:
    """The Notary metadata files of ``directory`` (a trust directory's ``tuf/GUN/metadata``, a server copy).

    Only names Notary uses are read (``notary_bundle.role_of``: ``root.json``, ``N.root.json``, the other
    top-level files, ``targets/<role>.json`` below ``targets/``); each at most 4 MiB, at most 1,000 files,
    no symbolic link followed. Anything else in the directory (a ``changelist/``) is left alone.

    Raises:
        InputFileError: not a directory, too many files, or a file that cannot be read.
    """
    directory = Path(directory)
    if not directory.is_dir() or directory.is_symlink():
        raise InputFileError(f"{printable(str(directory))}: not a directory of Notary metadata")
    files: dict[str, bytes] = {}
    pending = [(directory, "")]
    while pending:
        base, prefix = pending.pop()
        for entry in sorted(base.iterdir()):
            name = prefix + entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir() and name.startswith("targets") and name.count("/") < _bundle.MAX_DEPTH:
                pending.append((entry, f"{name}/"))
            elif entry.is_file() and _bundle.role_of(name) is not None:
                if len(files) >= _bundle.MAX_FILES:
                    raise InputFileError(f"{printable(str(directory))}: more than {_bundle.MAX_FILES} metadata files")
                files[name] = read_bytes(entry, "Notary metadata", limit=_bundle.MAX_FILE_BYTES, follow_symlinks=False)
    if "root.json" not in files and not any(_bundle.root_version_of(n) for n in files):
        raise InputFileError(f"{printable(str(directory))}: no root.json (is this a Notary metadata directory?)")
    return files


def verify_directory(directory: Path, gun: str, at: datetime, trusted_root: Path | None = None) -> Report:
    """``ceremony verify DIR --gun GUN``: a Notary repository on disk checked as the stock client checks it.

    The trusted root is ``trusted_root`` when given (the root a client pinned or cached), else the lowest
    ``N.root.json`` of the directory, else its root.json (trust on first use, as Docker's CLI does).

    Raises:
        UsageError: a bad GUN.
        InputFileError: the directory cannot be read.
        VerificationError: the first failed check.
    """
    _bundle.check_gun(gun)
    files = read_notary_directory(directory)
    if trusted_root is not None:  # a client's cached root: its certificates must still be valid
        trusted = read_bytes(trusted_root, "trusted root", limit=_bundle.MAX_FILE_BYTES)
        return verify_notary(files, gun, at, trusted, cached=True)
    versions = sorted((v, n) for n in files if (v := _bundle.root_version_of(n)))
    return verify_notary(files, gun, at, files[versions[0][1]] if versions else files["root.json"])


def newest_root(ws: Workspace) -> notary.NotaryFile:
    return notary.parse(metadata_files(ws)["root.json"], str(ws.metadata_dir / "root.json"), "root")


def _records(ws: Workspace) -> dict[str, KeyRecord]:
    return {r.keyid: r for r in ws.key_records()}


def root_keys(ws: Workspace, root: notary.NotaryFile | None = None) -> list[RootKey]:
    """The root keys of the newest root (or ``root``), with labels and URIs from ceremony.json."""
    root = root or newest_root(ws)
    records = _records(ws)
    found = []
    for keyid in root.signed["roles"]["root"]["keyids"]:
        key_obj = root.signed["keys"][keyid]
        canonical = notary.canonical_key_id(key_obj)
        _keytype, certificate = notary.key_public(key_obj)
        facts = dct_keys.certificate_facts(certificate)[0]
        record = records.get(canonical)
        found.append(
            RootKey(
                label=record.label if record else f"root-{canonical[:8]}",
                canonical_id=canonical,
                x509_id=keyid,
                certificate=certificate,
                not_after=facts.not_after,
                uri=record.uri if record else None,
            )
        )
    return found


def certificate_warnings(ws: Workspace, now: datetime | None = None) -> list[str]:
    """A warning for each root certificate that expires within the root's signing period (policy.py)."""
    now = now or datetime.now(UTC)
    found = [_policy.certificate_warning(key.label, key.not_after, now) for key in root_keys(ws)]
    entry = ws.config.get("ca")
    if isinstance(entry, dict) and isinstance(entry.get("certificate"), str):
        with contextlib.suppress(ValueError):  # a damaged entry is refused where the CA is used
            ends = dct_keys.certificate_facts(entry["certificate"].encode("ascii", "replace"))[0].not_after
            found.append(_policy.ca_warning(ends, now, 2 * _roles.signing_period_days("root") + CA_EXTRA_DAYS))
    return [w for w in found if w]


# ----------------------------------------------------------------------------------------------- signing

#: Shown what will be signed before any metadata is signed: the diff lines, the SHA-256 in hex and as words.
#: It raises to stop (the CLI's "Type 'yes'"); certificates of new keys are made before it is called.
Review = Callable[[list[str], str, str], None]


def review_change(
    review: Review | None, summary: Sequence[str], changes: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any]]]
) -> None:
    """Show ``review`` each file's diff (``diff.describe_change``) and the digest over what will be signed."""
    if review is None:
        return
    lines = list(summary)
    for name, old, new in changes:
        lines += _diff.describe_change(name, old, new)
    digest = _diff.payload_digest({name: notary.signed_bytes(new) for name, _old, new in changes})
    review([printable(line) for line in lines], digest.hex(), _diff.digest_words(digest))


#: Lines of a targets listing shown before signing; a larger file is summarised after them.
MAX_LISTED_TARGETS = 400


def describe_targets(signed: Mapping[str, Any]) -> list[str]:
    """Every tag (length, sha256) and every signer (delegation: keys, paths, threshold) a targets file holds.

    Shown before a targets file is signed by a key that did not sign it before: whatever it holds is vouched
    for by the new key from then on.
    """
    lines: list[str] = []
    targets = _object(signed.get("targets"))
    for name, meta in sorted(targets.items()):
        meta = _object(meta)
        hashes = _object(meta.get("hashes"))
        digest = hashes.get("sha256", "")
        digest = base64.b64decode(digest).hex()[:16] if isinstance(digest, str) and _b64ok(digest) else "?"
        lines.append(f"  tag {printable(name, 120)}: {printable(meta.get('length'), 20)} bytes, sha256 {digest}")
    delegations = _object(signed.get("delegations"))
    keys = _object(delegations.get("keys"))
    found = delegations.get("roles")
    roles: list[Any] = found if isinstance(found, list) else []
    for role in roles:
        role = _object(role)
        listed = role.get("keyids")
        ids = [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []
        shown = ", ".join(f"{k[:12]} ({printable(_object(keys.get(k)).get('keytype', '?'), 20)})" for k in ids)
        lines.append(
            f"  signer role {printable(role.get('name'), 120)}: threshold {printable(role.get('threshold'), 10)}, "
            f"keys {shown or 'none'}, paths {printable(role.get('paths'), 200)}"
        )
    if not lines:
        return ["  targets.json holds no tags and no signers"]
    if len(lines) > MAX_LISTED_TARGETS:
        rest = len(lines) - MAX_LISTED_TARGETS
        lines = [*lines[:MAX_LISTED_TARGETS], f"  ... and {rest} more (listed by ceremony verify DIR --gun GUN)"]
    return [f"targets.json holds {plural(len(targets), 'tag')} and {plural(len(roles), 'signer role')}:", *lines]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _b64ok(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


def describe_root_keys(keys: Sequence[RootKey]) -> list[str]:
    """One line per root key: label, both ids (root.json's, and the one key files and notary key list use)."""
    return [
        f"root key {k.label}: certificate id {k.x509_id[:16]} (root.json, docker trust inspect), canonical id "
        f"{k.canonical_id[:16]} (key files, notary key list), certificate valid until {k.not_after:%Y-%m-%d}"
        for k in keys
    ]


@dataclass
class Access:
    """How a ceremony reaches keys: secrets, the module, the token sessions it keeps open, and each key's
    signer once unlocked (a keyholder types their passphrase or PIN once per ceremony, not once per use)."""

    passphrase_for: PassphraseProvider
    pin_for: SecretsHandler | None
    module: str | None
    stack: contextlib.ExitStack
    unlocked: dict[str, Any] = field(default_factory=dict)  # canonical id -> Signer
    pin_file: Path | None = None  # drills: the PIN of every token key

    def signer(self, base: Path, key: RootKey) -> Any | None:
        """The signer of ``key`` (unlocked now, or earlier in this ceremony), None for a key held elsewhere."""
        if key.canonical_id not in self.unlocked:
            public = dct_keys.tuf_key_from_spki(dct_keys.certificate_spki(key.certificate))
            self.unlocked[key.canonical_id] = unlock_held_key(
                base,
                key.uri,
                public,
                key.label,
                self.passphrase_for,
                self.pin_for,
                self.module,
                self.stack,
                self.pin_file,
            )
        return self.unlocked[key.canonical_id]


def root_signers(base: Path, key: RootKey, access: Access, ids: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
    """A Notary signer for ``key`` under each (key id, key object) it must sign as (an old and a renewed cert)."""
    signer = access.signer(base, key)
    if signer is None:
        return []
    sign = functools.partial(dct_keys.notary_signature, signer)
    return [notary.NotarySigner(keyid, key_obj, sign) for keyid, key_obj in ids]


@dataclass(frozen=True)
class Issuer:
    """The workspace's offline CA: its signer and certificate (``--ca``), when root certificates are issued by it."""

    signer: Any
    certificate: bytes


def certificate_for(public: Any, signer: Any, gun: str, now: datetime, days: int, issuer: Issuer | None) -> bytes:
    """A root key's certificate for ``gun``: self-signed with notary's template, or issued by the workspace's CA
    without EKU (Go verifies a pinned CA chain for serverAuth, which a codeSigning-only leaf fails)."""
    not_after = now + timedelta(days=days)
    if issuer is not None:  # a leaf cannot outlive its CA: Go refuses the chain from the CA's notAfter on
        not_after = min(not_after, dct_keys.certificate_facts(issuer.certificate)[0].not_after)
    request = dct_keys.CertificateRequest(
        common_name=gun, not_before=now, not_after=not_after, code_signing=issuer is None
    )
    if issuer is None:
        return dct_keys.make_certificate(public, request, signer)
    return dct_keys.make_certificate(public, request, issuer.signer, issuer.certificate)


#: The workspace CA outlives the root certificates it issues by this much (renewals stay under one CA).
CA_EXTRA_DAYS = 365


def ca_certificate(public: Any, signer: Any, gun: str, now: datetime, days: int) -> bytes:
    """The workspace CA's self-signed certificate (CA:TRUE, path length 0), named after the first GUN it roots."""
    request = dct_keys.CertificateRequest(
        common_name=f"{gun} root CA", not_before=now, not_after=now + timedelta(days=days + CA_EXTRA_DAYS), is_ca=True
    )
    return dct_keys.make_certificate(public, request, signer)


def workspace_issuer(ws: Workspace, access: Access) -> Issuer | None:
    """The workspace CA as an issuer (its key unlocked through ``access``), or None without a CA.

    Raises:
        InputFileError: the config's CA entry is damaged.
        SigningKeyError: the CA key is held elsewhere.
    """
    entry = ws.config.get("ca")
    if entry is None:
        return None
    certificate = entry.get("certificate") if isinstance(entry, dict) else None
    keyid = entry.get("keyid") if isinstance(entry, dict) else None
    record = _records(ws).get(keyid) if isinstance(keyid, str) else None
    if not isinstance(certificate, str) or record is None:
        raise InputFileError(f"{ws.path / _roles.CONFIG_NAME}: the 'ca' entry is damaged")
    pem = certificate.encode("ascii", "replace")
    try:
        facts = dct_keys.certificate_facts(pem)[0]
    except ValueError as err:
        raise InputFileError(f"{ws.path / _roles.CONFIG_NAME}: the CA certificate is not PEM") from err
    if notary.key_id(notary.ecdsa_key(facts.spki)) != keyid:
        raise InputFileError(f"{ws.path / _roles.CONFIG_NAME}: the CA certificate is not the CA key's")
    ca_key = RootKey(record.label, keyid, "", pem, facts.not_after, record.uri)
    signer = access.signer(ws.path, ca_key)
    if signer is None:
        raise SigningKeyError("the workspace CA's key is held elsewhere; root certificates cannot be issued here")
    return Issuer(signer, pem)


def new_targets_key() -> tuple[dct_keys.NotaryKey, dict[str, Any]]:
    """A new targets (repository) key and its key object."""
    key = dct_keys.generate_notary_key("ecdsa")
    return key, notary.ecdsa_key(key.public)


def publisher_key_file(key: dct_keys.NotaryKey, gun: str, passphrase_for: PassphraseProvider) -> bytes:
    """The targets key as a key file for the publisher, under their own passphrase (asked last, after the root
    keyholders: ``PUBLISHER_LABEL``), with the ``path:`` header docker and notary need to store it."""
    canonical = notary.canonical_key_id(notary.ecdsa_key(key.public))
    return dct_keys.write_notary_key_file(key, passphrase_for(PUBLISHER_LABEL), "targets", canonical, gun)


def key_signer(key: dct_keys.NotaryKey, key_obj: dict[str, Any]) -> notary.NotarySigner:
    return notary.NotarySigner(notary.key_id(key_obj), key_obj, key.sign)


def refuse_existing(*paths: Path) -> None:
    """Refuse output paths that exist, or that name one file twice (a bundle written over the key file)."""
    resolved = [Path(p).absolute().resolve() for p in paths]
    if len(set(resolved)) < len(resolved):
        raise UsageError("two outputs name the same file; give each its own path")
    for path in paths:
        if path.exists() or path.is_symlink():
            raise WorkspaceError(f"{path}: already exists; refusing to overwrite it")
        if not path.absolute().parent.is_dir():
            raise WorkspaceError(f"{path.absolute().parent}: the directory does not exist")


def write_outside(path: Path, data: bytes) -> None:
    """A file handed to someone outside the workspace (key file, bundle): new, 0600, complete or absent.

    Raises:
        WorkspaceError: the path is taken (checked again at the write: nothing is ever overwritten).
    """
    refuse_existing(path)
    try:
        write_new(path, data)
    except FileExistsError as err:
        raise WorkspaceError(f"{path}: already exists; refusing to overwrite it") from err


@contextlib.contextmanager
def handed_out(path: Path, data: bytes) -> Iterator[None]:
    """Write the publisher's key file before the change that names its key, and remove it again only when that
    change was not committed (a fault after the commit keeps it: the committed root names that key)."""
    write_outside(path, data)
    mark = len(_txn.committed)
    try:
        yield
    except BaseException:
        if len(_txn.committed) == mark:
            path.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------- init


def read_fetched(path: Path, gun: str) -> _bundle.Bundle:
    """The bundle ``ceremony notary fetch`` wrote for ``gun``.

    Raises:
        InputFileError: not such a bundle, or for another GUN, or without the server's keys.
    """
    fetched = _bundle.read_bundle(path)
    source = printable(str(path))
    if fetched.kind != "fetched":
        raise InputFileError(f"{source}: a {fetched.kind} bundle; give the bundle ceremony notary fetch wrote")
    if fetched.gun != gun:
        raise InputFileError(f"{source}: fetched for GUN {printable(fetched.gun, 80)!r}, not {printable(gun, 80)!r}")
    missing = [r for r in SERVER_ROLES if r not in fetched.server_keys]
    if missing:
        raise InputFileError(f"{source}: the server's {missing[0]} key is missing (fetch again)")
    return fetched


def _server_key_objects(fetched: _bundle.Bundle) -> dict[str, dict[str, Any]]:
    return {role: notary.key_object(*notary.key_public(fetched.server_keys[role])) for role in SERVER_ROLES}


def init_dct(
    path: Path,
    options: DctInitOptions,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None = None,
    module: str | None = None,
    now: datetime | None = None,
    review: Review | None = None,
    pin_file: Path | None = None,
    plan_run: PlanRun | None = None,
) -> DctResult:
    """A new DCT repository: root m-of-n with a certificate per key, a targets key for the publisher, v1 files.

    Root keys are new software keys (each under its keyholder's passphrase) or token keys; each signs its own
    certificate (CN = the GUN, notary's template) and root.json v1. targets.json v1 is signed by a new targets
    key, which leaves as a key file encrypted under the publisher's passphrase (with the ``path:`` header
    notary and docker need) and is not kept. Snapshot and timestamp are the server's keys from the fetched
    bundle (server-managed snapshot, as ``docker trust signer add`` sets repositories up). Everything is
    verified as the stock client would before anything is written; the key file is written first, then the
    workspace in one rename, then the publish bundle.

    Raises:
        UsageError / PolicyError: a bad GUN, threshold, expiry or key type.
        InputFileError: the fetched bundle is unusable, or the GUN already has trust data.
        WorkspaceError: the workspace, key file or bundle path is taken.
        PassphraseError / HsmError: a key could not be made or unlocked.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    path = Path(path)
    gun = _bundle.check_gun(options.gun)
    check_new_path(path)
    refuse_existing(options.targets_key_out, options.bundle_out)
    specs = options.root_key_specs
    _policy.check_threshold("root", options.threshold, len(specs), options.no_spare_root_key)
    for role, days in (("root", options.root_days), ("targets", options.targets_days)):
        _policy.check_expiry_days(role, days)
    certificate_days = options.certificate_days or options.root_days
    _policy.check_certificate_days(certificate_days, options.root_days)
    for spec in specs:
        keyspec = KeySpec.parse(spec)
        if keyspec.kind == GENERATE and keyspec.value != ROOT_KEY_TYPE:
            raise UsageError(f"root key {printable(spec, 60)!r}: Docker Content Trust root keys are ecdsa-p256")
        if keyspec.kind not in (GENERATE, PKCS11, TOKEN):
            raise UsageError(
                f"root key {printable(spec, 60)!r}: a key held elsewhere cannot sign its certificate here; "
                "give ecdsa-p256, a pkcs11: URI or token:SERIAL"
            )
    _policy.check_custody(
        [(f"root-{i}", None, KeySpec.parse(spec).token_identity(module)) for i, spec in enumerate(specs, start=1)]
    )
    fetched = read_fetched(options.server_keys, gun)
    if fetched.files:
        raise InputFileError(
            f"{printable(str(options.server_keys))}: {printable(gun, 80)} already has trust data on the server; "
            "take the repository over instead (ceremony notary take-over)"
        )
    server = _server_key_objects(fetched)

    with contextlib.ExitStack() as stack:
        keys: list[RootKey] = []
        signers: list[notary.NotarySigner] = []
        records: list[KeyRecord] = []
        encrypted: dict[str, bytes] = {}
        issuer = None
        ca_config: dict[str, Any] = {}
        if options.ca_key_spec:
            ca = acquire_key(options.ca_key_spec, "ca", "ca", passphrase_for, pin_for, module, stack, pin_file)
            ca_spki = dct_keys.ecdsa_p256_spki(ca.public)
            ca_id = notary.key_id(notary.ecdsa_key(ca_spki))
            issuer = Issuer(ca.signer, ca_certificate(ca.public, ca.signer, gun, now, certificate_days))
            ca_uri = _roles.key_file_uri(ca_id) if ca.encrypted else ca.record.uri
            records.append(KeyRecord(ca_id, "ca", ("ca",), ROOT_KEY_TYPE, ca_uri))
            if ca.encrypted:
                encrypted[ca_id] = ca.encrypted
            ca_config = {"ca": {"keyid": ca_id, "certificate": issuer.certificate.decode("ascii")}}
        # The CA first, then the root keys: the order their keyholders are asked in.
        acquired = [
            acquire_key(spec, f"root-{i}", "root", passphrase_for, pin_for, module, stack, pin_file)
            for i, spec in enumerate(specs, start=1)
        ]
        for item in acquired:
            spki = dct_keys.ecdsa_p256_spki(item.public)
            certificate = certificate_for(item.public, item.signer, gun, now, certificate_days, issuer)
            key_obj = notary.ecdsa_x509_key(certificate)
            canonical = notary.key_id(notary.ecdsa_key(spki))
            uri = _roles.key_file_uri(canonical) if item.encrypted else item.record.uri
            keys.append(
                RootKey(
                    item.record.label,
                    canonical,
                    notary.key_id(key_obj),
                    certificate,
                    dct_keys.certificate_facts(certificate)[0].not_after,
                    uri,
                )
            )
            signer = item.signer
            if signer is None:  # refused above: a key held elsewhere cannot sign its certificate
                raise UsageError(f"root key {item.record.label} cannot sign here")
            signers.append(
                notary.NotarySigner(keys[-1].x509_id, key_obj, functools.partial(dct_keys.notary_signature, signer))
            )
            records.append(KeyRecord(canonical, item.record.label, ("root",), "ecdsa", uri))
            if item.encrypted:
                encrypted[canonical] = item.encrypted
        targets_key, targets_obj = new_targets_key()
        targets_id = notary.key_id(targets_obj)
        keys_by_id = {k.x509_id: k.key_obj for k in keys}
        keys_by_id[targets_id] = targets_obj
        role_keys = {"root": ([k.x509_id for k in keys], options.threshold), "targets": ([targets_id], 1)}
        for role, key_obj in server.items():
            keys_by_id[notary.key_id(key_obj)] = key_obj
            role_keys[role] = ([notary.key_id(key_obj)], 1)
        root_signed = notary.build_root(keys_by_id, role_keys, now + timedelta(days=options.root_days), 1)
        targets_signed = notary.build_targets(now + timedelta(days=options.targets_days), 1)
        summary = [f"new Docker Content Trust repository {gun}", *describe_root_keys(keys)]
        if issuer is not None:
            facts = dct_keys.certificate_facts(issuer.certificate)[0]
            summary.append(
                f"root certificates issued by the workspace CA '{printable(facts.common_name, 255)}' "
                f"(valid until {facts.not_after:%Y-%m-%d}); clients may pin the CA (ceremony notary pin --ca-out)"
            )
        review_change(review, summary, [("root.json", None, root_signed), ("targets.json", None, targets_signed)])
        root_file = notary.sign_file(root_signed, signers, "root.json")
    targets_file = notary.sign_file(targets_signed, [key_signer(targets_key, targets_obj)], "targets.json")
    key_file = publisher_key_file(targets_key, gun, passphrase_for)
    files = {"1.root.json": root_file, "root.json": root_file, "targets.json": targets_file}
    report = verify_notary(files, gun, now, root_file)

    targets_canonical = notary.canonical_key_id(targets_obj)
    records.append(KeyRecord(targets_canonical, "targets", ("targets",), "ecdsa", None))
    config = {
        "profile": PROFILE,
        "gun": gun,
        "certificate_days": certificate_days,
        **ca_config,
        "roles": {
            "root": {
                "threshold": options.threshold,
                "keyids": [k.canonical_id for k in keys],
                "expiry_days": options.root_days,
            },
            "targets": {"threshold": 1, "keyids": [targets_canonical], "expiry_days": options.targets_days},
            **{
                role: {"threshold": 1, "keyids": [notary.key_id(obj)], "server_managed": True}
                for role, obj in server.items()
            },
        },
        "keys": {r.keyid: r.to_dict() for r in records},
        **({"pkcs11_module": module} if module else {}),
    }
    changes = [
        f"created Docker Content Trust repository {gun}: root {options.threshold}-of-{len(keys)}, root.json and targets.json version 1",
        *[
            f"root key {k.label}: canonical id {k.canonical_id}, certificate id {k.x509_id}, certificate valid until {k.not_after:%Y-%m-%d}"
            for k in keys
        ],
        f"targets key {targets_canonical} made for the publisher; only its key file holds it (not kept here)",
        *[f"{role} key of the server: {notary.key_id(obj)}" for role, obj in server.items()],
    ]
    details: dict[str, Any] = {"gun": gun, "server": fetched.server, "fetched_at": fetched.fetched_at}
    if plan_run is not None:  # the ceremony plan this init ran from: kept in plans/, named in the transcript
        details["plan"] = plan_run.details()
    plans = plan_run.files() if plan_run is not None else None
    with handed_out(options.targets_key_out, key_file):
        _ws, written, head = create_workspace(
            path, files, encrypted, config, "init --profile notary", changes, details, now, plans
        )
    uploads = ("root.json", "targets.json")
    write_publish_bundle(
        options.bundle_out, gun, {n: files[n] for n in uploads}, f"new repository {gun}: root version 1"
    )
    return DctResult(
        path=path,
        gun=gun,
        root_version=1,
        files=written,
        bundle=options.bundle_out,
        uploads=uploads,
        root_keys=tuple(keys),
        targets_key=targets_canonical,
        targets_key_file=options.targets_key_out,
        transcript_head=head,
        report=report,
    )


def write_publish_bundle(path: Path, gun: str, files: Mapping[str, bytes], note: str) -> None:
    """The publish bundle of a change just committed; a failure says so and how to write it again.

    Raises:
        WorkspaceError: the bundle could not be written (the change itself is committed).
    """
    try:
        if path.exists() or path.is_symlink():
            raise FileExistsError(path)
        _bundle.write_bundle(path, _bundle.Bundle(kind="publish", gun=gun, files=dict(files), note=note))
    except (OSError, CeremonyError) as err:
        why = "it exists" if isinstance(err, FileExistsError) else printable(getattr(err, "strerror", None) or err, 200)
        raise WorkspaceError(
            f"{path}: the change is committed in the workspace, but its publish bundle could not be written ({why})",
            hint="write it again with: ceremony notary bundle WS --from FETCHED --out BUNDLE",
        ) from err


# ----------------------------------------------------------------------------------------------- pinning


def pin_snippet(ws: Workspace) -> dict[str, Any]:
    """The ``trust_pinning`` section of a notary client config for this GUN: certificate ids of the newest root.

    Every root key's certificate is listed: the stock client counts the root's signatures among the pinned
    certificates against the root's threshold (``ValidateRoot``), so a client pinning fewer than a threshold
    of them refuses the root ("failed to validate integrity of roots"). Docker's CLI has no pinning: it
    trusts the first root it sees over TLS and follows rotations.
    """
    verify_workspace(ws)
    return {"trust_pinning": {"certs": {gun_of(ws): [k.x509_id for k in root_keys(ws)]}}}


# ----------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class RoleLine:
    """One role of the newest root as status shows it."""

    role: str
    version: int | None  # None: the server's (snapshot, timestamp) or not signed here
    threshold: int
    keyids: tuple[str, ...]
    expires: str | None
    days_left: float | None
    held_by: str  # "workspace", "publisher" or "server"


@dataclass(frozen=True)
class DctStatus:
    """A DCT workspace at a glance, from metadata verified first (nothing unverified is shown)."""

    path: Path
    gun: str
    root_versions: list[int]
    roles: list[RoleLine]
    root_keys: list[RootKey]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``ceremony status --json``."""
        return {
            "path": str(self.path),
            "profile": PROFILE,
            "gun": self.gun,
            "root_versions": self.root_versions,
            "roles": [
                {
                    "role": r.role,
                    "version": r.version,
                    "threshold": r.threshold,
                    "keyids": list(r.keyids),
                    "expires": r.expires,
                    "days_left": r.days_left,
                    "held_by": r.held_by,
                }
                for r in self.roles
            ],
            "root_keys": [
                {
                    "label": k.label,
                    "certificate_id": k.x509_id,
                    "canonical_id": k.canonical_id,
                    "certificate_expires": f"{k.not_after:%Y-%m-%dT%H:%M:%SZ}",
                    "location": k.uri,
                }
                for k in self.root_keys
            ],
            "warnings": self.warnings,
        }


def status(ws: Workspace, now: datetime | None = None) -> DctStatus:
    """Versions, thresholds, expiries (metadata and root certificates) and warnings of a DCT workspace.

    Raises:
        VerificationError: the workspace's metadata does not verify (nothing is shown that it cannot vouch for).
    """
    now = now or datetime.now(UTC)
    verify_workspace(ws, now)
    files = metadata_files(ws)
    root = newest_root(ws)
    lines = []
    for role, entry in root.signed["roles"].items():
        md = None
        if role == "root":
            md = root
        elif role == "targets" and "targets.json" in files:
            md = notary.parse(files["targets.json"], "targets.json", "targets")
        expires = notary.expires(md) if md is not None else None
        lines.append(
            RoleLine(
                role=role,
                version=notary.version(md) if md is not None else None,
                threshold=int(entry["threshold"]),
                keyids=tuple(entry["keyids"]),
                expires=md.signed["expires"] if md is not None else None,
                days_left=round((expires - now).total_seconds() / 86400, 1) if expires else None,
                held_by={"root": "workspace", "targets": "publisher (as last signed here)"}.get(role, "server"),
            )
        )
    warnings = certificate_warnings(ws, now)
    # The root's expiry; targets.json is re-signed by the publisher, so the copy here says nothing about it.
    warning = _policy.expiry_warning(
        "root", notary.expires(root), notary.expires(root) - timedelta(days=_roles.signing_period_days("root")), now
    )
    if warning:
        warnings.append(warning)
    versions = sorted(v for n in files if (v := _bundle.root_version_of(n)))
    return DctStatus(ws.path, gun_of(ws), versions, lines, root_keys(ws, root), warnings)


def write_ca_certificate(ws: Workspace, out: Path) -> None:
    """Write the workspace CA's certificate (PEM) for client configs (``trust_pinning.ca``).

    Raises:
        UsageError: the workspace has no CA (made without ``--root-ca``).
        WorkspaceError: ``out`` exists.
    """
    entry = ws.config.get("ca")
    if not isinstance(entry, dict) or not isinstance(entry.get("certificate"), str):
        raise UsageError(f"{ws.path}: no workspace CA (made without --root-ca); pin certificate ids instead")
    pem = entry["certificate"].encode("ascii", "replace")
    try:
        dct_keys.certificate_facts(pem)  # a damaged config is refused here, not by every client later
    except ValueError as err:
        raise InputFileError(f"{ws.path / _roles.CONFIG_NAME}: the CA certificate is not PEM") from err
    write_outside(out, pem)
