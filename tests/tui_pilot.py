"""Drive the terminal UI with Textual's pilot, keyboard first, the way an operator would.

Used in-process by the TUI tests, and as a script (``python tests/tui_pilot.py
FLOW ARGS``) for the SoftHSM flows: PyKCS11 loads SoftHSM once per process,
so a test with its own SOFTHSM2_CONF runs its flow in its own process.
"""

from __future__ import annotations

import asyncio
import difflib
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, DataTable, Input, Select, SelectionList
from textual.worker import WorkerState

from ceremony.tui.app import make_app

SIZE = (80, 24)


async def settle(pilot: Pilot[Any], seconds: float = 120) -> None:
    """Wait until no core call is running (flow coroutines wait on screens, so they never finish)."""
    await pilot.pause(0.01)  # the key's handler runs and starts its worker
    for _ in range(int(seconds * 100)):
        running = [
            w for w in pilot.app.workers if w.group == "core" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        ]
        if not running:
            await pilot.pause()
            return
        await pilot.pause(0.01)
    raise AssertionError("a core call did not finish")


async def keys(pilot: Pilot[Any], *names: str) -> None:
    """Send key presses the way the terminal driver does, in one burst, then wait once for the app to settle.

    Textual's ``pilot.press`` waits for the app to go idle after every key (about 60 ms here), which made
    typing the suite's passphrases cost minutes; the events and their order are the same.
    """
    import unicodedata

    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key  # as pilot.press

    driver = pilot.app._driver
    assert driver is not None
    for name in names:
        key = _character_to_key(name) if len(name) == 1 and not name.isalnum() else name
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        driver.send_message(event)
    await pilot.pause()


async def tab_to(pilot: Pilot[Any], selector: str, limit: int = 60) -> Any:
    """Press Tab until the widget ``selector`` has the focus, as an operator would; fail if Tab never gets there."""
    target = pilot.app.screen.query_one(selector)
    for _ in range(limit):
        if pilot.app.focused is target:
            return target
        chain = pilot.app.screen.focus_chain
        focused = pilot.app.focused
        if target in chain and focused in chain and chain.index(target) > chain.index(focused):
            await keys(pilot, *["tab"] * (chain.index(target) - chain.index(focused)))  # as many as it takes
        else:
            await pilot.press("tab")
    raise AssertionError(f"{selector} cannot be reached with Tab on {type(pilot.app.screen).__name__}")


