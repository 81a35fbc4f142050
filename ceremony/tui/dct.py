"""Docker Content Trust in the terminal UI: a DCT workspace's home, a new repository, its rotations, pinning.

A thin client of ``core.dct`` and ``core.dct_changes``, as ``ceremony notary ...`` is. Those calls block,
and while they run they ask for what they need: each keyholder's passphrase or token PIN (``passphrase_for``,
``pin_for``) and, before anything is signed, the operator's confirmation of the diff and its words
(``review``). So each runs in its step screen's thread worker (``StepScreen.run_core``), and ``Asker``
answers every callback by pushing a dialog on the UI thread (``App.call_from_thread``) and waiting until it
is dismissed. Leaving a dialog (Escape) raises the core's own kind of error, so the core stops where it is.

Nothing here decides anything: every refusal is the core's, shown as its sentence over the form, which
stays as it was (the core writes only once everything is signed and verified). What is shown comes from
``core.dct.status`` (metadata and certificates verified first) or from the core's result.

This module loads when a DCT workspace is shown or a DCT flow starts: what home needs of DCT before that (its
actions, whether a directory is a DCT workspace) is in ``dct_entry.py``, so a TUF home never loads ``core.dct``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, LoadingIndicator, Select, Static
from textual.worker import get_current_worker

from ceremony.core import dct as dct_core
from ceremony.core import dct_changes, hsm, keys, ledger, verify_workspace_transcript
from ceremony.core._text import plural
from ceremony.core.workspace import KeyRecord, Workspace
from ceremony.errors import CeremonyError, UsageError
from ceremony.tui.dct_entry import DctStart
from ceremony.tui.picker import PathInput
from ceremony.tui.signing import word_rows
from ceremony.tui.widgets import ErrorDialog, GridTable, StepScreen, Tick, held, password, plain, plain_lines

if TYPE_CHECKING:
    from ceremony.tui.app import CeremonyApp

Clock = Callable[[], datetime]

#: What a change needs first: the server's state, fetched on the connected host (a change starts from it).
FETCH_FIRST = "On the connected host first: ceremony notary fetch --server URL --gun GUN --out FILE"
#: The most keys one form makes (a form limit, not a rule: the core decides what a threshold allows).
MAX_KEY_ROWS = 20


# ----------------------------------------------------------------------------------------------- home


def _days_left(when: datetime, now: datetime) -> float:
    return round((when - now).total_seconds() / 86400, 1)


def where(key: dct_core.RootKey) -> Text:
    """Where a root key's private part is, short: software, a token (label and serial), or elsewhere."""
    if key.uri is not None and key.uri.startswith("file:"):
        return Text("software")
    return held(KeyRecord(key.canonical_id, key.label, ("root",), dct_core.ROOT_KEY_TYPE, key.uri))


def show_home(home: Screen[Any], ws: Workspace, now: datetime, colour: Callable[[float | None], str]) -> None:
    """Fill home's title, tables and warnings for a DCT workspace: roles beside their root certificates.

    Raises:
        TranscriptError: a file differs from what the transcript recorded (as home checks a TUF workspace).
        VerificationError / InputFileError: the metadata does not verify; nothing is shown from it.
    """
    verify_workspace_transcript(ws)
    status = dct_core.status(ws, now)
    versions = ", ".join(map(str, status.root_versions))
    home.query_one("#title", Static).update(
        plain(f"ceremony - {status.path} (Docker Content Trust, root versions {versions})")
    )
    home.query_one("#roles-title", Static).update(plain(f"GUN {status.gun}", "bold", limit=300))
    notes = []
    role_rows = []
    for role in status.roles:
        days = "-" if role.days_left is None else f"{role.days_left:g}"
        holder, _space, note = role.held_by.partition(" ")  # "publisher (as last signed here)": a footnote
        if note:
            notes.append(f"* {role.role}: {role.held_by}")
        role_rows.append(
            [
                plain(role.role, limit=40),
                plain("-" if role.version is None else role.version),
                plain(f"{role.threshold} of {len(role.keyids)}"),
                plain((role.expires or "-")[:10]),
                plain(days, colour(role.days_left) if role.days_left is not None else ""),
                plain(holder + ("*" if note else ""), limit=40),
            ]
        )
    home.query_one("#roles", GridTable).show(["role", "ver", "keys", "expires", "days", "held by"], role_rows)
    home.query_one("#roles-note", Static).update(plain_lines(notes, limit=200))
    home.query_one("#roles-note").display = bool(notes)
    home.query_one("#keys-title", Static).update("Root keys and their certificates")
    key_rows = []
    for key in status.root_keys:  # two lines a key: 80 columns hold the actions beside the tables
        days_left = _days_left(key.not_after, now)
        key_rows.append(
            [
                Text.assemble(plain(key.label, limit=40), "\n", where(key)),
                plain(f"{key.not_after:%Y-%m-%d}"),
                plain(f"{days_left:g}", colour(days_left)),
                plain_lines([key.x509_id[:10], key.canonical_id[:10]]),
            ]
        )
    home.query_one("#keys", GridTable).show(["key / held", "cert until", "days", "cert id / canonical"], key_rows, [0])
    backups = ledger.backup_ledger(ws)
    home.show_backups(backups)  # type: ignore[attr-defined]
    warnings = [*status.warnings, *[w for w in backups.warnings(str(ws.path)) if w not in status.warnings]]
    home.query_one("#warnings", Static).update(plain_lines(f"! {w}" for w in warnings))


