"""Changes to a Docker Content Trust workspace: a new targets key, root rotations, and taking a repository over.

Each change is made offline from what the server serves now (a bundle ``ceremony notary fetch`` wrote), shown
and recorded in the transcript, written in one transaction, and leaves as one publish bundle holding exactly
the files that belong together (notary_bundle.py). The workspace model, reading and the new repository are
dct.py's; every refusal is policy.py's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ceremony.core import _txn, notary
from ceremony.core import dct as _dct
from ceremony.core import notary_bundle as _bundle
from ceremony.core import policy as _policy
from ceremony.core import roles as _roles
from ceremony.core import transcript as _transcript
from ceremony.core._json import dumps_pretty, read_bytes
from ceremony.core._text import printable
from ceremony.core.dates import format_date
from ceremony.core.keys import SecretsHandler
from ceremony.core.keys import dct as dct_keys
from ceremony.core.notary_verify import verify_notary
from ceremony.core.signers import GENERATE, PKCS11, TOKEN, KeySpec, PassphraseProvider, acquire_key
from ceremony.core.verify import Report
from ceremony.core.workspace import KeyRecord, Workspace, check_new_path, create_workspace
from ceremony.errors import InputFileError, PolicyError, SigningKeyError, UsageError, VerificationError


def _server_state(ws: Workspace, fetched_path: Path, now: datetime) -> tuple[_bundle.Bundle, dict[str, bytes]]:
    """What the server serves now (a fetched bundle), checked to be this workspace's repository.

    The server's root must be the workspace's newest root, byte for byte: a root published by someone
    else, or a change of ours not yet published, must be settled before another change is made. The
    bundle must hold the server's timestamp and snapshot, which pin its targets.json: a targets.json that
    no snapshot lists could be anyone's.

    Raises:
        InputFileError / VerificationError: another GUN, no trust data, another root, no timestamp or
            snapshot, or a repository that does not verify from the workspace's root.
    """
    gun = _dct.gun_of(ws)
    fetched = _dct.read_fetched(fetched_path, gun)
    source = printable(str(fetched_path))
    ours = _dct.metadata_files(ws)
    theirs = fetched.files
    if "root.json" not in theirs:
        raise InputFileError(
            f"{source}: the server has no trust data for {printable(gun, 80)}; publish the workspace's first "
            "(ceremony notary bundle WS --from BUNDLE --out BUNDLE writes it again)"
        )
    if theirs["root.json"] != ours["root.json"]:
        mine, served = (
            notary.version(_dct.newest_root(ws)),
            notary.version(notary.parse(theirs["root.json"], source, "root")),
        )
        raise InputFileError(
            f"{source}: the server serves root version {served}, the workspace's newest is {mine}: "
            + (
                "fetch again if the workspace's change was published since; otherwise publish it first "
                "(ceremony notary bundle WS --from BUNDLE --out BUNDLE writes its bundle again)"
                if mine > served
                else "the server's root was not made here"
            )
        )
    missing = [n for n in ("timestamp.json", "snapshot.json") if n not in theirs]
    if missing:
        raise InputFileError(f"{source}: no {missing[0]}; fetch again (the server's snapshot pins its targets.json)")
    at = _dct.chain_time(_dct.newest_root(ws), now)  # an expired root is what a rotation repairs
    try:
        verify_notary(theirs, gun, at, _dct.anchor_root(ours))
    except VerificationError as err:
        if err.check != "expiry" or err.file not in theirs or _bundle.role_of(err.file) == "root":
            raise
        # An expired targets.json (or snapshot) on the server is what a change may have to repair (a new
        # targets key after the old one was lost): everything else is checked as of just before it ended.
        ended = notary.parse(theirs[err.file], f"{source}: {err.file}")
        verify_notary(theirs, gun, min(at, notary.expires(ended) - timedelta(seconds=1)), _dct.anchor_root(ours))
    return fetched, theirs


def publish_bundle_again(path: Path, fetched_path: Path, bundle_out: Path, now: datetime | None = None) -> list[str]:
    """Write the publish bundle of the workspace's newest change that the server does not serve yet.

    For a bundle lost after its change was committed (a full stick, a wrong path): the server is one root
    version behind the workspace, and the bundle holds that root, plus the workspace's targets.json when the
    server's is older (a targets key rotation) or absent (a new repository). Returns the files written.

    Raises:
        InputFileError: the server is up to date, more than one root behind, or serves another repository.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    ws = _dct.load_verified(path, now)
    gun = _dct.gun_of(ws)
    _dct.refuse_existing(bundle_out)
    fetched = _dct.read_fetched(fetched_path, gun)
    ours = _dct.metadata_files(ws)
    mine = notary.version(_dct.newest_root(ws))
    source = printable(str(fetched_path))
    served_root = fetched.files.get("root.json")
    served = notary.version(notary.parse(served_root, source, "root")) if served_root else 0
    if served >= mine:
        raise InputFileError(f"{source}: the server already serves root version {served}; nothing to publish")
    if served != mine - 1:
        raise InputFileError(
            f"{source}: the server serves root version {served} and the workspace's newest is {mine}; the server "
            "takes one root version at a time, and only the newest bundle can be written again"
        )
    if served_root is not None and served_root != ours.get(f"{served}.root.json"):
        raise InputFileError(f"{source}: the server's root version {served} is not the workspace's")
    files = {"root.json": ours["root.json"]}
    theirs = fetched.files.get("targets.json")
    if "targets.json" in ours and (
        theirs is None
        or notary.version(notary.parse(theirs, source, "targets"))
        < notary.version(notary.parse(ours["targets.json"], "targets.json", "targets"))
    ):
        files["targets.json"] = ours["targets.json"]
    _dct.write_publish_bundle(bundle_out, gun, files, f"root version {mine} (written again)")
    return list(files)


