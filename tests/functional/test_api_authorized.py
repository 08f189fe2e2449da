"""GET /api/v1/authorized and the reference data routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.functional.test_api_sample import Sample, build_sample


@pytest.fixture
def sample(session: Session, now: dt.datetime) -> Sample:
    return build_sample(session, now)


def ask(client: FlaskClient, query: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/authorized?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    answer: dict[str, Any] = response.get_json()
    return answer


EDGE_CASES = [
    # The first day of validity counts; the day before does not.
    ("body=API-CB-ACTIVE&category=mask&jurisdiction=CN&date=2020-03-01", True, "active"),
    ("body=API-CB-ACTIVE&category=mask&jurisdiction=CN&date=2020-02-29", False, None),
    # valid_until is the last valid day.
    ("body=API-CB-ACTIVE&category=mask&jurisdiction=CN&date=2030-03-01", True, "active"),
    ("body=API-CB-ACTIVE&category=mask&jurisdiction=CN&date=2030-03-02", False, "expired"),
    # A suspension takes effect on its day.
    ("body=API-CB-SUSP&category=mask&jurisdiction=CN&date=2026-04-30", True, "active"),
    ("body=API-CB-SUSP&category=mask&jurisdiction=CN&date=2026-05-01", False, "suspended"),
    ("body=API-CB-WDRN&category=ventilator&jurisdiction=CN&date=2020-12-31", True, "active"),
    ("body=API-CB-WDRN&category=ventilator&jurisdiction=CN&date=2021-01-01", False, "withdrawn"),
    # Lines of another jurisdiction or category do not answer for this one.
    ("body=API-CB-ACTIVE&category=mask&jurisdiction=EU&date=2026-06-15", False, None),
    ("body=API-CB-ACTIVE&category=protective_clothing&jurisdiction=EU&date=2026-06-15", True, "active"),
    ("body=API-CB-ACTIVE&category=protective_clothing&jurisdiction=CN&date=2026-06-15", False, None),
    ("body=API-LAB-1&category=ir_thermometer&jurisdiction=CN&date=2025-12-31", True, "active"),
    ("body=API-LAB-1&category=ir_thermometer&jurisdiction=CN&date=2026-01-01", False, "expired"),
]


def test_authorized_on_edge_dates(client: FlaskClient, sample: Sample) -> None:
    # One test over every case: building the sample registry costs more than the requests.
    for query, authorized, status in EDGE_CASES:
        answer = ask(client, query)
        assert (answer["authorized"], answer["status"]) == (authorized, status), query


def test_answer_echoes_the_question_with_the_matching_lines(client: FlaskClient, sample: Sample) -> None:
    answer = ask(client, "body=API-CB-SUSP&category=mask&jurisdiction=CN&date=2026-05-01")
    assert {k: answer[k] for k in ("body", "category", "jurisdiction", "date")} == {
        "body": "API-CB-SUSP", "category": "mask", "jurisdiction": "CN", "date": "2026-05-01",
    }
    assert answer["url"] == "http://localhost/bodies/API-CB-SUSP"
    (line,) = answer["lines"]
    assert (line["scheme"], line["status"]) == ("CCC", "suspended")
    assert ask(client, "body=API-CB-ACTIVE&category=mask&jurisdiction=EU")["lines"] == []


def test_defaults_are_today_and_china(client: FlaskClient, sample: Sample) -> None:
    answer = ask(client, "body=API-CB-SUSP&category=mask")
    assert (answer["date"], answer["jurisdiction"]) == ("2026-06-15", "CN")
    assert answer["authorized"] is False
    assert ask(client, "body=API-CB-ACTIVE&category=mask&date=")["authorized"] is True


def test_categories(client: FlaskClient) -> None:
    response = client.get("/api/v1/categories")
    assert response.status_code == 200 and response.mimetype == "application/json"
    items = {c["code"]: c for c in response.get_json()["items"]}
    assert set(items) == {
        "mask", "protective_clothing", "ventilator", "ir_thermometer", "test_reagent", "meltblown",
    }
    mask = items["mask"]
    assert mask["name_zh"] == "口罩"
    assert "GB 2626-2019" in mask["standards_cn"]
    assert "630790" in mask["hs6_codes"]
    assert items["meltblown"]["standards_international"] == []


def test_jurisdictions(client: FlaskClient) -> None:
    response = client.get("/api/v1/jurisdictions")
    assert response.status_code == 200 and response.mimetype == "application/json"
    items = response.get_json()["items"]
    assert [j["code"] for j in items][:4] == ["CN", "EU", "US", "UK"]
    assert items[0] == {"code": "CN", "name_zh": "中国国内", "name_en": "China (domestic)"}
