"""Docker Content Trust in the terminal UI, driven with Textual's pilot the way an operator drives it.

Only keys reach the app: Tab, Enter, Space, arrows, Escape and the shortcuts home shows, plus a terminal's
paste for paths and the GUN (a key press costs Textual's pilot about 60 ms); no widget is focused or handler
called from here. Paths are relative to the test's directory, as an operator's would be to theirs. A new repository starts from a fetched bundle made offline (the
server's snapshot and timestamp keys, no trust data yet: a new GUN); a rotation starts from what a real
notary server serves (the ``notary_server`` fixture), fetched and published as the connected host does,
through the core calls ``ceremony notary fetch`` and ``publish`` make.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select, Static

from ceremony.core import dct, notary, notary_bundle, notary_http
from ceremony.core.keys.dct import generate_notary_key
from ceremony.tui.app import HomeScreen, make_app
from ceremony.tui.widgets import GridTable
from tests.notary import NotaryServer, notary_server
from tests.tui_pilot import check_home, leave_backup_step

__all__ = ["notary_server"]  # the fixture, imported for pytest

SIZE = (80, 24)
KEY_NAMES = {"-": "minus", ".": "full_stop", "/": "slash"}  # Textual's names of the non-alphanumeric keys typed
GUN = "registry.example:5000/org/app"
PUBLISHER = "pub-pass"


def secret_of(label: str) -> str:
    return f"{label}pw"  # as short as the core allows: each key typed costs the pilot 60 ms


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def fetched_bundle(top: Path, gun: str = GUN) -> Path:
    """What ``ceremony notary fetch`` writes for a GUN the server has no trust data for yet."""
    now = datetime.now(UTC).replace(microsecond=0)
    keys = {role: notary.ecdsa_key(generate_notary_key().public) for role in ("snapshot", "timestamp")}
    bundle = notary_bundle.Bundle(
        kind="fetched",
        gun=gun,
        files={},
        server="https://notary.example:4443",
        fetched_at=notary_bundle.fetched_at(now),
        server_keys=keys,
    )
    path = top / "fetched.bundle"
    notary_bundle.write_bundle(path, bundle)
    return path


def fetch(server: NotaryServer, gun: str, out: Path) -> Path:
    """``ceremony notary fetch`` on the connected host."""
    notary_bundle.write_bundle(out, notary_http.fetch(server.url, gun, server.ca))
    return out


def publish(server: NotaryServer, bundle: Path) -> None:
    """``ceremony notary publish`` on the connected host."""
    notary_http.publish(notary_bundle.read_bundle(bundle), server.url, server.ca)


def make_workspace(
    top: Path, days: int = dct.DEFAULT_DAYS["root"], gun: str = GUN, fetched: Path | None = None
) -> Path:
    """A 2-of-3 DCT workspace made by the core; its root and certificates end after ``days``."""
    options = dct.DctInitOptions(
        gun=gun,
        server_keys=fetched or fetched_bundle(top, gun),
        bundle_out=top / "v1.bundle",
        targets_key_out=top / "targets.key",
        root_days=days,
        certificate_days=days,
    )
    ws = top / "ws"
    dct.init_dct(ws, options, lambda label: PUBLISHER if label == dct.PUBLISHER_LABEL else secret_of(label))
    return ws


# --------------------------------------------------------------------------------------------------- the keyboard


def on_top(pilot: Pilot[Any]) -> str:
    return type(pilot.app.screen).__name__


def focused_id(pilot: Pilot[Any]) -> str | None:
    return pilot.app.focused.id if pilot.app.focused is not None else None


async def wait_for(pilot: Pilot[Any], name: str, seconds: float = 60) -> None:
    """Wait until the screen ``name`` is on top; fail at once with the text of an error dialog instead."""
    for _ in range(int(seconds * 20)):
        if on_top(pilot) == name:
            await pilot.pause()
            return
        if on_top(pilot) == "ErrorDialog" and name != "ErrorDialog":
            message = pilot.app.screen.query_one("#error-message", Static).render()
            raise AssertionError(f"expected {name}, got the error: {message}")
        await pilot.pause(0.05)
    raise AssertionError(f"expected {name}, still {on_top(pilot)}")


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into whatever has the cursor, as a terminal delivers typing: a key event per character,
    in order, as fast as they come (``pilot.press`` waits for the app to go idle after every key)."""
    for char in text:
        assert char.isalnum() or char in KEY_NAMES, char
        pilot.app.post_message(events.Key(KEY_NAMES.get(char, char), char))
    await pilot.pause()


