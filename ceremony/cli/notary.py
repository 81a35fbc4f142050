"""``ceremony notary ...``: Docker Content Trust (Notary v1) from the command line, thin over core/dct*.py.

Two commands talk to a notary server and run on the connected host (``fetch``, ``publish``); every other one
is offline and reads or writes bundle files only. ``ceremony init --profile notary`` (in ``cli/__init__.py``)
calls ``run_init`` here.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from ceremony.cli._common import (
    _asking,
    _passphrase_option,
    _passphrase_provider,
    _pin_option,
    _pin_prompt,
    _show_and_confirm,
    _yes_option,
    progress,
)
from ceremony.core import dct, dct_changes, dct_requests, notary_bundle, notary_http
from ceremony.core._json import read_secret_file
from ceremony.core._text import plural, printable
from ceremony.core.workspace import Workspace
from ceremony.errors import UsageError

P = ParamSpec("P")
T = TypeVar("T")

_request_option = click.option(
    "--request",
    "request_out",
    type=click.Path(path_type=Path),
    help="Do not sign with the current root keys here: write a sign request for keyholders elsewhere "
    "(ceremony sign REQUEST --key KEYSPEC), then: ceremony merge WS REQUEST... --out BUNDLE.",
)


class _BeforeFirstQuestion:
    """The plan of a new repository, shown right before its first question (passphrase, PIN or review).

    ``dct.init_dct`` makes every check that needs no key (GUN, free paths, threshold, expiries, key types,
    custody, the fetched bundle) before it asks anything: a plan shown only then is never one it refuses
    ("root: 5 of 3 keys"), and the rules stay in the core, once.
    """

    def __init__(self, lines: list[str]) -> None:
        self.lines: list[str] | None = lines

    def first(self, ask: Callable[P, T]) -> Callable[P, T]:
        def asking(*args: P.args, **kwargs: P.kwargs) -> T:
            if self.lines is not None:
                with _asking():
                    for line in self.lines:
                        click.echo(line)
                self.lines = None
            return ask(*args, **kwargs)

        return asking


def _review(yes: bool, verb: str = "sign") -> dct.Review:
    def review(lines: list[str], digest_hex: str, words: str) -> None:
        _show_and_confirm(lines, digest_hex, words, yes, verb=verb)

    return review


def _verb(request_out: Path | None) -> str:
    return "write the sign request" if request_out is not None else "sign"


def _done(result: dct.DctResult, request_out: Path | None, what: str) -> None:
    """The headline of a change: signed and bundled here, or waiting in a sign request."""
    if request_out is None:
        click.echo(f"{what} of {printable(result.gun, 255)}: root version {result.root_version}")
    else:
        click.echo(
            f"Nothing signed with the current root keys yet: root version {result.root_version} of "
            f"{printable(result.gun, 255)} waits in the sign request {printable(str(request_out))}"
        )
    _print_result(result)


def _print_result(result: dct.DctResult) -> None:
    for key in result.root_keys:
        click.echo(
            f"  {printable(key.label, 40):<10} certificate id {key.x509_id} (root.json, docker trust inspect)\n"
            f"  {'':<10} canonical id   {key.canonical_id} (key file, notary key list); "
            f"certificate until {key.not_after:%Y-%m-%d}"
        )
    for check in result.report.checks:
        click.echo(printable(f"  ok  {check.file:<16} {check.role:<9} v{check.version:<4} {check.signatures}"))
    if result.targets_key_file is not None:
        click.echo(
            f"  targets key {result.targets_key} written to {printable(str(result.targets_key_file))} for the "
            "publisher (encrypted under their passphrase; it is not kept in the workspace)"
        )
    if result.uploads:
        click.echo(f"  publish bundle: {printable(str(result.bundle))} ({', '.join(result.uploads)})")
        click.echo(
            f"  on the connected host: ceremony notary publish {printable(str(result.bundle))} --server URL [--ca FILE]"
        )
    for note in result.notes:
        click.echo(f"  next: {printable(note)}")
    click.echo(f"transcript head: {result.transcript_head} (witness: note the first 16 digits)")


def run_init(
    workspace: Path,
    gun: str | None,
    server_keys: Path | None,
    bundle_out: Path | None,
    targets_key_out: Path | None,
    root_key_specs: Sequence[str],
    root_keys: int,
    threshold: int,
    expiry: dict[str, int],
    certificate_days: int | None,
    no_spare_root_key: bool,
    module: str | None,
    passphrase_files: Sequence[Path],
    yes: bool,
    pin_file: Path | None = None,
    root_ca: str | None = None,
    plan_run: Any = None,
) -> None:
    """``ceremony init WS --profile notary`` (or ``--plan`` a dct-new-root plan): a new DCT repository (dct.init_dct)."""
    missing = [
        name
        for name, value in (
            ("--gun", gun),
            ("--server-keys", server_keys),
            ("--out", bundle_out),
            ("--targets-key-out", targets_key_out),
        )
        if value is None
    ]
    if missing:
        raise UsageError(f"--profile notary needs {', '.join(missing)}")
    unknown = set(expiry) - {"root", "targets"}
    if unknown:
        raise UsageError(
            f"--expires {', '.join(sorted(unknown))}: the notary server signs snapshot and timestamp itself"
        )
    assert gun and server_keys and bundle_out and targets_key_out  # noqa: S101 - checked above
    specs = tuple(root_key_specs) or (dct.ROOT_KEY_TYPE,) * root_keys
    options = dct.DctInitOptions(
        gun=gun,
        server_keys=server_keys,
        bundle_out=bundle_out,
        targets_key_out=targets_key_out,
        root_key_specs=specs,
        threshold=threshold,
        root_days=expiry.get("root", dct.DEFAULT_DAYS["root"]),
        targets_days=expiry.get("targets", dct.DEFAULT_DAYS["targets"]),
        certificate_days=certificate_days,
        no_spare_root_key=no_spare_root_key,
        ca_key_spec=root_ca,
    )
    plan = _BeforeFirstQuestion(
        [
            f"New Docker Content Trust repository {printable(gun, 255)} in {workspace}",
            f"  root: {threshold} of {plural(len(specs), 'key')} (ecdsa-x509, a certificate per key with CN = the GUN)",
            "  targets: a new key for the publisher; snapshot and timestamp: the server's keys",
        ]
    )
    provider = plan.first(_passphrase_provider(passphrase_files, confirm=True))
    with progress("Creating the repository"):
        result = dct.init_dct(
            workspace,
            options,
            provider,
            plan.first(_pin_prompt),
            module,
            review=plan.first(_review(yes)),
            pin_file=pin_file,
            plan_run=plan_run,
        )
    click.echo(f"Created {result.path}")
    _print_result(result)
    click.echo(
        "  after publishing, the publisher runs: docker trust key load KEYFILE --name targets; "
        "docker trust signer add --key SIGNER.pub SIGNER GUN"
    )


@click.group("notary")
def notary() -> None:
    """Docker Content Trust (Notary v1): the offline root of a repository (GUN)."""


@notary.command("fetch")
@click.option("--server", required=True, help="The notary server, https://host[:port].")
@click.option("--gun", required=True, help="The repository, e.g. docker.io/org/app or registry:5000/org/app.")
@click.option("--ca", type=click.Path(path_type=Path), help="CA of the server's TLS certificate (default: system).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The bundle to write (new file).")
@click.option(
    "--new-server-key",
    type=click.Choice(["snapshot", "timestamp"]),
    help="Have the server make a new key for this role (after its key leaked); a root naming it follows "
    "(ceremony notary rotate-key WS --role ROLE).",
)
@click.option(
    "--allow-unverified",
    is_flag=True,
    help="Keep a repository that does not verify (an expired root or certificate to repair offline); the "
    "bundle's note says why.",
)
def fetch_cmd(
    server: str, gun: str, ca: Path | None, out: Path, new_server_key: str | None, allow_unverified: bool
) -> None:
    """Fetch the server's snapshot and timestamp keys and GUN's current metadata into a bundle.

    Runs on the connected host: it talks to the notary server (nothing else in ceremony does).
    """
    with progress(f"Fetching from {printable(server, 300)}"):
        bundle = notary_http.fetch(server, gun, ca, new_server_key=new_server_key, allow_unverified=allow_unverified)
    notary_bundle.write_bundle(out, bundle)
    if bundle.note:
        click.echo(f"  note: {printable(bundle.note, 300)}")
    click.echo(f"Fetched {printable(gun, 255)} from {printable(server, 300)} into {out}")
    for role, key_obj in sorted(bundle.server_keys.items()):
        click.echo(f"  server {role} key: {printable(key_obj.get('keytype', '?'), 20)}")
    for name in sorted(bundle.files):
        click.echo(f"  {printable(name, 200)}")
    if not bundle.files:
        click.echo("  no trust data yet: a new repository (ceremony init --profile notary --server-keys BUNDLE)")


@notary.command("publish")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--server", required=True, help="The notary server, https://host[:port].")
@click.option("--ca", type=click.Path(path_type=Path), help="CA of the server's TLS certificate (default: system).")
def publish_cmd(bundle: Path, server: str, ca: Path | None) -> None:
    """Upload a publish bundle in one request, read it back and verify what the server now serves.

    Runs on the connected host: it talks to the notary server (nothing else in ceremony does).
    """
    loaded = notary_bundle.read_bundle(bundle)
    click.echo(
        f"Publishing to {printable(server, 300)} for {printable(loaded.gun, 255)}: {', '.join(sorted(loaded.files))}"
    )
    if loaded.note:
        click.echo(f"  the bundle's note (not signed): {printable(loaded.note, 300)}")
    with progress("Publishing and reading back"):
        result = notary_http.publish(loaded, server, ca)
    for uploaded in result.uploaded:
        click.echo(f"  uploaded {printable(uploaded.name, 200)}")
    for name in result.unchanged:
        click.echo(f"  unchanged {printable(name, 200)} (the server already serves these bytes)")
    for name, version in sorted(result.served.items()):
        click.echo(f"  served   {printable(name, 200):<28} version {version}")
    click.echo(f"published {printable(result.gun, 255)}: read back byte for byte and verified")


@notary.command("bundle")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--from", "fetched", required=True, type=click.Path(path_type=Path), help="A bundle just fetched.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The publish bundle to write.")
def bundle_cmd(workspace: Path, fetched: Path, out: Path) -> None:
    """Write again the publish bundle of the workspace's newest change, which the server does not serve yet."""
    files = dct_changes.publish_bundle_again(workspace, fetched, out)
    click.echo(f"Wrote {out} ({', '.join(files)})")


