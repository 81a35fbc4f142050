"""The terminal UI on corrupted and crafted files: an error dialog, never a crash; file text shown as data.

Each case opens the app in-process with Textual's pilot on a workspace or
draft with one file damaged, and expects the error dialog (a CeremonyError)
over a home screen that offers only what needs no workspace. Text from files
(a request's summary, diff values from its metadata, key labels) must appear
as the characters the file holds: Textual markup is not interpreted and
control characters are shown escaped.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from securesystemslib.signer import SSlibKey
from textual.widgets import Static

from ceremony.core import changes, diff
from ceremony.core import guided as session
from ceremony.core import metadata as md
from ceremony.core import transcript as _transcript
from ceremony.core._fs import sha256_hex
from ceremony.core.workspace import Workspace
from ceremony.tui.app import ErrorDialog, HomeScreen, make_app
from ceremony.tui.widgets import GridTable
from tests.conftest import _run
from tests.tui_pilot import SIZE, press_button, settle, type_into

HUGE = "9" * 4300
HOSTILE = "[bold red]x[/] [@click=app.quit] \x1b[8m hidden \u202e reversed"
NOW = datetime.now(UTC).replace(microsecond=0)


def _corrupt(path: Path, how: Any) -> None:
    """Damage one file: raw bytes, "directory", "fifo", or a mutation of its JSON."""
    if how == "directory":
        path.unlink()
        path.mkdir()
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif isinstance(how, bytes):
        path.write_bytes(how)
    else:
        obj = json.loads(path.read_text())
        result = how(obj)
        path.write_text(json.dumps(obj if result is None else result))


async def _error_at_open(path: Path, resume: bool = False) -> str:
    """Open the app on ``path``; return the error dialog's message (the app must not crash)."""
    app = make_app(path, now=NOW)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        if resume:
            assert type(app.screen).__name__ == "ConfirmDialog", type(app.screen).__name__
            await pilot.press("enter")
            await settle(pilot)
        assert isinstance(app.screen, ErrorDialog), type(app.screen).__name__
        message = str(app.screen.query_one("#error-message", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        if not resume:
            home = app.screen
            assert isinstance(home, HomeScreen) and not home.opened
        await pilot.press("q" if isinstance(app.screen, HomeScreen) else "escape")
    return message


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def _change(base_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a guided change in progress (its session, request and pending record)."""
    path = tmp_path_factory.mktemp("change") / "ws"
    shutil.copytree(base_workspace, path)
    session.ChangeSession.start(
        Workspace.load(path),
        "extend",
        "extend timestamp",
        lambda ctx: changes.plan_extension(ctx, "timestamp", 2),
        lambda _l: "",
        None,
        NOW,
    )
    return path


@pytest.fixture
def change(_change: Path, tmp_path: Path) -> Path:
    shutil.copytree(_change, tmp_path / "ws")
    return tmp_path / "ws"


@pytest.fixture(scope="module")
def _draft(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new root ceremony stopped at review (two root keys, three online keys)."""
    path = tmp_path_factory.mktemp("draft") / "repo"
    ceremony = session.NewRootCeremony.start(path, NOW)
    checks = [session.Check("network", True, "none up"), session.Check("swap", True, "off")]
    ceremony.record_preflight(checks, True, {}, NOW)
    people = [session.Participant("Ada", "administrator"), session.Participant("Wes", "witness")]
    people += [session.Participant(name, "keyholder") for name in ("Kim", "Lee")]
    ceremony.set_participants(people, NOW)
    ceremony.set_plan([session.KeyPlan(n, "software", "ed25519") for n in ("Kim", "Lee")], 1, 365, NOW)
    for label in ("root-1", "root-2"):
        ceremony.generate_root_key(label, "keyholder passphrase", NOW)
    ceremony.set_online_keys(dict.fromkeys(session.ONLINE_ROLES, "ed25519"), lambda _l: "online passphrase", NOW)
    return path


@pytest.fixture
def draft(_draft: Path, tmp_path: Path) -> Path:
    shutil.copytree(_draft, tmp_path / "repo")
    return tmp_path / "repo"


def _first_key(obj: dict[str, Any]) -> str:
    return next(k for k, v in obj["keys"].items() if v["label"] == "root-1")


# --------------------------------------------------------------------------- corrupted files at open


CONFIG: dict[str, Any] = {
    "not JSON": b"{",
    "huge integer": f'{{"format": {HUGE}}}'.encode(),
    "key entry a string": lambda c: c["keys"].__setitem__(_first_key(c), "x"),
    "roles a list": lambda c: c.__setitem__("roles", []),
    "uri a number": lambda c: c["keys"][_first_key(c)].__setitem__("uri", 5),
    "a directory": "directory",
    "a FIFO": "fifo",
}


@pytest.mark.parametrize("how", CONFIG.values(), ids=CONFIG.keys())
async def test_a_corrupted_config_is_an_error_dialog(workspace: Path, how: Any) -> None:
    _corrupt(workspace / "ceremony.json", how)
    assert "ceremony.json" in await _error_at_open(workspace)


SESSION: dict[str, Any] = {
    "not JSON": b'{"type": "ceremony-session", ',
    "huge integer": f'{{"format": {HUGE}}}'.encode(),
    "unknown step": lambda s: s.__setitem__("step", "publish-now"),
    "request outside the workspace": lambda s: s.__setitem__("request", "../../../etc/passwd"),
    "request id a number": lambda s: s.__setitem__("request_id", 1234),
    "no flow": lambda s: s.pop("flow"),
    "a directory": "directory",
    "a FIFO": "fifo",
}


@pytest.mark.parametrize("how", SESSION.values(), ids=SESSION.keys())
async def test_a_corrupted_change_session_is_an_error_dialog(change: Path, how: Any) -> None:
    _corrupt(change / "session.json", how)
    assert "session.json" in await _error_at_open(change)


def _pending_of(path: Path) -> Path:
    return next((path / "pending").glob("*.json"))


PENDING: dict[str, Any] = {
    "not JSON": b"[",
    "config a list": lambda p: p.__setitem__("config", []),
    "a directory": "directory",
}


@pytest.mark.parametrize("how", PENDING.values(), ids=PENDING.keys())
async def test_a_corrupted_pending_record_is_an_error_dialog(change: Path, how: Any) -> None:
    _corrupt(_pending_of(change), how)
    assert "pending" in await _error_at_open(change)


def _request_of(path: Path) -> Path:
    return next((path / "requests").glob("*.json"))


def _targets(path: Path) -> dict[str, Any]:
    return json.loads((path / "metadata" / "targets.json").read_text())


REQUEST: dict[str, Callable[[Path], Any]] = {
    "previous root a targets file": lambda p: lambda r: r.__setitem__("previous_root", _targets(p)),
    "metadata a list": lambda _p: lambda r: r.__setitem__("metadata", []),
    "a directory": lambda _p: "directory",
}


@pytest.mark.parametrize("how", REQUEST.values(), ids=REQUEST.keys())
async def test_a_corrupted_request_of_the_change_is_an_error_dialog_on_resume(change: Path, how: Any) -> None:
    request = _request_of(change)
    _corrupt(request, how(change))
    assert request.name in await _error_at_open(change, resume=True)


def _lines(path: Path) -> list[str]:
    return (path / "transcript.jsonl").read_text().splitlines(keepends=True)


def _last_entry(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        lines = _lines(path)
        entry = json.loads(lines[-1])
        edit(entry)
        (path / "transcript.jsonl").write_text("".join([*lines[:-1], json.dumps(entry) + "\n"]))

    return apply


def _whole(how: Any) -> Callable[[Path], None]:
    return lambda path: _corrupt(path / "transcript.jsonl", how)


TRANSCRIPT: dict[str, Callable[[Path], None]] = {
    "truncated": lambda p: (p / "transcript.jsonl").write_text("".join(_lines(p))[:-30]),
    "a line not JSON": lambda p: (p / "transcript.jsonl").write_text("".join(_lines(p)) + "{\n"),
    "files a list": _last_entry(lambda e: e.__setitem__("files", [])),
    "names an absolute path": _last_entry(lambda e: e["files"].__setitem__("/etc/passwd", "0" * 64)),
    "huge integer": lambda p: (p / "transcript.jsonl").write_text("".join(_lines(p)) + f'{{"seq": {HUGE}}}\n'),
    "a directory": _whole("directory"),
    "a FIFO": _whole("fifo"),
}


@pytest.mark.parametrize("corrupt", TRANSCRIPT.values(), ids=TRANSCRIPT.keys())
async def test_a_corrupted_transcript_is_an_error_dialog(workspace: Path, corrupt: Callable[[Path], None]) -> None:
    corrupt(workspace)
    assert "transcript" in await _error_at_open(workspace)


async def test_a_metadata_file_changed_behind_the_tools_back_is_an_error_dialog(workspace: Path) -> None:
    _corrupt(workspace / "metadata" / "root.json", lambda r: r["signed"].__setitem__("roles", []))
    assert "root.json" in await _error_at_open(workspace)


def _key(index: int, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda s: s["root_keys"][index].__setitem__(field, value)


DRAFT: dict[str, Any] = {
    "not JSON": b"{{",
    "a root key entry a string": lambda s: s["root_keys"].__setitem__(0, "root-1"),
    "participants a dict": lambda s: s.__setitem__("participants", {"Ada": "administrator"}),
    "online label with markup": lambda s: s["online"]["targets"].__setitem__("label", "[@click=app.quit]"),
    "key file outside keys/": _key(0, "uri", "file:../../../home/user/.ssh/id.p12"),
    "token label in a software key": _key(1, "token_label", "x;module-path=/tmp/evil.so"),
    "a directory": "directory",
}


@pytest.mark.parametrize("how", DRAFT.values(), ids=DRAFT.keys())
async def test_a_corrupted_draft_is_an_error_dialog(draft: Path, how: Any) -> None:
    _corrupt(draft / "session.json", how)
    assert "session.json" in await _error_at_open(draft)


async def test_a_draft_with_a_corrupted_transcript_is_an_error_dialog(draft: Path) -> None:
    (draft / "transcript.jsonl").write_text("".join(_lines(draft))[:-10])
    assert "transcript" in await _error_at_open(draft)


# --------------------------------------------------------------------------- text from files, shown as data


def _screen_text(app: Any) -> str:
    """What the screen shows, as text (the SVG screenshot without its markup)."""
    svg = app.export_screenshot()
    text = html.unescape(svg).replace("\xa0", " ")
    return text


async def test_key_labels_with_markup_are_shown_as_written(workspace: Path) -> None:
    """A label recorded in the workspace (say, an imported key owner) is text on the home screen."""
    config = json.loads((workspace / "ceremony.json").read_text())
    config["keys"][_first_key(config)]["label"] = "[@click=app.quit]evil[/]"
    (workspace / "ceremony.json").write_text(json.dumps(config))
    digest = sha256_hex((workspace / "ceremony.json").read_bytes())
    _transcript.append(workspace, "edit", ["relabelled root-1"], {"ceremony.json": digest}, [], NOW)
    app = make_app(workspace, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and app.screen.loaded
        table = app.screen.query_one("#keys", GridTable)
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "[@click=app.quit]evil[/]" in labels
        assert "[@click=app.quit]evil[/]" in _screen_text(app)
        await pilot.click("#keys")  # clicking the label runs nothing
        await pilot.pause()
        assert app.is_running


def _hostile_request(path: Path) -> None:
    """The genuine request with hostile strings in its summary and in a key its new root adds."""
    request = json.loads(path.read_text())
    request["summary"] = [HOSTILE, "\x1b[2J\x1b[Hall clear"]
    public = SSlibKey.from_crypto(ed25519.Ed25519PrivateKey.generate().public_key())
    key = {**public.to_dict(), "x-tuf-on-ci-keyowner": HOSTILE}
    signed = request["metadata"]["root"]["signed"]
    signed["keys"][public.keyid] = key
    signed["roles"]["root"]["keyids"].append(public.keyid)
    signed["x-ceremony-note"] = HOSTILE
    payloads = {role: md.signed_bytes(md.from_dict(obj, role)) for role, obj in request["metadata"].items()}
    request["digest"] = diff.payload_digest(payloads).hex()
    path.write_text(json.dumps(request))


async def test_a_crafted_request_is_shown_as_the_characters_it_holds(workspace: Path, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    made = _run("extend", workspace, "--role", "root", "--days", "200", "--request", request, "--yes")
    assert made.returncode == 0, made.stderr
    _hostile_request(request)
    app = make_app(None, now=NOW)
    async with app.run_test(size=(200, 80)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        await type_into(pilot, "#request", str(request))
        await press_button(pilot, "#open")
        assert type(app.screen).__name__ == "ReviewSignScreen", type(app.screen).__name__
        summary = str(app.screen.query_one("#summary", Static).render())
        changed = str(app.screen.query_one("#changes", Static).render())
        shown = _screen_text(app)
        for text in (summary, changed, shown):
            assert "[bold red]x[/]" in text and "[@click=app.quit]" in text, text
            assert "\\x1b[8m" in text and "\\u202e" in text, text
            assert "\x1b" not in text and "\u202e" not in text
        assert "\\x1b[2J\\x1b[Hall clear" in summary
        assert "NOT signed" in shown
        await pilot.click("#summary")  # the [@click=...] is text: clicking it runs nothing
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ReviewSignScreen"
