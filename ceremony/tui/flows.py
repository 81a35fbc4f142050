"""Screens that start the other flows from home: rotation, extension, delegation, offline signing, backup.

A change screen gathers the operator's choices and the secrets of the keys it
adds, then hands them to ``core.guided.ChangeSession.start``; the change is
kept as a sign request in the workspace and continues on the review-and-sign
screen. Backup, restore and drill screens call ``core.recovery`` directly.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DataTable, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from ceremony.core import changes, guided, hsm, keys, policy, recovery, roles, targets
from ceremony.core._json import read_bytes
from ceremony.core._text import plural
from ceremony.core.publish import PublishResult
from ceremony.core.status import workspace_status
from ceremony.core.workspace import Workspace
from ceremony.errors import CeremonyError, PassphraseError, UsageError
from ceremony.tui.picker import PathInput
from ceremony.tui.widgets import MarkList, StepScreen, Tick, held, password, plain, plain_lines

Clock = Callable[[], datetime]


class KeySource(Vertical):
    """Where a new key comes from: a software key made here, a new key on a token, or a public key file."""

    def __init__(self, role: str, id: str, optional: bool = False) -> None:
        super().__init__(id=id, classes="key-source")
        self.role = role
        self.optional = optional  # "no new key" is a choice (a rotation that only revokes)

    def _choices(self, tokens: list[hsm.TokenInfo]) -> list[tuple[str | Text, str]]:
        choices: list[tuple[str | Text, str]] = [(f"new {t} software key (passphrase)", t) for t in keys.KEY_TYPES]
        choices += [
            (plain(f"new key on token {t.label} #{t.serial} (PIN)", limit=120), f"token:{t.serial}") for t in tokens
        ]
        choices.append(("public key file of a key held elsewhere", "import"))
        if self.optional:
            choices.append(("no new key (only revoke)", "none"))
        return choices

    def compose(self) -> ComposeResult:
        yield Select(self._choices([]), value=keys.DEFAULT_KEY_TYPE, allow_blank=False, classes="source")
        yield PathInput(placeholder="public key file (PEM), when importing", classes="file", suffixes=(".pem",))
        yield password("new key's passphrase (twice) or the token's PIN", "new-secret")
        yield password("the same passphrase again (software keys)", "new-again")

    def add_tokens(self, tokens: list[hsm.TokenInfo]) -> None:
        """Offer a new key on each token present."""
        self.query_one(".source", Select).set_options(self._choices(tokens))
        self.query_one(".source", Select).value = keys.DEFAULT_KEY_TYPE

    def read(self) -> tuple[str, str, str] | None:
        """(source, public key file, secret), or None for "no new key"; the secret fields are cleared.

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
        return None if source == "none" else (source, file, secret)


def _tokens(ws: Workspace) -> list[hsm.TokenInfo]:
    try:
        tokens = hsm.list_tokens(ws.config.get("pkcs11_module"))
        return sorted((t for t in tokens if t.initialized), key=lambda t: t.label)
    except hsm.HsmError:
        return []


class ChangeScreen(StepScreen[Any]):
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


