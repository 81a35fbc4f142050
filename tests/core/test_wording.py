"""What the core tells an operator, read as an operator reads it (issue 14, item 13).

Each case is a real message of a core function, made from the inputs that produced the defect: "1 days",
"3 of 2", "None", "tokens: tokens:", a hint that names a flag only one client has. The exact sentence is
pinned, and every message is also read for the defects themselves, so a new case cannot bring one back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ceremony.core import changes, diff, policy
from ceremony.core._text import plural
from ceremony.core.guided.preflight import Check, preflight_checks
from ceremony.core.thresholds import ThresholdResult
from ceremony.errors import CeremonyError
from tests.softhsm import MODULE, new_softhsm

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
A, B = "a" * 64, "b" * 64
KEY = {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "00" * 32}}
TARGETS = {"_type": "targets", "version": 3, "expires": "2027-01-01T00:00:00Z", "targets": {}}
RELEASES = {"_type": "targets", "version": 1, "expires": "2026-04-01T00:00:00Z", "targets": {}}
DELEGATOR = {
    **TARGETS,
    "delegations": {
        "keys": {A: KEY, B: KEY},
        "roles": [{"name": "releases", "keyids": [A, B], "threshold": 2, "paths": ["r/*"], "terminating": False}],
    },
}
BINS = {**TARGETS, "delegations": {"keys": {A: KEY}, "succinct_roles": {"keyids": [A], "threshold": 1,
                                                                       "bit_length": 2, "name_prefix": "bins"}}}  # fmt: skip


def _raised(call: Callable[[], object]) -> str:
    """The sentence and hint of the CeremonyError ``call`` raises."""
    with pytest.raises(CeremonyError) as caught:
        call()
    return f"{caught.value}" + (f" (hint: {caught.value.hint})" if caught.value.hint else "")


def _line(lines: list[str], start: str) -> str:
    (found,) = [line for line in lines if line.startswith(start)]
    return found


def _check_line(check: Check) -> str:
    """A check as every client shows it (tui/newroot, tui/flows, cli, guided/new_root): NAME: DETAIL."""
    return f"{check.name}: {check.detail}"


def _net(tmp: Path, up: list[str]) -> Path:
    """A /sys/class/net-like directory: loopback and ``up`` up, one interface down."""
    for name, state in [("lo", "unknown"), ("wlan0", "down"), *[(n, "up") for n in up]]:
        (tmp / name).mkdir(parents=True)
        (tmp / name / "operstate").write_text(state + "\n")
    return tmp


def _swaps(tmp: Path, devices: list[str]) -> Path:
    path = tmp / "swaps"
    head = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    path.write_text(head + "".join(f"{d}\tpartition\t1024\t0\t-2\n" for d in devices))
    return path


def _preflight(tmp: Path, up: list[str], swap: list[str], name: str) -> str:
    checks = {c.name: c for c in preflight_checks(None, _net(tmp / "net", up), _swaps(tmp, swap))}
    return _check_line(checks[name])


# name -> (the real message, exact text)
MESSAGES: dict[str, tuple[Callable[[Path], str], str]] = {
    "plural: 1 day": (lambda _t: plural(1, "day"), "1 day"),
    "plural: 0 days": (lambda _t: plural(0, "day"), "0 days"),
    "plural: 16,384 bins": (lambda _t: plural(16_384, "bin"), "16,384 bins"),
    "plural: 1.5 days": (lambda _t: plural(1.5, "day"), "1.5 days"),
    "plural: 1.0 day": (lambda _t: plural(1.0, "day"), "1 day"),
    "plural: irregular": (lambda _t: plural(2, "entry", "entries"), "2 entries"),
    # policy.py
    "expires in 1 day": (lambda _t: str(policy.expiry_warning("timestamp", NOW + DAY, NOW - DAY, NOW)),
                         "timestamp expires in 1 day (2026-01-02T00:00:00Z)"),
    "expires in 2.5 days": (lambda _t: str(policy.expiry_warning("snapshot", NOW + 2.5 * DAY, NOW + DAY, NOW)),
                            "snapshot expires in 2.5 days (2026-01-03T12:00:00Z)"),
    "expiry in the past": (lambda _t: _raised(lambda: policy.check_expiry_days("targets", -1)),
                               "targets: an expiry of -1 days is not in the future; use at least 1 day"),
    "threshold above 1 key": (lambda _t: _raised(lambda: policy.check_threshold("targets", 2, 1)),
                              "targets: threshold 2 is above its 1 key; the role could never be signed"),
    "root 1 of 1 key": (lambda _t: _raised(lambda: policy.check_threshold("root", 1, 1)),
                        "root threshold 1 of 1 key leaves no spare key: losing any one key would lock the root (hint: "
                        "add a key, lower the threshold, or accept the risk explicitly (ceremony's --no-spare-root-key, "
                        "or the 'no spare root key' box in the terminal UI))"),
    "published root 3 of 2 is not shown so": (lambda _t: str(policy.spare_key_warning(3, 2)),
                                               "root threshold 3 is above its 2 keys: no new root version can be "
                                               "signed, clients are locked to this one"),
    "published root 1 of 1": (lambda _t: str(policy.spare_key_warning(1, 1)),
                              "root threshold 1 of 1 key leaves no spare key: losing one key locks the root"),
    "online key: one role": (lambda _t: _raised(lambda: policy.check_online_key_roles(["root"])),
                             "--online-key names role root; only targets, snapshot and timestamp keys can be imported"),
    "certificates 1 day": (lambda _t: _raised(lambda: policy.check_certificate_days(1, 365)),
                           "root certificates valid for 1 day would expire before the root does (365 days): clients "
                           "would refuse the root from then on (hint: give --certificate-days at least the root's "
                           "expiry)"),
    "certificate ends in 1 day": (lambda _t: str(policy.certificate_warning("root-1", NOW + 1.5 * DAY, NOW)),
                                  "the certificate of root key root-1 expires on 2026-01-02T12:00:00Z (1 day): renew it "
                                  "with a root rotation (ceremony notary rotate-root --renew-certificates)"),
    # thresholds.py: more signatures than the threshold
    "3 signed, 2 needed": (lambda _t: ThresholdResult("new root (version 2)", 2, (A, B, "c" * 64), ()).describe(),
                           "new root (version 2): 3 signed, 2 needed"),
    "1 of 2": (lambda _t: ThresholdResult("targets role", 2, (A,), (B,), names=("targets-1",)).describe(),
               "targets role: 1 of 2 (targets-1)"),
    # diff.py: a new role, hash bins, a new file listed, a field a loose file lacks
    "new role": (lambda _t: _line(diff.describe_change("releases.json", None, RELEASES, "releases", DELEGATOR),
                                  "  new"),
                 f"  new role releases: version 1, expires 2026-04-01T00:00:00Z, keys {A[:12]} (ed25519), "
                 f"{B[:12]} (ed25519), threshold 2"),
    "new role, no delegator at hand": (lambda _t: _line(diff.describe_change("releases.json", None, RELEASES,
                                                                             "releases"), "  new"),
                                       "  new role releases: version 1, expires 2026-04-01T00:00:00Z"),
    "new hash bin": (lambda _t: _line(diff.describe_change("bins-3.json", None, RELEASES, "bins-3", BINS), "  new"),
                     f"  new role bins-3: version 1, expires 2026-04-01T00:00:00Z, keys {A[:12]} (ed25519), "
                     "threshold 1"),
    "new file listed": (lambda _t: _line(diff.describe_change(
        "snapshot.json", {"_type": "snapshot", "version": 1, "meta": {}},
        {"_type": "snapshot", "version": 2, "meta": {"releases.json": {"version": 1}}}), "  lists"),
                        "  lists releases.json (new): version 1"),
    "version a file lacks": (lambda _t: _line(diff.describe_change("f", {"_type": "targets"}, TARGETS), "  version"),
                             "  version: (absent) -> 3"),
    "1 key of a role": (lambda _t: _line(diff.describe_change("targets.json", TARGETS, DELEGATOR | {"version": 4}),
                                         "  role releases: threshold"),
                        "  role releases: threshold 2, 2 keys"),
    "paths a delegation lacks": (lambda _t: _line(diff.describe_change("t", TARGETS, {**TARGETS, "delegations": {
        "roles": [{"name": "r", "keyids": [], "threshold": 1}]}}), "  role r: ADDED"),
                                 "  role r: ADDED, paths (absent), terminating False"),
    "target length a file lacks": (lambda _t: _line(diff.describe_change("t", TARGETS, {**TARGETS, "targets": {
        "a": {"hashes": {}}}}), "  + target"), "  + target a: (absent) bytes"),
    "a 1-byte target": (lambda _t: _line(diff.describe_change("t", TARGETS, {**TARGETS, "targets": {
        "a": {"length": 1, "hashes": {}}}}), "  + target"), "  + target a: 1 byte"),
    # changes.py
    "revoke: no key matches": (lambda _t: _raised(lambda: changes._resolve_keyids({A: KEY}, ["x"], "root", {})),
                               f"--revoke x: no key of role root matches; its keys are {A[:12]}"),
    "revoke: 2 keys match": (lambda _t: _raised(lambda: changes._resolve_keyids({A: KEY, "a" + B[1:]: KEY}, ["a"],
                                                                               "root", {})),
                             f"--revoke a: 2 keys of role root match; its keys are {A[:12]}, a{B[:11]}"),
    # guided/preflight.py, as the clients show it
    "preflight: network up": (lambda t: _preflight(t, ["eth0"], [], "network"),
                              "network: interface up besides loopback: eth0"),
    "preflight: network down": (lambda t: _preflight(t, [], [], "network"), "network: no interface up besides loopback"),
    "preflight: swap on": (lambda t: _preflight(t, [], ["/dev/sda2"], "swap"), "swap: in use, not encrypted (/dev/sda2)"),
    "preflight: swap off": (lambda t: _preflight(t, [], [], "swap"), "swap: off"),
}  # fmt: skip

#: What an operator must never read: a count that disagrees with its noun, a hedge, Python's None, a word said
#: twice ("tokens: tokens:", "at at"), more of a threshold than it has ("3 of 2").
DEFECTS = {
    "1 plural": re.compile(r"(?<![-\d.,])1 (days|keys|bins|roles|signatures|files)\b"),
    "hedged plural": re.compile(r"\w\(s\)"),
    "None": re.compile(r"\bNone\b"),
    "word twice": re.compile(r"\b(\w+)(:?) \1\2(?=\W|$)", re.IGNORECASE),
}


def _over_threshold(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"\b(\d+) of (\d+)\b", text) if int(m.group(1)) > int(m.group(2))]


@pytest.mark.parametrize(("make", "text"), MESSAGES.values(), ids=MESSAGES.keys())
def test_message(make: Callable[[Path], str], text: str, tmp_path: Path) -> None:
    shown = make(tmp_path)
    assert shown == text
    assert [name for name, pattern in DEFECTS.items() if pattern.search(shown)] == [], shown
    assert _over_threshold(shown) == [], shown


@pytest.mark.parametrize(
    "text",
    ["expires in 1 days", "revoke 1 key(s)", "version None -> 1", "tokens: tokens: 'a'", "at at", "root: 3 of 2"],
)
def test_the_defects_are_caught(text: str) -> None:
    """The reader above can fail: each defect the issue names is caught."""
    assert [name for name, pattern in DEFECTS.items() if pattern.search(text)] or _over_threshold(text)


def test_preflight_names_each_token_once(tmp_path: Path) -> None:
    """With a token present the line read "tokens: tokens: 'root-1' serial ..." (a real SoftHSM token)."""
    hsm = new_softhsm(tmp_path / "hsm")
    serial = hsm.make_token("root-1")
    script = (
        "import sys\nfrom ceremony.core.guided.preflight import preflight_checks\n"
        "print(*[f'{c.name}: {c.detail}' for c in preflight_checks(sys.argv[1]) if c.name == 'tokens'])"
    )
    env = {**hsm.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script, MODULE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"tokens: 'root-1' serial {serial}"
