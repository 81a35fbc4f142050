"""The review-and-sign screen: what will be signed, the words to read aloud, and signatures to threshold.

One screen serves the new root ceremony, changes to a live workspace and
offline signing of a request. What it signs is a *subject* from
``core.guided`` (``NewRootCeremony``, ``ChangeSession`` or
``OfflineSigning``): the screen only shows the subject's own description and
progress, and passes each keyholder's key choice and secret to its ``sign``.

Everything on it but the words and the digest comes from files (a request
made elsewhere, labels from an imported repository), so it is shown as plain
text, controls escaped: what the keyholder reads is what the file holds. A
request's own description of itself is not signed, so it is shown apart from
the diff, under a heading that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ceremony.errors import UsageError
from ceremony.tui.picker import PathInput
from ceremony.tui.widgets import StepScreen, Tick, password, plain, plain_lines


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
        self._keys: list[Any] = []

    def body(self) -> ComposeResult:
        # Shown only for a request that describes itself; above the diff, so nothing from the file
        # stands between what is computed here (the diff, the words) and the keyholder's decision.
        summary_title = Label(
            "[b]The request describes itself as[/b] (NOT signed; the words do not cover it)", id="summary-title"
        )
        summary = Static("", id="summary", markup=False)
        summary_title.display = summary.display = False
        yield summary_title
        yield summary
        yield Label("[b]What will be signed[/b]")
        yield Static("", id="changes", markup=False)
        yield Label("[b]Words to read aloud[/b] (BIP-39 words of a SHA-256, numbered)")
        yield Static("", id="cover", markup=False)
        yield Static("", id="words", markup=False)
        yield Static("", id="digest", markup=False)
        yield Static("", id="progress", markup=False)
        yield Tick("The keyholders compared these words with the ones read aloud", id="compared")
        if self.key_typed:
            yield PathInput(
                placeholder="your key: software key file (.p12) or pkcs11: URI", id="keyspec", suffixes=(".p12",)
            )
        else:
            yield Select([("(reading the keys)", "")], allow_blank=False, id="key")
        yield Static("", id="next", markup=False)
        yield password("passphrase or PIN of that key (keyholder types it)", "secret")
        with Horizontal(classes="buttons"):
            yield Button("Sign", variant="primary", id="sign", compact=True)
            yield Button(self.finish_label, variant="success", id="finish", disabled=True, compact=True)
        if self.copies:
            yield Label("Signed copy from a keyholder elsewhere (path to their copy of the request)")
            with Horizontal(classes="row"):
                yield PathInput(placeholder="signed-copy.json", id="copy", suffixes=(".json",))
                yield Button("Add signatures", id="add-copy", compact=True)

    def on_mount(self) -> None:
        super().on_mount()

        def load() -> tuple[str, Any]:
            described = self.subject.build_root(self.clock())
            return "loaded", (*described, self.subject.unsigned_summary(), self._standing(), self.subject.cover())

        self.run_core("Reading what will be signed", load)

    def _standing(self) -> tuple[list[Any], list[Any]]:
        """Progress and the keys that can sign next, read in the worker (the core reads files for both)."""
        return self.subject.progress(), ([] if self.key_typed else self.subject.signing_keys())

    def _show_progress(self, standing: tuple[list[Any], list[Any]]) -> None:
        progress, signing_keys = standing
        self._keys = signing_keys
        self.query_one("#progress", Static).update(
            plain_lines(["Signatures:", *[f"  {'met ' if p.verified else 'need'} {p.describe()}" for p in progress]])
        )
        mine_saved = self.finish is None and bool(getattr(self.subject, "saved", False))
        self.query_one("#finish", Button).disabled = not (all(p.verified for p in progress) or mine_saved)
        if not self.key_typed:
            options = [
                (
                    plain(
                        f"{k.label} {k.keyid[:12]}"
                        + (f" ({k.holder})" if k.holder else "")
                        + f" - {k.kind}"
                        + (f" - {k.note}" if k.note else ""),
                        limit=200,
                    ),
                    k.keyid,
                )
                for k in signing_keys
            ]
            select = self.query_one("#key", Select)
            if not options:
                options = [(plain("no key held here is still needed"), "")]
            select.set_options(options)
            select.value = options[0][1]  # the next key needed; a key being revoked is never first
            self._show_next(signing_keys[0] if signing_keys else None)

    def _show_next(self, key: Any) -> None:
        """Say whose turn it is, so the keyholder at the keyboard knows the field below is theirs."""
        text = ""
        if key is not None and key.note:
            text = f"Choose the key: {key.label} is {key.note} (Shift+Tab: the key list)"
        elif key is not None:
            who = f" ({key.holder})" if key.holder else ""
            text = f"Next: the keyholder of {key.label}{who} types the {key.kind}, then Enter (Shift+Tab: another key)"
        self.query_one("#next", Static).update(plain(text, "bold", limit=300))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "key" and not self.key_typed:
            chosen = next((k for k in self._keys if k.keyid == event.value), None)
            self._show_next(chosen)

    def core_done(self, result: Any) -> None:
        kind, value = result
        if kind == "loaded":
            lines, digest_hex, words, summary, standing, cover = value
            self.query_one("#cover", Static).update(plain_lines(cover, limit=600))
            self.query_one("#changes", Static).update(plain_lines(lines))
            if summary:
                self.query_one("#summary", Static).update(plain_lines(f"| {line}" for line in summary))
                self.query_one("#summary-title").display = True
                self.query_one("#summary").display = True
            self.query_one("#words", Static).update(word_rows(words))  # BIP-39 words of our own digest
            self.query_one("#digest", Static).update(plain(f"hex: {digest_hex}"))
            if getattr(self.subject, "reviewed", False):
                self.query_one("#compared", Checkbox).value = True
            self._show_progress(standing)
            self.call_after_refresh(self._focus_next_action)
        elif kind in ("signed", "added"):
            self.show_step(getattr(self.subject, "step", self.STEP))
            self._show_progress(value)
            if not self.query_one("#finish", Button).disabled:
                self.query_one("#finish", Button).focus()
            elif not self.key_typed and self._keys and not self._keys[0].note:
                self.query_one("#secret", Input).focus()  # the next keyholder types at once: their key is chosen
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
        elif self.key_typed:
            self.query_one("#keyspec").focus()
        else:
            self.query_one("#secret" if self._keys and not self._keys[0].note else "#key").focus()

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

            def add() -> tuple[str, Any]:
                self.subject.add_signed_copy(path, self.clock())
                return "added", self._standing()

            self.run_core("Checking the signed copy", add)

    def sign(self) -> None:
        if self.busy:  # the typed secret stays in its field until the running step has finished
            self.notify("Wait: the step on screen is still running, then press Enter again.", markup=False)
            return
        secret = self.take_secret("#secret")  # first: a refusal below must not leave it in the field
        if not self.query_one("#compared", Checkbox).value:
            self.show_error(
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
            self.show_error(self.FAILURE, UsageError("choose the key that signs now"))
            return
        subject = self.subject

        def call() -> tuple[str, Any]:
            if getattr(subject, "step", "") == "review":
                subject.confirm_review(self.clock())
            subject.sign(key, secret, self.clock())
            return "signed", self._standing()

        self.run_core("Unlocking the key, signing and verifying the signature", call)
