"""``registry audit-log``: replay the transparency log against the database, and check that the
log still extends a checkpoint saved earlier (``registry.log_audit``).

Exit code 0 when the log is intact, the tables hold exactly what it implies and the saved
checkpoint (if given) is consistent; 1 otherwise, after printing every difference.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from sqlalchemy.orm import Session

from app.cli import registry_cli
from app.database import new_session
from registry import log_audit
from registry.errors import RegistryError
from registry.log_audit import AuditReport, ConsistencyResult
from verify.checkpoint import NoteKeyError

DEFAULT_PUBLIC_HOST = "127.0.0.1:5000"


def default_origin() -> str:
    """The log's origin: ``LOG_ORIGIN`` when configured, else ``<PUBLIC_HOST>/registry-log``."""
    configured = current_app.config.get("LOG_ORIGIN")
    if configured:
        return str(configured)
    return f"{current_app.config.get('PUBLIC_HOST') or DEFAULT_PUBLIC_HOST}/registry-log"


def _one_snapshot(session: Session) -> None:
    # PostgreSQL: every statement of the audit sees the same committed state, so a change
    # committed while the replay runs cannot show up as a difference. (SQLite: the read
    # transaction BEGIN opens is already one snapshot.) Must precede the session's first query.
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counter.items())) or "none"


def _print_report(report: AuditReport) -> None:
    click.echo(
        f"log: {report.leaves_checked} leaves replayed ({report.audit_events} audit events), "
        f"{report.subtrees_checked} subtree(s) and {report.checkpoints_checked} checkpoint(s) checked"
    )
    click.echo(f"rows compared with the log: {_counts(report.rows_compared)}")
    click.echo(f"events not compared (no snapshot): {_counts(report.not_compared)}")
    if report.ok:
        click.echo("clean: the log is intact and the tables hold exactly what it implies")
        return
    click.echo(f"{len(report.differences)} difference(s):")
    for difference in report.differences:
        click.echo(f"  {difference}")


def _print_consistency(path: Path, result: ConsistencyResult) -> None:
    if result.ok:
        click.echo(f"checkpoint {path} (size {result.saved_size}) is consistent with the log "
                   f"(size {result.current_size})")
    else:
        click.echo(f"INCONSISTENT: checkpoint {path}: {result.problem}")


@registry_cli.command("audit-log")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A signed checkpoint saved earlier (GET /log/checkpoint): prove the log extends it.")
@click.option("--origin", default=None,
              help="The log's origin (default: LOG_ORIGIN, else <PUBLIC_HOST>/registry-log).")
def audit_log_command(checkpoint_path: Path | None, origin: str | None) -> None:
    """Replay the transparency log, compare the state it implies with the tables, and name every
    difference; with --checkpoint, check the log is consistent with it. Exit code 1 on any
    difference or inconsistency."""
    session = new_session(current_app)
    try:
        _one_snapshot(session)
        report = log_audit.replay(session)
        consistency = None
        if checkpoint_path is not None:
            verifiers = log_audit.log_verifiers(session, origin or default_origin())
            consistency = log_audit.check_consistency(session, checkpoint_path.read_bytes(), verifiers)
    except NoteKeyError as exc:
        raise click.ClickException(f"the origin cannot name the log's key: {exc}") from exc
    except RegistryError as exc:  # e.g. the log keys in the database are inconsistent
        raise click.ClickException(exc.message) from exc
    finally:
        session.rollback()  # the audit only reads
        session.close()
    _print_report(report)
    if checkpoint_path is not None and consistency is not None:
        _print_consistency(checkpoint_path, consistency)
    if not report.ok or (consistency is not None and not consistency.ok):
        raise SystemExit(1)
