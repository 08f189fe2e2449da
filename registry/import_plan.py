"""The import's plan: what applying a checked file would change, found without writing anything.

``plan`` compares the rows ``registry.import_rows`` validated with the database and returns an
``ImportPlan``: bodies to add, change or withdraw and scope lines to add, edit, move through
status steps or withdraw, plus the problems only the database reveals. ``registry.importer``
makes the dry run from it and applies it; ``ImportPlan.digest`` lets the UI apply only the plan
the admin reviewed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registry.authorizations import TRANSITIONS, AuthorizationInput, latest_effective_date
from registry.bodies import BodyInput, body_snapshot, registry_today
from registry.import_rows import IDENTIFIER_COLUMNS, LINE_COLUMNS, ORG_COLUMNS, ImportRow, body_values
from registry.models import Authorization, Body
from registry.spreadsheets import ImportProblem, sha256_hex

# --- The plan: what applying the file would change ------------------------------------------------

LIVE = ("active", "suspended")


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: Any
    new: Any


@dataclass
class BodyPlan:
    """A body to add, change (``changes``) or withdraw (``withdrawn_lines`` lines)."""

    code: str
    name_zh: str
    row: int | None
    data: BodyInput | None = None
    changes: list[FieldChange] = field(default_factory=list)
    withdrawn_lines: int = 0
    takes_held_identifier: bool = False


@dataclass
class LinePlan:
    """A scope line to add, edit (``changes``) and/or move through ``status_steps``."""

    body_code: str
    jurisdiction: str
    scheme: str
    category: str
    row: int | None
    authorization_id: int | None
    data: AuthorizationInput | None
    changes: list[FieldChange] = field(default_factory=list)
    status_from: str | None = None
    status_steps: list[str] = field(default_factory=list)
    absent: bool = False

    @property
    def action(self) -> str:
        if self.authorization_id is None:
            return "added"
        if self.absent:
            return "withdrawn"
        return "changed" if self.changes else "status"


@dataclass
class ImportPlan:
    sha256: str = ""
    filename: str = ""
    rows: int = 0
    bodies_added: list[BodyPlan] = field(default_factory=list)
    bodies_changed: list[BodyPlan] = field(default_factory=list)
    bodies_withdrawn: list[BodyPlan] = field(default_factory=list)
    lines: list[LinePlan] = field(default_factory=list)
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)  # nothing to stop the import

    @property
    def has_changes(self) -> bool:
        return bool(self.bodies_added or self.bodies_changed or self.lines)

    def counts(self) -> dict[str, int]:
        """How many bodies and lines each kind of change touches."""
        return {
            "bodies_added": len(self.bodies_added),
            "bodies_changed": len(self.bodies_changed),
            "bodies_withdrawn": len(self.bodies_withdrawn),
            "lines_added": sum(lp.authorization_id is None for lp in self.lines),
            "lines_changed": sum(bool(lp.changes) for lp in self.lines),
            "lines_status_changed": sum(bool(lp.status_steps) and not lp.absent for lp in self.lines
                                        if lp.authorization_id is not None),
            "lines_withdrawn": sum(lp.absent for lp in self.lines),
        }

    def digest(self) -> str:
        """A fingerprint of the planned changes: the UI applies only the plan the admin reviewed."""
        payload = {
            "sha256": self.sha256,
            "bodies": [(b.code, [(c.column, c.old, c.new) for c in b.changes])
                       for b in (*self.bodies_added, *self.bodies_changed, *self.bodies_withdrawn)],
            "lines": [(lp.body_code, lp.jurisdiction, lp.scheme, lp.category, lp.authorization_id,
                       [(c.column, c.old, c.new) for c in lp.changes], lp.status_steps) for lp in self.lines],
        }
        return sha256_hex(json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8"))


def _load_bodies(session: Session) -> dict[str, Body]:
    # Four queries for the whole registry instead of several per row.
    query = select(Body).options(
        selectinload(Body.identifiers), selectinload(Body.authorizations).selectinload(Authorization.periods)
    )
    return {b.code: b for b in session.scalars(query)}


def _desired_body(row: ImportRow, body: Body | None) -> BodyInput:
    """The file's body, with the database's value for any column the file does not have."""
    if body is None:
        return row.body
    current = body_snapshot(body)
    given = body_values(row.body)
    identifiers = {s: given[s] if s in row.columns else current["identifiers"].get(s, "")
                   for s in IDENTIFIER_COLUMNS}
    kept = {name: (getattr(row.body, name) if name in row.columns else current[name])
            for name in ("credit_code", *ORG_COLUMNS)}
    return BodyInput(
        code=row.body.code, kind=row.body.kind, contact_name=body.contact_name,
        contact_email=body.contact_email, contact_phone=body.contact_phone,
        identifiers={s: v for s, v in identifiers.items() if v}, **kept,
    )


def _period_status(line: Authorization, day: dt.date) -> str:
    status = line.periods[0].status
    for period in line.periods:
        if period.effective_from <= day:
            status = period.status
    return status


def _status_steps(stored: str, target: str) -> list[str]:
    if stored == target:
        return []
    if (stored, target) in TRANSITIONS:
        return [target]
    return ["active", target]  # withdrawn -> suspended: restore, then suspend


def _plan_line(
    row: ImportRow, line: Authorization | None, today: dt.date, errors: list[ImportProblem]
) -> LinePlan | None:
    data = row.line
    if line is not None:
        # Columns the file does not have keep the database's value.
        optional = ("standards", "tests", "valid_until")
        data = AuthorizationInput(
            jurisdiction=line.jurisdiction, scheme=line.scheme, category=line.category,
            valid_from=row.line.valid_from,
            **{name: getattr(row.line if name in row.columns else line, name) for name in optional},
        )
    plan_ = LinePlan(row.body.code, data.jurisdiction, data.scheme, data.category, row.number,
                     line.id if line else None, data)
    if line is None:
        target = "active" if row.status == "expired" else row.status
        plan_.status_steps = _status_steps("active", target)
        last_change = data.valid_from
    else:
        plan_.changes = [FieldChange(name, getattr(line, name), getattr(data, name)) for name in LINE_COLUMNS
                         if getattr(line, name) != getattr(data, name)]
        if (data.valid_from != line.valid_from and len(line.periods) > 1
                and data.valid_from >= line.periods[1].effective_from):
            errors.append(ImportProblem(row.number, "valid_from", "valid_from must precede the line's first "
                                        "status change ({day})", {"day": line.periods[1].effective_from}))
        day = max(today, data.valid_from)
        in_force = _period_status(line, day)
        target = in_force if row.status == "expired" and in_force in LIVE else row.status
        target = "active" if target == "expired" else target
        last_change = line.periods[-1].effective_from if len(line.periods) > 1 else data.valid_from
        plan_.status_from = line.status
        if target not in (in_force, line.status):
            if last_change > day:
                errors.append(ImportProblem(row.number, "status", "a status change is already scheduled for "
                                            "{day}; change this line's status in the admin pages",
                                            {"day": last_change}))
            else:
                plan_.status_steps = _status_steps(line.status, target)
    if plan_.status_steps and max(today, last_change) > latest_effective_date(today):
        errors.append(ImportProblem(row.number, "status", "the line starts more than a year ahead; its "
                                    "status cannot be set yet"))
    return plan_ if (line is None or plan_.changes or plan_.status_steps) else None


def _withdraw_absent(result: ImportPlan, body: Body, lines: Iterable[Authorization], today: dt.date) -> int:
    """Plan the withdrawal of ``body``'s live lines that the file does not list; return how many.

    A line that has not started yet is kept, with a warning: the official list, like the
    registry's own export, lists what is in force today, so its absence says nothing about a
    grant scheduled ahead (withdrawing it is the admin pages' job).
    """
    count = 0
    for line in lines:
        if line.status not in LIVE:
            continue
        if line.valid_from > today:
            where = {"body": body.code, "category": line.category, "day": line.valid_from}
            kept = ImportProblem(
                None, None, "body {body}: the {category} line starts on {day}, not listed in the file: kept",
                where,
            )
            result.warnings.append(kept)
            continue
        count += 1
        result.lines.append(LinePlan(body.code, line.jurisdiction, line.scheme, line.category, None, line.id,
                                     None, status_from=line.status, status_steps=["withdrawn"], absent=True))
    return count


def plan(session: Session, rows: list[ImportRow], now: dt.datetime, *, sha256: str = "",
         filename: str = "") -> ImportPlan:
    """Compare validated rows with the database. Bodies and lines not in the file are withdrawn,
    except lines that have not started yet (kept, with a warning).

    Nothing is written. ``errors`` lists what only the database reveals (a kind change, an
    identifier held by another body, a valid_from after a status change).
    """
    today = registry_today(now)
    result = ImportPlan(sha256=sha256, filename=filename, rows=len(rows))
    existing = _load_bodies(session)
    by_body: dict[str, list[ImportRow]] = {}
    for row in rows:
        by_body.setdefault(row.body.code, []).append(row)
    held = {(i.scheme, i.value): b.code for b in existing.values() for i in b.identifiers}
    final_owner = {key: code for key, code in held.items() if code not in by_body}
    for code, body_rows in by_body.items():
        first, body = body_rows[0], existing.get(code)
        desired = _desired_body(first, body)
        entry = BodyPlan(code, desired.name_zh, first.number, desired)
        for scheme, value in desired.identifiers.items():
            owner = final_owner.setdefault((scheme, value), code)
            if owner != code:
                result.errors.append(ImportProblem(first.number, scheme, "{value} is the identifier of body "
                                                   "{other}, which the file does not list",
                                                   {"value": value, "other": owner}))
            entry.takes_held_identifier |= held.get((scheme, value), code) != code
        if body is None:
            result.bodies_added.append(entry)
        else:
            if desired.kind != body.kind:
                kinds = {"old": body.kind, "new": desired.kind}
                result.errors.append(ImportProblem(first.number, "kind", "a body's kind cannot change ({old} "
                                                   "to {new}); withdraw it and add a new body", kinds))
            snapshot = body_snapshot(body)
            fields = BodyInput.__dataclass_fields__
            old = body_values(BodyInput(**{k: v for k, v in snapshot.items() if k in fields}))
            entry.changes = [FieldChange(c, old[c], new) for c, new in body_values(desired).items()
                             if old[c] != new]
            if entry.changes:
                result.bodies_changed.append(entry)
        lines = {(a.jurisdiction, a.scheme, a.category): a for a in (body.authorizations if body else [])}
        for row in body_rows:
            key = (row.line.jurisdiction, row.line.scheme, row.line.category)
            line_plan = _plan_line(row, lines.pop(key, None), today, result.errors)
            if line_plan is not None:
                result.lines.append(line_plan)
        if body is not None:
            _withdraw_absent(result, body, lines.values(), today)
    for code, body in existing.items():
        if code not in by_body:
            withdrawn = _withdraw_absent(result, body, body.authorizations, today)
            if withdrawn:
                name = body.organization.name_zh
                result.bodies_withdrawn.append(BodyPlan(code, name, None, withdrawn_lines=withdrawn))
    return result
