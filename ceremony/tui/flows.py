"""Screens that start the other flows from home: rotation, extension, delegation, offline signing, backup.

A change screen gathers the operator's choices and the secrets of the keys it
adds, then hands them to ``core.guided.ChangeSession.start``; the change is
kept as a sign request in the workspace and continues on the review-and-sign
screen. Backup, restore and drill screens call ``core.recovery`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Select, Static

from ceremony.core import changes, guided, hsm, keys, policy, recovery, roles
from ceremony.core.publish import PublishResult
from ceremony.core.status import workspace_status
from ceremony.core.workspace import Workspace
from ceremony.errors import CeremonyError, PassphraseError, UsageError
from ceremony.tui.widgets import StepScreen, Tick, held, password, plain, plain_lines

Clock = Callable[[], datetime]


class KeySource(Vertical):
    """Where a new key comes from: a software key made here, a new key on a token, or a public key file."""

    def __init__(self, role: str, id: str) -> None:
        super().__init__(id=id, classes="key-source")
        self.role = role

    def compose(self) -> ComposeResult:
        choices = [(f"new {t} software key (passphrase)", t) for t in keys.KEY_TYPES]
        choices.append(("public key file of a key held elsewhere", "import"))
        yield Select(choices, value=keys.DEFAULT_KEY_TYPE, allow_blank=False, classes="source")
        yield Input(placeholder="public key file (PEM), when importing", classes="file")
        yield password("new key's passphrase (twice) or the token's PIN", "new-secret")
        yield password("the same passphrase again (software keys)", "new-again")

    def add_tokens(self, tokens: list[hsm.TokenInfo]) -> None:
        """Offer a new key on each token present."""
        choices: list[tuple[str | Text, str]] = [(f"new {t} software key (passphrase)", t) for t in keys.KEY_TYPES]
        choices += [
            (plain(f"new key on token {t.label} #{t.serial} (PIN)", limit=120), f"token:{t.serial}") for t in tokens
        ]
        choices.append(("public key file of a key held elsewhere", "import"))
        self.query_one(".source", Select).set_options(choices)
        self.query_one(".source", Select).value = keys.DEFAULT_KEY_TYPE

    def read(self) -> tuple[str, str, str]:
        """(source, public key file, secret); the secret fields are cleared.

        Raises:
            PassphraseError: the two passphrases of a new software key differ.
        """
        source = str(self.query_one(".source", Select).value)
        file = self.query_one(".file", Input).value.strip()
        first, again = self.query_one("#new-secret", Input), self.query_one("#new-again", Input)
        secret, repeated = first.value, again.value
        first.value = again.value = ""
        if source in keys.KEY_TYPES and secret != repeated:
            raise PassphraseError("the two passphrases of the new key differ; type them again")
        return source, file, secret


def _tokens(ws: Workspace) -> list[hsm.TokenInfo]:
    try:
        tokens = hsm.list_tokens(ws.config.get("pkcs11_module"))
        return sorted((t for t in tokens if t.initialized), key=lambda t: t.label)
    except hsm.HsmError:
        return []


class _ChangeScreen(StepScreen[Any]):
    STEPS = guided.CHANGE_STEPS
    STEP = "choose"
    FAILURE = "The change was not prepared"

    def __init__(self, ws: Workspace, clock: Clock) -> None:
        super().__init__()
        self.ws = ws
        self.clock = clock

    def start_change(
        self, flow: str, title: str, plan: Callable[[Any, guided.NewKey | None], Any], source: KeySource | None
    ) -> None:
        """Read the key choice, then make the key (if a token) and the request in the worker."""
        try:
            choice = source.read() if source is not None else None
        except PassphraseError as err:
            self.show_error(self.FAILURE, err)
            return
        ws, now = self.ws, self.clock()

        def call() -> guided.ChangeSession:
            new = None
            if choice is not None:
                src, file, secret = choice
                new = guided.new_key(ws, src, secret, source.role if source else "", now, file)
            return guided.ChangeSession.start(
                ws,
                flow,
                title,
                lambda ctx: plan(ctx, new),
                new.passphrase_for if new else (lambda _l: ""),
                new.pin_for if new else None,
                now,
            )

        self.run_core("Preparing the change (a new key is made and signs first)", call)


class RotateScreen(_ChangeScreen):
    """Emergency rotation: pick the compromised key and its replacement."""

    FLOW_TITLE = "Emergency rotation"

    def body(self) -> ComposeResult:
        yield Label("Compromised or lost key (arrows: pick its row); it is revoked from that role")
        yield DataTable(id="keys", cursor_type="row")
        yield Static("", id="picked", markup=False)
        yield Label("Replacement")
        yield KeySource("root", "replacement")
        with Horizontal(classes="row"):
            yield Label("New threshold (empty: unchanged)")
            yield Input(placeholder="unchanged", id="threshold", type="integer")
        yield Button("Prepare rotation", variant="primary", id="prepare", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#keys", DataTable)
        table.add_columns("role", "label", "key id", "held")
        self.rows: list[tuple[str, str]] = []
        for record in self.ws.key_records():
            for role in record.roles:
                if role in roles.TOP_LEVEL and not record.revoked:
                    table.add_row(
                        plain(role, limit=40), plain(record.label, limit=40), plain(record.keyid[:12]), held(record)
                    )
                    self.rows.append((role, record.keyid))
        table.focus()
        self.run_core("Listing tokens", lambda: ("tokens", _tokens(self.ws)))

    def core_done(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "tokens":
            self.query_one(KeySource).add_tokens(result[1])
            return
        self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        table = self.query_one("#keys", DataTable)
        if not self.rows:
            return
        role, keyid = self.rows[table.cursor_row]
        self.query_one(KeySource).role = role
        text = self.value("#threshold")
        threshold = int(text) if text.isdigit() else None

        def plan(ctx: Any, new: guided.NewKey | None) -> Any:
            return changes.plan_rotation(ctx, role, [keyid], [new.spec] if new else [], threshold)

        self.start_change("rotate", f"emergency rotation of {role} key {keyid[:12]}", plan, self.query_one(KeySource))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.rows and event.cursor_row < len(self.rows):
            role, keyid = self.rows[event.cursor_row]
            self.query_one("#picked", Static).update(plain(f"revoke from {role}: {keyid[:16]}", limit=120))


class ExtendScreen(_ChangeScreen):
    """Re-sign a role with a new expiry."""

    FLOW_TITLE = "Extend expiry"

    def body(self) -> ComposeResult:
        yield Label("Role to extend (arrows: pick its row)")
        yield DataTable(id="roles", cursor_type="row")
        with Horizontal(classes="row"):
            yield Label("New expiry, days from now (empty: the role's policy)")
            yield Input(placeholder="policy", id="days", type="integer")
        yield Button("Prepare extension", variant="primary", id="prepare", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#roles", DataTable)
        table.add_columns("role", "version", "expires", "policy days")
        self.roles: list[str] = []
        try:
            status = workspace_status(self.ws, self.clock())
        except CeremonyError as err:
            self.show_error(self.FAILURE, err)  # the table stays empty; Escape goes home
            return
        self.roles = [r.role for r in status.roles]
        for r in status.roles:
            policy = (self.ws.config.get("roles", {}).get(r.role) or {}).get("expiry_days", "-")
            table.add_row(
                plain(r.role, limit=40),
                plain(r.version or "-"),
                plain((r.expires or "-")[:10]),
                plain(policy, limit=20),
            )
        table.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if not self.roles:
            return
        role = self.roles[self.query_one("#roles", DataTable).cursor_row]
        text = self.value("#days")
        days = int(text) if text.isdigit() else policy.policy_days(self.ws.config, role)
        self.start_change(
            "extend", f"extend {role} by {days} days", lambda ctx, _new: changes.plan_extension(ctx, role, days), None
        )


class DelegateScreen(_ChangeScreen):
    """Delegate target paths to a new role with its own key."""

    FLOW_TITLE = "Delegate repository keys"

    def body(self) -> ComposeResult:
        yield Label("New role name")
        yield Input(placeholder="releases", id="name")
        yield Label("Target paths it may sign, comma-separated (TUF globs)")
        yield Input(placeholder="releases/*", id="paths")
        yield Label("Delegating role")
        yield Input("targets", id="parent")
        yield Label("The role's key")
        yield KeySource("delegated", "key")
        yield Tick("Terminating (clients stop searching other roles for these paths)", id="terminating")
        yield Button("Prepare delegation", variant="primary", id="prepare", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_core("Listing tokens", lambda: ("tokens", _tokens(self.ws)))

    def core_done(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "tokens":
            self.query_one(KeySource).add_tokens(result[1])
            return
        self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        name, parent = self.value("#name"), self.value("#parent") or "targets"
        paths = [p.strip() for p in self.value("#paths").split(",") if p.strip()]
        terminating = self.query_one("#terminating", Checkbox).value
        self.query_one(KeySource).role = name or "delegated"

        def plan(ctx: Any, new: guided.NewKey | None) -> Any:
            specs = [new.spec] if new else []
            return changes.plan_delegation(
                ctx, name, paths, specs, 0, keys.DEFAULT_KEY_TYPE, 1, terminating, None, parent
            )

        self.start_change(
            "delegate", f"delegate {', '.join(paths) or '?'} to {name or '?'}", plan, self.query_one(KeySource)
        )


class OpenRequestScreen(StepScreen[Any]):
    """Offline signing: which request to open, and where to save the signed copy."""

    FLOW_TITLE = "Offline signing"
    STEPS = (("open", "Open the sign request"), ("sign", "Review and sign with my key"), ("saved", "Saved"))
    STEP = "open"
    FAILURE = "Cannot open the sign request"

    def body(self) -> ComposeResult:
        yield Label("Sign request file")
        yield Input(placeholder="request.json", id="request")
        yield Label("Save the signed request to (empty: in place)")
        yield Input(id="out")
        yield Button("Open", variant="primary", id="open", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.open_request()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "out":
            self.open_request()
        else:
            self.focus_next()  # Enter in the first field must not skip "save to"

    def open_request(self) -> None:
        path, out = self.value("#request"), self.value("#out")
        if not path:
            self.show_error(self.FAILURE, UsageError("type the path of the sign request"))
            return

        def call() -> guided.OfflineSigning:
            subject = guided.OfflineSigning(Path(path), Path(out) if out else None)
            subject.request()  # checked now: a tampered request never reaches the review
            return subject

        self.run_core("Checking the request's digest and signatures", call)


class _WorkspaceScreen(StepScreen[Any]):
    """A one-screen flow over the open workspace that ends with a report."""

    def __init__(self, ws: Workspace, clock: Clock) -> None:
        super().__init__()
        self.ws = ws
        self.clock = clock

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "done":
            self.dismiss(True)
        else:
            self.act()

    def act(self) -> None:
        """The screen's one action."""


