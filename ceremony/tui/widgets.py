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
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Input,
    Label,
    LoadingIndicator,
    Select,
    SelectionList,
    Static,
)

from ceremony.core._text import printable
from ceremony.errors import CeremonyError, UsageError

if TYPE_CHECKING:
    from ceremony.core.workspace import KeyRecord

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
    """A yes/no question; Escape answers no. ``safe_default``: the focus starts on no (a destructive question,
    so a second Enter pressed by habit keeps what it would delete)."""

    BINDINGS: ClassVar = [Binding("escape", "no", "No")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No", safe_default: bool = False) -> None:
        super().__init__()
        self.question = question
        self.labels = (yes, no)
        self.safe_default = safe_default

    def on_mount(self) -> None:
        self.query_one("#no" if self.safe_default else "#yes", Button).focus()

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


def advance(widget: Widget) -> None:
    """Enter in a form: focus the next field, or press the button that follows the last one.

    One rule for every form, so a keyholder's Enter after a passphrase always
    does the same thing. The next widget in the screen's order is taken as it
    is: a field is focused, an enabled button is pressed, a disabled one is
    left alone (never the button after it).
    """
    kinds = (Input, Select, Checkbox, Button, SelectionList, DataTable)
    order = [w for w in widget.screen.query("*") if isinstance(w, kinds) and w.display and w.styles.display != "none"]
    order = [w for w in order if all(a.display for a in w.ancestors_with_self if isinstance(a, Widget))]
    if widget not in order:
        return
    following = order[order.index(widget) + 1 :]
    if not following:
        return
    nxt = following[0]
    if isinstance(nxt, Button):
        if not nxt.disabled:
            nxt.press()
        return
    nxt.focus()


class Tick(Checkbox):
    """A checkbox that reads without colour: [X] when ticked, [ ] when not (16-colour consoles).

    Space ticks; Enter moves on like Enter in any field, so an Enter meant for the
    next step never ticks "no spare root key" or "the words were compared".
    """

    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"
    BINDINGS: ClassVar = [Binding("space", "toggle_button", "Tick", show=False), Binding("enter", "advance")]

    def action_advance(self) -> None:
        advance(self)

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
        self._busy_what, self._busy_seconds = what, 0
        self._busy_timer = self.set_interval(1, self._tick_busy)
        self._work(call)

    def _tick_busy(self) -> None:
        """Count the seconds on the busy line: a slow token or an RSA key is working, not stuck."""
        self._busy_seconds += 1
        self.query_one("#busy-text", Static).update(f"{self._busy_what} ... {self._busy_seconds} s")

    def _stop_busy(self) -> None:
        self.query_one("#busy").display = False
        timer = getattr(self, "_busy_timer", None)
        if timer is not None:
            timer.stop()

    @work(thread=True, exclusive=True, group="core")
    def _work(self, call: Callable[[], Any]) -> None:
        try:
            result = call()
        except CeremonyError as err:
            self.post_message(CoreFailed(_without_frames(err)))
            return
        self.post_message(CoreDone(result))

    def on_core_done(self, message: CoreDone) -> None:
        self._stop_busy()
        self.core_done(message.result)

    def on_core_failed(self, message: CoreFailed) -> None:
        self._stop_busy()
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

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field: on to the next field, or the button after the last one (``advance``)."""
        event.stop()
        advance(event.input)

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


class MarkList(SelectionList[int]):
    """A list whose rows are marked with Space; Enter moves on (it never marks a key as compromised).

    Each row reads [X] or [ ] like a ``Tick``: Textual draws the same X on every row and tells them apart by
    colour alone, which a 16-colour console (and a tired operator) cannot be trusted to show.
    """

    BINDINGS: ClassVar = [Binding("enter", "advance", show=False)]

    def action_advance(self) -> None:
        advance(self)

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        index = self.scroll_offset[1] + y
        if len(segments) < 4 or not 0 <= index < self.option_count:
            return strip
        marked = self.get_option_at_index(index).value in self.selected
        return Strip([Segment("[X]" if marked else "[ ]", segments[3].style), *segments[3:]])


class GridTable(Static):
    """A read-only table that wraps its cells to the width it is given, so nothing is ever cut off.

    Home's tables are for reading, not for picking: at 80 columns a token's
    serial or a key's roles wrap onto a second line instead of disappearing past
    the edge (Textual's DataTable scrolls sideways, and home's focus never goes
    there). Cells are ``Text`` (``plain``), never markup.
    """

    def __init__(self, id: str, classes: str = "") -> None:
        super().__init__("", id=id, classes=classes)
        self.headers: list[str] = []
        self.rows: list[list[Text]] = []

    @property
    def row_count(self) -> int:
        """How many rows the table shows."""
        return len(self.rows)

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of row ``index``, as shown."""
        return self.rows[index]

    def show(self, headers: list[str], rows: list[list[Text]], fold: Iterable[int] = ()) -> None:
        """Replace the table; columns in ``fold`` break anywhere (ids, serials), the others at spaces."""
        from rich.table import Table

        self.headers, self.rows = headers, rows
        table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
        folded = set(fold)
        for index, header in enumerate(headers):
            table.add_column(header, overflow="fold" if index in folded else "ellipsis", no_wrap=False)
        for row in rows:
            table.add_row(*row)
        self.update(table)

    def clear(self) -> None:
        """No rows, no headers."""
        self.headers, self.rows = [], []
        self.update("")


def held(key: KeyRecord) -> Text:
    """Where a key is held, short enough for the home table (plain text: a token label is not markup)."""
    if key.revoked:
        return Text("REVOKED")
    if key.uri is None:
        return Text("elsewhere")
    if key.uri.startswith("file:"):
        return Text("software")  # a software key is only ever on disk encrypted
    if key.uri.startswith("pkcs11:"):
        from ceremony.core import hsm  # PyKCS11 loads when home lists a token key, not before every first frame

        try:
            uri = hsm.Pkcs11Uri.parse(key.uri)
        except UsageError:
            return Text("token (unreadable URI)")
        return plain(f"token {uri.token} #{uri.serial or '?'}", limit=100)
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