class RotateScreen(ChangeScreen):
    """Emergency rotation: mark the compromised keys of one role (space), then their replacement."""

    FLOW_TITLE = "Emergency rotation"

    def body(self) -> ComposeResult:
        yield Label("Compromised or lost keys: arrows move, space marks (one role per rotation)")
        yield MarkList(id="keys")
        yield Static("", id="picked", markup=False)
        yield Label("Replacement")
        yield KeySource("root", "replacement", optional=True)
        with Horizontal(classes="row"):
            yield Label("New threshold (empty: unchanged)")
            yield Input(placeholder="unchanged", id="threshold", type="integer")
        yield Tick("No spare root key: accept a threshold equal to the number of root keys", id="no-spare")
        yield Button("Prepare rotation", variant="primary", id="prepare", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        listing = self.query_one("#keys", MarkList)
        self.rows: list[tuple[str, str, str]] = []
        for record in self.ws.key_records():
            for role in record.roles:
                if role in roles.TOP_LEVEL and not record.revoked:
                    prompt = Text.assemble(
                        plain(f"{role:<9} ", limit=40),
                        plain(f"{record.label:<10} ", limit=40),
                        plain(f"{record.keyid[:8]} "),
                        held(record),
                    )
                    listing.add_option(Selection(prompt, len(self.rows)))
                    self.rows.append((role, record.keyid, record.label))
        listing.focus()
        self.run_core("Listing tokens", lambda: ("tokens", _tokens(self.ws)))

    def core_done(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "tokens":
            self.query_one(KeySource).add_tokens(result[1])
            return
        self.dismiss(result)

    def _marked(self) -> list[tuple[str, str, str]]:
        return [self.rows[i] for i in sorted(self.query_one("#keys", MarkList).selected)]

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[int]) -> None:
        marked = self._marked()
        text = "revoke: " + (", ".join(f"{label} ({role})" for role, _k, label in marked) or "none marked yet")
        self.query_one("#picked", Static).update(plain(text, limit=400))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        marked = self._marked()
        rows = {role for role, _k, _l in marked}
        if not marked or len(rows) != 1:
            problem = "mark the compromised keys with space" if not marked else "one role per rotation"
            self.show_error(self.FAILURE, UsageError(f"{problem}: marked {', '.join(sorted(rows)) or 'nothing'}"))
            return
        role = rows.pop()
        keyids = [keyid for _r, keyid, _l in marked]
        self.query_one(KeySource).role = role
        text = self.value("#threshold")
        if text and not text.isdigit():
            self.show_error(self.FAILURE, UsageError(f"new threshold {text!r}: a whole number, or empty for unchanged"))
            return
        threshold = int(text) if text else None
        no_spare = self.query_one("#no-spare", Checkbox).value

        def plan(ctx: Any, new: guided.NewKey | None) -> Any:
            return changes.plan_rotation(ctx, role, keyids, [new.spec] if new else [], threshold, no_spare)

        labels = ", ".join(label for _r, _k, label in marked)
        self.start_change("rotate", f"emergency rotation of {role}: revoke {labels}", plan, self.query_one(KeySource))


class ExtendScreen(ChangeScreen):
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
        if text and not text.isdigit():
            self.show_error(self.FAILURE, UsageError(f"days {text!r}: a whole number of days, or empty for the policy"))
            return
        days = int(text) if text else policy.policy_days(self.ws.config, role)
        self.start_change(
            "extend",
            f"extend {role} to {plural(days, 'day')} from now",
            lambda ctx, _new: changes.plan_extension(ctx, role, days),
            None,
        )


class DelegateScreen(ChangeScreen):
    """Delegate target paths (or every path, as hash bins) to a new role: a key made here, more held elsewhere."""

    FLOW_TITLE = "Delegate repository keys"

    def body(self) -> ComposeResult:
        yield Label("New role name")
        yield Input(placeholder="releases", id="name")
        yield Label("Target paths it may sign, comma-separated (TUF globs); empty with hash bins")
        yield Input(placeholder="releases/*", id="paths")
        with Horizontal(classes="row"):
            yield Label("Hash bins (0: none; else a power of two)")
            yield Input("0", id="bins", type="integer")
        yield Label("Delegating role")
        yield Input("targets", id="parent")
        yield Label("The role's first key")
        yield KeySource("delegated", "key")
        yield Label("More keys: public key files of keys held elsewhere (optional; ctrl+o picks several)")
        yield PathInput(id="more-keys", kind="files", suffixes=(".pem",))
        with Horizontal(classes="row"):
            yield Label("Threshold (signatures needed)")
            yield Input("1", id="threshold", type="integer")
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
        try:
            more = shlex.split(self.value("#more-keys"))
        except ValueError as err:
            self.show_error(self.FAILURE, UsageError(f"more keys: {err} (quote names with spaces in them)"))
            return
        threshold_text, bins_text = self.value("#threshold"), self.value("#bins")
        for label, text in (("threshold", threshold_text), ("hash bins", bins_text)):
            if text and not text.isdigit():
                self.show_error(self.FAILURE, UsageError(f"{label} {text!r}: a whole number"))
                return
        threshold = int(threshold_text) if threshold_text else 0
        bins = int(bins_text) if bins_text else 0
        self.query_one(KeySource).role = name or "delegated"

        def plan(ctx: Any, new: guided.NewKey | None) -> Any:
            specs = [new.spec] if new else []
            specs += [str(path) for path in recovery.expand_inputs(more, suffixes=None)] if more else []
            if bins:
                return changes.plan_succinct_delegation(
                    ctx, name, bins, specs, 0, keys.DEFAULT_KEY_TYPE, threshold, None, parent
                )
            return changes.plan_delegation(
                ctx, name, paths, specs, 0, keys.DEFAULT_KEY_TYPE, threshold, terminating, None, parent
            )

        what = f"{plural(bins, 'hash bin')}" if bins else (", ".join(paths) or "?")
        self.start_change("delegate", f"delegate {what} to {name or '?'}", plan, self.query_one(KeySource))


class TargetsScreen(ChangeScreen):
    """Target files: add files (each under its name, or a path prefix) or remove target paths, for one role."""

    FLOW_TITLE = "Target files"

    def body(self) -> ComposeResult:
        yield Label("Role that lists them (targets, a delegated role, or a role with hash bins)")
        yield Input("targets", id="role")
        yield Label("Files to add (ctrl+o picks several; folders and globs work)")
        yield PathInput(id="files", kind="files")
        yield Label("Target path prefix for the added files (empty: each file's own name)")
        yield Input(placeholder="releases/v1.2/", id="prefix")
        yield Label("Target paths to remove, comma-separated")
        yield Input(placeholder="releases/v1.0/app.tar.gz", id="remove")
        yield Button("Prepare the change", variant="primary", id="prepare", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        role = self.value("#role") or "targets"
        prefix = self.value("#prefix")
        remove = [p.strip() for p in self.value("#remove").split(",") if p.strip()]
        try:
            items = shlex.split(self.value("#files"))
        except ValueError as err:
            self.show_error(self.FAILURE, UsageError(f"files: {err} (quote names with spaces in them)"))
            return

        def plan(ctx: Any, _new: guided.NewKey | None) -> Any:
            add = targets.read_new_targets(recovery.expand_inputs(items, suffixes=None), prefix) if items else []
            return targets.plan_targets(ctx, role, add=add, remove=remove)

        what = ", ".join([*(f"add {i}" for i in items[:3]), *(f"remove {r}" for r in remove[:3])]) or "?"
        self.start_change("targets", f"target files of {role}: {what}", plan, None)


class TrustRootScreen(ChangeScreen):
    """A private Sigstore instance: publish a new trusted root (and signing config), checked as its clients will."""

    FLOW_TITLE = "Sigstore trust root"

    def body(self) -> ComposeResult:
        yield Static(
            "The files are checked as sigstore-python and sigstore-js read them; the review shows what changes in "
            "the trust root first.",
            markup=False,
        )
        yield Label(f"Trusted root ({sigstore_names()[0]})")
        yield PathInput(id="trusted-root", suffixes=(".json",))
        yield Label(f"Signing config ({sigstore_names()[1]}; empty: unchanged)")
        yield PathInput(id="signing-config", suffixes=(".json",))
        yield Label("Role that lists them")
        yield Input("targets", id="role")
        yield Button("Check and prepare", variant="primary", id="prepare", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        root_file, config_file = self.value("#trusted-root"), self.value("#signing-config")
        role = self.value("#role") or "targets"
        if not root_file:
            self.show_error(self.FAILURE, UsageError("choose the trusted root file (ctrl+o)"))
            return

        def plan(ctx: Any, _new: guided.NewKey | None) -> Any:
            from ceremony.core import sigstore

            root = read_bytes(Path(root_file), "trusted root", sigstore.MAX_TRUST_FILE_BYTES)
            config = (
                read_bytes(Path(config_file), "signing config", sigstore.MAX_TRUST_FILE_BYTES) if config_file else None
            )
            return sigstore.plan_set_trust(ctx, root, config, role)

        self.start_change("trust-root", f"new Sigstore trust root in {role}", plan, None)


def sigstore_names() -> tuple[str, str]:
    """The names Sigstore clients fetch the trust files under (read when the screen is drawn)."""
    from ceremony.core import sigstore

    return sigstore.TRUSTED_ROOT_NAME, sigstore.SIGNING_CONFIG_NAME


class OpenRequestScreen(StepScreen[Any]):
    """Offline signing: which request to open, and where to save the signed copy."""

    FLOW_TITLE = "Offline signing"
    STEPS = (("open", "Open the sign request"), ("sign", "Review and sign with my key"), ("saved", "Saved"))
    STEP = "open"
    FAILURE = "Cannot open the sign request"

    def body(self) -> ComposeResult:
        yield Label("Sign request file")
        yield PathInput(placeholder="request.json", id="request", suffixes=(".json",))
        yield Label("Save the signed request to (empty: in place)")
        yield PathInput(id="out", kind="new")
        yield Button("Open", variant="primary", id="open", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.open_request()

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

    def __init__(self, ws: Workspace, clock: Clock, reason: str = "") -> None:
        super().__init__(ws, clock)
        self.reason = reason

    def body(self) -> ComposeResult:
        if self.reason:
            yield Static(plain(self.reason, limit=400), classes="lead")
        yield Static(
            "Every root version from 1 to the newest is exported: a client restoring trust walks the whole chain. "
            "The sheets are then read back from the PDFs and compared byte for byte; only then does the backup "
            "ledger count them.",
            markup=False,
        )
        yield Label("Backup directory (new; removable media)")
        yield PathInput(
            str(self.ws.path.absolute().parent / f"{self.ws.path.name}-backup-{self.clock():%Y%m%d}"),
            id="out",
            kind="new",
        )
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
        sets = set(re.findall(r" as set ([0-9A-F]{8}) ", "\n".join(lines)))  # this export's, not older ones there
        pdfs = sorted(p.name for p in out.glob("*.pdf") if any(f"-{s}-" in p.name for s in sets))
        report = [*lines, "", "Print these sheets for the safe:", *[f"  {out / n}" for n in pdfs]]
        self.show_report(report, "export", "Back to home")


class RestoreScreen(StepScreen[Any]):
    """Restore metadata from scans, photos, PDFs or text fallbacks, in any order."""

    FLOW_TITLE = "Restore from backup"
    FAILURE = "Restore failed"

    def body(self) -> ComposeResult:
        yield Label("Inputs: scans, photos, PDFs or .txt fallbacks; files, folders or globs (scans/*.png), any order")
        yield PathInput(id="inputs", kind="files")
        yield Label("Restore into (new or empty directory)")
        yield PathInput(id="out", kind="new")
        yield Static("", id="report", markup=False)
        yield Button("Restore", variant="primary", id="restore", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "done":
            self.dismiss(True)
            return
        try:
            items = shlex.split(self.value("#inputs"))
        except ValueError as err:
            self.show_error(self.FAILURE, UsageError(f"inputs: {err} (quote names with spaces in them)"))
            return
        out = self.value("#out")
        if not items or not out:
            self.show_error(self.FAILURE, UsageError("name the inputs and the directory to restore into"))
            return

        def restore() -> Any:
            return recovery.restore_to(recovery.expand_inputs(items), Path(out))

        self.run_core("Reading QR codes and text (a page at a time)", restore)

    def core_done(self, result: Any) -> None:
        lines = [line for r in result.restored for line in recovery.describe_restored(r)]
        lines += [result.chain, *[f"warning: {w}" for w in result.warnings]]
        self.show_report(lines, "restore", "Back to home")


class DrillScreen(_WorkspaceScreen):
    """Recovery drill: restore every backup in a directory somewhere temporary, check it, write a report."""

    FLOW_TITLE = "Recovery drill"
    FAILURE = "Drill could not run"

    def body(self) -> ComposeResult:
        yield Label("Backup directory to drill")
        yield PathInput(id="backup", kind="dir")
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
        lines = [s.describe() for s in self.result.statuses]
        lines += [f"{'removed' if d is None else 'wrote'} {n}" for n, d in self.result.files.items()]
        lines += [f"warning: {w}" for w in self.result.warnings]
        lines += ["", f"Published. Transcript head: {self.result.transcript_head}"]
        yield Static(plain_lines(lines), id="report")
        yield Button("Back to home", variant="primary", id="done", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(True)
