"""``ceremony sigstore``: the trust root of a private Sigstore instance (thin over core/sigstore.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ceremony.cli._common import _passphrase_option, _pin_option, _request_option, _run_change, _yes_option
from ceremony.core import sigstore as _sigstore
from ceremony.core._json import read_bytes


@click.group("sigstore")
def sigstore() -> None:
    """A private Sigstore instance: the trusted root and signing config its clients fetch as TUF targets."""


@sigstore.command("set-trust")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--trusted-root",
    "trusted_root",
    required=True,
    type=click.Path(path_type=Path),
    help=f"The instance's trusted root, published as {_sigstore.TRUSTED_ROOT_NAME}.",
)
@click.option(
    "--signing-config",
    "signing_config",
    type=click.Path(path_type=Path),
    help=f"Its signing config (v0.2), published as {_sigstore.SIGNING_CONFIG_NAME}; sigstore-python needs one.",
)
@click.option("--role", default="targets", show_default=True, help="targets, or a delegated role.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
def set_trust_cmd(
    workspace: Path,
    trusted_root: Path,
    signing_config: Path | None,
    role: str,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Check the trusted root (and signing config) as Sigstore's clients will read them, show what changed, and
    publish them as targets of ROLE (or write a sign request)."""
    root = read_bytes(trusted_root, "trusted root", _sigstore.MAX_TRUST_FILE_BYTES)
    config = read_bytes(signing_config, "signing config", _sigstore.MAX_TRUST_FILE_BYTES) if signing_config else None
    _run_change(
        workspace,
        lambda ctx: _sigstore.plan_set_trust(ctx, root, config, role),
        request_out,
        yes,
        passphrase_files,
        pin_file,
    )