async def type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Tab to a field, clear it (Home, Ctrl+K) and type ``text`` key by key."""
    field = await tab_to(pilot, selector)
    assert isinstance(field, Input)
    await keys(pilot, "home", "ctrl+k")
    if field.password or len(text) <= 16:
        await keys(pilot, *["space" if char == " " else char for char in text])
    else:  # a long path arrives as the terminal delivers a paste (bracketed paste), into the focused field
        field.post_message(events.Paste(text))
        await pilot.pause()
    assert field.value == text, (field.value, text)


async def type_here(pilot: Pilot[Any], text: str) -> None:
    """Type into whatever has the focus, without moving it (the next keyholder types at once)."""
    await keys(pilot, *["space" if char == " " else char for char in text])


async def press_button(pilot: Pilot[Any], selector: str) -> None:
    """Tab to a button and press Enter on it, then wait for the core."""
    button = pilot.app.screen.query_one(selector, Button)
    if button.disabled:
        shown = pilot.app.screen.query("#progress")
        raise AssertionError(f"{selector} is disabled; {shown.first().render() if shown else ''}")
    await tab_to(pilot, selector)
    await pilot.press("enter")
    await settle(pilot)


async def tick(pilot: Pilot[Any], selector: str) -> None:
    """Tab to a checkbox and tick it with the space bar."""
    box = await tab_to(pilot, selector)
    assert isinstance(box, Checkbox)
    if not box.value:
        await pilot.press("space")
    await pilot.pause()
    assert box.value


async def choose(pilot: Pilot[Any], selector: str, value: str) -> None:
    """Tab to a drop-down, open it with Enter, arrow to ``value`` and take it with Enter."""
    select = await tab_to(pilot, selector)
    assert isinstance(select, Select)
    values = [v for _text, v in select._options]
    assert value in values, f"{value} not offered in {selector}: {values}"
    await pilot.press("enter")
    await pilot.pause()
    overlay = pilot.app.focused
    for _ in range(len(values) * 2):
        highlighted = getattr(overlay, "highlighted", None)
        if highlighted is not None and values[highlighted] == value:
            break
        await pilot.press("down" if highlighted is None or values.index(value) > highlighted else "up")
    await pilot.press("enter")
    await pilot.pause()
    assert select.value == value, (select.value, value)


async def mark_rows(pilot: Pilot[Any], selector: str, labels: list[str]) -> None:
    """Tab to a selection list, arrow to each row whose second word is a label in ``labels``, mark it with space."""
    listing = await tab_to(pilot, selector)
    assert isinstance(listing, SelectionList)
    shown = [str(listing.get_option_at_index(i).prompt).split()[1] for i in range(listing.option_count)]
    for label in labels:
        target = shown.index(label)
        for _ in range(2 * len(shown)):
            if listing.highlighted == target:
                break
            await pilot.press("down" if listing.highlighted is None or target > listing.highlighted else "up")
        await pilot.press("space")
        await pilot.pause()
    marked = sorted(shown[i] for i in listing.selected)
    assert marked == sorted(labels), (marked, labels, listing.highlighted)


async def row_down(pilot: Pilot[Any], selector: str, rows: int) -> None:
    """Tab to a table and move its cursor down ``rows`` rows with the arrow key."""
    await tab_to(pilot, selector)
    for _ in range(rows):
        await pilot.press("down")
    await pilot.pause()


def screen_name(pilot: Pilot[Any]) -> str:
    """The class name of the screen on top."""
    return type(pilot.app.screen).__name__


def assert_screen(pilot: Pilot[Any], name: str) -> None:
    """Fail with the error dialog's text when the expected screen is not on top."""
    if screen_name(pilot) != name:
        text = ""
        if screen_name(pilot) == "ErrorDialog":
            text = str(pilot.app.screen.query_one("#error-message").render())
        raise AssertionError(f"expected {name}, got {screen_name(pilot)} {text}")


# --------------------------------------------------------------------------- the new root ceremony


async def new_root_until(pilot: Pilot[Any], ws: Path, plan: dict[str, Any], stop_after_keys: int | None = None) -> None:
    """From home with no workspace: start the ceremony and go through key generation.

    ``plan``: keyholders (names), backends (per keyholder: "software" or "token:SERIAL"),
    key_type, secrets (per keyholder: passphrase or PIN), threshold.
    """
    await pilot.press("n")
    await settle(pilot)
    assert_screen(pilot, "StartScreen")
    await type_into(pilot, "#path", str(ws))
    await pilot.press("enter")  # on to the module field (empty: the default)
    await pilot.press("enter")
    await settle(pilot)
    assert_screen(pilot, "PreflightScreen")
    for field in pilot.app.screen.query(Input):  # each failed check's exception (a test host has its disk, ...)
        if field.id and field.id.startswith("exception-") and field.display:
            await type_into(pilot, f"#{field.id}", f"test run: {field.id.removeprefix('exception-')}")
    await tick(pilot, "#clock-ok")
    await press_button(pilot, "#record")
    assert_screen(pilot, "ParticipantsScreen")
    await type_into(pilot, "#administrator", "Ada Admin")
    await type_into(pilot, "#witness", "Wes Witness")
    await type_into(pilot, "#keyholders", ", ".join(plan["keyholders"]))
    await type_into(pilot, "#auditor", "Aud")
    await pilot.press("enter")
    await settle(pilot)
    assert_screen(pilot, "PlanScreen")
    for index, backend in enumerate(plan["backends"], start=1):
        await choose(pilot, f"#backend-{index}", backend)
        await choose(pilot, f"#type-{index}", plan["key_type"])
    await type_into(pilot, "#threshold", str(plan["threshold"]))
    await press_button(pilot, "#accept")
    for index, secret in enumerate(plan["secrets"]):
        if stop_after_keys is not None and index >= stop_after_keys:
            return
        await generate_next_key(pilot, secret)