# ----------------------------------------------------------------------------------------------- the core's callbacks


class Asker:
    """The core's ``passphrase_for``, ``pin_for`` and ``review``, answered by dialogs from a worker thread.

    ``existing`` are the labels of keys the workspace holds now: their keyholders type their passphrase
    once, to unlock. Any other label is a key the core is making (or the publisher's key file), so its
    passphrase is asked twice and checked by the core's passphrase rule before the dialog closes.
    """

    def __init__(self, screen: StepScreen[Any], existing: Iterable[str] = ()) -> None:
        self.screen = screen
        self.app: App[Any] = screen.app
        self.existing = frozenset(existing)

    def _waiting(self, waiting: bool) -> None:
        """While a person types, the busy line stops spinning: the core waits for them, it is not working."""
        self.screen.query_one(LoadingIndicator).display = not waiting

    def _ask(self, make: Callable[[], Screen[Any]]) -> Any:
        """Push the screen ``make`` builds (on the UI thread) and wait until it is dismissed; its result."""
        answered = threading.Event()
        box: list[Any] = []

        def done(result: Any) -> None:
            self._waiting(False)
            box.append(result)
            answered.set()

        def show() -> None:
            self._waiting(True)
            self.app.push_screen(make(), done)  # built here, on the UI thread

        worker = get_current_worker()
        try:
            self.app.call_from_thread(show)
        except RuntimeError as err:  # the app stopped running meanwhile (call_from_thread says so this way)
            raise UsageError("the terminal UI closed; nothing was written") from err
        while not answered.wait(0.1):
            if worker.is_cancelled:  # the screen or the app went away: stop the core, which writes nothing
                raise UsageError("the ceremony was left; nothing was written")
        return box.pop()

    def passphrase_for(self, label: str) -> str:
        """A keyholder's passphrase for ``label`` (the publisher's for ``PUBLISHER_LABEL``), typed in a dialog.

        Raises:
            UsageError: the dialog was left.
        """
        new = label == dct_core.PUBLISHER_LABEL or label not in self.existing
        secret = self._ask(lambda: SecretDialog.for_passphrase(label, new))
        if secret is None:
            raise UsageError(f"no passphrase given for {label}; nothing was written")
        return str(secret)

    def pin_for(self, prompt: str) -> str:
        """A token's user PIN, typed in a dialog showing the core's prompt (token label, serial, PIN flags).

        Raises:
            UsageError: the dialog was left.
        """
        pin = self._ask(lambda: SecretDialog.for_pin(prompt))
        if pin is None:
            raise UsageError("no PIN given; nothing was written")
        return str(pin)

    def review(self, lines: list[str], digest_hex: str, words: str) -> None:
        """What will be signed, its digest and words; returns once the operator confirms.

        Raises:
            UsageError: not confirmed (nothing is signed).
        """
        if not self._ask(lambda: ReviewScreen(lines, digest_hex, words)):
            raise UsageError("not confirmed; nothing was signed or written")


