"""``ceremony tuf-on-ci`` and ``ceremony sign --tuf-on-ci``: signing events of a tuf-on-ci repository
(thin over core/tuf_on_ci.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ceremony.errors import UsageError


@click.group("tuf-on-ci")
def tuf_on_ci() -> None:
    """A tuf-on-ci repository (Sigstore's public root is signed this way): author and sign its signing events."""


def sign_event(
    checkout: Path, keyspec: str, passphrase_files: tuple[Path, ...], pin_file: Path | None, yes: bool
) -> None:
    """Sign the roles of the checked-out signing event that await this key (``ceremony sign --tuf-on-ci``)."""
    raise UsageError("ceremony sign --tuf-on-ci is being built (issue 13) and cannot sign yet")