async def generate_next_key(pilot: Pilot[Any], secret: str) -> None:
    """The keyholder on screen types their secret (twice for a passphrase) and generates."""
    assert_screen(pilot, "KeygenScreen")
    await type_into(pilot, "#secret", secret)
    if pilot.app.screen.query("#again"):
        await type_into(pilot, "#again", secret)
    await pilot.press("enter")  # Enter after the last field generates
    await settle(pilot)
    assert_screen(pilot, "KeygenScreen")
    report = str(pilot.app.screen.query_one("#report").render())
    assert "test signature over the random challenge" in report, report
    if not pilot.app.screen.query("#again"):  # a token key: what the token said about it is shown
        assert "read back from the token: LOCAL yes" in report and "EXTRACTABLE no" in report, report
    await press_button(pilot, "#continue")


async def new_root_finish(pilot: Pilot[Any], plan: dict[str, Any], backup: Path) -> None:
    """From the online keys step to sign-off."""
    assert_screen(pilot, "OnlineKeysScreen")
    await type_into(pilot, "#secret", plan["online_secret"])
    await type_into(pilot, "#again", plan["online_secret"])
    await press_button(pilot, "#set")
    assert_screen(pilot, "ReviewSignScreen")
    await sign_with(pilot, plan["signers"], compare=True)
    await press_button(pilot, "#finish")
    assert_screen(pilot, "VerifyScreen")
    await type_into(pilot, "#secret", plan["online_secret"])
    await press_button(pilot, "#verify")
    assert_screen(pilot, "VerifyScreen")
    await press_button(pilot, "#continue")
    assert_screen(pilot, "BackupScreen")
    await type_into(pilot, "#out", str(backup))
    await press_button(pilot, "#export")
    assert_screen(pilot, "BackupScreen")
    await press_button(pilot, "#continue")
    assert_screen(pilot, "SignoffScreen")
    for box in pilot.app.screen.query(Checkbox):
        await tick(pilot, f"#{box.id}")
    await press_button(pilot, "#finish")
    assert_screen(pilot, "SignoffScreen")
    await press_button(pilot, "#done")
    assert_screen(pilot, "HomeScreen")


async def sign_with(pilot: Pilot[Any], signers: list[tuple[str, str]], compare: bool = True) -> None:
    """Each (key label, secret): pick the key in the list, type the secret, sign."""
    if compare:
        await tick(pilot, "#compared")
    for index, (label, secret) in enumerate(signers):
        select = pilot.app.screen.query_one("#key", Select)
        options = {str(text).split()[0]: value for text, value in select._options if str(text).strip()}
        assert label in options, f"{label} not offered: {sorted(options)}"
        if index > 0 and select.value == options[label]:
            # The next keyholder's turn: their key is chosen and the cursor waits in the passphrase field,
            # so they type at once, with no Tab (typed keys were lost on the key picker before).
            assert pilot.app.focused is pilot.app.screen.query_one("#secret"), pilot.app.focused
            assert label in str(pilot.app.screen.query_one("#next").render())
            await type_here(pilot, secret)
        else:
            if select.value != options[label]:
                await choose(pilot, "#key", str(options[label]))
            await type_into(pilot, "#secret", secret)
        await pilot.press("enter")  # Enter after the passphrase signs
        await settle(pilot)
        assert_screen(pilot, "ReviewSignScreen")


# --------------------------------------------------------------------------- changes


