"""Customs checks through the app: the verify API with a declaration, the check page with CSRF,
bulk uploads with good and bad rows and their downloads, and who may use the customs pages."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import access_of
from app.customs.results import RESULT_COLUMNS
from registry.oversight_models import ScanEvent
from tests.conftest import csrf_token
from tests.factories import credit_code
from tests.functional import test_certificates_support as support
from tests.functional.test_api_openapi import conforms
from tests.functional.test_certificates_support import HOST, World

cheap_password_hashing, keys, passphrase, world = (
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)

HOLDER, MAKER, STRANGER = credit_code(901), credit_code(902), credit_code(7777)
MATCHING = {"exporter_credit_code": HOLDER, "hs_code": "6307.90.0000", "port": "上海外高桥",
            "declaration_date": "2026-05-01", "quantity": 2000, "product_description": "KN95 口罩"}


@pytest.fixture
def app_config(app_config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    # support.app_config's settings, and a results folder of this test's own.
    return app_config | {
        "PUBLIC_HOST": HOST,
        "VERIFY_GRACE_DAYS": 90,
        "CUSTOMS_RESULTS_DIR": str(tmp_path / "customs-results"),
    }


def seal_url(world: World) -> str:
    return f"HTTPS://{HOST}/V/{world.seal.token}"


def verify(world: World, payload: Any, who: str = "anonymous") -> Any:
    return world.call(who, "POST", "/api/v1/verify", data=json.dumps(payload),
                      content_type="application/json")


def scans(session: Session) -> list[ScanEvent]:
    session.expire_all()
    return list(session.scalars(select(ScanEvent).order_by(ScanEvent.id)))


# --- the API ------------------------------------------------------------------------------------


def test_the_api_checks_a_declaration_and_logs_it_as_customs(world: World, session: Session) -> None:
    response = verify(world, {"qr": seal_url(world), "declaration": MATCHING}, who="customs")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["verdict"] == "VALID"
    declaration = answer["declaration"]
    assert declaration["overall"] == "MATCH" and declaration["skipped"] is None
    assert declaration["checked_on"] == "2026-05-01"
    assert [(c["check"], c["outcome"]) for c in declaration["checks"]] == [
        ("holder", "MATCH"), ("hs_code", "MATCH"), ("certificate_on_date", "MATCH"),
        ("authorization_on_date", "MATCH"),
    ]
    assert all(c["reason"]["zh"] and c["reason"]["en"] for c in declaration["checks"])
    document = world.clients["anonymous"].get("/api/v1/openapi.json").get_json()
    conforms(document, "Verdict", answer)
    (scan,) = scans(session)
    assert (scan.channel, scan.verdict, scan.declaration_outcome) == ("customs", "VALID", "MATCH")
    assert scan.port == "上海外高桥" and scan.exporter_credit_code == HOLDER
    assert scan.declared_hs_code == "6307900000"
    assert scan.declaration == {**MATCHING, "hs_code": "6307900000"}
    # Anyone may have a declaration checked, but only an officer's feeds the customs log (and
    # with it the misuse alerts): an anonymous one is answered and logged as a plain API call.
    anonymous = verify(world, {"token": world.seal.token, "declaration": MATCHING}).get_json()
    assert anonymous["declaration"]["overall"] == "MATCH"
    last = scans(session)[-1]
    assert (last.channel, last.declaration, last.exporter_credit_code) == ("api", None, None)
    # Without a declaration, the answer is the plain one, logged as an API call.
    plain = verify(world, {"token": world.seal.token}).get_json()
    assert "declaration" not in plain and scans(session)[-1].channel == "api"


def test_a_batch_mixes_plain_and_declared_items_in_order(world: World, session: Session) -> None:
    items = [
        world.seal.token,
        {"qr": seal_url(world), "declaration": {"exporter_credit_code": STRANGER, "hs_code": "902000"}},
        {"token": "garbage", "declaration": MATCHING},
        {"token": world.seal.token},
    ]
    response = verify(world, {"items": items}, who="customs")
    assert response.status_code == 200, response.get_json()
    answers = response.get_json()["items"]
    assert [a["verdict"] for a in answers] == ["VALID", "VALID", "FORGED", "VALID"]
    assert "declaration" not in answers[0] and "declaration" not in answers[3]
    mismatch = answers[1]["declaration"]
    assert mismatch["overall"] == "MISMATCH"
    assert {c["check"]: c["detail"] for c in mismatch["checks"]}["hs_code"] == "hs_neighbour"
    skipped = answers[2]["declaration"]
    assert skipped["overall"] is None and skipped["checks"] == []
    assert "not genuine" in skipped["skipped"]["en"]
    assert [(s.channel, s.declaration_outcome) for s in scans(session)] == [
        ("api", None), ("api", None), ("customs", "MISMATCH"), ("customs", None),
    ]


@pytest.mark.parametrize(
    ("declaration", "fields"),
    [
        ({"exporter_credit_code": "12345"}, {"exporter_credit_code"}),
        ({"hs_code": "63079"}, {"hs_code"}),
        ({"hs_code": "6307-90"}, {"hs_code"}),
        ({"declaration_date": "2026-02-30", "quantity": 0}, {"declaration_date", "quantity"}),
        ({"declaration_date": "01/05/2026", "quantity": True}, {"declaration_date", "quantity"}),
        ({"quantity": 1.5, "port": 5}, {"quantity", "port"}),
        ({"exporter": HOLDER}, {"exporter"}),
        ({"port": "x" * 101}, {"port"}),
        ({"port": "a\x00b", "product_description": "\x1b[31m", "hs_code": "630790"},
         {"port", "product_description"}),
    ],
)
def test_a_bad_declaration_is_a_422_naming_every_field(
    world: World, session: Session, declaration: dict[str, Any], fields: set[str]
) -> None:
    response = verify(world, {"token": world.seal.token, "declaration": declaration})
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["code"] == "invalid_input"
    assert set(problem["errors"]["declaration"]) == fields
    declared_item = {"token": world.seal.token, "declaration": declaration}
    in_batch = verify(world, {"items": [world.seal.token, declared_item]})
    assert in_batch.status_code == 422
    assert set(in_batch.get_json()["errors"]["items"]["1"]["declaration"]) == fields
    assert scans(session) == []  # nothing was verified, so nothing was logged


@pytest.mark.parametrize("declaration", [None, "6307900000", [MATCHING], 5])
def test_a_declaration_must_be_an_object(world: World, declaration: Any) -> None:
    response = verify(world, {"token": world.seal.token, "declaration": declaration})
    assert response.status_code == 422
    assert "declaration" in response.get_json()["errors"]


# --- the check page -----------------------------------------------------------------------------


def check_page(client: FlaskClient, data: dict[str, Any], *, token: str | None = None) -> Any:
    token = token if token is not None else csrf_token(client, "/customs/check")
    return client.post("/customs/check", data={**data, "csrf_token": token})


def test_the_page_checks_a_scanned_seal_with_its_declaration(world: World, session: Session) -> None:
    client = world.clients["customs"]
    form = client.get("/customs/check")
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    assert re.search(r'name="scanned"[^>]*autofocus', html), "the scan field must have the focus"
    declared = {k: str(v) for k, v in MATCHING.items()} | {"exporter_credit_code": STRANGER}
    response = check_page(client, {"scanned": seal_url(world), **declared})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    assert 'data-verdict="VALID"' in html and 'data-overall="MISMATCH"' in html
    assert "申报不符" in html  # the big verdict, Chinese first
    assert re.search(r'data-check="holder" data-outcome="MISMATCH"', html)
    assert re.search(r'data-check="hs_code" data-outcome="MATCH"', html)
    assert "既不是证书持有人也不是证书记载的生产企业" in html  # the reason in the reader's language
    # The declaration stays for the next seal; the scan field is empty again.
    assert f'value="{STRANGER}"' in html and 'value="上海外高桥"' in html
    assert re.search(r'name="scanned" type="text" value=""', html)
    (scan,) = scans(session)
    assert (scan.channel, scan.declaration_outcome, scan.port) == ("customs", "MISMATCH", "上海外高桥")

    english = client.post("/customs/check?lang=en", data={"scanned": seal_url(world), **MATCHING,
                                                          "csrf_token": csrf_token(client, "/customs/check")})
    text = english.get_data(as_text=True)
    assert "DECLARATION MATCHES" in text and "is the certificate holder" in text


def test_the_page_refuses_a_bad_declaration_or_a_missing_csrf_token(world: World, session: Session) -> None:
    client = world.clients["customs"]
    bad = check_page(client, {"scanned": seal_url(world), "hs_code": "12", "declaration_date": "tomorrow"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'data-field="hs_code"' in html and 'data-field="declaration_date"' in html
    assert 'id="verdict"' not in html
    empty = check_page(client, {"scanned": "  "})
    assert empty.status_code == 422 and 'data-field="scanned"' in empty.get_data(as_text=True)
    forged = check_page(client, {"scanned": "HTTPS://EVIL.EXAMPLE/V/AAAA", "exporter_credit_code": HOLDER})
    html = forged.get_data(as_text=True)
    assert forged.status_code == 200 and 'data-verdict="FORGED"' in html and 'id="checks-skipped"' in html
    no_token = client.post("/customs/check", data={"scanned": seal_url(world)})
    assert no_token.status_code == 400
    assert [s.verdict for s in scans(session)] == ["FORGED"]


# --- bulk checks --------------------------------------------------------------------------------


def csv_file(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def bulk(client: FlaskClient, data: bytes, name: str = "declarations.csv") -> Any:
    token = csrf_token(client, "/customs/bulk")
    return client.post("/customs/bulk", data={"file": (io.BytesIO(data), name), "csrf_token": token},
                       content_type="multipart/form-data")


HEADER = ["scanned", "exporter_credit_code", "manufacturer_credit_code", "hs_code", "product_description",
          "quantity", "port", "declaration_date"]


def test_a_bulk_file_is_checked_row_by_row_and_downloads_as_csv_and_xlsx(
    world: World, session: Session
) -> None:
    url = seal_url(world)
    rows = [
        HEADER,
        [url, HOLDER, MAKER, "630790", "口罩", "100", "宁波", "2026-05-01"],  # row 2: all match
        [url, STRANGER, "", "850440", "", "", "宁波", "2026-05-01"],  # row 3: mismatch
        [url, "not-a-code", "", "63", "", "-4", "", "2026-13-01"],  # row 4: malformed
        ["", HOLDER, "", "", "", "", "", ""],  # row 5: no seal
        ["garbage", HOLDER, "", "630790", "", "", "", ""],  # row 6: forged
    ]
    client = world.clients["customs"]
    response = bulk(client, csv_file(rows, "gb18030"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:800]
    assert "有 2 行无法核对" in html  # rows 4 and 5, whatever the number of problems in them
    problems = set(re.findall(r'<tr data-row="(\d+)" data-column="(\w+)">', html))
    assert {("4", "exporter_credit_code"), ("4", "hs_code"), ("4", "quantity"), ("4", "declaration_date"),
            ("5", "scanned")} <= problems
    outcomes = dict(re.findall(r'<tr data-row="(\d+)" data-outcome="(\w+)">', html))
    assert outcomes == {
        "2": "MATCH", "3": "MISMATCH", "4": "INVALID_ROW", "5": "INVALID_ROW", "6": "NOT_CHECKED",
    }
    assert [(s.channel, s.declaration_outcome) for s in scans(session)] == [
        ("customs", "MATCH"), ("customs", "MISMATCH"), ("customs", None),
    ]

    csv_link = re.search(r'id="download-csv" href="([^"]+)"', html)
    xlsx_link = re.search(r'id="download-xlsx" href="([^"]+)"', html)
    assert csv_link and xlsx_link
    download = client.get(csv_link.group(1) + "?lang=en")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    text = download.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["row"] for r in table] == ["2", "3", "4", "5", "6"]
    assert [r["declaration_outcome"] for r in table] == ["MATCH", "MISMATCH", "INVALID_ROW", "INVALID_ROW",
                                                         "NOT_CHECKED"]
    assert table[1]["holder_reason"].startswith("declared exporter") and table[1]["port"] == "宁波"
    assert "hs_code" in table[2]["note"] and table[0]["certificate_number"] == "A-0001"
    assert table[4]["seal_verdict"] == "FORGED" and "not genuine" in table[4]["note"]
    xlsx = client.get(xlsx_link.group(1) + "?lang=zh")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True)
    sheet = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert sheet[0] == RESULT_COLUMNS and len(sheet) == 6
    assert "既不是" in str(sheet[2][RESULT_COLUMNS.index("holder_reason")])  # the reader's language
    # The results are the uploader's only; a made-up id is not found.
    assert world.clients["admin"].get(csv_link.group(1)).status_code == 404
    assert client.get("/customs/bulk/" + "A" * 32 + ".csv").status_code == 404
    assert client.get("/customs/bulk/../../etc.csv").status_code == 404


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (csv_file([["scanned", "exporter"], ["x", HOLDER]]), "unknown column 'exporter'"),
        (csv_file([["hs_code"], ["630790"]]), "required column 'scanned' is missing"),
        (csv_file([["scanned"]]), "the file has no data rows"),
        (b"%PDF-1.4 binary", "PDF file"),
        ("scanned\n".encode("utf-16"), "UTF-16"),
        (b"\xff\xfe\x00garbage", "binary"),
        (csv_file([["scanned"], *[["x"]] * 10_001]), "more than 10000 rows"),
        (b"PK\x03\x04 not really a workbook", "corrupt"),
    ],
)
def test_an_unusable_file_checks_nothing(world: World, session: Session, data: bytes, expected: str) -> None:
    response = bulk(world.clients["customs"], data)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422, html[:500]
    assert expected in html and 'id="bulk-problems"' in html and 'id="bulk-results"' not in html
    assert scans(session) == []


def test_a_bulk_post_without_a_file_or_a_token_is_refused(world: World) -> None:
    client = world.clients["customs"]
    token = csrf_token(client, "/customs/bulk")
    assert client.post("/customs/bulk", data={"csrf_token": token}).status_code == 422
    assert client.post("/customs/bulk", data={"file": (io.BytesIO(b"scanned\nx\n"), "a.csv")},
                       content_type="multipart/form-data").status_code == 400


# --- who may use the customs pages --------------------------------------------------------------


def test_the_role_matrix(app: Flask, world: World, session: Session) -> None:
    pages = [("GET", "/customs/check", {}), ("POST", "/customs/check", {"scanned": "x"}),
             ("GET", "/customs/bulk", {}), ("POST", "/customs/bulk", {}),
             ("GET", "/customs/bulk/" + "A" * 32 + ".csv", {})]
    for who in ("anonymous", "admin", "op_a", "customs", "auditor"):
        client = world.clients[who]
        token = csrf_token(client, "/login")
        for method, url, data in pages:
            status = client.open(url, method=method, data=data | {"csrf_token": token}).status_code
            where = f"{who} {method} {url}"
            if who == "anonymous":
                assert status == 302, where
            elif who in ("op_a", "auditor"):
                assert status == 403, where
            else:
                assert status in (200, 404, 422), where
    assert [s.verdict for s in scans(session)] == ["FORGED", "FORGED"]  # the customs and admin POSTs
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("customs."):
            assert access_of(app.view_functions[rule.endpoint]) == frozenset({"customs", "admin"}), rule
    nav = world.clients["customs"].get("/admin/").get_data(as_text=True)
    assert 'id="nav-customs"' in nav
    assert 'id="nav-customs"' not in world.clients["auditor"].get("/admin/").get_data(as_text=True)