class SecretDialog(ModalScreen[str | None]):
    """One keyholder types their passphrase (twice for a new key) or their token's PIN; nothing is echoed."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, lead: str, placeholder: str, twice: bool, what: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.lead = lead
        self.placeholder = placeholder
        self.twice = twice
        self.what = what  # a new passphrase: what it protects, for the core's passphrase rule

    @classmethod
    def for_passphrase(cls, label: str, new: bool) -> SecretDialog:
        """The dialog for the key ``label``: to unlock a key held here, or to protect a new one."""
        if label == dct_core.PUBLISHER_LABEL:
            return cls(
                "The publisher types now",
                "Choose the passphrase of your targets key file and type it twice; docker trust key load "
                "asks for it. The file is encrypted under it and not kept here. Everyone else looks away.",
                "publisher's passphrase",
                twice=True,
                what="the targets key file",
            )
        if new:
            return cls(
                f"{label}: its keyholder types now",
                f"Keyholder of the new key {label}: choose a passphrase only you know (at least "
                f"{keys.MIN_PASSPHRASE_LENGTH} characters) and type it twice. The key file is encrypted under "
                "it. Everyone else looks away.",
                f"passphrase for {label}",
                twice=True,
                what=f"key {label}",
            )
        return cls(
            f"{label}: its keyholder types now",
            f"Keyholder of {label}: type your passphrase to unlock your key. Everyone else looks away.",
            f"passphrase for {label}",
            twice=False,
        )

    @classmethod
    def for_pin(cls, prompt: str) -> SecretDialog:
        """The dialog for a token's user PIN; ``prompt`` is the core's (token label, serial, PIN flags)."""
        return cls("Token PIN", f"{prompt}\nKeyholder: insert your token and type its user PIN.", "user PIN", False)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.title_text, "bold", limit=200), id="secret-title")
            yield Static(plain_lines(self.lead.split("\n"), limit=600), id="secret-lead")
            yield password(self.placeholder, "secret")
            if self.twice:
                yield password("the same again", "again")
            yield Static("", id="problem")
            yield Static("Enter: continue   Escape: cancel (nothing is written)", id="secret-keys")

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.compact = True
        self.query_one("#secret", Input).focus()

    def _take(self, selector: str) -> str:
        field = self.query_one(selector, Input)
        value, field.value = field.value, ""
        return value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "secret" and self.twice:
            self.query_one("#again", Input).focus()
            return
        secret = self._take("#secret")
        problem = None
        if self.twice and secret != self._take("#again"):
            problem = "the two passphrases differ; type them again"
        elif self.what is not None:
            try:
                keys.check_passphrase(secret, self.what)  # the core's rule, before anyone else types
            except CeremonyError as err:
                problem = str(err)
        if problem is not None:
            self.query_one("#problem", Static).update(plain(problem))
            self.query_one("#secret", Input).focus()
            return
        self.dismiss(secret)

    def action_cancel(self) -> None:
        for field in self.query(Input):
            field.value = ""
        self.dismiss(None)


class ReviewScreen(Screen[bool]):
    """What the core is about to sign, its SHA-256 and the words to read aloud; Sign or Cancel."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel (nothing signed)")]

    def __init__(self, lines: list[str], digest_hex: str, words: str) -> None:
        super().__init__()
        self.lines = lines
        self.digest_hex = digest_hex
        self.words = words

    def compose(self) -> ComposeResult:
        yield Static("Review before signing: what will be signed (arrows, PgUp/PgDn scroll)", id="flow-title")
        with VerticalScroll(id="changes-scroll"):
            yield Static(plain_lines(self.lines), id="changes")
        yield Label("[b]Words to read aloud[/b] (SHA-256 of the signed part, BIP-39)")
        yield Static("For a root signed alone, the same words are printed on its paper backup sheet.", markup=False)
        yield Static(word_rows(self.words), id="words", markup=False)
        yield Static(plain(f"hex: {self.digest_hex}"), id="digest")
        yield Tick("The keyholders compared these words with the ones read aloud", id="compared", compact=True)
        with Horizontal(classes="buttons"):
            yield Button("Sign", variant="primary", id="sign", compact=True)
            yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#changes-scroll").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(False)
        elif not self.query_one("#compared", Checkbox).value:
            self.app.push_screen(
                ErrorDialog(
                    "Not signed",
                    UsageError(
                        "the words have not been compared", hint="read them aloud; tick the box when they match"
                    ),
                )
            )
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


