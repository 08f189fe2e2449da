"""registry.complaints: submission, attachments, the ledger's transitions, links, notes, credit records."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import complaints as ledger
from registry.complaints import AttachmentInput, ComplaintInput
from registry.errors import Conflict, InvalidInput, NotFound, StaleEdit
from registry.models import AuditEvent, Complaint, ComplaintAttachment, CreditRecord
from tests.factories import make_body, make_user
from tests.unit.seal_support import make_world, register

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(64)
GIF = b"GIF89a" + bytes(64)


def complaint_input(**overrides: Any) -> ComplaintInput:
    values: dict[str, Any] = {
        "subject_kind": "certificate",
        "subject_text": "CB-X 2026-0001",
        "description": "The certificate number printed on the box is not in the registry.",
        "reporter_name": "Wang Fang",
        "reporter_contact": "wang.fang@example.cn",
    }
    return ComplaintInput(**(values | overrides))


def submit(
    session: Session, now: dt.datetime, attachment: AttachmentInput | None = None, **overrides: Any
) -> Complaint:
    return ledger.submit_complaint(session, complaint_input(**overrides), attachment, now=now)


def counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Complaint)) or 0,
        session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


def actions_of(session: Session, reference: str) -> list[str]:
    return list(session.scalars(
        select(AuditEvent.action).where(AuditEvent.subject_key == reference).order_by(AuditEvent.id)
    ))  # fmt: skip


def walk(session: Session, now: dt.datetime, complaint: Complaint, *statuses: str) -> Complaint:
    for status in statuses:
        complaint = ledger.change_status(
            session, complaint.reference, status, f"to {status}", actor="reg", now=now
        )
    return complaint


# --- submission ---------------------------------------------------------------------------------


def test_a_submission_gets_a_reference_a_history_and_an_audit_event(
    session: Session, now: dt.datetime
) -> None:
    complaint = submit(session, now)
    assert re.fullmatch(r"TS-2026-\d{6}", complaint.reference)
    assert complaint.reference.endswith(f"{complaint.id:06d}")
    assert complaint.status == "received" and complaint.language == "zh"
    assert [(e.from_status, e.to_status, e.actor) for e in complaint.history] == [
        (None, "received", "public")
    ]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "complaint:submit"))
    assert event is not None and event.subject_key == complaint.reference and event.actor == "public"
    assert event.after is not None and event.after["status"] == "received"
    assert len(event.after["content_sha256"]) == 64


def test_references_are_unique(session: Session, now: dt.datetime) -> None:
    references = {submit(session, now).reference for _ in range(5)}
    assert len(references) == 5


def test_the_audit_trail_publishes_nothing_personal(session: Session, now: dt.datetime) -> None:
    # Audit events go to the public transparency log: no reporter data, no free text.
    complaint = submit(session, now)
    ledger.add_note(
        session, complaint.reference, "Called the holder: Li Lei, 138 0000 0000", actor="reg", now=now
    )
    canonical = " ".join(
        session.scalars(select(AuditEvent.canonical).where(AuditEvent.subject_type == "complaint"))
    )
    for secret in ("Wang Fang", "wang.fang@example.cn", "not in the registry", "CB-X 2026-0001", "Li Lei"):
        assert secret not in canonical


def test_a_submission_with_problems_lists_them_all_and_writes_nothing(
    session: Session, now: dt.datetime
) -> None:
    before = counts(session)
    with pytest.raises(InvalidInput) as caught:
        submit(session, now, subject_kind="rumour", description="   ", reporter_name="x" * 101)
    fields = {(e["field"], e["code"]) for e in caught.value.details["errors"]}
    assert fields == {("kind", "invalid"), ("description", "required"), ("name", "too_long")}
    assert counts(session) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("description", "bad\x00byte"), ("subject_text", "two\nlines"), ("reporter_contact", "tab\there")],
)
def test_control_characters_are_refused(session: Session, now: dt.datetime, field: str, value: str) -> None:
    # NUL would be a database error on PostgreSQL (a 500); line breaks only belong in the description.
    with pytest.raises(InvalidInput) as caught:
        submit(session, now, **{field: value})
    assert caught.value.details["code"] == "control"


def test_line_breaks_are_fine_in_the_description(session: Session, now: dt.datetime) -> None:
    assert submit(session, now, description="line one\nline two").description == "line one\nline two"


# --- attachments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "declared", "data", "media_type", "stored_name"),
    [
        ("seal.png", "image/png", PNG, "image/png", "seal.png"),
        ("photo.JPG", "image/jpeg", JPEG, "image/jpeg", "photo.JPG"),
        ("scan.jpeg", "image/pjpeg", JPEG, "image/jpeg", "scan.jpeg"),
        ("letter.pdf", "application/octet-stream", PDF, "application/pdf", "letter.pdf"),
        ("no-ending", "", PDF, "application/pdf", "no-ending.pdf"),
    ],
)
def test_accepted_attachments_are_stored_with_their_proven_type(
    session: Session,
    now: dt.datetime,
    name: str,
    declared: str,
    data: bytes,
    media_type: str,
    stored_name: str,
) -> None:
    complaint = submit(session, now, AttachmentInput(name, declared, data))
    [stored] = complaint.attachments
    assert (stored.filename, stored.media_type, stored.size) == (stored_name, media_type, len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.data == data


@pytest.mark.parametrize(
    ("name", "declared", "data", "code"),
    [
        ("evidence.pdf", "application/pdf", PNG, "mismatch"),  # a PNG renamed .pdf
        ("evidence.png", "application/pdf", PNG, "mismatch"),  # the declared type disagrees
        ("evidence.pdf", "application/pdf", GIF, "type"),  # not a PDF at all, whatever it says
        ("page.html", "text/html", b"<script>alert(1)</script>", "type"),
        ("evidence.exe", "application/octet-stream", PNG, "mismatch"),
        ("empty.png", "image/png", b"", "empty"),
    ],
)
def test_disguised_or_unsupported_attachments_are_refused(
    session: Session, now: dt.datetime, name: str, declared: str, data: bytes, code: str
) -> None:
    before = counts(session)
    with pytest.raises(InvalidInput) as caught:
        submit(session, now, AttachmentInput(name, declared, data))
    assert caught.value.details["field"] == "attachment" and caught.value.details["code"] == code
    assert counts(session) == before
    assert session.scalar(select(func.count()).select_from(ComplaintAttachment)) == 0


def test_an_attachment_over_five_megabytes_is_refused(session: Session, now: dt.datetime) -> None:
    just_right = PNG + bytes(ledger.MAX_ATTACHMENT_BYTES - len(PNG))
    assert (
        submit(session, now, AttachmentInput("ok.png", "image/png", just_right)).attachments[0].size
        == 5 * 2**20
    )
    with pytest.raises(InvalidInput) as caught:
        submit(session, now, AttachmentInput("big.png", "image/png", just_right + b"\x00"))
    assert caught.value.details["code"] == "too_large"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\证书照片.png", "证书照片.png"),
        ("bad\u202egnp.png", "bad_gnp.png"),  # a right-to-left override would disguise the ending
        ("  .hidden.png", "hidden.png"),
        ("a<b>|c?.png", "a_b_c.png"),
        ("x" * 300 + ".png", "x" * (ledger.MAX_FILENAME_CHARS - 4) + ".png"),
    ],
)
def test_file_names_are_sanitized(given: str, expected: str) -> None:
    assert ledger.sanitize_filename(given) == expected


# --- transitions --------------------------------------------------------------------------------


def test_the_whole_path_writes_an_event_and_an_audit_event_per_step(
    session: Session, now: dt.datetime
) -> None:
    complaint = walk(
        session, now, submit(session, now), "triaged", "investigating", "substantiated", "closed"
    )
    assert (
        complaint.status == "closed" and complaint.outcome == "to closed" and complaint.closed_at is not None
    )
    assert [(e.from_status, e.to_status) for e in complaint.history] == [
        (None, "received"),
        ("received", "triaged"),
        ("triaged", "investigating"),
        ("investigating", "substantiated"),
        ("substantiated", "closed"),
    ]
    assert actions_of(session, complaint.reference) == [
        "complaint:submit",
        "complaint:triage",
        "complaint:investigate",
        "complaint:substantiate",
        "complaint:close",
    ]


@pytest.mark.parametrize("path", [(), ("triaged",), ("triaged", "investigating")])
def test_any_open_complaint_can_be_closed_with_a_note(
    session: Session, now: dt.datetime, path: tuple[str, ...]
) -> None:
    complaint = walk(session, now, submit(session, now), *path)
    with pytest.raises(InvalidInput) as caught:
        ledger.change_status(session, complaint.reference, "closed", "  ", actor="reg", now=now)
    assert caught.value.details["field"] == "note"
    closed = ledger.change_status(
        session, complaint.reference, "closed", "duplicate of TS-1", actor="reg", now=now
    )
    assert closed.status == "closed" and closed.outcome == "duplicate of TS-1"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), "investigating"),
        ((), "substantiated"),
        ((), "received"),
        (("triaged",), "substantiated"),
        (("triaged",), "triaged"),
        (("triaged", "investigating"), "triaged"),
        (("triaged", "investigating", "substantiated"), "investigating"),
        (("closed",), "triaged"),
        (("closed",), "closed"),
    ],
)
def test_other_transitions_are_refused(
    session: Session, now: dt.datetime, path: tuple[str, ...], target: str
) -> None:
    complaint = walk(session, now, submit(session, now), *path)
    status, events = complaint.status, len(actions_of(session, complaint.reference))
    with pytest.raises(Conflict):
        ledger.change_status(session, complaint.reference, target, "a note", actor="reg", now=now)
    assert complaint.status == status and len(actions_of(session, complaint.reference)) == events


def test_an_unknown_status_or_complaint_is_refused(session: Session, now: dt.datetime) -> None:
    complaint = submit(session, now)
    with pytest.raises(InvalidInput):
        ledger.change_status(session, complaint.reference, "archived", "", actor="reg", now=now)
    with pytest.raises(NotFound):
        ledger.change_status(session, "TS-2026-999999", "triaged", "", actor="reg", now=now)


def test_a_stale_version_is_refused(session: Session, now: dt.datetime) -> None:
    complaint = submit(session, now)
    loaded = complaint.version
    ledger.change_status(
        session, complaint.reference, "triaged", "", actor="a", now=now, expected_version=loaded
    )
    with pytest.raises(StaleEdit):
        ledger.change_status(
            session, complaint.reference, "closed", "x", actor="b", now=now, expected_version=loaded
        )


# --- assignment, links, notes -------------------------------------------------------------------


def test_assigning_to_an_admin_or_auditor_with_a_due_date(session: Session, now: dt.datetime) -> None:
    complaint = submit(session, now)
    auditor = make_user(session, now, "auditor")
    due = dt.date(2026, 6, 30)
    ledger.assign(session, complaint.reference, auditor.id, due, actor="reg", now=now)
    assert (complaint.assignee_id, complaint.due_date) == (auditor.id, due)
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "complaint:assign"))
    assert event is not None and event.after is not None
    assert (event.after["assignee"], event.after["due_date"]) == (auditor.username, "2026-06-30")
    assert ledger.is_overdue(complaint, dt.date(2026, 7, 1)) and not ledger.is_overdue(complaint, due)
    ledger.assign(session, complaint.reference, None, None, actor="reg", now=now)
    assert (complaint.assignee_id, complaint.due_date) == (None, None)


@pytest.mark.parametrize("role", ["body_operator", "customs"])
def test_only_admins_and_auditors_can_be_in_charge(session: Session, now: dt.datetime, role: str) -> None:
    complaint = submit(session, now)
    body = make_body(session, now)
    user = make_user(session, now, role, body=body if role == "body_operator" else None)
    with pytest.raises(InvalidInput) as caught:
        ledger.assign(session, complaint.reference, user.id, None, actor="reg", now=now)
    assert caught.value.details["field"] == "assignee"
    assert user not in ledger.assignable_users(session)


def test_a_due_date_in_the_past_or_no_change_is_refused(session: Session, now: dt.datetime) -> None:
    complaint = submit(session, now)
    with pytest.raises(InvalidInput):
        ledger.assign(session, complaint.reference, None, dt.date(2026, 6, 1), actor="reg", now=now)
    with pytest.raises(InvalidInput):
        ledger.assign(session, complaint.reference, None, None, actor="reg", now=now)


def test_linking_bodies_and_certificates(session: Session, now: dt.datetime) -> None:
    world = make_world(session, now, keys=False)
    certificate = register(session, now, world, "LINK-0001")
    complaint = submit(session, now)
    ledger.link(session, complaint.reference, world.body.code, actor="reg", now=now)
    ledger.link(session, complaint.reference, (world.body.code, "LINK-0001"), actor="reg", now=now)
    assert {(li.body_id, li.certificate_id) for li in complaint.links} == {
        (world.body.id, None),
        (None, certificate.id),
    }
    with pytest.raises(Conflict):
        ledger.link(session, complaint.reference, world.body.code, actor="reg", now=now)
    with pytest.raises(NotFound):
        ledger.link(session, complaint.reference, "NO-SUCH-BODY", actor="reg", now=now)
    with pytest.raises(NotFound):
        ledger.link(session, complaint.reference, (world.body.code, "NO-SUCH-NUMBER"), actor="reg", now=now)
    ledger.unlink(session, complaint.reference, complaint.links[0].id, actor="reg", now=now)
    assert [ledger.link_label(session, li) for li in complaint.links] == [
        f"certificate {world.body.code}/LINK-0001"
    ]
    assert actions_of(session, complaint.reference)[1:] == [
        "complaint:link",
        "complaint:link",
        "complaint:unlink",
    ]
    with pytest.raises(NotFound):
        ledger.unlink(session, complaint.reference, 999_999, actor="reg", now=now)


def test_a_closed_complaint_takes_notes_but_no_other_change(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    complaint = walk(session, now, submit(session, now), "closed")
    with pytest.raises(Conflict):
        ledger.link(session, complaint.reference, body.code, actor="reg", now=now)
    with pytest.raises(Conflict):
        ledger.assign(session, complaint.reference, None, dt.date(2026, 7, 1), actor="reg", now=now)
    event = ledger.add_note(session, complaint.reference, "reporter called back", actor="reg", now=now)
    assert event.note == "reporter called back" and complaint.history[-1] is event
    assert actions_of(session, complaint.reference)[-1] == "complaint:note"
    with pytest.raises(InvalidInput):
        ledger.add_note(session, complaint.reference, " ", actor="reg", now=now)


# --- credit records -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [(), ("triaged",), ("triaged", "investigating"), ("closed",)])
def test_a_credit_record_needs_a_substantiated_complaint(
    session: Session, now: dt.datetime, path: tuple[str, ...]
) -> None:
    body = make_body(session, now)
    complaint = walk(session, now, submit(session, now), *path)
    with pytest.raises(Conflict):
        ledger.record_credit(
            session,
            complaint.reference,
            body.code,
            "warning",
            "forged seals",
            now.date(),
            actor="reg",
            now=now,
        )
    assert session.scalar(select(func.count()).select_from(CreditRecord)) == 0


def test_a_substantiated_complaint_leads_to_a_public_credit_record(
    session: Session, now: dt.datetime
) -> None:
    body = make_body(session, now)
    complaint = walk(session, now, submit(session, now), "triaged", "investigating", "substantiated")
    record = ledger.record_credit(
        session,
        complaint.reference,
        body.code,
        "suspension",
        "issued certificates outside its scope",
        dt.date(2026, 6, 20),
        actor="reg",
        now=now,
    )
    assert (record.organization_id, record.complaint_id, record.kind) == (
        body.organization_id,
        complaint.id,
        "suspension",
    )
    assert complaint.history[-1].note.startswith("credit record: suspension")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "credit:record"))
    assert event is not None and event.reason == "issued certificates outside its scope"
    assert event.after is not None and event.after["complaint"] == complaint.reference
    assert event.subject_key == body.organization.credit_code
    # Directly by a regulator, found by credit code, and listed latest effective date first.
    warning = ledger.record_credit(
        session,
        None,
        body.organization.credit_code.lower(),
        "warning",
        "late annual report",
        dt.date(2026, 1, 5),
        actor="reg",
        now=now,
    )
    assert warning.complaint_id is None
    assert ledger.credit_records_for(session, body.organization_id) == [record, warning]


@pytest.mark.parametrize(
    ("organization", "kind", "reason", "day", "field"),
    [
        ("NO-SUCH", "warning", "r", dt.date(2026, 6, 1), "organization"),
        (None, "fine", "r", dt.date(2026, 6, 1), "kind"),
        (None, "warning", " ", dt.date(2026, 6, 1), "reason"),
        (None, "warning", "r", dt.date(1999, 12, 31), "effective_date"),
        (None, "warning", "r", dt.date(2027, 6, 16), "effective_date"),
    ],
)
def test_malformed_credit_records_are_refused(
    session: Session,
    now: dt.datetime,
    organization: str | None,
    kind: str,
    reason: str,
    day: dt.date,
    field: str,
) -> None:
    body = make_body(session, now)
    with pytest.raises(InvalidInput) as caught:
        ledger.record_credit(
            session, None, organization or body.code, kind, reason, day, actor="reg", now=now
        )
    assert caught.value.details["field"] == field


def test_search_filters_by_status_and_overdue(session: Session, now: dt.datetime) -> None:
    late, closed, fresh = submit(session, now), submit(session, now), submit(session, now)
    for complaint in (late, closed):
        ledger.assign(session, complaint.reference, None, dt.date(2026, 6, 20), actor="reg", now=now)
    walk(session, now, closed, "closed")
    later = dt.date(2026, 6, 21)
    overdue, total = ledger.search_complaints(
        session, status=None, overdue=True, today=later, page=1, per_page=10
    )
    assert (overdue, total) == ([late], 1)
    received, _total = ledger.search_complaints(
        session, status="received", overdue=False, today=later, page=1, per_page=10
    )
    assert set(received) == {late, fresh}


def test_lookups_with_control_characters_are_refused_before_the_database(
    session: Session, now: dt.datetime
) -> None:
    # PostgreSQL answers a NUL byte in a query with an error (a 500 in the app), not with "no rows".
    complaint = submit(session, now)
    with pytest.raises(NotFound):
        ledger.get_complaint(session, "TS-2026\x00")
    with pytest.raises(InvalidInput) as caught:
        ledger.link(session, complaint.reference, "CB\x00", actor="reg", now=now)
    assert caught.value.details["field"] == "body"
    with pytest.raises(InvalidInput) as caught:
        ledger.link(session, complaint.reference, ("CB", "A\x00"), actor="reg", now=now)
    assert caught.value.details["field"] == "number"
    walk(session, now, complaint, "triaged", "investigating", "substantiated")
    with pytest.raises(InvalidInput) as caught:
        ledger.record_credit(
            session, complaint.reference, "91\x00", "warning", "r", now.date(), actor="reg", now=now
        )
    assert caught.value.details["field"] == "organization"
