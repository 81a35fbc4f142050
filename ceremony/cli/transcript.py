"""``ceremony transcript``: the workspace's hash-chained record, checked, and signed off by witnesses."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from ceremony import core
from ceremony.cli._common import (
    _asking,
    _passphrase_option,
    _passphrase_provider,
    _pin_option,
    _pin_prompt,
    _yes_option,
    progress,
)
from ceremony.core import diff as _diff
from ceremony.core import signoff as _signoff
from ceremony.core._text import plural, printable
from ceremony.errors import UsageError


@click.group()
def transcript() -> None:
    """The workspace's hash-chained transcript."""


@transcript.command("verify")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--expect-head", metavar="HASH", help="A head hash a witness noted; it must still be in the chain.")
def transcript_verify(workspace: Path, expect_head: str | None) -> None:
    """Check the transcript's hash chain and that the files it names still match; then every sign-off of it."""
    ws = core.Workspace.load(workspace)
    report = core.verify_workspace_transcript(ws, expect_head)
    # Every sign-off is checked before anything is printed: a forged one fails the command, never after "ok".
    checks = _signoff.verify_workspace_signoffs(ws, report)
    click.echo(
        f"transcript ok: {plural(report.entries, 'entry', 'entries')}; {plural(len(report.files_checked), 'file')} "
        "checked, each matches the last SHA-256 recorded for it"
    )
    click.echo(f"transcript head: {report.head}")
    click.echo(f"  as words (BIP-39): {_diff.digest_words(bytes.fromhex(report.head))}")
    if not checks:
        click.echo("no sign-offs")
    for check in checks:
        click.echo(
            f"signed off: {printable(check.signer, 100)} ({check.role}) at entry {check.entries}, "
            f"key {check.keyid[:16]}, {printable(check.who, 200)}"
        )


def _confirm_signoff(yes: bool) -> None:
    """Ask before signing, unless ``--yes`` (the head is shown either way).

    Raises:
        UsageError: no terminal to ask on, or not confirmed.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("no terminal to confirm on; pass --yes to sign without asking")
    with _asking():
        answer = click.prompt("Sign this transcript head? Type 'yes' to sign", default="", show_default=False, err=True)
    if answer.strip().lower() != "yes":
        raise UsageError("not confirmed; nothing was signed")


@transcript.command("sign")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--key",
    "keyspec",
    required=True,
    metavar="KEYSPEC",
    help="Your own key: a pkcs11: URI or a software key file (.p12, or file:PATH), as for ceremony sign.",
)
@click.option("--name", "signer", required=True, help="Your name, as the plan and the printed script give it.")
@click.option("--role", required=True, type=click.Choice(_signoff.ROLES), help="The role you sign off in.")
@_passphrase_option
@_pin_option
@_yes_option
def transcript_sign(
    workspace: Path,
    keyspec: str,
    signer: str,
    role: str,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Sign the verified transcript head with your own key (software or token), as a witness or participant.

    The head is shown as hex and as 24 words to compare with what was read aloud and written on the printed
    script; the sign-off is written to WORKSPACE/signoffs/ and checked by ceremony transcript verify.
    """
    from ceremony.core.signers import PKCS11, KeySpec  # tokens' code, only when signing

    own = KeySpec.parse_own(keyspec)
    token = own.kind == PKCS11
    if token and passphrase_files:
        raise UsageError("--passphrase-file is for a software key; a token key takes --pin-file")
    if not token and pin_file is not None:
        raise UsageError("--pin-file is for a token key; a software key file takes --passphrase-file")
    if len(passphrase_files) > 1:
        raise UsageError("give one --passphrase-file: a sign-off is made with one key")
    ws = core.Workspace.load(workspace)
    with progress("Verifying the transcript"):
        head = _signoff.transcript_head(ws)
        plan = _signoff.load_plan_file(ws, head.plan_sha256) if head.plan_sha256 else None
    click.echo(f"workspace: {printable(head.workspace, 200)}")
    if plan is not None:
        click.echo(f"plan: {printable(plan.name, 200)} (SHA-256 {plan.sha256})")
    click.echo(f"transcript head after {plural(head.entries, 'entry', 'entries')}: {head.head}")
    click.echo(f"  as words (BIP-39): {head.words}")
    click.echo("  compare them with the head read aloud and written on the printed script")
    click.echo(f"{printable(signer, 100)} ({role}) signs it with the {printable(own.describe(), 300)}")
    _confirm_signoff(yes)
    provider = _passphrase_provider(list(passphrase_files), confirm=False)
    with contextlib.ExitStack() as stack, progress("Signing and verifying"):
        result = _signoff.sign_head(
            ws, keyspec, signer, role, provider, _pin_prompt, stack, pin_file=pin_file, plan=plan, head=head
        )
    check = result.check
    click.echo(
        f"signed off: {printable(check.signer, 100)} ({check.role}) at entry {check.entries}, key "
        f"{check.keyid[:16]}, {printable(check.who, 200)}; the signature verified"
    )
    click.echo(f"wrote {result.path}")
