"""The new root ceremony run from a ceremony plan in the terminal UI, driven by the keyboard: every screen filled in
from the plan, a deviation from it refused, and every transcript line naming the plan and its step."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from textual.widgets import Input

from ceremony.core import plan as _plan
from ceremony.core import verify_workspace_transcript
from ceremony.core.workspace import Workspace
from ceremony.tui.app import make_app
from tests.clients import python_tuf_refresh
from tests.plans import new_root_plan
from tests.tui_pilot import (
    SIZE,
    assert_screen,
    generate_next_key,
    new_root_finish,
    press_button,
    settle,
    tick,
    type_into,
)

pytestmark = pytest.mark.slow

PLAN = new_root_plan(name="TUI plan ceremony", online_type="ed25519", expiry="root = 300")

RUN = {
    "secrets": ["kim passphrase 1", "lee passphrase 2", "max passphrase 3"],
    "online_secret": "online passphrase",
    "signers": [("root-1", "kim passphrase 1"), ("root-2", "lee passphrase 2")],
}


async def _start(pilot, ws: Path) -> None:
    """From home: n, the workspace path, Enter twice; the preflight's failures get the witness's exceptions."""
    await pilot.press("n")
    await settle(pilot)
    assert_screen(pilot, "StartScreen")
    assert "From the ceremony plan" in str(pilot.app.screen.query_one("#plan").render())
    await type_into(pilot, "#path", str(ws))
    await pilot.press("enter")
    await pilot.press("enter")
    await settle(pilot)
    assert_screen(pilot, "PreflightScreen")
    checks = str(pilot.app.screen.query_one("#checks").render())
    assert "install: not installed from a kit" in checks, checks  # the plan's full preflight ran
    assert "disk:" in checks, checks
    for field in pilot.app.screen.query(Input):
        if field.id and field.id.startswith("exception-") and field.display:
            await type_into(pilot, f"#{field.id}", "test host")
    await tick(pilot, "#clock-ok")
    await press_button(pilot, "#record")
    assert_screen(pilot, "ParticipantsScreen")


async def test_new_root_from_a_plan_in_the_tui(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(PLAN)
    sha = hashlib.sha256(plan_file.read_bytes()).hexdigest()
    ws = tmp_path / "repo"
    app = make_app(None, plan=plan_file)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _start(pilot, ws)
        screen = pilot.app.screen
        shown = {
            name: screen.query_one(f"#{name}", Input).value
            for name in ("administrator", "witness", "keyholders", "auditor")
        }
        assert shown == {
            "administrator": "Ada Admin",
            "witness": "Wes Witness",
            "keyholders": "Kim, Lee, Max",
            "auditor": "Aud",
        }
        await press_button(pilot, "#record")
        assert_screen(pilot, "PlanScreen")
        assert pilot.app.screen.query_one("#threshold", Input).value == "2"
        assert pilot.app.screen.query_one("#days", Input).value == "300"
        assert str(pilot.app.screen.query_one("#type-2").value) == "ecdsa-p256"
        await press_button(pilot, "#accept")
        for secret in RUN["secrets"]:
            await generate_next_key(pilot, secret)
        await new_root_finish(pilot, RUN, tmp_path / "backup")
    assert (ws / "plans" / f"{sha}.toml").read_bytes() == plan_file.read_bytes()
    assert python_tuf_refresh(ws / "metadata", ws / "metadata" / "1.root.json")["root_version"] == 1
    verify_workspace_transcript(Workspace.load(ws))
    loaded, _ = _plan.read_plan(plan_file)
    steps = {s.id: s.title for s in _plan.script_steps(loaded)}
    entries = [json.loads(line) for line in (ws / "transcript.jsonl").read_text().splitlines()]
    by_command = {}
    for entry in entries:
        if entry["command"].startswith("tui new-root"):
            recorded = entry["details"]["plan"]
            assert recorded["sha256"] == sha and recorded["name"] == "TUI plan ceremony", entry["command"]
            by_command[entry["command"].removeprefix("tui new-root ")] = steps[recorded["step"]]
    assert by_command["start"] == "Open the ceremony"
    assert by_command["preflight"] == "Preflight of the air-gapped host"
    assert by_command["participants"] == "Participants"
    assert by_command["plan"] == by_command["keygen"] == by_command["sign"] == "Create the repository and its keys"
    assert by_command["verify"] == "Verify as a client"
    assert by_command["signoff"] == "Transcript head"
    assert f"plans/{sha}.toml" in entries[0]["files"]
    config = json.loads((ws / "ceremony.json").read_text())
    assert config["roles"]["root"]["expiry_days"] == 300


async def test_a_deviation_from_the_plan_is_refused_where_it_is_typed(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(PLAN)
    app = make_app(None, plan=plan_file)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _start(pilot, tmp_path / "repo")
        await type_into(pilot, "#witness", "Someone Else")
        await press_button(pilot, "#record")
        assert_screen(pilot, "ErrorDialog")
        text = " ".join(str(w.render()) for w in pilot.app.screen.query("Static"))
        assert "differ from the plan's" in text and "Wes Witness (witness)" in text, text
        await pilot.press("enter")
        await settle(pilot)
        assert_screen(pilot, "ParticipantsScreen")
        await type_into(pilot, "#witness", "Wes Witness")
        await press_button(pilot, "#record")
        assert_screen(pilot, "PlanScreen")
        await type_into(pilot, "#threshold", "3")
        await press_button(pilot, "#accept")
        assert_screen(pilot, "ErrorDialog")
        text = " ".join(str(w.render()) for w in pilot.app.screen.query("Static"))
        assert "the plan's root threshold is 2, not 3" in text, text
