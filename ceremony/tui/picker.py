"""A keyboard file picker behind every path field, safe to point at a stranger's USB stick.

An operator at 2 a.m. should not have to type ``keys/<64 hex>.p12``: ``PathInput``
is an ``Input`` (screens keep reading ``query_one("#id", Input).value``) that opens
``PickerDialog`` on ctrl+o and writes what was chosen back into the field.

The directories browsed are as hostile as the files in them, so the picker:

- shows every name through ``core._text.printable`` as a Rich ``Text`` (never
  markup): an ESC sequence, a carriage return, a bidi override or ``[bold]`` in
  a name is shown as those characters and does nothing;
- refuses to choose a name that ``printable`` had to escape: the field would
  echo it raw to the terminal (``Input`` renders its value as it is), and no
  honest key or request file is named that way;
- never follows a symbolic link: a link is listed as a link with its target and
  is neither entered nor chosen, so what the operator chose is what the core
  opens, not a file elsewhere on the machine;
- lists at most ``MAX_ENTRIES`` entries of a directory and says that more were
  left out, so a directory of a million files cannot freeze the screen;
- shows an unreadable directory as unreadable rather than as empty or a crash;
- lists in a thread (DirectoryTree's own worker), so a slow medium does not
  block the UI.

It only chooses paths: the screens and the core still check what they are
given (the picker is a convenience, not a validation).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.style import Style
from rich.text import Text, TextType
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Footer, Input, Static
from textual.widgets.directory_tree import DirEntry

from ceremony.core._text import is_printable, printable

if TYPE_CHECKING:
    from textual.widgets.tree import TreeNode

#: What a field asks for: one existing file, several files, an existing directory, or a new path (a directory
#: chosen here, the name typed in the field).
Kind = Literal["file", "files", "dir", "new"]

#: The most entries listed for one directory; the rest are left out, and a line says so.
MAX_ENTRIES = 2000
#: The most directory entries read at all (hidden or filtered ones included), so a huge directory of hidden
#: files cannot keep the lister busy either.
MAX_SCANNED = 50 * MAX_ENTRIES
#: The most characters of a link's target shown.
TARGET_LIMIT = 120

#: How an entry is listed: ``dir`` a real directory that can be opened, ``locked`` a directory this user cannot
#: read, ``file`` a regular file, ``link`` a symbolic link (never followed), ``other`` a device, socket or FIFO
#: (reading one can block forever, so it is never chosen), ``note`` a line of the picker's own.
EntryKind = Literal["dir", "locked", "file", "link", "other", "note"]

HINT = "(ctrl+o: browse)"


@dataclass(frozen=True)
class Listed:
    """One directory entry, classified from ``lstat`` (links are not followed)."""

    path: Path
    kind: EntryKind
    target: str = ""


@dataclass(frozen=True)
class Listing:
    """What the picker shows of one directory.

    ``error`` says why the directory could not be read (nothing else is then
    listed); ``more`` is true when entries beyond ``MAX_ENTRIES`` were left out.
    """

    entries: tuple[Listed, ...]
    error: str = ""
    more: bool = False


def _classify(entry: os.DirEntry[str]) -> Listed:
    """An entry's kind, without following a link (an entry that vanished or cannot be stat'ed is ``other``)."""
    path = Path(entry.path)
    try:
        if entry.is_symlink():
            try:
                target = os.readlink(entry.path)
            except OSError:
                target = "?"
            return Listed(path, "link", target)
        if entry.is_dir(follow_symlinks=False):
            readable = os.access(entry.path, os.R_OK | os.X_OK)
            return Listed(path, "dir" if readable else "locked")
        if entry.is_file(follow_symlinks=False):
            return Listed(path, "file")
    except OSError:
        pass
    return Listed(path, "other")


def list_directory(path: Path, *, show_hidden: bool = False, suffixes: tuple[str, ...] = ()) -> Listing:
    """List ``path`` for the picker: directories first, then by name; bounded; never raises ``OSError``.

    Args:
        path: the directory to list.
        show_hidden: list names starting with ``.`` too (hidden by default, as a file manager does).
        suffixes: when given, list only files whose name ends with one of them (directories always).

    Returns:
        At most ``MAX_ENTRIES`` entries, whether more were left out, or why the directory cannot be read.
    """
    wanted = tuple(s.lower() for s in suffixes)
    kept: list[Listed] = []
    more = False
    try:
        with os.scandir(path) as entries:
            for scanned, entry in enumerate(entries):
                if scanned >= MAX_SCANNED:
                    more = True
                    break
                if not show_hidden and entry.name.startswith("."):
                    continue
                listed = _classify(entry)
                if wanted and listed.kind in ("file", "other") and not entry.name.lower().endswith(wanted):
                    continue
                if len(kept) >= MAX_ENTRIES:
                    more = True
                    break
                kept.append(listed)
    except OSError as err:
        return Listing((), error=err.strerror or type(err).__name__)
    kept.sort(key=lambda e: (e.kind not in ("dir", "locked"), e.path.name.casefold(), e.path.name))
    return Listing(tuple(kept), more=more)


def _absolute(value: str) -> Path:
    """A typed path made absolute against the working directory, ``~`` expanded, links left alone."""
    return Path(os.path.abspath(Path(value).expanduser()))


def _existing_directory(path: Path) -> Path:
    """``path`` or its nearest ancestor that is a directory (the working directory when none is)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


