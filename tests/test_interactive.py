"""The interactive path: a real terminal (pty), keyholders typing passphrases twice, nothing echoed."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CliRunner


class Terminal:
    """`ceremony` on a pseudo-terminal, answered prompt by prompt like an operator would."""

    def __init__(self, *args: str | Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ceremony", *map(str, args)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        self.output = b""

    def expect(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {text!r} on the terminal; got:\n{self.output.decode(errors='replace')}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    break
        # Consume up to and including the prompt so the next expect waits for a new one.
        index = self.output.index(text.encode()) + len(text)
        self.seen = getattr(self, "seen", b"") + self.output[:index]
        self.output = self.output[index:]

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or select.select([self.master], [], [], 0)[0]:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("ceremony did not finish")
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.output += chunk
        os.close(self.master)
        return self.proc.wait(), (getattr(self, "seen", b"") + self.output).decode(errors="replace")


LABELS = ["root-1", "root-2", "targets", "snapshot", "timestamp"]


def test_each_keyholder_types_their_own_passphrase(cli: CliRunner, tmp_path: Path) -> None:
    term = Terminal("init", tmp_path / "ws", "--root-keys", "2", "--threshold", "1")
    term.expect("Create this repository? [y/N]:")
    term.type("y")
    secrets = {label: f"secret words of {label} keyholder" for label in LABELS}
    for label in LABELS:
        term.expect(f"Passphrase for {label}:")
        term.type(secrets[label])
        term.expect(f"Repeat the passphrase for {label}:")
        term.type(secrets[label])
    code, screen = term.finish()
    assert code == 0, screen
    assert "Created" in screen
    for secret in secrets.values():
        assert secret not in screen, "a passphrase was echoed"
    # Each key opens with its own keyholder's passphrase only.
    pf = tmp_path / "pf"
    pf.write_text(secrets["root-2"] + "\n")
    assert cli("key", "check", tmp_path / "ws", "root-2", "--passphrase-file", pf).returncode == 0
    assert cli("key", "check", tmp_path / "ws", "root-1", "--passphrase-file", pf).returncode == 1


def test_mismatched_repeat_writes_nothing(tmp_path: Path) -> None:
    term = Terminal("init", tmp_path / "ws", "--root-keys", "2", "--threshold", "1", "--key-type", "ed25519")
    term.expect("Create this repository? [y/N]:")
    term.type("y")
    for attempt in range(3):  # each mistake is asked again of the same keyholder, up to three tries
        term.expect("Passphrase for root-1:")
        term.type(f"first passphrase typed {attempt}")
        term.expect("Repeat the passphrase for root-1:")
        term.type(f"second passphrase typed {attempt}")
    code, screen = term.finish()
    assert code == 1
    assert "the two passphrases for root-1 differ; type it again (2 tries left)" in screen
    assert "error: the two passphrases for root-1 differ (3 tries); nothing was written" in screen
    assert "Passphrase for root-2" not in screen
    assert "Traceback" not in screen
    assert not (tmp_path / "ws").exists()


def test_a_mistake_by_the_third_keyholder_is_asked_again_not_from_the_start(cli: CliRunner, tmp_path: Path) -> None:
    term = Terminal("init", tmp_path / "ws", "--key-type", "ed25519")  # 2 of 3 root keys
    term.expect("Create this repository? [y/N]:")
    term.type("y")
    labels = ["root-1", "root-2", "root-3", "targets", "snapshot", "timestamp"]
    secrets = {label: f"secret words of {label} keyholder" for label in labels}
    for label in labels:
        term.expect(f"Passphrase for {label}:")
        if label == "root-3":
            term.type("typo one")  # 8 characters: long enough, but the repeat differs
            term.expect("Repeat the passphrase for root-3:")
            term.type("typo two")
            term.expect("the two passphrases for root-3 differ; type it again (2 tries left)")
            term.expect("Passphrase for root-3:")
            term.type("abc12")
            term.expect("the passphrase for root-3 is too short: use at least 8 characters; type it again (1 try left)")
            term.expect("Passphrase for root-3:")
        term.type(secrets[label])
        term.expect(f"Repeat the passphrase for {label}:")
        term.type(secrets[label])
    code, screen = term.finish()
    assert code == 0, screen
    assert "Created" in screen
    assert screen.count("Passphrase for root-1:") == 1, "the first keyholder was asked again"
    for secret in [*secrets.values(), "typo one", "typo two", "abc12"]:
        assert secret not in screen, "a passphrase was echoed"
    assert cli("verify", tmp_path / "ws" / "metadata").returncode == 0
    pf = tmp_path / "pf"
    pf.write_text(secrets["root-3"] + "\n")
    assert cli("key", "check", tmp_path / "ws", "root-3", "--passphrase-file", pf).returncode == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--root-keys", "3", "--threshold", "5"), "error: root: threshold 5 is above its 3 key"),
        (("--expires", "timestamp=0"), "error: timestamp: an expiry of 0 days is not in the future"),
        (("--profile", "sigstore", "--key-type", "ecdsa-p384"), "sigstore-js cannot verify"),
    ],
)
def test_init_refuses_an_impossible_plan_before_showing_it_or_asking(
    tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    term = Terminal("init", tmp_path / "ws", *args)
    code, screen = term.finish(timeout=30)
    assert code == 1, screen
    assert error in screen
    lines = [line for line in screen.splitlines() if line.strip()]
    assert len(lines) == 1, screen  # no plan ("root: 5 of 3 keys"), no question, one line
    assert not (tmp_path / "ws").exists()


def test_init_refuses_a_taken_directory_before_any_question(tmp_path: Path) -> None:
    taken = tmp_path / "ws"
    taken.mkdir()
    (taken / "notes.txt").write_text("the operator's own file\n")
    term = Terminal("init", taken)
    code, screen = term.finish(timeout=30)
    assert code == 1, screen
    assert [line for line in screen.splitlines() if line.strip()] == [
        f"error: {taken}: already exists; a workspace needs a new or empty directory"
    ]
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]


def test_notary_init_refuses_an_impossible_threshold_before_its_plan(cli: CliRunner, tmp_path: Path) -> None:
    from tests.conftest import one_line_error

    result = cli(
        "init", tmp_path / "ws", "--profile", "notary", "--gun", "docker.io/org/app", "--server-keys",
        tmp_path / "fetched.json", "--out", tmp_path / "bundle.json", "--targets-key-out", tmp_path / "t.key",
        "--root-keys", "3", "--threshold", "5",
    )  # fmt: skip
    assert "threshold 5 is above its 3 key" in one_line_error(result)
    assert "5 of 3" not in result.stdout + result.stderr
    assert result.stdout == ""


def test_declining_confirmation_writes_nothing(tmp_path: Path) -> None:
    term = Terminal("init", tmp_path / "ws")
    term.expect("Create this repository? [y/N]:")
    term.type("n")
    code, _screen = term.finish()
    assert code != 0
    assert not (tmp_path / "ws").exists()


def test_ctrl_c_at_a_passphrase_prompt_leaves_nothing(tmp_path: Path) -> None:
    term = Terminal("init", tmp_path / "ws", "--root-keys", "2", "--threshold", "1")
    term.expect("Create this repository? [y/N]:")
    term.type("y")
    term.expect("Passphrase for root-1:")
    term.proc.send_signal(signal.SIGINT)  # what Ctrl-C on the operator's terminal delivers
    code, screen = term.finish()
    assert code != 0
    assert "Traceback" not in screen
    assert not (tmp_path / "ws").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ws.")]


def test_token_pin_is_asked_without_echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.softhsm import USER_PIN, new_softhsm

    hsm = new_softhsm(tmp_path / "softhsm")
    serial = hsm.make_token("root-1")
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.conf))
    term = Terminal("hsm", "keygen", "--token", f"pkcs11:token=root-1;serial={serial}", "--label", "root-key")
    term.expect(f"PIN for token 'root-1' (serial {serial}) [no failed PIN attempts reported]:")
    term.type(USER_PIN)
    code, screen = term.finish()
    assert code == 0, screen
    assert "test signature over a random challenge: verified" in screen
    assert USER_PIN not in screen
    # A wrong PIN is reported once; the next prompt shows the token's warning flag.
    term = Terminal("hsm", "keygen", "--token", f"pkcs11:token=root-1;serial={serial}", "--label", "other")
    term.expect("PIN for token 'root-1'")
    term.type("0000")
    code, screen = term.finish()
    assert code == 1 and "rejected the PIN" in screen and "Traceback" not in screen
    term = Terminal("hsm", "keygen", "--token", f"pkcs11:token=root-1;serial={serial}", "--label", "other")
    term.expect("[PIN count low]:")
    term.type(USER_PIN)
    code, screen = term.finish()
    assert code == 0, screen


def test_no_command_opens_the_terminal_ui(tmp_path: Path) -> None:
    import fcntl
    import struct
    import termios

    term = Terminal()
    fcntl.ioctl(term.master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    term.expect("no workspace open", timeout=60)
    os.write(term.master, b"q")
    code, _out = term.finish(timeout=30)
    assert code == 0


def test_the_terminal_ui_refuses_to_run_without_a_terminal(cli: CliRunner) -> None:
    from tests.conftest import one_line_error

    assert "needs a terminal" in one_line_error(cli())
    assert "needs a terminal" in one_line_error(cli("tui"))