class BackupExportScreen(_WorkspaceScreen):
    """Export every root version for cold backup and prove the printable sheets restore."""

    FLOW_TITLE = "Backup export"
    FAILURE = "Backup failed"

    def body(self) -> ComposeResult:
        yield Label("Backup directory (new; removable media)")
        yield Input(str(self.ws.path.absolute().parent / f"{self.ws.path.name}-backup-{self.clock():%Y%m%d}"), id="out")
        yield Static("", id="report", markup=False)
        yield Button("Export and test restore", variant="primary", id="export", compact=True)

    def act(self) -> None:
        out = Path(self.value("#out"))
        self.run_core(
            "Rendering QR codes and sheets, then restoring them",
            lambda: (out, guided.backup_with_test_restore(self.ws, out, self.clock())),
        )

    def core_done(self, result: Any) -> None:
        out, lines = result
        pdfs = sorted(p.name for p in out.glob("*.pdf"))
        report = [*lines, "", "Print these sheets for the safe:", *[f"  {out / n}" for n in pdfs]]
        self.show_report(report, "export", "Back to home")


class RestoreScreen(StepScreen[Any]):
    """Restore metadata from scans, photos, PDFs or text fallbacks, in any order."""

    FLOW_TITLE = "Restore from backup"
    FAILURE = "Restore failed"

    def body(self) -> ComposeResult:
        yield Label("Inputs: scans, photos, PDFs or .txt fallbacks, separated by spaces")
        yield Input(id="inputs")
        yield Label("Restore into (new or empty directory)")
        yield Input(id="out")
        yield Static("", id="report", markup=False)
        yield Button("Restore", variant="primary", id="restore", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "done":
            self.dismiss(True)
            return
        inputs = [Path(item) for item in self.value("#inputs").split()]
        out = self.value("#out")
        if not inputs or not out:
            self.show_error(self.FAILURE, UsageError("name the inputs and the directory to restore into"))
            return
        self.run_core("Reading QR codes and text", lambda: recovery.restore_to(inputs, Path(out)))

    def core_done(self, result: Any) -> None:
        lines = [f"restored {r.name} (set {r.set_id}) sha256 {r.sha256[:16]}..." for r in result.restored]
        lines += [result.chain, *[f"warning: {w}" for w in result.warnings]]
        self.show_report(lines, "restore", "Back to home")


class DrillScreen(_WorkspaceScreen):
    """Recovery drill: restore every backup in a directory somewhere temporary, check it, write a report."""

    FLOW_TITLE = "Recovery drill"
    FAILURE = "Drill could not run"

    def body(self) -> ComposeResult:
        yield Label("Backup directory to drill")
        yield Input(id="backup")
        yield Static("", id="report", markup=False)
        yield Button("Run the drill", variant="primary", id="drill", compact=True)

    def act(self) -> None:
        backup = Path(self.value("#backup"))
        self.run_core("Restoring and checking every backup", lambda: recovery.drill(self.ws, backup, self.clock()))

    def core_done(self, result: Any) -> None:
        lines = [f"{'pass' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in result.checks]
        lines.append(f"drill {'PASSED' if result.passed else 'FAILED'}; report {result.report_file}")
        self.show_report(lines, "drill", "Back to home")


class PublishedScreen(StepScreen[Any]):
    """What a change published."""

    STEPS = guided.CHANGE_STEPS
    STEP = "publish"

    def __init__(self, title: str, result: PublishResult) -> None:
        super().__init__()
        self.FLOW_TITLE = title
        self.result = result

    def body(self) -> ComposeResult:
        lines = [f"{s.role}: {s.describe()}" for s in self.result.statuses]
        lines += [f"{'removed' if d is None else 'wrote'} {n}" for n, d in self.result.files.items()]
        lines += [f"warning: {w}" for w in self.result.warnings]
        lines += ["", f"Published. Transcript head: {self.result.transcript_head}"]
        yield Static(plain_lines(lines), id="report")
        yield Button("Back to home", variant="primary", id="done", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(True)