def _next_root(
    root: notary.NotaryFile,
    now: datetime,
    days: int,
    keys_by_id: dict[str, Any],
    roles: dict[str, tuple[list[str], int]],
) -> dict[str, Any]:
    return notary.build_root(keys_by_id, roles, now + timedelta(days=days), notary.version(root) + 1)


def _roles_of(root: notary.NotaryFile) -> dict[str, tuple[list[str], int]]:
    return {r: (list(v["keyids"]), int(v["threshold"])) for r, v in root.signed["roles"].items()}


def _commit(
    ws: Workspace,
    command: str,
    files: Mapping[str, bytes],
    config: dict[str, Any],
    changes: list[str],
    details: dict[str, Any],
    now: datetime,
    extra_keys: Mapping[str, bytes] | None = None,
) -> tuple[dict[str, str], str]:
    """One transaction: the new metadata, key files and config, and the transcript line that records them."""
    with _txn.transaction(ws.path) as txn:
        written = {f"{_roles.METADATA_DIR}/{n}": txn.write(f"{_roles.METADATA_DIR}/{n}", d) for n, d in files.items()}
        for keyid, data in (extra_keys or {}).items():
            written[_roles.key_file_rel(keyid)] = txn.write(_roles.key_file_rel(keyid), data)
        written[_roles.CONFIG_NAME] = txn.write(_roles.CONFIG_NAME, dumps_pretty(config))
        head = _transcript.append(ws.path, command, changes, written, sorted(config["keys"]), now, details, txn)
    return written, head


def _sign_root(
    ws: Workspace,
    signed: dict[str, Any],
    old: list[_dct.RootKey],
    new: list[_dct.RootKey],
    access: _dct.Access,
    new_threshold: int,
    old_threshold: int,
    request: bool = False,
) -> bytes:
    """root.json v+1 signed by every held key of the old root (under its old certificate) and of the new one.

    Notary's server and client need a threshold of the old root's keys, named by the old root's key ids,
    and a threshold of the new root's: a key in both roots with a renewed certificate signs twice.

    Raises:
        PolicyError: too few keys held here for either threshold (the change needs keyholders elsewhere).

    With ``request``, only the keys this change adds sign here (they were made here); the keyholders of the
    others sign the request wherever their keys are, and the thresholds are checked at merge.
    """
    signers: list[notary.NotarySigner] = []
    held_old = held_new = 0
    by_canonical = {k.canonical_id: k for k in new}
    old_ids = {k.canonical_id for k in old}
    # Keys of both roots first (each counts twice), then the old root's, then the new root's; the keyholder of
    # a kept key is asked only while a threshold is still short.
    order = sorted(old, key=lambda k: k.canonical_id not in by_canonical)
    order += [k for k in new if k.canonical_id not in old_ids]
    for key in order:
        in_old, renewed = key.canonical_id in old_ids, by_canonical.get(key.canonical_id)
        added = not in_old  # a new key always signs the root that adds it: it proves the key, and a client
        # pinning its certificate needs its signature on this root
        short = (in_old and held_old < old_threshold) or (renewed is not None and held_new < new_threshold)
        if not (added or (short and not request)):
            continue
        ids = [(key.x509_id, key.key_obj)]
        if in_old and renewed is not None and renewed.x509_id != key.x509_id:
            ids.append((renewed.x509_id, renewed.key_obj))
        made = _dct.root_signers(ws.path, key, access, ids)
        signers += made
        if made:
            held_old += in_old
            held_new += renewed is not None
    if not request:
        if held_old < old_threshold:
            raise PolicyError(
                f"the rotation needs {old_threshold} keys of the current root, and {held_old} can sign here",
                hint="write a sign request for the keyholders elsewhere (--request FILE)",
            )
        _policy.check_signable(held_new, new_threshold)
    return notary.sign_file(signed, signers, "root.json")


