"""ceremony/core/policy.py: every refusal and every warning, one line per case.

Each refusal is pinned by its exact sentence: the sentence is written once in
the package (``test_refusal_sentence_is_written_once``), so a change of
wording is a change of this table, and every sentence policy.py can raise has
a line here (``test_every_refusal_has_a_case``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ceremony.core import policy
from ceremony.core.roles import MAX_POLICY_DAYS
from ceremony.errors import InputFileError, PolicyError, TamperedRequestError, UsageError

PACKAGE = Path(policy.__file__).resolve().parents[1]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
A, B, C = "a" * 64, "b" * 64, "c" * 64
CREW = {"administrator": ["ann"], "witness": ["wes"], "keyholder": ["kim", "kai"]}

# name -> (call, exception type, exact sentence)
REFUSALS: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    # check_threshold
    "threshold 0": (lambda: policy.check_threshold("targets", 0, 1), PolicyError, "targets: threshold 0 is not allowed; it must be at least 1"),
    "threshold negative": (lambda: policy.check_threshold("root", -1, 3), PolicyError, "root: threshold -1 is not allowed; it must be at least 1"),
    "threshold above keys": (lambda: policy.check_threshold("snapshot", 3, 2), PolicyError, "snapshot: threshold 3 is above its 2 keys; the role could never be signed"),
    "no keys": (lambda: policy.check_threshold("releases", 1, 0), PolicyError, "releases: a role needs at least one key"),
    "no keys, threshold 0": (lambda: policy.check_threshold("releases", 0, 0), PolicyError, "releases: a role needs at least one key"),
    "root n-of-n": (lambda: policy.check_threshold("root", 3, 3), PolicyError, "root threshold 3 of 3 keys leaves no spare key: losing any one key would lock the root"),
    "root 1-of-1": (lambda: policy.check_threshold("root", 1, 1), PolicyError, "root threshold 1 of 1 key leaves no spare key: losing any one key would lock the root"),
    "root above keys, no_spare_ok": (lambda: policy.check_threshold("root", 4, 3, no_spare_ok=True), PolicyError, "root: threshold 4 is above its 3 keys; the role could never be signed"),
    # check_distinct_keys
    "key listed twice": (lambda: policy.check_distinct_keys("root", [A, B, A]), PolicyError, "root: key aaaaaaaaaaaa is listed twice"),
    "first key listed twice named": (lambda: policy.check_distinct_keys("targets", [A, C, C, A]), PolicyError, "targets: key cccccccccccc is listed twice"),
    # check_custody
    "same holder twice": (lambda: policy.check_custody([("root-1", "alice", None), ("root-2", "alice", None), ("root-3", "bob", None)]), PolicyError, "alice would hold more than one root key; each root key needs its own keyholder"),
    "two holders twice": (lambda: policy.check_custody([("r1", "bob", None), ("r2", "alice", None), ("r3", "bob", None), ("r4", "alice", None)]), PolicyError, "alice, bob would hold more than one root key; each root key needs its own keyholder"),
    "same token twice": (lambda: policy.check_custody([("root-1", None, "SN1"), ("root-2", None, "SN2"), ("root-3", None, "SN1")]), PolicyError, "root keys root-1, root-3 are on one token (SN1): losing that token would lose them all; use one token per root key"),
    "token name escaped": (lambda: policy.check_custody([("root-1", "a", "SN\x1b[2J"), ("root-2", "b", "SN\x1b[2J")]), PolicyError, "root keys root-1, root-2 are on one token (SN\\x1b[2J): losing that token would lose them all; use one token per root key"),
    # check_signable
    "too few signable": (lambda: policy.check_signable(1, 2), PolicyError, "only 1 of the 2 root signatures needed can be made here (the other root keys are public keys held elsewhere)"),
    "none signable": (lambda: policy.check_signable(0, 1), PolicyError, "only 0 of the 1 root signatures needed can be made here (the other root keys are public keys held elsewhere)"),
    # check_expiry_days
    "expiry 0 days": (lambda: policy.check_expiry_days("root", 0), PolicyError, "root: an expiry of 0 days is not in the future; use at least 1 day"),
    "expiry -1 days": (lambda: policy.check_expiry_days("timestamp", -1), PolicyError, "timestamp: an expiry of -1 days is not in the future; use at least 1 day"),
    "expiry above max": (lambda: policy.check_expiry_days("targets", MAX_POLICY_DAYS + 1), PolicyError, "targets: an expiry of 36,501 days is beyond 36,500 days"),
    # check_certificate_days
    "certificates end before root": (lambda: policy.check_certificate_days(364, 365), PolicyError, "root certificates valid for 364 days would expire before the root does (365 days): clients would refuse the root from then on"),
    "certificates 0 days": (lambda: policy.check_certificate_days(0, 365), PolicyError, "root certificates: an expiry of 0 days is not in the future; use at least 1 day"),
    # root_expiry_within_certificates
    "root past its certificates, explicit": (lambda: policy.root_expiry_within_certificates(NOW + 10 * DAY, NOW + 9 * DAY, NOW, True), PolicyError, "the root would expire after the certificates of its kept keys (they end 2026-01-10T00:00:00Z)"),
    "certificates end within the signing period": (lambda: policy.root_expiry_within_certificates(NOW + 90 * DAY, NOW + 60 * DAY, NOW, False), PolicyError, "the root would expire after the certificates of its kept keys (they end 2026-03-02T00:00:00Z)"),
    # target files
    "target path climbs out": (lambda: policy.check_target_path("../x"), UsageError, "target path '../x': use up to 8 '/'-separated segments of letters, digits and '._-', none starting with '.' (it names a file a client fetches below targets/)"),
    "target path hidden": (lambda: policy.check_target_path("a/.git"), UsageError, "target path 'a/.git': use up to 8 '/'-separated segments of letters, digits and '._-', none starting with '.' (it names a file a client fetches below targets/)"),
    "target path too deep": (lambda: policy.check_target_path("/".join("a" * 9)), UsageError, "target path 'a/a/a/a/a/a/a/a/a': use up to 8 '/'-separated segments of letters, digits and '._-', none starting with '.' (it names a file a client fetches below targets/)"),
    "target not listed": (lambda: policy.check_target_listed("x.txt", False), PolicyError, "no target 'x.txt' in this role"),
    "sigstore: a key sigstore-js cannot verify": (lambda: policy.check_profile_key("sigstore", "root-2", "ecdsa-sha2-nistp384"), PolicyError, "root-2: sigstore-js cannot verify ecdsa-sha2-nistp384 signatures (it verifies ecdsa-sha2-nistp256, ed25519, rsassa-pss-sha256); use ecdsa-p256 or ed25519 for a Sigstore instance"),
    "target outside the delegation": (lambda: policy.check_delegated_path("releases", "other/a", False), PolicyError, "releases: its delegation does not cover 'other/a'; clients would not find it"),
    # check_expiry
    "expiry past": (lambda: policy.check_expiry("root", NOW - timedelta(seconds=1), NOW), PolicyError, "root: expiry 2025-12-31T23:59:59Z is not in the future"),
    "expiry now": (lambda: policy.check_expiry("snapshot", NOW, NOW), PolicyError, "snapshot: expiry 2026-01-01T00:00:00Z is not in the future"),
    "expiry shown in UTC": (lambda: policy.check_expiry("root", datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))), NOW), PolicyError, "root: expiry 2025-12-31T23:00:00Z is not in the future"),
    # check_next_version
    "version gap": (lambda: policy.check_next_version("root", 3, 2), PolicyError, "root: version 3 is not the previous version + 1 (2)"),
    "version rollback": (lambda: policy.check_next_version("targets", 1, 2), PolicyError, "targets: version 1 is not the previous version + 1 (2)"),
    "version repeated": (lambda: policy.check_next_version("timestamp", 7, 8), PolicyError, "timestamp: version 7 is not the previous version + 1 (8)"),
    # check_role (each rule in turn, the first broken is named)
    "role: duplicate first": (lambda: policy.check_role("targets", [A, A], 5, NOW, NOW), PolicyError, "targets: key aaaaaaaaaaaa is listed twice"),
    "role: threshold": (lambda: policy.check_role("targets", [A, B], 3, NOW, NOW), PolicyError, "targets: threshold 3 is above its 2 keys; the role could never be signed"),
    "role: expiry": (lambda: policy.check_role("root", [A, B], 2, NOW, NOW), PolicyError, "root: expiry 2026-01-01T00:00:00Z is not in the future"),
    # check_role_name (a name read from a file)
    "role name: path": (lambda: policy.check_role_name("../root", "req.json metadata"), InputFileError, "req.json metadata: '../root' is not a role name"),
    "role name: subdirectory": (lambda: policy.check_role_name("a/b", "req.json metadata"), InputFileError, "req.json metadata: 'a/b' is not a role name"),
    "role name: absolute": (lambda: policy.check_role_name("/etc/passwd", "req.json metadata"), InputFileError, "req.json metadata: '/etc/passwd' is not a role name"),
    "role name: dot file": (lambda: policy.check_role_name(".hidden", "req.json metadata"), InputFileError, "req.json metadata: '.hidden' is not a role name"),
    "role name: ..": (lambda: policy.check_role_name("..", "req.json metadata"), InputFileError, "req.json metadata: '..' is not a role name"),
    "role name: a..b": (lambda: policy.check_role_name("a..b", "req.json metadata"), InputFileError, "req.json metadata: 'a..b' is not a role name"),
    "role name: escape": (lambda: policy.check_role_name("rel\x1b[2Jeases", "req.json metadata"), InputFileError, r"req.json metadata: 'rel\\x1b[2Jeases' is not a role name"),
    "role name: NUL": (lambda: policy.check_role_name("rel\x00", "req.json metadata"), InputFileError, r"req.json metadata: 'rel\\x00' is not a role name"),
    "role name: inner newline": (lambda: policy.check_role_name("rel\neases", "req.json metadata"), InputFileError, r"req.json metadata: 'rel\\x0aeases' is not a role name"),
    # `$` in roles.ROLE_NAME also matches before a final newline: a name ending in "\n" passes (a bug, reported).
    "role name: trailing newline": (lambda: policy.check_role_name("releases\n", "req.json metadata"), InputFileError, r"req.json metadata: 'releases\\x0a' is not a role name"),
    "role name: top-level + newline": (lambda: policy.check_role_name("root\n", "req.json metadata"), InputFileError, r"req.json metadata: 'root\\x0a' is not a role name"),
    "role name: 65 characters": (lambda: policy.check_role_name("a" * 65, "req.json metadata"), InputFileError, f"req.json metadata: '{'a' * 65}' is not a role name"),
    "role name: 64 + newline": (lambda: policy.check_role_name("a" * 64 + "\n", "f"), InputFileError, f"f: '{'a' * 64}\\\\x0a' is not a role name"),
    "role name: long, cut": (lambda: policy.check_role_name("b" * 200, "f"), InputFileError, f"f: '{'b' * 80}... (120 more characters)' is not a role name"),
    "role name: empty": (lambda: policy.check_role_name("", "f"), InputFileError, "f: '' is not a role name"),
    "role name: unicode letter": (lambda: policy.check_role_name("rôle", "f"), InputFileError, "f: 'rôle' is not a role name"),
    "role name: int": (lambda: policy.check_role_name(5, "f"), InputFileError, "f: '5' is not a role name"),
    "role name: None": (lambda: policy.check_role_name(None, "f"), InputFileError, "f: 'None' is not a role name"),
    "role name: list": (lambda: policy.check_role_name(["root"], "f"), InputFileError, "f: \"['root']\" is not a role name"),
    # check_new_role_name (a name the operator types)
    "new role: root": (lambda: policy.check_new_role_name("root"), UsageError, "'root' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: targets": (lambda: policy.check_new_role_name("targets"), UsageError, "'targets' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: timestamp": (lambda: policy.check_new_role_name("timestamp"), UsageError, "'timestamp' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: path": (lambda: policy.check_new_role_name("../x"), UsageError, "'../x' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: dot file": (lambda: policy.check_new_role_name(".x"), UsageError, "'.x' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: a..b": (lambda: policy.check_new_role_name("a..b"), UsageError, "'a..b' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: space": (lambda: policy.check_new_role_name("my role"), UsageError, "'my role' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    "new role: trailing newline": (lambda: policy.check_new_role_name("releases\n"), UsageError, r"'releases\\x0a' is not a valid delegated role name (letters, digits, . _ -; not a top-level role)"),
    # check_new_delegation
    "delegated again": (lambda: policy.check_new_delegation("releases", True), PolicyError, "role 'releases' is already delegated"),
    # check_removable
    "remove root": (lambda: policy.check_removable("root"), PolicyError, "root: a top-level role cannot be removed"),
    "remove targets": (lambda: policy.check_removable("targets"), PolicyError, "targets: a top-level role cannot be removed"),
    "remove snapshot": (lambda: policy.check_removable("snapshot"), PolicyError, "snapshot: a top-level role cannot be removed"),
    "remove timestamp": (lambda: policy.check_removable("timestamp"), PolicyError, "timestamp: a top-level role cannot be removed"),
    # check_online_key_roles
    "online key: root": (lambda: policy.check_online_key_roles(["root"]), UsageError, "--online-key names role root; only targets, snapshot and timestamp keys can be imported"),
    "online key: several, sorted": (lambda: policy.check_online_key_roles(["timestamp", "root", "releases"]), UsageError, "--online-key names roles releases, root; only targets, snapshot and timestamp keys can be imported"),
    # check_request_id
    "request id: path": (lambda: policy.check_request_id("../../x", "req.json"), TamperedRequestError, "req.json: its id '../../x' is not one this tool makes (16 hex digits)"),
    "request id: uppercase": (lambda: policy.check_request_id("0123456789ABCDEF", "req.json"), TamperedRequestError, "req.json: its id '0123456789ABCDEF' is not one this tool makes (16 hex digits)"),
    "request id: 15 digits": (lambda: policy.check_request_id("0123456789abcde", "req.json"), TamperedRequestError, "req.json: its id '0123456789abcde' is not one this tool makes (16 hex digits)"),
    "request id: 17 digits": (lambda: policy.check_request_id("0123456789abcdef0", "req.json"), TamperedRequestError, "req.json: its id '0123456789abcdef0' is not one this tool makes (16 hex digits)"),
    # the id names pending/<id>.json: a final newline must not pass (`$` matches before it; a bug, reported)
    "request id: trailing newline": (lambda: policy.check_request_id("0123456789abcdef\n", "req.json"), TamperedRequestError, r"req.json: its id '0123456789abcdef\\x0a' is not one this tool makes (16 hex digits)"),
    "request id: int": (lambda: policy.check_request_id(12, "req.json"), TamperedRequestError, "req.json: its id '12' is not one this tool makes (16 hex digits)"),
    "request id: None": (lambda: policy.check_request_id(None, "req.json"), TamperedRequestError, "req.json: its id 'None' is not one this tool makes (16 hex digits)"),
    # check_participants
    "no administrator": (lambda: policy.check_participants({**CREW, "administrator": []}), PolicyError, "a root ceremony needs at least one administrator"),
    "administrator missing": (lambda: policy.check_participants({"witness": ["wes"], "keyholder": ["kim"]}), PolicyError, "a root ceremony needs at least one administrator"),
    "no witness": (lambda: policy.check_participants({**CREW, "witness": []}), PolicyError, "a root ceremony needs at least one witness"),
    "no keyholder": (lambda: policy.check_participants({**CREW, "keyholder": []}), PolicyError, "a root ceremony needs at least one keyholder"),
    "nobody": (lambda: policy.check_participants({}), PolicyError, "a root ceremony needs at least one administrator"),
    "witness is administrator": (lambda: policy.check_participants({**CREW, "witness": ["ann"]}), PolicyError, "the witness must be someone other than the administrator"),
    "witnesses all administrators": (lambda: policy.check_participants({**CREW, "administrator": ["ann", "bo"], "witness": ["bo", "ann"]}), PolicyError, "the witness must be someone other than the administrator"),
    # check_succinct_bins (hash bins: a power of two from 2 to 16,384)
    "succinct bins: 1000": (lambda: policy.check_succinct_bins(1000), UsageError, "--succinct-bins 1000: give a power of two from 2 to 16,384 (TAP 15 bins are numbered by the first bits of a target path's hash)"),
    "succinct bins: 1": (lambda: policy.check_succinct_bins(1), UsageError, "--succinct-bins 1: give a power of two from 2 to 16,384 (TAP 15 bins are numbered by the first bits of a target path's hash)"),
    "succinct bins: 0": (lambda: policy.check_succinct_bins(0), UsageError, "--succinct-bins 0: give a power of two from 2 to 16,384 (TAP 15 bins are numbered by the first bits of a target path's hash)"),
    "succinct bins: 32768": (lambda: policy.check_succinct_bins(32768), UsageError, "--succinct-bins 32768: give a power of two from 2 to 16,384 (TAP 15 bins are numbered by the first bits of a target path's hash)"),
    "succinct bins: -16": (lambda: policy.check_succinct_bins(-16), UsageError, "--succinct-bins -16: give a power of two from 2 to 16,384 (TAP 15 bins are numbered by the first bits of a target path's hash)"),
    # check_succinct_paths, check_succinct_parent, refuse_single_bin
    "succinct bins with paths": (lambda: policy.check_succinct_paths(["a/*"]), UsageError, "--paths cannot go with --succinct-bins: hash bins cover every target path, each in the bin its hash names (TAP 15); delegate the paths to a role first, then the bins --from that role"),
    "bins below a role naming roles": (lambda: policy.check_succinct_parent("targets", True, False), PolicyError, "targets: it already delegates to named roles, and a role with hash bins has no other delegations (TAP 15); delegate the bins --from a role of their own"),
    "bins below a role with bins": (lambda: policy.check_succinct_parent("releases", False, True), PolicyError, "releases: it already delegates to hash bins; remove them first (delegate --remove)"),
    "one bin removed": (lambda: policy.refuse_single_bin("bins-0a3f", "bins"), PolicyError, "bins-0a3f: one of the hash bins bins-*, which are removed all together (delegate --remove bins)"),
    # check_request_roles
    "request: too many roles written": (lambda: policy.check_request_roles(16387, 0), UsageError, "--request: this change writes 16,387 and removes 0 roles, more than a sign request carries (4,096 written, 50 removed); sign it here with the keys it needs"),
    "request: too many roles removed": (lambda: policy.check_request_roles(3, 64), UsageError, "--request: this change writes 3 and removes 64 roles, more than a sign request carries (4,096 written, 50 removed); sign it here with the keys it needs"),
}  # fmt: skip


@pytest.mark.parametrize(("call", "error", "sentence"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refusal(call: Callable[[], object], error: type[Exception], sentence: str) -> None:
    with pytest.raises(error) as caught:
        call()
    assert type(caught.value) is error
    assert str(caught.value) == sentence


# name -> call that must return without raising (and its result, where there is one)
ACCEPTED: dict[str, tuple[Callable[[], object], object]] = {
    "threshold 1 of 1 targets": (lambda: policy.check_threshold("targets", 1, 1), None),
    "non-root n-of-n": (lambda: policy.check_threshold("targets", 3, 3), None),
    "delegated n-of-n": (lambda: policy.check_threshold("releases", 2, 2), None),
    "root 2 of 3": (lambda: policy.check_threshold("root", 2, 3), None),
    "root n-of-n, no_spare_ok": (lambda: policy.check_threshold("root", 3, 3, no_spare_ok=True), None),
    "root 1-of-1, no_spare_ok": (lambda: policy.check_threshold("root", 1, 1, no_spare_ok=True), None),
    "distinct keys": (lambda: policy.check_distinct_keys("root", [A, B, C]), None),
    "no keys to compare": (lambda: policy.check_distinct_keys("root", []), None),
    "custody: distinct": (lambda: policy.check_custody([("r1", "alice", "SN1"), ("r2", "bob", "SN2")]), None),
    "custody: None tokens": (lambda: policy.check_custody([("r1", "alice", None), ("r2", "bob", None)]), None),
    "custody: None holders": (lambda: policy.check_custody([("r1", None, "SN1"), ("r2", None, "SN2")]), None),
    "custody: nothing known": (lambda: policy.check_custody([("r1", None, None), ("r2", None, None)]), None),
    "custody: empty": (lambda: policy.check_custody([]), None),
    "signable = threshold": (lambda: policy.check_signable(2, 2), None),
    "signable > threshold": (lambda: policy.check_signable(3, 2), None),
    "expiry 1 day": (lambda: policy.check_expiry_days("timestamp", 1), None),
    "expiry max": (lambda: policy.check_expiry_days("root", MAX_POLICY_DAYS), None),
    "expiry future": (lambda: policy.check_expiry("root", NOW + timedelta(seconds=1), NOW), None),
    "root within its certificates": (lambda: policy.root_expiry_within_certificates(NOW + DAY, NOW + DAY, NOW, True), NOW + DAY),
    "root cut back to its certificates": (lambda: policy.root_expiry_within_certificates(NOW + 900 * DAY, NOW + 61 * DAY, NOW, False), NOW + 61 * DAY),
    "target path nested": (lambda: policy.check_target_path("sub/dir/f-1.0.tar.gz"), "sub/dir/f-1.0.tar.gz"),
    "target listed": (lambda: policy.check_target_listed("x", True), None),
    "sigstore: ecdsa-p256 verified by every client": (lambda: policy.check_profile_key("sigstore", "root-1", "ecdsa-sha2-nistp256"), None),
    "tuf profile: any key type": (lambda: policy.check_profile_key("tuf", "root-1", "ecdsa-sha2-nistp384"), None),
    "target inside the delegation": (lambda: policy.check_delegated_path("releases", "releases/a", True), None),
    "certificates = root": (lambda: policy.check_certificate_days(365, 365), None),
    "certificates > root": (lambda: policy.check_certificate_days(3650, 365), None),
    "next version": (lambda: policy.check_next_version("root", 2, 2), None),
    "role ok": (lambda: policy.check_role("targets", [A], 1, NOW + timedelta(days=1), NOW), None),
    "role name: root": (lambda: policy.check_role_name("root", "f"), "root"),
    "role name: targets": (lambda: policy.check_role_name("targets", "f"), "targets"),
    "role name: snapshot": (lambda: policy.check_role_name("snapshot", "f"), "snapshot"),
    "role name: timestamp": (lambda: policy.check_role_name("timestamp", "f"), "timestamp"),
    "role name: delegated": (lambda: policy.check_role_name("releases", "f"), "releases"),
    "role name: . _ -": (lambda: policy.check_role_name("a.b_c-1", "f"), "a.b_c-1"),
    "role name: 64 characters": (lambda: policy.check_role_name("A" * 64, "f"), "A" * 64),
    "new role: delegated": (lambda: policy.check_new_role_name("releases"), None),
    "new role: digits": (lambda: policy.check_new_role_name("0-9.x_y"), None),
    "removable delegated": (lambda: policy.check_removable("releases"), None),
    "online keys: all online roles": (lambda: policy.check_online_key_roles(["targets", "snapshot", "timestamp"]), None),
    "online keys: none": (lambda: policy.check_online_key_roles([]), None),
    "request id": (lambda: policy.check_request_id("0123456789abcdef", "f"), "0123456789abcdef"),
    "participants": (lambda: policy.check_participants(CREW), None),
    "witness also administrator, not only": (lambda: policy.check_participants({**CREW, "witness": ["ann", "wes"]}), None),
}  # fmt: skip


@pytest.mark.parametrize(("call", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted(call: Callable[[], object], expected: object) -> None:
    assert call() == expected


def test_no_spare_root_key_carries_the_hint() -> None:
    with pytest.raises(PolicyError) as caught:
        policy.check_threshold("root", 2, 2)
    assert caught.value.hint == policy.NO_SPARE_HINT
    # True in both clients: the CLI's flag and the terminal UI's box, never a flag alone the TUI does not show.
    assert policy.NO_SPARE_HINT == (
        "add a key, lower the threshold, or accept the risk explicitly (ceremony's --no-spare-root-key, or the "
        "'no spare root key' box in the terminal UI)"
    )


def test_request_id_error_names_file_and_check() -> None:
    with pytest.raises(TamperedRequestError) as caught:
        policy.check_request_id("../x", "req.json")
    assert (caught.value.file, caught.value.check) == ("req.json", "id")


# --------------------------------------------------------------------------- each sentence written once


def _template(node: ast.expr) -> str | None:
    """The text of a message argument, each interpolated value as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _raised_templates(path: Path) -> list[str]:
    """Every message template of ``raise Error("...")`` in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            template = _template(node.exc.args[0])
            if template is not None:
                found.append(template)
    return found


POLICY_TEMPLATES = _raised_templates(Path(policy.__file__))
PACKAGE_TEMPLATES = [t for path in sorted(PACKAGE.rglob("*.py")) for t in _raised_templates(path)]


def test_policy_raises_sentences() -> None:
    """The walk above finds policy.py's refusals (19 when this was written), each once."""
    assert len(POLICY_TEMPLATES) >= 19
    assert len(set(POLICY_TEMPLATES)) == len(POLICY_TEMPLATES)


