"""A workspace made from a real repository after verifying it: keys recorded as held elsewhere.

The path a repository run with other tools (tuf-on-ci, go-tuf, python-tuf's
repository code, RSTUF) takes into ``ceremony``: only the files a client
fetches are read, verified as a client would verify them, and copied byte for
byte; later versions made here continue the same chain.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ceremony.core import keys as _keys
from ceremony.core import metadata as _md
from ceremony.core import verify as _verify
from ceremony.core._json import read_bytes
from ceremony.core.repo_files import read_client_files
from ceremony.core.roles import DEFAULT_EXPIRY_DAYS, TOP_LEVEL
from ceremony.core.workspace import Workspace, create_workspace

#: A key label taken from an imported repository (tuf-on-ci's key owner): a plain handle or e-mail address.
_OWNER_LABEL = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")


def import_repository(
    path: Path, source: Path, trusted_root: Path | None, at: datetime, now: datetime | None = None
) -> tuple[Workspace, _verify.Report]:
    """Make a workspace from a real repository after verifying it, without private keys.

    Only the files a TUF client would fetch are read, by name and never through
    a symbolic link, and any other entry of the source directory is refused
    (``verify.read_client_files``): nothing the source holds besides its
    metadata reaches the published directory. Every file is copied byte for byte (unknown fields included); every key is
    recorded as held elsewhere, labelled with its owner where the metadata says
    (tuf-on-ci's x-tuf-on-ci-keyowner). New versions keep the repository's
    keyids; new keys get the spec's keyid.

    Raises:
        VerificationError: the repository does not verify.
        WorkspaceError: the workspace exists.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    # Read once, verify those bytes, and copy exactly those bytes: a second read could differ.
    # Only the files a client would fetch, by name, never through a symlink; anything else is refused.
    files = read_client_files(source)
    trusted_bytes = read_bytes(trusted_root, "trusted root") if trusted_root else None
    report = _verify.verify_files(files, trusted_bytes, at, str(trusted_root) if trusted_root else None)
    newest = f"{report.newest_root_version}.root.json"
    if newest not in files:  # only root.json was given: it is the newest root, kept under its number too
        files[newest] = files["root.json"]
    files.setdefault("root.json", files[newest])
    root = _md.parse(files["root.json"], "root.json")
    root_dict = _md.signed_dict(root)
    keys_config: dict[str, Any] = {}
    for role in TOP_LEVEL:
        for keyid in root_dict["roles"][role]["keyids"]:
            key = root_dict["keys"].get(keyid, {})
            owner = key.get("x-tuf-on-ci-keyowner")
            if not isinstance(owner, str) or not _OWNER_LABEL.match(owner):
                owner = None  # a label is shown everywhere: only a plain one is taken from the repository
            entry = keys_config.setdefault(
                keyid,
                {
                    "label": owner or f"{role}-{keyid[:8]}",
                    "roles": [],
                    "key_type": _keys.key_type_name(_keys.public_key_from_metadata(keyid, key)),
                    "uri": None,
                },
            )
            entry["roles"].append(role)
    config = {
        "roles": {
            role: {
                "threshold": root_dict["roles"][role]["threshold"],
                "keyids": root_dict["roles"][role]["keyids"],
                "expiry_days": DEFAULT_EXPIRY_DAYS[role],
            }
            for role in TOP_LEVEL
        },
        "keys": keys_config,
        "consistent_snapshot": bool(root_dict.get("consistent_snapshot")),
        "imported_from": {
            "trusted_root": report.trusted_root,
            "verified_at": report.at,
            "newest_root": report.newest_root_version,
        },
    }
    ws, _written, _head = create_workspace(
        path,
        files,
        {},
        config,
        "import",
        [
            f"imported a verified repository: root chain {report.trusted_root} to version {report.newest_root_version}",
            f"every key recorded as held elsewhere ({len(keys_config)} keys)",
        ],
        {"verified_at": report.at, "source_files": sorted(files)},
        now,
    )
    return ws, report
