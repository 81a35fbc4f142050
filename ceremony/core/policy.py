"""Every refusal and every lockout or expiry warning, each written once.

A reviewer asking "where is the rule that refuses a lockout?" opens this file.
The functions are pure: they take numbers, names and dates, never a file or a
key, and raise ``PolicyError`` (a choice that would lock clients out or weaken
custody), ``UsageError`` (something the operator typed that cannot be meant)
or ``InputFileError`` (a name read from a file). Every path that makes or
changes metadata calls them: ``init``, the planners in ``changes``, the guided
ceremonies, and ``publish`` once more on the final files, so a rule cannot be
skipped by choosing another client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ceremony.core import roles as _roles
from ceremony.core._text import plural, printable
from ceremony.errors import InputFileError, PolicyError, TamperedRequestError, UsageError

#: A new root's default: 2 of 3 keys, so that losing one key neither locks the root nor lets one keyholder sign.
DEFAULT_ROOT_KEYS = 3
DEFAULT_ROOT_THRESHOLD = 2
#: Online roles have one key and threshold 1 unless the operator says otherwise.
DEFAULT_ONLINE_THRESHOLD = 1

#: What a threshold with no spare root key tells the operator to do about it, true in either client: the CLI's
#: flag and the terminal UI's box accept the risk alike.
NO_SPARE_HINT = (
    "add a key, lower the threshold, or accept the risk explicitly (ceremony's --no-spare-root-key, or the "
    "'no spare root key' box in the terminal UI)"
)


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- thresholds and keys


def check_threshold(role: str, threshold: int, count: int, no_spare_ok: bool = False) -> None:
    """Refuse a threshold that can never be met, and a root threshold that leaves no spare key.

    A root whose threshold equals its number of keys is locked for good the day
    one key is lost: refused unless the operator accepts it (``no_spare_ok``).

    Raises:
        PolicyError: threshold below 1, above the number of keys, or no spare root key.
    """
    if count < 1:
        raise PolicyError(f"{role}: a role needs at least one key")
    if threshold < 1:
        raise PolicyError(f"{role}: threshold {threshold} is not allowed; it must be at least 1")
    if threshold > count:
        raise PolicyError(
            f"{role}: threshold {threshold} is above its {plural(count, 'key')}; the role could never be signed"
        )
    if role == "root" and threshold == count and not no_spare_ok:
        raise PolicyError(
            f"root threshold {threshold} of {plural(count, 'key')} leaves no spare key: losing any one key would lock "
            "the root",
            hint=NO_SPARE_HINT,
        )


def check_distinct_keys(role: str, keyids: Sequence[str]) -> None:
    """Refuse a key listed twice in one role: it would count once, so the threshold would mean less than it says.

    Raises:
        PolicyError: naming the first key listed twice.
    """
    seen: set[str] = set()
    for keyid in keyids:
        if keyid in seen:
            raise PolicyError(f"{role}: key {keyid[:12]} is listed twice")
        seen.add(keyid)


def check_custody(keys: Sequence[tuple[str, str | None, str | None]]) -> None:
    """One keyholder and one token per root key, so that one person or one lost token is never two keys.

    ``keys`` is (label, keyholder or None, token identity or None) per root key;
    the token identity is what names the token (its serial, else its label),
    read without logging in.

    Raises:
        PolicyError: a keyholder or a token that would hold two root keys.
    """
    holders = [holder for _label, holder, _token in keys if holder]
    twice = sorted({h for h in holders if holders.count(h) > 1})
    if twice:
        raise PolicyError(
            f"{', '.join(twice)} would hold more than one root key; each root key needs its own keyholder"
        )
    by_token: dict[str, list[str]] = {}
    for label, _holder, token in keys:
        if token:
            by_token.setdefault(token, []).append(label)
    for token, labels in by_token.items():
        if len(labels) > 1:
            raise PolicyError(
                f"root keys {', '.join(labels)} are on one token ({printable(token, 80)}): losing that token "
                "would lose them all; use one token per root key"
            )


def check_signable(signable: int, threshold: int) -> None:
    """Refuse a new root that cannot be signed here: fewer keys in hand than its threshold.

    Raises:
        PolicyError: naming how many signatures can be made.
    """
    if signable < threshold:
        raise PolicyError(
            f"only {signable} of the {threshold} root signatures needed can be made here "
            "(the other root keys are public keys held elsewhere)"
        )


def default_threshold(role: str) -> int:
    """The threshold a role gets when the operator names none."""
    return DEFAULT_ROOT_THRESHOLD if role == "root" else DEFAULT_ONLINE_THRESHOLD


# --------------------------------------------------------------------------- expiry and versions


def check_expiry_days(role: str, days: int) -> None:
    """Refuse an expiry policy that is not at least a day, or beyond a century.

    Raises:
        PolicyError: days below 1 or above MAX_POLICY_DAYS.
    """
    if days < 1:
        raise PolicyError(f"{role}: an expiry of {plural(days, 'day')} is not in the future; use at least 1 day")
    if days > _roles.MAX_POLICY_DAYS:
        raise PolicyError(f"{role}: an expiry of {plural(days, 'day')} is beyond {_roles.MAX_POLICY_DAYS:,} days")


def check_expiry(role: str, expires_at: datetime, now: datetime) -> None:
    """Refuse metadata that would already be expired when it is published.

    Raises:
        PolicyError: the expiry is not after ``now``.
    """
    if expires_at <= now:
        raise PolicyError(f"{role}: expiry {_date(expires_at)} is not in the future")


def check_next_version(role: str, version: int, expected: int) -> None:
    """Refuse a version that is not the previous one + 1: clients reject anything else (rollback or gap).

    Raises:
        PolicyError: naming the version expected.
    """
    if version != expected:
        raise PolicyError(f"{role}: version {version} is not the previous version + 1 ({expected})")


def check_role(role: str, keyids: Sequence[str], threshold: int, expires: datetime, now: datetime) -> None:
    """Every rule a role of new metadata must meet: distinct keys, a reachable threshold, a future expiry.

    Raises:
        PolicyError: the first rule broken.
    """
    check_distinct_keys(role, keyids)
    check_threshold(role, threshold, len(keyids), no_spare_ok=True)
    check_expiry(role, expires, now)


def kept_expiry(published: datetime, days: int, now: datetime) -> datetime:
    """The expiry of a new version of an existing role made by a change that is not about its expiry.

    A delegation, a rotation, hash bins or a target change re-signs roles it does not mean to extend or
    shorten. Setting their expiry from the policy silently undid an extension published minutes before
    (``extend --days 180`` then ``delegate``: targets went back to the 90-day policy). So the published expiry
    stays, moved forward only when the policy from now reaches further (a file near its end gets the policy's
    life, as re-signing it would); only ``extend`` sets an expiry the operator chose, and shows it in the diff.

    Args:
        published: the expiry of the role's published version.
        days: the role's expiry policy (``policy_days``).
        now: the time of the change.

    Returns:
        The later of ``published`` and ``days`` from ``now``.
    """
    return max(published, now + timedelta(days=days))


def policy_days(config: Mapping[str, Any], role: str) -> int:
    """Days a new version of ``role`` is valid for: ceremony.json's policy, else the default.

    Top-level roles read ``roles``, delegated roles ``delegations`` (then the default for targets).
    """
    entry = (config.get("roles") or {}).get(role) or (config.get("delegations") or {}).get(role) or {}
    days = entry.get("expiry_days") if isinstance(entry, dict) else None
    return int(days) if isinstance(days, int) and not isinstance(days, bool) and days >= 1 else _roles.expiry_days(role)


def signing_period(config: Mapping[str, Any], role: str) -> int:
    """Days before expiry by which ``role`` must be re-signed (ceremony.json, else the default)."""
    entry = (config.get("roles") or {}).get(role) or (config.get("delegations") or {}).get(role) or {}
    days = entry.get("signing_period_days") if isinstance(entry, dict) else None
    return int(days) if isinstance(days, int) and not isinstance(days, bool) else _roles.signing_period_days(role)


# --------------------------------------------------------------------------- names


def check_role_name(name: object, source: str) -> str:
    """A role name read from a file: a top-level role, or a delegated name of letters, digits and . _ -.

    Raises:
        InputFileError: anything else (a path, a dot file, control characters, too long).
    """
    if not isinstance(name, str) or not (name in _roles.TOP_LEVEL or _roles.ROLE_NAME.match(name)) or ".." in name:
        raise InputFileError(f"{source}: {printable(name, 80)!r} is not a role name")
    return name


def check_new_role_name(name: str) -> None:
    """A name the operator gives a new delegated role.

    Raises:
        UsageError: not letters, digits and . _ -, or a top-level role's name.
    """
    if not _roles.ROLE_NAME.match(name) or ".." in name or name in _roles.TOP_LEVEL:
        raise UsageError(
            f"{printable(name, 80)!r} is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"
        )


def check_new_delegation(name: str, exists: bool) -> None:
    """A delegated role is created once: a second delegation of the same name would make its keys ambiguous.

    Raises:
        PolicyError: the role is delegated already.
    """
    if exists:
        raise PolicyError(f"role {printable(name, 80)!r} is already delegated")


def check_removable(role: str) -> None:
    """Refuse to remove a top-level role (a client could no longer update at all).

    Raises:
        PolicyError: ``role`` is top-level.
    """
    if role in _roles.TOP_LEVEL:
        raise PolicyError(f"{role}: a top-level role cannot be removed")


def check_online_key_roles(names: Iterable[str]) -> None:
    """Only the online roles' keys may be public keys held by an online service.

    Raises:
        UsageError: naming the other roles.
    """
    unknown = sorted(set(names) - set(_roles.ONLINE_ROLES))
    if unknown:
        raise UsageError(
            f"--online-key names {'role' if len(unknown) == 1 else 'roles'} {', '.join(unknown)}; only targets, "
            "snapshot and timestamp keys can be imported"
        )


# --------------------------------------------------------------------------- the online service's files


def left_to_online(held_here: Mapping[str, bool]) -> list[str]:
    """The online roles whose files the online service must sign: a role whose key is not held here, and every one after it.

    Snapshot lists targets and timestamp hashes snapshot, so once one file
    cannot be signed here, none after it can be written either.
    """
    for index, role in enumerate(_roles.ONLINE_ROLES):
        if not held_here.get(role):
            return list(_roles.ONLINE_ROLES[index:])
    return []


def left_to_online_line(role: str) -> str:
    """The line transcripts and the operator see for each such file."""
    return f"{role}.json not written: the online service signs it"


# --------------------------------------------------------------------------- participants


def check_participants(by_role: Mapping[str, Sequence[str]]) -> None:
    """A root ceremony needs an administrator, a witness who is someone else, and keyholders.

    Raises:
        PolicyError: a role with nobody, or the administrator as the only witness.
    """
    for role in ("administrator", "witness", "keyholder"):
        if not by_role.get(role):
            raise PolicyError(f"a root ceremony needs at least one {role}")
    if set(by_role["witness"]) <= set(by_role["administrator"]):
        raise PolicyError("the witness must be someone other than the administrator")


# --------------------------------------------------------------------------- warnings


def expiry_warning(role: str, expires: datetime, resign_by: datetime, now: datetime) -> str | None:
    """The warning for a role that expired, expires within WARN_DAYS, or is past its re-sign date; else None."""
    if expires <= now:
        return f"{role} EXPIRED on {_date(expires)}"
    days_left = round((expires - now).total_seconds() / 86400, 1)
    if days_left <= _roles.WARN_DAYS:
        return f"{role} expires in {plural(days_left, 'day')} ({_date(expires)})"
    if resign_by <= now:
        return f"{role} is past its re-sign date {_date(resign_by)} (expires {_date(expires)})"
    return None


def spare_key_warning(threshold: int, count: int) -> str | None:
    """The warning for a published root with no spare key (accepted at init or rotation with --no-spare-root-key).

    A root whose threshold is above its keys (another tool made it) is worse than no spare: it is told as such,
    never as "3 of 2".
    """
    if threshold > count:
        return (
            f"root threshold {threshold} is above its {plural(count, 'key')}: no new root version can be signed, "
            "clients are locked to this one"
        )
    if threshold == count:
        return (
            f"root threshold {threshold} of {plural(count, 'key')} leaves no spare key: losing one key locks the root"
        )
    return None


def shared_key_warnings(owners: Mapping[str, Sequence[str]]) -> list[str]:
    """A key that serves several roles: one compromise is several."""
    return [
        f"key {keyid[:12]} is shared by roles {', '.join(roles)}" for keyid, roles in owners.items() if len(roles) > 1
    ]


def check_request_id(value: object, source: str) -> str:
    """A sign request id: 16 lowercase hex digits, as write_request makes them.

    Raises:
        TamperedRequestError: any other id (it would name a file outside pending/).
    """
    if not isinstance(value, str) or not _roles.REQUEST_ID.match(value):
        raise TamperedRequestError(
            f"{source}: its id {printable(value, 80)!r} is not one this tool makes (16 hex digits)", source, "id"
        )
    return value


# --------------------------------------------------------------------------- Docker Content Trust (Notary v1)


def check_certificate_days(certificate_days: int, root_days: int) -> None:
    """Refuse root certificates that end before the root they sign: clients stop trusting a key at notAfter.

    The stock notary client and the server refuse a root whose certificates have expired, so a certificate
    shorter than the root's expiry locks clients out before the root itself expires.

    Raises:
        PolicyError: the certificates would expire first.
    """
    check_expiry_days("root certificates", certificate_days)
    if certificate_days < root_days:
        raise PolicyError(
            f"root certificates valid for {plural(certificate_days, 'day')} would expire before the root does "
            f"({plural(root_days, 'day')}): clients would refuse the root from then on",
            hint="give --certificate-days at least the root's expiry",
        )


def certificate_warning(label: str, not_after: datetime, now: datetime) -> str | None:
    """A warning when a root certificate ends within the root's signing period, else None.

    Renewing a certificate is a root rotation, which needs a threshold of keyholders: the warning comes as
    early as a root re-signing would (``DEFAULT_SIGNING_PERIOD_DAYS["root"]``).
    """
    days = (not_after - now).total_seconds() / 86400
    if days <= 0:
        return f"the certificate of root key {label} expired on {_date(not_after)}: clients refuse it; renew it now"
    if days <= _roles.signing_period_days("root"):
        return (
            f"the certificate of root key {label} expires on {_date(not_after)} ({plural(int(days), 'day')}): renew it with a "
            "root rotation (ceremony notary rotate-root --renew-certificates)"
        )
    return None


def root_expiry_within_certificates(expires_at: datetime, ends: datetime, now: datetime, explicit: bool) -> datetime:
    """The expiry of a new root whose kept keys keep their certificates, which end at ``ends``.

    A root must not outlive its certificates (clients refuse it from then on), so the root is cut back to
    them; when the operator asked for that expiry explicitly, or the certificates end within the root's
    signing period (the new root would need re-signing at once), the certificates must be renewed instead.

    Raises:
        PolicyError: naming the certificates' end and the way out (--renew-certificates).
    """
    if ends >= expires_at:
        return expires_at
    if explicit or ends - now <= timedelta(days=_roles.signing_period_days("root")):
        raise PolicyError(
            f"the root would expire after the certificates of its kept keys (they end {_date(ends)})",
            hint="renew the certificates first: ceremony notary rotate-root --renew-certificates"
            + ("" if not explicit else ", or give a shorter --root-days"),
        )
    return ends


def ca_warning(not_after: datetime, now: datetime, horizon_days: int) -> str | None:
    """A warning when the workspace CA ends within ``horizon_days`` (root certificates it issues end with it).

    A CA-pinned client refuses every root certificate from the CA's end on, and ceremony does not renew a CA:
    the way out is a root rotation to self-signed certificates (or a workspace with a new CA), and clients
    pinning the CA must be told in time.
    """
    days = (not_after - now).total_seconds() / 86400
    if days > horizon_days:
        return None
    return (
        f"the workspace CA ends on {_date(not_after)}: root certificates it issues end with it, and clients "
        "pinning it refuse the root from then on; plan a rotation to new certificates and tell those clients"
    )


# --------------------------------------------------------------------------- target files

#: A target path: what a TUF client fetches below targets/ (segments of letters, digits and . _ -, at most 8 deep).
_TARGET_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")


def check_target_path(path: str) -> str:
    """A target path this tool writes: relative, '/'-separated, no '..', no hidden or empty segment, <= 8 deep.

    The path names a file under the workspace's targets/ that a static web server serves, so it must stay
    inside and mean the same on every system (no backslash, no drive, no control characters).

    Raises:
        UsageError: naming the path and the rule.
    """
    segments = path.split("/")
    if not 1 <= len(segments) <= 8 or not all(_TARGET_SEGMENT.match(s) for s in segments):
        raise UsageError(
            f"target path {printable(path, 200)!r}: use up to 8 '/'-separated segments of letters, digits and "
            "'._-', none starting with '.' (it names a file a client fetches below targets/)"
        )
    return path


def check_target_listed(path: str, listed: bool) -> None:
    """Refuse removing a target the role does not list.

    Raises:
        PolicyError: naming the path.
    """
    if not listed:
        raise PolicyError(f"no target {printable(path, 200)!r} in this role")


def check_delegated_path(role: str, path: str, delegated: bool) -> None:
    """Refuse a target that the role's delegation does not give it: clients would never look for it there.

    Raises:
        PolicyError: naming the role and the path.
    """
    if not delegated:
        raise PolicyError(
            f"{printable(role, 80)}: its delegation does not cover {printable(path, 200)!r}; clients would not find it"
        )


#: The profile of a private Sigstore instance's root (a TUF workspace with Sigstore's clients' rules).
SIGSTORE_PROFILE = "sigstore"
#: Signature schemes every Sigstore client verifies: tuf-js (sigstore-js) checks ECDSA with SHA-256 only, RSA with
#: PSS only; python-tuf (sigstore-python) and go-tuf (cosign) verify all three.
SIGSTORE_SCHEMES = ("ecdsa-sha2-nistp256", "ed25519", "rsassa-pss-sha256")


def check_profile_key(profile: str, label: str, scheme: str) -> None:
    """Refuse a key the profile's clients could not verify, before anything is signed with it.

    A root signed with a key sigstore-js cannot verify locks every JavaScript client out of the instance.

    Raises:
        PolicyError: the scheme is not one the profile's clients verify.
    """
    if profile == SIGSTORE_PROFILE and scheme not in SIGSTORE_SCHEMES:
        raise PolicyError(
            f"{printable(label, 40)}: sigstore-js cannot verify {printable(scheme, 40)} signatures (it verifies "
            f"{', '.join(SIGSTORE_SCHEMES)}); use ecdsa-p256 or ed25519 for a Sigstore instance"
        )


# --------------------------------------------------------------------------- hash-bin delegations (TAP 15)

#: PEP 458's 16,384 bins: the snapshot then lists 16,385 roles (about 750 KB), well inside the 2,000,000 bytes
#: python-tuf and tuf-js download by default; twice as many bins would bring it close to that limit.
MAX_SUCCINCT_BINS = 16_384


def check_succinct_bins(count: int) -> int:
    """The number of hash bins of a succinct delegation: a power of two from 2 to ``MAX_SUCCINCT_BINS``.

    TAP 15 names bins by the first ``bit_length`` bits of a target path's hash, so their number is 2**bit_length.

    Returns:
        The bit length (log2 of ``count``).

    Raises:
        UsageError: any other number.
    """
    if count < 2 or count > MAX_SUCCINCT_BINS or count & (count - 1):
        raise UsageError(
            f"--succinct-bins {count}: give a power of two from 2 to {MAX_SUCCINCT_BINS:,} (TAP 15 bins are "
            "numbered by the first bits of a target path's hash)"
        )
    return count.bit_length() - 1


def check_succinct_paths(paths: Sequence[str]) -> None:
    """Refuse ``--paths`` with hash bins: TAP 15's bins have no paths, every target path goes to the bin its hash names.

    To give the bins only some paths, the paths go to a delegated role, and that role delegates to the bins.

    Raises:
        UsageError: paths were given.
    """
    if paths:
        raise UsageError(
            "--paths cannot go with --succinct-bins: hash bins cover every target path, each in the bin its "
            "hash names (TAP 15); delegate the paths to a role first, then the bins --from that role"
        )


def check_succinct_parent(parent: str, names_roles: bool, has_bins: bool) -> None:
    """A role delegates either to named roles or to one set of hash bins, never both (TAP 15).

    Raises:
        PolicyError: the delegating role already names roles, or already has bins.
    """
    if has_bins:
        raise PolicyError(
            f"{printable(parent, 80)}: it already delegates to hash bins; remove them first (delegate --remove)"
        )
    if names_roles:
        raise PolicyError(
            f"{printable(parent, 80)}: it already delegates to named roles, and a role with hash bins has no other "
            "delegations (TAP 15); delegate the bins --from a role of their own"
        )


#: Roles one sign request may write: 4,096 empty hash bins make a request of about 2.4 MB, well within the
#: 8 MiB ``ceremony sign`` reads (16,384 bins make 9.5 MB). And roles it may remove: a request lists at most 50.
MAX_REQUEST_WRITTEN_ROLES = 4_096
MAX_REQUEST_REMOVED_ROLES = 50


def check_request_roles(written: int, removed: int) -> None:
    """Refuse a sign request for a change of more roles than a request carries (hash bins: sign it here).

    Raises:
        UsageError: naming the number of roles.
    """
    if written > MAX_REQUEST_WRITTEN_ROLES or removed > MAX_REQUEST_REMOVED_ROLES:
        raise UsageError(
            f"--request: this change writes {written:,} and removes {removed:,} roles, more than a sign request "
            f"carries ({MAX_REQUEST_WRITTEN_ROLES:,} written, {MAX_REQUEST_REMOVED_ROLES} removed); sign it here "
            "with the keys it needs"
        )


def refuse_single_bin(role: str, prefix: str) -> None:
    """Refuse removing one hash bin: every target path hashes to some bin, so the bins go all at once or not at all.

    Raises:
        PolicyError: naming the bin and how to remove them all.
    """
    raise PolicyError(
        f"{printable(role, 80)}: one of the hash bins {printable(prefix, 80)}-*, which are removed all together "
        f"(delegate --remove {printable(prefix, 80)})"
    )
