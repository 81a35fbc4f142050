"""The new root ceremony, one screen per step of ``core.guided.NewRootCeremony``.

Each screen shows the step indicator, checks nothing itself (the core does),
and dismisses once the core has recorded the step; the app's flow runner then
opens the screen for the step the session says comes next. Quitting at any
point loses nothing: the session file and the transcript hold every finished
step, and reopening the directory offers to resume.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ceremony.core import guided, hsm, keys
from ceremony.core._text import printable
from ceremony.core.diff import digest_words
from ceremony.core.workspace import NOTARY_PROFILE
from ceremony.errors import CeremonyError, PassphraseError, UsageError
from ceremony.tui.dct_entry import DctStart
from ceremony.tui.picker import PathInput
from ceremony.tui.widgets import StepScreen, Tick, password, plain, plain_lines

Clock = Callable[[], datetime]

#: The start screen's first choice: what kind of repository the workspace roots.
PROFILES: list[tuple[str, str]] = [
    ("TUF repository: the guided ceremony, preflight to sign-off", "tuf"),
    ("Docker Content Trust (Notary v1): the root of one GUN", NOTARY_PROFILE),
]


class _RootStep(StepScreen[Any]):
    FLOW_TITLE = "New root ceremony"
    STEPS = guided.NEW_ROOT_STEPS

    def __init__(self, ceremony: guided.NewRootCeremony, clock: Clock) -> None:
        super().__init__()
        self.ceremony = ceremony
        self.clock = clock


class StartScreen(StepScreen[Any]):
    """Which kind of repository, where its workspace will live, and which PKCS#11 module to use.

    A TUF repository goes on through the guided ceremony below; a Docker Content Trust one is a form of its
    own (ceremony/tui/dct.py), so the screen returns a ``DctStart`` for it and starts nothing here.
    """

    FLOW_TITLE = "New root ceremony"
    FAILURE = "Cannot start the ceremony here"

    def __init__(self, clock: Clock, default_path: str = "", plan_file: Path | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.default_path = default_path
        self.plan_file = plan_file

    def body(self) -> ComposeResult:
        yield Static("[b]New root ceremony[/b]: a new repository and its root keys.", classes="lead")
        default = self.default_path
        if self.plan_file is not None:
            yield Static(
                plain(
                    f"From the ceremony plan {self.plan_file}: its participants, keys, threshold and expiry are "
                    "filled in on each step, and each step is recorded against the plan.",
                    limit=600,
                ),
                id="plan",
            )
            if not default:
                with contextlib.suppress(CeremonyError):  # a bad plan is refused, in one line, by Start
                    default = str(Path.cwd() / guided.plan_of(self.plan_file).workspace)
        yield Label("Kind of repository")
        yield Select(PROFILES, value="tuf", allow_blank=False, id="profile", disabled=self.plan_file is not None)
        yield Label("Directory for the new workspace (new or empty)")
        yield PathInput(default, placeholder="/media/ceremony/repo", id="path", kind="new")
        yield Label("PKCS#11 module (empty: $PYKCS11LIB, else SoftHSM2)")
        yield PathInput(placeholder=hsm.DEFAULT_MODULE, id="module", suffixes=(".so",))
        yield Button("Start", variant="primary", id="start", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.start()

    def start(self) -> None:
        path, module = self.value("#path"), self.value("#module") or None
        if not path:
            self.show_error("Cannot start the ceremony here", UsageError("type the directory for the new workspace"))
            return
        if self.query_one("#profile", Select).value != "tuf":
            self.dismiss(DctStart(Path(path), module))
            return
        plan_file = self.plan_file

        def start() -> guided.NewRootCeremony:
            run = guided.plan_run_for(plan_file, Path(path), module) if plan_file is not None else None
            return guided.NewRootCeremony.start(Path(path), self.clock(), module, run)

        self.run_core("Creating the draft directory", start)


class PreflightScreen(_RootStep):
    """Network, clock, swap and tokens, checked before any key exists."""

    STEP = "preflight"
    FAILURE = "Preflight not recorded"

    def body(self) -> ComposeResult:
        yield Static("Checking the machine...", id="checks", markup=False)
        yield Static("", id="clock", markup=False)
        yield Tick("Administrator: this clock matches a trusted clock", id="clock-ok")
        yield Static("", id="exception-help")
        for name in guided.PREFLIGHT_CHECKS:
            yield Input(placeholder=f"{name}: why the ceremony goes on anyway (witness writes)", id=f"exception-{name}")
        yield Button("Record preflight and continue", variant="primary", id="record", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.checks: list[guided.Check] = []
        self._show_clock()
        self.set_interval(1, self._show_clock)
        for name in guided.PREFLIGHT_CHECKS:
            self.query_one(f"#exception-{name}").display = False
        plan = self.ceremony.plan
        path, module = self.ceremony.path, self.ceremony.module
        tokens = plan.expected_tokens() if plan is not None else None
        # As `ceremony preflight` checks, but the clock: the administrator compares it, ticking, with a trusted one.
        self.run_core(
            "Checking network, swap, tokens, disk and the install",
            lambda: guided.preflight_checks(module, expected_tokens=tokens, workspace_dir=path, full=True, clock=False),
        )

    def _show_clock(self) -> None:
        """The clock in UTC, ticking, for the administrator to compare with a trusted clock."""
        self.query_one("#clock", Static).update(f"Clock (UTC): {self.clock().strftime('%Y-%m-%d %H:%M:%S')} UTC")

    def core_done(self, result: Any) -> None:
        if isinstance(result, list):
            self.checks = result
            text = plain_lines(c.line() for c in result)
            self.query_one("#checks", Static).update(text)
            failed = [c.name for c in result if not c.passed]
            for name in failed:
                self.query_one(f"#exception-{name}").display = True
            if failed:
                self.query_one("#exception-help", Static).update(
                    "A failed check stops the ceremony unless the witness records an exception below."
                )
            return
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        exceptions = {c.name: self.value(f"#exception-{c.name}") for c in self.checks if not c.passed}
        confirmed = self.query_one("#clock-ok", Checkbox).value
        self.run_core(
            "Recording the preflight",
            lambda: self.ceremony.record_preflight(self.checks, confirmed, exceptions, self.clock()),
        )


class ParticipantsScreen(_RootStep):
    """Who is present, in which role; keyholders each hold one root key."""

    STEP = "participants"
    FAILURE = "Participants not recorded"

    def body(self) -> ComposeResult:
        yield Static("Each root key gets its own keyholder. Names are recorded in the transcript.", classes="lead")
        plan = self.ceremony.plan
        roles = ("administrator", "witness", "keyholder", "auditor")
        named = {role: [p.name for p in plan.people(role)] for role in roles} if plan else {}
        if plan is not None:
            yield Static(plain(f"As the plan names them ({plan.name}): check each person against it.", limit=400))
        yield Label("Ceremony administrator (drives this tool)")
        yield Input(", ".join(named.get("administrator", [])), id="administrator")
        yield Label("Witness (checks each step; not the administrator)")
        yield Input(", ".join(named.get("witness", [])), id="witness")
        yield Label("Keyholders, comma-separated (one root key each)")
        yield Input(", ".join(named.get("keyholder", [])), placeholder="Alice, Bob, Carol", id="keyholders")
        yield Label("Auditor (optional)")
        yield Input(", ".join(named.get("auditor", [])), id="auditor")
        yield Button("Record participants", variant="primary", id="record", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.record()

    def record(self) -> None:
        people = [guided.Participant(self.value("#administrator"), "administrator")]
        people.append(guided.Participant(self.value("#witness"), "witness"))
        people += [
            guided.Participant(n.strip(), "keyholder") for n in self.value("#keyholders").split(",") if n.strip()
        ]
        if self.value("#auditor"):
            people.append(guided.Participant(self.value("#auditor"), "auditor"))
        self.run_core("Recording participants", lambda: self.ceremony.set_participants(people, self.clock()))


class PlanScreen(_RootStep):
    """Per root key: its keyholder, software (passphrase) or a token picked by label and serial."""

    STEP = "plan"
    FAILURE = "Plan not accepted"

    def body(self) -> ComposeResult:
        self.holders = self.ceremony.participants("keyholder")
        plan = self.ceremony.plan
        #: holder -> (store, key type, token serial) as the plan gives their root key
        self.planned = {}
        if plan is not None:
            for key in plan.root_keys():
                person = plan.holder_of(key)
                if person is not None:
                    self.planned[person.name] = (key.store, key.key_type, key.token_serial)
            yield Static(plain(f"As the plan gives them ({plan.name}).", limit=400))
        yield Static("Listing tokens...", id="tokens", markup=False)
        for index, holder in enumerate(self.holders, start=1):
            yield Label(plain(f"root-{index}: held by {holder}", limit=320))
            key_type = self.planned.get(holder, ("", keys.DEFAULT_KEY_TYPE, None))[1]
            with Horizontal(classes="row"):
                yield Select(
                    [("software key (passphrase)", "software")],
                    value="software",
                    allow_blank=False,
                    id=f"backend-{index}",
                )
                yield Select(
                    [(t, t) for t in keys.KEY_TYPES],
                    value=key_type if key_type in keys.KEY_TYPES else keys.DEFAULT_KEY_TYPE,
                    allow_blank=False,
                    id=f"type-{index}",
                )
        with Horizontal(classes="row"):
            yield Label("Threshold (signatures needed)")
            default = max(1, min(len(self.holders) - 1, (len(self.holders) // 2) + 1))
            if plan is not None:
                default = plan.thresholds.get("root", default)
            yield Input(str(default), id="threshold", type="integer")
        with Horizontal(classes="row"):
            yield Label("Root expires after (days)")
            yield Input(str(plan.expiry_days.get("root", 365)) if plan else "365", id="days", type="integer")
        yield Tick(
            "No spare root key: accept a threshold equal to the number of keys (losing one locks)", id="no-spare"
        )
        yield Button("Accept plan", variant="primary", id="accept", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.tokens: list[hsm.TokenInfo] = []
        self.run_core("Listing tokens", self._list_tokens)

    def _list_tokens(self) -> list[hsm.TokenInfo]:
        try:
            return sorted((t for t in hsm.list_tokens(self.ceremony.module) if t.initialized), key=lambda t: t.label)
        except hsm.HsmError:
            return []

    def core_done(self, result: Any) -> None:
        if isinstance(result, list):
            self.tokens = result
            self.query_one("#tokens", Static).update(
                plain("Tokens present: " + "; ".join(t.describe() for t in result), limit=4000)
                if result
                else "No token present: software keys only."
            )
            options: list[tuple[str | Text, str]] = [("software key (passphrase)", "software")]
            options += [(plain(f"token {t.label} #{t.serial}", limit=120), f"token:{t.serial}") for t in result]
            present = {t.serial for t in result}
            for index, holder in enumerate(self.holders, start=1):
                select = self.query_one(f"#backend-{index}", Select)
                select.set_options(options)
                store, _type, serial = self.planned.get(holder, ("software", "", None))
                if store == "token" and serial in present:
                    select.value = f"token:{serial}"  # the plan's token; a missing one stays for the operator to see
            return
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        plans = []
        by_serial = {t.serial: t for t in self.tokens}
        for index, holder in enumerate(self.holders, start=1):
            backend = str(self.query_one(f"#backend-{index}", Select).value)
            key_type = str(self.query_one(f"#type-{index}", Select).value)
            if backend.startswith("token:"):
                token = by_serial[backend.removeprefix("token:")]
                plans.append(guided.KeyPlan(holder, "token", key_type, token.label, token.serial))
            else:
                plans.append(guided.KeyPlan(holder, "software", key_type))
        try:
            threshold, days = int(self.value("#threshold") or 0), int(self.value("#days") or 0)
        except ValueError:
            threshold, days = 0, 0
        no_spare = self.query_one("#no-spare", Checkbox).value
        self.run_core(
            "Checking the plan", lambda: self.ceremony.set_plan(plans, threshold, days, self.clock(), no_spare)
        )


class KeygenScreen(_RootStep):
    """One root key, generated while its keyholder types their own passphrase or PIN."""

    STEP = "keygen"
    FAILURE = "Key not generated"
    entry: guided.PlannedKey | None = None  # the key this screen generates (None: every key is made)

    def body(self) -> ComposeResult:
        entry = self.entry = self.ceremony.next_key_to_generate()
        done = [k.label for k in self.ceremony.root_keys() if k.generated]
        yield Static(plain(f"Generated so far: {', '.join(done) or 'none'}"), id="done")
        if entry is None:  # the session moves on to the online keys once the last one is made
            yield Static(plain("Every planned root key is generated."), id="who")
            return
        # Names and token labels come from the session file: plain text, bold by style, never markup.
        label, holder = printable(entry.label, 80), printable(entry.holder, 300)
        if entry.backend == "token":
            token = f"'{printable(entry.token_label, 64)}' serial {printable(entry.token_serial, 64)}"
            yield Static(
                Text.assemble(
                    (label, "bold"),
                    f": {printable(entry.key_type, 40)} key on token {token}, held by ",
                    (holder, "bold"),
                    f".\n{holder}: insert your token and type its user PIN. "
                    "The key is made on the token and never leaves it.",
                ),
                id="who",
            )
            yield password("token user PIN", "secret")
        else:
            yield Static(
                Text.assemble(
                    (label, "bold"),
                    f": {printable(entry.key_type, 40)} software key held by ",
                    (holder, "bold"),
                    f".\n{holder}: type a passphrase only you know (at least {keys.MIN_PASSPHRASE_LENGTH} "
                    "characters), twice. The key file is encrypted under it.",
                ),
                id="who",
            )
            yield password("passphrase", "secret")
            yield password("the same passphrase again", "again")
        yield Button("Generate key", variant="primary", id="generate", compact=True)
        yield Static("", id="report", markup=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "continue":
            self.dismiss(True)
        else:
            self.generate()

    def core_done(self, result: Any) -> None:
        """The keyholder and the witness read what the key generation proved before the next keyholder's turn."""
        for field in self.query(Input):
            field.display = False
        following = self.ceremony.next_key_to_generate()
        after = f"next: {following.label}, held by {following.holder}" if following else "next: the online keys"
        lines = [*self.ceremony.keygen_report, "", f"Generated and checked. Witness: compare the key id. ({after})"]
        self.show_report(
            [printable(line, 400) for line in lines],
            "generate",
            "Next keyholder" if following else "Continue to the online keys",
            "continue",
        )

    def generate(self) -> None:
        entry = self.entry
        if entry is None:
            return
        secret = self.take_secret("#secret")
        if entry.backend != "token":
            again = self.take_secret("#again")
            if secret != again:
                self.show_error(self.FAILURE, PassphraseError("the two passphrases differ; type them again"))
                self.query_one("#secret").focus()
                return
        label = entry.label
        what = "Generating the key on the token" if entry.backend == "token" else "Generating and encrypting the key"
        self.run_core(what, lambda: self.ceremony.generate_root_key(label, secret, self.clock()))

    def core_failed(self, error: CeremonyError) -> None:
        self.query_one("#secret").focus()


