"""What every command of the command line shares: secrets asked without echo (or read from files named on the
command line, never from argv itself), the review-and-confirm step, the options that carry them, and the
progress line shown on a terminal while slow work runs (hidden whenever anyone is asked anything).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from ceremony import core
from ceremony.core import _workers
from ceremony.core._json import read_secret_file
from ceremony.core._text import printable
from ceremony.errors import PassphraseError, UsageError

#: How many times one keyholder may type a new key's passphrase (too short, or the repeat differs) before the
#: command stops and writes nothing; until then the keyholders before them need not type theirs again.
PASSPHRASE_TRIES = 3

#: A progress line appears only for work that has taken this long (seconds), and is redrawn this often.
PROGRESS_AFTER = 1.0
PROGRESS_EVERY = 0.2


class _ProgressLine:
    """``what... N s`` on a terminal's stderr, redrawn from a thread, hidden while anyone is asked anything."""

    def __init__(self, what: str, stream: TextIO) -> None:
        self.what = what
        self.stream = stream
        self.started = time.monotonic()
        self.paused = False
        self.shown = False
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def _run(self) -> None:
        while not self.done.wait(PROGRESS_EVERY):
            with self.lock:
                elapsed = time.monotonic() - self.started
                if self.paused or elapsed < PROGRESS_AFTER:
                    continue
                self.stream.write(f"\r\x1b[K{self.what}... {int(elapsed)} s")
                self.stream.flush()
                self.shown = True

    def erase(self) -> None:
        """Clear the line (the caller holds the lock), so a prompt or a result starts on a clean line."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def pause(self) -> None:
        with self.lock:
            self.paused = True
            self.erase()

    def resume(self, what: str | None) -> None:
        """Work again after a prompt: the clock restarts, so a quick step after it shows nothing."""
        with self.lock:
            self.what = what or self.what
            self.started = time.monotonic()
            self.paused = False


_active: list[_ProgressLine] = []


@contextlib.contextmanager
def progress(what: str) -> Iterator[None]:
    """Show ``what... N s`` on stderr while the work inside takes more than a second, then erase it.

    Only when stderr is a terminal: scripts and tests that read stderr get nothing from it. Never over a
    prompt: every prompt of this module hides the line while it asks (``_asking``), so a keyholder types a
    secret on a clean line. Nested uses keep the outer line.
    """
    if _active or not sys.stderr.isatty():
        yield
        return
    line = _ProgressLine(what, sys.stderr)
    _active.append(line)
    _workers.fork_beside(line.thread)  # a verify may still use both cores: the line's thread is nothing a child needs
    line.thread.start()
    try:
        yield
    finally:
        line.done.set()
        line.thread.join()
        with line.lock:
            line.erase()
        _active.remove(line)


@contextlib.contextmanager
def _asking(then: str | None = None) -> Iterator[None]:
    """Hide the progress line while the operator is asked (or shown a review); ``then`` names the work after."""
    for line in _active:
        line.pause()
    try:
        yield
    finally:
        for line in _active:
            line.resume(then)


def _passphrase_provider(files: Sequence[Path], confirm: bool | Callable[[str], bool]) -> Callable[[str], str]:
    """Passphrases from files (one per key in order, or one shared) or typed without echo.

    ``confirm`` says whether to ask twice (for a new key), for every label or per label. A new key's
    passphrase that is too short, or whose repeat differs, is asked again of the same keyholder (up to
    PASSPHRASE_TRIES times) with the reason, so a typo by the third keyholder does not send the first two
    back to the start.
    """
    if files:
        secrets = [read_secret_file(f, "passphrase") for f in files]
        used = iter(range(10**6))

        def from_files(label: str) -> str:
            index = next(used)
            if len(secrets) == 1:
                return secrets[0]
            if index >= len(secrets):
                raise UsageError(f"not enough --passphrase-file options: none left for key {label}")
            return secrets[index]

        return from_files

    def prompt(label: str) -> str:
        if not sys.stdin.isatty():
            raise UsageError(
                f"no terminal to ask the passphrase for {label} on; use --passphrase-file for drills and automation"
            )
        new = confirm(label) if callable(confirm) else confirm
        with _asking(f"{'Generating' if new else 'Unlocking'} {label}"):
            click.echo(f"\nKeyholder of {label}: type your passphrase (it is not shown).", err=True)
            if not new:
                return str(click.prompt(f"Passphrase for {label}", hide_input=True, err=True))
            return _new_passphrase(label)

    return prompt


def _new_passphrase(label: str) -> str:
    """A new key's passphrase, typed twice and long enough (``keys.check_passphrase``), re-asked on a mistake."""
    attempt = 1
    while True:
        first = str(click.prompt(f"Passphrase for {label}", hide_input=True, err=True))
        try:
            core.keys.check_passphrase(first, label)
            if click.prompt(f"Repeat the passphrase for {label}", hide_input=True, err=True) == first:
                return first
            raise PassphraseError(f"the two passphrases for {label} differ")
        except PassphraseError as err:
            if attempt >= PASSPHRASE_TRIES:
                raise PassphraseError(f"{err} ({PASSPHRASE_TRIES} tries); nothing was written") from None
            left = PASSPHRASE_TRIES - attempt
            click.echo(f"{err}; type it again ({left} {'try' if left == 1 else 'tries'} left)", err=True)
        attempt += 1


