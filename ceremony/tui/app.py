"""The Textual app: home over a workspace, and the flow runners that step through each ceremony.

A thin client of ceremony.core. Home renders ``workspace_status`` and lists
every flow. Each flow is one ``@work`` coroutine that pushes the screen for
the step the core session says comes next and waits for it
(``push_screen_wait``); the session, not the UI, remembers where a ceremony
stands, so quitting and reopening resumes it. A ``CeremonyError`` is shown as
a dialog; anything else is a bug and ends the app, so a ceremony fails closed.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ceremony.core import guided
from ceremony.core._text import printable
from ceremony.errors import CeremonyError
from ceremony.tui import dct_entry
from ceremony.tui.widgets import LEAVE, ConfirmDialog, ErrorDialog, GridTable, held, plain, plain_lines

if TYPE_CHECKING:
    from ceremony.core.workspace import Workspace

URGENCY = [(0, "red"), (7, "red"), (30, "yellow")]

__all__ = ["CeremonyApp", "ErrorDialog", "HomeScreen", "make_app", "urgency_colour"]


def urgency_colour(days_left: float | None) -> str:
    """Colour of an expiry by how soon it is (16-colour names)."""
    if days_left is None:
        return "white"
    for limit, colour in URGENCY:
        if days_left <= limit:
            return colour
    return "green"


#: Home's actions: id, key, label, needs a workspace.
ACTIONS: list[tuple[str, str, str, bool]] = [
    ("new-root", "n", "New root ceremony", False),
    ("rotate", "e", "Emergency rotation", True),
    ("extend", "x", "Extend expiry", True),
    ("delegate", "d", "Delegate keys", True),
    ("targets", "f", "Target files", True),
    ("trust-root", "g", "Sigstore trust root", True),
    ("sign", "s", "Sign a request", False),
    ("backup", "b", "Backup + test restore", True),
    ("restore", "t", "Restore from backup", False),
    ("drill", "l", "Recovery drill", True),
    ("open", "o", "Open a workspace", False),
    ("quit", "q", "Quit", False),
]


@dataclass(frozen=True)
class _Reading:
    """What home read of its directory: the title to show, and one of a DCT workspace, an overview or an error."""

    title: Text
    session: Text = field(
        default_factory=Text
    )  # the line above the tables: what to do first, or the ceremony in progress
    dct: Workspace | None = None
    opened: guided.Overview | None = None
    error: CeremonyError | None = None


class OpenDialog(ModalScreen[str]):
    """Ask for a workspace directory."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            from ceremony.tui.picker import PathInput  # the picker loads when Open is chosen, not before home

            yield Label("Workspace directory to open")
            yield PathInput(id="path", kind="dir")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss("")


