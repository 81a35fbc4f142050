"""The Textual app: home screen over a workspace, and the error dialog every flow uses.

A thin client of ceremony.core: it renders ``workspace_status`` and shows any
``CeremonyError`` as a dialog with the operator's sentence and what to do.
Anything else is a bug and crashes, so the ceremony fails closed.

The guided flows (new root ceremony, rotation, signing, backup) are issue #6's
remaining work; this is their home.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Label, Static

from ceremony import core
from ceremony.errors import CeremonyError

URGENCY = [(0, "red"), (7, "red"), (30, "yellow")]


def urgency_colour(days_left: float | None) -> str:
    """Colour of an expiry by how soon it is (16-colour names)."""
    if days_left is None:
        return "white"
    for limit, colour in URGENCY:
        if days_left <= limit:
            return colour
    return "green"


class ErrorDialog(ModalScreen[None]):
    """A core error, as the operator-facing sentence and what to do next; the flow stays where it was."""

    BINDINGS: ClassVar = [Binding("escape,enter", "dismiss", "Close")]

    def __init__(self, title: str, error: CeremonyError) -> None:
        super().__init__()
        self.title_text = title
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]")
            yield Static(str(self.error), id="error-message")
            if self.error.hint:
                yield Static(f"What to do: {self.error.hint}", id="error-hint")
            yield Button("Close", variant="error", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss()


class HomeScreen(Screen[None]):
    """The workspace at a glance: roles, expiry calendar, keys and warnings."""

    BINDINGS: ClassVar = [Binding("r", "reload", "Reload"), Binding("q", "app.quit", "Quit")]

    def __init__(self, workspace: Path | None, now: datetime | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.now = now

    def compose(self) -> ComposeResult:
        yield Static("ceremony", id="title")
        yield Static("Roles", classes="section")
        yield DataTable(id="roles", cursor_type="row")
        yield Static("Keys", classes="section")
        yield DataTable(id="keys", cursor_type="row")
        yield Static("", id="warnings")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        """Read the workspace again and redraw."""
        title = self.query_one("#title", Static)
        if self.workspace is None:
            title.update("ceremony - no workspace open (run: ceremony tui WORKSPACE)")
            return
        try:
            status = core.workspace_status(core.Workspace.load(self.workspace), self.now or datetime.now(UTC))
        except CeremonyError as err:
            self.app.push_screen(ErrorDialog("Cannot open the workspace", err))
            return
        title.update(f"ceremony - {status.path} (root versions {', '.join(map(str, status.root_versions))})")
        roles = self.query_one("#roles", DataTable)
        roles.clear(columns=True)
        roles.add_columns("role", "version", "threshold", "expires", "days left", "re-sign by")
        for role in status.roles:
            colour = urgency_colour(role.days_left)
            days = "-" if role.days_left is None else f"[{colour}]{role.days_left:g}[/{colour}]"
            roles.add_row(
                role.role,
                str(role.version or "-"),
                f"{role.threshold}/{len(role.keyids)}",
                (role.expires or "-")[:10],
                days,
                (role.resign_by or "-")[:10],
            )
        keys = self.query_one("#keys", DataTable)
        keys.clear(columns=True)
        keys.add_columns("label", "key id", "type", "roles", "held")
        for key in status.keys:
            where = "revoked" if key.revoked else key.location
            keys.add_row(key.label, key.keyid[:12], key.key_type, ",".join(key.roles) or "-", where)
        self.query_one("#warnings", Static).update("\n".join(f"! {w}" for w in status.warnings))


class CeremonyApp(App[None]):
    """The ceremony terminal UI."""

    CSS_PATH = "ceremony.tcss"
    TITLE = "ceremony"

    def __init__(self, workspace: Path | None = None, now: datetime | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.now = now

    def on_mount(self) -> None:
        self.push_screen(HomeScreen(self.workspace, self.now))


def make_app(workspace: Path | None = None, now: datetime | None = None) -> CeremonyApp:
    """The app for the CLI and the tests (``now`` fixed in tests for deterministic screens)."""
    return CeremonyApp(Path(workspace) if workspace else None, now)