@pytest.mark.parametrize("template", POLICY_TEMPLATES, ids=POLICY_TEMPLATES)
def test_every_refusal_has_a_case(template: str) -> None:
    pattern = re.compile(".+".join(re.escape(part) for part in template.split("{}")), re.DOTALL)
    assert any(pattern.fullmatch(sentence) for _call, _error, sentence in REFUSALS.values()), template


@pytest.mark.parametrize("template", POLICY_TEMPLATES, ids=POLICY_TEMPLATES)
def test_refusal_sentence_is_written_once(template: str) -> None:
    """A refusal of policy.py is raised nowhere else in the package (another copy could drift from it)."""
    assert PACKAGE_TEMPLATES.count(template) == 1, f"{template!r} is raised in more than one place"


# --------------------------------------------------------------------------- policy numbers from the config

# name -> (config, role, policy_days, signing_period)
CONFIG_DAYS: dict[str, tuple[dict, str, int, int]] = {
    "defaults: root": ({}, "root", 365, 60),
    "defaults: targets": ({}, "targets", 90, 30),
    "defaults: snapshot": ({}, "snapshot", 7, 2),
    "defaults: timestamp": ({}, "timestamp", 1, 0),
    "defaults: delegated like targets": ({}, "releases", 90, 30),
    "roles: set": ({"roles": {"root": {"expiry_days": 200, "signing_period_days": 45}}}, "root", 200, 45),
    "roles: other role set": ({"roles": {"targets": {"expiry_days": 10}}}, "root", 365, 60),
    "delegations: set": ({"delegations": {"releases": {"expiry_days": 30, "signing_period_days": 5}}}, "releases", 30, 5),
    "roles before delegations": ({"roles": {"x": {"expiry_days": 3}}, "delegations": {"x": {"expiry_days": 4}}}, "x", 3, 30),
    "signing period 0": ({"roles": {"root": {"signing_period_days": 0}}}, "root", 365, 0),
    "bool ignored": ({"roles": {"root": {"expiry_days": True, "signing_period_days": True}}}, "root", 365, 60),
    "false ignored": ({"roles": {"root": {"expiry_days": False, "signing_period_days": False}}}, "root", 365, 60),
    "text ignored": ({"roles": {"root": {"expiry_days": "30", "signing_period_days": "5"}}}, "root", 365, 60),
    "float ignored": ({"roles": {"root": {"expiry_days": 1.5, "signing_period_days": 2.5}}}, "root", 365, 60),
    "None ignored": ({"roles": {"root": {"expiry_days": None, "signing_period_days": None}}}, "root", 365, 60),
    "expiry 0 ignored": ({"roles": {"targets": {"expiry_days": 0}}}, "targets", 90, 30),
    "expiry negative ignored": ({"roles": {"targets": {"expiry_days": -3}}}, "targets", 90, 30),
    "entry not an object": ({"roles": {"root": "365"}}, "root", 365, 60),
    "entry a list": ({"roles": {"root": [400]}}, "root", 365, 60),
    "roles None": ({"roles": None, "delegations": None}, "snapshot", 7, 2),
    "empty entry": ({"roles": {"root": {}}}, "root", 365, 60),
}  # fmt: skip


