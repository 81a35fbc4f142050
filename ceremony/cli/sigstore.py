"""``ceremony sigstore``: the trust root of a private Sigstore instance (thin over core/sigstore.py)."""

from __future__ import annotations

import click


@click.group("sigstore")
def sigstore() -> None:
    """A private Sigstore instance: the trusted root and signing config its clients fetch as TUF targets."""
