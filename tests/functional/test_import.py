"""The import pages: upload -> dry run report -> apply, with CSRF, admins only; and the CLI command."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import AuditEvent, Body
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, grant, make_body, make_user
from tests.unit.test_importer import first_version, line, to_csv, to_xlsx

HIDDEN = re.compile(r'<input type="hidden" name="(sha256|plan_digest|filename)" value="([^"]*)"')
LIMIT = 20_000
UNKNOWN = "0" * 64  # a sha256 nothing was uploaded under


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "MAX_CONTENT_LENGTH": LIMIT}


def sign_in(client: FlaskClient, session: Session, now: dt.datetime, role: str = "admin") -> None:
    user = make_user(session, now, role)
    session.commit()
    login(client, user.username, PASSWORD)


def upload(client: FlaskClient, data: bytes, name: str = "list.csv", token: str | None = None) -> Any:
    token = token if token is not None else csrf_token(client, "/admin/import")
    return client.post(
        "/admin/import?lang=en",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def apply_form(html: str) -> dict[str, str]:
    fields = dict(HIDDEN.findall(html))
    assert set(fields) == {"sha256", "plan_digest", "filename"}, html
    return fields


def count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_upload_dry_run_then_apply(client: FlaskClient, session: Session, now: dt.datetime,
                                   app_config: dict[str, Any]) -> None:
    sign_in(client, session, now)
    data = to_xlsx(first_version())
    response = upload(client, data, "official.xlsx")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert re.search(r'data-count="bodies_added"><th scope="row">Bodies added</th><td class="count">3<', html)
    assert 'data-code="IMP-B"' in html
    assert count(session, Body) == 0, "the dry run writes nothing"
    form = apply_form(html)
    stored = Path(app_config["IMPORT_DIR"]) / f"{form['sha256']}.xlsx"
    assert stored.read_bytes() == data

    token = csrf_token(client, "/admin/import")
    reason = "CNCA list 2026-06"
    response = client.post("/admin/import/apply", data={**form, "csrf_token": token, "reason": reason})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count(session, Body) == 3
    [summary] = session.scalars(select(AuditEvent).where(AuditEvent.action == "registry:import")).all()
    assert summary.subject_key == form["sha256"] and summary.reason == "CNCA list 2026-06"
    assert summary.after is not None and summary.after["filename"] == "official.xlsx"
    page = client.get("/admin/import?lang=en").get_data(as_text=True)
    assert "Import applied: 3 bodies added" in page

    # The same file again: nothing to apply, no form, no new event.
    events = count(session, AuditEvent)
    again = upload(client, data, "official.xlsx").get_data(as_text=True)
    assert 'id="import-no-changes"' in again and 'id="import-apply"' not in again
    assert count(session, AuditEvent) == events


def test_apply_needs_a_reason_and_the_reviewed_plan(
    client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    sign_in(client, session, now)
    form = apply_form(upload(client, to_csv(first_version())).get_data(as_text=True))
    token = csrf_token(client, "/admin/import")
    response = client.post("/admin/import/apply?lang=en", data={**form, "csrf_token": token, "reason": " "})
    assert response.status_code == 422
    assert "A reason is required." in response.get_data(as_text=True)
    assert count(session, Body) == 0
    # The registry changes after the dry run: the new plan is shown, not applied.
    grant(session, now, make_body(session, now, code="LATE-1"))
    session.commit()
    response = client.post("/admin/import/apply?lang=en", data={**form, "csrf_token": token, "reason": "r"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "The registry changed after this dry run" in html
    assert count(session, Body) == 1
    fresh = apply_form(html)
    assert fresh["plan_digest"] != form["plan_digest"]
    response = client.post("/admin/import/apply", data={**fresh, "csrf_token": token, "reason": "r"})
    assert response.status_code == 302
    assert count(session, Body) == 4


def test_row_errors_are_listed_and_nothing_can_be_applied(client: FlaskClient, session: Session,
                                                         now: dt.datetime) -> None:
    sign_in(client, session, now)
    rows = [line("IMP-1"), line("IMP-2", valid_from="15/03/2020", category="gloves")]
    response = upload(client, to_csv(rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-row="3" data-column="valid_from"' in html and "&#39;15/03/2020&#39; is not a date" in html
    assert 'data-row="3" data-column="category"' in html
    assert 'id="import-apply"' not in html
    zh = client.post("/admin/import?lang=zh", data={"csrf_token": csrf_token(client, "/admin/import"),
                                                    "file": (io.BytesIO(to_csv(rows)), "x.csv")},
                     content_type="multipart/form-data").get_data(as_text=True)
    assert "未知的产品类别" in zh


@pytest.mark.parametrize(
    ("data", "name", "status", "message"),
    [
        (b"PK\x03\x04broken", "list.xlsx", 422, "is corrupt"),
        (b"\x89PNG\r\n\x1a\n0000", "list.png", 415, "not a CSV or XLSX"),
        (b"colour,size\r\nred,1\r\n", "list.csv", 422, "unknown column"),
    ],
)
def test_broken_files_show_the_message(client: FlaskClient, session: Session, now: dt.datetime, data: bytes,
                                       name: str, status: int, message: str) -> None:
    sign_in(client, session, now)
    response = upload(client, data, name)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_missing_file_oversized_file_and_csrf(
    client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    sign_in(client, session, now)
    token = csrf_token(client, "/admin/import")
    response = client.post("/admin/import?lang=en", data={"csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a CSV or XLSX file" in response.get_data(as_text=True)
    response = upload(client, b"x" * (LIMIT + 1000), "big.csv", token)
    assert response.status_code == 413 and str(LIMIT) in response.get_data(as_text=True)
    response = upload(client, to_csv(first_version()), "list.csv", token="")
    assert response.status_code == 400
    response = client.post("/admin/import/apply", data={"csrf_token": token, "sha256": UNKNOWN})
    assert response.status_code == 404
    assert count(session, Body) == 0


@pytest.mark.parametrize("role", ["auditor", "customs"])
def test_only_admins_may_import(client: FlaskClient, session: Session, now: dt.datetime, role: str) -> None:
    assert client.get("/admin/import").status_code == 302  # anonymous: to the sign-in page
    sign_in(client, session, now, role)
    assert client.get("/admin/import").status_code == 403
    token = csrf_token(client, "/admin/")
    response = upload(client, to_csv(first_version()), token=token)
    assert response.status_code == 403
    response = client.post("/admin/import/apply", data={"csrf_token": token, "sha256": UNKNOWN})
    assert response.status_code == 403
    assert count(session, Body) == 0


def test_cli_dry_run_and_apply(runner: Any, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(to_csv(first_version()))
    result = runner.invoke(args=["registry", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "bodies added: 3" in result.output and "dry run" in result.output
    assert count(session, Body) == 0
    result = runner.invoke(args=["registry", "import", str(path), "--apply", "--actor", "ops"])
    assert result.exit_code == 0, result.output
    assert count(session, Body) == 3
    assert count(session, AuditEvent, AuditEvent.action == "registry:import", AuditEvent.actor == "ops") == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(to_csv([line("IMP-9", valid_from="someday")]))
    result = runner.invoke(args=["registry", "import", str(bad), "--apply"])
    assert result.exit_code == 1 and "row 2, valid_from" in result.output


def test_the_report_warns_of_a_scheduled_line_the_file_leaves_out(
    client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    sign_in(client, session, now)
    body = make_body(session, now, code="IMP-LATER")
    grant(session, now, body, valid_from=now.date() + dt.timedelta(days=10))
    session.commit()
    response = upload(client, to_csv(first_version()))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    warnings = html[html.index('id="import-warnings"') :]
    assert "body IMP-LATER: the mask line starts on" in warnings
    assert "not listed in the file: kept" in warnings
    assert 'data-code="IMP-LATER"' not in html, "not among the bodies withdrawn"