@pytest.mark.parametrize(("config", "role", "days", "period"), CONFIG_DAYS.values(), ids=CONFIG_DAYS.keys())
def test_policy_days_and_signing_period(config: dict, role: str, days: int, period: int) -> None:
    assert policy.policy_days(config, role) == days
    assert policy.signing_period(config, role) == period


@pytest.mark.parametrize(("role", "threshold"), [("root", 2), ("targets", 1), ("timestamp", 1), ("releases", 1)])
def test_default_threshold(role: str, threshold: int) -> None:
    assert policy.default_threshold(role) == threshold


# --------------------------------------------------------------------------- the online service's files

# (targets, snapshot, timestamp) held here -> files left to the online service
LEFT_TO_ONLINE: dict[str, tuple[dict[str, bool], list[str]]] = {
    "all held": ({"targets": True, "snapshot": True, "timestamp": True}, []),
    "timestamp not held": ({"targets": True, "snapshot": True, "timestamp": False}, ["timestamp"]),
    "snapshot not held": ({"targets": True, "snapshot": False, "timestamp": True}, ["snapshot", "timestamp"]),
    "snapshot, timestamp not held": ({"targets": True, "snapshot": False, "timestamp": False}, ["snapshot", "timestamp"]),
    "targets not held": ({"targets": False, "snapshot": True, "timestamp": True}, ["targets", "snapshot", "timestamp"]),
    "targets, timestamp not held": ({"targets": False, "snapshot": True, "timestamp": False}, ["targets", "snapshot", "timestamp"]),
    "targets, snapshot not held": ({"targets": False, "snapshot": False, "timestamp": True}, ["targets", "snapshot", "timestamp"]),
    "none held": ({"targets": False, "snapshot": False, "timestamp": False}, ["targets", "snapshot", "timestamp"]),
    "nothing said": ({}, ["targets", "snapshot", "timestamp"]),
    "timestamp unsaid": ({"targets": True, "snapshot": True}, ["timestamp"]),
    "root ignored": ({"root": False, "targets": True, "snapshot": True, "timestamp": True}, []),
}  # fmt: skip