async def paste(pilot: Pilot[Any], text: str) -> None:
    """Paste ``text`` where the cursor is, as a terminal delivers a bracketed paste."""
    pilot.app.post_message(events.Paste(text))
    await pilot.pause()


async def tab_to(pilot: Pilot[Any], widget_id: str, limit: int = 40) -> None:
    """Press Tab until the cursor is on ``widget_id``."""
    for _ in range(limit):
        if focused_id(pilot) == widget_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached #{widget_id} (at #{focused_id(pilot)})")


async def keyholder_types(pilot: Pilot[Any], secret: str, twice: bool) -> str:
    """A keyholder's dialog: type the secret (twice for a new key), Enter; returns the dialog's title."""
    await wait_for(pilot, "SecretDialog")
    title = str(pilot.app.screen.query_one("#secret-title").render())
    assert focused_id(pilot) == "secret"
    assert pilot.app.screen.query_one("#secret", Input).password  # never echoed
    assert bool(pilot.app.screen.query("#again")) == twice, title
    await type_text(pilot, secret)
    await pilot.press("enter")
    if twice:
        await type_text(pilot, secret)
        await pilot.press("enter")
    await pilot.pause()
    return title


async def confirm_review(pilot: Pilot[Any]) -> str:
    """The review: Tab to the tick box, Space, Tab to Sign, Enter; returns what was shown."""
    await wait_for(pilot, "ReviewScreen")
    shown = str(pilot.app.screen.query_one("#changes").render())
    words = str(pilot.app.screen.query_one("#words").render())
    assert len(words.split()) == 24
    await tab_to(pilot, "compared")
    await pilot.press("space")
    await tab_to(pilot, "sign")
    await pilot.press("enter")
    return shown


async def refused(pilot: Pilot[Any], back_to: str) -> str:
    """The core's refusal in its dialog: read it, close it (Escape), and be back on ``back_to``."""
    await wait_for(pilot, "ErrorDialog")
    message = str(pilot.app.screen.query_one("#error-message").render())
    await pilot.press("escape")
    await wait_for(pilot, back_to)
    return message


