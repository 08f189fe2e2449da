"""The staff pages: register (form and CSV/XLSX upload), list, status changes, label, API tokens."""

from __future__ import annotations

import datetime as dt
import io
import re

from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Certificate, Seal
from tests.conftest import csrf_token
from tests.factories import credit_code
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import (
    World,
    audit_count,
    certificate_count,
    sealed,
)

# The shared fixtures, made visible to pytest in this module.
app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)

FORM = {
    "number": "FORM-1",
    "holder.name_zh": "表单持有人有限公司",
    "holder.credit_code": credit_code(950),
    "manufacturer.name_zh": "表单制造有限公司",
    "manufacturer.credit_code": credit_code(951),
    "category": "mask",
    "jurisdiction": "CN",
    "scheme": "CCC",
    "product_name": "Medical mask",
    "issue_date": "2026-04-01",
    "expiry_date": "2029-04-01",
    "test_reports[0].lab_code": "LAB-1",
    "test_reports[0].report_number": "R-9",
    "test_reports[0].report_date": "2026-03-01",
}
HEADER = (
    "number,holder_name_zh,holder_credit_code,manufacturer_name_zh,manufacturer_credit_code,category,"
    "scheme,product_name,issue_date,expiry_date,test_reports"
)


def post(client: FlaskClient, url: str, data: dict[str, object], page: str = "/certificates/new") -> object:
    return client.post(url, data=data | {"csrf_token": csrf_token(client, page)})


def csv_row(
    number: str, category: str = "mask", issue: str = "2026-04-01", reports: str = "LAB-1|R-1|2026-03-01"
) -> str:
    return (
        f"{number},持有人公司,{credit_code(960)},制造公司,{credit_code(961)},{category},CCC,Mask,"
        f"{issue},2029-04-01,{reports}"
    )


def test_an_operator_registers_one_certificate_and_it_is_sealed(world: World, session: Session) -> None:
    client = world.clients["op_a"]
    response = post(client, "/certificates/new", FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]  # type: ignore[attr-defined]
    assert response.headers["Location"] == "/certificates/CB-A/FORM-1"  # type: ignore[attr-defined]
    certificate = session.scalars(select(Certificate).where(Certificate.number == "FORM-1")).one()
    assert certificate.body.code == "CB-A"
    assert session.scalars(select(Seal).where(Seal.certificate_id == certificate.id)).one()
    html = client.get("/certificates/CB-A/FORM-1?lang=en").get_data(as_text=True)
    assert "Medical mask" in html and 'id="seal-qr"' in html and 'id="action-suspend"' in html


def test_a_refused_form_marks_every_field_and_writes_nothing(world: World, session: Session) -> None:
    before = (audit_count(session), certificate_count(session))
    client = world.clients["op_a"]
    bad = FORM | {"category": "ventilator", "holder.credit_code": "", "expiry_date": "2026-01-01"}
    response = post(client, "/certificates/new", bad)
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    for name in ("category", "holder.credit_code", "expiry_date"):
        assert f'data-field="{name}"' in html, name
    assert 'value="表单持有人有限公司"' in html  # what was typed is kept
    assert (audit_count(session), certificate_count(session)) == before
    malformed = post(client, "/certificates/new", FORM | {"issue_date": "yesterday"})
    assert malformed.status_code == 422  # type: ignore[attr-defined]
    assert 'data-field="issue_date"' in malformed.get_data(as_text=True)  # type: ignore[attr-defined]


def test_an_admin_must_choose_the_body(world: World, session: Session) -> None:
    client = world.clients["admin"]
    assert post(client, "/certificates/new", FORM).status_code == 422  # type: ignore[attr-defined]
    assert post(client, "/certificates/new", FORM | {"body": "CB-B"}).status_code == 302  # type: ignore[attr-defined]
    assert (
        session.scalars(select(Certificate).where(Certificate.number == "FORM-1")).one().body.code == "CB-B"
    )


def upload(client: FlaskClient, data: bytes, filename: str, body: str | None = None) -> object:
    form: dict[str, object] = {
        "file": (io.BytesIO(data), filename),
        "csrf_token": csrf_token(client, "/certificates/upload"),
    }
    if body:
        form["body"] = body
    return client.post("/certificates/upload", data=form, content_type="multipart/form-data")


def test_a_csv_upload_registers_and_seals_every_row(world: World, session: Session) -> None:
    text = "\n".join([HEADER, csv_row("UP-1"), csv_row("UP-2", reports=""), csv_row("UP-3")]) + "\n"
    response = upload(world.clients["op_a"], text.encode("utf-8-sig"), "certs.csv")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]  # type: ignore[attr-defined]
    numbers = set(session.scalars(select(Certificate.number).where(Certificate.number.like("UP-%"))))
    assert numbers == {"UP-1", "UP-2", "UP-3"}
    sealed_count = session.scalar(select(Seal.id).join(Certificate).where(Certificate.number == "UP-2"))
    assert sealed_count is not None


def test_a_bad_upload_shows_every_row_problem_and_registers_nothing(world: World, session: Session) -> None:
    before = (audit_count(session), certificate_count(session))
    rows = [
        HEADER,
        csv_row("UP-1"),
        csv_row("UP-2", category="ventilator"),
        csv_row("UP-3", issue="someday"),
        csv_row("UP-1"),
        csv_row("UP-5", reports="LAB-1|R-1"),
    ]
    response = upload(world.clients["op_a"], ("\n".join(rows) + "\n").encode(), "certs.csv")
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    problems = set(re.findall(r'data-row="(\d+)" data-column="([\w]*)"', html))
    assert {("3", "category"), ("4", "issue_date"), ("5", "number"), ("6", "test_reports")} <= problems
    assert not any(row == "2" for row, _ in problems)
    assert (audit_count(session), certificate_count(session)) == before


