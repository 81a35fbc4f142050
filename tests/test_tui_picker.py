"""The path field's picker, driven with the keyboard only: Tab to the field, ctrl+o, arrows, Enter."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, Input

from ceremony.tui.picker import MAX_ENTRIES, Kind, PathInput, PickerDialog, PickerTree, list_directory

SIZE = (80, 24)
EVIL = "evil\x1b[2J[bold]x\u202e.p12"


class FieldApp(App[None]):
    """One button (focused first, so the test must Tab to the field) and one path field."""

    def __init__(self, kind: Kind, value: str = "", suffixes: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.kind: Kind = kind
        self.start = value
        self.suffixes = suffixes

    def compose(self) -> ComposeResult:
        yield Button("before", id="before")
        yield PathInput(self.start, "path", kind=self.kind, suffixes=self.suffixes, id="path")


@pytest.fixture
def tree_dir(tmp_path: Path) -> Path:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "key one.p12").write_text("k")
    (tmp_path / "a" / "b" / "key2.p12").write_text("k")
    (tmp_path / "a" / "c").mkdir()
    (tmp_path / "z.txt").write_text("z")
    (tmp_path / ".hidden").write_text("h")
    return tmp_path


async def open_picker(pilot: Pilot[Any], directory: Path) -> PickerTree:
    """Tab to the field, ctrl+o, and wait for ``directory`` to be listed."""
    await pilot.press("tab")
    assert isinstance(pilot.app.focused, PathInput)
    await pilot.press("ctrl+o")
    return await listed(pilot, directory)


async def listed(pilot: Pilot[Any], directory: Path) -> PickerTree:
    """Wait until the picker shows ``directory`` (listing runs in a thread)."""
    for _ in range(200):
        await pilot.pause(0.01)
        screen = pilot.app.screen
        if isinstance(screen, PickerDialog):
            tree = screen.query_one(PickerTree)
            if tree.shown == directory and tree.cursor_node is not None:
                await pilot.pause()
                return tree
    raise AssertionError(f"{directory} was not listed")


def shown_lines(tree: PickerTree) -> list[str]:
    """The tree's lines as drawn on screen."""
    return ["".join(segment.text for segment in tree.render_line(y)) for y in range(tree.size.height)]


def field(app: App[None]) -> str:
    return app.query_one("#path", Input).value


async def test_choose_a_file_two_levels_down(tree_dir: Path) -> None:
    app = FieldApp("file", str(tree_dir) + os.sep, suffixes=(".p12",))
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, tree_dir)
        lines = shown_lines(tree)
        assert any("a/" in line for line in lines)
        assert not any("z.txt" in line or ".hidden" in line for line in lines)  # filtered, hidden
        await pilot.press("full_stop", "a")  # hidden files shown, then every file
        tree = await listed(pilot, tree_dir)
        lines = shown_lines(tree)
        assert any("z.txt" in line for line in lines) and any(".hidden" in line for line in lines)
        await pilot.press("full_stop", "a")
        tree = await listed(pilot, tree_dir)
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.path == tree_dir / "a"
        await pilot.press("enter")  # a/
        await listed(pilot, tree_dir / "a")
        await pilot.press("enter")  # b/
        await listed(pilot, tree_dir / "a" / "b")
        await pilot.press("down", "enter")  # key2.p12 (after "key one.p12")
        await pilot.pause()
        assert not isinstance(app.screen, PickerDialog)
        assert field(app) == str(tree_dir / "a" / "b" / "key2.p12")
        assert app.focused is app.query_one("#path")


async def test_backspace_goes_up_and_escape_leaves_the_field_unchanged(tree_dir: Path) -> None:
    start = str(tree_dir / "a" / "b" / "key2.p12")
    app = FieldApp("file", start)
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, tree_dir / "a" / "b")
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.path == tree_dir / "a" / "b" / "key2.p12"  # the file in the field
        await pilot.press("backspace")
        tree = await listed(pilot, tree_dir / "a")
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.path == tree_dir / "a" / "b"  # the folder just left
        await pilot.press("down", "enter")  # c/
        await listed(pilot, tree_dir / "a" / "c")
        assert any("(empty)" in line for line in shown_lines(tree))
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PickerDialog)
        assert field(app) == start