def _key_config(
    ws: Workspace, root_list: list[_dct.RootKey], targets: str, now: datetime, revoked: Sequence[str] = ()
) -> dict[str, Any]:
    """The config after a change: root and targets keys, and revoked keys kept for the record (docs/workspace.md)."""
    config = dict(ws.config)
    keys = {k: dict(v) for k, v in ws.config["keys"].items()}
    for keyid in revoked:
        if keyid in keys:
            role = "root" if keyid in ws.config["roles"]["root"]["keyids"] else "targets"
            keys[keyid]["roles"] = []
            keys[keyid]["revoked"] = [*keys[keyid].get("revoked", []), {"role": role, "at": format_date(now)}]
    for key in root_list:
        keys.setdefault(key.canonical_id, {"label": key.label, "roles": ["root"], "key_type": "ecdsa", "uri": key.uri})
    keys.setdefault(targets, {"label": "targets", "roles": ["targets"], "key_type": "ecdsa", "uri": None})
    roles = {r: dict(v) for r, v in ws.config["roles"].items()}
    roles["root"]["keyids"] = [k.canonical_id for k in root_list]
    roles["targets"]["keyids"] = [targets]
    config["roles"], config["keys"] = roles, keys
    return config


def _request(
    ws: Workspace,
    command: str,
    root_file: bytes,
    files: dict[str, bytes],
    config: dict[str, Any],
    key_files: dict[str, bytes],
    changes: list[str],
    summary: list[str],
    request_out: Path,
    now: datetime,
) -> _dct.DctResult:
    """Keep the change as pending and write the sign request for the keyholders elsewhere (dct_requests.py)."""
    from ceremony.core import dct_requests as _requests

    md = notary.parse(root_file, "root.json", "root")
    pending = _requests.PendingDct(
        _requests.new_request_id(),
        _dct.gun_of(ws),
        command,
        md.signed,
        md.signatures,
        files,
        config,
        key_files,
        changes,
    )
    request, head = _requests.write_pending(ws, pending, request_out, summary, now)
    return _dct.DctResult(
        path=ws.path,
        gun=pending.gun,
        root_version=notary.version(md),
        files={},
        bundle=request_out,
        uploads=(),
        root_keys=tuple(_dct.root_keys(ws)),
        targets_key=None,
        targets_key_file=None,
        transcript_head=head,
        report=Report(at=""),
        notes=(
            f"sign request {request.id} written to {printable(str(request_out))}: each keyholder runs "
            "ceremony sign REQUEST --key KEYSPEC; then ceremony merge WS REQUEST... --out BUNDLE",
        ),
    )


