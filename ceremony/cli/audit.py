"""``ceremony audit bundle|verify``: the auditor's archive, written from a workspace and verified without one
(thin over core/audit.py; docs/audit.md)."""

from __future__ import annotations

from pathlib import Path

import click

from ceremony import core
from ceremony.cli._common import progress
from ceremony.core._text import plural, printable


@click.group("audit")
def audit() -> None:
    """The audit bundle: one archive an outsider verifies offline (docs/audit.md)."""


@audit.command("bundle")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The bundle file to write (a new file).")
def bundle_cmd(workspace: Path, out: Path) -> None:
    """Verify WORKSPACE, then write its audit bundle: transcript, plans, metadata, keys, tokens, drills, ledger,
    sign-offs and a manifest of hashes, in one uncompressed tar."""
    ws = core.Workspace.load(workspace)
    with progress(f"Verifying {workspace} and writing the audit bundle"):
        summary = core.audit.write_bundle(ws, out)
    click.echo(f"wrote {printable(str(summary.path))}")
    click.echo(f"sha256 {summary.sha256}")
    click.echo(
        f"{plural(summary.members, 'member')}; transcript head {summary.head} "
        f"({plural(summary.entries, 'entry', 'entries')})"
    )


@audit.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path))
def verify_cmd(bundle: Path) -> None:
    """Verify an audit BUNDLE offline, without the workspace; print what it proves and what it cannot."""
    with progress(f"Verifying {bundle}"):
        report = core.audit.verify_bundle(bundle)
    click.echo(
        printable(
            f"audit bundle {bundle} verified: workspace {report.workspace!r} ({report.profile}), "
            f"{plural(report.members, 'member')}, transcript head {report.head} "
            f"({plural(report.entries, 'entry', 'entries')})",
            4000,
        )
    )
    click.echo("proves:")
    for line in report.proves:
        click.echo(f"  - {printable(line, 4000)}")
    click.echo("cannot prove:")
    for line in report.cannot_prove:
        click.echo(f"  - {printable(line, 4000)}")
