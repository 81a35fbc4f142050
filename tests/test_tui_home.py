"""The TUI's home screen, driven with Textual's pilot over a real workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Static

from ceremony.tui.app import ErrorDialog, HomeScreen, make_app, urgency_colour
from ceremony.tui.widgets import GridTable


def _cells(table: GridTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_home_shows_roles_keys_and_warnings(workspace: Path) -> None:
    app = make_app(workspace, now=datetime.now(UTC))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        roles = _cells(screen.query_one("#roles", GridTable))
        assert [r[0] for r in roles] == ["root", "targets", "snapshot", "timestamp"]
        assert roles[0][1:3] == ["1", "2 of 3"]
        keys = _cells(screen.query_one("#keys", GridTable))
        assert {k[0] for k in keys} == {"root-1", "root-2", "root-3", "targets", "snapshot", "timestamp"}
        warnings = str(screen.query_one("#warnings", Static).render())
        assert "timestamp expires in" in warnings


async def test_missing_workspace_shows_error_dialog(tmp_path: Path) -> None:
    app = make_app(tmp_path / "nope")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "workspace not found" in str(app.screen.query_one("#error-message", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


def test_urgency_colours() -> None:
    assert [urgency_colour(d) for d in (None, -1, 3, 20, 90)] == ["white", "red", "red", "yellow", "green"]


async def test_a_crash_report_never_shows_local_variables(capfd: pytest.CaptureFixture[str]) -> None:
    """A bug ends the app with a traceback; a passphrase in a local variable must not be in it."""
    app = make_app(None)

    def buggy_step() -> None:
        passphrase = "-".join(["hunter2", "typed", "at", "runtime"])  # as a flow holds it on its way to the core
        raise RuntimeError(f"bug with {len(passphrase)} characters in hand")

    with pytest.raises(RuntimeError):
        async with app.run_test(size=(80, 24)) as pilot:
            app.call_later(buggy_step)
            await pilot.pause()
            await pilot.pause()
    text = capfd.readouterr().err
    assert "bug with 24 characters in hand" in text
    assert "hunter2-typed" not in text
