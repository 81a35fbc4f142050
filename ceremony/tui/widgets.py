"""Building blocks every flow uses: the step screen with its worker, the step indicator, dialogs.

A step screen never calls the core on the UI thread: ``run_core`` hands the
call to a thread worker, shows what is happening, and gets back a ``CoreDone``
or ``CoreFailed`` message (``post_message`` is thread-safe). A
``CeremonyError`` becomes a dialog with the operator's sentence and what to
do, and the screen stays where it was; any other exception is a bug and ends
the app, so a ceremony fails closed.

Text that came from a file (a request's summary and diff, key labels, token
labels, error messages quoting a file) is shown with ``plain``: control and
format characters escaped by ``core._text.printable``, and as a Rich ``Text``,
which Textual never reads as markup, so ``[@click=app.quit]`` in a file is
shown as those characters and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, LoadingIndicator, Static

from ceremony.core import hsm
from ceremony.core._text import printable
from ceremony.core.workspace import KeyRecord
from ceremony.errors import CeremonyError, UsageError

T = TypeVar("T")


def plain(value: object, style: str = "", limit: int = 2000) -> Text:
    """A value from a file as a widget shows it: one line, controls escaped, never read as markup."""
    return Text(printable(value, limit), style=style, end="")


def plain_lines(lines: Iterable[object], limit: int = 2000) -> Text:
    """Lines from files as one block: each line ``plain``; only the line breaks between them are ours."""
    return Text("\n".join(printable(line, limit) for line in lines), end="")


#: What a step screen returns when the operator leaves the flow (progress is kept).
LEAVE = "leave"


class ErrorDialog(ModalScreen[None]):
    """A core error, as the operator-facing sentence and what to do next; the flow stays where it was."""

    BINDINGS: ClassVar = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, error: CeremonyError) -> None:
        super().__init__()
        self.title_text = title
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.title_text, "bold"), id="error-title")
            yield Static(plain(self.error), id="error-message")
            if self.error.hint:
                yield Static(plain(f"What to do: {self.error.hint}"), id="error-hint")
            yield Button("Close", variant="error", id="close", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()

    def action_close(self) -> None:
        self.dismiss()


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; Escape answers no."""

    BINDINGS: ClassVar = [Binding("escape", "no", "No")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.labels = (yes, no)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain_lines(self.question.split("\n")), id="question")
            with Horizontal(classes="buttons"):
                yield Button(self.labels[0], variant="primary", id="yes", compact=True)
                yield Button(self.labels[1], id="no", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)


class Tick(Checkbox):
    """A checkbox that reads without colour: [X] when ticked, [ ] when not (16-colour consoles)."""

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property
    def _button(self) -> Content:
        return Content.assemble(
            self.BUTTON_LEFT, ("X" if self.value else " ", self.get_visual_style("toggle--button")), self.BUTTON_RIGHT
        )


class StepIndicator(Static):
    """ "New root ceremony - step 4 of 10: Key generation - next: Online keys"."""

    def __init__(self, flow_title: str, steps: tuple[tuple[str, str], ...], step: str) -> None:
        super().__init__(self.text(flow_title, steps, step), id="step-indicator")

    @classmethod
    def text(cls, flow_title: str, steps: tuple[tuple[str, str], ...], step: str) -> Text:
        """The indicator as plain text (a change's title comes from its session file)."""
        return plain_lines(cls.describe(flow_title, steps, step).split("\n"))

    @staticmethod
    def describe(flow_title: str, steps: tuple[tuple[str, str], ...], step: str) -> str:
        """The indicator's two lines."""
        names = [name for name, _title in steps]
        index = names.index(step) if step in names else 0
        title = steps[index][1]
        following = steps[index + 1][1] if index + 1 < len(steps) else "done"
        dots = "".join("#" if i < index else ("@" if i == index else ".") for i in range(len(steps)))
        return f"{flow_title} - step {index + 1} of {len(steps)}: {title}  [{dots}]\nnext: {following}"