def test_an_xlsx_upload_works_and_a_wrong_header_is_named(world: World, session: Session) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(csv_row("XL-1").split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(world.clients["admin"], buffer.getvalue(), "certs.xlsx", body="CB-B")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]  # type: ignore[attr-defined]
    assert session.scalars(select(Certificate).where(Certificate.number == "XL-1")).one().body.code == "CB-B"
    wrong = upload(world.clients["op_a"], b"number,colour\nX,red\n", "bad.csv")
    html = wrong.get_data(as_text=True)  # type: ignore[attr-defined]
    assert wrong.status_code == 422 and "colour" in html and "holder_name_zh" in html  # type: ignore[attr-defined]
    for junk in (b"", b"%PDF-1.4 ...", b"PK\x03\x04broken"):
        assert upload(world.clients["op_a"], junk, "x.csv").status_code in (400, 422)  # type: ignore[attr-defined]


def test_the_list_shows_the_operators_body_only_and_the_admin_every_body(
    world: World, session: Session, now: dt.datetime
) -> None:
    sealed(session, now, "CB-B", "B-0001")
    session.commit()
    operator = world.clients["op_a"].get("/certificates/").get_data(as_text=True)
    assert 'data-number="A-0001"' in operator and 'data-number="B-0001"' not in operator
    admin = world.clients["admin"].get("/certificates/").get_data(as_text=True)
    assert 'data-number="A-0001"' in admin and 'data-number="B-0001"' in admin
    only_b = world.clients["admin"].get("/certificates/?body=CB-B").get_data(as_text=True)
    assert 'data-number="A-0001"' not in only_b
    # An operator cannot widen their list by naming another body.
    sneaky = world.clients["op_a"].get("/certificates/?body=CB-B").get_data(as_text=True)
    assert 'data-number="B-0001"' not in sneaky
    assert world.clients["op_a"].get("/certificates/?status=nope").status_code == 422


def test_status_change_from_the_page(world: World, session: Session) -> None:
    client = world.clients["op_a"]
    page = "/certificates/CB-A/A-0001"
    version = str(world.certificate.version)
    refused = post(client, page + "/status", {"action": "suspend", "reason": " ", "version": version}, page)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    done = post(
        client, page + "/status", {"action": "suspend", "reason": "audit finding", "version": version}, page
    )
    assert done.status_code == 302  # type: ignore[attr-defined]
    session.expire_all()
    assert session.get(Certificate, world.certificate.id).status == "suspended"  # type: ignore[union-attr]
    stale = post(client, page + "/status", {"action": "withdraw", "reason": "x", "version": version}, page)
    assert stale.status_code == 409  # type: ignore[attr-defined]
    html = client.get(page + "?lang=en").get_data(as_text=True)
    assert "audit finding" in html and 'id="action-restore"' in html and 'id="action-suspend"' not in html


def test_the_print_page_inlines_the_label(world: World) -> None:
    html = world.clients["op_a"].get("/certificates/CB-A/A-0001/print").get_data(as_text=True)
    assert 'id="label"><svg' in html and "A-0001</text>" in html


def test_a_token_is_shown_once_works_and_stops_working_when_revoked(world: World, session: Session) -> None:
    client = world.clients["op_a"]
    response = post(client, "/certificates/tokens", {"name": "warehouse scanner"}, "/certificates/tokens")
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]
    match = re.search(r'id="token-secret">(ecr_[\w-]+)<', html)
    assert match
    secret = match.group(1)
    listing = client.get("/certificates/tokens").get_data(as_text=True)
    assert secret not in listing and "warehouse scanner" in listing
    bearer = {"Authorization": f"Bearer {secret}"}
    api = world.clients["anonymous"]
    ok = api.post("/api/v1/certificates/CB-A/A-0001/suspend", json={"reason": "r"}, headers=bearer)
    assert ok.status_code == 200
    token_id = int(
        re.findall(r'data-token="(\d+)"><td class="mono">CB-A</td><td>warehouse scanner', listing)[0]
    )
    revoked = post(client, f"/certificates/tokens/{token_id}/revoke", {}, "/certificates/tokens")
    assert revoked.status_code == 302  # type: ignore[attr-defined]
    again = api.post("/api/v1/certificates/CB-A/A-0001/restore", json={"reason": "r"}, headers=bearer)
    assert again.status_code == 401
    twice = post(client, f"/certificates/tokens/{token_id}/revoke", {}, "/certificates/tokens")
    assert twice.status_code == 409  # type: ignore[attr-defined]


def test_pages_are_chinese_by_default(world: World) -> None:
    for path in (
        "/certificates/",
        "/certificates/new",
        "/certificates/upload",
        "/certificates/tokens",
        "/certificates/CB-A/A-0001",
        "/certificates/CB-A/A-0001/print",
    ):
        html = world.clients["op_a"].get(path).get_data(as_text=True)
        visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", "", html, flags=re.S))
        for english in (
            "Certificate number",
            "Issuing body",
            "Register and seal",
            "API tokens",
            "Print label",
        ):
            assert english not in visible, (path, english)
