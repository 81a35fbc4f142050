"""``ceremony tuf-on-ci`` and ``ceremony sign --tuf-on-ci``: signing events of a tuf-on-ci repository
(thin over core/tuf_on_ci.py)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import click

from ceremony.cli._common import (
    _passphrase_option,
    _passphrase_provider,
    _pin_option,
    _pin_prompt,
    _show_and_confirm,
    _status_line,
    _yes_option,
    progress,
)
from ceremony.core import _fs
from ceremony.core import repo_files as _repo_files
from ceremony.core import signers as _signers
from ceremony.core import tuf_on_ci as _toc
from ceremony.core._json import read_bytes
from ceremony.core._text import printable
from ceremony.errors import UsageError


@click.group("tuf-on-ci")
def tuf_on_ci() -> None:
    """A tuf-on-ci repository (Sigstore's public root is signed this way): author and sign its signing events."""


def _commit_hint(files: list[str], message: str) -> None:
    click.echo("ceremony does not run git: commit and push these files to the signing event's branch, e.g.")
    click.echo(f"  git add {' '.join(files)} && git commit -m {message!r} && git push origin HEAD:<event branch>")


def sign_event(
    checkout: Path,
    keyspec: str,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
    base: Path | None = None,
) -> None:
    """Sign the roles of the checked-out signing event that await this key (``ceremony sign --tuf-on-ci``).

    ``base``: the published root N-1 the keyholder trusts (a copy of main's root.json); the event's
    root_history/N-1 must hold exactly its bytes.
    """
    pinned = read_bytes(base, "pinned base root", _repo_files.DEFAULT_LIMITS.root) if base is not None else None
    repo = _toc.open_checkout(checkout)
    provider = _passphrase_provider(passphrase_files, confirm=False)
    with contextlib.ExitStack() as stack:
        identity, signer_for = _signers.open_own_key(keyspec, provider, _pin_prompt, stack, pin_file)
        event = _toc.find_awaiting(repo, identity, now=datetime.now(UTC), base=pinned)
        for note in event.notes:
            click.echo(f"  not signed: {note}")
        lines, digest_hex, words = event.describe()
        _show_and_confirm(lines, digest_hex, words, yes)
        with progress("Signing and verifying"):
            result = _toc.sign_event(event, signer_for)
    roles = ", ".join(f"{item.file.role} v{item.file.version}" for item in event.awaiting)
    click.echo(f"signed {roles}; every signature verified; written in tuf-on-ci's form")
    for status in result.statuses:
        click.echo(f"  {_status_line(status)}")
    for name in result.files:
        click.echo(f"  changed {name}")
    _commit_hint(result.files, "Signature (ceremony)")


@tuf_on_ci.command("root")
@click.argument("checkout", type=click.Path(path_type=Path))
@click.option(
    "--add",
    "adds",
    multiple=True,
    metavar="KEYSPEC",
    help="A root key to add: public key file, pkcs11: URI, token:SERIAL or a key type (repeatable).",
)
@click.option(
    "--owner",
    "owners",
    multiple=True,
    metavar="@NAME",
    help="The keyholder of each --add, in order (their GitHub name).",
)
@click.option(
    "--revoke", multiple=True, metavar="@NAME|KEYID", help="A root key to remove: its owner or key id (repeatable)."
)
@click.option("--threshold", type=int, help="The new root threshold (default: unchanged).")
@click.option(
    "--expires-days",
    type=int,
    help="Days until the new root expires (default and maximum: its x-tuf-on-ci-expiry-period).",
)
@click.option(
    "--key-dir",
    type=click.Path(path_type=Path),
    help="Where a new software key (--add KEYTYPE) is written, encrypted, as NAME.p12 (the owner without its @).",
)
@click.option("--no-spare-root-key", is_flag=True, help="Allow a root threshold equal to the number of root keys.")
@_passphrase_option
@_pin_option
@_yes_option
def root_cmd(
    checkout: Path,
    adds: tuple[str, ...],
    owners: tuple[str, ...],
    revoke: tuple[str, ...],
    threshold: int | None,
    expires_days: int | None,
    key_dir: Path | None,
    no_spare_root_key: bool,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Write the next root version of a tuf-on-ci repository as tuf-on-ci would (root.json and root_history/N.root.json)."""
    if len(adds) != len(owners):
        raise UsageError(f"give one --owner per --add ({len(adds)} --add, {len(owners)} --owner)")
    repo = _toc.open_checkout(checkout)
    names = [_toc.check_owner(owner) for owner in owners]
    provider = _passphrase_provider(passphrase_files, confirm=lambda label: label.startswith("new key "))
    new_files: dict[Path, bytes] = {}
    with contextlib.ExitStack() as stack, progress("Preparing the new root"):
        new_keys = []
        for spec, owner in zip(adds, names, strict=True):
            parsed = _signers.KeySpec.parse(spec)
            kind = parsed.kind
            if kind == _signers.GENERATE and key_dir is None:
                raise UsageError(
                    f"--add {printable(spec, 40)}: a new software key needs --key-dir (where {owner} keeps it)"
                )
            label = f"new key {owner}" if kind == _signers.GENERATE else owner
            acquired = _signers.acquire_key(spec, label, "root", provider, _pin_prompt, None, stack, pin_file)
            if acquired.encrypted is not None and key_dir is not None:
                new_files[key_dir / f"{owner.removeprefix('@')}.p12"] = acquired.encrypted
            new_keys.append(_toc.NewRootKey(acquired.public, owner, parsed.token_identity(None, lookup=False)))
        proposal = _toc.propose_root(
            repo, new_keys, list(revoke), threshold, expires_days, datetime.now(UTC), no_spare_root_key
        )
    lines, digest_hex, words = proposal.describe()
    _show_and_confirm(lines, digest_hex, words, yes, verb="write")
    _toc.check_writable(proposal)  # before any key file: a refused root must not leave a keyholder's key behind
    for path in new_files:
        if path.exists() or path.is_symlink():
            raise UsageError(f"{path}: exists already; a key file is never overwritten (nothing was written)")
    for path, data in new_files.items():
        _fs.write_new(path, data)
        click.echo(f"wrote {path} (encrypted under its keyholder's passphrase; they keep it)")
    files = _toc.write_root(proposal)
    for name in files:
        click.echo(f"  wrote {name}")
    click.echo(
        f"root v{proposal.version} proposed; every root key of v{proposal.version - 1} and v{proposal.version} has a placeholder to sign"
    )
    _commit_hint(files, f"root v{proposal.version} proposed")
