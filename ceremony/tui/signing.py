"""The review-and-sign screen: what will be signed, the words to read aloud, and signatures to threshold.

One screen serves the new root ceremony, changes to a live workspace and
offline signing of a request. What it signs is a *subject* from
``core.session`` (``NewRootCeremony``, ``ChangeSession`` or
``OfflineSigning``): the screen only shows the subject's own description and
progress, and passes each keyholder's key choice and secret to its ``sign``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ceremony.errors import UsageError
from ceremony.tui.widgets import StepScreen, Tick, password


def word_rows(words: str, per_row: int = 4) -> str:
    """The digest words numbered in rows, so they can be read aloud and ticked off in groups."""
    items = words.split()
    rows = []
    for start in range(0, len(items), per_row):
        rows.append("  ".join(f"{start + i + 1:>2}.{w:<9}" for i, w in enumerate(items[start : start + per_row])))
    return "\n".join(rows)


class ReviewSignScreen(StepScreen[Any]):
    """Review what will be signed, compare the words read aloud, and sign key by key to threshold."""

    FAILURE = "Not signed"

    def __init__(
        self,
        subject: Any,
        clock: Callable[[], datetime],
        *,
        flow_title: str,
        steps: tuple[tuple[str, str], ...],
        step: str,
        finish_label: str,
        finish: Callable[[], Any] | None,
        key_typed: bool = False,
        copies: bool = False,
    ) -> None:
        super().__init__()
        self.subject = subject
        self.clock = clock
        self.FLOW_TITLE = flow_title
        self.STEPS = steps
        self.STEP = step
        self.finish_label = finish_label
        self.finish = finish
        self.key_typed = key_typed
        self.copies = copies

    def body(self) -> ComposeResult:
        yield Label("[b]What will be signed[/b]")
        yield Static("", id="changes", markup=False)
        yield Label("[b]Words to read aloud[/b] (SHA-256 of exactly what is signed, BIP-39)")
        yield Static("", id="words", markup=False)
        yield Static("", id="digest", markup=False)
        yield Static("", id="progress", markup=False)
        yield Tick("The keyholders compared these words with the ones read aloud", id="compared")
        if self.key_typed:
            yield Input(placeholder="your key: software key file (.p12) or pkcs11: URI", id="keyspec")
        else:
            yield Select([], prompt="Key that signs now", id="key")
        yield password("passphrase or PIN of that key (keyholder types it)", "secret")
        with Horizontal(classes="buttons"):
            yield Button("Sign", variant="primary", id="sign", compact=True)
            yield Button(self.finish_label, variant="success", id="finish", disabled=True, compact=True)
        if self.copies:
            yield Label("Signed copy from a keyholder elsewhere (path to their copy of the request)")
            with Horizontal(classes="row"):
                yield Input(placeholder="signed-copy.json", id="copy")
                yield Button("Add signatures", id="add-copy", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.run_core("Reading what will be signed", lambda: ("loaded", self.subject.build_root(self.clock())))

    def _show_progress(self) -> None:
        progress = self.subject.progress()
        self.query_one("#progress", Static).update(
            "Signatures:\n" + "\n".join(f"  {'met ' if p.met else 'need'} {p.describe()}" for p in progress)
        )
        mine_saved = self.finish is None and bool(getattr(self.subject, "saved", False))
        self.query_one("#finish", Button).disabled = not (all(p.met for p in progress) or mine_saved)
        if not self.key_typed:
            options = [
                (
                    f"{k.label} {k.keyid[:12]}"
                    + (f" ({k.holder})" if k.holder else "")
                    + f" - {k.kind}"
                    + (f" - {k.note}" if k.note else ""),
                    k.keyid,
                )
                for k in self.subject.signing_keys()
            ]
            select = self.query_one("#key", Select)
            select.set_options(options)
            if options:
                select.value = options[0][1]

    def core_done(self, result: Any) -> None:
        kind, value = result
        if kind == "loaded":
            lines, digest_hex, words = value
            self.query_one("#changes", Static).update("\n".join(lines))
            self.query_one("#words", Static).update(word_rows(words))
            self.query_one("#digest", Static).update(f"hex: {digest_hex}")
            if getattr(self.subject, "reviewed", False):
                self.query_one("#compared", Checkbox).value = True
            self._show_progress()
            self.call_after_refresh(self._focus_next_action)
        elif kind in ("signed", "added"):
            self.show_step(getattr(self.subject, "step", self.STEP))
            self._show_progress()
            if not self.query_one("#finish", Button).disabled:
                self.query_one("#finish", Button).focus()
            elif not self.key_typed:
                self.query_one("#key", Select).focus()
        elif kind == "finished":
            self.dismiss(value)

    def _focus_next_action(self) -> None:
        """Once the content is in: the words' tick box, or the key for the next keyholder."""
        compared = self.query_one("#compared", Checkbox)
        if not compared.value:
            compared.focus()
        elif not self.query_one("#finish", Button).disabled:
            self.query_one("#finish", Button).focus()
        else:
            self.query_one("#keyspec" if self.key_typed else "#key").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sign":
            self.sign()
        elif event.button.id == "finish" and self.finish is not None:
            finish = self.finish
            self.run_core("Checking every threshold and publishing", lambda: ("finished", finish()))
        elif event.button.id == "finish":
            self.dismiss(True)
        elif event.button.id == "add-copy":
            path = self.value("#copy")
            self.run_core(
                "Checking the signed copy", lambda: ("added", self.subject.add_signed_copy(path, self.clock()))
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "secret":
            self.sign()

    def sign(self) -> None:
        secret = self.take_secret("#secret")  # first: a refusal below must not leave it in the field
        if not self.query_one("#compared", Checkbox).value:
            self.app.push_screen_error(
                self.FAILURE,
                UsageError("the words have not been compared", hint="read them aloud; tick the box when they match"),
            )
            return
        if self.key_typed:
            key = self.value("#keyspec")
        else:
            select = self.query_one("#key", Select)
            key = "" if select.is_blank() else str(select.value)
        if not key:
            self.app.push_screen_error(self.FAILURE, UsageError("choose the key that signs now"))
            return
        subject = self.subject

        def call() -> tuple[str, Any]:
            if getattr(subject, "step", "") == "review":
                subject.confirm_review(self.clock())
            return "signed", subject.sign(key, secret, self.clock())

        self.run_core("Unlocking the key, signing and verifying the signature", call)
