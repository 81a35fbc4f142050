"""What every command of the command line shares: secrets asked without echo (or read from files named on the
command line, never from argv itself), the review-and-confirm step, and the options that carry them.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ceremony import core
from ceremony.core._json import read_secret_file
from ceremony.core._text import printable
from ceremony.errors import PassphraseError, UsageError


def _passphrase_provider(files: Sequence[Path], confirm: bool | Callable[[str], bool]) -> Callable[[str], str]:
    """Passphrases from files (one per key in order, or one shared) or typed without echo.

    ``confirm`` says whether to ask twice (for a new key), for every label or per label.
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
        click.echo(f"\nKeyholder of {label}: type your passphrase (it is not shown).", err=True)
        first = click.prompt(f"Passphrase for {label}", hide_input=True, err=True)
        if confirm(label) if callable(confirm) else confirm:
            second = click.prompt(f"Repeat the passphrase for {label}", hide_input=True, err=True)
            if first != second:
                raise PassphraseError(f"the two passphrases for {label} differ; nothing was written")
        return first

    return prompt


def _pin_prompt(prompt: str) -> str:
    """Ask for a token PIN without echo; the prompt names the token and its PIN flags."""
    if not sys.stdin.isatty():
        raise UsageError(
            f"no terminal to ask for the {prompt.split(' [')[0]}; use pin-source=file:... in the URI for drills"
        )
    return click.prompt(prompt, hide_input=True, err=True)


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
) -> None:
    """Plan a change, show it, then sign and publish it here or write a sign request."""
    ws = core.Workspace.load(workspace)
    provider = _passphrase_provider(passphrase_files, confirm=_is_new_key)
    with contextlib.ExitStack() as stack:
        ctx = core.proposal.ChangeContext(ws, provider, _pin_prompt, stack, datetime.now(UTC), pin_file)
        state, proposal = plan(ctx)
        lines, digest_hex, words = core.proposal.describe_proposal(state, proposal)
        _show_and_confirm(lines, digest_hex, words, yes)
        applied = core.changes.apply(ctx, state, proposal, request_out)
    if applied.published is None:
        click.echo(f"Wrote sign request {applied.request_id} to {request_out}")
        click.echo("  each keyholder: ceremony sign REQUEST --key KEYSPEC; then: ceremony merge WORKSPACE REQUEST...")
        click.echo(f"transcript head: {applied.transcript_head}")
        return
    _print_published(applied.published)


def _print_published(result: Any) -> None:
    """Thresholds reached and files written."""
    for status in result.statuses:
        click.echo(f"  {status.role}: {status.describe()}")
    for name, digest in result.files.items():
        click.echo(f"  {'removed' if digest is None else 'wrote':<8} {name}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}", err=True)
    click.echo("published")
    click.echo(f"transcript head: {result.transcript_head}")
