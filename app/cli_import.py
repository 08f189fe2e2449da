"""``registry import FILE [--apply] [--actor NAME] [--reason TEXT]``: the official-list import from a shell.

Without ``--apply`` it is a dry run: it prints the problems and the plan and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from app import clock
from app.cli import registry_cli
from app.database import new_session
from registry.errors import ImportRejected
from registry.importer import ImportProblem, ImportReport, apply, dry_run

SHOWN = 50


def _echo_problems(title: str, problems: list[ImportProblem], *, err: bool) -> None:
    click.echo(f"{title} ({len(problems)}):", err=err)
    for problem in problems[:SHOWN]:
        where = f"row {problem.row}" if problem.row else "file"
        column = f", {problem.column}" if problem.column else ""
        click.echo(f"  {where}{column}: {problem.problem}", err=err)
    if len(problems) > SHOWN:
        click.echo(f"  ... and {len(problems) - SHOWN} more", err=err)


def _echo_plan(report: ImportReport) -> None:
    assert report.plan is not None
    plan = report.plan
    click.echo(f"{report.filename}: {plan.rows} rows, sha256 {report.sha256}")
    for key, count in plan.counts().items():
        click.echo(f"  {key.replace('_', ' ')}: {count}")
    for body in plan.bodies_changed[:SHOWN]:
        changes = "; ".join(f"{c.column}: {c.old!r} -> {c.new!r}" for c in body.changes)
        click.echo(f"  changed {body.code}: {changes}")
    for body in plan.bodies_withdrawn[:SHOWN]:
        click.echo(f"  withdrawn {body.code} ({body.withdrawn_lines} lines)")


@registry_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", "do_apply", is_flag=True, help="Apply the file (default: dry run only).")
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit trail.")
@click.option("--reason", default=None, help="Reason recorded with every change (default: names the file).")
def import_command(file: Path, do_apply: bool, actor: str, reason: str | None) -> None:
    """Dry-run (or with --apply, apply) an official list in CSV or XLSX."""
    data = file.read_bytes()
    now = clock.now()
    session = new_session(current_app)
    try:
        report = dry_run(session, data, file.name, now)
        if report.warnings:
            _echo_problems("warnings", report.warnings, err=True)
        if not report.applicable or report.plan is None:
            _echo_problems("errors", report.errors, err=True)
            raise click.ClickException("the file cannot be imported; nothing was changed")
        _echo_plan(report)
        if not do_apply:
            click.echo("dry run: nothing was changed (add --apply to import)")
            return
        try:
            apply(session, report.plan, actor=actor, now=now, reason=reason or f"import of {file.name}")
        except ImportRejected as exc:
            session.rollback()
            _echo_problems("errors", list(exc.details.get("errors", [])), err=True)
            raise click.ClickException("the import was rolled back; nothing was changed") from None
        session.commit()
        click.echo("applied" if report.plan.has_changes else "the file matches the registry; nothing changed")
    finally:
        session.close()