@pytest.mark.parametrize(("held", "left"), LEFT_TO_ONLINE.values(), ids=LEFT_TO_ONLINE.keys())
def test_left_to_online(held: dict[str, bool], left: list[str]) -> None:
    assert policy.left_to_online(held) == left


@pytest.mark.parametrize("role", ["targets", "snapshot", "timestamp"])
def test_left_to_online_line(role: str) -> None:
    assert policy.left_to_online_line(role) == f"{role}.json not written: the online service signs it"


# --------------------------------------------------------------------------- warnings

# name -> (role, expires, resign_by, warning at NOW)
EXPIRY_WARNINGS: dict[str, tuple[str, datetime, datetime, str | None]] = {
    "expired a day ago": ("root", NOW - DAY, NOW - 60 * DAY, "root EXPIRED on 2025-12-31T00:00:00Z"),
    "expires now": ("timestamp", NOW, NOW, "timestamp EXPIRED on 2026-01-01T00:00:00Z"),
    "in 10 days": ("root", NOW + 10 * DAY, NOW - DAY, "root expires in 10 days (2026-01-11T00:00:00Z)"),
    "in half a day": ("timestamp", NOW + DAY / 2, NOW, "timestamp expires in 0.5 days (2026-01-01T12:00:00Z)"),
    "in 30 days": ("targets", NOW + 30 * DAY, NOW + DAY, "targets expires in 30 days (2026-01-31T00:00:00Z)"),
    "in 31 days, past re-sign date": ("root", NOW + 31 * DAY, NOW - DAY, "root is past its re-sign date 2025-12-31T00:00:00Z (expires 2026-02-01T00:00:00Z)"),
    "in 31 days, re-sign date now": ("root", NOW + 31 * DAY, NOW, "root is past its re-sign date 2026-01-01T00:00:00Z (expires 2026-02-01T00:00:00Z)"),
    "in 90 days, re-sign later": ("root", NOW + 90 * DAY, NOW + DAY, None),
}  # fmt: skip