async def rotate(pilot: Pilot[Any], label: str, source: str, secret: str, signers: list[tuple[str, str]]) -> None:
    """Emergency rotation from home: revoke ``label``, add a key from ``source``, collect, publish."""
    await pilot.press("e")
    await settle(pilot)
    assert_screen(pilot, "RotateScreen")
    await mark_rows(pilot, "#keys", [label])
    await choose(pilot, ".source", source)
    await type_into(pilot, "#new-secret", secret)
    if source != "import" and not source.startswith("token:"):
        await type_into(pilot, "#new-again", secret)
    await press_button(pilot, "#prepare")
    assert_screen(pilot, "ReviewSignScreen")
    await sign_with(pilot, signers)
    await publish(pilot)


async def publish(pilot: Pilot[Any], backup: Path | None = None) -> None:
    """Publish from the review-and-sign screen, read the result, go home.

    A change that publishes a root ends on the backup step: with ``backup`` it is
    made there, else the operator leaves it for later (Escape) and home warns.
    """
    await press_button(pilot, "#finish")
    assert_screen(pilot, "PublishedScreen")
    await press_button(pilot, "#done")
    await leave_backup_step(pilot, backup)
    assert_screen(pilot, "HomeScreen")


async def leave_backup_step(pilot: Pilot[Any], backup: Path | None = None) -> None:
    """On the backup step a root publication ends with: make the backup into ``backup``, or leave it (Escape)."""
    await settle(pilot)
    if screen_name(pilot) != "BackupExportScreen":
        return
    if backup is None:
        await pilot.press("escape")
    else:
        await type_into(pilot, "#out", str(backup))
        await pilot.press("enter")
        await settle(pilot)
        report = str(pilot.app.screen.query_one("#report").render())
        assert "byte-identical" in report, report
        await press_button(pilot, "#done")
    await settle(pilot)


async def extend(pilot: Pilot[Any], role: str, days: int, signers: list[tuple[str, str]]) -> None:
    """Extend ``role`` by ``days`` from home; collect signatures; publish."""
    await pilot.press("x")
    await settle(pilot)
    assert_screen(pilot, "ExtendScreen")
    table = pilot.app.screen.query_one("#roles", DataTable)
    roles = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
    await row_down(pilot, "#roles", roles.index(role))
    await type_into(pilot, "#days", str(days))
    await press_button(pilot, "#prepare")
    assert_screen(pilot, "ReviewSignScreen")
    await sign_with(pilot, signers)
    await publish(pilot)


async def delegate(
    pilot: Pilot[Any], name: str, paths: str, source: str, secret: str, signers: list[tuple[str, str]]
) -> str:
    """Delegate ``paths`` to a new role with a key from ``source``; return the progress shown before signing."""
    await pilot.press("d")
    await settle(pilot)
    assert_screen(pilot, "DelegateScreen")
    await type_into(pilot, "#name", name)
    await type_into(pilot, "#paths", paths)
    await choose(pilot, ".source", source)
    await type_into(pilot, "#new-secret", secret)
    if not source.startswith("token:"):
        await type_into(pilot, "#new-again", secret)
    await press_button(pilot, "#prepare")
    assert_screen(pilot, "ReviewSignScreen")
    progress = str(pilot.app.screen.query_one("#progress").render())
    await sign_with(pilot, signers)
    await publish(pilot)
    return progress


async def offline_sign(pilot: Pilot[Any], request: Path, keyspec: str, secret: str) -> str:
    """Offline signing from home: open the request, compare, sign with my key, save; return the words shown."""
    await pilot.press("s")
    await settle(pilot)
    await type_into(pilot, "#request", str(request))
    await press_button(pilot, "#open")
    assert_screen(pilot, "ReviewSignScreen")
    words = str(pilot.app.screen.query_one("#words").render())
    await tick(pilot, "#compared")
    await type_into(pilot, "#keyspec", keyspec)
    await type_into(pilot, "#secret", secret)
    await press_button(pilot, "#sign")
    await press_button(pilot, "#finish")
    assert_screen(pilot, "HomeScreen")
    return words


