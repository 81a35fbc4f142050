"""Operators' nights in the terminal UI, keyboard only, with home checked after every flow.

Each journey runs one app at 80x24 through several flows, as an operator
would in one sitting, and after each flow checks home at 80x24 and 120x40:
every label, role and date shown whole (the tables once collapsed to their
headers' widths after a flow, "root-" for every key), and the screen as its
text snapshot in ``tests/home_snapshots/``. Keys come from
fixed seeds and the clock is fixed, so the snapshots are exact; update them
with ``CEREMONY_UPDATE_SNAPSHOTS=1`` only after reading them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ceremony.core import InitOptions, init_workspace
from ceremony.core.requests import load_request
from ceremony.core.workspace import Workspace
from ceremony.tui.app import make_app
from tests.test_tui_snapshots import NOW, SECRET, fixed_keys  # noqa: F401 (the fixture, by usefixtures)
from tests.tui_pilot import (
    SIZE,
    assert_screen,
    check_home,
    delegate,
    extend,
    leave_backup_step,
    press_button,
    rotate,
    row_down,
    screen_name,
    settle,
    sign_with,
    tab_to,
    tick,
    type_into,
)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fixed_keys")]

ONLINE = [("targets", SECRET), ("snapshot", SECRET), ("timestamp", SECRET)]


def _expires(ws: Path, name: str) -> str:
    return str(json.loads((ws / "metadata" / name).read_text())["signed"]["expires"])


async def _choose_action(pilot: Any, option_id: str) -> None:
    """Arrow down home's action list to ``option_id`` and press Enter (the list has the focus on home)."""
    actions = pilot.app.screen.query_one("#actions")
    ids = [actions.get_option_at_index(i).id for i in range(actions.option_count)]
    for _ in range(len(ids)):
        if actions.highlighted is not None and ids[actions.highlighted] == option_id:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await settle(pilot)


