"""Complaints from the public, the ledger that follows them up, and credit records on organizations.

A complaint is received (``submit_complaint``), then triaged, investigated, and either found
substantiated or closed; any open complaint may be closed with a note. A substantiated complaint
can lead to a credit record (warning, suspension, withdrawal) on an organization, which its public
page shows; a regulator may also enter one without a complaint. Services flush, never commit.

Privacy: audit events are published in the transparency log (``/log/entries``), so the audit
snapshots of a complaint carry no reporter data, no free text and no name of a body or certificate
under investigation, only the reference, the status, the assignee, the due date, counts and
digests. The full record stays in the complaint tables, which only admins and auditors read.
Credit records are public by design and are audited in full.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit
from registry.authorizations import latest_effective_date
from registry.bodies import get_body, registry_today
from registry.certificates import get_certificate
from registry.complaint_input import (  # noqa: F401  (re-exported: the limits and inputs of complaints)
    MAX_ATTACHMENT_BYTES,
    MAX_DESCRIPTION_CHARS,
    MAX_FILENAME_CHARS,
    MAX_NOTE_CHARS,
    MAX_REASON_CHARS,
    MAX_REPORTER_CONTACT_CHARS,
    MAX_REPORTER_NAME_CHARS,
    MAX_SUBJECT_CHARS,
    AttachmentInput,
    CheckedAttachment,
    ComplaintInput,
    Problems,
    check_attachment,
    check_key,
    check_note,
    check_text,
    sanitize_filename,
)
from registry.errors import Conflict, InvalidInput, NotFound, StaleEdit
from registry.models import (
    Body,
    Certificate,
    Complaint,
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintLink,
    CreditRecord,
    Organization,
    Role,
    User,
)
from registry.oversight_models import ComplaintStatus, CreditKind

# The input limits (MAX_*) live with their checks in registry.complaint_input, imported above.
EARLIEST_DATE = dt.date(2000, 1, 1)  # of a credit record's effective date
REFERENCE_PREFIX = "TS"
SUBJECT_KINDS = ("certificate", "seal", "body", "lab", "other")
LANGUAGES = ("zh", "en")
# Who may be put in charge of a complaint.
ASSIGNABLE_ROLES = (Role.ADMIN.value, Role.AUDITOR.value)

_S = ComplaintStatus
STATUSES = tuple(status.value for status in ComplaintStatus)
OPEN_STATUSES = tuple(s for s in STATUSES if s != _S.CLOSED.value)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    _S.RECEIVED.value: (_S.TRIAGED.value, _S.CLOSED.value),
    _S.TRIAGED.value: (_S.INVESTIGATING.value, _S.CLOSED.value),
    _S.INVESTIGATING.value: (_S.SUBSTANTIATED.value, _S.CLOSED.value),
    _S.SUBSTANTIATED.value: (_S.CLOSED.value,),
    _S.CLOSED.value: (),
}
# The audit verb of a move to each status ("complaint:triage", ...).
VERBS = {
    _S.TRIAGED.value: "triage",
    _S.INVESTIGATING.value: "investigate",
    _S.SUBSTANTIATED.value: "substantiate",
    _S.CLOSED.value: "close",
}
CREDIT_KINDS = tuple(kind.value for kind in CreditKind)

# A reference as submit_complaint makes them (checked before any query: PostgreSQL answers a NUL
# byte in text with an error, not with "no rows").
_REFERENCE = re.compile(r"[A-Z0-9-]{1,24}")


# --- the ledger ---------------------------------------------------------------------------------


def get_complaint(session: Session, reference: str) -> Complaint:
    """The complaint with this reference (any case); NotFound, also for text no reference can be."""
    wanted = reference.strip().upper()
    # Checked before the query: PostgreSQL refuses NUL bytes in text with an error, not "no rows".
    complaint = None
    if _REFERENCE.fullmatch(wanted):
        complaint = session.scalar(select(Complaint).where(Complaint.reference == wanted))
    if complaint is None:
        raise NotFound(f"no complaint {reference!r}")
    return complaint


def complaint_snapshot(session: Session, complaint: Complaint) -> dict[str, Any]:
    """What an audit event shows of a complaint: nothing personal, no free text (see the module doc)."""
    assignee = session.get(User, complaint.assignee_id) if complaint.assignee_id is not None else None
    return {
        "reference": complaint.reference,
        "status": complaint.status,
        "subject_kind": complaint.subject_kind,
        "assignee": assignee.username if assignee is not None else None,
        "due_date": complaint.due_date,
        "links": len(complaint.links),
        "attachments": [a.sha256 for a in complaint.attachments],
    }


def _content_digest(data: ComplaintInput) -> str:
    """SHA-256 of what the reporter sent: the public log commits to it without disclosing it."""
    text = audit.canonical_json({
        "subject_kind": data.subject_kind, "subject_text": data.subject_text,
        "description": data.description, "reporter_name": data.reporter_name,
        "reporter_contact": data.reporter_contact,
    })  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_open(complaint: Complaint, expected_version: int | None) -> None:
    if expected_version is not None and complaint.version != expected_version:
        raise StaleEdit("the complaint was changed by someone else meanwhile; reload and try again")
    if complaint.status == _S.CLOSED.value:
        raise Conflict(f"complaint {complaint.reference} is closed", field="status")


def _record(
    session: Session, complaint: Complaint, action: str, before: dict[str, Any] | None, *,
    actor: str, now: dt.datetime, extra: dict[str, Any] | None = None,
) -> None:
    session.flush()
    audit.record(
        session, now=now, actor=actor, action=action, subject_type="complaint",
        subject_key=complaint.reference, before=before,
        after=complaint_snapshot(session, complaint) | (extra or {}),
    )


def _event(complaint: Complaint, now: dt.datetime, actor: str, note: str, **status: str | None) -> None:
    complaint.history.append(ComplaintEvent(at=now, actor=actor, note=note, **status))


def submit_complaint(
    session: Session, data: ComplaintInput, attachment: AttachmentInput | None, *,
    now: dt.datetime, actor: str = "public",
) -> Complaint:
    """Receive a complaint; raise InvalidInput listing every problem (``errors``) and write nothing."""
    problems = Problems()
    kind = (data.subject_kind or "").strip()
    if kind not in SUBJECT_KINDS:
        problems.add("kind", "invalid", f"the kind must be one of {', '.join(SUBJECT_KINDS)}")
    cleaned = ComplaintInput(
        subject_kind=kind,
        subject_text=check_text(problems, "subject", data.subject_text, MAX_SUBJECT_CHARS),
        description=check_text(problems, "description", data.description, MAX_DESCRIPTION_CHARS,
                          required=True, multiline=True),
        reporter_name=check_text(problems, "name", data.reporter_name, MAX_REPORTER_NAME_CHARS),
        reporter_contact=check_text(problems, "contact", data.reporter_contact, MAX_REPORTER_CONTACT_CHARS),
        language=data.language if data.language in LANGUAGES else LANGUAGES[0],
    )
    checked: CheckedAttachment | None = None
    if attachment is not None:
        try:
            checked = check_attachment(attachment)
        except InvalidInput as error:
            problems.add("attachment", error.details["code"], error.message)
    problems.raise_if_any()
    complaint = Complaint(
        # A unique placeholder until the row's id, which the database hands out without races,
        # gives the reference: no "largest number so far + 1" that two submissions could share.
        reference=f"{REFERENCE_PREFIX}-NEW-{secrets.token_hex(8)}",
        received_at=now,
        status=_S.RECEIVED.value,
        subject_kind=cleaned.subject_kind,
        subject_text=cleaned.subject_text,
        description=cleaned.description,
        reporter_name=cleaned.reporter_name,
        reporter_contact=cleaned.reporter_contact,
        language=cleaned.language,
        outcome="",
    )
    if checked is not None and attachment is not None:
        complaint.attachments.append(ComplaintAttachment(
            filename=checked.filename, media_type=checked.media_type, size=checked.size,
            sha256=checked.sha256, data=attachment.data,
        ))  # fmt: skip
    session.add(complaint)
    session.flush()
    complaint.reference = f"{REFERENCE_PREFIX}-{registry_today(now).year}-{complaint.id:06d}"
    _event(complaint, now, actor, "", from_status=None, to_status=_S.RECEIVED.value)
    _record(session, complaint, "complaint:submit", None, actor=actor, now=now,
            extra={"content_sha256": _content_digest(cleaned)})
    return complaint


def change_status(
    session: Session, reference: str, to_status: str, note: str, *,
    actor: str, now: dt.datetime, expected_version: int | None = None,
) -> Complaint:
    """Move a complaint along the ledger (``TRANSITIONS``); closing needs a note, kept as the outcome."""
    complaint = get_complaint(session, reference)
    if to_status not in STATUSES:
        raise InvalidInput(f"the status must be one of {', '.join(STATUSES)}", field="status")
    _check_open(complaint, expected_version)
    note = check_note(note, required=to_status == _S.CLOSED.value)
    if to_status not in TRANSITIONS[complaint.status]:
        raise Conflict(f"a {complaint.status} complaint cannot become {to_status}", field="status")
    before = complaint_snapshot(session, complaint)
    from_status, complaint.status = complaint.status, to_status
    if to_status == _S.CLOSED.value:
        complaint.closed_at, complaint.outcome = now, note
    _event(complaint, now, actor, note, from_status=from_status, to_status=to_status)
    _record(session, complaint, f"complaint:{VERBS[to_status]}", before, actor=actor, now=now)
    return complaint


def assignable_users(session: Session) -> list[User]:
    """Active admins and auditors, by name: who may be put in charge of a complaint."""
    return list(session.scalars(
        select(User).where(User.role.in_(ASSIGNABLE_ROLES), User.is_active.is_(True)).order_by(User.username)
    ))  # fmt: skip


def assign(
    session: Session, reference: str, user_id: int | None, due_date: dt.date | None, *,
    actor: str, now: dt.datetime, expected_version: int | None = None,
) -> Complaint:
    """Put an admin or auditor in charge (or nobody), with a due date (or none)."""
    complaint = get_complaint(session, reference)
    _check_open(complaint, expected_version)
    user = session.get(User, user_id) if user_id is not None else None
    if user_id is not None and (user is None or not user.is_active or user.role not in ASSIGNABLE_ROLES):
        raise InvalidInput("only an active admin or auditor can be put in charge", field="assignee")
    today = registry_today(now)
    # An unchanged due date may lie in the past (the complaint is overdue); a new one may not.
    if due_date not in (None, complaint.due_date) and not today <= due_date <= latest_effective_date(today):
        raise InvalidInput("the due date must be between today and a year from now", field="due_date")
    if (user_id, due_date) == (complaint.assignee_id, complaint.due_date):
        raise InvalidInput("neither the person in charge nor the due date changed", field="assignee")
    before = complaint_snapshot(session, complaint)
    complaint.assignee_id, complaint.due_date = user_id, due_date
    who = user.username if user is not None else "-"
    _event(complaint, now, actor, f"assigned: {who}; due: {due_date.isoformat() if due_date else '-'}")
    _record(session, complaint, "complaint:assign", before, actor=actor, now=now)
    return complaint


def link(
    session: Session, reference: str, target: tuple[str, str] | str, *, actor: str, now: dt.datetime,
) -> ComplaintLink:
    """Link the complaint to a certificate ``(body_code, number)`` or to a body (its code)."""
    complaint = get_complaint(session, reference)
    _check_open(complaint, None)
    if isinstance(target, tuple):
        body_code, number = check_key(target[0], "body"), check_key(target[1], "number")
        certificate = get_certificate(session, body_code, number)
        found = ComplaintLink(certificate_id=certificate.id, body_id=None)
        label = f"certificate {certificate.body.code}/{certificate.number}"
    else:
        body = get_body(session, check_key(target, "body"))
        found = ComplaintLink(certificate_id=None, body_id=body.id)
        label = f"body {body.code}"
    target_ids = (found.certificate_id, found.body_id)
    if any((existing.certificate_id, existing.body_id) == target_ids for existing in complaint.links):
        raise Conflict(f"the complaint is already linked to {label}", field="target")
    before = complaint_snapshot(session, complaint)
    complaint.links.append(found)
    _event(complaint, now, actor, f"linked {label}")
    _record(session, complaint, "complaint:link", before, actor=actor, now=now)
    return found


def link_label(session: Session, found: ComplaintLink) -> str:
    """``certificate CB-A/A-0001`` or ``body CB-A``."""
    if found.certificate_id is not None:
        certificate = session.get(Certificate, found.certificate_id)
        return f"certificate {certificate.body.code}/{certificate.number}" if certificate else "certificate ?"
    body = session.get(Body, found.body_id)
    return f"body {body.code}" if body is not None else "body ?"


def unlink(session: Session, reference: str, link_id: int, *, actor: str, now: dt.datetime) -> Complaint:
    """Remove one link of the complaint."""
    complaint = get_complaint(session, reference)
    _check_open(complaint, None)
    found = next((li for li in complaint.links if li.id == link_id), None)
    if found is None:
        raise NotFound(f"complaint {complaint.reference} has no link {link_id}")
    before = complaint_snapshot(session, complaint)
    label = link_label(session, found)
    complaint.links.remove(found)
    _event(complaint, now, actor, f"unlinked {label}")
    _record(session, complaint, "complaint:unlink", before, actor=actor, now=now)
    return complaint


def add_note(session: Session, reference: str, note: str, *, actor: str, now: dt.datetime) -> ComplaintEvent:
    """A note in the complaint's history (also once it is closed: follow-ups happen)."""
    complaint = get_complaint(session, reference)
    text = check_note(note, required=True)
    _event(complaint, now, actor, text)
    before = complaint_snapshot(session, complaint)  # a note changes nothing the snapshot shows
    _record(session, complaint, "complaint:note", before, actor=actor, now=now)
    return complaint.history[-1]


