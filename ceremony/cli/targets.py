"""``ceremony targets add|remove|list``: the files a TUF repository vouches for (thin over core/targets.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ceremony import core
from ceremony.cli._common import _passphrase_option, _pin_option, _request_option, _run_change, _yes_option
from ceremony.core._json import loads_strict, read_bytes
from ceremony.core._text import printable
from ceremony.errors import UsageError


@click.group("targets")
def targets() -> None:
    """Target files: add, remove and list what a role vouches for (files go to WORKSPACE/targets/)."""


@targets.command("add")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--role",
    default="targets",
    show_default=True,
    help="targets, or a delegated role (with hash bins: each file to its bin).",
)
@click.option("--name", "names", multiple=True, metavar="PATH", help="Target path of each file (default: its name).")
@click.option("--custom", metavar="JSON", help="The targets' custom metadata (a JSON object).")
@click.option("--sha512", is_flag=True, help="List a sha512 hash beside sha256.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
def add_cmd(
    workspace: Path,
    files: tuple[Path, ...],
    role: str,
    names: tuple[str, ...],
    custom: str | None,
    sha512: bool,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Add FILES as targets of ROLE (new version of it, snapshot and timestamp re-signed where held here)."""
    if names and len(names) != len(files):
        raise UsageError(f"--name is given {len(names)} times for {len(files)} files; give it once per file or never")
    extra = None
    if custom is not None:
        extra = loads_strict(custom.encode(), "--custom")
        if not isinstance(extra, dict):
            raise UsageError("--custom must be a JSON object")
    items = [
        core.targets.NewTarget(name or path.name, read_bytes(path, "target file", core.targets.MAX_TARGET_BYTES), extra)
        for path, name in zip(files, names or [""] * len(files), strict=True)
    ]
    _run_change(
        workspace,
        lambda ctx: core.targets.plan_targets(ctx, role, add=items, sha512=sha512),
        request_out,
        yes,
        passphrase_files,
        pin_file,
    )


@targets.command("remove")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--role",
    default="targets",
    show_default=True,
    help="targets, or a delegated role (with hash bins: each file to its bin).",
)
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
def remove_cmd(
    workspace: Path,
    paths: tuple[str, ...],
    role: str,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Remove target PATHS from ROLE (and their files from WORKSPACE/targets/)."""
    _run_change(
        workspace,
        lambda ctx: core.targets.plan_targets(ctx, role, remove=list(paths)),
        request_out,
        yes,
        passphrase_files,
        pin_file,
    )


@targets.command("list")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--role",
    default="targets",
    show_default=True,
    help="targets, or a delegated role (with hash bins: each file to its bin).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(workspace: Path, role: str, as_json: bool) -> None:
    """List ROLE's targets with their length and hashes (and the hash bin of each, where ROLE has bins)."""
    by_role = core.targets.targets_by_role(core.Workspace.load(workspace), role)
    if as_json:
        listed = {path: info for found in by_role.values() for path, info in found.items()}
        click.echo(json.dumps(listed, indent=2, sort_keys=True))
        return
    rows = sorted((path, info, name) for name, found in by_role.items() for path, info in found.items())
    for path, info, name in rows:
        hashes = " ".join(f"{k}:{v[:16]}" for k, v in sorted(info.get("hashes", {}).items()))
        where = f"  (in {name})" if name != role else ""
        length = info.get("length")
        # Digits as clients and scripts have always read them here (no thousands separator), "1 byte" apart.
        size = f"{length} byte{'' if length == 1 else 's'}" if isinstance(length, int) else "length not given"
        click.echo(printable(f"{path}  {size}  {hashes}{where}", 700))