def _pin_prompt(prompt: str) -> str:
    """Ask for a token PIN without echo; the prompt names the token and its PIN flags."""
    token = prompt.split(" [")[0]
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to ask for the {token}; use pin-source=file:... in the URI for drills")
    with _asking(f"Working with {token.removeprefix('PIN for ')}"):
        return str(click.prompt(prompt, hide_input=True, err=True))


_passphrase_option = click.option(
    "--passphrase-file",
    "passphrase_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Drills/automation: passphrases from files, one per key in the order asked, or one for all.",
)


_pin_option = click.option("--pin-file", type=click.Path(path_type=Path), help="Drills/automation: token PIN file.")


_yes_option = click.option("--yes", is_flag=True, help="Skip the confirmation (the change is still shown).")


def _show_and_confirm(
    lines: list[str],
    digest_hex: str,
    words: str,
    yes: bool,
    verb: str = "sign",
    unsigned: Sequence[str] = (),
) -> None:
    """Show what will be signed and the digest to read aloud, last, right before the question.

    ``unsigned`` is a request's own description: shown first, marked as not
    signed, so nothing a request file carries can stand between the computed
    diff and words and the question (every line is printable: escapes from a
    file are shown, never interpreted).
    """
    with _asking():
        _review_and_ask(lines, digest_hex, words, yes, verb, unsigned)


def _review_and_ask(
    lines: list[str], digest_hex: str, words: str, yes: bool, verb: str, unsigned: Sequence[str]
) -> None:
    """The review itself (``_show_and_confirm`` hides any progress line around it)."""
    if unsigned:
        click.echo("The request describes itself as follows (NOT signed; the words below do not cover it):")
        for line in unsigned:
            click.echo(f"  | {printable(line, 300)}")
        click.echo("")
    click.echo("What will change: (computed here from the metadata that will be signed)")
    for line in lines:
        click.echo(f"  {printable(line)}")
    click.echo(f"SHA-256 of what will be signed: {digest_hex}")
    click.echo(f"  as words (BIP-39): {words}")
    click.echo("  keyholders: compare these words with what the administrator reads aloud")
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"no terminal to confirm on; pass --yes to {verb} without asking")
    answer = click.prompt(f"Type 'yes' to {verb}", default="", show_default=False, err=True)
    if answer.strip().lower() != "yes":
        raise UsageError(
            f"not confirmed; nothing was {verb}ed" if verb == "sign" else "not confirmed; nothing was written"
        )


_request_option = click.option(
    "--request",
    "request_out",
    type=click.Path(path_type=Path),
    help="Do not sign here: write a sign request for keyholders to sign (ceremony sign) and merge later.",
)


def _is_new_key(label: str) -> bool:
    """New keys' passphrases are typed twice."""
    return label.startswith("new key ")


def _run_change(
    workspace: Path,
    plan: Callable[[core.proposal.ChangeContext], tuple[Any, Any]],
    request_out: Path | None,
    yes: bool,
    passphrase_files: Sequence[Path],
    pin_file: Path | None,
    plan_run: Any = None,
) -> None:
    """Plan a change, show it, then sign and publish it here or write a sign request (``plan_run``: the step of a
    ceremony plan it is, recorded with it)."""
    ws = core.Workspace.load(workspace)
    provider = _passphrase_provider(passphrase_files, confirm=_is_new_key)
    with contextlib.ExitStack() as stack:
        ctx = core.proposal.ChangeContext(
            ws, provider, _pin_prompt, stack, datetime.now(UTC), pin_file, plan_run=plan_run
        )
        with progress("Preparing the change"):
            state, proposal = plan(ctx)
            lines, digest_hex, words = core.proposal.describe_proposal(state, proposal)
        _show_and_confirm(lines, digest_hex, words, yes)
        with progress("Signing, verifying and writing the change"):
            applied = core.changes.apply(ctx, state, proposal, request_out)
    if applied.published is None:
        click.echo(f"Wrote sign request {applied.request_id} to {request_out}")
        click.echo("  each keyholder: ceremony sign REQUEST --key KEYSPEC; then: ceremony merge WORKSPACE REQUEST...")
        click.echo(f"transcript head: {applied.transcript_head}")
        return
    _print_published(applied.published)


def _status_line(status: Any) -> str:
    """Where one threshold stands, its role named once ("timestamp role: 1 of 1", "root: new root ...: 1 of 2")."""
    described = str(status.describe())
    return described if described.startswith(f"{status.role} ") else f"{status.role}: {described}"


def _print_published(result: Any) -> None:
    """Thresholds reached and files written."""
    for status in result.statuses:
        click.echo(f"  {_status_line(status)}")
    for name, digest in result.files.items():
        click.echo(f"  {'removed' if digest is None else 'wrote':<8} {name}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}", err=True)
    click.echo("published")
    click.echo(f"transcript head: {result.transcript_head}")


def plan_options(func: Any) -> Any:
    """--plan, --time and --exception, for every command a plan's step runs."""
    func = click.option(
        "--exception",
        metavar="TEXT",
        help="With --plan: the witness's reason to go on although a preflight check failed (recorded).",
    )(func)
    func = click.option(
        "--time",
        "trusted_time",
        metavar="'YYYY-MM-DD HH:MM'",
        help="With --plan: the UTC time read from a trusted source.",
    )(func)
    return click.option(
        "--plan",
        "plan_file",
        type=click.Path(path_type=Path),
        help="Run this step of a ceremony plan: options from the plan, preflight first, the plan's hash and the "
        "step recorded in the transcript.",
    )(func)
