"""``ceremony plan``: a ceremony plan checked before the day, and its printed script."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ceremony.core import _fs
from ceremony.core import plan as _plan
from ceremony.core._text import printable
from ceremony.errors import CeremonyError, UsageError


@click.group()
def plan() -> None:
    """Ceremony plans: check one before the day, print its script."""


@plan.command("check")
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("--module", type=click.Path(path_type=Path), help="PKCS#11 module to look tokens up with.")
def plan_check(plan_file: Path, module: Path | None) -> None:
    """Hold PLAN to every policy rule that needs no key (a dry run: no key is made, no token logged in to)."""
    checked, _data = _plan.read_plan(plan_file)
    notes = _plan.check_plan(checked, str(module) if module else None)
    steps = _plan.script_steps(checked, str(plan_file))
    click.echo(f"plan ok: {printable(checked.name)} ({checked.kind}, profile {checked.profile})")
    click.echo(f"  sha256: {checked.sha256}")
    people = ", ".join(f"{printable(p.name)} ({p.role})" for p in checked.participants)
    click.echo(f"  participants: {people}")
    for key in checked.keys:
        click.echo(f"  key {printable(key.name)} ({', '.join(key.roles)}): {printable(key.describe())}")
    for role, threshold in checked.thresholds.items():
        click.echo(f"  {role}: threshold {threshold}")
    click.echo(f"  {len(steps)} steps; print them with: ceremony plan script {printable(str(plan_file))} --out FILE")
    for note in notes:
        click.echo(f"  note: {printable(note)}")


@plan.command("script")
@click.argument("plan_file", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The PDF to write.")
@click.option("--paper", type=click.Choice(["a4", "letter"]), default="a4", show_default=True)
@click.option("--module", type=click.Path(path_type=Path), help="PKCS#11 module to look tokens up with.")
def plan_script(plan_file: Path, out: Path, paper: str, module: Path | None) -> None:
    """Print PLAN's ceremony script as a PDF: every step, initials boxes, a page per keyholder.

    The plan is checked first: a script is printed only for a plan that would run.
    """
    checked, _data = _plan.read_plan(plan_file)
    _plan.check_plan(checked, str(module) if module else None)
    pdf = _plan.script_pdf(checked, plan_file.name, paper)
    _fs.write_atomic(out, pdf)
    steps = len(_plan.script_steps(checked))
    click.echo(f"Wrote {printable(str(out))}: the script of {printable(checked.name)}, {steps} steps")
    click.echo(f"  plan sha256: {checked.sha256} (printed on every page's footer, first 16 digits)")


# --------------------------------------------------------------------------- preflight, and a step run from a plan


def parse_trusted_time(text: str | None) -> datetime | None:
    """--time: "YYYY-MM-DD HH:MM" (UTC), or "HH:MM" for today (UTC), as the operator reads it aloud."""
    if text is None:
        return None
    text = text.strip().removesuffix("Z").removesuffix(" UTC")
    for form in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        with contextlib.suppress(ValueError):
            return datetime.strptime(text, form).replace(tzinfo=UTC)
    with contextlib.suppress(ValueError):
        clock = datetime.strptime(text, "%H:%M").replace(tzinfo=UTC).time()
        return datetime.combine(datetime.now(UTC).date(), clock, tzinfo=UTC)
    raise UsageError(f"--time {printable(text, 40)!r}: give the trusted time as YYYY-MM-DD HH:MM (UTC) or HH:MM")


def show_checks(checks: list[Any]) -> list[Any]:
    """Print each check as the script shows it; return the failed ones."""
    for check in checks:
        click.echo(check.line())
    return [c for c in checks if not c.passed]


def preflight_for(
    checked: _plan.Plan | None, time_text: str | None, workspace: Path | None, module: Path | None
) -> list[Any]:
    """Every preflight check, with what the plan expects (its tokens, its clock tolerance)."""
    from ceremony.core.guided import preflight as _preflight

    tolerance = _preflight.CLOCK_TOLERANCE_MINUTES
    if checked is not None:
        tolerance = int(checked.preflight.get("clock_tolerance_minutes", tolerance))
    return _preflight.preflight_checks(
        str(module) if module else None,
        expected_tokens=checked.expected_tokens() if checked else None,
        trusted_time=parse_trusted_time(time_text),
        clock_tolerance_minutes=tolerance,
        workspace_dir=workspace,
        full=True,
    )


def plan_run(
    plan_file: Path, command: str, time_text: str | None, workspace: Path, module: Path | None, exception: str | None
) -> _plan.PlanRun:
    """A command's step of a plan: the plan read and checked, the preflight run and shown, and refused unless every
    check passed or a witness exception covers the failures (the plan's network exception covers the network).

    Raises:
        PlanError / PolicyError: the plan does not hold, or has no step for ``command``.
        UsageError: a check failed and no exception was recorded.
    """
    checked, data = _plan.read_plan(plan_file)
    _plan.check_plan(checked, str(module) if module else None)
    _plan.check_workspace_name(checked, workspace)
    step = _plan.step_for(checked, command)
    click.echo(f"Plan {printable(checked.name)} ({checked.kind}), sha256 {checked.sha256[:16]}..., step {step}")
    from ceremony.core.guided import preflight as _preflight

    found = preflight_for(checked, time_text, workspace, module)
    failed = show_checks(found)
    given = {c.name: exception for c in failed} if exception else {}
    try:
        excused = _preflight.excused(found, given, _plan.planned_exceptions(checked))
    except CeremonyError as err:
        raise type(err)(
            str(err), "fix the host, or the witness records why the ceremony goes on: --exception TEXT"
        ) from err
    checks = tuple((c.name, c.passed, c.detail) for c in found)
    return _plan.PlanRun(checked, data, step, checks, excused)