async def test_changes_backups_and_restores_in_one_sitting(tmp_path: Path, cli: Any) -> None:
    ws = Path("ws")
    init_workspace(ws, InitOptions(key_type="ed25519"), lambda _label: SECRET, now=NOW)
    app = make_app(ws, now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await check_home(pilot, "start")

        # An extension of targets, then a delegation: the extension survives it.
        await extend(pilot, "targets", 180, ONLINE)
        extended = _expires(ws, "targets.json")
        await check_home(pilot, "extend")
        await delegate(pilot, "releases", "releases/*", "ed25519", "releases passphrase", ONLINE)
        assert _expires(ws, "targets.json") == extended
        await check_home(pilot, "delegate")

        # A rotation publishes root v2 and ends on the backup step: made there, so the ledger counts v1 and v2.
        backup = tmp_path / "paper"
        await rotate(pilot, "root-2", "ed25519", "replacement passphrase", [("root-1", SECRET), ("root-3", SECRET)])
        assert screen_name(pilot) == "HomeScreen"
        await pilot.press("b")  # the rotation above left its backup for later (publish's Escape); make it now
        await settle(pilot)
        assert_screen(pilot, "BackupExportScreen")
        await leave_backup_step(pilot, backup)
        home = await check_home(pilot, "rotate-backup")
        assert "root v1: tested" in home and "root v2: tested" in home

        # A change prepared, then left with Escape: home says it is in progress; discarding leaves nothing.
        kept = sorted((ws / "requests").iterdir())  # the requests of published changes stay, for the record
        await pilot.press("x")
        await settle(pilot)
        await row_down(pilot, "#roles", 3)  # timestamp
        await type_into(pilot, "#days", "2")
        await press_button(pilot, "#prepare")
        assert_screen(pilot, "ReviewSignScreen")
        await pilot.press("escape")
        await check_home(pilot, "prepared-then-left")
        await _choose_action(pilot, "discard")
        assert_screen(pilot, "ConfirmDialog")
        assert app.focused is app.screen.query_one("#no")  # a habitual second Enter keeps the change
        await tab_to(pilot, "#yes")
        await pilot.press("enter")  # Discard
        await check_home(pilot, "discarded")
        assert not any((ws / "pending").iterdir()) and sorted((ws / "requests").iterdir()) == kept

        # A drill of the paper backup, then a restore from its directory (no file list typed).
        await pilot.press("l")
        await settle(pilot)
        await type_into(pilot, "#backup", str(backup))
        await pilot.press("enter")
        await settle(pilot)
        assert "drill PASSED" in str(app.screen.query_one("#report").render())
        await press_button(pilot, "#done")
        await check_home(pilot, "drill")
        await pilot.press("t")
        await settle(pilot)
        scans = tmp_path / "scans"  # a folder of scans, as a scanner leaves them (the export's PNGs)
        scans.mkdir()
        for png in backup.glob("*.png"):
            shutil.copy(png, scans / png.name)
        await type_into(pilot, "#inputs", str(scans))
        await type_into(pilot, "#out", str(tmp_path / "restored"))
        await pilot.press("enter")
        await settle(pilot)
        assert_screen(pilot, "RestoreScreen")
        report = str(app.screen.query_one("#report").render())
        assert "SHA-256 of the file 2.root.json" in report, report
        await press_button(pilot, "#done")
        await check_home(pilot, "restore")

        # A keyholder signs a request made by the CLI, right here (offline signing from home).
        request = tmp_path / "request.json"
        made = cli("extend", ws, "--role", "snapshot", "--days", "5", "--request", request, "--yes")
        assert made.returncode == 0, made.stderr
        key_file = ws / (Workspace.load(ws).find_key("snapshot").uri or "").removeprefix("file:")
        await pilot.press("s")
        await settle(pilot)
        await type_into(pilot, "#request", str(request))
        await pilot.press("enter", "enter")  # on to "save to" (empty: in place), then Open
        await settle(pilot)
        assert_screen(pilot, "ReviewSignScreen")
        await tick(pilot, "#compared")
        await type_into(pilot, "#keyspec", str(key_file))
        await type_into(pilot, "#secret", SECRET)
        await pilot.press("enter")
        await settle(pilot)
        await press_button(pilot, "#finish")
        await check_home(pilot, "offline-signing")
    verified = cli("verify", ws / "metadata", "--at", "2026-11-28T09:00:00Z")  # as a client at the fixed clock
    assert verified.returncode == 0, verified.stderr
    signed = {s.role: s.verified for s in load_request(request).statuses()}
    assert signed["snapshot"] and not signed["timestamp"], signed  # the snapshot keyholder's part, done here
    assert (tmp_path / "restored" / "2.root.json").read_bytes() == (ws / "metadata" / "2.root.json").read_bytes()


async def test_a_new_root_left_a_mistyped_open_and_a_draft_discarded(tmp_path: Path) -> None:
    """A second ceremony left at its first step, Ctrl+Q inside a flow, a mistyped Open, a draft discarded."""
    init_workspace(Path("repo"), InitOptions(key_type="ed25519"), lambda _label: SECRET, now=NOW)
    app = make_app(Path("repo"), now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await check_home(pilot, "before-new-root")

        # A second ceremony, left at preflight: home goes back to the first workspace, the draft waits.
        await pilot.press("n")
        await settle(pilot)
        await type_into(pilot, "#path", "second")
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert_screen(pilot, "PreflightScreen")
        await pilot.press("ctrl+q")  # inside a flow: asked first
        await settle(pilot)
        assert_screen(pilot, "ConfirmDialog")
        await pilot.press("escape")  # Stay
        await settle(pilot)
        assert_screen(pilot, "PreflightScreen")
        await pilot.press("escape")
        await check_home(pilot, "before-new-root")  # the same home as before: the first workspace
        assert Path("second/session.json").is_file()

        # A mistyped Open keeps the workspace shown.
        await pilot.press("o")
        await type_into(pilot, "#path", "no-such-dir")
        await pilot.press("enter")
        await settle(pilot)
        assert_screen(pilot, "ErrorDialog")
        await pilot.press("escape")
        await check_home(pilot, "before-new-root")

        # Open the draft, leave the resume question for later, discard it from home.
        await pilot.press("o")
        await type_into(pilot, "#path", "second")
        await pilot.press("enter")
        await settle(pilot)
        assert_screen(pilot, "ConfirmDialog")
        await pilot.press("escape")  # Later
        await settle(pilot)
        await _choose_action(pilot, "discard-draft")
        assert_screen(pilot, "ConfirmDialog")
        await pilot.press("enter")  # the focus starts on "Keep it": the draft stays
        await settle(pilot)
        assert Path("second/session.json").is_file()
        await _choose_action(pilot, "discard-draft")
        await tab_to(pilot, "#yes")
        await pilot.press("enter")
        await check_home(pilot, "draft-discarded")
        assert not Path("second").exists()
    assert Workspace.load(Path("repo")).config["keys"]  # the first workspace untouched by all of it


def _seeded_app() -> Any:
    """A 2-of-3 workspace made by the core from fixed seeds at the fixed clock, and the app on it."""
    init_workspace(Path("ws"), InitOptions(key_type="ed25519"), lambda _label: SECRET, now=NOW)
    return make_app(Path("ws"), now=NOW)


async def test_signing_stays_where_the_keyholder_is() -> None:
    """Two keyholders in a row: the second types at once (their key chosen, the cursor in the field)."""
    app = _seeded_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")  # root
        await settle(pilot)
        await type_into(pilot, "#days", "400")
        await pilot.press("enter")  # the last field: prepares
        await settle(pilot)
        assert_screen(pilot, "ReviewSignScreen")
        await sign_with(pilot, [("root-1", SECRET), ("root-2", SECRET)])
        assert str(app.screen.query_one("#finish").render()) and not app.screen.query_one("#finish").disabled
        assert app.focused is app.screen.query_one("#finish")
        await press_button(pilot, "#finish")
        await press_button(pilot, "#done")
        await leave_backup_step(pilot)
        await check_home(pilot, "extend-root-no-backup")


async def test_enter_never_ticks_a_box_or_marks_a_key() -> None:
    """Enter on the rotation's key list and on its "no spare root key" box moves on; only Space marks or ticks."""
    app = _seeded_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert_screen(pilot, "RotateScreen")
        await tab_to(pilot, "#keys")
        await pilot.press("enter")  # on the list: moves on, marks nothing
        assert not app.screen.query_one("#keys").selected
        await type_into(pilot, "#threshold", "2")
        await pilot.press("enter")  # on to the box
        assert app.focused is app.screen.query_one("#no-spare")
        await pilot.press("enter")  # not a tick: on to Prepare, which refuses (no key marked)
        await settle(pilot)
        assert not app.screen_stack[-2].query_one("#no-spare").value
        assert_screen(pilot, "ErrorDialog")
        assert "mark the compromised keys" in str(app.screen.query_one("#error-message").render())