@dataclass(frozen=True)
class Start:
    """Where the picker opens: the directory shown, the entry highlighted, and (kind ``new``) the typed name."""

    directory: Path
    highlight: Path | None = None
    name: str = ""


def start_for(kind: Kind, value: str) -> Start:
    """Where to open the picker for a field of ``kind`` holding ``value``.

    A directory in the field opens there (kind ``new``: its parent, the name
    kept); a file opens its directory with the file highlighted; a path that
    does not exist opens its nearest existing ancestor; an empty field opens
    the working directory. For kind ``files`` the first of the paths is used.
    """
    text = value.strip()
    if kind == "files" and text:
        try:
            words = shlex.split(text)
        except ValueError:  # an unfinished quote: start from the working directory
            words = []
        text = words[0] if words else ""
    if not text:
        return Start(Path.cwd())
    path = _absolute(text)
    if kind == "new":
        if text.endswith(os.sep) and path.is_dir():
            return Start(path)
        return Start(_existing_directory(path.parent), highlight=path, name=path.name)
    if path.is_dir():
        return Start(path)
    return Start(_existing_directory(path.parent), highlight=path)


@dataclass
class _Entry(DirEntry):
    """A tree node's data: DirEntry plus how the entry was listed (``dir`` for the directory shown)."""

    kind: EntryKind = "dir"
    target: str = ""
    note: str = ""


