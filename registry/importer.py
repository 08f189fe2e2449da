"""Import of the official list from CSV or XLSX: parse, validate, plan (the dry run), apply.

The format is the export format, so an export can be edited and imported back: the sheet is read
by ``registry.spreadsheets``, its rows checked by ``registry.import_rows`` and compared with the
database by ``registry.import_plan``. Here ``dry_run`` parses, validates and plans without
writing; ``apply`` makes the planned changes through ``registry.bodies`` and
``registry.authorizations`` (one audit event per change) plus one ``registry:import`` event,
inside a SAVEPOINT so that any failure leaves nothing behind. Problems carry an English message
template and its values, so the Flask layer can translate them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry import audit
from registry.authorizations import (
    change_status,
    get_authorization,
    grant_authorization,
    update_authorization,
)
from registry.bodies import create_body, registry_today, update_body
from registry.errors import ImportRejected, RegistryError
from registry.import_plan import ImportPlan, plan
from registry.import_rows import parse, validate
from registry.models import Authorization, Category, Jurisdiction
from registry.spreadsheets import ImportProblem, rejected, sha256_hex

# Re-exported: what the CLI and the admin pages take from here.
__all__ = [
    "ImportProblem", "ImportReport", "apply", "dry_run", "import_file", "parse", "plan", "sha256_hex",
    "validate",
]  # fmt: skip

# --- Apply ------------------------------------------------------------------------------------------


def _effective(line: Authorization, today: dt.date) -> dt.date:
    # Status history is append-only: a change cannot take effect before the last recorded one.
    return max(today, line.periods[-1].effective_from)


def _apply_changes(
    session: Session, planned: ImportPlan, *, actor: str, now: dt.datetime, reason: str
) -> None:
    today = registry_today(now)
    # Strong references keep these in the identity map, so the services' session.get() for every
    # granted line is answered without a query (the map only holds objects weakly).
    reference = [*session.scalars(select(Category)), *session.scalars(select(Jurisdiction))]
    # Bodies that only give identifiers up go first, so a body taking one over finds it free.
    for entry in sorted(planned.bodies_changed, key=lambda b: b.takes_held_identifier):
        assert entry.data is not None
        update_body(session, entry.code, entry.data, expected_version=None, actor=actor, now=now)
    for entry in planned.bodies_added:
        assert entry.data is not None
        create_body(session, entry.data, actor=actor, now=now)
    for lp in planned.lines:
        if lp.authorization_id is None:
            assert lp.data is not None
            line = grant_authorization(session, lp.body_code, lp.data, actor=actor, now=now, reason=reason)
        elif lp.changes:
            assert lp.data is not None
            line = update_authorization(session, lp.authorization_id, lp.data, expected_version=None,
                                        actor=actor, now=now, reason=reason)
        else:
            line = get_authorization(session, lp.authorization_id)
        why = f"{reason}; no longer in the official list" if lp.absent else reason
        for status in lp.status_steps:
            change_status(session, line.id, status, reason=why, actor=actor, now=now,
                          effective=_effective(line, today))
    del reference


def apply(
    session: Session, planned: ImportPlan, *, actor: str, now: dt.datetime, reason: str
) -> dict[str, int]:
    """Make the planned changes through the audited services, plus one ``registry:import`` event.

    All or nothing: the changes run in a SAVEPOINT, and any failure rolls it back and raises
    ImportRejected. The caller commits. A plan without changes writes nothing at all.
    """
    reason = reason.strip()
    if not reason:
        raise rejected("a reason is required", column="reason")
    if planned.errors:
        raise ImportRejected(planned.errors[0].problem, errors=planned.errors)
    counts = planned.counts()
    if not planned.has_changes:
        return counts
    note = f"{reason} (import {planned.sha256[:12]})" if planned.sha256 else reason
    try:
        with session.begin_nested():
            _apply_changes(session, planned, actor=actor, now=now, reason=note)
            audit.record(
                session, now=now, actor=actor, action="registry:import", subject_type="import",
                subject_key=planned.sha256 or "-", before=None,
                after={"sha256": planned.sha256, "filename": planned.filename, "rows": planned.rows,
                       **counts},
                reason=reason,
            )
    except RegistryError as exc:
        raise rejected("the import was rolled back: {detail}", detail=exc.message) from None
    except SQLAlchemyError as exc:
        raise rejected("the import was rolled back: {detail}", detail=str(exc).splitlines()[0]) from None
    return counts


@dataclass
class ImportReport:
    """The dry run of one file: problems, warnings and (when there is no error) the plan."""

    filename: str
    sha256: str
    format: str | None
    errors: list[ImportProblem]
    warnings: list[ImportProblem] = field(default_factory=list)
    plan: ImportPlan | None = None
    unsupported: bool = False

    @property
    def applicable(self) -> bool:
        return not self.errors and self.plan is not None


def dry_run(session: Session, data: bytes, filename: str, now: dt.datetime) -> ImportReport:
    """Parse, validate and plan ``data`` without writing anything."""
    digest = sha256_hex(data)
    try:
        source = parse(data, filename)
    except ImportRejected as exc:
        return ImportReport(filename, digest, None, list(exc.details.get("errors", [])),
                            unsupported=bool(exc.details.get("unsupported")))
    checked = validate(
        source,
        categories=set(session.scalars(select(Category.code))),
        jurisdictions=set(session.scalars(select(Jurisdiction.code))),
    )
    if checked.errors:
        return ImportReport(filename, digest, source.format, checked.errors, checked.warnings)
    planned = plan(session, checked.rows, now, sha256=digest, filename=filename)
    warnings = checked.warnings + planned.warnings
    return ImportReport(filename, digest, source.format, planned.errors, warnings, planned)


def import_file(
    session: Session, data: bytes, filename: str, *, actor: str, now: dt.datetime, reason: str
) -> ImportPlan:
    """Dry-run then apply ``data`` in one go; raise ImportRejected (nothing written) on any problem."""
    report = dry_run(session, data, filename, now)
    if not report.applicable or report.plan is None:
        first = report.errors[0].problem if report.errors else "the file cannot be imported"
        raise ImportRejected(first, errors=report.errors)
    apply(session, report.plan, actor=actor, now=now, reason=reason)
    return report.plan
