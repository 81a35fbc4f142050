"""The scriptable command line: a thin adapter over ceremony.core.

It parses options, asks for secrets without echo (or reads them from files
named on the command line, never from argv itself), prints results, and turns
every expected fault into one line ``error: <sentence>``. Exit codes: 1 for a
refusal (bad input, policy, verification, a disk that will not take a write),
2 for a usage error, 3 for an internal error (a bug: one line naming the
exception type and where it happened, never its message or locals, which could
hold a secret; ``CEREMONY_DEBUG=1`` shows the traceback), 130 after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from ceremony import __version__, core
from ceremony.cli._common import (
    _passphrase_option,
    _passphrase_provider,
    _pin_option,
    _pin_prompt,
    _print_published,
    _request_option,
    _run_change,
    _show_and_confirm,
    _status_line,
    _yes_option,
    plan_options,
    progress,
)
from ceremony.core import _txn, choices
from ceremony.core._text import plural, printable
from ceremony.errors import (
    CeremonyError,
    ThresholdNotMetError,
    UsageError,
    VerificationError,
)

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
_DEBUG = os.environ.get("CEREMONY_DEBUG") == "1"


def _fail(err: CeremonyError) -> NoReturn:
    """Print one line for the operator and exit non-zero."""
    message = f"error: {err}"
    if err.hint:
        message += f" ({err.hint})"
    click.echo(printable(message, 4000), err=True)
    sys.exit(EXIT_USAGE if isinstance(err, UsageError) else EXIT_INVALID)


def _os_error_line(err: OSError) -> str:
    """A failed read or write as one sentence: which file, what the system said (disk full, read-only)."""
    where = f"{err.filename}: " if err.filename else ""
    return (
        f"error: {where}cannot write or read ({err.strerror or type(err).__name__}); a change in progress was not made"
    )


def _internal_error_line(err: BaseException) -> str:
    """A bug, reported without the exception's message or locals (either could hold a secret)."""
    import traceback  # only to name where a bug happened

    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/ceremony/" in f.filename.replace("\\", "/")] or frames
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    return (
        f"error: internal error ({type(err).__name__}{where}); this is a bug in ceremony {__version__}: please "
        "report it with the command you ran. No secret is shown; set CEREMONY_DEBUG=1 for the traceback"
    )


#: Command groups in modules of their own, imported only when one of their commands runs (or help lists them):
#: ``ceremony rotate`` need not load Docker Content Trust's or tuf-on-ci's code first.
_LAZY_GROUPS = {
    "notary": ("ceremony.cli.notary", "notary"),
    "targets": ("ceremony.cli.targets", "targets"),
    "sigstore": ("ceremony.cli.sigstore", "sigstore"),
    "tuf-on-ci": ("ceremony.cli.tuf_on_ci", "tuf_on_ci"),
    "transcript": ("ceremony.cli.transcript", "transcript"),
    "audit": ("ceremony.cli.audit", "audit"),
    "plan": ("ceremony.cli.plan", "plan"),
}