class PickerTree(DirectoryTree):
    """One directory at a time, opened with Enter and left with Backspace; links are never followed.

    DirectoryTree is kept for its threaded loading and keyboard movement; it is
    re-rooted on the directory opened instead of expanding in place, so the
    top line always says which directory is shown and Backspace has one
    meaning. Its lister and label renderer are replaced: DirectoryTree follows
    links (``is_dir``, ``resolve``), treats an unreadable directory as empty,
    reads a directory whole, and shows names as they are.
    """

    DEFAULT_CSS = """
    PickerTree { height: 1fr; }
    PickerTree > .directory-tree--hidden { text-style: dim; }
    """

    BINDINGS: ClassVar = [
        Binding("enter", "open", "Open / choose"),
        Binding("space", "mark", "Mark"),
        Binding("c", "choose_directory", "Choose folder"),
        Binding("backspace", "parent", "Parent"),
        Binding("left", "parent", "Parent", show=False),
        Binding("full_stop", "toggle_hidden", "Hidden files"),
        Binding("a", "toggle_filter", "All files"),
    ]

    class Chosen(Message):
        """The operator chose: ``value`` is what goes into the field."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class Said(Message):
        """A line for the operator (a refusal, the marks so far, where the picker is)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self, start: Start, kind: Kind = "file", suffixes: tuple[str, ...] = (), id: str | None = None
    ) -> None:
        self.kind: Kind = kind
        self.suffixes = suffixes
        self.show_hidden = False
        #: Only files ending with one of ``suffixes`` are listed while this is on ("a" turns it off and on).
        self.filtering = bool(suffixes)
        self.name_typed = start.name
        #: Files marked (kind ``files``), in the order marked; kept across directories.
        self.marked: list[Path] = []
        #: The directory whose listing is on screen (None while a listing loads).
        self.shown: Path | None = None
        self._highlight = start.highlight
        self._listings: dict[Path, Listing] = {}
        super().__init__(start.directory, id=id)

    # Listing: our own lister in DirectoryTree's worker, our own nodes.

    @work(thread=True, exit_on_error=False)
    def _load_directory(self, node: TreeNode[DirEntry]) -> list[Path]:
        """List a directory in a thread with ``list_directory`` (links not followed, bounded)."""
        if node.data is None:
            return []
        suffixes = self.suffixes if self.filtering else ()
        listing = list_directory(node.data.path, show_hidden=self.show_hidden, suffixes=suffixes)
        self._listings[node.data.path] = listing
        return [entry.path for entry in listing.entries]

    def _populate_node(self, node: TreeNode[DirEntry], content: Any) -> None:
        """Show the listing made for ``node``: every entry a leaf (nothing is expanded in place), then notes."""
        if node.data is None:
            return
        directory = node.data.path
        listing = self._listings.pop(directory, Listing(()))
        node.remove_children()
        for entry in listing.entries:
            node.add_leaf(entry.path.name, data=_Entry(entry.path, kind=entry.kind, target=entry.target))
        notes = []
        if listing.error:
            notes.append(f"(unreadable: {listing.error})")
        elif listing.more:
            notes.append(f"(only the first {MAX_ENTRIES:,} entries are listed; the rest are left out)")
        elif not listing.entries:
            notes.append(f"(no {' or '.join(self.suffixes)} files here; a: all files)" if self.filtering else "(empty)")
        for note in notes:
            node.add_leaf(note, data=_Entry(directory, kind="note", note=note))
        node.expand()
        self.shown = directory

    async def watch_path(self) -> None:
        """After a new listing, highlight the entry asked for (the directory just left) or the first one."""
        await super().watch_path()
        wanted, self._highlight = self._highlight, None
        line = 1 if self.root.children else 0
        if self.kind in ("dir", "new"):
            line = 0  # the top line, the directory shown: "c" chooses it
        for index, child in enumerate(self.root.children):  # every child is a leaf: line 1 + index
            if wanted is not None and isinstance(child.data, _Entry) and child.data.path == wanted:
                line = 1 + index
        self.cursor_line = line
        self.post_message(self.Said(self._where()))

    # Labels: printable text, never markup, marked by kind.

    def process_label(self, label: TextType) -> Text:
        """A label from a name: controls escaped, never read as markup."""
        if isinstance(label, Text):
            return label
        return Text(printable(label), end="")

    def render_label(self, node: TreeNode[DirEntry], base_style: Style, style: Style) -> Text:
        """A line of the tree: a folder ends in ``/``, a link shows its target and that it is not followed."""
        entry = node.data
        if entry is None:
            return Text("")
        kind = entry.kind if isinstance(entry, _Entry) else "dir"
        if node is self.root:
            text = Text(printable(str(entry.path).rstrip(os.sep) + os.sep), style="bold")
            text.append("  (this folder)", style="dim")
        elif kind == "note":
            text = Text(printable(entry.note if isinstance(entry, _Entry) else ""), style="italic dim")
        else:
            text = Text()
            if self.kind == "files" and kind == "file":
                text.append("[x] " if entry.path in self.marked else "[ ] ")
            text.append(printable(entry.path.name))
            if kind in ("dir", "locked"):
                text.append(os.sep)
                text.stylize("bold")
            if kind == "locked":
                text.append("  (unreadable)", style="dim")
            elif kind == "link":
                target = entry.target if isinstance(entry, _Entry) else ""
                text.append(f"  (link, not followed) -> {printable(target, TARGET_LIMIT)}", style="dim")
            elif kind == "other":
                text.append("  (not a regular file)", style="dim")
        if self.is_mounted and entry.path.name.startswith(".") and node is not self.root:
            text.stylize_before(self.get_component_rich_style("directory-tree--hidden", partial=True))
        text.stylize(style)
        return text

    # Actions.

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show "Mark" only when several files are asked for, "Choose folder" only for a directory."""
        if action == "mark":
            return self.kind == "files"
        if action == "choose_directory":
            return self.kind in ("dir", "new")
        if action == "toggle_filter":
            return bool(self.suffixes)
        return True

    def _where(self) -> str:
        """The status line: what to do here, and the marks so far."""
        if self.kind == "files" and self.marked:
            return f"{len(self.marked)} marked; Enter finishes, space marks or unmarks"
        return {
            "file": "Enter opens a folder or chooses a file",
            "files": "space marks files (in any folder), Enter finishes",
            "dir": "Enter opens a folder; c chooses the highlighted folder (top line: this one)",
            "new": f"open the folder to write {printable(self.name_typed) or 'in'}, then press c",
        }[self.kind]

    def _cursor_entry(self) -> tuple[Path, EntryKind] | None:
        """The highlighted entry and its kind (the top line is the directory shown)."""
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        if node is self.root:
            return node.data.path, "dir"
        kind = node.data.kind if isinstance(node.data, _Entry) else "dir"
        return node.data.path, kind

    def _refuse(self, path: Path, kind: EntryKind) -> bool:
        """Say why ``path`` cannot be opened or chosen; False when it can."""
        name = printable(path.name)
        if kind == "link":
            self.post_message(self.Said(f"{name} is a symbolic link: not followed; choose what it points to"))
        elif kind == "locked":
            self.post_message(self.Said(f"{name}: this user cannot read that folder"))
        elif kind == "other":
            self.post_message(self.Said(f"{name} is not a regular file"))
        elif not is_printable(str(path)):
            self.post_message(self.Said("that name has control or invisible characters (shown escaped): rename it"))
        else:
            return False
        return True

    def go(self, directory: Path, highlight: Path | None = None) -> None:
        """Show ``directory`` (checked again with ``lstat``: a folder swapped for a link since it was listed is not entered)."""
        if directory.is_symlink():
            self.post_message(self.Said(f"{printable(directory.name)} is now a symbolic link: not followed"))
            return
        self._highlight = highlight
        self.shown = None  # until the new listing is on screen
        self.path = directory

    def action_open(self) -> None:
        """Enter: open a folder; choose a file (kind ``files``: finish with the marks, or this file)."""
        here = self._cursor_entry()
        if here is None:
            return
        path, kind = here
        if kind == "note" or self.cursor_node is self.root:
            return
        if kind == "dir":
            self.go(path)
            return
        if self.kind in ("dir", "new") and kind == "file":
            self.post_message(self.Said("a folder is asked for: open one with Enter, then press c"))
            return
        if self.kind == "files" and self.marked:
            self.post_message(self.Chosen(shlex.join(str(p) for p in self.marked)))
            return
        if not self._refuse(path, kind):
            self.post_message(self.Chosen(shlex.join([str(path)]) if self.kind == "files" else str(path)))

    def action_mark(self) -> None:
        """Space (kind ``files``): mark or unmark the highlighted file."""
        here = self._cursor_entry()
        if here is None or self.kind != "files":
            return
        path, kind = here
        if kind in ("dir", "note"):
            self.post_message(self.Said("space marks files; Enter opens a folder"))
            return
        if path in self.marked:
            self.marked.remove(path)
        elif not self._refuse(path, kind):
            self.marked.append(path)
        if self.cursor_node is not None:
            self.cursor_node.refresh()
        self.post_message(self.Said(self._where()))

    def action_choose_directory(self) -> None:
        """c (kinds ``dir`` and ``new``): choose the highlighted folder (the top line is the one shown)."""
        here = self._cursor_entry()
        if here is None:
            return
        path, kind = here
        if kind != "dir":
            if not self._refuse(path, kind):
                self.post_message(self.Said("highlight a folder (the top line is this folder), then press c"))
            return
        if self._refuse(path, kind):
            return
        if self.kind == "new":
            chosen = str(path / self.name_typed) if self.name_typed else str(path).rstrip(os.sep) + os.sep
            if not is_printable(chosen):
                self._refuse(Path(chosen), "file")
                return
            self.post_message(self.Chosen(chosen))
        else:
            self.post_message(self.Chosen(str(path)))

    def action_parent(self) -> None:
        """Backspace: show the parent directory, with the one just left highlighted."""
        if self.shown is not None and self.shown.parent != self.shown:
            self.go(self.shown.parent, highlight=self.shown)

    def action_toggle_hidden(self) -> None:
        """Show or hide names starting with a dot."""
        self.show_hidden = not self.show_hidden
        self._relist()

    def action_toggle_filter(self) -> None:
        """List every file, or again only those with the field's suffixes (a key file may be named otherwise)."""
        self.filtering = not self.filtering
        self._relist()

    def _relist(self) -> None:
        """List the directory shown again, the highlighted entry kept."""
        here = self._cursor_entry()
        if self.shown is not None:
            self.go(self.shown, highlight=here[0] if here else None)