@pytest.mark.parametrize(
    ("role", "expires", "resign_by", "warning"), EXPIRY_WARNINGS.values(), ids=EXPIRY_WARNINGS.keys()
)
def test_expiry_warning(role: str, expires: datetime, resign_by: datetime, warning: str | None) -> None:
    assert policy.expiry_warning(role, expires, resign_by, NOW) == warning


@pytest.mark.parametrize("left", [timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=1)], ids=str)
def test_expiry_warning_does_not_call_a_file_expired_before_it_expires(left: timedelta) -> None:
    """A file still valid for ``left`` is not EXPIRED (days_left is rounded to 0.0 before it is compared: a bug)."""
    warning = policy.expiry_warning("timestamp", NOW + left, NOW - DAY, NOW)
    assert warning is not None
    assert "EXPIRED" not in warning, warning
    assert warning.startswith("timestamp expires in "), warning


# name -> (threshold, count, warning)
SPARE_KEY_WARNINGS: dict[str, tuple[int, int, str | None]] = {
    "2 of 3": (2, 3, None),
    "1 of 3": (1, 3, None),
    "3 of 3": (3, 3, "root threshold 3 of 3 keys leaves no spare key: losing one key locks the root"),
    "1 of 1": (1, 1, "root threshold 1 of 1 key leaves no spare key: losing one key locks the root"),
    "4 of 3": (4, 3, "root threshold 4 is above its 3 keys: no new root version can be signed, clients are locked to this one"),
}  # fmt: skip