# ----------------------------------------------------------------------------------------------- forms


def _tokens(module: str | None) -> list[hsm.TokenInfo]:
    """Initialised tokens present (none when the module cannot be loaded: software keys only)."""
    try:
        return sorted((t for t in hsm.list_tokens(module) if t.initialized), key=lambda t: t.label)
    except hsm.HsmError:
        return []


def _number(text: str) -> int:
    """An integer field's value; 0 when it is not a number (the core then refuses it in its own words)."""
    try:
        return int(text)
    except ValueError:
        return 0


def _optional(text: str) -> int | None:
    """An optional integer field: None when empty (the core's default)."""
    return _number(text) if text else None


def _field(label: str, widget: Any) -> Horizontal:
    """One form line: its label, then its field."""
    return Horizontal(Label(label), widget, classes="field")


class KeyChoices(Vertical):
    """How many new root keys, and for each one where it is made: in software here, or on a token."""

    def __init__(self, label: str, count: int, name_of: Callable[[int], str], id: str) -> None:
        super().__init__(id=id, classes="key-choices")
        self.label = label
        self.count = count
        self.name_of = name_of
        self.options: list[tuple[str | Text, str]] = [("software key (passphrase)", dct_core.ROOT_KEY_TYPE)]

    def compose(self) -> ComposeResult:
        yield _field(self.label, Input(str(self.count), type="integer", id="count", compact=True))
        yield Vertical(id="choices")
        yield Static("", id="too-many")

    def on_mount(self) -> None:
        self._rows()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "count":
            self._rows()

    def _wanted(self) -> int:
        return max(0, _number(self.query_one("#count", Input).value.strip()))

    def _rows(self) -> None:
        """One drop-down per key; rows already there keep their choice."""
        wanted = self._wanted()
        shown = min(wanted, MAX_KEY_ROWS)
        choices = self.query_one("#choices", Vertical)
        rows = list(choices.children)
        for row in rows[shown:]:
            row.remove()
        for index in range(len(rows) + 1, shown + 1):
            select = Select(self.options, value=dct_core.ROOT_KEY_TYPE, allow_blank=False, compact=True)
            choices.mount(_field(f"  {self.name_of(index)}", select))
        too_many = self.query_one("#too-many", Static)
        too_many.update(f"This form makes at most {MAX_KEY_ROWS} keys at once.")
        too_many.display = wanted > MAX_KEY_ROWS

    def set_tokens(self, tokens: list[hsm.TokenInfo]) -> None:
        """Offer a new key on each token present, beside software keys."""
        self.options = [("software key (passphrase)", dct_core.ROOT_KEY_TYPE)]
        self.options += [
            (plain(f"new key on token {t.label} #{t.serial} (PIN)", limit=120), token_spec(t.serial)) for t in tokens
        ]
        for select in self.query(Select):
            kept = select.value
            select.set_options(self.options)
            select.value = kept if any(value == kept for _text, value in self.options) else dct_core.ROOT_KEY_TYPE

    def specs(self) -> list[str]:
        """The KEYSPEC of each key, as the core reads them (``ecdsa-p256`` or ``token:SERIAL``).

        Raises:
            UsageError: more keys than this form makes.
        """
        if self._wanted() > MAX_KEY_ROWS:
            raise UsageError(f"this form makes at most {MAX_KEY_ROWS} keys at once")
        return [str(select.value) for select in self.query_one("#choices").query(Select)]


def token_spec(serial: str) -> str:
    """The KEYSPEC of a new key on the token with ``serial``."""
    return f"token:{serial}"