_TITLES: dict[str, str] = {
    "file": "Choose a file",
    "files": "Choose files",
    "dir": "Choose a folder",
    "new": "Choose the folder to write in",
}


class PickerDialog(ModalScreen[str | None]):
    """Browse with the keyboard and return what goes into the field, or None on Escape (field unchanged)."""

    DEFAULT_CSS = """
    PickerDialog { align: center middle; }
    PickerDialog > #picker {
        width: 100%; height: 1fr; max-width: 120; padding: 0 1;
        border: round $accent; background: $surface;
    }
    PickerDialog #picker-title { text-style: bold; }
    PickerDialog #picker-status { color: $text-muted; height: auto; }
    """

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, kind: Kind = "file", value: str = "", suffixes: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.kind: Kind = kind
        self.start = start_for(kind, value)
        self.suffixes = suffixes

    def compose(self) -> ComposeResult:
        title = _TITLES[self.kind]
        if self.suffixes:
            title += f" (folders and {', '.join(self.suffixes)} files; a: all files)"
        with Vertical(id="picker"):
            yield Static(Text(title), id="picker-title")
            yield Static("", id="picker-status", markup=False)
            yield PickerTree(self.start, self.kind, self.suffixes, id="picker-tree")
        yield Footer()

    def on_picker_tree_said(self, event: PickerTree.Said) -> None:
        self.query_one("#picker-status", Static).update(Text(event.text))

    def on_picker_tree_chosen(self, event: PickerTree.Chosen) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PathInput(Input):
    """An ``Input`` for a path, with ctrl+o to browse for it (``PickerDialog``); typing still works.

    Screens read ``.value`` as from any ``Input``. For kind ``files`` the value
    is the chosen paths joined by ``shlex.join`` (a path with a space is
    quoted), so the screen splits it with ``shlex.split``.
    """

    BINDINGS: ClassVar = [Binding("ctrl+o", "browse", "Browse")]

    def __init__(
        self,
        value: str | None = None,
        placeholder: str = "",
        *args: Any,
        kind: Kind = "file",
        suffixes: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(value, f"{placeholder} {HINT}" if placeholder else HINT, *args, **kwargs)
        self.kind: Kind = kind
        self.suffixes = suffixes

    def action_browse(self) -> None:
        """Open the picker where the field points."""
        self.app.push_screen(PickerDialog(self.kind, self.value, self.suffixes), self._chosen)

    def _chosen(self, value: str | None) -> None:
        """Write the choice into the field (nothing on Escape), the cursor at its end."""
        if value is not None:
            self.value = value
            self.cursor_position = len(value)


__all__ = ["MAX_ENTRIES", "Kind", "Listed", "Listing", "PathInput", "PickerDialog", "PickerTree", "list_directory"]