# --- credit records -----------------------------------------------------------------------------


def find_organization(session: Session, key: str) -> Organization:
    """The organization of a body (by its code) or with this unified social credit code."""
    key = check_key(key, "organization")
    body = session.scalar(select(Body).where(Body.code == key)) if key else None
    if body is not None:
        return body.organization
    found = None
    if key:
        found = session.scalar(select(Organization).where(Organization.credit_code == key.upper()))
    if found is None:
        raise InvalidInput(f"no body code or credit code {key!r} in the registry", field="organization")
    return found


def record_credit(
    session: Session, reference: str | None, organization: str, kind: str, reason: str,
    effective_date: dt.date, *, actor: str, now: dt.datetime,
) -> CreditRecord:
    """Enter a credit record on an organization, from a substantiated complaint or (``reference``
    None) directly by a regulator. It is public: the organization's page shows it."""
    complaint = get_complaint(session, reference) if reference else None
    if complaint is not None and complaint.status != _S.SUBSTANTIATED.value:
        raise Conflict(
            f"complaint {complaint.reference} is {complaint.status}; only a substantiated one leads "
            "to a credit record", field="status",
        )
    if kind not in CREDIT_KINDS:
        raise InvalidInput(f"the kind must be one of {', '.join(CREDIT_KINDS)}", field="kind")
    text = check_note(reason, required=True, field_name="reason", limit=MAX_REASON_CHARS)
    if not EARLIEST_DATE <= effective_date <= latest_effective_date(registry_today(now)):
        raise InvalidInput(
            "the effective date must be between 2000 and a year from now", field="effective_date"
        )
    org = find_organization(session, organization)
    record = CreditRecord(
        organization_id=org.id, complaint_id=complaint.id if complaint else None, kind=kind,
        reason=text, effective_date=effective_date, recorded_at=now, actor=actor,
    )
    session.add(record)
    if complaint is not None:
        _event(complaint, now, actor, f"credit record: {kind} on {org.credit_code or org.name_zh}")
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="credit:record", subject_type="organization",
        subject_key=org.credit_code or f"organization/{org.id}", before=None,
        after={
            "organization": org.credit_code, "name_zh": org.name_zh, "kind": kind,
            "effective_date": effective_date, "complaint": complaint.reference if complaint else None,
        },
        reason=text,
    )
    return record


def credit_records_for(session: Session, organization_id: int) -> list[CreditRecord]:
    """An organization's credit records, the latest effective first (for its public page)."""
    return list(session.scalars(
        select(CreditRecord).where(CreditRecord.organization_id == organization_id)
        .order_by(CreditRecord.effective_date.desc(), CreditRecord.id.desc())
    ))  # fmt: skip


# --- the ledger's list --------------------------------------------------------------------------


def search_complaints(
    session: Session, *, status: str | None, overdue: bool, today: dt.date, page: int, per_page: int,
) -> tuple[list[Complaint], int]:
    """One page of complaints, newest first, and the total; ``overdue``: open and past the due date."""
    query = select(Complaint)
    if status:
        query = query.where(Complaint.status == status)
    if overdue:
        query = query.where(Complaint.status.in_(OPEN_STATUSES), Complaint.due_date < today)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Complaint.received_at.desc(), Complaint.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(items), total


def is_overdue(complaint: Complaint, today: dt.date) -> bool:
    return complaint.status in OPEN_STATUSES and complaint.due_date is not None and complaint.due_date < today