# --------------------------------------------------------------------------- as a script, for SoftHSM


async def _run(job: dict[str, Any]) -> None:
    ws = Path(job["ws"]) if job["flow"] != "offline" else None
    app = make_app(ws if job["flow"] != "new-root" else None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        signers = [(label, secret) for label, secret in job.get("signers", [])]
        if job["flow"] == "new-root":
            await new_root_until(pilot, Path(job["ws"]), job["plan"])
            await new_root_finish(pilot, job["plan"], Path(job["backup"]))
        elif job["flow"] == "rotate":
            await rotate(pilot, job["label"], job["source"], job["secret"], signers)
        elif job["flow"] == "extend":
            await extend(pilot, job["role"], job["days"], signers)
        elif job["flow"] == "delegate":
            await delegate(pilot, job["name"], job["paths"], job["source"], job["secret"], signers)
        elif job["flow"] == "offline":
            await offline_sign(pilot, Path(job["request"]), job["keyspec"], job["secret"])
        else:
            raise SystemExit(f"unknown flow {job['flow']}")


def main() -> None:
    """Run one flow described by a JSON object on stdin (secrets never go on the command line)."""
    asyncio.run(_run(json.loads(sys.stdin.read())))


if __name__ == "__main__":
    main()


# --------------------------------------------------------------------------- home, as text snapshots after each flow

HOME_SNAPSHOTS = Path(__file__).parent / "home_snapshots"
#: Sizes home is checked at after every flow: the operator's 80x24, and larger terminals.
HOME_SIZES = ((80, 24), (120, 40), (200, 60))
_HEX = re.compile(r"\b[0-9a-f]{8,64}\b")


def screen_text(app: Any) -> str:
    """What the screen shows, as lines of text (the compositor's frame, as a screenshot renders it)."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text(styles=False).splitlines())


def assert_home_whole(app: Any, text: str) -> None:
    """Every label, role and date home lists is on screen in full (the collapse read 'root-' and '2027-12')."""
    from ceremony.tui.widgets import GridTable

    for table in app.screen.query(GridTable):
        for row in table.rows:
            for cell in row:
                for word in str(cell).split():
                    assert word in text, f"{word!r} of {table.id} is not shown whole at {app.size}:\n{text}"


async def check_home(pilot: Pilot[Any], name: str, mask_ids: bool = False, snapshot: bool = True) -> str:
    """Home after a flow, at 80x24, 120x40 and 200x60: shown whole, and as its snapshot (``name``-WxH.txt).

    ``CEREMONY_UPDATE_SNAPSHOTS=1`` writes the snapshots instead (read them before committing).
    ``mask_ids`` replaces hex ids of random keys with # (same width), for flows whose keys are not seeded;
    ``snapshot=False`` checks only that everything is shown whole (a workspace on the real clock).
    """
    await settle(pilot)
    assert_screen(pilot, "HomeScreen")
    pilot.app.clear_notifications()
    shown = ""
    for width, height in HOME_SIZES:
        await pilot.resize_terminal(width, height)
        await pilot.pause()
        await settle(pilot)
        text = screen_text(pilot.app)
        assert_home_whole(pilot.app, text)
        if mask_ids:
            text = _HEX.sub(lambda m: "#" * len(m.group(0)), text)
        golden = HOME_SNAPSHOTS / f"{name}-{width}x{height}.txt"
        if not snapshot:
            pass
        elif os.environ.get("CEREMONY_UPDATE_SNAPSHOTS"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text + "\n")
        else:
            assert golden.is_file(), f"{golden}: no snapshot; run with CEREMONY_UPDATE_SNAPSHOTS=1 and read it"
            expected = golden.read_text().rstrip("\n")
            assert text == expected, "\n".join(
                difflib.unified_diff(expected.split("\n"), text.split("\n"), lineterm="")
            )
        shown = shown or text
    await pilot.resize_terminal(*SIZE)
    await pilot.pause()
    return shown
