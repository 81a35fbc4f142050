"""Snapshots of the screens operators read aloud from: home, review-and-sign, an error dialog.

Deterministic: ed25519 keys from fixed seeds (ed25519 signatures are
deterministic too), a fixed clock, relative paths, no cursor blink. Update
with ``pytest --snapshot-update`` only after reading the HTML report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual.pilot import Pilot
from textual.widgets import Input

from ceremony.core import InitOptions, init_workspace, keys
from ceremony.core import guided as session
from ceremony.tui.app import make_app
from tests.tui_pilot import settle, tab_to

NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
SECRET = "snapshot passphrase"
SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def fixed_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every generated key comes from a fixed seed; the test runs in tmp_path with relative paths."""
    counter = iter(range(1, 1000))

    def seeded(_key_type: Any) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"snapshot key %d" % next(counter)).digest())

    monkeypatch.setattr(keys, "_generate_private", seeded)
    monkeypatch.chdir(tmp_path)
    yield


def _review_draft() -> Path:
    """A new root ceremony stopped at review, made through the core with fixed keys and clock."""
    path = Path("repo")
    ceremony = session.NewRootCeremony.start(path, NOW)
    checks = [
        session.Check("network", True, "no network interface up besides loopback"),
        session.Check("swap", True, "swap is off"),
    ]
    ceremony.record_preflight(checks, True, {}, NOW)
    people = [session.Participant("Ada", "administrator"), session.Participant("Wes", "witness")]
    people += [session.Participant(name, "keyholder") for name in ("Kim", "Lee", "Max")]
    ceremony.set_participants(people, NOW)
    ceremony.set_plan([session.KeyPlan(name, "software", "ed25519") for name in ("Kim", "Lee", "Max")], 2, 365, NOW)
    for label in ("root-1", "root-2", "root-3"):
        ceremony.generate_root_key(label, SECRET, NOW)
    ceremony.set_online_keys(dict.fromkeys(session.ONLINE_ROLES, "ed25519"), lambda _label: SECRET, NOW)
    return path


async def _steady(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare: Any, fixed_keys: None, size: tuple[int, int]) -> None:
    init_workspace(Path("ws"), InitOptions(key_type="ed25519"), lambda _label: SECRET, now=NOW)
    assert snap_compare(make_app(Path("ws"), now=NOW), terminal_size=size, run_before=_steady)


async def _open_review(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "ConfirmDialog"
    await pilot.press("enter")  # resume
    await _steady(pilot)
    assert type(pilot.app.screen).__name__ == "ReviewSignScreen"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_review_and_sign(snap_compare: Any, fixed_keys: None, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(_review_draft(), now=NOW), terminal_size=size, run_before=_open_review)


async def _sign_without_comparing(pilot: Pilot[Any]) -> None:
    await _open_review(pilot)
    await tab_to(pilot, "#sign")
    await pilot.press("enter")
    await _steady(pilot)
    assert type(pilot.app.screen).__name__ == "ErrorDialog"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_error_dialog(snap_compare: Any, fixed_keys: None, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(_review_draft(), now=NOW), terminal_size=size, run_before=_sign_without_comparing)
