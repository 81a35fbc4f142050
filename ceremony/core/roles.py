"""Names every other module agrees on: the roles, their default policy, and where their files and keys live.

Nothing here decides anything; ``policy.py`` does. These are the facts the
decisions are about, written once so that a second metadata dialect (Notary
v1 has the same four roles) or a new command cannot drift from them.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The top-level roles, in the order the spec lists them and operators see them.
TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")
#: The roles whose keys an online service usually holds; each later one lists the one before it
#: (snapshot lists targets, timestamp hashes snapshot).
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
#: The people of a ceremony (ceremony-practice.md: IANA's roles, scaled down), as plans, sessions and sign-offs name them.
PARTICIPANT_ROLES = ("administrator", "witness", "keyholder", "auditor")

#: Days a new version of each role is valid for unless ceremony.json says otherwise; a delegated
#: role is treated like targets.
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}
#: Days before expiry by which a role must be re-signed: time to gather keyholders (root), to
#: re-sign and publish (targets), or for the online service (snapshot, timestamp). Configurable per
#: role as ``signing_period_days`` in ceremony.json.
DEFAULT_SIGNING_PERIOD_DAYS = {"root": 60, "targets": 30, "snapshot": 2, "timestamp": 0}
#: An expiry closer than this is a warning on every screen.
WARN_DAYS = 30
#: Expiry and signing periods in a config: a day to a century (a larger value is a damaged file,
#: and would overflow date arithmetic).
MAX_POLICY_DAYS = 36_500

# ---- the workspace's layout (docs/workspace.md)
CONFIG_NAME = "ceremony.json"
METADATA_DIR = "metadata"
KEYS_DIR = "keys"
PENDING_DIR = "pending"
REQUESTS_DIR = "requests"
DRILLS_DIR = "drills"
#: Every ceremony plan the workspace ran a step of, as plans/<SHA-256>.toml (the transcript names the step).
PLANS_DIR = "plans"
#: The target files a static web server serves beside metadata/ (targets/<target path>).
TARGETS_DIR = "targets"

#: A key id that becomes a file name (keys/<keyid>.p12): the spec's SHA-256 key id, and nothing else.
KEYID = re.compile(r"^[0-9a-f]{64}\Z")
#: The only form of a software key reference: a file of this workspace's keys/ directory.
FILE_URI = re.compile(r"^file:keys/([0-9a-f]{64})\.p12\Z")
#: A sign request id: what requests.write_request generates (secrets.token_hex(8)); it names pending/<id>.json.
REQUEST_ID = re.compile(r"^[0-9a-f]{16}\Z")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}|[0-9a-f]{128}")
#: A delegated role name: letters, digits and . _ -, not starting with a dot, at most 64 characters.
ROLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def expiry_days(role: str) -> int:
    """The default expiry of ``role`` in days (a delegated role like targets)."""
    return DEFAULT_EXPIRY_DAYS.get(role, DEFAULT_EXPIRY_DAYS["targets"])


def signing_period_days(role: str) -> int:
    """The default re-signing period of ``role`` in days (a delegated role like targets)."""
    return DEFAULT_SIGNING_PERIOD_DAYS.get(role, DEFAULT_SIGNING_PERIOD_DAYS["targets"])


def file_names(role: str, version: int, consistent: bool) -> list[str]:
    """The files a new version of ``role`` is written as (every root version is kept as N.root.json).

    With consistent snapshots clients fetch ``N.ROLE.json``, except the timestamp, which is always fetched by
    its plain name (TUF 5.4); a versioned copy of it would be a file no client reads.
    """
    if role == "root":
        return [f"{version}.root.json", "root.json"]
    return [f"{role}.json", *([f"{version}.{role}.json"] if consistent and role != "timestamp" else [])]


def display_name(role: str, version: int) -> str:
    """The file name an operator sees for a new version: N.root.json for root, ROLE.json otherwise."""
    return f"{version}.root.json" if role == "root" else f"{role}.json"


def is_version_of(name: str, role: str) -> bool:
    """``name`` is one of the files of ``role`` (ROLE.json or N.ROLE.json)."""
    return name == f"{role}.json" or re.fullmatch(rf"[1-9][0-9]*\.{re.escape(role)}\.json", name) is not None


def key_file_uri(keyid: str) -> str:
    """The reference ceremony.json keeps for a software key: file:keys/<keyid>.p12."""
    return f"file:{KEYS_DIR}/{keyid}.p12"


def key_file_rel(keyid: str) -> str:
    """The workspace-relative path of a software key's encrypted file."""
    return f"{KEYS_DIR}/{keyid}.p12"


def key_file_of(base: Path, uri: str) -> Path | None:
    """The file a ``file:keys/<keyid>.p12`` reference names inside ``base``; None for any other form."""
    match = FILE_URI.match(uri)
    return Path(base) / KEYS_DIR / f"{match.group(1)}.p12" if match else None


def target_file_names(path: str, hashes: dict[str, str], consistent: bool) -> list[str]:
    """The workspace paths a client fetches target ``path`` from: ``targets/<path>``, or with consistent
    snapshots ``targets/<dir>/<hash>.<name>`` for each hash (python-tuf and tuf-js take the first listed)."""
    if not consistent:
        return [f"{TARGETS_DIR}/{path}"]
    directory, _sep, name = path.rpartition("/")
    prefix = f"{TARGETS_DIR}/{directory}/" if directory else f"{TARGETS_DIR}/"
    # A hash becomes part of a file name: only the hex digests python-tuf writes are used (never "x/y").
    return [f"{prefix}{digest}.{name}" for digest in hashes.values() if _HEX_DIGEST.fullmatch(str(digest))]