class _Group(click.Group):
    """A click group that reports every fault as one line, not a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_GROUPS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_GROUPS and cmd_name not in self.commands:
            module, attr = _LAZY_GROUPS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CeremonyError as err:
            _fail(err)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            if _txn.committed:
                message = (
                    "error: interrupted after the change was written (it is complete and recorded in the "
                    "transcript; see ceremony status)"
                )
            else:
                message = "error: interrupted before anything in the workspace was changed"
            click.echo(message, err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as err:
            line = _os_error_line(err)
            if _txn.committed:  # e.g. a closed pipe while printing what a committed change did
                line = line.replace(
                    "a change in progress was not made",
                    "the change itself was written before this (see ceremony status and the transcript)",
                )
            click.echo(printable(line, 4000), err=True)
            sys.exit(EXIT_INVALID)
        except Exception as err:
            if _DEBUG:
                raise
            click.echo(_internal_error_line(err), err=True)
            sys.exit(EXIT_INTERNAL)


def _describe_spec(spec: str) -> str:
    """How init will get a key, in words."""
    return printable(core.KeySpec.parse(spec).describe())


def _parse_pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """Turn ROLE=VALUE options into a dict."""
    pairs: dict[str, str] = {}
    for value in values:
        role, sep, rest = value.partition("=")
        if not sep or not role or not rest:
            raise UsageError(f"{option} {value!r}: expected ROLE=VALUE")
        if role in pairs:
            raise UsageError(f"{option} names role {role!r} twice")
        pairs[role] = rest
    return pairs


@click.group(cls=_Group, invoke_without_command=True)
@click.version_option(__version__, prog_name="ceremony")
@click.pass_context
def main(ctx: click.Context) -> None:
    """ceremony: create and guard the root of trust of a TUF repository.

    Without a command, opens the terminal UI (as `ceremony tui`).
    """
    if not _DEBUG:
        # A library's warning on stderr would break the one-line error an operator (or a script) reads.
        warnings.simplefilter("ignore")
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui)


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--root-keys", type=int, default=3, show_default=True, help="Number of root keys (N).")
@click.option("--threshold", type=int, default=2, show_default=True, help="Root signatures required (M).")
@click.option(
    "--key-type",
    type=click.Choice(list(choices.KEY_TYPES)),
    default=choices.DEFAULT_KEY_TYPE,
    show_default=True,
    help="Type of every key generated here.",
)
@click.option(
    "--root-key",
    "root_key_specs",
    multiple=True,
    metavar="KEYSPEC",
    help="A root key, repeatable (replaces --root-keys): a key type to generate in software, "
    "a pkcs11: URI of a token key, or a public key file of a key held elsewhere.",
)
@click.option(
    "--online-key",
    "online_keys",
    multiple=True,
    metavar="ROLE=KEYSPEC",
    help="Key for targets/snapshot/timestamp: a public key file (held by the online service), "
    "a pkcs11: URI, or a key type.",
)
@click.option("--module", type=click.Path(path_type=Path), help="PKCS#11 module for URIs that name none.")
@click.option(
    "--expires",
    "expires",
    multiple=True,
    metavar="ROLE=DAYS",
    help="Expiry per role in days (default root=365 targets=90 snapshot=7 timestamp=1; with --profile notary: "
    "root=3650 targets=1095, the server's roles are its own).",
)
@click.option("--no-spare-root-key", is_flag=True, help="Allow threshold equal to the number of root keys.")
@click.option(
    "--passphrase-file",
    "passphrase_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Drills/automation: read passphrases from files (first line), one per key in order, "
    "or one file for every key.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--consistent-snapshot",
    is_flag=True,
    help="Clients fetch N.ROLE.json and targets/HASH.NAME, so a mirror can update while clients read it.",
)
@click.option(
    "--profile",
    type=click.Choice(["tuf", "sigstore", "notary"]),
    default="tuf",
    show_default=True,
    help="tuf: a TUF 1.0 repository; sigstore: the root of a private Sigstore instance (consistent snapshots, "
    "ecdsa-p256 keys by default, only key types every Sigstore client verifies); notary: the root of a Docker "
    "Content Trust (Notary v1) repository.",
)
@click.option("--gun", help="notary: the repository's GUN (docker.io/org/app, registry:5000/org/app).")
@click.option(
    "--server-keys",
    type=click.Path(path_type=Path),
    help="notary: the bundle `ceremony notary fetch` wrote (the server's snapshot and timestamp keys).",
)
@click.option("--out", "bundle_out", type=click.Path(path_type=Path), help="notary: the publish bundle to write.")
@click.option(
    "--targets-key-out",
    type=click.Path(path_type=Path),
    help="notary: the publisher's targets key file to write (for docker trust key load / notary key import).",
)
@click.option(
    "--certificate-days", type=int, help="notary: validity of the root certificates (default: the root's expiry)."
)
@click.option(
    "--root-ca",
    metavar="KEYSPEC",
    help="notary: an offline CA of the workspace issues the root certificates (ecdsa-p256, pkcs11: URI or "
    "token:SERIAL), so clients can pin the CA (trust_pinning.ca).",
)
@_pin_option
@plan_options
def init(
    workspace: Path,
    root_keys: int,
    threshold: int,
    key_type: str,
    root_key_specs: tuple[str, ...],
    online_keys: tuple[str, ...],
    module: Path | None,
    expires: tuple[str, ...],
    no_spare_root_key: bool,
    passphrase_files: tuple[Path, ...],
    yes: bool,
    consistent_snapshot: bool,
    profile: str,
    gun: str | None,
    server_keys: Path | None,
    bundle_out: Path | None,
    targets_key_out: Path | None,
    certificate_days: int | None,
    root_ca: str | None,
    pin_file: Path | None,
    plan_file: Path | None,
    trusted_time: str | None,
    exception: str | None,
) -> None:
    """Create WORKSPACE with repository version 1 (root, targets, snapshot, timestamp).

    With --profile notary: the offline root of a Docker Content Trust repository (root.json and
    targets.json version 1 in a publish bundle; the notary server keeps snapshot and timestamp).

    With --plan: keys, thresholds, expiries and profile come from the ceremony plan (checked again first),
    the preflight runs, and the plan is kept in plans/ with its hash and step recorded in the transcript.
    """
    expiry: dict[str, int] = {}
    for role, text in _parse_pairs(expires, "--expires").items():
        try:
            expiry[role] = int(text)
        except ValueError:
            raise UsageError(f"--expires {role}={text}: DAYS must be a whole number") from None
    ctx = click.get_current_context()
    run = None
    if plan_file is not None:
        from ceremony.cli import plan as _plan_cli

        given = [
            f"--{name.replace('_', '-')}"
            for name in ("root_keys", "threshold", "key_type", "root_key_specs", "online_keys", "expires",
                         "consistent_snapshot", "profile", "gun", "certificate_days", "root_ca",
                         "no_spare_root_key")
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
        ]  # fmt: skip
        if given:
            raise UsageError(f"{given[0]}: with --plan, the plan says it (change the plan, and check it again)")
        run = _plan_cli.plan_run(plan_file, "init", trusted_time, workspace, module, exception)
        if run.plan.kind == "dct-new-root":
            dct_plan = run.plan.change
            profile, gun, certificate_days = "notary", dct_plan["gun"], dct_plan.get("certificate_days")
            if dct_plan.get("server_keys"):
                if server_keys is not None:
                    raise UsageError("--server-keys: the plan names the fetched bundle (beside it); give one, not both")
                server_keys = run.plan.directory / dct_plan["server_keys"]
            root_key_specs = tuple(k.keyspec(run.plan.directory) for k in run.plan.root_keys())
            threshold = run.plan.thresholds["root"]
            expiry = dict(run.plan.expiry_days)
    elif trusted_time is not None or exception is not None:
        raise UsageError("--time and --exception are for a step run from a plan (--plan)")
    key_type_given = ctx.get_parameter_source("key_type") is not click.core.ParameterSource.DEFAULT
    if profile == "notary":
        if consistent_snapshot:
            raise UsageError("--consistent-snapshot: a Docker Content Trust repository's layout is the server's")
        if key_type_given:
            raise UsageError("--key-type: Docker Content Trust root keys are ecdsa-p256 (give them with --root-key)")
        if online_keys:
            raise UsageError("--online-key: a Docker Content Trust repository's online keys are the server's")
        from ceremony.cli import notary as _notary_cli

        _notary_cli.run_init(
            workspace,
            gun,
            server_keys,
            bundle_out,
            targets_key_out,
            root_key_specs,
            root_keys,
            threshold,
            expiry,
            certificate_days,
            no_spare_root_key,
            str(module) if module else None,
            passphrase_files,
            yes,
            pin_file=pin_file,
            root_ca=root_ca,
            plan_run=run,
        )
        return
    for name, value in (
        ("--gun", gun),
        ("--server-keys", server_keys),
        ("--out", bundle_out),
        ("--targets-key-out", targets_key_out),
        ("--certificate-days", certificate_days),
        ("--root-ca", root_ca),
    ):
        if value is not None:
            raise UsageError(f"{name} is for --profile notary")
    if profile == core.policy.SIGSTORE_PROFILE:
        consistent_snapshot = True
        if not key_type_given:
            key_type = choices.default_key_type(profile)
    options = core.InitOptions(
        root_keys=root_keys,
        threshold=threshold,
        key_type=key_type,
        expiry_days=expiry,
        online_keys=_parse_pairs(online_keys, "--online-key"),
        no_spare_root_key=no_spare_root_key,
        root_key_specs=root_key_specs,
        consistent_snapshot=consistent_snapshot,
        profile=profile,
    )
    if run is not None:
        options = core.plan.init_options(run.plan)
        threshold, root_key_specs, key_type, consistent_snapshot = (
            options.threshold,
            options.root_key_specs,
            options.key_type,
            options.consistent_snapshot,
        )
        profile = options.profile
    # Every refusal that needs no key comes before the plan is shown and before anyone is asked anything.
    days = core.init.check_options(workspace, options, str(module) if module else None)
    count = len(root_key_specs) or root_keys
    kind = "TUF repository for a private Sigstore instance" if profile == "sigstore" else "TUF repository"
    snapshots = " (consistent snapshots)" if consistent_snapshot else ""
    click.echo(f"New {kind} in {workspace}{snapshots}")
    click.echo(f"  root: {threshold} of {plural(count, 'key')}, expires in {plural(days['root'], 'day')}")
    for index, spec in enumerate(root_key_specs or [key_type] * root_keys, start=1):
        click.echo(f"    root-{index}: {_describe_spec(spec)}")
    for role in ("targets", "snapshot", "timestamp"):
        spec = _describe_spec(options.online_keys.get(role, key_type))
        click.echo(f"  {role}: {spec}, expires in {plural(days[role], 'day')}")
    caveat = choices.KEY_TYPES[key_type].caveat
    if caveat:
        click.echo(f"  warning: {caveat}", err=True)
    if len(passphrase_files) == 1 and count > 1:
        click.echo(
            "  note: one passphrase file for every key (drill mode): real keyholders each use their own", err=True
        )
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to confirm on; pass --yes to create the repository without asking")
        click.confirm("Create this repository?", abort=True, err=True)
    with progress("Creating the repository"):
        result = core.init_workspace(
            workspace,
            options,
            _passphrase_provider(passphrase_files, confirm=True),
            pin_for=_pin_prompt,
            module=str(module) if module else None,
            pin_file=pin_file,
            plan_run=run,
        )
    click.echo(f"Created {result.path}")
    for record in result.keys:
        click.echo(f"  {record.label:<12} {record.keyid}  {record.key_type:<12} {record.location}")
    for role in result.skipped_roles:
        click.echo(f"  {core.policy.left_to_online_line(role)}")
    click.echo(f"  metadata: {result.path / 'metadata'} (clients trust metadata/1.root.json)")
    click.echo(f"transcript head: {result.transcript_head} (witness: note the first 16 digits)")


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(workspace: Path, as_json: bool) -> None:
    """Show versions, roles, keys, thresholds, expiry and warnings of WORKSPACE."""
    ws = core.Workspace.load(workspace)
    if ws.is_notary:  # not core.dct.is_dct: importing dct loads DCT's whole stack (X.509, Notary v1)
        from ceremony.cli import notary as _notary_cli

        _notary_cli.show_status(ws, as_json)
        return
    st = core.workspace_status(ws)
    if st.problem is not None:
        # Nothing is shown that the metadata cannot vouch for: days left on a root that does not verify mislead.
        problem = st.problem
        raise VerificationError(
            f"{workspace}/metadata does not verify ({problem.check or 'format'} check failed): {problem}",
            problem.file,
            problem.check,
        )
    if as_json:
        click.echo(json.dumps(st.to_dict(), indent=2))
        return
    click.echo(f"Workspace {st.path} (profile {st.profile})")
    click.echo(f"Root versions: {', '.join(map(str, st.root_versions)) or 'none'}")
    click.echo(f"{'role':<14} {'version':>7} {'threshold':>9}  {'expires':<20} {'days left':>9}")
    for role in st.roles:
        version = "-" if role.version is None else str(role.version)
        days_left = "-" if role.days_left is None else f"{role.days_left:g}"
        threshold = f"{role.threshold}/{len(role.keyids)}"
        click.echo(
            f"{printable(role.role, 60):<14} {version:>7} {threshold:>9}  {printable(role.expires or '-', 40):<20} {days_left:>9}"
        )
    click.echo("Expiry calendar (re-sign by):")
    for role in st.calendar:
        click.echo(f"  {role.resign_by}  {printable(role.role, 60):<14} expires {printable(role.expires, 40)}")
    click.echo("Keys:")
    for key in st.keys:
        roles = ",".join(key.roles) or "-"
        where = "REVOKED, kept for the record" if key.revoked else key.location
        click.echo(
            f"  {printable(key.label, 64):<14} {printable(key.keyid[:16])}  {printable(key.key_type, 40):<12} "
            f"{printable(roles, 200):<10} {printable(where, 300)}"
        )
    if st.backups is not None and st.backups.versions:
        click.echo("Paper backups (tested: exported and restored, or drilled):")
        for line in st.backups.lines():
            click.echo(f"  {printable(line, 300)}")
    if st.warnings:
        click.echo("Warnings:")
        for warning in st.warnings:
            click.echo(f"  ! {printable(warning)}")


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--trusted-root", type=click.Path(path_type=Path), help="Root the client trusts (default: lowest N.root.json)."
)
@click.option("--at", "at", help="Check expiry as of this date or time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--max-bytes",
    "max_bytes",
    multiple=True,
    metavar="ROLE=BYTES",
    help="Raise a size limit (root, timestamp, snapshot, targets), repeatable; the defaults are python-tuf's.",
)
@click.option("--gun", help="Verify a Notary v1 (Docker Content Trust) repository of this GUN, as the notary client.")
def verify(
    directory: Path,
    trusted_root: Path | None,
    at: str | None,
    as_json: bool,
    max_bytes: tuple[str, ...],
    gun: str | None,
) -> None:
    """Verify a metadata DIRECTORY the way a TUF client would (at least as strictly as python-tuf).

    With --gun, DIRECTORY is a Notary v1 repository (root.json, N.root.json, targets.json, snapshot.json,
    timestamp.json, targets/*.json: a trust directory's tuf/GUN/metadata) checked as the stock notary client does.
    """
    when = core.parse_at(at) if at else datetime.now(UTC)
    limits = core.SizeLimits.parse(max_bytes)
    if (directory / "ceremony.json").is_file() and (directory / "metadata").is_dir():
        # The commonest slip: the workspace given where its metadata directory (what clients fetch) is meant.
        raise UsageError(
            f"{printable(str(directory))} is a workspace, not a metadata directory; "
            f"verify its metadata: ceremony verify {printable(str(directory / 'metadata'))}"
        )
    try:
        if gun is not None:
            if max_bytes:
                raise UsageError("--max-bytes is for TUF repositories; Notary files are bounded at 4 MiB each")
            with progress(f"Verifying {directory}"):
                report = core.dct.verify_directory(directory, gun, when, trusted_root)
        else:
            with progress(f"Verifying {directory}"):
                report = core.verify_directory(directory, trusted_root, when, limits=limits)
    except VerificationError as err:
        if as_json:
            click.echo(json.dumps({"valid": False, "error": str(err), "file": err.file, "check": err.check}))
        click.echo(printable(f"error: {err} [{err.check} check]", 4000), err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        click.echo(json.dumps({"valid": True, **report.to_dict()}, indent=2))
        return
    click.echo(f"Verified as of {report.at}, trusting {report.trusted_root}:")
    for check in report.checks:
        note = f"  ({check.note})" if check.note else ""
        click.echo(
            printable(
                f"  ok  {check.file:<28} {check.role:<12} v{check.version:<5} expires {check.expires}  {check.signatures}{note}"
            )
        )
    for skipped in report.skipped:
        click.echo(f"  --  {printable(skipped)}")
    for warning in report.warnings:
        click.echo(f"  warning: {printable(warning)}", err=True)
    click.echo(f"valid: root chain to version {report.newest_root_version}")


@main.command()
@click.option(
    "--plan", "plan_file", type=click.Path(path_type=Path), help="The ceremony plan (its tokens, its clock tolerance)."
)
@click.option("--time", "trusted_time", metavar="'YYYY-MM-DD HH:MM'", help="The UTC time read from a trusted source.")
@click.option(
    "--workspace",
    type=click.Path(path_type=Path),
    help="Where the workspace is or will be (its disk is checked; default: here).",
)
@click.option("--module", type=click.Path(path_type=Path), help="PKCS#11 module to list tokens with.")
def preflight(plan_file: Path | None, trusted_time: str | None, workspace: Path | None, module: Path | None) -> None:
    """Check the air-gapped host before a ceremony: network, swap, clock, tokens, disk, the tool's own files.

    Exits 1 if any check fails: the witness then records an exception (``--exception`` of the step run from
    the plan) or the host is fixed first.
    """
    from ceremony.cli import plan as _plan_cli

    checked = None
    if plan_file is not None:
        checked, _data = core.plan.read_plan(plan_file)
        core.plan.check_plan(checked, str(module) if module else None)
        click.echo(f"Plan {printable(checked.name)}, sha256 {checked.sha256[:16]}...")
    failed = _plan_cli.show_checks(_plan_cli.preflight_for(checked, trusted_time, workspace, module))
    if failed:
        click.echo(
            f"preflight: {plural(len(failed), 'check')} failed ({', '.join(c.name for c in failed)}); fix the host, "
            "or the witness records an exception",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    click.echo("preflight: every check passed")


@main.group()
def key() -> None:
    """Keyholder operations on keys in a workspace."""


@key.command("check")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("keyid")
@click.option("--passphrase-file", type=click.Path(path_type=Path), help="Drills/automation: passphrase file.")
@click.option("--pin-file", type=click.Path(path_type=Path), help="Drills/automation: token PIN file.")
def key_check(workspace: Path, keyid: str, passphrase_file: Path | None, pin_file: Path | None) -> None:
    """Prove the keyholder can use KEYID (id prefix or label) by test-signing."""
    ws = core.Workspace.load(workspace)
    provider = _passphrase_provider([passphrase_file] if passphrase_file else [], confirm=False)
    result = core.check_key(ws, keyid, provider, pin_for=_pin_prompt, pin_file=pin_file)
    click.echo(f"ok: {result.record.label} ({result.record.keyid}) unlocked and test-signed a random challenge")
    click.echo(f"transcript head: {result.transcript_head}")


@key.command("generate")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--key-type", type=click.Choice(list(choices.KEY_TYPES)), default=choices.DEFAULT_KEY_TYPE, show_default=True
)
@click.option("--passphrase-file", type=click.Path(path_type=Path), help="Drills/automation: passphrase file.")
def key_generate(out: Path, key_type: str, passphrase_file: Path | None) -> None:
    """Generate a keyholder's own software key OUT (.p12) and OUT.pub.pem, outside any workspace."""
    provider = _passphrase_provider([passphrase_file] if passphrase_file else [], confirm=True)
    passphrase = provider(out.name)
    with progress(f"Generating the {key_type} key"):
        public = core.keys.generate_key_file(out, key_type, passphrase)
    click.echo(f"wrote {out} (encrypted) and {out}.pub.pem")
    click.echo(f"keyid: {public.keyid}")


@main.group()
def hsm() -> None:
    """PKCS#11 tokens: list them and generate keys on them."""


@hsm.command("list")
@click.option("--module", type=click.Path(path_type=Path), help="PKCS#11 module (default: SoftHSM2's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def hsm_list(module: Path | None, as_json: bool) -> None:
    """Slots and tokens, their PIN flags, and the TUF key types each can generate and sign with."""
    path = core.hsm.resolve_module(option=str(module) if module else None)
    tokens = core.hsm.list_tokens(path)
    if as_json:
        click.echo(json.dumps({"module": path, "tokens": [t.to_dict() for t in tokens]}, indent=2))
        return
    click.echo(f"Module {path}: {plural(len(tokens), 'slot')} with a token")
    for t in tokens:
        if not t.initialized:
            click.echo(f"  slot {t.slot}: uninitialised token ({printable(t.manufacturer)} {printable(t.model)})")
            continue
        click.echo(
            f"  slot {t.slot}: token '{printable(t.label)}' serial {printable(t.serial)} "
            f"({printable(t.manufacturer)}, {printable(t.model)})"
        )
        click.echo(
            f"      initialised: yes  login required: {'yes' if t.login_required else 'no'}  PIN: {t.pin_flags()}"
        )
        click.echo(f"      key types: {', '.join(t.key_types) or 'none that TUF uses'}")
        click.echo(f"      uri: {printable(core.hsm.Pkcs11Uri(token=t.label, serial=t.serial).to_string())}")


@hsm.command("keygen")
@click.option("--token", "token_uri", required=True, metavar="URI", help="pkcs11: URI of the token (token=, serial=).")
@click.option("--label", required=True, help="Label of the new key on the token.")
@click.option(
    "--key-type",
    type=click.Choice(choices.TOKEN_KEY_TYPE_NAMES),
    default=choices.DEFAULT_TOKEN_KEY_TYPE,
    show_default=True,
)
@click.option("--pin-file", type=click.Path(path_type=Path), help="Drills/automation: PIN file.")
@click.option("--module", type=click.Path(path_type=Path), help="PKCS#11 module if the URI names none.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def hsm_keygen(
    token_uri: str, label: str, key_type: str, pin_file: Path | None, module: Path | None, as_json: bool
) -> None:
    """Generate a non-extractable key pair on a token, test-sign with it, print its URI and key id."""
    with progress(f"Generating the {key_type} key on the token"):
        key = core.hsm.generate_key(token_uri, label, key_type, _pin_prompt, str(module) if module else None, pin_file)
    record = {
        "uri": key.uri,
        "keyid": key.public.keyid,
        "key_type": key.key_type,
        "token": {"label": key.token.label, "serial": key.token.serial, "model": key.token.model},
        "attributes": key.attributes.to_dict(),
        "test_signature": "verified",
        "public_key": key.public.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    click.echo(f"Generated {key_type} key '{label}' on {key.token.describe()}")
    click.echo(f"  uri:    {key.uri}")
    click.echo(f"  keyid:  {key.public.keyid}")
    attrs = "  ".join(f"{k}={'true' if v else 'false'}" for k, v in key.attributes.to_dict().items())
    click.echo(f"  read back: {attrs}")
    click.echo("  test signature over a random challenge: verified with the public key read from the token")


# --------------------------------------------------------------------------- changes to a live repository


def _from_plan(plan_file: Path | None, command: str, workspace: Path, given: Sequence[str], **run: Any) -> Any:
    """The plan step ``command`` runs (None without --plan), refusing options the plan decides."""
    if plan_file is None:
        if run.get("trusted_time") is not None or run.get("exception") is not None:
            raise UsageError("--time and --exception are for a step run from a plan (--plan)")
        return None
    ctx = click.get_current_context()
    for name in given:
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
            raise UsageError(
                f"--{name.replace('_', '-')}: with --plan, the plan says it (change the plan, and check it again)"
            )
    from ceremony.cli import plan as _plan_cli

    return _plan_cli.plan_run(
        plan_file, command, run.get("trusted_time"), workspace, run.get("module"), run.get("exception")
    )


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--role", help="root, targets, snapshot or timestamp.")
@click.option("--revoke", multiple=True, metavar="KEYID", help="Key to remove (id prefix or label), repeatable.")
@click.option("--add", multiple=True, metavar="KEYSPEC", help="Key to add: key type, pkcs11: URI or public key file.")
@click.option("--threshold", type=int, help="New threshold (default: unchanged).")
@click.option("--no-spare-root-key", is_flag=True, help="Allow a root threshold equal to the number of root keys.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
@plan_options
def rotate(
    workspace: Path,
    role: str | None,
    revoke: tuple[str, ...],
    add: tuple[str, ...],
    threshold: int | None,
    no_spare_root_key: bool,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
    plan_file: Path | None,
    trusted_time: str | None,
    exception: str | None,
) -> None:
    """Replace keys of a role: root N+1 signed by a threshold of root N's keys and of its own."""
    given = ("role", "revoke", "add", "threshold", "no_spare_root_key")
    run = _from_plan(plan_file, "rotate", workspace, given, trusted_time=trusted_time, exception=exception)
    if run is not None:
        change = run.plan.change
        role, revoke, threshold = change["role"], tuple(change.get("revoke", ())), change.get("threshold")
        add = tuple(run.plan.key(name).keyspec(run.plan.directory) for name in change.get("add", ()))
    if role is None:
        raise UsageError("--role: which role's keys to replace (root, targets, snapshot or timestamp)")
    _run_change(
        workspace,
        lambda ctx: core.changes.plan_rotation(ctx, role, list(revoke), list(add), threshold, no_spare_root_key),
        request_out,
        yes,
        passphrase_files,
        pin_file,
        run,
    )


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--role", help="root, targets, snapshot, timestamp or a delegated role.")
@click.option("--days", type=int, help="New expiry, in days from now.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
@plan_options
def extend(
    workspace: Path,
    role: str | None,
    days: int | None,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
    plan_file: Path | None,
    trusted_time: str | None,
    exception: str | None,
) -> None:
    """Re-sign ROLE with a new expiry (version + 1), and the files that list it."""
    run = _from_plan(plan_file, "extend", workspace, ("role", "days"), trusted_time=trusted_time, exception=exception)
    if run is not None:
        role, days = run.plan.change["role"], run.plan.change["days"]
    if role is None or days is None:
        raise UsageError("--role and --days: which role to re-sign, and its new expiry in days from now")
    _run_change(
        workspace,
        lambda ctx: core.changes.plan_extension(ctx, role, days),
        request_out,
        yes,
        passphrase_files,
        pin_file,
        run,
    )


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("role")
@click.option("--paths", multiple=True, metavar="PATTERN", help="Target path patterns delegated (TUF spec globs).")
@click.option("--key", "key_specs", multiple=True, metavar="KEYSPEC", help="A key of the role, repeatable.")
@click.option("--keys", "generate", type=int, default=0, help="Generate N new software keys for the role.")
@click.option(
    "--key-type", type=click.Choice(list(choices.KEY_TYPES)), default=choices.DEFAULT_KEY_TYPE, show_default=True
)
@click.option("--threshold", type=int, default=1, show_default=True)
@click.option("--terminating", is_flag=True, help="Clients stop searching other roles for these paths.")
@click.option("--expires-days", type=int, help="Expiry of the role's metadata (default: the targets policy).")
@click.option("--from", "parent", default="targets", show_default=True, help="Delegating role.")
@click.option(
    "--succinct-bins",
    "bins",
    type=int,
    metavar="N",
    help="Delegate every target path to N hash bins ROLE-<hex> (TAP 15; N a power of two up to 16384), one key set.",
)
@click.option("--remove", is_flag=True, help="Remove the delegated role (or all of its hash bins) instead.")
@_request_option
@_passphrase_option
@_pin_option
@_yes_option
@plan_options
def delegate(
    workspace: Path,
    role: str,
    paths: tuple[str, ...],
    key_specs: tuple[str, ...],
    generate: int,
    key_type: str,
    threshold: int,
    terminating: bool,
    expires_days: int | None,
    parent: str,
    bins: int | None,
    remove: bool,
    request_out: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
    plan_file: Path | None,
    trusted_time: str | None,
    exception: str | None,
) -> None:
    """Delegate target paths to a new role ROLE, or every path to hash bins ROLE-<hex> (or remove it with --remove)."""
    given = ("paths", "key_specs", "generate", "key_type", "threshold", "terminating", "expires_days", "parent",
             "bins", "remove")  # fmt: skip
    run = _from_plan(plan_file, "delegate", workspace, given, trusted_time=trusted_time, exception=exception)
    if run is not None:
        change = run.plan.change
        if role != change["role"]:
            raise UsageError(f"{role}: the plan delegates to {printable(change['role'])!r}")
        paths, threshold = tuple(change["paths"]), change.get("threshold", 1)
        key_specs = tuple(run.plan.key(name).keyspec(run.plan.directory) for name in change["keys"])
        terminating, expires_days = bool(change.get("terminating", False)), change.get("expires_days")
        parent = change.get("from", "targets")
    if remove:
        plan = lambda ctx: core.changes.plan_undelegation(ctx, role)  # noqa: E731
    elif bins is not None:
        core.policy.check_succinct_paths(list(paths))
        plan = lambda ctx: core.changes.plan_succinct_delegation(  # noqa: E731
            ctx, role, bins, list(key_specs), generate, key_type, threshold, expires_days, parent
        )
    else:
        plan = lambda ctx: core.changes.plan_delegation(  # noqa: E731
            ctx, role, list(paths), list(key_specs), generate, key_type, threshold, terminating, expires_days, parent
        )
    _run_change(workspace, plan, request_out, yes, passphrase_files, pin_file, run)


@main.command()
@click.argument("request", type=click.Path(path_type=Path), required=False)
@click.option(
    "--key",
    "keyspec",
    required=True,
    metavar="KEYSPEC",
    help="Your key: a pkcs11: URI or a software key file (.p12); the shell's globs work when they match one "
    "file (keys/4984*.p12: the first digits of its key id).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Write the signed request here (default: in place).")
@click.option(
    "--tuf-on-ci",
    "checkout",
    type=click.Path(path_type=Path),
    help="Sign the signing event checked out in this tuf-on-ci repository (instead of a REQUEST).",
)
@click.option(
    "--base",
    type=click.Path(path_type=Path),
    help="tuf-on-ci: the published root you trust (git show origin/main:metadata/root.json > base.json); the "
    "event's previous root must be exactly these bytes.",
)
@_passphrase_option
@_pin_option
@_yes_option
def sign(
    request: Path | None,
    keyspec: str,
    out: Path | None,
    checkout: Path | None,
    base: Path | None,
    passphrase_files: tuple[Path, ...],
    pin_file: Path | None,
    yes: bool,
) -> None:
    """Review a sign request (or a tuf-on-ci signing event), sign it with your key, verify the signature.

    The shell's globs work for REQUEST when they match one file ('requests/*.json').
    """
    if (request is None) == (checkout is None):
        raise UsageError("give a sign REQUEST, or --tuf-on-ci CHECKOUT for a tuf-on-ci signing event")
    if checkout is not None:
        if out is not None:
            raise UsageError("--out is for sign requests: a tuf-on-ci signing event is signed in place")
        from ceremony.cli import tuf_on_ci as _toc_cli

        _toc_cli.sign_event(checkout, keyspec, passphrase_files, pin_file, yes, base=base)
        return
    if base is not None:
        raise UsageError("--base is for --tuf-on-ci (the previous root of a signing event)")
    assert request is not None  # noqa: S101 - exactly one of the two, checked above
    if core.dct_requests.is_request(
        core._json.read_json(request, "sign request", limit=core.dct_requests.MAX_REQUEST_BYTES)
    ):
        from ceremony.cli import notary as _notary_cli

        _notary_cli.sign_request(request, keyspec, out, passphrase_files, pin_file, yes)
        return
    req = core.requests.load_request(request)
    lines, digest_hex, words = req.describe()
    _show_and_confirm(lines, digest_hex, words, yes, unsigned=req.unsigned_summary())
    provider = _passphrase_provider(passphrase_files, confirm=False)
    with contextlib.ExitStack() as stack, progress("Signing and verifying"):
        roles = core.requests.sign_request(req, keyspec, provider, _pin_prompt, stack, pin_file)
    core.requests.save_request(req, out)
    click.echo(f"signed {', '.join(roles)}; every signature verified; wrote {out or request}")
    for status in req.statuses():
        click.echo(f"  {_status_line(status)}")


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("requests", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="REQUEST...")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Docker Content Trust: the publish bundle to write once merged."
)
def merge(workspace: Path, requests: tuple[Path, ...], out: Path | None) -> None:
    """Check every signature of signed requests; publish the change when every threshold is met.

    REQUEST...: the signed copies of one sign request, each keyholder's; the shell's globs work
    ('signed/*.json').
    """
    ws = core.Workspace.load(workspace)
    if core.dct.is_dct(ws):
        from ceremony.cli import notary as _notary_cli

        _notary_cli.merge_requests(ws, requests, out)
        return
    if out is not None:
        raise UsageError("--out is for Docker Content Trust workspaces (a TUF merge publishes into the workspace)")
    with contextlib.ExitStack() as stack:
        ctx = core.proposal.ChangeContext(ws, _passphrase_provider([], False), None, stack, datetime.now(UTC))
        try:
            with progress("Checking the signatures and publishing"):
                result, _statuses = core.requests.merge(ctx, list(requests))
        except ThresholdNotMetError as err:
            for status in err.statuses:
                click.echo(f"  {_status_line(status)}")
            raise
    _print_published(result)


@main.command("diff")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("a", type=int, required=False)
@click.argument("b", type=int, required=False)
def diff_cmd(workspace: Path, a: int | None, b: int | None) -> None:
    """Show what changed between root versions A and B (default: the newest two)."""
    lines, digest_hex, words = core.diff.diff_roots(core.Workspace.load(workspace), a, b)
    for line in lines:
        click.echo(line)
    click.echo(f"SHA-256 of the signed bytes: {digest_hex}")
    click.echo(f"  as words (BIP-39): {words}")


@main.command("import")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--from", "source", required=True, type=click.Path(path_type=Path), help="Metadata directory.")
@click.option("--trusted-root", type=click.Path(path_type=Path), help="Root to trust (default: lowest N.root.json).")
@click.option("--at", "at", help="Verify as of this date or time (default: now).")
def import_cmd(workspace: Path, source: Path, trusted_root: Path | None, at: str | None) -> None:
    """Verify a real repository and make a workspace from it, without private keys."""
    when = core.parse_at(at) if at else datetime.now(UTC)
    with progress(f"Verifying {source}"):
        ws, report = core.importer.import_repository(workspace, source, trusted_root, when)
    click.echo(
        f"Imported {source} into {ws.path}: root chain verified to version {report.newest_root_version} as of {report.at}"
    )
    click.echo(
        f"  {plural(len(ws.config['keys']), 'key')}, all held elsewhere: changes go through sign requests (--request)"
    )


# --------------------------------------------------------------------------- cold backup


@main.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Directory for the backup files.")
@click.option("--versions", type=click.Choice(["all", "latest"]), default="all", show_default=True)
@click.option("--formats", default="files,png,svg,pdf,txt", show_default=True, help="Comma-separated.")
@click.option(
    "--qr-bytes",
    type=int,
    default=choices.DEFAULT_QR_BYTES,
    show_default=True,
    help="Maximum payload bytes per QR code.",
)
@click.option("--ecc", type=click.Choice(["L", "M", "Q", "H"]), default="M", show_default=True)
@click.option("--all-metadata", is_flag=True, help="Also back up targets, snapshot, timestamp and delegated roles.")
@click.option(
    "--test-restore",
    is_flag=True,
    help="Then restore the printable PDFs and compare byte for byte; the backup ledger counts the versions.",
)
def export(
    workspace: Path,
    out: Path,
    versions: str,
    formats: str,
    qr_bytes: int,
    ecc: str,
    all_metadata: bool,
    test_restore: bool,
) -> None:
    """Back up signed metadata as exact files, QR codes (PNG, SVG), printable PDFs and text fallbacks."""
    ws = core.Workspace.load(workspace)
    if test_restore:
        defaults = (versions, formats, qr_bytes, ecc, all_metadata) == (
            "all",
            "files,png,svg,pdf,txt",
            choices.DEFAULT_QR_BYTES,
            "M",
            False,
        )
        if not defaults:
            raise UsageError("--test-restore backs up every root version in every format; drop the other options")
        with progress("Exporting the backup, then restoring it from the printable PDFs"):
            lines = core.recovery.export_with_test_restore(ws, out, datetime.now(UTC))
        for line in lines:
            click.echo(f"  {printable(line, 400)}")
        click.echo(f"wrote the backup to {out}; print the PDFs for the safe (the ledger counts these versions)")
        return
    with progress("Exporting the backup"):
        result = core.recovery.export_workspace(
            ws, out, versions, [f.strip() for f in formats.split(",") if f.strip()], qr_bytes, ecc, all_metadata
        )
    for b in result.backups:
        click.echo(f"  {b.name}: set {b.set_id}, {plural(b.parts, 'QR part')}, sha256 {b.sha256}")
    click.echo(f"wrote {plural(sum(len(b.files) for b in result.backups), 'file')} to {out}")
    click.echo(
        "  print the PDFs, then prove they restore: ceremony drill WORKSPACE --backup DIR "
        "(or export with --test-restore); the backup ledger counts a version only then"
    )
    click.echo(f"transcript head: {result.transcript_head}")


@main.command()
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Directory for the restored files.")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
def restore(out: Path, inputs: tuple[str, ...]) -> None:
    """Restore metadata from QR scans or photos (PNG/JPEG), PDFs and text fallbacks, in any order.

    Each INPUT is a file, a directory (its files, not its subdirectories or hidden files) or a glob:
    the shell's ('scans/*.png'), or quoted ("scans/*.png") for ceremony to expand, as on a system without one.
    """
    files = core.recovery.expand_inputs(inputs)
    with progress(f"Restoring from {plural(len(files), 'file')}"):
        result = core.recovery.restore_to(files, out)
    for item in result.restored:
        for line in core.recovery.describe_restored(item):
            click.echo(f"  {line}")
    click.echo(f"  {printable(result.chain)}")
    for warning in result.warnings:
        click.echo(f"  warning: {printable(warning)}", err=True)
    click.echo(f"restored {plural(len(result.restored), 'file')} into {out}, byte-identical to what was exported")


@main.command("backup-key")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("keyid")
@click.option("--shares", type=int, required=True, help="Number of custodians (N).")
@click.option("--threshold", type=int, required=True, help="Shares needed to restore (K).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True)
@click.option("--passphrase-file", type=click.Path(path_type=Path), help="Drills/automation: the key's passphrase.")
def backup_key(
    workspace: Path, keyid: str, shares: int, threshold: int, out: Path, paper: str, passphrase_file: Path | None
) -> None:
    """Split a software key's protection into SLIP-39 shares, one PDF per custodian."""
    ws = core.Workspace.load(workspace)
    provider = _passphrase_provider([passphrase_file] if passphrase_file else [], confirm=False)
    with progress("Writing the share sheets"):
        result = core.recovery.backup_key(ws, keyid, shares, threshold, out, provider, paper)
    for name in result.files:
        click.echo(f"  wrote {out / name}")
    click.echo(
        f"any {threshold} of {shares} custodians restore key {result.keyid[:16]}; give each custodian only "
        "their own sheet, then destroy the share PDFs on this machine"
    )
    click.echo(f"transcript head: {result.transcript_head}")


@main.command("restore-key")
@click.option(
    "--backup",
    "backup_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory with the key backup manifest and encrypted key.",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The rebuilt encrypted key file (.p12).")
@click.option("--keyid", help="Which key, when the directory holds several backups.")
@click.option("--passphrase-file", type=click.Path(path_type=Path), help="Drills/automation: the new passphrase.")
@click.argument("shares", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="SHARE...")
def restore_key(
    backup_dir: Path, out: Path, keyid: str | None, passphrase_file: Path | None, shares: tuple[Path, ...]
) -> None:
    """Rebuild an encrypted key from K shares (text files, scans or PDFs) under a new passphrase.

    The shell's globs work for SHARE ('shares/*.txt').
    """
    provider = _passphrase_provider([passphrase_file] if passphrase_file else [], confirm=True)
    passphrase = provider(f"restored key {out.name}")
    with progress("Restoring the key"):
        restored = core.recovery.restore_key(backup_dir, list(shares), out, passphrase, keyid)
    click.echo(f"restored key {restored} into {out} (encrypted under the new passphrase); it matches its key id")


@main.command("drill")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--backup",
    "backup_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The directory ceremony export wrote (every backup in it is restored and checked).",
)
def drill_cmd(workspace: Path, backup_dir: Path) -> None:
    """Recovery drill: restore every backup into a temporary place and check it; writes a dated report."""
    with progress("Running the recovery drill"):
        report = core.recovery.drill(core.Workspace.load(workspace), backup_dir)
    for check in report.checks:
        click.echo(
            f"  {'pass' if check.passed else 'FAIL'}  {printable(check.name)} ({check.seconds:.1f}s): {printable(check.detail)}"
        )
    click.echo(f"drill {'PASSED' if report.passed else 'FAILED'}; report {report.report_file}")
    click.echo(f"transcript head: {report.transcript_head}")
    if not report.passed:
        sys.exit(EXIT_INVALID)


@main.command()
@click.argument("workspace", required=False, type=click.Path(path_type=Path))
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path),
    help="A new-root ceremony plan: the new root ceremony (n) runs from it, each step held to it and recorded.",
)
def tui(workspace: Path | None = None, plan_file: Path | None = None) -> None:
    """Open the terminal UI on WORKSPACE (or with none: create or open one there)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the terminal UI needs a terminal; the other commands serve scripts (ceremony --help)")
    if plan_file is not None:  # a plan that would not run is refused here, before the screen opens
        checked, _data = core.plan.read_plan(plan_file)
        core.plan.check_plan(checked)
        core.guided.check_guided_plan(checked)
    from ceremony.tui import make_app  # only the UI command loads Textual

    make_app(workspace, plan=plan_file).run()