def rotate_targets_key(
    path: Path,
    fetched_path: Path,
    bundle_out: Path | None,
    targets_key_out: Path,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None = None,
    now: datetime | None = None,
    review: _dct.Review | None = None,
    pin_file: Path | None = None,
    request_out: Path | None = None,
    empty_targets: bool = False,
) -> _dct.DctResult:
    """After a targets (repository) key compromise: root v+1 naming a new targets key, and targets v+1 signed by it.

    targets.json is what the server serves now (the publisher's targets and delegations), re-signed by the
    new key with version + 1, so a cached client moves on and the old key is refused from then on. Both
    files leave in one publish bundle: a root that changes the targets key without the re-signed targets
    breaks every pull. The new key leaves as a key file under the publisher's passphrase.

    Raises:
        InputFileError / VerificationError: the fetched bundle is not this repository now.
        PolicyError: too few root keys held here.
        WorkspaceError: an output path is taken.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    ws = _dct.load_verified(path, now)
    gun = _dct.gun_of(ws)
    _dct.refuse_existing(targets_key_out, *[p for p in (bundle_out, request_out) if p is not None])
    _fetched_bundle, served = _server_state(ws, fetched_path, now)
    if "targets.json" not in served:
        raise InputFileError(f"{printable(str(fetched_path))}: the server serves no targets.json to re-sign")
    root = _dct.newest_root(ws)
    keys = _dct.root_keys(ws, root)
    roles = _roles_of(root)
    old_targets = roles["targets"][0]
    new_key, new_obj = _dct.new_targets_key()
    new_id = notary.key_id(new_obj)
    keys_by_id = {k: v for k, v in root.signed["keys"].items() if k not in old_targets}
    keys_by_id[new_id] = new_obj
    roles["targets"] = ([new_id], 1)
    root_expires = now + timedelta(days=_policy.policy_days(ws.config, "root"))
    ends = min(k.not_after for k in keys)  # the root keeps its certificates: it cannot outlive them
    root_expires = _policy.root_expiry_within_certificates(root_expires, ends, now, False)
    signed = notary.build_root(keys_by_id, roles, root_expires, notary.version(root) + 1)
    current = notary.parse(served["targets.json"], "targets.json (served)", "targets")
    targets_expires = now + timedelta(days=_policy.policy_days(ws.config, "targets"))
    if empty_targets:
        targets_signed = notary.build_targets(targets_expires, notary.version(current) + 1)
        what = "targets.json starts afresh: no tags and no signers (the publisher adds signers and pushes again)"
    else:
        targets_signed = notary.next_version(current.signed, targets_expires)
        what = (
            "the served targets.json is re-signed by the new key AS IT IS: every tag and signer below was "
            "published with the compromised key (use --empty-targets to start afresh)"
        )
    _dct.review_change(
        review,
        [f"repository key compromise: a new targets key for {gun}", what, *_dct.describe_targets(targets_signed)],
        [("root.json", root.signed, signed), ("targets.json", current.signed, targets_signed)],
    )
    access = _dct.Access(
        passphrase_for, pin_for, ws.config.get("pkcs11_module"), contextlib.ExitStack(), pin_file=pin_file
    )
    with access.stack:
        threshold = roles["root"][1]
        root_file = _sign_root(ws, signed, keys, keys, access, threshold, threshold, request=request_out is not None)
    targets_file = notary.sign_file(targets_signed, [_dct.key_signer(new_key, new_obj)], "targets.json")
    key_file = _dct.publisher_key_file(new_key, gun, passphrase_for)
    version = notary.version(root) + 1
    files = {
        **_dct.metadata_files(ws),
        f"{version}.root.json": root_file,
        "root.json": root_file,
        "targets.json": targets_file,
    }
    # Verified without the served snapshot, which lists the old root (a request is verified at merge).
    report = verify_notary(files, gun, now, _dct.anchor_root(files)) if request_out is None else Report(at="")
    new_canonical = notary.canonical_key_id(new_obj)
    old_canonical = [notary.canonical_key_id(root.signed["keys"][k]) for k in old_targets]
    config = _key_config(ws, keys, new_canonical, now, old_canonical)
    changes = [
        f"root version {version}: targets key {', '.join(c[:16] for c in old_canonical)} replaced by {new_canonical} "
        "(repository key compromise)",
        f"targets version {notary.version(current) + 1}: "
        + ("started afresh (no tags, no signers)" if empty_targets else "the served targets re-signed by the new key"),
        f"targets key {new_canonical} made for the publisher; only its key file holds it (not kept here)",
    ]
    uploads = {"root.json": root_file, "targets.json": targets_file}
    if request_out is None and bundle_out is None:
        raise UsageError("a targets key rotation signed here needs the publish bundle to write (--out)")
    with _dct.handed_out(targets_key_out, key_file):
        if request_out is not None:
            summary = [f"repository key compromise: a new targets key for {gun}"]
            return _request(
                ws,
                "notary rotate-key",
                root_file,
                {"targets.json": targets_file},
                config,
                {},
                changes,
                summary,
                request_out,
                now,
            )
        written, head = _commit(
            ws,
            "notary rotate-key targets",
            {f"{version}.root.json": root_file, "root.json": root_file, "targets.json": targets_file},
            config,
            changes,
            {"gun": gun},
            now,
        )
    assert bundle_out is not None  # noqa: S101 - checked above
    _dct.write_publish_bundle(
        bundle_out,
        gun,
        uploads,
        f"root version {version} and targets version {notary.version(current) + 1}: new targets key",
    )
    return _dct.DctResult(
        path=ws.path,
        gun=gun,
        root_version=version,
        files=written,
        bundle=bundle_out,
        uploads=tuple(uploads),
        root_keys=tuple(keys),
        targets_key=new_canonical,
        targets_key_file=targets_key_out,
        transcript_head=head,
        report=report,
        notes=(
            "after publishing, the publisher loads the new key file (docker trust key load, or notary key import) "
            "and deletes the old key; pushes signed with the old key are refused",
        ),
    )


@dataclass(frozen=True)
class RootRotation:
    """What a root rotation changes: keys added (KEYSPECs) and revoked (labels or id prefixes), the threshold,
    and whether every kept key gets a new certificate (renewal)."""

    add: tuple[str, ...] = ()
    revoke: tuple[str, ...] = ()
    threshold: int | None = None
    renew_certificates: bool = False
    certificate_days: int | None = None
    root_days: int | None = None
    no_spare_root_key: bool = False


def _find_root_key(keys: list[_dct.RootKey], ref: str, ws: Workspace) -> _dct.RootKey:
    matches = [
        k for k in keys if k.label == ref or k.canonical_id.startswith(ref.lower()) or k.x509_id.startswith(ref.lower())
    ]
    if len(matches) != 1:
        raise UsageError(
            f"{ws.path}: {printable(ref, 80)!r} matches {len(matches)} root keys; give a label or more of a key id "
            f"({', '.join(k.label for k in keys)})"
        )
    return matches[0]


def rotate_root(
    path: Path,
    rotation: RootRotation,
    bundle_out: Path | None,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None = None,
    now: datetime | None = None,
    review: _dct.Review | None = None,
    pin_file: Path | None = None,
    request_out: Path | None = None,
    fetched_path: Path | None = None,
) -> _dct.DctResult:
    """Root v+1: keys added, revoked or replaced, a new threshold, or new certificates (a renewal).

    ``fetched_path`` is a bundle ``ceremony notary fetch`` just wrote: the server must serve the workspace's
    newest root (the server takes one root version at a time, so a rotation never builds on an unpublished one).

    Signed by a threshold of the current root's keys and of the new root's, as notary's server and client
    require; clients holding the old root follow, a fresh client pinned to a revoked key's certificate is
    refused. Only root.json leaves in the bundle: targets and the server's keys are unchanged.

    Raises:
        UsageError / PolicyError: an unknown key, a threshold or certificate validity the rules refuse, or
            too few keys held here.
        WorkspaceError: the bundle path is taken.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    ws = _dct.load_verified(path, now)
    gun = _dct.gun_of(ws)
    _dct.refuse_existing(*[p for p in (bundle_out, request_out) if p is not None])
    if fetched_path is None:
        raise UsageError(
            "a root rotation starts from what the server serves: give the bundle ceremony notary fetch wrote"
        )
    _server_state(ws, fetched_path, now)
    module = ws.config.get("pkcs11_module")
    root = _dct.newest_root(ws)
    old = _dct.root_keys(ws, root)
    roles = _roles_of(root)
    revoked = [_find_root_key(old, ref, ws) for ref in rotation.revoke]
    kept = [k for k in old if k not in revoked]
    count = len(kept) + len(rotation.add)
    threshold = roles["root"][1] if rotation.threshold is None else rotation.threshold
    _policy.check_threshold("root", threshold, count, rotation.no_spare_root_key)
    root_days = _policy.policy_days(ws.config, "root") if rotation.root_days is None else rotation.root_days
    _policy.check_expiry_days("root", root_days)
    recorded = ws.config.get("certificate_days")
    recorded = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded > 0 else root_days
    certificate_days = max(recorded, root_days) if rotation.certificate_days is None else rotation.certificate_days
    _policy.check_certificate_days(certificate_days, root_days)
    if (
        not (rotation.add or revoked or rotation.renew_certificates)
        and rotation.threshold is None
        and (rotation.root_days is None)
    ):
        raise UsageError("nothing to change: give --add, --revoke, --threshold, --root-days or --renew-certificates")
    used = {str(entry.get("label")) for entry in ws.config["keys"].values()}  # revoked keys' labels too
    labels = []
    index = 1
    for _spec in rotation.add:
        while f"root-{index}" in used:
            index += 1
        labels.append(f"root-{index}")
        used.add(labels[-1])
    expires_root = now + timedelta(days=root_days)
    notes: list[str] = []
    if kept and not rotation.renew_certificates:
        # Kept keys keep their certificates (clients pin them by id); the root cannot outlive them.
        ends = min(k.not_after for k in kept)
        capped = _policy.root_expiry_within_certificates(expires_root, ends, now, rotation.root_days is not None)
        if capped != expires_root:
            expires_root = capped
            notes.append(
                f"the new root expires with its kept certificates ({ends:%Y-%m-%d}); --renew-certificates gives "
                "them new ones (and new ids for pinned clients)"
            )
    access = _dct.Access(passphrase_for, pin_for, module, contextlib.ExitStack(), pin_file=pin_file)
    with access.stack:
        issuer = _dct.workspace_issuer(ws, access) if (rotation.add or rotation.renew_certificates) else None
        new: list[_dct.RootKey] = []
        for key in kept:
            renew = rotation.renew_certificates
            if not renew:
                new.append(key)
                continue
            public = dct_keys.tuf_key_from_spki(dct_keys.certificate_spki(key.certificate))
            # A CA-issued certificate is signed by the CA: the key's own keyholder is needed only for a self-signed one.
            signer = access.signer(ws.path, key) if issuer is None else None
            if signer is None and issuer is None:
                raise SigningKeyError(f"root key {key.label} is held elsewhere; its certificate cannot be renewed here")
            certificate = _dct.certificate_for(public, signer, gun, now, certificate_days, issuer)
            obj = notary.ecdsa_x509_key(certificate)
            new.append(
                _dct.RootKey(
                    key.label,
                    key.canonical_id,
                    notary.key_id(obj),
                    certificate,
                    dct_keys.certificate_facts(certificate)[0].not_after,
                    key.uri,
                )
            )
        encrypted: dict[str, bytes] = {}
        for spec, label in zip(rotation.add, labels, strict=True):
            keyspec = KeySpec.parse(spec)
            if keyspec.kind not in (GENERATE, PKCS11, TOKEN) or (
                keyspec.kind == GENERATE and keyspec.value != _dct.ROOT_KEY_TYPE
            ):
                raise UsageError(f"root key {printable(spec, 60)!r}: give ecdsa-p256, a pkcs11: URI or token:SERIAL")
            item = acquire_key(spec, label, "root", passphrase_for, pin_for, module, access.stack, pin_file)
            spki = dct_keys.ecdsa_p256_spki(item.public)
            canonical = notary.key_id(notary.ecdsa_key(spki))
            if any(k.canonical_id == canonical for k in old):
                raise PolicyError(f"root key {label} is already a root key of this repository")
            certificate = _dct.certificate_for(item.public, item.signer, gun, now, certificate_days, issuer)
            obj = notary.ecdsa_x509_key(certificate)
            uri = _roles.key_file_uri(canonical) if item.encrypted else item.record.uri
            new.append(
                _dct.RootKey(
                    label,
                    canonical,
                    notary.key_id(obj),
                    certificate,
                    dct_keys.certificate_facts(certificate)[0].not_after,
                    uri,
                )
            )
            access.unlocked[canonical] = item.signer
            if item.encrypted:
                encrypted[canonical] = item.encrypted
        _policy.check_custody([(k.label, None, k.uri) for k in new if k.uri and k.uri.startswith("pkcs11:")])
        # New certificates may end earlier than asked (capped at the workspace CA's end): the root cannot
        # outlive any of its certificates.
        expires_root = _policy.root_expiry_within_certificates(
            expires_root, min(k.not_after for k in new), now, rotation.root_days is not None
        )
        keys_by_id = {k: v for k, v in root.signed["keys"].items() if k not in roles["root"][0]}
        keys_by_id.update({k.x509_id: k.key_obj for k in new})
        roles["root"] = ([k.x509_id for k in new], threshold)
        signed = notary.build_root(keys_by_id, roles, expires_root, notary.version(root) + 1)
        summary = [f"root rotation of {gun}", *_dct.describe_root_keys(new)]
        summary += [f"revoked: root key {k.label} ({k.canonical_id[:16]})" for k in revoked]
        _dct.review_change(review, summary, [("root.json", root.signed, signed)])
        root_file = _sign_root(
            ws, signed, old, new, access, threshold, _roles_of(root)["root"][1], request=request_out is not None
        )
    version = notary.version(root) + 1
    roots = {n: d for n, d in _dct.metadata_files(ws).items() if n != "targets.json"}  # the publisher's since
    files = {**roots, f"{version}.root.json": root_file, "root.json": root_file}
    report = verify_notary(files, gun, now, _dct.anchor_root(files)) if request_out is None else Report(at="")
    targets = ws.config["roles"]["targets"]["keyids"][0]
    config = _key_config(ws, new, targets, now, [k.canonical_id for k in revoked])
    config["roles"]["root"]["threshold"] = threshold
    config["roles"]["root"]["expiry_days"] = root_days
    config["certificate_days"] = certificate_days
    for canonical, _data in encrypted.items():
        config["keys"][canonical]["uri"] = _roles.key_file_uri(canonical)
    changes = [
        f"root version {version}: root {threshold}-of-{len(new)}, expires {signed['expires']}",
        *[f"revoked root key {k.label} ({k.canonical_id})" for k in revoked],
        *[
            f"added root key {k.label}: canonical id {k.canonical_id}, certificate id {k.x509_id}"
            for k in new
            if k.label in labels
        ],
        *[
            f"renewed the certificate of {k.label}: certificate id {k.x509_id}, valid until {k.not_after:%Y-%m-%d}"
            for k in new
            if k.label not in labels and k not in old
        ],
    ]
    if request_out is not None:
        return _request(ws, "notary rotate-root", root_file, {}, config, encrypted, changes, summary, request_out, now)
    if bundle_out is None:
        raise UsageError("a root rotation signed here needs the publish bundle to write (--out)")
    if revoked:
        notes.append(
            "destroy every copy of the revoked keys' private parts (a laptop's ~/.docker/trust/private) once published"
        )
    notes.append("clients pinned by certificate id need the new ids (ceremony notary pin)")
    return _publish_root(
        ws,
        "notary rotate-root",
        root_file,
        config,
        changes,
        now,
        bundle_out,
        f"root version {version}",
        new,
        report,
        encrypted,
        notes,
    )