@pytest.mark.parametrize(("threshold", "count", "warning"), SPARE_KEY_WARNINGS.values(), ids=SPARE_KEY_WARNINGS.keys())
def test_spare_key_warning(threshold: int, count: int, warning: str | None) -> None:
    assert policy.spare_key_warning(threshold, count) == warning


# name -> (key id -> roles, warnings)
SHARED_KEY_WARNINGS: dict[str, tuple[dict[str, list[str]], list[str]]] = {
    "none": ({}, []),
    "one role each": ({A: ["root"], B: ["targets"]}, []),
    "shared by two": ({A: ["targets", "snapshot"], B: ["root"]}, ["key aaaaaaaaaaaa is shared by roles targets, snapshot"]),
    "two shared": ({A: ["snapshot", "timestamp"], B: ["root", "targets", "x"]}, ["key aaaaaaaaaaaa is shared by roles snapshot, timestamp", "key bbbbbbbbbbbb is shared by roles root, targets, x"]),
}  # fmt: skip


@pytest.mark.parametrize(("owners", "warnings"), SHARED_KEY_WARNINGS.values(), ids=SHARED_KEY_WARNINGS.keys())
def test_shared_key_warnings(owners: dict[str, list[str]], warnings: list[str]) -> None:
    assert policy.shared_key_warnings(owners) == warnings


