"""GET /api/v1/bodies/export.{csv,xlsx,json}, and the public pages' exports giving the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from registry.exports import COLUMNS
from tests.factories import grant, make_body
from tests.functional.test_api_sample import Sample, build_sample

Row = dict[str, Any]


@pytest.fixture
def sample(session: Session, now: dt.datetime) -> Sample:
    return build_sample(session, now)


def parse(fmt: str, data: bytes) -> list[Row]:
    """Read an export back into rows of text, whatever its format."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        assert reader.fieldnames == COLUMNS
        return list(reader)
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        header, *values = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert header == COLUMNS
        return [{c: "" if v is None else str(v) for c, v in zip(COLUMNS, r, strict=True)} for r in values]
    document = json.loads(data)
    assert document["count"] == len(document["items"])
    return list(document["items"])


def export(client: FlaskClient, url: str) -> tuple[list[Row], Any]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    fmt = url.split("?")[0].rsplit(".", 1)[1]
    return parse(fmt, response.data), response


def statuses(rows: list[Row]) -> dict[tuple[str, str, str], str]:
    return {(r["body_code"], r["category"], r["jurisdiction"]): r["status"] for r in rows}


TODAY_STATUSES = {
    ("API-CB-ACTIVE", "mask", "CN"): "active",
    ("API-CB-ACTIVE", "protective_clothing", "EU"): "active",
    ("API-CB-SUSP", "mask", "CN"): "suspended",
    ("API-CB-WDRN", "ventilator", "CN"): "withdrawn",
    ("API-LAB-1", "ir_thermometer", "CN"): "expired",
    ("API-LAB-1", "test_reagent", "EU"): "active",
}


@pytest.mark.parametrize(
    ("fmt", "mimetype"),
    [
        ("csv", "text/csv"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("json", "application/json"),
    ],
)
def test_export_of_todays_list(client: FlaskClient, sample: Sample, fmt: str, mimetype: str) -> None:
    rows, response = export(client, f"/api/v1/bodies/export.{fmt}")
    assert response.mimetype == mimetype
    assert response.headers["Content-Disposition"] == f'attachment; filename="registry-2026-06-15.{fmt}"'
    assert len(rows) == len(TODAY_STATUSES)
    assert statuses(rows) == TODAY_STATUSES
    suspended = next(r for r in rows if r["body_code"] == "API-CB-SUSP")
    assert suspended["name_zh"] == "上海口罩认证有限公司"
    assert suspended["cnca"] == "CNCA-R-2003-002"
    assert (suspended["valid_from"], suspended["valid_until"]) == ("2020-03-01", "2030-03-01")
    assert suspended["credit_code"] == sample.suspended.organization.credit_code


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_export_as_of_a_date(client: FlaskClient, sample: Sample, fmt: str) -> None:
    rows, response = export(client, f"/api/v1/bodies/export.{fmt}?as_of=2026-04-30&category=mask")
    assert "registry-2026-04-30" in response.headers["Content-Disposition"]
    # The filters choose bodies; a chosen body's export holds all its lines valid on the date.
    assert statuses(rows) == {
        ("API-CB-ACTIVE", "mask", "CN"): "active",
        ("API-CB-ACTIVE", "protective_clothing", "EU"): "active",
        ("API-CB-SUSP", "mask", "CN"): "active",
    }
    later, _ = export(client, f"/api/v1/bodies/export.{fmt}?as_of=2027-01-01&category=mask&province=11")
    assert statuses(later) == {
        ("API-CB-ACTIVE", "mask", "CN"): "active",
        ("API-CB-ACTIVE", "protective_clothing", "EU"): "active",
        ("API-CB-FUTURE", "mask", "CN"): "active",
    }


def test_export_filters_and_ignores_paging(client: FlaskClient, sample: Sample) -> None:
    rows, _ = export(client, "/api/v1/bodies/export.json?kind=testing_lab&page=3&per_page=1")
    assert {r["body_code"] for r in rows} == {"API-LAB-1"}
    assert len(rows) == 2
    rows, _ = export(client, "/api/v1/bodies/export.csv?status=active")
    assert {r["body_code"] for r in rows} == {"API-CB-ACTIVE", "API-LAB-1"}


def test_json_export_declares_its_date(client: FlaskClient, sample: Sample) -> None:
    response = client.get("/api/v1/bodies/export.json?as_of=2026-04-30")
    assert response.get_json()["as_of"] == "2026-04-30"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_public_exports_match_the_api(client: FlaskClient, sample: Sample, fmt: str) -> None:
    everything, _ = export(client, f"/api/v1/bodies/export.{fmt}?as_of=2026-04-30")
    labs = [r for r in everything if r["kind"] == "testing_lab"]
    others = [r for r in everything if r["kind"] != "testing_lab"]
    assert labs and others
    public_bodies, _ = export(client, f"/bodies/export.{fmt}?as_of=2026-04-30")
    public_labs, _ = export(client, f"/labs/export.{fmt}?as_of=2026-04-30")
    assert public_bodies == others
    assert public_labs == labs
    api_labs, _ = export(client, f"/api/v1/bodies/export.{fmt}?as_of=2026-04-30&kind=testing_lab")
    assert api_labs == public_labs


def test_formula_like_cells_are_defused(client: FlaskClient, session: Session, now: dt.datetime) -> None:
    body = make_body(session, now, code="API-FORMULA", name_en="=HYPERLINK(\"http://x\")")
    grant(session, now, body)
    session.commit()
    for fmt in ("csv", "xlsx"):
        rows, _ = export(client, f"/api/v1/bodies/export.{fmt}?q=API-FORMULA")
        assert rows[0]["name_en"].startswith("'=")