class CoreDone(Message):
    """A core call finished (posted from the worker thread)."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


class CoreFailed(Message):
    """A core call refused or failed with an operator-facing error."""

    def __init__(self, error: CeremonyError) -> None:
        super().__init__()
        self.error = error


class StepScreen(Screen[T], Generic[T]):
    """One step of a flow: a step indicator, the step's body, a busy line and the footer.

    Subclasses yield their widgets from ``body`` and call ``run_core`` with a
    callable; ``core_done`` receives its result. Secrets are read from their
    fields and the fields cleared before the worker starts.
    """

    BINDINGS: ClassVar = [Binding("escape", "leave", "Home (progress kept)")]
    FLOW_TITLE = ""
    STEPS: tuple[tuple[str, str], ...] = ()
    STEP = ""
    FAILURE = "The step could not be completed"

    def compose(self) -> ComposeResult:
        if self.STEPS:
            yield StepIndicator(self.FLOW_TITLE, self.STEPS, self.STEP)
        else:
            yield Static(plain(self.FLOW_TITLE), id="flow-title")
        with VerticalScroll(id="body"):
            yield from self.body()
        with Horizontal(id="busy"):
            yield LoadingIndicator()
            yield Static("", id="busy-text", markup=False)
        yield Footer()

    def body(self) -> ComposeResult:
        """The step's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#busy").display = False
        self.compact()
        self.call_after_refresh(self.focus_first)

    def compact(self) -> None:
        """One-line fields and buttons, so a step fits 80x24."""
        for widget in self.query("Input, Select, Button, Checkbox"):
            widget.compact = True  # type: ignore[attr-defined]

    def show_step(self, step: str) -> None:
        """Move the step indicator (the review step becomes signing without a new screen)."""
        self.STEP = step
        if self.STEPS:
            self.query_one(StepIndicator).update(StepIndicator.text(self.FLOW_TITLE, self.STEPS, step))

    def focus_first(self) -> None:
        """Put the cursor in the step's first field, so the operator can type at once."""
        for widget in self.query_one("#body").query("*"):
            if widget.focusable and widget.display:
                widget.focus()
                return

    @property
    def busy(self) -> bool:
        """A core call is running."""
        return bool(self.query_one("#busy").display)

    def run_core(self, what: str, call: Callable[[], Any]) -> None:
        """Run ``call`` in a thread worker, showing ``what`` until it finishes."""
        if self.busy:
            return
        self.query_one("#busy").display = True
        self.query_one("#busy-text", Static).update(what)
        self._work(call)

    @work(thread=True, exclusive=True, group="core")
    def _work(self, call: Callable[[], Any]) -> None:
        try:
            result = call()
        except CeremonyError as err:
            self.post_message(CoreFailed(_without_frames(err)))
            return
        self.post_message(CoreDone(result))

    def on_core_done(self, message: CoreDone) -> None:
        self.query_one("#busy").display = False
        self.core_done(message.result)

    def on_core_failed(self, message: CoreFailed) -> None:
        self.query_one("#busy").display = False
        self.show_error(self.FAILURE, message.error)
        self.core_failed(message.error)

    def show_error(self, title: str, error: CeremonyError) -> None:
        """Show an error over this screen, which stays as it was."""
        self.app.push_screen(ErrorDialog(title, error))

    def core_done(self, result: Any) -> None:
        """The core call returned ``result``; by default the step is finished."""
        self.dismiss(result)

    def core_failed(self, error: CeremonyError) -> None:
        """The core call failed; the dialog is shown already."""

    def show_report(self, lines: list[str], replace: str, label: str, button_id: str = "done") -> None:
        """Show a finished step's report and swap its action button for the way on."""
        self.query_one("#report", Static).update(plain_lines(lines))
        self.query_one(f"#{replace}", Button).remove()
        button = Button(label, variant="primary", id=button_id, compact=True)
        self.query_one("#body").mount(button)
        button.focus()

    def take_secret(self, selector: str) -> str:
        """Read a password field and clear it at once."""
        field = self.query_one(selector, Input)
        value = field.value
        field.value = ""
        return value

    def value(self, selector: str) -> str:
        """A text field's value, stripped."""
        return self.query_one(selector, Input).value.strip()

    def action_leave(self) -> None:
        if not self.busy:
            self.dismiss(LEAVE)  # type: ignore[arg-type]


def held(key: KeyRecord) -> Text:
    """Where a key is held, short enough for the home table (plain text: a token label is not markup)."""
    if key.revoked:
        return Text("REVOKED")
    if key.uri is None:
        return Text("elsewhere")
    if key.uri.startswith("file:"):
        return Text("software, encrypted")
    if key.uri.startswith("pkcs11:"):
        try:
            uri = hsm.Pkcs11Uri.parse(key.uri)
        except UsageError:
            return Text("token (unreadable URI)")
        return plain(f"token {uri.token} #{(uri.serial or '')[:8]}", limit=60)
    return plain(key.uri, limit=60)


def _without_frames(error: CeremonyError) -> CeremonyError:
    """The error without its tracebacks: their frames hold the secret the failed call was given.

    The dialog needs only the sentence and the hint; keeping the frames would
    keep a passphrase or PIN alive for as long as the dialog (or the error) is.
    """
    seen: BaseException | None = error
    while seen is not None:
        seen.__traceback__ = None
        seen = seen.__cause__ or seen.__context__
    return error


def password(placeholder: str, id: str) -> Input:
    """A password field: typed characters are never shown."""
    return Input(placeholder=placeholder, password=True, id=id)
