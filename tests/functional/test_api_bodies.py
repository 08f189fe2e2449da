"""GET /api/v1/bodies (filters, free text, as_of, paging) and GET /api/v1/bodies/<code>."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import grant, make_body
from tests.functional.test_api_sample import SUSPENSION_REASON, Sample, build_sample


@pytest.fixture
def sample(session: Session, now: dt.datetime) -> Sample:
    return build_sample(session, now)


def get_json(client: FlaskClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def codes(client: FlaskClient, query: str) -> list[str]:
    return [item["code"] for item in get_json(client, f"/api/v1/bodies?{query}")["items"]]


def test_unfiltered_list_is_todays_and_ordered(client: FlaskClient, sample: Sample) -> None:
    document = get_json(client, "/api/v1/bodies")
    assert document["as_of"] == "2026-06-15"
    assert [i["code"] for i in document["items"]] == sample.listed_today
    assert (document["page"], document["per_page"], document["total"], document["pages"]) == (1, 20, 4, 1)


def test_list_item_shape(client: FlaskClient, sample: Sample) -> None:
    item = get_json(client, "/api/v1/bodies?q=API-CB-ACTIVE")["items"][0]
    org = sample.active.organization
    assert item["kind"] == "certification_body"
    assert item["names"] == {"zh": "北京防疫认证中心", "en": "Beijing Epidemic Certification Centre"}
    assert item["credit_code"] == org.credit_code and item["credit_code"]
    assert item["credit_code_warning"] is None
    assert item["country"] == "CN"
    assert item["province"] == {"code": "11", "name_zh": "北京", "name_en": "Beijing"}
    assert item["identifiers"] == {"cnca": "CNCA-R-2002-001"}
    assert item["status"] == "active"
    assert item["url"] == "http://localhost/bodies/API-CB-ACTIVE"
    lines = {(a["category"], a["jurisdiction"]): a for a in item["authorizations"]}
    assert set(lines) == {("mask", "CN"), ("protective_clothing", "EU")}
    mask = lines[("mask", "CN")]
    assert mask["scheme"] == "CCC" and mask["standards"] == "GB 2626-2019"
    assert (mask["valid_from"], mask["valid_until"], mask["status"]) == ("2020-03-01", "2030-03-01", "active")
    assert lines[("protective_clothing", "EU")]["valid_until"] is None
    assert "periods" not in mask and "history" not in item


def test_chinese_is_sent_as_utf8_not_escaped(client: FlaskClient, sample: Sample) -> None:
    raw = client.get("/api/v1/bodies?province=11").get_data(as_text=True)
    assert "北京防疫认证中心" in raw and "\\u" not in raw


FILTER_CASES = [
    ("kind=testing_lab", ["API-LAB-1"]),
    ("kind=certification_body", ["API-CB-ACTIVE", "API-CB-SUSP", "API-CB-WDRN"]),
    ("kind=inspection_body", []),
    ("category=mask", ["API-CB-ACTIVE", "API-CB-SUSP"]),
    ("category=ventilator", ["API-CB-WDRN"]),
    ("jurisdiction=EU", ["API-CB-ACTIVE", "API-LAB-1"]),
    ("jurisdiction=US", []),
    ("province=44", ["API-CB-WDRN", "API-LAB-1"]),
    ("province=31", ["API-CB-SUSP"]),
    ("status=active", ["API-CB-ACTIVE", "API-LAB-1"]),
    ("status=suspended", ["API-CB-SUSP"]),
    ("status=withdrawn", ["API-CB-WDRN"]),
    ("status=expired", ["API-LAB-1"]),
    ("category=mask&status=active", ["API-CB-ACTIVE"]),
    ("category=ir_thermometer&status=active", []),
    ("jurisdiction=CN&province=44&kind=testing_lab", ["API-LAB-1"]),
    ("kind=&category=&status=", ["API-CB-ACTIVE", "API-CB-SUSP", "API-CB-WDRN", "API-LAB-1"]),
]


def test_filters(client: FlaskClient, sample: Sample) -> None:
    # One test over every case: building the sample registry costs more than the requests.
    for query, expected in FILTER_CASES:
        assert codes(client, query) == expected, query


FREE_TEXT_CASES = [
    ("口罩认证", ["API-CB-SUSP"]),  # Chinese name
    ("epidemic certification", ["API-CB-ACTIVE"]),  # English name, other case
    ("THERMOMETER", ["API-LAB-1"]),
    ("CNCA-R-2003-002", ["API-CB-SUSP"]),  # identifier
    ("cnas l1234", ["API-LAB-1"]),
    ("api-cb-wdrn", ["API-CB-WDRN"]),  # body code
    ("no such body", []),
    ("100%", []),  # LIKE wildcards are literal
    ("_", []),
]


def test_free_text(client: FlaskClient, sample: Sample) -> None:
    for text, expected in FREE_TEXT_CASES:
        assert codes(client, f"q={text}") == expected, text


def test_free_text_on_credit_code(client: FlaskClient, sample: Sample) -> None:
    credit_code = sample.withdrawn.organization.credit_code
    assert credit_code is not None
    assert codes(client, f"q={credit_code}") == ["API-CB-WDRN"]
    assert codes(client, f"q={credit_code.lower()}") == ["API-CB-WDRN"]


def test_as_of_before_a_suspension_shows_the_line_active(client: FlaskClient, sample: Sample) -> None:
    assert "API-CB-SUSP" not in codes(client, "status=active")
    document = get_json(client, "/api/v1/bodies?status=active&as_of=2026-04-30")
    assert document["as_of"] == "2026-04-30"
    assert [i["code"] for i in document["items"]] == ["API-CB-ACTIVE", "API-CB-SUSP", "API-LAB-1"]
    suspended = document["items"][1]
    assert suspended["status"] == "active"
    assert [a["status"] for a in suspended["authorizations"]] == ["active"]
    # From the day of the suspension on, it is suspended.
    on_the_day = get_json(client, "/api/v1/bodies?q=API-CB-SUSP&as_of=2026-05-01")["items"][0]
    assert on_the_day["status"] == "suspended"


def test_a_body_withdrawn_in_the_past_is_not_active(client: FlaskClient, sample: Sample) -> None:
    assert "API-CB-WDRN" not in codes(client, "status=active")
    item = get_json(client, "/api/v1/bodies?q=API-CB-WDRN")["items"][0]
    assert item["status"] == "withdrawn"
    assert codes(client, "status=active&as_of=2020-12-31&category=ventilator") == ["API-CB-WDRN"]
    assert codes(client, "status=active&as_of=2021-01-01&category=ventilator") == []


def test_as_of_hides_lines_not_yet_valid_and_shows_later_ones(client: FlaskClient, sample: Sample) -> None:
    assert "API-CB-FUTURE" not in codes(client, "category=mask")
    assert codes(client, "category=mask&province=11&as_of=2027-01-01") == ["API-CB-ACTIVE", "API-CB-FUTURE"]
    # Before the lab's thermometer line began (2020-06-01) it is not listed at all.
    assert "API-LAB-1" not in codes(client, "as_of=2020-05-31")
    expired = get_json(client, "/api/v1/bodies?q=API-LAB-1")["items"][0]
    assert {a["category"]: a["status"] for a in expired["authorizations"]} == {
        "ir_thermometer": "expired",
        "test_reagent": "active",
    }


def test_line_not_yet_valid_has_null_status(client: FlaskClient, session: Session, now: dt.datetime) -> None:
    body = make_body(session, now, code="API-TWO-LINES")
    grant(session, now, body)
    grant(session, now, body, category="ventilator", valid_from=dt.date(2026, 9, 1), valid_until=None)
    session.commit()
    item = get_json(client, "/api/v1/bodies?q=API-TWO-LINES")["items"][0]
    statuses = {a["category"]: a["status"] for a in item["authorizations"]}
    assert statuses == {"mask": "active", "ventilator": None}


def _query(link: str | None) -> dict[str, list[str]]:
    assert link is not None
    parts = urlsplit(link)
    assert parts.path == "/api/v1/bodies"
    return parse_qs(parts.query)


def test_pagination_and_links(client: FlaskClient, sample: Sample) -> None:
    first = get_json(client, "/api/v1/bodies?per_page=3&kind=&status=")
    assert (first["total"], first["pages"], first["per_page"]) == (4, 2, 3)
    assert [i["code"] for i in first["items"]] == sample.listed_today[:3]
    assert first["links"]["prev"] is None
    assert _query(first["links"]["self"]) == {"per_page": ["3"], "page": ["1"]}
    next_query = _query(first["links"]["next"])
    assert next_query == {"per_page": ["3"], "page": ["2"]}

    second = get_json(client, first["links"]["next"])
    assert [i["code"] for i in second["items"]] == sample.listed_today[3:]
    assert second["links"]["next"] is None
    assert _query(second["links"]["prev"])["page"] == ["1"]


def test_links_keep_the_filters(client: FlaskClient, sample: Sample) -> None:
    document = get_json(client, "/api/v1/bodies?province=44&as_of=2026-04-30&per_page=1")
    assert document["total"] == 2
    assert _query(document["links"]["next"]) == {
        "province": ["44"], "as_of": ["2026-04-30"], "per_page": ["1"], "page": ["2"]
    }


def test_page_past_the_end_is_empty_not_an_error(client: FlaskClient, sample: Sample) -> None:
    document = get_json(client, "/api/v1/bodies?per_page=3&page=7")
    assert document["items"] == []
    assert (document["total"], document["page"], document["pages"]) == (4, 7, 2)
    assert document["links"]["next"] is None
    assert _query(document["links"]["prev"])["page"] == ["2"]


def test_detail_with_status_periods_and_history(client: FlaskClient, sample: Sample) -> None:
    detail = get_json(client, "/api/v1/bodies/API-CB-SUSP")
    assert detail["code"] == "API-CB-SUSP"
    assert detail["as_of"] == "2026-06-15"
    assert detail["status"] == "suspended"
    assert detail["names"]["en"] == "Shanghai Mask Certification Co"
    assert detail["url"] == "http://localhost/bodies/API-CB-SUSP"
    (line,) = detail["authorizations"]
    assert line["status"] == "suspended"
    assert line["periods"] == [
        {"status": "active", "effective_from": "2020-03-01", "effective_until": "2026-05-01",
         "reason": "designated by CNCA"},
        {"status": "suspended", "effective_from": "2026-05-01", "effective_until": None,
         "reason": SUSPENSION_REASON},
    ]
    history = detail["history"]
    assert [e["action"] for e in history] == [
        "body:create", "body:authorization:grant", "body:authorization:suspend",
    ]
    assert history[0]["authorization_id"] is None
    assert history[2]["authorization_id"] == line["id"]
    assert history[2]["reason"] == SUSPENSION_REASON
    assert dt.datetime.fromisoformat(history[2]["occurred_at"]) == dt.datetime(2026, 6, 15, 10, tzinfo=dt.UTC)


def test_detail_never_shows_who_made_a_change(client: FlaskClient, sample: Sample) -> None:
    raw = client.get("/api/v1/bodies/API-CB-SUSP").get_data(as_text=True)
    assert "inspector-7" not in raw
    assert '"actor"' not in raw


def test_detail_history_leaves_out_other_bodies(client: FlaskClient, sample: Sample) -> None:
    history = get_json(client, "/api/v1/bodies/API-CB-ACTIVE")["history"]
    assert [e["action"] for e in history] == [
        "body:create", "body:authorization:grant", "body:authorization:grant",
    ]


def test_detail_as_of(client: FlaskClient, sample: Sample) -> None:
    detail = get_json(client, "/api/v1/bodies/API-CB-SUSP?as_of=2026-04-30")
    assert detail["as_of"] == "2026-04-30"
    assert detail["status"] == "active"
    assert detail["authorizations"][0]["status"] == "active"
    # The history is the whole record, whatever the date asked about.
    assert detail["history"][-1]["action"] == "body:authorization:suspend"
    before_start = get_json(client, "/api/v1/bodies/API-CB-SUSP?as_of=2020-02-29")
    assert before_start["status"] is None
    assert before_start["authorizations"][0]["status"] is None


def test_detail_of_a_lab_and_empty_as_of(client: FlaskClient, sample: Sample) -> None:
    detail = get_json(client, "/api/v1/bodies/API-LAB-1?as_of=")
    assert detail["as_of"] == "2026-06-15"
    assert detail["kind"] == "testing_lab"
    assert detail["identifiers"] == {"cnas": "CNAS L1234"}