@notary.command("rotate-key")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--role",
    type=click.Choice(["targets", "snapshot", "timestamp"]),
    default="targets",
    show_default=True,
    help="targets: a new repository key for the publisher; snapshot/timestamp: the server's new key "
    "(fetched with --new-server-key ROLE).",
)
@click.option(
    "--empty-targets",
    is_flag=True,
    help="Start targets.json afresh (no tags, no signers) instead of re-signing what the server serves, "
    "all of which the compromised key could have written.",
)
@click.option("--from", "fetched", required=True, type=click.Path(path_type=Path), help="A bundle just fetched.")
@click.option("--out", type=click.Path(path_type=Path), help="The publish bundle to write.")
@click.option("--targets-key-out", type=click.Path(path_type=Path), help="targets: the publisher's new key file.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
def rotate_key_cmd(
    workspace: Path,
    role: str,
    empty_targets: bool,
    fetched: Path,
    out: Path | None,
    targets_key_out: Path | None,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """After a repository (targets) key compromise: a new targets key, root and targets re-signed (offline)."""
    if (out is None) == (request_out is None):
        raise UsageError("give --out BUNDLE (sign here) or --request FILE (keyholders elsewhere sign)")
    if role != "targets":
        if targets_key_out is not None or empty_targets:
            raise UsageError("--targets-key-out and --empty-targets are for --role targets")
        provider = _passphrase_provider(passphrase_files, confirm=False)
        with progress("Preparing, signing and verifying"):
            result = dct_changes.rotate_server_key(
                workspace,
                role,
                fetched,
                out,
                provider,
                _pin_prompt,
                review=_review(yes, _verb(request_out)),
                pin_file=pin_file,
                request_out=request_out,
            )
        _done(result, request_out, f"Rotated the server's {role} key")
        return
    if targets_key_out is None:
        raise UsageError("a new targets key leaves as a key file for the publisher: give --targets-key-out FILE")
    with progress("Preparing, signing and verifying"):
        result = dct_changes.rotate_targets_key(
            workspace,
            fetched,
            out,
            targets_key_out,
            _passphrase_provider(passphrase_files, confirm=lambda label: label == dct.PUBLISHER_LABEL),
            _pin_prompt,
            review=_review(yes, _verb(request_out)),
            pin_file=pin_file,
            request_out=request_out,
            empty_targets=empty_targets,
        )
    _done(result, request_out, "Rotated the targets key")


@notary.command("rotate-root")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--from", "fetched", required=True, type=click.Path(path_type=Path), help="A bundle just fetched.")
@click.option(
    "--add", multiple=True, metavar="KEYSPEC", help="A root key to add: ecdsa-p256, pkcs11: URI, token:SERIAL."
)
@click.option("--revoke", multiple=True, metavar="KEY", help="A root key to remove (label or id prefix).")
@click.option("--threshold", type=int, help="New root threshold (default: unchanged).")
@click.option("--renew-certificates", is_flag=True, help="New certificates for every kept root key.")
@click.option("--certificate-days", type=int, help="Validity of new certificates (at least the root's expiry).")
@click.option("--root-days", type=int, help="Expiry of the new root in days (default: the workspace's policy).")
@click.option("--no-spare-root-key", is_flag=True, help="Allow a threshold equal to the number of root keys.")
@click.option("--out", type=click.Path(path_type=Path), help="The publish bundle to write.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
def rotate_root_cmd(
    workspace: Path,
    fetched: Path,
    add: tuple[str, ...],
    revoke: tuple[str, ...],
    threshold: int | None,
    renew_certificates: bool,
    certificate_days: int | None,
    root_days: int | None,
    no_spare_root_key: bool,
    out: Path | None,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Root v+1 (offline): add, revoke or replace root keys, change the threshold, renew certificates."""
    rotation = dct_changes.RootRotation(
        add=add,
        revoke=revoke,
        threshold=threshold,
        renew_certificates=renew_certificates,
        certificate_days=certificate_days,
        root_days=root_days,
        no_spare_root_key=no_spare_root_key,
    )
    if (out is None) == (request_out is None):
        raise UsageError("give --out BUNDLE (sign here) or --request FILE (keyholders elsewhere sign)")
    loaded = dct.load(workspace)
    existing = {k.label for k in dct.root_keys(loaded)} | ({"ca"} if loaded.config.get("ca") else set())
    provider = _passphrase_provider(passphrase_files, confirm=lambda label: label not in existing)
    with progress("Preparing, signing and verifying"):
        result = dct_changes.rotate_root(
            workspace,
            rotation,
            out,
            provider,
            _pin_prompt,
            review=_review(yes, _verb(request_out)),
            pin_file=pin_file,
            request_out=request_out,
            fetched_path=fetched,
        )
    _done(result, request_out, "Rotated the root")


@notary.command("take-over")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--gun", required=True, help="The repository to take over (as docker and notary name it).")
@click.option(
    "--trusted-root",
    required=True,
    type=click.Path(path_type=Path),
    help="The root the publisher's client already trusts: ~/.docker/trust/tuf/GUN/metadata/root.json.",
)
@click.option("--from", "fetched", required=True, type=click.Path(path_type=Path), help="A bundle just fetched.")
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(path_type=Path),
    help="The root key file (~/.docker/trust/private/<id>.key or ~/.notary/private/<id>.key).",
)
@click.option(
    "--key-passphrase-file", type=click.Path(path_type=Path), help="Drills/automation: the key file's passphrase."
)
@_passphrase_option
@_yes_option
def take_over_cmd(
    workspace: Path,
    gun: str,
    trusted_root: Path,
    fetched: Path,
    key_file: Path,
    key_passphrase_file: Path | None,
    passphrase_files: tuple[Path, ...],
    yes: bool,
) -> None:
    """Make WORKSPACE the root of an existing DCT repository whose root key is in a Docker or notary key file."""
    if key_passphrase_file is not None:
        key_passphrase = read_secret_file(key_passphrase_file, "passphrase")
    else:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask the key file's passphrase on; use --key-passphrase-file")
        key_passphrase = click.prompt(
            "Passphrase of the key file (as docker or notary asked it)", hide_input=True, err=True
        )
    with progress("Preparing, signing and verifying"):
        result = dct_changes.take_over(
            workspace,
            fetched,
            key_file,
            key_passphrase,
            _passphrase_provider(passphrase_files, confirm=True),
            gun=gun,
            trusted_root=trusted_root,
            review=_review(yes, "take the repository over"),
        )
    click.echo(f"Took over {printable(result.gun, 255)} at root version {result.root_version} into {result.path}")
    _print_result(result)
    click.echo(
        f"  then destroy the laptop copy: {printable(str(key_file))} and any backup of it (it stays a root key "
        "until a published rotation revokes it)"
    )


@notary.command("pin")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--ca-out", type=click.Path(path_type=Path), help="Write the workspace CA's certificate here (--root-ca)."
)
def pin_cmd(workspace: Path, ca_out: Path | None) -> None:
    """Print the trust_pinning section for notary client configs (certificate ids of the newest root, or the CA)."""
    ws = dct.load(workspace)
    snippet = dct.pin_snippet(ws)
    if ca_out is not None:
        # Only the CA: notary's pin checker uses certs for a GUN before ca, so both would pin today's certificates.
        dct.write_ca_certificate(ws, ca_out)
        snippet = {"trust_pinning": {"ca": {dct.gun_of(ws): str(ca_out.absolute())}}}
    click.echo(json.dumps(snippet, indent=2))
    click.echo(
        '# notary: merge this into the client config (-c FILE); a prefix like "docker.io/org/*" pins many GUNs.\n'
        "# docker trust has no pinning: it trusts the first root it sees (TOFU over TLS) and follows rotations.",
        err=True,
    )


def show_status(ws: Workspace, as_json: bool) -> None:
    """``ceremony status WS`` of a DCT workspace: roles, root certificates and their expiry, warnings."""
    st = dct.status(ws)
    if as_json:
        click.echo(json.dumps(st.to_dict(), indent=2))
        return
    click.echo(f"Workspace {st.path} (profile notary, GUN {printable(st.gun, 255)})")
    click.echo(f"Root versions: {', '.join(map(str, st.root_versions))}")
    click.echo(f"{'role':<10} {'version':>7} {'threshold':>9}  {'expires':<22} {'days left':>9}  held by")
    for role in st.roles:
        version = "-" if role.version is None else str(role.version)
        days = "-" if role.days_left is None else f"{role.days_left:g}"
        click.echo(
            f"{printable(role.role, 40):<10} {version:>7} {role.threshold:>4}/{len(role.keyids):<4}  "
            f"{printable(role.expires or '-', 40):<22} {days:>9}  {role.held_by}"
        )
    click.echo("Root keys (certificate id in root.json / canonical id of the key file):")
    for key in st.root_keys:
        where = printable(key.uri or "held elsewhere", 200)
        click.echo(
            f"  {printable(key.label, 40):<10} {key.x509_id[:16]} / {key.canonical_id[:16]}  "
            f"certificate until {key.not_after:%Y-%m-%d}  {where}"
        )
    if st.warnings:
        click.echo("Warnings:")
        for warning in st.warnings:
            click.echo(f"  ! {printable(warning)}")


def sign_request(
    request: Path, keyspec: str, out: Path | None, passphrase_files: Sequence[Path], pin_file: Path | None, yes: bool
) -> None:
    """``ceremony sign REQUEST`` of a Docker Content Trust request (dct_requests.sign_request)."""
    req = dct_requests.load_request(request)
    lines, digest_hex, words = req.describe()
    _show_and_confirm(lines, digest_hex, words, yes, unsigned=req.summary)
    with contextlib.ExitStack() as stack, progress("Signing and verifying"):
        ids = dct_requests.sign_request(
            req, keyspec, _passphrase_provider(passphrase_files, confirm=False), _pin_prompt, stack, pin_file
        )
    dct_requests.save_request(req, out or request)
    click.echo(f"signed root.json under {', '.join(i[:16] for i in ids)}; verified; wrote {out or request}")


def merge_requests(ws: Workspace, requests: Sequence[Path], out: Path | None) -> None:
    """``ceremony merge WS REQUEST...`` of a Docker Content Trust workspace (dct_requests.merge)."""
    if out is None:
        raise UsageError("a Docker Content Trust merge writes a publish bundle: give --out BUNDLE")
    with progress("Checking the signatures"):
        result = dct_requests.merge(ws, requests, out)
    click.echo(f"Merged: root version {result.root_version} of {printable(result.gun, 255)}")
    _print_result(result)
