"""The weekly statistics page, its downloads and the dashboard's summary of the week.

The test clock reads 2026-06-15 10:00 UTC (a Monday): the latest completed week ends on
Thursday 2026-06-11 at 17:00 Beijing time, the week in progress on 2026-06-18.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from registry import users as users_service
from registry.models import ScanEvent
from tests.conftest import login
from tests.factories import PASSWORD, make_user
from tests.unit.seal_support import make_world, register

LAST_WEEK = "2026-06-11"
IN_LAST_WEEK = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)
IN_THIS_WEEK = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def clients(app: Flask, session: Session, now: dt.datetime) -> dict[str, FlaskClient]:
    """A certificate and scans in the last week and this one; a signed-in client per role."""
    world = make_world(session, now, keys=False)
    register(session, IN_LAST_WEEK, world, "W-1")
    certificate = register(session, IN_THIS_WEEK, world, "W-2")
    for verdict in ("FORGED", "FORGED", "NOT_REGISTERED"):
        session.add(ScanEvent(scanned_at=IN_LAST_WEEK, channel="page", verdict=verdict))
    session.add(
        ScanEvent(scanned_at=IN_THIS_WEEK, channel="api", verdict="VALID", certificate_id=certificate.id)
    )
    users = {
        role: make_user(session, now, role, body=world.body if role == "body_operator" else None)
        for role in ("admin", "auditor", "body_operator", "customs")
    }
    session.commit()
    signed_in: dict[str, FlaskClient] = {"anonymous": app.test_client()}
    for role, user in users.items():
        client = app.test_client()
        login(client, user.username, PASSWORD)
        signed_in[role] = client
    return signed_in


def test_admin_and_auditor_see_the_latest_completed_week(clients: dict[str, FlaskClient]) -> None:
    for role in ("admin", "auditor"):
        response = clients[role].get("/admin/stats?lang=en")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, role
        assert "<h1>Weekly statistics</h1>" in html
        assert f'name="week" type="date" value="{LAST_WEEK}"' in html
        assert "From 2026-06-04 17:00 to 2026-06-11 17:00" in html
        assert 'id="week-adjusted"' not in html and 'id="week-in-progress"' not in html
        totals = re.search(r'<tr id="weekly-totals">(.*?)</tr>', html, re.S)
        assert totals is not None
        counts = re.findall(r'<td class="count">(\d+)</td>', totals.group(1))
        # bodies, labs, registered, suspended, withdrawn, verifications, alerts, complaints in / closed
        assert counts == ["1", "1", "1", "0", "0", "3", "0", "0", "0"]


def test_the_page_draws_svg_bar_charts_without_scripts(clients: dict[str, FlaskClient]) -> None:
    html = clients["admin"].get(f"/admin/stats?week={LAST_WEEK}&lang=en").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="chart-verdicts"' in html
    assert 'id="chart-categories"' in html
    assert re.search(r'<g class="bar" data-code="FORGED" data-value="2">\s*<text[^>]*>Forged</text>', html)
    assert 'data-code="NOT_REGISTERED" data-value="1"' in html
    assert 'data-code="mask" data-value="1"' in html
    # The largest bar fills the plot; the others are scaled to it.
    widths = dict(re.findall(r'data-code="(\w+)" data-value="\d+">\s*<text[^>]*>[^<]*</text>\s*'
                             r'<rect x="\d+" y="\d+" width="([\d.]+)"', html))
    assert float(widths["FORGED"]) == 2 * float(widths["NOT_REGISTERED"]) > 0
    assert float(widths["VALID"]) == 0
    assert "<script" not in html.split("<main", 1)[-1]
    assert "cdn" not in html.lower()


def test_the_page_is_chinese_by_default(clients: dict[str, FlaskClient]) -> None:
    html = clients["auditor"].get("/admin/stats").get_data(as_text=True)
    assert "<h1>每周统计</h1>" in html
    assert ">伪造</text>" in html and "按核验结论统计核验次数" in html
    assert "北京" in html and "口罩" in html


def test_denied_to_other_roles_and_anonymous(clients: dict[str, FlaskClient]) -> None:
    for path in ("/admin/stats", "/admin/stats.csv", "/admin/stats.xlsx"):
        for role in ("body_operator", "customs"):
            assert clients[role].get(path).status_code == 403, (role, path)
        response = clients["anonymous"].get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path


@pytest.mark.parametrize("week", ["yesterday", "2026-13-01", "2026-06-11T17:00", "1999-12-30", "<b>"])
def test_a_bad_week_is_a_422_with_a_message(clients: dict[str, FlaskClient], week: str) -> None:
    for path in ("/admin/stats", "/admin/stats.csv", "/admin/stats.xlsx"):
        response = clients["admin"].get(path, query_string={"week": week, "lang": "en"})
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (path, week)
        assert response.mimetype == "text/html"
        assert 'id="week-error"' in html
        assert "YYYY-MM-DD" in html or "must lie between" in html
        assert "<b>" not in html.split('id="week-error"', 1)[1]  # echoed escaped
        assert 'id="weekly-stats"' not in html


def test_an_unknown_parameter_is_a_422(clients: dict[str, FlaskClient]) -> None:
    response = clients["admin"].get("/admin/stats?weak=2026-06-11&lang=en")
    assert response.status_code == 422
    assert "Unknown parameter: weak." in response.get_data(as_text=True)


def test_a_day_that_is_not_a_thursday_shows_its_week(clients: dict[str, FlaskClient]) -> None:
    response = clients["admin"].get("/admin/stats?week=2026-06-08&lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2026-06-08 is not a Thursday: showing the week that contains it, which ends on 2026-06-11." in (
        html
    )
    assert f"/admin/stats.csv?week={LAST_WEEK}" in html


def test_the_week_in_progress_says_so(clients: dict[str, FlaskClient]) -> None:
    html = clients["admin"].get("/admin/stats?week=2026-06-18&lang=en").get_data(as_text=True)
    assert 'id="week-in-progress"' in html
    assert 'data-code="VALID" data-value="1"' in html


def test_the_downloads(clients: dict[str, FlaskClient]) -> None:
    html = clients["admin"].get("/admin/stats").get_data(as_text=True)
    assert f'href="/admin/stats.csv?week={LAST_WEEK}"' in html
    assert f'href="/admin/stats.xlsx?week={LAST_WEEK}"' in html

    csv_response = clients["auditor"].get(f"/admin/stats.csv?week={LAST_WEEK}")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = csv_response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="weekly-stats-{LAST_WEEK}.csv"'
    text = csv_response.data.decode("utf-8")
    assert text.startswith("\ufeffweek_end,province,province_zh")
    assert "\r\n2026-06-11,11,北京,Beijing,mask,口罩," in text

    xlsx_response = clients["admin"].get("/admin/stats.xlsx")  # the default week too
    assert xlsx_response.status_code == 200
    assert xlsx_response.headers["Content-Type"] == XLSX
    disposition = xlsx_response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="weekly-stats-{LAST_WEEK}.xlsx"'
    workbook = load_workbook(io.BytesIO(xlsx_response.data), read_only=True)
    assert workbook.sheetnames == [f"week {LAST_WEEK}", "verifications by verdict"]
    verdicts = list(workbook["verifications by verdict"].iter_rows(values_only=True))
    assert ("FORGED", 2) in [(row[-2], row[-1]) for row in verdicts if row[1] == "TOTAL"]


def test_the_dashboard_summarises_this_week_for_readers(clients: dict[str, FlaskClient]) -> None:
    html = clients["admin"].get("/admin/?lang=en").get_data(as_text=True)
    assert "This week, to Thursday 2026-06-18 17:00" in html
    summary = re.search(r'<table id="weekly-summary">(.*?)</table>', html, re.S)
    assert summary is not None
    figures = dict(re.findall(r'data-figure="(\w+)">.*?<td class="count">(\d+)</td>', summary.group(1)))
    assert figures["certificates_registered"] == "1" and figures["verifications"] == "1"
    assert 'href="/admin/stats?week=2026-06-18"' in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2  # the charts, this week so far
    assert 'href="/admin/stats"' in html  # the navigation
    customs = clients["customs"].get("/admin/?lang=en").get_data(as_text=True)
    assert 'id="weekly-summary"' not in customs and "/admin/stats" not in customs
