"""The public report form and the admin complaint ledger, through the client.

Public: both languages, CSRF, size cap, attachment checks, the rate limit, links from the site.
Ledger: the admin's flow to a credit record shown on the public body page, the auditor reads only,
everybody else is kept out of every ledger route.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

from app import create_app
from app.access import access_of
from registry import complaints as ledger
from registry import users as users_service
from registry.complaints import AttachmentInput, ComplaintInput
from registry.models import AuditEvent, Body, Complaint, CreditRecord
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_body, make_user

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
ROLES = ("admin", "auditor", "body_operator", "customs")


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def body(session: Session, now: dt.datetime) -> Body:
    found = make_body(
        session, now, code="CB-COMPLAINT", name_zh="可疑认证中心", name_en="Dubious Certification Centre"
    )
    session.commit()
    return found


@pytest.fixture
def complaint(session: Session, now: dt.datetime) -> Complaint:
    """A complaint as the public form leaves it, with a PNG attached."""
    found = ledger.submit_complaint(
        session,
        ComplaintInput(
            "seal",
            "https://verify.example.cn/V/ABC",
            "The seal leads to another product.",
            "Wang Fang",
            "13800000000",
        ),
        AttachmentInput("照片.png", "image/png", PNG),
        now=now,
    )
    session.commit()
    return found


@pytest.fixture
def clients(app: Flask, session: Session, now: dt.datetime, body: Body) -> dict[str, FlaskClient]:
    users = {
        role: make_user(session, now, role, body=body if role == "body_operator" else None) for role in ROLES
    }
    session.commit()
    signed_in: dict[str, FlaskClient] = {"anonymous": app.test_client()}
    for role, user in users.items():
        client = app.test_client()
        login(client, user.username, PASSWORD)
        signed_in[role] = client
    return signed_in


def report_data(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    data = {
        "csrf_token": csrf_token(client, "/report"),
        "kind": "certificate",
        "subject": "CB-COMPLAINT 2026-0001",
        "description": "包装上的证书编号在名录中查不到。",
        "name": "",
        "contact": "",
    }
    return data | overrides


def post_report(client: FlaskClient, data: dict[str, Any], query: str = "") -> Any:
    return client.post("/report" + query, data=data, content_type="multipart/form-data")


def counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Complaint)) or 0,
        session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


def only_complaint(session: Session) -> Complaint:
    session.expire_all()
    return session.scalars(select(Complaint)).one()


# --- the public form ----------------------------------------------------------------------------


def test_the_form_is_chinese_by_default_and_english_on_request(client: FlaskClient) -> None:
    chinese = client.get("/report").get_data(as_text=True)
    assert "举报可疑的证书、防伪印章、认证机构或实验室" in chinese and "提交举报" in chinese
    assert "Send the report" not in chinese
    english = client.get("/report?lang=en").get_data(as_text=True)
    assert "Report a suspicious certificate, seal, body or lab" in english and "Send the report" in english


def test_a_report_in_chinese_gets_a_reference(client: FlaskClient, session: Session) -> None:
    response = post_report(client, report_data(client, name="王芳", contact="wang@example.cn"))
    assert response.status_code == 302 and response.headers["Location"] == "/report/received"
    stored = only_complaint(session)
    assert (stored.language, stored.subject_kind, stored.reporter_name) == ("zh", "certificate", "王芳")
    page = client.get("/report/received").get_data(as_text=True)
    assert "您的举报已收到" in page and stored.reference in page
    assert re.search(r'id="complaint-reference">TS-2026-\d{6}<', page)


def test_a_report_in_english_with_an_attachment(client: FlaskClient, session: Session) -> None:
    client.get("/report?lang=en")
    data = report_data(client, kind="seal", attachment=(io.BytesIO(PNG), "seal photo.png", "image/png"))
    response = post_report(client, data)
    assert response.status_code == 302
    page = client.get("/report/received").get_data(as_text=True)
    assert "Thank you: your report has been received" in page
    stored = only_complaint(session)
    assert stored.language == "en"
    assert [(a.filename, a.media_type) for a in stored.attachments] == [("seal photo.png", "image/png")]


def test_without_a_submission_the_confirmation_sends_back_to_the_form(client: FlaskClient) -> None:
    response = client.get("/report/received")
    assert response.status_code == 302 and response.headers["Location"] == "/report"


def test_a_missing_csrf_token_is_refused_and_nothing_is_written(
    client: FlaskClient, session: Session
) -> None:
    before = counts(session)
    data = report_data(client)
    for token in (None, "forged"):
        attempt = {k: v for k, v in data.items() if k != "csrf_token"}
        if token:
            attempt["csrf_token"] = token
        response = post_report(client, attempt)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "表单已过期" in html and 'id="report-form"' in html
        assert data["description"] in html  # the input comes back, to send again
    assert counts(session) == before


def test_problems_are_shown_next_to_their_inputs(client: FlaskClient, session: Session) -> None:
    before = counts(session)
    response = post_report(client, report_data(client, description="", name="x" * 101), "?lang=en")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-field="description"' in html and 'data-field="name"' in html
    assert "Describe what is suspicious" in html and "CB-COMPLAINT 2026-0001" in html
    nul = post_report(client, report_data(client, description="bad\x00byte"), "?lang=zh")
    assert nul.status_code == 422 and "请描述可疑情况" in nul.get_data(as_text=True)
    unknown = post_report(client, report_data(client, admin_note="hi"))
    assert unknown.status_code == 422 and "表单提交了未知的字段" in unknown.get_data(as_text=True)
    assert counts(session) == before


def test_a_disguised_attachment_is_refused_with_a_message(client: FlaskClient, session: Session) -> None:
    before = counts(session)
    data = report_data(client, attachment=(io.BytesIO(PNG), "certificate.pdf", "application/pdf"))
    response = post_report(client, data)
    assert response.status_code == 422
    assert "附件的文件名或类型与其内容" in response.get_data(as_text=True)
    assert counts(session) == before


def test_an_attachment_just_over_the_limit_gets_a_form_message(client: FlaskClient, session: Session) -> None:
    before = counts(session)
    big = PNG + bytes(ledger.MAX_ATTACHMENT_BYTES - len(PNG) + 1)
    response = post_report(client, report_data(client, attachment=(io.BytesIO(big), "big.png", "image/png")))
    assert response.status_code == 422
    assert "附件超过 5 MB" in response.get_data(as_text=True)
    assert counts(session) == before


def test_a_request_over_the_size_cap_gets_a_clear_413_page(client: FlaskClient, session: Session) -> None:
    before = counts(session)
    huge = PNG + bytes(6 * 2**20)
    data = report_data(client, attachment=(io.BytesIO(huge), "huge.png", "image/png"))
    response = post_report(client, data)
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "举报内容过大" in html and 'id="report-form"' in html
    data["attachment"] = (io.BytesIO(huge), "huge.png", "image/png")  # the client closed the first
    english = post_report(client, data, "?lang=en")
    assert english.status_code == 413 and "The report is too large" in english.get_data(as_text=True)
    assert counts(session) == before


def test_the_form_takes_suggestions_from_a_link(client: FlaskClient) -> None:
    html = client.get("/report?kind=seal&subject=https://v.example/V/XYZ&junk=1").get_data(as_text=True)
    assert '<option value="seal" selected>' in html and 'value="https://v.example/V/XYZ"' in html
    fallback = client.get("/report?kind=nonsense").get_data(as_text=True)
    assert '<option value="other" selected>' in fallback


def test_the_site_and_the_seal_page_link_to_the_form(client: FlaskClient) -> None:
    assert 'href="/report"' in client.get("/").get_data(as_text=True)
    forged = client.get("/V/HELLO").get_data(as_text=True)
    match = re.search(r'id="report-this"><a href="([^"]+)"', forged)
    assert match and match.group(1).startswith("/report?") and "kind=seal" in match.group(1)
    assert client.get(match.group(1).replace("&amp;", "&")).status_code == 200


def test_submissions_have_their_own_rate_limit(app_config: dict[str, object], session: Session) -> None:
    limited = create_app(app_config | {
        "RATELIMIT_ENABLED": True, "RATELIMIT_PUBLIC": "100 per minute", "RATELIMIT_COMPLAINT": "2 per hour",
    })  # fmt: skip
    client = limited.test_client()
    for _ in range(2):
        assert post_report(client, report_data(client)).status_code == 302
    response = post_report(client, report_data(client))
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/report").status_code == 200  # reading the form is not a submission
    assert counts(session)[0] == 2


# --- the ledger ---------------------------------------------------------------------------------


def form_version(html: str, form_id: str) -> str:
    match = re.search(rf'id="{form_id}".*?name="version" value="(\d+)"', html, flags=re.S)
    assert match, form_id
    return match.group(1)


def test_the_admin_follows_a_complaint_up_to_a_public_credit_record(
    clients: dict[str, FlaskClient], session: Session, complaint: Complaint, body: Body
) -> None:
    admin = clients["admin"]
    url = f"/admin/complaints/{complaint.reference}"
    assert complaint.reference in admin.get("/admin/complaints/").get_data(as_text=True)
    token = csrf_token(admin, url)
    auditor_id = next(u.id for u in ledger.assignable_users(session) if u.role == "auditor")

    def post(path: str, **data: Any) -> Any:
        return admin.post(url + path, data={"csrf_token": token, **data})

    for status in ("triaged", "investigating", "substantiated"):
        version = form_version(admin.get(url).get_data(as_text=True), "status-form")
        assert post("/status", status=status, note=f"now {status}", version=version).status_code == 302
    version = form_version(admin.get(url).get_data(as_text=True), "assign-form")
    assert (
        post("/assign", assignee=str(auditor_id), due_date="2026-06-30", version=version).status_code == 302
    )
    assert post("/links", body=body.code).status_code == 302
    assert post("/notes", note="visited the body").status_code == 302
    assert (
        post(
            "/credit",
            organization=body.code,
            kind="suspension",
            reason="forged seals in circulation",
            effective_date="2026-06-15",
        ).status_code
        == 302
    )
    html = admin.get(url + "?lang=en").get_data(as_text=True)
    assert "Substantiated" in html and "visited the body" in html and f"body {body.code}" in html
    assert 'id="credit-form"' in html
    for lang, kind in (("zh", "暂停"), ("en", "Suspension")):
        public = admin.get(f"/bodies/{body.code}?lang={lang}").get_data(as_text=True)
        section = public.split('id="credit-records"', 1)[1].split("</table>", 1)[0]
        assert kind in section and "forged seals in circulation" in section and "2026-06-15" in section
    closed = post("/status", status="closed", note="sanctioned", version=form_version(html, "status-form"))
    assert closed.status_code == 302
    session.expire_all()
    stored = session.get(Complaint, complaint.id)
    assert stored is not None and (stored.status, stored.outcome, stored.due_date) == (
        "closed",
        "sanctioned",
        dt.date(2026, 6, 30),
    )
    actions = set(
        session.scalars(select(AuditEvent.action).where(AuditEvent.subject_key == complaint.reference))
    )
    assert {
        "complaint:submit",
        "complaint:triage",
        "complaint:assign",
        "complaint:link",
        "complaint:note",
        "complaint:close",
    } <= actions


def test_refused_ledger_actions_show_a_message_not_a_500(
    clients: dict[str, FlaskClient], session: Session, complaint: Complaint
) -> None:
    admin = clients["admin"]
    url = f"/admin/complaints/{complaint.reference}"
    token = csrf_token(admin, url)
    version = form_version(admin.get(url).get_data(as_text=True), "status-form")
    before = counts(session)
    wrong_move = admin.post(
        url + "/status", data={"csrf_token": token, "status": "substantiated", "version": version}
    )
    assert wrong_move.status_code == 409 and "cannot become substantiated" in wrong_move.get_data(
        as_text=True
    )
    no_note = admin.post(url + "/status", data={"csrf_token": token, "status": "closed", "version": version})
    assert no_note.status_code == 422
    early_credit = admin.post(url + "/credit", data={
        "csrf_token": token, "organization": "CB-COMPLAINT", "kind": "warning", "reason": "r",
        "effective_date": "2026-06-15",
    })  # fmt: skip
    assert early_credit.status_code == 409 and "substantiated" in early_credit.get_data(as_text=True)
    bad_date = admin.post(
        url + "/assign", data={"csrf_token": token, "due_date": "someday", "version": version}
    )
    assert bad_date.status_code == 422
    nul_link = admin.post(url + "/links", data={"csrf_token": token, "body": "CB\x00"})
    assert nul_link.status_code == 422
    assert admin.get("/admin/complaints/TS%00").status_code == 404
    assert admin.post(url + "/notes", data={"note": "no token"}).status_code == 400  # CSRF
    assert counts(session) == before
    assert (
        admin.post(
            url + "/status", data={"csrf_token": token, "status": "triaged", "version": version}
        ).status_code
        == 302
    )
    stale = admin.post(
        url + "/status", data={"csrf_token": token, "status": "closed", "note": "x", "version": version}
    )
    assert stale.status_code == 409 and 'id="status-form"' in stale.get_data(as_text=True)


def test_a_credit_record_without_a_complaint(
    clients: dict[str, FlaskClient], session: Session, body: Body
) -> None:
    admin = clients["admin"]
    token = csrf_token(admin, "/admin/complaints/credit-records")
    data = {
        "csrf_token": token,
        "organization": body.organization.credit_code,
        "kind": "warning",
        "reason": "annual report missing",
        "effective_date": "2026-06-01",
    }
    assert admin.post("/admin/complaints/credit-records", data=data).status_code == 302
    assert "annual report missing" in admin.get("/admin/complaints/credit-records").get_data(as_text=True)
    unknown = admin.post("/admin/complaints/credit-records", data=data | {"organization": "NOPE"})
    assert unknown.status_code == 422
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CreditRecord)) == 1


def test_the_auditor_reads_and_downloads_but_changes_nothing(
    clients: dict[str, FlaskClient], session: Session, complaint: Complaint
) -> None:
    auditor = clients["auditor"]
    url = f"/admin/complaints/{complaint.reference}"
    html = auditor.get(url + "?lang=en").get_data(as_text=True)
    assert "The seal leads to another product." in html and "Wang Fang" in html
    assert 'id="status-form"' not in html and 'id="note-form"' not in html and 'id="link-form"' not in html
    attachment_id = complaint.attachments[0].id
    download = auditor.get(f"{url}/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.mimetype == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert auditor.get(f"{url}/attachments/999999").status_code == 404
    token = csrf_token(auditor, url)
    before = counts(session)
    assert auditor.post(url + "/notes", data={"csrf_token": token, "note": "hello"}).status_code == 403
    assert counts(session) == before


def test_the_ledger_filters_by_status_and_overdue(
    clients: dict[str, FlaskClient], session: Session, now: dt.datetime, complaint: Complaint
) -> None:
    ledger.assign(session, complaint.reference, None, dt.date(2026, 6, 16), actor="test", now=now)
    session.commit()
    admin = clients["admin"]
    assert complaint.reference in admin.get("/admin/complaints/?status=received").get_data(as_text=True)
    assert complaint.reference not in admin.get("/admin/complaints/?status=closed").get_data(as_text=True)
    assert complaint.reference not in admin.get("/admin/complaints/?overdue=1").get_data(as_text=True)
    assert admin.get("/admin/complaints/?status=bogus").status_code == 422


def test_nobody_else_gets_into_the_ledger(
    app: Flask, clients: dict[str, FlaskClient], session: Session, complaint: Complaint
) -> None:
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("complaint_ledger.")]
    assert len(rules) >= 9
    known = {"reference": complaint.reference, "attachment_id": complaint.attachments[0].id, "link_id": 1}
    tokens = {who: csrf_token(client, "/login") for who, client in clients.items()}
    before = counts(session)
    for rule in rules:
        policy = access_of(app.view_functions[rule.endpoint])
        assert policy in (frozenset({"admin", "auditor"}), frozenset({"admin"})), rule.endpoint
        values = {
            n: known.get(n, 1 if isinstance(rule._converters[n], IntegerConverter) else "x")
            for n in rule.arguments
        }
        built = rule.build(values, append_unknown=False)
        assert built is not None
        url = built[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for who in ("anonymous", "body_operator", "customs", "auditor"):
                client = clients[who]
                response = (
                    client.get(url) if method == "GET" else client.post(url, data={"csrf_token": tokens[who]})
                )
                where = f"{who} {method} {url}"
                if who == "anonymous":
                    assert response.status_code == 302 and response.headers["Location"].startswith(
                        "/login"
                    ), where
                elif who == "auditor" and method == "GET":
                    assert response.status_code == 200, where
                else:
                    assert response.status_code == 403, where
    assert counts(session) == before
    # The navigation shows the ledger to those who may open it.
    assert 'href="/admin/complaints/"' in clients["auditor"].get("/admin/").get_data(as_text=True)
    assert 'href="/admin/complaints/"' not in clients["customs"].get("/admin/").get_data(as_text=True)