async def test_choose_a_directory(tree_dir: Path) -> None:
    app = FieldApp("dir", str(tree_dir))
    async with app.run_test(size=SIZE) as pilot:
        await open_picker(pilot, tree_dir)
        await pilot.press("down", "enter")  # into a/
        await listed(pilot, tree_dir / "a")
        await pilot.press("down", "c")  # b/ highlighted, chosen
        await pilot.pause()
        assert field(app) == str(tree_dir / "a" / "b")


async def test_new_path_keeps_the_typed_name(tree_dir: Path) -> None:
    app = FieldApp("new", str(tree_dir / "backup-1"))
    async with app.run_test(size=SIZE) as pilot:
        await open_picker(pilot, tree_dir)
        await pilot.press("down", "enter")  # into a/ (the cursor starts on the top line: this folder)
        await listed(pilot, tree_dir / "a")
        await pilot.press("c")  # the top line again: a/ itself
        await pilot.pause()
        assert field(app) == str(tree_dir / "a" / "backup-1")


async def test_several_files(tree_dir: Path) -> None:
    app = FieldApp("files", "")
    b = tree_dir / "a" / "b"
    async with app.run_test(size=SIZE) as pilot:
        os.chdir(b)  # an empty field opens the working directory
        await open_picker(pilot, b)
        await pilot.press("space", "down", "space")
        await pilot.press("enter")
        await pilot.pause()
        value = field(app)
        assert shlex.split(value) == [str(b / "key one.p12"), str(b / "key2.p12")]
        assert "'" in value  # the name with a space is quoted


async def test_hostile_names_shown_escaped_and_links_not_followed(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "inside.p12").touch()
    (tmp_path / "0link").symlink_to("a", target_is_directory=True)
    (tmp_path / "b-gone").mkdir()
    (tmp_path / EVIL).write_text("x")
    app = FieldApp("file", str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_picker(pilot, tmp_path)
        lines = shown_lines(tree)
        text = "\n".join(lines)
        assert "evil\\x1b[2J[bold]x\\u202e.p12" in text  # escaped, and [bold] shown, not read as markup
        assert "\x1b" not in text and "\u202e" not in text
        link_line = next(line for line in lines if "0link" in line)
        assert "(link, not followed) -> a" in link_line and "0link/" not in link_line
        # Lines: this folder, a/ (the cursor starts here: folders first), b-gone/, 0link, the hostile file.
        (tmp_path / "b-gone").rmdir()
        await pilot.press("down", "enter")  # a folder gone since it was listed: said, no crash
        await listed(pilot, tmp_path / "b-gone")
        assert any("(unreadable: No such file or directory)" in line for line in shown_lines(tree))
        await pilot.press("backspace")
        await listed(pilot, tmp_path)
        await pilot.press("down")
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.path == tmp_path / "0link"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert tree.shown == tmp_path  # not entered
        assert not tree.cursor_node.allow_expand and not tree.cursor_node.children
        assert not any("inside.p12" in line for line in shown_lines(tree))
        await pilot.press("down", "enter")  # the hostile file: refused (the field would echo the ESC raw)
        await pilot.pause()
        assert isinstance(app.screen, PickerDialog)
        assert tree.cursor_node.data.path.name == EVIL
        assert field(app) == str(tmp_path)


def test_listing_is_bounded_and_survives_unreadable(tmp_path: Path) -> None:
    for n in range(MAX_ENTRIES + 5):
        (tmp_path / f"f{n:05}").touch()
    listing = list_directory(tmp_path)
    assert len(listing.entries) == MAX_ENTRIES and listing.more
    gone = list_directory(tmp_path / "missing")
    assert gone.entries == () and gone.error
    not_dir = list_directory(tmp_path / "f00000")
    assert not_dir.error