def _publish_root(
    ws: Workspace,
    command: str,
    root_file: bytes,
    config: dict[str, Any],
    changes: list[str],
    now: datetime,
    bundle_out: Path,
    note: str,
    keys: Sequence[_dct.RootKey],
    report: Report,
    key_files: Mapping[str, bytes] | None = None,
    notes: Sequence[str] = (),
) -> _dct.DctResult:
    """Commit a root-only change (root v+1, config, new key files, transcript), then write its publish bundle."""
    gun, version = _dct.gun_of(ws), notary.version(notary.parse(root_file, "root.json", "root"))
    written, head = _commit(
        ws,
        command,
        {f"{version}.root.json": root_file, "root.json": root_file},
        config,
        changes,
        {"gun": gun},
        now,
        key_files,
    )
    _dct.write_publish_bundle(bundle_out, gun, {"root.json": root_file}, note)
    return _dct.DctResult(
        path=ws.path,
        gun=gun,
        root_version=version,
        files=written,
        bundle=bundle_out,
        uploads=("root.json",),
        root_keys=tuple(keys),
        targets_key=None,
        targets_key_file=None,
        transcript_head=head,
        report=report,
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------------------------- take-over


def take_over(
    path: Path,
    fetched_path: Path,
    key_file: Path,
    key_passphrase: str,
    passphrase_for: PassphraseProvider,
    now: datetime | None = None,
    *,
    gun: str,
    trusted_root: Path,
    review: _dct.Review | None = None,
) -> _dct.DctResult:
    """A workspace for a repository whose root key lives in a Docker or notary trust directory.

    The fetched repository must verify from ``trusted_root``, the root the publisher's own client already
    trusts (``~/.docker/trust/tuf/GUN/metadata/root.json``): a bundle is not trusted on its word, since anyone
    can build a root that names the laptop's public certificate beside keys of their own. The GUN is the
    operator's, not the bundle's. Every root key is shown (``review``) before anything is kept. The key file
    is decrypted with its passphrase, and its key must be one the newest root names. It is kept here
    encrypted as every software key (under the keyholder's passphrase, asked as ``root-1``); the operator
    then rotates to m-of-n keys with ``rotate_root``, revoking every key not held here, and destroys the
    laptop copy. No bundle is written: nothing changes on the server yet.

    Raises:
        InputFileError / VerificationError: an unusable bundle, trusted root or key file, a repository that
            does not verify from the trusted root, or a key the root does not name.
        PassphraseError: the key file's passphrase is wrong.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    path = Path(path)
    check_new_path(path)
    gun = _bundle.check_gun(gun)
    fetched = _dct.read_fetched(fetched_path, gun)
    source = printable(str(fetched_path))
    if "root.json" not in fetched.files:
        raise InputFileError(f"{source}: {printable(gun, 80)} has no trust data on the server; nothing to take over")
    files = dict(fetched.files)
    trusted = read_bytes(trusted_root, "trusted root", limit=_bundle.MAX_FILE_BYTES)
    trusted_md = notary.parse(trusted, printable(str(trusted_root)), "root")
    floor = notary.version(trusted_md)
    served = notary.parse(files["root.json"], f"{source}: root.json", "root")
    newest = max((v for n in files if (v := _bundle.root_version_of(n))), default=0)
    if notary.version(served) < max(floor, newest):
        raise InputFileError(
            f"{source}: the server's root.json is version {notary.version(served)}, older than the root the "
            f"publisher's client trusts (version {floor}) or the newest it lists; fetch again from the real server"
        )
    # Roots below the trusted one are the server's word only: the workspace's chain starts at the trusted root.
    files = {n: d for n, d in files.items() if (_bundle.root_version_of(n) or floor) >= floor}
    files[f"{floor}.root.json"] = trusted
    report = verify_notary(files, gun, now, trusted)
    key, headers = dct_keys.read_notary_key_file(key_file, key_passphrase)
    if key.keytype != "ecdsa":
        raise InputFileError(f"{printable(str(key_file))}: not an ECDSA root key")
    canonical = notary.key_id(notary.ecdsa_key(key.public))
    root = notary.parse(files["root.json"], f"{source}: root.json", "root")
    named = {notary.canonical_key_id(root.signed["keys"][k]): k for k in root.signed["roles"]["root"]["keyids"]}
    if canonical not in named:
        raise InputFileError(
            f"{printable(str(key_file))}: key {canonical[:16]} is not a root key of {printable(gun, 80)} "
            f"(its root names {', '.join(c[:16] for c in named)})"
        )
    snapshot_ids = root.signed["roles"]["snapshot"]["keyids"]
    if notary.key_id(fetched.server_keys["snapshot"]) not in snapshot_ids:
        raise InputFileError(
            f"{source}: the server does not hold the snapshot key the root names (a repository made by "
            "notary init signs its snapshot on the publisher's machine); have the publisher run "
            f"notary key rotate {printable(gun, 80)} snapshot -r first, then fetch again"
        )
    others = [c for c in named if c != canonical]
    summary = [
        f"take over {printable(gun, 255)} at root version {notary.version(root)}, trusted from "
        f"{printable(str(trusted_root))} (version {notary.version(trusted_md)})",
        f"root threshold {root.signed['roles']['root']['threshold']} of {len(named)} keys:",
        f"  {canonical[:16]} from the key file: kept here (root-1)",
        *[f"  {c[:16]} NOT held here: revoke it in the next rotation unless you know who holds it" for c in others],
    ]
    _dct.review_change(review, summary, [("root.json", None, root.signed)])
    label = "root-1"
    encrypted = key.encrypted(passphrase_for(label), label)
    records = []
    for index, (c, _x509) in enumerate(named.items(), start=1):
        records.append(
            KeyRecord(
                c,
                label if c == canonical else f"root-old-{index}",
                ("root",),
                "ecdsa",
                _roles.key_file_uri(c) if c == canonical else None,
            )
        )
    targets_ids = root.signed["roles"]["targets"]["keyids"]
    targets_canonical = [notary.canonical_key_id(root.signed["keys"][k]) for k in targets_ids]
    records += [KeyRecord(c, "targets", ("targets",), "ecdsa", None) for c in targets_canonical]
    facts = [dct_keys.certificate_facts(notary.key_public(root.signed["keys"][x])[1])[0] for x in named.values()]
    root_days = max(1, (notary.expires(root) - now).days)
    config = {
        "profile": _dct.PROFILE,
        "gun": gun,
        "certificate_days": max(root_days, max(1, (min(f.not_after for f in facts) - now).days)),
        "roles": {
            "root": {
                "threshold": int(root.signed["roles"]["root"]["threshold"]),
                "keyids": list(named),
                "expiry_days": _dct.DEFAULT_DAYS["root"],
            },
            "targets": {"threshold": 1, "keyids": targets_canonical, "expiry_days": _dct.DEFAULT_DAYS["targets"]},
            **{
                r: {"threshold": 1, "keyids": list(root.signed["roles"][r]["keyids"]), "server_managed": True}
                for r in _dct.SERVER_ROLES
            },
        },
        "keys": {r.keyid: r.to_dict() for r in records},
    }
    kept = {n: d for n, d in files.items() if _bundle.role_of(n) == "root" or n == "targets.json"}
    changes = [
        f"took over Docker Content Trust repository {gun} at root version {notary.version(root)} "
        f"from {fetched.server or 'a fetched bundle'}",
        f"imported root key {canonical} from a key file (role {printable(headers.get('role', '?'), 40)}); it is kept "
        "encrypted here: rotate to m-of-n keys, then destroy the laptop copy",
    ]
    _ws, written, head = create_workspace(
        path, kept, {canonical: encrypted}, config, "notary take-over", changes, {"gun": gun}, now
    )
    return _dct.DctResult(
        path=path,
        gun=gun,
        root_version=notary.version(root),
        files=written,
        bundle=Path(),
        uploads=(),
        root_keys=tuple(_dct.root_keys(Workspace.load(path))),
        targets_key=None,
        targets_key_file=None,
        transcript_head=head,
        report=report,
        notes=(
            "ceremony notary rotate-root WS --from FETCHED --add ... --revoke root-1"
            + "".join(f" --revoke {c[:12]}" for c in others)
            + " to end with m-of-n keys held here, then publish",
        ),
    )


def rotate_server_key(
    path: Path,
    role: str,
    fetched_path: Path,
    bundle_out: Path | None,
    passphrase_for: PassphraseProvider,
    pin_for: SecretsHandler | None = None,
    now: datetime | None = None,
    review: _dct.Review | None = None,
    pin_file: Path | None = None,
    request_out: Path | None = None,
) -> _dct.DctResult:
    """Root v+1 naming the server's new snapshot or timestamp key (after a compromise of the server's key).

    The new key is the one ``ceremony notary fetch --new-server-key ROLE`` had the server make; the server
    signs with it as soon as this root is published. Only root.json leaves in the bundle.

    Raises:
        InputFileError: the bundle carries no new key for ``role`` (the server's key is the root's already).
        PolicyError: too few root keys held here.
    """
    if role not in _dct.SERVER_ROLES:
        raise UsageError(f"the server's keys are {' and '.join(_dct.SERVER_ROLES)}, not {printable(role, 40)!r}")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    ws = _dct.load_verified(path, now)
    gun = _dct.gun_of(ws)
    _dct.refuse_existing(*[p for p in (bundle_out, request_out) if p is not None])
    fetched, _served = _server_state(ws, fetched_path, now)
    root = _dct.newest_root(ws)
    keys = _dct.root_keys(ws, root)
    roles = _roles_of(root)
    new_obj = notary.key_object(*notary.key_public(fetched.server_keys[role]))
    new_id = notary.key_id(new_obj)
    if new_id in roles[role][0]:
        raise InputFileError(
            f"{printable(str(fetched_path))}: the server's {role} key is the root's already; fetch with "
            f"--new-server-key {role} to have the server make a new one"
        )
    keys_by_id = {k: v for k, v in root.signed["keys"].items() if k not in roles[role][0]}
    keys_by_id[new_id] = new_obj
    roles[role] = ([new_id], 1)
    expires = _policy.root_expiry_within_certificates(
        now + timedelta(days=_policy.policy_days(ws.config, "root")), min(k.not_after for k in keys), now, False
    )
    signed = notary.build_root(keys_by_id, roles, expires, notary.version(root) + 1)
    _dct.review_change(review, [f"a new server {role} key for {gun}"], [("root.json", root.signed, signed)])
    access = _dct.Access(
        passphrase_for, pin_for, ws.config.get("pkcs11_module"), contextlib.ExitStack(), pin_file=pin_file
    )
    with access.stack:
        threshold = roles["root"][1]
        root_file = _sign_root(ws, signed, keys, keys, access, threshold, threshold, request=request_out is not None)
    version = notary.version(root) + 1
    config = dict(ws.config)
    config["roles"] = {r: dict(v) for r, v in ws.config["roles"].items()}
    config["roles"][role]["keyids"] = [new_id]
    changes = [
        f"root version {version}: the server's {role} key {', '.join(k[:16] for k in _roles_of(root)[role][0])} replaced by {new_id}"
    ]
    if request_out is not None:
        return _request(ws, f"notary rotate-key {role}", root_file, {}, config, {}, changes, changes, request_out, now)
    if bundle_out is None:
        raise UsageError("a key rotation signed here needs the publish bundle to write (--out)")
    files = {**_dct.metadata_files(ws), f"{version}.root.json": root_file, "root.json": root_file}
    report = verify_notary({n: d for n, d in files.items() if n != "targets.json"}, gun, now, _dct.anchor_root(files))
    return _publish_root(
        ws,
        f"notary rotate-key {role}",
        root_file,
        config,
        changes,
        now,
        bundle_out,
        f"root version {version}: new server {role} key",
        keys,
        report,
    )
