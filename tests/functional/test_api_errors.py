"""Bad input to /api/v1 gets a clear 4xx as application/problem+json with a stable code, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app import create_app
from tests.functional.test_api_sample import Sample, build_sample


@pytest.fixture
def sample(session: Session, now: dt.datetime) -> Sample:
    return build_sample(session, now)


def problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is a problem+json with ``status`` and ``code``; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    document: dict[str, Any] = response.get_json(force=True)
    assert document["code"] == code
    assert document["status"] == status
    assert document["title"] and document["detail"]
    return document


FILTER_CASES = [
    ("kind=robot", "kind"),
    ("category=bicycles", "category"),
    ("jurisdiction=XX", "jurisdiction"),
    ("jurisdiction=TOOLONGCODE", "jurisdiction"),
    ("province=99", "province"),
    ("status=sleeping", "status"),
    ("q=" + "x" * 101, "q"),
    ("as_of=2026-13-01", "as_of"),
    ("as_of=15/06/2026", "as_of"),
    ("as_of=1999-12-31", "as_of"),
    ("lang=fr", "lang"),
    ("colour=red", "colour"),  # unknown parameter
]
PAGING_CASES = [
    ("page=0", "page"), ("page=abc", "page"), ("per_page=101", "per_page"), ("per_page=0", "per_page"),
]


# Each test below walks its cases in one app: a fresh app per case would cost more than the requests.


def test_malformed_list_filter(client: FlaskClient) -> None:
    for query, field in FILTER_CASES + PAGING_CASES:
        document = problem(client.get(f"/api/v1/bodies?{query}"), 422, "invalid_input")
        assert list(document["errors"]) == [field], query


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_malformed_export_filter(client: FlaskClient, fmt: str) -> None:
    for query, field in FILTER_CASES:
        document = problem(client.get(f"/api/v1/bodies/export.{fmt}?{query}"), 422, "invalid_input")
        assert list(document["errors"]) == [field], query


def test_several_bad_filters_are_reported_together(client: FlaskClient) -> None:
    document = problem(client.get("/api/v1/bodies?kind=robot&status=x&page=-1"), 422, "invalid_input")
    assert set(document["errors"]) == {"kind", "status", "page"}


OTHER_BAD_PARAMETERS = [
    ("/api/v1/bodies/API-CB-SUSP?as_of=yesterday", "as_of"),
    ("/api/v1/bodies/API-CB-SUSP?as_of=2101-01-01", "as_of"),
    ("/api/v1/bodies/API-CB-SUSP?status=active", "status"),
    ("/api/v1/authorized?category=mask", "body"),
    ("/api/v1/authorized?body=API-CB-SUSP", "category"),
    ("/api/v1/authorized?body=API-CB-SUSP&category=bicycles", "category"),
    ("/api/v1/authorized?body=API-CB-SUSP&category=mask&jurisdiction=XX", "jurisdiction"),
    ("/api/v1/authorized?body=API-CB-SUSP&category=mask&date=2026-02-30", "date"),
    ("/api/v1/authorized?body=API-CB-SUSP&category=mask&on=2026-02-01", "on"),
    ("/api/v1/categories?page=2", "page"),
    ("/api/v1/jurisdictions?q=EU", "q"),
]


def test_malformed_parameters_elsewhere(client: FlaskClient) -> None:
    for url, field in OTHER_BAD_PARAMETERS:
        document = problem(client.get(url), 422, "invalid_input")
        assert field in document["errors"], url


def test_unknown_code_is_not_found(client: FlaskClient, sample: Sample) -> None:
    for url in [
        "/api/v1/bodies/NO-SUCH-BODY",
        "/api/v1/bodies/NO-SUCH-BODY?as_of=2026-01-01",
        "/api/v1/authorized?body=NO-SUCH-BODY&category=mask",
        "/api/v1/bodies/export.pdf",
    ]:
        problem(client.get(url), 404, "not_found")


def test_unknown_route_is_a_problem_not_a_page(client: FlaskClient) -> None:
    for url in ["/api/v1/", "/api/v1/nothing-here", "/api/v1/bodies/API-CB-SUSP/lines", "/api/v2/bodies"]:
        problem(client.get(url, headers={"Accept": "text/html"}), 404, "not_found")


def test_wrong_method(client: FlaskClient) -> None:
    for url in ["/api/v1/bodies", "/api/v1/bodies/API-CB-SUSP", "/api/v1/authorized", "/api/v1/openapi.json"]:
        for method in ["POST", "PUT", "PATCH", "DELETE"]:
            response = client.open(url, method=method, json={"code": "X"})
            problem(response, 405, "method_not_allowed")
            assert "GET" in response.headers["Allow"], (method, url)


def test_wrong_content_type_and_oversized_body_are_still_a_clear_4xx(client: FlaskClient) -> None:
    xml = client.post("/api/v1/bodies", data="<body/>", content_type="application/xml")
    problem(xml, 405, "method_not_allowed")
    huge = b"x" * (6 * 1024 * 1024)  # over the default 5 MiB MAX_CONTENT_LENGTH
    response = client.post("/api/v1/bodies", data=huge, content_type="application/octet-stream")
    assert 400 <= response.status_code < 500
    assert response.mimetype == "application/problem+json"
    # A GET carrying a body it does not need is answered normally.
    assert client.get("/api/v1/bodies", data="{}", content_type="application/json").status_code == 200


def test_rate_limit_is_a_problem_too(app_config: dict[str, object]) -> None:
    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "RATELIMIT_PUBLIC": "2 per minute"})
    client = limited.test_client()
    assert [client.get("/api/v1/jurisdictions").status_code for _ in range(2)] == [200, 200]
    problem(client.get("/api/v1/jurisdictions"), 429, "too_many_requests")


def test_a_clash_at_flush_is_a_409_like_one_at_commit(app) -> None:  # type: ignore[no-untyped-def]
    """Two requests inserting the same key: the second's flush fails inside a service."""
    from sqlalchemy.exc import IntegrityError

    from app.errors import render_error

    with app.test_request_context("/api/v1/certificates", method="POST"):
        response = render_error(IntegrityError("INSERT ...", {}, Exception("unique constraint")))
    assert response.status_code == 409 and response.get_json()["code"] == "conflict"