class HomeScreen(Screen[None]):
    """The workspace at a glance (roles, expiry calendar, keys, warnings) and every flow."""

    BINDINGS: ClassVar = [
        *[Binding(key, f"run('{action}')", label, show=False) for action, key, label, _ws in ACTIONS if key != "q"],
        *[Binding(key, f"run('{action}')", label, show=False) for action, key, label in dct_entry.ACTIONS],
        Binding("r", "reload", "Reload"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, workspace: Path | None, now: datetime | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.now = now
        self.info: guided.SessionInfo | None = None
        self.loaded = False  # a workspace is shown (not a draft)
        self.opened = False  # the directory was read without an error (a workspace or a draft)
        self.dct = False  # a Docker Content Trust workspace is shown (ceremony/tui/dct.py), not a TUF one
        self.profile = ""  # the TUF workspace's profile ("tuf", "sigstore") once shown

    def compose(self) -> ComposeResult:
        # The directory is read before the first frame, and the title and session line composed with what it
        # says: set later, in on_mount, they are left out of Textual's first paint and drawn one frame late.
        self._reading = self._read()
        yield Static(self._reading.title, id="title", markup=False)
        with Horizontal(id="main"):
            with VerticalScroll(id="overview"):
                yield Static(self._reading.session, id="session", markup=False)
                yield Static("Roles", id="roles-title", classes="section ws-only")
                yield GridTable("roles", classes="ws-only")
                yield Static("", id="roles-note", markup=False)  # shown by a DCT workspace only
                yield Static("Keys", id="keys-title", classes="section ws-only")
                yield GridTable("keys", classes="ws-only")
                yield Static("Paper backups", id="backups-title", classes="section ws-only")
                yield Static("", id="backups", classes="ws-only", markup=False)
                yield Static("", id="warnings", markup=False)
            yield OptionList(id="actions")
        yield Footer()

    def on_mount(self) -> None:
        self._show(self._reading)
        self.query_one("#actions", OptionList).focus()
        self.app.offer_resume()  # type: ignore[attr-defined]

    def reload_when_shown(self) -> None:
        """Redraw from home's own message loop, not from the flow worker that asks.

        Tables filled from a flow's worker keep the column widths of their
        headers (the rows are measured on the pump that runs the call), so every
        key label read "root-" and every date "2027-12" until the operator
        pressed r.
        """
        self.call_later(self.action_reload)

    def _actions(self) -> None:
        options = []
        if self.info is not None:
            options.append(Option(plain(f"   Resume: {self.info.title}", "bold", limit=200), id="resume"))
            if self.info.flow != "new-root":
                options.append(Option(Text("   Discard the change"), id="discard"))
            else:
                options.append(Option(Text("   Discard this draft"), id="discard-draft"))
        for action, key, label, needs_ws in ACTIONS:
            if needs_ws and not (self.loaded or (self.dct and action in dct_entry.SHARED_ACTIONS)):
                continue
            if action == "trust-root" and self.profile != "sigstore":
                continue  # offered on a Sigstore workspace only
            options.append(Option(Text(f"{key}  {label}"), id=action))
            if action == "new-root" and self.dct:
                options += [Option(Text(f"{k}  {text}"), id=a) for a, k, text in dct_entry.ACTIONS]
        actions = self.query_one("#actions", OptionList)
        actions.clear_options()
        actions.add_options(options)
        actions.highlighted = 0

    def action_reload(self) -> None:
        """Read the workspace again and redraw."""
        self._show(self._read())

    def _read(self) -> _Reading:
        """What the directory holds, read (and verified, by the core) before any of it is drawn."""
        if self.workspace is None:
            hint = (
                "Start a new root ceremony (n), open a workspace (o), sign a request someone sent you (s), "
                "or restore metadata from a paper backup (t)."
            )
            return _Reading(Text("ceremony - no workspace open"), Text(hint))
        dct_ws = dct_entry.open_dct(self.workspace)
        if dct_ws is not None:
            return _Reading(Text("ceremony"), dct=dct_ws)  # its title comes with its verified status (dct.py)
        try:
            opened = guided.overview(self.workspace, self.now or datetime.now(UTC))
        except CeremonyError as err:
            return _Reading(plain(f"ceremony - {self.workspace} cannot be opened"), error=err)
        session = plain(f"In progress: {opened.info.describe()}") if opened.info is not None else Text()
        status = opened.status
        if status is None:
            title = plain(f"ceremony - {self.workspace} (new root ceremony in progress)")
            return _Reading(title, session, opened=opened)
        versions = ", ".join(map(str, status.root_versions))
        kind = "Sigstore trust root, " if status.profile == "sigstore" else ""
        return _Reading(plain(f"ceremony - {status.path} ({kind}root versions {versions})"), session, opened=opened)

    def _show(self, reading: _Reading) -> None:
        """Redraw home from what ``_read`` found."""
        for shown, text in (("#title", reading.title), ("#session", reading.session)):
            widget = self.query_one(shown, Static)
            if widget.content != text:  # what compose drew for the first frame is not drawn again (compose)
                widget.update(text)
        self.loaded = False
        self.opened = False
        self.dct = False
        self.profile = ""
        self.info = None
        for table in self.query(GridTable):
            table.clear()
        self.query_one("#warnings", Static).update("")
        for section in self.query(".ws-only"):
            section.display = False
        self.query_one("#roles-title", Static).update("Roles")
        self.query_one("#keys-title", Static).update("Keys")
        self.query_one("#roles-note").display = False
        if self.workspace is None:
            self._actions()
            return
        if reading.dct is not None:
            self._reload_dct(reading.dct)
            return
        opened = reading.opened
        if opened is None:  # the directory cannot be opened: the core's error says why
            self._actions()
            if reading.error is not None:
                self.app.push_screen(ErrorDialog("Cannot open the workspace", reading.error))
            return
        self.opened = True
        self.info = opened.info
        status = opened.status
        if status is None:
            self._actions()
            return
        self.loaded = True
        self.profile = status.profile
        for section in self.query(".ws-only"):
            section.display = True
        role_rows = []
        for role in status.roles:
            days = "-" if role.days_left is None else f"{role.days_left:g}"
            role_rows.append(
                [
                    plain(role.role, limit=80),
                    plain(role.version if role.version is not None else "-"),
                    plain(f"{role.threshold} of {len(role.keyids)}"),
                    plain(days, urgency_colour(role.days_left) if role.days_left is not None else ""),
                    plain((role.expires or "-")[:10]),
                    plain((role.resign_by or "-")[:10]),
                ]
            )
        self.query_one("#roles", GridTable).show(
            ["role", "ver", "keys", "days", "expires", "re-sign by"], role_rows, fold=[0]
        )
        key_rows = [
            [
                plain(key.label, limit=80),
                plain(", ".join(key.roles) or "-", limit=200),
                plain(key.key_type, limit=40),
                plain(key.keyid[:8]),
                held(key),
            ]
            for key in status.keys
        ]
        self.query_one("#keys", GridTable).show(["label", "roles", "type", "key id", "held"], key_rows, fold=[0, 4])
        self.show_backups(status.backups)
        self.query_one("#warnings", Static).update(plain_lines(f"! {w}" for w in status.warnings))
        self._actions()

    def show_backups(self, backups: Any) -> None:
        """The backup ledger: each root version, with its tested paper backup or none (core/ledger.py)."""
        how = {"test-restore": "export + test restore", "drill": "drill"}
        lines: list[Text] = []
        if backups is not None and backups.problem:
            lines.append(plain(f"unknown: {backups.problem}", "yellow", limit=300))
        elif backups is not None:
            for entry in backups.versions:
                if entry.tested is None:
                    lines.append(plain(f"root v{entry.version}: NO tested paper backup", "bold yellow"))
                else:
                    tested = entry.tested
                    shown = f"root v{entry.version}: tested {tested.time[:10]} ({how.get(tested.how, tested.how)})"
                    lines.append(plain(shown, limit=200))
        self.query_one("#backups", Static).update(Text("\n").join(lines) if lines else "no root version yet")

    def _reload_dct(self, ws: Workspace) -> None:
        """Show a Docker Content Trust workspace: roles beside root certificates (ceremony/tui/dct.py)."""
        from ceremony.tui import dct as dct_tui  # DCT's stack loads for a DCT workspace only (dct_entry.py)

        try:
            dct_tui.show_home(self, ws, self.now or datetime.now(UTC), urgency_colour)
        except CeremonyError as err:
            for table in self.query(GridTable):
                table.clear()
            self.query_one("#title", Static).update(plain(f"ceremony - {self.workspace} cannot be opened"))
            self._actions()
            self.app.push_screen(ErrorDialog("Cannot open the workspace", err))
            return
        self.opened = self.dct = True
        for section in self.query(".ws-only"):
            section.display = True
        self._actions()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_run(str(event.option.id))

    def action_run(self, action: str) -> None:
        """Start the flow ``action`` (from the list or its key)."""
        app = cast(CeremonyApp, self.app)
        if action == "quit":
            app.exit()
        elif action == "open":
            app.push_screen(OpenDialog(), self._opened)
        elif action == "resume":
            app.resume()
        elif action == "discard":
            app.discard_change()
        elif action == "discard-draft":
            app.discard_draft()
        elif action == "new-root":
            app.new_root_flow(None)
        elif action == "trust-root" and self.profile != "sigstore":
            return  # its key too: a Sigstore trust root only on a Sigstore workspace
        elif action in ("rotate", "extend", "delegate", "targets", "trust-root") and self.loaded:
            app.change_flow(action)
        elif action in dct_entry.ACTION_IDS and self.dct:
            app.dct_flow(action)
        elif action == "sign":
            app.offline_sign_flow()
        elif (action in ("backup", "drill") and (self.loaded or self.dct)) or action == "restore":
            app.simple_flow(action)

    def _opened(self, path: str | None) -> None:
        """Show the directory chosen in Open, unless it cannot be read: then the workspace open before stays."""
        if not path:
            return
        previous = self.workspace
        self.workspace = Path(path)
        self.action_reload()
        if not self.opened:  # the error dialog says why; home goes back to what it showed
            self.workspace = previous
            self.action_reload()
            return
        self.app.workspace = self.workspace  # type: ignore[attr-defined]
        self.app.offer_resume()  # type: ignore[attr-defined]


class CeremonyApp(App[None]):
    """The ceremony terminal UI."""

    CSS_PATH = "ceremony.tcss"
    TITLE = "ceremony"

    def __init__(self, workspace: Path | None = None, now: datetime | None = None, plan: Path | None = None) -> None:
        super().__init__()
        self.workspace = workspace
        self.now = now
        self.plan_file = plan  # ``ceremony tui --plan``: the new root ceremony runs from this plan
        self.theme = "ansi-dark"
        self._gc_paused = False  # run() paused the garbage collector until the first frame

    def run(self, *args: Any, **kwargs: Any) -> None:
        """Run in the terminal, with the garbage collector paused until the first frame is on screen.

        Start-up makes a few hundred thousand objects (the modules and classes of Textual, TUF and the core)
        and next to no garbage, yet one full collection walking them all took some 40 ms (of about 450) just
        before the first frame. The collector runs again once that frame is drawn (``on_ready``), or when the
        app ends before it, as it was before (Textual pauses it the same way while scrolling,
        ``App.PAUSE_GC_ON_SCROLL``).
        """
        self._gc_paused = gc.isenabled()
        gc.disable()
        try:
            return super().run(*args, **kwargs)
        finally:
            self.first_frame_shown()

    def on_ready(self) -> None:
        """Textual writes no frame before it is ready: the next refresh is the first the terminal shows."""
        self.call_after_refresh(self.first_frame_shown)

    def first_frame_shown(self) -> None:
        """The first frame is drawn: the collector runs again, if ``run`` paused it."""
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    def _fatal_error(self) -> None:
        """A bug ends the app with a traceback, but never with local variables in it.

        Textual's own crash report shows every frame's locals; in this app a
        local may be a passphrase or PIN on its way to the core, and the report
        is printed to the terminal (and its scrollback).
        """
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    def clock(self) -> datetime:
        """The time for the core (fixed in tests, so screens are deterministic)."""
        return self.now or datetime.now(UTC)

    def on_mount(self) -> None:
        self.push_screen(HomeScreen(self.workspace, self.now))  # it offers to resume once it has read the workspace

    def push_screen_error(self, title: str, error: CeremonyError) -> None:
        """Show a core error; the screen below stays as it was."""
        self.push_screen(ErrorDialog(title, error))

    def home(self) -> HomeScreen | None:
        """The home screen (always at the bottom of the stack)."""
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                return screen
        return None

    def back_home(self, workspace: Path | None = None) -> None:
        """Return to home, on ``workspace`` if a flow made or chose one, and redraw it."""
        if workspace is not None:
            self.workspace = workspace
        home = self.home()
        if home is not None:
            home.workspace = self.workspace
            home.reload_when_shown()

    # ---- resume

    def offer_resume(self) -> None:
        """If home read a ceremony in progress (its files all checked), offer to resume it."""
        home = self.home()
        info = home.info if home is not None and home.opened else None
        if info is None:
            return  # nothing in progress, or home shows why the workspace cannot be opened

        def answer(yes: bool | None) -> None:
            if yes:
                self.resume()

        self.push_screen(ConfirmDialog(f"In progress: {info.describe()}.\nResume it now?", "Resume", "Later"), answer)

    def resume(self) -> None:
        """Continue the session in progress at its step."""
        try:
            info = guided.session_info(self.workspace) if self.workspace else None
        except CeremonyError as err:
            self.push_screen_error("Cannot resume the ceremony", err)
            return
        if info is None:
            return
        if info.flow == "new-root":
            self.new_root_flow(self.workspace)
        else:
            self.change_flow(None)

    def discard_change(self) -> None:
        """Give up a change in progress (nothing was published), after asking."""

        def answer(yes: bool | None) -> None:
            if yes and self.workspace is not None:
                from ceremony.core.workspace import Workspace  # see _load_workspace

                try:
                    guided.ChangeSession.open(Workspace.load(self.workspace)).discard(self.clock())
                except CeremonyError as err:
                    self.push_screen_error("Cannot discard the change", err)
                self.back_home()

        self.push_screen(
            ConfirmDialog(
                "Discard the change in progress? Nothing of it was published.", "Discard", "Keep", safe_default=True
            ),
            answer,
        )

    def discard_draft(self) -> None:
        """Delete the new root ceremony shown on home (never a published workspace), after asking."""
        path = self.workspace

        def answer(yes: bool | None) -> None:
            if not yes or path is None:
                return
            try:
                lines = guided.discard_draft(path)
            except CeremonyError as err:
                self.push_screen_error("Cannot discard the draft", err)
                return
            self.notify("\n".join(lines), title="Draft discarded", markup=False)
            self.workspace = None
            self.back_home()

        self.push_screen(
            ConfirmDialog(
                f"Delete the new root ceremony in {printable(path, 200)}?\nIts encrypted key files are deleted; no "
                "root was published from it. This cannot be undone.",
                "Delete the draft",
                "Keep it",
                safe_default=True,
            ),
            answer,
        )

    async def action_quit(self) -> None:
        """Quit from home at once; from inside a flow only after asking, and never while the core is writing."""
        busy = [w for w in self.workers if w.group == "core" and not w.is_finished]
        if busy:
            self.notify("Wait: the step on screen is still running; quit when it has finished.", markup=False)
            return
        if isinstance(self.screen, HomeScreen):
            self.exit()
            return
        if isinstance(self.screen, ConfirmDialog):
            return  # a question is on screen already (this one, or another to answer first)

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(
            ConfirmDialog(
                "Quit in the middle of this flow?\nEvery finished step is kept: open the workspace again to resume "
                "where it stopped. What is typed on this screen is lost.",
                "Quit",
                "Stay",
                safe_default=True,
            ),
            answer,
        )

    # ---- flows

    def _load_workspace(self) -> Workspace | None:
        """The open workspace, or None (a dialog says why)."""
        if self.workspace is None:
            return None
        from ceremony.core.workspace import Workspace  # not at the top: home without a workspace reads none

        try:
            return Workspace.load(self.workspace)
        except CeremonyError as err:
            self.push_screen_error("Cannot open the workspace", err)
            return None

    async def _step(self, screen: Screen[Any]) -> Any:
        return await self.push_screen_wait(screen)

    @work(exclusive=True, group="flow")
    async def new_root_flow(self, path: Path | None) -> None:
        """The new root ceremony from its first unfinished step to sign-off."""
        from ceremony.tui import newroot  # the flows' screens load when a flow starts, not before home's first frame
        from ceremony.tui.signing import ReviewSignScreen

        previous = self.workspace
        if path is None:
            default = "" if self.workspace is None or self.workspace.exists() else str(self.workspace)
            started = await self._step(newroot.StartScreen(self.clock, default, self.plan_file))
            if started == LEAVE:
                return
            if isinstance(started, dct_entry.DctStart):  # Docker Content Trust: one form, no session
                from ceremony.tui import dct as dct_tui  # see new_root_flow's first line

                self.back_home(await dct_tui.new_repository(self, started))
                return
            path = started.path
            self.workspace = path
        while True:
            try:
                ceremony = guided.NewRootCeremony.open(path)
            except CeremonyError as err:
                self.push_screen_error("Cannot resume the ceremony", err)
                break
            step = ceremony.step
            if step in ("review", "sign"):
                screen: Screen[Any] = ReviewSignScreen(
                    ceremony,
                    self.clock,
                    flow_title="New root ceremony",
                    steps=guided.NEW_ROOT_STEPS,
                    step=step,
                    finish_label="Continue to verification",
                    finish=self._finish_signing(ceremony),
                )
            else:
                screen = newroot.STEP_SCREENS[step](ceremony, self.clock)
            result = await self._step(screen)
            if result == LEAVE and previous is not None and previous != path:
                # Home goes back to the workspace it showed; the draft waits where it is.
                self.workspace = previous
                self.back_home()
                self.notify(
                    f"The new root ceremony in {printable(path, 200)} is kept: open it (o) to resume.",
                    markup=False,
                    timeout=8,
                )
                return
            if result == LEAVE or step == "signoff":
                break
        self.back_home(path)

    def _finish_signing(self, ceremony: guided.NewRootCeremony) -> Callable[[], None]:
        """What the review-and-sign screen's finish button does for this ceremony."""
        return lambda: ceremony.finish_signing(self.clock())

    @work(exclusive=True, group="flow")
    async def change_flow(self, kind: str | None) -> None:
        """Rotation, extension or delegation: choose, collect signatures, publish (kind None: resume)."""
        from ceremony.tui import flows  # see new_root_flow
        from ceremony.tui.signing import ReviewSignScreen

        ws = self._load_workspace()
        if ws is None:
            return
        if kind is not None:
            screens: dict[str, type[flows.ChangeScreen]] = {
                "rotate": flows.RotateScreen,
                "extend": flows.ExtendScreen,
                "delegate": flows.DelegateScreen,
                "targets": flows.TargetsScreen,
                "trust-root": flows.TrustRootScreen,
            }
            if await self._step(screens[kind](ws, self.clock)) == LEAVE:
                self.back_home()
                return
        try:
            change = guided.ChangeSession.open(ws)
        except CeremonyError as err:
            self.push_screen_error("Cannot resume the change", err)
            return
        title = change.title.capitalize()
        result = await self._step(
            ReviewSignScreen(
                change,
                self.clock,
                flow_title=title,
                steps=guided.CHANGE_STEPS,
                step="sign",
                finish_label="Publish",
                finish=lambda: change.publish(self.clock()),
                copies=True,
            )
        )
        if result != LEAVE:
            await self._step(flows.PublishedScreen(title, result))
            roots = [n for n, d in result.files.items() if d is not None and n.endswith(".root.json")]
            if roots:
                await self.backup_step(ws, roots)
        self.back_home()

    async def backup_step(self, ws: Workspace, written: list[str]) -> None:
        """Every flow that publishes a root ends here: its paper backup, tested (Escape: later; home warns)."""
        numbers = [Path(n).name.split(".", 1)[0] for n in written]
        version = max((int(n) for n in numbers if n.isdigit()), default=0)
        reason = f"Root version {version} was published: make its paper backup now." if version else ""
        from ceremony.tui import flows  # see new_root_flow

        await self._step(flows.BackupExportScreen(ws, self.clock, reason))

    @work(exclusive=True, group="flow")
    async def dct_flow(self, action: str) -> None:
        """A Docker Content Trust rotation or the pinning snippet, from home (ceremony/tui/dct.py)."""
        from ceremony.tui import dct as dct_tui  # see new_root_flow

        ws = self._load_workspace()
        if ws is not None:
            await dct_tui.run_action(self, action, ws)
        self.back_home()

    @work(exclusive=True, group="flow")
    async def offline_sign_flow(self) -> None:
        """Open a sign request, review it, sign it with my key, save it."""
        from ceremony.tui import flows  # see new_root_flow
        from ceremony.tui.signing import ReviewSignScreen

        subject = await self._step(flows.OpenRequestScreen())
        if subject == LEAVE:
            return
        await self._step(
            ReviewSignScreen(
                subject,
                self.clock,
                flow_title="Offline signing",
                steps=flows.OpenRequestScreen.STEPS,
                step="sign",
                finish_label="Done",
                finish=None,
                key_typed=True,
            )
        )
        self.back_home()

    @work(exclusive=True, group="flow")
    async def simple_flow(self, kind: str) -> None:
        """Backup export, restore, or a recovery drill."""
        from ceremony.tui import flows  # see new_root_flow

        if kind == "restore":
            await self._step(flows.RestoreScreen())
        else:
            ws = self._load_workspace()
            if ws is None:
                return
            screen = flows.BackupExportScreen(ws, self.clock) if kind == "backup" else flows.DrillScreen(ws, self.clock)
            await self._step(screen)
        self.back_home()


def make_app(workspace: Path | None = None, now: datetime | None = None, plan: Path | None = None) -> CeremonyApp:
    """The app for the CLI and the tests (``now`` fixed in tests for deterministic screens; ``plan``: the new root
    ceremony runs from this ceremony plan)."""
    return CeremonyApp(Path(workspace) if workspace else None, now, Path(plan) if plan else None)