class _DctScreen(StepScreen[Any]):
    """A DCT form: Enter moves to the next field; its button, or Ctrl+R from any field, hands it to the core
    (each callback answered by a dialog); the core's last refusal stays on the form."""

    BINDINGS: ClassVar = [
        Binding("escape", "leave", "Home (nothing written)"),
        Binding("ctrl+r", "submit", "Review and sign"),
    ]
    SUBMITS = True  # False: the screen has no change to hand to the core (its Ctrl+R is not shown)

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.SUBMITS if action == "submit" else True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.submit()

    def action_submit(self) -> None:
        if not self.busy:
            self.submit()

    def submit(self) -> None:
        """Read the form and run the core's change."""

    def core_failed(self, error: CeremonyError) -> None:
        self.query_one("#last-error", Static).update(plain(f"Refused: {error}"))

    def last_error(self) -> Static:
        """Where the core's last refusal stays once its dialog is closed."""
        return Static("", id="last-error")

    def required(self, fields: dict[str, str]) -> bool:
        """True when every field named is filled in; else say which are not."""
        missing = [name for name, selector in fields.items() if not self.value(selector)]
        if missing:
            self.show_error(self.FAILURE, UsageError(f"fill in: {', '.join(missing)}"))
        return not missing

    def key_specs(self, fields: dict[str, str]) -> list[str] | None:
        """The form's new root keys (KEYSPECs), once every field named is filled in; else None (a dialog says why)."""
        if not self.required(fields):
            return None
        try:
            return self.query_one(KeyChoices).specs()
        except UsageError as err:
            self.show_error(self.FAILURE, err)
            return None

    def core_done(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "tokens":
            self.query_one(KeyChoices).set_tokens(result[1])
            return
        self.dismiss(result)


class _WorkspaceScreen(_DctScreen):
    """A DCT screen over the open workspace, as ``core.dct.status`` verified it just before."""

    def __init__(self, ws: Workspace, status: dct_core.DctStatus, clock: Clock) -> None:
        super().__init__(clock)
        self.ws = ws
        self.status = status


class NewRepositoryScreen(_DctScreen):
    """A new DCT repository: its GUN, the server's keys, the root keys and their certificates."""

    FLOW_TITLE = "New Docker Content Trust repository"
    FAILURE = "The repository was not created"

    def __init__(self, start: DctStart, clock: Clock) -> None:
        super().__init__(clock)
        self.start = start

    def body(self) -> ComposeResult:
        path = self.start.path
        yield Static(
            plain_lines(
                [
                    f"Workspace: {path}",
                    "Root keys m-of-n, a certificate each (CN = the GUN); a targets key for the publisher; "
                    "snapshot and timestamp stay the server's.",
                ]
            ),
            classes="lead",
        )
        with Vertical(id="form"):
            yield _field("GUN", Input(placeholder="registry.example.com/org/app", id="gun"))
            yield _field("Fetched bundle (server keys)", PathInput(placeholder="fetched.bundle", id="fetched"))
            yield _field(
                "Publish bundle to write", PathInput(str(_beside(path, "root-v1.bundle")), id="bundle-out", kind="new")
            )
            yield _field(
                "Targets key file to write", PathInput(str(_beside(path, "targets.key")), id="key-out", kind="new")
            )
            yield KeyChoices("Root keys", 3, lambda i: f"root-{i}", "root-keys")
            yield _field("Threshold (signatures needed)", Input("2", type="integer", id="threshold"))
            yield _field(
                "Root expires after (days)", Input(str(dct_core.DEFAULT_DAYS["root"]), type="integer", id="root-days")
            )
            yield _field(
                "Targets expires after (days)",
                Input(str(dct_core.DEFAULT_DAYS["targets"]), type="integer", id="targets-days"),
            )
            yield _field(
                "Certificates valid (days)", Input(placeholder="the root's expiry", type="integer", id="cert-days")
            )
            yield _field(
                "Offline CA (certificates)",
                Select([("no CA: self-signed certificates", "")], value="", allow_blank=False, id="ca"),
            )
            yield Tick("Allow a threshold of every root key (no spare key)", id="no-spare")
        yield Button("Review and sign", variant="primary", id="create", compact=True)
        yield self.last_error()

    def on_mount(self) -> None:
        super().on_mount()
        self.run_core("Listing tokens", lambda: ("tokens", _tokens(self.start.module)))

    def core_done(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "tokens":
            ca: list[tuple[str | Text, str]] = [
                ("no CA: self-signed certificates", ""),
                ("new software CA key (passphrase)", dct_core.ROOT_KEY_TYPE),
            ]
            ca += [
                (plain(f"new CA key on token {t.label} #{t.serial}", limit=120), token_spec(t.serial))
                for t in result[1]
            ]
            self.query_one("#ca", Select).set_options(ca)
            self.query_one("#ca", Select).value = ""
        super().core_done(result)

    def submit(self) -> None:
        fields = {"GUN": "#gun", "fetched bundle": "#fetched", "publish bundle": "#bundle-out"}
        specs = self.key_specs({**fields, "targets key file": "#key-out"})
        if specs is None:
            return
        ca = str(self.query_one("#ca", Select).value)
        options = dct_core.DctInitOptions(
            gun=self.value("#gun"),
            server_keys=Path(self.value("#fetched")),
            bundle_out=Path(self.value("#bundle-out")),
            targets_key_out=Path(self.value("#key-out")),
            root_key_specs=tuple(specs),
            threshold=_number(self.value("#threshold")),
            root_days=_number(self.value("#root-days")),
            targets_days=_number(self.value("#targets-days")),
            certificate_days=_optional(self.value("#cert-days")),
            no_spare_root_key=self.query_one("#no-spare", Checkbox).value,
            ca_key_spec=ca or None,
        )
        asker, path, module, now = Asker(self), self.start.path, self.start.module, self.clock()
        self.run_core(
            "Making the keys and certificates; each keyholder is asked in turn",
            lambda: dct_core.init_dct(path, options, asker.passphrase_for, asker.pin_for, module, now, asker.review),
        )


def _beside(path: Path, suffix: str) -> Path:
    """A file next to the workspace ``path``, named after it (a default the operator may change)."""
    return path.absolute().parent / f"{path.name}-{suffix}"


def _live_labels(ws: Workspace) -> set[str]:
    """Labels of the keys the workspace holds now: their keyholders unlock, not choose, a passphrase."""
    return {r.label for r in ws.key_records() if not r.revoked}


class RootRotationScreen(_WorkspaceScreen):
    """Root v+1: tick keys to revoke, add new ones, change the threshold, renew certificates."""

    FLOW_TITLE = "Root rotation (Docker Content Trust)"
    FAILURE = "The root was not rotated"

    def body(self) -> ComposeResult:
        root = next(r for r in self.status.roles if r.role == "root")
        version = root.version or max(self.status.root_versions)
        yield Static(
            plain_lines(
                [
                    f"{self.status.gun}: root version {version}, {root.threshold} of {plural(len(root.keyids), 'key')}.",
                    FETCH_FIRST,
                ],
                limit=400,
            ),
            classes="lead",
        )
        with Vertical(id="form"):
            yield _field("Bundle fetched just now", PathInput(placeholder="fetched.bundle", id="fetched"))
            yield Label("Revoke (Space ticks):")
            for index, key in enumerate(self.status.root_keys):
                yield Tick(
                    plain(f"{key.label}  certificate until {key.not_after:%Y-%m-%d}  {where(key)}", limit=200),
                    id=f"revoke-{index}",
                )
            yield KeyChoices("New root keys to add", 0, lambda i: f"new key {i}", "add-keys")
            yield _field(
                "Threshold", Input(placeholder=f"unchanged ({root.threshold})", type="integer", id="threshold")
            )
            yield Tick("Renew the certificates of every kept key", id="renew")
            yield _field("Certificates valid (days)", Input(placeholder="default", type="integer", id="cert-days"))
            yield _field("Root expires after (days)", Input(placeholder="policy", type="integer", id="root-days"))
            yield Tick("Allow a threshold of every root key (no spare key)", id="no-spare")
            yield _field(
                "Publish bundle to write",
                PathInput(str(_beside(self.ws.path, f"root-v{version + 1}.bundle")), id="bundle-out", kind="new"),
            )
        yield Button("Review and sign", variant="primary", id="rotate", compact=True)
        yield self.last_error()

    def on_mount(self) -> None:
        super().on_mount()
        self.run_core("Listing tokens", lambda: ("tokens", _tokens(self.ws.config.get("pkcs11_module"))))

    def submit(self) -> None:
        specs = self.key_specs({"fetched bundle": "#fetched", "publish bundle": "#bundle-out"})
        if specs is None:
            return
        rotation = dct_changes.RootRotation(
            add=tuple(specs),
            revoke=tuple(
                key.label
                for index, key in enumerate(self.status.root_keys)
                if self.query_one(f"#revoke-{index}", Checkbox).value
            ),
            threshold=_optional(self.value("#threshold")),
            renew_certificates=self.query_one("#renew", Checkbox).value,
            certificate_days=_optional(self.value("#cert-days")),
            root_days=_optional(self.value("#root-days")),
            no_spare_root_key=self.query_one("#no-spare", Checkbox).value,
        )
        asker, path, now = Asker(self, _live_labels(self.ws)), self.ws.path, self.clock()
        fetched, out = Path(self.value("#fetched")), Path(self.value("#bundle-out"))
        self.run_core(
            "Rotating the root; each keyholder is asked in turn",
            lambda: dct_changes.rotate_root(
                path,
                rotation,
                out,
                asker.passphrase_for,
                asker.pin_for,
                now,
                asker.review,
                fetched_path=fetched,
            ),
        )


class TargetsKeyScreen(_WorkspaceScreen):
    """After a targets key compromise: a new targets key, root and the served targets re-signed together."""

    FLOW_TITLE = "Replace the targets key (Docker Content Trust)"
    FAILURE = "The targets key was not replaced"

    def body(self) -> ComposeResult:
        version = max(self.status.root_versions) + 1
        yield Static(
            plain_lines(
                [
                    f"{self.status.gun}: a new targets key for the publisher; root v{version} names it and the "
                    "targets the server serves now are re-signed by it. Both leave in one bundle.",
                    FETCH_FIRST,
                ],
                limit=600,
            ),
            classes="lead",
        )
        with Vertical(id="form"):
            yield _field("Bundle fetched just now", PathInput(placeholder="fetched.bundle", id="fetched"))
            yield _field(
                "Publish bundle to write",
                PathInput(str(_beside(self.ws.path, f"targets-v{version}.bundle")), id="bundle-out", kind="new"),
            )
            yield _field(
                "Publisher's new key file",
                PathInput(str(_beside(self.ws.path, f"targets-v{version}.key")), id="key-out", kind="new"),
            )
            yield Tick("Start targets afresh: no tags, no signers (the old key could have written any)", id="empty")
        yield Button("Review and sign", variant="primary", id="rotate", compact=True)
        yield self.last_error()

    def submit(self) -> None:
        if not self.required({"fetched bundle": "#fetched", "publish bundle": "#bundle-out", "key file": "#key-out"}):
            return
        fetched, out, key_out = (Path(self.value(s)) for s in ("#fetched", "#bundle-out", "#key-out"))
        asker, path, now = Asker(self, _live_labels(self.ws)), self.ws.path, self.clock()
        empty = self.query_one("#empty", Checkbox).value
        self.run_core(
            "Replacing the targets key; each keyholder is asked in turn",
            lambda: dct_changes.rotate_targets_key(
                path,
                fetched,
                out,
                key_out,
                asker.passphrase_for,
                asker.pin_for,
                now,
                asker.review,
                empty_targets=empty,
            ),
        )


class PinScreen(_WorkspaceScreen):
    """The ``trust_pinning`` section for notary client configs, and the workspace CA's certificate."""

    FLOW_TITLE = "Client trust pinning (Docker Content Trust)"
    FAILURE = "Cannot pin"
    BINDINGS: ClassVar = [Binding("escape", "leave", "Home")]
    SUBMITS = False
    snippet: dict[str, Any] | None = None  # until the core has read it

    def body(self) -> ComposeResult:
        yield Static("Reading the newest root...", id="snippet", markup=False)
        yield Static(
            "Merge this into the notary client config (-c FILE). docker trust has no pinning: it trusts the first "
            "root it sees and follows rotations.",
            classes="lead",
        )
        with Vertical(id="form"):
            yield _field(
                "Write the CA certificate to",
                PathInput(placeholder="ca.crt (workspaces with a CA)", id="ca-out", kind="new"),
            )
        with Horizontal(classes="buttons"):
            yield Button("Write CA certificate", id="write-ca", compact=True)
            yield Button("Back to home", variant="primary", id="done", compact=True)
        yield self.last_error()

    def on_mount(self) -> None:
        super().on_mount()
        ws = self.ws
        self.run_core("Verifying the workspace", lambda: ("pin", dct_core.pin_snippet(ws)))

    def core_done(self, result: Any) -> None:
        kind, value = result
        if kind == "pin":
            self.snippet = value
        else:  # as ceremony notary pin --ca-out: the CA alone (notary checks certs for a GUN before ca)
            self.snippet = {"trust_pinning": {"ca": {dct_core.gun_of(self.ws): value}}}
            self.query_one("#last-error", Static).update(plain(f"Wrote the CA certificate to {value}"))
        self.query_one("#snippet", Static).update(plain_lines(json.dumps(self.snippet, indent=2).split("\n")))
        self.call_after_refresh(self.query_one("#done", Button).focus)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "done":
            self.dismiss(True)
            return
        if self.snippet is None or not self.required({"CA certificate file": "#ca-out"}):
            return
        ws, out = self.ws, Path(self.value("#ca-out"))

        def write() -> tuple[str, str]:
            dct_core.write_ca_certificate(ws, out)
            return "ca", str(out.absolute())

        self.run_core("Writing the CA certificate", write)


def result_lines(result: dct_core.DctResult) -> list[str]:
    """What a DCT ceremony wrote and what comes next, for the operator and the witness."""
    lines = [f"{result.gun}: root version {result.root_version}, verified as the stock notary client does"]
    for key in result.root_keys:
        lines.append(
            f"  {key.label}: certificate {key.x509_id[:16]} until {key.not_after:%Y-%m-%d}, "
            f"canonical id {key.canonical_id[:16]}"
        )
    lines += [f"  ok  {c.file} {c.role} v{c.version} {c.signatures}" for c in result.report.checks]
    if result.targets_key_file is not None:
        lines.append(
            f"Targets key {(result.targets_key or '')[:16]} written to {result.targets_key_file} for the publisher "
            "(encrypted under their passphrase; not kept here)"
        )
    if result.uploads:
        lines.append(f"Publish bundle: {result.bundle} ({', '.join(result.uploads)})")
        lines.append(f"On the connected host: ceremony notary publish {result.bundle} --server URL [--ca FILE]")
    lines += [f"Next: {note}" for note in result.notes]
    return [*lines, "", f"Transcript head: {result.transcript_head}", "Witness: write down its first 16 digits."]


class ResultScreen(StepScreen[Any]):
    """What a DCT ceremony wrote; Enter goes home."""

    BINDINGS: ClassVar = [Binding("escape", "leave", "Home")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.FLOW_TITLE = title
        self.lines = lines

    def body(self) -> ComposeResult:
        yield Static(plain_lines(self.lines), id="report")
        yield Button("Back to home", variant="primary", id="done", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self.query_one("#done", Button).focus)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(True)


# ----------------------------------------------------------------------------------------------- flows


async def new_repository(app: CeremonyApp, start: DctStart) -> Path | None:
    """From the start screen's choice to the result: the new workspace's path, or None if none was made."""
    result = await app.push_screen_wait(NewRepositoryScreen(start, app.clock))
    if not isinstance(result, dct_core.DctResult):
        return None
    lines = [f"Created {result.path}", *result_lines(result)]
    lines.insert(
        -3,
        "After publishing, the publisher runs: docker trust key load KEYFILE --name targets; "
        "docker trust signer add --key SIGNER.pub SIGNER GUN",
    )
    await app.push_screen_wait(ResultScreen("New Docker Content Trust repository", lines))
    await app.backup_step(dct_core.load(result.path), ["1.root.json"])
    return result.path


SCREENS: dict[str, type[RootRotationScreen | TargetsKeyScreen | PinScreen]] = {
    "dct-root": RootRotationScreen,
    "dct-targets": TargetsKeyScreen,
    "dct-pin": PinScreen,
}


async def run_action(app: CeremonyApp, action: str, ws: Workspace) -> None:
    """Home's DCT action ``action`` on ``ws``: its form, then what it wrote."""
    try:
        status = dct_core.status(ws, app.clock())  # the form shows only what verifies
    except CeremonyError as err:
        app.push_screen_error("Cannot open the workspace", err)
        return
    screen = SCREENS[action](ws, status, app.clock)
    result = await app.push_screen_wait(screen)
    if isinstance(result, dct_core.DctResult):
        title = {"dct-root": "Root rotated", "dct-targets": "Targets key replaced"}[action]
        await app.push_screen_wait(ResultScreen(title, result_lines(result)))
        roots = [n for n in result.files if n.endswith(".root.json")]
        if roots:
            await app.backup_step(ws, roots)