class OnlineKeysScreen(_RootStep):
    """Keys of targets, snapshot and timestamp: generated here, or public keys of an online service."""

    STEP = "online"
    FAILURE = "Online keys not set"
    CHOICES: ClassVar = [(f"generate {t} here", t) for t in keys.KEY_TYPES] + [("import a public key file", "import")]

    def body(self) -> ComposeResult:
        yield Static(
            "Keys generated here are encrypted under the passphrase below; they sign version 1 of their files at "
            "verification. Imported public keys belong to the online service, which signs its own files.",
            classes="lead",
        )
        plan = self.ceremony.plan
        planned = {role: k for k in (plan.keys if plan else ()) for role in k.roles if role != "root"}
        plan_dir = self.app.plan_file.parent if getattr(self.app, "plan_file", None) else Path()  # type: ignore[attr-defined]
        for role in guided.ONLINE_ROLES:
            yield Label(role)
            key = planned.get(role)
            source = keys.DEFAULT_KEY_TYPE if key is None else "import" if key.store == "elsewhere" else key.key_type
            path = str(plan_dir / str(key.public_key)) if key is not None and key.store == "elsewhere" else ""
            with Horizontal(classes="row"):
                yield Select(self.CHOICES, value=source, allow_blank=False, id=f"source-{role}")
                yield PathInput(
                    path, placeholder="public key file (PEM), when importing", id=f"file-{role}", suffixes=(".pem",)
                )
        yield password("passphrase for the online keys generated here", "secret")
        yield password("the same passphrase again", "again")
        yield Button("Set online keys", variant="primary", id="set", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        specs = {}
        for role in guided.ONLINE_ROLES:
            source = str(self.query_one(f"#source-{role}", Select).value)
            specs[role] = self.value(f"#file-{role}") if source == "import" else source
        secret, again = self.take_secret("#secret"), self.take_secret("#again")
        if secret != again:
            self.show_error(self.FAILURE, PassphraseError("the two passphrases differ; type them again"))
            return
        self.run_core(
            "Generating online keys and signing version 1",
            lambda: self.ceremony.set_online_keys(specs, lambda _label: secret, self.clock()),
        )


class VerifyScreen(_RootStep):
    """Version 1 of the online files signed now, the whole repository verified as a client would; then written."""

    STEP = "verify"
    FAILURE = "The repository does not verify"

    def body(self) -> ComposeResult:
        if self.ceremony.needs_online_secret:
            yield Static(
                "The online keys made in this ceremony sign version 1 of their files now, so the timestamp is "
                "fresh however long the ceremony paused. Type their passphrase.",
                classes="lead",
            )
            yield password("passphrase of the online keys", "secret")
        yield Button("Sign, verify and write the workspace", variant="primary", id="verify", compact=True)
        yield Static("", id="report", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        if not self.ceremony.needs_online_secret:
            self.verify()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "continue":
            self.dismiss(True)
        else:
            self.verify()

    def verify(self) -> None:
        secret = self.take_secret("#secret") if self.ceremony.needs_online_secret else ""
        self.run_core(
            "Signing, verifying every file and writing the workspace",
            lambda: self.ceremony.complete(self.clock(), secret),
        )

    def core_done(self, result: Any) -> None:
        _ws, summary = result
        report = [*summary, "", f"Workspace written: {self.ceremony.path}. Clients trust metadata/1.root.json."]
        self.show_report(report, "verify", "Continue to backup", "continue")


class BackupScreen(_RootStep):
    """Export the root for cold backup, then restore it from the printable PDFs and compare."""

    STEP = "backup"
    FAILURE = "Backup failed"

    def body(self) -> ComposeResult:
        default = str(self.ceremony.path.absolute().parent / f"{self.ceremony.path.name}-backup")
        yield Label("Backup directory (removable media)")
        yield PathInput(default, id="out", kind="new")
        yield Static("", id="report", markup=False)
        yield Button("Export and test restore", variant="primary", id="export", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "continue":
            self.dismiss(True)
            return
        out = Path(self.value("#out"))
        self.run_core(
            "Rendering QR codes and sheets, then restoring them", lambda: self.ceremony.backup(out, self.clock())
        )

    def core_done(self, result: Any) -> None:
        self.query_one("#report", Static).update(
            plain_lines([*result, "", "Print the PDFs (A4 or Letter) for the safe."])
        )
        self.query_one("#export", Button).remove()
        button = Button("Continue to sign-off", variant="primary", id="continue", compact=True)
        self.query_one("#body").mount(button)
        button.focus()


class SignoffScreen(_RootStep):
    """Every participant confirms the record; the transcript head is what the witness writes down."""

    STEP = "signoff"
    FAILURE = "Sign-off incomplete"

    def body(self) -> ComposeResult:
        yield Static(
            "Each participant reads the record of this ceremony below, then ticks their name. Finish adds the "
            "sign-off line; the witness writes down the head it prints.",
            classes="lead",
        )
        yield Label("[b]The transcript so far[/b]")
        yield Static("Reading the transcript...", id="summary", markup=False)
        self.names = list(dict.fromkeys(self.ceremony.participants()))
        for index, name in enumerate(self.names):
            yield Tick(plain(f"{name} signs off", limit=320), id=f"who-{index}")
        yield Button("Finish the ceremony", variant="primary", id="finish", compact=True, disabled=True)
        yield Static("", id="head", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_core("Verifying the transcript", lambda: ("summary", self.ceremony.signoff_summary()))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "done":
            self.dismiss(True)
            return
        names = [n for i, n in enumerate(self.names) if self.query_one(f"#who-{i}", Checkbox).value]
        self.run_core("Recording the sign-off", lambda: self.ceremony.sign_off(names, self.clock()))

    def core_done(self, result: Any) -> None:
        if isinstance(result, tuple) and result[0] == "summary":
            self.query_one("#summary", Static).update(plain_lines(result[1], limit=600))
            self.query_one("#finish", Button).disabled = False  # only once the record to sign off is on screen
            return
        self.query_one("#head", Static).update(
            plain_lines(
                [
                    f"Ceremony complete. Transcript head: {result}",
                    f"  as words: {digest_words(bytes.fromhex(result))}",
                    "Witness: write the head (at least its first 16 digits) on the ceremony script, then read "
                    "the words back aloud.",
                ]
            )
        )
        self.query_one("#finish", Button).remove()
        button = Button("Back to home", variant="primary", id="done", compact=True)
        self.query_one("#body").mount(button)
        button.focus()


#: Which screen does each step (review and sign share the review-and-sign screen in app.py).
STEP_SCREENS: dict[str, type[_RootStep]] = {
    "preflight": PreflightScreen,
    "participants": ParticipantsScreen,
    "plan": PlanScreen,
    "keygen": KeygenScreen,
    "online": OnlineKeysScreen,
    "verify": VerifyScreen,
    "backup": BackupScreen,
    "signoff": SignoffScreen,
}
