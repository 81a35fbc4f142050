"""The command line's manners on a terminal: a progress line on stderr for slow work, only there, never over a
question; and the one-line hint when a workspace is given where its metadata directory is meant."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from ceremony.cli import _common, main

ERASE = "\r\x1b[K"


def _drain(fd: int) -> str:
    """Everything written to the other end so far."""
    out = b""
    while select.select([fd], [], [], 0.05)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out.decode()


@pytest.fixture
def terminal() -> Iterator[tuple[int, TextIO]]:
    """A real pseudo-terminal: the end a person's screen would read, and a stream on the other end.

    Each test puts the stream in sys.stderr itself: pytest's output capture sets sys.stderr again
    between a fixture's setup and the test.
    """
    master, slave = pty.openpty()
    stream = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    yield master, stream
    stream.close()
    os.close(master)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line after 0 s, redrawn every 10 ms: the test needs no step that takes a second."""
    monkeypatch.setattr(_common, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(_common, "PROGRESS_EVERY", 0.01)


def test_a_slow_step_shows_a_progress_line_then_erases_it(
    terminal: tuple[int, TextIO], quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    master, stream = terminal
    monkeypatch.setattr(sys, "stderr", stream)
    with _common.progress("Exporting the backup"):
        time.sleep(0.2)
    screen = _drain(master)
    assert f"{ERASE}Exporting the backup... 0 s" in screen
    assert screen.endswith(ERASE), "the line was left on the screen"


def test_nothing_for_work_under_a_second(terminal: tuple[int, TextIO], monkeypatch: pytest.MonkeyPatch) -> None:
    master, stream = terminal
    monkeypatch.setattr(sys, "stderr", stream)
    with _common.progress("Verifying"):
        time.sleep(0.3)
    assert _drain(master) == ""


def test_the_line_is_hidden_while_anyone_is_asked(
    terminal: tuple[int, TextIO], quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    master, stream = terminal
    monkeypatch.setattr(sys, "stderr", stream)
    with _common.progress("Creating the repository"):
        time.sleep(0.1)
        with _common._asking("Generating root-2"):
            assert _drain(master).endswith(ERASE)  # the prompt starts on a clean line
            time.sleep(0.1)
            assert _drain(master) == "", "the progress line was drawn over a prompt"
        time.sleep(0.1)
    assert "Generating root-2... 0 s" in _drain(master)


def test_key_generation_on_a_terminal_and_piped(
    terminal: tuple[int, TextIO],
    quick: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    master, stream = terminal
    monkeypatch.setattr(sys, "stderr", stream)
    passphrase = tmp_path / "pf"
    passphrase.write_text("correct horse battery staple\n")
    args = ["key", "generate", "--key-type", "rsa-pss-3072", "--passphrase-file", str(passphrase)]
    main.main([*args, str(tmp_path / "a.p12")], standalone_mode=False)
    screen = _drain(master)
    assert f"{ERASE}Generating the rsa-pss-3072 key... 0 s" in screen
    assert screen.endswith(ERASE)
    assert "wrote" in capsys.readouterr().out  # results stay on stdout, apart from the line

    # stderr to a pipe (a script, a log): not one byte of progress.
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as piped:
        monkeypatch.setattr(sys, "stderr", piped)
        main.main([*args, str(tmp_path / "b.p12")], standalone_mode=False)
    with open(read_end, encoding="utf-8") as reader:
        assert reader.read() == ""


def test_verify_of_a_workspace_names_its_metadata_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    (ws / "metadata").mkdir(parents=True)
    (ws / "ceremony.json").write_text("{}")
    with pytest.raises(SystemExit) as exited:
        main.main(["verify", str(ws)], standalone_mode=False)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {ws} is a workspace, not a metadata directory; verify its metadata: ceremony verify {ws}/metadata\n"
    )


def test_a_small_ceremony_reads_as_an_operator_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every line the CLI prints over init, status, a change, verify and the transcript, read for the defects
    the core's messages are read for ("1 days", "key(s)", "None", a word said twice, "3 of 2")."""
    from tests.core.test_wording import DEFECTS, _over_threshold

    ws = tmp_path / "ws"
    pf = tmp_path / "pf"
    pf.write_text("correct horse battery staple\n")
    (tmp_path / "a.txt").write_text("a")
    keys = ["--passphrase-file", str(pf), "--yes"]
    for args in (
        ["init", str(ws), "--key-type", "ed25519", "--root-keys", "2", "--threshold", "1", "--expires", "timestamp=1",
         *keys],
        ["status", str(ws)],
        ["extend", str(ws), "--role", "timestamp", "--days", "1", *keys],
        ["targets", "add", str(ws), str(tmp_path / "a.txt"), *keys],
        ["targets", "list", str(ws)],
        ["verify", str(ws / "metadata")],
        ["transcript", "verify", str(ws)],
    ):  # fmt: skip
        main.main(args, standalone_mode=False)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "expires in 1 day\n" in text and "a.txt  1 byte  sha256:" in text
    assert "timestamp role: 1 of 1" in text and "timestamp: timestamp" not in text
    found = [(name, m.group(0)) for name, pattern in DEFECTS.items() for m in pattern.finditer(text)]
    assert found == [], found
    assert _over_threshold(text) == [], text
