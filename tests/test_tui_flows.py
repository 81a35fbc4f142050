"""The guided flows driven end to end with Textual's pilot; every result is refreshed by python-tuf."""

from __future__ import annotations

from pathlib import Path

import pytest

from ceremony.core import guided as session
from ceremony.core import verify_workspace_transcript
from ceremony.core.requests import load_request
from ceremony.core.workspace import Workspace
from ceremony.tui.app import make_app
from tests.clients import python_tuf_refresh
from tests.conftest import PASSPHRASE, one_line_error
from tests.tui_pilot import (
    SIZE,
    check_home,
    generate_next_key,
    new_root_finish,
    new_root_until,
    offline_sign,
    press_button,
    publish,
    settle,
    sign_with,
    tick,
    type_into,
)

pytestmark = pytest.mark.slow

SOFTWARE_PLAN = {
    "keyholders": ["Kim", "Lee", "Max"],
    "backends": ["software", "software", "software"],
    "key_type": "ed25519",
    "secrets": ["kim passphrase 1", "lee passphrase 2", "max passphrase 3"],
    "threshold": 2,
    "online_secret": "online passphrase",
    "signers": [("root-1", "kim passphrase 1"), ("root-3", "max passphrase 3")],
}


def _assert_verifies(ws: Path, root_version: int) -> dict:
    result = python_tuf_refresh(ws / "metadata", ws / "metadata" / "1.root.json")
    assert result["root_version"] == root_version, result
    report = verify_workspace_transcript(Workspace.load(ws))
    assert report.entries > 0
    assert not (ws / session.SESSION_NAME).exists()
    return result


async def test_new_root_ceremony_quit_resume_finish(tmp_path: Path, cli) -> None:
    """The whole software ceremony, quitting after two of three keys: reopening resumes at the third."""
    ws = tmp_path / "repo"
    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await new_root_until(pilot, ws, SOFTWARE_PLAN, stop_after_keys=2)
        await pilot.press("q")  # the step screen has no q binding: quitting is Escape, then q at home
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "HomeScreen"
        await pilot.press("q")
    assert not (ws / "ceremony.json").exists()
    info = session.session_info(ws)
    assert info is not None and info.step == "keygen"
    assert len(list((ws / "keys").iterdir())) == 2
    # The CLI refuses the draft in one line and says how to resume.
    line = one_line_error(cli("status", ws))
    assert "in progress" in line and "ceremony tui" in line

    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmDialog"
        await pilot.press("enter")  # Resume
        await settle(pilot)
        assert type(app.screen).__name__ == "KeygenScreen"
        assert "root-3" in str(app.screen.query_one("#who").render())
        await generate_next_key(pilot, SOFTWARE_PLAN["secrets"][2])
        await new_root_finish(pilot, SOFTWARE_PLAN, tmp_path / "backup")
        home = await check_home(pilot, "new-root", snapshot=False)  # random keys, the real clock: whole, no snapshot
        assert "root v1: tested" in home
    _assert_verifies(ws, 1)
    transcript = (ws / "transcript.jsonl").read_text()
    for step in (
        "start",
        "preflight",
        "participants",
        "plan",
        "keygen",
        "online",
        "review",
        "sign",
        "verify",
        "signoff",
    ):
        assert f'"tui new-root {step}"' in transcript, step
    assert "test restore of 1.root.json from the printable PDFs: byte-identical" in transcript
    for secret in [*SOFTWARE_PLAN["secrets"], SOFTWARE_PLAN["online_secret"]]:
        for path in ws.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


async def test_error_dialog_keeps_the_flow_where_it_was(workspace: Path) -> None:
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("down", "down", "down")  # timestamp
        await press_button(pilot, "#prepare")
        assert type(app.screen).__name__ == "ReviewSignScreen"
        await tick(pilot, "#compared")
        await type_into(pilot, "#secret", "not the passphrase at all")
        await press_button(pilot, "#sign")
        assert type(app.screen).__name__ == "ErrorDialog"
        message = str(app.screen.query_one("#error-message").render())
        assert "passphrase" in message and "not the passphrase" not in message
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "ReviewSignScreen"
        assert app.screen.query_one("#secret").value == ""
        await sign_with(pilot, [("timestamp", PASSPHRASE)], compare=False)
        await publish(pilot)
    result = _assert_verifies(workspace, 1)
    assert result["timestamp_version"] == 2


async def test_offline_signing_of_a_request(workspace: Path, cli, tmp_path: Path) -> None:
    """Two keyholders away from the workspace each sign the request in the TUI; the workspace merges it."""
    request = tmp_path / "request.json"
    made = cli("extend", workspace, "--role", "root", "--days", "200", "--request", request, "--yes")
    assert made.returncode == 0, made.stderr
    expected = load_request(request).describe()[2].split()
    ws = Workspace.load(workspace)
    for label in ("root-1", "root-2"):
        key_file = workspace / (ws.find_key(label).uri or "").removeprefix("file:")
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            words = await offline_sign(pilot, request, str(key_file), PASSPHRASE)
        assert [w.split(".", 1)[1] for w in words.split()] == expected
    merged = cli("merge", workspace, request)
    assert merged.returncode == 0, merged.stderr
    _assert_verifies(workspace, 2)