def cells(table: GridTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


# --------------------------------------------------------------------------------------------------- tests


async def test_home_shows_certificate_expiry_beside_metadata_expiry(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, days=20)
    status = dct.status(dct.load(ws))
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        assert GUN in str(screen.query_one("#roles-title").render())
        roles = {row[0]: row for row in cells(screen.query_one("#roles", GridTable))}
        assert roles["root"][1:4] == ["1", "2 of 3", status.roles[0].expires[:10]]
        assert roles["targets"][-1].startswith("publisher") and roles["timestamp"][-1] == "server"
        root_keys = cells(screen.query_one("#keys", GridTable))
        assert [row[0].split("\n") for row in root_keys] == [[f"root-{i}", "software"] for i in (1, 2, 3)]
        assert {row[1] for row in root_keys} == {f"{k.not_after:%Y-%m-%d}" for k in status.root_keys}
        assert [row[3].split("\n")[0] for row in root_keys] == [k.x509_id[:10] for k in status.root_keys]
        warnings = str(screen.query_one("#warnings").render())
        assert "the certificate of root key root-1 expires on" in warnings
        assert "root expires in" in warnings
        offered = [str(o.id) for o in screen.query_one("#actions", OptionList).options]
        assert {"dct-root", "dct-targets", "dct-pin", "backup", "drill"} <= set(offered)
        assert not {"rotate", "extend", "delegate"} & set(offered)
        for key in ("e", "x", "d"):  # TUF changes: not offered, and their keys do nothing here
            await pilot.press(key)
            await pilot.pause()
            assert on_top(pilot) == "HomeScreen"
        await pilot.press("p")  # the pinning snippet, from the workspace's newest root
        await wait_for(pilot, "PinScreen")
        await pilot.pause(0.2)
        snippet = str(app.screen.query_one("#snippet").render())
        assert all(k.x509_id in snippet for k in status.root_keys) and GUN in snippet
        await pilot.press("escape")
        await wait_for(pilot, "HomeScreen")


async def test_a_file_changed_behind_the_tools_back_is_named_and_nothing_is_offered(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    targets = ws / "metadata" / "targets.json"
    targets.write_bytes(targets.read_bytes().replace(b'"version":1', b'"version":2'))
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        message = await refused(pilot, "HomeScreen")
        assert "metadata/targets.json" in message and "transcript" in message
        offered = [str(o.id) for o in app.screen.query_one("#actions", OptionList).options]
        assert offered == ["new-root", "sign", "restore", "open", "quit"]
        await pilot.press("c")
        await pilot.pause()
        assert on_top(pilot) == "HomeScreen"


async def start_new_repository(pilot: Pilot[Any], ws: str) -> None:
    """From home: the new root entry, Docker Content Trust as the kind of repository, the workspace path."""
    await pilot.press("n")
    await wait_for(pilot, "StartScreen")
    assert focused_id(pilot) == "profile"  # the first choice: which kind of repository
    await pilot.press("enter", "down", "enter")
    assert pilot.app.screen.query_one("#profile", Select).value == "notary"
    await pilot.press("tab")
    await type_text(pilot, ws)
    await pilot.press("enter", "enter")  # the path, then the module (empty: the default)
    await wait_for(pilot, "NewRepositoryScreen")
    assert focused_id(pilot) == "gun"
    await paste(pilot, GUN)
    await pilot.press("enter")
    await paste(pilot, str(fetched_bundle(Path())))


async def test_new_repository_from_the_new_root_entry(tmp_path: Path) -> None:
    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await start_new_repository(pilot, "ws")
        await pilot.press("ctrl+r")  # Review and sign (the footer's key): 3 keys 2-of-3 and the files as offered
        # Each keyholder types their own new passphrase twice; the review comes before anything is signed.
        for label in ("root-1", "root-2", "root-3"):
            assert label in await keyholder_types(pilot, secret_of(label), twice=True)
        shown = await confirm_review(pilot)
        assert f"new Docker Content Trust repository {GUN}" in shown and "root.json" in shown
        assert "publisher" in await keyholder_types(pilot, PUBLISHER, twice=True)  # last
        await wait_for(pilot, "ResultScreen")
        report = str(app.screen.query_one("#report").render())
        await pilot.press("enter")  # on to the backup step a new root ends with
        await wait_for(pilot, "BackupExportScreen")
        await leave_backup_step(pilot, tmp_path / "paper")  # exported, restored from the PDFs, compared
        await wait_for(pilot, "HomeScreen")
        await check_home(pilot, "dct", snapshot=False)  # whole at 80x24, 120x40 and 200x60
        assert GUN in str(app.screen.query_one("#roles-title").render())
        assert "root v1: tested" in str(app.screen.query_one("#backups").render())

    ws = tmp_path / "ws"
    status = dct.status(dct.load(ws))
    assert status.gun == GUN and status.root_versions == [1]
    root = next(r for r in status.roles if r.role == "root")
    assert (root.version, root.threshold, len(root.keyids)) == (1, 2, 3)
    assert [k.label for k in status.root_keys] == ["root-1", "root-2", "root-3"]
    bundle, key_file = tmp_path / "ws-root-v1.bundle", tmp_path / "ws-targets.key"
    assert notary_bundle.read_bundle(bundle).files.keys() == {"root.json", "targets.json"}
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert str(bundle) in report and str(key_file) in report
    for secret in [PUBLISHER, *map(secret_of, ("root-1", "root-2", "root-3"))]:
        for path in ws.rglob("*"):
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path


async def test_refusals_are_the_cores_sentence_and_the_form_stays(tmp_path: Path) -> None:
    app = make_app(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await start_new_repository(pilot, "ws")
        await tab_to(pilot, "count")
        await pilot.press("backspace", "1", "ctrl+r")  # one root key, threshold 2: refused before anyone types
        message = await refused(pilot, "NewRepositoryScreen")
        assert "\n" not in message and "threshold" in message, message
        assert app.screen.query_one("#gun", Input).value == GUN
        assert app.screen.query_one("#fetched", Input).value == "fetched.bundle"
        assert app.screen.query_one("#count", Input).value == "1"
        assert message in str(app.screen.query_one("#last-error").render())

        # 1 of 1 (no spare key, ticked): a new passphrase the core's rule refuses is refused in the dialog.
        await tab_to(pilot, "threshold")
        await pilot.press("backspace", "1")
        await tab_to(pilot, "no-spare")
        await pilot.press("space")
        await pilot.press("ctrl+r")
        await wait_for(pilot, "SecretDialog")
        await type_text(pilot, "short")
        await pilot.press("enter")
        await type_text(pilot, "short")
        await pilot.press("enter")
        assert "too short" in str(app.screen.query_one("#problem").render())
        assert on_top(pilot) == "SecretDialog" and focused_id(pilot) == "secret"
        await keyholder_types(pilot, secret_of("root-1"), twice=True)
        # The review is cancelled: nothing is signed, nothing written, and the form is as it was.
        await wait_for(pilot, "ReviewScreen")
        await pilot.press("escape")
        assert "not confirmed" in await refused(pilot, "NewRepositoryScreen")
        assert app.screen.query_one("#threshold", Input).value == "1"
        # A keyholder who leaves their dialog stops the core too.
        await pilot.press("ctrl+r")
        await wait_for(pilot, "SecretDialog")
        await pilot.press("escape")
        assert "no passphrase given for root-1" in await refused(pilot, "NewRepositoryScreen")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fetched.bundle"]


async def test_root_rotation_from_home_adds_a_key_and_revokes_one(notary_server: NotaryServer, tmp_path: Path) -> None:
    gun = notary_server.new_gun("tui")
    ws = make_workspace(tmp_path, gun=gun, fetched=fetch(notary_server, gun, tmp_path / "new.bundle"))
    publish(notary_server, tmp_path / "v1.bundle")
    fetch(notary_server, gun, tmp_path / "served.bundle")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await wait_for(pilot, "RootRotationScreen")
        assert focused_id(pilot) == "fetched"
        await paste(pilot, "served.bundle")
        await tab_to(pilot, "revoke-1")  # root-2
        await pilot.press("space")
        await tab_to(pilot, "count")
        await pilot.press("backspace", "1")  # one new key, software by default
        await tab_to(pilot, "rotate")
        await pilot.press("enter")
        # The new key's keyholder chooses a passphrase (twice), the review, then a threshold of old keys unlock.
        assert "root-4" in await keyholder_types(pilot, secret_of("root-4"), twice=True)
        shown = await confirm_review(pilot)
        assert "revoked: root key root-2" in shown
        for label in ("root-1", "root-3"):
            assert label in await keyholder_types(pilot, secret_of(label), twice=False)
        await wait_for(pilot, "ResultScreen")
        assert "root version 2" in str(app.screen.query_one("#report").render())
        await pilot.press("enter")
        await wait_for(pilot, "BackupExportScreen")
        await pilot.press("escape")  # the backup later: home warns until it is made
        await wait_for(pilot, "HomeScreen")
        await check_home(pilot, "dct", snapshot=False)  # whole at 80x24, 120x40 and 200x60
        assert "root v2: NO tested paper backup" in str(app.screen.query_one("#backups").render())
        roles = cells(app.screen.query_one("#roles", GridTable))
        assert roles[0][:2] == ["root", "2"]

    workspace = dct.load(ws)
    status = dct.status(workspace)
    assert status.root_versions == [1, 2]
    assert [k.label for k in status.root_keys] == ["root-1", "root-3", "root-4"]
    assert [r.label for r in workspace.key_records() if r.revoked] == ["root-2"]
    publish(notary_server, tmp_path / "ws-root-v2.bundle")  # the server takes it, and serves it back verified
    served = notary_bundle.read_bundle(fetch(notary_server, gun, tmp_path / "after.bundle"))
    assert served.files["root.json"] == (ws / "metadata" / "root.json").read_bytes()


async def test_targets_key_replaced_from_home(notary_server: NotaryServer, tmp_path: Path) -> None:
    gun = notary_server.new_gun("tui-targets")
    ws = make_workspace(tmp_path, gun=gun, fetched=fetch(notary_server, gun, tmp_path / "new.bundle"))
    publish(notary_server, tmp_path / "v1.bundle")
    fetch(notary_server, gun, tmp_path / "served.bundle")
    old_targets = next(r for r in dct.status(dct.load(ws)).roles if r.role == "targets").keyids
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("k")
        await wait_for(pilot, "TargetsKeyScreen")
        await paste(pilot, "served.bundle")
        await pilot.press("ctrl+r")
        # The review first; then a threshold of root keyholders unlock (once each); the publisher last, twice.
        assert "new targets key" in await confirm_review(pilot)
        for label in ("root-1", "root-2"):
            assert label in await keyholder_types(pilot, secret_of(label), twice=False)
        assert "publisher" in await keyholder_types(pilot, PUBLISHER, twice=True)
        await wait_for(pilot, "ResultScreen")
        await pilot.press("enter")
        await wait_for(pilot, "BackupExportScreen")
        await pilot.press("escape")
        await wait_for(pilot, "HomeScreen")
        await check_home(pilot, "dct", snapshot=False)  # whole at 80x24, 120x40 and 200x60

    status = dct.status(dct.load(ws))
    assert status.root_versions == [1, 2]
    assert next(r for r in status.roles if r.role == "targets").keyids != old_targets
    assert (tmp_path / "ws-targets-v2.key").stat().st_mode & 0o777 == 0o600
    publish(notary_server, tmp_path / "ws-targets-v2.bundle")
    served = notary_bundle.read_bundle(fetch(notary_server, gun, tmp_path / "after.bundle"))
    assert served.files["targets.json"] == (ws / "metadata" / "targets.json").read_bytes()