# name -> (days until the certificate's notAfter, warning at NOW)
CERTIFICATE_WARNINGS: dict[str, tuple[timedelta, str | None]] = {
    "far": (timedelta(days=61), None),
    "within the root's signing period": (
        timedelta(days=59, hours=1),
        "the certificate of root key root-1 expires on 2026-03-01T01:00:00Z (59 days): renew it with a root rotation (ceremony notary rotate-root --renew-certificates)",
    ),
    "expired": (
        timedelta(seconds=-1),
        "the certificate of root key root-1 expired on 2025-12-31T23:59:59Z: clients refuse it; renew it now",
    ),
    "expires now": (
        timedelta(0),
        "the certificate of root key root-1 expired on 2026-01-01T00:00:00Z: clients refuse it; renew it now",
    ),
}


@pytest.mark.parametrize(("left", "warning"), CERTIFICATE_WARNINGS.values(), ids=CERTIFICATE_WARNINGS.keys())
def test_certificate_warning(left: timedelta, warning: str | None) -> None:
    assert policy.certificate_warning("root-1", NOW + left, NOW) == warning


@pytest.mark.parametrize(
    ("left", "warning"),
    [
        (timedelta(days=200), None),
        (
            timedelta(days=100),
            "the workspace CA ends on 2026-04-11T00:00:00Z: root certificates it issues end with it, and clients pinning it refuse the root from then on; plan a rotation to new certificates and tell those clients",
        ),
    ],
    ids=["far", "near"],
)
def test_ca_warning(left: timedelta, warning: str | None) -> None:
    assert policy.ca_warning(NOW + left, NOW, 120) == warning


@pytest.mark.parametrize(("bins", "bits"), [(2, 1), (16, 4), (1024, 10), (16_384, 14)])
def test_succinct_bins_accepted(bins: int, bits: int) -> None:
    assert policy.check_succinct_bins(bins) == bits


def test_request_roles_within_bounds() -> None:
    policy.check_request_roles(4_096, 50)  # no refusal
    policy.check_succinct_parent("targets", names_roles=False, has_bins=False)
    policy.check_succinct_paths([])
